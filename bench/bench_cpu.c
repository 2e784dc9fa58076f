/*
 * bench_cpu.c - MIPS of the RV64 vCPU on the compute guest program
 * ($GUEST_DIR/compute.elf, default build/guest) in fast and detailed mode
 * (NPT VM, every protection check on), next to the same ELF on
 * qemu-system-riscv64 -M spike (and spike when installed), as ratios.
 * qemu's start-up time is measured with hello.elf and subtracted.
 * The simulator's rates are also given in process CPU time: on a shared
 * machine wall time includes waiting for a core.
 */
#include "bench/bench.h"
#include "cpu/cpu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Spike's speed on this kind of machine, from the issue (no Spike in Debian 12). */
#define SPIKE_REF_MIPS 250.0

/* CPU time of this process in ns (benchmarks only). */
static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *guest_dir(void)
{
	const char *d = getenv("GUEST_DIR");

	return d && *d ? d : "build/guest";
}

/*
 * Run @prog in @mode; returns instructions retired, *ns the wall time and
 * *cpu_ns the process CPU time of sim_run (both 0 on error).
 */
static uint64_t run_sim(const char *prog, const char *mode, const char *type, uint64_t *ns,
			uint64_t *cpu_ns)
{
	static const struct sim_module *const mods[] = { &rmp_module, &s2_module, &cpu_module, NULL };
	struct sim *s = sim_new(mods);
	struct sim_err err;
	struct cpu_elf *elf = NULL;
	struct cpu_vm *vm = NULL;
	FILE *null = fopen("/dev/null", "w");
	uint64_t t0, c0, insns = 0;

	*ns = *cpu_ns = 0;
	if (sim_cfg_set(s, "cpu.mode", mode, "bench", 0, &err) ||
	    sim_cfg_set(s, "vm.type", type, "bench", 0, &err) || sim_start(s, &err) ||
	    cpu_elf_open(prog, sim_cfg_u64(s, "vm.mem_base"), sim_cfg_u64(s, "vm.mem_size"), &elf,
			 &err) ||
	    !(vm = cpu_vm_new(s, null, &err)) || cpu_vm_load(vm, elf, &err)) {
		printf("  cpu: %s\n", err.msg);
		goto out;
	}
	cpu_vm_start(vm, 0);
	t0 = bench_now_ns();
	c0 = cpu_now_ns();
	sim_run(s);
	*cpu_ns = cpu_now_ns() - c0;
	*ns = bench_now_ns() - t0;
	insns = cpu_hart_insns(cpu_vm_hart(vm, 0));
	if (cpu_vm_state(vm) != CPU_VM_EXITED || cpu_vm_exit_code(vm) != 0) {
		printf("  cpu: %s did not exit cleanly\n", prog);
		*ns = *cpu_ns = 0;
	}
out:
	cpu_vm_free(vm);
	cpu_elf_free(elf);
	sim_free(s);
	if (null)
		fclose(null);
	return insns;
}

/* Wall time of `argv` with output discarded; 0 if it cannot run. */
static uint64_t run_ext(char *const argv[])
{
	uint64_t t0 = bench_now_ns();
	int st;
	pid_t p = fork();

	if (p < 0)
		return 0;
	if (p == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 0;
	return bench_now_ns() - t0;
}

static bool have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

void bench_cpu(void)
{
	char compute[512], hello[512];
	uint64_t ns_fast, ns_det, cpu_fast, cpu_det, insns, insns_det;
	double fast = 0, det = 0, qemu = 0;

	bench_section("cpu: RV64 guest (compute.elf), NPT VM, all checks on");
	snprintf(compute, sizeof(compute), "%s/compute.elf", guest_dir());
	snprintf(hello, sizeof(hello), "%s/hello.elf", guest_dir());
	if (access(compute, R_OK) != 0) {
		printf("  %s missing: run make guest\n", compute);
		return;
	}
	insns = run_sim(compute, "fast", "npt", &ns_fast, &cpu_fast);
	if (ns_fast) {
		fast = bench_report("cpu fast mode", (double)insns, ns_fast, "insn") / 1e6;
		bench_report("cpu fast mode (process CPU time)", (double)insns, cpu_fast, "insn");
	}
	insns_det = run_sim(compute, "detailed", "npt", &ns_det, &cpu_det);
	if (ns_det) {
		det = bench_report("cpu detailed mode", (double)insns_det, ns_det, "insn") / 1e6;
		bench_report("cpu detailed mode (process CPU time)", (double)insns_det, cpu_det,
			     "insn");
	}
	{
		uint64_t ns_snp, cpu_snp;
		uint64_t n = run_sim(compute, "fast", "snp", &ns_snp, &cpu_snp);

		if (ns_snp) {
			bench_report("cpu fast mode, SNP guest", (double)n, ns_snp, "insn");
			bench_report("cpu fast mode, SNP guest (process CPU time)", (double)n,
				     cpu_snp, "insn");
		}
	}
	if (have("qemu-system-riscv64")) {
		char *qc[] = { "qemu-system-riscv64", "-M", "spike", "-bios", "none", "-kernel", compute,
			       "-nographic", "-monitor", "none", NULL };
		char *qh[] = { "qemu-system-riscv64", "-M", "spike", "-bios", "none", "-kernel", hello,
			       "-nographic", "-monitor", "none", NULL };
		uint64_t tc = run_ext(qc), th = run_ext(qh);

		if (tc && th && tc > th) {
			qemu = bench_report("qemu-system-riscv64 -M spike (start-up subtracted)",
					    (double)insns, tc - th, "insn") / 1e6;
		} else {
			printf("  qemu-system-riscv64 failed to run %s\n", compute);
		}
	} else {
		printf("  qemu-system-riscv64 not installed (apt-get install --no-install-recommends "
		       "qemu-system-misc)\n");
	}
	if (have("spike"))
		printf("  spike is installed but not benchmarked here; compare by hand\n");
	else
		printf("  spike: not in Debian 12; its figure is the issue's ~%.0f MIPS reference\n",
		       SPIKE_REF_MIPS);
	if (qemu > 0) {
		bench_ratio("cpu fast / qemu (goal >= 0.25)", fast, qemu);
		bench_ratio("cpu detailed / qemu (goal >= 0.08)", det, qemu);
	}
	bench_ratio("cpu fast / spike reference (goal >= 1.5)", fast, SPIKE_REF_MIPS);
	bench_ratio("cpu detailed / spike reference (goal >= 0.5)", det, SPIKE_REF_MIPS);
}
