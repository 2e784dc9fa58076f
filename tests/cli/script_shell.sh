#!/bin/sh
# protsim script - (stdin) and protsim shell (piped, no prompt): output,
# messages and exit codes of the operation-language front ends.
# Run: PROTSIM=build/protsim sh tests/cli/script_shell.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# script from stdin: name is whatever the CLI calls stdin; check the rest.
printf 'nop cycles=5\nexpect OK\n@10 cpu1 nop cycles=1\n' | "$P" script - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || fail "script -: exit $rc"
printf '[0] cpu0 nop cycles=5 -> OK (5 cycles)\n[10] cpu1 nop cycles=1 -> OK (1 cycles)\n' >"$T/want"
cmp -s "$T/want" "$T/out" || fail "script -: stdout"
[ -s "$T/err" ] && fail "script -: stderr not empty"

# An unmet expect: exit 1, one line naming line 2.
printf 'nop cycles=5\nexpect FAIL\nnop cycles=1\n' | "$P" script - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "expect failure: exit $rc, want 1"
grep -q ':2: expect failed: expected FAIL; got OK$' "$T/err" || fail "expect failure message"
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "expect failure: the run did not stop"

# A malformed line: exit 2, nothing runs.
printf 'nop cycles=5\nfrob\n' | "$P" script - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 2 ] || fail "malformed: exit $rc, want 2"
[ -s "$T/out" ] && fail "malformed: something ran"
grep -q ':2: frob: unknown operation$' "$T/err" || fail "malformed message"

# The shell, piped: no prompt, goes on after errors, quit exits 0.
printf 'nop cycles=3\nfrob\nexpect OK\nnop cycles=2\nexpect NO\nhelp nop\nquit\nnop cycles=9\n' |
	"$P" shell >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || fail "shell: exit $rc"
cat >"$T/want" <<'OUT'
[0] cpu0 nop cycles=3 -> OK (3 cycles)
[3] cpu0 nop cycles=2 -> OK (2 cycles)
  nop cycles=N
      idle for N cycles
OUT
cmp -s "$T/want" "$T/out" || fail "shell: stdout: $(cat "$T/out")"
grep -q ':2: frob: unknown operation$' "$T/err" || fail "shell: frob message"
grep -q ':3: expect: must directly follow an operation line$' "$T/err" || fail "shell: expect position"
grep -q ':5: expect failed: expected NO; got OK$' "$T/err" || fail "shell: expect failure"
[ "$(wc -l <"$T/err")" -eq 3 ] || fail "shell: stderr has $(wc -l <"$T/err") lines"
exit 0
