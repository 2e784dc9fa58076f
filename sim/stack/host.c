/*
 * host.c - the host RMP-fault strategies (host.rmp_fault), as const ops
 * tables, and the host module that holds them: its keys, statistics and
 * summary.  The writers and the operations are in ops_host.c, kexec in
 * host_kexec.c.  Reference: docs/strategies.md; semantics
 * ../shared/reference/protection-semantics.md §5.1-5.4 (F0-F4), §3.4.
 *
 * A host store that meets a page the RMP does not leave to the hypervisor
 * raises #PF(W,RMP) (APM Table 15-39); what happens next is the
 * strategy's:
 *
 *   oops            F0, upstream (arch/x86/mm/fault.c has no RMP handler):
 *                   a kernel fault oopses (host.panic_on_oops: the host
 *                   panics); a user fault takes the generic path: SIGBUS.
 *   sigbus          F1, the v5-v10 handle_user_rmp_page_fault: kernel
 *                   oops; user: SIGBUS if the page is assigned, else a
 *                   host huge mapping over assigned 4K entries is split
 *                   (FAULT_FLAG_PAGE_SPLIT) and the store retried, else
 *                   retried (the PTE changed).
 *   force_unassign  F2, RFC v1/v2 handle_kern_rmp_fault: immutable: oops;
 *                   host level above the RMP level: oops; RMP 2M: PSMASH;
 *                   then RMPUPDATE to shared and retry.  User: SIGBUS.
 *   convert         F3, Gonda's convert-on-fault, kernel and user: an
 *                   immutable page cannot convert (host.convert_fallback:
 *                   oops/SIGBUS, or kill_guest); a 2M entry is PSMASHed
 *                   first; RMPUPDATE to shared; FAIL_INUSE (a running
 *                   vCPU's VMSA, or a guest PVALIDATE/RMPADJUST holding the
 *                   entry lock) is retried after kicking the vCPU whose
 *                   VMSA it is, else every vCPU of the VM, at most
 *                   host.convert_retries times, then the fallback.
 *   kill_guest      F4, Gilbert: the owning VM is marked dead, its vCPUs
 *                   kicked out, its pages reclaimed to shared; the store
 *                   continues.
 *
 * When a strategy makes a guest page shared behind KVM's back, KVM is told
 * as an MMU notifier would (the callback Joerg Roedel suggested in the
 * thread): the GFN's nested leaf is zapped and guest_memfd forgets the
 * page was prepared, so the guest's next private access takes an #NPF,
 * KVM gives the page back (assigned, not validated) and the re-executed
 * access raises #VC(0x404); a VMSA made shared fails the next VMRUN's
 * VMSA check (VMEXIT_INVALID: KVM_EXIT_FAIL_ENTRY).
 */
#include "sim/stack/host.h"
#include "iommu/iommu.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull

const char *const host_writer_names[] = { "kernel", "vmm", "daemon", NULL };
static const char *const rmp_fault_choices[] = {
	"oops", "sigbus", "force_unassign", "convert", "kill_guest", NULL
};
static const char *const fallback_choices[] = { "oops", "kill_guest", NULL };
static const char *const kexec_choices[] = { "lazy", "eager", "none", NULL };

static const struct sim_cfg_key host_keys[] = {
	{ "host.rmp_fault", SIM_CFG_ENUM, 0, 0, "oops", rmp_fault_choices,
	  "The host's answer to its own store meeting an assigned page (RMP #PF): oops (upstream), sigbus (v5-v10 user handler), force_unassign (RFC v1/v2 kernel handler), convert (Gonda's convert-on-fault), kill_guest (kill the owning VM); docs/strategies.md" },
	{ "host.panic_on_oops", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "1: a kernel oops panics the host (every later host operation: ERROR(EHOSTDOWN) until host kexec)" },
	{ "host.convert_fallback", SIM_CFG_ENUM, 0, 0, "oops", fallback_choices,
	  "host.rmp_fault=convert: what a page that cannot convert (immutable, or FAIL_INUSE after the retries) gets: oops (kernel oops, user SIGBUS) or kill_guest" },
	{ "host.convert_retries", SIM_CFG_U64, 1, 1024, "8", NULL,
	  "host.rmp_fault=convert: FAIL_INUSE retries of one PSMASH or RMPUPDATE, each after kicking the vCPUs" },
	{ "host.kexec_convert", SIM_CFG_ENUM, 0, 0, "lazy", kexec_choices,
	  "After host kexec, pages the old kernel left assigned: lazy (convert on the new kernel's first fault, PSMASH for 2M), eager (scan the RMP at boot), none (faults oops)" },
	{ "snp.migrate", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "vm migrate (KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM) of an SNP VM: 0 refused with EINVAL (as Linux), 1 allowed" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

#define W(x) offsetof(struct host_wstats, x)
static const struct sim_stat_desc wstat_desc[] = {
	{ "writes", SIM_STAT_COUNTER, W(writes), "host write requests it handled (whatever their outcome)" },
	{ "reads", SIM_STAT_COUNTER, W(reads), "host read requests it handled" },
	{ "bytes", SIM_STAT_COUNTER, W(bytes), "bytes of the requests that completed" },
	{ "faults", SIM_STAT_COUNTER, W(faults), "RMP #PFs its stores took" },
	{ "oops", SIM_STAT_COUNTER, W(oops), "kernel oopses (the task died)" },
	{ "sigbus", SIM_STAT_COUNTER, W(sigbus), "SIGBUS: the process died" },
	{ "converted", SIM_STAT_COUNTER, W(converted), "4K pages a strategy made shared for it" },
	{ "rmpupdates", SIM_STAT_COUNTER, W(rmpupdates), "RMPUPDATEs the strategy issued" },
	{ "psmash", SIM_STAT_COUNTER, W(psmash), "PSMASHes the strategy issued" },
	{ "kicks", SIM_STAT_COUNTER, W(kicks), "vCPUs kicked out of guest mode" },
	{ "retries", SIM_STAT_COUNTER, W(retries), "FAIL_INUSE retries" },
	{ "splits", SIM_STAT_COUNTER, W(splits), "host huge mappings split to 4K" },
	{ "guests_killed", SIM_STAT_COUNTER, W(guests_killed), "VMs killed for its faults" },
	{ "failed", SIM_STAT_COUNTER, W(failed), "requests refused: the process is dead" },
	{ "cycles", SIM_STAT_COUNTER, W(cycles), "cycles spent handling its RMP faults" },
	{ NULL, 0, 0, NULL },
};
#undef W
#define V(x) offsetof(struct host_vmstats, x)
static const struct sim_stat_desc vmstat_desc[] = {
	{ "faults", SIM_STAT_COUNTER, V(faults), "host RMP #PFs on its pages" },
	{ "converted", SIM_STAT_COUNTER, V(converted), "its pages a host strategy made shared" },
	{ "kicks", SIM_STAT_COUNTER, V(kicks), "its vCPUs kicked by a host strategy" },
	{ "retries", SIM_STAT_COUNTER, V(retries), "FAIL_INUSE retries on its pages" },
	{ "killed", SIM_STAT_COUNTER, V(killed), "1: a host strategy killed it" },
	{ "vmm_dead", SIM_STAT_COUNTER, V(vmm_dead), "1: its VMM process died (SIGBUS)" },
	{ "denied", SIM_STAT_COUNTER, V(denied), "its requests refused: the VMM or the daemon is dead" },
	{ "cycles", SIM_STAT_COUNTER, V(cycles), "host cycles spent on faults on its pages" },
	{ NULL, 0, 0, NULL },
};
#undef V
#define K(x) offsetof(struct host_kstats, x)
static const struct sim_stat_desc kstat_desc[] = {
	{ "kexecs", SIM_STAT_COUNTER, K(kexecs), "host kexec kind=kexec" },
	{ "kdumps", SIM_STAT_COUNTER, K(kdumps), "host kexec kind=kdump" },
	{ "vms_dropped", SIM_STAT_COUNTER, K(vms_dropped), "VMs of the old kernel gone without teardown" },
	{ "scanned", SIM_STAT_COUNTER, K(scanned), "eager: RMP entries the new kernel read at boot" },
	{ "scan_cycles", SIM_STAT_COUNTER, K(scan_cycles), "eager: cycles of the boot scan" },
	{ "converted", SIM_STAT_COUNTER, K(converted), "pages the new kernel made shared" },
	{ "psmash", SIM_STAT_COUNTER, K(psmash), "2M entries it PSMASHed" },
	{ "iommu_pages", SIM_STAT_COUNTER, K(iommu_pages), "IOMMU event-log pages reclaimed (amd_iommu_snp_disable)" },
	{ "immutable", SIM_STAT_COUNTER, K(immutable), "pages it could not convert (immutable), reported" },
	{ "faults", SIM_STAT_COUNTER, K(faults), "RMP #PFs the new kernel took" },
	{ "dump_bytes", SIM_STAT_COUNTER, K(dump_bytes), "kdump: bytes of memory read" },
	{ "dump_cycles", SIM_STAT_COUNTER, K(dump_cycles), "kdump: cycles of the reads" },
	{ NULL, 0, 0, NULL },
};
#undef K

const struct sim_module stack_host_module;

struct host *host_get(const struct sim *s)
{
	return sim_get_model(s, &stack_host_module);
}

struct host_vm *host_vm(struct host *h, struct stack_vm *v)
{
	struct host_vm *hv;
	char p[48];

	for (hv = h->vms; hv; hv = hv->next)
		if (hv->id == v->id && !strcmp(hv->prefix, v->prefix))
			return hv;
	hv = sim_xcalloc(1, sizeof(*hv));
	hv->id = v->id;
	snprintf(hv->prefix, sizeof(hv->prefix), "%s", v->prefix);
	snprintf(p, sizeof(p), "%s.host", v->prefix);
	hv->stats = sim_stat_group_add(h->st->s, p, vmstat_desc, &hv->ctr);
	hv->next = h->vms;
	h->vms = hv;
	return hv;
}

bool host_vm_gone(const struct host *h, const struct stack_vm *v)
{
	for (const struct host_vm *hv = h ? h->vms : NULL; hv; hv = hv->next)
		if (hv->id == v->id && !strcmp(hv->prefix, v->prefix))
			return hv->gone;
	return false;
}

struct stack_vm *host_owner(struct host *h, uint64_t spa)
{
	struct rmp_entry e;

	if (!rmp_entry_effective(h->st->rmp, spa, &e) || !e.assigned || !e.asid)
		return NULL;
	for (unsigned i = 0; i < S2_MAX_VMS; i++) {
		struct stack_vm *v = h->st->vm[i];

		if (v && v->asid == e.asid && !v->mirror && v->kvm && !host_vm_gone(h, v))
			return v;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The strategies' steps (timed on the faulting agent)                 */
/* ------------------------------------------------------------------ */

static struct host_wstats *wst(struct host_ctx *x)
{
	return &x->h->w[x->by];
}

static void spend(struct host_ctx *x, uint64_t cyc)
{
	sim_advance(x->a, cyc);
	wst(x)->cycles += cyc;
	if (x->owner)
		host_vm(x->h, x->owner)->ctr.cycles += cyc;
}

static struct sim_who who_now(struct host_ctx *x)
{
	struct sim_who w = { .now = sim_now(x->a), .agent = sim_agent_id(x->a) };

	return w;
}

/* RMPUPDATE @spa to hypervisor-owned (4K) or @in, timed. */
static enum rmp_rc update(struct host_ctx *x, uint64_t spa, const struct rmp_update_in *in)
{
	struct sim_who w = who_now(x);
	struct rmp_result res;
	enum rmp_rc rc = rmp_update(x->h->st->rmp, &w, spa, in, &res);

	wst(x)->rmpupdates++;
	spend(x, res.latency + w.mem_cycles);
	return rc;
}

static enum rmp_rc psmash(struct host_ctx *x, uint64_t spa2m)
{
	struct sim_who w = who_now(x);
	struct rmp_result res;
	enum rmp_rc rc = rmp_psmash(x->h->st->rmp, &w, spa2m, &res);

	wst(x)->psmash++;
	spend(x, res.latency + w.mem_cycles);
	return rc;
}

/*
 * kvm_vcpu_kick of vCPU @k of @v from the faulting agent: the IPI and the
 * wait for it to leave guest mode (lat.stack.kick).  A vCPU thread of a
 * program VM is kicked (stack_vcpu_kick); a vCPU in guest mode on a CPU
 * (its VMSA in use: `vmrun`) takes its #VMEXIT on that CPU, which releases
 * the VMSA.
 */
static void kick_vcpu(struct host_ctx *x, struct stack_vm *v, unsigned k)
{
	struct rmp *rmp = x->h->st->rmp;
	uint64_t vmsa = v->run ? v->run->vcpu[k].vmsa_spa : 0;
	int ag = vmsa ? rmp_in_use(rmp, vmsa) : -1;

	uint64_t ignored = 0;

	sim_sync(x->a);
	wst(x)->kicks++;
	host_vm(x->h, v)->ctr.kicks++;
	if (v->guest && k < v->guest->nvcpu)
		stack_vcpu_kick(x->a, v, k);
	else if (sim_timeline_on(x->h->st->s))
		sim_timeline_instant(x->h->st->s, sim_agent_id(x->a), "kick", v->prefix, sim_now(x->a),
				     NULL);
	/*
	 * KVM's kvm_vcpu_kick (counted in vmN.kicks; a program's hart leaves
	 * guest mode); the IPI and the wait are charged here for every vCPU
	 * kicked [model choice: a scripted vCPU that holds an entry lock was
	 * in guest mode while it executed the instruction]
	 */
	if (v->run)
		stack_kvm_vcpu_kick(v, k, &ignored);
	spend(x, x->h->st->lat.kick);
	if (ag >= 0) {
		struct sim_who w = { .now = sim_now(x->a), .agent = ag };

		(void)rmp_vmexit(rmp, &w);
	}
}

static void kick_all(struct host_ctx *x, struct stack_vm *v)
{
	for (unsigned k = 0; v && v->run && k < STACK_KVM_MAX_VCPUS; k++)
		if (v->run->vcpu[k].created && !v->run->vcpu[k].power_off)
			kick_vcpu(x, v, k);
}

/* The vCPU of @v whose VMSA is @spa, or -1. */
static int vmsa_vcpu(const struct stack_vm *v, uint64_t spa)
{
	for (unsigned k = 0; v && v->run && k < STACK_KVM_MAX_VCPUS; k++)
		if (v->run->vcpu[k].vmsa_spa == spa)
			return (int)k;
	return -1;
}

/*
 * FAIL_INUSE: kick whoever holds the page (the vCPU running on it as its
 * VMSA, else every vCPU of the VM: a PVALIDATE or RMPADJUST holds the
 * entry lock), counted as a retry.
 */
static void inuse_kick(struct host_ctx *x, uint64_t spa)
{
	int k = vmsa_vcpu(x->owner, spa);

	wst(x)->retries++;
	if (x->owner)
		host_vm(x->h, x->owner)->ctr.retries++;
	if (k >= 0 && rmp_in_use(x->h->st->rmp, spa) >= 0)
		kick_vcpu(x, x->owner, (unsigned)k);
	else
		kick_all(x, x->owner);
}

/*
 * KVM learns that @spa (@gpa of @v) is shared now (the MMU-notifier-like
 * callback): a VMSA can no longer be run; a guest_memfd page is forgotten
 * as prepared and its nested leaf zapped, so the next private access
 * faults and KVM prepares it again (assigned, not validated).
 */
static void tell_kvm(struct host_ctx *x, struct stack_vm *v, uint64_t spa, uint64_t gpa)
{
	const struct stack_kvm_slot *sl;
	int k = vmsa_vcpu(v, spa);

	if (k >= 0) {
		v->run->vcpu[k].vmsa_revoked = true;
		if (spa == v->run->vcpu[k].kvm_vmsa_spa)
			return;   /* KVM's own page: no memslot behind it */
		/* a VMSA the guest made (AP creation) is a guest_memfd page: on */
	}
	sl = v->kvm ? stack_kvm_gfn_to_slot(v, gpa >> 12) : NULL;
	if (sl && sl->gmem) {
		uint64_t off = sl->gmem_offset + (gpa & ~(SZ_4K - 1)) - (sl->base_gfn << 12), pspa;
		bool big, prep;

		if (!stack_gmem_page(sl->gmem, off, &pspa, &big, &prep) && pspa == spa)
			(void)stack_gmem_forget(sl->gmem, off);
	}
	if (sl) {
		struct sim_who w = who_now(x);

		(void)stack_kvm_zap_range(v, &w, gpa & ~(SZ_4K - 1), (gpa & ~(SZ_4K - 1)) + SZ_4K);
		spend(x, w.mem_cycles);
	}
}

static void count_converted(struct host_ctx *x, struct stack_vm *v, uint64_t spa, uint64_t gpa)
{
	wst(x)->converted++;
	x->converted = true;
	if (v) {
		host_vm(x->h, v)->ctr.converted++;
		tell_kvm(x, v, spa, gpa);
	}
}

/*
 * Make x->spa shared: PSMASH a 2M entry first, then RMPUPDATE 4K.
 * @kick: FAIL_INUSE is retried after kicks (host.convert_retries times),
 * else it fails at once.  Return: true converted.
 */
static bool make_shared(struct host_ctx *x, const struct rmp_entry *e, bool kick)
{
	const struct rmp_update_in shared = { 0 };
	unsigned tries = kick ? x->h->retries + 1 : 1;
	enum rmp_rc rc = RMP_RC_SUCCESS;
	uint64_t spa = x->spa & ~(SZ_4K - 1);

	if (e->page_2m) {
		/* PSMASH first: a 4K RMPUPDATE inside a 2M entry is FAIL_OVERLAP */
		for (unsigned t = 0; t < tries; t++) {
			rc = psmash(x, spa & ~(SZ_2M - 1));
			if (rc != RMP_RC_FAIL_INUSE || t + 1 == tries)
				break;
			inuse_kick(x, spa);
		}
		if (rc != RMP_RC_SUCCESS)
			return false;
	}
	for (unsigned t = 0; t < tries; t++) {
		/* assigned => hypervisor-owned: Validated and VMSA cleared by the instruction */
		rc = update(x, spa, &shared);
		if (rc != RMP_RC_FAIL_INUSE || t + 1 == tries)
			break;
		inuse_kick(x, spa);
	}
	if (rc != RMP_RC_SUCCESS)
		return false;
	count_converted(x, x->owner, spa, e->gpa);
	return true;
}

/* Record that process @proc's mapping of the 2M region at @spa2m is split to 4K. */
static void split_mapping(struct host_ctx *x)
{
	struct host *h = x->h;
	uint64_t key = ((uint64_t)x->proc << 52) | (x->spa & ~(SZ_2M - 1));

	if (h->nsplits == h->capsplits) {
		h->capsplits = h->capsplits ? 2 * h->capsplits : 16;
		h->splits = sim_xrealloc(h->splits, h->capsplits * sizeof(*h->splits));
	}
	h->splits[h->nsplits++] = key;
	wst(x)->splits++;
	x->map_size = SZ_4K;
}

bool host_split(const struct host *h, unsigned proc, uint64_t spa2m)
{
	uint64_t key = ((uint64_t)proc << 52) | (spa2m & ~(SZ_2M - 1));

	for (size_t i = 0; i < h->nsplits; i++)
		if (h->splits[i] == key)
			return true;
	return false;
}

/* The faulting page's entry; false when it is not RMP-covered (cannot happen for a fault). */
static bool entry(struct host_ctx *x, struct rmp_entry *e)
{
	return rmp_entry_effective(x->h->st->rmp, x->spa & ~(SZ_4K - 1), e);
}

/* The page itself is not assigned: a huge host mapping over assigned 4K entries, or a spurious fault. */
static bool region_fault(struct host_ctx *x, const struct rmp_entry *e)
{
	return !e->assigned && x->map_size > SZ_4K && e->hpage_region_status;
}

/* ------------------------------------------------------------------ */
/* F0 oops                                                             */
/* ------------------------------------------------------------------ */

static enum host_verdict oops_kernel(struct host_ctx *x)
{
	(void)x;
	return HOST_V_OOPS;   /* no RMP handler in arch/x86/mm/fault.c: an unhandled #PF */
}

static enum host_verdict oops_user(struct host_ctx *x)
{
	(void)x;
	return HOST_V_SIGBUS;   /* the generic user fault path */
}

/* ------------------------------------------------------------------ */
/* F1 sigbus (handle_user_rmp_page_fault, v5-v10)                      */
/* ------------------------------------------------------------------ */

static enum host_verdict sigbus_user(struct host_ctx *x)
{
	struct rmp_entry e;

	if (!entry(x, &e))
		return HOST_V_SIGBUS;
	if (e.assigned)
		return HOST_V_SIGBUS;       /* "unexpected RMP page fault", terminating process */
	if (region_fault(x, &e))
		split_mapping(x);            /* host level > RMP level: FAULT_FLAG_PAGE_SPLIT, retry */
	return HOST_V_RETRY;                 /* the PTE changed (or a locked entry): retry */
}

/* ------------------------------------------------------------------ */
/* F2 force_unassign (handle_kern_rmp_fault, RFC v1/v2)                */
/* ------------------------------------------------------------------ */

static enum host_verdict force_kernel(struct host_ctx *x)
{
	struct rmp_entry e;

	if (!entry(x, &e))
		return HOST_V_OOPS;
	if (!e.assigned)
		return region_fault(x, &e) ? HOST_V_OOPS : HOST_V_RETRY;
	if (e.immutable)
		return HOST_V_OOPS;                          /* immutable: kill */
	if (x->map_size > (e.page_2m ? SZ_2M : SZ_4K))
		return HOST_V_OOPS;                          /* host level above the RMP level */
	/* RMP 2M: PSMASH; then "Force address ... from assigned -> unassigned" and retry */
	return make_shared(x, &e, false) ? HOST_V_RETRY : HOST_V_OOPS;
}

/* ------------------------------------------------------------------ */
/* F3 convert (Gonda, convert on fault)                                */
/* ------------------------------------------------------------------ */

static enum host_verdict convert_fallback(struct host_ctx *x, bool kernel)
{
	if (x->h->fallback_kill && x->owner && !x->owner->run->killed) {
		host_kill_guest(x, x->owner);
		return HOST_V_RETRY;
	}
	return kernel ? HOST_V_OOPS : HOST_V_SIGBUS;
}

static enum host_verdict convert_any(struct host_ctx *x, bool kernel)
{
	struct rmp_entry e;

	if (!entry(x, &e))
		return kernel ? HOST_V_OOPS : HOST_V_SIGBUS;
	if (!e.assigned) {
		if (region_fault(x, &e))
			split_mapping(x);
		return HOST_V_RETRY;
	}
	if (e.immutable)
		return convert_fallback(x, kernel);   /* RMPUPDATE would be FAIL_PERMISSION */
	return make_shared(x, &e, true) ? HOST_V_RETRY : convert_fallback(x, kernel);
}

static enum host_verdict convert_kernel(struct host_ctx *x)
{
	return convert_any(x, true);
}

static enum host_verdict convert_user(struct host_ctx *x)
{
	return convert_any(x, false);
}

/* ------------------------------------------------------------------ */
/* F4 kill_guest (Gilbert)                                             */
/* ------------------------------------------------------------------ */

static enum host_verdict kill_any(struct host_ctx *x, bool kernel)
{
	struct rmp_entry e;

	if (!entry(x, &e))
		return kernel ? HOST_V_OOPS : HOST_V_SIGBUS;
	if (!e.assigned) {
		if (region_fault(x, &e))
			split_mapping(x);
		return HOST_V_RETRY;
	}
	if (!x->owner || x->owner->run->killed)
		return kernel ? HOST_V_OOPS : HOST_V_SIGBUS;   /* no guest to kill, or it could not be reclaimed */
	host_kill_guest(x, x->owner);
	return HOST_V_RETRY;
}

static enum host_verdict kill_kernel(struct host_ctx *x)
{
	return kill_any(x, true);
}

static enum host_verdict kill_user(struct host_ctx *x)
{
	return kill_any(x, false);
}

void host_kill_guest(struct host_ctx *x, struct stack_vm *v)
{
	struct stack *st = x->h->st;
	struct host_vm *hv = host_vm(x->h, v);
	const struct rmp_update_in shared = { 0 };

	if (!v->run || v->run->killed)
		return;
	sim_sync(x->a);
	/* the VM is dead => its vCPUs leave guest mode and never re-enter */
	v->run->killed = true;
	hv->ctr.killed = 1;
	wst(x)->guests_killed++;
	x->killed = true;
	kick_all(x, v);
	if (v->guest)
		stack_guest_stop(v, STACK_VM_KILLED, 0);
	/* its pages => shared: the VMSAs, then guest_memfd (punched), or the legacy backing */
	for (unsigned k = 0; k < STACK_KVM_MAX_VCPUS; k++) {
		struct stack_kvm_vcpu *vc = &v->run->vcpu[k];

		if (vc->vmsa_spa && !vc->vmsa_revoked &&
		    update(x, vc->vmsa_spa, &shared) == RMP_RC_SUCCESS)
			vc->vmsa_revoked = true;
		/* KVM's own launch VMSA when an AP creation replaced it */
		if (vc->kvm_vmsa_spa && vc->kvm_vmsa_spa != vc->vmsa_spa)
			(void)update(x, vc->kvm_vmsa_spa, &shared);
	}
	for (size_t i = 0; v->kvm && i < v->kvm->nslots; i++) {
		const struct stack_kvm_slot *sl = &v->kvm->slots[i];
		struct sim_who w = who_now(x);
		uint64_t cyc = 0;

		if (!sl->gmem)
			continue;
		(void)stack_gmem_fallocate(sl->gmem, &w,
					   STACK_GMEM_FALLOC_KEEP_SIZE | STACK_GMEM_FALLOC_PUNCH_HOLE,
					   sl->gmem_offset, sl->npages << 12, &cyc);
		spend(x, cyc + w.mem_cycles);
	}
	if (st->snp_backing == STACK_SNP_BACKING_LEGACY) {
		struct sim_who w = who_now(x);

		(void)stack_kvm_legacy_reclaim(v, &w);
		spend(x, w.mem_cycles);
	}
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

static const struct host_fault_ops ops_oops = { "oops", oops_kernel, oops_user };
static const struct host_fault_ops ops_sigbus = { "sigbus", oops_kernel, sigbus_user };
static const struct host_fault_ops ops_force = { "force_unassign", force_kernel, oops_user };
static const struct host_fault_ops ops_convert = { "convert", convert_kernel, convert_user };
static const struct host_fault_ops ops_kill = { "kill_guest", kill_kernel, kill_user };

/* Indexed by host.rmp_fault (rmp_fault_choices). */
const struct host_fault_ops *const host_fault_ops_table[] = {
	&ops_oops, &ops_sigbus, &ops_force, &ops_convert, &ops_kill, NULL
};

enum host_verdict host_fault(struct host_ctx *x)
{
	uint64_t t0 = sim_now(x->a);
	enum host_verdict v;

	x->owner = host_owner(x->h, x->spa & ~(SZ_4K - 1));
	wst(x)->faults++;
	if (x->owner)
		host_vm(x->h, x->owner)->ctr.faults++;
	if (x->h->kexec_gen && !x->owner && x->by == HOST_BY_KERNEL) {
		/* a page the old kernel left assigned: the kexec conversion strategy's */
		x->h->k.faults++;
		v = host_kexec_fault(x) ? HOST_V_RETRY : HOST_V_OOPS;
		wst(x)->cycles += sim_now(x->a) - t0;
	} else {
		v = x->by == HOST_BY_KERNEL ? x->h->ops->kernel(x) : x->h->ops->user(x);
	}
	if (sim_timeline_on(x->h->st->s)) {
		char name[48];

		snprintf(name, sizeof(name), "rmp_fault %s", x->h->ops->name);
		sim_timeline_span(x->h->st->s, sim_agent_id(x->a), "host", name, t0, sim_now(x->a), NULL);
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* The module                                                          */
/* ------------------------------------------------------------------ */

static int host_attach(struct sim *s, struct sim_err *err)
{
	struct stack *st = stack_get(s);
	struct host *h;
	unsigned strat = sim_cfg_enum(s, "host.rmp_fault");

	if (!st) {
		sim_err_set(err, "host: needs the stack module");
		return -1;
	}
	if (strat != 0 && !(st->rmp && rmp_enabled(st->rmp))) {
		sim_err_set(err, "host.rmp_fault: %s needs the RMP (rmp.mode on); without it no host store faults",
			    rmp_fault_choices[strat]);
		return -1;
	}
	if (sim_cfg_enum(s, "host.convert_fallback") != 0 && strat != 3) {
		sim_err_set(err, "host.convert_fallback: applies only to host.rmp_fault=convert (it is %s)",
			    rmp_fault_choices[strat]);
		return -1;
	}
	h = sim_xcalloc(1, sizeof(*h));
	h->st = st;
	h->ops = host_fault_ops_table[strat];
	h->panic_on_oops = sim_cfg_bool(s, "host.panic_on_oops");
	h->fallback_kill = sim_cfg_enum(s, "host.convert_fallback") == 1;
	h->retries = (unsigned)sim_cfg_u64(s, "host.convert_retries");
	h->kexec_mode = (enum host_kexec_mode)sim_cfg_enum(s, "host.kexec_convert");
	h->snp_migrate = sim_cfg_bool(s, "snp.migrate");
	for (unsigned w = 0; w < HOST_BY_COUNT; w++) {
		char p[32];

		snprintf(p, sizeof(p), "host.%s", host_writer_names[w]);
		h->wstats[w] = sim_stat_group_add(s, p, wstat_desc, &h->w[w]);
	}
	h->kstats = sim_stat_group_add(s, "host.kexec", kstat_desc, &h->k);
	sim_set_model(s, &stack_host_module, h);
	return 0;
}

static void host_detach(struct sim *s)
{
	struct host *h = host_get(s);

	if (!h)
		return;
	for (unsigned w = 0; w < HOST_BY_COUNT; w++)
		sim_stat_group_remove(s, h->wstats[w]);
	sim_stat_group_remove(s, h->kstats);
	while (h->vms) {
		struct host_vm *hv = h->vms;

		h->vms = hv->next;
		sim_stat_group_remove(s, hv->stats);
		free(hv);
	}
	free(h->splits);
	free(h);
	sim_set_model(s, &stack_host_module, NULL);
}

/*
 * `protsim run`'s per-strategy summary: the outcome for the host and the
 * guests, the host's cycles, kicks, retries, VMs killed or left without
 * service.  Printed only when a host operation ran.
 */
static void host_summary(struct sim *s, FILE *out)
{
	struct host *h = host_get(s);
	uint64_t faults = 0, cyc = 0, kicks = 0, retries = 0, conv = 0, oops = 0, sigbus = 0, req = 0;
	unsigned killed = 0, noservice = 0, nvm = 0;

	if (!h)
		return;
	for (unsigned w = 0; w < HOST_BY_COUNT; w++) {
		const struct host_wstats *x = &h->w[w];

		faults += x->faults;
		cyc += x->cycles;
		kicks += x->kicks;
		retries += x->retries;
		conv += x->converted;
		oops += x->oops;
		sigbus += x->sigbus;
		req += x->writes + x->reads + x->failed;
	}
	if (!req && !h->k.kexecs && !h->k.kdumps)
		return;
	for (const struct host_vm *hv = h->vms; hv; hv = hv->next) {
		nvm++;
		killed += hv->ctr.killed != 0;
		noservice += hv->ctr.killed || hv->ctr.vmm_dead || hv->ctr.denied;
	}
	fprintf(out, "host: strategy %s: %llu requests, %llu RMP faults; host %s%s%s; "
		"%llu pages converted, %llu host cycles on faults, %llu kicks, %llu retries; "
		"guests: %u of %u killed, %u without service%s\n",
		h->ops->name, (unsigned long long)req, (unsigned long long)faults,
		h->panicked ? "panicked" : oops ? "oopsed" : "ok",
		sigbus ? ", processes killed by SIGBUS" : "", h->daemon_dead ? " (daemon dead)" : "",
		(unsigned long long)conv, (unsigned long long)cyc, (unsigned long long)kicks,
		(unsigned long long)retries, killed, nvm, noservice,
		h->k.kexecs + h->k.kdumps ? "; kexec" : "");
	if (h->k.kexecs + h->k.kdumps)
		fprintf(out, "host: kexec (%s): %llu VMs dropped, %llu pages converted, %llu PSMASH, "
			"%llu IOMMU pages, %llu immutable reported, %llu faults, scan %llu entries in %llu cycles\n",
			(const char *[]){ "lazy", "eager", "none" }[h->kexec_mode],
			(unsigned long long)h->k.vms_dropped, (unsigned long long)h->k.converted,
			(unsigned long long)h->k.psmash, (unsigned long long)h->k.iommu_pages,
			(unsigned long long)h->k.immutable, (unsigned long long)h->k.faults,
			(unsigned long long)h->k.scanned, (unsigned long long)h->k.scan_cycles);
}

extern const struct sim_op stack_host_ops[];

const struct sim_module stack_host_module = {
	.name = "host",
	.needs = (const char *const[]){ "stack", "kvm", "guest", NULL },
	.keys = host_keys,
	.ops = stack_host_ops,
	.attach = host_attach,
	.detach = host_detach,
	.summary = host_summary,
};
