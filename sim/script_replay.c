/*
 * script_replay.c - the operation stream of a trace run again
 * (`protsim replay`, docs/trace.md "Replay"): each recorded script line
 * on its recorded host CPU, in the recorded order per CPU, through the
 * same interpreter as `protsim script` (sim_script_run_line: the result
 * line, the statistics, the timeline and the trace are those of a
 * script), on a machine the caller built.
 *
 * When a line starts: a CPU's first line at its recorded start cycle;
 * every later line after the CPU's previous line has ended, plus the
 * idle time the recording had between the two (its start minus the
 * previous line's end).  So on the recorded configuration every line
 * starts at its recorded cycle, and where an operation takes longer or
 * shorter the CPU's later lines move by as much, keeping the gaps an
 * `@CYCLE` left.
 */
#include "sim/script_int.h"

#include <stdlib.h>
#include <string.h>

struct replay_cpu {
	struct script_cpu *cpu;
	struct sim_replay_line *lines;
	size_t *idx;                     /* its lines, in order: indices into lines */
	size_t n;
	struct script_line **parsed;     /* the same, parsed */
};

/* Result token and fields as one text ("SUCCESS changed=1"). */
static char *result_text(const char *tok, const struct sim_script_kv *kv, size_t n)
{
	struct sim_sbuf b = { 0 };

	sim_sbuf_printf(&b, "%s", tok);
	for (size_t i = 0; i < n; i++)
		sim_sbuf_printf(&b, " %s=%s", kv[i].key, kv[i].val);
	return b.p;
}

/* The message that runs one CPU's lines, one after the other. */
static void replay_cpu_run(struct sim_agent *a, void *arg)
{
	struct replay_cpu *rc = arg;
	struct script *sc = rc->cpu->sc;
	uint64_t prev_end = 0;

	for (size_t k = 0; k < rc->n && !sc->stopped; k++) {
		struct sim_replay_line *rl = &rc->lines[rc->idx[k]];
		struct script_line *l = rc->parsed[k];
		uint64_t start = k ? prev_end + rl->gap : rl->start;

		if (start < sim_now(a))
			start = sim_now(a);
		l->has_cycle = true;
		l->cycle = start;
		rc->cpu->line = l;
		sim_script_run_line(rc->cpu, l);
		rc->cpu->line = NULL;
		if (!l->done)
			break;
		rl->done = true;
		rl->t0 = start;
		rl->t1 = sim_now(a);
		rl->result = result_text(l->res, l->kv, l->nkv);
		prev_end = rl->t1;
	}
}

int sim_script_replay(struct sim *s, struct sim_replay_line *lines, size_t n, const char *name,
		      FILE *out, FILE *errf)
{
	struct script sc = { .s = s, .name = name, .out = out, .errf = errf };
	struct replay_cpu *rcs = NULL;
	int rc = 0;

	sim_script_ops_build(&sc);
	if (sim_script_start(&sc)) {
		rc = 2;
		goto out;
	}
	rcs = sim_xcalloc((size_t)sc.ncpus, sizeof(*rcs));
	for (int i = 0; i < sc.ncpus; i++) {
		rcs[i].cpu = &sc.cpus[i];
		rcs[i].lines = lines;
		rcs[i].idx = sim_xcalloc(n + 1, sizeof(*rcs[i].idx));
		rcs[i].parsed = sim_xcalloc(n + 1, sizeof(*rcs[i].parsed));
	}
	/* Parse every line first: a line this machine cannot run stops before anything runs. */
	for (size_t i = 0; i < n; i++) {
		struct sim_replay_line *rl = &lines[i];
		struct sim_script_words w;
		struct script_line *l = NULL;
		struct script_expect *e = NULL;
		enum script_line_kind kind;
		char *text;

		if (rl->cpu >= (unsigned)sc.ncpus) {
			rc = sim_script_err(&sc, (int)rl->line, "cpu%u: the machine has %d host CPUs "
					    "(machine.cpus)", rl->cpu, sc.ncpus);
			goto out;
		}
		text = sim_xprintf("cpu%u %s%s%s", rl->cpu, rl->op, rl->args[0] ? " " : "", rl->args);
		sim_script_split(text, &w);
		free(text);
		kind = sim_script_parse_line(&sc, &w, (int)rl->line, false, &l, &e);
		sim_script_words_free(&w);
		if (e)
			sim_script_expect_free(e);
		if (kind != SCRIPT_LINE_OP) {
			sim_script_line_free(l);
			if (kind != SCRIPT_LINE_ERROR)
				sim_script_err(&sc, (int)rl->line, "'%s' is not an operation line", rl->op);
			rc = 2;
			goto out;
		}
		rcs[rl->cpu].idx[rcs[rl->cpu].n] = i;
		rcs[rl->cpu].parsed[rcs[rl->cpu].n++] = l;
	}
	for (int i = 0; i < sc.ncpus; i++)
		if (rcs[i].n)
			sim_post(NULL, sc.cpus[i].agent, replay_cpu_run, &rcs[i]);
	sim_script_stop_cpus(&sc);
	sim_run(s);
	if (sc.stopped) {
		sim_run(s);     /* drain, as a script does */
		rc = sc.rc ? sc.rc : 2;
	} else if (sim_script_check_stuck(&sc)) {
		rc = 2;
	}
out:
	fflush(out);
	for (int i = 0; i < sc.ncpus; i++) {
		struct script_cpu *cpu = &sc.cpus[i];

		if (cpu->call)
			sim_script_call_free(cpu->call);
		if (rcs) {
			for (size_t k = 0; k < rcs[i].n; k++)
				sim_script_line_free(rcs[i].parsed[k]);
			free(rcs[i].idx);
			free(rcs[i].parsed);
		}
	}
	free(rcs);
	free(sc.cpus);
	free(sc.ops);
	return rc;
}
