/*
 * bench_stack.c - the SNP host stack end to end, in host time:
 *
 *   - 4K conversions per second: scripted guest code on an SNP VM (4K
 *     guest_memfd folios) makes 16 MiB private and back, one 4K page per
 *     PSC entry (`guest unshare` / `guest share`: the guest's PSC in
 *     GHCB batches, KVM, the VMM's attribute change and punch,
 *     guest_memfd's prepare and invalidate with RMPUPDATE, PVALIDATE and
 *     its #NPF); timed around those lines only;
 *   - eager acceptance: `guest accept` of 1 GiB (262,144 4K pages) on 4K
 *     folios and on 2M folios, pages per second of host time, and the
 *     process's peak RSS;
 *   - the `boot` guest program ($GUEST_DIR/boot.elf) on a 4 GiB SNP VM,
 *     eager vs lazy acceptance: simulated cycles of the boot, side by
 *     side, and host seconds;
 *   - with BENCH_STACK_BIG=1, once: eager acceptance of a 128 GiB SNP VM
 *     (33.5 M 4K pages, 4K folios), in a child process: host seconds
 *     (elapsed, and user + system) and the child's peak RSS.
 * Each figure BENCH_RUNS times (default 5), alternating, median (min-max).
 */
#include "bench/bench.h"
#include "sim/sim.h"
#include "sim/stack/stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RUNS 50

static unsigned runs(void)
{
	const char *e = getenv("BENCH_RUNS");
	unsigned n = e ? (unsigned)atoi(e) : 5;

	return n < 1 ? 1 : n > MAX_RUNS ? MAX_RUNS : n;
}

static FILE *devnull(void)
{
	FILE *f = fopen("/dev/null", "w");

	if (!f) {
		perror("bench: /dev/null");
		exit(1);
	}
	return f;
}

/* A machine with @keys set ("k=v k=v"), started. */
static struct sim *machine(const char *const *keys)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;

	for (; *keys; keys += 2)
		if (sim_cfg_set(s, keys[0], keys[1], "bench", 0, &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
	if (sim_start(s, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	return s;
}

static void script(struct sim *s, const char *text, FILE *out)
{
	if (sim_script_run_text(s, text, "bench", out, stderr)) {
		fprintf(stderr, "bench: stack script failed:\n%s\n", text);
		exit(1);
	}
}

static const char setup[] =
	"vm create vm=1 type=snp\n"
	"gmem create vm=1 fd=1 size=1g\n"
	"vm memslot vm=1 slot=0 gpa=0 size=1g gmem=1\n"
	"vm cap vm=1 cap=exit_hypercall arg0=0x1000\n"
	"snp launch_start vm=1\n"
	"snp launch_finish vm=1\n";

/* 16 MiB made private, then shared, then private: 12,288 4K conversions. */
static double conversions(void)
{
	static const char *const keys[] = {
		"machine.mem", "4g", "s2.pool_base", "0x1000000", "s2.pool_size", "2g", NULL
	};
	struct sim *s = machine(keys);
	FILE *out = devnull();
	uint64_t t0;
	double rate;

	script(s, setup, out);
	t0 = bench_now_ns();
	script(s, "guest unshare vm=1 gpa=0x10000000 size=16m\n"
		  "guest share vm=1 gpa=0x10000000 size=16m\n"
		  "guest unshare vm=1 gpa=0x10000000 size=16m\n", out);
	rate = 3.0 * 4096 * 1e9 / (double)(bench_now_ns() - t0);
	fclose(out);
	sim_free(s);
	return rate;
}

/* Eager `guest accept` of 1 GiB minus the GHCB's 2M: pages per second. */
static double accept(const char *page_size)
{
	const char *const keys[] = {
		"machine.mem", "4g", "s2.pool_base", "0x1000000", "s2.pool_size", "2g",
		"gmem.page_size", page_size, NULL
	};
	struct sim *s = machine(keys);
	FILE *out = devnull();
	uint64_t t0;
	double rate;

	script(s, setup, out);
	t0 = bench_now_ns();
	script(s, "guest accept vm=1 gpa=0 size=1022m\n", out);
	rate = (1022.0 * 256) * 1e9 / (double)(bench_now_ns() - t0);
	fclose(out);
	sim_free(s);
	return rate;
}

/* The boot program on a 4 GiB VM: its simulated cycles (the vcpu run line's). */
static uint64_t boot(const char *accept_mode, double *host_s)
{
	static const char *const keys[] = {
		"machine.mem", "8g", "s2.pool_base", "0x1000000", "s2.pool_size", "6g", NULL
	};
	const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
	struct sim *s = machine(keys);
	char text[2048], *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	uint64_t t0, cyc = 0;
	const char *p;

	snprintf(text, sizeof(text),
		 "vm create vm=1 type=snp\n"
		 "gmem create vm=1 fd=1 size=4g\n"
		 "vm memslot vm=1 slot=0 gpa=0x80000000 size=4g gmem=1\n"
		 "vm cap vm=1 cap=exit_hypercall arg0=0x1000\n"
		 "vm attr vm=1 gpa=0x80000000 size=4g private=1\n"
		 "vm load vm=1 elf=%s/boot.elf\n"
		 "vm boot vm=1 gpa=0x80400000 cmdline=accept=%s,touch=16m\n"
		 "snp launch_start vm=1\n"
		 "snp launch_update vm=1 gpa=0x80000000 size=0x198000\n"
		 "snp launch_update vm=1 gpa=0x80400000 size=4k\n"
		 "snp launch_finish vm=1\n", dir, accept_mode);
	script(s, text, out);
	t0 = bench_now_ns();
	script(s, "vcpu run vm=1 vcpu=0 boot=0x80400000\n", out);
	*host_s = (double)(bench_now_ns() - t0) / 1e9;
	fclose(out);
	/* the result line: "... vcpu run ... -> OK ... (N cycles)" */
	p = buf ? strstr(buf, "vcpu run") : NULL;
	if (!p || !strstr(p, "exit=exited code=0") || !(p = strstr(p, " (")) ||
	    sscanf(p, " (%llu cycles)", (unsigned long long *)&cyc) != 1) {
		fprintf(stderr, "bench: boot accept=%s did not finish:\n%s\n", accept_mode,
			buf ? buf : "");
		exit(1);
	}
	free(buf);
	sim_free(s);
	return cyc;
}

/*
 * Eager acceptance of a 128 GiB SNP VM on 4K folios (33.5 M pages), in a
 * child process so that its peak RSS is its own.
 */
static void big_accept(void)
{
	static const char *const keys[] = {
		"machine.mem", "160g", "s2.pool_base", "0x1000000", "s2.pool_size", "150g", NULL
	};
	struct rusage ru;
	uint64_t t0 = bench_now_ns();
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		perror("bench: fork");
		exit(1);
	}
	if (pid == 0) {
		struct sim *s = machine(keys);
		FILE *out = devnull();

		script(s, "vm create vm=1 type=snp\n"
			  "gmem create vm=1 fd=1 size=128g\n"
			  "vm memslot vm=1 slot=0 gpa=0 size=128g gmem=1\n"
			  "vm cap vm=1 cap=exit_hypercall arg0=0x1000\n"
			  "snp launch_start vm=1\n"
			  "snp launch_finish vm=1\n"
			  "guest accept vm=1 gpa=0 size=131070m\n", out);
		fclose(out);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "bench: the 128 GiB accept failed\n");
		exit(1);
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("  %-44s %.1f s elapsed, %.1f s user+system, peak RSS %ld MiB\n",
	       "stack: eager accept of 128 GiB (4K folios)", (double)(bench_now_ns() - t0) / 1e9,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6, ru.ru_maxrss / 1024);
}

void bench_stack(void)
{
	unsigned n = runs();
	double conv[MAX_RUNS], acc4k[MAX_RUNS], acc2m[MAX_RUNS], eager[MAX_RUNS], lazy[MAX_RUNS];
	double host_e = 0, host_l = 0, me, ml;
	struct rusage ru;

	bench_section("SNP host stack (guest PSC + accept, KVM, VMM, guest_memfd, RMP)");
	for (unsigned i = 0; i < n; i++) {
		double h;

		conv[i] = conversions();
		acc4k[i] = accept("4k");
		acc2m[i] = accept("2m");
		eager[i] = (double)boot("eager", &h);
		host_e += h;
		lazy[i] = (double)boot("lazy", &h);
		host_l += h;
	}
	bench_report_runs("stack: 4K conversions (share/unshare, GHCB)", conv, n, "conv");
	bench_report_runs("stack: eager accept, 4K folios", acc4k, n, "pages");
	bench_report_runs("stack: eager accept, 2M folios", acc2m, n, "pages");
	getrusage(RUSAGE_SELF, &ru);
	printf("  %-44s %ld MiB\n", "stack: peak RSS so far", ru.ru_maxrss / 1024);
	/* simulated cycles are deterministic: every run gives the same */
	me = eager[0];
	ml = lazy[0];
	printf("  %-44s %.0f cycles eager, %.0f cycles lazy\n", "stack: boot 4 GiB, touch 16 MiB", me, ml);
	bench_ratio("stack: boot cycles eager / lazy", me, ml);
	printf("  %-44s %.3f s eager, %.3f s lazy (mean host time per boot)\n",
	       "stack: boot host time", host_e / n, host_l / n);
	if (getenv("BENCH_STACK_BIG") && atoi(getenv("BENCH_STACK_BIG")))
		big_accept();
}
