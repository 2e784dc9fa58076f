/*
 * test_rmp.c - the SNP instructions, table-driven: every return code of
 * RMPUPDATE, PSMASH, PVALIDATE and RMPADJUST, the 2M-versus-4K matrix,
 * with the full resulting entries asserted after every case (legal or
 * not), plus RMPQUERY, RMPREAD, names, fault tokens and latencies.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>

#include "tests/test_rmp_util.h"

enum iop { UPD, SMASH, PVAL, ADJ };

/* No pointers in parameters: Criterion runs each case in a fresh process. */
struct icase {
	char name[40];
	struct tent init_b, init_p;       /* entries of B2M and P4K before */
	enum iop op;
	uint64_t spa;                     /* UPD, SMASH */
	struct rmp_update_in in;          /* UPD */
	struct rmp_gpage pg;              /* PVAL, ADJ (zero: asid 1, GP4K -> P4K, 4K map) */
	bool is2m, rescind;               /* PVAL/ADJ size; PVAL validate=0 */
	unsigned target;                  /* ADJ */
	uint8_t perms;                    /* ADJ */
	bool vmsa;                        /* ADJ */
	enum rmp_rc rc;                   /* expected */
	enum rmp_fault_kind fault;        /* expected when rc == RMP_RC_FAULT */
	uint64_t code;                    /* expected fault code */
	bool changed;                     /* PVAL expected */
	bool set_want;                    /* else: entries must be unchanged */
	struct tent want_b, want_p;
};

#define NPF_BASE (RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL)
#define PG(asid_, vmpl_, gpa_, spa_, map_) \
	((struct rmp_gpage){ .asid = (asid_), .vmpl = (vmpl_), .gpa = (gpa_), .spa = (spa_), .map_size = (map_) })
#define PGB PG(1, 0, G2M, B2M, SIM_SZ_2M)
#define RW (RMP_PERM_R | RMP_PERM_W)

static struct icase cases[] = {
	/* ---- RMPUPDATE ---- */
	{ "update-assign-4k", .op = UPD, .spa = P4K, .in = { .gpa = GP4K, .assigned = 1, .asid = 1 },
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_p = GUEST(1, GP4K) },
	{ "update-shared-clears-everything", .op = UPD, .spa = P4K,
	  .init_p = { .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K, .p1 = RW, .p3 = 1 },
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_p = HV },
	{ "update-reassign-clears-validated", .op = UPD, .spa = P4K,
	  .init_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RW },
	  .in = { .gpa = 0x9000, .assigned = 1, .asid = 2 },
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_p = GUEST(2, 0x9000) },
	{ "update-misaligned-4k", .op = UPD, .spa = P4K + 0x800,
	  .in = { .gpa = GP4K, .assigned = 1, .asid = 1 }, .rc = RMP_RC_FAIL_INPUT },
	{ "update-misaligned-2m", .op = UPD, .spa = P4K, .in = { .page_2m = 1 }, .rc = RMP_RC_FAIL_INPUT },
	{ "update-not-covered", .op = UPD, .spa = NOCOVER, .rc = RMP_RC_FAIL_INPUT },
	{ "update-2m-not-covered", .op = UPD, .spa = NOCOVER, .in = { .page_2m = 1 },
	  .rc = RMP_RC_FAIL_INPUT },
	{ "update-asid-above-max", .op = UPD, .spa = P4K,
	  .in = { .gpa = GP4K, .assigned = 1, .asid = 1024 }, .rc = RMP_RC_FAIL_INPUT },
	{ "update-assigned-asid0-mutable", .op = UPD, .spa = P4K, .in = { .assigned = 1 },
	  .rc = RMP_RC_FAIL_INPUT },
	{ "update-shared-with-asid", .op = UPD, .spa = P4K, .in = { .asid = 1 },
	  .rc = RMP_RC_FAIL_INPUT },
	{ "update-shared-immutable", .op = UPD, .spa = P4K, .in = { .immutable = 1 },
	  .rc = RMP_RC_FAIL_INPUT },
	{ "update-gpa-misaligned", .op = UPD, .spa = P4K,
	  .in = { .gpa = GP4K + 0x800, .assigned = 1, .asid = 1 }, .rc = RMP_RC_FAIL_INPUT },
	{ "update-2m-gpa-misaligned", .op = UPD, .spa = B2M,
	  .in = { .gpa = GP4K, .assigned = 1, .page_2m = 1, .asid = 1 }, .rc = RMP_RC_FAIL_INPUT },
	{ "update-gpa-beyond-51-bits", .op = UPD, .spa = P4K,
	  .in = { .gpa = 1ull << 51, .assigned = 1, .asid = 1 }, .rc = RMP_RC_FAIL_INPUT },
	{ "update-reserved-bits", .op = UPD, .spa = P4K, .in = { .reserved = 0x100 },
	  .rc = RMP_RC_FAIL_INPUT },
	{ "update-firmware-immutable", .op = UPD, .spa = P4K, .init_p = FIRMWARE,
	  .rc = RMP_RC_FAIL_PERMISSION },
	{ "update-preguest-immutable", .op = UPD, .spa = P4K,
	  .init_p = { .a = 1, .imm = 1, .asid = 1, .gpa = GP4K },
	  .in = { .gpa = GP4K, .assigned = 1, .asid = 1 }, .rc = RMP_RC_FAIL_PERMISSION },
	{ "update-2m-immutable", .op = UPD, .spa = B2M,
	  .init_b = { .a = 1, .p2m = 1, .imm = 1, .asid = 1, .gpa = G2M }, .in = { .page_2m = 1 },
	  .rc = RMP_RC_FAIL_PERMISSION },
	{ "update-4k-inside-2m", .op = UPD, .spa = P4K, .init_b = GUEST2M(1, G2M),
	  .in = { .gpa = GP4K, .assigned = 1, .asid = 1 }, .rc = RMP_RC_FAIL_OVERLAP },
	{ "update-4k-shared-inside-2m", .op = UPD, .spa = P4K, .init_b = GUEST2M(1, G2M),
	  .rc = RMP_RC_FAIL_OVERLAP },
	{ "update-4k-on-2m-base", .op = UPD, .spa = B2M, .init_b = GUEST2M(1, G2M),
	  .rc = RMP_RC_FAIL_OVERLAP },
	{ "update-2m-over-4k", .op = UPD, .spa = B2M, .init_p = GUEST(1, GP4K),
	  .in = { .gpa = G2M, .assigned = 1, .page_2m = 1, .asid = 1 }, .rc = RMP_RC_FAIL_OVERLAP },
	{ "update-2m-shared-over-4k", .op = UPD, .spa = B2M, .init_p = GUEST(1, GP4K),
	  .in = { .page_2m = 1 }, .rc = RMP_RC_FAIL_OVERLAP },
	{ "update-2m-shared-on-2m", .op = UPD, .spa = B2M, .init_b = GUEST2MV(1, G2M),
	  .in = { .page_2m = 1 }, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_b = { .p2m = 1 } },
	{ "update-2m-assign", .op = UPD, .spa = B2M,
	  .in = { .gpa = G2M, .assigned = 1, .page_2m = 1, .asid = 1 }, .rc = RMP_RC_SUCCESS,
	  .set_want = 1, .want_b = GUEST2M(1, G2M) },
	{ "update-2m-reassign-2m", .op = UPD, .spa = B2M, .init_b = GUEST2MV(1, G2M),
	  .in = { .gpa = 0, .assigned = 1, .page_2m = 1, .asid = 3 }, .rc = RMP_RC_SUCCESS,
	  .set_want = 1, .want_b = GUEST2M(3, 0) },
	{ "update-4k-base-beside-4k", .op = UPD, .spa = B2M, .init_p = GUEST(1, GP4K),
	  .in = { .gpa = G2M, .assigned = 1, .asid = 1 }, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_b = GUEST(1, G2M), .want_p = GUEST(1, GP4K) },
	{ "update-make-firmware", .op = UPD, .spa = P4K, .in = { .assigned = 1, .immutable = 1 },
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_p = FIRMWARE },
	{ "update-make-preguest", .op = UPD, .spa = P4K,
	  .in = { .gpa = GP4K, .assigned = 1, .immutable = 1, .asid = 7 }, .rc = RMP_RC_SUCCESS,
	  .set_want = 1, .want_p = { .a = 1, .imm = 1, .asid = 7, .gpa = GP4K } },
	{ "update-max-asid", .op = UPD, .spa = P4K, .in = { .gpa = GP4K, .assigned = 1, .asid = 1023 },
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_p = GUEST(1023, GP4K) },

	/* ---- PSMASH ---- */
	{ "psmash-2m", .op = SMASH, .spa = B2M,
	  .init_b = { .a = 1, .p2m = 1, .val = 1, .asid = 1, .gpa = G2M, .p1 = RW, .p2 = RMP_PERM_R },
	  .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_b = { .a = 1, .val = 1, .asid = 1, .gpa = G2M, .p1 = RW, .p2 = RMP_PERM_R },
	  .want_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RW, .p2 = RMP_PERM_R } },
	{ "psmash-2m-unvalidated", .op = SMASH, .spa = B2M, .init_b = GUEST2M(4, 0),
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_b = GUEST(4, 0), .want_p = GUEST(4, 0x1000) },
	{ "psmash-misaligned", .op = SMASH, .spa = P4K, .init_b = GUEST2M(1, G2M),
	  .rc = RMP_RC_FAIL_INPUT },
	{ "psmash-not-covered", .op = SMASH, .spa = NOCOVER, .rc = RMP_RC_FAIL_INPUT },
	{ "psmash-immutable", .op = SMASH, .spa = B2M,
	  .init_b = { .a = 1, .p2m = 1, .imm = 1, .asid = 1, .gpa = G2M },
	  .rc = RMP_RC_FAIL_PERMISSION },
	{ "psmash-4k-entry", .op = SMASH, .spa = B2M, .init_b = GUEST(1, G2M),
	  .rc = RMP_RC_FAIL_BADADDR },
	{ "psmash-hypervisor", .op = SMASH, .spa = B2M, .rc = RMP_RC_FAIL_BADADDR },
	{ "psmash-shared-2m", .op = SMASH, .spa = B2M, .init_b = { .p2m = 1 },
	  .rc = RMP_RC_FAIL_BADADDR },

	/* ---- PVALIDATE ---- */
	{ "pvalidate-validate", .op = PVAL, .init_p = GUEST(1, GP4K), .rc = RMP_RC_SUCCESS,
	  .changed = 1, .set_want = 1, .want_p = GUESTV(1, GP4K) },
	{ "pvalidate-already-valid", .op = PVAL, .init_p = GUESTV(1, GP4K), .rc = RMP_RC_SUCCESS,
	  .changed = 0 },
	{ "pvalidate-rescind", .op = PVAL, .rescind = 1, .init_p = GUESTV(1, GP4K),
	  .rc = RMP_RC_SUCCESS, .changed = 1, .set_want = 1, .want_p = GUEST(1, GP4K) },
	{ "pvalidate-rescind-invalid", .op = PVAL, .rescind = 1, .init_p = GUEST(1, GP4K),
	  .rc = RMP_RC_SUCCESS, .changed = 0 },
	{ "pvalidate-vmpl1-gp", .op = PVAL, .pg = PG(1, 1, GP4K, P4K, SIM_SZ_4K),
	  .init_p = GUEST(1, GP4K), .rc = RMP_RC_FAULT, .fault = RMP_FAULT_GP },
	{ "pvalidate-gpa-misaligned", .op = PVAL, .pg = PG(1, 0, GP4K + 8, P4K, SIM_SZ_4K),
	  .init_p = GUEST(1, GP4K), .rc = RMP_RC_FAIL_INPUT },
	{ "pvalidate-spa-misaligned", .op = PVAL, .pg = PG(1, 0, GP4K, P4K + 8, SIM_SZ_4K),
	  .init_p = GUEST(1, GP4K), .rc = RMP_RC_FAIL_INPUT },
	{ "pvalidate-2m-misaligned", .op = PVAL, .is2m = 1, .pg = PG(1, 0, GP4K, P4K, SIM_SZ_2M),
	  .init_b = GUEST2M(1, G2M), .rc = RMP_RC_FAIL_INPUT },
	{ "pvalidate-hypervisor-page", .op = PVAL, .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF,
	  .code = NPF_BASE },
	{ "pvalidate-wrong-asid", .op = PVAL, .init_p = GUEST(2, GP4K), .rc = RMP_RC_FAULT,
	  .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "pvalidate-wrong-gpa", .op = PVAL, .init_p = GUEST(1, 0x9000), .rc = RMP_RC_FAULT,
	  .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "pvalidate-immutable", .op = PVAL, .init_p = { .a = 1, .imm = 1, .asid = 1, .gpa = GP4K },
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "pvalidate-firmware", .op = PVAL, .init_p = FIRMWARE, .rc = RMP_RC_FAULT,
	  .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "pvalidate-not-covered", .op = PVAL, .pg = PG(1, 0, GP4K, NOCOVER, SIM_SZ_4K),
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "pvalidate-4k-on-2m-entry", .op = PVAL, .init_b = GUEST2M(1, G2M), .rc = RMP_RC_FAULT,
	  .fault = RMP_FAULT_NPF, .code = NPF_BASE | RMP_NPF_SIZEM },
	/* a 2M nested leaf on a 4K entry: an RMP #NPF, SIZEM only for an instruction
	   size below the entry's (KVM sev_handle_rmp_fault case 1) */
	{ "pvalidate-2m-map-on-4k-entry", .op = PVAL, .pg = PG(1, 0, GP4K, P4K, SIM_SZ_2M),
	  .init_p = GUEST(1, GP4K), .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF,
	  .code = NPF_BASE },
	{ "pvalidate-2m-on-4k-entries", .op = PVAL, .is2m = 1, .pg = PG(1, 0, G2M, B2M, SIM_SZ_4K),
	  .init_b = GUEST(1, G2M), .rc = RMP_RC_FAIL_SIZEMISMATCH },
	/* a 2M request in a 4K nested leaf: the page's 4K entry, SIZEMISMATCH (not FAIL_INPUT
	   for the page's alignment): the Linux guest's 2M-then-4K fallback */
	{ "pvalidate-2m-4k-leaf-unaligned-page", .op = PVAL, .is2m = 1,
	  .pg = PG(1, 0, G2M, P4K, SIM_SZ_4K), .init_p = GUEST(1, G2M),
	  .rc = RMP_RC_FAIL_SIZEMISMATCH },
	{ "pvalidate-2m-map2m-on-4k", .op = PVAL, .is2m = 1, .pg = PGB, .init_b = GUEST(1, G2M),
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "pvalidate-2m-on-2m", .op = PVAL, .is2m = 1, .pg = PGB, .init_b = GUEST2M(1, G2M),
	  .rc = RMP_RC_SUCCESS, .changed = 1, .set_want = 1, .want_b = GUEST2MV(1, G2M) },
	{ "pvalidate-2m-rescind", .op = PVAL, .is2m = 1, .rescind = 1, .pg = PGB,
	  .init_b = GUEST2MV(1, G2M), .rc = RMP_RC_SUCCESS, .changed = 1, .set_want = 1,
	  .want_b = GUEST2M(1, G2M) },
	{ "pvalidate-2m-wrong-owner", .op = PVAL, .is2m = 1, .pg = PGB, .init_b = GUEST2M(2, G2M),
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF, .code = NPF_BASE },

	/* ---- RMPADJUST ---- */
	{ "rmpadjust-grant-rw", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 1, .perms = RW,
	  .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RW } },
	{ "rmpadjust-grant-vmpl3", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 3,
	  .perms = RMP_PERM_R | RMP_PERM_XU, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p3 = RMP_PERM_R | RMP_PERM_XU } },
	{ "rmpadjust-set-vmsa", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 1, .vmsa = 1,
	  .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_p = { .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K } },
	{ "rmpadjust-clear-vmsa", .op = ADJ,
	  .init_p = { .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K }, .target = 1,
	  .rc = RMP_RC_SUCCESS, .set_want = 1, .want_p = GUESTV(1, GP4K) },
	{ "rmpadjust-target-self", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 0,
	  .perms = RW, .rc = RMP_RC_FAIL_PERMISSION },
	{ "rmpadjust-target-more-privileged", .op = ADJ, .pg = PG(1, 2, GP4K, P4K, SIM_SZ_4K),
	  .init_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p2 = RMP_PERM_ALL }, .target = 1,
	  .perms = RMP_PERM_R, .rc = RMP_RC_FAIL_PERMISSION },
	{ "rmpadjust-target-4", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 4,
	  .rc = RMP_RC_FAIL_INPUT },
	{ "rmpadjust-reserved-perm", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 1,
	  .perms = 0x20, .rc = RMP_RC_FAIL_INPUT },
	{ "rmpadjust-write-without-read", .op = ADJ, .init_p = GUESTV(1, GP4K), .target = 1,
	  .perms = RMP_PERM_W, .rc = RMP_RC_FAIL_INPUT },
	{ "rmpadjust-vmsa-on-2m", .op = ADJ, .is2m = 1, .pg = PGB, .init_b = GUEST2MV(1, G2M),
	  .target = 1, .vmsa = 1, .rc = RMP_RC_FAIL_INPUT },
	{ "rmpadjust-misaligned", .op = ADJ, .pg = PG(1, 0, GP4K + 1, P4K, SIM_SZ_4K),
	  .init_p = GUESTV(1, GP4K), .target = 1, .rc = RMP_RC_FAIL_INPUT },
	{ "rmpadjust-escalation", .op = ADJ, .pg = PG(1, 1, GP4K, P4K, SIM_SZ_4K),
	  .init_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RMP_PERM_R }, .target = 2,
	  .perms = RW, .rc = RMP_RC_FAIL_PERMISSION },
	{ "rmpadjust-vmpl1-subset", .op = ADJ, .pg = PG(1, 1, GP4K, P4K, SIM_SZ_4K),
	  .init_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RW | RMP_PERM_XS },
	  .target = 2, .perms = RMP_PERM_R, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RW | RMP_PERM_XS,
		      .p2 = RMP_PERM_R } },
	/* at VMPL > 0 the VMSA input is ignored without error (edk2 BaseVmsaRmpAdjust) */
	{ "rmpadjust-vmpl1-vmsa1-ignored", .op = ADJ, .pg = PG(1, 1, GP4K, P4K, SIM_SZ_4K),
	  .init_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RMP_PERM_ALL }, .target = 2,
	  .perms = RMP_PERM_R, .vmsa = 1, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RMP_PERM_ALL,
		      .p2 = RMP_PERM_R } },
	{ "rmpadjust-vmpl1-vmsa0-ignored", .op = ADJ, .pg = PG(1, 1, GP4K, P4K, SIM_SZ_4K),
	  .init_p = { .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K, .p1 = RMP_PERM_ALL },
	  .target = 3, .perms = RW, .vmsa = 0, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_p = { .a = 1, .val = 1, .vmsa = 1, .asid = 1, .gpa = GP4K, .p1 = RMP_PERM_ALL,
		      .p3 = RW } },
	{ "rmpadjust-vmpl1-vmsa-on-2m", .op = ADJ, .is2m = 1, .pg = PG(1, 1, G2M, B2M, SIM_SZ_2M),
	  .init_b = { .a = 1, .p2m = 1, .val = 1, .asid = 1, .gpa = G2M, .p1 = RMP_PERM_ALL },
	  .target = 2, .perms = RMP_PERM_R, .vmsa = 1, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_b = { .a = 1, .p2m = 1, .val = 1, .asid = 1, .gpa = G2M, .p1 = RMP_PERM_ALL,
		      .p2 = RMP_PERM_R } },
	/* edk2's "am I at VMPL0" probe: target 1 with VMSA=1 from VMPL1 */
	{ "rmpadjust-vmpl1-vmpl0-probe", .op = ADJ, .pg = PG(1, 1, GP4K, P4K, SIM_SZ_4K),
	  .init_p = { .a = 1, .val = 1, .asid = 1, .gpa = GP4K, .p1 = RMP_PERM_ALL }, .target = 1,
	  .vmsa = 1, .rc = RMP_RC_FAIL_PERMISSION },
	{ "rmpadjust-not-validated", .op = ADJ, .init_p = GUEST(1, GP4K), .target = 1,
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_VC, .code = RMP_VC_NOT_VALIDATED },
	{ "rmpadjust-wrong-owner", .op = ADJ, .init_p = GUESTV(2, GP4K), .target = 1,
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF, .code = NPF_BASE },
	{ "rmpadjust-2m-on-4k", .op = ADJ, .is2m = 1, .pg = PG(1, 0, G2M, B2M, SIM_SZ_4K),
	  .init_b = GUESTV(1, G2M), .target = 1, .rc = RMP_RC_FAIL_SIZEMISMATCH },
	{ "rmpadjust-4k-on-2m", .op = ADJ, .init_b = GUEST2MV(1, G2M), .target = 1,
	  .rc = RMP_RC_FAULT, .fault = RMP_FAULT_NPF, .code = NPF_BASE | RMP_NPF_SIZEM },
	{ "rmpadjust-2m-on-2m", .op = ADJ, .is2m = 1, .pg = PGB, .init_b = GUEST2MV(1, G2M),
	  .target = 1, .perms = RMP_PERM_R, .rc = RMP_RC_SUCCESS, .set_want = 1,
	  .want_b = { .a = 1, .p2m = 1, .val = 1, .asid = 1, .gpa = G2M, .p1 = RMP_PERM_R } },
};

ParameterizedTestParameters(rmp, insn)
{
	return cr_make_param_array(struct icase, cases, sizeof(cases) / sizeof(cases[0]));
}

/* hpage_region_status must say whether any 4K entry of the region is assigned. */
static void assert_region_status(struct rmp *r, uint64_t region, const char *what)
{
	struct rmp_entry e;
	bool any = false;

	for (uint64_t p = region; p < region + SIM_SZ_2M; p += SIM_SZ_4K) {
		cr_assert(rmp_entry_get(r, p, &e));
		any |= e.assigned && !e.page_2m;
	}
	cr_assert(rmp_entry_get(r, region + 0x5000, &e));
	cr_assert_eq(e.hpage_region_status, any, "%s: hpage_region_status %d, 4K assigned %d", what,
		     e.hpage_region_status, any);
}

static enum rmp_insn insn_of(enum iop op)
{
	static const enum rmp_insn m[] = { RMP_INSN_RMPUPDATE, RMP_INSN_PSMASH,
					   RMP_INSN_PVALIDATE, RMP_INSN_RMPADJUST };
	return m[op];
}

ParameterizedTest(struct icase *c, rmp, insn)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(1000, 0);
	struct rmp_result res;
	struct rmp_gpage pg = c->pg;
	enum rmp_rc rc = RMP_RC_FAULT;

	put_region(r, c->init_b, c->init_p);
	if (!pg.asid)
		pg = PG(1, 0, GP4K, P4K, SIM_SZ_4K);
	switch (c->op) {
	case UPD:   rc = rmp_update(r, &w, c->spa, &c->in, &res); break;
	case SMASH: rc = rmp_psmash(r, &w, c->spa, &res); break;
	case PVAL:  rc = rmp_pvalidate(r, &w, &pg, c->is2m, !c->rescind, &res); break;
	case ADJ:   rc = rmp_adjust(r, &w, &pg, c->is2m, c->target, c->perms, c->vmsa, &res); break;
	}
	cr_assert_eq(rc, c->rc, "%s: rc %s, want %s", c->name, rmp_rc_name(insn_of(c->op), rc),
		     rmp_rc_name(insn_of(c->op), c->rc));
	cr_assert_eq(res.rc, rc, "%s: res.rc", c->name);
	if (rc == RMP_RC_FAULT) {
		cr_assert_eq(res.fault.kind, c->fault, "%s: fault kind %d want %d", c->name,
			     res.fault.kind, c->fault);
		cr_assert_eq(res.fault.code, c->code, "%s: fault code 0x%llx want 0x%llx", c->name,
			     (unsigned long long)res.fault.code, (unsigned long long)c->code);
		cr_assert_not(res.fault.spurious, "%s", c->name);
	} else {
		cr_assert_eq(res.fault.kind, RMP_FAULT_NONE, "%s", c->name);
	}
	if (c->op == PVAL && rc == RMP_RC_SUCCESS)
		cr_assert_eq(res.changed, c->changed, "%s: changed", c->name);
	/* Exact instruction latency from the profile values. */
	cr_assert_eq(res.latency, rmp_latency(r, insn_of(c->op), res.page_2m, rc), "%s", c->name);
	cr_assert_eq(res.latency, rc == RMP_RC_SUCCESS
				  ? (c->op == UPD && c->in.page_2m ? 3000u
				     : c->op == PVAL && c->is2m ? 2500u
				     : rmp_config(r)->lat.insn[insn_of(c->op)])
				  : 100u, "%s: latency %u", c->name, res.latency);
	/* Full resulting state: unchanged unless the case says otherwise. */
	assert_stored(r, B2M, c->set_want ? c->want_b : c->init_b, c->name);
	assert_stored(r, P4K, c->set_want ? raw_sub(c->want_b, c->want_p)
					  : raw_sub(c->init_b, c->init_p), c->name);
	assert_region_status(r, B2M, c->name);
	rmp_test_free(r, m);
}

/* PSMASH: all 512 entries, consecutive GPAs, attributes preserved. */
Test(rmp, psmash_all_entries)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct tent t2 = { .a = 1, .p2m = 1, .val = 1, .asid = 9, .gpa = G2M, .p1 = RW, .p3 = 8 };

	put(r, B2M, t2);
	cr_assert_eq(rmp_psmash(r, &w, B2M, &res), RMP_RC_SUCCESS);
	for (unsigned i = 0; i < 512; i++) {
		struct tent t = t2;
		char what[32];

		t.p2m = 0;
		t.gpa = G2M + i * SIM_SZ_4K;
		snprintf(what, sizeof(what), "entry %u", i);
		assert_stored(r, B2M + i * SIM_SZ_4K, t, what);
	}
	cr_assert_eq(rmp_level(r, P4K), SIM_SZ_4K);
	/* One entry read and one 8 KiB write through memory. */
	cr_assert_eq(w.mem_cycles, 2 * MEM_LAT);
	cr_assert_eq(rmp_counters(r)->entry_writes, 512);
	/* A second PSMASH finds 4K entries. */
	cr_assert_eq(rmp_psmash(r, &w, B2M, &res), RMP_RC_FAIL_BADADDR);
	rmp_test_free(r, m);
}

/* The effective entry of a page inside a 2M entry (§1.7). */
Test(rmp, effective_entry_2m)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct rmp_entry e;

	put(r, B2M, GUEST2MV(5, G2M));
	cr_assert(rmp_entry_effective(r, B2M + 0x1ff000, &e));
	cr_assert(e.assigned && e.page_2m && e.validated && e.asid == 5);
	cr_assert_eq(e.gpa, G2M + 0x1ff000);
	cr_assert_not(e.hpage_region_status);
	cr_assert_eq(rmp_level(r, B2M + 0x1ff000), SIM_SZ_2M);
	/* The page's own stored entry is the mark: assigned, page size, nothing else. */
	cr_assert(rmp_entry_get(r, B2M + 0x1ff000, &e));
	cr_assert(e.assigned && e.page_2m);
	cr_assert(!e.validated && !e.immutable && !e.vmsa && e.asid == 0 && e.gpa == 0);
	/* Outside the region: hypervisor-owned. */
	cr_assert(rmp_entry_effective(r, B2M + SIM_SZ_2M, &e));
	cr_assert_not(e.assigned);
	cr_assert_eq(rmp_level(r, B2M + SIM_SZ_2M), SIM_SZ_4K);
	cr_assert_not(rmp_entry_effective(r, NOCOVER, &e));
	rmp_test_free(r, m);
}

/* The raw 16 bytes of @spa's entry, untimed. */
static void raw_of(struct rmp *r, struct sim_mem *m, uint64_t spa, uint64_t *lo, uint64_t *hi)
{
	uint64_t a;

	cr_assert(rmp_entry_addr(r, spa, &a));
	sim_mem_peek(m, a, lo, 8);
	sim_mem_peek(m, a + 8, hi, 8);
}

/* Every raw entry of the 2M region at @region but the base is lo = @lo, hi = 0. */
static void assert_subs(struct rmp *r, struct sim_mem *m, uint64_t region, uint64_t lo,
			const char *what)
{
	for (unsigned i = 1; i < 512; i++) {
		uint64_t l, h;

		raw_of(r, m, region + i * SIM_SZ_4K, &l, &h);
		cr_assert(l == lo && h == 0, "%s: entry %u: lo 0x%llx hi 0x%llx, want lo 0x%llx hi 0",
			  what, i, (unsigned long long)l, (unsigned long long)h,
			  (unsigned long long)lo);
	}
}

/*
 * The raw entries of the 511 other pages of an assigned 2M entry read
 * assigned (Linux's Zen 3/4 raw-entry reader takes `assigned` from each
 * page's own entry): RMPUPDATE and firmware mark them RMP_LO_SUB2M when
 * they assign the 2M page and clear them when they unassign it; PSMASH
 * replaces them with real 4K entries.  RMPREAD still reports the effective
 * (2M) entry, and the marks cost no extra memory access.
 */
Test(rmp, sub2m_marks)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_read_out out;
	struct rmp_update_in as2m = { .gpa = G2M, .assigned = 1, .page_2m = 1, .asid = 1 };
	struct rmp_update_in sh2m = { .page_2m = 1 };
	struct rmp_update_in re2m = { .gpa = 0, .assigned = 1, .page_2m = 1, .asid = 3 };
	struct rmp_update_in in4k = { .gpa = GP4K, .assigned = 1, .asid = 1 };
	uint64_t lo, hi, writes;

	assert_subs(r, m, B2M, 0, "initial");
	cr_assert_eq(rmp_update(r, &w, B2M, &as2m, &res), RMP_RC_SUCCESS);
	raw_of(r, m, B2M, &lo, &hi);
	cr_assert_eq(lo, RMP_LO_ASSIGNED | RMP_LO_PAGESIZE | G2M | (1ull << RMP_LO_ASID_SHIFT));
	cr_assert_eq(hi, 0);
	assert_subs(r, m, B2M, RMP_LO_SUB2M, "2M assigned");
	/* One read (the base) and one 8 KiB write: the same cost as without the marks. */
	cr_assert_eq(w.mem_cycles, 2 * MEM_LAT);
	cr_assert_eq(rmp_counters(r)->entry_writes, 512);
	/* RMPREAD of a marked page: the effective entry of the 2M page. */
	cr_assert_eq(rmp_read(r, &w, B2M + 0x1ff000, &out, &res), RMP_RC_SUCCESS);
	cr_assert(out.ent.assigned && out.ent.page_2m && !out.ent.hpage_region_status);
	cr_assert_eq(out.ent.asid, 1);
	cr_assert_eq(out.ent.gpa, G2M + 0x1ff000);
	/* A 4K RMPUPDATE inside is FAIL_OVERLAP and leaves the marks. */
	cr_assert_eq(rmp_update(r, &w, P4K, &in4k, &res), RMP_RC_FAIL_OVERLAP);
	assert_subs(r, m, B2M, RMP_LO_SUB2M, "after FAIL_OVERLAP");
	/* 2M to 2M (another owner): the base entry alone is written. */
	writes = rmp_counters(r)->entry_writes;
	w.now += 100000;
	cr_assert_eq(rmp_update(r, &w, B2M, &re2m, &res), RMP_RC_SUCCESS);
	cr_assert_eq(rmp_counters(r)->entry_writes, writes + 1);
	assert_subs(r, m, B2M, RMP_LO_SUB2M, "2M reassigned");
	/* Unassigning the 2M page clears them. */
	w.now += 100000;
	cr_assert_eq(rmp_update(r, &w, B2M, &sh2m, &res), RMP_RC_SUCCESS);
	cr_assert_eq(rmp_counters(r)->entry_writes, writes + 1 + 512);
	raw_of(r, m, B2M, &lo, &hi);
	cr_assert_eq(lo, RMP_LO_PAGESIZE);
	assert_subs(r, m, B2M, 0, "2M unassigned");
	cr_assert_eq(rmp_read(r, &w, P4K, &out, &res), RMP_RC_SUCCESS);
	cr_assert_not(out.ent.assigned);
	/* ... and 4K entries can be assigned there again. */
	w.now += 100000;
	cr_assert_eq(rmp_update(r, &w, P4K, &in4k, &res), RMP_RC_SUCCESS);
	assert_stored(r, P4K, GUEST(1, GP4K), "4K after 2M");
	/* PSMASH replaces the marks with real 4K entries. */
	w.now += 100000;
	in4k.assigned = 0;
	in4k.gpa = 0;
	in4k.asid = 0;
	cr_assert_eq(rmp_update(r, &w, P4K, &in4k, &res), RMP_RC_SUCCESS);
	w.now += 100000;
	cr_assert_eq(rmp_update(r, &w, B2M, &as2m, &res), RMP_RC_SUCCESS);
	w.now += 100000;
	cr_assert_eq(rmp_psmash(r, &w, B2M, &res), RMP_RC_SUCCESS);
	for (unsigned i = 1; i < 512; i++) {
		raw_of(r, m, B2M + i * SIM_SZ_4K, &lo, &hi);
		cr_assert_eq(lo, RMP_LO_ASSIGNED | ((G2M + i * SIM_SZ_4K) & RMP_LO_GPA_MASK) |
				 (1ull << RMP_LO_ASID_SHIFT), "entry %u after PSMASH", i);
	}
	rmp_test_free(r, m);
}

/* Firmware writes keep the marks too, and never write inside an assigned 2M entry. */
Test(rmp, sub2m_marks_firmware)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct rmp_entry hv = tent_entry(&HV), g4 = tent_entry(&(struct tent)GUEST(1, GP4K));
	struct rmp_entry g2 = tent_entry(&(struct tent)GUEST2MV(1, G2M));

	cr_assert_eq(rmp_fw_write(r, B2M, &g2), RMP_RC_SUCCESS);
	assert_subs(r, m, B2M, RMP_LO_SUB2M, "fw 2M");
	cr_assert_eq(rmp_fw_write(r, P4K, &hv), RMP_RC_FAIL_INPUT, "inside an assigned 2M entry");
	cr_assert_eq(rmp_fw_write(r, P4K, &g4), RMP_RC_FAIL_INPUT);
	assert_subs(r, m, B2M, RMP_LO_SUB2M, "refused writes");
	cr_assert_eq(rmp_fw_write(r, B2M, &hv), RMP_RC_SUCCESS);
	assert_subs(r, m, B2M, 0, "fw unassigned");
	cr_assert_eq(rmp_fw_write(r, P4K, &g4), RMP_RC_SUCCESS);
	assert_stored(r, P4K, GUEST(1, GP4K), "fw 4K");
	rmp_test_free(r, m);
}

struct hook_log {
	unsigned calls;
	enum rmp_insn insn;
	uint64_t spa, size;
};

static void log_hook(void *arg, enum rmp_insn insn, uint64_t spa, uint64_t size)
{
	struct hook_log *l = arg;

	l->calls++;
	l->insn = insn;
	l->spa = spa;
	l->size = size;
}

/*
 * update_flush_tlb: every successful RMPUPDATE and PSMASH pays lat.tlb_flush
 * on top of its latency (so it holds its lock through the flush) and counts
 * a flush; failed instructions do neither.  Off (the default), nothing
 * changes.  Every successful instruction that wrote entries (PVALIDATE
 * too) tells the change hooks which it was; a failed one does not.
 */
Test(rmp, update_flush_tlb)
{
	struct rmp_config cfg;
	struct sim_mem *m;
	struct rmp *r;
	struct sim_who w = who_at(1000, 0), w1;
	struct rmp_result res;
	struct rmp_update_in in = { .gpa = GP4K, .assigned = 1, .asid = 1 };
	struct rmp_update_in in2m = { .gpa = G2M, .assigned = 1, .page_2m = 1, .asid = 1 };
	struct rmp_gpage pg = PG(1, 0, GP4K, P4K, SIM_SZ_4K);
	struct hook_log log = { 0 };

	r = rmp_test_new(&m, NULL);
	cr_assert_not(rmp_update_flushes_tlb(r));
	cr_assert_eq(rmp_update(r, &w, P4K, &in, &res), RMP_RC_SUCCESS);
	cr_assert_eq(res.latency, 1100);
	cr_assert_eq(rmp_counters(r)->tlb_flushes, 0);
	rmp_test_free(r, m);

	rmp_config_default(&cfg);
	cfg.update_flush_tlb = true;
	cfg.lat.tlb_flush = 777;
	r = rmp_test_new(&m, &cfg);
	rmp_add_change_hook(r, log_hook, &log);
	cr_assert(rmp_update_flushes_tlb(r));
	w.mem_cycles = 0;
	cr_assert_eq(rmp_update(r, &w, P4K, &in, &res), RMP_RC_SUCCESS);
	cr_assert_eq(res.latency, 1100 + 777);
	cr_assert_eq(res.latency, rmp_latency(r, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS));
	cr_assert_eq(w.mem_cycles, 4 * MEM_LAT);
	cr_assert_eq(rmp_counters(r)->tlb_flushes, 1);
	cr_assert_eq(log.calls, 1);
	cr_assert_eq(log.spa, P4K);
	cr_assert_eq(log.size, SIM_SZ_4K);
	/* The lock covers the flush: [1000, 1000 + 1877 + 400). */
	w1 = who_at(1000 + 1877 + 4 * MEM_LAT - 1, 1);
	cr_assert_eq(rmp_pvalidate(r, &w1, &pg, false, true, &res), RMP_RC_FAIL_INUSE);
	w1 = who_at(1000 + 1877 + 4 * MEM_LAT, 1);
	cr_assert_eq(rmp_pvalidate(r, &w1, &pg, false, true, &res), RMP_RC_SUCCESS);
	cr_assert_eq(res.latency, 700, "PVALIDATE flushes nothing");
	cr_assert_eq(rmp_counters(r)->tlb_flushes, 1);
	cr_assert_eq(log.calls, 2, "the hooks are told of the PVALIDATE's write");
	cr_assert_eq(log.insn, RMP_INSN_PVALIDATE);
	cr_assert_eq(log.spa, P4K);
	/* A failure flushes nothing. */
	w = who_at(100000, 0);
	cr_assert_eq(rmp_update(r, &w, P4K + 8, &in, &res), RMP_RC_FAIL_INPUT);
	cr_assert_eq(res.latency, 100);
	cr_assert_eq(rmp_counters(r)->tlb_flushes, 1);
	cr_assert_eq(log.calls, 2);
	/* 2M RMPUPDATE and PSMASH. */
	cr_assert_eq(rmp_update(r, &w, B2M + SIM_SZ_2M, &in2m, &res), RMP_RC_SUCCESS);
	cr_assert_eq(res.latency, 3000 + 777);
	cr_assert_eq(rmp_psmash(r, &w, B2M + SIM_SZ_2M, &res), RMP_RC_SUCCESS);
	cr_assert_eq(res.latency, 5000 + 777);
	cr_assert_eq(res.latency, rmp_latency(r, RMP_INSN_PSMASH, true, RMP_RC_SUCCESS));
	cr_assert_eq(rmp_psmash(r, &w, B2M + SIM_SZ_2M, &res), RMP_RC_FAIL_BADADDR);
	cr_assert_eq(rmp_counters(r)->tlb_flushes, 3);
	cr_assert_eq(log.calls, 4);
	cr_assert_eq(log.insn, RMP_INSN_PSMASH);
	cr_assert_eq(log.spa, B2M + SIM_SZ_2M);
	cr_assert_eq(log.size, SIM_SZ_2M);
	rmp_test_free(r, m);
}

/* Timed lookups: a 4K assigned page costs 1 read, a page under a 2M entry 2, a base 1. */
Test(rmp, lookup_memory_cost)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_fault f;

	put(r, B2M, GUEST2MV(1, G2M));
	put(r, B2M + SIM_SZ_2M + 0x3000, GUESTV(1, 0x3000));
	cr_assert_eq(rmp_check_host(r, &w, B2M + SIM_SZ_2M + 0x3000, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	cr_assert_eq(w.mem_cycles, 1 * MEM_LAT);
	w.mem_cycles = 0;
	cr_assert_eq(rmp_check_host(r, &w, P4K, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	cr_assert_eq(w.mem_cycles, 2 * MEM_LAT);
	w.mem_cycles = 0;
	cr_assert_eq(rmp_check_host(r, &w, B2M, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	cr_assert_eq(w.mem_cycles, 1 * MEM_LAT);
	w.mem_cycles = 0;
	cr_assert_eq(rmp_check_host(r, &w, B2M, false, SIM_SZ_4K, &f), RMP_FAULT_NONE);
	cr_assert_eq(w.mem_cycles, 0, "host reads are not checked");
	cr_assert_eq(rmp_counters(r)->entry_reads, 4);
	rmp_test_free(r, m);
}

/* RMPUPDATE's memory traffic: entry (+ base) read, entry (+ base count) written. */
Test(rmp, update_memory_cost)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_update_in in = { .gpa = GP4K, .assigned = 1, .asid = 1 };

	cr_assert_eq(rmp_update(r, &w, P4K, &in, &res), RMP_RC_SUCCESS);
	/* read P4K, read base, write base count, write P4K */
	cr_assert_eq(w.mem_cycles, 4 * MEM_LAT);
	cr_assert_eq(res.latency, 1100);
	rmp_test_free(r, m);
}

Test(rmp, rmpquery)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_gpage pg = PG(1, 2, GP4K, P4K, SIM_SZ_4K);

	put(r, P4K, ((struct tent){ .a = 1, .asid = 1, .gpa = GP4K, .p1 = RW, .p2 = RMP_PERM_R,
				    .p3 = RMP_PERM_XU }));
	cr_assert_eq(rmp_query(r, &w, &pg, &res), RMP_RC_SUCCESS, "unvalidated is fine");
	cr_assert_eq(res.perms[0], RMP_PERM_ALL);
	cr_assert_eq(res.perms[1], RW);
	cr_assert_eq(res.perms[2], RMP_PERM_R);
	cr_assert_eq(res.perms[3], RMP_PERM_XU);
	cr_assert_not(res.page_2m);
	cr_assert_eq(res.latency, 200);
	pg.asid = 2;
	cr_assert_eq(rmp_query(r, &w, &pg, &res), RMP_RC_FAULT);
	cr_assert_eq(res.fault.kind, RMP_FAULT_NPF);
	cr_assert_eq(res.fault.code, NPF_BASE);
	cr_assert_eq(res.fault.addr, GP4K);
	pg.asid = 1;
	pg.gpa += 4;
	cr_assert_eq(rmp_query(r, &w, &pg, &res), RMP_RC_FAIL_INPUT);
	put(r, B2M + SIM_SZ_2M, GUEST2M(1, G2M));
	pg = PG(1, 0, G2M + 0x3000, B2M + SIM_SZ_2M + 0x3000, SIM_SZ_4K);
	cr_assert_eq(rmp_query(r, &w, &pg, &res), RMP_RC_SUCCESS);
	cr_assert(res.page_2m);
	assert_stored(r, P4K, ((struct tent){ .a = 1, .asid = 1, .gpa = GP4K, .p1 = RW,
					      .p2 = RMP_PERM_R, .p3 = RMP_PERM_XU }), "query");
	rmp_test_free(r, m);
}

Test(rmp, rmpread)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_read_out out;
	static const uint8_t want_raw[16] = {
		0x00, 0x30, 0x00, 0x40, 0, 0, 0, 0,   /* GPA 0x40003000 */
		1, 1, 0, 0,                           /* assigned, 2M, not immutable */
		5, 0, 0, 0,                           /* ASID 5 */
	};

	put(r, B2M, GUEST2MV(5, G2M));
	cr_assert_eq(rmp_read(r, &w, B2M + 0x3000, &out, &res), RMP_RC_SUCCESS);
	cr_assert(out.ent.assigned && out.ent.page_2m && out.ent.validated);
	cr_assert_eq(out.ent.gpa, G2M + 0x3000);
	cr_assert_eq(out.ent.asid, 5);
	cr_assert_eq(memcmp(out.raw, want_raw, 16), 0);
	cr_assert_eq(res.latency, 150);
	/* hpage_region_status: a 4K assigned entry in the region. */
	put(r, B2M + SIM_SZ_2M + 0x7000, GUEST(1, 0x7000));
	cr_assert_eq(rmp_read(r, &w, B2M + SIM_SZ_2M, &out, &res), RMP_RC_SUCCESS);
	cr_assert_not(out.ent.assigned);
	cr_assert(out.ent.hpage_region_status);
	cr_assert_eq(out.raw[9], 2);
	cr_assert_eq(rmp_read(r, &w, B2M + 8, &out, &res), RMP_RC_FAIL_INPUT);
	cr_assert_eq(rmp_read(r, &w, NOCOVER, &out, &res), RMP_RC_FAIL_INPUT);
	rmp_test_free(r, m);
}

/* The table's own pages are firmware pages (SNP_INIT). */
Test(rmp, table_pages_are_firmware)
{
	struct sim_mem *m;
	struct rmp *r = rmp_test_new(&m, NULL);
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_update_in in = { 0 };
	struct rmp_fault f;

	cr_assert_eq(rmp_base(r), MEM_SIZE - (1ull << 20));
	cr_assert_eq(rmp_end(r), rmp_base(r) + 0x4000 + (MEM_SIZE >> 12) * 16 - 1);
	assert_stored(r, rmp_base(r), FIRMWARE, "bookkeeping");
	assert_stored(r, rmp_end(r) & ~0xfffull, FIRMWARE, "last table page");
	assert_stored(r, (rmp_end(r) & ~0xfffull) + 0x1000, HV, "after the table");
	cr_assert_eq(rmp_update(r, &w, rmp_base(r), &in, &res), RMP_RC_FAIL_PERMISSION);
	cr_assert_eq(rmp_check_host(r, &w, rmp_base(r) + 0x4000, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	rmp_test_free(r, m);
}

/*
 * The table's own pages at any size: the entries in memory are exactly
 * those of marking each page with rmp_fw_write() (lo = assigned |
 * immutable, the 2M-base entry of each region counting the region's
 * table pages in hi[41:32]), every other entry of those regions is 0,
 * and pages outside the coverage have no entry.  Table-driven over
 * layouts whose ends fall inside 2M regions, on region boundaries, across
 * segments and outside the coverage.
 */
struct layout_case {
	char name[48];
	uint64_t mem;
	enum rmp_mode mode;
	uint64_t base;            /* 0: auto */
	uint64_t coverage;        /* contiguous */
	unsigned shift;           /* segmented */
	int uncovered;            /* segmented: -1 none */
};

static struct layout_case layout_cases[] = {
	{ "contiguous 1g, auto base (1 MiB into a region)", 1ull << 30, RMP_MODE_CONTIGUOUS,
	  0, 0, 0, -1 },
	{ "contiguous 1g, base on a 2M boundary", 1ull << 30, RMP_MODE_CONTIGUOUS,
	  512ull << 20, 0, 0, -1 },
	{ "contiguous 1g, table partly beyond the coverage", 1ull << 30, RMP_MODE_CONTIGUOUS,
	  766ull << 20, 768ull << 20, 0, -1 },
	{ "segmented 4g in 1g, table across segments 0-1", 4ull << 30, RMP_MODE_SEGMENTED,
	  (1ull << 30) - (7ull << 20), 0, 30, -1 },
	{ "segmented 4g in 1g, segment 1 not covered", 4ull << 30, RMP_MODE_SEGMENTED,
	  (1ull << 30) - (7ull << 20), 0, 30, 1 },
};

ParameterizedTestParameters(rmp, table_pages_layout)
{
	return cr_make_param_array(struct layout_case, layout_cases,
				   sizeof(layout_cases) / sizeof(layout_cases[0]));
}

ParameterizedTest(struct layout_case *lc, rmp, table_pages_layout)
{
	struct rmp_config cfg;
	struct sim_err err = { "" };
	struct sim_mem *m;
	struct rmp *r;
	uint64_t lo, hi, a, marked = 0;

	rmp_config_default(&cfg);
	cfg.mode = lc->mode;
	cfg.base = lc->base ? lc->base : RMP_NO_ADDR;
	cfg.coverage = lc->coverage;
	if (lc->shift)
		cfg.segment_shift = lc->shift;
	if (lc->uncovered >= 0)
		cfg.uncovered[0] = 1ull << lc->uncovered;
	m = sim_mem_new(lc->mem, MEM_LAT);
	r = rmp_new(m, &cfg, &err);
	cr_assert_not_null(r, "%s: %s", lc->name, err.msg);
	lo = rmp_base(r);
	hi = (rmp_end(r) | 0xfff) + 1;
	/* every page of every 2M region the table touches, and one region either side */
	for (uint64_t p = (lo & ~(SIM_SZ_2M - 1)) - SIM_SZ_2M; p < ((hi + SIM_SZ_2M - 1) &
	     ~(SIM_SZ_2M - 1)) + SIM_SZ_2M; p += SIM_SZ_4K) {
		bool table = p >= lo && p < hi;
		uint64_t want_lo = table ? 0x5 : 0, want_hi = 0;

		if (!rmp_entry_addr(r, p, &a))
			continue;
		if (!(p & (SIM_SZ_2M - 1))) {
			uint64_t n = 0;

			for (uint64_t q = p; q < p + SIM_SZ_2M; q += SIM_SZ_4K)
				n += q >= lo && q < hi && rmp_is_covered(r, q);
			want_hi = n << 32;
		}
		marked += table;
		cr_assert_eq(sim_mem_peek64(m, a), want_lo, "%s: spa=0x%llx lo=0x%llx", lc->name,
			     (unsigned long long)p, (unsigned long long)sim_mem_peek64(m, a));
		cr_assert_eq(sim_mem_peek64(m, a + 8), want_hi, "%s: spa=0x%llx hi=0x%llx", lc->name,
			     (unsigned long long)p, (unsigned long long)sim_mem_peek64(m, a + 8));
	}
	cr_assert_gt(marked, 0, "%s: some table page is covered", lc->name);
	if (lc->uncovered == 1)
		cr_assert_not(rmp_is_covered(r, 1ull << 30), "%s", lc->name);
	rmp_test_free(r, m);
}

/*
 * Creating the table costs host memory for the partial 2M regions at its
 * ends only (at most two entry frames each), not for its size: a 1 TiB
 * machine's 4 GiB table and a 4 PiB machine's 16 TiB one.
 */
Test(rmp, table_pages_cost_no_host_memory)
{
	static const uint64_t sizes[] = { 1ull << 40, SIM_PA_LIMIT };

	for (unsigned i = 0; i < 2; i++) {
		struct rmp_config cfg;
		struct sim_err err = { "" };
		struct sim_mem *m = sim_mem_new(sizes[i], MEM_LAT);
		struct rmp *r;
		struct rmp_entry e;
		uint64_t mid;

		rmp_config_default(&cfg);
		r = rmp_new(m, &cfg, &err);
		cr_assert_not_null(r, "%s", err.msg);
		cr_assert_leq(sim_mem_frames(m), 4, "mem 0x%llx: %llu frames",
			      (unsigned long long)sizes[i], (unsigned long long)sim_mem_frames(m));
		mid = ((rmp_base(r) + rmp_end(r)) / 2) & ~(SIM_SZ_2M - 1);
		cr_assert(rmp_entry_get(r, mid, &e));
		cr_assert(e.assigned && e.immutable && !e.asid && !e.validated && !e.page_2m);
		cr_assert(e.hpage_region_status);
		cr_assert_eq(e.raw_hi, 512ull << 32, "the 2M-base entry counts 512 table pages");
		rmp_test_free(r, m);
	}
}

/*
 * Table pages inside whole regions behave as the others: RMPREAD reports
 * firmware-owned with the same raw bytes and memory cycles, RMPUPDATE
 * fails with FAIL_PERMISSION, a host write faults; a firmware write to
 * one of them changes that entry and the region count only, allocating
 * the entry frames it writes.
 */
Test(rmp, table_pages_in_whole_regions)
{
	struct rmp_config cfg;
	struct sim_err err = { "" };
	struct sim_mem *m = sim_mem_new(1ull << 30, MEM_LAT);
	struct rmp *r;
	struct sim_who w1 = who_at(0, 0), w2 = who_at(0, 0);
	struct rmp_result res;
	struct rmp_read_out o1, o2;
	struct rmp_update_in in = { 0 };
	struct rmp_entry hv = { .perms = { RMP_PERM_ALL } }, e;
	struct rmp_fault f;
	uint64_t whole, part, frames, a, ab;

	rmp_config_default(&cfg);
	r = rmp_new(m, &cfg, &err);
	cr_assert_not_null(r, "%s", err.msg);
	/* base = 1019 MiB: its region is partial, the next one whole */
	cr_assert_eq(rmp_base(r), 1019ull << 20);
	part = rmp_base(r) + 0x3000;
	whole = (1020ull << 20) + 0x101000;   /* second entry frame of a whole region */
	cr_assert_eq(rmp_read(r, &w1, part, &o1, &res), RMP_RC_SUCCESS);
	cr_assert_eq(rmp_read(r, &w2, whole, &o2, &res), RMP_RC_SUCCESS);
	cr_assert(o2.ent.assigned && o2.ent.immutable && !o2.ent.asid && !o2.ent.validated);
	cr_assert(o2.ent.hpage_region_status);
	cr_assert_eq(memcmp(o1.raw, o2.raw, 16), 0, "same RMPREAD bytes");
	cr_assert_eq(w1.mem_cycles, w2.mem_cycles, "same entry reads");
	cr_assert_eq(rmp_update(r, &w2, whole, &in, &res), RMP_RC_FAIL_PERMISSION);
	cr_assert_eq(rmp_check_host(r, &w2, whole, true, SIM_SZ_4K, &f), RMP_FAULT_PF);
	/* firmware gives one page back: its entry and the count change, nothing else */
	frames = sim_mem_frames(m);
	cr_assert_eq(rmp_fw_write(r, whole, &hv), RMP_RC_SUCCESS);
	cr_assert_eq(sim_mem_frames(m), frames + 2, "the page's entry frame and the base's");
	cr_assert(rmp_entry_addr(r, whole, &a));
	cr_assert(rmp_entry_addr(r, whole & ~(SIM_SZ_2M - 1), &ab));
	for (uint64_t q = ab; q < ab + 512 * 16; q += 16) {
		cr_assert_eq(sim_mem_peek64(m, q), q == a ? 0 : 0x5, "entry 0x%llx",
			     (unsigned long long)q);
		cr_assert_eq(sim_mem_peek64(m, q + 8), q == ab ? 511ull << 32 : 0);
	}
	cr_assert(rmp_entry_get(r, whole + 0x1000, &e));
	cr_assert(e.assigned && e.immutable, "the next page stays firmware");
	rmp_test_free(r, m);
}

/* SNP off (or no model): instructions #UD, checks pass, VMRUN marks nothing. */
Test(rmp, mode_off)
{
	struct rmp_config cfg;
	struct sim_mem *m;
	struct rmp *r, *off;
	struct sim_who w = who_at(0, 0);
	struct rmp_result res;
	struct rmp_update_in in = { .gpa = 0, .assigned = 1, .asid = 1 };
	struct rmp_gpage pg = PG(1, 0, 0, 0, SIM_SZ_4K);
	struct rmp_read_out out;
	struct rmp_fault f;
	struct rmp_vmrun_in vr = { 1, 0x1000, 0x2000, RMP_NO_ADDR, RMP_NO_ADDR };
	struct rmp_gaccess ga = { .asid = 1, .kind = RMP_ACC_WRITE, .c_bit = 1, .snp = 1,
				  .map_size = SIM_SZ_4K };

	rmp_config_default(&cfg);
	cfg.mode = RMP_MODE_OFF;
	off = r = rmp_test_new(&m, &cfg);
	for (int k = 0; k < 2; k++, r = NULL) {
		cr_assert_not(rmp_enabled(r));
		cr_assert_eq(rmp_update(r, &w, 0, &in, &res), RMP_RC_FAULT);
		cr_assert_eq(res.fault.kind, RMP_FAULT_UD);
		cr_assert_eq(rmp_psmash(r, &w, 0, &res), RMP_RC_FAULT);
		cr_assert_eq(res.fault.kind, RMP_FAULT_UD);
		cr_assert_eq(rmp_pvalidate(r, &w, &pg, false, true, &res), RMP_RC_FAULT);
		cr_assert_eq(res.fault.kind, RMP_FAULT_UD);
		cr_assert_eq(rmp_adjust(r, &w, &pg, false, 1, 0, false, &res), RMP_RC_FAULT);
		cr_assert_eq(res.fault.kind, RMP_FAULT_UD);
		cr_assert_eq(rmp_query(r, &w, &pg, &res), RMP_RC_FAULT);
		cr_assert_eq(res.fault.kind, RMP_FAULT_UD);
		cr_assert_eq(rmp_read(r, &w, 0, &out, &res), RMP_RC_FAULT);
		cr_assert_eq(res.fault.kind, RMP_FAULT_UD);
		cr_assert_eq(rmp_check_host(r, &w, 0, true, SIM_SZ_2M, &f), RMP_FAULT_NONE);
		cr_assert_eq(rmp_check_guest(r, &w, &ga, &f), RMP_FAULT_NONE);
		cr_assert_eq(rmp_check_dma(r, &w, 0, true, &f), RMP_FAULT_NONE);
		cr_assert_eq(rmp_vmrun(r, &w, &vr, &f), RMP_FAULT_NONE);
		cr_assert_eq(rmp_in_use(r, 0x2000), -1);
		cr_assert_eq(rmp_vmexit(r, &w), 0);
		cr_assert_not(rmp_is_covered(r, 0));
		cr_assert_eq(w.mem_cycles, 0);
	}
	cr_assert_eq(rmp_counters(off)->insn_fault[RMP_INSN_RMPUPDATE], 1);
	cr_assert_eq(sim_mem_frames(m), 0, "SNP off touches no memory");
	rmp_test_free(off, m);
}

/* ---- tables and names ---- */

Test(rmp, names_and_rc_tables)
{
	static const char *const names[] = { "rmpupdate", "psmash", "pvalidate", "rmpadjust",
					     "rmpquery", "rmpread" };

	cr_assert_eq(sizeof(names) / sizeof(names[0]), RMP_INSN_COUNT);
	for (unsigned i = 0; i < RMP_INSN_COUNT; i++) {
		cr_assert_str_eq(rmp_insn_name((enum rmp_insn)i), names[i]);
		cr_assert(rmp_insn_rc_mask((enum rmp_insn)i) & 1u, "every insn can succeed");
		cr_assert_eq(rmp_insn_rc_mask((enum rmp_insn)i) & ~0x5fu, 0, "codes 0..4, 6 only");
	}
	cr_assert_str_eq(rmp_insn_name(RMP_INSN_COUNT), "?");
	cr_assert_eq(RMP_RC_SUCCESS, 0);
	cr_assert_eq(RMP_RC_FAIL_INPUT, 1);
	cr_assert_eq(RMP_RC_FAIL_PERMISSION, 2);
	cr_assert_eq(RMP_RC_FAIL_INUSE, 3);
	cr_assert_eq(RMP_RC_FAIL_OVERLAP, 4);
	cr_assert_eq(RMP_RC_FAIL_BADADDR, 4);
	cr_assert_eq(RMP_RC_FAIL_SIZEMISMATCH, 6);
	cr_assert_str_eq(rmp_rc_name(RMP_INSN_RMPUPDATE, RMP_RC_FAIL_OVERLAP), "FAIL_OVERLAP");
	cr_assert_str_eq(rmp_rc_name(RMP_INSN_PSMASH, RMP_RC_FAIL_BADADDR), "FAIL_BADADDR");
	cr_assert_str_eq(rmp_rc_name(RMP_INSN_PVALIDATE, RMP_RC_FAIL_SIZEMISMATCH),
			 "FAIL_SIZEMISMATCH");
	cr_assert_str_eq(rmp_rc_name(RMP_INSN_PVALIDATE, (enum rmp_rc)5), "?");
	cr_assert(rmp_insn_rc_mask(RMP_INSN_PSMASH) & (1u << RMP_RC_FAIL_BADADDR));
	cr_assert_not(rmp_insn_rc_mask(RMP_INSN_PSMASH) & (1u << RMP_RC_FAIL_SIZEMISMATCH));
	cr_assert_not(rmp_insn_rc_mask(RMP_INSN_PVALIDATE) & (1u << RMP_RC_FAIL_PERMISSION));
}

struct fcase {
	struct rmp_fault f;
	char tok[40];
};

static struct fcase fcases[] = {
	{ { RMP_FAULT_NONE, 0, 0, false }, "OK" },
	{ { RMP_FAULT_PF, RMP_PF_P | RMP_PF_W | RMP_PF_RMP, 0, false }, "#PF(W,RMP)" },
	{ { RMP_FAULT_PF, RMP_PF_P | RMP_PF_W | RMP_PF_U | RMP_PF_ID | RMP_PF_RMP, 0, false },
	  "#PF(W,U,ID,RMP)" },
	{ { RMP_FAULT_PF, 0, 0, false }, "#PF" },
	{ { RMP_FAULT_NPF, RMP_NPF_P | RMP_NPF_W | RMP_NPF_RMP | RMP_NPF_ENC | RMP_NPF_FINAL |
			   RMP_NPF_SIZEM, 0, false }, "#NPF(W,RMP,ENC,FINAL,SIZEM)" },
	{ { RMP_FAULT_NPF, RMP_NPF_P | RMP_NPF_RMP | RMP_NPF_PAGE | RMP_NPF_VMPL | RMP_NPF_SSS |
			   RMP_NPF_U | RMP_NPF_ID, 0, true }, "#NPF(U,ID,RMP,PAGE,VMPL,SSS)" },
	{ { RMP_FAULT_VC, RMP_VC_NOT_VALIDATED, 0, false }, "#VC(0x404)" },
	{ { RMP_FAULT_GP, 0, 0, false }, "#GP" },
	{ { RMP_FAULT_UD, 0, 0, false }, "#UD" },
	{ { RMP_FAULT_VMEXIT_INVALID, 0, 0, false }, "VMEXIT_INVALID" },
	{ { RMP_FAULT_IOMMU, RMP_PF_W, 0, false }, "IO_PAGE_FAULT(RMP)" },
};

ParameterizedTestParameters(rmp, fault_format)
{
	return cr_make_param_array(struct fcase, fcases, sizeof(fcases) / sizeof(fcases[0]));
}

ParameterizedTest(struct fcase *c, rmp, fault_format)
{
	char buf[128], small[6];
	int n = rmp_fault_format(&c->f, buf, sizeof(buf));

	cr_assert_str_eq(buf, c->tok);
	cr_assert_eq(n, (int)strlen(c->tok));
	cr_assert_eq(rmp_fault_format(&c->f, small, sizeof(small)), n, "snprintf-like length");
	cr_assert_eq(strlen(small), strlen(c->tok) < 5 ? strlen(c->tok) : 5);
}

Test(rmp, update_in_decode)
{
	static const uint8_t raw[16] = { 0x00, 0x10, 0x00, 0x40, 0, 0, 0, 0, 1, 1, 0, 0,
					 0x2a, 0x01, 0, 0 };
	uint8_t bad[16];
	struct rmp_update_in in;

	rmp_update_in_decode(raw, &in);
	cr_assert_eq(in.gpa, 0x40001000);
	cr_assert(in.assigned && in.page_2m && !in.immutable);
	cr_assert_eq(in.asid, 0x12a);
	cr_assert_eq(in.reserved, 0);
	memcpy(bad, raw, 16);
	bad[11] = 1;
	rmp_update_in_decode(bad, &in);
	cr_assert_neq(in.reserved, 0);
	memcpy(bad, raw, 16);
	bad[10] = 2;
	rmp_update_in_decode(bad, &in);
	cr_assert_neq(in.reserved, 0);
}
