/*
 * test_iommu.c - unit tests of the IOMMU model (suite "iommu"): DMA to
 * each kind of page under each mode (table-driven), stale IOTLB entries
 * until invalidation, the event log's raw entries, order and overflow,
 * DMA split across pages where a later page faults, exact latencies,
 * DMA agents, configuration errors.
 *
 * The machine is standalone: flat memory (LAT cycles per access), an RMP
 * covering the low COVER bytes, an IOMMU with its default configuration.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iommu/iommu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

#define MEMSZ  (64ull << 20)
#define LAT    100u
#define COVER  (32ull << 20)

/* Page kinds (system addresses) and the device addresses mapped to them. */
enum pk { PK_HV, PK_PRIV, PK_FW, PK_NOCOV, PK_UNMAPPED, PK_RO, PK_COUNT };
static const uint64_t pk_spa[PK_COUNT] = {
	0x100000, 0x200000, 0x300000, 0x2100000, 0, 0x100000,
};
#define IOVA_BASE 0x40000000ull
#define IOVA(k)   (IOVA_BASE + (uint64_t)(k) * 0x1000)
#define DEV       1u
#define OFF       0x80u
#define PATTERN   0x11u
#define FILL      0xccu

static struct sim_mem *m;
static struct rmp *rmp;
static struct iommu *io;
static struct s2_pgt *vm_s2;
static uint64_t s2_next;
static const struct sim_who WHO = { .now = 0, .agent = 0 };

static uint64_t t_alloc(void *arg, struct sim_who *who)
{
	uint64_t a = s2_next;

	(void)who;
	(void)arg;
	s2_next += 0x1000;
	return a;
}
static const struct s2_mm_ops t_mm = { .alloc_page = t_alloc };

static void set_entry(uint64_t spa, bool assigned, uint32_t asid, bool immutable, uint64_t gpa)
{
	struct rmp_entry e;

	memset(&e, 0, sizeof(e));
	e.assigned = assigned;
	e.asid = asid;
	e.immutable = immutable;
	e.gpa = gpa;
	e.validated = assigned && asid;
	cr_assert_eq(rmp_fw_write(rmp, spa, &e), RMP_RC_SUCCESS);
}

static void setup_opts(bool check_reads, uint32_t log_entries, unsigned ways)
{
	struct rmp_config rc;
	struct iommu_config ic;
	struct sim_err err;
	uint8_t page[0x1000];

	m = sim_mem_new(MEMSZ, LAT);
	rmp_config_default(&rc);
	rc.coverage = COVER;
	rc.iommu_check_reads = check_reads;
	rmp = rmp_new(m, &rc, &err);
	cr_assert(rmp, "%s", err.msg);
	set_entry(pk_spa[PK_PRIV], true, 1, false, 0x5000);
	set_entry(pk_spa[PK_FW], true, 0, true, 0);
	iommu_config_default(&ic);
	ic.log_entries = log_entries;
	ic.iotlb_ways = ways;
	io = iommu_new(m, &ic, &err);
	cr_assert(io, "%s", err.msg);
	iommu_set_rmp(io, rmp);
	memset(page, PATTERN, sizeof(page));
	for (int k = 0; k < PK_COUNT; k++)
		if (pk_spa[k])
			sim_mem_poke(m, pk_spa[k], page, sizeof(page));
	s2_next = 16ull << 20;
	vm_s2 = NULL;
}

static void setup(void)
{
	setup_opts(false, 256, 4);
}

static void teardown(void)
{
	iommu_free(io);
	s2_pgt_free(vm_s2);
	rmp_free(rmp);
	sim_mem_free(m);
	io = NULL;
	vm_s2 = NULL;
	rmp = NULL;
	m = NULL;
}

/* Attach DEV in @mode and map the page kinds as that mode needs. */
static void attach_mode(enum iommu_mode mode)
{
	int rc;

	if (mode == IOMMU_MODE_SNP) {
		cr_assert_eq(iommu_attach(io, &WHO, DEV, mode, 3, NULL, NULL), IOMMU_OK);
		for (int k = PK_HV; k <= PK_NOCOV; k++)
			cr_assert_eq(iommu_map(io, &WHO, DEV, IOVA(k), pk_spa[k], 0x1000,
					       S2_PERM_R | S2_PERM_W, NULL), IOMMU_OK);
		cr_assert_eq(iommu_map(io, &WHO, DEV, IOVA(PK_RO), pk_spa[PK_RO], 0x1000, S2_PERM_R,
				       NULL), IOMMU_OK);
	} else if (mode == IOMMU_MODE_STAGE2) {
		struct s2_prot rw = { .perms = S2_PERM_R | S2_PERM_W }, ro = { .perms = S2_PERM_R };

		vm_s2 = s2_pgt_new(s2_fmt(S2_FMT_ARM64), 4, m, S2_NO_PAGE, &t_mm, NULL, NULL, &rc);
		cr_assert(vm_s2, "s2_pgt_new: %d", rc);
		for (int k = PK_HV; k <= PK_NOCOV; k++)
			cr_assert_eq(s2_map(vm_s2, NULL, IOVA(k), pk_spa[k], 0x1000, 0x1000, &rw),
				     S2_OK);
		cr_assert_eq(s2_map(vm_s2, NULL, IOVA(PK_RO), pk_spa[PK_RO], 0x1000, 0x1000, &ro),
			     S2_OK);
		cr_assert_eq(iommu_attach(io, &WHO, DEV, mode, 3, vm_s2, NULL), IOMMU_OK);
	} else {
		cr_assert_eq(iommu_attach(io, &WHO, DEV, mode, -1, NULL, NULL), IOMMU_OK);
	}
}

/* The device address of page kind @k under @mode. */
static uint64_t iova_of(enum iommu_mode mode, int k)
{
	if (mode != IOMMU_MODE_PASSTHROUGH)
		return IOVA(k);
	return k == PK_UNMAPPED ? MEMSZ + 0x10000 : pk_spa[k];
}

/* ------------------------------------------------------------------ */
/* DMA to each kind of page under each mode                            */
/* ------------------------------------------------------------------ */

/* Strings are arrays: Criterion runs each case in a fresh process. */
struct dma_case {
	char name[32];
	enum iommu_mode mode;
	int page;                /* enum pk */
	bool write;
	bool check_reads;        /* rmp.iommu_check_reads */
	enum iommu_cause cause;
	unsigned rmp_checks;     /* iommu.rmp_checks after the DMA */
};

#define W true
#define R false
#define SNP IOMMU_MODE_SNP
#define S2M IOMMU_MODE_STAGE2
#define PT  IOMMU_MODE_PASSTHROUGH
#define C_OK IOMMU_CAUSE_NONE
#define C_TR IOMMU_CAUSE_TRANSLATION
#define C_PE IOMMU_CAUSE_PERMISSION
#define C_RMP IOMMU_CAUSE_RMP

/*
 * With SNP on, every mode RMP-checks device writes (Linux
 * iommu_snp_enable() refuses SNP with the IOMMU in passthrough: no device
 * write may reach an assigned page); reads only with
 * rmp.iommu_check_reads.  The check follows translation and permission.
 */
static struct dma_case dma_cases[] = {
	/* snp: IO table, then writes must hit hypervisor-owned pages. */
	{ "snp-hv-write", SNP, PK_HV, W, false, C_OK, 1 },
	{ "snp-hv-read", SNP, PK_HV, R, false, C_OK, 0 },
	{ "snp-private-write", SNP, PK_PRIV, W, false, C_RMP, 1 },
	{ "snp-private-read", SNP, PK_PRIV, R, false, C_OK, 0 },
	{ "snp-firmware-write", SNP, PK_FW, W, false, C_RMP, 1 },
	{ "snp-firmware-read", SNP, PK_FW, R, false, C_OK, 0 },
	{ "snp-notcovered-write", SNP, PK_NOCOV, W, false, C_OK, 1 },
	{ "snp-notcovered-read", SNP, PK_NOCOV, R, false, C_OK, 0 },
	{ "snp-unmapped-write", SNP, PK_UNMAPPED, W, false, C_TR, 0 },
	{ "snp-unmapped-read", SNP, PK_UNMAPPED, R, false, C_TR, 0 },
	{ "snp-readonly-write", SNP, PK_RO, W, false, C_PE, 0 },
	{ "snp-readonly-read", SNP, PK_RO, R, false, C_OK, 0 },
	/* snp with rmp.iommu_check_reads: reads are checked like writes. */
	{ "snpcr-hv-read", SNP, PK_HV, R, true, C_OK, 1 },
	{ "snpcr-private-read", SNP, PK_PRIV, R, true, C_RMP, 1 },
	{ "snpcr-firmware-read", SNP, PK_FW, R, true, C_RMP, 1 },
	{ "snpcr-notcovered-read", SNP, PK_NOCOV, R, true, C_OK, 1 },
	{ "snpcr-private-write", SNP, PK_PRIV, W, true, C_RMP, 1 },
	/* stage2: the owner's stage-2 table, then the same RMP check. */
	{ "s2-hv-write", S2M, PK_HV, W, false, C_OK, 1 },
	{ "s2-hv-read", S2M, PK_HV, R, false, C_OK, 0 },
	{ "s2-private-write", S2M, PK_PRIV, W, false, C_RMP, 1 },
	{ "s2-private-read", S2M, PK_PRIV, R, false, C_OK, 0 },
	{ "s2cr-private-read", S2M, PK_PRIV, R, true, C_RMP, 1 },
	{ "s2cr-hv-read", S2M, PK_HV, R, true, C_OK, 1 },
	{ "s2-firmware-write", S2M, PK_FW, W, false, C_RMP, 1 },
	{ "s2-notcovered-write", S2M, PK_NOCOV, W, false, C_OK, 1 },
	{ "s2-unmapped-write", S2M, PK_UNMAPPED, W, false, C_TR, 0 },
	{ "s2-unmapped-read", S2M, PK_UNMAPPED, R, false, C_TR, 0 },
	{ "s2-readonly-write", S2M, PK_RO, W, false, C_PE, 0 },
	{ "s2-readonly-read", S2M, PK_RO, R, false, C_OK, 0 },
	/* passthrough: identity, then the same RMP check; non-RAM aborts. */
	{ "pt-hv-write", PT, PK_HV, W, false, C_OK, 1 },
	{ "pt-hv-read", PT, PK_HV, R, false, C_OK, 0 },
	{ "pt-private-write", PT, PK_PRIV, W, false, C_RMP, 1 },
	{ "pt-private-read", PT, PK_PRIV, R, false, C_OK, 0 },
	{ "ptcr-private-read", PT, PK_PRIV, R, true, C_RMP, 1 },
	{ "ptcr-hv-read", PT, PK_HV, R, true, C_OK, 1 },
	{ "pt-firmware-write", PT, PK_FW, W, false, C_RMP, 1 },
	{ "pt-notcovered-write", PT, PK_NOCOV, W, false, C_OK, 1 },
	{ "pt-notram-write", PT, PK_UNMAPPED, W, false, C_TR, 0 },
	{ "pt-notram-read", PT, PK_UNMAPPED, R, false, C_TR, 0 },
};

ParameterizedTestParameters(iommu, dma_table)
{
	return cr_make_param_array(struct dma_case, dma_cases, sizeof(dma_cases) / sizeof(dma_cases[0]));
}

ParameterizedTest(struct dma_case *tc, iommu, dma_table, .fini = teardown)
{
	uint64_t iova, spa = pk_spa[tc->page];
	struct iommu_dma_res res;
	struct rmp_entry before, after;
	struct iommu_event ev;
	uint8_t buf[8], mem[8], want[8];
	uint64_t rmp_faults;

	setup_opts(tc->check_reads, 256, 4);
	attach_mode(tc->mode);
	iova = iova_of(tc->mode, tc->page) + OFF;
	if (spa)
		rmp_entry_get(rmp, spa, &before);
	rmp_faults = rmp_counters(rmp)->faults_iommu;
	memset(buf, FILL, sizeof(buf));
	cr_assert_eq(iommu_dma(io, &WHO, DEV, iova, tc->write, buf, sizeof(buf), &res), tc->cause,
		     "%s: cause %s", tc->name, iommu_cause_name(res.cause));
	cr_assert_eq(res.cause, tc->cause);
	cr_assert_eq(res.pages, 1);
	cr_assert_eq(res.done, tc->cause == C_OK ? 8u : 0u, "%s: done %u", tc->name, res.done);
	if (tc->cause == C_OK)
		cr_assert_eq(res.pa, spa + OFF, "%s: pa 0x%llx", tc->name, (unsigned long long)res.pa);
	/* Memory: a write lands only on success; a read never changes it. */
	if (spa) {
		sim_mem_peek(m, spa + OFF, mem, sizeof(mem));
		memset(want, tc->write && tc->cause == C_OK ? FILL : PATTERN, sizeof(want));
		cr_assert_arr_eq(mem, want, sizeof(want), "%s: memory after", tc->name);
		rmp_entry_get(rmp, spa, &after);
		cr_assert_eq(before.raw_lo, after.raw_lo);
		cr_assert_eq(before.raw_hi, after.raw_hi);
	}
	if (!tc->write) {
		memset(want, tc->cause == C_OK ? PATTERN : 0xff, sizeof(want));
		cr_assert_arr_eq(buf, want, sizeof(want), "%s: read buffer", tc->name);
	}
	cr_assert_eq(rmp_counters(rmp)->faults_iommu - rmp_faults, tc->cause == C_RMP ? 1u : 0u);
	/* Statistics: the RMP check made or not, bytes moved or dropped, faults by cause. */
	cr_assert_eq(iommu_counters(io)->rmp_checks, tc->rmp_checks, "%s: rmp_checks %llu", tc->name,
		     (unsigned long long)iommu_counters(io)->rmp_checks);
	cr_assert_eq(iommu_counters(io)->dma_bytes, tc->cause == C_OK ? 8u : 0u);
	cr_assert_eq(iommu_counters(io)->dma_dropped, tc->cause == C_OK ? 0u : 8u);
	cr_assert_eq(iommu_counters(io)->dma_writes, tc->write ? 1u : 0u);
	cr_assert_eq(iommu_counters(io)->dma_reads, tc->write ? 0u : 1u);
	for (int k = C_TR; k < IOMMU_CAUSE_COUNT; k++)
		cr_assert_eq(iommu_counters(io)->faults[k], k == (int)tc->cause ? 1u : 0u,
			     "%s: faults[%s]", tc->name, iommu_cause_name(k));
	/* The log: one entry per fault, none otherwise. */
	cr_assert_eq(iommu_log_pending(io), tc->cause == C_OK ? 0u : 1u);
	cr_assert_eq(iommu_counters(io)->log_entries, tc->cause == C_OK ? 0u : 1u);
	if (tc->cause == C_OK)
		return;
	cr_assert(res.logged);
	cr_assert_eq(res.fault_iova, iova);
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.type, tc->cause == C_RMP ? IOMMU_EVT_RMP_PAGE_FAULT : IOMMU_EVT_IO_PAGE_FAULT);
	cr_assert_eq(ev.cause, tc->cause);
	cr_assert_eq(ev.devid, DEV);
	cr_assert_eq(ev.addr, iova);
	cr_assert_eq(!!(ev.flags & IOMMU_EVF_RW), tc->write);
	if (tc->cause == C_RMP) {
		/* RMP_PAGE_FAULT: devid | flags_rmp << 16; RW only, type 0xD; the device address. */
		cr_assert_eq(ev.flags_rmp, IOMMU_EVR_ASSIGNED);
		cr_assert_eq(ev.raw[0], DEV | (uint32_t)IOMMU_EVR_ASSIGNED << 16);
		cr_assert_eq(ev.raw[1], (tc->write ? (uint32_t)IOMMU_EVF_RW << 16 : 0) | 0xd0000000u);
		cr_assert_eq(ev.raw[2], (uint32_t)iova);
		cr_assert_eq(ev.raw[3], (uint32_t)(iova >> 32));
		cr_assert_eq(res.fault_pa, spa + OFF);
	}
}

/* ------------------------------------------------------------------ */
/* Stale IOTLB entries                                                 */
/* ------------------------------------------------------------------ */

static enum iommu_cause dma8(uint32_t dev, uint64_t iova, bool write, struct iommu_dma_res *res)
{
	uint8_t buf[8];

	memset(buf, FILL, sizeof(buf));
	return iommu_dma(io, &WHO, dev, iova, write, buf, sizeof(buf), res);
}

Test(iommu, stale_iotlb_until_invalidated, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;

	cr_assert_eq(iommu_attach(io, &WHO, 1, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_attach(io, &WHO, 2, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE, pk_spa[PK_HV], 0x1000, S2_PERM_R | S2_PERM_W,
			       NULL), IOMMU_OK);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	cr_assert_eq(r.walks, 1);
	cr_assert_eq(iommu_iotlb_occupancy(io), 1);

	/* Unmapped, not invalidated: the IOTLB still translates. */
	cr_assert_eq(iommu_unmap(io, &WHO, 1, IOVA_BASE, 0x1000, NULL), IOMMU_OK);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	cr_assert_eq(r.pa, pk_spa[PK_HV]);
	cr_assert_eq(r.iotlb_hits, 1);
	cr_assert_eq(r.walks, 0);

	/* Remapped elsewhere: still the stale target. */
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE, pk_spa[PK_NOCOV], 0x1000,
			       S2_PERM_R | S2_PERM_W, NULL), IOMMU_OK);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	cr_assert_eq(r.pa, pk_spa[PK_HV]);

	/* Invalidating another device or another page changes nothing. */
	cr_assert_eq(iommu_inval_range(io, 2, IOVA_BASE, 0x1000, NULL), 0);
	cr_assert_eq(iommu_inval_range(io, 1, IOVA_BASE + 0x1000, 0x1000, NULL), 0);
	cr_assert_eq(iommu_inval_dev(io, 2, NULL), 0);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	cr_assert_eq(r.pa, pk_spa[PK_HV]);

	/* The right invalidation: the new mapping is walked. */
	cr_assert_eq(iommu_inval_range(io, 1, IOVA_BASE, 0x1000, NULL), 1);
	cr_assert_eq(iommu_iotlb_occupancy(io), 0);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	cr_assert_eq(r.pa, pk_spa[PK_NOCOV]);
	cr_assert_eq(r.walks, 1);

	/* Unmap + device invalidation: translation fault. */
	cr_assert_eq(iommu_unmap(io, &WHO, 1, IOVA_BASE, 0x1000, NULL), IOMMU_OK);
	cr_assert_eq(iommu_inval_dev(io, 1, NULL), 1);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_TR);

	cr_assert_eq(iommu_counters(io)->inval_page, 3);
	cr_assert_eq(iommu_counters(io)->inval_dev, 2);
	cr_assert_eq(iommu_counters(io)->inval_entries, 2);
	cr_assert_eq(iommu_counters(io)->iotlb_hit, 3);
	cr_assert_eq(iommu_counters(io)->iotlb_miss, 3);
}

/*
 * AMD v1 IO tables: a write-only mapping (Linux DMA_FROM_DEVICE) lets the
 * device write and refuses its reads with a permission fault (PR|PE, RW
 * clear); the leaf is PR|FC|IW with NextLevel 0 and each PDE names the
 * next table's level in [11:9].
 */
Test(iommu, write_only_mapping_and_v1_descriptors, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	struct iommu_event ev;
	struct s2_pgt *t;
	uint64_t raw;
	int level;

	cr_assert_eq(iommu_attach(io, &WHO, 1, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE, pk_spa[PK_HV], 0x1000, S2_PERM_W, NULL),
		     IOMMU_OK);
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	cr_assert_eq(r.pa, pk_spa[PK_HV]);
	cr_assert_eq(dma8(1, IOVA_BASE + 8, false, &r), C_PE, "IOTLB hit, read refused");
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.cause, C_PE);
	cr_assert_eq(ev.flags, IOMMU_EVF_PR | IOMMU_EVF_PE);

	cr_assert(iommu_dev_info(io, 1, NULL, NULL, &t));
	cr_assert_eq(s2_get_leaf(t, NULL, IOVA_BASE, &raw, &level, NULL), S2_OK);
	cr_expect_eq(level, 1);
	cr_expect_eq(raw, pk_spa[PK_HV] | (1ull << 62) | (1ull << 60) | 1, "IW|FC|PR, NL 0");
	{
		uint64_t root = s2_pgt_root(t);
		uint64_t l4 = sim_mem_peek64(m, root + 8 * ((IOVA_BASE >> 39) & 511));

		cr_expect_eq(l4 & ~0x000FFFFFFFFFF000ull, (3ull << 61) | (3ull << 9) | 1,
			     "PDE at level 4: IR|IW|PR, next level 3");
	}
	cr_assert_eq(iommu_inval_dev(io, 1, NULL), 1);
	cr_assert_eq(dma8(1, IOVA_BASE + 8, false, &r), C_PE, "walked: refused the same way");
	cr_assert_eq(r.walks, 1);
}

Test(iommu, stale_2m_entry_and_global_inval, .init = setup, .fini = teardown)
{
	const uint64_t iova = 0x80000000ull, pa = 0x600000;
	struct iommu_dma_res r;

	cr_assert_eq(iommu_attach(io, &WHO, 1, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_attach(io, &WHO, 2, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, 1, iova, pa, SIM_SZ_2M, S2_PERM_R | S2_PERM_W, NULL),
		     IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, 2, iova, pa, 0x1000, S2_PERM_R, NULL), IOMMU_OK);
	cr_assert_eq(dma8(1, iova + 0x5000, true, &r), C_OK);
	cr_assert_eq(r.pa, pa + 0x5000);
	/* One 2M entry serves every 4K page of the block. */
	cr_assert_eq(dma8(1, iova + 0x1ff000, false, &r), C_OK);
	cr_assert_eq(r.iotlb_hits, 1);
	cr_assert_eq(r.pa, pa + 0x1ff000);
	cr_assert_eq(dma8(2, iova, false, &r), C_OK);
	cr_assert_eq(iommu_iotlb_occupancy(io), 2);
	cr_assert_eq(iommu_unmap(io, &WHO, 1, iova, SIM_SZ_2M, NULL), IOMMU_OK);
	cr_assert_eq(dma8(1, iova + 0x100000, true, &r), C_OK);
	/* Invalidating one 4K page inside the block drops the whole 2M entry. */
	cr_assert_eq(iommu_inval_range(io, 1, iova + 0x1ff000, 0x1000, NULL), 1);
	cr_assert_eq(dma8(1, iova + 0x100000, true, &r), C_TR);
	/* Global: everything, every device. */
	cr_assert_eq(iommu_unmap(io, &WHO, 2, iova, 0x1000, NULL), IOMMU_OK);
	cr_assert_eq(dma8(2, iova, false, &r), C_OK);
	cr_assert_eq(iommu_inval_all(io, NULL), 1);
	cr_assert_eq(iommu_iotlb_occupancy(io), 0);
	cr_assert_eq(dma8(2, iova, false, &r), C_TR);
	cr_assert_eq(iommu_counters(io)->inval_all, 1);
}

Test(iommu, rmp_checked_even_on_iotlb_hit, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	struct iommu_event ev;

	attach_mode(IOMMU_MODE_SNP);
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	/* The host assigns the page to a guest while the device still has it cached. */
	set_entry(pk_spa[PK_HV], true, 2, false, 0x9000);
	cr_assert_eq(dma8(DEV, IOVA(PK_HV) + 8, true, &r), C_RMP);
	cr_assert_eq(r.iotlb_hits, 1);
	cr_assert_eq(r.fault_pa, pk_spa[PK_HV] + 8);
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.type, IOMMU_EVT_RMP_PAGE_FAULT);
	cr_assert_eq(ev.flags_rmp, IOMMU_EVR_ASSIGNED);
}

Test(iommu, stage2_donated_page_stale_until_inval, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;

	attach_mode(IOMMU_MODE_STAGE2);
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	/* pKVM donates the page away: unmapped from the owner's stage 2. */
	cr_assert_eq(s2_unmap(vm_s2, NULL, IOVA(PK_HV), 0x1000), S2_OK);
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	cr_assert_eq(r.iotlb_hits, 1);
	cr_assert_eq(iommu_inval_range(io, DEV, IOVA(PK_HV), 0x1000, NULL), 1);
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_TR);
	cr_assert_eq(r.walks, 1);
	/* map/unmap of the IO table are refused: the VM's table is not ours. */
	cr_assert_eq(iommu_map(io, &WHO, DEV, 0, 0x100000, 0x1000, S2_PERM_R, NULL), IOMMU_ERR_MODE);
	cr_assert_eq(iommu_unmap(io, &WHO, DEV, 0, 0x1000, NULL), IOMMU_ERR_MODE);
}

/*
 * The driver's stores into IO table pages are host writes (APM 15.36.10,
 * Table 15-39): with an IO table page assigned to a guest and validated,
 * iommu_map() and iommu_unmap() are refused with IOMMU_ERR_RMP before any
 * store (no table byte changes, no pool page is taken), and the #PF is
 * kept for the caller.
 */
Test(iommu, table_store_into_assigned_page_refused, .init = setup, .fini = teardown)
{
	static uint8_t before[5][0x1000], after[0x1000];
	const uint64_t pool = iommu_config(io)->pool_base;
	struct rmp_fault f;
	struct iommu_dma_res r;
	uint64_t c;

	cr_assert_not(iommu_host_fault(io, &f));
	cr_assert_eq(iommu_attach(io, &WHO, 1, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE, pk_spa[PK_HV], 0x1000, S2_PERM_R | S2_PERM_W,
			       NULL), IOMMU_OK);
	/* Pool pages: root, then the level-3, -2 and -1 tables; the next is free. */
	set_entry(pool + 0x3000, true, 1, false, 0x9000);
	for (int i = 0; i < 5; i++)
		sim_mem_peek(m, pool + 0x1000ull * i, before[i], sizeof(before[i]));
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE + 0x1000, pk_spa[PK_HV], 0x1000, S2_PERM_R,
			       &c), IOMMU_ERR_RMP);
	cr_assert_gt(c, iommu_config(io)->lat.map, "the driver call and the RMP check are charged");
	cr_assert(iommu_host_fault(io, &f));
	cr_assert_eq(f.kind, RMP_FAULT_PF);
	cr_assert_eq(f.code, RMP_PF_P | RMP_PF_W | RMP_PF_RMP);
	cr_assert_eq(f.addr, pool + 0x3000);
	cr_assert_eq(iommu_unmap(io, &WHO, 1, IOVA_BASE, 0x1000, NULL), IOMMU_ERR_RMP);
	/* A range whose new tables would start at the assigned next pool page. */
	set_entry(pool + 0x4000, true, 1, false, 0xa000);
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE + (1ull << 30), pk_spa[PK_HV], 0x1000,
			       S2_PERM_R, NULL), IOMMU_ERR_RMP);
	cr_assert(iommu_host_fault(io, &f));
	cr_assert_eq(f.addr, pool + 0x4000);
	cr_assert_eq(iommu_attach(io, &WHO, 2, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_ERR_RMP);
	cr_assert_not(iommu_dev_info(io, 2, NULL, NULL, NULL));
	for (int i = 0; i < 5; i++) {
		sim_mem_peek(m, pool + 0x1000ull * i, after, sizeof(after));
		cr_assert_arr_eq(after, before[i], sizeof(after), "pool page %d changed", i);
	}
	cr_assert_eq(iommu_counters(io)->map, 1);
	cr_assert_eq(iommu_counters(io)->unmap, 0);
	cr_assert_eq(iommu_counters(io)->attach, 1);
	cr_assert_eq(rmp_counters(rmp)->faults_pf, 4);
	/* The existing mapping still works; SNP off, the same map passes. */
	cr_assert_eq(dma8(1, IOVA_BASE, true, &r), C_OK);
	iommu_set_rmp(io, NULL);
	cr_assert_eq(iommu_map(io, &WHO, 1, IOVA_BASE + 0x1000, pk_spa[PK_HV], 0x1000, S2_PERM_R,
			       NULL), IOMMU_OK);
}

Test(iommu, no_iotlb_walks_every_page, .fini = teardown)
{
	struct iommu_dma_res r;

	setup_opts(false, 256, 0);
	attach_mode(IOMMU_MODE_SNP);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
		cr_assert_eq(r.walks, 1);
		cr_assert_eq(r.iotlb_hits, 0);
	}
	cr_assert_eq(iommu_counters(io)->iotlb_miss, 3);
	cr_assert_eq(iommu_counters(io)->iotlb_hit, 0);
	cr_assert_eq(iommu_iotlb_occupancy(io), 0);
}

/* ------------------------------------------------------------------ */
/* Event log                                                           */
/* ------------------------------------------------------------------ */

static void expect_raw(unsigned slot, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3)
{
	const uint32_t want[4] = { d0, d1, d2, d3 };
	uint8_t raw[16];

	sim_mem_peek(m, iommu_log_base(io) + 16ull * slot, raw, sizeof(raw));
	for (int i = 0; i < 4; i++) {
		uint32_t got = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
			       (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;

		cr_assert_eq(got, want[i], "slot %u dword %d: 0x%08x, want 0x%08x", slot, i, got,
			     want[i]);
	}
}

Test(iommu, event_log_raw_entries_in_order, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	struct iommu_event ev;
	char line[256];

	attach_mode(IOMMU_MODE_SNP);
	/* 1: translation fault, write, at an unaligned address. */
	cr_assert_eq(dma8(DEV, IOVA(PK_UNMAPPED) + 0x234, true, &r), C_TR);
	/* 2: permission fault, write to a read-only mapping. */
	cr_assert_eq(dma8(DEV, IOVA(PK_RO) + 0x10, true, &r), C_PE);
	/* 3: RMP fault, write to a guest page. */
	cr_assert_eq(dma8(DEV, IOVA(PK_PRIV), true, &r), C_RMP);
	/* 4: translation fault, read, by a device that is not attached (dev 7). */
	cr_assert_eq(dma8(7, 0x123456789000ull, false, &r), C_TR);

	cr_assert_eq(iommu_log_pending(io), 4);
	expect_raw(0, 0x00000001, 0x20200001, (uint32_t)(IOVA(PK_UNMAPPED) + 0x234), 0);
	expect_raw(1, 0x00000001, 0x20700001, (uint32_t)(IOVA(PK_RO) + 0x10), 0);
	expect_raw(2, 0x00010001, 0xD0200000, (uint32_t)IOVA(PK_PRIV), 0);
	expect_raw(3, 0x00000007, 0x20000007, 0x56789000, 0x1234);

	cr_assert(iommu_log_peek(io, 1, &ev));
	cr_assert_eq(ev.type, IOMMU_EVT_IO_PAGE_FAULT);
	cr_assert_eq(ev.cause, C_PE);
	cr_assert_eq(ev.flags, IOMMU_EVF_PR | IOMMU_EVF_PE | IOMMU_EVF_RW);
	cr_assert_eq(ev.domain, 1);
	iommu_event_format(&ev, line, sizeof(line));
	cr_assert_str_eq(line, "IO_PAGE_FAULT(PERMISSION) dev=1 domain=1 addr=0x40005010 "
			       "flags=0x070 raw=00000001:20700001:40005010:00000000");
	cr_assert(iommu_log_peek(io, 2, &ev));
	iommu_event_format(&ev, line, sizeof(line));
	cr_assert_str_eq(line, "RMP_PAGE_FAULT dev=1 vmg_tag=0 addr=0x40001000 flags=0x020 "
			       "flags_rmp=0x01 raw=00010001:d0200000:40001000:00000000");
	cr_assert(iommu_log_peek(io, 3, &ev));
	cr_assert_eq(ev.addr, 0x123456789000ull);
	cr_assert_eq(ev.cause, C_TR);
	cr_assert_not(iommu_log_peek(io, 4, &ev));

	cr_assert_eq(iommu_log_consume(io, 3), 3);
	cr_assert_eq(iommu_log_head(io), 3);
	cr_assert_eq(iommu_log_pending(io), 1);
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.devid, 7);
	cr_assert_eq(iommu_log_consume(io, 10), 1);
	cr_assert_eq(iommu_log_pending(io), 0);
	cr_assert_eq(iommu_counters(io)->log_entries, 4);
}

Test(iommu, event_log_overflow_stops_until_drained, .fini = teardown)
{
	struct iommu_dma_res r;
	struct iommu_event ev;

	setup_opts(false, 4, 4);   /* 4 slots: 3 entries fit */
	attach_mode(IOMMU_MODE_SNP);
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(dma8(DEV, IOVA(PK_UNMAPPED) + i, true, &r), C_TR);
		cr_assert_eq(r.logged, i < 3, "fault %u logged=%d", i, r.logged);
		cr_assert_eq(iommu_log_overflowed(io), i >= 3);
	}
	cr_assert_eq(iommu_log_pending(io), 3);
	cr_assert_eq(iommu_counters(io)->log_entries, 3);
	cr_assert_eq(iommu_counters(io)->log_overflows, 1);
	cr_assert_eq(iommu_counters(io)->log_dropped, 2);
	cr_assert_eq(iommu_counters(io)->faults[C_TR], 5);
	/* The lost events never reach memory: slot 3 is still zero. */
	expect_raw(3, 0, 0, 0, 0);
	/* Stopped even after one entry is read: logging restarts on consume. */
	cr_assert_eq(iommu_log_consume(io, 1), 1);
	cr_assert_not(iommu_log_overflowed(io));
	cr_assert_eq(dma8(DEV, IOVA(PK_UNMAPPED) + 0x10, true, &r), C_TR);
	cr_assert(r.logged);
	expect_raw(3, 0x00000001, 0x20200001, (uint32_t)(IOVA(PK_UNMAPPED) + 0x10), 0);
	/* Full again (head 1, tail 0): the next one overflows a second time. */
	cr_assert_eq(iommu_log_tail(io), 0);
	cr_assert_eq(dma8(DEV, IOVA(PK_UNMAPPED) + 0x20, true, &r), C_TR);
	cr_assert_not(r.logged);
	cr_assert_eq(iommu_counters(io)->log_overflows, 2);
	cr_assert_eq(iommu_counters(io)->log_dropped, 3);
	/* Oldest first: 1, 2, then the one written after the restart. */
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.addr, IOVA(PK_UNMAPPED) + 1);
	cr_assert(iommu_log_peek(io, 2, &ev));
	cr_assert_eq(ev.addr, IOVA(PK_UNMAPPED) + 0x10);
}

/*
 * What iommu.log.dropped counts: every event that was not written, i.e.
 * every fault whose result has logged=0.  That includes the event that
 * found the ring full: the AMD IOMMU sets EventOverflow "when a new event
 * is to be written to the event log and there is no usable entry [...],
 * causing the new event information to be discarded", and writes no new
 * entry while it is set.  iommu.log.overflows counts the stops.  Steps:
 * 'f' a faulting DMA, 'c' the driver consumes every entry, '1' it
 * consumes one (each consume restarts logging, as Linux's
 * amd_iommu_restart_event_logging() after draining).
 */
struct drop_case {
	char name[24];
	uint32_t slots;          /* iommu.log_entries (holds slots - 1) */
	char steps[24];
	uint64_t entries;        /* iommu.log.entries after */
	uint64_t overflows;      /* iommu.log.overflows after */
	uint64_t dropped;        /* iommu.log.dropped after */
	bool stopped;            /* logging stopped at the end */
};

static struct drop_case drop_cases[] = {
	{ "fits", 4, "fff", 3, 0, 0, false },
	{ "first-lost", 4, "ffff", 3, 1, 1, true },
	{ "three-lost", 4, "ffffff", 3, 1, 3, true },
	{ "two-slots-twice", 2, "ffcff", 2, 2, 2, true },
	{ "consume-one", 4, "fffff1ff", 4, 2, 3, true },
	{ "drained-in-time", 4, "fffcfff", 6, 0, 0, false },
	{ "eight-slots", 8, "ffffffffff", 7, 1, 3, true },
};

ParameterizedTestParameters(iommu, event_log_dropped)
{
	return cr_make_param_array(struct drop_case, drop_cases,
				   sizeof(drop_cases) / sizeof(drop_cases[0]));
}

ParameterizedTest(struct drop_case *tc, iommu, event_log_dropped, .fini = teardown)
{
	struct iommu_dma_res r;
	uint64_t faults = 0, lost = 0;

	setup_opts(false, tc->slots, 4);
	attach_mode(IOMMU_MODE_SNP);
	for (const char *st = tc->steps; *st; st++) {
		if (*st == 'c') {
			iommu_log_consume(io, tc->slots);
			continue;
		}
		if (*st == '1') {
			cr_assert_eq(iommu_log_consume(io, 1), 1);
			continue;
		}
		cr_assert_eq(dma8(DEV, IOVA(PK_UNMAPPED) + faults, true, &r), C_TR);
		faults++;
		lost += !r.logged;
		/* At every step: each fault is either written or dropped, never both. */
		cr_assert_eq(iommu_counters(io)->log_dropped, lost, "%s: step %d", tc->name,
			     (int)(st - tc->steps));
		cr_assert_eq(iommu_counters(io)->log_entries + iommu_counters(io)->log_dropped, faults);
	}
	cr_assert_eq(iommu_counters(io)->log_entries, tc->entries, "%s: entries %llu", tc->name,
		     (unsigned long long)iommu_counters(io)->log_entries);
	cr_assert_eq(iommu_counters(io)->log_overflows, tc->overflows, "%s: overflows %llu",
		     tc->name, (unsigned long long)iommu_counters(io)->log_overflows);
	cr_assert_eq(iommu_counters(io)->log_dropped, tc->dropped, "%s: dropped %llu", tc->name,
		     (unsigned long long)iommu_counters(io)->log_dropped);
	cr_assert_eq(iommu_log_overflowed(io), tc->stopped, "%s", tc->name);
	cr_assert_eq(iommu_counters(io)->faults[C_TR], faults);
}

/* ------------------------------------------------------------------ */
/* A DMA split across pages where a later page faults                  */
/* ------------------------------------------------------------------ */

Test(iommu, split_write_second_page_unmapped, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	uint8_t *buf = malloc(0x1000), mem[0x1000];
	struct iommu_event ev;

	cr_assert_eq(iommu_attach(io, &WHO, DEV, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, DEV, IOVA_BASE, pk_spa[PK_HV], 0x1000,
			       S2_PERM_R | S2_PERM_W, NULL), IOMMU_OK);
	for (int i = 0; i < 0x1000; i++)
		buf[i] = (uint8_t)i;
	/* 0x800 bytes in the mapped page, 0x800 in the next (unmapped) one. */
	cr_assert_eq(iommu_dma(io, &WHO, DEV, IOVA_BASE + 0x800, true, buf, 0x1000, &r), C_TR);
	cr_assert_eq(r.pages, 2);
	cr_assert_eq(r.done, 0x800);
	cr_assert_eq(r.fault_iova, IOVA_BASE + 0x1000);
	cr_assert_eq(r.pa, pk_spa[PK_HV] + 0x800);
	sim_mem_peek(m, pk_spa[PK_HV], mem, sizeof(mem));
	for (int i = 0; i < 0x800; i++)
		cr_assert_eq(mem[i], PATTERN, "byte 0x%x before the DMA changed", i);
	for (int i = 0x800; i < 0x1000; i++)
		cr_assert_eq(mem[i], (uint8_t)(i - 0x800), "byte 0x%x did not land", i);
	cr_assert_eq(iommu_counters(io)->dma_bytes, 0x800);
	cr_assert_eq(iommu_counters(io)->dma_dropped, 0x800);
	cr_assert_eq(iommu_log_pending(io), 1);
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.addr, IOVA_BASE + 0x1000);
	cr_assert_eq(ev.cause, C_TR);
	free(buf);
}

Test(iommu, split_write_second_page_private, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	uint8_t buf[0x20], a[0x10], b[0x10], want[0x10];
	struct iommu_event ev;

	cr_assert_eq(iommu_attach(io, &WHO, DEV, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	/* Two consecutive device pages: hypervisor page, then a guest-private page. */
	cr_assert_eq(iommu_map(io, &WHO, DEV, IOVA_BASE, pk_spa[PK_HV], 0x1000,
			       S2_PERM_R | S2_PERM_W, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, DEV, IOVA_BASE + 0x1000, pk_spa[PK_PRIV], 0x1000,
			       S2_PERM_R | S2_PERM_W, NULL), IOMMU_OK);
	memset(buf, FILL, sizeof(buf));
	cr_assert_eq(iommu_dma(io, &WHO, DEV, IOVA_BASE + 0xff0, true, buf, sizeof(buf), &r), C_RMP);
	cr_assert_eq(r.done, 0x10);
	cr_assert_eq(r.fault_pa, pk_spa[PK_PRIV]);
	sim_mem_peek(m, pk_spa[PK_HV] + 0xff0, a, sizeof(a));
	sim_mem_peek(m, pk_spa[PK_PRIV], b, sizeof(b));
	memset(want, FILL, sizeof(want));
	cr_assert_arr_eq(a, want, sizeof(want));
	memset(want, PATTERN, sizeof(want));
	cr_assert_arr_eq(b, want, sizeof(want));
	cr_assert_eq(iommu_log_pending(io), 1);
	cr_assert(iommu_log_peek(io, 0, &ev));
	cr_assert_eq(ev.type, IOMMU_EVT_RMP_PAGE_FAULT);
	cr_assert_eq(ev.addr, IOVA_BASE + 0x1000);
}

Test(iommu, split_read_fills_rest_with_ones, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	uint8_t buf[0x20];

	cr_assert_eq(iommu_attach(io, &WHO, DEV, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, DEV, IOVA_BASE, pk_spa[PK_HV], 0x1000, S2_PERM_R, NULL),
		     IOMMU_OK);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(iommu_dma(io, &WHO, DEV, IOVA_BASE + 0xff8, false, buf, sizeof(buf), &r), C_TR);
	cr_assert_eq(r.done, 8);
	for (unsigned i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], i < 8 ? PATTERN : 0xff, "byte %u", i);
	cr_assert_eq(iommu_counters(io)->dma_reads, 1);
}

Test(iommu, wrapping_request_refused_whole, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	uint8_t buf[0x10];

	cr_assert_eq(iommu_attach(io, &WHO, DEV, IOMMU_MODE_PASSTHROUGH, -1, NULL, NULL), IOMMU_OK);
	cr_assert_eq(iommu_dma(io, &WHO, DEV, UINT64_MAX - 7, true, buf, sizeof(buf), &r), C_TR);
	cr_assert_eq(r.done, 0);
	cr_assert_eq(r.pages, 0);
	cr_assert_eq(r.fault_iova, UINT64_MAX - 7);
}

/* ------------------------------------------------------------------ */
/* Exact latencies (flat memory: LAT cycles per access)                */
/* ------------------------------------------------------------------ */

Test(iommu, latency_walk_hit_fault, .init = setup, .fini = teardown)
{
	const struct iommu_lat *l = &iommu_config(io)->lat;
	struct iommu_dma_res r;
	uint8_t buf[64];

	iommu_set_rmp(io, NULL);   /* SNP off: no RMP check */
	attach_mode(IOMMU_MODE_SNP);
	/* Cold: request + probe + walk (4 table reads) + data + 1 line. */
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	cr_assert_eq(r.refs, 4);
	cr_assert_eq(r.cycles, l->request + l->iotlb_hit + l->walk + 4 * LAT + LAT + l->line);
	cr_assert_eq(r.cycles, 561);
	/* Warm: request + probe + data + 1 line. */
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	cr_assert_eq(r.cycles, 131);
	/* 64 bytes at offset 0x20 touch two lines. */
	cr_assert_eq(iommu_dma(io, &WHO, DEV, IOVA(PK_HV) + 0x20, false, buf, 64, &r), C_OK);
	cr_assert_eq(r.cycles, 20 + 4 + LAT + 2 * 7);
	/* Fault: request + probe + walk (refs reads) + fault + log write. */
	cr_assert_eq(dma8(DEV, IOVA(PK_UNMAPPED), true, &r), C_TR);
	cr_assert_eq(r.cycles, 20 + 4 + 30 + (uint64_t)r.refs * LAT + 200 + LAT);
	cr_assert_geq(r.refs, 1);
}

Test(iommu, latency_rmp_check, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	uint64_t reads;

	attach_mode(IOMMU_MODE_SNP);
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	reads = rmp_counters(rmp)->entry_reads;
	cr_assert_eq(dma8(DEV, IOVA(PK_HV), true, &r), C_OK);
	reads = rmp_counters(rmp)->entry_reads - reads;
	cr_assert_geq(reads, 1);
	cr_assert_eq(r.cycles, 131 + 10 + reads * LAT);
	cr_assert_eq(iommu_counters(io)->rmp_checks, 2);
}

Test(iommu, latency_passthrough_and_management, .init = setup, .fini = teardown)
{
	struct iommu_dma_res r;
	uint64_t c, reads;

	cr_assert_eq(iommu_attach(io, &WHO, 5, IOMMU_MODE_PASSTHROUGH, -1, NULL, &c), IOMMU_OK);
	cr_assert_eq(c, 1500);
	/* A write: request + the RMP check (SNP on, every mode) + data + 1 line. */
	reads = rmp_counters(rmp)->entry_reads;
	cr_assert_eq(dma8(5, pk_spa[PK_HV], true, &r), C_OK);
	reads = rmp_counters(rmp)->entry_reads - reads;
	cr_assert_geq(reads, 1);
	cr_assert_eq(r.cycles, 20 + 10 + reads * LAT + LAT + 7);
	/* A read is not RMP-checked (rmp.iommu_check_reads=0): no check, no cost. */
	cr_assert_eq(dma8(5, pk_spa[PK_HV], false, &r), C_OK);
	cr_assert_eq(r.cycles, 20 + LAT + 7);
	cr_assert_eq(iommu_counters(io)->rmp_checks, 1);
	iommu_inval_range(io, 5, 0, 0x1000, &c);
	cr_assert_eq(c, 1300);
	iommu_inval_dev(io, 5, &c);
	cr_assert_eq(c, 1500);
	iommu_inval_all(io, &c);
	cr_assert_eq(c, 2200);
	cr_assert_eq(iommu_detach(io, &WHO, 5, &c), IOMMU_OK);
	cr_assert_eq(c, 1500 + 1500);
	/* snp attach: the root table page is zeroed through memory. */
	cr_assert_eq(iommu_attach(io, &WHO, 5, IOMMU_MODE_SNP, -1, NULL, &c), IOMMU_OK);
	cr_assert_geq(c, 1500);
	cr_assert_eq(iommu_map(io, &WHO, 5, 0, pk_spa[PK_HV], 0x1000, S2_PERM_R, &c), IOMMU_OK);
	cr_assert_geq(c, 150 + LAT);
	cr_assert_eq((c - 150) % LAT, 0);
}

/* ------------------------------------------------------------------ */
/* Device table management                                             */
/* ------------------------------------------------------------------ */

/* iommu_set_modes: a mode left out is refused before anything changes; the others still attach. */
Test(iommu, attach_modes_narrowed, .init = setup, .fini = teardown)
{
	enum iommu_mode mode;
	uint64_t cycles = 7;
	int rc;

	iommu_set_modes(io, 1u << IOMMU_MODE_STAGE2);
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_SNP, -1, NULL, &cycles), IOMMU_ERR_MODE);
	cr_assert_eq(cycles, 0, "a refused attach costs nothing");
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_PASSTHROUGH, -1, NULL, NULL), IOMMU_ERR_MODE);
	cr_assert_not(iommu_dev_info(io, 4, NULL, NULL, NULL), "still detached");
	vm_s2 = s2_pgt_new(s2_fmt(S2_FMT_ARM64), 4, m, S2_NO_PAGE, &t_mm, NULL, NULL, &rc);
	cr_assert(vm_s2, "s2_pgt_new: %d", rc);
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_STAGE2, 1, vm_s2, NULL), IOMMU_OK);
	cr_assert(iommu_dev_info(io, 4, &mode, NULL, NULL));
	cr_assert_eq(mode, IOMMU_MODE_STAGE2);
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_ERR_ATTACHED,
		     "an attached device is refused as before");
	iommu_set_modes(io, (1u << IOMMU_MODE_COUNT) - 1);
	cr_assert_eq(iommu_attach(io, &WHO, 5, IOMMU_MODE_PASSTHROUGH, -1, NULL, NULL), IOMMU_OK);
}

Test(iommu, attach_detach_states, .init = setup, .fini = teardown)
{
	enum iommu_mode mode;
	struct s2_pgt *t;
	int vm;

	cr_assert_not(iommu_dev_info(io, 4, &mode, &vm, &t));
	cr_assert_eq(iommu_detach(io, &WHO, 4, NULL), IOMMU_ERR_DETACHED);
	cr_assert_eq(iommu_map(io, &WHO, 4, 0, 0, 0x1000, S2_PERM_R, NULL), IOMMU_ERR_DETACHED);
	cr_assert_eq(iommu_attach(io, &WHO, 256, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_ERR_NODEV);
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_STAGE2, 1, NULL, NULL), IOMMU_ERR_NOVM);
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_COUNT, 1, NULL, NULL), IOMMU_ERR_INVAL);
	cr_assert_not(iommu_dev_info(io, 4, NULL, NULL, NULL));
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_SNP, 9, NULL, NULL), IOMMU_OK);
	cr_assert(iommu_dev_info(io, 4, &mode, &vm, &t));
	cr_assert_eq(mode, IOMMU_MODE_SNP);
	cr_assert_eq(vm, 9);
	cr_assert_not_null(t);
	cr_assert_eq(s2_pgt_fmt(t)->id, S2_FMT_AMDV1);
	cr_assert_eq(s2_pgt_levels(t), IOMMU_IO_LEVELS);
	cr_assert_geq(s2_pgt_root(t), iommu_config(io)->pool_base);
	cr_assert_lt(s2_pgt_root(t), iommu_config(io)->pool_base + iommu_config(io)->pool_size);
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_PASSTHROUGH, 9, NULL, NULL),
		     IOMMU_ERR_ATTACHED);
	/* Management errors of the IO table. */
	cr_assert_eq(iommu_map(io, &WHO, 4, 0x1000, 0x100000, 0x1000, S2_PERM_R | S2_PERM_W, NULL),
		     IOMMU_OK);
	cr_assert_eq(iommu_map(io, &WHO, 4, 0x1000, 0x200000, 0x1000, S2_PERM_R, NULL),
		     IOMMU_ERR_EXISTS);
	cr_assert_eq(iommu_map(io, &WHO, 4, 0x1800, 0x200000, 0x1000, S2_PERM_R, NULL),
		     IOMMU_ERR_ALIGN);
	cr_assert_eq(iommu_map(io, &WHO, 4, 0x3000, 0x200000, 0x1000, 0, NULL), IOMMU_ERR_PERMS);
	cr_assert_eq(iommu_map(io, &WHO, 4, 0x3000, 0x200000, 0x1000, S2_PERM_X, NULL),
		     IOMMU_ERR_PERMS);
	cr_assert_eq(iommu_map(io, &WHO, 4, 0x3000, 0x200000, 0, S2_PERM_R, NULL), IOMMU_ERR_INVAL);
	cr_assert_eq(iommu_map(io, &WHO, 4, 1ull << 48, 0x200000, 0x1000, S2_PERM_R, NULL),
		     IOMMU_ERR_RANGE);
	cr_assert_eq(iommu_counters(io)->map, 1);
	/* Detach frees the table pages and drops the device's IOTLB entries. */
	{
		struct iommu_dma_res r;

		cr_assert_eq(dma8(4, 0x1000, true, &r), C_OK);
		cr_assert_eq(iommu_iotlb_occupancy(io), 1);
	}
	cr_assert_eq(iommu_detach(io, &WHO, 4, NULL), IOMMU_OK);
	cr_assert_eq(iommu_iotlb_occupancy(io), 0);
	cr_assert_not(iommu_dev_info(io, 4, NULL, NULL, NULL));
	cr_assert_eq(iommu_attach(io, &WHO, 4, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	cr_assert(iommu_dev_info(io, 4, NULL, NULL, &t));
	cr_assert_eq(iommu_counters(io)->attach, 2);
	cr_assert_eq(iommu_counters(io)->detach, 1);
}

Test(iommu, pool_exhaustion_is_nomem, .fini = teardown)
{
	struct iommu_config ic;
	struct sim_err err;
	struct rmp_config rc;
	int rc2 = IOMMU_OK;

	m = sim_mem_new(MEMSZ, LAT);
	rmp_config_default(&rc);
	rmp = rmp_new(m, &rc, &err);
	iommu_config_default(&ic);
	ic.pool_size = 4 * 0x1000;   /* a root and three more pages */
	io = iommu_new(m, &ic, &err);
	cr_assert(io, "%s", err.msg);
	cr_assert_eq(iommu_attach(io, &WHO, 0, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
	/* One 4K mapping needs 3 table pages below the root: fits exactly. */
	cr_assert_eq(iommu_map(io, &WHO, 0, 0, 0x100000, 0x1000, S2_PERM_R, NULL), IOMMU_OK);
	rc2 = iommu_map(io, &WHO, 0, 1ull << 39, 0x100000, 0x1000, S2_PERM_R, NULL);
	cr_assert_eq(rc2, IOMMU_ERR_NOMEM);
	cr_assert_eq(iommu_attach(io, &WHO, 1, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_ERR_NOMEM);
	/* Detaching gives the pages back. */
	cr_assert_eq(iommu_detach(io, &WHO, 0, NULL), IOMMU_OK);
	cr_assert_eq(iommu_attach(io, &WHO, 1, IOMMU_MODE_SNP, -1, NULL, NULL), IOMMU_OK);
}

Test(iommu, log_pages_firmware_owned, .init = setup, .fini = teardown)
{
	struct rmp_entry e;

	cr_assert(rmp_entry_get(rmp, iommu_log_base(io), &e));
	cr_assert(e.assigned);
	cr_assert(e.immutable);
	cr_assert_eq(e.asid, 0);
	cr_assert(rmp_entry_get(rmp, iommu_log_base(io) + 0x1000, &e)); /* 256 x 16 = 4K */
	cr_assert_not(e.assigned);
}

/* ------------------------------------------------------------------ */
/* DMA agents                                                          */
/* ------------------------------------------------------------------ */

Test(iommu, dma_agents_own_clocks)
{
	struct sim *s = sim_new(NULL);
	struct iommu_config ic;
	struct sim_err err;
	struct iommu *d;
	uint8_t b0[8], b1[8], b2[8];
	struct iommu_dma_desc a0[2], a1[1];

	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	iommu_config_default(&ic);
	d = iommu_new(sim_mem(s), &ic, &err);
	cr_assert(d, "%s", err.msg);
	cr_assert_eq(iommu_attach(d, &WHO, 0, IOMMU_MODE_PASSTHROUGH, -1, NULL, NULL), IOMMU_OK);
	memset(b0, 0x5a, sizeof(b0));
	memset(a0, 0, sizeof(a0));
	memset(a1, 0, sizeof(a1));
	a0[0] = (struct iommu_dma_desc){ .at = 100, .dev = 0, .iova = 0x1000, .len = 8,
					 .write = true, .buf = b0 };
	a0[1] = (struct iommu_dma_desc){ .at = 0, .dev = 0, .iova = 0x1000, .len = 8, .buf = b1 };
	a1[0] = (struct iommu_dma_desc){ .at = 50, .dev = 0, .iova = 0x1000, .len = 8, .buf = b2 };
	struct sim_agent *x = iommu_dma_agent_new(d, s, "dma0", a0, 2);
	struct sim_agent *y = iommu_dma_agent_new(d, s, "dma1", a1, 1);

	cr_assert_eq(sim_agent_kind(x), SIM_AGENT_DMA);
	cr_assert_eq(sim_run(s), 0);
	/* Each request: request + DRAM (lat.mem.dram 120) + 1 line. */
	cr_assert_eq(a0[0].res.cycles, 20 + 120 + 7);
	cr_assert_eq(a0[0].start, 100);
	cr_assert_eq(a0[1].start, 100 + 147);
	cr_assert_eq(sim_now(x), 100 + 2 * 147);
	cr_assert_eq(a1[0].start, 50);
	cr_assert_eq(sim_now(y), 50 + 147);
	/* dma1 read before dma0 wrote (cycle 50 < 100); dma0 read its own write. */
	cr_assert_eq(b2[0], 0);
	cr_assert_eq(b1[0], 0x5a);
	iommu_free(d);
	sim_free(s);
}

/* With --timeline, each request is a span on its engine's track: from its start for its cycles. */
Test(iommu, dma_agents_timeline)
{
	struct sim *s = sim_new(NULL);
	struct iommu_config ic;
	struct sim_err err;
	struct iommu *d;
	uint8_t b0[8] = { 0 }, b1[8];
	struct iommu_dma_desc a0[2];
	char path[] = "/tmp/protsim-dma-tl-XXXXXX", text[8192];
	int fd = mkstemp(path);
	FILE *f;
	size_t n;

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_timeline_open(s, path, &err), 0, "%s", err.msg);
	iommu_config_default(&ic);
	d = iommu_new(sim_mem(s), &ic, &err);
	cr_assert(d, "%s", err.msg);
	cr_assert_eq(iommu_attach(d, &WHO, 0, IOMMU_MODE_PASSTHROUGH, -1, NULL, NULL), IOMMU_OK);
	memset(a0, 0, sizeof(a0));
	a0[0] = (struct iommu_dma_desc){ .at = 100, .dev = 0, .iova = 0x1000, .len = 8,
					 .write = true, .buf = b0 };
	a0[1] = (struct iommu_dma_desc){ .at = 0, .dev = 0, .iova = 0x2000, .len = 8, .buf = b1 };
	struct sim_agent *x = iommu_dma_agent_new(d, s, "dma0", a0, 2);

	cr_assert_eq(sim_run(s), 0);
	cr_assert_eq(sim_timeline_close(s, &err), 0, "%s", err.msg);
	f = fopen(path, "r");
	cr_assert(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	unlink(path);
	text[n] = 0;
	/* the engine's track is named; the requests: 147 cycles each (20 + DRAM 120 + 1 line) */
	cr_assert(strstr(text, "\"name\":\"thread_name\",\"args\":{\"name\":\"dma0\"}"), "%s", text);
	char want[2][256];

	snprintf(want[0], sizeof(want[0]), "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":100,\"dur\":147,"
		 "\"cat\":\"dma\",\"name\":\"dma write\",\"args\":{\"dev\":0,\"iova\":\"0x1000\","
		 "\"len\":8,\"done\":8}}", sim_agent_id(x));
	snprintf(want[1], sizeof(want[1]), "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":247,\"dur\":147,"
		 "\"cat\":\"dma\",\"name\":\"dma read\",\"args\":{\"dev\":0,\"iova\":\"0x2000\","
		 "\"len\":8,\"done\":8}}", sim_agent_id(x));
	cr_assert(strstr(text, want[0]), "no %s in %s", want[0], text);
	cr_assert(strstr(text, want[1]), "no %s in %s", want[1], text);
	iommu_free(d);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Configuration errors and tables                                     */
/* ------------------------------------------------------------------ */

struct cfg_case {
	char name[24];
	int field;
	uint64_t value;
	char msg[128];
};

static struct cfg_case cfg_cases[] = {
	{ "devices-0", 0, 0, "iommu.devices: 0: must be 1..65536" },
	{ "sets-3", 1, 3, "iommu.iotlb_sets: 3: must be a power of two up to 65536" },
	{ "ways-65", 2, 65, "iommu.iotlb_ways: 65: must be 0..64" },
	{ "pool-misaligned", 3, 0x800001, "iommu.pool_base: 0x800001: must be 4k aligned" },
	{ "pool-beyond", 3, MEMSZ - 0x1000,
	  "iommu.pool_base: [0x3fff000, 0x41ff000) does not fit in machine.mem (0x4000000)" },
	{ "pool-size", 4, 0x1800, "iommu.pool_size: 0x1800: must be a non-zero multiple of 4k" },
	{ "log-entries", 5, 3, "iommu.log_entries: 3: must be a power of two, 2..32768" },
	{ "log-entries-big", 5, 65536, "iommu.log_entries: 65536: must be a power of two, 2..32768" },
	{ "log-misaligned", 6, 0xa00010, "iommu.log_base: 0xa00010: must be 4k aligned" },
	{ "log-overlap", 6, 0x9ff000,
	  "iommu.log_base: the log [0x9ff000, 0xa00000) overlaps the IO table pool "
	  "[0x800000, 0xa00000)" },
};

ParameterizedTestParameters(iommu, config_errors)
{
	return cr_make_param_array(struct cfg_case, cfg_cases, sizeof(cfg_cases) / sizeof(cfg_cases[0]));
}

ParameterizedTest(struct cfg_case *tc, iommu, config_errors)
{
	struct sim_mem *mm = sim_mem_new(MEMSZ, LAT);
	struct iommu_config ic;
	struct sim_err err = { "" };

	iommu_config_default(&ic);
	switch (tc->field) {
	case 0: ic.devices = (uint32_t)tc->value; break;
	case 1: ic.iotlb_sets = (unsigned)tc->value; break;
	case 2: ic.iotlb_ways = (unsigned)tc->value; break;
	case 3: ic.pool_base = tc->value; break;
	case 4: ic.pool_size = tc->value; break;
	case 5: ic.log_entries = (uint32_t)tc->value; break;
	default: ic.log_base = tc->value; break;
	}
	cr_assert_null(iommu_new(mm, &ic, &err), "%s", tc->name);
	cr_assert_str_eq(err.msg, tc->msg);
	sim_mem_free(mm);
}

Test(iommu, name_tables)
{
	for (int i = 0; i < IOMMU_RC_COUNT; i++)
		cr_assert_str_neq(iommu_rc_name(i), "?", "rc %d unnamed", i);
	cr_assert_str_eq(iommu_rc_name(IOMMU_RC_COUNT), "?");
	cr_assert_str_eq(iommu_rc_name(IOMMU_ERR_EXISTS), "exists");
	cr_assert_str_eq(iommu_rc_name(IOMMU_ERR_INVAL), "inval");
	cr_assert_str_eq(iommu_cause_name(IOMMU_CAUSE_NONE), "OK");
	cr_assert_str_eq(iommu_cause_name(IOMMU_CAUSE_RMP), "RMP");
	cr_assert_str_eq(iommu_cause_name(IOMMU_CAUSE_COUNT), "?");
	cr_assert_str_eq(iommu_mode_name(IOMMU_MODE_STAGE2), "stage2");
	cr_assert_str_eq(iommu_mode_name(IOMMU_MODE_COUNT), "?");
}
