/*
 * ops_pkvm.c - the operations of a pKVM machine (`machine host=pkvm`;
 * docs/script.md "pKVM", the spelling is design/script-language.md's):
 *
 *   pkvm host_share_hyp     pfn=N
 *   pkvm host_unshare_hyp   pfn=N
 *   pkvm host_donate_hyp    pfn=N [n=N]
 *   pkvm hyp_pin            pfn=N [n=N]
 *   pkvm hyp_unpin          pfn=N [n=N]
 *   pkvm host_share_guest   vm=N pfn=N gfn=N [perms=PERMS] [n=1|512]
 *   pkvm host_unshare_guest vm=N gfn=N [n=1|512]
 *   pkvm host_donate_guest  vm=N pfn=N gfn=N
 *   pkvm host_reclaim       pfn=N
 *   pkvm state              pfn=N      -> OK host=STATE hyp=STATE guest=STATE ...
 *
 * and protsim's extensions: `pkvm hyp_donate_host pfn= [n=]` (the
 * hypervisor-internal donation back), `pkvm dma_map` / `pkvm dma_unmap
 * pfn= [n=]` (the host's DMA references, Android's __pkvm_host_use_dma),
 * `pkvm dma pa= kind=` (a device's DMA through the IOMMU map the
 * hypervisor keeps), `pkvm host_access pa= kind= [by=]` (a host access
 * through the host stage 2: what `host read/write pa=` does on this
 * machine), and `guest relinquish` (MEM_RELINQUISH).  The guest actions
 * of ops_guest.c (`guest access`, `guest share`, `guest unshare`, `guest
 * hypercall`) come here for a pKVM VM (stack_pkvm_guest_op).
 *
 * Host hypercalls print OK or ERROR(ERRNO) with the hypervisor's return
 * value; each takes lat.pkvm.hvc plus its table walks, writes and TLBIs.
 */
#define _GNU_SOURCE   /* strerrorname_np */
#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_host.h"

#include <errno.h>
#include <string.h>

static struct sim_who who_of(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };

	return who;
}

static const char *errname(int rc)
{
	const char *n = strerrorname_np(rc < 0 ? -rc : rc);

	return n ? n : "EINVAL";
}

/* The machine's pKVM host, or NULL after a bad-argument stop (not a pKVM machine). */
static struct stack_pkvm_host *ph_of(struct sim_call *c)
{
	struct stack_pkvm_host *ph = stack_pkvm_host_of(sim_call_sim(c));

	if (!ph)
		sim_call_bad_arg(c, "machine.host", "pkvm operations need `machine host=pkvm`");
	return ph;
}

/* The handle of VM vm= (0 when it is no pKVM VM: the hypervisor answers -EINVAL). */
static uint32_t handle_of(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));

	return stack_pkvm_vm_handle(stack_vm_find(st, (unsigned)sim_arg_u64(c, "vm", 0)));
}

/* The script's VM number of hypervisor handle @h, or -1. */
static int vm_of_handle(struct stack *st, uint32_t h)
{
	for (unsigned i = 0; h && i < S2_MAX_VMS; i++)
		if (st->vm[i] && stack_pkvm_vm_handle(st->vm[i]) == h)
			return (int)i;
	return -1;
}

static void finish(struct sim_call *c, int rc, const struct sim_who *who, uint64_t cycles)
{
	if (rc < 0)
		sim_call_result(c, "ERROR(%s)", errname(rc));
	else
		sim_call_result(c, "OK");
	sim_advance(sim_call_agent(c), cycles + who->mem_cycles);
	stack_check_after(c);
}

/* ------------------------------------------------------------------ */
/* Host hypercalls                                                     */
/* ------------------------------------------------------------------ */

/* The call is the op's second word (stack_pkvm_hcalls[] names). */
static void hcall_op(struct sim_call *c, enum stack_pkvm_hcall hc)
{
	struct stack_pkvm_host *ph = ph_of(c);
	struct sim_who who = who_of(c);
	struct stack_pkvm_hcall_args a = { 0 };
	uint64_t cycles = 0;
	unsigned want;
	int rc;

	if (!ph)
		return;
	want = stack_pkvm_hcalls[hc].args;
	if (want & STACK_PKVM_ARG_PFN)
		a.pfn = sim_arg_u64(c, "pfn", 0);
	if (want & STACK_PKVM_ARG_GFN)
		a.gfn = sim_arg_u64(c, "gfn", 0);
	if (want & STACK_PKVM_ARG_N)
		a.n = sim_arg_u64(c, "n", 1);
	if (want & STACK_PKVM_ARG_VM)
		a.vm = handle_of(c);
	if ((want & STACK_PKVM_ARG_PERMS) && sim_arg_has(c, "perms")) {
		uint64_t l = sim_arg_u64(c, "perms", 0);   /* letters r, w, x: bits 0, 1, 2 */

		a.has_perms = true;
		a.perms = (uint8_t)(((l & 1) ? S2_PERM_R : 0) | ((l & 2) ? S2_PERM_W : 0) |
				    ((l & 4) ? S2_PERM_X : 0));
	}
	rc = stack_pkvm_hcall(stack_pkvm_host_model(ph), &who, hc, &a, &cycles);
	finish(c, rc, &who, cycles);
}

#define HCALL_OP(fn, hc) \
	static void fn(struct sim_call *c) { hcall_op(c, hc); }
HCALL_OP(op_share_hyp, STACK_PKVM_HC_SHARE_HYP)
HCALL_OP(op_unshare_hyp, STACK_PKVM_HC_UNSHARE_HYP)
HCALL_OP(op_donate_hyp, STACK_PKVM_HC_DONATE_HYP)
HCALL_OP(op_pin, STACK_PKVM_HC_PIN)
HCALL_OP(op_unpin, STACK_PKVM_HC_UNPIN)
HCALL_OP(op_share_guest, STACK_PKVM_HC_SHARE_GUEST)
HCALL_OP(op_unshare_guest, STACK_PKVM_HC_UNSHARE_GUEST)
HCALL_OP(op_donate_guest, STACK_PKVM_HC_DONATE_GUEST)
HCALL_OP(op_reclaim, STACK_PKVM_HC_RECLAIM)

typedef int (*range_fn)(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn, uint64_t n,
			uint64_t *cycles);

static void range_op(struct sim_call *c, range_fn fn)
{
	struct stack_pkvm_host *ph = ph_of(c);
	struct sim_who who = who_of(c);
	uint64_t cycles = 0;
	int rc;

	if (!ph)
		return;
	rc = fn(stack_pkvm_host_model(ph), &who, sim_arg_u64(c, "pfn", 0), sim_arg_u64(c, "n", 1),
		&cycles);
	finish(c, rc, &who, cycles);
}

static void op_hyp_donate_host(struct sim_call *c) { range_op(c, stack_pkvm_hyp_donate_host); }
static void op_dma_map(struct sim_call *c) { range_op(c, stack_pkvm_host_use_dma); }
static void op_dma_unmap(struct sim_call *c) { range_op(c, stack_pkvm_host_unuse_dma); }

/* ------------------------------------------------------------------ */
/* Inspection and accesses                                             */
/* ------------------------------------------------------------------ */

/*
 * pkvm state: the page's state in each party (the contract's three
 * fields), then what else the hypervisor keeps of it: owner= (the owner
 * id annotated in the host's invalid entry: hyp, guest), vm= and gfn= (the
 * guest that owns it, or shares it back), shares= (host_share_guest
 * count), pins=, dma= (when non-zero), iommu= (in the host's IOMMU map),
 * mapped= (the size of the host stage-2 leaf that maps it, if one does).
 * Untimed (an inspection, as `vm page`).
 */
static void op_state(struct sim_call *c)
{
	static const char *const owners[] = { "host", "hyp", "guest" };
	struct stack_pkvm_host *ph = ph_of(c);
	struct stack_pkvm_page pg;
	char b[32];
	int rc, vm;

	if (!ph)
		return;
	rc = stack_pkvm_page(stack_pkvm_host_model(ph), sim_arg_u64(c, "pfn", 0), &pg);
	if (rc) {
		sim_call_result(c, "ERROR(%s)", errname(rc));
		return;
	}
	sim_call_result(c, "OK");
	sim_call_field(c, "host", "%s", stack_pkvm_state_names[pg.host]);
	sim_call_field(c, "hyp", "%s", stack_pkvm_state_names[pg.hyp]);
	sim_call_field(c, "guest", "%s", stack_pkvm_state_names[pg.guest]);
	if (pg.host == STACK_PKVM_NOPAGE)
		sim_call_field(c, "owner", "%s", pg.host_owner < 3 ? owners[pg.host_owner] : "?");
	vm = vm_of_handle(stack_get(sim_call_sim(c)), pg.vm);
	if (pg.vm) {
		sim_call_field_u64(c, "vm", vm < 0 ? pg.vm : (uint64_t)vm);
		sim_call_field_hex(c, "gfn", pg.gfn);
	}
	if (pg.share_guest)
		sim_call_field_u64(c, "shares", pg.share_guest);
	if (pg.pin)
		sim_call_field_u64(c, "pins", pg.pin);
	if (pg.dma)
		sim_call_field_u64(c, "dma", pg.dma);
	sim_call_field_u64(c, "iommu", pg.iommu);
	if (pg.host_mapped)
		sim_call_field(c, "mapped", "%s", sim_fmt_size(pg.host_map_size, b));
}

static const char *const rw_choices[] = { "read", "write", NULL };
static const char *const by_choices[] = { "kernel", "user", "uaccess", NULL };

/*
 * pkvm host_access: a host access to pa through the host stage 2
 * (stack_pkvm_machine_access): OK [mapped=SIZE] (a lazy map on the way),
 * or the host's answer to an injected abort: OOPS (kernel), SIGSEGV
 * (user), ERROR(EFAULT) (uaccess: the fix-up), each with esr= and far=.
 */
static void op_host_access(struct sim_call *c)
{
	struct stack_pkvm_host *ph = ph_of(c);
	struct sim_who who = who_of(c);
	struct stack_pkvm_acc_res res;
	uint64_t cycles = 0;
	char b[32];
	int rc;

	if (!ph)
		return;
	rc = stack_pkvm_machine_access(sim_call_sim(c), &who, sim_arg_u64(c, "pa", 0),
				       sim_arg_enum(c, "kind", 0) == 1,
				       (enum stack_pkvm_by)sim_arg_enum(c, "by", 0), &res, &cycles);
	if (rc) {
		finish(c, rc, &who, cycles);
		return;
	}
	switch (res.result) {
	case STACK_PKVM_ACC_OK:
		sim_call_result(c, "OK");
		break;
	case STACK_PKVM_ACC_OOPS:
		sim_call_result(c, "OOPS");
		break;
	case STACK_PKVM_ACC_SIGSEGV:
		sim_call_result(c, "SIGSEGV");
		break;
	case STACK_PKVM_ACC_EFAULT:
		sim_call_result(c, "ERROR(EFAULT)");
		break;
	}
	if (res.mapped)
		sim_call_field(c, "mapped", "%s", sim_fmt_size(res.map_size, b));
	if (res.result != STACK_PKVM_ACC_OK) {
		sim_call_field_hex(c, "esr", res.esr);
		sim_call_field_hex(c, "far", res.far);
	}
	sim_advance(sim_call_agent(c), cycles + who.mem_cycles);
	stack_check_after(c);
}

/*
 * pkvm dma: a device's DMA to pa through the host's IOMMU domain, an
 * identity map the hypervisor keeps of exactly the pages the host owns
 * or shares (kvm_iommu_host_stage2_idmap): OK pa=ADDR, or
 * IO_PAGE_FAULT(TRANSLATION) (the page was taken out: donated to the hyp or
 * a guest, or unshared by its guest), as `dma` reports.  Untimed.
 */
static void op_dma(struct sim_call *c)
{
	struct stack_pkvm_host *ph = ph_of(c);
	uint64_t pa = sim_arg_u64(c, "pa", 0);

	if (!ph)
		return;
	if (stack_pkvm_dma_allowed(stack_pkvm_host_model(ph), pa)) {
		sim_call_result(c, "OK");
		sim_call_field_hex(c, "pa", pa);
	} else {
		sim_call_result(c, "IO_PAGE_FAULT(TRANSLATION)");
	}
	stack_check_after(c);
}

/* ------------------------------------------------------------------ */
/* Guest actions on a pKVM VM                                          */
/* ------------------------------------------------------------------ */

/*
 * Entering the vCPU (KVM_RUN's checks, stack_pkvm_vcpu_enter): it must
 * exist (ENOENT), not be powered off (EINVAL), and, once protection is
 * enabled, be the primary or a secondary created powered off and started
 * by CPU_ON (EPERM); the first to enter is the primary, with its reset
 * state.  The guest then traps to EL2 for each call.
 * Return: the VM, or NULL with the result set.
 */
static struct stack_vm *gact_vm(struct sim_call *c)
{
	struct stack_vm *v = stack_vm_find(stack_get(sim_call_sim(c)),
					   (unsigned)sim_arg_u64(c, "vm", 0));
	int rc;

	if (!v || !v->run || !stack_pkvm_is_vm(v)) {
		sim_call_result(c, "ERROR(ENOENT)");
		return NULL;
	}
	rc = stack_pkvm_vcpu_enter(v, (unsigned)sim_arg_u64(c, "vcpu", 0));
	if (rc) {
		sim_call_result(c, "ERROR(%s)", errname(rc));
		return NULL;
	}
	return v;
}

/* OK, or ERROR(ERRNO) ret=R0 (signed) when the hypervisor refused; exits= user_exits=. */
static void gact_finish(struct sim_call *c, int rc, const struct stack_pkvm_gres *r,
			const struct sim_who *who, uint64_t cycles)
{
	if (rc)
		sim_call_result(c, "ERROR(%s)", errname(rc));
	else if (r->err)
		sim_call_result(c, "ERROR(%s)", errname(r->err));
	else
		sim_call_result(c, "OK");
	sim_call_field_u64(c, "exits", r->exits);
	sim_call_field_u64(c, "user_exits", 0);
	sim_advance(sim_call_agent(c), cycles + who->mem_cycles);
}

static void guest_share_op(struct sim_call *c, bool share)
{
	struct stack_vm *v = gact_vm(c);
	struct sim_who who = who_of(c);
	struct stack_pkvm_gres r = { 0 };
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), size = sim_arg_u64(c, "size", 0), cycles = 0;
	int rc;

	if (!v)
		return;
	if ((gpa | size) & (SIM_PAGE_SIZE - 1) || !size) {
		sim_call_bad_arg(c, (gpa & (SIM_PAGE_SIZE - 1)) ? "gpa" : "size",
				 "must be a non-zero multiple of 4k (the hypervisor's granule)");
		return;
	}
	rc = stack_pkvm_guest_share(v, &who, gpa, size, share, &r, &cycles);
	gact_finish(c, rc, &r, &who, cycles);
	sim_call_field_u64(c, "done", r.done);
	if (!rc && r.err)
		sim_call_field(c, "ret", "%lld", (long long)r.r0);
	stack_check_after(c);
}

static void guest_relinquish(struct sim_call *c)
{
	struct stack_vm *v = gact_vm(c);
	struct sim_who who = who_of(c);
	struct stack_pkvm_gres r = { 0 };
	uint64_t cycles = 0;
	int rc;

	if (!v)
		return;
	rc = stack_pkvm_guest_relinquish(v, &who, sim_arg_u64(c, "gpa", 0), &r, &cycles);
	gact_finish(c, rc, &r, &who, cycles);
	if (!rc && r.err)
		sim_call_field(c, "ret", "%lld", (long long)r.r0);
	stack_check_after(c);
}

static void guest_access(struct sim_call *c)
{
	struct stack_vm *v = gact_vm(c);
	struct sim_who who = who_of(c);
	struct stack_pkvm_gres r = { 0 };
	uint64_t cycles = 0;
	unsigned kind = sim_arg_enum(c, "kind", 0);
	int rc;

	if (!v)
		return;
	rc = stack_pkvm_guest_touch(v, &who, sim_arg_u64(c, "gpa", 0), kind == 1, &r, &cycles);
	gact_finish(c, rc, &r, &who, cycles);
	if (!rc && !r.err)
		sim_call_field_hex(c, "spa", r.pa);
	stack_check_after(c);
}

/* guest hypercall nr=FUNCTION_ID a0..a2 = R1..R3: OK ret=R0 (signed) r1= r2= r3=. */
static void guest_hypercall(struct sim_call *c)
{
	struct stack_vm *v = gact_vm(c);
	struct sim_who who = who_of(c);
	struct stack_pkvm_gres r = { 0 };
	uint64_t regs[4], cycles = 0;
	int rc;

	if (!v)
		return;
	regs[0] = sim_arg_u64(c, "nr", 0);
	regs[1] = sim_arg_u64(c, "a0", 0);
	regs[2] = sim_arg_u64(c, "a1", 0);
	regs[3] = sim_arg_u64(c, "a2", 0);
	if (regs[0] == STACK_PKVM_PSCI_CPU_ON) {
		/* PSCI at EL2 for a pKVM VM (pkvm_handle_psci): one trap */
		int64_t ret = stack_pkvm_psci_cpu_on(v, regs[1], regs[2], regs[3]);

		r.exits = 1;
		cycles = stack_pkvm_cfg(stack_pkvm_host_model(stack_pkvm_host_of(sim_call_sim(c))))
				 ->guest_hvc_cycles;
		gact_finish(c, 0, &r, &who, cycles);
		sim_call_field(c, "ret", "%lld", (long long)ret);
		stack_check_after(c);
		return;
	}
	rc = stack_pkvm_guest_call(v, &who, regs, &r, &cycles);
	r.err = 0;   /* the guest sees R0 */
	gact_finish(c, rc, &r, &who, cycles);
	if (!rc) {
		sim_call_field(c, "ret", "%lld", (long long)regs[0]);
		sim_call_field_hex(c, "r1", regs[1]);
	}
	stack_check_after(c);
}

bool stack_pkvm_guest_op(struct sim_call *c, enum stack_pkvm_gop op)
{
	struct stack *st = stack_get(sim_call_sim(c));

	if (!stack_pkvm_host_of(sim_call_sim(c)) ||
	    !stack_pkvm_is_vm(stack_vm_find(st, (unsigned)sim_arg_u64(c, "vm", 0))))
		return false;
	switch (op) {
	case STACK_PKVM_GOP_ACCESS:
		guest_access(c);
		break;
	case STACK_PKVM_GOP_SHARE:
		guest_share_op(c, true);
		break;
	case STACK_PKVM_GOP_UNSHARE:
		guest_share_op(c, false);
		break;
	case STACK_PKVM_GOP_HYPERCALL:
		guest_hypercall(c);
		break;
	}
	return true;
}

/*
 * vm cap cap=protected_vm on a pKVM machine (kvm_arm_vm_ioctl_pkvm):
 * arg0 is the flags (0 ENABLE with the firmware memslot in arg1; 1 INFO:
 * OK firmware_size=N), anything else -EINVAL.  Other capabilities go on to
 * KVM's handler.
 */
bool stack_pkvm_op_vm_cap(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	struct stack_vm *v;
	struct sim_who who = who_of(c);
	uint64_t cycles = st->lat.ioctl;
	int rc;

	if (!stack_pkvm_host_of(sim_call_sim(c)) || sim_arg_enum(c, "cap", 0) != 1)
		return false;
	v = stack_vm_find(st, (unsigned)sim_arg_u64(c, "vm", 0));
	if (!v || !v->run || !stack_pkvm_is_vm(v)) {
		finish(c, -ENOENT, &who, 0);
		return true;
	}
	switch (sim_arg_u64(c, "arg0", 0)) {
	case 0:
		rc = stack_pkvm_enable_protected(v, &who, sim_arg_u64(c, "arg1", 0), &cycles);
		finish(c, rc, &who, cycles);
		break;
	case 1:
		finish(c, 0, &who, cycles);
		sim_call_field_u64(c, "firmware_size", stack_pkvm_firmware_size(v));
		break;
	default:
		finish(c, -EINVAL, &who, cycles);
		break;
	}
	return true;
}

/*
 * vcpu run on a pKVM VM: KVM_RUN's checks first (stack_pkvm_vcpu_enter:
 * -EPERM for a secondary not created powered off, ...), then the program
 * runs as on KVM (kvm_vcpu.c) with the pKVM hooks: the hyp's guest stage
 * 2, the entry registers, stage-2 faults and HVCs at EL2.
 */
bool stack_pkvm_op_vcpu_run(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	struct stack_vm *v = stack_vm_find(st, (unsigned)sim_arg_u64(c, "vm", 0));
	int rc;

	if (!stack_pkvm_host_of(sim_call_sim(c)) || !stack_pkvm_is_vm(v))
		return false;
	rc = stack_pkvm_vcpu_enter(v, (unsigned)sim_arg_u64(c, "vcpu", 0));
	if (rc) {
		sim_call_result(c, "ERROR(%s)", errname(rc));
		sim_advance(sim_call_agent(c), st->lat.ioctl);
		return true;
	}
	return false;   /* KVM_RUN goes on (kvm_vcpu.c), through the hyp's guest stage 2 */
}

static void op_guest_relinquish(struct sim_call *c)
{
	if (!ph_of(c))
		return;
	guest_relinquish(c);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

#define PFN_ARG     SIM_A_U64M("pfn", true, "N")
#define N_ARG       SIM_A_INT("n", false, 1, 1u << 20)
#define VM_ARG      SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1)
#define GFN_ARG     SIM_A_U64M("gfn", true, "N")

static const struct sim_arg_spec pfn_args[] = { PFN_ARG, SIM_A_END };
static const struct sim_arg_spec pfn_n_args[] = { PFN_ARG, N_ARG, SIM_A_END };
static const struct sim_arg_spec share_guest_args[] = {
	VM_ARG, PFN_ARG, GFN_ARG, SIM_A_PERMS("perms", false, "rwx"), N_ARG, SIM_A_END
};
static const struct sim_arg_spec unshare_guest_args[] = { VM_ARG, GFN_ARG, N_ARG, SIM_A_END };
static const struct sim_arg_spec donate_guest_args[] = { VM_ARG, PFN_ARG, GFN_ARG, SIM_A_END };
static const struct sim_arg_spec host_access_args[] = {
	SIM_A_ADDR("pa", true), SIM_A_ENUM("kind", true, rw_choices),
	SIM_A_ENUM("by", false, by_choices), SIM_A_END
};
static const struct sim_arg_spec dma_args[] = {
	SIM_A_ADDR("pa", true), SIM_A_ENUM("kind", true, rw_choices), SIM_A_END
};
static const struct sim_arg_spec relinquish_args[] = {
	VM_ARG, SIM_A_ADDR_ALIGN("gpa", true, SIM_SZ_4K),
	SIM_A_INT("vcpu", false, 0, STACK_KVM_MAX_VCPUS - 1), SIM_A_END
};

const struct sim_op stack_pkvm_ops[] = {
	{ "pkvm host_share_hyp", pfn_args,
	  "__pkvm_host_share_hyp: host owned => shared_owned, hyp nopage => shared_borrowed",
	  op_share_hyp },
	{ "pkvm host_unshare_hyp", pfn_args,
	  "__pkvm_host_unshare_hyp: host shared_owned => owned, hyp shared_borrowed => nopage",
	  op_unshare_hyp },
	{ "pkvm host_donate_hyp", pfn_n_args,
	  "__pkvm_host_donate_hyp of n pages: host owned => nopage, hyp nopage => owned",
	  op_donate_hyp },
	{ "pkvm hyp_donate_host", pfn_n_args,
	  "__pkvm_hyp_donate_host of n pages (hypervisor-internal): hyp owned => nopage, host => owned",
	  op_hyp_donate_host },
	{ "pkvm hyp_pin", pfn_n_args, "hyp_pin_shared_mem: a reference on pages the hyp borrows",
	  op_pin },
	{ "pkvm hyp_unpin", pfn_n_args, "hyp_unpin_shared_mem", op_unpin },
	{ "pkvm host_share_guest", share_guest_args,
	  "__pkvm_host_share_guest: the page shared with non-protected VM vm at gfn (n=512: a 2M block)",
	  op_share_guest },
	{ "pkvm host_unshare_guest", unshare_guest_args,
	  "__pkvm_host_unshare_guest: the share with VM vm at gfn ends", op_unshare_guest },
	{ "pkvm host_donate_guest", donate_guest_args,
	  "__pkvm_host_donate_guest: the page donated to protected VM vm at gfn", op_donate_guest },
	{ "pkvm host_reclaim", pfn_args,
	  "__pkvm_host_reclaim_page: a dying VM's page back to the host (poisoned if the guest owned it)",
	  op_reclaim },
	{ "pkvm dma_map", pfn_n_args,
	  "__pkvm_host_use_dma: the host maps n pages for DMA (a reference each)", op_dma_map },
	{ "pkvm dma_unmap", pfn_n_args, "__pkvm_host_unuse_dma: the references dropped", op_dma_unmap },
	{ "pkvm state", pfn_args,
	  "the page's states: OK host= hyp= guest= [owner=] [vm= gfn=] [shares=] [pins=] [dma=] iommu= [mapped=]",
	  op_state },
	{ "pkvm host_access", host_access_args,
	  "a host access to pa through the host stage 2: OK [mapped=] | OOPS | SIGSEGV | ERROR(EFAULT) esr= far=",
	  op_host_access },
	{ "pkvm dma", dma_args,
	  "a device's DMA to pa through the IOMMU map pKVM keeps: OK pa= | IO_PAGE_FAULT(TRANSLATION)",
	  op_dma },
	{ "guest relinquish", relinquish_args,
	  "MEM_RELINQUISH: the guest gives the page at gpa back to the host (pKVM)",
	  op_guest_relinquish },
	{ NULL, NULL, NULL, NULL }
};
