/*
 * cli.c - the command line shared by every protsim command: one option
 * parser (options are rows of a table, struct sim_cli_opt), the synopsis
 * and --help text generated from the same table, applying --set and the
 * options that set a configuration key, "did you mean" suggestions, and
 * the progress line on a terminal.
 *
 * The commands themselves live above the engine (sim/main.c; `exec` in
 * cpu/exec.c); this file is part of libsim so that every module's command
 * parses its options the same way.
 */
#include "sim/sim_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Suggestions                                                         */
/* ------------------------------------------------------------------ */

/* Longest word compared: anything longer is not a typo of a name. */
#define SUGGEST_MAX_LEN 64

/*
 * Optimal string alignment distance (Damerau-Levenshtein without
 * repeated edits of one substring): insert, delete, substitute, swap two
 * neighbours, each 1.  Three rows of the dynamic-programming table.
 */
unsigned sim_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned *r0 = sim_xcalloc(lb + 1, sizeof(unsigned));   /* row i-2 */
	unsigned *r1 = sim_xcalloc(lb + 1, sizeof(unsigned));   /* row i-1 */
	unsigned *r2 = sim_xcalloc(lb + 1, sizeof(unsigned));   /* row i */
	unsigned d;

	for (size_t j = 0; j <= lb; j++)
		r1[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *t;

		r2[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned v = r1[j - 1] + cost;

			if (r1[j] + 1 < v)
				v = r1[j] + 1;
			if (r2[j - 1] + 1 < v)
				v = r2[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    r0[j - 2] + 1 < v)
				v = r0[j - 2] + 1;
			r2[j] = v;
		}
		t = r0;
		r0 = r1;
		r1 = r2;
		r2 = t;
	}
	d = r1[lb];
	free(r0);
	free(r1);
	free(r2);
	return d;
}

const char *sim_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word);
	unsigned limit = (unsigned)(len / 5), best_d = ~0u;
	const char *best = NULL;

	if (len == 0 || len > SUGGEST_MAX_LEN)
		return NULL;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		size_t lc = strlen(cands[i]);
		unsigned d;

		if (lc > len + limit || lc + limit < len)
			continue;   /* the lengths alone are too far apart */
		d = sim_edit_distance(word, cands[i]);
		if (d > 0 && d <= limit && d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	return best;
}

/* ------------------------------------------------------------------ */
/* Synopsis and help                                                   */
/* ------------------------------------------------------------------ */

/* An option whose value is KEY=VALUE accumulates; the others: last wins. */
static bool opt_is_pair(const struct sim_cli_opt *o)
{
	return o->arg && strchr(o->arg, '=');
}

void sim_cli_synopsis(const struct sim_cli_cmd *cmd, FILE *out)
{
	fprintf(out, "protsim %s", cmd->name);
	if (cmd->args && cmd->args[0])
		fprintf(out, " %s", cmd->args);
	for (const struct sim_cli_opt *o = cmd->opts; o && o->name; o++) {
		fputs(" [", out);
		if (o->short_name)
			fprintf(out, "-%c|", o->short_name);
		fprintf(out, "--%s", o->name);
		if (o->arg)
			fprintf(out, " %s", o->arg);
		fputs(opt_is_pair(o) ? "]..." : "]", out);
	}
}

/* "  -q, --quiet", "  --seed N": the left column of the options list. */
static int opt_label(const struct sim_cli_opt *o, char *buf, size_t len)
{
	char sh[8] = "    ";

	if (o->short_name)
		snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
	return snprintf(buf, len, "%s--%s%s%s", sh, o->name, o->arg ? " " : "",
			o->arg ? o->arg : "");
}

void sim_cli_help(const struct sim_cli_cmd *cmd, FILE *out)
{
	static const struct sim_cli_opt help = { "help", 'h', NULL, NULL, "show this help" };
	char label[96];
	int w = 0;

	fputs("usage: ", out);
	sim_cli_synopsis(cmd, out);
	fprintf(out, "\n\n%s\n", cmd->summary);
	if (cmd->details && cmd->details[0])
		fprintf(out, "\n%s", cmd->details);
	for (const struct sim_cli_opt *o = cmd->opts; o && o->name; o++) {
		int n = opt_label(o, label, sizeof(label));

		if (n > w)
			w = n;
	}
	if (opt_label(&help, label, sizeof(label)) > w)
		w = (int)strlen(label);
	fputs("\noptions:\n", out);
	for (const struct sim_cli_opt *o = cmd->opts; o && o->name; o++) {
		opt_label(o, label, sizeof(label));
		fprintf(out, "  %-*s  %s\n", w, label, o->help);
	}
	opt_label(&help, label, sizeof(label));
	fprintf(out, "  %-*s  %s\n", w, label, help.help);
	if (cmd->exit_status && cmd->exit_status[0]) {
		const char *p = cmd->exit_status;

		fputs("\nexit status:\n", out);
		while (*p) {
			const char *e = strchr(p, '\n');
			size_t l = e ? (size_t)(e - p) : strlen(p);

			fprintf(out, "  %.*s\n", (int)l, p);
			p += l + (e ? 1 : 0);
		}
	}
}

int sim_cli_usage_error(const struct sim_cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "protsim %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: ", stderr);
	sim_cli_synopsis(cmd, stderr);
	fprintf(stderr, "\n(protsim %s --help describes every option)\n", cmd->name);
	return cmd->usage_rc;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help");
}

/* Unknown option @a (its name part is @len bytes): message with a suggestion. */
static enum sim_cli_rc unknown_option(const struct sim_cli_cmd *cmd, const char *a, size_t len)
{
	char q[SIM_QUOTE_MAX];
	char *word = sim_xprintf("%.*s", (int)len, a);
	const char **names;
	const char *best;
	size_t n = 0;

	for (const struct sim_cli_opt *o = cmd->opts; o && o->name; o++)
		n++;
	names = sim_xcalloc(n + 1, sizeof(*names));
	n = 0;
	for (const struct sim_cli_opt *o = cmd->opts; o && o->name; o++)
		names[n++] = sim_xprintf("--%s", o->name);
	names[n++] = sim_xstrdup("--help");
	best = sim_suggest(word, names, n);
	if (best)
		sim_cli_usage_error(cmd, "unknown option %s (did you mean '%s'?)", sim_quote(word, q),
				    best);
	else
		sim_cli_usage_error(cmd, "unknown option %s", sim_quote(word, q));
	for (size_t i = 0; i < n; i++)
		free((char *)names[i]);
	free(names);
	free(word);
	return SIM_CLI_USAGE;
}

enum sim_cli_rc sim_cli_parse(const struct sim_cli_cmd *cmd, int argc, char **argv,
			      struct sim_cli *cl)
{
	char q[SIM_QUOTE_MAX];
	bool options = true;

	memset(cl, 0, sizeof(*cl));
	cl->cmd = cmd;
	cl->vals = sim_xcalloc((size_t)argc, sizeof(*cl->vals));
	cl->args = sim_xcalloc((size_t)argc, sizeof(*cl->args));
	/* --help anywhere among the options wins over any other problem. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (is_help(argv[i])) {
			sim_cli_help(cmd, stdout);
			return SIM_CLI_HELP;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct sim_cli_opt *o = NULL;
		size_t nlen;

		if (!options || a[0] != '-' || !strcmp(a, "-")) {
			if (cl->nargs == cmd->max_args) {
				sim_cli_usage_error(cmd, "unexpected argument %s", sim_quote(a, q));
				return SIM_CLI_USAGE;
			}
			cl->args[cl->nargs++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			options = false;
			continue;
		}
		if (a[1] == '-') {
			nlen = strcspn(a, "=");
			for (o = cmd->opts; o && o->name; o++)
				if (strlen(o->name) == nlen - 2 && !strncmp(a + 2, o->name, nlen - 2))
					break;
		} else {
			nlen = strlen(a);
			for (o = cmd->opts; o && o->name; o++)
				if (nlen == 2 && o->short_name == a[1])
					break;
		}
		if (!o || !o->name)
			return unknown_option(cmd, a, nlen);
		if (o->arg) {
			if (a[nlen] == '=')
				val = a + nlen + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				sim_cli_usage_error(cmd, "--%s needs a value (%s)", o->name, o->arg);
				return SIM_CLI_USAGE;
			}
			if (opt_is_pair(o)) {
				const char *eq = strchr(val, '=');

				if (!eq || eq == val) {
					sim_cli_usage_error(cmd, "--%s: expected %s, got %s", o->name,
							    o->arg, sim_quote(val, q));
					return SIM_CLI_USAGE;
				}
			}
		} else if (a[nlen] == '=') {
			sim_cli_usage_error(cmd, "--%s takes no value", o->name);
			return SIM_CLI_USAGE;
		}
		cl->vals[cl->nvals].opt = o;
		cl->vals[cl->nvals].val = val;
		cl->nvals++;
	}
	if (cl->nargs < cmd->min_args) {
		sim_cli_usage_error(cmd, "missing %s", cmd->args);
		return SIM_CLI_USAGE;
	}
	return SIM_CLI_RUN;
}

void sim_cli_free(struct sim_cli *cl)
{
	free(cl->vals);
	free(cl->args);
	cl->vals = NULL;
	cl->args = NULL;
	cl->nvals = cl->nargs = 0;
}

bool sim_cli_flag(const struct sim_cli *cl, const char *name)
{
	for (int i = 0; i < cl->nvals; i++)
		if (!strcmp(cl->vals[i].opt->name, name))
			return true;
	return false;
}

const char *sim_cli_value(const struct sim_cli *cl, const char *name)
{
	const char *v = NULL;

	for (int i = 0; i < cl->nvals; i++)
		if (!strcmp(cl->vals[i].opt->name, name))
			v = cl->vals[i].val;
	return v;
}

int sim_cli_apply(struct sim *s, const struct sim_cli *cl, struct sim_err *err)
{
	for (int i = 0; i < cl->nvals; i++) {
		const struct sim_cli_opt *o = cl->vals[i].opt;
		const char *v = cl->vals[i].val;
		char *src;
		int rc;

		if (!o->key && !opt_is_pair(o))
			continue;
		src = sim_xprintf("--%s", o->name);
		if (o->key) {
			rc = sim_cfg_set(s, o->key, v, src, 0, err);
		} else {
			const char *eq = strchr(v, '=');   /* checked by sim_cli_parse */
			char *key = sim_xprintf("%.*s", (int)(eq - v), v);

			rc = sim_cfg_set(s, key, eq + 1, src, 0, err);
			free(key);
		}
		free(src);
		if (rc)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Progress on stderr (wall clock for this display only)               */
/* ------------------------------------------------------------------ */

struct sim_cli_progress {
	struct sim *s;
	struct timespec t0;    /* when the run started */
	double shown_at;       /* seconds since t0 of the last display */
	bool shown;            /* a progress line is on the terminal */
};

static double progress_elapsed(const struct sim_cli_progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - p->t0.tv_sec) + (double)(now.tv_nsec - p->t0.tv_nsec) / 1e9;
}

static void progress_tick(void *arg)
{
	struct sim_cli_progress *p = arg;
	double el = progress_elapsed(p);
	double mc;

	if (el < 1.0 || el - p->shown_at < 0.25)
		return;
	p->shown_at = el;
	p->shown = true;
	mc = (double)sim_max_cycle(p->s) / 1e6;
	fprintf(stderr, "\r  %.1f Mcycles simulated, %.2f Mcycles/s, %.0f s   ", mc, mc / el, el);
	fflush(stderr);
}

struct sim_cli_progress *sim_cli_progress_start(struct sim *s)
{
	struct sim_cli_progress *p;

	if (!isatty(STDERR_FILENO))
		return NULL;
	p = sim_xcalloc(1, sizeof(*p));
	p->s = s;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	sim_engine_set_tick(s->eng, progress_tick, p);
	return p;
}

void sim_cli_progress_end(struct sim_cli_progress *p)
{
	if (!p)
		return;
	sim_engine_set_tick(p->s->eng, NULL, NULL);
	if (p->shown)
		fputs("\r\033[K", stderr);
	free(p);
}
