/*
 * test_s2_who.c - the timing convention of stage 2 (struct sim_who, as
 * the RMP and the IOMMU use it): every software walk (the root zeroing of
 * s2_pgt_new, map, unmap, protect, annotate, get_leaf, s2_walk) and every
 * hardware translation (struct s2_req.who) makes its memory accesses as
 * who->agent and adds exactly their cycles to who->mem_cycles; a NULL who
 * makes the same accesses as no agent (-1) and reports nothing.  The
 * memory is a standalone one whose timing hook records every access and
 * prices it by kind, so each sum is known.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "stage2/s2.h"

#define LAT_R   5u      /* an 8-byte read */
#define LAT_W   7u      /* an 8-byte write */
#define LAT_PG  100u    /* a 4K write (a new table page zeroed) */
#define POOL    0x40000000ull

struct acc {
	int agent;
	enum sim_mem_src src;
	uint64_t pa;
	uint32_t len;
	bool write;
};

static struct {
	unsigned n, cap;
	struct acc *a;
	uint64_t cycles;      /* sum of what the hook returned */
} REC;

static uint32_t rec_access(void *arg, int agent, enum sim_mem_src src, uint64_t pa, uint32_t len,
			   bool write)
{
	uint32_t c = len == 4096 ? LAT_PG : write ? LAT_W : LAT_R;

	(void)arg;
	if (REC.n == REC.cap) {
		REC.cap = REC.cap ? 2 * REC.cap : 1024;
		REC.a = realloc(REC.a, REC.cap * sizeof(*REC.a));
		cr_assert_not_null(REC.a);
	}
	REC.a[REC.n++] = (struct acc){ agent, src, pa, len, write };
	REC.cycles += c;
	return c;
}

static const struct sim_mem_timing rec_timing = { rec_access, NULL };

static void rec_reset(void)
{
	REC.n = 0;
	REC.cycles = 0;
}

/* Every access recorded since the reset was made by @agent from @src. */
static void rec_expect_all(int agent, enum sim_mem_src src, const char *what)
{
	for (unsigned i = 0; i < REC.n; i++) {
		cr_expect_eq(REC.a[i].agent, agent, "%s: access %u by agent %d, want %d", what, i,
			     REC.a[i].agent, agent);
		cr_expect_eq(REC.a[i].src, src, "%s: access %u from source %d, want %d", what, i,
			     REC.a[i].src, src);
	}
}

static uint64_t pool_next;

static uint64_t pool_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	pool_next += 0x1000;
	return pool_next - 0x1000;
}

static void pool_free(void *arg, uint64_t pa)
{
	(void)arg, (void)pa;
}

static const struct s2_mm_ops pool_mm = { .alloc_page = pool_alloc, .free_page = pool_free };

static struct sim_mem *mem_new(void)
{
	struct sim_mem *m = sim_mem_new(1ull << 36, 1);

	sim_mem_set_timing(m, &rec_timing);
	rec_reset();
	pool_next = POOL;
	return m;
}

/* ------------------------------------------------------------------ */
/* Software walks                                                      */
/* ------------------------------------------------------------------ */

/*
 * s2_pgt_new zeroes the root (one 4K write); a 4K map on the empty 4-level
 * NPT table reads the root entry twice in its check pass, then for each of
 * the 4 levels reads the entry, writes it (three new tables, each a zeroed
 * page, then the leaf) and reads it back: 10 reads, 4 entry writes, 3 page
 * writes.  who->mem_cycles accumulates (it is not reset).
 */
Test(s2_who, map_on_an_empty_table_exact_cycles)
{
	struct sim_mem *m = mem_new();
	struct sim_who who = { .now = 1234, .agent = 7, .mem_cycles = 1000 };
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_pgt *p;
	int rc;

	p = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, m, S2_NO_PAGE, &pool_mm, NULL, &who, &rc);
	cr_assert_not_null(p);
	cr_expect_eq(REC.n, 1);
	cr_expect_eq(REC.a[0].len, 4096);
	cr_expect_eq(REC.a[0].pa, POOL);
	cr_expect_eq(who.mem_cycles, 1000 + LAT_PG, "root zeroing: %llu",
		     (unsigned long long)who.mem_cycles);
	rec_expect_all(7, SIM_SRC_DATA, "s2_pgt_new");

	rec_reset();
	cr_assert_eq(s2_map(p, &who, 0x5000, 0x200000, SIM_SZ_4K, SIM_SZ_4K, &rw), S2_OK);
	cr_expect_eq(REC.n, 17);
	cr_expect_eq(who.mem_cycles, 1000 + LAT_PG + 10 * LAT_R + 4 * LAT_W + 3 * LAT_PG,
		     "map: %llu", (unsigned long long)who.mem_cycles);
	cr_expect_eq(REC.cycles, 10 * LAT_R + 4 * LAT_W + 3 * LAT_PG);
	rec_expect_all(7, SIM_SRC_DATA, "s2_map");
	cr_expect_eq(who.now, 1234, "now is the caller's, never changed");
	cr_expect_eq(who.agent, 7);
	s2_pgt_free(p);
	sim_mem_free(m);
}

enum sw_op { OP_MAP_BLOCK, OP_UNMAP_SPLIT, OP_PROTECT_SPLIT, OP_ANNOTATE, OP_GET_LEAF,
	     OP_UNMAP_FREE, OP_WALK, OP_MAP_EXISTS };

struct sw_case {
	char name[32];
	enum s2_fmt_id fmt;
	unsigned levels;
	enum sw_op op;
	int want;             /* the operation's result */
};

static struct sw_case sw_cases[] = {
	{ "map-2m-block-arm64", S2_FMT_ARM64, 4, OP_MAP_BLOCK, S2_OK },
	{ "unmap-split-arm64-bbm", S2_FMT_ARM64, 4, OP_UNMAP_SPLIT, S2_OK },
	{ "unmap-split-npt", S2_FMT_NPT, 4, OP_UNMAP_SPLIT, S2_OK },
	{ "protect-split-ept", S2_FMT_EPT, 4, OP_PROTECT_SPLIT, S2_OK },
	{ "annotate-arm64", S2_FMT_ARM64, 3, OP_ANNOTATE, S2_OK },
	{ "get-leaf-npt", S2_FMT_NPT, 4, OP_GET_LEAF, S2_OK },
	{ "unmap-frees-tables-npt", S2_FMT_NPT, 4, OP_UNMAP_FREE, S2_OK },
	{ "walk-visitor-sv39", S1_FMT_SV39, 3, OP_WALK, S2_OK },
	{ "map-over-a-leaf-fails", S2_FMT_NPT, 4, OP_MAP_EXISTS, S2_ERR_EXISTS },
};

ParameterizedTestParameters(s2_who, software_walks_charge_who)
{
	return cr_make_param_array(struct sw_case, sw_cases, sizeof(sw_cases) / sizeof(sw_cases[0]));
}

static int count_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	(void)when;
	s2_visit_set(ctx, ctx->old);   /* a store, timed like the operations' */
	return 0;
}

/* Set up @p as every case expects (untimed for the test: NULL who), then run @op with @who. */
static int sw_run(struct s2_pgt *p, enum sw_op op, struct sim_who *who)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_walker w = { .visit = count_visit, .flags = S2_WALK_LEAF | S2_WALK_TABLE_POST };
	uint64_t raw;
	int level;

	cr_assert_eq(s2_map(p, NULL, 0x40000000, 0x80000000, SIM_SZ_2M, SIM_SZ_2M, &rw), S2_OK);
	cr_assert_eq(s2_map(p, NULL, 0x1000, 0x200000, 0x3000, SIM_SZ_4K, &rw), S2_OK);
	rec_reset();
	switch (op) {
	case OP_MAP_BLOCK:
		return s2_map(p, who, 0x40200000, 0x80200000, SIM_SZ_2M, SIM_SZ_2M, &rw);
	case OP_UNMAP_SPLIT:
		return s2_unmap(p, who, 0x40001000, 0x1000);
	case OP_PROTECT_SPLIT:
		return s2_protect(p, who, 0x40001000, 0x2000, S2_PERM_R);
	case OP_ANNOTATE:
		return s2_annotate(p, who, 0x40000000, 0x400000, 3);
	case OP_GET_LEAF:
		return s2_get_leaf(p, who, 0x2000, &raw, &level, NULL);
	case OP_UNMAP_FREE:
		return s2_unmap(p, who, 0, 0x80000000);
	case OP_WALK:
		return s2_walk(p, who, 0, 0x80000000, &w);
	case OP_MAP_EXISTS:
		return s2_map(p, who, 0x2000, 0x300000, SIM_SZ_4K, SIM_SZ_4K, &rw);
	}
	return -1;
}

/*
 * The same operation on two identical tables, one by a who and one by
 * NULL: the same accesses (addresses, sizes, kinds) in the same order,
 * made by who->agent or by -1; who->mem_cycles grows by exactly their
 * cycles, on success and on failure.
 */
ParameterizedTest(struct sw_case *sc, s2_who, software_walks_charge_who)
{
	struct sim_mem *m[2];
	struct s2_pgt *p[2];
	struct acc *seen[2];
	unsigned n[2];
	struct sim_who who = { .now = 99, .agent = 3, .mem_cycles = 5 };

	for (int k = 0; k < 2; k++) {
		int rc;

		m[k] = mem_new();
		p[k] = s2_pgt_new(s2_fmt(sc->fmt), sc->levels, m[k], S2_NO_PAGE, &pool_mm, NULL,
				  NULL, &rc);
		cr_assert_not_null(p[k]);
		rc = sw_run(p[k], sc->op, k == 0 ? &who : NULL);
		cr_expect_eq(rc, sc->want, "%s: rc %d", sc->name, rc);
		cr_assert_gt(REC.n, 0, "%s: the operation accessed memory", sc->name);
		rec_expect_all(k == 0 ? 3 : -1, SIM_SRC_DATA, sc->name);
		if (k == 0)
			cr_expect_eq(who.mem_cycles, 5 + REC.cycles, "%s: who %llu, accesses %llu",
				     sc->name, (unsigned long long)who.mem_cycles,
				     (unsigned long long)REC.cycles);
		n[k] = REC.n;
		seen[k] = malloc(REC.n * sizeof(*seen[k]));
		cr_assert_not_null(seen[k]);
		memcpy(seen[k], REC.a, REC.n * sizeof(*seen[k]));
	}
	cr_assert_eq(n[0], n[1], "%s: %u accesses with a who, %u without", sc->name, n[0], n[1]);
	for (unsigned i = 0; i < n[0]; i++) {
		cr_expect_eq(seen[0][i].pa, seen[1][i].pa, "%s: access %u", sc->name, i);
		cr_expect_eq(seen[0][i].len, seen[1][i].len, "%s: access %u", sc->name, i);
		cr_expect_eq(seen[0][i].write, seen[1][i].write, "%s: access %u", sc->name, i);
	}
	cr_expect_eq(who.agent, 3);
	cr_expect_eq(who.now, 99);
	for (int k = 0; k < 2; k++) {
		free(seen[k]);
		s2_pgt_free(p[k]);
		sim_mem_free(m[k]);
	}
}

/* ------------------------------------------------------------------ */
/* Hardware translations                                               */
/* ------------------------------------------------------------------ */

/*
 * s2_translate: the table reads and A/D writes are the requester's
 * (SIM_SRC_PTW here, req->src), out->mem_cycles prices them, and
 * who->mem_cycles grows by the same amount; out->cycles is the whole
 * latency (memory only, for s2_translate).  A faulting walk charges the
 * reads it made.
 */
Test(s2_who, translate_charges_the_requester)
{
	struct sim_mem *m = mem_new();
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W, .ad_clear = true };
	struct sim_who who = { .now = 10, .agent = 4, .mem_cycles = 50 };
	struct s2_req req = { .acc = S2_ACC_WRITE, .who = &who, .src = SIM_SRC_PTW };
	struct s2_xlate x;
	struct s2_pgt *p;
	int rc;

	p = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, m, S2_NO_PAGE, &pool_mm, NULL, NULL, &rc);
	cr_assert_not_null(p);
	cr_assert_eq(s2_map(p, NULL, 0x5000, 0x200000, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);

	rec_reset();
	cr_assert_eq(s2_translate(p, 0x5008, &req, &x), S2_FAULT_NONE);
	cr_expect_eq(x.refs, 4);
	cr_expect_eq(x.ev.ad_updates, 1, "the leaf's A and D set in one write");
	cr_expect_eq(x.mem_cycles, 4 * LAT_R + LAT_W);
	cr_expect_eq(REC.cycles, x.mem_cycles);
	cr_expect_eq(x.cycles, x.mem_cycles);
	cr_expect_eq(who.mem_cycles, 50 + x.mem_cycles);
	rec_expect_all(4, SIM_SRC_PTW, "translate");

	rec_reset();
	req.src = SIM_SRC_IOPT;
	cr_assert_eq(s2_translate(p, 0x5008, &req, &x), S2_FAULT_NONE);
	cr_expect_eq(x.ev.ad_updates, 0, "A and D already set");
	cr_expect_eq(x.mem_cycles, 4 * LAT_R);
	cr_expect_eq(who.mem_cycles, 50 + 4 * LAT_R + LAT_W + 4 * LAT_R);
	rec_expect_all(4, SIM_SRC_IOPT, "translate (IOMMU source)");

	rec_reset();
	cr_expect_eq(s2_translate(p, 0x40000000, &req, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.refs, 2, "root entry, then the invalid 1G entry");
	cr_expect_eq(x.mem_cycles, 2 * LAT_R);
	cr_expect_eq(who.mem_cycles, 50 + 4 * LAT_R + LAT_W + 4 * LAT_R + 2 * LAT_R);

	rec_reset();
	req.who = NULL;
	req.src = SIM_SRC_PTW;
	cr_assert_eq(s2_translate(p, 0x5008, &req, &x), S2_FAULT_NONE);
	cr_expect_eq(x.mem_cycles, 4 * LAT_R, "reported in the result all the same");
	rec_expect_all(-1, SIM_SRC_PTW, "translate without a who");
	s2_pgt_free(p);
	sim_mem_free(m);
}

struct hook_seen {
	unsigned calls;
	int agent;
};

static int spy_check(void *arg, const struct s2_check *chk, uint64_t *cycles)
{
	struct hook_seen *h = arg;

	h->calls++;
	h->agent = chk->agent;
	*cycles += 300;
	return 0;
}

/* The guest's stage-1 table pages: GPAs from 1M + 4K up; guest-physical 0 is system GBASE. */
#define GBASE 0x10000000ull
static uint64_t s1_next;

static uint64_t s1_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	s1_next += 0x1000;
	return s1_next - 0x1000;
}

static bool s1_table_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	(void)arg;
	*pa = GBASE + gpa;
	return true;
}

static const struct s2_mm_ops s1_mm = { .alloc_page = s1_alloc, .table_pa = s1_table_pa };

/*
 * Through an MMU (2D): the walk's memory cycles go to who->mem_cycles and
 * out->mem_cycles; the check hook sees who->agent and its own cycles stay
 * in out->check_cycles (never in who); out->cycles is s2_latency(), the
 * memory included.  A nested-TLB hit reads no memory: who is unchanged.
 */
Test(s2_who, mmu_2d_translation_charges_the_requester)
{
	struct sim_mem *m = mem_new();
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_mmu_cfg cfg = {
		.tlb_levels = 1, .tlb = { { 16, 4 } }, .ntlb = { 16, 4 },
		.pwc_s1 = { 4, 0 }, .pwc_s2 = { 4, 0 },   /* no walk caches: every level read */
	};
	struct s2_timing t = { .tlb_hit = { 1 }, .ntlb_hit = 2, .pwc_hit = 3, .walk = 11 };
	struct hook_seen seen = { 0 };
	struct s2_check_hook hook = { spy_check, &seen };
	struct sim_who who = { .now = 0, .agent = 9, .mem_cycles = 0 };
	struct s2_req req = { .acc = S2_ACC_READ, .who = &who, .src = SIM_SRC_PTW };
	struct s2_space sp = { .vmid = 1, .hook = &hook };
	struct s2_xlate x;
	struct s2_mmu *mmu;
	uint64_t before;
	int rc;

	sp.s2 = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, m, S2_NO_PAGE, &pool_mm, NULL, NULL, &rc);
	cr_assert_not_null(sp.s2);
	cr_assert_eq(s2_map(sp.s2, NULL, 0, GBASE, 0x1000000, SIM_SZ_4K, &rw), S2_OK);
	s1_next = 0x101000;
	sp.s1 = s2_pgt_new(s2_fmt(S1_FMT_X86_64), 4, m, 0x100000, &s1_mm, NULL, NULL, &rc);
	cr_assert_not_null(sp.s1);
	cr_assert_eq(s2_map(sp.s1, NULL, 0, 0x300000, SIM_SZ_4K, SIM_SZ_4K, &rw), S2_OK);
	mmu = s2_mmu_new(&cfg, &t, NULL);
	cr_assert_not_null(mmu);

	rec_reset();
	rc = s2_mmu_translate_2d(mmu, &sp, 0, &req, &x);
	cr_assert_eq(rc, S2_FAULT_NONE, "2D: %d", rc);
	cr_expect_eq(x.refs, 24, "a cold 4x4 nested walk: %u", x.refs);
	cr_expect_eq(x.ev.walks, 6, "one stage-1 walk, five stage-2 walks");
	cr_expect_eq(x.ev.checks, 5, "4 guest table pages and the final page");
	cr_expect_eq(seen.calls, 5);
	cr_expect_eq(who.mem_cycles, x.mem_cycles);
	cr_expect_eq(REC.cycles, x.mem_cycles, "every access priced once");
	cr_expect_eq(x.check_cycles, 5 * 300);
	cr_expect_eq(x.cycles, s2_latency(&t, &x));
	cr_expect_eq(x.cycles, x.mem_cycles + x.check_cycles + 2ull * x.ev.ntlb_probe +
			       3ull * x.ev.pwc_probe + 1ull * x.ev.tlb_probe[0] + 11ull * x.ev.walks);
	cr_expect_eq(seen.agent, 9, "the hook is told the requester");
	rec_expect_all(9, SIM_SRC_PTW, "2D walk");

	before = who.mem_cycles;
	rec_reset();
	cr_assert_eq(s2_mmu_translate_2d(mmu, &sp, 0x10, &req, &x), S2_FAULT_NONE);
	cr_expect(x.tlb_hit);
	cr_expect_eq(REC.n, 0);
	cr_expect_eq(x.mem_cycles, 0);
	cr_expect_eq(who.mem_cycles, before, "a TLB hit reads no memory");

	req.who = NULL;
	s2_mmu_tlbi_all(mmu);
	rec_reset();
	cr_assert_eq(s2_mmu_translate_2d(mmu, &sp, 0, &req, &x), S2_FAULT_NONE);
	cr_expect_eq(seen.agent, -1, "no requester: agent -1");
	cr_expect_eq(x.mem_cycles, REC.cycles);
	rec_expect_all(-1, SIM_SRC_PTW, "2D walk without a who");
	cr_expect_eq(who.mem_cycles, before);
	s2_mmu_free(mmu);
	s2_pgt_free(sp.s1);
	s2_pgt_free(sp.s2);
	sim_mem_free(m);
}
