/*
 * test_stack_run.c - the host's run loop over cpu_vmrun(): a VM whose
 * nested table, VMCB and VMSA pages the host owns (from the host page
 * allocator) runs a guest ELF; its first #NPF is resolved by mapping the
 * page and re-entering; a second agent kicks the vCPU and the exit says at
 * which cycle it left guest mode; VMRUN refusals are exits, not messages;
 * the minimal host's run of a program is unchanged; RMP changes reach the
 * vCPU's cached translations through the change hook.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdlib.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "sim/stack/stack_int.h"
#include "tests/rv_enc.h"



static struct sim *machine(const char *const *sets)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;

	for (; sets && *sets; sets += 2)
		cr_assert(!sim_cfg_set(s, sets[0], sets[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(s, &err), "%s", err.msg);
	return s;
}

static struct stack_vm *guest(struct sim *s, const char *prog)
{
	static const struct stack_guest_cfg gc = { .id = 3, .vcpu_prefix = "vm3.", .vm_prefix = "vm3" };
	const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
	struct sim_err err;
	struct stack_vm *v = stack_guest_new(s, &gc, NULL, &err);
	struct cpu_elf *elf;
	char path[512];

	cr_assert(v, "%s", err.msg);
	if (prog) {
		snprintf(path, sizeof(path), "%s/%s.elf", dir, prog);
		cr_assert(!cpu_elf_open(path, RAM, sim_cfg_u64(s, "vm.mem_size"), &elf, &err),
			  "%s (run make guest)", err.msg);
		cr_assert(!stack_guest_load(v, elf, &err), "%s", err.msg);
		cpu_elf_free(elf);
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* The loop by hand: first #NPF, re-entry, a kick from another agent    */
/* ------------------------------------------------------------------ */

#define KICK_AT 500000ull

struct hand {
	struct stack_vm *v;
	struct cpu_exit first;       /* the first exit */
	uint64_t first_root_state;   /* allocator state of the nested table's root */
	unsigned npf;                /* #NPFs resolved */
	struct cpu_exit last;        /* the exit that ended the loop */
	uint64_t left_at;            /* the vCPU thread's clock when cpu_vmrun returned */
	uint64_t kicked_at;          /* the kicker's clock at the kick */
};

/* The host's vCPU thread, written out: VMRUN, handle the exit, re-enter. */
static void hand_vcpu(struct sim_agent *a, void *arg)
{
	struct hand *t = arg;
	struct stack_vcpu *vc = &t->v->guest->vcpu[0];
	struct cpu_exit e;
	struct sim_err err;

	cpu_hart_bind(vc->h, a);
	for (;;) {
		enum cpu_exit_reason r = cpu_vmrun(vc->h, &vc->vmcb, &e);

		if (!t->npf && r == CPU_EXIT_NPF)
			t->first = e;
		if (r != CPU_EXIT_NPF)
			break;
		/* a first touch: the host maps the page in its table, then re-enters */
		cr_assert(!stack_guest_map_page(t->v, vc->h, e.npf_gpa, &err), "%s", err.msg);
		t->npf++;
		vc->vmcb.reply.action = CPU_REPLY_RETRY;
		vc->vmcb.has_reply = true;
	}
	t->last = e;
	t->left_at = sim_now(a);
	cpu_hart_finish(vc->h);
}

static void kicker(struct sim_agent *a, void *arg)
{
	struct hand *t = arg;

	sim_wait_until(a, KICK_AT);
	t->kicked_at = sim_now(a);
	stack_vcpu_kick(a, t->v, 0);
}

Test(stack_run, first_npf_mapped_then_a_kick_at_its_cycle)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	struct sim *s = machine(sets);
	struct stack *st = stack_get(s);
	struct hand t = { 0 };
	uint64_t pages0, tables0;

	t.v = guest(s, "compute_small");
	pages0 = stack_palloc_stats(st->pool)->pages;
	tables0 = t.v->table_pages;
	/* the host owns the table: its root came from the host page allocator */
	cr_assert_eq(stack_palloc_state(st->pool, s2_pgt_root(t.v->s2)), STACK_PAGE_USED);
	cr_assert_eq(stack_palloc_state(st->pool, t.v->guest->vcpu[0].vmcb.vmsa_spa), STACK_PAGE_USED);
	cr_assert_eq(stack_palloc_state(st->pool, t.v->guest->vcpu[0].vmcb.vmcb_spa), STACK_PAGE_USED);
	/* the kicker exists first: at the same cycle, it goes first (lower id) */
	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, kicker, &t);
	sim_agent_new(s, "vcpu0", SIM_AGENT_VCPU, hand_vcpu, &t);
	sim_run(s);

	/* the first exit: the entry point's page is not mapped yet */
	cr_assert_eq(t.first.reason, CPU_EXIT_NPF);
	cr_assert_eq(t.first.npf_gpa, RAM, "gpa 0x%llx", (unsigned long long)t.first.npf_gpa);
	cr_assert_eq(t.first.npf_info & RMP_NPF_P, 0, "not present");
	cr_assert(t.first.npf_info & RMP_NPF_ID, "an instruction fetch");
	cr_assert_geq(t.npf, 1);
	/* the table pages of the mappings came from the allocator too */
	cr_assert_gt(t.v->table_pages, tables0, "the mappings needed new table pages");
	cr_assert_eq(stack_palloc_stats(st->pool)->pages - pages0, t.v->table_pages - tables0,
		     "nothing allocated after the VM was built but its tables");
	cr_assert_eq(s2_pgt_pages(t.v->s2), t.v->table_pages);
	/* the kick: the vCPU left guest mode at its first instruction boundary at the kick's cycle */
	cr_assert_eq(t.kicked_at, KICK_AT);
	cr_assert_eq(t.last.reason, CPU_EXIT_INTR);
	cr_assert_eq(t.last.cycle, KICK_AT, "left guest mode at %llu, kicked at %llu",
		     (unsigned long long)t.last.cycle, (unsigned long long)KICK_AT);
	/* then the world switch out, charged to the vCPU's thread */
	cr_assert_gt(t.left_at, t.last.cycle + sim_cfg_u64(s, "lat.cpu.vmexit") - 1);
	cr_assert_neq(stack_guest_state(t.v), STACK_VM_EXITED, "the program had not finished");
	sim_free(s);
}

/*
 * The kick is not rounded to a batch: with cpu.batch = 100000 the vCPU
 * still leaves at the kick's cycle (fast mode, cpu.cpi 3: the first
 * boundary at or after it).
 */
Test(stack_run, kick_is_not_rounded_to_a_batch)
{
	static const char *const sets[] = { "vm.type", "npt", "cpu.batch", "100000", "cpu.cpi", "3",
					    NULL };
	struct sim *s = machine(sets);
	struct hand t = { 0 };

	t.v = guest(s, "compute_small");
	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, kicker, &t);
	sim_agent_new(s, "vcpu0", SIM_AGENT_VCPU, hand_vcpu, &t);
	sim_run(s);
	cr_assert_eq(t.last.reason, CPU_EXIT_INTR);
	cr_assert_geq(t.last.cycle, KICK_AT);
	cr_assert_lt(t.last.cycle, KICK_AT + 3, "left at %llu: within one instruction of the kick",
		     (unsigned long long)t.last.cycle);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* VMRUN refused: an exit reason, not a message                         */
/* ------------------------------------------------------------------ */

static void one_vmrun(struct sim_agent *a, void *arg)
{
	struct hand *t = arg;
	struct stack_vcpu *vc = &t->v->guest->vcpu[0];

	cpu_hart_bind(vc->h, a);
	(void)cpu_vmrun(vc->h, &vc->vmcb, &t->last);
	t->left_at = sim_now(a);
}

Test(stack_run, vmrun_on_a_vmsa_that_is_not_one_is_an_invalid_exit, .init = cr_redirect_stderr)
{
	static const char *const sets[] = { "vm.type", "snp", NULL };
	struct sim *s = machine(sets);
	struct hand t = { 0 };
	static const struct rmp_entry shared;

	t.v = guest(s, "hello");
	/* the VMSA page is hypervisor-owned again: VMRUN must refuse it */
	cr_assert_eq(rmp_fw_write(stack_get(s)->rmp, t.v->guest->vcpu[0].vmcb.vmsa_spa, &shared),
		     RMP_RC_SUCCESS);
	sim_agent_new(s, "vcpu0", SIM_AGENT_VCPU, one_vmrun, &t);
	sim_run(s);
	cr_assert_eq(t.last.reason, CPU_EXIT_INVALID);
	cr_assert_str_neq(t.last.fault, "", "the exit says why");
	cr_assert_eq(cpu_hart_insns(t.v->guest->vcpu[0].h), 0, "no guest instruction ran");
	fflush(stderr);
	cr_assert_stderr_eq_str("", "cpu_vmrun prints nothing");
	sim_free(s);
}

/* The minimal host turns the same refusal into its message and a killed VM. */
Test(stack_run, minimal_host_kills_the_vm_on_a_refused_vmrun, .init = cr_redirect_stderr)
{
	static const char *const sets[] = { "vm.type", "snp", NULL };
	struct sim *s = machine(sets);
	struct stack_vm *v = guest(s, "hello");
	static const struct rmp_entry shared;
	char want[128];
	struct cpu_exit e = { .reason = CPU_EXIT_INVALID };

	cr_assert_eq(rmp_fw_write(stack_get(s)->rmp, v->guest->vcpu[0].vmcb.vmsa_spa, &shared),
		     RMP_RC_SUCCESS);
	stack_guest_start(v, 0);
	sim_run(s);
	cr_assert_eq(stack_guest_state(v), STACK_VM_KILLED);
	cr_assert_eq(stack_guest_exit_code(v), 1);
	(void)e;
	snprintf(want, sizeof(want), "protsim: vcpu0: VMRUN failed: ");
	fflush(stderr);
	{
		char buf[256] = { 0 };
		FILE *f = cr_get_redirected_stderr();
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		cr_assert_gt(n, strlen(want));
		cr_assert_eq(strncmp(buf, want, strlen(want)), 0, "got: %s", buf);
	}
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* The minimal host, whole programs, two VMs                            */
/* ------------------------------------------------------------------ */

/* Two VMs with different programs at once, each with its own statistics. */
Test(stack_run, two_vms_run_side_by_side_with_their_own_stats)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	static const struct stack_guest_cfg g1 = { .id = 1, .keys = "vm1", .spa_base = 0x80000000,
						   .vcpu_prefix = "vm1.", .vm_prefix = "vm1" };
	static const struct stack_guest_cfg g2 = { .id = 2, .keys = "vm2", .spa_base = 0x84000000,
						   .vcpu_prefix = "vm2.", .vm_prefix = "vm2" };
	const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
	struct sim *s = machine(sets);
	struct sim_err err;
	struct stack_vm *v1 = stack_guest_new(s, &g1, NULL, &err), *v2;
	struct cpu_elf *e1, *e2;
	char p1[512], p2[512];
	uint64_t i1 = 0, i2 = 0, n1 = 0, n2 = 0;

	cr_assert(v1, "%s", err.msg);
	/* the second VM's RAM 64 MiB after the first's */
	v2 = stack_guest_new(s, &g2, NULL, &err);
	cr_assert(v2, "%s", err.msg);
	snprintf(p1, sizeof(p1), "%s/hello.elf", dir);
	snprintf(p2, sizeof(p2), "%s/compute_small.elf", dir);
	cr_assert(!cpu_elf_open(p1, RAM, 64 << 20, &e1, &err), "%s", err.msg);
	cr_assert(!cpu_elf_open(p2, RAM, 64 << 20, &e2, &err), "%s", err.msg);
	cr_assert(!stack_guest_load(v1, e1, &err), "%s", err.msg);
	cr_assert(!stack_guest_load(v2, e2, &err), "%s", err.msg);
	stack_guest_start(v1, 0);
	stack_guest_start(v2, 0);
	sim_run(s);
	cr_assert_eq(stack_guest_state(v1), STACK_VM_EXITED);
	cr_assert_eq(stack_guest_state(v2), STACK_VM_EXITED);
	cr_assert_eq(stack_guest_exit_code(v1), 0);
	cr_assert_eq(stack_guest_exit_code(v2), 0);
	cr_assert(!sim_stat_get(s, "vm1.vcpu0.insns", &i1));
	cr_assert(!sim_stat_get(s, "vm2.vcpu0.insns", &i2));
	cr_assert(!sim_stat_get(s, "vm1.npf_maps", &n1));
	cr_assert(!sim_stat_get(s, "vm2.npf_maps", &n2));
	cr_assert_eq(i1, 3598, "hello's instruction count (as under exec): %llu",
		     (unsigned long long)i1);
	cr_assert_eq(i2, 1312621, "compute_small's: %llu", (unsigned long long)i2);
	cr_assert_gt(n1, 0);
	cr_assert_gt(n2, 0);
	cr_assert(sim_stat_has_prefix(s, "vm1.s2"));
	cr_assert(sim_stat_has_prefix(s, "vm2.s2"));
	cpu_elf_free(e1);
	cpu_elf_free(e2);
	sim_free(s);
}

/* Guest RAM that overlaps the host page pool is refused, naming the keys. */
Test(stack_run, guest_ram_over_the_host_pool_is_refused)
{
	static const char *const sets[] = { "vm.spa_base", "0xfd800000", "vm.mem_size", "16m", NULL };
	struct sim *s = machine(sets);
	static const struct stack_guest_cfg gc = { .id = 0, .vcpu_prefix = "", .vm_prefix = "vm" };
	struct sim_err err;

	cr_assert_null(stack_guest_new(s, &gc, NULL, &err));
	cr_assert(strstr(err.msg, "vm.spa_base: guest RAM at 0xfd800000") == err.msg, "%s", err.msg);
	cr_assert(strstr(err.msg, "host page pool"), "%s", err.msg);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* RMP changes reach the vCPU's cached translations                     */
/* ------------------------------------------------------------------ */

/*
 * rmp.update_flush_tlb: a host RMPUPDATE flushes every TLB, the vCPUs'
 * stage-2 TLBs too (cpu_vcpu_tlbi from the stack's change hook, at the
 * RMPUPDATE); without it the vCPU's stage-2 TLB is left alone.
 */
Test(stack_run, rmpupdate_flush_reaches_the_vcpus_through_the_hook)
{
	for (int on = 0; on < 2; on++) {
		const char *const sets[] = { "vm.type", "npt", "rmp.update_flush_tlb", on ? "1" : "0",
					     NULL };
		struct sim *s = machine(sets);
		struct stack_vm *v = guest(s, "hello");
		struct rmp_update_in in = { .gpa = 0, .assigned = false };
		struct sim_who who = { .now = 0, .agent = -1 };
		struct rmp_result res;
		uint64_t before = 0, after = 0;

		stack_guest_start(v, 0);
		sim_run(s);
		cr_assert(!sim_stat_get(s, "vm3.s2.tlbi.all", &before));
		cr_assert_eq(rmp_update(stack_get(s)->rmp, &who, 0x10000000, &in, &res),
			     RMP_RC_SUCCESS);
		cr_assert(!sim_stat_get(s, "vm3.s2.tlbi.all", &after));
		cr_assert_eq(after - before, (uint64_t)on, "flush %d: %llu", on,
			     (unsigned long long)(after - before));
		sim_free(s);
	}
}

/* ------------------------------------------------------------------ */
/* The device bus                                                      */
/* ------------------------------------------------------------------ */

#define DEV_BASE 0x10000000ull

struct tdev {
	unsigned reads, writes;
	uint64_t last_off, last_val;
	unsigned last_len;
};

static uint64_t tdev_read(void *arg, struct cpu_hart *h, uint64_t off, unsigned len)
{
	struct tdev *d = arg;

	(void)h;
	d->reads++;
	d->last_off = off;
	d->last_len = len;
	return 0x1122334455667788ull + off;
}

static void tdev_write(void *arg, struct cpu_hart *h, uint64_t off, unsigned len, uint64_t val)
{
	struct tdev *d = arg;

	(void)h;
	d->writes++;
	d->last_off = off;
	d->last_len = len;
	d->last_val = val;
}

static const struct cpu_dev_ops tdev_ops = { "test", tdev_read, tdev_write };

/*
 * A device the host maps on the guest's bus: loads and stores reach it
 * inline (offset, length, value), never through stage 2 (no #NPF for its
 * loads and stores); a fetch is not a device access (it goes to stage 2,
 * which has nothing there: the host injects an access fault).  Overlapping the RAM
 * window, the CLINT or another device is refused.
 */
Test(stack_run, device_bus_loads_and_stores_reach_the_device)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	struct sim *s = machine(sets);
	struct stack_vm *v = guest(s, NULL);
	struct cpu_vm *cv = stack_guest_cpu(v);
	struct cpu_hart *h = cpu_vm_hart(cv, 0);
	struct tdev d = { 0 };
	/* x1 = DEV_BASE; sd x2, 8(x1); ld x3, 16(x1); then jump into the device */
	uint32_t code[] = { SD(2, 8, 1), LD(3, 16, 1), 0x00008067u /* jalr x0, 0(x1) */ };
	uint64_t spa;

	cr_assert_eq(cpu_vm_add_device(cv, DEV_BASE, 0x1000, &tdev_ops, &d), 0);
	cr_assert_eq(cpu_vm_add_device(cv, DEV_BASE + 0x800, 0x1000, &tdev_ops, &d), -1, "overlap");
	cr_assert_eq(cpu_vm_add_device(cv, 0x02000000, 0x10, &tdev_ops, &d), -1, "the CLINT's");
	cr_assert_eq(cpu_vm_add_device(cv, RAM, 0x1000, &tdev_ops, &d), -1, "guest RAM");
	cr_assert(!stack_guest_gpa_to_spa(v, RAM, &spa));
	sim_mem_poke(sim_mem(s), spa, code, sizeof(code));
	cpu_hart_set_reg(h, 1, DEV_BASE);
	cpu_hart_set_reg(h, 2, 0xabcdef);
	stack_guest_start(v, 4);
	sim_run(s);
	cr_assert_eq(d.writes, 1);
	cr_assert_eq(d.last_val, 0xabcdef);
	cr_assert_eq(d.reads, 1);
	cr_assert_eq(d.last_off, 16);
	cr_assert_eq(d.last_len, 8);
	cr_assert_eq(cpu_hart_reg(h, 3), 0x1122334455667788ull + 16);
	{
		uint64_t npf = 0, cause = 0;

		cr_assert(!sim_stat_get(s, "vm3.vcpu0.exits.npf", &npf));
		/* the code page's first touch; the fetch is not a device access: stage 2 has no
		 * entry there, and the minimal host injects an access fault */
		cr_assert_eq(npf, 2, "npf %llu", (unsigned long long)npf);
		cr_assert(!cpu_hart_csr(h, 0x342, &cause));
		cr_assert_eq(cause, 1, "the fetch from the device: an instruction access fault (mcause %llu, npf %llu)", (unsigned long long)cause, (unsigned long long)npf);
	}
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* A kick wakes a halted vCPU                                           */
/* ------------------------------------------------------------------ */

static void late_kicker(struct sim_agent *a, void *arg)
{
	struct stack_vm *v = arg;

	sim_wait_until(a, 100000);
	stack_vcpu_kick(a, v, 0);
}

/*
 * vCPU 0 halts (WFI, nothing pending) while vCPU 1 spins; a kick from a
 * host agent wakes it at the kick's cycle and it resumes after its WFI
 * (a spurious wake-up, which WFI allows: RISC-V privileged spec, "Wait for
 * Interrupt"), then stores and spins.
 */
Test(stack_run, a_kick_wakes_a_halted_vcpu)
{
	static const char *const sets[] = { "vm.type", "npt", "vm.vcpus", "2", NULL };
	struct sim *s = machine(sets);
	struct stack_vm *v = guest(s, NULL);
	struct cpu_vm *cv = stack_guest_cpu(v);
	/* hart 0: wfi; sd x2, 0(x1); j .   hart 1 (at +0x100): j . */
	uint32_t code0[] = { WFI, SD(2, 0, 1), J(0, 0) };
	uint32_t code1[] = { J(0, 0) };
	uint64_t spa, halted_for = 0;

	cr_assert(!stack_guest_gpa_to_spa(v, RAM, &spa));
	sim_mem_poke(sim_mem(s), spa, code0, sizeof(code0));
	sim_mem_poke(sim_mem(s), spa + 0x100, code1, sizeof(code1));
	cpu_hart_set_reg(cpu_vm_hart(cv, 0), 1, RAM + 0x2000);
	cpu_hart_set_reg(cpu_vm_hart(cv, 0), 2, 0x77);
	cpu_hart_set_pc(cpu_vm_hart(cv, 1), RAM + 0x100);
	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, late_kicker, v);
	stack_guest_start(v, 400000);
	sim_run(s);
	cr_assert_eq(stack_guest_state(v), STACK_VM_LIMIT);
	cr_assert_eq(sim_mem_peek64(sim_mem(s), spa + 0x2000), 0x77, "vCPU 0 ran after its WFI");
	cr_assert(!sim_stat_get(s, "vm3.vcpu0.exits.hlt", &halted_for));
	cr_assert_eq(halted_for, 1);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* The timeline of a kick                                               */
/* ------------------------------------------------------------------ */

#include <jansson.h>

/*
 * The kick is on the kicker's track at its cycle, an arrow goes from it
 * to the vCPU's track at the cycle the guest stopped, where its guest span
 * ends and the INTR exit's span starts.
 */
Test(stack_run, timeline_shows_the_kick_and_its_arrow)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	char path[] = "/tmp/protsim_tlXXXXXX";
	int fd = mkstemp(path);
	struct sim *s = machine(sets);
	struct hand t = { 0 };
	struct sim_err err;
	json_error_t jerr;
	json_t *root, *ev, *e;
	size_t i;
	int kicker_id, vcpu_id, saw = 0;

	cr_assert(fd >= 0);
	close(fd);
	t.v = guest(s, "compute_small");
	kicker_id = sim_agent_id(sim_agent_new(s, "cpu0", SIM_AGENT_CPU, kicker, &t));
	vcpu_id = sim_agent_id(sim_agent_new(s, "vcpu0", SIM_AGENT_VCPU, hand_vcpu, &t));
	cr_assert(!sim_timeline_open(s, path, &err), "%s", err.msg);
	/* the hand-written loop records nothing itself: the kick comes from the stack */
	sim_run(s);
	cr_assert(!sim_timeline_close(s, &err), "%s", err.msg);
	root = json_load_file(path, 0, &jerr);
	cr_assert(root, "%s", jerr.text);
	ev = json_object_get(root, "traceEvents");
	json_array_foreach(ev, i, e) {
		const char *ph = json_string_value(json_object_get(e, "ph"));
		double ts = json_number_value(json_object_get(e, "ts"));
		int tid = (int)json_integer_value(json_object_get(e, "tid"));

		if (!strcmp(ph, "i")) {
			cr_assert_eq(tid, kicker_id);
			cr_assert_float_eq(ts, (double)KICK_AT, 1e-9);   /* ts: cycles */
			saw |= 1;
		} else if (!strcmp(ph, "s")) {
			cr_assert_eq(tid, kicker_id);
			cr_assert_float_eq(ts, (double)KICK_AT, 1e-9);   /* ts: cycles */
			saw |= 2;
		} else if (!strcmp(ph, "f")) {
			cr_assert_eq(tid, vcpu_id, "the arrow ends on the vCPU's track");
			saw |= 4;
		}
	}
	cr_assert_eq(saw, 1 | 2, "the hand loop has no exit handler: only the kick's start (%d)", saw);
	json_decref(root);
	unlink(path);
	sim_free(s);
}

/* With the stack's own run loop the arrow ends at the INTR exit, at the kick's cycle. */
Test(stack_run, timeline_kick_arrow_ends_at_the_intr_exit)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	char path[] = "/tmp/protsim_tlXXXXXX";
	int fd = mkstemp(path);
	struct sim *s = machine(sets);
	struct stack_vm *v = guest(s, "compute_small");
	struct sim_err err;
	json_error_t jerr;
	json_t *root, *ev, *e;
	size_t i;
	int ends = 0;

	cr_assert(fd >= 0);
	close(fd);
	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, late_kicker, v);   /* kicks vCPU 0 at 100000 */
	stack_guest_start(v, 0);
	cr_assert(!sim_timeline_open(s, path, &err), "%s", err.msg);
	sim_run(s);
	cr_assert(!sim_timeline_close(s, &err), "%s", err.msg);
	root = json_load_file(path, 0, &jerr);
	cr_assert(root, "%s", jerr.text);
	ev = json_object_get(root, "traceEvents");
	json_array_foreach(ev, i, e) {
		const char *ph = json_string_value(json_object_get(e, "ph"));

		if (!strcmp(ph, "f")) {
			cr_assert_float_eq(json_number_value(json_object_get(e, "ts")), 100000.0, 1e-9,
					   "the guest stopped at the kick's cycle 100000");
			ends++;
		}
	}
	cr_assert_eq(ends, 1);
	json_decref(root);
	unlink(path);
	sim_free(s);
}
