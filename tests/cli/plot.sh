#!/bin/sh
# `protsim plot CSV --x COL --y COL [--by COL]`: PNG and SVG from a
# sweep's CSV (gnuplot), one line per --by value, rows without numbers
# left out and counted, a bar chart for a non-numeric X; a missing column, a malformed row and missing
# axes are errors naming the file, the row or the column.
# Run: PROTSIM=build/protsim sh tests/cli/plot.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$T/s.csv" <<'CSV'
point,status,error,grid.a,grid.b,y
0,0,,1,x,10
1,0,,2,x,20
2,0,,1,y,15
3,failed,"no run.json, see its .log",2,y,
4,0,,3,x,25
CSV
"$P" plot "$T/s.csv" --x grid.a --y y --by grid.b >"$T/out" || fail "plot exit $?"
grep -q "^plot: 4 points, 1 rows without numbers left out: $T/s.png $T/s.svg$" "$T/out" ||
	fail "message: $(cat "$T/out")"
head -c 8 "$T/s.png" | od -An -c | grep -q 'P   N   G' || fail "not a PNG"
grep -q '<svg' "$T/s.svg" || fail "not an SVG"
grep -q 'grid.b=x' "$T/s.svg" && grep -q 'grid.b=y' "$T/s.svg" || fail "one line per --by value"
# the data gnuplot drew: line x sorted by x, then line y
[ "$(tr '\n' ' ' <"$T/s.dat")" = "1 10 2 20 3 25   1 15 " ] || fail "data: $(cat "$T/s.dat")"
"$P" plot "$T/s.csv" --x grid.a --y y --out "$T/one" >/dev/null || fail "--out exit $?"
[ -s "$T/one.png" ] && [ -s "$T/one.svg" ] || fail "--out files"

# a non-numeric X (a benchmark's figure names): horizontal bars, categories
# in their first row's order, one bar per --by value next to each other
cat >"$T/b.csv" <<'CSV'
figure,build,op/s
"walk, 4 refs",old,100
tlb hit,old,400
"walk, 4 refs",new,120
tlb hit,new,
CSV
"$P" plot "$T/b.csv" --x figure --y op/s --by build >"$T/out" || fail "bars exit $?"
grep -q "^plot: 3 bars (2 categories of 'figure'), 1 rows without numbers left out: $T/b.png $T/b.svg$" \
	"$T/out" || fail "bars message: $(cat "$T/out")"
[ "$(tr '\n' ' ' <"$T/b.dat")" = "-0.2 100 0.8 400   0.2 120 " ] ||
	fail "bars data: $(cat "$T/b.dat")"
grep -q 'walk, 4 refs' "$T/b.svg" && grep -q 'build=new' "$T/b.svg" || fail "bars: labels or key"
head -c 8 "$T/b.png" | od -An -c | grep -q 'P   N   G' || fail "bars: not a PNG"

# errors
"$P" plot "$T/s.csv" --x grid.a --y nope 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no column 'nope'" "$T/err" || fail "missing column: $rc $(cat "$T/err")"
printf 'a,b\n1,2,3\n' >"$T/bad.csv"
"$P" plot "$T/bad.csv" --x a --y b 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "bad.csv:2: 3 fields, the header has 2" "$T/err" || fail "bad row: $rc $(cat "$T/err")"
"$P" plot "$T/s.csv" --x grid.a 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "no --y: exit $rc"
"$P" plot "$T/nosuch.csv" --x a --y b 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "nosuch.csv: cannot read" "$T/err" || fail "no file: $rc"
exit 0
