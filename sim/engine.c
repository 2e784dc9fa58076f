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
 * The quantum only decides how far an agent may run ahead on private
 * work.  Before an operation reads or changes shared state, sim_sync()
 * yields until its agent is the global minimum (clock, id), so with any
 * quantum every such operation takes effect in global (cycle, agent id)
 * order, and two operations race exactly when their windows overlap.
 * An agent without a body (fn == NULL) is a passive clock: sim_advance()
 * on it just adds cycles (handy for unit tests that call models directly).
 *
 * The second half of the file: kernel-style synchronisation in simulated
 * time (wait queues, locks, completions, mailboxes, stop/join), built on
 * one FIFO of blocked agents; last, the machine's host CPUs, agents that
 * serve their mailbox.
 */
#include "sim/sim_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum agent_state { AGENT_READY, AGENT_RUNNING, AGENT_BLOCKED, AGENT_DONE };

/* What a blocked agent waits for (who may wake it). */
enum agent_wait {
	WAIT_NONE,      /* not blocked */
	WAIT_BLOCK,     /* sim_block(): sim_wake() */
	WAIT_QUEUE,     /* a sim_waitq (locks, completions, join): its wake-ups */
	WAIT_MAILBOX,   /* sim_mailbox_wait(): sim_post(), sim_agent_stop() */
};

/* One posted message. */
struct sim_msg {
	struct sim_msg *next;
	uint64_t stamp;           /* sender's clock */
	sim_msg_fn fn;
	void *arg;
};

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
	unsigned hold;            /* sim_hold() depth: no switch, no sync while > 0 */
	enum agent_wait wait;     /* why it is blocked */
	struct sim_waitq *wq;     /* WAIT_QUEUE: the queue it is on */
	struct sim_agent *wq_next;  /* next waiter on that queue */
	struct sim_msg *mb_head, *mb_tail;  /* mailbox, post order */
	unsigned mb_n;            /* messages in it */
	bool stop_req;            /* sim_agent_stop() asked */
	bool finished;            /* body returned */
	bool host;                /* a host CPU: a post restarts its returned loop */
	struct sim_waitq joiners; /* agents in sim_agent_join() on this one */
	uint64_t idle, spin;      /* cycles spent blocked / spinning */
	struct sim_stat_group *stats;  /* agent.NAME.* */
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
	bool configured;             /* sim_engine_configure() ran: host CPUs may exist */
	struct sim_agent **host;     /* host CPUs cpu0..nhost-1, created on first request */
	unsigned nhost;
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
		struct sim_msg *m = e->agents[i]->mb_head;

		while (m) {
			struct sim_msg *next = m->next;

			free(m);
			m = next;
		}
		sim_coro_free(e->agents[i]->co);
		sim_stat_group_remove(e->sim, e->agents[i]->stats);
		free(e->agents[i]);
	}
	free(e->agents);
	free(e->host);
	free(e->heap);
	free(e);
}

void sim_engine_configure(struct sim_engine *e, const struct sim *s)
{
	e->quantum = sim_cfg_u64(s, "engine.quantum");
	e->seed = sim_cfg_u64(s, "engine.seed");
	e->stack_bytes = (size_t)sim_cfg_u64(s, "engine.stack_kb") * 1024;
	e->configured = true;
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

/*
 * agent.NAME.{cycles,idle,spin}: where its clock ended, and the cycles it
 * spent blocked and spinning.  A name met again gets _ID appended.
 */
static void agent_stats(struct sim_agent *a)
{
	static const struct sim_stat_desc d[] = {
		{ "cycles", SIM_STAT_CLOCK, offsetof(struct sim_agent, clock),
		  "the agent's clock: cycles it has run, waited and idled" },
		{ "idle", SIM_STAT_COUNTER, offsetof(struct sim_agent, idle),
		  "cycles it spent blocked (waiting, halted, idle)" },
		{ "spin", SIM_STAT_COUNTER, offsetof(struct sim_agent, spin),
		  "cycles it spent spinning on a lock" },
		{ NULL, 0, 0, NULL },
	};
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "agent.%s", a->name);
	if (sim_stat_has_prefix(a->sim, prefix))
		snprintf(prefix, sizeof(prefix), "agent.%s_%d", a->name, a->id);
	a->stats = sim_stat_group_add(a->sim, prefix, d, a);
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
	agent_stats(a);
	if (fn) {
		a->state = AGENT_READY;
		heap_push(e, a);
	} else {
		a->state = AGENT_DONE;
		a->finished = true;
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

uint64_t sim_horizon(const struct sim_agent *a, unsigned kinds)
{
	const struct sim_engine *e = a->sim->eng;
	uint64_t h = UINT64_MAX;

	for (int i = 0; i < e->hn; i++) {
		const struct sim_agent *b = e->heap[i];

		if (b != a && ((kinds >> b->kind) & 1) && b->clock < h)
			h = b->clock;
	}
	return h;
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

uint64_t sim_idle_cycles(const struct sim_agent *a) { return a->idle; }
uint64_t sim_spin_cycles(const struct sim_agent *a) { return a->spin; }

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

static void wake_all(struct sim_waitq *q, uint64_t clock);

static void agent_body(void *arg)
{
	struct sim_agent *a = arg;

	a->fn(a, a->arg);
	a->finished = true;
	wake_all(&a->joiners, a->clock);
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

/*
 * The scheduler resumes the heap's minimum and pushes the agent that
 * yielded back first, so once resumed the agent is the minimum of all
 * runnable agents: one switch suffices, unless a stop intervened.
 */
void sim_sync(struct sim_agent *a)
{
	struct sim_engine *e = a->sim->eng;

	while (is_running(a) && !a->hold && (e->stop || (e->hn && before(e->heap[0], a))))
		switch_out(a);
}

void sim_sync_id_slow(struct sim_mem *m, int agent)
{
	struct sim_engine *e = sim_mem_engine(m);
	struct sim_agent *a = e->cur;

	/* the common case, a held agent (a script line, a vCPU batch): no call */
	if (a && a->id == agent && !a->hold)
		sim_sync(a);
}

/* The owning simulator of a machine memory (timeline.c's sim_timeline_of). */
struct sim *sim_mem_owner(const struct sim_mem *m)
{
	const struct sim_engine *e = sim_mem_owned(m) ? sim_mem_engine(m) : NULL;

	return e ? e->sim : NULL;
}

void sim_hold(struct sim_agent *a, bool hold)
{
	if (hold) {
		a->hold++;
		return;
	}
	if (!a->hold)
		sim_fatal("engine: sim_hold release on %s, which is not held", a->name);
	if (--a->hold == 0)
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

/* Block the running agent for reason @why; account the time it waited. */
static void block_as(struct sim_agent *a, enum agent_wait why, bool spin)
{
	uint64_t t0 = a->clock;

	if (!is_running(a))
		sim_fatal("engine: %s blocks, but it is not the running agent", a->name);
	a->state = AGENT_BLOCKED;
	a->wait = why;
	switch_out(a);
	if (spin)
		a->spin += a->clock - t0;
	else
		a->idle += a->clock - t0;
}

/* Make blocked agent @a runnable at max(its clock, @clock). */
static void make_ready(struct sim_agent *a, uint64_t clock)
{
	if (clock > a->clock)
		a->clock = clock;
	a->state = AGENT_READY;
	a->wait = WAIT_NONE;
	heap_push(a->sim->eng, a);
}

void sim_block(struct sim_agent *a)
{
	block_as(a, WAIT_BLOCK, false);
}

void sim_wake(struct sim_agent *waker, struct sim_agent *a)
{
	if (a->state != AGENT_BLOCKED)
		return;
	if (a->wait != WAIT_BLOCK)
		sim_fatal("engine: sim_wake on %s, which waits in a %s", a->name,
			  a->wait == WAIT_MAILBOX ? "mailbox" : "wait queue");
	make_ready(a, waker ? waker->clock : 0);
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

/* ------------------------------------------------------------------ */
/* Synchronisation in simulated time                                   */
/* ------------------------------------------------------------------ */

/* Order a primitive's caller (NULL: outside sim_run, nothing to order). */
static void sync_caller(struct sim_agent *a)
{
	if (a)
		sim_sync(a);
}

static uint64_t clock_of(const struct sim_agent *a)
{
	return a ? a->clock : 0;
}

/* ---- wait queues ---- */

void sim_waitq_init(struct sim_waitq *q)
{
	q->head = q->tail = NULL;
	q->n = 0;
}

unsigned sim_waitq_len(const struct sim_waitq *q)
{
	return q->n;
}

/* Queue @a at the tail of @q and block it until a wake-up takes it off. */
static void wq_wait(struct sim_waitq *q, struct sim_agent *a, bool spin)
{
	if (!is_running(a))
		sim_fatal("engine: %s waits, but it is not the running agent", a->name);
	a->wq = q;
	a->wq_next = NULL;
	if (q->tail)
		q->tail->wq_next = a;
	else
		q->head = a;
	q->tail = a;
	q->n++;
	block_as(a, WAIT_QUEUE, spin);
}

/* Take the oldest waiter off @q and make it runnable at max(own, @clock). */
static struct sim_agent *wake_first(struct sim_waitq *q, uint64_t clock)
{
	struct sim_agent *a = q->head;

	if (!a)
		return NULL;
	q->head = a->wq_next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	a->wq = NULL;
	a->wq_next = NULL;
	make_ready(a, clock);
	return a;
}

static void wake_all(struct sim_waitq *q, uint64_t clock)
{
	while (wake_first(q, clock))
		;
}

void sim_waitq_wait(struct sim_waitq *q, struct sim_agent *a)
{
	sim_sync(a);
	wq_wait(q, a, false);
}

bool sim_waitq_wake_one(struct sim_waitq *q, struct sim_agent *waker)
{
	sync_caller(waker);
	return wake_first(q, clock_of(waker)) != NULL;
}

unsigned sim_waitq_wake_all(struct sim_waitq *q, struct sim_agent *waker)
{
	unsigned n;

	sync_caller(waker);
	n = q->n;
	wake_all(q, clock_of(waker));
	return n;
}

/* ---- locks ---- */

void sim_lock_init(struct sim_lock *l, enum sim_lock_kind kind, uint64_t acquire_cycles)
{
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->acquire_cycles = acquire_cycles;
}

/* @a owns @l from now: charge the acquire cost, start the hold. */
static void lock_taken(struct sim_lock *l, struct sim_agent *a)
{
	l->acquired++;
	sim_advance(a, l->acquire_cycles);
	l->held_since = a->clock;
}

void sim_lock_acquire(struct sim_lock *l, struct sim_agent *a)
{
	uint64_t t0;

	sim_sync(a);
	if (l->owner == a)
		sim_fatal("engine: %s acquires a lock it already holds", a->name);
	if (!l->owner) {
		l->owner = a;
		lock_taken(l, a);
		return;
	}
	/* Queue; sim_lock_release() makes us the owner before waking us. */
	t0 = a->clock;
	wq_wait(&l->waiters, a, l->kind == SIM_LOCK_SPIN);
	if (l->owner != a)
		sim_fatal("engine: %s woke from a lock wait without the lock", a->name);
	l->contended++;
	l->wait_cycles += a->clock - t0;
	lock_taken(l, a);
}

bool sim_lock_try(struct sim_lock *l, struct sim_agent *a)
{
	sim_sync(a);
	if (l->owner)
		return false;
	l->owner = a;
	lock_taken(l, a);
	return true;
}

void sim_lock_release(struct sim_lock *l, struct sim_agent *a)
{
	sim_sync(a);
	if (l->owner != a)
		sim_fatal("engine: %s releases a lock held by %s", a->name,
			  l->owner ? l->owner->name : "nobody");
	l->hold_cycles += a->clock - l->held_since;
	l->owner = l->waiters.head;
	wake_first(&l->waiters, a->clock);
}

/* ---- completions ---- */

void sim_completion_init(struct sim_completion *c)
{
	c->done = 0;
	sim_waitq_init(&c->wq);
}

void sim_completion_reinit(struct sim_completion *c, struct sim_agent *a)
{
	sync_caller(a);
	c->done = 0;
}

bool sim_completion_done(const struct sim_completion *c)
{
	return c->done != 0;
}

bool sim_try_wait_for_completion(struct sim_completion *c, struct sim_agent *a)
{
	sim_sync(a);
	if (!c->done)
		return false;
	if (c->done != UINT_MAX)
		c->done--;
	return true;
}

void sim_wait_for_completion(struct sim_completion *c, struct sim_agent *a)
{
	if (sim_try_wait_for_completion(c, a))
		return;
	/* sim_complete() hands its "done" to the oldest waiter directly. */
	wq_wait(&c->wq, a, false);
}

void sim_complete(struct sim_completion *c, struct sim_agent *waker)
{
	sync_caller(waker);
	if (c->done == UINT_MAX)
		return;
	if (!wake_first(&c->wq, clock_of(waker)))
		c->done++;
}

void sim_complete_all(struct sim_completion *c, struct sim_agent *waker)
{
	sync_caller(waker);
	c->done = UINT_MAX;
	wake_all(&c->wq, clock_of(waker));
}

/* ---- mailboxes ---- */

static void host_restart(struct sim_agent *a, uint64_t stamp);

void sim_post(struct sim_agent *from, struct sim_agent *to, sim_msg_fn fn, void *arg)
{
	struct sim_msg *m;

	if (!to->fn)
		sim_fatal("engine: post to %s, a passive agent (it has no body to run it)", to->name);
	sync_caller(from);
	m = sim_xcalloc(1, sizeof(*m));
	m->stamp = clock_of(from);
	m->fn = fn;
	m->arg = arg;
	if (to->mb_tail)
		to->mb_tail->next = m;
	else
		to->mb_head = m;
	to->mb_tail = m;
	to->mb_n++;
	if (to->state == AGENT_BLOCKED && to->wait == WAIT_MAILBOX)
		make_ready(to, m->stamp);
	else if (to->host && to->state == AGENT_DONE)
		host_restart(to, m->stamp);
}

unsigned sim_mailbox_len(const struct sim_agent *a)
{
	return a->mb_n;
}

/* Unlink and return the oldest message stamped at or before @now, or NULL. */
static struct sim_msg *mb_take_due(struct sim_agent *a, uint64_t now)
{
	struct sim_msg **pp = &a->mb_head, *prev = NULL;

	for (struct sim_msg *m = a->mb_head; m; prev = m, pp = &m->next, m = m->next) {
		if (m->stamp > now)
			continue;
		*pp = m->next;
		if (a->mb_tail == m)
			a->mb_tail = prev;
		a->mb_n--;
		return m;
	}
	return NULL;
}

unsigned sim_mailbox_poll(struct sim_agent *a)
{
	unsigned n = 0;
	struct sim_msg *m;

	sim_sync(a);
	/* A handler may advance the clock, post, or poll: take one at a time. */
	while ((m = mb_take_due(a, a->clock)) != NULL) {
		sim_msg_fn fn = m->fn;
		void *arg = m->arg;

		free(m);
		fn(a, arg);
		n++;
		sim_sync(a);
	}
	return n;
}

/* @a's mailbox holds messages, none due yet: idle until the earliest is. */
static void mb_idle_until_due(struct sim_agent *a)
{
	uint64_t first = UINT64_MAX, t0 = a->clock;

	for (const struct sim_msg *m = a->mb_head; m; m = m->next)
		if (m->stamp < first)
			first = m->stamp;
	sim_wait_until(a, first);
	a->idle += a->clock - t0;
}

unsigned sim_mailbox_wait(struct sim_agent *a)
{
	for (;;) {
		unsigned n = sim_mailbox_poll(a);

		if (n)
			return n;
		if (a->stop_req)
			return 0;
		if (a->mb_head)
			mb_idle_until_due(a);
		else
			block_as(a, WAIT_MAILBOX, false);
	}
}

/* ---- stop and join ---- */

void sim_agent_stop(struct sim_agent *from, struct sim_agent *a)
{
	sync_caller(from);
	a->stop_req = true;
	if (a->state == AGENT_BLOCKED && a->wait == WAIT_MAILBOX)
		make_ready(a, clock_of(from));
}

bool sim_agent_should_stop(struct sim_agent *a)
{
	sim_sync(a);
	return a->stop_req;
}

bool sim_agent_done(const struct sim_agent *a)
{
	return a->finished;
}

void sim_agent_join(struct sim_agent *a, struct sim_agent *target)
{
	if (target == a)
		sim_fatal("engine: %s joins itself", a->name);
	sim_sync(a);
	if (!target->fn)
		return;
	if (target->finished)
		sim_wait_until(a, target->clock);
	else
		wq_wait(&target->joiners, a, false);
}

/* ------------------------------------------------------------------ */
/* The machine's host CPUs                                             */
/* ------------------------------------------------------------------ */

/*
 * A host CPU's body: serve the mailbox, in post order, until asked to
 * stop with nothing left in it.  A message posted before the stop but not
 * yet due (stamped after the CPU's clock) is still waited for and run.
 */
static void host_cpu_body(struct sim_agent *a, void *arg)
{
	(void)arg;
	for (;;) {
		if (sim_mailbox_wait(a))
			continue;
		if (!a->mb_head)
			return;
		mb_idle_until_due(a);
	}
}

/*
 * A message was posted to host CPU @a after its loop returned: run the
 * loop again from max(its clock, @stamp), the gap counted idle as a wait
 * on the mailbox would.  The stop request stays: it returns once its
 * mailbox is empty again.
 */
static void host_restart(struct sim_agent *a, uint64_t stamp)
{
	if (stamp > a->clock) {
		a->idle += stamp - a->clock;
		a->clock = stamp;
	}
	a->finished = false;
	a->state = AGENT_READY;
	heap_push(a->sim->eng, a);
}

unsigned sim_host_cpus(const struct sim *s)
{
	return (unsigned)sim_cfg_u64(s, "machine.cpus");
}

struct sim_agent *sim_host_cpu(struct sim *s, unsigned i)
{
	struct sim_engine *e = s->eng;

	if (!e->configured)
		sim_fatal("engine: host CPU %u asked for before sim_start() (the machine is not built)",
			  i);
	if (!e->host) {
		unsigned n = sim_host_cpus(s);

		e->host = sim_xcalloc(n, sizeof(*e->host));
		for (unsigned k = 0; k < n; k++) {
			char name[16];

			snprintf(name, sizeof(name), "cpu%u", k);
			e->host[k] = sim_agent_new(s, name, SIM_AGENT_CPU, host_cpu_body, NULL);
			e->host[k]->host = true;
		}
		e->nhost = n;
	}
	if (i >= e->nhost)
		sim_fatal("engine: no host CPU %u (the machine has cpu0..cpu%u)", i, e->nhost - 1);
	return e->host[i];
}
