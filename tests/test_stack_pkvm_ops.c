/*
 * test_stack_pkvm_ops.c - the pKVM host inside a machine (suite
 * "pkvm_host"): `machine host=pkvm`, the `pkvm ...` operations through the
 * interpreter with the full state of every party after each transition,
 * guest calls on pKVM VMs, the protected-VM ABI, the host-access entry
 * point (stack_pkvm_machine_access) and exact costs.  Every script runs
 * with stack.check=1 (the invariant checker after every line).
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_host.h"

#define MACHINE "machine mem=1g cpus=1 stack.check=1 host=pkvm s2.pool_base=0x1000000 " \
		"s2.pool_size=32m\n"

struct run {
	int rc;
	char *out;
	char *err;
};

static struct run run_script(struct sim **sp, const char *text)
{
	struct sim *s = sim_new(stack_modules);
	struct run r;
	size_t ol = 0, el = 0;
	FILE *out = open_memstream(&r.out, &ol), *err = open_memstream(&r.err, &el);

	r.rc = sim_script_run_text(s, text, "t.ps", out, err);
	fclose(out);
	fclose(err);
	if (sp)
		*sp = s;
	else
		sim_free(s);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* The result part ("-> ...", without the cycles) of output line @n (0-based). */
static char *result_of(const char *out, unsigned n, char *buf, size_t len)
{
	const char *p = out, *a, *e;

	for (unsigned i = 0; i < n && p; i++)
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
	cr_assert(p && *p, "no line %u in:\n%s", n, out);
	a = strstr(p, "-> ");
	e = strchr(p, '\n');
	cr_assert(a && e && a < e, "line %u has no result:\n%s", n, out);
	a += 3;
	while (e > a && e[-1] != '(')
		e--;
	snprintf(buf, len, "%.*s", (int)(e - a - 2), a);
	return buf;
}

/*
 * One transition: @setup lines, then @op, then `pkvm state` of @pfn.
 * The op's result and the page's full state after it are asserted.
 */
struct trans {
	const char *name;
	const char *setup;     /* each line ends with \n; its lines' results are not checked */
	unsigned setup_lines;
	const char *op;
	const char *result;
	const char *pfn;
	const char *state;     /* the whole `pkvm state` result */
};

static const struct trans transitions[] = {
	{ "share_hyp", "", 0, "pkvm host_share_hyp pfn=0x20000", "OK", "0x20000",
	  "OK host=shared_owned hyp=shared_borrowed guest=nopage iommu=1 mapped=4k" },
	{ "share_hyp twice", "pkvm host_share_hyp pfn=0x20000\n", 1,
	  "pkvm host_share_hyp pfn=0x20000", "ERROR(EPERM)", "0x20000",
	  "OK host=shared_owned hyp=shared_borrowed guest=nopage iommu=1 mapped=4k" },
	{ "share_hyp outside memory", "", 0, "pkvm host_share_hyp pfn=0x40000", "ERROR(EINVAL)",
	  "0x3ffff", "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "unshare_hyp", "pkvm host_share_hyp pfn=0x20000\n", 1, "pkvm host_unshare_hyp pfn=0x20000",
	  "OK", "0x20000", "OK host=owned hyp=nopage guest=nopage iommu=1 mapped=4k" },
	{ "unshare_hyp pinned", "pkvm host_share_hyp pfn=0x20000\npkvm hyp_pin pfn=0x20000\n", 2,
	  "pkvm host_unshare_hyp pfn=0x20000", "ERROR(EBUSY)", "0x20000",
	  "OK host=shared_owned hyp=shared_borrowed guest=nopage pins=1 iommu=1 mapped=4k" },
	{ "unshare_hyp not shared", "", 0, "pkvm host_unshare_hyp pfn=0x20000", "ERROR(EPERM)",
	  "0x20000", "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "pin unshared", "", 0, "pkvm hyp_pin pfn=0x20000", "ERROR(EPERM)", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "unpin unpinned", "pkvm host_share_hyp pfn=0x20000\n", 1, "pkvm hyp_unpin pfn=0x20000",
	  "ERROR(EINVAL)", "0x20000",
	  "OK host=shared_owned hyp=shared_borrowed guest=nopage iommu=1 mapped=4k" },
	{ "donate_hyp", "", 0, "pkvm host_donate_hyp pfn=0x20000 n=2", "OK", "0x20001",
	  "OK host=nopage hyp=owned guest=nopage owner=hyp iommu=0" },
	{ "donate_hyp DMA-mapped", "pkvm dma_map pfn=0x20001\n", 1,
	  "pkvm host_donate_hyp pfn=0x20000 n=2", "ERROR(EBUSY)", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "hyp_donate_host", "pkvm host_donate_hyp pfn=0x20000\n", 1,
	  "pkvm hyp_donate_host pfn=0x20000", "OK", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "hyp_donate_host of the pool", "", 0, "pkvm hyp_donate_host pfn=0x1000", "ERROR(EBUSY)",
	  "0x1000", "OK host=nopage hyp=owned guest=nopage owner=hyp iommu=0" },
	{ "share_guest", "vm create vm=1 type=default\n", 1,
	  "pkvm host_share_guest vm=1 pfn=0x20000 gfn=0x10", "OK", "0x20000",
	  "OK host=shared_owned hyp=nopage guest=shared_borrowed shares=1 iommu=1 mapped=4k" },
	{ "share_guest to a protected VM", "vm create vm=1 type=pkvm\n", 1,
	  "pkvm host_share_guest vm=1 pfn=0x20000 gfn=0x10", "ERROR(EINVAL)", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "share_guest of a hyp-shared page",
	  "vm create vm=1 type=default\npkvm host_share_hyp pfn=0x20000\n", 2,
	  "pkvm host_share_guest vm=1 pfn=0x20000 gfn=0x10", "ERROR(EPERM)", "0x20000",
	  "OK host=shared_owned hyp=shared_borrowed guest=nopage iommu=1 mapped=4k" },
	{ "unshare_guest last share",
	  "vm create vm=1 type=default\npkvm host_share_guest vm=1 pfn=0x20000 gfn=0x10\n", 2,
	  "pkvm host_unshare_guest vm=1 gfn=0x10", "OK", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1 mapped=4k" },
	{ "unshare_guest nothing", "vm create vm=1 type=default\n", 1,
	  "pkvm host_unshare_guest vm=1 gfn=0x10", "ERROR(ENOENT)", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "donate_guest", "vm create vm=1 type=pkvm\n", 1,
	  "pkvm host_donate_guest vm=1 pfn=0x20000 gfn=0x10", "OK", "0x20000",
	  "OK host=nopage hyp=nopage guest=owned owner=guest vm=1 gfn=0x10 iommu=0" },
	{ "donate_guest to a non-protected VM", "vm create vm=1 type=default\n", 1,
	  "pkvm host_donate_guest vm=1 pfn=0x20000 gfn=0x10", "ERROR(EINVAL)", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "donate_guest DMA-mapped", "vm create vm=1 type=pkvm\npkvm dma_map pfn=0x20000\n", 2,
	  "pkvm host_donate_guest vm=1 pfn=0x20000 gfn=0x10", "ERROR(EBUSY)", "0x20000",
	  "OK host=owned hyp=nopage guest=nopage dma=1 iommu=1" },
	{ "reclaim of a live VM's page",
	  "vm create vm=1 type=pkvm\npkvm host_donate_guest vm=1 pfn=0x20000 gfn=0x10\n", 2,
	  "pkvm host_reclaim pfn=0x20000", "ERROR(EPERM)", "0x20000",
	  "OK host=nopage hyp=nopage guest=owned owner=guest vm=1 gfn=0x10 iommu=0" },
	{ "destroy reclaims",
	  "vm create vm=1 type=pkvm\npkvm host_donate_guest vm=1 pfn=0x20000 gfn=0x10\n", 2,
	  "vm destroy vm=1", "OK", "0x20000", "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "guest share", "vm create vm=1 type=pkvm\nvm memslot vm=1 slot=0 gpa=0 size=1m spa=0x20000000\n",
	  2, "guest share vm=1 gpa=0x3000 size=4k", "OK exits=2 user_exits=0 done=1", "0x20003",
	  "OK host=shared_borrowed hyp=nopage guest=shared_owned vm=1 gfn=0x3 iommu=1 mapped=4k" },
	{ "guest unshare DMA-mapped",
	  "vm create vm=1 type=pkvm\nvm memslot vm=1 slot=0 gpa=0 size=1m spa=0x20000000\n"
	  "guest share vm=1 gpa=0x3000 size=4k\npkvm dma_map pfn=0x20003\n", 4,
	  "guest unshare vm=1 gpa=0x3000 size=4k", "ERROR(EBUSY) exits=1 user_exits=0 done=0 ret=-3",
	  "0x20003",
	  "OK host=shared_borrowed hyp=nopage guest=shared_owned vm=1 gfn=0x3 dma=1 iommu=1 mapped=4k" },
	{ "guest relinquish",
	  "vm create vm=1 type=pkvm\nvm memslot vm=1 slot=0 gpa=0 size=1m spa=0x20000000\n"
	  "guest access vm=1 gpa=0x3000 kind=write\n", 3,
	  "guest relinquish vm=1 gpa=0x3000", "OK exits=1 user_exits=0", "0x20003",
	  "OK host=owned hyp=nopage guest=nopage iommu=1" },
	{ "guest relinquish of a shared page",
	  "vm create vm=1 type=pkvm\nvm memslot vm=1 slot=0 gpa=0 size=1m spa=0x20000000\n"
	  "guest share vm=1 gpa=0x3000 size=4k\n", 3,
	  "guest relinquish vm=1 gpa=0x3000", "ERROR(EPERM) exits=1 user_exits=0 ret=-3", "0x20003",
	  "OK host=shared_borrowed hyp=nopage guest=shared_owned vm=1 gfn=0x3 iommu=1 mapped=4k" },
};

Test(pkvm_host, transitions_with_full_state)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
		const struct trans *t = &transitions[i];
		char text[2048], b[256];
		struct run r;

		snprintf(text, sizeof(text), MACHINE "%s%s\npkvm state pfn=%s\n", t->setup, t->op, t->pfn);
		r = run_script(NULL, text);
		cr_assert_eq(r.rc, 0, "%s: rc %d\n%s%s", t->name, r.rc, r.out, r.err);
		cr_assert_str_eq(result_of(r.out, t->setup_lines, b, sizeof(b)), t->result, "%s:\n%s",
				 t->name, r.out);
		cr_assert_str_eq(result_of(r.out, t->setup_lines + 1, b, sizeof(b)), t->state,
				 "%s:\n%s", t->name, r.out);
		run_free(&r);
	}
}

/* A refused hypercall costs exactly lat.pkvm.hvc; hyp-internal calls cost no HVC. */
Test(pkvm_host, hypercall_costs)
{
	struct run r = run_script(NULL, MACHINE
				  "pkvm host_share_hyp pfn=0x40000\n"
				  "pkvm host_reclaim pfn=0x40000\n"
				  "pkvm hyp_unpin pfn=0x40000\n");

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "[0] cpu0 pkvm host_share_hyp pfn=0x40000 -> ERROR(EINVAL) "
				  "(500 cycles)"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "[500] cpu0 pkvm host_reclaim pfn=0x40000 -> ERROR(EINVAL) "
				  "(500 cycles)"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "[1000] cpu0 pkvm hyp_unpin pfn=0x40000 -> ERROR(EINVAL) "
				  "(0 cycles)"), "%s", r.out);
	run_free(&r);
}

/* The host-access entry point: lazy map, injected aborts, and -ENODEV off pKVM. */
Test(pkvm_host, machine_access)
{
	struct sim *s;
	struct run r = run_script(&s, MACHINE
				  "vm create vm=1 type=pkvm\n"
				  "pkvm host_donate_guest vm=1 pfn=0x20001 gfn=0x10\n");
	struct sim_who who = { .agent = 0 };
	struct stack_pkvm_acc_res res;
	uint64_t cyc = 0;
	static const struct {
		uint64_t pa;
		bool write;
		enum stack_pkvm_by by;
		enum stack_pkvm_access result;
		uint64_t esr;
	} rows[] = {
		{ 0x20000000, true, STACK_PKVM_BY_KERNEL, STACK_PKVM_ACC_OK, 0 },
		{ 0x20001000, false, STACK_PKVM_BY_KERNEL, STACK_PKVM_ACC_OOPS, 0x96000087 },
		{ 0x20001000, true, STACK_PKVM_BY_KERNEL, STACK_PKVM_ACC_OOPS, 0x960000c7 },
		{ 0x20001000, false, STACK_PKVM_BY_USER, STACK_PKVM_ACC_SIGSEGV, 0x92000087 },
		{ 0x20001000, true, STACK_PKVM_BY_UACCESS, STACK_PKVM_ACC_EFAULT, 0x960000c7 },
	};

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cr_assert_eq(stack_pkvm_machine_access(s, &who, rows[i].pa, rows[i].write, rows[i].by,
						       &res, &cyc), 0);
		cr_assert_eq(res.result, rows[i].result, "row %zu", i);
		if (rows[i].result != STACK_PKVM_ACC_OK) {
			cr_assert_eq(res.esr, rows[i].esr, "row %zu: esr 0x%llx", i,
				     (unsigned long long)res.esr);
			cr_assert_eq(res.far, rows[i].pa);
		}
	}
	cr_assert_eq(stack_pkvm_machine_access(s, &who, 0x40000000, false, STACK_PKVM_BY_KERNEL,
					       &res, &cyc), -EINVAL);
	cr_assert_eq(stack_pkvm_machine_check(s, r.out, 0), 0);
	run_free(&r);
	sim_free(s);

	r = run_script(&s, "machine mem=1g cpus=1\nnop cycles=1\n");
	cr_assert_eq(stack_pkvm_machine_access(s, &who, 0x20000000, false, STACK_PKVM_BY_KERNEL,
					       &res, &cyc), -ENODEV);
	run_free(&r);
	sim_free(s);
}

/* KVM_CAP_ARM_PROTECTED_VM without a firmware image, and the vCPU rules. */
Test(pkvm_host, protected_vm_rules)
{
	char b[256];
	struct run r = run_script(NULL, MACHINE
				  "vm create vm=1 type=pkvm vcpus=2\n"
				  "vm cap vm=1 cap=protected_vm arg0=1\n"
				  "vm cap vm=1 cap=protected_vm arg0=0 arg1=0\n"
				  "vm cap vm=1 cap=protected_vm arg0=3\n"
				  "guest hypercall vm=1 nr=0xC6000002\n"
				  "guest hypercall vm=1 nr=0xC6000002 vcpu=1\n"
				  "vm cap vm=1 cap=protected_vm arg0=0 arg1=0\n");

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(result_of(r.out, 1, b, sizeof(b)), "OK firmware_size=0");
	cr_assert_str_eq(result_of(r.out, 2, b, sizeof(b)), "ERROR(EINVAL)");
	cr_assert_str_eq(result_of(r.out, 3, b, sizeof(b)), "ERROR(EINVAL)");
	/* protection not enabled: both vCPUs run (no primary rule) */
	cr_assert_str_eq(result_of(r.out, 4, b, sizeof(b)), "OK exits=1 user_exits=0 ret=4096 r1=0x1");
	cr_assert_str_eq(result_of(r.out, 5, b, sizeof(b)), "OK exits=1 user_exits=0 ret=4096 r1=0x1");
	cr_assert_str_eq(result_of(r.out, 6, b, sizeof(b)), "ERROR(EBUSY)");
	run_free(&r);
}

/* The pkvm operations need host=pkvm; type=pkvm too; SNP VMs are refused on pKVM. */
Test(pkvm_host, machine_rules)
{
	char b[256];
	struct run r = run_script(NULL, "machine mem=1g cpus=1\npkvm state pfn=1\n");

	cr_assert_eq(r.rc, 2);
	cr_assert_not_null(strstr(r.err, "machine.host: pkvm operations need `machine host=pkvm`"),
			   "%s", r.err);
	run_free(&r);
	r = run_script(NULL, "machine mem=1g cpus=1\nvm create vm=1 type=pkvm\n");
	cr_assert_eq(r.rc, 2);
	cr_assert_not_null(strstr(r.err, "type: pkvm needs `machine host=pkvm`"), "%s", r.err);
	run_free(&r);
	r = run_script(NULL, MACHINE "vm create vm=1 type=snp\nvm create vm=1 type=sw_protected\n");
	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(result_of(r.out, 0, b, sizeof(b)), "ERROR(EINVAL)");
	cr_assert_str_eq(result_of(r.out, 1, b, sizeof(b)), "ERROR(EINVAL)");
	run_free(&r);
	r = run_script(NULL, "machine mem=1g cpus=1 host=pkvm pkvm.pool_size=3m\nnop cycles=1\n");
	cr_assert_eq(r.rc, 2);
	cr_assert_not_null(strstr(r.err, "pkvm.pool_size: 0x300000: must be a multiple of 2m"), "%s",
			   r.err);
	run_free(&r);
	r = run_script(NULL, "machine mem=1g cpus=1 host=pkvm s2.pool_size=4m pkvm.pool_size=8m\n"
			     "nop cycles=1\n");
	cr_assert_eq(r.rc, 2);
	cr_assert_not_null(strstr(r.err, "pkvm.pool_size: 0x800000: the host page allocator "
				  "(s2.pool_size) has no contiguous range this large"), "%s", r.err);
	run_free(&r);
	r = run_script(NULL, "machine mem=1g cpus=1 host=pkvm pkvm.firmware=/nonexistent.elf\n"
			     "nop cycles=1\n");
	cr_assert_eq(r.rc, 2);
	cr_assert_not_null(strstr(r.err, "pkvm.firmware"), "%s", r.err);
	run_free(&r);
}
