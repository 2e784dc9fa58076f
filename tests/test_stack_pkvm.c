/*
 * test_stack_pkvm.c - pKVM's page-ownership model (sim/stack/pkvm_mem.c):
 * every host hypercall and guest hypercall transition, legal and illegal,
 * as table-driven sequences asserting the return code and the full state
 * of every party after each step (host, hyp, both guests; owner ids,
 * share counts, pins, DMA references, the IOMMU map), the invariant
 * checker after every step; host aborts (lazy idmap at the largest block,
 * injected aborts by kernel / user / accessor), TLB maintenance (stale
 * entries until TLBI, break-before-make), teardown with poisoning, guest
 * SMCCC calls and their ranged form, exact costs, stats.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/test_pkvm_env.h"

/* The pages and GFNs the sequences work on. */
#define PA_  0x1010u                    /* pfn of page A (in a 2M block of its own) */
#define PB_  0x1011u                    /* page B, next to it */
#define PC_  0x1200u                    /* page C: first of an aligned 2M block */
#define PD_  (PC_ + 511u)               /* page D: last page of that block */
#define G1   0x80u
#define G2   0x81u
#define G3   0x200u                     /* a 2M-aligned GFN */

/* ------------------------------------------------------------------ */
/* The transition tables                                               */
/* ------------------------------------------------------------------ */

enum op {
	OP_SHARE_HYP, OP_UNSHARE_HYP, OP_DONATE_HYP, OP_HYP_DONATE_HOST, OP_PIN, OP_UNPIN,
	OP_USE_DMA, OP_UNUSE_DMA, OP_SHARE_GUEST, OP_UNSHARE_GUEST, OP_DONATE_GUEST,
	OP_G_SHARE, OP_G_UNSHARE, OP_G_RELINQUISH, OP_TEARDOWN, OP_RECLAIM, OP_FINALIZE,
};

/* Test encodings of a state: 0 is NOPAGE so an unset guest expectation means unmapped. */
enum { NOP = 0, OWN, SO, SB };
static const enum stack_pkvm_state tstate[] = {
	STACK_PKVM_NOPAGE, STACK_PKVM_OWNED, STACK_PKVM_SHARED_OWNED, STACK_PKVM_SHARED_BORROWED,
};

/* The whole state of one page. */
struct pexp {
	uint8_t host, hyp;
	uint8_t owner;          /* host NOPAGE: the owner id */
	int8_t vm;              /* guest holding it from the guest side: -1 none, 0 np, 1 protected */
	uint8_t guest;          /* ... its state there */
	uint64_t gfn;
	uint32_t share, pin, dma;
	bool iommu;
};
#define PG(h, y, own, v, g, gf, sh, pi, dm, io) { h, y, own, v, g, gf, sh, pi, dm, io }
#define P_HOST           PG(OWN, NOP, 0, -1, NOP, 0, 0, 0, 0, true)
#define P_DMA(d)         PG(OWN, NOP, 0, -1, NOP, 0, 0, 0, d, true)
#define P_HYPSHARE(pin)  PG(SO, SB, 0, -1, NOP, 0, 0, pin, 0, true)
#define P_HYP            PG(NOP, OWN, 1, -1, NOP, 0, 0, 0, 0, false)
#define P_NPSHARE(n)     PG(SO, NOP, 0, -1, NOP, 0, n, 0, 0, true)
#define P_GUEST(gf)      PG(NOP, NOP, 2, 1, OWN, gf, 0, 0, 0, false)
#define P_GSHARED(gf, d) PG(SB, NOP, 0, 1, SO, gf, 0, 0, d, true)

#define MAX_STEPS 10
struct step {
	enum op op;
	uint32_t pfn;           /* page (or first page) */
	uint64_t gfn;
	uint32_t n;             /* pages (host ranges), granules (guest ranges); 0 means 1 */
	int vm;                 /* 0 non-protected, 1 protected */
	int rc;                 /* host ops: errno; guest ops: the errno behind R0 */
	struct pexp a, b;       /* pages A and B of the case after the step */
	uint8_t g[2][2];        /* guest state of vm[i] at the case's gfn[j] after the step */
};

struct seq {
	const char *name;
	uint32_t pa, pb;        /* the two pages watched */
	uint32_t gfn[2];        /* the two GFNs watched in both VMs */
	struct step st[MAX_STEPS];
	unsigned n;
};

static struct seq seqs[] = {
	{ "share_unshare_hyp", PA_, PB_, { G1, G2 }, {
		{ OP_SHARE_HYP, PA_, 0, 0, 0, 0, P_HYPSHARE(0), P_HOST, { { 0 } } },
		{ OP_SHARE_HYP, PA_, 0, 0, 0, -EPERM, P_HYPSHARE(0), P_HOST, { { 0 } } },
		{ OP_UNSHARE_HYP, PB_, 0, 0, 0, -EPERM, P_HYPSHARE(0), P_HOST, { { 0 } } },
		{ OP_UNSHARE_HYP, PA_, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
		{ OP_UNSHARE_HYP, PA_, 0, 0, 0, -EPERM, P_HOST, P_HOST, { { 0 } } },
		{ OP_SHARE_HYP, 0x10u, 0, 0, 0, -EINVAL, P_HOST, P_HOST, { { 0 } } },   /* not memory */
		{ OP_SHARE_HYP, POOL_BASE >> 12, 0, 0, 0, -EPERM, P_HOST, P_HOST, { { 0 } } },
	}, 7 },
	{ "pin_blocks_unshare", PA_, PB_, { G1, G2 }, {
		{ OP_PIN, PA_, 0, 0, 0, -EPERM, P_HOST, P_HOST, { { 0 } } },
		{ OP_SHARE_HYP, PA_, 0, 0, 0, 0, P_HYPSHARE(0), P_HOST, { { 0 } } },
		{ OP_PIN, PA_, 0, 2, 0, -EPERM, P_HYPSHARE(0), P_HOST, { { 0 } } },   /* B not shared */
		{ OP_PIN, PA_, 0, 0, 0, 0, P_HYPSHARE(1), P_HOST, { { 0 } } },
		{ OP_PIN, PA_, 0, 0, 0, 0, P_HYPSHARE(2), P_HOST, { { 0 } } },
		{ OP_UNSHARE_HYP, PA_, 0, 0, 0, -EBUSY, P_HYPSHARE(2), P_HOST, { { 0 } } },
		{ OP_UNPIN, PA_, 0, 0, 0, 0, P_HYPSHARE(1), P_HOST, { { 0 } } },
		{ OP_UNPIN, PA_, 0, 0, 0, 0, P_HYPSHARE(0), P_HOST, { { 0 } } },
		{ OP_UNPIN, PA_, 0, 0, 0, -EINVAL, P_HYPSHARE(0), P_HOST, { { 0 } } },
		{ OP_UNSHARE_HYP, PA_, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
	}, 10 },
	{ "donate_hyp_and_back", PA_, PB_, { G1, G2 }, {
		{ OP_DONATE_HYP, PA_, 0, 2, 0, 0, P_HYP, P_HYP, { { 0 } } },
		{ OP_DONATE_HYP, PB_, 0, 0, 0, -EPERM, P_HYP, P_HYP, { { 0 } } },
		{ OP_SHARE_HYP, PA_, 0, 0, 0, -EPERM, P_HYP, P_HYP, { { 0 } } },
		{ OP_USE_DMA, PA_, 0, 0, 0, -EPERM, P_HYP, P_HYP, { { 0 } } },
		{ OP_HYP_DONATE_HOST, PB_, 0, 0, 0, 0, P_HYP, P_HOST, { { 0 } } },
		{ OP_HYP_DONATE_HOST, PB_, 0, 0, 0, -EPERM, P_HYP, P_HOST, { { 0 } } },
		{ OP_HYP_DONATE_HOST, PA_, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
		{ OP_HYP_DONATE_HOST, POOL_BASE >> 12, 0, 0, 0, -EBUSY, P_HOST, P_HOST, { { 0 } } },
		{ OP_DONATE_HYP, PA_, 0, 0, 0, 0, P_HYP, P_HOST, { { 0 } } },
		{ OP_DONATE_HYP, (HMEM_BASE + HMEM_SIZE) >> 12, 0, 1, 0, -EINVAL, P_HYP, P_HOST, { { 0 } } },
	}, 10 },
	{ "dma_blocks_donation", PA_, PB_, { G1, G2 }, {
		{ OP_UNUSE_DMA, PA_, 0, 0, 0, -EINVAL, P_HOST, P_HOST, { { 0 } } },
		{ OP_USE_DMA, PA_, 0, 0, 0, 0, P_DMA(1), P_HOST, { { 0 } } },
		{ OP_DONATE_HYP, PA_, 0, 2, 0, -EBUSY, P_DMA(1), P_HOST, { { 0 } } },
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, -EBUSY, P_DMA(1), P_HOST, { { 0 } } },
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, -EPERM, P_DMA(1), P_HOST, { { 0 } } },
		{ OP_SHARE_HYP, PA_, 0, 0, 0, 0, PG(SO, SB, 0, -1, NOP, 0, 0, 0, 1, true), P_HOST, { { 0 } } },
		{ OP_UNSHARE_HYP, PA_, 0, 0, 0, 0, P_DMA(1), P_HOST, { { 0 } } },
		{ OP_UNUSE_DMA, PA_, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
	}, 9 },
	{ "share_guest_refcounted", PA_, PB_, { G1, G2 }, {
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, 0, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_SHARE_GUEST, PB_, G1, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_SHARE_GUEST, PA_, G2, 0, 0, 0, P_NPSHARE(2), P_HOST, { { SB, SB }, { NOP, NOP } } },
		{ OP_SHARE_GUEST, PA_, G1, 0, 1, -EINVAL, P_NPSHARE(2), P_HOST, { { SB, SB }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G1, 0, 0, 0, P_NPSHARE(1), P_HOST, { { NOP, SB }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G1, 0, 0, -ENOENT, P_NPSHARE(1), P_HOST, { { NOP, SB }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G2, 0, 1, -EINVAL, P_NPSHARE(1), P_HOST, { { NOP, SB }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G2, 0, 0, 0, P_HOST, P_HOST, { { NOP, NOP }, { NOP, NOP } } },
	}, 9 },
	{ "share_guest_refusals", PA_, PB_, { G1, G2 }, {
		{ OP_SHARE_HYP, PB_, 0, 0, 0, 0, P_HOST, P_HYPSHARE(0), { { 0 } } },
		{ OP_SHARE_GUEST, PB_, G1, 0, 0, -EPERM, P_HOST, P_HYPSHARE(0), { { 0 } } },  /* hyp's share */
		{ OP_DONATE_HYP, PA_, 0, 0, 0, 0, P_HYP, P_HYPSHARE(0), { { 0 } } },
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, -EPERM, P_HYP, P_HYPSHARE(0), { { 0 } } },
		{ OP_SHARE_GUEST, PA_, G1, 2, 0, -EINVAL, P_HYP, P_HYPSHARE(0), { { 0 } } },  /* nr 2 */
		{ OP_SHARE_GUEST, 0x10u, G1, 0, 0, -EINVAL, P_HYP, P_HYPSHARE(0), { { 0 } } },
		{ OP_UNSHARE_GUEST, 0, G2, 0, 0, -ENOENT, P_HYP, P_HYPSHARE(0), { { 0 } } },
	}, 7 },
	{ "share_guest_2m", PC_, PD_, { G3, G3 + 511 }, {
		{ OP_SHARE_GUEST, PC_ + 1, G3, 512, 0, -EINVAL, P_HOST, P_HOST, { { 0 } } },  /* misaligned */
		{ OP_SHARE_GUEST, PC_, G3, 512, 0, 0, P_NPSHARE(1), P_NPSHARE(1), { { SB, SB }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G3, 1, 0, -E2BIG, P_NPSHARE(1), P_NPSHARE(1), { { SB, SB }, { NOP, NOP } } },
		{ OP_SHARE_GUEST, PD_, G1, 0, 0, 0, P_NPSHARE(1), P_NPSHARE(2), { { SB, SB }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G3, 512, 0, 0, P_HOST, P_NPSHARE(1), { { NOP, NOP }, { NOP, NOP } } },
		{ OP_UNSHARE_GUEST, 0, G1, 0, 0, 0, P_HOST, P_HOST, { { NOP, NOP }, { NOP, NOP } } },
	}, 6 },
	{ "donate_guest", PA_, PB_, { G1, G2 }, {
		{ OP_DONATE_GUEST, PA_, G1, 0, 0, -EINVAL, P_HOST, P_HOST, { { 0 } } },   /* np VM */
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_DONATE_GUEST, PA_, G2, 0, 1, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_DONATE_GUEST, PB_, G1, 0, 1, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_SHARE_HYP, PA_, 0, 0, 0, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_USE_DMA, PA_, 0, 0, 0, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_RECLAIM, PA_, 0, 0, 0, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_HYP_DONATE_HOST, PA_, 0, 0, 0, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_DONATE_GUEST, PB_, 1ull << 36, 0, 1, -EINVAL, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_DONATE_GUEST, PB_, G2, 0, 1, 0, P_GUEST(G1), P_GUEST(G2), { { NOP, NOP }, { OWN, OWN } } },
	}, 10 },
	{ "cross_refusals", PA_, PB_, { G1, G2 }, {
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, 0, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_SHARE_HYP, PA_, 0, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_UNSHARE_HYP, PA_, 0, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_PIN, PA_, 0, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_DONATE_HYP, PA_, 0, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_HYP_DONATE_HOST, PA_, 0, 0, 0, -EPERM, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_DONATE_GUEST, PB_, G1, 0, 1, 0, P_NPSHARE(1), P_GUEST(G1), { { SB, NOP }, { OWN, NOP } } },
		/* a range with one page the host cannot use: refused whole */
		{ OP_USE_DMA, PA_, 0, 2, 0, -EPERM, P_NPSHARE(1), P_GUEST(G1), { { SB, NOP }, { OWN, NOP } } },
		{ OP_G_SHARE, 0, G1, 0, 1, 0, P_NPSHARE(1), P_GSHARED(G1, 0), { { SB, NOP }, { SO, NOP } } },
		/* the host only borrows B: it cannot lend it on */
		{ OP_SHARE_GUEST, PB_, G2, 0, 0, -EPERM, P_NPSHARE(1), P_GSHARED(G1, 0), { { SB, NOP }, { SO, NOP } } },
	}, 10 },
	{ "guest_share_unshare", PA_, PB_, { G1, G2 }, {
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_G_UNSHARE, 0, G1, 0, 1, -EPERM, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_G_SHARE, 0, G1, 0, 1, 0, P_GSHARED(G1, 0), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		{ OP_G_SHARE, 0, G1, 0, 1, -EPERM, P_GSHARED(G1, 0), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		{ OP_USE_DMA, PA_, 0, 0, 0, 0, P_GSHARED(G1, 1), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		{ OP_G_UNSHARE, 0, G1, 0, 1, -EBUSY, P_GSHARED(G1, 1), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		/* not owned: -EPERM before any reference is looked at (Android's relinquish_walker) */
		{ OP_G_RELINQUISH, 0, G1, 0, 1, -EPERM, P_GSHARED(G1, 1), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		{ OP_UNUSE_DMA, PA_, 0, 0, 0, 0, P_GSHARED(G1, 0), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		{ OP_G_RELINQUISH, 0, G1, 0, 1, -EPERM, P_GSHARED(G1, 0), P_HOST, { { NOP, NOP }, { SO, NOP } } },
		{ OP_G_UNSHARE, 0, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
	}, 10 },
	{ "guest_relinquish", PA_, PB_, { G1, G2 }, {
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_G_RELINQUISH, 0, G2, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },  /* no-op */
		{ OP_G_RELINQUISH, 0, G1, 0, 1, 0, P_HOST, P_HOST, { { 0 } } },
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
	}, 4 },
	{ "teardown_reclaim", PA_, PB_, { G1, G2 }, {
		{ OP_DONATE_GUEST, PA_, G1, 0, 1, 0, P_GUEST(G1), P_HOST, { { NOP, NOP }, { OWN, NOP } } },
		{ OP_DONATE_GUEST, PB_, G2, 0, 1, 0, P_GUEST(G1), P_GUEST(G2), { { NOP, NOP }, { OWN, OWN } } },
		{ OP_G_SHARE, 0, G2, 0, 1, 0, P_GUEST(G1), P_GSHARED(G2, 0), { { NOP, NOP }, { OWN, SO } } },
		{ OP_FINALIZE, 0, 0, 0, 1, -EINVAL, P_GUEST(G1), P_GSHARED(G2, 0), { { NOP, NOP }, { OWN, SO } } },
		{ OP_TEARDOWN, 0, 0, 0, 1, 0, P_GUEST(G1), P_GSHARED(G2, 0), { { NOP, NOP }, { OWN, SO } } },
		{ OP_DONATE_GUEST, 0x1100u, G1 + 7, 0, 1, -EINVAL, P_GUEST(G1), P_GSHARED(G2, 0), { { NOP, NOP }, { OWN, SO } } },
		{ OP_FINALIZE, 0, 0, 0, 1, -EBUSY, P_GUEST(G1), P_GSHARED(G2, 0), { { NOP, NOP }, { OWN, SO } } },
		{ OP_RECLAIM, PA_, 0, 0, 0, 0, P_HOST, P_GSHARED(G2, 0), { { NOP, NOP }, { NOP, SO } } },
		{ OP_RECLAIM, PB_, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
		{ OP_RECLAIM, PB_, 0, 0, 0, -EPERM, P_HOST, P_HOST, { { 0 } } },
	}, 10 },
	{ "teardown_np", PA_, PB_, { G1, G2 }, {
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, 0, P_NPSHARE(1), P_HOST, { { SB, NOP }, { NOP, NOP } } },
		{ OP_SHARE_GUEST, PA_, G2, 0, 0, 0, P_NPSHARE(2), P_HOST, { { SB, SB }, { NOP, NOP } } },
		{ OP_TEARDOWN, 0, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
		{ OP_TEARDOWN, 0, 0, 0, 0, -EINVAL, P_HOST, P_HOST, { { 0 } } },
		{ OP_SHARE_GUEST, PA_, G1, 0, 0, -EINVAL, P_HOST, P_HOST, { { 0 } } },
		{ OP_FINALIZE, 0, 0, 0, 0, 0, P_HOST, P_HOST, { { 0 } } },
	}, 6 },
};

static const char *op_name(enum op op)
{
	static const char *const n[] = {
		"share_hyp", "unshare_hyp", "donate_hyp", "hyp_donate_host", "pin", "unpin",
		"use_dma", "unuse_dma", "share_guest", "unshare_guest", "donate_guest",
		"MEM_SHARE", "MEM_UNSHARE", "MEM_RELINQUISH", "teardown", "reclaim", "finalize",
	};
	return n[op];
}

/* A guest call: the errno behind its R0 (0 on SUCCESS). */
static int guest_call(struct env *e, uint32_t fn, int vm, uint64_t gfn)
{
	uint64_t regs[4] = { fn, gfn << 12, 1, 0 };
	struct stack_pkvm_hvc_res res;

	if (fn == STACK_PKVM_SMCCC_MEM_RELINQUISH)
		regs[2] = 0;
	cr_assert_eq(stack_pkvm_guest_hvc(e->pk, &e->who, e->vm[vm], regs, &res, &e->cycles), 0);
	cr_assert(!res.exit_to_host);
	if (!res.err) {
		cr_assert_eq(regs[0], STACK_PKVM_SMCCC_SUCCESS);
		if (fn != STACK_PKVM_SMCCC_MEM_RELINQUISH)
			cr_assert_eq(regs[1], 1);
	} else {
		cr_assert_eq(regs[0], STACK_PKVM_SMCCC_INVALID_PARAM);
	}
	return res.err;
}

static int run_step(struct env *e, const struct step *s)
{
	uint64_t n = s->n ? s->n : 1;
	uint32_t h = e->vm[s->vm];

	switch (s->op) {
	case OP_SHARE_HYP:      return stack_pkvm_host_share_hyp(e->pk, &e->who, s->pfn, &e->cycles);
	case OP_UNSHARE_HYP:    return stack_pkvm_host_unshare_hyp(e->pk, &e->who, s->pfn, &e->cycles);
	case OP_DONATE_HYP:     return stack_pkvm_host_donate_hyp(e->pk, &e->who, s->pfn, n, &e->cycles);
	case OP_HYP_DONATE_HOST:return stack_pkvm_hyp_donate_host(e->pk, &e->who, s->pfn, n, &e->cycles);
	case OP_PIN:            return stack_pkvm_hyp_pin(e->pk, &e->who, s->pfn, n, &e->cycles);
	case OP_UNPIN:          return stack_pkvm_hyp_unpin(e->pk, &e->who, s->pfn, n, &e->cycles);
	case OP_USE_DMA:        return stack_pkvm_host_use_dma(e->pk, &e->who, s->pfn, n, &e->cycles);
	case OP_UNUSE_DMA:      return stack_pkvm_host_unuse_dma(e->pk, &e->who, s->pfn, n, &e->cycles);
	case OP_SHARE_GUEST:
		return stack_pkvm_host_share_guest(e->pk, &e->who, s->pfn, s->gfn, n, h,
						   S2_PERM_R | S2_PERM_W, &e->cycles);
	case OP_UNSHARE_GUEST:  return stack_pkvm_host_unshare_guest(e->pk, &e->who, s->gfn, n, h, &e->cycles);
	case OP_DONATE_GUEST:   return stack_pkvm_host_donate_guest(e->pk, &e->who, s->pfn, s->gfn, h, &e->cycles);
	case OP_G_SHARE:        return guest_call(e, STACK_PKVM_SMCCC_MEM_SHARE, s->vm, s->gfn);
	case OP_G_UNSHARE:      return guest_call(e, STACK_PKVM_SMCCC_MEM_UNSHARE, s->vm, s->gfn);
	case OP_G_RELINQUISH:   return guest_call(e, STACK_PKVM_SMCCC_MEM_RELINQUISH, s->vm, s->gfn);
	case OP_TEARDOWN:       return stack_pkvm_vm_teardown(e->pk, &e->who, h, &e->cycles);
	case OP_RECLAIM:        return stack_pkvm_host_reclaim_page(e->pk, &e->who, s->pfn, &e->cycles);
	case OP_FINALIZE:       return stack_pkvm_vm_finalize(e->pk, &e->who, h, &e->cycles);
	}
	return 1;
}

static void assert_page(struct env *e, uint32_t pfn, const struct pexp *x, const char *what)
{
	struct stack_pkvm_page p;

	cr_assert_eq(stack_pkvm_page(e->pk, pfn, &p), 0, "%s", what);
	cr_assert(p.host == tstate[x->host] && p.hyp == tstate[x->hyp] &&
		  p.share_guest == x->share && p.pin == x->pin && p.dma == x->dma &&
		  p.iommu == x->iommu && stack_pkvm_dma_allowed(e->pk, (uint64_t)pfn << 12) == x->iommu,
		  "%s: pfn 0x%x: host %s hyp %s share %u pin %u dma %u iommu %d; want host %s hyp %s "
		  "share %u pin %u dma %u iommu %d", what, pfn, stack_pkvm_state_names[p.host],
		  stack_pkvm_state_names[p.hyp], p.share_guest, p.pin, p.dma, p.iommu,
		  stack_pkvm_state_names[tstate[x->host]], stack_pkvm_state_names[tstate[x->hyp]],
		  x->share, x->pin, x->dma, x->iommu);
	if (x->host == NOP)
		cr_assert_eq(p.host_owner, x->owner, "%s: pfn 0x%x: owner %u, want %u", what, pfn,
			     p.host_owner, x->owner);
	cr_assert_eq(p.vm, x->vm < 0 ? 0 : e->vm[x->vm], "%s: pfn 0x%x: held by vm 0x%x", what, pfn,
		     p.vm);
	if (x->vm < 0)
		cr_assert_eq(p.guest, x->share ? STACK_PKVM_SHARED_BORROWED : STACK_PKVM_NOPAGE,
			     "%s: pfn 0x%x: guest side %s", what, pfn, stack_pkvm_state_names[p.guest]);
	else
		cr_assert(p.gfn == x->gfn && p.guest == tstate[x->guest],
			  "%s: pfn 0x%x: guest gfn 0x%llx %s, want gfn 0x%llx %s", what, pfn,
			  (unsigned long long)p.gfn, stack_pkvm_state_names[p.guest],
			  (unsigned long long)x->gfn, stack_pkvm_state_names[tstate[x->guest]]);
}

/*
 * The parameter is the sequence's index: Criterion hands parameters to
 * the test process through a buffer too small for a whole sequence.
 */
ParameterizedTestParameters(pkvm, transitions)
{
	static unsigned idx[sizeof(seqs) / sizeof(seqs[0])];

	for (unsigned i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = i;
	return cr_make_param_array(unsigned, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(unsigned *qi, pkvm, transitions)
{
	const struct seq *q = &seqs[*qi];
	struct env e;

	env_new(&e);
	check(&e, "start");
	for (unsigned i = 0; i < q->n; i++) {
		const struct step *s = &q->st[i];
		char what[96];
		int rc;

		snprintf(what, sizeof(what), "%s step %u (%s)", q->name, i, op_name(s->op));
		rc = run_step(&e, s);
		cr_assert_eq(rc, s->rc, "%s: rc %d, want %d", what, rc, s->rc);
		check(&e, what);
		assert_page(&e, q->pa, &s->a, what);
		assert_page(&e, q->pb, &s->b, what);
		for (int v = 0; v < 2; v++)
			for (int j = 0; j < 2; j++) {
				enum stack_pkvm_state g = stack_pkvm_guest_state(e.pk, e.vm[v], q->gfn[j], NULL);

				cr_assert_eq(g, tstate[s->g[v][j]], "%s: vm%d gfn 0x%x: %s, want %s", what, v,
					     q->gfn[j], stack_pkvm_state_names[g],
					     stack_pkvm_state_names[tstate[s->g[v][j]]]);
			}
	}
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Host aborts, lazy idmap, TLBs                                       */
/* ------------------------------------------------------------------ */

static struct stack_pkvm_acc_res host_acc(struct env *e, uint64_t pa, bool write,
					  enum stack_pkvm_by by)
{
	struct stack_pkvm_acc_res r;

	cr_assert_eq(stack_pkvm_host_access(e->pk, &e->who, pa, write, by, &r, &e->cycles), 0);
	return r;
}

Test(pkvm, lazy_idmap_largest_block)
{
	struct env e;
	struct stack_pkvm_acc_res r;
	struct stack_pkvm_page p;

	env_new(&e);
	/* a fresh 2M region: one 2M block (1G does not fit in 16 MiB of memory) */
	r = host_acc(&e, 0x1400000 + 0x5008, false, STACK_PKVM_BY_KERNEL);
	cr_assert(r.result == STACK_PKVM_ACC_OK && r.mapped && r.map_size == SIM_SZ_2M);
	cr_assert_eq(stack_pkvm_page(e.pk, 0x1405, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_2M && p.host == STACK_PKVM_OWNED);
	/* mapped now: no fault the second time */
	r = host_acc(&e, 0x1400000 + 0x1ff000, true, STACK_PKVM_BY_KERNEL);
	cr_assert(r.result == STACK_PKVM_ACC_OK && !r.mapped);
	cr_assert_eq(stack_pkvm_stats(e.pk)->host_aborts, 1);
	cr_assert_eq(stack_pkvm_stats(e.pk)->idmap_2m, 1);
	/* the 2M holding the VMs' metadata and the pool: pages are not uniform, 4K maps */
	r = host_acc(&e, ((uint64_t)META_NP << 12) + 0x20000, false, STACK_PKVM_BY_KERNEL);
	cr_assert(r.result == STACK_PKVM_ACC_OK && r.mapped && r.map_size == SIM_SZ_4K);
	/* a page shared with the hyp is mapped at 4K inside a lazily mapped 2M block */
	cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, 0x1410, NULL), 0);
	cr_assert_eq(stack_pkvm_page(e.pk, 0x1410, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_4K && p.host == STACK_PKVM_SHARED_OWNED);
	cr_assert_eq(stack_pkvm_page(e.pk, 0x1411, &p), 0);
	cr_assert(p.host_map_size == SIM_SZ_4K && p.host == STACK_PKVM_OWNED);   /* split */
	check(&e, "after split");
	r = host_acc(&e, 0x1410000, true, STACK_PKVM_BY_USER);
	cr_assert(r.result == STACK_PKVM_ACC_OK && !r.mapped);
	env_free(&e);
}

/* A 3-level host stage 2 over 2 GiB: a 1G block where a whole 1G is the host's, split on demand. */
Test(pkvm, lazy_idmap_1g_three_levels)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err = { "" };
	struct sim_who who = who_at(0, 0);
	struct stack_pkvm_cfg cfg;
	struct stack_pkvm_acc_res r;
	struct stack_pkvm_page p;
	struct stack_pkvm *pk;
	char msg[256] = "";
	uint64_t g = SIM_SZ_1G;

	cr_assert_eq(sim_cfg_set(s, "machine.mem", "4g", "test", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	stack_pkvm_cfg_default(&cfg);
	cfg.host_levels = 3;
	cfg.mem_base = g;
	cfg.mem_size = 2 * g;
	cfg.pool_base = 2 * g + SIM_SZ_2M;
	cfg.pool_pages = 64;
	pk = stack_pkvm_new(NULL, sim_mem(s), s2_ctx_get(s), &cfg, &who, &err);
	cr_assert_not_null(pk, "%s", err.msg);
	cr_assert_eq(stack_pkvm_host_access(pk, &who, g + 0x1234, true, STACK_PKVM_BY_KERNEL, &r, NULL), 0);
	cr_assert(r.result == STACK_PKVM_ACC_OK && r.map_size == SIM_SZ_1G);
	/* the second 1G holds the pool: 2M there */
	cr_assert_eq(stack_pkvm_host_access(pk, &who, 2 * g + 8 * SIM_SZ_2M, false, STACK_PKVM_BY_KERNEL,
					    &r, NULL), 0);
	cr_assert(r.result == STACK_PKVM_ACC_OK && r.map_size == SIM_SZ_2M);
	cr_assert_eq(stack_pkvm_check(pk, msg, sizeof(msg)), 0, "%s", msg);
	/* a page of the 1G block given to the hyp: the block split twice, the page gone */
	cr_assert_eq(stack_pkvm_host_donate_hyp(pk, &who, (g + 0x5000) >> 12, 1, NULL), 0);
	cr_assert_eq(stack_pkvm_stats(pk)->bbm, 2);
	cr_assert_eq(stack_pkvm_host_access(pk, &who, g + 0x5000, false, STACK_PKVM_BY_KERNEL, &r, NULL), 0);
	cr_assert_eq(r.result, STACK_PKVM_ACC_OOPS);
	cr_assert_eq(stack_pkvm_page(pk, (g + 0x6000) >> 12, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_4K);
	cr_assert_eq(stack_pkvm_page(pk, (g + SIM_SZ_2M) >> 12, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_2M);
	cr_assert_eq(stack_pkvm_host_access(pk, &who, g + 0x6000, true, STACK_PKVM_BY_USER, &r, NULL), 0);
	cr_assert(r.result == STACK_PKVM_ACC_OK && !r.mapped);
	cr_assert_eq(stack_pkvm_check(pk, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(stack_pkvm_stats(pk)->idmap_1g, 1);
	cr_assert_eq(stack_pkvm_stats(pk)->idmap_2m, 1);
	stack_pkvm_free(pk);
	sim_free(s);
}

/* An access to a page the host gave away: the abort pKVM injects, by who accessed it. */
static const struct {
	enum stack_pkvm_by by;
	bool write;
	enum stack_pkvm_access want;
	uint64_t ec;
} inject_cases[] = {
	{ STACK_PKVM_BY_KERNEL, false, STACK_PKVM_ACC_OOPS, 0x25 },
	{ STACK_PKVM_BY_KERNEL, true, STACK_PKVM_ACC_OOPS, 0x25 },
	{ STACK_PKVM_BY_USER, true, STACK_PKVM_ACC_SIGSEGV, 0x24 },
	{ STACK_PKVM_BY_UACCESS, false, STACK_PKVM_ACC_EFAULT, 0x25 },
};

Test(pkvm, injected_aborts)
{
	struct env e;
	uint64_t pa = (uint64_t)PA_ << 12;

	env_new(&e);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	for (size_t i = 0; i < sizeof(inject_cases) / sizeof(inject_cases[0]); i++) {
		struct stack_pkvm_acc_res r = host_acc(&e, pa + 8, inject_cases[i].write, inject_cases[i].by);

		cr_assert_eq(r.result, inject_cases[i].want, "case %zu: %s", i,
			     stack_pkvm_access_names[r.result]);
		cr_assert(!r.mapped);
		cr_assert_eq(r.esr >> 26, inject_cases[i].ec, "case %zu", i);
		cr_assert(r.esr & (1ull << 7), "case %zu: S1PTW marks a pKVM abort", i);
		cr_assert_eq((r.esr >> 6) & 1, inject_cases[i].write, "case %zu: WnR", i);
		cr_assert_eq(r.esr & 0x3C, 0x04, "case %zu: a translation fault", i);
		cr_assert_eq(r.far, pa + 8);
	}
	cr_assert_eq(stack_pkvm_stats(e.pk)->injected, 4);
	/* the hyp's pool and a page donated to it: the same */
	cr_assert_eq(host_acc(&e, POOL_BASE, false, STACK_PKVM_BY_KERNEL).result, STACK_PKVM_ACC_OOPS);
	check(&e, "end");
	env_free(&e);
}

/*
 * The TLB keeps a translation until it is invalidated: a change to the
 * host stage 2 without TLBI leaves the host its old access (the window
 * the hypervisor must close); every donation closes it before returning.
 */
Test(pkvm, stale_tlb_until_tlbi)
{
	struct env e;
	uint64_t pa = (uint64_t)PA_ << 12, pc = (uint64_t)PC_ << 12, t0;
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	const struct stack_pkvm_stats *c;
	struct stack_pkvm_page p;

	env_new(&e);
	c = stack_pkvm_stats(e.pk);
	/* share and unshare leave page A mapped at 4K (a non-default state forced a page) */
	cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, PA_, NULL), 0);
	cr_assert_eq(stack_pkvm_host_unshare_hyp(e.pk, &e.who, PA_, NULL), 0);
	cr_assert_eq(stack_pkvm_page(e.pk, PA_, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_4K && p.host == STACK_PKVM_OWNED);
	cr_assert_eq(host_acc(&e, pa, true, STACK_PKVM_BY_KERNEL).result, STACK_PKVM_ACC_OK);
	/* a bare table change, no TLBI: the TLB still lets the host in */
	cr_assert_eq(s2_annotate(stack_pkvm_host_pgt(e.pk), &e.who, pa, SIM_SZ_4K,
				 STACK_PKVM_ID_HYP), S2_OK);
	cr_assert_eq(host_acc(&e, pa, true, STACK_PKVM_BY_KERNEL).result, STACK_PKVM_ACC_OK);
	cr_assert_eq(s2_map(stack_pkvm_host_pgt(e.pk), &e.who, pa, pa, SIM_SZ_4K, SIM_SZ_4K, &prot),
		     S2_OK);
	check(&e, "restored");
	/* a donation invalidates before it returns: the next access faults */
	t0 = c->tlbi_host;
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	cr_assert_eq(c->tlbi_host, t0 + 1);
	cr_assert_eq(host_acc(&e, pa, true, STACK_PKVM_BY_KERNEL).result, STACK_PKVM_ACC_OOPS);
	/* a page inside a 2M block: break-before-make of the block, then the page */
	cr_assert_eq(host_acc(&e, pc, false, STACK_PKVM_BY_KERNEL).result, STACK_PKVM_ACC_OK);
	cr_assert_eq(host_acc(&e, pc + 4 * SIM_SZ_4K, false, STACK_PKVM_BY_KERNEL).result,
		     STACK_PKVM_ACC_OK);
	t0 = c->tlbi_host;
	cr_assert_eq(c->bbm, 1, "bbm %llu", (unsigned long long)c->bbm);   /* the unshare's page */
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PC_ + 3, G2, e.vm[1], NULL), 0);
	cr_assert_eq(c->tlbi_host, t0 + 2);
	cr_assert_eq(c->bbm, 2);
	cr_assert_eq(host_acc(&e, pc + 3 * SIM_SZ_4K, false, STACK_PKVM_BY_UACCESS).result,
		     STACK_PKVM_ACC_EFAULT);
	/* its neighbours are still the host's, at 4K now */
	cr_assert_eq(host_acc(&e, pc + 4 * SIM_SZ_4K, false, STACK_PKVM_BY_KERNEL).result,
		     STACK_PKVM_ACC_OK);
	cr_assert_eq(stack_pkvm_page(e.pk, PC_ + 4, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_4K);
	check(&e, "end");
	env_free(&e);
}

/* The guest sees its donated page; after relinquish it faults and the host may use it. */
Test(pkvm, guest_access_and_poison)
{
	struct env e;
	uint64_t pa = (uint64_t)PA_ << 12, got = 0, v = 0;
	uint64_t regs[4] = { STACK_PKVM_SMCCC_MEM_RELINQUISH, (uint64_t)G1 << 12, 0, 0 };
	struct stack_pkvm_hvc_res res;

	env_new(&e);
	sim_mem_poke64(sim_mem(e.s), pa, 0x1122334455667788ull);
	cr_assert_eq(stack_pkvm_guest_access(e.pk, &e.who, e.vm[1], (uint64_t)G1 << 12, false, &got, NULL),
		     S2_FAULT_TRANSLATION);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	cr_assert_eq(stack_pkvm_guest_access(e.pk, &e.who, e.vm[1], ((uint64_t)G1 << 12) + 16, true,
					     &got, NULL), S2_FAULT_NONE);
	cr_assert_eq(got, pa + 16);
	/* donation does not clear: the host prepared the page's content (firmware, zero page) */
	cr_assert_eq(sim_mem_peek64(sim_mem(e.s), pa), 0x1122334455667788ull);
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert(regs[0] == STACK_PKVM_SMCCC_SUCCESS && res.pa == pa && !res.err);
	sim_mem_peek(sim_mem(e.s), pa, &v, sizeof(v));
	cr_assert_eq(v, 0, "relinquished page poisoned");
	cr_assert_eq(stack_pkvm_stats(e.pk)->poisoned, 1);
	/* the guest's TLB entry went with the TLBI */
	cr_assert_eq(stack_pkvm_guest_access(e.pk, &e.who, e.vm[1], (uint64_t)G1 << 12, false, &got, NULL),
		     S2_FAULT_TRANSLATION);
	cr_assert_eq(host_acc(&e, pa, true, STACK_PKVM_BY_USER).result, STACK_PKVM_ACC_OK);
	check(&e, "end");
	env_free(&e);
}

/* Teardown: guest-owned pages come back zeroed, shared ones with their data; metadata returns. */
Test(pkvm, destroy_poisons_and_returns_metadata)
{
	struct env e;
	uint64_t pa = (uint64_t)PA_ << 12, pb = (uint64_t)PB_ << 12;
	uint64_t regs[4] = { STACK_PKVM_SMCCC_MEM_SHARE, (uint64_t)G2 << 12, 1, 0 };
	struct stack_pkvm_hvc_res res;
	struct stack_pkvm_page p;
	uint64_t pool = 0;

	env_new(&e);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PB_, G2, e.vm[1], NULL), 0);
	sim_mem_poke64(sim_mem(e.s), pa, 0xAAAA);
	sim_mem_poke64(sim_mem(e.s), pb, 0xBBBB);
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert_eq(regs[0], STACK_PKVM_SMCCC_SUCCESS);
	cr_assert_eq(stack_pkvm_vm_pages(e.pk, e.vm[1]), 2);
	pool = stack_pkvm_pool_free(e.pk);
	cr_assert_eq(stack_pkvm_vm_destroy(e.pk, &e.who, e.vm[1], NULL), 0);
	check(&e, "destroyed");
	cr_assert(!stack_pkvm_vm_exists(e.pk, e.vm[1]));
	cr_assert_eq(sim_mem_peek64(sim_mem(e.s), pa), 0, "guest-owned page poisoned");
	cr_assert_eq(sim_mem_peek64(sim_mem(e.s), pb), 0xBBBB, "shared page keeps its data");
	for (uint32_t i = 0; i < META_N; i++) {
		cr_assert_eq(stack_pkvm_page(e.pk, META_P + i, &p), 0);
		cr_assert(p.host == STACK_PKVM_OWNED && p.hyp == STACK_PKVM_NOPAGE && p.iommu,
			  "metadata page %u back to the host", i);
		cr_assert_eq(sim_mem_peek64(sim_mem(e.s), ((uint64_t)META_P + i) << 12), 0);
	}
	cr_assert_geq(stack_pkvm_pool_free(e.pk), pool - 2);
	cr_assert_eq(stack_pkvm_stats(e.pk)->reclaimed, 2);
	cr_assert_eq(stack_pkvm_stats(e.pk)->poisoned, 1);
	cr_assert_eq(stack_pkvm_stats(e.pk)->tlbi_vm, 1);
	/* the handle is free for a new VM */
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, true, META_P, META_N, &e.vm[1], NULL), 0);
	cr_assert_eq(e.vm[1], STACK_PKVM_HANDLE_BASE + 1);
	check(&e, "re-created");
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Guest SMCCC calls                                                   */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	uint64_t in[4];
	uint64_t out0, out1;
	bool exits;
} smccc_cases[] = {
	{ "features", { STACK_PKVM_SMCCC_FEATURES, 0, 0, 0 },
	  (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 9), 0, false },
	{ "meminfo", { STACK_PKVM_SMCCC_HYP_MEMINFO, 0, 0, 0 }, 4096, STACK_PKVM_MEMINFO_HAS_RANGE, false },
	{ "meminfo-args", { STACK_PKVM_SMCCC_HYP_MEMINFO, 1, 0, 0 }, STACK_PKVM_SMCCC_INVALID_PARAM, 0, false },
	{ "share-r3", { STACK_PKVM_SMCCC_MEM_SHARE, G1 << 12, 1, 1 }, STACK_PKVM_SMCCC_INVALID_PARAM, 0, false },
	{ "share-0", { STACK_PKVM_SMCCC_MEM_SHARE, G1 << 12, 0, 0 }, STACK_PKVM_SMCCC_INVALID_PARAM, 0, false },
	{ "share-unaligned", { STACK_PKVM_SMCCC_MEM_SHARE, (G1 << 12) + 8, 1, 0 },
	  STACK_PKVM_SMCCC_INVALID_PARAM, 0, false },
	{ "share-unmapped", { STACK_PKVM_SMCCC_MEM_SHARE, G2 << 12, 1, 0 }, 0, 0, true },
	{ "relinquish-r2", { STACK_PKVM_SMCCC_MEM_RELINQUISH, G1 << 12, 1, 0 },
	  STACK_PKVM_SMCCC_INVALID_PARAM, 0, false },
	{ "unknown", { 0xC6000007u, 0, 0, 0 }, 0, 0, true },
};

Test(pkvm, smccc_calls)
{
	struct env e;

	env_new(&e);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	for (size_t i = 0; i < sizeof(smccc_cases) / sizeof(smccc_cases[0]); i++) {
		uint64_t regs[4];
		struct stack_pkvm_hvc_res res;

		memcpy(regs, smccc_cases[i].in, sizeof(regs));
		cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
		cr_assert_eq(res.exit_to_host, smccc_cases[i].exits, "%s", smccc_cases[i].name);
		if (smccc_cases[i].exits) {
			cr_assert_eq(memcmp(regs, smccc_cases[i].in, sizeof(regs)), 0, "%s: regs kept",
				     smccc_cases[i].name);
			continue;
		}
		cr_assert_eq(regs[0], smccc_cases[i].out0, "%s: r0 0x%llx", smccc_cases[i].name,
			     (unsigned long long)regs[0]);
		cr_assert_eq(regs[1], smccc_cases[i].out1, "%s: r1", smccc_cases[i].name);
		check(&e, smccc_cases[i].name);
	}
	/* -EFAULT names the IPA to fault in */
	{
		uint64_t regs[4] = { STACK_PKVM_SMCCC_MEM_SHARE, (uint64_t)G2 << 12, 1, 0 };
		struct stack_pkvm_hvc_res res;

		cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
		cr_assert(res.exit_to_host && res.fault_ipa == (uint64_t)G2 << 12);
	}
	/* a non-protected VM's calls all go to the host; unknown and dying VMs: -EINVAL */
	{
		uint64_t regs[4] = { STACK_PKVM_SMCCC_HYP_MEMINFO, 0, 0, 0 };
		struct stack_pkvm_hvc_res res;

		cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[0], regs, &res, NULL), 0);
		cr_assert(res.exit_to_host);
		cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, 0x1234, regs, &res, NULL), -EINVAL);
	}
	cr_assert_eq(stack_pkvm_stats(e.pk)->guest_exits, 4);
	env_free(&e);
}

/* The ranged MEM_SHARE: at most 512 granules a call, the count returned, the guest loops. */
Test(pkvm, ranged_share)
{
	struct env e;
	const uint32_t n = 600, base = 0x1400;
	uint64_t regs[4], done = 0;
	struct stack_pkvm_hvc_res res;
	unsigned calls = 0;

	env_new(&e);
	cr_assert_eq(stack_pkvm_vm_topup(e.pk, &e.who, e.vm[1], 0x1D20, 8, NULL), 0);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, base + i, G3 + i, e.vm[1], NULL), 0);
	check(&e, "donated");
	while (done < n) {
		regs[0] = STACK_PKVM_SMCCC_MEM_SHARE;
		regs[1] = ((uint64_t)G3 + done) << 12;
		regs[2] = n - done;
		regs[3] = 0;
		cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
		cr_assert_eq(regs[0], STACK_PKVM_SMCCC_SUCCESS);
		cr_assert_eq(regs[1], calls == 0 ? 512 : n - 512);
		done += regs[1];
		calls++;
	}
	cr_assert_eq(calls, 2);
	check(&e, "shared");
	/* a range that meets a page already shared stops there */
	regs[0] = STACK_PKVM_SMCCC_MEM_UNSHARE;
	regs[1] = (uint64_t)G3 << 12;
	regs[2] = 2;
	regs[3] = 0;
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert(regs[0] == STACK_PKVM_SMCCC_SUCCESS && regs[1] == 2);
	regs[0] = STACK_PKVM_SMCCC_MEM_SHARE;
	regs[1] = (uint64_t)G3 << 12;
	regs[2] = 3;
	regs[3] = 0;
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert(regs[0] == STACK_PKVM_SMCCC_SUCCESS && regs[1] == 2, "r1 %llu",
		  (unsigned long long)regs[1]);
	cr_assert_eq(stack_pkvm_stats(e.pk)->guest_share, n + 2);
	check(&e, "end");
	env_free(&e);
}

/* Without HAS_RANGE (cfg.guest_range off), R2 must be 0 and one page is done. */
Test(pkvm, unranged_guest_calls)
{
	struct env e;
	uint64_t regs[4] = { STACK_PKVM_SMCCC_HYP_MEMINFO, 0, 0, 0 };
	struct stack_pkvm_hvc_res res;
	struct sim_err err = { "" };
	struct stack_pkvm_cfg cfg;

	env_new(&e);
	cfg = *stack_pkvm_cfg(e.pk);
	stack_pkvm_free(e.pk);
	cfg.guest_range = false;
	/* no stats this time: stack.pkvm.* stays taken for the run */
	e.pk = stack_pkvm_new(NULL, sim_mem(e.s), s2_ctx_get(e.s), &cfg, &e.who, &err);
	cr_assert_not_null(e.pk, "%s", err.msg);
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, true, META_P, META_N, &e.vm[1], NULL), 0);
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert(regs[0] == 4096 && regs[1] == 0);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PB_, G2, e.vm[1], NULL), 0);
	regs[0] = STACK_PKVM_SMCCC_MEM_SHARE;
	regs[1] = (uint64_t)G1 << 12;
	regs[2] = 2;
	regs[3] = 0;
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert_eq(regs[0], STACK_PKVM_SMCCC_INVALID_PARAM);
	regs[0] = STACK_PKVM_SMCCC_MEM_SHARE;
	regs[1] = (uint64_t)G1 << 12;
	regs[2] = 0;
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert_eq(regs[0], STACK_PKVM_SMCCC_SUCCESS);
	cr_assert_eq(stack_pkvm_guest_state(e.pk, e.vm[1], G1, NULL), STACK_PKVM_SHARED_OWNED);
	cr_assert_eq(stack_pkvm_guest_state(e.pk, e.vm[1], G2, NULL), STACK_PKVM_OWNED);
	check(&e, "end");
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Memory for tables, VMs, set-up errors                               */
/* ------------------------------------------------------------------ */

Test(pkvm, memcache_enomem_and_topup)
{
	struct env e;
	uint64_t mc;

	env_new(&e);
	/* 6 memcache pages: 3 tables below the root for the first GFN region */
	cr_assert_eq(stack_pkvm_vm_memcache(e.pk, e.vm[1]), META_N - 2);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	mc = stack_pkvm_vm_memcache(e.pk, e.vm[1]);
	cr_assert_eq(mc, META_N - 2 - 3, "level-1, -2 and -3 tables: %llu left", (unsigned long long)mc);
	/* far away GFNs each need new tables until the memcache is empty */
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PB_, 1ull << 27, e.vm[1], NULL), 0);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PB_ + 1, 2ull << 27, e.vm[1], NULL), -ENOMEM);
	check(&e, "enomem");
	{
		struct stack_pkvm_page p;

		cr_assert_eq(stack_pkvm_page(e.pk, PB_ + 1, &p), 0);
		cr_assert(p.host == STACK_PKVM_OWNED && p.iommu, "refused: nothing changed");
	}
	cr_assert_eq(stack_pkvm_vm_topup(e.pk, &e.who, e.vm[1], 0x1D20, 4, NULL), 0);
	cr_assert_eq(stack_pkvm_vm_topup(e.pk, &e.who, e.vm[1], 0x1D20, 4, NULL), -EPERM);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PB_ + 1, 2ull << 27, e.vm[1], NULL), 0);
	check(&e, "end");
	env_free(&e);
}

Test(pkvm, vm_create_errors)
{
	struct env e;
	uint32_t h = 0;

	env_new(&e);
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, true, 0x1D30, 1, &h, NULL), -EINVAL);
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, true, 0x10, 4, &h, NULL), -EINVAL);
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, true, META_P, 4, &h, NULL), -EPERM);
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, true, POOL_BASE >> 12, 4, &h, NULL), -EPERM);
	cr_assert_eq(stack_pkvm_vm_create(e.pk, &e.who, false, 0x1D30, 2, &h, NULL), 0);
	cr_assert_eq(h, STACK_PKVM_HANDLE_BASE + 2);
	check(&e, "end");
	cr_assert_eq(stack_pkvm_stats(e.pk)->vms, 3);
	env_free(&e);
}

Test(pkvm, config_errors)
{
	static const struct {
		uint64_t base, size, pool, pages;
		unsigned levels;
		const char *msg;
	} c[] = {
		{ 0x1000800, 0x1000000, 0x1E00000, 256, 4, "pkvm: memory, pool and hyp VA offset must be 4K aligned" },
		{ 0x1000000, 0, 0x1E00000, 256, 4, "pkvm: host memory 0x1000000+0x0: empty or beyond 2^52" },
		{ 0x1000000, 0x1000000, 0x1E00000, 256, 5, "pkvm: host_levels = 5: must be 3 or 4" },
		{ 0x1000000, 0x1000000, 0x3E00000, 256, 4,
		  "pkvm: hyp pool 0x3e00000+256 pages: must be 16 pages or more inside host memory" },
		{ 0x1000000, 0x1000000, 0x1E00000, 8, 4,
		  "pkvm: hyp pool 0x1e00000+8 pages: must be 16 pages or more inside host memory" },
		{ 0x1000000, 0x1000000, 0x1E00000, 16, 4, NULL },
	};
	struct sim *s = sim_new(stack_modules);
	struct sim_err err = { "" };

	cr_assert_eq(sim_cfg_set(s, "machine.mem", "64m", "test", 0, &err), 0);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct stack_pkvm_cfg cfg;
		struct stack_pkvm *pk;

		stack_pkvm_cfg_default(&cfg);
		cfg.mem_base = c[i].base;
		cfg.mem_size = c[i].size;
		cfg.pool_base = c[i].pool;
		cfg.pool_pages = c[i].pages;
		cfg.host_levels = c[i].levels;
		err.msg[0] = 0;
		pk = stack_pkvm_new(NULL, sim_mem(s), NULL, &cfg, NULL, &err);
		if (c[i].msg) {
			cr_assert_null(pk, "case %zu", i);
			cr_assert_str_eq(err.msg, c[i].msg, "case %zu", i);
		} else {
			char msg[128];

			cr_assert_not_null(pk, "case %zu: %s", i, err.msg);
			cr_assert_eq(stack_pkvm_check(pk, msg, sizeof(msg)), 0, "%s", msg);
			stack_pkvm_free(pk);
		}
	}
	sim_free(s);
}

/* The hyp pool runs out: host-side changes that need table pages are refused whole. */
Test(pkvm, pool_enomem)
{
	struct env e;
	struct sim_err err = { "" };
	struct stack_pkvm_cfg cfg;
	struct stack_pkvm_page p;
	uint32_t pfn = 0x1000;
	int rc = 0, ok = 0;

	env_new(&e);
	cfg = *stack_pkvm_cfg(e.pk);
	stack_pkvm_free(e.pk);
	cfg.pool_pages = 16;
	e.pk = stack_pkvm_new(NULL, sim_mem(e.s), s2_ctx_get(e.s), &cfg, &e.who, &err);
	cr_assert_not_null(e.pk, "%s", err.msg);
	/* each share in a fresh 2M region needs a host and a hyp level-3 table */
	for (; pfn < 0x1C00 && !rc; pfn += 0x200) {
		rc = stack_pkvm_host_share_hyp(e.pk, &e.who, pfn, NULL);
		ok += !rc;
		check(&e, "share");
	}
	cr_assert_eq(rc, -ENOMEM);
	cr_assert_eq(ok, 4, "%d shares before the pool ran out", ok);
	cr_assert_eq(stack_pkvm_pool_free(e.pk), 0);
	cr_assert_eq(stack_pkvm_page(e.pk, pfn - 0x200, &p), 0);
	cr_assert(p.host == STACK_PKVM_OWNED && p.hyp == STACK_PKVM_NOPAGE && !p.host_mapped);
	/* lazy maps that need no new table still work: a page, a block */
	{
		struct stack_pkvm_acc_res r;

		cr_assert_eq(stack_pkvm_host_access(e.pk, &e.who, 0x1000000 + 0x3000, false,
						    STACK_PKVM_BY_KERNEL, &r, NULL), 0);
		cr_assert(r.result == STACK_PKVM_ACC_OK && r.map_size == SIM_SZ_4K);
		cr_assert_eq(stack_pkvm_host_access(e.pk, &e.who, (uint64_t)(pfn - 0x200) << 12, false,
						    STACK_PKVM_BY_KERNEL, &r, NULL), 0);
		cr_assert(r.result == STACK_PKVM_ACC_OK && r.map_size == SIM_SZ_2M);
	}
	check(&e, "end");
	env_free(&e);
}

/* The IOMMU hooks: called with the range before a page leaves the host and after it returns. */
struct iommu_log {
	unsigned unmaps, maps;
	uint64_t last_pa, last_size;
};

static void log_unmap(void *arg, struct sim_who *who, uint64_t pa, uint64_t size, uint64_t *cycles)
{
	struct iommu_log *l = arg;

	(void)who;
	l->unmaps++;
	l->last_pa = pa;
	l->last_size = size;
	if (cycles)
		*cycles += 1000;
}

static void log_map(void *arg, struct sim_who *who, uint64_t pa, uint64_t size, uint64_t *cycles)
{
	struct iommu_log *l = arg;

	(void)who;
	(void)cycles;
	l->maps++;
	l->last_pa = pa;
	l->last_size = size;
}

Test(pkvm, iommu_hooks)
{
	struct env e;
	struct iommu_log l = { 0 };
	const struct stack_pkvm_iommu_ops ops = { log_unmap, log_map, &l };
	uint64_t c = 0, un0;

	env_new(&e);
	un0 = stack_pkvm_stats(e.pk)->iommu_unmap;
	cr_assert_eq(un0, 2 * META_N, "the VMs' metadata pages left the IOMMU map");
	stack_pkvm_set_iommu_ops(e.pk, &ops);
	cr_assert_eq(stack_pkvm_host_donate_hyp(e.pk, &e.who, PA_, 2, &c), 0);
	cr_assert(l.unmaps == 1 && l.maps == 0 && l.last_pa == (uint64_t)PA_ << 12 &&
		  l.last_size == 2 * SIM_SZ_4K);
	cr_assert_eq(c, 500 + 1000);
	cr_assert(!stack_pkvm_dma_allowed(e.pk, ((uint64_t)PB_ << 12) + 8));
	cr_assert_eq(stack_pkvm_hyp_donate_host(e.pk, &e.who, PB_, 1, NULL), 0);
	cr_assert(l.maps == 1 && l.last_pa == (uint64_t)PB_ << 12 && l.last_size == SIM_SZ_4K);
	cr_assert(stack_pkvm_dma_allowed(e.pk, (uint64_t)PB_ << 12));
	/* sharing with the hyp or a guest leaves the IOMMU alone */
	cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, PB_, NULL), 0);
	cr_assert_eq(stack_pkvm_host_share_guest(e.pk, &e.who, PC_, G1, 1, e.vm[0], S2_PERM_R, NULL), 0);
	cr_assert(l.unmaps == 1 && l.maps == 1);
	stack_pkvm_set_iommu_ops(e.pk, NULL);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PD_, G2, e.vm[1], NULL), 0);
	cr_assert(l.unmaps == 1);
	cr_assert_eq(stack_pkvm_stats(e.pk)->iommu_unmap, un0 + 3);
	cr_assert_eq(stack_pkvm_stats(e.pk)->iommu_map, 1);
	check(&e, "end");
	env_free(&e);
}

/* What the guest shares the host may touch; what it takes back the host may not. */
Test(pkvm, host_access_follows_guest_sharing)
{
	struct env e;
	uint64_t pa = (uint64_t)PA_ << 12;
	uint64_t regs[4] = { STACK_PKVM_SMCCC_MEM_SHARE, (uint64_t)G1 << 12, 1, 0 };
	struct stack_pkvm_hvc_res res;
	struct stack_pkvm_page p;

	env_new(&e);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	cr_assert_eq(host_acc(&e, pa, false, STACK_PKVM_BY_USER).result, STACK_PKVM_ACC_SIGSEGV);
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert_eq(regs[0], STACK_PKVM_SMCCC_SUCCESS);
	/* mapped eagerly at 4K with the SHARED_BORROWED state: no abort */
	cr_assert_eq(stack_pkvm_page(e.pk, PA_, &p), 0);
	cr_assert(p.host_mapped && p.host_map_size == SIM_SZ_4K && p.host == STACK_PKVM_SHARED_BORROWED);
	cr_assert_eq(host_acc(&e, pa, true, STACK_PKVM_BY_USER).result, STACK_PKVM_ACC_OK);
	cr_assert_eq(stack_pkvm_stats(e.pk)->host_aborts, 1);
	/* the guest's own view: still its page, now shared */
	{
		uint64_t got = 0;

		cr_assert_eq(stack_pkvm_guest_access(e.pk, &e.who, e.vm[1], (uint64_t)G1 << 12, true,
						     &got, NULL), S2_FAULT_NONE);
		cr_assert_eq(got, pa);
	}
	regs[0] = STACK_PKVM_SMCCC_MEM_UNSHARE;
	regs[1] = (uint64_t)G1 << 12;
	regs[2] = 1;
	cr_assert_eq(stack_pkvm_guest_hvc(e.pk, &e.who, e.vm[1], regs, &res, NULL), 0);
	cr_assert_eq(regs[0], STACK_PKVM_SMCCC_SUCCESS);
	cr_assert_eq(host_acc(&e, pa, true, STACK_PKVM_BY_UACCESS).result, STACK_PKVM_ACC_EFAULT);
	check(&e, "end");
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Costs, determinism, stats, the checker itself                       */
/* ------------------------------------------------------------------ */

Test(pkvm, exact_costs)
{
	struct env e;
	const struct s2_timing *t;
	uint64_t c = 0, tl;
	struct stack_pkvm_acc_res r;

	env_new(&e);
	t = s2_ctx_timing(s2_ctx_get(e.s));
	tl = t->tlbi_ipa;
	cr_assert_gt(tl, 0);
	/* nothing mapped yet: the hypercall's software cost alone */
	cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, PA_, &c), 0);
	cr_assert_eq(c, 500);
	/*
	 * unshare: break-before-make of the host page; the hyp page's TLBI,
	 * and one for the hyp table page its unmap left empty and freed
	 */
	c = 0;
	cr_assert_eq(stack_pkvm_host_unshare_hyp(e.pk, &e.who, PA_, &c), 0);
	cr_assert_eq(c, 500 + 3 * tl, "c=%llu tl=%llu", (unsigned long long)c, (unsigned long long)tl);
	cr_assert_eq(stack_pkvm_stats(e.pk)->tlbi_hyp, 2);
	cr_assert_eq(stack_pkvm_stats(e.pk)->tlbi_host, 1);
	cr_assert_eq(stack_pkvm_stats(e.pk)->bbm, 1);
	/* a refused call costs the hypercall */
	c = 0;
	cr_assert_eq(stack_pkvm_host_unshare_hyp(e.pk, &e.who, PA_, &c), -EPERM);
	cr_assert_eq(c, 500);
	/* donate a page of a lazily mapped 2M block: the block's BBM and the page's TLBI */
	cr_assert_eq(stack_pkvm_host_access(e.pk, &e.who, (uint64_t)PC_ << 12, false,
					    STACK_PKVM_BY_KERNEL, &r, NULL), 0);
	c = 0;
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PC_ + 3, G1, e.vm[1], &c), 0);
	cr_assert_eq(c, 500 + 2 * tl, "c=%llu tl=%llu", (unsigned long long)c, (unsigned long long)tl);
	/* an injected abort: translation (TLB miss, walk) + abort + inject */
	c = 0;
	cr_assert_eq(stack_pkvm_host_access(e.pk, &e.who, ((uint64_t)PC_ + 3) << 12, false,
					    STACK_PKVM_BY_KERNEL, &r, &c), 0);
	cr_assert_geq(c, 500 + 200);
	/* a 2M share_guest over a lazily mapped 2M block: the block broken once */
	cr_assert_eq(stack_pkvm_host_access(e.pk, &e.who, 0x1400000, false, STACK_PKVM_BY_KERNEL,
					    &r, NULL), 0);
	cr_assert(r.mapped && r.map_size == SIM_SZ_2M);
	c = 0;
	cr_assert_eq(stack_pkvm_host_share_guest(e.pk, &e.who, 0x1400, G3, 512, e.vm[0], S2_PERM_R, &c), 0);
	cr_assert_eq(c, 500 + tl, "c=%llu", (unsigned long long)c);
	/*
	 * unshared at once: the guest's block, its level-2 and level-1 tables
	 * left empty and freed (a TLBI each, as stage2_unmap_put_pte), then
	 * the host's 512 pages in one range TLBI
	 */
	c = 0;
	cr_assert_eq(stack_pkvm_host_unshare_guest(e.pk, &e.who, G3, 512, e.vm[0], &c), 0);
	cr_assert_eq(c, 500 + 4 * tl, "c=%llu", (unsigned long long)c);
	cr_assert_eq(stack_pkvm_vm_memcache(e.pk, e.vm[0]), META_N - 2, "freed tables back in the memcache");
	check(&e, "2m");
	/* teardown: no shares left, one VMID flush */
	c = 0;
	cr_assert_eq(stack_pkvm_vm_teardown(e.pk, &e.who, e.vm[0], &c), 0);
	cr_assert_eq(c, 500 + t->tlbi_vm);
	env_free(&e);
}

/* The same sequence twice: the same memory cycles, the same state. */
Test(pkvm, deterministic_mem_cycles)
{
	uint64_t mem[2] = { 0, 0 }, cyc[2] = { 0, 0 };

	for (int k = 0; k < 2; k++) {
		struct env e;

		env_new(&e);
		e.who.mem_cycles = 0;
		cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, PA_, &cyc[k]), 0);
		cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PB_, G1, e.vm[1], &cyc[k]), 0);
		cr_assert_eq(stack_pkvm_host_share_guest(e.pk, &e.who, PC_, G3, 512, e.vm[0],
							 S2_PERM_R, &cyc[k]), 0);
		cr_assert_eq(stack_pkvm_vm_destroy(e.pk, &e.who, e.vm[1], &cyc[k]), 0);
		mem[k] = e.who.mem_cycles;
		env_free(&e);
	}
	cr_assert_gt(mem[0], 0);
	cr_assert_eq(mem[0], mem[1]);
	cr_assert_eq(cyc[0], cyc[1]);
}

Test(pkvm, stats_registered)
{
	struct env e;
	uint64_t v = 0;

	env_new(&e);
	cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, PA_, NULL), 0);
	cr_assert_eq(stack_pkvm_host_share_hyp(e.pk, &e.who, PA_, NULL), -EPERM);
	cr_assert_eq(sim_stat_get(e.s, "stack.pkvm.share_hyp", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(sim_stat_get(e.s, "stack.pkvm.hvc_err", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(sim_stat_get(e.s, "stack.pkvm.hvc", &v), 0);
	cr_assert_eq(v, 4);   /* two VM creations, two shares */
	cr_assert_eq(sim_stat_get(e.s, "stack.pkvm.vms", &v), 0);
	cr_assert_eq(v, 2);
	env_free(&e);
}

/* The checker finds a broken state (the tests above rely on it). */
Test(pkvm, checker_catches_violations)
{
	struct env e;
	char msg[256] = "";
	struct s2_prot prot = { .perms = S2_PERM_ALL };

	env_new(&e);
	cr_assert_eq(stack_pkvm_host_donate_guest(e.pk, &e.who, PA_, G1, e.vm[1], NULL), 0);
	/* the host stage 2 maps the guest's page behind pKVM's back */
	cr_assert_eq(s2_map(stack_pkvm_host_pgt(e.pk), &e.who, (uint64_t)PA_ << 12,
			    (uint64_t)PA_ << 12, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(stack_pkvm_check(e.pk, msg, sizeof(msg)), -1);
	cr_assert(strstr(msg, "pfn 0x1010"), "%s", msg);
	env_free(&e);

	env_new(&e);
	/* a non-identity host mapping */
	cr_assert_eq(s2_map(stack_pkvm_host_pgt(e.pk), &e.who, (uint64_t)PA_ << 12,
			    (uint64_t)PB_ << 12, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(stack_pkvm_check(e.pk, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "pkvm: pfn 0x1010: host stage 2 maps it to 0x1011000 (not identity)");
	env_free(&e);

	env_new(&e);
	/* a guest borrows a host page that the host does not count as shared */
	prot.sw = STACK_PKVM_SHARED_BORROWED;
	cr_assert_eq(s2_map(stack_pkvm_vm_pgt(e.pk, e.vm[0]), &e.who, (uint64_t)G1 << 12,
			    (uint64_t)PA_ << 12, SIM_SZ_4K, SIM_SZ_4K, &prot), S2_OK);
	cr_assert_eq(stack_pkvm_check(e.pk, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "pkvm: pfn 0x1010: share count 0, 1 guests borrow it");
	env_free(&e);

	/* whole untouched 2M regions are checked at once: blocks there are still seen */
	env_new(&e);
	prot.sw = 0;
	cr_assert_eq(s2_map(stack_pkvm_host_pgt(e.pk), &e.who, 0x1400000, 0x1600000, SIM_SZ_2M,
			    SIM_SZ_2M, &prot), S2_OK);
	cr_assert_eq(stack_pkvm_check(e.pk, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "pkvm: pfn 0x1400: host stage 2 maps it to 0x1600000 (not identity)");
	env_free(&e);
	env_new(&e);
	prot.sw = STACK_PKVM_SHARED_OWNED;
	cr_assert_eq(s2_map(stack_pkvm_host_pgt(e.pk), &e.who, 0x1400000, 0x1400000, SIM_SZ_2M,
			    SIM_SZ_2M, &prot), S2_OK);
	cr_assert_eq(stack_pkvm_check(e.pk, msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "pkvm: pfn 0x1400: a 2097152-byte host block in state shared_owned");
	env_free(&e);
}

/* The host calls by name, as an interpreter dispatches them. */
static const struct {
	const char *name;
	struct stack_pkvm_hcall_args a;
	int vm;                 /* which VM's handle goes in a.vm (-1: none) */
	int rc;
} hc_cases[] = {
	{ "host_share_hyp", { .pfn = PA_ }, -1, 0 },
	{ "hyp_pin", { .pfn = PA_ }, -1, 0 },
	{ "host_unshare_hyp", { .pfn = PA_ }, -1, -EBUSY },
	{ "hyp_unpin", { .pfn = PA_ }, -1, 0 },
	{ "hyp_unpin", { .pfn = PA_ }, -1, -EINVAL },
	{ "host_unshare_hyp", { .pfn = PA_ }, -1, 0 },
	{ "host_donate_hyp", { .pfn = PA_, .n = 2 }, -1, 0 },
	{ "host_share_guest", { .pfn = PC_, .gfn = G1 }, 0, 0 },
	{ "host_share_guest", { .pfn = PC_, .gfn = G2, .perms = S2_PERM_R, .has_perms = true }, 0, 0 },
	{ "host_share_guest", { .pfn = PC_ + 1, .gfn = G3, .n = 512 }, 0, -EINVAL },
	{ "host_unshare_guest", { .gfn = G1 }, 0, 0 },
	{ "host_donate_guest", { .pfn = PD_, .gfn = G1 }, 1, 0 },
	{ "host_donate_guest", { .pfn = PD_, .gfn = G2 }, 0, -EINVAL },
	{ "host_reclaim", { .pfn = PD_ }, -1, -EPERM },
};

Test(pkvm, hcall_table)
{
	struct env e;
	struct s2_path path;

	cr_assert_eq(stack_pkvm_hcall_find("host_share_hyp"), STACK_PKVM_HC_SHARE_HYP);
	cr_assert_eq(stack_pkvm_hcall_find("host_reclaim"), STACK_PKVM_HC_RECLAIM);
	cr_assert_eq(stack_pkvm_hcall_find("host_share"), STACK_PKVM_HC_COUNT);
	env_new(&e);
	for (size_t i = 0; i < sizeof(hc_cases) / sizeof(hc_cases[0]); i++) {
		struct stack_pkvm_hcall_args a = hc_cases[i].a;
		enum stack_pkvm_hcall hc = stack_pkvm_hcall_find(hc_cases[i].name);
		int rc;

		cr_assert_neq(hc, STACK_PKVM_HC_COUNT, "%s", hc_cases[i].name);
		if (hc_cases[i].vm >= 0)
			a.vm = e.vm[hc_cases[i].vm];
		rc = stack_pkvm_hcall(e.pk, &e.who, hc, &a, NULL);
		cr_assert_eq(rc, hc_cases[i].rc, "case %zu %s: %d", i, hc_cases[i].name, rc);
		check(&e, hc_cases[i].name);
	}
	/* the default permissions are RWX, given ones are used */
	cr_assert_eq(s2_pgt_path(stack_pkvm_vm_pgt(e.pk, e.vm[0]), (uint64_t)G2 << 12, &path), S2_PATH_OK);
	cr_assert_eq(path.perms, S2_PERM_R);
	cr_assert_eq(path.sw, STACK_PKVM_SHARED_BORROWED);
	cr_assert_eq(stack_pkvm_stats(e.pk)->hvc, 2 + 11);   /* pins are not hypercalls */
	env_free(&e);
}

Test(pkvm, name_tables)
{
	cr_assert_eq(sizeof(stack_pkvm_state_names) / sizeof(stack_pkvm_state_names[0]),
		     STACK_PKVM_STATES);
	cr_assert_str_eq(stack_pkvm_state_names[STACK_PKVM_SHARED_BORROWED], "shared_borrowed");
	cr_assert_str_eq(stack_pkvm_access_names[STACK_PKVM_ACC_EFAULT], "efault");
	cr_assert_eq(sizeof(tstate) / sizeof(tstate[0]), STACK_PKVM_STATES);
	cr_assert_eq(sizeof(stack_pkvm_hcalls) / sizeof(stack_pkvm_hcalls[0]), STACK_PKVM_HC_COUNT);
	for (unsigned i = 0; i < STACK_PKVM_HC_COUNT; i++) {
		cr_assert_not_null(stack_pkvm_hcalls[i].name);
		cr_assert_eq(stack_pkvm_hcall_find(stack_pkvm_hcalls[i].name), i, "%s",
			     stack_pkvm_hcalls[i].name);
	}
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		cr_assert(seqs[i].n > 0 && seqs[i].n <= MAX_STEPS, "%s", seqs[i].name);
		static const struct step none;

		for (unsigned j = seqs[i].n; j < MAX_STEPS; j++)
			cr_assert_eq(memcmp(&seqs[i].st[j], &none, sizeof(none)), 0,
				     "%s: step %u listed, n says %u", seqs[i].name, j, seqs[i].n);
	}
}
