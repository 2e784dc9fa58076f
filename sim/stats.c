/*
 * stats.c - the statistics registry and its text and JSON writers.
 *
 * Models own their counters (one counters struct per model) and only
 * increment them; the registry keeps a pointer, a dotted name and a
 * description, and reads the value when printing.  Derived rates are
 * formulas over two counters.  Output is always sorted by name.
 *
 * Region of interest (sim_stats_roi): every counter's value is kept as a
 * base that stat_read(), the one place a counter is read, subtracts from
 * then on; histograms are emptied in place.
 */
#include "sim/sim_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>



enum stat_kind {
	STAT_COUNTER,   /* a uint64_t owned by a model */
	STAT_HIST,      /* a struct sim_hist owned by a model */
	STAT_FORMULA,   /* num / den * scale, two counters by name */
};

struct stat_ent {
	char *name;                 /* dotted, copied */
	enum stat_kind kind;        /* which of the members below is used */
	const uint64_t *val;        /* STAT_COUNTER */
	const struct sim_hist *h;   /* STAT_HIST */
	char *num;                  /* STAT_FORMULA: numerator counter */
	char *den;                  /* STAT_FORMULA: denominator counter */
	double scale;               /* STAT_FORMULA: multiplier */
	uint64_t (*fn)(const struct sim *s);   /* STAT_COUNTER read by a function (sim_stat_fn) */
	const struct sim *sim;      /* ... of this machine */
	bool owned;                 /* a histogram the registry owns (sim_stat_hist_owned) */
	uint64_t base;              /* STAT_COUNTER: its value at the start of the ROI */
	bool clock;                 /* a clock: the ROI's base is the ROI's cycle */
	char *desc;                 /* one line, copied */
	/* Kept values of a removed group's entry (val / h point here then). */
	uint64_t kept;
	struct sim_hist *kept_h;
};

/* The entries of one run-time object (see sim_stat_group_add). */
struct sim_stat_group {
	struct stat_ent **ent;      /* its entries, in table order */
	size_t n;
};

struct sim_stats {
	unsigned roi_count;         /* sim_stats_roi() calls so far */
	struct stat_ent **ent;      /* sorted by name */
	size_t n;                   /* entries in use */
	size_t cap;                 /* entries allocated */
};

struct sim_stats *sim_stats_new(void)
{
	struct sim_stats *st = sim_xrealloc(NULL, sizeof(*st));

	memset(st, 0, sizeof(*st));
	return st;
}

void sim_stats_free(struct sim_stats *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->ent[i]->name);
		free(st->ent[i]->num);
		free(st->ent[i]->den);
		free(st->ent[i]->desc);
		free(st->ent[i]->kept_h);
		free(st->ent[i]);
	}
	free(st->ent);
	free(st);
}

/* Index of @name, or -(insertion point) - 1. */
static ptrdiff_t stat_find(const struct sim_stats *st, const char *name)
{
	size_t lo = 0, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(st->ent[mid]->name, name);

		if (d == 0)
			return (ptrdiff_t)mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ptrdiff_t)lo - 1;
}

/* A dotted name: words of [A-Za-z0-9_-] separated by single dots. */
static bool stat_name_ok(const char *p)
{
	bool word = false;

	for (; *p; p++) {
		if (*p == '.') {
			if (!word)
				return false;
			word = false;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-') {
			word = true;
		} else {
			return false;
		}
	}
	return word;
}

static struct stat_ent *stat_add(struct sim *s, const char *name, enum stat_kind kind,
				 const char *desc)
{
	struct sim_stats *st = s->stats;
	struct stat_ent *e;
	ptrdiff_t at;
	size_t pos;

	if (!name || !stat_name_ok(name))
		sim_fatal("stats: bad statistic name '%s'", name ? name : "(null)");
	at = stat_find(st, name);
	if (at >= 0)
		sim_fatal("stats: '%s' registered twice", name);
	pos = (size_t)(-at - 1);
	if (st->n == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 64;
		st->ent = sim_xrealloc(st->ent, st->cap * sizeof(*st->ent));
	}
	memmove(&st->ent[pos + 1], &st->ent[pos], (st->n - pos) * sizeof(*st->ent));
	e = sim_xrealloc(NULL, sizeof(*e));
	memset(e, 0, sizeof(*e));
	e->name = sim_xstrdup(name);
	e->kind = kind;
	e->desc = sim_xstrdup(desc ? desc : "");
	st->ent[pos] = e;
	st->n++;
	return e;
}

void sim_stat_counter(struct sim *s, const char *name, const uint64_t *val, const char *desc)
{
	if (!val)
		sim_fatal("stats: counter '%s' has no storage", name ? name : "(null)");
	stat_add(s, name, STAT_COUNTER, desc)->val = val;
}

void sim_stat_hist(struct sim *s, const char *name, const struct sim_hist *h, const char *desc)
{
	if (!h)
		sim_fatal("stats: histogram '%s' has no storage", name ? name : "(null)");
	stat_add(s, name, STAT_HIST, desc)->h = h;
}

void sim_stat_fn(struct sim *s, const char *name, uint64_t (*fn)(const struct sim *s),
		 const char *desc)
{
	struct stat_ent *e = stat_add(s, name, STAT_COUNTER, desc);

	e->fn = fn;
	e->sim = s;
	e->clock = true;   /* sim.cycles is the only one so far */
}

struct sim_hist *sim_stat_hist_owned(struct sim *s, const char *name, const char *desc)
{
	ptrdiff_t at = stat_find(s->stats, name);
	struct stat_ent *e;

	if (at >= 0) {
		e = s->stats->ent[at];
		if (!e->owned)
			sim_fatal("stats: '%s' registered twice", name);
		return e->kept_h;
	}
	e = stat_add(s, name, STAT_HIST, desc);
	e->kept_h = sim_xrealloc(NULL, sizeof(*e->kept_h));
	memset(e->kept_h, 0, sizeof(*e->kept_h));
	e->h = e->kept_h;
	e->owned = true;
	return e->kept_h;
}

/*
 * The operands are looked up when printing, so a formula may be
 * registered before its counters (modules attach in order).
 */
void sim_stat_formula(struct sim *s, const char *name, const char *num, const char *den,
		      double scale, const char *desc)
{
	struct stat_ent *e;

	if (!num || !den)
		sim_fatal("stats: formula '%s' lacks an operand", name ? name : "(null)");
	e = stat_add(s, name, STAT_FORMULA, desc);
	e->num = sim_xstrdup(num);
	e->den = sim_xstrdup(den);
	e->scale = scale;
}

bool sim_stat_has_prefix(const struct sim *s, const char *prefix)
{
	const struct sim_stats *st = s->stats;
	size_t n = strlen(prefix);
	ptrdiff_t at = stat_find(st, prefix);
	size_t i = at >= 0 ? (size_t)at : (size_t)(-at - 1);

	/* Names sort after their prefix; "vm1" < "vm1.x" < "vm10". */
	for (; i < st->n && strncmp(st->ent[i]->name, prefix, n) == 0; i++)
		if (st->ent[i]->name[n] == '.' || st->ent[i]->name[n] == '\0')
			return true;
	return false;
}

struct sim_stat_group *sim_stat_group_add(struct sim *s, const char *prefix,
					  const struct sim_stat_desc *tab, const void *base)
{
	struct sim_stat_group *g = sim_xcalloc(1, sizeof(*g));
	const char *b = base;
	size_t n = 0;

	while (tab[n].name)
		n++;
	g->ent = sim_xcalloc(n ? n : 1, sizeof(*g->ent));
	for (size_t i = 0; i < n; i++) {
		char *name = sim_xprintf("%s.%s", prefix, tab[i].name);

		switch (tab[i].type) {
		case SIM_STAT_COUNTER:
		case SIM_STAT_CLOCK:
			g->ent[i] = stat_add(s, name, STAT_COUNTER, tab[i].desc);
			g->ent[i]->val = (const uint64_t *)(const void *)(b + tab[i].offset);
			g->ent[i]->clock = tab[i].type == SIM_STAT_CLOCK;
			break;
		case SIM_STAT_HIST:
			g->ent[i] = stat_add(s, name, STAT_HIST, tab[i].desc);
			g->ent[i]->h = (const struct sim_hist *)(const void *)(b + tab[i].offset);
			break;
		default:
			sim_fatal("stats: '%s': bad statistic type %d", name, (int)tab[i].type);
		}
		free(name);
	}
	g->n = n;
	return g;
}

/*
 * The owner goes away: each entry keeps its final value in storage of
 * its own, so the output files still show it.
 */
void sim_stat_group_remove(struct sim *s, struct sim_stat_group *g)
{
	(void)s;
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		struct stat_ent *e = g->ent[i];

		if (e->kind == STAT_COUNTER) {
			e->kept = *e->val;   /* the base still applies to the kept value */
			e->val = &e->kept;
		} else {
			e->kept_h = sim_xrealloc(NULL, sizeof(*e->kept_h));
			*e->kept_h = *e->h;
			e->h = e->kept_h;
		}
	}
	free(g->ent);
	free(g);
}

/* The one place a counter is read (a warm-up snapshot would subtract here). */
static uint64_t stat_read(const struct stat_ent *e)
{
	return (e->fn ? e->fn(e->sim) : *e->val) - e->base;
}

void sim_stats_roi(struct sim *s, uint64_t cycle)
{
	struct sim_stats *st = s->stats;

	for (size_t i = 0; i < st->n; i++) {
		struct stat_ent *e = st->ent[i];
		uint64_t v = e->fn ? e->fn(e->sim) : (e->val ? *e->val : 0);

		if (e->kind == STAT_COUNTER && e->clock)
			e->base = v < cycle ? v : cycle;
		else if (e->kind == STAT_COUNTER)
			e->base = v;
		else if (e->kind == STAT_HIST)
			memset((struct sim_hist *)(uintptr_t)e->h, 0, sizeof(*e->h));
	}
	st->roi_count++;
}

/* The one place a histogram is read (see stat_read). */
static const struct sim_hist *stat_hist(const struct stat_ent *e)
{
	return e->h;
}

int sim_stat_get(const struct sim *s, const char *name, uint64_t *out)
{
	ptrdiff_t at = stat_find(s->stats, name);

	if (at < 0 || s->stats->ent[at]->kind != STAT_COUNTER)
		return -1;
	*out = stat_read(s->stats->ent[at]);
	return 0;
}

size_t sim_stats_top(const struct sim *s, size_t max, const char **names, uint64_t *vals)
{
	const struct sim_stats *st = s->stats;
	size_t n = 0;

	/* Walking in name order and keeping strict '>' makes ties name-ordered. */
	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];
		uint64_t v;
		size_t at;

		if (e->kind != STAT_COUNTER || (v = stat_read(e)) == 0)
			continue;
		for (at = n; at > 0 && v > vals[at - 1]; at--)
			;
		if (at >= max)
			continue;
		if (n < max)
			n++;
		for (size_t j = n - 1; j > at; j--) {
			names[j] = names[j - 1];
			vals[j] = vals[j - 1];
		}
		names[at] = e->name;
		vals[at] = v;
	}
	return n;
}

/* A formula's value; false when the denominator is 0 (printed "-" / null). */
static bool stat_formula(const struct sim *s, const struct stat_ent *e, double *out)
{
	uint64_t n, d;

	if (sim_stat_get(s, e->num, &n))
		sim_fatal("stats: formula '%s': '%s' is not a registered counter", e->name, e->num);
	if (sim_stat_get(s, e->den, &d))
		sim_fatal("stats: formula '%s': '%s' is not a registered counter", e->name, e->den);
	if (d == 0)
		return false;
	*out = (double)n / (double)d * e->scale;
	return true;
}

void sim_hist_add(struct sim_hist *h, uint64_t v)
{
	unsigned b = 0;

	if (v) {
		b = 64u - (unsigned)__builtin_clzll(v);   /* [2^(b-1), 2^b) */
		if (b >= SIM_HIST_BUCKETS)
			b = SIM_HIST_BUCKETS - 1;
	}
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (h->count == 0 || v > h->max)
		h->max = v;
	h->count++;
	h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;   /* saturate */
	h->bucket[b]++;
}

/* Bucket label: "0", "1-1", "2-3", ..., and "2^46+" spelled out for the last. */
static const char *stat_bucket_label(unsigned b, char buf[48])
{
	if (b == 0)
		snprintf(buf, 48, "0");
	else if (b == SIM_HIST_BUCKETS - 1)
		snprintf(buf, 48, "%llu+", 1ull << (b - 1));
	else
		snprintf(buf, 48, "%llu-%llu", 1ull << (b - 1), (1ull << b) - 1);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Text                                                                */
/* ------------------------------------------------------------------ */

/* A counter's or formula's value column. */
static const char *stat_text_value(const struct sim *s, const struct stat_ent *e,
				   char buf[64])
{
	double v;

	if (e->kind == STAT_COUNTER)
		snprintf(buf, 64, "%llu", (unsigned long long)stat_read(e));
	else if (stat_formula(s, e, &v))
		snprintf(buf, 64, "%.4f", v);
	else
		snprintf(buf, 64, "-");
	return buf;
}

/* Is @name PREFIX or PREFIX.something (any name when @prefix is NULL)? */
static bool stat_under(const char *name, const char *prefix)
{
	size_t l = prefix ? strlen(prefix) : 0;

	return !prefix || (strncmp(name, prefix, l) == 0 && (name[l] == '\0' || name[l] == '.'));
}

/*
 * name  value  # description
 * Histograms: a summary line in the same columns, then one indented line
 * per non-empty bucket.
 */
void sim_stats_write_text(const struct sim *s, FILE *out)
{
	sim_stats_write_text_prefix(s, out, NULL);
}

size_t sim_stats_write_text_prefix(const struct sim *s, FILE *out, const char *prefix)
{
	const struct sim_stats *st = s->stats;
	int wn = 0, wv = 0;
	char buf[64], lab[48];
	size_t shown = 0;

	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];
		int n = (int)strlen(e->name);

		if (!stat_under(e->name, prefix))
			continue;
		if (n > wn)
			wn = n;
		if (e->kind != STAT_HIST) {
			n = (int)strlen(stat_text_value(s, e, buf));
			if (n > wv)
				wv = n;
		}
	}
	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];

		if (!stat_under(e->name, prefix))
			continue;
		shown++;
		if (e->kind != STAT_HIST) {
			fprintf(out, "%-*s  %*s  # %s\n", wn, e->name, wv, stat_text_value(s, e, buf),
				e->desc);
			continue;
		}
		{
			const struct sim_hist *h = stat_hist(e);
			int bw = 0;

			if (h->count)
				fprintf(out, "%-*s  count=%llu sum=%llu min=%llu max=%llu mean=%.4f  # %s\n",
					wn, e->name, (unsigned long long)h->count,
					(unsigned long long)h->sum, (unsigned long long)h->min,
					(unsigned long long)h->max, (double)h->sum / (double)h->count,
					e->desc);
			else
				fprintf(out, "%-*s  count=0  # %s\n", wn, e->name, e->desc);
			for (unsigned b = 0; b < SIM_HIST_BUCKETS; b++) {
				int n = (int)strlen(stat_bucket_label(b, lab));

				if (h->bucket[b] && n > bw)
					bw = n;
			}
			for (unsigned b = 0; b < SIM_HIST_BUCKETS; b++)
				if (h->bucket[b])
					fprintf(out, "%-*s    [%*s] %llu\n", wn, "", bw,
						stat_bucket_label(b, lab),
						(unsigned long long)h->bucket[b]);
		}
	}
	return shown;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* json_int_t is signed 64-bit; a counter past 2^63 degrades to a real. */
static json_t *stat_json_u64(uint64_t v)
{
	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	return json_real((double)v);
}

static json_t *stat_json_hist(const struct sim_hist *h)
{
	json_t *o = json_object(), *bk = json_object();
	char lab[48];

	if (!o || !bk)
		sim_fatal("stats: out of memory");
	json_object_set_new(o, "count", stat_json_u64(h->count));
	json_object_set_new(o, "sum", stat_json_u64(h->sum));
	json_object_set_new(o, "min", h->count ? stat_json_u64(h->min) : json_null());
	json_object_set_new(o, "max", h->count ? stat_json_u64(h->max) : json_null());
	json_object_set_new(o, "mean",
			    h->count ? json_real((double)h->sum / (double)h->count) : json_null());
	for (unsigned b = 0; b < SIM_HIST_BUCKETS; b++)
		if (h->bucket[b])
			json_object_set_new(bk, stat_bucket_label(b, lab),
					    stat_json_u64(h->bucket[b]));
	json_object_set_new(o, "buckets", bk);
	return o;
}

int sim_stats_write_json(const struct sim *s, const char *path, struct sim_err *err)
{
	const struct sim_stats *st = s->stats;
	json_t *root = json_object();
	int rc;

	if (!root)
		sim_fatal("stats: out of memory");
	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];
		json_t *v;
		double d;

		switch (e->kind) {
		case STAT_COUNTER:
			v = stat_json_u64(stat_read(e));
			break;
		case STAT_HIST:
			v = stat_json_hist(stat_hist(e));
			break;
		default:
			/* json_real() refuses inf and NaN (a NaN scale): null, as for 0/0. */
			v = stat_formula(s, e, &d) ? json_real(d) : NULL;
			if (!v)
				v = json_null();
			break;
		}
		if (!v || json_object_set_new(root, e->name, v))
			sim_fatal("stats: out of memory");
	}
	rc = sim_json_write_file(root, path, err);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */
/* ------------------------------------------------------------------ */

/*
 * One header line of column names and one line of values: a counter is
 * one column, a formula one column (empty when undefined), a histogram
 * four (NAME.count, NAME.sum, NAME.min, NAME.max; min and max empty when
 * it has no sample).  Names contain no comma or quote (stat_name_ok), so
 * no field needs quoting.  Rows of several runs of one configuration line
 * up column for column.
 */
void sim_stats_write_csv(const struct sim *s, FILE *out)
{
	static const char *const hcol[] = { "count", "sum", "min", "max" };
	const struct sim_stats *st = s->stats;
	bool first = true;

	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];

		if (e->kind == STAT_HIST) {
			for (unsigned k = 0; k < 4; k++) {
				fprintf(out, "%s%s.%s", first ? "" : ",", e->name, hcol[k]);
				first = false;
			}
		} else {
			fprintf(out, "%s%s", first ? "" : ",", e->name);
			first = false;
		}
	}
	fputc('\n', out);
	first = true;
	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];
		double d;

		if (!first)
			fputc(',', out);
		first = false;
		if (e->kind == STAT_COUNTER) {
			fprintf(out, "%llu", (unsigned long long)stat_read(e));
		} else if (e->kind == STAT_HIST) {
			const struct sim_hist *h = stat_hist(e);

			fprintf(out, "%llu,%llu,", (unsigned long long)h->count,
				(unsigned long long)h->sum);
			if (h->count)
				fprintf(out, "%llu,%llu", (unsigned long long)h->min,
					(unsigned long long)h->max);
			else
				fputc(',', out);
		} else if (stat_formula(s, e, &d) && d == d) {
			fprintf(out, "%.6f", d);
		}
	}
	fputc('\n', out);
}

uint64_t sim_stats_sum_named(const struct sim *s, const char *last)
{
	const struct sim_stats *st = s->stats;
	size_t l = strlen(last);
	uint64_t sum = 0;

	for (size_t i = 0; i < st->n; i++) {
		const struct stat_ent *e = st->ent[i];
		size_t n = strlen(e->name);

		if (e->kind == STAT_COUNTER && n > l && e->name[n - l - 1] == '.' &&
		    !strcmp(e->name + n - l, last))
			sum += stat_read(e) + e->base;   /* the whole run, ROI or not */
	}
	return sum;
}
