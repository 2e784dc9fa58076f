/*
 * run.c - the VMs of a `protsim run` scenario.
 *
 * A scenario describes up to STACK_RUN_VMS VMs in sections [vm0] .. [vm3],
 * each with a guest program (vmN.elf, a path beside the scenario file)
 * and the same keys as the VM of `protsim exec` (vmN.type, vmN.vcpus,
 * vmN.mem_size, ...; declared once, STACK_RUN_VM_KEYS).  The stack builds
 * them as VMs N of its registry, loads their programs and starts their
 * vCPU threads before the workload script, so the VMs and the script's
 * host CPUs run side by side in one simulated time.  Each VM's statistics
 * are its own (vmN.vcpuK.*, vmN.s2.*, vmN.npf_maps, vmN.table_ops...);
 * its console goes to OUT/vmN.console.  A VM whose RAM system address is
 * 0 (the default) is placed after the previous VM's RAM, from 16 MiB up,
 * 2 MiB aligned.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RUN_AUTO_BASE (16ull << 20)

static uint64_t key_of(const struct sim *s, const char *prefix, const char *what)
{
	char k[32];

	snprintf(k, sizeof(k), "%s.%s", prefix, what);
	return sim_cfg_u64(s, k);
}

/*
 * The scenario's SNP VM on the KVM host (section [kvm], kvm.elf set): the
 * VMM's sequence of ioctls, written in the operation language and run on
 * cpu0 before anything else (its lines in OUT/kvm.log): VM kvm.vm of
 * type snp with kvm.mem_size of guest_memfd memory at 0x80000000 (all of
 * it private), MAP_GPA_RANGE exits enabled, the program loaded, the
 * boot-parameters page right after the image (accept=, psc=, touch= from
 * kvm.accept, kvm.psc, kvm.touch), the image and the page launched, and
 * vCPU 0 run until the program exits (at most kvm.max_insns
 * instructions).  The strategy keys (gmem.page_size, snp.prefault,
 * snp.backing) apply as everywhere.
 */
int stack_run_snp(struct sim *s, const char *scenario, const char *out_dir, struct sim_err *err)
{
	static const char *const accept[] = { "eager", "lazy" }, *const psc[] = { "ghcb", "msr" };
	struct stack *st = stack_get(s);
	unsigned id = (unsigned)sim_cfg_u64(s, "kvm.vm");
	uint64_t mem = sim_cfg_u64(s, "kvm.mem_size"), base, size, boot;
	char *path, *log, *text;
	FILE *logf;
	int rc;

	if (!sim_cfg_str(s, "kvm.elf")[0])
		return 0;
	path = sim_path_beside(scenario, sim_cfg_str(s, "kvm.elf"));
	if (strpbrk(path, " \t\"#")) {
		free(path);
		return sim_cfg_error(s, "kvm.elf", err, "a path without spaces, quotes or '#'");
	}
	if (id < STACK_RUN_VMS && sim_cfg_str(s, (const char *[]){ "vm0.elf", "vm1.elf", "vm2.elf",
								   "vm3.elf" }[id])[0]) {
		free(path);
		return sim_cfg_error(s, "kvm.vm", err, "%u: the scenario's [vm%u] has that VM number",
				     id, id);
	}
	log = sim_xprintf("%s/kvm.log", out_dir);
	logf = fopen(log, "w");
	if (!logf) {
		rc = sim_err_set(err, "%s: cannot write: %s", log, strerror(errno));
		free(log);
		free(path);
		return rc;
	}
	text = sim_xprintf("vm create vm=%u type=snp\n"
			   "gmem create vm=%u fd=%u size=0x%llx\n"
			   "vm memslot vm=%u slot=0 gpa=0x80000000 size=0x%llx gmem=%u\n"
			   "vm cap vm=%u cap=exit_hypercall arg0=0x1000\n"
			   "vm attr vm=%u gpa=0x80000000 size=0x%llx private=1\n"
			   "vm load vm=%u elf=%s\n",
			   id, id, id, (unsigned long long)mem, id, (unsigned long long)mem, id, id,
			   id, (unsigned long long)mem, id, path);
	rc = sim_script_run_text(s, text, "kvm", logf, stderr);
	free(text);
	if (!rc) {
		stack_kvm_image(st->vm[id], &base, &size);
		boot = base + size;
		text = sim_xprintf("vm boot vm=%u gpa=0x%llx cmdline=accept=%s,psc=%s,touch=%llu\n"
				   "snp launch_start vm=%u\n"
				   "snp launch_update vm=%u gpa=0x%llx size=0x%llx\n"
				   "snp launch_update vm=%u gpa=0x%llx size=4k\n"
				   "snp launch_finish vm=%u\n"
				   "vcpu run vm=%u vcpu=0 boot=0x%llx max_insns=%llu\n",
				   id, (unsigned long long)boot, accept[sim_cfg_enum(s, "kvm.accept")],
				   psc[sim_cfg_enum(s, "kvm.psc")],
				   (unsigned long long)sim_cfg_u64(s, "kvm.touch"), id, id,
				   (unsigned long long)base, (unsigned long long)size, id,
				   (unsigned long long)boot, id, id, (unsigned long long)boot,
				   (unsigned long long)sim_cfg_u64(s, "kvm.max_insns"));
		rc = sim_script_run_text(s, text, "kvm", logf, stderr);
		free(text);
	}
	fclose(logf);
	st->snp_vm = id;
	st->snp_log = log;
	st->snp_elf = path;
	if (rc)
		return sim_err_set(err, "kvm.elf: the VMM could not set up or run the VM (%s)", log);
	return 1;
}

int stack_run_vms_start(struct sim *s, const char *scenario, const char *out_dir,
			struct sim_err *err)
{
	struct stack *st = stack_get(s);
	uint64_t next = RUN_AUTO_BASE;
	int n = 0;

	if (!st)
		return sim_err_set(err, "stack: the machine has no stack module");
	n = stack_run_snp(s, scenario, out_dir, err);
	if (n < 0)
		return -1;
	if (stack_run_heki(s, scenario, out_dir, err) < 0)   /* heki_run.c: [heki] */
		return -1;
	for (unsigned i = 0; i < STACK_RUN_VMS; i++) {
		struct stack_run_vm *r = &st->run[i];
		struct stack_guest_cfg gc = { .id = i };
		char k[24], prefix[8], q[SIM_QUOTE_MAX];
		struct cpu_elf *elf = NULL;
		uint64_t spa;

		snprintf(prefix, sizeof(prefix), "vm%u", i);
		snprintf(k, sizeof(k), "%s.elf", prefix);
		if (!sim_cfg_str(s, k)[0])
			continue;
		r->prefix = sim_xprintf("%s", prefix);
		r->vcpu_prefix = sim_xprintf("%s.", prefix);
		r->elf = sim_path_beside(scenario, sim_cfg_str(s, k));
		r->console_path = sim_xprintf("%s/%s.console", out_dir, prefix);
		r->console = fopen(r->console_path, "w");
		if (!r->console)
			return sim_err_set(err, "%s: cannot write: %s", r->console_path, strerror(errno));
		spa = key_of(s, prefix, "spa_base");
		if (!spa)
			spa = next;
		next = (spa + key_of(s, prefix, "mem_size") + SIM_SZ_2M - 1) & ~(SIM_SZ_2M - 1);
		gc.keys = r->prefix;
		gc.spa_base = spa;
		gc.vcpu_prefix = r->vcpu_prefix;
		gc.vm_prefix = r->prefix;
		if (cpu_elf_open(r->elf, key_of(s, prefix, "mem_base"), key_of(s, prefix, "mem_size"),
				 &elf, err)) {
			char msg[sizeof(err->msg)];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			snprintf(k, sizeof(k), "%s.elf", prefix);
			return sim_cfg_error(s, k, err, "%s (%s)", sim_quote(r->elf, q), msg);
		}
		r->v = stack_guest_new(s, &gc, r->console, err);
		if (!r->v || stack_guest_load(r->v, elf, err)) {
			cpu_elf_free(elf);
			sim_cfg_error_locate(s, err);
			return -1;
		}
		cpu_elf_free(elf);
		r->max_insns = key_of(s, prefix, "max_insns");
		stack_guest_start(r->v, r->max_insns);
		n++;
	}
	return n;
}

/*
 * After the run: close the consoles.  Return 0 when every VM exited with
 * code 0, else 1 (a line on @errf for each that did not).
 */
int stack_run_vms_end(struct sim *s, FILE *errf)
{
	struct stack *st = stack_get(s);
	int rc = 0;

	if (st && st->snp_vm < S2_MAX_VMS) {
		struct stack_vm *v = st->vm[st->snp_vm];
		const struct stack_kvm_last_run *l = v && v->run ? &v->run->last : NULL;

		if (!l || !l->valid || strcmp(l->exit, "exited") || l->code) {
			fprintf(errf, "protsim: kvm: %s: %s", st->snp_elf,
				l && l->valid ? l->exit : "did not run");
			if (l && l->valid && !strcmp(l->exit, "exited"))
				fprintf(errf, " (code %d)", l->code);
			fprintf(errf, " (%s)\n", st->snp_log);
			rc = 1;
		}
	}
	for (unsigned i = 0; st && i < STACK_RUN_VMS; i++) {
		struct stack_run_vm *r = &st->run[i];

		if (!r->prefix)
			continue;
		if (r->console && fclose(r->console)) {
			fprintf(errf, "protsim: %s: cannot write\n", r->console_path);
			rc = 1;
		}
		r->console = NULL;
		if (!r->v)
			continue;
		r->state = stack_guest_state(r->v);
		r->code = stack_guest_exit_code(r->v);
		if (r->state != STACK_VM_EXITED || r->code) {
			fprintf(errf, "protsim: %s: %s: %s", r->prefix, r->elf,
				stack_vm_state_names[r->state]);
			if (r->state == STACK_VM_EXITED || r->state == STACK_VM_KILLED)
				fprintf(errf, " (code %d)", r->code);
			fputc('\n', errf);
			rc = 1;
		}
	}
	return rc;
}

/* The summary of the scenario's SNP VM: its boot, its exits, conversions, RMP instructions. */
static void snp_summary(struct stack *st, FILE *out)
{
	struct stack_vm *v = st->snp_vm < S2_MAX_VMS ? st->vm[st->snp_vm] : NULL;
	const struct stack_kvm_last_run *l;
	const struct stack_kvm_stats *c;
	const struct rmp_counters *rc = st->rmp ? rmp_counters(st->rmp) : NULL;
	uint64_t n[RMP_INSN_COUNT] = { 0 };

	if (!v || !v->run || !v->run->last.valid)
		return;
	l = &v->run->last;
	c = &v->run->ctr;
	for (unsigned i = 0; rc && i < RMP_INSN_COUNT; i++)
		for (unsigned k = 0; k < RMP_RC_SLOTS; k++)
			n[i] += rc->insn[i][k];
	fprintf(out, "stack: %s (SNP on the KVM host) %s: %s", v->prefix, st->snp_elf, l->exit);
	if (!strcmp(l->exit, "exited"))
		fprintf(out, " (code %d)", l->code);
	fprintf(out, " after %llu cycles, %llu instructions; log %s\n",
		(unsigned long long)l->cycles, (unsigned long long)l->insns, st->snp_log);
	fprintf(out, "stack: %s exits %llu: npf %llu, vmgexit %llu, hypercall %llu; to the VMM %llu: "
		"memory_fault %llu, hypercall %llu, mmio %llu\n", v->prefix,
		(unsigned long long)l->exits, (unsigned long long)c->exits[CPU_EXIT_NPF],
		(unsigned long long)c->exits[CPU_EXIT_VMGEXIT],
		(unsigned long long)c->exits[CPU_EXIT_HYPERCALL], (unsigned long long)l->user_exits,
		(unsigned long long)c->user_exits[STACK_UEXIT_MEMORY_FAULT],
		(unsigned long long)c->user_exits[STACK_UEXIT_HYPERCALL],
		(unsigned long long)c->user_exits[STACK_UEXIT_MMIO]);
	fprintf(out, "stack: %s conversions %llu (%llu pages), PSC %llu MSR + %llu GHCB (%llu entries); "
		"RMP (machine): rmpupdate %llu, psmash %llu, pvalidate %llu\n", v->prefix,
		(unsigned long long)c->conversions, (unsigned long long)c->pages_converted,
		(unsigned long long)c->psc_msr, (unsigned long long)c->psc_nae,
		(unsigned long long)c->psc_entries, (unsigned long long)n[RMP_INSN_RMPUPDATE],
		(unsigned long long)n[RMP_INSN_PSMASH], (unsigned long long)n[RMP_INSN_PVALIDATE]);
}

/* The summary lines of the scenario's VMs (the stack module's summary). */
void stack_run_vms_summary(struct stack *st, FILE *out)
{
	snp_summary(st, out);
	for (unsigned i = 0; i < STACK_RUN_VMS; i++) {
		struct stack_run_vm *r = &st->run[i];
		uint64_t insns = 0;

		if (!r->v)
			continue;
		for (unsigned k = 0; k < r->v->guest->nvcpu; k++)
			insns += cpu_hart_insns(r->v->guest->vcpu[k].h);
		fprintf(out, "stack: %s %s: %s", r->prefix, r->elf,
			stack_vm_state_names[stack_guest_state(r->v)]);
		if (stack_guest_state(r->v) == STACK_VM_EXITED ||
		    stack_guest_state(r->v) == STACK_VM_KILLED)
			fprintf(out, " (code %d)", stack_guest_exit_code(r->v));
		fprintf(out, ", %llu instructions on %u vCPU%s, console %s\n",
			(unsigned long long)insns, r->v->guest->nvcpu, r->v->guest->nvcpu == 1 ? "" : "s",
			r->console_path);
	}
}

void stack_run_vms_free(struct stack *st)
{
	free(st->snp_log);
	free(st->snp_elf);
	st->snp_log = st->snp_elf = NULL;
	st->snp_vm = UINT32_MAX;
	for (unsigned i = 0; i < STACK_RUN_VMS; i++) {
		struct stack_run_vm *r = &st->run[i];

		if (r->console)
			fclose(r->console);
		free(r->prefix);
		free(r->vcpu_prefix);
		free(r->elf);
		free(r->console_path);
		memset(r, 0, sizeof(*r));
	}
}
