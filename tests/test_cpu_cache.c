/*
 * test_cpu_cache.c - detailed mode's cache hierarchy as the machine's
 * memory timing (cpu/cache.c), through sim_mem_read/sim_mem_write as every
 * model calls it:
 *   - installed when the CPU module attaches in detailed mode (before any
 *     VM), not in fast mode (flat lat.mem.dram per access);
 *   - an agent with no hart (a host CPU, an I/O thread) has its own L1D
 *     and L2 for its data accesses, table walks and RMP entry reads: the
 *     first access of a line misses every level (LLC + DRAM), the second
 *     hits the L1D at cache.l1d.latency; two such agents share only the
 *     LLC;
 *   - device sources (DMA, IOMMU table walks) and fetches of an agent with
 *     no hart go to the LLC and fill no private cache;
 *   - an agent bound to a hart uses that hart's L1D and L2;
 *   - the counters cache.host.{l1d,l2}.* and cache.llc.*.
 * Generic profile: L1D 4, L2 14, LLC 50 cycles, lat.mem.dram 120; so a
 * miss everywhere costs 170, an L2 hit 14, an LLC hit 50.
 */
#include <criterion/criterion.h>

#include "cpu/cpu_int.h"
#include "tests/guest_vm.h"

#define L1D 4u
#define L2 14u
#define LLC 50u
#define MISS (50u + 120u)   /* LLC latency + lat.mem.dram */
#define LINE 64u
#define HOSTPA 0x40000000ull   /* host memory no start-up work touches */

static void body(struct sim_agent *a, void *arg)
{
	(void)a, (void)arg;
}

/* A started machine in @mode, plus @extra key/value pairs. */
static struct sim *machine(const char *mode, const char *const *extra)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;

	cr_assert(!sim_cfg_set(s, "cpu.mode", mode, "test", 0, &err), "%s", err.msg);
	for (; extra && *extra; extra += 2)
		cr_assert(!sim_cfg_set(s, extra[0], extra[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(s, &err), "%s", err.msg);
	return s;
}

static int host_agent(struct sim *s, const char *name)
{
	return sim_agent_id(sim_agent_new(s, name, SIM_AGENT_CPU, body, NULL));
}

static uint32_t rd(struct sim *s, int agent, enum sim_mem_src src, uint64_t pa, uint32_t len)
{
	uint8_t buf[256];

	cr_assert(len <= sizeof(buf));
	return sim_mem_read(sim_mem(s), agent, src, pa, buf, len);
}

static uint64_t stat(const struct sim *s, const char *name)
{
	uint64_t v = 0;

	cr_assert(!sim_stat_get(s, name, &v), "no statistic %s", name);
	return v;
}

struct counters {
	uint64_t l1d_hit, l1d_miss, l2_hit, l2_miss, llc_hit, llc_miss;
};

static void counters_of(const struct sim *s, const char *prefix, struct counters *c)
{
	char n[48];

	snprintf(n, sizeof(n), "%s.l1d.hit", prefix);
	c->l1d_hit = stat(s, n);
	snprintf(n, sizeof(n), "%s.l1d.miss", prefix);
	c->l1d_miss = stat(s, n);
	snprintf(n, sizeof(n), "%s.l2.hit", prefix);
	c->l2_hit = stat(s, n);
	snprintf(n, sizeof(n), "%s.l2.miss", prefix);
	c->l2_miss = stat(s, n);
	c->llc_hit = stat(s, "cache.llc.hit");
	c->llc_miss = stat(s, "cache.llc.miss");
}

/* The counters moved from @a to @b by exactly @d (all six). */
static void moved(const struct counters *a, const struct counters *b, const struct counters *d,
		  const char *what)
{
	cr_assert_eq(b->l1d_hit - a->l1d_hit, d->l1d_hit, "%s: l1d hits +%llu", what,
		     (unsigned long long)(b->l1d_hit - a->l1d_hit));
	cr_assert_eq(b->l1d_miss - a->l1d_miss, d->l1d_miss, "%s: l1d misses +%llu", what,
		     (unsigned long long)(b->l1d_miss - a->l1d_miss));
	cr_assert_eq(b->l2_hit - a->l2_hit, d->l2_hit, "%s: l2 hits +%llu", what,
		     (unsigned long long)(b->l2_hit - a->l2_hit));
	cr_assert_eq(b->l2_miss - a->l2_miss, d->l2_miss, "%s: l2 misses +%llu", what,
		     (unsigned long long)(b->l2_miss - a->l2_miss));
	cr_assert_eq(b->llc_hit - a->llc_hit, d->llc_hit, "%s: llc hits +%llu", what,
		     (unsigned long long)(b->llc_hit - a->llc_hit));
	cr_assert_eq(b->llc_miss - a->llc_miss, d->llc_miss, "%s: llc misses +%llu", what,
		     (unsigned long long)(b->llc_miss - a->llc_miss));
}

/* ------------------------------------------------------------------ */
/* Installed at machine start                                          */
/* ------------------------------------------------------------------ */

/*
 * Before any VM exists: detailed mode times a host agent's access through
 * its caches and counts it; fast mode charges lat.mem.dram per access
 * (one access of two lines included) and has no cache statistics.
 */
Test(cpu_cache, timing_installed_at_machine_start_in_detailed_mode_only)
{
	struct sim *s = machine("detailed", NULL);
	struct cpu_machine *m = sim_get_model(s, &cpu_module);
	int a = host_agent(s, "cpu0");
	uint64_t v;

	cr_assert(m->timing, "detailed: the timing is installed at attach");
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 8), MISS);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 8), L1D);
	cr_assert_eq(stat(s, "cache.host.l1d.hit"), 1);
	cr_assert_eq(stat(s, "cache.host.l1d.miss"), 1);
	sim_free(s);

	s = machine("fast", NULL);
	m = sim_get_model(s, &cpu_module);
	a = host_agent(s, "cpu0");
	cr_assert(!m->timing, "fast: no timing installed");
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 8), 120);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 8), 120);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + LINE - 4, 8), 120, "flat: per access");
	cr_assert(sim_stat_get(s, "cache.host.l1d.hit", &v), "fast: no cache statistics");
	cr_assert(sim_stat_get(s, "cache.llc.miss", &v), "fast: no cache statistics");
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* One host agent: which sources go through its L1D/L2                 */
/* ------------------------------------------------------------------ */

/*
 * Each source on a fresh line of agent cpu0 (no hart): the first access,
 * the second, the same agent's data access of the line after them, and
 * the counters the two accesses of @src moved.
 */
static const struct src_case {
	enum sim_mem_src src;
	const char *name;
	uint32_t first, second, data_after;
	struct counters host;   /* cache.host.* and cache.llc.* moved by first + second */
} src_cases[] = {
	/* the CPU's own accesses, its table walks, its RMP entry reads: L1D, L2, LLC */
	{ SIM_SRC_DATA, "data", MISS, L1D, L1D, { 1, 1, 0, 1, 0, 1 } },
	{ SIM_SRC_PTW, "ptw", MISS, L1D, L1D, { 1, 1, 0, 1, 0, 1 } },
	{ SIM_SRC_RMP, "rmp", MISS, L1D, L1D, { 1, 1, 0, 1, 0, 1 } },
	/* devices beyond the core caches, and no L1I for host agents: the LLC only */
	{ SIM_SRC_DMA, "dma", MISS, LLC, LLC, { 0, 0, 0, 0, 1, 1 } },
	{ SIM_SRC_IOPT, "iopt", MISS, LLC, LLC, { 0, 0, 0, 0, 1, 1 } },
	{ SIM_SRC_FETCH, "fetch", MISS, LLC, LLC, { 0, 0, 0, 0, 1, 1 } },
};

Test(cpu_cache, host_agent_sources)
{
	for (size_t i = 0; i < sizeof(src_cases) / sizeof(src_cases[0]); i++) {
		const struct src_case *c = &src_cases[i];
		struct sim *s = machine("detailed", NULL);
		int a = host_agent(s, "cpu0");
		uint64_t pa = HOSTPA + 0x1000 * i;
		struct counters c0, c1, c2;
		uint32_t cyc;

		counters_of(s, "cache.host", &c0);
		cyc = rd(s, a, c->src, pa, 8);
		cr_assert_eq(cyc, c->first, "%s: first access %u cycles", c->name, cyc);
		cyc = rd(s, a, c->src, pa, 8);
		cr_assert_eq(cyc, c->second, "%s: second access %u cycles", c->name, cyc);
		counters_of(s, "cache.host", &c1);
		moved(&c0, &c1, &c->host, c->name);
		/* vCPU counters untouched: no hart behind the agent */
		cr_assert_eq(stat(s, "cache.l1d.hit") + stat(s, "cache.l1d.miss"), 0, "%s", c->name);
		/* a device or fetch access left no line in the agent's L1D */
		cyc = rd(s, a, SIM_SRC_DATA, pa, 8);
		cr_assert_eq(cyc, c->data_after, "%s: data access after it %u cycles", c->name, cyc);
		counters_of(s, "cache.host", &c2);
		cr_assert_eq(c2.l1d_hit - c1.l1d_hit, c->data_after == L1D, "%s", c->name);
		sim_free(s);
	}
}

/*
 * A 2-line access costs the sum of its lines; an access of agent -1 (no
 * agent) goes to the LLC; a write allocates like a read.
 */
Test(cpu_cache, lines_writes_and_no_agent)
{
	struct sim *s = machine("detailed", NULL);
	int a = host_agent(s, "cpu0");
	uint64_t v = 1;

	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + LINE - 8, 16), 2 * MISS);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + LINE - 8, 16), 2 * L1D);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 2 * LINE), 2 * L1D);
	cr_assert_eq(sim_mem_write64(sim_mem(s), a, SIM_SRC_DATA, HOSTPA + 4 * LINE, v), MISS);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + 4 * LINE, 8), L1D, "write-allocate");
	cr_assert_eq(rd(s, -1, SIM_SRC_DATA, HOSTPA + 8 * LINE, 8), MISS);
	cr_assert_eq(rd(s, -1, SIM_SRC_DATA, HOSTPA + 8 * LINE, 8), LLC, "no agent: the LLC");
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + 8 * LINE, 8), LLC);
	cr_assert_eq(stat(s, "cache.host.l1d.miss"), 4);
	cr_assert_eq(stat(s, "cache.host.l1d.hit"), 5);
	cr_assert_eq(stat(s, "cache.host.l2.miss"), 4);
	cr_assert_eq(stat(s, "cache.host.l2.hit"), 0);
	cr_assert_eq(stat(s, "cache.llc.miss"), 4);
	cr_assert_eq(stat(s, "cache.llc.hit"), 2);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Two host agents, devices                                            */
/* ------------------------------------------------------------------ */

/*
 * cpu0 fills a line: cpu1 misses its own L1D and L2 and hits the LLC;
 * then each hits its own L1D.  A DMA of the line hits the LLC and fills
 * no private cache: a third agent's data access after it hits only the
 * LLC too.  A line first brought in by DMA is an LLC hit for a host agent.
 * A DMA engine's agent (SIM_AGENT_DMA) has no private caches even for
 * CPU-side sources.
 */
Test(cpu_cache, host_agents_share_only_the_llc)
{
	static const struct step {
		int who;                /* 0 cpu0, 1 cpu1, 2 cpu2, 3 the device agent */
		enum sim_mem_src src;
		uint64_t pa;
		uint32_t cyc;
	} steps[] = {
		{ 0, SIM_SRC_DATA, HOSTPA, MISS },
		{ 1, SIM_SRC_DATA, HOSTPA, LLC },
		{ 0, SIM_SRC_DATA, HOSTPA, L1D },
		{ 1, SIM_SRC_PTW, HOSTPA, L1D },
		{ 3, SIM_SRC_DMA, HOSTPA, LLC },
		{ 3, SIM_SRC_IOPT, HOSTPA, LLC },
		{ 2, SIM_SRC_RMP, HOSTPA, LLC },
		{ 3, SIM_SRC_DMA, HOSTPA + LINE, MISS },
		{ 3, SIM_SRC_DMA, HOSTPA + LINE, LLC },
		{ 0, SIM_SRC_DATA, HOSTPA + LINE, LLC },
		{ 0, SIM_SRC_DATA, HOSTPA + LINE, L1D },
		/* a DMA engine's agent is a device whatever the source (the IOMMU's RMP checks) */
		{ 3, SIM_SRC_RMP, HOSTPA + 2 * LINE, MISS },
		{ 3, SIM_SRC_RMP, HOSTPA + 2 * LINE, LLC },
		{ 3, SIM_SRC_DATA, HOSTPA + 2 * LINE, LLC },
		{ 2, SIM_SRC_DATA, HOSTPA + 2 * LINE, LLC },
	};
	struct sim *s = machine("detailed", NULL);
	int id[4];

	id[0] = host_agent(s, "cpu0");
	id[1] = host_agent(s, "cpu1");
	id[2] = host_agent(s, "cpu2");
	id[3] = sim_agent_id(sim_agent_new(s, "dev", SIM_AGENT_DMA, body, NULL));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint32_t cyc = rd(s, id[steps[i].who], steps[i].src, steps[i].pa, 8);

		cr_assert_eq(cyc, steps[i].cyc, "step %zu: %u cycles, expected %u", i, cyc, steps[i].cyc);
	}
	/* host L1D: misses at steps 0, 1, 6, 9, 14; hits at 2, 3, 10 */
	cr_assert_eq(stat(s, "cache.host.l1d.miss"), 5);
	cr_assert_eq(stat(s, "cache.host.l1d.hit"), 3);
	cr_assert_eq(stat(s, "cache.host.l2.miss"), 5);
	cr_assert_eq(stat(s, "cache.host.l2.hit"), 0);
	/* LLC: misses at 0, 7, 11; hits at 1, 4, 5, 6, 8, 9, 12, 13, 14 */
	cr_assert_eq(stat(s, "cache.llc.miss"), 3);
	cr_assert_eq(stat(s, "cache.llc.hit"), 9);
	sim_free(s);
}

/*
 * An agent's L1D evicts into its L2: with a 1 KiB 2-way L1D (8 sets),
 * three lines of one set push the first out of the L1D; it is then an L2
 * hit (14), not an LLC one.  The host caches take cache.l1d.* and
 * cache.l2.* as a vCPU's do.
 */
Test(cpu_cache, host_l1d_uses_the_l1d_keys)
{
	static const char *const small[] = { "cache.l1d.size", "1k", "cache.l1d.ways", "2",
					     "cache.l1d.latency", "3", NULL };
	struct sim *s = machine("detailed", small);
	int a = host_agent(s, "cpu0");
	uint64_t set_stride = 8 * LINE;

	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + i * set_stride, 8), MISS);
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA + 2 * set_stride, 8), 3, "cache.l1d.latency");
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 8), L2, "evicted from the L1D, in the L2");
	cr_assert_eq(stat(s, "cache.host.l2.hit"), 1);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* An agent bound to a hart                                            */
/* ------------------------------------------------------------------ */

/*
 * A vCPU's agent uses its hart's L1D and L2 (cache.l1d.*, not
 * cache.host.*): the line it brings in is an L1D hit for the hart's own
 * loads (cpu_cache_data: latency - 1), and an LLC hit for a host agent.
 * A device source of the vCPU's agent goes to the LLC and leaves the
 * hart's L1D alone.
 */
Test(cpu_cache, hart_agent_uses_the_harts_caches)
{
	static const char *const bare[] = { "vm.type", "bare", "vm.mem_size", "2m", NULL };
	struct sim *s = machine("detailed", bare);
	struct sim_err err;
	struct stack_vm *v = tg_vm_new(s, NULL, &err);
	struct cpu_hart *h;
	struct counters c0, c1;
	int va, a;

	cr_assert(v, "%s", err.msg);
	h = cpu_vm_hart(stack_guest_cpu(v), 0);
	stack_guest_start(v, 1);   /* binds the vCPU's agent to its hart (never run here) */
	va = sim_agent_id(cpu_hart_agent(h));
	a = host_agent(s, "cpu0");
	counters_of(s, "cache.host", &c0);
	cr_assert_eq(rd(s, va, SIM_SRC_PTW, HOSTPA, 8), MISS);
	cr_assert_eq(rd(s, va, SIM_SRC_DATA, HOSTPA, 8), L1D);
	cr_assert_eq(cpu_cache_data(h, HOSTPA, false), L1D - 1, "the hart's own L1D holds it");
	cr_assert_eq(rd(s, a, SIM_SRC_DATA, HOSTPA, 8), LLC, "a host agent's L1D does not");
	cr_assert_eq(rd(s, va, SIM_SRC_DMA, HOSTPA + LINE, 8), MISS);
	cr_assert_eq(rd(s, va, SIM_SRC_DATA, HOSTPA + LINE, 8), LLC, "DMA filled no L1D");
	counters_of(s, "cache.host", &c1);
	moved(&c0, &c1, &(struct counters){ 0, 1, 0, 1, 2, 2 }, "host and LLC");
	sim_free(s);
}
