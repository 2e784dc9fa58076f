/*
 * rmp_insn.c - the SNP instructions: RMPUPDATE, PSMASH, RMPREAD (host) and
 * PVALIDATE, RMPADJUST, RMPQUERY (guest).
 *
 * Each one is check (no side effects) then commit (cannot fail), as the
 * transitions of pKVM's mem_protect.c are: a struct insn carries the
 * instruction through insn_begin(), refusals end it with insn_fail() /
 * insn_fault(), and the commit with insn_commit() (entry lock) or
 * insn_done() (read-only).  The checks follow the APM vol. 3 instruction
 * pages in the order given in docs/rmp.md (the APM does not give an order
 * for RMPUPDATE's; docs/rmp.md says which protsim uses).  A successful
 * instruction holds the entry lock from who->now for its whole duration
 * (profile latency plus the memory cycles it spent on entries).
 */
#include "rmp/rmp_int.h"

#include <string.h>

/*
 * One instruction under way: the model, who runs it, which instruction,
 * its result, and the memory cycles its caller had spent before it (so
 * that the entry lock covers the instruction's own memory time).
 */
struct insn {
	struct rmp *r;
	struct sim_who *who;
	enum rmp_insn insn;
	struct rmp_result *res;
	uint64_t mem0;
	uint64_t writes0;   /* r->ctr.entry_writes at the start */
};

/*
 * Start instruction @insn: clear @res; #UD when SNP is off (return false:
 * the caller ends with insn_fail(x, RMP_RC_FAULT)); else order it among
 * the agents (rmp_sync) before it reads any entry or lock.
 */
static bool insn_begin(struct insn *x, struct rmp *r, struct sim_who *w, enum rmp_insn insn,
		       struct rmp_result *res, bool page_2m)
{
	x->r = r;
	x->who = w;
	x->insn = insn;
	x->res = res;
	x->mem0 = w->mem_cycles;
	x->writes0 = r ? r->ctr.entry_writes : 0;
	memset(res, 0, sizeof(*res));
	res->page_2m = page_2m;
	if (rmp_enabled(r)) {
		rmp_sync(r, w);
		return true;
	}
	res->fault.kind = RMP_FAULT_UD;
	return false;
}

static void count_fault(struct rmp *r, const struct rmp_fault *f)
{
	if (!r)
		return;
	switch (f->kind) {
	case RMP_FAULT_PF:    r->ctr.faults_pf++; break;
	case RMP_FAULT_NPF:   r->ctr.faults_npf++; break;
	case RMP_FAULT_VC:    r->ctr.faults_vc++; break;
	case RMP_FAULT_IOMMU: r->ctr.faults_iommu++; break;
	default: break;
	}
}

/*
 * Finish @x with @rc: latency, stats, and on success with @lock the entry
 * lock on @spa (2M region if @lock_2m) for the instruction's duration.  A
 * successful RMPUPDATE or PSMASH with update_flush_tlb also flushes every
 * TLB (its cost is in the latency, so the lock is held through it); every
 * successful instruction that wrote entries tells the change hooks.
 */
static enum rmp_rc insn_end(struct insn *x, enum rmp_rc rc, bool lock, uint64_t spa, bool lock_2m)
{
	struct rmp *r = x->r;
	struct rmp_result *res = x->res;

	res->rc = rc;
	if (!r) {
		res->latency = 0;
		return rc;
	}
	res->latency = rmp_latency(r, x->insn, res->page_2m, rc);
	if (rc == RMP_RC_FAULT) {
		r->ctr.insn_fault[x->insn]++;
		count_fault(r, &res->fault);
	} else {
		r->ctr.insn[x->insn][rc]++;
	}
	if (rc == RMP_RC_SUCCESS && lock)
		rmp_lock_add(r, x->who, spa, lock_2m, res->latency + (x->who->mem_cycles - x->mem0));
	if (rc == RMP_RC_SUCCESS && (x->insn == RMP_INSN_RMPUPDATE || x->insn == RMP_INSN_PSMASH) &&
	    r->cfg.update_flush_tlb)
		r->ctr.tlb_flushes++;
	if (rc == RMP_RC_SUCCESS && r->ctr.entry_writes != x->writes0)
		for (unsigned i = 0; i < r->nhooks; i++)
			r->hook[i].fn(r->hook[i].arg, x->insn, lock_2m ? RMP_REGION(spa) : spa,
				      lock_2m ? SIM_SZ_2M : SIM_SZ_4K);
	return rc;
}

/* A check refused the instruction (@rc, or RMP_RC_FAULT with res->fault set): nothing changed. */
static enum rmp_rc insn_fail(struct insn *x, enum rmp_rc rc)
{
	return insn_end(x, rc, false, 0, false);
}

/* Success: the entries of @spa were (or could have been) changed; the entry lock is taken. */
static enum rmp_rc insn_commit(struct insn *x, uint64_t spa, bool lock_2m)
{
	return insn_end(x, RMP_RC_SUCCESS, true, spa, lock_2m);
}

/* Success of a read-only instruction: no lock. */
static enum rmp_rc insn_done(struct insn *x)
{
	return insn_end(x, RMP_RC_SUCCESS, false, 0, false);
}

bool rmp_update_flushes_tlb(const struct rmp *rmp)
{
	return rmp_active(rmp) && rmp->cfg.update_flush_tlb;
}

void rmp_add_change_hook(struct rmp *rmp, rmp_change_fn fn, void *arg)
{
	if (rmp->nhooks == RMP_MAX_HOOKS)
		sim_fatal("rmp: more than %d change hooks", RMP_MAX_HOOKS);
	rmp->hook[rmp->nhooks].fn = fn;
	rmp->hook[rmp->nhooks].arg = arg;
	rmp->nhooks++;
}

/* A fault of the instruction: @kind with @code at @addr. */
static enum rmp_rc insn_fault(struct insn *x, enum rmp_fault_kind kind, uint64_t code,
			      uint64_t addr)
{
	x->res->fault.kind = kind;
	x->res->fault.code = code;
	x->res->fault.addr = addr;
	return insn_fail(x, RMP_RC_FAULT);
}

static uint64_t new_hi(uint64_t old_hi)
{
	/* VMPL1..3 lose every permission; the region count stays. */
	return old_hi & RMP_HI_COUNT_MASK;
}

/* ------------------------------------------------------------------ */
/* RMPUPDATE                                                           */
/* ------------------------------------------------------------------ */

static enum rmp_rc update_input_check(const struct rmp *r, uint64_t spa,
				      const struct rmp_update_in *in)
{
	uint64_t size = in->page_2m ? SIM_SZ_2M : SIM_SZ_4K, a;

	if (spa & (size - 1) || !rmp_addr_of(r, spa, &a))
		return RMP_RC_FAIL_INPUT;
	if (in->page_2m && !rmp_addr_of(r, spa + SIM_SZ_2M - 1, &a))
		return RMP_RC_FAIL_INPUT;
	if (in->reserved || in->asid > r->cfg.max_asid)
		return RMP_RC_FAIL_INPUT;
	if (in->gpa & (size - 1) || in->gpa & ~RMP_LO_GPA_MASK)
		return RMP_RC_FAIL_INPUT;
	if (in->assigned && in->asid == 0 && !in->immutable)
		return RMP_RC_FAIL_INPUT;
	if (!in->assigned && (in->asid != 0 || in->immutable))
		return RMP_RC_FAIL_INPUT;
	return RMP_RC_SUCCESS;
}

/*
 * Write the 2M-base entry @base at @ab and the raw entries of the 511
 * other pages of its region: RMP_LO_SUB2M marks (@mark) or zero, in one
 * 8 KiB write (timed when @w is non-NULL), as PSMASH writes its entries.
 */
static void write_region(struct rmp *r, struct sim_who *w, uint64_t ab,
			 const struct rmp_raw *base, bool mark)
{
	uint8_t *buf = r->scratch;

	for (unsigned i = 0; i < 512; i++) {
		uint64_t lo = i == 0 ? base->lo : mark ? RMP_LO_SUB2M : 0;
		uint64_t hi = i == 0 ? base->hi : 0;

		for (int b = 0; b < 8; b++) {
			buf[16 * i + (unsigned)b] = (uint8_t)(lo >> (8 * b));
			buf[16 * i + 8 + (unsigned)b] = (uint8_t)(hi >> (8 * b));
		}
	}
	if (w) {
		w->mem_cycles += sim_mem_write(r->mem, w->agent, SIM_SRC_RMP, ab, buf,
					       512 * RMP_ENTRY_SIZE);
		r->ctr.entry_writes += 512;
	} else {
		sim_mem_poke(r->mem, ab, buf, 512 * RMP_ENTRY_SIZE);
	}
}

/*
 * RMPUPDATE.  Any mutable state => @in: assigned, size, immutable, GPA,
 * ASID from @in; Validated = 0, VMSA = 0, VMPL1..3 permissions = none.
 * Assigning a 2M page marks its 511 other raw entries (RMP_LO_SUB2M);
 * unassigning it clears them.
 */
enum rmp_rc rmp_update(struct rmp *rmp, struct sim_who *who, uint64_t spa,
		       const struct rmp_update_in *in, struct rmp_result *res)
{
	struct rmp *r = rmp;
	struct insn x;
	uint64_t a, ab;
	struct rmp_raw cur, base, n;
	enum rmp_lock_hit lh;
	enum rmp_rc rc;
	bool was4k, is4k, was2m, is2m;

	if (!insn_begin(&x, rmp, who, RMP_INSN_RMPUPDATE, res, in->page_2m))
		return insn_fail(&x, RMP_RC_FAULT);
	rc = update_input_check(r, spa, in);
	if (rc != RMP_RC_SUCCESS)
		return insn_fail(&x, rc);
	rmp_rst_read(r, who, spa);
	rmp_addr_of(r, spa, &a);
	rmp_addr_of(r, RMP_REGION(spa), &ab);
	rmp_raw_read(r, who, a, &cur);
	if (a == ab)
		base = cur;
	else
		rmp_raw_read(r, who, ab, &base);

	if (rmp_raw_immutable(&cur))
		return insn_fail(&x, RMP_RC_FAIL_PERMISSION);
	if (rmp_inuse_find(r, spa, in->page_2m) >= 0)
		return insn_fail(&x, RMP_RC_FAIL_INUSE);
	lh = rmp_lock_conflict(r, who, spa, in->page_2m);
	if (lh != RMP_LOCK_NONE) {
		r->ctr.lock_conflicts++;
		rmp_lock_timeline(r, who, spa, in->page_2m, "rmpupdate refused: entry locked");
		return insn_fail(&x, lh == RMP_LOCK_SAME ? RMP_RC_FAIL_INUSE : RMP_RC_FAIL_OVERLAP);
	}
	if (in->page_2m ? rmp_region_count(&base) != 0
			: (a != ab && rmp_raw_assigned(&base) && rmp_raw_2m(&base)) ||
			  (a == ab && rmp_raw_assigned(&cur) && rmp_raw_2m(&cur)))
		return insn_fail(&x, RMP_RC_FAIL_OVERLAP);

	/* Commit: the entry (any mutable state) => @in, Validated/VMSA/VMPL1..3 cleared. */
	n.lo = (in->assigned ? RMP_LO_ASSIGNED : 0) | (in->page_2m ? RMP_LO_PAGESIZE : 0) |
	       (in->immutable ? RMP_LO_IMMUTABLE : 0) | (in->gpa & RMP_LO_GPA_MASK) |
	       ((uint64_t)in->asid << RMP_LO_ASID_SHIFT);
	n.hi = new_hi(cur.hi);
	was4k = rmp_raw_assigned(&cur) && !rmp_raw_2m(&cur);
	is4k = in->assigned && !in->page_2m;
	was2m = a == ab && rmp_raw_assigned(&cur) && rmp_raw_2m(&cur);
	is2m = in->assigned && in->page_2m;
	if (was4k != is4k) {
		uint64_t cnt = rmp_region_count(&base) + (is4k ? 1u : 0u) - (was4k ? 1u : 0u);

		if (a == ab) {
			n.hi = (n.hi & ~RMP_HI_COUNT_MASK) | (cnt << RMP_HI_COUNT_SHIFT);
		} else {
			base.hi = (base.hi & ~RMP_HI_COUNT_MASK) | (cnt << RMP_HI_COUNT_SHIFT);
			rmp_raw_write_hi(r, who, ab, base.hi);
		}
	}
	if (was2m != is2m)
		write_region(r, who, a, &n, is2m);
	else
		rmp_raw_write(r, who, a, &n);
	return insn_commit(&x, spa, in->page_2m);
}

void rmp_update_in_decode(const uint8_t raw[16], struct rmp_update_in *in)
{
	uint64_t gpa = 0;

	for (int i = 7; i >= 0; i--)
		gpa = (gpa << 8) | raw[i];
	memset(in, 0, sizeof(*in));
	in->gpa = gpa;
	in->assigned = raw[8] & 1;
	in->page_2m = raw[9] & 1;
	in->immutable = raw[10] & 1;
	in->asid = (uint32_t)raw[12] | (uint32_t)raw[13] << 8 | (uint32_t)raw[14] << 16 |
		   (uint32_t)raw[15] << 24;
	in->reserved = (uint64_t)(raw[8] & 0xfe) | (uint64_t)(raw[9] & 0xfe) << 8 |
		       (uint64_t)(raw[10] & 0xfe) << 16 | (uint64_t)raw[11] << 24;
}

/* ------------------------------------------------------------------ */
/* PSMASH                                                              */
/* ------------------------------------------------------------------ */

/*
 * PSMASH.  Assigned 2M entry => 512 assigned 4K entries with GPA base+i*4K
 * and the same ASID, immutable, Validated, VMSA and VMPL permissions.
 */
enum rmp_rc rmp_psmash(struct rmp *rmp, struct sim_who *who, uint64_t spa,
		       struct rmp_result *res)
{
	struct rmp *r = rmp;
	struct insn x;
	uint64_t ab, a;
	struct rmp_raw e2;
	uint8_t *buf;

	if (!insn_begin(&x, rmp, who, RMP_INSN_PSMASH, res, true))
		return insn_fail(&x, RMP_RC_FAULT);
	if (spa & (SIM_SZ_2M - 1) || !rmp_addr_of(r, spa, &ab) ||
	    !rmp_addr_of(r, spa + SIM_SZ_2M - 1, &a))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	rmp_rst_read(r, who, spa);
	rmp_raw_read(r, who, ab, &e2);
	if (rmp_raw_immutable(&e2))
		return insn_fail(&x, RMP_RC_FAIL_PERMISSION);
	if (rmp_inuse_find(r, spa, true) >= 0)
		return insn_fail(&x, RMP_RC_FAIL_INUSE);
	if (rmp_lock_conflict(r, who, spa, true) != RMP_LOCK_NONE) {
		r->ctr.lock_conflicts++;
		rmp_lock_timeline(r, who, spa, true, "psmash refused: entry locked");
		return insn_fail(&x, RMP_RC_FAIL_INUSE);
	}
	if (!rmp_raw_assigned(&e2) || !rmp_raw_2m(&e2))
		return insn_fail(&x, RMP_RC_FAIL_BADADDR);

	/*
	 * Commit: one assigned 2M entry => 512 assigned 4K entries (the
	 * sub-entry marks replaced), in one 8 KiB write.
	 */
	buf = r->scratch;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t lo = (e2.lo & ~(RMP_LO_PAGESIZE | RMP_LO_GPA_MASK)) |
			      ((rmp_raw_gpa(&e2) + (uint64_t)i * SIM_SZ_4K) & RMP_LO_GPA_MASK);
		uint64_t hi = (e2.hi & RMP_HI_PERMS_MASK) |
			      (i == 0 ? 512ull << RMP_HI_COUNT_SHIFT : 0);

		for (int b = 0; b < 8; b++) {
			buf[16 * i + (unsigned)b] = (uint8_t)(lo >> (8 * b));
			buf[16 * i + 8 + (unsigned)b] = (uint8_t)(hi >> (8 * b));
		}
	}
	who->mem_cycles += sim_mem_write(r->mem, who->agent, SIM_SRC_RMP, ab, buf,
					 512 * RMP_ENTRY_SIZE);
	r->ctr.entry_writes += 512;
	return insn_commit(&x, spa, true);
}

/* ------------------------------------------------------------------ */
/* RMPREAD                                                             */
/* ------------------------------------------------------------------ */

enum rmp_rc rmp_read(struct rmp *rmp, struct sim_who *who, uint64_t spa,
		     struct rmp_read_out *out, struct rmp_result *res)
{
	struct rmp *r = rmp;
	struct insn x;
	uint64_t ab;
	struct rmp_eff eff;
	struct rmp_raw base;
	struct rmp_entry *e = &out->ent;

	memset(out, 0, sizeof(*out));
	out->ent.perms[0] = RMP_PERM_ALL;
	if (!insn_begin(&x, rmp, who, RMP_INSN_RMPREAD, res, false))
		return insn_fail(&x, RMP_RC_FAULT);
	if (spa & (SIM_SZ_4K - 1) || !rmp_is_covered(r, spa))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	rmp_lookup(r, who, spa, &eff);
	rmp_decode(&eff.e, eff.gpa, e);
	rmp_addr_of(r, RMP_REGION(spa), &ab);
	if (eff.have_base)
		base = eff.base;
	else
		rmp_raw_read(r, who, ab, &base);
	e->hpage_region_status = rmp_region_count(&base) != 0;
	for (int b = 0; b < 8; b++)
		out->raw[b] = (uint8_t)(e->gpa >> (8 * b));
	out->raw[8] = e->assigned;
	out->raw[9] = (uint8_t)(e->page_2m | (e->hpage_region_status << 1));
	out->raw[10] = e->immutable;
	for (int b = 0; b < 4; b++)
		out->raw[12 + b] = (uint8_t)(e->asid >> (8 * b));
	for (unsigned v = 0; v < RMP_NUM_VMPL; v++)
		res->perms[v] = e->perms[v];
	return insn_done(&x);
}

/* ------------------------------------------------------------------ */
/* Guest instructions                                                  */
/* ------------------------------------------------------------------ */

/*
 * The RMP access checks a guest instruction makes on its page (private
 * access): covered, guest-owned, reverse map, mutable, and a 2M nested
 * leaf on a 4K entry (an RMP #NPF without SIZEM: SIZEM marks only an
 * instruction whose own size is below the entry's, KVM
 * `sev_handle_rmp_fault` case 1; the callers raise that one).  Reads the
 * effective entry of @spa into @eff.
 * Return: 0, or the EXITINFO1 of the #NPF to raise.
 */
static uint64_t ginsn_access(struct rmp *r, struct sim_who *w, const struct rmp_gpage *pg,
			     uint64_t spa, uint64_t gpa, struct rmp_eff *eff)
{
	const uint64_t npf = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL;

	rmp_lookup(r, w, spa, eff);
	if (!eff->covered)
		return npf;
	if (!rmp_raw_assigned(&eff->e) || rmp_raw_asid(&eff->e) != pg->asid)
		return npf;
	if (eff->gpa != (gpa & ~(SIM_SZ_4K - 1)))
		return npf;
	if (rmp_raw_immutable(&eff->e))
		return npf;
	if (pg->map_size >= SIM_SZ_2M && !rmp_raw_2m(&eff->e))
		return npf;
	return 0;
}

/*
 * The input check of a guest instruction: the address it names aligned to
 * the request's size (the guest's own operand: FAIL_INPUT), the page it
 * translates to 4K aligned.  For a 2M request the translation's alignment
 * is only known to matter once the RMP entry is found to be 2M: a 2M
 * request whose GPA lies in a 4K nested leaf meets a 4K entry and gets
 * FAIL_SIZEMISMATCH (APM Table 15-40; the Linux guest's 2M-then-4K
 * fallback relies on it), see spa_aligned_2m().
 */
static bool gpage_aligned(const struct rmp_gpage *pg, bool page_2m)
{
	uint64_t size = page_2m ? SIM_SZ_2M : SIM_SZ_4K;

	return !(pg->gpa & (size - 1)) && !(pg->spa & (SIM_SZ_4K - 1)) && pg->spa < SIM_PA_LIMIT;
}

/* A 2M request on a 2M entry: the page itself must be the 2M page's base. */
static bool spa_aligned_2m(const struct rmp_gpage *pg, bool page_2m)
{
	return !page_2m || !(pg->spa & (SIM_SZ_2M - 1));
}

/*
 * PVALIDATE.  Guest-owned, Validated = !@validate => Validated = @validate.
 */
enum rmp_rc rmp_pvalidate(struct rmp *rmp, struct sim_who *who, const struct rmp_gpage *pg,
			  bool page_2m, bool validate, struct rmp_result *res)
{
	struct rmp *r = rmp;
	struct insn x;
	uint64_t npf;
	struct rmp_eff eff;

	if (!insn_begin(&x, rmp, who, RMP_INSN_PVALIDATE, res, page_2m))
		return insn_fail(&x, RMP_RC_FAULT);
	if (pg->vmpl != 0)
		return insn_fault(&x, RMP_FAULT_GP, 0, 0);
	if (!gpage_aligned(pg, page_2m))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	npf = ginsn_access(r, who, pg, pg->spa, pg->gpa, &eff);
	if (!npf && !page_2m && rmp_raw_2m(&eff.e))
		npf = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL | RMP_NPF_SIZEM;
	if (npf)
		return insn_fault(&x, RMP_FAULT_NPF, npf, pg->gpa);
	if (page_2m && !rmp_raw_2m(&eff.e))
		return insn_fail(&x, RMP_RC_FAIL_SIZEMISMATCH);
	if (!spa_aligned_2m(pg, page_2m))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	if (rmp_lock_conflict(r, who, pg->spa, page_2m) != RMP_LOCK_NONE) {
		r->ctr.lock_conflicts++;
		rmp_lock_timeline(r, who, pg->spa, page_2m, "pvalidate refused: entry locked");
		return insn_fail(&x, RMP_RC_FAIL_INUSE);
	}
	if (rmp_raw_validated(&eff.e) == validate) {
		r->ctr.pvalidate_unchanged++;
		res->changed = false;
		return insn_commit(&x, pg->spa, page_2m);
	}
	/* Commit: Validated !@validate => @validate. */
	eff.e.lo = validate ? eff.e.lo | RMP_LO_VALIDATED : eff.e.lo & ~RMP_LO_VALIDATED;
	rmp_raw_write_lo(r, who, eff.addr, eff.e.lo);
	res->changed = true;
	return insn_commit(&x, pg->spa, page_2m);
}

/*
 * RMPADJUST.  Guest-owned, validated => VMPL @target's mask = @perms, and
 * (VMPL0) VMSA = @vmsa.  At VMPL > 0 the VMSA input is ignored, without
 * error (AMD APM vol. 3 RMPADJUST; edk2 `BaseVmsaRmpAdjust`: "the VMSA change
 * is only made when running at VMPL0 and is ignored otherwise").
 */
enum rmp_rc rmp_adjust(struct rmp *rmp, struct sim_who *who, const struct rmp_gpage *pg,
		       bool page_2m, unsigned target, uint8_t perms, bool vmsa,
		       struct rmp_result *res)
{
	struct rmp *r = rmp;
	struct insn x;
	uint64_t npf;
	struct rmp_eff eff;
	uint8_t mine;

	if (!insn_begin(&x, rmp, who, RMP_INSN_RMPADJUST, res, page_2m))
		return insn_fail(&x, RMP_RC_FAULT);
	if (pg->vmpl >= RMP_NUM_VMPL)
		return insn_fault(&x, RMP_FAULT_GP, 0, 0);
	if (pg->vmpl != 0)
		vmsa = false;   /* ignored: never checked, never written */
	if (target >= RMP_NUM_VMPL || (perms & RMP_PERM_RSVD) ||
	    ((perms & RMP_PERM_W) && !(perms & RMP_PERM_R)) || !gpage_aligned(pg, page_2m) ||
	    (vmsa && page_2m))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	if (target <= pg->vmpl)
		return insn_fail(&x, RMP_RC_FAIL_PERMISSION);
	npf = ginsn_access(r, who, pg, pg->spa, pg->gpa, &eff);
	if (!npf && !page_2m && rmp_raw_2m(&eff.e))
		npf = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL | RMP_NPF_SIZEM;
	if (npf)
		return insn_fault(&x, RMP_FAULT_NPF, npf, pg->gpa);
	if (page_2m && !rmp_raw_2m(&eff.e))
		return insn_fail(&x, RMP_RC_FAIL_SIZEMISMATCH);
	if (!spa_aligned_2m(pg, page_2m))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	if (!rmp_raw_validated(&eff.e))
		return insn_fault(&x, RMP_FAULT_VC, RMP_VC_NOT_VALIDATED, pg->gpa);
	mine = rmp_raw_perms(&eff.e, pg->vmpl);
	if (perms & ~mine)
		return insn_fail(&x, RMP_RC_FAIL_PERMISSION);
	if (rmp_inuse_find(r, pg->spa, page_2m) >= 0)
		return insn_fail(&x, RMP_RC_FAIL_INUSE);
	if (rmp_lock_conflict(r, who, pg->spa, page_2m) != RMP_LOCK_NONE) {
		r->ctr.lock_conflicts++;
		rmp_lock_timeline(r, who, pg->spa, page_2m, "rmpadjust refused: entry locked");
		return insn_fail(&x, RMP_RC_FAIL_INUSE);
	}
	/* Commit: VMPL @target's mask => @perms; (VMPL0) VMSA => @vmsa. */
	eff.e.hi = (eff.e.hi & ~(0xffull << RMP_HI_PERM_SHIFT(target))) |
		   (uint64_t)perms << RMP_HI_PERM_SHIFT(target);
	if (pg->vmpl == 0)
		eff.e.lo = vmsa ? eff.e.lo | RMP_LO_VMSA : eff.e.lo & ~RMP_LO_VMSA;
	rmp_raw_write(r, who, eff.addr, &eff.e);
	return insn_commit(&x, pg->spa, page_2m);
}

/* RMPQUERY: read-only; no lock. */
enum rmp_rc rmp_query(struct rmp *rmp, struct sim_who *who, const struct rmp_gpage *pg,
		      struct rmp_result *res)
{
	struct rmp *r = rmp;
	struct insn x;
	uint64_t npf;
	struct rmp_eff eff;

	if (!insn_begin(&x, rmp, who, RMP_INSN_RMPQUERY, res, false))
		return insn_fail(&x, RMP_RC_FAULT);
	if (pg->vmpl >= RMP_NUM_VMPL)
		return insn_fault(&x, RMP_FAULT_GP, 0, 0);
	if (!gpage_aligned(pg, false))
		return insn_fail(&x, RMP_RC_FAIL_INPUT);
	npf = ginsn_access(r, who, pg, pg->spa, pg->gpa, &eff);
	if (npf)
		return insn_fault(&x, RMP_FAULT_NPF, npf, pg->gpa);
	for (unsigned v = 0; v < RMP_NUM_VMPL; v++)
		res->perms[v] = rmp_raw_perms(&eff.e, v);
	insn_done(&x);
	res->page_2m = rmp_raw_2m(&eff.e);
	return RMP_RC_SUCCESS;
}
