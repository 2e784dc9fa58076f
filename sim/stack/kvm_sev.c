/*
 * kvm_sev.c - KVM's handling of an SNP guest's VMGEXITs and of
 * hypercalls (arch/x86/kvm/svm/sev.c: sev_handle_vmgexit,
 * sev_handle_vmgexit_msr_protocol, snp_begin_psc_msr, snp_begin_psc,
 * snp_complete_one_psc; x86.c: kvm_emulate_hypercall), with the
 * completions KVM_RUN runs after the VMM answered an exit.
 *
 * The GHCB (GHCB specification, AMD 56421, "GHCB Layout") is a shared
 * page of guest memory: KVM reads and writes it through the VMM's
 * mapping of the GPA (the memslot's shared backing), as kvm_vcpu_map
 * does; its accesses are untimed beyond lat.stack.psc_entry per PSC
 * entry.  With snp.backing=legacy the PSC handler itself makes pages
 * private or shared with RMPUPDATE on the VMM's own pages (the 2021
 * SNP hypervisor series), and no exit reaches the VMM.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <string.h>

/* GHCB MSR protocol (GHCB spec, "MSR protocol"; Linux asm/sev-common.h) */
#define MSR_INFO(v)          ((v) & 0xfffull)
#define MSR_SEV_INFO_REQ     0x002
#define MSR_SEV_INFO_RESP    0x001
#define MSR_PREF_GPA_REQ     0x010
#define MSR_PREF_GPA_RESP    0x011
#define MSR_PREF_GPA_NONE    0xfffffffffffffull   /* GHCB_MSR_PREF_GPA_NONE: no preference */
#define MSR_REG_GPA_REQ      0x012
#define MSR_REG_GPA_RESP     0x013
#define MSR_PSC_REQ          0x014
#define MSR_PSC_RESP         0x015
#define MSR_PSC_RESP_ERROR   ((1ull << 63) | MSR_PSC_RESP)   /* KVM's generic error */
#define MSR_HV_FT_REQ        0x080
#define MSR_HV_FT_RESP       0x081
#define MSR_TERM_REQ         0x100
#define HV_FT_SUPPORTED      0x3ull      /* GHCB_HV_FT_SNP | GHCB_HV_FT_SNP_AP_CREATION */
#define GHCB_PROTO_MAX       2
#define GHCB_PROTO_MIN       1
#define CBIT_POS             51

/* sw_exit_info_2 of a refused event (Linux asm/sev-common.h GHCB_ERR_*) */
#define GHCB_ERR_INVALID_USAGE        2
#define GHCB_ERR_INVALID_SCRATCH_AREA 3
#define GHCB_ERR_MISSING_INPUT        4
#define GHCB_ERR_INVALID_INPUT        5
#define GHCB_ERR_INVALID_EVENT        6
#define GHCB_HV_RESP_MALFORMED_INPUT  2   /* sw_exit_info_1 of a refused event */

/* NAE PSC (STACK_SVM_VMGEXIT_PSC; reference protection-semantics.md 4.2) */
#define PSC_MAX_COUNT        253
#define PSC_ERROR_INVALID_HDR   ((1ull << 32) | 1)
#define PSC_ERROR_INVALID_ENTRY ((1ull << 32) | 2)
#define PSC_ERROR_GENERIC       (0x100ull << 32)
#define PSC_OP_PRIVATE       1
#define PSC_OP_SHARED        2
#define PSC_OP_PSMASH        3
#define PSC_OP_UNSMASH       4

#define KVM_EINVAL           22

/* ------------------------------------------------------------------ */
/* Guest memory as KVM sees it                                         */
/* ------------------------------------------------------------------ */

/* The host page behind shared GPA @gpa (the VMM's mapping): 0 or -ENOENT/-ENOMEM. */
static int shared_spa(struct stack_vm *v, uint64_t gpa, uint64_t *spa)
{
	return stack_kvm_backing(v, gpa, true, spa);
}

static uint64_t rd64(struct stack_vm *v, uint64_t spa)
{
	uint64_t x = 0;

	sim_mem_peek(v->st->mem, spa, &x, 8);
	return x;
}

static void wr64(struct stack_vm *v, uint64_t spa, uint64_t x)
{
	sim_mem_poke(v->st->mem, spa, &x, 8);
}

static bool valid_bit(struct stack_vm *v, uint64_t ghcb, unsigned off)
{
	unsigned bit = off / 8;
	uint64_t w = rd64(v, ghcb + STACK_GHCB_VALID_BITMAP + (bit / 64) * 8);

	return (w >> (bit % 64)) & 1;
}

/* ------------------------------------------------------------------ */
/* snp.backing: where a page-state change changes the RMP               */
/* ------------------------------------------------------------------ */

/*
 * snp.backing=legacy (the 2021 SNP hypervisor series): private and
 * shared memory are the same VMM pages; the PSC handler makes each 4K
 * page private (RMPUPDATE: assigned to the ASID at its GPA) or shared
 * (RMPUPDATE: hypervisor-owned; a 2M entry PSMASHed first) in the kernel,
 * and zaps the nested mapping so the next access sees the change.
 * Return: 0, or -EINVAL when a page has no backing or an RMPUPDATE fails.
 */
static int legacy_psc(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t npages,
		      bool to_private, uint64_t *cycles)
{
	struct rmp *rmp = v->st->rmp;

	for (uint64_t i = 0; i < npages; i++) {
		uint64_t g = gpa + (i << 12), spa;
		struct rmp_update_in in = { .gpa = g, .assigned = to_private, .asid = v->asid };
		struct rmp_result res;
		struct rmp_entry e;

		if (shared_spa(v, g, &spa))
			return -EINVAL;
		spa &= ~0xfffull;
		if (rmp_entry_effective(rmp, spa, &e) && e.assigned && e.page_2m) {
			if (rmp_psmash(rmp, who, spa & ~0x1fffffull, &res) != RMP_RC_SUCCESS)
				return -EINVAL;
			who->mem_cycles += res.latency;
		}
		if (!to_private) {
			in.gpa = 0;
			in.asid = 0;
		}
		if (rmp_update(rmp, who, spa, &in, &res) != RMP_RC_SUCCESS)
			return -EINVAL;
		who->mem_cycles += res.latency;
		v->run->ctr.legacy_rmpupdates++;
		if (stack_kvm_zap(v, who, g, 0x1000))
			return -EINVAL;
	}
	(void)cycles;
	return 0;
}

static bool legacy(const struct stack_vm *v)
{
	return v->st->snp_backing == STACK_SNP_BACKING_LEGACY;
}

/* One page of the VMM's backing back to the hypervisor if it is still the VM's: false when it cannot. */
static bool legacy_reclaim_page(struct stack_vm *v, struct sim_who *who, uint64_t spa)
{
	struct rmp *rmp = v->st->rmp;
	struct rmp_update_in in = { 0 };
	struct rmp_result res;
	struct rmp_entry e;

	if (!rmp_entry_effective(rmp, spa, &e) || !e.assigned || e.asid != v->asid)
		return true;
	if (e.page_2m && rmp_psmash(rmp, who, spa & ~0x1fffffull, &res) == RMP_RC_SUCCESS)
		who->mem_cycles += res.latency;
	if (rmp_update(rmp, who, spa, &in, &res) != RMP_RC_SUCCESS)
		return false;
	who->mem_cycles += res.latency;
	return true;
}

uint64_t stack_kvm_legacy_reclaim(struct stack_vm *v, struct sim_who *who)
{
	uint64_t leaked = 0;

	if (!v->asid || !rmp_enabled(v->st->rmp) || !v->kvm)
		return 0;
	for (size_t i = 0; i < v->kvm->nslots; i++) {
		const struct stack_kvm_slot *sl = &v->kvm->slots[i];

		if (sl->spa != STACK_KVM_SPA_ALLOC) {
			/* a slot at a given address (spa=): every page of it */
			for (uint64_t p = 0; p < sl->npages; p++)
				leaked += !legacy_reclaim_page(v, who, sl->spa + (p << 12));
			continue;
		}
		for (size_t j = 0; j < sl->npieces; j++) {
			const struct stack_kvm_piece *pc = &sl->pieces[j];
			uint64_t n = pc->huge ? 512 : 1;

			/* a page that stays assigned: the allocator leaks it when freed */
			for (uint64_t k = 0; k < n; k++)
				leaked += !legacy_reclaim_page(v, who, pc->spa + (k << 12));
		}
	}
	return leaked;
}

/* The MAP_GPA_RANGE exit of a page-state change (KVM_HC_MAP_GPA_RANGE's arguments). */
static enum stack_kvm_rc map_gpa_exit(struct stack_uexit *ue, uint64_t gpa, uint64_t npages,
				      bool to_private, bool huge)
{
	memset(ue, 0, sizeof(*ue));
	ue->reason = STACK_UEXIT_HYPERCALL;
	ue->nr = STACK_KVM_HC_MAP_GPA_RANGE;
	ue->args[0] = gpa;
	ue->args[1] = npages;
	ue->args[2] = (to_private ? STACK_KVM_MAP_GPA_RANGE_ENCRYPTED : 0) |
		      (huge ? STACK_KVM_MAP_GPA_RANGE_PAGE_SZ_2M : 0);
	return STACK_KVM_USER;
}

static bool exit_on_map_gpa(const struct stack_vm *v)
{
	return v->run->hc_exit_mask & (1ull << STACK_KVM_HC_MAP_GPA_RANGE);
}

/*
 * A return value the VMM may give MAP_GPA_RANGE (kvm_is_valid_map_gpa_range_ret:
 * 0, EINVAL, EAGAIN; and -EINVAL, which the model's VMM answers); any other
 * makes KVM_RUN fail.
 */
static bool valid_map_ret(int64_t ret)
{
	return ret == 0 || ret == KVM_EINVAL || ret == 11 || ret == -KVM_EINVAL;
}

/* ------------------------------------------------------------------ */
/* The MSR protocol                                                    */
/* ------------------------------------------------------------------ */

/* snp_begin_psc_msr: one 4K page, operation 1 (private) or 2 (shared). */
static enum stack_kvm_rc psc_msr(struct stack_vm *v, struct stack_kvm_vcpu *vc,
				 struct sim_who *who, uint64_t msr, struct stack_uexit *ue,
				 uint64_t *cycles)
{
	uint64_t gpa = ((msr >> 12) & ((1ull << 40) - 1)) << 12;
	unsigned op = (unsigned)(msr >> 52) & 0xf;

	v->run->ctr.psc_msr++;
	*cycles += v->st->lat.psc_entry;
	if (op != PSC_OP_PRIVATE && op != PSC_OP_SHARED) {
		v->run->ctr.psc_errors++;
		vc->resp = MSR_PSC_RESP_ERROR;
		return STACK_KVM_DONE;
	}
	if (legacy(v)) {
		int rc = legacy_psc(v, who, gpa, 1, op == PSC_OP_PRIVATE, cycles);

		v->run->ctr.psc_errors += rc != 0;
		v->run->ctr.psc_entries += rc == 0;
		vc->resp = rc ? MSR_PSC_RESP_ERROR : MSR_PSC_RESP;
		return STACK_KVM_DONE;
	}
	if (!exit_on_map_gpa(v)) {
		v->run->ctr.psc_errors++;
		vc->resp = MSR_PSC_RESP_ERROR;
		return STACK_KVM_DONE;
	}
	vc->cont = STACK_KVM_CONT_PSC_MSR;
	return map_gpa_exit(ue, gpa, 1, op == PSC_OP_PRIVATE, false);
}

static enum stack_kvm_rc msr_protocol(struct stack_vm *v, struct stack_kvm_vcpu *vc,
				      struct sim_who *who, uint64_t msr, struct stack_uexit *ue,
				      uint64_t *cycles)
{
	v->run->ctr.msr_requests++;
	switch (MSR_INFO(msr)) {
	case MSR_SEV_INFO_REQ:
		vc->resp = ((uint64_t)GHCB_PROTO_MAX << 48) | ((uint64_t)GHCB_PROTO_MIN << 32) |
			   ((uint64_t)CBIT_POS << 24) | MSR_SEV_INFO_RESP;
		return STACK_KVM_DONE;
	case MSR_PREF_GPA_REQ:
		vc->resp = (MSR_PREF_GPA_NONE << 12) | MSR_PREF_GPA_RESP;
		return STACK_KVM_DONE;
	case MSR_REG_GPA_REQ:
		/* the GFN is echoed in the response; later GHCB calls must use it */
		vc->ghcb_gpa = msr & ~0xfffull;
		vc->resp = (msr & ~0xfffull) | MSR_REG_GPA_RESP;
		return STACK_KVM_DONE;
	case MSR_PSC_REQ:
		return psc_msr(v, vc, who, msr, ue, cycles);
	case MSR_HV_FT_REQ:
		vc->resp = (HV_FT_SUPPORTED << 12) | MSR_HV_FT_RESP;
		return STACK_KVM_DONE;
	case MSR_TERM_REQ:
		memset(ue, 0, sizeof(*ue));
		ue->reason = STACK_UEXIT_SYSTEM_EVENT;
		ue->term_set = (unsigned)(msr >> 12) & 0xf;
		ue->term_code = (unsigned)(msr >> 16) & 0xff;
		vc->cont = STACK_KVM_CONT_TERMINATE;
		return STACK_KVM_USER;
	default:
		/* unknown request: the MSR keeps its value, the guest re-enters */
		vc->resp = msr;
		return STACK_KVM_DONE;
	}
}

/* ------------------------------------------------------------------ */
/* AP creation                                                         */
/* ------------------------------------------------------------------ */

/*
 * sev_snp_ap_creation: the request in @info1's low half for the vCPU
 * whose APIC ID is its high half (the model's vCPU index), the VMSA GPA
 * @info2, the AP's SEV features @rax.  CREATE and CREATE_ON_INIT need
 * the VM's features, a page-aligned GPA inside the guest's physical
 * address space and not 2M-aligned (the erratum that makes a 2M-aligned
 * VMSA page unsafe); DESTROY drops the GPA.  The target waits for its
 * state update, and unless the request is CREATE_ON_INIT it is asked to
 * do it at once (KVM_REQ_UPDATE_PROTECTED_GUEST_STATE) and kicked.
 * Return: 0, or -EINVAL (the event is refused).
 */
static int ap_creation(struct stack_vm *v, struct sim_who *who, uint64_t info1, uint64_t info2,
		       uint64_t rax, uint64_t *cycles)
{
	unsigned request = (uint32_t)info1, apic_id = (unsigned)(info1 >> 32);
	struct stack_kvm_vcpu *t;

	(void)who;
	if (apic_id >= STACK_KVM_MAX_VCPUS || !v->run->vcpu[apic_id].created)
		return -EINVAL;   /* "invalid AP APIC ID" */
	t = &v->run->vcpu[apic_id];
	switch (request) {
	case STACK_AP_CREATE_ON_INIT:
	case STACK_AP_CREATE:
		if (rax != STACK_SEV_FEAT_SNP_ACTIVE)
			return -EINVAL;   /* "mismatched AP sev_features" */
		if ((info2 & (SIM_SZ_4K - 1)) || info2 >= (1ull << CBIT_POS))
			return -EINVAL;   /* page_address_valid() */
		if (!(info2 & (SIM_SZ_2M - 1)))
			return -EINVAL;   /* "unsafe as it is 2M aligned" */
		t->ap_vmsa_gpa = info2;
		break;
	case STACK_AP_DESTROY:
		t->ap_vmsa_gpa = UINT64_MAX;
		break;
	default:
		return -EINVAL;   /* "invalid AP creation request" */
	}
	t->ap_waiting = true;
	if (request != STACK_AP_CREATE_ON_INIT) {
		t->ap_request = true;
		/* kvm_vcpu_kick: an IPI if the target is in guest mode, else a wake-up */
		stack_kvm_vcpu_kick(v, apic_id, cycles);
	}
	return 0;
}

bool stack_kvm_ap_update(struct stack_vm *v, unsigned vcpu, struct sim_who *who, bool init,
			 uint64_t *cycles)
{
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	const struct stack_kvm_slot *sl;
	uint64_t gpa = vc->ap_vmsa_gpa, spa;

	if (!init && !vc->ap_request)
		return vc->vmsa_spa != 0;
	vc->ap_request = false;
	if (!v->asid || !vc->ap_waiting)
		return vc->vmsa_spa != 0;
	vc->ap_waiting = false;
	v->run->ctr.ap_updates++;
	/* offline and not runnable; the VMSA no longer used */
	vc->vmsa_spa = 0;
	vc->vmsa_gpa = 0;
	if (gpa == UINT64_MAX)
		return false;
	vc->ap_vmsa_gpa = UINT64_MAX;
	/* the new VMSA is private guest memory: its page from guest_memfd (kvm_gmem_get_pfn) */
	sl = stack_kvm_gfn_to_slot(v, gpa >> 12);
	if (!sl || !sl->gmem ||
	    stack_gmem_get_pfn(sl->gmem, who, sl->gmem_offset + ((gpa >> 12) - sl->base_gfn) * SIM_SZ_4K,
			       gpa, false, &spa, cycles))
		return false;
	vc->vmsa_spa = spa & ~(SIM_SZ_4K - 1);
	vc->vmsa_gpa = gpa;
	return true;
}

bool stack_kvm_vmsa_ok(struct stack_vm *v, unsigned vcpu)
{
	const struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	struct rmp_entry e;

	if (!v->asid || !rmp_enabled(v->st->rmp))
		return true;
	return vc->vmsa_spa && rmp_entry_effective(v->st->rmp, vc->vmsa_spa, &e) && e.assigned &&
	       e.asid == v->asid && e.vmsa && !e.immutable && !e.page_2m && e.gpa == vc->vmsa_gpa;
}

/* ------------------------------------------------------------------ */
/* The NAE page-state change                                           */
/* ------------------------------------------------------------------ */

/* The GHCB's answer: sw_exit_info_1 = 0, sw_exit_info_2 = @ret (snp_complete_psc). */
static enum stack_kvm_rc psc_done(struct stack_vm *v, struct stack_kvm_vcpu *vc, uint64_t ret)
{
	uint64_t g;

	if (!shared_spa(v, vc->ghcb_gpa, &g)) {
		wr64(v, g + STACK_GHCB_SW_EXIT_INFO_1, 0);
		wr64(v, g + STACK_GHCB_SW_EXIT_INFO_2, ret);
	}
	v->run->ctr.psc_errors += ret != 0;
	vc->cont = STACK_KVM_CONT_NONE;
	vc->resp = vc->ghcb_msr;
	return STACK_KVM_DONE;
}

/*
 * snp_begin_psc: from the header's cur_entry, skip finished entries and
 * complete PSMASH/UNSMASH hints, take the next PRIVATE/SHARED entry (a
 * 2M entry partly done goes on as 4K pages), coalesce the entries after
 * it with the same operation and size and adjacent GFNs, and give the
 * range to the VMM as one MAP_GPA_RANGE exit; when none is left, answer
 * the guest.  The descriptor is read and written in guest memory.
 */
static enum stack_kvm_rc psc_begin(struct stack_vm *v, struct stack_kvm_vcpu *vc,
				   struct sim_who *who, struct stack_uexit *ue, uint64_t *cycles)
{
	uint64_t d, hdr, gfn = 0, npages = 0, first;
	unsigned end, idx, op;
	bool huge = false;

	if (shared_spa(v, vc->psc_gpa, &d))
		return psc_done(v, vc, PSC_ERROR_GENERIC);
	hdr = rd64(v, d);
	end = (hdr >> 16) & 0xffff;
	/*
	 * end_entry beyond the buffer or reserved bits: INVALID_HDR.  A
	 * cur_entry past end_entry is not an error: nothing is left to do
	 * (snp_begin_psc re-enters here after each range with cur_entry
	 * advanced, and answers 0 once it passes end_entry).
	 */
	if (end >= PSC_MAX_COUNT || (hdr >> 32))
		return psc_done(v, vc, PSC_ERROR_INVALID_HDR);
	for (idx = hdr & 0xffff; idx <= end; idx++) {
		uint64_t e = rd64(v, d + 8 + 8ull * idx);
		unsigned cp = e & 0xfff;

		*cycles += v->st->lat.psc_entry;
		gfn = (e >> 12) & ((1ull << 40) - 1);
		op = (unsigned)(e >> 52) & 0xf;
		huge = (e >> 56) & 1;
		npages = huge ? 512 : 1;
		if (cp > npages || (gfn & (npages - 1)) || (e >> 57))
			return psc_done(v, vc, PSC_ERROR_INVALID_ENTRY);
		if (op == PSC_OP_PSMASH || op == PSC_OP_UNSMASH) {
			/* hints: done without an exit */
			wr64(v, d + 8 + 8ull * idx, (e & ~0xfffull) | npages);
			v->run->ctr.psc_entries++;
			continue;
		}
		if (op != PSC_OP_PRIVATE && op != PSC_OP_SHARED)
			return psc_done(v, vc, PSC_ERROR_INVALID_ENTRY);
		if (cp == npages)
			continue;
		if (cp) {
			/* a 2M entry partly done: the rest as 4K pages */
			huge = false;
			npages -= cp;
		}
		break;
	}
	/* cur_entry moves past what was skipped (not at all when it was past end_entry) */
	wr64(v, d, (hdr & ~0xffffull) | idx);
	if (idx > end)
		return psc_done(v, vc, 0);
	first = rd64(v, d + 8 + 8ull * idx);
	vc->psc_idx = idx;
	vc->psc_inflight = 1;
	/*
	 * Coalesce as snp_begin_psc does: the next entry joins when its GFN is
	 * the first entry's own GFN plus the pages gathered so far (for a
	 * partly done 2M entry, its remaining pages: an upstream quirk kept).
	 */
	while (++idx <= end) {
		uint64_t e = rd64(v, d + 8 + 8ull * idx);
		bool eh = (e >> 56) & 1;

		if (((e >> 52) & 0xf) != ((first >> 52) & 0xf) ||
		    ((e >> 12) & ((1ull << 40) - 1)) != gfn + npages || (e & 0xfff) || eh != huge)
			break;
		*cycles += v->st->lat.psc_entry;
		vc->psc_inflight++;
		npages += huge ? 512 : 1;
	}
	gfn += first & 0xfff;   /* the range starts past the pages already done */
	huge = (first >> 56) & 1;   /* the exit's size attribute is the entry's */
	op = (unsigned)(first >> 52) & 0xf;
	if (legacy(v)) {
		int rc = legacy_psc(v, who, gfn << 12, npages, op == PSC_OP_PRIVATE, cycles);

		if (rc)
			return psc_done(v, vc, PSC_ERROR_GENERIC);
		ue->ret = 0;
		vc->cont = STACK_KVM_CONT_PSC_NAE;
		return stack_kvm_complete_user(v, (unsigned)(vc - v->run->vcpu), who, ue, cycles);
	}
	vc->cont = STACK_KVM_CONT_PSC_NAE;
	return map_gpa_exit(ue, gfn << 12, npages, op == PSC_OP_PRIVATE, huge);
}

/*
 * A full-GHCB VMGEXIT (the MSR holds the GHCB's GPA): the GHCB must be the
 * registered one (SNP), its usage standard and its inputs valid
 * (sev_es_validate_vmgexit; an error answers sw_exit_info_1 = 2 and
 * sw_exit_info_2 = the reason); PSC is the event the model serves.
 */
static enum stack_kvm_rc nae_event(struct stack_vm *v, struct stack_kvm_vcpu *vc,
				   struct sim_who *who, uint64_t gpa, struct stack_uexit *ue,
				   uint64_t *cycles)
{
	uint64_t g, code, scratch;
	unsigned reason = 0;

	vc->resp = vc->ghcb_msr;
	if (!gpa)
		return STACK_KVM_DONE;    /* "GHCB gpa is not set": back to the guest */
	if (v->asid && gpa != vc->ghcb_gpa)
		return STACK_KVM_FATAL;   /* "GHCB GPA is not registered": KVM_RUN -EINVAL */
	if (shared_spa(v, gpa, &g))
		return STACK_KVM_DONE;    /* kvm_vcpu_map failed: "just return right back" */
	code = rd64(v, g + STACK_GHCB_SW_EXIT_CODE);
	scratch = rd64(v, g + STACK_GHCB_SW_SCRATCH);
	if (rd64(v, g + STACK_GHCB_USAGE - 4) >> 32)
		reason = GHCB_ERR_INVALID_USAGE;
	else if (!valid_bit(v, g, STACK_GHCB_SW_EXIT_CODE) || !valid_bit(v, g, STACK_GHCB_SW_EXIT_INFO_1) ||
		 !valid_bit(v, g, STACK_GHCB_SW_EXIT_INFO_2))
		reason = GHCB_ERR_MISSING_INPUT;
	else if (code == STACK_SVM_VMGEXIT_AP_CREATION && v->asid)
		reason = (uint32_t)rd64(v, g + STACK_GHCB_SW_EXIT_INFO_1) != STACK_AP_DESTROY &&
			 !valid_bit(v, g, STACK_GHCB_RAX) ? GHCB_ERR_MISSING_INPUT : 0;
	else if (code != STACK_SVM_VMGEXIT_PSC)
		reason = GHCB_ERR_INVALID_EVENT;
	else if (!valid_bit(v, g, STACK_GHCB_SW_SCRATCH))
		reason = GHCB_ERR_MISSING_INPUT;
	else if (scratch < gpa + STACK_GHCB_SHARED_BUF || scratch + 8 > gpa + STACK_GHCB_SHARED_END)
		reason = GHCB_ERR_INVALID_SCRATCH_AREA;   /* GHCB v2: in the shared buffer */
	/* the valid bitmap is cleared once read (sev_es_sync_from_ghcb) */
	wr64(v, g + STACK_GHCB_VALID_BITMAP, 0);
	wr64(v, g + STACK_GHCB_VALID_BITMAP + 8, 0);
	vc->resp = vc->ghcb_msr;
	if (reason) {
		wr64(v, g + STACK_GHCB_SW_EXIT_INFO_1, 2);
		wr64(v, g + STACK_GHCB_SW_EXIT_INFO_2, reason);
		return STACK_KVM_DONE;
	}
	if (code == STACK_SVM_VMGEXIT_AP_CREATION) {
		v->run->ctr.ap_requests++;
		if (ap_creation(v, who, rd64(v, g + STACK_GHCB_SW_EXIT_INFO_1),
				rd64(v, g + STACK_GHCB_SW_EXIT_INFO_2), rd64(v, g + STACK_GHCB_RAX),
				cycles)) {
			v->run->ctr.ap_errors++;
			wr64(v, g + STACK_GHCB_SW_EXIT_INFO_1, GHCB_HV_RESP_MALFORMED_INPUT);
			wr64(v, g + STACK_GHCB_SW_EXIT_INFO_2, GHCB_ERR_INVALID_INPUT);
		} else {
			wr64(v, g + STACK_GHCB_SW_EXIT_INFO_1, 0);
			wr64(v, g + STACK_GHCB_SW_EXIT_INFO_2, 0);
		}
		return STACK_KVM_DONE;
	}
	v->run->ctr.psc_nae++;
	vc->psc_gpa = scratch;
	if (!legacy(v) && !exit_on_map_gpa(v))
		return psc_done(v, vc, PSC_ERROR_GENERIC);
	{
		/* the whole descriptor must lie in the shared buffer */
		uint64_t d, end;

		if (shared_spa(v, scratch, &d))
			return psc_done(v, vc, PSC_ERROR_GENERIC);
		end = (rd64(v, d) >> 16) & 0xffff;
		if (end < PSC_MAX_COUNT && scratch + 8 + 8 * (end + 1) > gpa + STACK_GHCB_SHARED_END)
			return psc_done(v, vc, PSC_ERROR_INVALID_HDR);
	}
	return psc_begin(v, vc, who, ue, cycles);
}

enum stack_kvm_rc stack_kvm_vmgexit(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				    uint64_t msr, struct stack_uexit *ue, uint64_t *cycles)
{
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];

	v->run->ctr.exits[CPU_EXIT_VMGEXIT]++;
	*cycles += v->st->lat.kvm_exit;
	vc->ghcb_msr = msr;
	if (MSR_INFO(msr))
		return msr_protocol(v, vc, who, msr, ue, cycles);
	return nae_event(v, vc, who, msr, ue, cycles);
}

/* ------------------------------------------------------------------ */
/* Hypercalls                                                          */
/* ------------------------------------------------------------------ */

/*
 * kvm_emulate_hypercall: KVM_HC_MAP_GPA_RANGE goes to the VMM when it
 * enabled the exit (KVM_CAP_EXIT_HYPERCALL), with its arguments checked
 * first (-KVM_EINVAL: an unaligned GPA, no pages, a GFN range that wraps;
 * the attributes are the VMM's to check); every other number is
 * -KVM_ENOSYS.
 */
enum stack_kvm_rc stack_kvm_hypercall(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				      const uint64_t args[5], struct stack_uexit *ue,
				      uint64_t *cycles)
{
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	uint64_t gpa = args[1], npages = args[2], attrs = args[3];

	(void)who;
	v->run->ctr.exits[CPU_EXIT_HYPERCALL]++;
	v->run->ctr.hypercalls++;
	*cycles += v->st->lat.kvm_exit;
	if ((args[0] == STACK_HC_VIRTIO_SETUP || args[0] == STACK_HC_VIRTIO_NOTIFY) &&
	    stack_vblk_present(v)) {
		/* the device's doorbell: to the VMM (protsim's stand-in for an MMIO exit) */
		memset(ue, 0, sizeof(*ue));
		ue->reason = STACK_UEXIT_HYPERCALL;
		ue->nr = args[0];
		memcpy(ue->args, args, 5 * sizeof(args[0]));
		vc->cont = STACK_KVM_CONT_HYPERCALL;
		return STACK_KVM_USER;
	}
	if (args[0] == STACK_KVM_HC_LOCK_CR_UPDATE ||   /* heki.c: Heki's hypercalls (RFC v2 02/19) */
	    args[0] == STACK_KVM_HC_PROTECT_MEMORY)
		return (enum stack_kvm_rc)stack_heki_lock_cr(v, vcpu, args, ue, cycles);
	if (args[0] >= STACK_HC_VTL_FIRST && args[0] <= STACK_HC_VTL_LAST)   /* vtl.c */
		return (enum stack_kvm_rc)stack_vtl_hypercall(v, vcpu, args, cycles);
	if (args[0] != STACK_KVM_HC_MAP_GPA_RANGE || !exit_on_map_gpa(v)) {
		vc->resp = (uint64_t)-STACK_KVM_ENOSYS;
		return STACK_KVM_DONE;
	}
	if ((gpa & 0xfff) || !npages || (gpa >> 12) + npages <= (gpa >> 12)) {
		vc->resp = (uint64_t)-KVM_EINVAL;
		return STACK_KVM_DONE;
	}
	vc->cont = STACK_KVM_CONT_HYPERCALL;
	map_gpa_exit(ue, gpa, npages, attrs & STACK_KVM_MAP_GPA_RANGE_ENCRYPTED, false);
	ue->args[2] = attrs;
	return STACK_KVM_USER;
}

/* ------------------------------------------------------------------ */
/* Completing a user exit                                              */
/* ------------------------------------------------------------------ */

enum stack_kvm_rc stack_kvm_complete_user(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
					  struct stack_uexit *ue, uint64_t *cycles)
{
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	enum stack_kvm_cont k = vc->cont;
	uint64_t d;

	vc->cont = STACK_KVM_CONT_NONE;
	switch (k) {
	case STACK_KVM_CONT_NONE:
	case STACK_KVM_CONT_RETRY:
		return STACK_KVM_RETRY;
	case STACK_KVM_CONT_MMIO:
		vc->resp = ue->is_write ? 0 : UINT64_MAX;   /* unassigned memory reads all ones */
		return STACK_KVM_DONE;
	case STACK_KVM_CONT_TERMINATE:
		return STACK_KVM_FATAL;
	case STACK_KVM_CONT_HEKI_CONFIGURE:   /* heki.c */
	case STACK_KVM_CONT_HEKI_DENIAL:
	case STACK_KVM_CONT_CR_WRITE:
		return (enum stack_kvm_rc)stack_heki_complete(v, vcpu, ue, (int)k);
	case STACK_KVM_CONT_HYPERCALL:
		vc->resp = (uint64_t)ue->ret;
		return STACK_KVM_DONE;
	case STACK_KVM_CONT_PSC_MSR:
		/* snp_complete_psc_msr */
		if (!valid_map_ret(ue->ret))
			return STACK_KVM_FATAL;
		v->run->ctr.psc_errors += ue->ret != 0;
		v->run->ctr.psc_entries += ue->ret == 0;
		vc->resp = ue->ret ? MSR_PSC_RESP_ERROR : MSR_PSC_RESP;
		return STACK_KVM_DONE;
	case STACK_KVM_CONT_PSC_NAE:
		/* snp_complete_one_psc: mark the coalesced entries done, go on */
		if (!valid_map_ret(ue->ret))
			return STACK_KVM_FATAL;
		if (ue->ret)
			return psc_done(v, vc, PSC_ERROR_GENERIC);
		if (shared_spa(v, vc->psc_gpa, &d))
			return psc_done(v, vc, PSC_ERROR_GENERIC);
		for (unsigned i = 0; i < vc->psc_inflight; i++) {
			uint64_t a = d + 8 + 8ull * (vc->psc_idx + i), e = rd64(v, a);

			wr64(v, a, (e & ~0xfffull) | (((e >> 56) & 1) ? 512 : 1));
			v->run->ctr.psc_entries++;
		}
		wr64(v, d, (rd64(v, d) & ~0xffffull) | (vc->psc_idx + vc->psc_inflight));
		vc->psc_inflight = 0;
		return psc_begin(v, vc, who, ue, cycles);
	}
	return STACK_KVM_FATAL;
}
