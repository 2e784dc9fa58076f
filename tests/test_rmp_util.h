/*
 * test_rmp_util.h - helpers shared by the tests/test_rmp*.c files: a
 * standalone RMP on a 64 MiB memory, entry specs for table-driven tests,
 * and full-entry assertions.
 */
#ifndef PROTSIM_TEST_RMP_UTIL_H
#define PROTSIM_TEST_RMP_UTIL_H

#include <criterion/criterion.h>
#include <string.h>

#include "rmp/rmp.h"

#define MEM_LAT   100u            /* flat memory latency of the test memory */
#define MEM_SIZE  (64ull << 20)
#define B2M       0x200000ull     /* a 2M region used throughout: 0x200000..0x3fffff */
#define P4K       0x201000ull     /* a non-base page of it */
#define G2M       0x40000000ull   /* guest GPA of the 2M region */
#define GP4K      0x40001000ull   /* guest GPA of P4K when mapped 1:1 with the region */
#define NOCOVER   (MEM_SIZE)      /* first SPA not covered (contiguous, coverage = mem) */

/* An entry as a test table writes it: zero = hypervisor-owned. */
struct tent {
	bool a;          /* assigned */
	bool p2m;        /* page size 2M */
	bool imm;        /* immutable */
	bool vmsa;
	bool val;        /* validated */
	uint32_t asid;
	uint64_t gpa;
	uint8_t p1, p2, p3;   /* VMPL1..3 permissions */
};

#define HV        ((struct tent){ 0 })
#define GUEST(asid_, gpa_)      ((struct tent){ .a = 1, .asid = (asid_), .gpa = (gpa_) })
#define GUESTV(asid_, gpa_)     ((struct tent){ .a = 1, .val = 1, .asid = (asid_), .gpa = (gpa_) })
#define GUEST2M(asid_, gpa_)    ((struct tent){ .a = 1, .p2m = 1, .asid = (asid_), .gpa = (gpa_) })
#define GUEST2MV(asid_, gpa_)   ((struct tent){ .a = 1, .p2m = 1, .val = 1, .asid = (asid_), .gpa = (gpa_) })
#define FIRMWARE  ((struct tent){ .a = 1, .imm = 1 })
/* The raw entry of a page inside an assigned 2M entry: the RMP_LO_SUB2M mark. */
#define SUB2M     ((struct tent){ .a = 1, .p2m = 1 })

/*
 * The stored (raw) entry expected at a non-base page whose own entry is
 * @p when the region's 2M-base entry is @b: the mark if @b is an assigned
 * 2M entry, else @p.
 */
static inline struct tent raw_sub(struct tent b, struct tent p)
{
	return b.a && b.p2m ? SUB2M : p;
}

static inline struct rmp_entry tent_entry(const struct tent *t)
{
	struct rmp_entry e;

	memset(&e, 0, sizeof(e));
	e.assigned = t->a;
	e.page_2m = t->p2m;
	e.immutable = t->imm;
	e.vmsa = t->vmsa;
	e.validated = t->val;
	e.asid = t->asid;
	e.gpa = t->gpa;
	e.perms[0] = RMP_PERM_ALL;
	e.perms[1] = t->p1;
	e.perms[2] = t->p2;
	e.perms[3] = t->p3;
	return e;
}

static inline struct rmp *rmp_test_new(struct sim_mem **mp, const struct rmp_config *cfg_in)
{
	struct rmp_config cfg;
	struct sim_err err = { "" };
	struct rmp *r;

	if (cfg_in)
		cfg = *cfg_in;
	else
		rmp_config_default(&cfg);
	*mp = sim_mem_new(MEM_SIZE, MEM_LAT);
	r = rmp_new(*mp, &cfg, &err);
	cr_assert_not_null(r, "rmp_new: %s", err.msg);
	return r;
}

static inline void rmp_test_free(struct rmp *r, struct sim_mem *m)
{
	rmp_free(r);
	sim_mem_free(m);
}

static inline void put(struct rmp *r, uint64_t spa, struct tent t)
{
	struct rmp_entry e = tent_entry(&t);

	cr_assert_eq(rmp_fw_write(r, spa, &e), RMP_RC_SUCCESS, "fw_write spa=0x%llx",
		     (unsigned long long)spa);
}

/*
 * Set up a region: the non-base page @p first (firmware cannot write
 * inside an assigned 2M entry), then the 2M base @b, which marks the other
 * pages when it is an assigned 2M entry.
 */
static inline void put_region(struct rmp *r, struct tent b, struct tent p)
{
	put(r, P4K, p);
	put(r, B2M, b);
}

/* Assert the stored entry of @spa equals @t in every architectural field. */
static inline void assert_stored(struct rmp *r, uint64_t spa, struct tent t, const char *what)
{
	struct rmp_entry got, want = tent_entry(&t);

	cr_assert(rmp_entry_get(r, spa, &got), "%s: spa=0x%llx not covered", what,
		  (unsigned long long)spa);
	cr_assert(got.assigned == want.assigned && got.page_2m == want.page_2m &&
		  got.immutable == want.immutable && got.vmsa == want.vmsa &&
		  got.validated == want.validated && got.asid == want.asid && got.gpa == want.gpa &&
		  got.perms[1] == want.perms[1] && got.perms[2] == want.perms[2] &&
		  got.perms[3] == want.perms[3] && got.perms[0] == RMP_PERM_ALL,
		  "%s: spa=0x%llx: got a=%d 2m=%d imm=%d vmsa=%d val=%d asid=%u gpa=0x%llx "
		  "p=%x/%x/%x, want a=%d 2m=%d imm=%d vmsa=%d val=%d asid=%u gpa=0x%llx p=%x/%x/%x",
		  what, (unsigned long long)spa, got.assigned, got.page_2m, got.immutable, got.vmsa,
		  got.validated, got.asid, (unsigned long long)got.gpa, got.perms[1], got.perms[2],
		  got.perms[3], want.assigned, want.page_2m, want.immutable, want.vmsa,
		  want.validated, want.asid, (unsigned long long)want.gpa, want.perms[1],
		  want.perms[2], want.perms[3]);
}

static inline struct sim_who who_at(uint64_t now, int agent)
{
	struct sim_who w = { now, agent, 0 };

	return w;
}

#endif
