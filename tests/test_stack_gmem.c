/*
 * test_stack_gmem.c - guest_memfd (sim/stack/gmem.c): every error return,
 * folios from the host page allocator, prepare at 4K and 2M on the first
 * fault, invalidation on punch and release (2M RMPUPDATE, PSMASH on a
 * partial range, FAIL_INUSE retried), leaks on a failed reclaim, launch
 * populate, binding to the creator only, exact instruction cycles, stats.
 * Each step is checked in the RMP and in the allocator.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sim/stack/stack_int.h"
#include "tests/test_rmp_util.h"

#define ASID  5u
#define G0    0x40000000ull     /* GPA where the tests map file offset 0 */
#define T0    100000ull
#define T1    (2 * T0)      /* the guest's PVALIDATE, after the prepare's lock */

struct env {
	struct sim *s;
	struct stack *st;
	struct rmp *rmp;
	struct stack_vm *vm;      /* SNP VM 1 (ASID 5) */
	struct stack_vm *vm2;     /* VM 2 (ASID 6) */
};

/* A started machine (64 MiB, a 4 MiB host page pool), VMs 1 and 2; @sets: key, value pairs. */
static void env_new(struct env *e, const char *const *sets)
{
	struct sim_err err = { "" };
	struct sim_who who = who_at(0, 0);

	memset(e, 0, sizeof(*e));
	e->s = sim_new(stack_modules);
	cr_assert_eq(sim_cfg_set(e->s, "machine.mem", "64m", "test", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_set(e->s, "s2.pool_size", "4m", "test", 0, &err), 0, "%s", err.msg);
	for (; sets && sets[0]; sets += 2)
		cr_assert_eq(sim_cfg_set(e->s, sets[0], sets[1], "test", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(e->s, &err), 0, "%s", err.msg);
	e->st = stack_get(e->s);
	e->rmp = e->st->rmp;
	cr_assert_eq(stack_vm_create(e->st, &who, 1, s2_fmt_by_name("npt"), 4, ASID), S2_OK);
	cr_assert_eq(stack_vm_create(e->st, &who, 2, s2_fmt_by_name("npt"), 4, ASID + 1), S2_OK);
	e->vm = stack_vm_find(e->st, 1);
	e->vm2 = stack_vm_find(e->st, 2);
}

static void env_free(struct env *e)
{
	sim_free(e->s);
}

static struct stack_gmem *file_new(struct env *e, uint64_t size, uint64_t flags)
{
	struct stack_gmem *f = NULL;

	cr_assert_eq(stack_gmem_create(e->vm, size, flags, &f), 0);
	return f;
}

static uint64_t lat(struct env *e, enum rmp_insn insn, bool big, enum rmp_rc rc)
{
	return rmp_latency(e->rmp, insn, big, rc);
}

/* The effective RMP entry of @spa is @a / @big / @val / ASID / @gpa (or hypervisor-owned). */
static void assert_rmp(struct env *e, uint64_t spa, bool a, bool big, bool val, uint64_t gpa,
		       const char *what)
{
	struct rmp_entry r;

	cr_assert(rmp_entry_effective(e->rmp, spa, &r), "%s: 0x%llx not covered", what,
		  (unsigned long long)spa);
	cr_assert(r.assigned == a && r.page_2m == big && r.validated == val &&
		  r.asid == (a ? ASID : 0) && r.gpa == (a ? gpa : 0) && !r.immutable,
		  "%s: spa 0x%llx: a=%d 2m=%d val=%d asid=%u gpa=0x%llx, want a=%d 2m=%d val=%d gpa=0x%llx",
		  what, (unsigned long long)spa, r.assigned, r.page_2m, r.validated, r.asid,
		  (unsigned long long)r.gpa, a, big, val, (unsigned long long)gpa);
}

static uint64_t page_spa(struct stack_gmem *f, uint64_t off, bool *prepared)
{
	uint64_t spa;
	bool big, prep;

	cr_assert_eq(stack_gmem_page(f, off, &spa, &big, &prep), 0, "no folio at 0x%llx",
		     (unsigned long long)off);
	if (prepared)
		*prepared = prep;
	return spa;
}

static const struct stack_gmem_stats *ctr(struct env *e)
{
	return stack_gmem_stats(e->st);
}

/* ------------------------------------------------------------------ */

Test(gmem, create_errors)
{
	static const struct { uint64_t size, flags; int rc; } c[] = {
		{ 0x10000, 0, 0 },
		{ 0x10000, 1ull << 1, -EINVAL },                    /* unknown flag */
		{ 0x10000, 1ull << 63, -EINVAL },
		{ 0x10000, STACK_GMEM_FLAG_HUGE | 4, -EINVAL },
		{ 0, 0, -EINVAL },                                  /* empty */
		{ 0x10800, 0, -EINVAL },                            /* not 4K aligned */
		{ SIM_SZ_2M + 0x1000, STACK_GMEM_FLAG_HUGE, -EINVAL }, /* HUGE: 2M aligned */
		{ 2 * SIM_SZ_2M, STACK_GMEM_FLAG_HUGE, 0 },
		{ 1ull << 60, 0, -EINVAL },                         /* beyond 2^52 */
	};
	struct env e;
	unsigned ok = 0;

	env_new(&e, NULL);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct stack_gmem *f = NULL;
		int rc = stack_gmem_create(e.vm, c[i].size, c[i].flags, &f);

		cr_assert_eq(rc, c[i].rc, "case %zu: %d", i, rc);
		if (!rc) {
			ok++;
			cr_assert_eq(stack_gmem_size(f), c[i].size);
			cr_assert_eq(stack_gmem_vm(f), e.vm);
			cr_assert_eq(stack_gmem_huge(f), (c[i].flags & STACK_GMEM_FLAG_HUGE) != 0);
		} else {
			cr_assert_null(f, "case %zu", i);
		}
	}
	cr_assert_eq(ctr(&e)->files, ok);
	cr_assert_eq(stack_gmem_vm_files(e.st, e.vm), ok);
	cr_assert_eq(stack_gmem_vm_files(e.st, e.vm2), 0);
	env_free(&e);
}

Test(gmem, bind_only_creator_and_ranges)
{
	static const struct { int vm; uint64_t off, size; int rc; } c[] = {
		{ 2, 0, 0x4000, -EINVAL },                 /* another VM's memslot */
		{ 1, 0x800, 0x4000, -EINVAL },             /* offset not page aligned */
		{ 1, 0, 0x4800, -EINVAL },                 /* size not page aligned */
		{ 1, 0, 0, -EINVAL },                      /* empty */
		{ 1, 0xc000, 0x8000, -EINVAL },            /* past the end (0x10000) */
		{ 1, 0x20000, 0x1000, -EINVAL },           /* offset past the end */
		{ 1, 0x1000, UINT64_MAX & ~0xfffull, -EINVAL }, /* wraps */
		{ 1, 0x4000, 0x4000, 0 },                  /* [16K, 32K) bound */
		{ 1, 0x6000, 0x1000, -EINVAL },            /* overlaps it */
		{ 1, 0x0, 0x5000, -EINVAL },               /* overlaps its start */
		{ 1, 0x0, 0x4000, 0 },                     /* adjacent below */
		{ 1, 0x8000, 0x8000, 0 },                  /* adjacent above, to the end */
	};
	struct env e;
	struct stack_gmem *f;
	int slot[sizeof(c) / sizeof(c[0])];

	env_new(&e, NULL);
	f = file_new(&e, 0x10000, 0);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct stack_vm *v = c[i].vm == 1 ? e.vm : e.vm2;

		cr_assert_eq(stack_gmem_bind_check(f, v, c[i].off, c[i].size), c[i].rc, "case %zu", i);
		cr_assert_eq(stack_gmem_bind(f, v, &slot[i], c[i].off, c[i].size), c[i].rc,
			     "case %zu", i);
	}
	cr_assert_eq(stack_gmem_unbind(f, &slot[0]), -ENOENT, "a refused bind left nothing");
	cr_assert_eq(stack_gmem_unbind(f, &slot[7]), 0);
	cr_assert_eq(stack_gmem_unbind(f, &slot[7]), -ENOENT);
	/* Its range is free again, for the creator only. */
	cr_assert_eq(stack_gmem_bind_check(f, e.vm, 0x6000, 0x1000), 0);
	cr_assert_eq(stack_gmem_bind_check(f, e.vm2, 0x6000, 0x1000), -EINVAL);
	cr_assert_eq(stack_gmem_unbind(f, &slot[10]), 0);
	cr_assert_eq(stack_gmem_unbind(f, &slot[11]), 0);
	env_free(&e);
}

Test(gmem, release_with_binding_aborts, .signal = SIGABRT)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0;
	int slot;

	env_new(&e, NULL);
	f = file_new(&e, 0x10000, 0);
	cr_assert_eq(stack_gmem_bind(f, e.vm, &slot, 0, 0x10000), 0);
	stack_gmem_release(f, &w, &cyc);
}

Test(gmem, fallocate_errors)
{
	const unsigned K = STACK_GMEM_FALLOC_KEEP_SIZE, P = STACK_GMEM_FALLOC_PUNCH_HOLE;
	const struct { unsigned mode; uint64_t off, len; int rc; } c[] = {
		{ 0, 0, 0x1000, -EOPNOTSUPP },             /* no KEEP_SIZE */
		{ P, 0, 0x1000, -EOPNOTSUPP },             /* punch without KEEP_SIZE */
		{ K | 0x04, 0, 0x1000, -EOPNOTSUPP },      /* another mode bit */
		{ K | P | 0x10, 0, 0x1000, -EOPNOTSUPP },
		{ K, 0, 0, -EINVAL },                      /* empty */
		{ K | P, 0, 0, -EINVAL },
		{ K, 0x800, 0x1000, -EINVAL },             /* misaligned offset */
		{ K, 0, 0x1800, -EINVAL },                 /* misaligned length */
		{ K | P, 0x1000, 0x10, -EINVAL },
		{ K, 0xf000, 0x2000, -EINVAL },            /* allocation past the end */
		{ K, 0x10000, 0x1000, -EINVAL },
		{ K, UINT64_MAX & ~0xfffull, 0x2000, -EFBIG },   /* overflows */
		{ K | P, 1ull << 52, 0x1000, -EFBIG },
		{ K | P, 0xf000, 0x10000, 0 },             /* a punch past the end is fine */
		{ K | P, 0x20000, 0x1000, 0 },
		{ K, 0, 0x10000, 0 },
	};
	struct env e;
	struct stack_gmem *f;

	env_new(&e, NULL);
	f = file_new(&e, 0x10000, 0);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct sim_who w = who_at(T0, 0);
		uint64_t cyc = 0;

		cr_assert_eq(stack_gmem_fallocate(f, &w, c[i].mode, c[i].off, c[i].len, &cyc),
			     c[i].rc, "case %zu", i);
		cr_assert_eq(cyc, 0, "case %zu: no RMP work", i);
		cr_assert_eq(stack_gmem_nr_folios(f), i == sizeof(c) / sizeof(c[0]) - 1 ? 16 : 0,
			     "case %zu", i);
	}
	cr_assert_eq(ctr(&e)->punches, 2);
	cr_assert_eq(ctr(&e)->alloc_4k, 16);
	env_free(&e);
}

Test(gmem, get_pfn_and_populate_errors)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa = 0;

	env_new(&e, NULL);
	f = file_new(&e, 0x10000, 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x10000, G0, false, &spa, &cyc), -EINVAL, "past end");
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x800, G0, false, &spa, &cyc), -EINVAL, "offset");
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0 + 0x10, false, &spa, &cyc), -EINVAL, "gpa");
	cr_assert_eq(stack_gmem_populate(f, &w, 0, G0, 0, NULL, NULL, &cyc), -EINVAL, "empty");
	cr_assert_eq(stack_gmem_populate(f, &w, 0xf000, G0, 2, NULL, NULL, &cyc), -EINVAL, "end");
	cr_assert_eq(stack_gmem_populate(f, &w, 0x10000, G0, 1, NULL, NULL, &cyc), -EINVAL);
	cr_assert_eq(stack_gmem_populate(f, &w, 0, G0 + 8, 1, NULL, NULL, &cyc), -EINVAL);
	cr_assert_eq(stack_gmem_populate(f, &w, 0, G0, UINT64_MAX, NULL, NULL, &cyc), -EINVAL);
	cr_assert_eq(cyc, 0);
	cr_assert_eq(w.mem_cycles, 0);
	cr_assert_eq(stack_gmem_nr_folios(f), 0, "nothing allocated by a refused call");
	env_free(&e);
}

/* 4K folios: allocate, prepare on the first fault, punch one page, release. */
Test(gmem, alloc_prepare_punch_4k)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa[4], got;
	uint64_t u4;
	bool prep;

	env_new(&e, NULL);
	u4 = lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS);
	f = file_new(&e, 0x8000, 0);
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE, 0, 0x4000, &cyc), 0);
	cr_assert_eq(stack_gmem_nr_folios(f), 4);
	for (unsigned i = 0; i < 4; i++) {
		spa[i] = page_spa(f, i * 0x1000ull, &prep);
		cr_assert(!prep);
		cr_assert_eq(stack_palloc_state(e.st->pool, spa[i]), STACK_PAGE_USED);
		assert_rmp(&e, spa[i], false, false, false, 0, "allocated, shared");
	}
	cr_assert_eq(stack_gmem_page(f, 0x4000, &got, &prep, &prep), -ENOENT, "a hole");
	cr_assert_eq(cyc, 0);

	/* First fault on page 1: one 4K RMPUPDATE, at the faulting GPA. */
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x1000, G0 + 0x1000, true, &got, &cyc), 0);
	cr_assert_eq(got, spa[1]);
	cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS));
	cr_assert_gt(w.mem_cycles, 0);
	assert_rmp(&e, spa[1], true, false, false, G0 + 0x1000, "prepared");
	assert_rmp(&e, spa[0], false, false, false, 0, "neighbour untouched");
	page_spa(f, 0x1000, &prep);
	cr_assert(prep);
	/* Second fault: nothing to do. */
	cyc = 0;
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x1000, G0 + 0x1000, true, &got, &cyc), 0);
	cr_assert_eq(got, spa[1]);
	cr_assert_eq(cyc, 0);
	/* get_pfn on a hole allocates it. */
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x5000, G0 + 0x5000, false, &got, &cyc), 0);
	cr_assert_eq(stack_gmem_nr_folios(f), 5);
	assert_rmp(&e, got, true, false, false, G0 + 0x5000, "hole filled and prepared");
	cr_assert_eq(ctr(&e)->prepare_4k, 2);
	cr_assert_eq(ctr(&e)->alloc_4k, 5);

	/* Punch [4K, 12K): page 1 converted back (one RMPUPDATE), pages 1-2 freed. */
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0x1000, 0x2000, &cyc), 0);
	cr_assert_eq(cyc, u4);
	assert_rmp(&e, spa[1], false, false, false, 0, "punched: shared");
	cr_assert_eq(stack_palloc_state(e.st->pool, spa[1]), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_state(e.st->pool, spa[2]), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_state(e.st->pool, spa[0]), STACK_PAGE_USED);
	cr_assert_eq(stack_gmem_page(f, 0x1000, &got, &prep, &prep), -ENOENT);
	cr_assert_eq(stack_gmem_nr_folios(f), 3);
	cr_assert_eq(ctr(&e)->invalidate_4k, 1);
	cr_assert_eq(ctr(&e)->folios, 3);
	cr_assert_eq(ctr(&e)->punches, 1);

	/* Release: the prepared page at 0x5000 converted, every folio back. */
	cyc = 0;
	stack_gmem_release(f, &w, &cyc);
	cr_assert_eq(cyc, u4);
	cr_assert_eq(ctr(&e)->invalidate_4k, 2);
	cr_assert_eq(ctr(&e)->folios, 0);
	cr_assert_eq(ctr(&e)->files, 0);
	cr_assert_eq(ctr(&e)->leaked, 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(stack_palloc_state(e.st->pool, spa[i]), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_stats(e.st->pool)->pages, 2, "only the two VMs' roots");
	env_free(&e);
}

/* 2M folios: when the 2M prepare is allowed, and when it is not. */
struct p2m_case {
	const char *name;
	uint64_t off;        /* faulting offset in the 4M HUGE file */
	uint64_t gpa;
	bool allow_2m;
	bool want_2m;
};

Test(gmem, prepare_2m_or_4k)
{
	const struct p2m_case c[] = {
		{ "2m", 0x3000, G0 + 0x3000, true, true },
		{ "2m-second-folio", SIM_SZ_2M + 0x5000, G0 + 0x5000, true, true },
		{ "caller-says-4k", 0x3000, G0 + 0x3000, false, false },
		{ "gpa-not-congruent", 0x3000, G0 + 0x4000, true, false },
		{ "gpa-shifted-2m-ok", 0x3000, G0 + 3 * SIM_SZ_2M + 0x3000, true, true },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct env e;
		struct stack_gmem *f;
		struct sim_who w = who_at(T0, 0);
		uint64_t cyc = 0, spa, base, gbase = c[i].gpa & ~(SIM_SZ_2M - 1);
		bool prep;

		env_new(&e, NULL);
		f = file_new(&e, 2 * SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
		cr_assert_eq(stack_gmem_get_pfn(f, &w, c[i].off, c[i].gpa, c[i].allow_2m, &spa, &cyc),
			     0, "%s", c[i].name);
		base = spa & ~(SIM_SZ_2M - 1);
		cr_assert_eq(spa - base, c[i].off & (SIM_SZ_2M - 1), "%s", c[i].name);
		cr_assert_eq(stack_palloc_state(e.st->pool, base), STACK_PAGE_USED);
		cr_assert_eq(ctr(&e)->alloc_2m, 1);
		cr_assert_eq(stack_gmem_nr_folios(f), 1);
		if (c[i].want_2m) {
			cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, true, RMP_RC_SUCCESS), "%s",
				     c[i].name);
			for (unsigned p = 0; p < 512; p += 73)
				assert_rmp(&e, base + p * 0x1000ull, true, true, false,
					   gbase + p * 0x1000ull, c[i].name);
			page_spa(f, (c[i].off & ~(SIM_SZ_2M - 1)) + 0x1ff000, &prep);
			cr_assert(prep, "%s: the whole folio is prepared", c[i].name);
			cr_assert_eq(ctr(&e)->prepare_2m, 1);
			cr_assert_eq(ctr(&e)->prepare_4k, 0);
		} else {
			cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS), "%s",
				     c[i].name);
			assert_rmp(&e, spa, true, false, false, c[i].gpa, c[i].name);
			assert_rmp(&e, base, false, false, false, 0, c[i].name);
			page_spa(f, c[i].off - 0x1000, &prep);
			cr_assert(!prep, "%s: only the faulting page", c[i].name);
			cr_assert_eq(ctr(&e)->prepare_2m, 0);
			cr_assert_eq(ctr(&e)->prepare_4k, 1);
		}
		env_free(&e);
	}
}

/* Once a page of the 2M folio is assigned at 4K, a later fault cannot take 2M. */
Test(gmem, prepare_2m_needs_whole_region_shared)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, a, b;

	env_new(&e, NULL);
	f = file_new(&e, SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x1000, G0 + 0x1000, false, &a, &cyc), 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x2000, G0 + 0x2000, true, &b, &cyc), 0);
	cr_assert_eq(cyc, 2 * lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS));
	assert_rmp(&e, a, true, false, false, G0 + 0x1000, "first");
	assert_rmp(&e, b, true, false, false, G0 + 0x2000, "second, 4K");
	cr_assert_eq(ctr(&e)->prepare_4k, 2);
	env_free(&e);
}

/* gmem.page_size = 2m: 2M folios where a 2M range fits, 4K for the tail. */
Test(gmem, page_size_key)
{
	static const char *const sets[] = { "gmem.page_size", "2m", NULL };
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa;
	bool big, prep;

	env_new(&e, sets);
	f = file_new(&e, SIM_SZ_2M + 0x2000, 0);
	cr_assert(stack_gmem_huge(f));
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE, 0x1000,
					  SIM_SZ_2M + 0x1000, &cyc), 0);
	cr_assert_eq(stack_gmem_nr_folios(f), 3);
	cr_assert_eq(stack_gmem_page(f, 0, &spa, &big, &prep), 0);
	cr_assert(big);
	cr_assert_eq(spa & (SIM_SZ_2M - 1), 0);
	cr_assert_eq(stack_gmem_page(f, SIM_SZ_2M, &spa, &big, &prep), 0);
	cr_assert(!big);
	cr_assert_eq(stack_gmem_page(f, SIM_SZ_2M + 0x1000, &spa, &big, &prep), 0);
	cr_assert(!big);
	cr_assert_eq(ctr(&e)->alloc_2m, 1);
	cr_assert_eq(ctr(&e)->alloc_4k, 2);
	env_free(&e);
}

/* Whole 2M folio punched: one 2M RMPUPDATE to shared, the block free again. */
Test(gmem, punch_whole_2m)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa, base;
	bool prep;

	env_new(&e, NULL);
	f = file_new(&e, 2 * SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &spa, &cyc), 0);
	base = spa;
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0, SIM_SZ_2M, &cyc), 0);
	cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, true, RMP_RC_SUCCESS));
	for (unsigned p = 0; p < 512; p += 51)
		assert_rmp(&e, base + p * 0x1000ull, false, p == 0, false, 0,
			   "shared: an unassigned 2M entry at the base");
	cr_assert_eq(stack_gmem_page(f, 0, &spa, &prep, &prep), -ENOENT);
	cr_assert_eq(stack_palloc_state(e.st->pool, base), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_state(e.st->pool, base + 0x1ff000), STACK_PAGE_FREE);
	cr_assert_eq(ctr(&e)->invalidate_2m, 1);
	cr_assert_eq(ctr(&e)->psmash, 0);
	cr_assert_eq(ctr(&e)->folios, 0);
	/* The block can be a 2M folio again. */
	cr_assert_eq(stack_gmem_get_pfn(f, &w, SIM_SZ_2M, G0, true, &spa, &cyc), 0);
	cr_assert_eq(spa, base);
	env_free(&e);
}

/* Part of a 2M entry punched: PSMASH, 4K RMPUPDATEs; the folio stays until all of it goes. */
Test(gmem, punch_part_of_2m_psmash)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, base;
	uint64_t u4;
	bool prep;

	env_new(&e, NULL);
	u4 = lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS);
	f = file_new(&e, SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &base, &cyc), 0);
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0x1000, 0x2000, &cyc), 0);
	cr_assert_eq(cyc, lat(&e, RMP_INSN_PSMASH, true, RMP_RC_SUCCESS) + 2 * u4);
	assert_rmp(&e, base, true, false, false, G0, "page 0: smashed to 4K, still private");
	assert_rmp(&e, base + 0x1000, false, false, false, 0, "page 1 shared");
	assert_rmp(&e, base + 0x2000, false, false, false, 0, "page 2 shared");
	assert_rmp(&e, base + 0x3000, true, false, false, G0 + 0x3000, "page 3 private, 4K");
	assert_rmp(&e, base + 0x1ff000, true, false, false, G0 + 0x1ff000, "last page");
	cr_assert_eq(stack_gmem_nr_folios(f), 1, "a 2M folio covered in part stays");
	cr_assert_eq(stack_palloc_state(e.st->pool, base + 0x1000), STACK_PAGE_USED);
	page_spa(f, 0x1000, &prep);
	cr_assert(!prep);
	page_spa(f, 0x3000, &prep);
	cr_assert(prep);
	cr_assert_eq(ctr(&e)->psmash, 1);
	cr_assert_eq(ctr(&e)->invalidate_4k, 2);
	/* A new fault on the punched page prepares it again, at 4K. */
	cyc = 0;
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x1000, G0 + 0x1000, true, &base, &cyc), 0);
	cr_assert_eq(cyc, u4);
	assert_rmp(&e, base, true, false, false, G0 + 0x1000, "re-prepared at 4K");
	base -= 0x1000;
	/* Punch all of it: 511 4K entries left (page 2 is shared), no PSMASH, block free. */
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0, SIM_SZ_2M, &cyc), 0);
	cr_assert_eq(cyc, 511 * u4);
	cr_assert_eq(ctr(&e)->psmash, 1);
	cr_assert_eq(ctr(&e)->invalidate_4k, 2 + 511);
	cr_assert_eq(stack_gmem_nr_folios(f), 0);
	for (unsigned p = 0; p < 512; p += 37)
		assert_rmp(&e, base + p * 0x1000ull, false, false, false, 0, "all shared");
	cr_assert_eq(stack_palloc_state(e.st->pool, base), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_stats(e.st->pool)->leaked, 0);
	env_free(&e);
}

/*
 * The guest validates the 2M page (PVALIDATE holds the 2M region's lock)
 * while the host punches part of it: PSMASH meets FAIL_INUSE and is
 * retried until the lock is gone; Validated survives PSMASH.
 */
Test(gmem, psmash_retried_on_fail_inuse)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0), g = who_at(T1, 1);
	uint64_t cyc = 0, base, window;
	struct rmp_gpage pg;
	struct rmp_result res;
	uint64_t u4;
	uint64_t busy;
	uint64_t retries;

	env_new(&e, NULL);
	busy = lat(&e, RMP_INSN_PSMASH, true, RMP_RC_FAIL_INUSE);
	u4 = lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS);
	f = file_new(&e, SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &base, &cyc), 0);
	pg = (struct rmp_gpage){ ASID, 0, G0, base, SIM_SZ_2M };
	cr_assert_eq(rmp_pvalidate(e.rmp, &g, &pg, true, true, &res), RMP_RC_SUCCESS);
	window = res.latency + g.mem_cycles;
	cr_assert_gt(window, busy, "the lock outlasts one refused PSMASH");

	w = who_at(T1 + 1, 0);
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0x1000, 0x1000, &cyc), 0);
	retries = ctr(&e)->retries;
	cr_assert_gt(retries, 0);
	cr_assert_lt(retries, STACK_GMEM_TRIES);
	cr_assert_eq(rmp_counters(e.rmp)->insn[RMP_INSN_PSMASH][RMP_RC_FAIL_INUSE], retries);
	cr_assert_eq(rmp_counters(e.rmp)->insn[RMP_INSN_PSMASH][RMP_RC_SUCCESS], 1);
	/* Each refused PSMASH reads the 2M entry; the last one starts after the lock. */
	cr_assert_eq(cyc, retries * busy + lat(&e, RMP_INSN_PSMASH, true, RMP_RC_SUCCESS) + u4);
	cr_assert_eq(ctr(&e)->psmash, 1);
	assert_rmp(&e, base, true, false, true, G0, "still private, validated kept by PSMASH");
	assert_rmp(&e, base + 0x1000, false, false, false, 0, "punched page shared");
	assert_rmp(&e, base + 0x2000, true, false, true, G0 + 0x2000, "neighbour validated");
	cr_assert_eq(ctr(&e)->leaked, 0);
	env_free(&e);
}

/* Reclaims that fail for good: the pages are leaked and never handed out again. */
struct leak_case {
	char name[40];
	bool huge;            /* 2M folio, 2M entry */
	int how;              /* 0: immutable (firmware took the page); 1: RMPUPDATE FAIL_INUSE (lock) */
	uint64_t leaked;      /* pages */
};

static void leak_case_run(const struct leak_case *c)
{
	static const char *const slow[] = { "lat.rmp.pvalidate", "5000000",
					    "lat.rmp.pvalidate_2m", "5000000", NULL };
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0), g = who_at(T1, 1);
	uint64_t cyc = 0, spa, a;
	struct rmp_result res;
	unsigned n = 0;

	env_new(&e, slow);
	f = file_new(&e, c->huge ? SIM_SZ_2M : 0x4000, c->huge ? STACK_GMEM_FLAG_HUGE : 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &spa, &cyc), 0, "%s", c->name);
	if (c->how == 0) {
		struct rmp_entry fw;

		cr_assert(rmp_entry_get(e.rmp, spa, &fw));
		fw.immutable = true;
		cr_assert_eq(rmp_fw_write(e.rmp, spa, &fw), RMP_RC_SUCCESS, "%s", c->name);
	} else {
		struct rmp_gpage pg = { ASID, 0, G0, spa, c->huge ? SIM_SZ_2M : SIM_SZ_4K };

		cr_assert_eq(rmp_pvalidate(e.rmp, &g, &pg, c->huge, true, &res), RMP_RC_SUCCESS);
	}
	w = who_at(T1 + 1, 0);
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0, stack_gmem_size(f), &cyc),
		     0, "%s", c->name);
	/* One refused RMPUPDATE: FAIL_PERMISSION / FAIL_INUSE are not retried. */
	cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, c->huge,
			      c->how == 0 ? RMP_RC_FAIL_PERMISSION : RMP_RC_FAIL_INUSE), "%s", c->name);
	cr_assert_eq(ctr(&e)->leaked, c->leaked, "%s", c->name);
	cr_assert_eq(ctr(&e)->retries, 0, "%s", c->name);
	cr_assert_eq(stack_gmem_nr_folios(f), 0, "%s", c->name);
	cr_assert_eq(stack_palloc_stats(e.st->pool)->leaked, c->leaked, "%s", c->name);
	cr_assert_eq(stack_palloc_state(e.st->pool, spa), STACK_PAGE_LEAKED, "%s", c->name);
	if (c->huge)
		cr_assert_eq(stack_palloc_state(e.st->pool, spa + 0x1ff000), STACK_PAGE_LEAKED);
	/* Exhaust the allocator: the leaked pages never come back. */
	while (!stack_palloc_get(e.st->pool, false, &a)) {
		cr_assert(a < spa || a >= spa + c->leaked * SIM_SZ_4K, "%s: leaked page 0x%llx reused",
			  c->name, (unsigned long long)a);
		n++;
	}
	cr_assert_eq(n, 1024 - 2 - c->leaked, "%s: %u pages", c->name, n);
	stack_gmem_release(f, &w, &cyc);
	env_free(&e);
}

Test(gmem, leak_on_failed_reclaim)
{
	const struct leak_case c[] = {
		{ "4k-immutable", false, 0, 1 },
		{ "2m-immutable", true, 0, 512 },
		{ "4k-locked", false, 1, 1 },
		{ "2m-locked", true, 1, 512 },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		leak_case_run(&c[i]);
}

/* PSMASH refused for longer than the host retries: the page stays private, no hang. */
Test(gmem, psmash_retries_are_bounded)
{
	static const char *const slow[] = { "lat.rmp.pvalidate_2m", "5000000", NULL };
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0), g = who_at(T1, 1);
	uint64_t cyc = 0, base;
	struct rmp_gpage pg;
	struct rmp_result res;
	bool prep;

	env_new(&e, slow);
	f = file_new(&e, SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &base, &cyc), 0);
	pg = (struct rmp_gpage){ ASID, 0, G0, base, SIM_SZ_2M };
	cr_assert_eq(rmp_pvalidate(e.rmp, &g, &pg, true, true, &res), RMP_RC_SUCCESS);
	w = who_at(T1 + 1, 0);
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0x1000, 0x1000, &cyc), 0);
	/* 64 PSMASHes (FAIL_INUSE), then the 4K update: 64 FAIL_OVERLAP. */
	cr_assert_eq(ctr(&e)->retries, 2 * (STACK_GMEM_TRIES - 1));
	cr_assert_eq(cyc, STACK_GMEM_TRIES * (lat(&e, RMP_INSN_PSMASH, true, RMP_RC_FAIL_INUSE) +
					      lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_FAIL_OVERLAP)));
	assert_rmp(&e, base + 0x1000, true, true, true, G0 + 0x1000, "still the 2M entry");
	page_spa(f, 0x1000, &prep);
	cr_assert(prep, "still private: the guest keeps it");
	cr_assert_eq(ctr(&e)->psmash, 0);
	/* Released after the lock: converted at 2M, nothing leaked. */
	w = who_at(T0 + 10000000, 0);
	cyc = 0;
	stack_gmem_release(f, &w, &cyc);
	cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, true, RMP_RC_SUCCESS));
	cr_assert_eq(ctr(&e)->leaked, 0);
	cr_assert_eq(stack_palloc_state(e.st->pool, base), STACK_PAGE_FREE);
	env_free(&e);
}

/* A prepare the RMP refuses (another CPU holds the entry) is -EINVAL and changes nothing. */
Test(gmem, prepare_refused)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0), h = who_at(T0, 1);
	uint64_t cyc = 0, spa, got;
	const struct rmp_update_in shared = { 0 };
	struct rmp_result res;
	bool prep;

	env_new(&e, NULL);
	f = file_new(&e, 0x4000, 0);
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE, 0, 0x1000, &cyc), 0);
	spa = page_spa(f, 0, NULL);
	cr_assert_eq(rmp_update(e.rmp, &h, spa, &shared, &res), RMP_RC_SUCCESS);
	w = who_at(T0 + 1, 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, false, &got, &cyc), -EINVAL);
	cr_assert_eq(cyc, lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_FAIL_INUSE));
	cr_assert_eq(ctr(&e)->prepare_fail, 1);
	assert_rmp(&e, spa, false, false, false, 0, "unchanged");
	page_spa(f, 0, &prep);
	cr_assert(!prep);
	/* Later, once the lock is gone, the fault succeeds. */
	w = who_at(T0 + 1000000, 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, false, &got, &cyc), 0);
	assert_rmp(&e, spa, true, false, false, G0, "prepared");
	env_free(&e);
}

/* A VM without an ASID (not SNP): pages are used without any RMP change. */
Test(gmem, non_snp_vm_not_prepared)
{
	struct env e;
	struct stack_gmem *f = NULL;
	struct sim_who w = who_at(T0, 0), z = who_at(0, 0);
	uint64_t cyc = 0, spa;

	env_new(&e, NULL);
	cr_assert_eq(stack_vm_create(e.st, &z, 3, s2_fmt_by_name("npt"), 4, 0), S2_OK);
	cr_assert_eq(stack_gmem_create(stack_vm_find(e.st, 3), 0x4000, 0, &f), 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &spa, &cyc), 0);
	cr_assert_eq(cyc, 0);
	assert_rmp(&e, spa, false, false, false, 0, "hypervisor-owned");
	stack_gmem_release(f, &w, &cyc);
	cr_assert_eq(cyc, 0);
	cr_assert_eq(stack_palloc_state(e.st->pool, spa), STACK_PAGE_FREE);
	env_free(&e);
}

/* Launch populate: the firmware callback gets (gpa, spa) per page and assigns it. */
struct pop {
	struct env *e;
	unsigned calls;
	unsigned fail_at;      /* refuse this call (1-based; 0: never) */
	uint64_t gpa[8], spa[8];
};

static int pop_fn(void *arg, struct sim_who *who, uint64_t gpa, uint64_t spa, uint64_t *cycles)
{
	struct pop *p = arg;
	struct rmp_update_in in = { .gpa = gpa, .assigned = 1, .asid = ASID };
	struct rmp_result res;

	p->calls++;
	if (p->calls == p->fail_at)
		return -EIO;
	p->gpa[p->calls - 1] = gpa;
	p->spa[p->calls - 1] = spa;
	if (rmp_update(p->e->rmp, who, spa, &in, &res) != RMP_RC_SUCCESS)
		return -EFAULT;
	*cycles += res.latency;
	return 0;
}

Test(gmem, populate)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa;
	struct pop p = { 0 };
	bool prep;

	env_new(&e, NULL);
	p.e = &e;
	f = file_new(&e, 0x10000, 0);
	cr_assert_eq(stack_gmem_populate(f, &w, 0x2000, G0 + 0x2000, 3, pop_fn, &p, &cyc), 0);
	cr_assert_eq(p.calls, 3);
	cr_assert_eq(cyc, 3 * lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS));
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(p.gpa[i], G0 + 0x2000 + i * 0x1000ull);
		cr_assert_eq(p.spa[i], page_spa(f, 0x2000 + i * 0x1000ull, &prep));
		cr_assert(prep);
		assert_rmp(&e, p.spa[i], true, false, false, p.gpa[i], "populated");
	}
	cr_assert_eq(ctr(&e)->populated, 3);
	/* A fault on a populated page changes nothing. */
	cyc = 0;
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x3000, G0 + 0x3000, false, &spa, &cyc), 0);
	cr_assert_eq(spa, p.spa[1]);
	cr_assert_eq(cyc, 0);
	/* Overlapping a prepared page: -EEXIST at it; the pages before it are done. */
	p.calls = 0;
	cr_assert_eq(stack_gmem_populate(f, &w, 0x1000, G0 + 0x1000, 2, pop_fn, &p, &cyc), -EEXIST);
	cr_assert_eq(p.calls, 1);
	cr_assert_eq(ctr(&e)->populated, 4);
	/* The callback's error is returned; the pages it refused are not prepared. */
	p.calls = 0;
	p.fail_at = 2;
	cr_assert_eq(stack_gmem_populate(f, &w, 0x8000, G0 + 0x8000, 3, pop_fn, &p, &cyc), -EIO);
	cr_assert_eq(p.calls, 2);
	page_spa(f, 0x8000, &prep);
	cr_assert(prep);
	page_spa(f, 0x9000, &prep);
	cr_assert(!prep);
	cr_assert_eq(stack_gmem_page(f, 0xa000, &spa, &prep, &prep), -ENOENT);
	cr_assert_eq(ctr(&e)->populated, 5);
	/* Release converts every populated page. */
	cyc = 0;
	stack_gmem_release(f, &w, &cyc);
	cr_assert_eq(cyc, 5 * lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS));
	cr_assert_eq(ctr(&e)->invalidate_4k, 5);
	assert_rmp(&e, p.spa[0], false, false, false, 0, "released");
	env_free(&e);
}

/* The pool runs out: -ENOMEM, counted; folios taken before stay. */
Test(gmem, out_of_memory)
{
	struct env e;
	struct stack_gmem *f, *g;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa;

	env_new(&e, NULL);   /* 4 MiB pool: the VMs' roots split one block, one 2M block left */
	f = file_new(&e, 4 * SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &spa, &cyc), 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, SIM_SZ_2M, G0 + SIM_SZ_2M, true, &spa, &cyc),
		     -ENOMEM);
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE, 0, 4 * SIM_SZ_2M,
					  &cyc), -ENOMEM);
	cr_assert_eq(stack_gmem_nr_folios(f), 1);
	cr_assert_eq(ctr(&e)->alloc_fail, 2);
	g = file_new(&e, 0x2000, 0);
	cr_assert_eq(stack_gmem_fallocate(g, &w, STACK_GMEM_FALLOC_KEEP_SIZE, 0, 0x2000, &cyc), 0,
		     "4K folios still come from the split block");
	cr_assert_eq(stack_gmem_populate(f, &w, SIM_SZ_2M, G0, 1, pop_fn, NULL, &cyc), -ENOMEM);
	env_free(&e);
}

/* The invalidation notifier runs before the conversions, with the byte range. */
struct inval_rec {
	unsigned calls;
	uint64_t start, end;
	bool was_private;
	struct env *e;
	uint64_t spa;
};

static void inval_fn(void *arg, struct stack_gmem *f, struct sim_who *who, uint64_t start,
		     uint64_t end, uint64_t *cycles)
{
	struct inval_rec *r = arg;
	struct rmp_entry ent;

	(void)f;
	(void)who;
	r->calls++;
	r->start = start;
	r->end = end;
	r->was_private = rmp_entry_effective(r->e->rmp, r->spa, &ent) && ent.assigned;
	*cycles += 7;
}

Test(gmem, invalidate_notifier_first)
{
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0;
	struct inval_rec r = { 0 };

	env_new(&e, NULL);
	r.e = &e;
	f = file_new(&e, 0x4000, 0);
	stack_gmem_set_invalidate(f, inval_fn, &r);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x1000, G0 + 0x1000, false, &r.spa, &cyc), 0);
	cyc = 0;
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE |
					  STACK_GMEM_FALLOC_PUNCH_HOLE, 0, 0x8000, &cyc), 0);
	cr_assert_eq(r.calls, 1);
	cr_assert_eq(r.start, 0);
	cr_assert_eq(r.end, 0x4000, "clipped to the file");
	cr_assert(r.was_private, "called before the conversion");
	cr_assert_eq(cyc, 7 + lat(&e, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS));
	stack_gmem_release(f, &w, &cyc);
	cr_assert_eq(r.calls, 2);
	env_free(&e);
}

/* stack.gmem.* are machine statistics. */
Test(gmem, stats_registered)
{
	static const char *const names[] = {
		"files", "alloc_4k", "alloc_2m", "alloc_fail", "folios", "punches", "prepare_4k",
		"prepare_2m", "prepare_fail", "populated", "invalidate_4k", "invalidate_2m",
		"psmash", "retries", "leaked",
	};
	struct env e;
	struct stack_gmem *f;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, spa, v;

	env_new(&e, NULL);
	f = file_new(&e, SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, true, &spa, &cyc), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char n[64];

		snprintf(n, sizeof(n), "stack.gmem.%s", names[i]);
		cr_assert_eq(sim_stat_get(e.s, n, &v), 0, "%s", n);
	}
	cr_assert_eq(sim_stat_get(e.s, "stack.gmem.prepare_2m", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(sim_stat_get(e.s, "stack.gmem.folios", &v), 0);
	cr_assert_eq(v, 1);
	env_free(&e);   /* an open file is freed with the machine */
}

/*
 * A page is cleared at its first fault (kvm_gmem_prepare_folio), so the
 * guest never sees what its last user left; populate keeps the content
 * (the firmware measures what the VMM put there).
 */
Test(gmem, first_fault_clears_populate_keeps)
{
	static const uint64_t junk = 0x5ec12e7da7a0f00dull;
	struct env e;
	struct stack_gmem *f, *g;
	struct sim_who w = who_at(T0, 0);
	uint64_t cyc = 0, a, b, spa;
	struct pop p = { 0 };

	env_new(&e, NULL);
	p.e = &e;
	/* A 4K page and a 2M block that held data, given back. */
	cr_assert_eq(stack_palloc_get(e.st->pool, false, &a), 0);
	cr_assert_eq(stack_palloc_get(e.st->pool, true, &b), 0);
	sim_mem_poke64(e.st->mem, a + 0x10, junk);
	sim_mem_poke64(e.st->mem, b + 0x5008, junk);
	sim_mem_poke64(e.st->mem, b + 0x1ff000, junk);
	stack_palloc_put(e.st->pool, a, false);
	stack_palloc_put(e.st->pool, b, true);

	f = file_new(&e, 0x4000, 0);
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0, G0, false, &spa, &cyc), 0);
	cr_assert_eq(spa, a, "the page given back is reused first");
	cr_assert_eq(sim_mem_peek64(e.st->mem, a + 0x10), 0);

	g = file_new(&e, SIM_SZ_2M, STACK_GMEM_FLAG_HUGE);
	cr_assert_eq(stack_gmem_get_pfn(g, &w, 0x3000, G0 + 0x3000, true, &spa, &cyc), 0);
	cr_assert_eq(spa, b + 0x3000);
	cr_assert_eq(sim_mem_peek64(e.st->mem, b + 0x5008), 0, "the whole 2M folio is cleared");
	cr_assert_eq(sim_mem_peek64(e.st->mem, b + 0x1ff000), 0);
	stack_gmem_release(g, &w, &cyc);

	/* Populate: the VMM's data stays for the firmware to measure. */
	cr_assert_eq(stack_gmem_fallocate(f, &w, STACK_GMEM_FALLOC_KEEP_SIZE, 0x1000, 0x1000, &cyc),
		     0);
	spa = page_spa(f, 0x1000, NULL);
	sim_mem_poke64(e.st->mem, spa + 0x20, junk);
	cr_assert_eq(stack_gmem_populate(f, &w, 0x1000, G0 + 0x1000, 1, pop_fn, &p, &cyc), 0);
	cr_assert_eq(sim_mem_peek64(e.st->mem, spa + 0x20), junk);
	/* ... and a later fault on it clears nothing. */
	cr_assert_eq(stack_gmem_get_pfn(f, &w, 0x1000, G0 + 0x1000, false, &spa, &cyc), 0);
	cr_assert_eq(sim_mem_peek64(e.st->mem, spa + 0x20), junk);
	env_free(&e);
}
