/*
 * s2_wset.c - write sets: which table pages a management operation (map,
 * unmap, protect, annotate) would write, found before it runs by reading
 * the table untimed.  The owner of the table checks each of those stores
 * first (the RMP host-write check: a host data write must hit a
 * hypervisor-owned page, APM vol. 2 section 15.36.10, Table 15-39) and
 * refuses the whole operation before anything is written: check, then
 * commit.
 *
 * The rules mirror, entry by entry, the visitors of s2_visit.c and the
 * helpers of s2_walk.c (walk order, which entries each visitor rewrites,
 * when it installs or splits a table, when unmap frees an emptied one);
 * tests/test_s2_wset.c compares every prediction with the pages the
 * operation then really writes and allocates.
 */
#include "stage2/s2_int.h"

#include <stdlib.h>
#include <string.h>

struct ws_data {
	struct s2_pgt *p;
	enum s2_wset_op op;
	uint64_t start, end;     /* index-space range, as s2_walk() makes it */
	uint64_t ia0, pa0;       /* MAP: index-space start and its output address */
	uint64_t leaf;           /* MAP: forced leaf size, 0 = largest */
	bool frees;              /* UNMAP: emptied tables are freed (mm->free_page) */
	bool check;              /* MAP: the check pass (valid leaves only) */
	struct s2_wset *ws;
};

/* Record a write to the page of @pa (once; consecutive writes usually share a page). */
static void ws_add(struct s2_wset *ws, uint64_t pa)
{
	uint64_t pg = pa & ~(uint64_t)(SIM_PAGE_SIZE - 1);

	if (ws->n && ws->pages[ws->n - 1] == pg)
		return;
	for (size_t i = 0; i < ws->n; i++)
		if (ws->pages[i] == pg)
			return;
	if (ws->n == ws->cap) {
		ws->cap = ws->cap ? 2 * ws->cap : 16;
		ws->pages = realloc(ws->pages, ws->cap * sizeof(*ws->pages));
		if (!ws->pages)
			sim_fatal("s2: out of host memory");
	}
	ws->pages[ws->n++] = pg;
}

void s2_wset_free(struct s2_wset *ws)
{
	free(ws->pages);
	memset(ws, 0, sizeof(*ws));
}

static bool ws_inside(const struct ws_data *d, uint64_t addr, unsigned sz)
{
	return addr >= d->start && addr + s2_sz_bytes(sz) <= d->end;
}

/* First entry of size class @sz the walk visits in the table covering from @base. */
static uint64_t ws_first(const struct ws_data *d, unsigned sz, uint64_t base)
{
	return d->start > base ? (d->start & ~(s2_sz_bytes(sz) - 1)) : base;
}

/*
 * Tables created below the entry (@sz, @addr) that the range covers only
 * in part: the split (or, for an empty entry, the installed table) of
 * this entry, then of each child the range still covers in part.
 */
static uint64_t ws_chain(const struct ws_data *d, unsigned sz, uint64_t addr)
{
	uint64_t n = 1, cesz = s2_sz_bytes(sz - 1), top = addr + s2_sz_bytes(sz);

	for (uint64_t a = ws_first(d, sz - 1, addr); a < d->end && a < top; a += cesz)
		if (!ws_inside(d, a, sz - 1))
			n += ws_chain(d, sz - 1, a);
	return n;
}

/* MAP: the entry (@sz, @addr) becomes a leaf (s2_map_visit's test). */
static bool ws_fits(const struct ws_data *d, unsigned sz, uint64_t addr)
{
	uint64_t esz = s2_sz_bytes(sz), pa = d->pa0 + (addr - d->ia0);

	return ws_inside(d, addr, sz) && (d->p->fmt->leaf_szs & (1u << sz)) && !(pa & (esz - 1)) &&
	       (d->leaf ? esz == d->leaf : true);
}

/* MAP: tables created below an empty entry that does not fit as a leaf. */
static int ws_map_new(struct ws_data *d, unsigned sz, uint64_t addr)
{
	uint64_t cesz, top = addr + s2_sz_bytes(sz);
	int r;

	if (ws_fits(d, sz, addr))
		return 0;
	if (sz == S2_SZ_4K)
		return S2_ERR_SIZE;    /* s2_visit_install_table() refuses */
	d->ws->new_tables++;
	cesz = s2_sz_bytes(sz - 1);
	for (uint64_t a = ws_first(d, sz - 1, addr); a < d->end && a < top; a += cesz) {
		r = ws_map_new(d, sz - 1, a);
		if (r)
			return r;
	}
	return 0;
}

/*
 * A non-table entry at @ptep (decoded @pte) under the operation's
 * visitor.  *@zero_after: the raw entry is 0 afterwards (UNMAP).
 */
static int ws_entry(struct ws_data *d, uint64_t ptep, const struct s2_pte *pte, unsigned sz,
		    uint64_t addr, bool *zero_after)
{
	bool inside = ws_inside(d, addr, sz);

	switch (d->op) {
	case S2_WSET_MAP:   /* s2_map_check_visit, then s2_map_visit */
		if (d->check)
			return pte->type == S2_PTE_LEAF ? S2_ERR_EXISTS : 0;
		ws_add(d->ws, ptep);
		*zero_after = false;
		return ws_map_new(d, sz, addr);
	case S2_WSET_UNMAP:     /* s2_inval_visit, annotate = false */
		if (pte->type == S2_PTE_INVALID)
			return 0;
		if (inside) {
			ws_add(d->ws, ptep);
			*zero_after = true;    /* mk_invalid(0) is all zero */
			return 0;
		}
		if (pte->type == S2_PTE_RESERVED)
			return 0;
		break;
	case S2_WSET_PROTECT:   /* s2_protect_visit */
		if (pte->type != S2_PTE_LEAF)
			return 0;
		ws_add(d->ws, ptep);
		if (inside)
			return 0;
		break;
	case S2_WSET_ANNOTATE:  /* s2_inval_visit, annotate = true */
		if (inside) {
			ws_add(d->ws, ptep);
			return 0;
		}
		if (pte->type == S2_PTE_RESERVED)
			return 0;
		break;
	}
	/* In part: split (or install a table), then the children the range covers in part. */
	if (sz == S2_SZ_4K)
		return S2_ERR_SIZE;
	ws_add(d->ws, ptep);
	*zero_after = false;
	d->ws->new_tables += ws_chain(d, sz, addr);
	return 0;
}

/*
 * Whether every entry of the table page at @tpa outside the visited
 * indices [@i0, @i1] is 0 (the rest of an UNMAP's emptiness test: the
 * visited ones end 0).  Stops at the first that is not.
 */
static bool ws_rest_zero(const struct ws_data *d, uint64_t tpa, unsigned i0, unsigned i1)
{
	const uint64_t *e = sim_mem_frame(d->p->mem, tpa, false);

	for (unsigned i = 0; e && i < 512; i++)
		if ((i < i0 || i > i1) && e[i])
			return false;
	return true;
}

/*
 * The entries of @table (size class @sz, first covering @base) in walk
 * order.  @empty (UNMAP with frees): set if every entry of the table is 0
 * afterwards, so that the walk's TABLE_POST step frees it.
 */
static int ws_table(struct ws_data *d, uint64_t table, unsigned sz, uint64_t base, bool *empty)
{
	const struct s2_fmt_ops *f = d->p->fmt;
	uint64_t esz = s2_sz_bytes(sz), tend = base + 512 * esz, tpa;
	uint64_t first = ws_first(d, sz, base), addr;
	bool visited_zero = true;   /* every entry the walk visits is 0 afterwards */
	int r = s2_sw_table_pa(d->p, table, &tpa);

	if (r)
		return r;
	for (addr = first; addr < d->end && addr < tend; addr += esz) {
		uint64_t ptep = tpa + 8ull * s2_index(addr, sz), raw = sim_mem_peek64(d->p->mem, ptep);
		bool zero_after = raw == 0;
		struct s2_pte pte;

		f->decode(raw, sz, &pte);
		if (pte.type == S2_PTE_TABLE) {
			bool child_empty = false;
			bool post = d->op == S2_WSET_UNMAP && d->frees;

			if (sz > S2_SZ_4K) {
				r = ws_table(d, pte.addr, sz - 1, addr, post ? &child_empty : NULL);
				if (r)
					return r;
			}
			if (child_empty) {   /* s2_unmap_post: the entry goes, the page is freed */
				ws_add(d->ws, ptep);
				zero_after = true;
			}
		} else {
			r = ws_entry(d, ptep, &pte, sz, addr, &zero_after);
			if (r)
				return r;
		}
		visited_zero &= zero_after;
	}
	if (empty)
		*empty = visited_zero && (addr == first ? ws_rest_zero(d, tpa, 1, 0) :
					  ws_rest_zero(d, tpa, s2_index(first, sz), s2_index(addr - esz, sz)));
	return 0;
}

/* The operation's own argument checks, in its order (nothing is written when they fail). */
static int ws_args(struct s2_pgt *p, enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
		   uint64_t leaf, const struct s2_prot *prot)
{
	uint64_t idx, raw;
	unsigned sz;
	int r;

	if (!p || !size || ((op == S2_WSET_MAP || op == S2_WSET_PROTECT) && !prot))
		return S2_ERR_INVAL;
	if ((ia | size) & (SIM_PAGE_SIZE - 1))
		return S2_ERR_ALIGN;
	if (!s2_ia_ok(p, ia, &idx) || size > s2_pgt_ia_limit(p) - idx)
		return S2_ERR_RANGE;
	if (op == S2_WSET_PROTECT) {
		struct s2_prot probe = { .perms = prot->perms };

		return p->fmt->mk_leaf(S2_SZ_4K, 0, &probe, &raw);
	}
	if (op != S2_WSET_MAP)
		return S2_OK;
	if (leaf) {
		for (sz = 0; sz < S2_SZ_COUNT && s2_sz_bytes(sz) != leaf; sz++)
			;
		if (sz == S2_SZ_COUNT || !(p->fmt->leaf_szs & (1u << sz)) || sz >= p->levels)
			return S2_ERR_SIZE;
	}
	if ((ia | pa | size) & ((leaf ? leaf : SIM_PAGE_SIZE) - 1))
		return S2_ERR_ALIGN;
	if (pa >= SIM_PA_LIMIT || size > SIM_PA_LIMIT - pa)
		return S2_ERR_RANGE;
	r = p->fmt->mk_leaf(S2_SZ_4K, pa + size - SIM_PAGE_SIZE, prot, &raw);
	return r;
}

/*
 * MAP of one leaf (size == leaf, arguments checked): what the two passes
 * of ws_table() find on the single path of d->ia0, in one walk.  Tables
 * are followed down to the leaf's size class; a leaf on the way fails the
 * check pass (S2_ERR_EXISTS); the first non-table entry is written, and
 * every level between it and the leaf's gets a new table.  Return -1 for a
 * table where the leaf goes (left to the general walk).
 */
static int ws_map_one(struct ws_data *d)
{
	const struct s2_fmt_ops *f = d->p->fmt;
	unsigned lsz = 0, sz = s2_root_sz(d->p);
	uint64_t table = d->p->root;

	while (s2_sz_bytes(lsz) != d->leaf)
		lsz++;
	for (;; sz--) {
		uint64_t tpa, ptep, raw;
		struct s2_pte pte;
		int r = s2_sw_table_pa(d->p, table, &tpa);

		if (r)
			return r;
		ptep = tpa + 8ull * s2_index(d->start, sz);
		raw = sim_mem_peek64(d->p->mem, ptep);
		f->decode(raw, sz, &pte);
		if (pte.type == S2_PTE_TABLE && sz > lsz) {
			table = pte.addr;
			continue;
		}
		if (pte.type == S2_PTE_TABLE)
			return -1;   /* a table where the leaf goes: the general walk decides */
		if (pte.type == S2_PTE_LEAF)
			return S2_ERR_EXISTS;
		ws_add(d->ws, ptep);
		d->ws->new_tables += sz - lsz;
		return 0;
	}
}

int s2_write_set(struct s2_pgt *p, enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
		 uint64_t leaf, const struct s2_prot *prot, struct s2_wset *ws)
{
	struct ws_data d = { .p = p, .op = op, .pa0 = pa, .leaf = leaf, .ws = ws };
	uint64_t limit;
	int r;

	ws->n = 0;
	ws->new_tables = 0;
	r = ws_args(p, op, ia, pa, size, leaf, prot);
	if (r)
		return r;
	limit = s2_pgt_ia_limit(p);
	(void)s2_ia_ok(p, ia, &d.ia0);
	d.start = d.ia0 & ~(uint64_t)(SIM_PAGE_SIZE - 1);
	d.end = (d.ia0 + size + SIM_PAGE_SIZE - 1) & ~(uint64_t)(SIM_PAGE_SIZE - 1);
	if (d.end == 0 || d.end > limit)
		d.end = limit;
	d.frees = p->mm && p->mm->free_page;
	if (op == S2_WSET_MAP && leaf && size == leaf) {
		r = ws_map_one(&d);
		if (r >= 0)
			return r;
		ws->n = 0;
		ws->new_tables = 0;
	}
	if (op == S2_WSET_MAP) {
		/* s2_map: a whole check pass before the first store. */
		d.check = true;
		r = ws_table(&d, p->root, s2_root_sz(p), 0, NULL);
		if (r)
			return r;
		d.check = false;
	}
	return ws_table(&d, p->root, s2_root_sz(p), 0, NULL);
}
