/*
 * test_rmp_order.c - the RMP orders its own operations among agents: every
 * instruction, VMRUN and #VMEXIT calls sim_sync_id() on its agent, so
 * agents that call the C API directly (no script interpreter, no explicit
 * sim_sync) get global (cycle, agent id) order at any engine.quantum.
 * The cases are the audit's: a lower-id agent whose operation comes later
 * in simulated time but first in host order.  An access check is a step
 * of an access, ordered by the accessing agent: the checks here follow
 * the agent's own sim_sync(), as a vCPU batch or a DMA request does.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rmp/rmp.h"

#define P       0x201000ull       /* the page under test */
#define GPA     0x40001000ull     /* its guest address */
#define VMSA    0x300000ull       /* a VMSA page (asid 1, GPA VMSA_GPA) */
#define VMSA_GPA 0x50000000ull
#define VMCB    0x301000ull       /* hypervisor-owned */

enum rop_kind {
	OP_ASSIGN,       /* RMPUPDATE P: assigned to asid 1 at GPA */
	OP_SHARE,        /* RMPUPDATE spa: back to hypervisor-owned */
	OP_PVALIDATE,    /* PVALIDATE P (asid 1, GPA) */
	OP_HOST_WRITE,   /* rmp_check_host write, 4K mapping */
	OP_DMA_WRITE,    /* rmp_check_dma write */
	OP_GUEST_READ,   /* rmp_check_guest private read of P at GPA */
	OP_VMRUN,        /* VMRUN with VMCB and VMSA */
	OP_VMEXIT,
};

struct rop {
	int agent;
	uint64_t at;          /* start cycle (reached by private work) */
	enum rop_kind kind;
	uint64_t spa;
	int want;             /* enum rmp_rc, or enum rmp_fault_kind for checks/VMRUN */
};

struct ocase {
	const char *name;
	bool vmsa_setup;      /* VMSA page assigned + VMSA bit; P assigned (not validated) */
	bool p_assigned;      /* P assigned to asid 1 at GPA before the run */
	int nops;
	struct rop ops[6];
	bool final_assigned, final_validated;   /* P's entry after the run */
};

static const struct ocase ocases[] = {
	{ "host write after another agent's assign faults", false, false, 2,
	  { { 0, 1000, OP_HOST_WRITE, P, RMP_FAULT_PF },
	    { 1, 500, OP_ASSIGN, P, RMP_RC_SUCCESS } }, true, false },
	{ "DMA write after another agent's assign faults", false, false, 2,
	  { { 0, 1000, OP_DMA_WRITE, P, RMP_FAULT_IOMMU },
	    { 1, 500, OP_ASSIGN, P, RMP_RC_SUCCESS } }, true, false },
	{ "a running VMSA is not reclaimed, then is", true, false, 4,
	  { { 0, 1000, OP_SHARE, VMSA, RMP_RC_FAIL_INUSE },
	    { 0, 3000, OP_SHARE, VMSA, RMP_RC_SUCCESS },
	    { 1, 500, OP_VMRUN, 0, RMP_FAULT_NONE },
	    { 1, 2000, OP_VMEXIT, 0, 0 } }, false, false },
	{ "RMPUPDATE after PVALIDATE leaves Validated clear", false, true, 2,
	  { { 0, 5000, OP_ASSIGN, P, RMP_RC_SUCCESS },
	    { 1, 500, OP_PVALIDATE, P, RMP_RC_SUCCESS } }, true, false },
	{ "PVALIDATE inside another agent's RMPUPDATE lock: FAIL_INUSE", false, false, 2,
	  { { 0, 600, OP_PVALIDATE, P, RMP_RC_FAIL_INUSE },
	    { 1, 500, OP_ASSIGN, P, RMP_RC_SUCCESS } }, true, false },
	{ "guest read after another agent's PVALIDATE passes", false, true, 2,
	  { { 0, 5000, OP_GUEST_READ, P, RMP_FAULT_NONE },
	    { 1, 500, OP_PVALIDATE, P, RMP_RC_SUCCESS } }, true, true },
};

struct oenv {
	struct rmp *r;
	const struct ocase *k;
	int got[6];
	uint64_t started[6];
};

static int run_op(struct rmp *r, struct sim_agent *a, const struct rop *o)
{
	struct sim_who w = { .now = sim_now(a), .agent = sim_agent_id(a) };
	struct rmp_result res;
	struct rmp_fault f;
	struct rmp_gpage pg = { 1, 0, GPA, P, SIM_SZ_4K };
	struct rmp_gaccess ga = { .asid = 1, .vmpl = 0, .gpa = GPA, .spa = P, .kind = RMP_ACC_READ,
				  .c_bit = true, .snp = true, .map_size = SIM_SZ_4K };
	struct rmp_vmrun_in vin = { .asid = 1, .vmcb = VMCB, .vmsa = VMSA, .vmsa_gpa = VMSA_GPA,
				    .avic = RMP_NO_ADDR };
	struct rmp_update_in in = { 0 };
	int rc = -1;

	memset(&res, 0, sizeof(res));
	switch (o->kind) {
	case OP_ASSIGN:
		in = (struct rmp_update_in){ .gpa = GPA, .assigned = 1, .asid = 1 };
		rc = (int)rmp_update(r, &w, o->spa, &in, &res);
		break;
	case OP_SHARE:
		rc = (int)rmp_update(r, &w, o->spa, &in, &res);
		break;
	case OP_PVALIDATE:
		rc = (int)rmp_pvalidate(r, &w, &pg, false, true, &res);
		break;
	case OP_HOST_WRITE:
		sim_sync(a);                 /* the access orders itself, then checks */
		rc = (int)rmp_check_host(r, &w, o->spa, true, SIM_SZ_4K, &f);
		break;
	case OP_DMA_WRITE:
		sim_sync(a);
		rc = (int)rmp_check_dma(r, &w, o->spa, true, &f);
		break;
	case OP_GUEST_READ:
		sim_sync(a);
		rc = (int)rmp_check_guest(r, &w, &ga, &f);
		break;
	case OP_VMRUN:
		rc = (int)rmp_vmrun(r, &w, &vin, &f);
		break;
	case OP_VMEXIT:
		rc = rmp_vmexit(r, &w);
		break;
	}
	sim_advance(a, res.latency + w.mem_cycles + 1);
	return rc;
}

static void oagent(struct sim_agent *a, void *arg)
{
	struct oenv *e = arg;

	for (int i = 0; i < e->k->nops; i++) {
		const struct rop *o = &e->k->ops[i];

		if (o->agent != sim_agent_id(a))
			continue;
		/* private work in slices: never a sync of its own */
		while (sim_now(a) < o->at)
			sim_advance(a, o->at - sim_now(a) < 64 ? o->at - sim_now(a) : 64);
		e->started[i] = sim_now(a);
		e->got[i] = run_op(e->r, a, o);
	}
}

static const char *const quanta[] = { "1", "1000", "1000000" };

Test(rmp_order, direct_api_calls_take_effect_in_global_order)
{
	static const struct sim_module *const mods[] = { &rmp_module, NULL };

	for (size_t c = 0; c < sizeof(ocases) / sizeof(ocases[0]); c++) {
		const struct ocase *k = &ocases[c];

		for (size_t q = 0; q < sizeof(quanta) / sizeof(quanta[0]); q++) {
			struct sim *s = sim_new(mods);
			struct sim_err err;
			struct oenv e = { .k = k };
			struct rmp_entry ent;

			cr_assert_eq(sim_cfg_set(s, "machine.mem", "256m", "--set", 0, &err), 0);
			cr_assert_eq(sim_cfg_set(s, "engine.quantum", quanta[q], "--set", 0, &err), 0);
			cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
			e.r = sim_get_model(s, &rmp_module);
			if (k->vmsa_setup) {
				memset(&ent, 0, sizeof(ent));
				ent.assigned = ent.vmsa = true;
				ent.asid = 1;
				ent.gpa = VMSA_GPA;
				cr_assert_eq(rmp_fw_write(e.r, VMSA, &ent), RMP_RC_SUCCESS);
			}
			if (k->p_assigned) {
				memset(&ent, 0, sizeof(ent));
				ent.assigned = true;
				ent.asid = 1;
				ent.gpa = GPA;
				cr_assert_eq(rmp_fw_write(e.r, P, &ent), RMP_RC_SUCCESS);
			}
			sim_agent_new(s, "cpu0", SIM_AGENT_CPU, oagent, &e);
			sim_agent_new(s, "cpu1", SIM_AGENT_CPU, oagent, &e);
			cr_assert_eq(sim_run(s), 0);
			for (int i = 0; i < k->nops; i++) {
				cr_expect_eq(e.started[i], k->ops[i].at, "%s q=%s: op %d start", k->name,
					     quanta[q], i);
				cr_expect_eq(e.got[i], k->ops[i].want, "%s q=%s: op %d gave %d, want %d",
					     k->name, quanta[q], i, e.got[i], k->ops[i].want);
			}
			cr_assert(rmp_entry_get(e.r, P, &ent));
			cr_expect_eq(ent.assigned, k->final_assigned, "%s q=%s: P assigned", k->name,
				     quanta[q]);
			cr_expect_eq(ent.validated, k->final_validated, "%s q=%s: P validated",
				     k->name, quanta[q]);
			sim_free(s);
		}
	}
}
