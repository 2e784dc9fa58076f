/*
 * test_s2_wset.c - s2_write_set() against the operations themselves
 * (suite "s2_wset"): for random sequences of map / unmap / protect /
 * annotate on tables of every format, the predicted pages must be
 * exactly the existing table pages the operation then stores to (seen by
 * a memory-timing hook), and the predicted count of new tables exactly
 * the pages it takes from the allocator.  When the prediction reports an
 * argument error or an existing mapping, the operation must return the
 * same error and store nothing.  Half the one-leaf maps go through
 * s2_map_leaf() instead (KVM's one-walk map): it must ask its check about
 * exactly the one predicted page, store nothing when the check refuses,
 * report an existing leaf as the path shows it, and otherwise store what
 * s2_map would.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdlib.h>
#include <string.h>

#include "stage2/s2.h"

#define MEMSZ   (1ull << 30)
#define POOL    (512ull << 20)   /* table pages from here up */

struct rec {
	uint64_t *pages;             /* pages stored to (SIM_SRC_DATA writes) */
	size_t n, cap;
	bool on;
};

static struct rec rec;
static uint64_t next_page;
static uint64_t *freed;
static size_t nfreed, capfreed;
static unsigned allocs;

static uint32_t t_access(void *arg, int agent, enum sim_mem_src src, uint64_t pa, uint32_t len,
			 bool write)
{
	uint64_t pg = pa & ~0xfffull;

	(void)arg;
	(void)agent;
	(void)len;
	if (!rec.on || !write || src != SIM_SRC_DATA)
		return 1;
	for (size_t i = 0; i < rec.n; i++)
		if (rec.pages[i] == pg)
			return 1;
	if (rec.n == rec.cap) {
		rec.cap = rec.cap ? 2 * rec.cap : 64;
		rec.pages = realloc(rec.pages, rec.cap * sizeof(*rec.pages));
		cr_assert_not_null(rec.pages);
	}
	rec.pages[rec.n++] = pg;
	return 1;
}

static const struct sim_mem_timing timing = { .access = t_access };

/* Bump allocator with LIFO reuse, as the script pool and the IOMMU pool. */
static uint64_t t_alloc(void *arg, struct sim_who *who)
{
	(void)who;
	(void)arg;
	allocs++;
	if (nfreed)
		return freed[--nfreed];
	next_page += 0x1000;
	return next_page - 0x1000;
}

static void t_free(void *arg, uint64_t pa)
{
	(void)arg;
	if (nfreed == capfreed) {
		capfreed = capfreed ? 2 * capfreed : 64;
		freed = realloc(freed, capfreed * sizeof(*freed));
		cr_assert_not_null(freed);
	}
	freed[nfreed++] = pa;
}

static const struct s2_mm_ops mm_free = { .alloc_page = t_alloc, .free_page = t_free };
static const struct s2_mm_ops mm_keep = { .alloc_page = t_alloc };

struct fmt_case {
	enum s2_fmt_id fmt;
	unsigned levels;
	bool frees;                  /* the owner gives emptied tables back */
	uint8_t perms[3];            /* permissions the format encodes */
	uint64_t hi;                 /* OR-ed into some addresses (canonical upper half) */
};

static struct fmt_case fmt_cases[] = {
	{ S2_FMT_ARM64, 3, true, { S2_PERM_R, S2_PERM_R | S2_PERM_W, S2_PERM_ALL }, 0 },
	{ S2_FMT_ARM64, 4, true, { S2_PERM_R, S2_PERM_R | S2_PERM_W, S2_PERM_ALL }, 0 },
	{ S2_FMT_NPT, 4, true, { S2_PERM_R, S2_PERM_R | S2_PERM_W, S2_PERM_ALL }, 0 },
	{ S2_FMT_EPT, 4, false, { S2_PERM_R, S2_PERM_R | S2_PERM_W, S2_PERM_ALL }, 0 },
	{ S2_FMT_AMDV1, 4, true, { S2_PERM_R, S2_PERM_W, S2_PERM_R | S2_PERM_W }, 0 },
	{ S1_FMT_X86_64, 4, false, { S2_PERM_R, S2_PERM_R | S2_PERM_W, S2_PERM_ALL },
	  0xffff800000000000ull },
	{ S1_FMT_SV39, 3, true, { S2_PERM_R, S2_PERM_R | S2_PERM_W, S2_PERM_ALL },
	  0xffffffc000000000ull },
};

ParameterizedTestParameters(s2_wset, matches_the_operation)
{
	return cr_make_param_array(struct fmt_case, fmt_cases,
				   sizeof(fmt_cases) / sizeof(fmt_cases[0]));
}

static uint64_t rnd_state;

/* s2_map_leaf's check: records the page it was asked about; refuses when told to. */
static uint64_t asked_page;
static unsigned asked;
static bool refuse;

static bool ok_cb(void *arg, uint64_t page)
{
	(void)arg;
	asked++;
	asked_page = page;
	return !refuse;
}

static uint64_t rnd(void)
{
	/* xorshift64*: a fixed sequence per seed. */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

static bool in_set(const uint64_t *pages, size_t n, uint64_t pg)
{
	for (size_t i = 0; i < n; i++)
		if (pages[i] == pg)
			return true;
	return false;
}

ParameterizedTest(struct fmt_case *tc, s2_wset, matches_the_operation)
{
	struct sim_mem *m = sim_mem_new(MEMSZ, 1);
	struct s2_wset ws = { 0 };
	struct s2_pgt *p;
	unsigned checked = 0, refused = 0, with_new = 0, frees_seen = 0;
	unsigned one_ok = 0, one_refused = 0, one_exists = 0;
	int rc;

	sim_mem_set_timing(m, &timing);
	memset(&rec, 0, sizeof(rec));
	next_page = POOL;
	nfreed = 0;
	rnd_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)tc->fmt;
	p = s2_pgt_new(s2_fmt(tc->fmt), tc->levels, m, S2_NO_PAGE, tc->frees ? &mm_free : &mm_keep,
		       NULL, NULL, &rc);
	cr_assert_not_null(p, "s2_pgt_new: %d", rc);
	for (unsigned it = 0; it < 3000; it++) {
		enum s2_wset_op op = (enum s2_wset_op)(rnd() % 4);
		uint64_t grain = (rnd() % 4) ? 0x1000 : 0x200000;
		uint64_t ia = (rnd() % 2048) * 0x200000 + (rnd() % 3 ? (rnd() % 512) * 0x1000 : 0);
		uint64_t size = ((rnd() % 3) ? 1 + rnd() % 8 : 1 + rnd() % 1100) * grain;
		uint64_t leaf = 0, pa, freed_before = s2_pgt_freed_count(p);
		struct s2_prot prot = { .perms = tc->perms[rnd() % 3] };
		uint8_t owner = (uint8_t)(rnd() % 4);
		struct s2_leaf_found lf = { 0 };
		unsigned before;
		bool one = false;
		int pr, orc = 0;

		if (op == S2_WSET_MAP) {
			static const uint64_t leaves[] = { 0, 0x1000, 0x200000, 0x40000000 };

			leaf = leaves[rnd() % 4];
			if (leaf) {
				ia &= ~(leaf - 1);
				size = leaf * (1 + rnd() % 2);
			}
			size = size > (64ull << 20) ? 64ull << 20 : size;
			pa = (rnd() % 64) * (leaf ? leaf : 0x200000) % (256ull << 20);
			if (rnd() % 2)
				pa += ia & 0x1fffff & ~(leaf ? leaf - 1 : 0);
		} else {
			pa = 0;
		}
		if (tc->hi && rnd() % 2)
			ia |= tc->hi;
		pr = s2_write_set(p, op, ia, pa, size, leaf, &prot, &ws);
		rec.n = 0;
		rec.on = true;
		before = allocs;
		switch (op) {
		case S2_WSET_MAP:
			if (leaf && size == leaf && rnd() % 2) {
				one = true;
				asked = 0;
				refuse = rnd() % 8 == 0;
				orc = s2_map_leaf(p, NULL, ia, pa, leaf, &prot, ok_cb, NULL, &lf);
				if (orc == S2_ERR_BUSY) {
					/* a table or an owner id in the way: s2_map's job */
					cr_assert_eq(rec.n, 0, "it %u: map_leaf stored before BUSY", it);
					cr_assert_eq(allocs, before);
					one = false;
					orc = s2_map(p, NULL, ia, pa, size, leaf, &prot);
				}
			} else {
				orc = s2_map(p, NULL, ia, pa, size, leaf, &prot);
			}
			break;
		case S2_WSET_UNMAP:    orc = s2_unmap(p, NULL, ia, size); break;
		case S2_WSET_PROTECT:  orc = s2_protect(p, NULL, ia, size, prot.perms); break;
		case S2_WSET_ANNOTATE: orc = s2_annotate(p, NULL, ia, size, owner); break;
		}
		rec.on = false;
		if (one && orc == S2_ERR_REFUSED) {
			cr_assert_eq(pr, S2_OK, "it %u: refused where the prediction says %d", it, pr);
			cr_assert_eq(asked, 1);
			cr_assert_eq(ws.n, 1);
			cr_assert_eq(asked_page, ws.pages[0], "it %u: asked about 0x%llx, writes 0x%llx", it,
				     (unsigned long long)asked_page, (unsigned long long)ws.pages[0]);
			cr_assert_eq(rec.n, 0, "it %u: the refused map stored", it);
			cr_assert_eq(allocs, before);
			one_refused++;
			continue;
		}
		if (one && orc == S2_ERR_EXISTS) {
			struct s2_path path;

			cr_assert_eq(s2_pgt_path(p, ia, &path), S2_PATH_OK);
			cr_assert_eq(lf.size, path.size);
			cr_assert_eq(lf.pa, path.pa & ~(path.size - 1));
			cr_assert_eq(asked, 0);
			one_exists++;
		}
		if (one && orc == S2_OK) {
			cr_assert_eq(asked, 1);
			cr_assert_eq(ws.n, 1, "it %u: a one-leaf map writes one existing page", it);
			cr_assert_eq(asked_page, ws.pages[0]);
			one_ok++;
			/* the same map again finds the new leaf and writes nothing */
			size_t stored = rec.n;

			asked = 0;
			rec.n = 0;
			rec.on = true;
			cr_assert_eq(s2_map_leaf(p, NULL, ia, pa, leaf, &prot, ok_cb, NULL, &lf), S2_ERR_EXISTS);
			rec.on = false;
			cr_assert_eq(rec.n, 0);
			cr_assert_eq(asked, 0);
			cr_assert_eq(lf.size, leaf);
			cr_assert_eq(lf.pa, pa);
			rec.n = stored;   /* the first map's stores, for the checks below */
			one_exists++;
		}
		if (pr != S2_OK) {
			cr_assert_eq(orc, pr, "it %u op %d ia 0x%llx size 0x%llx: predicted %d, op %d", it,
				     op, (unsigned long long)ia, (unsigned long long)size, pr, orc);
			if (pr == S2_ERR_SIZE || pr == S2_ERR_UNMAPPED)
				continue;   /* the operation stops at the same entry, as predicted */
			cr_assert_eq(rec.n, 0, "it %u: the refused operation stored", it);
			cr_assert_eq(allocs, before);
			refused++;
			continue;
		}
		cr_assert(orc == S2_OK || (op == S2_WSET_PROTECT && orc == S2_ERR_NOENT && ws.n == 0),
			  "it %u op %d ia 0x%llx size 0x%llx leaf 0x%llx: op %d", it, op,
			  (unsigned long long)ia, (unsigned long long)size, (unsigned long long)leaf, orc);
		cr_assert_eq(allocs - before, ws.new_tables, "it %u op %d ia 0x%llx size 0x%llx: "
			     "allocated %u, predicted %llu", it, op, (unsigned long long)ia,
			     (unsigned long long)size, allocs - before,
			     (unsigned long long)ws.new_tables);
		/* Stored pages = predicted existing pages + the new ones (pool pages >= POOL). */
		for (size_t i = 0; i < ws.n; i++)
			cr_assert(in_set(rec.pages, rec.n, ws.pages[i]),
				  "it %u op %d ia 0x%llx size 0x%llx: predicted page 0x%llx not written", it,
				  op, (unsigned long long)ia, (unsigned long long)size,
				  (unsigned long long)ws.pages[i]);
		cr_assert_eq(rec.n, ws.n + ws.new_tables, "it %u op %d ia 0x%llx size 0x%llx: "
			     "%zu pages stored, predicted %zu + %llu new", it, op,
			     (unsigned long long)ia, (unsigned long long)size, rec.n, ws.n,
			     (unsigned long long)ws.new_tables);
		checked++;
		with_new += ws.new_tables != 0;
		frees_seen += s2_pgt_freed_count(p) != freed_before;
	}
	/* The sequence exercised every path. */
	cr_assert_gt(checked, 500, "checked %u", checked);
	cr_assert_gt(refused, 50, "refused %u", refused);
	cr_assert_gt(with_new, 50, "with new tables %u", with_new);
	cr_assert_geq(one_ok, 10, "s2_map_leaf mapped %u", one_ok);
	cr_assert_geq(one_refused, 1, "s2_map_leaf refused %u", one_refused);
	cr_assert_geq(one_exists, 1, "s2_map_leaf found a leaf %u", one_exists);
	if (tc->frees)
		cr_assert_gt(frees_seen, 5, "unmaps that freed tables: %u", frees_seen);
	s2_wset_free(&ws);
	s2_pgt_free(p);
	sim_mem_free(m);
	free(rec.pages);
}
