/*
 * test_rmp_race.c - entry locks (windows exact to the cycle, granularity:
 * FAIL_INUSE vs FAIL_OVERLAP), spurious faults, VMRUN checks, in-use pages
 * (FAIL_INUSE until #VMEXIT), the 2M-base erratum, and counters.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "tests/test_rmp_util.h"

#define T0 10000ull

/* 4K RMPUPDATE at T0 by agent 0: returns its lock window length. */
static uint64_t update_4k_at(struct rmp *r, uint64_t spa, int agent, uint64_t now)
{
	struct sim_who w = who_at(now, agent);
	struct rmp_result res;
	struct rmp_update_in in = { .gpa = GP4K, .assigned = 1, .asid = 1 };

	cr_assert_eq(rmp_update(r, &w, spa, &in, &res), RMP_RC_SUCCESS);
	return res.latency + w.mem_cycles;
}

/* RMPUPDATE vs PVALIDATE on one page: refused exactly inside [T0, T0 + window). */
Test(rmp_race, update_vs_pvalidate_window)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	uint64_t win = update_4k_at(r, P4K, 0, T0);
	struct rmp_gpage pg = { 1, 0, GP4K, P4K, SIM_SZ_4K };
	struct rmp_result res;
	struct sim_who w;

	cr_assert_eq(win, 1100 + 4 * MEM_LAT);
	w = who_at(T0 + win - 1, 1);
	cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_FAIL_INUSE);
	cr_assert_eq(res.latency, 100);
	assert_stored(r, P4K, GUEST(1, GP4K), "after refused pvalidate");
	w = who_at(T0, 1);
	cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_FAIL_INUSE, "tie");
	/* The holder itself is not refused by its own lock. */
	w = who_at(T0 + 5, 0);
	cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_SUCCESS);
	cr_assert_eq(rmp_counters(r)->lock_conflicts, 2);
	cr_assert_eq(rmp_counters(r)->insn[RMP_INSN_PVALIDATE][RMP_RC_FAIL_INUSE], 2);
	rmp_test_free(r, m);
}

Test(rmp_race, update_then_pvalidate_after_window)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	uint64_t win = update_4k_at(r, P4K, 0, T0);
	struct rmp_gpage pg = { 1, 0, GP4K, P4K, SIM_SZ_4K };
	struct rmp_result res;
	struct sim_who w = who_at(T0 + win, 1);

	cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_SUCCESS);
	cr_assert(res.changed);
	assert_stored(r, P4K, GUESTV(1, GP4K), "validated");
	/* And PVALIDATE now holds the lock: RMPUPDATE by agent 0 is refused. */
	{
		struct sim_who w0 = who_at(T0 + win + 1, 0);
		struct rmp_update_in in = { 0 };

		cr_assert_eq(rmp_update(r, &w0, P4K, &in, &res), RMP_RC_FAIL_INUSE);
		assert_stored(r, P4K, GUESTV(1, GP4K), "still validated");
	}
	rmp_test_free(r, m);
}

/* Lock granularity (§2.9): same granularity FAIL_INUSE, other FAIL_OVERLAP. */
struct lcase {
	char name[40];
	bool first_2m;         /* first op: 2M RMPUPDATE on B2M (else 4K on P4K) */
	int second;            /* 0: 4K RMPUPDATE P4K, 1: 4K RMPUPDATE other page, 2: 2M RMPUPDATE, 3: PSMASH */
	enum rmp_rc rc;
};

static struct lcase lcases[] = {
	{ "4k-then-4k-same-page", 0, 0, RMP_RC_FAIL_INUSE },
	{ "4k-then-4k-other-page", 0, 1, RMP_RC_SUCCESS },
	{ "4k-then-2m", 0, 2, RMP_RC_FAIL_OVERLAP },
	{ "4k-then-psmash", 0, 3, RMP_RC_FAIL_INUSE },
	{ "2m-then-4k", 1, 0, RMP_RC_FAIL_OVERLAP },
	{ "2m-then-4k-other-page", 1, 1, RMP_RC_FAIL_OVERLAP },
	{ "2m-then-2m", 1, 2, RMP_RC_FAIL_INUSE },
	{ "2m-then-psmash", 1, 3, RMP_RC_FAIL_INUSE },
};

ParameterizedTestParameters(rmp_race, granularity)
{
	return cr_make_param_array(struct lcase, lcases, sizeof(lcases) / sizeof(lcases[0]));
}

ParameterizedTest(struct lcase *c, rmp_race, granularity)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w0 = who_at(T0, 0), w1 = who_at(T0 + 50, 1);
	struct rmp_result res;
	struct rmp_update_in sh2m = { .page_2m = 1 };
	struct rmp_update_in sh4k = { 0 };
	enum rmp_rc rc = RMP_RC_SUCCESS;

	/* The first op makes the region hypervisor-owned at its granularity. */
	if (c->first_2m)
		cr_assert_eq(rmp_update(r, &w0, B2M, &sh2m, &res), RMP_RC_SUCCESS);
	else
		cr_assert_eq(rmp_update(r, &w0, P4K, &sh4k, &res), RMP_RC_SUCCESS);
	switch (c->second) {
	case 0: rc = rmp_update(r, &w1, P4K, &sh4k, &res); break;
	case 1: rc = rmp_update(r, &w1, B2M + 0x9000, &sh4k, &res); break;
	case 2: rc = rmp_update(r, &w1, B2M, &sh2m, &res); break;
	case 3: rc = rmp_psmash(r, &w1, B2M, &res); break;
	}
	if (c->second == 3 && c->rc != RMP_RC_SUCCESS)
		cr_assert_eq(rc, c->rc, "%s: %s", c->name, rmp_rc_name(RMP_INSN_PSMASH, rc));
	else
		cr_assert_eq(rc, c->rc, "%s: %s", c->name, rmp_rc_name(RMP_INSN_RMPUPDATE, rc));
	cr_assert_eq(rmp_counters(r)->lock_conflicts, c->rc != RMP_RC_SUCCESS, "%s", c->name);
	rmp_test_free(r, m);
}

/* PSMASH vs RMPUPDATE: the 2M lock of PSMASH refuses a 4K update with FAIL_OVERLAP. */
Test(rmp_race, psmash_vs_update)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w0 = who_at(T0, 0), w1;
	struct rmp_result res;
	struct rmp_update_in sh = { 0 };
	uint64_t win;

	put(r, B2M, GUEST2MV(1, G2M));
	cr_assert_eq(rmp_psmash(r, &w0, B2M, &res), RMP_RC_SUCCESS);
	win = res.latency + w0.mem_cycles;
	cr_assert_eq(win, 5000 + 2 * MEM_LAT);
	w1 = who_at(T0 + win - 1, 1);
	cr_assert_eq(rmp_update(r, &w1, P4K, &sh, &res), RMP_RC_FAIL_OVERLAP);
	assert_stored(r, P4K, GUESTV(1, GP4K), "smashed, not updated");
	w1 = who_at(T0 + win, 1);
	cr_assert_eq(rmp_update(r, &w1, P4K, &sh, &res), RMP_RC_SUCCESS);
	assert_stored(r, P4K, HV, "updated after the window");
	rmp_test_free(r, m);
}

/* Spurious faults on accesses inside a lock window (on by default, optional). */
Test(rmp_race, spurious_faults)
{
	struct rmp_config cfg;
	struct sim_mem *m;
	struct rmp *r;
	struct rmp_fault f;
	struct rmp_gaccess ga = { .asid = 1, .gpa = GP4K, .spa = P4K, .kind = RMP_ACC_WRITE,
				  .c_bit = 1, .snp = 1, .map_size = SIM_SZ_4K };
	struct sim_who w;
	uint64_t win;

	for (int on = 0; on < 2; on++) {
		rmp_config_default(&cfg);
		cfg.spurious_faults = on;
		r = rmp_test_new(&m, &cfg);
		put(r, P4K, GUESTV(1, GP4K));
		/* Agent 0 changes another page of the region at 2M granularity? No: 4K on P4K. */
		{
			struct sim_who w0 = who_at(T0, 0);
			struct rmp_result res;
			struct rmp_gpage pg = { 1, 0, GP4K, P4K, SIM_SZ_4K };

			cr_assert_eq(rmp_pvalidate(r, &w0, &pg, false, true, &res), RMP_RC_SUCCESS);
			win = res.latency + w0.mem_cycles;
		}
		w = who_at(T0 + 1, 1);
		cr_assert_eq(rmp_check_guest(r, &w, &ga, &f), on ? RMP_FAULT_NPF : RMP_FAULT_NONE);
		cr_assert_eq(f.spurious, on);
		cr_assert_eq(f.code, on ? RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL | RMP_NPF_W : 0);
		/* Host 2M write over the region also hits the lock (the page is guest: real fault). */
		cr_assert_eq(rmp_check_host(r, &w, B2M + 0x8000, true, SIM_SZ_2M, &f), RMP_FAULT_PF);
		cr_assert_not(f.spurious, "a real fault is not called spurious");
		w = who_at(T0 + win, 1);
		cr_assert_eq(rmp_check_guest(r, &w, &ga, &f), RMP_FAULT_NONE);
		cr_assert_eq(rmp_counters(r)->spurious_faults, (uint64_t)on);
		rmp_test_free(r, m);
	}
}

Test(rmp_race, spurious_host_write)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w0 = who_at(T0, 0), w1 = who_at(T0 + 10, 1);
	struct rmp_result res;
	struct rmp_update_in sh = { 0 };
	struct rmp_fault f;

	cr_assert_eq(rmp_update(r, &w0, P4K, &sh, &res), RMP_RC_SUCCESS, "shared -> shared");
	cr_assert_eq(rmp_check_host(r, &w1, P4K, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	cr_assert(f.spurious);
	cr_assert_eq(rmp_check_host(r, &w1, B2M + 0x5000, true, SIM_SZ_2M, &f), RMP_FAULT_PF);
	cr_assert(f.spurious);
	cr_assert_eq(rmp_check_host(r, &w1, B2M + 0x5000, true, SIM_SZ_4K, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_check_host(r, &w1, P4K, false, SIM_SZ_4K, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_check_host(r, &w0, P4K, true, SIM_SZ_4K, &f), RMP_FAULT_NONE, "own lock");
	cr_assert_eq(rmp_counters(r)->spurious_faults, 2);
	rmp_test_free(r, m);
}

/* ---- VMRUN / in-use ---- */

#define VMCB  0x5000ull
#define VMSA  (P4K)
#define AVIC  0x6000ull

static void make_vmsa(struct rmp *r)
{
	put(r, VMSA, ((struct tent){ .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K }));
}

struct vcase {
	char name[40];
	struct tent vmsa_ent;       /* entry of VMSA */
	struct tent vmcb_ent;       /* entry of VMCB */
	struct tent avic_ent;       /* entry of AVIC */
	struct rmp_vmrun_in in;     /* zero: asid 1, VMCB, VMSA, gpa GP4K, AVIC */
	enum rmp_fault_kind fault;
};

#define VMSA_OK { .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K }

static struct vcase vcases[] = {
	{ "ok", VMSA_OK, HV, HV, { 0 }, RMP_FAULT_NONE },
	{ "vmcb-assigned", VMSA_OK, GUEST(1, 0), HV, { 0 }, RMP_FAULT_GP },
	{ "vmcb-firmware", VMSA_OK, FIRMWARE, HV, { 0 }, RMP_FAULT_GP },
	{ "vmcb-misaligned", VMSA_OK, HV, HV, { .vmcb = VMCB + 8 }, RMP_FAULT_GP },
	/* the AVIC backing page: VMEXIT_INVALID, not #GP (APM Table 15-41) */
	{ "avic-assigned", VMSA_OK, HV, GUEST(1, 0), { 0 }, RMP_FAULT_VMEXIT_INVALID },
	{ "avic-firmware", VMSA_OK, HV, FIRMWARE, { 0 }, RMP_FAULT_VMEXIT_INVALID },
	{ "avic-misaligned", VMSA_OK, HV, HV, { .avic = AVIC + 8 }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmcb-before-avic", VMSA_OK, GUEST(1, 0), GUEST(1, 0x1000), { 0 }, RMP_FAULT_GP },
	{ "asid-zero", VMSA_OK, HV, HV, { .asid = 0xffffffffu }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-hv-owned", HV, HV, HV, { 0 }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-wrong-asid", VMSA_OK, HV, HV, { .asid = 2 }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-wrong-gpa", VMSA_OK, HV, HV, { .vmsa_gpa = 0x1000 }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-immutable", { .a = 1, .imm = 1, .vmsa = 1, .asid = 1, .gpa = GP4K }, HV, HV, { 0 },
	  RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-bit-clear", GUESTV(1, GP4K), HV, HV, { 0 }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-misaligned", VMSA_OK, HV, HV, { .vmsa = VMSA + 0x10 }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-not-covered", VMSA_OK, HV, HV, { .vmsa = NOCOVER }, RMP_FAULT_VMEXIT_INVALID },
	{ "vmsa-unvalidated-ok", { .a = 1, .vmsa = 1, .asid = 1, .gpa = GP4K }, HV, HV, { 0 },
	  RMP_FAULT_NONE },
};

ParameterizedTestParameters(rmp_race, vmrun_checks)
{
	return cr_make_param_array(struct vcase, vcases, sizeof(vcases) / sizeof(vcases[0]));
}

ParameterizedTest(struct vcase *c, rmp_race, vmrun_checks)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 2);
	struct rmp_vmrun_in in = { 1, VMCB, VMSA, GP4K, AVIC };
	struct rmp_fault f;
	enum rmp_fault_kind k;

	put(r, VMSA, c->vmsa_ent);
	put(r, VMCB, c->vmcb_ent);
	put(r, AVIC, c->avic_ent);
	if (c->in.asid)
		in.asid = c->in.asid == 0xffffffffu ? 0 : c->in.asid;
	if (c->in.vmcb)
		in.vmcb = c->in.vmcb;
	if (c->in.vmsa)
		in.vmsa = c->in.vmsa;
	if (c->in.vmsa_gpa)
		in.vmsa_gpa = c->in.vmsa_gpa;
	if (c->in.avic)
		in.avic = c->in.avic;
	k = rmp_vmrun(r, &w, &in, &f);
	cr_assert_eq(k, c->fault, "%s: %d want %d", c->name, k, c->fault);
	cr_assert_eq(f.kind, k, "%s", c->name);
	cr_assert_eq(rmp_in_use(r, VMSA), k ? -1 : 2, "%s", c->name);
	cr_assert_eq(rmp_in_use(r, VMCB), k ? -1 : 2, "%s", c->name);
	cr_assert_eq(rmp_in_use(r, AVIC), k ? -1 : 2, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->vmrun_ok, !k, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->vmrun_gp, k == RMP_FAULT_GP, "%s", c->name);
	cr_assert_eq(rmp_counters(r)->vmrun_invalid, k == RMP_FAULT_VMEXIT_INVALID, "%s", c->name);
	assert_stored(r, VMSA, c->vmsa_ent, c->name);
	assert_stored(r, VMCB, c->vmcb_ent, c->name);
	assert_stored(r, AVIC, c->avic_ent, c->name);
	rmp_test_free(r, m);
}

/* RMPUPDATE / PSMASH / RMPADJUST on a running VMSA: FAIL_INUSE until #VMEXIT. */
Test(rmp_race, inuse_until_vmexit)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who cpu1 = who_at(T0, 1), cpu0 = who_at(T0 + 100000, 0);
	struct rmp_vmrun_in in = { 1, VMCB, VMSA, RMP_NO_ADDR, RMP_NO_ADDR };
	struct rmp_update_in sh = { 0 }, sh2m = { .page_2m = 1 };
	struct rmp_gpage pg = { 1, 0, GP4K, VMSA, SIM_SZ_4K };
	struct rmp_result res;
	struct rmp_fault f;

	make_vmsa(r);
	cr_assert_eq(rmp_vmrun(r, &cpu1, &in, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_vmrun(r, &cpu1, &in, &f), RMP_FAULT_GP, "already in guest mode");
	cr_assert_eq(rmp_update(r, &cpu0, VMSA, &sh, &res), RMP_RC_FAIL_INUSE);
	cr_assert_eq(rmp_update(r, &cpu0, VMCB, &sh, &res), RMP_RC_FAIL_INUSE, "VMCB in use too");
	cr_assert_eq(rmp_update(r, &cpu0, B2M, &sh2m, &res), RMP_RC_FAIL_INUSE);
	cr_assert_eq(rmp_psmash(r, &cpu0, B2M, &res), RMP_RC_FAIL_INUSE);
	cr_assert_eq(rmp_adjust(r, &cpu0, &pg, false, 1, 0, false, &res), RMP_RC_FAIL_INUSE);
	cr_assert_eq(rmp_counters(r)->lock_conflicts, 0, "in use is not a lock conflict");
	/* Another agent may not run the same VMSA / VMCB. */
	{
		struct sim_who cpu3 = who_at(T0, 3);
		struct rmp_vmrun_in in2 = { 1, VMCB + 0x1000, VMSA, RMP_NO_ADDR, RMP_NO_ADDR };

		cr_assert_eq(rmp_vmrun(r, &cpu3, &in2, &f), RMP_FAULT_VMEXIT_INVALID);
		in2.vmcb = VMCB;
		cr_assert_eq(rmp_vmrun(r, &cpu3, &in2, &f), RMP_FAULT_GP);
		cr_assert_eq(rmp_vmexit(r, &cpu3), -1, "cpu3 is not in guest mode");
	}
	assert_stored(r, VMSA, ((struct tent){ .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K }),
		      "VMSA kept");
	cr_assert_eq(rmp_vmexit(r, &cpu1), 0);
	cr_assert_eq(rmp_vmexit(r, &cpu1), -1);
	cr_assert_eq(rmp_in_use(r, VMSA), -1);
	cr_assert_eq(rmp_adjust(r, &cpu0, &pg, false, 1, 0, false, &res), RMP_RC_SUCCESS);
	cpu0.now += 10000;
	cr_assert_eq(rmp_update(r, &cpu0, VMSA, &sh, &res), RMP_RC_SUCCESS);
	assert_stored(r, VMSA, HV, "reclaimed");
	cr_assert_eq(rmp_counters(r)->vmexits, 1);
	rmp_test_free(r, m);
}

/* The 2M-base erratum: host 2M writes fault when the 2M base page is in use. */
Test(rmp_race, erratum_2m_inuse)
{
	struct rmp_config cfg;
	struct sim_mem *m;
	struct rmp *r;
	struct sim_who w = who_at(0, 0), host = who_at(0, 1);
	struct rmp_vmrun_in in = { 1, B2M + SIM_SZ_2M, VMSA, RMP_NO_ADDR, RMP_NO_ADDR };
	struct rmp_fault f;

	for (int on = 0; on < 2; on++) {
		rmp_config_default(&cfg);
		cfg.erratum_2m_inuse = on;
		r = rmp_test_new(&m, &cfg);
		make_vmsa(r);
		cr_assert_eq(rmp_vmrun(r, &w, &in, &f), RMP_FAULT_NONE);
		cr_assert_eq(rmp_check_host(r, &host, B2M + SIM_SZ_2M + 0x33000, true, SIM_SZ_2M, &f),
			     on ? RMP_FAULT_PF : RMP_FAULT_NONE);
		cr_assert_eq(rmp_check_host(r, &host, B2M + SIM_SZ_2M + 0x33000, true, SIM_SZ_4K, &f),
			     RMP_FAULT_NONE, "4K writes are not affected");
		cr_assert_eq(rmp_vmexit(r, &w), 0);
		cr_assert_eq(rmp_check_host(r, &host, B2M + SIM_SZ_2M + 0x33000, true, SIM_SZ_2M, &f),
			     RMP_FAULT_NONE);
		rmp_test_free(r, m);
	}
}

/* Determinism: the same sequence gives the same counters and entries. */
Test(rmp_race, deterministic_replay)
{
	uint64_t sum[2] = { 0, 0 };

	for (int run = 0; run < 2; run++) {
		struct sim_mem *m;
		struct rmp *r = rmp_test_new(&m, NULL);
		struct rmp_result res;

		for (uint64_t i = 0; i < 64; i++) {
			struct sim_who w = who_at(T0 + i * 37, (int)(i % 3));
			struct rmp_update_in in = { .gpa = i << 12, .assigned = i & 1, .asid = i & 1 };
			struct rmp_gpage pg = { 1, 0, i << 12, B2M + ((i % 8) << 12), SIM_SZ_4K };

			rmp_update(r, &w, B2M + ((i % 8) << 12), &in, &res);
			sum[run] = sum[run] * 31 + res.rc + w.mem_cycles;
			rmp_pvalidate(r, &w, &pg, false, true, &res);
			sum[run] = sum[run] * 31 + res.rc + res.fault.code;
		}
		sum[run] = sum[run] * 31 + rmp_counters(r)->lock_conflicts;
		rmp_test_free(r, m);
	}
	cr_assert_eq(sum[0], sum[1]);
}

/* Shared -> shared RMPUPDATE of @spa by @agent at @now: a lock, no owner change. */
static uint64_t lock_page_at(struct rmp *r, uint64_t spa, int agent, uint64_t now)
{
	struct sim_who w = who_at(now, agent);
	struct rmp_result res;
	struct rmp_update_in sh = { 0 };

	cr_assert_eq(rmp_update(r, &w, spa, &sh, &res), RMP_RC_SUCCESS);
	return res.latency + w.mem_cycles;
}

/*
 * Lock records are filtered by bucket (2M region number modulo 256): a lock
 * in another region of the same bucket is not seen, one in the region is,
 * also after another record of the bucket has been dropped (65536 cycles
 * after it expired).  1 GiB of memory: region R and R + 256 both exist.
 */
Test(rmp_race, lock_filter_buckets)
{
	const uint64_t R = B2M, ALIAS = B2M + 256 * SIM_SZ_2M, NEXT = B2M + SIM_SZ_2M;
	struct sim_mem *m = sim_mem_new(1ull << 30, MEM_LAT);
	struct sim_err err = { "" };
	struct rmp_config cfg;
	struct rmp *r;
	struct rmp_fault f;
	struct sim_who w;
	uint64_t win, win1, t1;

	rmp_config_default(&cfg);
	r = rmp_new(m, &cfg, &err);
	cr_assert_not_null(r, "rmp_new: %s", err.msg);
	win = lock_page_at(r, ALIAS + 0x1000, 0, T0);
	w = who_at(T0 + 1, 1);
	cr_assert_eq(rmp_check_host(r, &w, R, true, SIM_SZ_2M, &f), RMP_FAULT_NONE, "same bucket");
	cr_assert_eq(rmp_check_host(r, &w, NEXT, true, SIM_SZ_2M, &f), RMP_FAULT_NONE, "other bucket");
	cr_assert_eq(rmp_check_host(r, &w, ALIAS, true, SIM_SZ_2M, &f), RMP_FAULT_PF);
	cr_assert(f.spurious);

	/* This lock on R drops the ALIAS record (expired 65536 cycles ago). */
	t1 = T0 + win + 65536;
	win1 = lock_page_at(r, P4K, 0, t1);
	w = who_at(T0 + 1, 1);
	cr_assert_eq(rmp_check_host(r, &w, ALIAS, true, SIM_SZ_2M, &f), RMP_FAULT_NONE, "dropped");
	w = who_at(t1 + 1, 1);
	cr_assert_eq(rmp_check_host(r, &w, ALIAS, true, SIM_SZ_2M, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_check_host(r, &w, R + 0x5000, true, SIM_SZ_4K, &f), RMP_FAULT_NONE);
	cr_assert_eq(rmp_check_host(r, &w, R, true, SIM_SZ_2M, &f), RMP_FAULT_PF);
	cr_assert(f.spurious);
	cr_assert_eq(rmp_check_host(r, &w, P4K, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	cr_assert(f.spurious);
	w = who_at(t1 + win1, 1);
	cr_assert_eq(rmp_check_host(r, &w, R, true, SIM_SZ_2M, &f), RMP_FAULT_NONE, "expired");
	cr_assert_eq(rmp_counters(r)->spurious_faults, 3);
	rmp_test_free(r, m);
}
