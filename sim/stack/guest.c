/*
 * guest.c - VMs that run guest programs: the host side of `protsim exec`
 * and of the VMs a `protsim run` scenario describes.
 *
 * The host owns everything the hardware is handed: the VM's nested table
 * (its pages from the host page allocator, within the vm.pt_pool quota),
 * the VMCB and VMSA pages (from the same allocator), the intercept masks,
 * the guest RAM layout and the devices of the VMM (the HTIF console and
 * exit word).  Each vCPU runs on its own agent, a vCPU thread, whose body
 * is KVM's vcpu_run loop:
 *
 *	for (;;) {
 *		reason = cpu_vmrun(hart, &vmcb, &exit);     hardware: VMRUN .. #VMEXIT
 *		if (!host->exit[reason](vcpu, &exit))        the host's exit handler
 *			break;                                stop: VM dead or this vCPU done
 *	}
 *
 * The exit handlers form one table per host kind (struct stack_host);
 * "minimal" is the default host: it maps guest RAM on first touch, answers
 * the GHCB MSR protocol's basic requests and the protsim hypercalls, applies
 * vm.cr_policy to intercepted CR writes and halts on HLT (docs/stack.md
 * "The minimal host").
 */
#include "sim/stack/stack_int.h"
#include "cpu/cpu.h"

#include <stdlib.h>
#include <string.h>

const char *const stack_vm_state_names[] = {
	"running", "exited", "limit", "halted", "killed",
};

/* ------------------------------------------------------------------ */
/* Configuration: the vm.* keys                                        */
/* ------------------------------------------------------------------ */

const char *const stack_vm_type_choices[] = { "bare", "npt", "snp", NULL };
const char *const stack_psize_choices[] = { "4k", "2m", NULL };
const char *const stack_policy_choices[] = { "allow", "deny", NULL };

/* Key @what of the VM whose keys start with @prefix ("vm", "vm0"...). */
static const char *key(char buf[48], const char *prefix, const char *what)
{
	snprintf(buf, 48, "%s.%s", prefix, what);
	return buf;
}

static uint64_t key_u64(const struct sim *s, const char *prefix, const char *what)
{
	char b[48];

	return sim_cfg_u64(s, key(b, prefix, what));
}

static unsigned key_enum(const struct sim *s, const char *prefix, const char *what)
{
	char b[48];

	return sim_cfg_enum(s, key(b, prefix, what));
}

int stack_guest_check(struct sim *s, const char *prefix, struct sim_err *err)
{
	static const char *const place[] = { "mem_base", "mem_size", "spa_base" };
	uint64_t page = key_enum(s, prefix, "page_size") ? SIM_SZ_2M : SIM_SZ_4K;
	uint64_t base = key_u64(s, prefix, "mem_base"), size = key_u64(s, prefix, "mem_size");
	unsigned type = key_enum(s, prefix, "type");
	const struct rmp *rmp = sim_get_model(s, &rmp_module);
	char b[48], b2[48];

	for (unsigned i = 0; i < 3; i++)
		if (key_u64(s, prefix, place[i]) & (page - 1))
			return sim_cfg_error(s, key(b, prefix, place[i]), err, "0x%llx: must be a "
					     "multiple of %s (%s)",
					     (unsigned long long)key_u64(s, prefix, place[i]),
					     key(b2, prefix, "page_size"), page == SIM_SZ_2M ? "2m" : "4k");
	if (base + size < base || base + size > SIM_PA_LIMIT)
		return sim_cfg_error(s, key(b, prefix, "mem_size"), err, "guest RAM at 0x%llx + "
				     "0x%llx goes beyond the physical address limit (2^52)",
				     (unsigned long long)base, (unsigned long long)size);
	if (type == CPU_VM_SNP && !rmp_enabled(rmp))
		return sim_cfg_error(s, key(b, prefix, "type"), err,
				     "'snp' needs the RMP enabled (rmp.mode)");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Guest RAM, mapped on first touch                                    */
/* ------------------------------------------------------------------ */

static int gpa_to_spa(const struct stack_guest *g, uint64_t gpa, uint64_t *spa)
{
	if (gpa < g->mem_base || gpa - g->mem_base >= g->mem_size)
		return -1;
	*spa = gpa - g->mem_base + g->spa_base;
	return 0;
}

/* Charge @cycles of host work to the vCPU thread of @h (and to vcpuN.cycles). */
static void charge(struct cpu_hart *h, uint64_t cycles)
{
	if (!h || !cycles)
		return;
	sim_advance(cpu_hart_agent(h), cycles);
	cpu_hart_account(h, cycles);
}

/*
 * Guest memory is mapped lazily, as KVM's MMU does (kvm_mmu_page_fault ->
 * kvm_tdp_page_fault: a not-present #NPF installs the nested entry and
 * the access is retried).  For SNP the same first touch also writes the
 * page's RMP entry assigned and validated, untimed, as the launch
 * (SNP_LAUNCH_UPDATE) would have left pre-validated memory: before its
 * first touch a page is invisible to the guest (every guest access,
 * page-table read and PVALIDATE/RMPADJUST/RMPQUERY translates it first),
 * so the guest sees all of its RAM private and validated, as if the
 * launch had validated it all, at a host cost that follows the pages it
 * touches.  The nested-table stores are host writes, RMP-checked before
 * the first one (stack_table_writes_ok), and the nested entry and the RMP
 * entry are written with no clock advance in between (other agents run
 * only at one), so no vCPU sees the page mapped but not yet assigned; the
 * checks and the table accesses are charged after both.
 */
int stack_guest_map_page(struct stack_vm *v, struct cpu_hart *h, uint64_t gpa, struct sim_err *err)
{
	struct stack_guest *g = v->guest;
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	uint64_t page = gpa & ~(g->page_size - 1), spa, cyc;
	int agent = h ? sim_agent_id(cpu_hart_agent(h)) : -1, rc, ret = 0;
	struct sim_who who = { 0 };
	struct host_wr hw;

	if (!v->s2)
		return sim_err_set(err, "%s.type: a bare VM has no nested table to map GPA 0x%llx in",
				   g->keys, (unsigned long long)gpa);
	if (gpa_to_spa(g, page, &spa))
		return sim_err_set(err, "%s.mem_size: GPA 0x%llx is not in guest RAM (0x%llx + 0x%llx)",
				   g->keys, (unsigned long long)gpa, (unsigned long long)g->mem_base,
				   (unsigned long long)g->mem_size);
	if (h)
		sim_sync(cpu_hart_agent(h));   /* the table and the RMP are shared: in global order */
	if (!stack_table_writes_ok(v, v->s2, false, agent, S2_WSET_MAP, page, spa, g->page_size,
				   g->page_size, &prot, &hw)) {
		char tok[64];

		stack_vm_count_op(v, true);
		charge(h, hw.cycles);
		rmp_fault_format(&hw.f, tok, sizeof(tok));
		return sim_err_set(err, "%s.spa_base: the nested-table page 0x%llx the host would "
				   "write for GPA 0x%llx is not hypervisor-owned: %s",
				   g->keys, (unsigned long long)hw.f.addr, (unsigned long long)page, tok);
	}
	stack_vm_count_op(v, false);
	who.now = h ? sim_now(cpu_hart_agent(h)) : 0;
	who.agent = agent;
	rc = s2_map(v->s2, &who, page, spa, g->page_size, g->page_size, &prot);
	/*
	 * The root's zeroing is charged to the first map, as KVM allocates a
	 * VM's root lazily when its first vCPU loads the MMU (kvm_mmu_load).
	 */
	cyc = who.mem_cycles + g->root_cycles + hw.cycles;
	g->root_cycles = 0;
	if (rc == S2_ERR_EXISTS) {
		/* another vCPU's fault mapped it first */
	} else if (rc == S2_ERR_NOMEM) {
		ret = sim_err_set(err, "%s.pt_pool: the VM's nested-table pool (0x%llx bytes) is used "
				  "up mapping GPA 0x%llx: raise %s.pt_pool", g->keys,
				  (unsigned long long)v->table_quota, (unsigned long long)page, g->keys);
	} else if (rc != S2_OK) {
		ret = sim_err_set(err, "%s.mem_base: cannot map GPA 0x%llx in the nested table: %s",
				  g->keys, (unsigned long long)page, s2_rc_name(rc));
	} else {
		struct rmp_entry ent = {
			.assigned = true, .page_2m = g->page_size == SIM_SZ_2M,
			.validated = true, .asid = g->asid, .gpa = page,
		};

		ent.perms[0] = RMP_PERM_ALL;
		if (g->type == CPU_VM_SNP && rmp_fw_write(v->st->rmp, spa, &ent) != RMP_RC_SUCCESS)
			ret = sim_err_set(err, "%s.spa_base: guest page 0x%llx (GPA 0x%llx) is not "
					  "RMP-covered", g->keys, (unsigned long long)spa,
					  (unsigned long long)page);
		else
			g->npf_maps++;
	}
	charge(h, cyc);
	return ret;
}

/* ------------------------------------------------------------------ */
/* VM state                                                            */
/* ------------------------------------------------------------------ */

/*
 * Stop every vCPU of @v with @state (EXITED/KILLED/LIMIT/HALTED): each is
 * kicked out of guest mode at its next instruction boundary (the one
 * running the caller's instruction at once) and woken if halted.
 */
void stack_guest_stop(struct stack_vm *v, enum stack_vm_state state, int code)
{
	struct stack_guest *g = v->guest;
	struct sim_agent *cur = sim_current(v->st->s);

	if (cur)
		sim_sync(cur);   /* the VM's state and its vCPUs' kicks are shared */
	if (g->state != STACK_VM_RUNNING)
		return;
	g->state = state;
	g->exit_code = code;
	for (unsigned i = 0; i < g->nvcpu; i++) {
		struct stack_vcpu *vc = &g->vcpu[i];

		cpu_vcpu_kick(NULL, vc->h);
		if (vc->blocked)
			sim_wake(sim_current(v->st->s), cpu_hart_agent(vc->h));
	}
}

void stack_vcpu_kick(struct sim_agent *from, struct stack_vm *v, unsigned vcpu)
{
	struct stack_vcpu *vc = &v->guest->vcpu[vcpu];

	if (from && sim_timeline_on(v->st->s)) {
		sim_sync(from);
		vc->kick_flow = sim_timeline_flow_id(v->st->s);
		sim_timeline_instant(v->st->s, sim_agent_id(from), "kick", vc->name, sim_now(from),
				     NULL);
		sim_timeline_flow(v->st->s, true, vc->kick_flow, sim_agent_id(from), sim_now(from),
				  "kick");
	}
	cpu_vcpu_kick(from, vc->h);
	if (vc->blocked)
		sim_wake(from, cpu_hart_agent(vc->h));
}

/* CLINT msip raised on @to by @from: wake @to if it sleeps in HLT (kvm_vcpu_kick). */
static void guest_irq(void *arg, struct cpu_hart *from, struct cpu_hart *to)
{
	struct stack_guest *g = arg;
	struct stack_vcpu *vc = &g->vcpu[cpu_hart_id(to)];

	if (vc->blocked)
		sim_wake(cpu_hart_agent(from), cpu_hart_agent(to));
}

/* ------------------------------------------------------------------ */
/* The VMM's HTIF device: tohost/fromhost as Spike and qemu -M spike    */
/* ------------------------------------------------------------------ */

static void fromhost_write(struct stack_htif *d, uint64_t v)
{
	uint64_t spa;

	if (d->fromhost && d->gpa_to_spa(d->arg, d->fromhost, &spa) == 0)
		sim_mem_poke64(d->mem, spa, v);
}

/* Guest bytes [gpa, gpa + len) are in guest memory (one page at a time). */
static bool guest_range(struct stack_htif *d, uint64_t gpa, uint64_t len)
{
	uint64_t spa;

	if (gpa + len < gpa || d->gpa_to_spa(d->arg, gpa, &spa))
		return false;
	for (uint64_t a = (gpa & ~0xfffull) + 0x1000; a < gpa + len; a += 0x1000)
		if (d->gpa_to_spa(d->arg, a, &spa))
			return false;
	return true;
}

/* The syscall proxy: magic_mem[0] = number, [1..3] = arguments. */
static void htif_syscall(struct stack_htif *d, uint64_t gpa)
{
	uint64_t spa, mm[4], ret = (uint64_t)-38;   /* -ENOSYS */

	/* the 32-byte block must lie in guest memory; else the request is dropped */
	if (!guest_range(d, gpa, 32) || d->gpa_to_spa(d->arg, gpa, &spa))
		return;
	sim_mem_peek(d->mem, spa, mm, sizeof(mm));
	if (mm[0] == 64 && (mm[1] == 1 || mm[1] == 2)) {   /* write(fd, buf, len) */
		ret = (uint64_t)-14;   /* -EFAULT */
		if (mm[3] <= d->max_len && guest_range(d, mm[2], mm[3])) {
			for (uint64_t i = 0; i < mm[3]; i++) {
				uint64_t bspa;
				uint8_t ch;

				(void)d->gpa_to_spa(d->arg, mm[2] + i, &bspa);
				sim_mem_peek(d->mem, bspa, &ch, 1);
				if (d->console)
					fputc(ch, d->console);
			}
			ret = mm[3];
		}
	}
	sim_mem_poke64(d->mem, spa, ret);
	fromhost_write(d, 1);
}

void stack_htif_tohost(struct stack_htif *d, uint64_t val)
{
	unsigned dev = (unsigned)(val >> 56), cmd = (unsigned)(val >> 48) & 0xff;
	uint64_t payload = val & ((1ull << 48) - 1);

	sim_mem_poke64(d->mem, d->tohost_spa, 0);
	if (dev == 0 && cmd == 0) {
		if (payload & 1)
			d->exit(d->arg, (int)(payload >> 1));
		else
			htif_syscall(d, payload);
	} else if (dev == 1 && cmd == 1) {
		if (d->console)
			fputc((int)(payload & 0xff), d->console);
		fromhost_write(d, (val >> 48 << 48) | 0x100 | (payload & 0xff));
	}
	/* other devices and commands: consumed and ignored (docs/guest-abi.md) */
}

/* A non-zero store to tohost (docs/guest-abi.md "HTIF"). */
static void htif_tohost(void *arg, struct cpu_hart *h, uint64_t val)
{
	struct stack_vm *v = arg;

	(void)h;
	stack_htif_tohost(&v->guest->htif, val);
}

static int htif_gpa_to_spa(void *arg, uint64_t gpa, uint64_t *spa)
{
	struct stack_vm *v = arg;

	return gpa_to_spa(v->guest, gpa, spa);
}

static void htif_exit(void *arg, int code)
{
	stack_guest_stop(arg, STACK_VM_EXITED, code);
}

/* ------------------------------------------------------------------ */
/* The minimal host: its exit handlers                                 */
/* ------------------------------------------------------------------ */

/*
 * #NPF: outside guest RAM an access fault is injected; a not-present
 * fault inside it is a first touch: the page is mapped (for SNP also
 * assigned and validated, stack_guest_map_page) and the access retried,
 * as KVM's kvm_mmu_page_fault handles a fault without PFERR_PRESENT; any
 * other fault (RMP, permission) stops the VM.
 */
static int min_npf(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	struct stack_vm *v = vc->vm;
	struct stack_guest *g = v->guest;
	struct sim_err err;

	charge(vc->h, g->hv_exit);
	if (!(e->npf_info & RMP_NPF_RMP) &&
	    (e->npf_gpa < g->mem_base || e->npf_gpa - g->mem_base >= g->mem_size)) {
		/* no memory there: an access fault, as an MMIO abort would be */
		r->action = CPU_REPLY_INJECT;
		r->inject_cause = (e->npf_info & RMP_NPF_ID) ? CPU_CAUSE_FETCH_ACCESS
				: (e->npf_info & RMP_NPF_W) ? CPU_CAUSE_STORE_ACCESS
				: CPU_CAUSE_LOAD_ACCESS;
		r->inject_tval = e->gva ? e->gva : e->npf_gpa;
		return 1;
	}
	if (!(e->npf_info & (RMP_NPF_RMP | RMP_NPF_P))) {
		if (stack_guest_map_page(v, vc->h, e->npf_gpa, &err) == 0) {
			r->action = CPU_REPLY_RETRY;
			return 1;
		}
		fprintf(stderr, "protsim: %s: %s gpa=0x%llx at pc=0x%llx: %s; VM stopped\n",
			cpu_hart_name(vc->h), e->fault, (unsigned long long)e->npf_gpa,
			(unsigned long long)e->pc, err.msg);
		stack_guest_stop(v, STACK_VM_KILLED, 1);
		return 0;
	}
	fprintf(stderr, "protsim: %s: %s gpa=0x%llx at pc=0x%llx: the default hypervisor does "
		"not resolve nested page faults; VM stopped\n", cpu_hart_name(vc->h), e->fault,
		(unsigned long long)e->npf_gpa, (unsigned long long)e->pc);
	stack_guest_stop(v, STACK_VM_KILLED, 1);
	return 0;
}

/* GHCB MSR protocol codes (GHCB specification, AMD 56421, MSR protocol). */
static int min_vmgexit(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	uint64_t req = e->ghcb, code = req & 0xfff;

	charge(vc->h, vc->vm->guest->hv_exit);
	r->action = CPU_REPLY_SKIP;
	switch (code) {
	case 0x002:   /* SEV_INFO: protocol 1..2, C-bit position 51 */
		r->ret = (2ull << 48) | (1ull << 32) | (51ull << 24) | 0x001;
		break;
	case 0x080:   /* hypervisor features: SNP, AP creation */
		r->ret = (3ull << 12) | 0x081;
		break;
	case 0x014:   /* page-state change: not supported here (error in [63:32]) */
		r->ret = (1ull << 32) | 0x015;
		break;
	case 0x100:   /* terminate */
		fprintf(stderr, "protsim: %s: guest requested termination (reason set %llu, code %llu)\n",
			cpu_hart_name(vc->h), (unsigned long long)((req >> 12) & 0xf),
			(unsigned long long)((req >> 16) & 0xff));
		stack_guest_stop(vc->vm, STACK_VM_KILLED, (int)((req >> 16) & 0xff));
		return 0;
	default:      /* unknown request: answered with 0 (no such response code) */
		r->ret = 0;
		break;
	}
	return 1;
}

static int min_hypercall(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	charge(vc->h, vc->vm->guest->hv_exit);
	r->action = CPU_REPLY_SKIP;
	switch (e->args[0]) {
	case 0:  r->ret = 0; break;                     /* PROTSIM_HC_NOP */
	case 1:  r->ret = 1; break;                     /* PROTSIM_HC_VERSION */
	default: r->ret = (uint64_t)-1000; break;       /* -KVM_ENOSYS */
	}
	return 1;
}

static int min_cr_write(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	(void)e;
	charge(vc->h, vc->vm->guest->hv_exit);
	if (vc->vm->guest->cr_policy == 0) {
		r->action = CPU_REPLY_SKIP;
		r->cr_allow = true;
	} else {
		r->action = CPU_REPLY_INJECT;
		r->inject_cause = CPU_CAUSE_GP;
		r->inject_tval = 0;
	}
	return 1;
}

/*
 * Block the vCPU thread until woken (CLINT msip from another vCPU, a
 * kick, or the VM stops), as kvm_vcpu_halt does.  When every vCPU still
 * running is halted, nobody is left to wake anyone: the VM stops, HALTED.
 */
static void vcpu_halt(struct stack_vcpu *vc)
{
	struct stack_guest *g = vc->vm->guest;
	struct sim_agent *a = cpu_hart_agent(vc->h);

	sim_sync(a);   /* the blocked/running counts are the VM's shared state */
	vc->blocked = true;
	g->blocked++;
	if (g->blocked == g->running) {
		stack_guest_stop(vc->vm, STACK_VM_HALTED, 0);
	} else {
		uint64_t t0 = sim_now(a);

		sim_block(a);
		cpu_hart_account(vc->h, sim_now(a) - t0);
	}
	g->blocked--;
	vc->blocked = false;
}

static int min_hlt(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	struct sim_agent *a = cpu_hart_agent(vc->h);
	uint64_t t;

	(void)e;
	charge(vc->h, vc->vm->guest->hv_exit);
	r->action = CPU_REPLY_SKIP;
	if (cpu_hart_timer_cycle(vc->h, &t)) {
		/* a timer is armed: sleep until it fires */
		uint64_t t0 = sim_now(a);

		sim_wait_until(a, t);
		cpu_hart_account(vc->h, sim_now(a) - t0);
		return 1;
	}
	vcpu_halt(vc);
	return vc->vm->guest->state == STACK_VM_RUNNING;
}

/* Kicked: re-enter unless the VM stopped. */
static int min_intr(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	(void)e;
	r->action = CPU_REPLY_RESUME;
	return vc->vm->guest->state == STACK_VM_RUNNING;
}

static int min_invalid(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	(void)r;
	fprintf(stderr, "protsim: %s: VMRUN failed: %s\n", cpu_hart_name(vc->h), e->fault);
	stack_guest_stop(vc->vm, STACK_VM_KILLED, 1);
	return 0;
}

static int min_budget(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	(void)e;
	(void)r;
	stack_guest_stop(vc->vm, STACK_VM_LIMIT, 0);
	return 0;
}

const struct stack_host stack_host_minimal = {
	.name = "minimal",
	.exit = {
		[CPU_EXIT_NPF] = min_npf,
		[CPU_EXIT_VMGEXIT] = min_vmgexit,
		[CPU_EXIT_HYPERCALL] = min_hypercall,
		[CPU_EXIT_CR_WRITE] = min_cr_write,
		[CPU_EXIT_HLT] = min_hlt,
		[CPU_EXIT_INTR] = min_intr,
		[CPU_EXIT_INVALID] = min_invalid,
		[CPU_EXIT_BUDGET] = min_budget,
	},
};

/* ------------------------------------------------------------------ */
/* The vCPU thread: KVM's vcpu_run                                     */
/* ------------------------------------------------------------------ */

/*
 * PREFIX.exit_cycles.REASON: a histogram of the cycles from the guest
 * stopping on an exit of REASON to the end of its handling (the world
 * switch out and the host's work; a halt's sleep included).
 */
static void exit_latency(struct stack_guest *g, enum cpu_exit_reason why, uint64_t cycles)
{
	if (!g->exit_lat[why]) {
		char n[64];

		snprintf(n, sizeof(n), "%s.exit_cycles.%s", g->stat_prefix, cpu_exit_names[why]);
		g->exit_lat[why] = sim_stat_hist_owned(g->sim, n, "cycles from the guest stopping "
						       "on this exit to the end of its handling");
	}
	sim_hist_add(g->exit_lat[why], cycles);
}

/*
 * The timeline of one VMRUN: the guest's run (world switch in included)
 * up to the cycle it stopped, then the exit's handling (world switch out
 * and the host's work); an #NPF also as an instant with its address.  And
 * the exit's record in the event trace.  (Any VM's vCPU: guest.c's and
 * kvm_vcpu.c's.)
 */
void stack_record_exit(struct sim *s, struct sim_agent *a, const struct cpu_exit *e,
		       uint64_t t_in)
{
	int id = sim_agent_id(a);

	if (sim_timeline_on(s)) {
		char name[48], args[160];

		snprintf(args, sizeof(args), "\"pc\":\"0x%llx\"", (unsigned long long)e->pc);
		sim_timeline_span(s, id, "guest", "guest", t_in, e->cycle, args);
		snprintf(name, sizeof(name), "exit %s", cpu_exit_names[e->reason]);
		if (e->reason == CPU_EXIT_NPF) {
			snprintf(args, sizeof(args), "\"gpa\":\"0x%llx\",\"info\":\"0x%llx\"",
				 (unsigned long long)e->npf_gpa, (unsigned long long)e->npf_info);
			sim_timeline_instant(s, id, "fault", "npf", e->cycle, args);
		}
		sim_timeline_span(s, id, "exit", name, e->cycle, sim_now(a), NULL);
	}
	if (sim_trace_on(s))
		sim_trace_exit(s, id, &(struct sim_trace_exit){
			.stop = e->cycle, .end = sim_now(a), .reason = (uint32_t)e->reason,
			.name = cpu_exit_names[e->reason], .pc = e->pc,
			.gpa = e->reason == CPU_EXIT_NPF ? e->npf_gpa : 0,
			.info = e->reason == CPU_EXIT_NPF ? e->npf_info : 0 });
}

/* A kick's arrow ends at the INTR exit it caused. */
static void timeline_kick(struct stack_vcpu *vc, struct sim_agent *a, const struct cpu_exit *e)
{
	if (e->reason == CPU_EXIT_INTR && vc->kick_flow && sim_timeline_on(vc->vm->guest->sim)) {
		sim_timeline_flow(vc->vm->guest->sim, false, vc->kick_flow, sim_agent_id(a), e->cycle,
				  "kick");
		vc->kick_flow = 0;
	}
}

static void vcpu_body(struct sim_agent *a, void *arg)
{
	struct stack_vcpu *vc = arg;
	struct stack_vm *v = vc->vm;
	struct stack_guest *g = v->guest;
	struct cpu_exit e;

	for (;;) {
		uint64_t t_in = sim_now(a);
		enum cpu_exit_reason why = cpu_vmrun(vc->h, &vc->vmcb, &e);
		int again;

		memset(&vc->vmcb.reply, 0, sizeof(vc->vmcb.reply));
		again = g->host->exit[why](vc, &e, &vc->vmcb.reply);
		exit_latency(g, why, sim_now(a) - e.cycle);
		stack_record_exit(g->sim, a, &e, t_in);
		timeline_kick(vc, a, &e);
		if (!again)
			break;
		vc->vmcb.has_reply = true;
	}
	cpu_hart_finish(vc->h);
	sim_sync(a);
	g->running--;
	if (g->running && g->running == g->blocked && g->state == STACK_VM_RUNNING)
		stack_guest_stop(v, STACK_VM_HALTED, 0);
}

void stack_guest_start(struct stack_vm *v, uint64_t max_insns)
{
	struct stack_guest *g = v->guest;

	g->budget.max = max_insns;
	g->budget.used = 0;
	g->running = g->nvcpu;
	for (unsigned i = 0; i < g->nvcpu; i++) {
		struct stack_vcpu *vc = &g->vcpu[i];
		struct sim_agent *a = sim_agent_new(v->st->s, vc->name, SIM_AGENT_VCPU, vcpu_body, vc);

		cpu_hart_bind(vc->h, a);
	}
}

/* ------------------------------------------------------------------ */
/* Building and destroying a guest VM                                  */
/* ------------------------------------------------------------------ */

/*
 * The VMSA pages: from the host page allocator, made VMSA pages of the
 * guest by the firmware (SNP_LAUNCH_UPDATE of a VMSA page: assigned,
 * validated, VMSA, at the GPA recorded for it).
 */
static int guest_launch(struct stack_vm *v, struct sim_err *err)
{
	struct stack_guest *g = v->guest;
	uint64_t end = g->spa_base + g->mem_size;

	/* holes in RMP coverage start at 1 GiB boundaries: check those */
	for (uint64_t p = g->spa_base; p < end; p = (p | ((1ull << 30) - 1)) + 1)
		if (!rmp_is_covered(v->st->rmp, p))
			return sim_err_set(err, "%s.spa_base: guest page 0x%llx is not RMP-covered",
					   g->keys, (unsigned long long)p);
	for (unsigned i = 0; i < g->nvcpu; i++) {
		struct rmp_entry ent = {
			.assigned = true, .validated = true, .vmsa = true, .asid = g->asid,
			.gpa = g->vcpu[i].vmcb.vmsa_gpa,
		};

		ent.perms[0] = RMP_PERM_ALL;
		if (rmp_fw_write(v->st->rmp, g->vcpu[i].vmcb.vmsa_spa, &ent) != RMP_RC_SUCCESS)
			return sim_err_set(err, "%s.spa_base: VMSA page not RMP-covered", g->keys);
	}
	return 0;
}

/* A control page (VMCB, VMSA) from the host page allocator. */
static int control_page(struct stack_vm *v, uint64_t *pa, struct sim_err *err)
{
	if (stack_palloc_get(v->st->pool, false, pa) == 0)
		return 0;
	return sim_err_set(err, "s2.pool_size: no host page left for a vCPU's VMCB/VMSA "
			   "(host page pool 0x%llx bytes): raise s2.pool_size",
			   (unsigned long long)stack_palloc_size(v->st->pool));
}

struct stack_vm *stack_guest_new(struct sim *s, const struct stack_guest_cfg *gc, FILE *console,
				 struct sim_err *err)
{
	struct stack *st = stack_get(s);
	struct stack_guest *g;
	struct stack_vm *v;
	struct cpu_vm_cfg cfg = { 0 };
	const char *P = gc->keys ? gc->keys : "vm";
	uint64_t end, pool_lo, pool_hi;
	char kb[48];
	int rc;

	if (!st || !sim_started(s)) {
		sim_err_set(err, "stack: a guest VM needs a started machine with the stack module");
		return NULL;
	}
	g = sim_xcalloc(1, sizeof(*g));
	g->type = (enum cpu_vm_type)key_enum(s, P, "type");
	g->mem_base = key_u64(s, P, "mem_base");
	g->mem_size = key_u64(s, P, "mem_size");
	g->spa_base = gc->spa_base ? gc->spa_base : key_u64(s, P, "spa_base");
	g->nvcpu = (unsigned)key_u64(s, P, "vcpus");
	g->asid = (uint32_t)key_u64(s, P, "asid");
	g->page_size = key_enum(s, P, "page_size") ? SIM_SZ_2M : SIM_SZ_4K;
	g->cr_policy = key_enum(s, P, "cr_policy");
	g->hv_exit = sim_cfg_u64(s, "lat.cpu.hv_exit");
	g->mem = sim_mem(s);
	g->sim = s;
	snprintf(g->stat_prefix, sizeof(g->stat_prefix), "%s", gc->vm_prefix ? gc->vm_prefix : "vm");
	g->console = console;
	g->host = &stack_host_minimal;
	g->state = STACK_VM_RUNNING;

	end = g->spa_base + g->mem_size;
	pool_lo = stack_palloc_base(st->pool);
	pool_hi = pool_lo + stack_palloc_size(st->pool);
	if (end > sim_mem_size(g->mem) || (rmp_enabled(st->rmp) && end > rmp_base(st->rmp))) {
		sim_err_set(err, "%s.spa_base: guest RAM at 0x%llx + %s.mem_size 0x%llx (to 0x%llx) "
			    "does not fit in machine memory (machine.mem 0x%llx%s)", P,
			    (unsigned long long)g->spa_base, P, (unsigned long long)g->mem_size,
			    (unsigned long long)end, (unsigned long long)sim_mem_size(g->mem),
			    rmp_enabled(st->rmp) ? ", below the RMP" : "");
		free(g);
		return NULL;
	}
	if (g->spa_base < pool_hi && pool_lo < end) {
		sim_err_set(err, "%s.spa_base: guest RAM at 0x%llx..0x%llx overlaps the host page "
			    "pool 0x%llx..0x%llx (s2.pool_base, s2.pool_size)", P,
			    (unsigned long long)g->spa_base, (unsigned long long)end,
			    (unsigned long long)pool_lo, (unsigned long long)pool_hi);
		free(g);
		return NULL;
	}
	{
		struct sim_who root = { .agent = -1 };   /* the root's zeroing: see stack_guest_map_page */

		rc = stack_vm_create(st, &root, gc->id,
				     g->type == CPU_VM_BARE ? NULL : s2_fmt(S2_FMT_NPT), 4,
				     g->type == CPU_VM_SNP ? g->asid : 0);
		g->root_cycles = root.mem_cycles;
	}
	if (rc != S2_OK) {
		sim_err_set(err, "%s: VM %u: %s", rc == S2_ERR_NOMEM ? "s2.pool_size" : P,
			    gc->id, rc == S2_ERR_EXISTS ? "exists already" : s2_rc_name(rc));
		free(g);
		return NULL;
	}
	v = stack_vm_find(st, gc->id);
	v->guest = g;
	v->table_quota = key_u64(s, P, "pt_pool");
	snprintf(g->keys, sizeof(g->keys), "%s", P);
	if (v->s2 && g->mem_base + g->mem_size > s2_pgt_ia_limit(v->s2)) {
		sim_err_set(err, "%s: guest RAM 0x%llx + 0x%llx is beyond the nested "
			    "table's reach (0x%llx)", key(kb, P, "mem_size"), (unsigned long long)g->mem_base,
			    (unsigned long long)g->mem_size,
			    (unsigned long long)s2_pgt_ia_limit(v->s2));
		goto fail;
	}
	g->vcpu = sim_xcalloc(g->nvcpu, sizeof(*g->vcpu));
	for (unsigned i = 0; i < g->nvcpu; i++) {
		struct stack_vcpu *vc = &g->vcpu[i];

		vc->vm = v;
		snprintf(vc->name, sizeof(vc->name), "%svcpu%u", gc->vcpu_prefix ? gc->vcpu_prefix : "", i);
		if (control_page(v, &vc->vmcb.vmcb_spa, err) ||
		    control_page(v, &vc->vmcb.vmsa_spa, err))
			goto fail;
		vc->vmcb.vmsa_gpa = 0xfffffffff000ull;
		vc->vmcb.budget = &g->budget;
	}
	cfg.type = g->type;
	cfg.nharts = g->nvcpu;
	cfg.mem_base = g->mem_base;
	cfg.mem_size = g->mem_size;
	cfg.spa_base = g->spa_base;
	cfg.npt = v->s2;
	cfg.vmid = g->type == CPU_VM_SNP ? g->asid : 1;
	cfg.asid = g->asid;
	cfg.vmpl = (unsigned)key_u64(s, P, "vmpl");
	cfg.cbit_pte = sim_cfg_bool(s, key(kb, P, "cbit_pte"));
	cfg.cr_intercept[0] = key_u64(s, P, "cr0_intercept");
	cfg.cr_intercept[1] = key_u64(s, P, "cr4_intercept");
	cfg.vcpu_prefix = gc->vcpu_prefix;
	cfg.vm_prefix = gc->vm_prefix;
	cfg.irq = guest_irq;
	cfg.irq_arg = g;
	g->cpu = cpu_vm_new(s, &cfg, err);
	if (!g->cpu)
		goto fail;
	for (unsigned i = 0; i < g->nvcpu; i++)
		g->vcpu[i].h = cpu_vm_hart(g->cpu, i);
	if (g->type == CPU_VM_SNP && guest_launch(v, err))
		goto fail;
	if (g->type != CPU_VM_BARE) {
		char n[64];

		snprintf(n, sizeof(n), "%s.npf_maps", gc->vm_prefix ? gc->vm_prefix : "vm");
		sim_stat_counter(s, n, &g->npf_maps, "guest pages mapped on their first touch (#NPF)");
	}
	return v;
fail:
	stack_guest_free(v);
	return NULL;
}

int stack_guest_load(struct stack_vm *v, const struct cpu_elf *elf, struct sim_err *err)
{
	struct stack_guest *g = v->guest;

	for (unsigned i = 0; i < elf->nseg; i++) {
		const struct cpu_elf_seg *sg = &elf->seg[i];
		uint64_t spa;

		if (sg->paddr < g->mem_base || sg->paddr + sg->memsz > g->mem_base + g->mem_size ||
		    gpa_to_spa(g, sg->paddr, &spa))
			return sim_err_set(err, "%s: segment at 0x%llx+0x%llx is outside guest memory",
					   elf->path, (unsigned long long)sg->paddr,
					   (unsigned long long)sg->memsz);
		/* the launch flow writes the image (untimed, as firmware would) */
		sim_mem_poke(g->mem, spa, sg->data, sg->filesz);
		for (uint64_t off = sg->filesz; off < sg->memsz;) {
			static const uint8_t zero[4096];
			uint64_t n = sg->memsz - off < sizeof(zero) ? sg->memsz - off : sizeof(zero);

			sim_mem_poke(g->mem, spa + off, zero, n);
			off += n;
		}
	}
	if (elf->has_tohost)
		(void)stack_guest_set_htif(v, elf->tohost, elf->has_fromhost ? elf->fromhost : 0,
					   g->console);
	for (unsigned i = 0; i < g->nvcpu; i++)
		cpu_hart_set_pc(g->vcpu[i].h, elf->entry);
	return 0;
}

int stack_guest_set_htif(struct stack_vm *v, uint64_t tohost, uint64_t fromhost, FILE *console)
{
	struct stack_guest *g = v->guest;

	if (gpa_to_spa(g, tohost, &g->htif.tohost_spa) ||
	    cpu_vm_set_doorbell(g->cpu, tohost, htif_tohost, v))
		return -1;
	g->has_tohost = true;
	g->htif.mem = g->mem;
	g->htif.gpa_to_spa = htif_gpa_to_spa;
	g->htif.exit = htif_exit;
	g->htif.arg = v;
	g->htif.max_len = g->mem_size;
	g->htif.fromhost = fromhost;
	g->htif.console = g->console = console;
	return 0;
}

void stack_guest_set_host(struct stack_vm *v, const struct stack_host *host)
{
	v->guest->host = host ? host : &stack_host_minimal;
}

void stack_guest_free(struct stack_vm *v)
{
	struct stack_guest *g;

	if (!v || !v->guest)
		return;
	g = v->guest;
	cpu_vm_free(g->cpu);
	for (unsigned i = 0; g->vcpu && i < g->nvcpu; i++) {
		struct stack_vcpu *vc = &g->vcpu[i];
		static const struct rmp_entry shared;   /* hypervisor-owned */

		if (vc->vmcb.vmcb_spa)
			stack_palloc_put(v->st->pool, vc->vmcb.vmcb_spa, false);
		if (vc->vmcb.vmsa_spa) {
			/* the firmware reclaims the VMSA page (SNP_DECOMMISSION, then shared) */
			if (g->type == CPU_VM_SNP)
				(void)rmp_fw_write(v->st->rmp, vc->vmcb.vmsa_spa, &shared);
			stack_palloc_put(v->st->pool, vc->vmcb.vmsa_spa, false);
		}
	}
	free(g->vcpu);
	free(g);
	v->guest = NULL;
	stack_vm_destroy(v);
}

enum stack_vm_state stack_guest_state(const struct stack_vm *v) { return v->guest->state; }
int stack_guest_exit_code(const struct stack_vm *v) { return v->guest->exit_code; }
struct cpu_vm *stack_guest_cpu(struct stack_vm *v) { return v->guest->cpu; }
int stack_guest_gpa_to_spa(const struct stack_vm *v, uint64_t gpa, uint64_t *spa)
{
	return gpa_to_spa(v->guest, gpa, spa);
}
