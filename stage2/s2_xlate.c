/*
 * s2_xlate.c - the hardware side: table walks with faults, translations
 * through the MMU's TLBs and page-walk caches, and the two-dimensional
 * walk.  The MMU objects and their invalidation are in s2_mmu.c.
 *
 * A translation records what it did (probes, walks, references, memory
 * cycles, check-hook cycles) in struct s2_xlate; s2_latency() prices
 * that from the profile, so functional behaviour and timing stay apart.
 * Its memory accesses are made by the requester (struct s2_req.who), to
 * whose mem_cycles the translation adds its memory cycles when it ends.
 *
 * Caches and what they hold (all tagged with the space's vmid):
 *   tlb[l]  stage-2 translations IPA -> PA, one entry per leaf (kind =
 *           size class), levels probed in order, filled inclusively.
 *   ntlb    combined GVA -> SPA, size = the smaller of the two leaves.
 *   pwc_s1  guest table entries: VA prefix -> next guest table GPA.
 *   pwc_s2  nested table entries: IPA prefix -> next table PA.
 * A cached entry whose permissions do not allow an access is dropped
 * and the access re-walks (so a fault always reports the current
 * tables, and a relaxed permission is picked up), as the architectures
 * allow.
 *
 * Host speed (bench_s2): one walk loop body serves every stage and
 * format, compiled once per built-in format with its walk decoder inlined
 * (s2_fmt_int.h).  Per entry it does only the work every walk needs
 * (reach the entry's memory, one timed read, decode, AND the table
 * permissions); what is the same for the whole walk (which caches exist,
 * whether a check hook is installed, how table addresses are reached) is
 * decided once, and the leaf checks, faults and cache fills stay out of
 * the loop.  A cold walk is bound by the latency of the chain entry ->
 * next table address -> next entry, so that chain is kept out of memory
 * (see s2_hw_walk_with).  None of this changes what is probed, read,
 * counted or charged.
 */
#include "stage2/s2_fmt_int.h"

#include <stdlib.h>
#include <string.h>

/* One translation in progress. */
struct s2_hw {
	struct s2_mmu *m;                      /* may be NULL */
	struct s2_stats *st;                   /* never NULL */
	const struct s2_space *sp;
	const struct s2_req *req;
	const struct s2_check_hook *hook;      /* sp->hook if it has a check function, else NULL */
	struct s2_xlate *out;
	bool two_d;                            /* a guest VA exists */
	bool pwc_on[2];                        /* walk cache present: [0] stage 1, [1] stage 2 */
	/* The guest table entry a 2D walk read last: its GPA and stage-2 leaf (s2_entry_pa). */
	uint64_t ent_gpa;
	unsigned ent_sz;
	uint8_t ent_perms;
	struct s2_tlbe *ent_e;                 /* the stage-2 TLB entry of that leaf, or NULL */
	uint64_t ia;                           /* the translated address (the timeline's walk span) */
};

/* Result of one stage. */
struct s2_stage_res {
	uint64_t pa;                           /* output address */
	unsigned sz;                           /* leaf size class */
	uint8_t perms;                         /* ANDed permissions */
	bool user;                             /* ANDed user flag */
	bool c;                                /* leaf C-bit (stage 1) */
	bool dirty;                            /* leaf dirty (or not needed) */
	uint64_t raw;                          /* leaf descriptor */
	struct s2_tlbe *e;                     /* cache entry to record a check in */
};

/* Where a walk is: the table it reads next and what the entries above allowed. */
struct s2_walk_pos {
	uint64_t table;                        /* table address (the table's own address space) */
	unsigned sz;                           /* size class of its entries */
	uint8_t perms;                         /* permissions ANDed from the root */
	bool user;                             /* user flag ANDed from the root */
};

/* The access one stage walk serves. */
struct s2_walk_acc {
	enum s2_access acc;
	bool user;                             /* user-mode access */
	bool table;                            /* for a guest page-table read (fault reports) */
};

/* How a walk reaches the memory of the entries it reads. */
enum s2_tbl_path {
	S2_TBL_PHYS,     /* table addresses are physical */
	S2_TBL_NESTED,   /* stage-1 table of a 2D walk: stage 2 and the check per entry */
	S2_TBL_HOOK,     /* the table's mm->table_pa */
};

/* One stage walk in progress. */
struct s2_walk {
	const struct s2_pgt *p;
	uint64_t ia;                           /* input address as given (fault reports) */
	uint64_t idx;                          /* index-space address */
	struct s2_walk_pos w;                  /* where the walk is */
	struct s2_walk_acc a;                  /* the access it serves */
	enum s2_tbl_path path;                 /* how it reaches table memory */
};

static struct s2_stats s2_null_stats;

/* The requester's agent id (-1: none).  Read where memory is accessed, not on a TLB hit. */
static inline int s2_req_agent(const struct s2_req *req)
{
	return req->who ? req->who->agent : -1;
}

/* ------------------------------------------------------------------ */
/* Permissions                                                         */
/* ------------------------------------------------------------------ */

/*
 * The request's stage-1 policy on leaf @raw (size class @sz) of a table
 * of format @f; @perms / @user: the walk's ANDed values.
 */
static bool s2_policy_allows(const struct s2_hw *h, const struct s2_fmt_ops *f, uint64_t raw,
			     unsigned sz, uint8_t perms, bool user, enum s2_access acc)
{
	const struct s2_policy *pol = h->req->policy;
	struct s2_pte leaf;

	f->decode(raw, sz, &leaf);
	leaf.prot.perms = perms;
	leaf.prot.user = user;
	return pol->perm_ok(pol->arg, &leaf, acc);
}

/*
 * Does a leaf of a table of format @f (@raw, size class @sz; @perms and
 * @entry_user the walk's ANDed values) allow the access?  Stage-1 leaves
 * go to the request's policy if it has one.
 */
static inline bool s2_leaf_allows(const struct s2_hw *h, const struct s2_fmt_ops *f,
				  uint64_t raw, unsigned sz, uint8_t perms, bool entry_user,
				  enum s2_access acc, bool user)
{
	const struct s2_policy *pol = h->req->policy;

	if (f->stage == 1 && pol && pol->perm_ok)
		return s2_policy_allows(h, f, raw, sz, perms, entry_user, acc);
	return s2_perm_ok(f, perms, entry_user, acc, user);
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

static int s2_fault(struct s2_hw *h, const struct s2_fmt_ops *f, enum s2_fault_type type,
		    int level, uint64_t addr, enum s2_access acc, bool table, uint8_t walk_perms,
		    bool user)
{
	struct s2_fault *ft = &h->out->fault;

	memset(ft, 0, sizeof(*ft));
	ft->type = type;
	ft->stage = f->stage;
	ft->level = (int8_t)level;
	ft->table = table;
	ft->gla = h->two_d;
	ft->fmt = f->id;
	ft->acc = acc;
	ft->addr = addr;
	f->fault_code(ft, walk_perms, user);
	h->st->faults[type]++;
	if (f->stage == 1)
		h->st->faults_s1++;
	return type;
}

/* @ia is outside @p's input range: a translation fault at the root level. */
static int s2_ia_fault(struct s2_hw *h, const struct s2_pgt *p, uint64_t ia, enum s2_access acc,
		       bool user, bool table)
{
	return s2_fault(h, p->fmt, S2_FAULT_TRANSLATION, p->fmt->arch_level(s2_root_sz(p), p->levels),
			ia, acc, table, 0, user);
}

/* The table's table_pa refused entry address @ea (see struct s2_mm_ops). */
static int s2_table_refused(struct s2_hw *h, const struct s2_pgt *p, unsigned sz, uint64_t ea)
{
	struct s2_fault *ft = &h->out->fault;

	memset(ft, 0, sizeof(*ft));
	ft->type = S2_FAULT_CHECK;
	ft->stage = 2;
	ft->level = (int8_t)p->fmt->arch_level(sz, p->levels);
	ft->table = true;
	ft->gla = h->two_d;
	ft->fmt = p->fmt->id;
	ft->acc = S2_ACC_READ;
	ft->addr = ea;
	ft->check_rc = S2_ERR_UNMAPPED;
	h->st->faults[S2_FAULT_CHECK]++;
	return S2_FAULT_CHECK;
}

/* ------------------------------------------------------------------ */
/* Cache helpers                                                       */
/* ------------------------------------------------------------------ */

static inline struct tlb_key s2_key(uint64_t ia, uint32_t vmid, unsigned sz)
{
	return (struct tlb_key){ .tag = ia >> (12 + 9 * sz), .space = vmid, .kind = sz };
}

/*
 * Probe @t for @ia at every leaf size (one hardware probe).  @mask: the
 * sizes that may be present (a host-speed shortcut, not modelled state).
 */
static inline struct s2_tlbe *s2_tlb_probe(struct tlb *t, uint64_t ia, uint32_t vmid,
					   unsigned mask)
{
	for (unsigned sz = 0; sz <= S2_SZ_1G; sz++) {
		if (!(mask & (1u << sz)))
			continue;
		struct tlb_key k = s2_key(ia, vmid, sz);
		struct s2_tlbe *e = tlb_lookup(t, &k);
		if (e)
			return e;
	}
	return NULL;
}

static void s2_tlb_drop(struct tlb *t, uint64_t ia, uint32_t vmid)
{
	for (unsigned sz = 0; sz <= S2_SZ_1G; sz++) {
		struct tlb_key k = s2_key(ia, vmid, sz);
		tlb_inval_key(t, &k);
	}
}

/* Probe the stage-@stage walk cache for the deepest entry on @wk's path; a hit moves wk->w. */
static void s2_pwc_probe(struct s2_hw *h, int stage, struct s2_walk *wk)
{
	struct tlb *c = h->m->pwc[stage - 1];
	unsigned root = wk->w.sz;

	h->out->ev.pwc_probe++;
	for (unsigned sz = 1; sz <= root; sz++) {
		struct tlb_key k = s2_key(wk->idx, h->sp->vmid, sz);
		const struct s2_pwce *e = tlb_lookup(c, &k);
		if (e) {
			wk->w = (struct s2_walk_pos){
				.table = e->next, .sz = sz - 1, .perms = e->perms, .user = e->user,
			};
			if (stage == 1)
				h->st->pwc_s1_hit++;
			else
				h->st->pwc_s2_hit++;
			return;
		}
	}
	if (stage == 1)
		h->st->pwc_s1_miss++;
	else
		h->st->pwc_s2_miss++;
}

/* Where walk @wk starts: the deepest walk-cache hit, else the root. */
static inline void s2_pwc_start(struct s2_hw *h, int stage, struct s2_walk *wk)
{
	const struct s2_pgt *p = wk->p;

	wk->w = (struct s2_walk_pos){
		.table = p->root, .sz = s2_root_sz(p), .perms = S2_PERM_ALL, .user = true,
	};
	if (h->pwc_on[stage - 1] && wk->w.sz != 0)
		s2_pwc_probe(h, stage, wk);
}

/* Remember table entry (@idx, @sz) -> @next of a stage-@stage walk (caller checked pwc_on). */
static void s2_pwc_fill(struct s2_hw *h, int stage, uint64_t idx, unsigned sz, uint64_t next,
			uint8_t perms, bool user)
{
	struct tlb_key k = s2_key(idx, h->sp->vmid, sz);
	struct s2_pwce *e = tlb_insert(h->m->pwc[stage - 1], &k);

	if (!e)
		return;
	e->next = next;
	e->perms = perms;
	e->user = user;
}

/* ------------------------------------------------------------------ */
/* The check hook                                                      */
/* ------------------------------------------------------------------ */

/* s2_run_check with a hook installed. */
static int s2_run_hook(struct s2_hw *h, uint64_t spa, uint64_t gpa, unsigned sz,
		       enum s2_access acc, bool c, bool table, bool user, struct s2_tlbe *e)
{
	const struct s2_check_hook *hook = h->hook;
	const struct s2_req *req = h->req;
	uint8_t key, bit;
	bool cache;
	struct s2_check chk;
	int rc;

	key = (uint8_t)((c ? 1 : 0) | (req->vmpl << 1));
	bit = (uint8_t)(table ? (acc == S2_ACC_WRITE ? 16 : 8) : 1u << acc);
	cache = h->m && h->m->cfg.cache_check && e && sz <= S2_SZ_2M;
	if (cache && e->chk_key == key && (e->chk_ok & bit)) {
		h->st->checks_cached++;
		return 0;
	}
	chk = (struct s2_check){
		.spa = spa, .gpa = gpa, .size = s2_sz_bytes(sz), .acc = acc, .c = c,
		.table = table, .user = user, .vmpl = req->vmpl, .agent = s2_req_agent(req),
	};
	h->out->ev.checks++;
	h->st->checks++;
	rc = hook->check(hook->arg, &chk, &h->out->check_cycles);
	if (rc) {
		struct s2_fault *ft = &h->out->fault;
		memset(ft, 0, sizeof(*ft));
		ft->type = S2_FAULT_CHECK;
		ft->stage = 2;
		ft->level = -1;
		ft->table = table;
		ft->gla = h->two_d;
		ft->fmt = h->sp->s2 ? s2_pgt_fmt(h->sp->s2)->id : S2_FMT_COUNT;
		ft->acc = acc;
		ft->addr = gpa;
		ft->check_rc = rc;
		h->st->faults[S2_FAULT_CHECK]++;
		return S2_FAULT_CHECK;
	}
	if (cache) {
		if (e->chk_key != key) {
			e->chk_key = key;
			e->chk_ok = 0;
		}
		e->chk_ok |= bit;
	}
	return 0;
}

/* The space's check of one SPA (a no-op without a hook).  Return 0 or S2_FAULT_CHECK. */
static inline int s2_run_check(struct s2_hw *h, uint64_t spa, uint64_t gpa, unsigned sz,
			       enum s2_access acc, bool c, bool table, bool user, struct s2_tlbe *e)
{
	if (!h->hook)
		return 0;
	return s2_run_hook(h, spa, gpa, sz, acc, c, table, user, e);
}

/* ------------------------------------------------------------------ */
/* One hardware walk                                                   */
/* ------------------------------------------------------------------ */

static int s2_stage2(struct s2_hw *h, uint64_t ipa, enum s2_access acc, bool user, bool table,
		     struct s2_stage_res *r);

static enum s2_tbl_path s2_tbl_path(const struct s2_hw *h, const struct s2_pgt *p)
{
	if (p == h->sp->s1 && h->sp->s2)
		return S2_TBL_NESTED;
	if (p->mm && p->mm->table_pa)
		return S2_TBL_HOOK;
	return S2_TBL_PHYS;
}

/* Set up a walk of @p for @ia (index-space @idx); the caller sets wk->w (s2_pwc_start). */
static inline void s2_walk_init(struct s2_walk *wk, const struct s2_hw *h, const struct s2_pgt *p,
				uint64_t ia, uint64_t idx, enum s2_access acc, bool user, bool table)
{
	wk->p = p;
	wk->ia = ia;
	wk->idx = idx;
	wk->a = (struct s2_walk_acc){ .acc = acc, .user = user, .table = table };
	wk->path = s2_tbl_path(h, p);
}

/*
 * The memory address of the entry at @ea of a walk whose tables are not
 * physical: a 2D walk's stage 2 of it, checked as a guest page-table
 * read, or the table's table_pa.
 */
static int s2_entry_pa(struct s2_hw *h, const struct s2_walk *wk, uint64_t ea, uint64_t *pa)
{
	const struct s2_pgt *p = wk->p;
	struct s2_stage_res t;
	enum s2_access tacc;
	int rc;

	if (wk->path == S2_TBL_HOOK) {
		if (!p->mm->table_pa(p->mm_arg, ea, pa))
			return s2_table_refused(h, p, wk->w.sz, ea);
		return 0;
	}
	/* With EPT A/D enabled, guest paging-structure accesses are writes. */
	tacc = h->sp->s2->fmt->id == S2_FMT_EPT ? S2_ACC_WRITE : S2_ACC_READ;
	rc = s2_stage2(h, ea, tacc, false, true, &t);
	if (rc)
		return rc;
	*pa = t.pa;
	h->ent_gpa = ea;
	h->ent_sz = t.sz;
	h->ent_perms = t.perms;
	h->ent_e = t.e;
	return s2_run_check(h, t.pa & ~(SIM_PAGE_SIZE - 1), ea & ~(SIM_PAGE_SIZE - 1), t.sz,
			    S2_ACC_READ, true, true, false, t.e);
}

/*
 * A hardware A/D write of @raw at @pa, the entry walk @wk read last.  In
 * a 2D walk that entry is in a guest table, and the write needs the
 * stage-2 leaf that maps it to allow writes (AMD: #NPF with W and the
 * guest-table bit; EPT already translated the read as a write), then the
 * space's check of a guest page-table write (the RMP: APM Table 15-39
 * checks page-table accesses, A/D updates included; at VMPL > 0 an SNP
 * guest needs W in the page's VMPL mask, a non-SNP guest a
 * hypervisor-owned page).
 * Return 0, the stage-2 permission fault, or the check's fault.
 */
static int s2_hw_set_ad(struct s2_hw *h, const struct s2_walk *wk, uint64_t pa, uint64_t raw)
{
	const struct s2_pgt *p = wk->p;

	if (wk->path == S2_TBL_NESTED) {
		const struct s2_pgt *p2 = h->sp->s2;
		int rc;

		if (!(h->ent_perms & S2_PERM_W))
			return s2_fault(h, p2->fmt, S2_FAULT_PERMISSION,
					p2->fmt->arch_level(h->ent_sz, p2->levels), h->ent_gpa,
					S2_ACC_WRITE, true, h->ent_perms, false);
		rc = s2_run_check(h, pa & ~(SIM_PAGE_SIZE - 1), h->ent_gpa & ~(SIM_PAGE_SIZE - 1),
				  h->ent_sz, S2_ACC_WRITE, true, true, false, h->ent_e);
		if (rc)
			return rc;
	}
	h->out->mem_cycles += sim_mem_write64(p->mem, s2_req_agent(h->req), h->req->src, pa, raw);
	h->out->ev.ad_updates++;
	h->st->ad_updates++;
	return 0;
}

/* A fault of walk @wk at its current entry. */
static int s2_walk_fault(struct s2_hw *h, const struct s2_walk *wk, enum s2_fault_type type,
			 uint8_t walk_perms)
{
	const struct s2_pgt *p = wk->p;

	return s2_fault(h, p->fmt, type, p->fmt->arch_level(wk->w.sz, p->levels), wk->ia,
			wk->a.acc, wk->a.table, walk_perms, wk->a.user);
}

/*
 * The end of a walk: entry @e (raw @raw, read at @pa) is not a table.
 * Fault, or fill @r.  Inlined into each walk loop, so the output address
 * goes from the decoded entry to @r without a round trip through memory.
 */
static inline __attribute__((always_inline)) int
s2_hw_leaf(struct s2_hw *h, struct s2_walk *wk, struct s2_wpte e, uint64_t raw, uint64_t pa,
	   struct s2_stage_res *r)
{
	const struct s2_fmt_ops *f = wk->p->fmt;
	const struct s2_walk_acc *a = &wk->a;
	struct s2_walk_pos *w = &wk->w;
	bool write = a->acc == S2_ACC_WRITE;

	if (e.type != S2_PTE_LEAF)
		return s2_walk_fault(h, wk, S2_FAULT_TRANSLATION, 0);
	w->perms &= e.perms;
	w->user = w->user && e.user;
	if (!(f->leaf_szs & (1u << w->sz)))
		return s2_walk_fault(h, wk, S2_FAULT_TRANSLATION, 0);
	if (f->af_faults && !e.accessed)
		return s2_walk_fault(h, wk, S2_FAULT_ACCESS, w->perms);
	if (!s2_leaf_allows(h, f, raw, w->sz, w->perms, w->user, a->acc, a->user))
		return s2_walk_fault(h, wk, S2_FAULT_PERMISSION, w->perms);
	if (f->af_faults) {
		if (write && !e.dirty)
			return s2_walk_fault(h, wk, S2_FAULT_ACCESS, w->perms);
	} else if (!e.accessed || (write && !e.dirty)) {
		int rc;

		raw = f->set_ad(raw, write);
		rc = s2_hw_set_ad(h, wk, pa, raw);
		if (rc)
			return rc;
		e.dirty = e.dirty || write;
	}
	r->pa = e.addr | (wk->idx & (s2_sz_bytes(w->sz) - 1));
	r->sz = w->sz;
	r->perms = w->perms;
	r->user = w->user;
	r->c = e.c;
	r->dirty = e.dirty || !(w->perms & S2_PERM_W);
	r->raw = raw;
	r->e = NULL;
	return 0;
}

typedef struct s2_wpte (*s2_wdec_fn)(uint64_t raw, unsigned sz);

/*
 * Walk @wk from wk->w to a leaf or a fault, decoding entries with @dec
 * (the format's walk_decode), its memory accesses made by @agent (the
 * requester's, read once per walk).  Per entry: reach its memory, read
 * it (one timed reference), decode it and descend through a table entry
 * (hardware accessed-flag update and walk-cache fill when needed); the
 * last entry gets the full decode and the leaf checks.
 *
 * A cold walk's speed is bounded by the chain entry -> next table
 * address -> next entry, so that chain stays in registers: the position
 * is a local copy (written back to @wk only before calls that read it),
 * @dec returns by value, and s2_hw_walk() below instantiates this body
 * once per built-in format so that @dec is inlined (s2_fmt_int.h).
 */
static inline __attribute__((always_inline)) int
s2_hw_walk_with(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, s2_wdec_fn dec,
		const int agent)
{
	const struct s2_fmt_ops *f = wk->p->fmt;
	struct sim_mem *mem = wk->p->mem;
	const enum sim_mem_src src = h->req->src;
	const bool phys = wk->path == S2_TBL_PHYS;
	const bool pwc = h->pwc_on[f->stage - 1];
	const bool hw_af = !f->af_faults;
	struct s2_xlate *out = h->out;
	struct s2_walk_pos w = wk->w;
	uint64_t cycles = 0, raw, pa;
	unsigned refs = 0;
	struct s2_wpte e;
	int rc;

	out->ev.walks++;
	h->st->walks++;
	for (;;) {
		pa = w.table + 8ull * s2_index(wk->idx, w.sz);
		if (!phys) {
			wk->w = w;
			out->mem_cycles += cycles;
			out->refs += refs;
			cycles = refs = 0;
			rc = s2_entry_pa(h, wk, pa, &pa);
			if (rc)
				return rc;
		}
		raw = sim_mem_load64(mem, agent, src, pa, &cycles);
		refs++;
		e = dec(raw, w.sz);
		if (e.type != S2_PTE_TABLE)
			break;
		w.perms &= e.perms;
		w.user &= e.user;
		if (hw_af && !e.accessed) {
			out->mem_cycles += cycles;
			out->refs += refs;
			cycles = refs = 0;
			rc = s2_hw_set_ad(h, wk, pa, f->set_ad(raw, false));
			if (rc)
				return rc;
		}
		if (pwc)
			s2_pwc_fill(h, f->stage, wk->idx, w.sz, e.addr, w.perms, w.user);
		w.table = e.addr;
		w.sz--;
	}
	out->mem_cycles += cycles;
	out->refs += refs;
	wk->w = w;
	return s2_hw_leaf(h, wk, e, raw, pa, r);
}

static int s2_hw_walk_a64(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, int agent)
{
	return s2_hw_walk_with(h, wk, r, s2_a64_wdec, agent);
}

static struct s2_wpte s2_npt_wdec(uint64_t raw, unsigned sz)
{
	return s2_x86_wdec(raw, sz, NPT_ADDR_MASK, false);
}

static struct s2_wpte s2_s1x_wdec(uint64_t raw, unsigned sz)
{
	return s2_x86_wdec(raw, sz, S1_ADDR_MASK, true);
}

static int s2_hw_walk_npt(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, int agent)
{
	return s2_hw_walk_with(h, wk, r, s2_npt_wdec, agent);
}

static int s2_hw_walk_s1x(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, int agent)
{
	return s2_hw_walk_with(h, wk, r, s2_s1x_wdec, agent);
}

static int s2_hw_walk_ept(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, int agent)
{
	return s2_hw_walk_with(h, wk, r, s2_ept_wdec, agent);
}

static int s2_hw_walk_sv(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, int agent)
{
	return s2_hw_walk_with(h, wk, r, s2_sv_wdec, agent);
}

static int s2_hw_walk_av1(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r, int agent)
{
	return s2_hw_walk_with(h, wk, r, s2_av1_wdec, agent);
}

/* One hardware walk: the loop made for the table's format, or the generic one. */
static int s2_hw_walk(struct s2_hw *h, struct s2_walk *wk, struct s2_stage_res *r)
{
	const struct s2_fmt_ops *f = wk->p->fmt;
	const int agent = s2_req_agent(h->req);

	sim_sync_id(wk->p->mem, agent);   /* tables other agents change: global order */
	if (f == &s2_fmt_npt)
		return s2_hw_walk_npt(h, wk, r, agent);
	if (f == &s1_fmt_x86_64)
		return s2_hw_walk_s1x(h, wk, r, agent);
	if (f == &s2_fmt_arm64)
		return s2_hw_walk_a64(h, wk, r, agent);
	if (f == &s2_fmt_ept)
		return s2_hw_walk_ept(h, wk, r, agent);
	if (f == &s1_fmt_sv39 || f == &s1_fmt_sv48)
		return s2_hw_walk_sv(h, wk, r, agent);
	if (f == &s2_fmt_amdv1)
		return s2_hw_walk_av1(h, wk, r, agent);
	return s2_hw_walk_with(h, wk, r, f->walk_decode, agent);
}

/* ------------------------------------------------------------------ */
/* Stage 2 through the TLB                                             */
/* ------------------------------------------------------------------ */

static inline bool s2_tlbe_allows(const struct s2_fmt_ops *f, const struct s2_tlbe *e,
				  enum s2_access acc, bool user)
{
	if (acc == S2_ACC_WRITE && !e->dirty)
		return false;
	return s2_perm_ok(f, e->perms, true, acc, user);
}

static void s2_res_from_tlbe(struct s2_stage_res *r, struct s2_tlbe *e, uint64_t idx)
{
	r->pa = e->base | (idx & (s2_sz_bytes(e->sz) - 1));
	r->sz = e->sz;
	r->perms = e->perms;
	r->user = true;
	r->c = false;
	r->dirty = e->dirty;
	r->raw = 0;
	r->e = e;
}

/*
 * Probe the TLB levels in order for @idx; a hit that does not allow the
 * access drops the address from every level and counts as a miss.  A
 * hit is copied into the levels above it.  Return: the entry, or NULL.
 */
static struct s2_tlbe *s2_tlb_find(struct s2_hw *h, const struct s2_fmt_ops *f, uint64_t idx,
				   enum s2_access acc, bool user)
{
	struct s2_mmu *m = h->m;
	unsigned levels = m->cfg.tlb_levels, l;
	uint32_t vmid = h->sp->vmid;
	struct s2_tlbe *e = NULL, copy;

	for (l = 0; l < levels; l++) {
		if (!m->has_tlb[l])
			continue;
		h->out->ev.tlb_probe[l]++;
		e = s2_tlb_probe(m->tlb[l], idx, vmid, m->szmask[l]);
		if (e && !s2_tlbe_allows(f, e, acc, user)) {
			for (unsigned k = 0; k < levels; k++)
				s2_tlb_drop(m->tlb[k], idx, vmid);
			h->st->tlb_miss[l]++;
			return NULL;
		}
		if (e) {
			h->st->tlb_hit[l]++;
			break;
		}
		h->st->tlb_miss[l]++;
	}
	if (!e || l == 0)
		return e;
	copy = *e;
	for (unsigned k = 0; k < l; k++) {
		struct tlb_key key = s2_key(idx, vmid, copy.sz);
		struct s2_tlbe *n = tlb_insert(m->tlb[k], &key);
		if (n) {
			*n = copy;
			e = n;
			m->szmask[k] |= (uint8_t)(1u << copy.sz);
		}
	}
	return e;
}

/* Install the walk result @r in every TLB level (last level first); r->e = level 1's entry. */
static void s2_tlb_fill(struct s2_mmu *m, uint32_t vmid, uint64_t idx, struct s2_stage_res *r)
{
	for (unsigned l = m->cfg.tlb_levels; l-- > 0;) {
		struct tlb_key key;
		struct s2_tlbe *n;

		if (!m->has_tlb[l])
			continue;
		key = s2_key(idx, vmid, r->sz);
		n = tlb_insert(m->tlb[l], &key);
		m->szmask[l] |= (uint8_t)(1u << r->sz);
		n->base = r->pa & ~(s2_sz_bytes(r->sz) - 1);
		n->sz = (uint8_t)r->sz;
		n->perms = r->perms;
		n->dirty = r->dirty;
		r->e = n;
	}
}

/* The walk of s2_stage2 (a TLB miss): from the walk cache's deepest hit, then the TLB fill. */
static int s2_stage2_walk(struct s2_hw *h, uint64_t ipa, uint64_t idx, enum s2_access acc,
			  bool user, bool table, struct s2_stage_res *r)
{
	struct s2_walk wk;
	int rc;

	s2_walk_init(&wk, h, h->sp->s2, ipa, idx, acc, user, table);
	s2_pwc_start(h, 2, &wk);
	rc = s2_hw_walk(h, &wk, r);
	if (!rc && h->m && h->m->any_tlb)
		s2_tlb_fill(h->m, h->sp->vmid, idx, r);
	return rc;
}

/*
 * Translate @ipa by the space's stage 2: TLB levels in order, else a
 * walk (from the walk cache's deepest hit) and an inclusive fill.
 */
static int s2_stage2(struct s2_hw *h, uint64_t ipa, enum s2_access acc, bool user, bool table,
		     struct s2_stage_res *r)
{
	const struct s2_pgt *p = h->sp->s2;
	uint64_t idx;

	if (!s2_ia_ok(p, ipa, &idx))
		return s2_ia_fault(h, p, ipa, acc, user, table);
	if (h->m && h->m->any_tlb) {
		struct s2_tlbe *e = s2_tlb_find(h, p->fmt, idx, acc, user);
		if (e) {
			s2_res_from_tlbe(r, e, idx);
			return 0;
		}
	}
	return s2_stage2_walk(h, ipa, idx, acc, user, table, r);
}

/* ------------------------------------------------------------------ */
/* Public translations                                                 */
/* ------------------------------------------------------------------ */

static inline void s2_hw_init(struct s2_hw *h, struct s2_mmu *m, const struct s2_space *sp,
			      const struct s2_req *req, struct s2_xlate *out, uint64_t ia)
{
	/*
	 * Field by field: a memset of the whole result (fault included) is a
	 * `rep stos` that costs more than a TLB hit.  The fault's other
	 * fields are written by s2_fault()/s2_run_check() when one happens.
	 */
	out->pa = out->ipa = out->size = 0;
	out->perms = out->s1_perms = 0;
	out->user = out->c = out->tlb_hit = false;
	out->refs = 0;
	out->mem_cycles = out->check_cycles = out->cycles = out->raw = 0;
	out->ev = (struct s2_events){ 0 };
	out->fault.type = S2_FAULT_NONE;
	h->m = m;
	h->st = m ? m->st : &s2_null_stats;
	h->sp = sp;
	h->req = req;
	h->hook = sp->hook && sp->hook->check ? sp->hook : NULL;
	h->out = out;
	h->two_d = false;
	h->pwc_on[0] = m && m->has_pwc[0];
	h->pwc_on[1] = m && m->has_pwc[1];
	h->ia = ia;
}

static inline uint64_t s2_latency_of(const struct s2_timing *t, const struct s2_xlate *x)
{
	uint64_t c = x->mem_cycles + x->check_cycles;

	for (unsigned l = 0; l < S2_TLB_MAX_LEVELS; l++)
		c += (uint64_t)x->ev.tlb_probe[l] * t->tlb_hit[l];
	c += (uint64_t)x->ev.ntlb_probe * t->ntlb_hit;
	c += (uint64_t)x->ev.pwc_probe * t->pwc_hit;
	c += (uint64_t)x->ev.walks * t->walk;
	return c;
}

/*
 * The timeline's span of a translation that walked (timeline.walks): on
 * the requester's track from the cycle it started, for the translation's
 * latency (TLB probes, every stage's walk, the checks), named after the
 * kind of walk, with the address, the walks and table references it
 * took, and the fault if any.  Out of line: called only after a walk.
 */
static __attribute__((noinline, cold)) void s2_walk_timeline(const struct s2_hw *h, int rc)
{
	const struct s2_pgt *p = h->sp->s2 ? h->sp->s2 : h->sp->s1;
	const struct s2_xlate *out = h->out;
	struct sim *s;
	char args[160];

	if (!sim_mem_timeline_on(p->mem) || !(s = sim_timeline_walks_of(p->mem)) ||
	    h->req->who->agent < 0)
		return;
	snprintf(args, sizeof(args), "\"ia\":\"0x%llx\",\"walks\":%u,\"refs\":%u%s%s%s",
		 (unsigned long long)h->ia, (unsigned)out->ev.walks, (unsigned)out->refs,
		 rc ? ",\"fault\":\"" : "", rc ? s2_fault_type_name(out->fault.type) : "",
		 rc ? "\"" : "");
	sim_timeline_span(s, h->req->who->agent, "walk",
			  h->two_d ? "2D walk" : p->fmt->stage == 1 ? "stage-1 walk" : "stage-2 walk",
			  h->req->who->now, h->req->who->now + out->cycles, args);
}

/*
 * The end of every translation: statistics, latency, the requester's
 * memory cycles (only a walk accesses memory: its reads and A/D writes).
 */
static inline int s2_hw_finish(struct s2_hw *h, int rc)
{
	struct s2_xlate *out = h->out;

	out->cycles = h->m ? s2_latency_of(h->m->t, out) : out->mem_cycles + out->check_cycles;
	if (out->ev.walks) {
		sim_hist_add(&h->st->walk_refs, out->refs);
		if (h->req->who) {
			h->req->who->mem_cycles += out->mem_cycles;
			if (!h->req->untimed)
				s2_walk_timeline(h, rc);   /* returns at once while it is off */
		}
	} else if (!rc) {
		out->tlb_hit = true;
	}
	return rc;
}

int s2_translate(const struct s2_pgt *p, uint64_t ia, const struct s2_req *req,
		 struct s2_xlate *out)
{
	struct s2_space sp = { 0 };
	struct s2_stage_res r;
	struct s2_walk wk;
	struct s2_hw h;
	uint64_t idx;
	int rc;

	if (p->fmt->stage == 1)
		sp.s1 = (struct s2_pgt *)p;
	else
		sp.s2 = (struct s2_pgt *)p;
	s2_hw_init(&h, NULL, &sp, req, out, ia);
	if (!s2_ia_ok(p, ia, &idx))
		return s2_hw_finish(&h, s2_ia_fault(&h, p, ia, req->acc, req->user, false));
	s2_walk_init(&wk, &h, p, ia, idx, req->acc, req->user, false);
	wk.w = (struct s2_walk_pos){
		.table = p->root, .sz = s2_root_sz(p), .perms = S2_PERM_ALL, .user = true,
	};
	rc = s2_hw_walk(&h, &wk, &r);
	if (!rc) {
		out->pa = r.pa;
		out->size = s2_sz_bytes(r.sz);
		out->perms = r.perms;
		out->user = r.user;
		out->c = r.c;
		out->raw = r.raw;
	}
	return s2_hw_finish(&h, rc);
}

int s2_mmu_translate(struct s2_mmu *m, const struct s2_space *sp, uint64_t ipa,
		     const struct s2_req *req, struct s2_xlate *out)
{
	struct s2_stage_res r;
	struct s2_hw h;
	int rc;

	s2_hw_init(&h, m, sp, req, out, ipa);
	h.st->xlates++;
	out->ipa = ipa;
	rc = s2_stage2(&h, ipa, req->acc, req->user, false, &r);
	if (!rc) {
		out->pa = r.pa;
		out->size = s2_sz_bytes(r.sz);
		out->perms = r.perms;
		out->c = req->c || req->acc == S2_ACC_FETCH;
		out->raw = r.raw;
		rc = s2_run_check(&h, r.pa, ipa, r.sz, req->acc, out->c, false, req->user, r.e);
	}
	return s2_hw_finish(&h, rc);
}

/* Does nested-TLB entry @e still allow the access of @req (stage 1, stage 2, dirty)? */
static bool s2_ntlb_allows(const struct s2_hw *h, const struct s2_fmt_ops *f1,
			   const struct s2_fmt_ops *f2, const struct s2_tlbe *e)
{
	const struct s2_req *req = h->req;
	bool s1_ok;

	if (req->policy && req->policy->perm_ok) {
		struct s2_pte leaf = {
			.type = S2_PTE_LEAF, .addr = e->ipa,
			.prot = { .perms = e->s1_perms, .user = e->s1_user, .c = e->c },
		};
		s1_ok = req->policy->perm_ok(req->policy->arg, &leaf, req->acc);
	} else {
		s1_ok = s2_perm_ok(f1, e->s1_perms, e->s1_user, req->acc, req->user);
	}
	return s1_ok && s2_perm_ok(f2, e->perms, true, req->acc, e->s1_user) &&
	       !(req->acc == S2_ACC_WRITE && !e->dirty);
}

/* Inlined into its one caller (a nested-TLB hit is the hot path: no call). */
static inline __attribute__((always_inline)) int
s2_xlate_2d(struct s2_mmu *m, const struct s2_space *sp, uint64_t va, const struct s2_req *req,
	    struct s2_xlate *out)
{
	const struct s2_pgt *p1 = sp->s1;
	struct s2_stage_res r1, r2;
	struct s2_tlbe *e = NULL;
	struct s2_walk wk;
	struct s2_hw h;
	uint64_t vidx;
	unsigned sz;
	bool c;
	int rc;

	s2_hw_init(&h, m, sp, req, out, va);
	h.two_d = true;
	h.st->xlates_2d++;
	if (!s2_ia_ok(p1, va, &vidx))
		return s2_hw_finish(&h, s2_ia_fault(&h, p1, va, req->acc, req->user, false));
	if (m && m->has_ntlb) {
		out->ev.ntlb_probe++;
		e = s2_tlb_probe(m->ntlb, vidx, sp->vmid, m->nszmask);
		if (e && !s2_ntlb_allows(&h, p1->fmt, s2_pgt_fmt(sp->s2), e)) {
			s2_tlb_drop(m->ntlb, vidx, sp->vmid);
			e = NULL;
		}
		if (e)
			h.st->ntlb_hit++;
		else
			h.st->ntlb_miss++;
	}
	if (e) {
		uint64_t off = vidx & (s2_sz_bytes(e->sz) - 1);
		out->pa = e->base | off;
		out->ipa = e->ipa | off;
		out->size = s2_sz_bytes(e->sz);
		out->perms = e->perms & e->s1_perms;
		out->s1_perms = e->s1_perms;
		out->user = e->s1_user;
		out->c = e->c || req->acc == S2_ACC_FETCH;
		/* The check sees the stage-2 leaf's size (the RMP page-size rule), not e->sz. */
		rc = s2_run_check(&h, out->pa, out->ipa, e->s2_sz, req->acc, out->c, false,
				  req->user, e);
		if (rc)
			out->fault.va = va;
		return s2_hw_finish(&h, rc);
	}
	s2_walk_init(&wk, &h, p1, va, vidx, req->acc, req->user, false);
	s2_pwc_start(&h, 1, &wk);
	rc = s2_hw_walk(&h, &wk, &r1);
	if (rc)
		goto out_fault;
	out->ipa = r1.pa;
	out->s1_perms = r1.perms;
	out->user = r1.user;
	c = r1.c || req->acc == S2_ACC_FETCH;
	rc = s2_stage2(&h, r1.pa, req->acc, r1.user, false, &r2);
	if (rc)
		goto out_fault;
	sz = r1.sz < r2.sz ? r1.sz : r2.sz;
	out->pa = r2.pa;
	out->size = s2_sz_bytes(sz);
	out->perms = r1.perms & r2.perms;
	out->c = c;
	out->raw = r2.raw;
	if (m && m->has_ntlb) {
		struct tlb_key k = s2_key(vidx, sp->vmid, sz);
		e = tlb_insert(m->ntlb, &k);
		m->nszmask |= (uint8_t)(1u << sz);
		if (e) {
			uint64_t mask = ~(s2_sz_bytes(sz) - 1);
			e->base = r2.pa & mask;
			e->ipa = r1.pa & mask;
			e->sz = (uint8_t)sz;
			e->s2_sz = (uint8_t)r2.sz;
			e->perms = r2.perms;
			e->s1_perms = r1.perms;
			e->s1_user = r1.user;
			e->c = r1.c;
			e->dirty = r1.dirty && r2.dirty;
		}
	}
	rc = s2_run_check(&h, r2.pa, r1.pa, r2.sz, req->acc, c, false, req->user, e);
	if (rc)
		goto out_fault;
	return s2_hw_finish(&h, 0);
out_fault:
	out->fault.va = va;
	return s2_hw_finish(&h, rc);
}

/* Stage-1 only (no stage 2): table addresses are physical, or go through the table's table_pa. */
static int s2_xlate_1d(struct s2_mmu *m, const struct s2_space *sp, uint64_t va,
			      const struct s2_req *req, struct s2_xlate *out)
{
	const struct s2_pgt *p1 = sp->s1;
	struct s2_stage_res r;
	struct s2_walk wk;
	struct s2_hw h;
	uint64_t vidx;
	int rc;

	s2_hw_init(&h, m, sp, req, out, va);
	h.st->xlates++;
	if (!s2_ia_ok(p1, va, &vidx))
		return s2_hw_finish(&h, s2_ia_fault(&h, p1, va, req->acc, req->user, false));
	s2_walk_init(&wk, &h, p1, va, vidx, req->acc, req->user, false);
	s2_pwc_start(&h, 1, &wk);
	rc = s2_hw_walk(&h, &wk, &r);
	if (!rc) {
		out->pa = r.pa;
		out->ipa = r.pa;
		out->size = s2_sz_bytes(r.sz);
		out->perms = r.perms;
		out->s1_perms = r.perms;
		out->user = r.user;
		out->c = r.c;
		out->raw = r.raw;
	}
	return s2_hw_finish(&h, rc);
}

int s2_mmu_translate_2d(struct s2_mmu *m, const struct s2_space *sp, uint64_t va,
			const struct s2_req *req, struct s2_xlate *out)
{
	if (!sp->s1)
		return s2_mmu_translate(m, sp, va, req, out);
	if (!sp->s2)
		return s2_xlate_1d(m, sp, va, req, out);
	return s2_xlate_2d(m, sp, va, req, out);
}

int s2_translate_2d(const struct s2_space *sp, uint64_t va, const struct s2_req *req,
		    struct s2_xlate *out)
{
	return s2_mmu_translate_2d(NULL, sp, va, req, out);
}

uint64_t s2_latency(const struct s2_timing *t, const struct s2_xlate *x)
{
	return s2_latency_of(t, x);
}

