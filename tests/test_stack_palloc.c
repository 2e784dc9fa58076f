/*
 * test_stack_palloc.c - the host physical-page allocator: order of
 * allocation, 4K/2M split and merge, leaks, pages the RMP forbids,
 * exhaustion, double frees, sparse cost, stats.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>

#include "sim/stack/stack.h"
#include "test_rmp_util.h"

#define BASE 0x1000000ull    /* 16 MiB: the range [16M, 24M), four 2M blocks */
#define SIZE 0x800000ull

static struct stack_palloc *new_pa(const struct rmp *rmp)
{
	struct sim_err err = { "" };
	struct stack_palloc *pa = stack_palloc_new(BASE, SIZE, rmp, &err);

	cr_assert_not_null(pa, "%s", err.msg);
	return pa;
}

static uint64_t get(struct stack_palloc *pa, bool big)
{
	uint64_t a = 0;

	cr_assert_eq(stack_palloc_get(pa, big, &a), 0, "allocation of %s failed", big ? "2M" : "4K");
	return a;
}

static void assert_stats(const struct stack_palloc *pa, uint64_t a4, uint64_t a2, uint64_t f4,
			 uint64_t f2, uint64_t leaked, uint64_t held, uint64_t pages)
{
	const struct stack_palloc_stats *s = stack_palloc_stats(pa);

	cr_assert_eq(s->alloc_4k, a4, "alloc_4k %llu", (unsigned long long)s->alloc_4k);
	cr_assert_eq(s->alloc_2m, a2, "alloc_2m %llu", (unsigned long long)s->alloc_2m);
	cr_assert_eq(s->free_4k, f4, "free_4k %llu", (unsigned long long)s->free_4k);
	cr_assert_eq(s->free_2m, f2, "free_2m %llu", (unsigned long long)s->free_2m);
	cr_assert_eq(s->leaked, leaked, "leaked %llu", (unsigned long long)s->leaked);
	cr_assert_eq(s->held, held, "held %llu", (unsigned long long)s->held);
	cr_assert_eq(s->pages, pages, "pages %llu", (unsigned long long)s->pages);
}

Test(palloc, bad_ranges_are_refused)
{
	static const struct { uint64_t base, size; const char *msg; } c[] = {
		{ BASE, 0, "must be non-empty and 4K aligned" },
		{ BASE + 0x800, SIZE, "must be non-empty and 4K aligned" },
		{ BASE, SIZE + 0x10, "must be non-empty and 4K aligned" },
		{ SIM_PA_LIMIT - SIM_SZ_2M, 2 * SIM_SZ_2M, "goes beyond 2^52" },
		{ SIM_PA_LIMIT, SIM_SZ_2M, "goes beyond 2^52" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct sim_err err = { "" };

		cr_assert_null(stack_palloc_new(c[i].base, c[i].size, NULL, &err), "case %zu", i);
		cr_assert(strstr(err.msg, c[i].msg), "case %zu: %s", i, err.msg);
	}
}

Test(palloc, order_is_bottom_up_then_lifo)
{
	struct stack_palloc *pa = new_pa(NULL);
	uint64_t a = get(pa, false), b = get(pa, false), c = get(pa, false);

	cr_assert_eq(a, BASE);
	cr_assert_eq(b, BASE + 0x1000);
	cr_assert_eq(c, BASE + 0x2000);
	stack_palloc_put(pa, b, false);
	cr_assert_eq(stack_palloc_state(pa, b), STACK_PAGE_FREE);
	cr_assert_eq(get(pa, false), b, "the lowest free page of the partial block is reused");
	/* A 2M request does not take the split block: the next whole one. */
	cr_assert_eq(get(pa, true), BASE + SIM_SZ_2M);
	assert_stats(pa, 4, 1, 1, 0, 0, 0, 3 + 512);
	cr_assert_eq(stack_palloc_stats(pa)->splits, 1);
	stack_palloc_free_all(pa);
}

/*
 * Freed 4K pages go to a hot list and are reused last in, first out (as
 * the kernel's per-CPU page lists); they go back to their blocks, which
 * may then merge, when a 2M request finds no whole block.
 */
Test(palloc, split_block_merges_back_when_drained)
{
	struct stack_palloc *pa = new_pa(NULL);
	uint64_t p[512];

	for (unsigned i = 0; i < 512; i++)
		p[i] = get(pa, false);
	cr_assert_eq(p[511], BASE + 511 * 0x1000ull);
	cr_assert_eq(get(pa, false), BASE + SIM_SZ_2M, "block 0 is full: block 1 is split");
	for (unsigned i = 0; i < 512; i++)
		stack_palloc_put(pa, p[i], false);
	cr_assert_eq(stack_palloc_stats(pa)->merges, 0, "freed pages wait on the hot list");
	cr_assert_eq(stack_palloc_state(pa, p[7]), STACK_PAGE_FREE);
	cr_assert_eq(get(pa, true), BASE + 2 * SIM_SZ_2M, "fresh blocks first");
	cr_assert_eq(get(pa, true), BASE + 3 * SIM_SZ_2M);
	/* No whole or fresh block left: the hot list drains, block 0 merges. */
	cr_assert_eq(get(pa, true), BASE);
	cr_assert_eq(stack_palloc_stats(pa)->merges, 1);
	assert_stats(pa, 513, 3, 512, 0, 0, 0, 1 + 3 * 512);
	stack_palloc_free_all(pa);
}

Test(palloc, hot_list_is_lifo)
{
	struct stack_palloc *pa = new_pa(NULL);
	uint64_t a = get(pa, false), b = get(pa, false), c = get(pa, false);

	stack_palloc_put(pa, a, false);
	stack_palloc_put(pa, c, false);
	cr_assert_eq(get(pa, false), c, "the last freed page first");
	cr_assert_eq(get(pa, false), a);
	cr_assert_eq(get(pa, false), BASE + 0x3000, "then the block's next free page");
	(void)b;
	stack_palloc_free_all(pa);
}

/* A range that is not 2M aligned: pages outside it are never handed out. */
Test(palloc, range_in_part_of_a_block)
{
	struct sim_err err = { "" };
	struct stack_palloc *pa = stack_palloc_new(BASE + 0x1fe000, 0x4000, NULL, &err);
	uint64_t a;

	cr_assert_not_null(pa, "%s", err.msg);
	cr_assert_eq(get(pa, false), BASE + 0x1fe000);
	cr_assert_eq(get(pa, false), BASE + 0x1ff000);
	cr_assert_eq(get(pa, false), BASE + 0x200000, "the next block");
	cr_assert_eq(get(pa, false), BASE + 0x201000);
	cr_assert_eq(stack_palloc_get(pa, false, &a), -1, "four pages in all");
	cr_assert_eq(stack_palloc_get(pa, true, &a), -1, "no whole 2M block in the range");
	cr_assert_eq(stack_palloc_state(pa, BASE + 0x1fd000), STACK_PAGE_OUTSIDE);
	assert_stats(pa, 4, 0, 0, 0, 0, 0, 4);
	stack_palloc_free_all(pa);
}

Test(palloc, exhaustion_and_reuse)
{
	struct stack_palloc *pa = new_pa(NULL);
	uint64_t blk[4], a;

	for (unsigned i = 0; i < 4; i++)
		blk[i] = get(pa, true);
	cr_assert_eq(stack_palloc_get(pa, true, &a), -1);
	cr_assert_eq(stack_palloc_get(pa, false, &a), -1);
	cr_assert_eq(stack_palloc_stats(pa)->fail, 2);
	stack_palloc_put(pa, blk[2], true);
	cr_assert_eq(get(pa, false), blk[2], "a freed 2M block serves a 4K request");
	cr_assert_eq(stack_palloc_get(pa, true, &a), -1, "it is split now");
	assert_stats(pa, 1, 4, 0, 1, 0, 0, 3 * 512 + 1);
	stack_palloc_free_all(pa);
}

Test(palloc, pages_the_rmp_assigned_are_never_handed_out)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct stack_palloc *pa;
	struct rmp_entry e;

	/* Page 1 of block 0 assigned 4K; page 7 of block 1 assigned too. */
	e = tent_entry(&GUESTV(5, 0x1000));
	cr_assert_eq(rmp_fw_write(r, BASE + 0x1000, &e), RMP_RC_SUCCESS);
	e = tent_entry(&GUEST(5, 0x7000));
	cr_assert_eq(rmp_fw_write(r, BASE + SIM_SZ_2M + 0x7000, &e), RMP_RC_SUCCESS);
	pa = new_pa(r);
	cr_assert_eq(get(pa, false), BASE);
	cr_assert_eq(get(pa, false), BASE + 0x2000, "0x1000 is skipped");
	cr_assert_eq(stack_palloc_state(pa, BASE + 0x1000), STACK_PAGE_HELD);
	/* Block 1 has an assigned page: a 2M request goes past it to block 2. */
	cr_assert_eq(get(pa, true), BASE + 2 * SIM_SZ_2M);
	cr_assert_eq(stack_palloc_state(pa, BASE + SIM_SZ_2M + 0x7000), STACK_PAGE_HELD);
	assert_stats(pa, 2, 1, 0, 0, 0, 2, 2 + 512);
	stack_palloc_free_all(pa);
	rmp_test_free(r, m);
}

Test(palloc, freeing_an_assigned_page_leaks_it)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct stack_palloc *pa = new_pa(r);
	uint64_t a = get(pa, false), b = get(pa, false), big = get(pa, true);
	struct rmp_entry e = tent_entry(&GUESTV(3, 0x5000));

	/* A guest got page a (RMPUPDATE by the host) and the reclaim failed. */
	cr_assert_eq(rmp_fw_write(r, a, &e), RMP_RC_SUCCESS);
	stack_palloc_put(pa, a, false);
	cr_assert_eq(stack_palloc_state(pa, a), STACK_PAGE_LEAKED);
	/* One page of the 2M block is assigned when the block is freed. */
	cr_assert_eq(rmp_fw_write(r, big + 0x3000, &e), RMP_RC_SUCCESS);
	stack_palloc_put(pa, big, true);
	cr_assert_eq(stack_palloc_state(pa, big + 0x3000), STACK_PAGE_LEAKED);
	cr_assert_eq(stack_palloc_state(pa, big), STACK_PAGE_FREE);
	/* Explicit leak of a page whose reclaim failed. */
	stack_palloc_leak(pa, b);
	cr_assert_eq(stack_palloc_state(pa, b), STACK_PAGE_LEAKED);
	assert_stats(pa, 2, 1, 0, 1, 3, 0, 0);
	/* Unassigning later does not bring them back: leaked pages stay out. */
	e = tent_entry(&HV);
	cr_assert_eq(rmp_fw_write(r, a, &e), RMP_RC_SUCCESS);
	for (unsigned i = 0; i < 3 * 512; i++) {
		uint64_t x;

		if (stack_palloc_get(pa, false, &x))
			break;
		cr_assert(x != a && x != b && x != big + 0x3000, "leaked page 0x%llx handed out",
			  (unsigned long long)x);
	}
	/* The block holding a leaked page never merges into a 2M block again. */
	cr_assert_eq(stack_palloc_stats(pa)->merges, 0);
	stack_palloc_free_all(pa);
	rmp_test_free(r, m);
}

Test(palloc, in_use_vmsa_page_is_held)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct stack_palloc *pa;

	/* A page that is not assigned but is the running vCPU's VMCB. */
	{
		struct sim_who who = { .now = 0, .agent = 1, .mem_cycles = 0 };
		struct rmp_vmrun_in in;
		struct rmp_fault f;
		struct rmp_entry v = tent_entry(&GUESTV(1, 0x9000));

		v.vmsa = true;
		cr_assert_eq(rmp_fw_write(r, BASE + SIM_SZ_2M, &v), RMP_RC_SUCCESS);
		memset(&in, 0, sizeof(in));
		in.asid = 1;
		in.vmcb = BASE;
		in.vmsa = BASE + SIM_SZ_2M;
		in.vmsa_gpa = 0x9000;
		in.avic = RMP_NO_ADDR;
		cr_assert_eq(rmp_vmrun(r, &who, &in, &f), RMP_FAULT_NONE);
	}
	pa = new_pa(r);
	cr_assert_eq(get(pa, false), BASE + 0x1000, "the VMCB page is skipped");
	cr_assert_eq(stack_palloc_state(pa, BASE), STACK_PAGE_HELD);
	stack_palloc_free_all(pa);
	rmp_test_free(r, m);
}

Test(palloc, double_free_aborts, .signal = SIGABRT)
{
	struct stack_palloc *pa = new_pa(NULL);
	uint64_t a = get(pa, false);

	stack_palloc_put(pa, a, false);
	stack_palloc_put(pa, a, false);
}

Test(palloc, wrong_order_free_aborts, .signal = SIGABRT)
{
	struct stack_palloc *pa = new_pa(NULL);
	uint64_t a = get(pa, true);

	stack_palloc_put(pa, a + 0x1000, false);
}

Test(palloc, free_outside_range_aborts, .signal = SIGABRT)
{
	struct stack_palloc *pa = new_pa(NULL);

	stack_palloc_put(pa, BASE + SIZE, false);
}

Test(palloc, a_huge_range_costs_only_what_is_touched)
{
	struct sim_err err = { "" };
	/* 1 PiB: bookkeeping is created per 8 GiB chunk on first use. */
	struct stack_palloc *pa = stack_palloc_new(0, 1ull << 50, NULL, &err);
	uint64_t a;

	cr_assert_not_null(pa, "%s", err.msg);
	for (unsigned i = 0; i < 1000; i++)
		cr_assert_eq(stack_palloc_get(pa, i & 1, &a), 0);
	cr_assert_eq(stack_palloc_state(pa, (1ull << 50) - 0x1000), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_state(pa, 1ull << 50), STACK_PAGE_OUTSIDE);
	stack_palloc_free_all(pa);
}
