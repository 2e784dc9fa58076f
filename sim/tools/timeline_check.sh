#!/bin/sh
# make timeline-check: protsim timelines loaded into a real trace viewer
# (speedscope in headless Chromium, sim/tools/timeline_view.py): the
# default scenario, a racing script, an SNP guest program on 4 vCPUs in
# detailed mode, snp-boot.ini's guest on the KVM host, the conversions of
# tests/scripts/guest_snp.ps; and, as a control that the check can fail,
# a file whose spans do not nest, which must be refused.
# Usage: sh sim/tools/timeline_check.sh PROTSIM GUEST_DIR SPEEDSCOPE_INDEX_HTML
set -u
P=$1
G=$2
I=$3
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
G=$(cd "$G" && pwd) || exit 2

"$P" run workloads/scenarios/default.ini --out "$T/r" -q --timeline "$T/default.json" || exit 2
"$P" script tests/scripts/rmp_race_pvalidate.ps --timeline "$T/race.json" >/dev/null || exit 2
"$P" exec "$G/smp.elf" --set vm.vcpus=4 --set vm.type=snp --mode detailed \
	--timeline "$T/smp.json" >/dev/null || exit 2
"$P" run workloads/scenarios/snp-boot.ini --set kvm.elf="$G/boot.elf" --set kvm.mem_size=8m \
	--set cpu.mode=detailed --out "$T/k" -q --timeline "$T/snp-boot.json" || exit 2
"$P" script tests/scripts/guest_snp.ps --timeline "$T/guest_snp.json" >/dev/null || exit 2
python3 sim/tools/timeline_view.py "$I" "$T/default.json" "$T/race.json" "$T/smp.json" \
	"$T/snp-boot.json" "$T/guest_snp.json" || exit 1

# the control: two spans of one track that overlap without nesting
cat >"$T/bad.json" <<'JSON'
{"traceEvents":[{"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"cpu0"}},
{"ph":"X","pid":1,"tid":0,"ts":100,"dur":200,"cat":"op","name":"a"},
{"ph":"X","pid":1,"tid":0,"ts":200,"dur":200,"cat":"op","name":"b"}]}
JSON
if python3 sim/tools/timeline_view.py "$I" "$T/bad.json" >"$T/out" 2>&1; then
	echo "FAIL: the viewer check passed a timeline whose spans do not nest" >&2
	exit 1
fi
grep -q "warning" "$T/out" || { echo "FAIL: control: $(cat "$T/out")" >&2; exit 1; }
echo "timeline-check: ok (the control with overlapping spans was refused: $(grep -c warning "$T/out") warnings)"
