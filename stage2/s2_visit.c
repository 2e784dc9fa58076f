/*
 * s2_visit.c - the management operations as visitors of the generic
 * walker: map, unmap, protect, get-leaf, annotate (pKVM owner ids).
 *
 * Each operation checks first (a read-only walk or argument checks) and
 * then commits; the commit can only fail for lack of table pages.
 */
#include "stage2/s2_int.h"

/* An entry's range relative to the operation's range. */
static bool s2_entry_inside(const struct s2_visit_ctx *ctx)
{
	return ctx->addr >= ctx->start && ctx->addr + s2_sz_bytes(ctx->sz) <= ctx->end;
}

/* Common argument checks: 4K granularity and range. */
static int s2_range_check(const struct s2_pgt *p, uint64_t ia, uint64_t size)
{
	uint64_t idx;

	if (!p || !size)
		return S2_ERR_INVAL;
	if ((ia | size) & (SIM_PAGE_SIZE - 1))
		return S2_ERR_ALIGN;
	if (!s2_ia_ok(p, ia, &idx) || size > s2_pgt_ia_limit(p) - idx)
		return S2_ERR_RANGE;
	return S2_OK;
}

/* ------------------------------------------------------------------ */
/* map                                                                 */
/* ------------------------------------------------------------------ */

struct s2_map_data {
	uint64_t ia0;                /* index-space start of the range */
	uint64_t pa0;                /* output address of ia0 */
	uint64_t leaf;               /* forced leaf size, 0 = largest */
	const struct s2_prot *prot;
};

/* Check pass: no valid leaf may exist in the range. */
static int s2_map_check_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct s2_pte pte;

	(void)when;
	ctx->pgt->fmt->decode(ctx->old, ctx->sz, &pte);
	return pte.type == S2_PTE_LEAF ? S2_ERR_EXISTS : 0;
}

/*
 * Map "invalid => leaf": an entry fully inside the range at an allowed
 * size becomes a leaf; otherwise it becomes a table (an owner-annotated
 * entry is split so the rest keeps its owner) and the walk descends.
 */
static int s2_map_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	const struct s2_map_data *d = ctx->arg;
	const struct s2_fmt_ops *f = ctx->pgt->fmt;
	uint64_t esz = s2_sz_bytes(ctx->sz);
	uint64_t pa = d->pa0 + (ctx->addr - d->ia0);
	struct s2_pte pte;
	uint64_t raw;
	bool fits;
	int r;

	(void)when;
	fits = s2_entry_inside(ctx) && (f->leaf_szs & (1u << ctx->sz)) && !(pa & (esz - 1)) &&
	       (d->leaf ? esz == d->leaf : true);
	if (fits) {
		r = f->mk_leaf(ctx->sz, pa, d->prot, &raw);
		if (r)
			return r;
		s2_visit_set(ctx, raw);
		return 0;
	}
	f->decode(ctx->old, ctx->sz, &pte);
	if (pte.type == S2_PTE_INVALID && pte.owner)
		return s2_visit_split(ctx);
	return s2_visit_install_table(ctx, NULL);
}

int s2_map(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t pa, uint64_t size,
	   uint64_t leaf, const struct s2_prot *prot)
{
	struct s2_walker check = { .visit = s2_map_check_visit, .flags = S2_WALK_LEAF };
	struct s2_map_data d = { .pa0 = pa, .leaf = leaf, .prot = prot };
	struct s2_walker w = { .visit = s2_map_visit, .arg = &d, .flags = S2_WALK_LEAF };
	uint64_t align = leaf ? leaf : SIM_PAGE_SIZE, raw;
	unsigned sz;
	int r;

	if (!prot)
		return S2_ERR_INVAL;
	r = s2_range_check(p, ia, size);
	if (r)
		return r;
	if (leaf) {
		for (sz = 0; sz < S2_SZ_COUNT && s2_sz_bytes(sz) != leaf; sz++)
			;
		if (sz == S2_SZ_COUNT || !(p->fmt->leaf_szs & (1u << sz)) || sz >= p->levels)
			return S2_ERR_SIZE;
	}
	if ((ia | pa | size) & (align - 1))
		return S2_ERR_ALIGN;
	if (pa >= SIM_PA_LIMIT || size > SIM_PA_LIMIT - pa)
		return S2_ERR_RANGE;
	/* Encodability of the permissions and of the highest output address. */
	r = p->fmt->mk_leaf(S2_SZ_4K, pa + size - SIM_PAGE_SIZE, prot, &raw);
	if (r)
		return r;
	(void)s2_ia_ok(p, ia, &d.ia0);
	r = s2_walk(p, who, ia, size, &check);
	if (r)
		return r;
	return s2_walk(p, who, ia, size, &w);
}

int s2_map_leaf(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t pa, uint64_t leaf,
		const struct s2_prot *prot, bool (*ok)(void *arg, uint64_t page), void *arg,
		struct s2_leaf_found *found)
{
	const struct s2_fmt_ops *f;
	struct sim_who none = { .agent = -1 };
	uint64_t idx = 0, table, raw;
	unsigned lsz, sz;
	int r;

	if (!prot)
		return S2_ERR_INVAL;
	r = s2_range_check(p, ia, leaf);
	if (r)
		return r;
	f = p->fmt;
	for (lsz = 0; lsz < S2_SZ_COUNT && s2_sz_bytes(lsz) != leaf; lsz++)
		;
	if (lsz == S2_SZ_COUNT || !(f->leaf_szs & (1u << lsz)) || lsz >= p->levels)
		return S2_ERR_SIZE;
	if ((ia | pa) & (leaf - 1))
		return S2_ERR_ALIGN;
	if (pa >= SIM_PA_LIMIT || leaf > SIM_PA_LIMIT - pa)
		return S2_ERR_RANGE;
	r = f->mk_leaf(lsz, pa, prot, &raw);
	if (r)
		return r;
	if (!who)
		who = &none;
	(void)s2_ia_ok(p, ia, &idx);
	sim_sync_id(p->mem, who->agent);   /* other agents walk this table: global order */
	for (table = p->root, sz = s2_root_sz(p);; sz--) {
		uint64_t tpa, ptep, old;
		struct s2_pte pte;

		r = s2_sw_table_pa(p, table, &tpa);
		if (r)
			return r;
		ptep = tpa + 8ull * s2_index(idx, sz);
		old = s2_sw_read(p, who, ptep);
		f->decode(old, sz, &pte);
		if (pte.type == S2_PTE_TABLE && sz > lsz) {
			table = pte.addr;
			continue;
		}
		if (pte.type == S2_PTE_LEAF) {
			/* a valid leaf on the path: nothing is written */
			if (found) {
				found->size = s2_sz_bytes(sz);
				found->pa = pte.addr;
			}
			return S2_ERR_EXISTS;
		}
		if (pte.type == S2_PTE_TABLE || pte.owner)
			return S2_ERR_BUSY;   /* a table where the leaf goes, an owner id: s2_map's cases */
		/* the one existing page this map writes: the owner's check first */
		if (ok && !ok(arg, ptep & ~(uint64_t)(SIM_PAGE_SIZE - 1)))
			return S2_ERR_REFUSED;
		/* invalid => table chain down to the leaf's size class, then invalid => leaf */
		for (; sz > lsz; sz--) {
			uint64_t t, ttpa;

			r = s2_sw_alloc_table(p, who, &t);
			if (r)
				return r;
			s2_sw_write(p, who, ptep, f->mk_table(t, sz));
			r = s2_sw_table_pa(p, t, &ttpa);
			if (r)
				return r;
			ptep = ttpa + 8ull * s2_index(idx, sz - 1);
		}
		s2_sw_write(p, who, ptep, raw);
		return S2_OK;
	}
}

/* ------------------------------------------------------------------ */
/* unmap and annotate                                                  */
/* ------------------------------------------------------------------ */

struct s2_inval_data {
	uint8_t owner;        /* owner id to write (0 = plain invalid) */
	bool annotate;        /* annotate: cover invalid entries too */
};

/*
 * unmap:    valid leaf => invalid (owner 0); invalid entries untouched.
 * annotate: any entry  => invalid holding the owner id.
 * An entry only partly inside the range is split first.
 */
static int s2_inval_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	const struct s2_inval_data *d = ctx->arg;
	const struct s2_fmt_ops *f = ctx->pgt->fmt;
	struct s2_pte pte;

	(void)when;
	f->decode(ctx->old, ctx->sz, &pte);
	if (!d->annotate && pte.type == S2_PTE_INVALID)
		return 0;
	if (s2_entry_inside(ctx)) {
		s2_visit_set(ctx, f->mk_invalid(d->owner));
		return 0;
	}
	if (pte.type == S2_PTE_RESERVED)
		return 0;
	if (pte.type == S2_PTE_INVALID && !pte.owner)
		return s2_visit_install_table(ctx, NULL);
	return s2_visit_split(ctx);
}

/*
 * Does table @table hold no entry at all (every raw entry 0: invalid,
 * no owner id)?  Read untimed: this stands for the page reference count
 * Linux keeps per table page, not for a software scan.
 */
static bool s2_table_empty(struct s2_pgt *p, uint64_t table)
{
	const uint64_t *e;
	uint64_t pa;

	if (s2_sw_table_pa(p, table, &pa))
		return false;
	e = sim_mem_frame(p->mem, pa, false);
	for (unsigned i = 0; e && i < 512; i++)
		if (e[i])
			return false;
	return true;
}

/* unmap after a table's children: take an empty table out and free it. */
static int s2_unmap_post(struct s2_visit_ctx *ctx)
{
	struct s2_pgt *p = ctx->pgt;
	struct s2_pte pte;

	p->fmt->decode(ctx->old, ctx->sz, &pte);
	if (pte.type != S2_PTE_TABLE || !p->mm || !p->mm->free_page || !s2_table_empty(p, pte.addr))
		return 0;
	s2_visit_set(ctx, p->fmt->mk_invalid(0));
	if (p->mm->tlbi)
		p->mm->tlbi(p->mm_arg, ctx->addr, s2_sz_bytes(ctx->sz));
	p->mm->free_page(p->mm_arg, pte.addr);
	p->pages--;
	p->freed++;
	return 0;
}

static int s2_unmap_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	if (when == S2_WALK_TABLE_POST)
		return s2_unmap_post(ctx);
	return s2_inval_visit(ctx, when);
}

int s2_unmap(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t size)
{
	struct s2_inval_data d = { 0 };
	struct s2_walker w = { .visit = s2_unmap_visit, .arg = &d,
			       .flags = S2_WALK_LEAF | S2_WALK_TABLE_POST };
	int r = s2_range_check(p, ia, size);

	if (r)
		return r;
	return s2_walk(p, who, ia, size, &w);
}

int s2_annotate(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t size, uint8_t owner)
{
	struct s2_inval_data d = { .owner = owner, .annotate = true };
	struct s2_walker w = { .visit = s2_inval_visit, .arg = &d, .flags = S2_WALK_LEAF };
	int r = s2_range_check(p, ia, size);

	if (r)
		return r;
	return s2_walk(p, who, ia, size, &w);
}

/* ------------------------------------------------------------------ */
/* protect                                                             */
/* ------------------------------------------------------------------ */

struct s2_protect_data {
	uint8_t perms;        /* new permissions */
	uint64_t changed;     /* leaves rewritten */
};

/* Valid leaf => same leaf with new permissions (no break-before-make needed). */
static int s2_protect_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct s2_protect_data *d = ctx->arg;
	const struct s2_fmt_ops *f = ctx->pgt->fmt;
	struct s2_pte pte;
	uint64_t raw;
	int r;

	(void)when;
	f->decode(ctx->old, ctx->sz, &pte);
	if (pte.type != S2_PTE_LEAF)
		return 0;
	if (!s2_entry_inside(ctx))
		return s2_visit_split(ctx);
	pte.prot.perms = d->perms;
	r = f->mk_leaf(ctx->sz, pte.addr, &pte.prot, &raw);
	if (r)
		return r;
	s2_visit_set(ctx, raw);
	d->changed++;
	return 0;
}

int s2_protect(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t size, uint8_t perms)
{
	struct s2_protect_data d = { .perms = perms };
	struct s2_walker w = { .visit = s2_protect_visit, .arg = &d, .flags = S2_WALK_LEAF };
	struct s2_prot probe = { .perms = perms };
	uint64_t raw;
	int r = s2_range_check(p, ia, size);

	if (r)
		return r;
	r = p->fmt->mk_leaf(S2_SZ_4K, 0, &probe, &raw);
	if (r)
		return r;
	r = s2_walk(p, who, ia, size, &w);
	if (r)
		return r;
	return d.changed ? S2_OK : S2_ERR_NOENT;
}

/* ------------------------------------------------------------------ */
/* get-leaf                                                            */
/* ------------------------------------------------------------------ */

struct s2_leaf_data {
	uint64_t raw;         /* entry where the walk ended */
	int level;            /* its architecture level */
	unsigned sz;          /* its size class */
};

static int s2_leaf_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct s2_leaf_data *d = ctx->arg;

	(void)when;
	d->raw = ctx->old;
	d->level = ctx->level;
	d->sz = ctx->sz;
	return -1;   /* stop: one entry is all we want */
}

int s2_get_leaf(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t *raw, int *level,
		struct s2_pte *pte)
{
	struct s2_leaf_data d = { 0 };
	struct s2_walker w = { .visit = s2_leaf_visit, .arg = &d, .flags = S2_WALK_LEAF };
	struct s2_pte e;
	int r;

	if (!p)
		return S2_ERR_INVAL;
	r = s2_walk(p, who, ia, SIM_PAGE_SIZE, &w);
	if (r != -1)
		return r ? r : S2_ERR_NOENT;
	p->fmt->decode(d.raw, d.sz, &e);
	if (raw)
		*raw = d.raw;
	if (level)
		*level = d.level;
	if (pte)
		*pte = e;
	return e.type == S2_PTE_LEAF ? S2_OK : S2_ERR_NOENT;
}
