/*
 * rmp_check.c - RMP checks on host, guest and DMA accesses, and VMRUN's
 * SNP checks with the in-use marks they set.
 *
 * See 'RMP and VMPL Access Checks' (APM vol. 2 §15.36.10, Table 15-39) and
 * 'VMRUN' for SNP-active guests.  These run on every simulated access, so
 * they stay short: one or two entry reads, no allocation, and the lock and
 * in-use lists are skipped while they are empty or expired.
 */
#include "rmp/rmp_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * The timeline of an RMP fault (--timeline only): an instant on the
 * faulting agent's track, category "fault", with the address and the
 * error code; a spurious one (the entry was locked) as the lock conflict
 * instead, with its arrow from the holder.  A guest's #NPF is not
 * recorded here: its VM exit is (stack_record_exit).
 */
static RMP_COLD enum rmp_fault_kind fault_timeline(struct rmp *r, const struct sim_who *who,
						   enum rmp_fault_kind kind, uint64_t code,
						   uint64_t addr, bool spurious)
{
	static const char *const names[] = {
		[RMP_FAULT_PF] = "rmp #PF", [RMP_FAULT_NPF] = "rmp #NPF",
		[RMP_FAULT_VC] = "rmp #VC", [RMP_FAULT_IOMMU] = "rmp iommu fault",
	};
	struct sim *s;
	char args[96];

	if (!who || who->agent < 0 || !(s = sim_timeline_of(r->mem)))
		return kind;
	if (spurious) {   /* a guest's: guest_npf() records it (it has the SPA) */
		if (kind != RMP_FAULT_NPF)
			rmp_lock_timeline(r, who, addr, false, "host access faulted: entry locked");
		return kind;
	}
	if (kind == RMP_FAULT_NPF || kind >= sizeof(names) / sizeof(names[0]) || !names[kind])
		return kind;
	snprintf(args, sizeof(args), "\"%s\":\"0x%llx\",\"code\":\"0x%llx\"",
		 kind == RMP_FAULT_VC ? "gpa" : "spa", (unsigned long long)addr,
		 (unsigned long long)code);
	sim_timeline_instant(s, who->agent, "fault", names[kind], who->now, args);
	return kind;
}

/*
 * Fill @f, count the fault and show it on the timeline.  Out of line:
 * checks normally pass.  @kind_sp is the kind, | RAISE_SPURIOUS for a
 * spurious fault (six arguments: all in registers on x86-64, so the hot
 * paths that call it keep their code).
 */
#define RAISE_SPURIOUS 0x100u
static RMP_COLD enum rmp_fault_kind raise(struct rmp *r, const struct sim_who *who,
					  struct rmp_fault *f, unsigned kind_sp, uint64_t code,
					  uint64_t addr)
{
	enum rmp_fault_kind kind = (enum rmp_fault_kind)(kind_sp & 0xff);
	bool spurious = (kind_sp & RAISE_SPURIOUS) != 0;

	f->kind = kind;
	f->code = code;
	f->addr = addr;
	f->spurious = spurious;
	if (spurious)
		r->ctr.spurious_faults++;
	switch (kind) {
	case RMP_FAULT_PF:    r->ctr.faults_pf++; break;
	case RMP_FAULT_NPF:   r->ctr.faults_npf++; break;
	case RMP_FAULT_VC:    r->ctr.faults_vc++; break;
	case RMP_FAULT_IOMMU: r->ctr.faults_iommu++; break;
	default: break;
	}
	/* a tail call: no frame for it while the timeline is off */
	return sim_mem_timeline_on(r->mem) ? fault_timeline(r, who, kind, code, addr, spurious) : kind;
}

static inline void no_fault(struct rmp_fault *f)
{
	f->kind = RMP_FAULT_NONE;
	f->code = 0;
	f->addr = 0;
	f->spurious = false;
}

/*
 * Host data write or page-table access (APM Table 15-39, host rows): the
 * page (4K mapping, or a table page) or the whole 2M region (data write
 * through a 2M/1G mapping) must be hypervisor-owned.  A 2M check reads
 * only the 2M-base entry: its region count says whether any 4K entry of
 * the region is assigned.  A table read faults without W in its error
 * code; an A/D update is a write to the table page (AMD APM vol. 2 15.36.10:
 * a 4K write).
 */
enum rmp_fault_kind rmp_check_host_access(struct rmp *rmp, struct sim_who *who, uint64_t spa,
					  enum rmp_host_access kind, uint64_t map_size,
					  struct rmp_fault *f)
{
	struct rmp *r = rmp;
	const uint64_t code = RMP_PF_P | RMP_PF_RMP | (kind == RMP_HOST_PT_READ ? 0 : RMP_PF_W);

	no_fault(f);
	if (kind == RMP_HOST_READ || kind == RMP_HOST_FETCH || !rmp_active(r))
		return RMP_FAULT_NONE;
	r->ctr.checks_host++;
	if (kind == RMP_HOST_WRITE && map_size >= SIM_SZ_2M) {
		struct rmp_raw b;
		uint64_t ab;

		rmp_rst_read(r, who, spa);
		if (!rmp_addr_of(r, RMP_REGION(spa), &ab))
			return RMP_FAULT_NONE;
		rmp_raw_read(r, who, ab, &b);
		if (rmp_raw_assigned(&b) || rmp_region_count(&b))
			return raise(r, who, f, RMP_FAULT_PF, code, spa);
		if (r->cfg.erratum_2m_inuse && rmp_inuse_find(r, RMP_REGION(spa), false) >= 0)
			return raise(r, who, f, RMP_FAULT_PF, code, spa);
		if (r->cfg.spurious_faults && rmp_lock_hit(r, who, spa, true))
			return raise(r, who, f, RMP_FAULT_PF | RAISE_SPURIOUS, code, spa);
		return RMP_FAULT_NONE;
	}
	{
		struct rmp_eff eff;

		rmp_lookup(r, who, spa, &eff);
		if (!eff.covered)
			return RMP_FAULT_NONE;
		if (rmp_raw_assigned(&eff.e))
			return raise(r, who, f, RMP_FAULT_PF, code, spa);
		if (r->cfg.spurious_faults && rmp_lock_hit(r, who, spa, false))
			return raise(r, who, f, RMP_FAULT_PF | RAISE_SPURIOUS, code, spa);
	}
	return RMP_FAULT_NONE;
}

enum rmp_fault_kind rmp_check_host(struct rmp *rmp, struct sim_who *who, uint64_t spa,
				   bool write, uint64_t map_size, struct rmp_fault *f)
{
	return rmp_check_host_access(rmp, who, spa, write ? RMP_HOST_WRITE : RMP_HOST_READ,
				     map_size, f);
}

static uint8_t perm_needed(enum rmp_access k)
{
	switch (k) {
	case RMP_ACC_READ:       return RMP_PERM_R;
	case RMP_ACC_WRITE:      return RMP_PERM_W;
	case RMP_ACC_FETCH_USER: return RMP_PERM_XU;
	case RMP_ACC_FETCH_SUP:  return RMP_PERM_XS;
	case RMP_ACC_PT_READ:    return RMP_PERM_R;
	case RMP_ACC_PT_WRITE:   return RMP_PERM_W;
	}
	return RMP_PERM_ALL;
}

static bool acc_fetch(enum rmp_access k) { return k == RMP_ACC_FETCH_USER || k == RMP_ACC_FETCH_SUP; }
static bool acc_pt(enum rmp_access k) { return k == RMP_ACC_PT_READ || k == RMP_ACC_PT_WRITE; }
static bool acc_write(enum rmp_access k) { return k == RMP_ACC_WRITE || k == RMP_ACC_PT_WRITE; }

/*
 * #NPF for guest access @a: EXITINFO1 from the access (plus ENC when
 * @private_, plus @extra), EXITINFO2 = the GPA.  Computed only here, on
 * the fault path.
 */
static RMP_COLD enum rmp_fault_kind guest_npf(struct rmp *r, const struct sim_who *who,
					      const struct rmp_gaccess *a,
					      struct rmp_fault *f, bool private_, uint64_t extra,
					      bool spurious)
{
	uint64_t code = RMP_NPF_P | RMP_NPF_RMP | (acc_pt(a->kind) ? RMP_NPF_PAGE : RMP_NPF_FINAL) |
			(acc_write(a->kind) ? RMP_NPF_W : 0) | (acc_fetch(a->kind) ? RMP_NPF_ID : 0) |
			(a->user || a->kind == RMP_ACC_FETCH_USER ? RMP_NPF_U : 0) |
			(private_ ? RMP_NPF_ENC : 0) | extra;

	if (spurious)
		rmp_lock_timeline(r, who, a->spa, false, "guest access faulted: entry locked");
	return raise(r, who, f, RMP_FAULT_NPF | (spurious ? RAISE_SPURIOUS : 0), code, a->gpa);
}

/*
 * Guest access.  Private: covered, guest-owned, reverse map, mutable, page
 * size, [lock], validated, VMPL.  Shared write, and every write and
 * page-table access of a non-SNP guest (APM Table 15-39, "Guest, not
 * SNP-active: data write, page table access"): hypervisor-owned.  The
 * lock is checked last among the #NPF checks, so a fault is called
 * spurious only when the access would otherwise have passed them.
 *
 * Page size is an equality (APM 15.36.10; KVM `sev_handle_rmp_fault`,
 * case 2: "Guest access via NPT can trigger an #NPF if the NPT mapping is
 * smaller than what is indicated by the 2MB RMP entry"): a 2M/1G nested
 * leaf needs a 2M entry and a 4K leaf a 4K entry.  Either mismatch is an
 * RMP #NPF without SIZEM, which belongs to PVALIDATE/RMPADJUST.
 */
enum rmp_fault_kind rmp_check_guest(struct rmp *rmp, struct sim_who *who,
				    const struct rmp_gaccess *a, struct rmp_fault *f)
{
	struct rmp *r = rmp;
	struct rmp_eff eff;
	bool private_;

	no_fault(f);
	if (!rmp_active(r))
		return RMP_FAULT_NONE;
	private_ = a->snp && (a->c_bit || acc_fetch(a->kind) || acc_pt(a->kind));
	if (!private_ && !acc_write(a->kind) && !acc_pt(a->kind))
		return RMP_FAULT_NONE;   /* shared read or fetch: not checked */
	r->ctr.checks_guest++;
	rmp_lookup(r, who, a->spa, &eff);   /* one call site: inlined */
	if (!private_) {
		/* Shared write, or a non-SNP guest's write or table access: hypervisor-owned. */
		if (!eff.covered)
			return RMP_FAULT_NONE;
		if (rmp_raw_assigned(&eff.e))
			return guest_npf(r, who, a, f, false, 0, false);
		if (r->cfg.spurious_faults && rmp_lock_hit(r, who, a->spa, false))
			return guest_npf(r, who, a, f, false, 0, true);
		return RMP_FAULT_NONE;
	}
	if (!eff.covered || !rmp_raw_assigned(&eff.e) || rmp_raw_asid(&eff.e) != a->asid ||
	    eff.gpa != (a->gpa & ~(SIM_SZ_4K - 1)) || rmp_raw_immutable(&eff.e))
		return guest_npf(r, who, a, f, true, 0, false);
	if ((a->map_size >= SIM_SZ_2M) != rmp_raw_2m(&eff.e))
		return guest_npf(r, who, a, f, true, 0, false);
	if (r->cfg.spurious_faults && rmp_lock_hit(r, who, a->spa, false))
		return guest_npf(r, who, a, f, true, 0, true);
	if (!rmp_raw_validated(&eff.e))
		return raise(r, who, f, RMP_FAULT_VC, RMP_VC_NOT_VALIDATED, a->gpa);
	if (a->vmpl != 0) {
		uint8_t need = perm_needed(a->kind);

		if (a->vmpl >= RMP_NUM_VMPL || (rmp_raw_perms(&eff.e, a->vmpl) & need) != need)
			return guest_npf(r, who, a, f, true, RMP_NPF_VMPL, false);
	}
	return RMP_FAULT_NONE;
}

/* DMA: writes (and reads with iommu_check_reads) must be hypervisor-owned. */
enum rmp_fault_kind rmp_check_dma(struct rmp *rmp, struct sim_who *who, uint64_t spa,
				  bool write, struct rmp_fault *f)
{
	struct rmp *r = rmp;
	struct rmp_eff eff;

	no_fault(f);
	if (!rmp_active(r) || (!write && !r->cfg.iommu_check_reads))
		return RMP_FAULT_NONE;
	r->ctr.checks_dma++;
	rmp_lookup(r, who, spa, &eff);
	if (eff.covered && rmp_raw_assigned(&eff.e))
		return raise(r, who, f, RMP_FAULT_IOMMU, write ? RMP_PF_W : 0, spa);
	return RMP_FAULT_NONE;
}

/* ------------------------------------------------------------------ */
/* VMRUN / #VMEXIT                                                     */
/* ------------------------------------------------------------------ */

static struct rmp_running *running_of(struct rmp *r, int agent)
{
	if (agent < 0 || agent > 1 << 20)
		return NULL;
	if (agent >= r->caprun) {
		int n = agent + 8;

		r->run = realloc(r->run, (size_t)n * sizeof(*r->run));
		if (!r->run)
			sim_fatal("rmp: out of memory");
		memset(r->run + r->caprun, 0, (size_t)(n - r->caprun) * sizeof(*r->run));
		r->caprun = n;
	}
	return &r->run[agent];
}

static bool page_ok(uint64_t spa)
{
	return !(spa & (SIM_SZ_4K - 1)) && spa < SIM_PA_LIMIT;
}

/* A page that must be hypervisor-owned for VMRUN (VMCB, AVIC). */
static bool hv_owned(struct rmp *r, struct sim_who *w, uint64_t spa)
{
	struct rmp_eff eff;

	rmp_lookup(r, w, spa, &eff);
	return !eff.covered || !rmp_raw_assigned(&eff.e);
}

/*
 * A failed VMRUN: #GP (counted in rmp.vmrun.gp) or the VMEXIT_INVALID
 * result (rmp.vmrun.vmexit_invalid).
 */
static enum rmp_fault_kind vmrun_fail(struct rmp *r, struct rmp_fault *f, enum rmp_fault_kind k)
{
	f->kind = k;
	if (k == RMP_FAULT_GP)
		r->ctr.vmrun_gp++;
	else
		r->ctr.vmrun_invalid++;
	return k;
}

/*
 * VMRUN.  Host mode => guest mode on who->agent: VMCB, VMSA and AVIC page
 * become in use.  Only the VMCB checks raise #GP; an AVIC backing page
 * that is not hypervisor-owned fails the VMRUN with VMEXIT_INVALID (APM
 * Table 15-41), as the VMSA checks do.  A misaligned AVIC page address is
 * illegal VMCB state, also VMEXIT_INVALID.
 */
enum rmp_fault_kind rmp_vmrun(struct rmp *rmp, struct sim_who *who,
			      const struct rmp_vmrun_in *in, struct rmp_fault *f)
{
	struct rmp *r = rmp;
	struct rmp_running *x;
	struct rmp_eff eff;
	int user;

	no_fault(f);
	if (!rmp_active(r))
		return RMP_FAULT_NONE;
	rmp_sync(r, who);
	x = running_of(r, who->agent);
	if (!x || x->active || !page_ok(in->vmcb) || !hv_owned(r, who, in->vmcb))
		return vmrun_fail(r, f, RMP_FAULT_GP);
	user = rmp_inuse_find(r, in->vmcb, false);
	if (user >= 0 && user != who->agent)
		return vmrun_fail(r, f, RMP_FAULT_GP);
	if (in->avic != RMP_NO_ADDR && (!page_ok(in->avic) || !hv_owned(r, who, in->avic)))
		return vmrun_fail(r, f, RMP_FAULT_VMEXIT_INVALID);
	if (in->asid == 0 || in->asid > r->cfg.max_asid || !page_ok(in->vmsa))
		return vmrun_fail(r, f, RMP_FAULT_VMEXIT_INVALID);
	rmp_lookup(r, who, in->vmsa, &eff);
	if (!eff.covered || !rmp_raw_assigned(&eff.e) || rmp_raw_asid(&eff.e) != in->asid ||
	    (in->vmsa_gpa != RMP_NO_ADDR && eff.gpa != (in->vmsa_gpa & ~(SIM_SZ_4K - 1))) ||
	    rmp_raw_immutable(&eff.e) || !rmp_raw_vmsa(&eff.e))
		return vmrun_fail(r, f, RMP_FAULT_VMEXIT_INVALID);
	user = rmp_inuse_find(r, in->vmsa, false);
	if (user >= 0 && user != who->agent)
		return vmrun_fail(r, f, RMP_FAULT_VMEXIT_INVALID);

	x->active = true;
	x->vmcb = in->vmcb;
	x->vmsa = in->vmsa;
	x->avic = in->avic;
	r->nrunning++;
	r->ctr.vmrun_ok++;
	return RMP_FAULT_NONE;
}

/* #VMEXIT.  Guest mode => host mode: the agent's pages are no longer in use. */
int rmp_vmexit(struct rmp *rmp, struct sim_who *who)
{
	struct rmp_running *x;

	if (!rmp_enabled(rmp))
		return 0;
	rmp_sync(rmp, who);
	if (who->agent < 0 || who->agent >= rmp->caprun)
		return -1;
	x = &rmp->run[who->agent];
	if (!x->active)
		return -1;
	x->active = false;
	rmp->nrunning--;
	rmp->ctr.vmexits++;
	return 0;
}
