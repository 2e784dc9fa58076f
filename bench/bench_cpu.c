/*
 * bench_cpu.c - instruction rate of the RV64 vCPU, side by side with the
 * other RISC-V simulators on the same ELF, in the same run:
 *
 *   - protsim on $GUEST_DIR/compute.elf (default build/guest) in fast and
 *     detailed mode (NPT VM, every protection check on) and as an SNP
 *     guest; timed around sim_run() only (VM creation and ELF loading are
 *     outside), in wall time and in process CPU time;
 *   - qemu-system-riscv64 -M spike (when installed) and Spike ($SPIKE, or
 *     `spike` on the PATH; not in Debian 12) on the same ELF.  A
 *     competitor runs as a child process, so its start-up is part of its
 *     time: it is measured every run, by running compute_small.elf (the
 *     same program with 2 iterations instead of 400) right after
 *     compute.elf, and the rate is (instructions of compute - those of
 *     compute_small) / (time of compute - time of compute_small).  The
 *     instruction counts are protsim's (the same ELF: the same
 *     instructions, up to HTIF polling);
 *   - two loops placed in guest RAM, 8 memory instructions and a jump: 8
 *     loads, and 8 LR/SC/AMOs, which must stay within 2x of the loads'
 *     cost (the L0 TLB fast path of atomics).
 *
 * Everything is measured BENCH_RUNS times (default 5), protsim and the
 * competitors alternating, and reported as the median with the spread
 * (min-max); ratios are ratios of medians.  On a shared machine wall time
 * includes waiting for a core, so the CPU-time figures (this process's
 * for protsim, the child's user + system time for a competitor) are given
 * too.
 */
#include "bench/bench.h"
#include "cpu/cpu.h"
#include "sim/stack/stack.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/rv_enc.h"

#define MAX_RUNS 50

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

static unsigned bench_runs(void)
{
	const char *s = getenv("BENCH_RUNS");
	long n = s && *s ? strtol(s, NULL, 10) : 5;

	return n < 1 ? 1 : n > MAX_RUNS ? MAX_RUNS : (unsigned)n;
}

/* One figure's rates (per second), one per run. */
struct series {
	double v[MAX_RUNS];
	unsigned n;
};

static void series_add(struct series *s, double count, uint64_t ns)
{
	if (ns && s->n < MAX_RUNS)
		s->v[s->n++] = count * 1e9 / (double)ns;
}

/* A simulator built for this run: the cpu module and the modules it needs. */
/* The VM of `protsim exec`: VM 0, its statistics names. */
static const struct stack_guest_cfg bench_gc = { .id = 0, .vcpu_prefix = "", .vm_prefix = "vm" };

static struct sim *sim_for(const char *mode, const char *type, struct sim_err *err)
{
	struct sim *s = sim_new(stack_modules);

	if (sim_cfg_set(s, "cpu.mode", mode, "bench", 0, err) ||
	    sim_cfg_set(s, "vm.type", type, "bench", 0, err) || sim_start(s, err)) {
		sim_free(s);
		return NULL;
	}
	return s;
}

/*
 * Run @prog in @mode on a VM of @type; returns instructions retired, *ns
 * the wall time and *cpu_ns the process CPU time of sim_run (both 0 on
 * error).
 */
static uint64_t run_sim(const char *prog, const char *mode, const char *type, uint64_t *ns,
			uint64_t *cpu_ns)
{
	struct sim_err err;
	struct sim *s = sim_for(mode, type, &err);
	struct cpu_elf *elf = NULL;
	struct stack_vm *vm = NULL;
	FILE *null = fopen("/dev/null", "w");
	uint64_t t0, c0, insns = 0;

	*ns = *cpu_ns = 0;
	if (!s || cpu_elf_open(prog, sim_cfg_u64(s, "vm.mem_base"), sim_cfg_u64(s, "vm.mem_size"),
			       &elf, &err) ||
	    !(vm = stack_guest_new(s, &bench_gc, null, &err)) || stack_guest_load(vm, elf, &err)) {
		printf("  cpu: %s\n", err.msg);
		goto out;
	}
	stack_guest_start(vm, 0);
	t0 = bench_now_ns();
	c0 = cpu_now_ns();
	sim_run(s);
	*cpu_ns = cpu_now_ns() - c0;
	*ns = bench_now_ns() - t0;
	insns = cpu_hart_insns(cpu_vm_hart(stack_guest_cpu(vm), 0));
	if (stack_guest_state(vm) != STACK_VM_EXITED || stack_guest_exit_code(vm) != 0) {
		printf("  cpu: %s did not exit cleanly\n", prog);
		*ns = *cpu_ns = 0;
	}
out:
	stack_guest_free(vm);
	cpu_elf_free(elf);
	sim_free(s);
	if (null)
		fclose(null);
	return insns;
}

/* ------------------------------------------------------------------ */
/* Loops placed in guest RAM                                           */
/* ------------------------------------------------------------------ */

#define LOOP_INSNS 40000000ull
#define AMO_OP(f5, rs2, rs1, f3, rd) R((f5) << 2, rs2, rs1, f3, rd, 0x2f)

/* x1 = data, x7 = data + 64, x2 = 1; 8 memory instructions, then j back. */
static const uint32_t loop_load[] = {
	LD(3, 0, 1), LD(4, 8, 1), LD(5, 16, 1), LD(6, 24, 1),
	LD(8, 0, 7), LD(9, 8, 7), LD(10, 16, 7), LD(11, 24, 7),
	J(-32, 0),
};
static const uint32_t loop_atomic[] = {
	AMO_OP(0x02, 0, 1, 3, 4),    /* lr.d      x4, (x1) */
	AMO_OP(0x03, 4, 1, 3, 5),    /* sc.d      x5, x4, (x1): succeeds */
	AMO_OP(0x00, 2, 1, 3, 3),    /* amoadd.d  x3, x2, (x1) */
	AMO_OP(0x01, 3, 7, 3, 6),    /* amoswap.d x6, x3, (x7) */
	AMO_OP(0x02, 0, 7, 2, 8),    /* lr.w      x8, (x7) */
	AMO_OP(0x03, 8, 7, 2, 9),    /* sc.w      x9, x8, (x7): succeeds */
	AMO_OP(0x08, 2, 7, 2, 10),   /* amoor.w   x10, x2, (x7) */
	AMO_OP(0x14, 2, 1, 3, 11),   /* amomax.d  x11, x2, (x1) */
	J(-32, 0),
};

/* Run @code (@n words) at the start of guest RAM for LOOP_INSNS instructions. */
static uint64_t run_loop(const uint32_t *code, size_t n, const char *mode, uint64_t *ns,
			 uint64_t *cpu_ns)
{
	struct sim_err err;
	struct sim *s = sim_for(mode, "npt", &err);
	struct stack_vm *vm = NULL;
	struct cpu_hart *h;
	uint64_t base, spa, t0, c0, insns = 0;

	*ns = *cpu_ns = 0;
	if (!s || !(vm = stack_guest_new(s, &bench_gc, NULL, &err))) {
		printf("  cpu: %s\n", err.msg);
		goto out;
	}
	base = sim_cfg_u64(s, "vm.mem_base");
	if (stack_guest_gpa_to_spa(vm, base, &spa)) {
		printf("  cpu: guest RAM not mapped\n");
		goto out;
	}
	sim_mem_poke(sim_mem(s), spa, code, n * sizeof(code[0]));
	/* the data (written, so its frame exists: loads of never-written memory read zero slowly) */
	for (unsigned i = 0; i < 16; i++)
		sim_mem_poke64(sim_mem(s), spa + 0x10000 + 8 * i, i);
	h = cpu_vm_hart(stack_guest_cpu(vm), 0);
	cpu_hart_set_pc(h, base);
	cpu_hart_set_reg(h, 1, base + 0x10000);
	cpu_hart_set_reg(h, 7, base + 0x10040);
	cpu_hart_set_reg(h, 2, 1);
	stack_guest_start(vm, LOOP_INSNS);
	t0 = bench_now_ns();
	c0 = cpu_now_ns();
	sim_run(s);
	*cpu_ns = cpu_now_ns() - c0;
	*ns = bench_now_ns() - t0;
	insns = cpu_hart_insns(h);
	if (stack_guest_state(vm) != STACK_VM_LIMIT || insns != LOOP_INSNS) {
		printf("  cpu: loop stopped early (%llu instructions)\n", (unsigned long long)insns);
		*ns = *cpu_ns = 0;
	}
out:
	stack_guest_free(vm);
	sim_free(s);
	return insns;
}

/* ------------------------------------------------------------------ */
/* Competitors                                                         */
/* ------------------------------------------------------------------ */

/*
 * Run `argv` with output discarded: 0 and its wall time and CPU time
 * (user + system) in ns, or -1 if it cannot run or fails.
 */
static int run_ext(char *const argv[], uint64_t *ns, uint64_t *cpu_ns)
{
	uint64_t t0 = bench_now_ns();
	struct rusage ru;
	int st;
	pid_t p;

	fflush(NULL);   /* the child must not write our buffered output */
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr) ||
		    !freopen("/dev/null", "r", stdin))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(p, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	*ns = bench_now_ns() - t0;
	*cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
		  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
	return 0;
}

static bool have(const char *tool)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

#define MAX_ARGS 12

/* Another simulator run on the same ELF as a child process. */
struct competitor {
	const char *name;          /* short name for the figures */
	char *argv[MAX_ARGS];      /* the ELF path goes at argv[elf_arg] */
	unsigned elf_arg;
	bool ok;                   /* installed and ran every time so far */
	const char *absent;        /* why it is not measured, when not installed */
	struct series wall, cpu;
	double short_s[MAX_RUNS];  /* wall seconds of the compute_small runs (mostly start-up) */
	unsigned failed;
};

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * One measurement: compute (@n_long instructions) then compute_small
 * (@n_short); the difference of their times removes the start-up.
 */
static void competitor_run(struct competitor *c, char *long_elf, char *short_elf,
			   uint64_t n_long, uint64_t n_short)
{
	uint64_t wl, cl, ws, cs;

	if (!c->ok)
		return;
	c->argv[c->elf_arg] = long_elf;
	if (run_ext(c->argv, &wl, &cl) == 0) {
		c->argv[c->elf_arg] = short_elf;
		if (run_ext(c->argv, &ws, &cs) == 0 && wl > ws && cl > cs) {
			c->short_s[c->wall.n] = (double)ws / 1e9;
			series_add(&c->wall, (double)(n_long - n_short), wl - ws);
			series_add(&c->cpu, (double)(n_long - n_short), cl - cs);
			return;
		}
	}
	c->failed++;
	c->ok = false;
	printf("  %s (%s) failed to run %s or %s (or the longer run was not slower)\n", c->name,
	       c->argv[0], long_elf, short_elf);
}

void bench_cpu(void)
{
	char compute[512], small[512];
	unsigned runs = bench_runs();
	struct series fast = { 0 }, fast_cpu = { 0 }, det = { 0 }, det_cpu = { 0 }, snp = { 0 },
		      snp_cpu = { 0 }, ld_fast = { 0 }, at_fast = { 0 }, ld_det = { 0 },
		      at_det = { 0 };
	struct competitor qemu = {
		.name = "qemu",
		.argv = { "qemu-system-riscv64", "-M", "spike", "-bios", "none", "-kernel", NULL,
			  "-nographic", "-monitor", "none", NULL },
		.elf_arg = 6,
	};
	struct competitor spike = { .name = "spike", .elf_arg = 1 };
	const char *spike_path = getenv("SPIKE");
	uint64_t n_long, n_short, ns, cpu_ns;
	double m_fast, m_fast_cpu, m_det, m_det_cpu, m_ld, m_at;

	snprintf(compute, sizeof(compute), "%s/compute.elf", guest_dir());
	snprintf(small, sizeof(small), "%s/compute_small.elf", guest_dir());
	bench_section("cpu: RV64 guest (compute.elf), NPT VM, all checks on; "
		      "medians of alternating runs");
	if (access(compute, R_OK) != 0 || access(small, R_OK) != 0) {
		printf("  %s or %s missing: run make guest\n", compute, small);
		return;
	}
	/* instruction counts (the same in every mode: tests check it) */
	n_long = run_sim(compute, "fast", "npt", &ns, &cpu_ns);
	n_short = run_sim(small, "fast", "npt", &ns, &cpu_ns);
	if (!ns || n_long <= n_short) {
		printf("  cpu: cannot count the instructions of %s\n", compute);
		return;
	}
	printf("  %u runs; compute.elf %llu instructions, compute_small.elf %llu\n", runs,
	       (unsigned long long)n_long, (unsigned long long)n_short);

	qemu.ok = have(qemu.argv[0]);
	qemu.absent = "qemu-system-riscv64 not installed (apt-get install --no-install-recommends "
		      "qemu-system-misc)";
	if (spike_path && *spike_path) {
		spike.ok = access(spike_path, X_OK) == 0;
		spike.absent = "SPIKE is not an executable file";
	} else {
		spike_path = "spike";
		spike.ok = have(spike_path);
		spike.absent = "spike not installed (not in Debian 12; make bench SPIKE=/path/to/spike "
			       "uses a local build)";
	}
	spike.argv[0] = (char *)spike_path;

	for (unsigned r = 0; r < runs; r++) {
		uint64_t n;

		n = run_sim(compute, "fast", "npt", &ns, &cpu_ns);
		series_add(&fast, (double)n, ns);
		series_add(&fast_cpu, (double)n, cpu_ns);
		competitor_run(&qemu, compute, small, n_long, n_short);
		n = run_sim(compute, "detailed", "npt", &ns, &cpu_ns);
		series_add(&det, (double)n, ns);
		series_add(&det_cpu, (double)n, cpu_ns);
		competitor_run(&spike, compute, small, n_long, n_short);
		n = run_sim(compute, "fast", "snp", &ns, &cpu_ns);
		series_add(&snp, (double)n, ns);
		series_add(&snp_cpu, (double)n, cpu_ns);
		n = run_loop(loop_load, sizeof(loop_load) / 4, "fast", &ns, &cpu_ns);
		series_add(&ld_fast, (double)n, cpu_ns);
		n = run_loop(loop_atomic, sizeof(loop_atomic) / 4, "fast", &ns, &cpu_ns);
		series_add(&at_fast, (double)n, cpu_ns);
		n = run_loop(loop_load, sizeof(loop_load) / 4, "detailed", &ns, &cpu_ns);
		series_add(&ld_det, (double)n, cpu_ns);
		n = run_loop(loop_atomic, sizeof(loop_atomic) / 4, "detailed", &ns, &cpu_ns);
		series_add(&at_det, (double)n, cpu_ns);
	}

	m_fast = bench_report_runs("protsim fast mode", fast.v, fast.n, "insn");
	m_fast_cpu = bench_report_runs("protsim fast mode (process CPU time)", fast_cpu.v,
				       fast_cpu.n, "insn");
	m_det = bench_report_runs("protsim detailed mode", det.v, det.n, "insn");
	m_det_cpu = bench_report_runs("protsim detailed mode (process CPU time)", det_cpu.v,
				      det_cpu.n, "insn");
	bench_report_runs("protsim fast mode, SNP guest", snp.v, snp.n, "insn");
	bench_report_runs("protsim fast mode, SNP guest (process CPU)", snp_cpu.v, snp_cpu.n,
			  "insn");

	for (struct competitor *c = &qemu; c; c = c == &qemu ? &spike : NULL) {
		char name[96];
		double w, cc;

		if (!c->wall.n) {
			printf("  %s: %s: no ratio\n", c->name,
			       c->failed ? "no successful run" : c->absent);
			continue;
		}
		qsort(c->short_s, c->wall.n, sizeof(c->short_s[0]), cmp_dbl);
		printf("  %s: %s%s ELF; start-up: compute_small.elf took %.3f s (median wall)\n",
		       c->name, c->argv[0], c == &qemu ? " -M spike -bios none -kernel" : "",
		       c->short_s[c->wall.n / 2]);
		snprintf(name, sizeof(name), "%s (start-up removed)", c->name);
		w = bench_report_runs(name, c->wall.v, c->wall.n, "insn");
		snprintf(name, sizeof(name), "%s (child CPU time, start-up removed)", c->name);
		cc = bench_report_runs(name, c->cpu.v, c->cpu.n, "insn");
		if (c == &qemu) {
			bench_ratio("protsim fast / qemu (goal >= 0.25)", m_fast, w);
			bench_ratio("protsim fast / qemu, CPU time", m_fast_cpu, cc);
			bench_ratio("protsim detailed / qemu (goal >= 0.08)", m_det, w);
			bench_ratio("protsim detailed / qemu, CPU time", m_det_cpu, cc);
		} else {
			bench_ratio("protsim fast / spike (goal >= 1.5)", m_fast, w);
			bench_ratio("protsim fast / spike, CPU time", m_fast_cpu, cc);
			bench_ratio("protsim detailed / spike (goal >= 0.5)", m_det, w);
			bench_ratio("protsim detailed / spike, CPU time", m_det_cpu, cc);
		}
	}

	bench_section("cpu: loops of 8 memory instructions + j, NPT VM (process CPU time)");
	m_ld = bench_report_runs("load loop (8 ld), fast mode", ld_fast.v, ld_fast.n, "insn");
	m_at = bench_report_runs("atomic loop (LR/SC/AMO), fast mode", at_fast.v, at_fast.n,
				 "insn");
	bench_ratio("atomic / load loop rate, fast (goal >= 0.5)", m_at, m_ld);
	m_ld = bench_report_runs("load loop (8 ld), detailed mode", ld_det.v, ld_det.n, "insn");
	m_at = bench_report_runs("atomic loop (LR/SC/AMO), detailed mode", at_det.v, at_det.n,
				 "insn");
	bench_ratio("atomic / load loop rate, detailed", m_at, m_ld);
}
