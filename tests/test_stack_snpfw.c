/*
 * test_stack_snpfw.c - the SNP firmware model of a guest launch: every
 * state transition of a guest context and the status of each command in
 * each state, every refusal of SNP_LAUNCH_UPDATE (nothing changed), the
 * RMP entry and contents each page type leaves, a range stopping at its
 * first bad page with its latency, SNP_ACTIVATE's ASID rules, the
 * context page's life, and the launch digest against a known answer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "sim/stack/stack_int.h"

#define ASID 5u
#define SPA  0x10000000ull          /* guest pages used by the tests (RMP-covered RAM) */
#define GPA  0x10000ull
/* see each_page_type_leaves_its_entry_and_contents */
#define VMPCK0_HEX "b651923d15f8f83e2918fac314207df9ecfa153616a673104875934fe9f25482"

static struct sim *machine(void)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;

	cr_assert(!sim_start(s, &err), "%s", err.msg);
	return s;
}

static struct stack_snp_fw *fw_of(struct sim *s)
{
	return stack_get(s)->snp_fw;
}

/* The hypervisor makes @spa Pre-Guest for @asid at @gpa (KVM: rmp_make_private(..., true)). */
static void pre_guest(struct sim *s, uint64_t spa, uint32_t asid, uint64_t gpa)
{
	struct rmp_update_in in = { .gpa = gpa, .assigned = true, .immutable = true, .asid = asid };
	struct sim_who who = { .now = 0, .agent = -1 };
	struct rmp_result res;

	cr_assert_eq(rmp_update(stack_get(s)->rmp, &who, spa, &in, &res), RMP_RC_SUCCESS,
		     "RMPUPDATE of 0x%llx", (unsigned long long)spa);
}

static void set_entry(struct sim *s, uint64_t spa, const struct rmp_entry *e)
{
	cr_assert_eq(rmp_fw_write(stack_get(s)->rmp, spa, e), RMP_RC_SUCCESS);
}

static struct rmp_entry entry(struct sim *s, uint64_t spa)
{
	struct rmp_entry e;

	cr_assert(rmp_entry_get(stack_get(s)->rmp, spa, &e));
	return e;
}

static void assert_same_entry(const struct rmp_entry *a, const struct rmp_entry *b, const char *what)
{
	cr_assert(a->raw_lo == b->raw_lo && a->raw_hi == b->raw_hi,
		  "%s: entry changed: %016llx:%016llx -> %016llx:%016llx", what,
		  (unsigned long long)a->raw_lo, (unsigned long long)a->raw_hi,
		  (unsigned long long)b->raw_lo, (unsigned long long)b->raw_hi);
}

/* A launched guest: context, LAUNCH_START, ACTIVATE(ASID). */
static struct stack_snp_guest *launched(struct sim *s)
{
	struct stack_snp_guest *g;

	cr_assert_eq(stack_snp_gctx_create(fw_of(s), &g, NULL), STACK_SNP_SUCCESS);
	cr_assert_eq(stack_snp_launch_start(g, STACK_SNP_POLICY_DEFAULT, NULL), STACK_SNP_SUCCESS);
	cr_assert_eq(stack_snp_activate(g, ASID, NULL), STACK_SNP_SUCCESS);
	return g;
}

static enum stack_snp_status update1(struct stack_snp_guest *g, uint64_t spa, uint64_t gpa,
				     enum stack_snp_page_type type, uint64_t *done)
{
	struct stack_snp_update u = { .spa = spa, .gpa = gpa, .npages = 1, .type = type };

	return stack_snp_launch_update(g, &u, done, NULL);
}

/* ------------------------------------------------------------------ */
/* Guest states: every command in every state                          */
/* ------------------------------------------------------------------ */

enum from { F_INIT, F_LAUNCH_NOASID, F_LAUNCH, F_RUNNING };
enum cmd { C_START, C_ACTIVATE, C_UPDATE, C_FINISH };

struct trans {
	enum from from;
	enum cmd cmd;
	enum stack_snp_status want;
	enum stack_snp_gstate after;
};

static const struct trans trans[] = {
	{ F_INIT, C_START, STACK_SNP_SUCCESS, STACK_SNP_GSTATE_LAUNCH },
	{ F_INIT, C_ACTIVATE, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_INIT },
	{ F_INIT, C_UPDATE, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_INIT },
	{ F_INIT, C_FINISH, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_INIT },
	{ F_LAUNCH_NOASID, C_START, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH_NOASID, C_ACTIVATE, STACK_SNP_SUCCESS, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH_NOASID, C_UPDATE, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH_NOASID, C_FINISH, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH, C_START, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH, C_ACTIVATE, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH, C_UPDATE, STACK_SNP_SUCCESS, STACK_SNP_GSTATE_LAUNCH },
	{ F_LAUNCH, C_FINISH, STACK_SNP_SUCCESS, STACK_SNP_GSTATE_RUNNING },
	{ F_RUNNING, C_START, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_RUNNING },
	{ F_RUNNING, C_ACTIVATE, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_RUNNING },
	{ F_RUNNING, C_UPDATE, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_RUNNING },
	{ F_RUNNING, C_FINISH, STACK_SNP_INVALID_GUEST_STATE, STACK_SNP_GSTATE_RUNNING },
};

Test(snpfw, every_command_in_every_state)
{
	for (size_t i = 0; i < sizeof(trans) / sizeof(trans[0]); i++) {
		const struct trans *t = &trans[i];
		struct sim *s = machine();
		struct stack_snp_fw *fw = fw_of(s);
		struct stack_snp_guest *g;
		uint8_t digest[STACK_SNP_DIGEST_SIZE];
		struct rmp_entry before, after;
		enum stack_snp_status st = STACK_SNP_SUCCESS;
		uint64_t done = 99, cmds;

		cr_assert_eq(stack_snp_gctx_create(fw, &g, NULL), STACK_SNP_SUCCESS);
		if (t->from != F_INIT)
			cr_assert_eq(stack_snp_launch_start(g, STACK_SNP_POLICY_DEFAULT, NULL), 0);
		if (t->from == F_LAUNCH || t->from == F_RUNNING)
			cr_assert_eq(stack_snp_activate(g, ASID, NULL), 0);
		if (t->from == F_RUNNING)
			cr_assert_eq(stack_snp_launch_finish(g, NULL), 0);
		pre_guest(s, SPA, ASID, GPA);
		before = entry(s, SPA);
		memcpy(digest, stack_snp_digest(g), sizeof(digest));
		cmds = stack_snp_fw_stats(fw)->commands;
		switch (t->cmd) {
		case C_START: st = stack_snp_launch_start(g, STACK_SNP_POLICY_DEFAULT, NULL); break;
		case C_ACTIVATE: st = stack_snp_activate(g, ASID + 1, NULL); break;
		case C_UPDATE: st = update1(g, SPA, GPA, STACK_SNP_PAGE_NORMAL, &done); break;
		case C_FINISH: st = stack_snp_launch_finish(g, NULL); break;
		}
		cr_assert_eq(st, t->want, "case %zu: %s, want %s", i, stack_snp_status_name(st),
			     stack_snp_status_name(t->want));
		cr_assert_eq(stack_snp_gstate(g), t->after, "case %zu: state %s", i,
			     stack_snp_gstate_names[stack_snp_gstate(g)]);
		cr_assert_eq(stack_snp_fw_stats(fw)->commands, cmds + 1, "case %zu: one command", i);
		after = entry(s, SPA);
		if (t->cmd == C_UPDATE && st == STACK_SNP_SUCCESS) {
			cr_assert_eq(done, 1);
			cr_assert(after.validated && !after.immutable, "case %zu", i);
			cr_assert_neq(memcmp(digest, stack_snp_digest(g), sizeof(digest)), 0);
		} else {
			if (t->cmd == C_UPDATE)
				cr_assert_eq(done, 0, "case %zu: done %llu", i, (unsigned long long)done);
			assert_same_entry(&before, &after, "refused or not an update");
			if (t->cmd != C_START || st != STACK_SNP_SUCCESS)
				cr_assert_eq(memcmp(digest, stack_snp_digest(g), sizeof(digest)), 0,
					     "case %zu: digest changed", i);
		}
		if (t->cmd == C_ACTIVATE)
			cr_assert_eq(stack_snp_asid(g), st == STACK_SNP_SUCCESS ? ASID + 1 :
				     t->from == F_INIT ? 0u : ASID, "case %zu", i);
		sim_free(s);
	}
}

Test(snpfw, launch_start_policy_without_the_must_be_one_bit)
{
	struct sim *s = machine();
	struct stack_snp_guest *g;

	cr_assert_eq(stack_snp_gctx_create(fw_of(s), &g, NULL), STACK_SNP_SUCCESS);
	cr_assert_eq(stack_snp_launch_start(g, 0x10000, NULL), STACK_SNP_POLICY_FAILURE);
	cr_assert_eq(stack_snp_gstate(g), STACK_SNP_GSTATE_INIT);
	cr_assert_eq(stack_snp_launch_start(g, 0x20000, NULL), STACK_SNP_SUCCESS);
	cr_assert_eq(stack_snp_policy(g), 0x20000);
	cr_assert_eq(stack_snp_fw_stats(fw_of(s))->failed, 1);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* LAUNCH_UPDATE refusals                                              */
/* ------------------------------------------------------------------ */

struct bad {
	const char *name;
	struct rmp_entry ent;      /* the page's entry before (written untimed) */
	uint64_t spa, gpa;         /* request; 0: SPA / GPA */
	int type;                  /* 0: normal */
	uint8_t perm3;             /* VMPL3 permissions asked */
	uint32_t cpuid_count;      /* written in the page first */
	enum stack_snp_status want;
};

#define PREG(asid_, gpa_) { .assigned = true, .immutable = true, .asid = (asid_), .gpa = (gpa_) }

static const struct bad bads[] = {
	{ "hypervisor-owned", { 0 }, 0, 0, 0, 0, 0, STACK_SNP_INVALID_PAGE_STATE },
	{ "guest-invalid (mutable)", { .assigned = true, .asid = ASID, .gpa = GPA }, 0, 0, 0, 0, 0,
	  STACK_SNP_INVALID_PAGE_STATE },
	{ "guest-valid", { .assigned = true, .validated = true, .asid = ASID, .gpa = GPA }, 0, 0, 0,
	  0, 0, STACK_SNP_INVALID_PAGE_STATE },
	{ "pre-guest but validated", { .assigned = true, .immutable = true, .validated = true,
	  .asid = ASID, .gpa = GPA }, 0, 0, 0, 0, 0, STACK_SNP_INVALID_PAGE_STATE },
	{ "pre-guest VMSA", { .assigned = true, .immutable = true, .vmsa = true, .asid = ASID,
	  .gpa = GPA }, 0, 0, 0, 0, 0, STACK_SNP_INVALID_PAGE_STATE },
	{ "another guest's", PREG(ASID + 1, GPA), 0, 0, 0, 0, 0, STACK_SNP_INVALID_PAGE_OWNER },
	{ "firmware page", PREG(0, 0), 0, 0, 0, 0, 0, STACK_SNP_INVALID_PAGE_OWNER },
	{ "another GPA", PREG(ASID, GPA + 0x1000), 0, 0, 0, 0, 0, STACK_SNP_INVALID_PAGE_STATE },
	{ "2M entry", { .assigned = true, .immutable = true, .page_2m = true, .asid = ASID,
	  .gpa = 0x200000 }, 0, 0x200000, 0, 0, 0, STACK_SNP_INVALID_PAGE_SIZE },
	{ "SPA misaligned", PREG(ASID, GPA), SPA + 8, 0, 0, 0, 0, STACK_SNP_INVALID_ADDRESS },
	{ "GPA misaligned", PREG(ASID, GPA), 0, GPA + 8, 0, 0, 0, STACK_SNP_INVALID_ADDRESS },
	{ "GPA beyond 2^51", PREG(ASID, GPA), 0, 1ull << 51, 0, 0, 0, STACK_SNP_INVALID_ADDRESS },
	{ "SPA not covered", PREG(ASID, GPA), 1ull << 50, 0, 0, 0, 0, STACK_SNP_INVALID_ADDRESS },
	{ "page type 0", PREG(ASID, GPA), 0, 0, 0x100, 0, 0, STACK_SNP_INVALID_PARAM },
	{ "page type 7", PREG(ASID, GPA), 0, 0, 7, 0, 0, STACK_SNP_INVALID_PARAM },
	{ "reserved permission bits", PREG(ASID, GPA), 0, 0, 0, 0x20, 0, STACK_SNP_INVALID_PARAM },
	{ "CPUID page of 65 functions", PREG(ASID, GPA), 0, 0, STACK_SNP_PAGE_CPUID, 0, 65,
	  STACK_SNP_INVALID_PARAM },
};

Test(snpfw, launch_update_refusals_change_nothing)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct sim *s = machine();
		struct stack_snp_guest *g = launched(s);
		uint64_t spa = SPA, done = 7, cycles = 0;
		uint8_t digest[STACK_SNP_DIGEST_SIZE], page[SIM_PAGE_SIZE], now[SIM_PAGE_SIZE];
		struct stack_snp_update u = {
			.spa = b->spa ? b->spa : spa, .gpa = b->gpa ? b->gpa : GPA, .npages = 1,
			.type = b->type == 0x100 ? 0 : b->type ? b->type : STACK_SNP_PAGE_NORMAL,
			.vmpl_perms = { 0, 0, 0, b->perm3 },
		};
		struct rmp_entry before, after;
		enum stack_snp_status st;

		set_entry(s, spa, &b->ent);
		for (size_t k = 0; k < sizeof(page); k++)
			page[k] = (uint8_t)(k * 13 + 1);
		memcpy(page, &b->cpuid_count, sizeof(b->cpuid_count));
		sim_mem_poke(stack_get(s)->mem, spa, page, sizeof(page));
		before = entry(s, spa);
		memcpy(digest, stack_snp_digest(g), sizeof(digest));
		st = stack_snp_launch_update(g, &u, &done, &cycles);
		cr_assert_eq(st, b->want, "%s: %s", b->name, stack_snp_status_name(st));
		cr_assert_eq(done, 0, "%s", b->name);
		cr_assert_eq(cycles, sim_cfg_u64(s, "lat.stack.fw_cmd"), "%s: one command's latency",
			     b->name);
		after = entry(s, spa);
		assert_same_entry(&before, &after, b->name);
		cr_assert_eq(memcmp(digest, stack_snp_digest(g), sizeof(digest)), 0, "%s", b->name);
		sim_mem_peek(stack_get(s)->mem, spa, now, sizeof(now));
		cr_assert_eq(memcmp(page, now, sizeof(now)), 0, "%s: contents changed", b->name);
		cr_assert_eq(stack_snp_errno(b->want), -EIO);
		sim_free(s);
	}
}

/* ------------------------------------------------------------------ */
/* What each page type leaves                                          */
/* ------------------------------------------------------------------ */

enum content { K_KEPT, K_ZERO, K_SECRETS };

struct kind {
	enum stack_snp_page_type type;
	uint64_t gpa;
	uint8_t p1, p2, p3;
	bool vmsa;
	enum content content;
};

static const struct kind kinds[] = {
	{ STACK_SNP_PAGE_NORMAL, GPA, 0, 0, 0, false, K_KEPT },
	{ STACK_SNP_PAGE_NORMAL, GPA, 0x03, 0x01, 0x1f, false, K_KEPT },
	{ STACK_SNP_PAGE_VMSA, STACK_SNP_VMSA_GPA, 0, 0, 0, true, K_KEPT },
	{ STACK_SNP_PAGE_ZERO, GPA, 0, 0, 0, false, K_ZERO },
	{ STACK_SNP_PAGE_UNMEASURED, GPA, 0, 0, 0, false, K_KEPT },
	{ STACK_SNP_PAGE_SECRETS, GPA, 0, 0, 0, false, K_SECRETS },
	{ STACK_SNP_PAGE_CPUID, GPA, 0, 0, 0, false, K_KEPT },
};

Test(snpfw, each_page_type_leaves_its_entry_and_contents)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct kind *k = &kinds[i];
		struct sim *s = machine();
		struct stack_snp_guest *g = launched(s);
		struct stack_snp_update u = {
			.spa = SPA, .gpa = k->gpa, .npages = 1, .type = k->type,
			.vmpl_perms = { 0, k->p1, k->p2, k->p3 },
		};
		uint8_t page[SIM_PAGE_SIZE], now[SIM_PAGE_SIZE];
		uint64_t done = 0;
		struct rmp_entry e;
		const char *n = stack_snp_page_type_name(k->type);

		memset(page, 0xee, sizeof(page));
		page[0] = 2;            /* a CPUID page's count: 2 functions */
		page[1] = page[2] = page[3] = 0;
		sim_mem_poke(stack_get(s)->mem, SPA, page, sizeof(page));
		pre_guest(s, SPA, ASID, k->gpa);
		cr_assert_eq(stack_snp_launch_update(g, &u, &done, NULL), STACK_SNP_SUCCESS, "%s", n);
		cr_assert_eq(done, 1);
		e = entry(s, SPA);
		cr_assert(e.assigned && !e.page_2m && !e.immutable && e.validated, "%s", n);
		cr_assert_eq(e.vmsa, k->vmsa, "%s: vmsa", n);
		cr_assert_eq(e.asid, ASID, "%s", n);
		cr_assert_eq(e.gpa, k->gpa, "%s: gpa 0x%llx", n, (unsigned long long)e.gpa);
		cr_assert(e.perms[0] == RMP_PERM_ALL && e.perms[1] == k->p1 && e.perms[2] == k->p2 &&
			  e.perms[3] == k->p3, "%s: perms %x %x %x", n, e.perms[1], e.perms[2], e.perms[3]);
		sim_mem_peek(stack_get(s)->mem, SPA, now, sizeof(now));
		switch (k->content) {
		case K_KEPT:
			cr_assert_eq(memcmp(page, now, sizeof(now)), 0, "%s: contents kept", n);
			break;
		case K_ZERO:
			for (size_t b = 0; b < sizeof(now); b++)
				cr_assert_eq(now[b], 0, "%s: byte %zu", n, b);
			break;
		case K_SECRETS:
			/*
			 * VERSION 3, FMS 0x00a00f11, VMPCK0 = SHA-384("protsim vmpck" || 0 ||
			 * 05 00 00 00)[0:32]: python3 -c 'import hashlib; print(hashlib.sha384(
			 * b"protsim vmpck\x00\x05\x00\x00\x00").hexdigest()[:64])'
			 */
			{
				static const uint8_t head[16] = { 3, 0, 0, 0, 0, 0, 0, 0,
								  0x11, 0x0f, 0xa0, 0, 0, 0, 0, 0 };
				static const char vmpck0[] = VMPCK0_HEX;
				char hex[65];

				cr_assert_eq(memcmp(now, head, sizeof(head)), 0, "secrets: header");
				for (unsigned b = 0; b < 32; b++)
					snprintf(hex + 2 * b, 3, "%02x", now[0x20 + b]);
				cr_assert_str_eq(hex, vmpck0);
				for (size_t b = 0xa0; b < sizeof(now); b++)
					cr_assert_eq(now[b], 0, "secrets: byte 0x%zx", b);
			}
			break;
		}
		cr_assert_eq(stack_snp_fw_stats(fw_of(s))->pages, 1);
		sim_free(s);
	}
}

/* A range: per-page commands, stopping at the first page that is not Pre-Guest. */
Test(snpfw, range_stops_at_its_first_bad_page)
{
	struct sim *s = machine();
	struct stack_snp_guest *g = launched(s);
	struct stack_snp_update u = { .spa = SPA, .gpa = GPA, .npages = 4, .type = STACK_SNP_PAGE_ZERO };
	uint64_t done = 0, cycles = 0, cmd = sim_cfg_u64(s, "lat.stack.fw_cmd"),
		 pg = sim_cfg_u64(s, "lat.stack.fw_page");
	struct rmp_entry third;

	cr_assert(cmd > 0 && pg > 0, "the profile gives both latencies");
	pre_guest(s, SPA, ASID, GPA);
	pre_guest(s, SPA + 0x1000, ASID, GPA + 0x1000);
	pre_guest(s, SPA + 0x3000, ASID, GPA + 0x3000);   /* the third page stays hypervisor-owned */
	third = entry(s, SPA + 0x2000);
	cr_assert_eq(stack_snp_launch_update(g, &u, &done, &cycles), STACK_SNP_INVALID_PAGE_STATE);
	cr_assert_eq(done, 2);
	cr_assert_eq(cycles, 3 * cmd + 2 * pg, "cycles %llu", (unsigned long long)cycles);
	cr_assert(entry(s, SPA).validated && entry(s, SPA + 0x1000).validated);
	{
		struct rmp_entry e = entry(s, SPA + 0x2000);

		assert_same_entry(&third, &e, "third page");
	}
	cr_assert(entry(s, SPA + 0x3000).immutable && !entry(s, SPA + 0x3000).validated,
		  "the page after the failure is untouched");
	cr_assert_eq(stack_snp_fw_stats(fw_of(s))->commands, 3 + 3);
	cr_assert_eq(stack_snp_fw_stats(fw_of(s))->failed, 1);
	cr_assert_eq(stack_snp_fw_stats(fw_of(s))->pages, 2);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* The launch digest: a known answer                                   */
/* ------------------------------------------------------------------ */

/*
 * The expected digests were computed independently of this code with
 * Python's hashlib, building each PAGE_INFO by hand (ABI layout: digest,
 * contents, <H length 0x70, B type, B imi, B vmpl3, B vmpl2, B vmpl1,
 * B 0, <Q gpa) and hashing it with SHA-384:
 *
 *   import hashlib, struct
 *   def upd(ld, t, gpa, c, imi=0, p3=0, p2=0, p1=0):
 *       return hashlib.sha384(ld + c + struct.pack('<HBBBBBBQ', 0x70, t, imi,
 *                                                  p3, p2, p1, 0, gpa)).digest()
 *   Z = bytes(48); ld = Z
 *   normal = bytes(((i * 7 + 3) & 0xff) for i in range(4096))
 *   ld = upd(ld, 1, 0x10000, hashlib.sha384(normal).digest())     # AFTER_NORMAL
 *   ld = upd(ld, 3, 0x11000, Z)
 *   ld = upd(ld, 4, 0x12000, Z, imi=1, p3=0x0f, p2=0x01, p1=0x03)
 *   ld = upd(ld, 5, 0x13000, Z)
 *   ld = upd(ld, 6, 0x14000, Z)
 *   ld = upd(ld, 2, 0xfffffffff000, hashlib.sha384(bytes([0x5a]) * 4096).digest())
 *   print(ld.hex())                                               # FINAL
 */
#define AFTER_NORMAL "48993f667b2ef766532abfd1ea99e9371844d587bafbf2d8" \
		     "210348e38ccff328c309a6e2057aeb5c192b7f8022fd8467"
#define FINAL        "4c3b396f5d905386e57d42db5980fb4cf9ba682736e3af17" \
		     "6f4c6279c12ffc65c4d28829bace7341e0e9e4cf92bc03a8"

static void assert_digest(const struct stack_snp_guest *g, const char *want)
{
	char hex[2 * STACK_SNP_DIGEST_SIZE + 1];

	for (unsigned b = 0; b < STACK_SNP_DIGEST_SIZE; b++)
		snprintf(hex + 2 * b, 3, "%02x", stack_snp_digest(g)[b]);
	cr_assert_str_eq(hex, want);
}

Test(snpfw, launch_digest_known_answer)
{
	struct sim *s = machine();
	struct stack_snp_guest *g = launched(s);
	struct sim_mem *m = stack_get(s)->mem;
	uint8_t page[SIM_PAGE_SIZE];
	static const struct {
		enum stack_snp_page_type type;
		uint64_t gpa;
		bool imi;
		uint8_t p1, p2, p3;
	} seq[] = {
		{ STACK_SNP_PAGE_NORMAL, 0x10000, 0, 0, 0, 0 },
		{ STACK_SNP_PAGE_ZERO, 0x11000, 0, 0, 0, 0 },
		{ STACK_SNP_PAGE_UNMEASURED, 0x12000, 1, 0x03, 0x01, 0x0f },
		{ STACK_SNP_PAGE_SECRETS, 0x13000, 0, 0, 0, 0 },
		{ STACK_SNP_PAGE_CPUID, 0x14000, 0, 0, 0, 0 },
		{ STACK_SNP_PAGE_VMSA, STACK_SNP_VMSA_GPA, 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)((i * 7 + 3) & 0xff);
	sim_mem_poke(m, SPA, page, sizeof(page));
	memset(page, 0xee, sizeof(page));             /* garbage the zero page clears */
	sim_mem_poke(m, SPA + 0x1000, page, sizeof(page));
	memset(page, 0, sizeof(page));                /* an empty CPUID table */
	sim_mem_poke(m, SPA + 0x4000, page, sizeof(page));
	memset(page, 0x5a, sizeof(page));
	sim_mem_poke(m, SPA + 0x5000, page, sizeof(page));
	assert_digest(g, "000000000000000000000000000000000000000000000000"
			 "000000000000000000000000000000000000000000000000");
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		struct stack_snp_update u = {
			.spa = SPA + i * 0x1000, .gpa = seq[i].gpa, .npages = 1, .type = seq[i].type,
			.imi = seq[i].imi, .vmpl_perms = { 0, seq[i].p1, seq[i].p2, seq[i].p3 },
		};
		uint64_t done;

		pre_guest(s, u.spa, ASID, u.gpa);
		cr_assert_eq(stack_snp_launch_update(g, &u, &done, NULL), STACK_SNP_SUCCESS, "page %zu", i);
		if (i == 0)
			assert_digest(g, AFTER_NORMAL);
	}
	cr_assert_eq(stack_snp_launch_finish(g, NULL), STACK_SNP_SUCCESS);
	assert_digest(g, FINAL);
	sim_free(s);
}

Test(snpfw, page_info_layout)
{
	uint8_t d[STACK_SNP_DIGEST_SIZE], c[STACK_SNP_DIGEST_SIZE], out[STACK_SNP_PAGE_INFO_SIZE];
	static const uint8_t perms[4] = { 0, 0x11, 0x22, 0x33 };

	memset(d, 0xd1, sizeof(d));
	memset(c, 0xc2, sizeof(c));
	stack_snp_page_info(d, c, STACK_SNP_PAGE_CPUID, true, perms, 0x0123456789abc000ull, out);
	cr_assert_eq(memcmp(out, d, 48), 0);
	cr_assert_eq(memcmp(out + 0x30, c, 48), 0);
	{
		static const uint8_t tail[16] = { 0x70, 0x00, 6, 1, 0x33, 0x22, 0x11, 0,
						  0x00, 0xc0, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };

		cr_assert_eq(memcmp(out + 0x60, tail, sizeof(tail)), 0);
	}
}

/* ------------------------------------------------------------------ */
/* SNP_ACTIVATE, the context page, names                               */
/* ------------------------------------------------------------------ */

Test(snpfw, activate_asid_rules)
{
	struct sim *s = machine();
	struct stack_snp_fw *fw = fw_of(s);
	struct stack_snp_guest *a, *b;

	a = launched(s);
	cr_assert_eq(stack_snp_gctx_create(fw, &b, NULL), STACK_SNP_SUCCESS);
	cr_assert_eq(stack_snp_launch_start(b, STACK_SNP_POLICY_DEFAULT, NULL), STACK_SNP_SUCCESS);
	cr_assert_eq(stack_snp_activate(b, 0, NULL), STACK_SNP_INVALID_ASID);
	cr_assert_eq(stack_snp_activate(b, 1024, NULL), STACK_SNP_INVALID_ASID);
	cr_assert_eq(stack_snp_activate(b, ASID, NULL), STACK_SNP_ASID_OWNED);
	cr_assert_eq(stack_snp_asid(b), 0);
	stack_snp_decommission(a);
	cr_assert_eq(stack_snp_activate(b, ASID, NULL), STACK_SNP_SUCCESS, "free after decommission");
	cr_assert_eq(stack_snp_asid(b), ASID);
	sim_free(s);
}

Test(snpfw, context_page_is_a_firmware_page_until_decommission)
{
	struct sim *s = machine();
	struct stack *st = stack_get(s);
	struct stack_snp_fw *fw = st->snp_fw;
	struct stack_snp_guest *g;
	uint64_t pages = stack_palloc_stats(st->pool)->pages, cycles = 0, pa;
	struct rmp_entry e;
	uint64_t v = 0;

	cr_assert_eq(stack_snp_gctx_create(fw, &g, &cycles), STACK_SNP_SUCCESS);
	cr_assert_eq(cycles, sim_cfg_u64(s, "lat.stack.fw_cmd"));
	pa = stack_snp_gctx_page(g);
	cr_assert_eq(stack_palloc_state(st->pool, pa), STACK_PAGE_USED);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages + 1);
	e = entry(s, pa);
	cr_assert(e.assigned && e.immutable && e.asid == 0 && !e.validated, "firmware page");
	cr_assert(!sim_stat_get(s, "stack.snp_fw.guests", &v));
	cr_assert_eq(v, 1);
	cr_assert_eq(stack_snp_gstate(g), STACK_SNP_GSTATE_INIT);
	stack_snp_decommission(g);
	e = entry(s, pa);
	cr_assert(!e.assigned && !e.immutable && e.asid == 0, "reclaimed to the hypervisor");
	cr_assert_eq(stack_palloc_state(st->pool, pa), STACK_PAGE_FREE);
	cr_assert_eq(stack_palloc_stats(st->pool)->leaked, 0);
	cr_assert(!sim_stat_get(s, "stack.snp_fw.guests", &v));
	cr_assert_eq(v, 0);
	/* a context left at the end is decommissioned with the machine (ASan sees no leak) */
	cr_assert_eq(stack_snp_gctx_create(fw, &g, NULL), STACK_SNP_SUCCESS);
	sim_free(s);
}

Test(snpfw, no_context_without_snp)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;
	struct stack_snp_guest *g = (void *)1;

	cr_assert(!sim_cfg_set(s, "rmp.mode", "off", "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(s, &err), "%s", err.msg);
	cr_assert_eq(stack_snp_gctx_create(fw_of(s), &g, NULL), STACK_SNP_RESOURCE_LIMIT);
	cr_assert_null(g);
	sim_free(s);
}

Test(snpfw, names_and_errnos)
{
	static const struct {
		enum stack_snp_status st;
		const char *name;
		int err;
	} t[] = {
		{ STACK_SNP_SUCCESS, "SUCCESS", 0 },
		{ STACK_SNP_INVALID_GUEST_STATE, "INVALID_GUEST_STATE", -EIO },
		{ STACK_SNP_POLICY_FAILURE, "POLICY_FAILURE", -EIO },
		{ STACK_SNP_INVALID_ADDRESS, "INVALID_ADDRESS", -EIO },
		{ STACK_SNP_ASID_OWNED, "ASID_OWNED", -EIO },
		{ STACK_SNP_INVALID_ASID, "INVALID_ASID", -EIO },
		{ STACK_SNP_INVALID_PARAM, "INVALID_PARAM", -EIO },
		{ STACK_SNP_RESOURCE_LIMIT, "RESOURCE_LIMIT", -EIO },
		{ STACK_SNP_INVALID_PAGE_SIZE, "INVALID_PAGE_SIZE", -EIO },
		{ STACK_SNP_INVALID_PAGE_STATE, "INVALID_PAGE_STATE", -EIO },
		{ STACK_SNP_INVALID_PAGE_OWNER, "INVALID_PAGE_OWNER", -EIO },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_str_eq(stack_snp_status_name(t[i].st), t[i].name);
		cr_assert_eq(stack_snp_errno(t[i].st), t[i].err, "%s", t[i].name);
	}
	cr_assert_str_eq(stack_snp_status_name((enum stack_snp_status)0x99), "?");
	cr_assert_str_eq(stack_snp_page_type_name(STACK_SNP_PAGE_VMSA), "vmsa");
	cr_assert_str_eq(stack_snp_page_type_name((enum stack_snp_page_type)0), "?");
	cr_assert_str_eq(stack_snp_page_type_name((enum stack_snp_page_type)7), "?");
}

/* ------------------------------------------------------------------ */
/* SNP_PAGE_RECLAIM and KVM's population of a page                      */
/* ------------------------------------------------------------------ */

struct rec {
	const char *name;
	struct rmp_entry ent;
	uint64_t off;              /* added to SPA */
	enum stack_snp_status want;
};

static const struct rec recs[] = {
	{ "firmware page", { .assigned = true, .immutable = true }, 0, STACK_SNP_SUCCESS },
	{ "pre-guest page", PREG(ASID, GPA), 0, STACK_SNP_SUCCESS },
	{ "hypervisor-owned", { 0 }, 0, STACK_SNP_INVALID_PAGE_STATE },
	{ "guest-valid (mutable)", { .assigned = true, .validated = true, .asid = ASID, .gpa = GPA },
	  0, STACK_SNP_INVALID_PAGE_STATE },
	{ "2M firmware entry", { .assigned = true, .immutable = true, .page_2m = true }, 0,
	  STACK_SNP_INVALID_PAGE_SIZE },
	{ "misaligned", { .assigned = true, .immutable = true }, 8, STACK_SNP_INVALID_ADDRESS },
};

Test(snpfw, page_reclaim)
{
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		const struct rec *t = &recs[i];
		struct sim *s = machine();
		struct rmp_entry before, after;
		uint64_t cycles = 0;

		set_entry(s, SPA, &t->ent);
		before = entry(s, SPA);
		cr_assert_eq(stack_snp_page_reclaim(fw_of(s), SPA + t->off, &cycles), t->want, "%s",
			     t->name);
		cr_assert_eq(cycles, sim_cfg_u64(s, "lat.stack.fw_cmd"), "%s", t->name);
		after = entry(s, SPA);
		if (t->want == STACK_SNP_SUCCESS)
			cr_assert(after.assigned && !after.immutable && after.asid == 0 &&
				  after.gpa == 0 && !after.validated && !after.vmsa,
				  "%s: the Reclaim state", t->name);
		else
			assert_same_entry(&before, &after, t->name);
		sim_free(s);
	}
}

struct pop {
	const char *name;
	bool assigned_before;      /* the page is a guest's already */
	uint64_t spa;              /* 0: SPA */
	bool running;              /* the launch has finished */
	uint32_t cpuid_count;
	enum stack_snp_page_type type;
	int rc;
	enum stack_snp_status fw;
	bool taken;
};

static const struct pop pops[] = {
	{ "a shared page", false, 0, false, 0, STACK_SNP_PAGE_NORMAL, 0, STACK_SNP_SUCCESS, true },
	{ "a vmsa page", false, 0, false, 0, STACK_SNP_PAGE_VMSA, 0, STACK_SNP_SUCCESS, true },
	{ "already assigned", true, 0, false, 0, STACK_SNP_PAGE_NORMAL, -EEXIST, STACK_SNP_SUCCESS,
	  false },
	{ "not covered", false, 1ull << 50, false, 0, STACK_SNP_PAGE_NORMAL, -EINVAL,
	  STACK_SNP_SUCCESS, false },
	{ "firmware refuses the CPUID page", false, 0, false, 65, STACK_SNP_PAGE_CPUID, -EIO,
	  STACK_SNP_INVALID_PARAM, false },
	{ "launch finished", false, 0, true, 0, STACK_SNP_PAGE_NORMAL, -EIO,
	  STACK_SNP_INVALID_GUEST_STATE, false },
};

Test(snpfw, kvm_populate_one_page)
{
	for (size_t i = 0; i < sizeof(pops) / sizeof(pops[0]); i++) {
		const struct pop *t = &pops[i];
		struct sim *s = machine();
		struct stack_snp_guest *g = launched(s);
		struct stack_snp_update how = { .type = t->type };
		struct sim_who who = { .now = 0, .agent = -1 };
		uint64_t gpa = t->type == STACK_SNP_PAGE_VMSA ? STACK_SNP_VMSA_GPA : GPA;
		uint64_t cycles = 0, cmd = sim_cfg_u64(s, "lat.stack.fw_cmd"),
			 pg = sim_cfg_u64(s, "lat.stack.fw_page"), upd, want_cycles = 0;
		struct rmp_entry before, after;
		enum stack_snp_status fw = 0x77;
		uint8_t page[SIM_PAGE_SIZE] = { 0 };

		memcpy(page, &t->cpuid_count, sizeof(t->cpuid_count));
		sim_mem_poke(stack_get(s)->mem, SPA, page, sizeof(page));
		if (t->running)
			cr_assert_eq(stack_snp_launch_finish(g, NULL), STACK_SNP_SUCCESS);
		if (t->assigned_before)
			pre_guest(s, SPA, ASID, GPA);
		before = entry(s, SPA);
		cr_assert_eq(stack_snp_kvm_populate(g, &who, t->spa ? t->spa : SPA, gpa, &how, &fw,
						    &cycles), t->rc, "%s", t->name);
		cr_assert_eq(fw, t->fw, "%s: %s", t->name, stack_snp_status_name(fw));
		after = entry(s, SPA);
		upd = rmp_latency(stack_get(s)->rmp, RMP_INSN_RMPUPDATE, false, RMP_RC_SUCCESS);
		if (t->taken) {
			cr_assert(after.assigned && after.validated && !after.immutable &&
				  after.asid == ASID && after.gpa == gpa, "%s", t->name);
			cr_assert_eq(after.vmsa, t->type == STACK_SNP_PAGE_VMSA, "%s", t->name);
			want_cycles = upd + cmd + pg;
		} else if (t->rc == -EIO) {
			/* RMPUPDATE, the refused command, SNP_PAGE_RECLAIM, RMPUPDATE to shared */
			cr_assert(!after.assigned && !after.immutable && after.asid == 0,
				  "%s: back to the hypervisor", t->name);
			want_cycles = upd + cmd + cmd + upd;
		} else {
			assert_same_entry(&before, &after, t->name);
		}
		cr_assert_eq(cycles, want_cycles, "%s: cycles %llu", t->name,
			     (unsigned long long)cycles);
		cr_assert_eq(who.mem_cycles > 0, t->taken || t->rc == -EIO, "%s: entry accesses",
			     t->name);
		sim_free(s);
	}
}
