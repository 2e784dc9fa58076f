/*
 * snp_arch.h - what the SNP guest library needs from the machine: the
 * instructions (PVALIDATE, VMGEXIT, HYPERCALL), SEV_STATUS, GPA <-> pointer,
 * barriers, TLB flush, turning paging on, halting.
 *
 * On RV64 (the guest) these are the SDK's inline instructions and an
 * identity map (M mode: VA = GPA).  On the host (the unit tests) they go
 * through struct snp_host_arch, which the test fills with a mock
 * hypervisor and a window of fake guest memory.
 */
#ifndef PROTSIM_SNP_ARCH_H
#define PROTSIM_SNP_ARCH_H

#include <stdint.h>

#if defined(__riscv)

#include "protsim.h"

static inline long snp_arch_pvalidate(uint64_t va, int big, int validate, int *cf)
{
	return protsim_pvalidate((uintptr_t)va, big, validate, cf);
}

static inline uint64_t snp_arch_vmgexit(uint64_t msr)
{
	return protsim_vmgexit(msr);
}

static inline long snp_arch_hypercall(unsigned long nr, unsigned long a, unsigned long b,
				      unsigned long c, unsigned long d)
{
	return protsim_hypercall(nr, a, b, c, d);
}

static inline uint64_t snp_arch_sev_status(void)
{
	return csr_read(CSR_SEV_STATUS);
}

static inline unsigned snp_arch_hartid(void)
{
	return (unsigned)csr_read(mhartid);
}

static inline void *snp_va(uint64_t gpa)
{
	return (void *)(uintptr_t)gpa;
}

/*
 * A shared page: through the C-bit alias (@alias = 1 << C-bit position:
 * translation off, docs/guest-abi.md) or, with the C-bit map, the identity
 * (the PTE's C-bit is clear).
 */
static inline void *snp_arch_shared(uint64_t gpa, uint64_t alias)
{
	return (void *)(uintptr_t)(gpa | alias);
}

static inline void snp_arch_mb(void)
{
	__asm__ volatile("fence rw, rw" ::: "memory");
}

static inline void snp_arch_flush_tlb(void)
{
	__asm__ volatile("sfence.vma" ::: "memory");
}

/*
 * Paging for data accesses in M mode: satp = Sv39 at @root, MPRV = 1 and
 * MPP = U, so loads and stores are translated as U-mode accesses (the map's
 * pages are U pages) and carry the PTE's C-bit; fetches and the trap
 * handler (MPP = M once a trap is taken) stay physical.  An mret back to M
 * leaves MPP = U, so the setting survives traps.
 */
static inline void snp_arch_paging_on(uint64_t root)
{
	csr_write(satp, (8ull << 60) | (root >> 12));
	snp_arch_flush_tlb();
	csr_clear(mstatus, 3ul << 11);           /* MPP = U */
	csr_set(mstatus, 1ul << 17);             /* MPRV */
}

__attribute__((noreturn)) static inline void snp_arch_halt(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

#else /* host build: the unit tests */

struct snp_host_arch {
	long (*pvalidate)(uint64_t va, int big, int validate, int *cf);
	uint64_t (*vmgexit)(uint64_t msr);
	long (*hypercall)(unsigned long nr, unsigned long a, unsigned long b, unsigned long c,
			  unsigned long d);
	void (*halt)(void);            /* must not return (the tests longjmp) */
	void (*paging_on)(uint64_t root);
	uint64_t sev_status;
	unsigned hart;                 /* the calling vCPU */
	uint8_t *mem;                  /* fake guest memory: GPAs [mem_base, mem_base + mem_size) */
	uint64_t mem_base, mem_size;
};
extern struct snp_host_arch snp_host;

void *snp_host_va(uint64_t gpa);   /* aborts outside the window */
/* a shared access (the test checks the page is shared at that moment) */
void *snp_host_shared(uint64_t gpa, uint64_t alias);

static inline long snp_arch_pvalidate(uint64_t va, int big, int validate, int *cf)
{
	return snp_host.pvalidate(va, big, validate, cf);
}

static inline uint64_t snp_arch_vmgexit(uint64_t msr)
{
	return snp_host.vmgexit(msr);
}

static inline long snp_arch_hypercall(unsigned long nr, unsigned long a, unsigned long b,
				      unsigned long c, unsigned long d)
{
	return snp_host.hypercall(nr, a, b, c, d);
}

static inline uint64_t snp_arch_sev_status(void)
{
	return snp_host.sev_status;
}

static inline unsigned snp_arch_hartid(void)
{
	return snp_host.hart;
}

static inline void *snp_va(uint64_t gpa)
{
	return snp_host_va(gpa);
}

static inline void *snp_arch_shared(uint64_t gpa, uint64_t alias)
{
	return snp_host_shared(gpa, alias);
}

static inline void snp_arch_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void snp_arch_flush_tlb(void)
{
}

static inline void snp_arch_paging_on(uint64_t root)
{
	if (snp_host.paging_on)
		snp_host.paging_on(root);
}

__attribute__((noreturn)) static inline void snp_arch_halt(void)
{
	snp_host.halt();
	__builtin_trap();
}

#endif

#endif /* PROTSIM_SNP_ARCH_H */
