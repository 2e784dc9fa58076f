/*
 * script_parse.c - parsing the operation language: the table of
 * operations (the engine's and every module's), and one line into a
 * parsed operation, an expect line or the machine line.
 *
 * Found here, in the check pass of a script, before anything runs (exit
 * 2, nothing printed on stdout): every rule of one line alone --
 *   - the line: at most SIM_SCRIPT_LINE_MAX bytes, no NUL byte
 *     (script_read.c);
 *   - @CYCLE: a number, at most 2^48, first on the line; cpuN: canonical,
 *     below machine.cpus; the operation: known (one or two words);
 *   - each argument: key=value, a declared key, given once, not empty,
 *     and its value against its spec (script_args.c: the type, INT
 *     bounds, ADDR below 2^52 and aligned, SIZE bounds, the SIZESET sizes,
 *     the ENUM choices, 0|1, PERMS letters once each); required keys given;
 *   - expect: right after an op line, a well-formed result token, fields
 *     key=value;
 *   - machine: before the first op, once, known keys with values, mem and
 *     cpus given, each value valid for its config key (sim_cfg_set) --
 *     and, on a machine already built, equal to the machine's.
 * Found when the line runs (exit 2 from there; the lines before it have
 * printed): a rule an op checks itself with sim_call_bad_arg(), one that
 * spans arguments or depends on the machine's configuration -- today
 * `mem write` value= wider than size=; `host_access` map= other than 4k
 * with kind=ptread|ptwrite; `s2 create` levels= outside the format's
 * range; `tlbi` ipa= without vm=; dev= at or above iommu.devices (the
 * IOMMU ops and dma); `iommu inval` all=1 with dev=, iova= or size=,
 * neither dev= nor all=1, size= without iova=; `dma` fill= without
 * kind=write -- and, in script_run.c, an @CYCLE earlier than its agent's
 * clock, a machine that cannot be built (sim_start()) and a deadlock.
 * docs/script.md lists them with their messages.
 */
#include "sim/script_int.h"

#include <stdlib.h>
#include <string.h>

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
		sim_script_check_specs(op);
		if (sc->nops == *cap) {
			*cap = *cap ? 2 * *cap : 32;
			sc->ops = sim_xrealloc(sc->ops, *cap * sizeof(*sc->ops));
		}
		sc->ops[sc->nops++] = op;
	}
}

void sim_script_ops_build(struct script *sc)
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

void sim_script_expect_free(struct script_expect *e)
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

void sim_script_line_free(struct script_line *l)
{
	if (!l)
		return;
	while (l->exp) {
		struct script_expect *e = l->exp;

		l->exp = e->next;
		sim_script_expect_free(e);
	}
	sim_script_words_free(&l->words);
	free(l->args_text);
	free(l->args);
	free(l->res);
	kv_free(l->kv, l->nkv);
	free(l);
}

char *sim_script_words_join(const struct sim_script_words *w, size_t from)
{
	struct sim_sbuf b = { 0 };

	for (size_t i = from; i < w->n; i++)
		sim_sbuf_printf(&b, "%s%s", i > from ? " " : "", w->w[i]);
	return b.p ? b.p : sim_xstrdup("");
}

/* cpu<digits>: the agent word. */
static bool is_agent_word(const char *w)
{
	if (strncmp(w, "cpu", 3) != 0 || !w[3])
		return false;
	for (const char *p = w + 3; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* N of cpuN, or -1 if N is not canonical (a leading zero, more than 6 digits). */
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

void sim_script_fix_cpus(struct script *sc)
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

const char *const sim_script_machine_keys[][2] = {
	{ "mem", "machine.mem" },
	{ "cpus", "machine.cpus" },
	{ "profile", "machine.profile" },
	{ "rmp", "rmp.mode" },
	{ "rmp_base", "rmp.base" },
	{ "rmp_segment", "rmp.segment_size" },
	{ "host", "machine.host" },   /* kvm | pkvm (sim/stack/pkvm_host.c) */
	{ NULL, NULL },
};

/*
 * Was @key given on the command line?  sim_cli_apply() names its source
 * after the option ("--set", "--seed"), without a line number; a file
 * value's source is "FILE:LINE".
 */
static bool key_from_cli(const struct sim *s, const char *key)
{
	const char *where;

	if (!sim_cfg_has_key(s, key) || !sim_cfg_is_set(s, key))
		return false;
	where = sim_cfg_origin(s, key);
	return strncmp(where, "--", 2) == 0 && !strchr(where, ':');
}

/* Do @a and @b hold the same value for @key (as numbers, choices or text)? */
static bool key_same(const struct sim *a, const struct sim *b, const char *key)
{
	const struct sim_cfg_key **keys;
	size_t n = sim_cfg_keys(a, &keys);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i]->name, key) != 0)
			continue;
		switch (keys[i]->type) {
		case SIM_CFG_U64:
		case SIM_CFG_SIZE:
		case SIM_CFG_BOOL:
			return sim_cfg_u64(a, key) == sim_cfg_u64(b, key);
		case SIM_CFG_ENUM:
			return sim_cfg_enum(a, key) == sim_cfg_enum(b, key);
		case SIM_CFG_STR:
			break;
		}
		break;
	}
	return strcmp(sim_cfg_str(a, key), sim_cfg_str(b, key)) == 0;
}

/*
 * The machine line on a machine already built (a `protsim run` workload:
 * the scenario file built it).  It can change nothing, so each value
 * must be valid and equal to the machine's; keys from the command line
 * are skipped, as on an unbuilt machine.  0, or 2 after the message.
 */
static int machine_match(struct script *sc, const struct sim_script_words *w, const char **cfgkey,
			 char **key, int lineno)
{
	struct sim *tmp = sim_new(sim_modules(sc->s));
	char q[SIM_QUOTE_MAX], q2[SIM_QUOTE_MAX];
	struct sim_err err;
	int rc = 0;

	for (size_t i = 1; i < w->n && !rc; i++) {
		const char *val = strchr(w->w[i], '=') + 1, *where;

		if (key_from_cli(sc->s, cfgkey[i]))
			continue;
		if (sim_cfg_set(tmp, cfgkey[i], val, sc->name, lineno, &err) != 0) {
			fflush(sc->out);
			fprintf(sc->errf, "%s\n", err.msg);
			rc = 2;
			break;
		}
		if (key_same(tmp, sc->s, cfgkey[i]))
			continue;
		where = sim_cfg_origin(sc->s, cfgkey[i]);
		rc = sim_script_err(sc, lineno,
				    "%s: %s differs from the machine built from the scenario "
				    "(%s = %s, %s%s); a workload runs on that machine: drop the "
				    "machine line or put its keys in the scenario file",
				    key[i], sim_script_show(val, q), cfgkey[i],
				    sim_script_show(sim_cfg_str(sc->s, cfgkey[i]), q2),
				    strcmp(where, "default") == 0 ? "the " : "from ", where);
	}
	sim_free(tmp);
	return rc;
}

/*
 * machine mem=SIZE cpus=N [profile=NAME] [rmp=...] [rmp_base=ADDR] [rmp_segment=SIZE] [host=kvm|pkvm] [a.b=V]...
 *
 * Precedence, lowest first (docs/config.md): defaults < latency profile <
 * scenario file < command line.  The machine line stands where a scenario
 * file does: it sets its keys, except those given on the command line
 * (--set, --seed), which keep their value (silently; docs/script.md).  On
 * a machine already built it must match (machine_match()).
 */
static int parse_machine(struct script *sc, const struct sim_script_words *w, int lineno)
{
	const char **cfgkey = sim_xcalloc(w->n, sizeof(*cfgkey));
	char **key = sim_xcalloc(w->n, sizeof(*key));
	bool has_mem = false, has_cpus = false;
	char q[SIM_QUOTE_MAX];
	struct sim_err err;
	int rc = 0;

	if (sc->ncpus) {
		rc = sim_script_err(sc, lineno, "machine: must come before the first operation");
		goto out;
	}
	if (sc->machine_line) {
		rc = sim_script_err(sc, lineno, "machine: given twice (first on line %d)",
				    sc->machine_line);
		goto out;
	}
	for (size_t i = 1; i < w->n; i++) {
		const char *eq = strchr(w->w[i], '=');

		if (!eq || eq == w->w[i]) {
			rc = sim_script_err(sc, lineno, "%s: not a key=value argument",
					    sim_script_show(w->w[i], q));
			goto out;
		}
		key[i] = sim_xstrdup(w->w[i]);
		key[i][eq - w->w[i]] = '\0';
		if (!eq[1]) {
			rc = sim_script_err(sc, lineno, "%s: missing value",
					    sim_script_show(key[i], q));
			goto out;
		}
		for (size_t m = 0; sim_script_machine_keys[m][0]; m++)
			if (strcmp(key[i], sim_script_machine_keys[m][0]) == 0)
				cfgkey[i] = sim_script_machine_keys[m][1];
		if (!cfgkey[i] && strchr(key[i], '.'))
			cfgkey[i] = key[i];
		if (!cfgkey[i]) {
			rc = sim_script_err(sc, lineno,
					    "%s: unknown machine key (mem, cpus, profile, rmp, rmp_base, "
					    "rmp_segment, host, or a dotted config key)",
					    sim_script_show(key[i], q));
			goto out;
		}
		for (size_t j = 1; j < i; j++) {
			if (strcmp(cfgkey[j], cfgkey[i]) == 0) {
				rc = sim_script_err(sc, lineno, "%s: given twice",
						    sim_script_show(key[i], q));
				goto out;
			}
		}
		has_mem |= strcmp(cfgkey[i], "machine.mem") == 0;
		has_cpus |= strcmp(cfgkey[i], "machine.cpus") == 0;
	}
	if (!has_mem || !has_cpus) {
		rc = sim_script_err(sc, lineno, "%s: missing (required by 'machine')",
				    !has_mem ? "mem" : "cpus");
		goto out;
	}
	if (sim_started(sc->s)) {
		rc = machine_match(sc, w, cfgkey, key, lineno);
		if (!rc)
			sc->machine_line = lineno;
		goto out;
	}
	for (size_t i = 1; i < w->n; i++) {
		if (key_from_cli(sc->s, cfgkey[i]))
			continue;
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
			bool has_target, struct script_expect **out)
{
	struct script_expect *e;
	char q[SIM_QUOTE_MAX];
	char *text;

	if (!has_target)
		return sim_script_err(sc, lineno, "expect: must directly follow an operation line");
	if (w->n < 2)
		return sim_script_err(sc, lineno, "expect: missing result");
	if (!sim_script_token_ok(w->w[1]))
		return sim_script_err(sc, lineno,
				      "%s: malformed result (expected NAME or NAME(ITEM,...))",
				      sim_script_show(w->w[1], q));
	for (size_t i = 2; i < w->n; i++) {
		char *eq = strchr(w->w[i], '=');

		if (!eq || eq == w->w[i])
			return sim_script_err(sc, lineno, "%s: not a field=value",
					      sim_script_show(w->w[i], q));
		if (!eq[1]) {
			*eq = '\0';
			sim_script_err(sc, lineno, "%s: missing value", sim_script_show(w->w[i], q));
			*eq = '=';
			return 2;
		}
	}
	e = sim_xcalloc(1, sizeof(*e));
	e->lineno = lineno;
	/* The text is for the failure message only: shown as sim_script_show() does. */
	text = sim_script_words_join(w, 1);
	e->text = sim_xstrdup(sim_script_show(text, q));
	free(text);
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
	char why[256], q[SIM_QUOTE_MAX], q2[SIM_QUOTE_MAX];

	if (w->w[0][0] == '@') {
		if (sim_parse_u64(w->w[0] + 1, &cycle) != 0)
			return sim_script_err(sc, lineno,
					      "%s: not a cycle number (decimal or 0x hex)",
					      sim_script_show(w->w[0], q));
		if (cycle > SIM_SCRIPT_CYCLE_MAX)
			return sim_script_err(sc, lineno, "%s: cycle too large (at most 2^48)",
					      sim_script_show(w->w[0], q));
		has_cycle = true;
		i++;
	}
	if (i < w->n && is_agent_word(w->w[i])) {
		int ncpus = sc->ncpus ? sc->ncpus : (int)sim_cfg_u64(sc->s, "machine.cpus");

		cpu = agent_index(w->w[i]);
		if (cpu < 0 || cpu >= ncpus)
			return sim_script_err(sc, lineno,
					      "%s: no such agent (the machine has cpu0..cpu%d)",
					      sim_script_show(w->w[i], q), ncpus - 1);
		i++;
	}
	if (i == w->n)
		return sim_script_err(sc, lineno, "%s: missing operation",
				      sim_script_show(w->w[i - 1], q));
	if (w->w[i][0] == '@')
		return sim_script_err(sc, lineno, "%s: the start cycle must come first on the line",
				      sim_script_show(w->w[i], q));
	if (strcmp(w->w[i], "machine") == 0 || strcmp(w->w[i], "expect") == 0)
		return sim_script_err(sc, lineno,
				      "%s: must be on a line of its own (no @CYCLE or agent)",
				      w->w[i]);
	if (i + 1 < w->n && !strchr(w->w[i + 1], '=')) {
		char two[256];

		snprintf(two, sizeof(two), "%s %s", w->w[i], w->w[i + 1]);
		op = ops_find(sc, two);
		if (op)
			i += 2;
		else if (ops_is_prefix(sc, w->w[i]))
			return sim_script_err(sc, lineno, "%s %s: unknown operation",
					      sim_script_show(w->w[i], q),
					      sim_script_show(w->w[i + 1], q2));
	}
	if (!op) {
		op = ops_find(sc, w->w[i]);
		if (!op)
			return sim_script_err(sc, lineno, "%s: unknown operation",
					      sim_script_show(w->w[i], q));
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
			l->args_text = sim_script_words_join(w, i);
		if (!eq || eq == word) {
			sim_script_err(sc, lineno, "%s: not a key=value argument",
				       sim_script_show(word, q));
			goto bad;
		}
		*eq = '\0';
		for (size_t k = 0; k < nspec; k++)
			if (strcmp(op->args[k].key, word) == 0)
				spec = &op->args[k];
		if (!spec) {
			sim_script_err(sc, lineno, "%s: unknown argument of '%s'",
				       sim_script_show(word, q), op->name);
			goto bad;
		}
		for (size_t k = 0; k < l->nargs; k++) {
			if (l->args[k].spec == spec) {
				sim_script_err(sc, lineno, "%s: given twice", word);
				goto bad;
			}
		}
		if (!eq[1]) {
			sim_script_err(sc, lineno, "%s: missing value", word);
			goto bad;
		}
		a = &l->args[l->nargs++];
		a->spec = spec;
		a->text = eq + 1;
		if (sim_script_check_value(spec, a->text, &a->val, why, sizeof(why)) != 0) {
			sim_script_err(sc, lineno, "%s: %s", word, why);
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
			sim_script_err(sc, lineno, "%s: missing (required by '%s')", op->args[k].key,
				       op->name);
			goto bad;
		}
	}
	if (!l->args_text)
		l->args_text = sim_xstrdup("");
	sim_script_fix_cpus(sc);
	l->words = *w;
	memset(w, 0, sizeof(*w));
	*out = l;
	return 0;
bad:
	sim_script_line_free(l);
	return 2;
}

enum script_line_kind sim_script_parse_line(struct script *sc, struct sim_script_words *w,
					    int lineno, bool has_target, struct script_line **lp,
					    struct script_expect **ep)
{
	if (!w->n)
		return SCRIPT_LINE_BLANK;
	if (strcmp(w->w[0], "machine") == 0)
		return parse_machine(sc, w, lineno) ? SCRIPT_LINE_ERROR : SCRIPT_LINE_MACHINE;
	if (strcmp(w->w[0], "expect") == 0)
		return parse_expect(sc, w, lineno, has_target, ep) ? SCRIPT_LINE_ERROR
								   : SCRIPT_LINE_EXPECT;
	if (!sc->interactive && sim_script_shell_cmd(w->w[0])) {
		sim_script_err(sc, lineno, "%s: only available in protsim shell", w->w[0]);
		return SCRIPT_LINE_ERROR;
	}
	return parse_op(sc, w, lineno, lp) ? SCRIPT_LINE_ERROR : SCRIPT_LINE_OP;
}

/* Is @c white space (as sim_script_split() sees it)? */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The word of @p (its start), its length in *@len; NULL if none is left. */
static const char *next_word(const char *p, size_t *len)
{
	while (*p && is_space(*p))
		p++;
	if (!*p)
		return NULL;
	*len = 0;
	while (p[*len] && !is_space(p[*len]))
		(*len)++;
	return p;
}

int sim_script_line_agent(const char *text)
{
	char word[16];
	const char *w;
	size_t n;

	w = next_word(text, &n);
	if (!w || w[0] == '#')
		return -1;
	if ((n == 7 && strncmp(w, "machine", 7) == 0) || (n == 6 && strncmp(w, "expect", 6) == 0))
		return -1;
	if (w[0] == '@') {
		w = next_word(w + n, &n);
		if (!w)
			return -1;
	}
	if (n >= sizeof(word))
		return 0;
	memcpy(word, w, n);
	word[n] = '\0';
	return is_agent_word(word) ? agent_index(word) : 0;
}
