/*
 * rmp.c - the Reverse Map Table itself: geometry (contiguous and
 * segmented), entry encoding, effective-entry lookup with 2M semantics,
 * names, latencies, fault tokens and statistics.
 *
 * See 'Reverse Map Table' in the APM vol. 2 §15.36 and the segmented-RMP
 * documentation (Documentation/arch/x86/amd-memory-encryption.rst).
 */
#include "rmp/rmp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SZ_1M (1ull << 20)
#define SZ_1G (1ull << 30)
#define SEG_RMP_PER_GB (4ull << 20)   /* 256 Ki entries x 16 B per GB covered */

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

/* ------------------------------------------------------------------ */
/* Names and tables                                                    */
/* ------------------------------------------------------------------ */

static const char *const insn_names[RMP_INSN_COUNT] = {
#define RMP_INSN(id, name, rcs) [RMP_INSN_##id] = name,
#include "rmp/rmp_insns.def"
#undef RMP_INSN
};

static const unsigned insn_rcs[RMP_INSN_COUNT] = {
#define RMP_INSN(id, name, rcs) [RMP_INSN_##id] = (rcs),
#include "rmp/rmp_insns.def"
#undef RMP_INSN
};

const char *rmp_insn_name(enum rmp_insn insn)
{
	if ((unsigned)insn >= RMP_INSN_COUNT)
		return "?";
	return insn_names[insn];
}

unsigned rmp_insn_rc_mask(enum rmp_insn insn)
{
	if ((unsigned)insn >= RMP_INSN_COUNT)
		return 0;
	return insn_rcs[insn];
}

const char *rmp_rc_name(enum rmp_insn insn, enum rmp_rc rc)
{
	switch ((unsigned)rc) {
	case RMP_RC_SUCCESS:           return "SUCCESS";
	case RMP_RC_FAIL_INPUT:        return "FAIL_INPUT";
	case RMP_RC_FAIL_PERMISSION:   return "FAIL_PERMISSION";
	case RMP_RC_FAIL_INUSE:        return "FAIL_INUSE";
	case 4:                        return insn == RMP_INSN_PSMASH ? "FAIL_BADADDR" : "FAIL_OVERLAP";
	case RMP_RC_FAIL_SIZEMISMATCH: return "FAIL_SIZEMISMATCH";
	case RMP_RC_FAULT:             return "FAULT";
	default:                       return "?";
	}
}

uint32_t rmp_latency(const struct rmp *rmp, enum rmp_insn insn, bool page_2m, enum rmp_rc rc)
{
	const struct rmp_lat *l;
	uint32_t flush = 0;

	if (!rmp || (unsigned)insn >= RMP_INSN_COUNT)
		return 0;
	l = &rmp->cfg.lat;
	if (rc != RMP_RC_SUCCESS)
		return l->fail;
	if ((insn == RMP_INSN_RMPUPDATE || insn == RMP_INSN_PSMASH) && rmp->cfg.update_flush_tlb)
		flush = l->tlb_flush;
	if (page_2m && insn == RMP_INSN_RMPUPDATE)
		return l->rmpupdate_2m + flush;
	if (page_2m && insn == RMP_INSN_PVALIDATE)
		return l->pvalidate_2m;
	return l->insn[insn] + flush;
}

/* ------------------------------------------------------------------ */
/* Fault tokens                                                        */
/* ------------------------------------------------------------------ */

struct flag_name {
	uint64_t bit;
	const char *name;
};

/* ORDER: the order items print in (see rmp_fault_format()). */
static const struct flag_name npf_flags[] = {
	{ RMP_NPF_W, "W" },       { RMP_NPF_U, "U" },         { RMP_NPF_ID, "ID" },
	{ RMP_NPF_RMP, "RMP" },   { RMP_NPF_ENC, "ENC" },     { RMP_NPF_FINAL, "FINAL" },
	{ RMP_NPF_PAGE, "PAGE" }, { RMP_NPF_SIZEM, "SIZEM" }, { RMP_NPF_VMPL, "VMPL" },
	{ RMP_NPF_SSS, "SSS" },   { 0, NULL },
};
static const struct flag_name pf_flags[] = {
	{ RMP_PF_W, "W" }, { RMP_PF_U, "U" }, { RMP_PF_ID, "ID" }, { RMP_PF_RMP, "RMP" }, { 0, NULL },
};

static int format_flags(char *buf, size_t len, const char *name, const struct flag_name *fl,
			uint64_t code)
{
	char items[128];
	size_t n = 0;

	/* on every RMP fault: the names joined without snprintf (each is short) */
	for (; fl->name; fl++) {
		size_t l = strlen(fl->name);

		if (!(code & fl->bit) || n + l + 2 >= sizeof(items))
			continue;
		if (n)
			items[n++] = ',';
		memcpy(items + n, fl->name, l);
		n += l;
	}
	items[n] = 0;
	if (!n)
		return snprintf(buf, len, "%s", name);
	return snprintf(buf, len, "%s(%s)", name, items);
}

int rmp_fault_format(const struct rmp_fault *f, char *buf, size_t len)
{
	switch (f->kind) {
	case RMP_FAULT_NONE:           return snprintf(buf, len, "OK");
	case RMP_FAULT_PF:             return format_flags(buf, len, "#PF", pf_flags, f->code);
	case RMP_FAULT_NPF:            return format_flags(buf, len, "#NPF", npf_flags, f->code);
	case RMP_FAULT_VC:             return snprintf(buf, len, "#VC(0x%llx)", (unsigned long long)f->code);
	case RMP_FAULT_GP:             return snprintf(buf, len, "#GP");
	case RMP_FAULT_UD:             return snprintf(buf, len, "#UD");
	case RMP_FAULT_VMEXIT_INVALID: return snprintf(buf, len, "VMEXIT_INVALID");
	case RMP_FAULT_IOMMU:          return snprintf(buf, len, "IO_PAGE_FAULT(RMP)");
	}
	return snprintf(buf, len, "?");
}

/* ------------------------------------------------------------------ */
/* Geometry                                                            */
/* ------------------------------------------------------------------ */

bool rmp_is_covered(const struct rmp *rmp, uint64_t spa)
{
	uint64_t a;

	return rmp && rmp_addr_of(rmp, spa, &a);
}

bool rmp_entry_addr(const struct rmp *rmp, uint64_t spa, uint64_t *addr)
{
	uint64_t a;

	/* *@addr is left alone when not covered (rmp_addr_of() zeroes its output). */
	if (!rmp || !rmp_addr_of(rmp, spa, &a))
		return false;
	*addr = a;
	return true;
}

/* ------------------------------------------------------------------ */
/* Entry access                                                        */
/* ------------------------------------------------------------------ */

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void rmp_raw_write(struct rmp *r, struct sim_who *w, uint64_t addr, const struct rmp_raw *e)
{
	uint8_t b[16];

	put_le64(b, e->lo);
	put_le64(b + 8, e->hi);
	if (w) {
		w->mem_cycles += sim_mem_write(r->mem, w->agent, SIM_SRC_RMP, addr, b, sizeof(b));
		r->ctr.entry_writes++;
	} else {
		sim_mem_poke(r->mem, addr, b, sizeof(b));
	}
}

static void write_q(struct rmp *r, struct sim_who *w, uint64_t addr, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	if (w) {
		w->mem_cycles += sim_mem_write(r->mem, w->agent, SIM_SRC_RMP, addr, b, sizeof(b));
		r->ctr.entry_writes++;
	} else {
		sim_mem_poke(r->mem, addr, b, sizeof(b));
	}
}

void rmp_raw_write_lo(struct rmp *r, struct sim_who *w, uint64_t addr, uint64_t lo)
{
	write_q(r, w, addr, lo);
}

void rmp_raw_write_hi(struct rmp *r, struct sim_who *w, uint64_t addr, uint64_t hi)
{
	write_q(r, w, addr + 8, hi);
}

uint32_t rmp_region_count(const struct rmp_raw *base_entry)
{
	return (uint32_t)((base_entry->hi & RMP_HI_COUNT_MASK) >> RMP_HI_COUNT_SHIFT);
}

void rmp_decode(const struct rmp_raw *e, uint64_t gpa, struct rmp_entry *ent)
{
	memset(ent, 0, sizeof(*ent));
	ent->assigned = rmp_raw_assigned(e);
	ent->page_2m = rmp_raw_2m(e);
	ent->immutable = rmp_raw_immutable(e);
	ent->vmsa = rmp_raw_vmsa(e);
	ent->validated = rmp_raw_validated(e);
	ent->asid = rmp_raw_asid(e);
	ent->gpa = gpa;
	for (unsigned v = 0; v < RMP_NUM_VMPL; v++)
		ent->perms[v] = rmp_raw_perms(e, v);
	ent->raw_lo = e->lo;
	ent->raw_hi = e->hi;
}

/* hpage_region_status of @spa's region, untimed. */
static bool region_status(struct rmp *r, uint64_t spa)
{
	struct rmp_raw b;
	uint64_t a;

	if (!rmp_addr_of(r, RMP_REGION(spa), &a))
		return false;
	rmp_raw_read(r, NULL, a, &b);
	return rmp_region_count(&b) != 0;
}

bool rmp_entry_get(const struct rmp *rmp, uint64_t spa, struct rmp_entry *ent)
{
	struct rmp *r = (struct rmp *)rmp;   /* untimed: nothing is modified */
	struct rmp_raw e;
	uint64_t a;

	memset(ent, 0, sizeof(*ent));
	ent->perms[0] = RMP_PERM_ALL;
	if (!rmp || !rmp_addr_of(rmp, spa, &a))
		return false;
	rmp_raw_read(r, NULL, a, &e);
	rmp_decode(&e, rmp_raw_gpa(&e), ent);
	ent->hpage_region_status = region_status(r, spa);
	return true;
}

bool rmp_entry_effective(const struct rmp *rmp, uint64_t spa, struct rmp_entry *ent)
{
	struct rmp *r = (struct rmp *)rmp;   /* untimed: nothing is modified */
	struct rmp_eff eff;

	memset(ent, 0, sizeof(*ent));
	ent->perms[0] = RMP_PERM_ALL;
	if (!rmp || rmp->cfg.mode == RMP_MODE_OFF)
		return false;
	rmp_lookup(r, NULL, spa, &eff);
	if (!eff.covered)
		return false;
	rmp_decode(&eff.e, eff.gpa, ent);
	ent->hpage_region_status = region_status(r, spa);
	return true;
}

uint64_t rmp_level(const struct rmp *rmp, uint64_t spa)
{
	struct rmp_entry e;

	if (rmp_entry_effective(rmp, spa, &e) && e.assigned && e.page_2m)
		return SIM_SZ_2M;
	return SIM_SZ_4K;
}

/* Add @delta to the assigned-4K count kept in the 2M-base entry of @spa's region. */
static void count_add_untimed(struct rmp *r, uint64_t spa, int delta)
{
	struct rmp_raw b;
	uint64_t a, n;

	if (!rmp_addr_of(r, RMP_REGION(spa), &a))
		sim_fatal("rmp: region of spa=0x%llx not covered", (unsigned long long)spa);
	rmp_raw_read(r, NULL, a, &b);
	n = (uint64_t)((int64_t)rmp_region_count(&b) + delta);
	if (n > 512)
		sim_fatal("rmp: region count of spa=0x%llx out of range", (unsigned long long)spa);
	b.hi = (b.hi & ~RMP_HI_COUNT_MASK) | (n << RMP_HI_COUNT_SHIFT);
	rmp_raw_write_hi(r, NULL, a, b.hi);
}

/* Untimed: the 511 raw entries after the 2M base at @ab become marks (@mark) or zero. */
static void sub2m_poke(struct rmp *r, uint64_t ab, bool mark)
{
	for (unsigned i = 1; i < 512; i++) {
		struct rmp_raw e = { mark ? RMP_LO_SUB2M : 0, 0 };

		rmp_raw_write(r, NULL, ab + (uint64_t)i * RMP_ENTRY_SIZE, &e);
	}
}

/*
 * Firmware writes an entry: any => @ent, untimed, without the hypervisor's
 * rules (immutable, in use) but keeping the table consistent: a 2M entry is
 * 2M-aligned and has no assigned 4K entry in its region, no entry inside an
 * assigned 2M entry is written (its raw entry is the RMP_LO_SUB2M mark),
 * and assigning or unassigning a 2M entry sets or clears the marks of its
 * region, as RMPUPDATE does.
 */
enum rmp_rc rmp_fw_write(struct rmp *rmp, uint64_t spa, const struct rmp_entry *ent)
{
	struct rmp_raw old, e, base;
	uint64_t a, ab;
	bool was4k, is4k, was2m, is2m;

	if (!rmp_enabled(rmp) || !rmp_addr_of(rmp, spa, &a) || (spa & (SIM_SZ_4K - 1)))
		return RMP_RC_FAIL_INPUT;
	if (ent->asid >= (1u << RMP_ASID_BITS) || (ent->gpa & ~RMP_LO_GPA_MASK))
		return RMP_RC_FAIL_INPUT;
	if (ent->page_2m && ((spa | ent->gpa) & (SIM_SZ_2M - 1)))
		return RMP_RC_FAIL_INPUT;
	rmp_addr_of(rmp, RMP_REGION(spa), &ab);
	rmp_raw_read(rmp, NULL, a, &old);
	rmp_raw_read(rmp, NULL, ab, &base);
	was4k = rmp_raw_assigned(&old) && !rmp_raw_2m(&old);
	is4k = ent->assigned && !ent->page_2m;
	if (ent->page_2m && ent->assigned && rmp_region_count(&base) - was4k != 0)
		return RMP_RC_FAIL_INPUT;
	if (a != ab && rmp_raw_assigned(&base) && rmp_raw_2m(&base))
		return RMP_RC_FAIL_INPUT;
	e.lo = (ent->assigned ? RMP_LO_ASSIGNED : 0) | (ent->page_2m ? RMP_LO_PAGESIZE : 0) |
	       (ent->immutable ? RMP_LO_IMMUTABLE : 0) | (ent->gpa & RMP_LO_GPA_MASK) |
	       ((uint64_t)ent->asid << RMP_LO_ASID_SHIFT) | (ent->vmsa ? RMP_LO_VMSA : 0) |
	       (ent->validated ? RMP_LO_VALIDATED : 0);
	e.hi = old.hi & RMP_HI_COUNT_MASK;
	for (unsigned v = 1; v < RMP_NUM_VMPL; v++)
		e.hi |= (uint64_t)ent->perms[v] << RMP_HI_PERM_SHIFT(v);
	was2m = a == ab && rmp_raw_assigned(&old) && rmp_raw_2m(&old);
	is2m = ent->assigned && ent->page_2m;
	rmp_raw_write(rmp, NULL, a, &e);
	if (was4k != is4k)
		count_add_untimed(rmp, spa, is4k ? 1 : -1);
	if (was2m != is2m)
		sub2m_poke(rmp, ab, is2m);
	return RMP_RC_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */
/* ------------------------------------------------------------------ */

void rmp_config_default(struct rmp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = RMP_MODE_CONTIGUOUS;
	cfg->base = RMP_NO_ADDR;
	cfg->coverage = 0;
	cfg->segment_shift = 36;
	cfg->max_asid = (1u << RMP_ASID_BITS) - 1;
	cfg->spurious_faults = true;
	cfg->erratum_2m_inuse = false;
	cfg->iommu_check_reads = false;
	cfg->update_flush_tlb = false;
	/* The generic profile's values (sim/profiles/generic.prof [lat.rmp]). */
	cfg->lat.insn[RMP_INSN_RMPUPDATE] = 1100;
	cfg->lat.insn[RMP_INSN_PSMASH] = 5000;
	cfg->lat.insn[RMP_INSN_PVALIDATE] = 700;
	cfg->lat.insn[RMP_INSN_RMPADJUST] = 600;
	cfg->lat.insn[RMP_INSN_RMPQUERY] = 200;
	cfg->lat.insn[RMP_INSN_RMPREAD] = 150;
	cfg->lat.rmpupdate_2m = 3000;
	cfg->lat.pvalidate_2m = 2500;
	cfg->lat.fail = 100;
	cfg->lat.vmrun = 250;
	cfg->lat.vmexit = 50;
	cfg->lat.tlb_flush = 800;
}

/* Table layout for RMP_MODE_CONTIGUOUS.  Return 0 or -1 with @err. */
static int layout_contiguous(struct rmp *r, uint64_t mem, struct sim_err *err)
{
	uint64_t cover = r->cfg.coverage ? r->cfg.coverage : align_up(mem, SIM_SZ_2M);
	uint64_t bytes, reserve;

	if (cover % SIM_SZ_2M || cover > SIM_PA_LIMIT)
		return sim_err_set(err, "rmp.coverage: 0x%llx: must be a multiple of 2m up to 2^52",
				   (unsigned long long)cover);
	bytes = RMP_BOOKKEEPING + RMP_PAGE(cover) * RMP_ENTRY_SIZE;
	reserve = align_up(bytes, SZ_1M);
	if (r->cfg.base == RMP_NO_ADDR) {
		if (reserve > mem)
			return sim_err_set(err, "rmp.coverage: a table of 0x%llx bytes does not fit in "
					   "machine.mem (0x%llx)", (unsigned long long)bytes,
					   (unsigned long long)mem);
		r->base = align_down(mem - reserve, SZ_1M);
	} else {
		r->base = r->cfg.base;
	}
	if (r->base % SZ_1M)
		return sim_err_set(err, "rmp.base: 0x%llx: must be 1 MiB aligned",
				   (unsigned long long)r->base);
	if (r->base > mem || bytes > mem - r->base)
		return sim_err_set(err, "rmp.base: 0x%llx: the table (0x%llx bytes) does not fit in "
				   "machine.mem (0x%llx)", (unsigned long long)r->base,
				   (unsigned long long)bytes, (unsigned long long)mem);
	r->cover = cover;
	r->end = r->base + bytes - 1;
	return 0;
}

/* Table layout for RMP_MODE_SEGMENTED; writes the RST.  Return 0 or -1 with @err. */
static int layout_segmented(struct rmp *r, uint64_t mem, struct sim_err *err)
{
	unsigned shift = r->cfg.segment_shift;
	uint64_t segsz, total = SZ_1M, gb[RMP_RST_ENTRIES] = { 0 }, next;

	if (shift < 30 || shift > 51)
		return sim_err_set(err, "rmp.segment_size: 2^%u: must be a power of two from 1g to 2^51",
				   shift);
	segsz = 1ull << shift;
	r->nseg = (unsigned)((mem + segsz - 1) >> shift);
	if (r->nseg > RMP_RST_ENTRIES)
		return sim_err_set(err, "rmp.segment_size: 0x%llx: %u segments needed to cover "
				   "machine.mem, at most %u", (unsigned long long)segsz, r->nseg,
				   RMP_RST_ENTRIES);
	for (unsigned i = 0; i < r->nseg; i++) {
		uint64_t span = mem - (uint64_t)i * segsz;

		if (span > segsz)
			span = segsz;
		if (r->cfg.uncovered[i / 64] & (1ull << (i % 64)))
			continue;
		gb[i] = align_up(span, SZ_1G) / SZ_1G;
		total += gb[i] * SEG_RMP_PER_GB;
	}
	if (r->cfg.base == RMP_NO_ADDR) {
		if (total > mem)
			return sim_err_set(err, "rmp.segment_size: the segmented table (0x%llx bytes) does "
					   "not fit in machine.mem (0x%llx)",
					   (unsigned long long)total, (unsigned long long)mem);
		r->base = align_down(mem - total, SZ_1M);
	} else {
		r->base = r->cfg.base;
	}
	if (r->base % SZ_1M)
		return sim_err_set(err, "rmp.base: 0x%llx: must be 1 MiB aligned",
				   (unsigned long long)r->base);
	if (r->base > mem || total > mem - r->base)
		return sim_err_set(err, "rmp.base: 0x%llx: the segmented table (0x%llx bytes) does not "
				   "fit in machine.mem (0x%llx)", (unsigned long long)r->base,
				   (unsigned long long)total, (unsigned long long)mem);
	next = r->base + SZ_1M;
	for (unsigned i = 0; i < r->nseg; i++) {
		if (!gb[i])
			continue;
		r->seg_rmp[i] = next;
		r->seg_cover[i] = gb[i] * SZ_1G;
		next += gb[i] * SEG_RMP_PER_GB;
		sim_mem_poke64(r->mem, r->base + RMP_BOOKKEEPING + 8ull * i, r->seg_rmp[i] | gb[i]);
	}
	r->end = next - 1;
	return 0;
}

/*
 * [spa, *@end): a run of pages whose entries are contiguous in memory and
 * all covered (return true) or all not covered (false).
 */
static bool cover_run(const struct rmp *r, uint64_t spa, uint64_t *end)
{
	uint64_t seg, start;

	if (r->cfg.mode == RMP_MODE_CONTIGUOUS) {
		*end = spa < r->cover ? r->cover : UINT64_MAX;
		return spa < r->cover;
	}
	seg = spa >> r->cfg.segment_shift;
	start = seg << r->cfg.segment_shift;
	if (spa - start < r->seg_cover[seg]) {
		*end = start + r->seg_cover[seg];
		return true;
	}
	*end = start + (1ull << r->cfg.segment_shift);
	return false;
}

/*
 * SNP_INIT marks pages [lo, hi) (covered, entries contiguous) as firmware
 * pages.  Whole 2M regions are one sim_mem_fill() of @pat (their two entry
 * frames); pages of a region the range only partly covers are written one
 * by one (at most 511 at each end).
 */
static void mark_fw_run(struct rmp *r, uint64_t lo, uint64_t hi, const struct rmp_entry *fw,
			const uint8_t *pat)
{
	uint64_t flo = align_up(lo, SIM_SZ_2M), fhi = align_down(hi, SIM_SZ_2M), a;

	if (flo >= fhi)
		flo = fhi = hi;   /* no whole region */
	for (uint64_t p = lo; p < flo; p += SIM_SZ_4K)
		if (rmp_fw_write(r, p, fw) != RMP_RC_SUCCESS)
			sim_fatal("rmp: cannot mark table page 0x%llx", (unsigned long long)p);
	if (flo < fhi) {
		rmp_addr_of(r, flo, &a);
		sim_mem_fill(r->mem, a, RMP_PAGE(fhi - flo) * RMP_ENTRY_SIZE, pat, 2);
	}
	for (uint64_t p = fhi; p < hi; p += SIM_SZ_4K)
		if (rmp_fw_write(r, p, fw) != RMP_RC_SUCCESS)
			sim_fatal("rmp: cannot mark table page 0x%llx", (unsigned long long)p);
}

/*
 * SNP_INIT: the table's own pages become firmware pages (assigned, ASID 0,
 * immutable).  The entries are in memory exactly as rmp_fw_write() of
 * each page leaves them: in a whole 2M region, 512 entries lo = assigned |
 * immutable, hi = 0, except the 2M-base entry whose hi holds the region
 * count 512.  Those regions' entries are written with sim_mem_fill(), so
 * the cost is independent of the table's size: a 4 PiB machine's 16 TiB
 * table needs 64 GiB of such entries, which are then allocated only where
 * they are written later.
 */
static void mark_table_pages(struct rmp *r)
{
	uint8_t pat[2 * SIM_PAGE_SIZE];
	uint64_t hi = align_down(r->end, SIM_SZ_4K) + SIM_SZ_4K, end;
	struct rmp_entry fw;
	struct rmp_raw e = { RMP_LO_ASSIGNED | RMP_LO_IMMUTABLE, 0 };

	memset(&fw, 0, sizeof(fw));
	fw.assigned = true;
	fw.immutable = true;
	for (unsigned i = 0; i < 512; i++) {
		e.hi = i ? 0 : 512ull << RMP_HI_COUNT_SHIFT;
		put_le64(pat + i * RMP_ENTRY_SIZE, e.lo);
		put_le64(pat + i * RMP_ENTRY_SIZE + 8, e.hi);
	}
	for (uint64_t p = r->base; p < hi; p = end) {
		bool covered = cover_run(r, p, &end);

		if (end > hi)
			end = hi;
		if (covered)
			mark_fw_run(r, p, end, &fw, pat);
	}
}

struct rmp *rmp_new(struct sim_mem *m, const struct rmp_config *cfg, struct sim_err *err)
{
	struct rmp *r = calloc(1, sizeof(*r));
	uint64_t mem = sim_mem_size(m);

	if (!r)
		sim_fatal("rmp: out of memory");
	r->mem = m;
	r->cfg = *cfg;
	if (cfg->max_asid == 0 || cfg->max_asid >= (1u << RMP_ASID_BITS)) {
		sim_err_set(err, "rmp.max_asid: %u: must be 1..%u", cfg->max_asid,
			    (1u << RMP_ASID_BITS) - 1);
		goto out_free;
	}
	switch (cfg->mode) {
	case RMP_MODE_OFF:
		return r;
	case RMP_MODE_CONTIGUOUS:
		if (layout_contiguous(r, mem, err))
			goto out_free;
		break;
	case RMP_MODE_SEGMENTED:
		if (layout_segmented(r, mem, err))
			goto out_free;
		break;
	default:
		sim_err_set(err, "rmp.mode: %d: unknown mode", (int)cfg->mode);
		goto out_free;
	}
	r->scratch = calloc(512, RMP_ENTRY_SIZE);
	if (!r->scratch)
		sim_fatal("rmp: out of memory");
	mark_table_pages(r);
	return r;

out_free:
	free(r);
	return NULL;
}

void rmp_free(struct rmp *rmp)
{
	if (!rmp)
		return;
	free(rmp->locks);
	free(rmp->run);
	free(rmp->scratch);
	free(rmp);
}

bool rmp_enabled(const struct rmp *rmp)
{
	return rmp_active(rmp);
}

const struct rmp_config *rmp_config(const struct rmp *rmp)
{
	return &rmp->cfg;
}

uint64_t rmp_base(const struct rmp *rmp)
{
	return rmp_enabled(rmp) ? rmp->base : 0;
}

uint64_t rmp_end(const struct rmp *rmp)
{
	return rmp_enabled(rmp) ? rmp->end : 0;
}

const struct rmp_counters *rmp_counters(const struct rmp *rmp)
{
	return &rmp->ctr;
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static void lower(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < n; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
	dst[i] = 0;
}

void rmp_register_stats(struct rmp *rmp, struct sim *s)
{
	struct rmp_counters *c = &rmp->ctr;
	char name[96], rc[32], desc[160];

	for (unsigned i = 0; i < RMP_INSN_COUNT; i++) {
		for (unsigned v = 0; v < RMP_RC_SLOTS; v++) {
			if (!(insn_rcs[i] & (1u << v)))
				continue;
			lower(rc, rmp_rc_name((enum rmp_insn)i, (enum rmp_rc)v), sizeof(rc));
			snprintf(name, sizeof(name), "rmp.%s.%s", insn_names[i], rc);
			snprintf(desc, sizeof(desc), "%s instructions that returned %s", insn_names[i],
				 rmp_rc_name((enum rmp_insn)i, (enum rmp_rc)v));
			sim_stat_counter(s, name, &c->insn[i][v], desc);
		}
		snprintf(name, sizeof(name), "rmp.%s.fault", insn_names[i]);
		snprintf(desc, sizeof(desc), "%s instructions that raised an exception (#UD/#GP/#NPF/#VC)",
			 insn_names[i]);
		sim_stat_counter(s, name, &c->insn_fault[i], desc);
	}
	sim_stat_counter(s, "rmp.pvalidate.unchanged", &c->pvalidate_unchanged,
			 "successful PVALIDATEs that changed nothing (CF=1)");
	sim_stat_counter(s, "rmp.vmrun.ok", &c->vmrun_ok, "VMRUNs that passed the SNP checks");
	sim_stat_counter(s, "rmp.vmrun.gp", &c->vmrun_gp, "VMRUNs that raised #GP (VMCB checks)");
	sim_stat_counter(s, "rmp.vmrun.vmexit_invalid", &c->vmrun_invalid,
			 "VMRUNs that failed with VMEXIT_INVALID (VMSA or AVIC checks)");
	sim_stat_counter(s, "rmp.vmexit", &c->vmexits, "#VMEXITs that released in-use pages");
	sim_stat_counter(s, "rmp.lock_conflicts", &c->lock_conflicts,
			 "instructions refused because another agent held the entry lock");
	sim_stat_counter(s, "rmp.spurious_faults", &c->spurious_faults,
			 "accesses that faulted because the entry was locked (retry)");
	sim_stat_counter(s, "rmp.entry_reads", &c->entry_reads, "RMP entry reads through memory");
	sim_stat_counter(s, "rmp.entry_writes", &c->entry_writes, "RMP entry writes through memory");
	sim_stat_counter(s, "rmp.rst_reads", &c->rst_reads,
			 "RMP Segment Table entry reads through memory (segmented RMP)");
	sim_stat_counter(s, "rmp.tlb_flushes", &c->tlb_flushes,
			 "global TLB flushes by RMPUPDATE/PSMASH (rmp.update_flush_tlb)");
	sim_stat_counter(s, "rmp.faults.pf", &c->faults_pf, "host #PF with the RMP bit");
	sim_stat_counter(s, "rmp.faults.npf", &c->faults_npf, "guest #NPF with the RMP bit");
	sim_stat_counter(s, "rmp.faults.vc", &c->faults_vc, "guest #VC(0x404): page not validated");
	sim_stat_counter(s, "rmp.faults.iommu", &c->faults_iommu, "DMA blocked by the RMP");
	sim_stat_counter(s, "rmp.checks.host", &c->checks_host, "host accesses checked");
	sim_stat_counter(s, "rmp.checks.guest", &c->checks_guest, "guest accesses checked");
	sim_stat_counter(s, "rmp.checks.dma", &c->checks_dma, "DMA accesses checked");
	sim_stat_formula(s, "rmp.reads_per_check", "rmp.entry_reads", "rmp.checks.guest", 1.0,
			 "RMP entry reads per guest check (incl. instruction reads)");
}
