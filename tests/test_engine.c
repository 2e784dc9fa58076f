/*
 * test_engine.c - agents, scheduler order, tie-breaks, quantum, coroutines,
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
