/*
 * outputs.c - the output set of a command that ran a machine: the
 * statistics (text, JSON, CSV), the resolved configuration, and run.json,
 * the run's metadata (docs/outputs.md).  Every file is deterministic but
 * run.json's host_seconds.
 */
#define _GNU_SOURCE   /* fopencookie */
#include "sim/sim_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double sim_host_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int sim_mkdir_p(const char *path)
{
	char *p = sim_xprintf("%s", path);
	struct stat st;

	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(p, 0777) && errno != EEXIST) {
			free(p);
			return -1;
		}
		*q = '/';
	}
	if (mkdir(p, 0777) && errno != EEXIST) {
		free(p);
		return -1;
	}
	free(p);
	if (stat(path, &st))
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int write_meta(struct sim *s, const char *path, const struct sim_run_meta *m,
		      struct sim_err *err)
{
	json_t *o = json_object(), *cl = json_array();
	int rc;

	for (int i = 0; i < m->argc; i++)
		json_array_append_new(cl, json_string(m->argv[i]));
	json_object_set_new(o, "protsim", json_string(sim_version()));
	json_object_set_new(o, "commit", str_or_null(m->commit));
	json_object_set_new(o, "command", str_or_null(m->command));
	json_object_set_new(o, "input", str_or_null(m->input));
	json_object_set_new(o, "command_line", cl);
	json_object_set_new(o, "seed", json_integer((json_int_t)sim_seed(s)));
	json_object_set_new(o, "cycles", json_integer((json_int_t)sim_max_cycle(s)));
	json_object_set_new(o, "instructions",
			    json_integer((json_int_t)sim_stats_sum_named(s, "insns")));
	json_object_set_new(o, "host_seconds", json_real(m->host_seconds));
	json_object_set_new(o, "exit_status", json_integer(m->exit_status));
	json_object_set_new(o, "error", str_or_null(m->error));
	rc = sim_json_write_file(o, path, err);
	json_decref(o);
	return rc;
}

int sim_outputs_write(struct sim *s, const char *dir, const struct sim_run_meta *m,
		      struct sim_err *err)
{
	char *path = NULL;
	FILE *f;

	if (sim_mkdir_p(dir))
		return sim_err_set(err, "%s: cannot create the output directory: %s", dir,
				   strerror(errno));
	path = sim_xprintf("%s/stats.json", dir);
	if (sim_stats_write_json(s, path, err))
		goto fail;
	free(path);
	path = sim_xprintf("%s/config.json", dir);
	if (sim_cfg_write_json(s, path, err))
		goto fail;
	free(path);
	path = sim_xprintf("%s/run.json", dir);
	if (write_meta(s, path, m, err))
		goto fail;
	for (int k = 0; k < 2; k++) {
		free(path);
		path = sim_xprintf("%s/%s", dir, k ? "stats.csv" : "stats.txt");
		f = fopen(path, "w");
		if (!f) {
			sim_err_set(err, "%s: cannot write: %s", path, strerror(errno));
			goto fail;
		}
		if (k)
			sim_stats_write_csv(s, f);
		else
			sim_stats_write_text(s, f);
		if (fclose(f)) {
			sim_err_set(err, "%s: cannot write: %s", path, strerror(errno));
			goto fail;
		}
	}
	free(path);
	return 0;
fail:
	free(path);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Tee: a stream that writes to two                                     */
/* ------------------------------------------------------------------ */

struct tee {
	FILE *a, *b;
};

static ssize_t tee_write(void *c, const char *buf, size_t n)
{
	struct tee *t = c;

	if (fwrite(buf, 1, n, t->a) != n || fwrite(buf, 1, n, t->b) != n)
		return -1;
	return (ssize_t)n;
}

static int tee_close(void *c)
{
	struct tee *t = c;
	int rc = fflush(t->a) | fflush(t->b);

	free(t);
	return rc ? EOF : 0;
}

FILE *sim_tee_open(FILE *a, FILE *b)
{
	static const cookie_io_functions_t io = { .write = tee_write, .close = tee_close };
	struct tee *t = sim_xcalloc(1, sizeof(*t));
	FILE *f;

	t->a = a;
	t->b = b;
	f = fopencookie(t, "w", io);
	if (!f)
		sim_fatal("outputs: cannot open a tee stream");
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
