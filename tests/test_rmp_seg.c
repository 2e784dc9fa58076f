/*
 * test_rmp_seg.c - table geometry: the segmented RMP (RST at RMP_BASE +
 * 16 KiB, per-segment tables, not-covered segments, lookups across
 * segments, the timed RST read of every segmented lookup), partial
 * contiguous coverage, explicit RMP_BASE, and the module's configuration
 * (exact error texts) and statistics.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "tests/test_rmp_util.h"

#define GB (1ull << 30)

static struct rmp *seg_new(struct sim_mem **m, uint64_t mem, unsigned shift, int uncovered)
{
	struct rmp_config cfg;
	struct sim_err err = { "" };
	struct rmp *r;

	rmp_config_default(&cfg);
	cfg.mode = RMP_MODE_SEGMENTED;
	cfg.segment_shift = shift;
	if (uncovered >= 0)
		cfg.uncovered[uncovered / 64] |= 1ull << (uncovered % 64);
	*m = sim_mem_new(mem, MEM_LAT);
	r = rmp_new(*m, &cfg, &err);
	cr_assert_not_null(r, "%s", err.msg);
	return r;
}

/* 4 GiB in 1 GiB segments, segment 2 without an RMP. */
Test(rmp_seg, layout_and_rst)
{
	struct sim_mem *m;
	struct rmp *r = seg_new(&m, 4 * GB, 30, 2);
	uint64_t base = rmp_base(r), a;

	/* 1 MiB (bookkeeping + RST) + 3 covered segments x 4 MiB, at the top. */
	cr_assert_eq(base, 4 * GB - (1ull << 20) - 3 * (4ull << 20));
	cr_assert_eq(rmp_end(r), 4 * GB - 1);
	/* RST entries: segment RMP address | mapped GB. */
	cr_assert_eq(sim_mem_peek64(m, base + 0x4000 + 0 * 8), (base + (1ull << 20)) | 1);
	cr_assert_eq(sim_mem_peek64(m, base + 0x4000 + 1 * 8), (base + (5ull << 20)) | 1);
	cr_assert_eq(sim_mem_peek64(m, base + 0x4000 + 2 * 8), 0, "not covered: RST entry 0");
	cr_assert_eq(sim_mem_peek64(m, base + 0x4000 + 3 * 8), (base + (9ull << 20)) | 1);
	cr_assert_eq(sim_mem_peek64(m, base + 0x4000 + 4 * 8), 0);
	/* Entry addresses per segment. */
	cr_assert(rmp_entry_addr(r, 0x5000, &a));
	cr_assert_eq(a, base + (1ull << 20) + 5 * 16);
	cr_assert(rmp_entry_addr(r, GB + 0x7000, &a));
	cr_assert_eq(a, base + (5ull << 20) + 7 * 16);
	cr_assert(rmp_entry_addr(r, 3 * GB + 0x1000, &a));
	cr_assert_eq(a, base + (9ull << 20) + 16);
	cr_assert_not(rmp_entry_addr(r, 2 * GB + 0x1000, &a));
	cr_assert_not(rmp_is_covered(r, 2 * GB));
	cr_assert_not(rmp_is_covered(r, 4 * GB), "beyond the last segment");
	cr_assert(rmp_is_covered(r, 2 * GB - 1));
	cr_assert(rmp_is_covered(r, 3 * GB));
	rmp_test_free(r, m);
}

Test(rmp_seg, instructions_across_segments)
{
	struct sim_mem *m;
	struct rmp *r = seg_new(&m, 4 * GB, 30, 2);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_fault f;
	struct rmp_update_in in = { .gpa = 0x200000, .assigned = 1, .page_2m = 1, .asid = 3 };
	struct rmp_gpage pg = { 3, 0, 0x201000, GB + 0x201000, SIM_SZ_4K };
	struct rmp_gaccess ga = { .asid = 3, .gpa = 0x5000, .spa = 2 * GB + 0x5000,
				  .kind = RMP_ACC_READ, .c_bit = 1, .snp = 1, .map_size = SIM_SZ_4K };
	uint64_t a;

	/* A 2M entry in segment 1; PSMASH; PVALIDATE a page of it. */
	cr_assert_eq(rmp_update(r, &w, GB + 0x200000, &in, &res), RMP_RC_SUCCESS);
	cr_assert(rmp_entry_addr(r, GB + 0x200000, &a));
	cr_assert_eq(sim_mem_peek64(m, a), 0x200000ull | 3 | (3ull << 51), "raw lo quadword");
	cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_FAULT);
	cr_assert(res.fault.code & RMP_NPF_SIZEM);
	cr_assert_eq(rmp_psmash(r, &w, GB + 0x200000, &res), RMP_RC_SUCCESS);
	cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_SUCCESS);
	assert_stored(r, GB + 0x201000, GUESTV(3, 0x201000), "segment 1");
	/* The same offset in segment 0 and 3 is untouched. */
	assert_stored(r, 0x201000, HV, "segment 0");
	assert_stored(r, 3 * GB + 0x201000, HV, "segment 3");
	/* Not-covered segment: hypervisor-owned forever. */
	in.page_2m = 0;
	in.gpa = 0x5000;
	cr_assert_eq(rmp_update(r, &w, 2 * GB + 0x5000, &in, &res), RMP_RC_FAIL_INPUT);
	cr_assert_eq(rmp_check_host(r, &w, 2 * GB + 0x5000, true, SIM_SZ_2M, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_check_guest(r, &w, &ga, &f), RMP_FAULT_NPF, "private access: not covered");
	ga.c_bit = 0;
	ga.kind = RMP_ACC_WRITE;
	cr_assert_eq(rmp_check_guest(r, &w, &ga, &f), RMP_FAULT_NONE, "shared write: HV-owned");
	cr_assert_eq(rmp_psmash(r, &w, 2 * GB, &res), RMP_RC_FAIL_INPUT);
	/* Segment 3 works. */
	cr_assert_eq(rmp_update(r, &w, 3 * GB + 0x5000, &in, &res), RMP_RC_SUCCESS);
	assert_stored(r, 3 * GB + 0x5000, GUEST(3, 0x5000), "segment 3");
	/* The table is firmware-owned in segment 3. */
	assert_stored(r, rmp_base(r), FIRMWARE, "RST page");
	rmp_test_free(r, m);
}

/*
 * The segmented lookup reads the RST entry of the segment through memory
 * before any RMP entry: each timed operation below costs exactly one more
 * memory access (and one rmp.rst_reads) than on a contiguous table of the
 * same memory, whatever it reads and writes otherwise; an operation that
 * reads no RMP entry (a host read, a failed input check) reads no RST
 * entry either, and an SPA of a segment without an RMP still costs the
 * RST read that tells so.  Contiguous tables have no RST.
 */
enum rst_op { RST_GUEST4K, RST_GUEST2M, RST_HOST4K, RST_HOST2M, RST_HOSTREAD, RST_HOSTPT,
	      RST_DMA, RST_UPDATE, RST_UPDATE_BAD, RST_PSMASH, RST_READ, RST_PVALIDATE,
	      RST_UNCOVERED };

struct rst_case {
	char name[24];
	enum rst_op op;
	unsigned mem;      /* memory accesses on a contiguous table */
	unsigned smem;     /* on a segmented one, the RST read included */
	unsigned rst;      /* RST reads on a segmented one */
};

static struct rst_case rst_cases[] = {
	{ "guest-4k", RST_GUEST4K, 1, 2, 1 },
	{ "guest-2m-sub-page", RST_GUEST2M, 2, 3, 1 },
	{ "host-write-4k", RST_HOST4K, 2, 3, 1 },
	{ "host-write-2m", RST_HOST2M, 1, 2, 1 },
	{ "host-read", RST_HOSTREAD, 0, 0, 0 },
	{ "host-ptread", RST_HOSTPT, 1, 2, 1 },
	{ "dma-write", RST_DMA, 2, 3, 1 },
	{ "rmpupdate", RST_UPDATE, 4, 5, 1 },
	{ "rmpupdate-bad-input", RST_UPDATE_BAD, 0, 0, 0 },
	{ "psmash", RST_PSMASH, 2, 3, 1 },
	{ "rmpread", RST_READ, 2, 3, 1 },
	{ "pvalidate", RST_PVALIDATE, 2, 3, 1 },
	/* segment 2 has no RMP on the segmented table: the RST read alone */
	{ "uncovered", RST_UNCOVERED, 2, 1, 1 },
};

#define RST_G 0x40000000ull   /* segment 1 */

/* Run @op on @r from a fresh @w: a 4K guest page at RST_G + 0x5000 and a 2M one at RST_G + 2M. */
static void rst_run(struct rmp *r, enum rst_op op, struct sim_who *w)
{
	struct rmp_result res;
	struct rmp_read_out out;
	struct rmp_fault f;
	struct rmp_update_in in = { .gpa = 0x9000, .assigned = 1, .asid = 2 };
	struct rmp_gpage pg = { 1, 0, 0x5000, RST_G + 0x5000, SIM_SZ_4K };
	struct rmp_gaccess ga = { .asid = 1, .gpa = 0x5000, .spa = RST_G + 0x5000,
				  .kind = RMP_ACC_READ, .c_bit = 1, .snp = 1, .map_size = SIM_SZ_4K };

	switch (op) {
	case RST_GUEST4K:
		cr_assert_eq(rmp_check_guest(r, w, &ga, &f), RMP_FAULT_NONE);
		break;
	case RST_GUEST2M:
		ga.gpa = 0x203000;
		ga.spa = RST_G + 0x203000;
		ga.map_size = SIM_SZ_2M;
		cr_assert_eq(rmp_check_guest(r, w, &ga, &f), RMP_FAULT_NONE);
		break;
	case RST_HOST4K:
		cr_assert_eq(rmp_check_host(r, w, RST_G + 0x7000, true, SIM_SZ_4K, &f), RMP_FAULT_NONE);
		break;
	case RST_HOST2M:
		cr_assert_eq(rmp_check_host(r, w, RST_G + 0x203000, true, SIM_SZ_2M, &f), RMP_FAULT_PF);
		break;
	case RST_HOSTREAD:
		cr_assert_eq(rmp_check_host(r, w, RST_G + 0x5000, false, SIM_SZ_4K, &f), RMP_FAULT_NONE);
		break;
	case RST_HOSTPT:
		cr_assert_eq(rmp_check_host_access(r, w, RST_G + 0x5000, RMP_HOST_PT_READ, SIM_SZ_4K, &f),
			     RMP_FAULT_PF);
		break;
	case RST_DMA:
		cr_assert_eq(rmp_check_dma(r, w, RST_G + 0x7000, true, &f), RMP_FAULT_NONE);
		break;
	case RST_UPDATE:
		cr_assert_eq(rmp_update(r, w, RST_G + 0x9000, &in, &res), RMP_RC_SUCCESS);
		break;
	case RST_UPDATE_BAD:
		cr_assert_eq(rmp_update(r, w, RST_G + 0x9008, &in, &res), RMP_RC_FAIL_INPUT);
		break;
	case RST_PSMASH:
		cr_assert_eq(rmp_psmash(r, w, RST_G + SIM_SZ_2M, &res), RMP_RC_SUCCESS);
		break;
	case RST_READ:
		cr_assert_eq(rmp_read(r, w, RST_G + 0x7000, &out, &res), RMP_RC_SUCCESS);
		break;
	case RST_PVALIDATE:
		cr_assert_eq(rmp_pvalidate(r, w, &pg, false, false, &res), RMP_RC_SUCCESS);
		break;
	case RST_UNCOVERED:
		cr_assert_eq(rmp_check_host(r, w, 2 * GB + 0x5000, true, SIM_SZ_4K, &f), RMP_FAULT_NONE);
		break;
	}
}

ParameterizedTestParameters(rmp_seg, rst_reads_are_charged)
{
	return cr_make_param_array(struct rst_case, rst_cases,
				   sizeof(rst_cases) / sizeof(rst_cases[0]));
}

ParameterizedTest(struct rst_case *c, rmp_seg, rst_reads_are_charged)
{
	for (int seg = 0; seg < 2; seg++) {
		struct rmp_config cfg;
		struct sim_err err = { "" };
		struct sim_mem *m;
		struct rmp *r;
		struct sim_who w = who_at(0, 0);
		struct rmp_entry g4 = tent_entry(&(struct tent)GUESTV(1, 0x5000));
		struct rmp_entry g2 = tent_entry(&(struct tent)GUEST2MV(1, 0x200000));

		rmp_config_default(&cfg);
		if (seg) {
			cfg.mode = RMP_MODE_SEGMENTED;
			cfg.segment_shift = 30;
			cfg.uncovered[0] = 1ull << 2;
		}
		m = sim_mem_new(4 * GB, MEM_LAT);
		r = rmp_new(m, &cfg, &err);
		cr_assert_not_null(r, "%s", err.msg);
		cr_assert_eq(rmp_fw_write(r, RST_G + 0x5000, &g4), RMP_RC_SUCCESS);
		cr_assert_eq(rmp_fw_write(r, RST_G + SIM_SZ_2M, &g2), RMP_RC_SUCCESS);
		rst_run(r, c->op, &w);
		cr_assert_eq(w.mem_cycles, (seg ? c->smem : c->mem) * MEM_LAT,
			     "%s, %s: %llu memory cycles", c->name, seg ? "segmented" : "contiguous",
			     (unsigned long long)w.mem_cycles);
		cr_assert_eq(rmp_counters(r)->rst_reads, seg ? c->rst : 0, "%s", c->name);
		rmp_free(r);
		sim_mem_free(m);
	}
}

/* A small machine: one 64 GiB segment covering 1 GiB rounded up. */
Test(rmp_seg, small_machine_default_segment)
{
	struct sim_mem *m;
	struct rmp *r = seg_new(&m, MEM_SIZE, 36, -1);

	cr_assert_eq(rmp_end(r) - rmp_base(r) + 1, (1ull << 20) + (4ull << 20));
	cr_assert(rmp_is_covered(r, GB - 1), "mapped size rounds up to 1 GB");
	cr_assert_not(rmp_is_covered(r, GB));
	cr_assert_eq(sim_mem_peek64(m, rmp_base(r) + 0x4000), (rmp_base(r) + (1ull << 20)) | 1);
	rmp_test_free(r, m);
}

Test(rmp_seg, contiguous_partial_coverage_and_base)
{
	struct rmp_config cfg;
	struct sim_err err = { "" };
	struct sim_mem *m = sim_mem_new(MEM_SIZE, MEM_LAT);
	struct rmp *r;
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_update_in in = { .gpa = 0, .assigned = 1, .asid = 1 };

	rmp_config_default(&cfg);
	cfg.coverage = 32ull << 20;
	cfg.base = 0x100000;
	r = rmp_new(m, &cfg, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_eq(rmp_base(r), 0x100000);
	cr_assert_eq(rmp_end(r), 0x100000 + 0x4000 + 8192 * 16 - 1);
	cr_assert(rmp_is_covered(r, (32ull << 20) - 1));
	cr_assert_not(rmp_is_covered(r, 32ull << 20));
	cr_assert_eq(rmp_update(r, &w, 32ull << 20, &in, &res), RMP_RC_FAIL_INPUT);
	cr_assert_eq(rmp_update(r, &w, 0x100000, &in, &res), RMP_RC_FAIL_PERMISSION,
		     "the table at 1 MiB is firmware-owned");
	rmp_free(r);
	sim_mem_free(m);
}

struct errcase {
	enum rmp_mode mode;
	uint64_t mem, base, coverage;
	unsigned shift;
	uint32_t max_asid;
	const char *msg;
};

Test(rmp_seg, config_errors)
{
	static const struct errcase ec[] = {
		{ RMP_MODE_CONTIGUOUS, MEM_SIZE, 0x180000, 0, 36, 1023,
		  "rmp.base: 0x180000: must be 1 MiB aligned" },
		{ RMP_MODE_CONTIGUOUS, MEM_SIZE, MEM_SIZE, 0, 36, 1023,
		  "rmp.base: 0x4000000: the table (0x44000 bytes) does not fit in machine.mem (0x4000000)" },
		{ RMP_MODE_CONTIGUOUS, MEM_SIZE, RMP_NO_ADDR, 0x300000, 36, 1023,
		  "rmp.coverage: 0x300000: must be a multiple of 2m up to 2^52" },
		{ RMP_MODE_CONTIGUOUS, MEM_SIZE, RMP_NO_ADDR, 1ull << 40, 36, 1023,
		  "rmp.coverage: a table of 0x100004000 bytes does not fit in machine.mem (0x4000000)" },
		{ RMP_MODE_SEGMENTED, 1024 * GB, RMP_NO_ADDR, 0, 30, 1023,
		  "rmp.segment_size: 0x40000000: 1024 segments needed to cover machine.mem, at most 512" },
		{ RMP_MODE_SEGMENTED, MEM_SIZE, RMP_NO_ADDR, 0, 29, 1023,
		  "rmp.segment_size: 2^29: must be a power of two from 1g to 2^51" },
		{ RMP_MODE_SEGMENTED, 16ull << 20, 0xc00000, 0, 36, 1023,
		  "rmp.base: 0xc00000: the segmented table (0x500000 bytes) does not fit in "
		  "machine.mem (0x1000000)" },
		{ RMP_MODE_CONTIGUOUS, MEM_SIZE, RMP_NO_ADDR, 0, 36, 1024, "rmp.max_asid: 1024: must be 1..1023" },
	};

	for (size_t i = 0; i < sizeof(ec) / sizeof(ec[0]); i++) {
		struct rmp_config cfg;
		struct sim_err err = { "" };
		struct sim_mem *m = sim_mem_new(ec[i].mem, 1);

		rmp_config_default(&cfg);
		cfg.mode = ec[i].mode;
		cfg.base = ec[i].base;
		cfg.coverage = ec[i].coverage;
		cfg.segment_shift = ec[i].shift;
		cfg.max_asid = ec[i].max_asid;
		cr_assert_null(rmp_new(m, &cfg, &err), "case %zu", i);
		cr_assert_str_eq(err.msg, ec[i].msg, "case %zu", i);
		sim_mem_free(m);
	}
}

/* ---- the module inside a simulator ---- */

static const struct sim_module *const mods[] = { &rmp_module, NULL };

static struct sim *sim_with(const char *const *kv, struct sim_err *err, int *rc)
{
	struct sim *s = sim_new(mods);

	*rc = 0;
	for (; kv && kv[0]; kv += 2)
		if (sim_cfg_set(s, kv[0], kv[1], "test", 1, err)) {
			*rc = -1;
			return s;
		}
	*rc = sim_start(s, err);
	return s;
}

Test(rmp_seg, module_attach_and_stats)
{
	static const char *const kv[] = { "machine.mem", "64m", NULL };
	struct sim_err err = { "" };
	int rc;
	struct sim *s = sim_with(kv, &err, &rc);
	struct rmp *r;
	uint64_t v;

	cr_assert_eq(rc, 0, "%s", err.msg);
	r = sim_get_model(s, &rmp_module);
	cr_assert(rmp_enabled(r));
	cr_assert_eq(rmp_base(r), (64ull << 20) - (1ull << 20));
	cr_assert_eq(rmp_config(r)->lat.insn[RMP_INSN_RMPUPDATE], 1100, "generic profile value");
	cr_assert_eq(rmp_config(r)->lat.fail, 100);
	cr_assert_eq(rmp_config(r)->lat.vmrun, 250);
	cr_assert(rmp_config(r)->spurious_faults);
	{
		struct sim_who w = who_at(0, 0);
		struct rmp_result res;
		struct rmp_update_in in = { .gpa = 0, .assigned = 1, .asid = 1 };

		rmp_update(r, &w, 0x200000, &in, &res);
		rmp_update(r, &w, 0x200000, &in, &res);
		rmp_psmash(r, &w, 0x200000, &res);
	}
	cr_assert_eq(sim_stat_get(s, "rmp.rmpupdate.success", &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(sim_stat_get(s, "rmp.psmash.fail_badaddr", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(sim_stat_get(s, "rmp.rmpupdate.fail_overlap", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(sim_stat_get(s, "rmp.entry_reads", &v), 0);
	cr_assert_eq(v, 3, "one entry read each (the page is its own 2M base)");
	cr_assert_eq(sim_stat_get(s, "rmp.psmash.fail_overlap", &v), -1, "PSMASH's 4 is BADADDR");
	cr_assert_eq(sim_stat_get(s, "rmp.pvalidate.fail_permission", &v), -1);
	cr_assert_eq(sim_stat_get(s, "rmp.pvalidate.fail_sizemismatch", &v), 0);
	cr_assert_eq(sim_stat_get(s, "rmp.faults.npf", &v), 0);
	cr_assert_eq(sim_stat_get(s, "rmp.checks.dma", &v), 0);
	cr_assert_eq(sim_stat_get(s, "rmp.lock_conflicts", &v), 0);
	cr_assert_eq(sim_stat_get(s, "rmp.spurious_faults", &v), 0);
	sim_free(s);
}

Test(rmp_seg, module_segmented_and_off)
{
	static const char *const seg[] = { "machine.mem", "4g", "rmp.mode", "segmented",
					   "rmp.segment_size", "1g", "rmp.uncovered_segments",
					   "1, 3", NULL };
	static const char *const off[] = { "rmp.mode", "off", NULL };
	struct sim_err err = { "" };
	int rc;
	struct sim *s = sim_with(seg, &err, &rc);
	struct rmp *r;

	cr_assert_eq(rc, 0, "%s", err.msg);
	r = sim_get_model(s, &rmp_module);
	cr_assert(rmp_is_covered(r, 0));
	cr_assert_not(rmp_is_covered(r, GB));
	cr_assert(rmp_is_covered(r, 2 * GB));
	cr_assert_not(rmp_is_covered(r, 3 * GB));
	sim_free(s);

	s = sim_with(off, &err, &rc);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_not(rmp_enabled(sim_get_model(s, &rmp_module)));
	sim_free(s);
}

Test(rmp_seg, module_config_errors)
{
	static const char *const bad1[] = { "rmp.uncovered_segments", "1,x", NULL };
	static const char *const bad2[] = { "rmp.mode", "segmented", "rmp.segment_size", "3g", NULL };
	static const char *const bad3[] = { "machine.mem", "64m", "rmp.base", "0x123000", NULL };
	struct sim_err err = { "" };
	int rc;
	struct sim *s;

	/* sim_start names where each key was set (sim_cfg_error_locate) */
	s = sim_with(bad1, &err, &rc);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err.msg, "test:1: rmp.uncovered_segments: 'x': not a segment index 0..511");
	sim_free(s);
	s = sim_with(bad2, &err, &rc);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err.msg, "test:1: rmp.segment_size: 0xc0000000: must be a power of two");
	sim_free(s);
	s = sim_with(bad3, &err, &rc);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err.msg, "test:1: rmp.base: 0x123000: must be 1 MiB aligned");
	sim_free(s);
}
