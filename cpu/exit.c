/*
 * exit.c - VM exits (world switch, hypervisor hook, applying its reply),
 * the protsim custom instructions (PVALIDATE, RMPADJUST, RMPQUERY,
 * VMGEXIT, HYPERCALL) and the default minimal hypervisor.
 */
#include "cpu/cpu_prot.h"

struct cpu_exit *cpu_exit_begin(struct cpu_hart *h, enum cpu_exit_reason reason, uint64_t pc,
				unsigned len)
{
	struct cpu_exit *e = &h->exit;

	memset(e, 0, sizeof(*e));
	e->reason = reason;
	e->pc = pc;
	e->len = len;
	h->exit_pending = true;
	return e;
}

static void hv_charge(struct cpu_hart *h, uint64_t cyc)
{
	sim_advance(h->agent, cyc);
	h->st.cycles += cyc;
}

/* Block the vCPU until woken (CLINT msip from another hart, or the VM stops). */
static void block(struct cpu_hart *h)
{
	struct cpu_vm *vm = h->vm;

	sim_sync(h->agent);   /* the blocked/running counts are the VM's shared state */
	h->blocked = true;
	vm->blocked++;
	if (vm->blocked == vm->running) {
		/* nobody left to wake anyone */
		cpu_vm_stop(vm, CPU_VM_HALTED, 0);
	} else {
		uint64_t t0 = sim_now(h->agent);

		sim_block(h->agent);
		h->st.cycles += sim_now(h->agent) - t0;
	}
	vm->blocked--;
	h->blocked = false;
}

void cpu_exit_handle(struct cpu_hart *h)
{
	struct cpu_vm *vm = h->vm;
	struct cpu_exit *e = &h->exit;
	const struct cpu_hv_ops *hv = vm->hv;
	void (*fn)(void *, struct cpu_hart *, struct cpu_exit *) = NULL;
	void (*def)(void *, struct cpu_hart *, struct cpu_exit *) = NULL;

	h->exit_pending = false;
	h->st.exits[e->reason]++;
	cpu_world_exit(h);
	switch (e->reason) {
	case CPU_EXIT_NPF: fn = hv->npf; def = cpu_default_hv.npf; break;
	case CPU_EXIT_VMGEXIT: fn = hv->vmgexit; def = cpu_default_hv.vmgexit; break;
	case CPU_EXIT_HYPERCALL: fn = hv->hypercall; def = cpu_default_hv.hypercall; break;
	case CPU_EXIT_CR_WRITE: fn = hv->cr_write; def = cpu_default_hv.cr_write; break;
	case CPU_EXIT_HLT: fn = hv->hlt; def = cpu_default_hv.hlt; break;
	case CPU_EXIT_COUNT: break;
	}
	e->action = CPU_HV_RETRY;
	if (fn && hv != &cpu_default_hv)
		fn(vm->hv_arg, h, e);
	else
		def(vm, h, e);
	if (e->action == CPU_HV_KILL) {
		cpu_vm_stop(vm, CPU_VM_KILLED, e->kill_code);
		return;
	}
	if (e->action == CPU_HV_BLOCK)
		block(h);
	if (h->done)
		return;
	if (cpu_world_enter(h))
		return;
	/* the reply takes effect on the restored state */
	switch (e->action) {
	case CPU_HV_RETRY:
		h->pc = e->pc;
		break;
	case CPU_HV_SKIP:
	case CPU_HV_BLOCK:
		h->pc = e->pc + e->len;
		if (e->action == CPU_HV_BLOCK)
			break;
		if (e->reason == CPU_EXIT_HYPERCALL) {
			h->x[10] = e->ret;
		} else if (e->reason == CPU_EXIT_VMGEXIT) {
			h->ghcb = e->ret;
			h->x[10] = e->ret;
		} else if (e->reason == CPU_EXIT_CR_WRITE) {
			h->x[h->exit_rd] = e->cr_old;
			if (e->cr_allow)
				cpu_cr_commit(h, e->cr, e->cr_new);
		}
		break;
	case CPU_HV_INJECT:
		h->pc = e->pc;
		rv_trap(h, e->inject_cause, e->inject_tval);
		break;
	case CPU_HV_KILL:
		break;
	}
	h->x[RV_RD_SINK] = 0;
}

/* ------------------------------------------------------------------ */
/* Custom instructions                                                 */
/* ------------------------------------------------------------------ */

static uint64_t now_in_batch(const struct cpu_hart *h)
{
	return sim_now(h->agent) + h->batch_stall + h->batch_extra +
	       h->batch_exec * (h->vm->mode == CPU_MODE_FAST ? h->vm->lat.cpi : 1);
}

/* Deliver an RMP instruction's fault. Return the loop status (1 trap, 2 exit). */
static int rmp_fault_deliver(struct cpu_hart *h, const struct rmp_fault *f, uint64_t pc,
			     uint64_t va)
{
	struct cpu_exit *e;

	switch (f->kind) {
	case RMP_FAULT_VC:
		h->vc_code = f->code;
		rv_trap(h, RV_CAUSE_VC, va);
		return 1;
	case RMP_FAULT_GP:
		rv_trap(h, RV_CAUSE_GP, 0);
		return 1;
	case RMP_FAULT_NPF:
		e = cpu_exit_begin(h, CPU_EXIT_NPF, pc, 4);
		e->npf_info = f->code;
		e->npf_gpa = f->addr;
		e->gva = va;
		rmp_fault_format(f, e->fault, sizeof(e->fault));
		return 2;
	default:
		rv_trap(h, RV_CAUSE_ILLEGAL, 0);
		return 1;
	}
}

static int rmp_guest_insn(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc)
{
	struct cpu_vm *vm = h->vm;
	uint64_t va = h->x[10];
	bool page_2m = (h->x[11] & 1) != 0;
	struct sim_who who;
	struct rmp_result res;
	struct rmp_gpage pg;
	struct rv_xl xl;
	int st;

	if (vm->type != CPU_VM_SNP) {
		rv_trap(h, RV_CAUSE_ILLEGAL, d->raw);   /* #UD outside an SNP guest */
		return 1;
	}
	if (h->priv == RV_PRIV_U) {
		rv_trap(h, RV_CAUSE_GP, 0);             /* CPL != 0 */
		return 1;
	}
	/* translate the GVA without the RMP check of the final page */
	vm->nocheck = true;
	st = rv_translate(h, va, S2_ACC_READ, &xl);
	vm->nocheck = false;
	if (st)
		return st;
	pg.asid = vm->asid;
	pg.vmpl = vm->vmpl;
	pg.gpa = xl.gpa;
	pg.spa = xl.spa;
	pg.map_size = xl.size;
	who.now = now_in_batch(h);
	who.agent = sim_agent_id(h->agent);
	who.mem_cycles = 0;
	memset(&res, 0, sizeof(res));
	switch (d->op) {
	case RV_OP_pvalidate:
		rmp_pvalidate(vm->rmp, &who, &pg, page_2m, (h->x[12] & 1) != 0, &res);
		break;
	case RV_OP_rmpadjust:
		rmp_adjust(vm->rmp, &who, &pg, page_2m, (unsigned)(h->x[12] & 0xff),
			   (uint8_t)(h->x[12] >> 8), (h->x[12] >> 16) & 1, &res);
		break;
	default:
		rmp_query(vm->rmp, &who, &pg, &res);
		break;
	}
	h->batch_extra += res.latency + who.mem_cycles + vm->lat.rmp_insn;
	rv_tlb_flush(h);
	if (res.rc == RMP_RC_FAULT)
		return rmp_fault_deliver(h, &res.fault, pc, va);
	h->x[10] = (uint64_t)res.rc;
	if (d->op == RV_OP_pvalidate) {
		h->x[11] = (res.rc == RMP_RC_SUCCESS && !res.changed) ? 1 : 0;   /* CF */
	} else if (d->op == RV_OP_rmpquery) {
		h->x[11] = res.page_2m ? 1 : 0;
		h->x[12] = (uint64_t)res.perms[1] | (uint64_t)res.perms[2] << 8 |
			   (uint64_t)res.perms[3] << 16;
	}
	return 0;
}

int rv_exec_custom(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc)
{
	struct cpu_exit *e;

	switch (d->op) {
	case RV_OP_pvalidate:
	case RV_OP_rmpadjust:
	case RV_OP_rmpquery:
		return rmp_guest_insn(h, d, pc);
	case RV_OP_vmgexit:
		h->ghcb = h->x[10];
		e = cpu_exit_begin(h, CPU_EXIT_VMGEXIT, pc, 4);
		e->ghcb = h->ghcb;
		return 2;
	case RV_OP_hypercall:
		e = cpu_exit_begin(h, CPU_EXIT_HYPERCALL, pc, 4);
		for (unsigned i = 0; i < 5; i++)
			e->args[i] = h->x[10 + i];
		return 2;
	default:
		rv_trap(h, RV_CAUSE_ILLEGAL, d->raw);
		return 1;
	}
}

/* ------------------------------------------------------------------ */
/* The default minimal hypervisor (docs/cpu.md "Default hypervisor")    */
/* ------------------------------------------------------------------ */

/*
 * #NPF: outside guest RAM an access fault is injected; a not-present
 * fault inside it is a first touch: the page is mapped (for SNP also
 * assigned and validated, cpu_vm_map_page) and the access retried, as
 * KVM's kvm_mmu_page_fault handles a fault without PFERR_PRESENT; any
 * other fault (RMP, permission) stops the VM.
 */
static void dhv_npf(void *arg, struct cpu_hart *h, struct cpu_exit *e)
{
	struct cpu_vm *vm = arg;
	struct sim_err err;

	hv_charge(h, vm->lat.hv_exit);
	if (!(e->npf_info & RMP_NPF_RMP) &&
	    (e->npf_gpa < vm->mem_base || e->npf_gpa - vm->mem_base >= vm->mem_size)) {
		/* no memory there: an access fault, as an MMIO abort would be */
		e->action = CPU_HV_INJECT;
		e->inject_cause = (e->npf_info & RMP_NPF_ID) ? RV_CAUSE_FETCH_ACCESS
				: (e->npf_info & RMP_NPF_W) ? RV_CAUSE_STORE_ACCESS
				: RV_CAUSE_LOAD_ACCESS;
		e->inject_tval = e->gva ? e->gva : e->npf_gpa;
		return;
	}
	if (!(e->npf_info & (RMP_NPF_RMP | RMP_NPF_P))) {
		if (cpu_vm_map_page(vm, h, e->npf_gpa, &err) == 0) {
			e->action = CPU_HV_RETRY;
			return;
		}
		fprintf(stderr, "protsim: %s: %s gpa=0x%llx at pc=0x%llx: %s; VM stopped\n", h->name,
			e->fault, (unsigned long long)e->npf_gpa, (unsigned long long)e->pc, err.msg);
		e->action = CPU_HV_KILL;
		e->kill_code = 1;
		return;
	}
	fprintf(stderr, "protsim: %s: %s gpa=0x%llx at pc=0x%llx: the default hypervisor does "
		"not resolve nested page faults; VM stopped\n", h->name, e->fault,
		(unsigned long long)e->npf_gpa, (unsigned long long)e->pc);
	e->action = CPU_HV_KILL;
	e->kill_code = 1;
}

/* GHCB MSR protocol codes (GHCB specification, AMD 56421, MSR protocol). */
static void dhv_vmgexit(void *arg, struct cpu_hart *h, struct cpu_exit *e)
{
	struct cpu_vm *vm = arg;
	uint64_t req = e->ghcb, code = req & 0xfff;

	hv_charge(h, vm->lat.hv_exit);
	e->action = CPU_HV_SKIP;
	switch (code) {
	case 0x002:   /* SEV_INFO: protocol 1..2, C-bit position 51 */
		e->ret = (2ull << 48) | (1ull << 32) | (51ull << 24) | 0x001;
		break;
	case 0x080:   /* hypervisor features: SNP, AP creation */
		e->ret = (3ull << 12) | 0x081;
		break;
	case 0x014:   /* page-state change: not supported here (error in [63:32]) */
		e->ret = (1ull << 32) | 0x015;
		break;
	case 0x100:   /* terminate */
		fprintf(stderr, "protsim: %s: guest requested termination (reason set %llu, code %llu)\n",
			h->name, (unsigned long long)((req >> 12) & 0xf),
			(unsigned long long)((req >> 16) & 0xff));
		e->action = CPU_HV_KILL;
		e->kill_code = (int)((req >> 16) & 0xff);
		break;
	default:      /* unknown request: answered with 0 (no such response code) */
		e->ret = 0;
		break;
	}
}

static void dhv_hypercall(void *arg, struct cpu_hart *h, struct cpu_exit *e)
{
	struct cpu_vm *vm = arg;

	hv_charge(h, vm->lat.hv_exit);
	e->action = CPU_HV_SKIP;
	switch (e->args[0]) {
	case 0:  e->ret = 0; break;                     /* PROTSIM_HC_NOP */
	case 1:  e->ret = 1; break;                     /* PROTSIM_HC_VERSION */
	default: e->ret = (uint64_t)-1000; break;       /* -KVM_ENOSYS */
	}
}

static void dhv_cr_write(void *arg, struct cpu_hart *h, struct cpu_exit *e)
{
	struct cpu_vm *vm = arg;

	hv_charge(h, vm->lat.hv_exit);
	if (vm->cr_policy == 0) {
		e->action = CPU_HV_SKIP;
		e->cr_allow = true;
	} else {
		e->action = CPU_HV_INJECT;
		e->inject_cause = RV_CAUSE_GP;
		e->inject_tval = 0;
	}
}

static void dhv_hlt(void *arg, struct cpu_hart *h, struct cpu_exit *e)
{
	struct cpu_vm *vm = arg;

	hv_charge(h, vm->lat.hv_exit);
	if ((h->mie & (1ull << RV_IRQ_MTI)) && h->mtimecmp != ~0ull &&
	    h->mtimecmp < (~0ull / CPU_MTIME_DIV)) {
		/* a timer is armed: sleep until it fires */
		uint64_t t = h->mtimecmp * CPU_MTIME_DIV + h->cycle_base;
		uint64_t t0 = sim_now(h->agent);

		sim_wait_until(h->agent, t);
		h->st.cycles += sim_now(h->agent) - t0;
		e->action = CPU_HV_SKIP;
		return;
	}
	e->action = CPU_HV_BLOCK;
}

const struct cpu_hv_ops cpu_default_hv = {
	.name = "default",
	.npf = dhv_npf,
	.vmgexit = dhv_vmgexit,
	.hypercall = dhv_hypercall,
	.cr_write = dhv_cr_write,
	.hlt = dhv_hlt,
};
