/*
 * palloc.c - the host physical-page allocator (4K pages and 2M blocks).
 *
 * Bookkeeping is per 2M block, created when the block is first used:
 * blocks at or above the bump index were never touched and are free.
 * A touched block is either
 *   FREE   whole and free, on the whole-free stack, or
 *   SPLIT  one bit per 4K page in three maps (used, leaked, held); a page
 *          with no bit set is free.  A block allocated as one 2M folio is
 *          SPLIT with every used bit set and .big, so that a leak of one of
 *          its pages (a failed reclaim) needs no other representation.
 * A split block with free pages sits on the partial stack (lazily: an
 * entry whose block has no free page any more, or was merged, is dropped
 * when met).  When the last page of a split block that holds no leaked or
 * held page comes back, the block merges into a whole-free block.
 *
 * The RMP is consulted before any page is handed out: a page it has
 * assigned (or that a running vCPU uses as VMCB/VMSA/AVIC page) is set
 * aside as held, never returned.  A page freed while assigned is leaked.
 * That is the allocator's share of the invariant "no host write ever
 * lands on an assigned page": host software only writes pages it got here.
 */
#include "sim/stack/stack.h"
#include "rmp/rmp.h"

#include <stdlib.h>
#include <string.h>

#define PAGES_PER_BLK 512u
#define BLK_WORDS     (PAGES_PER_BLK / 64)
#define CHUNK_SHIFT   12                       /* 4096 blocks (8 GiB) per chunk */
#define CHUNK_BLKS    (1u << CHUNK_SHIFT)

enum blk_state { BLK_FREE, BLK_SPLIT };

struct blk {
	uint8_t state;                 /* enum blk_state */
	bool big;                      /* allocated as one 2M block */
	bool on_partial;               /* an entry for it is on the partial stack */
	uint16_t nfree;                /* SPLIT: pages with no bit set */
	uint64_t used[BLK_WORDS];
	uint64_t leaked[BLK_WORDS];
	uint64_t held[BLK_WORDS];      /* held, or outside the range (not counted) */
	uint64_t cached[BLK_WORDS];    /* freed, on the hot list (not free in the block) */
};

/* A LIFO stack of block indices. */
struct idx_stack {
	uint64_t *v;
	size_t n, cap;
};

struct stack_palloc {
	uint64_t base, size;           /* the range, 4K aligned */
	uint64_t blk0;                 /* address of block 0: base rounded down to 2M */
	uint64_t nblk;                 /* 2M blocks covering the range */
	uint64_t bump;                 /* blocks [0, bump) have bookkeeping */
	const struct rmp *rmp;         /* NULL or disabled: nothing to consult */
	struct blk **chunk;            /* [nblk / CHUNK_BLKS + 1], allocated on use */
	size_t nchunk;
	struct idx_stack whole;        /* FREE blocks */
	struct idx_stack partial;      /* SPLIT blocks that may have a free page */
	struct idx_stack hot;          /* freed 4K pages, reused last in first out */
	struct stack_palloc_stats st;
};

static void push(struct idx_stack *s, uint64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = sim_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = v;
}

static bool bit(const uint64_t *m, unsigned i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

static void set_bit(uint64_t *m, unsigned i, bool on)
{
	if (on)
		m[i / 64] |= 1ull << (i % 64);
	else
		m[i / 64] &= ~(1ull << (i % 64));
}

struct stack_palloc *stack_palloc_new(uint64_t base, uint64_t size, const struct rmp *rmp,
				      struct sim_err *err)
{
	struct stack_palloc *pa;
	uint64_t end;

	if (size == 0 || (base | size) & (SIM_SZ_4K - 1)) {
		sim_err_set(err, "host page allocator: range [0x%llx, +0x%llx) must be non-empty "
			    "and 4K aligned", (unsigned long long)base, (unsigned long long)size);
		return NULL;
	}
	if (base >= SIM_PA_LIMIT || size > SIM_PA_LIMIT - base) {
		sim_err_set(err, "host page allocator: range [0x%llx, +0x%llx) goes beyond 2^52",
			    (unsigned long long)base, (unsigned long long)size);
		return NULL;
	}
	end = (base + size + SIM_SZ_2M - 1) & ~(SIM_SZ_2M - 1);
	pa = sim_xcalloc(1, sizeof(*pa));
	pa->base = base;
	pa->size = size;
	pa->blk0 = base & ~(SIM_SZ_2M - 1);
	pa->nblk = (end - pa->blk0) / SIM_SZ_2M;
	pa->rmp = rmp && rmp_enabled(rmp) ? rmp : NULL;
	pa->nchunk = (size_t)((pa->nblk + CHUNK_BLKS - 1) >> CHUNK_SHIFT);
	pa->chunk = sim_xcalloc(pa->nchunk, sizeof(*pa->chunk));
	return pa;
}

void stack_palloc_free_all(struct stack_palloc *pa)
{
	if (!pa)
		return;
	for (size_t i = 0; i < pa->nchunk; i++)
		free(pa->chunk[i]);
	free(pa->chunk);
	free(pa->whole.v);
	free(pa->partial.v);
	free(pa->hot.v);
	free(pa);
}

/* Bookkeeping of block @b (< bump). */
static struct blk *blk_of(const struct stack_palloc *pa, uint64_t b)
{
	return &pa->chunk[b >> CHUNK_SHIFT][b & (CHUNK_BLKS - 1)];
}

static uint64_t page_addr(const struct stack_palloc *pa, uint64_t b, unsigned i)
{
	return pa->blk0 + b * SIM_SZ_2M + (uint64_t)i * SIM_SZ_4K;
}

static bool in_range(const struct stack_palloc *pa, uint64_t addr)
{
	return addr >= pa->base && addr - pa->base < pa->size;
}

/* Put block @b on the partial stack unless an entry for it is there. */
static void partial_push(struct stack_palloc *pa, uint64_t b)
{
	struct blk *k = blk_of(pa, b);

	if (!k->on_partial) {
		k->on_partial = true;
		push(&pa->partial, b);
	}
}

/*
 * Take the next never-touched block.  A block wholly inside the range
 * starts FREE; one the range covers in part (its first or last) starts
 * SPLIT with the pages outside set aside (held, not counted) and goes on
 * the partial stack.  -1 when none is left.
 */
static int64_t blk_fresh(struct stack_palloc *pa)
{
	uint64_t b = pa->bump;
	struct blk *k;

	if (b >= pa->nblk)
		return -1;
	if (!pa->chunk[b >> CHUNK_SHIFT])
		pa->chunk[b >> CHUNK_SHIFT] = sim_xcalloc(CHUNK_BLKS, sizeof(struct blk));
	pa->bump++;
	k = blk_of(pa, b);
	k->state = BLK_FREE;
	if (in_range(pa, page_addr(pa, b, 0)) && in_range(pa, page_addr(pa, b, PAGES_PER_BLK - 1)))
		return (int64_t)b;
	k->state = BLK_SPLIT;
	k->nfree = PAGES_PER_BLK;
	for (unsigned i = 0; i < PAGES_PER_BLK; i++)
		if (!in_range(pa, page_addr(pa, b, i))) {
			set_bit(k->held, i, true);
			k->nfree--;
		}
	partial_push(pa, b);
	return (int64_t)b;
}

/* The RMP forbids handing out @addr: assigned, or a running vCPU's page. */
static bool rmp_forbids(const struct stack_palloc *pa, uint64_t addr)
{
	struct rmp_entry e;

	if (!pa->rmp)
		return false;
	if (rmp_entry_effective(pa->rmp, addr, &e) && e.assigned)
		return true;
	return rmp_in_use(pa->rmp, addr) >= 0;
}

/* FREE => SPLIT with every page free. */
static void blk_split(struct stack_palloc *pa, uint64_t b)
{
	struct blk *k = blk_of(pa, b);

	memset(k->used, 0, sizeof(k->used));
	memset(k->leaked, 0, sizeof(k->leaked));
	memset(k->held, 0, sizeof(k->held));
	memset(k->cached, 0, sizeof(k->cached));
	k->state = BLK_SPLIT;
	k->big = false;
	k->nfree = PAGES_PER_BLK;
	partial_push(pa, b);
}

/* Lowest free page of a SPLIT block with nfree > 0. */
static unsigned blk_first_free(const struct blk *k)
{
	for (unsigned w = 0; w < BLK_WORDS; w++) {
		uint64_t f = ~(k->used[w] | k->leaked[w] | k->held[w] | k->cached[w]);

		if (f)
			return w * 64 + (unsigned)__builtin_ctzll(f);
	}
	sim_fatal("palloc: block counted %u free pages but has none", k->nfree);
}

/* Block and index of a page of the range. */
static void page_of(const struct stack_palloc *pa, uint64_t addr, uint64_t *b, unsigned *i)
{
	*b = (addr - pa->blk0) / SIM_SZ_2M;
	*i = (unsigned)((addr - pa->blk0) % SIM_SZ_2M / SIM_SZ_4K);
}

/*
 * Hand out page @i of block @b (free, or @cached): free => used, or
 * free => held when the RMP forbids it.  Return: handed out.
 */
static bool take_page(struct stack_palloc *pa, struct blk *k, uint64_t b, unsigned i,
		      bool cached, uint64_t *out)
{
	uint64_t addr = page_addr(pa, b, i);

	if (cached)
		set_bit(k->cached, i, false);
	else
		k->nfree--;
	if (rmp_forbids(pa, addr)) {
		set_bit(k->held, i, true);
		pa->st.held++;
		return false;
	}
	set_bit(k->used, i, true);
	*out = addr;
	return true;
}

static int get_4k(struct stack_palloc *pa, uint64_t *out)
{
	for (;;) {
		struct blk *k;
		int64_t b;

		if (pa->hot.n) {
			uint64_t addr = pa->hot.v[--pa->hot.n], hb;
			unsigned i;

			page_of(pa, addr, &hb, &i);
			if (take_page(pa, blk_of(pa, hb), hb, i, true, out))
				return 0;
			continue;
		}
		if (pa->partial.n) {
			uint64_t top = pa->partial.v[pa->partial.n - 1];

			k = blk_of(pa, top);
			if (k->state != BLK_SPLIT || k->nfree == 0) {
				/* Stale entry: merged since, or full. */
				k->on_partial = false;
				pa->partial.n--;
				continue;
			}
			if (take_page(pa, k, top, blk_first_free(k), false, out))
				return 0;
			continue;
		}
		if (pa->whole.n) {
			b = (int64_t)pa->whole.v[--pa->whole.n];
			blk_split(pa, (uint64_t)b);
			pa->st.splits++;
		} else if ((b = blk_fresh(pa)) >= 0) {
			if (blk_of(pa, (uint64_t)b)->state == BLK_FREE) {
				blk_split(pa, (uint64_t)b);
				pa->st.splits++;
			}
		} else {
			return -1;
		}
	}
}

/* A SPLIT block got free pages back: merge it, or make sure it is on the partial stack. */
static void blk_gained(struct stack_palloc *pa, uint64_t b, struct blk *k)
{
	bool any = false;

	for (unsigned w = 0; w < BLK_WORDS; w++)
		any |= (k->leaked[w] | k->held[w] | k->cached[w]) != 0;
	k->big = false;
	if (k->nfree == PAGES_PER_BLK && !any) {
		/* SPLIT (all free) => FREE */
		k->state = BLK_FREE;
		pa->st.merges++;
		push(&pa->whole, b);
		return;
	}
	if (k->nfree)
		partial_push(pa, b);
}

/* Hot list => free in their blocks (which may merge), as the kernel drains its per-CPU lists. */
static void drain_hot(struct stack_palloc *pa)
{
	while (pa->hot.n) {
		uint64_t addr = pa->hot.v[--pa->hot.n], b;
		unsigned i;
		struct blk *k;

		page_of(pa, addr, &b, &i);
		k = blk_of(pa, b);
		set_bit(k->cached, i, false);
		k->nfree++;
		blk_gained(pa, b, k);
	}
}

static int get_2m(struct stack_palloc *pa, uint64_t *out)
{
	bool drained = false;

	for (;;) {
		struct blk *k;
		bool clean = true;
		int64_t b;

		if (pa->whole.n) {
			b = (int64_t)pa->whole.v[--pa->whole.n];
		} else if ((b = blk_fresh(pa)) >= 0) {
			if (blk_of(pa, (uint64_t)b)->state != BLK_FREE)
				continue;   /* partly outside the range: 4K use only */
		} else if (!drained && pa->hot.n) {
			drain_hot(pa);
			drained = true;
			continue;
		} else {
			return -1;
		}
		k = blk_of(pa, (uint64_t)b);
		for (unsigned i = 0; i < PAGES_PER_BLK && clean; i++)
			clean = !rmp_forbids(pa, page_addr(pa, (uint64_t)b, i));
		if (!clean) {
			/* FREE => SPLIT, the forbidden pages held; 4K allocations use the rest. */
			blk_split(pa, (uint64_t)b);
			for (unsigned i = 0; i < PAGES_PER_BLK; i++)
				if (rmp_forbids(pa, page_addr(pa, (uint64_t)b, i))) {
					set_bit(k->held, i, true);
					k->nfree--;
					pa->st.held++;
				}
			continue;
		}
		/* FREE => SPLIT(big), every page used */
		memset(k->used, 0xff, sizeof(k->used));
		memset(k->leaked, 0, sizeof(k->leaked));
		memset(k->held, 0, sizeof(k->held));
		memset(k->cached, 0, sizeof(k->cached));
		k->state = BLK_SPLIT;
		k->big = true;
		k->nfree = 0;
		*out = page_addr(pa, (uint64_t)b, 0);
		return 0;
	}
}

int stack_palloc_get(struct stack_palloc *pa, bool order_2m, uint64_t *out)
{
	int rc = order_2m ? get_2m(pa, out) : get_4k(pa, out);

	if (rc) {
		pa->st.fail++;
		return -1;
	}
	if (order_2m) {
		pa->st.alloc_2m++;
		pa->st.pages += PAGES_PER_BLK;
	} else {
		pa->st.alloc_4k++;
		pa->st.pages++;
	}
	return 0;
}

/* Block and page index of an allocated page, or sim_fatal naming @what. */
static struct blk *used_page(const struct stack_palloc *pa, uint64_t addr, const char *what,
			     uint64_t *b, unsigned *i)
{
	struct blk *k;

	if (!in_range(pa, addr) || (addr & (SIM_SZ_4K - 1)))
		sim_fatal("palloc: %s of 0x%llx: not a page of [0x%llx, +0x%llx)", what,
			  (unsigned long long)addr, (unsigned long long)pa->base,
			  (unsigned long long)pa->size);
	page_of(pa, addr, b, i);
	if (*b >= pa->bump || (k = blk_of(pa, *b))->state != BLK_SPLIT || !bit(k->used, *i))
		sim_fatal("palloc: %s of 0x%llx: the page is not allocated", what,
			  (unsigned long long)addr);
	return k;
}

/*
 * used => leaked when the RMP still has the page assigned; else used =>
 * cached (on the hot list: @hot) or used => free.  Return: not leaked.
 */
static bool release_page(struct stack_palloc *pa, struct blk *k, uint64_t b, unsigned i, bool hot)
{
	set_bit(k->used, i, false);
	pa->st.pages--;
	if (rmp_forbids(pa, page_addr(pa, b, i))) {
		set_bit(k->leaked, i, true);
		pa->st.leaked++;
		return false;
	}
	if (hot) {
		set_bit(k->cached, i, true);
		push(&pa->hot, page_addr(pa, b, i));
	} else {
		k->nfree++;
	}
	return true;
}

void stack_palloc_put(struct stack_palloc *pa, uint64_t addr, bool order_2m)
{
	struct blk *k;
	uint64_t b;
	unsigned i;

	k = used_page(pa, addr, order_2m ? "2M free" : "4K free", &b, &i);
	if (order_2m) {
		if (!k->big || i != 0)
			sim_fatal("palloc: 2M free of 0x%llx: not a 2M block from the allocator",
				  (unsigned long long)addr);
		for (unsigned j = 0; j < PAGES_PER_BLK; j++)
			if (bit(k->used, j))
				release_page(pa, k, b, j, false);
		pa->st.free_2m++;
		blk_gained(pa, b, k);
		return;
	}
	if (k->big)
		sim_fatal("palloc: 4K free of 0x%llx: the page belongs to a 2M block",
			  (unsigned long long)addr);
	if (release_page(pa, k, b, i, true))
		pa->st.free_4k++;
}

void stack_palloc_leak(struct stack_palloc *pa, uint64_t addr)
{
	uint64_t b;
	unsigned i;
	struct blk *k = used_page(pa, addr, "leak", &b, &i);

	/* used => leaked: never free, never handed out again. */
	set_bit(k->used, i, false);
	set_bit(k->leaked, i, true);
	pa->st.pages--;
	pa->st.leaked++;
}

enum stack_page_state stack_palloc_state(const struct stack_palloc *pa, uint64_t addr)
{
	const struct blk *k;
	uint64_t b;
	unsigned i;

	if (!in_range(pa, addr))
		return STACK_PAGE_OUTSIDE;
	page_of(pa, addr, &b, &i);
	if (b >= pa->bump || (k = blk_of(pa, b))->state == BLK_FREE)
		return STACK_PAGE_FREE;
	if (bit(k->used, i))
		return STACK_PAGE_USED;
	if (bit(k->leaked, i))
		return STACK_PAGE_LEAKED;
	if (bit(k->held, i))
		return STACK_PAGE_HELD;
	return STACK_PAGE_FREE;
}

const char *stack_page_state_name(enum stack_page_state st)
{
	static const char *const names[] = { "outside", "free", "used", "leaked", "held" };

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const struct stack_palloc_stats *stack_palloc_stats(const struct stack_palloc *pa)
{
	return &pa->st;
}

uint64_t stack_palloc_base(const struct stack_palloc *pa)
{
	return pa->base;
}

uint64_t stack_palloc_size(const struct stack_palloc *pa)
{
	return pa->size;
}

struct sim_stat_group *stack_palloc_register_stats(struct stack_palloc *pa, struct sim *s)
{
	static const struct sim_stat_desc d[] = {
#define F(f) offsetof(struct stack_palloc_stats, f)
		{ "alloc_4k", SIM_STAT_COUNTER, F(alloc_4k), "4K pages handed out" },
		{ "alloc_2m", SIM_STAT_COUNTER, F(alloc_2m), "2M blocks handed out" },
		{ "free_4k", SIM_STAT_COUNTER, F(free_4k), "4K pages given back" },
		{ "free_2m", SIM_STAT_COUNTER, F(free_2m), "2M blocks given back" },
		{ "fail", SIM_STAT_COUNTER, F(fail), "allocations refused: no room left" },
		{ "leaked", SIM_STAT_COUNTER, F(leaked), "4K pages leaked (freed while RMP-assigned, or a failed reclaim): never reused" },
		{ "held", SIM_STAT_COUNTER, F(held), "4K pages set aside: assigned in the RMP or in use by a running vCPU when met" },
		{ "splits", SIM_STAT_COUNTER, F(splits), "2M blocks split to serve 4K allocations" },
		{ "merges", SIM_STAT_COUNTER, F(merges), "split blocks merged back into a free 2M block" },
		{ "pages", SIM_STAT_COUNTER, F(pages), "4K pages allocated now (a 2M block counts 512)" },
		{ NULL, 0, 0, NULL },
#undef F
	};

	return sim_stat_group_add(s, "stack.palloc", d, &pa->st);
}
