#!/bin/sh
# --timeline FILE (run, script, exec, replay): Chrome trace-event JSON as its
# format defines it (checked with a real JSON parser: event phases and
# their fields, one named track per agent, durations and timestamps,
# spans of a track nested, each flow started before it ends), script
# lines as spans with their line and result, guest runs and exits of a
# VM, page-table walks (timed requesters only; timeline.walks=0 leaves
# them out), RMP faults, RMP entry-lock conflicts with their arrow from
# the holder, the VMM's turns and private<->shared conversions of a KVM
# VM against its statistics, deterministic bytes, the event cap with its
# message, and an unwritable file refused before the run.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/timeline.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

check() { # FILE: the trace-event format's rules
	python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict) and isinstance(d["traceEvents"], list), "object form"
ev = d["traceEvents"]
named = {e["tid"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
flows = {}
for e in ev:
    assert e["ph"] in "MXisf", e
    assert isinstance(e["pid"], int) and isinstance(e["tid"], int), e
    assert isinstance(e["name"], str) and e["name"], e
    if e["ph"] == "M":
        assert e["name"] in ("process_name", "thread_name") and "name" in e["args"], e
        continue
    assert e["tid"] in named, ("track without a name", e)
    assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
    assert isinstance(e["cat"], str), e
    if e["ph"] == "X":
        assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0, e
    if e["ph"] == "i":
        assert e["s"] in ("t", "p", "g"), e
    if e["ph"] in "sf":
        flows.setdefault(e["id"], []).append(None)
        flows[e["id"]][-1] = (e["ph"], e["ts"], e["tid"])
for i, p in flows.items():   # one start, one end, not before the start
    p.sort(key=lambda x: x[0] != "s")
    assert [x[0] for x in p] == ["s", "f"] and p[0][1] <= p[1][1], ("flow", i, p)
# spans of one track nest (a viewer draws them as a stack): ts and dur are
# integers (cycles), so ts + dur is exact in a viewer's floating point too
tracks = {}
for n, e in enumerate(ev):
    if e["ph"] == "X":
        assert isinstance(e["ts"], int) and isinstance(e["dur"], int), ("cycles, as integers", e)
        tracks.setdefault(e["tid"], []).append((e["ts"], -e["dur"], n, e))
for tid, xs in tracks.items():
    xs.sort(key=lambda x: x[:3])
    open_ = []
    for t0, nd, n, e in xs:
        while open_ and open_[-1][0] <= t0:
            open_.pop()
        assert not open_ or t0 - nd <= open_[-1][0], ("spans overlap", open_[-1][1], e)
        open_.append((t0 - nd, e))
print(len(ev))
PY
}

# script: one span per line, with its line number and result
"$P" script tests/scripts/rmp_race_pvalidate.ps --timeline "$T/s.json" >/dev/null || fail "script exit $?"
check "$T/s.json" >/dev/null || fail "script timeline"
python3 - "$T/s.json" <<'PY' || fail "script spans"
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e["ph"] == "X"]
assert ev and all(e["cat"] == "op" for e in ev), ev
pv = [e for e in ev if e["name"] == "pvalidate"]
assert pv and pv[0]["args"]["result"] == "FAIL_INUSE", pv
assert all(isinstance(e["args"]["line"], int) for e in ev)
PY

# replay: the race of rmp_race_pvalidate.ps again with a slower RMPUPDATE;
# the replay's lock conflicts (its statistics) with their arrows
"$P" script tests/scripts/rmp_race_pvalidate.ps --trace "$T/race.zst" >/dev/null || fail "race trace"
"$P" replay "$T/race.zst" --set lat.rmp.rmpupdate=5000 --out "$T/rp" --timeline "$T/rp.json" >/dev/null
[ $? -eq 1 ] || fail "replay with a slower RMPUPDATE: results should differ"
check "$T/rp.json" >/dev/null || fail "replay timeline"
python3 - "$T/rp.json" "$T/rp/stats.json" <<'PY' || fail "replay timeline events"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
st = json.load(open(sys.argv[2]))
lock = [e for e in ev if e.get("cat") == "lock"]
assert lock and len(lock) == st["rmp.lock_conflicts"], (lock, st["rmp.lock_conflicts"])
assert len([e for e in ev if e["ph"] == "s"]) == len(lock), "an arrow per conflict"
assert all(e["args"]["holder"] == "cpu0" for e in lock), lock
PY
"$P" replay "$T/race.zst" --timeline /proc/protsim-no/t.json >"$T/out" 2>"$T/err"
[ $? -eq 2 ] && grep -q "cannot write the timeline" "$T/err" || fail "replay: unwritable timeline"

# exec: guest runs and exits on each vCPU's track; the same bytes twice
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --timeline "$T/e1.json" >/dev/null || fail "exec exit $?"
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --timeline "$T/e2.json" >/dev/null || fail "exec 2 exit $?"
cmp -s "$T/e1.json" "$T/e2.json" || fail "timeline differs between two runs"
check "$T/e1.json" >/dev/null || fail "exec timeline"
python3 - "$T/e1.json" <<'PY' || fail "exec spans"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
assert {"vcpu0", "vcpu1", "vcpu2", "vcpu3"} <= names, names
x = [e for e in ev if e["ph"] == "X"]
assert any(e["cat"] == "guest" for e in x) and any(e["name"] == "exit npf" for e in x), x[:4]
assert any(e["ph"] == "i" and e["name"] == "npf" and e["args"]["gpa"].startswith("0x") for e in ev)
PY

# the SNP guest instructions on the vCPU's track, inside its guest span
"$P" exec "$G/pvalidate.elf" --set vm.type=snp --timeline "$T/pv.json" >/dev/null 2>&1
check "$T/pv.json" >/dev/null || fail "pvalidate timeline"
python3 - "$T/pv.json" <<'PY' || fail "rmp spans"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
rmp = [e for e in ev if e.get("cat") == "rmp"]
assert {e["name"] for e in rmp} >= {"pvalidate", "rmpadjust", "rmpquery"}, rmp
assert any(e["args"]["rc"] == "FAIL_PERMISSION" for e in rmp), rmp
guest = [e for e in ev if e.get("cat") == "guest"]
for r in rmp:   # nested in a guest span of the same track
    assert any(g["tid"] == r["tid"] and g["ts"] <= r["ts"] and r["ts"] + r["dur"] <= g["ts"] + g["dur"] + 1e-9
               for g in guest), r
PY

# run: the default scenario: its walks, RMP faults and the lock conflict
# (cpu1's PVALIDATE refused while cpu0's RMPUPDATE holds the entry)
"$P" run workloads/scenarios/default.ini --out "$T/r" --timeline "$T/r.json" -q || fail "run exit $?"
check "$T/r.json" >/dev/null || fail "run timeline"
python3 - "$T/r.json" "$T/r/stats.json" <<'PY' || fail "default scenario events"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
st = json.load(open(sys.argv[2]))
name = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
walks = [e for e in ev if e.get("cat") == "walk"]
assert {"stage-2 walk", "2D walk"} <= {e["name"] for e in walks}, walks
assert all(e["args"]["refs"] > 0 and e["args"]["ia"].startswith("0x") for e in walks), walks
faults = [e for e in ev if e.get("cat") == "fault"]
assert {"rmp #PF", "rmp #VC", "rmp iommu fault"} <= {e["name"] for e in faults}, faults
lock = [e for e in ev if e.get("cat") == "lock"]
assert len(lock) == st["rmp.lock_conflicts"], (lock, st["rmp.lock_conflicts"])
l = lock[0]
assert l["name"] == "pvalidate refused: entry locked" and name[l["tid"]] == "cpu1", l
assert l["args"]["holder"] == "cpu0" and l["args"]["locked_at"] <= l["ts"] < l["args"]["until"], l
s = [e for e in ev if e["ph"] == "s"]
f = [e for e in ev if e["ph"] == "f" and e["id"] == s[0]["id"]]
assert name[s[0]["tid"]] == "cpu0" and s[0]["ts"] == l["args"]["locked_at"], s
assert f and f[0]["tid"] == l["tid"] and f[0]["ts"] == l["ts"], f
PY
# README.md's excerpt of this file: its lines as they are in it
top=$(cd "$(dirname "$0")/../.." && pwd)
grep '^{"ph":' "$top/README.md" | sed 's/,$//' >"$T/readme" && [ -s "$T/readme" ] || fail "README: no excerpt"
while IFS= read -r l; do
	grep -qxF "$l," "$T/r.json" || grep -qxF "$l" "$T/r.json" || fail "README's timeline line is not in the file: $l"
done <"$T/readme"
"$P" run workloads/scenarios/default.ini --out "$T/r0" --set timeline.walks=0 --timeline "$T/r0.json" -q ||
	fail "walks=0 exit $?"
grep -q '"cat":"walk"' "$T/r0.json" && fail "timeline.walks=0 kept walks"
grep -q '"cat":"lock"' "$T/r0.json" || fail "timeline.walks=0 dropped other events"

# a guest's walks: none in fast mode (the CPU does not charge them), spans in detailed mode
"$P" exec "$G/hello.elf" --set vm.type=snp --timeline "$T/h.json" >/dev/null || fail "hello exit $?"
grep -q '"cat":"walk"' "$T/h.json" && fail "fast mode: walk spans"
"$P" exec "$G/hello.elf" --set vm.type=snp --set cpu.mode=detailed --timeline "$T/hd.json" >/dev/null ||
	fail "detailed hello exit $?"
check "$T/hd.json" >/dev/null || fail "detailed timeline"
grep -q '"name":"stage-2 walk"' "$T/hd.json" || fail "detailed mode: no walk spans"

# an SNP guest on the KVM host (snp-boot.ini): its exits and the VMM's turns on cpu0's track
"$P" run workloads/scenarios/snp-boot.ini --set kvm.elf="$(cd "$G" && pwd)/boot.elf" --set kvm.mem_size=8m \
	--out "$T/k" --timeline "$T/k.json" -q || fail "snp-boot run exit $?"
check "$T/k.json" >/dev/null || fail "snp-boot timeline"
for pat in '"name":"exit npf"' '"name":"exit vmgexit"' '"cat":"vmm"' '"name":"hypercall"' \
	'"cat":"guest"' '"name":"npf"'; do
	grep -q "$pat" "$T/k.json" || fail "snp-boot timeline: no $pat"
done
# the conversions: one span per exit that converted, inside that exit's span,
# the VMM's turns inside it; their ranges and pages are the VMM's statistics
python3 - "$T/k.json" "$T/k/stats.json" <<'PY' || fail "snp-boot conversions"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
st = json.load(open(sys.argv[2]))
x = [e for e in ev if e["ph"] == "X"]
conv = [e for e in x if e["cat"] == "convert"]
vmm = [e for e in x if e["cat"] == "vmm"]
assert {e["name"] for e in conv} == {"convert to private", "convert to shared"}, {e["name"] for e in conv}
assert sum(e["args"]["ranges"] for e in conv) == st["vm4.conversions"], st["vm4.conversions"]
assert sum(e["args"]["pages"] for e in conv) == st["vm4.pages_converted"], st["vm4.pages_converted"]
assert sum(e["args"]["converted"] for e in vmm) == st["vm4.pages_converted"]
inside = lambda a, b: a["tid"] == b["tid"] and b["ts"] <= a["ts"] and a["ts"] + a["dur"] <= b["ts"] + b["dur"] + 1e-9
exits = [e for e in x if e["cat"] == "exit"]
for c in conv:
    assert any(inside(c, e) for e in exits), ("conversion outside an exit", c)
    assert c["args"]["request"] in ("vmgexit", "hypercall", "npf"), c
for v in vmm:
    if v["args"]["converted"]:
        assert any(inside(v, c) for c in conv), ("VMM turn outside its conversion", v)
PY

# the VMM's I/O thread: a track of its own (vm1.io) with a span per block request
PA=$(cd "$(dirname "$P")" && pwd)/$(basename "$P")
(cd "$top/tests/scripts" && "$PA" script guest_virtio.ps --timeline "$T/io.json" --out "$T/io") \
	>/dev/null || fail "guest_virtio.ps timeline"
python3 - "$T/io.json" "$T/io/stats.json" <<'PY' || fail "I/O thread spans"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
st = json.load(open(sys.argv[2]))
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
blk = [e for e in ev if e["ph"] == "X" and e["name"] == "blk request"]
assert len(blk) == st["vm1.blk_requests"] > 0, (len(blk), st["vm1.blk_requests"])
assert {names[e["tid"]] for e in blk} == {"vm1.io"}, {names[e["tid"]] for e in blk}
PY

# the cap
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --set timeline.cap=5 --timeline "$T/c.json" \
	>/dev/null 2>"$T/err" || fail "capped exec exit $?"
[ "$(check "$T/c.json")" = 10 ] || fail "capped timeline: $(check "$T/c.json") events"   # 5 + 5 names
grep -q "timeline cut at timeline.cap=5 events" "$T/err" || fail "no cap message: $(cat "$T/err")"

# an unwritable file: refused before anything runs
"$P" exec "$G/hello.elf" --timeline /proc/protsim-no/t.json >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 123 ] || fail "unwritable timeline: exit $rc"
grep -q "/proc/protsim-no/t.json: cannot write the timeline" "$T/err" || fail "message: $(cat "$T/err")"
[ -s "$T/out" ] && fail "the program ran"
exit 0
