/*
 * rmp_int.h - internals shared by the files of rmp/.  Never included
 * outside rmp/ (other modules use rmp/rmp.h only).
 */
#ifndef PROTSIM_RMP_INT_H
#define PROTSIM_RMP_INT_H

#include "rmp/rmp.h"

#include <string.h>

#define RMP_RCM(rc) (1u << RMP_RC_##rc)

#define RMP_PAGE(spa)    ((spa) >> SIM_PAGE_SHIFT)
#define RMP_REGION(spa)  ((spa) & ~(SIM_SZ_2M - 1))
#define RMP_HI_PERMS_MASK 0xffffffull   /* VMPL1..3 masks */

/*
 * How long a lock record is kept after it expires, in cycles: an agent
 * whose clock lags another's by more than this no longer sees the other's
 * old locks.  Far more than any scheduling quantum.
 */
#define RMP_LOCK_KEEP (1ull << 16)

/*
 * Lock records are counted per bucket of 2M regions (region number modulo
 * this): a check whose region's bucket is empty cannot conflict with any
 * record, so it needs no scan even while other regions are locked.
 */
#define RMP_LOCK_BUCKETS 256u

/* Out-of-line, rarely taken paths (faults): keep them off the hot path. */
#define RMP_COLD __attribute__((cold, noinline))
/*
 * The lookup helpers below: inlined even where the compiler would rather
 * keep one out-of-line copy per file (a call, spills and reloads per check).
 */
#define RMP_HOT static inline __attribute__((always_inline))

/* One held entry lock: [start, until) on a 4K page or a whole 2M region. */
struct rmp_lock {
	uint64_t page;     /* 4K page number (2M lock: the region's first page) */
	uint64_t start;    /* cycle the instruction started */
	uint64_t until;    /* first cycle after it (start + its duration) */
	int agent;         /* holder */
	bool is_2m;        /* granularity */
};

/* Pages an agent's running guest holds in use (VMRUN .. #VMEXIT). */
struct rmp_running {
	bool active;       /* between VMRUN and #VMEXIT */
	uint64_t vmcb;     /* page-aligned SPAs */
	uint64_t vmsa;
	uint64_t avic;     /* RMP_NO_ADDR: none */
};

struct rmp {
	struct sim_mem *mem;
	struct rmp_config cfg;
	uint64_t base;          /* RMP_BASE */
	uint64_t end;           /* last byte of the table (incl. segment tables) */
	uint64_t reserved_end;  /* last byte reserved for it (1 MiB aligned + 1 - 1) */
	/* contiguous */
	uint64_t cover;         /* bytes of SPA covered from 0 */
	/* segmented: the RST as the hardware caches it */
	unsigned nseg;                         /* segments spanning memory */
	uint64_t seg_rmp[RMP_RST_ENTRIES];     /* SPA of the segment's RMP */
	uint64_t seg_cover[RMP_RST_ENTRIES];   /* bytes covered in the segment (0: none) */
	/* entry locks */
	struct rmp_lock *locks;
	size_t nlocks, caplocks;
	uint64_t lock_max_until;   /* max .until of any record: fast path */
	uint32_t lock_bucket[RMP_LOCK_BUCKETS];  /* records per region bucket */
	/* in-use pages */
	struct rmp_running *run;   /* indexed by agent id */
	int caprun;
	int nrunning;              /* agents with .active */
	uint8_t *scratch;          /* 8 KiB: PSMASH's 512 entries */
	struct rmp_counters ctr;
	struct {
		rmp_change_fn fn;
		void *arg;
	} hook[RMP_MAX_HOOKS];     /* rmp_add_change_hook() */
	unsigned nhooks;
};

/* A decoded raw entry plus where it is. */
struct rmp_raw {
	uint64_t lo, hi;
};

/* The effective entry of one 4K page (§1.7). */
struct rmp_eff {
	bool covered;
	bool via_2m;        /* governed by the 2M-base entry */
	uint64_t addr;      /* address of the governing entry */
	struct rmp_raw e;   /* the governing entry */
	uint64_t gpa;       /* effective GPA of this 4K page */
	bool have_base;     /* the 2M-base entry was read too: */
	struct rmp_raw base;  /* it */
};

/* rmp.c: entry writes, decoding */
/* Write one entry (or one quadword): timed when @w is non-NULL, else poke. */
void rmp_raw_write(struct rmp *r, struct sim_who *w, uint64_t addr, const struct rmp_raw *e);
void rmp_raw_write_lo(struct rmp *r, struct sim_who *w, uint64_t addr, uint64_t lo);
void rmp_raw_write_hi(struct rmp *r, struct sim_who *w, uint64_t addr, uint64_t hi);
void rmp_decode(const struct rmp_raw *e, uint64_t gpa, struct rmp_entry *ent);
uint32_t rmp_region_count(const struct rmp_raw *base_entry);

/*
 * The hot path of every access check and instruction: enabled test,
 * entry address, timed entry read and effective-entry lookup.  They are
 * inline here (not in rmp.c) so that the checks in rmp_check.c compile to
 * straight-line code around the one sim_mem_read() per entry that the
 * model charges; a call per helper cost as much as the helpers' work.
 */

/*
 * Order an instruction, VMRUN or #VMEXIT among the agents before it reads
 * or changes entries, locks or in-use marks: sim_sync_id() on
 * who->agent, so it takes effect in global (cycle, agent id) order at any
 * quantum (docs/architecture.md, "Ordering at any quantum").  NULL-safe.
 * The access checks (rmp_check_*) do not call it: a check is one step of
 * an access whose agent is already ordered (a vCPU batch, a DMA request,
 * a table walk, a script line), and the check path stays free.
 */
static inline void rmp_sync(const struct rmp *r, const struct sim_who *w)
{
	if (r)
		sim_sync_id(r->mem, w->agent);
}

/* rmp_enabled() for internal callers (NULL-safe, like it). */
static inline bool rmp_active(const struct rmp *r)
{
	return r && r->cfg.mode != RMP_MODE_OFF;
}

/* Address of @spa's 4K entry.  Return: false (and *@addr = 0) if @spa is not covered. */
RMP_HOT bool rmp_addr_of(const struct rmp *r, uint64_t spa, uint64_t *addr)
{
	uint64_t seg, off;

	*addr = 0;
	switch (r->cfg.mode) {
	case RMP_MODE_CONTIGUOUS:
		if (spa >= r->cover)
			return false;
		*addr = r->base + RMP_BOOKKEEPING + RMP_PAGE(spa) * RMP_ENTRY_SIZE;
		return true;
	case RMP_MODE_SEGMENTED:
		seg = spa >> r->cfg.segment_shift;
		if (seg >= RMP_RST_ENTRIES)
			return false;
		off = spa & ((1ull << r->cfg.segment_shift) - 1);
		if (off >= r->seg_cover[seg])
			return false;
		*addr = r->seg_rmp[seg] + RMP_PAGE(off) * RMP_ENTRY_SIZE;
		return true;
	case RMP_MODE_OFF:
		break;
	}
	return false;
}

/* The little-endian quadword at @p (entries are little-endian in memory). */
static inline uint64_t rmp_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
#else
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
#endif
}

/*
 * Segmented RMP: the lookup of @spa reads its segment's RST entry (8 bytes
 * at RMP_BASE + 16 KiB + 8 * index) through memory, timed, before any RMP
 * entry (APM 15.36.22 'Segmented RMP'; Linux `get_raw_rmpentry()` indexes
 * the RST the same way).  The model caches no RST entry (the CPUID
 * Fn8000_0025 EBX count of cached entries is not modelled), so every
 * timed lookup pays this read: an upper bound.  The address computation
 * itself uses the RST as written at SNP_INIT (r->seg_rmp / seg_cover): the
 * table's pages are firmware pages that nothing else writes.  No read for
 * an index beyond the RST (not covered) or with @w NULL (untimed).
 */
RMP_HOT void rmp_rst_read(struct rmp *r, struct sim_who *w, uint64_t spa)
{
	uint64_t seg, v;

	if (!w || r->cfg.mode != RMP_MODE_SEGMENTED)
		return;
	seg = spa >> r->cfg.segment_shift;
	if (seg >= RMP_RST_ENTRIES)
		return;
	w->mem_cycles += sim_mem_read64(r->mem, w->agent, SIM_SRC_RMP,
					r->base + RMP_BOOKKEEPING + 8ull * seg, &v);
	r->ctr.rst_reads++;
}

/* Read one entry: timed (one sim_mem_read) when @w is non-NULL, else peek. */
RMP_HOT void rmp_raw_read(struct rmp *r, struct sim_who *w, uint64_t addr, struct rmp_raw *e)
{
	uint8_t b[RMP_ENTRY_SIZE];

	if (w) {
		w->mem_cycles += sim_mem_read(r->mem, w->agent, SIM_SRC_RMP, addr, b, sizeof(b));
		r->ctr.entry_reads++;
	} else {
		sim_mem_peek(r->mem, addr, b, sizeof(b));
	}
	e->lo = rmp_le64(b);
	e->hi = rmp_le64(b + 8);
}

static inline bool rmp_raw_assigned(const struct rmp_raw *e) { return e->lo & RMP_LO_ASSIGNED; }
static inline bool rmp_raw_2m(const struct rmp_raw *e) { return e->lo & RMP_LO_PAGESIZE; }
static inline bool rmp_raw_immutable(const struct rmp_raw *e) { return e->lo & RMP_LO_IMMUTABLE; }
static inline bool rmp_raw_validated(const struct rmp_raw *e) { return e->lo & RMP_LO_VALIDATED; }
static inline bool rmp_raw_vmsa(const struct rmp_raw *e) { return e->lo & RMP_LO_VMSA; }
static inline uint32_t rmp_raw_asid(const struct rmp_raw *e)
{
	return (uint32_t)((e->lo & RMP_LO_ASID_MASK) >> RMP_LO_ASID_SHIFT);
}
static inline uint64_t rmp_raw_gpa(const struct rmp_raw *e) { return e->lo & RMP_LO_GPA_MASK; }
static inline uint8_t rmp_raw_perms(const struct rmp_raw *e, unsigned vmpl)
{
	if (vmpl == 0)
		return RMP_PERM_ALL;
	return (uint8_t)(e->hi >> RMP_HI_PERM_SHIFT(vmpl));
}

/*
 * The effective entry of @spa (§1.7), timed when @w is non-NULL: the
 * 2M-base entry when it is an assigned 2M entry, else the page's own
 * entry.  The page's own entry is read first; the base entry only when
 * that one is not an assigned 4K entry: it is the mark of a page inside
 * an assigned 2M entry (then the base governs), or unassigned.  With the
 * marks an unassigned own entry already means hypervisor-owned; the model
 * still reads the base entry then (the hardware's read pattern is not
 * documented, and this keeps the cost of a check independent of the
 * marks: two reads for every page that is not a 2M base and not an
 * assigned 4K page, as before the marks were modelled).
 */
RMP_HOT void rmp_lookup(struct rmp *r, struct sim_who *w, uint64_t spa, struct rmp_eff *out)
{
	uint64_t a4, off = spa & (SIM_SZ_2M - 1) & ~(SIM_SZ_4K - 1);

	out->via_2m = false;
	out->have_base = false;
	if (__builtin_expect(r->cfg.mode == RMP_MODE_SEGMENTED, 0))
		rmp_rst_read(r, w, spa);
	if (!rmp_addr_of(r, spa, &a4)) {
		out->covered = false;
		out->addr = 0;
		out->e.lo = out->e.hi = 0;
		out->gpa = 0;
		return;
	}
	out->covered = true;
	out->addr = a4;
	rmp_raw_read(r, w, a4, &out->e);
	if (off == 0) {
		out->via_2m = rmp_raw_assigned(&out->e) && rmp_raw_2m(&out->e);
		out->have_base = true;
		out->base = out->e;
	} else if ((out->e.lo & RMP_LO_SUB2M) != RMP_LO_ASSIGNED) {
		/*
		 * Not an assigned 4K entry: unassigned, or the mark of a page of an
		 * assigned 2M entry (assigned and page-size set on a non-base entry,
		 * which a real 4K entry never has).
		 */
		uint64_t a2 = a4 - RMP_PAGE(off) * RMP_ENTRY_SIZE;

		rmp_raw_read(r, w, a2, &out->base);
		out->have_base = true;
		if (rmp_raw_assigned(&out->base) && rmp_raw_2m(&out->base)) {
			out->e = out->base;
			out->addr = a2;
			out->via_2m = true;
			out->gpa = rmp_raw_gpa(&out->base) + off;
			return;
		}
	}
	out->gpa = rmp_raw_gpa(&out->e);
}

/* rmp_lock.c: entry locks and in-use pages */
enum rmp_lock_hit {
	RMP_LOCK_NONE,    /* no conflicting lock */
	RMP_LOCK_SAME,    /* locked on the requested granularity */
	RMP_LOCK_OTHER,   /* locked on the other granularity of the 2M region */
};

/* The bucket of lock records for the 2M region of 4K page number @page. */
static inline unsigned rmp_lock_bucket(uint64_t page)
{
	return (unsigned)(page / (SIM_SZ_2M / SIM_SZ_4K)) & (RMP_LOCK_BUCKETS - 1);
}

/*
 * No record can conflict with an access by @w to @spa's 2M region: every
 * record has expired (the common case), or none is in the region's bucket.
 * A lock conflicts only within one 2M region, so this is exact as a filter.
 */
static inline bool rmp_lock_none(const struct rmp *r, const struct sim_who *w, uint64_t spa)
{
	return w->now >= r->lock_max_until || !r->lock_bucket[rmp_lock_bucket(RMP_PAGE(spa))];
}

/* Another agent's lock that conflicts with an instruction on @spa now. */
enum rmp_lock_hit rmp_lock_conflict(const struct rmp *r, const struct sim_who *w,
				    uint64_t spa, bool is_2m);

/* Another agent holds a lock covering @spa's page (or, @region, any page of its 2M region). */
static inline bool rmp_lock_hit(const struct rmp *r, const struct sim_who *w, uint64_t spa,
				bool region)
{
	if (rmp_lock_none(r, w, spa))
		return false;
	return rmp_lock_conflict(r, w, spa, region) != RMP_LOCK_NONE;
}

void rmp_lock_add(struct rmp *r, const struct sim_who *w, uint64_t spa, bool is_2m,
		  uint64_t hold);
/*
 * The timeline of a lock conflict (--timeline only; cold): @what by @w on
 * @spa was refused (or faulted) because another agent holds the entry's
 * lock: an instant on @w's track and a flow arrow from the holder's
 * instruction (the lock's start, on its track) to it.
 */
void rmp_lock_timeline(const struct rmp *r, const struct sim_who *w, uint64_t spa, bool region,
		       const char *what);
/* Agent using page @spa (or, @region, any page of its 2M region) in use, or -1. */
int rmp_inuse_find(const struct rmp *r, uint64_t spa, bool region);

#endif /* PROTSIM_RMP_INT_H */
