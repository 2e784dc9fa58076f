/*
 * bench_pkvm.c - the pKVM host (machine host=pkvm; docs/pkvm.md):
 *
 *   - host hypercalls per second of host time: `pkvm host_share_hyp` and
 *     `pkvm host_unshare_hyp` over 4096 pages, through the interpreter
 *     (the figure includes parsing the lines);
 *   - the simulated cost of a donate/share/unshare round trip of one 4K
 *     page: `pkvm host_donate_guest` of a page to a protected VM, then the
 *     guest's MEM_SHARE and MEM_UNSHARE of it (`guest share` / `guest
 *     unshare`), 512 pages in a row, mean cycles of each step from the
 *     lines' own latencies, three ways: fast mode with the generic
 *     profile's lat.mem.dram = 120 (no cache model: each table reference
 *     of the hypervisor is a DRAM access), fast mode with lat.mem.dram = 0
 *     (the software and TLBI costs alone: what the model charges beyond
 *     memory), and detailed mode with the generic profile (cpu.mode=
 *     detailed: the host CPU agent's private L1D/L2 and the LLC in front
 *     of DRAM, cpu/cache.c); and the cost of one 4K map in microseconds at
 *     the generic profile's 2.7 GHz next to the published figure
 *     (published-figures.md target 7: a pKVM hypercall and its
 *     stage-2/IOMMU update add about 0.2 us per 4K map; M. Saleh's pKVM
 *     SMMUv3 RFC v2 on Arm Morello).
 * Host-time figures BENCH_RUNS times (default 5), median (min-max); the
 * simulated figures are deterministic (one run).
 */
#include "bench/bench.h"
#include "sim/sim.h"
#include "sim/stack/stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 50
#define PAGES 512
#define GHZ 2.7            /* the generic profile's clock (sim/profiles/generic.prof) */
#define TARGET_US 0.2      /* published-figures.md target 7 */

static unsigned runs(void)
{
	const char *e = getenv("BENCH_RUNS");
	unsigned n = e ? (unsigned)atoi(e) : 5;

	return n < 1 ? 1 : n > MAX_RUNS ? MAX_RUNS : n;
}

/* A pKVM machine with lat.mem.dram = @dram cycles and cpu.mode = @mode. */
static struct sim *machine(const char *dram, const char *mode)
{
	const char *const keys[] = {
		"machine.mem", "1g", "machine.host", "pkvm", "rmp.mode", "off",
		"s2.pool_base", "0x1000000", "s2.pool_size", "64m", "lat.mem.dram", dram,
		"cpu.mode", mode, NULL
	};
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;

	for (const char *const *k = keys; *k; k += 2)
		if (sim_cfg_set(s, k[0], k[1], "bench", 0, &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
	if (sim_start(s, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	return s;
}

/* Run @text on @s; its output in *@buf (free it). */
static void script(struct sim *s, const char *text, char **buf)
{
	size_t len = 0;
	FILE *out = open_memstream(buf, &len);

	if (!out || sim_script_run_text(s, text, "bench", out, stderr)) {
		fprintf(stderr, "bench: pkvm script failed\n");
		exit(1);
	}
	fclose(out);
}

static char *text_new(size_t *cap)
{
	*cap = 1u << 20;
	return calloc(1, *cap);
}

/* 2 x 4096 host hypercalls: calls per second of host time. */
static double hypercalls(void)
{
	size_t cap, n = 0;
	char *text = text_new(&cap), *out = NULL;
	struct sim *s = machine("120", "fast");
	uint64_t t0;
	double rate;

	for (unsigned i = 0; i < 4096; i++)
		n += (size_t)snprintf(text + n, cap - n, "pkvm host_share_hyp pfn=0x%x\n", 0x20000 + i);
	for (unsigned i = 0; i < 4096; i++)
		n += (size_t)snprintf(text + n, cap - n, "pkvm host_unshare_hyp pfn=0x%x\n", 0x20000 + i);
	t0 = bench_now_ns();
	script(s, text, &out);
	rate = 8192.0 * 1e9 / (double)(bench_now_ns() - t0);
	if (strstr(out, "ERROR")) {
		fprintf(stderr, "bench: a pkvm hypercall was refused\n");
		exit(1);
	}
	free(out);
	free(text);
	sim_free(s);
	return rate;
}

/* The "(N cycles)" of each output line starting with @op (after the agent), summed. */
static uint64_t cycles_of(const char *out, const char *op, unsigned *count)
{
	uint64_t sum = 0;

	*count = 0;
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *sp = strchr(p, ' '), *nl = strchr(p, '\n'), *c;

		if (!sp || strncmp(sp + 1, "cpu0 ", 5) || strncmp(sp + 6, op, strlen(op)))
			continue;
		for (c = nl ? nl : p + strlen(p); c > p && *c != '('; c--)
			;
		sum += strtoull(c + 1, NULL, 10);
		(*count)++;
	}
	return sum;
}

/* The round trip with lat.mem.dram = @dram cycles in cpu.mode @mode. */
static void round_trip(const char *dram, const char *mode)
{
	size_t cap, n = 0;
	char *text = text_new(&cap), *out = NULL;
	struct sim *s = machine(dram, mode);
	uint64_t don, sh, un;
	unsigned nd, ns, nu;
	double rt;

	n += (size_t)snprintf(text + n, cap - n,
			      "vm create vm=1 type=pkvm\n"
			      "vm memslot vm=1 slot=0 gpa=0 size=4m spa=0x10000000\n");
	for (unsigned i = 0; i < PAGES; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "pkvm host_donate_guest vm=1 pfn=0x%x gfn=0x%x\n"
				      "guest share vm=1 gpa=0x%x size=4k\n"
				      "guest unshare vm=1 gpa=0x%x size=4k\n",
				      0x20000 + i, 0x1000 + i, (0x1000 + i) << 12, (0x1000 + i) << 12);
	script(s, text, &out);
	if (strstr(out, "ERROR")) {
		fprintf(stderr, "bench: the pkvm round trip was refused\n");
		exit(1);
	}
	don = cycles_of(out, "pkvm host_donate_guest", &nd);
	sh = cycles_of(out, "guest share", &ns);
	un = cycles_of(out, "guest unshare", &nu);
	if (nd != PAGES || ns != PAGES || nu != PAGES) {
		fprintf(stderr, "bench: pkvm round trip: %u/%u/%u lines\n", nd, ns, nu);
		exit(1);
	}
	rt = (double)(don + sh + un) / PAGES;
	printf("  cpu.mode=%s, lat.mem.dram=%s%s:\n", mode, dram,
	       strcmp(mode, "detailed") ? " (no caches)" : " (host L1D/L2, LLC)");
	printf("  %-46s %10.0f cycles  (mean of %d pages)\n", "host_donate_guest (simulated)",
	       (double)don / PAGES, PAGES);
	printf("  %-46s %10.0f cycles\n", "guest MEM_SHARE of the page (simulated)", (double)sh / PAGES);
	printf("  %-46s %10.0f cycles\n", "guest MEM_UNSHARE of the page (simulated)", (double)un / PAGES);
	printf("  %-46s %10.0f cycles  = %.2f us at %.1f GHz\n", "donate/share/unshare round trip", rt,
	       rt / (GHZ * 1000.0), GHZ);
	printf("  %-46s %10.2f us  (published: ~%.1f us per 4K map, target 7)\n",
	       "one 4K map (round trip / 3)", rt / 3 / (GHZ * 1000.0), TARGET_US);
	free(out);
	free(text);
	sim_free(s);
}

void bench_pkvm(void)
{
	unsigned r = runs();
	double rate[MAX_RUNS];

	bench_section("pkvm: the pKVM host (machine host=pkvm)");
	for (unsigned i = 0; i < r; i++)
		rate[i] = hypercalls();
	bench_report_runs("host hypercalls (share_hyp/unshare_hyp, script)", rate, r, "calls");
	round_trip("120", "fast");
	round_trip("0", "fast");
	round_trip("120", "detailed");
}
