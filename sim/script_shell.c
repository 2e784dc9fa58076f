/*
 * script_shell.c - `protsim shell`: the operation language one typed line
 * at a time.  Each line runs at once: the line is queued on its CPU's
 * agent, which blocks when its queue is empty and is woken when a line for
 * it arrives, and the scheduler runs until the line's op completes.  Agent
 * clocks persist from line to line.  Errors are reported and the shell
 * goes on.
 */
#include "sim/script_int.h"

#include <editline/readline.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void shell_help(struct script *sc, const struct sim_script_words *w)
{
	char *want = sim_script_words_join(w, 1);
	size_t wn = strlen(want);
	bool any = false;

	for (size_t i = 0; i < sc->nops; i++) {
		const struct sim_op *op = sc->ops[i];
		char usage[1024];

		if (wn && !(strncmp(op->name, want, wn) == 0 &&
			    (op->name[wn] == '\0' || op->name[wn] == ' ')))
			continue;
		fprintf(sc->out, "  %s\n      %s\n", sim_op_usage(op, usage, sizeof(usage)),
			op->help ? op->help : "");
		any = true;
	}
	if (!wn) {
		fputs("  machine mem=SIZE cpus=N [profile=NAME] [rmp=contiguous|segmented|off] "
		      "[rmp_base=ADDR] [rmp_segment=SIZE] [KEY.NAME=VALUE]...\n"
		      "      configure the machine (before the first operation)\n"
		      "  [@CYCLE] [cpuN] OP [key=value]...\n"
		      "      run OP on cpuN (default cpu0), starting at CYCLE\n"
		      "  expect RESULT [field=value]...\n"
		      "      check the result of the operation just above\n"
		      "  help [OP]   this list, or the operations starting with OP\n"
		      "  quit        leave the shell (also: exit, end of input)\n", sc->out);
	} else if (!any) {
		fprintf(sc->out, "no operation named '%s'\n", want);
	}
	fflush(sc->out);
	free(want);
}

static void cpu_queue(struct script *sc, struct script_line *l)
{
	struct script_cpu *cpu = &sc->cpus[l->cpu];

	l->next = NULL;
	if (cpu->tail)
		cpu->tail->next = l;
	else
		cpu->head = l;
	cpu->tail = l;
}

/* One shell line.  Return: 0 go on, 1 quit, 2 the shell cannot go on. */
static int shell_line(struct script *sc, const char *text, int lineno)
{
	struct sim_script_words w;
	struct script_line *l = NULL;
	struct script_expect *e = NULL;
	int rc = 0;

	sim_script_split(text, &w);
	if (w.n && (strcmp(w.w[0], "quit") == 0 || strcmp(w.w[0], "exit") == 0)) {
		sim_script_words_free(&w);
		return 1;
	}
	if (w.n && strcmp(w.w[0], "help") == 0) {
		shell_help(sc, &w);
		sim_script_words_free(&w);
		return 0;
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
		cpu_queue(sc, l);
		sim_wake(NULL, sc->cpus[l->cpu].agent);
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

int sim_script_shell(struct script *sc, FILE *in)
{
	bool tty = isatty(fileno(in));
	char *buf = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	if (tty) {
		rl_instream = in;
		rl_outstream = sc->out;
	}
	for (;;) {
		char *text;
		int lrc;

		if (tty) {
			text = readline("protsim> ");
		} else {
			ssize_t n = getline(&buf, &cap, in);

			text = n < 0 ? NULL : buf;
			if (n > 0 && buf[n - 1] == '\n')
				buf[n - 1] = '\0';
		}
		if (!text) {
			if (tty)
				fputc('\n', sc->out);
			break;
		}
		lineno++;
		if (tty && text[0])
			add_history(text);
		lrc = shell_line(sc, text, lineno);
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
	/* Let idle agents finish. */
	if (sc->agents && rc == 0) {
		sc->closing = true;
		for (int i = 0; i < sc->ncpus; i++)
			sim_wake(NULL, sc->cpus[i].agent);
		sim_run(sc->s);
	}
	return rc;
}
