/*
 * bench_engine.c - engine figures: coroutine switches (ours vs ucontext's
 * swapcontext, side by side), scheduled operations, physical memory
 * accesses on touched and untouched pages, the resident-set cost of
 * touching 1 GiB of a 1 TiB simulated memory, and starting the largest
 * machine (4096t with its RMP).
 */
#define _GNU_SOURCE
#include "bench/bench.h"
#include "rmp/rmp.h"
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define SWITCHES 4000000ull

/* ---- our coroutine: ping-pong ---- */
static struct sim_coro *pp;
static volatile uint64_t pp_count;

static void pp_body(void *arg)
{
	(void)arg;
	for (;;) {
		pp_count++;
		sim_coro_suspend(pp);
	}
}

/* ---- ucontext ping-pong ---- */
static ucontext_t uc_main, uc_co;
static volatile uint64_t uc_count;

static void uc_body(void)
{
	for (;;) {
		uc_count++;
		swapcontext(&uc_co, &uc_main);
	}
}

/* ---- scheduled operations: N agents each advancing in small steps ---- */
struct opw {
	uint64_t ops;
};

static void op_body(struct sim_agent *a, void *arg)
{
	struct opw *w = arg;

	for (uint64_t i = 0; i < w->ops; i++)
		sim_advance(a, 1 + (i & 3));
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void bench_engine(void)
{
	uint64_t t0, t1;
	double ours, theirs;

	bench_section("engine: agent switches (a resume + a suspend = 2 switches)");
	pp = sim_coro_new(pp_body, NULL, 64 * 1024);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < SWITCHES / 2; i++)
		sim_coro_resume(pp);
	t1 = bench_now_ns();
	ours = bench_report("coroutine switch (protsim, x86-64 asm)", (double)SWITCHES, t1 - t0,
			    "switch");
	sim_coro_free(pp);

	{
		static char stack[64 * 1024];
		getcontext(&uc_co);
		uc_co.uc_stack.ss_sp = stack;
		uc_co.uc_stack.ss_size = sizeof(stack);
		uc_co.uc_link = &uc_main;
		makecontext(&uc_co, uc_body, 0);
		t0 = bench_now_ns();
		for (uint64_t i = 0; i < SWITCHES / 2; i++)
			swapcontext(&uc_main, &uc_co);
		t1 = bench_now_ns();
		theirs = bench_report("coroutine switch (glibc swapcontext)", (double)SWITCHES,
				      t1 - t0, "switch");
	}
	bench_ratio("protsim switch / swapcontext (goal >= 10x)", ours, theirs);

	bench_section("engine: scheduled operations (2 agents, quantum 1: a switch per op)");
	{
		struct sim *s = sim_new(NULL);
		struct sim_err err;
		struct opw w[2] = { { 1000000 }, { 1000000 } };
		if (sim_start(s, &err) != 0) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
		sim_agent_new(s, "a0", SIM_AGENT_CPU, op_body, &w[0]);
		sim_agent_new(s, "a1", SIM_AGENT_CPU, op_body, &w[1]);
		t0 = bench_now_ns();
		sim_run(s);
		t1 = bench_now_ns();
		bench_report("sim_advance operations, quantum 1", 2e6, t1 - t0, "op");
		sim_free(s);
	}
	{
		struct sim *s = sim_new(NULL);
		struct sim_err err;
		struct opw w[2] = { { 4000000 }, { 4000000 } };
		if (sim_cfg_set(s, "engine.quantum", "1000", "--set", 0, &err) || sim_start(s, &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
		sim_agent_new(s, "a0", SIM_AGENT_CPU, op_body, &w[0]);
		sim_agent_new(s, "a1", SIM_AGENT_CPU, op_body, &w[1]);
		t0 = bench_now_ns();
		sim_run(s);
		t1 = bench_now_ns();
		bench_report("sim_advance operations, quantum 1000", 8e6, t1 - t0, "op");
		sim_free(s);
	}

	bench_section("engine: physical memory (8-byte timed accesses)");
	{
		struct sim_mem *m = sim_mem_new(1ull << 40, 100);
		const uint64_t n = 20000000;
		uint64_t sum = 0, v;
		/* touched: 64 pages, cycled */
		for (uint64_t p = 0; p < 64; p++)
			sim_mem_poke64(m, p << 12, p);
		t0 = bench_now_ns();
		for (uint64_t i = 0; i < n; i++) {
			sim_mem_read64(m, 0, SIM_SRC_DATA, ((i & 63) << 12) | ((i >> 6) & 0x1F8), &v);
			sum += v;
		}
		t1 = bench_now_ns();
		bench_report("read, touched pages (hot)", (double)n, t1 - t0, "access");
		t0 = bench_now_ns();
		for (uint64_t i = 0; i < n; i++)
			sim_mem_write64(m, 0, SIM_SRC_DATA, ((i & 63) << 12) | ((i >> 6) & 0x1F8), i);
		t1 = bench_now_ns();
		bench_report("write, touched pages (hot)", (double)n, t1 - t0, "access");
		t0 = bench_now_ns();
		for (uint64_t i = 0; i < n; i++) {
			sim_mem_read64(m, 0, SIM_SRC_DATA, (0x100000000ull + i * 0x10000) & ((1ull << 40) - 1), &v);
			sum += v;
		}
		t1 = bench_now_ns();
		bench_report("read, untouched pages (zero fill)", (double)n, t1 - t0, "access");
		bench_sink(sum);
		sim_mem_free(m);
	}

	bench_section("engine: resident memory for 1 GiB touched of a 1 TiB simulated memory");
	{
		long before = rss_kb(), after;
		struct sim_mem *m = sim_mem_new(1ull << 40, 100);
		const uint64_t touched = 1ull << 30;
		uint64_t base = 0x5000000000ull;
		static uint8_t page[4096];
		memset(page, 0x5A, sizeof(page));
		for (uint64_t off = 0; off < touched; off += 4096)
			sim_mem_poke(m, base + off * 3, page, sizeof(page)); /* spread out: every 3rd page */
		after = rss_kb();
		printf("  %-44s %9.1f MiB  (touched %llu MiB, %llu frames)\n", "RSS growth",
		       (double)(after - before) / 1024.0, (unsigned long long)(touched >> 20),
		       (unsigned long long)sim_mem_frames(m));
		bench_ratio("RSS growth / touched bytes (goal < 1.2)",
			    (double)(after - before) * 1024.0, (double)touched);
		sim_mem_free(m);
	}
	{
		static const struct sim_module *const mods[] = { &rmp_module, NULL };
		long before = rss_kb(), after;
		struct sim *s = sim_new(mods);
		struct sim_err err;

		t0 = bench_now_ns();
		if (sim_cfg_set(s, "machine.mem", "4096t", "--set", 0, &err) || sim_start(s, &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
		t1 = bench_now_ns();
		after = rss_kb();
		printf("  %-44s %9.3f ms   %9.1f MiB RSS growth\n",
		       "start-up, machine.mem=4096t (16 TiB RMP)", (double)(t1 - t0) / 1e6,
		       (double)(after - before) / 1024.0);
		sim_free(s);
	}
}
