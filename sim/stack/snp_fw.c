/*
 * snp_fw.c - the SNP firmware (AMD Secure Processor) as the host drives it
 * to launch a guest: guest contexts, their states, LAUNCH_START,
 * ACTIVATE, LAUNCH_UPDATE (the firmware's own RMP transitions, page
 * contents by page type, the launch digest), LAUNCH_FINISH, DECOMMISSION.
 * Sources: the SEV Secure Nested Paging Firmware ABI Specification
 * (chapter 8, "Guest Management": SNP_GCTX_CREATE, SNP_LAUNCH_START,
 * SNP_ACTIVATE, SNP_LAUNCH_UPDATE with the PAGE_INFO structure,
 * SNP_LAUNCH_FINISH, SNP_DECOMMISSION; "Status Codes"), and the way KVM
 * issues them (arch/x86/kvm/svm/sev.c: snp_launch_start(),
 * snp_launch_update() / sev_gmem_post_populate(), snp_launch_update_vmsa(),
 * snp_launch_finish()).  Reference: docs/stack.md, "SNP firmware model
 * (launch)".
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct stack_snp_fw {
	struct stack *st;
	uint64_t lat_cmd, lat_page;           /* lat.stack.fw_cmd, lat.stack.fw_page */
	struct stack_snp_guest *bound[1u << RMP_ASID_BITS];   /* SNP_ACTIVATE's ASID -> guest */
	struct stack_snp_guest *guests;       /* every context, newest first */
	struct stack_snp_fw_stats s;
};

struct stack_snp_guest {
	struct stack_snp_fw *fw;
	struct stack_snp_guest *next;
	enum stack_snp_gstate state;
	uint64_t gctx;                        /* the guest context page (a firmware page) */
	uint64_t policy;
	uint32_t asid;                        /* 0: not activated */
	uint8_t digest[STACK_SNP_DIGEST_SIZE];
};

const char *const stack_snp_gstate_names[] = { "init", "launch", "running" };

static const struct {
	enum stack_snp_status st;
	const char *name;
} status_names[] = {
	{ STACK_SNP_SUCCESS, "SUCCESS" },
	{ STACK_SNP_INVALID_GUEST_STATE, "INVALID_GUEST_STATE" },
	{ STACK_SNP_POLICY_FAILURE, "POLICY_FAILURE" },
	{ STACK_SNP_INVALID_ADDRESS, "INVALID_ADDRESS" },
	{ STACK_SNP_ASID_OWNED, "ASID_OWNED" },
	{ STACK_SNP_INVALID_ASID, "INVALID_ASID" },
	{ STACK_SNP_INVALID_PARAM, "INVALID_PARAM" },
	{ STACK_SNP_RESOURCE_LIMIT, "RESOURCE_LIMIT" },
	{ STACK_SNP_INVALID_PAGE_SIZE, "INVALID_PAGE_SIZE" },
	{ STACK_SNP_INVALID_PAGE_STATE, "INVALID_PAGE_STATE" },
	{ STACK_SNP_INVALID_PAGE_OWNER, "INVALID_PAGE_OWNER" },
};

const char *stack_snp_status_name(enum stack_snp_status st)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].st == st)
			return status_names[i].name;
	return "?";
}

int stack_snp_errno(enum stack_snp_status st)
{
	return st == STACK_SNP_SUCCESS ? 0 : -EIO;
}

const char *stack_snp_page_type_name(enum stack_snp_page_type t)
{
	static const char *const n[] = { NULL, "normal", "vmsa", "zero", "unmeasured", "secrets", "cpuid" };

	return t >= STACK_SNP_PAGE_NORMAL && t <= STACK_SNP_PAGE_CPUID ? n[t] : "?";
}

/* ------------------------------------------------------------------ */
/* The firmware                                                        */
/* ------------------------------------------------------------------ */

struct stack_snp_fw *stack_snp_fw_new(struct stack *st, uint64_t lat_cmd, uint64_t lat_page)
{
	struct stack_snp_fw *fw = sim_xcalloc(1, sizeof(*fw));

	fw->st = st;
	fw->lat_cmd = lat_cmd;
	fw->lat_page = lat_page;
	return fw;
}

void stack_snp_fw_free(struct stack_snp_fw *fw)
{
	if (!fw)
		return;
	while (fw->guests)
		stack_snp_decommission(fw->guests);
	free(fw);
}

const struct stack_snp_fw_stats *stack_snp_fw_stats(const struct stack_snp_fw *fw)
{
	return &fw->s;
}

struct sim_stat_group *stack_snp_fw_register_stats(struct stack_snp_fw *fw, struct sim *s)
{
	static const struct sim_stat_desc d[] = {
#define F(f) offsetof(struct stack_snp_fw_stats, f)
		{ "commands", SIM_STAT_COUNTER, F(commands), "SNP firmware commands issued" },
		{ "failed", SIM_STAT_COUNTER, F(failed), "of those, returned a status other than SUCCESS" },
		{ "pages", SIM_STAT_COUNTER, F(pages), "pages SNP_LAUNCH_UPDATE took into a guest" },
		{ "guests", SIM_STAT_COUNTER, F(guests), "guest contexts now" },
		{ NULL, 0, 0, NULL },
#undef F
	};

	return sim_stat_group_add(s, "stack.snp_fw", d, &fw->s);
}

/* One command: counted, its latency charged, its status returned. */
static enum stack_snp_status cmd_done(struct stack_snp_fw *fw, enum stack_snp_status st,
				      uint64_t *cycles)
{
	fw->s.commands++;
	fw->s.failed += st != STACK_SNP_SUCCESS;
	if (cycles)
		*cycles += fw->lat_cmd;
	return st;
}

/* ------------------------------------------------------------------ */
/* Guest contexts                                                      */
/* ------------------------------------------------------------------ */

/* A firmware page: assigned, ASID 0, immutable (ABI page state "Firmware"). */
static const struct rmp_entry fw_page_ent = { .assigned = true, .immutable = true };
static const struct rmp_entry hv_page_ent = { 0 };
static const uint8_t zero_page[SIM_PAGE_SIZE];

enum stack_snp_status stack_snp_gctx_create(struct stack_snp_fw *fw, struct stack_snp_guest **out,
					    uint64_t *cycles)
{
	struct stack *st = fw->st;
	struct stack_snp_guest *g;
	uint64_t pa;

	*out = NULL;
	/*
	 * KVM's snp_context_create(): a page from the host (snp_alloc_firmware_page
	 * makes it a firmware page), then SNP_GCTX_CREATE.  [model] no page left:
	 * RESOURCE_LIMIT (KVM fails earlier with -ENOMEM).
	 */
	if (!rmp_enabled(st->rmp) || stack_palloc_get(st->pool, false, &pa))
		return cmd_done(fw, STACK_SNP_RESOURCE_LIMIT, cycles);
	if (rmp_fw_write(st->rmp, pa, &fw_page_ent) != RMP_RC_SUCCESS) {
		stack_palloc_put(st->pool, pa, false);
		return cmd_done(fw, STACK_SNP_INVALID_ADDRESS, cycles);
	}
	sim_mem_poke(st->mem, pa, zero_page, sizeof(zero_page));
	g = sim_xcalloc(1, sizeof(*g));
	g->fw = fw;
	g->gctx = pa;
	g->state = STACK_SNP_GSTATE_INIT;
	g->next = fw->guests;
	fw->guests = g;
	fw->s.guests++;
	*out = g;
	return cmd_done(fw, STACK_SNP_SUCCESS, cycles);
}

enum stack_snp_status stack_snp_launch_start(struct stack_snp_guest *g, uint64_t policy,
					     uint64_t *cycles)
{
	if (g->state != STACK_SNP_GSTATE_INIT)
		return cmd_done(g->fw, STACK_SNP_INVALID_GUEST_STATE, cycles);
	if (!(policy & STACK_SNP_POLICY_MBO))
		return cmd_done(g->fw, STACK_SNP_POLICY_FAILURE, cycles);
	g->policy = policy;
	memset(g->digest, 0, sizeof(g->digest));   /* the launch digest starts at zero */
	g->state = STACK_SNP_GSTATE_LAUNCH;
	return cmd_done(g->fw, STACK_SNP_SUCCESS, cycles);
}

enum stack_snp_status stack_snp_activate(struct stack_snp_guest *g, uint32_t asid,
					 uint64_t *cycles)
{
	struct stack_snp_fw *fw = g->fw;

	if (g->state == STACK_SNP_GSTATE_INIT || g->asid)
		return cmd_done(fw, STACK_SNP_INVALID_GUEST_STATE, cycles);
	if (asid == 0 || asid >= (1u << RMP_ASID_BITS))
		return cmd_done(fw, STACK_SNP_INVALID_ASID, cycles);
	if (fw->bound[asid])
		return cmd_done(fw, STACK_SNP_ASID_OWNED, cycles);
	fw->bound[asid] = g;
	g->asid = asid;
	return cmd_done(fw, STACK_SNP_SUCCESS, cycles);
}

void stack_snp_page_info(const uint8_t digest[STACK_SNP_DIGEST_SIZE],
			 const uint8_t contents[STACK_SNP_DIGEST_SIZE], enum stack_snp_page_type type,
			 bool imi, const uint8_t vmpl_perms[4], uint64_t gpa,
			 uint8_t out[STACK_SNP_PAGE_INFO_SIZE])
{
	/*
	 * PAGE_INFO (ABI, SNP_LAUNCH_UPDATE): DIGEST_CUR at 0x00, CONTENTS at
	 * 0x30, LENGTH (u16, 0x70) at 0x60, PAGE_TYPE at 0x62, IMI_PAGE at
	 * 0x63, VMPL3/2/1_PERMS at 0x64/0x65/0x66, reserved 0x67, GPA (u64)
	 * at 0x68; little-endian.
	 */
	memset(out, 0, STACK_SNP_PAGE_INFO_SIZE);
	memcpy(out, digest, STACK_SNP_DIGEST_SIZE);
	memcpy(out + 0x30, contents, STACK_SNP_DIGEST_SIZE);
	out[0x60] = STACK_SNP_PAGE_INFO_SIZE & 0xff;
	out[0x61] = STACK_SNP_PAGE_INFO_SIZE >> 8;
	out[0x62] = (uint8_t)type;
	out[0x63] = imi;
	out[0x64] = vmpl_perms[3];
	out[0x65] = vmpl_perms[2];
	out[0x66] = vmpl_perms[1];
	for (unsigned i = 0; i < 8; i++)
		out[0x68 + i] = (uint8_t)(gpa >> (8 * i));
}

static void sha384(const void *data, size_t len, uint8_t out[STACK_SNP_DIGEST_SIZE])
{
	struct sha384_ctx c;

	sha384_init(&c);
	sha384_update(&c, len, data);
	sha384_digest(&c, SHA384_DIGEST_SIZE, out);
}

/*
 * The secrets page the firmware writes (ABI "PAGE_TYPE_SECRETS"; the
 * layout of Linux's struct snp_secrets_page): VERSION (u32) at 0, IMIEN at
 * 4, FMS (u32) at 8, GOSVW (16 bytes) at 0x10, VMPCK0..3 (32 bytes each)
 * from 0x20, the rest zero.  [model] VERSION 3; FMS 0x00a00f11 (family
 * 19h model 01h stepping 1); IMIEN and GOSVW 0; the VMPCKs, random in the
 * firmware, are derived so that runs repeat: VMPCKn = the first 32 bytes
 * of SHA-384("protsim vmpck" || n || ASID as 4 bytes little-endian).
 */
static void secrets_fill(uint8_t *page, uint32_t asid)
{
	memset(page, 0, SIM_PAGE_SIZE);
	page[0] = 3;
	page[8] = 0x11;
	page[9] = 0x0f;
	page[10] = 0xa0;
	for (unsigned n = 0; n < 4; n++) {
		uint8_t in[13 + 1 + 4], h[STACK_SNP_DIGEST_SIZE];

		memcpy(in, "protsim vmpck", 13);
		in[13] = (uint8_t)n;
		for (unsigned i = 0; i < 4; i++)
			in[14 + i] = (uint8_t)(asid >> (8 * i));
		sha384(in, sizeof(in), h);
		memcpy(page + 0x20 + 32 * n, h, 32);
	}
}

/* The checks of one page, before anything is written (check-then-commit). */
static enum stack_snp_status page_check(const struct stack_snp_guest *g, uint64_t spa, uint64_t gpa,
					enum stack_snp_page_type type)
{
	struct stack *st = g->fw->st;
	struct rmp_entry e;

	if (!rmp_entry_get(st->rmp, spa, &e))
		return STACK_SNP_INVALID_ADDRESS;          /* not RMP-covered */
	if (e.page_2m || rmp_level(st->rmp, spa) != SIM_SZ_4K)
		return STACK_SNP_INVALID_PAGE_SIZE;        /* the command names a 4K page */
	if (!e.assigned || !e.immutable || e.validated || e.vmsa)
		return STACK_SNP_INVALID_PAGE_STATE;       /* not Pre-Guest */
	if (e.asid != g->asid)
		return STACK_SNP_INVALID_PAGE_OWNER;
	if (e.gpa != gpa)
		return STACK_SNP_INVALID_PAGE_STATE;       /* recorded at another GPA */
	if (type == STACK_SNP_PAGE_CPUID) {
		uint8_t cnt[4];

		sim_mem_peek(st->mem, spa, cnt, sizeof(cnt));
		if ((uint32_t)(cnt[0] | cnt[1] << 8 | cnt[2] << 16 | (uint32_t)cnt[3] << 24) >
		    STACK_SNP_CPUID_MAX)
			return STACK_SNP_INVALID_PARAM;
	}
	return STACK_SNP_SUCCESS;
}

/* Take one checked page: its contents, the digest, its RMP entry. */
static void page_take(struct stack_snp_guest *g, const struct stack_snp_update *u, uint64_t spa,
		      uint64_t gpa)
{
	struct stack *st = g->fw->st;
	static uint8_t page[SIM_PAGE_SIZE];
	uint8_t contents[STACK_SNP_DIGEST_SIZE] = { 0 };
	uint8_t info[STACK_SNP_PAGE_INFO_SIZE];
	struct rmp_entry e = {
		.assigned = true, .validated = true, .asid = g->asid, .gpa = gpa,
		.vmsa = u->type == STACK_SNP_PAGE_VMSA,
	};

	switch (u->type) {
	case STACK_SNP_PAGE_NORMAL:
	case STACK_SNP_PAGE_VMSA:
		/* measured: CONTENTS is the SHA-384 of the page (then encrypted in place) */
		sim_mem_peek(st->mem, spa, page, sizeof(page));
		sha384(page, sizeof(page), contents);
		break;
	case STACK_SNP_PAGE_ZERO:
		sim_mem_poke(st->mem, spa, zero_page, sizeof(zero_page));
		break;
	case STACK_SNP_PAGE_SECRETS:
		secrets_fill(page, g->asid);
		sim_mem_poke(st->mem, spa, page, sizeof(page));
		break;
	case STACK_SNP_PAGE_UNMEASURED:
	case STACK_SNP_PAGE_CPUID:
		break;   /* contents kept; CONTENTS zero */
	}
	stack_snp_page_info(g->digest, contents, u->type, u->imi, u->vmpl_perms, gpa, info);
	sha384(info, sizeof(info), g->digest);
	for (unsigned v = 1; v < RMP_NUM_VMPL; v++)
		e.perms[v] = u->vmpl_perms[v];
	e.perms[0] = RMP_PERM_ALL;
	if (rmp_fw_write(st->rmp, spa, &e) != RMP_RC_SUCCESS)
		sim_fatal("stack: SNP firmware: cannot write the checked RMP entry of 0x%llx",
			  (unsigned long long)spa);
	g->fw->s.pages++;
}

enum stack_snp_status stack_snp_launch_update(struct stack_snp_guest *g,
					      const struct stack_snp_update *u, uint64_t *done,
					      uint64_t *cycles)
{
	struct stack_snp_fw *fw = g->fw;

	*done = 0;
	for (uint64_t i = 0; i < u->npages; i++) {
		uint64_t spa = u->spa + i * SIM_PAGE_SIZE, gpa = u->gpa + i * SIM_PAGE_SIZE;
		enum stack_snp_status st = STACK_SNP_SUCCESS;

		if (g->state != STACK_SNP_GSTATE_LAUNCH || !g->asid)
			st = STACK_SNP_INVALID_GUEST_STATE;
		else if (u->type < STACK_SNP_PAGE_NORMAL || u->type > STACK_SNP_PAGE_CPUID ||
			 ((u->vmpl_perms[1] | u->vmpl_perms[2] | u->vmpl_perms[3]) &
					RMP_PERM_RSVD))
			st = STACK_SNP_INVALID_PARAM;
		else if (((spa | gpa) & (SIM_PAGE_SIZE - 1)) || spa < u->spa || gpa < u->gpa ||
			 (gpa & ~RMP_LO_GPA_MASK))
			st = STACK_SNP_INVALID_ADDRESS;
		else
			st = page_check(g, spa, gpa, u->type);
		if (st != STACK_SNP_SUCCESS)
			return cmd_done(fw, st, cycles);
		page_take(g, u, spa, gpa);
		if (cycles)
			*cycles += fw->lat_page;
		cmd_done(fw, STACK_SNP_SUCCESS, cycles);
		(*done)++;
	}
	return STACK_SNP_SUCCESS;
}

enum stack_snp_status stack_snp_page_reclaim(struct stack_snp_fw *fw, uint64_t spa,
					     uint64_t *cycles)
{
	static const struct rmp_entry reclaim_ent = { .assigned = true };
	struct rmp_entry e;

	if ((spa & (SIM_PAGE_SIZE - 1)) || !rmp_entry_get(fw->st->rmp, spa, &e))
		return cmd_done(fw, STACK_SNP_INVALID_ADDRESS, cycles);
	if (e.page_2m)
		return cmd_done(fw, STACK_SNP_INVALID_PAGE_SIZE, cycles);
	if (!e.assigned || !e.immutable)
		return cmd_done(fw, STACK_SNP_INVALID_PAGE_STATE, cycles);
	if (rmp_fw_write(fw->st->rmp, spa, &reclaim_ent) != RMP_RC_SUCCESS)
		sim_fatal("stack: SNP firmware: cannot reclaim 0x%llx", (unsigned long long)spa);
	return cmd_done(fw, STACK_SNP_SUCCESS, cycles);
}

/* The hypervisor's RMPUPDATE of @spa (KVM's rmp_make_private / rmp_make_shared). */
static int host_rmpupdate(struct stack *st, struct sim_who *who, uint64_t spa,
			  const struct rmp_update_in *in, uint64_t *cycles)
{
	struct rmp_result res;
	enum rmp_rc rc = rmp_update(st->rmp, who, spa, in, &res);

	if (cycles)
		*cycles += res.latency;
	return rc == RMP_RC_SUCCESS ? 0 : -EFAULT;
}

int stack_snp_kvm_populate(struct stack_snp_guest *g, struct sim_who *who, uint64_t spa,
			   uint64_t gpa, const struct stack_snp_update *how,
			   enum stack_snp_status *fw_error, uint64_t *cycles)
{
	struct stack *st = g->fw->st;
	struct stack_snp_update u = *how;
	const struct rmp_update_in pre_guest = {
		.gpa = gpa, .assigned = true, .immutable = true, .asid = g->asid,
	};
	const struct rmp_update_in shared = { 0 };
	struct rmp_entry e;
	uint64_t done;
	int rc;

	*fw_error = STACK_SNP_SUCCESS;
	/* "Failed to ensure GFN ... RMP entry is initial shared state" */
	if (!rmp_entry_get(st->rmp, spa, &e))
		return -EINVAL;
	if (e.assigned)
		return -EEXIST;
	rc = host_rmpupdate(st, who, spa, &pre_guest, cycles);
	if (rc)
		return rc;
	u.spa = spa;
	u.gpa = gpa;
	u.npages = 1;
	*fw_error = stack_snp_launch_update(g, &u, &done, cycles);
	if (*fw_error == STACK_SNP_SUCCESS)
		return 0;
	/* snp_page_reclaim(); a page left assigned is the caller's to leak (snp_leak_pages) */
	if (stack_snp_page_reclaim(g->fw, spa, cycles) == STACK_SNP_SUCCESS)
		host_rmpupdate(st, who, spa, &shared, cycles);
	return stack_snp_errno(*fw_error);
}

enum stack_snp_status stack_snp_launch_finish(struct stack_snp_guest *g, uint64_t *cycles)
{
	if (g->state != STACK_SNP_GSTATE_LAUNCH || !g->asid)
		return cmd_done(g->fw, STACK_SNP_INVALID_GUEST_STATE, cycles);
	g->state = STACK_SNP_GSTATE_RUNNING;
	return cmd_done(g->fw, STACK_SNP_SUCCESS, cycles);
}

void stack_snp_decommission(struct stack_snp_guest *g)
{
	struct stack_snp_fw *fw = g->fw;
	struct stack *st = fw->st;
	struct stack_snp_guest **pp;

	cmd_done(fw, STACK_SNP_SUCCESS, NULL);   /* SNP_DECOMMISSION */
	if (g->asid)
		fw->bound[g->asid] = NULL;
	/* snp_free_firmware_page(): SNP_PAGE_RECLAIM, RMPUPDATE to hypervisor, free */
	if (rmp_fw_write(st->rmp, g->gctx, &hv_page_ent) != RMP_RC_SUCCESS)
		stack_palloc_leak(st->pool, g->gctx);
	else
		stack_palloc_put(st->pool, g->gctx, false);
	for (pp = &fw->guests; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	fw->s.guests--;
	free(g);
}

enum stack_snp_gstate stack_snp_gstate(const struct stack_snp_guest *g)
{
	return g->state;
}

uint32_t stack_snp_asid(const struct stack_snp_guest *g)
{
	return g->asid;
}

uint64_t stack_snp_policy(const struct stack_snp_guest *g)
{
	return g->policy;
}

uint64_t stack_snp_gctx_page(const struct stack_snp_guest *g)
{
	return g->gctx;
}

const uint8_t *stack_snp_digest(const struct stack_snp_guest *g)
{
	return g->digest;
}
