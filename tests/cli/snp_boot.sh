#!/bin/sh
# `protsim run workloads/scenarios/snp-boot.ini`: an SNP guest (the boot
# program on the guest kernel library) boots on the KVM host.  Checked:
# exit 0 and the summary lines (exits by reason, exits to the VMM,
# conversions, RMP instructions) for eager and lazy acceptance, GHCB and
# MSR transports, 4K and 2M folios; the VMM's log has the program's
# console; lazy acceptance takes fewer cycles and RMPUPDATEs than eager;
# 2M folios with prefault take far fewer #NPFs; the same run twice gives
# byte-identical outputs; a program that fails fails the run; bad keys are
# refused naming the key.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/snp_boot.sh
set -u
P=${PROTSIM:-build/protsim}
G=$(cd "${GUEST_DIR:-build/guest}" && pwd) || exit 2
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
S=workloads/scenarios/snp-boot.ini

# the boot's cycles and a counter from a run's summary/stats
cycles() { sed -n 's/.*exited (code 0) after \([0-9]*\) cycles.*/\1/p' "$1"; }
stat() { awk -v k="$2" '$1 == k { print $2 }' "$1/stats.txt"; }

run() { # NAME ARGS...
	n=$1
	shift
	"$P" run "$S" --out "$T/$n" --set kvm.elf="$G/boot.elf" --set kvm.mem_size=64m "$@" \
		> "$T/$n.sum" 2> "$T/$n.err" || { cat "$T/$n.err" >&2; fail "$n: exit $?"; }
	grep -q "^stack: vm4 (SNP on the KVM host) .*boot.elf: exited (code 0) after" "$T/$n.sum" ||
		fail "$n: no boot line"
	grep -q "^stack: vm4 exits [0-9]*: npf [0-9]*, vmgexit [0-9]*, hypercall 0; to the VMM" \
		"$T/$n.sum" || fail "$n: no exits line"
	grep -q "^stack: vm4 conversions [0-9]* ([0-9]* pages), PSC .*RMP (machine): rmpupdate" \
		"$T/$n.sum" || fail "$n: no conversions line"
	grep -q "console: boot: touched 1024 KiB in 256 pages: read back ok" "$T/$n/kvm.log" ||
		fail "$n: the console is not in kvm.log"
}
run eager
run lazy --set kvm.accept=lazy
run msr --set kvm.psc=msr
run big --set gmem.page_size=2m --set snp.prefault=1
[ "$(cycles "$T/lazy.sum")" -lt "$(cycles "$T/eager.sum")" ] || fail "lazy not faster than eager"
[ "$(stat "$T/lazy" rmp.rmpupdate.success)" -lt "$(stat "$T/eager" rmp.rmpupdate.success)" ] ||
	fail "lazy made no fewer RMPUPDATEs"
[ "$(stat "$T/msr" vm4.psc_msr)" -gt "$(stat "$T/eager" vm4.psc_msr)" ] || fail "msr: no more MSR PSCs"
[ "$(stat "$T/big" vm4.exits.npf)" -lt 1000 ] && [ "$(stat "$T/eager" vm4.exits.npf)" -gt 10000 ] ||
	fail "2M folios with prefault: #NPFs $(stat "$T/big" vm4.exits.npf) vs $(stat "$T/eager" vm4.exits.npf)"
# determinism
run again
cmp -s "$T/eager/stats.txt" "$T/again/stats.txt" || fail "stats.txt differs between two runs"
cmp -s "$T/eager/kvm.log" "$T/again/kvm.log" || fail "kvm.log differs between two runs"
# a program that does not exit 0 fails the run
if "$P" run "$S" --out "$T/bad" --set kvm.elf="$G/hello.elf" --set kvm.mem_size=64m --set kvm.max_insns=100 \
	> "$T/bad.sum" 2> "$T/bad.err"; then
	fail "a run stopped at its limit succeeded"
fi
grep -q "protsim: kvm: .*hello.elf: limit" "$T/bad.err" || { cat "$T/bad.err"; fail "no limit message"; }
# bad keys
"$P" run "$S" --set kvm.accept=sometimes > /dev/null 2> "$T/k.err" && fail "bad kvm.accept accepted"
grep -q "kvm.accept" "$T/k.err" || fail "the message does not name kvm.accept"
"$P" run "$S" --set kvm.elf="$T/none.elf" --out "$T/none" > /dev/null 2> "$T/e.err" && fail "missing ELF accepted"
grep -q "none.elf" "$T/e.err" || { cat "$T/e.err"; fail "the message does not name the ELF"; }
echo "snp_boot: ok"
