/*
 * s2_ops.c - the s2 module: configuration keys, the per-machine model
 * (VMs, per-agent MMUs, the stage-2 table pool, the RMP glue), stats, and
 * the stage-2 / stage-1 / access operations of the operation language,
 * spelled as in script-language.md (extensions in docs/stage2.md):
 *
 *   s2 create  vm= format=arm64|npt|ept [levels=3|4] [asid=]
 *   s2 map     vm= ipa= pa= size=4k|2m|1g perms=
 *   s2 unmap   vm= ipa= size=
 *   s2 protect vm= ipa= size= perms=
 *   s2 annotate vm= ipa= size= owner=        (extension: pKVM owner ids)
 *   s2 walk    vm= ipa=
 *   s2 access  vm= ipa= kind= [user=] [c=] [vmpl=]
 *   tlbi       [vm=] [ipa=]
 *   s1 create  vm= format=x86_64|sv39|sv48 root=
 *   s1 map     vm= va= ipa= size= perms= [user=] [c=]
 *   access     vm= va= kind= [user=] [vmpl=]
 *
 * This is the only file of stage2/ that knows the RMP: the check hook of
 * every VM calls rmp_check_guest() (SNP guests: asid != 0; other VMs get
 * the non-SNP check of writes and guest page-table accesses), and every
 * operation that stores table entries (s1 create/map, s2
 * create/map/unmap/protect/annotate) is the host writing memory: each page
 * it would write goes through rmp_check_host() before the first store
 * (host_table_writes()).
 */
#include "stage2/s2_int.h"
#include "rmp/rmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S2_MAX_AGENTS 4096

struct s2_vm {
	struct s2_ctx *ctx;              /* the machine */
	unsigned id;                     /* VM number (also the TLB tag) */
	uint32_t asid;                   /* != 0: SNP guest */
	struct s2_pgt *s2;               /* stage-2 table (pool pages) */
	struct s2_pgt *s1;               /* guest stage-1 table, or NULL */
	uint64_t s1_next;                /* next GPA handed out for a stage-1 table page */
	struct s2_space space;           /* what the MMU translates with */
	struct s2_check_hook hook;       /* -> s2_rmp_check */
	struct rmp_fault last;           /* the last refused RMP check */
};

struct s2_ctx {
	struct sim *s;                   /* owner */
	struct sim_mem *mem;             /* machine memory */
	struct rmp *rmp;                 /* RMP model (may be NULL or off) */
	struct s2_mmu_cfg cfg;           /* TLB geometry */
	struct s2_timing t;              /* lat.s2.* */
	struct s2_stats st;              /* shared by every MMU */
	struct s2_mmu **mmu;             /* by agent id, created on first use */
	size_t nmmu;                     /* slots in mmu[] */
	struct s2_vm *vm[S2_MAX_VMS];    /* script VMs */
	uint64_t pool_base, pool_end;    /* stage-2 table pool [base, end) */
	uint64_t pool_next;              /* bump pointer */
	uint64_t *free;                  /* freed pool pages (LIFO) */
	size_t nfree, capfree;
	uint64_t pool_pages;             /* pool pages in use */
	uint64_t pool_frees;             /* pages given back (empty tables after unmap, destroyed tables) */
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
	{ "s2.pool_base", SIM_CFG_U64, 0, SIM_PA_LIMIT - 1, "0", NULL,
	  "Stage-2 table-page pool of the script machine, 4K aligned; 0 = just below the RMP (or the top of memory)" },
	{ "s2.pool_size", SIM_CFG_SIZE, SIM_PAGE_SIZE, 1ull << 40, "16m", NULL,
	  "Bytes of the stage-2 table-page pool (multiple of 4k)" },
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

/* Stage-2 table pages: the pool, LIFO reuse of freed pages. */
static uint64_t s2_pool_alloc(void *arg)
{
	struct s2_ctx *c = arg;

	if (c->nfree) {
		c->pool_pages++;
		return c->free[--c->nfree];
	}
	if (c->pool_next >= c->pool_end)
		return S2_NO_PAGE;
	c->pool_pages++;
	c->pool_next += SIM_PAGE_SIZE;
	return c->pool_next - SIM_PAGE_SIZE;
}

static void s2_pool_free(void *arg, uint64_t pa)
{
	struct s2_ctx *c = arg;

	if (c->nfree == c->capfree) {
		c->capfree = c->capfree ? 2 * c->capfree : 64;
		c->free = realloc(c->free, c->capfree * sizeof(*c->free));
		if (!c->free)
			sim_fatal("s2: out of host memory");
	}
	c->free[c->nfree++] = pa;
	c->pool_pages--;
	c->pool_frees++;
}

/* Break-before-make: invalidate the block's range in every MMU. */
static void s2_bbm_tlbi(void *arg, uint64_t ia, uint64_t bytes)
{
	struct s2_vm *v = arg;
	struct s2_ctx *c = v->ctx;

	for (size_t i = 0; i < c->nmmu; i++)
		if (c->mmu[i])
			(void)s2_mmu_tlbi_range(c->mmu[i], v->id, ia, bytes);
}

/* The pool ops as seen by a VM's stage-2 table (BBM needs the VM). */
static uint64_t s2_vm_alloc(void *arg) { return s2_pool_alloc(((struct s2_vm *)arg)->ctx); }
static void s2_vm_free(void *arg, uint64_t pa) { s2_pool_free(((struct s2_vm *)arg)->ctx, pa); }

static const struct s2_mm_ops s2_vm_mm = {
	.alloc_page = s2_vm_alloc,
	.free_page = s2_vm_free,
	.tlbi = s2_bbm_tlbi,
};

/* Guest stage-1 table pages: GPAs from the root upward, reached through stage 2. */
static uint64_t s2_s1_alloc(void *arg)
{
	struct s2_vm *v = arg;
	uint64_t g = v->s1_next;

	if (g >= SIM_PA_LIMIT)
		return S2_NO_PAGE;
	v->s1_next += SIM_PAGE_SIZE;
	return g;
}

static bool s2_s1_table_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	struct s2_vm *v = arg;
	struct s2_req req = { .acc = S2_ACC_READ, .agent = -1, .src = SIM_SRC_PTW };
	struct s2_xlate x;

	if (s2_translate(v->s2, gpa, &req, &x))
		return false;
	*pa = x.pa;
	return true;
}

static const struct s2_mm_ops s2_s1_mm = {
	.alloc_page = s2_s1_alloc,
	.table_pa = s2_s1_table_pa,
};

/*
 * The memory PA of the @k-th table page the next allocations would hand
 * out (0 = the next one), without taking it, or S2_NO_PAGE: for the
 * stage-2 pool the LIFO of freed pages then the bump pointer
 * (s2_pool_alloc); for a stage-1 table of @v the next GPAs upward
 * (s2_s1_alloc) through the VM's stage 2.
 */
static uint64_t s2_next_table_page(struct s2_ctx *c, struct s2_vm *v, bool s1, uint64_t k)
{
	uint64_t a;

	if (s1) {
		if (v->s1_next >= SIM_PA_LIMIT || k >= (SIM_PA_LIMIT - v->s1_next) / SIM_PAGE_SIZE ||
		    !s2_s1_table_pa(v, v->s1_next + k * SIM_PAGE_SIZE, &a))
			return S2_NO_PAGE;
		return a;
	}
	if (k < c->nfree)
		return c->free[c->nfree - 1 - k];
	k -= c->nfree;
	if (k >= (c->pool_end - c->pool_next) / SIM_PAGE_SIZE)
		return S2_NO_PAGE;
	return c->pool_next + k * SIM_PAGE_SIZE;
}

/*
 * Host stores into table pages.  Building or changing a table is the host
 * (hypervisor or VMM) writing memory, so each store is a host data write,
 * RMP-checked for Hypervisor-Owned (APM vol. 2 section 15.36.10, Table
 * 15-39; a store to an assigned page raises #PF with the RMP bit, which
 * Linux treats as fatal in the kernel).  Check-then-commit: every page
 * the operation would write (s2_write_set) and every page its allocator
 * would hand out for new tables (zeroed, then written) is checked before
 * the first store, in that order.
 */
struct host_wr {
	struct rmp_fault f;      /* the refusal, if any */
	uint64_t cycles;         /* memory cycles of the checks (RMP entry reads) */
};

/* Check one page; false on a fault (in @hw). */
static bool host_page_ok(struct s2_ctx *c, struct rmp_who *who, uint64_t pa, struct host_wr *hw)
{
	uint64_t before = who->mem_cycles;
	bool ok = rmp_check_host(c->rmp, who, pa, true, SIM_SZ_4K, &hw->f) == RMP_FAULT_NONE;

	hw->cycles += who->mem_cycles - before;
	return ok;
}

/*
 * Check the pages operation @op on @p (a table of VM @v: its stage 2, or
 * its stage 1 when @s1) would write.  A prediction that ends in an error
 * (the operation's own argument checks, an existing mapping, a table page
 * stage 2 does not map) leaves the outcome to the operation.
 * Return: true to go ahead; false with @hw->f filled: refused.
 */
static bool host_table_writes(struct s2_ctx *c, struct s2_vm *v, struct s2_pgt *p, bool s1,
			      int agent, enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
			      uint64_t leaf, const struct s2_prot *prot, struct host_wr *hw)
{
	struct sim_agent *a = agent >= 0 ? sim_agent_by_id(c->s, agent) : NULL;
	struct rmp_who who = { .now = a ? sim_now(a) : 0, .agent = agent };
	struct s2_wset ws = { 0 };
	bool ok = true;

	memset(hw, 0, sizeof(*hw));
	if (!rmp_enabled(c->rmp) || s2_write_set(p, op, ia, pa, size, leaf, prot, &ws) != S2_OK) {
		s2_wset_free(&ws);
		return true;
	}
	for (size_t i = 0; ok && i < ws.n; i++)
		ok = host_page_ok(c, &who, ws.pages[i], hw);
	for (uint64_t k = 0; ok && k < ws.new_tables; k++) {
		uint64_t t = s2_next_table_page(c, v, s1, k);

		if (t == S2_NO_PAGE)
			break;   /* the operation runs out of pages there (nomem / unmapped) */
		ok = host_page_ok(c, &who, t, hw);
	}
	s2_wset_free(&ws);
	return ok;
}

/* Check the one page a new table's root would be (zeroed at creation). */
static bool host_root_write(struct s2_ctx *c, int agent, uint64_t pa, struct host_wr *hw)
{
	struct sim_agent *a = agent >= 0 ? sim_agent_by_id(c->s, agent) : NULL;
	struct rmp_who who = { .now = a ? sim_now(a) : 0, .agent = agent };

	memset(hw, 0, sizeof(*hw));
	if (pa == S2_NO_PAGE || !rmp_enabled(c->rmp))
		return true;
	return host_page_ok(c, &who, pa, hw);
}

/* The RMP check of one access of VM @arg. */
static int s2_rmp_check(void *arg, const struct s2_check *chk, uint64_t *cycles)
{
	struct s2_vm *v = arg;
	struct s2_ctx *c = v->ctx;
	struct sim_agent *a = chk->agent >= 0 ? sim_agent_by_id(c->s, chk->agent) : NULL;
	struct rmp_who who = { .now = a ? sim_now(a) : 0, .agent = chk->agent };
	struct rmp_gaccess ga = {
		.asid = v->asid, .vmpl = chk->vmpl, .gpa = chk->gpa, .spa = chk->spa,
		.c_bit = chk->c, .user = chk->user, .snp = v->asid != 0, .map_size = chk->size,
	};
	enum rmp_fault_kind k;

	if (!rmp_enabled(c->rmp))
		return 0;
	if (chk->table)
		ga.kind = chk->acc == S2_ACC_WRITE ? RMP_ACC_PT_WRITE : RMP_ACC_PT_READ;
	else if (chk->acc == S2_ACC_WRITE)
		ga.kind = RMP_ACC_WRITE;
	else if (chk->acc == S2_ACC_FETCH)
		ga.kind = chk->user ? RMP_ACC_FETCH_USER : RMP_ACC_FETCH_SUP;
	else
		ga.kind = RMP_ACC_READ;
	k = rmp_check_guest(c->rmp, &who, &ga, &v->last);
	*cycles += who.mem_cycles;
	return k == RMP_FAULT_NONE ? 0 : (int)k;
}

int s2_ctx_vm_create(struct s2_ctx *c, unsigned vm, const struct s2_fmt_ops *fmt,
		     unsigned levels, uint32_t asid)
{
	struct s2_vm *v;
	int rc;

	if (!c || vm >= S2_MAX_VMS || !fmt || fmt->stage != 2)
		return S2_ERR_INVAL;
	if (c->vm[vm])
		return S2_ERR_EXISTS;
	v = calloc(1, sizeof(*v));
	if (!v)
		sim_fatal("s2: out of host memory");
	v->ctx = c;
	v->id = vm;
	v->asid = asid;
	v->s2 = s2_pgt_new(fmt, levels, c->mem, S2_NO_PAGE, &s2_vm_mm, v, &rc);
	if (!v->s2) {
		free(v);
		return rc;
	}
	v->hook.check = s2_rmp_check;
	v->hook.arg = v;
	v->space.vmid = vm;
	v->space.s2 = v->s2;
	v->space.hook = &v->hook;
	c->vm[vm] = v;
	return S2_OK;
}

struct s2_vm *s2_ctx_vm(struct s2_ctx *c, unsigned vm)
{
	return c && vm < S2_MAX_VMS ? c->vm[vm] : NULL;
}

int s2_ctx_s1_create(struct s2_ctx *c, unsigned vm, const struct s2_fmt_ops *fmt,
		     uint64_t root)
{
	struct s2_vm *v = s2_ctx_vm(c, vm);
	unsigned levels;
	int rc;

	if (!v)
		return S2_ERR_NOENT;
	if (!fmt || fmt->stage != 1)
		return S2_ERR_INVAL;
	if (v->s1)
		return S2_ERR_EXISTS;
	if (root & (SIM_PAGE_SIZE - 1))
		return S2_ERR_ALIGN;
	if (root >= SIM_PA_LIMIT)
		return S2_ERR_RANGE;
	levels = fmt->min_levels;
	v->s1_next = root + SIM_PAGE_SIZE;
	v->s1 = s2_pgt_new(fmt, levels, c->mem, root, &s2_s1_mm, v, &rc);
	if (!v->s1)
		return rc;
	v->space.s1 = v->s1;
	return S2_OK;
}

struct s2_pgt *s2_vm_s2(struct s2_vm *v) { return v->s2; }
struct s2_pgt *s2_vm_s1(struct s2_vm *v) { return v->s1; }
const struct s2_space *s2_vm_space(const struct s2_vm *v) { return &v->space; }
uint32_t s2_vm_asid(const struct s2_vm *v) { return v->asid; }

const char *s2_vm_fault_str(const struct s2_vm *v, const struct s2_fault *f, char *buf,
			    size_t len)
{
	if (f->type == S2_FAULT_CHECK) {
		rmp_fault_format(&v->last, buf, len);
		return buf;
	}
	return s2_fault_str(f, buf, len);
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
	for (unsigned i = 0; i < S2_MAX_VMS; i++) {
		if (!c->vm[i])
			continue;
		s2_pgt_free(c->vm[i]->s1);
		s2_pgt_free(c->vm[i]->s2);
		free(c->vm[i]);
	}
	for (size_t i = 0; i < c->nmmu; i++)
		s2_mmu_free(c->mmu[i]);
	free(c->mmu);
	free(c->free);
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

	(void)insn;
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
	uint64_t size = sim_cfg_u64(s, "s2.pool_size");
	uint64_t base = sim_cfg_u64(s, "s2.pool_base");
	uint64_t mem = sim_mem_size(sim_mem(s));
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
	if (size & (SIM_PAGE_SIZE - 1))
		return sim_cfg_error(s, "s2.pool_size", err, "0x%llx: must be a multiple of 4k",
				   (unsigned long long)size);
	if (!base) {
		uint64_t top = rmp_enabled(rmp) ? rmp_base(rmp) : mem;

		top &= ~(SIM_SZ_2M - 1);
		if (top < size)
			return sim_cfg_error(s, "s2.pool_size", err, "0x%llx: no room below 0x%llx",
					   (unsigned long long)size, (unsigned long long)top);
		base = top - size;
	}
	if ((base & (SIM_PAGE_SIZE - 1)) || base > mem || size > mem - base)
		return sim_cfg_error(s, "s2.pool_base", err, "0x%llx: must be 4k aligned with the pool "
				   "inside machine.mem (0x%llx)", (unsigned long long)base,
				   (unsigned long long)mem);
	c = calloc(1, sizeof(*c));
	if (!c)
		sim_fatal("s2: out of host memory");
	c->s = s;
	c->mem = sim_mem(s);
	c->rmp = rmp;
	c->cfg = cfg;
	c->t = t;
	c->rmpupdate_flush = sim_cfg_bool(s, "s2.rmpupdate_flush");
	c->pool_base = c->pool_next = base;
	c->pool_end = base + size;
	s2_stats_register(s, "s2", &c->st, c->cfg.tlb_levels);
	sim_stat_counter(s, "s2.pool.pages", &c->pool_pages, "Stage-2 table pages in use (script pool)");
	sim_stat_counter(s, "s2.pool.frees", &c->pool_frees,
			 "Table pages given back to the pool (tables emptied by unmap, destroyed tables)");
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
		"tlb %llu hits / %llu misses, pool %llu pages at 0x%llx\n",
		(unsigned long long)(c->st.xlates + c->st.xlates_2d),
		(unsigned long long)c->st.xlates_2d, (unsigned long long)c->st.walks,
		(unsigned long long)(c->st.faults[1] + c->st.faults[2] + c->st.faults[3] +
				     c->st.faults[4]),
		(unsigned long long)hit, (unsigned long long)miss,
		(unsigned long long)c->pool_pages, (unsigned long long)c->pool_base);
}

/* ------------------------------------------------------------------ */
/* Script operations                                                   */
/* ------------------------------------------------------------------ */

static const char *const s2_fmt_choices[] = { "arm64", "npt", "ept", NULL };
static const char *const s1_fmt_choices[] = { "x86_64", "sv39", "sv48", NULL };
static const char *const kind_choices[] = { "read", "write", "fetch", NULL };

/* Argument helpers: each reports a bad value with sim_call_bad_arg(). */
static bool arg_addr(struct sim_call *c, const char *key, uint64_t *out)
{
	*out = sim_arg_u64(c, key, 0);
	if (*out >= SIM_PA_LIMIT) {
		sim_call_bad_arg(c, key, "0x%llx is beyond the 52-bit address space",
				 (unsigned long long)*out);
		return false;
	}
	return true;
}

static bool arg_va(struct sim_call *c, const char *key, uint64_t *out)
{
	*out = sim_arg_u64(c, key, 0);
	return true;
}

static bool arg_perms(struct sim_call *c, uint8_t *out)
{
	if (s2_perms_parse(sim_arg_str(c, "perms", ""), out)) {
		sim_call_bad_arg(c, "perms", "must be 'none' or letters from r, w, x, u, s");
		return false;
	}
	return true;
}

static bool arg_leaf_size(struct sim_call *c, uint64_t *out)
{
	*out = sim_arg_u64(c, "size", 0);
	if (*out != SIM_SZ_4K && *out != SIM_SZ_2M && *out != SIM_SZ_1G) {
		sim_call_bad_arg(c, "size", "must be 4k, 2m or 1g");
		return false;
	}
	return true;
}

static bool arg_range_size(struct sim_call *c, uint64_t *out)
{
	*out = sim_arg_u64(c, "size", 0);
	if (!*out) {
		sim_call_bad_arg(c, "size", "must not be 0");
		return false;
	}
	return true;
}

static bool arg_vmpl(struct sim_call *c, uint8_t *out)
{
	uint64_t v = sim_arg_u64(c, "vmpl", 0);

	if (v > 3) {
		sim_call_bad_arg(c, "vmpl", "must be 0..3");
		return false;
	}
	*out = (uint8_t)v;
	return true;
}

/* The VM named by vm= (ERROR(novm) printed if it does not exist). */
static struct s2_vm *op_vm(struct sim_call *c, struct s2_ctx **ctxp)
{
	struct s2_ctx *ctx = s2_ctx_get(sim_call_sim(c));
	uint64_t n = sim_arg_u64(c, "vm", 0);
	struct s2_vm *v;

	if (n >= S2_MAX_VMS) {
		sim_call_bad_arg(c, "vm", "must be 0..%d", S2_MAX_VMS - 1);
		return NULL;
	}
	v = s2_ctx_vm(ctx, (unsigned)n);
	if (!v)
		sim_call_result(c, "ERROR(novm)");
	if (ctxp)
		*ctxp = ctx;
	return v;
}

/*
 * A table write refused by the RMP (host_table_writes): the host-write
 * fault token, "#PF(W,RMP) addr=SPA" (spurious=1 for a locked entry), as
 * host_access prints it; the checks are charged, nothing was written.
 */
static void op_host_fault(struct sim_call *c, const struct host_wr *hw)
{
	char tok[64];

	rmp_fault_format(&hw->f, tok, sizeof(tok));
	sim_call_result(c, "%s", tok);
	sim_call_field_hex(c, "addr", hw->f.addr);
	if (hw->f.spurious)
		sim_call_field(c, "spurious", "1");
	sim_advance(sim_call_agent(c), hw->cycles);
}

/* Print OK or ERROR(reason) for a management result; charge the table work. */
static void op_finish(struct sim_call *c, struct s2_pgt *p, int rc)
{
	if (rc)
		sim_call_result(c, "ERROR(%s)", s2_rc_name(rc));
	else
		sim_call_result(c, "OK");
	if (p) {
		s2_pgt_set_agent(p, -1);
		sim_advance(sim_call_agent(c), s2_pgt_take_cycles(p));
	}
}

static void op_s2_create(struct sim_call *c)
{
	struct s2_ctx *ctx = s2_ctx_get(sim_call_sim(c));
	const struct s2_fmt_ops *f = s2_fmt_by_name(s2_fmt_choices[sim_arg_enum(c, "format", 0)]);
	uint64_t vm = sim_arg_u64(c, "vm", 0);
	uint64_t levels = sim_arg_u64(c, "levels", f->max_levels);
	uint64_t asid = sim_arg_u64(c, "asid", 0);
	struct host_wr hw = { 0 };
	int rc;

	if (vm >= S2_MAX_VMS) {
		sim_call_bad_arg(c, "vm", "must be 0..%d", S2_MAX_VMS - 1);
		return;
	}
	if (levels < f->min_levels || levels > f->max_levels) {
		if (f->min_levels == f->max_levels)
			sim_call_bad_arg(c, "levels", "format %s has %u levels", f->name, f->max_levels);
		else
			sim_call_bad_arg(c, "levels", "format %s has %u to %u levels", f->name,
					 f->min_levels, f->max_levels);
		return;
	}
	if (asid > UINT32_MAX) {
		sim_call_bad_arg(c, "asid", "does not fit 32 bits");
		return;
	}
	/* The root comes from the pool and is zeroed: a host store. */
	if (!ctx->vm[vm] && !host_root_write(ctx, sim_agent_id(sim_call_agent(c)),
					     s2_next_table_page(ctx, NULL, false, 0), &hw)) {
		op_host_fault(c, &hw);
		return;
	}
	rc = s2_ctx_vm_create(ctx, (unsigned)vm, f, (unsigned)levels, (uint32_t)asid);
	sim_advance(sim_call_agent(c), hw.cycles);
	op_finish(c, rc ? NULL : ctx->vm[vm]->s2, rc);
}

/*
 * Before a stage-2 table operation of VM @v: the RMP check of the table
 * pages it would write (host stores).  Return: false if refused (the
 * fault token printed); else true with the checks charged.
 */
static bool s2_op_writes_ok(struct sim_call *c, struct s2_ctx *ctx, struct s2_vm *v,
			    enum s2_wset_op op, uint64_t ipa, uint64_t pa, uint64_t size,
			    uint64_t leaf, const struct s2_prot *prot)
{
	struct host_wr hw;

	if (!host_table_writes(ctx, v, v->s2, false, sim_agent_id(sim_call_agent(c)), op, ipa, pa,
			       size, leaf, prot, &hw)) {
		op_host_fault(c, &hw);
		return false;
	}
	sim_advance(sim_call_agent(c), hw.cycles);
	return true;
}

static void op_s2_map(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	struct s2_prot prot = { 0 };
	uint64_t ipa, pa, size;

	if (!arg_addr(c, "ipa", &ipa) || !arg_addr(c, "pa", &pa) || !arg_leaf_size(c, &size) ||
	    !arg_perms(c, &prot.perms))
		return;
	v = op_vm(c, &ctx);
	if (!v || !s2_op_writes_ok(c, ctx, v, S2_WSET_MAP, ipa, pa, size, size, &prot))
		return;
	s2_pgt_set_agent(v->s2, sim_agent_id(sim_call_agent(c)));
	op_finish(c, v->s2, s2_map(v->s2, ipa, pa, size, size, &prot));
}

static void op_s2_unmap(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	uint64_t ipa, size;

	if (!arg_addr(c, "ipa", &ipa) || !arg_range_size(c, &size))
		return;
	v = op_vm(c, &ctx);
	if (!v || !s2_op_writes_ok(c, ctx, v, S2_WSET_UNMAP, ipa, 0, size, 0, NULL))
		return;
	s2_pgt_set_agent(v->s2, sim_agent_id(sim_call_agent(c)));
	op_finish(c, v->s2, s2_unmap(v->s2, ipa, size));
}

static void op_s2_protect(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	struct s2_prot prot = { 0 };
	uint64_t ipa, size;

	if (!arg_addr(c, "ipa", &ipa) || !arg_range_size(c, &size) || !arg_perms(c, &prot.perms))
		return;
	v = op_vm(c, &ctx);
	if (!v || !s2_op_writes_ok(c, ctx, v, S2_WSET_PROTECT, ipa, 0, size, 0, &prot))
		return;
	s2_pgt_set_agent(v->s2, sim_agent_id(sim_call_agent(c)));
	op_finish(c, v->s2, s2_protect(v->s2, ipa, size, prot.perms));
}

static void op_s2_annotate(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	uint64_t ipa, size, owner = sim_arg_u64(c, "owner", 0);

	if (!arg_addr(c, "ipa", &ipa) || !arg_range_size(c, &size))
		return;
	if (owner > 255) {
		sim_call_bad_arg(c, "owner", "must be 0..255");
		return;
	}
	v = op_vm(c, &ctx);
	if (!v || !s2_op_writes_ok(c, ctx, v, S2_WSET_ANNOTATE, ipa, 0, size, 0, NULL))
		return;
	s2_pgt_set_agent(v->s2, sim_agent_id(sim_call_agent(c)));
	op_finish(c, v->s2, s2_annotate(v->s2, ipa, size, (uint8_t)owner));
}

/*
 * s2 walk: print every descriptor on the path (untimed, as a debugger
 * reads memory), then the outcome an access would see.
 */
static void op_s2_walk(struct sim_call *c)
{
	struct s2_vm *v;
	struct s2_pgt *p;
	const struct s2_fmt_ops *f;
	uint64_t ipa, idx, table, raw, ea;
	struct s2_pte pte;
	char pb[8], sb[32];
	unsigned sz;
	int level;

	if (!arg_addr(c, "ipa", &ipa))
		return;
	v = op_vm(c, NULL);
	if (!v)
		return;
	p = v->s2;
	f = p->fmt;
	sz = s2_root_sz(p);
	if (!s2_ia_ok(p, ipa, &idx)) {
		sim_call_result(c, "#S2F(level=%d,type=translation)", f->arch_level(sz, p->levels));
		return;
	}
	for (table = p->root;; sz--) {
		level = f->arch_level(sz, p->levels);
		ea = table + 8ull * s2_index(idx, sz);
		raw = sim_mem_peek64(p->mem, ea);
		sim_call_printf(c, "L%d addr=0x%llx desc=0x%016llx", level, (unsigned long long)ea,
				(unsigned long long)raw);
		f->decode(raw, sz, &pte);
		if (pte.type == S2_PTE_TABLE) {
			table = pte.addr;
			continue;
		}
		if (pte.type != S2_PTE_LEAF || !(f->leaf_szs & (1u << sz))) {
			sim_call_result(c, "#S2F(level=%d,type=translation)", level);
			if (pte.type == S2_PTE_INVALID && pte.owner)
				sim_call_field_u64(c, "owner", pte.owner);
			return;
		}
		if (f->af_faults && !pte.accessed) {
			sim_call_result(c, "#S2F(level=%d,type=access)", level);
			return;
		}
		sim_call_result(c, "OK");
		sim_call_field_hex(c, "pa", pte.addr | (idx & (s2_sz_bytes(sz) - 1)));
		sim_call_field(c, "size", "%s", sim_fmt_size(s2_sz_bytes(sz), sb));
		sim_call_field(c, "perms", "%s", s2_perms_str(pte.prot.perms, pb));
		if (pte.prot.sw)
			sim_call_field_u64(c, "sw", pte.prot.sw);
		return;
	}
}

/* Print a translation's outcome and charge its latency. */
static void op_xlate_finish(struct sim_call *c, struct s2_vm *v, int rc, const struct s2_xlate *x)
{
	char buf[128];

	if (rc) {
		sim_call_result(c, "%s", s2_vm_fault_str(v, &x->fault, buf, sizeof(buf)));
		if (x->fault.type != S2_FAULT_CHECK)
			sim_call_field_hex(c, "code", x->fault.code);
		sim_call_field_hex(c, "addr", x->fault.addr);
	} else {
		sim_call_result(c, "OK");
		sim_call_field_hex(c, "pa", x->pa);
	}
	sim_call_field_u64(c, "refs", x->refs);
	sim_advance(sim_call_agent(c), x->cycles);
}

static void op_s2_access(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	struct s2_req req = { .src = SIM_SRC_PTW };
	struct s2_xlate x;
	uint64_t ipa;
	int rc;

	if (!arg_addr(c, "ipa", &ipa) || !arg_vmpl(c, &req.vmpl))
		return;
	v = op_vm(c, &ctx);
	if (!v)
		return;
	req.acc = (enum s2_access)sim_arg_enum(c, "kind", 0);
	req.user = sim_arg_bool(c, "user", false);
	req.c = sim_arg_bool(c, "c", v->asid != 0);
	req.agent = sim_agent_id(sim_call_agent(c));
	rc = s2_mmu_translate(s2_ctx_mmu(ctx, req.agent), &v->space, ipa, &req, &x);
	op_xlate_finish(c, v, rc, &x);
}

static void op_access(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	struct s2_req req = { .src = SIM_SRC_PTW };
	struct s2_xlate x;
	uint64_t va;
	int rc;

	if (!arg_va(c, "va", &va) || !arg_vmpl(c, &req.vmpl))
		return;
	v = op_vm(c, &ctx);
	if (!v)
		return;
	if (!v->s1) {
		sim_call_result(c, "ERROR(nos1)");
		return;
	}
	req.acc = (enum s2_access)sim_arg_enum(c, "kind", 0);
	req.user = sim_arg_bool(c, "user", false);
	req.agent = sim_agent_id(sim_call_agent(c));
	rc = s2_mmu_translate_2d(s2_ctx_mmu(ctx, req.agent), &v->space, va, &req, &x);
	op_xlate_finish(c, v, rc, &x);
}

static void op_tlbi(struct sim_call *c)
{
	struct s2_ctx *ctx = s2_ctx_get(sim_call_sim(c));
	uint64_t vm = sim_arg_u64(c, "vm", 0), ipa = 0;
	uint32_t cost = 0;

	if (sim_arg_has(c, "vm") && vm >= S2_MAX_VMS) {
		sim_call_bad_arg(c, "vm", "must be 0..%d", S2_MAX_VMS - 1);
		return;
	}
	if (sim_arg_has(c, "ipa") && !arg_addr(c, "ipa", &ipa))
		return;
	if (sim_arg_has(c, "ipa") && !sim_arg_has(c, "vm")) {
		sim_call_bad_arg(c, "ipa", "needs vm=");
		return;
	}
	/* Broadcast (inner shareable): every MMU drops the entries; the issuer pays once. */
	(void)s2_ctx_mmu(ctx, sim_agent_id(sim_call_agent(c)));
	for (size_t i = 0; i < ctx->nmmu; i++) {
		if (!ctx->mmu[i])
			continue;
		if (!sim_arg_has(c, "vm"))
			cost = s2_mmu_tlbi_all(ctx->mmu[i]);
		else if (sim_arg_has(c, "ipa"))
			cost = s2_mmu_tlbi_ipa(ctx->mmu[i], (uint32_t)vm, ipa);
		else
			cost = s2_mmu_tlbi_vm(ctx->mmu[i], (uint32_t)vm);
	}
	sim_call_result(c, "OK");
	sim_advance(sim_call_agent(c), cost);
}

/*
 * s1 create and s1 map stand for the host (the VMM) building a guest's
 * stage-1 tables in guest memory, as a VMM writes a guest's boot page
 * tables before launch: every store is a host data write to the system
 * page stage 2 maps the table GPA to, RMP-checked for Hypervisor-Owned
 * (APM vol. 2 section 15.36.10, Table 15-39).  A table page that is
 * assigned (a guest's private page, a firmware page) refuses the whole
 * operation with #PF(W,RMP) before anything is written; an SNP guest's
 * private tables are therefore built before its pages are assigned (as
 * SNP_LAUNCH_UPDATE converts pages the host has filled).  A guest
 * writing its own tables is a guest access (the CPU model's business).
 */
static void op_s1_create(struct sim_call *c)
{
	struct s2_ctx *ctx;
	const struct s2_fmt_ops *f = s2_fmt_by_name(s1_fmt_choices[sim_arg_enum(c, "format", 0)]);
	struct s2_vm *v;
	struct host_wr hw = { 0 };
	uint64_t root, spa;
	int rc;

	if (!arg_addr(c, "root", &root))
		return;
	v = op_vm(c, &ctx);
	if (!v)
		return;
	/* The root page is zeroed: check its system page (the other refusals come first). */
	if (!v->s1 && !(root & (SIM_PAGE_SIZE - 1)) && s2_s1_table_pa(v, root, &spa) &&
	    !host_root_write(ctx, sim_agent_id(sim_call_agent(c)), spa, &hw)) {
		op_host_fault(c, &hw);
		return;
	}
	rc = s2_ctx_s1_create(ctx, v->id, f, root);
	sim_advance(sim_call_agent(c), hw.cycles);
	op_finish(c, rc ? NULL : v->s1, rc);
}

static void op_s1_map(struct sim_call *c)
{
	struct s2_ctx *ctx;
	struct s2_vm *v;
	struct s2_prot prot = { 0 };
	struct host_wr hw;
	uint64_t va, ipa, size;

	if (!arg_va(c, "va", &va) || !arg_addr(c, "ipa", &ipa) || !arg_leaf_size(c, &size) ||
	    !arg_perms(c, &prot.perms))
		return;
	v = op_vm(c, &ctx);
	if (!v)
		return;
	if (!v->s1) {
		sim_call_result(c, "ERROR(nos1)");
		return;
	}
	prot.user = sim_arg_bool(c, "user", false);
	prot.c = sim_arg_bool(c, "c", v->asid != 0);
	if (!host_table_writes(ctx, v, v->s1, true, sim_agent_id(sim_call_agent(c)), S2_WSET_MAP, va,
			       ipa, size, size, &prot, &hw)) {
		op_host_fault(c, &hw);
		return;
	}
	sim_advance(sim_call_agent(c), hw.cycles);
	s2_pgt_set_agent(v->s1, sim_agent_id(sim_call_agent(c)));
	op_finish(c, v->s1, s2_map(v->s1, va, ipa, size, size, &prot));
}

/*
 * Argument specs: values are checked when the script is parsed, so the
 * op bodies' own checks (arg_addr() etc.) never see a bad value.
 */
#define A_VM(r)       SIM_A_INT("vm", r, 0, S2_MAX_VMS - 1)
#define A_LEAF_SIZE   SIM_A_SIZESET("size", true, SIM_SZ_4K | SIM_SZ_2M | SIM_SZ_1G)
#define A_RANGE_SIZE  SIM_A_SIZE_IN("size", true, 1, 0)          /* not 0 */
#define A_PERMS       SIM_A_PERMS("perms", true, "rwxus")        /* s2_perms_parse() */
#define A_VMPL        SIM_A_INT("vmpl", false, 0, 3)

static const struct sim_arg_spec s2_create_args[] = {
	A_VM(true),
	SIM_A_ENUM("format", true, s2_fmt_choices),
	SIM_A_U64("levels", false),                  /* the format's range: checked at run time */
	SIM_A_INT("asid", false, 0, UINT32_MAX),
	SIM_A_END
};
static const struct sim_arg_spec s2_map_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	SIM_A_ADDR("pa", true),
	A_LEAF_SIZE,
	A_PERMS,
	SIM_A_END
};
static const struct sim_arg_spec s2_unmap_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	A_RANGE_SIZE,
	SIM_A_END
};
static const struct sim_arg_spec s2_protect_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	A_RANGE_SIZE,
	A_PERMS,
	SIM_A_END
};
static const struct sim_arg_spec s2_annotate_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	A_RANGE_SIZE,
	SIM_A_INT("owner", true, 0, 255),
	SIM_A_END
};
static const struct sim_arg_spec s2_walk_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	SIM_A_END
};
static const struct sim_arg_spec s2_access_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	SIM_A_ENUM("kind", true, kind_choices),
	SIM_A_BOOL("user", false),
	SIM_A_BOOL("c", false),
	A_VMPL,
	SIM_A_END
};
static const struct sim_arg_spec tlbi_args[] = {
	A_VM(false),
	SIM_A_ADDR("ipa", false),
	SIM_A_END
};
static const struct sim_arg_spec s1_create_args[] = {
	A_VM(true),
	SIM_A_ENUM("format", true, s1_fmt_choices),
	SIM_A_ADDRM("root", true, "GPA"),
	SIM_A_END
};
static const struct sim_arg_spec s1_map_args[] = {
	A_VM(true),
	SIM_A_U64M("va", true, "ADDR"),              /* any 64-bit virtual address */
	SIM_A_ADDR("ipa", true),
	A_LEAF_SIZE,
	A_PERMS,
	SIM_A_BOOL("user", false),
	SIM_A_BOOL("c", false),
	SIM_A_END
};
static const struct sim_arg_spec access_args[] = {
	A_VM(true),
	SIM_A_U64M("va", true, "ADDR"),
	SIM_A_ENUM("kind", true, kind_choices),
	SIM_A_BOOL("user", false),
	A_VMPL,
	SIM_A_END
};

static const struct sim_op s2_ops[] = {
	{ "s2 create", s2_create_args,
	  "Create VM N's stage-2 table (asid=N: an SNP guest, RMP-checked)", op_s2_create },
	{ "s2 map", s2_map_args,
	  "Map one stage-2 leaf of that size", op_s2_map },
	{ "s2 unmap", s2_unmap_args,
	  "Unmap a range (blocks split; TLBs keep stale entries until tlbi)", op_s2_unmap },
	{ "s2 protect", s2_protect_args,
	  "Change the permissions of the mapped leaves of a range", op_s2_protect },
	{ "s2 annotate", s2_annotate_args,
	  "Make a range invalid, holding a pKVM owner id", op_s2_annotate },
	{ "s2 walk", s2_walk_args,
	  "Print the raw descriptors on the path of ipa and the outcome", op_s2_walk },
	{ "s2 access", s2_access_args,
	  "Translate ipa through the TLB and stage 2 (and the RMP check)", op_s2_access },
	{ "tlbi", tlbi_args,
	  "Invalidate the TLBs and walk caches of a VM (or one IPA; no vm=: everything)", op_tlbi },
	{ "s1 create", s1_create_args,
	  "Give VM N a guest stage-1 table at root (tables grow upward from root)", op_s1_create },
	{ "s1 map", s1_map_args,
	  "Map one guest stage-1 leaf", op_s1_map },
	{ "access", access_args,
	  "Full nested translation of a guest virtual address", op_access },
	{ NULL, NULL, NULL, NULL }
};

const struct sim_module s2_module = {
	.name = "s2",
	.needs = (const char *const[]){ "rmp", NULL },
	.keys = s2_keys,
	.ops = s2_ops,
	.attach = s2_attach,
	.detach = s2_detach,
	.summary = s2_summary,
};
