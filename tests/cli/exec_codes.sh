#!/bin/sh
# protsim exec exit codes: the guest's code 0..119 passes through, every
# other outcome has its own code in 120..127 (docs/guest-abi.md), so a guest
# exiting 1 or 2 is not mistaken for bad usage; the default instruction
# limit stops a program that never ends.  The guests are assembled here
# (riscv64-unknown-elf-gcc, as `make guest` uses; GUEST_CC overrides).
# Run: PROTSIM=build/protsim sh tests/cli/exec_codes.sh
set -u
P=${PROTSIM:-build/protsim}
CC=${GUEST_CC:-riscv64-unknown-elf-gcc}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v "$CC" >/dev/null || fail "$CC not found (make deps installs it)"

# guest NAME BODY: a bare program with the HTIF symbols; BODY is assembly.
guest() {
	printf '\t.text\n\t.globl _start\n_start:\n%s\n' "$2" >"$T/$1.S"
	printf '\t.section .tohost, "aw"\n\t.align 3\n\t.globl tohost\ntohost: .dword 0\n' >>"$T/$1.S"
	printf '\t.globl fromhost\nfromhost: .dword 0\n' >>"$T/$1.S"
	"$CC" -march=rv64imac -mabi=lp64 -mcmodel=medany -nostdlib -nostartfiles -static \
		-Wl,-N -Wl,-Ttext=0x80000000 -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-o "$T/$1.elf" "$T/$1.S" || fail "cannot assemble $1"
}

# An HTIF exit with CODE: tohost = CODE << 1 | 1.
for code in 0 1 2 119 120 121 200 255 4096; do
	guest "exit$code" "	li a0, ($code << 1) | 1
	la t0, tohost
	sd a0, 0(t0)
1:	j 1b"
done
guest loop "1:	j 1b"
guest wfi "1:	wfi
	j 1b"
# GHCB MSR protocol terminate (0x100), reason code 7 in bits 23:16, via VMGEXIT
guest term "	li a0, (7 << 16) | 0x100
	.insn r 0x0b, 0, 0x03, x0, x0, x0
1:	j 1b"

# expect NAME RC LINE ARGS...: exit RC and LINE a whole line of stderr ("": stderr empty)
expect() {
	name=$1 want=$2 msg=$3; shift 3
	"$P" exec "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "$name: exit $rc, want $want: $(cat "$T/err")"
	if [ -z "$msg" ]; then
		[ -s "$T/err" ] && fail "$name: stderr '$(cat "$T/err")', want nothing"
	else
		grep -qxF -- "$msg" "$T/err" || fail "$name: stderr '$(cat "$T/err")', want a line '$msg'"
	fi
	return 0
}

# The guest's own codes 0..119: passed through, nothing on stderr.
for code in 0 1 2 119; do
	expect "exit $code" $code "" "$T/exit$code.elf"
done
# Codes a guest may use but protsim keeps: 120, with the real code on stderr.
for code in 120 121 200 255 4096; do
	expect "exit $code" 120 \
		"protsim: $T/exit$code.elf: the guest exited with code $code (outside 0..119: exit status 120)" \
		"$T/exit$code.elf"
done
expect limit 124 \
	"protsim: $T/loop.elf: instruction limit reached (1000 instructions; --max-insns N to change it, 0 for none)" \
	"$T/loop.elf" --max-insns 1000
expect halted 125 "protsim: $T/wfi.elf: every vCPU is halted (WFI with no wake-up source)" "$T/wfi.elf"
expect killed 126 "protsim: $T/term.elf: VM stopped by the hypervisor (code 7)" "$T/term.elf"
# Bad usage and bad input: 121 and 122, never a code the guest could give.
expect usage 121 "protsim exec: unknown option '--bogus'" "$T/exit0.elf" --bogus
expect input 122 "protsim: --set: vm.vcpus: must be between 1 and 64 (got '0')" "$T/exit0.elf" --set vm.vcpus=0
# The console cannot be written: 123 (stdout is /dev/full).
"$P" exec "${GUEST_DIR:-build/guest}/hello.elf" >/dev/full 2>"$T/err"
rc=$?
[ "$rc" = 123 ] || fail "stdout /dev/full: exit $rc, want 123 (make guest builds hello.elf): $(cat "$T/err")"
grep -q "cannot write the console output to standard output$" "$T/err" || fail "/dev/full message"

# A program that never ends stops at the default limit (10^9 instructions).
expect default-limit 124 \
	"protsim: $T/loop.elf: instruction limit reached (1000000000 instructions; --max-insns N to change it, 0 for none)" \
	"$T/loop.elf"
echo "exec_codes: ok"
