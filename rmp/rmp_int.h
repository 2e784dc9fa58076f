/*
 * rmp_int.h - internals shared by the files of rmp/.  Never included
 * outside rmp/ (other modules use rmp/rmp.h only).
 */
#ifndef PROTSIM_RMP_INT_H
#define PROTSIM_RMP_INT_H

#include "rmp/rmp.h"

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

/* rmp.c: table geometry and entry access */
bool rmp_addr_of(const struct rmp *r, uint64_t spa, uint64_t *addr);
/* Read/write one entry: timed when @w is non-NULL, else peek/poke. */
void rmp_raw_read(struct rmp *r, struct rmp_who *w, uint64_t addr, struct rmp_raw *e);
void rmp_raw_write(struct rmp *r, struct rmp_who *w, uint64_t addr, const struct rmp_raw *e);
void rmp_raw_write_lo(struct rmp *r, struct rmp_who *w, uint64_t addr, uint64_t lo);
void rmp_raw_write_hi(struct rmp *r, struct rmp_who *w, uint64_t addr, uint64_t hi);
/* Effective entry of @spa (timed when @w is non-NULL). */
void rmp_lookup(struct rmp *r, struct rmp_who *w, uint64_t spa, struct rmp_eff *out);
void rmp_decode(const struct rmp_raw *e, uint64_t gpa, struct rmp_entry *ent);
uint32_t rmp_region_count(const struct rmp_raw *base_entry);

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

/* rmp_lock.c: entry locks and in-use pages */
enum rmp_lock_hit {
	RMP_LOCK_NONE,    /* no conflicting lock */
	RMP_LOCK_SAME,    /* locked on the requested granularity */
	RMP_LOCK_OTHER,   /* locked on the other granularity of the 2M region */
};
/* Another agent's lock that conflicts with an instruction on @spa now. */
enum rmp_lock_hit rmp_lock_conflict(const struct rmp *r, const struct rmp_who *w,
				    uint64_t spa, bool is_2m);
/* Another agent holds a lock covering @spa's page (or, @region, any page of its 2M region). */
bool rmp_lock_hit(const struct rmp *r, const struct rmp_who *w, uint64_t spa, bool region);
void rmp_lock_add(struct rmp *r, const struct rmp_who *w, uint64_t spa, bool is_2m,
		  uint64_t hold);
/* Agent using page @spa (or, @region, any page of its 2M region) in use, or -1. */
int rmp_inuse_find(const struct rmp *r, uint64_t spa, bool region);

#endif /* PROTSIM_RMP_INT_H */
