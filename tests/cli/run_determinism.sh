#!/bin/sh
# `protsim run`: the same scenario and seed give byte-identical outputs;
# --seed and --set reach config.json.
# Run: PROTSIM=build/protsim sh tests/cli/run_determinism.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir "$T/scen"
cat >"$T/scen/det.ini" <<'INI'
[machine]
cpus = 2
mem = 64m
[workload]
script = det.ps   # relative to this file
INI
cat >"$T/scen/det.ps" <<'PS'
mem write pa=0x2000 value=7
cpu1 nop cycles=300
@400 cpu1 mem read pa=0x2000
expect OK value=7
PS

for d in a b; do
	"$P" run "$T/scen/det.ini" --seed 7 --out "$T/$d" --quiet || fail "run $d exit $?"
done
for f in stats.json stats.txt config.json workload.log; do
	[ -f "$T/a/$f" ] || fail "missing $f"
	cmp -s "$T/a/$f" "$T/b/$f" || fail "$f differs between two identical runs"
done
grep -q '"engine.seed": 7,' "$T/a/config.json" || fail "--seed not in config.json"
grep -q '"machine.cpus": 2,' "$T/a/config.json" || fail "scenario value not in config.json"

"$P" run "$T/scen/det.ini" --set machine.cpus=3 --out "$T/c" --quiet || fail "run c exit $?"
grep -q '"machine.cpus": 3,' "$T/c/config.json" || fail "--set does not beat the scenario"

# The summary goes to stdout unless --quiet; nothing else does.
"$P" run "$T/scen/det.ini" --out "$T/d" >"$T/sum" || fail "run d exit $?"
grep -q '^  workload   .*det.ps: passed$' "$T/sum" || fail "summary: $(cat "$T/sum")"
[ -s "$T/d/workload.log" ] || fail "workload.log empty"
echo "run_determinism: ok"
