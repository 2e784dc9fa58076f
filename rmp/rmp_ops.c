/*
 * rmp_ops.c - the rmp module: configuration keys, attach/detach/summary,
 * and the RMP operations of the operation language (spelled exactly as in
 * docs/script.md; extensions in docs/rmp.md):
 *
 *   rmpupdate spa= [assigned=] [asid=] [gpa=] [size=4k|2m] [immutable=]
 *   psmash    spa=
 *   rmpread   spa=
 *   pvalidate asid= gpa= spa= [size=] [validate=] [vmpl=] [map=]
 *   rmpadjust asid= gpa= spa= [size=] [vmpl=] target= perms= [vmsa=] [map=]
 *   rmpquery  asid= gpa= spa= [vmpl=] [map=]
 *   host_access  spa= kind=read|write|fetch|ptread|ptwrite [map=]
 *   guest_access asid= gpa= spa= kind=read|write|fetch|ptread|ptwrite
 *                [c=] [map=] [vmpl=] [user=] [snp=]
 *   vmrun  asid= vmsa= [vmcb=] [gpa=] [avic=]
 *   vmexit
 *   rmp info, rmp entry spa=
 *
 * Each op runs on its agent at its start cycle and advances the agent by
 * the instruction latency plus the memory cycles spent on RMP entries.
 */
#include "rmp/rmp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Configuration keys                                                  */
/* ------------------------------------------------------------------ */

/* ORDER: enum rmp_mode */
static const char *const mode_choices[] = { "off", "contiguous", "segmented", NULL };

static const struct sim_cfg_key rmp_keys[] = {
	{ "rmp.mode", SIM_CFG_ENUM, 0, 0, "contiguous", mode_choices,
	  "SEV-SNP RMP: off (SNP disabled), contiguous (RMP_BASE..RMP_END) or segmented (RST)" },
	{ "rmp.base", SIM_CFG_U64, 0, SIM_PA_LIMIT - 1, "0", NULL,
	  "RMP_BASE, 1 MiB aligned; 0 = at the top of machine.mem, 1 MiB aligned" },
	{ "rmp.coverage", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, "0", NULL,
	  "Contiguous RMP: bytes of SPA covered from 0 (multiple of 2m); 0 = all of machine.mem" },
	{ "rmp.segment_size", SIM_CFG_SIZE, 1ull << 30, 1ull << 51, "64g", NULL,
	  "Segmented RMP: bytes of SPA per RST entry (power of two, 1g..2^51)" },
	{ "rmp.uncovered_segments", SIM_CFG_STR, 0, 0, "", NULL,
	  "Segmented RMP: comma-separated segment indices left without an RMP (RST entry 0)" },
	{ "rmp.max_asid", SIM_CFG_U64, 1, 1023, "1023", NULL,
	  "Largest ASID RMPUPDATE and VMRUN accept (the raw entry has 10 ASID bits)" },
	{ "rmp.spurious_faults", SIM_CFG_BOOL, 0, 1, "1", NULL,
	  "An access that finds its RMP entry locked by another agent's instruction faults (software retries)" },
	{ "rmp.erratum_2m_inuse", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "Host write through a 2M/1G mapping faults when the 2M base page is an in-use VMCB/VMSA/AVIC page" },
	{ "rmp.iommu_check_reads", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "DMA reads are RMP-checked like writes (must be hypervisor-owned)" },
	{ "rmp.update_flush_tlb", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "Every successful RMPUPDATE/PSMASH flushes every TLB (as current parts do), costing lat.rmp.tlb_flush" },
	{ "lat.rmp.rmpupdate", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful 4K RMPUPDATE (checks, entry update, lock held), excl. entry memory accesses" },
	{ "lat.rmp.rmpupdate_2m", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful 2M RMPUPDATE, excl. entry memory accesses" },
	{ "lat.rmp.psmash", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful PSMASH (512 entries rewritten), excl. entry memory accesses" },
	{ "lat.rmp.pvalidate", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful 4K PVALIDATE, excl. entry memory accesses and the GVA translation" },
	{ "lat.rmp.pvalidate_2m", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful 2M PVALIDATE, excl. entry memory accesses" },
	{ "lat.rmp.rmpadjust", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful RMPADJUST, excl. entry memory accesses" },
	{ "lat.rmp.rmpquery", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful RMPQUERY, excl. entry memory accesses" },
	{ "lat.rmp.rmpread", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a successful RMPREAD, excl. entry memory accesses" },
	{ "lat.rmp.fail", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of any SNP instruction that returns a failure code or raises an exception" },
	{ "lat.rmp.vmrun", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of VMRUN's SNP checks and in-use marking (the world switch itself is the CPU's)" },
	{ "lat.rmp.vmexit", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of #VMEXIT's release of in-use pages (the world switch itself is the CPU's)" },
	{ "lat.rmp.tlb_flush", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles a successful RMPUPDATE/PSMASH adds for its global TLB flush (with rmp.update_flush_tlb=1)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static uint32_t lat_key(const struct sim *s, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "lat.rmp.%s", name);
	return (uint32_t)sim_cfg_u64(s, key);
}

/* "1,3,7" => bitmap.  Return 0 or -1 with @err naming the key. */
static int parse_segments(const char *text, uint64_t *bits, struct sim_err *err)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(text) >= sizeof(buf))
		return sim_err_set(err, "rmp.uncovered_segments: list too long");
	strcpy(buf, text);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		uint64_t v;

		if (sim_parse_u64(tok, &v) || v >= RMP_RST_ENTRIES)
			return sim_err_set(err, "rmp.uncovered_segments: '%s': not a segment index "
					   "0..%u", tok, RMP_RST_ENTRIES - 1);
		bits[v / 64] |= 1ull << (v % 64);
	}
	return 0;
}

static int rmp_attach(struct sim *s, struct sim_err *err)
{
	struct rmp_config cfg;
	struct rmp *r;
	uint64_t segsz;

	rmp_config_default(&cfg);
	cfg.mode = (enum rmp_mode)sim_cfg_enum(s, "rmp.mode");
	cfg.base = sim_cfg_u64(s, "rmp.base") ? sim_cfg_u64(s, "rmp.base") : RMP_NO_ADDR;
	cfg.coverage = sim_cfg_u64(s, "rmp.coverage");
	segsz = sim_cfg_u64(s, "rmp.segment_size");
	if (segsz & (segsz - 1))
		return sim_err_set(err, "rmp.segment_size: 0x%llx: must be a power of two",
				   (unsigned long long)segsz);
	cfg.segment_shift = (unsigned)__builtin_ctzll(segsz);
	if (parse_segments(sim_cfg_str(s, "rmp.uncovered_segments"), cfg.uncovered, err))
		return -1;
	cfg.max_asid = (uint32_t)sim_cfg_u64(s, "rmp.max_asid");
	cfg.spurious_faults = sim_cfg_bool(s, "rmp.spurious_faults");
	cfg.erratum_2m_inuse = sim_cfg_bool(s, "rmp.erratum_2m_inuse");
	cfg.iommu_check_reads = sim_cfg_bool(s, "rmp.iommu_check_reads");
	cfg.update_flush_tlb = sim_cfg_bool(s, "rmp.update_flush_tlb");
	for (unsigned i = 0; i < RMP_INSN_COUNT; i++)
		cfg.lat.insn[i] = lat_key(s, rmp_insn_name((enum rmp_insn)i));
	cfg.lat.rmpupdate_2m = lat_key(s, "rmpupdate_2m");
	cfg.lat.pvalidate_2m = lat_key(s, "pvalidate_2m");
	cfg.lat.fail = lat_key(s, "fail");
	cfg.lat.vmrun = lat_key(s, "vmrun");
	cfg.lat.vmexit = lat_key(s, "vmexit");
	cfg.lat.tlb_flush = lat_key(s, "tlb_flush");
	r = rmp_new(sim_mem(s), &cfg, err);
	if (!r)
		return -1;
	rmp_register_stats(r, s);
	sim_set_model(s, &rmp_module, r);
	return 0;
}

static void rmp_detach(struct sim *s)
{
	rmp_free(sim_get_model(s, &rmp_module));
	sim_set_model(s, &rmp_module, NULL);
}

static void rmp_summary(struct sim *s, FILE *out)
{
	const struct rmp *r = sim_get_model(s, &rmp_module);
	const struct rmp_counters *c;
	uint64_t insns = 0;

	if (!rmp_enabled(r)) {
		fprintf(out, "rmp: off (SNP disabled)\n");
		return;
	}
	c = rmp_counters(r);
	for (unsigned i = 0; i < RMP_INSN_COUNT; i++) {
		insns += c->insn_fault[i];
		for (unsigned v = 0; v < RMP_RC_SLOTS; v++)
			insns += c->insn[i][v];
	}
	fprintf(out, "rmp: %s table 0x%llx-0x%llx\n", mode_choices[r->cfg.mode],
		(unsigned long long)r->base, (unsigned long long)r->end);
	fprintf(out, "rmp: %llu instructions, %llu checks, %llu faults (%llu spurious), "
		"%llu lock conflicts\n", (unsigned long long)insns,
		(unsigned long long)(c->checks_host + c->checks_guest + c->checks_dma),
		(unsigned long long)(c->faults_pf + c->faults_npf + c->faults_vc + c->faults_iommu),
		(unsigned long long)c->spurious_faults, (unsigned long long)c->lock_conflicts);
}

/* ------------------------------------------------------------------ */
/* Script operations                                                   */
/* ------------------------------------------------------------------ */

/* ORDER: enum rmp_host_access */
static const char *const host_kinds[] = { "read", "write", "fetch", "ptread", "ptwrite", NULL };
static const char *const guest_kinds[] = { "read", "write", "fetch", "ptread", "ptwrite", NULL };

/* One call's context. */
struct opctx {
	struct sim_call *c;
	struct sim_agent *a;
	struct rmp *r;
	struct sim_who who;
};

static void ctx_init(struct opctx *x, struct sim_call *c)
{
	x->c = c;
	x->a = sim_call_agent(c);
	x->r = sim_get_model(sim_call_sim(c), &rmp_module);
	x->who.now = sim_now(x->a);
	x->who.agent = sim_agent_id(x->a);
	x->who.mem_cycles = 0;
}

/*
 * Arguments are checked against their specs (below) when the script is
 * parsed: an op body reads values that are already in range.
 */
static uint64_t arg(struct opctx *x, const char *key, uint64_t def)
{
	return sim_arg_u64(x->c, key, def);
}

/* The guest page of a guest instruction. */
static void arg_gpage(struct opctx *x, struct rmp_gpage *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->asid = (uint32_t)arg(x, "asid", 0);
	pg->gpa = arg(x, "gpa", 0);
	pg->spa = arg(x, "spa", 0);
	pg->vmpl = (unsigned)arg(x, "vmpl", 0);
	pg->map_size = arg(x, "map", SIM_SZ_4K);
}

static const char *fmt_perms(uint8_t p, char buf[8])
{
	size_t n = 0;

	if (!p)
		return "none";
	if (p & RMP_PERM_R)
		buf[n++] = 'r';
	if (p & RMP_PERM_W)
		buf[n++] = 'w';
	if (p & RMP_PERM_XU)
		buf[n++] = 'u';
	if (p & RMP_PERM_XS)
		buf[n++] = 's';
	if (p & RMP_PERM_SSS)
		buf[n++] = 'S';
	buf[n] = 0;
	return buf;
}

static void emit_fault_token(struct sim_call *c, const struct rmp_fault *f)
{
	char tok[128];

	rmp_fault_format(f, tok, sizeof(tok));
	sim_call_result(c, "%s", tok);
	if (f->spurious)
		sim_call_field(c, "spurious", "1");
}

/* Print an instruction's result and charge its cycles. */
static void finish_insn(struct opctx *x, enum rmp_insn insn, const struct rmp_result *res)
{
	if (res->rc == RMP_RC_FAULT)
		emit_fault_token(x->c, &res->fault);
	else
		sim_call_result(x->c, "%s", rmp_rc_name(insn, res->rc));
}

static void charge(struct opctx *x, uint64_t fixed)
{
	sim_advance(x->a, fixed + x->who.mem_cycles);
}

static void op_rmpupdate(struct sim_call *c)
{
	struct opctx x;
	struct rmp_update_in in;
	struct rmp_result res;
	uint64_t spa;

	ctx_init(&x, c);
	memset(&in, 0, sizeof(in));
	spa = arg(&x, "spa", 0);
	in.gpa = arg(&x, "gpa", 0);
	in.asid = (uint32_t)arg(&x, "asid", 0);
	in.page_2m = arg(&x, "size", SIM_SZ_4K) == SIM_SZ_2M;
	in.assigned = sim_arg_bool(c, "assigned", false);
	in.immutable = sim_arg_bool(c, "immutable", false);
	rmp_update(x.r, &x.who, spa, &in, &res);
	finish_insn(&x, RMP_INSN_RMPUPDATE, &res);
	charge(&x, res.latency);
}

static void op_psmash(struct sim_call *c)
{
	struct opctx x;
	struct rmp_result res;
	uint64_t spa;

	ctx_init(&x, c);
	spa = arg(&x, "spa", 0);
	rmp_psmash(x.r, &x.who, spa, &res);
	finish_insn(&x, RMP_INSN_PSMASH, &res);
	charge(&x, res.latency);
}

static void field_perms(struct sim_call *c, const uint8_t *perms)
{
	char b[8], key[8];

	for (unsigned v = 1; v < RMP_NUM_VMPL; v++) {
		snprintf(key, sizeof(key), "perms%u", v);
		sim_call_field(c, key, "%s", fmt_perms(perms[v], b));
	}
}

static void op_rmpread(struct sim_call *c)
{
	struct opctx x;
	struct rmp_result res;
	struct rmp_read_out out;
	uint64_t spa;

	ctx_init(&x, c);
	spa = arg(&x, "spa", 0);
	rmp_read(x.r, &x.who, spa, &out, &res);
	finish_insn(&x, RMP_INSN_RMPREAD, &res);
	if (res.rc == RMP_RC_SUCCESS) {
		const struct rmp_entry *e = &out.ent;

		sim_call_field_u64(c, "assigned", e->assigned);
		sim_call_field(c, "size", "%s", e->page_2m ? "2m" : "4k");
		sim_call_field_u64(c, "immutable", e->immutable);
		sim_call_field_u64(c, "asid", e->asid);
		sim_call_field_hex(c, "gpa", e->gpa);
		sim_call_field_u64(c, "validated", e->validated);
		sim_call_field_u64(c, "vmsa", e->vmsa);
		field_perms(c, e->perms);
		sim_call_field_u64(c, "hpage", e->hpage_region_status);
	}
	charge(&x, res.latency);
}

static void op_pvalidate(struct sim_call *c)
{
	struct opctx x;
	struct rmp_gpage pg;
	struct rmp_result res;
	bool is_2m;

	ctx_init(&x, c);
	arg_gpage(&x, &pg);
	is_2m = arg(&x, "size", SIM_SZ_4K) == SIM_SZ_2M;
	rmp_pvalidate(x.r, &x.who, &pg, is_2m, sim_arg_bool(c, "validate", true), &res);
	finish_insn(&x, RMP_INSN_PVALIDATE, &res);
	if (res.rc == RMP_RC_SUCCESS)
		sim_call_field_u64(c, "changed", res.changed);
	charge(&x, res.latency);
}

static void op_rmpadjust(struct sim_call *c)
{
	struct opctx x;
	struct rmp_gpage pg;
	struct rmp_result res;
	uint64_t target;
	uint8_t perms;
	bool is_2m;

	ctx_init(&x, c);
	arg_gpage(&x, &pg);
	is_2m = arg(&x, "size", SIM_SZ_4K) == SIM_SZ_2M;
	perms = (uint8_t)arg(&x, "perms", 0);   /* letters r w u s: bits of RMP_PERM_* */
	target = arg(&x, "target", 0);
	rmp_adjust(x.r, &x.who, &pg, is_2m, (unsigned)target, perms, sim_arg_bool(c, "vmsa", false),
		   &res);
	finish_insn(&x, RMP_INSN_RMPADJUST, &res);
	charge(&x, res.latency);
}

static void op_rmpquery(struct sim_call *c)
{
	struct opctx x;
	struct rmp_gpage pg;
	struct rmp_result res;

	ctx_init(&x, c);
	arg_gpage(&x, &pg);
	rmp_query(x.r, &x.who, &pg, &res);
	finish_insn(&x, RMP_INSN_RMPQUERY, &res);
	if (res.rc == RMP_RC_SUCCESS) {
		field_perms(c, res.perms);
		sim_call_field(c, "size", "%s", res.page_2m ? "2m" : "4k");
	}
	charge(&x, res.latency);
}

static void op_host_access(struct sim_call *c)
{
	struct opctx x;
	struct rmp_fault f;
	uint64_t spa, map;
	unsigned kind;

	ctx_init(&x, c);
	spa = arg(&x, "spa", 0);
	map = arg(&x, "map", SIM_SZ_4K);
	kind = sim_arg_enum(c, "kind", 0);
	if ((kind == RMP_HOST_PT_READ || kind == RMP_HOST_PT_WRITE) && map != SIM_SZ_4K) {
		sim_call_bad_arg(c, "map", "a page-table access is checked on its 4K table page; "
				 "map= applies to data accesses only");
		return;
	}
	rmp_check_host_access(x.r, &x.who, spa, (enum rmp_host_access)kind, map, &f);
	emit_fault_token(c, &f);
	charge(&x, 0);
}

static void op_guest_access(struct sim_call *c)
{
	static const enum rmp_access kinds[] = {
		RMP_ACC_READ, RMP_ACC_WRITE, RMP_ACC_FETCH_SUP, RMP_ACC_PT_READ, RMP_ACC_PT_WRITE,
	};
	struct opctx x;
	struct rmp_gaccess ga;
	struct rmp_fault f;

	ctx_init(&x, c);
	memset(&ga, 0, sizeof(ga));
	ga.asid = (uint32_t)arg(&x, "asid", 0);
	ga.gpa = arg(&x, "gpa", 0);
	ga.spa = arg(&x, "spa", 0);
	ga.vmpl = (unsigned)arg(&x, "vmpl", 0);
	ga.map_size = arg(&x, "map", SIM_SZ_4K);
	ga.kind = kinds[sim_arg_enum(c, "kind", 0)];
	ga.user = sim_arg_bool(c, "user", false);
	if (ga.kind == RMP_ACC_FETCH_SUP && ga.user)
		ga.kind = RMP_ACC_FETCH_USER;
	ga.c_bit = sim_arg_bool(c, "c", true);
	ga.snp = sim_arg_bool(c, "snp", true);
	rmp_check_guest(x.r, &x.who, &ga, &f);
	emit_fault_token(c, &f);
	charge(&x, 0);
}

/* Default VMCB of cpuN: the page 0xff000 - N * 4K (just below 1 MiB). */
static uint64_t default_vmcb(int agent)
{
	return 0xff000ull - (uint64_t)(agent & 0xff) * SIM_SZ_4K;
}

static void op_vmrun(struct sim_call *c)
{
	struct opctx x;
	struct rmp_vmrun_in in;
	struct rmp_fault f;

	ctx_init(&x, c);
	memset(&in, 0, sizeof(in));
	in.asid = (uint32_t)arg(&x, "asid", 0);
	in.vmsa = arg(&x, "vmsa", 0);
	in.vmcb = arg(&x, "vmcb", default_vmcb(x.who.agent));
	in.vmsa_gpa = arg(&x, "gpa", RMP_NO_ADDR);
	in.avic = arg(&x, "avic", RMP_NO_ADDR);
	rmp_vmrun(x.r, &x.who, &in, &f);
	emit_fault_token(c, &f);
	charge(&x, x.r ? x.r->cfg.lat.vmrun : 0);
}

static void op_vmexit(struct sim_call *c)
{
	struct opctx x;

	ctx_init(&x, c);
	if (rmp_vmexit(x.r, &x.who))
		sim_call_result(c, "ERROR(not-in-guest)");
	else
		sim_call_result(c, "OK");
	charge(&x, x.r ? x.r->cfg.lat.vmexit : 0);
}

static void op_rmp_info(struct sim_call *c)
{
	struct opctx x;

	ctx_init(&x, c);
	sim_call_result(c, "OK");
	sim_call_field(c, "mode", "%s", x.r ? mode_choices[x.r->cfg.mode] : "off");
	if (!rmp_enabled(x.r))
		return;
	sim_call_field_hex(c, "base", x.r->base);
	sim_call_field_hex(c, "end", x.r->end);
	if (x.r->cfg.mode == RMP_MODE_CONTIGUOUS) {
		sim_call_field_hex(c, "coverage", x.r->cover);
	} else {
		char b[32];

		sim_call_field(c, "segment", "%s", sim_fmt_size(1ull << x.r->cfg.segment_shift, b));
		sim_call_field_u64(c, "segments", x.r->nseg);
	}
}

static void op_rmp_entry(struct sim_call *c)
{
	struct opctx x;
	struct rmp_entry e;
	uint64_t spa, addr;

	ctx_init(&x, c);
	spa = arg(&x, "spa", 0);
	if (!rmp_entry_addr(x.r, spa, &addr) || !rmp_entry_get(x.r, spa, &e)) {
		sim_call_result(c, "ERROR(not-covered)");
		return;
	}
	sim_call_result(c, "OK");
	sim_call_field_hex(c, "addr", addr);
	sim_call_field_hex(c, "lo", e.raw_lo);
	sim_call_field_hex(c, "hi", e.raw_hi);
}

/*
 * Argument specs: values are checked when the script is parsed, so the
 * op bodies never see a bad value.
 */
#define A_END         SIM_A_END
#define A_ASID(r)     SIM_A_INT("asid", r, 0, UINT32_MAX)      /* the 32-bit ASID operand */
#define A_PAGESIZE    SIM_A_SIZESET("size", false, SIM_SZ_4K | SIM_SZ_2M)   /* page-size bit */
#define A_MAP         SIM_A_SIZESET("map", false, SIM_SZ_4K | SIM_SZ_2M | SIM_SZ_1G)
#define A_VMPL        SIM_A_INT("vmpl", false, 0, RMP_NUM_VMPL - 1)

static const struct sim_arg_spec rmpupdate_args[] = {
	SIM_A_ADDR("spa", true),
	SIM_A_BOOL("assigned", false),
	A_ASID(false),
	SIM_A_ADDR("gpa", false),
	A_PAGESIZE,
	SIM_A_BOOL("immutable", false),
	A_END
};
static const struct sim_arg_spec spa_args[] = { SIM_A_ADDR("spa", true), A_END };
static const struct sim_arg_spec pvalidate_args[] = {
	A_ASID(true),
	SIM_A_ADDR("gpa", true),
	SIM_A_ADDR("spa", true),
	A_PAGESIZE,
	SIM_A_BOOL("validate", false),
	A_VMPL,
	A_MAP,
	A_END
};
static const struct sim_arg_spec rmpadjust_args[] = {
	A_ASID(true),
	SIM_A_ADDR("gpa", true),
	SIM_A_ADDR("spa", true),
	A_PAGESIZE,
	A_VMPL,
	SIM_A_INT("target", true, 0, 0xff),   /* the 8-bit target VMPL field */
	SIM_A_PERMS("perms", true, "rwus"),
	SIM_A_BOOL("vmsa", false),
	A_MAP,
	A_END
};
static const struct sim_arg_spec rmpquery_args[] = {
	A_ASID(true),
	SIM_A_ADDR("gpa", true),
	SIM_A_ADDR("spa", true),
	A_VMPL,
	A_MAP,
	A_END
};
static const struct sim_arg_spec host_access_args[] = {
	SIM_A_ADDR("spa", true),
	SIM_A_ENUM("kind", true, host_kinds),
	A_MAP,
	A_END
};
static const struct sim_arg_spec guest_access_args[] = {
	A_ASID(true),
	SIM_A_ADDR("gpa", true),
	SIM_A_ADDR("spa", true),
	SIM_A_ENUM("kind", true, guest_kinds),
	SIM_A_BOOL("c", false),
	A_MAP,
	A_VMPL,
	SIM_A_BOOL("user", false),
	SIM_A_BOOL("snp", false),
	A_END
};
static const struct sim_arg_spec vmrun_args[] = {
	A_ASID(true),
	SIM_A_ADDR("vmsa", true),
	SIM_A_ADDR("vmcb", false),
	SIM_A_ADDR("gpa", false),
	SIM_A_ADDR("avic", false),
	A_END
};
static const struct sim_arg_spec no_args[] = { A_END };

static const struct sim_op rmp_ops[] = {
	{ "rmpupdate", rmpupdate_args,
	  "RMPUPDATE: set the RMP entry of spa (hypervisor)", op_rmpupdate },
	{ "psmash", spa_args,
	  "PSMASH: split the 2M RMP entry at spa into 512 4K entries", op_psmash },
	{ "rmpread", spa_args,
	  "RMPREAD: the effective RMP entry of spa", op_rmpread },
	{ "pvalidate", pvalidate_args,
	  "PVALIDATE by the guest (gpa mapped to spa by a nested leaf of size map)", op_pvalidate },
	{ "rmpadjust", rmpadjust_args,
	  "RMPADJUST by the guest: permissions of VMPL target, VMSA bit", op_rmpadjust },
	{ "rmpquery", rmpquery_args,
	  "RMPQUERY by the guest: VMPL1..3 permissions and page size", op_rmpquery },
	{ "host_access", host_access_args,
	  "RMP check of a host access: data, or the host's own page-table read / A-D update "
	  "(no data is moved)", op_host_access },
	{ "guest_access", guest_access_args,
	  "RMP check of a guest access (no data is moved)", op_guest_access },
	{ "vmrun", vmrun_args,
	  "VMRUN's SNP checks: OK, #GP (VMCB), or VMEXIT_INVALID (VMSA, AVIC page); "
	  "VMCB/VMSA/AVIC in use on this agent until vmexit", op_vmrun },
	{ "vmexit", no_args, "#VMEXIT: release this agent's in-use pages", op_vmexit },
	{ "rmp info", no_args, "RMP mode, table location and coverage", op_rmp_info },
	{ "rmp entry", spa_args,
	  "raw 16-byte RMP entry of spa's page (address, lo and hi quadwords), untimed", op_rmp_entry },
	{ NULL, NULL, NULL, NULL }
};

const struct sim_module rmp_module = {
	.name = "rmp",
	.keys = rmp_keys,
	.ops = rmp_ops,
	.attach = rmp_attach,
	.detach = rmp_detach,
	.summary = rmp_summary,
};
