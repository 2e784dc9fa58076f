/*
 * check.c - the CPU module's configuration rules, checked when the module
 * attaches (sim_start), so that every command that builds the machine
 * (`protsim run`, `script`, `shell`, `exec`) accepts and refuses the same
 * cpu.* and cache.* values, and each error names the file and line (or
 * --set) that gave the value (sim_cfg_error).  The cache geometry is
 * checked whatever cpu.mode is: it is refused in fast mode too.  (The
 * vm.* keys belong to the host software: sim/stack/guest.c.)
 */
#include "cpu/cpu_int.h"

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* A cache level: size / (ways x line) must be a power-of-two number of sets. */
static int check_cache(const struct sim *s, const char *level, uint64_t line, struct sim_err *err)
{
	char ksize[40], kways[40];
	uint64_t size, ways, lines;

	snprintf(ksize, sizeof(ksize), "cache.%s.size", level);
	snprintf(kways, sizeof(kways), "cache.%s.ways", level);
	size = sim_cfg_u64(s, ksize);
	ways = sim_cfg_u64(s, kways);
	lines = size / line;
	if (size % line || lines % ways || !pow2(lines / ways))
		return sim_cfg_error(s, sim_cfg_is_set(s, kways) && !sim_cfg_is_set(s, ksize) ? kways : ksize, err,
				     "%llu bytes / (%llu ways x %llu-byte lines) must give a "
				     "power-of-two number of sets", (unsigned long long)size,
				     (unsigned long long)ways, (unsigned long long)line);
	return 0;
}

int cpu_cfg_check(struct sim *s, struct sim_err *err)
{
	static const char *const levels[] = { "l1i", "l1d", "l2", "llc" };
	uint64_t line = sim_cfg_u64(s, "cache.line");

	if (!pow2(line))
		return sim_cfg_error(s, "cache.line", err, "%llu: must be a power of two",
				     (unsigned long long)line);
	for (unsigned i = 0; i < 4; i++)
		if (check_cache(s, levels[i], line, err))
			return -1;
	return 0;
}
