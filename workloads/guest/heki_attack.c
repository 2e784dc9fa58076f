/*
 * heki_attack.c - a guest kernel that protects itself at the end of boot
 * (heki_guest.h: Heki pins, or VTL0 under VTL1, or nothing), then an
 * attacker with arbitrary kernel code execution: clear CR0.WP, clear
 * CR4.SMEP, patch kernel text.  Exit code: bit 0 WP cleared, bit 1 SMEP
 * cleared, bit 2 text patched (0: every step blocked).
 * workloads/scenarios/heki-attack.ini runs it under each design.
 */
#include "heki_guest.h"

/* the kernel function the attacker rewrites */
__attribute__((noinline, aligned(16))) int kernel_check_permission(int uid)
{
	return uid == 0;
}

int main(void)
{
	volatile uint32_t *text = (volatile uint32_t *)(uintptr_t)kernel_check_permission;
	unsigned long cr0, cr4;
	uint32_t before;
	enum design d;
	int wp, smep, patched;

	printf("kernel: booted, cr0=0x%lx cr4=0x%lx\n", csr_read(CSR_CR0), csr_read(CSR_CR4));
	d = kernel_protect();
	cr0 = csr_read(CSR_CR0);
	cr4 = csr_read(CSR_CR4);
	wp = cr_write(0, cr0 & ~CR0_WP);
	printf("attacker: clear CR0.WP: %s\n", wp ? "done" : last_cause == CAUSE_GP ? "#GP" : "no effect");
	smep = cr_write(4, cr4 & ~CR4_SMEP);
	printf("attacker: clear CR4.SMEP: %s\n", smep ? "done" : last_cause == CAUSE_GP ? "#GP" : "no effect");
	before = *text;
	last_cause = 0;
	*text = 0x00100513;   /* li a0, 1: every uid passes */
	patched = *text != before;
	printf("attacker: patch kernel text at 0x%lx: %s\n", (unsigned long)(uintptr_t)text,
	       patched ? "done" : last_cause == CAUSE_GP ? "#GP" : "no effect");
	printf("result (%s): attack %s\n", design_names[d],
	       !wp && !smep && !patched ? "blocked" : "succeeded");
	return wp | smep << 1 | patched << 2;
}
