#!/bin/sh
# make plots: each CSV `make bench` wrote into DIR (NN-SECTION-UNIT.csv:
# figure,UNIT,lo,hi,runs) as a bar chart, DIR/plots/NN-SECTION-UNIT.png
# and .svg, through `protsim plot` (gnuplot).  docs/sweeps.md "Plots".
# Usage: sh sim/tools/plots.sh PROTSIM DIR
set -u
P=$1
D=$2
n=0
mkdir -p "$D/plots" || exit 2
for f in "$D"/[0-9][0-9]-*.csv; do
	[ -f "$f" ] || continue
	# the value column's name: the second field of the header (a unit, no comma)
	y=$(head -n 1 "$f" | sed -e 's/^figure,//' -e 's/,lo,hi,runs$//' -e 's/^"\(.*\)"$/\1/')
	b=$(basename "$f" .csv)
	"$P" plot "$f" --x figure --y "$y" --out "$D/plots/$b" >/dev/null || exit 2
	n=$((n + 1))
done
if [ $n -eq 0 ]; then
	echo "make plots: no benchmark CSV in $D (make bench writes them)" >&2
	exit 2
fi
echo "plots: $n charts in $D/plots (PNG and SVG)"
