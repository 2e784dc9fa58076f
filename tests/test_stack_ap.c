/*
 * test_stack_ap.c - SNP AP creation (sim/stack/kvm_sev.c): the AP
 * Creation VMGEXIT (SVM_VMGEXIT_AP_CREATION, 0x8000_0013) as Linux's
 * sev_es_validate_vmgexit and sev_snp_ap_creation answer it, and the
 * target vCPU's state update (sev_snp_init_protected_guest_state) at its
 * next entry or INIT, table by table.  Each row states the GHCB's answer
 * (sw_exit_info_1/2), the target's pending state, the counters' change,
 * and after the update whether the vCPU can run and from which VMSA.
 * Every test ends with the stack's invariant checker.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/stack/stack_int.h"

#define GHCB_GPA   0x7ff000ull     /* the GHCB: the top page of the 8M slot (shared) */
#define BITMAP     0x3f0
#define NONE       UINT64_MAX
#define EINV_IN    5               /* GHCB_ERR_INVALID_INPUT */
#define MISSING    4               /* GHCB_ERR_MISSING_INPUT */

struct box {
	struct sim *s;
	struct stack *st;
	struct stack_vm *v;
	struct sim_who who;
	uint64_t cyc;
};

/* SNP VM 1, vCPUs 0-2, one 8M guest_memfd slot, [2M, 4M) private, launched. */
static void box_new(struct box *b)
{
	static const char text[] =
		"machine mem=1g cpus=1 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m\n"
		"vm create vm=1 type=snp vcpus=3\n"
		"gmem create vm=1 fd=3 size=8m\n"
		"vm memslot vm=1 slot=0 gpa=0 size=8m gmem=3\n"
		"snp launch_start vm=1\n"
		"vm attr vm=1 gpa=0x200000 size=2m private=1\n"
		"snp launch_finish vm=1\n";
	char *out = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&out, &n);
	struct stack_uexit ue = { 0 };

	cr_assert(o);
	b->s = sim_new(stack_modules);
	cr_assert_eq(sim_script_run_text(b->s, text, "setup.ps", o, o), 0, "setup failed");
	fclose(o);
	free(out);
	b->st = stack_get(b->s);
	b->v = stack_vm_find(b->st, 1);
	b->who = (struct sim_who){ .agent = -1 };
	b->cyc = 0;
	/* vCPU 0 registers its GHCB (MSR 0x012) */
	cr_assert_eq(stack_kvm_vmgexit(b->v, 0, &b->who, GHCB_GPA | 0x012, &ue, &b->cyc),
		     STACK_KVM_DONE);
}

static void box_end(struct box *b)
{
	char m[256];

	cr_assert_eq(stack_check(b->st, m, sizeof m), 0, "%s", m);
	sim_free(b->s);
}

static uint64_t spa_of(struct box *b, uint64_t gpa)
{
	uint64_t spa;

	cr_assert_eq(stack_kvm_backing(b->v, gpa, true, &spa), 0);
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

/* The AP Creation event from vCPU 0: the GHCB written, VMGEXIT with its GPA. */
static void ap_event(struct box *b, uint64_t request, uint64_t apic, uint64_t gpa, uint64_t rax,
		     bool rax_valid)
{
	uint64_t bm = 1ull << (STACK_GHCB_SW_EXIT_CODE / 8 - 64) |
		      1ull << (STACK_GHCB_SW_EXIT_INFO_1 / 8 - 64) |
		      1ull << (STACK_GHCB_SW_EXIT_INFO_2 / 8 - 64);
	struct stack_uexit ue = { 0 };

	put64(b, GHCB_GPA + STACK_GHCB_SW_EXIT_CODE, STACK_SVM_VMGEXIT_AP_CREATION);
	put64(b, GHCB_GPA + STACK_GHCB_SW_EXIT_INFO_1, request | apic << 32);
	put64(b, GHCB_GPA + STACK_GHCB_SW_EXIT_INFO_2, gpa);
	put64(b, GHCB_GPA + STACK_GHCB_RAX, rax);
	put64(b, GHCB_GPA + BITMAP, rax_valid ? 1ull << (STACK_GHCB_RAX / 8) : 0);
	put64(b, GHCB_GPA + BITMAP + 8, bm);
	cr_assert_eq(stack_kvm_vmgexit(b->v, 0, &b->who, GHCB_GPA, &ue, &b->cyc), STACK_KVM_DONE);
}

struct ap_case {
	const char *name;
	uint64_t request, apic, gpa, rax;
	bool rax_valid;
	/* the answer */
	uint64_t info1, info2;
	uint64_t requests, errors, kicks;    /* counters' change */
	/* vCPU 1 afterwards (apic 1 rows) */
	bool waiting, request_pending;
	uint64_t pending_gpa;                /* ap_vmsa_gpa */
	/* the update: at the next entry (init = false) or at INIT */
	bool init;
	bool runnable;
	uint64_t vmsa_gpa;                   /* NONE: KVM's launch VMSA; 0: no VMSA */
};

#define F STACK_SEV_FEAT_SNP_ACTIVE
static const struct ap_case ap_cases[] = {
	{ "create", 1, 1, 0x201000, F, true, 0, 0, 1, 0, 1, true, true, 0x201000,
	  false, true, 0x201000 },
	{ "create_on_init: nothing until INIT", 0, 1, 0x201000, F, true, 0, 0, 1, 0, 0, true, false,
	  0x201000, false, true, NONE },
	{ "create_on_init, then INIT", 0, 1, 0x201000, F, true, 0, 0, 1, 0, 0, true, false, 0x201000,
	  true, true, 0x201000 },
	{ "destroy: no VMSA, not runnable", 2, 1, 0, 0, false, 0, 0, 1, 0, 1, true, true, NONE,
	  false, false, 0 },
	{ "destroy ignores RAX", 2, 1, 0x201000, 7, true, 0, 0, 1, 0, 1, true, true, NONE,
	  false, false, 0 },
	{ "no such vCPU", 1, 5, 0x201000, F, true, 2, EINV_IN, 1, 1, 0, false, false, NONE,
	  false, true, NONE },
	{ "APIC ID beyond the vCPUs", 1, 0x100, 0x201000, F, true, 2, EINV_IN, 1, 1, 0, false, false,
	  NONE, false, true, NONE },
	{ "mismatched sev_features", 1, 1, 0x201000, 3, true, 2, EINV_IN, 1, 1, 0, false, false,
	  NONE, false, true, NONE },
	{ "RAX not valid for create", 1, 1, 0x201000, F, false, 2, MISSING, 0, 0, 0, false, false,
	  NONE, false, true, NONE },
	{ "VMSA GPA not page-aligned", 1, 1, 0x201008, F, true, 2, EINV_IN, 1, 1, 0, false, false,
	  NONE, false, true, NONE },
	{ "VMSA GPA 2M-aligned (erratum)", 1, 1, 0x200000, F, true, 2, EINV_IN, 1, 1, 0, false,
	  false, NONE, false, true, NONE },
	{ "VMSA GPA beyond the C-bit", 1, 1, 1ull << 51 | 0x1000, F, true, 2, EINV_IN, 1, 1, 0,
	  false, false, NONE, false, true, NONE },
	{ "unknown request", 3, 1, 0x201000, F, true, 2, EINV_IN, 1, 1, 0, false, false, NONE,
	  false, true, NONE },
	{ "create at a GPA without memslot: not runnable", 1, 1, 0x10001000, F, true, 0, 0, 1, 0, 1,
	  true, true, 0x10001000, false, false, 0 },
};
#undef F

ParameterizedTestParameters(stack_ap, creation)
{
	return cr_make_param_array(struct ap_case, ap_cases, sizeof(ap_cases) / sizeof(ap_cases[0]));
}

ParameterizedTest(const struct ap_case *c, stack_ap, creation)
{
	struct box b;
	struct stack_kvm_vcpu *t;
	struct stack_kvm_stats before;
	uint64_t kvm_vmsa;
	bool runnable;

	box_new(&b);
	t = &b.v->run->vcpu[1];
	kvm_vmsa = t->vmsa_spa;
	cr_assert_neq(kvm_vmsa, 0, "%s: vCPU 1 has its launch VMSA", c->name);
	before = b.v->run->ctr;
	ap_event(&b, c->request, c->apic, c->gpa, c->rax, c->rax_valid);
	cr_assert_eq(get64(&b, GHCB_GPA + STACK_GHCB_SW_EXIT_INFO_1), c->info1, "%s: info1", c->name);
	cr_assert_eq(get64(&b, GHCB_GPA + STACK_GHCB_SW_EXIT_INFO_2), c->info2, "%s: info2", c->name);
	cr_assert_eq(b.v->run->ctr.ap_requests - before.ap_requests, c->requests, "%s", c->name);
	cr_assert_eq(b.v->run->ctr.ap_errors - before.ap_errors, c->errors, "%s", c->name);
	cr_assert_eq(b.v->run->ctr.kicks - before.kicks, c->kicks, "%s", c->name);
	cr_assert_eq(t->ap_waiting, c->waiting, "%s: waiting", c->name);
	cr_assert_eq(t->ap_request, c->request_pending, "%s: request", c->name);
	cr_assert_eq(t->ap_vmsa_gpa, c->pending_gpa, "%s: pending GPA", c->name);
	cr_assert_eq(t->vmsa_spa, kvm_vmsa, "%s: nothing switches before the update", c->name);

	runnable = stack_kvm_ap_update(b.v, 1, &b.who, c->init, &b.cyc);
	cr_assert_eq(runnable, c->runnable, "%s: runnable", c->name);
	if (c->vmsa_gpa == NONE) {
		cr_assert_eq(t->vmsa_spa, kvm_vmsa, "%s: still KVM's VMSA", c->name);
		cr_assert_eq(t->vmsa_gpa, STACK_SNP_VMSA_GPA);
	} else if (c->vmsa_gpa == 0) {
		cr_assert_eq(t->vmsa_spa, 0, "%s: no VMSA", c->name);
	} else {
		const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(b.v, c->vmsa_gpa >> 12);
		uint64_t spa;
		bool big, prepared;

		cr_assert(sl && sl->gmem);
		cr_assert_eq(stack_gmem_page(sl->gmem, c->vmsa_gpa, &spa, &big, &prepared), 0);
		cr_assert_eq(t->vmsa_spa, spa, "%s: the guest_memfd page of the GPA", c->name);
		cr_assert_eq(t->vmsa_gpa, c->vmsa_gpa);
		cr_assert(prepared, "%s: kvm_gmem_get_pfn prepared it", c->name);
	}
	cr_assert_eq(t->kvm_vmsa_spa, kvm_vmsa, "%s: KVM keeps its own VMSA page", c->name);
	cr_assert_eq(b.v->run->ctr.ap_updates - before.ap_updates,
		     (uint64_t)(c->waiting && (c->request_pending || c->init)), "%s: updates", c->name);
	/* a second update with nothing pending changes nothing */
	cr_assert_eq(stack_kvm_ap_update(b.v, 1, &b.who, false, &b.cyc), runnable);
	box_end(&b);
}

/* VMRUN's VMSA check: KVM's launch VMSA passes; a page that is not a VMSA fails. */
Test(stack_ap, vmsa_check)
{
	struct box b;

	box_new(&b);
	cr_assert(stack_kvm_vmsa_ok(b.v, 1));
	ap_event(&b, 1, 1, 0x201000, STACK_SEV_FEAT_SNP_ACTIVE, true);
	cr_assert(stack_kvm_ap_update(b.v, 1, &b.who, false, &b.cyc));
	cr_assert_not(stack_kvm_vmsa_ok(b.v, 1), "the guest never made 0x201000 a VMSA");
	box_end(&b);
}
