/*
 * test_s2_mmu.c - the translation hardware: TLB hits and levels, stale
 * entries until TLBI (by IPA, by VM, all), walk-cache effect on
 * reference counts, 2D walks (24 references cold, fewer warm), exact
 * latencies, break-before-make invalidation, the check hook (RMP) with
 * and without cached results.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "stage2/s2.h"

#define MEMLAT 10
#define GBASE  0x10000000ull   /* guest memory [0, 4M) lives at SPA GBASE */
#define POOL   0x40000000ull   /* stage-2 table pages */

struct rig {
	struct sim_mem *mem;
	uint64_t next;                 /* stage-2 pool bump */
	uint64_t s1_next;              /* stage-1 table GPAs */
	struct s2_pgt *s2, *s1;
	struct s2_space sp;
	struct s2_mmu *m;
	struct s2_mmu_cfg cfg;
	struct s2_timing t;
	struct s2_stats st;
	struct s2_check_hook hook;
	unsigned checks;               /* hook calls */
	struct s2_check last;          /* last hook argument */
	uint64_t refuse_spa;           /* hook refuses this page (0 = none) */
	bool refuse_table_write;       /* hook refuses guest-table writes (A/D updates) */
	unsigned table_checks;
	unsigned table_write_checks;
};

static struct rig R;

static uint64_t s2_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	R.next += 0x1000;
	return R.next - 0x1000;
}

static void bbm_tlbi(void *arg, uint64_t ia, uint64_t bytes)
{
	(void)arg;
	if (R.m)
		s2_mmu_tlbi_range(R.m, R.sp.vmid, ia, bytes);
}

static const struct s2_mm_ops s2mm = { .alloc_page = s2_alloc, .tlbi = bbm_tlbi };

static uint64_t s1_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	R.s1_next += 0x1000;
	return R.s1_next - 0x1000;
}

static bool s1_table_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	struct s2_req q = { .acc = S2_ACC_READ, .who = NULL, .src = SIM_SRC_PTW };
	struct s2_xlate x;

	(void)arg;
	if (s2_translate(R.s2, gpa, &q, &x))
		return false;
	*pa = x.pa;
	return true;
}

static const struct s2_mm_ops s1mm = { .alloc_page = s1_alloc, .table_pa = s1_table_pa };

static int hook_fn(void *arg, const struct s2_check *chk, uint64_t *cycles)
{
	(void)arg;
	R.checks++;
	R.last = *chk;
	if (chk->table)
		R.table_checks++;
	if (chk->table && chk->acc == S2_ACC_WRITE)
		R.table_write_checks++;
	*cycles += 100;
	if (R.refuse_table_write && chk->table && chk->acc == S2_ACC_WRITE)
		return 9;
	return (R.refuse_spa && (chk->spa & ~0xFFFull) == R.refuse_spa) ? 7 : 0;
}

static void rig_timing(void)
{
	R.t = (struct s2_timing){ .tlb_hit = { 1, 7, 20 }, .ntlb_hit = 1, .pwc_hit = 2, .walk = 5,
				  .tlbi_ipa = 150, .tlbi_vm = 400, .tlbi_all = 800 };
}

/* Default geometry: 2 TLB levels, nested TLB, both walk caches. */
static void rig_default_cfg(void)
{
	R.cfg = (struct s2_mmu_cfg){
		.tlb_levels = 2,
		.tlb = { { 16, 4 }, { 128, 16 }, { 1, 0 } },
		.ntlb = { 64, 8 },
		.pwc_s1 = { 4, 8 },
		.pwc_s2 = { 4, 8 },
	};
}

static void rig_build(enum s2_fmt_id s2fmt, bool with_s1)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	int rc;

	R.mem = sim_mem_new(1ull << 36, MEMLAT);
	R.next = POOL;
	R.s2 = s2_pgt_new(s2_fmt(s2fmt), 4, R.mem, S2_NO_PAGE, &s2mm, NULL, NULL, &rc);
	cr_assert_not_null(R.s2);
	/* Guest memory [0, 4M) in 4K pages: every table page of stage 1 is a 4K leaf. */
	cr_assert_eq(s2_map(R.s2, NULL, 0, GBASE, 0x400000, SIM_SZ_4K, &rw), S2_OK);
	R.sp.vmid = 3;
	R.sp.s2 = R.s2;
	if (with_s1) {
		struct s2_prot p = { .perms = S2_PERM_R | S2_PERM_W, .c = true };
		R.s1_next = 0x101000;
		R.s1 = s2_pgt_new(s2_fmt(S1_FMT_X86_64), 4, R.mem, 0x100000, &s1mm, NULL, NULL,
				  &rc);
		cr_assert_not_null(R.s1);
		cr_assert_eq(s2_map(R.s1, NULL, 0x400000000ull, 0x300000, 0x2000, SIM_SZ_4K, &p),
			     S2_OK);
		R.sp.s1 = R.s1;
	}
	R.m = s2_mmu_new(&R.cfg, &R.t, &R.st);
	cr_assert_not_null(R.m);
}

static void setup(void)
{
	memset(&R, 0, sizeof(R));
	rig_timing();
	rig_default_cfg();
}

static void teardown(void)
{
	s2_mmu_free(R.m);
	s2_pgt_free(R.s1);
	s2_pgt_free(R.s2);
	sim_mem_free(R.mem);
}

static struct s2_req RQ(enum s2_access acc)
{
	return (struct s2_req){ .acc = acc, .who = NULL, .src = SIM_SRC_PTW };
}

static int xl(uint64_t ipa, enum s2_access acc, struct s2_xlate *x)
{
	struct s2_req q = RQ(acc);

	return s2_mmu_translate(R.m, &R.sp, ipa, &q, x);
}

static int xl2(uint64_t va, enum s2_access acc, struct s2_xlate *x)
{
	struct s2_req q = RQ(acc);

	return s2_mmu_translate_2d(R.m, &R.sp, va, &q, x);
}

TestSuite(s2_mmu, .init = setup, .fini = teardown);

Test(s2_mmu, stage2_cold_warm_and_exact_latency)
{
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, false);
	cr_assert_eq(xl(0x5123, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.pa, GBASE + 0x5123);
	cr_expect_eq(x.refs, 4);
	cr_expect_eq(x.tlb_hit, false);
	/* L1 probe 1 + L2 probe 7 + PWC probe 2 + walk 5 + 4 refs x 10. */
	cr_expect_eq(x.cycles, 1 + 7 + 2 + 5 + 40);
	cr_assert_eq(xl(0x5FF8, S2_ACC_WRITE, &x), 0);
	cr_expect_eq(x.refs, 0);
	cr_expect_eq(x.tlb_hit, true);
	cr_expect_eq(x.cycles, 1, "an L1 hit costs the L1 probe only");
	/* Neighbouring page: TLB miss, walk cache gives the last table. */
	cr_assert_eq(xl(0x6000, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 1);
	cr_expect_eq(x.cycles, 1 + 7 + 2 + 5 + 10);
	cr_expect_eq(R.st.tlb_hit[0], 1);
	cr_expect_eq(R.st.tlb_miss[0], 2);
	cr_expect_eq(R.st.tlb_miss[1], 2);
	cr_expect_eq(R.st.pwc_s2_miss, 1);
	cr_expect_eq(R.st.pwc_s2_hit, 1);
	cr_expect_eq(R.st.walks, 2);
	cr_expect_eq(R.st.walk_refs.count, 2);
	cr_expect_eq(R.st.walk_refs.sum, 5);
}

Test(s2_mmu, l2_hit_after_l1_eviction)
{
	struct s2_xlate x;

	R.cfg.tlb[0] = (struct s2_geom){ 1, 1 };
	rig_build(S2_FMT_EPT, false);
	cr_assert_eq(xl(0x1000, S2_ACC_READ, &x), 0);
	cr_assert_eq(xl(0x2000, S2_ACC_READ, &x), 0);     /* evicts 0x1000 from L1 */
	cr_assert_eq(xl(0x1000, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 0);
	cr_expect_eq(x.cycles, 1 + 7);
	cr_expect_eq(R.st.tlb_hit[1], 1);
	cr_assert_eq(xl(0x1000, S2_ACC_READ, &x), 0);     /* refilled into L1 */
	cr_expect_eq(x.cycles, 1);
}

Test(s2_mmu, walk_cache_disabled_means_full_walks)
{
	struct s2_xlate x;

	R.cfg.pwc_s2.ways = 0;
	rig_build(S2_FMT_ARM64, false);
	cr_assert_eq(xl(0x1000, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 4);
	cr_assert_eq(xl(0x2000, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 4);
	cr_expect_eq(x.cycles, 1 + 7 + 5 + 40, "no PWC probe is charged");
}

struct stale_case {
	enum s2_fmt_id fmt;
	int how;               /* 0 tlbi ipa, 1 tlbi vm, 2 tlbi all */
};

static struct stale_case stale_cases[] = {
	{ S2_FMT_ARM64, 0 }, { S2_FMT_ARM64, 1 }, { S2_FMT_ARM64, 2 },
	{ S2_FMT_NPT, 0 }, { S2_FMT_EPT, 1 },
};

ParameterizedTestParameters(s2_mmu, stale_until_tlbi)
{
	return cr_make_param_array(struct stale_case, stale_cases,
				   sizeof(stale_cases) / sizeof(stale_cases[0]));
}

ParameterizedTest(struct stale_case *sc, s2_mmu, stale_until_tlbi)
{
	struct s2_xlate x;
	uint32_t cost;

	rig_build(sc->fmt, false);
	cr_assert_eq(xl(0x7000, S2_ACC_WRITE, &x), 0);
	cr_assert_eq(s2_unmap(R.s2, NULL, 0x7000, 0x1000), S2_OK);
	/* The walk would fault now, but the TLB still has the entry. */
	cr_expect_eq(xl(0x7000, S2_ACC_WRITE, &x), 0);
	cr_expect_eq(x.pa, GBASE + 0x7000);
	cr_expect_eq(x.tlb_hit, true);
	/* Unrelated invalidations keep it. */
	s2_mmu_tlbi_ipa(R.m, R.sp.vmid, 0x8000);
	s2_mmu_tlbi_vm(R.m, R.sp.vmid + 1);
	cr_expect_eq(xl(0x7000, S2_ACC_READ, &x), 0);
	switch (sc->how) {
	case 0: cost = s2_mmu_tlbi_ipa(R.m, R.sp.vmid, 0x7abc); break;
	case 1: cost = s2_mmu_tlbi_vm(R.m, R.sp.vmid); break;
	default: cost = s2_mmu_tlbi_all(R.m); break;
	}
	cr_expect_eq(cost, sc->how == 0 ? 150u : sc->how == 1 ? 400u : 800u);
	cr_expect_eq(xl(0x7000, S2_ACC_READ, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.fault.level, s2_fmt(sc->fmt)->arch_level(0, 4));
	cr_expect_eq(x.fault.addr, 0x7000);
	cr_expect_eq(R.st.faults[S2_FAULT_TRANSLATION], 1);
}

Test(s2_mmu, reduced_permission_stale_relaxed_permission_rewalks)
{
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, false);
	cr_assert_eq(xl(0x9000, S2_ACC_WRITE, &x), 0);
	cr_assert_eq(s2_protect(R.s2, NULL, 0x9000, 0x1000, S2_PERM_R), S2_OK);
	cr_expect_eq(xl(0x9000, S2_ACC_WRITE, &x), 0, "stale rw entry still allows the write");
	s2_mmu_tlbi_ipa(R.m, R.sp.vmid, 0x9000);
	cr_expect_eq(xl(0x9000, S2_ACC_WRITE, &x), S2_FAULT_PERMISSION);
	cr_expect_eq(x.fault.code, 0x100000007ull);
	cr_assert_eq(xl(0x9000, S2_ACC_READ, &x), 0);      /* fills a read-only entry */
	cr_assert_eq(s2_protect(R.s2, NULL, 0x9000, 0x1000, S2_PERM_R | S2_PERM_W), S2_OK);
	cr_expect_eq(xl(0x9000, S2_ACC_WRITE, &x), 0, "relaxing needs no TLBI: re-walk");
	cr_expect_eq(x.refs > 0, true);
}

struct bbm_case {
	enum s2_fmt_id fmt;
	bool stale_block;      /* the 2M TLB entry survives the split */
};

static struct bbm_case bbm_cases[] = { { S2_FMT_ARM64, false }, { S2_FMT_NPT, true } };

ParameterizedTestParameters(s2_mmu, split_break_before_make)
{
	return cr_make_param_array(struct bbm_case, bbm_cases,
				   sizeof(bbm_cases) / sizeof(bbm_cases[0]));
}

ParameterizedTest(struct bbm_case *bc, s2_mmu, split_break_before_make)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_xlate x;

	rig_build(bc->fmt, false);
	cr_assert_eq(s2_map(R.s2, NULL, 0x40000000, 0x80000000, SIM_SZ_2M, 0, &rw), S2_OK);
	cr_assert_eq(xl(0x40000000, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.size, SIM_SZ_2M);
	cr_assert_eq(s2_unmap(R.s2, NULL, 0x40001000, 0x1000), S2_OK);
	cr_assert_eq(xl(0x40001000, S2_ACC_READ, &x), bc->stale_block ? 0 : S2_FAULT_TRANSLATION);
	cr_assert_eq(xl(0x40002000, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.size, bc->stale_block ? SIM_SZ_2M : SIM_SZ_4K);
}

/* ------------------------------------------------------------------ */
/* 2D walks                                                            */
/* ------------------------------------------------------------------ */

Test(s2_mmu, two_d_cold_24_references_without_caches)
{
	struct s2_req q = RQ(S2_ACC_READ);
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, true);
	cr_assert_eq(s2_translate_2d(&R.sp, 0x400000123ull, &q, &x), 0);
	cr_expect_eq(x.refs, 24);
	cr_expect_eq(x.pa, GBASE + 0x300123);
	cr_expect_eq(x.ipa, 0x300123);
	cr_expect_eq(x.size, SIM_SZ_4K);
	cr_expect_eq(x.mem_cycles, 24 * MEMLAT);
	cr_expect_eq(x.c, true);
	cr_expect_eq(x.ev.walks, 5 + 1, "4 nested walks for tables, 1 for data, 1 guest walk");
}

Test(s2_mmu, two_d_with_caches_disabled_is_24_every_time)
{
	struct s2_xlate x;

	R.cfg.tlb[0].ways = R.cfg.tlb[1].ways = 0;
	R.cfg.ntlb.ways = R.cfg.pwc_s1.ways = R.cfg.pwc_s2.ways = 0;
	rig_build(S2_FMT_EPT, true);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(xl2(0x400000000ull, S2_ACC_WRITE, &x), 0);
		cr_expect_eq(x.refs, 24);
		cr_expect_eq(x.cycles, 6 * 5 + 24 * MEMLAT);
	}
	cr_expect_eq(R.st.walk_refs.count, 3);
	cr_expect_eq(R.st.walk_refs.max, 24);
}

Test(s2_mmu, two_d_warm_walks_make_fewer_references)
{
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, true);
	/*
	 * Fresh MMU: the guest root's GPA takes a full nested walk (4+1);
	 * the other three guest tables share its 2M region, so the nested
	 * walk cache leaves one reference each (1+1); the data GPA is in
	 * another 2M region (1G-level hit: 2 references).
	 */
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 5 + 2 + 2 + 2 + 2);
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 0);
	cr_expect_eq(x.tlb_hit, true);
	cr_expect_eq(x.cycles, 1, "nested TLB hit");
	/* Next page: guest walk cache -> last guest table, nested TLB has its page. */
	cr_assert_eq(xl2(0x400001000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 1 + 1);
	cr_expect_eq(x.pa, GBASE + 0x301000);
	cr_expect_eq(R.st.ntlb_hit, 1);
	cr_expect_eq(R.st.ntlb_miss, 2);
	cr_expect_eq(R.st.pwc_s1_hit, 1);
	/* After invalidating the VM it is cold again. */
	s2_mmu_tlbi_vm(R.m, R.sp.vmid);
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.refs, 13);
	{
		unsigned tlb, ntlb, pwc;
		s2_mmu_occupancy(R.m, &tlb, &ntlb, &pwc);
		cr_expect_eq(ntlb, 1);
		cr_expect_eq(tlb, 2 * 5, "5 GPAs translated, in both levels");
		cr_expect_eq(pwc, 3 + 4, "guest: 3 levels; nested: 3 + the data GPA's 2M region");
	}
}

Test(s2_mmu, two_d_faults_report_their_stage)
{
	struct s2_xlate x;
	char buf[64];

	rig_build(S2_FMT_EPT, true);
	/* Guest VA not mapped: stage-1 #PF, not-present, at the PT level. */
	cr_expect_eq(xl2(0x400002000ull, S2_ACC_WRITE, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.fault.stage, 1);
	cr_expect_str_eq(s2_fault_str(&x.fault, buf, sizeof(buf)), "#PF(W)");
	cr_expect_eq(x.fault.va, 0x400002000ull);
	/* Guest maps a GPA stage 2 does not: stage-2 fault on the final GPA. */
	{
		struct s2_prot p = { .perms = S2_PERM_R };
		cr_assert_eq(s2_map(R.s1, NULL, 0x500000000ull, 0x800000, 0x1000, 0, &p), S2_OK);
	}
	cr_expect_eq(xl2(0x500000000ull, S2_ACC_READ, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.fault.stage, 2);
	cr_expect_eq(x.fault.table, false);
	cr_expect_eq(x.fault.addr, 0x800000);
	cr_expect_eq(x.fault.code, 0x181, "EPT: read, GLA valid, final translation");
	cr_expect_str_eq(s2_fault_str(&x.fault, buf, sizeof(buf)), "#S2F(level=2,type=translation)");
	/* A guest table page that stage 2 makes read-only: EPT A/D treats table reads as writes. */
	cr_assert_eq(s2_protect(R.s2, NULL, 0x103000, 0x1000, S2_PERM_R), S2_OK);
	s2_mmu_tlbi_all(R.m);
	cr_expect_eq(xl2(0x400000000ull, S2_ACC_READ, &x), S2_FAULT_PERMISSION);
	cr_expect_eq(x.fault.stage, 2);
	cr_expect_eq(x.fault.table, true);
	cr_expect_eq(x.fault.addr, 0x103000);
	cr_expect_eq(x.fault.code, 0x8A, "EPT: write, R allowed, GLA valid, paging structure");
}

Test(s2_mmu, two_d_npt_table_fault_sets_page_bit)
{
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, true);
	cr_assert_eq(s2_unmap(R.s2, NULL, 0x102000, 0x1000), S2_OK);
	cr_expect_eq(xl2(0x400000000ull, S2_ACC_READ, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.fault.table, true);
	cr_expect_eq(x.fault.code, (1ull << 33) | 0x4, "#NPF: U, PAGE (guest table)");
}

/* ------------------------------------------------------------------ */
/* The check hook                                                      */
/* ------------------------------------------------------------------ */

Test(s2_mmu, check_hook_sees_tables_and_final_address)
{
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, true);
	R.hook = (struct s2_check_hook){ .check = hook_fn };
	R.sp.hook = &R.hook;
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_WRITE, &x), 0);
	cr_expect_eq(R.checks, 5);
	cr_expect_eq(R.table_checks, 4);
	cr_expect_eq(R.last.spa, GBASE + 0x300000);
	cr_expect_eq(R.last.gpa, 0x300000);
	cr_expect_eq(R.last.acc, S2_ACC_WRITE);
	cr_expect_eq(R.last.c, true, "C from the guest leaf");
	cr_expect_eq(R.last.size, SIM_SZ_4K);
	cr_expect_eq(x.check_cycles, 500);
	/* Without cache_check, a nested-TLB hit still checks the final address. */
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_WRITE, &x), 0);
	cr_expect_eq(R.checks, 6);
	cr_expect_eq(x.cycles, 1 + 100);
	/* A refused check is a CHECK fault with the hook's code. */
	R.refuse_spa = GBASE + 0x300000;
	cr_expect_eq(xl2(0x400000000ull, S2_ACC_READ, &x), S2_FAULT_CHECK);
	cr_expect_eq(x.fault.check_rc, 7);
	cr_expect_eq(x.fault.addr, 0x300000);
	cr_expect_eq(x.fault.va, 0x400000000ull);
	/* A refused guest-table page. */
	R.refuse_spa = GBASE + 0x103000;
	s2_mmu_tlbi_all(R.m);
	cr_expect_eq(xl2(0x400000000ull, S2_ACC_READ, &x), S2_FAULT_CHECK);
	cr_expect_eq(x.fault.table, true);
	cr_expect_eq(x.fault.addr, 0x103000);
}

Test(s2_mmu, cached_check_results_and_flush)
{
	struct s2_xlate x;
	struct s2_req q = RQ(S2_ACC_READ);

	R.cfg.cache_check = true;
	rig_build(S2_FMT_NPT, false);
	R.hook = (struct s2_check_hook){ .check = hook_fn };
	R.sp.hook = &R.hook;
	q.c = true;
	cr_assert_eq(s2_mmu_translate(R.m, &R.sp, 0x4000, &q, &x), 0);
	cr_expect_eq(R.checks, 1);
	cr_assert_eq(s2_mmu_translate(R.m, &R.sp, 0x4000, &q, &x), 0);
	cr_expect_eq(R.checks, 1, "cached");
	cr_expect_eq(R.st.checks_cached, 1);
	cr_expect_eq(x.cycles, 1);
	q.acc = S2_ACC_WRITE;
	cr_assert_eq(s2_mmu_translate(R.m, &R.sp, 0x4000, &q, &x), 0);
	cr_expect_eq(R.checks, 2, "another access kind is checked once");
	q.acc = S2_ACC_READ;
	q.vmpl = 1;
	cr_assert_eq(s2_mmu_translate(R.m, &R.sp, 0x4000, &q, &x), 0);
	cr_expect_eq(R.checks, 3, "another VMPL is checked");
	cr_expect_eq(s2_mmu_check_flush(R.m, GBASE + 0x4000, 0x1000), 2, "L1 and L2 copies");
	cr_expect_eq(R.st.check_flush, 2);
	cr_assert_eq(s2_mmu_translate(R.m, &R.sp, 0x4000, &q, &x), 0);
	cr_expect_eq(R.checks, 4);
	cr_expect_eq(x.refs, 1);
}

Test(s2_mmu, bad_geometry_is_refused)
{
	struct s2_mmu_cfg c;

	rig_default_cfg();
	c = R.cfg;
	c.tlb_levels = 0;
	cr_expect_null(s2_mmu_new(&c, &R.t, NULL));
	c = R.cfg;
	c.ntlb.sets = 3;
	cr_expect_null(s2_mmu_new(&c, &R.t, NULL));
	c = R.cfg;
	c.tlb[1].ways = 65;
	cr_expect_null(s2_mmu_new(&c, &R.t, NULL));
}

/*
 * A guest A/D update in a 2D walk writes a guest table page: the nested
 * leaf that maps that page must allow writes.  With the guest tables
 * read-only in NPT a walk that needs no update works; one that must set
 * a leaf's A bit takes a stage-2 permission fault on the entry's GPA
 * (#NPF: P, W, guest-table bit 33), and writes nothing.
 */
Test(s2_mmu, two_d_guest_ad_update_needs_stage2_write)
{
	struct s2_prot noad = { .perms = S2_PERM_R | S2_PERM_W, .ad_clear = true };
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	uint64_t raw;
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, true);
	cr_assert_eq(s2_map(R.s1, NULL, 0x400002000ull, 0x302000, 0x1000, SIM_SZ_4K, &noad), S2_OK);
	cr_assert_eq(s2_protect(R.s2, NULL, 0x100000, 0x4000, S2_PERM_R), S2_OK);

	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0, "A already set: reads suffice");
	cr_expect_eq(x.ev.ad_updates, 0);

	cr_assert_eq(xl2(0x400002000ull, S2_ACC_READ, &x), S2_FAULT_PERMISSION);
	cr_expect_eq(x.fault.stage, 2);
	cr_expect_eq(x.fault.table, true);
	cr_expect_eq(x.fault.acc, S2_ACC_WRITE);
	cr_expect_eq(x.fault.addr, 0x103000 + 8 * 2, "the leaf entry's GPA (third guest table)");
	cr_expect_eq(x.fault.code, (1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 33));
	cr_expect_eq(x.fault.va, 0x400002000ull);
	cr_expect_eq(x.ev.ad_updates, 0);
	cr_assert_eq(s2_get_leaf(R.s1, NULL, 0x400002000ull, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & (1ull << 5), 0, "A still clear");

	cr_assert_eq(s2_protect(R.s2, NULL, 0x100000, 0x4000, rw.perms), S2_OK);
	s2_mmu_tlbi_all(R.m);
	cr_assert_eq(xl2(0x400002000ull, S2_ACC_WRITE, &x), 0);
	cr_expect_eq(x.ev.ad_updates, 1, "A and D in one write");
	cr_assert_eq(s2_get_leaf(R.s1, NULL, 0x400002000ull, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & 0x60, 0x60);
}

/*
 * The check of a 2D access sees the size of the stage-2 leaf (the RMP
 * page-size rule compares the NPT leaf with the RMP entry), on a walk and
 * on a nested-TLB hit alike, although the nested-TLB entry has the
 * smaller of the two leaf sizes (here a 4K guest page over a 2M NPT leaf).
 */
Test(s2_mmu, two_d_check_sees_stage2_leaf_size)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W, .c = true };
	struct s2_xlate x;

	rig_build(S2_FMT_NPT, true);
	cr_assert_eq(s2_map(R.s2, NULL, 0x400000, GBASE + 0x400000, SIM_SZ_2M, SIM_SZ_2M, &rw),
		     S2_OK);
	cr_assert_eq(s2_map(R.s1, NULL, 0x500000000ull, 0x401000, 0x1000, SIM_SZ_4K, &rw), S2_OK);
	R.hook = (struct s2_check_hook){ .check = hook_fn };
	R.sp.hook = &R.hook;
	cr_assert_eq(xl2(0x500000010ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(x.size, SIM_SZ_4K, "the translation's page: the smaller leaf");
	cr_expect_eq(R.last.spa, GBASE + 0x401010);
	cr_expect_eq(R.last.size, SIM_SZ_2M, "walk: the stage-2 leaf");
	cr_assert_eq(xl2(0x500000010ull, S2_ACC_READ, &x), 0);
	cr_expect(x.tlb_hit);
	cr_expect_eq(x.ev.ntlb_probe, 1);
	cr_expect_eq(R.last.size, SIM_SZ_2M, "nested-TLB hit: still the stage-2 leaf");
	/* A 4K guest page over a 4K NPT leaf: 4K both ways. */
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(R.last.size, SIM_SZ_4K);
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(R.last.size, SIM_SZ_4K);
}

/*
 * A guest A/D update in a 2D walk is a guest page-table write: after the
 * stage-2 write permission, the check hook is asked about it (table = 1,
 * acc = write; the RMP needs W at the VMPL, or a hypervisor-owned page
 * for a non-SNP guest), and a refusal writes nothing.  A cached pass of
 * the table read does not stand for the write.
 */
Test(s2_mmu, two_d_guest_ad_update_is_checked)
{
	struct s2_prot noad = { .perms = S2_PERM_R | S2_PERM_W, .ad_clear = true };
	struct s2_xlate x;
	uint64_t raw;

	R.cfg.cache_check = true;
	rig_build(S2_FMT_NPT, true);
	cr_assert_eq(s2_map(R.s1, NULL, 0x400002000ull, 0x302000, 0x1000, SIM_SZ_4K, &noad), S2_OK);
	R.hook = (struct s2_check_hook){ .check = hook_fn };
	R.sp.hook = &R.hook;
	/* Warm the walk (table reads checked and cached) on a page needing no update. */
	cr_assert_eq(xl2(0x400000000ull, S2_ACC_READ, &x), 0);
	cr_expect_eq(R.table_checks, 4);
	cr_expect_eq(R.table_write_checks, 0);
	/* The update of the third guest table's leaf entry: refused. */
	R.refuse_table_write = true;
	cr_assert_eq(xl2(0x400002000ull, S2_ACC_WRITE, &x), S2_FAULT_CHECK);
	cr_expect_eq(x.fault.check_rc, 9);
	cr_expect_eq(x.fault.table, true);
	cr_expect_eq(x.fault.acc, S2_ACC_WRITE);
	cr_expect_eq(x.fault.addr, 0x103000, "the table page's GPA");
	cr_expect_eq(x.fault.va, 0x400002000ull);
	cr_expect_eq(x.ev.ad_updates, 0);
	cr_expect_eq(R.table_write_checks, 1);
	cr_expect_eq(R.last.spa, GBASE + 0x103000);
	cr_expect_eq(R.last.size, SIM_SZ_4K);
	cr_expect_eq(R.last.c, true);
	cr_assert_eq(s2_get_leaf(R.s1, NULL, 0x400002000ull, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & 0x60, 0, "A and D still clear");
	/* Allowed: one write check, then the update. */
	R.refuse_table_write = false;
	cr_assert_eq(xl2(0x400002000ull, S2_ACC_WRITE, &x), 0);
	cr_expect_eq(R.table_write_checks, 2);
	cr_expect_eq(x.ev.ad_updates, 1);
	cr_assert_eq(s2_get_leaf(R.s1, NULL, 0x400002000ull, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & 0x60, 0x60);
}
