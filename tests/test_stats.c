/*
 * test_stats.c - the statistics registry: counters, formulas, histograms,
 * the text and JSON writers.
 *
 * Each test builds a bare struct sim holding only a registry, so that
 * stats registered by the engine cannot change the exact outputs.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim_int.h"

/* stats.c internals not (yet) in sim_int.h. */
size_t sim_stats_top(const struct sim *s, size_t max, const char **names, uint64_t *vals);

static struct sim bare;

static void bare_init(void)
{
	memset(&bare, 0, sizeof(bare));
	bare.stats = sim_stats_new();
}

static void bare_fini(void)
{
	sim_stats_free(bare.stats);
	bare.stats = NULL;
}

TestSuite(stats, .init = bare_init, .fini = bare_fini);

static char *text_of(const struct sim *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	sim_stats_write_text(s, f);
	fclose(f);
	return buf;
}

static json_t *json_of(const struct sim *s)
{
	char path[] = "/tmp/protsim-stats-XXXXXX";
	int fd = mkstemp(path);
	struct sim_err err = { "" };
	json_error_t jerr;
	json_t *root;

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(sim_stats_write_json(s, path, &err), 0, "%s", err.msg);
	root = json_load_file(path, 0, &jerr);
	cr_assert_not_null(root, "%s", jerr.text);
	unlink(path);
	return root;
}

/* ------------------------------------------------------------------ */

Test(stats, counter_is_read_live)
{
	uint64_t hits = 0, v = 99;

	sim_stat_counter(&bare, "tlb.l1.hit", &hits, "L1 TLB hits");
	cr_assert_eq(sim_stat_get(&bare, "tlb.l1.hit", &v), 0);
	cr_assert_eq(v, 0);
	hits += 41;
	hits++;
	cr_assert_eq(sim_stat_get(&bare, "tlb.l1.hit", &v), 0);
	cr_assert_eq(v, 42);
	v = 7;
	cr_assert_eq(sim_stat_get(&bare, "tlb.l1.miss", &v), -1, "absent");
	cr_assert_eq(v, 7, "untouched when absent");
}

Test(stats, get_is_for_counters_only)
{
	struct sim_hist h = { 0 };
	uint64_t a = 1, b = 2, v = 5;

	sim_stat_counter(&bare, "a", &a, "a");
	sim_stat_counter(&bare, "b", &b, "b");
	sim_stat_hist(&bare, "h", &h, "a histogram");
	sim_stat_formula(&bare, "f", "a", "b", 1.0, "a formula");
	cr_assert_eq(sim_stat_get(&bare, "h", &v), -1);
	cr_assert_eq(sim_stat_get(&bare, "f", &v), -1);
	cr_assert_eq(v, 5);
}

Test(stats, name_is_copied)
{
	uint64_t x = 3, v = 0;
	char name[16];

	strcpy(name, "rmp.x");
	sim_stat_counter(&bare, name, &x, "x");
	strcpy(name, "zzz.y");
	cr_assert_eq(sim_stat_get(&bare, "rmp.x", &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(sim_stat_get(&bare, "zzz.y", &v), -1);
}

Test(stats, duplicate_name_aborts, .signal = SIGABRT)
{
	uint64_t a = 0, b = 0;

	sim_stat_counter(&bare, "rmp.rmpupdate.ok", &a, "first");
	sim_stat_counter(&bare, "rmp.rmpupdate.ok", &b, "second");
}

Test(stats, duplicate_across_kinds_aborts, .signal = SIGABRT)
{
	uint64_t a = 0;
	struct sim_hist h = { 0 };

	sim_stat_counter(&bare, "x.lat", &a, "first");
	sim_stat_hist(&bare, "x.lat", &h, "second");
}

Test(stats, bad_name_aborts, .signal = SIGABRT)
{
	uint64_t a = 0;

	sim_stat_counter(&bare, "rmp..x", &a, "two dots");
}

Test(stats, formula_unknown_operand_aborts_when_printed, .signal = SIGABRT)
{
	uint64_t a = 0;
	char *t;

	sim_stat_counter(&bare, "a", &a, "a");
	sim_stat_formula(&bare, "f", "a", "nope", 1.0, "a / nope");
	t = text_of(&bare);
	free(t);
}

/* ------------------------------------------------------------------ */
/* Histograms                                                          */
/* ------------------------------------------------------------------ */

struct bucket_case {
	uint64_t v;
	unsigned bucket;
};

static struct bucket_case bucket_cases[] = {
	{ 0, 0 },
	{ 1, 1 },
	{ 2, 2 },
	{ 3, 2 },
	{ 4, 3 },
	{ 7, 3 },
	{ 8, 4 },
	{ 1023, 10 },
	{ 1024, 11 },
	{ (1ull << 45) - 1, 45 },
	{ 1ull << 45, 46 },
	{ (1ull << 46) - 1, 46 },
	{ 1ull << 46, 47 },          /* the last bucket saturates */
	{ 1ull << 63, 47 },
	{ UINT64_MAX, 47 },
};

ParameterizedTestParameters(stats, hist_bucket)
{
	return cr_make_param_array(struct bucket_case, bucket_cases,
				   sizeof(bucket_cases) / sizeof(bucket_cases[0]));
}

ParameterizedTest(struct bucket_case *c, stats, hist_bucket)
{
	struct sim_hist h;

	memset(&h, 0, sizeof(h));
	sim_hist_add(&h, c->v);
	for (unsigned i = 0; i < SIM_HIST_BUCKETS; i++)
		cr_assert_eq(h.bucket[i], i == c->bucket, "v=%llu bucket %u",
			     (unsigned long long)c->v, i);
	cr_assert_eq(h.count, 1);
	cr_assert_eq(h.sum, c->v);
	cr_assert_eq(h.min, c->v);
	cr_assert_eq(h.max, c->v);
}

Test(stats, hist_min_max_sum)
{
	struct sim_hist h;

	memset(&h, 0, sizeof(h));
	sim_hist_add(&h, 5);
	sim_hist_add(&h, 3);
	sim_hist_add(&h, 9);
	sim_hist_add(&h, 0);
	cr_assert_eq(h.count, 4);
	cr_assert_eq(h.sum, 17);
	cr_assert_eq(h.min, 0);
	cr_assert_eq(h.max, 9);
	cr_assert_eq(h.bucket[0], 1);
	cr_assert_eq(h.bucket[2], 1);
	cr_assert_eq(h.bucket[3], 1);
	cr_assert_eq(h.bucket[4], 1);
}

Test(stats, hist_sum_saturates)
{
	struct sim_hist h;

	memset(&h, 0, sizeof(h));
	sim_hist_add(&h, UINT64_MAX - 1);
	sim_hist_add(&h, 5);
	cr_assert_eq(h.sum, UINT64_MAX);
	cr_assert_eq(h.count, 2);
	cr_assert_eq(h.min, 5);
	cr_assert_eq(h.max, UINT64_MAX - 1);
}

/* ------------------------------------------------------------------ */
/* Text                                                                */
/* ------------------------------------------------------------------ */

Test(stats, text_format_exact)
{
	uint64_t hits = 90, miss = 10, walks = 0, zero = 0;
	struct sim_hist lat, empty;
	char *t;

	memset(&lat, 0, sizeof(lat));
	memset(&empty, 0, sizeof(empty));
	sim_hist_add(&lat, 0);
	sim_hist_add(&lat, 3);
	sim_hist_add(&lat, 1500);
	sim_hist_add(&lat, 1600);
	/* registered out of order: output is sorted */
	sim_stat_formula(&bare, "tlb.hit_rate", "tlb.hit", "tlb.access", 100.0, "hits per 100 accesses");
	sim_stat_counter(&bare, "tlb.miss", &miss, "misses");
	sim_stat_counter(&bare, "tlb.hit", &hits, "hits");
	sim_stat_counter(&bare, "tlb.access", &walks, "accesses");
	sim_stat_formula(&bare, "rmp.ratio", "tlb.hit", "tlb.miss", 1.0, "hits per miss");
	sim_stat_hist(&bare, "rmp.lat", &lat, "RMPUPDATE latency");
	sim_stat_hist(&bare, "rmp.empty", &empty, "never sampled");
	sim_stat_counter(&bare, "a.zero", &zero, "zero is printed");
	walks = hits + miss;

	t = text_of(&bare);
	cr_assert_str_eq(t,
		"a.zero              0  # zero is printed\n"
		"rmp.empty     count=0  # never sampled\n"
		"rmp.lat       count=4 sum=3103 min=0 max=1600 mean=775.7500  # RMPUPDATE latency\n"
		"                [        0] 1\n"
		"                [      2-3] 1\n"
		"                [1024-2047] 2\n"
		"rmp.ratio      9.0000  # hits per miss\n"
		"tlb.access        100  # accesses\n"
		"tlb.hit            90  # hits\n"
		"tlb.hit_rate  90.0000  # hits per 100 accesses\n"
		"tlb.miss           10  # misses\n");
	free(t);
}

Test(stats, text_zero_denominator_prints_dash)
{
	uint64_t n = 5, d = 0;
	char *t;

	sim_stat_counter(&bare, "n", &n, "numerator");
	sim_stat_counter(&bare, "d", &d, "denominator");
	sim_stat_formula(&bare, "r", "n", "d", 1.0, "n per d");
	t = text_of(&bare);
	cr_assert_str_eq(t,
		"d  0  # denominator\n"
		"n  5  # numerator\n"
		"r  -  # n per d\n");
	free(t);
	d = 2;
	t = text_of(&bare);
	cr_assert_str_eq(t,
		"d       2  # denominator\n"
		"n       5  # numerator\n"
		"r  2.5000  # n per d\n");
	free(t);
}

Test(stats, text_empty_registry)
{
	char *t = text_of(&bare);

	cr_assert_str_eq(t, "");
	free(t);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

Test(stats, json_round_trip)
{
	uint64_t hits = 3, acc = 4, none = 0, big = (1ull << 63) + 2;
	struct sim_hist h, e;
	json_t *root, *o, *bk;

	memset(&h, 0, sizeof(h));
	memset(&e, 0, sizeof(e));
	sim_hist_add(&h, 0);
	sim_hist_add(&h, 1);
	sim_hist_add(&h, 6);
	sim_hist_add(&h, 7);
	sim_hist_add(&h, 1ull << 50);
	sim_stat_counter(&bare, "c.hits", &hits, "hits");
	sim_stat_counter(&bare, "c.acc", &acc, "accesses");
	sim_stat_counter(&bare, "c.none", &none, "zero");
	sim_stat_counter(&bare, "c.big", &big, "past 2^63");
	sim_stat_formula(&bare, "c.rate", "c.hits", "c.acc", 2.0, "twice the hit ratio");
	sim_stat_formula(&bare, "c.undef", "c.hits", "c.none", 1.0, "0 denominator");
	sim_stat_hist(&bare, "c.lat", &h, "latency");
	sim_stat_hist(&bare, "c.empty", &e, "empty");

	root = json_of(&bare);
	cr_assert_eq(json_object_size(root), 8);
	cr_assert_eq(json_integer_value(json_object_get(root, "c.hits")), 3);
	cr_assert(json_is_integer(json_object_get(root, "c.none")));
	cr_assert_eq(json_integer_value(json_object_get(root, "c.none")), 0);
	cr_assert(json_is_real(json_object_get(root, "c.big")), "past 2^63: a real");
	/* reals are written with 15 significant digits */
	cr_assert_float_eq(json_real_value(json_object_get(root, "c.big")), 9223372036854775808.0,
			   1e4);
	cr_assert_float_eq(json_real_value(json_object_get(root, "c.rate")), 1.5, 1e-12);
	cr_assert(json_is_null(json_object_get(root, "c.undef")));

	o = json_object_get(root, "c.lat");
	cr_assert(json_is_object(o));
	cr_assert_eq(json_object_size(o), 6);
	cr_assert_eq(json_integer_value(json_object_get(o, "count")), 5);
	cr_assert_eq(json_integer_value(json_object_get(o, "sum")), (json_int_t)((1ull << 50) + 14));
	cr_assert_eq(json_integer_value(json_object_get(o, "min")), 0);
	cr_assert_eq(json_integer_value(json_object_get(o, "max")), (json_int_t)(1ull << 50));
	cr_assert_float_eq(json_real_value(json_object_get(o, "mean")),
			   ((double)(1ull << 50) + 14) / 5, 1.0);
	bk = json_object_get(o, "buckets");
	cr_assert_eq(json_object_size(bk), 4);
	cr_assert_eq(json_integer_value(json_object_get(bk, "0")), 1);
	cr_assert_eq(json_integer_value(json_object_get(bk, "1-1")), 1);
	cr_assert_eq(json_integer_value(json_object_get(bk, "4-7")), 2);
	cr_assert_eq(json_integer_value(json_object_get(bk, "70368744177664+")), 1);

	o = json_object_get(root, "c.empty");
	cr_assert_eq(json_integer_value(json_object_get(o, "count")), 0);
	cr_assert_eq(json_integer_value(json_object_get(o, "sum")), 0);
	cr_assert(json_is_null(json_object_get(o, "min")));
	cr_assert(json_is_null(json_object_get(o, "max")));
	cr_assert(json_is_null(json_object_get(o, "mean")));
	cr_assert_eq(json_object_size(json_object_get(o, "buckets")), 0);
	json_decref(root);
}

Test(stats, json_file_is_sorted_and_ends_with_newline)
{
	uint64_t a = 1, b = 2;
	char path[] = "/tmp/protsim-stats-XXXXXX";
	int fd = mkstemp(path);
	struct sim_err err;
	char buf[256];
	ssize_t n;

	close(fd);
	sim_stat_counter(&bare, "z.b", &b, "b");
	sim_stat_counter(&bare, "a.a", &a, "a");
	cr_assert_eq(sim_stats_write_json(&bare, path, &err), 0);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	cr_assert_str_eq(buf, "{\n  \"a.a\": 1,\n  \"z.b\": 2\n}\n");
}

Test(stats, json_write_error_names_the_file)
{
	struct sim_err err;

	cr_assert_eq(sim_stats_write_json(&bare, "/nonexistent/dir/stats.json", &err), -1);
	cr_assert_str_eq(err.msg, "/nonexistent/dir/stats.json: cannot write: No such file or directory");
}

/* The registry as sim_new() makes it, freed by sim_free(). */
Test(stats, registry_in_a_real_sim)
{
	struct sim *s = sim_new(NULL);
	uint64_t x = 11, v = 0;

	sim_stat_counter(s, "test.x", &x, "x");
	cr_assert_eq(sim_stat_get(s, "test.x", &v), 0);
	cr_assert_eq(v, 11);
	sim_free(s);
}

Test(stats, top_counters_for_the_summary)
{
	uint64_t a = 5, b = 0, c = 9, d = 5, e = 1;
	struct sim_hist h = { .count = 100 };
	const char *names[3];
	uint64_t vals[3];

	sim_stat_counter(&bare, "e", &e, "e");
	sim_stat_counter(&bare, "d", &d, "d");
	sim_stat_counter(&bare, "c", &c, "c");
	sim_stat_counter(&bare, "b", &b, "b");
	sim_stat_counter(&bare, "a", &a, "a");
	sim_stat_hist(&bare, "h", &h, "not a counter");
	sim_stat_formula(&bare, "f", "c", "e", 1000.0, "not a counter");
	cr_assert_eq(sim_stats_top(&bare, 3, names, vals), 3);
	cr_assert_str_eq(names[0], "c");
	cr_assert_eq(vals[0], 9);
	cr_assert_str_eq(names[1], "a", "ties in name order");
	cr_assert_eq(vals[1], 5);
	cr_assert_str_eq(names[2], "d");
	cr_assert_eq(vals[2], 5);
	cr_assert_eq(sim_stats_top(&bare, 1, names, vals), 1);
	cr_assert_str_eq(names[0], "c");
	b = 0;
	a = c = d = e = 0;
	cr_assert_eq(sim_stats_top(&bare, 3, names, vals), 0, "zeros are not listed");
}

/* ------------------------------------------------------------------ */
/* Groups: statistics of objects created and destroyed at run time     */
/* ------------------------------------------------------------------ */

struct fake_vm {
	uint64_t npf;
	uint64_t hlt;
	struct sim_hist exit_lat;
};

static const struct sim_stat_desc fake_vm_stats[] = {
	{ "exits.npf", SIM_STAT_COUNTER, offsetof(struct fake_vm, npf), "nested page faults" },
	{ "exits.hlt", SIM_STAT_COUNTER, offsetof(struct fake_vm, hlt), "HLT exits" },
	{ "exit_lat", SIM_STAT_HIST, offsetof(struct fake_vm, exit_lat), "exit handling cycles" },
	{ NULL, 0, 0, NULL },
};

Test(stats, group_two_owners_do_not_collide)
{
	struct fake_vm *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct sim_stat_group *ga, *gb;
	uint64_t v;

	cr_assert(!sim_stat_has_prefix(&bare, "vm0"));
	ga = sim_stat_group_add(&bare, "vm0", fake_vm_stats, a);
	gb = sim_stat_group_add(&bare, "vm1", fake_vm_stats, b);
	cr_assert(sim_stat_has_prefix(&bare, "vm0"));
	cr_assert(sim_stat_has_prefix(&bare, "vm1.exits"));
	cr_assert(!sim_stat_has_prefix(&bare, "vm"), "a prefix is a whole word");
	cr_assert(!sim_stat_has_prefix(&bare, "vm10"));
	a->npf = 3;
	b->npf = 7;
	b->hlt = 1;
	cr_assert_eq(sim_stat_get(&bare, "vm0.exits.npf", &v), 0);
	cr_assert_eq(v, 3, "read live");
	cr_assert_eq(sim_stat_get(&bare, "vm1.exits.npf", &v), 0);
	cr_assert_eq(v, 7);
	sim_stat_group_remove(&bare, ga);
	sim_stat_group_remove(&bare, gb);
	free(a);
	free(b);
}

Test(stats, group_removed_keeps_final_values)
{
	struct fake_vm *a = calloc(1, sizeof(*a));
	struct sim_stat_group *g = sim_stat_group_add(&bare, "vm2", fake_vm_stats, a);
	char *t;

	a->npf = 5;
	a->hlt = 2;
	sim_hist_add(&a->exit_lat, 100);
	sim_stat_group_remove(&bare, g);
	/* The owner is gone (and its memory reused): the files keep 5, 2, 100. */
	memset(a, 0xff, sizeof(*a));
	free(a);
	t = text_of(&bare);
	cr_assert_str_eq(t,
		"vm2.exit_lat   count=1 sum=100 min=100 max=100 mean=100.0000  # exit handling cycles\n"
		"                 [64-127] 1\n"
		"vm2.exits.hlt  2  # HLT exits\n"
		"vm2.exits.npf  5  # nested page faults\n");
	free(t);
	cr_assert(sim_stat_has_prefix(&bare, "vm2"), "the name stays taken for the run");
}

Test(stats, group_same_prefix_twice_aborts, .signal = SIGABRT)
{
	static struct fake_vm a, b;

	sim_stat_group_add(&bare, "vm0", fake_vm_stats, &a);
	sim_stat_group_add(&bare, "vm0", fake_vm_stats, &b);
}
