/*
 * test_sync.c - synchronisation in simulated time (sim/engine.c): wait
 * queues, spinlocks and mutexes, completions, mailboxes, stop and join.
 * Every case states the exact cycle at which each agent gets through, and
 * runs at quanta 1, 1000 and 10^6: the primitives order themselves with
 * sim_sync(), so the results may not depend on the quantum.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <string.h>

#include "sim/sim.h"

#define NONE UINT64_MAX

static const char *const quanta[] = { "1", "1000", "1000000" };
#define NQ (sizeof(quanta) / sizeof(quanta[0]))

static struct sim *mk(const char *quantum)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

	cr_assert_eq(sim_cfg_set(s, "engine.quantum", quantum, "--set", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	return s;
}

/* ------------------------------------------------------------------ */
/* Locks                                                               */
/* ------------------------------------------------------------------ */

struct lk_agent {
	uint64_t arrive;      /* private work before the attempt */
	uint64_t hold;        /* cycles held */
	bool try_;            /* sim_lock_try instead of sim_lock_acquire */
};

struct lk_case {
	const char *name;
	enum sim_lock_kind kind;
	uint64_t acq;                 /* acquire cost */
	int n;
	struct lk_agent ag[4];
	uint64_t got[4];              /* clock when the lock was ours (NONE: try failed) */
	uint64_t rel[4];              /* clock at release */
	uint64_t waited[4];           /* spin cycles (spinlock) or idle cycles (mutex) */
	uint64_t acquired, contended, wait_cycles, hold_cycles;
};

#define ACQ(arrive, hold) { arrive, hold, false }
#define TRY(arrive, hold) { arrive, hold, true }

static const struct lk_case lk_cases[] = {
	{ "spinlock, FIFO hand-off", SIM_LOCK_SPIN, 10, 3,
	  { ACQ(0, 100), ACQ(5, 50), ACQ(7, 20) },
	  { 10, 120, 180 }, { 110, 170, 200 }, { 0, 105, 163 }, 3, 2, 268, 170 },
	{ "mutex, same times, waits are idle", SIM_LOCK_MUTEX, 10, 3,
	  { ACQ(0, 100), ACQ(5, 50), ACQ(7, 20) },
	  { 10, 120, 180 }, { 110, 170, 200 }, { 0, 105, 163 }, 3, 2, 268, 170 },
	{ "arrival order, not id order", SIM_LOCK_SPIN, 10, 3,
	  { ACQ(0, 100), ACQ(7, 50), ACQ(5, 20) },
	  { 10, 150, 120 }, { 110, 200, 140 }, { 0, 133, 105 }, 3, 2, 238, 170 },
	{ "same arrival cycle: lower id queues first", SIM_LOCK_MUTEX, 10, 3,
	  { ACQ(0, 100), ACQ(5, 10), ACQ(5, 10) },
	  { 10, 120, 140 }, { 110, 130, 150 }, { 0, 105, 125 }, 3, 2, 230, 120 },
	{ "no contention", SIM_LOCK_SPIN, 10, 2,
	  { ACQ(0, 10), ACQ(20, 10) },
	  { 10, 30 }, { 20, 40 }, { 0, 0 }, 2, 0, 0, 20 },
	{ "arrive at the release cycle, higher id: free", SIM_LOCK_SPIN, 10, 2,
	  { ACQ(0, 100), ACQ(110, 5) },
	  { 10, 120 }, { 110, 125 }, { 0, 0 }, 2, 0, 0, 105 },
	{ "arrive at the release cycle, lower id: queued, waits 0", SIM_LOCK_SPIN, 10, 2,
	  { ACQ(110, 5), ACQ(0, 100) },
	  { 120, 10 }, { 125, 110 }, { 0, 0 }, 2, 1, 0, 105 },
	{ "trylock fails while held, succeeds after", SIM_LOCK_SPIN, 10, 3,
	  { ACQ(0, 100), TRY(50, 0), TRY(200, 30) },
	  { 10, NONE, 210 }, { 110, NONE, 240 }, { 0, 0, 0 }, 2, 0, 0, 130 },
	{ "zero acquire cost", SIM_LOCK_MUTEX, 0, 2,
	  { ACQ(0, 40), ACQ(1, 1) },
	  { 0, 40 }, { 40, 41 }, { 0, 39 }, 2, 1, 39, 41 },
};

struct lk_run {
	struct sim_lock *l;
	const struct lk_agent *ag;
	uint64_t got, rel;
};

static void lk_body(struct sim_agent *a, void *arg)
{
	struct lk_run *r = arg;

	r->got = r->rel = NONE;
	sim_advance(a, r->ag->arrive);
	if (r->ag->try_) {
		if (!sim_lock_try(r->l, a))
			return;
	} else {
		sim_lock_acquire(r->l, a);
	}
	r->got = sim_now(a);
	sim_advance(a, r->ag->hold);
	r->rel = sim_now(a);
	sim_lock_release(r->l, a);
}

Test(sync, locks_exact_cycles_at_any_quantum)
{
	for (size_t c = 0; c < sizeof(lk_cases) / sizeof(lk_cases[0]); c++) {
		const struct lk_case *k = &lk_cases[c];

		for (size_t q = 0; q < NQ; q++) {
			struct sim *s = mk(quanta[q]);
			struct sim_lock l;
			struct lk_run r[4];
			struct sim_agent *ag[4];

			sim_lock_init(&l, k->kind, k->acq);
			for (int i = 0; i < k->n; i++) {
				r[i] = (struct lk_run){ &l, &k->ag[i], 0, 0 };
				ag[i] = sim_agent_new(s, "a", SIM_AGENT_CPU, lk_body, &r[i]);
			}
			cr_assert_eq(sim_run(s), 0, "%s: deadlock", k->name);
			for (int i = 0; i < k->n; i++) {
				uint64_t spin = sim_spin_cycles(ag[i]), idle = sim_idle_cycles(ag[i]);

				cr_expect_eq(r[i].got, k->got[i], "%s q=%s: agent %d got it at %llu",
					     k->name, quanta[q], i, (unsigned long long)r[i].got);
				cr_expect_eq(r[i].rel, k->rel[i], "%s q=%s: agent %d released at %llu",
					     k->name, quanta[q], i, (unsigned long long)r[i].rel);
				cr_expect_eq(k->kind == SIM_LOCK_SPIN ? spin : idle, k->waited[i],
					     "%s q=%s: agent %d waited %llu", k->name, quanta[q], i,
					     (unsigned long long)(spin + idle));
				cr_expect_eq(k->kind == SIM_LOCK_SPIN ? idle : spin, 0,
					     "%s: the other account stays 0", k->name);
			}
			cr_expect_null(l.owner, "%s: free at the end", k->name);
			cr_expect_eq(sim_waitq_len(&l.waiters), 0);
			cr_expect_eq(l.acquired, k->acquired, "%s: acquired", k->name);
			cr_expect_eq(l.contended, k->contended, "%s: contended", k->name);
			cr_expect_eq(l.wait_cycles, k->wait_cycles, "%s: wait_cycles %llu", k->name,
				     (unsigned long long)l.wait_cycles);
			cr_expect_eq(l.hold_cycles, k->hold_cycles, "%s: hold_cycles %llu", k->name,
				     (unsigned long long)l.hold_cycles);
			sim_free(s);
		}
	}
}

static void lk_twice(struct sim_agent *a, void *arg)
{
	sim_lock_acquire(arg, a);
	sim_lock_acquire(arg, a);
}

Test(sync, lock_taken_twice_aborts, .signal = SIGABRT)
{
	struct sim *s = mk("1");
	struct sim_lock l;

	sim_lock_init(&l, SIM_LOCK_MUTEX, 1);
	sim_agent_new(s, "a", SIM_AGENT_CPU, lk_twice, &l);
	sim_run(s);
}

static void lk_foreign_release(struct sim_agent *a, void *arg)
{
	sim_lock_release(arg, a);
}

Test(sync, release_by_non_owner_aborts, .signal = SIGABRT)
{
	struct sim *s = mk("1");
	struct sim_lock l;

	sim_lock_init(&l, SIM_LOCK_SPIN, 1);
	sim_agent_new(s, "a", SIM_AGENT_CPU, lk_foreign_release, &l);
	sim_run(s);
}

/* ------------------------------------------------------------------ */
/* Wait queues                                                         */
/* ------------------------------------------------------------------ */

struct wq_env {
	struct sim_waitq q;
	struct sim_agent *ag[4];
	uint64_t woke[4];
	int order[4], norder;
	bool rets[4];
	unsigned all;
};

static void wq_waiter(struct sim_agent *a, void *arg)
{
	struct wq_env *e = arg;
	int id = sim_agent_id(a);
	static const uint64_t arrive[] = { 10, 30, 20 };

	sim_advance(a, arrive[id]);
	sim_waitq_wait(&e->q, a);
	e->woke[id] = sim_now(a);
	e->order[e->norder++] = id;
}

static void wq_waker(struct sim_agent *a, void *arg)
{
	struct wq_env *e = arg;

	sim_advance(a, 100);
	e->rets[0] = sim_waitq_wake_one(&e->q, a);
	sim_advance(a, 100);
	e->rets[1] = sim_waitq_wake_one(&e->q, a);
	sim_advance(a, 100);
	e->all = sim_waitq_wake_all(&e->q, a);
	sim_advance(a, 100);
	e->rets[2] = sim_waitq_wake_one(&e->q, a);
}

Test(sync, waitq_wakes_oldest_first_at_the_wakers_clock)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk(quanta[q]);
		struct wq_env e;

		memset(&e, 0, sizeof(e));
		sim_waitq_init(&e.q);
		for (int i = 0; i < 3; i++)
			e.ag[i] = sim_agent_new(s, "w", SIM_AGENT_CPU, wq_waiter, &e);
		sim_agent_new(s, "waker", SIM_AGENT_CPU, wq_waker, &e);
		cr_assert_eq(sim_run(s), 0);
		/* arrivals: w0 at 10, w2 at 20, w1 at 30 */
		cr_expect_eq(e.woke[0], 100, "q=%s", quanta[q]);
		cr_expect_eq(e.woke[2], 200);
		cr_expect_eq(e.woke[1], 300);
		cr_expect_eq(e.order[0], 0);
		cr_expect_eq(e.order[1], 2);
		cr_expect_eq(e.order[2], 1);
		cr_expect(e.rets[0] && e.rets[1]);
		cr_expect_eq(e.all, 1);
		cr_expect_not(e.rets[2], "empty queue");
		cr_expect_eq(sim_idle_cycles(e.ag[0]), 90);
		cr_expect_eq(sim_idle_cycles(e.ag[1]), 270);
		cr_expect_eq(sim_idle_cycles(e.ag[2]), 180);
		cr_expect_eq(sim_waitq_len(&e.q), 0);
		sim_free(s);
	}
}

static void wq_forever(struct sim_agent *a, void *arg)
{
	sim_waitq_wait(arg, a);
}

static void wq_bad_waker(struct sim_agent *a, void *arg)
{
	sim_wake(a, arg);
}

Test(sync, plain_wake_of_a_queue_waiter_aborts, .signal = SIGABRT)
{
	struct sim *s = mk("1");
	struct sim_waitq q = { 0 };
	struct sim_agent *w = sim_agent_new(s, "w", SIM_AGENT_CPU, wq_forever, &q);

	sim_agent_new(s, "x", SIM_AGENT_CPU, wq_bad_waker, w);
	sim_run(s);
}

/* ------------------------------------------------------------------ */
/* Completions                                                         */
/* ------------------------------------------------------------------ */

/*
 * A completion script: each agent does its steps in order; a step is
 * (private work, action).  The log records (agent, cycle) after every
 * wait-type step returns.
 */
enum c_act { C_WAIT, C_TRY, C_COMPLETE, C_COMPLETE_ALL, C_REINIT, C_END };

struct c_step {
	uint64_t work;
	enum c_act act;
};

struct c_case {
	const char *name;
	int n;
	struct c_step steps[4][5];
	int nlog;
	int log_agent[8];
	uint64_t log_cycle[8];
	int log_ok[8];           /* C_TRY result (1/0); -1 for a wait */
	unsigned done;           /* c.done at the end */
};

static const struct c_case c_cases[] = {
	{ "complete wakes waiters oldest first, one each", 4,
	  { { { 10, C_WAIT }, { 0, C_END } },
	    { { 20, C_WAIT }, { 0, C_END } },
	    { { 100, C_COMPLETE }, { 50, C_COMPLETE }, { 50, C_COMPLETE }, { 0, C_END } },
	    { { 300, C_WAIT }, { 0, C_TRY }, { 0, C_END } } },
	  4, { 0, 1, 3, 3 }, { 100, 150, 300, 300 }, { -1, -1, -1, 0 }, 0 },
	{ "a lower id that waits later does not overtake", 3,
	  { { { 30, C_WAIT }, { 0, C_END } },
	    { { 10, C_WAIT }, { 0, C_END } },
	    { { 100, C_COMPLETE }, { 100, C_COMPLETE }, { 0, C_END } } },
	  2, { 1, 0 }, { 100, 200 }, { -1, -1 }, 0 },
	{ "complete_all lets everyone through until reinit", 4,
	  { { { 10, C_WAIT }, { 0, C_END } },
	    { { 20, C_WAIT }, { 380, C_TRY }, { 0, C_END } },
	    { { 100, C_COMPLETE_ALL }, { 400, C_REINIT }, { 200, C_COMPLETE }, { 0, C_END } },
	    { { 600, C_WAIT }, { 0, C_END } } },
	  4, { 0, 1, 1, 3 }, { 100, 100, 480, 700 }, { -1, -1, 1, -1 }, 0 },
	{ "complete_all, then complete adds nothing", 2,
	  { { { 50, C_WAIT }, { 1, C_WAIT }, { 0, C_END } },
	    { { 10, C_COMPLETE_ALL }, { 5, C_COMPLETE }, { 0, C_END } } },
	  2, { 0, 0 }, { 50, 51 }, { -1, -1 }, UINT_MAX },
};

struct c_env {
	struct sim_completion c;
	const struct c_case *k;
	int nlog;
	int log_agent[8];
	uint64_t log_cycle[8];
	int log_ok[8];
};

static void c_body(struct sim_agent *a, void *arg)
{
	struct c_env *e = arg;
	const struct c_step *st = e->k->steps[sim_agent_id(a)];

	for (; st->act != C_END; st++) {
		int ok = -1;

		sim_advance(a, st->work);
		switch (st->act) {
		case C_WAIT: sim_wait_for_completion(&e->c, a); break;
		case C_TRY: ok = sim_try_wait_for_completion(&e->c, a); break;
		case C_COMPLETE: sim_complete(&e->c, a); continue;
		case C_COMPLETE_ALL: sim_complete_all(&e->c, a); continue;
		case C_REINIT: sim_completion_reinit(&e->c, a); continue;
		case C_END: break;
		}
		e->log_agent[e->nlog] = sim_agent_id(a);
		e->log_cycle[e->nlog] = sim_now(a);
		e->log_ok[e->nlog++] = ok;
	}
}

Test(sync, completions_exact_cycles_at_any_quantum)
{
	for (size_t c = 0; c < sizeof(c_cases) / sizeof(c_cases[0]); c++) {
		const struct c_case *k = &c_cases[c];

		for (size_t q = 0; q < NQ; q++) {
			struct sim *s = mk(quanta[q]);
			struct c_env e;

			memset(&e, 0, sizeof(e));
			sim_completion_init(&e.c);
			e.k = k;
			for (int i = 0; i < k->n; i++)
				sim_agent_new(s, "a", SIM_AGENT_CPU, c_body, &e);
			cr_assert_eq(sim_run(s), 0, "%s: someone is left waiting", k->name);
			cr_assert_eq(e.nlog, k->nlog, "%s q=%s", k->name, quanta[q]);
			for (int i = 0; i < e.nlog; i++) {
				cr_expect_eq(e.log_agent[i], k->log_agent[i], "%s q=%s: entry %d agent",
					     k->name, quanta[q], i);
				cr_expect_eq(e.log_cycle[i], k->log_cycle[i], "%s q=%s: entry %d at %llu",
					     k->name, quanta[q], i, (unsigned long long)e.log_cycle[i]);
				cr_expect_eq(e.log_ok[i], k->log_ok[i], "%s: entry %d result", k->name, i);
			}
			cr_expect_eq(e.c.done, k->done, "%s: done %u", k->name, e.c.done);
			cr_expect_eq(sim_completion_done(&e.c), k->done != 0);
			sim_free(s);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Mailboxes                                                           */
/* ------------------------------------------------------------------ */

struct mb_env {
	struct sim_agent *rx;
	int nlog;
	uint64_t at[8];       /* receiver's clock when a message ran */
	int what[8];          /* its tag */
	unsigned polls[4];
	unsigned len_before;
	uint64_t stopped_at, ended_at, joined_at;
	uint64_t cost;        /* cycles each handler takes */
};

static struct mb_env *mb_cur;

static void mb_handler(struct sim_agent *self, void *arg)
{
	struct mb_env *e = mb_cur;

	cr_assert_eq(self, e->rx, "runs on the receiver");
	e->at[e->nlog] = sim_now(self);
	e->what[e->nlog++] = (int)(intptr_t)arg;
	sim_advance(self, e->cost);
}

/* Receiver that serves its mailbox until asked to stop, then works 50 more. */
static void mb_server(struct sim_agent *a, void *arg)
{
	struct mb_env *e = arg;

	while (sim_mailbox_wait(a))
		;
	e->stopped_at = sim_now(a);
	cr_expect(sim_agent_should_stop(a));
	sim_advance(a, 50);
	e->ended_at = sim_now(a);
}

static void mb_client(struct sim_agent *a, void *arg)
{
	struct mb_env *e = arg;

	sim_advance(a, 100);
	sim_post(a, e->rx, mb_handler, (void *)1);
	sim_advance(a, 100);
	sim_post(a, e->rx, mb_handler, (void *)2);
	sim_post(a, e->rx, mb_handler, (void *)3);
	sim_advance(a, 100);
	sim_agent_stop(a, e->rx);
	sim_agent_join(a, e->rx);
	e->joined_at = sim_now(a);
}

Test(sync, mailbox_server_runs_work_then_stops_and_is_joined)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk(quanta[q]);
		struct mb_env e = { .cost = 5 };

		mb_cur = &e;
		e.rx = sim_agent_new(s, "server", SIM_AGENT_OTHER, mb_server, &e);
		sim_agent_new(s, "client", SIM_AGENT_CPU, mb_client, &e);
		cr_assert_eq(sim_run(s), 0);
		cr_assert_eq(e.nlog, 3, "q=%s", quanta[q]);
		cr_expect_eq(e.at[0], 100);
		cr_expect_eq(e.at[1], 200);
		cr_expect_eq(e.at[2], 205, "the second of two posts runs after the first's 5 cycles");
		cr_expect_eq(e.what[0], 1);
		cr_expect_eq(e.what[1], 2);
		cr_expect_eq(e.what[2], 3);
		cr_expect_eq(e.stopped_at, 300);
		cr_expect_eq(e.ended_at, 350);
		cr_expect_eq(e.joined_at, 350, "join returns when the body returned");
		cr_expect(sim_agent_done(e.rx));
		/* idle: 0..100, 105..200, 210..300 */
		cr_expect_eq(sim_idle_cycles(e.rx), 100 + 95 + 90);
		sim_free(s);
	}
}

/* Several senders: messages run in global post order (cycle, then sender id). */
static void mb_rx_three(struct sim_agent *a, void *arg)
{
	(void)arg;
	for (int got = 0; got < 3;)
		got += (int)sim_mailbox_wait(a);
}

static void mb_tx(struct sim_agent *a, void *arg)
{
	struct mb_env *e = arg;
	static const uint64_t when[] = { 0, 50, 50, 40 };

	sim_advance(a, when[sim_agent_id(a)]);
	sim_post(a, e->rx, mb_handler, (void *)(intptr_t)sim_agent_id(a));
}

Test(sync, mailbox_orders_posts_of_several_senders)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk(quanta[q]);
		struct mb_env e = { .cost = 5 };

		mb_cur = &e;
		e.rx = sim_agent_new(s, "rx", SIM_AGENT_OTHER, mb_rx_three, &e);
		for (int i = 0; i < 3; i++)
			sim_agent_new(s, "tx", SIM_AGENT_CPU, mb_tx, &e);
		cr_assert_eq(sim_run(s), 0);
		cr_assert_eq(e.nlog, 3);
		/* tx3 at 40; tx1 at 50 (rx, id 0, runs it at 50 before tx2 posts); tx2 at 50 -> 55 */
		cr_expect_eq(e.what[0], 3, "q=%s", quanta[q]);
		cr_expect_eq(e.at[0], 40);
		cr_expect_eq(e.what[1], 1);
		cr_expect_eq(e.at[1], 50);
		cr_expect_eq(e.what[2], 2);
		cr_expect_eq(e.at[2], 55);
		sim_free(s);
	}
}

/*
 * Polling: a message is seen only once it has been posted in global
 * order, and never before its stamp (a held sender can stamp ahead).
 */
static void mb_poller(struct sim_agent *a, void *arg)
{
	struct mb_env *e = arg;

	sim_advance(a, 60);
	e->polls[0] = sim_mailbox_poll(a);       /* 60: the post at 80 is not made yet */
	sim_advance(a, 60);
	e->polls[1] = sim_mailbox_poll(a);       /* 120: runs it */
	sim_advance(a, 30);
	e->polls[2] = sim_mailbox_poll(a);       /* 150: the held post stamped 400 is not due */
	e->len_before = sim_mailbox_len(a);
	e->polls[3] = sim_mailbox_wait(a);       /* waits until 400, runs it */
}

static void mb_poster(struct sim_agent *a, void *arg)
{
	struct mb_env *e = arg;

	sim_advance(a, 80);
	sim_post(a, e->rx, mb_handler, (void *)7);
	sim_advance(a, 60);
	sim_hold(a, true);                       /* a composite step at 140 ... */
	sim_advance(a, 260);
	sim_post(a, e->rx, mb_handler, (void *)8);   /* ... posts at 400 */
	sim_hold(a, false);
}

Test(sync, mailbox_poll_sees_posts_in_order_and_not_before_their_stamp)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk(quanta[q]);
		struct mb_env e = { .cost = 0 };

		mb_cur = &e;
		e.rx = sim_agent_new(s, "poller", SIM_AGENT_CPU, mb_poller, &e);
		sim_agent_new(s, "poster", SIM_AGENT_CPU, mb_poster, &e);
		cr_assert_eq(sim_run(s), 0);
		cr_expect_eq(e.polls[0], 0, "q=%s", quanta[q]);
		cr_expect_eq(e.polls[1], 1);
		cr_expect_eq(e.polls[2], 0);
		cr_expect_eq(e.len_before, 1);
		cr_expect_eq(e.polls[3], 1);
		cr_assert_eq(e.nlog, 2);
		cr_expect_eq(e.at[0], 120);
		cr_expect_eq(e.what[0], 7);
		cr_expect_eq(e.at[1], 400);
		cr_expect_eq(e.what[1], 8);
		cr_expect_eq(sim_mailbox_len(e.rx), 0);
		sim_free(s);
	}
}

Test(sync, post_from_outside_a_run_is_due_at_once)
{
	struct sim *s = mk("1");
	struct mb_env e = { .cost = 3 };

	mb_cur = &e;
	e.rx = sim_agent_new(s, "rx", SIM_AGENT_OTHER, mb_rx_three, &e);
	for (int i = 0; i < 3; i++)
		sim_post(NULL, e.rx, mb_handler, (void *)(intptr_t)(10 + i));
	cr_assert_eq(sim_run(s), 0);
	cr_assert_eq(e.nlog, 3);
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(e.what[i], 10 + i);
		cr_expect_eq(e.at[i], 3u * (unsigned)i);
	}
	sim_free(s);
}

Test(sync, post_to_a_passive_agent_aborts, .signal = SIGABRT)
{
	struct sim *s = mk("1");
	struct sim_agent *p = sim_agent_new(s, "p", SIM_AGENT_OTHER, NULL, NULL);

	sim_post(NULL, p, mb_handler, NULL);
}

/* ------------------------------------------------------------------ */
/* Stop and join                                                       */
/* ------------------------------------------------------------------ */

struct sj_env {
	struct sim_agent *worker, *passive;
	uint64_t worker_end, saw_stop_at;
	uint64_t j_early, j_late, j_passive;
};

/* Polls its stop flag every 10 cycles (kthread_should_stop in a loop). */
static void sj_worker(struct sim_agent *a, void *arg)
{
	struct sj_env *e = arg;

	while (!sim_agent_should_stop(a))
		sim_advance(a, 10);
	e->saw_stop_at = sim_now(a);
	sim_advance(a, 600);
	e->worker_end = sim_now(a);
}

static void sj_stopper(struct sim_agent *a, void *arg)
{
	struct sj_env *e = arg;

	sim_advance(a, 95);
	sim_agent_stop(a, e->worker);
	sim_agent_join(a, e->worker);
	e->j_early = sim_now(a);
	sim_advance(a, 1000);
	sim_agent_join(a, e->worker);       /* already done: no wait */
	e->j_late = sim_now(a);
	sim_agent_join(a, e->passive);      /* no body: at once */
	e->j_passive = sim_now(a);
}

Test(sync, stop_is_seen_in_order_and_join_waits_for_the_body)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk(quanta[q]);
		struct sj_env e = { 0 };

		e.worker = sim_agent_new(s, "worker", SIM_AGENT_OTHER, sj_worker, &e);
		sim_agent_new(s, "stopper", SIM_AGENT_CPU, sj_stopper, &e);
		e.passive = sim_agent_new(s, "clock", SIM_AGENT_OTHER, NULL, NULL);
		sim_advance(e.passive, 5000);
		cr_assert_eq(sim_run(s), 0);
		cr_expect_eq(e.saw_stop_at, 100, "q=%s: first check at or after 95", quanta[q]);
		cr_expect_eq(e.worker_end, 700);
		cr_expect_eq(e.j_early, 700);
		cr_expect_eq(e.j_late, 1700);
		cr_expect_eq(e.j_passive, 1700);
		sim_free(s);
	}
}

/* ------------------------------------------------------------------ */
/* The machine's host CPUs                                             */
/* ------------------------------------------------------------------ */

/* A started machine with @cpus host CPUs at @quantum. */
static struct sim *mk_cpus(const char *quantum, const char *cpus)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

	cr_assert_eq(sim_cfg_set(s, "engine.quantum", quantum, "--set", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_set(s, "machine.cpus", cpus, "--set", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	return s;
}

/* What the host CPUs ran: per agent id, each message's tag and start clock. */
struct hc_env {
	struct sim *s;
	int n[4];
	int tag[4][8];
	uint64_t at[4][8];
	uint64_t cost;            /* cycles each message takes */
	int self_post;            /* the message with this tag posts tag 8 to its own CPU */
	int stop_run;             /* the message with this tag calls sim_stop() */
	uint64_t joined[2];       /* hc_client: clock after joining cpu0, cpu1 */
};

static struct hc_env *hc_cur;

static void hc_handler(struct sim_agent *self, void *arg)
{
	struct hc_env *e = hc_cur;
	int id = sim_agent_id(self), tag = (int)(intptr_t)arg;

	cr_assert_lt(e->n[id], 8);
	e->tag[id][e->n[id]] = tag;
	e->at[id][e->n[id]++] = sim_now(self);
	if (tag == e->self_post)
		sim_post(self, self, hc_handler, (void *)8);
	if (tag == e->stop_run)
		sim_stop(e->s);
	sim_advance(self, e->cost);
}

/* Expect host CPU @id to have run @n messages: tags @tags at clocks @at. */
static void hc_expect(const struct hc_env *e, int id, int n, const int *tags, const uint64_t *at,
		      const char *q)
{
	cr_assert_eq(e->n[id], n, "q=%s: cpu%d ran %d messages", q, id, e->n[id]);
	for (int i = 0; i < n; i++) {
		cr_expect_eq(e->tag[id][i], tags[i], "q=%s: cpu%d message %d", q, id, i);
		cr_expect_eq(e->at[id][i], at[i], "q=%s: cpu%d message %d at %llu", q, id, i,
			     (unsigned long long)e->at[id][i]);
	}
}

Test(sync, host_cpus_are_created_once_in_id_order_after_earlier_agents)
{
	struct sim *s = mk_cpus("1", "3");
	struct sim_agent *first = sim_agent_new(s, "first", SIM_AGENT_OTHER, NULL, NULL);

	cr_assert_eq(sim_host_cpus(s), 3);
	cr_assert_eq(sim_agent_count(s), 1, "none before the first request");
	cr_assert_eq(sim_agent_id(sim_host_cpu(s, 2)), 3, "all created by the first call");
	cr_assert_eq(sim_agent_count(s), 4);
	cr_assert_eq(sim_agent_id(first), 0);
	for (unsigned i = 0; i < 3; i++) {
		struct sim_agent *a = sim_host_cpu(s, i);
		char name[16];

		snprintf(name, sizeof(name), "cpu%u", i);
		cr_expect_eq(a, sim_host_cpu(s, i), "the same agent every time");
		cr_expect_eq(sim_agent_id(a), (int)i + 1);
		cr_expect_str_eq(sim_agent_name(a), name);
		cr_expect_eq(sim_agent_kind(a), SIM_AGENT_CPU);
		cr_expect_eq(sim_now(a), 0);
	}
	cr_assert_eq(sim_agent_count(s), 4, "later calls create nothing");
	/* Not asked to stop, they wait on their mailboxes. */
	cr_expect_eq(sim_run(s), 3);
	for (unsigned i = 0; i < 3; i++)
		cr_expect_not(sim_agent_done(sim_host_cpu(s, i)));
	/* Asked to stop with nothing to do, they return; the clocks stay. */
	for (unsigned i = 0; i < 3; i++)
		sim_agent_stop(NULL, sim_host_cpu(s, i));
	cr_expect_eq(sim_run(s), 0);
	for (unsigned i = 0; i < 3; i++) {
		cr_expect(sim_agent_done(sim_host_cpu(s, i)));
		cr_expect_eq(sim_now(sim_host_cpu(s, i)), 0);
		cr_expect_eq(sim_idle_cycles(sim_host_cpu(s, i)), 0);
	}
	sim_free(s);
}

/* Posts to both CPUs at 100 and 150, stops them at 300, joins them. */
static void hc_client(struct sim_agent *a, void *arg)
{
	struct hc_env *e = arg;
	struct sim_agent *c0 = sim_host_cpu(e->s, 0), *c1 = sim_host_cpu(e->s, 1);

	sim_advance(a, 100);
	sim_post(a, c0, hc_handler, (void *)4);
	sim_advance(a, 50);
	sim_post(a, c1, hc_handler, (void *)5);
	sim_post(a, c1, hc_handler, (void *)6);
	sim_advance(a, 150);
	sim_agent_stop(a, c0);
	sim_agent_stop(a, c1);
	sim_agent_join(a, c0);
	e->joined[0] = sim_now(a);
	sim_agent_join(a, c1);
	e->joined[1] = sim_now(a);
}

Test(sync, host_cpus_run_posted_work_in_post_order_at_their_cycles)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk_cpus(quanta[q], "2");
		struct hc_env e = { .s = s, .cost = 10, .self_post = 1 };
		struct sim_agent *c0 = sim_host_cpu(s, 0), *c1 = sim_host_cpu(s, 1);
		static const int tags0[] = { 3, 4 }, tags1[] = { 1, 2, 8, 5, 6 };
		static const uint64_t at0[] = { 0, 100 }, at1[] = { 0, 10, 20, 150, 160 };

		hc_cur = &e;
		sim_post(NULL, c1, hc_handler, (void *)1);   /* posts 8 to cpu1: after 2 */
		sim_post(NULL, c1, hc_handler, (void *)2);
		sim_post(NULL, c0, hc_handler, (void *)3);
		sim_agent_new(s, "client", SIM_AGENT_OTHER, hc_client, &e);
		cr_assert_eq(sim_run(s), 0);
		hc_expect(&e, 0, 2, tags0, at0, quanta[q]);
		hc_expect(&e, 1, 5, tags1, at1, quanta[q]);
		/* The stop at 300 wakes each from its mailbox; each returns there. */
		cr_expect(sim_agent_done(c0) && sim_agent_done(c1));
		cr_expect_eq(sim_now(c0), 300);
		cr_expect_eq(sim_now(c1), 300);
		cr_expect_eq(e.joined[0], 300);
		cr_expect_eq(e.joined[1], 300);
		/* idle: cpu0 10..100, 110..300; cpu1 30..150, 170..300 */
		cr_expect_eq(sim_idle_cycles(c0), 90 + 190);
		cr_expect_eq(sim_idle_cycles(c1), 120 + 130);
		cr_expect_eq(sim_mailbox_len(c0) + sim_mailbox_len(c1), 0);
		sim_free(s);
	}
}

/* Works 200 cycles in steps of 10 (not held: others run meanwhile). */
static void hc_long(struct sim_agent *self, void *arg)
{
	struct hc_env *e = hc_cur;
	int id = sim_agent_id(self);

	e->tag[id][e->n[id]] = (int)(intptr_t)arg;
	e->at[id][e->n[id]++] = sim_now(self);
	for (int i = 0; i < 20; i++)
		sim_advance(self, 10);
}

/* At 100, held, posts tag 2 to cpu0 stamped 600, then stops both CPUs. */
static void hc_late_poster(struct sim_agent *a, void *arg)
{
	struct hc_env *e = arg;

	sim_advance(a, 100);
	sim_hold(a, true);
	sim_advance(a, 500);
	sim_post(a, sim_host_cpu(e->s, 0), hc_handler, (void *)2);
	sim_agent_stop(a, sim_host_cpu(e->s, 0));
	sim_agent_stop(a, sim_host_cpu(e->s, 1));
	sim_hold(a, false);
}

Test(sync, host_cpu_asked_to_stop_still_runs_work_not_yet_due)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk_cpus(quanta[q], "2");
		struct hc_env e = { .s = s, .cost = 0 };
		struct sim_agent *c0 = sim_host_cpu(s, 0), *c1 = sim_host_cpu(s, 1);
		static const int tags[] = { 1, 2 };
		static const uint64_t at[] = { 0, 600 };

		hc_cur = &e;
		sim_post(NULL, c0, hc_long, (void *)1);
		sim_agent_new(s, "poster", SIM_AGENT_OTHER, hc_late_poster, &e);
		cr_assert_eq(sim_run(s), 0);
		/* cpu0 is at 200 when stopped, with a message due at 600: waits, runs it. */
		hc_expect(&e, 0, 2, tags, at, quanta[q]);
		cr_expect_eq(sim_now(c0), 600);
		cr_expect_eq(sim_idle_cycles(c0), 400);
		/* cpu1 waited on its mailbox: the stop wakes it at the stopper's 600. */
		cr_expect_eq(e.n[1], 0);
		cr_expect_eq(sim_now(c1), 600);
		cr_expect_eq(sim_idle_cycles(c1), 600);
		cr_expect(sim_agent_done(c0) && sim_agent_done(c1));
		sim_free(s);
	}
}

/* At 500 posts tag 3 to cpu0, whose loop has returned by then. */
static void hc_waker(struct sim_agent *a, void *arg)
{
	struct hc_env *e = arg;

	sim_advance(a, 500);
	sim_post(a, sim_host_cpu(e->s, 0), hc_handler, (void *)3);
}

Test(sync, host_cpu_restarts_on_a_post_after_it_returned)
{
	struct sim *s = mk_cpus("1", "2");
	struct hc_env e = { .s = s, .cost = 10 };
	struct sim_agent *c0 = sim_host_cpu(s, 0), *c1 = sim_host_cpu(s, 1);
	static const int tags0[] = { 1, 3 }, tags1[] = { 2 };
	static const uint64_t at0[] = { 0, 500 }, at1[] = { 0 };

	hc_cur = &e;
	sim_post(NULL, c0, hc_handler, (void *)1);
	sim_agent_stop(NULL, c0);
	sim_agent_stop(NULL, c1);
	cr_assert_eq(sim_run(s), 0);
	cr_assert(sim_agent_done(c0) && sim_agent_done(c1));
	cr_assert_eq(sim_now(c0), 10);
	cr_assert_eq(sim_now(c1), 0);
	/* A second run: a post from outside starts cpu1 again, at its clock. */
	sim_post(NULL, c1, hc_handler, (void *)2);
	cr_expect_not(sim_agent_done(c1));
	cr_assert_eq(sim_run(s), 0, "still stopped: it returns once its mailbox is empty");
	cr_expect(sim_agent_done(c1));
	cr_expect_eq(sim_now(c1), 10);
	/* A third: a post at 500 starts cpu0 at 500, the gap counted idle. */
	sim_agent_new(s, "waker", SIM_AGENT_OTHER, hc_waker, &e);
	cr_assert_eq(sim_run(s), 0);
	cr_expect(sim_agent_done(c0));
	cr_expect_eq(sim_now(c0), 510);
	cr_expect_eq(sim_idle_cycles(c0), 490);
	hc_expect(&e, 0, 2, tags0, at0, "1");
	hc_expect(&e, 1, 1, tags1, at1, "1");
	cr_expect_eq(sim_agent_count(s), 3, "the same agents: no new ones");
	sim_free(s);
}

Test(sync, host_cpu_stopped_run_goes_on_in_a_second_run)
{
	for (size_t q = 0; q < NQ; q++) {
		struct sim *s = mk_cpus(quanta[q], "2");
		struct hc_env e = { .s = s, .cost = 10, .stop_run = 2 };
		struct sim_agent *c0 = sim_host_cpu(s, 0);
		static const int tags[] = { 1, 2, 3 };
		static const uint64_t at[] = { 0, 10, 20 };

		hc_cur = &e;
		for (int i = 1; i <= 3; i++)
			sim_post(NULL, c0, hc_handler, (void *)(intptr_t)i);
		sim_agent_stop(NULL, c0);
		sim_agent_stop(NULL, sim_host_cpu(s, 1));
		cr_assert_eq(sim_run(s), 0);
		/* sim_stop() in message 2: the run ends before message 3. */
		hc_expect(&e, 0, 2, tags, at, quanta[q]);
		cr_expect_not(sim_agent_done(c0));
		cr_expect_eq(sim_mailbox_len(c0), 1);
		cr_assert_eq(sim_run(s), 0);
		hc_expect(&e, 0, 3, tags, at, quanta[q]);
		cr_expect(sim_agent_done(c0));
		cr_expect_eq(sim_now(c0), 30);
		sim_free(s);
	}
}

Test(sync, host_cpu_before_sim_start_aborts, .signal = SIGABRT)
{
	struct sim *s = sim_new(NULL);

	sim_host_cpu(s, 0);
}

Test(sync, host_cpu_beyond_machine_cpus_aborts, .signal = SIGABRT)
{
	struct sim *s = mk_cpus("1", "2");

	sim_host_cpu(s, 2);
}
