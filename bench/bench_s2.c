/*
 * bench_s2.c - translations per second of the stage-2 hardware model:
 * TLB hit, 1D (stage-2) miss, 2D (nested) miss with every cache off
 * (24 references each), a nested-TLB hit, and a CPU-style guest stage-1
 * walk (a table attached at its root, entries reached through table_pa,
 * a permission policy).  Goals (issue "Stage-2 translation hardware"):
 * >= 50M/s TLB hits, >= 5M/s cold 2D walks.
 */
#include "bench/bench.h"

#include <stdlib.h>
#include <string.h>

#include "stage2/s2.h"

#define B_GBASE 0x10000000ull   /* guest memory at SPA 256M */
#define B_GSIZE 0x4000000ull    /* 64M of guest memory in 4K pages */
#define B_POOL  0x80000000ull   /* stage-2 table pages */

struct bench_s2_env {
	struct sim_mem *mem;
	uint64_t next;             /* stage-2 pool */
	uint64_t s1_next;          /* stage-1 table GPAs */
	struct s2_pgt *s2, *s1;
};

static struct bench_s2_env BE;

static uint64_t b_s2_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	BE.next += 0x1000;
	return BE.next - 0x1000;
}

static uint64_t b_s1_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	BE.s1_next += 0x1000;
	return BE.s1_next - 0x1000;
}

static bool b_s1_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	(void)arg;
	*pa = B_GBASE + gpa;
	return gpa < B_GSIZE;
}

static const struct s2_mm_ops b_s2mm = { .alloc_page = b_s2_alloc };
static const struct s2_mm_ops b_s1mm = { .alloc_page = b_s1_alloc, .table_pa = b_s1_pa };

/* The CPU's policy shape: a callback deciding from the leaf's permissions. */
static bool b_policy(void *arg, const struct s2_pte *leaf, enum s2_access acc)
{
	(void)arg;
	return acc == S2_ACC_READ ? (leaf->prot.perms & S2_PERM_R) != 0
				  : (leaf->prot.perms & S2_PERM_W) != 0;
}

static int bench_s2_setup(void)
{
	struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W };
	int rc;

	BE.mem = sim_mem_new(1ull << 36, 0);
	BE.next = B_POOL;
	BE.s1_next = 0x101000;
	BE.s2 = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, BE.mem, S2_NO_PAGE, &b_s2mm, NULL, NULL, &rc);
	if (!BE.s2 || s2_map(BE.s2, NULL, 0, B_GBASE, B_GSIZE, SIM_SZ_4K, &rw) != S2_OK)
		return -1;
	BE.s1 = s2_pgt_new(s2_fmt(S1_FMT_X86_64), 4, BE.mem, 0x100000, &b_s1mm, NULL, NULL, &rc);
	/* 16M of guest virtual space at 4K, onto guest-physical 32M.. */
	if (!BE.s1 ||
	    s2_map(BE.s1, NULL, 0x7f0000000000ull, 0x2000000, 0x1000000, SIM_SZ_4K, &rw) != S2_OK)
		return -1;
	return 0;
}

void bench_s2(void)
{
	struct s2_mmu_cfg on = {
		.tlb_levels = 2, .tlb = { { 16, 4 }, { 128, 16 }, { 1, 0 } },
		.ntlb = { 64, 8 }, .pwc_s1 = { 4, 8 }, .pwc_s2 = { 4, 8 },
	};
	struct s2_mmu_cfg off = { .tlb_levels = 1, .tlb = { { 1, 0 } }, .ntlb = { 1, 0 },
				  .pwc_s1 = { 1, 0 }, .pwc_s2 = { 1, 0 } };
	struct s2_timing t = { .tlb_hit = { 1, 7, 20 }, .ntlb_hit = 1, .pwc_hit = 2, .walk = 5 };
	struct s2_req q = { .acc = S2_ACC_READ, .who = NULL, .src = SIM_SRC_PTW };
	struct s2_space sp = { .vmid = 1 };
	struct s2_mmu *hot, *cold;
	struct s2_xlate x;
	uint64_t t0, sink = 0;
	const uint64_t n_hit = 20000000, n_miss = 2000000, n_2d = 1000000;

	bench_section("stage-2 translation (stage2/)");
	if (bench_s2_setup()) {
		bench_section("bench_s2: set-up failed");
		return;
	}
	sp.s2 = BE.s2;
	hot = s2_mmu_new(&on, &t, NULL);
	cold = s2_mmu_new(&off, &t, NULL);

	s2_mmu_translate(hot, &sp, 0x5000, &q, &x);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n_hit; i++) {
		s2_mmu_translate(hot, &sp, 0x5000 + (i & 0xff8), &q, &x);
		sink += x.pa;
	}
	double hit = bench_report("s2 TLB hit (stage 2)", (double)n_hit, bench_now_ns() - t0,
				  "xlate");

	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n_miss; i++) {
		s2_mmu_translate(cold, &sp, (i * 0x1000) & (B_GSIZE - 1), &q, &x);
		sink += x.refs;
	}
	bench_report("s2 1D miss (4 refs)", (double)n_miss, bench_now_ns() - t0, "xlate");

	sp.s1 = BE.s1;
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n_2d; i++) {
		s2_mmu_translate_2d(cold, &sp, 0x7f0000000000ull + ((i * 0x1000) & 0xFFFFFF), &q, &x);
		sink += x.refs;
	}
	double miss2d = bench_report("s2 2D cold walk (24 refs)", (double)n_2d, bench_now_ns() - t0,
				     "xlate");

	s2_mmu_translate_2d(hot, &sp, 0x7f0000000000ull, &q, &x);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n_hit; i++) {
		s2_mmu_translate_2d(hot, &sp, 0x7f0000000000ull + (i & 0xff8), &q, &x);
		sink += x.pa;
	}
	bench_report("s2 2D nested-TLB hit", (double)n_hit, bench_now_ns() - t0, "xlate");
	bench_ratio("s2 TLB hit / 2D cold walk", hit, miss2d);

	{
		/* the guest's table as a CPU sees it: attached at its root GPA */
		struct s2_policy pol = { .perm_ok = b_policy };
		struct s2_req qp = q;
		int rc;
		struct s2_pgt *att = s2_pgt_attach(s2_fmt(S1_FMT_X86_64), 4, BE.mem, 0x100000,
						   &b_s1mm, NULL, &rc);

		qp.policy = &pol;
		t0 = bench_now_ns();
		for (uint64_t i = 0; att && i < n_miss; i++) {
			s2_translate(att, 0x7f0000000000ull + ((i * 0x1000) & 0xFFFFFF), &qp, &x);
			sink += x.refs;
		}
		bench_report("s2 stage-1 walk, attached + policy (4 refs)", (double)n_miss,
			     bench_now_ns() - t0, "xlate");
		s2_pgt_free(att);
	}
	bench_sink(sink);

	s2_mmu_free(hot);
	s2_mmu_free(cold);
	s2_pgt_free(BE.s1);
	s2_pgt_free(BE.s2);
	sim_mem_free(BE.mem);
	memset(&BE, 0, sizeof(BE));
}
