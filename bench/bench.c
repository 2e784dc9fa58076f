/*
 * bench.c - the benchmark driver (`make bench`).  Runs every module's
 * benchmark that is linked in, in a fixed order, in one process, so the
 * figures can be compared as ratios.  Wall-clock time is used here only:
 * the simulator itself never reads it.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench/bench.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *scale(double *v)
{
	if (*v >= 1e9) {
		*v /= 1e9;
		return "G";
	}
	if (*v >= 1e6) {
		*v /= 1e6;
		return "M";
	}
	if (*v >= 1e3) {
		*v /= 1e3;
		return "k";
	}
	return " ";
}

double bench_report(const char *name, double count, uint64_t ns, const char *unit)
{
	double rate = ns ? count * 1e9 / (double)ns : 0, shown = rate;
	const char *sfx = scale(&shown);

	printf("  %-44s %9.2f %s%s/s   (%.0f in %.3f s)\n", name, shown, sfx, unit, count,
	       (double)ns / 1e9);
	fflush(stdout);
	return rate;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_report_runs(const char *name, double *rate, unsigned n, const char *unit)
{
	double med, lo, hi;
	const char *sfx, *sl, *sh;

	if (n == 0) {
		printf("  %-44s %9s\n", name, "-");
		fflush(stdout);
		return 0;
	}
	qsort(rate, n, sizeof(rate[0]), cmp_double);
	med = n % 2 ? rate[n / 2] : (rate[n / 2 - 1] + rate[n / 2]) / 2;
	lo = rate[0];
	hi = rate[n - 1];
	{
		double shown = med;

		sfx = scale(&shown);
		sl = scale(&lo);
		sh = scale(&hi);
		printf("  %-44s %9.2f %s%s/s   (%.2f %s-%.2f %s, %u runs)\n", name, shown, sfx, unit,
		       lo, sl, hi, sh, n);
	}
	fflush(stdout);
	return med;
}

void bench_ratio(const char *name, double a, double b)
{
	if (b > 0)
		printf("  %-44s %9.2fx\n", name, a / b);
	else
		printf("  %-44s %9s\n", name, "-");
	fflush(stdout);
}

void bench_section(const char *title)
{
	printf("\n== %s\n", title);
	fflush(stdout);
}

volatile uint64_t bench_sunk;
void bench_sink(uint64_t v)
{
	bench_sunk += v;
}

#pragma weak bench_engine
#pragma weak bench_rmp
#pragma weak bench_s2
#pragma weak bench_iommu
#pragma weak bench_cpu
#pragma weak bench_stack
#pragma weak bench_pkvm

/* `bench [MODULE]...`: the named benchmarks only (default: all). */
int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} benches[] = {
		{ "engine", bench_engine }, { "rmp", bench_rmp },   { "stage2", bench_s2 },
		{ "iommu", bench_iommu },   { "cpu", bench_cpu },     { "stack", bench_stack },
		{ "pkvm", bench_pkvm },
	};

	size_t nb = sizeof(benches) / sizeof(benches[0]);

	for (int a = 1; a < argc; a++) {
		size_t i = 0;

		while (i < nb && strcmp(argv[a], benches[i].name) != 0)
			i++;
		if (i == nb) {
			fprintf(stderr, "bench: unknown benchmark '%s' (engine, rmp, stage2, iommu, cpu, stack, pkvm)\n",
				argv[a]);
			return 2;
		}
	}
	printf("protsim benchmarks (one process; compare figures as ratios, machines are noisy)\n");
	for (size_t i = 0; i < nb; i++) {
		bool chosen = argc < 2;

		for (int a = 1; a < argc; a++)
			chosen |= strcmp(argv[a], benches[i].name) == 0;
		if (!chosen)
			continue;
		if (benches[i].fn)
			benches[i].fn();
		else
			printf("\n== %s: no benchmark linked\n", benches[i].name);
	}
	return 0;
}
