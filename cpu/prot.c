/*
 * prot.c - protection on the hart's memory path: guest stage 1 (Sv39 and
 * Sv48 tables walked by the stage2/ walker) with the x86 CR0.WP,
 * CR4.SMEP and CR4.SMAP rules as its permission policy, the GPA -> SPA
 * step (stage 2 through an s2_mmu with the RMP as its check hook), the
 * L0 TLB generations, the CLINT, and the VM's protection set-up (NPT
 * tables, RMP launch state, VMCB/VMSA pages) and world switches.
 *
 * Stage-1 permission rules (docs/cpu.md "WP, SMEP and SMAP on Sv39/Sv48"):
 *   U-mode:  the page must be a user page and grant the access (R, or X
 *            with MXR, for loads; W for stores; X for fetches).
 *   S-mode on a supervisor page: as RISC-V, except that a store to a
 *            read-only page (R=1, W=0) succeeds when CR0.WP = 0.
 *   S-mode on a user page: fetch faults when CR4.SMEP = 1 (RISC-V's own
 *            rule) and is allowed when SMEP = 0; loads and stores fault
 *            when CR4.SMAP = 1 and SUM = 0 (SUM is the "explicitly
 *            allowed" of x86 EFLAGS.AC), and are allowed when SMAP = 0;
 *            the WP rule above applies to their W bit.
 *   A/D: Svade: A = 0, or a store with D = 0, is a page fault.
 */
#include "cpu/cpu_prot.h"

#include <stdlib.h>

static uint64_t page_fault_cause(enum s2_access acc)
{
	return acc == S2_ACC_FETCH ? RV_CAUSE_FETCH_PAGE
	     : acc == S2_ACC_WRITE ? RV_CAUSE_STORE_PAGE : RV_CAUSE_LOAD_PAGE;
}

static uint64_t access_cause(enum s2_access acc)
{
	return acc == S2_ACC_FETCH ? RV_CAUSE_FETCH_ACCESS
	     : acc == S2_ACC_WRITE ? RV_CAUSE_STORE_ACCESS : RV_CAUSE_LOAD_ACCESS;
}

/* The stage-1 permission rules above.  @mode is RV_MODE_U or RV_MODE_S. */
static bool s1_perm_ok(const struct cpu_hart *h, const struct s2_pte *pte, enum s2_access acc,
		       unsigned mode)
{
	uint8_t p = pte->prot.perms;
	bool user_page = pte->prot.user;
	bool mxr = (h->mstatus & MSTATUS_MXR) != 0;

	if (mode == RV_MODE_U) {
		if (!user_page)
			return false;
		switch (acc) {
		case S2_ACC_FETCH: return (p & S2_PERM_XU) != 0;
		case S2_ACC_READ:  return (p & S2_PERM_R) || (mxr && (p & S2_PERM_X));
		case S2_ACC_WRITE: return (p & S2_PERM_W) != 0;
		}
		return false;
	}
	if (user_page) {
		if (acc == S2_ACC_FETCH)
			return !(h->cr4 & CR4_SMEP) && (p & S2_PERM_X);
		if ((h->cr4 & CR4_SMAP) && !(h->mstatus & MSTATUS_SUM))
			return false;
	}
	switch (acc) {
	case S2_ACC_FETCH: return (p & S2_PERM_XS) != 0;
	case S2_ACC_READ:  return (p & S2_PERM_R) || (mxr && (p & S2_PERM_X));
	case S2_ACC_WRITE: return (p & S2_PERM_W) || (!(h->cr0 & CR0_WP) && (p & S2_PERM_R));
	}
	return false;
}

/*
 * The guest stage-1 walk of one hart.  Its Sv39 and Sv48 tables are
 * stage2/ table objects attached at satp's root; the walker reaches each
 * table entry through s1_table_pa (the hart's stage 2 and RMP check, as
 * a guest page-table read) and asks s1_policy for the permission rules.
 */
struct cpu_s1_walk {
	struct cpu_hart *h;
	struct s2_pgt *pgt[2];         /* [0] Sv39, [1] Sv48; root set per walk */
	/* the walk in progress */
	uint64_t va;
	enum s2_access acc;
	unsigned mode;                 /* RV_MODE_U or RV_MODE_S */
	const struct s2_xlate *out;    /* its result so far (table-read cycles) */
	uint64_t charged;              /* of out->mem_cycles, already in batch_stall */
	int st;                        /* a table step's trap (1) or exit (2) */
};

static bool s1_policy(void *arg, const struct s2_pte *leaf, enum s2_access acc)
{
	const struct cpu_s1_walk *w = arg;

	return s1_perm_ok(w->h, leaf, acc, w->mode);
}

/*
 * Detailed mode: add the walk's table reads so far to the stall, so that
 * every stage-2 / RMP step of the walk sees the time it sees when each
 * read is charged as it happens.
 */
static void s1_charge_reads(struct cpu_s1_walk *w)
{
	if (w->h->vm->mode == CPU_MODE_DETAILED)
		w->h->batch_stall += w->out->mem_cycles - w->charged;
	w->charged = w->out->mem_cycles;
}

/* The walker's table_pa: guest page-table entry @gpa -> SPA (may trap or exit). */
static bool s1_table_pa(void *arg, uint64_t gpa, uint64_t *spa)
{
	struct cpu_s1_walk *w = arg;

	s1_charge_reads(w);
	w->st = cpu_gpa_table(w->h, gpa, w->va, w->acc, spa);
	return w->st == 0;
}

static const struct s2_mm_ops s1_mm = { .table_pa = s1_table_pa };

/* Create the stage-1 walk state of @h. */
static int s1_walk_new(struct cpu_hart *h, struct sim_err *err)
{
	struct cpu_s1_walk *w = calloc(1, sizeof(*w));
	int rc = S2_OK;

	if (!w)
		sim_fatal("cpu: out of host memory");
	w->h = h;
	h->s1w = w;
	w->pgt[0] = s2_pgt_attach(s2_fmt(S1_FMT_SV39), 3, h->vm->mem, 0, &s1_mm, w, &rc);
	if (w->pgt[0])
		w->pgt[1] = s2_pgt_attach(s2_fmt(S1_FMT_SV48), 4, h->vm->mem, 0, &s1_mm, w, &rc);
	if (!w->pgt[0] || !w->pgt[1])
		return sim_err_set(err, "cpu: cannot create the stage-1 walker: %s", s2_rc_name(rc));
	return 0;
}

static void s1_walk_free(struct cpu_s1_walk *w)
{
	if (!w)
		return;
	s2_pgt_free(w->pgt[0]);
	s2_pgt_free(w->pgt[1]);
	free(w);
}


int cpu_s1_translate(struct cpu_hart *h, uint64_t va, enum s2_access acc, unsigned mode,
		     struct rv_xl *xl)
{
	struct cpu_s1_walk *w = h->s1w;
	struct s2_pgt *p = w->pgt[(h->satp >> 60) == 9];
	struct s2_policy pol = { .perm_ok = s1_policy, .arg = w };
	struct sim_who who = { .now = cpu_hart_now(h), .agent = sim_agent_id(h->agent) };
	struct s2_req req = {
		.acc = acc, .user = mode == RV_MODE_U, .who = &who,
		.src = SIM_SRC_PTW, .policy = &pol, .untimed = h->vm->mode != CPU_MODE_DETAILED,
	};
	struct s2_xlate out;
	int r;

	(void)s2_pgt_set_root(p, (h->satp & 0xfffffffffffull) << 12);
	w->va = va;
	w->acc = acc;
	w->mode = mode;
	w->out = &out;
	w->charged = 0;
	w->st = 0;
	r = s2_translate(p, va, &req, &out);
	s1_charge_reads(w);
	w->out = NULL;
	if (r == S2_FAULT_NONE) {
		xl->size = out.size;
		xl->gpa = out.pa;
		xl->user_page = out.user;
		if (h->vm->type == CPU_VM_SNP && acc != S2_ACC_FETCH)
			xl->c = out.c || !h->vm->cbit_in_pte;
		return 0;
	}
	if (w->st)
		return w->st;
	rv_trap(h, page_fault_cause(acc), va);
	return 1;
}

/* ------------------------------------------------------------------ */
/* GPA -> SPA                                                          */
/* ------------------------------------------------------------------ */

/*
 * The RMP check hook of a VM's stage-2 space.  An SNP VM's accesses are
 * checked as the guest's (private or shared); a non-SNP VM on a host with
 * SNP enabled has its writes and its page-table accesses checked against
 * hypervisor-owned pages (APM vol. 2 15.36.10; its reads and fetches are
 * not checked, and rmp_check_guest returns at once for them).
 */
static int rmp_hook(void *arg, const struct s2_check *chk, uint64_t *cycles)
{
	struct cpu_vm *vm = arg;
	struct cpu_hart *h = vm->cur;
	struct sim_who who = { .now = cpu_hart_now(h), .agent = sim_agent_id(h->agent) };
	struct rmp_gaccess a = {
		.asid = vm->asid, .vmpl = vm->vmpl, .gpa = chk->gpa, .spa = chk->spa,
		.c_bit = chk->c, .user = chk->user, .snp = vm->type == CPU_VM_SNP,
		.map_size = chk->size,
	};
	enum rmp_fault_kind k;

	if (chk->table)
		a.kind = chk->acc == S2_ACC_WRITE ? RMP_ACC_PT_WRITE : RMP_ACC_PT_READ;
	else if (chk->acc == S2_ACC_FETCH)
		a.kind = h->priv == RV_PRIV_U ? RMP_ACC_FETCH_USER : RMP_ACC_FETCH_SUP;
	else
		a.kind = chk->acc == S2_ACC_WRITE ? RMP_ACC_WRITE : RMP_ACC_READ;
	k = rmp_check_guest(vm->rmp, &who, &a, &vm->last_fault);
	*cycles += who.mem_cycles;
	return (int)k;
}

/*
 * Stage 2 of @gpa.  @table: a guest page-table read on behalf of @va.
 * Return 0 (spa), 1 (trap taken), 2 (exit pending).
 */
static int gpa_xlate(struct cpu_hart *h, uint64_t gpa, uint64_t va, bool has_va,
		     enum s2_access acc, bool table, bool c, struct rv_xl *xl)
{
	struct cpu_vm *vm = h->vm;
	struct sim_who who = { .now = cpu_hart_now(h), .agent = sim_agent_id(h->agent) };
	struct s2_req req = {
		.acc = table ? S2_ACC_READ : acc, .user = h->priv == RV_PRIV_U, .c = c,
		.vmpl = (uint8_t)vm->vmpl, .who = &who, .src = SIM_SRC_PTW,
		.untimed = vm->mode != CPU_MODE_DETAILED,
	};
	struct s2_xlate out;
	struct cpu_exit *e;
	int r;

	if (vm->type == CPU_VM_BARE) {
		if (gpa < vm->mem_base || gpa - vm->mem_base >= vm->mem_size) {
			rv_trap(h, access_cause(acc), has_va ? va : gpa);
			return 1;
		}
		xl->spa = gpa - vm->mem_base + vm->spa_base;
		xl->cacheable = true;
		return 0;
	}
	vm->cur = h;
	if (table)
		req.c = true;
	r = s2_mmu_translate(h->mmu, vm->nocheck && !table ? &vm->space_nochk : &vm->space, gpa,
			     &req, &out);
	if (vm->mode == CPU_MODE_DETAILED)
		h->batch_stall += out.cycles;
	if (r == S2_FAULT_NONE) {
		xl->spa = out.pa;
		if (out.size < xl->size || !xl->size)
			xl->size = out.size;
		xl->cacheable = true;
		return 0;
	}
	if (r == S2_FAULT_CHECK && vm->last_fault.kind == RMP_FAULT_VC) {
		h->vc_code = vm->last_fault.code;
		rv_trap(h, RV_CAUSE_VC, has_va ? va : gpa);
		return 1;
	}
	e = cpu_exit_begin(h, CPU_EXIT_NPF, h->pc, 0);
	e->gva = has_va ? va : 0;
	if (r == S2_FAULT_CHECK) {
		e->npf_info = vm->last_fault.code;
		e->npf_gpa = vm->last_fault.addr;
		rmp_fault_format(&vm->last_fault, e->fault, sizeof(e->fault));
	} else {
		e->npf_info = out.fault.code | (table ? RMP_NPF_PAGE : RMP_NPF_FINAL);
		/*
		 * An SNP guest's private access sets ENC (EXITINFO1 bit 34) in
		 * every #NPF it takes, not only the RMP ones: KVM tells a private
		 * fault from a shared one by it (PFERR_GUEST_ENC_MASK).
		 */
		if (vm->type == CPU_VM_SNP && req.c)
			e->npf_info |= RMP_NPF_ENC;
		e->npf_gpa = gpa;
		s2_fault_str(&out.fault, e->fault, sizeof(e->fault));
	}
	return 2;
}

int cpu_gpa_translate(struct cpu_hart *h, uint64_t gpa, enum s2_access acc, struct rv_xl *xl)
{
	bool c = acc == S2_ACC_FETCH ? true : xl->c;

	return gpa_xlate(h, gpa, xl->va, true, acc, false, c, xl);
}

int cpu_gpa_table(struct cpu_hart *h, uint64_t gpa, uint64_t va, enum s2_access acc,
		  uint64_t *spa)
{
	struct rv_xl xl = { .va = va, .size = SIM_SZ_4K };
	int st = gpa_xlate(h, gpa, va, true, acc, true, true, &xl);

	*spa = xl.spa;
	return st;
}

void cpu_vcpu_tlbi(struct cpu_hart *h, enum cpu_tlbi what)
{
	if (what == CPU_TLBI_ALL && h->mmu)
		(void)s2_mmu_tlbi_all(h->mmu);
	rv_tlb_flush(h);
}

/* ------------------------------------------------------------------ */
/* CLINT: msip[hart] at +0, mtimecmp[hart] at +0x4000, mtime at +0xbff8 */
/* ------------------------------------------------------------------ */

uint64_t cpu_mtime(const struct cpu_hart *h)
{
	return cpu_hart_now(h) / CPU_MTIME_DIV;
}

void cpu_clint_tick(struct cpu_hart *h)
{
	if (cpu_mtime(h) >= h->mtimecmp)
		h->mip |= 1ull << RV_IRQ_MTI;
	else
		h->mip &= ~(1ull << RV_IRQ_MTI);
}

static uint64_t clint_read(void *arg, struct cpu_hart *h, uint64_t off, unsigned len)
{
	struct cpu_vm *vm = arg;
	uint64_t v = 0;

	if (off < 0x4000 && off / 4 < vm->nharts)
		v = (vm->harts[off / 4]->mip >> RV_IRQ_MSI) & 1;
	else if (off >= 0x4000 && off < 0xbff8 && (off - 0x4000) / 8 < vm->nharts)
		v = vm->harts[(off - 0x4000) / 8]->mtimecmp >> (8 * (off & 4));
	else if (off >= 0xbff8)
		v = cpu_mtime(h) >> (8 * (off & 4));
	return len == 8 ? v : v & 0xffffffffull;
}

static void clint_write(void *arg, struct cpu_hart *h, uint64_t off, unsigned len, uint64_t val)
{
	struct cpu_vm *vm = arg;

	if (off < 0x4000 && off / 4 < vm->nharts) {
		struct cpu_hart *t = vm->harts[off / 4];

		if (val & 1) {
			t->mip |= 1ull << RV_IRQ_MSI;
			if (vm->irq)
				vm->irq(vm->irq_arg, h, t);
		} else {
			t->mip &= ~(1ull << RV_IRQ_MSI);
		}
	} else if (off >= 0x4000 && off < 0xbff8 && (off - 0x4000) / 8 < vm->nharts) {
		struct cpu_hart *t = vm->harts[(off - 0x4000) / 8];
		unsigned sh = 8 * (unsigned)(off & 4);
		uint64_t m = (len == 8 ? ~0ull : 0xffffffffull) << sh;

		t->mtimecmp = (t->mtimecmp & ~m) | ((val << sh) & m);
		cpu_clint_tick(t);
	}
	/* mtime is read-only here */
}

const struct cpu_dev_ops cpu_clint_ops = { "clint", clint_read, clint_write };

/* ------------------------------------------------------------------ */
/* VM set-up                                                           */
/* ------------------------------------------------------------------ */

int cpu_prot_setup(struct cpu_vm *vm, uint32_t vmid, struct sim_err *err)
{
	struct s2_mmu_cfg mcfg;

	for (unsigned i = 0; i < vm->nharts; i++)
		if (s1_walk_new(vm->harts[i], err))
			return -1;
	if (vm->type == CPU_VM_BARE)
		return 0;
	if (!vm->npt)
		return sim_err_set(err, "cpu: an NPT or SNP VM needs the host's nested table");
	if (vm->type == CPU_VM_SNP && !rmp_enabled(vm->rmp))
		return sim_err_set(err, "vm.type: 'snp' needs the RMP enabled (rmp.mode)");
	s2_timing_from_sim(vm->sim, &vm->s2_timing);
	vm->space.vmid = vmid;
	vm->space.s2 = vm->npt;
	vm->space.s1 = NULL;
	if (vm->type == CPU_VM_SNP || rmp_enabled(vm->rmp)) {
		vm->hook.check = rmp_hook;
		vm->hook.arg = vm;
		vm->space.hook = &vm->hook;
	}
	vm->space_nochk = vm->space;
	vm->space_nochk.hook = NULL;
	vm->space_nochk.vmid = vm->space.vmid + 0x10000;   /* never shares TLB entries */
	s2_mmu_cfg_from_sim(vm->sim, &mcfg);
	for (unsigned i = 0; i < vm->nharts; i++) {
		vm->harts[i]->mmu = s2_mmu_new(&mcfg, &vm->s2_timing, &vm->s2_stats);
		if (!vm->harts[i]->mmu)
			return sim_err_set(err, "s2: bad TLB geometry for the vCPUs");
	}
	return 0;
}

void cpu_prot_free(struct cpu_vm *vm)
{
	for (unsigned i = 0; vm->harts && i < vm->nharts; i++) {
		if (!vm->harts[i])
			continue;
		if (vm->harts[i]->mmu)
			s2_mmu_free(vm->harts[i]->mmu);
		s1_walk_free(vm->harts[i]->s1w);
	}
}

/* ------------------------------------------------------------------ */
/* World switches                                                      */
/* ------------------------------------------------------------------ */

/*
 * VMSA layout (protsim's own; docs/guest-abi.md): x1..x31 at 8*i, pc at
 * 0x100, priv 0x108, then mstatus, mepc, mcause, mtval, mtvec, medeleg,
 * mideleg, mie, mip, mscratch, sepc, scause, stval, stvec, sscratch,
 * satp, cr0, cr4, ghcb at 0x110 + 8*k.
 */
#define VMSA_NCSR 19
static uint64_t *vmsa_csr(struct cpu_hart *h, unsigned k)
{
#define O(f) offsetof(struct cpu_hart, f)
	static const size_t off[VMSA_NCSR] = {
		O(mstatus), O(mepc), O(mcause), O(mtval), O(mtvec), O(medeleg), O(mideleg),
		O(mie), O(mip), O(mscratch), O(sepc), O(scause), O(stval), O(stvec),
		O(sscratch), O(satp), O(cr0), O(cr4), O(ghcb),
	};
#undef O
	return (uint64_t *)(void *)((char *)h + off[k]);
}

/* Save (@save) or restore the register state through timed memory accesses at @spa. */
static uint64_t vmsa_xfer(struct cpu_hart *h, uint64_t spa, bool save)
{
	uint8_t buf[0x110 + 8 * VMSA_NCSR];
	uint64_t pr = h->priv, cyc;
	int agent = sim_agent_id(h->agent);

	if (save) {
		memcpy(buf, h->x, 8 * 32);
		memcpy(buf + 0x100, &h->pc, 8);
		memcpy(buf + 0x108, &pr, 8);
		for (unsigned k = 0; k < VMSA_NCSR; k++)
			memcpy(buf + 0x110 + 8 * k, vmsa_csr(h, k), 8);
		return sim_mem_write(h->vm->mem, agent, SIM_SRC_DATA, spa, buf, sizeof(buf));
	}
	cyc = sim_mem_read(h->vm->mem, agent, SIM_SRC_DATA, spa, buf, sizeof(buf));
	memcpy(h->x, buf, 8 * 32);
	h->x[0] = 0;
	memcpy(&h->pc, buf + 0x100, 8);
	memcpy(&pr, buf + 0x108, 8);
	h->priv = (unsigned)pr;
	for (unsigned k = 0; k < VMSA_NCSR; k++)
		memcpy(vmsa_csr(h, k), buf + 0x110 + 8 * k, 8);
	rv_update_modes(h);
	return cyc;
}

int cpu_world_enter(struct cpu_hart *h, const struct cpu_vmcb *vmcb, struct rmp_fault *f)
{
	struct cpu_vm *vm = h->vm;
	uint64_t cyc = vm->lat.vmrun;

	if (h->in_guest)
		return 0;
	sim_sync(h->agent);   /* VMRUN reads the RMP, in-use marks and the VMSA */
	if (vm->type == CPU_VM_SNP) {
		struct sim_who who = { .now = sim_now(h->agent), .agent = sim_agent_id(h->agent) };
		struct rmp_vmrun_in in = {
			.asid = vm->asid, .vmcb = vmcb->vmcb_spa, .vmsa = vmcb->vmsa_spa,
			.vmsa_gpa = vmcb->vmsa_gpa, .avic = RMP_NO_ADDR,
		};

		if (rmp_vmrun(vm->rmp, &who, &in, f) != RMP_FAULT_NONE)
			return -1;
		cyc += who.mem_cycles + vm->lat.snp_switch;
	}
	if (h->vmsa_valid)
		cyc += vmsa_xfer(h, vmcb->vmsa_spa, false);
	h->in_guest = true;
	rv_tlb_flush(h);
	sim_advance(h->agent, cyc);
	h->st.cycles += cyc;
	return 0;
}

void cpu_world_exit(struct cpu_hart *h, const struct cpu_vmcb *vmcb)
{
	struct cpu_vm *vm = h->vm;
	uint64_t cyc = vm->lat.vmexit;

	if (!h->in_guest)
		return;
	sim_sync(h->agent);   /* #VMEXIT writes the VMSA, clears in-use marks */
	cyc += vmsa_xfer(h, vmcb->vmsa_spa, true);
	h->vmsa_valid = true;
	if (vm->type == CPU_VM_SNP) {
		struct sim_who who = { .now = sim_now(h->agent), .agent = sim_agent_id(h->agent) };

		rmp_vmexit(vm->rmp, &who);
		cyc += who.mem_cycles + vm->lat.snp_switch;
	}
	h->in_guest = false;
	sim_advance(h->agent, cyc);
	h->st.cycles += cyc;
}
