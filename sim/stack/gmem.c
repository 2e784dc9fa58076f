/*
 * gmem.c - guest_memfd: a VM's private memory as a file of host folios.
 *
 * Modelled on Linux virt/kvm/guest_memfd.c (kvm_gmem_create, _bind,
 * _fallocate, _allocate, _punch_hole, _get_pfn, _prepare_folio,
 * _populate, _release) and the SNP hooks of arch/x86/kvm/svm/sev.c
 * (sev_gmem_prepare, sev_gmem_invalidate) over the RMP instructions
 * (arch/x86/virt/svm/sev.c: rmp_make_private, rmp_make_shared, psmash).
 *
 * A file keeps its folios in an array sorted by file offset: memory is
 * proportional to the folios present, not to the file's size.  A folio
 * is one 4K page or one 2M block of the host page allocator; per 4K page
 * it records whether the page was prepared (made private to the VM in the
 * RMP, Linux's "uptodate" folio flag at 4K granularity).  Each RMP change
 * is check-then-commit in the hardware model: a refused instruction
 * leaves the entry as it was, which is what the host reasons from.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGES_2M 512u

/* One folio of a file: file bytes [start, start + 4K or 2M) at system address spa. */
struct gmem_folio {
	uint64_t start;
	uint64_t spa;
	bool big;
	uint64_t prepared[PAGES_2M / 64];   /* per 4K page (a 4K folio uses bit 0) */
};

struct gmem_binding {
	const void *slot;
	uint64_t start, end;
};

struct stack_gmem {
	struct stack_gmem_ctx *ctx;
	struct stack_vm *vm;             /* its creator, the only VM that may bind it */
	uint64_t size, flags;
	bool huge;                       /* 2M folios where they fit */
	struct gmem_folio **fol;         /* sorted by start */
	size_t nfol, capfol;
	size_t hint;                     /* the index last looked up (a cache: lookups are mostly sequential) */
	struct gmem_binding *bind;
	size_t nbind, capbind;
	stack_gmem_invalidate_fn inval;
	void *inval_arg;
	struct stack_gmem *prev, *next;  /* the machine's open files */
};

/* The machine's guest_memfd state (struct stack .gmem). */
struct stack_gmem_ctx {
	struct stack *st;
	struct rmp *rmp;                 /* NULL: SNP off, nothing to prepare */
	bool default_2m;                 /* gmem.page_size = 2m */
	struct stack_gmem *files;
	struct stack_gmem_stats ctr;
	struct sim_stat_group *stats;
};

/* One timed operation: instructions run back to back from who->now. */
struct gmem_op {
	struct stack_gmem *f;
	struct sim_who *who;
	uint64_t *cycles;
	uint64_t now;                    /* when the next instruction starts */
};

static void op_begin(struct gmem_op *op, struct stack_gmem *f, struct sim_who *who,
		     uint64_t *cycles)
{
	op->f = f;
	op->who = who;
	op->cycles = cycles;
	op->now = who->now;
}

/* Account an instruction (or a callback) that took @lat cycles plus @mem memory cycles. */
static void op_spent(struct gmem_op *op, uint64_t lat, uint64_t mem)
{
	op->now += lat + mem;
	op->who->mem_cycles += mem;
	*op->cycles += lat;
}

static struct sim_who op_who(const struct gmem_op *op)
{
	struct sim_who w = { op->now, op->who->agent, 0 };

	return w;
}

/*
 * The timeline of a retry loop that waited for an RMP entry lock: a span
 * on the agent's track from the first refused try to the start of the
 * last try (--timeline only).
 */
static void op_wait_timeline(const struct gmem_op *op, uint64_t t0, uint64_t t_last,
			     unsigned tries, uint64_t spa, const char *name)
{
	struct sim *s = op->f->ctx->st->s;
	char args[96];

	if (tries < 2 || !sim_timeline_on(s))
		return;
	snprintf(args, sizeof(args), "\"spa\":\"0x%llx\",\"tries\":%u",
		 (unsigned long long)spa, tries);
	sim_timeline_span(s, op->who->agent, "lock", name, t0, t_last, args);
}

/*
 * RMPUPDATE @spa to @in, retried while FAIL_OVERLAP (Linux rmpupdate():
 * another CPU changes an overlapping range), at most STACK_GMEM_TRIES.
 */
static enum rmp_rc op_update(struct gmem_op *op, uint64_t spa, const struct rmp_update_in *in)
{
	struct stack_gmem_ctx *c = op->f->ctx;
	enum rmp_rc rc = RMP_RC_FAIL_OVERLAP;
	uint64_t t0 = op->now, t_last = op->now;
	unsigned t;

	for (t = 0; t < STACK_GMEM_TRIES && rc == RMP_RC_FAIL_OVERLAP; t++) {
		struct sim_who w = op_who(op);
		struct rmp_result res;

		if (t)
			c->ctr.retries++;
		t_last = op->now;
		rc = rmp_update(c->rmp, &w, spa, in, &res);
		op_spent(op, res.latency, w.mem_cycles);
	}
	op_wait_timeline(op, t0, t_last, t, spa, "rmpupdate: retried on FAIL_OVERLAP");
	return rc;
}

/* PSMASH the 2M region at @spa, retried while FAIL_INUSE (KVM snp_rmptable_psmash). */
static enum rmp_rc op_psmash(struct gmem_op *op, uint64_t spa)
{
	struct stack_gmem_ctx *c = op->f->ctx;
	enum rmp_rc rc = RMP_RC_FAIL_INUSE;
	uint64_t t0 = op->now, t_last = op->now;
	unsigned t;

	for (t = 0; t < STACK_GMEM_TRIES && rc == RMP_RC_FAIL_INUSE; t++) {
		struct sim_who w = op_who(op);
		struct rmp_result res;

		if (t)
			c->ctr.retries++;
		t_last = op->now;
		rc = rmp_psmash(c->rmp, &w, spa, &res);
		op_spent(op, res.latency, w.mem_cycles);
	}
	op_wait_timeline(op, t0, t_last, t, spa, "psmash: wait for the entry lock");
	if (rc == RMP_RC_SUCCESS)
		c->ctr.psmash++;
	return rc;
}

static bool pbit(const struct gmem_folio *fo, unsigned i)
{
	return (fo->prepared[i / 64] >> (i % 64)) & 1;
}

static void set_pbit(struct gmem_folio *fo, unsigned i, bool on)
{
	if (on)
		fo->prepared[i / 64] |= 1ull << (i % 64);
	else
		fo->prepared[i / 64] &= ~(1ull << (i % 64));
}

static unsigned folio_pages(const struct gmem_folio *fo)
{
	return fo->big ? PAGES_2M : 1;
}

static uint64_t folio_end(const struct gmem_folio *fo)
{
	return fo->start + (fo->big ? SIM_SZ_2M : SIM_SZ_4K);
}

/* The RMP forbids host use of @spa (assigned, or a running vCPU's page): what the allocator leaks. */
static bool page_owned(const struct stack_gmem_ctx *c, uint64_t spa)
{
	struct rmp_entry e;

	if (!c->rmp)
		return false;
	return (rmp_entry_effective(c->rmp, spa, &e) && e.assigned) || rmp_in_use(c->rmp, spa) >= 0;
}

/* ------------------------------------------------------------------ */
/* Machine-wide state                                                  */
/* ------------------------------------------------------------------ */

int stack_gmem_init(struct stack *st, struct sim_err *err)
{
	static const struct sim_stat_desc d[] = {
#define F(f) offsetof(struct stack_gmem_stats, f)
		{ "files", SIM_STAT_COUNTER, F(files), "guest_memfd files open now" },
		{ "alloc_4k", SIM_STAT_COUNTER, F(alloc_4k), "4K folios taken from the host page allocator" },
		{ "alloc_2m", SIM_STAT_COUNTER, F(alloc_2m), "2M folios taken from the host page allocator" },
		{ "alloc_fail", SIM_STAT_COUNTER, F(alloc_fail), "folio allocations refused: the allocator had none (-ENOMEM)" },
		{ "folios", SIM_STAT_COUNTER, F(folios), "folios in the files now" },
		{ "punches", SIM_STAT_COUNTER, F(punches), "fallocate PUNCH_HOLE calls that succeeded" },
		{ "prepare_4k", SIM_STAT_COUNTER, F(prepare_4k), "4K RMPUPDATEs to private at a page's first fault" },
		{ "prepare_2m", SIM_STAT_COUNTER, F(prepare_2m), "2M RMPUPDATEs to private at a 2M folio's first fault" },
		{ "cleared", SIM_STAT_COUNTER, F(cleared), "4K pages cleared at their first use (kvm_gmem_prepare_folio)" },
		{ "prepare_fail", SIM_STAT_COUNTER, F(prepare_fail), "prepares the RMP refused (-EINVAL)" },
		{ "populated", SIM_STAT_COUNTER, F(populated), "pages the launch populate callback accepted" },
		{ "invalidate_4k", SIM_STAT_COUNTER, F(invalidate_4k), "4K RMPUPDATEs back to shared (punch, release)" },
		{ "invalidate_2m", SIM_STAT_COUNTER, F(invalidate_2m), "2M RMPUPDATEs back to shared (punch, release)" },
		{ "psmash", SIM_STAT_COUNTER, F(psmash), "PSMASHes of a 2M entry only partly invalidated" },
		{ "retries", SIM_STAT_COUNTER, F(retries), "PSMASHes retried on FAIL_INUSE and RMPUPDATEs on FAIL_OVERLAP" },
		{ "leaked", SIM_STAT_COUNTER, F(leaked), "4K pages leaked: still assigned when their folio was freed (never reused)" },
		{ NULL, 0, 0, NULL },
#undef F
	};
	struct stack_gmem_ctx *c;

	(void)err;
	c = sim_xcalloc(1, sizeof(*c));
	c->st = st;
	c->rmp = st->rmp && rmp_enabled(st->rmp) ? st->rmp : NULL;
	c->default_2m = sim_cfg_enum(st->s, "gmem.page_size") == 1;
	c->stats = sim_stat_group_add(st->s, "stack.gmem", d, &c->ctr);
	st->gmem = c;
	return 0;
}

static void file_free(struct stack_gmem *f)
{
	for (size_t i = 0; i < f->nfol; i++)
		free(f->fol[i]);
	free(f->fol);
	free(f->bind);
	free(f);
}

void stack_gmem_fini(struct stack *st)
{
	struct stack_gmem_ctx *c = st->gmem;

	if (!c)
		return;
	while (c->files) {
		struct stack_gmem *f = c->files;

		c->files = f->next;
		file_free(f);
	}
	sim_stat_group_remove(st->s, c->stats);
	free(c);
	st->gmem = NULL;
}

const struct stack_gmem_stats *stack_gmem_stats(const struct stack *st)
{
	return &st->gmem->ctr;
}

unsigned stack_gmem_vm_files(const struct stack *st, const struct stack_vm *vm)
{
	unsigned n = 0;

	for (const struct stack_gmem *f = st->gmem->files; f; f = f->next)
		n += f->vm == vm;
	return n;
}

/* ------------------------------------------------------------------ */
/* Files and bindings                                                  */
/* ------------------------------------------------------------------ */

int stack_gmem_create(struct stack_vm *vm, uint64_t size, uint64_t flags,
		      struct stack_gmem **out)
{
	struct stack_gmem_ctx *c = vm->st->gmem;
	struct stack_gmem *f;

	/* kvm_gmem_create: flags first, then the size. */
	if (flags & ~STACK_GMEM_FLAGS_VALID)
		return -EINVAL;
	if (size == 0 || (size & (SIM_SZ_4K - 1)) || size > SIM_PA_LIMIT)
		return -EINVAL;
	if ((flags & STACK_GMEM_FLAG_HUGE) && (size & (SIM_SZ_2M - 1)))
		return -EINVAL;
	f = sim_xcalloc(1, sizeof(*f));
	f->ctx = c;
	f->vm = vm;
	f->size = size;
	f->flags = flags;
	f->huge = (flags & STACK_GMEM_FLAG_HUGE) || c->default_2m;
	f->next = c->files;
	if (c->files)
		c->files->prev = f;
	c->files = f;
	c->ctr.files++;
	*out = f;
	return 0;
}

uint64_t stack_gmem_size(const struct stack_gmem *f)
{
	return f->size;
}

struct stack_vm *stack_gmem_vm(const struct stack_gmem *f)
{
	return f->vm;
}

bool stack_gmem_huge(const struct stack_gmem *f)
{
	return f->huge;
}

int stack_gmem_bind_check(const struct stack_gmem *f, const struct stack_vm *vm,
			  uint64_t offset, uint64_t size)
{
	/* kvm_gmem_bind: only the creator; a page-aligned range inside the file; no overlap. */
	if (vm != f->vm)
		return -EINVAL;
	if ((offset | size) & (SIM_SZ_4K - 1) || size == 0 || offset > f->size ||
	    size > f->size - offset)
		return -EINVAL;
	for (size_t i = 0; i < f->nbind; i++)
		if (offset < f->bind[i].end && f->bind[i].start < offset + size)
			return -EINVAL;
	return 0;
}

int stack_gmem_bind(struct stack_gmem *f, const struct stack_vm *vm, const void *slot,
		    uint64_t offset, uint64_t size)
{
	int rc = stack_gmem_bind_check(f, vm, offset, size);

	if (rc)
		return rc;
	if (f->nbind == f->capbind) {
		f->capbind = f->capbind ? 2 * f->capbind : 4;
		f->bind = sim_xrealloc(f->bind, f->capbind * sizeof(*f->bind));
	}
	f->bind[f->nbind++] = (struct gmem_binding){ slot, offset, offset + size };
	return 0;
}

int stack_gmem_unbind(struct stack_gmem *f, const void *slot)
{
	for (size_t i = 0; i < f->nbind; i++)
		if (f->bind[i].slot == slot) {
			memmove(&f->bind[i], &f->bind[i + 1], (f->nbind - i - 1) * sizeof(*f->bind));
			f->nbind--;
			return 0;
		}
	return -ENOENT;
}

void stack_gmem_set_invalidate(struct stack_gmem *f, stack_gmem_invalidate_fn fn, void *arg)
{
	f->inval = fn;
	f->inval_arg = arg;
}

/* ------------------------------------------------------------------ */
/* Folios                                                              */
/* ------------------------------------------------------------------ */

/* Index of the first folio that ends after @off (nfol if none). */
static size_t folio_lower(const struct stack_gmem *f, uint64_t off)
{
	size_t lo = 0, hi = f->nfol, h = f->hint;

	/* the folio looked up last, or the one after it */
	if (h < f->nfol && f->fol[h]->start <= off) {
		if (off < folio_end(f->fol[h]))
			return h;
		if (h + 1 == f->nfol || off < folio_end(f->fol[h + 1]))
			return h + 1;
		lo = h + 1;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (folio_end(f->fol[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct gmem_folio *folio_find(const struct stack_gmem *f, uint64_t off)
{
	size_t i = folio_lower(f, off);

	if (i < f->nfol && f->fol[i]->start <= off) {
		((struct stack_gmem *)f)->hint = i;   /* the lookup cache, not the file's state */
		return f->fol[i];
	}
	return NULL;
}

/*
 * The folio holding @off, taken from the allocator if absent
 * (kvm_gmem_get_folio): 2M when the file wants 2M folios and the
 * 2M-aligned range holding @off lies inside the file, else 4K.  A 2M
 * folio the allocator cannot give is -ENOMEM (no smaller fallback, as a
 * hugetlb-backed file).
 */
static int folio_get(struct stack_gmem *f, uint64_t off, struct gmem_folio **out)
{
	struct stack_gmem_ctx *c = f->ctx;
	size_t i = folio_lower(f, off);
	struct gmem_folio *fo;
	uint64_t start2m = off & ~(SIM_SZ_2M - 1), spa;
	bool big;

	if (i < f->nfol && f->fol[i]->start <= off) {
		f->hint = i;
		*out = f->fol[i];
		return 0;
	}
	big = f->huge && start2m + SIM_SZ_2M <= f->size;
	if (stack_palloc_get(c->st->pool, big, &spa)) {
		c->ctr.alloc_fail++;
		return -ENOMEM;
	}
	fo = sim_xcalloc(1, sizeof(*fo));
	fo->start = big ? start2m : off & ~(SIM_SZ_4K - 1);
	fo->spa = spa;
	fo->big = big;
	if (f->nfol == f->capfol) {
		f->capfol = f->capfol ? 2 * f->capfol : 16;
		f->fol = sim_xrealloc(f->fol, f->capfol * sizeof(*f->fol));
	}
	memmove(&f->fol[i + 1], &f->fol[i], (f->nfol - i) * sizeof(*f->fol));
	f->fol[i] = fo;
	f->nfol++;
	f->hint = i;
	if (big)
		c->ctr.alloc_2m++;
	else
		c->ctr.alloc_4k++;
	c->ctr.folios++;
	*out = fo;
	return 0;
}

/*
 * Folio @i leaves the file: back to the allocator.  A page the RMP still
 * has (a failed reclaim) is leaked, never reused (snp_leak_pages): a 4K
 * folio explicitly, a 2M folio by the allocator's free, which leaks each
 * such page and frees the others.
 */
/* Give folio @fo's pages back to the allocator (leaking those still assigned); the caller unlinks it. */
static void folio_drop(struct stack_gmem *f, struct gmem_folio *fo)
{
	struct stack_gmem_ctx *c = f->ctx;
	uint64_t owned = 0;

	for (unsigned p = 0; p < folio_pages(fo); p++)
		owned += page_owned(c, fo->spa + (uint64_t)p * SIM_SZ_4K);
	c->ctr.leaked += owned;
	if (fo->big)
		stack_palloc_put(c->st->pool, fo->spa, true);
	else if (owned)
		stack_palloc_leak(c->st->pool, fo->spa);
	else
		stack_palloc_put(c->st->pool, fo->spa, false);
	free(fo);
	c->ctr.folios--;
}

/* ------------------------------------------------------------------ */
/* Prepare (first private fault) and invalidate (punch, release)       */
/* ------------------------------------------------------------------ */

/*
 * Clear @n pages from @spa before their first use (kvm_gmem_prepare_folio
 * clears a folio that is not up to date, so a guest never sees what the
 * page held before).  Untimed; a frame never written reads as zero already.
 */
static void clear_pages(struct stack_gmem_ctx *c, uint64_t spa, unsigned n)
{
	c->ctr.cleared += n;
	for (unsigned p = 0; p < n; p++) {
		void *fr = sim_mem_frame(c->st->mem, spa + (uint64_t)p * SIM_SZ_4K, false);

		if (fr)
			memset(fr, 0, SIM_SZ_4K);
	}
}

/* Every page of the 2M region at @spa is unassigned (sev.c is_pfn_range_shared). */
static bool region_shared(const struct stack_gmem_ctx *c, uint64_t spa)
{
	for (unsigned p = 0; p < PAGES_2M; p++) {
		struct rmp_entry e;

		if (rmp_entry_effective(c->rmp, spa + (uint64_t)p * SIM_SZ_4K, &e) && e.assigned)
			return false;
	}
	return true;
}

/*
 * sev_gmem_prepare for page @p of @fo, mapped at @gpa: nothing for a
 * non-SNP VM or a page already assigned; else rmp_make_private at 2M (the
 * whole folio, when it is 2M, @allow_2m, @gpa's offset in its 2M range is
 * the page's offset in the folio, and the region is all shared: Linux
 * is_large_rmp_possible) or at 4K.  -EINVAL when the RMP refuses.
 */
static int prepare(struct gmem_op *op, struct gmem_folio *fo, unsigned p, uint64_t gpa,
		   bool allow_2m)
{
	struct stack_gmem *f = op->f;
	struct stack_gmem_ctx *c = f->ctx;
	uint64_t spa = fo->spa + (uint64_t)p * SIM_SZ_4K;
	struct rmp_update_in in = { 0 };
	struct rmp_entry e;
	bool big;

	if (c->rmp && f->vm->asid && rmp_entry_effective(c->rmp, spa, &e) && e.assigned) {
		set_pbit(fo, p, true);   /* sev_gmem_prepare: already assigned, nothing to do */
		return 0;
	}
	if (!c->rmp || !f->vm->asid) {
		clear_pages(c, spa, 1);
		set_pbit(fo, p, true);
		return 0;
	}
	big = fo->big && allow_2m && ((gpa / SIM_SZ_4K) % PAGES_2M) == p &&
	      region_shared(c, fo->spa);
	in.assigned = true;
	in.asid = f->vm->asid;
	in.page_2m = big;
	in.gpa = big ? gpa & ~(SIM_SZ_2M - 1) : gpa;
	for (unsigned q = big ? 0 : p; q < (big ? PAGES_2M : p + 1); q++)
		if (!pbit(fo, q))
			clear_pages(c, fo->spa + (uint64_t)q * SIM_SZ_4K, 1);
	if (op_update(op, big ? fo->spa : spa, &in) != RMP_RC_SUCCESS) {
		c->ctr.prepare_fail++;
		return -EINVAL;
	}
	if (big) {
		memset(fo->prepared, 0xff, sizeof(fo->prepared));
		c->ctr.prepare_2m++;
	} else {
		set_pbit(fo, p, true);
		c->ctr.prepare_4k++;
	}
	return 0;
}

/*
 * sev_gmem_invalidate over pages [@p0, @p1) of @fo: each prepared page
 * still assigned goes back to shared (rmp_make_shared): one 2M RMPUPDATE
 * where a 2M entry lies wholly inside the range, else PSMASH first
 * (retried on FAIL_INUSE) and a 4K RMPUPDATE.  A page whose conversion
 * fails stays assigned and keeps its prepared mark; folio_drop leaks it.
 */
static void invalidate(struct gmem_op *op, struct gmem_folio *fo, unsigned p0, unsigned p1)
{
	struct stack_gmem_ctx *c = op->f->ctx;
	const struct rmp_update_in shared = { 0 };
	const struct rmp_update_in shared_2m = { .page_2m = true };

	for (unsigned p = p0; p < p1;) {
		uint64_t spa = fo->spa + (uint64_t)p * SIM_SZ_4K;
		struct rmp_entry e;

		if (!pbit(fo, p)) {
			p++;
			continue;
		}
		if (!c->rmp || !rmp_entry_effective(c->rmp, spa, &e) || !e.assigned) {
			set_pbit(fo, p, false);
			p++;
			continue;
		}
		if (e.page_2m) {
			uint64_t base = spa & ~(SIM_SZ_2M - 1);

			if (spa == base && p1 - p >= PAGES_2M) {
				if (op_update(op, base, &shared_2m) == RMP_RC_SUCCESS) {
					for (unsigned q = p; q < p + PAGES_2M; q++)
						set_pbit(fo, q, false);
					c->ctr.invalidate_2m++;
				}
				p += PAGES_2M;
				continue;
			}
			/*
			 * KVM goes on to the 4K update even if PSMASH failed for
			 * another reason (someone else may have smashed it); the
			 * 4K update then refuses if the entry is still 2M.
			 */
			op_psmash(op, base);
		}
		if (op_update(op, spa, &shared) == RMP_RC_SUCCESS) {
			set_pbit(fo, p, false);
			c->ctr.invalidate_4k++;
		}
		p++;
	}
}

/*
 * Convert and drop the folios of bytes [@start, @end) (4K aligned):
 * invalidate the pages in the range; a folio wholly inside goes back to
 * the allocator, a 2M folio partly inside stays.
 */
static void range_release(struct gmem_op *op, uint64_t start, uint64_t end)
{
	struct stack_gmem *f = op->f;
	size_t i, keep;

	if (f->inval && start < end) {
		struct sim_who w = op_who(op);
		uint64_t cyc = 0;

		f->inval(f->inval_arg, f, &w, start, end, &cyc);
		op_spent(op, cyc, w.mem_cycles);
	}
	/* the folios the range covers wholly go; the array is closed up once */
	i = keep = folio_lower(f, start);
	while (i < f->nfol && f->fol[i]->start < end) {
		struct gmem_folio *fo = f->fol[i++];
		uint64_t a = start > fo->start ? start : fo->start;
		uint64_t b = end < folio_end(fo) ? end : folio_end(fo);

		invalidate(op, fo, (unsigned)((a - fo->start) / SIM_SZ_4K),
			   (unsigned)((b - fo->start) / SIM_SZ_4K));
		if (a == fo->start && b == folio_end(fo))
			folio_drop(f, fo);
		else
			f->fol[keep++] = fo;
	}
	if (keep != i) {
		memmove(&f->fol[keep], &f->fol[i], (f->nfol - i) * sizeof(*f->fol));
		f->nfol -= i - keep;
	}
}

/* ------------------------------------------------------------------ */
/* The file operations                                                 */
/* ------------------------------------------------------------------ */

int stack_gmem_fallocate(struct stack_gmem *f, struct sim_who *who, unsigned mode,
			 uint64_t offset, uint64_t len, uint64_t *cycles)
{
	struct gmem_op op;

	/* kvm_gmem_fallocate, after vfs_fallocate's checks. */
	if (!(mode & STACK_GMEM_FALLOC_KEEP_SIZE) ||
	    (mode & ~(unsigned)(STACK_GMEM_FALLOC_KEEP_SIZE | STACK_GMEM_FALLOC_PUNCH_HOLE)))
		return -EOPNOTSUPP;
	if (len == 0)
		return -EINVAL;
	if (offset > SIM_PA_LIMIT || len > SIM_PA_LIMIT - offset)
		return -EFBIG;
	if ((offset | len) & (SIM_SZ_4K - 1))
		return -EINVAL;
	op_begin(&op, f, who, cycles);
	if (mode & STACK_GMEM_FALLOC_PUNCH_HOLE) {
		/* kvm_gmem_punch_hole: a range past the end just has nothing in it. */
		uint64_t end = offset + len < f->size ? offset + len : f->size;

		if (offset < end)
			range_release(&op, offset, end);
		f->ctx->ctr.punches++;
		return 0;
	}
	/* kvm_gmem_allocate */
	if (offset + len > f->size)
		return -EINVAL;
	for (uint64_t off = offset; off < offset + len;) {
		struct gmem_folio *fo;
		int rc = folio_get(f, off, &fo);

		if (rc)
			return rc;
		off = folio_end(fo);
	}
	return 0;
}

int stack_gmem_get_pfn(struct stack_gmem *f, struct sim_who *who, uint64_t offset,
		       uint64_t gpa, bool allow_2m, uint64_t *spa, uint64_t *cycles)
{
	struct gmem_folio *fo;
	struct gmem_op op;
	unsigned p;
	int rc;

	if (offset >= f->size || (offset | gpa) & (SIM_SZ_4K - 1))
		return -EINVAL;
	rc = folio_get(f, offset, &fo);
	if (rc)
		return rc;
	p = (unsigned)((offset - fo->start) / SIM_SZ_4K);
	if (!pbit(fo, p)) {
		op_begin(&op, f, who, cycles);
		rc = prepare(&op, fo, p, gpa, allow_2m);
		if (rc)
			return rc;
	}
	*spa = fo->spa + (uint64_t)p * SIM_SZ_4K;
	return 0;
}

int stack_gmem_populate(struct stack_gmem *f, struct sim_who *who, uint64_t offset,
			uint64_t gpa, uint64_t npages, stack_gmem_populate_fn fn, void *arg,
			uint64_t *cycles)
{
	struct gmem_op op;

	if (npages == 0 || (offset | gpa) & (SIM_SZ_4K - 1) || offset >= f->size ||
	    npages > (f->size - offset) / SIM_SZ_4K)
		return -EINVAL;
	op_begin(&op, f, who, cycles);
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t off = offset + i * SIM_SZ_4K;
		struct gmem_folio *fo;
		struct sim_who w;
		uint64_t cyc = 0;
		unsigned p;
		int rc = folio_get(f, off, &fo);

		if (rc)
			return rc;
		p = (unsigned)((off - fo->start) / SIM_SZ_4K);
		if (pbit(fo, p))
			return -EEXIST;   /* kvm_gmem_populate: the folio is uptodate already */
		w = op_who(&op);
		rc = fn(arg, &w, gpa + i * SIM_SZ_4K, fo->spa + (uint64_t)p * SIM_SZ_4K, &cyc);
		op_spent(&op, cyc, w.mem_cycles);
		if (rc)
			return rc;
		set_pbit(fo, p, true);
		f->ctx->ctr.populated++;
	}
	return 0;
}

void stack_gmem_release(struct stack_gmem *f, struct sim_who *who, uint64_t *cycles)
{
	struct stack_gmem_ctx *c = f->ctx;
	struct gmem_op op;

	if (f->nbind)
		sim_fatal("gmem: release of a file with %zu binding(s) left", f->nbind);
	op_begin(&op, f, who, cycles);
	range_release(&op, 0, f->size);
	if (f->nfol)
		sim_fatal("gmem: %zu folio(s) left after release", f->nfol);
	if (f->prev)
		f->prev->next = f->next;
	else
		c->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	c->ctr.files--;
	file_free(f);
}

int stack_gmem_page(const struct stack_gmem *f, uint64_t offset, uint64_t *spa, bool *big,
		    bool *prepared)
{
	const struct gmem_folio *fo = folio_find(f, offset);
	unsigned p;

	if (!fo)
		return -ENOENT;
	p = (unsigned)((offset - fo->start) / SIM_SZ_4K);
	*spa = fo->spa + (uint64_t)p * SIM_SZ_4K;
	*big = fo->big;
	*prepared = pbit(fo, p);
	return 0;
}

/* host RMP-fault strategies (host.c): the page went shared behind the file's back */
int stack_gmem_forget(struct stack_gmem *f, uint64_t offset)
{
	struct gmem_folio *fo = folio_find(f, offset);

	if (!fo)
		return -ENOENT;
	set_pbit(fo, (unsigned)((offset - fo->start) / SIM_SZ_4K), false);
	return 0;
}

uint64_t stack_gmem_nr_folios(const struct stack_gmem *f)
{
	return f->nfol;
}
