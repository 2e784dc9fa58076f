#!/bin/sh
# The output set of every command that runs a machine (docs/outputs.md):
# `run`, `script --out DIR` and `exec --out DIR` write stats.txt,
# stats.json, stats.csv, config.json and run.json, plus their log
# (workload.log, console.log) equal to what they print; the CSV has one
# column per value; run.json names the command, the input, cycles,
# instructions and the exit status; timing is in the stats (a changed
# latency changes stats.txt); everything but run.json's host_seconds is
# byte-identical on a second run; an unwritable DIR is an error.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/outputs.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

has_set() { # DIR LOG
	for f in stats.txt stats.json stats.csv config.json run.json "$2"; do
		[ -f "$1/$f" ] || fail "$1: no $f"
	done
}

# exec
"$P" exec "$G/hello.elf" --out "$T/e1" >"$T/e1.stdout" || fail "exec exit $?"
has_set "$T/e1" console.log
cmp -s "$T/e1.stdout" "$T/e1/console.log" || fail "console.log differs from stdout"
"$P" exec "$G/hello.elf" --out "$T/e2" >/dev/null || fail "exec 2 exit $?"
for f in stats.txt stats.json stats.csv config.json console.log; do
	cmp -s "$T/e1/$f" "$T/e2/$f" || fail "exec $f differs between two runs"
done
python3 - "$T/e1" <<'PY' || fail "exec outputs"
import json, sys, csv
d = sys.argv[1]
m = json.load(open(d + "/run.json"))
assert m["command"] == "exec", m
assert m["input"].endswith("hello.elf"), m
assert m["instructions"] == 3598, m
assert m["exit_status"] == 0 and m["error"] is None, m
assert m["cycles"] > 0 and isinstance(m["host_seconds"], float), m
assert m["command_line"][1] == "exec", m
st = json.load(open(d + "/stats.json"))
for k in ("sim.cycles", "agent.vcpu0.cycles", "vcpu0.insns", "vm.exit_cycles.npf"):
    assert k in st, k
assert st["sim.cycles"] == m["cycles"], (st["sim.cycles"], m["cycles"])
rows = list(csv.reader(open(d + "/stats.csv")))
assert len(rows) == 2 and len(rows[0]) == len(rows[1]), [len(r) for r in rows]
row = dict(zip(rows[0], rows[1]))
assert row["vcpu0.insns"] == "3598", row["vcpu0.insns"]
assert row["vm.exit_cycles.npf.count"] == str(st["vm.exit_cycles.npf"]["count"])
PY
# a program that does not exit normally: its status and an error in run.json
"$P" exec "$G/compute.elf" --max-insns 1000 --out "$T/e3" >/dev/null 2>&1; rc=$?
[ $rc -eq 124 ] || fail "limited exec exit $rc"
python3 -c "import json,sys; m=json.load(open('$T/e3/run.json')); assert m['exit_status']==124 and m['error'], m" ||
	fail "run.json of a limited exec"

# script
"$P" script tests/scripts/rmp_race_pvalidate.ps --out "$T/s1" >"$T/s1.stdout" || fail "script exit $?"
has_set "$T/s1" workload.log
cmp -s "$T/s1.stdout" "$T/s1/workload.log" || fail "workload.log differs from stdout"
grep -q '^ops.pvalidate.cycles ' "$T/s1/stats.txt" || fail "no per-operation latency histogram"
python3 -c "import json; m=json.load(open('$T/s1/run.json')); assert m['command']=='script' and m['exit_status']==0, m" ||
	fail "script run.json"

# run: a latency changes the files
for l in 1100 5000; do
	"$P" run workloads/scenarios/default.ini --set lat.rmp.rmpupdate=$l --out "$T/r$l" -q ||
		fail "run exit $?"
	has_set "$T/r$l" workload.log
done
cmp -s "$T/r1100/stats.txt" "$T/r5000/stats.txt" && fail "lat.rmp.rmpupdate does not change stats.txt"
grep -q '^ops.rmpupdate.cycles ' "$T/r5000/stats.txt" || fail "run: no ops.rmpupdate.cycles"

# Region of interest: the `roi` operation and stats.roi_cycle
printf 'rmpupdate spa=0x200000 assigned=1 asid=1 gpa=0\nroi\nrmpupdate spa=0x201000 assigned=1 asid=1 gpa=0x1000\n' >"$T/roi.ps"
"$P" script "$T/roi.ps" --out "$T/roi" >/dev/null || fail "roi script exit $?"
python3 - "$T/roi/stats.json" <<'PY' || fail "roi statistics"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["rmp.rmpupdate.success"] == 1, st["rmp.rmpupdate.success"]   # 2 ran, 1 after the roi
assert st["ops.rmpupdate.cycles"]["count"] == 1, st["ops.rmpupdate.cycles"]
assert st["sim.cycles"] == 1580 and st["agent.cpu0.cycles"] == 1580, st["sim.cycles"]
assert st["ops.roi.cycles"]["count"] == 1
PY
"$P" run workloads/scenarios/default.ini --set stats.roi_cycle=50000 --out "$T/roic" -q || fail "roi run"
a=$(grep '^sim.cycles ' "$T/r1100/stats.txt" | awk '{print $2}')
b=$(grep '^sim.cycles ' "$T/roic/stats.txt" | awk '{print $2}')
[ "$((a - 50000))" = "$b" ] || fail "stats.roi_cycle: sim.cycles $b, whole run $a"

# an output directory that cannot be made
"$P" exec "$G/hello.elf" --out /proc/protsim-no >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 123 ] || fail "unwritable --out: exit $rc"
grep -q "/proc/protsim-no" "$T/err" || fail "unwritable --out: $(cat "$T/err")"
"$P" script tests/scripts/rmp_race_pvalidate.ps --out /proc/protsim-no >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "script unwritable --out: exit $rc"
exit 0
