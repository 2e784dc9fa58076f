/*
 * sim_int.h - internals shared by the files of sim/.  Never included
 * outside sim/ (other modules use sim/sim.h only).
 */
#ifndef PROTSIM_SIM_INT_H
#define PROTSIM_SIM_INT_H

#include "sim/sim.h"

struct sim_cfg;      /* config.c: key registry and resolved values */
struct sim_stats;    /* stats.c: statistics registry */
struct sim_engine;   /* engine.c: agents and scheduler */

struct sim {
	const struct sim_module **modules;  /* NULL-terminated copy of sim_new()'s list */
	struct sim_cfg *cfg;                /* keys of the engine and every module */
	struct sim_stats *stats;            /* registered statistics */
	struct sim_engine *eng;             /* agents, scheduler */
	struct sim_mem *mem;                /* created by sim_start() */
	void **model;                       /* model of modules[i], see sim_set_model() */
	int attached;                       /* modules attached so far (for detach) */
	bool started;                       /* sim_start() succeeded */
	struct sim_timeline *timeline;      /* --timeline, or NULL (timeline.c) */
	struct sim_trace *trace;            /* --trace, or NULL (trace.c) */
};

/* config.c */
struct sim_cfg *sim_cfg_new(void);
void sim_cfg_free(struct sim_cfg *c);
/* Register a NULL-name-terminated key table; duplicates are sim_fatal. */
void sim_cfg_add_keys(struct sim_cfg *c, const struct sim_cfg_key *keys);
/* Every key has a value (latency keys come from the profile); -1 + err if not. */
int sim_cfg_check_complete(const struct sim *s, struct sim_err *err);
/* All keys sorted by name (for help and docs); returns count. */
size_t sim_cfg_keys(const struct sim *s, const struct sim_cfg_key ***out);
/* Write the key reference as Markdown (docs/config.md) or plain text. */
void sim_cfg_write_reference(const struct sim *s, FILE *out, bool markdown);
/* The text reference of key @name, or of every key "NAME.*"; returns how many. */
size_t sim_cfg_write_key_help(const struct sim *s, FILE *out, const char *name);
/* The registered key closest to a mistyped @key (sim_suggest), or NULL. */
const char *sim_cfg_suggest(const struct sim *s, const char *key);
/*
 * Apply a latency profile's keys, each only where the user has not set it.
 * Errors name "profile:<name>:LINE: key: message".
 */
int sim_cfg_apply_profile(struct sim *s, const char *name, const char *text,
			  struct sim_err *err);
/* Where a key's value came from: "FILE:LINE", "--set" or "default". */
const char *sim_cfg_origin(const struct sim *s, const char *key);

/* stats.c */
struct sim_stats *sim_stats_new(void);
void sim_stats_free(struct sim_stats *st);
/*
 * For the `protsim run` summary: the @max largest non-zero counters,
 * largest first, ties in name order.  Return: how many were found.
 */
size_t sim_stats_top(const struct sim *s, size_t max, const char **names, uint64_t *vals);

/* config.c: write a jansson value (json_t) to @path with a final newline. */
struct json_t;
int sim_json_write_file(struct json_t *root, const char *path, struct sim_err *err);

/* engine.c */
struct sim_engine *sim_engine_new(struct sim *s);
void sim_engine_free(struct sim_engine *e);
/* Read engine.quantum, engine.seed, engine.stack_kb (called by sim_start). */
void sim_engine_configure(struct sim_engine *e, const struct sim *s);
/* Progress hook, called about every 65536 scheduler resumes (CLI display only). */
void sim_engine_set_tick(struct sim_engine *e, void (*fn)(void *arg), void *arg);

/* ops_mem.c: the engine-level script operations (mem read/write, nop). */
extern const struct sim_op sim_core_ops[];

/* mem.c: the machine's memory, from machine.mem and lat.mem.dram. */
struct sim_mem *sim_mem_create(const struct sim *s);
/* The engine of the simulator that created @m (NULL: sim_mem_new). */
struct sim_engine *sim_mem_engine(const struct sim_mem *m);
/* timeline.c: mark the machine's memory with whether the timeline is on (sim_timeline_of). */
void sim_timeline_mem_flag(struct sim *s);
/* The simulator whose memory @m is (NULL: a standalone memory). */
struct sim *sim_mem_owner(const struct sim_mem *m);

/* profiles.S: embedded latency profiles, NUL-terminated text. */
const char *sim_profile_text(const char *name);
/* Names of the embedded profiles, NULL-terminated. */
const char *const *sim_profile_names(void);

/* sim.c: the engine's own configuration keys. */
extern const struct sim_cfg_key sim_engine_keys[];

#endif /* PROTSIM_SIM_INT_H */
