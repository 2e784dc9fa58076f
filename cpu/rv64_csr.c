/*
 * rv64_csr.c - control and status registers: the standard M/S/U set, the
 * counters, and protsim's custom CSRs (CR0, CR4, the GHCB MSR, the #VC
 * error code, VMPL, SEV_STATUS), and the debug trigger registers with no
 * trigger.  See "Control and Status Registers" in the RISC-V privileged
 * architecture; docs/guest-abi.md for the custom ones.
 */
#include "cpu/cpu_int.h"

#define MISA_VALUE ((2ull << 62) | (1u << 0) | (1u << 2) | (1u << 8) | (1u << 12) | \
		    (1u << 18) | (1u << 20))   /* RV64 A C I M S U */

#define MSTATUS_WMASK (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | \
		       MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | \
		       MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_MASK  (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR | \
		       MSTATUS_UXL)
#define MIE_MASK      0xaaaull   /* SSIE MSIE STIE MTIE SEIE MEIE */
#define MIDELEG_MASK  0x222ull   /* S-level interrupts */
#define MIP_SW_MASK   0x222ull   /* SSIP STIP SEIP writable by M software */
/* Exceptions that may be delegated: all but ecall-from-M, plus #VC and #GP. */
#define MEDELEG_MASK  (0xb3ffull | (1ull << RV_CAUSE_VC) | (1ull << RV_CAUSE_GP))

/* Status of CSR accessors below ILLEGAL. */
#define CSR_GP (-2)

static uint64_t mstatus_read(const struct cpu_hart *h)
{
	return h->mstatus | MSTATUS_UXL_64 | MSTATUS_SXL_64;
}

/* Counter access from S/U, gated by mcounteren and scounteren. */
static bool counter_ok(const struct cpu_hart *h, unsigned csr)
{
	unsigned bit = csr & 31;

	if (h->priv < RV_PRIV_M && !((h->mcounteren >> bit) & 1))
		return false;
	if (h->priv < RV_PRIV_S && !((h->scounteren >> bit) & 1))
		return false;
	return true;
}

static uint64_t cycles(const struct cpu_hart *h)
{
	return rv_cycle_now(h);
}

static uint64_t instret(const struct cpu_hart *h)
{
	return h->instret + h->batch_retired;
}

int rv_csr_read(struct cpu_hart *h, unsigned csr, uint64_t *v)
{
	switch (csr) {
	case CSR_SSTATUS: *v = mstatus_read(h) & SSTATUS_MASK; return 0;
	case CSR_SIE: *v = h->mie & h->mideleg; return 0;
	case CSR_STVEC: *v = h->stvec; return 0;
	case CSR_SCOUNTEREN: *v = h->scounteren; return 0;
	case CSR_SENVCFG: *v = h->senvcfg; return 0;
	case CSR_SSCRATCH: *v = h->sscratch; return 0;
	case CSR_SEPC: *v = h->sepc; return 0;
	case CSR_SCAUSE: *v = h->scause; return 0;
	case CSR_STVAL: *v = h->stval; return 0;
	case CSR_SIP: *v = h->mip & h->mideleg; return 0;
	case CSR_SATP:
		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM))
			return -1;
		*v = h->satp;
		return 0;
	case CSR_MSTATUS: *v = mstatus_read(h); return 0;
	case CSR_MISA: *v = MISA_VALUE; return 0;
	case CSR_MEDELEG: *v = h->medeleg; return 0;
	case CSR_MIDELEG: *v = h->mideleg; return 0;
	case CSR_MIE: *v = h->mie; return 0;
	case CSR_MTVEC: *v = h->mtvec; return 0;
	case CSR_MCOUNTEREN: *v = h->mcounteren; return 0;
	case CSR_MENVCFG: *v = h->menvcfg; return 0;
	case CSR_MCOUNTINHIBIT: *v = h->mcountinhibit; return 0;
	case CSR_MSCRATCH: *v = h->mscratch; return 0;
	case CSR_MEPC: *v = h->mepc; return 0;
	case CSR_MCAUSE: *v = h->mcause; return 0;
	case CSR_MTVAL: *v = h->mtval; return 0;
	case CSR_MIP: *v = h->mip; return 0;
	case CSR_MCYCLE: *v = cycles(h); return 0;
	case CSR_MINSTRET: *v = instret(h); return 0;
	case CSR_CYCLE:
	case CSR_TIME:
	case CSR_INSTRET:
		if (!counter_ok(h, csr))
			return -1;
		*v = csr == CSR_INSTRET ? instret(h)
		   : csr == CSR_CYCLE ? cycles(h) : cycles(h) / CPU_MTIME_DIV;
		return 0;
	case CSR_MVENDORID: case CSR_MARCHID: case CSR_MIMPID: case CSR_MCONFIGPTR:
		*v = 0;
		return 0;
	case CSR_MHARTID: *v = h->id; return 0;
	/*
	 * The trigger registers with no trigger (RISC-V External Debug Support
	 * 0.13.2 and 1.0, "Trigger Module"): tselect reads 0 whatever was
	 * written (a value >= the number of triggers need not read back);
	 * tdata1 reads 0, type 0 "there is no trigger at this tselect";
	 * tdata2/tdata3 hold no trigger's data and read 0; tinfo reads 1 ("if
	 * the currently selected trigger doesn't exist, this field contains
	 * 1").  Writes are ignored.  M mode only (CSR numbers 0x7a0..0x7a4).
	 */
	case CSR_TSELECT: case CSR_TDATA1: case CSR_TDATA2: case CSR_TDATA3:
		*v = 0;
		return 0;
	case CSR_TINFO: *v = 1; return 0;
	case CSR_CR0: *v = h->cr0; return 0;
	case CSR_CR4: *v = h->cr4; return 0;
	case CSR_GHCB: *v = h->ghcb; return 0;
	case CSR_VC_CODE: *v = h->vc_code; return 0;
	case CSR_VMPL: *v = h->vm->vmpl; return 0;
	case CSR_SEV_STATUS: *v = h->vm->type == CPU_VM_SNP ? 7 : 0; return 0;
	default:
		break;
	}
	if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
		if (csr & 1)
			return -1;   /* RV64: odd pmpcfg registers do not exist */
		*v = h->pmpcfg[csr - CSR_PMPCFG0];
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
		*v = h->pmpaddr[csr - CSR_PMPADDR0];
		return 0;
	}
	/* Unimplemented hardware performance counters and events read as zero. */
	if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
		*v = 0;
		return 0;
	}
	if (csr >= 0xc03 && csr <= 0xc1f) {
		if (!counter_ok(h, csr))
			return -1;
		*v = 0;
		return 0;
	}
	return -1;
}

/* A CR write that passed the intercept check. */
static void cr_commit(struct cpu_hart *h, unsigned cr, uint64_t val)
{
	uint64_t *reg = cr == 0 ? &h->cr0 : &h->cr4;
	uint64_t prot = cr == 0 ? CR0_WP : (CR4_SMEP | CR4_SMAP);

	if ((*reg ^ val) & prot)
		rv_tlb_flush(h);
	*reg = val;
}

void cpu_cr_commit(struct cpu_hart *h, unsigned cr, uint64_t val)
{
	cr_commit(h, cr, val);
}

/* CR0/CR4 write: reserved bits #GP; intercepted bits exit. */
static int cr_write(struct cpu_hart *h, unsigned cr, uint64_t val)
{
	uint64_t old = cr == 0 ? h->cr0 : h->cr4;
	uint64_t valid = cr == 0 ? CR0_VALID : CR4_VALID;
	struct cpu_exit *e;

	if (val & ~valid)
		return CSR_GP;
	if ((old ^ val) & h->cr_icpt[cr == 0 ? 0 : 1]) {
		e = cpu_exit_begin(h, CPU_EXIT_CR_WRITE, h->pc, 4);
		e->cr = cr;
		e->cr_old = old;
		e->cr_new = val;
		return 2;
	}
	cr_commit(h, cr, val);
	return 0;
}

static uint64_t legal_tvec(uint64_t v)
{
	return (v & 3) >= 2 ? (v & ~3ull) : v;   /* modes 2, 3 reserved: direct */
}

int rv_csr_write(struct cpu_hart *h, unsigned csr, uint64_t v)
{
	uint64_t m;

	switch (csr) {
	case CSR_SSTATUS:
		m = SSTATUS_MASK & ~MSTATUS_UXL;
		v = (h->mstatus & ~m) | (v & m);
		/* fall through */
	case CSR_MSTATUS:
		if (((v & MSTATUS_MPP) >> 11) == 2)
			v &= ~MSTATUS_MPP;   /* reserved MPP: WARL to U */
		if ((h->mstatus ^ v) & (MSTATUS_SUM | MSTATUS_MXR))
			rv_tlb_flush(h);
		h->mstatus = v & MSTATUS_WMASK;
		rv_update_modes(h);
		return 0;
	case CSR_SIE:
		h->mie = (h->mie & ~h->mideleg) | (v & h->mideleg & MIE_MASK);
		return 0;
	case CSR_STVEC: h->stvec = legal_tvec(v); return 0;
	case CSR_SCOUNTEREN: h->scounteren = v & 0xffffffffull; return 0;
	case CSR_SENVCFG: h->senvcfg = 0; return 0;
	case CSR_SSCRATCH: h->sscratch = v; return 0;
	case CSR_SEPC: h->sepc = v & ~1ull; return 0;
	case CSR_SCAUSE: h->scause = v; return 0;
	case CSR_STVAL: h->stval = v; return 0;
	case CSR_SIP:
		m = h->mideleg & (1ull << RV_IRQ_SSI);
		h->mip = (h->mip & ~m) | (v & m);
		return 0;
	case CSR_SATP: {
		uint64_t mode = v >> 60;

		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM))
			return -1;
		if (mode != 0 && mode != 8 && mode != 9)
			return 0;    /* unsupported mode: the write has no effect */
		if (mode == 0)
			v = 0;
		h->satp = v & ((0xfull << 60) | (0xffffull << 44) | 0xfffffffffffull);
		rv_tlb_flush(h);
		rv_update_modes(h);
		return 0;
	}
	case CSR_MISA: return 0;
	case CSR_MEDELEG: h->medeleg = v & MEDELEG_MASK; return 0;
	case CSR_MIDELEG: h->mideleg = v & MIDELEG_MASK; return 0;
	case CSR_MIE: h->mie = v & MIE_MASK; return 0;
	case CSR_MTVEC: h->mtvec = legal_tvec(v); return 0;
	case CSR_MCOUNTEREN: h->mcounteren = v & 0xffffffffull; return 0;
	case CSR_MENVCFG: h->menvcfg = 0; return 0;
	case CSR_MCOUNTINHIBIT: h->mcountinhibit = v & ~2ull; return 0;
	case CSR_MSCRATCH: h->mscratch = v; return 0;
	case CSR_MEPC: h->mepc = v & ~1ull; return 0;
	case CSR_MCAUSE: h->mcause = v; return 0;
	case CSR_MTVAL: h->mtval = v; return 0;
	case CSR_MIP:
		h->mip = (h->mip & ~MIP_SW_MASK) | (v & MIP_SW_MASK);
		return 0;
	case CSR_MCYCLE:
		/* the writing instruction's own cycle is not counted */
		h->cycle_base += cycles(h) - v;
		return 0;
	case CSR_MINSTRET:
		h->instret = v - h->batch_retired - 1;
		return 0;
	case CSR_CR0: return cr_write(h, 0, v);
	case CSR_CR4: return cr_write(h, 4, v);
	case CSR_GHCB: h->ghcb = v; return 0;
	case CSR_TSELECT: case CSR_TDATA1: case CSR_TDATA2: case CSR_TDATA3: case CSR_TINFO:
		return 0;   /* no trigger: see rv_csr_read */
	default:
		break;
	}
	if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
		if (csr & 1)
			return -1;
		h->pmpcfg[csr - CSR_PMPCFG0] = v;
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
		h->pmpaddr[csr - CSR_PMPADDR0] = v & ((1ull << 54) - 1);
		return 0;
	}
	if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f))
		return 0;
	return -1;
}

int rv_csr_insn(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc)
{
	unsigned csr = (unsigned)d->imm & 0xfff;
	bool imm = d->op == RV_OP_csrrwi || d->op == RV_OP_csrrsi || d->op == RV_OP_csrrci;
	bool is_rw = d->op == RV_OP_csrrw || d->op == RV_OP_csrrwi;
	uint64_t src = imm ? d->rs1 : h->x[d->rs1];
	bool do_write = is_rw || d->rs1 != 0;
	bool do_read = !is_rw || d->rd != RV_RD_SINK;
	uint64_t old = 0, nv;
	int rc;

	(void)pc;
	if (((csr >> 8) & 3) > h->priv)
		goto illegal;
	if (do_write && (csr >> 10) == 3)
		goto illegal;
	if (do_read || !is_rw) {
		if (rv_csr_read(h, csr, &old))
			goto illegal;
	} else {
		uint64_t probe;
		/* csrrw with rd=x0: no read, but the CSR must exist */
		if (rv_csr_read(h, csr, &probe))
			goto illegal;
	}
	if (do_write) {
		nv = is_rw ? src
		   : (d->op == RV_OP_csrrs || d->op == RV_OP_csrrsi) ? (old | src) : (old & ~src);
		h->exit_rd = d->rd;
		rc = rv_csr_write(h, csr, nv);
		if (rc == -1)
			goto illegal;
		if (rc == CSR_GP) {
			rv_trap(h, RV_CAUSE_GP, 0);
			return 1;
		}
		if (rc == 2)
			return 2;   /* CR intercept: rd written when the hypervisor completes it */
	}
	h->x[d->rd] = old;
	return 0;
illegal:
	rv_trap(h, RV_CAUSE_ILLEGAL, d->raw);
	return 1;
}
