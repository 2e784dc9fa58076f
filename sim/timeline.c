/*
 * timeline.c - the timeline of a run in the Chrome trace-event format
 * (the JSON object form: {"traceEvents": [...]}), which Perfetto and
 * chrome://tracing open (docs/outputs.md "Timeline").
 *
 * One process (the machine), one thread track per agent (host CPUs,
 * vCPU threads, DMA engines), named by metadata events.  Models and host
 * software record duration events ("X": a script line, a guest run, an
 * exit's handling), instant events ("i": a kick, a fault) and flow arrows
 * ("s"/"f": a kick to the exit it causes, a lock holder to the agent it
 * refused).  Timestamps are cycles, written as integers in the format's
 * microseconds (put_ts).  Events are kept in memory up to timeline.cap
 * (the first one beyond the cap is reported once and the rest dropped)
 * and written sorted (cmp_event), so the bytes are deterministic and the
 * same at any engine.quantum.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tl_event {
	char ph;                  /* X, i, s, f */
	int agent;                /* the track */
	uint64_t t0, t1;          /* t1: X only */
	uint64_t id;              /* s, f: the flow */
	char *cat;
	char *name;
	char *args;               /* a JSON object's members, or NULL */
};

struct sim_timeline {
	char *path;
	uint64_t max;             /* timeline.cap */
	bool walks;               /* timeline.walks */
	uint64_t flows;           /* flow ids handed out */
	struct tl_event *ev;
	size_t n, cap;
	uint64_t dropped;         /* events beyond the cap */
	uint64_t cap_cycle;       /* the cycle of the first dropped one */
};

static struct sim_timeline *tl_of(const struct sim *s)
{
	return s->timeline;
}

bool sim_timeline_on(const struct sim *s)
{
	return s->timeline != NULL;
}

int sim_timeline_open(struct sim *s, const char *path, struct sim_err *err)
{
	struct sim_timeline *t;
	FILE *f = fopen(path, "w");   /* can it be written?  (refused before the run) */

	if (!f)
		return sim_err_set(err, "%s: cannot write the timeline: %s", path, strerror(errno));
	fclose(f);
	t = sim_xcalloc(1, sizeof(*t));
	t->path = sim_xstrdup(path);
	t->max = sim_cfg_u64(s, "timeline.cap");
	t->walks = sim_cfg_bool(s, "timeline.walks");
	s->timeline = t;
	sim_timeline_mem_flag(s);
	return 0;
}

static struct tl_event *tl_add(struct sim *s, char ph, int agent, uint64_t t0)
{
	struct sim_timeline *t = tl_of(s);

	if (t->n >= t->max) {
		if (!t->dropped++)
			t->cap_cycle = t0;
		return NULL;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->ev = sim_xrealloc(t->ev, t->cap * sizeof(*t->ev));
	}
	memset(&t->ev[t->n], 0, sizeof(t->ev[0]));
	t->ev[t->n].ph = ph;
	t->ev[t->n].agent = agent;
	t->ev[t->n].t0 = t0;
	return &t->ev[t->n++];
}

static void tl_names(struct tl_event *e, const char *cat, const char *name, const char *args)
{
	e->cat = sim_xstrdup(cat);
	e->name = sim_xstrdup(name);
	e->args = args ? sim_xstrdup(args) : NULL;
}

void sim_timeline_span(struct sim *s, int agent, const char *cat, const char *name, uint64_t t0,
		       uint64_t t1, const char *args)
{
	struct tl_event *e;

	/*
	 * Something that took no time is an instant: a span of duration 0 is
	 * valid in the format, but a viewer that turns spans into begin/end
	 * pairs (speedscope) may order its end before its begin.
	 */
	if (t1 <= t0) {
		sim_timeline_instant(s, agent, cat, name, t0, args);
		return;
	}
	if (!s->timeline || !(e = tl_add(s, 'X', agent, t0)))
		return;
	e->t1 = t1;
	tl_names(e, cat, name, args);
}

void sim_timeline_instant(struct sim *s, int agent, const char *cat, const char *name, uint64_t t,
			  const char *args)
{
	struct tl_event *e;

	if (!s->timeline || !(e = tl_add(s, 'i', agent, t)))
		return;
	tl_names(e, cat, name, args);
}

void sim_timeline_flow(struct sim *s, bool start, uint64_t id, int agent, uint64_t t,
		       const char *name)
{
	struct tl_event *e;

	if (!s->timeline || !(e = tl_add(s, start ? 's' : 'f', agent, t)))
		return;
	e->id = id;
	tl_names(e, "flow", name, NULL);
}

void sim_timeline_mem_flag(struct sim *s)
{
	if (s->mem)
		((struct sim_mem_fc *)(void *)s->mem)->timeline = s->timeline != NULL;
}

uint64_t sim_timeline_flow_id(struct sim *s)
{
	return s->timeline ? ++s->timeline->flows : 0;
}

struct sim *sim_timeline_of_slow(const struct sim_mem *m)
{
	struct sim *s = sim_mem_owner(m);

	return s && s->timeline ? s : NULL;
}

struct sim *sim_timeline_walks_of(const struct sim_mem *m)
{
	struct sim *s = sim_timeline_of(m);

	return s && s->timeline->walks ? s : NULL;
}

const char *sim_agent_name_of(const struct sim *s, int id)
{
	const struct sim_agent *a = sim_agent_by_id(s, id);

	return a ? sim_agent_name(a) : "none";
}

char *sim_json_quote(const char *p)
{
	size_t n = strlen(p);
	char *out = sim_xcalloc(6 * n + 3, 1), *q = out;

	*q++ = '"';
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			*q++ = '\\';
			*q++ = (char)c;
		} else if (c < 0x20) {
			q += sprintf(q, "\\u%04x", c);
		} else {
			*q++ = (char)c;
		}
	}
	*q++ = '"';
	*q = 0;
	return out;
}

static void put_str(FILE *f, const char *p)
{
	char *q = sim_json_quote(p);

	fputs(q, f);
	free(q);
}

/*
 * A time: cycles, as the format's microseconds (1 cycle = 1 us on the
 * viewer's axis).  Integers, so a viewer's ts + dur is exact: with
 * fractions (cycles / 1000 for 1 cycle = 1 ns) the sum of a span's start
 * and duration comes out a hair past the next span's start in binary
 * floating point, and viewers then see spans that do not nest.
 */
static void put_ts(FILE *f, const char *key, uint64_t c)
{
	fprintf(f, ",\"%s\":%llu", key, (unsigned long long)c);
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/*
 * The file's order: by start, track, then longer spans first (an outer
 * span before the spans it holds), then every other field, so the bytes
 * do not depend on the order agents recorded them in (engine.quantum
 * changes that order across agents, never the events).
 */
static int cmp_event(const void *pa, const void *pb)
{
	const struct tl_event *a = pa, *b = pb;
	int c;

	if (a->t0 != b->t0)
		return a->t0 < b->t0 ? -1 : 1;
	if (a->agent != b->agent)
		return a->agent < b->agent ? -1 : 1;
	if (a->t1 != b->t1)
		return a->t1 > b->t1 ? -1 : 1;
	if (a->ph != b->ph)
		return a->ph < b->ph ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if ((c = cmp_str(a->cat, b->cat)) || (c = cmp_str(a->name, b->name)))
		return c;
	return cmp_str(a->args, b->args);
}

int sim_timeline_close(struct sim *s, struct sim_err *err)
{
	struct sim_timeline *t = tl_of(s);
	FILE *f;
	int rc = 0;

	if (!t)
		return 0;
	s->timeline = NULL;
	sim_timeline_mem_flag(s);
	f = fopen(t->path, "w");
	if (!f) {
		rc = sim_err_set(err, "%s: cannot write the timeline: %s", t->path, strerror(errno));
		goto out;
	}
	qsort(t->ev, t->n, sizeof(t->ev[0]), cmp_event);
	fprintf(f, "{\"otherData\":{\"protsim\":");
	put_str(f, sim_version());
	fprintf(f, ",\"time\":\"ts and dur are cycles (1 cycle = 1 us on the axis)\","
		"\"events\":%llu,\"dropped\":%llu},\n"
		"\"traceEvents\":[\n", (unsigned long long)t->n, (unsigned long long)t->dropped);
	fprintf(f, "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\","
		"\"args\":{\"name\":\"protsim machine\"}}");
	for (int i = 0; i < sim_agent_count(s); i++) {
		fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\","
			"\"args\":{\"name\":", i);
		put_str(f, sim_agent_name(sim_agent_by_id(s, i)));
		fprintf(f, "}}");
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct tl_event *e = &t->ev[i];

		fprintf(f, ",\n{\"ph\":\"%c\",\"pid\":1,\"tid\":%d", e->ph, e->agent < 0 ? 0 : e->agent);
		put_ts(f, "ts", e->t0);
		if (e->ph == 'X')
			put_ts(f, "dur", e->t1 - e->t0);
		if (e->ph == 'i')
			fprintf(f, ",\"s\":\"t\"");
		if (e->ph == 's' || e->ph == 'f')
			fprintf(f, ",\"id\":%llu%s", (unsigned long long)e->id,
				e->ph == 'f' ? ",\"bp\":\"e\"" : "");
		fprintf(f, ",\"cat\":");
		put_str(f, e->cat);
		fprintf(f, ",\"name\":");
		put_str(f, e->name);
		if (e->args)
			fprintf(f, ",\"args\":{%s}", e->args);
		fputc('}', f);
	}
	fprintf(f, "\n]}\n");
	if (fclose(f))
		rc = sim_err_set(err, "%s: cannot write the timeline", t->path);
	if (t->dropped)
		fprintf(stderr, "protsim: %s: timeline cut at timeline.cap=%llu events "
			"(cycle %llu): %llu later events are not in it\n", t->path,
			(unsigned long long)t->max, (unsigned long long)t->cap_cycle,
			(unsigned long long)t->dropped);
out:
	for (size_t i = 0; i < t->n; i++) {
		free(t->ev[i].cat);
		free(t->ev[i].name);
		free(t->ev[i].args);
	}
	free(t->ev);
	free(t->path);
	free(t);
	return rc;
}
