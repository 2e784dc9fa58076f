/*
 * check.c - the CPU module's configuration rules, checked when the module
 * attaches (sim_start), so that every command that builds the machine
 * (`protsim run`, `script`, `shell`, `exec`) accepts and refuses the same
 * cpu.*, cache.* and vm.* values, and each error names the file and line
 * (or --set) that gave the value (sim_cfg_error).
 *
 * The rules are the ones the VM and the cache model need when a VM is
 * built (cpu_vm_new, cpu_cache_setup, cpu_prot_setup), here checked for
 * every machine whatever its cpu.mode: a cache geometry is refused in
 * fast mode too.  Where the VM sits in machine memory (vm.spa_base +
 * vm.mem_size + control pages + vm.pt_pool below machine.mem and the RMP)
 * is checked when a VM is built, as a machine that never builds one
 * (a `run` scenario) may be smaller than that.
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
	static const char *const place[] = { "vm.mem_base", "vm.mem_size", "vm.spa_base" };
	uint64_t line = sim_cfg_u64(s, "cache.line");
	uint64_t page = sim_cfg_enum(s, "vm.page_size") ? SIM_SZ_2M : SIM_SZ_4K;
	uint64_t base = sim_cfg_u64(s, "vm.mem_base"), size = sim_cfg_u64(s, "vm.mem_size");
	unsigned type = sim_cfg_enum(s, "vm.type");
	const struct rmp *rmp = sim_get_model(s, &rmp_module);

	if (!pow2(line))
		return sim_cfg_error(s, "cache.line", err, "%llu: must be a power of two",
				     (unsigned long long)line);
	for (unsigned i = 0; i < 4; i++)
		if (check_cache(s, levels[i], line, err))
			return -1;
	for (unsigned i = 0; i < 3; i++)
		if (sim_cfg_u64(s, place[i]) & (page - 1))
			return sim_cfg_error(s, place[i], err, "0x%llx: must be a multiple of "
					     "vm.page_size (%s)",
					     (unsigned long long)sim_cfg_u64(s, place[i]),
					     page == SIM_SZ_2M ? "2m" : "4k");
	if (base + size < base || base + size > SIM_PA_LIMIT)
		return sim_cfg_error(s, "vm.mem_size", err, "guest RAM at 0x%llx + 0x%llx goes "
				     "beyond the physical address limit (2^52)",
				     (unsigned long long)base, (unsigned long long)size);
	if (type != CPU_VM_BARE && !sim_get_model(s, &s2_module))
		return sim_cfg_error(s, "vm.type", err, "'%s' needs the stage-2 module (s2)",
				     type == CPU_VM_SNP ? "snp" : "npt");
	if (type == CPU_VM_SNP && !rmp_enabled(rmp))
		return sim_cfg_error(s, "vm.type", err, "'snp' needs the RMP enabled (rmp.mode)");
	return 0;
}
