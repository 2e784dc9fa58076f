/*
 * cache.c - detailed mode's cache hierarchy: private L1I, L1D and L2 per
 * vCPU, a private L1D and L2 per host-side agent (an agent with no hart:
 * a host CPU doing KVM/pKVM work, a VMM's I/O thread), and one LLC for
 * the whole machine, set-associative with true LRU (a per-cache access
 * counter: deterministic), write-allocate, no write-back traffic
 * modelled.  The hierarchy is the CPU module's model; in detailed mode it
 * is the engine's memory timing (sim_mem_set_timing) from the module's
 * attach on, so every timed access of the machine goes through it, the
 * host's work before any guest runs included:
 *   - an agent bound to a hart (a vCPU, and the host's exit handling on
 *     that core): fetches through the hart's L1I, everything else through
 *     its L1D, then its L2 and the LLC;
 *   - an agent with no hart: its own accesses (SIM_SRC_DATA), its table
 *     walks (SIM_SRC_PTW) and its RMP entry reads (SIM_SRC_RMP) through
 *     its private L1D and L2 (same geometry as a vCPU's: cache.l1d.*,
 *     cache.l2.*), created on its first such access and keyed by agent
 *     id, then the LLC; it has no L1I (host code is not fetched);
 *   - device sources (SIM_SRC_DMA, SIM_SRC_IOPT: DMA and the IOMMU's
 *     table walks) go to the LLC whoever the agent is: devices sit beyond
 *     the core caches; so does every access of a DMA engine's agent
 *     (SIM_AGENT_DMA: the IOMMU's RMP checks of its writes, SIM_SRC_RMP,
 *     included);
 *   - agent -1 (no agent) goes to the LLC.
 * Counters: cache.{l1i,l1d,l2}.* (all vCPUs), cache.host.{l1d,l2}.* (all
 * host-side agents), cache.llc.* (every access that reached the LLC).
 *
 * Stall cycles: a fetch that hits the L1I costs nothing (pipelined); a
 * fetch that misses costs the latency of the level that hits.  A data
 * access costs the latency of the level that hits minus the one cycle of
 * the instruction itself.  DRAM is lat.mem.dram beyond the LLC.  Through
 * the memory timing (table walks, RMP entries, host-side accesses) an
 * access costs the latency of the level that hits: an L1D hit
 * cache.l1d.latency, a miss everywhere cache.llc.latency + lat.mem.dram.
 */
#include "cpu/cpu_int.h"

#include <stdlib.h>

enum { C_L1I, C_L1D, C_L2, C_LLC };
static const char *const level_name[4] = { "l1i", "l1d", "l2", "llc" };

/* A cache of @level whose hits and misses count in @st. */
static struct cpu_cache *cache_new(struct cpu_machine *m, unsigned level, unsigned line,
				   struct cpu_cache_stats *st, struct sim_err *err, int *rc)
{
	char k[40];
	uint64_t size, ways, lines;
	struct cpu_cache *c;

	snprintf(k, sizeof(k), "cache.%s.size", level_name[level]);
	size = sim_cfg_u64(m->sim, k);
	snprintf(k, sizeof(k), "cache.%s.ways", level_name[level]);
	ways = sim_cfg_u64(m->sim, k);
	lines = size / line;
	if (lines % ways || ((lines / ways) & (lines / ways - 1)) || size % line) {
		*rc = sim_err_set(err, "cache.%s.size: %llu bytes / (%llu ways x %u-byte lines) "
				  "must give a power-of-two number of sets", level_name[level],
				  (unsigned long long)size, (unsigned long long)ways, line);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		sim_fatal("cpu: out of host memory");
	c->sets = (unsigned)(lines / ways);
	c->ways = (unsigned)ways;
	snprintf(k, sizeof(k), "cache.%s.latency", level_name[level]);
	c->lat = (uint32_t)sim_cfg_u64(m->sim, k);
	c->tag = malloc(lines * sizeof(uint64_t));
	c->stamp = calloc(lines, sizeof(uint64_t));
	if (!c->tag || !c->stamp)
		sim_fatal("cpu: out of host memory");
	memset(c->tag, 0xff, lines * sizeof(uint64_t));   /* hints (0) point at invalid tags */
	c->hit = &st->hit[level];
	c->miss = &st->miss[level];
	*rc = 0;
	return c;
}

static void cache_free(struct cpu_cache *c)
{
	if (!c)
		return;
	free(c->tag);
	free(c->stamp);
	free(c);
}

/*
 * Look up line number @ln; on a miss, fill it (LRU victim: the first way
 * with the oldest stamp).  True on a hit.  The tag scan and the victim
 * scan are separate loops so a hit does not pay for the victim search.
 */
static bool cache_access(struct cpu_cache *c, uint64_t ln)
{
	unsigned base = (unsigned)(ln & (c->sets - 1)) * c->ways, victim = base;

	if (cpu_cache_hint_hit(c, ln))
		return true;
	for (unsigned w = 0; w < c->ways; w++) {
		if (c->tag[base + w] == ln) {
			c->stamp[base + w] = ++c->clock;
			(*c->hit)++;
			c->hint[ln & (CPU_CACHE_HINTS - 1)] = base + w;
			return true;
		}
	}
	for (unsigned w = 1; w < c->ways; w++)
		if (c->stamp[base + w] < c->stamp[victim])
			victim = base + w;
	(*c->miss)++;
	c->tag[victim] = ln;
	c->stamp[victim] = ++c->clock;
	c->hint[ln & (CPU_CACHE_HINTS - 1)] = victim;
	return false;
}

/* Latency of an access that missed @first's level, through L2, LLC, DRAM. */
static uint32_t below_l1(const struct cpu_machine *m, struct cpu_cache *l2, uint64_t ln)
{
	if (l2 && cache_access(l2, ln))
		return l2->lat;
	if (cache_access(m->llc, ln))
		return m->llc->lat;
	return m->llc->lat + m->dram_lat;
}

uint32_t cpu_cache_data(struct cpu_hart *h, uint64_t spa, bool write)
{
	uint64_t ln = spa >> h->vm->line_shift;

	(void)write;
	if (cache_access(h->l1d, ln))
		return h->l1d->lat - 1;
	return below_l1(h->vm->mach, h->l2, ln) - 1;
}

uint32_t cpu_cache_fetch(struct cpu_hart *h, uint64_t spa)
{
	uint64_t ln = spa >> h->vm->line_shift;

	if (cache_access(h->l1i, ln))
		return 0;
	return below_l1(h->vm->mach, h->l2, ln);
}

/*
 * The private L1D and L2 of an agent with no hart (host CPU, I/O thread),
 * created on its first CPU-side access.  A DMA engine's agent
 * (SIM_AGENT_DMA) is a device whatever the source: its entry has no
 * caches and all its accesses go to the LLC.
 */
struct cpu_host_core {
	struct cpu_cache *l1d, *l2;   /* NULL, NULL: a device agent */
};

static struct cpu_host_core *host_core(struct cpu_machine *m, size_t id)
{
	struct cpu_host_core *hc;
	const struct sim_agent *a;
	unsigned line = 1u << m->line_shift;
	struct sim_err err;
	int rc = 0;

	if (id >= m->nby_host) {
		size_t n = id + 16;

		m->by_host = sim_xrealloc(m->by_host, n * sizeof(*m->by_host));
		memset(m->by_host + m->nby_host, 0, (n - m->nby_host) * sizeof(*m->by_host));
		m->nby_host = n;
	}
	if (m->by_host[id])
		return m->by_host[id];
	hc = sim_xcalloc(1, sizeof(*hc));
	a = sim_agent_by_id(m->sim, (int)id);
	if (!a || sim_agent_kind(a) != SIM_AGENT_DMA) {
		hc->l1d = cache_new(m, C_L1D, line, &m->hst, &err, &rc);
		if (!rc)
			hc->l2 = cache_new(m, C_L2, line, &m->hst, &err, &rc);
		if (rc)   /* the geometry was checked at attach (cpu_cfg_check) */
			sim_fatal("cpu: %s", err.msg);
	}
	m->by_host[id] = hc;
	return hc;
}

/* One line through @l1, @l2 and the LLC: the latency of the level that hits. */
static uint32_t line_access(const struct cpu_machine *m, struct cpu_cache *l1,
			    struct cpu_cache *l2, uint64_t ln)
{
	if (cache_access(l1, ln))
		return l1->lat;
	return below_l1(m, l2, ln);
}

/*
 * The engine's memory timing in detailed mode: a device source goes to the
 * LLC; a CPU-side one through the hart behind @agent if any, else through
 * the agent's own L1D and L2 (header comment).
 */
static uint32_t timing_access(void *arg, int agent, enum sim_mem_src src, uint64_t pa,
			      uint32_t len, bool write)
{
	struct cpu_machine *m = arg;
	uint64_t first = pa >> m->line_shift, last = (pa + (len ? len - 1 : 0)) >> m->line_shift;
	bool device = src == SIM_SRC_DMA || src == SIM_SRC_IOPT;
	struct cpu_hart *h = !device && agent >= 0 && (size_t)agent < m->nby_agent ?
			     m->by_agent[agent] : NULL;
	struct cpu_host_core *hc = NULL;
	uint32_t cyc = 0;

	(void)write;
	if (!h && agent >= 0 &&
	    (src == SIM_SRC_DATA || src == SIM_SRC_PTW || src == SIM_SRC_RMP)) {
		hc = host_core(m, (size_t)agent);
		if (!hc->l1d)
			hc = NULL;   /* a DMA engine */
	}
	for (uint64_t ln = first; ln <= last; ln++) {
		if (h)
			cyc += line_access(m, src == SIM_SRC_FETCH ? h->l1i : h->l1d, h->l2, ln);
		else if (hc)
			cyc += line_access(m, hc->l1d, hc->l2, ln);
		else
			cyc += below_l1(m, NULL, ln);
	}
	return cyc;
}

static void register_level(struct sim *s, const char *prefix, const char *level,
			   uint64_t *hit, uint64_t *miss, const char *who)
{
	char n[48], d[96];

	snprintf(n, sizeof(n), "%s.%s.hit", prefix, level);
	snprintf(d, sizeof(d), "cache hits (%s)", who);
	sim_stat_counter(s, n, hit, d);
	snprintf(n, sizeof(n), "%s.%s.miss", prefix, level);
	snprintf(d, sizeof(d), "cache misses (%s)", who);
	sim_stat_counter(s, n, miss, d);
}

/* Detailed mode: the hierarchy becomes the machine's memory timing, and its counters. */
static void timing_install(struct cpu_machine *m)
{
	struct sim_mem_timing t = { .access = timing_access, .arg = m };

	sim_mem_set_timing(sim_mem(m->sim), &t);
	m->timing = true;
	for (unsigned l = C_L1I; l <= C_L2; l++)
		register_level(m->sim, "cache", level_name[l], &m->cst.hit[l], &m->cst.miss[l],
			       "all vCPUs");
	for (unsigned l = C_L1D; l <= C_L2; l++)
		register_level(m->sim, "cache.host", level_name[l], &m->hst.hit[l], &m->hst.miss[l],
			       "all agents with no hart: host CPUs, I/O threads");
	register_level(m->sim, "cache", level_name[C_LLC], &m->cst.hit[C_LLC], &m->cst.miss[C_LLC],
		       "every access that reached it: vCPUs, host agents, devices");
}

struct cpu_machine *cpu_machine_new(struct sim *s, struct sim_err *err)
{
	struct cpu_machine *m = sim_xcalloc(1, sizeof(*m));
	unsigned line = (unsigned)sim_cfg_u64(s, "cache.line");
	int rc = 0;

	m->sim = s;
	m->mode = (enum cpu_mode)sim_cfg_enum(s, "cpu.mode");
	m->line_shift = (unsigned)__builtin_ctz(line);
	m->dram_lat = (uint32_t)sim_cfg_u64(s, "lat.mem.dram");
	if (m->mode == CPU_MODE_DETAILED) {
		m->llc = cache_new(m, C_LLC, line, &m->cst, err, &rc);
		if (rc) {
			free(m);
			return NULL;
		}
		timing_install(m);
	}
	return m;
}

void cpu_machine_free(struct cpu_machine *m)
{
	if (!m)
		return;
	if (m->timing)
		sim_mem_set_timing(sim_mem(m->sim), NULL);
	for (size_t i = 0; i < m->nby_host; i++) {
		if (!m->by_host[i])
			continue;
		cache_free(m->by_host[i]->l1d);
		cache_free(m->by_host[i]->l2);
		free(m->by_host[i]);
	}
	free(m->by_host);
	cache_free(m->llc);
	free(m->by_agent);
	free(m);
}

void cpu_cache_bind(struct cpu_hart *h)
{
	struct cpu_machine *m = h->vm->mach;
	size_t id = (size_t)sim_agent_id(h->agent);

	if (m->mode != CPU_MODE_DETAILED)
		return;
	if (id >= m->nby_agent) {
		size_t n = id + 16;

		m->by_agent = sim_xrealloc(m->by_agent, n * sizeof(*m->by_agent));
		memset(m->by_agent + m->nby_agent, 0, (n - m->nby_agent) * sizeof(*m->by_agent));
		m->nby_agent = n;
	}
	m->by_agent[id] = h;
}

int cpu_cache_setup(struct cpu_vm *vm, struct sim_err *err)
{
	struct cpu_machine *m = vm->mach;
	unsigned line = 1u << m->line_shift;
	int rc = 0;

	vm->line_shift = m->line_shift;
	vm->dram_lat = m->dram_lat;
	vm->cst = &m->cst;
	vm->llc = m->llc;
	if (vm->mode != CPU_MODE_DETAILED)
		return 0;
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		h->l1i = cache_new(m, C_L1I, line, &m->cst, err, &rc);
		if (rc)
			return rc;
		h->l1d = cache_new(m, C_L1D, line, &m->cst, err, &rc);
		if (rc)
			return rc;
		h->l2 = cache_new(m, C_L2, line, &m->cst, err, &rc);
		if (rc)
			return rc;
	}
	return 0;
}

void cpu_cache_free(struct cpu_vm *vm)
{
	struct cpu_machine *m = vm->mach;

	for (unsigned i = 0; vm->harts && i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		if (!h)
			continue;
		if (m && h->agent && (size_t)sim_agent_id(h->agent) < m->nby_agent &&
		    m->by_agent[sim_agent_id(h->agent)] == h)
			m->by_agent[sim_agent_id(h->agent)] = NULL;
		cache_free(h->l1i);
		cache_free(h->l1d);
		cache_free(h->l2);
	}
}
