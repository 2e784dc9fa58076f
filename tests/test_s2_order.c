/*
 * test_s2_order.c - stage-2 tables order their users among agents: every
 * software walk (s2_map, s2_unmap, ... through s2_walk) and every hardware
 * table walk calls sim_sync_id() on its agent, so a walk and a change of
 * the same table by two agents that call the C API directly take effect
 * in global (cycle, agent id) order at any engine.quantum.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "stage2/s2.h"

#define IA     0x5000ull
#define PA     0x100000ull
#define POOL   0x800000ull

static uint64_t pool_next;

static uint64_t pool_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	pool_next += 0x1000;
	return pool_next - 0x1000;
}

static const struct s2_mm_ops pool_mm = { .alloc_page = pool_alloc };

enum sop_kind { S_WALK, S_MAP, S_UNMAP };

struct sop {
	int agent;
	uint64_t at;
	enum sop_kind kind;
	int want;             /* S_WALK: fault type; else s2 rc */
};

struct scase {
	const char *name;
	bool mapped;          /* IA -> PA mapped before the run */
	int nops;
	struct sop ops[4];
};

static const struct scase scases[] = {
	{ "hardware walk after another agent's unmap faults", true, 2,
	  { { 0, 600, S_WALK, S2_FAULT_TRANSLATION }, { 1, 500, S_UNMAP, S2_OK } } },
	{ "unmap after another agent's walk: the walk still translates", true, 2,
	  { { 0, 600, S_UNMAP, S2_OK }, { 1, 500, S_WALK, S2_FAULT_NONE } } },
	{ "walks before and after another agent's map", false, 3,
	  { { 0, 600, S_MAP, S2_OK }, { 1, 500, S_WALK, S2_FAULT_TRANSLATION },
	    { 1, 700, S_WALK, S2_FAULT_NONE } } },
};

struct senv {
	struct s2_pgt *p;
	const struct scase *k;
	int got[4];
};

static void sagent(struct sim_agent *a, void *arg)
{
	struct senv *e = arg;
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };

	for (int i = 0; i < e->k->nops; i++) {
		const struct sop *o = &e->k->ops[i];
		struct sim_who who;
		struct s2_req req = { .acc = S2_ACC_READ, .who = &who, .src = SIM_SRC_PTW };
		struct s2_xlate x;

		if (o->agent != sim_agent_id(a))
			continue;
		while (sim_now(a) < o->at)       /* private work, no sync of its own */
			sim_advance(a, o->at - sim_now(a) < 64 ? o->at - sim_now(a) : 64);
		who = (struct sim_who){ .now = sim_now(a), .agent = sim_agent_id(a) };
		switch (o->kind) {
		case S_WALK:
			e->got[i] = s2_translate(e->p, IA, &req, &x);
			break;
		case S_MAP:
			e->got[i] = s2_map(e->p, &who, IA, PA, SIM_SZ_4K, SIM_SZ_4K, &rw);
			break;
		default:
			e->got[i] = s2_unmap(e->p, &who, IA, SIM_SZ_4K);
			break;
		}
		sim_advance(a, who.mem_cycles + 1);
	}
}

static const char *const quanta[] = { "1", "1000", "1000000" };

Test(s2_order, walks_and_changes_by_two_agents_in_global_order)
{
	for (size_t c = 0; c < sizeof(scases) / sizeof(scases[0]); c++) {
		const struct scase *k = &scases[c];

		for (size_t q = 0; q < sizeof(quanta) / sizeof(quanta[0]); q++) {
			struct sim *s = sim_new(NULL);
			struct sim_err err;
			struct senv e = { .k = k };
			struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
			int rc;

			cr_assert_eq(sim_cfg_set(s, "machine.mem", "64m", "--set", 0, &err), 0);
			cr_assert_eq(sim_cfg_set(s, "engine.quantum", quanta[q], "--set", 0, &err), 0);
			cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
			pool_next = POOL;
			e.p = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, sim_mem(s), S2_NO_PAGE, &pool_mm, NULL,
					 NULL, &rc);
			cr_assert_not_null(e.p);
			if (k->mapped)
				cr_assert_eq(s2_map(e.p, NULL, IA, PA, SIM_SZ_4K, SIM_SZ_4K, &rw), S2_OK);
			sim_agent_new(s, "cpu0", SIM_AGENT_CPU, sagent, &e);
			sim_agent_new(s, "cpu1", SIM_AGENT_CPU, sagent, &e);
			cr_assert_eq(sim_run(s), 0);
			for (int i = 0; i < k->nops; i++)
				cr_expect_eq(e.got[i], k->ops[i].want, "%s q=%s: op %d gave %d, want %d",
					     k->name, quanta[q], i, e.got[i], k->ops[i].want);
			s2_pgt_free(e.p);
			sim_free(s);
		}
	}
}
