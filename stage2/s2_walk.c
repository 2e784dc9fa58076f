/*
 * s2_walk.c - table objects, the one generic walker, and the small
 * shared tables (formats by name, result names, permission text, fault
 * text).
 *
 * The walker follows the shape of Linux's arm64 pgtable.c walker: for
 * each entry of the range it calls the visitor at TABLE_PRE (tables),
 * LEAF (leaves and invalid entries) and TABLE_POST (after the children),
 * re-reading the entry after each visit, and descends into an entry that
 * a LEAF visitor turned into a table.  Table memory is accessed as
 * timed data accesses of the walk's struct sim_who (software walks are
 * done by a hypervisor or guest kernel, not by the hardware walker).
 */
#include "stage2/s2_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* ORDER: enum s2_rc. */
static const char *const s2_rc_names[S2_RC_COUNT] = {
	"ok", "exists", "nomem", "align", "range", "perms", "size", "noent", "unmapped", "inval", "busy", "refused",
};

const char *s2_rc_name(int rc)
{
	if (rc < 0 || rc >= S2_RC_COUNT)
		return "unknown";
	return s2_rc_names[rc];
}

/* ORDER: enum s2_fmt_id. */
static const struct s2_fmt_ops *const s2_fmts[S2_FMT_COUNT] = {
	&s2_fmt_arm64, &s2_fmt_npt, &s2_fmt_ept, &s1_fmt_x86_64, &s1_fmt_sv39, &s1_fmt_sv48,
	&s2_fmt_amdv1,
};

const struct s2_fmt_ops *s2_fmt(enum s2_fmt_id id)
{
	if ((unsigned)id >= S2_FMT_COUNT)
		return NULL;
	return s2_fmts[id];
}

const struct s2_fmt_ops *s2_fmt_by_name(const char *name)
{
	for (unsigned i = 0; name && i < S2_FMT_COUNT; i++)
		if (!strcmp(s2_fmts[i]->name, name))
			return s2_fmts[i];
	return NULL;
}

int s2_perms_parse(const char *text, uint8_t *out)
{
	uint8_t p = 0;

	if (!text || !*text)
		return -1;
	if (!strcmp(text, "none")) {
		*out = 0;
		return 0;
	}
	for (const char *c = text; *c; c++) {
		switch (*c) {
		case 'r': p |= S2_PERM_R; break;
		case 'w': p |= S2_PERM_W; break;
		case 'x': p |= S2_PERM_X; break;
		case 'u': p |= S2_PERM_XU; break;
		case 's': p |= S2_PERM_XS; break;
		default: return -1;
		}
	}
	*out = p;
	return 0;
}

const char *s2_perms_str(uint8_t perms, char buf[8])
{
	char *b = buf;

	if (perms & S2_PERM_R)
		*b++ = 'r';
	if (perms & S2_PERM_W)
		*b++ = 'w';
	if ((perms & S2_PERM_X) == S2_PERM_X)
		*b++ = 'x';
	else if (perms & S2_PERM_XU)
		*b++ = 'u';
	else if (perms & S2_PERM_XS)
		*b++ = 's';
	if (b == buf)
		strcpy(buf, "none");
	else
		*b = '\0';
	return buf;
}

/* ORDER: enum s2_fault_type. */
static const char *const s2_fault_names[S2_FAULT_TYPE_COUNT] = {
	"none", "translation", "permission", "access", "check",
};

const char *s2_fault_type_name(enum s2_fault_type t)
{
	if ((unsigned)t >= S2_FAULT_TYPE_COUNT)
		return "unknown";
	return s2_fault_names[t];
}

const char *s2_fault_str(const struct s2_fault *f, char *buf, size_t len)
{
	if (f->type == S2_FAULT_NONE) {
		snprintf(buf, len, "OK");
	} else if (f->type == S2_FAULT_CHECK) {
		snprintf(buf, len, "CHECK(%d)", f->check_rc);
	} else if (f->stage == 2 && f->level >= 0 && f->level <= 9 && len >= 48) {
		/* the common case, on every nested fault: built without snprintf */
		const char *t = s2_fault_type_name(f->type);
		size_t tl = strlen(t);
		char *p = buf;

		memcpy(p, "#S2F(level=", 11);
		p += 11;
		*p++ = (char)('0' + f->level);
		memcpy(p, ",type=", 6);
		p += 6;
		if (tl > len - 20)
			tl = len - 20;
		memcpy(p, t, tl);
		p += tl;
		*p++ = ')';
		*p = 0;
	} else if (f->stage == 2) {
		snprintf(buf, len, "#S2F(level=%d,type=%s)", f->level, s2_fault_type_name(f->type));
	} else if (f->fmt == S1_FMT_X86_64) {
		static const char *const flag[5] = { "P", "W", "U", "RSVD", "ID" };
		size_t n = (size_t)snprintf(buf, len, "#PF(");
		bool first = true;
		for (unsigned i = 0; i < 5 && n < len; i++) {
			if (!(f->code & (1ull << i)))
				continue;
			n += (size_t)snprintf(buf + n, len - n, "%s%s", first ? "" : ",", flag[i]);
			first = false;
		}
		if (n < len)
			snprintf(buf + n, len - n, ")");
	} else {
		snprintf(buf, len, "#PF(cause=%llu)", (unsigned long long)f->code);
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* Table objects                                                       */
/* ------------------------------------------------------------------ */

int s2_sw_table_pa(struct s2_pgt *p, uint64_t table, uint64_t *pa)
{
	if (p->mm && p->mm->table_pa) {
		if (!p->mm->table_pa(p->mm_arg, table, pa))
			return S2_ERR_UNMAPPED;
		return S2_OK;
	}
	*pa = table;
	return S2_OK;
}

uint64_t s2_sw_read(struct s2_pgt *p, struct sim_who *who, uint64_t pa)
{
	uint64_t v;

	who->mem_cycles += sim_mem_read64(p->mem, who->agent, SIM_SRC_DATA, pa, &v);
	return v;
}

void s2_sw_write(struct s2_pgt *p, struct sim_who *who, uint64_t pa, uint64_t val)
{
	who->mem_cycles += sim_mem_write64(p->mem, who->agent, SIM_SRC_DATA, pa, val);
}

static int s2_zero_table(struct s2_pgt *p, struct sim_who *who, uint64_t table)
{
	static const uint8_t zero[SIM_PAGE_SIZE];
	uint64_t pa;
	int rc = s2_sw_table_pa(p, table, &pa);

	if (rc)
		return rc;
	if (pa + SIM_PAGE_SIZE > SIM_PA_LIMIT)
		return S2_ERR_RANGE;
	who->mem_cycles += sim_mem_write(p->mem, who->agent, SIM_SRC_DATA, pa, zero, SIM_PAGE_SIZE);
	return S2_OK;
}

int s2_sw_alloc_table(struct s2_pgt *p, struct sim_who *who, uint64_t *table)
{
	uint64_t t;
	int rc;

	if (!p->mm || !p->mm->alloc_page)
		return S2_ERR_NOMEM;
	t = p->mm->alloc_page(p->mm_arg, who);
	if (t == S2_NO_PAGE)
		return S2_ERR_NOMEM;
	if (t & (SIM_PAGE_SIZE - 1))
		sim_fatal("s2: allocator returned unaligned table page 0x%llx",
			  (unsigned long long)t);
	rc = s2_zero_table(p, who, t);
	if (rc) {
		if (p->mm->free_page)
			p->mm->free_page(p->mm_arg, t);
		return rc;
	}
	p->pages++;
	*table = t;
	return S2_OK;
}

/* The object of s2_pgt_new / s2_pgt_attach, root not set yet.  NULL with *@rc on bad arguments. */
static struct s2_pgt *s2_pgt_alloc(const struct s2_fmt_ops *fmt, unsigned levels,
				   struct sim_mem *mem, uint64_t root, const struct s2_mm_ops *mm,
				   void *mm_arg, int *rc)
{
	struct s2_pgt *p;

	if (!fmt || !mem || levels < fmt->min_levels || levels > fmt->max_levels) {
		*rc = S2_ERR_INVAL;
		return NULL;
	}
	if (root != S2_NO_PAGE && (root & (SIM_PAGE_SIZE - 1))) {
		*rc = S2_ERR_ALIGN;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		sim_fatal("s2: out of host memory");
	p->fmt = fmt;
	p->levels = levels;
	p->mem = mem;
	p->mm = mm;
	p->mm_arg = mm_arg;
	*rc = S2_OK;
	return p;
}

struct s2_pgt *s2_pgt_attach(const struct s2_fmt_ops *fmt, unsigned levels, struct sim_mem *mem,
			     uint64_t root, const struct s2_mm_ops *mm, void *mm_arg, int *rc)
{
	struct s2_pgt *p;

	if (root == S2_NO_PAGE) {
		*rc = S2_ERR_INVAL;
		return NULL;
	}
	p = s2_pgt_alloc(fmt, levels, mem, root, mm, mm_arg, rc);
	if (!p)
		return NULL;
	p->root = root;
	p->pages = 1;
	p->attached = true;
	return p;
}

int s2_pgt_set_root(struct s2_pgt *p, uint64_t root)
{
	if (!p->attached)
		return S2_ERR_INVAL;
	if (root & (SIM_PAGE_SIZE - 1))
		return S2_ERR_ALIGN;
	p->root = root;
	return S2_OK;
}

struct s2_pgt *s2_pgt_new(const struct s2_fmt_ops *fmt, unsigned levels, struct sim_mem *mem,
			  uint64_t root, const struct s2_mm_ops *mm, void *mm_arg,
			  struct sim_who *who, int *rc)
{
	struct s2_pgt *p = s2_pgt_alloc(fmt, levels, mem, root, mm, mm_arg, rc);
	struct sim_who none = { .agent = -1 };
	int r;

	if (!p)
		return NULL;
	if (!who)
		who = &none;
	if (root == S2_NO_PAGE) {
		r = s2_sw_alloc_table(p, who, &p->root);
	} else {
		p->root = root;
		r = s2_zero_table(p, who, root);
		if (!r)
			p->pages = 1;
	}
	if (r) {
		free(p);
		*rc = r;
		return NULL;
	}
	*rc = S2_OK;
	return p;
}

static int s2_free_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct s2_pgt *p = ctx->pgt;
	struct s2_pte pte;

	(void)when;
	p->fmt->decode(ctx->old, ctx->sz, &pte);
	if (pte.type == S2_PTE_TABLE && p->mm && p->mm->free_page)
		p->mm->free_page(p->mm_arg, pte.addr);
	return 0;
}

void s2_pgt_free(struct s2_pgt *p)
{
	struct s2_walker w = { .visit = s2_free_visit, .flags = S2_WALK_TABLE_POST };

	if (!p)
		return;
	if (!p->attached && p->mm && p->mm->free_page) {
		(void)s2_walk(p, NULL, 0, s2_pgt_ia_limit(p), &w);
		p->mm->free_page(p->mm_arg, p->root);
	}
	free(p);
}

const struct s2_fmt_ops *s2_pgt_fmt(const struct s2_pgt *p) { return p->fmt; }
uint64_t s2_pgt_root(const struct s2_pgt *p) { return p->root; }
unsigned s2_pgt_levels(const struct s2_pgt *p) { return p->levels; }
struct sim_mem *s2_pgt_mem(const struct s2_pgt *p) { return p->mem; }
uint64_t s2_pgt_ia_limit(const struct s2_pgt *p) { return 1ull << (12 + 9 * p->levels); }
uint64_t s2_pgt_pages(const struct s2_pgt *p) { return p->pages; }
uint64_t s2_pgt_bbm_count(const struct s2_pgt *p) { return p->bbm; }
uint64_t s2_pgt_freed_count(const struct s2_pgt *p) { return p->freed; }

/* ------------------------------------------------------------------ */
/* The walker                                                          */
/* ------------------------------------------------------------------ */

struct s2_walk_data {
	struct s2_pgt *p;
	struct sim_who *who;    /* never NULL */
	const struct s2_walker *w;
	uint64_t start, end;    /* index-space range */
};

static int s2_walk_table(struct s2_walk_data *d, uint64_t table, unsigned sz, uint64_t base);

static int s2_walk_entry(struct s2_walk_data *d, struct s2_visit_ctx *ctx)
{
	const struct s2_fmt_ops *f = d->p->fmt;
	const struct s2_walker *w = d->w;
	struct s2_pte pte;
	int r;

	ctx->old = s2_sw_read(d->p, d->who, ctx->ptep);
	f->decode(ctx->old, ctx->sz, &pte);
	if (pte.type == S2_PTE_TABLE && (w->flags & S2_WALK_TABLE_PRE)) {
		r = w->visit(ctx, S2_WALK_TABLE_PRE);
		if (r)
			return r;
		ctx->old = s2_sw_read(d->p, d->who, ctx->ptep);
		f->decode(ctx->old, ctx->sz, &pte);
	}
	if (pte.type != S2_PTE_TABLE) {
		if (!(w->flags & S2_WALK_LEAF))
			return 0;
		r = w->visit(ctx, S2_WALK_LEAF);
		if (r)
			return r;
		ctx->old = s2_sw_read(d->p, d->who, ctx->ptep);
		f->decode(ctx->old, ctx->sz, &pte);
		if (pte.type != S2_PTE_TABLE)
			return 0;
	}
	if (ctx->sz == S2_SZ_4K)
		return 0;
	r = s2_walk_table(d, pte.addr, ctx->sz - 1, ctx->addr);
	if (r)
		return r;
	if (w->flags & S2_WALK_TABLE_POST) {
		ctx->old = s2_sw_read(d->p, d->who, ctx->ptep);
		r = w->visit(ctx, S2_WALK_TABLE_POST);
	}
	return r;
}

/* Visit the entries of @table (entries of size class @sz, first covering @base). */
static int s2_walk_table(struct s2_walk_data *d, uint64_t table, unsigned sz, uint64_t base)
{
	uint64_t esz = s2_sz_bytes(sz);
	uint64_t tend = base + 512 * esz;
	uint64_t addr, tpa;
	int r = s2_sw_table_pa(d->p, table, &tpa);

	if (r)
		return r;
	addr = d->start > base ? (d->start & ~(esz - 1)) : base;
	for (; addr < d->end && addr < tend; addr += esz) {
		struct s2_visit_ctx ctx = {
			.pgt = d->p,
			.who = d->who,
			.ptep = tpa + 8ull * s2_index(addr, sz),
			.addr = addr,
			.start = d->start,
			.end = d->end,
			.sz = sz,
			.level = d->p->fmt->arch_level(sz, d->p->levels),
			.arg = d->w->arg,
		};
		r = s2_walk_entry(d, &ctx);
		if (r)
			return r;
	}
	return 0;
}

int s2_walk(struct s2_pgt *p, struct sim_who *who, uint64_t addr, uint64_t size,
	    const struct s2_walker *w)
{
	struct sim_who none = { .agent = -1 };
	struct s2_walk_data d = { .p = p, .who = who ? who : &none, .w = w };
	uint64_t limit = s2_pgt_ia_limit(p), idx;

	if (!size || !w || !w->visit)
		return S2_ERR_INVAL;
	if (!s2_ia_ok(p, addr, &idx) || size > limit - idx)
		return S2_ERR_RANGE;
	d.start = idx & ~(SIM_PAGE_SIZE - 1);
	d.end = (idx + size + SIM_PAGE_SIZE - 1) & ~(SIM_PAGE_SIZE - 1);
	if (d.end == 0 || d.end > limit)
		d.end = limit;
	sim_sync_id(p->mem, d.who->agent);   /* other agents walk this table: global order */
	return s2_walk_table(&d, p->root, s2_root_sz(p), 0);
}

/* ------------------------------------------------------------------ */
/* Visitor helpers                                                     */
/* ------------------------------------------------------------------ */

void s2_visit_set(struct s2_visit_ctx *ctx, uint64_t raw)
{
	s2_sw_write(ctx->pgt, ctx->who, ctx->ptep, raw);
	ctx->old = raw;
}

int s2_visit_install_table(struct s2_visit_ctx *ctx, uint64_t *table)
{
	struct s2_pgt *p = ctx->pgt;
	uint64_t t;
	int r;

	if (ctx->sz == S2_SZ_4K)
		return S2_ERR_SIZE;
	r = s2_sw_alloc_table(p, ctx->who, &t);
	if (r)
		return r;
	s2_visit_set(ctx, p->fmt->mk_table(t, ctx->sz));
	if (table)
		*table = t;
	return S2_OK;
}

/*
 * Replace a block (or an owner-annotated invalid entry) by a table of
 * 512 entries with the same meaning.  A valid block on a format that
 * needs it goes through break-before-make: invalid entry, TLB
 * invalidation of the block's range, then the table.
 */
int s2_visit_split(struct s2_visit_ctx *ctx)
{
	struct s2_pgt *p = ctx->pgt;
	const struct s2_fmt_ops *f = p->fmt;
	unsigned csz;
	uint64_t child_size, t, tpa, raw;
	struct s2_pte pte;
	int r;

	if (ctx->sz == S2_SZ_4K)
		return S2_ERR_SIZE;
	csz = ctx->sz - 1;
	child_size = s2_sz_bytes(csz);
	f->decode(ctx->old, ctx->sz, &pte);
	if (pte.type == S2_PTE_TABLE)
		return S2_OK;
	r = s2_sw_alloc_table(p, ctx->who, &t);
	if (r)
		return r;
	r = s2_sw_table_pa(p, t, &tpa);
	if (r)
		return r;
	for (unsigned i = 0; i < 512; i++) {
		if (pte.type == S2_PTE_LEAF) {
			r = f->mk_leaf(csz, pte.addr + i * child_size, &pte.prot, &raw);
			if (r)
				sim_fatal("s2: %s: cannot split a %llu-byte block: %s", f->name,
					  (unsigned long long)s2_sz_bytes(ctx->sz), s2_rc_name(r));
		} else {
			raw = f->mk_invalid(pte.owner);
		}
		if (raw)
			s2_sw_write(p, ctx->who, tpa + 8ull * i, raw);
	}
	if (pte.type == S2_PTE_LEAF && f->needs_bbm) {
		s2_visit_set(ctx, f->mk_invalid(0));
		if (p->mm && p->mm->tlbi)
			p->mm->tlbi(p->mm_arg, ctx->addr, s2_sz_bytes(ctx->sz));
		p->bbm++;
	}
	s2_visit_set(ctx, f->mk_table(t, ctx->sz));
	return S2_OK;
}
