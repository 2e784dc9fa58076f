/*
 * crwrite.c - CR0.WP on Sv39 from S-mode.  Builds an identity map of RAM
 * with one read-only supervisor page, enters S-mode, writes the page
 * (store page fault while CR0.WP=1), clears CR0.WP and writes again.
 * (The page has D=1: protsim checks A/D as Svade, also when WP=0.)
 * Without an intercept the write to CR0 takes effect and the second
 * write succeeds; with --set vm.cr0_intercept=0x10000 (and the default
 * vm.cr_policy=deny) the hypervisor refuses the CR0 write with #GP and
 * the page stays read-only.
 */
#include <stdio.h>

#include "protsim.h"

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_A 0x40
#define PTE_D 0x80

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l0[512] __attribute__((aligned(4096)));
static volatile uint8_t ro_page[4096] __attribute__((aligned(4096)));
static volatile unsigned long last_cause;

static void on_trap(struct protsim_frame *f)
{
	if (f->mcause == CAUSE_ECALL_S)
		protsim_exit(0);
	last_cause = f->mcause;
	f->mepc += protsim_insn_len(f->mepc);   /* skip the faulting instruction */
}

static const char *outcome(void)
{
	switch (last_cause) {
	case 0: return "ok";
	case CAUSE_STORE_PAGE: return "store page fault";
	case CAUSE_GP: return "#GP (the hypervisor refused it)";
	default: return "unexpected trap";
	}
}

static void try_write(const char *what)
{
	last_cause = 0;
	ro_page[8] = 0x77;
	printf("S-mode write to the read-only page (%s): %s\n", what, outcome());
}

static void s_main(void)
{
	unsigned long cr0 = csr_read(CSR_CR0);

	printf("S-mode: cr0=0x%lx cr4=0x%lx\n", cr0, csr_read(CSR_CR4));
	try_write("WP=1");
	last_cause = 0;
	csr_write(CSR_CR0, cr0 & ~CR0_WP);
	printf("clear CR0.WP: %s, cr0=0x%lx\n", outcome(), csr_read(CSR_CR0));
	try_write(csr_read(CSR_CR0) & CR0_WP ? "WP=1" : "WP=0");
	printf("page byte = 0x%x\n", ro_page[8]);
	__asm__ volatile("ecall");
}

int main(void)
{
	uintptr_t ram = 0x80000000ul, ro = (uintptr_t)ro_page;

	if (ro - ram >= 0x200000) {
		printf("layout: the read-only page is not in the first 2M\n");
		return 3;
	}
	root[2] = ((uintptr_t)l1 >> 12) << 10 | PTE_V;
	l1[0] = ((uintptr_t)l0 >> 12) << 10 | PTE_V;
	for (int i = 1; i < 16; i++)
		l1[i] = ((ram + (uintptr_t)i * 0x200000) >> 12) << 10 |
			PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
	for (int i = 0; i < 512; i++) {
		uintptr_t pa = ram + (uintptr_t)i * 4096;

		l0[i] = (pa >> 12) << 10 |
			(pa == ro ? PTE_V | PTE_R | PTE_A | PTE_D : PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
	}
	protsim_on_trap(on_trap);
	csr_write(satp, (8ul << 60) | ((uintptr_t)root >> 12));
	__asm__ volatile("sfence.vma" ::: "memory");
	csr_write(mepc, (uintptr_t)s_main);
	csr_clear(mstatus, 3ul << 11);
	csr_set(mstatus, 1ul << 11);     /* MPP = S */
	__asm__ volatile("mret");
	return 4;
}
