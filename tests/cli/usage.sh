#!/bin/sh
# CLI usage errors exit 2 with usage on stderr; version and -h exit 0.
# Run: PROTSIM=build/protsim sh tests/cli/usage.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_rc RC ARGS...: exit status RC, and for 2 a usage line on stderr
expect_rc() {
	want=$1; shift
	"$P" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "protsim $*: exit $rc, want $want"
	if [ "$want" = 2 ]; then
		grep -q 'usage' "$T/err" || fail "protsim $*: no usage on stderr"
		[ -s "$T/out" ] && fail "protsim $*: wrote to stdout"
	fi
	return 0
}

expect_rc 2
expect_rc 2 frob
grep -q "^protsim: unknown command 'frob'$" "$T/err" || fail "unknown command message"
expect_rc 2 run
expect_rc 2 run a.ini b.ini
expect_rc 2 run a.ini --bogus
grep -q "^protsim run: unknown option '--bogus'$" "$T/err" || fail "unknown option message"
expect_rc 2 run a.ini --out
grep -q "^protsim run: --out needs a value (DIR)$" "$T/err" || fail "missing value message"
expect_rc 2 run a.ini --quiet=1
expect_rc 2 script
expect_rc 2 script a.ps --quiet
expect_rc 2 shell extra
expect_rc 2 help bogus
expect_rc 2 help ops --markdown
expect_rc 2 version extra

expect_rc 0 version
grep -Eq '^protsim [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || fail "version output: $(cat "$T/out")"
expect_rc 0 --version
expect_rc 0 -h
grep -q '^usage:' "$T/out" || fail "-h prints usage on stdout"
expect_rc 0 help
grep -q '^help topics: config \[KEY\] (--markdown), ops \[OP\], profiles, COMMAND$' "$T/out" ||
	fail "help lists topics"
echo "usage: ok"
