/*
 * test_tlb.c - the generic set-associative structure (stage2/tlb.h):
 * geometry checks, hit/miss counting, LRU replacement, replacement of an
 * equal key, invalidation by key / space / predicate / all, absent TLBs.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "stage2/tlb.h"

struct pay {
	uint64_t v;   /* test payload */
};

static struct tlb *mk(unsigned sets, unsigned ways)
{
	struct tlb_cfg c = { .sets = sets, .ways = ways, .hit_lat = 3, .payload = sizeof(struct pay) };
	struct tlb *t = tlb_new(&c);

	cr_assert_not_null(t);
	return t;
}

static struct tlb_key K(uint64_t tag, uint32_t space, uint32_t kind)
{
	return (struct tlb_key){ .tag = tag, .space = space, .kind = kind };
}

static void put(struct tlb *t, uint64_t tag, uint32_t space, uint64_t v)
{
	struct tlb_key k = K(tag, space, 0);
	struct pay *p = tlb_insert(t, &k);

	cr_assert_not_null(p);
	cr_assert_eq(p->v, 0, "payload must come back zeroed");
	p->v = v;
}

static uint64_t get(struct tlb *t, uint64_t tag, uint32_t space)
{
	struct tlb_key k = K(tag, space, 0);
	struct pay *p = tlb_lookup(t, &k);

	return p ? p->v : 0;
}

struct geom_case {
	unsigned sets, ways;   /* geometry */
	size_t payload;        /* bytes */
	bool ok;               /* tlb_new accepts it */
};

static struct geom_case geom_cases[] = {
	{ 1, 1, 8, true },
	{ 64, 8, 16, true },
	{ TLB_MAX_SETS, 1, 8, true },
	{ 1, 0, 8, true },                       /* absent */
	{ 0, 4, 8, false },                      /* no sets */
	{ 3, 4, 8, false },                      /* not a power of two */
	{ TLB_MAX_SETS * 2, 1, 8, false },
	{ 4, TLB_MAX_WAYS + 1, 8, false },
	{ 4, 4, TLB_PAYLOAD_MAX + 1, false },
};

ParameterizedTestParameters(tlb, geometry)
{
	return cr_make_param_array(struct geom_case, geom_cases,
				   sizeof(geom_cases) / sizeof(geom_cases[0]));
}

ParameterizedTest(struct geom_case *gc, tlb, geometry)
{
	struct tlb_cfg c = { .sets = gc->sets, .ways = gc->ways, .hit_lat = 1, .payload = gc->payload };
	struct tlb *t = tlb_new(&c);

	cr_assert_eq(t != NULL, gc->ok, "sets=%u ways=%u payload=%zu", gc->sets, gc->ways,
		     gc->payload);
	if (t) {
		cr_expect_eq(tlb_capacity(t), gc->sets * gc->ways);
		cr_expect_eq(tlb_occupancy(t), 0);
		cr_expect_eq(tlb_latency(t), 1);
	}
	tlb_free(t);
}

Test(tlb, hit_miss_counts_and_payload)
{
	struct tlb *t = mk(4, 2);
	const struct tlb_stats *st = tlb_stats(t);

	cr_expect_eq(get(t, 5, 1), 0);
	put(t, 5, 1, 0x55);
	cr_expect_eq(get(t, 5, 1), 0x55);
	cr_expect_eq(get(t, 5, 2), 0, "another space must miss");
	{
		struct tlb_key k = K(5, 1, 1);
		cr_expect_null(tlb_lookup(t, &k), "another kind must miss");
	}
	cr_expect_eq(st->hit, 1);
	cr_expect_eq(st->miss, 3);
	cr_expect_eq(st->lookup, 4);
	cr_expect_eq(st->insert, 1);
	cr_expect_eq(tlb_occupancy(t), 1);
	tlb_free(t);
}

Test(tlb, lru_victim_in_a_set)
{
	struct tlb *t = mk(1, 2);
	const struct tlb_stats *st = tlb_stats(t);

	put(t, 1, 0, 11);
	put(t, 2, 0, 22);
	cr_assert_eq(get(t, 1, 0), 11);       /* 1 is now most recent */
	put(t, 3, 0, 33);                     /* evicts 2 */
	cr_expect_eq(st->evict, 1);
	cr_expect_eq(get(t, 2, 0), 0);
	cr_expect_eq(get(t, 1, 0), 11);
	cr_expect_eq(get(t, 3, 0), 33);
	cr_expect_eq(tlb_occupancy(t), 2);
	tlb_free(t);
}

Test(tlb, peek_does_not_touch_lru_or_counters)
{
	struct tlb *t = mk(1, 2);
	struct tlb_key k1 = K(1, 0, 0);

	put(t, 1, 0, 11);
	put(t, 2, 0, 22);
	cr_assert_not_null(tlb_peek(t, &k1));   /* 1 stays least recent */
	put(t, 3, 0, 33);
	cr_expect_null(tlb_peek(t, &k1));
	cr_expect_eq(tlb_stats(t)->lookup, 0);
	tlb_free(t);
}

Test(tlb, insert_of_equal_key_replaces)
{
	struct tlb *t = mk(1, 4);

	put(t, 7, 0, 1);
	put(t, 7, 0, 2);
	cr_expect_eq(tlb_occupancy(t), 1);
	cr_expect_eq(get(t, 7, 0), 2);
	cr_expect_eq(tlb_stats(t)->evict, 0);
	tlb_free(t);
}

static bool odd_payload(const struct tlb_key *k, const void *payload, void *arg)
{
	(void)k;
	(void)arg;
	return ((const struct pay *)payload)->v & 1;
}

Test(tlb, invalidation_by_key_space_predicate_all)
{
	struct tlb *t = mk(8, 4);

	for (uint64_t i = 0; i < 8; i++)
		put(t, i, (uint32_t)(i % 2), i + 1);
	cr_assert_eq(tlb_occupancy(t), 8);
	{
		struct tlb_key k = K(3, 1, 0);
		cr_expect_eq(tlb_inval_key(t, &k), 1);
		cr_expect_eq(tlb_inval_key(t, &k), 0);
	}
	cr_expect_eq(get(t, 3, 1), 0);
	cr_expect_eq(tlb_occupancy(t), 7);
	cr_expect_eq(tlb_inval_space(t, 0), 4);         /* tags 0,2,4,6 */
	cr_expect_eq(get(t, 2, 0), 0);
	cr_expect_eq(get(t, 5, 1), 6);
	cr_expect_eq(tlb_inval_if(t, odd_payload, NULL), 0);   /* payloads 2,6,8 left */
	cr_expect_eq(tlb_occupancy(t), 3);
	put(t, 100, 3, 9);
	cr_expect_eq(tlb_inval_if(t, odd_payload, NULL), 1);
	cr_expect_eq(tlb_inval_all(t), 3);
	cr_expect_eq(tlb_occupancy(t), 0);
	cr_expect_eq(tlb_stats(t)->inval, 1 + 4 + 1 + 3);
	tlb_free(t);
}

Test(tlb, absent_structure_never_hits)
{
	struct tlb *t = mk(1, 0);
	struct tlb_key k = K(1, 0, 0);

	cr_expect_null(tlb_insert(t, &k));
	cr_expect_null(tlb_lookup(t, &k));
	cr_expect_eq(tlb_occupancy(t), 0);
	cr_expect_eq(tlb_inval_all(t), 0);
	cr_expect_eq(tlb_stats(t)->miss, 0);
	tlb_free(t);
}

static int count_fn(const struct tlb_key *k, const void *payload, void *arg)
{
	(void)k;
	(void)payload;
	(*(unsigned *)arg)++;
	return 0;
}

Test(tlb, for_each_sees_every_valid_entry)
{
	struct tlb *t = mk(2, 2);
	unsigned n = 0;

	put(t, 0, 0, 1);
	put(t, 1, 0, 2);
	put(t, 2, 0, 3);
	tlb_for_each(t, count_fn, &n);
	cr_expect_eq(n, 3);
	tlb_free(t);
}
