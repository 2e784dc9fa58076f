/*
 * ops_guest.c - vCPUs of the VMs of `vm create` and the scripted guest
 * actions (docs/script.md "vCPUs" and "Guest actions"; the spelling is
 * the v2 contract):
 *
 *   vm cap      vm=N cap=NAME [arg0=N] [arg1=N]          -> OK [ret=N]
 *   vcpu create vm=N vcpu=K [power_off=0|1]
 *   vcpu state  vm=N vcpu=K                              -> OK pc= sp= ...
 *   vcpu reset  vm=N vcpu=K
 *   guest access    vm=N gpa=ADDR kind=read|write|fetch [private=0|1] [vcpu=K]
 *   guest pvalidate vm=N gpa=ADDR [size=4k|2m] [validate=0|1] [vcpu=K]
 *   guest psc       vm=N gpa=ADDR size=SIZE op=private|shared [via=msr|ghcb] [page=4k|2m] [vcpu=K]
 *   guest accept    vm=N gpa=ADDR size=SIZE [via=msr|ghcb] [vcpu=K]
 *   guest share     vm=N gpa=ADDR size=SIZE [via=msr|ghcb] [vcpu=K]
 *   guest unshare   vm=N gpa=ADDR size=SIZE [via=msr|ghcb] [vcpu=K]
 *   guest ghcb      vm=N gpa=ADDR [vcpu=K]
 *   guest hypercall vm=N nr=N [a0=N] [a1=N] [a2=N] [a3=N] [vcpu=K] -> OK ret=N
 *   guest cr_write  vm=N cr=0|4 value=N [vcpu=K]            -> OK|#GP cr=VALUE
 *
 * A guest action is guest kernel code run on a vCPU by the line's agent:
 * it enters the guest (VMRUN), makes its accesses through the NPT and the
 * RMP check and executes PVALIDATE and VMGEXIT as the hardware models
 * say, and every #VMEXIT on the way goes to KVM (kvm_mmu.c, kvm_sev.c)
 * and, where KVM hands it on, to the VMM (vmm.c), before the guest is
 * re-entered.  The guest code follows Linux's (arch/x86/coco/sev/core.c:
 * __set_pages_state, vmgexit_psc, pvalidate_pages, snp_accept_memory,
 * set_memory_encrypted/decrypted).  Every action reports exits= and
 * user_exits=.
 */
#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_host.h"   /* pKVM hook */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_4K   0x1000ull
#define PAGE_2M   0x200000ull
#define MAX_TRIES 64          /* re-entries of one instruction before the action gives up */
#define PSC_BATCH 64          /* Linux: VMGEXIT_PSC_MAX_ENTRY, the guest's batch */


/* ------------------------------------------------------------------ */
/* Run state, keys                                                     */
/* ------------------------------------------------------------------ */

#define F(x) offsetof(struct stack_kvm_stats, x)
static const struct sim_stat_desc kvm_stat_desc[] = {
	{ "exits.npf", SIM_STAT_COUNTER, F(exits[CPU_EXIT_NPF]), "#NPF exits KVM handled" },
	{ "exits.vmgexit", SIM_STAT_COUNTER, F(exits[CPU_EXIT_VMGEXIT]), "VMGEXIT exits KVM handled" },
	{ "exits.hypercall", SIM_STAT_COUNTER, F(exits[CPU_EXIT_HYPERCALL]),
	  "hypercall exits KVM handled" },
	{ "user_exits.memory_fault", SIM_STAT_COUNTER, F(user_exits[STACK_UEXIT_MEMORY_FAULT]),
	  "exits to the VMM: KVM_EXIT_MEMORY_FAULT (private/shared mismatch, no page)" },
	{ "user_exits.hypercall", SIM_STAT_COUNTER, F(user_exits[STACK_UEXIT_HYPERCALL]),
	  "exits to the VMM: KVM_EXIT_HYPERCALL (KVM_HC_MAP_GPA_RANGE)" },
	{ "user_exits.mmio", SIM_STAT_COUNTER, F(user_exits[STACK_UEXIT_MMIO]),
	  "exits to the VMM: KVM_EXIT_MMIO" },
	{ "user_exits.system_event", SIM_STAT_COUNTER, F(user_exits[STACK_UEXIT_SYSTEM_EVENT]),
	  "exits to the VMM: KVM_EXIT_SYSTEM_EVENT (the guest asked to terminate)" },
	{ "npf_mapped", SIM_STAT_COUNTER, F(npf_mapped), "#NPFs (and prefaults) that mapped a page" },
	{ "npf_mapped_2m", SIM_STAT_COUNTER, F(npf_mapped_2m), "of those, with a 2M leaf" },
	{ "npf_spurious", SIM_STAT_COUNTER, F(npf_spurious), "#NPFs with nothing to map" },
	{ "npf_rmp", SIM_STAT_COUNTER, F(rmp_faults), "#NPFs with the RMP bit (sev_handle_rmp_fault)" },
	{ "psmash", SIM_STAT_COUNTER, F(psmash), "PSMASHes of 2M RMP entries after an RMP #NPF" },
	{ "psmash_retries", SIM_STAT_COUNTER, F(psmash_retries), "of those, FAIL_INUSE retries" },
	{ "msr_requests", SIM_STAT_COUNTER, F(msr_requests), "GHCB MSR-protocol requests" },
	{ "psc_msr", SIM_STAT_COUNTER, F(psc_msr), "page-state changes through the MSR protocol (one 4K page each)" },
	{ "psc_nae", SIM_STAT_COUNTER, F(psc_nae), "NAE page-state-change events (a descriptor each)" },
	{ "psc_entries", SIM_STAT_COUNTER, F(psc_entries), "PSC entries completed (both transports)" },
	{ "psc_errors", SIM_STAT_COUNTER, F(psc_errors), "PSC requests answered with an error" },
	{ "hypercalls", SIM_STAT_COUNTER, F(hypercalls), "HYPERCALL exits" },
	{ "legacy_rmpupdates", SIM_STAT_COUNTER, F(legacy_rmpupdates),
	  "snp.backing=legacy: RMPUPDATEs KVM's PSC handler made" },
	{ "conversions", SIM_STAT_COUNTER, F(conversions), "VMM: ranges converted (attribute changes)" },
	{ "pages_converted", SIM_STAT_COUNTER, F(pages_converted), "VMM: 4K pages whose attribute it set" },
	{ "prefaulted", SIM_STAT_COUNTER, F(prefaulted), "VMM: pages mapped ahead after a to-private change (snp.prefault=1)" },
	{ "pages_punched", SIM_STAT_COUNTER, F(pages_punched), "VMM: guest_memfd pages punched on to-shared" },
	{ "shared_discarded", SIM_STAT_COUNTER, F(shared_discarded), "VMM: shared pages discarded on to-private" },
	{ "blk_requests", SIM_STAT_COUNTER, F(blk_requests), "VMM: block-device requests served" },
	{ "blk_bytes", SIM_STAT_COUNTER, F(blk_bytes), "VMM: bytes the block device moved" },
	{ "blk_wakeups", SIM_STAT_COUNTER, F(blk_wakeups), "VMM: notifies that woke its I/O thread (vmm.io_thread=1)" },
	{ "ap_requests", SIM_STAT_COUNTER, F(ap_requests), "AP creation VMGEXITs (create, create on INIT, destroy)" },
	{ "ap_errors", SIM_STAT_COUNTER, F(ap_errors), "of those, refused (GHCB_ERR_INVALID_INPUT)" },
	{ "ap_updates", SIM_STAT_COUNTER, F(ap_updates), "vCPU state updates applied at entry or INIT (VMSA switched or dropped)" },
	{ "kicks", SIM_STAT_COUNTER, F(kicks), "vCPUs kicked by KVM (kvm_vcpu_kick)" },
	{ NULL, 0, 0, NULL },
};
#undef F

void stack_kvm_run_init(struct stack_vm *v, const char *prefix)
{
	char p[32];

	v->run = sim_xcalloc(1, sizeof(*v->run));
	for (unsigned k = 0; k < STACK_KVM_MAX_VCPUS; k++)
		v->run->vcpu[k].ghcb_gpa = v->run->vcpu[k].guest_ghcb = v->run->vcpu[k].ap_vmsa_gpa =
			UINT64_MAX;
	for (unsigned k = 0; k < v->nvcpus && k < STACK_KVM_MAX_VCPUS; k++)
		v->run->vcpu[k].created = true;
	snprintf(p, sizeof(p), "%s", prefix);
	v->run->stats = sim_stat_group_add(v->st->s, p, kvm_stat_desc, &v->run->ctr);
}

/*
 * The VM's vCPUs go (sev_free_vcpu): an SNP VMSA page is made
 * hypervisor-owned again with RMPUPDATE before it is freed; a page that
 * cannot be reclaimed is leaked.
 */
void stack_kvm_run_free(struct stack_vm *v, struct sim_who *who)
{
	struct stack_kvm_run *r = v->run;
	struct sim_who none = { .agent = -1 };

	if (!r)
		return;
	stack_kvm_cpu_free(v);   /* its harts first: they use the VMSA pages */
	stack_vblk_free(v);
	stack_heki_free(v);      /* heki.h */
	for (unsigned k = 0; k < STACK_KVM_MAX_VCPUS; k++) {
		uint64_t spa = r->vcpu[k].kvm_vmsa_spa;
		struct rmp_update_in in = { 0 };
		struct rmp_result res;

		if (!spa)
			continue;
		if (rmp_update(v->st->rmp, who ? who : &none, spa, &in, &res) != RMP_RC_SUCCESS) {
			stack_palloc_leak(v->st->pool, spa);
			continue;
		}
		if (who)
			who->mem_cycles += res.latency;
		stack_palloc_put(v->st->pool, spa, false);
	}
	sim_stat_group_remove(v->st->s, r->stats);
	free(r);
	v->run = NULL;
}

void stack_kvm_read_keys(struct stack *st)
{
	struct sim *s = st->s;

	st->lat.kvm_exit = sim_cfg_u64(s, "lat.stack.kvm_exit");
	st->lat.user_exit = sim_cfg_u64(s, "lat.stack.user_exit");
	st->lat.ioctl = sim_cfg_u64(s, "lat.stack.ioctl");
	st->lat.page_clear = sim_cfg_u64(s, "lat.stack.page_clear");
	st->lat.psc_entry = sim_cfg_u64(s, "lat.stack.psc_entry");
	st->lat.kick = sim_cfg_u64(s, "lat.stack.kick");
	st->lat.signal = sim_cfg_u64(s, "lat.stack.signal");
	st->lat_vmrun = sim_cfg_u64(s, "lat.cpu.vmrun");
	st->lat_vmexit = sim_cfg_u64(s, "lat.cpu.vmexit");
	st->lat_snp_switch = sim_cfg_u64(s, "lat.cpu.snp_switch");
	st->lat_rmp_insn = sim_cfg_u64(s, "lat.cpu.rmp_insn");
	st->snp_backing = (enum stack_snp_backing)sim_cfg_enum(s, "snp.backing");
	st->snp_prefault = sim_cfg_bool(s, "snp.prefault");
	st->io_thread = sim_cfg_bool(s, "vmm.io_thread");
	st->check = sim_cfg_bool(s, "stack.check");
}

/* ------------------------------------------------------------------ */
/* A guest action in progress                                          */
/* ------------------------------------------------------------------ */

struct gact {
	struct sim_call *c;
	struct sim_agent *a;
	struct stack *st;
	struct stack_vm *v;
	unsigned k;                  /* the vCPU */
	struct stack_kvm_vcpu *vc;
	uint64_t exits, user_exits;
	bool killed;                 /* the VM stopped on the way */
	char fault[64];              /* a guest-visible exception, when one ended the action */
};

static struct sim_who who_now(struct gact *g)
{
	struct sim_who w = { .now = sim_now(g->a), .agent = sim_agent_id(g->a) };

	return w;
}

static void charge(struct gact *g, uint64_t cycles)
{
	sim_advance(g->a, cycles);
}

static uint64_t switch_cost(const struct gact *g, uint64_t base)
{
	return base + (g->v->asid ? g->st->lat_snp_switch : 0);
}

/* Leave the guest: the hardware's #VMEXIT. */
static void vmexit(struct gact *g)
{
	g->exits++;
	charge(g, switch_cost(g, g->st->lat_vmexit));
}

/*
 * One #VMEXIT @e and everything the host does before the next VMRUN
 * (stack_kvm_handle: KVM, the VMM for each exit KVM hands on, KVM's
 * completion), then VMRUN.  Return: RETRY or DONE (the answer in the
 * vCPU's resp), or FATAL with g->killed set.
 */
static enum stack_kvm_rc to_host(struct gact *g, const struct cpu_exit *e)
{
	struct sim_who who;
	struct stack_uexit ue;
	uint64_t cyc = 0;
	enum stack_kvm_rc rc;

	uint64_t t0 = sim_now(g->a);

	vmexit(g);
	who = who_now(g);
	rc = stack_kvm_handle(g->v, g->k, &who, e, &ue, &cyc, &g->user_exits);
	charge(g, cyc + who.mem_cycles + switch_cost(g, g->st->lat_vmrun));
	if (sim_timeline_on(g->st->s)) {
		char name[48];

		snprintf(name, sizeof(name), "exit %s", cpu_exit_names[e->reason]);
		sim_timeline_span(g->st->s, sim_agent_id(g->a), "exit", name, t0, sim_now(g->a), NULL);
	}
	if (rc == STACK_KVM_FATAL) {
		g->killed = true;
		g->v->run->killed = true;
	}
	return rc;
}

static enum stack_kvm_rc exit_npf(struct gact *g, uint64_t gpa, uint64_t info)
{
	struct cpu_exit e = { .reason = CPU_EXIT_NPF, .npf_gpa = gpa, .npf_info = info };

	return to_host(g, &e);
}

/* VMGEXIT with the GHCB MSR = @msr: the MSR's value on return, or false (killed). */
static bool do_vmgexit(struct gact *g, uint64_t msr, uint64_t *resp)
{
	struct cpu_exit e = { .reason = CPU_EXIT_VMGEXIT, .ghcb = msr };
	bool ok = to_host(g, &e) != STACK_KVM_FATAL;

	*resp = g->vc->resp;
	return ok;
}

static bool do_hypercall(struct gact *g, const uint64_t args[5], uint64_t *ret)
{
	struct cpu_exit e = { .reason = CPU_EXIT_HYPERCALL };
	bool ok;

	memcpy(e.args, args, sizeof(e.args));
	ok = to_host(g, &e) != STACK_KVM_FATAL;
	*ret = g->vc->resp;
	return ok;
}

/* EXITINFO1 of a stage-2 fault of a guest access (the RMP check's faults carry their own). */
static uint64_t npf_info(const struct s2_fault *f, enum s2_access acc, bool c)
{
	uint64_t info = RMP_NPF_FINAL;

	if (f->type == S2_FAULT_PERMISSION || f->type == S2_FAULT_ACCESS)
		info |= RMP_NPF_P;
	if (acc == S2_ACC_WRITE)
		info |= RMP_NPF_W;
	if (acc == S2_ACC_FETCH)
		info |= RMP_NPF_ID;
	if (c)
		info |= RMP_NPF_ENC;
	return info;
}

/*
 * Translate guest-physical @gpa for an access of kind @acc with C-bit @c
 * (the scripted guest runs with stage 1 off), faulting to the host until
 * it succeeds.  @checked: with the access's RMP check (a data access);
 * without it for an instruction that checks the page itself (PVALIDATE).
 * Return: 0 with *@spa and *@leaf; 2 the access was emulated MMIO (no
 * memory there); 1 a guest-visible exception in g->fault; -1 killed or
 * stuck.
 */
static int translate(struct gact *g, uint64_t gpa, enum s2_access acc, bool c, bool checked,
		     uint64_t *spa, uint64_t *leaf)
{
	struct s2_space sp = g->v->space;

	if (!checked)
		sp.hook = NULL;
	for (unsigned t = 0; t < MAX_TRIES; t++) {
		struct sim_who who = who_now(g);
		struct s2_req req = { .acc = acc, .c = c, .who = &who, .src = SIM_SRC_PTW };
		struct s2_xlate x;
		uint64_t info, fgpa = gpa;
		int rc;

		sim_sync(g->a);
		rc = s2_mmu_translate(s2_ctx_mmu(g->st->s2, who.agent), &sp, gpa, &req, &x);
		stack_vm_count_access(g->v, rc, &x.fault);
		charge(g, x.cycles);
		if (!rc) {
			*spa = x.pa;
			*leaf = x.size;
			return 0;
		}
		if (x.fault.type == S2_FAULT_CHECK) {
			const struct rmp_fault *f = &g->v->last;

			if (f->kind != RMP_FAULT_NPF) {
				rmp_fault_format(f, g->fault, sizeof(g->fault));
				return 1;
			}
			info = f->code;
			fgpa = f->addr;
		} else {
			info = npf_info(&x.fault, acc, c);
		}
		switch (exit_npf(g, fgpa, info)) {
		case STACK_KVM_FATAL:
			return -1;
		case STACK_KVM_GP:   /* heki.h: VTL0's view refused it (vtl.mem_denial=gp) */
			snprintf(g->fault, sizeof(g->fault), "#GP");
			return 1;
		case STACK_KVM_DONE:
			return 2;   /* emulated MMIO: no memory behind it */
		default:
			break;
		}
	}
	snprintf(g->fault, sizeof(g->fault), "ERROR(ELOOP)");
	return -1;
}

/* A guest store of @len bytes at @gpa (shared: C=0), or a load into @buf. */
static int guest_copy(struct gact *g, uint64_t gpa, void *buf, size_t len, bool write, bool c)
{
	while (len) {
		size_t n = PAGE_4K - (gpa & (PAGE_4K - 1));
		uint64_t spa, leaf;
		int rc;

		if (n > len)
			n = len;
		rc = translate(g, gpa, write ? S2_ACC_WRITE : S2_ACC_READ, c, true, &spa, &leaf);
		if (rc == 2) {
			snprintf(g->fault, sizeof(g->fault), "ERROR(EFAULT)");
			return 1;   /* the GHCB is not in guest memory */
		}
		if (rc)
			return rc;
		if (write)
			sim_mem_poke(g->st->mem, spa, buf, n);
		else
			sim_mem_peek(g->st->mem, spa, buf, n);
		buf = (char *)buf + n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* A guest RMP instruction (PVALIDATE or RMPADJUST) and its operands. */
struct ginsn {
	enum rmp_insn insn;
	bool big, validate;            /* PVALIDATE */
	unsigned target;               /* RMPADJUST */
	uint8_t perms;
	bool vmsa;
	bool changed;                  /* out: PVALIDATE's CF (false = CF=1) */
};

/*
 * Execute @in on @gpa as the guest kernel does: translate (an #NPF of the
 * translation goes to the host), run the instruction, and when it raises
 * an #NPF hand that to the host and run it again.  Return 0 with the
 * instruction's return code in *@out, 1 for a guest-visible exception
 * (g->fault), -1 killed or looping.
 */
static int guest_rmp_insn(struct gact *g, uint64_t gpa, struct ginsn *in, enum rmp_rc *out)
{
	for (unsigned t = 0; t < MAX_TRIES; t++) {
		uint64_t spa, leaf;
		struct rmp_gpage pg;
		struct rmp_result res;
		struct sim_who who;
		enum rmp_rc rc;
		int r = translate(g, gpa, S2_ACC_READ, true, false, &spa, &leaf);

		if (r == 2) {
			snprintf(g->fault, sizeof(g->fault), "ERROR(EFAULT)");
			return 1;
		}
		if (r)
			return r;
		pg = (struct rmp_gpage){ .asid = g->v->asid, .gpa = gpa, .spa = spa, .map_size = leaf };
		who = who_now(g);
		sim_sync(g->a);
		if (in->insn == RMP_INSN_PVALIDATE)
			rc = rmp_pvalidate(g->st->rmp, &who, &pg, in->big, in->validate, &res);
		else
			rc = rmp_adjust(g->st->rmp, &who, &pg, false, in->target, in->perms, in->vmsa,
					&res);
		charge(g, res.latency + who.mem_cycles + g->st->lat_rmp_insn);
		if (rc != RMP_RC_FAULT) {
			*out = rc;
			in->changed = res.changed;
			return 0;
		}
		if (res.fault.kind != RMP_FAULT_NPF) {
			rmp_fault_format(&res.fault, g->fault, sizeof(g->fault));
			return 1;
		}
		if (exit_npf(g, res.fault.addr, res.fault.code) == STACK_KVM_FATAL)
			return -1;
	}
	snprintf(g->fault, sizeof(g->fault), "ERROR(ELOOP)");
	return -1;
}

/*
 * PVALIDATE @gpa (2M when @big): the RMP instruction's return code, its
 * CF (*@changed false = CF=1), or a guest-visible exception (return 1)
 * or killed (-1).  An #NPF it raises goes to the host and it runs again.
 */
static int pvalidate(struct gact *g, uint64_t gpa, bool big, bool validate, enum rmp_rc *out,
		     bool *changed)
{
	struct ginsn in = { .insn = RMP_INSN_PVALIDATE, .big = big, .validate = validate };
	int rc = guest_rmp_insn(g, gpa, &in, out);

	*changed = in.changed;
	return rc;
}

/*
 * RMPADJUST of the 4K page @gpa for VMPL @target with @perms, @vmsa the
 * VMSA bit (snp_set_vmsa), as pvalidate().
 */
static int rmpadjust(struct gact *g, uint64_t gpa, unsigned target, uint8_t perms, bool vmsa,
		     enum rmp_rc *out)
{
	struct ginsn in = { .insn = RMP_INSN_RMPADJUST, .target = target, .perms = perms,
			    .vmsa = vmsa };

	return guest_rmp_insn(g, gpa, &in, out);
}

/* ------------------------------------------------------------------ */
/* The guest kernel's page-state changes (Linux arch/x86/coco/sev)     */
/* ------------------------------------------------------------------ */

enum { OP_PRIVATE = 1, OP_SHARED = 2 };

/*
 * Linux's termination request on a failed page-state change or
 * PVALIDATE (sev_es_terminate(SEV_TERM_SET_LINUX, reason)): the VM goes.
 */
static int terminate(struct gact *g, unsigned code)
{
	uint64_t resp;

	(void)do_vmgexit(g, 0x100 | (1ull << 12) | ((uint64_t)code << 16), &resp);
	g->killed = true;
	return -1;
}

#define TERM_PSC 1
#define TERM_PVALIDATE 2

/* The result of a page-state change the host refused (not a misbehaving host). */
static int psc_refused(struct gact *g, uint64_t code)
{
	snprintf(g->fault, sizeof(g->fault), "ERROR(PSC)");
	sim_call_field_hex(g->c, "psc_error", code);
	return 1;
}

/* One 4K page through the MSR protocol (early_set_pages_state). */
static int psc_msr_page(struct gact *g, uint64_t gpa, unsigned op)
{
	uint64_t resp;

	if (!do_vmgexit(g, 0x014 | (gpa & ~(PAGE_4K - 1) & ((1ull << 52) - 1)) |
			((uint64_t)op << 52), &resp))
		return -1;
	if ((resp & 0xfff) != 0x015)
		return terminate(g, TERM_PSC);
	if (resp >> 32)
		return psc_refused(g, resp);
	return 0;
}

/*
 * The vCPU's GHCB (snp_register_ghcb_early, then the per-CPU GHCB made
 * shared): the page is made shared with an MSR-protocol PSC and
 * registered (MSR 0x012; the answer must echo the GFN).  The scripted
 * guest takes the page from memory it has not accepted, so nothing is
 * rescinded.  Default place: the top 4K of the highest memslot, one page
 * lower per vCPU number.
 */
static int ghcb_setup(struct gact *g, uint64_t gpa)
{
	uint64_t resp;
	int rc;

	if (gpa == UINT64_MAX) {
		const struct stack_kvm_mem *km = g->v->kvm;
		uint64_t top = 0;

		for (size_t i = 0; i < km->nslots; i++)
			if (km->slots[i].as_id == 0 &&
			    (km->slots[i].base_gfn + km->slots[i].npages) << 12 > top)
				top = (km->slots[i].base_gfn + km->slots[i].npages) << 12;
		if (top < (g->k + 1) * PAGE_4K) {
			snprintf(g->fault, sizeof(g->fault), "ERROR(ENOENT)");
			return 1;
		}
		gpa = top - (g->k + 1) * PAGE_4K;
	}
	rc = psc_msr_page(g, gpa, OP_SHARED);
	if (rc)
		return rc;
	if (!do_vmgexit(g, 0x012 | gpa, &resp))
		return -1;
	if (resp != (gpa | 0x013))
		return terminate(g, TERM_PSC);   /* Linux: GHCB registration refused */
	g->vc->guest_ghcb = gpa;
	return 0;
}

/* Write a u64 into the GHCB at @off and mark it valid in the bitmap. */
static int ghcb_set(struct gact *g, unsigned off, uint64_t val, uint8_t bitmap[16])
{
	unsigned bit = off / 8;

	bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
	return guest_copy(g, g->vc->guest_ghcb + off, &val, 8, true, false);
}

/*
 * One PSC descriptor through the GHCB (vmgexit_psc): write it to the
 * shared buffer, VMGEXIT until cur_entry passes end_entry, checking the
 * hypervisor at each return as Linux does (sw_exit_info_2 == 0; cur_entry
 * never backwards; end_entry unchanged; reserved zero).  A failure of
 * those checks terminates the VM; an error answer is ERROR(PSC).
 */
static int psc_nae(struct gact *g, const uint64_t *ent, unsigned n)
{
	uint64_t buf[1 + PSC_BATCH], hdr, gpa = g->vc->guest_ghcb;
	uint8_t bitmap[16];
	unsigned cur = 0;
	int rc;

	buf[0] = (uint64_t)(n - 1) << 16;
	memcpy(buf + 1, ent, n * 8ull);
	rc = guest_copy(g, gpa + STACK_GHCB_SHARED_BUF, buf, (n + 1) * 8ull, true, false);
	if (rc)
		return rc;
	for (;;) {
		uint64_t resp, info2, zero = 0;
		uint16_t ver = 2;

		memset(bitmap, 0, sizeof(bitmap));
		if ((rc = ghcb_set(g, STACK_GHCB_SW_EXIT_CODE, STACK_SVM_VMGEXIT_PSC, bitmap)) ||
		    (rc = ghcb_set(g, STACK_GHCB_SW_EXIT_INFO_1, 0, bitmap)) ||
		    (rc = ghcb_set(g, STACK_GHCB_SW_EXIT_INFO_2, 0, bitmap)) ||
		    (rc = ghcb_set(g, STACK_GHCB_SW_SCRATCH, gpa + STACK_GHCB_SHARED_BUF, bitmap)) ||
		    (rc = guest_copy(g, gpa + STACK_GHCB_VALID_BITMAP, bitmap, 16, true, false)) ||
		    (rc = guest_copy(g, gpa + STACK_GHCB_PROTO_VERSION, &ver, 2, true, false)))
			return rc;
		if (!do_vmgexit(g, gpa, &resp))
			return -1;
		if ((rc = guest_copy(g, gpa + STACK_GHCB_SW_EXIT_INFO_2, &info2, 8, false, false)) ||
		    (rc = guest_copy(g, gpa + STACK_GHCB_SHARED_BUF, &hdr, 8, false, false)))
			return rc;
		(void)zero;
		if (info2)
			return psc_refused(g, info2);
		if ((hdr & 0xffff) < cur || ((hdr >> 16) & 0xffff) != n - 1 || (hdr >> 32))
			return terminate(g, TERM_PSC);
		cur = hdr & 0xffff;
		if (cur > n - 1)
			return 0;
	}
}

/* The PSC of [gpa, gpa + size) to @op in batches, 2M entries where @big allows (__set_pages_state). */
struct batch {
	uint64_t ent[PSC_BATCH];
	unsigned n;
};

static void batch_fill(struct batch *b, uint64_t *gpa, uint64_t end, unsigned op, bool big)
{
	b->n = 0;
	while (*gpa < end && b->n < PSC_BATCH) {
		bool huge = big && !(*gpa & (PAGE_2M - 1)) && end - *gpa >= PAGE_2M;

		b->ent[b->n++] = ((*gpa >> 12) << 12) | ((uint64_t)op << 52) | ((uint64_t)huge << 56);
		*gpa += huge ? PAGE_2M : PAGE_4K;
	}
}

/* PVALIDATE every page of a batch (pvalidate_pages): 2M with the 4K fallback on SIZEMISMATCH. */
static int batch_pvalidate(struct gact *g, const struct batch *b, bool validate)
{
	for (unsigned i = 0; i < b->n; i++) {
		uint64_t gpa = b->ent[i] & 0x000ffffffffff000ull;
		bool huge = (b->ent[i] >> 56) & 1, changed;
		enum rmp_rc rc;
		int r = pvalidate(g, gpa, huge, validate, &rc, &changed);

		if (r)
			return r;
		if (huge && rc == RMP_RC_FAIL_SIZEMISMATCH) {
			for (uint64_t a = gpa; a < gpa + PAGE_2M; a += PAGE_4K) {
				r = pvalidate(g, a, false, validate, &rc, &changed);
				if (r)
					return r;
				if (rc != RMP_RC_SUCCESS)
					return terminate(g, TERM_PVALIDATE);
			}
			continue;
		}
		if (rc != RMP_RC_SUCCESS)
			return terminate(g, TERM_PVALIDATE);
	}
	return 0;
}

static int batch_psc(struct gact *g, const struct batch *b, bool via_ghcb)
{
	if (via_ghcb) {
		if (g->vc->guest_ghcb == UINT64_MAX) {
			int rc = ghcb_setup(g, UINT64_MAX);

			if (rc)
				return rc;
		}
		return psc_nae(g, b->ent, b->n);
	}
	for (unsigned i = 0; i < b->n; i++) {
		uint64_t gpa = b->ent[i] & 0x000ffffffffff000ull;
		unsigned op = (unsigned)(b->ent[i] >> 52) & 0xf;
		uint64_t n = ((b->ent[i] >> 56) & 1) ? 512 : 1;

		for (uint64_t p = 0; p < n; p++) {
			int rc = psc_msr_page(g, gpa + (p << 12), op);

			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * A conversion of [gpa, gpa + size) in Linux's order: to private, the
 * PSC then PVALIDATE; to shared, rescind (PVALIDATE 0) then the PSC.
 * @validate_only_psc: the PSC alone (`guest psc`).
 */
static int convert(struct gact *g, uint64_t gpa, uint64_t size, unsigned op, bool via_ghcb,
		   bool big, bool psc_only)
{
	uint64_t a = gpa, end = gpa + size;

	while (a < end) {
		struct batch b;
		int rc;

		batch_fill(&b, &a, end, op, big);
		if (!psc_only && op == OP_SHARED && (rc = batch_pvalidate(g, &b, false)))
			return rc;
		if ((rc = batch_psc(g, &b, via_ghcb)))
			return rc;
		if (!psc_only && op == OP_PRIVATE && (rc = batch_pvalidate(g, &b, true)))
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The operations                                                      */
/* ------------------------------------------------------------------ */

/*
 * Start a guest action: the VM must run (SNP: its launch finished, as
 * KVM_RUN wants), the vCPU exist and not be powered off; then VMRUN.
 */
static bool gact_begin(struct sim_call *c, struct gact *g)
{
	memset(g, 0, sizeof(*g));
	g->c = c;
	g->a = sim_call_agent(c);
	g->st = stack_get(sim_call_sim(c));
	g->v = stack_kvm_vm_of(c);
	if (!g->v)
		return false;
	g->k = (unsigned)sim_arg_u64(c, "vcpu", 0);
	g->vc = &g->v->run->vcpu[g->k];
	if (g->v->run->killed) {
		sim_call_result(c, "KILLED");
		return false;
	}
	if (!g->vc->created) {
		stack_put_errno(c, ENOENT);
		return false;
	}
	if (stack_kvm_vcpu_running(g->v, (int)g->k)) {
		stack_put_errno(c, EBUSY);   /* its thread is in KVM_RUN on another agent */
		return false;
	}
	if (g->vc->power_off ||
	    (g->v->kvm->type == STACK_KVM_VM_SNP &&
	     (!g->v->snp || stack_snp_gstate(g->v->snp) != STACK_SNP_GSTATE_RUNNING || !g->vc->vmsa_spa))) {
		stack_put_errno(c, EINVAL);
		return false;
	}
	if (g->v->kvm->type == STACK_KVM_VM_SNP && g->vc->ap_request) {
		/* vcpu_enter_guest: KVM_REQ_UPDATE_PROTECTED_GUEST_STATE (an AP creation) */
		struct sim_who who = who_now(g);
		uint64_t cyc = 0;
		bool runnable = stack_kvm_ap_update(g->v, g->k, &who, false, &cyc);

		charge(g, cyc + who.mem_cycles);
		if (!runnable) {
			stack_put_errno(c, EINVAL);   /* no VMSA: not runnable */
			stack_check_after(c);
			return false;
		}
	}
	if (g->v->kvm->type == STACK_KVM_VM_SNP && !stack_kvm_vmsa_ok(g->v, g->k)) {
		/* VMRUN: VMEXIT_INVALID, KVM_EXIT_FAIL_ENTRY; the VMM stops the VM */
		g->v->run->killed = true;
		sim_call_result(c, "KILLED");
		sim_call_field(c, "exit", "fail_entry");
		stack_check_after(c);
		return false;
	}
	g->vc->ran = true;
	charge(g, switch_cost(g, g->st->lat_vmrun));
	return true;
}

/* Print the outcome of an action (@rc: 0 OK, 1 g->fault, -1 killed or stuck). */
static void gact_end(struct gact *g, int rc)
{
	if (g->killed)
		sim_call_result(g->c, "KILLED");
	else if (rc)
		sim_call_result(g->c, "%s", g->fault[0] ? g->fault : "ERROR(EFAULT)");
	else
		sim_call_result(g->c, "OK");
	sim_call_field_u64(g->c, "exits", g->exits);
	sim_call_field_u64(g->c, "user_exits", g->user_exits);
	if (!g->killed) {
		/* the action's last #VMEXIT: the guest goes back to the host */
		charge(g, switch_cost(g, g->st->lat_vmexit));
	}
	stack_check_after(g->c);
}

static const char *const kind_choices[] = { "read", "write", "fetch", NULL };
static const char *const psize_choices[] = { "4k", "2m", NULL };
static const char *const op_choices[] = { "private", "shared", NULL };
static const char *const via_choices[] = { "msr", "ghcb", NULL };

static void op_guest_access(struct sim_call *c)
{
	struct gact g;
	enum s2_access acc;
	uint64_t spa = 0, leaf;
	int rc;

	if (stack_pkvm_guest_op(c, STACK_PKVM_GOP_ACCESS))   /* pKVM hook: a pKVM VM (ops_pkvm.c) */
		return;
	if (!gact_begin(c, &g))
		return;
	acc = (enum s2_access)sim_arg_enum(c, "kind", 0);
	rc = translate(&g, sim_arg_u64(c, "gpa", 0), acc,
		       sim_arg_bool(c, "private", g.v->kvm->type == STACK_KVM_VM_SNP), true, &spa,
		       &leaf);
	gact_end(&g, rc == 2 ? 0 : rc);
	if (rc == 2)
		sim_call_field_u64(c, "mmio", 1);
	else if (!rc && !g.killed)
		sim_call_field_hex(c, "spa", spa);
}

static void op_guest_pvalidate(struct sim_call *c)
{
	struct gact g;
	enum rmp_rc res = RMP_RC_SUCCESS;
	bool changed = false;
	int rc;

	if (!gact_begin(c, &g))
		return;
	if (g.v->kvm->type != STACK_KVM_VM_SNP) {
		snprintf(g.fault, sizeof(g.fault), "#UD");   /* outside an SNP guest */
		gact_end(&g, 1);
		return;
	}
	rc = pvalidate(&g, sim_arg_u64(c, "gpa", 0), sim_arg_enum(c, "size", 0) == 1,
		       sim_arg_bool(c, "validate", true), &res, &changed);
	if (!rc && res != RMP_RC_SUCCESS) {
		snprintf(g.fault, sizeof(g.fault), "%s", rmp_rc_name(RMP_INSN_PVALIDATE, res));
		rc = 1;
	}
	gact_end(&g, rc);
	if (!rc)
		sim_call_field_u64(c, "changed", changed);
}

/* The range of a conversion action: 4K aligned, non-empty (else #GP-free refusal: a bad argument). */
static bool range_ok(struct sim_call *c, uint64_t gpa, uint64_t size)
{
	if ((gpa | size) & (PAGE_4K - 1) || !size || gpa + size < gpa) {
		sim_call_bad_arg(c, "size", "gpa and size must be 4k aligned, size > 0");
		return false;
	}
	return true;
}

static void conversion_op(struct sim_call *c, unsigned op, bool psc_only, bool big)
{
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), size = sim_arg_u64(c, "size", 0);
	struct gact g;

	if (!range_ok(c, gpa, size) || !gact_begin(c, &g))
		return;
	if (g.v->kvm->type != STACK_KVM_VM_SNP) {
		/* page-state changes are SNP's: a plain VM has no GHCB (#UD of VMGEXIT's MSR) */
		snprintf(g.fault, sizeof(g.fault), "#UD");
		gact_end(&g, 1);
		return;
	}
	gact_end(&g, convert(&g, gpa, size, op, sim_arg_enum(c, "via", 1) == 1, big, psc_only));
}

static void op_guest_psc(struct sim_call *c)
{
	conversion_op(c, sim_arg_enum(c, "op", 0) == 0 ? OP_PRIVATE : OP_SHARED, true,
		      sim_arg_enum(c, "page", 0) == 1);
}

/* Linux's accept_memory (snp_accept_memory): to private, 2M where possible, then PVALIDATE. */
static void op_guest_accept(struct sim_call *c)
{
	conversion_op(c, OP_PRIVATE, false, true);
}

static void op_guest_share(struct sim_call *c)
{
	if (stack_pkvm_guest_op(c, STACK_PKVM_GOP_SHARE))   /* pKVM hook: a pKVM VM (ops_pkvm.c) */
		return;
	conversion_op(c, OP_SHARED, false, false);
}

static void op_guest_unshare(struct sim_call *c)
{
	if (stack_pkvm_guest_op(c, STACK_PKVM_GOP_UNSHARE))   /* pKVM hook: a pKVM VM (ops_pkvm.c) */
		return;
	conversion_op(c, OP_PRIVATE, false, false);
}

static void op_guest_ghcb(struct sim_call *c)
{
	struct gact g;
	uint64_t gpa = sim_arg_u64(c, "gpa", 0);

	if (!gact_begin(c, &g))
		return;
	if (g.v->kvm->type != STACK_KVM_VM_SNP) {
		snprintf(g.fault, sizeof(g.fault), "#UD");
		gact_end(&g, 1);
		return;
	}
	gact_end(&g, ghcb_setup(&g, gpa));
}

static const char *const ap_request_choices[] = { "on_init", "create", "destroy", NULL };

/*
 * Linux's AP start (wakeup_cpu_via_vmgexit, snp_set_vmsa): for a create,
 * the guest makes its page at gpa a VMSA (RMPADJUST, target VMPL 1, VMSA
 * set), then asks with the AP Creation VMGEXIT (sw_exit_info_1 = request
 * | target << 32, sw_exit_info_2 = gpa, RAX = the SEV features); a
 * refusal (sw_exit_info_1 low half not 0) is ERROR(EINVAL) with the
 * answer in ghcb_error=, and the guest takes the VMSA bit back
 * (snp_cleanup_vmsa).
 */
static void op_guest_ap_create(struct sim_call *c)
{
	unsigned request = (unsigned)sim_arg_enum(c, "request", 1);
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), info1, info2, resp, target;
	uint8_t bitmap[16] = { 0 };
	enum rmp_rc rrc = RMP_RC_SUCCESS;
	struct gact g;
	int rc = 0;

	if (!gact_begin(c, &g))
		return;
	if (g.v->kvm->type != STACK_KVM_VM_SNP) {
		snprintf(g.fault, sizeof(g.fault), "#UD");
		gact_end(&g, 1);
		return;
	}
	target = sim_arg_u64(c, "target", 0);
	if (g.vc->guest_ghcb == UINT64_MAX && (rc = ghcb_setup(&g, UINT64_MAX))) {
		gact_end(&g, rc);
		return;
	}
	if (request != STACK_AP_DESTROY) {
		rc = rmpadjust(&g, gpa, 1, 0, true, &rrc);
		if (!rc && rrc != RMP_RC_SUCCESS) {
			snprintf(g.fault, sizeof(g.fault), "ERROR(%s)", rmp_rc_name(RMP_INSN_RMPADJUST, rrc));
			rc = 1;
		}
		if (rc) {
			gact_end(&g, rc);
			return;
		}
	}
	if ((rc = ghcb_set(&g, STACK_GHCB_SW_EXIT_CODE, STACK_SVM_VMGEXIT_AP_CREATION, bitmap)) ||
	    (rc = ghcb_set(&g, STACK_GHCB_SW_EXIT_INFO_1, request | target << 32, bitmap)) ||
	    (rc = ghcb_set(&g, STACK_GHCB_SW_EXIT_INFO_2, gpa, bitmap)) ||
	    (request != STACK_AP_DESTROY &&
	     (rc = ghcb_set(&g, STACK_GHCB_RAX, sim_arg_u64(c, "features", STACK_SEV_FEAT_SNP_ACTIVE),
			    bitmap))) ||
	    (rc = guest_copy(&g, g.vc->guest_ghcb + STACK_GHCB_VALID_BITMAP, bitmap, 16, true, false))) {
		gact_end(&g, rc);
		return;
	}
	if (!do_vmgexit(&g, g.vc->guest_ghcb, &resp)) {
		gact_end(&g, -1);
		return;
	}
	if ((rc = guest_copy(&g, g.vc->guest_ghcb + STACK_GHCB_SW_EXIT_INFO_1, &info1, 8, false, false)) ||
	    (rc = guest_copy(&g, g.vc->guest_ghcb + STACK_GHCB_SW_EXIT_INFO_2, &info2, 8, false, false))) {
		gact_end(&g, rc);
		return;
	}
	if ((uint32_t)info1) {
		sim_call_field_hex(c, "ghcb_error", info2);
		if (request != STACK_AP_DESTROY && (rc = rmpadjust(&g, gpa, 1, 0, false, &rrc))) {
			gact_end(&g, rc);
			return;
		}
		snprintf(g.fault, sizeof(g.fault), "ERROR(EINVAL)");
		gact_end(&g, 1);
		return;
	}
	gact_end(&g, 0);
}

static void op_guest_hypercall(struct sim_call *c)
{
	struct gact g;
	uint64_t args[5], ret = 0;
	bool ok;

	if (stack_pkvm_guest_op(c, STACK_PKVM_GOP_HYPERCALL))   /* pKVM hook: a pKVM VM (ops_pkvm.c) */
		return;
	if (!gact_begin(c, &g))
		return;
	args[0] = sim_arg_u64(c, "nr", 0);
	args[1] = sim_arg_u64(c, "a0", 0);
	args[2] = sim_arg_u64(c, "a1", 0);
	args[3] = sim_arg_u64(c, "a2", 0);
	args[4] = sim_arg_u64(c, "a3", 0);
	ok = do_hypercall(&g, args, &ret);
	gact_end(&g, ok ? 0 : -1);
	if (ok)
		sim_call_field(c, "ret", "%lld", (long long)ret);
}

/*
 * heki.h: MOV to CR0/CR4 by the guest kernel (the scripted vCPU's own
 * registers).  Reserved bits: #GP from the CPU, no exit.  A write that
 * changes an intercepted bit (pins, VTL1's intercepts, the VMM's filter)
 * exits to KVM (handle_cr), which performs it, refuses it with #GP (RIP
 * not advanced: the register keeps its value) or hands it to the VMM.
 */
static void op_guest_cr_write(struct sim_call *c)
{
	unsigned cr = (unsigned)sim_arg_u64(c, "cr", 0);
	uint64_t val = sim_arg_u64(c, "value", 0), old;
	struct gact g;
	int rc = 0;

	if (cr != 0 && cr != 4) {
		sim_call_bad_arg(c, "cr", "%u: 0 or 4", cr);
		return;
	}
	if (!gact_begin(c, &g))
		return;
	old = stack_heki_vcpu_cr(g.v, g.k, cr);
	if (val & ~(cr == 0 ? STACK_X86_CR0_VALID : STACK_X86_CR4_VALID)) {
		snprintf(g.fault, sizeof(g.fault), "#GP");
		rc = 1;
	} else if ((old ^ val) & stack_heki_intercept(g.v, cr)) {
		struct cpu_exit e = { .reason = CPU_EXIT_CR_WRITE, .cr = cr, .cr_old = old, .cr_new = val };

		switch (to_host(&g, &e)) {
		case STACK_KVM_DONE:
			stack_heki_vcpu_set_cr(g.v, g.k, cr, val);
			break;
		case STACK_KVM_GP:
			snprintf(g.fault, sizeof(g.fault), "#GP");
			rc = 1;
			break;
		default:
			rc = -1;
			break;
		}
	} else {
		stack_heki_vcpu_set_cr(g.v, g.k, cr, val);
	}
	gact_end(&g, rc);
	if (!g.killed)
		sim_call_field_hex(c, "cr", stack_heki_vcpu_cr(g.v, g.k, cr));
}

/* ------------------------------------------------------------------ */
/* vCPUs and capabilities                                              */
/* ------------------------------------------------------------------ */

static void op_vcpu_create(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	unsigned k = (unsigned)sim_arg_u64(c, "vcpu", 0);

	if (!v)
		return;
	if (v->run->vcpu[k].created) {
		stack_put_errno(c, EEXIST);
		return;
	}
	v->run->vcpu[k].created = true;
	v->run->vcpu[k].power_off = sim_arg_bool(c, "power_off", false);
	if (k >= v->nvcpus)
		v->nvcpus = k + 1;
	sim_call_result(c, "OK");
	sim_advance(sim_call_agent(c), v->st->lat.ioctl);
	stack_check_after(c);
}

/* The vCPU of vm= and vcpu=, or NULL with ERROR(ENOENT). */
static struct stack_kvm_vcpu *vcpu_of(struct sim_call *c, struct stack_vm **vp)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	unsigned k = (unsigned)sim_arg_u64(c, "vcpu", 0);

	if (!v)
		return NULL;
	if (!v->run->vcpu[k].created) {
		stack_put_errno(c, ENOENT);
		return NULL;
	}
	*vp = v;
	return &v->run->vcpu[k];
}

static void op_vcpu_state(struct sim_call *c)
{
	struct stack_vm *v;
	struct stack_kvm_vcpu *vc = vcpu_of(c, &v);

	if (!vc)
		return;
	uint64_t pc = vc->pc, sp = vc->sp;

	(void)stack_kvm_cpu_regs(v, (unsigned)(vc - v->run->vcpu), &pc, &sp);
	sim_call_result(c, "OK");
	sim_call_field_hex(c, "pc", pc);
	sim_call_field_hex(c, "sp", sp);
	sim_call_field_u64(c, "power_off", vc->power_off);
	sim_call_field_u64(c, "ran", vc->ran);
	if (vc->ghcb_gpa != UINT64_MAX)
		sim_call_field_hex(c, "ghcb", vc->ghcb_gpa);
	if (vc->vmsa_spa)
		sim_call_field_hex(c, "vmsa", vc->vmsa_spa);
	sim_advance(sim_call_agent(c), v->st->lat.ioctl);
}

/* The vCPU's reset state: registers zero, no GHCB registered (KVM_SET_REGS of a fresh vCPU). */
static void op_vcpu_reset(struct sim_call *c)
{
	struct stack_vm *v;
	struct stack_kvm_vcpu *vc = vcpu_of(c, &v);

	if (!vc)
		return;
	vc->pc = vc->sp = 0;
	vc->ghcb_gpa = vc->guest_ghcb = UINT64_MAX;
	vc->ghcb_msr = 0;
	vc->cont = STACK_KVM_CONT_NONE;
	{
		/* INIT: svm_vcpu_reset -> sev_snp_init_protected_guest_state (AP_CREATE_ON_INIT) */
		struct sim_agent *a = sim_call_agent(c);
		struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };
		uint64_t cyc = 0;

		(void)stack_kvm_ap_update(v, (unsigned)sim_arg_u64(c, "vcpu", 0), &who, true, &cyc);
		sim_advance(a, cyc + who.mem_cycles);
	}
	stack_heki_vcpu_reset(v, (unsigned)(vc - v->run->vcpu));   /* heki.h: CRs, pins, filter, VTL */
	sim_call_result(c, "OK");
	sim_advance(sim_call_agent(c), v->st->lat.ioctl);
	stack_check_after(c);
}

static const char *const cap_choices[] = {
	"exit_hypercall", "protected_vm", "heki_configure", "heki_denial", NULL
};

/*
 * KVM_ENABLE_CAP.  exit_hypercall (KVM_CAP_EXIT_HYPERCALL): arg0 is the
 * mask of hypercalls that exit to the VMM; only KVM_HC_MAP_GPA_RANGE's
 * bit (1 << 12) is valid (KVM_EXIT_HYPERCALL_VALID_MASK), else -EINVAL.
 * heki_configure / heki_denial (KVM_CAP_HEKI_CONFIGURE/DENIAL, heki.c):
 * arg0 the mask of KVM_HEKI_EXIT_REASON_CR0 (1) and _CR4 (2), else
 * -EINVAL; KVM_CHECK_EXTENSION's answer, the mask of known reasons,
 * is printed as known=.  protected_vm belongs to the pKVM host: -EINVAL
 * here, as KVM answers a capability it does not have.
 */
static void op_vm_cap(struct sim_call *c)
{
	unsigned cap = sim_arg_enum(c, "cap", 0);
	struct stack_vm *v;

	if (stack_pkvm_op_vm_cap(c))   /* pKVM hook: cap=protected_vm on a pKVM machine */
		return;
	v = stack_kvm_vm_of(c);
	if (!v)
		return;
	sim_advance(sim_call_agent(c), v->st->lat.ioctl);
	if (cap == 2 || cap == 3) {   /* heki.h */
		if (stack_heki_enable_cap(v, cap == 3, sim_arg_u64(c, "arg0", 0))) {
			stack_put_errno(c, EINVAL);
			return;
		}
		sim_call_result(c, "OK");
		sim_call_field(c, "ret", "0");
		sim_call_field_hex(c, "known", STACK_KVM_HEKI_EXIT_REASON_VALID_MASK);
		stack_check_after(c);
		return;
	}
	if (cap != 0) {
		stack_put_errno(c, EINVAL);
		return;
	}
	if (sim_arg_u64(c, "arg0", 0) & ~(1ull << STACK_KVM_HC_MAP_GPA_RANGE)) {
		stack_put_errno(c, EINVAL);
		return;
	}
	v->run->hc_exit_mask = sim_arg_u64(c, "arg0", 0);
	sim_call_result(c, "OK");
	stack_check_after(c);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

#define VM_ARG SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1)
#define VCPU_ARG(req) SIM_A_INT("vcpu", req, 0, STACK_KVM_MAX_VCPUS - 1)

static const struct sim_arg_spec cap_args[] = {
	VM_ARG, SIM_A_ENUM("cap", true, cap_choices), SIM_A_U64("arg0", false),
	SIM_A_U64("arg1", false), SIM_A_END
};
static const struct sim_arg_spec vcpu_create_args[] = {
	VM_ARG, VCPU_ARG(true), SIM_A_BOOL("power_off", false), SIM_A_END
};
static const struct sim_arg_spec vcpu_args[] = { VM_ARG, VCPU_ARG(true), SIM_A_END };
static const struct sim_arg_spec access_args[] = {
	VM_ARG, SIM_A_ADDR("gpa", true), SIM_A_ENUM("kind", true, kind_choices),
	SIM_A_BOOL("private", false), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec pvalidate_args[] = {
	VM_ARG, SIM_A_ADDR("gpa", true), SIM_A_ENUM("size", false, psize_choices),
	SIM_A_BOOL("validate", false), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec psc_args[] = {
	VM_ARG, SIM_A_ADDR("gpa", true), SIM_A_SIZE("size", true),
	SIM_A_ENUM("op", true, op_choices), SIM_A_ENUM("via", false, via_choices),
	SIM_A_ENUM("page", false, psize_choices), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec range_args[] = {
	VM_ARG, SIM_A_ADDR("gpa", true), SIM_A_SIZE("size", true),
	SIM_A_ENUM("via", false, via_choices), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec ghcb_args[] = {
	VM_ARG, SIM_A_ADDR_ALIGN("gpa", true, PAGE_4K), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec ap_create_args[] = {
	VM_ARG, SIM_A_INT("target", true, 0, STACK_KVM_MAX_VCPUS - 1),
	SIM_A_ADDR_ALIGN("gpa", true, PAGE_4K), SIM_A_ENUM("request", false, ap_request_choices),
	SIM_A_U64("features", false), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec cr_write_args[] = {
	VM_ARG, SIM_A_INTM("cr", true, 0, 4, "0|4"), SIM_A_U64("value", true), VCPU_ARG(false), SIM_A_END
};
static const struct sim_arg_spec hypercall_args[] = {
	VM_ARG, SIM_A_U64("nr", true), SIM_A_U64("a0", false), SIM_A_U64("a1", false),
	SIM_A_U64("a2", false), SIM_A_U64("a3", false), VCPU_ARG(false), SIM_A_END
};

const struct sim_op stack_guest_ops[] = {
	{ "vm cap", cap_args,
	  "KVM_ENABLE_CAP: exit_hypercall (arg0: the hypercalls that exit to the VMM, bit 12 = MAP_GPA_RANGE), heki_configure/heki_denial (arg0: bit 0 CR0, bit 1 CR4)",
	  op_vm_cap },
	{ "vcpu create", vcpu_create_args, "KVM_CREATE_VCPU: vCPU vcpu of VM vm", op_vcpu_create },
	{ "vcpu state", vcpu_args, "the vCPU's state: OK pc= sp= power_off= ran= [ghcb=] [vmsa=]",
	  op_vcpu_state },
	{ "vcpu reset", vcpu_args, "the vCPU back to its reset state", op_vcpu_reset },
	{ "vm load", stack_vm_load_args,
	  "the VMM copies an RV64 ELF program into VM vm's memory: OK entry= base= size=",
	  stack_op_vm_load },
	{ "vm boot", stack_vm_boot_args,
	  "the VMM writes the boot-parameters page at gpa (image and page reserved, the rest unaccepted; cmdline: `,` for a space)",
	  stack_op_vm_boot },
	{ "vcpu run", stack_vcpu_run_args,
	  "KVM_RUN: the program runs on vCPU vcpu until it exits, halts or max_insns: OK exit= ...",
	  stack_op_vcpu_run },
	{ "guest access", access_args,
	  "the guest accesses gpa (private: the C-bit, default 1 on SNP): OK spa= exits= user_exits=",
	  op_guest_access },
	{ "guest pvalidate", pvalidate_args,
	  "the guest's PVALIDATE of gpa: OK changed= | FAIL_* | #NPF... | #VC...", op_guest_pvalidate },
	{ "guest psc", psc_args,
	  "one page-state change request of [gpa, gpa + size) (via=msr: one 4K page a VMGEXIT; ghcb: NAE batches)",
	  op_guest_psc },
	{ "guest accept", range_args, "Linux's accept: PSC to private, then PVALIDATE (2M where possible)",
	  op_guest_accept },
	{ "guest share", range_args, "set_memory_decrypted: rescind, then PSC to shared", op_guest_share },
	{ "guest unshare", range_args, "set_memory_encrypted: PSC to private, then PVALIDATE",
	  op_guest_unshare },
	{ "guest ghcb", ghcb_args, "the vCPU's GHCB at gpa: made shared and registered (MSR 0x012)",
	  op_guest_ghcb },
	{ "guest ap_create", ap_create_args,
	  "the AP Creation VMGEXIT for vCPU target with the VMSA at gpa (create: RMPADJUST VMSA first)",
	  op_guest_ap_create },
	{ "guest hypercall", hypercall_args, "a hypercall from the guest: OK ret=N", op_guest_hypercall },
	{ "guest cr_write", cr_write_args,
	  "the guest kernel writes value to CR0 or CR4 (checked against pins, VTL1, the VMM's filter): OK|#GP cr=",
	  op_guest_cr_write },
	{ NULL, NULL, NULL, NULL }
};

/* The vCPU operations and guest actions, a module after the KVM module. */
const struct sim_module stack_guest_module = {
	.name = "guest",
	.needs = (const char *const[]){ "kvm", NULL },
	.ops = stack_guest_ops,
};
