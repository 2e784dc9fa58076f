#!/bin/sh
# protsim replay (docs/trace.md "Replay"): a script's trace replayed on
# its own configuration gives every recorded result and cycle (the new
# trace's op records equal the old); a slower RMPUPDATE moves the cycles,
# not the results; an RMP mode that changes results lists the lines (exit
# 1); the same replay twice gives the same bytes (outputs, report,
# trace); an access trace (protsim import lackey) runs as guest accesses
# at 4K and at 2M; bad traces and bad input are errors, exit 2.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/replay.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# bad MESSAGE ARGS...: exit 2, stderr is exactly "protsim: MESSAGE", nothing on stdout
bad() {
	msg=$1; shift
	"$P" replay "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ $rc -eq 2 ] || fail "replay $*: exit $rc, want 2: $(cat "$T/err")"
	[ "$(cat "$T/err")" = "protsim: $msg" ] || fail "replay $*: '$(cat "$T/err")', want 'protsim: $msg'"
	[ -s "$T/out" ] && fail "replay $*: stdout: $(cat "$T/out")"
	return 0
}

# 1. the racy script on its own configuration: the same results, the same cycles
S=tests/scripts/rmp_race_pvalidate.ps
"$P" script $S --trace "$T/s.zst" >/dev/null || fail "script exit $?"
"$P" replay "$T/s.zst" --trace "$T/r.zst" >"$T/same" 2>"$T/err" || fail "replay exit $?: $(cat "$T/err")"
[ -s "$T/err" ] && fail "replay stderr: $(cat "$T/err")"
grep -qx "replay of $T/s.zst: 9 script lines on 3 host CPUs" "$T/same" || fail "title: $(head -1 "$T/same")"
grep -qx "  0 of 9 lines give another result" "$T/same" || fail "same config: $(cat "$T/same")"
grep -Eqx "  end of the last line +9 +12240 +12240 +\+0 +0%" "$T/same" || fail "total: $(cat "$T/same")"
grep -Eqx "  rmpupdate +4 +4960 +4960 +\+0 +0%" "$T/same" || fail "rmpupdate row: $(cat "$T/same")"
# the replayed run's op records are the recorded ones, cycle for cycle
"$P" trace dump "$T/s.zst" | grep '^op ' >"$T/old.ops"
"$P" trace dump "$T/r.zst" | grep '^op ' >"$T/new.ops"
[ -s "$T/old.ops" ] && cmp -s "$T/old.ops" "$T/new.ops" || fail "replayed op records differ"

# 2. one CPU, no race: RMPUPDATE at 5000 cycles moves the cycles, not the results
cat >"$T/one.ps" <<'PS'
machine mem=64m cpus=2
cpu0 rmpupdate spa=0x201000 assigned=1 asid=1 gpa=0x1000
@20000 cpu0 pvalidate asid=1 gpa=0x1000 spa=0x201000
cpu0 rmpread spa=0x201000
cpu1 rmpupdate spa=0x300000 assigned=1 asid=2 gpa=0x0
cpu1 rmpupdate spa=0x300000
PS
"$P" script "$T/one.ps" --trace "$T/one.zst" >/dev/null || fail "one.ps exit $?"
"$P" replay "$T/one.zst" --set lat.rmp.rmpupdate=5000 >"$T/slow" 2>"$T/err"; rc=$?
[ $rc -eq 0 ] || fail "slow rmpupdate: exit $rc: $(cat "$T/err") $(cat "$T/slow")"
grep -qx "  0 of 5 lines give another result" "$T/slow" || fail "slow: $(cat "$T/slow")"
python3 - "$T/slow" <<'PY' || fail "slow cycles: $(cat "$T/slow")"
import re, sys
rows = {}
for l in open(sys.argv[1]):
    m = re.match(r"  (\S.*?) +(\d+) +(\d+) +(\d+) +([+-]\d+) +(\S+)$", l)
    if m:
        rows[m.group(1)] = [int(m.group(i)) for i in (2, 3, 4, 5)] + [m.group(6)]
n, old, new, d, rel = rows["rmpupdate"]
assert n == 3 and new - old == 3 * (5000 - 1100) and d == new - old, rows["rmpupdate"]
assert rel == "%+.2f%%" % (100.0 * d / old), rel
assert rows["pvalidate"][1] == rows["pvalidate"][2], rows["pvalidate"]
# cpu0's pvalidate waited for @20000: the gap is kept after the longer rmpupdate
end = rows["end of the last line"]
assert end[2] > end[1], end
PY

# 3. the RMP off: the RMP instructions fault; the lines are listed, exit 1
"$P" replay "$T/s.zst" --set rmp.mode=off >"$T/off" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "rmp off: exit $rc: $(cat "$T/err")"
grep -qx "  line 5 cpu0 rmpupdate spa=0x201000 assigned=1 asid=1 gpa=0x1000: SUCCESS -> #UD" "$T/off" ||
	fail "rmp off: line 5 not listed: $(cat "$T/off")"
grep -qx "  line 9 cpu2 pvalidate asid=1 gpa=0x1000 spa=0x201000: SUCCESS changed=1 -> #UD" "$T/off" ||
	fail "rmp off: line 9"
grep -qx "  8 of 9 lines give another result" "$T/off" || fail "rmp off: count"
grep -q "line 23 " "$T/off" && fail "rmp off: line 23 gave the same result"

# 4. the same replay twice: the same bytes (run.json's host time aside)
for i in 1 2; do
	"$P" replay "$T/s.zst" --set lat.rmp.rmpupdate=5000 --out "$T/o$i" --trace "$T/t$i.zst" \
		>"$T/stdout$i"; rc=$?
	[ $rc -eq 1 ] || fail "replay --out $i: exit $rc"   # the race: results differ at 5000
done
for f in stats.json stats.txt stats.csv config.json replay.txt workload.log; do
	[ -s "$T/o1/$f" ] || fail "--out: no $f"
	cmp -s "$T/o1/$f" "$T/o2/$f" || fail "--out: $f differs between two replays"
done
cmp -s "$T/t1.zst" "$T/t2.zst" || fail "--trace differs between two replays"
cmp -s "$T/stdout1" "$T/o1/replay.txt" || fail "replay.txt is not the report printed"
grep -q '"command": "replay"' "$T/o1/run.json" && grep -q '"exit_status": 1' "$T/o1/run.json" ||
	fail "run.json: $(cat "$T/o1/run.json")"
grep -q '"lat.rmp.rmpupdate": 5000' "$T/o1/config.json" || fail "config.json lacks the --set"
grep -q '"machine.cpus": 3' "$T/o1/config.json" || fail "config.json lacks the recorded machine line"
grep -q "^ops.rmpupdate.cycles" "$T/o1/stats.txt" || fail "stats.txt: no ops.rmpupdate.cycles"
[ "$(grep -c '^\[' "$T/o1/workload.log")" = 9 ] || fail "workload.log: not the 9 result lines"

# 5. an exec trace: exits only, nothing to replay
"$P" exec "$G/hello.elf" --trace "$T/e.zst" >/dev/null || fail "exec exit $?"
"$P" replay "$T/e.zst" >"$T/e.out" 2>"$T/err" || fail "replay exec trace: exit $?: $(cat "$T/err")"
grep -Eq "^replay of $T/e.zst: 0 script lines on [0-9]+ host CPUs \([1-9][0-9]* VM exit records not replayed" \
	"$T/e.out" || fail "exec trace: $(head -1 "$T/e.out")"

# 6. an access trace: guest accesses of one VM at 4K and at 2M
"$P" import lackey workloads/lackey/ls-head.lackey -o "$T/a.zst" >/dev/null || fail "import $?"
"$P" replay "$T/a.zst" --out "$T/a4" >"$T/a4.out" 2>"$T/err" || fail "access replay 4k: $? $(cat "$T/err")"
"$P" replay "$T/a.zst" --out "$T/a2" --set replay.vm.page_size=2m >"$T/a2.out" || fail "access 2m: $?"
"$P" replay "$T/a.zst" --out "$T/a4b" >/dev/null || fail "access replay 4k again: $?"
for f in stats.json stats.txt config.json replay.txt; do
	cmp -s "$T/a4/$f" "$T/a4b/$f" || fail "access replay: $f differs between two replays"
done
python3 - "$T/a4/stats.json" "$T/a2/stats.json" workloads/lackey/ls-head.lackey <<'PY' || fail "access stats"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def v(s, k):
    x = s[k]
    return x["value"] if isinstance(x, dict) else x
n = sum(1 for l in open(sys.argv[3]) if l[:1] in ("I", " "))
for s in (a, b):
    assert v(s, "replay.accesses") == n, (v(s, "replay.accesses"), n)
    assert v(s, "replay.faults") == 0
    assert v(s, "replay.cycles") == v(s, "replay.xlate_cycles") + v(s, "replay.data_cycles")
    assert v(s, "replay.tlb_hits") + v(s, "replay.tlb_misses") == v(s, "replay.translations")
    assert v(s, "replay.rmp_checks") > 0
    assert sum(v(s, "replay.%s_cycles" % k) for k in ("fetches", "loads", "stores", "modifies")) == \
        v(s, "replay.cycles")
assert v(a, "replay.s1_pages") == v(b, "replay.s1_pages") > 0
# 4K: one nested leaf per guest page; 2M: a few; fewer walks at 2M
assert v(a, "replay.s2_leaves") == v(a, "replay.s1_pages"), v(a, "replay.s2_leaves")
assert 1 <= v(b, "replay.s2_leaves") < v(a, "replay.s2_leaves"), v(b, "replay.s2_leaves")
assert v(b, "replay.walks") < v(a, "replay.walks"), (v(a, "replay.walks"), v(b, "replay.walks"))
PY
grep -q "^VM: SNP (RMP-checked), nested (NPT) leaves 2m" "$T/a2.out" || fail "2m report: $(head -2 "$T/a2.out")"
# a plain VM: reads are not RMP-checked
"$P" replay "$T/a.zst" --set replay.vm.snp=0 >"$T/n.out" || fail "snp=0: $?"
grep -q "^VM: not SNP" "$T/n.out" || fail "snp=0 report"
# compare: the 4K and 2M runs differ in the replay statistics
"$P" compare "$T/a4" "$T/a2" >"$T/cmp"; rc=$?
[ $rc -eq 1 ] && grep -q "replay.vm.page_size" "$T/cmp" && grep -q "replay.walks" "$T/cmp" ||
	fail "compare 4k 2m: exit $rc"

# 7. errors: bad traces, bad configurations, bad options
bad "$T/none.zst: cannot read: No such file or directory" "$T/none.zst"
echo garbage >"$T/g.zst"
bad "$T/g.zst: byte 0: not a zstd-compressed trace: Unknown frame descriptor" "$T/g.zst"
: >"$T/empty.zst"
bad "$T/empty.zst: byte 0: empty file, not a zstd-compressed trace" "$T/empty.zst"
head -c 300 "$T/a.zst" >"$T/cut.zst"
"$P" replay "$T/cut.zst" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -Eq "^protsim: $T/cut.zst: byte [0-9]+: the compressed stream is cut short" "$T/err" ||
	fail "cut access trace: $rc $(cat "$T/err")"
zstd -dcq "$T/s.zst" >"$T/raw" || fail "zstd -d"
python3 - "$T/raw" "$T" <<'PY' || fail "mutate"
import struct, sys
raw, d = open(sys.argv[1], "rb").read(), sys.argv[2]
open(d + "/v1", "wb").write(raw[:8] + (1).to_bytes(4, "little") + raw[12:])
open(d + "/noend", "wb").write(raw[:-13])
# the config record's value of machine.cpus (3) made 0: refused by the key's range
i = raw.index(b"machine.cpus") + len(b"machine.cpus")
open(d + "/cfg", "wb").write(raw[:i + 4] + b"0" + raw[i + 5:])
def rec(t, body):
    return struct.pack("<IB", len(body) + 1, t) + body
def s(x):
    return struct.pack("<I", len(x)) + x
# an op record of a vCPU: only host CPUs' lines replay
body = rec(5, struct.pack("<I", 0)) + rec(1, struct.pack("<I", 0) + s(b"vcpu0")) + \
    rec(2, struct.pack("<IQQI", 0, 10, 20, 3) + s(b"nop") + s(b"cycles=10") + s(b"OK") + struct.pack("<I", 0))
open(d + "/vcpu", "wb").write(b"PROTSIMT" + struct.pack("<I", 2) + body + rec(4, struct.pack("<Q", 3)))
# an access record after op records
body2 = rec(1, struct.pack("<I", 0) + s(b"cpu0")) + rec(6, struct.pack("<BQI", 1, 0x1000, 8))
open(d + "/mixed", "wb").write(b"PROTSIMT" + struct.pack("<I", 2) + body2 + rec(4, struct.pack("<Q", 2)))
# an operation this protsim does not have
body3 = rec(1, struct.pack("<I", 0) + s(b"cpu0")) + \
    rec(2, struct.pack("<IQQI", 0, 10, 20, 7) + s(b"frob") + s(b"") + s(b"OK") + struct.pack("<I", 0))
open(d + "/frob", "wb").write(b"PROTSIMT" + struct.pack("<I", 2) + body3 + rec(4, struct.pack("<Q", 2)))
open(d + "/len", "w").write(str(len(raw) - 13))
PY
for f in v1 noend cfg vcpu mixed frob; do zstd -qcf "$T/$f" >"$T/$f.zst" || fail "zstd"; done
bad "$T/v1.zst: byte 8: format version 1: this protsim reads version 2" "$T/v1.zst"
bad "$T/noend.zst: byte $(cat "$T/len"): no end record: the trace is cut short" "$T/noend.zst"
bad "$T/cfg.zst: machine.cpus: must be between 1 and 256 (got '0') (the trace's config record)" "$T/cfg.zst"
bad "$T/vcpu.zst: byte 39: op record of agent vcpu0: only lines of host CPUs (cpuN) replay" "$T/vcpu.zst"
bad "$T/mixed.zst: byte 29: an access record in the trace of a run" "$T/mixed.zst"
# (a line's message reads as the script's would: TRACE:LINE: ...)
"$P" replay "$T/frob.zst" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/err")" = "$T/frob.zst:7: frob: unknown operation" ] ||
	fail "unknown operation: exit $rc: $(cat "$T/err")"
"$P" replay "$T/s.zst" --set no.such.key=1 >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no.such.key" "$T/err" || fail "unknown --set key: exit $rc"
bad "--trace: the replay of an access trace runs no operations to record" "$T/a.zst" --trace "$T/x.zst"
"$P" replay "$T/a.zst" --set replay.vm.mem_size=10m --set replay.vm.s1_page_size=2m >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^protsim: replay.vm.mem_size: guest RAM (0xa00000 bytes) is used up after" "$T/err" ||
	fail "guest RAM used up: exit $rc $(cat "$T/err")"
"$P" replay "$T/a.zst" --set replay.vm.spa_base=0x3000000 --set replay.vm.mem_size=16m \
	--set machine.mem=32m >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^protsim: replay.vm.spa_base: guest RAM at 0x3000000" "$T/err" ||
	fail "guest RAM beyond memory: exit $rc $(cat "$T/err")"
"$P" replay 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "no trace: exit $rc"
"$P" replay "$T/s.zst" --bogus 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad option: exit $rc"
exit 0
