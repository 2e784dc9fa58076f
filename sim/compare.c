/*
 * compare.c - `protsim compare DIR_A DIR_B`: what differs between two
 * runs' output sets (docs/outputs.md): the configuration keys first, then
 * the statistics, each with its values, the absolute and the relative
 * change, sorted by the size of the relative change (largest first; a
 * statistic present in one run only comes first).  Histograms are
 * compared by their count, sum and mean.  Deterministic: ties are broken
 * by name.
 */
#include "sim/sim_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct diff {
	char *name;
	char *a, *b;        /* the values as text ("-" when absent) */
	double rel;         /* |b - a| / |a|; INFINITY when a is 0 or absent */
	double abs;         /* b - a */
};

static json_t *load(const char *dir, const char *file, struct sim_err *err)
{
	char *path = sim_xprintf("%s/%s", dir, file);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);

	if (!j && je.line > 0)
		sim_err_set(err, "%s:%d: %s", path, je.line, je.text);
	else if (!j)
		sim_err_set(err, "%s: cannot read: not a protsim output directory? (%s)", path, je.text);
	else if (!json_is_object(j)) {
		sim_err_set(err, "%s: not a JSON object: not an output of protsim", path);
		json_decref(j);
		j = NULL;
	}
	free(path);
	return j;
}

/* A value as text and, when it is a number (a histogram: its mean), as a double. */
static char *val_text(json_t *v, double *num, bool *is_num)
{
	*is_num = false;
	if (!v)
		return sim_xstrdup("-");
	if (json_is_object(v)) {   /* a histogram */
		json_t *c = json_object_get(v, "count"), *m = json_object_get(v, "mean");

		*is_num = json_is_number(m);
		*num = *is_num ? json_number_value(m) : 0;
		if (!*is_num)
			return sim_xprintf("count=%lld mean=-", (long long)json_integer_value(c));
		return sim_xprintf("count=%lld mean=%.4f", (long long)json_integer_value(c), *num);
	}
	if (json_is_integer(v)) {
		*is_num = true;
		*num = (double)json_integer_value(v);
		return sim_xprintf("%lld", (long long)json_integer_value(v));
	}
	if (json_is_real(v)) {
		*is_num = true;
		*num = json_real_value(v);
		return sim_xprintf("%.6g", *num);
	}
	if (json_is_null(v))
		return sim_xstrdup("null");
	if (json_is_string(v))
		return sim_xstrdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int cmp_diff(const void *x, const void *y)
{
	const struct diff *a = x, *b = y;

	if (a->rel != b->rel)
		return a->rel < b->rel ? 1 : -1;
	return strcmp(a->name, b->name);
}

/* The differing members of objects @a and @b, into *@out (sorted by name first). */
static size_t differences(json_t *a, json_t *b, struct diff **out)
{
	size_t n = 0, cap = 0;
	const char *k;
	json_t *v;

	*out = NULL;
	for (int side = 0; side < 2; side++) {
		json_t *obj = side ? b : a, *other = side ? a : b;

		json_object_foreach(obj, k, v) {
			json_t *w = json_object_get(other, k);
			json_t *va = side ? w : v, *vb = side ? v : w;
			double na = 0, nb = 0;
			bool ia, ib;

			if (side && w)
				continue;   /* seen from a's side */
			if (w && json_equal(v, w))
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				*out = sim_xrealloc(*out, cap * sizeof(**out));
			}
			(*out)[n].name = sim_xstrdup(k);
			(*out)[n].a = val_text(va, &na, &ia);
			(*out)[n].b = val_text(vb, &nb, &ib);
			(*out)[n].abs = ia && ib ? nb - na : 0;
			(*out)[n].rel = ia && ib && na != 0 ? fabs(nb - na) / fabs(na) : INFINITY;
			n++;
		}
	}
	qsort(*out, n, sizeof(**out), cmp_diff);
	return n;
}

static void print_diffs(FILE *f, const char *title, struct diff *d, size_t n, bool numbers)
{
	int w = 4;

	fprintf(f, "%s: %zu differ\n", title, n);
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(d[i].name) > w)
			w = (int)strlen(d[i].name);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %-*s  %s -> %s", w, d[i].name, d[i].a, d[i].b);
		if (numbers && isfinite(d[i].rel))
			fprintf(f, "  (%+.6g, %+.2f%%)", d[i].abs,
				100.0 * (d[i].abs < 0 ? -d[i].rel : d[i].rel));
		else if (numbers && strcmp(d[i].a, "-") && strcmp(d[i].b, "-"))
			fprintf(f, "  (%+.6g)", d[i].abs);
		fputc('\n', f);
	}
}

static void free_diffs(struct diff *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].a);
		free(d[i].b);
	}
	free(d);
}

int sim_compare(const char *dir_a, const char *dir_b, FILE *out, struct sim_err *err)
{
	json_t *ca = NULL, *cb = NULL, *sa = NULL, *sb = NULL;
	struct diff *d;
	size_t n, total = 0;
	int rc = -1;

	if (!(ca = load(dir_a, "config.json", err)) || !(cb = load(dir_b, "config.json", err)) ||
	    !(sa = load(dir_a, "stats.json", err)) || !(sb = load(dir_b, "stats.json", err)))
		goto out;
	fprintf(out, "compare %s -> %s\n", dir_a, dir_b);
	n = differences(ca, cb, &d);
	print_diffs(out, "configuration", d, n, false);
	total += n;
	free_diffs(d, n);
	n = differences(sa, sb, &d);
	print_diffs(out, "statistics", d, n, true);
	total += n;
	free_diffs(d, n);
	rc = total ? 1 : 0;
out:
	json_decref(ca);
	json_decref(cb);
	json_decref(sa);
	json_decref(sb);
	return rc;
}
