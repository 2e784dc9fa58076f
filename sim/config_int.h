/*
 * config_int.h - what the files of the configuration share (config.c:
 * the key registry and setting values; parse.c: names, numbers and
 * quoting; config_file.c: INI scenario and profile files; config_doc.c:
 * the key reference and JSON).  Private to sim/.
 */
#ifndef PROTSIM_CONFIG_INT_H
#define PROTSIM_CONFIG_INT_H

#include "sim/sim_int.h"

#include <stddef.h>

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

/* config.c: the registry */
ptrdiff_t cfg_find(const struct sim_cfg *c, const char *name);  /* index, or -(insertion point) - 1 */
struct cfg_ent *cfg_lookup(const struct sim_cfg *c, const char *name);
/* "FILE:LINE: key: message" ("FILE: key: message" when @line <= 0); returns -1. */
int cfg_fail(struct sim_err *err, const char *file, int line, const char *key,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Validate @value for @k without storing it: *num / *idx, or -1 with @err. */
int cfg_check(const struct sim_cfg_key *k, const char *value, const char *file, int line,
	      uint64_t *num, unsigned *idx, struct sim_err *err);
void cfg_store(struct cfg_ent *e, const char *value, uint64_t num, unsigned idx,
	       enum cfg_origin origin, char *where);
char *cfg_where_of(const char *file, int line);
/* "unknown key" with a did-you-mean; returns -1. */
int cfg_unknown(const struct sim_cfg *c, struct sim_err *err, const char *file, int line,
		const char *key);
int cfg_set_origin(struct sim *s, const char *key, const char *value, const char *file,
		   int line, enum cfg_origin origin, struct sim_err *err);

/* parse.c: names, numbers, booleans */
bool cfg_name_ok(const char *p, size_t len);
int cfg_number(const char *p, size_t len, uint64_t *out);
int cfg_size(const char *p, uint64_t *out);
int cfg_bool(const char *text, bool *out);
const char *cfg_fmt_num(enum sim_cfg_type t, uint64_t v, char buf[32]);

#endif /* PROTSIM_CONFIG_INT_H */
