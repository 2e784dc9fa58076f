/*
 * ops_heki.c - the heki module: the keys and operations of the three
 * CR-protection designs (heki.h; docs/script.md "Heki, CR filtering and
 * VTLs"; the spelling is the v2 contract, `vtl allow` an extension):
 *
 *   vm cr_filter  vm=N cr=0|4 mask=N         the VMM's CR-write filter
 *   vtl enable    vm=N                       give the VM a VTL1
 *   vtl protect   vm=N gpa=ADDR size=SIZE perms=PERMS   VTL0's view (letters r w x u)
 *   vtl intercept vm=N cr=0|4 mask=N         VTL1 intercepts VTL0's CR writes
 *   vtl allow     vm=N sha256=HEX            VTL1's kexec allow-list
 *
 * Heki's own interface is the guest's hypercall (`guest hypercall nr=13`),
 * `guest cr_write`, `vm cap cap=heki_configure|heki_denial` and `vcpu
 * reset` (ops_guest.c).
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <string.h>

#define PAGE_4K 0x1000ull

static const char *const cr_policy_choices[] = { "allow", "deny", "kill", "pin", NULL };
static const char *const mem_denial_choices[] = { "gp", "kill", NULL };
static const char *const design_choices[] = { "none", "kvm", "vmm", "vtl", NULL };

static const struct sim_cfg_key heki_keys[] = {
	{ "heki.cr_protection", SIM_CFG_ENUM, 0, 0, "kvm", design_choices,
	  "Who protects the guest kernel's control registers: none (KVM without Heki: hypercall 13 is -KVM_ENOSYS), kvm (Heki in KVM), vmm (KVM hands hypercall 13 to the VMM, which pins with its CR filter), vtl (the scenario's VM gets a VTL1; no Heki in KVM)" },
	{ "vmm.cr_policy", SIM_CFG_ENUM, 0, 0, "deny", cr_policy_choices,
	  "The VMM's answer to a CR-filter exit (vm cr_filter) or a Heki denial exit: allow (perform the write), deny (#GP), kill (stop the VM), pin (deny a write that clears a watched bit, allow one that sets); a Heki denial ends in #GP whatever the VMM says, unless it kills" },
	{ "heki.reset_unpins", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "1: a vCPU reset (INIT) clears the VM's Heki pins; 0 (the RFC): pins are sticky and survive it" },
	{ "heki.host_cr0", SIM_CFG_U64, 0, UINT64_MAX, "0x80050033", NULL,
	  "The host's CR0 (KVM_HC_LOCK_CR_UPDATE: CR0 bits not set in it are refused)" },
	{ "heki.host_cr4", SIM_CFG_U64, 0, UINT64_MAX, "0x370ef0", NULL,
	  "The host's CR4 (KVM_HC_LOCK_CR_UPDATE: CR4 bits not set in it are ignored; the default has no CET)" },
	{ "vtl.mem_denial", SIM_CFG_ENUM, 0, 0, "gp", mem_denial_choices,
	  "What VTL0 sees when its permission view (set by VTL1) refuses an access: gp (#GP injected), kill (VTL1 stops the VM)" },
	{ "heki.elf", SIM_CFG_STR, 0, 0, "", NULL,
	  "The scenario's CR-protection VM: its program (RV64 ELF beside the scenario, e.g. heki_attack.elf), run under heki.cr_protection; empty: none" },
	{ "heki.vm", SIM_CFG_U64, 0, S2_MAX_VMS - 1, "5", NULL, "its VM number (statistics vmN.*, vmN.heki.*)" },
	{ "heki.mem_size", SIM_CFG_SIZE, 4 << 20, 1ull << 32, "16m", NULL,
	  "its memory: one memslot at 0x80000000 (the VMM's pages)" },
	{ "heki.max_insns", SIM_CFG_U64, 1, UINT64_MAX, "100000000", NULL, "stop after this many guest instructions" },
	{ "heki.kexec_sha256", SIM_CFG_STR, 0, 0, "", NULL,
	  "heki.cr_protection=vtl: the SHA-256 (64 hex digits) VTL1's kexec allow-list holds; empty: none" },
	{ "heki.mem_denial", SIM_CFG_ENUM, 0, 0, "gp", mem_denial_choices,
	  "What the guest sees when KVM refuses an access to a range it protected with Heki (KVM_HC_PROTECT_MEMORY): gp (#GP injected), kill (KVM stops the VM)" },
	{ "lat.stack.vtl_switch", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "One VTL switch (VTL call or return: exit, EPTP and vCPU-context switch, entry)" },
	{ "lat.stack.vtl_work", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "VTL1's handling of one intercept or VTL call (beyond the switches)" },
	{ "lat.stack.sha_kbyte", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "VTL1's SHA-256 of a kexec image: cycles per KiB" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static int heki_attach(struct sim *s, struct sim_err *err)
{
	struct stack *st = stack_get(s);

	(void)err;
	if (!st)
		return 0;
	st->heki.design = (enum stack_cr_design)sim_cfg_enum(s, "heki.cr_protection");
	st->heki.policy = stack_cr_policies[sim_cfg_enum(s, "vmm.cr_policy")];
	st->heki.reset_unpins = sim_cfg_bool(s, "heki.reset_unpins");
	st->heki.host_cr0 = sim_cfg_u64(s, "heki.host_cr0");
	st->heki.host_cr4 = sim_cfg_u64(s, "heki.host_cr4");
	st->heki.mem_denial = sim_cfg_enum(s, "vtl.mem_denial");
	st->heki.heki_mem_denial = sim_cfg_enum(s, "heki.mem_denial");
	st->heki.vtl_switch = sim_cfg_u64(s, "lat.stack.vtl_switch");
	st->heki.vtl_work = sim_cfg_u64(s, "lat.stack.vtl_work");
	st->heki.sha_kbyte = sim_cfg_u64(s, "lat.stack.sha_kbyte");
	return 0;
}

/* cr= of a line: 0 or 4, else a bad argument (-1). */
static int cr_arg(struct sim_call *c)
{
	unsigned cr = (unsigned)sim_arg_u64(c, "cr", 0);

	if (cr != 0 && cr != 4) {
		sim_call_bad_arg(c, "cr", "%u: 0 or 4", cr);
		return -1;
	}
	return (int)cr;
}

/* mask= against the CR's writable bits (others can never change: a bad argument). */
static bool mask_ok(struct sim_call *c, int cr, uint64_t mask)
{
	uint64_t valid = cr == 0 ? STACK_X86_CR0_VALID : STACK_X86_CR4_VALID;

	if (mask & ~valid) {
		sim_call_bad_arg(c, "mask", "0x%llx: bits outside CR%d's (0x%llx)",
				 (unsigned long long)mask, cr, (unsigned long long)valid);
		return false;
	}
	return true;
}

static void done(struct sim_call *c, struct stack_vm *v, int rc)
{
	sim_advance(sim_call_agent(c), v->st->lat.ioctl);
	if (rc) {
		stack_put_errno(c, -rc);
		return;
	}
	sim_call_result(c, "OK");
	stack_check_after(c);
}

/*
 * The VMM's CR filter (design vmm: Sean Christopherson's "give the VMM
 * the plumbing", as KVM_X86_SET_MSR_FILTER): the guest's writes that
 * change a bit of @mask exit to the VMM.  One ioctl; replaces
 * the CR's previous mask (0 removes it).
 */
static void op_vm_cr_filter(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	int cr = cr_arg(c);
	uint64_t mask = sim_arg_u64(c, "mask", 0);

	if (!v || cr < 0 || !mask_ok(c, cr, mask))
		return;
	stack_heki_of(v, true)->filter[cr == 0 ? 0 : 1] = mask;
	stack_heki_sync(v);
	done(c, v, 0);
}

static void op_vtl_enable(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);

	if (v)
		done(c, v, stack_vtl_enable(v));
}

static void op_vtl_intercept(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	int cr = cr_arg(c);
	uint64_t mask = sim_arg_u64(c, "mask", 0);

	if (!v || cr < 0 || !mask_ok(c, cr, mask))
		return;
	done(c, v, stack_vtl_intercept(v, (unsigned)cr, mask));
}

static void op_vtl_protect(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), size = sim_arg_u64(c, "size", 0);
	unsigned perms = (unsigned)sim_arg_u64(c, "perms", 0);

	if (!v)
		return;
	if ((gpa | size) & (PAGE_4K - 1) || gpa + size < gpa) {
		sim_call_bad_arg(c, "size", "gpa and size must be 4k aligned and not wrap");
		return;
	}
	/* EPT: W without R, or X without R where execute-only is unsupported, is a misconfiguration */
	if ((perms & S2_PERM_W) && !(perms & S2_PERM_R)) {
		sim_call_bad_arg(c, "perms", "w needs r (EPT misconfiguration)");
		return;
	}
	done(c, v, stack_vtl_protect(v, gpa, size, perms));
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static void op_vtl_allow(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	const char *hex = sim_arg_str(c, "sha256", "");
	uint8_t sha[32];

	if (!v)
		return;
	if (strlen(hex) != 64) {
		sim_call_bad_arg(c, "sha256", "64 hex digits (a SHA-256)");
		return;
	}
	for (unsigned i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			sim_call_bad_arg(c, "sha256", "64 hex digits (a SHA-256)");
			return;
		}
		sha[i] = (uint8_t)(hi << 4 | lo);
	}
	done(c, v, stack_vtl_allow(v, sha));
}

#define VM_ARG SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1)
static const struct sim_arg_spec cr_filter_args[] = {
	VM_ARG, SIM_A_INTM("cr", true, 0, 4, "0|4"), SIM_A_U64("mask", true), SIM_A_END
};
static const struct sim_arg_spec vm_args[] = { VM_ARG, SIM_A_END };
static const struct sim_arg_spec protect_args[] = {
	VM_ARG, SIM_A_ADDR("gpa", true), SIM_A_SIZE("size", true),
	SIM_A_PERMS("perms", true, "rwxu"), SIM_A_END
};
static const struct sim_arg_spec allow_args[] = {
	VM_ARG, SIM_A_STRM("sha256", true, "HEX"), SIM_A_END
};

static const struct sim_op heki_ops[] = {
	{ "vm cr_filter", cr_filter_args,
	  "the VMM's CR filter: the guest's writes to CR cr that change a bit of mask exit to the VMM (vmm.cr_policy answers)",
	  op_vm_cr_filter },
	{ "vtl enable", vm_args, "give VM vm a more privileged level, VTL1, with its own view of memory",
	  op_vtl_enable },
	{ "vtl protect", protect_args,
	  "VTL1 sets VTL0's permissions on [gpa, gpa + size): r, w, x (supervisor execute), u (user execute)",
	  op_vtl_protect },
	{ "vtl intercept", cr_filter_args,
	  "VTL1 intercepts VTL0's writes to CR cr that change a bit of mask (it refuses clearing one)",
	  op_vtl_intercept },
	{ "vtl allow", allow_args, "VTL1 allows kexec of an image with this SHA-256", op_vtl_allow },
	{ NULL, NULL, NULL, NULL }
};

static void heki_detach(struct sim *s)
{
	struct stack *st = stack_get(s);

	if (st)
		stack_run_heki_free(st);
}

const struct sim_module stack_heki_module = {
	.name = "heki",
	.needs = (const char *const[]){ "stack", "kvm", NULL },
	.keys = heki_keys,
	.ops = heki_ops,
	.attach = heki_attach,
	.detach = heki_detach,
	.summary = stack_heki_summary,
};
