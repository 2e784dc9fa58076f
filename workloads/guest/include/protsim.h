/*
 * protsim.h - the guest SDK: HTIF console and exit, CSR access, protsim's
 * custom instructions (PVALIDATE, RMPADJUST, RMPQUERY, VMGEXIT, HYPERCALL)
 * and custom CSRs (CR0, CR4, GHCB MSR, #VC code, VMPL, SEV_STATUS).
 * The ABI is documented in docs/guest-abi.md.  Header-only (inline); the
 * HTIF symbols and the C trap entry live in lib/.
 */
#ifndef PROTSIM_GUEST_H
#define PROTSIM_GUEST_H

#include <stdint.h>

/* HTIF mailboxes (lib/htif.c), found by the loader through the symbol table. */
extern volatile uint64_t tohost;
extern volatile uint64_t fromhost;

/* HTIF: device 1 (console) command 1 (putchar), as Spike and qemu -M spike do. */
static inline void protsim_putchar(char c)
{
	while (tohost)
		;
	tohost = (1ull << 56) | (1ull << 48) | (uint8_t)c;
}

static inline void protsim_puts(const char *s)
{
	while (*s)
		protsim_putchar(*s++);
}

/*
 * a1 at entry: the GPA of the VMM's boot-parameters page, 0 if none.  Kept
 * by crt_snp.o (crt.S with -DPROTSIM_BOOT_ARG), the start-up of the guest
 * kernel library's programs (guest.mk).
 */
extern uint64_t protsim_boot_arg;

/* HTIF exit: device 0 command 0, payload (code << 1) | 1.  Never returns. */
__attribute__((noreturn)) void protsim_exit(int code);

/* ---- CSRs ---- */
#define PROTSIM_STR_(x) #x
#define PROTSIM_STR(x) PROTSIM_STR_(x)
#define csr_read(csr) ({ unsigned long v_; \
	__asm__ volatile("csrr %0, " PROTSIM_STR(csr) : "=r"(v_)); v_; })
#define csr_write(csr, val) __asm__ volatile("csrw " PROTSIM_STR(csr) ", %0" :: "r"((unsigned long)(val)) : "memory")
#define csr_set(csr, val) __asm__ volatile("csrs " PROTSIM_STR(csr) ", %0" :: "r"((unsigned long)(val)) : "memory")
#define csr_clear(csr, val) __asm__ volatile("csrc " PROTSIM_STR(csr) ", %0" :: "r"((unsigned long)(val)) : "memory")

/* protsim custom CSRs */
#define CSR_CR0        0x5c0
#define CSR_CR4        0x5c4
#define CSR_GHCB       0x5c8
#define CSR_VC_CODE    0xdc0
#define CSR_VMPL       0xdc1
#define CSR_SEV_STATUS 0xdc2

/* x86 bits that take effect on Sv39/Sv48 permission checks */
#define CR0_WP   (1ul << 16)
#define CR4_SMEP (1ul << 20)
#define CR4_SMAP (1ul << 21)

/* trap causes (mcause/scause) */
#define CAUSE_ILLEGAL      2
#define CAUSE_ECALL_S      9
#define CAUSE_LOAD_PAGE   13
#define CAUSE_STORE_PAGE  15
#define CAUSE_VC          24    /* #VC: error code in CSR vc_code, tval = GVA */
#define CAUSE_GP          25    /* #GP(0) */

/* RMP return codes (AMD APM values) */
#define RMP_SUCCESS           0
#define RMP_FAIL_INPUT        1
#define RMP_FAIL_PERMISSION   2
#define RMP_FAIL_INUSE        3
#define RMP_FAIL_SIZEMISMATCH 6
/* VMPL permission bits (RMPADJUST / RMPQUERY) */
#define RMP_PERM_R  0x01
#define RMP_PERM_W  0x02
#define RMP_PERM_XU 0x04
#define RMP_PERM_XS 0x08

/*
 * Custom-0 instructions with fixed registers (like the x86 originals):
 * inputs and outputs in a0..a4.
 */
#define PROTSIM_INSN(f7) ".insn r 0x0b, 0, " #f7 ", x0, x0, x0"

/* PVALIDATE: a0 = va, a1 = 1 for 2M, a2 = validate -> a0 = rc, a1 = CF (1: no change). */
static inline long protsim_pvalidate(uintptr_t va, int page_2m, int validate, int *cf)
{
	register unsigned long a0 __asm__("a0") = va;
	register unsigned long a1 __asm__("a1") = (unsigned long)page_2m;
	register unsigned long a2 __asm__("a2") = (unsigned long)validate;

	__asm__ volatile(PROTSIM_INSN(0) : "+r"(a0), "+r"(a1) : "r"(a2) : "memory");
	if (cf)
		*cf = (int)a1;
	return (long)a0;
}

/* RMPADJUST: a0 = va, a1 = 1 for 2M, a2 = target VMPL | perms << 8 | vmsa << 16 -> a0 = rc. */
static inline long protsim_rmpadjust(uintptr_t va, int page_2m, unsigned target, unsigned perms,
				     int vmsa)
{
	register unsigned long a0 __asm__("a0") = va;
	register unsigned long a1 __asm__("a1") = (unsigned long)page_2m;
	register unsigned long a2 __asm__("a2") =
		target | (unsigned long)perms << 8 | (unsigned long)(vmsa ? 1 : 0) << 16;

	__asm__ volatile(PROTSIM_INSN(1) : "+r"(a0) : "r"(a1), "r"(a2) : "memory");
	return (long)a0;
}

/* RMPQUERY: a0 = va -> a0 = rc, a1 = 1 if a 2M entry, a2 = perms VMPL1 | VMPL2 << 8 | VMPL3 << 16. */
static inline long protsim_rmpquery(uintptr_t va, int *page_2m, unsigned long *perms)
{
	register unsigned long a0 __asm__("a0") = va;
	register unsigned long a1 __asm__("a1") = 0;
	register unsigned long a2 __asm__("a2") = 0;

	__asm__ volatile(PROTSIM_INSN(2) : "+r"(a0), "+r"(a1), "+r"(a2) :: "memory");
	if (page_2m)
		*page_2m = (int)a1;
	if (perms)
		*perms = a2;
	return (long)a0;
}

/* VMGEXIT with the GHCB MSR protocol value in a0; returns the response (also in CSR ghcb). */
static inline unsigned long protsim_vmgexit(unsigned long ghcb_msr)
{
	register unsigned long a0 __asm__("a0") = ghcb_msr;

	__asm__ volatile(PROTSIM_INSN(3) : "+r"(a0) :: "memory");
	return a0;
}

/* HYPERCALL: a0 = nr, a1..a4 = arguments -> a0 = result. */
static inline long protsim_hypercall(unsigned long nr, unsigned long a, unsigned long b,
				     unsigned long c, unsigned long d)
{
	register unsigned long a0 __asm__("a0") = nr;
	register unsigned long a1 __asm__("a1") = a;
	register unsigned long a2 __asm__("a2") = b;
	register unsigned long a3 __asm__("a3") = c;
	register unsigned long a4 __asm__("a4") = d;

	__asm__ volatile(PROTSIM_INSN(4) : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a4) : "memory");
	return (long)a0;
}

/* ---- traps (lib/trap.S) ---- */

/* Registers saved by the C trap entry; the handler may change them (and mepc). */
struct protsim_frame {
	unsigned long x[32];
	unsigned long mepc, mcause, mtval;
};

/* Route M-mode traps to @fn (NULL: back to the default, which reports and exits). */
void protsim_on_trap(void (*fn)(struct protsim_frame *f));

/* Length of the instruction at @pc (2 or 4), to step over it. */
static inline unsigned long protsim_insn_len(unsigned long pc)
{
	return ((*(volatile uint16_t *)pc) & 3) == 3 ? 4 : 2;
}

#endif /* PROTSIM_GUEST_H */
