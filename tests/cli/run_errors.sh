#!/bin/sh
# `protsim run` error paths: exact messages and exit codes.
# Run: PROTSIM=build/protsim sh tests/cli/run_errors.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect RC MESSAGE ARGS...: exit RC and exactly MESSAGE on stderr
expect() {
	want=$1 msg=$2; shift 2
	"$P" "$@" >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "protsim $*: exit $rc, want $want"
	[ "$(cat "$T/err")" = "$msg" ] || fail "protsim $*: stderr '$(cat "$T/err")', want '$msg'"
}

printf '[machine]\ncpus = 1\n' >"$T/ok.ini"
printf '[machine]\ncpus = 1\nbogus = 1\n' >"$T/bad.ini"
printf 'workload.script = fail.ps\n' >"$T/fail.ini"
printf 'mem read pa=0x10\nexpect OK value=5\n' >"$T/fail.ps"

expect 2 "protsim: $T/nope.ini: cannot read: No such file or directory" run "$T/nope.ini"
expect 2 "protsim: $T/bad.ini:3: machine.bogus: unknown key" run "$T/bad.ini"
"$P" run "$T/ok.ini" --set cpus >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "--set cpus: want exit 2"
[ "$(head -n 1 "$T/err")" = "protsim run: --set: expected KEY=VALUE, got 'cpus'" ] ||
	fail "--set cpus: $(cat "$T/err")"
expect 2 "protsim: --set: machine.cpus: must be between 1 and 256 (got '0')" \
	run "$T/ok.ini" --set machine.cpus=0
expect 2 "protsim: --seed: engine.seed: expected a number, got 'x'" run "$T/ok.ini" --seed x
expect 2 "protsim: --set: machine.profile: unknown profile 'zen9' (known: generic)" \
	run "$T/ok.ini" --set machine.profile=zen9 --out "$T/o"
expect 2 "protsim: --set: workload.script: cannot read '$T/none.ps': No such file or directory" \
	run "$T/ok.ini" --set workload.script=none.ps --out "$T/o"
[ -e "$T/o" ] && fail "output directory created before the workload was found"
: >"$T/file"
expect 2 "protsim: $T/file/x: cannot create the output directory: Not a directory" \
	run "$T/ok.ini" --out "$T/file/x"

# A failed expectation: exit 1, outputs still written.
"$P" run "$T/fail.ini" --out "$T/f" --quiet 2>/dev/null
[ $? = 1 ] || fail "failed expect: want exit 1"
for f in stats.json stats.txt config.json workload.log; do
	[ -f "$T/f/$f" ] || fail "failed run: missing $f"
done
echo "run_errors: ok"
