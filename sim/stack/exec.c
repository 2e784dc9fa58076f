/*
 * exec.c - `protsim exec PROG.elf [--set KEY=VALUE]... [--seed N]
 * [--mode fast|detailed] [--max-insns N] [--stats]`: run one guest
 * program on the default machine as VM 0 of the stack (vm.vcpus vCPUs;
 * NPT by default, SNP with --set vm.type=snp), console output on stdout.
 *
 * Options are parsed by the engine's one parser (sim_cli_parse) from the
 * table below, as for every other command.  Exit status: the guest's own
 * exit code when it is 0..119, else one of the codes 120..127 that only
 * protsim gives (sim/stack/stack.h, docs/guest-abi.md), so a guest that exits 1
 * or 2 is never mistaken for a failed check or bad usage.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct sim_cli_opt exec_opts[] = {
	SIM_CLI_OPT_SET,
	SIM_CLI_OPT_SEED,
	{ "mode", 0, "fast|detailed", "cpu.mode",
	  "fast: fixed CPI; detailed: in-order core with caches (cpu.mode)" },
	{ "max-insns", 0, "N", NULL,
	  "stop after N instructions and traps, all vCPUs (default 1000000000; 0 = none)" },
	{ "stats", 0, NULL, NULL, "print every statistic on stderr at the end" },
	{ "out", 0, "DIR", NULL,
	  "also write the output set to DIR: stats, config.json, run.json, console.log (docs/outputs.md)" },
	{ "timeline", 0, "FILE", NULL, "write the run's timeline to FILE (Chrome trace JSON, docs/outputs.md)" },
	{ "trace", 0, "FILE", NULL, "write the run's event trace to FILE (zstd binary records, docs/trace.md)" },
	{ NULL, 0, NULL, NULL, NULL }
};

const struct sim_cli_cmd stack_exec_cmd = {
	"exec", "PROG.elf", 1, 1, exec_opts,
	"Run an RV64 guest program; exit with its exit code.",
	"PROG.elf is a bare-metal RV64IMAC program (docs/guest-abi.md: HTIF console\n"
	"and exit, custom instructions).  It runs as one VM of vm.vcpus vCPUs: NPT by\n"
	"default, --set vm.type=snp for an SNP guest, bare for no stage 2.  Console\n"
	"output goes to stdout.  A program that never ends stops at the instruction\n"
	"limit (--max-insns).\n",
	"0..119  the guest exited with this code\n"
	"120     the guest exited with a code outside 0..119 (printed on stderr)\n"
	"121     bad usage\n"
	"122     bad configuration or ELF file (nothing ran)\n"
	"123     the console output or the --out files could not be written\n"
	"124     the instruction limit was reached\n"
	"125     every vCPU halted with nothing to wake it\n"
	"126     the hypervisor stopped the VM\n",
	STACK_EXEC_RC_USAGE,
};

int stack_exec_main(int argc, char **argv, const struct sim_run_meta *meta)
{
	const char *dir;
	char *logpath = NULL;
	FILE *log = NULL, *console = stdout;
	double t0 = sim_host_seconds();
	const char *prog, *v;
	uint64_t max_insns = STACK_EXEC_MAX_INSNS;
	struct sim_err err;
	struct sim_cli cl;
	struct sim *s = NULL;
	struct cpu_elf *elf = NULL;
	struct stack_vm *vm = NULL;
	const struct stack_guest_cfg gc = { .id = 0, .vcpu_prefix = "", .vm_prefix = "vm" };
	int rc = STACK_EXEC_RC_INPUT, code;

	switch (sim_cli_parse(&stack_exec_cmd, argc, argv, &cl)) {
	case SIM_CLI_RUN:
		break;
	case SIM_CLI_HELP:
		rc = 0;
		goto out;
	default:
		rc = STACK_EXEC_RC_USAGE;
		goto out;
	}
	prog = cl.args[0];
	v = sim_cli_value(&cl, "max-insns");
	if (v && sim_parse_u64(v, &max_insns)) {
		char q[SIM_QUOTE_MAX];

		rc = sim_cli_usage_error(&stack_exec_cmd, "--max-insns: expected a number, got %s",
					 sim_quote(v, q));
		goto out;
	}
	s = sim_new(stack_modules);
	if (sim_cli_apply(s, &cl, &err) || sim_start(s, &err))
		goto out_err;
	if (cpu_elf_open(prog, sim_cfg_u64(s, "vm.mem_base"), sim_cfg_u64(s, "vm.mem_size"),
			 &elf, &err))
		goto out_err;
	if (!elf->has_tohost)
		fprintf(stderr, "protsim: %s: no 'tohost' symbol: the program cannot report its "
			"exit (HTIF)\n", prog);
	dir = sim_cli_value(&cl, "out");
	if (dir) {
		/* the console goes to stdout and to DIR/console.log */
		logpath = sim_xprintf("%s/console.log", dir);
		if (sim_mkdir_p(dir) || !(log = fopen(logpath, "w"))) {
			fprintf(stderr, "protsim: %s: cannot write: %s\n", logpath, strerror(errno));
			rc = STACK_EXEC_RC_OUTPUT;
			goto out;
		}
		console = sim_tee_open(stdout, log);
	}
	vm = stack_guest_new(s, &gc, console, &err);
	if (!vm || stack_guest_load(vm, elf, &err)) {
		/* "key: message" about the VM's keys: name where they were set */
		sim_cfg_error_locate(s, &err);
		goto out_err;
	}
	if (sim_cli_value(&cl, "timeline") &&
	    sim_timeline_open(s, sim_cli_value(&cl, "timeline"), &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		rc = STACK_EXEC_RC_OUTPUT;
		goto out;
	}
	if (sim_cli_value(&cl, "trace") && sim_trace_open(s, sim_cli_value(&cl, "trace"), &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		rc = STACK_EXEC_RC_OUTPUT;
		goto out;
	}
	stack_guest_start(vm, max_insns);
	sim_run(s);
	if (sim_timeline_close(s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		rc = STACK_EXEC_RC_OUTPUT;
		goto out;
	}
	if (sim_trace_close(s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		rc = STACK_EXEC_RC_OUTPUT;
		goto out;
	}
	switch (stack_guest_state(vm)) {
	case STACK_VM_EXITED:
		code = stack_guest_exit_code(vm);
		if (code >= 0 && code <= STACK_EXEC_RC_GUEST_MAX) {
			rc = code;
			break;
		}
		fprintf(stderr, "protsim: %s: the guest exited with code %d (outside 0..%d: "
			"exit status %d)\n", prog, code, STACK_EXEC_RC_GUEST_MAX,
			STACK_EXEC_RC_GUEST_BIG);
		rc = STACK_EXEC_RC_GUEST_BIG;
		break;
	case STACK_VM_LIMIT:
		fprintf(stderr, "protsim: %s: instruction limit reached (%llu instructions; "
			"--max-insns N to change it, 0 for none)\n", prog,
			(unsigned long long)max_insns);
		rc = STACK_EXEC_RC_LIMIT;
		break;
	case STACK_VM_KILLED:
		fprintf(stderr, "protsim: %s: VM stopped by the hypervisor (code %d)\n", prog,
			stack_guest_exit_code(vm));
		rc = STACK_EXEC_RC_KILLED;
		break;
	case STACK_VM_HALTED:
	case STACK_VM_RUNNING:
		fprintf(stderr, "protsim: %s: every vCPU is halted (WFI with no wake-up source)\n",
			prog);
		rc = STACK_EXEC_RC_HALT;
		break;
	}
	if (console != stdout && fclose(console))
		rc = STACK_EXEC_RC_OUTPUT;
	console = stdout;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "protsim: %s: cannot write the console output to standard output\n",
			prog);
		rc = STACK_EXEC_RC_OUTPUT;
	}
	if (sim_cli_flag(&cl, "stats"))
		sim_stats_write_text(s, stderr);
	if (dir) {
		struct sim_run_meta m = *meta;

		m.input = prog;
		m.exit_status = rc;
		m.error = rc > STACK_EXEC_RC_GUEST_MAX ? "the program did not exit normally "
			  "(see stderr)" : NULL;
		m.host_seconds = sim_host_seconds() - t0;
		if (sim_outputs_write(s, dir, &m, &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			rc = STACK_EXEC_RC_OUTPUT;
		}
	}
	goto out;
out_err:
	fprintf(stderr, "protsim: %s\n", err.msg);
	rc = STACK_EXEC_RC_INPUT;
out:
	if (console != stdout)
		fclose(console);
	if (log && fclose(log)) {
		fprintf(stderr, "protsim: %s: cannot write\n", logpath);
		rc = STACK_EXEC_RC_OUTPUT;
	}
	free(logpath);
	stack_guest_free(vm);
	cpu_elf_free(elf);
	sim_free(s);
	sim_cli_free(&cl);
	return rc;
}
