#!/bin/sh
# `protsim sweep`: the cross product (and --zip) of the grids, each point
# a run in its own directory, merged in point order into sweep.csv
# (point, status, error, grid.KEY..., the statistics); the same CSV on 1
# and on 2 cores; a rerun skips the points already done; a failed point
# keeps its row with its error and makes the exit status 1; --merge
# rebuilds the CSV; bad grids are usage errors.
# Run: PROTSIM=build/protsim sh tests/cli/sweep.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
S=workloads/scenarios/default.ini

"$P" sweep $S --grid lat.rmp.rmpupdate=1100,3000,5000 --grid rmp.spurious_faults=0,1 \
	--out "$T/a" >"$T/out" || fail "sweep -j1 exit $?"
grep -q "^sweep: 6 points, 0 failed: $T/a/sweep.csv$" "$T/out" || fail "summary: $(cat "$T/out")"
"$P" sweep $S --grid lat.rmp.rmpupdate=1100,3000,5000 --grid rmp.spurious_faults=0,1 \
	-j 2 --out "$T/b" >/dev/null || fail "sweep -j2 exit $?"
cmp -s "$T/a/sweep.csv" "$T/b/sweep.csv" || fail "sweep.csv differs between 1 and 2 cores"
python3 - "$T/a/sweep.csv" <<'PY' || fail "sweep.csv content"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["point"] for r in rows] == [str(i) for i in range(6)]
assert [(r["grid.lat.rmp.rmpupdate"], r["grid.rmp.spurious_faults"]) for r in rows] == \
    [(a, b) for a in ("1100", "3000", "5000") for b in ("0", "1")], rows
assert all(r["status"] == "0" and r["error"] == "" for r in rows)
s = [int(r["ops.rmpupdate.cycles.sum"]) for r in rows]
assert s[0] < s[2] < s[4] and s[0] == s[1], s    # the latency moves the histogram
PY
# each point is a full output set
for f in stats.csv stats.json run.json config.json workload.log; do
	[ -f "$T/a/p0003/$f" ] || fail "p0003: no $f"
done
grep -q '"lat.rmp.rmpupdate": 3000' "$T/a/p0003/config.json" || fail "p0003 config"

# a rerun skips what is done: the points' files are not rewritten
touch -d '2000-01-01' "$T/a/p0000/stats.csv"
"$P" sweep $S --grid lat.rmp.rmpupdate=1100,3000,5000 --grid rmp.spurious_faults=0,1 \
	--out "$T/a" >/dev/null || fail "rerun exit $?"
[ "$(date -r "$T/a/p0000/stats.csv" +%Y)" = 2000 ] || fail "a done point ran again"

# --zip
"$P" sweep $S --zip --grid lat.rmp.rmpupdate=1100,5000 --grid rmp.spurious_faults=0,1 \
	--out "$T/z" >/dev/null || fail "zip exit $?"
[ "$(cut -d, -f1,4,5 "$T/z/sweep.csv" | tail -n +2 | tr '\n' ' ')" = "0,1100,0 1,5000,1 " ] ||
	fail "zip points: $(cut -d, -f1-5 "$T/z/sweep.csv")"

# a failed point keeps its row and its error; the sweep exits 1
"$P" sweep $S --grid lat.rmp.rmpupdate=1100,bad --out "$T/f" >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || fail "failed point: exit $rc"
sed -n 3p "$T/f/sweep.csv" | grep -q '^1,failed,no run.json: the point did not run to its end (see its .log),bad' ||
	fail "failed row: $(sed -n 3p "$T/f/sweep.csv")"
grep -q "lat.rmp.rmpupdate: expected a number, got 'bad'" "$T/f/p0001.log" || fail "the point's log"

# --merge rebuilds the same CSV from the points
cp "$T/a/sweep.csv" "$T/a.csv"; rm "$T/a/sweep.csv"
"$P" sweep --merge "$T/a" >/dev/null || fail "merge exit $?"
cmp -s "$T/a.csv" "$T/a/sweep.csv" || fail "--merge differs"

# usage errors
for bad in "--grid lat.rmp.rmpupdate" "--grid =1,2" "--grid k=" "-j 0 --grid lat.rmp.rmpupdate=1"; do
	"$P" sweep $S $bad --out "$T/u" >/dev/null 2>&1; rc=$?
	[ $rc -eq 2 ] || fail "sweep $bad: exit $rc"
done
"$P" sweep $S --zip --grid a.b=1,2 --grid c.d=1 --out "$T/u" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "every grid needs as many values" "$T/err" || fail "zip lengths: $rc $(cat "$T/err")"
"$P" sweep --merge "$T/nosuch" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "merge of nothing: exit $rc"
exit 0
