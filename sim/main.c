/*
 * main.c - the protsim command line (linked only into protsim, not libsim).
 *
 *   protsim run SCENARIO [--set key=value]... [--seed N] [--out DIR] [--quiet] [--verbose]
 *   protsim script FILE|- [--set key=value]... [--seed N]
 *   protsim shell [--set key=value]... [--seed N]
 *   protsim help [config [--markdown] | ops | profiles]
 *   protsim version
 *
 * Exit status: 0 success; 1 the workload or script ran and an `expect`
 * failed; 2 bad usage, bad configuration, a malformed script line, or an
 * output that could not be written.
 *
 * Commands are rows of one table (cmds[] below); the modules built into
 * the binary are rows of modules[].
 */
#include "sim/sim_int.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"
#include "iommu/iommu.h"
#include "cpu/cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The modules built into protsim, in attach order (lowest layer first).
 * Each exports `extern const struct sim_module <name>_module;` from its
 * public header; add a row (and the #include) when a module lands.
 */
static const struct sim_module *const modules[] = {
	&rmp_module,
	&s2_module,
	&iommu_module,
	&cpu_module,
	NULL
};

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static int cmd_run(int argc, char **argv);
static int cmd_script(int argc, char **argv);
static int cmd_shell(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

struct cmd {
	const char *name;                   /* first word after `protsim` */
	int (*fn)(int argc, char **argv);   /* argv[0] is the command name */
	const char *usage;                  /* arguments, for the usage text */
	const char *help;                   /* one line */
};

/* One row per command; argv as given after `protsim`. */
static const struct cmd cmds[] = {
	{ "run", cmd_run,
	  "SCENARIO [--set key=value]... [--seed N] [--out DIR] [--quiet] [--verbose]",
	  "run a scenario file; write stats.json, stats.txt, config.json to DIR" },
	{ "script", cmd_script, "FILE|- [--set key=value]... [--seed N]",
	  "run an operation-language script (exit 1 if an expect fails)" },
	{ "exec", cpu_exec_main,
	  "PROG.elf [--set key=value]... [--mode fast|detailed] [--max-insns N] [--seed N] [--stats]",
	  "run an RV64 guest program; exit with its exit code" },
	{ "shell", cmd_shell, "[--set key=value]... [--seed N]",
	  "type operations interactively" },
	{ "help", cmd_help, "[config [--markdown] | ops | profiles]",
	  "configuration keys, script operations, latency profiles" },
	{ "version", cmd_version, "", "print the version" },
	{ NULL, NULL, NULL, NULL }
};

static void usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(out, "  protsim %s%s%s\n", c->name, c->usage[0] ? " " : "", c->usage);
	fprintf(out, "\ncommands:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->help);
	fprintf(out, "\nExit status: 0 ok, 1 an expectation failed, 2 bad usage, configuration "
		     "or input.\n");
}

static const struct cmd *cmd_find(const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* A usage error in command @cmd: the message, the command's usage, exit 2. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cmd *c = cmd_find(cmd);
	va_list ap;

	fprintf(stderr, "protsim %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: protsim %s%s%s\n", c->name, c->usage[0] ? " " : "", c->usage);
	return 2;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

enum {
	OPT_SET = 1 << 0,
	OPT_SEED = 1 << 1,
	OPT_OUT = 1 << 2,
	OPT_QUIET = 1 << 3,
	OPT_VERBOSE = 1 << 4,
	OPT_MARKDOWN = 1 << 5,
};

struct opts {
	const char **sets;     /* "key=value" in command-line order */
	int nsets;
	const char *seed;      /* --seed N, as text */
	const char *out;       /* --out DIR */
	bool quiet;            /* --quiet */
	bool verbose;          /* --verbose */
	bool markdown;         /* --markdown */
	const char *pos[2];    /* positional arguments */
	int npos;
};

/*
 * Parse argv[1..] of command @cmd accepting the options in @allowed and
 * up to @maxpos positional arguments.  "--opt value" and "--opt=value"
 * are both accepted; "-" is positional (stdin); "--" ends the options.
 * Return: 0, or 2 after a usage error.
 */
static int opts_parse(int argc, char **argv, unsigned allowed, int maxpos, struct opts *o)
{
	static const struct {
		const char *name;
		unsigned bit;
		bool arg;
	} table[] = {
		{ "--set", OPT_SET, true },     { "--seed", OPT_SEED, true },
		{ "--out", OPT_OUT, true },     { "--quiet", OPT_QUIET, false },
		{ "--verbose", OPT_VERBOSE, false }, { "--markdown", OPT_MARKDOWN, false },
	};
	const char *cmd = argv[0];
	bool options = true;

	memset(o, 0, sizeof(*o));
	o->sets = calloc((size_t)argc, sizeof(*o->sets));
	if (!o->sets)
		sim_fatal("out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t t, nlen;

		if (!options || a[0] != '-' || !strcmp(a, "-")) {
			if (o->npos == maxpos)
				return usage_error(cmd, "unexpected argument '%s'", a);
			o->pos[o->npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			options = false;
			continue;
		}
		nlen = strcspn(a, "=");
		for (t = 0; t < sizeof(table) / sizeof(table[0]); t++)
			if ((table[t].bit & allowed) && strlen(table[t].name) == nlen &&
			    !strncmp(a, table[t].name, nlen))
				break;
		if (t == sizeof(table) / sizeof(table[0]))
			return usage_error(cmd, "unknown option '%.*s'", (int)nlen, a);
		if (table[t].arg) {
			if (a[nlen] == '=')
				val = a + nlen + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return usage_error(cmd, "%s needs a value", table[t].name);
		} else if (a[nlen] == '=') {
			return usage_error(cmd, "%s takes no value", table[t].name);
		}
		switch (table[t].bit) {
		case OPT_SET: o->sets[o->nsets++] = val; break;
		case OPT_SEED: o->seed = val; break;
		case OPT_OUT: o->out = val; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_VERBOSE: o->verbose = true; break;
		case OPT_MARKDOWN: o->markdown = true; break;
		}
	}
	return 0;
}

static void opts_free(struct opts *o)
{
	free(o->sets);
}

/* Apply --set (in order), then --seed.  Return 0, or 2 after a message. */
static int opts_apply(struct sim *s, const struct opts *o)
{
	struct sim_err err;

	for (int i = 0; i < o->nsets; i++) {
		const char *kv = o->sets[i], *eq = strchr(kv, '=');
		char *key;
		int rc;

		if (!eq || eq == kv) {
			fprintf(stderr, "protsim: --set: expected key=value, got '%s'\n", kv);
			return 2;
		}
		key = sim_xprintf("%.*s", (int)(eq - kv), kv);
		rc = sim_cfg_set(s, key, eq + 1, "--set", 0, &err);
		free(key);
		if (rc) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			return 2;
		}
	}
	if (o->seed && sim_cfg_set(s, "engine.seed", o->seed, "--seed", 0, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Progress on stderr (wall clock for this display only)               */
/* ------------------------------------------------------------------ */

struct progress {
	struct sim *s;
	struct timespec t0;    /* when the run started */
	double shown_at;       /* seconds since t0 of the last display */
	bool shown;            /* a progress line is on the terminal */
};

static double progress_elapsed(const struct progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - p->t0.tv_sec) + (double)(now.tv_nsec - p->t0.tv_nsec) / 1e9;
}

static void progress_tick(void *arg)
{
	struct progress *p = arg;
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

static void progress_start(struct progress *p, struct sim *s)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	if (isatty(STDERR_FILENO))
		sim_engine_set_tick(s->eng, progress_tick, p);
}

static void progress_end(struct progress *p)
{
	sim_engine_set_tick(p->s->eng, NULL, NULL);
	if (p->shown)
		fputs("\r\033[K", stderr);
}

/* ------------------------------------------------------------------ */
/* run                                                                 */
/* ------------------------------------------------------------------ */

/* mkdir -p.  Return 0, or -1 with errno. */
static int mkdir_p(const char *path)
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

/* @rel relative to the directory of @base, unless absolute. Caller frees. */
static char *path_beside(const char *base, const char *rel)
{
	const char *slash = strrchr(base, '/');

	if (rel[0] == '/' || !slash)
		return sim_xprintf("%s", rel);
	return sim_xprintf("%.*s/%s", (int)(slash - base), base, rel);
}

/* "out/<scenario file name without its extension>" */
static char *default_out(const char *scenario)
{
	const char *b = strrchr(scenario, '/');
	const char *dot;

	b = b ? b + 1 : scenario;
	dot = strrchr(b, '.');
	if (!dot || dot == b)
		dot = b + strlen(b);
	return sim_xprintf("out/%.*s", (int)(dot - b), b);
}

static const char *workload_result(int rc)
{
	switch (rc) {
	case 0: return "passed";
	case 1: return "FAILED (an expectation was not met)";
	default: return "ERROR (a malformed line or a machine error)";
	}
}

static void run_summary(struct sim *s, const char *scenario, const char *wl, int wl_rc,
			const char *out, bool log)
{
	const char *names[10];
	uint64_t vals[10];
	size_t n, w = 0;

	printf("protsim %s\n", sim_version());
	printf("  scenario   %s\n", scenario);
	printf("  profile    %s\n", sim_cfg_str(s, "machine.profile"));
	printf("  seed       %llu\n", (unsigned long long)sim_seed(s));
	printf("  cycles     %llu\n", (unsigned long long)sim_max_cycle(s));
	printf("  agents     %d\n", sim_agent_count(s));
	if (wl)
		printf("  workload   %s: %s\n", wl, workload_result(wl_rc));
	else
		printf("  workload   (none: workload.script is empty)\n");
	printf("\n");
	/* Each module's summary lines start with its own name. */
	for (const struct sim_module *const *m = sim_modules(s); *m; m++)
		if ((*m)->summary)
			(*m)->summary(s, stdout);
	n = sim_stats_top(s, 10, names, vals);
	if (n) {
		printf("\nlargest counters:\n");
		for (size_t i = 0; i < n; i++)
			if (strlen(names[i]) > w)
				w = strlen(names[i]);
		for (size_t i = 0; i < n; i++)
			printf("  %-*s  %llu\n", (int)w, names[i], (unsigned long long)vals[i]);
	}
	printf("\noutputs: %s/{stats.txt,stats.json,config.json%s}\n", out,
	       log ? ",workload.log" : "");
}

static int write_outputs(struct sim *s, const char *dir)
{
	struct sim_err err;
	char *path;
	FILE *f;

	path = sim_xprintf("%s/stats.json", dir);
	if (sim_stats_write_json(s, path, &err))
		goto fail;
	free(path);
	path = sim_xprintf("%s/config.json", dir);
	if (sim_cfg_write_json(s, path, &err))
		goto fail;
	free(path);
	path = sim_xprintf("%s/stats.txt", dir);
	f = fopen(path, "w");
	if (!f) {
		sim_err_set(&err, "%s: cannot write: %s", path, strerror(errno));
		goto fail;
	}
	sim_stats_write_text(s, f);
	if (fclose(f)) {
		sim_err_set(&err, "%s: cannot write: %s", path, strerror(errno));
		goto fail;
	}
	free(path);
	return 0;
fail:
	fprintf(stderr, "protsim: %s\n", err.msg);
	free(path);
	return 2;
}

static int cmd_run(int argc, char **argv)
{
	struct opts o;
	struct sim *s = NULL;
	struct sim_err err;
	struct progress prog;
	char *out = NULL, *wl = NULL, *log = NULL;
	FILE *wlf = NULL, *logf = NULL;
	int rc, wl_rc = 0;

	rc = opts_parse(argc, argv, OPT_SET | OPT_SEED | OPT_OUT | OPT_QUIET | OPT_VERBOSE, 1, &o);
	if (rc)
		goto out;
	if (o.npos != 1) {
		rc = usage_error("run", "missing the scenario file");
		goto out;
	}
	rc = 2;
	s = sim_new(modules);
	if (sim_cfg_load_file(s, o.pos[0], &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (opts_apply(s, &o))
		goto out;
	if (sim_start(s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (sim_cfg_str(s, "workload.script")[0]) {
		wl = path_beside(o.pos[0], sim_cfg_str(s, "workload.script"));
		wlf = fopen(wl, "r");
		if (!wlf) {
			sim_cfg_error(s, "workload.script", &err, "cannot read '%s': %s", wl,
				      strerror(errno));
			fprintf(stderr, "protsim: %s\n", err.msg);
			goto out;
		}
	}
	out = o.out ? sim_xprintf("%s", o.out) : default_out(o.pos[0]);
	if (mkdir_p(out)) {
		fprintf(stderr, "protsim: %s: cannot create the output directory: %s\n", out,
			strerror(errno));
		goto out;
	}
	if (wlf && !o.verbose) {
		log = sim_xprintf("%s/workload.log", out);
		logf = fopen(log, "w");
		if (!logf) {
			fprintf(stderr, "protsim: %s: cannot write: %s\n", log, strerror(errno));
			goto out;
		}
	}

	if (!o.quiet)
		progress_start(&prog, s);
	if (wlf)
		wl_rc = sim_script_run(s, wlf, wl, logf ? logf : stdout, stderr, false);
	sim_run(s);
	if (!o.quiet)
		progress_end(&prog);
	if (logf && fclose(logf)) {
		logf = NULL;
		fprintf(stderr, "protsim: %s: cannot write: %s\n", log, strerror(errno));
		goto out;
	}
	logf = NULL;

	if (write_outputs(s, out))
		goto out;
	if (!o.quiet)
		run_summary(s, o.pos[0], wl, wl_rc, out, log != NULL);
	rc = wl_rc;
out:
	if (wlf)
		fclose(wlf);
	if (logf)
		fclose(logf);
	free(log);
	free(wl);
	free(out);
	sim_free(s);
	opts_free(&o);
	return rc;
}

/* ------------------------------------------------------------------ */
/* script, shell                                                       */
/* ------------------------------------------------------------------ */

static int cmd_script(int argc, char **argv)
{
	struct opts o;
	struct sim *s = NULL;
	FILE *f = NULL;
	int rc;

	rc = opts_parse(argc, argv, OPT_SET | OPT_SEED, 1, &o);
	if (rc)
		goto out;
	if (o.npos != 1) {
		rc = usage_error("script", "missing the script file (or - for stdin)");
		goto out;
	}
	s = sim_new(modules);
	rc = opts_apply(s, &o);
	if (rc)
		goto out;
	if (!strcmp(o.pos[0], "-")) {
		rc = sim_script_run(s, stdin, "<stdin>", stdout, stderr, false);
		goto out;
	}
	f = fopen(o.pos[0], "r");
	if (!f) {
		fprintf(stderr, "protsim: %s: cannot read: %s\n", o.pos[0], strerror(errno));
		rc = 2;
		goto out;
	}
	rc = sim_script_run(s, f, o.pos[0], stdout, stderr, false);
	fclose(f);
out:
	sim_free(s);
	opts_free(&o);
	return rc;
}

static int cmd_shell(int argc, char **argv)
{
	struct opts o;
	struct sim *s = NULL;
	int rc;

	rc = opts_parse(argc, argv, OPT_SET | OPT_SEED, 0, &o);
	if (rc)
		goto out;
	s = sim_new(modules);
	rc = opts_apply(s, &o);
	if (rc)
		goto out;
	rc = sim_script_run(s, stdin, "<stdin>", stdout, stderr, true);
out:
	sim_free(s);
	opts_free(&o);
	return rc;
}

/* ------------------------------------------------------------------ */
/* help, version                                                       */
/* ------------------------------------------------------------------ */

static void help_ops_table(const char *title, const struct sim_op *ops)
{
	if (!ops || !ops[0].name)
		return;
	printf("\n%s:\n", title);
	for (const struct sim_op *op = ops; op->name; op++) {
		char usage[1024];

		printf("  %s\n", sim_op_usage(op, usage, sizeof(usage)));
		if (op->help)
			printf("      %s\n", op->help);
	}
}

static int help_ops(void)
{
	printf("Script operations (protsim script / shell); one per line:\n"
	       "  [@CYCLE] [cpuN] OP [key=value]...    then optionally: expect RESULT [field=value]...\n"
	       "  machine mem=SIZE cpus=N [profile=NAME] ...   (before the first operation)\n");
	help_ops_table("engine", sim_core_ops);
	for (size_t i = 0; modules[i]; i++)
		help_ops_table(modules[i]->name, modules[i]->ops);
	return 0;
}

/* A profile's description: its first comment line after the title line. */
static void help_profile_line(const char *text, char *buf, size_t len)
{
	int n = 0;

	buf[0] = 0;
	while (*text) {
		const char *e = strchr(text, '\n');
		size_t l = e ? (size_t)(e - text) : strlen(text);

		if (text[0] != '#')
			break;
		if (n++ == 2) {
			const char *b = text + 1;

			while (*b == ' ')
				b++;
			l -= (size_t)(b - text);
			snprintf(buf, len, "%.*s", (int)l, b);
			return;
		}
		text += l + (e ? 1 : 0);
	}
}

static int help_profiles(void)
{
	char desc[200];

	printf("Latency profiles (machine.profile = NAME; keys the scenario sets win):\n");
	for (const char *const *p = sim_profile_names(); *p; p++) {
		help_profile_line(sim_profile_text(*p), desc, sizeof(desc));
		printf("  %-10s %s\n", *p, desc);
	}
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	struct opts o;
	int rc = opts_parse(argc, argv, OPT_MARKDOWN, 1, &o);
	const char *topic = o.npos ? o.pos[0] : NULL;

	if (rc)
		goto out;
	if (o.markdown && (!topic || strcmp(topic, "config"))) {
		rc = usage_error("help", "--markdown goes with 'config'");
		goto out;
	}
	if (!topic) {
		usage(stdout);
		printf("\nhelp topics: config (--markdown), ops, profiles\n");
	} else if (!strcmp(topic, "config")) {
		struct sim *s = sim_new(modules);

		sim_cfg_write_reference(s, stdout, o.markdown);
		sim_free(s);
	} else if (!strcmp(topic, "ops")) {
		rc = help_ops();
	} else if (!strcmp(topic, "profiles")) {
		rc = help_profiles();
	} else {
		rc = usage_error("help", "unknown topic '%s' (topics: config, ops, profiles)", topic);
	}
out:
	opts_free(&o);
	return rc;
}

static int cmd_version(int argc, char **argv)
{
	struct opts o;
	int rc = opts_parse(argc, argv, 0, 0, &o);

	if (!rc)
		printf("protsim %s\n", sim_version());
	opts_free(&o);
	return rc;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(1, &argv[1]);
	c = cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "protsim: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	rc = c->fn(argc - 1, argv + 1);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "protsim: cannot write to standard output\n");
		return 2;
	}
	return rc;
}
