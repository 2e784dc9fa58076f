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

static char *beside(const char *base, const char *rel)
{
	const char *slash = strrchr(base, '/');

	if (rel[0] == '/' || !slash)
		return sim_xprintf("%s", rel);
	return sim_xprintf("%.*s/%s", (int)(slash - base), base, rel);
}

static uint64_t key_of(const struct sim *s, const char *prefix, const char *what)
{
	char k[32];

	snprintf(k, sizeof(k), "%s.%s", prefix, what);
	return sim_cfg_u64(s, k);
}

int stack_run_vms_start(struct sim *s, const char *scenario, const char *out_dir,
			struct sim_err *err)
{
	struct stack *st = stack_get(s);
	uint64_t next = RUN_AUTO_BASE;
	int n = 0;

	if (!st)
		return sim_err_set(err, "stack: the machine has no stack module");
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
		r->elf = beside(scenario, sim_cfg_str(s, k));
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

/* The summary lines of the scenario's VMs (the stack module's summary). */
void stack_run_vms_summary(struct stack *st, FILE *out)
{
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
