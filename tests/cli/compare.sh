#!/bin/sh
# `protsim compare DIR_A DIR_B`: configuration differences first, then the
# statistics that differ with both values and the change, largest relative
# change first, a statistic of one run only before them; exit 0 same,
# 1 different, 2 a directory that is not an output set.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/compare.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for l in 1100 5000; do
	"$P" run workloads/scenarios/default.ini --set lat.rmp.rmpupdate=$l --out "$T/r$l" -q ||
		fail "run $l"
done
"$P" compare "$T/r1100" "$T/r1100" >"$T/same"; rc=$?
[ $rc -eq 0 ] || fail "same: exit $rc"
grep -q "^statistics: 0 differ$" "$T/same" || fail "same: $(cat "$T/same")"

"$P" compare "$T/r1100" "$T/r5000" >"$T/d"; rc=$?
[ $rc -eq 1 ] || fail "different: exit $rc"
sed -n 2,3p "$T/d" > "$T/cfg"
printf 'configuration: 1 differ\n  lat.rmp.rmpupdate  1100 -> 5000\n' | cmp -s - "$T/cfg" || fail "config part: $(cat "$T/d")"
grep -q "^  ops.rmpupdate.cycles .*count=7 mean=1842.8571 -> count=7 mean=4071.4286  (+2228.57, +120.93%)$" "$T/d" ||
	fail "stat line: $(cat "$T/d")"

# exec runs: a statistic of one run only comes first, then by relative change
"$P" exec "$G/hello.elf" --out "$T/e1" >/dev/null || fail "exec 1"
"$P" exec "$G/hello.elf" --set vm.type=snp --out "$T/e2" >/dev/null || fail "exec 2"
"$P" compare "$T/e1" "$T/e2" >"$T/e"; rc=$?
[ $rc -eq 1 ] || fail "exec compare: exit $rc"
grep -q "^  vm.type  npt -> snp$" "$T/e" || fail "vm.type: $(head -5 "$T/e")"
python3 - "$T/e" <<'PY' || fail "order: $(cat "$T/e")"
import sys, re, math
lines = open(sys.argv[1]).read().split("\n")
i = lines.index(next(l for l in lines if l.startswith("statistics:")))
rels, seen_finite = [], False
for l in lines[i + 1:]:
    if not l.strip():
        continue
    m = re.search(r"\(([+-][0-9.e+-]+), ([+-][0-9.]+)%\)$", l)
    if m:
        seen_finite = True
        rels.append(abs(float(m.group(2))))
    else:
        assert not seen_finite, ("a one-run or zero-based statistic after a finite change", l)
assert rels == sorted(rels, reverse=True), rels
PY

# not output directories
"$P" compare "$T/r1100" "$T/nosuch" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "missing dir: exit $rc"
grep -q "$T/nosuch/config.json: cannot read" "$T/err" || fail "message: $(cat "$T/err")"
mkdir "$T/bad"; echo '[1,2' >"$T/bad/config.json"; cp "$T/r1100/stats.json" "$T/bad/"
"$P" compare "$T/r1100" "$T/bad" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "bad json: exit $rc"
grep -q "$T/bad/config.json:" "$T/err" || fail "bad json message: $(cat "$T/err")"
"$P" compare "$T/r1100" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "usage: exit $rc"
exit 0
