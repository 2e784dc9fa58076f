#!/bin/sh
# Precedence of the configuration as docs/config.md states it: defaults <
# profile < scenario file < --set.  A script's machine line stands where a
# scenario file does: --set wins over it.  A workload (workload.script of a
# scenario, `protsim run`) runs on the machine the scenario built: a machine
# line in it must match that machine, or the run stops with a message.
# Run: PROTSIM=build/protsim sh tests/cli/script_precedence.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. protsim script: machine mem=256m, but --set machine.mem=1g: 1 GiB it is
#    (an access at 512 MiB works); the line's other keys still apply (cpus=1).
cat >"$T/m.ps" <<'PS'
machine mem=256m cpus=1
mem read pa=0x20000000 size=1
PS
"$P" script "$T/m.ps" --set machine.mem=1g >"$T/out" 2>"$T/err" || fail "--set: $(cat "$T/err")"
grep -q '^\[0\] cpu0 mem read pa=0x20000000 size=1 -> OK value=0x0 ' "$T/out" ||
	fail "--set machine.mem=1g did not win over the machine line: $(cat "$T/out")"
"$P" script "$T/m.ps" >"$T/out" 2>"$T/err" || fail "no --set: $(cat "$T/err")"
grep -q -- '-> ERROR(out-of-range) ' "$T/out" || fail "without --set, 256m: $(cat "$T/out")"
printf 'machine mem=256m cpus=1\ncpu1 nop cycles=1\n' >"$T/cpus.ps"
"$P" script "$T/cpus.ps" --set machine.mem=1g >"$T/out" 2>"$T/err"
[ "$(cat "$T/err")" = "$T/cpus.ps:2: cpu1: no such agent (the machine has cpu0..cpu0)" ] ||
	fail "cpus=1 from the machine line: $(cat "$T/err")"
# the shell: the same rule
printf 'machine mem=256m cpus=1\nmem read pa=0x20000000 size=1\n' |
	"$P" shell --set machine.mem=1g >"$T/out" 2>"$T/err"
grep -q -- '-> OK value=0x0 ' "$T/out" || fail "shell --set: $(cat "$T/out") $(cat "$T/err")"

# 2. protsim run: the workload's machine line matches the scenario: it runs.
cat >"$T/sc.ini" <<'INI'
[machine]
mem = 1g
cpus = 2
[workload]
script = w.ps
INI
printf 'machine mem=0x40000000 cpus=2 profile=generic\nnop cycles=3\nexpect OK\n' >"$T/w.ps"
"$P" run "$T/sc.ini" -q --out "$T/o" 2>"$T/err" || fail "matching machine line: $(cat "$T/err")"
[ "$(cat "$T/o/workload.log")" = "[0] cpu0 nop cycles=3 -> OK (3 cycles)" ] ||
	fail "matching machine line: $(cat "$T/o/workload.log")"

# 3. It does not match: exit 2, naming the line, the key, the scenario's value
#    and where it comes from; nothing runs.
printf 'machine mem=256m cpus=2\nnop cycles=3\n' >"$T/w.ps"
"$P" run "$T/sc.ini" -q --out "$T/o" 2>"$T/err"
rc=$?
[ "$rc" = 2 ] || fail "mismatch: exit $rc"
[ "$(cat "$T/err")" = "$T/w.ps:1: mem: 256m differs from the machine built from the scenario (machine.mem = 1g, from $T/sc.ini:2); a workload runs on that machine: drop the machine line or put its keys in the scenario file" ] ||
	fail "mismatch: $(cat "$T/err")"
[ -s "$T/o/workload.log" ] && fail "mismatch: the workload ran"
# ... unless --set gave the key: then the line's value is not used at all
"$P" run "$T/sc.ini" -q --out "$T/o" --set machine.mem=2g 2>"$T/err" ||
	fail "mismatch under --set: $(cat "$T/err")"
echo "script_precedence: ok"
