/*
 * plot.c - `protsim plot CSV --x COL --y COL [--by COL] [--out BASE]`:
 * a line plot of column Y against column X of a CSV with a header line (a
 * sweep's sweep.csv, or any such file), one line per value of column BY,
 * written as BASE.png and BASE.svg by gnuplot (docs/sweeps.md "Plots").
 * Rows whose X or Y is not a number (a failed point) are left out and
 * counted; points are sorted by X within each line.  When a row with a
 * numeric Y has a non-numeric X (a benchmark's figure names), X is a
 * category instead: a horizontal bar chart, categories in the order they
 * first appear, one bar per value of BY next to each other.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* One CSV record: fields split at commas outside quotes ("" is a quote). */
static size_t csv_fields(char *line, char ***out)
{
	size_t n = 0;
	char *r = line, *w = line;

	*out = NULL;
	for (;;) {
		char *start = w;
		bool q = false;

		if (*r == '"') {
			q = true;
			r++;
		}
		while (*r) {
			if (q && r[0] == '"' && r[1] == '"') {
				*w++ = '"';
				r += 2;
			} else if (q && *r == '"') {
				q = false;
				r++;
			} else if (!q && *r == ',') {
				break;
			} else {
				*w++ = *r++;
			}
		}
		*out = sim_xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = start;
		if (*r != ',') {
			*w = 0;
			break;
		}
		r++;
		*w++ = 0;
	}
	return n;
}

static int col_of(char **hdr, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hdr[i], name))
			return (int)i;
	return -1;
}

struct pt {
	char *group;
	char *label;    /* X as written (categories) */
	double x, y;
	size_t order;
};

static int cmp_pt(const void *a, const void *b)
{
	const struct pt *p = a, *q = b;
	int c = strcmp(p->group, q->group);

	if (c)
		return c;
	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	return p->order < q->order ? -1 : (p->order > q->order);
}

static bool number(const char *s, double *v)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*v = strtod(s, &end);
	return !*end && !errno;
}

/* A gnuplot string literal: single quotes, a quote doubled. */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if (*s != '\n')
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* Index of @s in @v[0..n), appended if missing. */
static size_t intern(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return i;
	*v = sim_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (char *)s;
	return (*n)++;
}

/*
 * Categorical X: one horizontal bar per (category, group), the groups of
 * a category next to each other, categories top to bottom in their first
 * row's order, their names as tics on the left.  The data: BASE.dat, one
 * block per group, "position y" lines.
 */
static int plot_bars(struct pt *pts, size_t npt, size_t skipped, const char *xcol,
		     const char *ycol, const char *bycol, const char *base, FILE *msg,
		     struct sim_err *err)
{
	char **cat = NULL, **grp = NULL, *dat = sim_xprintf("%s.dat", base);
	size_t ncat = 0, ngrp = 0, longest = 0;
	double w, ymax = 0;   /* large values with SI prefixes (12.0M), small ones as they are */
	FILE *d, *gp;
	int rc = -1;

	for (size_t i = 0; i < npt; i++) {
		if (pts[i].y > ymax)
			ymax = pts[i].y;
		(void)intern(&cat, &ncat, pts[i].label);
		(void)intern(&grp, &ngrp, pts[i].group);
		if (strlen(pts[i].label) > longest)
			longest = strlen(pts[i].label);
	}
	w = 0.8 / (double)ngrp;
	d = fopen(dat, "w");
	if (!d) {
		sim_err_set(err, "%s: cannot write: %s", dat, strerror(errno));
		goto out;
	}
	for (size_t g = 0; g < ngrp; g++) {
		fprintf(d, "%s", g ? "\n\n" : "");
		for (size_t i = 0; i < npt; i++)
			if (!strcmp(pts[i].group, grp[g]))
				fprintf(d, "%.6g %.17g\n", (double)intern(&cat, &ncat, pts[i].label) +
					((double)g - (double)(ngrp - 1) / 2) * w, pts[i].y);
	}
	fclose(d);
	gp = popen("gnuplot", "w");
	if (!gp) {
		sim_err_set(err, "cannot run gnuplot: %s (make deps installs it)", strerror(errno));
		goto out;
	}
	for (int t = 0; t < 2; t++) {
		char *o = sim_xprintf("%s.%s", base, t ? "svg" : "png");

		fprintf(gp, "set terminal %s size %d,%d\nset output ", t ? "svg" : "pngcairo",
			1000 + (int)(longest > 80 ? 80 : longest) * 4,
			160 + (int)(ncat * (ngrp > 1 ? 20 * ngrp + 10 : 28)));
		gp_str(gp, o);
		fprintf(gp, "\nset xlabel ");
		gp_str(gp, ycol);
		fprintf(gp, " noenhanced\nset ylabel ");
		gp_str(gp, xcol);
		fprintf(gp, " noenhanced\n%s\nset grid xtics\nset rmargin 8\nset format x '%s'\n"
			"set xrange [0:*]\nset yrange [%g:-0.6]\nset style fill solid 0.8 border -1\n"
			"set ytics noenhanced font ',10' (",
			ngrp > 1 ? "set key bottom right noenhanced opaque" : "unset key",
			ymax >= 1e4 ? "%.1s%c" : "%g", (double)ncat - 0.4);
		for (size_t c = 0; c < ncat; c++) {
			fprintf(gp, "%s", c ? ", " : "");
			gp_str(gp, cat[c]);
			fprintf(gp, " %zu", c);
		}
		fprintf(gp, ")\nplot ");
		for (size_t g = 0; g < ngrp; g++) {
			char *title = bycol ? sim_xprintf("%s=%s", bycol, grp[g]) : sim_xstrdup(ycol);

			fprintf(gp, "%s", g ? ", " : "");
			gp_str(gp, dat);
			fprintf(gp, " index %zu using ($2/2):1:(0):2:($1-%g):($1+%g) with boxxyerror "
				"title ", g, w / 2, w / 2);
			gp_str(gp, title);
			free(title);
		}
		fprintf(gp, "\nunset output\n");
		free(o);
	}
	if (pclose(gp)) {
		sim_err_set(err, "gnuplot failed to write %s.png / %s.svg", base, base);
		goto out;
	}
	fprintf(msg, "plot: %zu bars (%zu categories of '%s'), %zu rows without numbers left out: "
		"%s.png %s.svg\n", npt, ncat, xcol, skipped, base, base);
	rc = 0;
out:
	free(cat);
	free(grp);
	free(dat);
	return rc;
}

int sim_plot(const char *csv, const char *xcol, const char *ycol, const char *bycol,
	     const char *base, FILE *msg, struct sim_err *err)
{
	FILE *in = fopen(csv, "r"), *gp = NULL;
	char *hdrline = NULL, *line = NULL, **hdr = NULL, *dat = NULL;
	size_t cap = 0, nh, npt = 0, skipped = 0, rowno = 1;
	struct pt *pts = NULL;
	int xi, yi, bi = -1, rc = -1;
	bool categories = false;

	if (!in)
		return sim_err_set(err, "%s: cannot read: %s", csv, strerror(errno));
	if (getline(&hdrline, &cap, in) <= 0) {
		sim_err_set(err, "%s: empty: expected a header line of column names", csv);
		goto out;
	}
	hdrline[strcspn(hdrline, "\r\n")] = 0;
	nh = csv_fields(hdrline, &hdr);
	xi = col_of(hdr, nh, xcol);
	yi = col_of(hdr, nh, ycol);
	if (bycol)
		bi = col_of(hdr, nh, bycol);
	if (xi < 0 || yi < 0 || (bycol && bi < 0)) {
		sim_err_set(err, "%s: no column '%s' (the header has %zu columns: %s, %s, ...)", csv,
			    xi < 0 ? xcol : yi < 0 ? ycol : bycol, nh, hdr[0], nh > 1 ? hdr[1] : "");
		goto out;
	}
	cap = 0;
	while (getline(&line, &cap, in) > 0) {
		char **f;
		size_t n;
		double x, y;

		rowno++;
		line[strcspn(line, "\r\n")] = 0;
		n = csv_fields(line, &f);
		if (n != nh) {
			sim_err_set(err, "%s:%zu: %zu fields, the header has %zu", csv, rowno, n, nh);
			free(f);
			goto out;
		}
		if (!number(f[yi], &y) || (!number(f[xi], &x) && !*f[xi])) {
			skipped++;
		} else {
			if (!number(f[xi], &x)) {
				x = 0;
				categories = true;
			}
			pts = sim_xrealloc(pts, (npt + 1) * sizeof(*pts));
			pts[npt].group = sim_xstrdup(bi >= 0 ? f[bi] : ycol);
			pts[npt].label = sim_xstrdup(f[xi]);
			pts[npt].x = x;
			pts[npt].y = y;
			pts[npt].order = npt;
			npt++;
		}
		free(f);
	}
	if (!npt) {
		sim_err_set(err, "%s: no row has numbers in both '%s' and '%s'", csv, xcol, ycol);
		goto out;
	}
	if (categories) {
		rc = plot_bars(pts, npt, skipped, xcol, ycol, bycol, base, msg, err);
		goto out;
	}
	/* a number in X on every kept row: a row whose X was not one was a failed point */
	qsort(pts, npt, sizeof(*pts), cmp_pt);
	/* the data, one gnuplot index per line (blank-line separated blocks) */
	dat = sim_xprintf("%s.dat", base);
	{
		FILE *d = fopen(dat, "w");

		if (!d) {
			sim_err_set(err, "%s: cannot write: %s", dat, strerror(errno));
			goto out;
		}
		for (size_t i = 0; i < npt; i++) {
			if (i && strcmp(pts[i].group, pts[i - 1].group))
				fprintf(d, "\n\n");
			fprintf(d, "%.17g %.17g\n", pts[i].x, pts[i].y);
		}
		fclose(d);
	}
	gp = popen("gnuplot", "w");
	if (!gp) {
		sim_err_set(err, "cannot run gnuplot: %s (make deps installs it)", strerror(errno));
		goto out;
	}
	for (int t = 0; t < 2; t++) {
		size_t block = 0;
		char *o = sim_xprintf("%s.%s", base, t ? "svg" : "png");

		fprintf(gp, "set terminal %s size 900,600\nset output ", t ? "svg" : "pngcairo");
		gp_str(gp, o);
		fprintf(gp, "\nset xlabel ");
		gp_str(gp, xcol);
		fprintf(gp, " noenhanced\nset ylabel ");
		gp_str(gp, ycol);
		fprintf(gp, " noenhanced\nset key top left noenhanced\nset grid\nplot ");
		for (size_t i = 0; i < npt; i++) {
			if (i && !strcmp(pts[i].group, pts[i - 1].group))
				continue;
			fprintf(gp, "%s", block ? ", " : "");
			gp_str(gp, dat);
			fprintf(gp, " index %zu with linespoints title ", block++);
			if (bycol) {
				char *title = sim_xprintf("%s=%s", bycol, pts[i].group);

				gp_str(gp, title);
				free(title);
			} else {
				gp_str(gp, ycol);
			}
		}
		fprintf(gp, "\nunset output\n");
		free(o);
	}
	if (pclose(gp)) {
		gp = NULL;
		sim_err_set(err, "gnuplot failed to write %s.png / %s.svg", base, base);
		goto out;
	}
	gp = NULL;
	fprintf(msg, "plot: %zu points%s%zu rows without numbers left out: %s.png %s.svg\n", npt,
		", ", skipped, base, base);
	rc = 0;
out:
	if (gp)
		pclose(gp);
	for (size_t i = 0; i < npt; i++) {
		free(pts[i].group);
		free(pts[i].label);
	}
	free(pts);
	free(hdr);
	free(hdrline);
	free(line);
	free(dat);
	fclose(in);
	return rc;
}
