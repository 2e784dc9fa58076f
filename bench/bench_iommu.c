/*
 * bench_iommu.c - IOMMU figures: DMA page translations per second (host
 * speed of the model) with IOTLB hits and with IOTLB misses (every page
 * walks the 4-level IO table), in snp mode with the RMP check, and hits
 * without the RMP check (SNP off) for comparison.
 */
#include "bench/bench.h"
#include "iommu/iommu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

#include <stdio.h>
#include <string.h>

#define HIT_PAGES   16u          /* well inside the 128-entry IOTLB */
#define MISS_PAGES  4096u        /* 32x the IOTLB: LRU sweeps miss every time */
#define N_HIT       2000000u
#define N_MISS      500000u
#define IOVA0       0x100000000ull
#define PA0         0x10001000ull   /* not 2M aligned: 4K leaves */

static double run(struct iommu *io, unsigned pages, unsigned n, const char *name,
		  uint64_t *hits, uint64_t *walks)
{
	const struct iommu_counters *c = iommu_counters(io);
	struct sim_who who = { .now = 0, .agent = 0 };
	struct iommu_dma_res r;
	uint64_t h0 = c->iotlb_hit, w0 = c->walks, t0, t1, sum = 0;
	uint8_t buf[8] = { 0 };

	t0 = bench_now_ns();
	for (unsigned i = 0; i < n; i++) {
		uint64_t iova = IOVA0 + (uint64_t)(i % pages) * 0x1000 + (i & 0x1f8);

		iommu_dma(io, &who, 0, iova, (i & 1) != 0, buf, sizeof(buf), &r);
		sum += r.cycles;
	}
	t1 = bench_now_ns();
	bench_sink(sum);
	*hits = c->iotlb_hit - h0;
	*walks = c->walks - w0;
	return bench_report(name, n, t1 - t0, "xlate");
}

static struct iommu *setup(struct sim_mem *m, struct rmp *rmp, unsigned pages)
{
	struct iommu_config ic;
	struct sim_err err;
	struct iommu *io;

	iommu_config_default(&ic);
	ic.pool_size = 8ull << 20;
	ic.log_base = 16ull << 20;
	io = iommu_new(m, &ic, &err);
	if (!io) {
		printf("  iommu: %s\n", err.msg);
		return NULL;
	}
	iommu_set_rmp(io, rmp);
	iommu_attach(io, NULL, 0, IOMMU_MODE_SNP, -1, NULL, NULL);
	if (iommu_map(io, NULL, 0, IOVA0, PA0, (uint64_t)pages * 0x1000, S2_PERM_R | S2_PERM_W,
		      NULL) != IOMMU_OK) {
		printf("  iommu: map failed\n");
		iommu_free(io);
		return NULL;
	}
	return io;
}

void bench_iommu(void)
{
	struct sim_mem *m = sim_mem_new(1ull << 30, 100);
	struct rmp_config rc;
	struct sim_err err;
	struct rmp *rmp;
	struct iommu *io;
	uint64_t hits, walks;
	double hit, miss, nocheck;

	bench_section("iommu: DMA page translations (8-byte DMAs, snp mode)");
	rmp_config_default(&rc);
	rmp = rmp_new(m, &rc, &err);
	if (!rmp) {
		printf("  rmp: %s\n", err.msg);
		sim_mem_free(m);
		return;
	}
	io = setup(m, rmp, MISS_PAGES);
	if (!io)
		goto out;
	for (unsigned i = 0; i < 1000; i++) {   /* warm-up: fill the IOTLB */
		struct sim_who who = { .now = 0, .agent = 0 };
		struct iommu_dma_res r;

		iommu_dma(io, &who, 0, IOVA0 + (uint64_t)(i % HIT_PAGES) * 0x1000, false, NULL, 8, &r);
	}
	hit = run(io, HIT_PAGES, N_HIT, "IOTLB hit + RMP check", &hits, &walks);
	printf("  %-44s %9llu hits, %llu walks\n", "", (unsigned long long)hits,
	       (unsigned long long)walks);
	miss = run(io, MISS_PAGES, N_MISS, "IOTLB miss (4-level walk) + RMP check", &hits, &walks);
	printf("  %-44s %9llu hits, %llu walks\n", "", (unsigned long long)hits,
	       (unsigned long long)walks);
	iommu_set_rmp(io, NULL);
	nocheck = run(io, HIT_PAGES, N_HIT, "IOTLB hit, SNP off (no RMP check)", &hits, &walks);
	bench_ratio("hit / miss", hit, miss);
	bench_ratio("RMP check cost (no-check / check, hits)", nocheck, hit);
	iommu_free(io);
out:
	rmp_free(rmp);
	sim_mem_free(m);
}
