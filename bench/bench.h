/*
 * bench.h - the benchmark driver's helpers.  Each bench/bench_<mod>.c
 * defines `void bench_<mod>(void)`; bench.c calls those that are linked
 * (weak references), in a fixed order, so all figures come from one run
 * on one machine and can be compared as ratios.
 */
#ifndef PROTSIM_BENCH_H
#define PROTSIM_BENCH_H

#include <stdint.h>

/* Monotonic wall time in ns (benchmarks only; never in simulation output). */
uint64_t bench_now_ns(void);

/*
 * Print one figure: "name  rate unit/s  (count in seconds)".  @count
 * operations took @ns nanoseconds.  Returns the rate per second.
 */
double bench_report(const char *name, double count, uint64_t ns, const char *unit);

/*
 * Print one figure measured @n times: "name  median unit/s  (min-max)".
 * @rate holds the @n rates per second (reordered).  Returns the median
 * (the mean of the two middle values when @n is even; 0 when @n is 0).
 */
double bench_report_runs(const char *name, double *rate, unsigned n, const char *unit);

/* Print a ratio line "name  x.xx  (a / b)". */
void bench_ratio(const char *name, double a, double b);

/* Print a section heading. */
void bench_section(const char *title);

/* Keep the optimiser from deleting a computed value. */
void bench_sink(uint64_t v);

/* Module benchmarks (weak: a module without one is skipped). */
void bench_engine(void);
void bench_rmp(void);
void bench_s2(void);
void bench_iommu(void);
void bench_cpu(void);
void bench_stack(void);
void bench_pkvm(void);

#endif
