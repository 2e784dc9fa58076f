/*
 * test_stack_kvm_sev.c - KVM's handling of an SNP guest's VMGEXITs and
 * hypercalls (sim/stack/kvm_sev.c), called directly, table by table:
 *
 *   msr        the GHCB MSR protocol (SEV_INFO, HV features, GHCB GPA
 *              registration, PSC, termination, unknown requests)
 *   nae        the NAE page-state change through a registered GHCB: the
 *              GHCB checks (sev_es_validate_vmgexit, setup_vmgexit_scratch),
 *              the descriptor checks, the coalescing of entries into
 *              KVM_HC_MAP_GPA_RANGE exits and their completion
 *              (snp_begin_psc, snp_complete_one_psc)
 *   hypercall  KVM_HC_MAP_GPA_RANGE (kvm_emulate_hypercall)
 *   legacy     snp.backing=legacy: the PSC done in the kernel with RMPUPDATE
 *
 * Each row states the whole outcome: the user exits in order (reason,
 * gpa/npages/attributes), the final KVM result, the MSR answer or the
 * GHCB's sw_exit_info_1/2, the descriptor's header and every entry
 * afterwards, the change of every KVM counter of the VM, and (where the
 * VMM answered the exits with stack_vmm_handle) the memory attributes of
 * the range; every test ends with the stack's invariant checker.
 *
 * The expected values come from Linux arch/x86/kvm/svm/sev.c
 * (sev_handle_vmgexit, sev_handle_vmgexit_msr_protocol,
 * sev_es_validate_vmgexit, setup_vmgexit_scratch, snp_begin_psc_msr,
 * snp_complete_psc_msr, snp_begin_psc, snp_complete_one_psc), x86.c
 * kvm_emulate_hypercall, asm/sev-common.h, and the reference
 * (protection-semantics.md 4.1-4.3).  A row whose source value the model
 * does not produce carries .bug (what the source says): it is skipped
 * unless PROTSIM_KNOWN_BUGS=1 is set, which runs it (and it fails until
 * the model is fixed).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/stack/stack_int.h"

/* ------------------------------------------------------------------ */
/* Constants of the sources                                            */
/* ------------------------------------------------------------------ */

#define GHCB_GPA     0x7ff000ull      /* the GHCB: the top page of the 8M slot */
#define OFF_CODE     0x390            /* struct ghcb: save.sw_exit_code */
#define OFF_INFO1    0x398
#define OFF_INFO2    0x3a0
#define OFF_SCRATCH  0x3a8
#define OFF_BITMAP   0x3f0            /* save.valid_bitmap (16 bytes) */
#define OFF_SHBUF    0x800            /* shared_buffer */
#define OFF_VERSION  0xffa
#define OFF_USAGE    0xffc

#define SVM_VMGEXIT_PSC 0x80000010ull

/* asm/sev-common.h: GHCB_ERR_* (sw_exit_info_2 when sw_exit_info_1 = 2) */
#define GHCB_ERR_NOT_REGISTERED        1
#define GHCB_ERR_INVALID_USAGE         2
#define GHCB_ERR_INVALID_SCRATCH_AREA  3
#define GHCB_ERR_MISSING_INPUT         4
#define GHCB_ERR_INVALID_INPUT         5
#define GHCB_ERR_INVALID_EVENT         6

/* VMGEXIT_PSC_ERROR_* (sw_exit_info_2 of a PSC) */
#define PSC_INVALID_HDR    ((1ull << 32) | 1)
#define PSC_INVALID_ENTRY  ((1ull << 32) | 2)
#define PSC_GENERIC        (0x100ull << 32)

/* MSR protocol */
#define MSR_PSC(gfn, op)   (0x014ull | ((uint64_t)(gfn) << 12) | ((uint64_t)(op) << 52))
#define MSR_PSC_RESP       0x015ull
#define MSR_PSC_ERROR      ((1ull << 63) | 0x015ull)     /* GHCB_MSR_PSC_RESP_ERROR */

#define ENC   STACK_KVM_MAP_GPA_RANGE_ENCRYPTED
#define SZ2M  STACK_KVM_MAP_GPA_RANGE_PAGE_SZ_2M
#define PRIV  STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE
#define HC    STACK_KVM_HC_MAP_GPA_RANGE
#define EINVAL_RET (-22)

enum { OP_PRIVATE = 1, OP_SHARED = 2, OP_PSMASH = 3, OP_UNSMASH = 4 };

/* A PSC entry: cur_page, GFN, operation, 2M; a header: cur_entry, end_entry. */
#define ENT(gfn, op, huge, cp) \
	((uint64_t)(cp) | ((uint64_t)(gfn) << 12) | ((uint64_t)(op) << 52) | ((uint64_t)(huge) << 56))
#define HDR(cur, end) ((uint64_t)(cur) | ((uint64_t)(end) << 16))

/* Counter changes: the VMGEXIT/HYPERCALL exit KVM handled, the VMM's exits. */
#define X_VMGEXIT  .exits[CPU_EXIT_VMGEXIT] = 1
#define X_HCALL    .exits[CPU_EXIT_HYPERCALL] = 1, .hypercalls = 1
#define U_HCALL(n) .user_exits[STACK_UEXIT_HYPERCALL] = (n)

/* ------------------------------------------------------------------ */
/* The machine                                                         */
/* ------------------------------------------------------------------ */

enum kind {
	K_GMEM,          /* guest_memfd slot, MAP_GPA_RANGE exits on */
	K_GMEM_NOCAP,    /* the same without KVM_CAP_EXIT_HYPERCALL */
	K_LEGACY,        /* snp.backing=legacy, a slot without guest_memfd, no capability */
};

struct box {
	struct sim *s;
	struct stack *st;
	struct stack_vm *v;
	struct stack_kvm_vcpu *vc;
	struct sim_who who;
	uint64_t cyc;
};

/*
 * An SNP VM 1 with one 8M slot at GPA 0, launched; [1M, 1M + 64K) has the
 * private attribute (set between LAUNCH_START and LAUNCH_FINISH).
 */
static void box_new(struct box *b, enum kind k)
{
	static const char head[] =
		"machine mem=1g cpus=1 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m%s\n"
		"vm create vm=1 type=snp\n";
	char text[1024], *out = NULL;
	size_t outn = 0;
	FILE *o = open_memstream(&out, &outn);
	int n, rc;

	cr_assert(o);
	n = snprintf(text, sizeof(text), head, k == K_LEGACY ? " snp.backing=legacy" : "");
	if (k == K_LEGACY)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "vm memslot vm=1 slot=0 gpa=0 size=8m\n"
			      "snp launch_start vm=1\n"
			      "snp launch_finish vm=1\n");
	else
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "gmem create vm=1 fd=3 size=8m\n"
			      "vm memslot vm=1 slot=0 gpa=0 size=8m gmem=3\n"
			      "%s"
			      "snp launch_start vm=1\n"
			      "vm attr vm=1 gpa=0x100000 size=64k private=1\n"
			      "snp launch_finish vm=1\n",
			      k == K_GMEM ? "vm cap vm=1 cap=exit_hypercall arg0=0x1000\n" : "");
	cr_assert_lt((size_t)n, sizeof(text));
	b->s = sim_new(stack_modules);
	rc = sim_script_run_text(b->s, text, "setup.ps", o, o);
	fclose(o);
	cr_assert_eq(rc, 0, "setup failed:\n%s", out);
	free(out);
	b->st = stack_get(b->s);
	b->v = stack_vm_find(b->st, 1);
	cr_assert(b->v && b->v->run && b->v->asid == 1);
	b->vc = &b->v->run->vcpu[0];
	cr_assert(b->vc->created);
	b->who = (struct sim_who){ .agent = -1 };
	b->cyc = 0;
}

static void box_end(struct box *b)
{
	char m[256];

	cr_assert_eq(stack_check(stack_get(b->s), m, sizeof m), 0, "%s", m);
	sim_free(b->s);
}

/* The VMM's (shared) page behind @gpa, as KVM maps the GHCB. */
static uint64_t spa_of(struct box *b, uint64_t gpa)
{
	uint64_t spa;

	cr_assert_eq(stack_kvm_backing(b->v, gpa, true, &spa), 0, "no backing at %#llx",
		     (unsigned long long)gpa);
	return spa;
}

static void put64(struct box *b, uint64_t gpa, uint64_t x)
{
	sim_mem_poke(b->st->mem, spa_of(b, gpa), &x, 8);
}

static uint64_t get64(struct box *b, uint64_t gpa)
{
	uint64_t x = 0;

	sim_mem_peek(b->st->mem, spa_of(b, gpa), &x, 8);
	return x;
}

/* A user exit as recorded. */
struct uex {
	enum stack_uexit_reason reason;
	uint64_t nr, gpa, npages, attrs;
	unsigned term_set, term_code;
};
#define MAXX 6

struct rec {
	unsigned n;
	struct uex x[MAXX];
};

/*
 * KVM_RUN's loop: while KVM hands an exit to the VMM, record it, answer
 * it (the VMM itself when @vmm, else ret @rets[i]) and complete it.
 */
static enum stack_kvm_rc drive(struct box *b, enum stack_kvm_rc rc, struct stack_uexit *ue,
			       const int64_t *rets, bool vmm, struct rec *r)
{
	while (rc == STACK_KVM_USER) {
		struct uex *x;

		cr_assert_lt(r->n, MAXX, "more than %d user exits", MAXX);
		x = &r->x[r->n];
		x->reason = ue->reason;
		x->nr = ue->nr;
		x->gpa = ue->args[0];
		x->npages = ue->args[1];
		x->attrs = ue->args[2];
		x->term_set = ue->term_set;
		x->term_code = ue->term_code;
		if (vmm) {
			if (!stack_vmm_handle(b->v, &b->who, ue, &b->cyc)) {
				r->n++;
				return STACK_KVM_FATAL;
			}
		} else {
			ue->ret = rets[r->n];
		}
		r->n++;
		rc = stack_kvm_complete_user(b->v, 0, &b->who, ue, &b->cyc);
	}
	return rc;
}

static const char *const rc_names[] = { "RETRY", "DONE", "USER", "FATAL" };

static void assert_exits(const char *row, const struct rec *r, unsigned nx, const struct uex *want,
			 uint64_t attrs_ignore)
{
	cr_assert_eq(r->n, nx, "%s: %u user exits, want %u", row, r->n, nx);
	for (unsigned i = 0; i < nx; i++) {
		const struct uex *g = &r->x[i], *w = &want[i];
		enum stack_uexit_reason wr = w->reason ? w->reason : STACK_UEXIT_HYPERCALL;

		cr_assert_eq(g->reason, wr, "%s: exit %u: reason %s, want %s", row, i,
			     stack_uexit_names[g->reason], stack_uexit_names[wr]);
		if (wr == STACK_UEXIT_SYSTEM_EVENT) {
			cr_assert_eq(g->term_set, w->term_set, "%s: exit %u: reason set", row, i);
			cr_assert_eq(g->term_code, w->term_code, "%s: exit %u: reason code", row, i);
			continue;
		}
		cr_assert_eq(g->nr, (uint64_t)HC, "%s: exit %u: nr %llu", row, i,
			     (unsigned long long)g->nr);
		cr_assert_eq(g->gpa, w->gpa, "%s: exit %u: gpa %#llx, want %#llx", row, i,
			     (unsigned long long)g->gpa, (unsigned long long)w->gpa);
		cr_assert_eq(g->npages, w->npages, "%s: exit %u: npages %llu, want %llu", row, i,
			     (unsigned long long)g->npages, (unsigned long long)w->npages);
		cr_assert_eq(g->attrs & ~attrs_ignore, w->attrs & ~attrs_ignore,
			     "%s: exit %u: attrs %#llx, want %#llx", row, i,
			     (unsigned long long)g->attrs, (unsigned long long)w->attrs);
	}
}

/* Every KVM counter of the VM changed by exactly @want (all others: not at all). */
#define NCTR (sizeof(struct stack_kvm_stats) / sizeof(uint64_t))
_Static_assert(sizeof(struct stack_kvm_stats) % sizeof(uint64_t) == 0, "stats are u64s");

static const struct {
	const char *name;
	size_t off;
} ctr_names[] = {
#define C(f) { #f, offsetof(struct stack_kvm_stats, f) }
	C(npf_mapped), C(npf_mapped_2m), C(npf_spurious), C(rmp_faults), C(psmash),
	C(psmash_retries), C(msr_requests), C(psc_msr), C(psc_nae), C(psc_entries),
	C(psc_errors), C(hypercalls), C(legacy_rmpupdates), C(conversions),
	C(pages_converted), C(prefaulted), C(pages_punched), C(shared_discarded),
#undef C
};

static void ctr_name(size_t i, char *buf, size_t len)
{
	size_t off = i * sizeof(uint64_t);

	if (off < offsetof(struct stack_kvm_stats, user_exits)) {
		snprintf(buf, len, "exits[%s]", cpu_exit_names[i]);
		return;
	}
	if (off < offsetof(struct stack_kvm_stats, npf_mapped)) {
		snprintf(buf, len, "user_exits[%s]",
			 stack_uexit_names[(off - offsetof(struct stack_kvm_stats, user_exits)) / 8]);
		return;
	}
	for (size_t k = 0; k < sizeof(ctr_names) / sizeof(ctr_names[0]); k++)
		if (ctr_names[k].off == off) {
			snprintf(buf, len, "%s", ctr_names[k].name);
			return;
		}
	snprintf(buf, len, "word %zu", i);
}

static void assert_ctr(const char *row, const struct stack_kvm_stats *before,
		       const struct stack_kvm_stats *after, const struct stack_kvm_stats *want)
{
	uint64_t b[NCTR], a[NCTR], w[NCTR];

	memcpy(b, before, sizeof(b));
	memcpy(a, after, sizeof(a));
	memcpy(w, want, sizeof(w));
	for (size_t i = 0; i < NCTR; i++) {
		char name[48];

		ctr_name(i, name, sizeof(name));
		cr_assert_eq(a[i] - b[i], w[i], "%s: counter %s changed by %llu, want %llu", row,
			     name, (unsigned long long)(a[i] - b[i]), (unsigned long long)w[i]);
	}
}

/* The attribute of @n GFNs from @gfn (all private or all shared). */
struct attr_chk {
	uint64_t gfn, n;
	bool private_;
};

static void assert_attrs(const char *row, struct box *b, const struct attr_chk *c)
{
	for (unsigned i = 0; i < 4 && c[i].n; i++)
		for (uint64_t g = c[i].gfn; g < c[i].gfn + c[i].n; g++)
			cr_assert_eq(stack_kvm_get_memory_attributes(b->v, g), c[i].private_ ? PRIV : 0,
				     "%s: GFN %#llx attributes %#llx, want %s", row,
				     (unsigned long long)g,
				     (unsigned long long)stack_kvm_get_memory_attributes(b->v, g),
				     c[i].private_ ? "private" : "shared");
}

/*
 * Criterion passes a parameter to a test run in another process (another
 * address space): a row's pointers would dangle there, so the parameter is
 * the row's index into its static table.
 */
#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

static struct criterion_test_params rows(unsigned *ix, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ix[i] = (unsigned)i;
	return cr_make_param_array(unsigned, ix, n);
}

/* A known divergence from the source: skipped unless PROTSIM_KNOWN_BUGS=1. */
static void maybe_skip(const char *row, const char *bug)
{
	const char *e = getenv("PROTSIM_KNOWN_BUGS");

	if (bug && !(e && *e == '1'))
		cr_skip_test("%s: KNOWN BUG (PROTSIM_KNOWN_BUGS=1 runs it): %s", row, bug);
}

/* Register @gpa as the vCPU's GHCB (MSR 0x012), checking the echo. */
static void register_ghcb(struct box *b, uint64_t gpa)
{
	struct stack_uexit ue = { 0 };

	cr_assert_eq(stack_kvm_vmgexit(b->v, 0, &b->who, gpa | 0x012, &ue, &b->cyc), STACK_KVM_DONE);
	cr_assert_eq(b->vc->resp, gpa | 0x013);
	cr_assert_eq(b->vc->ghcb_gpa, gpa);
}

/* Make @n GFNs from @gfn private with MSR-protocol PSCs (legacy set-up). */
static void msr_private(struct box *b, uint64_t gfn, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct stack_uexit ue = { 0 };

		cr_assert_eq(stack_kvm_vmgexit(b->v, 0, &b->who, MSR_PSC(gfn + i, OP_PRIVATE), &ue,
					       &b->cyc), STACK_KVM_DONE);
		cr_assert_eq(b->vc->resp, MSR_PSC_RESP);
	}
}

/* ------------------------------------------------------------------ */
/* The GHCB MSR protocol                                               */
/* ------------------------------------------------------------------ */

struct msr_case {
	const char *name;
	const char *bug;
	enum kind kind;
	uint64_t msr;
	bool vmm;                     /* the VMM answers (stack_vmm_handle) */
	int64_t rets[MAXX];           /* else: hypercall.ret of each exit */
	/* expected */
	enum stack_kvm_rc rc;
	unsigned nx;
	struct uex x[MAXX];
	uint64_t resp;                /* rc DONE: the MSR's value for the guest */
	uint64_t ghcb_gpa;            /* the registered GHCB GPA afterwards, 0: none */
	struct stack_kvm_stats ctr;
	struct attr_chk attrs[4];
};

#define SEV_INFO_RESP ((2ull << 48) | (1ull << 32) | (51ull << 24) | 0x001)
#define MSR_REQ .exits[CPU_EXIT_VMGEXIT] = 1, .msr_requests = 1

static const struct msr_case msr_cases[] = {
	{ .name = "SEV_INFO: max 2, min 1, C-bit 51",
	  .msr = 0x002, .rc = STACK_KVM_DONE, .resp = SEV_INFO_RESP, .ctr = { MSR_REQ } },
	{ .name = "SEV_INFO: data bits of the request are not echoed",
	  .msr = 0xabcdef000ull | 0x002, .rc = STACK_KVM_DONE, .resp = SEV_INFO_RESP,
	  .ctr = { MSR_REQ } },
	{ .name = "HV features: SNP and AP creation",
	  .msr = 0x080, .rc = STACK_KVM_DONE, .resp = (0x3ull << 12) | 0x081, .ctr = { MSR_REQ } },
	{ .name = "GHCB GPA registration: the GFN echoed",
	  .msr = GHCB_GPA | 0x012, .rc = STACK_KVM_DONE, .resp = GHCB_GPA | 0x013,
	  .ghcb_gpa = GHCB_GPA, .ctr = { MSR_REQ } },
	{ .name = "GHCB GPA registration: a 52-bit GFN echoed",
	  .msr = (0xfffffffffffffull << 12) | 0x012, .rc = STACK_KVM_DONE,
	  .resp = (0xfffffffffffffull << 12) | 0x013, .ghcb_gpa = 0xfffffffffffffull << 12,
	  .ctr = { MSR_REQ } },
	{ .name = "PSC private: one 4K MAP_GPA_RANGE exit",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .resp = MSR_PSC_RESP, .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1 } },
	{ .name = "PSC shared: attributes 0",
	  .msr = MSR_PSC(0x100, OP_SHARED), .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x100000, .npages = 1, .attrs = 0 } },
	  .resp = MSR_PSC_RESP, .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1 } },
	{ .name = "PSC private through the VMM: the GFN becomes private",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .vmm = true, .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .resp = MSR_PSC_RESP,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1, U_HCALL(1), .conversions = 1,
		   .pages_converted = 1, .shared_discarded = 1 },
	  .attrs = { { 0x2ff, 1, false }, { 0x300, 1, true }, { 0x301, 1, false } } },
	{ .name = "PSC shared through the VMM: a launched private GFN becomes shared, punched",
	  .msr = MSR_PSC(0x101, OP_SHARED), .vmm = true, .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x101000, .npages = 1, .attrs = 0 } },
	  .resp = MSR_PSC_RESP,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1, U_HCALL(1), .conversions = 1,
		   .pages_converted = 1, .pages_punched = 1 },
	  .attrs = { { 0x100, 1, true }, { 0x101, 1, false }, { 0x102, 14, true } } },
	{ .name = "PSC: reserved bits 63:56 are not the operation",
	  .msr = MSR_PSC(0x300, OP_PRIVATE) | (0x10ull << 56), .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .resp = MSR_PSC_RESP, .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1 } },
	{ .name = "PSC: the VMM answers -22: error response",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .rets = { EINVAL_RET }, .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .resp = MSR_PSC_ERROR, .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 } },
	{ .name = "PSC: an invalid hypercall.ret (1) fails KVM_RUN",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .rets = { 1 }, .rc = STACK_KVM_FATAL,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .ctr = { MSR_REQ, .psc_msr = 1 } },
	{ .name = "PSC: hypercall.ret EINVAL (+22) is a valid failure: error response",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .rets = { 22 }, .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .resp = MSR_PSC_ERROR, .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 } },
	{ .name = "PSC: hypercall.ret EAGAIN (+11) is a valid failure: error response",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .rets = { 11 }, .rc = STACK_KVM_DONE,
	  .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .resp = MSR_PSC_ERROR, .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 } },
	{ .name = "PSC op 3 (PSMASH): error, no exit",
	  .msr = MSR_PSC(0x300, OP_PSMASH), .rc = STACK_KVM_DONE, .resp = MSR_PSC_ERROR,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 } },
	{ .name = "PSC op 0: error, no exit",
	  .msr = MSR_PSC(0x300, 0), .rc = STACK_KVM_DONE, .resp = MSR_PSC_ERROR,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 } },
	{ .name = "PSC without KVM_CAP_EXIT_HYPERCALL: error, no exit",
	  .kind = K_GMEM_NOCAP, .msr = MSR_PSC(0x300, OP_PRIVATE), .rc = STACK_KVM_DONE,
	  .resp = MSR_PSC_ERROR, .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 } },
	{ .name = "terminate: SYSTEM_EVENT with set and code, then KVM_RUN fails",
	  .msr = 0x100 | (1ull << 12) | (2ull << 16), .rc = STACK_KVM_FATAL,
	  .nx = 1, .x = { { .reason = STACK_UEXIT_SYSTEM_EVENT, .term_set = 1, .term_code = 2 } },
	  .ctr = { MSR_REQ } },
	{ .name = "terminate through the VMM: it stops the VM",
	  .msr = 0x100 | (0xfull << 12) | (0xffull << 16), .vmm = true, .rc = STACK_KVM_FATAL,
	  .nx = 1, .x = { { .reason = STACK_UEXIT_SYSTEM_EVENT, .term_set = 0xf, .term_code = 0xff } },
	  .ctr = { MSR_REQ, .user_exits[STACK_UEXIT_SYSTEM_EVENT] = 1 } },
	{ .name = "unknown request: the MSR keeps its value",
	  .msr = 0x123456000ull | 0x0fe, .rc = STACK_KVM_DONE, .resp = 0x123456000ull | 0x0fe,
	  .ctr = { MSR_REQ } },
	{ .name = "preferred GHCB GPA request: no preference",
	  .msr = 0x010, .rc = STACK_KVM_DONE, .resp = (0xfffffffffffffull << 12) | 0x011,
	  .ctr = { MSR_REQ } },
	{ .name = "GHCB MSR 0 (no GHCB): back to the guest",
	  .msr = 0, .rc = STACK_KVM_DONE, .resp = 0, .ctr = { X_VMGEXIT } },
};

static unsigned msr_ix[NROWS(msr_cases)];

ParameterizedTestParameters(kvm_sev, msr)
{
	return rows(msr_ix, NROWS(msr_cases));
}

ParameterizedTest(unsigned *row, kvm_sev, msr)
{
	const struct msr_case *c = &msr_cases[*row];
	struct box b;
	struct stack_uexit ue = { 0 };
	struct stack_kvm_stats before;
	struct rec r = { 0 };
	enum stack_kvm_rc rc;

	maybe_skip(c->name, c->bug);
	box_new(&b, c->kind);
	before = b.v->run->ctr;
	rc = stack_kvm_vmgexit(b.v, 0, &b.who, c->msr, &ue, &b.cyc);
	rc = drive(&b, rc, &ue, c->rets, c->vmm, &r);
	cr_assert_eq(rc, c->rc, "%s: rc %s, want %s", c->name, rc_names[rc], rc_names[c->rc]);
	assert_exits(c->name, &r, c->nx, c->x, 0);
	if (rc == STACK_KVM_DONE)
		cr_assert_eq(b.vc->resp, c->resp, "%s: MSR %#llx, want %#llx", c->name,
			     (unsigned long long)b.vc->resp, (unsigned long long)c->resp);
	cr_assert_eq(b.vc->ghcb_gpa, c->ghcb_gpa ? c->ghcb_gpa : UINT64_MAX,
		     "%s: registered GHCB %#llx", c->name, (unsigned long long)b.vc->ghcb_gpa);
	if (rc == STACK_KVM_DONE)
		cr_assert_eq(b.vc->cont, STACK_KVM_CONT_NONE, "%s: a completion left pending",
			     c->name);
	assert_ctr(c->name, &before, &b.v->run->ctr, &c->ctr);
	assert_attrs(c->name, &b, c->attrs);
	box_end(&b);
}

/* ------------------------------------------------------------------ */
/* The NAE page-state change                                           */
/* ------------------------------------------------------------------ */

#define MAXE 8

/* Fields a row leaves uncompared (its twin row with .bug compares them). */
#define IGN_INFO2  1u     /* sw_exit_info_2 */
#define IGN_HDR    2u     /* the descriptor's header */
#define IGN_SZ2M   4u     /* the PAGE_SZ_2M bit of the exits' attributes */

/* valid-bitmap bits a row drops */
#define DROP_CODE    1u
#define DROP_INFO1   2u
#define DROP_INFO2   4u
#define DROP_SCRATCH 8u

struct nae_case {
	const char *name;
	const char *bug;
	unsigned ign;
	enum kind kind;
	/* the GHCB */
	bool unregistered;            /* no GHCB GPA registered */
	uint64_t reg_gpa;             /* registered GPA if not GHCB_GPA */
	uint64_t msr;                 /* the VMGEXIT's MSR if not GHCB_GPA */
	bool no_ghcb;                 /* the GPA has no backing: write nothing */
	uint64_t code;                /* sw_exit_code if not SVM_VMGEXIT_PSC */
	unsigned drop;                /* DROP_*: valid bits left clear */
	uint32_t usage;
	uint64_t scratch;             /* offset from the GHCB if not OFF_SHBUF */
	/* the descriptor at the scratch GPA */
	uint64_t hdr;
	unsigned n;
	uint64_t ent[MAXE];
	bool fill_done;               /* entries n..end_entry: complete 4K entries */
	bool vmm;
	int64_t rets[MAXX];
	/* expected */
	enum stack_kvm_rc rc;
	unsigned nx;
	struct uex x[MAXX];
	uint64_t info1, info2;
	uint64_t hdr_out;
	uint16_t cur_page[MAXE];
	struct stack_kvm_stats ctr;
	struct attr_chk attrs[4];
};

/* A handled NAE PSC: the exit, its event. */
#define NAE .exits[CPU_EXIT_VMGEXIT] = 1, .psc_nae = 1
/* A GHCB refused before any PSC. */
#define BAD_GHCB(why) .rc = STACK_KVM_DONE, .info1 = 2, .info2 = (why), .ctr = { X_VMGEXIT }

static const struct nae_case nae_cases[] = {
	/* ---- coalescing ---- */
	{ .name = "one 4K private entry: one exit",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(1, 0), .cur_page = { 1 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "four contiguous 4K entries: one exit of 4 pages",
	  .hdr = HDR(0, 3), .n = 4,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 0),
		   ENT(0x302, OP_PRIVATE, 0, 0), ENT(0x303, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 4, .attrs = ENC } },
	  .hdr_out = HDR(4, 3), .cur_page = { 1, 1, 1, 1 }, .ctr = { NAE, .psc_entries = 4 } },
	{ .name = "a private entry then a shared one: two exits",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_SHARED, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC },
		 { .gpa = 0x301000, .npages = 1, .attrs = 0 } },
	  .hdr_out = HDR(2, 1), .cur_page = { 1, 1 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "non-contiguous GFNs: two exits",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_SHARED, 0, 0), ENT(0x302, OP_SHARED, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x300000, .npages = 1, .attrs = 0 },
		 { .gpa = 0x302000, .npages = 1, .attrs = 0 } },
	  .hdr_out = HDR(2, 1), .cur_page = { 1, 1 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "descending GFNs are not contiguous: two exits",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x301, OP_PRIVATE, 0, 0), ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x301000, .npages = 1, .attrs = ENC },
		 { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(2, 1), .cur_page = { 1, 1 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "a 2M entry: 512 pages, PAGE_SZ_2M",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x200, OP_PRIVATE, 1, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1,
	  .x = { { .gpa = 0x200000, .npages = 512, .attrs = ENC | SZ2M } },
	  .hdr_out = HDR(1, 0), .cur_page = { 512 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "two contiguous 2M entries: one exit of 1024 pages",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x200, OP_SHARED, 1, 0), ENT(0x400, OP_SHARED, 1, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1,
	  .x = { { .gpa = 0x200000, .npages = 1024, .attrs = SZ2M } },
	  .hdr_out = HDR(2, 1), .cur_page = { 512, 512 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "a 2M entry and an adjacent 4K entry: sizes differ, two exits",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x200, OP_PRIVATE, 1, 0), ENT(0x400, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x200000, .npages = 512, .attrs = ENC | SZ2M },
		 { .gpa = 0x400000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(2, 1), .cur_page = { 512, 1 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "a 2M entry half done (cur_page 100): the rest as 4K from gfn + 100",
	  .ign = IGN_SZ2M,
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x200, OP_PRIVATE, 1, 100) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x264000, .npages = 412, .attrs = ENC } },
	  .hdr_out = HDR(1, 0), .cur_page = { 512 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "a 2M entry half done: the exit's size attribute is the entry's (PAGE_SZ_2M)",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x200, OP_PRIVATE, 1, 100) },
	  .rc = STACK_KVM_DONE, .nx = 1,
	  .x = { { .gpa = 0x264000, .npages = 412, .attrs = ENC | SZ2M } },
	  .hdr_out = HDR(1, 0), .cur_page = { 512 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "a 2M entry half done, then the next 4K GFN: two exits",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x200, OP_PRIVATE, 1, 100), ENT(0x400, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x264000, .npages = 412, .attrs = ENC | SZ2M },
		 { .gpa = 0x400000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(2, 1), .cur_page = { 512, 1 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "a 2M entry with cur_page 512 is complete: skipped",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x200, OP_PRIVATE, 1, 512), ENT(0x400, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x400000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(2, 1), .cur_page = { 512, 1 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "entries already complete are skipped, cur_entry passes them",
	  .hdr = HDR(0, 2), .n = 3,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 1), ENT(0x301, OP_SHARED, 0, 1),
		   ENT(0x305, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x305000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(3, 2), .cur_page = { 1, 1, 1 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "a complete entry between two is not coalesced across",
	  .hdr = HDR(0, 2), .n = 3,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 1),
		   ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC },
		 { .gpa = 0x302000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(3, 2), .cur_page = { 1, 1, 1 }, .ctr = { NAE, .psc_entries = 2 } },
	{ .name = "every entry complete: no exit, 0",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 1), ENT(0x200, OP_SHARED, 1, 512) },
	  .rc = STACK_KVM_DONE, .hdr_out = HDR(2, 1), .cur_page = { 1, 512 },
	  .ctr = { NAE } },
	{ .name = "cur_entry 1: entry 0 is left alone",
	  .hdr = HDR(1, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x301000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(2, 1), .cur_page = { 0, 1 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "PSMASH and UNSMASH hints: completed without an exit",
	  .hdr = HDR(0, 2), .n = 3,
	  .ent = { ENT(0x200, OP_PSMASH, 1, 0), ENT(0x400, OP_UNSMASH, 1, 0),
		   ENT(0x300, OP_PSMASH, 0, 0) },
	  .rc = STACK_KVM_DONE, .hdr_out = HDR(3, 2), .cur_page = { 512, 512, 1 },
	  .ctr = { NAE, .psc_entries = 3 } },
	{ .name = "a hint between two private entries: two exits",
	  .hdr = HDR(0, 2), .n = 3,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PSMASH, 0, 0),
		   ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC },
		 { .gpa = 0x302000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(3, 2), .cur_page = { 1, 1, 1 }, .ctr = { NAE, .psc_entries = 3 } },

	/* ---- entry and header checks ---- */
	{ .name = "cur_page 2 on a 4K entry: INVALID_ENTRY",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 2) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_ENTRY, .hdr_out = HDR(0, 0),
	  .cur_page = { 2 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "cur_page 513 on a 2M entry: INVALID_ENTRY",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x200, OP_PRIVATE, 1, 513) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_ENTRY, .hdr_out = HDR(0, 0),
	  .cur_page = { 513 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "a 2M entry at an unaligned GFN: INVALID_ENTRY",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x201, OP_PRIVATE, 1, 0) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_ENTRY, .hdr_out = HDR(0, 0),
	  .cur_page = { 0 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "a bad entry after a done range: cur_entry stays on it",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x201, OP_PRIVATE, 1, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .info2 = PSC_INVALID_ENTRY, .hdr_out = HDR(1, 1), .cur_page = { 1, 0 },
	  .ctr = { NAE, .psc_entries = 1, .psc_errors = 1 } },
	{ .name = "an unknown operation (5): INVALID_ENTRY (reference 4.2)",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, 5, 0, 0) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_ENTRY, .hdr_out = HDR(0, 0),
	  .cur_page = { 0 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "reserved entry bits 63:57: INVALID_ENTRY",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) | (1ull << 60) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_ENTRY, .hdr_out = HDR(0, 0),
	  .cur_page = { 0 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "end_entry 253: INVALID_HDR",
	  .hdr = HDR(0, 253), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_HDR, .hdr_out = HDR(0, 253),
	  .cur_page = { 0 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "end_entry 252 from the buffer's start: 253 entries fit",
	  .hdr = HDR(0, 252), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) }, .fill_done = true,
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(253, 252), .cur_page = { 1 }, .ctr = { NAE, .psc_entries = 1 } },
	{ .name = "reserved header bits: INVALID_HDR",
	  .hdr = HDR(0, 0) | (1ull << 40), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_HDR, .hdr_out = HDR(0, 0) | (1ull << 40),
	  .cur_page = { 0 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "cur_entry > end_entry: nothing to do, 0 (header not compared)",
	  .ign = IGN_HDR,
	  .hdr = HDR(5, 2), .n = 3,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 0),
		   ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .cur_page = { 0, 0, 0 }, .ctr = { NAE } },
	{ .name = "cur_entry > end_entry: the header is left as it was",
	  .hdr = HDR(5, 2), .n = 3,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 0),
		   ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .hdr_out = HDR(5, 2), .cur_page = { 0, 0, 0 }, .ctr = { NAE } },

	/* ---- the VMM's answers ---- */
	{ .name = "userspace ret -22: GENERIC, nothing marked done",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rets = { EINVAL_RET },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .info2 = PSC_GENERIC, .hdr_out = HDR(0, 1), .cur_page = { 0, 0 },
	  .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "userspace ret -22 on the second range: the first stays done",
	  .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rets = { 0, EINVAL_RET },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC },
		 { .gpa = 0x302000, .npages = 1, .attrs = ENC } },
	  .info2 = PSC_GENERIC, .hdr_out = HDR(1, 1), .cur_page = { 1, 0 },
	  .ctr = { NAE, .psc_entries = 1, .psc_errors = 1 } },
	{ .name = "an invalid hypercall.ret (1): KVM_RUN fails",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) }, .rets = { 1 },
	  .rc = STACK_KVM_FATAL, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, .ctr = { NAE } },
	{ .name = "hypercall.ret EINVAL (+22): GENERIC",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) }, .rets = { 22 },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .info2 = PSC_GENERIC, .hdr_out = HDR(0, 0), .cur_page = { 0 },
	  .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "through the VMM: 4K entries coalesced, the GFNs private",
	  .hdr = HDR(0, 2), .n = 3, .vmm = true,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 0),
		   ENT(0x302, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 3, .attrs = ENC } },
	  .hdr_out = HDR(3, 2), .cur_page = { 1, 1, 1 },
	  .ctr = { NAE, .psc_entries = 3, U_HCALL(1), .conversions = 1, .pages_converted = 3,
		   .shared_discarded = 3 },
	  .attrs = { { 0x2ff, 1, false }, { 0x300, 3, true }, { 0x303, 1, false } } },
	{ .name = "through the VMM: a 2M entry, 512 GFNs private",
	  .hdr = HDR(0, 0), .n = 1, .vmm = true, .ent = { ENT(0x200, OP_PRIVATE, 1, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1,
	  .x = { { .gpa = 0x200000, .npages = 512, .attrs = ENC | SZ2M } },
	  .hdr_out = HDR(1, 0), .cur_page = { 512 },
	  .ctr = { NAE, .psc_entries = 1, U_HCALL(1), .conversions = 1, .pages_converted = 512,
		   .shared_discarded = 512 },
	  .attrs = { { 0x1ff, 1, false }, { 0x200, 512, true }, { 0x400, 1, false } } },
	{ .name = "through the VMM: launched private GFNs to shared, then one back",
	  .hdr = HDR(0, 2), .n = 3, .vmm = true,
	  .ent = { ENT(0x100, OP_SHARED, 0, 0), ENT(0x101, OP_SHARED, 0, 0),
		   ENT(0x101, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 2,
	  .x = { { .gpa = 0x100000, .npages = 2, .attrs = 0 },
		 { .gpa = 0x101000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(3, 2), .cur_page = { 1, 1, 1 },
	  .ctr = { NAE, .psc_entries = 3, U_HCALL(2), .conversions = 2, .pages_converted = 3,
		   .pages_punched = 2, .shared_discarded = 1 },
	  .attrs = { { 0x100, 1, false }, { 0x101, 1, true }, { 0x102, 14, true } } },
	{ .name = "through the VMM: a range outside guest memory is refused: GENERIC",
	  .hdr = HDR(0, 0), .n = 1, .vmm = true, .ent = { ENT(0x900, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x900000, .npages = 1, .attrs = ENC } },
	  .info2 = PSC_GENERIC, .hdr_out = HDR(0, 0), .cur_page = { 0 },
	  .ctr = { NAE, .psc_errors = 1, U_HCALL(1) } },
	{ .name = "without KVM_CAP_EXIT_HYPERCALL: GENERIC, no exit",
	  .kind = K_GMEM_NOCAP,
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_GENERIC, .hdr_out = HDR(0, 0), .cur_page = { 0 },
	  .ctr = { NAE, .psc_errors = 1 } },

	/* ---- the GHCB ---- */
	{ .name = "the GHCB GPA is not registered: KVM_RUN fails",
	  .unregistered = true,
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_FATAL, .hdr_out = HDR(0, 0), .cur_page = { 0 }, .ctr = { X_VMGEXIT } },
	{ .name = "another GPA is registered: KVM_RUN fails",
	  .reg_gpa = 0x7fe000,
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_FATAL, .hdr_out = HDR(0, 0), .cur_page = { 0 }, .ctr = { X_VMGEXIT } },
	{ .name = "the registered GHCB cannot be mapped (no memslot): back to the guest",
	  .reg_gpa = 0x40000000, .msr = 0x40000000, .no_ghcb = true,
	  .rc = STACK_KVM_DONE, .ctr = { X_VMGEXIT } },
	{ .name = "sw_exit_code not valid: info_1 2, info_2 MISSING_INPUT",
	  .drop = DROP_CODE, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_MISSING_INPUT) },
	{ .name = "sw_exit_code not valid: refused with info_1 2 (info_2 not compared)",
	  .ign = IGN_INFO2,
	  .drop = DROP_CODE, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_MISSING_INPUT) },
	{ .name = "sw_exit_info_1 not valid: MISSING_INPUT",
	  .drop = DROP_INFO1, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_MISSING_INPUT) },
	{ .name = "sw_exit_info_2 not valid: MISSING_INPUT",
	  .drop = DROP_INFO2, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_MISSING_INPUT) },
	{ .name = "sw_scratch not valid: MISSING_INPUT",
	  .drop = DROP_SCRATCH, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_MISSING_INPUT) },
	{ .name = "sw_scratch not valid: refused (info_2 not compared)",
	  .ign = IGN_INFO2,
	  .drop = DROP_SCRATCH, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_MISSING_INPUT) },
	{ .name = "an unknown exit code: INVALID_EVENT",
	  .code = 0x8000ffffull, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_EVENT) },
	{ .name = "an unknown exit code: refused (info_2 not compared)",
	  .ign = IGN_INFO2,
	  .code = 0x8000ffffull, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_EVENT) },
	{ .name = "ghcb_usage 1: INVALID_USAGE",
	  .usage = 1, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_USAGE) },
	{ .name = "ghcb_usage 1: refused (info_2 not compared)",
	  .ign = IGN_INFO2,
	  .usage = 1, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_USAGE) },
	{ .name = "scratch below the shared buffer: INVALID_SCRATCH_AREA",
	  .scratch = 0x7f8, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_SCRATCH_AREA) },
	{ .name = "scratch below the shared buffer: refused (info_2 not compared)",
	  .ign = IGN_INFO2,
	  .scratch = 0x7f8, .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_SCRATCH_AREA) },
	{ .name = "scratch in the page below the GHCB: INVALID_SCRATCH_AREA (GHCB v2)",
	  .scratch = (uint64_t)-0x800, .hdr = HDR(0, 0), .n = 1,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_SCRATCH_AREA) },
	{ .name = "scratch in the page below the GHCB: refused (info_2 not compared)",
	  .ign = IGN_INFO2,
	  .scratch = (uint64_t)-0x800, .hdr = HDR(0, 0), .n = 1,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(0, 0), .cur_page = { 0 }, BAD_GHCB(GHCB_ERR_INVALID_SCRATCH_AREA) },
	{ .name = "scratch on the last 8 bytes of the buffer: room for no entry, INVALID_HDR",
	  .scratch = 0xfe8, .hdr = HDR(0, 0), .n = 0,
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_HDR, .hdr_out = HDR(0, 0),
	  .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "a descriptor that does not fit in the shared buffer: INVALID_HDR",
	  .scratch = 0xc00, .hdr = HDR(0, 125), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .rc = STACK_KVM_DONE, .info2 = PSC_INVALID_HDR, .hdr_out = HDR(0, 125),
	  .cur_page = { 0 }, .ctr = { NAE, .psc_errors = 1 } },
	{ .name = "a descriptor that just fits (scratch 0xc00, 125 entries)",
	  .scratch = 0xc00, .hdr = HDR(0, 124), .n = 1, .ent = { ENT(0x300, OP_PRIVATE, 0, 0) },
	  .fill_done = true,
	  .rc = STACK_KVM_DONE, .nx = 1, .x = { { .gpa = 0x300000, .npages = 1, .attrs = ENC } },
	  .hdr_out = HDR(125, 124), .cur_page = { 1 }, .ctr = { NAE, .psc_entries = 1 } },
};

static unsigned nae_ix[NROWS(nae_cases)];

ParameterizedTestParameters(kvm_sev, nae)
{
	return rows(nae_ix, NROWS(nae_cases));
}

/* Write the GHCB and the descriptor of row @c; return the descriptor's GPA. */
static uint64_t nae_setup(struct box *b, const struct nae_case *c)
{
	uint64_t g = GHCB_GPA, d = g + (c->scratch ? c->scratch : OFF_SHBUF);
	uint64_t bm = 0;
	uint16_t ver = 2;
	unsigned end = (c->hdr >> 16) & 0xffff;

	put64(b, g + OFF_CODE, c->code ? c->code : SVM_VMGEXIT_PSC);
	put64(b, g + OFF_INFO1, 0);
	put64(b, g + OFF_INFO2, 0);
	put64(b, g + OFF_SCRATCH, d);
	for (unsigned off = OFF_CODE, k = 0; off <= OFF_SCRATCH; off += 8, k++)
		if (!(c->drop & (1u << k)))
			bm |= 1ull << ((off / 8) % 64);
	put64(b, g + OFF_BITMAP, 0);
	put64(b, g + OFF_BITMAP + 8, bm);      /* bits 114..117: all in the second word */
	sim_mem_poke(b->st->mem, spa_of(b, g + OFF_VERSION), &ver, 2);
	sim_mem_poke(b->st->mem, spa_of(b, g + OFF_USAGE), &c->usage, 4);
	put64(b, d, c->hdr);
	for (unsigned i = 0; i < c->n; i++)
		put64(b, d + 8 + 8ull * i, c->ent[i]);
	if (c->fill_done)
		for (unsigned i = c->n; i <= end; i++)
			put64(b, d + 8 + 8ull * i, ENT(0x400 + i, OP_PRIVATE, 0, 1));
	return d;
}

ParameterizedTest(unsigned *row, kvm_sev, nae)
{
	const struct nae_case *c = &nae_cases[*row];
	struct box b;
	struct stack_uexit ue = { 0 };
	struct stack_kvm_stats before;
	struct rec r = { 0 };
	enum stack_kvm_rc rc;
	uint64_t d = 0, msr = c->msr ? c->msr : GHCB_GPA;

	maybe_skip(c->name, c->bug);
	box_new(&b, c->kind);
	if (!c->unregistered)
		register_ghcb(&b, c->reg_gpa ? c->reg_gpa : GHCB_GPA);
	if (!c->no_ghcb)
		d = nae_setup(&b, c);
	before = b.v->run->ctr;
	rc = stack_kvm_vmgexit(b.v, 0, &b.who, msr, &ue, &b.cyc);
	rc = drive(&b, rc, &ue, c->rets, c->vmm, &r);
	cr_assert_eq(rc, c->rc, "%s: rc %s, want %s", c->name, rc_names[rc], rc_names[c->rc]);
	assert_exits(c->name, &r, c->nx, c->x, c->ign & IGN_SZ2M ? SZ2M : 0);
	if (rc == STACK_KVM_DONE) {
		/* the guest's MSR still holds the GHCB GPA */
		cr_assert_eq(b.vc->resp, msr, "%s: MSR %#llx", c->name,
			     (unsigned long long)b.vc->resp);
		cr_assert_eq(b.vc->cont, STACK_KVM_CONT_NONE, "%s: a completion left pending",
			     c->name);
	}
	if (rc == STACK_KVM_DONE && !c->no_ghcb) {
		uint64_t i1 = get64(&b, GHCB_GPA + OFF_INFO1), i2 = get64(&b, GHCB_GPA + OFF_INFO2);

		cr_assert_eq(i1, c->info1, "%s: sw_exit_info_1 %#llx, want %#llx", c->name,
			     (unsigned long long)i1, (unsigned long long)c->info1);
		if (!(c->ign & IGN_INFO2))
			cr_assert_eq(i2, c->info2, "%s: sw_exit_info_2 %#llx, want %#llx", c->name,
				     (unsigned long long)i2, (unsigned long long)c->info2);
		else
			cr_assert_neq(i2, 0, "%s: sw_exit_info_2 0", c->name);
		/* KVM consumed the valid bitmap (sev_es_sync_from_ghcb) */
		cr_assert_eq(get64(&b, GHCB_GPA + OFF_BITMAP), 0, "%s: valid bitmap", c->name);
		cr_assert_eq(get64(&b, GHCB_GPA + OFF_BITMAP + 8), 0, "%s: valid bitmap", c->name);
	}
	if (!c->no_ghcb) {
		uint64_t h = get64(&b, d);

		if (!(c->ign & IGN_HDR))
			cr_assert_eq(h, c->hdr_out, "%s: header %#llx, want %#llx", c->name,
				     (unsigned long long)h, (unsigned long long)c->hdr_out);
		else
			cr_assert_eq(h >> 16, c->hdr >> 16, "%s: end_entry or reserved changed",
				     c->name);
		for (unsigned i = 0; i < c->n; i++) {
			uint64_t e = get64(&b, d + 8 + 8ull * i);

			cr_assert_eq(e & ~0xfffull, c->ent[i] & ~0xfffull,
				     "%s: entry %u changed beyond cur_page: %#llx", c->name, i,
				     (unsigned long long)e);
			cr_assert_eq(e & 0xfff, c->cur_page[i], "%s: entry %u cur_page %llu, want %u",
				     c->name, i, (unsigned long long)(e & 0xfff), c->cur_page[i]);
		}
	}
	assert_ctr(c->name, &before, &b.v->run->ctr, &c->ctr);
	assert_attrs(c->name, &b, c->attrs);
	box_end(&b);
}

/* ------------------------------------------------------------------ */
/* Hypercalls                                                          */
/* ------------------------------------------------------------------ */

struct hc_case {
	const char *name;
	const char *bug;
	enum kind kind;
	uint64_t args[5];             /* nr, a0..a3 */
	bool vmm;
	int64_t ret;
	/* expected */
	unsigned nx;
	struct uex x;
	uint64_t resp;                /* a0 for the guest */
	struct stack_kvm_stats ctr;
	struct attr_chk attrs[4];
};

#define ENOSYS_RET ((uint64_t)-STACK_KVM_ENOSYS)

static const struct hc_case hc_cases[] = {
	{ .name = "MAP_GPA_RANGE: one exit, ret 0 to the guest",
	  .args = { HC, 0x300000, 2, ENC }, .ret = 0,
	  .nx = 1, .x = { .gpa = 0x300000, .npages = 2, .attrs = ENC }, .resp = 0,
	  .ctr = { X_HCALL } },
	{ .name = "MAP_GPA_RANGE: the VMM's ret -22 to the guest",
	  .args = { HC, 0x300000, 2, 0 }, .ret = EINVAL_RET,
	  .nx = 1, .x = { .gpa = 0x300000, .npages = 2, .attrs = 0 }, .resp = (uint64_t)-22,
	  .ctr = { X_HCALL } },
	{ .name = "MAP_GPA_RANGE: any ret goes to the guest as it is",
	  .args = { HC, 0x300000, 1, 0 }, .ret = 7,
	  .nx = 1, .x = { .gpa = 0x300000, .npages = 1, .attrs = 0 }, .resp = 7,
	  .ctr = { X_HCALL } },
	{ .name = "MAP_GPA_RANGE through the VMM: the GFNs private",
	  .args = { HC, 0x300000, 2, ENC }, .vmm = true,
	  .nx = 1, .x = { .gpa = 0x300000, .npages = 2, .attrs = ENC }, .resp = 0,
	  .ctr = { X_HCALL, U_HCALL(1), .conversions = 1, .pages_converted = 2,
		   .shared_discarded = 2 },
	  .attrs = { { 0x2ff, 1, false }, { 0x300, 2, true }, { 0x302, 1, false } } },
	{ .name = "MAP_GPA_RANGE through the VMM: attributes with PAGE_SZ_2M passed as given",
	  .args = { HC, 0x200000, 512, ENC | SZ2M }, .vmm = true,
	  .nx = 1, .x = { .gpa = 0x200000, .npages = 512, .attrs = ENC | SZ2M }, .resp = 0,
	  .ctr = { X_HCALL, U_HCALL(1), .conversions = 1, .pages_converted = 512,
		   .shared_discarded = 512 },
	  .attrs = { { 0x200, 512, true }, { 0x400, 1, false } } },
	{ .name = "MAP_GPA_RANGE through the VMM: launched GFNs to shared",
	  .args = { HC, 0x104000, 4, 0 }, .vmm = true,
	  .nx = 1, .x = { .gpa = 0x104000, .npages = 4, .attrs = 0 }, .resp = 0,
	  .ctr = { X_HCALL, U_HCALL(1), .conversions = 1, .pages_converted = 4,
		   .pages_punched = 4 },
	  .attrs = { { 0x100, 4, true }, { 0x104, 4, false }, { 0x108, 8, true } } },
	{ .name = "MAP_GPA_RANGE through the VMM: outside guest memory, -22",
	  .args = { HC, 0x900000, 1, ENC }, .vmm = true,
	  .nx = 1, .x = { .gpa = 0x900000, .npages = 1, .attrs = ENC }, .resp = (uint64_t)-22,
	  .ctr = { X_HCALL, U_HCALL(1) } },
	{ .name = "MAP_GPA_RANGE without the capability: -KVM_ENOSYS",
	  .kind = K_GMEM_NOCAP, .args = { HC, 0x300000, 1, ENC },
	  .resp = ENOSYS_RET, .ctr = { X_HCALL } },
	{ .name = "an unaligned GPA: -KVM_EINVAL",
	  .args = { HC, 0x300001, 1, ENC }, .resp = (uint64_t)-22, .ctr = { X_HCALL } },
	{ .name = "zero pages: -KVM_EINVAL",
	  .args = { HC, 0x300000, 0, ENC }, .resp = (uint64_t)-22, .ctr = { X_HCALL } },
	{ .name = "a GFN range that wraps: -KVM_EINVAL",
	  .args = { HC, 0x1000, UINT64_MAX, 0 }, .resp = (uint64_t)-22, .ctr = { X_HCALL } },
	{ .name = "a range ending past 2^64 bytes but not wrapping in GFNs: exits",
	  .args = { HC, 0xfffffffffffff000ull, 2, 0 },
	  .nx = 1, .x = { .gpa = 0xfffffffffffff000ull, .npages = 2, .attrs = 0 }, .resp = 0,
	  .ctr = { X_HCALL } },
	{ .name = "unknown attribute bits: passed on to the VMM",
	  .args = { HC, 0x300000, 1, 0x4 },
	  .nx = 1, .x = { .gpa = 0x300000, .npages = 1, .attrs = 0x4 }, .resp = 0,
	  .ctr = { X_HCALL } },
	{ .name = "another hypercall number: -KVM_ENOSYS",
	  .args = { 5, 0x300000, 1, 0 }, .resp = ENOSYS_RET, .ctr = { X_HCALL } },
	{ .name = "another hypercall number without the capability: -KVM_ENOSYS",
	  .kind = K_GMEM_NOCAP, .args = { 1, 0, 0, 0 }, .resp = ENOSYS_RET, .ctr = { X_HCALL } },
};

static unsigned hypercall_ix[NROWS(hc_cases)];

ParameterizedTestParameters(kvm_sev, hypercall)
{
	return rows(hypercall_ix, NROWS(hc_cases));
}

ParameterizedTest(unsigned *row, kvm_sev, hypercall)
{
	const struct hc_case *c = &hc_cases[*row];
	struct box b;
	struct stack_uexit ue = { 0 };
	struct stack_kvm_stats before;
	struct rec r = { 0 };
	enum stack_kvm_rc rc;
	int64_t rets[MAXX] = { c->ret };

	maybe_skip(c->name, c->bug);
	box_new(&b, c->kind);
	before = b.v->run->ctr;
	rc = stack_kvm_hypercall(b.v, 0, &b.who, c->args, &ue, &b.cyc);
	rc = drive(&b, rc, &ue, rets, c->vmm, &r);
	cr_assert_eq(rc, STACK_KVM_DONE, "%s: rc %s", c->name, rc_names[rc]);
	assert_exits(c->name, &r, c->nx, &c->x, 0);
	cr_assert_eq(b.vc->resp, c->resp, "%s: a0 %#llx, want %#llx", c->name,
		     (unsigned long long)b.vc->resp, (unsigned long long)c->resp);
	cr_assert_eq(b.vc->cont, STACK_KVM_CONT_NONE, "%s: a completion left pending", c->name);
	assert_ctr(c->name, &before, &b.v->run->ctr, &c->ctr);
	assert_attrs(c->name, &b, c->attrs);
	box_end(&b);
}

/* ------------------------------------------------------------------ */
/* snp.backing=legacy: the PSC in the kernel                           */
/* ------------------------------------------------------------------ */

/* The RMP of the backing of @n GFNs from @gfn: assigned to the VM at the GPA, or not. */
struct rmp_chk {
	uint64_t gfn, n;
	bool private_;
};

struct legacy_case {
	const char *name;
	uint64_t pre_gfn;             /* made private first (MSR PSCs), @pre_n pages */
	unsigned pre_n;
	uint64_t msr;                 /* an MSR-protocol request, or else */
	uint64_t hdr;                 /* a NAE PSC with this descriptor */
	unsigned n;
	uint64_t ent[MAXE];
	/* expected */
	uint64_t resp;                /* MSR */
	uint64_t hdr_out;
	uint16_t cur_page[MAXE];
	struct stack_kvm_stats ctr;
	struct rmp_chk rmp[4];
};

static const struct legacy_case legacy_cases[] = {
	{ .name = "MSR PSC private: RMPUPDATE to the ASID at the GPA, no exit",
	  .msr = MSR_PSC(0x300, OP_PRIVATE), .resp = MSR_PSC_RESP,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1, .legacy_rmpupdates = 1 },
	  .rmp = { { 0x300, 1, true }, { 0x301, 1, false } } },
	{ .name = "MSR PSC shared of a private page: back to the hypervisor",
	  .pre_gfn = 0x300, .pre_n = 2, .msr = MSR_PSC(0x301, OP_SHARED), .resp = MSR_PSC_RESP,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_entries = 1, .legacy_rmpupdates = 1 },
	  .rmp = { { 0x300, 1, true }, { 0x301, 1, false } } },
	{ .name = "MSR PSC op 3: error, nothing changed",
	  .msr = MSR_PSC(0x300, OP_PSMASH), .resp = MSR_PSC_ERROR,
	  .ctr = { MSR_REQ, .psc_msr = 1, .psc_errors = 1 },
	  .rmp = { { 0x300, 1, false } } },
	{ .name = "NAE PSC of three 4K entries: three RMPUPDATEs, no exit",
	  .hdr = HDR(0, 2), .n = 3,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x301, OP_PRIVATE, 0, 0),
		   ENT(0x302, OP_PRIVATE, 0, 0) },
	  .hdr_out = HDR(3, 2), .cur_page = { 1, 1, 1 },
	  .ctr = { NAE, .psc_entries = 3, .legacy_rmpupdates = 3 },
	  .rmp = { { 0x2ff, 1, false }, { 0x300, 3, true }, { 0x303, 1, false } } },
	{ .name = "NAE PSC of a 2M entry: 512 4K RMPUPDATEs",
	  .hdr = HDR(0, 0), .n = 1, .ent = { ENT(0x200, OP_PRIVATE, 1, 0) },
	  .hdr_out = HDR(1, 0), .cur_page = { 512 },
	  .ctr = { NAE, .psc_entries = 1, .legacy_rmpupdates = 512 },
	  .rmp = { { 0x200, 512, true }, { 0x400, 1, false } } },
	{ .name = "NAE PSC private then shared: each page as asked",
	  .pre_gfn = 0x310, .pre_n = 2, .hdr = HDR(0, 1), .n = 2,
	  .ent = { ENT(0x300, OP_PRIVATE, 0, 0), ENT(0x310, OP_SHARED, 0, 0) },
	  .hdr_out = HDR(2, 1), .cur_page = { 1, 1 },
	  .ctr = { NAE, .psc_entries = 2, .legacy_rmpupdates = 2 },
	  .rmp = { { 0x300, 1, true }, { 0x310, 1, false }, { 0x311, 1, true } } },
};

static unsigned legacy_ix[NROWS(legacy_cases)];

ParameterizedTestParameters(kvm_sev, legacy)
{
	return rows(legacy_ix, NROWS(legacy_cases));
}

ParameterizedTest(unsigned *row, kvm_sev, legacy)
{
	const struct legacy_case *c = &legacy_cases[*row];
	static const struct nae_case plain = { .name = "legacy" };
	struct box b;
	struct stack_uexit ue = { 0 };
	struct stack_kvm_stats before;
	struct rec r = { 0 };
	enum stack_kvm_rc rc;
	uint64_t d = 0, msr = c->msr;

	box_new(&b, K_LEGACY);
	cr_assert_eq(b.st->snp_backing, STACK_SNP_BACKING_LEGACY);
	msr_private(&b, c->pre_gfn, c->pre_n);
	if (!msr) {
		struct nae_case nc = plain;

		register_ghcb(&b, GHCB_GPA);
		nc.hdr = c->hdr;
		nc.n = c->n;
		memcpy(nc.ent, c->ent, sizeof(nc.ent));
		d = nae_setup(&b, &nc);
		msr = GHCB_GPA;
	}
	before = b.v->run->ctr;
	rc = stack_kvm_vmgexit(b.v, 0, &b.who, msr, &ue, &b.cyc);
	rc = drive(&b, rc, &ue, (const int64_t[MAXX]){ 0 }, false, &r);
	cr_assert_eq(rc, STACK_KVM_DONE, "%s: rc %s", c->name, rc_names[rc]);
	cr_assert_eq(r.n, 0, "%s: %u user exits", c->name, r.n);
	if (c->msr) {
		cr_assert_eq(b.vc->resp, c->resp, "%s: MSR %#llx, want %#llx", c->name,
			     (unsigned long long)b.vc->resp, (unsigned long long)c->resp);
	} else {
		cr_assert_eq(b.vc->resp, GHCB_GPA);
		cr_assert_eq(get64(&b, GHCB_GPA + OFF_INFO1), 0, "%s: sw_exit_info_1", c->name);
		cr_assert_eq(get64(&b, GHCB_GPA + OFF_INFO2), 0, "%s: sw_exit_info_2 %#llx", c->name,
			     (unsigned long long)get64(&b, GHCB_GPA + OFF_INFO2));
		cr_assert_eq(get64(&b, d), c->hdr_out, "%s: header", c->name);
		for (unsigned i = 0; i < c->n; i++)
			cr_assert_eq(get64(&b, d + 8 + 8ull * i), (c->ent[i] & ~0xfffull) | c->cur_page[i],
				     "%s: entry %u", c->name, i);
	}
	assert_ctr(c->name, &before, &b.v->run->ctr, &c->ctr);
	for (unsigned i = 0; i < 4 && c->rmp[i].n; i++)
		for (uint64_t g = c->rmp[i].gfn; g < c->rmp[i].gfn + c->rmp[i].n; g++) {
			struct rmp_entry e;
			uint64_t spa = spa_of(&b, g << 12);

			cr_assert(rmp_entry_effective(b.st->rmp, spa, &e), "%s: no RMP entry", c->name);
			if (c->rmp[i].private_) {
				cr_assert(e.assigned && e.asid == b.v->asid && e.gpa == g << 12 &&
					  !e.page_2m && !e.validated,
					  "%s: GFN %#llx: RMP assigned=%d asid=%u gpa=%#llx 2m=%d "
					  "validated=%d, want assigned to ASID 1 at its GPA, 4K, "
					  "not validated", c->name, (unsigned long long)g, e.assigned,
					  e.asid, (unsigned long long)e.gpa, e.page_2m, e.validated);
			} else {
				cr_assert(!e.assigned, "%s: GFN %#llx: RMP assigned (asid %u)", c->name,
					  (unsigned long long)g, e.asid);
			}
		}
	box_end(&b);
}
