#!/bin/sh
# --trace FILE.zst (run, script, exec) and protsim trace dump (docs/trace.md):
# every script line is a record with its agent, start and end cycle,
# operation, arguments, result and fields (checked against the script's
# own output line by line); an exec's VM exits with their reasons, and
# #NPF with its GPA; every agent named; the same bytes on a second run;
# a truncated, garbage, empty, wrong-magic or wrong-version file, or data
# after the end, is an error naming the file and the byte offset, exit 2;
# an unwritable trace is refused before the run.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/trace.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# bad FILE MESSAGE: dump exits 2, stderr is exactly "protsim: MESSAGE"
bad() {
	"$P" trace dump "$1" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 2 ] || fail "dump $1: exit $rc, want 2"
	[ "$(cat "$T/err")" = "protsim: $2" ] || fail "dump $1: stderr '$(cat "$T/err")', want 'protsim: $2'"
}

# script: one op record per line, the same as the script's own output
S=tests/scripts/rmp_race_pvalidate.ps
"$P" script $S --trace "$T/s1.zst" >"$T/s.out" || fail "script exit $?"
"$P" script $S --trace "$T/s2.zst" >/dev/null || fail "script 2 exit $?"
cmp -s "$T/s1.zst" "$T/s2.zst" || fail "script trace differs between two runs"
"$P" trace dump "$T/s1.zst" >"$T/s.dump" 2>"$T/err" || fail "dump exit $?: $(cat "$T/err")"
[ -s "$T/err" ] && fail "dump stderr: $(cat "$T/err")"
python3 - "$T/s.out" "$T/s.dump" <<'PY' || fail "script records"
import re, sys
out = [l for l in open(sys.argv[1]).read().splitlines() if l.startswith("[")]
dump = open(sys.argv[2]).read().splitlines()
assert dump[0] == "trace version 2", dump[0]
assert dump[-1] == "end %d records" % (len(dump) - 2), dump[-1]
# the config record first: the keys the script's machine line set
assert dump[1] == "config 2 keys machine.cpus=3 machine.mem=64m", dump[1]
ops = [l for l in dump if l.startswith("op ")]
assert len(ops) == len(out) == 9, (len(ops), len(out))
names = {}
for l in dump:
    m = re.fullmatch(r"agent (\d+) (\S+)", l)
    if m:
        names[m.group(2)] = int(m.group(1))
    if l.startswith("op "):
        agent = re.match(r"op \[\d+,\d+\] (\S+)", l).group(1)
        assert agent in names, ("op before its agent record", l)
assert set(names) == {"cpu0", "cpu1", "cpu2"}, names
# "[S] AGENT OP ARGS -> RES F=V (N cycles)" is "op [S,S+N] AGENT line L: OP ARGS -> RES F=V"
for o, d in zip(out, ops):
    m = re.fullmatch(r"\[(\d+)\] (\S+) (.*) \((\d+) cycles\)", o)
    s, a, body, n = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
    m2 = re.fullmatch(r"op \[(\d+),(\d+)\] (\S+) line \d+: (.*)", d)
    assert m2 and (int(m2.group(1)), int(m2.group(2)), m2.group(3), m2.group(4)) == \
        (s, s + n, a, body), (o, d)
PY
grep -qx "op \[2579,2799\] cpu1 line 7: pvalidate asid=1 gpa=0x1000 spa=0x201000 -> FAIL_INUSE" \
	"$T/s.dump" || fail "the FAIL_INUSE line: $(cat "$T/s.dump")"
grep -qx "op \[10100,10340\] cpu1 line 21: host_access spa=0x202000 kind=write -> #PF(W,RMP) spurious=1" \
	"$T/s.dump" || fail "the #PF line"

# exec: every VM exit, #NPF with its GPA and EXITINFO1; the same bytes twice
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --trace "$T/e1.zst" >/dev/null || fail "exec exit $?"
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --trace "$T/e2.zst" >/dev/null || fail "exec 2 exit $?"
cmp -s "$T/e1.zst" "$T/e2.zst" || fail "exec trace differs between two runs"
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --stats >/dev/null 2>"$T/stats" || fail "exec 3 exit $?"
"$P" trace dump "$T/e1.zst" >"$T/e.dump" || fail "dump exec exit $?"
# another engine.quantum: the same records, each agent's in the same order
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --set engine.quantum=1000000 --trace "$T/eq.zst" \
	>/dev/null || fail "exec quantum exit $?"
"$P" trace dump "$T/eq.zst" >"$T/eq.dump" || fail "dump quantum exit $?"
# (the config records differ by engine.quantum, which the second run set)
grep -qx "config 2 keys engine.quantum=1000000 vm.vcpus=4" "$T/eq.dump" ||
	fail "quantum: config record $(grep '^config' "$T/eq.dump")"
grep -v '^config ' "$T/e.dump" | sort >"$T/e.sorted"
grep -v '^config ' "$T/eq.dump" | sort >"$T/eq.sorted"
cmp -s "$T/e.sorted" "$T/eq.sorted" || fail "quantum 10^6: other records"
for v in vcpu0 vcpu1 vcpu2 vcpu3; do
	grep "^exit .* $v " "$T/e.dump" >"$T/a"
	grep "^exit .* $v " "$T/eq.dump" >"$T/b"
	cmp -s "$T/a" "$T/b" || fail "quantum 10^6: $v's exits in another order"
done
python3 - "$T/e.dump" "$T/stats" <<'PY' || fail "exec records"
import re, sys
dump = open(sys.argv[1]).read().splitlines()
names = {m.group(1) for m in (re.fullmatch(r"agent \d+ (\S+)", l) for l in dump) if m}
assert {"vcpu0", "vcpu1", "vcpu2", "vcpu3"} <= names, names
ex = [re.fullmatch(r"exit \[(\d+),(\d+)\] (vcpu\d) reason (\d+) (\w+) pc=0x[0-9a-f]+ "
                   r"gpa=(0x[0-9a-f]+) info=(0x[0-9a-f]+)", l) for l in dump if l.startswith("exit ")]
assert ex and all(ex), dump
assert all(int(m.group(1)) <= int(m.group(2)) for m in ex)
npf = [m for m in ex if m.group(5) == "npf"]
assert npf and all(m.group(4) == "0" and int(m.group(6), 16) >= 0x80000000 and
                   int(m.group(7), 16) & (1 << 32) for m in npf), npf
assert all(m.group(6) == "0x0" for m in ex if m.group(5) != "npf")
# as many exits of each guest-caused reason as the run's statistics count
# (vcpuN.exits.<reason>; an INTR from a kick has no such counter)
stats = {}
for l in open(sys.argv[2]):
    m = re.match(r"\s*(vcpu\d)\.exits\.(\w+)\s+(\d+)", l)
    if m:
        stats[(m.group(1), m.group(2))] = int(m.group(3))
got = {}
for m in ex:
    got[(m.group(3), m.group(5))] = got.get((m.group(3), m.group(5)), 0) + 1
assert stats, "no vcpuN.exits.* statistics"
counted = {r for (_, r) in stats}
assert {k: v for k, v in stats.items() if v} == \
    {k: v for k, v in got.items() if k[1] in counted}, (stats, got)
assert set(r for (_, r) in got) - counted <= {"intr"}, got
PY

# run: the default scenario's workload
"$P" run workloads/scenarios/default.ini --out "$T/r" -q --trace "$T/r.zst" || fail "run exit $?"
"$P" trace dump "$T/r.zst" >"$T/r.dump" || fail "dump run exit $?"
grep -q "^op \[" "$T/r.dump" || fail "run: no op records"
"$P" run workloads/scenarios/two_vms.ini --out "$T/v" -q --trace "$T/v.zst" || fail "run VMs exit $?"
"$P" trace dump "$T/v.zst" >"$T/v.dump" || fail "dump run VMs exit $?"
grep -qx "agent 1 vm1.vcpu0" "$T/v.dump" && grep -q "^exit \[[0-9]*,[0-9]*\] vm0.vcpu0 reason " \
	"$T/v.dump" || fail "run VMs: $(head -5 "$T/v.dump")"

# a long trace cut in the middle: the whole records, then the error at the cut one
i=0
while [ $i -lt 3000 ]; do
	echo "cpu$((i % 2)) rmpread spa=0x$(printf %x $((0x200000 + i * 4096)))"
	i=$((i + 1))
done >"$T/big.ps"
"$P" script "$T/big.ps" --trace "$T/big.zst" >/dev/null || fail "big script exit $?"
head -c 20000 "$T/big.zst" >"$T/cut.zst"
"$P" trace dump "$T/cut.zst" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "cut: exit $rc"
grep -Eqx "protsim: $T/cut.zst: byte [1-9][0-9]*: the compressed stream is cut short after [0-9]+ decompressed bytes \(truncated file\?\)" \
	"$T/err" || fail "cut: $(cat "$T/err")"
[ "$(grep -c '^op ' "$T/out")" -gt 100 ] || fail "cut: the records before the cut are not shown"

# not a trace, empty, missing
echo "garbage, not zstd" >"$T/g.zst"
bad "$T/g.zst" "$T/g.zst: byte 0: not a zstd-compressed trace: Unknown frame descriptor"
: >"$T/empty.zst"
bad "$T/empty.zst" "$T/empty.zst: byte 0: empty file, not a zstd-compressed trace"
bad "$T/none.zst" "$T/none.zst: cannot read: No such file or directory"

# the decompressed stream changed: another magic, version 3, a record cut, data after the end
zstd -dcq "$T/s1.zst" >"$T/raw" || fail "zstd -d"
python3 - "$T/raw" "$T" <<'PY' || fail "mutate"
import sys
raw, d = open(sys.argv[1], "rb").read(), sys.argv[2]
open(d + "/magic", "wb").write(b"PROTSIMX" + raw[8:])
open(d + "/v2", "wb").write(raw[:8] + (3).to_bytes(4, "little") + raw[12:])
open(d + "/cut", "wb").write(raw[:20])
open(d + "/after", "wb").write(raw + raw[12:29])
open(d + "/len", "w").write(str(len(raw)))
open(d + "/size", "w").write(str(int.from_bytes(raw[12:16], "little")))
PY
for f in magic v2 cut after; do zstd -qcf "$T/$f" >"$T/$f.zst" || fail "zstd"; done
bad "$T/magic.zst" "$T/magic.zst: byte 0: not a protsim trace (no PROTSIMT header)"
bad "$T/v2.zst" "$T/v2.zst: byte 8: format version 3: this protsim reads version 2"
bad "$T/cut.zst" "$T/cut.zst: byte 12: the record is cut short (4 of $(cat "$T/size") bytes)"
bad "$T/after.zst" "$T/after.zst: byte $(cat "$T/len"): data after the end record"
grep -qx "end 13 records" "$T/out" || fail "after: the trace before the extra data is shown"

# usage
"$P" trace list "$T/s1.zst" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown subcommand 'list'" "$T/err" || fail "trace list: exit $rc"
"$P" trace dump >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "trace dump without a file: exit $rc"

# an unwritable trace: refused before anything runs
"$P" exec "$G/hello.elf" --trace /proc/protsim-no/t.zst >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 123 ] || fail "exec unwritable trace: exit $rc"
[ "$(cat "$T/err")" = "protsim: /proc/protsim-no/t.zst: cannot write the trace: No such file or directory" ] ||
	fail "exec message: $(cat "$T/err")"
[ -s "$T/out" ] && fail "the program ran"
"$P" script $S --trace /proc/protsim-no/t.zst >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ ! -s "$T/out" ] || fail "script unwritable trace: exit $rc"
grep -q "/proc/protsim-no/t.zst: cannot write the trace" "$T/err" || fail "script message"
"$P" run workloads/scenarios/default.ini --out "$T/r2" -q --trace /proc/protsim-no/t.zst \
	>"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "run unwritable trace: exit $rc"
grep -q "/proc/protsim-no/t.zst: cannot write the trace" "$T/err" || fail "run message"

# a write that fails during the run (a full disk): said at the end, exit 2 / 123
if [ -w /dev/full ]; then
	"$P" script $S --trace /dev/full >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 2 ] || fail "script /dev/full: exit $rc"
	[ "$(cat "$T/err")" = "protsim: /dev/full: cannot write the trace: No space left on device" ] ||
		fail "/dev/full message: $(cat "$T/err")"
	"$P" exec "$G/hello.elf" --trace /dev/full >/dev/null 2>"$T/err"; rc=$?
	[ $rc -eq 123 ] || fail "exec /dev/full: exit $rc"
fi
exit 0
