/*
 * heki_guest.h - the guest kernel's side of the three CR-protection
 * designs (docs/cr-protection.md), shared by heki_attack.c and
 * heki_kexec.c.  At the end of boot the kernel protects itself with
 * whatever the host offers, probing as Linux's kvm_init_heki does:
 *
 *   KVM_HC_LOCK_CR_UPDATE version query answers >= 1: a Heki host (KVM
 *     itself, design kvm, or the VMM behind KVM_EXIT_HYPERCALL, design
 *     vmm): pin CR0.WP, then CR4 & cr4_pinned_mask (kvm_lock_crs), then
 *     ask for memory protection (KVM_HC_PROTECT_MEMORY: KVM has it, the
 *     VMM's design does not);
 *   else a VTL call answers 0: the kernel runs in VTL0 under a VTL1
 *     (design vtl): it hands VTL1 its layout (text r+x supervisor,
 *     rodata r, data rw), asks it to intercept CR0.WP and CR4.SMEP/SMAP,
 *     and locks (end of boot: VTL1 takes no more requests);
 *   else nothing (design none).
 *
 * The kernel runs in M mode with translation off (the guest's stage 1
 * is not what is tested): its text is written through the same GPA as
 * it is fetched, as an attacker with a writable alias would.
 */
#ifndef HEKI_GUEST_H
#define HEKI_GUEST_H

#include <stdint.h>
#include <stdio.h>

#include "protsim.h"

#define HC_LOCK_CR_UPDATE   13
#define LOCK_CR_VERSION     1
#define HC_PROTECT_MEMORY   14    /* protsim's simplified KVM_HC_PROTECT_MEMORY: gpa, size, perms */
#define HC_VTL_CALL         0x110
#define HC_VTL_KEXEC        0x111
#define HC_VTL_PROTECT      0x112
#define HC_VTL_INTERCEPT    0x113
#define HC_VTL_LOCK         0x114
#define VTL_R 1
#define VTL_W 2
#define VTL_X 4
#define CR4_UMIP     (1ul << 11)
#define CR4_FSGSBASE (1ul << 16)
#define CR4_CET      (1ul << 23)
#define CR4_PINNED   (CR4_SMEP | CR4_SMAP | CR4_UMIP | CR4_FSGSBASE | CR4_CET)

enum design { D_NONE, D_HEKI, D_VTL };
static const char *const design_names[] = { "none", "Heki pins", "VTL0 under VTL1" };

extern char __protsim_text_end[], __protsim_rodata_end[], __heap_end[];

static volatile unsigned long last_cause;

static void on_trap(struct protsim_frame *f)
{
	last_cause = f->mcause;
	f->mepc += protsim_insn_len(f->mepc);   /* skip the refused instruction */
}

#define PAGE_UP(x)   (((uintptr_t)(x) + 0xfff) & ~0xffful)

static enum design kernel_protect(void)
{
	/* text r-x up to its last page; rodata r-- on the pages it has alone; the rest rw- */
	uintptr_t base = 0x80000000ul, text = PAGE_UP(__protsim_text_end);
	uintptr_t ro = PAGE_UP(__protsim_rodata_end), end = PAGE_UP(__heap_end);
	long v;

	protsim_on_trap(on_trap);
	v = protsim_hypercall(HC_LOCK_CR_UPDATE, 0, 0, LOCK_CR_VERSION, 0);
	if (v >= 1) {
		long a = protsim_hypercall(HC_LOCK_CR_UPDATE, 0, CR0_WP, 0, 0);
		long b = protsim_hypercall(HC_LOCK_CR_UPDATE, 4, csr_read(CSR_CR4) & CR4_PINNED, 0, 0);
		long m;

		printf("kernel: Heki ABI %ld: pin CR0.WP -> %ld, pin CR4 -> %ld\n", v, a, b);
		/* mark_readonly(), then Heki's memory protection where the host has it */
		m = protsim_hypercall(HC_PROTECT_MEMORY, base, text - base, VTL_R | VTL_X, 0);
		if (m == 0) {
			if (ro > text)
				m |= protsim_hypercall(HC_PROTECT_MEMORY, text, ro - text, VTL_R, 0);
			else
				ro = text;
			m |= protsim_hypercall(HC_PROTECT_MEMORY, ro, end - ro, VTL_R | VTL_W, 0);
		}
		printf("kernel: Heki memory protection (text r-x, rodata r--, data rw-) -> %ld\n", m);
		return D_HEKI;
	}
	if (protsim_hypercall(HC_VTL_CALL, 0, 0, 0, 0) == 0) {
		long r = 0;

		r |= protsim_hypercall(HC_VTL_PROTECT, base, text - base, VTL_R | VTL_X, 0);
		if (ro > text)
			r |= protsim_hypercall(HC_VTL_PROTECT, text, ro - text, VTL_R, 0);
		else
			ro = text;
		r |= protsim_hypercall(HC_VTL_PROTECT, ro, end - ro, VTL_R | VTL_W, 0);
		r |= protsim_hypercall(HC_VTL_INTERCEPT, 0, CR0_WP, 0, 0);
		r |= protsim_hypercall(HC_VTL_INTERCEPT, 4, CR4_SMEP | CR4_SMAP, 0, 0);
		r |= protsim_hypercall(HC_VTL_LOCK, 0, 0, 0, 0);
		printf("kernel: VTL0 under VTL1: text 0x%lx-0x%lx r-x, rodata r--, data rw-; CR intercepts; lock -> %ld\n",
		       (unsigned long)base, (unsigned long)text, r);
		return D_VTL;
	}
	printf("kernel: no CR protection offered\n");
	return D_NONE;
}

/* Write @val to CR@cr; true when it took effect (no #GP, the register holds it). */
static int cr_write(unsigned cr, unsigned long val)
{
	last_cause = 0;
	if (cr == 0)
		csr_write(CSR_CR0, val);
	else
		csr_write(CSR_CR4, val);
	return last_cause == 0 && (cr == 0 ? csr_read(CSR_CR0) : csr_read(CSR_CR4)) == val;
}

#endif /* HEKI_GUEST_H */
