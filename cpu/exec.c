/*
 * exec.c - `protsim exec PROG.elf [--set k=v]... [--mode fast|detailed]
 * [--max-insns N] [--stats] [--seed N]`: run one guest program on the
 * default machine (one VM of vm.vcpus harts; NPT by default, SNP with
 * --set vm.type=snp), console output on stdout, exit with the program's
 * exit code.
 */
#include "cpu/cpu_int.h"

#include <stdlib.h>

static const struct sim_module *const exec_modules[] = {
	&rmp_module, &s2_module, &cpu_module, NULL,
};

static int usage(void)
{
	fprintf(stderr, "usage: protsim exec PROG.elf [--set key=value]... [--mode fast|detailed]\n"
			"                    [--max-insns N] [--seed N] [--stats]\n");
	return 2;
}

int cpu_exec_main(int argc, char **argv)
{
	const char *prog = NULL;
	uint64_t max_insns = 0;
	bool stats = false;
	struct sim_err err;
	struct sim *s;
	struct cpu_elf *elf = NULL;
	struct cpu_vm *vm = NULL;
	int rc = 2;

	s = sim_new(exec_modules);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--set") || !strcmp(a, "--mode") || !strcmp(a, "--max-insns") ||
		    !strcmp(a, "--seed")) {
			const char *v = i + 1 < argc ? argv[++i] : NULL;

			if (!v) {
				fprintf(stderr, "protsim exec: %s: missing value\n", a);
				goto out_usage;
			}
			if (!strcmp(a, "--set")) {
				char key[128];
				const char *eq = strchr(v, '=');

				if (!eq || eq == v || (size_t)(eq - v) >= sizeof(key)) {
					fprintf(stderr, "protsim exec: --set %s: expected key=value\n", v);
					goto out_usage;
				}
				memcpy(key, v, (size_t)(eq - v));
				key[eq - v] = 0;
				if (sim_cfg_set(s, key, eq + 1, "--set", 0, &err))
					goto out_err;
			} else if (!strcmp(a, "--mode")) {
				if (sim_cfg_set(s, "cpu.mode", v, "--mode", 0, &err))
					goto out_err;
			} else if (!strcmp(a, "--seed")) {
				if (sim_cfg_set(s, "engine.seed", v, "--seed", 0, &err))
					goto out_err;
			} else if (sim_parse_u64(v, &max_insns)) {
				fprintf(stderr, "protsim exec: --max-insns: expected a number, got '%s'\n", v);
				goto out_usage;
			}
		} else if (!strcmp(a, "--stats")) {
			stats = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "protsim exec: unknown option '%s'\n", a);
			goto out_usage;
		} else if (!prog) {
			prog = a;
		} else {
			fprintf(stderr, "protsim exec: more than one program ('%s', '%s')\n", prog, a);
			goto out_usage;
		}
	}
	if (!prog) {
		fprintf(stderr, "protsim exec: no program given\n");
		goto out_usage;
	}
	if (sim_start(s, &err))
		goto out_err;
	if (cpu_elf_open(prog, sim_cfg_u64(s, "vm.mem_base"), sim_cfg_u64(s, "vm.mem_size"),
			 &elf, &err))
		goto out_err;
	if (!elf->has_tohost)
		fprintf(stderr, "protsim: %s: no 'tohost' symbol: the program cannot report its "
			"exit (HTIF)\n", prog);
	vm = cpu_vm_new(s, stdout, &err);
	if (!vm || cpu_vm_load(vm, elf, &err))
		goto out_err;
	cpu_vm_start(vm, max_insns);
	sim_run(s);
	fflush(stdout);
	switch (cpu_vm_state(vm)) {
	case CPU_VM_EXITED:
		rc = cpu_vm_exit_code(vm) & 0xff;
		break;
	case CPU_VM_LIMIT:
		fprintf(stderr, "protsim: %s: instruction limit reached (%llu instructions)\n", prog,
			(unsigned long long)max_insns);
		rc = CPU_EXEC_RC_LIMIT;
		break;
	case CPU_VM_KILLED:
		fprintf(stderr, "protsim: %s: VM stopped by the hypervisor\n", prog);
		rc = CPU_EXEC_RC_KILLED;
		break;
	case CPU_VM_HALTED:
	case CPU_VM_RUNNING:
		fprintf(stderr, "protsim: %s: every vCPU is halted (WFI with no wake-up source)\n",
			prog);
		rc = CPU_EXEC_RC_HALT;
		break;
	}
	if (stats)
		sim_stats_write_text(s, stderr);
	goto out;
out_err:
	fprintf(stderr, "protsim: %s\n", err.msg);
	rc = 2;
	goto out;
out_usage:
	usage();
	rc = 2;
out:
	cpu_vm_free(vm);
	cpu_elf_free(elf);
	sim_free(s);
	return rc;
}
