#!/bin/sh
# protsim script streams its input: memory does not grow with the number of
# lines (a script is read twice, line by line, and each agent holds only
# the line it runs).  Max RSS of 20k-line and 200k-line scripts, from a
# file, from stdin redirected from a file, and from a pipe (copied aside),
# must differ by less than 8 MiB (holding every line took ~600 bytes a
# line, over 100 MiB here).
# Run: PROTSIM=build/protsim sh tests/cli/script_stream.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
TIME=/usr/bin/time
[ -x "$TIME" ] || fail "$TIME is needed to measure max RSS"

# gen N FILE: a two-agent script of N operation lines with expects.
gen() {
	awk -v n="$1" 'BEGIN {
		print "machine mem=64m cpus=2"
		for (i = 0; i < n; i++) {
			if (i % 2) printf "cpu1 nop cycles=1\n"; else printf "mem read pa=0x%x size=8\n", (i % 512) * 8
			if (i % 10 == 0) print "expect OK"
		}
	}' >"$2"
}

gen 20000 "$T/small.ps"
gen 200000 "$T/big.ps"

# rss HOW FILE: max RSS in kB of one run; checks exit 0 and the line count.
rss() {
	case $1 in
	file) "$TIME" -f %M -o "$T/rss" "$P" script "$2" >"$T/out" 2>"$T/err" ;;
	stdin) "$TIME" -f %M -o "$T/rss" "$P" script - <"$2" >"$T/out" 2>"$T/err" ;;
	pipe) cat "$2" | "$TIME" -f %M -o "$T/rss" "$P" script - >"$T/out" 2>"$T/err" ;;
	esac
	rc=$?
	[ "$rc" = 0 ] || fail "$1 $2: exit $rc: $(head -n 3 "$T/err")"
	want=$(grep -c -v -e '^machine' -e '^expect' "$2")
	[ "$(wc -l <"$T/out")" -eq "$want" ] || fail "$1 $2: $(wc -l <"$T/out") result lines, want $want"
	tail -n 1 "$T/rss"
}

for how in file stdin pipe; do
	small=$(rss $how "$T/small.ps") || exit 1
	big=$(rss $how "$T/big.ps") || exit 1
	[ $((big - small)) -lt 8192 ] ||
		fail "$how: max RSS grows with the script: ${small} kB for 20k lines, ${big} kB for 200k"
done
echo "script_stream: ok"
