/*
 * script.c - the operation language: `protsim script FILE|-` and
 * `protsim shell`.
 *
 * A script is parsed whole before anything runs, so a malformed line stops
 * it with exit 2 before the machine is even built.  Then the machine is
 * started and one coroutine agent per physical CPU (cpu0 .. cpuN-1) runs
 * that CPU's lines in file order; the engine interleaves the agents by
 * (cycle, agent id), so lines of different CPUs run in start-cycle order.
 * Each line prints one result line when it completes; `expect` lines check
 * the result of the operation just above them.
 *
 * The shell reads and runs one line at a time: each CPU's agent blocks
 * when its queue is empty and is woken when a line for it arrives.
 *
 * The language is specified in script-language.md (shared design) and
 * documented as implemented in docs/script.md.
 */
#include "sim/sim_int.h"
#include "sim/script_int.h"

#include <editline/readline.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Growable strings                                                    */
/* ------------------------------------------------------------------ */

struct sbuf {
	char *p;       /* NUL-terminated text, NULL while empty */
	size_t n;      /* length */
	size_t cap;    /* allocated bytes */
};

static void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int len;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		sim_fatal("script: bad format '%s'", fmt);
	if (b->n + (size_t)len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->n + (size_t)len + 1)
			cap *= 2;
		b->p = sim_xrealloc(b->p, cap);
		b->cap = cap;
	}
	vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
	b->n += (size_t)len;
}

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

static const char *sbuf_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

static void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

/* One parsed argument of an operation line. */
struct script_arg {
	const struct sim_arg_spec *spec;  /* its declaration in the op */
	const char *text;                 /* value as written (in the line's words) */
	uint64_t val;                     /* U64/SIZE/BOOL value, ENUM index */
};

/* One `expect` line. */
struct script_expect {
	int lineno;                       /* where it is, for the message */
	struct sim_script_words words;    /* storage for tok and kv */
	char *text;                       /* what follows "expect", single-spaced */
	const char *tok;                  /* wanted result token */
	struct sim_script_kv *kv;         /* wanted fields */
	size_t nkv;
	struct script_expect *next;       /* next expect of the same op */
};

/* One operation line, and its result once it has run. */
struct script_line {
	int lineno;                       /* 1-based line number */
	const struct sim_op *op;          /* the operation */
	int cpu;                          /* index of the agent: cpuN */
	bool has_cycle;                   /* an @CYCLE was given */
	uint64_t cycle;                   /* its value */
	struct sim_script_words words;    /* storage for args */
	char *args_text;                  /* the arguments as written, single-spaced */
	struct script_arg *args;          /* parsed arguments */
	size_t nargs;
	struct script_expect *exp;        /* expect lines checking this op */
	struct script_expect **exp_tail;
	struct script_line *next;         /* next line queued on the same cpu */
	struct script_line *all_next;     /* batch: every line, for freeing */
	bool done;                        /* ran to completion, result below */
	char *res;                        /* result token */
	struct sim_script_kv *kv;         /* result fields */
	size_t nkv;
};

struct script;

/* One script agent: a physical CPU. */
struct script_cpu {
	struct script *sc;
	int idx;                          /* N of cpuN */
	struct sim_agent *agent;          /* created when the machine starts */
	struct script_line *head, *tail;  /* lines still to run, in order */
	struct sim_call *call;            /* op in flight (on the coroutine stack) */
};

struct script {
	struct sim *s;
	const char *name;                 /* for messages: "NAME:LINE: ..." */
	FILE *out, *errf;
	bool interactive;                 /* shell: run each line as it comes */
	const struct sim_op **ops;        /* core ops, then every module's */
	size_t nops;
	int ncpus;                        /* 0 until the first operation line */
	struct script_cpu *cpus;          /* [ncpus] */
	bool agents;                      /* agents created */
	struct script_line *lines;        /* batch: all op lines */
	struct script_line **lines_tail;
	struct script_line *target;       /* op an expect line would check, or NULL */
	struct script_line *last;         /* shell: the last op line run */
	int machine_line;                 /* line of the machine line, 0 = none */
	bool closing;                     /* agents return when their queue empties */
	bool stopped;                     /* batch: a failure stopped the run */
	int rc;                           /* 0, 1 (expect failed) or 2 (malformed/machine) */
};

/* The call context an op's @run sees. */
struct sim_call {
	struct script *sc;
	struct script_line *line;
	struct sim_agent *agent;
	bool has_res;                     /* sim_call_result() was called */
	struct sbuf res;                  /* result token */
	struct sim_script_kv *kv;         /* result fields */
	size_t nkv, kvcap;
	struct sbuf extra;                /* sim_call_printf() lines, "  " prefixed */
	bool bad;                         /* sim_call_bad_arg() was called */
	struct sbuf badmsg;               /* "key: message" */
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Print "NAME:LINE: <msg>" on the error stream; return 2 (malformed). */
static int script_err(struct script *sc, int lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int script_err(struct script *sc, int lineno, const char *fmt, ...)
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
/* The operation table                                                 */
/* ------------------------------------------------------------------ */

static void ops_add(struct script *sc, const struct sim_op *tab, size_t *cap)
{
	for (const struct sim_op *op = tab; op && op->name; op++) {
		for (size_t i = 0; i < sc->nops; i++)
			if (strcmp(sc->ops[i]->name, op->name) == 0)
				sim_fatal("script: operation '%s' is registered twice", op->name);
		if (!op->run)
			sim_fatal("script: operation '%s' has no run function", op->name);
		if (sc->nops == *cap) {
			*cap = *cap ? 2 * *cap : 32;
			sc->ops = sim_xrealloc(sc->ops, *cap * sizeof(*sc->ops));
		}
		sc->ops[sc->nops++] = op;
	}
}

static void ops_build(struct script *sc)
{
	const struct sim_module *const *mods = sim_modules(sc->s);
	size_t cap = 0;

	ops_add(sc, sim_core_ops, &cap);
	for (size_t i = 0; mods && mods[i]; i++)
		ops_add(sc, mods[i]->ops, &cap);
}

static const struct sim_op *ops_find(const struct script *sc, const char *name)
{
	for (size_t i = 0; i < sc->nops; i++)
		if (strcmp(sc->ops[i]->name, name) == 0)
			return sc->ops[i];
	return NULL;
}

/* Is @word the first word of some two-word operation ("s2", "iommu")? */
static bool ops_is_prefix(const struct script *sc, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i < sc->nops; i++)
		if (strncmp(sc->ops[i]->name, word, n) == 0 && sc->ops[i]->name[n] == ' ')
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

static void expect_free(struct script_expect *e)
{
	sim_script_words_free(&e->words);
	free(e->text);
	free(e->kv);
	free(e);
}

static void kv_free(struct sim_script_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].val);
	}
	free(kv);
}

static void line_free(struct script_line *l)
{
	if (!l)
		return;
	while (l->exp) {
		struct script_expect *e = l->exp;

		l->exp = e->next;
		expect_free(e);
	}
	sim_script_words_free(&l->words);
	free(l->args_text);
	free(l->args);
	free(l->res);
	kv_free(l->kv, l->nkv);
	free(l);
}

/* Join words [from, n) with single spaces. */
static char *words_join(const struct sim_script_words *w, size_t from)
{
	struct sbuf b = { 0 };

	for (size_t i = from; i < w->n; i++)
		sbuf_printf(&b, "%s%s", i > from ? " " : "", w->w[i]);
	return b.p ? b.p : sim_xstrdup("");
}

/* cpu<digits>: the agent word.  Returns the index, or -1 if not canonical. */
static bool is_agent_word(const char *w)
{
	if (strncmp(w, "cpu", 3) != 0 || !w[3])
		return false;
	for (const char *p = w + 3; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static int agent_index(const char *w)
{
	const char *d = w + 3;
	size_t len = strlen(d);
	int v = 0;

	if (len > 6 || (len > 1 && d[0] == '0'))
		return -1;
	for (; *d; d++)
		v = v * 10 + (*d - '0');
	return v;
}

/* The CPU count is fixed at the first operation line. */
static void script_fix_cpus(struct script *sc)
{
	if (sc->ncpus)
		return;
	sc->ncpus = (int)sim_cfg_u64(sc->s, "machine.cpus");
	if (sc->ncpus < 1)
		sc->ncpus = 1;
	sc->cpus = sim_xcalloc((size_t)sc->ncpus, sizeof(*sc->cpus));
	for (int i = 0; i < sc->ncpus; i++) {
		sc->cpus[i].sc = sc;
		sc->cpus[i].idx = i;
	}
}

/* machine mem=SIZE cpus=N [profile=NAME] [rmp=...] [rmp_base=ADDR] [rmp_segment=SIZE] [a.b=V]... */
static int parse_machine(struct script *sc, const struct sim_script_words *w, int lineno)
{
	static const char *const map[][2] = {
		{ "mem", "machine.mem" },
		{ "cpus", "machine.cpus" },
		{ "profile", "machine.profile" },
		{ "rmp", "rmp.mode" },
		{ "rmp_base", "rmp.base" },
		{ "rmp_segment", "rmp.segment_size" },
	};
	const char **cfgkey = sim_xcalloc(w->n, sizeof(*cfgkey));
	char **key = sim_xcalloc(w->n, sizeof(*key));
	bool has_mem = false, has_cpus = false;
	struct sim_err err;
	int rc = 0;

	if (sc->ncpus) {
		rc = script_err(sc, lineno, "machine: must come before the first operation");
		goto out;
	}
	if (sc->machine_line) {
		rc = script_err(sc, lineno, "machine: given twice (first on line %d)",
				sc->machine_line);
		goto out;
	}
	if (sim_started(sc->s)) {
		rc = script_err(sc, lineno, "machine: the machine is already built");
		goto out;
	}
	for (size_t i = 1; i < w->n; i++) {
		const char *eq = strchr(w->w[i], '=');

		if (!eq || eq == w->w[i]) {
			rc = script_err(sc, lineno, "%s: not a key=value argument", w->w[i]);
			goto out;
		}
		key[i] = sim_xstrdup(w->w[i]);
		key[i][eq - w->w[i]] = '\0';
		if (!eq[1]) {
			rc = script_err(sc, lineno, "%s: missing value", key[i]);
			goto out;
		}
		for (size_t m = 0; m < sizeof(map) / sizeof(map[0]); m++)
			if (strcmp(key[i], map[m][0]) == 0)
				cfgkey[i] = map[m][1];
		if (!cfgkey[i] && strchr(key[i], '.'))
			cfgkey[i] = key[i];
		if (!cfgkey[i]) {
			rc = script_err(sc, lineno,
					"%s: unknown machine key (mem, cpus, profile, rmp, rmp_base, "
					"rmp_segment, or a dotted config key)", key[i]);
			goto out;
		}
		for (size_t j = 1; j < i; j++) {
			if (strcmp(cfgkey[j], cfgkey[i]) == 0) {
				rc = script_err(sc, lineno, "%s: given twice", key[i]);
				goto out;
			}
		}
		has_mem |= strcmp(cfgkey[i], "machine.mem") == 0;
		has_cpus |= strcmp(cfgkey[i], "machine.cpus") == 0;
	}
	if (!has_mem || !has_cpus) {
		rc = script_err(sc, lineno, "%s: missing (required by 'machine')",
				!has_mem ? "mem" : "cpus");
		goto out;
	}
	for (size_t i = 1; i < w->n; i++) {
		if (sim_cfg_set(sc->s, cfgkey[i], strchr(w->w[i], '=') + 1, sc->name, lineno,
				&err) != 0) {
			fflush(sc->out);
			fprintf(sc->errf, "%s\n", err.msg);
			rc = 2;
			goto out;
		}
	}
	sc->machine_line = lineno;
out:
	for (size_t i = 0; i < w->n; i++)
		free(key[i]);
	free(key);
	free(cfgkey);
	return rc;
}

/* expect RESULT [field=value]...; on success *@out owns @w. */
static int parse_expect(struct script *sc, struct sim_script_words *w, int lineno,
			struct script_expect **out)
{
	struct script_expect *e;

	if (!sc->target)
		return script_err(sc, lineno, "expect: must directly follow an operation line");
	if (w->n < 2)
		return script_err(sc, lineno, "expect: missing result");
	if (!sim_script_token_ok(w->w[1]))
		return script_err(sc, lineno,
				  "%s: malformed result (expected NAME or NAME(ITEM,...))", w->w[1]);
	for (size_t i = 2; i < w->n; i++) {
		const char *eq = strchr(w->w[i], '=');

		if (!eq || eq == w->w[i])
			return script_err(sc, lineno, "%s: not a field=value", w->w[i]);
		if (!eq[1])
			return script_err(sc, lineno, "%.*s: missing value", (int)(eq - w->w[i]),
					  w->w[i]);
	}
	e = sim_xcalloc(1, sizeof(*e));
	e->lineno = lineno;
	e->text = words_join(w, 1);
	e->words = *w;
	memset(w, 0, sizeof(*w));
	e->tok = e->words.w[1];
	e->nkv = e->words.n - 2;
	e->kv = sim_xcalloc(e->nkv, sizeof(*e->kv));
	for (size_t i = 0; i < e->nkv; i++) {
		char *kw = e->words.w[i + 2], *eq = strchr(kw, '=');

		*eq = '\0';
		e->kv[i].key = kw;
		e->kv[i].val = eq + 1;
	}
	*out = e;
	return 0;
}

/* [@CYCLE] [cpuN] OP [key=value]...; on success *@out owns @w. */
static int parse_op(struct script *sc, struct sim_script_words *w, int lineno,
		    struct script_line **out)
{
	struct script_line *l;
	const struct sim_op *op = NULL;
	size_t i = 0, nspec = 0;
	bool has_cycle = false;
	uint64_t cycle = 0;
	int cpu = 0;
	char why[256];

	if (w->w[0][0] == '@') {
		if (sim_parse_u64(w->w[0] + 1, &cycle) != 0)
			return script_err(sc, lineno, "%s: not a cycle number (decimal or 0x hex)",
					  w->w[0]);
		if (cycle > SIM_SCRIPT_CYCLE_MAX)
			return script_err(sc, lineno, "%s: cycle too large (at most 2^48)", w->w[0]);
		has_cycle = true;
		i++;
	}
	if (i < w->n && is_agent_word(w->w[i])) {
		int ncpus = sc->ncpus ? sc->ncpus : (int)sim_cfg_u64(sc->s, "machine.cpus");

		cpu = agent_index(w->w[i]);
		if (cpu < 0 || cpu >= ncpus)
			return script_err(sc, lineno, "%s: no such agent (the machine has cpu0..cpu%d)",
					  w->w[i], ncpus - 1);
		i++;
	}
	if (i == w->n)
		return script_err(sc, lineno, "%s: missing operation", w->w[i - 1]);
	if (w->w[i][0] == '@')
		return script_err(sc, lineno, "%s: the start cycle must come first on the line",
				  w->w[i]);
	if (strcmp(w->w[i], "machine") == 0 || strcmp(w->w[i], "expect") == 0)
		return script_err(sc, lineno, "%s: must be on a line of its own (no @CYCLE or agent)",
				  w->w[i]);
	if (i + 1 < w->n && !strchr(w->w[i + 1], '=')) {
		char two[256];

		snprintf(two, sizeof(two), "%s %s", w->w[i], w->w[i + 1]);
		op = ops_find(sc, two);
		if (op)
			i += 2;
		else if (ops_is_prefix(sc, w->w[i]))
			return script_err(sc, lineno, "%s %s: unknown operation", w->w[i],
					  w->w[i + 1]);
	}
	if (!op) {
		op = ops_find(sc, w->w[i]);
		if (!op)
			return script_err(sc, lineno, "%s: unknown operation", w->w[i]);
		i++;
	}
	while (op->args && op->args[nspec].key)
		nspec++;

	l = sim_xcalloc(1, sizeof(*l));
	l->lineno = lineno;
	l->op = op;
	l->cpu = cpu;
	l->has_cycle = has_cycle;
	l->cycle = cycle;
	l->exp_tail = &l->exp;
	l->args = sim_xcalloc(w->n - i, sizeof(*l->args));
	for (; i < w->n; i++) {
		char *word = w->w[i], *eq = strchr(word, '=');
		const struct sim_arg_spec *spec = NULL;
		struct script_arg *a;

		if (!l->args_text)
			l->args_text = words_join(w, i);
		if (!eq || eq == word) {
			script_err(sc, lineno, "%s: not a key=value argument", word);
			goto bad;
		}
		*eq = '\0';
		for (size_t k = 0; k < nspec; k++)
			if (strcmp(op->args[k].key, word) == 0)
				spec = &op->args[k];
		if (!spec) {
			script_err(sc, lineno, "%s: unknown argument of '%s'", word, op->name);
			goto bad;
		}
		for (size_t k = 0; k < l->nargs; k++) {
			if (l->args[k].spec == spec) {
				script_err(sc, lineno, "%s: given twice", word);
				goto bad;
			}
		}
		if (!eq[1]) {
			script_err(sc, lineno, "%s: missing value", word);
			goto bad;
		}
		a = &l->args[l->nargs++];
		a->spec = spec;
		a->text = eq + 1;
		if (sim_script_check_value(spec, a->text, &a->val, why, sizeof(why)) != 0) {
			script_err(sc, lineno, "%s: %s", word, why);
			goto bad;
		}
	}
	for (size_t k = 0; k < nspec; k++) {
		bool given = false;

		if (!op->args[k].required)
			continue;
		for (size_t j = 0; j < l->nargs; j++)
			given |= l->args[j].spec == &op->args[k];
		if (!given) {
			script_err(sc, lineno, "%s: missing (required by '%s')", op->args[k].key,
				   op->name);
			goto bad;
		}
	}
	if (!l->args_text)
		l->args_text = sim_xstrdup("");
	script_fix_cpus(sc);
	l->words = *w;
	memset(w, 0, sizeof(*w));
	*out = l;
	return 0;
bad:
	line_free(l);
	return 2;
}

enum line_kind {
	LINE_BLANK,
	LINE_MACHINE,
	LINE_OP,
	LINE_EXPECT,
	LINE_ERROR,
};

/*
 * Parse one line.  An op line comes back in *@lp, an expect in *@ep (the
 * caller owns them).  Errors are printed; the kind is LINE_ERROR.
 */
static enum line_kind parse_line(struct script *sc, struct sim_script_words *w, int lineno,
				 struct script_line **lp, struct script_expect **ep)
{
	if (!w->n)
		return LINE_BLANK;
	if (strcmp(w->w[0], "machine") == 0) {
		sc->target = NULL;
		return parse_machine(sc, w, lineno) ? LINE_ERROR : LINE_MACHINE;
	}
	if (strcmp(w->w[0], "expect") == 0)
		return parse_expect(sc, w, lineno, ep) ? LINE_ERROR : LINE_EXPECT;
	if (!sc->interactive && (strcmp(w->w[0], "help") == 0 || strcmp(w->w[0], "quit") == 0)) {
		script_err(sc, lineno, "%s: only available in protsim shell", w->w[0]);
		return LINE_ERROR;
	}
	return parse_op(sc, w, lineno, lp) ? LINE_ERROR : LINE_OP;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static void call_free(struct sim_call *c)
{
	sbuf_free(&c->res);
	kv_free(c->kv, c->nkv);
	c->kv = NULL;
	c->nkv = c->kvcap = 0;
	sbuf_free(&c->extra);
	sbuf_free(&c->badmsg);
}

/* Result token and fields, single-spaced, for messages. */
static char *result_text(const char *tok, const struct sim_script_kv *kv, size_t n)
{
	struct sbuf b = { 0 };

	sbuf_printf(&b, "%s", tok);
	for (size_t i = 0; i < n; i++)
		sbuf_printf(&b, " %s=%s", kv[i].key, kv[i].val);
	return b.p;
}

/* Check one expect line against a completed op; print and fail if unmet. */
static bool expect_check(struct script *sc, const struct script_line *l,
			 const struct script_expect *e)
{
	char *got;

	if (sim_script_expect_ok(e->tok, e->kv, e->nkv, l->res, l->kv, l->nkv))
		return true;
	got = result_text(l->res, l->kv, l->nkv);
	script_err(sc, e->lineno, "expect failed: expected %s; got %s", e->text, got);
	free(got);
	script_fail(sc, 1);
	return false;
}

static void run_line_finish(struct script *sc, struct script_line *l, struct sim_call *c,
			    uint64_t start);

/* Run one line on its agent (inside the agent's coroutine). */
static void run_line(struct script_cpu *cpu, struct script_line *l)
{
	struct script *sc = cpu->sc;
	struct sim_agent *a = cpu->agent;
	struct sim_call c = { .sc = sc, .line = l, .agent = a };
	uint64_t start = sim_now(a);

	if (l->has_cycle) {
		if (l->cycle < start) {
			script_err(sc, l->lineno, "@%llu: earlier than %s's clock (%llu)",
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

/* Print the result of the op run on line @l and check its expects. */
static void run_line_finish(struct script *sc, struct script_line *l, struct sim_call *c,
			    uint64_t start)
{
	struct sim_agent *a = c->agent;

	if (sc->stopped) {
		/* The run failed while this op was in flight: drain silently. */
		call_free(c);
		return;
	}
	if (c->bad) {
		script_err(sc, l->lineno, "%s", sbuf_str(&c->badmsg));
		call_free(c);
		script_fail(sc, 2);
		return;
	}
	if (!c->has_res)
		sim_fatal("script: operation '%s' set no result", l->op->name);
	fputs(sbuf_str(&c->extra), sc->out);
	fprintf(sc->out, "[%llu] %s %s%s%s -> %s", (unsigned long long)start, sim_agent_name(a),
		l->op->name, l->args_text[0] ? " " : "", l->args_text, sbuf_str(&c->res));
	for (size_t i = 0; i < c->nkv; i++)
		fprintf(sc->out, " %s=%s", c->kv[i].key, c->kv[i].val);
	fprintf(sc->out, " (%llu cycles)\n", (unsigned long long)(sim_now(a) - start));
	if (sc->interactive)
		fflush(sc->out);
	/* Keep the result for expect lines. */
	l->res = c->res.p ? c->res.p : sim_xstrdup("");
	c->res.p = NULL;
	l->kv = c->kv;
	l->nkv = c->nkv;
	c->kv = NULL;
	c->nkv = 0;
	call_free(c);
	l->done = true;
	for (const struct script_expect *e = l->exp; e; e = e->next)
		if (!expect_check(sc, l, e))
			return;
}

/* The body of agent cpuN: run its queued lines in order. */
static void cpu_body(struct sim_agent *a, void *arg)
{
	struct script_cpu *cpu = arg;
	struct script *sc = cpu->sc;

	(void)a;
	for (;;) {
		struct script_line *l;

		if (sc->stopped)
			return;
		l = cpu->head;
		if (!l) {
			if (sc->closing)
				return;
			sim_block(cpu->agent);
			continue;
		}
		cpu->head = l->next;
		if (!cpu->head)
			cpu->tail = NULL;
		run_line(cpu, l);
	}
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

/* Build the machine (unless built) and create the cpuN agents. */
static int script_start(struct script *sc)
{
	struct sim_err err;

	if (sc->agents)
		return 0;
	script_fix_cpus(sc);
	if (!sim_started(sc->s) && sim_start(sc->s, &err) != 0) {
		fflush(sc->out);
		fprintf(sc->errf, "%s\n", err.msg);
		fflush(sc->errf);
		return 2;
	}
	for (int i = 0; i < sc->ncpus; i++) {
		char name[16];

		snprintf(name, sizeof(name), "cpu%d", i);
		sc->cpus[i].agent = sim_agent_new(sc->s, name, SIM_AGENT_CPU, cpu_body, &sc->cpus[i]);
	}
	sc->agents = true;
	return 0;
}

/* After sim_run(): an agent still inside an op is blocked for good. */
static int script_check_stuck(struct script *sc)
{
	for (int i = 0; i < sc->ncpus; i++) {
		struct script_cpu *cpu = &sc->cpus[i];

		if (cpu->call)
			return script_err(sc, cpu->call->line->lineno,
					  "%s: %s is blocked and nothing can wake it (deadlock)",
					  cpu->call->line->op->name, sim_agent_name(cpu->agent));
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading lines                                                       */
/* ------------------------------------------------------------------ */

struct reader {
	FILE *f;            /* or */
	const char *text;   /* whole text, NUL-terminated */
	size_t pos;
	char *buf;
	size_t cap;
};

/* The next line without its newline, or NULL at the end (valid until next call). */
static char *reader_next(struct reader *r)
{
	if (r->f) {
		ssize_t n = getline(&r->buf, &r->cap, r->f);

		if (n < 0)
			return NULL;
		if (n && r->buf[n - 1] == '\n')
			r->buf[n - 1] = '\0';
		return r->buf;
	} else {
		const char *p = r->text + r->pos, *nl;
		size_t len;

		if (!*p)
			return NULL;
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len + 1 > r->cap) {
			r->cap = len + 1;
			r->buf = sim_xrealloc(r->buf, r->cap);
		}
		memcpy(r->buf, p, len);
		r->buf[len] = '\0';
		r->pos += len + (nl ? 1 : 0);
		return r->buf;
	}
}

/* ------------------------------------------------------------------ */
/* Script (batch) and shell                                            */
/* ------------------------------------------------------------------ */

static int run_batch(struct script *sc, struct reader *r)
{
	char *text;
	int lineno = 0;

	while ((text = reader_next(r)) != NULL) {
		struct sim_script_words w;
		struct script_line *l = NULL;
		struct script_expect *e = NULL;

		lineno++;
		sim_script_split(text, &w);
		switch (parse_line(sc, &w, lineno, &l, &e)) {
		case LINE_BLANK:
		case LINE_MACHINE:
			break;
		case LINE_OP:
			*sc->lines_tail = l;
			sc->lines_tail = &l->all_next;
			cpu_queue(sc, l);
			sc->target = l;
			break;
		case LINE_EXPECT:
			*sc->target->exp_tail = e;
			sc->target->exp_tail = &e->next;
			break;
		case LINE_ERROR:
			sim_script_words_free(&w);
			return 2;
		}
		sim_script_words_free(&w);
	}
	if (script_start(sc))
		return 2;
	sc->closing = true;
	sim_run(sc->s);
	if (sc->stopped) {
		/*
		 * Drain: let ops that were in flight when the run stopped
		 * finish (silently; no new line starts), so that no agent is
		 * left suspended inside this interpreter if the caller runs
		 * the simulator again.
		 */
		sim_run(sc->s);
		return sc->rc;
	}
	if (script_check_stuck(sc))
		return 2;
	return sc->rc;
}

static void shell_help(struct script *sc, const struct sim_script_words *w)
{
	char *want = words_join(w, 1);
	size_t wn = strlen(want);
	bool any = false;

	for (size_t i = 0; i < sc->nops; i++) {
		const struct sim_op *op = sc->ops[i];

		if (wn && !(strncmp(op->name, want, wn) == 0 &&
			    (op->name[wn] == '\0' || op->name[wn] == ' ')))
			continue;
		fprintf(sc->out, "  %s\n      %s\n", op->usage ? op->usage : op->name,
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
	switch (parse_line(sc, &w, lineno, &l, &e)) {
	case LINE_BLANK:
	case LINE_MACHINE:
		break;
	case LINE_ERROR:
		sc->target = NULL;
		break;
	case LINE_EXPECT:
		if (!sc->target->done)
			script_err(sc, lineno, "expect: the operation above did not complete");
		else
			expect_check(sc, sc->target, e);
		expect_free(e);
		break;
	case LINE_OP:
		rc = script_start(sc);
		if (rc) {
			line_free(l);
			break;
		}
		cpu_queue(sc, l);
		sim_wake(NULL, sc->cpus[l->cpu].agent);
		sim_run(sc->s);
		if (script_check_stuck(sc)) {
			rc = 2;
			line_free(l);   /* never resumed: the shell ends */
			break;
		}
		line_free(sc->last);
		sc->last = sc->target = l;
		break;
	}
	sim_script_words_free(&w);
	return rc;
}

static int run_shell(struct script *sc, struct reader *r)
{
	bool tty = r->f && isatty(fileno(r->f));
	int lineno = 0, rc = 0;

	if (tty) {
		rl_instream = r->f;
		rl_outstream = sc->out;
	}
	for (;;) {
		char *text = tty ? readline("protsim> ") : reader_next(r);
		int lrc;

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
	/* Let idle agents finish. */
	if (sc->agents && rc == 0) {
		sc->closing = true;
		for (int i = 0; i < sc->ncpus; i++)
			sim_wake(NULL, sc->cpus[i].agent);
		sim_run(sc->s);
	}
	return rc;
}

static int script_main(struct sim *s, struct reader *r, const char *name, FILE *out, FILE *errf,
		       bool interactive)
{
	struct script sc = {
		.s = s, .name = name, .out = out, .errf = errf, .interactive = interactive,
	};
	int rc;

	sc.lines_tail = &sc.lines;
	ops_build(&sc);
	rc = interactive ? run_shell(&sc, r) : run_batch(&sc, r);
	fflush(out);
	/* Ops left in flight by a stop: free their buffers (their stacks stay). */
	for (int i = 0; i < sc.ncpus; i++)
		if (sc.cpus[i].call)
			call_free(sc.cpus[i].call);
	while (sc.lines) {
		struct script_line *l = sc.lines;

		sc.lines = l->all_next;
		line_free(l);
	}
	line_free(sc.last);
	free(sc.cpus);
	free(sc.ops);
	free(r->buf);
	return rc;
}

int sim_script_run(struct sim *s, FILE *in, const char *name, FILE *out, FILE *errf,
		   bool interactive)
{
	struct reader r = { .f = in };

	return script_main(s, &r, name, out, errf, interactive);
}

int sim_script_run_text(struct sim *s, const char *text, const char *name, FILE *out,
			FILE *errf)
{
	struct reader r = { .text = text };

	return script_main(s, &r, name, out, errf, false);
}

/* ------------------------------------------------------------------ */
/* The call interface for ops                                          */
/* ------------------------------------------------------------------ */

struct sim *sim_call_sim(const struct sim_call *c)
{
	return c->sc->s;
}

struct sim_agent *sim_call_agent(const struct sim_call *c)
{
	return c->agent;
}

/* The argument @key of the line, NULL if not given; @key must be declared. */
static const struct script_arg *call_arg(const struct sim_call *c, const char *key)
{
	const struct sim_op *op = c->line->op;

	for (size_t i = 0; i < c->line->nargs; i++)
		if (strcmp(c->line->args[i].spec->key, key) == 0)
			return &c->line->args[i];
	for (size_t k = 0; op->args && op->args[k].key; k++)
		if (strcmp(op->args[k].key, key) == 0)
			return NULL;
	sim_fatal("script: operation '%s' reads undeclared argument '%s'", op->name, key);
}

bool sim_arg_has(const struct sim_call *c, const char *key)
{
	return call_arg(c, key) != NULL;
}

uint64_t sim_arg_u64(const struct sim_call *c, const char *key, uint64_t def)
{
	const struct script_arg *a = call_arg(c, key);

	if (!a)
		return def;
	if (a->spec->type == SIM_ARG_STR)
		sim_fatal("script: '%s' argument '%s' is text, not a number", c->line->op->name, key);
	return a->val;
}

bool sim_arg_bool(const struct sim_call *c, const char *key, bool def)
{
	const struct script_arg *a = call_arg(c, key);

	if (!a)
		return def;
	if (a->spec->type == SIM_ARG_STR)
		sim_fatal("script: '%s' argument '%s' is text, not a boolean", c->line->op->name,
			  key);
	return a->val != 0;
}

const char *sim_arg_str(const struct sim_call *c, const char *key, const char *def)
{
	const struct script_arg *a = call_arg(c, key);

	return a ? a->text : def;
}

unsigned sim_arg_enum(const struct sim_call *c, const char *key, unsigned def)
{
	const struct script_arg *a = call_arg(c, key);

	if (!a)
		return def;
	if (a->spec->type != SIM_ARG_ENUM)
		sim_fatal("script: '%s' argument '%s' is not an enum", c->line->op->name, key);
	return (unsigned)a->val;
}

void sim_call_bad_arg(struct sim_call *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (c->bad)
		return;
	c->bad = true;
	sbuf_printf(&c->badmsg, "%s: ", key);
	va_start(ap, fmt);
	sbuf_vprintf(&c->badmsg, fmt, ap);
	va_end(ap);
}

void sim_call_result(struct sim_call *c, const char *fmt, ...)
{
	va_list ap;

	sbuf_free(&c->res);
	va_start(ap, fmt);
	sbuf_vprintf(&c->res, fmt, ap);
	va_end(ap);
	c->has_res = true;
}

static void call_field_v(struct sim_call *c, const char *key, const char *fmt, va_list ap)
{
	struct sbuf v = { 0 };

	sbuf_vprintf(&v, fmt, ap);
	if (c->nkv == c->kvcap) {
		c->kvcap = c->kvcap ? 2 * c->kvcap : 8;
		c->kv = sim_xrealloc(c->kv, c->kvcap * sizeof(*c->kv));
	}
	c->kv[c->nkv].key = sim_xstrdup(key);
	c->kv[c->nkv].val = v.p ? v.p : sim_xstrdup("");
	c->nkv++;
}

void sim_call_field(struct sim_call *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_field_v(c, key, fmt, ap);
	va_end(ap);
}

void sim_call_field_hex(struct sim_call *c, const char *key, uint64_t v)
{
	sim_call_field(c, key, "0x%llx", (unsigned long long)v);
}

void sim_call_field_u64(struct sim_call *c, const char *key, uint64_t v)
{
	sim_call_field(c, key, "%llu", (unsigned long long)v);
}

void sim_call_printf(struct sim_call *c, const char *fmt, ...)
{
	struct sbuf t = { 0 };
	const char *p;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&t, fmt, ap);
	va_end(ap);
	/* Each line of the text becomes one "  "-prefixed output line. */
	p = sbuf_str(&t);
	for (;;) {
		const char *nl = strchr(p, '\n');

		if (!nl) {
			if (*p || p == sbuf_str(&t))
				sbuf_printf(&c->extra, "  %s\n", p);
			break;
		}
		sbuf_printf(&c->extra, "  %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
	sbuf_free(&t);
}
