#!/bin/sh
# `protsim run workloads/scenarios/pkvm-share.ini` (docs/pkvm.md), with the
# ranged guest calls offered (pkvm.guest_range=1, default) and not (0):
# the workload passes both ways (every line checked by its expect lines,
# the invariant checker after each); the firmware jumps to the payload,
# which sees HAS_RANGE or not and finishes with nothing unexpected; the
# hypervisor's counters of the run are exact (the same pages donated,
# shared, unshared, relinquished, poisoned either way; 15 more guest calls
# without ranges); the summary names the hypervisor's pool.
# Run: PROTSIM=build/protsim sh tests/cli/pkvm_scenario.sh (after `make guest`)
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
stat() { # DIR NAME
	awk -v k="$2" '$1 == k { print $2 }' "$1/stats.txt"
}
want_stat() { # DIR NAME VALUE
	v=$(stat "$1" "$2")
	[ "$v" = "$3" ] || fail "$1: $2 = '$v', want $3"
}

for r in 1 0; do
	"$P" run workloads/scenarios/pkvm-share.ini --set pkvm.guest_range=$r --out "$T/r$r" \
		> "$T/r$r.sum" 2>&1 || fail "guest_range=$r: $(cat "$T/r$r.sum")"
	grep -q 'workload .*pkvm-share.ps: passed' "$T/r$r.sum" || fail "guest_range=$r: not passed"
	grep -q '^pkvm: hypervisor pool 512 pages at 0x1000000' "$T/r$r.sum" ||
		fail "guest_range=$r: no pkvm summary line: $(cat "$T/r$r.sum")"
	grep -q 'console: pvmfw: jumping to the payload at 0x80000000' "$T/r$r/workload.log" ||
		fail "guest_range=$r: the firmware did not jump"
	grep -q 'console: payload: done, 0 unexpected' "$T/r$r/workload.log" ||
		fail "guest_range=$r: the payload saw something unexpected"
	for k in donate_guest:32 guest_share:17 guest_unshare:17 guest_relinquish:2 poisoned:32 \
		 teardowns:2 vms:2 share_guest:1 injected:4; do
		want_stat "$T/r$r" "stack.pkvm.${k%%:*}" "${k#*:}"
	done
done
grep -q 'console: payload: ranged calls offered' "$T/r1/workload.log" || fail "range=1: not offered"
grep -q 'console: payload: ranged calls not offered' "$T/r0/workload.log" || fail "range=0: offered"
# guest hypercalls at EL2: the 16-page MEM_SHARE takes a call per page either way (each page is
# faulted in first: -EFAULT, the host maps it, the guest calls again), the MEM_UNSHARE one
# ranged call instead of 16
h1=$(stat "$T/r1" stack.pkvm.guest_hvc)
h0=$(stat "$T/r0" stack.pkvm.guest_hvc)
[ "$h0" -eq $((h1 + 15)) ] || fail "guest_hvc: $h1 with ranges, $h0 without (want 15 more)"
echo "pkvm scenario: ok"
