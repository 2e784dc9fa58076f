/*
 * sweep.c - `protsim sweep SCENARIO --grid KEY=V1,V2,... [--grid ...]
 * [--zip] [-j N] [--out DIR]` and `protsim sweep --merge DIR`
 * (docs/sweeps.md).
 *
 * The points are the cross product of the grids (or, with --zip, the
 * grids taken side by side).  Point i runs as its own process, `protsim
 * run SCENARIO --set KEY=VALUE... --out DIR/pNNNN -q`, up to N at a time;
 * a point whose directory already holds a run.json with exit status 0 is
 * not run again.  Then the points are merged in point order into
 * DIR/sweep.csv: the columns point, status, error, grid.KEY per grid key, and
 * the union of every point's statistics columns (sorted; empty where a
 * point lacks one).  Each point is a deterministic run and the merge
 * depends only on the points' files, so the CSV is the same bytes on 1
 * and on N cores.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_MAX_GRIDS  16
#define SWEEP_MAX_POINTS 100000

struct grid {
	char *key;
	char **vals;
	size_t n;
};

struct sweep {
	const char *scenario;
	const char *dir;
	const char *self;            /* the protsim binary */
	struct grid g[SWEEP_MAX_GRIDS];
	size_t ng;
	bool zip;
	size_t npoints;
};

/* KEY=V1,V2,...: the key and its values (non-empty). */
static int parse_grid(const char *text, struct grid *g, struct sim_err *err)
{
	const char *eq = strchr(text, '=');
	char *vals, *save = NULL, *tok;

	if (!eq || eq == text || !eq[1])
		return sim_err_set(err, "--grid %s: expected KEY=V1,V2,...", text);
	g->key = sim_xprintf("%.*s", (int)(eq - text), text);
	vals = sim_xstrdup(eq + 1);
	for (tok = strtok_r(vals, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		g->vals = sim_xrealloc(g->vals, (g->n + 1) * sizeof(*g->vals));
		g->vals[g->n++] = sim_xstrdup(tok);
	}
	free(vals);
	if (!g->n)
		return sim_err_set(err, "--grid %s: no value", text);
	return 0;
}

/* The value index of grid @k in point @p. */
static size_t point_index(const struct sweep *sw, size_t p, size_t k)
{
	if (sw->zip)
		return p;
	for (size_t j = sw->ng; j-- > k + 1;)
		p /= sw->g[j].n;
	return p % sw->g[k].n;
}

static char *point_dir(const struct sweep *sw, size_t p)
{
	return sim_xprintf("%s/p%04zu", sw->dir, p);
}

/* Did point @p finish before (run.json with exit status 0)? */
static bool point_done(const struct sweep *sw, size_t p)
{
	char *d = point_dir(sw, p), *path = sim_xprintf("%s/run.json", d);
	json_t *j = json_load_file(path, 0, NULL);
	bool done = j && json_integer_value(json_object_get(j, "exit_status")) == 0 &&
		    json_is_integer(json_object_get(j, "exit_status"));

	json_decref(j);
	free(path);
	free(d);
	return done;
}

static pid_t point_start(const struct sweep *sw, size_t p)
{
	size_t argc = 0;
	char **argv = sim_xcalloc(8 + 2 * sw->ng, sizeof(*argv));
	char *d = point_dir(sw, p), *log = sim_xprintf("%s.log", d);
	pid_t pid;

	argv[argc++] = (char *)sw->self;
	argv[argc++] = (char *)"run";
	argv[argc++] = (char *)sw->scenario;
	for (size_t k = 0; k < sw->ng; k++) {
		argv[argc++] = (char *)"--set";
		argv[argc++] = sim_xprintf("%s=%s", sw->g[k].key, sw->g[k].vals[point_index(sw, p, k)]);
	}
	argv[argc++] = (char *)"--out";
	argv[argc++] = d;
	argv[argc++] = (char *)"-q";
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* the point's stderr and stdout: DIR/pNNNN.log */
		FILE *f = freopen(log, "w", stdout);

		if (f)
			dup2(fileno(stdout), 2);
		execv(sw->self, argv);
		_exit(127);
	}
	for (size_t k = 0; k < sw->ng; k++)
		free(argv[3 + 2 * k + 1]);
	free(argv);
	free(d);
	free(log);
	return pid;
}

static void progress(size_t done, size_t total, double t0, bool tty)
{
	struct timespec t;
	double el, eta;

	if (!tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	el = (double)t.tv_sec + (double)t.tv_nsec * 1e-9 - t0;
	eta = done ? el / (double)done * (double)(total - done) : 0;
	fprintf(stderr, "\rsweep: %zu/%zu points  elapsed %.1fs  eta %.1fs   ", done, total, el, eta);
	if (done == total)
		fputc('\n', stderr);
}

/* Run every point not done yet, @jobs at a time.  Return: how many failed. */
static size_t run_points(const struct sweep *sw, unsigned jobs)
{
	pid_t *pid = sim_xcalloc(jobs, sizeof(*pid));
	size_t next = 0, done = 0, failed = 0, running = 0;
	bool tty = isatty(2);
	struct timespec t;
	double t0;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t0 = (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
	while (done < sw->npoints) {
		while (running < jobs && next < sw->npoints) {
			if (point_done(sw, next)) {
				next++;
				done++;
				continue;
			}
			for (unsigned i = 0; i < jobs; i++) {
				if (!pid[i]) {
					pid[i] = point_start(sw, next++);
					running++;
					break;
				}
			}
		}
		if (running) {
			int st;
			pid_t w = wait(&st);

			for (unsigned i = 0; i < jobs; i++) {
				if (pid[i] && pid[i] == w) {
					pid[i] = 0;
					running--;
					done++;
					if (!WIFEXITED(st) || WEXITSTATUS(st))
						failed++;
				}
			}
		}
		progress(done, sw->npoints, t0, tty);
	}
	free(pid);
	return failed;
}

/* ------------------------------------------------------------------ */
/* The merge                                                           */
/* ------------------------------------------------------------------ */

struct row {
	char **name, **val;
	size_t n;
};

static char *read_line(FILE *f)
{
	char *l = NULL;
	size_t cap = 0;
	ssize_t n = getline(&l, &cap, f);

	if (n <= 0) {
		free(l);
		return NULL;
	}
	if (l[n - 1] == '\n')
		l[n - 1] = 0;
	return l;
}

static size_t split(char *line, char ***out)
{
	size_t n = 0;
	char *p = line;

	*out = NULL;
	for (;;) {
		char *c = strchr(p, ',');

		*out = sim_xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = p;
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	return n;
}

/* Point @p's stats.csv as a row; false if it has none. */
static bool read_row(const char *d, struct row *r, char **hdr, char **vals)
{
	char *path = sim_xprintf("%s/stats.csv", d);
	FILE *f = fopen(path, "r");
	size_t nh, nv;

	free(path);
	memset(r, 0, sizeof(*r));
	*hdr = *vals = NULL;
	if (!f)
		return false;
	*hdr = read_line(f);
	*vals = read_line(f);
	fclose(f);
	if (!*hdr || !*vals)
		return false;
	nh = split(*hdr, &r->name);
	nv = split(*vals, &r->val);
	if (nh != nv) {
		free(r->name);
		free(r->val);
		memset(r, 0, sizeof(*r));
		return false;
	}
	r->n = nh;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Point @p's status and error from its run.json. */
static void point_status(const char *d, char *status, size_t n, char **error)
{
	char *path = sim_xprintf("%s/run.json", d);
	json_t *j = json_load_file(path, 0, NULL);

	free(path);
	*error = NULL;
	if (!j) {
		snprintf(status, n, "failed");
		*error = sim_xstrdup("no run.json: the point did not run to its end (see its .log)");
		return;
	}
	snprintf(status, n, "%lld", (long long)json_integer_value(json_object_get(j, "exit_status")));
	if (json_is_string(json_object_get(j, "error")))
		*error = sim_xstrdup(json_string_value(json_object_get(j, "error")));
	json_decref(j);
}

/* CSV field: quoted when it holds a comma, a quote or a newline. */
static void put_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int merge(const struct sweep *sw, struct sim_err *err)
{
	struct row *rows = sim_xcalloc(sw->npoints, sizeof(*rows));
	char **hdr = sim_xcalloc(sw->npoints, sizeof(*hdr)), **vals = sim_xcalloc(sw->npoints, sizeof(*vals));
	char **cols = NULL, *path = sim_xprintf("%s/sweep.csv", sw->dir);
	size_t ncols = 0;
	FILE *f;
	int rc = 0;

	for (size_t p = 0; p < sw->npoints; p++) {
		char *d = point_dir(sw, p);

		if (read_row(d, &rows[p], &hdr[p], &vals[p])) {
			cols = sim_xrealloc(cols, (ncols + rows[p].n) * sizeof(*cols));
			memcpy(cols + ncols, rows[p].name, rows[p].n * sizeof(*cols));
			ncols += rows[p].n;
		}
		free(d);
	}
	qsort(cols, ncols, sizeof(*cols), cmp_str);
	{
		size_t u = 0;

		for (size_t i = 0; i < ncols; i++)
			if (!u || strcmp(cols[u - 1], cols[i]))
				cols[u++] = cols[i];
		ncols = u;
	}
	f = fopen(path, "w");
	if (!f) {
		rc = sim_err_set(err, "%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	fprintf(f, "point,status,error");
	for (size_t k = 0; k < sw->ng; k++) {
		char *col = sim_xprintf("grid.%s", sw->g[k].key);   /* a key may also be a statistic */

		fputc(',', f);
		put_field(f, col);
		free(col);
	}
	for (size_t i = 0; i < ncols; i++)
		fprintf(f, ",%s", cols[i]);
	fputc('\n', f);
	for (size_t p = 0; p < sw->npoints; p++) {
		char *d = point_dir(sw, p), status[32], *error;

		point_status(d, status, sizeof(status), &error);
		fprintf(f, "%zu,%s,", p, status);
		put_field(f, error ? error : "");
		for (size_t k = 0; k < sw->ng; k++) {
			fputc(',', f);
			put_field(f, sw->g[k].vals[point_index(sw, p, k)]);
		}
		/* both lists are sorted by name (stats.csv is): one pass */
		for (size_t i = 0, j = 0; i < ncols; i++) {
			while (j < rows[p].n && strcmp(rows[p].name[j], cols[i]) < 0)
				j++;
			fputc(',', f);
			if (j < rows[p].n && !strcmp(rows[p].name[j], cols[i]))
				fputs(rows[p].val[j], f);
		}
		fputc('\n', f);
		free(error);
		free(d);
	}
	if (fclose(f))
		rc = sim_err_set(err, "%s: cannot write", path);
out:
	for (size_t p = 0; p < sw->npoints; p++) {
		free(rows[p].name);
		free(rows[p].val);
		free(hdr[p]);
		free(vals[p]);
	}
	free(rows);
	free(hdr);
	free(vals);
	free(cols);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Emitting the points for GNU parallel or Slurm                        */
/* ------------------------------------------------------------------ */

/* @s as a shell word: single quotes, a quote as '\''. */
static void sh_word(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static char *absolute(const char *path)
{
	char *r = realpath(path, NULL);

	return r ? r : sim_xstrdup(path);
}

/*
 * DIR/jobs.txt: one shell command per point, in point order (its output
 * in DIR/pNNNN.log); with @slurm also DIR/sweep.sbatch, an array job whose
 * task i runs line i + 1.  Paths are absolute, so the jobs run from any
 * directory of a machine that shares the files.
 */
static int emit(const struct sweep *sw, bool slurm, struct sim_err *err)
{
	char *dir = absolute(sw->dir), *scen = absolute(sw->scenario);
	char *jobs = sim_xprintf("%s/jobs.txt", dir), *sb = NULL;
	FILE *f = fopen(jobs, "w");
	int rc = 0;

	if (!f) {
		rc = sim_err_set(err, "%s: cannot write: %s", jobs, strerror(errno));
		goto out;
	}
	for (size_t p = 0; p < sw->npoints; p++) {
		char *d = sim_xprintf("%s/p%04zu", dir, p), *log = sim_xprintf("%s.log", d);

		sh_word(f, sw->self);
		fputs(" run ", f);
		sh_word(f, scen);
		for (size_t k = 0; k < sw->ng; k++) {
			char *kv = sim_xprintf("%s=%s", sw->g[k].key, sw->g[k].vals[point_index(sw, p, k)]);

			fputs(" --set ", f);
			sh_word(f, kv);
			free(kv);
		}
		fputs(" --out ", f);
		sh_word(f, d);
		fputs(" -q >", f);
		sh_word(f, log);
		fputs(" 2>&1\n", f);
		free(d);
		free(log);
	}
	if (fclose(f)) {
		rc = sim_err_set(err, "%s: cannot write", jobs);
		goto out;
	}
	if (!slurm) {
		printf("sweep: %zu points in %s\nrun them with:  parallel -j N < %s\n"
		       "then merge:     %s sweep --merge %s\n", sw->npoints, jobs, jobs, sw->self,
		       dir);
		goto out;
	}
	sb = sim_xprintf("%s/sweep.sbatch", dir);
	f = fopen(sb, "w");
	if (!f) {
		rc = sim_err_set(err, "%s: cannot write: %s", sb, strerror(errno));
		goto out;
	}
	fprintf(f, "#!/bin/sh\n#SBATCH --job-name=protsim-sweep\n#SBATCH --array=0-%zu\n"
		"#SBATCH --ntasks=1\n#SBATCH --output=", sw->npoints - 1);
	fprintf(f, "%s/slurm-%%a.out\n", dir);
	fprintf(f, "# protsim sweep: task i runs line i + 1 of jobs.txt (docs/sweeps.md)\n"
		"line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" ");
	sh_word(f, jobs);
	fprintf(f, ")\nexec sh -c \"$line\"\n");
	if (fclose(f)) {
		rc = sim_err_set(err, "%s: cannot write", sb);
		goto out;
	}
	printf("sweep: %zu points in %s\nsubmit:      sbatch %s\nthen merge:  %s sweep --merge %s\n",
	       sw->npoints, jobs, sb, sw->self, dir);
out:
	free(dir);
	free(scen);
	free(jobs);
	free(sb);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

/* sweep.json in DIR: what --merge needs to rebuild the grid. */
static int write_plan(const struct sweep *sw, struct sim_err *err)
{
	json_t *o = json_object(), *g = json_array();
	char *path = sim_xprintf("%s/sweep.json", sw->dir);
	int rc;

	json_object_set_new(o, "scenario", json_string(sw->scenario));
	json_object_set_new(o, "zip", json_boolean(sw->zip));
	for (size_t k = 0; k < sw->ng; k++) {
		json_t *e = json_object(), *v = json_array();

		for (size_t i = 0; i < sw->g[k].n; i++)
			json_array_append_new(v, json_string(sw->g[k].vals[i]));
		json_object_set_new(e, "key", json_string(sw->g[k].key));
		json_object_set_new(e, "values", v);
		json_array_append_new(g, e);
	}
	json_object_set_new(o, "grids", g);
	rc = sim_json_write_file(o, path, err);
	json_decref(o);
	free(path);
	return rc;
}

static int read_plan(struct sweep *sw, const char *dir, struct sim_err *err)
{
	char *path = sim_xprintf("%s/sweep.json", dir);
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je), *g, *e;
	size_t i;
	int rc = 0;

	if (!o) {
		rc = sim_err_set(err, "%s: cannot read the sweep's plan: %s", path, je.text);
		goto out;
	}
	g = json_object_get(o, "grids");
	sw->zip = json_is_true(json_object_get(o, "zip"));
	sw->scenario = NULL;
	json_array_foreach(g, i, e) {
		json_t *v = json_object_get(e, "values"), *x;
		size_t j;

		if (sw->ng == SWEEP_MAX_GRIDS || !json_is_string(json_object_get(e, "key"))) {
			rc = sim_err_set(err, "%s: a bad grid", path);
			break;
		}
		sw->g[sw->ng].key = sim_xstrdup(json_string_value(json_object_get(e, "key")));
		json_array_foreach(v, j, x) {
			sw->g[sw->ng].vals = sim_xrealloc(sw->g[sw->ng].vals,
							  (sw->g[sw->ng].n + 1) * sizeof(char *));
			sw->g[sw->ng].vals[sw->g[sw->ng].n++] = sim_xstrdup(json_string_value(x) ?
									    json_string_value(x) : "");
		}
		sw->ng++;
	}
	json_decref(o);
out:
	free(path);
	return rc;
}

static int count_points(struct sweep *sw, struct sim_err *err)
{
	size_t n = 1;

	for (size_t k = 0; k < sw->ng; k++) {
		if (sw->zip && sw->g[k].n != sw->g[0].n)
			return sim_err_set(err, "--zip: every grid needs as many values (%s has %zu, "
					   "%s has %zu)", sw->g[0].key, sw->g[0].n, sw->g[k].key,
					   sw->g[k].n);
		if (!sw->zip && n > SWEEP_MAX_POINTS / sw->g[k].n)
			return sim_err_set(err, "--grid: more than %d points", SWEEP_MAX_POINTS);
		if (!sw->zip)
			n *= sw->g[k].n;
	}
	sw->npoints = sw->zip ? sw->g[0].n : n;
	return 0;
}

int sim_sweep_main(const struct sim_cli *cl, const char *self)
{
	struct sweep sw = { 0 };
	struct sim_err err;
	const char *merge_dir = sim_cli_value(cl, "merge"), *j = sim_cli_value(cl, "jobs");
	uint64_t jobs = 1;
	size_t failed = 0;
	int rc = 2;

	sw.self = self;
	if (merge_dir) {
		sw.dir = merge_dir;
		if (read_plan(&sw, merge_dir, &err) || count_points(&sw, &err))
			goto fail;
	} else {
		if (cl->nargs != 1) {
			sim_err_set(&err, "sweep: give SCENARIO (or --merge DIR)");
			goto fail;
		}
		sw.scenario = cl->args[0];
		sw.zip = sim_cli_flag(cl, "zip");
		for (int i = 0; i < cl->nvals; i++) {
			if (strcmp(cl->vals[i].opt->name, "grid"))
				continue;
			if (sw.ng == SWEEP_MAX_GRIDS) {
				sim_err_set(&err, "--grid: at most %d", SWEEP_MAX_GRIDS);
				goto fail;
			}
			if (parse_grid(cl->vals[i].val, &sw.g[sw.ng++], &err))
				goto fail;
		}
		if (!sw.ng) {
			sim_err_set(&err, "sweep: give at least one --grid KEY=V1,V2,...");
			goto fail;
		}
		if (j && (sim_parse_u64(j, &jobs) || jobs < 1 || jobs > 256)) {
			sim_err_set(&err, "-j %s: expected 1..256", j);
			goto fail;
		}
		sw.dir = sim_cli_value(cl, "out") ? sim_cli_value(cl, "out") : "out/sweep";
		if (count_points(&sw, &err))
			goto fail;
		if (sim_mkdir_p(sw.dir)) {
			sim_err_set(&err, "%s: cannot create the output directory: %s", sw.dir,
				    strerror(errno));
			goto fail;
		}
		if (write_plan(&sw, &err))
			goto fail;
		if (sim_cli_value(cl, "emit")) {
			const char *e = sim_cli_value(cl, "emit");

			if (strcmp(e, "parallel") && strcmp(e, "slurm")) {
				sim_err_set(&err, "--emit %s: expected parallel or slurm", e);
				goto fail;
			}
			if (emit(&sw, !strcmp(e, "slurm"), &err))
				goto fail;
			rc = 0;
			goto out;
		}
		failed = run_points(&sw, (unsigned)jobs);
	}
	if (merge(&sw, &err))
		goto fail;
	printf("sweep: %zu points, %zu failed: %s/sweep.csv\n", sw.npoints, failed, sw.dir);
	rc = failed ? 1 : 0;
	goto out;
fail:
	fprintf(stderr, "protsim: %s\n", err.msg);
out:
	for (size_t k = 0; k < sw.ng; k++) {
		for (size_t i = 0; i < sw.g[k].n; i++)
			free(sw.g[k].vals[i]);
		free(sw.g[k].vals);
		free(sw.g[k].key);
	}
	return rc;
}
