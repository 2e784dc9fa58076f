/*
 * test_stack_host.c - the host RMP-fault strategies (sim/stack/host.c) and
 * kexec (host_kexec.c), table-driven over strategy x page state, checking
 * the model's state after each store rather than the printed result
 * (tests/cli/host_strategies.sh checks those): the RMP entry of the page
 * (assigned, size, validated, VMSA), KVM's view (the VM killed, the VMSA
 * revoked, guest_memfd's prepared mark, the nested mapping), the host's
 * counters (faults, conversions, kicks, retries, oopses) and the agent's
 * cycles; every row ends with the invariant checker.
 *
 * Semantics: protection-semantics.md §5.2-5.4 (F0-F4), §3.4 (a running
 * VMSA: FAIL_INUSE until its vCPU exits), §2.9 (entry locks).
 */
#define _GNU_SOURCE   /* asprintf, open_memstream */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/stack/host.h"

enum pstate { P_SHARED, P_A4K, P_A2M, P_IMM, P_VMSA, P_LOCKED, P_NSTATES };
static const char *const pnames[] = { "shared", "a4k", "a2m", "immutable", "vmsa", "locked" };
enum strat { S_OOPS, S_SIGBUS, S_FORCE, S_CONVERT, S_KILL, S_N };
static const char *const snames[] = { "oops", "sigbus", "force_unassign", "convert", "kill_guest" };

/* What a row expects after the store. */
enum outcome { O_OK, O_CONV, O_KILL, O_OOPS };
struct row {
	enum strat s;
	enum pstate p;
	enum outcome o;
	bool assigned_after;     /* the page's RMP entry after */
	unsigned kicks, retries;
};

#define R(s, p, o, a, k, r) { S_##s, P_##p, O_##o, a, k, r }
static const struct row rows[] = {
	R(OOPS, SHARED, OK, false, 0, 0), R(SIGBUS, SHARED, OK, false, 0, 0),
	R(FORCE, SHARED, OK, false, 0, 0), R(CONVERT, SHARED, OK, false, 0, 0),
	R(KILL, SHARED, OK, false, 0, 0),
	R(OOPS, A4K, OOPS, true, 0, 0), R(SIGBUS, A4K, OOPS, true, 0, 0),
	R(FORCE, A4K, CONV, false, 0, 0), R(CONVERT, A4K, CONV, false, 0, 0),
	R(KILL, A4K, KILL, false, 2, 0),
	R(OOPS, A2M, OOPS, true, 0, 0), R(SIGBUS, A2M, OOPS, true, 0, 0),
	R(FORCE, A2M, CONV, false, 0, 0), R(CONVERT, A2M, CONV, false, 0, 0),
	R(KILL, A2M, KILL, false, 2, 0),
	R(OOPS, IMM, OOPS, true, 0, 0), R(SIGBUS, IMM, OOPS, true, 0, 0),
	R(FORCE, IMM, OOPS, true, 0, 0), R(CONVERT, IMM, OOPS, true, 0, 0),
	R(KILL, IMM, OOPS, true, 2, 0),
	R(OOPS, VMSA, OOPS, true, 0, 0), R(SIGBUS, VMSA, OOPS, true, 0, 0),
	R(FORCE, VMSA, OOPS, true, 0, 0), R(CONVERT, VMSA, CONV, false, 1, 1),
	R(KILL, VMSA, KILL, false, 2, 0),
	R(OOPS, LOCKED, OOPS, true, 0, 0), R(SIGBUS, LOCKED, OOPS, true, 0, 0),
	R(FORCE, LOCKED, OOPS, true, 0, 0), R(CONVERT, LOCKED, CONV, false, 2, 1),
	R(KILL, LOCKED, KILL, false, 2, 0),
};

/* VM 1 as tests/cli/host_strategies.sh builds it; then the store of @p. */
static const char setup[] =
	"vm create vm=1 type=snp vcpus=2\n"
	"gmem create vm=1 fd=3 size=8m flags=1\n"
	"vm memslot vm=1 slot=0 gpa=0 size=8m gmem=3\n"
	"vm cap vm=1 cap=exit_hypercall arg0=0x1000\n"
	"snp launch_start vm=1\n"
	"vm attr vm=1 gpa=0 size=64k private=1\n"
	"snp launch_update vm=1 gpa=0 size=8k\n"
	"snp launch_finish vm=1\n"
	"guest access vm=1 gpa=0x1000 kind=read\n"
	"guest access vm=1 gpa=0x2000 kind=write\n"
	"guest access vm=1 gpa=0x20000 kind=write private=0\n"
	"guest accept vm=1 gpa=0x200000 size=2m\n"
	"rmpupdate spa=0x3000000 assigned=1 asid=1 gpa=0x700000 immutable=1\n";
static const char *const store[] = {
	[P_SHARED] = "@2000000 cpu0 host write vm=1 gpa=0x20000\n",
	[P_A4K] = "@2000000 cpu0 host write vm=1 gpa=0x1000\n",
	[P_A2M] = "@2000000 cpu0 host write vm=1 gpa=0x201000\n",
	[P_IMM] = "@2000000 cpu0 host write pa=0x3000000\n",
	[P_VMSA] = "@1900000 cpu1 vmrun asid=1 vmsa=0x1003000 gpa=0xfffffffff000 vmcb=0x2f00000\n"
		   "@2000000 cpu0 host write pa=0x1003000\n",
	[P_LOCKED] = "@2000000 cpu1 guest pvalidate vm=1 gpa=0x2000 vcpu=1\n"
		     "@2004000 cpu0 host write vm=1 gpa=0x2000\n",
};
/* The page each store meets. */
static const uint64_t spa_of[] = {
	[P_SHARED] = 0x1420000, [P_A4K] = 0x1201000, [P_A2M] = 0x1801000,
	[P_IMM] = 0x3000000, [P_VMSA] = 0x1003000, [P_LOCKED] = 0x1202000,
};
static const uint64_t gpa_of[] = {
	[P_SHARED] = 0x20000, [P_A4K] = 0x1000, [P_A2M] = 0x201000,
	[P_IMM] = 0, [P_VMSA] = 0, [P_LOCKED] = 0x2000,
};

static char *run(struct sim **sp, const char *machine, const char *text, int *rc)
{
	char *out = NULL, *all;
	size_t n = 0;
	FILE *o = open_memstream(&out, &n);

	cr_assert(o);
	cr_assert(asprintf(&all, "%s\n%s", machine, text) > 0);
	*sp = sim_new(stack_modules);
	*rc = sim_script_run_text(*sp, all, "t.ps", o, o);
	fclose(o);
	free(all);
	return out;
}

ParameterizedTestParameters(host, strategy)
{
	return cr_make_param_array(struct row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(const struct row *r, host, strategy)
{
	char machine[256], text[4096], m[256];
	struct sim *s;
	struct host *h;
	struct stack_vm *v;
	struct rmp_entry e;
	struct host_wstats *w;
	uint64_t spa = spa_of[r->p];
	char *out;
	int rc;

	snprintf(machine, sizeof(machine),
		 "machine mem=1g cpus=2 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m "
		 "host.rmp_fault=%s", snames[r->s]);
	snprintf(text, sizeof(text), "%s%s", setup, store[r->p]);
	out = run(&s, machine, text, &rc);
	cr_assert_eq(rc, 0, "%s/%s:\n%s", snames[r->s], pnames[r->p], out);
	h = host_get(s);
	v = stack_vm_find(stack_get(s), 1);
	cr_assert(h && v);
	w = &h->w[HOST_BY_KERNEL];
	cr_assert(rmp_entry_effective(stack_get(s)->rmp, spa, &e));
	cr_assert_eq(e.assigned, r->assigned_after, "%s/%s: assigned=%d", snames[r->s],
		     pnames[r->p], e.assigned);
	if (!e.assigned)
		cr_assert(!e.validated && !e.vmsa, "a page that left the guest stays unvalidated");
	cr_assert_eq(w->kicks, r->kicks, "%s/%s: kicks %llu", snames[r->s], pnames[r->p],
		     (unsigned long long)w->kicks);
	cr_assert_eq(w->retries, r->retries, "%s/%s: retries %llu", snames[r->s], pnames[r->p],
		     (unsigned long long)w->retries);
	cr_assert_eq(w->writes, 1);
	cr_assert_eq(w->faults != 0, r->p != P_SHARED);
	cr_assert_eq(w->oops, r->o == O_OOPS ? 1u : 0u);
	cr_assert_eq(v->run->killed, r->o == O_KILL || (r->s == S_KILL && r->p == P_IMM));
	cr_assert_eq(w->guests_killed, r->s == S_KILL && r->p != P_SHARED ? 1u : 0u);
	cr_assert_eq(w->converted, r->o == O_CONV ? 1u : 0u);
	cr_assert_eq(h->violations, 0u);
	if (r->o == O_CONV && gpa_of[r->p]) {
		/* KVM was told: no mapping, guest_memfd will prepare the page again */
		struct sim_who who = { .agent = -1 };
		struct stack_kvm_page pg;
		const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, gpa_of[r->p] >> 12);
		uint64_t pspa;
		bool big, prep;

		cr_assert_eq(stack_kvm_page_query(v, &who, gpa_of[r->p], &pg), 0);
		cr_assert(!pg.mapped);
		cr_assert_eq(stack_gmem_page(sl->gmem, gpa_of[r->p], &pspa, &big, &prep), 0);
		cr_assert_eq(pspa, spa);
		cr_assert(!prep);
		cr_assert_eq(host_vm(h, v)->ctr.converted, 1u);
	}
	if (r->p == P_VMSA)
		cr_assert_eq(v->run->vcpu[1].vmsa_revoked, !r->assigned_after);
	if (r->p == P_A2M && r->o == O_CONV) {
		/* PSMASHed: the neighbour is a 4K entry, still assigned and validated */
		cr_assert(rmp_entry_effective(stack_get(s)->rmp, spa + 0x1000, &e));
		cr_assert(e.assigned && e.validated && !e.page_2m);
		cr_assert_eq(w->psmash, 1u);
	}
	cr_assert_eq(stack_check(stack_get(s), m, sizeof(m)), 0, "%s", m);
	free(out);
	sim_free(s);
}

/*
 * kexec: the VM dropped without teardown (the RMP unchanged by the jump,
 * the running vCPU out of guest mode), then a store to one of its pages
 * as host.kexec_convert says: lazy converts it at the fault, eager at
 * boot (every entry scanned), none oopses.
 */
struct krow {
	char mode[8];
	bool assigned_after;   /* of the stored-to page */
	uint64_t converted;    /* host.kexec.converted after the store */
	bool scanned;
	uint64_t oops;
};
static const struct krow krows[] = {
	{ "lazy", false, 1, false, 0 },
	{ "eager", false, 517, true, 0 },
	{ "none", true, 0, false, 1 },
};

ParameterizedTestParameters(host, kexec)
{
	return cr_make_param_array(struct krow, krows, sizeof(krows) / sizeof(krows[0]));
}

ParameterizedTest(const struct krow *k, host, kexec)
{
	char machine[256], text[4096], m[256];
	struct sim *s;
	struct host *h;
	struct rmp_entry e;
	char *out;
	int rc;

	snprintf(machine, sizeof(machine),
		 "machine mem=256m cpus=2 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m "
		 "host.kexec_convert=%s", k->mode);
	snprintf(text, sizeof(text), "%s%s", setup,
		 "@3000000 cpu1 vmrun asid=1 vmsa=0x1003000 gpa=0xfffffffff000 vmcb=0x2f00000\n"
		 "@3100000 cpu0 host kexec\n"
		 "host write pa=0x1201000\n");
	out = run(&s, machine, text, &rc);
	cr_assert_eq(rc, 0, "%s:\n%s", k->mode, out);
	h = host_get(s);
	cr_assert_eq(h->k.kexecs, 1u);
	cr_assert_eq(h->k.vms_dropped, 1u);
	cr_assert(host_vm_gone(h, stack_vm_find(stack_get(s), 1)));
	cr_assert_eq(rmp_in_use(stack_get(s)->rmp, 0x1003000), -1, "cpu1 left guest mode");
	cr_assert(rmp_entry_effective(stack_get(s)->rmp, 0x1201000, &e));
	cr_assert_eq(e.assigned, k->assigned_after);
	cr_assert_eq(h->k.converted, k->converted, "%s: converted %llu", k->mode,
		     (unsigned long long)h->k.converted);
	cr_assert_eq(h->k.scanned != 0, k->scanned);
	cr_assert_eq(h->w[HOST_BY_KERNEL].oops, k->oops);
	/* the immutable page is never converted, whatever the mode */
	cr_assert(rmp_entry_effective(stack_get(s)->rmp, 0x3000000, &e) && e.assigned);
	cr_assert_eq(h->k.immutable, k->scanned ? 2u : 0u);
	cr_assert_eq(h->k.iommu_pages, 1u);
	cr_assert_eq(stack_check(stack_get(s), m, sizeof(m)), 0, "%s", m);
	free(out);
	sim_free(s);
}

/* The shared daemon dies of SIGBUS for one VM's private page: every VM's later request fails. */
Test(host, daemon_death)
{
	static const char text[] =
		"vm create vm=1 type=snp\nvm memslot vm=1 slot=0 gpa=0 size=4m\n"
		"snp launch_start vm=1\nsnp launch_finish vm=1\n"
		"vm create vm=2 type=snp\nvm memslot vm=2 slot=0 gpa=0 size=4m\n"
		"snp launch_start vm=2\nsnp launch_finish vm=2\n"
		"guest accept vm=1 gpa=0x200000 size=8k via=msr\n"
		"host write vm=2 gpa=0x1000 by=daemon\nexpect OK converted=0 killed=0\n"
		"host write vm=1 gpa=0x201000 by=daemon\nexpect SIGBUS spa=0x1201000\n"
		"host write vm=2 gpa=0x1000 by=daemon\nexpect ERROR(ESRCH)\n"
		"host read vm=2 gpa=0x1000 by=daemon\nexpect ERROR(ESRCH)\n"
		"host write vm=2 gpa=0x1000 by=vmm\nexpect OK converted=0 killed=0\n";
	struct sim *s;
	struct host *h;
	int rc;
	char *out = run(&s, "machine mem=1g cpus=1 stack.check=1 s2.pool_base=0x1000000 "
			"s2.pool_size=16m snp.backing=legacy", text, &rc);

	cr_assert_eq(rc, 0, "%s", out);
	h = host_get(s);
	cr_assert(h->daemon_dead);
	cr_assert_eq(h->w[HOST_BY_DAEMON].sigbus, 1u);
	cr_assert_eq(h->w[HOST_BY_DAEMON].failed, 2u);
	cr_assert_eq(host_vm(h, stack_vm_find(stack_get(s), 2))->ctr.denied, 2u);
	cr_assert_eq(host_vm(h, stack_vm_find(stack_get(s), 1))->ctr.denied, 0u);
	cr_assert(!stack_vm_find(stack_get(s), 1)->run->killed, "the daemon died, not the VM");
	free(out);
	sim_free(s);
}

/* The checker's host rules can fail: a host store on an assigned page, a VMSA gone shared unrevoked. */
Test(host, checker_rules)
{
	char m[256];
	struct sim *s;
	struct host *h;
	struct stack_vm *v;
	int rc;
	char *out = run(&s, "machine mem=1g cpus=2 s2.pool_base=0x1000000 s2.pool_size=16m "
			"host.rmp_fault=convert", setup, &rc);

	cr_assert_eq(rc, 0, "%s", out);
	h = host_get(s);
	v = stack_vm_find(stack_get(s), 1);
	cr_assert_eq(stack_check(stack_get(s), m, sizeof(m)), 0, "%s", m);
	h->violations = 1;
	cr_assert_eq(stack_check(stack_get(s), m, sizeof(m)), -1);
	cr_assert(strstr(m, "host stores landed on assigned pages"), "%s", m);
	h->violations = 0;
	/* vCPU 1's VMSA made shared behind KVM's back (no strategy told it) */
	{
		struct sim_who who = { .agent = 0 };
		struct rmp_update_in in = { 0 };
		struct rmp_result res;

		cr_assert_eq(rmp_update(stack_get(s)->rmp, &who, v->run->vcpu[1].vmsa_spa, &in, &res),
			     RMP_RC_SUCCESS);
	}
	cr_assert_eq(stack_check(stack_get(s), m, sizeof(m)), -1);
	cr_assert(strstr(m, "VMSA"), "%s", m);
	v->run->vcpu[1].vmsa_revoked = true;
	cr_assert_eq(stack_check(stack_get(s), m, sizeof(m)), 0, "%s", m);
	free(out);
	sim_free(s);
}
