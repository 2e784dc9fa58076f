/*
 * s2_ops.c - the s2 module: configuration keys, the machine's stage-2
 * hardware (one MMU per agent with its TLBs and walk caches, shared
 * statistics and timing, broadcast invalidation), and the RMP glue that
 * flushes cached check results when the RMP changes.  The VMs whose
 * tables these MMUs walk, and the operations that name them (s2 create,
 * s2 map, ..., access, tlbi), belong to the host software (sim/stack).
 */
#include "stage2/s2_int.h"
#include "rmp/rmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S2_MAX_AGENTS 4096

struct s2_ctx {
	struct sim *s;                   /* owner */
	struct sim_mem *mem;             /* machine memory */
	struct rmp *rmp;                 /* RMP model (may be NULL or off) */
	struct s2_mmu_cfg cfg;           /* TLB geometry */
	struct s2_timing t;              /* lat.s2.* */
	struct s2_stats st;              /* shared by every MMU */
	struct s2_mmu **mmu;             /* by agent id, created on first use */
	size_t nmmu;                     /* slots in mmu[] */
	bool rmpupdate_flush;            /* s2.rmpupdate_flush */
};

/* ------------------------------------------------------------------ */
/* Configuration keys                                                  */
/* ------------------------------------------------------------------ */

static const struct sim_cfg_key s2_keys[] = {
	{ "s2.tlb.levels", SIM_CFG_U64, 1, S2_TLB_MAX_LEVELS, "2", NULL,
	  "Levels of the stage-2 (IPA->PA) TLB, probed in order and filled inclusively" },
	{ "s2.tlb.l1.sets", SIM_CFG_U64, 1, 65536, "16", NULL,
	  "Stage-2 TLB level 1: sets (power of two)" },
	{ "s2.tlb.l1.ways", SIM_CFG_U64, 0, 64, "4", NULL,
	  "Stage-2 TLB level 1: ways (0 = absent)" },
	{ "s2.tlb.l2.sets", SIM_CFG_U64, 1, 65536, "128", NULL,
	  "Stage-2 TLB level 2: sets (power of two)" },
	{ "s2.tlb.l2.ways", SIM_CFG_U64, 0, 64, "16", NULL,
	  "Stage-2 TLB level 2: ways (0 = absent)" },
	{ "s2.tlb.l3.sets", SIM_CFG_U64, 1, 65536, "512", NULL,
	  "Stage-2 TLB level 3 (with s2.tlb.levels=3): sets (power of two)" },
	{ "s2.tlb.l3.ways", SIM_CFG_U64, 0, 64, "8", NULL,
	  "Stage-2 TLB level 3: ways (0 = absent)" },
	{ "s2.ntlb.sets", SIM_CFG_U64, 1, 65536, "64", NULL,
	  "Nested TLB (combined GVA->SPA of 2D walks): sets (power of two)" },
	{ "s2.ntlb.ways", SIM_CFG_U64, 0, 64, "8", NULL,
	  "Nested TLB: ways (0 = absent)" },
	{ "s2.pwc.s1.sets", SIM_CFG_U64, 1, 65536, "4", NULL,
	  "Stage-1 page-walk cache (guest table entries): sets (power of two)" },
	{ "s2.pwc.s1.ways", SIM_CFG_U64, 0, 64, "8", NULL,
	  "Stage-1 page-walk cache: ways (0 = absent)" },
	{ "s2.pwc.s2.sets", SIM_CFG_U64, 1, 65536, "4", NULL,
	  "Stage-2 page-walk cache (nested table entries): sets (power of two)" },
	{ "s2.pwc.s2.ways", SIM_CFG_U64, 0, 64, "8", NULL,
	  "Stage-2 page-walk cache: ways (0 = absent)" },
	{ "s2.cache_rmp", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "TLB entries (4K/2M) cache a passed RMP check, so a hit skips the RMP entry read" },
	{ "s2.rmpupdate_flush", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "s2_rmp_flush() (called on RMPUPDATE) drops TLB entries whose output covers the page" },
	{ "lat.s2.tlb_l1", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Cycles of one stage-2 TLB level-1 probe (all page sizes in parallel)" },
	{ "lat.s2.tlb_l2", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Cycles of one stage-2 TLB level-2 probe (after an L1 miss)" },
	{ "lat.s2.tlb_l3", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Cycles of one stage-2 TLB level-3 probe (after an L2 miss)" },
	{ "lat.s2.ntlb", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Cycles of one nested (GVA->SPA) TLB probe" },
	{ "lat.s2.pwc", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Cycles of one page-walk-cache probe at the start of a walk" },
	{ "lat.s2.walk", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Fixed cycles of starting one table walk (walker set-up), excl. its memory references" },
	{ "lat.s2.tlbi_ipa", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of a TLB invalidation by IPA (TLBI IPAS2E1IS+DSB / INVLPGA-like)" },
	{ "lat.s2.tlbi_vm", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of invalidating one VM (TLBI VMALLS12E1IS+DSB / INVEPT single-context)" },
	{ "lat.s2.tlbi_all", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Cycles of invalidating every VM (TLBI ALLE1IS+DSB / INVEPT global)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static unsigned cfg_u(const struct sim *s, const char *key)
{
	return (unsigned)sim_cfg_u64(s, key);
}

void s2_mmu_cfg_from_sim(const struct sim *s, struct s2_mmu_cfg *cfg)
{
	static const char *const lv[S2_TLB_MAX_LEVELS] = { "l1", "l2", "l3" };
	char k[64];

	memset(cfg, 0, sizeof(*cfg));
	cfg->tlb_levels = cfg_u(s, "s2.tlb.levels");
	for (unsigned l = 0; l < S2_TLB_MAX_LEVELS; l++) {
		snprintf(k, sizeof(k), "s2.tlb.%s.sets", lv[l]);
		cfg->tlb[l].sets = cfg_u(s, k);
		snprintf(k, sizeof(k), "s2.tlb.%s.ways", lv[l]);
		cfg->tlb[l].ways = cfg_u(s, k);
	}
	cfg->ntlb.sets = cfg_u(s, "s2.ntlb.sets");
	cfg->ntlb.ways = cfg_u(s, "s2.ntlb.ways");
	cfg->pwc_s1.sets = cfg_u(s, "s2.pwc.s1.sets");
	cfg->pwc_s1.ways = cfg_u(s, "s2.pwc.s1.ways");
	cfg->pwc_s2.sets = cfg_u(s, "s2.pwc.s2.sets");
	cfg->pwc_s2.ways = cfg_u(s, "s2.pwc.s2.ways");
	cfg->cache_check = sim_cfg_bool(s, "s2.cache_rmp");
}

void s2_timing_from_sim(const struct sim *s, struct s2_timing *t)
{
	memset(t, 0, sizeof(*t));
	t->tlb_hit[0] = cfg_u(s, "lat.s2.tlb_l1");
	t->tlb_hit[1] = cfg_u(s, "lat.s2.tlb_l2");
	t->tlb_hit[2] = cfg_u(s, "lat.s2.tlb_l3");
	t->ntlb_hit = cfg_u(s, "lat.s2.ntlb");
	t->pwc_hit = cfg_u(s, "lat.s2.pwc");
	t->walk = cfg_u(s, "lat.s2.walk");
	t->tlbi_ipa = cfg_u(s, "lat.s2.tlbi_ipa");
	t->tlbi_vm = cfg_u(s, "lat.s2.tlbi_vm");
	t->tlbi_all = cfg_u(s, "lat.s2.tlbi_all");
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static void stat_u(struct sim *s, const char *prefix, const char *name, const uint64_t *v,
		   const char *desc)
{
	char n[256];

	snprintf(n, sizeof(n), "%s.%s", prefix, name);
	sim_stat_counter(s, n, v, desc);
}

void s2_stats_register(struct sim *s, const char *prefix, struct s2_stats *st,
		       unsigned tlb_levels)
{
	static const char *const lv[S2_TLB_MAX_LEVELS] = { "l1", "l2", "l3" };
	char n[64], d[64];

	stat_u(s, prefix, "walks", &st->walks, "Table walks started (each stage of a 2D walk counts)");
	stat_u(s, prefix, "xlates", &st->xlates, "Stage-2-only (or stage-1-only) translations");
	stat_u(s, prefix, "xlates_2d", &st->xlates_2d, "Nested (2D) translations");
	snprintf(n, sizeof(n), "%s.walk_refs", prefix);
	sim_stat_hist(s, n, &st->walk_refs, "Table-entry memory references per translation that walked");
	for (unsigned l = 0; l < tlb_levels && l < S2_TLB_MAX_LEVELS; l++) {
		snprintf(n, sizeof(n), "tlb.%s.hit", lv[l]);
		snprintf(d, sizeof(d), "Stage-2 TLB level %u hits", l + 1);
		stat_u(s, prefix, n, &st->tlb_hit[l], d);
		snprintf(n, sizeof(n), "tlb.%s.miss", lv[l]);
		snprintf(d, sizeof(d), "Stage-2 TLB level %u misses", l + 1);
		stat_u(s, prefix, n, &st->tlb_miss[l], d);
	}
	stat_u(s, prefix, "ntlb.hit", &st->ntlb_hit, "Nested (GVA->SPA) TLB hits");
	stat_u(s, prefix, "ntlb.miss", &st->ntlb_miss, "Nested (GVA->SPA) TLB misses");
	stat_u(s, prefix, "pwc.s1.hit", &st->pwc_s1_hit, "Stage-1 walk-cache hits (walk skipped levels)");
	stat_u(s, prefix, "pwc.s1.miss", &st->pwc_s1_miss, "Stage-1 walk-cache misses (walk from the root)");
	stat_u(s, prefix, "pwc.s2.hit", &st->pwc_s2_hit, "Stage-2 walk-cache hits");
	stat_u(s, prefix, "pwc.s2.miss", &st->pwc_s2_miss, "Stage-2 walk-cache misses");
	stat_u(s, prefix, "tlbi.all", &st->tlbi_all, "Invalidations of every VM");
	stat_u(s, prefix, "tlbi.vm", &st->tlbi_vm, "Invalidations of one VM");
	stat_u(s, prefix, "tlbi.ipa", &st->tlbi_ipa, "Invalidations by IPA (and break-before-make ranges)");
	stat_u(s, prefix, "tlbi.entries", &st->tlbi_entries, "Cached entries dropped by invalidations");
	stat_u(s, prefix, "check_flush", &st->check_flush, "Entries dropped by RMPUPDATE (s2.rmpupdate_flush)");
	stat_u(s, prefix, "faults.translation", &st->faults[S2_FAULT_TRANSLATION],
	       "Translation faults (any stage)");
	stat_u(s, prefix, "faults.permission", &st->faults[S2_FAULT_PERMISSION],
	       "Permission faults (any stage)");
	stat_u(s, prefix, "faults.access", &st->faults[S2_FAULT_ACCESS],
	       "Access-flag faults (arm64 AF, Sv A/D)");
	stat_u(s, prefix, "faults.check", &st->faults[S2_FAULT_CHECK],
	       "Accesses refused by the check hook (RMP)");
	stat_u(s, prefix, "faults.stage1", &st->faults_s1, "Of the faults above, stage-1 (guest #PF) ones");
	stat_u(s, prefix, "ad_updates", &st->ad_updates, "Hardware accessed/dirty flag writes");
	stat_u(s, prefix, "checks", &st->checks, "Check-hook (RMP) calls");
	stat_u(s, prefix, "checks_cached", &st->checks_cached, "Checks skipped: result cached in a TLB entry");
}

/* ------------------------------------------------------------------ */
/* The machine model                                                   */
/* ------------------------------------------------------------------ */

struct s2_ctx *s2_ctx_get(const struct sim *s)
{
	return sim_get_model(s, &s2_module);
}

struct s2_stats *s2_ctx_stats(struct s2_ctx *c) { return &c->st; }
const struct s2_timing *s2_ctx_timing(const struct s2_ctx *c) { return &c->t; }

struct s2_mmu *s2_ctx_mmu(struct s2_ctx *c, int agent)
{
	if (!c || agent < 0 || agent >= S2_MAX_AGENTS)
		return NULL;
	if ((size_t)agent >= c->nmmu) {
		size_t n = (size_t)agent + 8;
		c->mmu = realloc(c->mmu, n * sizeof(*c->mmu));
		if (!c->mmu)
			sim_fatal("s2: out of host memory");
		memset(c->mmu + c->nmmu, 0, (n - c->nmmu) * sizeof(*c->mmu));
		c->nmmu = n;
	}
	if (!c->mmu[agent]) {
		c->mmu[agent] = s2_mmu_new(&c->cfg, &c->t, &c->st);
		if (!c->mmu[agent])
			sim_fatal("s2: TLB geometry rejected after validation");
	}
	return c->mmu[agent];
}

uint32_t s2_ctx_tlbi(struct s2_ctx *c, enum s2_tlbi_scope scope, uint32_t vmid, uint64_t ipa)
{
	uint32_t cost = 0;

	for (size_t i = 0; i < c->nmmu; i++) {
		if (!c->mmu[i])
			continue;
		switch (scope) {
		case S2_TLBI_ALL: cost = s2_mmu_tlbi_all(c->mmu[i]); break;
		case S2_TLBI_VM: cost = s2_mmu_tlbi_vm(c->mmu[i], vmid); break;
		case S2_TLBI_IPA: cost = s2_mmu_tlbi_ipa(c->mmu[i], vmid, ipa); break;
		}
	}
	return cost;
}

void s2_ctx_tlbi_range(struct s2_ctx *c, uint32_t vmid, uint64_t ia, uint64_t bytes)
{
	for (size_t i = 0; i < c->nmmu; i++)
		if (c->mmu[i])
			(void)s2_mmu_tlbi_range(c->mmu[i], vmid, ia, bytes);
}

unsigned s2_rmp_flush(struct sim *s, uint64_t spa, uint64_t size)
{
	struct s2_ctx *c = s2_ctx_get(s);
	unsigned n = 0;

	if (!c || !c->rmpupdate_flush)
		return 0;
	for (size_t i = 0; i < c->nmmu; i++)
		if (c->mmu[i])
			n += s2_mmu_check_flush(c->mmu[i], spa, size);
	return n;
}

static void s2_detach(struct sim *s)
{
	struct s2_ctx *c = s2_ctx_get(s);

	if (!c)
		return;
	for (size_t i = 0; i < c->nmmu; i++)
		s2_mmu_free(c->mmu[i]);
	free(c->mmu);
	free(c);
	sim_set_model(s, &s2_module, NULL);
}

/*
 * RMPUPDATE and PSMASH changed [spa, spa + size): drop cached check
 * results; with rmp.update_flush_tlb the instruction flushed every TLB,
 * so every MMU of the machine loses every entry (TLBs, nested TLB, walk
 * caches: counted as s2.tlbi.all; the cost is the instruction's).
 */
static void s2_on_rmp_change(void *arg, enum rmp_insn insn, uint64_t spa, uint64_t size)
{
	struct s2_ctx *c = s2_ctx_get(arg);

	if (insn != RMP_INSN_RMPUPDATE && insn != RMP_INSN_PSMASH)
		return;   /* the guest's own PVALIDATE/RMPADJUST: no TLB maintenance */
	if (c && rmp_update_flushes_tlb(c->rmp)) {
		for (size_t i = 0; i < c->nmmu; i++)
			if (c->mmu[i])
				(void)s2_mmu_tlbi_all(c->mmu[i]);
		return;
	}
	s2_rmp_flush(arg, spa, size);
}

static int s2_attach(struct sim *s, struct sim_err *err)
{
	struct s2_mmu_cfg cfg;
	struct s2_timing t;
	struct s2_ctx *c;
	struct s2_mmu *probe;
	struct rmp *rmp = sim_get_model(s, &rmp_module);
	const struct { const char *key; unsigned v; } sets[] = {
		{ "s2.tlb.l1.sets", cfg_u(s, "s2.tlb.l1.sets") },
		{ "s2.tlb.l2.sets", cfg_u(s, "s2.tlb.l2.sets") },
		{ "s2.tlb.l3.sets", cfg_u(s, "s2.tlb.l3.sets") },
		{ "s2.ntlb.sets", cfg_u(s, "s2.ntlb.sets") },
		{ "s2.pwc.s1.sets", cfg_u(s, "s2.pwc.s1.sets") },
		{ "s2.pwc.s2.sets", cfg_u(s, "s2.pwc.s2.sets") },
	};

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (sets[i].v & (sets[i].v - 1))
			return sim_cfg_error(s, sets[i].key, err, "%u: must be a power of two",
					     sets[i].v);
	s2_mmu_cfg_from_sim(s, &cfg);
	s2_timing_from_sim(s, &t);
	probe = s2_mmu_new(&cfg, &t, NULL);
	if (!probe)
		return sim_cfg_error(s, "s2.tlb.l1.sets", err, "TLB geometry out of range");
	s2_mmu_free(probe);
	c = calloc(1, sizeof(*c));
	if (!c)
		sim_fatal("s2: out of host memory");
	c->s = s;
	c->mem = sim_mem(s);
	c->rmp = rmp;
	c->cfg = cfg;
	c->t = t;
	c->rmpupdate_flush = sim_cfg_bool(s, "s2.rmpupdate_flush");
	s2_stats_register(s, "s2", &c->st, c->cfg.tlb_levels);
	sim_set_model(s, &s2_module, c);
	if (rmp)
		rmp_add_change_hook(rmp, s2_on_rmp_change, s);
	return 0;
}

static void s2_summary(struct sim *s, FILE *out)
{
	struct s2_ctx *c = s2_ctx_get(s);
	uint64_t hit = 0, miss = 0;

	if (!c)
		return;
	for (unsigned l = 0; l < c->cfg.tlb_levels; l++) {
		hit += c->st.tlb_hit[l];
		miss += c->st.tlb_miss[l];
	}
	fprintf(out, "s2: %llu translations (%llu 2D), %llu walks, %llu faults, "
		"tlb %llu hits / %llu misses\n",
		(unsigned long long)(c->st.xlates + c->st.xlates_2d),
		(unsigned long long)c->st.xlates_2d, (unsigned long long)c->st.walks,
		(unsigned long long)(c->st.faults[1] + c->st.faults[2] + c->st.faults[3] +
				     c->st.faults[4]),
		(unsigned long long)hit, (unsigned long long)miss);
}


const struct sim_module s2_module = {
	.name = "s2",
	.needs = (const char *const[]){ "rmp", NULL },
	.keys = s2_keys,
	.attach = s2_attach,
	.detach = s2_detach,
	.summary = s2_summary,
};
