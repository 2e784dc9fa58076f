/*
 * engine.c - agents, their clocks and the scheduler.
 *
 * Each agent with a body runs as a coroutine.  The scheduler keeps the
 * runnable agents (all but the running one) in a binary min-heap ordered by
 * (clock, id) and always resumes the smallest.  The running agent keeps
 * going until sim_advance() moves it past the point the quantum allows:
 *
 *   quantum 1 (exact):  yield as soon as (clock, id) > (min.clock, min.id)
 *   quantum Q > 1:      yield once clock >= min.clock + Q
 *
 * So with quantum 1, every operation starts in global (cycle, agent id)
 * order, and two operations race exactly when their windows overlap.
 * An agent without a body (fn == NULL) is a passive clock: sim_advance()
 * on it just adds cycles (handy for unit tests that call models directly).
 */
#include "sim/sim_int.h"

#include <stdlib.h>
#include <string.h>

enum agent_state { AGENT_READY, AGENT_RUNNING, AGENT_BLOCKED, AGENT_DONE };

struct sim_agent {
	struct sim *sim;          /* owner */
	int id;                   /* creation order, the tie-breaker */
	char name[32];            /* "cpu0", "vcpu1", "dma0" */
	enum sim_agent_kind kind;
	uint64_t clock;           /* cycles */
	sim_agent_fn fn;          /* body, NULL = passive */
	void *arg;                /* body argument */
	struct sim_coro *co;      /* created on first resume */
	enum agent_state state;
	bool hold;                /* sim_hold(): sim_advance never switches */
	uint64_t rng[4];          /* xoshiro256** state */
};

struct sim_engine {
	struct sim *sim;
	struct sim_agent **agents;   /* by id */
	int n, cap;
	struct sim_agent **heap;     /* runnable agents, min (clock, id) first */
	int hn, hcap;
	struct sim_agent *cur;       /* running agent or NULL */
	uint64_t quantum;            /* engine.quantum */
	uint64_t seed;               /* engine.seed */
	size_t stack_bytes;          /* engine.stack_kb * 1024 */
	bool stop;                   /* sim_stop() requested */
	uint64_t switches;           /* resumes so far */
	void (*tick)(void *arg);     /* progress hook */
	void *tick_arg;
};

#define TICK_EVERY 0xFFFFull   /* resumes between progress hook calls */

struct sim_engine *sim_engine_new(struct sim *s)
{
	struct sim_engine *e = calloc(1, sizeof(*e));

	if (!e)
		sim_fatal("engine: out of memory");
	e->sim = s;
	e->quantum = 1;
	e->seed = 1;
	e->stack_bytes = 256 * 1024;
	return e;
}

void sim_engine_free(struct sim_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n; i++) {
		sim_coro_free(e->agents[i]->co);
		free(e->agents[i]);
	}
	free(e->agents);
	free(e->heap);
	free(e);
}

void sim_engine_configure(struct sim_engine *e, const struct sim *s)
{
	e->quantum = sim_cfg_u64(s, "engine.quantum");
	e->seed = sim_cfg_u64(s, "engine.seed");
	e->stack_bytes = (size_t)sim_cfg_u64(s, "engine.stack_kb") * 1024;
}

void sim_engine_set_tick(struct sim_engine *e, void (*fn)(void *arg), void *arg)
{
	e->tick = fn;
	e->tick_arg = arg;
}

/* ---- heap of runnable agents ---- */

static bool before(const struct sim_agent *a, const struct sim_agent *b)
{
	return a->clock < b->clock || (a->clock == b->clock && a->id < b->id);
}

static void heap_push(struct sim_engine *e, struct sim_agent *a)
{
	int i;

	if (e->hn == e->hcap) {
		e->hcap = e->hcap ? 2 * e->hcap : 16;
		e->heap = sim_xrealloc(e->heap, (size_t)e->hcap * sizeof(*e->heap));
	}
	i = e->hn++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!before(a, e->heap[p]))
			break;
		e->heap[i] = e->heap[p];
		i = p;
	}
	e->heap[i] = a;
}

static struct sim_agent *heap_pop(struct sim_engine *e)
{
	struct sim_agent *top = e->heap[0], *last = e->heap[--e->hn];
	int i = 0;

	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct sim_agent *best = last;
		if (l < e->hn && before(e->heap[l], best)) {
			m = l;
			best = e->heap[l];
		}
		if (r < e->hn && before(e->heap[r], best))
			m = r;
		if (m == i)
			break;
		e->heap[i] = e->heap[m];
		i = m;
	}
	if (e->hn)
		e->heap[i] = last;
	return top;
}

/* ---- agents ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void agent_seed(struct sim_agent *a, uint64_t seed)
{
	uint64_t x = seed ^ ((uint64_t)(a->id + 1) * 0xD1B54A32D192ED03ull);

	for (int i = 0; i < 4; i++)
		a->rng[i] = splitmix64(&x);
}

struct sim_agent *sim_agent_new(struct sim *s, const char *name, enum sim_agent_kind kind,
				sim_agent_fn fn, void *arg)
{
	struct sim_engine *e = s->eng;
	struct sim_agent *a = calloc(1, sizeof(*a));

	if (!a)
		sim_fatal("engine: out of memory");
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 16;
		e->agents = sim_xrealloc(e->agents, (size_t)e->cap * sizeof(*e->agents));
	}
	a->sim = s;
	a->id = e->n;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->kind = kind;
	a->fn = fn;
	a->arg = arg;
	agent_seed(a, e->seed);
	e->agents[e->n++] = a;
	if (fn) {
		a->state = AGENT_READY;
		heap_push(e, a);
	} else {
		a->state = AGENT_DONE;
	}
	return a;
}

int sim_agent_id(const struct sim_agent *a) { return a->id; }
const char *sim_agent_name(const struct sim_agent *a) { return a->name; }
enum sim_agent_kind sim_agent_kind(const struct sim_agent *a) { return a->kind; }
struct sim *sim_agent_sim(const struct sim_agent *a) { return a->sim; }
uint64_t sim_now(const struct sim_agent *a) { return a->clock; }
int sim_agent_count(const struct sim *s) { return s->eng->n; }
struct sim_agent *sim_current(const struct sim *s) { return s->eng->cur; }

struct sim_agent *sim_agent_by_id(const struct sim *s, int id)
{
	return id >= 0 && id < s->eng->n ? s->eng->agents[id] : NULL;
}

uint64_t sim_max_cycle(const struct sim *s)
{
	uint64_t m = 0;

	for (int i = 0; i < s->eng->n; i++)
		if (s->eng->agents[i]->clock > m)
			m = s->eng->agents[i]->clock;
	return m;
}

uint64_t sim_seed(const struct sim *s)
{
	return s->eng->seed;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rand(struct sim_agent *a)
{
	uint64_t *st = a->rng;
	uint64_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;

	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= t;
	st[3] = rotl(st[3], 45);
	return r;
}

/* ---- time ---- */

static void agent_body(void *arg)
{
	struct sim_agent *a = arg;

	a->fn(a, a->arg);
}

/* Called on the running agent: hand control back to the scheduler. */
static void switch_out(struct sim_agent *a)
{
	sim_coro_suspend(a->co);
}

static bool is_running(const struct sim_agent *a)
{
	return a->state == AGENT_RUNNING && a->sim->eng->cur == a;
}

void sim_advance(struct sim_agent *a, uint64_t cycles)
{
	struct sim_engine *e = a->sim->eng;
	const struct sim_agent *m;

	a->clock += cycles;
	if (!is_running(a) || a->hold)
		return;
	if (e->stop) {
		switch_out(a);
		return;
	}
	if (!e->hn)
		return;
	m = e->heap[0];
	if (e->quantum <= 1 ? before(m, a) : a->clock >= m->clock + e->quantum)
		switch_out(a);
}

void sim_hold(struct sim_agent *a, bool hold)
{
	a->hold = hold;
	if (!hold)
		sim_advance(a, 0);
}

void sim_wait_until(struct sim_agent *a, uint64_t cycle)
{
	if (cycle > a->clock)
		sim_advance(a, cycle - a->clock);
}

void sim_yield(struct sim_agent *a)
{
	struct sim_engine *e = a->sim->eng;

	if (is_running(a) && e->hn && e->heap[0]->clock <= a->clock)
		switch_out(a);
}

void sim_block(struct sim_agent *a)
{
	if (!is_running(a))
		sim_fatal("engine: sim_block on %s, which is not the running agent", a->name);
	a->state = AGENT_BLOCKED;
	switch_out(a);
}

void sim_wake(struct sim_agent *waker, struct sim_agent *a)
{
	if (a->state != AGENT_BLOCKED)
		return;
	if (waker && waker->clock > a->clock)
		a->clock = waker->clock;
	a->state = AGENT_READY;
	heap_push(a->sim->eng, a);
}

void sim_stop(struct sim *s)
{
	s->eng->stop = true;
}

int sim_run(struct sim *s)
{
	struct sim_engine *e = s->eng;
	int blocked = 0;

	if (e->cur)
		sim_fatal("engine: sim_run called from inside an agent");
	e->stop = false;
	while (e->hn && !e->stop) {
		struct sim_agent *a = heap_pop(e);

		if (!a->co)
			a->co = sim_coro_new(agent_body, a, e->stack_bytes);
		a->state = AGENT_RUNNING;
		e->cur = a;
		sim_coro_resume(a->co);
		e->cur = NULL;
		if (sim_coro_done(a->co)) {
			a->state = AGENT_DONE;
			sim_coro_free(a->co);
			a->co = NULL;
		} else if (a->state == AGENT_RUNNING) {
			a->state = AGENT_READY;
			heap_push(e, a);
		}
		if (e->tick && (++e->switches & TICK_EVERY) == 0)
			e->tick(e->tick_arg);
	}
	for (int i = 0; i < e->n; i++)
		blocked += e->agents[i]->state == AGENT_BLOCKED;
	return blocked;
}
