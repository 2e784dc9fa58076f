/*
 * kvm_mmu.c - KVM's nested MMU for the VMs of `vm create`: the #NPF path
 * (svm.c npf_interception -> kvm_mmu_page_fault -> kvm_tdp_page_fault:
 * kvm_mmu_faultin_pfn, then the TDP MMU's map), the RMP #NPF fix-up
 * (sev.c sev_handle_rmp_fault), KVM_PRE_FAULT_MEMORY and range zaps.
 *
 * The nested table is built lazily: a GPA is mapped on its first fault, at
 * the largest size the folio, the RMP entry and the attributes allow
 * (kvm_mmu_max_mapping_level with sev_private_max_mapping_level: 2M only
 * when the folio is 2M, its RMP entry is 2M and the whole 2M GPA range
 * has one attribute), else 4K.  The page-size check of the hardware is an
 * equality (APM vol. 2 15.36.10), so a 4K leaf onto a 2M RMP entry faults
 * with the RMP bit, and KVM PSMASHes the entry and zaps the 2M range.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <string.h>

#define PAGE_4K   0x1000ull
#define PAGE_2M   0x200000ull
#define PSMASH_TRIES 64   /* FAIL_INUSE retries before giving up (KVM loops; a model bound) */

int stack_kvm_zap(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size)
{
	return stack_kvm_zap_range(v, who, gpa, gpa + size);
}

/* The guest_memfd offset of @gfn in guest_memfd slot @sl. */
static uint64_t gmem_off(const struct stack_kvm_slot *sl, uint64_t gfn)
{
	return sl->gmem_offset + ((gfn - sl->base_gfn) << 12);
}

/* snp.backing=legacy: one backing (the VMM's) for private and shared memory. */
static bool legacy(const struct stack_vm *v)
{
	return v->asid && v->st->snp_backing == STACK_SNP_BACKING_LEGACY;
}

/* Whether the 2M GPA range around @gfn lies in @sl and has one attribute @attr. */
static bool range_2m_ok(const struct stack_vm *v, const struct stack_kvm_slot *sl, uint64_t gfn,
			uint64_t attr)
{
	uint64_t b = gfn & ~511ull;

	return b >= sl->base_gfn && b + 512 <= sl->base_gfn + sl->npages &&
	       stack_kvm_range_has_attributes(v, b, b + 512, attr);
}

/* s2_map_leaf's check of the table page it is about to write: the host store's RMP check. */
struct tdp_check {
	struct stack *st;
	int agent;
	struct host_wr hw;
};

static bool tdp_page_ok(void *arg, uint64_t page)
{
	struct tdp_check *t = arg;

	return stack_root_write_ok(t->st, t->agent, page, &t->hw);
}

/*
 * Install a leaf for @gpa -> @spa of @size (4K or 2M) with every
 * permission, as the TDP MMU's map does (kvm_tdp_mmu_map: one walk down
 * the path): a valid leaf that already gives this translation is
 * spurious; a different one, or smaller leaves below a 2M mapping, are
 * zapped first and the map done by the general path.  The host's store
 * into the table page is RMP-checked first (-EFAULT when it is
 * assigned).  Return: 1 mapped, 0 spurious, negative errno.
 */
static int tdp_map(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t spa,
		   uint64_t size)
{
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	uint64_t base, pbase;
	struct tdp_check t = { .st = v->st, .agent = who->agent };
	struct s2_leaf_found lf;
	struct host_wr hw;
	int rc;

	/* heki.h: VTL0's view restricts the leaf; a 2M range with restrictions is split */
	if (size > PAGE_4K && stack_vtl_restricts(v, gpa & ~(size - 1), size)) {
		spa = (spa & ~(size - 1)) + (gpa & (size - 1) & ~(PAGE_4K - 1));
		size = PAGE_4K;
	}
	prot.perms = (uint8_t)stack_vtl_perms(v, gpa);
	if (prot.perms != S2_PERM_ALL) {
		/*
		 * The nested format (AMD NPT) has one execute bit and no
		 * execute-only: XS or XU give X, and a leaf is always readable.
		 * Refused accesses never get here (stack_kvm_npf asks VTL0's
		 * view first); docs/cr-protection.md.
		 */
		prot.perms = S2_PERM_R | (prot.perms & S2_PERM_W) |
			     ((prot.perms & S2_PERM_X) ? S2_PERM_X : 0);
	}
	base = gpa & ~(size - 1);
	pbase = spa & ~(size - 1);

	rc = s2_map_leaf(v->s2, who, base, pbase, size, &prot, tdp_page_ok, &t, &lf);
	who->mem_cycles += t.hw.cycles;
	if (rc == S2_ERR_EXISTS && lf.size == size && lf.pa == pbase)
		return 0;
	if (rc == S2_ERR_REFUSED)
		return -EFAULT;
	if (rc == S2_ERR_EXISTS || rc == S2_ERR_BUSY) {
		/* something else in the way: zap it, then the general map */
		if (stack_kvm_zap(v, who, base, size))
			return -EFAULT;
		if (!stack_table_writes_ok(v, v->s2, false, who->agent, S2_WSET_MAP, base, pbase, size,
					   size, &prot, &hw)) {
			who->mem_cycles += hw.cycles;
			return -EFAULT;
		}
		who->mem_cycles += hw.cycles;
		rc = s2_map(v->s2, who, base, pbase, size, size, &prot);
	}
	if (rc == S2_ERR_NOMEM)
		return -ENOMEM;
	if (rc != S2_OK)
		sim_fatal("stack: kvm: map of gpa 0x%llx (%llu bytes) failed: %s",
			  (unsigned long long)base, (unsigned long long)size, s2_rc_name(rc));
	stack_vm_count_op(v, false);
	v->run->ctr.npf_mapped++;
	v->run->ctr.npf_mapped_2m += size == PAGE_2M;
	return 1;
}

/*
 * kvm_mmu_faultin_pfn + the map for a fault at @gpa, private or shared
 * (@priv).  Return: 1 mapped, 0 spurious, or a negative errno; -ENOENT
 * and -EFAULT ask for a MEMORY_FAULT exit (no page: a hole, no
 * guest_memfd).
 */
static int faultin_map(struct stack_vm *v, struct sim_who *who, const struct stack_kvm_slot *sl,
		       uint64_t gpa, bool priv, uint64_t *cycles, uint64_t *mapped_size)
{
	uint64_t gfn = gpa >> 12, spa, size = PAGE_4K;
	int rc;

	if (priv && !legacy(v)) {
		bool allow_2m;
		uint64_t cleared;
		uint64_t off = gmem_off(sl, gfn);
		struct rmp_entry e;
		bool big = false, prepared;

		if (!sl->gmem)
			return -EFAULT;   /* private access to a slot without guest_memfd */
		allow_2m = range_2m_ok(v, sl, gfn, STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE) &&
			   ((off ^ (gfn << 12)) & (PAGE_2M - 1)) == 0;
		cleared = stack_gmem_stats(v->st)->cleared;
		rc = stack_gmem_get_pfn(sl->gmem, who, off, gpa & ~(PAGE_4K - 1), allow_2m, &spa,
					cycles);
		/* the pages guest_memfd cleared for their first use (kvm_gmem_prepare_folio) */
		*cycles += (stack_gmem_stats(v->st)->cleared - cleared) * v->st->lat.page_clear;
		if (rc)
			return rc == -ENOMEM ? -ENOMEM : -EFAULT;
		(void)stack_gmem_page(sl->gmem, off, &spa, &big, &prepared);
		/* the leaf: the folio's order, capped at the RMP level (SNP) and the attributes */
		if (big && allow_2m) {
			size = PAGE_2M;
			if (v->asid && rmp_enabled(v->st->rmp) &&
			    (!rmp_entry_effective(v->st->rmp, spa & ~(PAGE_4K - 1), &e) ||
			     !e.assigned || !e.page_2m))
				size = PAGE_4K;
		}
	} else {
		rc = stack_kvm_backing(v, gpa, true, &spa);
		if (rc)
			return rc;
	}
	*mapped_size = size;
	return tdp_map(v, who, gpa & ~(PAGE_4K - 1), spa & ~(PAGE_4K - 1), size);
}

/*
 * sev_handle_rmp_fault: the page behind @gpa (the guest_memfd page of a
 * private GFN); when its RMP entry is 2M, PSMASH it (retrying while
 * FAIL_INUSE) and zap the 2M GFN range so it is faulted in again at 4K;
 * an entry already 4K, unassigned or a GPA without a private page: a
 * spurious fault, nothing to do.
 */
static enum stack_kvm_rc rmp_fault(struct stack_vm *v, struct sim_who *who, uint64_t gpa)
{
	const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, gpa >> 12);
	struct stack_kvm_run *r = v->run;
	uint64_t spa, base;
	struct rmp_entry e;
	bool big, prepared;

	r->ctr.rmp_faults++;
	if (legacy(v)) {
		if (stack_kvm_backing(v, gpa, false, &spa))
			return STACK_KVM_RETRY;
	} else if (!sl || !sl->gmem || !stack_kvm_get_memory_attributes(v, gpa >> 12) ||
		   stack_gmem_page(sl->gmem, gmem_off(sl, gpa >> 12), &spa, &big, &prepared)) {
		return STACK_KVM_RETRY;
	}
	spa &= ~(PAGE_4K - 1);
	if (!rmp_entry_effective(v->st->rmp, spa, &e) || !e.assigned || !e.page_2m)
		return STACK_KVM_RETRY;
	base = spa & ~(PAGE_2M - 1);
	for (unsigned i = 0;; i++) {
		struct rmp_result res;
		enum rmp_rc rc = rmp_psmash(v->st->rmp, who, base, &res);

		who->mem_cycles += res.latency;
		if (rc == RMP_RC_SUCCESS)
			break;
		if (rc != RMP_RC_FAIL_INUSE || i == PSMASH_TRIES)
			return STACK_KVM_RETRY;   /* KVM warns and re-enters */
		r->ctr.psmash_retries++;
	}
	r->ctr.psmash++;
	if (stack_kvm_zap(v, who, gpa & ~(PAGE_2M - 1), PAGE_2M))
		return STACK_KVM_FATAL;
	return STACK_KVM_RETRY;
}

/* A MEMORY_FAULT exit for the 4K page of @gpa (kvm_mmu_prepare_memory_fault_exit). */
static enum stack_kvm_rc memory_fault(struct stack_uexit *ue, uint64_t gpa, bool priv)
{
	memset(ue, 0, sizeof(*ue));
	ue->reason = STACK_UEXIT_MEMORY_FAULT;
	ue->gpa = gpa & ~(PAGE_4K - 1);
	ue->size = PAGE_4K;
	ue->flags = priv ? STACK_KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
	return STACK_KVM_USER;
}

enum stack_kvm_rc stack_kvm_npf(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				uint64_t gpa, uint64_t info, struct stack_uexit *ue,
				uint64_t *cycles)
{
	uint64_t gfn = gpa >> 12;
	const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, gfn);
	bool priv, attr_priv = stack_kvm_get_memory_attributes(v, gfn) != 0;
	uint64_t size;
	int rc;

	v->run->ctr.exits[CPU_EXIT_NPF]++;
	*cycles += v->st->lat.kvm_exit;
	/*
	 * heki.h: a violation of VTL0's permission view goes to VTL1, which
	 * denies it; one of Heki's protected ranges, KVM denies itself.  NPT's EXITINFO1 U bit is set for every nested walk (the
	 * APM), so it does not tell a user-mode fetch: fetches count as the
	 * kernel's (MBEC's user-execute bit is EPT's; docs/cr-protection.md).
	 */
	if (!(info & RMP_NPF_RMP)) {
		unsigned acc = (info & RMP_NPF_ID) ? 2 : (info & RMP_NPF_W) ? 1 : 0;

		if (stack_vtl_check(v, gpa, acc, false))
			return (enum stack_kvm_rc)stack_vtl_deny(v, gpa, acc, cycles);
	}

	/*
	 * The access's private-ness: on SNP the C-bit (EXITINFO1 ENC); on a
	 * sw_protected VM the attribute itself; a default VM has none.
	 */
	if (v->kvm->type == STACK_KVM_VM_SNP)
		priv = info & RMP_NPF_ENC;
	else
		priv = v->kvm->type == STACK_KVM_VM_SW_PROTECTED && attr_priv;
	if (!sl) {
		if (priv)
			return memory_fault(ue, gpa, true);
		memset(ue, 0, sizeof(*ue));   /* no memory there: emulated MMIO */
		ue->reason = STACK_UEXIT_MMIO;
		ue->gpa = gpa;
		ue->size = 8;
		ue->is_write = info & RMP_NPF_W;
		v->run->vcpu[vcpu].cont = STACK_KVM_CONT_MMIO;
		return STACK_KVM_USER;
	}
	/* implicit conversion: the VMM's call (legacy backing has no attributes to match) */
	if (priv != attr_priv && !legacy(v))
		return memory_fault(ue, gpa, priv);
	rc = faultin_map(v, who, sl, gpa, priv, cycles, &size);
	if (rc == -ENOENT || rc == -EFAULT)
		return memory_fault(ue, gpa, priv);
	if (rc < 0)
		return STACK_KVM_FATAL;
	if (rc == 0)
		v->run->ctr.npf_spurious += !(info & RMP_NPF_RMP);
	if (info & RMP_NPF_RMP)
		return rmp_fault(v, who, gpa);
	return STACK_KVM_RETRY;
}

int stack_kvm_prefault(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size,
		       uint64_t *mapped, uint64_t *cycles)
{
	uint64_t a = gpa & ~(PAGE_4K - 1), end = gpa + size;

	*mapped = 0;
	while (a < end) {
		const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, a >> 12);
		bool priv = stack_kvm_get_memory_attributes(v, a >> 12) != 0;
		uint64_t leaf = PAGE_4K, next;
		int rc;

		if (!sl)
			return -ENOENT;
		rc = faultin_map(v, who, sl, a, priv, cycles, &leaf);
		if (rc < 0)
			return rc;
		next = (a & ~(leaf - 1)) + leaf;   /* past the leaf just mapped */
		if (next > end)
			next = end;
		*mapped += (next - a) >> 12;
		a = next;
	}
	return 0;
}
