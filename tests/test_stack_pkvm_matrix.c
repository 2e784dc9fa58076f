/*
 * test_stack_pkvm_matrix.c - pKVM's page-ownership model
 * (sim/stack/pkvm_mem.c) as one exhaustive table: every page operation
 * of pkvm_mem.h applied to one host page P in every state it can reach,
 * one row per (state, operation), no pair left out (issue #14).
 *
 * States (19): each is reached from a fresh environment (a non-protected
 * VM and a protected VM, nothing else) by a fixed sequence of real calls:
 * host-owned (untouched, or mapped by a 2M block after a host access),
 * with a DMA reference, shared with the hyp (pinned or not, with a DMA
 * reference), donated to the hyp, shared with the non-protected VM once
 * / twice / with a DMA reference, donated to the protected VM, shared
 * back by it (MEM_SHARE; also with a DMA reference), relinquished by it,
 * and after the teardown of the VM holding it (guest-owned, shared back,
 * shared back with DMA; the non-protected VM's teardown; after reclaim).
 *
 * Operations (23): host_share_hyp, host_unshare_hyp, host_donate_hyp,
 * hyp_donate_host, hyp_pin, hyp_unpin, host_use_dma, host_unuse_dma,
 * host_share_guest (P at a fresh GFN of the non-protected VM),
 * host_unshare_guest (its companion GFN), host_donate_guest (P at a fresh
 * GFN of the protected VM), the protected guest's MEM_SHARE / MEM_UNSHARE
 * / MEM_RELINQUISH of its companion GFN, host_reclaim_page, a host access
 * by the kernel, user space and a uaccess helper, a guest access from
 * each VM at its companion GFN, the teardown of either VM and the
 * protected VM's finalize.  19 x 23 = 437 rows.
 *
 * Each row gives the outcome (errno; for a guest call the errno behind
 * INVALID_PARAMETER, FWD for a call forwarded to the host, GONE for a
 * dying VM; for an access its result and the lazy map size) and the
 * full state of P afterwards for every party (host, hyp, guest states,
 * owner id, VM and GFN holding it, share count, pins, DMA references,
 * the IOMMU map) with both VMs' stage 2 at the three watched GFNs.  The
 * expectations are written by hand from reference/protection-semantics.md
 * §6 and §10.2 and docs/pkvm.md (its choices cited on the rows that take
 * them).  After every row: the invariant checker; a refused operation
 * must leave everything the model reports about P exactly as it was
 * (compared with a snapshot); the hypercall counters move as the call's
 * kind says; the page's contents are zeroed exactly when the row poisons;
 * the TLBs are warmed before the operation and what every party can
 * actually reach is probed after it (a missing TLBI shows there).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/test_pkvm_env.h"

#define P    0x1010u                    /* the page (its 2M block untouched by the set-up) */
#define G1   0x80u                      /* the companion GFN */
#define G2   0x81u                      /* the second GFN of a double share */
#define G3   0x82u                      /* a GFN no set-up uses */
#define PATTERN 0x5A5A00C0FFEE0001ull   /* P's contents before any set-up */

static const uint64_t watched[3] = { G1, G2, G3 };

/* The environment (test_pkvm_env.h), with P's contents set. */
static void matrix_env(struct env *e)
{
	env_new(e);
	sim_mem_poke64(sim_mem(e->s), (uint64_t)P << 12, PATTERN);
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

enum op {
	/* the matrix's operations */
	M_SHARE_HYP, M_UNSHARE_HYP, M_DONATE_HYP, M_HYP_DONATE_HOST, M_PIN, M_UNPIN,
	M_USE_DMA, M_UNUSE_DMA,
	M_SHARE_GUEST,      /* P with vm[0] at G3 (RW) */
	M_UNSHARE_GUEST,    /* vm[0]'s G1 */
	M_DONATE_GUEST,     /* P to vm[1] at G3 */
	M_G_SHARE, M_G_UNSHARE, M_G_RELINQUISH,   /* vm[1] at G1 */
	M_RECLAIM,
	M_ACC_KERNEL,       /* host read of P by the kernel */
	M_ACC_USER,         /* host write by user space */
	M_ACC_UACCESS,      /* host write by copy_to_user-style accessor */
	M_GACC_NP,          /* vm[0] writes G1 */
	M_GACC_P,           /* vm[1] writes G1 */
	M_TEARDOWN_NP,      /* __pkvm_teardown_vm of vm[0] */
	M_TEARDOWN_P,       /* ... of vm[1] */
	M_FINALIZE_P,       /* __pkvm_finalize_teardown_vm of vm[1] */
	M_OPS,
	/* set-up only */
	S_SHARE_GUEST_G1, S_SHARE_GUEST_G2, S_DONATE_GUEST_G1,
};

static const char *const op_names[M_OPS] = {
	"host_share_hyp", "host_unshare_hyp", "host_donate_hyp", "hyp_donate_host", "hyp_pin",
	"hyp_unpin", "host_use_dma", "host_unuse_dma", "host_share_guest", "host_unshare_guest",
	"host_donate_guest", "MEM_SHARE", "MEM_UNSHARE", "MEM_RELINQUISH", "host_reclaim",
	"access_kernel", "access_user", "access_uaccess", "guest_access_np", "guest_access_p",
	"teardown_np", "teardown_p", "finalize_p",
};

/* What kind of outcome an operation has. */
enum kind { K_HVC, K_HYP, K_GUEST_HVC, K_HOST_ACC, K_GUEST_ACC };

static enum kind op_kind(enum op op)
{
	switch (op) {
	case M_HYP_DONATE_HOST: case M_PIN: case M_UNPIN:
		return K_HYP;          /* hypervisor-internal: no HVC */
	case M_G_SHARE: case M_G_UNSHARE: case M_G_RELINQUISH:
		return K_GUEST_HVC;
	case M_ACC_KERNEL: case M_ACC_USER: case M_ACC_UACCESS:
		return K_HOST_ACC;
	case M_GACC_NP: case M_GACC_P:
		return K_GUEST_ACC;
	default:
		return K_HVC;
	}
}

/* GONE: stack_pkvm_guest_hvc / _guest_access itself refuses (-EINVAL): the VM is dying. */
#define GONE 1000
/* FWD: a guest call forwarded to the host (-EFAULT: the IPA is to be faulted in; R0-R3 kept). */
#define FWD  1001

struct outcome {
	int rc;                           /* the row's rc encoding (see the header) */
	struct stack_pkvm_acc_res acc;
	struct stack_pkvm_hvc_res hvc;
	uint64_t regs[4];
	uint64_t gpa;                     /* a guest access's PA */
};

static void guest_call(struct env *e, uint32_t fn, uint64_t gfn, struct outcome *o)
{
	int r;

	o->regs[0] = fn;
	o->regs[1] = gfn << 12;
	o->regs[2] = fn == STACK_PKVM_SMCCC_MEM_RELINQUISH ? 0 : 1;
	o->regs[3] = 0;
	r = stack_pkvm_guest_hvc(e->pk, &e->who, e->vm[1], o->regs, &o->hvc, &e->cycles);
	if (r) {
		cr_assert_eq(r, -EINVAL, "guest call: %d", r);
		o->rc = GONE;
		return;
	}
	if (o->hvc.exit_to_host) {
		o->rc = FWD;
		return;
	}
	o->rc = o->regs[0] == STACK_PKVM_SMCCC_SUCCESS ? 0 : o->hvc.err;
	cr_assert(o->regs[0] == STACK_PKVM_SMCCC_SUCCESS ||
		  (o->regs[0] == STACK_PKVM_SMCCC_INVALID_PARAM && o->hvc.err < 0),
		  "guest call: R0 0x%llx err %d", (unsigned long long)o->regs[0], o->hvc.err);
}

static void host_access(struct env *e, bool write, enum stack_pkvm_by by, struct outcome *o)
{
	cr_assert_eq(stack_pkvm_host_access(e->pk, &e->who, (uint64_t)P << 12, write, by, &o->acc,
					    &e->cycles), 0);
	o->rc = (int)o->acc.result;
}

static void guest_access(struct env *e, int vm, struct outcome *o)
{
	int r = stack_pkvm_guest_access(e->pk, &e->who, e->vm[vm], (uint64_t)G1 << 12, true,
					&o->gpa, &e->cycles);

	o->rc = r == -EINVAL ? GONE : r;
}

static void run_op(struct env *e, enum op op, struct outcome *o)
{
	struct stack_pkvm *pk = e->pk;
	struct sim_who *w = &e->who;
	uint64_t *c = &e->cycles;
	const uint8_t rw = S2_PERM_R | S2_PERM_W;

	memset(o, 0, sizeof(*o));
	switch (op) {
	case M_SHARE_HYP:       o->rc = stack_pkvm_host_share_hyp(pk, w, P, c); break;
	case M_UNSHARE_HYP:     o->rc = stack_pkvm_host_unshare_hyp(pk, w, P, c); break;
	case M_DONATE_HYP:      o->rc = stack_pkvm_host_donate_hyp(pk, w, P, 1, c); break;
	case M_HYP_DONATE_HOST: o->rc = stack_pkvm_hyp_donate_host(pk, w, P, 1, c); break;
	case M_PIN:             o->rc = stack_pkvm_hyp_pin(pk, w, P, 1, c); break;
	case M_UNPIN:           o->rc = stack_pkvm_hyp_unpin(pk, w, P, 1, c); break;
	case M_USE_DMA:         o->rc = stack_pkvm_host_use_dma(pk, w, P, 1, c); break;
	case M_UNUSE_DMA:       o->rc = stack_pkvm_host_unuse_dma(pk, w, P, 1, c); break;
	case M_SHARE_GUEST:     o->rc = stack_pkvm_host_share_guest(pk, w, P, G3, 1, e->vm[0], rw, c); break;
	case M_UNSHARE_GUEST:   o->rc = stack_pkvm_host_unshare_guest(pk, w, G1, 1, e->vm[0], c); break;
	case M_DONATE_GUEST:    o->rc = stack_pkvm_host_donate_guest(pk, w, P, G3, e->vm[1], c); break;
	case M_G_SHARE:         guest_call(e, STACK_PKVM_SMCCC_MEM_SHARE, G1, o); break;
	case M_G_UNSHARE:       guest_call(e, STACK_PKVM_SMCCC_MEM_UNSHARE, G1, o); break;
	case M_G_RELINQUISH:    guest_call(e, STACK_PKVM_SMCCC_MEM_RELINQUISH, G1, o); break;
	case M_RECLAIM:         o->rc = stack_pkvm_host_reclaim_page(pk, w, P, c); break;
	case M_ACC_KERNEL:      host_access(e, false, STACK_PKVM_BY_KERNEL, o); break;
	case M_ACC_USER:        host_access(e, true, STACK_PKVM_BY_USER, o); break;
	case M_ACC_UACCESS:     host_access(e, true, STACK_PKVM_BY_UACCESS, o); break;
	case M_GACC_NP:         guest_access(e, 0, o); break;
	case M_GACC_P:          guest_access(e, 1, o); break;
	case S_SHARE_GUEST_G1:  o->rc = stack_pkvm_host_share_guest(pk, w, P, G1, 1, e->vm[0], rw, c); break;
	case S_SHARE_GUEST_G2:  o->rc = stack_pkvm_host_share_guest(pk, w, P, G2, 1, e->vm[0], rw, c); break;
	case S_DONATE_GUEST_G1: o->rc = stack_pkvm_host_donate_guest(pk, w, P, G1, e->vm[1], c); break;
	case M_TEARDOWN_NP:     o->rc = stack_pkvm_vm_teardown(pk, w, e->vm[0], c); break;
	case M_TEARDOWN_P:      o->rc = stack_pkvm_vm_teardown(pk, w, e->vm[1], c); break;
	case M_FINALIZE_P:      o->rc = stack_pkvm_vm_finalize(pk, w, e->vm[1], c); break;
	case M_OPS:             cr_assert_fail("no such operation");
	}
}

/* ------------------------------------------------------------------ */
/* Full states of P, written by hand                                   */
/* ------------------------------------------------------------------ */

/* Test encodings of a state: 0 is NOPAGE so an unset guest cell means unmapped. */
enum { NOP = 0, OWN, SO, SB };
static const enum stack_pkvm_state tstate[] = {
	STACK_PKVM_NOPAGE, STACK_PKVM_OWNED, STACK_PKVM_SHARED_OWNED, STACK_PKVM_SHARED_BORROWED,
};

struct full {
	uint8_t host, hyp;
	uint8_t owner;          /* host NOPAGE: the owner id */
	int8_t vm;              /* guest holding it from the guest side: -1 none, 0 np, 1 protected */
	uint8_t guest;          /* ... its state there */
	uint64_t gfn;           /* ... at this GFN */
	uint32_t share, pin, dma;
	bool iommu;             /* in the host's IOMMU map (= stack_pkvm_dma_allowed) */
	uint8_t g[2][3];        /* vm[i]'s stage 2 at watched[j] */
};

enum xid {
	X_HOST, X_DMA, X_DMA2,
	X_HYPS, X_HYPS_DMA, X_HYPS_DMA2, X_HYPP, X_HYPP2, X_HYPP_DMA,
	X_HYP,
	X_NP1, X_NP1_DMA, X_NP1_DMA2, X_NP2, X_NP2_DMA, X_NP_G2, X_NP_G3, X_NP1_G3, X_NP1_DMA_G3,
	X_NP2_G3,
	X_G1, X_G3, X_GS, X_GS_DMA, X_GS_DMA2,
	X_COUNT,
	SAME = X_COUNT,         /* in a row: the state's own (an operation that changes nothing) */
};

#define ID_HYP   STACK_PKVM_ID_HYP
#define ID_GUEST STACK_PKVM_ID_GUEST
/*         host hyp  owner     vm  guest gfn share pin dma iommu  vm[0] G1 G2 G3   vm[1] G1 G2 G3 */
static const struct full xs[X_COUNT] = {
	[X_HOST]       = { OWN, NOP, 0,        -1, NOP, 0,  0, 0, 0, true,  { { 0 } } },
	[X_DMA]        = { OWN, NOP, 0,        -1, NOP, 0,  0, 0, 1, true,  { { 0 } } },
	[X_DMA2]       = { OWN, NOP, 0,        -1, NOP, 0,  0, 0, 2, true,  { { 0 } } },
	[X_HYPS]       = { SO,  SB,  0,        -1, NOP, 0,  0, 0, 0, true,  { { 0 } } },
	[X_HYPS_DMA]   = { SO,  SB,  0,        -1, NOP, 0,  0, 0, 1, true,  { { 0 } } },
	[X_HYPS_DMA2]  = { SO,  SB,  0,        -1, NOP, 0,  0, 0, 2, true,  { { 0 } } },
	[X_HYPP]       = { SO,  SB,  0,        -1, NOP, 0,  0, 1, 0, true,  { { 0 } } },
	[X_HYPP2]      = { SO,  SB,  0,        -1, NOP, 0,  0, 2, 0, true,  { { 0 } } },
	[X_HYPP_DMA]   = { SO,  SB,  0,        -1, NOP, 0,  0, 1, 1, true,  { { 0 } } },
	[X_HYP]        = { NOP, OWN, ID_HYP,   -1, NOP, 0,  0, 0, 0, false, { { 0 } } },
	[X_NP1]        = { SO,  NOP, 0,        -1, NOP, 0,  1, 0, 0, true,  { { SB, NOP, NOP } } },
	[X_NP1_DMA]    = { SO,  NOP, 0,        -1, NOP, 0,  1, 0, 1, true,  { { SB, NOP, NOP } } },
	[X_NP1_DMA2]   = { SO,  NOP, 0,        -1, NOP, 0,  1, 0, 2, true,  { { SB, NOP, NOP } } },
	[X_NP2]        = { SO,  NOP, 0,        -1, NOP, 0,  2, 0, 0, true,  { { SB, SB, NOP } } },
	[X_NP2_DMA]    = { SO,  NOP, 0,        -1, NOP, 0,  2, 0, 1, true,  { { SB, SB, NOP } } },
	[X_NP_G2]      = { SO,  NOP, 0,        -1, NOP, 0,  1, 0, 0, true,  { { NOP, SB, NOP } } },
	[X_NP_G3]      = { SO,  NOP, 0,        -1, NOP, 0,  1, 0, 0, true,  { { NOP, NOP, SB } } },
	[X_NP1_G3]     = { SO,  NOP, 0,        -1, NOP, 0,  2, 0, 0, true,  { { SB, NOP, SB } } },
	[X_NP1_DMA_G3] = { SO,  NOP, 0,        -1, NOP, 0,  2, 0, 1, true,  { { SB, NOP, SB } } },
	[X_NP2_G3]     = { SO,  NOP, 0,        -1, NOP, 0,  3, 0, 0, true,  { { SB, SB, SB } } },
	[X_G1]         = { NOP, NOP, ID_GUEST,  1, OWN, G1, 0, 0, 0, false, { { 0 }, { OWN, NOP, NOP } } },
	[X_G3]         = { NOP, NOP, ID_GUEST,  1, OWN, G3, 0, 0, 0, false, { { 0 }, { NOP, NOP, OWN } } },
	[X_GS]         = { SB,  NOP, 0,         1, SO,  G1, 0, 0, 0, true,  { { 0 }, { SO, NOP, NOP } } },
	[X_GS_DMA]     = { SB,  NOP, 0,         1, SO,  G1, 0, 0, 1, true,  { { 0 }, { SO, NOP, NOP } } },
	[X_GS_DMA2]    = { SB,  NOP, 0,         1, SO,  G1, 0, 0, 2, true,  { { 0 }, { SO, NOP, NOP } } },
};

static void assert_full(struct env *e, enum xid xi, const char *what)
{
	const struct full *x = &xs[xi];
	struct stack_pkvm_page p;

	cr_assert_eq(stack_pkvm_page(e->pk, P, &p), 0, "%s", what);
	cr_assert(p.host == tstate[x->host] && p.hyp == tstate[x->hyp] &&
		  p.share_guest == x->share && p.pin == x->pin && p.dma == x->dma &&
		  p.iommu == x->iommu && stack_pkvm_dma_allowed(e->pk, (uint64_t)P << 12) == x->iommu,
		  "%s: host %s hyp %s share %u pin %u dma %u iommu %d; want host %s hyp %s "
		  "share %u pin %u dma %u iommu %d", what, stack_pkvm_state_names[p.host],
		  stack_pkvm_state_names[p.hyp], p.share_guest, p.pin, p.dma, p.iommu,
		  stack_pkvm_state_names[tstate[x->host]], stack_pkvm_state_names[tstate[x->hyp]],
		  x->share, x->pin, x->dma, x->iommu);
	if (x->host == NOP)
		cr_assert_eq(p.host_owner, x->owner, "%s: owner %u, want %u", what, p.host_owner,
			     x->owner);
	cr_assert_eq(p.vm, x->vm < 0 ? 0 : e->vm[x->vm], "%s: held by vm 0x%x", what, p.vm);
	if (x->vm < 0)
		cr_assert_eq(p.guest, x->share ? STACK_PKVM_SHARED_BORROWED : STACK_PKVM_NOPAGE,
			     "%s: guest side %s", what, stack_pkvm_state_names[p.guest]);
	else
		cr_assert(p.gfn == x->gfn && p.guest == tstate[x->guest],
			  "%s: guest gfn 0x%llx %s, want gfn 0x%llx %s", what,
			  (unsigned long long)p.gfn, stack_pkvm_state_names[p.guest],
			  (unsigned long long)x->gfn, stack_pkvm_state_names[tstate[x->guest]]);
	/* the pages each VM holds for reclaim: P alone, by the VM holding it */
	for (int v = 0; v < 2; v++)
		cr_assert_eq(stack_pkvm_vm_pages(e->pk, e->vm[v]), (uint64_t)(x->vm == v),
			     "%s: vm%d holds %llu pages", what, v,
			     (unsigned long long)stack_pkvm_vm_pages(e->pk, e->vm[v]));
	for (int v = 0; v < 2; v++)
		for (int j = 0; j < 3; j++) {
			uint64_t pa = 0;
			enum stack_pkvm_state g = stack_pkvm_guest_state(e->pk, e->vm[v], watched[j], &pa);

			cr_assert_eq(g, tstate[x->g[v][j]], "%s: vm%d gfn 0x%llx: %s, want %s", what, v,
				     (unsigned long long)watched[j], stack_pkvm_state_names[g],
				     stack_pkvm_state_names[tstate[x->g[v][j]]]);
			if (g != STACK_PKVM_NOPAGE)
				cr_assert_eq(pa, (uint64_t)P << 12, "%s: vm%d gfn 0x%llx maps 0x%llx", what,
					     v, (unsigned long long)watched[j], (unsigned long long)pa);
		}
}

/* ------------------------------------------------------------------ */
/* States of P and how each is reached                                 */
/* ------------------------------------------------------------------ */

enum st {
	ST_HOST, ST_MAPPED, ST_DMA, ST_HYPS, ST_HYPP, ST_HYPS_DMA, ST_HYP, ST_NP1, ST_NP2, ST_NP1_DMA,
	ST_GUEST, ST_GSH, ST_GSH_DMA, ST_RELINQ, ST_DEAD, ST_DEAD_GSH, ST_DEAD_GSH_DMA,
	ST_NP_DEAD, ST_RECLAIMED,
	ST_COUNT
};

#define MAX_SETUP 4
static const struct state {
	const char *name;
	enum op setup[MAX_SETUP];
	unsigned n;
	enum xid x;             /* P's full state after the set-up */
	unsigned dead;          /* VMs torn down by it: bit i = vm[i] */
} states[ST_COUNT] = {
	[ST_HOST]      = { "host", { 0 }, 0, X_HOST },
	[ST_MAPPED]    = { "host_mapped_2m", { M_ACC_KERNEL }, 1, X_HOST },
	[ST_DMA]       = { "host+dma", { M_USE_DMA }, 1, X_DMA },
	[ST_HYPS]      = { "hyp_shared", { M_SHARE_HYP }, 1, X_HYPS },
	[ST_HYPP]      = { "hyp_pinned", { M_SHARE_HYP, M_PIN }, 2, X_HYPP },
	[ST_HYPS_DMA]  = { "hyp_shared+dma", { M_USE_DMA, M_SHARE_HYP }, 2, X_HYPS_DMA },
	[ST_HYP]       = { "hyp_owned", { M_DONATE_HYP }, 1, X_HYP },
	[ST_NP1]       = { "np_shared", { S_SHARE_GUEST_G1 }, 1, X_NP1 },
	[ST_NP2]       = { "np_shared_twice", { S_SHARE_GUEST_G1, S_SHARE_GUEST_G2 }, 2, X_NP2 },
	[ST_NP1_DMA]   = { "np_shared+dma", { S_SHARE_GUEST_G1, M_USE_DMA }, 2, X_NP1_DMA },
	[ST_GUEST]     = { "guest_owned", { S_DONATE_GUEST_G1 }, 1, X_G1 },
	[ST_GSH]       = { "guest_shared", { S_DONATE_GUEST_G1, M_G_SHARE }, 2, X_GS },
	[ST_GSH_DMA]   = { "guest_shared+dma", { S_DONATE_GUEST_G1, M_G_SHARE, M_USE_DMA }, 3, X_GS_DMA },
	[ST_RELINQ]    = { "relinquished", { S_DONATE_GUEST_G1, M_G_RELINQUISH }, 2, X_HOST },
	[ST_DEAD]      = { "dead_guest_owned", { S_DONATE_GUEST_G1, M_TEARDOWN_P }, 2, X_G1, 2 },
	[ST_DEAD_GSH]  = { "dead_guest_shared", { S_DONATE_GUEST_G1, M_G_SHARE, M_TEARDOWN_P }, 3, X_GS,
			   2 },
	[ST_DEAD_GSH_DMA] = { "dead_guest_shared+dma",
			      { S_DONATE_GUEST_G1, M_G_SHARE, M_USE_DMA, M_TEARDOWN_P }, 4, X_GS_DMA, 2 },
	[ST_NP_DEAD]   = { "np_vm_dead", { S_SHARE_GUEST_G1, M_TEARDOWN_NP }, 2, X_HOST, 1 },
	[ST_RECLAIMED] = { "reclaimed", { S_DONATE_GUEST_G1, M_TEARDOWN_P, M_RECLAIM }, 3, X_HOST, 2 },
};

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

/* Access results (rc of a host-access row). */
#define A_OK   STACK_PKVM_ACC_OK
#define A_OOPS STACK_PKVM_ACC_OOPS
#define A_SEGV STACK_PKVM_ACC_SIGSEGV
#define A_EFLT STACK_PKVM_ACC_EFAULT
/* Guest-access results (rc of a guest-access row): 0 = went through to P. */
#define TRANS  S2_FAULT_TRANSLATION

struct row {
	enum st st;
	enum op op;
	int rc;
	enum xid x;             /* P afterwards (SAME: the state's) */
	uint64_t map;           /* host access: the lazy map's size (0: none) */
	bool poison;            /* P's contents are zeroed */
};

#define R(s, o, r, x)   { ST_##s, M_##o, r, x, 0, false }
#define RZ(s, o, r, x)  { ST_##s, M_##o, r, x, 0, true }
#define RA(s, o, r, m)  { ST_##s, M_##o, r, SAME, m, false }
#define K4 SIM_SZ_4K
#define M2 SIM_SZ_2M
/* The three host accesses to a page the host owns or shares: (the lazy map's size) */
#define ACC_OK(s, m) RA(s, ACC_KERNEL, A_OK, m), RA(s, ACC_USER, A_OK, m), RA(s, ACC_UACCESS, A_OK, m)
/* ... and to one it does not: the injected abort, by who made the access */
#define ACC_DENIED(s) RA(s, ACC_KERNEL, A_OOPS, 0), RA(s, ACC_USER, A_SEGV, 0), \
		      RA(s, ACC_UACCESS, A_EFLT, 0)

static const struct row rows[] = {
	/* host-owned, never touched: the lazy map takes P's whole 2M */
	R(HOST, SHARE_HYP, 0, X_HYPS),
	R(HOST, UNSHARE_HYP, -EPERM, SAME),
	R(HOST, DONATE_HYP, 0, X_HYP),
	R(HOST, HYP_DONATE_HOST, -EPERM, SAME),
	R(HOST, PIN, -EPERM, SAME),
	R(HOST, UNPIN, -EINVAL, SAME),
	R(HOST, USE_DMA, 0, X_DMA),
	R(HOST, UNUSE_DMA, -EINVAL, SAME),
	R(HOST, SHARE_GUEST, 0, X_NP_G3),
	R(HOST, UNSHARE_GUEST, -ENOENT, SAME),
	R(HOST, DONATE_GUEST, 0, X_G3),
	R(HOST, G_SHARE, FWD, SAME),              /* G1 unmapped: to the host to fault it in */
	/*
	 * pKVM's pkvm_memunshare_call: every error of __pkvm_guest_unshare_host,
	 * -EFAULT for an unmapped IPA included, is INVALID_PARAMETER to the guest;
	 * only MEM_SHARE sends an unmapped IPA to the host to fault in.
	 */
	R(HOST, G_UNSHARE, -EFAULT, SAME),
	R(HOST, G_RELINQUISH, 0, SAME),           /* nothing mapped: a no-op */
	R(HOST, RECLAIM, -EPERM, SAME),
	ACC_OK(HOST, M2),
	R(HOST, GACC_NP, TRANS, SAME),
	R(HOST, GACC_P, TRANS, SAME),
	R(HOST, TEARDOWN_NP, 0, SAME),
	R(HOST, TEARDOWN_P, 0, SAME),
	R(HOST, FINALIZE_P, -EINVAL, SAME),

	/* host-owned, mapped by a 2M block (a host access): every change breaks the block first */
	R(MAPPED, SHARE_HYP, 0, X_HYPS),
	R(MAPPED, UNSHARE_HYP, -EPERM, SAME),
	R(MAPPED, DONATE_HYP, 0, X_HYP),
	R(MAPPED, HYP_DONATE_HOST, -EPERM, SAME),
	R(MAPPED, PIN, -EPERM, SAME),
	R(MAPPED, UNPIN, -EINVAL, SAME),
	R(MAPPED, USE_DMA, 0, X_DMA),
	R(MAPPED, UNUSE_DMA, -EINVAL, SAME),
	R(MAPPED, SHARE_GUEST, 0, X_NP_G3),
	R(MAPPED, UNSHARE_GUEST, -ENOENT, SAME),
	R(MAPPED, DONATE_GUEST, 0, X_G3),
	R(MAPPED, G_SHARE, FWD, SAME),
	R(MAPPED, G_UNSHARE, -EFAULT, SAME),
	R(MAPPED, G_RELINQUISH, 0, SAME),
	R(MAPPED, RECLAIM, -EPERM, SAME),
	ACC_OK(MAPPED, 0),
	R(MAPPED, GACC_NP, TRANS, SAME),
	R(MAPPED, GACC_P, TRANS, SAME),
	R(MAPPED, TEARDOWN_NP, 0, SAME),
	R(MAPPED, TEARDOWN_P, 0, SAME),
	R(MAPPED, FINALIZE_P, -EINVAL, SAME),

	/* host-owned with a DMA reference */
	R(DMA, SHARE_HYP, 0, X_HYPS_DMA),         /* sharing keeps the host's access */
	R(DMA, UNSHARE_HYP, -EPERM, SAME),
	R(DMA, DONATE_HYP, -EBUSY, SAME),         /* §10.2: no donation while DMA-mapped */
	R(DMA, HYP_DONATE_HOST, -EPERM, SAME),
	R(DMA, PIN, -EPERM, SAME),
	R(DMA, UNPIN, -EINVAL, SAME),
	R(DMA, USE_DMA, 0, X_DMA2),
	R(DMA, UNUSE_DMA, 0, X_HOST),
	R(DMA, SHARE_GUEST, -EPERM, SAME),        /* docs/pkvm.md choice: Android's -EPERM */
	R(DMA, UNSHARE_GUEST, -ENOENT, SAME),
	R(DMA, DONATE_GUEST, -EBUSY, SAME),       /* §6.3: refcount must be 0 */
	R(DMA, G_SHARE, FWD, SAME),
	R(DMA, G_UNSHARE, -EFAULT, SAME),
	R(DMA, G_RELINQUISH, 0, SAME),
	R(DMA, RECLAIM, -EPERM, SAME),
	ACC_OK(DMA, M2),
	R(DMA, GACC_NP, TRANS, SAME),
	R(DMA, GACC_P, TRANS, SAME),
	R(DMA, TEARDOWN_NP, 0, SAME),
	R(DMA, TEARDOWN_P, 0, SAME),
	R(DMA, FINALIZE_P, -EINVAL, SAME),

	/* shared with the hyp (mapped 4K by the share) */
	R(HYPS, SHARE_HYP, -EPERM, SAME),
	R(HYPS, UNSHARE_HYP, 0, X_HOST),
	R(HYPS, DONATE_HYP, -EPERM, SAME),
	R(HYPS, HYP_DONATE_HOST, -EPERM, SAME),   /* hyp only borrows it */
	R(HYPS, PIN, 0, X_HYPP),
	R(HYPS, UNPIN, -EINVAL, SAME),
	R(HYPS, USE_DMA, 0, X_HYPS_DMA),
	R(HYPS, UNUSE_DMA, -EINVAL, SAME),
	R(HYPS, SHARE_GUEST, -EPERM, SAME),       /* shared_owned with no guest share */
	R(HYPS, UNSHARE_GUEST, -ENOENT, SAME),
	R(HYPS, DONATE_GUEST, -EPERM, SAME),
	R(HYPS, G_SHARE, FWD, SAME),
	R(HYPS, G_UNSHARE, -EFAULT, SAME),
	R(HYPS, G_RELINQUISH, 0, SAME),
	R(HYPS, RECLAIM, -EPERM, SAME),
	ACC_OK(HYPS, 0),
	R(HYPS, GACC_NP, TRANS, SAME),
	R(HYPS, GACC_P, TRANS, SAME),
	R(HYPS, TEARDOWN_NP, 0, SAME),
	R(HYPS, TEARDOWN_P, 0, SAME),
	R(HYPS, FINALIZE_P, -EINVAL, SAME),

	/* shared with the hyp and pinned */
	R(HYPP, SHARE_HYP, -EPERM, SAME),
	R(HYPP, UNSHARE_HYP, -EBUSY, SAME),       /* §6.3: -EBUSY if pinned */
	R(HYPP, DONATE_HYP, -EPERM, SAME),
	R(HYPP, HYP_DONATE_HOST, -EPERM, SAME),
	R(HYPP, PIN, 0, X_HYPP2),
	R(HYPP, UNPIN, 0, X_HYPS),
	R(HYPP, USE_DMA, 0, X_HYPP_DMA),
	R(HYPP, UNUSE_DMA, -EINVAL, SAME),
	R(HYPP, SHARE_GUEST, -EPERM, SAME),
	R(HYPP, UNSHARE_GUEST, -ENOENT, SAME),
	R(HYPP, DONATE_GUEST, -EPERM, SAME),
	R(HYPP, G_SHARE, FWD, SAME),
	R(HYPP, G_UNSHARE, -EFAULT, SAME),
	R(HYPP, G_RELINQUISH, 0, SAME),
	R(HYPP, RECLAIM, -EPERM, SAME),
	ACC_OK(HYPP, 0),
	R(HYPP, GACC_NP, TRANS, SAME),
	R(HYPP, GACC_P, TRANS, SAME),
	R(HYPP, TEARDOWN_NP, 0, SAME),
	R(HYPP, TEARDOWN_P, 0, SAME),
	R(HYPP, FINALIZE_P, -EINVAL, SAME),

	/* shared with the hyp, with a DMA reference */
	R(HYPS_DMA, SHARE_HYP, -EPERM, SAME),
	R(HYPS_DMA, UNSHARE_HYP, 0, X_DMA),
	R(HYPS_DMA, DONATE_HYP, -EPERM, SAME),    /* the host state is checked first */
	R(HYPS_DMA, HYP_DONATE_HOST, -EPERM, SAME),
	R(HYPS_DMA, PIN, 0, X_HYPP_DMA),
	R(HYPS_DMA, UNPIN, -EINVAL, SAME),
	R(HYPS_DMA, USE_DMA, 0, X_HYPS_DMA2),
	R(HYPS_DMA, UNUSE_DMA, 0, X_HYPS),
	R(HYPS_DMA, SHARE_GUEST, -EPERM, SAME),
	R(HYPS_DMA, UNSHARE_GUEST, -ENOENT, SAME),
	R(HYPS_DMA, DONATE_GUEST, -EPERM, SAME),
	R(HYPS_DMA, G_SHARE, FWD, SAME),
	R(HYPS_DMA, G_UNSHARE, -EFAULT, SAME),
	R(HYPS_DMA, G_RELINQUISH, 0, SAME),
	R(HYPS_DMA, RECLAIM, -EPERM, SAME),
	ACC_OK(HYPS_DMA, 0),
	R(HYPS_DMA, GACC_NP, TRANS, SAME),
	R(HYPS_DMA, GACC_P, TRANS, SAME),
	R(HYPS_DMA, TEARDOWN_NP, 0, SAME),
	R(HYPS_DMA, TEARDOWN_P, 0, SAME),
	R(HYPS_DMA, FINALIZE_P, -EINVAL, SAME),

	/* donated to the hyp */
	R(HYP, SHARE_HYP, -EPERM, SAME),
	R(HYP, UNSHARE_HYP, -EPERM, SAME),
	R(HYP, DONATE_HYP, -EPERM, SAME),
	R(HYP, HYP_DONATE_HOST, 0, X_HOST),       /* not the hyp's own use (pool, metadata) */
	R(HYP, PIN, -EPERM, SAME),
	R(HYP, UNPIN, -EINVAL, SAME),
	R(HYP, USE_DMA, -EPERM, SAME),
	R(HYP, UNUSE_DMA, -EINVAL, SAME),
	R(HYP, SHARE_GUEST, -EPERM, SAME),
	R(HYP, UNSHARE_GUEST, -ENOENT, SAME),
	R(HYP, DONATE_GUEST, -EPERM, SAME),
	R(HYP, G_SHARE, FWD, SAME),
	R(HYP, G_UNSHARE, -EFAULT, SAME),
	R(HYP, G_RELINQUISH, 0, SAME),
	R(HYP, RECLAIM, -EPERM, SAME),
	ACC_DENIED(HYP),
	R(HYP, GACC_NP, TRANS, SAME),
	R(HYP, GACC_P, TRANS, SAME),
	R(HYP, TEARDOWN_NP, 0, SAME),
	R(HYP, TEARDOWN_P, 0, SAME),
	R(HYP, FINALIZE_P, -EINVAL, SAME),

	/* shared with the non-protected VM at G1 */
	R(NP1, SHARE_HYP, -EPERM, SAME),
	R(NP1, UNSHARE_HYP, -EPERM, SAME),        /* host shared_owned, but the hyp does not borrow it */
	R(NP1, DONATE_HYP, -EPERM, SAME),
	R(NP1, HYP_DONATE_HOST, -EPERM, SAME),
	R(NP1, PIN, -EPERM, SAME),
	R(NP1, UNPIN, -EINVAL, SAME),
	R(NP1, USE_DMA, 0, X_NP1_DMA),
	R(NP1, UNUSE_DMA, -EINVAL, SAME),
	R(NP1, SHARE_GUEST, 0, X_NP1_G3),         /* a second borrower: count 2 */
	R(NP1, UNSHARE_GUEST, 0, X_HOST),
	R(NP1, DONATE_GUEST, -EPERM, SAME),
	R(NP1, G_SHARE, FWD, SAME),
	R(NP1, G_UNSHARE, -EFAULT, SAME),
	R(NP1, G_RELINQUISH, 0, SAME),
	R(NP1, RECLAIM, -EPERM, SAME),
	ACC_OK(NP1, 0),
	R(NP1, GACC_NP, 0, SAME),
	R(NP1, GACC_P, TRANS, SAME),
	R(NP1, TEARDOWN_NP, 0, X_HOST),           /* the share ends with the VM */
	R(NP1, TEARDOWN_P, 0, SAME),
	R(NP1, FINALIZE_P, -EINVAL, SAME),

	/* shared with the non-protected VM twice (G1, G2) */
	R(NP2, SHARE_HYP, -EPERM, SAME),
	R(NP2, UNSHARE_HYP, -EPERM, SAME),
	R(NP2, DONATE_HYP, -EPERM, SAME),
	R(NP2, HYP_DONATE_HOST, -EPERM, SAME),
	R(NP2, PIN, -EPERM, SAME),
	R(NP2, UNPIN, -EINVAL, SAME),
	R(NP2, USE_DMA, 0, X_NP2_DMA),
	R(NP2, UNUSE_DMA, -EINVAL, SAME),
	R(NP2, SHARE_GUEST, 0, X_NP2_G3),
	R(NP2, UNSHARE_GUEST, 0, X_NP_G2),        /* count 2 => 1: still shared_owned */
	R(NP2, DONATE_GUEST, -EPERM, SAME),
	R(NP2, G_SHARE, FWD, SAME),
	R(NP2, G_UNSHARE, -EFAULT, SAME),
	R(NP2, G_RELINQUISH, 0, SAME),
	R(NP2, RECLAIM, -EPERM, SAME),
	ACC_OK(NP2, 0),
	R(NP2, GACC_NP, 0, SAME),
	R(NP2, GACC_P, TRANS, SAME),
	R(NP2, TEARDOWN_NP, 0, X_HOST),
	R(NP2, TEARDOWN_P, 0, SAME),
	R(NP2, FINALIZE_P, -EINVAL, SAME),

	/* shared with the non-protected VM, with a DMA reference */
	R(NP1_DMA, SHARE_HYP, -EPERM, SAME),
	R(NP1_DMA, UNSHARE_HYP, -EPERM, SAME),
	R(NP1_DMA, DONATE_HYP, -EPERM, SAME),
	R(NP1_DMA, HYP_DONATE_HOST, -EPERM, SAME),
	R(NP1_DMA, PIN, -EPERM, SAME),
	R(NP1_DMA, UNPIN, -EINVAL, SAME),
	R(NP1_DMA, USE_DMA, 0, X_NP1_DMA2),
	R(NP1_DMA, UNUSE_DMA, 0, X_NP1),
	/* docs/pkvm.md: only a fresh share needs no reference; another borrower does not take it away */
	R(NP1_DMA, SHARE_GUEST, 0, X_NP1_DMA_G3),
	R(NP1_DMA, UNSHARE_GUEST, 0, X_DMA),
	R(NP1_DMA, DONATE_GUEST, -EPERM, SAME),
	R(NP1_DMA, G_SHARE, FWD, SAME),
	R(NP1_DMA, G_UNSHARE, -EFAULT, SAME),
	R(NP1_DMA, G_RELINQUISH, 0, SAME),
	R(NP1_DMA, RECLAIM, -EPERM, SAME),
	ACC_OK(NP1_DMA, 0),
	R(NP1_DMA, GACC_NP, 0, SAME),
	R(NP1_DMA, GACC_P, TRANS, SAME),
	R(NP1_DMA, TEARDOWN_NP, 0, X_DMA),        /* the share ends; the DMA mapping stays */
	R(NP1_DMA, TEARDOWN_P, 0, SAME),
	R(NP1_DMA, FINALIZE_P, -EINVAL, SAME),

	/* donated to the protected VM at G1 */
	R(GUEST, SHARE_HYP, -EPERM, SAME),
	R(GUEST, UNSHARE_HYP, -EPERM, SAME),
	R(GUEST, DONATE_HYP, -EPERM, SAME),
	R(GUEST, HYP_DONATE_HOST, -EPERM, SAME),
	R(GUEST, PIN, -EPERM, SAME),
	R(GUEST, UNPIN, -EINVAL, SAME),
	R(GUEST, USE_DMA, -EPERM, SAME),
	R(GUEST, UNUSE_DMA, -EINVAL, SAME),
	R(GUEST, SHARE_GUEST, -EPERM, SAME),
	R(GUEST, UNSHARE_GUEST, -ENOENT, SAME),
	R(GUEST, DONATE_GUEST, -EPERM, SAME),     /* a second GFN cannot take it */
	R(GUEST, G_SHARE, 0, X_GS),
	R(GUEST, G_UNSHARE, -EPERM, SAME),
	RZ(GUEST, G_RELINQUISH, 0, X_HOST),       /* poisoned, back to the host */
	R(GUEST, RECLAIM, -EPERM, SAME),          /* the VM is alive */
	ACC_DENIED(GUEST),
	R(GUEST, GACC_NP, TRANS, SAME),
	R(GUEST, GACC_P, 0, SAME),
	R(GUEST, TEARDOWN_NP, 0, SAME),
	R(GUEST, TEARDOWN_P, 0, SAME),            /* the page waits for reclaim */
	R(GUEST, FINALIZE_P, -EINVAL, SAME),      /* not dying */

	/* donated, then shared back by the guest (host shared_borrowed) */
	R(GSH, SHARE_HYP, -EPERM, SAME),          /* the host cannot lend what it borrows */
	R(GSH, UNSHARE_HYP, -EPERM, SAME),
	R(GSH, DONATE_HYP, -EPERM, SAME),
	R(GSH, HYP_DONATE_HOST, -EPERM, SAME),
	R(GSH, PIN, -EPERM, SAME),
	R(GSH, UNPIN, -EINVAL, SAME),
	R(GSH, USE_DMA, 0, X_GS_DMA),
	R(GSH, UNUSE_DMA, -EINVAL, SAME),
	R(GSH, SHARE_GUEST, -EPERM, SAME),
	R(GSH, UNSHARE_GUEST, -ENOENT, SAME),
	R(GSH, DONATE_GUEST, -EPERM, SAME),
	R(GSH, G_SHARE, -EPERM, SAME),
	R(GSH, G_UNSHARE, 0, X_G1),
	R(GSH, G_RELINQUISH, -EPERM, SAME),       /* only an owned page can be relinquished */
	R(GSH, RECLAIM, -EPERM, SAME),
	ACC_OK(GSH, 0),
	R(GSH, GACC_NP, TRANS, SAME),
	R(GSH, GACC_P, 0, SAME),
	R(GSH, TEARDOWN_NP, 0, SAME),
	R(GSH, TEARDOWN_P, 0, SAME),              /* the page waits for reclaim */
	R(GSH, FINALIZE_P, -EINVAL, SAME),

	/* shared back, with a host DMA reference */
	R(GSH_DMA, SHARE_HYP, -EPERM, SAME),
	R(GSH_DMA, UNSHARE_HYP, -EPERM, SAME),
	R(GSH_DMA, DONATE_HYP, -EPERM, SAME),
	R(GSH_DMA, HYP_DONATE_HOST, -EPERM, SAME),
	R(GSH_DMA, PIN, -EPERM, SAME),
	R(GSH_DMA, UNPIN, -EINVAL, SAME),
	R(GSH_DMA, USE_DMA, 0, X_GS_DMA2),
	R(GSH_DMA, UNUSE_DMA, 0, X_GS),
	R(GSH_DMA, SHARE_GUEST, -EPERM, SAME),
	R(GSH_DMA, UNSHARE_GUEST, -ENOENT, SAME),
	R(GSH_DMA, DONATE_GUEST, -EPERM, SAME),
	R(GSH_DMA, G_SHARE, -EPERM, SAME),
	R(GSH_DMA, G_UNSHARE, -EBUSY, SAME),      /* §6.3: fails while DMA-mapped */
	/*
	 * Android's relinquish_walker checks the guest state first (-EPERM: only an
	 * owned page can be given back); §6.3's -EBUSY is for a reference on an
	 * owned page, which host-only DMA references cannot make.
	 */
	R(GSH_DMA, G_RELINQUISH, -EPERM, SAME),
	R(GSH_DMA, RECLAIM, -EPERM, SAME),
	ACC_OK(GSH_DMA, 0),
	R(GSH_DMA, GACC_NP, TRANS, SAME),
	R(GSH_DMA, GACC_P, 0, SAME),
	R(GSH_DMA, TEARDOWN_NP, 0, SAME),
	R(GSH_DMA, TEARDOWN_P, 0, SAME),
	R(GSH_DMA, FINALIZE_P, -EINVAL, SAME),

	/* relinquished by the guest: the host's again, unmapped at 4K (the donation split the table) */
	R(RELINQ, SHARE_HYP, 0, X_HYPS),
	R(RELINQ, UNSHARE_HYP, -EPERM, SAME),
	R(RELINQ, DONATE_HYP, 0, X_HYP),
	R(RELINQ, HYP_DONATE_HOST, -EPERM, SAME),
	R(RELINQ, PIN, -EPERM, SAME),
	R(RELINQ, UNPIN, -EINVAL, SAME),
	R(RELINQ, USE_DMA, 0, X_DMA),
	R(RELINQ, UNUSE_DMA, -EINVAL, SAME),
	R(RELINQ, SHARE_GUEST, 0, X_NP_G3),
	R(RELINQ, UNSHARE_GUEST, -ENOENT, SAME),
	R(RELINQ, DONATE_GUEST, 0, X_G3),
	R(RELINQ, G_SHARE, FWD, SAME),
	R(RELINQ, G_UNSHARE, -EFAULT, SAME),
	R(RELINQ, G_RELINQUISH, 0, SAME),         /* again: nothing mapped, a no-op */
	R(RELINQ, RECLAIM, -EPERM, SAME),
	ACC_OK(RELINQ, K4),
	R(RELINQ, GACC_NP, TRANS, SAME),
	R(RELINQ, GACC_P, TRANS, SAME),
	R(RELINQ, TEARDOWN_NP, 0, SAME),
	R(RELINQ, TEARDOWN_P, 0, SAME),
	R(RELINQ, FINALIZE_P, -EINVAL, SAME),

	/* guest-owned, the protected VM torn down (before reclaim) */
	R(DEAD, SHARE_HYP, -EPERM, SAME),
	R(DEAD, UNSHARE_HYP, -EPERM, SAME),
	R(DEAD, DONATE_HYP, -EPERM, SAME),
	R(DEAD, HYP_DONATE_HOST, -EPERM, SAME),
	R(DEAD, PIN, -EPERM, SAME),
	R(DEAD, UNPIN, -EINVAL, SAME),
	R(DEAD, USE_DMA, -EPERM, SAME),
	R(DEAD, UNUSE_DMA, -EINVAL, SAME),
	R(DEAD, SHARE_GUEST, -EPERM, SAME),
	R(DEAD, UNSHARE_GUEST, -ENOENT, SAME),
	R(DEAD, DONATE_GUEST, -EINVAL, SAME),     /* a dying VM */
	R(DEAD, G_SHARE, GONE, SAME),
	R(DEAD, G_UNSHARE, GONE, SAME),
	R(DEAD, G_RELINQUISH, GONE, SAME),
	RZ(DEAD, RECLAIM, 0, X_HOST),             /* §6.8: guest-owned pages poisoned */
	ACC_DENIED(DEAD),                         /* still the guest's until reclaimed */
	R(DEAD, GACC_NP, TRANS, SAME),
	R(DEAD, GACC_P, GONE, SAME),
	R(DEAD, TEARDOWN_NP, 0, SAME),
	R(DEAD, TEARDOWN_P, -EINVAL, SAME),       /* already dying */
	R(DEAD, FINALIZE_P, -EBUSY, SAME),        /* a page to reclaim */

	/* shared back, the protected VM torn down */
	R(DEAD_GSH, SHARE_HYP, -EPERM, SAME),
	R(DEAD_GSH, UNSHARE_HYP, -EPERM, SAME),
	R(DEAD_GSH, DONATE_HYP, -EPERM, SAME),
	R(DEAD_GSH, HYP_DONATE_HOST, -EPERM, SAME),
	R(DEAD_GSH, PIN, -EPERM, SAME),
	R(DEAD_GSH, UNPIN, -EINVAL, SAME),
	R(DEAD_GSH, USE_DMA, 0, X_GS_DMA),        /* the host still borrows it */
	R(DEAD_GSH, UNUSE_DMA, -EINVAL, SAME),
	R(DEAD_GSH, SHARE_GUEST, -EPERM, SAME),
	R(DEAD_GSH, UNSHARE_GUEST, -ENOENT, SAME),
	R(DEAD_GSH, DONATE_GUEST, -EINVAL, SAME),
	R(DEAD_GSH, G_SHARE, GONE, SAME),
	R(DEAD_GSH, G_UNSHARE, GONE, SAME),
	R(DEAD_GSH, G_RELINQUISH, GONE, SAME),
	R(DEAD_GSH, RECLAIM, 0, X_HOST),          /* §6.8: shared pages just return, contents kept */
	ACC_OK(DEAD_GSH, 0),
	R(DEAD_GSH, GACC_NP, TRANS, SAME),
	R(DEAD_GSH, GACC_P, GONE, SAME),
	R(DEAD_GSH, TEARDOWN_NP, 0, SAME),
	R(DEAD_GSH, TEARDOWN_P, -EINVAL, SAME),
	R(DEAD_GSH, FINALIZE_P, -EBUSY, SAME),

	/* shared back with a DMA reference, the protected VM torn down */
	R(DEAD_GSH_DMA, SHARE_HYP, -EPERM, SAME),
	R(DEAD_GSH_DMA, UNSHARE_HYP, -EPERM, SAME),
	R(DEAD_GSH_DMA, DONATE_HYP, -EPERM, SAME),
	R(DEAD_GSH_DMA, HYP_DONATE_HOST, -EPERM, SAME),
	R(DEAD_GSH_DMA, PIN, -EPERM, SAME),
	R(DEAD_GSH_DMA, UNPIN, -EINVAL, SAME),
	R(DEAD_GSH_DMA, USE_DMA, 0, X_GS_DMA2),
	R(DEAD_GSH_DMA, UNUSE_DMA, 0, X_GS),
	R(DEAD_GSH_DMA, SHARE_GUEST, -EPERM, SAME),
	R(DEAD_GSH_DMA, UNSHARE_GUEST, -ENOENT, SAME),
	R(DEAD_GSH_DMA, DONATE_GUEST, -EINVAL, SAME),
	R(DEAD_GSH_DMA, G_SHARE, GONE, SAME),
	R(DEAD_GSH_DMA, G_UNSHARE, GONE, SAME),
	R(DEAD_GSH_DMA, G_RELINQUISH, GONE, SAME),
	R(DEAD_GSH_DMA, RECLAIM, 0, X_DMA),       /* back to the host, which keeps its DMA mapping */
	ACC_OK(DEAD_GSH_DMA, 0),
	R(DEAD_GSH_DMA, GACC_NP, TRANS, SAME),
	R(DEAD_GSH_DMA, GACC_P, GONE, SAME),
	R(DEAD_GSH_DMA, TEARDOWN_NP, 0, SAME),
	R(DEAD_GSH_DMA, TEARDOWN_P, -EINVAL, SAME),
	R(DEAD_GSH_DMA, FINALIZE_P, -EBUSY, SAME),

	/* shared with the non-protected VM, which was torn down: the share ended (mapped 4K, owned) */
	R(NP_DEAD, SHARE_HYP, 0, X_HYPS),
	R(NP_DEAD, UNSHARE_HYP, -EPERM, SAME),
	R(NP_DEAD, DONATE_HYP, 0, X_HYP),
	R(NP_DEAD, HYP_DONATE_HOST, -EPERM, SAME),
	R(NP_DEAD, PIN, -EPERM, SAME),
	R(NP_DEAD, UNPIN, -EINVAL, SAME),
	R(NP_DEAD, USE_DMA, 0, X_DMA),
	R(NP_DEAD, UNUSE_DMA, -EINVAL, SAME),
	R(NP_DEAD, SHARE_GUEST, -EINVAL, SAME),   /* a dying VM */
	R(NP_DEAD, UNSHARE_GUEST, -EINVAL, SAME),
	R(NP_DEAD, DONATE_GUEST, 0, X_G3),
	R(NP_DEAD, G_SHARE, FWD, SAME),
	R(NP_DEAD, G_UNSHARE, -EFAULT, SAME),
	R(NP_DEAD, G_RELINQUISH, 0, SAME),
	R(NP_DEAD, RECLAIM, -EPERM, SAME),        /* never the VM's page */
	ACC_OK(NP_DEAD, 0),
	R(NP_DEAD, GACC_NP, GONE, SAME),
	R(NP_DEAD, GACC_P, TRANS, SAME),
	R(NP_DEAD, TEARDOWN_NP, -EINVAL, SAME),   /* already dying */
	R(NP_DEAD, TEARDOWN_P, 0, SAME),
	R(NP_DEAD, FINALIZE_P, -EINVAL, SAME),

	/* reclaimed from the dead protected VM: the host's, unmapped at 4K */
	R(RECLAIMED, SHARE_HYP, 0, X_HYPS),
	R(RECLAIMED, UNSHARE_HYP, -EPERM, SAME),
	R(RECLAIMED, DONATE_HYP, 0, X_HYP),
	R(RECLAIMED, HYP_DONATE_HOST, -EPERM, SAME),
	R(RECLAIMED, PIN, -EPERM, SAME),
	R(RECLAIMED, UNPIN, -EINVAL, SAME),
	R(RECLAIMED, USE_DMA, 0, X_DMA),
	R(RECLAIMED, UNUSE_DMA, -EINVAL, SAME),
	R(RECLAIMED, SHARE_GUEST, 0, X_NP_G3),
	R(RECLAIMED, UNSHARE_GUEST, -ENOENT, SAME),
	R(RECLAIMED, DONATE_GUEST, -EINVAL, SAME),
	R(RECLAIMED, G_SHARE, GONE, SAME),
	R(RECLAIMED, G_UNSHARE, GONE, SAME),
	R(RECLAIMED, G_RELINQUISH, GONE, SAME),
	R(RECLAIMED, RECLAIM, -EPERM, SAME),      /* once only */
	ACC_OK(RECLAIMED, K4),
	R(RECLAIMED, GACC_NP, TRANS, SAME),
	R(RECLAIMED, GACC_P, GONE, SAME),
	R(RECLAIMED, TEARDOWN_NP, 0, SAME),
	R(RECLAIMED, TEARDOWN_P, -EINVAL, SAME),
	R(RECLAIMED, FINALIZE_P, 0, SAME),        /* nothing left to reclaim: freed */
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* ------------------------------------------------------------------ */
/* Running a row                                                       */
/* ------------------------------------------------------------------ */

/* Everything the model reports about P and the watched GFNs (a refusal must not change it). */
struct snap {
	struct stack_pkvm_page p;
	enum stack_pkvm_state g[2][3];
	uint64_t gpa[2][3];
	bool dma_allowed;
	uint64_t pool, memcache[2], vm_pages[2];   /* table pages left; pages each VM holds */
};

static void take_snap(struct env *e, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(stack_pkvm_page(e->pk, P, &s->p), 0);
	for (int v = 0; v < 2; v++)
		for (int j = 0; j < 3; j++)
			s->g[v][j] = stack_pkvm_guest_state(e->pk, e->vm[v], watched[j], &s->gpa[v][j]);
	s->dma_allowed = stack_pkvm_dma_allowed(e->pk, (uint64_t)P << 12);
	s->pool = stack_pkvm_pool_free(e->pk);
	for (int v = 0; v < 2; v++) {
		s->memcache[v] = stack_pkvm_vm_memcache(e->pk, e->vm[v]);
		s->vm_pages[v] = stack_pkvm_vm_pages(e->pk, e->vm[v]);
	}
}

/*
 * Fill the TLBs with what each party may use now, changing nothing the
 * rows expect: every watched GFN of both VMs read, and P read by the host
 * if its stage 2 already maps it (a lazy map would change the state).
 * A transition that forgets a TLBI then shows in probe().
 */
static void warm(struct env *e)
{
	struct stack_pkvm_acc_res a;
	struct stack_pkvm_page p;
	uint64_t pa;

	for (int v = 0; v < 2; v++)
		for (int j = 0; j < 3; j++)
			(void)stack_pkvm_guest_access(e->pk, &e->who, e->vm[v], watched[j] << 12, false,
						      &pa, NULL);
	cr_assert_eq(stack_pkvm_page(e->pk, P, &p), 0);
	if (p.host_mapped) {
		cr_assert_eq(stack_pkvm_host_access(e->pk, &e->who, (uint64_t)P << 12, false,
						    STACK_PKVM_BY_KERNEL, &a, NULL), 0);
		cr_assert_eq(a.result, STACK_PKVM_ACC_OK);
	}
}

/*
 * After the row: what each party can actually reach agrees with the
 * state: the host gets through to P exactly when it owns or shares it, a
 * VM reaches P at a watched GFN exactly when its stage 2 holds it there,
 * and a dying VM runs nothing.
 */
static void probe(struct env *e, enum xid xi, unsigned dead, const char *what)
{
	const struct full *x = &xs[xi];
	struct stack_pkvm_acc_res a;

	cr_assert_eq(stack_pkvm_host_access(e->pk, &e->who, (uint64_t)P << 12, false,
					    STACK_PKVM_BY_UACCESS, &a, NULL), 0);
	cr_assert_eq(a.result == STACK_PKVM_ACC_OK, x->host != NOP, "%s: host access after: %s",
		     what, stack_pkvm_access_names[a.result]);
	for (int v = 0; v < 2; v++)
		for (int j = 0; j < 3; j++) {
			uint64_t pa = 0;
			int f = stack_pkvm_guest_access(e->pk, &e->who, e->vm[v], watched[j] << 12, false,
							&pa, NULL);

			if (dead & (1u << v))
				cr_assert_eq(f, -EINVAL, "%s: dying vm%d ran: %d", what, v, f);
			else if (x->g[v][j] != NOP)
				cr_assert(f == S2_FAULT_NONE && pa == (uint64_t)P << 12,
					  "%s: vm%d gfn 0x%llx: fault %d pa 0x%llx", what, v,
					  (unsigned long long)watched[j], f, (unsigned long long)pa);
			else
				cr_assert_eq(f, S2_FAULT_TRANSLATION, "%s: vm%d gfn 0x%llx: fault %d", what,
					     v, (unsigned long long)watched[j], f);
		}
}

static void reach(struct env *e, enum st st)
{
	const struct state *s = &states[st];
	char what[96];

	for (unsigned i = 0; i < s->n; i++) {
		struct outcome o;

		run_op(e, s->setup[i], &o);
		cr_assert_eq(o.rc, 0, "state %s: set-up step %u: %d", s->name, i, o.rc);
		snprintf(what, sizeof(what), "state %s: set-up step %u", s->name, i);
		check(e, what);
	}
	snprintf(what, sizeof(what), "state %s", s->name);
	assert_full(e, s->x, what);
	warm(e);
}

ParameterizedTestParameters(pkvm_matrix, rows)
{
	static unsigned idx[NROWS];

	for (unsigned i = 0; i < NROWS; i++)
		idx[i] = i;
	return cr_make_param_array(unsigned, idx, NROWS);
}

/* The parameter is the row's index: Criterion passes parameters through a small buffer. */
ParameterizedTest(unsigned *ri, pkvm_matrix, rows)
{
	const struct row *r = &rows[*ri];
	const struct stack_pkvm_stats *c;
	enum kind k = op_kind(r->op);
	struct stack_pkvm_stats before;
	struct snap s0, s1;
	struct outcome o;
	uint64_t data0;
	unsigned dead;
	char what[128];
	struct env e;

	snprintf(what, sizeof(what), "row %u: %s / %s", *ri, states[r->st].name, op_names[r->op]);
	matrix_env(&e);
	reach(&e, r->st);
	c = stack_pkvm_stats(e.pk);
	before = *c;
	take_snap(&e, &s0);
	data0 = sim_mem_peek64(sim_mem(e.s), (uint64_t)P << 12);

	run_op(&e, r->op, &o);
	cr_assert_eq(o.rc, r->rc, "%s: rc %d, want %d", what, o.rc, r->rc);
	check(&e, what);
	assert_full(&e, r->x == SAME ? states[r->st].x : r->x, what);

	/* a refusal (or a no-op) changes nothing the model reports, table pages included */
	take_snap(&e, &s1);
	if (r->rc)
		cr_assert(s0.pool == s1.pool && !memcmp(s0.memcache, s1.memcache, sizeof(s0.memcache)) &&
			  !memcmp(s0.vm_pages, s1.vm_pages, sizeof(s0.vm_pages)),
			  "%s: refused, yet table pages or VM pages changed", what);
	s1.pool = s0.pool;     /* a success may take table pages (a lazy map) or free a VM */
	memcpy(s1.memcache, s0.memcache, sizeof(s0.memcache));
	memcpy(s1.vm_pages, s0.vm_pages, sizeof(s0.vm_pages));
	if (r->x == SAME && k != K_HOST_ACC)
		cr_assert(!memcmp(&s0, &s1, sizeof(s0)), "%s: refused, yet P's state changed", what);
	if (k == K_HOST_ACC) {
		/* went through: P is mapped now (at the lazy map's size if it took one) */
		if (r->rc == A_OK)
			cr_assert(s1.p.host_mapped && (!r->map || s1.p.host_map_size == r->map),
				  "%s: mapped %d size 0x%llx", what, s1.p.host_mapped,
				  (unsigned long long)s1.p.host_map_size);
		/* only the host's own stage-2 mapping may change */
		s1.p.host_mapped = s0.p.host_mapped;
		s1.p.host_map_size = s0.p.host_map_size;
		cr_assert(!memcmp(&s0, &s1, sizeof(s0)), "%s: an access changed P's state", what);
	}

	/* contents: zeroed exactly when the row poisons */
	if (r->poison) {
		cr_assert_eq(sim_mem_peek64(sim_mem(e.s), (uint64_t)P << 12), 0, "%s: not poisoned", what);
		cr_assert_eq(c->poisoned, before.poisoned + 1, "%s", what);
	} else {
		cr_assert_eq(sim_mem_peek64(sim_mem(e.s), (uint64_t)P << 12), data0, "%s: contents", what);
		cr_assert_eq(c->poisoned, before.poisoned, "%s", what);
	}

	switch (k) {
	case K_HVC:              /* a host hypercall: counted, its refusal counted */
		cr_assert_eq(c->hvc, before.hvc + 1, "%s", what);
		cr_assert_eq(c->hvc_err, before.hvc_err + (r->rc != 0), "%s", what);
		/* only a successful finalize frees a VM */
		cr_assert_eq(stack_pkvm_vm_exists(e.pk, e.vm[1]), r->op != M_FINALIZE_P || r->rc != 0,
			     "%s", what);
		cr_assert(stack_pkvm_vm_exists(e.pk, e.vm[0]), "%s", what);
		break;
	case K_HYP:              /* hypervisor-internal: no hypercall */
		cr_assert_eq(c->hvc, before.hvc, "%s", what);
		break;
	case K_GUEST_HVC:
		cr_assert_eq(c->hvc, before.hvc, "%s", what);
		if (r->rc == GONE) {
			cr_assert(c->guest_hvc == before.guest_hvc && c->guest_exits == before.guest_exits,
				  "%s: a dying VM's call reached EL2", what);
		} else if (r->rc == FWD) {
			/* forwarded: registers untouched, the IPA to fault in */
			cr_assert_eq(c->guest_exits, before.guest_exits + 1, "%s", what);
			cr_assert_eq(o.hvc.fault_ipa, (uint64_t)G1 << 12, "%s", what);
			cr_assert_eq(o.regs[1], (uint64_t)G1 << 12, "%s", what);
		} else {
			cr_assert_eq(c->guest_hvc, before.guest_hvc + 1, "%s", what);
			if (r->rc) {
				cr_assert_eq(o.regs[0], STACK_PKVM_SMCCC_INVALID_PARAM, "%s", what);
			} else if (r->op == M_G_RELINQUISH) {
				/* the page given back, or none (nothing mapped: a no-op) */
				cr_assert_eq(o.hvc.pa, r->x == SAME ? 0 : (uint64_t)P << 12, "%s", what);
			} else {
				cr_assert_eq(o.regs[1], 1, "%s: granules done", what);
			}
		}
		break;
	case K_HOST_ACC:
		cr_assert_eq(o.acc.mapped, r->map != 0, "%s: mapped %d", what, o.acc.mapped);
		cr_assert_eq(o.acc.map_size, r->map, "%s: map size 0x%llx", what,
			     (unsigned long long)o.acc.map_size);
		cr_assert_eq(c->injected, before.injected + (r->rc != A_OK), "%s", what);
		if (r->rc != A_OK)
			cr_assert_eq(o.acc.far, (uint64_t)P << 12, "%s", what);
		break;
	case K_GUEST_ACC:
		if (r->rc == 0)
			cr_assert_eq(o.gpa, (uint64_t)P << 12, "%s: reached 0x%llx", what,
				     (unsigned long long)o.gpa);
		break;
	}

	dead = states[r->st].dead;
	if (!r->rc && r->op == M_TEARDOWN_NP)
		dead |= 1;
	if (!r->rc && (r->op == M_TEARDOWN_P || r->op == M_FINALIZE_P))
		dead |= 2;
	probe(&e, r->x == SAME ? states[r->st].x : r->x, dead, what);
	env_free(&e);
}

/* The table has every (state, operation) pair exactly once. */
Test(pkvm_matrix, complete)
{
	unsigned seen[ST_COUNT][M_OPS];

	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < NROWS; i++) {
		cr_assert(rows[i].st < ST_COUNT && rows[i].op < M_OPS, "row %u", i);
		cr_assert(rows[i].x <= SAME, "row %u", i);
		seen[rows[i].st][rows[i].op]++;
	}
	for (unsigned s = 0; s < ST_COUNT; s++)
		for (unsigned o = 0; o < M_OPS; o++)
			cr_assert_eq(seen[s][o], 1, "state %s, %s: %u rows", states[s].name, op_names[o],
				     seen[s][o]);
	cr_assert_eq(NROWS, (size_t)ST_COUNT * M_OPS);
}
