/*
 * test_s2.c - stage-2 / stage-1 formats and the generic walker:
 * exact raw descriptors for every format, permission and size; decode
 * round trips; walks and every fault type and level with the
 * architecture's own codes; block split on partial unmap/protect with
 * break-before-make on arm64; management errors; owner annotation.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "stage2/s2.h"

/* ------------------------------------------------------------------ */
/* A bump allocator over a standalone memory                          */
/* ------------------------------------------------------------------ */

struct bump {
	uint64_t next, end;    /* table pages come from [next, end) */
	unsigned allocs, frees;
	unsigned tlbis;        /* break-before-make invalidations seen */
	uint64_t tlbi_ia, tlbi_bytes;
};

static uint64_t bump_alloc(void *arg, struct sim_who *who)
{
	struct bump *b = arg;

	(void)who;
	if (b->next >= b->end)
		return S2_NO_PAGE;
	b->allocs++;
	b->next += 0x1000;
	return b->next - 0x1000;
}

static void bump_free(void *arg, uint64_t pa)
{
	(void)pa;
	((struct bump *)arg)->frees++;
}

static void bump_tlbi(void *arg, uint64_t ia, uint64_t bytes)
{
	struct bump *b = arg;

	b->tlbis++;
	b->tlbi_ia = ia;
	b->tlbi_bytes = bytes;
}

static const struct s2_mm_ops bump_mm = {
	.alloc_page = bump_alloc, .free_page = bump_free, .tlbi = bump_tlbi,
};

#define POOL 0x40000000ull   /* table pages at 1 GiB */

struct env {
	struct sim_mem *mem;
	struct bump b;
	struct s2_pgt *p;
};

static void env_init(struct env *e, enum s2_fmt_id id, unsigned levels)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->mem = sim_mem_new(1ull << 40, 10);
	e->b.next = POOL;
	e->b.end = POOL + 0x1000000;
	e->p = s2_pgt_new(s2_fmt(id), levels, e->mem, S2_NO_PAGE, &bump_mm, &e->b, NULL, &rc);
	cr_assert_not_null(e->p, "pgt_new: %s", s2_rc_name(rc));
	cr_assert_eq(s2_pgt_root(e->p), POOL);
}

static void env_fini(struct env *e)
{
	s2_pgt_free(e->p);
	cr_expect_eq(e->b.frees, e->b.allocs, "every table page given back");
	sim_mem_free(e->mem);
}

static struct s2_req RQ(enum s2_access acc, bool user)
{
	return (struct s2_req){ .acc = acc, .user = user, .who = NULL, .src = SIM_SRC_PTW };
}

/* ------------------------------------------------------------------ */
/* Exact descriptors                                                   */
/* ------------------------------------------------------------------ */

struct desc_case {
	char name[40];         /* case name (arrays, not pointers: Criterion copies params across processes) */
	enum s2_fmt_id fmt;
	unsigned levels;
	uint64_t ia, pa, size;
	char perms[8];
	bool user, c, ad_clear, device;
	uint64_t raw;          /* expected leaf descriptor */
	int level;             /* expected architecture level of the leaf */
	char back[8];          /* perms decoded back (as printed) */
};

static struct desc_case desc_cases[] = {
	/* arm64: valid|page, MemAttr 0b1111, S2AP, SH=0b11, AF, XN[54:53]. */
	{ "a64-4k-r", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "r", 0, 0, 0, 0,
	  0x004000001234577Full, 3, "r" },
	{ "a64-4k-rw", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 0,
	  0x00400000123457FFull, 3, "rw" },
	{ "a64-4k-rwx", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rwx", 0, 0, 0, 0,
	  0x00000000123457FFull, 3, "rwx" },
	{ "a64-4k-w", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "w", 0, 0, 0, 0,
	  0x00400000123457BFull, 3, "w" },
	{ "a64-4k-none", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "none", 0, 0, 0, 0,
	  0x004000001234573Full, 3, "none" },
	{ "a64-4k-ru-xnx01", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "ru", 0, 0, 0, 0,
	  0x002000001234577Full, 3, "ru" },
	{ "a64-4k-rs-xnx11", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rs", 0, 0, 0, 0,
	  0x006000001234577Full, 3, "rs" },
	{ "a64-4k-noaf", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 1, 0,
	  0x00400000123453FFull, 3, "rw" },
	{ "a64-4k-device", S2_FMT_ARM64, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 1,
	  0x00400000123457C7ull, 3, "rw" },
	{ "a64-2m-rwx", S2_FMT_ARM64, 4, 0x200000, 0x40200000, SIM_SZ_2M, "rwx", 0, 0, 0, 0,
	  0x00000000402007FDull, 2, "rwx" },
	{ "a64-1g-r", S2_FMT_ARM64, 4, 0x40000000, 0x80000000, SIM_SZ_1G, "r", 0, 0, 0, 0,
	  0x004000008000077Dull, 1, "r" },
	{ "a64-l3-2m", S2_FMT_ARM64, 3, 0x200000, 0x40200000, SIM_SZ_2M, "rw", 0, 0, 0, 0,
	  0x00400000402007FDull, 2, "rw" },
	{ "a64-l3-1g-root", S2_FMT_ARM64, 3, 0x40000000, 0x80000000, SIM_SZ_1G, "rw", 0, 0, 0, 0,
	  0x00400000800007FDull, 1, "rw" },
	/* NPT: P, RW, US=1, A, D (writable), PS for blocks, NX. */
	{ "npt-4k-r", S2_FMT_NPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "r", 0, 0, 0, 0,
	  0x8000000012345025ull, 1, "r" },
	{ "npt-4k-rw", S2_FMT_NPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 0,
	  0x8000000012345067ull, 1, "rw" },
	{ "npt-4k-rwx", S2_FMT_NPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rwx", 0, 0, 0, 0,
	  0x0000000012345067ull, 1, "rwx" },
	{ "npt-4k-rx", S2_FMT_NPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rx", 0, 0, 0, 0,
	  0x0000000012345025ull, 1, "rx" },
	{ "npt-4k-device", S2_FMT_NPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 1,
	  0x800000001234507Full, 1, "rw" },
	{ "npt-2m-rwx", S2_FMT_NPT, 4, 0x200000, 0x40200000, SIM_SZ_2M, "rwx", 0, 0, 0, 0,
	  0x00000000402000E7ull, 2, "rwx" },
	{ "npt-1g-rw-noad", S2_FMT_NPT, 4, 0x40000000, 0x80000000, SIM_SZ_1G, "rw", 0, 0, 1, 0,
	  0x8000000080000087ull, 3, "rw" },
	{ "npt-4k-high-pa", S2_FMT_NPT, 4, 0x1000, 0xFFFFFFFFFF000ull, SIM_SZ_4K, "rw", 0, 0, 0, 0,
	  0x800FFFFFFFFFF067ull, 1, "rw" },
	/* EPT: R, W, X(sup), memtype WB=6 in [5:3], PS, A, D, user-X (bit 10). */
	{ "ept-4k-r", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "r", 0, 0, 0, 0,
	  0x0000000012345131ull, 1, "r" },
	{ "ept-4k-rw", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 0,
	  0x0000000012345333ull, 1, "rw" },
	{ "ept-4k-rwx", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rwx", 0, 0, 0, 0,
	  0x0000000012345737ull, 1, "rwx" },
	{ "ept-4k-rs", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rs", 0, 0, 0, 0,
	  0x0000000012345135ull, 1, "rs" },
	{ "ept-4k-ru", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "ru", 0, 0, 0, 0,
	  0x0000000012345531ull, 1, "ru" },
	{ "ept-4k-xonly", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "x", 0, 0, 0, 0,
	  0x0000000012345534ull, 1, "x" },
	{ "ept-4k-uc", S2_FMT_EPT, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 1,
	  0x0000000012345303ull, 1, "rw" },
	{ "ept-2m-rw", S2_FMT_EPT, 4, 0x200000, 0x40200000, SIM_SZ_2M, "rw", 0, 0, 0, 0,
	  0x00000000402003B3ull, 2, "rw" },
	{ "ept-1g-rx-noad", S2_FMT_EPT, 4, 0x40000000, 0x80000000, SIM_SZ_1G, "rx", 0, 0, 1, 0,
	  0x00000000800004B5ull, 3, "rx" },
	/* x86-64 stage 1: P, RW, US, A, D, PS, NX, C-bit 51. */
	{ "x86-4k-r-sup", S1_FMT_X86_64, 4, 0x7000, 0x12345000, SIM_SZ_4K, "r", 0, 0, 0, 0,
	  0x8000000012345021ull, 1, "r" },
	{ "x86-4k-rw-user", S1_FMT_X86_64, 4, 0x7000, 0x12345000, SIM_SZ_4K, "rw", 1, 0, 0, 0,
	  0x8000000012345067ull, 1, "rw" },
	{ "x86-4k-rwx-c", S1_FMT_X86_64, 4, 0x7000, 0x12345000, SIM_SZ_4K, "rwx", 0, 1, 0, 0,
	  0x0008000012345063ull, 1, "rwx" },
	{ "x86-2m-rx-user", S1_FMT_X86_64, 4, 0xFFFF800000200000ull, 0x40200000, SIM_SZ_2M, "rx",
	  1, 0, 0, 0, 0x00000000402000A5ull, 2, "rx" },
	{ "x86-1g-rw", S1_FMT_X86_64, 4, 0x40000000, 0x80000000, SIM_SZ_1G, "rw", 0, 0, 0, 0,
	  0x80000000800000E3ull, 3, "rw" },
	/* Sv39 / Sv48: V R W X U G A D, RSW bit 8 = C, PPN at 10. */
	{ "sv39-4k-r", S1_FMT_SV39, 3, 0x7000, 0x12345000, SIM_SZ_4K, "r", 0, 0, 0, 0,
	  0x00000000048D1443ull, 0, "r" },
	{ "sv39-4k-rw-user", S1_FMT_SV39, 3, 0x7000, 0x12345000, SIM_SZ_4K, "rw", 1, 0, 0, 0,
	  0x00000000048D14D7ull, 0, "rw" },
	{ "sv39-4k-rx-c", S1_FMT_SV39, 3, 0x7000, 0x12345000, SIM_SZ_4K, "rx", 0, 1, 0, 0,
	  0x00000000048D154Bull, 0, "rx" },
	{ "sv39-4k-x", S1_FMT_SV39, 3, 0x7000, 0x12345000, SIM_SZ_4K, "x", 0, 0, 0, 0,
	  0x00000000048D1449ull, 0, "x" },
	{ "sv39-2m-rwx", S1_FMT_SV39, 3, 0xFFFFFFFFC0200000ull, 0x40200000, SIM_SZ_2M, "rwx", 0, 0,
	  0, 0, 0x00000000100800CFull, 1, "rwx" },
	{ "sv39-1g-rw-io", S1_FMT_SV39, 3, 0x40000000, 0x80000000, SIM_SZ_1G, "rw", 0, 0, 0, 1,
	  0x40000000200000C7ull, 2, "rw" },
	{ "sv48-4k-rw-noad", S1_FMT_SV48, 4, 0x800000000000ull - 0x1000, 0x12345000, SIM_SZ_4K,
	  "rw", 0, 0, 1, 0, 0x00000000048D1407ull, 0, "rw" },
	{ "sv48-1g-r", S1_FMT_SV48, 4, 0x40000000, 0x80000000, SIM_SZ_1G, "r", 0, 0, 0, 0,
	  0x0000000020000043ull, 2, "r" },
	/* AMD IOMMU v1: PR, FC on leaves, IR 61, IW 62, NextLevel 0; levels count from 1. */
	{ "av1-4k-rw", S2_FMT_AMDV1, 4, 0x1000, 0x12345000, SIM_SZ_4K, "rw", 0, 0, 0, 0,
	  0x7000000012345001ull, 1, "rw" },
	{ "av1-4k-w", S2_FMT_AMDV1, 4, 0x1000, 0x12345000, SIM_SZ_4K, "w", 0, 0, 0, 0,
	  0x5000000012345001ull, 1, "w" },
	{ "av1-4k-r", S2_FMT_AMDV1, 3, 0x1000, 0x12345000, SIM_SZ_4K, "r", 0, 0, 0, 0,
	  0x3000000012345001ull, 1, "r" },
	{ "av1-4k-none", S2_FMT_AMDV1, 4, 0x1000, 0x12345000, SIM_SZ_4K, "none", 0, 0, 0, 0,
	  0x1000000012345001ull, 1, "none" },
	{ "av1-2m-rw", S2_FMT_AMDV1, 4, 0x200000, 0x40000000, SIM_SZ_2M, "rw", 0, 0, 0, 0,
	  0x7000000040000001ull, 2, "rw" },
	{ "av1-1g-r", S2_FMT_AMDV1, 4, 0x40000000, 0x80000000, SIM_SZ_1G, "r", 0, 0, 0, 0,
	  0x3000000080000001ull, 3, "r" },
};

ParameterizedTestParameters(s2_fmt, map_exact_descriptor)
{
	return cr_make_param_array(struct desc_case, desc_cases,
				   sizeof(desc_cases) / sizeof(desc_cases[0]));
}

ParameterizedTest(struct desc_case *dc, s2_fmt, map_exact_descriptor)
{
	struct env e;
	struct s2_prot prot = { .user = dc->user, .c = dc->c, .ad_clear = dc->ad_clear,
				.memtype = dc->device ? S2_MT_DEVICE : S2_MT_NORMAL };
	struct s2_pte pte;
	uint64_t raw = 0, raw2;
	char pb[8];
	int level = -9;

	cr_assert_eq(s2_perms_parse(dc->perms, &prot.perms), 0);
	env_init(&e, dc->fmt, dc->levels);
	cr_assert_eq(s2_map(e.p, NULL, dc->ia, dc->pa, dc->size, dc->size, &prot), S2_OK, "%s",
		     dc->name);
	cr_assert_eq(s2_get_leaf(e.p, NULL, dc->ia, &raw, &level, &pte), S2_OK, "%s", dc->name);
	cr_expect_eq(raw, dc->raw, "%s: raw 0x%016llx, expected 0x%016llx", dc->name,
		     (unsigned long long)raw, (unsigned long long)dc->raw);
	cr_expect_eq(level, dc->level, "%s: level %d", dc->name, level);
	cr_expect_eq(pte.type, S2_PTE_LEAF);
	cr_expect_eq(pte.addr, dc->pa, "%s", dc->name);
	cr_expect_str_eq(s2_perms_str(pte.prot.perms, pb), dc->back, "%s", dc->name);
	/* The entry decodes to a prot that re-encodes to the same bits. */
	{
		unsigned sz = dc->size == SIM_SZ_4K ? 0 : dc->size == SIM_SZ_2M ? 1 : 2;
		cr_assert_eq(s2_fmt(dc->fmt)->mk_leaf(sz, pte.addr, &pte.prot, &raw2), S2_OK);
		cr_expect_eq(raw2, dc->raw, "%s: round trip 0x%016llx", dc->name,
			     (unsigned long long)raw2);
	}
	/* Exactly one table page per level below the root. */
	cr_expect_eq(s2_pgt_pages(e.p), dc->levels - (unsigned)(dc->size == SIM_SZ_4K ? 0 :
						 dc->size == SIM_SZ_2M ? 1 : 2));
	env_fini(&e);
}

/* Table descriptors: raw bits of the entries on the path. */
struct table_case {
	enum s2_fmt_id fmt;
	uint64_t expect_low;   /* low 12 bits of a table descriptor */
	uint64_t expect_high;  /* bits 63:52 */
};

static struct table_case table_cases[] = {
	{ S2_FMT_ARM64, 0x003, 0 },
	{ S2_FMT_NPT, 0x027, 0 },
	{ S2_FMT_EPT, 0x507, 0 },
	{ S1_FMT_X86_64, 0x027, 0 },
	{ S1_FMT_SV48, 0x001, 0 },
	{ S2_FMT_AMDV1, 0x601, 0x600 },   /* PR, NextLevel 3 (the level-3 table), IR|IW */
};

ParameterizedTestParameters(s2_fmt, table_descriptor)
{
	return cr_make_param_array(struct table_case, table_cases,
				   sizeof(table_cases) / sizeof(table_cases[0]));
}

ParameterizedTest(struct table_case *tc, s2_fmt, table_descriptor)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R };
	uint64_t raw;

	env_init(&e, tc->fmt, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0, 0x5000, SIM_SZ_4K, 0, &prot), S2_OK);
	raw = sim_mem_peek64(e.mem, POOL);   /* root entry 0 -> second table page */
	if (tc->fmt == S1_FMT_SV48)
		cr_expect_eq(raw, ((POOL + 0x1000) >> 12 << 10) | tc->expect_low);
	else
		cr_expect_eq(raw, (POOL + 0x1000) | tc->expect_low | (tc->expect_high << 52),
			     "0x%016llx", (unsigned long long)raw);
	env_fini(&e);
}

/* Encodings a format refuses. */
struct refuse_case {
	enum s2_fmt_id fmt;
	char perms[8];
	uint64_t size;
	int rc;
};

static struct refuse_case refuse_cases[] = {
	{ S2_FMT_NPT, "none", SIM_SZ_4K, S2_ERR_PERMS },    /* present implies readable */
	{ S2_FMT_NPT, "w", SIM_SZ_4K, S2_ERR_PERMS },
	{ S2_FMT_NPT, "ru", SIM_SZ_4K, S2_ERR_PERMS },      /* no split execute */
	{ S2_FMT_EPT, "none", SIM_SZ_4K, S2_ERR_PERMS },    /* would be not-present */
	{ S2_FMT_EPT, "w", SIM_SZ_4K, S2_ERR_PERMS },       /* misconfiguration */
	{ S2_FMT_EPT, "wx", SIM_SZ_4K, S2_ERR_PERMS },
	{ S1_FMT_X86_64, "x", SIM_SZ_4K, S2_ERR_PERMS },
	{ S1_FMT_SV39, "w", SIM_SZ_4K, S2_ERR_PERMS },      /* reserved W without R */
	{ S1_FMT_SV39, "none", SIM_SZ_4K, S2_ERR_PERMS },   /* would be a pointer */
	{ S1_FMT_SV39, "rs", SIM_SZ_4K, S2_ERR_PERMS },
	{ S2_FMT_ARM64, "rw", 0x8000, S2_ERR_SIZE },         /* not a leaf size */
	{ S2_FMT_AMDV1, "rx", SIM_SZ_4K, S2_ERR_PERMS },     /* no execute permission */
	{ S2_FMT_AMDV1, "s", SIM_SZ_4K, S2_ERR_PERMS },
};

ParameterizedTestParameters(s2_fmt, refused_encodings)
{
	return cr_make_param_array(struct refuse_case, refuse_cases,
				   sizeof(refuse_cases) / sizeof(refuse_cases[0]));
}

ParameterizedTest(struct refuse_case *rc, s2_fmt, refused_encodings)
{
	struct env e;
	struct s2_prot prot = { 0 };

	cr_assert_eq(s2_perms_parse(rc->perms, &prot.perms), 0);
	env_init(&e, rc->fmt, s2_fmt(rc->fmt)->min_levels);
	cr_expect_eq(s2_map(e.p, NULL, 0x200000, 0x200000, rc->size, rc->size, &prot), rc->rc,
		     "%s perms=%s", s2_fmt(rc->fmt)->name, rc->perms);
	cr_expect_eq(s2_pgt_pages(e.p), 1, "nothing allocated");
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x200000, NULL, NULL, NULL), S2_ERR_NOENT);
	env_fini(&e);
}

/* ------------------------------------------------------------------ */
/* Walks and faults                                                    */
/* ------------------------------------------------------------------ */

struct fault_case {
	char name[40];         /* case name (arrays, not pointers: Criterion copies params across processes) */
	enum s2_fmt_id fmt;
	unsigned levels;
	char perms[8];         /* of the 4K page mapped at 0x200000 -> 0x800000 */
	bool ad_clear;
	bool user_page;        /* stage 1: U */
	uint64_t ia;           /* accessed address */
	enum s2_access acc;
	bool user;
	int type;              /* S2_FAULT_* */
	int level;
	uint64_t code;
	char str[48];
};

static struct fault_case fault_cases[] = {
	{ "a64-ok", S2_FMT_ARM64, 4, "rw", 0, 0, 0x200010, S2_ACC_WRITE, 0, 0, 0, 0, "OK" },
	{ "a64-trans-root", S2_FMT_ARM64, 4, "rw", 0, 0, 0x8000000000ull, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 0, 0x04, "#S2F(level=0,type=translation)" },
	{ "a64-trans-l3root", S2_FMT_ARM64, 3, "rw", 0, 0, 0x40000000, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 1, 0x05, "#S2F(level=1,type=translation)" },
	{ "a64-trans-l2", S2_FMT_ARM64, 4, "rw", 0, 0, 0x400000, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 2, 0x06, "#S2F(level=2,type=translation)" },
	{ "a64-trans-l3", S2_FMT_ARM64, 4, "rw", 0, 0, 0x201000, S2_ACC_WRITE, 0,
	  S2_FAULT_TRANSLATION, 3, 0x47, "#S2F(level=3,type=translation)" },
	{ "a64-perm-write", S2_FMT_ARM64, 4, "r", 0, 0, 0x200000, S2_ACC_WRITE, 0,
	  S2_FAULT_PERMISSION, 3, 0x4F, "#S2F(level=3,type=permission)" },
	{ "a64-perm-fetch-xn", S2_FMT_ARM64, 4, "rw", 0, 0, 0x200000, S2_ACC_FETCH, 0,
	  S2_FAULT_PERMISSION, 3, 0x0F, "#S2F(level=3,type=permission)" },
	{ "a64-fetch-el0-pxn", S2_FMT_ARM64, 4, "rs", 0, 0, 0x200000, S2_ACC_FETCH, 1,
	  S2_FAULT_PERMISSION, 3, 0x0F, "#S2F(level=3,type=permission)" },
	{ "a64-fetch-el1-ok", S2_FMT_ARM64, 4, "rs", 0, 0, 0x200000, S2_ACC_FETCH, 0, 0, 0, 0, "OK" },
	{ "a64-perm-read-none", S2_FMT_ARM64, 4, "none", 0, 0, 0x200000, S2_ACC_READ, 0,
	  S2_FAULT_PERMISSION, 3, 0x0F, "#S2F(level=3,type=permission)" },
	{ "a64-access-flag", S2_FMT_ARM64, 4, "rw", 1, 0, 0x200000, S2_ACC_READ, 0,
	  S2_FAULT_ACCESS, 3, 0x0B, "#S2F(level=3,type=access)" },
	{ "a64-af-before-perm", S2_FMT_ARM64, 4, "r", 1, 0, 0x200000, S2_ACC_WRITE, 0,
	  S2_FAULT_ACCESS, 3, 0x4B, "#S2F(level=3,type=access)" },
	{ "npt-trans-l4", S2_FMT_NPT, 4, "rw", 0, 0, 0x8000000000ull, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 4, 0x100000004ull, "#S2F(level=4,type=translation)" },
	{ "npt-trans-l1-write", S2_FMT_NPT, 4, "rw", 0, 0, 0x201000, S2_ACC_WRITE, 0,
	  S2_FAULT_TRANSLATION, 1, 0x100000006ull, "#S2F(level=1,type=translation)" },
	{ "npt-perm-write", S2_FMT_NPT, 4, "r", 0, 0, 0x200000, S2_ACC_WRITE, 0,
	  S2_FAULT_PERMISSION, 1, 0x100000007ull, "#S2F(level=1,type=permission)" },
	{ "npt-perm-fetch", S2_FMT_NPT, 4, "rw", 0, 0, 0x200000, S2_ACC_FETCH, 0,
	  S2_FAULT_PERMISSION, 1, 0x100000015ull, "#S2F(level=1,type=permission)" },
	{ "npt-ad-update-ok", S2_FMT_NPT, 4, "rw", 1, 0, 0x200000, S2_ACC_WRITE, 0, 0, 0, 0, "OK" },
	{ "ept-trans-l3", S2_FMT_EPT, 4, "rw", 0, 0, 0x40000000, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 3, 0x1, "#S2F(level=3,type=translation)" },
	{ "ept-perm-write", S2_FMT_EPT, 4, "r", 0, 0, 0x200000, S2_ACC_WRITE, 0,
	  S2_FAULT_PERMISSION, 1, 0x0A, "#S2F(level=1,type=permission)" },
	{ "ept-mbec-user-fetch", S2_FMT_EPT, 4, "rs", 0, 0, 0x200000, S2_ACC_FETCH, 1,
	  S2_FAULT_PERMISSION, 1, 0x2C, "#S2F(level=1,type=permission)" },
	{ "ept-mbec-sup-fetch-ok", S2_FMT_EPT, 4, "rs", 0, 0, 0x200000, S2_ACC_FETCH, 0, 0, 0, 0,
	  "OK" },
	{ "ept-mbec-sup-fetch-user-only", S2_FMT_EPT, 4, "ru", 0, 0, 0x200000, S2_ACC_FETCH, 0,
	  S2_FAULT_PERMISSION, 1, 0x4C, "#S2F(level=1,type=permission)" },
	{ "x86-not-present", S1_FMT_X86_64, 4, "rw", 0, 0, 0x201000, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 1, 0x0, "#PF()" },
	{ "x86-user-on-sup", S1_FMT_X86_64, 4, "rw", 0, 0, 0x200000, S2_ACC_READ, 1,
	  S2_FAULT_PERMISSION, 1, 0x5, "#PF(P,U)" },
	{ "x86-write-ro-user", S1_FMT_X86_64, 4, "r", 0, 1, 0x200000, S2_ACC_WRITE, 1,
	  S2_FAULT_PERMISSION, 1, 0x7, "#PF(P,W,U)" },
	{ "x86-fetch-nx", S1_FMT_X86_64, 4, "rw", 0, 0, 0x200000, S2_ACC_FETCH, 0,
	  S2_FAULT_PERMISSION, 1, 0x11, "#PF(P,ID)" },
	{ "x86-noncanonical", S1_FMT_X86_64, 4, "rw", 0, 0, 0x0000800000000000ull, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 4, 0x0, "#PF()" },
	{ "sv39-load-unmapped", S1_FMT_SV39, 3, "rw", 0, 0, 0x201000, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 0, 13, "#PF(cause=13)" },
	{ "sv39-store-ro", S1_FMT_SV39, 3, "r", 0, 0, 0x200000, S2_ACC_WRITE, 0,
	  S2_FAULT_PERMISSION, 0, 15, "#PF(cause=15)" },
	{ "sv39-fetch-nx", S1_FMT_SV39, 3, "rw", 0, 0, 0x200000, S2_ACC_FETCH, 0,
	  S2_FAULT_PERMISSION, 0, 12, "#PF(cause=12)" },
	{ "sv39-sup-on-user", S1_FMT_SV39, 3, "rw", 0, 1, 0x200000, S2_ACC_READ, 0,
	  S2_FAULT_PERMISSION, 0, 13, "#PF(cause=13)" },
	{ "sv39-a-clear", S1_FMT_SV39, 3, "rw", 1, 0, 0x200000, S2_ACC_READ, 0,
	  S2_FAULT_ACCESS, 0, 13, "#PF(cause=13)" },
	{ "sv48-user-ok", S1_FMT_SV48, 4, "rw", 0, 1, 0x200000, S2_ACC_WRITE, 1, 0, 0, 0, "OK" },
	{ "sv39-noncanonical", S1_FMT_SV39, 3, "rw", 0, 0, 0x4000000000ull, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 2, 13, "#PF(cause=13)" },
	/* AMD v1: the code is the IO_PAGE_FAULT flags (PR 0x10, RW 0x20, PE 0x40). */
	{ "av1-ok-write", S2_FMT_AMDV1, 4, "w", 0, 0, 0x200010, S2_ACC_WRITE, 0, 0, 0, 0, "OK" },
	{ "av1-trans-l1", S2_FMT_AMDV1, 4, "rw", 0, 0, 0x201000, S2_ACC_WRITE, 0,
	  S2_FAULT_TRANSLATION, 1, 0x20, "#S2F(level=1,type=translation)" },
	{ "av1-trans-l4", S2_FMT_AMDV1, 4, "rw", 0, 0, 0x8000000000ull, S2_ACC_READ, 0,
	  S2_FAULT_TRANSLATION, 4, 0x00, "#S2F(level=4,type=translation)" },
	{ "av1-perm-write", S2_FMT_AMDV1, 4, "r", 0, 0, 0x200000, S2_ACC_WRITE, 0,
	  S2_FAULT_PERMISSION, 1, 0x70, "#S2F(level=1,type=permission)" },
	{ "av1-perm-read-wo", S2_FMT_AMDV1, 4, "w", 0, 0, 0x200000, S2_ACC_READ, 0,
	  S2_FAULT_PERMISSION, 1, 0x50, "#S2F(level=1,type=permission)" },
	{ "av1-no-ad-update", S2_FMT_AMDV1, 4, "rw", 1, 0, 0x200000, S2_ACC_WRITE, 0, 0, 0, 0,
	  "OK" },
};

ParameterizedTestParameters(s2_walk, faults)
{
	return cr_make_param_array(struct fault_case, fault_cases,
				   sizeof(fault_cases) / sizeof(fault_cases[0]));
}

ParameterizedTest(struct fault_case *fc, s2_walk, faults)
{
	struct env e;
	struct s2_prot prot = { .ad_clear = fc->ad_clear, .user = fc->user_page };
	struct s2_req req = RQ(fc->acc, fc->user);
	struct s2_xlate x;
	char buf[64];
	int rc;

	cr_assert_eq(s2_perms_parse(fc->perms, &prot.perms), 0);
	env_init(&e, fc->fmt, fc->levels);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	rc = s2_translate(e.p, fc->ia, &req, &x);
	cr_expect_eq(rc, fc->type, "%s: rc %d", fc->name, rc);
	cr_expect_str_eq(s2_fault_str(&x.fault, buf, sizeof(buf)), fc->str, "%s: %s", fc->name, buf);
	if (rc) {
		cr_expect_eq(x.fault.level, fc->level, "%s: level %d", fc->name, x.fault.level);
		cr_expect_eq(x.fault.code, fc->code, "%s: code 0x%llx", fc->name,
			     (unsigned long long)x.fault.code);
		cr_expect_eq(x.fault.addr, fc->ia);
		cr_expect_eq(x.fault.stage, s2_fmt(fc->fmt)->stage);
	} else {
		cr_expect_eq(x.pa, 0x800000 | (fc->ia & 0xFFF));
		cr_expect_eq(x.size, SIM_SZ_4K);
		cr_expect_eq(x.refs, fc->levels);
		cr_expect_eq(x.mem_cycles, 10ull * (x.refs + x.ev.ad_updates));
	}
	env_fini(&e);
}

Test(s2_walk, hardware_ad_update_writes_the_entry)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W, .ad_clear = true };
	struct s2_req req = RQ(S2_ACC_READ, false);
	struct s2_xlate x;
	uint64_t raw;

	env_init(&e, S2_FMT_EPT, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, SIM_SZ_4K, 0, &prot), S2_OK);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x200000, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & 0x300, 0);
	cr_assert_eq(s2_translate(e.p, 0x200000, &req, &x), 0);
	cr_expect_eq(x.ev.ad_updates, 1);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x200000, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & 0x300, 0x100, "A set, D still clear");
	req.acc = S2_ACC_WRITE;
	cr_assert_eq(s2_translate(e.p, 0x200000, &req, &x), 0);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x200000, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & 0x300, 0x300, "A and D set");
	cr_assert_eq(s2_translate(e.p, 0x200000, &req, &x), 0);
	cr_expect_eq(x.ev.ad_updates, 0);
	env_fini(&e);
}

Test(s2_walk, ept_misconfiguration_is_a_translation_fault)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_req req = RQ(S2_ACC_READ, false);
	struct s2_xlate x;
	uint64_t raw;
	int level;
	struct s2_pte pte;

	env_init(&e, S2_FMT_EPT, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, SIM_SZ_4K, 0, &prot), S2_OK);
	s2_get_leaf(e.p, NULL, 0x200000, &raw, &level, &pte);
	/* Find the entry's address: walk the tables by hand. */
	{
		uint64_t t = POOL;
		for (int l = 3; l >= 1; l--)
			t = sim_mem_peek64(e.mem, t + 8 * ((0x200000ull >> (12 + 9 * l)) & 511)) &
			    0x000FFFFFFFFFF000ull;
		uint64_t ea = t + 8 * ((0x200000ull >> 12) & 511);
		cr_assert_eq(sim_mem_peek64(e.mem, ea), raw);
		sim_mem_poke64(e.mem, ea, raw & ~1ull);   /* W without R */
	}
	cr_expect_eq(s2_translate(e.p, 0x200000, &req, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.fault.level, 1);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x200000, NULL, NULL, &pte), S2_ERR_NOENT);
	cr_expect_eq(pte.type, S2_PTE_RESERVED);
	env_fini(&e);
}

/* ------------------------------------------------------------------ */
/* Management: split, protect, errors, annotate                         */
/* ------------------------------------------------------------------ */

struct split_case {
	enum s2_fmt_id fmt;
	unsigned bbm;          /* break-before-make sequences expected */
};

static struct split_case split_cases[] = {
	{ S2_FMT_ARM64, 1 }, { S2_FMT_NPT, 0 }, { S2_FMT_EPT, 0 },
};

ParameterizedTestParameters(s2_visit, split_on_partial_unmap)
{
	return cr_make_param_array(struct split_case, split_cases,
				   sizeof(split_cases) / sizeof(split_cases[0]));
}

ParameterizedTest(struct split_case *sc, s2_visit, split_on_partial_unmap)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_pte pte;
	uint64_t raw;
	int level;
	unsigned pages;

	env_init(&e, sc->fmt, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x40200000, SIM_SZ_2M, 0, &prot), S2_OK);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x2AB000, &raw, &level, &pte), S2_OK);
	cr_expect_eq(pte.addr, 0x40200000);
	pages = (unsigned)s2_pgt_pages(e.p);
	cr_assert_eq(s2_unmap(e.p, NULL, 0x201000, SIM_SZ_4K), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), pages + 1, "one page-table page for the split");
	cr_expect_eq(s2_pgt_bbm_count(e.p), sc->bbm);
	cr_expect_eq(e.b.tlbis, sc->bbm);
	if (sc->bbm) {
		cr_expect_eq(e.b.tlbi_ia, 0x200000);
		cr_expect_eq(e.b.tlbi_bytes, SIM_SZ_2M);
	}
	/* Every other 4K page keeps the block's mapping and attributes. */
	for (uint64_t off = 0; off < SIM_SZ_2M; off += SIM_SZ_4K) {
		int r = s2_get_leaf(e.p, NULL, 0x200000 + off, &raw, &level, &pte);
		if (off == 0x1000) {
			cr_expect_eq(r, S2_ERR_NOENT);
			cr_expect_eq(raw, 0);
			continue;
		}
		cr_assert_eq(r, S2_OK, "off 0x%llx", (unsigned long long)off);
		cr_expect_eq(level, s2_fmt(sc->fmt)->arch_level(0, 4));
		cr_expect_eq(pte.addr, 0x40200000 + off);
		cr_expect_eq(pte.prot.perms, S2_PERM_R | S2_PERM_W);
	}
	env_fini(&e);
}

Test(s2_visit, partial_protect_splits_and_changes_only_the_range)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	struct s2_pte pte;
	int level;

	env_init(&e, S2_FMT_ARM64, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x40000000, 0x80000000, SIM_SZ_1G, 0, &prot), S2_OK);
	cr_assert_eq(s2_protect(e.p, NULL, 0x40200000, 0x3000, S2_PERM_R), S2_OK);
	/* 1G -> 2M table, the touched 2M -> 4K table. */
	cr_expect_eq(s2_pgt_pages(e.p), 4);
	cr_expect_eq(s2_pgt_bbm_count(e.p), 2);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x40201000, NULL, &level, &pte), S2_OK);
	cr_expect_eq(level, 3);
	cr_expect_eq(pte.prot.perms, S2_PERM_R);
	cr_expect_eq(pte.addr, 0x80201000);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x40203000, NULL, &level, &pte), S2_OK);
	cr_expect_eq(level, 3);
	cr_expect_eq(pte.prot.perms, S2_PERM_ALL);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x40400000, NULL, &level, &pte), S2_OK);
	cr_expect_eq(level, 2, "the other 2M blocks stay blocks");
	cr_expect_eq(pte.addr, 0x80400000);
	cr_expect_eq(s2_protect(e.p, NULL, 0x0, 0x1000, S2_PERM_R), S2_ERR_NOENT);
	cr_expect_eq(s2_protect(e.p, NULL, 0x40200000, 0x1000, S2_PERM_W | S2_PERM_XU), S2_OK,
		     "arm64 accepts W without R and EL0-only execute");
	env_fini(&e);
}

struct err_case {
	char name[40];         /* case name (arrays, not pointers: Criterion copies params across processes) */
	enum s2_fmt_id fmt;
	uint64_t ia, pa, size, leaf;
	int rc;
};

static struct err_case err_cases[] = {
	{ "exists", S2_FMT_ARM64, 0x200000, 0x1000, 0x1000, 0x1000, S2_ERR_EXISTS },
	{ "exists-under-block", S2_FMT_ARM64, 0x400000, 0x1000, 0x1000, 0x1000, S2_ERR_EXISTS },
	{ "align-ia", S2_FMT_ARM64, 0x600800, 0x1000, 0x1000, 0x1000, S2_ERR_ALIGN },
	{ "align-pa-2m", S2_FMT_NPT, 0x800000, 0x1000, SIM_SZ_2M, SIM_SZ_2M, S2_ERR_ALIGN },
	{ "range-ia", S2_FMT_ARM64, 1ull << 48, 0x1000, 0x1000, 0x1000, S2_ERR_RANGE },
	{ "range-pa", S2_FMT_NPT, 0x800000, SIM_PA_LIMIT, 0x1000, 0x1000, S2_ERR_RANGE },
	{ "range-pa-arm64-48bit", S2_FMT_ARM64, 0x800000, 1ull << 48, 0x1000, 0x1000,
	  S2_ERR_RANGE },
	{ "size-zero", S2_FMT_EPT, 0x800000, 0x1000, 0, 0, S2_ERR_INVAL },
	{ "size-512g-leaf", S2_FMT_EPT, 0, 0, 1ull << 39, 1ull << 39, S2_ERR_SIZE },
};

ParameterizedTestParameters(s2_visit, map_errors_change_nothing)
{
	return cr_make_param_array(struct err_case, err_cases,
				   sizeof(err_cases) / sizeof(err_cases[0]));
}

ParameterizedTest(struct err_case *ec, s2_visit, map_errors_change_nothing)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R };
	uint64_t raw_before = 0, raw_after = 0;
	unsigned pages;

	env_init(&e, ec->fmt, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x9000, SIM_SZ_4K, 0, &prot), S2_OK);
	cr_assert_eq(s2_map(e.p, NULL, 0x400000, 0x400000, SIM_SZ_2M, 0, &prot), S2_OK);
	pages = (unsigned)s2_pgt_pages(e.p);
	s2_get_leaf(e.p, NULL, ec->ia, &raw_before, NULL, NULL);
	cr_expect_eq(s2_map(e.p, NULL, ec->ia, ec->pa, ec->size, ec->leaf, &prot), ec->rc, "%s",
		     ec->name);
	s2_get_leaf(e.p, NULL, ec->ia, &raw_after, NULL, NULL);
	cr_expect_eq(raw_after, raw_before, "%s", ec->name);
	cr_expect_eq(s2_pgt_pages(e.p), pages, "%s", ec->name);
	env_fini(&e);
}

Test(s2_visit, map_range_uses_largest_blocks)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R };
	int level;

	env_init(&e, S2_FMT_NPT, 4);
	/* [1G - 4K, 2G + 2M + 4K): 4K, 1G, 2M, 4K. */
	cr_assert_eq(s2_map(e.p, NULL, 0x3FFFF000, 0x3FFFF000, 0x40202000, 0, &prot), S2_OK);
	s2_get_leaf(e.p, NULL, 0x3FFFF000, NULL, &level, NULL);
	cr_expect_eq(level, 1);
	s2_get_leaf(e.p, NULL, 0x40000000, NULL, &level, NULL);
	cr_expect_eq(level, 3);
	s2_get_leaf(e.p, NULL, 0x80000000, NULL, &level, NULL);
	cr_expect_eq(level, 2);
	s2_get_leaf(e.p, NULL, 0x80200000, NULL, &level, NULL);
	cr_expect_eq(level, 1);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x80201000, NULL, NULL, NULL), S2_ERR_NOENT);
	env_fini(&e);
}

Test(s2_visit, nomem_is_reported)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R };

	env_init(&e, S2_FMT_ARM64, 4);
	e.b.end = e.b.next + 0x1000;   /* one more page only */
	cr_expect_eq(s2_map(e.p, NULL, 0x200000, 0x1000, 0x1000, 0, &prot), S2_ERR_NOMEM);
	env_fini(&e);
}

Test(s2_visit, annotate_writes_owner_ids_in_invalid_entries)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	struct s2_pte pte;
	uint64_t raw;
	int level;

	env_init(&e, S2_FMT_ARM64, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x200000, SIM_SZ_2M, 0, &prot), S2_OK);
	/* Donate one page of the block to owner 1 (pKVM HYP): split + annotate. */
	cr_assert_eq(s2_annotate(e.p, NULL, 0x3FF000, 0x1000, 1), S2_OK);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x3FF000, &raw, &level, &pte), S2_ERR_NOENT);
	cr_expect_eq(raw, 1ull << 2, "owner in bits [9:2], valid clear");
	cr_expect_eq(level, 3);
	cr_expect_eq(pte.owner, 1);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x3FE000, NULL, &level, &pte), S2_OK);
	cr_expect_eq(level, 3);
	/* A 2M annotation of unmapped space stays one invalid block entry. */
	cr_assert_eq(s2_annotate(e.p, NULL, 0x600000, SIM_SZ_2M, 2), S2_OK);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x700000, &raw, &level, &pte), S2_ERR_NOENT);
	cr_expect_eq(raw, 2ull << 2);
	cr_expect_eq(level, 2);
	/* Mapping over an annotated block: split keeps the rest annotated. */
	cr_assert_eq(s2_map(e.p, NULL, 0x601000, 0x601000, 0x1000, 0, &prot), S2_OK);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x600000, &raw, &level, &pte), S2_ERR_NOENT);
	cr_expect_eq(pte.owner, 2);
	cr_expect_eq(level, 3);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x601000, NULL, NULL, NULL), S2_OK);
	/* Owner 0 clears. */
	cr_assert_eq(s2_annotate(e.p, NULL, 0x600000, 0x1000, 0), S2_OK);
	cr_expect_eq(s2_get_leaf(e.p, NULL, 0x600000, &raw, NULL, NULL), S2_ERR_NOENT);
	cr_expect_eq(raw, 0);
	env_fini(&e);
}

struct owner_case {
	enum s2_fmt_id fmt;
	uint64_t raw;          /* invalid entry with owner 0x5A */
};

static struct owner_case owner_cases[] = {
	{ S2_FMT_ARM64, 0x5Aull << 2 }, { S2_FMT_NPT, 0x5Aull << 52 },
	{ S2_FMT_EPT, 0x5Aull << 52 }, { S1_FMT_SV48, 0x5Aull << 2 },
	{ S2_FMT_AMDV1, 0x5Aull << 1 },
};

ParameterizedTestParameters(s2_fmt, owner_encoding)
{
	return cr_make_param_array(struct owner_case, owner_cases,
				   sizeof(owner_cases) / sizeof(owner_cases[0]));
}

ParameterizedTest(struct owner_case *oc, s2_fmt, owner_encoding)
{
	const struct s2_fmt_ops *f = s2_fmt(oc->fmt);
	struct s2_pte pte;

	cr_expect_eq(f->mk_invalid(0x5A), oc->raw);
	for (unsigned sz = 0; sz < 3; sz++) {
		f->decode(oc->raw, sz, &pte);
		cr_expect_eq(pte.type, S2_PTE_INVALID);
		cr_expect_eq(pte.owner, 0x5A);
	}
}

/* ------------------------------------------------------------------ */
/* The walker itself                                                   */
/* ------------------------------------------------------------------ */

struct trace {
	unsigned pre, leaf, post;    /* visits by kind */
	uint64_t first_leaf_addr;
};

static int trace_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct trace *t = ctx->arg;

	if (when == S2_WALK_TABLE_PRE)
		t->pre++;
	else if (when == S2_WALK_TABLE_POST)
		t->post++;
	else if (!t->leaf++)
		t->first_leaf_addr = ctx->addr;
	return 0;
}

Test(s2_walker, visits_pre_leaf_post_in_order)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R };
	struct trace t = { 0 };
	struct s2_walker w = { .visit = trace_visit, .arg = &t,
			       .flags = S2_WALK_LEAF | S2_WALK_TABLE_PRE | S2_WALK_TABLE_POST };

	env_init(&e, S2_FMT_NPT, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x1000, 0x2000, 0, &prot), S2_OK);
	cr_assert_eq(s2_walk(e.p, NULL, 0x200000, 0x4000, &w), S2_OK);
	/* PML4E, PDPTE, PDE are tables (pre+post); 4 PTEs are leaves/invalid. */
	cr_expect_eq(t.pre, 3);
	cr_expect_eq(t.post, 3);
	cr_expect_eq(t.leaf, 4);
	cr_expect_eq(t.first_leaf_addr, 0x200000);
	cr_expect_eq(s2_walk(e.p, NULL, 0, 0, &w), S2_ERR_INVAL);
	cr_expect_eq(s2_walk(e.p, NULL, 1ull << 48, 0x1000, &w), S2_ERR_RANGE);
	env_fini(&e);
}

Test(s2_fmt, names_and_perm_text)
{
	uint8_t p;
	char b[8];

	for (unsigned i = 0; i < S2_FMT_COUNT; i++) {
		cr_expect_eq(s2_fmt(i)->id, i);
		cr_expect_eq(s2_fmt_by_name(s2_fmt(i)->name), s2_fmt(i));
	}
	cr_expect_null(s2_fmt_by_name("pae"));
	cr_expect_null(s2_fmt(S2_FMT_COUNT));
	cr_expect_str_eq(s2_rc_name(S2_ERR_EXISTS), "exists");
	cr_expect_str_eq(s2_rc_name(S2_RC_COUNT), "unknown");
	cr_expect_eq(s2_perms_parse("rq", &p), -1);
	cr_expect_eq(s2_perms_parse("", &p), -1);
	cr_assert_eq(s2_perms_parse("xr", &p), 0);
	cr_expect_str_eq(s2_perms_str(p, b), "rx");
	cr_assert_eq(s2_perms_parse("none", &p), 0);
	cr_expect_str_eq(s2_perms_str(p, b), "none");
	cr_assert_eq(s2_perms_parse("us", &p), 0);
	cr_expect_eq(p, S2_PERM_X);
}

/*
 * Accessed/dirty through the hardware walk, per format: a page mapped
 * with A (and D) clear.  x86-style formats set A on a read and D on a
 * write (one A/D write each); arm64 and Sv take an access fault.
 */
struct ad_case {
	char name[16];
	enum s2_fmt_id fmt;
	unsigned levels;
	int read_rc, write_rc;        /* s2_translate results */
	uint64_t a, d;                /* the A and D bits of the format (0: none) */
};

static struct ad_case ad_cases[] = {
	{ "arm64", S2_FMT_ARM64, 4, S2_FAULT_ACCESS, S2_FAULT_ACCESS, 1ull << 10, 0 },
	{ "npt", S2_FMT_NPT, 4, 0, 0, 1ull << 5, 1ull << 6 },
	{ "ept", S2_FMT_EPT, 4, 0, 0, 1ull << 8, 1ull << 9 },
	{ "x86_64", S1_FMT_X86_64, 4, 0, 0, 1ull << 5, 1ull << 6 },
	{ "sv39", S1_FMT_SV39, 3, S2_FAULT_ACCESS, S2_FAULT_ACCESS, 1ull << 6, 1ull << 7 },
	{ "sv48", S1_FMT_SV48, 4, S2_FAULT_ACCESS, S2_FAULT_ACCESS, 1ull << 6, 1ull << 7 },
};

ParameterizedTestParameters(s2_walk, accessed_dirty_per_format)
{
	return cr_make_param_array(struct ad_case, ad_cases, sizeof(ad_cases) / sizeof(ad_cases[0]));
}

ParameterizedTest(struct ad_case *ac, s2_walk, accessed_dirty_per_format)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W, .ad_clear = true };
	struct s2_req req = RQ(S2_ACC_READ, false);
	struct s2_xlate x;
	uint64_t raw;

	env_init(&e, ac->fmt, ac->levels);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, SIM_SZ_4K, 0, &prot), S2_OK, "%s",
		     ac->name);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x200000, &raw, NULL, NULL), S2_OK);
	cr_expect_eq(raw & (ac->a | ac->d), 0, "%s: mapped with A/D clear", ac->name);

	cr_expect_eq(s2_translate(e.p, 0x200000, &req, &x), ac->read_rc, "%s read", ac->name);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x200000, &raw, NULL, NULL), S2_OK);
	if (ac->read_rc) {
		cr_expect_eq(x.fault.type, S2_FAULT_ACCESS, "%s", ac->name);
		cr_expect_eq(x.ev.ad_updates, 0, "%s", ac->name);
		cr_expect_eq(raw & ac->a, 0, "%s: A not set by hardware", ac->name);
	} else {
		cr_expect_eq(x.ev.ad_updates, 1, "%s", ac->name);
		cr_expect_eq(raw & (ac->a | ac->d), ac->a, "%s: A set, D still clear", ac->name);
		cr_expect_eq(x.pa, 0x800000);
	}

	req.acc = S2_ACC_WRITE;
	cr_expect_eq(s2_translate(e.p, 0x200000, &req, &x), ac->write_rc, "%s write", ac->name);
	cr_assert_eq(s2_get_leaf(e.p, NULL, 0x200000, &raw, NULL, NULL), S2_OK);
	if (!ac->write_rc) {
		cr_expect_eq(x.ev.ad_updates, 1, "%s", ac->name);
		cr_expect_eq(raw & (ac->a | ac->d), ac->a | ac->d, "%s: A and D set", ac->name);
		cr_expect_eq(s2_translate(e.p, 0x200000, &req, &x), 0);
		cr_expect_eq(x.ev.ad_updates, 0, "%s: nothing left to update", ac->name);
	}
	env_fini(&e);
}

/* ------------------------------------------------------------------ */
/* Unmap frees tables left empty                                       */
/* ------------------------------------------------------------------ */

struct free_case {
	char name[16];
	enum s2_fmt_id fmt;
	unsigned levels;
};

static struct free_case free_cases[] = {
	{ "arm64-4", S2_FMT_ARM64, 4 }, { "arm64-3", S2_FMT_ARM64, 3 }, { "npt", S2_FMT_NPT, 4 },
	{ "ept", S2_FMT_EPT, 4 },       { "x86_64", S1_FMT_X86_64, 4 }, { "sv39", S1_FMT_SV39, 3 },
	{ "sv48", S1_FMT_SV48, 4 },     { "amdv1", S2_FMT_AMDV1, 4 },
};

ParameterizedTestParameters(s2_visit, unmap_frees_empty_tables)
{
	return cr_make_param_array(struct free_case, free_cases,
				   sizeof(free_cases) / sizeof(free_cases[0]));
}

/*
 * Two pages in one last-level table: unmapping one frees nothing;
 * unmapping the other frees every table below the root, bottom-up, each
 * with a range invalidation, and leaves the root entry invalid.  The
 * pages come back through free_page and map again.
 */
ParameterizedTest(struct free_case *fc, s2_visit, unmap_frees_empty_tables)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W };
	struct s2_req req = RQ(S2_ACC_READ, false);
	struct s2_xlate x;
	unsigned tlbis;

	env_init(&e, fc->fmt, fc->levels);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(s2_map(e.p, NULL, 0x201000, 0x801000, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(s2_pgt_pages(e.p), fc->levels, "%s: root and one table per level", fc->name);

	tlbis = e.b.tlbis;
	cr_assert_eq(s2_unmap(e.p, NULL, 0x200000, SIM_SZ_4K), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), fc->levels, "%s: the table still maps 0x201000", fc->name);
	cr_expect_eq(s2_pgt_freed_count(e.p), 0);
	cr_expect_eq(e.b.frees, 0);
	cr_expect_eq(e.b.tlbis, tlbis, "%s: a leaf unmap does not invalidate", fc->name);
	cr_expect_eq(s2_translate(e.p, 0x201000, &req, &x), 0);

	cr_assert_eq(s2_unmap(e.p, NULL, 0x201000, SIM_SZ_4K), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), 1, "%s: only the root is left", fc->name);
	cr_expect_eq(s2_pgt_freed_count(e.p), fc->levels - 1);
	cr_expect_eq(e.b.frees, fc->levels - 1);
	cr_expect_eq(e.b.tlbis, tlbis + fc->levels - 1, "%s: one invalidation per table", fc->name);
	cr_expect_eq(e.b.tlbi_ia, 0, "%s: the last one covers the root entry's range", fc->name);
	cr_expect_eq(e.b.tlbi_bytes, 1ull << (12 + 9 * (fc->levels - 1)));
	cr_expect_eq(s2_translate(e.p, 0x201000, &req, &x), S2_FAULT_TRANSLATION);
	cr_expect_eq(x.refs, 1, "%s: the walk stops at the root entry", fc->name);
	cr_expect_eq(sim_mem_peek64(e.mem, s2_pgt_root(e.p)), 0);

	cr_assert_eq(s2_map(e.p, NULL, 0x201000, 0x801000, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), fc->levels);
	cr_expect_eq(s2_translate(e.p, 0x201000, &req, &x), 0);
	cr_expect_eq(x.pa, 0x801000);
	env_fini(&e);
}

/* An owner id is an entry: a table holding one is not empty (pKVM counts annotated entries). */
Test(s2_visit, unmap_keeps_tables_with_owner_ids)
{
	struct env e;
	struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W };

	env_init(&e, S2_FMT_ARM64, 4);
	cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, 2 * SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(s2_annotate(e.p, NULL, 0x203000, SIM_SZ_4K, 3), S2_OK);
	cr_assert_eq(s2_unmap(e.p, NULL, 0x200000, 0x4000), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), 4);
	cr_expect_eq(s2_pgt_freed_count(e.p), 0);
	cr_assert_eq(s2_annotate(e.p, NULL, 0x203000, SIM_SZ_4K, 0), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), 4, "annotate never frees");
	cr_assert_eq(s2_unmap(e.p, NULL, 0x0, 0x400000), S2_OK);
	cr_expect_eq(s2_pgt_pages(e.p), 1, "owner 0 again: the next unmap frees");
	env_fini(&e);
}

/* Without free_page the owner keeps its pages: nothing is taken out. */
Test(s2_visit, unmap_without_free_page_keeps_tables)
{
	static const struct s2_mm_ops alloc_only = { .alloc_page = bump_alloc };
	struct s2_prot prot = { .perms = S2_PERM_R };
	struct sim_mem *mem = sim_mem_new(1ull << 40, 10);
	struct bump b = { .next = POOL, .end = POOL + 0x100000 };
	int rc;
	struct s2_pgt *p = s2_pgt_new(s2_fmt(S2_FMT_NPT), 4, mem, S2_NO_PAGE, &alloc_only, &b, NULL,
				      &rc);

	cr_assert_not_null(p);
	cr_assert_eq(s2_map(p, NULL, 0x200000, 0x800000, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(s2_unmap(p, NULL, 0x200000, SIM_SZ_4K), S2_OK);
	cr_expect_eq(s2_pgt_pages(p), 4);
	cr_expect_eq(s2_pgt_freed_count(p), 0);
	s2_pgt_free(p);
	sim_mem_free(mem);
}

/*
 * AMD v1 encodings not modelled decode as reserved, a translation fault
 * at the entry's level: NextLevel 7 (another page size) and a PDE that
 * skips a level.  A PDE naming the right level walks on.
 */
Test(s2_fmt, amdv1_next_level_rules)
{
	static const struct { uint64_t nl; int rc; } cases[] = {
		{ 3, 0 }, { 7, S2_FAULT_TRANSLATION }, { 2, S2_FAULT_TRANSLATION },
		{ 1, S2_FAULT_TRANSLATION },
	};
	struct s2_prot prot = { .perms = S2_PERM_R };
	struct s2_req req = RQ(S2_ACC_READ, false);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct env e;
		struct s2_xlate x;
		uint64_t root, pde;

		env_init(&e, S2_FMT_AMDV1, 4);
		cr_assert_eq(s2_map(e.p, NULL, 0x200000, 0x800000, SIM_SZ_4K, SIM_SZ_4K, &prot),
			     S2_OK);
		root = s2_pgt_root(e.p);
		pde = sim_mem_peek64(e.mem, root);
		cr_assert_eq((pde >> 9) & 7, 3);
		sim_mem_poke64(e.mem, root, (pde & ~(7ull << 9)) | (cases[i].nl << 9));
		cr_expect_eq(s2_translate(e.p, 0x200000, &req, &x), cases[i].rc, "NextLevel %llu",
			     (unsigned long long)cases[i].nl);
		if (cases[i].rc) {
			cr_expect_eq(x.fault.level, 4);
			cr_expect_eq(x.refs, 1);
		}
		sim_mem_poke64(e.mem, root, pde);
		env_fini(&e);
	}
}
