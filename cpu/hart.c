/*
 * hart.c - the hart's own state changes, the bottom of the CPU that every
 * other file of cpu/ uses and that uses none of them: reset, the
 * translation classes, traps and interrupts (delegation, mstatus
 * stacking), xRET, the cycle counter, and the flushes of the L0 TLB and
 * the decode cache.  See "Machine-Level ISA" and "Supervisor-Level ISA"
 * in the RISC-V privileged architecture.
 */
#include "cpu/cpu_int.h"

#include <stdlib.h>

void rv_hart_reset(struct cpu_hart *h, uint64_t pc)
{
	memset(h->x, 0, sizeof(h->x));
	h->pc = pc;
	h->priv = RV_PRIV_M;
	h->mstatus = 0;
	h->satp = 0;
	h->medeleg = h->mideleg = h->mie = h->mip = 0;
	h->mtvec = h->stvec = 0;
	h->cr0 = CR0_RESET;
	h->cr4 = CR4_RESET;
	h->mtimecmp = ~0ull;
	h->resv_valid = false;
	rv_update_modes(h);
	h->ntlb_log = RV_TLB_LOG;   /* every entry: a new hart's are zero, not invalid */
	rv_tlb_flush(h);
}

void rv_update_modes(struct cpu_hart *h)
{
	unsigned dpriv = h->priv;
	bool paging = (h->satp >> 60) != 0;

	if (h->priv == RV_PRIV_M && (h->mstatus & MSTATUS_MPRV))
		dpriv = (unsigned)((h->mstatus & MSTATUS_MPP) >> 11);
	h->fmode = (h->priv == RV_PRIV_M || !paging) ? RV_MODE_PHYS : h->priv;
	h->dmode = (dpriv == RV_PRIV_M || !paging) ? RV_MODE_PHYS : dpriv;
}

void rv_trap(struct cpu_hart *h, uint64_t cause, uint64_t tval)
{
	bool irq = (cause & RV_CAUSE_INTR) != 0;
	uint64_t code = cause & ~RV_CAUSE_INTR;
	uint64_t deleg = irq ? h->mideleg : h->medeleg;
	uint64_t epc = h->pc;

	if (irq)
		h->st.irqs++;
	else
		h->st.traps++;
	h->resv_valid = false;
	if (h->priv <= RV_PRIV_S && code < 64 && ((deleg >> code) & 1)) {
		uint64_t s = h->mstatus;

		h->scause = cause;
		h->sepc = epc;
		h->stval = tval;
		s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
		s = (s & ~MSTATUS_SPP) | (h->priv == RV_PRIV_S ? MSTATUS_SPP : 0);
		s &= ~MSTATUS_SIE;
		h->mstatus = s;
		h->priv = RV_PRIV_S;
		h->pc = (h->stvec & ~3ull) + ((irq && (h->stvec & 1)) ? 4 * code : 0);
	} else {
		uint64_t s = h->mstatus;

		h->mcause = cause;
		h->mepc = epc;
		h->mtval = tval;
		s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
		s = (s & ~MSTATUS_MPP) | ((uint64_t)h->priv << 11);
		s &= ~MSTATUS_MIE;
		h->mstatus = s;
		h->priv = RV_PRIV_M;
		h->pc = (h->mtvec & ~3ull) + ((irq && (h->mtvec & 1)) ? 4 * code : 0);
	}
	rv_update_modes(h);
}

/* Priority order of the privileged spec: MEI, MSI, MTI, SEI, SSI, STI. */
static const unsigned irq_order[] = { RV_IRQ_MEI, RV_IRQ_MSI, RV_IRQ_MTI,
				      RV_IRQ_SEI, RV_IRQ_SSI, RV_IRQ_STI };

bool rv_check_irq(struct cpu_hart *h)
{
	uint64_t pend = h->mip & h->mie;
	uint64_t m_en, s_en;

	if (!pend)
		return false;
	/* M-level interrupts: enabled below M, or in M with MIE */
	m_en = (h->priv < RV_PRIV_M || (h->mstatus & MSTATUS_MIE)) ? ~h->mideleg : 0;
	/* S-level (delegated): enabled below S, or in S with SIE; never in M */
	s_en = (h->priv < RV_PRIV_S || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_SIE)))
		       ? h->mideleg : 0;
	pend &= (m_en | s_en);
	if (!pend)
		return false;
	for (unsigned i = 0; i < sizeof(irq_order) / sizeof(irq_order[0]); i++) {
		if ((pend >> irq_order[i]) & 1) {
			h->halted = false;
			rv_trap(h, RV_CAUSE_INTR | irq_order[i], 0);
			return true;
		}
	}
	return false;
}

void rv_mret(struct cpu_hart *h)
{
	uint64_t s = h->mstatus;
	unsigned mpp = (unsigned)((s & MSTATUS_MPP) >> 11);

	s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
	s |= MSTATUS_MPIE;
	s &= ~MSTATUS_MPP;    /* least-privileged mode: U */
	if (mpp != RV_PRIV_M)
		s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->priv = mpp;
	h->pc = h->mepc;
	h->resv_valid = false;
	rv_update_modes(h);
}

void rv_sret(struct cpu_hart *h)
{
	uint64_t s = h->mstatus;
	unsigned spp = (s & MSTATUS_SPP) ? RV_PRIV_S : RV_PRIV_U;

	s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
	s |= MSTATUS_SPIE;
	s &= ~MSTATUS_SPP;
	s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->priv = spp;
	h->pc = h->sepc;
	h->resv_valid = false;
	rv_update_modes(h);
}

uint64_t rv_cycle_now(const struct cpu_hart *h)
{
	return cpu_hart_now(h) - h->cycle_base;
}

void rv_tlb_flush(struct cpu_hart *h)
{
	struct rv_tlb_ent *arr[3] = { h->tlb_r, h->tlb_w, h->tlb_x };

	if (h->ntlb_log < RV_TLB_LOG) {
		/* only the entries filled since the last flush can be valid */
		for (unsigned i = 0; i < h->ntlb_log; i++)
			arr[h->tlb_log[i] >> RV_TLB_BITS][h->tlb_log[i] & (RV_TLB_SIZE - 1)].tag = ~0ull;
	} else {
		for (unsigned i = 0; i < RV_TLB_SIZE; i++) {
			h->tlb_r[i].tag = ~0ull;
			h->tlb_w[i].tag = ~0ull;
			h->tlb_x[i].tag = ~0ull;
		}
	}
	h->ntlb_log = 0;
	h->last_iline = ~0ull;
}

void rv_tlb_logged(struct cpu_hart *h, unsigned arr, unsigned idx)
{
	if (h->ntlb_log < RV_TLB_LOG)
		h->tlb_log[h->ntlb_log] = (uint16_t)(arr << RV_TLB_BITS | idx);
	if (h->ntlb_log <= RV_TLB_LOG)
		h->ntlb_log++;
}

void rv_dcache_flush(struct cpu_hart *h)
{
	for (unsigned i = 0; i < RV_DCACHE_PAGES; i++)
		if (h->dcache[i])
			h->dcache[i]->spa_page = ~0ull;
	h->st.dcache_flush++;
}
