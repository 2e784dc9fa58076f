/*
 * cache.c - detailed mode's cache hierarchy: private L1I, L1D and L2 per
 * vCPU and one LLC for the whole machine (every VM's vCPUs and every
 * other agent), set-associative with true LRU (a per-cache access
 * counter: deterministic), write-allocate, no write-back traffic
 * modelled.  The hierarchy is the CPU module's model; from the first VM
 * built in detailed mode on, it is the engine's memory timing
 * (sim_mem_set_timing), so stage-1/stage-2 walks and RMP entry reads of a
 * vCPU go through its L1D, L2 and the LLC; accesses of other agents (host
 * CPUs, DMA) go to the LLC.  Its counters are cache.* (all vCPUs).
 *
 * Stall cycles: a fetch that hits the L1I costs nothing (pipelined); a
 * fetch that misses costs the latency of the level that hits.  A data
 * access costs the latency of the level that hits minus the one cycle of
 * the instruction itself.  DRAM is lat.mem.dram beyond the LLC.
 */
#include "cpu/cpu_int.h"

#include <stdlib.h>

enum { C_L1I, C_L1D, C_L2, C_LLC };
static const char *const level_name[4] = { "l1i", "l1d", "l2", "llc" };

static struct cpu_cache *cache_new(struct cpu_machine *m, unsigned level, unsigned line,
				   struct sim_err *err, int *rc)
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
	c->hit = &m->cst.hit[level];
	c->miss = &m->cst.miss[level];
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

/* The engine's memory timing in detailed mode: the hart behind @agent, if any. */
static uint32_t timing_access(void *arg, int agent, enum sim_mem_src src, uint64_t pa,
			      uint32_t len, bool write)
{
	struct cpu_machine *m = arg;
	uint64_t first = pa >> m->line_shift, last = (pa + (len ? len - 1 : 0)) >> m->line_shift;
	struct cpu_hart *h = agent >= 0 && (size_t)agent < m->nby_agent ? m->by_agent[agent] : NULL;
	uint32_t cyc = 0;

	(void)write;
	for (uint64_t ln = first; ln <= last; ln++) {
		if (h) {
			struct cpu_cache *l1 = src == SIM_SRC_FETCH ? h->l1i : h->l1d;

			cyc += cache_access(l1, ln) ? l1->lat : below_l1(m, h->l2, ln);
		} else {
			cyc += below_l1(m, NULL, ln);
		}
	}
	return cyc;
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
		m->llc = cache_new(m, C_LLC, line, err, &rc);
		if (rc) {
			free(m);
			return NULL;
		}
	}
	return m;
}

void cpu_machine_free(struct cpu_machine *m)
{
	if (!m)
		return;
	if (m->timing)
		sim_mem_set_timing(sim_mem(m->sim), NULL);
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

		h->l1i = cache_new(m, C_L1I, line, err, &rc);
		if (rc)
			return rc;
		h->l1d = cache_new(m, C_L1D, line, err, &rc);
		if (rc)
			return rc;
		h->l2 = cache_new(m, C_L2, line, err, &rc);
		if (rc)
			return rc;
	}
	if (!m->timing) {
		/* from the first VM on: the machine's memory timing, and its counters */
		struct sim_mem_timing t = { .access = timing_access, .arg = m };

		sim_mem_set_timing(sim_mem(m->sim), &t);
		m->timing = true;
		for (unsigned l = 0; l < 4; l++) {
			char n[48];

			snprintf(n, sizeof(n), "cache.%s.hit", level_name[l]);
			sim_stat_counter(m->sim, n, &m->cst.hit[l], "cache hits (all vCPUs)");
			snprintf(n, sizeof(n), "cache.%s.miss", level_name[l]);
			sim_stat_counter(m->sim, n, &m->cst.miss[l], "cache misses (all vCPUs)");
		}
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
