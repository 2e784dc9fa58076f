#!/bin/sh
# host_strategies.sh - the host RMP-fault strategies (host.rmp_fault,
# docs/strategies.md), table-driven: every strategy against every page
# state a host store can meet -- a shared page, an assigned 4K page, a page
# of an assigned 2M entry, an immutable page, the VMSA of a vCPU running in
# guest mode on another CPU, and a page whose entry lock a racing guest
# PVALIDATE holds -- asserting the store's result, the page's RMP state
# after (rmpread / vm page), the guest's next access, and the kicks and
# FAIL_INUSE retries the strategy spent (host.kernel.* statistics).
# stack.check=1: the invariant checker runs after every operation.
#
#   PROTSIM=build/protsim sh tests/cli/host_strategies.sh
set -u
: "${PROTSIM:?set PROTSIM to the protsim binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/host_strat.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
fail=0
n=0

# The machine: VM 1 (2 vCPUs, 2M guest_memfd folios): 0x1000 launched
# (assigned 4K, validated), 0x2000 prepared (assigned, not validated),
# 0x20000 shared, [0x200000, 0x400000) accepted as one 2M RMP entry, and
# an immutable page of ASID 1 at 0x3000000 (a Pre-Guest page).
base() {
	cat <<'B'
machine mem=1g cpus=2 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m
vm create vm=1 type=snp vcpus=2
gmem create vm=1 fd=3 size=8m flags=1
vm memslot vm=1 slot=0 gpa=0 size=8m gmem=3
vm cap vm=1 cap=exit_hypercall arg0=0x1000
snp launch_start vm=1
vm attr vm=1 gpa=0 size=64k private=1
snp launch_update vm=1 gpa=0 size=8k
snp launch_finish vm=1
guest access vm=1 gpa=0x1000 kind=read
guest access vm=1 gpa=0x2000 kind=write
guest access vm=1 gpa=0x20000 kind=write private=0
guest accept vm=1 gpa=0x200000 size=2m
rmpupdate spa=0x3000000 assigned=1 asid=1 gpa=0x700000 immutable=1
B
}

# The cases: the store (and what sets the race up), then the state checked.
store() {
	case $1 in
	shared) echo "@2000000 cpu0 host write vm=1 gpa=0x20000" ;;
	a4k) echo "@2000000 cpu0 host write vm=1 gpa=0x1000" ;;
	a2m) echo "@2000000 cpu0 host write vm=1 gpa=0x201000" ;;
	immutable) echo "@2000000 cpu0 host write pa=0x3000000" ;;
	vmsa) printf '%s\n%s\n%s\n' "@1900000 cpu1 vmrun asid=1 vmsa=0x1003000 gpa=0xfffffffff000 vmcb=0x2f00000" \
		"expect OK" "@2000000 cpu0 host write pa=0x1003000" ;;
	locked) printf '%s\n%s\n' "@2000000 cpu1 guest pvalidate vm=1 gpa=0x2000 vcpu=1" \
		"@2004000 cpu0 host write vm=1 gpa=0x2000" ;;
	esac
}
after() {
	case $1 in
	shared) echo "vm page vm=1 gpa=0x20000" ;;
	a4k) echo "vm page vm=1 gpa=0x1000" ;;
	a2m) echo "vm page vm=1 gpa=0x201000" ;;
	immutable) echo "rmpread spa=0x3000000" ;;
	vmsa) echo "rmpread spa=0x1003000" ;;
	locked) echo "vm page vm=1 gpa=0x2000" ;;
	esac
}
next() {   # the guest's next step on the page (- : none)
	case $1 in
	a4k) echo "guest access vm=1 gpa=0x1000 kind=read" ;;
	a2m) echo "guest access vm=1 gpa=0x202000 kind=read" ;;
	vmsa) echo "guest access vm=1 gpa=0x1000 kind=read vcpu=1" ;;
	locked) echo "guest access vm=1 gpa=0x2000 kind=read vcpu=1" ;;
	*) echo - ;;
	esac
}

# check CASE STRATEGY 'STORE RESULT' 'STATE RESULT' 'NEXT RESULT' KICKS RETRIES
check() {
	n=$((n + 1))
	f=$tmp/$1_$2.ps
	{
		base
		store "$1"
		echo "expect $3"
		after "$1"
		echo "expect $4"
		nx=$(next "$1")
		if [ "$nx" != - ]; then
			echo "$nx"
			echo "expect $5"
		fi
	} >"$f"
	if ! "$PROTSIM" script "$f" --set host.rmp_fault="$2" --out "$tmp/o_$1_$2" >"$tmp/out" 2>&1; then
		echo "FAIL $1 under $2:"
		sed 's/^/    /' "$tmp/out" | tail -5
		fail=$((fail + 1))
		return
	fi
	k=$(awk '$1 == "host.kernel.kicks" { print $2 }' "$tmp/o_$1_$2/stats.txt")
	r=$(awk '$1 == "host.kernel.retries" { print $2 }' "$tmp/o_$1_$2/stats.txt")
	if [ "$k" != "$6" ] || [ "$r" != "$7" ]; then
		echo "FAIL $1 under $2: kicks=$k retries=$r, expected kicks=$6 retries=$7"
		fail=$((fail + 1))
	fi
}

SHARED='OK private=0 mapped=1 spa=0x1420000 assigned=0 size=4k asid=0 gpa=0x0 validated=0'
A4K_KEPT='OK private=1 mapped=1 spa=0x1201000 assigned=1 size=4k asid=1 gpa=0x1000 validated=1'
A4K_CONV='OK private=1 mapped=0 spa=0x1201000 assigned=0 size=4k asid=0 gpa=0x0 validated=0'
A2M_KEPT='OK private=1 mapped=1 spa=0x1801000 assigned=1 size=2m asid=1 gpa=0x201000 validated=1'
A2M_CONV='OK private=1 mapped=0 spa=0x1801000 assigned=0 size=4k asid=0 gpa=0x0 validated=0'
IMM='SUCCESS assigned=1 size=4k immutable=1 asid=1 gpa=0x700000 validated=0 vmsa=0 perms1=none perms2=none perms3=none hpage=1'
VMSA_KEPT='SUCCESS assigned=1 size=4k immutable=0 asid=1 gpa=0xfffffffff000 validated=1 vmsa=1 perms1=none perms2=none perms3=none hpage=1'
VMSA_CONV='SUCCESS assigned=0 size=4k immutable=0 asid=0 gpa=0x0 validated=0 vmsa=0 perms1=none perms2=none perms3=none hpage=1'
LK_KEPT='OK private=1 mapped=1 spa=0x1202000 assigned=1 size=4k asid=1 gpa=0x2000 validated=1'
LK_CONV='OK private=1 mapped=0 spa=0x1202000 assigned=0 size=4k asid=0 gpa=0x0 validated=0'
GONE1='OK private=1 mapped=0'
OKW='OK converted=0 killed=0'
CONV='OK converted=1 killed=0'
KILL='OK converted=0 killed=1'
VC='#VC(0x404) exits=1 user_exits=0'
RD='OK exits=0 user_exits=0'

for s in oops sigbus force_unassign convert kill_guest; do
	check shared $s "$OKW" "$SHARED" - 0 0
done
# an assigned 4K page: upstream and F1 oops (kernel fault); F2 and F3 convert
# it, and the guest's next access takes an #NPF, KVM prepares the page again
# (assigned, not validated): #VC(0x404); F4 kills the VM
check a4k oops "OOPS spa=0x1201000 panic=0" "$A4K_KEPT" "$RD spa=0x1201000" 0 0
check a4k sigbus "OOPS spa=0x1201000 panic=0" "$A4K_KEPT" "$RD spa=0x1201000" 0 0
check a4k force_unassign "$CONV" "$A4K_CONV" "$VC" 0 0
check a4k convert "$CONV" "$A4K_CONV" "$VC" 0 0
check a4k kill_guest "$KILL" "$GONE1" KILLED 2 0
# a page of a 2M entry: PSMASH, then the 4K page alone goes; its neighbour
# stays assigned and validated (4K now)
check a2m oops "OOPS spa=0x1801000 panic=0" "$A2M_KEPT" "$RD spa=0x1802000" 0 0
check a2m sigbus "OOPS spa=0x1801000 panic=0" "$A2M_KEPT" "$RD spa=0x1802000" 0 0
check a2m force_unassign "$CONV" "$A2M_CONV" "OK exits=1 user_exits=0 spa=0x1802000" 0 0
check a2m convert "$CONV" "$A2M_CONV" "OK exits=1 user_exits=0 spa=0x1802000" 0 0
check a2m kill_guest "$KILL" "$GONE1" KILLED 2 0
# an immutable page cannot be converted or reclaimed: every strategy oopses
# (F4 kills the VM first, in vain)
for s in oops sigbus force_unassign convert; do
	check immutable $s "OOPS spa=0x3000000 panic=0" "$IMM" - 0 0
done
check immutable kill_guest "OOPS spa=0x3000000 panic=0" "$IMM" - 2 0
# the VMSA of vCPU 1 running on cpu1: RMPUPDATE is FAIL_INUSE until the
# vCPU is kicked out (F3: one kick, one retry); F2 has no kick: oops; the
# vCPU cannot run on a converted VMSA (VMRUN: VMEXIT_INVALID, the VMM stops the VM)
check vmsa oops "OOPS spa=0x1003000 panic=0" "$VMSA_KEPT" "$RD spa=0x1201000" 0 0
check vmsa sigbus "OOPS spa=0x1003000 panic=0" "$VMSA_KEPT" "$RD spa=0x1201000" 0 0
check vmsa force_unassign "OOPS spa=0x1003000 panic=0" "$VMSA_KEPT" "$RD spa=0x1201000" 0 0
check vmsa convert "$CONV" "$VMSA_CONV" "KILLED exit=fail_entry" 1 1
check vmsa kill_guest "$KILL" "$VMSA_CONV" KILLED 2 0
# a racing PVALIDATE on vCPU 1 holds the entry lock: F3 kicks the VM's
# vCPUs and retries; F2 gives up (oops)
check locked oops "OOPS spa=0x1202000 panic=0" "$LK_KEPT" "$RD spa=0x1202000" 0 0
check locked sigbus "OOPS spa=0x1202000 panic=0" "$LK_KEPT" "$RD spa=0x1202000" 0 0
check locked force_unassign "OOPS spa=0x1202000 panic=0" "$LK_KEPT" "$RD spa=0x1202000" 0 0
check locked convert "$CONV" "$LK_CONV" "$VC" 2 1
check locked kill_guest "$KILL" "$GONE1" KILLED 2 0

# User writers under snp.backing=legacy (the VMM's pages are the private
# memory): VM 1's VMM stores into a shared page whose 2M host mapping
# holds a private 4K page, the shared daemon into a private page, then the
# daemon serves VM 2, VM 1's VMM stores again, the guest reads its page.
# A process a strategy kills stops serving: the daemon's death refuses VM
# 2's request (ESRCH); the VMM's death stops VM 1.
legacy() {
	n=$((n + 1))
	f=$tmp/legacy_$1.ps
	cat >"$f" <<L
machine mem=1g cpus=2 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m snp.backing=legacy
vm create vm=1 type=snp
vm memslot vm=1 slot=0 gpa=0 size=8m
snp launch_start vm=1
snp launch_update vm=1 gpa=0 size=8k
snp launch_finish vm=1
vm create vm=2 type=snp
vm memslot vm=2 slot=0 gpa=0 size=4m
snp launch_start vm=2
snp launch_finish vm=2
guest accept vm=1 gpa=0x400000 size=8k via=msr
host write vm=1 gpa=0x402000 by=vmm
expect $2
host write vm=1 gpa=0x401000 by=daemon
expect $3
host write vm=2 gpa=0x1000 by=daemon
expect $4
host write vm=1 gpa=0x402000 by=vmm
expect $5
guest access vm=1 gpa=0x401000 kind=read
expect $6
vm page vm=1 gpa=0x401000
expect $7
L
	if ! "$PROTSIM" script "$f" --set host.rmp_fault="$1" --out "$tmp/lo_$1" >"$tmp/out" 2>&1; then
		echo "FAIL legacy under $1:"
		sed 's/^/    /' "$tmp/out" | tail -5
		fail=$((fail + 1))
		return
	fi
	d=$(awk '$1 == "vm2.host.denied" { print $2 }' "$tmp/lo_$1/stats.txt")
	if [ "${d:-0}" != "$8" ]; then
		echo "FAIL legacy under $1: vm2.host.denied=${d:-0}, expected $8"
		fail=$((fail + 1))
	fi
}
P_KEPT='OK private=0 mapped=1 spa=0x1401000 assigned=1 size=4k asid=1 gpa=0x401000 validated=1'
P_CONV='OK private=0 mapped=1 spa=0x1401000 assigned=0 size=4k asid=0 gpa=0x0 validated=0'
SB2='SIGBUS spa=0x1402000'
SB1='SIGBUS spa=0x1401000'
legacy oops "$SB2" "$SB1" 'ERROR(ESRCH)' 'ERROR(ESRCH)' KILLED "$P_KEPT" 1
legacy sigbus "$OKW" "$SB1" 'ERROR(ESRCH)' "$OKW" "$RD spa=0x1401000" "$P_KEPT" 1
legacy force_unassign "$SB2" "$SB1" 'ERROR(ESRCH)' 'ERROR(ESRCH)' KILLED "$P_KEPT" 1
# legacy KVM has no record of which pages are private: a converted page
# keeps faulting (the guest loops: ELOOP)
legacy convert "$OKW" "$CONV" "$OKW" "$OKW" 'ERROR(ELOOP) exits=64 user_exits=0' "$P_CONV" 0
legacy kill_guest "$OKW" "$KILL" "$OKW" "$OKW" KILLED "$P_CONV" 0

echo "host_strategies: $n cases, $fail failed"
[ "$fail" -eq 0 ]
