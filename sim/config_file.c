/*
 * config_file.c - INI scenario files and latency profiles: sections,
 * keys, comments, duplicates, size and line limits, profile application
 * (docs/config.md).
 */
#include "sim/config_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
