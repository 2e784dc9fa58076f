/*
 * cache.c - detailed mode's cache hierarchy: private L1I, L1D and L2 per
 * vCPU and one shared LLC, set-associative with true LRU (a per-cache
 * access counter: deterministic), write-allocate, no write-back traffic
 * modelled.  The hierarchy is the engine's memory timing while the VM is
 * in detailed mode (sim_mem_set_timing), so stage-1/stage-2 walks and RMP
 * entry reads of a vCPU go through its L1D, L2 and the LLC; accesses of
 * other agents go to the LLC.
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

static struct cpu_cache *cache_new(const struct cpu_vm *vm, unsigned level, unsigned line,
				   struct sim_err *err, int *rc)
{
	char k[40];
	uint64_t size, ways, lines;
	struct cpu_cache *c;

	snprintf(k, sizeof(k), "cache.%s.size", level_name[level]);
	size = sim_cfg_u64(vm->sim, k);
	snprintf(k, sizeof(k), "cache.%s.ways", level_name[level]);
	ways = sim_cfg_u64(vm->sim, k);
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
	c->lat = (uint32_t)sim_cfg_u64(vm->sim, k);
	c->tag = malloc(lines * sizeof(uint64_t));
	c->stamp = calloc(lines, sizeof(uint64_t));
	if (!c->tag || !c->stamp)
		sim_fatal("cpu: out of host memory");
	memset(c->tag, 0xff, lines * sizeof(uint64_t));   /* hints (0) point at invalid tags */
	c->hit = &vm->cst->hit[level];
	c->miss = &vm->cst->miss[level];
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
static uint32_t below_l1(struct cpu_vm *vm, struct cpu_cache *l2, uint64_t ln)
{
	if (l2 && cache_access(l2, ln))
		return l2->lat;
	if (cache_access(vm->llc, ln))
		return vm->llc->lat;
	return vm->llc->lat + vm->dram_lat;
}

uint32_t cpu_cache_data(struct cpu_hart *h, uint64_t spa, bool write)
{
	uint64_t ln = spa >> h->vm->line_shift;

	(void)write;
	if (cache_access(h->l1d, ln))
		return h->l1d->lat - 1;
	return below_l1(h->vm, h->l2, ln) - 1;
}

uint32_t cpu_cache_fetch(struct cpu_hart *h, uint64_t spa)
{
	uint64_t ln = spa >> h->vm->line_shift;

	if (cache_access(h->l1i, ln))
		return 0;
	return below_l1(h->vm, h->l2, ln);
}

/* The engine's memory timing in detailed mode. */
static uint32_t timing_access(void *arg, int agent, enum sim_mem_src src, uint64_t pa,
			      uint32_t len, bool write)
{
	struct cpu_vm *vm = arg;
	uint64_t first = pa >> vm->line_shift, last = (pa + (len ? len - 1 : 0)) >> vm->line_shift;
	uint32_t cyc = 0;

	(void)write;
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		if (h->agent && sim_agent_id(h->agent) == agent) {
			for (uint64_t ln = first; ln <= last; ln++) {
				struct cpu_cache *l1 = src == SIM_SRC_FETCH ? h->l1i : h->l1d;

				cyc += cache_access(l1, ln) ? l1->lat : below_l1(vm, h->l2, ln);
			}
			return cyc;
		}
	}
	for (uint64_t ln = first; ln <= last; ln++)
		cyc += below_l1(vm, NULL, ln);
	return cyc;
}

int cpu_cache_setup(struct cpu_vm *vm, struct sim_err *err)
{
	unsigned line = (unsigned)sim_cfg_u64(vm->sim, "cache.line");
	int rc = 0;

	if (line & (line - 1))
		return sim_err_set(err, "cache.line: %u: must be a power of two", line);
	vm->line_shift = (unsigned)__builtin_ctz(line);
	vm->dram_lat = (uint32_t)sim_cfg_u64(vm->sim, "lat.mem.dram");
	vm->cst = calloc(1, sizeof(*vm->cst));
	if (!vm->cst)
		sim_fatal("cpu: out of host memory");
	if (vm->mode != CPU_MODE_DETAILED)
		return 0;
	vm->llc = cache_new(vm, C_LLC, line, err, &rc);
	if (rc)
		return rc;
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		h->l1i = cache_new(vm, C_L1I, line, err, &rc);
		if (rc)
			return rc;
		h->l1d = cache_new(vm, C_L1D, line, err, &rc);
		if (rc)
			return rc;
		h->l2 = cache_new(vm, C_L2, line, err, &rc);
		if (rc)
			return rc;
	}
	{
		struct sim_mem_timing t = { .access = timing_access, .arg = vm };

		sim_mem_set_timing(vm->mem, &t);
	}
	return 0;
}

void cpu_cache_register(struct cpu_vm *vm)
{
	char n[48];

	if (vm->mode != CPU_MODE_DETAILED)
		return;
	for (unsigned l = 0; l < 4; l++) {
		snprintf(n, sizeof(n), "cache.%s.hit", level_name[l]);
		sim_stat_counter(vm->sim, n, &vm->cst->hit[l], "cache hits (all vCPUs)");
		snprintf(n, sizeof(n), "cache.%s.miss", level_name[l]);
		sim_stat_counter(vm->sim, n, &vm->cst->miss[l], "cache misses (all vCPUs)");
	}
}

void cpu_cache_free(struct cpu_vm *vm)
{
	if (vm->mode == CPU_MODE_DETAILED && vm->llc)
		sim_mem_set_timing(vm->mem, NULL);
	for (unsigned i = 0; vm->harts && i < vm->nharts; i++) {
		if (!vm->harts[i])
			continue;
		cache_free(vm->harts[i]->l1i);
		cache_free(vm->harts[i]->l1d);
		cache_free(vm->harts[i]->l2);
	}
	cache_free(vm->llc);
	free(vm->cst);
}
