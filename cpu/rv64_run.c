/*
 * rv64_run.c - WFI, SFENCE.VMA and the two compiled run loops (fast and
 * detailed).  Traps, interrupts and xRET are in hart.c.
 */
#include "cpu/cpu_int.h"

int rv_exec_wfi(struct cpu_hart *h, uint64_t pc)
{
	if (h->priv == RV_PRIV_U || (h->priv < RV_PRIV_M && (h->mstatus & MSTATUS_TW))) {
		rv_trap(h, RV_CAUSE_ILLEGAL, 0x10500073u);
		return 1;
	}
	/* An interrupt already pending (even if disabled) makes WFI a no-op. */
	if (h->mip & h->mie)
		return 0;
	cpu_exit_begin(h, CPU_EXIT_HLT, pc, 4);
	return 2;
}

int rv_exec_sfence(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc)
{
	(void)pc;
	if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM))) {
		rv_trap(h, RV_CAUSE_ILLEGAL, d->raw);
		return 1;
	}
	rv_tlb_flush(h);
	return 0;
}

#define RV_DETAILED 0
#define RV_RUN_FN rv_run_fast
#include "cpu/rv64_loop.h"
#undef RV_DETAILED
#undef RV_RUN_FN

#define RV_DETAILED 1
#define RV_RUN_FN rv_run_detailed
#include "cpu/rv64_loop.h"
#undef RV_DETAILED
#undef RV_RUN_FN
