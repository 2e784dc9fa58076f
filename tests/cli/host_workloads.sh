#!/bin/sh
# host_workloads.sh - the host-strategy workloads (docs/strategies.md)
# under every strategy: each run passes (the invariant checker is on in
# the scenarios: stack.check=1), prints the per-strategy summary line, and
# gives the outcome docs/strategies.md's table reports for it.
#   PROTSIM=build/protsim sh tests/cli/host_workloads.sh
set -u
: "${PROTSIM:?set PROTSIM to the protsim binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/host_wl.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
fail=0
n=0

# run WORKLOAD STRATEGY [--set ...]: the run's directory in $d
run() {
	w=$1 s=$2
	shift 2
	n=$((n + 1))
	d=$tmp/$w.$s.$n
	if ! "$PROTSIM" run "workloads/scenarios/$w.ini" --set host.rmp_fault="$s" "$@" --out "$d" \
		> "$d.sum" 2>&1; then
		echo "FAIL $w under $s: exit $?"
		tail -5 "$d.sum" | sed 's/^/    /'
		fail=$((fail + 1))
		return 1
	fi
	if ! grep -q "^host: strategy $s: " "$d.sum"; then
		echo "FAIL $w under $s: no summary line"
		fail=$((fail + 1))
		return 1
	fi
}
stat() { awk -v k="$1" '$1 == k { print $2 }' "$d/stats.txt"; }
sum() { awk -v p="$1" '$1 ~ p { s += $2 } END { print s + 0 }' "$d/stats.txt"; }
out() {   # VMs killed or left without service
	awk '$1 ~ /^vm[0-9]+\.host\.(killed|vmm_dead|denied)$/ && $2 > 0 { split($1, a, "."); v[a[1]] = 1 }
	     END { c = 0; for (k in v) c++; print c }' "$d/stats.txt"
}
want() {   # WHAT GOT EXPECTED
	if [ "$2" != "$3" ]; then
		echo "FAIL $w under $s: $1 = $2, expected $3"
		fail=$((fail + 1))
	fi
}

for s in oops sigbus force_unassign convert kill_guest; do
	for w in snp-churn snp-multi snp-virtio snp-kexec; do
		run $w $s || continue
		case $w.$s in
		snp-churn.oops | snp-churn.sigbus)
			want oopses "$(stat host.kernel.oops)" 16
			want "#VC" "$(grep -c '#VC' "$d/workload.log")" 0 ;;
		snp-churn.force_unassign | snp-churn.convert)
			want converted "$(stat host.kernel.converted)" 16
			want "#VC" "$(grep -c '#VC' "$d/workload.log")" 16 ;;
		snp-churn.kill_guest)
			want "VMs killed" "$(stat vm1.host.killed)" 1 ;;
		snp-multi.oops | snp-multi.sigbus | snp-multi.force_unassign)
			want "daemon SIGBUS" "$(stat host.daemon.sigbus)" 1
			want "VMs out" "$(out)" 3 ;;
		snp-multi.convert)
			want "VMs out" "$(out)" 0 ;;
		snp-multi.kill_guest)
			want "VMs out" "$(out)" 1
			want "VM 3 killed" "$(stat vm3.host.killed)" 1 ;;
		snp-virtio.kill_guest)
			want "VMs out" "$(out)" 1
			want "VM 2 killed" "$(stat vm2.host.killed)" 1 ;;
		snp-virtio.*)
			want "VMs out" "$(out)" 0 ;;
		snp-kexec.*)
			want "kexec faults" "$(stat host.kexec.faults)" 977
			want "kexec conversions" "$(stat host.kexec.converted)" 975 ;;
		esac
	done
done
# gmem keeps private memory out of the daemon's mapping: no fault at all
run snp-multi oops --set snp.backing=gmem && want "RMP faults" "$(sum '^host\.(kernel|vmm|daemon)\.faults$')" 0
# the kexec conversion strategies
run snp-kexec oops --set host.kexec_convert=eager && {
	want scanned "$(stat host.kexec.scanned)" 261116
	want "OOPS requests" "$(grep -c OOPS "$d/workload.log")" 2
}
run snp-kexec oops --set host.kexec_convert=none && want "OOPS requests" "$(grep -c OOPS "$d/workload.log")" 17

echo "host_workloads: $n runs, $fail failed"
[ "$fail" -eq 0 ]
