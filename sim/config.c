/*
 * config.c - the configuration key registry: declaring keys, checking and
 * setting values, typed lookups, where each value came from.
 *
 * Precedence, lowest first: key defaults < latency profile < scenario
 * file(s) < --set.  Files and --set are "user" values; the profile is
 * applied at sim_start() and only fills keys the user did not set.
 *
 * Every value remembers where it came from ("cfg.ini:12", "--set",
 * "profile:generic:7" or "default") so that errors found later, at
 * sim_start() or in a module's attach(), can name the source.
 *
 * The other files of the configuration: parse.c (names, numbers,
 * quoting), config_file.c (INI files and profiles), config_doc.c (the
 * key reference and JSON); config_int.h is what they share.
 */
#include "sim/config_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sim_cfg *sim_cfg_new(void)
{
	struct sim_cfg *c = sim_xrealloc(NULL, sizeof(*c));

	memset(c, 0, sizeof(*c));
	return c;
}

void sim_cfg_free(struct sim_cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->ent[i].text);
		free(c->ent[i].where);
	}
	free(c->ent);
	free(c->keys);
	free(c);
}

/* Index of @name, or -(insertion point) - 1. */
ptrdiff_t cfg_find(const struct sim_cfg *c, const char *name)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(c->ent[mid].key->name, name);

		if (d == 0)
			return (ptrdiff_t)mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ptrdiff_t)lo - 1;
}

struct cfg_ent *cfg_lookup(const struct sim_cfg *c, const char *name)
{
	ptrdiff_t i = cfg_find(c, name);

	return i >= 0 ? &c->ent[i] : NULL;
}

static struct cfg_ent *cfg_must(const struct sim *s, const char *name)
{
	struct cfg_ent *e = cfg_lookup(s->cfg, name);

	if (!e)
		sim_fatal("config: unknown key '%s'", name);
	return e;
}

/* "FILE:LINE: key: message", "FILE: key: message" when @line <= 0. */
int cfg_fail(struct sim_err *err, const char *file, int line, const char *key,
		    const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err)
		return -1;
	if (file && line > 0)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d: ", file, line);
	else if (file)
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", file);
	/* A key is a checked name, but may be long: the first 64 characters. */
	if (key && n >= 0 && (size_t)n < sizeof(err->msg))
		n += snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, "%.64s%s: ", key,
			      strlen(key) > 64 ? "..." : "");
	if (n >= 0 && (size_t)n < sizeof(err->msg)) {
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Validate @value for key @k without storing it.  On success fill *num /
 * *idx.  On failure return -1 with @err = "FILE:LINE: key: message".
 */
int cfg_check(const struct sim_cfg_key *k, const char *value, const char *file,
		     int line, uint64_t *num, unsigned *idx, struct sim_err *err)
{
	char q[SIM_QUOTE_MAX], a[32], b[32];
	uint64_t v = 0;
	bool bv;
	int rc;

	*num = 0;
	*idx = 0;
	switch (k->type) {
	case SIM_CFG_U64:
	case SIM_CFG_SIZE:
		rc = k->type == SIM_CFG_SIZE ? cfg_size(value, &v)
					     : cfg_number(value, strlen(value), &v);
		if (rc == -2)
			return cfg_fail(err, file, line, k->name,
					"%s does not fit in 64 bits", sim_quote(value, q));
		if (rc)
			return cfg_fail(err, file, line, k->name, "expected %s, got %s",
					k->type == SIM_CFG_SIZE
						? "a size (bytes, or a number with k, m, g or t)"
						: "a number",
					sim_quote(value, q));
		if (v < k->min || v > k->max) {
			if (k->max == UINT64_MAX)
				return cfg_fail(err, file, line, k->name,
						"must be at least %s (got %s)",
						cfg_fmt_num(k->type, k->min, a), sim_quote(value, q));
			if (k->min == 0)
				return cfg_fail(err, file, line, k->name,
						"must be at most %s (got %s)",
						cfg_fmt_num(k->type, k->max, a), sim_quote(value, q));
			return cfg_fail(err, file, line, k->name,
					"must be between %s and %s (got %s)",
					cfg_fmt_num(k->type, k->min, a),
					cfg_fmt_num(k->type, k->max, b), sim_quote(value, q));
		}
		*num = v;
		return 0;
	case SIM_CFG_BOOL:
		if (cfg_bool(value, &bv))
			return cfg_fail(err, file, line, k->name,
					"expected a boolean (0/1, true/false, on/off, yes/no), got %s",
					sim_quote(value, q));
		*num = bv;
		return 0;
	case SIM_CFG_ENUM:
		for (unsigned i = 0; k->choices && k->choices[i]; i++) {
			if (!strcmp(value, k->choices[i])) {
				*idx = i;
				*num = i;
				return 0;
			}
		}
		if (err) {
			char list[256];
			size_t n = 0;

			list[0] = 0;
			for (unsigned i = 0; k->choices && k->choices[i] && n < sizeof(list); i++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
						      i ? ", " : "", k->choices[i]);
			cfg_fail(err, file, line, k->name, "must be one of %s (got %s)", list,
				 sim_quote(value, q));
		}
		return -1;
	case SIM_CFG_STR:
		return 0;
	}
	sim_fatal("config: key '%s' has a bad type %d", k->name, (int)k->type);
}

void cfg_store(struct cfg_ent *e, const char *value, uint64_t num, unsigned idx,
		      enum cfg_origin origin, char *where)
{
	free(e->text);
	free(e->where);
	e->text = sim_xstrdup(value);
	e->num = num;
	e->idx = idx;
	e->origin = origin;
	e->where = where;
}

/* Check a declaration; a bad table is a programming error. */
static void cfg_check_decl(const struct sim_cfg_key *k)
{
	struct sim_err err;
	uint64_t num;
	unsigned idx;

	if (!cfg_name_ok(k->name, strlen(k->name)))
		sim_fatal("config: bad key name '%s'", k->name);
	if (!k->desc || !k->desc[0])
		sim_fatal("config: key '%s' has no description", k->name);
	if ((k->type == SIM_CFG_U64 || k->type == SIM_CFG_SIZE) && k->min > k->max)
		sim_fatal("config: key '%s': min > max", k->name);
	if (k->type == SIM_CFG_ENUM && (!k->choices || !k->choices[0]))
		sim_fatal("config: enum key '%s' has no choices", k->name);
	if (k->def && cfg_check(k, k->def, "default", 0, &num, &idx, &err))
		sim_fatal("config: bad default: %s", err.msg);
}

void sim_cfg_add_keys(struct sim_cfg *c, const struct sim_cfg_key *keys)
{
	if (!keys)
		return;
	for (const struct sim_cfg_key *k = keys; k->name; k++) {
		ptrdiff_t at = cfg_find(c, k->name);
		struct cfg_ent *e;
		size_t pos;

		cfg_check_decl(k);
		if (at >= 0)
			sim_fatal("config: key '%s' declared twice", k->name);
		pos = (size_t)(-at - 1);
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 64;
			c->ent = sim_xrealloc(c->ent, c->cap * sizeof(*c->ent));
		}
		memmove(&c->ent[pos + 1], &c->ent[pos], (c->n - pos) * sizeof(*c->ent));
		c->n++;
		e = &c->ent[pos];
		memset(e, 0, sizeof(*e));
		e->key = k;
		if (k->def) {
			uint64_t num;
			unsigned idx;

			cfg_check(k, k->def, NULL, 0, &num, &idx, NULL);
			cfg_store(e, k->def, num, idx, CFG_DEFAULT, sim_xstrdup("default"));
		} else {
			e->where = sim_xstrdup("unset");
		}
	}
	c->keys = sim_xrealloc(c->keys, (c->n + 1) * sizeof(*c->keys));
	for (size_t i = 0; i < c->n; i++)
		c->keys[i] = c->ent[i].key;
	c->keys[c->n] = NULL;
}

size_t sim_cfg_keys(const struct sim *s, const struct sim_cfg_key ***out)
{
	*out = s->cfg->keys;
	return s->cfg->n;
}

bool sim_cfg_has_key(const struct sim *s, const char *key)
{
	return cfg_lookup(s->cfg, key) != NULL;
}

bool sim_cfg_is_set(const struct sim *s, const char *key)
{
	return cfg_must(s, key)->origin == CFG_USER;
}

const char *sim_cfg_origin(const struct sim *s, const char *key)
{
	return cfg_must(s, key)->where;
}

char *sim_cfg_path(const struct sim *s, const char *key)
{
	const struct cfg_ent *e = cfg_must(s, key);
	const char *v = e->text ? e->text : "", *colon;
	char *file, *path;

	/* where = "FILE:LINE" for a value read from a file ("--set" has no line) */
	colon = e->origin == CFG_USER && e->where ? strrchr(e->where, ':') : NULL;
	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return sim_xstrdup(v);
	file = sim_xprintf("%.*s", (int)(colon - e->where), e->where);
	path = sim_path_beside(file, v);
	free(file);
	return path;
}

int sim_cfg_error(const struct sim *s, const char *key, struct sim_err *err,
		  const char *fmt, ...)
{
	const struct cfg_ent *e = cfg_must(s, key);
	va_list ap;
	int n;

	if (!err)
		return -1;
	if (e->origin == CFG_DEFAULT)
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", key);
	else
		n = snprintf(err->msg, sizeof(err->msg), "%s: %s: ", e->where, key);
	if (n >= 0 && (size_t)n < sizeof(err->msg)) {
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Typed lookups: a wrong type or a missing value is a programming error */
/* ------------------------------------------------------------------ */

static const struct cfg_ent *cfg_value(const struct sim *s, const char *key)
{
	const struct cfg_ent *e = cfg_must(s, key);

	if (!e->text)
		sim_fatal("config: key '%s' has no value (sim_cfg_check_complete not called?)",
			  key);
	return e;
}

uint64_t sim_cfg_u64(const struct sim *s, const char *key)
{
	const struct cfg_ent *e = cfg_value(s, key);

	if (e->key->type != SIM_CFG_U64 && e->key->type != SIM_CFG_SIZE &&
	    e->key->type != SIM_CFG_BOOL)
		sim_fatal("config: sim_cfg_u64 on key '%s', which is not a number", key);
	return e->num;
}

bool sim_cfg_bool(const struct sim *s, const char *key)
{
	const struct cfg_ent *e = cfg_value(s, key);

	if (e->key->type != SIM_CFG_BOOL)
		sim_fatal("config: sim_cfg_bool on key '%s', which is not a boolean", key);
	return e->num != 0;
}

const char *sim_cfg_str(const struct sim *s, const char *key)
{
	return cfg_value(s, key)->text;
}

unsigned sim_cfg_enum(const struct sim *s, const char *key)
{
	const struct cfg_ent *e = cfg_value(s, key);

	if (e->key->type != SIM_CFG_ENUM)
		sim_fatal("config: sim_cfg_enum on key '%s', which is not an enum", key);
	return e->idx;
}

/* ------------------------------------------------------------------ */
/* Setting values                                                      */
/* ------------------------------------------------------------------ */

char *cfg_where_of(const char *file, int line)
{
	if (!file)
		return sim_xstrdup("?");
	if (line > 0)
		return sim_xprintf("%s:%d", file, line);
	return sim_xstrdup(file);
}

/* The registered key closest to a mistyped @key, or NULL (sim_suggest). */
static const char *cfg_suggest(const struct sim_cfg *c, const char *key)
{
	const char **names = sim_xcalloc(c->n + 1, sizeof(*names));
	const char *best;

	for (size_t i = 0; i < c->n; i++)
		names[i] = c->ent[i].key->name;
	best = sim_suggest(key, names, c->n);
	free(names);
	return best;
}

const char *sim_cfg_suggest(const struct sim *s, const char *key)
{
	return cfg_suggest(s->cfg, key);
}

/* "FILE:LINE: key: unknown key", with the closest key if there is one. */
int cfg_unknown(const struct sim_cfg *c, struct sim_err *err, const char *file, int line,
		       const char *key)
{
	const char *best = cfg_suggest(c, key);

	if (best)
		return cfg_fail(err, file, line, key, "unknown key (did you mean '%s'?)", best);
	return cfg_fail(err, file, line, key, "unknown key");
}

static const char cfg_name_rule[] = "words of letters, digits, '_' or '-', separated by dots";

int cfg_set_origin(struct sim *s, const char *key, const char *value,
			  const char *file, int line, enum cfg_origin origin,
			  struct sim_err *err)
{
	struct cfg_ent *e = cfg_lookup(s->cfg, key);
	char q[SIM_QUOTE_MAX];
	uint64_t num;
	unsigned idx;

	if (!e && !cfg_name_ok(key, strlen(key)))
		return cfg_fail(err, file, line, NULL, "bad key name %s (%s)", sim_quote(key, q),
				cfg_name_rule);
	if (!e)
		return cfg_unknown(s->cfg, err, file, line, key);
	if (s->started)
		return cfg_fail(err, file, line, key,
				"cannot be changed once the machine is built");
	if (cfg_check(e->key, value, file, line, &num, &idx, err))
		return -1;
	cfg_store(e, value, num, idx, origin, cfg_where_of(file, line));
	return 0;
}

int sim_cfg_set(struct sim *s, const char *key, const char *value, const char *file,
		int line, struct sim_err *err)
{
	if (!key || !value)
		sim_fatal("config: sim_cfg_set with a NULL key or value");
	return cfg_set_origin(s, key, value, file, line, CFG_USER, err);
}

int sim_cfg_check_complete(const struct sim *s, struct sim_err *err)
{
	const struct sim_cfg *c = s->cfg;
	const struct cfg_ent *prof = cfg_lookup(c, "machine.profile");

	for (size_t i = 0; i < c->n; i++) {
		if (c->ent[i].text)
			continue;
		return cfg_fail(err, NULL, 0, c->ent[i].key->name,
				"no value (not in profile '%s' and not set)",
				prof && prof->text ? prof->text : "?");
	}
	return 0;
}

void sim_cfg_error_locate(const struct sim *s, struct sim_err *err)
{
	const char *colon;
	const struct cfg_ent *e;
	char *key, *msg;

	if (!err || !(colon = strstr(err->msg, ": ")))
		return;
	key = sim_xprintf("%.*s", (int)(colon - err->msg), err->msg);
	e = cfg_lookup(s->cfg, key);
	free(key);
	if (!e || e->origin == CFG_DEFAULT)
		return;
	msg = sim_xstrdup(err->msg);
	snprintf(err->msg, sizeof(err->msg), "%s: %s", e->where, msg);
	free(msg);
}
