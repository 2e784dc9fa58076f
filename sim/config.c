/*
 * config.c - the configuration key registry, value parsing, INI files,
 * latency profiles and the key reference (docs/config.md).
 *
 * Precedence, lowest first: key defaults < latency profile < scenario
 * file(s) < --set.  Files and --set are "user" values; the profile is
 * applied at sim_start() and only fills keys the user did not set.
 *
 * Every value remembers where it came from ("cfg.ini:12", "--set",
 * "profile:generic:7" or "default") so that errors found later, at
 * sim_start() or in a module's attach(), can name the source.
 *
 * Every function not static here is declared in sim/sim.h (the public
 * API) or sim/sim_int.h (the registry's life cycle, for the engine).
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>


/* ------------------------------------------------------------------ */

enum cfg_origin {
	CFG_DEFAULT,   /* the key table's .def (or no value) */
	CFG_PROFILE,   /* sim_cfg_apply_profile() */
	CFG_USER,      /* a scenario file or --set */
};

struct cfg_ent {
	const struct sim_cfg_key *key;   /* the declaration (static storage) */
	char *text;                      /* resolved value as text; NULL = no value */
	uint64_t num;                    /* U64/SIZE value, BOOL 0/1 */
	unsigned idx;                    /* ENUM: index into .choices */
	enum cfg_origin origin;          /* who set the value */
	char *where;                     /* "FILE:LINE", "--set", "default" */
	unsigned gen;                    /* last file load that set it (duplicates) */
	int gen_line;                    /* ... and on which line */
};

struct sim_cfg {
	struct cfg_ent *ent;             /* sorted by key name */
	size_t n;                        /* entries in use */
	size_t cap;                      /* entries allocated */
	const struct sim_cfg_key **keys; /* ent[i].key, for sim_cfg_keys() */
	unsigned gen;                    /* file loads so far */
};

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
static ptrdiff_t cfg_find(const struct sim_cfg *c, const char *name)
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

static struct cfg_ent *cfg_lookup(const struct sim_cfg *c, const char *name)
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

/* ------------------------------------------------------------------ */
/* Names and number parsing                                            */
/* ------------------------------------------------------------------ */

/* A dotted name: words of [A-Za-z0-9_-] separated by single dots. */
static bool cfg_name_ok(const char *p, size_t len)
{
	bool word = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (ch == '.') {
			if (!word)
				return false;
			word = false;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
			word = true;
		} else {
			return false;
		}
	}
	return word;
}

/* Digits of @base from @p; 0 ok, -1 not a number, -2 overflow. */
static int cfg_digits(const char *p, size_t len, unsigned base, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		char ch = p[i];

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -2;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* Decimal or 0x hex, the whole of p[0..len). 0, -1 bad, -2 overflow. */
static int cfg_number(const char *p, size_t len, uint64_t *out)
{
	if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return cfg_digits(p + 2, len - 2, 16, out);
	return cfg_digits(p, len, 10, out);
}

static int cfg_size(const char *p, uint64_t *out)
{
	size_t len = strlen(p);
	unsigned shift = 0;
	uint64_t v;
	int rc;

	if (len > 1) {
		switch (p[len - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: break;
		}
	}
	if (shift)
		len--;
	rc = cfg_number(p, len, &v);
	if (rc)
		return rc;
	if (shift && v > (UINT64_MAX >> shift))
		return -2;
	*out = v << shift;
	return 0;
}

int sim_parse_u64(const char *text, uint64_t *out)
{
	uint64_t v;

	if (!text || cfg_number(text, strlen(text), &v))
		return -1;
	*out = v;
	return 0;
}

int sim_parse_size(const char *text, uint64_t *out)
{
	uint64_t v;

	if (!text || cfg_size(text, &v))
		return -1;
	*out = v;
	return 0;
}

/* The script language's booleans: exactly 0 or 1. */
int sim_parse_bool(const char *text, bool *out)
{
	if (!text || (strcmp(text, "0") && strcmp(text, "1")))
		return -1;
	*out = text[0] == '1';
	return 0;
}

/* Config booleans: 0/1, true/false, on/off, yes/no (any case). */
static int cfg_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "1", "true", "on", "yes" };
	static const char *const no[] = { "0", "false", "off", "no" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(text, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(text, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/*
 * A number for messages and the reference: SIZE values with the largest
 * exact suffix (4k, 2m, 16g), other values in decimal below 2^32 and in
 * hex above (addresses, masks).
 */
static const char *cfg_fmt_num(enum sim_cfg_type t, uint64_t v, char buf[32])
{
	static const char sfx[] = "kmgt";

	if (t == SIM_CFG_SIZE && v) {
		int i;

		for (i = 4; i >= 1; i--) {
			unsigned sh = 10u * (unsigned)i;

			if ((v & ((1ull << sh) - 1)) == 0) {
				snprintf(buf, 32, "%llu%c", (unsigned long long)(v >> sh), sfx[i - 1]);
				return buf;
			}
		}
	}
	if (v >> 32)
		snprintf(buf, 32, "0x%llx", (unsigned long long)v);
	else
		snprintf(buf, 32, "%llu", (unsigned long long)v);
	return buf;
}

/*
 * Append one byte of @ch to @out as printed in a message; return the
 * characters written.
 */
static size_t quote_char(unsigned char ch, char *out)
{
	switch (ch) {
	case '\n': return (size_t)sprintf(out, "\\n");
	case '\t': return (size_t)sprintf(out, "\\t");
	case '\r': return (size_t)sprintf(out, "\\r");
	case '\\': return (size_t)sprintf(out, "\\\\");
	case '\'': return (size_t)sprintf(out, "\\'");
	default:
		if (ch < 0x20 || ch >= 0x7f)
			return (size_t)sprintf(out, "\\x%02x", ch);
		out[0] = (char)ch;
		out[1] = 0;
		return 1;
	}
}

const char *sim_quote(const char *text, char buf[SIM_QUOTE_MAX])
{
	enum { SHOW = 60, CUT = 57 };
	size_t n = 1, shown = 0;

	buf[0] = '\'';
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char one[8];
		size_t l = quote_char(*p, one);

		if (shown + l > CUT) {
			/* Does the rest fit in SHOW?  Then show it all. */
			size_t rest = shown;

			for (const unsigned char *r = p; *r && rest <= SHOW; r++)
				rest += quote_char(*r, one);
			if (rest <= SHOW) {
				for (; *p; p++)
					n += quote_char(*p, buf + n);
			} else {
				memcpy(buf + n, "...", 3);
				n += 3;
			}
			break;
		}
		memcpy(buf + n, one, l);
		n += l;
		shown += l;
	}
	buf[n++] = '\'';
	buf[n] = 0;
	return buf;
}

/* "FILE:LINE: key: message", "FILE: key: message" when @line <= 0. */
static int cfg_fail(struct sim_err *err, const char *file, int line, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int cfg_fail(struct sim_err *err, const char *file, int line, const char *key,
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
static int cfg_check(const struct sim_cfg_key *k, const char *value, const char *file,
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

static void cfg_store(struct cfg_ent *e, const char *value, uint64_t num, unsigned idx,
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

static char *cfg_where_of(const char *file, int line)
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
static int cfg_unknown(const struct sim_cfg *c, struct sim_err *err, const char *file, int line,
		       const char *key)
{
	const char *best = cfg_suggest(c, key);

	if (best)
		return cfg_fail(err, file, line, key, "unknown key (did you mean '%s'?)", best);
	return cfg_fail(err, file, line, key, "unknown key");
}

static const char cfg_name_rule[] = "words of letters, digits, '_' or '-', separated by dots";

static int cfg_set_origin(struct sim *s, const char *key, const char *value,
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

/* ------------------------------------------------------------------ */
/* INI files                                                           */
/* ------------------------------------------------------------------ */

static bool cfg_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Trim [*b, *e) of surrounding white space. */
static void cfg_trim(const char **b, const char **e)
{
	while (*b < *e && cfg_space(**b))
		(*b)++;
	while (*e > *b && cfg_space((*e)[-1]))
		(*e)--;
}

/* End of a value: the first '#' or ';' at its start or after white space. */
static const char *cfg_value_end(const char *b, const char *e)
{
	for (const char *p = b; p < e; p++)
		if ((*p == '#' || *p == ';') && (p == b || cfg_space(p[-1])))
			return p;
	return e;
}

/*
 * Does any registered key live in the section of @key (text up to its last
 * dot)?  An undotted key counts as known, so that it is reported.
 */
static bool cfg_section_known(const struct sim_cfg *c, const char *key)
{
	const char *dot = strrchr(key, '.');
	size_t len;
	ptrdiff_t at;

	if (!dot)
		return true;   /* no module section: always an error */
	len = (size_t)(dot - key) + 1;
	at = cfg_find(c, key);
	if (at >= 0)
		return true;
	at = -at - 1;
	/* Keys sharing the prefix sort next to the insertion point. */
	if ((size_t)at < c->n && !strncmp(c->ent[at].key->name, key, len))
		return true;
	if (at > 0 && !strncmp(c->ent[at - 1].key->name, key, len))
		return true;
	return false;
}

enum cfg_mode {
	CFG_LOAD_USER,      /* a scenario file: sets user values */
	CFG_LOAD_PROFILE,   /* a latency profile: fills unset keys */
};

static int cfg_parse(struct sim *s, const char *name, const char *text, enum cfg_mode mode,
		     struct sim_err *err)
{
	struct sim_cfg *c = s->cfg;
	char *section = sim_xstrdup("");
	char *key = NULL, *value = NULL;
	unsigned gen = ++c->gen;
	const char *p = text;
	int line = 0, rc = -1;

	if (!strncmp(p, "\xef\xbb\xbf", 3))   /* UTF-8 byte-order mark */
		p += 3;
	while (*p) {
		const char *b = p, *e = strchr(p, '\n'), *eq;
		char q[SIM_QUOTE_MAX];

		if (!e)
			e = p + strlen(p);
		p = *e ? e + 1 : e;
		line++;
		if ((size_t)(e - b) > SIM_CFG_MAX_LINE) {
			cfg_fail(err, name, line, NULL, "line longer than %u bytes (the limit)",
				 SIM_CFG_MAX_LINE);
			goto out;
		}
		cfg_trim(&b, &e);
		if (b == e || *b == '#' || *b == ';')
			continue;
		if (*b == '[') {
			const char *close = memchr(b, ']', (size_t)(e - b));
			const char *nb = b + 1, *ne, *rest;

			if (!close) {
				cfg_fail(err, name, line, NULL, "expected ']' to close the section name");
				goto out;
			}
			ne = close;
			rest = close + 1;
			cfg_trim(&nb, &ne);
			while (rest < e && cfg_space(*rest))
				rest++;
			if (rest < e && *rest != '#' && *rest != ';') {
				cfg_fail(err, name, line, NULL, "unexpected text after ']'");
				goto out;
			}
			if (!cfg_name_ok(nb, (size_t)(ne - nb))) {
				char *bad = sim_xprintf("%.*s", (int)(ne - nb), nb);

				cfg_fail(err, name, line, NULL,
					 "bad section name %s (words of letters, digits, '_' "
					 "or '-', separated by dots)",
					 sim_quote(bad, q));
				free(bad);
				goto out;
			}
			free(section);
			section = sim_xprintf("%.*s", (int)(ne - nb), nb);
			continue;
		}
		eq = memchr(b, '=', (size_t)(e - b));
		if (!eq) {
			char *bad = sim_xprintf("%.*s", (int)(e - b), b);

			cfg_fail(err, name, line, NULL,
				 "expected 'key = value' or '[section]', got %s", sim_quote(bad, q));
			free(bad);
			goto out;
		}
		{
			const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
			struct cfg_ent *ent;

			cfg_trim(&kb, &ke);
			if (!cfg_name_ok(kb, (size_t)(ke - kb))) {
				char *bad = sim_xprintf("%.*s", (int)(ke - kb), kb);

				cfg_fail(err, name, line, NULL,
					 "bad key name %s (words of letters, digits, '_' or '-', "
					 "separated by dots)",
					 sim_quote(bad, q));
				free(bad);
				goto out;
			}
			ve = cfg_value_end(vb, ve);
			cfg_trim(&vb, &ve);
			free(key);
			free(value);
			key = section[0] ? sim_xprintf("%s.%.*s", section, (int)(ke - kb), kb)
					 : sim_xprintf("%.*s", (int)(ke - kb), kb);
			value = sim_xprintf("%.*s", (int)(ve - vb), vb);

			ent = cfg_lookup(c, key);
			if (!ent) {
				if (mode == CFG_LOAD_PROFILE && !cfg_section_known(c, key))
					continue;   /* a module that is not built in */
				cfg_unknown(c, err, name, line, key);
				goto out;
			}
			if (ent->gen == gen) {
				cfg_fail(err, name, line, key, "set twice in this file (first at line %d)",
					 ent->gen_line);
				goto out;
			}
			if (mode == CFG_LOAD_PROFILE) {
				uint64_t num;
				unsigned idx;

				if (cfg_check(ent->key, value, name, line, &num, &idx, err))
					goto out;
				ent->gen = gen;
				ent->gen_line = line;
				if (ent->origin != CFG_USER)
					cfg_store(ent, value, num, idx, CFG_PROFILE,
						  cfg_where_of(name, line));
			} else {
				if (cfg_set_origin(s, key, value, name, line, CFG_USER, err))
					goto out;
				ent->gen = gen;
				ent->gen_line = line;
			}
		}
	}
	rc = 0;
out:
	free(section);
	free(key);
	free(value);
	return rc;
}

int sim_cfg_load_text(struct sim *s, const char *name, const char *text, struct sim_err *err)
{
	return cfg_parse(s, name, text, CFG_LOAD_USER, err);
}

/* Lines in buf[0..len): 1 + the newlines before @len. */
static int cfg_line_at(const char *buf, size_t len)
{
	int line = 1;

	for (size_t i = 0; i < len; i++)
		line += buf[i] == '\n';
	return line;
}

/*
 * Read a whole configuration file, never more than SIM_CFG_MAX_FILE bytes
 * (a device or a pipe may never end): a directory, a NUL byte or a file
 * over the limit is an error naming the file (and the line reached).
 */
int sim_cfg_load_file(struct sim *s, const char *path, struct sim_err *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf = NULL, *nul;
	size_t len = 0, cap = 0;
	int rc = -1;

	if (!f)
		return cfg_fail(err, path, 0, NULL, "cannot read: %s", strerror(errno));
	if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		fclose(f);
		return cfg_fail(err, path, 0, NULL, "cannot read: %s", strerror(EISDIR));
	}
	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 8192;
			buf = sim_xrealloc(buf, cap);
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		nul = memchr(buf + len, 0, got);
		len += got;
		if (nul) {
			cfg_fail(err, path, cfg_line_at(buf, (size_t)(nul - buf)), NULL,
				 "not a text file (contains a NUL byte)");
			goto out;
		}
		if (len > SIM_CFG_MAX_FILE) {
			cfg_fail(err, path, cfg_line_at(buf, SIM_CFG_MAX_FILE), NULL,
				 "file larger than %u bytes (the limit for a configuration file)",
				 SIM_CFG_MAX_FILE);
			goto out;
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		cfg_fail(err, path, 0, NULL, "cannot read: %s", strerror(errno ? errno : EIO));
		goto out;
	}
	buf[len] = 0;
	rc = sim_cfg_load_text(s, path, buf, err);
out:
	fclose(f);
	free(buf);
	return rc;
}

int sim_cfg_apply_profile(struct sim *s, const char *name, const char *text,
			  struct sim_err *err)
{
	char *label = sim_xprintf("profile:%s", name);
	int rc = cfg_parse(s, label, text, CFG_LOAD_PROFILE, err);

	free(label);
	return rc;
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

/* ------------------------------------------------------------------ */
/* Reference (help config, docs/config.md) and JSON                    */
/* ------------------------------------------------------------------ */

static const char *const cfg_type_names[] = {
	[SIM_CFG_U64] = "u64",
	[SIM_CFG_SIZE] = "size",
	[SIM_CFG_BOOL] = "bool",
	[SIM_CFG_ENUM] = "enum",
	[SIM_CFG_STR] = "string",
};

/* Range or choices column. */
static void cfg_range(const struct sim_cfg_key *k, char *buf, size_t len)
{
	char a[32], b[32];
	size_t n = 0;

	buf[0] = 0;
	switch (k->type) {
	case SIM_CFG_U64:
	case SIM_CFG_SIZE:
		if (k->min == 0 && k->max == UINT64_MAX)
			snprintf(buf, len, "any");
		else if (k->max == UINT64_MAX)
			snprintf(buf, len, ">= %s", cfg_fmt_num(k->type, k->min, a));
		else
			snprintf(buf, len, "%s .. %s", cfg_fmt_num(k->type, k->min, a),
				 cfg_fmt_num(k->type, k->max, b));
		break;
	case SIM_CFG_BOOL:
		snprintf(buf, len, "0/1, true/false, on/off, yes/no");
		break;
	case SIM_CFG_ENUM:
		for (unsigned i = 0; k->choices[i] && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
					      k->choices[i]);
		break;
	case SIM_CFG_STR:
		snprintf(buf, len, "text");
		break;
	}
}

/* Table group of a key: "lat.<module>" for latencies, else the first word. */
static size_t cfg_group_len(const char *name)
{
	const char *dot = strchr(name, '.');

	if (dot && !strncmp(name, "lat.", 4)) {
		const char *d2 = strchr(dot + 1, '.');

		if (d2)
			return (size_t)(d2 - name);
	}
	return dot ? (size_t)(dot - name) : strlen(name);
}

/* Markdown table cell: '|' escaped. */
static void cfg_md_cell(FILE *out, const char *t)
{
	for (; *t; t++) {
		if (*t == '|')
			fputs("\\|", out);
		else
			fputc(*t, out);
	}
}

static const char cfg_format_text[] =
	"Configuration comes from INI-style files: `key = value` lines, `[section]` "
	"lines that prefix the keys after them (`[rmp]` then `base = 0x100000` sets "
	"`rmp.base`), fully dotted keys at top level, `#` or `;` comments (a whole "
	"line, or after white space in a value) and blank lines. Numbers are decimal "
	"or `0x` hex; sizes also take `k`, `m`, `g` or `t` suffixes (`4k`, `2m`, "
	"`16g`); booleans are `0`/`1`, `true`/`false`, `on`/`off`, `yes`/`no`. A key "
	"set twice in one file is an error. Precedence, lowest first: the defaults "
	"below < the latency profile named by `machine.profile` (it supplies every "
	"key whose default is \"profile\") < the scenario file < `--set key=value` "
	"on the command line. A profile uses the same format; its keys are all "
	"checked, and a key of a module that is not built into the binary (no key "
	"of that section exists) is skipped. Errors name the source: "
	"`cfg.ini:12: key: message`, `--set: key: message`, "
	"`profile:NAME:LINE: key: message`, and an unknown key names the closest "
	"known one; values cannot change once the machine is built. A file may "
	"hold at most 1 MiB (1048576 bytes) and a line at most 4096 bytes; a "
	"directory, a NUL byte or a longer file or line is an error naming the "
	"file and line. `protsim help config KEY` shows one key (or every key "
	"under a prefix such as `rmp`).";

static void cfg_ref_markdown(const struct sim *s, FILE *out)
{
	const struct sim_cfg *c = s->cfg;
	char range[512];

	fputs("# protsim configuration keys\n\n", out);
	fputs("<!-- Generated by `protsim help config --markdown`; do not edit. -->\n\n", out);
	fputs(cfg_format_text, out);
	fputs("\n", out);
	/* Two passes: ordinary groups, then the latency groups. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			fputs("\n## Latencies (lat.*)\n\nCycles charged by the models; "
			      "every latency profile must define them.\n", out);
		for (size_t i = 0; i < c->n; i++) {
			const struct sim_cfg_key *k = c->ent[i].key;
			size_t gl = cfg_group_len(k->name);
			bool lat = !strncmp(k->name, "lat.", 4);

			if (lat != (pass == 1))
				continue;
			if (i == 0 || cfg_group_len(c->ent[i - 1].key->name) != gl ||
			    strncmp(c->ent[i - 1].key->name, k->name, gl) ||
			    c->ent[i - 1].key->name[gl] != k->name[gl])
				fprintf(out, "\n%s `%.*s`\n\n| key | type | range / choices | default "
					     "| description |\n|---|---|---|---|---|\n",
					lat ? "###" : "##", (int)gl, k->name);
			cfg_range(k, range, sizeof(range));
			fprintf(out, "| `%s` | %s | ", k->name, cfg_type_names[k->type]);
			cfg_md_cell(out, range);
			fputs(" | ", out);
			if (!k->def)
				fputs("profile", out);
			else if (!k->def[0])
				fputs("(empty)", out);
			else {
				fputs("`", out);
				cfg_md_cell(out, k->def);
				fputs("`", out);
			}
			fputs(" | ", out);
			cfg_md_cell(out, k->desc);
			fputs(" |\n", out);
		}
	}
}

/* Does key @name fall under @filter: the key itself, or "FILTER.rest"? */
static bool cfg_ref_match(const char *name, const char *filter)
{
	size_t l;

	if (!filter)
		return true;
	l = strlen(filter);
	return !strncmp(name, filter, l) && (name[l] == 0 || name[l] == '.');
}

/* The text reference of the keys under @filter (all if NULL); returns how many. */
static size_t cfg_ref_text(const struct sim *s, FILE *out, const char *filter)
{
	const struct sim_cfg *c = s->cfg;
	char range[512];
	int w = 0, wr = 0;
	size_t shown = 0;
	const struct sim_cfg_key *prev = NULL;

	for (size_t i = 0; i < c->n; i++) {
		int n = (int)strlen(c->ent[i].key->name);

		if (!cfg_ref_match(c->ent[i].key->name, filter))
			continue;
		if (n > w)
			w = n;
		cfg_range(c->ent[i].key, range, sizeof(range));
		n = (int)strlen(range);
		if (n > wr && n <= 40)
			wr = n;
	}
	if (!filter)
		fputs("Configuration keys (set in a scenario file, or with --set key=value).\n"
		      "Precedence: defaults < profile (machine.profile) < scenario file < --set.\n"
		      "Columns: key, type, range or choices, default.  See docs/config.md.\n", out);
	for (size_t i = 0; i < c->n; i++) {
		const struct sim_cfg_key *k = c->ent[i].key;
		size_t gl = cfg_group_len(k->name);

		if (!cfg_ref_match(k->name, filter))
			continue;
		if (!prev || strncmp(prev->name, k->name, gl) || cfg_group_len(prev->name) != gl)
			fprintf(out, "%s[%.*s]\n", filter && !prev ? "" : "\n", (int)gl, k->name);
		cfg_range(k, range, sizeof(range));
		fprintf(out, "  %-*s  %-6s  %-*s  %s\n", w, k->name, cfg_type_names[k->type], wr,
			range, !k->def ? "(profile)" : k->def[0] ? k->def : "(empty)");
		fprintf(out, "      %s\n", k->desc);
		prev = k;
		shown++;
	}
	return shown;
}

void sim_cfg_write_reference(const struct sim *s, FILE *out, bool markdown)
{
	if (markdown)
		cfg_ref_markdown(s, out);
	else
		cfg_ref_text(s, out, NULL);
}

size_t sim_cfg_write_key_help(const struct sim *s, FILE *out, const char *name)
{
	return cfg_ref_text(s, out, name);
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

/*
 * Write a jansson value to @path, with a final newline.  Shared with
 * stats.c through the prototype there.
 */
int sim_json_write_file(json_t *root, const char *path, struct sim_err *err)
{
	char *text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	FILE *f;
	int rc = 0;

	if (!text)
		return cfg_fail(err, path, 0, NULL, "cannot encode JSON");
	f = fopen(path, "w");
	if (!f) {
		int e = errno;

		free(text);
		return cfg_fail(err, path, 0, NULL, "cannot write: %s", strerror(e));
	}
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
		rc = cfg_fail(err, path, 0, NULL, "cannot write: %s", strerror(errno));
	if (fclose(f) && !rc)
		rc = cfg_fail(err, path, 0, NULL, "cannot write: %s", strerror(errno));
	free(text);
	return rc;
}

int sim_cfg_write_json(const struct sim *s, const char *path, struct sim_err *err)
{
	const struct sim_cfg *c = s->cfg;
	json_t *root = json_object();
	int rc;

	if (!root)
		sim_fatal("config: out of memory");
	for (size_t i = 0; i < c->n; i++) {
		const struct cfg_ent *e = &c->ent[i];
		json_t *v;

		if (!e->text)
			v = json_null();
		else if (e->key->type == SIM_CFG_BOOL)
			v = json_boolean(e->num);
		else if (e->key->type == SIM_CFG_U64 || e->key->type == SIM_CFG_SIZE) {
			/* json_int_t is signed: the rare value >= 2^63 stays exact as text. */
			if (e->num <= (uint64_t)INT64_MAX) {
				v = json_integer((json_int_t)e->num);
			} else {
				char big[32];

				snprintf(big, sizeof(big), "%llu", (unsigned long long)e->num);
				v = json_string(big);
			}
		} else
			v = json_string(e->text);
		if (!v || json_object_set_new(root, e->key->name, v))
			sim_fatal("config: out of memory");
	}
	rc = sim_json_write_file(root, path, err);
	json_decref(root);
	return rc;
}
