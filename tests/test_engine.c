/*
 * test_engine.c - agents, scheduler order, tie-breaks, quantum, sim_sync
 * (global order at any quantum, hold, sync by id, woken agents), coroutines,
 * block/wake, per-agent PRNG determinism.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "sim/sim.h"

/* A log of (cycle, agent) at each operation start. */
struct oplog {
	int n;
	uint64_t cycle[256];
	int agent[256];
};

struct worker {
	struct oplog *log;
	int ops;
	uint64_t lat;      /* cycles per op */
	uint64_t start;    /* first op start */
};

static void worker_body(struct sim_agent *a, void *arg)
{
	struct worker *w = arg;

	sim_wait_until(a, w->start);
	for (int i = 0; i < w->ops; i++) {
		w->log->cycle[w->log->n] = sim_now(a);
		w->log->agent[w->log->n] = sim_agent_id(a);
		w->log->n++;
		sim_advance(a, w->lat);
	}
}

static struct sim *mk(const char *quantum)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

	if (quantum)
		cr_assert_eq(sim_cfg_set(s, "engine.quantum", quantum, "--set", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	return s;
}

Test(engine, exact_order_by_cycle_then_id)
{
	struct sim *s = mk(NULL);
	struct oplog log = { 0 };
	struct worker w0 = { &log, 4, 30, 0 }, w1 = { &log, 4, 20, 10 };

	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, worker_body, &w0);
	sim_agent_new(s, "cpu1", SIM_AGENT_CPU, worker_body, &w1);
	cr_assert_eq(sim_run(s), 0);
	/* cpu0 starts ops at 0,30,60,90; cpu1 at 10,30,50,70: tie at 30 -> cpu0 first. */
	static const uint64_t ec[] = { 0, 10, 30, 30, 50, 60, 70, 90 };
	static const int ea[] = { 0, 1, 0, 1, 1, 0, 1, 0 };
	cr_assert_eq(log.n, 8);
	for (int i = 0; i < 8; i++) {
		cr_expect_eq(log.cycle[i], ec[i], "op %d at %llu", i, (unsigned long long)log.cycle[i]);
		cr_expect_eq(log.agent[i], ea[i], "op %d by %d", i, log.agent[i]);
	}
	cr_expect_eq(sim_max_cycle(s), 120);
	sim_free(s);
}

Test(engine, tie_break_lower_id_first_even_if_created_later_runs)
{
	struct sim *s = mk(NULL);
	struct oplog log = { 0 };
	struct worker w[3] = { { &log, 2, 5, 0 }, { &log, 2, 5, 0 }, { &log, 2, 5, 0 } };

	for (int i = 0; i < 3; i++)
		sim_agent_new(s, "a", SIM_AGENT_CPU, worker_body, &w[i]);
	sim_run(s);
	static const int ea[] = { 0, 1, 2, 0, 1, 2 };
	for (int i = 0; i < 6; i++)
		cr_expect_eq(log.agent[i], ea[i]);
	sim_free(s);
}

Test(engine, quantum_lets_an_agent_run_ahead)
{
	struct sim *s = mk("100");
	struct oplog log = { 0 };
	struct worker w0 = { &log, 6, 30, 0 }, w1 = { &log, 2, 30, 0 };

	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, worker_body, &w0);
	sim_agent_new(s, "cpu1", SIM_AGENT_CPU, worker_body, &w1);
	sim_run(s);
	/* cpu0 runs 0,30,60,90 and yields at 120 >= 0+100; cpu1 then runs 0,30. */
	static const uint64_t ec[] = { 0, 30, 60, 90, 0, 30, 120, 150 };
	static const int ea[] = { 0, 0, 0, 0, 1, 1, 0, 0 };
	cr_assert_eq(log.n, 8);
	for (int i = 0; i < 8; i++) {
		cr_expect_eq(log.cycle[i], ec[i], "op %d", i);
		cr_expect_eq(log.agent[i], ea[i], "op %d", i);
	}
	sim_free(s);
}

struct bw {
	struct sim_agent *sleeper;
	uint64_t woke_at;
	int order[4];
	int n;
};

static void sleeper_body(struct sim_agent *a, void *arg)
{
	struct bw *b = arg;

	b->order[b->n++] = 1;
	sim_block(a);
	b->woke_at = sim_now(a);
	b->order[b->n++] = 3;
}

static void waker_body(struct sim_agent *a, void *arg)
{
	struct bw *b = arg;

	sim_advance(a, 500);
	b->order[b->n++] = 2;
	sim_wake(a, b->sleeper);
	sim_advance(a, 1);
}

Test(engine, block_and_wake_moves_the_clock)
{
	struct sim *s = mk(NULL);
	struct bw b = { 0 };

	b.sleeper = sim_agent_new(s, "sleeper", SIM_AGENT_OTHER, sleeper_body, &b);
	sim_agent_new(s, "waker", SIM_AGENT_OTHER, waker_body, &b);
	cr_assert_eq(sim_run(s), 0);
	cr_expect_eq(b.woke_at, 500);
	cr_expect_eq(b.order[0], 1);
	cr_expect_eq(b.order[1], 2);
	cr_expect_eq(b.order[2], 3);
	sim_free(s);
}

static void block_forever(struct sim_agent *a, void *arg)
{
	(void)arg;
	sim_block(a);
}

Test(engine, run_reports_agents_left_blocked)
{
	struct sim *s = mk(NULL);

	sim_agent_new(s, "x", SIM_AGENT_OTHER, block_forever, NULL);
	cr_expect_eq(sim_run(s), 1);
	sim_free(s);
}

static void stopper(struct sim_agent *a, void *arg)
{
	int *steps = arg;

	for (int i = 0; i < 10; i++) {
		(*steps)++;
		if (i == 2)
			sim_stop(sim_agent_sim(a));
		sim_advance(a, 1);
	}
}

Test(engine, stop_returns_and_run_resumes)
{
	struct sim *s = mk(NULL);
	int steps = 0;

	sim_agent_new(s, "x", SIM_AGENT_OTHER, stopper, &steps);
	sim_run(s);
	cr_expect_eq(steps, 3);
	sim_run(s);
	cr_expect_eq(steps, 10);
	sim_free(s);
}

Test(engine, passive_agent_is_a_plain_clock)
{
	struct sim *s = mk(NULL);
	struct sim_agent *a = sim_agent_new(s, "clock", SIM_AGENT_OTHER, NULL, NULL);

	sim_advance(a, 42);
	sim_wait_until(a, 40);
	cr_expect_eq(sim_now(a), 42);
	sim_wait_until(a, 100);
	cr_expect_eq(sim_now(a), 100);
	cr_expect_eq(sim_run(s), 0);
	cr_expect_str_eq(sim_agent_name(a), "clock");
	sim_free(s);
}

Test(engine, rng_streams_are_seeded_and_distinct)
{
	uint64_t v[3][4];
	const char *seeds[3] = { "7", "7", "8" };

	for (int k = 0; k < 3; k++) {
		struct sim *s = sim_new(NULL);
		struct sim_err err;
		cr_assert_eq(sim_cfg_set(s, "engine.seed", seeds[k], "--set", 0, &err), 0);
		cr_assert_eq(sim_start(s, &err), 0);
		struct sim_agent *a = sim_agent_new(s, "a", SIM_AGENT_OTHER, NULL, NULL);
		struct sim_agent *b = sim_agent_new(s, "b", SIM_AGENT_OTHER, NULL, NULL);
		v[k][0] = sim_rand(a);
		v[k][1] = sim_rand(a);
		v[k][2] = sim_rand(b);
		v[k][3] = sim_rand(b);
		sim_free(s);
	}
	cr_expect_eq(memcmp(v[0], v[1], sizeof(v[0])), 0, "same seed, same streams");
	cr_expect_neq(v[0][0], v[0][2], "agents get distinct streams");
	cr_expect_neq(v[0][0], v[2][0], "seeds change the stream");
	cr_expect_neq(v[0][0], v[0][1]);
}

/* ---- sim_sync: shared-state operations in global order at any quantum ---- */

#define SYNC_MAXOPS 8

/*
 * An agent that does private work (sim_advance in slices of @slice
 * cycles, which may or may not switch depending on the quantum) up to
 * each op's start cycle, then the op: sim_sync() (unless @nosync), log,
 * advance by @lat.
 */
struct syncw {
	struct oplog *log;
	uint64_t at[SYNC_MAXOPS];   /* op start cycles, ascending */
	int n;
	uint64_t lat;
	uint64_t slice;
	bool nosync;
};

static void sync_body(struct sim_agent *a, void *arg)
{
	struct syncw *w = arg;

	for (int i = 0; i < w->n; i++) {
		while (sim_now(a) < w->at[i]) {
			uint64_t left = w->at[i] - sim_now(a);

			sim_advance(a, left < w->slice ? left : w->slice);
		}
		if (!w->nosync)
			sim_sync(a);
		w->log->cycle[w->log->n] = sim_now(a);
		w->log->agent[w->log->n] = sim_agent_id(a);
		w->log->n++;
		sim_advance(a, w->lat);
	}
}

/* Run three agents @w at @quantum into @log. */
static void run_three(const char *quantum, struct syncw w[3], struct oplog *log)
{
	struct sim *s = mk(quantum);

	memset(log, 0, sizeof(*log));
	for (int i = 0; i < 3; i++) {
		w[i].log = log;
		sim_agent_new(s, "a", SIM_AGENT_CPU, sync_body, &w[i]);
	}
	cr_assert_eq(sim_run(s), 0);
	sim_free(s);
}

static bool log_in_order(const struct oplog *l)
{
	for (int i = 1; i < l->n; i++)
		if (l->cycle[i] < l->cycle[i - 1] ||
		    (l->cycle[i] == l->cycle[i - 1] && l->agent[i] < l->agent[i - 1]))
			return false;
	return true;
}

struct sync_case {
	const char *name;
	struct syncw w[3];
	int nops;                    /* total ops */
	int ea[3 * SYNC_MAXOPS];     /* expected agent of each logged op, in order */
};

static const struct sync_case sync_cases[] = {
	{ "interleaved, ties at 0 and 500",
	  { { .at = { 0, 500, 1000 }, .n = 3, .lat = 10, .slice = 1000 },
	    { .at = { 100, 500, 1200 }, .n = 3, .lat = 10, .slice = 1000 },
	    { .at = { 0, 499, 510 }, .n = 3, .lat = 10, .slice = 1000 } },
	  9, { 0, 2, 1, 2, 0, 1, 2, 0, 1 } },
	/* the audit's shape: a lower id whose later op comes first in host order */
	{ "lower id runs far ahead on private work",
	  { { .at = { 0, 100000, 100001 }, .n = 3, .lat = 1, .slice = 7 },
	    { .at = { 500 }, .n = 1, .lat = 1, .slice = 7 },
	    { .at = { 600, 99999 }, .n = 2, .lat = 1, .slice = 100000 } },
	  6, { 0, 1, 2, 2, 0, 0 } },
	{ "all at one cycle: by id",
	  { { .at = { 50, 50 }, .n = 2, .lat = 0, .slice = 3 },
	    { .at = { 50, 50 }, .n = 2, .lat = 0, .slice = 50 },
	    { .at = { 50, 50 }, .n = 2, .lat = 0, .slice = 1 } },
	  6, { 0, 0, 1, 1, 2, 2 } },
	{ "long ops overlap later starts",
	  { { .at = { 0, 5000 }, .n = 2, .lat = 3000, .slice = 1 },
	    { .at = { 10, 2999, 3000 }, .n = 3, .lat = 1, .slice = 1000 },
	    { .at = { 2999 }, .n = 1, .lat = 1, .slice = 2999 } },
	  6, { 0, 1, 1, 2, 1, 0 } },
};

static const char *const sync_quanta[] = { NULL, "2", "100", "1000", "1000000" };

Test(engine, sync_orders_ops_of_three_agents_at_any_quantum)
{
	for (size_t c = 0; c < sizeof(sync_cases) / sizeof(sync_cases[0]); c++) {
		const struct sync_case *sc = &sync_cases[c];

		for (size_t q = 0; q < sizeof(sync_quanta) / sizeof(sync_quanta[0]); q++) {
			struct syncw w[3];
			struct oplog log;
			int k[3] = { 0, 0, 0 };

			memcpy(w, sc->w, sizeof(w));
			run_three(sync_quanta[q], w, &log);
			cr_assert_eq(log.n, sc->nops, "%s, quantum %s", sc->name,
				     sync_quanta[q] ? sync_quanta[q] : "1");
			for (int i = 0; i < log.n; i++) {
				int ag = log.agent[i];

				cr_expect_eq(ag, sc->ea[i], "%s, quantum %s: op %d by %d, want %d",
					     sc->name, sync_quanta[q] ? sync_quanta[q] : "1", i, ag,
					     sc->ea[i]);
				/* each op starts exactly at its cycle: sync never moves a clock */
				cr_expect_eq(log.cycle[i], sc->w[ag].at[k[ag]], "%s: op %d cycle",
					     sc->name, i);
				k[ag]++;
			}
			cr_expect(log_in_order(&log), "%s: not in (cycle, id) order", sc->name);
		}
	}
}

/* The control: without sim_sync, a large quantum does reorder (what the audit saw). */
Test(engine, without_sync_a_large_quantum_reorders)
{
	struct syncw w[3];
	struct oplog log;

	memcpy(w, sync_cases[1].w, sizeof(w));
	for (int i = 0; i < 3; i++)
		w[i].nosync = true;
	run_three("1000000", w, &log);
	cr_assert_eq(log.n, 6);
	cr_expect_not(log_in_order(&log));
	cr_expect_eq(log.agent[1], 0, "agent 0's op at 100000 ran before agent 1's at 500");
	/* at quantum 1 sim_advance alone keeps the order */
	memcpy(w, sync_cases[1].w, sizeof(w));
	for (int i = 0; i < 3; i++)
		w[i].nosync = true;
	run_three(NULL, w, &log);
	cr_expect(log_in_order(&log));
}

/* A held agent's syncs do not switch: its composite step is ordered at its start. */
struct holdw {
	struct oplog *log;
	int mode;          /* 0: held composite; 1: plain op at 50 */
};

static void hold_body(struct sim_agent *a, void *arg)
{
	struct holdw *h = arg;
	struct oplog *l = h->log;

	if (h->mode == 1) {
		sim_advance(a, 50);
		sim_sync(a);
		l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
		return;
	}
	sim_sync(a);
	sim_hold(a, true);
	sim_hold(a, true);                  /* nested */
	l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
	sim_advance(a, 100);
	sim_sync(a);                        /* held: no switch although agent 1 is at 50 */
	l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
	sim_hold(a, false);                 /* still held once */
	sim_sync(a);
	l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
	sim_hold(a, false);                 /* released: agent 1 (50) runs first */
	sim_sync(a);
	l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
}

Test(engine, hold_makes_one_step_and_nests)
{
	for (size_t q = 0; q < sizeof(sync_quanta) / sizeof(sync_quanta[0]); q++) {
		struct sim *s = mk(sync_quanta[q]);
		struct oplog log = { 0 };
		struct holdw h0 = { &log, 0 }, h1 = { &log, 1 };
		static const uint64_t ec[] = { 0, 100, 100, 50, 100 };
		static const int ea[] = { 0, 0, 0, 1, 0 };

		sim_agent_new(s, "held", SIM_AGENT_CPU, hold_body, &h0);
		sim_agent_new(s, "plain", SIM_AGENT_CPU, hold_body, &h1);
		cr_assert_eq(sim_run(s), 0);
		cr_assert_eq(log.n, 5);
		for (int i = 0; i < 5; i++) {
			cr_expect_eq(log.cycle[i], ec[i], "quantum %s op %d", sync_quanta[q], i);
			cr_expect_eq(log.agent[i], ea[i], "quantum %s op %d", sync_quanta[q], i);
		}
		sim_free(s);
	}
}

Test(engine, hold_release_without_hold_aborts, .signal = SIGABRT)
{
	struct sim *s = mk(NULL);
	struct sim_agent *a = sim_agent_new(s, "p", SIM_AGENT_OTHER, NULL, NULL);

	sim_hold(a, false);
}

/* sim_sync_id: only the running agent with that id, only on a simulator's memory. */
struct idw {
	struct oplog *log;
	int other;         /* id of the other agent */
};

static void id_body(struct sim_agent *a, void *arg)
{
	struct idw *w = arg;
	struct sim_mem *m = sim_mem(sim_agent_sim(a));
	struct oplog *l = w->log;

	sim_advance(a, sim_agent_id(a) == 0 ? 1000 : 10);
	if (sim_agent_id(a) == 0) {
		sim_sync_id(m, w->other);     /* not me: no effect */
		l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
		sim_sync_id(m, 0);            /* me: agent 1 (10) goes first */
		l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
	} else {
		sim_sync_id(m, 1);
		l->cycle[l->n] = sim_now(a), l->agent[l->n++] = sim_agent_id(a);
	}
}

Test(engine, sync_id_syncs_only_the_running_agent_of_that_id)
{
	struct sim *s = mk("1000000");
	struct oplog log = { 0 };
	struct idw w0 = { &log, 1 }, w1 = { &log, 0 };
	struct sim_mem *alone = sim_mem_new(1 << 20, 1);

	sim_sync_id(alone, 0);              /* standalone memory, outside a run: nothing */
	sim_sync_id(NULL, 0);
	sim_sync_id(sim_mem(s), 0);         /* outside sim_run: nothing */
	sim_agent_new(s, "a0", SIM_AGENT_CPU, id_body, &w0);
	sim_agent_new(s, "a1", SIM_AGENT_CPU, id_body, &w1);
	cr_assert_eq(sim_run(s), 0);
	cr_assert_eq(log.n, 3);
	cr_expect_eq(log.agent[0], 0);
	cr_expect_eq(log.cycle[0], 1000);
	cr_expect_eq(log.agent[1], 1);
	cr_expect_eq(log.cycle[1], 10);
	cr_expect_eq(log.agent[2], 0);
	sim_mem_free(alone);
	sim_free(s);
}

/* A woken agent is ordered with the others: lower id at the same cycle first. */
struct wakew {
	struct oplog *log;
	struct sim_agent *sleeper;
};

static void wsleep_body(struct sim_agent *a, void *arg)
{
	struct wakew *w = arg;

	sim_block(a);
	sim_sync(a);
	w->log->cycle[w->log->n] = sim_now(a), w->log->agent[w->log->n++] = sim_agent_id(a);
}

static void wwaker_body(struct sim_agent *a, void *arg)
{
	struct wakew *w = arg;

	sim_advance(a, 300);
	sim_sync(a);
	sim_wake(a, w->sleeper);
	sim_sync(a);                        /* the sleeper, id 0, now at 300 too, goes first */
	w->log->cycle[w->log->n] = sim_now(a), w->log->agent[w->log->n++] = sim_agent_id(a);
}

static void wbusy_body(struct sim_agent *a, void *arg)
{
	struct wakew *w = arg;

	sim_advance(a, 299);                /* private work: at large quanta it runs ahead */
	sim_advance(a, 2);
	sim_sync(a);
	w->log->cycle[w->log->n] = sim_now(a), w->log->agent[w->log->n++] = sim_agent_id(a);
}

Test(engine, woken_agent_takes_its_place_in_the_order)
{
	for (size_t q = 0; q < sizeof(sync_quanta) / sizeof(sync_quanta[0]); q++) {
		struct sim *s = mk(sync_quanta[q]);
		struct oplog log = { 0 };
		struct wakew w = { &log, NULL };

		w.sleeper = sim_agent_new(s, "sleeper", SIM_AGENT_CPU, wsleep_body, &w);
		sim_agent_new(s, "waker", SIM_AGENT_CPU, wwaker_body, &w);
		sim_agent_new(s, "busy", SIM_AGENT_CPU, wbusy_body, &w);
		cr_assert_eq(sim_run(s), 0);
		cr_assert_eq(log.n, 3);
		cr_expect_eq(log.agent[0], 0, "quantum %s", sync_quanta[q]);
		cr_expect_eq(log.cycle[0], 300);
		cr_expect_eq(log.agent[1], 1);
		cr_expect_eq(log.cycle[1], 300);
		cr_expect_eq(log.agent[2], 2);
		cr_expect_eq(log.cycle[2], 301);
		cr_expect_eq(sim_idle_cycles(w.sleeper), 300);
		sim_free(s);
	}
}

static void sync_stopper(struct sim_agent *a, void *arg)
{
	int *steps = arg;

	sim_advance(a, 10);
	sim_stop(sim_agent_sim(a));
	sim_sync(a);                        /* a stop request switches out, as sim_advance does */
	(*steps)++;
}

Test(engine, sync_honours_a_stop_and_resumes)
{
	struct sim *s = mk("1000000");
	int steps = 0;

	sim_agent_new(s, "x", SIM_AGENT_OTHER, sync_stopper, &steps);
	sim_run(s);
	cr_expect_eq(steps, 0);
	sim_run(s);
	cr_expect_eq(steps, 1);
	sim_free(s);
}

Test(engine, sync_of_a_passive_agent_or_outside_a_run_does_nothing)
{
	struct sim *s = mk(NULL);
	struct sim_agent *p = sim_agent_new(s, "p", SIM_AGENT_OTHER, NULL, NULL);

	sim_advance(p, 7);
	sim_sync(p);
	cr_expect_eq(sim_now(p), 7);
	cr_expect(sim_agent_done(p));
	sim_free(s);
}

/* ---- coroutines ---- */

struct ping {
	struct sim_coro *c;
	int trace[8];
	int n;
};

static void ping_body(void *arg)
{
	struct ping *p = arg;

	p->trace[p->n++] = 1;
	sim_coro_suspend(p->c);
	p->trace[p->n++] = 3;
	sim_coro_suspend(p->c);
	p->trace[p->n++] = 5;
}

Test(coro, resume_and_suspend_alternate)
{
	struct ping p = { 0 };

	p.c = sim_coro_new(ping_body, &p, 64 * 1024);
	sim_coro_resume(p.c);
	p.trace[p.n++] = 2;
	sim_coro_resume(p.c);
	p.trace[p.n++] = 4;
	cr_expect(!sim_coro_done(p.c));
	sim_coro_resume(p.c);
	cr_expect(sim_coro_done(p.c));
	for (int i = 0; i < 5; i++)
		cr_expect_eq(p.trace[i], i + 1);
	sim_coro_free(p.c);
}

static double fp_body_result;
static struct sim_coro *fp_coro;

static void fp_body(void *arg)
{
	volatile double x = 1.0;

	(void)arg;
	for (int i = 0; i < 10; i++) {
		x = x * 1.5 + 0.25;
		sim_coro_suspend(fp_coro);
	}
	fp_body_result = x;
}

Test(coro, floating_point_state_survives_switches)
{
	volatile double y = 2.0;
	double x = 1.0;

	fp_coro = sim_coro_new(fp_body, NULL, 64 * 1024);
	while (!sim_coro_done(fp_coro)) {
		y = y * 0.5 + 1.0;
		sim_coro_resume(fp_coro);
	}
	for (int i = 0; i < 10; i++)
		x = x * 1.5 + 0.25;
	cr_expect_eq(fp_body_result, x);
	cr_expect(y > 1.9 && y < 2.1);
	sim_coro_free(fp_coro);
}
