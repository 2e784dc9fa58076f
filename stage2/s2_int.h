/*
 * s2_int.h - internals shared by the files of stage2/.  Never included
 * outside stage2/ (other modules use stage2/s2.h and stage2/tlb.h).
 */
#ifndef PROTSIM_S2_INT_H
#define PROTSIM_S2_INT_H

#include "stage2/s2.h"
#include "stage2/tlb.h"

/* A page table in simulated memory. */
struct s2_pgt {
	const struct s2_fmt_ops *fmt;   /* entry layout */
	unsigned levels;                /* table levels (root size class = levels - 1) */
	struct sim_mem *mem;            /* where the tables live */
	uint64_t root;                  /* root table address (table address space) */
	const struct s2_mm_ops *mm;     /* allocator and address hooks of the owner */
	void *mm_arg;                   /* their argument */
	uint64_t pages;                 /* table pages in use, root included */
	uint64_t bbm;                   /* break-before-make sequences */
	uint64_t freed;                 /* table pages freed by unmap */
	bool attached;                  /* s2_pgt_attach: the pages are not the object's */
};

/* Size class of the root table's entries. */
static inline unsigned s2_root_sz(const struct s2_pgt *p) { return p->levels - 1; }

/* Index of @ia's entry in a table whose entries have size class @sz. */
static inline unsigned s2_index(uint64_t ia, unsigned sz)
{
	return (unsigned)((ia >> (12 + 9 * sz)) & 511);
}

/* Format tables (s2_fmt_*.c). */
extern const struct s2_fmt_ops s2_fmt_arm64;
extern const struct s2_fmt_ops s2_fmt_npt;
extern const struct s2_fmt_ops s2_fmt_ept;
extern const struct s2_fmt_ops s1_fmt_x86_64;
extern const struct s2_fmt_ops s1_fmt_sv39;
extern const struct s2_fmt_ops s1_fmt_sv48;
extern const struct s2_fmt_ops s2_fmt_amdv1;

/* Shared x86-style helpers (s2_fmt_x86.c): NPT and x86-64 stage 1. */
int s2_x86_arch_level(unsigned sz, unsigned levels);

/*
 * Input-address check for a format: strip sign extension of canonical
 * VAs.  Return false if @ia is outside the table's range (non-canonical
 * or too wide); *@idx_ia is the address to index with.
 */
static inline bool s2_ia_ok(const struct s2_pgt *p, uint64_t ia, uint64_t *idx_ia)
{
	unsigned bits = 12 + 9 * p->levels;
	uint64_t limit = 1ull << bits;

	if (p->fmt->canonical_sext) {
		/* Bits 63..bits-1 must all equal bit bits-1. */
		uint64_t top = ia >> (bits - 1);
		if (top != 0 && top != (UINT64_MAX >> (bits - 1)))
			return false;
		*idx_ia = ia & (limit - 1);
		return true;
	}
	if (ia >= limit)
		return false;
	*idx_ia = ia;
	return true;
}

/*
 * Software access to table memory (s2_walk.c): timed data accesses by
 * who->agent (@who never NULL), cycles added to who->mem_cycles.
 */
int s2_sw_table_pa(struct s2_pgt *p, uint64_t table, uint64_t *pa);
uint64_t s2_sw_read(struct s2_pgt *p, struct sim_who *who, uint64_t pa);
void s2_sw_write(struct s2_pgt *p, struct sim_who *who, uint64_t pa, uint64_t val);
/* Allocate and zero one table page. Return S2_OK, S2_ERR_NOMEM, S2_ERR_UNMAPPED. */
int s2_sw_alloc_table(struct s2_pgt *p, struct sim_who *who, uint64_t *table);

/*
 * The format's permission rule, shared by every hardware walk
 * (s2_xlate.c): stage 1 first requires a user page for user accesses
 * (and, with user_excl, a supervisor page for supervisor accesses).
 * Fetches need XU for user accesses, XS otherwise.
 */
static inline bool s2_perm_ok(const struct s2_fmt_ops *f, uint8_t perms, bool entry_user,
				     enum s2_access acc, bool user)
{
	if (f->stage == 1) {
		if (user && !entry_user)
			return false;
		if (!user && entry_user && f->user_excl)
			return false;
	}
	switch (acc) {
	case S2_ACC_READ:  return (perms & S2_PERM_R) != 0;
	case S2_ACC_WRITE: return (perms & S2_PERM_W) != 0;
	case S2_ACC_FETCH: return (perms & (user ? S2_PERM_XU : S2_PERM_XS)) != 0;
	}
	return false;
}

/* s2_xlate.c and s2_mmu.c: the MMU's caches and their entries. */
/* Payload of a TLB / nested-TLB entry. */
struct s2_tlbe {
	uint64_t base;        /* output page base (SPA) */
	uint64_t ipa;         /* nested TLB: guest-physical page base */
	uint8_t sz;           /* size class of the entry */
	uint8_t s2_sz;        /* nested TLB: size class of the stage-2 leaf (for the check) */
	uint8_t perms;        /* stage-2 permissions (AND over the walk) */
	uint8_t s1_perms;     /* nested TLB: stage-1 permissions */
	bool s1_user;         /* nested TLB: stage-1 user flag */
	bool c;               /* nested TLB: C-bit of the stage-1 leaf */
	bool dirty;           /* writes allowed without an A/D update */
	uint8_t chk_key;      /* cached check result is for (c | vmpl << 1) */
	uint8_t chk_ok;       /* bit per access kind (bit 3: table read, bit 4: table A/D write)
				 that passed */
};

/* Payload of a walk-cache entry. */
struct s2_pwce {
	uint64_t next;        /* next table address */
	uint8_t perms;        /* permissions ANDed from the root through this entry */
	bool user;            /* user flag ANDed likewise */
};

struct s2_mmu {
	struct s2_mmu_cfg cfg;                 /* geometry */
	const struct s2_timing *t;             /* profile values */
	struct s2_stats *st;                   /* counters (maybe shared) */
	struct s2_stats own;                   /* used when none was given */
	struct tlb *tlb[S2_TLB_MAX_LEVELS];
	struct tlb *ntlb;
	struct tlb *pwc[2];                    /* [0] stage 1, [1] stage 2 */
	bool has_tlb[S2_TLB_MAX_LEVELS];       /* level l has ways */
	bool any_tlb;                          /* some level has ways */
	bool has_ntlb;                         /* nested TLB has ways */
	bool has_pwc[2];                       /* walk caches have ways */
	uint8_t szmask[S2_TLB_MAX_LEVELS];     /* leaf sizes inserted in tlb[l] since it was empty */
	uint8_t nszmask;                       /* same for the nested TLB */
};


#endif /* PROTSIM_S2_INT_H */
