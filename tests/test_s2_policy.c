/*
 * test_s2_policy.c - the hooks that let a CPU model walk its guest's own
 * stage-1 tables with the one generic walker: tables attached at an
 * existing root (s2_pgt_attach / s2_pgt_set_root), hardware walks that
 * reach every entry through the table's table_pa (and stop when it
 * refuses), and the permission policy of struct s2_req (stage-1 leaves
 * of walks and nested-TLB hits, never stage 2).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "stage2/s2.h"

#define MEMLAT  10             /* flat memory latency of the rig */
#define GOFF    0x10000000ull  /* guest-physical X lives at physical X + GOFF */
#define ROOT    0x100000ull    /* guest-physical root of the stage-1 table */
#define VA      0x40201000ull  /* Sv39: VPN[2] = 1, VPN[1] = 1, VPN[0] = 1 */
#define GPA     0x800000ull    /* where VA maps */

/* A guest table built by software (offset table_pa) and walked through a recording table_pa. */
static struct {
	struct sim_mem *mem;
	uint64_t next;                 /* next guest table page */
	struct s2_pgt *sw;             /* the guest's own view (s2_pgt_new) */
	struct s2_pgt *hw;             /* attached at the same root */
	/* the recording table_pa */
	uint64_t seen[8];              /* entry addresses asked, in order */
	uint64_t seen_cycles[8];       /* out->mem_cycles at each call */
	unsigned calls;
	unsigned refuse_at;            /* 1-based call to refuse, 0 = never */
	const struct s2_xlate *out;    /* the walk's result, to see its progress */
	unsigned frees;
	/* the policy */
	unsigned pol_calls;
	struct s2_pte pol_leaf;        /* what the policy saw last */
	enum s2_access pol_acc;
	bool pol_answer;
} R;

static uint64_t g_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	R.next += 0x1000;
	return R.next - 0x1000;
}

static bool g_offset_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	(void)arg;
	*pa = gpa + GOFF;
	return true;
}

static bool g_record_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	(void)arg;
	if (R.calls < 8) {
		R.seen[R.calls] = gpa;
		R.seen_cycles[R.calls] = R.out ? R.out->mem_cycles : 0;
	}
	R.calls++;
	if (R.refuse_at && R.calls == R.refuse_at)
		return false;
	*pa = gpa + GOFF;
	return true;
}

static void g_free(void *arg, uint64_t addr)
{
	(void)arg, (void)addr;
	R.frees++;
}

static const struct s2_mm_ops sw_mm = { .alloc_page = g_alloc, .table_pa = g_offset_pa };
static const struct s2_mm_ops hw_mm = { .table_pa = g_record_pa, .free_page = g_free };

static bool pol_fn(void *arg, const struct s2_pte *leaf, enum s2_access acc)
{
	(void)arg;
	R.pol_calls++;
	R.pol_leaf = *leaf;
	R.pol_acc = acc;
	return R.pol_answer;
}

static const struct s2_policy POL = { .perm_ok = pol_fn };

static void rig(enum s2_fmt_id fmt, unsigned levels, const struct s2_prot *prot)
{
	int rc;

	memset(&R, 0, sizeof(R));
	R.mem = sim_mem_new(1ull << 36, MEMLAT);
	R.next = ROOT + 0x1000;
	R.sw = s2_pgt_new(s2_fmt(fmt), levels, R.mem, ROOT, &sw_mm, NULL, NULL, &rc);
	cr_assert_not_null(R.sw, "pgt_new: %s", s2_rc_name(rc));
	cr_assert_eq(s2_map(R.sw, NULL, VA, GPA, SIM_SZ_4K, SIM_SZ_4K, prot), S2_OK);
	R.hw = s2_pgt_attach(s2_fmt(fmt), levels, R.mem, ROOT, &hw_mm, NULL, &rc);
	cr_assert_not_null(R.hw, "attach: %s", s2_rc_name(rc));
	cr_assert_eq(rc, S2_OK);
}

static void unrig(void)
{
	s2_pgt_free(R.hw);
	s2_pgt_free(R.sw);
	sim_mem_free(R.mem);
}

static struct s2_req RQ(enum s2_access acc, bool user, const struct s2_policy *pol)
{
	return (struct s2_req){
		.acc = acc, .user = user, .who = NULL, .src = SIM_SRC_PTW, .policy = pol,
	};
}

static int walk(enum s2_access acc, bool user, const struct s2_policy *pol, struct s2_xlate *x)
{
	struct s2_req q = RQ(acc, user, pol);

	R.calls = 0;
	R.out = x;
	return s2_translate(R.hw, VA, &q, x);
}

/* ------------------------------------------------------------------ */
/* Attached tables                                                      */
/* ------------------------------------------------------------------ */

Test(s2_attach, walks_the_existing_table_through_table_pa)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	uint64_t root_entry, l1, l0;
	struct s2_xlate x;

	rig(S1_FMT_SV39, 3, &rw);
	root_entry = sim_mem_peek64(R.mem, GOFF + ROOT + 8);
	cr_assert_neq(root_entry, 0, "software map wrote the root through table_pa");
	/* attaching wrote nothing */
	cr_expect_eq(sim_mem_peek64(R.mem, GOFF + ROOT + 8), root_entry);
	cr_expect_eq(s2_pgt_root(R.hw), ROOT);
	cr_expect_eq(s2_pgt_levels(R.hw), 3);
	cr_expect_eq(s2_pgt_pages(R.hw), 1);
	cr_expect_eq(s2_pgt_fmt(R.hw)->id, S1_FMT_SV39);

	cr_assert_eq(walk(S2_ACC_WRITE, false, NULL, &x), S2_FAULT_NONE);
	cr_expect_eq(x.pa, GPA);
	cr_expect_eq(x.size, SIM_SZ_4K);
	cr_expect_eq(x.perms, S2_PERM_R | S2_PERM_W);
	cr_expect_eq(x.refs, 3);
	cr_expect_eq(x.mem_cycles, 3 * MEMLAT);
	cr_expect_eq(x.cycles, 3 * MEMLAT);
	cr_expect_eq(x.ev.walks, 1);
	/* one table_pa call per entry, in walk order, with the entry's own address */
	l1 = ((root_entry >> 10) << 12);
	l0 = ((sim_mem_peek64(R.mem, GOFF + l1 + 8) >> 10) << 12);
	cr_assert_eq(R.calls, 3);
	cr_expect_eq(R.seen[0], ROOT + 8 * 1);
	cr_expect_eq(R.seen[1], l1 + 8 * 1);
	cr_expect_eq(R.seen[2], l0 + 8 * 1);
	/* the walk's references so far are visible to each call */
	cr_expect_eq(R.seen_cycles[0], 0);
	cr_expect_eq(R.seen_cycles[1], MEMLAT);
	cr_expect_eq(R.seen_cycles[2], 2 * MEMLAT);
	unrig();
	cr_expect_eq(R.frees, 0, "an attached table's pages are not the object's");
}

Test(s2_attach, set_root_moves_the_walk)
{
	struct s2_prot r = { .perms = S2_PERM_R };
	struct s2_xlate x;

	rig(S1_FMT_SV39, 3, &r);
	/* an empty table: the root entry is invalid */
	cr_assert_eq(s2_pgt_set_root(R.hw, 0x300000), S2_OK);
	cr_expect_eq(s2_pgt_root(R.hw), 0x300000);
	cr_assert_eq(walk(S2_ACC_READ, false, NULL, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.fault.stage, 1);
	cr_expect_eq(x.fault.level, 2);
	cr_expect_eq(x.fault.code, 13);
	cr_expect_eq(x.refs, 1);
	cr_expect_eq(R.seen[0], 0x300000 + 8);
	/* refused: not aligned (unchanged), a table with its own root */
	cr_expect_eq(s2_pgt_set_root(R.hw, ROOT + 8), S2_ERR_ALIGN);
	cr_expect_eq(s2_pgt_root(R.hw), 0x300000);
	cr_expect_eq(s2_pgt_set_root(R.sw, 0x300000), S2_ERR_INVAL);
	cr_expect_eq(s2_pgt_root(R.sw), ROOT);
	cr_assert_eq(s2_pgt_set_root(R.hw, ROOT), S2_OK);
	cr_expect_eq(walk(S2_ACC_READ, false, NULL, &x), S2_FAULT_NONE);
	cr_expect_eq(x.pa, GPA);
	unrig();
}

struct attach_bad {
	char name[24];
	enum s2_fmt_id fmt;    /* S2_FMT_COUNT: NULL format */
	unsigned levels;
	uint64_t root;
	int rc;
};

static struct attach_bad attach_bad_cases[] = {
	{ "null-format", S2_FMT_COUNT, 3, 0x1000, S2_ERR_INVAL },
	{ "sv39-4-levels", S1_FMT_SV39, 4, 0x1000, S2_ERR_INVAL },
	{ "npt-3-levels", S2_FMT_NPT, 3, 0x1000, S2_ERR_INVAL },
	{ "no-root", S1_FMT_SV48, 4, S2_NO_PAGE, S2_ERR_INVAL },
	{ "unaligned-root", S1_FMT_X86_64, 4, 0x1008, S2_ERR_ALIGN },
};

ParameterizedTestParameters(s2_attach, bad_arguments)
{
	return cr_make_param_array(struct attach_bad, attach_bad_cases,
				   sizeof(attach_bad_cases) / sizeof(attach_bad_cases[0]));
}

ParameterizedTest(struct attach_bad *bc, s2_attach, bad_arguments)
{
	struct sim_mem *m = sim_mem_new(1ull << 36, MEMLAT);
	int rc = -1;

	cr_expect_null(s2_pgt_attach(s2_fmt(bc->fmt), bc->levels, m, bc->root, NULL, NULL, &rc),
		       "%s", bc->name);
	cr_expect_eq(rc, bc->rc, "%s: rc %d", bc->name, rc);
	cr_expect_eq(sim_mem_frames(m), 0, "%s: nothing written", bc->name);
	sim_mem_free(m);
}

/* ------------------------------------------------------------------ */
/* table_pa refusals                                                    */
/* ------------------------------------------------------------------ */

struct refuse_case {
	unsigned at;           /* refused call (1 = the root entry) */
	int level;             /* Sv39 level of that entry */
};

static struct refuse_case refuse_cases[] = { { 1, 2 }, { 2, 1 }, { 3, 0 } };

ParameterizedTestParameters(s2_attach, table_pa_refusal_stops_the_walk)
{
	return cr_make_param_array(struct refuse_case, refuse_cases,
				   sizeof(refuse_cases) / sizeof(refuse_cases[0]));
}

ParameterizedTest(struct refuse_case *rc, s2_attach, table_pa_refusal_stops_the_walk)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_xlate x;
	char buf[32];

	rig(S1_FMT_SV39, 3, &rw);
	R.refuse_at = rc->at;
	cr_assert_eq(walk(S2_ACC_WRITE, true, NULL, &x), S2_FAULT_CHECK);
	cr_expect_eq(R.calls, rc->at, "no table_pa call after the refusal");
	cr_expect_eq(x.fault.type, S2_FAULT_CHECK);
	cr_expect_eq(x.fault.stage, 2);
	cr_expect_eq(x.fault.level, rc->level);
	cr_expect(x.fault.table);
	cr_expect_not(x.fault.gla);
	cr_expect_eq(x.fault.fmt, S1_FMT_SV39);
	cr_expect_eq(x.fault.acc, S2_ACC_READ);
	cr_expect_eq(x.fault.addr, R.seen[rc->at - 1]);
	cr_expect_eq(x.fault.check_rc, S2_ERR_UNMAPPED);
	cr_expect_str_eq(s2_fault_str(&x.fault, buf, sizeof(buf)), "CHECK(8)");
	cr_expect_eq(x.refs, rc->at - 1);
	cr_expect_eq(x.mem_cycles, (rc->at - 1) * MEMLAT);
	cr_expect_eq(x.pa, 0);
	unrig();
}

/* ------------------------------------------------------------------ */
/* The permission policy                                                */
/* ------------------------------------------------------------------ */

struct pol_case {
	char name[32];
	enum s2_fmt_id fmt;
	unsigned levels;
	char perms[8];         /* leaf */
	bool user_page;
	uint64_t table_clear;  /* raw bits cleared in the level-above entry (x86 R/W: ANDed) */
	uint64_t leaf_set;     /* raw bits set in the leaf */
	enum s2_access acc;
	bool user;
	bool answer;           /* the policy's answer */
	int rc;                /* expected result */
	uint8_t seen_perms;    /* what the policy saw (prot.perms, prot.user) */
	bool seen_user;
	uint64_t code;         /* fault code when rc is a fault */
};

#define RW (S2_PERM_R | S2_PERM_W)
static struct pol_case pol_cases[] = {
	/* the policy allows what the format refuses (CR0.WP = 0: supervisor store to a
	 * read-only page, D set) */
	{ "sv39-allow-ro-write", S1_FMT_SV39, 3, "r", false, 0, 1ull << 7, S2_ACC_WRITE, false, true,
	  S2_FAULT_NONE, S2_PERM_R, false, 0 },
	/* ... and refuses what it allows (SMAP-like) */
	{ "sv39-refuse-sup-read", S1_FMT_SV39, 3, "rw", false, 0, 0, S2_ACC_READ, false, false,
	  S2_FAULT_PERMISSION, RW, false, 13 },
	{ "sv39-refuse-fetch", S1_FMT_SV39, 3, "rx", false, 0, 0, S2_ACC_FETCH, false, false,
	  S2_FAULT_PERMISSION, S2_PERM_R | S2_PERM_X, false, 12 },
	/* the format would refuse a supervisor access to a user page (SUM = 0); the policy allows */
	{ "sv39-allow-user-page", S1_FMT_SV39, 3, "rw", true, 0, 0, S2_ACC_READ, false, true,
	  S2_FAULT_NONE, RW, true, 0 },
	/* x86: the policy sees the permissions and user flag ANDed over the walk */
	{ "x86-anded-rw", S1_FMT_X86_64, 4, "rw", true, 1ull << 1, 0, S2_ACC_WRITE, true, true,
	  S2_FAULT_NONE, S2_PERM_R, true, 0 },
	{ "x86-anded-us", S1_FMT_X86_64, 4, "rw", true, 1ull << 2, 0, S2_ACC_READ, false, true,
	  S2_FAULT_NONE, RW, false, 0 },
	{ "x86-refuse-write", S1_FMT_X86_64, 4, "rw", true, 0, 0, S2_ACC_WRITE, true, false,
	  S2_FAULT_PERMISSION, RW, true, 0x7 },
};

ParameterizedTestParameters(s2_policy, decides_stage1_permissions)
{
	return cr_make_param_array(struct pol_case, pol_cases,
				   sizeof(pol_cases) / sizeof(pol_cases[0]));
}

ParameterizedTest(struct pol_case *pc, s2_policy, decides_stage1_permissions)
{
	struct s2_prot prot = { .user = pc->user_page, .c = true };
	struct s2_xlate x;
	int rc;

	cr_assert_eq(s2_perms_parse(pc->perms, &prot.perms), 0);
	rig(pc->fmt, pc->levels, &prot);
	if (pc->table_clear || pc->leaf_set) {
		/* find the entries (table_pa records them), then patch them */
		uint64_t up, leaf;
		R.pol_answer = true;
		cr_assert_eq(walk(S2_ACC_READ, pc->user_page, &POL, &x), S2_FAULT_NONE);
		cr_assert_eq(R.calls, pc->levels);
		up = R.seen[R.calls - 2] + GOFF;
		leaf = R.seen[R.calls - 1] + GOFF;
		sim_mem_poke64(R.mem, up, sim_mem_peek64(R.mem, up) & ~pc->table_clear);
		sim_mem_poke64(R.mem, leaf, sim_mem_peek64(R.mem, leaf) | pc->leaf_set);
		R.pol_calls = 0;
	}
	R.pol_answer = pc->answer;
	rc = walk(pc->acc, pc->user, &POL, &x);
	cr_expect_eq(rc, pc->rc, "%s: rc %d", pc->name, rc);
	cr_assert_eq(R.pol_calls, 1, "%s", pc->name);
	cr_expect_eq(R.pol_acc, pc->acc);
	cr_expect_eq(R.pol_leaf.type, S2_PTE_LEAF);
	cr_expect_eq(R.pol_leaf.addr, GPA);
	cr_expect_eq(R.pol_leaf.prot.perms, pc->seen_perms, "%s: perms %x", pc->name,
		     R.pol_leaf.prot.perms);
	cr_expect_eq(R.pol_leaf.prot.user, pc->seen_user, "%s", pc->name);
	cr_expect(R.pol_leaf.prot.c);
	cr_expect_eq(x.refs, pc->levels);
	if (rc) {
		cr_expect_eq(x.fault.stage, 1);
		cr_expect_eq(x.fault.level, pc->fmt == S1_FMT_SV39 ? 0 : 1);
		cr_expect_eq(x.fault.code, pc->code, "%s: code 0x%llx", pc->name,
			     (unsigned long long)x.fault.code);
		cr_expect_eq(x.fault.addr, VA);
	} else {
		cr_expect_eq(x.pa, GPA | (VA & 0xFFF));
		cr_expect_eq(x.perms, pc->seen_perms);
	}
	unrig();
}

Test(s2_policy, does_not_replace_the_accessed_dirty_rules)
{
	struct s2_prot prot = { .perms = RW, .ad_clear = true };
	struct s2_xlate x;

	rig(S1_FMT_SV39, 3, &prot);
	R.pol_answer = true;
	/* Svade: A = 0 is a page fault before any permission question */
	cr_expect_eq(walk(S2_ACC_READ, false, &POL, &x), S2_FAULT_ACCESS);
	cr_expect_eq(x.fault.code, 13);
	cr_expect_eq(R.pol_calls, 0);
	unrig();

	prot.ad_clear = false;
	rig(S1_FMT_SV39, 3, &prot);
	R.pol_answer = true;
	/* a mapped-writable Sv leaf has D = 1: clear it, a store is a page fault after the policy */
	cr_assert_eq(walk(S2_ACC_READ, false, NULL, &x), S2_FAULT_NONE);
	sim_mem_poke64(R.mem, R.seen[2] + GOFF, sim_mem_peek64(R.mem, R.seen[2] + GOFF) & ~(1ull << 7));
	cr_expect_eq(walk(S2_ACC_WRITE, false, &POL, &x), S2_FAULT_ACCESS);
	cr_expect_eq(x.fault.code, 15);
	cr_expect_eq(R.pol_calls, 1);
	unrig();
}

/* ------------------------------------------------------------------ */
/* 2D: stage 2 keeps its own rules; nested-TLB hits ask the policy      */
/* ------------------------------------------------------------------ */

static uint64_t s2_pool;

static uint64_t pool_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	s2_pool += 0x1000;
	return s2_pool - 0x1000;
}

static const struct s2_mm_ops s2mm = { .alloc_page = pool_alloc };

Test(s2_policy, nested_tlb_hits_ask_the_policy_stage2_never)
{
	struct s2_prot rw = { .perms = RW, .user = true, .c = true };
	struct s2_prot ro = { .perms = S2_PERM_R };
	struct s2_timing t = { .tlb_hit = { 1, 7, 20 }, .ntlb_hit = 1, .pwc_hit = 2, .walk = 5 };
	struct s2_mmu_cfg cfg = {
		.tlb_levels = 1, .tlb = { { 16, 4 } }, .ntlb = { 64, 8 },
		.pwc_s1 = { 1, 0 }, .pwc_s2 = { 1, 0 },
	};
	struct s2_stats st = { 0 };
	struct s2_space sp = { .vmid = 1 };
	struct s2_req q = RQ(S2_ACC_READ, true, &POL);
	struct s2_mmu *m;
	struct s2_xlate x;
	int rc;

	rig(S1_FMT_X86_64, 4, &rw);
	s2_pool = 0x40000000;
	/* stage 2: guest-physical [0, 16M) at GOFF, read-only */
	sp.s2 = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, R.mem, S2_NO_PAGE, &s2mm, NULL, NULL, &rc);
	cr_assert_not_null(sp.s2);
	cr_assert_eq(s2_map(sp.s2, NULL, 0, GOFF, 0x1000000, SIM_SZ_4K, &ro), S2_OK);
	sp.s1 = R.sw;
	m = s2_mmu_new(&cfg, &t, &st);
	cr_assert_not_null(m);

	/* a refusing policy does not touch stage 2 */
	R.pol_answer = false;
	cr_expect_eq(s2_mmu_translate(m, &sp, GPA, &q, &x), S2_FAULT_NONE);
	cr_expect_eq(R.pol_calls, 0);

	/* walk: the policy sees the stage-1 leaf once */
	R.pol_answer = true;
	cr_assert_eq(s2_mmu_translate_2d(m, &sp, VA, &q, &x), S2_FAULT_NONE);
	cr_expect_eq(x.pa, GOFF + GPA + (VA & 0xFFF));
	/* 4 guest-table reads, each after a 4-reference stage-2 walk; the final GPA hits the TLB */
	cr_expect_eq(x.refs, 20);
	cr_expect_eq(R.pol_calls, 1);
	cr_expect_eq(st.ntlb_miss, 1);

	/* hit: asked again, with what the nested TLB keeps */
	memset(&R.pol_leaf, 0xa5, sizeof(R.pol_leaf));
	cr_assert_eq(s2_mmu_translate_2d(m, &sp, VA, &q, &x), S2_FAULT_NONE);
	cr_expect(x.tlb_hit);
	cr_expect_eq(x.refs, 0);
	cr_expect_eq(st.ntlb_hit, 1);
	cr_expect_eq(R.pol_calls, 2);
	cr_expect_eq(R.pol_leaf.type, S2_PTE_LEAF);
	cr_expect_eq(R.pol_leaf.addr, GPA);
	cr_expect_eq(R.pol_leaf.prot.perms, RW);
	cr_expect(R.pol_leaf.prot.user);
	cr_expect(R.pol_leaf.prot.c);
	cr_expect_eq(R.pol_leaf.accessed, false, "fields the nested TLB does not keep are zero");

	/* a refusal on a hit drops the entry and re-walks to a stage-1 fault */
	R.pol_answer = false;
	cr_expect_eq(s2_mmu_translate_2d(m, &sp, VA, &q, &x), S2_FAULT_PERMISSION);
	cr_expect_eq(x.fault.stage, 1);
	cr_expect_eq(x.fault.code, 0x5, "#PF P|U");
	cr_expect_eq(R.pol_calls, 4);
	cr_expect_eq(st.ntlb_miss, 2);

	/* stage 2 still refuses a write the policy allows at stage 1 */
	R.pol_answer = true;
	q.acc = S2_ACC_WRITE;
	cr_expect_eq(s2_mmu_translate_2d(m, &sp, VA, &q, &x), S2_FAULT_PERMISSION);
	cr_expect_eq(x.fault.stage, 2);

	s2_mmu_free(m);
	s2_pgt_free(sp.s2);
	unrig();
}
