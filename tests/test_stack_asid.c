/*
 * test_stack_asid.c - the SNP ASIDs and their mirrors: lowest free first,
 * named requests, exhaustion, mirror refusals (snp.mirror), an ASID that
 * outlives its VM while a mirror holds it, KVM's recycle-on-exhaustion
 * (snp.asid_recycle=flush), double puts, the keys and statistics.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "sim/stack/stack_int.h"

static uint32_t take(struct stack_asids *a, uint32_t want)
{
	uint32_t n = 0;
	int rc = stack_asid_new(a, want, &n);

	cr_assert_eq(rc, 0, "ASID %u: %d", want, rc);
	return n;
}

static void assert_state(const struct stack_asids *a, uint32_t asid, enum stack_asid_state want,
			 bool owner, unsigned mirrors)
{
	bool o;
	unsigned m;
	enum stack_asid_state st = stack_asid_state(a, asid, &o, &m);

	cr_assert_eq(st, want, "ASID %u: %s, want %s", asid, stack_asid_state_names[st],
		     stack_asid_state_names[want]);
	cr_assert_eq(o, owner, "ASID %u: owner %d", asid, o);
	cr_assert_eq(m, mirrors, "ASID %u: mirrors %u", asid, m);
}

Test(asid, lowest_free_first)
{
	struct stack_asids *a = stack_asids_new(8, false, false);

	cr_assert_eq(take(a, 0), 1);
	cr_assert_eq(take(a, 0), 2);
	cr_assert_eq(take(a, 0), 3);
	stack_asid_put(a, 2, false);
	assert_state(a, 2, STACK_ASID_FREE, false, 0);
	cr_assert_eq(take(a, 0), 2, "the lowest free again");
	cr_assert_eq(take(a, 0), 4);
	cr_assert_eq(stack_asid_stats(a)->allocs, 5);
	cr_assert_eq(stack_asid_stats(a)->releases, 1);
	cr_assert_eq(stack_asid_stats(a)->in_use, 4);
	stack_asids_free(a);
}

struct named {
	uint32_t held[3];          /* taken first (0: none) */
	uint32_t want;
	int rc;
	uint32_t got;
};

static const struct named nameds[] = {
	{ { 0 }, 4, 0, 4 },
	{ { 0 }, 8, 0, 8 },
	{ { 0 }, 9, -EINVAL, 0 },
	{ { 0 }, 1000, -EINVAL, 0 },
	{ { 4 }, 4, -EBUSY, 0 },
	{ { 1, 2 }, 3, 0, 3 },
	{ { 1, 2 }, 2, -EBUSY, 0 },
};

Test(asid, named_requests)
{
	for (size_t i = 0; i < sizeof(nameds) / sizeof(nameds[0]); i++) {
		const struct named *t = &nameds[i];
		struct stack_asids *a = stack_asids_new(8, false, false);
		uint32_t got = 0;

		for (unsigned k = 0; k < 3 && t->held[k]; k++)
			take(a, t->held[k]);
		cr_assert_eq(stack_asid_new(a, t->want, &got), t->rc, "case %zu", i);
		if (!t->rc) {
			cr_assert_eq(got, t->got, "case %zu", i);
			assert_state(a, got, STACK_ASID_USED, true, 0);
		}
		cr_assert_eq(stack_asid_stats(a)->busy, (uint64_t)(t->rc == -EBUSY), "case %zu", i);
		cr_assert_eq(stack_asid_stats(a)->invalid, (uint64_t)(t->rc == -EINVAL), "case %zu", i);
		stack_asids_free(a);
	}
}

Test(asid, named_one_is_skipped_by_lowest_first)
{
	struct stack_asids *a = stack_asids_new(4, false, false);

	cr_assert_eq(take(a, 1), 1);
	cr_assert_eq(take(a, 3), 3);
	cr_assert_eq(take(a, 0), 2);
	cr_assert_eq(take(a, 0), 4);
	stack_asids_free(a);
}

Test(asid, exhaustion_is_ebusy)
{
	struct stack_asids *a = stack_asids_new(3, false, false);
	uint32_t n = 77;

	for (uint32_t i = 1; i <= 3; i++)
		cr_assert_eq(take(a, 0), i);
	cr_assert_eq(stack_asid_new(a, 0, &n), -EBUSY);
	cr_assert_eq(n, 77, "nothing returned");
	cr_assert_eq(stack_asid_stats(a)->busy, 1);
	stack_asid_put(a, 3, false);
	cr_assert_eq(take(a, 0), 3);
	stack_asids_free(a);
}

/* ------------------------------------------------------------------ */
/* Mirrors                                                             */
/* ------------------------------------------------------------------ */

struct mir {
	bool allow;                /* snp.mirror */
	uint32_t src;              /* ASID named as the source */
	bool src_is_mirror;
	bool owner_gone;           /* the source VM put its reference first (one mirror kept) */
	int rc;
};

static const struct mir mirs[] = {
	{ false, 1, false, false, -EINVAL },   /* Linux: an SNP source is refused */
	{ true, 1, false, false, 0 },          /* snp.mirror=1: the helper */
	{ true, 2, false, false, -EINVAL },    /* ASID 2 held by nobody: not an SEV guest */
	{ true, 0, false, false, -EINVAL },
	{ true, 9, false, false, -EINVAL },
	{ true, 1, true, false, -EINVAL },     /* a mirror cannot be a source */
	{ true, 1, false, true, -EINVAL },     /* the source VM is gone: nobody names it */
};

Test(asid, mirror_refusals)
{
	for (size_t i = 0; i < sizeof(mirs) / sizeof(mirs[0]); i++) {
		const struct mir *t = &mirs[i];
		struct stack_asids *a = stack_asids_new(8, t->allow, false);
		unsigned mirrors;

		take(a, 0);   /* ASID 1 */
		if (t->owner_gone) {
			cr_assert_eq(stack_asid_mirror(a, 1, false), 0);
			stack_asid_put(a, 1, false);
		}
		mirrors = t->owner_gone;
		cr_assert_eq(stack_asid_mirror(a, t->src, t->src_is_mirror), t->rc, "case %zu", i);
		assert_state(a, 1, STACK_ASID_USED, !t->owner_gone, mirrors + (t->rc == 0));
		cr_assert_eq(stack_asid_stats(a)->mirror_refused, (uint64_t)(t->rc != 0), "case %zu", i);
		cr_assert_eq(stack_asid_stats(a)->mirrors, (uint64_t)(t->rc == 0) + t->owner_gone,
			     "case %zu", i);
		stack_asids_free(a);
	}
}

/* Orders of release: the ASID is free only after the owner and every mirror. */
struct life {
	const char *order;         /* 'o' owner put, 'm' a mirror put, per step */
	enum stack_asid_state after[3];
};

static const struct life lives[] = {
	{ "omm", { STACK_ASID_USED, STACK_ASID_USED, STACK_ASID_FREE } },
	{ "mom", { STACK_ASID_USED, STACK_ASID_USED, STACK_ASID_FREE } },
	{ "mmo", { STACK_ASID_USED, STACK_ASID_USED, STACK_ASID_FREE } },
};

Test(asid, asid_outlives_its_vm_until_the_last_mirror)
{
	for (size_t i = 0; i < sizeof(lives) / sizeof(lives[0]); i++) {
		const struct life *t = &lives[i];
		struct stack_asids *a = stack_asids_new(4, true, false);
		bool owner = true;
		unsigned mirrors = 2;
		uint32_t n;

		cr_assert_eq(take(a, 0), 1);
		cr_assert_eq(stack_asid_mirror(a, 1, false), 0);
		cr_assert_eq(stack_asid_mirror(a, 1, false), 0);
		for (unsigned k = 0; k < 3; k++) {
			bool m = t->order[k] == 'm';

			stack_asid_put(a, 1, m);
			if (m)
				mirrors--;
			else
				owner = false;
			assert_state(a, 1, t->after[k], owner, mirrors);
			if (t->after[k] == STACK_ASID_USED) {
				/* never handed to a new VM while anyone holds it */
				cr_assert_eq(stack_asid_new(a, 1, &n), -EBUSY, "%s step %u", t->order, k);
				cr_assert_eq(take(a, 0), 2, "%s step %u", t->order, k);
				stack_asid_put(a, 2, false);
			}
		}
		cr_assert_eq(take(a, 0), 1, "%s: free at last", t->order);
		/* ASID 2 released after each of the two steps that kept 1 held; ASID 1 once */
		cr_assert_eq(stack_asid_stats(a)->releases, 3, "%s", t->order);
		stack_asids_free(a);
	}
}

/* ------------------------------------------------------------------ */
/* KVM's recycling: released ASIDs wait for a DF_FLUSH                  */
/* ------------------------------------------------------------------ */

Test(asid, recycle_flush_reuses_only_when_none_is_free)
{
	struct stack_asids *a = stack_asids_new(3, false, true);
	uint32_t n;

	cr_assert_eq(take(a, 0), 1);
	cr_assert_eq(take(a, 0), 2);
	stack_asid_put(a, 1, false);
	assert_state(a, 1, STACK_ASID_RECLAIM, false, 0);
	cr_assert_eq(stack_asid_new(a, 1, &n), -EBUSY, "named: waits for the flush");
	cr_assert_eq(take(a, 0), 3, "a never-used ASID before a reclaimed one");
	cr_assert_eq(stack_asid_stats(a)->flushes, 0);
	cr_assert_eq(take(a, 0), 1, "none free: one flush, then the lowest");
	cr_assert_eq(stack_asid_stats(a)->flushes, 1);
	stack_asid_put(a, 2, false);
	stack_asid_put(a, 3, false);
	assert_state(a, 2, STACK_ASID_RECLAIM, false, 0);
	assert_state(a, 3, STACK_ASID_RECLAIM, false, 0);
	cr_assert_eq(take(a, 0), 2);
	cr_assert_eq(stack_asid_stats(a)->flushes, 2);
	assert_state(a, 3, STACK_ASID_FREE, false, 0);   /* the flush freed every waiting one */
	cr_assert_eq(take(a, 0), 3);
	cr_assert_eq(stack_asid_new(a, 0, &n), -EBUSY, "nothing to flush");
	cr_assert_eq(stack_asid_stats(a)->flushes, 2);
	stack_asids_free(a);
}

Test(asid, owner_double_put_aborts, .signal = SIGABRT)
{
	struct stack_asids *a = stack_asids_new(4, false, false);

	take(a, 0);
	stack_asid_put(a, 1, false);
	stack_asid_put(a, 1, false);
}

Test(asid, mirror_put_without_a_mirror_aborts, .signal = SIGABRT)
{
	struct stack_asids *a = stack_asids_new(4, false, false);

	take(a, 0);
	stack_asid_put(a, 1, true);
}

/* ------------------------------------------------------------------ */
/* The machine's allocator: keys and statistics                         */
/* ------------------------------------------------------------------ */

static struct sim *machine(const char *const *sets, struct sim_err *err)
{
	struct sim *s = sim_new(stack_modules);

	for (; sets && *sets; sets += 2)
		cr_assert(!sim_cfg_set(s, sets[0], sets[1], "test", 0, err), "%s", err->msg);
	if (sim_start(s, err)) {
		sim_free(s);
		return NULL;
	}
	return s;
}

Test(asid, machine_keys_and_stats)
{
	static const char *const sets[] = { "snp.asids", "2", "snp.mirror", "1",
					    "snp.asid_recycle", "flush", NULL };
	struct sim_err err;
	struct sim *s = machine(sets, &err);
	struct stack_asids *a;
	uint64_t v = 0;
	uint32_t n;

	cr_assert_not_null(s, "%s", err.msg);
	a = stack_get(s)->asids;
	cr_assert_eq(stack_asids_max(a), 2);
	cr_assert_eq(take(a, 0), 1);
	cr_assert_eq(stack_asid_mirror(a, 1, false), 0, "snp.mirror=1");
	cr_assert_eq(take(a, 0), 2);
	cr_assert_eq(stack_asid_new(a, 0, &n), -EBUSY);
	stack_asid_put(a, 2, false);
	assert_state(a, 2, STACK_ASID_RECLAIM, false, 0);   /* snp.asid_recycle=flush */
	static const struct { const char *k; uint64_t v; } st[] = {
		{ "stack.asid.allocs", 2 }, { "stack.asid.releases", 1 }, { "stack.asid.busy", 1 },
		{ "stack.asid.invalid", 0 }, { "stack.asid.mirrors", 1 },
		{ "stack.asid.mirror_refused", 0 }, { "stack.asid.flushes", 0 },
		{ "stack.asid.in_use", 1 },
	};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		cr_assert(!sim_stat_get(s, st[i].k, &v), "%s", st[i].k);
		cr_assert_eq(v, st[i].v, "%s = %llu", st[i].k, (unsigned long long)v);
	}
	sim_free(s);
}

Test(asid, machine_defaults)
{
	struct sim_err err;
	struct sim *s = machine(NULL, &err);
	struct stack_asids *a;

	cr_assert_not_null(s, "%s", err.msg);
	a = stack_get(s)->asids;
	cr_assert_eq(stack_asids_max(a), 509);
	cr_assert_eq(take(a, 0), 1);
	cr_assert_eq(stack_asid_mirror(a, 1, false), -EINVAL, "snp.mirror=0: refused as Linux");
	stack_asid_put(a, 1, false);
	assert_state(a, 1, STACK_ASID_FREE, false, 0);     /* snp.asid_recycle=immediate */
	sim_free(s);
}

Test(asid, more_asids_than_the_rmp_accepts)
{
	static const char *const sets[] = { "rmp.max_asid", "100", "snp.asids", "101", NULL };
	struct sim_err err;

	cr_assert_null(machine(sets, &err));
	cr_assert(strstr(err.msg, "snp.asids") && strstr(err.msg, "rmp.max_asid"), "%s", err.msg);
}
