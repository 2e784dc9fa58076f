/*
 * test_iommu_order.c - the IOMMU orders its operations among agents:
 * iommu_dma(), iommu_attach() and iommu_detach() call sim_sync_id() (map
 * and unmap through the stage-2 walker do too), so a DMA agent and a host
 * agent changing the device's translation take effect in global (cycle,
 * agent id) order at any engine.quantum, even when the DMA hits the IOTLB
 * and walks no table.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "iommu/iommu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

#define IOVA 0x10000ull
#define PA   0x400000ull

static const struct sim_module *const mods[] = { &rmp_module, &s2_module, &iommu_module, NULL };

enum hop_kind { H_UNMAP_INVAL, H_DETACH, H_ATTACH_MAP, H_ATTACH_PT };

struct host_env {
	struct iommu *io;
	uint64_t at;
	enum hop_kind kind;
	uint32_t dev;
	int rc;
};

static void host_body(struct sim_agent *a, void *arg)
{
	struct host_env *h = arg;
	struct sim_who who;
	uint64_t cyc = 0;

	while (sim_now(a) < h->at)          /* private work, no sync of its own */
		sim_advance(a, h->at - sim_now(a) < 64 ? h->at - sim_now(a) : 64);
	who.agent = sim_agent_id(a);
	who.now = sim_now(a);
	switch (h->kind) {
	case H_UNMAP_INVAL:
		h->rc = iommu_unmap(h->io, &who, h->dev, IOVA, SIM_SZ_4K, &cyc);
		iommu_inval_range(h->io, h->dev, IOVA, SIM_SZ_4K, NULL);
		break;
	case H_DETACH:
		h->rc = iommu_detach(h->io, &who, h->dev, &cyc);
		break;
	case H_ATTACH_PT:
		h->rc = iommu_attach(h->io, &who, h->dev, IOMMU_MODE_PASSTHROUGH, -1, NULL, &cyc);
		break;
	case H_ATTACH_MAP:
		h->rc = iommu_attach(h->io, &who, h->dev, IOMMU_MODE_SNP, -1, NULL, &cyc);
		if (h->rc == IOMMU_OK)
			h->rc = iommu_map(h->io, &who, h->dev, IOVA, PA, SIM_SZ_4K,
					  S2_PERM_R | S2_PERM_W, NULL);
		break;
	}
	sim_advance(a, cyc + 1);
}

struct icase {
	const char *name;
	bool dma_first;                 /* the DMA agent has the lower id */
	enum hop_kind kind;
	uint64_t host_at;
	uint32_t dev;                   /* device of the host op and the DMAs */
	bool attached;                  /* dev attached and IOVA mapped before the run */
	int ndma;
	uint64_t dma_at[2];
	enum iommu_cause want[2];
};

static const struct icase icases[] = {
	{ "IOTLB hit after another agent's unmap + invalidation faults", true, H_UNMAP_INVAL,
	  4000, 0, true, 2, { 0, 5000 }, { IOMMU_CAUSE_NONE, IOMMU_CAUSE_TRANSLATION } },
	{ "detach after another agent's DMA: the DMA went through", false, H_DETACH,
	  600, 0, true, 1, { 500 }, { IOMMU_CAUSE_NONE } },
	{ "DMAs before and after another agent's attach + map", false, H_ATTACH_MAP,
	  600, 1, false, 2, { 500, 5000 }, { IOMMU_CAUSE_TRANSLATION, IOMMU_CAUSE_NONE } },
	{ "DMAs before and after another agent's passthrough attach", false, H_ATTACH_PT,
	  600, 2, false, 2, { 500, 5000 }, { IOMMU_CAUSE_TRANSLATION, IOMMU_CAUSE_NONE } },
};

static const char *const quanta[] = { "1", "1000", "1000000" };

Test(iommu_order, dma_and_host_changes_in_global_order)
{
	for (size_t c = 0; c < sizeof(icases) / sizeof(icases[0]); c++) {
		const struct icase *k = &icases[c];

		for (size_t q = 0; q < sizeof(quanta) / sizeof(quanta[0]); q++) {
			struct sim *s = sim_new(mods);
			struct sim_err err;
			struct iommu_dma_desc d[2];
			struct host_env h = { .at = k->host_at, .kind = k->kind, .dev = k->dev };

			cr_assert_eq(sim_cfg_set(s, "machine.mem", "256m", "--set", 0, &err), 0);
			cr_assert_eq(sim_cfg_set(s, "engine.quantum", quanta[q], "--set", 0, &err), 0);
			cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
			h.io = sim_get_model(s, &iommu_module);
			cr_assert_not_null(h.io);
			if (k->attached) {
				cr_assert_eq(iommu_attach(h.io, NULL, k->dev, IOMMU_MODE_SNP, -1, NULL,
							  NULL), IOMMU_OK);
				cr_assert_eq(iommu_map(h.io, NULL, k->dev, IOVA, PA, SIM_SZ_4K,
						       S2_PERM_R | S2_PERM_W, NULL), IOMMU_OK);
			}
			memset(d, 0, sizeof(d));
			for (int i = 0; i < k->ndma; i++) {
				d[i].at = k->dma_at[i];
				d[i].dev = k->dev;
				d[i].iova = IOVA;
				d[i].len = 8;
			}
			if (k->dma_first) {
				iommu_dma_agent_new(h.io, s, "dma0", d, (size_t)k->ndma);
				sim_agent_new(s, "cpu0", SIM_AGENT_CPU, host_body, &h);
			} else {
				sim_agent_new(s, "cpu0", SIM_AGENT_CPU, host_body, &h);
				iommu_dma_agent_new(h.io, s, "dma0", d, (size_t)k->ndma);
			}
			cr_assert_eq(sim_run(s), 0);
			cr_expect_eq(h.rc, IOMMU_OK, "%s q=%s: host op", k->name, quanta[q]);
			for (int i = 0; i < k->ndma; i++) {
				cr_expect_eq(d[i].start, k->dma_at[i], "%s: DMA %d start", k->name, i);
				cr_expect_eq(d[i].res.cause, k->want[i], "%s q=%s: DMA %d cause %d, want %d",
					     k->name, quanta[q], i, (int)d[i].res.cause, (int)k->want[i]);
			}
			sim_free(s);
		}
	}
}
