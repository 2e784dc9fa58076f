/*
 * script_shell.c - `protsim shell`: the operation language one typed line
 * at a time.  Each line runs at once: it is posted as a message to its
 * host CPU's mailbox (the CPU waits on it between lines), and the
 * scheduler runs until the line's op completes.  Agent clocks persist
 * from line to line.  Errors are reported and the shell goes on.
 *
 * Besides the language, the shell has its own commands (shell_cmds[]):
 * help, stats, reset, source, quit/exit.  On a terminal it reads with
 * libedit's readline(): a banner, a prompt, Tab completion of operation
 * names, argument keys, machine keys and choices (file names only after
 * `source`), history kept across sessions, and Ctrl-C to cancel the line
 * being typed.  Otherwise it reads plain lines, no prompt and no banner,
 * so piped use prints what a script would.
 */
#include "sim/script_int.h"

#include <editline/readline.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The history kept across sessions: this many lines at most. */
#define SHELL_HISTORY_MAX 1000
/* `source` inside a sourced file: at most this many files deep. */
#define SHELL_SOURCE_DEPTH 8

/* The shell's own commands (not operations), for help and completion. */
static const struct shell_cmd {
	const char *name;
	const char *usage;
	const char *help;
} shell_cmds[] = {
	{ "help", "help [PREFIX]",
	  "this list, or the operations and commands whose name starts with PREFIX" },
	{ "stats", "stats [PREFIX]",
	  "the statistics now (as in stats.txt), or those named PREFIX or PREFIX.*" },
	{ "reset", "reset",
	  "a fresh machine with the same configuration (clocks at 0, new memory and models)" },
	{ "source", "source FILE",
	  "run the lines of FILE as if typed (an error is reported, the next line runs)" },
	{ "quit", "quit", "leave the shell (also: exit, Ctrl-D, end of input)" },
	{ "exit", "exit", "leave the shell" },
	{ NULL, NULL, NULL }
};

bool sim_script_shell_cmd(const char *word)
{
	for (const struct shell_cmd *c = shell_cmds; c->name; c++)
		if (strcmp(c->name, word) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* help                                                                */
/* ------------------------------------------------------------------ */

/* The language's own lines, for `help` alone. */
static void help_language(FILE *out)
{
	fputs("  machine mem=SIZE cpus=N [profile=NAME] [rmp=contiguous|segmented|off] "
	      "[rmp_base=ADDR] [rmp_segment=SIZE] [host=kvm|pkvm] [KEY.NAME=VALUE]...\n"
	      "      configure the machine (before the first operation)\n"
	      "  [@CYCLE] [cpuN] OP [key=value]...\n"
	      "      run OP on cpuN (default cpu0), starting at CYCLE\n"
	      "  expect RESULT [field=value]...\n"
	      "      check the result of the operation just above\n", out);
}

/*
 * help [PREFIX]: every operation, the language and the commands; or the
 * operations and commands whose name starts with PREFIX (`help s2`,
 * `help rmp`, `help mem read`).
 */
static void shell_help(struct script *sc, const struct sim_script_words *w, int lineno)
{
	char *want = sim_script_words_join(w, 1);
	size_t wn = strlen(want), any = 0;
	char q[SIM_QUOTE_MAX];

	for (size_t i = 0; i < sc->nops; i++) {
		const struct sim_op *op = sc->ops[i];
		char usage[1024];

		if (strncmp(op->name, want, wn) != 0)
			continue;
		fprintf(sc->out, "  %s\n      %s\n", sim_op_usage(op, usage, sizeof(usage)),
			op->help ? op->help : "");
		any++;
	}
	if (!wn)
		help_language(sc->out);
	for (const struct shell_cmd *c = shell_cmds; c->name; c++) {
		if (strncmp(c->name, want, wn) != 0)
			continue;
		fprintf(sc->out, "  %s\n      %s\n", c->usage, c->help);
		any++;
	}
	fflush(sc->out);
	if (!any) {
		const char **names = sim_xcalloc(sc->nops + 8, sizeof(*names));
		const char *best;
		size_t n = 0;

		for (size_t i = 0; i < sc->nops; i++)
			names[n++] = sc->ops[i]->name;
		for (const struct shell_cmd *c = shell_cmds; c->name; c++)
			names[n++] = c->name;
		best = sim_suggest(want, names, n);
		if (best)
			sim_script_err(sc, lineno, "help: no operation or command starts with %s "
				       "(did you mean '%s'?)", sim_quote(want, q), best);
		else
			sim_script_err(sc, lineno, "help: no operation or command starts with %s",
				       sim_quote(want, q));
		free(names);
	}
	free(want);
}

/* ------------------------------------------------------------------ */
/* stats, reset                                                        */
/* ------------------------------------------------------------------ */

/* stats [PREFIX]: the counters now, as stats.txt shows them. */
static void shell_stats(struct script *sc, const struct sim_script_words *w, int lineno)
{
	char q[SIM_QUOTE_MAX];

	if (w->n > 2) {
		sim_script_err(sc, lineno, "stats: one PREFIX at most");
		return;
	}
	if (!sim_started(sc->s)) {
		sim_script_err(sc, lineno, "stats: no machine yet (the first operation builds it)");
		return;
	}
	if (!sim_stats_write_text_prefix(sc->s, sc->out, w->n == 2 ? w->w[1] : NULL))
		sim_script_err(sc, lineno, "stats: no statistic named %s or %s.*",
			       sim_script_show(w->w[1], q), sim_script_show(w->w[1], q));
	fflush(sc->out);
}

/*
 * Let the host CPUs finish (stopped, each returns: its mailbox is empty)
 * and drop what the interpreter holds of this machine: CPUs, the last line.
 */
static void shell_close_machine(struct script *sc)
{
	if (sc->agents) {
		sim_script_stop_cpus(sc);
		sim_run(sc->s);
	}
	for (int i = 0; i < sc->ncpus; i++) {
		if (sc->cpus[i].call)
			sim_script_call_free(sc->cpus[i].call);
		sim_script_cursor_free(&sc->cpus[i].cur);
	}
	sim_script_line_free(sc->last);
	free(sc->cpus);
	sc->cpus = NULL;
	sc->ncpus = 0;
	sc->agents = false;
	sc->last = sc->target = NULL;
	sc->machine_line = 0;
}

/*
 * reset: a new simulator with the same modules and every key a file, a
 * machine line or the command line set, each keeping where it came from
 * (so --set still wins over a machine line typed after it).  The latency
 * profile is applied again when the new machine is built.
 */
static void shell_reset(struct script *sc, const struct sim_script_words *w, int lineno)
{
	const struct sim_cfg_key **keys;
	struct sim *old = sc->s, *s;
	struct sim_err err;
	size_t n;

	if (w->n > 1) {
		sim_script_err(sc, lineno, "reset: takes no argument");
		return;
	}
	if (!sc->sp) {
		sim_script_err(sc, lineno, "reset: not available here (the caller owns the "
			       "simulator; see sim_shell_run())");
		return;
	}
	s = sim_new(sim_modules(old));
	n = sim_cfg_keys(old, &keys);
	for (size_t i = 0; i < n; i++) {
		const char *k = keys[i]->name;

		if (sim_cfg_is_set(old, k) &&
		    sim_cfg_set(s, k, sim_cfg_str(old, k), sim_cfg_origin(old, k), 0, &err) != 0)
			sim_fatal("shell: reset: %s", err.msg);
	}
	shell_close_machine(sc);
	sim_free(old);
	sc->s = *sc->sp = s;
	fputs("reset: a fresh machine with the same configuration\n", sc->out);
	fflush(sc->out);
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

static int shell_source(struct script *sc, const struct sim_script_words *w, int lineno);

/* One shell line.  Return: 0 go on, 1 quit, 2 the shell cannot go on. */
static int shell_line(struct script *sc, const char *text, int lineno)
{
	struct sim_script_words w;
	struct script_line *l = NULL;
	struct script_expect *e = NULL;
	int rc = 0;

	sim_script_split(text, &w);
	if (w.n && sim_script_shell_cmd(w.w[0])) {
		const char *cmd = w.w[0];

		if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "exit") == 0)
			rc = 1;
		else if (strcmp(cmd, "help") == 0)
			shell_help(sc, &w, lineno);
		else if (strcmp(cmd, "stats") == 0)
			shell_stats(sc, &w, lineno);
		else if (strcmp(cmd, "reset") == 0)
			shell_reset(sc, &w, lineno);
		else
			rc = shell_source(sc, &w, lineno);
		sim_script_words_free(&w);
		return rc;
	}
	switch (sim_script_parse_line(sc, &w, lineno, sc->target != NULL, &l, &e)) {
	case SCRIPT_LINE_BLANK:
		break;
	case SCRIPT_LINE_MACHINE:
	case SCRIPT_LINE_ERROR:
		sc->target = NULL;
		break;
	case SCRIPT_LINE_EXPECT:
		if (!sc->target->done)
			sim_script_err(sc, lineno, "expect: the operation above did not complete");
		else
			sim_script_expect_check(sc, sc->target, e);
		sim_script_expect_free(e);
		break;
	case SCRIPT_LINE_OP:
		rc = sim_script_start(sc);
		if (rc) {
			sim_script_line_free(l);
			break;
		}
		sim_script_post_line(sc, l);
		sim_run(sc->s);
		if (sim_script_check_stuck(sc)) {
			rc = 2;
			sim_script_line_free(l);   /* never resumed: the shell ends */
			break;
		}
		sim_script_line_free(sc->last);
		sc->last = sc->target = l;
		break;
	}
	sim_script_words_free(&w);
	return rc;
}

/*
 * Open @path for `source`: a regular file only (a directory, a device or
 * a FIFO could read as an error, without end or block the shell).  The
 * stream, or NULL with a reason in @why.
 */
static FILE *open_source(const char *path, char *why, size_t whylen)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st) != 0) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return NULL;
	}
	f = fopen(path, "r");
	if (!f)
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
	return f;
}

/*
 * source FILE: its lines run as if typed, with messages naming FILE:LINE
 * (FILE as typed), each error reported and the next line run.  FILE must
 * be a regular file.  A line the reader refuses (too long, a NUL byte)
 * ends the file; `quit` in it leaves the shell.  Return as shell_line().
 */
static int shell_source(struct script *sc, const struct sim_script_words *w, int lineno)
{
	const char *name = sc->name, *path;
	struct script_cursor cur;
	struct script_src src;
	char why[256], q[SIM_QUOTE_MAX];
	uint64_t start;
	char *text;
	int err = 0, rc = 0;
	FILE *f;

	if (w->n != 2) {
		sim_script_err(sc, lineno, "source: %s",
			       w->n < 2 ? "missing FILE" : "one FILE at a time");
		return 0;
	}
	path = w->w[1];
	if (sc->depth >= SHELL_SOURCE_DEPTH) {
		sim_script_err(sc, lineno, "source: %s: more than %d files deep",
			       sim_script_show(path, q), SHELL_SOURCE_DEPTH);
		return 0;
	}
	f = open_source(path, why, sizeof(why));
	if (!f) {
		sim_script_err(sc, lineno, "source: %s: %s", sim_script_show(path, q), why);
		return 0;
	}
	if (sim_script_src_file(&src, f, why, sizeof(why)) != 0) {
		sim_script_err(sc, lineno, "source: %s: cannot read: %s",
			       sim_script_show(path, q), why);
		fclose(f);
		return 0;
	}
	sc->name = path;
	sc->depth++;
	sim_script_cursor_init(&cur, &src, 0, 0);
	while (!rc && (text = sim_script_cursor_next(&cur, &start, &err)) != NULL)
		rc = shell_line(sc, text, cur.lineno);
	if (err)
		sim_script_cursor_report(sc, &cur);
	sim_script_cursor_free(&cur);
	sc->depth--;
	sc->name = name;
	sim_script_src_close(&src);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading lines                                                       */
/* ------------------------------------------------------------------ */

/*
 * A line of a stream that is not a terminal, without its newline, in
 * *@buf (*@len bytes, NUL-terminated; it may hold NUL bytes).  Return 1,
 * 0 at the end, -1 for a line longer than SIM_SCRIPT_LINE_MAX (read up to
 * one byte past the limit, no further) or -2 on a read error (errno).
 */
static int read_plain(FILE *in, char **buf, size_t *cap, size_t *len)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(in)) != EOF && ch != '\n') {
		if (n == SIM_SCRIPT_LINE_MAX)
			return -1;
		if (n + 1 >= *cap) {
			*cap = *cap ? 2 * *cap : 256;
			*buf = sim_xrealloc(*buf, *cap);
		}
		(*buf)[n++] = (char)ch;
	}
	if (ch == EOF && ferror(in))
		return -2;
	if (ch == EOF && n == 0)
		return 0;
	if (!*buf)
		*buf = sim_xrealloc(NULL, *cap = 1);
	(*buf)[n] = '\0';
	*len = n;
	return 1;
}

/* Set by SIGINT while readline() waits for a key. */
static volatile sig_atomic_t shell_interrupted;

static void shell_sigint(int sig)
{
	(void)sig;
	shell_interrupted = 1;
}

/*
 * readline()'s key source: read() without SA_RESTART, so Ctrl-C (SIGINT)
 * interrupts the wait.  The line is then ended at once (a newline) and
 * the caller drops it: Ctrl-C cancels the line being typed, as in a
 * POSIX shell, instead of killing the process and every machine state.
 */
static int shell_getc(FILE *in)
{
	unsigned char ch;
	ssize_t r;

	for (;;) {
		if (shell_interrupted) {
			fputs("^C", rl_outstream ? rl_outstream : stdout);
			return '\n';
		}
		r = read(fileno(in), &ch, 1);
		if (r == 1)
			return ch;
		if (r < 0 && errno == EINTR)
			continue;
		return EOF;
	}
}

/* mkdir -p @path (mode 0700 for what it creates).  0, or -1. */
static int mkdir_p(char *path)
{
	struct stat st;

	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/*
 * The history file: $XDG_STATE_HOME/protsim/history, or, without an
 * absolute XDG_STATE_HOME, $HOME/.local/state/protsim/history (the XDG
 * Base Directory Specification's state directory).  Its directory is
 * created.  NULL when there is no such place (no HOME, a read-only one):
 * the shell then keeps no history across sessions.
 */
static char *history_path(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *dir, *path;

	if (xdg && xdg[0] == '/')
		dir = sim_xprintf("%s/protsim", xdg);
	else if (home && home[0] == '/')
		dir = sim_xprintf("%s/.local/state/protsim", home);
	else
		return NULL;
	if (mkdir_p(dir) != 0) {
		free(dir);
		return NULL;
	}
	path = sim_xprintf("%s/history", dir);
	free(dir);
	return path;
}

/* ------------------------------------------------------------------ */
/* Tab completion                                                      */
/* ------------------------------------------------------------------ */

/* The shell being completed for (readline's callbacks take no context). */
static struct script *shell_sc;

/* The candidates of one completion, matched by shell_complete_next(). */
static struct {
	char **w;
	size_t n, cap;
} cands;

static void cand_add(const char *w, size_t len)
{
	for (size_t i = 0; i < cands.n; i++)
		if (strlen(cands.w[i]) == len && strncmp(cands.w[i], w, len) == 0)
			return;
	if (cands.n == cands.cap) {
		cands.cap = cands.cap ? 2 * cands.cap : 64;
		cands.w = sim_xrealloc(cands.w, cands.cap * sizeof(*cands.w));
	}
	cands.w[cands.n++] = sim_xprintf("%.*s", (int)len, w);
}

/* The candidate @key followed by "=" and @val ("" for the key alone). */
static void cand_kv(const char *key, const char *val)
{
	char *w = sim_xprintf("%s=%s", key, val);

	cand_add(w, strlen(w));
	free(w);
}

static void cands_clear(void)
{
	for (size_t i = 0; i < cands.n; i++)
		free(cands.w[i]);
	cands.n = 0;
}

static char *shell_complete_next(const char *text, int state)
{
	static size_t i;
	size_t len = strlen(text);

	if (!state)
		i = 0;
	while (i < cands.n) {
		const char *w = cands.w[i++];

		if (strncmp(w, text, len) == 0)
			return sim_xstrdup(w);
	}
	return NULL;
}

/* Operation names: each first word (@first NULL), or the second words after @first. */
static void cands_ops(const struct script *sc, const char *first)
{
	for (size_t i = 0; i < sc->nops; i++) {
		const char *name = sc->ops[i]->name, *sp = strchr(name, ' ');

		if (!first)
			cand_add(name, sp ? (size_t)(sp - name) : strlen(name));
		else if (sp && (size_t)(sp - name) == strlen(first) &&
			 strncmp(name, first, (size_t)(sp - name)) == 0)
			cand_add(sp + 1, strlen(sp + 1));
	}
}

/* The operation named by @w[0] (and @w[1]): its words used in *@used. */
static const struct sim_op *op_named(const struct script *sc, char **w, size_t n, size_t *used)
{
	for (size_t i = 0; i < sc->nops; i++) {
		const char *name = sc->ops[i]->name, *sp = strchr(name, ' ');

		if (sp && n >= 2 && (size_t)(sp - name) == strlen(w[0]) &&
		    strncmp(name, w[0], (size_t)(sp - name)) == 0 && strcmp(sp + 1, w[1]) == 0) {
			*used = 2;
			return sc->ops[i];
		}
	}
	for (size_t i = 0; i < sc->nops; i++) {
		if (n >= 1 && strcmp(sc->ops[i]->name, w[0]) == 0) {
			*used = 1;
			return sc->ops[i];
		}
	}
	return NULL;
}

/* Values of @spec after "key=": its choices, 0|1, its sizes. */
static void cands_values(const struct sim_arg_spec *spec)
{
	char b[32];

	switch (spec->type) {
	case SIM_ARG_ENUM:
		for (size_t i = 0; spec->choices[i]; i++)
			cand_kv(spec->key, spec->choices[i]);
		break;
	case SIM_ARG_BOOL:
		cand_kv(spec->key, "0");
		cand_kv(spec->key, "1");
		break;
	case SIM_ARG_SIZESET:
		for (unsigned k = 0; k < 64; k++)
			if (spec->sizes & (1ull << k))
				cand_kv(spec->key, sim_fmt_size(1ull << k, b));
		break;
	default:
		break;
	}
}

/* machine KEY=...: the short names and every config key; after '=', choices. */
static void cands_machine(const struct script *sc, const char *text)
{
	const char *eq = strchr(text, '=');
	const struct sim_cfg_key **keys;
	size_t n = sim_cfg_keys(sc->s, &keys);

	if (!eq) {
		for (size_t m = 0; sim_script_machine_keys[m][0]; m++)
			cand_kv(sim_script_machine_keys[m][0], "");
		for (size_t i = 0; i < n; i++)
			cand_kv(keys[i]->name, "");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = keys[i]->name;
		size_t kl = (size_t)(eq - text);
		bool same = strlen(name) == kl && strncmp(name, text, kl) == 0;

		for (size_t m = 0; !same && sim_script_machine_keys[m][0]; m++)
			same = strlen(sim_script_machine_keys[m][0]) == kl &&
			       strncmp(sim_script_machine_keys[m][0], text, kl) == 0 &&
			       strcmp(sim_script_machine_keys[m][1], name) == 0;
		if (!same)
			continue;
		char *k = sim_xprintf("%.*s", (int)kl, text);

		if (strcmp(name, "machine.profile") == 0)
			for (const char *const *p = sim_profile_names(); *p; p++)
				cand_kv(k, *p);
		for (size_t c = 0; keys[i]->type == SIM_CFG_ENUM && keys[i]->choices[c]; c++)
			cand_kv(k, keys[i]->choices[c]);
		free(k);
	}
}

/*
 * Fill the candidates for the word @text, given the words before it:
 * after an optional @CYCLE and cpuN, an operation's first word (or a
 * shell command), its second word, then its argument keys ("key=") and,
 * after '=', the choices of an ENUM, BOOL or size-set argument.
 */
static bool shell_candidates(struct script *sc, char **w, size_t n, const char *text)
{
	size_t used = 0, i = 0;
	const struct sim_op *op;
	bool lead = false;

	if (n && w[0][0] == '@') {
		i++;
		lead = true;
	}
	if (i < n && strncmp(w[i], "cpu", 3) == 0 && w[i][3] >= '0' && w[i][3] <= '9') {
		i++;
		lead = true;
	}
	w += i;
	n -= i;
	if (n == 0) {
		int ncpus = sc->ncpus ? sc->ncpus : (int)sim_cfg_u64(sc->s, "machine.cpus");

		cands_ops(sc, NULL);
		if (!lead) {
			for (const struct shell_cmd *c = shell_cmds; c->name; c++)
				cand_add(c->name, strlen(c->name));
			cand_add("machine", 7);
			cand_add("expect", 6);
		}
		if (!lead && strncmp(text, "cpu", 3) == 0)
			for (int k = 0; k < ncpus && k < 1024; k++) {
				char cpu[16];

				snprintf(cpu, sizeof(cpu), "cpu%d", k);
				cand_add(cpu, strlen(cpu));
			}
		return true;
	}
	if (!lead && strcmp(w[0], "source") == 0)
		return false;   /* file names */
	if (!lead && strcmp(w[0], "help") == 0) {
		cands_ops(sc, n == 1 ? NULL : w[1]);
		if (n == 1)
			for (const struct shell_cmd *c = shell_cmds; c->name; c++)
				cand_add(c->name, strlen(c->name));
		return true;
	}
	if (!lead && strcmp(w[0], "machine") == 0) {
		cands_machine(sc, text);
		return true;
	}
	op = op_named(sc, w, n, &used);
	if (!op) {
		if (n == 1)
			cands_ops(sc, w[0]);
		return true;
	}
	for (const struct sim_arg_spec *a = op->args; a && a->key; a++) {
		size_t kl = strlen(a->key);
		bool given = false;

		if (strncmp(text, a->key, kl) == 0 && text[kl] == '=') {
			cands_values(a);
			continue;
		}
		for (size_t k = used; k < n; k++)
			given |= strncmp(w[k], a->key, kl) == 0 && w[k][kl] == '=';
		if (!given)
			cand_kv(a->key, "");
	}
	return true;
}

static char **shell_complete(const char *text, int start, int end)
{
	struct sim_script_words w;
	char *before = sim_xprintf("%.*s", start, rl_line_buffer);
	char **m = NULL;
	bool ours;

	(void)end;
	cands_clear();
	sim_script_split(before, &w);
	ours = shell_candidates(shell_sc, w.w, w.n, text);
	sim_script_words_free(&w);
	free(before);
	if (!ours) {
		rl_attempted_completion_over = 0;   /* `source FILE`: file names */
		return NULL;
	}
	rl_attempted_completion_over = 1;       /* never file names */
	/* "key=" goes on with its value: no space after it. */
	rl_completion_append_character = ' ';
	for (size_t i = 0, hits = 0; i < cands.n; i++) {
		size_t l = strlen(cands.w[i]);

		if (strncmp(cands.w[i], text, strlen(text)) != 0)
			continue;
		hits++;
		rl_completion_append_character = hits == 1 && cands.w[i][l - 1] == '=' ? '\0' : ' ';
	}
	m = rl_completion_matches(text, shell_complete_next);
	return m;
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

int sim_script_shell(struct script *sc, FILE *in)
{
	bool tty = isatty(fileno(in));
	struct sigaction sa, old;
	char *buf = NULL, *hist = NULL;
	size_t cap = 0, len = 0;
	int lineno = 0, rc = 0;

	if (tty) {
		rl_instream = in;
		rl_outstream = sc->out;
		rl_catch_signals = 0;             /* our SIGINT handler, not libedit's */
		rl_getc_function = shell_getc;
		rl_attempted_completion_function = shell_complete;
		rl_basic_word_break_characters = " \t\n";
		shell_sc = sc;
		stifle_history(SHELL_HISTORY_MAX);
		hist = history_path();
		if (hist)
			read_history(hist);
		fprintf(sc->out, "protsim %s shell. `help` lists the operations and commands "
			"(`help PREFIX`: those starting with it),\nTab completes, `quit` or "
			"Ctrl-D leaves, Ctrl-C cancels the line being typed.\n", sim_version());
		fflush(sc->out);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = shell_sigint;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;                  /* no SA_RESTART: interrupt read() */
	}
	for (;;) {
		char *text;
		int lrc;

		if (tty) {
			shell_interrupted = 0;
			sigaction(SIGINT, &sa, &old);
			text = readline("protsim> ");
			sigaction(SIGINT, &old, NULL);
			if (text && shell_interrupted) {
				free(text);
				continue;
			}
			len = text ? strlen(text) : 0;
		} else {
			int r = read_plain(in, &buf, &cap, &len);

			if (r == -1) {
				rc = sim_script_line_check(sc, buf, SIM_SCRIPT_LINE_MAX + 1, lineno + 1);
				break;
			}
			if (r == -2) {
				rc = sim_script_err(sc, lineno + 1, "cannot read: %s", strerror(errno));
				break;
			}
			text = r ? buf : NULL;
		}
		if (!text) {
			if (tty)
				fputc('\n', sc->out);
			break;
		}
		if (lineno == INT_MAX - 1) {
			rc = sim_script_err(sc, lineno, "more than %d lines (the limit)",
					    INT_MAX - 1);
			if (tty)
				free(text);
			break;
		}
		lineno++;
		if (sim_script_line_check(sc, text, len, lineno)) {
			lrc = 0;
		} else {
			if (tty && text[0]) {
				add_history(text);
				if (hist)
					write_history(hist);
			}
			/* A byte order mark before the first line (a file piped in): skipped. */
			lrc = shell_line(sc, lineno == 1 ? sim_script_skip_bom(text) : text, lineno);
		}
		if (tty)
			free(text);
		if (lrc == 1)
			break;
		if (lrc == 2) {
			rc = 2;
			break;
		}
	}
	free(buf);
	free(hist);
	if (tty) {
		cands_clear();
		free(cands.w);
		cands.w = NULL;
		cands.cap = 0;
		shell_sc = NULL;
	}
	/* Let the idle host CPUs finish. */
	if (sc->agents && rc == 0) {
		sim_script_stop_cpus(sc);
		sim_run(sc->s);
	}
	return rc;
}

int sim_shell_run(struct sim **sp, FILE *in, const char *name, FILE *out, FILE *errf)
{
	struct script sc = {
		.s = *sp, .sp = sp, .name = name, .out = out, .errf = errf, .interactive = true,
	};
	int rc;

	sim_script_ops_build(&sc);
	rc = sim_script_shell(&sc, in);
	fflush(out);
	for (int i = 0; i < sc.ncpus; i++) {
		/* An op left in flight (a deadlock): free its buffers (its stack stays). */
		if (sc.cpus[i].call)
			sim_script_call_free(sc.cpus[i].call);
		sim_script_cursor_free(&sc.cpus[i].cur);
	}
	sim_script_line_free(sc.last);
	free(sc.cpus);
	free(sc.ops);
	return rc;
}
