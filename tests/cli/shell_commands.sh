#!/bin/sh
# protsim shell's own commands, piped (no terminal: no banner, no prompt):
# help PREFIX, stats [PREFIX], reset, source FILE.
# Run: PROTSIM=build/protsim sh tests/cli/shell_commands.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# help PREFIX: every operation whose name starts with it (as `help` says).
printf 'help rmp\n' | "$P" shell >"$T/out" 2>"$T/err" || fail "help rmp: exit $?"
for op in rmpupdate rmpadjust rmpquery rmpread 'rmp info' 'rmp entry'; do
	grep -q "^  $op " "$T/out" || grep -q "^  $op\$" "$T/out" || fail "help rmp: no $op: $(cat "$T/out")"
done
grep -q '^  psmash' "$T/out" && fail "help rmp lists psmash"
printf 'help s2\n' | "$P" shell >"$T/out" 2>"$T/err"
for op in create map unmap protect annotate walk access; do
	grep -q "^  s2 $op " "$T/out" || fail "help s2: no s2 $op: $(cat "$T/out")"
done
[ -s "$T/err" ] && fail "help: stderr $(cat "$T/err")"

# stats PREFIX: the counters now, as stats.txt prints them.
cat >"$T/in" <<'IN'
rmpupdate spa=0x100000 assigned=1 asid=1 gpa=0x0
stats rmp.rmpupdate.success
rmpupdate spa=0x101000 assigned=1 asid=1 gpa=0x1000
stats rmp.rmpupdate.success
reset
rmpupdate spa=0x100000 assigned=1 asid=1 gpa=0x0
stats rmp.rmpupdate.success
IN
"$P" shell <"$T/in" >"$T/out" 2>"$T/err" || fail "stats: exit $?"
[ -s "$T/err" ] && fail "stats: stderr $(cat "$T/err")"
grep '^rmp\.rmpupdate' "$T/out" | tr -s ' ' >"$T/got"
# one line per stats (a counter named exactly so); reset starts from 0
w='# rmpupdate instructions that returned SUCCESS'
printf 'rmp.rmpupdate.success 1 %s\nrmp.rmpupdate.success 2 %s\nrmp.rmpupdate.success 1 %s\n' "$w" "$w" "$w" >"$T/want"
cmp -s "$T/got" "$T/want" || fail "stats: $(cat "$T/got")"
grep -q '^reset: a fresh machine with the same configuration$' "$T/out" || fail "reset: $(cat "$T/out")"
# after reset the first RMPUPDATE succeeds again at cycle 0: a fresh RMP
[ "$(grep -c '^\[0\] cpu0 rmpupdate spa=0x100000 .* -> SUCCESS' "$T/out")" = 2 ] ||
	fail "reset: not a fresh machine: $(cat "$T/out")"

# source FILE: its lines run as if typed, messages name FILE:LINE.
printf 'nop cycles=5\nexpect OK\nfrob\nnop cycles=1\n' >"$T/lib.ps"
printf 'source %s\nnop cycles=2\n' "$T/lib.ps" | "$P" shell >"$T/out" 2>"$T/err" || fail "source: exit $?"
printf '[0] cpu0 nop cycles=5 -> OK (5 cycles)\n[5] cpu0 nop cycles=1 -> OK (1 cycles)\n[6] cpu0 nop cycles=2 -> OK (2 cycles)\n' >"$T/want"
cmp -s "$T/out" "$T/want" || fail "source: $(cat "$T/out")"
[ "$(cat "$T/err")" = "$T/lib.ps:3: frob: unknown operation" ] || fail "source: $(cat "$T/err")"

# In a script these are shell commands only.
printf 'stats\n' | "$P" script - >/dev/null 2>"$T/err"
[ "$(cat "$T/err")" = "<stdin>:1: stats: only available in protsim shell" ] || fail "script stats: $(cat "$T/err")"
echo "shell_commands: ok"
