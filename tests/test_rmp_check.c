/*
 * test_rmp_check.c - the RMP access checks, one table row per rule of the
 * AMD APM vol. 2 15.36.10, Table 15-39: host writes (4K, 2M, 1G) and page-table
 * accesses, guest private and shared accesses in check priority order
 * (page size as an equality), non-SNP guests, DMA.  Every row
 * also asserts that the check left the entries unchanged.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "tests/test_rmp_util.h"

#define NPF_PRIV (RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL)
#define NPF_SHARED (RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_FINAL)
#define PF_RMP (RMP_PF_P | RMP_PF_W | RMP_PF_RMP)

/* ---- guest ---- */

struct gcase {
	char name[40];
	struct tent init_b, init_p;
	struct rmp_gaccess a;          /* zero fields: asid 1, GP4K -> P4K, snp, map 4K */
	bool c0;                       /* shared access (C=0) */
	bool nosnp;                    /* a non-SNP guest */
	enum rmp_fault_kind fault;
	uint64_t code;
};

#define ACC(kind_, vmpl_) { .kind = (kind_), .vmpl = (vmpl_) }
#define ACCM(kind_, map_) { .kind = (kind_), .map_size = (map_) }
#define VP(p1_, p2_, p3_) { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = (p1_), .p2 = (p2_), .p3 = (p3_) }

static struct gcase gcases[] = {
	/* private, in check order */
	{ "private-read-ok", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_READ, 0) },
	{ "private-write-ok", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_WRITE, 0) },
	{ "private-not-covered", .a = { .kind = RMP_ACC_READ, .spa = NOCOVER },
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-hypervisor-page", .a = ACC(RMP_ACC_READ, 0), .fault = RMP_FAULT_NPF,
	  .code = NPF_PRIV },
	{ "private-write-hv-page", .a = ACC(RMP_ACC_WRITE, 0), .fault = RMP_FAULT_NPF,
	  .code = NPF_PRIV | RMP_NPF_W },
	{ "private-wrong-asid", .init_p = GUESTV(2, GP4K), .a = ACC(RMP_ACC_READ, 0),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-wrong-gpa", .init_p = GUESTV(1, GP4K + 0x1000), .a = ACC(RMP_ACC_READ, 0),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-immutable", .init_p = { .a = 1, .imm = 1, .val = 1, .asid = 1, .gpa = GP4K },
	  .a = ACC(RMP_ACC_READ, 0), .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-firmware", .init_p = FIRMWARE, .a = ACC(RMP_ACC_READ, 0),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	/* page size is an equality, and its faults carry no SIZEM (reference §1.9) */
	{ "private-2m-map-4k-entry", .init_p = GUESTV(1, GP4K), .a = ACCM(RMP_ACC_READ, SIM_SZ_2M),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-1g-map-4k-entry", .init_p = GUESTV(1, GP4K), .a = ACCM(RMP_ACC_WRITE, SIM_SZ_1G),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_W },
	{ "private-2m-map-2m-entry", .init_b = GUEST2MV(1, G2M), .a = ACCM(RMP_ACC_READ, SIM_SZ_2M) },
	{ "private-1g-map-2m-entry", .init_b = GUEST2MV(1, G2M), .a = ACCM(RMP_ACC_WRITE, SIM_SZ_1G) },
	{ "private-4k-map-2m-entry", .init_b = GUEST2MV(1, G2M), .a = ACCM(RMP_ACC_WRITE, SIM_SZ_4K),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_W },
	{ "private-4k-map-2m-base", .init_b = GUEST2MV(1, G2M),
	  .a = { .kind = RMP_ACC_READ, .spa = B2M, .gpa = G2M, .map_size = SIM_SZ_4K },
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-4k-map-2m-fetch", .init_b = GUEST2MV(1, G2M), .a = ACCM(RMP_ACC_FETCH_SUP, SIM_SZ_4K),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_ID },
	{ "private-4k-map-2m-ptread", .init_b = GUEST2MV(1, G2M), .a = ACCM(RMP_ACC_PT_READ, SIM_SZ_4K),
	  .fault = RMP_FAULT_NPF, .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_PAGE },
	{ "private-2m-entry-wrong-gpa", .init_b = GUEST2MV(1, G2M + SIM_SZ_2M),
	  .a = ACC(RMP_ACC_READ, 0), .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "private-not-validated", .init_p = GUEST(1, GP4K), .a = ACC(RMP_ACC_READ, 0),
	  .fault = RMP_FAULT_VC, .code = RMP_VC_NOT_VALIDATED },
	{ "private-2m-not-validated", .init_b = GUEST2M(1, G2M), .a = ACCM(RMP_ACC_WRITE, SIM_SZ_2M),
	  .fault = RMP_FAULT_VC, .code = RMP_VC_NOT_VALIDATED },
	/* priorities */
	{ "prio-owner-before-validated", .init_p = GUEST(1, GP4K + 0x1000),
	  .a = ACC(RMP_ACC_READ, 0), .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "prio-size-before-validated", .init_p = GUEST(1, GP4K), .a = ACCM(RMP_ACC_READ, SIM_SZ_2M),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "prio-4k-leaf-before-validated", .init_b = GUEST2M(1, G2M), .a = ACCM(RMP_ACC_READ, SIM_SZ_4K),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV },
	{ "prio-validated-before-vmpl", .init_p = GUEST(1, GP4K), .a = ACC(RMP_ACC_READ, 1),
	  .fault = RMP_FAULT_VC, .code = RMP_VC_NOT_VALIDATED },
	/* VMPL permissions */
	{ "vmpl1-read-none", .init_p = VP(0, 0, 0), .a = ACC(RMP_ACC_READ, 1),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_VMPL },
	{ "vmpl1-read-r", .init_p = VP(RMP_PERM_R, 0, 0), .a = ACC(RMP_ACC_READ, 1) },
	{ "vmpl1-write-r-only", .init_p = VP(RMP_PERM_R, 0, 0), .a = ACC(RMP_ACC_WRITE, 1),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_W | RMP_NPF_VMPL },
	{ "vmpl1-write-rw", .init_p = VP(RMP_PERM_R | RMP_PERM_W, 0, 0), .a = ACC(RMP_ACC_WRITE, 1) },
	{ "vmpl2-uses-own-mask", .init_p = VP(RMP_PERM_ALL, 0, RMP_PERM_ALL),
	  .a = ACC(RMP_ACC_READ, 2), .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_VMPL },
	{ "vmpl2-fetch-sup-needs-xs", .init_p = VP(0, RMP_PERM_R | RMP_PERM_XU, 0),
	  .a = ACC(RMP_ACC_FETCH_SUP, 2), .fault = RMP_FAULT_NPF,
	  .code = NPF_PRIV | RMP_NPF_ID | RMP_NPF_VMPL },
	{ "vmpl2-fetch-sup-xs", .init_p = VP(0, RMP_PERM_XS, 0), .a = ACC(RMP_ACC_FETCH_SUP, 2) },
	{ "vmpl3-fetch-user-xu", .init_p = VP(0, 0, RMP_PERM_XU), .a = ACC(RMP_ACC_FETCH_USER, 3) },
	{ "vmpl3-fetch-user-xs-only", .init_p = VP(0, 0, RMP_PERM_XS), .a = ACC(RMP_ACC_FETCH_USER, 3),
	  .fault = RMP_FAULT_NPF, .code = NPF_PRIV | RMP_NPF_ID | RMP_NPF_U | RMP_NPF_VMPL },
	{ "vmpl1-ptread-needs-r", .init_p = VP(RMP_PERM_XS, 0, 0), .a = ACC(RMP_ACC_PT_READ, 1),
	  .fault = RMP_FAULT_NPF,
	  .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_PAGE | RMP_NPF_VMPL },
	{ "vmpl0-no-mask-needed", .init_p = VP(0, 0, 0), .a = ACC(RMP_ACC_FETCH_USER, 0) },
	/* shared (C=0) */
	{ "shared-read-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_READ, 0), .c0 = 1 },
	{ "shared-write-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_WRITE, 0), .c0 = 1,
	  .fault = RMP_FAULT_NPF, .code = NPF_SHARED | RMP_NPF_W },
	{ "shared-write-under-2m-entry", .init_b = GUEST2M(3, 0), .a = ACC(RMP_ACC_WRITE, 0),
	  .c0 = 1, .fault = RMP_FAULT_NPF, .code = NPF_SHARED | RMP_NPF_W },
	{ "shared-write-hv-page", .a = ACC(RMP_ACC_WRITE, 0), .c0 = 1 },
	{ "shared-write-hv-2m-map", .init_p = GUEST(1, GP4K), .a = { .kind = RMP_ACC_WRITE,
	  .spa = B2M + 0x5000, .gpa = 0x5000, .map_size = SIM_SZ_2M }, .c0 = 1 },
	{ "shared-write-not-covered", .a = { .kind = RMP_ACC_WRITE, .spa = NOCOVER }, .c0 = 1 },
	{ "shared-user-write", .init_p = GUESTV(1, GP4K),
	  .a = { .kind = RMP_ACC_WRITE, .user = 1 }, .c0 = 1, .fault = RMP_FAULT_NPF,
	  .code = NPF_SHARED | RMP_NPF_W | RMP_NPF_U },
	/* always private: fetches and guest page-table walks */
	{ "fetch-c0-is-private", .a = ACC(RMP_ACC_FETCH_SUP, 0), .c0 = 1, .fault = RMP_FAULT_NPF,
	  .code = NPF_PRIV | RMP_NPF_ID },
	{ "ptread-c0-is-private", .a = ACC(RMP_ACC_PT_READ, 0), .c0 = 1, .fault = RMP_FAULT_NPF,
	  .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_PAGE },
	{ "ptwrite-private-ok", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_PT_WRITE, 0), .c0 = 1 },
	{ "ptwrite-not-validated", .init_p = GUEST(1, GP4K), .a = ACC(RMP_ACC_PT_WRITE, 0),
	  .fault = RMP_FAULT_VC, .code = RMP_VC_NOT_VALIDATED },
	{ "ptwrite-wrong-owner", .init_p = GUESTV(2, GP4K), .a = ACC(RMP_ACC_PT_WRITE, 0),
	  .fault = RMP_FAULT_NPF,
	  .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_PAGE | RMP_NPF_W },
	/* non-SNP guests: writes and page-table accesses must be hypervisor-owned
	   (APM Table 15-39, "Guest, not SNP-active: data write, page table access") */
	{ "nonsnp-write-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_WRITE, 0),
	  .nosnp = 1, .fault = RMP_FAULT_NPF, .code = NPF_SHARED | RMP_NPF_W },
	{ "nonsnp-read-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_READ, 0), .nosnp = 1 },
	{ "nonsnp-fetch-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_FETCH_SUP, 0),
	  .nosnp = 1 },
	{ "nonsnp-write-hv-page", .a = ACC(RMP_ACC_WRITE, 0), .nosnp = 1 },
	{ "nonsnp-ptread-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_PT_READ, 0),
	  .nosnp = 1, .fault = RMP_FAULT_NPF, .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_PAGE },
	{ "nonsnp-ptwrite-guest-page", .init_p = GUESTV(1, GP4K), .a = ACC(RMP_ACC_PT_WRITE, 0),
	  .nosnp = 1, .fault = RMP_FAULT_NPF,
	  .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_PAGE | RMP_NPF_W },
	{ "nonsnp-ptread-firmware", .init_p = FIRMWARE, .a = ACC(RMP_ACC_PT_READ, 0), .nosnp = 1,
	  .fault = RMP_FAULT_NPF, .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_PAGE },
	{ "nonsnp-ptread-under-2m-entry", .init_b = GUEST2M(3, 0), .a = ACC(RMP_ACC_PT_READ, 0),
	  .nosnp = 1, .fault = RMP_FAULT_NPF, .code = RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_PAGE },
	{ "nonsnp-ptread-hv-page", .a = ACC(RMP_ACC_PT_READ, 0), .nosnp = 1 },
	{ "nonsnp-ptwrite-hv-page", .a = ACC(RMP_ACC_PT_WRITE, 0), .nosnp = 1 },
	{ "nonsnp-ptread-not-covered", .a = { .kind = RMP_ACC_PT_READ, .spa = NOCOVER }, .nosnp = 1 },
};

ParameterizedTestParameters(rmp_check, guest)
{
	return cr_make_param_array(struct gcase, gcases, sizeof(gcases) / sizeof(gcases[0]));
}

ParameterizedTest(struct gcase *c, rmp_check, guest)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_gaccess a = c->a;
	struct rmp_fault f;
	enum rmp_fault_kind k;

	put_region(r, c->init_b, c->init_p);
	a.asid = a.asid ? a.asid : 1;
	a.gpa = a.gpa ? a.gpa : GP4K;
	a.spa = a.spa ? a.spa : P4K;
	a.map_size = a.map_size ? a.map_size : SIM_SZ_4K;
	a.c_bit = !c->c0;
	a.snp = !c->nosnp;
	k = rmp_check_guest(r, &w, &a, &f);
	cr_assert_eq(k, c->fault, "%s: fault %d want %d", c->name, k, c->fault);
	cr_assert_eq(f.kind, k, "%s", c->name);
	cr_assert_eq(f.code, c->code, "%s: code 0x%llx want 0x%llx", c->name,
		     (unsigned long long)f.code, (unsigned long long)c->code);
	cr_assert_eq(f.addr, k ? a.gpa : 0, "%s: EXITINFO2", c->name);
	cr_assert_not(f.spurious, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->faults_npf, k == RMP_FAULT_NPF, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->faults_vc, k == RMP_FAULT_VC, "%s", c->name);
	assert_stored(r, B2M, c->init_b, c->name);
	assert_stored(r, P4K, raw_sub(c->init_b, c->init_p), c->name);
	rmp_test_free(r, m);
}

/* ---- host ---- */

struct hcase {
	char name[40];
	struct tent init_b, init_p;
	uint64_t spa;
	bool write;
	unsigned pt;           /* 1: page-table read, 2: page-table A/D write (then @write unused) */
	uint64_t map;
	enum rmp_fault_kind fault;
	uint32_t reads;        /* entry reads the check makes */
};

static struct hcase hcases[] = {
	{ "write-4k-hv", .spa = P4K, .write = 1, .map = SIM_SZ_4K, .reads = 2 },
	{ "write-4k-guest", .init_p = GUESTV(1, GP4K), .spa = P4K, .write = 1, .map = SIM_SZ_4K,
	  .fault = RMP_FAULT_PF, .reads = 1 },
	{ "write-4k-firmware", .init_p = FIRMWARE, .spa = P4K, .write = 1, .map = SIM_SZ_4K,
	  .fault = RMP_FAULT_PF, .reads = 1 },
	{ "write-4k-under-2m-entry", .init_b = GUEST2M(1, G2M), .spa = P4K, .write = 1,
	  .map = SIM_SZ_4K, .fault = RMP_FAULT_PF, .reads = 2 },
	{ "write-4k-hv-beside-guest", .init_b = GUEST(1, G2M), .spa = P4K, .write = 1,
	  .map = SIM_SZ_4K, .reads = 2 },
	{ "read-guest-not-checked", .init_p = GUESTV(1, GP4K), .spa = P4K, .write = 0,
	  .map = SIM_SZ_4K, .reads = 0 },
	{ "read-2m-guest-not-checked", .init_b = GUEST2M(1, G2M), .spa = P4K, .write = 0,
	  .map = SIM_SZ_2M, .reads = 0 },
	{ "write-not-covered", .spa = NOCOVER, .write = 1, .map = SIM_SZ_4K, .reads = 0 },
	{ "write-2m-all-hv", .spa = P4K, .write = 1, .map = SIM_SZ_2M, .reads = 1 },
	{ "write-2m-other-page-assigned", .init_p = GUEST(1, GP4K), .spa = B2M + 0x7000,
	  .write = 1, .map = SIM_SZ_2M, .fault = RMP_FAULT_PF, .reads = 1 },
	{ "write-2m-base-assigned-4k", .init_b = GUEST(1, G2M), .spa = P4K, .write = 1,
	  .map = SIM_SZ_2M, .fault = RMP_FAULT_PF, .reads = 1 },
	{ "write-2m-region-2m-entry", .init_b = GUEST2M(1, G2M), .spa = B2M + 0x1ff000,
	  .write = 1, .map = SIM_SZ_2M, .fault = RMP_FAULT_PF, .reads = 1 },
	{ "write-1g-is-2m", .init_p = GUEST(1, GP4K), .spa = B2M + 0x7000, .write = 1,
	  .map = SIM_SZ_1G, .fault = RMP_FAULT_PF, .reads = 1 },
	{ "write-1g-next-region-ok", .init_p = GUEST(1, GP4K), .spa = B2M + SIM_SZ_2M, .write = 1,
	  .map = SIM_SZ_1G, .reads = 1 },
	{ "write-2m-not-covered", .spa = NOCOVER + 0x3000, .write = 1, .map = SIM_SZ_2M, .reads = 0 },
	/* the host's own page-table accesses (APM Table 15-39): the 4K table page */
	{ "ptread-hv", .spa = P4K, .pt = 1, .map = SIM_SZ_4K, .reads = 2 },
	{ "ptread-guest", .init_p = GUESTV(1, GP4K), .spa = P4K + 0x18, .pt = 1, .map = SIM_SZ_4K,
	  .fault = RMP_FAULT_PF, .reads = 1 },
	{ "ptwrite-guest", .init_p = GUESTV(1, GP4K), .spa = P4K + 0x18, .pt = 2, .map = SIM_SZ_4K,
	  .fault = RMP_FAULT_PF, .reads = 1 },
	{ "ptread-firmware", .init_p = FIRMWARE, .spa = P4K, .pt = 1, .map = SIM_SZ_4K,
	  .fault = RMP_FAULT_PF, .reads = 1 },
	{ "ptread-under-2m-entry", .init_b = GUEST2M(1, G2M), .spa = P4K, .pt = 1, .map = SIM_SZ_4K,
	  .fault = RMP_FAULT_PF, .reads = 2 },
	{ "ptwrite-hv-beside-guest", .init_b = GUEST(1, G2M), .spa = P4K, .pt = 2, .map = SIM_SZ_4K,
	  .reads = 2 },
	{ "ptread-ignores-map", .init_b = GUEST(1, G2M), .spa = P4K, .pt = 1, .map = SIM_SZ_2M,
	  .reads = 2 },
	{ "ptread-not-covered", .spa = NOCOVER, .pt = 1, .map = SIM_SZ_4K, .reads = 0 },
};

ParameterizedTestParameters(rmp_check, host)
{
	return cr_make_param_array(struct hcase, hcases, sizeof(hcases) / sizeof(hcases[0]));
}

ParameterizedTest(struct hcase *c, rmp_check, host)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_fault f;
	enum rmp_fault_kind k;

	put_region(r, c->init_b, c->init_p);
	if (c->pt)
		k = rmp_check_host_access(r, &w, c->spa, c->pt == 1 ? RMP_HOST_PT_READ
								      : RMP_HOST_PT_WRITE, c->map, &f);
	else
		k = rmp_check_host(r, &w, c->spa, c->write, c->map, &f);
	cr_assert_eq(k, c->fault, "%s: fault %d want %d", c->name, k, c->fault);
	cr_assert_eq(f.code, !k ? 0 : c->pt == 1 ? (RMP_PF_P | RMP_PF_RMP) : PF_RMP,
		     "%s: error code", c->name);
	cr_assert_eq(f.addr, k ? c->spa : 0, "%s", c->name);
	cr_assert_eq(w.mem_cycles, c->reads * MEM_LAT, "%s: %llu memory cycles", c->name,
		     (unsigned long long)w.mem_cycles);
	cr_assert_eq(rmp_counters(r)->entry_reads, c->reads, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->checks_host, c->write || c->pt, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->faults_pf, k == RMP_FAULT_PF, "%s", c->name);
	assert_stored(r, B2M, c->init_b, c->name);
	assert_stored(r, P4K, raw_sub(c->init_b, c->init_p), c->name);
	rmp_test_free(r, m);
}

/* ---- DMA ---- */

Test(rmp_check, dma)
{
	struct rmp_config cfg;
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 3);
	struct rmp_fault f;

	put(r, P4K, GUESTV(1, GP4K));
	cr_assert_eq(rmp_check_dma(r, &w, B2M + 0x9000, true, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_check_dma(r, &w, P4K + 0x40, true, &f), RMP_FAULT_IOMMU);
	cr_assert_eq(f.addr, P4K + 0x40);
	cr_assert_eq(f.code, RMP_PF_W);
	cr_assert_eq(rmp_check_dma(r, &w, P4K, false, &f), RMP_FAULT_NONE, "reads not checked");
	cr_assert_eq(rmp_check_dma(r, &w, NOCOVER, true, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_counters(r)->checks_dma, 3);
	cr_assert_eq(rmp_counters(r)->faults_iommu, 1);
	rmp_test_free(r, m);

	rmp_config_default(&cfg);
	cfg.iommu_check_reads = true;
	r = rmp_test_new(&m, &cfg);
	put(r, P4K, GUESTV(1, GP4K));
	cr_assert_eq(rmp_check_dma(r, &w, P4K, false, &f), RMP_FAULT_IOMMU);
	cr_assert_eq(f.code, 0);
	cr_assert_eq(rmp_check_dma(r, &w, B2M, false, &f), RMP_FAULT_NONE);
	rmp_test_free(r, m);
}
