/*
 * script_run.c - running the operation language: `protsim script FILE|-`.
 *
 * A script is read twice, each time as a stream, so that memory does not
 * grow with its length:
 *
 *  1. Check: every line is parsed and checked (operation, arguments and
 *     their values, expect lines, the machine line, which is applied to
 *     the configuration), then dropped.  A malformed line stops the script
 *     with exit 2 before the machine is even built (script_parse.c lists
 *     what this finds and what only the run finds).  This pass also notes
 *     where each CPU's first operation line is and how many it has.
 *  2. Run: the machine is started and each of its host CPUs (cpu0 ..
 *     cpuN-1, agents of the engine: sim_host_cpu()) runs its lines in file
 *     order, as messages posted to its mailbox: one per line, which reads
 *     the line from the CPU's own cursor, parses only it (and the expect
 *     lines below it) when the CPU is ready to start it, runs it, then
 *     posts the message for the next line.  So at most one line per CPU
 *     is held.  The engine interleaves the agents by (cycle, agent id), so
 *     lines of different CPUs run in start-cycle order, whatever their
 *     distance in the file.
 *
 * Each line prints one result line when it completes; `expect` lines
 * check the result of the operation just above them.
 *
 * The language is documented, as implemented, in docs/script.md.
 */
#include "sim/script_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

int sim_script_err(struct script *sc, int lineno, const char *fmt, ...)
{
	va_list ap;

	fflush(sc->out);
	fprintf(sc->errf, "%s:%d: ", sc->name, lineno);
	va_start(ap, fmt);
	vfprintf(sc->errf, fmt, ap);
	va_end(ap);
	fputc('\n', sc->errf);
	fflush(sc->errf);
	return 2;
}

/*
 * A failure while running: record @rc (the first one wins).  A script
 * stops at once; the shell reports and goes on.
 */
static void script_fail(struct script *sc, int rc)
{
	if (sc->interactive)
		return;
	if (!sc->rc)
		sc->rc = rc;
	sc->stopped = true;
	sim_stop(sc->s);
}

/* ------------------------------------------------------------------ */
/* Running one line                                                    */
/* ------------------------------------------------------------------ */

/* Result token and fields, single-spaced, for messages. */
static char *result_text(const char *tok, const struct sim_script_kv *kv, size_t n)
{
	struct sim_sbuf b = { 0 };

	sim_sbuf_printf(&b, "%s", tok);
	for (size_t i = 0; i < n; i++)
		sim_sbuf_printf(&b, " %s=%s", kv[i].key, kv[i].val);
	return b.p;
}

bool sim_script_expect_check(struct script *sc, const struct script_line *l,
			     const struct script_expect *e)
{
	char *got;

	if (sim_script_expect_ok(e->tok, e->kv, e->nkv, l->res, l->kv, l->nkv))
		return true;
	got = result_text(l->res, l->kv, l->nkv);
	sim_script_err(sc, e->lineno, "expect failed: expected %s; got %s", e->text, got);
	free(got);
	script_fail(sc, 1);
	return false;
}

/*
 * ops.NAME.cycles: a histogram of the cycles each line of operation NAME
 * took, from its start to its result (spaces in NAME become '_').
 */
static void op_latency(struct script *sc, const char *op, uint64_t cycles)
{
	char name[96];
	size_t n = (size_t)snprintf(name, sizeof(name), "ops.%s", op);

	for (size_t i = 0; i < n && i < sizeof(name); i++)
		if (name[i] == ' ')
			name[i] = '_';
	if (n + sizeof(".cycles") > sizeof(name))
		return;
	memcpy(name + n, ".cycles", sizeof(".cycles"));
	sim_hist_add(sim_stat_hist_owned(sc->s, name, "cycles of each line of this operation, "
					 "from its start to its result"), cycles);
}

/* Print the result of the op run on line @l and check its expects. */
static void run_line_finish(struct script *sc, struct script_line *l, struct sim_call *c,
			    uint64_t start)
{
	struct sim_agent *a = c->agent;

	if (sc->stopped) {
		/* The run failed while this op was in flight: drain silently. */
		sim_script_call_free(c);
		return;
	}
	if (c->bad) {
		sim_script_err(sc, l->lineno, "%s", sim_sbuf_str(&c->badmsg));
		sim_script_call_free(c);
		script_fail(sc, 2);
		return;
	}
	if (!c->has_res)
		sim_fatal("script: operation '%s' set no result", l->op->name);
	fputs(sim_sbuf_str(&c->extra), sc->out);
	fprintf(sc->out, "[%llu] %s %s%s%s -> %s", (unsigned long long)start, sim_agent_name(a),
		l->op->name, l->args_text[0] ? " " : "", l->args_text, sim_sbuf_str(&c->res));
	for (size_t i = 0; i < c->nkv; i++)
		fprintf(sc->out, " %s=%s", c->kv[i].key, c->kv[i].val);
	fprintf(sc->out, " (%llu cycles)\n", (unsigned long long)(sim_now(a) - start));
	op_latency(sc, l->op->name, sim_now(a) - start);
	if (sim_timeline_on(sc->s)) {
		char *res = sim_json_quote(sim_sbuf_str(&c->res));
		char *args = sim_xprintf("\"line\":%d,\"result\":%s", l->lineno, res);

		sim_timeline_span(sc->s, sim_agent_id(a), "op", l->op->name, start, sim_now(a), args);
		free(args);
		free(res);
	}
	if (sim_trace_on(sc->s)) {
		struct sim_trace_field *kv = sim_xcalloc(c->nkv + 1, sizeof(*kv));

		for (size_t i = 0; i < c->nkv; i++)
			kv[i] = (struct sim_trace_field){ c->kv[i].key, c->kv[i].val };
		sim_trace_op(sc->s, sim_agent_id(a), start, sim_now(a), l->lineno, l->op->name,
			     l->args_text, sim_sbuf_str(&c->res), kv, c->nkv);
		free(kv);
	}
	if (sc->interactive)
		fflush(sc->out);
	/* Keep the result for expect lines. */
	l->res = c->res.p ? c->res.p : sim_xstrdup("");
	c->res.p = NULL;
	l->kv = c->kv;
	l->nkv = c->nkv;
	c->kv = NULL;
	c->nkv = 0;
	sim_script_call_free(c);
	l->done = true;
	for (const struct script_expect *e = l->exp; e; e = e->next)
		if (!sim_script_expect_check(sc, l, e))
			return;
}

/* Run one line on its agent (inside the agent's coroutine). */
void sim_script_run_line(struct script_cpu *cpu, struct script_line *l)
{
	struct script *sc = cpu->sc;
	struct sim_agent *a = cpu->agent;
	struct sim_call c = { .sc = sc, .line = l, .agent = a };
	uint64_t start = sim_now(a);

	if (l->has_cycle) {
		if (l->cycle < start) {
			sim_script_err(sc, l->lineno, "@%llu: earlier than %s's clock (%llu)",
				       (unsigned long long)l->cycle, sim_agent_name(a),
				       (unsigned long long)start);
			script_fail(sc, 2);
			return;
		}
		start = l->cycle;
	}
	sim_wait_until(a, start);
	sim_sync(a);   /* take effect in global (cycle, agent) order at any quantum */
	if (sc->stopped)
		return;
	/*
	 * An operation takes effect at its start cycle (models record lock and
	 * in-use windows from there), so the line completes as one step: hold
	 * the agent while the op advances its clock, print, check the expects,
	 * then let the scheduler switch.  Results thus print in start order.
	 */
	sim_hold(a, true);
	cpu->call = &c;
	l->op->run(&c);
	cpu->call = NULL;
	run_line_finish(sc, l, &c, start);
	sim_hold(a, false);
}

/* ------------------------------------------------------------------ */
/* The host CPUs' lines                                                */
/* ------------------------------------------------------------------ */

/*
 * Reading agent @cpu's next line failed: a read error (@err), or a line the
 * check pass accepted is gone or no longer parses (@printed: its message
 * is out) because the file changed while the script ran.  Stop, exit 2.
 */
static struct script_line *cpu_read_fail(struct script_cpu *cpu, int err, bool printed)
{
	struct script *sc = cpu->sc;

	if (err)
		sim_script_cursor_report(sc, &cpu->cur);
	else if (!printed)
		sim_script_err(sc, cpu->cur.lineno + 1, "cpu%d: the script changed while it ran",
			       cpu->idx);
	script_fail(sc, 2);
	return NULL;
}

/*
 * Batch: read agent @cpu's next operation line, with the expect lines just
 * below it, from its own cursor.  NULL when it has no more (or on a
 * failure, which stops the run).  Lines of other agents are skipped
 * without being parsed.
 */
static struct script_line *cpu_read_line(struct script_cpu *cpu)
{
	struct script *sc = cpu->sc;
	struct script_line *l = NULL;
	uint64_t start;
	char *text;
	int err = 0;

	if (!cpu->nlines)
		return NULL;
	if (!cpu->cur_open) {
		sim_script_cursor_init(&cpu->cur, sc->src, cpu->first_pos, cpu->first_lineno - 1);
		cpu->cur_open = true;
	}
	while ((text = sim_script_cursor_next(&cpu->cur, &start, &err)) != NULL) {
		struct sim_script_words w;
		struct script_expect *e = NULL;
		enum script_line_kind kind;

		if (sim_script_line_agent(text) != cpu->idx)
			continue;
		sim_script_split(text, &w);
		kind = sim_script_parse_line(sc, &w, cpu->cur.lineno, false, &l, &e);
		sim_script_words_free(&w);
		if (kind != SCRIPT_LINE_OP || l->cpu != cpu->idx) {
			if (e)
				sim_script_expect_free(e);
			sim_script_line_free(l);
			cpu->cur.lineno--;
			return cpu_read_fail(cpu, 0, kind == SCRIPT_LINE_ERROR);
		}
		break;
	}
	if (!l)
		return cpu_read_fail(cpu, err, false);
	cpu->nlines--;
	/* Its expect lines: below it, up to a line that is neither blank nor an expect. */
	for (;;) {
		uint64_t mark = cpu->cur.pos;
		int mark_line = cpu->cur.lineno;
		struct sim_script_words w;
		struct script_expect *e = NULL;
		enum script_line_kind kind;

		text = sim_script_cursor_next(&cpu->cur, &start, &err);
		if (!text) {
			if (err) {
				sim_script_line_free(l);
				return cpu_read_fail(cpu, err, false);
			}
			break;
		}
		sim_script_split(text, &w);
		if (w.n && strcmp(w.w[0], "expect") != 0) {
			sim_script_words_free(&w);
			sim_script_cursor_seek(&cpu->cur, mark, mark_line);
			break;
		}
		kind = sim_script_parse_line(sc, &w, cpu->cur.lineno, true, NULL, &e);
		sim_script_words_free(&w);
		if (kind == SCRIPT_LINE_EXPECT) {
			*l->exp_tail = e;
			l->exp_tail = &e->next;
		} else if (kind != SCRIPT_LINE_BLANK) {
			sim_script_line_free(l);
			cpu->cur.lineno--;
			return cpu_read_fail(cpu, 0, kind == SCRIPT_LINE_ERROR);
		}
	}
	return l;
}

/*
 * Batch: the message that runs host CPU @a's next line.  The line is read
 * only now, when it is the CPU's turn, so at most one line per CPU is
 * held; once it has run, the message posts itself again while the CPU has
 * lines (after any work posted to the CPU meanwhile).
 */
static void cpu_next_line(struct sim_agent *a, void *arg)
{
	struct script_cpu *cpu = arg;
	struct script *sc = cpu->sc;
	struct script_line *l;

	if (sc->stopped)
		return;
	l = cpu_read_line(cpu);
	if (!l)
		return;
	cpu->line = l;
	sim_script_run_line(cpu, l);
	cpu->line = NULL;
	sim_script_line_free(l);
	if (!sc->stopped && cpu->nlines)
		sim_post(a, a, cpu_next_line, cpu);
}

/* Shell: the message that runs one typed line on its CPU. */
static void cpu_typed_line(struct sim_agent *a, void *arg)
{
	struct script_line *l = arg;

	(void)a;
	sim_script_run_line(&l->sc->cpus[l->cpu], l);
}

void sim_script_post_line(struct script *sc, struct script_line *l)
{
	l->sc = sc;
	sim_post(NULL, sc->cpus[l->cpu].agent, cpu_typed_line, l);
}

void sim_script_stop_cpus(struct script *sc)
{
	for (int i = 0; sc->agents && i < sc->ncpus; i++)
		sim_agent_stop(NULL, sc->cpus[i].agent);
}

int sim_script_start(struct script *sc)
{
	struct sim_err err;

	if (sc->agents)
		return 0;
	sim_script_fix_cpus(sc);
	if (!sim_started(sc->s) && sim_start(sc->s, &err) != 0) {
		fflush(sc->out);
		fprintf(sc->errf, "%s\n", err.msg);
		fflush(sc->errf);
		return 2;
	}
	if (sim_host_cpus(sc->s) != (unsigned)sc->ncpus)
		sim_fatal("script: %d CPUs, the machine has %u", sc->ncpus, sim_host_cpus(sc->s));
	for (int i = 0; i < sc->ncpus; i++)
		sc->cpus[i].agent = sim_host_cpu(sc->s, (unsigned)i);
	sc->agents = true;
	return 0;
}

int sim_script_check_stuck(struct script *sc)
{
	for (int i = 0; i < sc->ncpus; i++) {
		struct script_cpu *cpu = &sc->cpus[i];

		if (cpu->call)
			return sim_script_err(sc, cpu->call->line->lineno,
					      "%s: %s is blocked and nothing can wake it (deadlock)",
					      cpu->call->line->op->name, sim_agent_name(cpu->agent));
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The batch run                                                       */
/* ------------------------------------------------------------------ */

/*
 * Pass 1: parse and check every line, keeping none.  Apply the machine
 * line; note each agent's first operation line and count its lines.
 * Return 0, or 2 after printing the first malformed line.
 */
static int check_pass(struct script *sc)
{
	struct script_cursor cur;
	bool has_target = false;
	uint64_t start;
	char *text;
	int err = 0, rc = 0;

	sim_script_cursor_init(&cur, sc->src, 0, 0);
	while (!rc && (text = sim_script_cursor_next(&cur, &start, &err)) != NULL) {
		struct sim_script_words w;
		struct script_line *l = NULL;
		struct script_expect *e = NULL;
		struct script_cpu *cpu;

		sim_script_split(text, &w);
		switch (sim_script_parse_line(sc, &w, cur.lineno, has_target, &l, &e)) {
		case SCRIPT_LINE_BLANK:
			break;
		case SCRIPT_LINE_MACHINE:
			has_target = false;
			break;
		case SCRIPT_LINE_OP:
			cpu = &sc->cpus[l->cpu];
			if (!cpu->nlines++) {
				cpu->first_pos = start;
				cpu->first_lineno = cur.lineno;
			}
			sim_script_line_free(l);
			has_target = true;
			break;
		case SCRIPT_LINE_EXPECT:
			sim_script_expect_free(e);
			break;
		case SCRIPT_LINE_ERROR:
			rc = 2;
			break;
		}
		sim_script_words_free(&w);
	}
	if (!rc && err)
		rc = sim_script_cursor_report(sc, &cur);
	sim_script_cursor_free(&cur);
	return rc;
}

static int run_batch(struct script *sc)
{
	if (check_pass(sc))
		return 2;
	if (sim_script_start(sc))
		return 2;
	/*
	 * Each CPU's first line, then a stop: the interpreter posts nothing
	 * more, each line's message posts the next, and a CPU returns once
	 * its last line has run (or the run has stopped).
	 */
	for (int i = 0; i < sc->ncpus; i++)
		if (sc->cpus[i].nlines)
			sim_post(NULL, sc->cpus[i].agent, cpu_next_line, &sc->cpus[i]);
	sim_script_stop_cpus(sc);
	sim_run(sc->s);
	if (sc->stopped) {
		/*
		 * Drain: let ops that were in flight when the run stopped
		 * finish (silently; no new line starts) and the CPUs return,
		 * so that no agent is left suspended inside this interpreter
		 * if the caller runs the simulator again.
		 */
		sim_run(sc->s);
		return sc->rc;
	}
	if (sim_script_check_stuck(sc))
		return 2;
	return sc->rc;
}

/* Run a script from @in, or from @text when @in is NULL. */
static int script_main(struct sim *s, FILE *in, const char *text, const char *name, FILE *out,
		       FILE *errf, bool interactive)
{
	struct script sc = {
		.s = s, .name = name, .out = out, .errf = errf, .interactive = interactive,
	};
	struct script_src src;
	char why[256];
	int rc;

	sim_script_ops_build(&sc);
	if (interactive) {
		rc = sim_script_shell(&sc, in);
	} else {
		if (!in) {
			sim_script_src_text(&src, text);
		} else if (sim_script_src_file(&src, in, why, sizeof(why)) != 0) {
			fprintf(errf, "%s: cannot read: %s\n", name, why);
			fflush(errf);
			free(sc.ops);
			return 2;
		}
		sc.src = &src;
		rc = run_batch(&sc);
		sim_script_src_close(&src);
	}
	fflush(out);
	for (int i = 0; i < sc.ncpus; i++) {
		struct script_cpu *cpu = &sc.cpus[i];

		/* Ops left in flight by a stop: free their buffers (their stacks stay). */
		if (cpu->call)
			sim_script_call_free(cpu->call);
		sim_script_line_free(cpu->line);
		sim_script_cursor_free(&cpu->cur);
	}
	sim_script_line_free(sc.last);
	free(sc.cpus);
	free(sc.ops);
	return rc;
}

int sim_script_run(struct sim *s, FILE *in, const char *name, FILE *out, FILE *errf,
		   bool interactive)
{
	return script_main(s, in, NULL, name, out, errf, interactive);
}

int sim_script_run_text(struct sim *s, const char *text, const char *name, FILE *out,
			FILE *errf)
{
	return script_main(s, NULL, text, name, out, errf, false);
}
