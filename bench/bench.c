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

/*
 * BENCH_OUT=DIR (`make bench` sets it): every figure also as a CSV row,
 * for `make plots` (docs/sweeps.md "Plots").  DIR/bench.csv has them all,
 * "section,figure,value,unit,lo,hi,runs"; DIR/NN-SECTION-UNIT.csv the
 * figures of one section in one unit, "figure,UNIT,lo,hi,runs" (NN: the
 * section's number in this run), so each file is one plot.  Values are
 * per second for rates, unscaled; a ratio's unit is "x"; lo and hi are
 * empty for a single measurement.
 */
#define CSV_FILES 16
static const char *csv_dir;
static FILE *csv, *csv_unit[CSV_FILES];
static char csv_unit_name[CSV_FILES][32];
static char csv_section[128];
static unsigned csv_nsection;
static bool csv_failed;

/* A CSV field: quoted when it holds a comma or a quote ("" for a quote). */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		if (*s != '\n')
			fputc(*s, f);
	}
	fputc('"', f);
}

/* @s as a file-name part: lower-case letters and digits, '-' between words, at most @n bytes. */
static void slug(char *out, size_t n, const char *s)
{
	size_t k = 0;

	for (; *s && k + 1 < n; s++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[k++] = c;
		else if (k && out[k - 1] != '-')
			out[k++] = '-';
	}
	while (k && out[k - 1] == '-')
		k--;
	out[k] = 0;
}

static void csv_close_units(void)
{
	for (unsigned i = 0; i < CSV_FILES; i++) {
		if (csv_unit[i] && fclose(csv_unit[i]))
			csv_failed = true;
		csv_unit[i] = NULL;
		csv_unit_name[i][0] = 0;
	}
}

/* The open file of this section's figures in @unit (opened on first use). */
static FILE *csv_for_unit(const char *unit)
{
	char path[512], sec[48], u[32];
	unsigned i;

	for (i = 0; i < CSV_FILES && csv_unit[i]; i++)
		if (!strcmp(csv_unit_name[i], unit))
			return csv_unit[i];
	if (i == CSV_FILES)
		return NULL;
	slug(sec, sizeof(sec), csv_section);
	slug(u, sizeof(u), strcmp(unit, "x") ? unit : "ratio");
	snprintf(path, sizeof(path), "%s/%02u-%s-%s.csv", csv_dir, csv_nsection, sec, u);
	csv_unit[i] = fopen(path, "w");
	if (!csv_unit[i]) {
		fprintf(stderr, "bench: %s: cannot write\n", path);
		csv_failed = true;
		return NULL;
	}
	snprintf(csv_unit_name[i], sizeof(csv_unit_name[i]), "%s", unit);
	fprintf(csv_unit[i], "figure,");
	csv_field(csv_unit[i], strcmp(unit, "x") ? unit : "ratio (x)");
	fprintf(csv_unit[i], ",lo,hi,runs\n");
	return csv_unit[i];
}

static void csv_row(const char *name, double value, const char *unit, const double *lo,
		    const double *hi, unsigned runs)
{
	FILE *f[2];

	if (!csv)
		return;
	csv_field(csv, csv_section);
	fputc(',', csv);
	f[0] = csv;
	f[1] = csv_for_unit(unit);
	for (int k = 0; k < 2; k++) {
		if (!f[k])
			continue;
		csv_field(f[k], name);
		fprintf(f[k], ",%.6g,", value);
		if (!k) {
			csv_field(f[k], unit);
			fputc(',', f[k]);
		}
		if (lo && hi)
			fprintf(f[k], "%.6g,%.6g,%u\n", *lo, *hi, runs);
		else
			fprintf(f[k], ",,%u\n", runs);
	}
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
	{
		char u[64];

		snprintf(u, sizeof(u), "%s/s", unit);
		csv_row(name, rate, u, NULL, NULL, 1);
	}
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
		char u[64];

		snprintf(u, sizeof(u), "%s/s", unit);
		csv_row(name, med, u, &lo, &hi, n);
	}
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
	if (b > 0) {
		printf("  %-44s %9.2fx\n", name, a / b);
		csv_row(name, a / b, "x", NULL, NULL, 1);
	} else
		printf("  %-44s %9s\n", name, "-");
	fflush(stdout);
}

void bench_section(const char *title)
{
	printf("\n== %s\n", title);
	fflush(stdout);
	csv_close_units();
	snprintf(csv_section, sizeof(csv_section), "%s", title);
	csv_nsection++;
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
	csv_dir = getenv("BENCH_OUT");
	if (csv_dir && *csv_dir) {
		char path[512];

		snprintf(path, sizeof(path), "%s/bench.csv", csv_dir);
		csv = fopen(path, "w");
		if (!csv) {
			fprintf(stderr, "bench: %s: cannot write (BENCH_OUT must be a directory)\n", path);
			return 2;
		}
		fprintf(csv, "section,figure,value,unit,lo,hi,runs\n");
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
	csv_close_units();
	if (csv && (fclose(csv) || csv_failed)) {
		fprintf(stderr, "bench: %s: a CSV file could not be written\n", csv_dir);
		return 2;
	}
	return 0;
}
