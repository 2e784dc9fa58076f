/*
 * test_stack_heki.c - the three CR-protection designs (sim/stack/heki.c,
 * vtl.c), called through KVM's exit path (stack_kvm_handle: KVM, the VMM
 * for each exit KVM hands on, KVM's completion), table by table:
 *
 *   lock   KVM_HC_LOCK_CR_UPDATE (heki_lock_cr and kvm_emulate_hypercall
 *          of the Heki RFC v2 02/19, the configure exit of 03/19): every
 *          branch of the seed's validation, the pins it leaves, the exit
 *          and its payload
 *   cr     a CR0/CR4 write exit: heki_check_cr with and without the denial
 *          exit, each vmm.cr_policy, the VMM's CR filter, VTL1's intercept
 *   reset  INIT with heki.reset_unpins 0 and 1
 *
 * Each row states the whole outcome: KVM's result, the value in RAX, the
 * VM's pins afterwards, the exits to the VMM by reason, the heki counters
 * that move; every test ends with the stack's invariant checker.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/stack/stack_int.h"

#define WP    STACK_X86_CR0_WP
#define PE    STACK_X86_CR0_PE
#define CD    STACK_X86_CR0_CD
#define SMEP  STACK_X86_CR4_SMEP
#define SMAP  STACK_X86_CR4_SMAP
#define UMIP  STACK_X86_CR4_UMIP
#define FSGS  STACK_X86_CR4_FSGSBASE
#define CET   STACK_X86_CR4_CET
#define PAE   STACK_X86_CR4_PAE
#define PINNABLE (SMEP | SMAP | UMIP | FSGS | CET)
#define EINV  ((uint64_t)-22)
#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const rc_names[] = { "RETRY", "DONE", "USER", "FATAL", "GP" };

struct box {
	struct sim *s;
	struct stack_vm *v;
	struct sim_who who;
	uint64_t cyc, uexits;
};

/* A default VM 1 with a 4M slot, then @setup's lines (caps, pins, filters). */
static void box_new(struct box *b, const char *keys, const char *setup)
{
	char text[2048], *out = NULL;
	size_t outn = 0;
	FILE *o = open_memstream(&out, &outn);
	int rc;

	cr_assert(o);
	snprintf(text, sizeof(text),
		 "machine mem=1g cpus=1 stack.check=1 s2.pool_base=0x1000000 s2.pool_size=16m %s\n"
		 "vm create vm=1 type=default\n"
		 "vm memslot vm=1 slot=0 gpa=0 size=4m\n%s",
		 keys ? keys : "", setup ? setup : "");
	b->s = sim_new(stack_modules);
	rc = sim_script_run_text(b->s, text, "setup.ps", o, o);
	fclose(o);
	cr_assert_eq(rc, 0, "setup failed:\n%s", out);
	free(out);
	b->v = stack_vm_find(stack_get(b->s), 1);
	cr_assert(b->v && b->v->run);
	b->who = (struct sim_who){ .agent = -1 };
	b->cyc = b->uexits = 0;
}

static void box_end(struct box *b)
{
	char m[256];

	cr_assert_eq(stack_check(stack_get(b->s), m, sizeof m), 0, "%s", m);
	sim_free(b->s);
}

static struct stack_heki_stats ctr_of(struct box *b)
{
	struct stack_heki *h = stack_heki_of(b->v, false);
	struct stack_heki_stats z = { 0 };

	return h ? h->ctr : z;
}

/* ------------------------------------------------------------------ */
/* KVM_HC_LOCK_CR_UPDATE                                               */
/* ------------------------------------------------------------------ */

struct lock_case {
	const char *name;
	const char *keys, *setup;
	uint64_t a0, a1, a2;
	enum stack_kvm_rc rc;         /* after the VMM's turn and the completion */
	uint64_t ret;                 /* RAX */
	uint64_t pinned_cr0, pinned_cr4;
	unsigned configure_exits;     /* KVM_EXIT_HEKI_CONFIGURE (payload below) */
	uint64_t reason, cr_pinned;
	unsigned einval;
};

static const struct lock_case lock_cases[] = {
	{ .name = "version query", .a2 = 1, .rc = STACK_KVM_DONE, .ret = 1 },
	{ .name = "version flag with cr 4", .a0 = 4, .a2 = 1, .ret = EINV, .einval = 1 },
	{ .name = "version flag with bits", .a1 = WP, .a2 = 1, .ret = EINV, .einval = 1 },
	{ .name = "unknown flag", .a1 = WP, .a2 = 2, .ret = EINV, .einval = 1 },
	{ .name = "version and an unknown flag", .a2 = 3, .ret = EINV, .einval = 1 },
	{ .name = "no bits", .ret = EINV, .einval = 1 },
	{ .name = "CR0.WP", .a1 = WP, .ret = 0, .pinned_cr0 = WP },
	{ .name = "CR0 without WP", .a1 = PE, .ret = EINV, .einval = 1 },
	{ .name = "CR0 WP|PE, both set in the host's CR0", .a1 = WP | PE, .ret = 0,
	  .pinned_cr0 = WP | PE },
	{ .name = "CR0 WP|CD, CD clear in the host's CR0", .a1 = WP | CD, .ret = EINV, .einval = 1 },
	{ .name = "CR4 SMEP|SMAP", .a0 = 4, .a1 = SMEP | SMAP, .ret = 0, .pinned_cr4 = SMEP | SMAP },
	{ .name = "CR4 the whole pinnable set, host without CET: CET ignored", .a0 = 4,
	  .a1 = PINNABLE, .ret = 0, .pinned_cr4 = PINNABLE & ~CET },
	{ .name = "CR4 CET alone, host without CET: success, nothing pinned", .a0 = 4, .a1 = CET,
	  .ret = 0 },
	{ .name = "CR4 CET, host with CET", .keys = "heki.host_cr4=0xb70ef0", .a0 = 4, .a1 = CET,
	  .ret = 0, .pinned_cr4 = CET },
	{ .name = "CR4 PAE|SMEP: PAE not pinnable", .a0 = 4, .a1 = PAE | SMEP, .ret = EINV, .einval = 1 },
	{ .name = "CR3", .a0 = 3, .a1 = 1, .ret = EINV, .einval = 1 },
	{ .name = "CR8", .a0 = 8, .a1 = WP, .ret = EINV, .einval = 1 },
	{ .name = "a0 above U32_MAX (4 | 1 << 32)", .a0 = 4 | (1ull << 32), .a1 = SMEP, .ret = EINV,
	  .einval = 1 },
	{ .name = "pins accumulate", .setup = "guest hypercall vm=1 nr=13 a0=4 a1=0x100000\n",
	  .a0 = 4, .a1 = SMAP, .ret = 0, .pinned_cr4 = SMEP | SMAP },
	{ .name = "configure exit for CR4: payload is the pin after the host mask",
	  .setup = "vm cap vm=1 cap=heki_configure arg0=2\n", .a0 = 4, .a1 = SMEP | CET,
	  .ret = 0, .pinned_cr4 = SMEP, .configure_exits = 1,
	  .reason = STACK_KVM_HEKI_EXIT_REASON_CR4, .cr_pinned = SMEP },
	{ .name = "configure exit for CR0", .setup = "vm cap vm=1 cap=heki_configure arg0=3\n",
	  .a1 = WP, .ret = 0, .pinned_cr0 = WP, .configure_exits = 1,
	  .reason = STACK_KVM_HEKI_EXIT_REASON_CR0, .cr_pinned = WP },
	{ .name = "configure exit for CR0 only: a CR4 pin does not exit",
	  .setup = "vm cap vm=1 cap=heki_configure arg0=1\n", .a0 = 4, .a1 = SMEP, .ret = 0,
	  .pinned_cr4 = SMEP },
	{ .name = "configure exit: a refused pin does not exit",
	  .setup = "vm cap vm=1 cap=heki_configure arg0=3\n", .a0 = 4, .a1 = PAE, .ret = EINV,
	  .einval = 1 },
	{ .name = "configure exit: the version query does not exit",
	  .setup = "vm cap vm=1 cap=heki_configure arg0=3\n", .a2 = 1, .ret = 1 },
};

Test(heki, lock)
{
	for (size_t i = 0; i < NROWS(lock_cases); i++) {
		const struct lock_case *c = &lock_cases[i];
		struct cpu_exit e = { .reason = CPU_EXIT_HYPERCALL,
				      .args = { STACK_KVM_HC_LOCK_CR_UPDATE, c->a0, c->a1, c->a2 } };
		struct stack_uexit ue;
		struct stack_heki_stats before, after;
		struct stack_heki *h;
		struct box b;
		enum stack_kvm_rc rc;

		box_new(&b, c->keys, c->setup);
		before = ctr_of(&b);
		rc = stack_kvm_handle(b.v, 0, &b.who, &e, &ue, &b.cyc, &b.uexits);
		cr_assert_eq(rc, STACK_KVM_DONE, "%s: rc %s", c->name, rc_names[rc]);
		cr_assert_eq(b.v->run->vcpu[0].resp, c->ret, "%s: RAX %#llx, want %#llx", c->name,
			     (unsigned long long)b.v->run->vcpu[0].resp, (unsigned long long)c->ret);
		h = stack_heki_of(b.v, false);
		cr_assert(h, "%s: no heki state", c->name);
		cr_assert_eq(h->pinned_cr0, c->pinned_cr0, "%s: pinned_cr0 %#llx", c->name,
			     (unsigned long long)h->pinned_cr0);
		cr_assert_eq(h->pinned_cr4, c->pinned_cr4, "%s: pinned_cr4 %#llx", c->name,
			     (unsigned long long)h->pinned_cr4);
		after = ctr_of(&b);
		cr_assert_eq(b.uexits, c->configure_exits, "%s: %llu exits to the VMM", c->name,
			     (unsigned long long)b.uexits);
		cr_assert_eq(after.configure_exits - before.configure_exits, c->configure_exits,
			     "%s", c->name);
		cr_assert_eq(b.v->run->ctr.user_exits[STACK_UEXIT_HEKI_CONFIGURE], c->configure_exits,
			     "%s", c->name);
		if (c->configure_exits) {
			cr_assert_eq(ue.reason, STACK_UEXIT_HEKI_CONFIGURE, "%s", c->name);
			cr_assert_eq(ue.heki_reason, c->reason, "%s: reason", c->name);
			cr_assert_eq(ue.cr_value, c->cr_pinned, "%s: cr_pinned %#llx", c->name,
				     (unsigned long long)ue.cr_value);
		}
		cr_assert_eq(after.lock_calls - before.lock_calls, 1, "%s", c->name);
		cr_assert_eq(after.lock_einval - before.lock_einval, c->einval, "%s", c->name);
		cr_assert_eq(b.v->run->vcpu[0].cont, STACK_KVM_CONT_NONE, "%s: completion pending", c->name);
		/* KVM now owns the whole pinned CR: every change exits */
		cr_assert_eq(stack_heki_intercept(b.v, 0), c->pinned_cr0 ? STACK_X86_CR0_VALID : 0,
			     "%s", c->name);
		cr_assert_eq(stack_heki_intercept(b.v, 4), c->pinned_cr4 ? STACK_X86_CR4_VALID : 0,
			     "%s", c->name);
		box_end(&b);
	}
}

/* ------------------------------------------------------------------ */
/* CR writes                                                           */
/* ------------------------------------------------------------------ */

struct cr_case {
	const char *name;
	const char *keys, *setup;
	unsigned cr;
	uint64_t old, val;
	enum stack_kvm_rc rc;         /* DONE (the write is done), GP, FATAL (killed) */
	unsigned denial_exits, filter_exits, vtl_calls;
	unsigned denied, allowed;     /* heki counters */
};

#define PIN_CR0 "guest hypercall vm=1 nr=13 a0=0 a1=0x10000\n"
#define PIN_CR4 "guest hypercall vm=1 nr=13 a0=4 a1=0x100000\n"   /* SMEP */
#define BOOT4   (SMEP | SMAP)
#define BOOT0   STACK_X86_CR0_BOOTED

static const struct cr_case cr_cases[] = {
	{ .name = "nothing configured: performed", .cr = 4, .old = BOOT4, .val = SMAP,
	  .rc = STACK_KVM_DONE, .allowed = 1 },
	{ .name = "CR0.WP pinned, write clears WP: #GP", .setup = PIN_CR0, .cr = 0, .old = BOOT0,
	  .val = BOOT0 & ~WP, .rc = STACK_KVM_GP, .denied = 1 },
	{ .name = "CR0.WP pinned, write keeps WP", .setup = PIN_CR0, .cr = 0, .old = BOOT0,
	  .val = BOOT0 | STACK_X86_CR0_AM, .rc = STACK_KVM_DONE, .allowed = 1 },
	{ .name = "CR0.WP pinned, INIT value written: #GP", .setup = PIN_CR0, .cr = 0,
	  .old = STACK_X86_CR0_INIT, .val = PE, .rc = STACK_KVM_GP, .denied = 1 },
	{ .name = "SMEP pinned, SMAP (not pinned) cleared", .setup = PIN_CR4, .cr = 4, .old = BOOT4,
	  .val = SMEP, .rc = STACK_KVM_DONE, .allowed = 1 },
	{ .name = "SMEP pinned, SMEP cleared: #GP", .setup = PIN_CR4, .cr = 4, .old = BOOT4,
	  .val = SMAP, .rc = STACK_KVM_GP, .denied = 1 },
	{ .name = "SMEP pinned, a CR0 write is not checked against CR4's pins", .setup = PIN_CR4,
	  .cr = 0, .old = BOOT0, .val = BOOT0 & ~WP, .rc = STACK_KVM_DONE, .allowed = 1 },
	{ .name = "denial exit for CR4: the VMM is told, then #GP",
	  .setup = PIN_CR4 "vm cap vm=1 cap=heki_denial arg0=2\n", .cr = 4, .old = BOOT4,
	  .val = SMAP, .rc = STACK_KVM_GP, .denial_exits = 1, .denied = 1 },
	{ .name = "denial exit for CR0 only: a CR4 violation gets #GP at once",
	  .setup = PIN_CR4 "vm cap vm=1 cap=heki_denial arg0=1\n", .cr = 4, .old = BOOT4,
	  .val = SMAP, .rc = STACK_KVM_GP, .denied = 1 },
	{ .name = "denial exit, vmm.cr_policy=allow: #GP all the same",
	  .keys = "vmm.cr_policy=allow", .setup = PIN_CR4 "vm cap vm=1 cap=heki_denial arg0=2\n",
	  .cr = 4, .old = BOOT4, .val = SMAP, .rc = STACK_KVM_GP, .denial_exits = 1, .denied = 1 },
	{ .name = "denial exit, vmm.cr_policy=kill: the VMM stops the VM",
	  .keys = "vmm.cr_policy=kill", .setup = PIN_CR4 "vm cap vm=1 cap=heki_denial arg0=2\n",
	  .cr = 4, .old = BOOT4, .val = SMAP, .rc = STACK_KVM_FATAL, .denial_exits = 1 },
	{ .name = "CR filter, policy deny: #GP after the exit",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4, .val = SMAP,
	  .rc = STACK_KVM_GP, .filter_exits = 1, .denied = 1 },
	{ .name = "CR filter, policy deny: setting a watched bit is refused too",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = SMAP, .val = BOOT4,
	  .rc = STACK_KVM_GP, .filter_exits = 1, .denied = 1 },
	{ .name = "CR filter, policy allow: performed after the exit", .keys = "vmm.cr_policy=allow",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4, .val = SMAP,
	  .rc = STACK_KVM_DONE, .filter_exits = 1, .allowed = 1 },
	{ .name = "CR filter, policy kill", .keys = "vmm.cr_policy=kill",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4, .val = SMAP,
	  .rc = STACK_KVM_FATAL, .filter_exits = 1 },
	{ .name = "CR filter, policy pin: clearing refused", .keys = "vmm.cr_policy=pin",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4, .val = SMAP,
	  .rc = STACK_KVM_GP, .filter_exits = 1, .denied = 1 },
	{ .name = "CR filter, policy pin: setting allowed", .keys = "vmm.cr_policy=pin",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = SMAP, .val = BOOT4,
	  .rc = STACK_KVM_DONE, .filter_exits = 1, .allowed = 1 },
	{ .name = "CR filter: a write that changes no watched bit does not go to the VMM",
	  .setup = "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4, .val = SMEP,
	  .rc = STACK_KVM_DONE, .allowed = 1 },
	{ .name = "pins are checked before the filter: #GP, no filter exit",
	  .setup = PIN_CR4 "vm cr_filter vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4,
	  .val = SMAP, .rc = STACK_KVM_GP, .denied = 1 },
	{ .name = "VTL1 intercepts SMEP: clearing it is refused in VTL1",
	  .setup = "vtl enable vm=1\nvtl intercept vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4,
	  .val = SMAP, .rc = STACK_KVM_GP, .vtl_calls = 1, .denied = 1 },
	{ .name = "VTL1 intercepts SMEP: setting it is allowed",
	  .setup = "vtl enable vm=1\nvtl intercept vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = SMAP,
	  .val = BOOT4, .rc = STACK_KVM_DONE, .vtl_calls = 1, .allowed = 1 },
	{ .name = "VTL1 intercepts SMEP: a SMAP change does not switch to VTL1",
	  .setup = "vtl enable vm=1\nvtl intercept vm=1 cr=4 mask=0x100000\n", .cr = 4, .old = BOOT4,
	  .val = SMEP, .rc = STACK_KVM_DONE, .allowed = 1 },
};

Test(heki, cr)
{
	for (size_t i = 0; i < NROWS(cr_cases); i++) {
		const struct cr_case *c = &cr_cases[i];
		struct cpu_exit e = { .reason = CPU_EXIT_CR_WRITE, .cr = c->cr, .cr_old = c->old,
				      .cr_new = c->val };
		struct stack_uexit ue;
		struct stack_heki_stats before, after;
		struct box b;
		enum stack_kvm_rc rc;
		uint64_t lat;
		struct stack *st;

		box_new(&b, c->keys, c->setup);
		before = ctr_of(&b);
		rc = stack_kvm_handle(b.v, 0, &b.who, &e, &ue, &b.cyc, &b.uexits);
		cr_assert_eq(rc, c->rc, "%s: rc %s, want %s", c->name, rc_names[rc], rc_names[c->rc]);
		after = ctr_of(&b);
		cr_assert_eq(after.cr_exits - before.cr_exits, 1, "%s", c->name);
		cr_assert_eq(after.denial_exits - before.denial_exits, c->denial_exits, "%s", c->name);
		cr_assert_eq(after.filter_exits - before.filter_exits, c->filter_exits, "%s", c->name);
		cr_assert_eq(after.vtl_calls - before.vtl_calls, c->vtl_calls, "%s", c->name);
		cr_assert_eq(after.cr_denied - before.cr_denied, c->denied, "%s: denied", c->name);
		cr_assert_eq(after.cr_allowed - before.cr_allowed, c->allowed, "%s: allowed", c->name);
		cr_assert_eq(b.uexits, c->denial_exits + c->filter_exits, "%s: exits to the VMM", c->name);
		cr_assert_eq(b.v->run->killed, c->rc == STACK_KVM_FATAL, "%s: killed", c->name);
		/* the cycles: KVM's exit, an exit to the VMM each, the VTL switches */
		st = stack_get(b.s);
		lat = st->lat.kvm_exit + b.uexits * st->lat.user_exit +
		      c->vtl_calls * (2 * st->heki.vtl_switch + st->heki.vtl_work);
		cr_assert_eq(b.cyc, lat, "%s: %llu cycles, want %llu", c->name,
			     (unsigned long long)b.cyc, (unsigned long long)lat);
		box_end(&b);
	}
}

/* ------------------------------------------------------------------ */
/* Reset                                                               */
/* ------------------------------------------------------------------ */

Test(heki, reset)
{
	static const struct {
		const char *keys;
		uint64_t cr0_pins_after;
	} rows[] = { { "heki.reset_unpins=0", WP }, { "heki.reset_unpins=1", 0 } };

	for (size_t i = 0; i < NROWS(rows); i++) {
		struct box b;
		struct stack_heki *h;

		box_new(&b, rows[i].keys,
			PIN_CR0 "vm cr_filter vm=1 cr=4 mask=0x100000\nvtl enable vm=1\n"
			"vtl intercept vm=1 cr=4 mask=0x200000\nvcpu reset vm=1 vcpu=0\n");
		h = stack_heki_of(b.v, false);
		cr_assert_eq(h->pinned_cr0, rows[i].cr0_pins_after, "%s", rows[i].keys);
		cr_assert_eq(h->filter[1], 0, "%s: the VMM drops its filter", rows[i].keys);
		cr_assert(!h->vtl.enabled, "%s: VTL1 goes with the reset", rows[i].keys);
		cr_assert_eq(stack_heki_vcpu_cr(b.v, 0, 0), STACK_X86_CR0_INIT);
		cr_assert_eq(stack_heki_vcpu_cr(b.v, 0, 4), STACK_X86_CR4_INIT);
		cr_assert_eq(h->ctr.resets, 1);
		box_end(&b);
	}
}

/* KVM_ENABLE_CAP's mask check (kvm_vm_ioctl_enable_cap). */
Test(heki, enable_cap)
{
	static const struct {
		bool denial;
		uint64_t mask;
		int rc;
	} rows[] = {
		{ false, 0, 0 }, { false, 1, 0 }, { false, 3, 0 }, { false, 4, -22 },
		{ false, 1ull << 63, -22 }, { true, 2, 0 }, { true, 7, -22 },
	};
	struct box b;

	box_new(&b, NULL, NULL);
	for (size_t i = 0; i < NROWS(rows); i++) {
		uint64_t prev = stack_heki_of(b.v, true)->denial_exit_reason;
		uint64_t prevc = stack_heki_of(b.v, true)->configure_exit_reason;
		int rc = stack_heki_enable_cap(b.v, rows[i].denial, rows[i].mask);
		struct stack_heki *h = stack_heki_of(b.v, false);

		cr_assert_eq(rc, rows[i].rc, "row %zu", i);
		if (rows[i].denial)
			cr_assert_eq(h->denial_exit_reason, rc ? prev : rows[i].mask, "row %zu", i);
		else
			cr_assert_eq(h->configure_exit_reason, rc ? prevc : rows[i].mask, "row %zu", i);
	}
	box_end(&b);
}

/* ------------------------------------------------------------------ */
/* VTL0's permission view                                              */
/* ------------------------------------------------------------------ */

/* EPT with MBEC (reference §7.2): R reads, W writes, XS supervisor fetches, XU user fetches. */
Test(heki, vtl_view)
{
	static const struct {
		const char *name;
		uint64_t gpa;
		unsigned acc;
		bool user;
		int rc;
		unsigned perms;
	} rows[] = {
		{ "text: read", 0x10000, 0, false, 0, S2_PERM_R | S2_PERM_XS },
		{ "text: write", 0x1f000, 1, false, -1, S2_PERM_R | S2_PERM_XS },
		{ "text: supervisor fetch", 0x10000, 2, false, 0, S2_PERM_R | S2_PERM_XS },
		{ "text: user fetch (no XU)", 0x10000, 2, true, -1, S2_PERM_R | S2_PERM_XS },
		{ "rodata: read", 0x20000, 0, false, 0, S2_PERM_R },
		{ "rodata: write", 0x20000, 1, false, -1, S2_PERM_R },
		{ "rodata: fetch", 0x20000, 2, false, -1, S2_PERM_R },
		{ "data: write", 0x30000, 1, false, 0, S2_PERM_R | S2_PERM_W },
		{ "data: fetch", 0x30000, 2, false, -1, S2_PERM_R | S2_PERM_W },
		{ "page tables (later range over data): write", 0x38000, 1, false, -1, S2_PERM_R },
		{ "user code: user fetch", 0x40000, 2, true, 0, S2_PERM_R | S2_PERM_XU },
		{ "user code: supervisor fetch (SMEP-like)", 0x40000, 2, false, -1, S2_PERM_R | S2_PERM_XU },
		{ "outside every range", 0x50000, 1, false, 0, S2_PERM_ALL },
	};
	struct box b;

	box_new(&b, NULL,
		"vtl enable vm=1\n"
		"vtl protect vm=1 gpa=0x10000 size=64k perms=rx\n"
		"vtl protect vm=1 gpa=0x20000 size=64k perms=r\n"
		"vtl protect vm=1 gpa=0x30000 size=64k perms=rw\n"
		"vtl protect vm=1 gpa=0x38000 size=4k perms=r\n"
		"vtl protect vm=1 gpa=0x40000 size=64k perms=ru\n");
	for (size_t i = 0; i < NROWS(rows); i++) {
		cr_assert_eq(stack_vtl_check(b.v, rows[i].gpa, rows[i].acc, rows[i].user), rows[i].rc,
			     "%s", rows[i].name);
		cr_assert_eq(stack_vtl_perms(b.v, rows[i].gpa), rows[i].perms, "%s: perms", rows[i].name);
	}
	cr_assert(stack_vtl_restricts(b.v, 0, 0x200000));
	cr_assert(!stack_vtl_restricts(b.v, 0x200000, 0x200000));
	box_end(&b);
}

/* A refused VTL0 access through KVM's #NPF path: VTL1 is told, then #GP or the VM stops. */
Test(heki, vtl_denial)
{
	static const struct {
		const char *keys;
		enum stack_kvm_rc rc;
	} rows[] = { { "vtl.mem_denial=gp", STACK_KVM_GP }, { "vtl.mem_denial=kill", STACK_KVM_FATAL } };

	for (size_t i = 0; i < NROWS(rows); i++) {
		struct cpu_exit e = { .reason = CPU_EXIT_NPF, .npf_gpa = 0x10000,
				      .npf_info = RMP_NPF_P | RMP_NPF_W | RMP_NPF_FINAL };
		struct stack_uexit ue;
		struct box b;
		struct stack *st;
		enum stack_kvm_rc rc;

		box_new(&b, rows[i].keys, "vtl enable vm=1\nvtl protect vm=1 gpa=0x10000 size=4k perms=rx\n");
		rc = stack_kvm_handle(b.v, 0, &b.who, &e, &ue, &b.cyc, &b.uexits);
		st = stack_get(b.s);
		cr_assert_eq(rc, rows[i].rc, "%s: rc %s", rows[i].keys, rc_names[rc]);
		cr_assert_eq(b.v->run->killed, rows[i].rc == STACK_KVM_FATAL);
		cr_assert_eq(ctr_of(&b).mem_denials, 1);
		cr_assert_eq(ctr_of(&b).vtl_calls, 1);
		cr_assert_eq(b.cyc, st->lat.kvm_exit + 2 * st->heki.vtl_switch + st->heki.vtl_work);
		cr_assert_eq(b.uexits, 0);
		box_end(&b);
	}
}

/* ------------------------------------------------------------------ */
/* Heki's memory protection (KVM_HC_PROTECT_MEMORY, simplified)        */
/* ------------------------------------------------------------------ */

Test(heki, protect_memory)
{
	static const struct {
		const char *name, *keys;
		uint64_t gpa, size, perms;
		uint64_t ret;
		unsigned nmem;
	} rows[] = {
		{ "text r-x", NULL, 0x10000, 0x4000, S2_PERM_R | S2_PERM_XS, 0, 1 },
		{ "misaligned gpa", NULL, 0x10010, 0x1000, S2_PERM_R, EINV, 0 },
		{ "misaligned size", NULL, 0x10000, 0x800, S2_PERM_R, EINV, 0 },
		{ "empty", NULL, 0x10000, 0, S2_PERM_R, EINV, 0 },
		{ "wrapping", NULL, 0xfffffffffffff000ull, 0x2000, S2_PERM_R, EINV, 0 },
		{ "unknown permission bits", NULL, 0x10000, 0x1000, 0x10, EINV, 0 },
		{ "w without r", NULL, 0x10000, 0x1000, S2_PERM_W, EINV, 0 },
		{ "design vmm: not KVM's", "heki.cr_protection=vmm", 0x10000, 0x1000, S2_PERM_R,
		  (uint64_t)-1000, 0 },
		{ "design none", "heki.cr_protection=none", 0x10000, 0x1000, S2_PERM_R, (uint64_t)-1000, 0 },
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		struct cpu_exit e = { .reason = CPU_EXIT_HYPERCALL,
				      .args = { STACK_KVM_HC_PROTECT_MEMORY, rows[i].gpa, rows[i].size,
						rows[i].perms } };
		struct stack_uexit ue;
		struct box b;
		struct stack_heki *h;
		enum stack_kvm_rc rc;

		box_new(&b, rows[i].keys, NULL);
		rc = stack_kvm_handle(b.v, 0, &b.who, &e, &ue, &b.cyc, &b.uexits);
		cr_assert_eq(rc, STACK_KVM_DONE, "%s", rows[i].name);
		cr_assert_eq(b.v->run->vcpu[0].resp, rows[i].ret, "%s: ret %lld", rows[i].name,
			     (long long)b.v->run->vcpu[0].resp);
		h = stack_heki_of(b.v, false);
		cr_assert_eq(h ? h->nmem : 0, rows[i].nmem, "%s", rows[i].name);
		cr_assert_eq(b.uexits, 0, "%s", rows[i].name);
		box_end(&b);
	}
}

/* Ranges only take permissions away: the effective view is the AND of every range over a page. */
Test(heki, protect_memory_sticky)
{
	struct box b;

	box_new(&b, NULL,
		"guest hypercall vm=1 nr=14 a0=0x10000 a1=0x2000 a2=5\n"    /* r-x (XS) */
		"guest hypercall vm=1 nr=14 a0=0x10000 a1=0x1000 a2=3\n");  /* rw- over it */
	cr_assert_eq(stack_vtl_perms(b.v, 0x10000), S2_PERM_R, "r-x AND rw- = r--");
	cr_assert_eq(stack_vtl_perms(b.v, 0x11000), S2_PERM_R | S2_PERM_XS);
	cr_assert_eq(stack_vtl_perms(b.v, 0x12000), S2_PERM_ALL);
	cr_assert_eq(stack_vtl_check(b.v, 0x10000, 1, false), -1);
	cr_assert_eq(stack_vtl_check(b.v, 0x10000, 2, false), -1);
	cr_assert_eq(stack_vtl_check(b.v, 0x11000, 2, false), 0);
	box_end(&b);
}
