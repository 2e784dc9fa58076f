/*
 * sim.c - simulator lifetime: create, configure, start, free; the
 * modules' models and their order (.needs); error helpers; the engine's
 * own configuration keys; embedded latency profiles.
 */
#include "sim/sim_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROTSIM_VERSION
#define PROTSIM_VERSION "0.1.0"
#endif

const char *sim_version(void)
{
	return PROTSIM_VERSION;
}

const struct sim_cfg_key sim_engine_keys[] = {
	/*
	 * The minimum is the smallest machine every built-in module starts
	 * on with its default placement: the RMP at the top, the 16 MiB
	 * stage-2 table pool below it, the IOMMU pool at mem/4.
	 */
	{ "machine.mem", SIM_CFG_SIZE, 32ull << 20, SIM_PA_LIMIT, "4g", NULL,
	  "Simulated DRAM size in bytes (physical addresses 0 .. mem-1 are RAM; "
	  "`protsim exec` needs room for vm.spa_base + vm.mem_size)" },
	{ "machine.cpus", SIM_CFG_U64, 1, 256, "2", NULL,
	  "Physical (host) CPUs: the machine's agents cpu0 .. cpuN-1, where script lines run" },
	{ "machine.profile", SIM_CFG_STR, 0, 0, "generic", NULL,
	  "Latency profile: sim/profiles/NAME.prof, embedded in the binary (see `protsim help profiles`)" },
	{ "engine.seed", SIM_CFG_U64, 0, UINT64_MAX, "1", NULL,
	  "Run seed; every agent's PRNG stream is derived from it and the agent id" },
	{ "engine.quantum", SIM_CFG_U64, 1, 1000000000, "1", NULL,
	  "Cycles an agent may run ahead of the slowest runnable agent on private work "
	  "before yielding; operations on shared state keep (cycle, agent) order at any value" },
	{ "engine.stack_kb", SIM_CFG_U64, 64, 65536, "256", NULL,
	  "Coroutine stack per agent, in KiB" },
	{ "stats.roi_cycle", SIM_CFG_U64, 0, UINT64_MAX, "0", NULL,
	  "The region of interest starts at this cycle: statistics count from it on (0: from the start; "
	  "the script operation `roi` marks it from a script)" },
	{ "timeline.cap", SIM_CFG_U64, 1, 100000000, "1000000", NULL,
	  "Most events a --timeline file keeps (later ones are dropped, with a message)" },
	{ "timeline.walks", SIM_CFG_BOOL, 0, 1, "1", NULL,
	  "A --timeline file shows each address translation that walked page tables (a span per "
	  "TLB miss; 0: leave them out, for a smaller file)" },
	{ "workload.script", SIM_CFG_STR, 0, 0, "", NULL,
	  "`protsim run`: operation-language script to run (relative to the scenario file)" },
	{ "lat.mem.dram", SIM_CFG_U64, 0, 100000, NULL, NULL,
	  "Cycles per memory access when no cache model is installed" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

/* ---- embedded profiles (ORDER: names and texts in sync with profiles.S) ---- */

extern const char sim_profile_generic[];

static const char *const profile_names[] = { "generic", NULL };

const char *const *sim_profile_names(void)
{
	return profile_names;
}

const char *sim_profile_text(const char *name)
{
	static const char *const texts[] = { sim_profile_generic };

	for (size_t i = 0; profile_names[i]; i++)
		if (strcmp(profile_names[i], name) == 0)
			return texts[i];
	return NULL;
}

/* ---- errors ---- */

int sim_err_set(struct sim_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

_Noreturn void sim_fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("protsim: internal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- lifetime ---- */

struct sim *sim_new(const struct sim_module *const *modules)
{
	struct sim *s = calloc(1, sizeof(*s));
	size_t n = 0;

	if (!s)
		sim_fatal("out of memory");
	while (modules && modules[n])
		n++;
	s->modules = calloc(n + 1, sizeof(*s->modules));
	if (!s->modules)
		sim_fatal("out of memory");
	for (size_t i = 0; i < n; i++)
		s->modules[i] = modules[i];
	s->model = calloc(n + 1, sizeof(*s->model));
	if (!s->model)
		sim_fatal("out of memory");
	/* A needed module in the list comes earlier (it attaches first). */
	for (size_t i = 0; i < n; i++)
		for (const char *const *need = modules[i]->needs; need && *need; need++)
			for (size_t j = i + 1; j < n; j++)
				if (!strcmp(modules[j]->name, *need))
					sim_fatal("module '%s' needs module '%s', which comes after it "
						  "in the module list", modules[i]->name, *need);
	s->cfg = sim_cfg_new();
	sim_cfg_add_keys(s->cfg, sim_engine_keys);
	for (size_t i = 0; i < n; i++)
		if (modules[i]->keys)
			sim_cfg_add_keys(s->cfg, modules[i]->keys);
	s->stats = sim_stats_new();
	s->eng = sim_engine_new(s);
	sim_stat_fn(s, "sim.cycles", sim_max_cycle,
		    "simulated cycles: the latest clock any agent reached");
	return s;
}

const struct sim_module *const *sim_modules(const struct sim *s)
{
	return s->modules;
}

/* stats.roi_cycle: an agent that starts the region of interest at that cycle. */
static void roi_body(struct sim_agent *a, void *arg)
{
	struct sim *s = sim_agent_sim(a);

	(void)arg;
	sim_wait_until(a, sim_cfg_u64(s, "stats.roi_cycle"));
	sim_sync(a);   /* after every action before the cycle, before every one at or after it */
	sim_stats_roi(s, sim_now(a));
}

int sim_start(struct sim *s, struct sim_err *err)
{
	const char *pname, *ptext;

	if (s->started)
		sim_fatal("sim_start called twice");
	pname = sim_cfg_str(s, "machine.profile");
	ptext = sim_profile_text(pname);
	if (!ptext) {
		char known[256] = "";
		char q[SIM_QUOTE_MAX];

		for (const char *const *p = sim_profile_names(); *p; p++) {
			if (known[0])
				strncat(known, ", ", sizeof(known) - strlen(known) - 1);
			strncat(known, *p, sizeof(known) - strlen(known) - 1);
		}
		return sim_cfg_error(s, "machine.profile", err, "unknown profile %s (known: %s)",
				     sim_quote(pname, q), known);
	}
	if (sim_cfg_apply_profile(s, pname, ptext, err) != 0)
		return -1;
	if (sim_cfg_check_complete(s, err) != 0)
		return -1;
	sim_engine_configure(s->eng, s);
	s->mem = sim_mem_create(s);
	sim_timeline_mem_flag(s);
	for (size_t i = 0; s->modules[i]; i++) {
		if (s->modules[i]->attach && s->modules[i]->attach(s, err) != 0) {
			/* "key: message" from a model: name where the key was set. */
			sim_cfg_error_locate(s, err);
			return -1;
		}
		s->attached = (int)i + 1;
	}
	s->started = true;
	if (sim_cfg_u64(s, "stats.roi_cycle"))
		(void)sim_agent_new(s, "roi", SIM_AGENT_OTHER, roi_body, NULL);
	return 0;
}

bool sim_started(const struct sim *s)
{
	return s->started;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (int i = s->attached - 1; i >= 0; i--)
		if (s->modules[i]->detach)
			s->modules[i]->detach(s);
	(void)sim_timeline_close(s, NULL);   /* a run that did not close it: written now */
	(void)sim_trace_close(s, NULL);
	sim_engine_free(s->eng);
	sim_mem_free(s->mem);
	sim_stats_free(s->stats);
	sim_cfg_free(s->cfg);
	free(s->modules);
	free(s->model);
	free(s);
}

/* Index of @m in the module list, or -1. */
static int module_index(const struct sim *s, const struct sim_module *m)
{
	for (int i = 0; s->modules[i]; i++)
		if (s->modules[i] == m)
			return i;
	return -1;
}

void sim_set_model(struct sim *s, const struct sim_module *m, void *model)
{
	int i = module_index(s, m);

	if (i < 0)
		sim_fatal("sim_set_model: module '%s' is not in this machine", m ? m->name : "(null)");
	s->model[i] = model;
}

void *sim_get_model(const struct sim *s, const struct sim_module *m)
{
	int i = module_index(s, m);

	return i < 0 ? NULL : s->model[i];
}

const char *sim_fmt_size(uint64_t bytes, char buf[32])
{
	if (bytes && bytes % SIM_SZ_1G == 0)
		snprintf(buf, 32, "%llug", (unsigned long long)(bytes / SIM_SZ_1G));
	else if (bytes && bytes % (1ull << 20) == 0)
		snprintf(buf, 32, "%llum", (unsigned long long)(bytes >> 20));
	else if (bytes && bytes % 1024 == 0)
		snprintf(buf, 32, "%lluk", (unsigned long long)(bytes >> 10));
	else
		snprintf(buf, 32, "0x%llx", (unsigned long long)bytes);
	return buf;
}
