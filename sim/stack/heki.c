/*
 * heki.c - KVM's side of guest control-register protection (heki.h):
 *
 *   KVM_HC_LOCK_CR_UPDATE   heki_lock_cr of the Heki RFC v2 (Mickaël
 *                           Salaün, Nov 2023, patch 02/19 "KVM: x86: Add
 *                           new hypercall to lock control registers",
 *                           with the exits of 03/19 "Add notifications
 *                           for Heki policy configuration and violation")
 *   CR0/CR4 write exits     handle_cr -> heki_check_cr, then (protsim's
 *                           designs) VTL1's intercept and the VMM's filter
 *   the VMM's turn          vmm.cr_policy answers a denial or filter exit
 *   completions             complete_heki_configure_exit (RAX = 0, the
 *                           VMCALL skipped), complete_heki_denial_exit
 *                           (#GP), the filter's (the VMM's answer)
 *
 * Where the seed reads the host's registers (read_cr0(), __read_cr4():
 * "Ignores bits not present in host"), the model reads heki.host_cr0 and
 * heki.host_cr4.  The pins are the VM's (struct kvm), for every vCPU,
 * and sticky: nothing unpins them but a reset with heki.reset_unpins=1.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The per-VM state                                                    */
/* ------------------------------------------------------------------ */

#define F(x) offsetof(struct stack_heki_stats, x)
static const struct sim_stat_desc heki_stat_desc[] = {
	{ "lock_calls", SIM_STAT_COUNTER, F(lock_calls), "KVM_HC_LOCK_CR_UPDATE hypercalls" },
	{ "lock_einval", SIM_STAT_COUNTER, F(lock_einval), "of those, answered -KVM_EINVAL" },
	{ "cr_exits", SIM_STAT_COUNTER, F(cr_exits), "CR0/CR4 write exits KVM handled" },
	{ "cr_denied", SIM_STAT_COUNTER, F(cr_denied), "CR writes refused with #GP (pins, VTL1, the VMM)" },
	{ "cr_allowed", SIM_STAT_COUNTER, F(cr_allowed), "CR writes that exited and were performed" },
	{ "configure_exits", SIM_STAT_COUNTER, F(configure_exits), "KVM_EXIT_HEKI_CONFIGURE exits to the VMM" },
	{ "denial_exits", SIM_STAT_COUNTER, F(denial_exits), "KVM_EXIT_HEKI_DENIAL exits to the VMM" },
	{ "filter_exits", SIM_STAT_COUNTER, F(filter_exits), "CR-filter exits to the VMM (vm cr_filter)" },
	{ "vtl_calls", SIM_STAT_COUNTER, F(vtl_calls), "switches from VTL0 to VTL1 (intercepts, VTL calls)" },
	{ "vtl_denied", SIM_STAT_COUNTER, F(vtl_denied), "of VTL1's answers, refusals" },
	{ "kexec_ok", SIM_STAT_COUNTER, F(kexec_ok), "kexec images VTL1 accepted (hash on the allow-list)" },
	{ "kexec_refused", SIM_STAT_COUNTER, F(kexec_refused), "kexec images VTL1 refused" },
	{ "mem_denials", SIM_STAT_COUNTER, F(mem_denials), "guest accesses refused by VTL0's permission view" },
	{ "resets", SIM_STAT_COUNTER, F(resets), "vCPU resets (INIT)" },
	{ NULL, 0, 0, NULL },
};
#undef F

struct stack_heki *stack_heki_of(struct stack_vm *v, bool make)
{
	struct stack_heki *h;
	char p[32];

	if (!v->run)
		return NULL;
	if (v->run->heki || !make)
		return v->run->heki;
	h = sim_xcalloc(1, sizeof(*h));
	snprintf(p, sizeof(p), "%s.heki", v->prefix);
	h->stats = sim_stat_group_add(v->st->s, p, heki_stat_desc, &h->ctr);
	v->run->heki = h;
	return h;
}

void stack_heki_free(struct stack_vm *v)
{
	struct stack_heki *h = v->run ? v->run->heki : NULL;

	if (!h)
		return;
	sim_stat_group_remove(v->st->s, h->stats);
	free(h);
	v->run->heki = NULL;
}

/* ------------------------------------------------------------------ */
/* vmm.cr_policy                                                       */
/* ------------------------------------------------------------------ */

static enum stack_cr_answer ans_allow(unsigned cr, uint64_t old, uint64_t val)
{
	(void)cr, (void)old, (void)val;
	return STACK_CR_ALLOW;
}

static enum stack_cr_answer ans_deny(unsigned cr, uint64_t old, uint64_t val)
{
	(void)cr, (void)old, (void)val;
	return STACK_CR_DENY;
}

static enum stack_cr_answer ans_kill(unsigned cr, uint64_t old, uint64_t val)
{
	(void)cr, (void)old, (void)val;
	return STACK_CR_KILL;
}

/* pin: the VMM refuses a write that clears a watched bit, allows one that only sets */
static enum stack_cr_answer ans_pin(unsigned cr, uint64_t old, uint64_t val)
{
	(void)cr;
	return (old & ~val) ? STACK_CR_DENY : STACK_CR_ALLOW;
}

static const struct stack_cr_policy pol_allow = { "allow", ans_allow };
static const struct stack_cr_policy pol_deny = { "deny", ans_deny };
static const struct stack_cr_policy pol_kill = { "kill", ans_kill };
static const struct stack_cr_policy pol_pin = { "pin", ans_pin };
const struct stack_cr_policy *const stack_cr_policies[] = {
	&pol_allow, &pol_deny, &pol_kill, &pol_pin, NULL
};

/* ------------------------------------------------------------------ */
/* Exits to the VMM (heki_exit_cr)                                     */
/* ------------------------------------------------------------------ */

/*
 * heki_exit_cr: whether the VMM asked for exit @reason (CONFIGURE or
 * DENIAL) of CR reason @heki_reason; if so @ue is filled.
 */
static bool heki_exit_cr(struct stack_heki *h, struct stack_uexit *ue,
			 enum stack_uexit_reason reason, uint64_t heki_reason, uint64_t value)
{
	uint64_t enabled = reason == STACK_UEXIT_HEKI_CONFIGURE ? h->configure_exit_reason
							      : h->denial_exit_reason;

	if (!(enabled & heki_reason))
		return false;
	memset(ue, 0, sizeof(*ue));
	ue->reason = reason;
	ue->heki_reason = heki_reason;
	ue->cr_value = value;   /* heki_configure.cr_pinned / heki_denial.cr_value */
	return true;
}

/* ------------------------------------------------------------------ */
/* KVM_HC_LOCK_CR_UPDATE                                               */
/* ------------------------------------------------------------------ */

/* heki_lock_cr: the hypercall's value, *@exit when it gives the VMM a configure exit. */
static int64_t heki_lock_cr(struct stack_vm *v, struct stack_heki *h, uint64_t cr, uint64_t pin,
			    uint64_t flags, struct stack_uexit *ue, bool *exit)
{
	const struct stack_heki_cfg *cfg = &v->st->heki;

	*exit = false;
	if (flags) {
		if (flags == STACK_KVM_LOCK_CR_UPDATE_VERSION && !cr && !pin)
			return STACK_HEKI_ABI_VERSION;
		return -STACK_KVM_EINVAL;
	}
	if (!pin)
		return -STACK_KVM_EINVAL;
	switch (cr) {
	case 0:
		/* Cf. arch/x86/kernel/cpu/common.c: WP must be among them */
		if (!(pin & STACK_X86_CR0_WP))
			return -STACK_KVM_EINVAL;
		/* every bit must be set in the host's CR0 (read_cr0()) */
		if ((pin & cfg->host_cr0) != pin)
			return -STACK_KVM_EINVAL;
		/* pinned_cr0: P => P | pin (atomic_long_or, the VM's, sticky) */
		h->pinned_cr0 |= pin;
		*exit = heki_exit_cr(h, ue, STACK_UEXIT_HEKI_CONFIGURE, STACK_KVM_HEKI_EXIT_REASON_CR0, pin);
		return 0;
	case 4:
		/* bits outside cr4_pinned_mask: irrelevant, refused */
		if ((pin & STACK_HEKI_CR4_PINNED_MASK) != pin)
			return -STACK_KVM_EINVAL;
		/* bits not present in the host (__read_cr4()) are ignored */
		pin &= cfg->host_cr4;
		h->pinned_cr4 |= pin;
		*exit = heki_exit_cr(h, ue, STACK_UEXIT_HEKI_CONFIGURE, STACK_KVM_HEKI_EXIT_REASON_CR4, pin);
		return 0;
	}
	return -STACK_KVM_EINVAL;
}

/*
 * KVM_HC_PROTECT_MEMORY (simplified, heki.h): [a0, a0 + a1) keeps only
 * the permissions a2; 0, -KVM_EINVAL (misaligned, empty, wrapping,
 * unknown bits, W without R) or -ENOSPC.  KVM zaps the range so that its
 * leaves fault in restricted (reference §7.3: "applies them to every
 * future EPT leaf"; huge pages split).
 */
static int64_t protect_memory(struct stack_vm *v, struct stack_heki *h, const uint64_t args[5])
{
	uint64_t gpa = args[1], size = args[2], perms = args[3];
	struct sim_who none = { .agent = -1 };

	if ((gpa | size) & 0xfff || !size || gpa + size < gpa || (perms & ~(uint64_t)S2_PERM_ALL) ||
	    ((perms & S2_PERM_W) && !(perms & S2_PERM_R)))
		return -STACK_KVM_EINVAL;
	if (h->nmem == STACK_HEKI_MAX_MEM)
		return -ENOSPC;
	/* ranges: R => R + {gpa, size, perms} (sticky: nothing removes one) */
	h->mem[h->nmem].gpa = gpa;
	h->mem[h->nmem].size = size;
	h->mem[h->nmem].perms = (unsigned)perms;
	h->nmem++;
	if (stack_kvm_zap(v, &none, gpa, size))
		return -EFAULT;
	stack_kvm_cpu_tlbi(v, CPU_TLBI_ALL);
	return 0;
}

int stack_heki_lock_cr(struct stack_vm *v, unsigned vcpu, const uint64_t args[5],
		       struct stack_uexit *ue, uint64_t *cycles)
{
	struct stack_heki *h = stack_heki_of(v, true);
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	int64_t ret;
	bool exit = false;

	(void)cycles;   /* the hypercall exit's dispatch is charged by the caller */
	if (args[0] == STACK_KVM_HC_PROTECT_MEMORY) {
		vc->resp = v->st->heki.design == STACK_CR_KVM ? (uint64_t)protect_memory(v, h, args)
							      : (uint64_t)-STACK_KVM_ENOSYS;
		return STACK_KVM_DONE;
	}
	h->ctr.lock_calls++;
	switch (v->st->heki.design) {
	case STACK_CR_KVM:
		break;
	case STACK_CR_VMM:
		/* KVM_EXIT_HYPERCALL: the VMM implements the ABI (complete_hypercall_exit) */
		memset(ue, 0, sizeof(*ue));
		ue->reason = STACK_UEXIT_HYPERCALL;
		ue->nr = args[0];
		memcpy(ue->args, args + 1, 4 * sizeof(args[0]));
		vc->cont = STACK_KVM_CONT_HYPERCALL;
		return STACK_KVM_USER;
	default:
		vc->resp = (uint64_t)-STACK_KVM_ENOSYS;   /* a host without CONFIG_HEKI */
		return STACK_KVM_DONE;
	}
	/* kvm_emulate_hypercall: a0 > U32_MAX is -KVM_EINVAL before heki_lock_cr */
	if (args[1] > UINT32_MAX)
		ret = -STACK_KVM_EINVAL;
	else
		ret = heki_lock_cr(v, h, args[1], args[2], args[3], ue, &exit);
	if (ret == -STACK_KVM_EINVAL)
		h->ctr.lock_einval++;
	stack_heki_sync(v);   /* the pinned bits now exit (VMX CR0/CR4 guest/host mask) */
	if (exit) {
		h->ctr.configure_exits++;
		vc->cont = STACK_KVM_CONT_HEKI_CONFIGURE;
		return STACK_KVM_USER;
	}
	vc->resp = (uint64_t)ret;
	return STACK_KVM_DONE;
}

int stack_heki_enable_cap(struct stack_vm *v, bool denial, uint64_t mask)
{
	struct stack_heki *h;

	if (mask & ~STACK_KVM_HEKI_EXIT_REASON_VALID_MASK)
		return -EINVAL;
	h = stack_heki_of(v, true);
	if (denial)
		h->denial_exit_reason = mask;
	else
		h->configure_exit_reason = mask;
	return 0;
}

/* ------------------------------------------------------------------ */
/* CR0/CR4 writes                                                      */
/* ------------------------------------------------------------------ */

int stack_heki_cr_exit(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
		       const struct cpu_exit *e, struct stack_uexit *ue, uint64_t *cycles)
{
	struct stack_heki *h = stack_heki_of(v, true);
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	const struct stack_heki_cfg *cfg = &v->st->heki;
	unsigned i = e->cr == 0 ? 0 : 1;
	uint64_t old = e->cr_old, val = e->cr_new, pinned;

	(void)who;
	v->run->ctr.exits[CPU_EXIT_CR_WRITE]++;
	h->ctr.cr_exits++;
	*cycles += v->st->lat.kvm_exit;
	/*
	 * design vtl: KVM delivers the intercept to VTL1 (a VTL switch in,
	 * VTL1's handler, a VTL return), which refuses a write that clears
	 * a bit it watches.
	 */
	if (h->vtl.enabled && h->vtl.level == 0 && ((old ^ val) & h->vtl.icpt[i])) {
		h->ctr.vtl_calls++;
		*cycles += 2 * cfg->vtl_switch + cfg->vtl_work;
		if (old & ~val & h->vtl.icpt[i]) {
			h->ctr.vtl_denied++;
			h->ctr.cr_denied++;
			return STACK_KVM_GP;
		}
	}
	/* design kvm: heki_check_cr, before the write (handle_cr) */
	pinned = i ? h->pinned_cr4 : h->pinned_cr0;
	if ((val & pinned) != pinned) {
		if (heki_exit_cr(h, ue, STACK_UEXIT_HEKI_DENIAL,
				 i ? STACK_KVM_HEKI_EXIT_REASON_CR4 : STACK_KVM_HEKI_EXIT_REASON_CR0, val)) {
			h->ctr.denial_exits++;
			vc->cont = STACK_KVM_CONT_HEKI_DENIAL;
			return STACK_KVM_USER;
		}
		h->ctr.cr_denied++;   /* complete_heki_denial_exit at once: kvm_inject_gp */
		return STACK_KVM_GP;
	}
	/* design vmm: a write that changes a watched bit exits to the VMM */
	if ((old ^ val) & h->filter[i]) {
		memset(ue, 0, sizeof(*ue));
		ue->reason = STACK_UEXIT_CR_WRITE;
		ue->cr = e->cr;
		ue->cr_old = old;
		ue->cr_value = val;
		h->ctr.filter_exits++;
		vc->cont = STACK_KVM_CONT_CR_WRITE;
		return STACK_KVM_USER;
	}
	h->ctr.cr_allowed++;
	return STACK_KVM_DONE;
}

bool stack_heki_vmm_lock(struct stack_vm *v, struct stack_uexit *ue)
{
	struct stack_heki *h = stack_heki_of(v, true);
	const struct stack_heki_cfg *cfg = &v->st->heki;
	uint64_t cr = ue->args[0], pin = ue->args[1], flags = ue->args[2];
	unsigned i = cr == 4;

	/* the same rules as heki_lock_cr, kept by the VMM */
	if (flags) {
		ue->ret = flags == STACK_KVM_LOCK_CR_UPDATE_VERSION && !cr && !pin ? STACK_HEKI_ABI_VERSION
										   : -STACK_KVM_EINVAL;
		return true;
	}
	if (!pin || (cr != 0 && cr != 4) ||
	    (cr == 0 && (!(pin & STACK_X86_CR0_WP) || (pin & cfg->host_cr0) != pin)) ||
	    (cr == 4 && (pin & STACK_HEKI_CR4_PINNED_MASK) != pin)) {
		h->ctr.lock_einval++;
		ue->ret = -STACK_KVM_EINVAL;
		return true;
	}
	if (cr == 4)
		pin &= cfg->host_cr4;
	/* filter: F => F | pin (KVM_X86_SET_CR_FILTER-like ioctl; vmm.cr_policy answers its exits) */
	h->filter[i] |= pin;
	stack_heki_sync(v);
	ue->ret = 0;
	return true;
}

bool stack_heki_vmm(struct stack_vm *v, struct stack_uexit *ue, uint64_t *cycles)
{
	const struct stack_cr_policy *pol = v->st->heki.policy;
	enum stack_cr_answer a;

	(void)cycles;   /* the exit's round trip (lat.stack.user_exit) is charged by the caller */
	switch (ue->reason) {
	case STACK_UEXIT_HEKI_CONFIGURE:
		return true;   /* the VMM learns the guest's pins (heki_configure.cr_pinned) */
	case STACK_UEXIT_HEKI_DENIAL:
		/* the VMM may stop the VM; it cannot lift the pin (KVM injects #GP on completion) */
		a = pol->answer(ue->heki_reason == STACK_KVM_HEKI_EXIT_REASON_CR4 ? 4 : 0, 0, ue->cr_value);
		break;
	case STACK_UEXIT_CR_WRITE:
		a = pol->answer(ue->cr, ue->cr_old, ue->cr_value);
		ue->ret = a == STACK_CR_ALLOW;
		break;
	default:
		return false;
	}
	if (a == STACK_CR_KILL) {
		v->run->killed = true;
		return false;
	}
	return true;
}

int stack_heki_complete(struct stack_vm *v, unsigned vcpu, struct stack_uexit *ue, int cont)
{
	struct stack_heki *h = stack_heki_of(v, true);

	switch ((enum stack_kvm_cont)cont) {
	case STACK_KVM_CONT_HEKI_CONFIGURE:
		/* complete_heki_configure_exit: kvm_rax_write(vcpu, 0), skip the VMCALL */
		v->run->vcpu[vcpu].resp = 0;
		return STACK_KVM_DONE;
	case STACK_KVM_CONT_HEKI_DENIAL:
		/* complete_heki_denial_exit: kvm_inject_gp(vcpu, 0) */
		h->ctr.cr_denied++;
		return STACK_KVM_GP;
	case STACK_KVM_CONT_CR_WRITE:
		if (ue->ret) {
			h->ctr.cr_allowed++;
			return STACK_KVM_DONE;
		}
		h->ctr.cr_denied++;
		return STACK_KVM_GP;
	default:
		return STACK_KVM_FATAL;
	}
}

/* ------------------------------------------------------------------ */
/* Intercept masks, scripted vCPU registers, reset                     */
/* ------------------------------------------------------------------ */

uint64_t stack_heki_intercept(struct stack_vm *v, unsigned cr)
{
	struct stack_heki *h = stack_heki_of(v, false);
	unsigned i = cr == 0 ? 0 : 1;
	uint64_t m;

	if (!h)
		return 0;
	/*
	 * Pins: KVM owns every bit of the CR (VMX CR0/CR4 guest/host mask,
	 * SVM CR write intercepts), so each write that changes the register
	 * reaches handle_cr and heki_check_cr, pinned bits or not.
	 */
	m = h->filter[i];
	if (i ? h->pinned_cr4 : h->pinned_cr0)
		m |= i ? STACK_X86_CR4_VALID : STACK_X86_CR0_VALID;
	if (h->vtl.enabled && h->vtl.level == 0)
		m |= h->vtl.icpt[i];
	return m;
}

void stack_heki_sync(struct stack_vm *v)
{
	stack_kvm_cpu_cr_intercepts(v);
}

uint64_t stack_heki_vcpu_cr(struct stack_vm *v, unsigned vcpu, unsigned cr)
{
	struct stack_heki *h = stack_heki_of(v, false);
	unsigned i = cr == 0 ? 0 : 1;

	if (!h || vcpu >= STACK_KVM_MAX_VCPUS || !h->cr_set[vcpu])
		return i ? STACK_X86_CR4_BOOTED : STACK_X86_CR0_BOOTED;
	return h->cr[vcpu][i];
}

void stack_heki_vcpu_set_cr(struct stack_vm *v, unsigned vcpu, unsigned cr, uint64_t val)
{
	struct stack_heki *h = stack_heki_of(v, true);

	if (!h->cr_set[vcpu]) {
		h->cr[vcpu][0] = STACK_X86_CR0_BOOTED;
		h->cr[vcpu][1] = STACK_X86_CR4_BOOTED;
		h->cr_set[vcpu] = true;
	}
	h->cr[vcpu][cr == 0 ? 0 : 1] = val;
}

/*
 * INIT (kvm_vcpu_reset): CR0/CR4 to their INIT values, set by KVM itself
 * (not through handle_cr: no pin check).  The pins stay (the RFC has no
 * unpin) unless heki.reset_unpins=1, which clears the VM's pins.  The
 * VMM, which performs the reset, drops its CR filter until it re-arms it.
 * A VM with a VTL restarts from its firmware, which re-creates VTL1: its
 * intercepts and VTL0's permission view go (docs/cr-protection.md).
 */
void stack_heki_vcpu_reset(struct stack_vm *v, unsigned vcpu)
{
	struct stack_heki *h = stack_heki_of(v, true);

	h->ctr.resets++;
	stack_heki_vcpu_set_cr(v, vcpu, 0, STACK_X86_CR0_INIT);
	stack_heki_vcpu_set_cr(v, vcpu, 4, STACK_X86_CR4_INIT);
	if (v->st->heki.reset_unpins) {
		struct sim_who none = { .agent = -1 };

		h->pinned_cr0 = h->pinned_cr4 = 0;   /* pinned: P => 0 */
		for (unsigned i = 0; i < h->nmem; i++)   /* memory protections: R => {} */
			(void)stack_kvm_zap(v, &none, h->mem[i].gpa, h->mem[i].size);
		h->nmem = 0;
	}
	h->filter[0] = h->filter[1] = 0;
	stack_vtl_teardown(v);
	stack_heki_sync(v);
}

/* ------------------------------------------------------------------ */
/* Invariants (check.c, stack.check=1)                                 */
/* ------------------------------------------------------------------ */

struct heki_chk {
	struct stack_vm *v;
	char *msg;
	size_t len;
	bool bad;
};

/*
 * The leaf permissions the nested format gives a view of @perms
 * (kvm_mmu.c tdp_map: AMD NPT has one X bit and readable leaves).
 */
static unsigned leaf_perms(unsigned perms)
{
	if (perms == S2_PERM_ALL)
		return S2_PERM_ALL;
	return S2_PERM_R | (perms & S2_PERM_W) | ((perms & S2_PERM_X) ? S2_PERM_X : 0);
}

/* No valid nested leaf gives a page more than its view (VTL0's, Heki's ranges) allows. */
static int heki_visit_leaf(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct heki_chk *k = ctx->arg;
	struct s2_pte pte;
	uint64_t size = s2_sz_bytes(ctx->sz);

	(void)when;
	s2_pgt_fmt(ctx->pgt)->decode(ctx->old, ctx->sz, &pte);
	if (pte.type != S2_PTE_LEAF)
		return 0;
	for (uint64_t o = 0; o < size; o += 0x1000) {
		unsigned allowed = leaf_perms(stack_vtl_perms(k->v, ctx->addr + o));

		if (pte.prot.perms & ~allowed) {
			snprintf(k->msg, k->len, "gpa 0x%llx: a nested leaf with perms 0x%x where the "
				 "guest's view allows 0x%x", (unsigned long long)(ctx->addr + o),
				 pte.prot.perms, allowed);
			k->bad = true;
			return 1;
		}
	}
	return 0;
}

int stack_heki_check(struct stack_vm *v, char *msg, size_t len)
{
	struct stack_heki *h = stack_heki_of(v, false);
	const struct stack_heki_cfg *cfg = &v->st->heki;
	struct heki_chk k = { .v = v, .msg = msg, .len = len };

	if (!h)
		return 0;
	if (h->pinned_cr0 && (!(h->pinned_cr0 & STACK_X86_CR0_WP) || (h->pinned_cr0 & ~cfg->host_cr0)))
		return snprintf(msg, len, "pinned CR0 0x%llx: without WP or outside the host's CR0",
				(unsigned long long)h->pinned_cr0), -1;
	if (h->pinned_cr4 & ~(STACK_HEKI_CR4_PINNED_MASK & cfg->host_cr4))
		return snprintf(msg, len, "pinned CR4 0x%llx: outside cr4_pinned_mask & the host's CR4",
				(unsigned long long)h->pinned_cr4), -1;
	if ((h->filter[0] & ~STACK_X86_CR0_VALID) || (h->filter[1] & ~STACK_X86_CR4_VALID))
		return snprintf(msg, len, "the VMM's CR filter has bits the CRs do not"), -1;
	if ((h->configure_exit_reason | h->denial_exit_reason) & ~STACK_KVM_HEKI_EXIT_REASON_VALID_MASK)
		return snprintf(msg, len, "a Heki exit mask outside the valid reasons"), -1;
	if (!h->vtl.enabled && (h->vtl.nranges || h->vtl.nallow || h->vtl.locked ||
				h->vtl.icpt[0] || h->vtl.icpt[1]))
		return snprintf(msg, len, "VTL state without a VTL"), -1;
	for (unsigned i = 0; i < h->vtl.nranges; i++)
		if ((h->vtl.range[i].gpa | h->vtl.range[i].size) & 0xfff)
			return snprintf(msg, len, "VTL range %u not 4K aligned", i), -1;
	for (unsigned i = 0; i < h->nmem; i++)
		if ((h->mem[i].gpa | h->mem[i].size) & 0xfff)
			return snprintf(msg, len, "Heki range %u not 4K aligned", i), -1;
	if (h->nmem || h->vtl.nranges) {
		const struct s2_walker w = { heki_visit_leaf, &k, S2_WALK_LEAF };

		(void)s2_walk(v->s2, NULL, 0, s2_pgt_ia_limit(v->s2), &w);
	}
	return k.bad ? -1 : 0;
}
