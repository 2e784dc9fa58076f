/*
 * bench_rmp.c - host-speed figures of the RMP model through its C API:
 * access checks per second on 4K and 2M entries, host write checks, and
 * RMPUPDATEs per second, for a contiguous and a segmented table.  The
 * table is warm (every entry used has been touched), memory timing is the
 * flat default.  Goal: >= 50M checks/s.
 */
#include "bench/bench.h"
#include "rmp/rmp.h"

#include <stdio.h>

#define NPAGES 4096u        /* 4K guest pages: 16 MiB spread over the machine */
#define N2M    64u          /* 2M guest entries */
#define NLOCKS 32u          /* locks held by another agent in the last loop */
#ifndef CHECKS            /* overridable for instruction-count runs (callgrind) */
#define CHECKS 20000000u
#endif
#ifndef UPDATES
#define UPDATES 2000000u
#endif

/*
 * SPA of 4K page i.  @spread: scattered over the lower half of the machine
 * (every entry in a different table frame: host-cache hostile); else a
 * guest's 16 MiB of contiguous memory (the common warm case).
 */
static int spread;
static uint64_t page_spa(uint64_t mem, unsigned i)
{
	if (spread)
		return (((uint64_t)i * 2654435761u) % (mem / 2 / 4096)) * 4096;
	return 0x10000000ull + (uint64_t)i * 4096;
}

static uint64_t region_spa(uint64_t mem, unsigned i)
{
	return mem / 2 + (uint64_t)i * 0x200000;
}

static void run(const char *label, enum rmp_mode mode, uint64_t mem, unsigned seg_shift)
{
	struct rmp_config cfg;
	struct sim_err err;
	struct sim_mem *m = sim_mem_new(mem, 120);
	struct rmp *r;
	struct sim_who w = { 0, 0, 0 };
	struct rmp_result res;
	struct rmp_fault f;
	struct rmp_gaccess ga = { .asid = 1, .vmpl = 0, .kind = RMP_ACC_READ, .c_bit = 1,
				  .snp = 1, .map_size = 0x1000 };
	uint64_t t0, sink = 0, faults = 0;
	char name[96];

	rmp_config_default(&cfg);
	cfg.mode = mode;
	cfg.segment_shift = seg_shift;
	r = rmp_new(m, &cfg, &err);
	if (!r) {
		printf("bench_rmp: %s\n", err.msg);
		sim_mem_free(m);
		return;
	}
	/* Warm set-up: NPAGES validated 4K pages, N2M validated 2M entries. */
	for (unsigned i = 0; i < NPAGES; i++) {
		struct rmp_update_in in = { .gpa = (uint64_t)i << 12, .assigned = 1, .asid = 1 };
		struct rmp_gpage pg = { 1, 0, (uint64_t)i << 12, page_spa(mem, i), 0x1000 };

		rmp_update(r, &w, page_spa(mem, i), &in, &res);
		w.now += 100000;
		rmp_pvalidate(r, &w, &pg, false, true, &res);
		w.now += 100000;
	}
	for (unsigned i = 0; i < N2M; i++) {
		struct rmp_update_in in = { .gpa = 0x40000000ull + i * 0x200000ull, .assigned = 1,
					    .page_2m = 1, .asid = 1 };
		struct rmp_gpage pg = { 1, 0, in.gpa, region_spa(mem, i), 0x200000 };

		rmp_update(r, &w, region_spa(mem, i), &in, &res);
		w.now += 100000;
		rmp_pvalidate(r, &w, &pg, true, true, &res);
		w.now += 100000;
	}
	w.now += 1ull << 30;

	t0 = bench_now_ns();
	for (unsigned n = 0; n < CHECKS; n++) {
		unsigned i = n % NPAGES;

		ga.spa = page_spa(mem, i);
		ga.gpa = (uint64_t)i << 12;
		faults += rmp_check_guest(r, &w, &ga, &f) != RMP_FAULT_NONE;
	}
	snprintf(name, sizeof(name), "rmp %s: guest private checks, 4K entries", label);
	bench_report(name, CHECKS, bench_now_ns() - t0, "checks");

	/*
	 * Pages of the 2M entries, reached through 2M nested leaves: the page
	 * size matches (a 4K leaf onto a 2M entry is an RMP #NPF, APM vol. 2
	 * 15.36.10), so every check passes, as in the 4K loop.
	 */
	ga.map_size = 0x200000;
	t0 = bench_now_ns();
	for (unsigned n = 0; n < CHECKS; n++) {
		unsigned i = n % N2M, pg4 = (n / N2M) % 512;

		ga.spa = region_spa(mem, i) + (uint64_t)pg4 * 4096;
		ga.gpa = 0x40000000ull + i * 0x200000ull + (uint64_t)pg4 * 4096;
		faults += rmp_check_guest(r, &w, &ga, &f) != RMP_FAULT_NONE;
	}
	snprintf(name, sizeof(name), "rmp %s: guest private checks, 2M entries", label);
	bench_report(name, CHECKS, bench_now_ns() - t0, "checks");
	ga.map_size = 0x1000;

	t0 = bench_now_ns();
	for (unsigned n = 0; n < CHECKS; n++)
		sink += rmp_check_host(r, &w, page_spa(mem, n % NPAGES) + 0x1000, true, 0x1000, &f);
	snprintf(name, sizeof(name), "rmp %s: host 4K write checks", label);
	bench_report(name, CHECKS, bench_now_ns() - t0, "checks");

	t0 = bench_now_ns();
	for (unsigned n = 0; n < CHECKS; n++)
		sink += rmp_check_host(r, &w, page_spa(mem, n % NPAGES), true, 0x200000, &f);
	snprintf(name, sizeof(name), "rmp %s: host 2M write checks", label);
	bench_report(name, CHECKS, bench_now_ns() - t0, "checks");

	t0 = bench_now_ns();
	for (unsigned n = 0; n < UPDATES; n++) {
		unsigned i = n % NPAGES;
		struct rmp_update_in in = { .gpa = (uint64_t)i << 12, .assigned = (n / NPAGES) & 1,
					    .asid = (n / NPAGES) & 1 };

		sink += rmp_update(r, &w, page_spa(mem, i), &in, &res);
		w.now += res.latency + 1000;
	}
	snprintf(name, sizeof(name), "rmp %s: RMPUPDATE (4K)", label);
	bench_report(name, UPDATES, bench_now_ns() - t0, "insns");

	/*
	 * The 2M-entry checks again while another agent holds NLOCKS entry
	 * locks in other 2M regions (as during a VMM's conversions): the
	 * lock test should stay O(1).  (The RMPUPDATE loop above left the 4K
	 * pages in a mixed state; the 2M entries are as set up.)
	 */
	w.now += 1ull << 30;
	for (unsigned i = 0; i < NLOCKS; i++) {
		struct sim_who w1 = { w.now - 10, 1, 0 };
		struct rmp_update_in in = { 0 };

		rmp_update(r, &w1, mem / 4 + (64 + (uint64_t)i) * 0x200000, &in, &res);
		sink += res.rc;
	}
	ga.map_size = 0x200000;
	t0 = bench_now_ns();
	for (unsigned n = 0; n < CHECKS; n++) {
		unsigned i = n % N2M, pg4 = (n / N2M) % 512;

		ga.spa = region_spa(mem, i) + (uint64_t)pg4 * 4096;
		ga.gpa = 0x40000000ull + i * 0x200000ull + (uint64_t)pg4 * 4096;
		faults += rmp_check_guest(r, &w, &ga, &f) != RMP_FAULT_NONE;
	}
	snprintf(name, sizeof(name), "rmp %s: 2M-entry checks, %u locks elsewhere", label, NLOCKS);
	bench_report(name, CHECKS, bench_now_ns() - t0, "checks");
	/* The guest-check loops measure checks that pass; a fault would measure the fault path. */
	if (faults)
		printf("  bench_rmp: %llu guest checks faulted; the figures above are not comparable\n",
		       (unsigned long long)faults);
	bench_sink(sink + w.mem_cycles);
	rmp_free(r);
	sim_mem_free(m);
}

void bench_rmp(void)
{
	bench_section("rmp: RMP model through the C API (warm table, flat memory timing)");
	run("contiguous 64g", RMP_MODE_CONTIGUOUS, 64ull << 30, 36);
	run("segmented 64g/1g", RMP_MODE_SEGMENTED, 64ull << 30, 30);
	spread = 1;
	run("contiguous 64g, scattered pages", RMP_MODE_CONTIGUOUS, 64ull << 30, 36);
}
