/*
 * cpu_prot.h - the protection side of the hart's memory path (internal
 * to cpu/): guest stage 1 with x86 WP/SMEP/SMAP semantics, the GPA ->
 * SPA step through stage 2 and the RMP, devices.
 */
#ifndef PROTSIM_CPU_PROT_H
#define PROTSIM_CPU_PROT_H

#include "cpu/cpu_int.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

/* The result of translating one virtual address. */
struct rv_xl {
	uint64_t va;          /* virtual address */
	uint64_t gpa;         /* guest physical address */
	uint64_t spa;         /* system physical address */
	uint64_t size;        /* smallest page size on the path */
	bool c;               /* C-bit of the access (SNP) */
	bool user_page;       /* stage-1 leaf is a user page */
	bool ram;             /* guest RAM (not a device) */
	bool cacheable;       /* may go into the L0 TLB */
	bool tohost_page;     /* the page holds tohost (stores stay on the slow path) */
	unsigned dev;         /* 1 + index of the bus device (vm->dev[]), or 0 */
};

int rv_translate(struct cpu_hart *h, uint64_t va, enum s2_access acc, struct rv_xl *xl);

/*
 * Stage 1 (Sv39/Sv48, satp) for @va in class @mode: fills xl->gpa,
 * size, user_page, c.  Return 0, 1 (guest page fault taken), 2 (exit).
 */
int cpu_s1_translate(struct cpu_hart *h, uint64_t va, enum s2_access acc, unsigned mode,
		     struct rv_xl *xl);

/*
 * GPA -> SPA for an access of @acc (bare offset, or stage 2 + RMP).
 * Fills xl->spa and xl->cacheable.  Return 0, 1 (guest trap: access
 * fault, #VC), 2 (exit pending: #NPF).
 */
int cpu_gpa_translate(struct cpu_hart *h, uint64_t gpa, enum s2_access acc, struct rv_xl *xl);

/* A guest page-table read at @gpa (stage-1 walk): SPA in *spa. */
int cpu_gpa_table(struct cpu_hart *h, uint64_t gpa, uint64_t va, enum s2_access acc,
		  uint64_t *spa);

/* The CLINT device (msip, mtimecmp, mtime), added by cpu_vm_new. */
extern const struct cpu_dev_ops cpu_clint_ops;
/* Update mip.MTIP of @h from mtime and mtimecmp. */
void cpu_clint_tick(struct cpu_hart *h);
uint64_t cpu_mtime(const struct cpu_hart *h);

/* VM set-up of the protection state (prot.c), called by cpu_vm_new. */
int cpu_prot_setup(struct cpu_vm *vm, uint32_t vmid, struct sim_err *err);
void cpu_prot_free(struct cpu_vm *vm);
/*
 * World switches (SNP: rmp_vmrun/vmexit and VMSA save/restore), charged to
 * the hart's agent.  Enter: 0, or -1 with *@f when VMRUN refuses the state.
 */
int cpu_world_enter(struct cpu_hart *h, const struct cpu_vmcb *vmcb, struct rmp_fault *f);
void cpu_world_exit(struct cpu_hart *h, const struct cpu_vmcb *vmcb);

#endif /* PROTSIM_CPU_PROT_H */
