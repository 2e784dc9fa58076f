/*
 * main.c - the protsim command line (linked only into protsim, not libsim).
 *
 *   protsim run SCENARIO [--set KEY=VALUE]... [--seed N] [--out DIR] [-q|--quiet] [--verbose]
 *   protsim script FILE|- [--set KEY=VALUE]... [--seed N]
 *   protsim exec PROG.elf [--set KEY=VALUE]... [--seed N] [--mode M] [--max-insns N] [--stats]
 *   protsim shell [--set KEY=VALUE]... [--seed N]
 *   protsim help [config [KEY] [--markdown] | ops [OP] | profiles | COMMAND]
 *   protsim replay TRACE [--set KEY=VALUE]... [--seed N] [--out DIR] [--trace FILE]
 *   protsim import lackey FILE [-o OUT.zst] [--limit N]
 *   protsim version            (also: protsim --version, protsim -V)
 *
 * Every command takes -h / --help.  Options are parsed by sim_cli_parse()
 * (sim/cli.c) from each command's option table, so they behave the same
 * everywhere; `exec` is the CPU module's command (cpu/exec.c).
 *
 * Exit status of run, script, shell, help, version: 0 success; 1 the
 * workload or script ran and an `expect` failed; 2 bad usage, bad
 * configuration, a malformed script line, or an unreadable input or
 * unwritable output.  `exec` passes the guest's exit code through and
 * keeps 120..127 for itself (cpu/cpu.h, docs/guest-abi.md).
 *
 * Commands are rows of one table (cmds[] below); the machine is built
 * from the stack's module list (stack_modules, sim/stack/modules.c).
 */
#include "sim/sim_int.h"
#include "sim/stack/stack.h"
#include "cpu/cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* From the Makefile: the commit built and the build type (--version only). */
#ifndef PROTSIM_COMMIT
#define PROTSIM_COMMIT "unknown"
#endif
#ifndef PROTSIM_BUILD
#define PROTSIM_BUILD "unknown"
#endif


/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

#define EXIT_STATUS_SIM \
	"0  success\n" \
	"1  the workload ran and an `expect` failed\n" \
	"2  bad usage, configuration, script line or input; an output that could not be written\n"

static const struct sim_cli_opt run_opts[] = {
	SIM_CLI_OPT_SET,
	SIM_CLI_OPT_SEED,
	{ "out", 0, "DIR", NULL, "output directory (default: out/<scenario file name>)" },
	{ "timeline", 0, "FILE", NULL, "write the run's timeline to FILE (Chrome trace JSON, docs/outputs.md)" },
	{ "trace", 0, "FILE", NULL, "write the run's event trace to FILE (zstd binary records, docs/trace.md)" },
	{ "quiet", 'q', NULL, NULL, "no progress line and no summary" },
	{ "verbose", 0, NULL, NULL, "workload output on stdout instead of DIR/workload.log" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd run_cmd = {
	"run", "SCENARIO", 1, 1, run_opts,
	"Run a scenario file; write stats.json, stats.txt, config.json to DIR.",
	"SCENARIO is an INI file of configuration keys (docs/config.md); its\n"
	"workload.script, an operation-language script, runs on the machine it\n"
	"describes (relative to the scenario file).  Precedence: defaults < latency\n"
	"profile < SCENARIO < --set and --seed (in command-line order).  A progress\n"
	"line is shown on a terminal; a summary is printed at the end.\n",
	EXIT_STATUS_SIM, 2,
};

static const struct sim_cli_opt sim_opts[] = {
	SIM_CLI_OPT_SET,
	SIM_CLI_OPT_SEED,
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_opt script_opts[] = {
	SIM_CLI_OPT_SET,
	SIM_CLI_OPT_SEED,
	{ "out", 0, "DIR", NULL,
	  "also write the output set to DIR: stats, config.json, run.json, workload.log (docs/outputs.md)" },
	{ "timeline", 0, "FILE", NULL, "write the run's timeline to FILE (Chrome trace JSON, docs/outputs.md)" },
	{ "trace", 0, "FILE", NULL, "write the run's event trace to FILE (zstd binary records, docs/trace.md)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd script_cmd = {
	"script", "FILE|-", 1, 1, script_opts,
	"Run an operation-language script (- reads standard input).",
	"One operation per line, optionally pinned to a cycle and a CPU, each\n"
	"optionally checked by an `expect` line (docs/script.md; protsim help ops).\n"
	"The script stops at the first malformed line or failed expectation.\n",
	EXIT_STATUS_SIM, 2,
};

static const struct sim_cli_cmd shell_cmd = {
	"shell", "", 0, 0, sim_opts,
	"Type operations interactively (the language of protsim script).",
	"Each line runs as soon as it is typed; errors are reported and the shell\n"
	"goes on.  Commands: `help [PREFIX]` (operations and commands), `stats\n"
	"[PREFIX]` (the counters now), `reset` (a fresh machine, same configuration),\n"
	"`source FILE` (its lines as if typed), `quit` (or end of input).  On a\n"
	"terminal: Tab completes, Ctrl-C cancels the line, history is kept in\n"
	"$XDG_STATE_HOME/protsim/history (default ~/.local/state/protsim/history).\n",
	"0  the shell ended normally (errors inside it do not change this)\n"
	"2  bad usage or configuration; the machine could not go on\n", 2,
};

static const struct sim_cli_opt help_opts[] = {
	{ "markdown", 0, NULL, NULL, "with config: the reference as Markdown (docs/config.md)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd help_cmd = {
	"help", "[TOPIC [NAME]]", 0, 4, help_opts,
	"Configuration keys, script operations, latency profiles, commands.",
	"Topics:\n"
	"  config [KEY]   every configuration key, or one key (or every key under a\n"
	"                 prefix: `protsim help config rmp`)\n"
	"  ops [OP]       every script operation, or the operations named OP\n"
	"                 (`protsim help ops rmpupdate`, `protsim help ops s2`)\n"
	"  profiles       the latency profiles built in\n"
	"  COMMAND        the options of a command (as `protsim COMMAND --help`)\n"
	"An operation or key name alone also works: `protsim help rmpupdate`.\n",
	"0  success\n"
	"2  bad usage: an unknown topic, operation or key\n", 2,
};

static const struct sim_cli_opt sweep_opts[] = {
	{ "grid", 0, "KEY=V1,V2,...", NULL, "a key and its values (repeatable: the points are the cross product)" },
	{ "zip", 0, NULL, NULL, "take the grids side by side instead (they need as many values)" },
	{ "jobs", 'j', "N", NULL, "run N points at a time (default 1)" },
	{ "out", 0, "DIR", NULL, "the sweep's directory (default out/sweep): DIR/pNNNN per point, DIR/sweep.csv" },
	{ "merge", 0, "DIR", NULL, "only merge the points already in DIR into DIR/sweep.csv" },
	{ "emit", 0, "parallel|slurm", NULL,
	  "do not run: write DIR/jobs.txt for GNU parallel (and DIR/sweep.sbatch, a Slurm array job)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd sweep_cmd = {
	"sweep", "[SCENARIO]", 0, 1, sweep_opts,
	"Run a scenario over a grid of keys; merge the points into one CSV.",
	"Each point is `protsim run SCENARIO --set KEY=VALUE...` in its own\n"
	"directory DIR/pNNNN (its messages in DIR/pNNNN.log), up to -j N at a time;\n"
	"a point that already finished is not run again.  The points are merged\n"
	"in point order into DIR/sweep.csv: point, status, error, the grid keys,\n"
	"then every statistic (docs/sweeps.md).  The same sweep gives the same CSV\n"
	"on 1 and on N cores.\n",
	"0  every point ran and exited 0\n"
	"1  a point failed (its row says so; the others are merged)\n"
	"2  bad usage, or the sweep's directory could not be written\n", 2,
};

static const struct sim_cli_opt plot_opts[] = {
	{ "x", 0, "COLUMN", NULL, "the x axis: a column of the CSV (e.g. grid.lat.rmp.rmpupdate)" },
	{ "y", 0, "COLUMN", NULL, "the y axis: a column (e.g. sim.cycles)" },
	{ "by", 0, "COLUMN", NULL, "one line per value of this column" },
	{ "out", 0, "BASE", NULL, "write BASE.png and BASE.svg (default: the CSV's name without .csv)" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd plot_cmd = {
	"plot", "CSV", 1, 1, plot_opts,
	"Plot a column against another of a CSV (a sweep's) as PNG and SVG.",
	"CSV has a header line of column names (a sweep's sweep.csv, a stats.csv).\n"
	"Rows whose x or y is not a number (a failed point) are left out.  Needs\n"
	"gnuplot (make deps installs it).  docs/sweeps.md, \"Plots\".\n",
	"0  the plots were written\n"
	"2  bad usage, a missing column, a malformed CSV, or gnuplot failed\n", 2,
};

static const struct sim_cli_cmd compare_cmd = {
	"compare", "DIR_A DIR_B", 2, 2, NULL,
	"Show what differs between two runs' output directories.",
	"DIR_A and DIR_B are output directories of run, script --out or exec --out\n"
	"(docs/outputs.md).  The configuration keys that differ come first, then\n"
	"the statistics, each with both values, the change and the relative change,\n"
	"largest relative change first (a statistic in one run only comes first);\n"
	"histograms are compared by count and mean.\n",
	"0  the runs' configuration and statistics are the same\n"
	"1  they differ\n"
	"2  bad usage, or a directory without a readable config.json and stats.json\n", 2,
};

static const struct sim_cli_cmd trace_cmd = {
	"trace", "dump FILE", 2, 2, NULL,
	"Show the records of an event trace (--trace FILE) as text.",
	"FILE is a trace written by run, script or exec --trace, or by protsim\n"
	"import (docs/trace.md): zstd-compressed, a PROTSIMT header, then\n"
	"length-prefixed records (config, agent, op, exit, access, end).  Each\n"
	"record is printed on one line.  A file that is not a trace, of another\n"
	"format version, cut short or corrupt is an error naming the file and the\n"
	"byte offset (in the decompressed stream) of the record at fault.\n",
	"0  the whole trace was shown\n"
	"2  bad usage, or the file cannot be read or is not a whole trace\n", 2,
};

static const struct sim_cli_opt import_opts[] = {
	{ "output", 'o', "OUT.zst", NULL, "the access trace to write (default: FILE.zst)" },
	{ "limit", 0, "N", NULL, "import the first N accesses only" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd import_cmd = {
	"import", "lackey FILE", 2, 2, import_opts,
	"Turn a valgrind Lackey memory trace into an access trace for replay.",
	"FILE is the log of `valgrind --tool=lackey --trace-mem=yes --log-file=FILE\n"
	"PROG`: lines `I  ADDR,SIZE` (instruction fetch), ` L`, ` S`, ` M ADDR,SIZE`\n"
	"(load, store, modify), valgrind's `==PID==` lines (skipped).  Each access\n"
	"becomes an access record of a protsim trace (docs/trace.md), which\n"
	"`protsim replay` runs as guest accesses of one VM.  A line of any other\n"
	"form is an error naming the file, the line and the rule it breaks.\n",
	"0  the trace was written\n"
	"2  bad usage, an unreadable file or a bad line (nothing is left at OUT.zst),\n"
	"   or the trace could not be written\n", 2,
};

static const struct sim_cli_cmd version_cmd = {
	"version", "", 0, 0, NULL,
	"Print the version, the commit it was built from and the build type.",
	NULL,
	"0  success\n"
	"2  bad usage\n", 2,
};

static int cmd_run(const struct sim_cli *cl);
static int cmd_script(const struct sim_cli *cl);
static int cmd_shell(const struct sim_cli *cl);
static int cmd_help(const struct sim_cli *cl);
static int cmd_version(const struct sim_cli *cl);
static int cmd_compare(const struct sim_cli *cl);
static int cmd_sweep(const struct sim_cli *cl);
static int cmd_plot(const struct sim_cli *cl);
static int cmd_trace(const struct sim_cli *cl);
static int cmd_import(const struct sim_cli *cl);

/* The whole command line, for run.json. */
static int g_argc;
static char **g_argv;

/* exec builds its machine from the same module list as every command. */
static int cmd_exec(int argc, char **argv)
{
	struct sim_run_meta m = {
		.command = "exec", .argc = g_argc, .argv = g_argv, .commit = PROTSIM_COMMIT,
	};

	return stack_exec_main(argc, argv, &m);
}

static int cmd_replay(int argc, char **argv)
{
	struct sim_run_meta m = {
		.command = "replay", .argc = g_argc, .argv = g_argv, .commit = PROTSIM_COMMIT,
	};

	return stack_replay_main(argc, argv, &m);
}

struct cmd {
	const struct sim_cli_cmd *cli;      /* name, options, --help text */
	int (*fn)(const struct sim_cli *cl); /* parsed by main(); NULL: @main runs */
	int (*main)(int argc, char **argv); /* a command that parses its own argv */
	int error_rc;                       /* exit status when stdout cannot be written */
};

/* One row per command, in the order of the usage text. */
static const struct cmd cmds[] = {
	{ &run_cmd, cmd_run, NULL, 2 },
	{ &script_cmd, cmd_script, NULL, 2 },
	{ &stack_exec_cmd, NULL, cmd_exec, STACK_EXEC_RC_OUTPUT },
	{ &shell_cmd, cmd_shell, NULL, 2 },
	{ &sweep_cmd, cmd_sweep, NULL, 2 },
	{ &compare_cmd, cmd_compare, NULL, 2 },
	{ &plot_cmd, cmd_plot, NULL, 2 },
	{ &trace_cmd, cmd_trace, NULL, 2 },
	{ &stack_replay_cmd, NULL, cmd_replay, 2 },
	{ &import_cmd, cmd_import, NULL, 2 },
	{ &help_cmd, cmd_help, NULL, 2 },
	{ &version_cmd, cmd_version, NULL, 2 },
	{ NULL, NULL, NULL, 0 }
};

static void usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (const struct cmd *c = cmds; c->cli; c++) {
		fputs("  ", out);
		sim_cli_synopsis(c->cli, out);
		fputc('\n', out);
	}
	fprintf(out, "\ncommands:\n");
	for (const struct cmd *c = cmds; c->cli; c++)
		fprintf(out, "  %-8s %s\n", c->cli->name, c->cli->summary);
	fprintf(out, "\nprotsim COMMAND --help describes a command's options and exit status.\n"
		     "Exit status: 0 ok, 1 an expectation failed (replay: a result differs), 2 bad\n"
		     "usage, configuration or input; exec passes the guest's exit code (0..119) and\n"
		     "keeps 120..127 for itself.\n");
}

static const struct cmd *cmd_find(const char *name)
{
	for (const struct cmd *c = cmds; c->cli; c++)
		if (!strcmp(c->cli->name, name))
			return c;
	return NULL;
}

/* An unknown first word: the closest command or global option. */
static int unknown_command(const char *word)
{
	const char *names[24];
	size_t n = 0;
	const char *best;
	char q[SIM_QUOTE_MAX];

	for (const struct cmd *c = cmds; c->cli && n < 20; c++)
		names[n++] = c->cli->name;
	names[n++] = "--help";
	names[n++] = "--version";
	best = sim_suggest(word, names, n);
	if (best)
		fprintf(stderr, "protsim: unknown command %s (did you mean '%s'?)\n",
			sim_quote(word, q), best);
	else
		fprintf(stderr, "protsim: unknown command %s\n", sim_quote(word, q));
	usage(stderr);
	return 2;
}

/* Apply the options that set configuration keys.  0, or 2 after a message. */
static int apply_opts(struct sim *s, const struct sim_cli *cl)
{
	struct sim_err err;

	if (sim_cli_apply(s, cl, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return 0;
}

/*
 * Open a text input (scenario workload or script): a directory opens on
 * Linux but reads as an error, so refuse it here with its name.
 * Return the stream, or NULL with errno.
 */
static FILE *open_input(const char *path)
{
	FILE *f = fopen(path, "r");
	struct stat st;

	if (f && !fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		fclose(f);
		errno = EISDIR;
		return NULL;
	}
	return f;
}

/* ------------------------------------------------------------------ */
/* run                                                                 */
/* ------------------------------------------------------------------ */

/* mkdir -p.  Return 0, or -1 with errno. */
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
	printf("\noutputs: %s/{stats.txt,stats.json,stats.csv,config.json,run.json%s}\n", out,
	       log ? ",workload.log" : "");
}

/* The output set (sim_outputs_write) of command @cmd on @input; 0 or 2. */
static int write_outputs(struct sim *s, const char *dir, const char *cmd, const char *input,
			 int status, double t0)
{
	struct sim_run_meta m = {
		.command = cmd, .input = input, .argc = g_argc, .argv = g_argv,
		.commit = PROTSIM_COMMIT, .exit_status = status,
		.error = status ? "the run did not succeed (see the log and stderr)" : NULL,
		.host_seconds = sim_host_seconds() - t0,
	};
	struct sim_err err;

	if (sim_outputs_write(s, dir, &m, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return 0;
}

static int cmd_run(const struct sim_cli *cl)
{
	const char *scenario = cl->args[0];
	struct sim *s = NULL;
	struct sim_err err;
	struct sim_cli_progress *prog = NULL;
	char *out = NULL, *wl = NULL, *log = NULL;
	FILE *wlf = NULL, *logf = NULL;
	bool quiet = sim_cli_flag(cl, "quiet"), verbose = sim_cli_flag(cl, "verbose");
	int rc = 2, wl_rc = 0, vm_rc = 0;
	double t0 = sim_host_seconds();

	s = sim_new(stack_modules);
	if (sim_cfg_load_file(s, scenario, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (apply_opts(s, cl))
		goto out;
	if (sim_start(s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (sim_cfg_str(s, "workload.script")[0]) {
		char q[SIM_QUOTE_MAX];

		wl = sim_path_beside(scenario, sim_cfg_str(s, "workload.script"));
		wlf = open_input(wl);
		if (!wlf) {
			sim_cfg_error(s, "workload.script", &err, "cannot read %s: %s",
				      sim_quote(wl, q), strerror(errno));
			fprintf(stderr, "protsim: %s\n", err.msg);
			goto out;
		}
	}
	out = sim_cli_value(cl, "out") ? sim_xprintf("%s", sim_cli_value(cl, "out"))
				       : default_out(scenario);
	if (sim_mkdir_p(out)) {
		fprintf(stderr, "protsim: %s: cannot create the output directory: %s\n", out,
			strerror(errno));
		goto out;
	}
	if (wlf && !verbose) {
		log = sim_xprintf("%s/workload.log", out);
		logf = fopen(log, "w");
		if (!logf) {
			fprintf(stderr, "protsim: %s: cannot write: %s\n", log, strerror(errno));
			goto out;
		}
	}

	if (sim_cli_value(cl, "timeline") &&
	    sim_timeline_open(s, sim_cli_value(cl, "timeline"), &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (sim_cli_value(cl, "trace") && sim_trace_open(s, sim_cli_value(cl, "trace"), &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	/* the scenario's VMs start first, so that they run beside the workload */
	if (stack_run_vms_start(s, scenario, out, &err) < 0) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (!quiet)
		prog = sim_cli_progress_start(s);
	if (wlf)
		wl_rc = sim_script_run(s, wlf, wl, logf ? logf : stdout, stderr, false);
	sim_run(s);
	sim_cli_progress_end(prog);
	vm_rc = stack_run_vms_end(s, stderr);
	if (sim_timeline_close(s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		vm_rc = 2;
	}
	if (sim_trace_close(s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		vm_rc = 2;
	}
	if (logf && fclose(logf)) {
		logf = NULL;
		fprintf(stderr, "protsim: %s: cannot write: %s\n", log, strerror(errno));
		goto out;
	}
	logf = NULL;

	rc = wl_rc ? wl_rc : vm_rc;
	if (write_outputs(s, out, "run", scenario, rc, t0)) {
		rc = 2;
		goto out;
	}
	if (!quiet)
		run_summary(s, scenario, wl, wl_rc, out, log != NULL);
out:
	if (wlf)
		fclose(wlf);
	if (logf)
		fclose(logf);
	free(log);
	free(wl);
	free(out);
	sim_free(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* script, shell                                                       */
/* ------------------------------------------------------------------ */

static int cmd_script(const struct sim_cli *cl)
{
	const char *path = cl->args[0], *dir = sim_cli_value(cl, "out");
	struct sim *s = sim_new(stack_modules);
	FILE *f = NULL, *log = NULL, *out = stdout;
	double t0 = sim_host_seconds();
	char *logpath = NULL;
	int rc = apply_opts(s, cl);

	if (rc)
		goto out;
	if (dir) {
		/* the result lines go to stdout and to DIR/workload.log */
		logpath = sim_xprintf("%s/workload.log", dir);
		if (sim_mkdir_p(dir) || !(log = fopen(logpath, "w"))) {
			fprintf(stderr, "protsim: %s: cannot write: %s\n", logpath, strerror(errno));
			rc = 2;
			goto out;
		}
		out = sim_tee_open(stdout, log);
	}
	if (sim_cli_value(cl, "timeline")) {
		struct sim_err err;

		if (sim_timeline_open(s, sim_cli_value(cl, "timeline"), &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			rc = 2;
			goto out;
		}
	}
	if (sim_cli_value(cl, "trace")) {
		struct sim_err err;

		if (sim_trace_open(s, sim_cli_value(cl, "trace"), &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			rc = 2;
			goto out;
		}
	}
	if (!strcmp(path, "-")) {
		rc = sim_script_run(s, stdin, "<stdin>", out, stderr, false);
	} else if (!(f = open_input(path))) {
		fprintf(stderr, "protsim: %s: cannot read: %s\n", path, strerror(errno));
		rc = 2;
		goto out;
	} else {
		rc = sim_script_run(s, f, path, out, stderr, false);
	}
	{
		struct sim_err err;

		if (sim_timeline_close(s, &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			rc = 2;
		}
		if (sim_trace_close(s, &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			rc = 2;
		}
	}
	if (dir && write_outputs(s, dir, "script", path, rc, t0))
		rc = 2;
out:
	if (f)
		fclose(f);
	if (out != stdout)
		fclose(out);
	if (log && fclose(log)) {
		fprintf(stderr, "protsim: %s: cannot write\n", logpath);
		rc = 2;
	}
	free(logpath);
	sim_free(s);
	return rc;
}

static int cmd_sweep(const struct sim_cli *cl)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		fprintf(stderr, "protsim: sweep: cannot find the protsim binary (/proc/self/exe)\n");
		return 2;
	}
	self[n] = 0;
	return sim_sweep_main(cl, self);
}

static int cmd_plot(const struct sim_cli *cl)
{
	const char *x = sim_cli_value(cl, "x"), *y = sim_cli_value(cl, "y");
	const char *csv = cl->args[0];
	size_t n = strlen(csv);
	char *base;
	struct sim_err err;
	int rc;

	if (!x || !y)
		return sim_cli_usage_error(&plot_cmd, "give the axes: --x COLUMN --y COLUMN");
	if (sim_cli_value(cl, "out"))
		base = sim_xprintf("%s", sim_cli_value(cl, "out"));
	else if (n > 4 && !strcmp(csv + n - 4, ".csv"))
		base = sim_xprintf("%.*s", (int)(n - 4), csv);
	else
		base = sim_xprintf("%s", csv);
	rc = sim_plot(csv, x, y, sim_cli_value(cl, "by"), base, stdout, &err);
	free(base);
	if (rc) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return 0;
}

static int cmd_trace(const struct sim_cli *cl)
{
	struct sim_err err;

	if (strcmp(cl->args[0], "dump")) {
		fprintf(stderr, "protsim: trace: unknown subcommand '%s' (dump)\n", cl->args[0]);
		return 2;
	}
	if (sim_trace_dump(cl->args[1], stdout, &err)) {
		fflush(stdout);
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return 0;
}

static int cmd_import(const struct sim_cli *cl)
{
	const char *o = sim_cli_value(cl, "output"), *lim = sim_cli_value(cl, "limit");
	struct sim_lackey_count cnt;
	uint64_t limit = 0;
	struct sim_err err;
	char *out;
	char q[SIM_QUOTE_MAX];
	int rc;

	if (strcmp(cl->args[0], "lackey"))
		return sim_cli_usage_error(&import_cmd, "unknown trace format %s (lackey)",
					   sim_quote(cl->args[0], q));
	if (lim && (sim_parse_u64(lim, &limit) || !limit))
		return sim_cli_usage_error(&import_cmd, "--limit: expected a number of accesses "
					   "(1 or more), got %s", sim_quote(lim, q));
	out = o ? sim_xstrdup(o) : sim_xprintf("%s.zst", cl->args[1]);
	rc = sim_import_lackey(cl->args[1], out, limit, &cnt, &err);
	if (rc) {
		fprintf(stderr, "protsim: %s\n", err.msg);
	} else {
		printf("%s: %llu accesses (%llu fetches, %llu loads, %llu stores, %llu modifies) "
		       "from %llu lines (%llu skipped)%s\n", out, (unsigned long long)cnt.accesses,
		       (unsigned long long)cnt.kind[0], (unsigned long long)cnt.kind[1],
		       (unsigned long long)cnt.kind[2], (unsigned long long)cnt.kind[3],
		       (unsigned long long)cnt.lines, (unsigned long long)cnt.skipped,
		       limit && cnt.accesses == limit ? " (--limit reached)" : "");
	}
	free(out);
	return rc ? 2 : 0;
}

static int cmd_compare(const struct sim_cli *cl)
{
	struct sim_err err;
	int rc = sim_compare(cl->args[0], cl->args[1], stdout, &err);

	if (rc < 0) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return rc;
}

static int cmd_shell(const struct sim_cli *cl)
{
	struct sim *s = sim_new(stack_modules);
	int rc = apply_opts(s, cl);

	if (!rc)
		rc = sim_shell_run(&s, stdin, "<stdin>", stdout, stderr);   /* reset replaces s */
	sim_free(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* help, version                                                       */
/* ------------------------------------------------------------------ */

/* The op tables: the engine's, then each module's; NULL-terminated. */
static size_t ops_tables(const struct sim_op *tabs[], const char *titles[], size_t max)
{
	size_t n = 0;

	tabs[n] = sim_core_ops;
	titles[n++] = "engine";
	for (size_t i = 0; stack_modules[i] && n < max; i++) {
		if (!stack_modules[i]->ops || !stack_modules[i]->ops[0].name)
			continue;
		tabs[n] = stack_modules[i]->ops;
		titles[n++] = stack_modules[i]->name;
	}
	return n;
}

/* Does operation @name fall under the words @want ("s2" matches "s2 map", not "s2x")? */
static bool op_match(const char *name, const char *want)
{
	size_t l = strlen(want);

	return !want[0] || (!strncmp(name, want, l) && (name[l] == 0 || name[l] == ' '));
}

/* Print the operations under @want ("" = all) by table; return how many. */
static size_t help_ops_list(const char *want)
{
	const struct sim_op *tabs[16];
	const char *titles[16];
	size_t nt = ops_tables(tabs, titles, 16), shown = 0;

	for (size_t t = 0; t < nt; t++) {
		bool title = false;

		for (const struct sim_op *op = tabs[t]; op->name; op++) {
			if (!op_match(op->name, want))
				continue;
			if (!want[0] && !title)
				printf("\n%s:\n", titles[t]);
			title = true;
			char usage[1024];

			printf("  %s\n", sim_op_usage(op, usage, sizeof(usage)));
			if (op->help)
				printf("      %s\n", op->help);
			shown++;
		}
	}
	return shown;
}

/* The operation name closest to a mistyped @want, or NULL. */
static const char *ops_suggest(const char *want)
{
	const struct sim_op *tabs[16];
	const char *titles[16], *names[512];
	size_t nt = ops_tables(tabs, titles, 16), n = 0;

	for (size_t t = 0; t < nt; t++)
		for (const struct sim_op *op = tabs[t]; op->name && n < 512; op++)
			names[n++] = op->name;
	return sim_suggest(want, names, n);
}

static int help_ops(const char *want)
{
	char q[SIM_QUOTE_MAX];
	const char *best;

	if (!want[0])
		printf("Script operations (protsim script / shell); one per line:\n"
		       "  [@CYCLE] [cpuN] OP [key=value]...    then optionally: expect RESULT "
		       "[field=value]...\n"
		       "  machine mem=SIZE cpus=N [profile=NAME] ...   (before the first "
		       "operation)\n");
	if (help_ops_list(want))
		return 0;
	best = ops_suggest(want);
	if (best)
		return sim_cli_usage_error(&help_cmd, "no operation named %s (did you mean '%s'?)",
					   sim_quote(want, q), best);
	return sim_cli_usage_error(&help_cmd, "no operation named %s (protsim help ops lists them)",
				   sim_quote(want, q));
}

static int help_config(const char *key, bool markdown)
{
	struct sim *s = sim_new(stack_modules);
	char q[SIM_QUOTE_MAX];
	const char *best;
	int rc = 0;

	if (!key) {
		sim_cfg_write_reference(s, stdout, markdown);
	} else if (markdown) {
		rc = sim_cli_usage_error(&help_cmd, "--markdown writes every key (no KEY)");
	} else if (!sim_cfg_write_key_help(s, stdout, key)) {
		best = sim_cfg_suggest(s, key);
		if (best)
			rc = sim_cli_usage_error(&help_cmd, "no configuration key %s (did you mean "
						 "'%s'?)", sim_quote(key, q), best);
		else
			rc = sim_cli_usage_error(&help_cmd, "no configuration key %s (protsim help "
						 "config lists them)", sim_quote(key, q));
	}
	sim_free(s);
	return rc;
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

/* `protsim help NAME` where NAME is no topic: a command, an operation or a key. */
static int help_other(const char *name)
{
	static const char *const topics[] = { "config", "ops", "profiles" };
	const struct cmd *c = cmd_find(name);
	const char **names;
	const struct sim_cfg_key **keys;
	const char *best;
	struct sim *s;
	size_t n = 0, nk;
	char q[SIM_QUOTE_MAX];

	if (c) {
		sim_cli_help(c->cli, stdout);
		return 0;
	}
	if (help_ops_list(name))
		return 0;
	s = sim_new(stack_modules);
	if (sim_cfg_write_key_help(s, stdout, name)) {
		sim_free(s);
		return 0;
	}
	/* Nothing by that name: the closest topic, command, operation or key. */
	nk = sim_cfg_keys(s, &keys);
	names = sim_xcalloc(nk + 32, sizeof(*names));
	for (size_t i = 0; i < 3; i++)
		names[n++] = topics[i];
	for (c = cmds; c->cli; c++)
		names[n++] = c->cli->name;
	best = ops_suggest(name);
	if (best)
		names[n++] = best;
	for (size_t i = 0; i < nk; i++)
		names[n++] = keys[i]->name;
	best = sim_suggest(name, names, n);
	if (best)
		sim_cli_usage_error(&help_cmd, "unknown topic %s (did you mean '%s'?)",
				    sim_quote(name, q), best);
	else
		sim_cli_usage_error(&help_cmd, "unknown topic %s (topics: config, ops, profiles, "
				    "or a command, operation or key name)", sim_quote(name, q));
	free(names);
	sim_free(s);
	return 2;
}

/* argv words @from.. joined by single spaces ("s2 map"). Caller frees. */
static char *join_args(const struct sim_cli *cl, int from)
{
	char *w = sim_xstrdup("");

	for (int i = from; i < cl->nargs; i++) {
		char *t = sim_xprintf("%s%s%s", w, w[0] ? " " : "", cl->args[i]);

		free(w);
		w = t;
	}
	return w;
}

static int cmd_help(const struct sim_cli *cl)
{
	const char *topic = cl->nargs ? cl->args[0] : NULL;
	bool markdown = sim_cli_flag(cl, "markdown");
	char *rest;
	int rc;

	if (markdown && (!topic || strcmp(topic, "config")))
		return sim_cli_usage_error(&help_cmd, "--markdown goes with 'config'");
	if (!topic) {
		usage(stdout);
		printf("\nhelp topics: config [KEY] (--markdown), ops [OP], profiles, COMMAND\n");
		return 0;
	}
	if (!strcmp(topic, "config")) {
		if (cl->nargs > 2)
			return sim_cli_usage_error(&help_cmd, "one key at a time");
		return help_config(cl->nargs == 2 ? cl->args[1] : NULL, markdown);
	}
	if (!strcmp(topic, "profiles")) {
		if (cl->nargs > 1)
			return sim_cli_usage_error(&help_cmd, "profiles takes no name");
		return help_profiles();
	}
	rest = join_args(cl, !strcmp(topic, "ops") ? 1 : 0);
	rc = !strcmp(topic, "ops") ? help_ops(rest) : help_other(rest);
	free(rest);
	return rc;
}

static int cmd_version(const struct sim_cli *cl)
{
	(void)cl;
	printf("protsim %s (commit %s, build %s)\n", sim_version(), PROTSIM_COMMIT, PROTSIM_BUILD);
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	struct sim_cli cl;
	int rc;

	g_argc = argc;
	g_argv = argv;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		argv[1] = (char *)"version";
	c = cmd_find(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	if (c->main) {
		rc = c->main(argc - 1, argv + 1);
	} else {
		switch (sim_cli_parse(c->cli, argc - 1, argv + 1, &cl)) {
		case SIM_CLI_RUN:
			rc = c->fn(&cl);
			break;
		case SIM_CLI_HELP:
			rc = 0;
			break;
		default:
			rc = c->cli->usage_rc;
			break;
		}
		sim_cli_free(&cl);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "protsim: cannot write to standard output\n");
		return c->error_rc;
	}
	return rc;
}
