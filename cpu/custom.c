/*
 * custom.c - the protsim custom instructions (docs/guest-abi.md): the
 * SNP guest instructions PVALIDATE, RMPADJUST and RMPQUERY, executed by
 * the RMP model on the hart's translation of the page, and VMGEXIT and
 * HYPERCALL, which end the run with an exit to the host.
 */
#include "cpu/cpu_prot.h"

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
	who.now = cpu_hart_now(h);
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
	if (sim_timeline_on(vm->sim)) {
		/* the instruction on the vCPU's track, at its cycle inside the batch */
		char args[96];

		snprintf(args, sizeof(args), "\"gpa\":\"0x%llx\",\"rc\":\"%s\"",
			 (unsigned long long)pg.gpa,
			 rmp_rc_name(d->op == RV_OP_pvalidate ? RMP_INSN_PVALIDATE :
				     d->op == RV_OP_rmpadjust ? RMP_INSN_RMPADJUST : RMP_INSN_RMPQUERY,
				     res.rc));
		sim_timeline_span(vm->sim, who.agent, "rmp", rv_op_name[d->op], who.now,
				  who.now + res.latency + who.mem_cycles + vm->lat.rmp_insn, args);
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

