#!/bin/sh
# `protsim run workloads/scenarios/heki-attack.ini` and `heki-kexec.ini`
# under every design (heki.cr_protection=none|kvm|vmm|vtl;
# docs/cr-protection.md).  Checked: exit 0, the verdict of each run (the
# attack: everything gets through without protection, text patching
# still does with pins in KVM or the VMM, nothing does under VTL1; kexec:
# refused CR values under pins, done through VTL1 with an allowed image,
# refused by VTL1 otherwise; the VMM's block device writing kernel text
# in every design: the confused deputy), the design's machinery in the second
# summary line (pins, the VMM's filter, VTL calls), the VMM's log with
# the guest's console, byte-identical outputs for the same run twice, a
# bad heki.kexec_sha256 refused naming the key.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/heki.sh
set -u
P=${PROTSIM:-build/protsim}
G=$(cd "${GUEST_DIR:-build/guest}" && pwd) || exit 2
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

run() { # NAME SCENARIO PROGRAM DESIGN ARGS...
	n=$1 s=$2 e=$3 d=$4
	shift 4
	"$P" run "workloads/scenarios/$s.ini" --out "$T/$n" --set heki.elf="$G/$e.elf" \
		--set heki.cr_protection="$d" "$@" > "$T/$n.sum" 2> "$T/$n.err" ||
		{ cat "$T/$n.err" >&2; fail "$n: exit $?"; }
}
want() { # NAME PATTERN
	grep -q "$2" "$T/$1.sum" || { cat "$T/$1.sum" >&2; fail "$1: no line matching '$2'"; }
}

run a-none heki-attack heki_attack none
want a-none "cr_protection=none .*exited (code 15): attack succeeded: WP cleared SMEP cleared text patched; the VMM's device wrote kernel text"
run a-kvm heki-attack heki_attack kvm
want a-kvm "cr_protection=kvm .*exited (code 8): attack blocked (WP, SMEP, text); the VMM's device wrote kernel text (confused deputy)"
want a-kvm "CR writes refused 2, allowed 0; pins 0x10000/0x300000, VMM filter 0x0/0x0; VTL calls 0 (refusals 0), memory denials [1-9]"
run a-vmm heki-attack heki_attack vmm
want a-vmm "cr_protection=vmm .*exited (code 12): attack succeeded: text patched; the VMM's device wrote kernel text"
want a-vmm "to the VMM [1-9][0-9]*; CR writes refused 2, allowed 0; pins 0x0/0x0, VMM filter 0x10000/0x300000"
run a-vtl heki-attack heki_attack vtl
want a-vtl "cr_protection=vtl .*exited (code 8): attack blocked (WP, SMEP, text); the VMM's device wrote kernel text (confused deputy)"
want a-vtl "VTL calls [1-9][0-9]* (refusals 4), memory denials [1-9]"
grep -q "console: attacker: patch kernel text at 0x[0-9a-f]*: #GP" "$T/a-vtl/heki.log" ||
	fail "a-vtl: the console is not in heki.log"

run k-none heki-kexec heki_kexec none
want k-none "exited (code 0): kexec succeeded"
run k-kvm heki-kexec heki_kexec kvm
want k-kvm "exited (code 1): kexec failed"
run k-vmm heki-kexec heki_kexec vmm
want k-vmm "exited (code 1): kexec failed"
run k-vtl heki-kexec heki_kexec vtl
want k-vtl "exited (code 0): kexec succeeded"
want k-vtl "kexec ok 1 refused 0"
run k-vtl-deny heki-kexec heki_kexec vtl --set heki.kexec_sha256=
want k-vtl-deny "exited (code 2): kexec refused by VTL1"
want k-vtl-deny "kexec ok 0 refused 1"

# the designs cost what they do: a kexec through VTL1 pays its VTL calls and the hash
cyc() { sed -n 's/^heki: .*; \([0-9]*\) cycles, .*/\1/p' "$T/$1.sum"; }
[ "$(cyc k-none)" -lt "$(cyc k-vtl)" ] || fail "kexec: none ($(cyc k-none)) not cheaper than vtl ($(cyc k-vtl))"

# determinism
run again heki-attack heki_attack vtl
cmp -s "$T/a-vtl/stats.txt" "$T/again/stats.txt" || fail "stats.txt differs between two runs"

# a bad key
if "$P" run workloads/scenarios/heki-kexec.ini --out "$T/bad" --set heki.elf="$G/heki_kexec.elf" \
	--set heki.kexec_sha256=zz > /dev/null 2> "$T/bad.err"; then
	fail "a bad heki.kexec_sha256 was accepted"
fi
grep -q "heki.kexec_sha256" "$T/bad.err" || { cat "$T/bad.err" >&2; fail "the error does not name the key"; }
echo "heki: ok"
