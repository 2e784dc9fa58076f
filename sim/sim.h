/*
 * sim.h - the protsim engine: the whole public interface of sim/.
 *
 * Layers (dependencies point down only):
 *   sim/stack  (system software: KVM, gmem, pKVM, Heki, VMM)
 *   cpu  iommu (use rmp, stage2)
 *   stage2     (uses rmp for the final-address check of SNP guests)
 *   rmp
 *   sim core   (this header: engine, time, memory, config, stats, script)
 *
 * Time: every agent has its own cycle clock.  The scheduler always resumes
 * the agent with the smallest (clock, id).  A hardware operation first
 * waits with sim_sync() until its agent is that smallest, so it takes
 * effect at the caller's current clock in global (cycle, agent id) order
 * at any quantum, then the caller advances by its latency with
 * sim_advance(), which may switch to another agent.
 *
 * Determinism: no wall clock, no unseeded randomness, no ordering by
 * pointer or hash.  Per-agent PRNG streams are derived from the run seed.
 */
#ifndef PROTSIM_SIM_H
#define PROTSIM_SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SIM_PAGE_SHIFT 12
#define SIM_PAGE_SIZE  (1ull << SIM_PAGE_SHIFT)
#define SIM_SZ_4K      0x1000ull
#define SIM_SZ_2M      0x200000ull
#define SIM_SZ_1G      0x40000000ull
#define SIM_PA_BITS    52
#define SIM_PA_LIMIT   (1ull << SIM_PA_BITS)

struct sim;
struct sim_agent;
struct sim_mem;
struct sim_module;
struct sim_call;

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * A user-facing error: one line, already formatted as
 * "FILE:LINE: key: message" (or as close to that as the source allows).
 */
struct sim_err {
	char msg[512];
};

/* Format into @err; always returns -1 so callers can `return sim_err_set(...)`. */
int sim_err_set(struct sim_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An "impossible" internal failure: print "protsim: internal: ..." and abort. */
_Noreturn void sim_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

enum sim_cfg_type {
	SIM_CFG_U64,    /* decimal or 0x hex, checked against [min, max] */
	SIM_CFG_SIZE,   /* like U64, also accepts 4k / 2m / 1g / 16g suffixes */
	SIM_CFG_BOOL,   /* 0/1, true/false, on/off, yes/no */
	SIM_CFG_ENUM,   /* one of .choices (NULL-terminated) */
	SIM_CFG_STR,    /* free text */
};

/*
 * One configuration key, declared once.  The table drives validation,
 * `protsim help config` and docs/config.md (a test keeps them in sync).
 * Latency keys are named "lat.<module>.<what>"; their default is NULL
 * because every latency profile file must define them.
 */
struct sim_cfg_key {
	const char *name;             /* dotted, e.g. "rmp.base" */
	enum sim_cfg_type type;
	uint64_t min;                 /* U64/SIZE: inclusive lower bound */
	uint64_t max;                 /* U64/SIZE: inclusive upper bound */
	const char *def;              /* default as text; NULL = must come from the profile */
	const char *const *choices;   /* ENUM: NULL-terminated list */
	const char *desc;             /* one line for help and docs */
};

uint64_t sim_cfg_u64(const struct sim *s, const char *key);   /* U64, SIZE, BOOL */
bool sim_cfg_bool(const struct sim *s, const char *key);
const char *sim_cfg_str(const struct sim *s, const char *key); /* any type, as resolved text */
unsigned sim_cfg_enum(const struct sim *s, const char *key);   /* index into .choices */
/*
 * String key @key as a file path: a relative path set in a scenario file
 * (or a script's `machine` line) is taken beside that file, as
 * workload.script is; from --set, the profile or the default, as it is
 * (relative to the working directory).  Returns a string to free().
 */
char *sim_cfg_path(const struct sim *s, const char *key);

/*
 * Set one key from text, validating it.  @file/@line name the source for
 * the error message ("--set" and 0 for the command line).
 * Return: 0, or -1 with @err = "FILE:LINE: key: message".
 */
int sim_cfg_set(struct sim *s, const char *key, const char *value,
		const char *file, int line, struct sim_err *err);

/*
 * A configuration error about @key at attach time: formats
 * "ORIGIN: key: message" where ORIGIN is where the value came from
 * ("FILE:LINE", "--set", "profile:NAME:LINE"), or "key: message" for a
 * default value.  Always returns -1.
 */
int sim_cfg_error(const struct sim *s, const char *key, struct sim_err *err,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * An error from a module's attach() or from a model built from the
 * configuration, "key: message" (sim_err_set): if it starts with a
 * registered key that a file or --set gave a value, prefix that origin
 * ("cfg.ini:12: key: message"), as sim_cfg_error() does.  sim_start()
 * applies it to every attach error.
 */
void sim_cfg_error_locate(const struct sim *s, struct sim_err *err);

/*
 * @text for a message: in single quotes, control and non-ASCII bytes
 * escaped (\n, \t, \xNN, \\, \'), at most 60 characters of text (a longer
 * text is cut to 57, then "...").  Returns @buf.
 */
#define SIM_QUOTE_MAX 256
const char *sim_quote(const char *text, char buf[SIM_QUOTE_MAX]);

/* True if @key was set by a file or --set (not a default or the profile). */
bool sim_cfg_is_set(const struct sim *s, const char *key);

/* True if @key is registered (for optional keys of other modules). */
bool sim_cfg_has_key(const struct sim *s, const char *key);

/*
 * Read an INI-style scenario or profile file (see docs/config.md).  A file
 * larger than SIM_CFG_MAX_FILE bytes, a line longer than SIM_CFG_MAX_LINE
 * bytes, a NUL byte or a path that is not a file is an error naming the
 * file (and the line).
 */
#define SIM_CFG_MAX_FILE (1u << 20)
#define SIM_CFG_MAX_LINE 4096u
int sim_cfg_load_file(struct sim *s, const char *path, struct sim_err *err);
int sim_cfg_load_text(struct sim *s, const char *name, const char *text, struct sim_err *err);

/* Parse helpers shared by config and the script language. 0 ok, -1 bad. */
int sim_parse_u64(const char *text, uint64_t *out);   /* decimal or 0x hex */
int sim_parse_size(const char *text, uint64_t *out);  /* number or 4k/2m/1g suffix */
int sim_parse_bool(const char *text, bool *out);      /* 0/1 (config also: true/false...) */

/* ------------------------------------------------------------------ */
/* Modules                                                             */
/* ------------------------------------------------------------------ */

/*
 * A module plugs into the simulator through this table.  Every member but
 * .name may be NULL.
 */
struct sim_module {
	const char *name;
	/*
	 * Names of the modules whose models this one uses (sim_get_model).
	 * A machine need not have them all (a module copes with NULL, and its
	 * attach names the key or module missing where it cannot), but those
	 * it has must come earlier in the module list, so their models exist
	 * when this one attaches: sim_new() checks, and a list that breaks
	 * this is a programming error.  NULL-terminated; may be NULL.
	 */
	const char *const *needs;
	/* Config keys, terminated by an entry with .name == NULL. */
	const struct sim_cfg_key *keys;
	/* Script operations, terminated by an entry with .name == NULL. */
	const struct sim_op *ops;
	/*
	 * Called by sim_start() in module order, after the configuration is
	 * final and memory exists: create the model from config, register
	 * stats, sim_set_model().  Return 0 or -1 with @err set.
	 */
	int (*attach)(struct sim *s, struct sim_err *err);
	/* Called by sim_free() in reverse order. */
	void (*detach)(struct sim *s);
	/* Optional: a few human-readable summary lines for `protsim run`. */
	void (*summary)(struct sim *s, FILE *out);
};

/*
 * Each module keeps its model (the object its attach built) in the
 * machine for other modules to find.  sim_get_model: the model of module
 * @m, or NULL when @m is not in this machine's module list or has no model
 * (not attached yet, or detached).  The engine knows no module by name:
 * a module is found through its own descriptor (&rmp_module).
 */
void sim_set_model(struct sim *s, const struct sim_module *m, void *model);
void *sim_get_model(const struct sim *s, const struct sim_module *m);

/* ------------------------------------------------------------------ */
/* Simulator lifetime                                                  */
/* ------------------------------------------------------------------ */

/*
 * Create a simulator with the engine's own keys plus those of @modules
 * (NULL-terminated array; may be NULL).  Keys take their defaults.
 */
struct sim *sim_new(const struct sim_module *const *modules);

/*
 * Finish configuration and build the machine: load the latency profile
 * named by machine.profile (its keys apply unless already set), create
 * physical memory, then attach each module.  Return 0 or -1 with @err.
 */
int sim_start(struct sim *s, struct sim_err *err);
bool sim_started(const struct sim *s);
void sim_free(struct sim *s);

/* The modules given to sim_new(), NULL-terminated. */
const struct sim_module *const *sim_modules(const struct sim *s);

/* ------------------------------------------------------------------ */
/* Agents and time                                                     */
/* ------------------------------------------------------------------ */

enum sim_agent_kind {
	SIM_AGENT_CPU,    /* physical (host) CPU: the machine's cpu0..N-1 (sim_host_cpu) */
	SIM_AGENT_VCPU,   /* guest vCPU */
	SIM_AGENT_DMA,    /* DMA engine */
	SIM_AGENT_OTHER,
};

typedef void (*sim_agent_fn)(struct sim_agent *a, void *arg);

/*
 * Create an agent whose body @fn runs as a stackful coroutine when
 * sim_run() schedules it.  Ids are given in creation order from 0.
 * The clock starts at 0.  @name is copied.
 */
struct sim_agent *sim_agent_new(struct sim *s, const char *name, enum sim_agent_kind kind,
				sim_agent_fn fn, void *arg);

int sim_agent_id(const struct sim_agent *a);
const char *sim_agent_name(const struct sim_agent *a);
enum sim_agent_kind sim_agent_kind(const struct sim_agent *a);
struct sim *sim_agent_sim(const struct sim_agent *a);
struct sim_agent *sim_agent_by_id(const struct sim *s, int id);
int sim_agent_count(const struct sim *s);

/* The agent's clock, in cycles. */
uint64_t sim_now(const struct sim_agent *a);

/*
 * Who performs a timed hardware operation, and when: the one convention
 * of the hardware models' timed calls (the RMP's instructions and checks,
 * the IOMMU's requests, stage 2's table walks and translations).  The
 * operation takes effect at @now on behalf of agent @agent (-1: none) and
 * adds the memory cycles it spends to @mem_cycles; the caller charges
 * them (sim_advance) with the operation's own latency.
 */
struct sim_who {
	uint64_t now;          /* the agent's clock at the start of the operation */
	int agent;             /* requesting agent id (-1: none) */
	uint64_t mem_cycles;   /* accumulator: memory cycles the operation spent */
};

/*
 * Advance the calling agent's clock by @cycles and yield to the scheduler
 * if another agent must run first (quantum rule).  Must be called from
 * inside the agent's own body.
 *
 * Quantum rule (engine.quantum): at quantum 1 the running agent yields as
 * soon as another runnable agent's (clock, id) is smaller; at quantum Q it
 * may run ahead until its clock reaches the smallest runnable clock + Q.
 * Running ahead is for private work only: see sim_sync().
 */
void sim_advance(struct sim_agent *a, uint64_t cycles);

/*
 * Order the calling agent among all agents before it reads or changes
 * shared state (RMP entries and their locks, in-use marks, page tables,
 * the IOMMU, memory another agent writes, the primitives below): yield
 * until its (clock, id) is the smallest of all runnable agents.  Then
 * every such access happens in global (cycle, agent id) order whatever
 * the quantum, so results do not depend on it.  The clock does not
 * change.  Costs a compare when the agent already is the smallest (as at
 * quantum 1 after sim_advance(), unless it has just woken a lower-id agent
 * at its own cycle, which then goes first).  No effect on a held agent
 * (its composite step is ordered at its start), on a passive agent, or
 * outside sim_run().  Hardware models call it at their entry points;
 * agent bodies call it at the start of each operation they model.
 */
void sim_sync(struct sim_agent *a);

/*
 * sim_sync() for code that knows only the machine's memory and an agent
 * id (the hardware models' struct sim_who): syncs agent @agent
 * if it is the running agent of the simulator that owns @m.  Does nothing
 * for a standalone memory (sim_mem_new: one inline test), a NULL @m, or
 * another agent id.  Defined with the memory interface below.
 */
static inline void sim_sync_id(struct sim_mem *m, int agent);
void sim_sync_id_slow(struct sim_mem *m, int agent);   /* its out-of-line part */

/*
 * Hold the agent: while held, sim_advance() adds cycles but never switches
 * and sim_sync() returns at once, so a composite operation (an interpreter
 * line, a vCPU's batch of instructions, a handler that must print its
 * result before anyone else runs) completes as one step ordered at its
 * start.  Holds nest (a count); the last release applies the quantum rule
 * at once (and may switch).
 */
void sim_hold(struct sim_agent *a, bool hold);

/* Advance to @cycle if it is later than now (an idle wait). */
void sim_wait_until(struct sim_agent *a, uint64_t cycle);

/*
 * Conservative lookahead: the smallest clock of the runnable agents other
 * than @a whose kind is in @kinds (a mask of 1u << enum sim_agent_kind),
 * or UINT64_MAX if there is none.  None of them can act before that
 * clock, so @a may run private work up to it and still see their next
 * action (a kick, a change of shared state) at its exact cycle.  An agent
 * blocked without a deadline is not runnable: whoever wakes it is.
 */
uint64_t sim_horizon(const struct sim_agent *a, unsigned kinds);

/* Give other agents at the same or earlier time a chance to run. */
void sim_yield(struct sim_agent *a);

/*
 * Block the agent until another agent calls sim_wake(); its clock becomes
 * max(own clock, waker's clock) on wake-up (@waker NULL: from outside
 * sim_run, the clock stays).  sim_wake() on an agent that is not blocked
 * does nothing; on one blocked in a primitive below (wait queue, lock,
 * completion, mailbox, join) it is a programming error (sim_fatal).
 */
void sim_block(struct sim_agent *a);
void sim_wake(struct sim_agent *waker, struct sim_agent *a);

/*
 * Run agents until every agent's body has returned (or is blocked with
 * nobody left to wake it), or a stop was requested.  May be called again
 * after new agents are created.  Return: number of agents still blocked.
 */
int sim_run(struct sim *s);

/* Ask sim_run() to return after the current agent next yields. */
void sim_stop(struct sim *s);

/* The agent being run, or NULL outside sim_run(). */
struct sim_agent *sim_current(const struct sim *s);

/* Largest clock of any agent (the simulated run length). */
uint64_t sim_max_cycle(const struct sim *s);

/* Per-agent PRNG (xoshiro256**, seeded from engine.seed and the agent id). */
uint64_t sim_rand(struct sim_agent *a);

/* Run seed (engine.seed). */
uint64_t sim_seed(const struct sim *s);

/*
 * Where an agent's time went while it could not run: @idle, cycles spent
 * blocked (sim_block, wait queues, mutexes, completions, mailbox, join);
 * @spin, cycles spent waiting for a spinlock (busy, not idle).
 */
uint64_t sim_idle_cycles(const struct sim_agent *a);
uint64_t sim_spin_cycles(const struct sim_agent *a);

/* ------------------------------------------------------------------ */
/* Synchronisation in simulated time                                   */
/* ------------------------------------------------------------------ */

/*
 * For software models (the system-software layer): kernel-style
 * primitives whose waits take simulated time.  Every call is made by the
 * running agent @a (or @waker/@from, which may be NULL only outside
 * sim_run()), first calls sim_sync() on it (they touch shared state), and
 * blocks it when it must wait.  A woken agent's clock becomes max(its own
 * clock, the clock of the agent that woke it); it then runs in the usual
 * (clock, id) order.  Everything is FIFO and independent of the quantum.
 * The structures are owned by the caller; zero-filled they are ready
 * (free lock, empty queue, not-done completion), except a lock's kind and
 * acquire cost (sim_lock_init).  See docs/architecture.md "Synchronisation".
 */

/* A FIFO of blocked agents (Linux wait_queue_head / swait). */
struct sim_waitq {
	struct sim_agent *head, *tail;   /* private: oldest waiter first */
	unsigned n;                      /* private: waiters */
};

void sim_waitq_init(struct sim_waitq *q);
/* Block @a at the tail of @q until a wake-up takes it off. */
void sim_waitq_wait(struct sim_waitq *q, struct sim_agent *a);
/* Wake the oldest waiter.  Return: false if @q was empty. */
bool sim_waitq_wake_one(struct sim_waitq *q, struct sim_agent *waker);
/* Wake every waiter, oldest first.  Return: how many. */
unsigned sim_waitq_wake_all(struct sim_waitq *q, struct sim_agent *waker);
unsigned sim_waitq_len(const struct sim_waitq *q);

/*
 * A lock held for simulated time.  Acquiring a free lock costs
 * acquire_cycles (the atomic that takes it).  Acquiring a held lock
 * queues the agent (FIFO, as Linux's queued spinlock; a Linux mutex hands
 * off likewise once its first waiter sets MUTEX_FLAG_HANDOFF, here always:
 * no stealing): when the owner releases at cycle R, ownership passes to
 * the oldest waiter, whose clock becomes max(own, R), then + acquire_cycles.
 * Release costs nothing (charge what the model wants with sim_advance).
 * A spinlock and a mutex differ only in accounting: a spinlock waiter's
 * wait counts as spin cycles (busy), a mutex waiter's as idle cycles.
 */
enum sim_lock_kind {
	SIM_LOCK_SPIN,    /* spinlock: waiting is busy time */
	SIM_LOCK_MUTEX,   /* sleeping mutex: waiting is idle time */
};

struct sim_lock {
	enum sim_lock_kind kind;
	uint64_t acquire_cycles;     /* charged on every acquisition */
	struct sim_agent *owner;     /* NULL: free */
	struct sim_waitq waiters;    /* queued acquirers */
	uint64_t held_since;         /* owner's clock when it got the lock */
	/* statistics (read them; the lock only increments) */
	uint64_t acquired;           /* acquisitions */
	uint64_t contended;          /* acquisitions that had to wait */
	uint64_t wait_cycles;        /* cycles waited by those */
	uint64_t hold_cycles;        /* cycles held, summed over releases */
};

void sim_lock_init(struct sim_lock *l, enum sim_lock_kind kind, uint64_t acquire_cycles);
void sim_lock_acquire(struct sim_lock *l, struct sim_agent *a);
/* Take the lock only if free (then costs acquire_cycles).  Return: taken. */
bool sim_lock_try(struct sim_lock *l, struct sim_agent *a);
/* Release (sim_fatal if @a is not the owner); hands off to the oldest waiter. */
void sim_lock_release(struct sim_lock *l, struct sim_agent *a);

/*
 * A completion (Linux kernel/sched/completion.c): complete() gives one
 * "done" to the oldest waiter, or keeps it for the next wait if nobody
 * waits; complete_all() lets every present and future waiter through
 * until reinit.
 */
struct sim_completion {
	unsigned done;            /* UINT_MAX: completed for all (complete_all) */
	struct sim_waitq wq;
};

void sim_completion_init(struct sim_completion *c);
/* Back to not done (reinit_completion), ordered as @a's operation. */
void sim_completion_reinit(struct sim_completion *c, struct sim_agent *a);
void sim_wait_for_completion(struct sim_completion *c, struct sim_agent *a);
/* Take a "done" without waiting.  Return: false if none. */
bool sim_try_wait_for_completion(struct sim_completion *c, struct sim_agent *a);
void sim_complete(struct sim_completion *c, struct sim_agent *waker);
void sim_complete_all(struct sim_completion *c, struct sim_agent *waker);
/* Would a wait return at once? */
bool sim_completion_done(const struct sim_completion *c);

/*
 * Each agent's mailbox: work posted to it as fn(target, arg), stamped with
 * the sender's clock, run by the target in post order when it polls (only
 * messages stamped at or before its clock: it cannot see a message before
 * it was sent) or while it waits on the mailbox.
 */
typedef void (*sim_msg_fn)(struct sim_agent *self, void *arg);

/*
 * Post fn(@to, arg) to @to's mailbox, stamped with @from's clock (@from
 * NULL, outside sim_run(): stamped 0).  Wakes @to if it waits on its
 * mailbox, and starts a host CPU's loop again if it has returned (see
 * sim_host_cpu()).  @to must have a body.
 */
void sim_post(struct sim_agent *from, struct sim_agent *to, sim_msg_fn fn, void *arg);
/* Run the due messages of @a's mailbox, oldest first.  Return: how many ran. */
unsigned sim_mailbox_poll(struct sim_agent *a);
/*
 * Wait until @a's mailbox has a message, then run the due ones (the
 * earliest-stamped first becomes due by waiting until its stamp).
 * Returns early with 0 when @a is asked to stop (sim_agent_stop).
 * Return: how many ran.
 */
unsigned sim_mailbox_wait(struct sim_agent *a);
/* Messages waiting in @a's mailbox (due or not). */
unsigned sim_mailbox_len(const struct sim_agent *a);

/*
 * Ask @a to stop (Linux kthread_stop): sets its stop flag and wakes it if
 * it waits on its mailbox.  The body sees the flag through
 * sim_agent_should_stop() and returns when it likes.
 */
void sim_agent_stop(struct sim_agent *from, struct sim_agent *a);
bool sim_agent_should_stop(struct sim_agent *a);
/*
 * Block @a until @target's body has returned; @a's clock becomes max(own,
 * target's clock when it returned).  A passive target returns at once.
 */
void sim_agent_join(struct sim_agent *a, struct sim_agent *target);
/* @a's body has returned (a passive agent: always true). */
bool sim_agent_done(const struct sim_agent *a);

/* ------------------------------------------------------------------ */
/* The machine's host CPUs                                             */
/* ------------------------------------------------------------------ */

/*
 * The machine's physical CPUs belong to the engine: agents cpu0 ..
 * cpuN-1 (N = machine.cpus, kind SIM_AGENT_CPU) whose body serves the
 * agent's mailbox.  Whoever has work for a CPU (the script interpreter,
 * one message per line; the system-software layer) posts it there with
 * sim_post(), and the CPU runs the messages one after the other in post
 * order, each when due (never before its stamp), with its own clock:
 * what a message's handler spends delays the next one.  Between
 * messages it waits on its mailbox (idle time).
 *
 * Lifetime: sim_agent_stop() declares that no more work is coming; the
 * CPU then returns once its mailbox is empty, after running everything
 * posted before the stop (including what its own handlers post, and
 * messages not due yet, which it waits for), so that sim_run() ends.  A
 * CPU not asked to stop waits on its mailbox, and sim_run() counts it
 * as blocked.  A message posted to a CPU whose loop has returned starts
 * the loop again on the same agent at max(its clock, the stamp), the gap
 * counted idle; the stop still holds, so it returns once its mailbox is
 * empty again.  Every message posted to a host CPU thus runs.
 */

/* The number of host CPUs: machine.cpus. */
unsigned sim_host_cpus(const struct sim *s);

/*
 * Host CPU @i (cpu@i).  The first call, from sim_start() on (a module's
 * attach may make it), creates all of them at once, cpu0 .. cpuN-1 with
 * consecutive ids in that order, after every agent created before: a
 * machine that never asks has no host-CPU agents.  @i >= sim_host_cpus()
 * or a call before sim_start() is a programming error (sim_fatal).
 */
struct sim_agent *sim_host_cpu(struct sim *s, unsigned i);

/* ------------------------------------------------------------------ */
/* Coroutines (exposed for the benchmark; agents use them internally)  */
/* ------------------------------------------------------------------ */

struct sim_coro;
typedef void (*sim_coro_fn)(void *arg);
struct sim_coro *sim_coro_new(sim_coro_fn fn, void *arg, size_t stack_bytes);
/* Switch from the caller (the scheduler's context) into @c. */
void sim_coro_resume(struct sim_coro *c);
/* Switch from inside @c back to whoever resumed it. */
void sim_coro_suspend(struct sim_coro *c);
bool sim_coro_done(const struct sim_coro *c);
void sim_coro_free(struct sim_coro *c);

/* ------------------------------------------------------------------ */
/* Physical memory                                                     */
/* ------------------------------------------------------------------ */

/* Who is asking, for the timing model (caches) and stats. */
enum sim_mem_src {
	SIM_SRC_DATA,   /* CPU load/store */
	SIM_SRC_FETCH,  /* instruction fetch */
	SIM_SRC_PTW,    /* page-table walk (any stage, any format) */
	SIM_SRC_RMP,    /* RMP entry read/write by hardware */
	SIM_SRC_DMA,    /* device DMA */
	SIM_SRC_IOPT,   /* IOMMU table / log access */
	SIM_SRC_MAX
};

/*
 * The timing side of memory.  The default charges lat.mem.dram per access;
 * the CPU's cache model installs its own.  Returns cycles.
 */
struct sim_mem_timing {
	uint32_t (*access)(void *arg, int agent, enum sim_mem_src src, uint64_t pa,
			   uint32_t len, bool write);
	void *arg;
};

struct sim_mem *sim_mem(const struct sim *s);
/* Size of simulated DRAM (machine.mem); addresses >= this are not RAM. */
uint64_t sim_mem_size(const struct sim_mem *m);
void sim_mem_set_timing(struct sim_mem *m, const struct sim_mem_timing *t);

/*
 * THE memory interface for models: functional access plus its latency.
 * @agent is the requesting agent id (-1 for none).  Accesses may cross
 * pages.  pa + len must be <= SIM_PA_LIMIT (else sim_fatal: callers
 * validate guest-supplied addresses first).  Return: cycles.
 */
uint32_t sim_mem_read(struct sim_mem *m, int agent, enum sim_mem_src src,
		      uint64_t pa, void *dst, uint32_t len);
uint32_t sim_mem_write(struct sim_mem *m, int agent, enum sim_mem_src src,
		       uint64_t pa, const void *src_buf, uint32_t len);
uint32_t sim_mem_read64(struct sim_mem *m, int agent, enum sim_mem_src src,
			uint64_t pa, uint64_t *out);
uint32_t sim_mem_write64(struct sim_mem *m, int agent, enum sim_mem_src src,
			 uint64_t pa, uint64_t val);

/*
 * The frame cache at the start of every struct sim_mem: a direct-mapped
 * cache of recently used frames.  It is public only so that
 * sim_mem_load64() below can inline its hit path (and sim_sync_id() its
 * standalone-memory test); nothing else may touch it.  It changes host
 * speed only, never results.
 */
#define SIM_MEM_FC_SIZE 1024
struct sim_mem_fc {
	uint64_t fn[SIM_MEM_FC_SIZE];    /* frame number + 1 (0 = empty) */
	uint8_t *ptr[SIM_MEM_FC_SIZE];   /* frame data (never-written frames: a shared read-only frame) */
	uint32_t flat_lat;               /* cycles per access of the default timing */
	bool flat;                       /* the default (flat) timing is installed */
	bool owned;                      /* a simulator's memory (sim_start): sim_sync_id works */
	bool timeline;                   /* its simulator's --timeline is on (sim_timeline_of) */
};

/* @m is a simulator's memory (sim_start), not a standalone one (sim_mem_new). */
static inline bool sim_mem_owned(const struct sim_mem *m)
{
	return m && ((const struct sim_mem_fc *)(const void *)m)->owned;
}

static inline void sim_sync_id(struct sim_mem *m, int agent)
{
	if (sim_mem_owned(m))
		sim_sync_id_slow(m, agent);
}

uint64_t sim_mem_load64_slow(struct sim_mem *m, int agent, enum sim_mem_src src,
			     uint64_t pa, uint64_t *cycles);

/*
 * sim_mem_read64 for table walkers, one call per table reference: returns
 * the value (so a walk's chain entry -> next table address stays in
 * registers) and adds the latency to *@cycles.  A cached frame with the
 * flat timing takes no call.
 */
static inline uint64_t sim_mem_load64(struct sim_mem *m, int agent, enum sim_mem_src src,
				      uint64_t pa, uint64_t *cycles)
{
	const struct sim_mem_fc *fc = (const struct sim_mem_fc *)(const void *)m;
	uint64_t fn = pa >> SIM_PAGE_SHIFT, off = pa & (SIM_PAGE_SIZE - 1), v;
	unsigned c = (unsigned)(fn & (SIM_MEM_FC_SIZE - 1));

	if (off <= SIM_PAGE_SIZE - 8 && fc->fn[c] == fn + 1 && fc->flat) {
		memcpy(&v, fc->ptr[c] + off, 8);
		*cycles += fc->flat_lat;
		return v;
	}
	return sim_mem_load64_slow(m, agent, src, pa, cycles);
}

/*
 * Untimed access for loaders, dumps, tests and debuggers (never for a
 * modelled hardware access).
 */
void sim_mem_peek(struct sim_mem *m, uint64_t pa, void *dst, size_t len);
void sim_mem_poke(struct sim_mem *m, uint64_t pa, const void *src, size_t len);
uint64_t sim_mem_peek64(struct sim_mem *m, uint64_t pa);
void sim_mem_poke64(struct sim_mem *m, uint64_t pa, uint64_t val);

/*
 * Untimed: write [pa, pa + len) (4K aligned) with @pattern, @period 4K
 * frames long, repeated from @pa, as sim_mem_poke of the whole range
 * would, at a host cost proportional to the range's frames already
 * written (overwritten now), not to its length: the others read as their
 * part of the pattern and are allocated, holding it, on their first
 * write (sim_mem_frames counts only those; sim_mem_frame(alloc=false)
 * stays NULL for them).  The memory keeps its own copy of @pattern.
 * For tables set up at start-up (the RMP entries of the RMP's own pages).
 */
void sim_mem_fill(struct sim_mem *m, uint64_t pa, uint64_t len, const void *pattern,
		  unsigned period);

/*
 * Host pointer to the 4K frame holding @pa (allocated first if @alloc),
 * or NULL if the frame was never written (and !@alloc) or pa >= machine
 * memory.  The pointer stays valid for the memory's lifetime.  This is the
 * CPU interpreter's fast path (a software TLB of host pointers, as Spike
 * and QEMU keep); it is untimed, so its user must charge the access's
 * latency itself (the CPU does, through its cache model).
 */
void *sim_mem_frame(struct sim_mem *m, uint64_t pa, bool alloc);

/* Frames allocated so far (touched by a write). */
uint64_t sim_mem_frames(const struct sim_mem *m);

/* A standalone memory for unit tests and benchmarks (flat latency @lat). */
struct sim_mem *sim_mem_new(uint64_t size, uint32_t lat);
void sim_mem_free(struct sim_mem *m);

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

/* Log2-bucketed histogram: bucket i holds values in [2^(i-1), 2^i), bucket 0 holds 0. */
#define SIM_HIST_BUCKETS 48
struct sim_hist {
	uint64_t count;                      /* samples */
	uint64_t sum;                        /* sum of samples */
	uint64_t min;                        /* smallest sample (valid if count) */
	uint64_t max;                        /* largest sample */
	uint64_t bucket[SIM_HIST_BUCKETS];   /* see above */
};
void sim_hist_add(struct sim_hist *h, uint64_t v);

/*
 * Register a statistic under a dotted name (copied).  The model owns the
 * storage and only increments it; the registry reads it when printing.
 * Registering a name twice is a programming error (sim_fatal).
 */
void sim_stat_counter(struct sim *s, const char *name, const uint64_t *val, const char *desc);
void sim_stat_hist(struct sim *s, const char *name, const struct sim_hist *h, const char *desc);
/* A counter computed when read: @fn(@s) (the machine's total cycles, sim.cycles). */
void sim_stat_fn(struct sim *s, const char *name, uint64_t (*fn)(const struct sim *s),
		 const char *desc);
/*
 * A histogram whose storage the registry owns (lives as long as @s): for
 * software that records samples under names it makes up as it runs (a
 * script's operations, a VM's exits).  Registering @name again returns
 * the same histogram.
 */
struct sim_hist *sim_stat_hist_owned(struct sim *s, const char *name, const char *desc);
/* A derived rate: value(@num) / value(@den) * @scale; printed "-" when den is 0. */
void sim_stat_formula(struct sim *s, const char *name, const char *num, const char *den,
		      double scale, const char *desc);

/*
 * Statistics of objects created and destroyed at run time (a VM, a vCPU):
 * a descriptor table, terminated by .name == NULL, whose entries live at
 * @offset inside the owner's struct at @base.  Registered as
 * "PREFIX.NAME" (e.g. "vm1" + "exits.npf").  Removing the group (when the
 * owner is destroyed) keeps each entry with its final value, so the output
 * files show objects that no longer exist; the names stay taken for the
 * run, so owners choose prefixes never used before in the run
 * (sim_stat_has_prefix).  A name already registered is sim_fatal.
 */
/* SIM_STAT_CLOCK: a counter that is a clock (a region of interest counts it from its cycle). */
enum sim_stat_type { SIM_STAT_COUNTER, SIM_STAT_HIST, SIM_STAT_CLOCK };
struct sim_stat_desc {
	const char *name;          /* under the prefix, dotted */
	enum sim_stat_type type;
	size_t offset;             /* of a uint64_t or a struct sim_hist */
	const char *desc;
};
struct sim_stat_group;
struct sim_stat_group *sim_stat_group_add(struct sim *s, const char *prefix,
					  const struct sim_stat_desc *tab, const void *base);
void sim_stat_group_remove(struct sim *s, struct sim_stat_group *g);
/* True if any statistic is named PREFIX or PREFIX.something. */
bool sim_stat_has_prefix(const struct sim *s, const char *prefix);

/* Look up a counter's current value by name; -1 if absent, else 0 and *out. */
int sim_stat_get(const struct sim *s, const char *name, uint64_t *out);

/* Writers: plain text and JSON (via jansson). */
void sim_stats_write_text(const struct sim *s, FILE *out);
/*
 * The text of the statistics named PREFIX or PREFIX.something (all when
 * @prefix is NULL), columns sized to those; returns how many were printed.
 */
size_t sim_stats_write_text_prefix(const struct sim *s, FILE *out, const char *prefix);
int sim_stats_write_json(const struct sim *s, const char *path, struct sim_err *err);
/*
 * Start the region of interest at @cycle (now): from here on every counter
 * counts from its current value (its value so far is subtracted in every
 * output), a clock (sim.cycles, agent.*.cycles) from @cycle, and every
 * histogram starts empty; formulas follow their counters.  The
 * script's `roi` operation and the stats.roi_cycle key call it
 * (docs/outputs.md "Region of interest").  May be called several times:
 * the last one wins.
 */
void sim_stats_roi(struct sim *s, uint64_t cycle);

/* CSV: a header line of column names, then one line of values (docs/outputs.md). */
void sim_stats_write_csv(const struct sim *s, FILE *out);
/*
 * The sum of every counter whose last name component is @last ("insns":
 * all vCPUs'), over the whole run (a region of interest is not applied).
 */
uint64_t sim_stats_sum_named(const struct sim *s, const char *last);

/*
 * The output set of a command that ran a machine (`run`, `script`,
 * `exec`), written into @dir (created as with mkdir -p): stats.txt,
 * stats.json, stats.csv, config.json and run.json, the run's metadata
 * (docs/outputs.md).  Return: 0, or -1 with @err naming the file.
 */
struct sim_run_meta {
	const char *command;       /* "run", "script", "exec" */
	const char *input;         /* the scenario, script or program */
	int argc;                  /* the command line */
	char *const *argv;
	const char *commit;        /* the commit the binary was built from */
	int exit_status;           /* the command's exit status */
	const char *error;         /* what stopped the run (NULL: nothing) */
	double host_seconds;       /* wall time of the run */
};
int sim_outputs_write(struct sim *s, const char *dir, const struct sim_run_meta *m,
		      struct sim_err *err);
/*
 * The timeline (docs/outputs.md "Timeline"): Chrome trace-event JSON that
 * Perfetto and chrome://tracing open.  sim_timeline_open() starts it (the
 * file must be writable); sim_timeline_close() writes it.  While it is
 * off, the record calls return at once (check sim_timeline_on() before
 * building arguments).  @agent is the track (an agent id); times are
 * cycles; @args, when not NULL, is the members of a JSON object
 * (""gpa":"0x1000"").  At most timeline.cap events are kept.
 */
int sim_timeline_open(struct sim *s, const char *path, struct sim_err *err);
int sim_timeline_close(struct sim *s, struct sim_err *err);
bool sim_timeline_on(const struct sim *s);
void sim_timeline_span(struct sim *s, int agent, const char *cat, const char *name, uint64_t t0,
		       uint64_t t1, const char *args);
void sim_timeline_instant(struct sim *s, int agent, const char *cat, const char *name, uint64_t t,
			  const char *args);
/* @s as a JSON string literal, quotes included (malloc'd: free it). */
char *sim_json_quote(const char *s);
/* A flow arrow @id: its start (@start) or its end, on @agent at @t. */
void sim_timeline_flow(struct sim *s, bool start, uint64_t id, int agent, uint64_t t,
		       const char *name);
/* A new flow id, unique in the file (0 while the timeline is off). */
uint64_t sim_timeline_flow_id(struct sim *s);
/*
 * For models that hold only the machine's memory (the RMP, stage 2, the
 * IOMMU): the simulator that owns @m while its timeline is on, else NULL
 * (no --timeline, or a standalone memory).  While the timeline is off it
 * is one inline test of a flag in @m, so a model may call it where it
 * would record (a walk, a fault, a lock conflict), even on a hot path.
 */
struct sim *sim_timeline_of_slow(const struct sim_mem *m);
/* Only the flag: whether sim_timeline_of(@m) would return a simulator (no call). */
static inline bool sim_mem_timeline_on(const struct sim_mem *m)
{
	return m && ((const struct sim_mem_fc *)(const void *)m)->timeline;
}
static inline struct sim *sim_timeline_of(const struct sim_mem *m)
{
	return sim_mem_timeline_on(m) ? sim_timeline_of_slow(m) : NULL;
}
/* The same, for page-table walks: NULL also when timeline.walks is 0. */
struct sim *sim_timeline_walks_of(const struct sim_mem *m);
/* The name of agent @id ("cpu0"), or "none" for -1 or an unknown id. */
const char *sim_agent_name_of(const struct sim *s, int id);

/*
 * `protsim compare`: print to @out what differs between the output sets
 * in @dir_a and @dir_b (config.json, then stats.json; docs/outputs.md).
 * Return: 0 same, 1 different, -1 with @err (a missing or bad file).
 */
int sim_compare(const char *dir_a, const char *dir_b, FILE *out, struct sim_err *err);


/*
 * `protsim plot`: Y against X of the CSV @csv (a header line of names),
 * one line per value of column @by (NULL: one line), into @base.png and
 * @base.svg through gnuplot (the data in @base.dat); a line on @msg.
 * Return: 0, or -1 with @err (file, column, row).
 */
int sim_plot(const char *csv, const char *x, const char *y, const char *by, const char *base,
	     FILE *msg, struct sim_err *err);

/* The host's monotonic clock in seconds (run.json's host_seconds). */
double sim_host_seconds(void);

/*
 * The trace (docs/trace.md): a binary, zstd-compressed record of the
 * operations each agent performed (script lines, guest VM exits) with
 * their start and end cycles and results, after a record of the run's
 * configuration.  sim_trace_open() creates the file and starts the
 * stream; the records go out as they come; sim_trace_close() ends it
 * (names every agent, writes the end record).  While it is off the
 * record calls return at once.
 */
#define SIM_TRACE_VERSION    2u
#define SIM_TRACE_MAX_RECORD (1u << 20)   /* a record's size field, at most */
#define SIM_TRACE_MAX_AGENTS 65536u       /* agent ids a reader keeps names for */
#define SIM_TRACE_ACCESS_MAX (1u << 20)   /* an access record's size, at most */
enum sim_trace_type {                     /* a record's type byte */
	SIM_TRACE_AGENT = 1,
	SIM_TRACE_OP = 2,
	SIM_TRACE_EXIT = 3,
	SIM_TRACE_END = 4,
	SIM_TRACE_CONFIG = 5,             /* the keys the run set: key, value pairs */
	SIM_TRACE_ACCESS = 6,             /* a memory access of a program (protsim import) */
};
enum sim_trace_access_kind {              /* an access record's kind byte */
	SIM_TRACE_FETCH = 0,
	SIM_TRACE_LOAD = 1,
	SIM_TRACE_STORE = 2,
	SIM_TRACE_MODIFY = 3,             /* a load and a store of the same bytes */
};
extern const char *const sim_trace_access_kinds[];   /* "fetch", "load", ..., NULL */
struct sim_trace_field {
	const char *key, *val;
};
struct sim_trace_exit {
	uint64_t stop;                        /* the cycle the guest stopped */
	uint64_t end;                         /* the end of the exit's handling */
	uint32_t reason;                      /* its code, and its name */
	const char *name;
	uint64_t pc;
	uint64_t gpa, info;                   /* #NPF: EXITINFO2 (GPA), EXITINFO1; else 0 */
};
int sim_trace_open(struct sim *s, const char *path, struct sim_err *err);
int sim_trace_close(struct sim *s, struct sim_err *err);
bool sim_trace_on(const struct sim *s);
void sim_trace_op(struct sim *s, int agent, uint64_t t0, uint64_t t1, int line, const char *op,
		  const char *args, const char *result, const struct sim_trace_field *kv,
		  size_t nkv);
void sim_trace_exit(struct sim *s, int agent, const struct sim_trace_exit *e);
/*
 * A trace written without a machine (protsim import): create the file
 * (NULL with @err if it cannot be), add access records, finish (the end
 * record; 0, or -1 with @err when a write failed; @t is freed either way).
 */
struct sim_trace *sim_trace_create(const char *path, struct sim_err *err);
void sim_trace_access(struct sim_trace *t, unsigned kind, uint64_t va, uint32_t size);
int sim_trace_finish(struct sim_trace *t, struct sim_err *err);

/*
 * Reading a trace, one record per call.  A string field is its bytes as
 * stored (not NUL-terminated, may hold any byte); the fields of op and
 * config records are NUL-terminated copies (cut at a NUL byte) in @kv.
 * Everything a record points to stays valid until the next call.
 */
struct sim_trace_str {
	const char *p;
	uint32_t n;
};
struct sim_trace_rec {
	uint8_t type;                     /* enum sim_trace_type */
	uint64_t offset;                  /* of the record, in the decompressed stream */
	uint32_t agent;                   /* agent, op, exit */
	uint64_t t0, t1;                  /* op: start, end; exit: stop, end of handling */
	uint32_t line;                    /* op */
	uint32_t reason;                  /* exit */
	uint64_t pc, gpa, info;           /* exit */
	struct sim_trace_str name;        /* agent: its name; op: the op; exit: the reason */
	struct sim_trace_str args, result;   /* op */
	const struct sim_trace_field *kv; /* op: result fields; config: the keys */
	size_t nkv;
	uint8_t kind;                     /* access: enum sim_trace_access_kind */
	uint64_t va;                      /* access: virtual address */
	uint32_t size;                    /* access: bytes, 1..SIM_TRACE_ACCESS_MAX */
	uint64_t count;                   /* end: records before it */
	const unsigned char *body;        /* the record's body (after the type byte) */
	size_t body_len, kv_at;           /* its length; where the pairs start (op, config) */
};
struct sim_trace_reader;
/* Open trace @path (NULL with @err "PATH: cannot read: ..."). */
struct sim_trace_reader *sim_trace_reader_open(const char *path, struct sim_err *err);
/* @n bytes at @buf, already @decompressed or not; @name names them in errors. */
struct sim_trace_reader *sim_trace_reader_mem(const void *buf, size_t n, bool decompressed,
					      const char *name);
/*
 * The next record in @rec: 1 a record, 0 the end record (checked: its
 * count, nothing after it; @rec->count), -1 an error in @err naming the
 * file and the byte offset of the record at fault.  After 0 or -1 no
 * more records are read.
 */
int sim_trace_next(struct sim_trace_reader *r, struct sim_trace_rec *rec, struct sim_err *err);
/* The name an agent record gave agent @id (unprintable bytes as '?'), or NULL. */
const char *sim_trace_agent_name(const struct sim_trace_reader *r, uint32_t id);
const char *sim_trace_reader_name(const struct sim_trace_reader *r);
/* @rec as one line of `protsim trace dump`. */
void sim_trace_rec_print(const struct sim_trace_reader *r, const struct sim_trace_rec *rec,
			 FILE *out);
void sim_trace_reader_close(struct sim_trace_reader *r);
/*
 * The records of trace file @path as text on @out, one line each
 * (protsim trace dump).  Return: 0, or -1 with @err naming the file and
 * the byte offset in the decompressed stream of the record at fault.
 * _mem reads @n bytes at @buf, already @decompressed or not; @name names
 * them in errors.
 */
int sim_trace_dump(const char *path, FILE *out, struct sim_err *err);
int sim_trace_dump_mem(const void *buf, size_t n, bool decompressed, const char *name, FILE *out,
		       struct sim_err *err);

/*
 * Importing valgrind Lackey traces (protsim import lackey, sim/import.c,
 * docs/trace.md "Importing").  sim_lackey_line() reads one line (@n bytes,
 * no newline): 1 an access in @acc, 0 a line to skip (valgrind's
 * "==PID==" and "--PID--" lines, an empty line), -1 not a lackey line
 * (the rule broken in @why).  sim_lackey_parse() reads @in to its end
 * (or @limit accesses, 0 = all), calls @fn for each access and counts in
 * @cnt; an error names "NAME:LINE: rule".  sim_import_lackey() writes the
 * accesses of @path as the access trace @out (removed on an error).
 * Return: 0, or -1 with @err.
 */
struct sim_lackey_access {
	unsigned kind;                /* enum sim_trace_access_kind */
	uint64_t va;
	uint32_t size;
};
struct sim_lackey_count {
	uint64_t lines, skipped, accesses;
	uint64_t kind[4];             /* by enum sim_trace_access_kind */
};
int sim_lackey_line(const char *line, size_t n, struct sim_lackey_access *acc, char *why,
		    size_t whylen);
int sim_lackey_parse(FILE *in, const char *name, uint64_t limit,
		     void (*fn)(void *arg, const struct sim_lackey_access *acc), void *arg,
		     struct sim_lackey_count *cnt, struct sim_err *err);
int sim_import_lackey(const char *path, const char *out, uint64_t limit,
		      struct sim_lackey_count *cnt, struct sim_err *err);

/* mkdir -p @path.  Return: 0, or -1 with errno. */
int sim_mkdir_p(const char *path);
/*
 * A stream that writes everything to @a and @b (line buffered); closing
 * it flushes both and closes neither.
 */
FILE *sim_tee_open(FILE *a, FILE *b);
int sim_cfg_write_json(const struct sim *s, const char *path, struct sim_err *err);

/* ------------------------------------------------------------------ */
/* The operation language (script and shell)                           */
/* ------------------------------------------------------------------ */

/*
 * Argument types.  The interpreter checks every value against its type
 * (and the spec's bounds, alignment, size set or letters) while the script
 * is parsed, so a bad value is a malformed line found before anything
 * runs, and every module's messages read the same
 * ("FILE:LINE: key: rule broken").  The value the op reads is the number
 * (U64, INT, ADDR, SIZE, SIZESET, BOOL), the index of the choice (ENUM) or
 * the set of letters given (PERMS: bit i = letters[i]); sim_arg_str()
 * returns the text as written for every type.
 */
enum sim_arg_type {
	SIM_ARG_U64,      /* decimal or 0x hex, any 64-bit value */
	SIM_ARG_SIZE,     /* number or 4k/2m/1g; min (and max unless 0) checked */
	SIM_ARG_BOOL,     /* 0 or 1 */
	SIM_ARG_ENUM,     /* one of .choices */
	SIM_ARG_STR,      /* free token, validated by the op */
	SIM_ARG_INT,      /* decimal or 0x hex in min..max */
	SIM_ARG_ADDR,     /* an address below 2^52 (SIM_PA_LIMIT), a multiple of .align */
	SIM_ARG_SIZESET,  /* a size from .sizes (page sizes 4k|2m|1g, access sizes 1|2|4|8) */
	SIM_ARG_PERMS,    /* "none" or letters from .letters, each at most once */
};

struct sim_arg_spec {
	const char *key;              /* the argument's name: key=value */
	enum sim_arg_type type;       /* how the value is checked */
	bool required;                /* the line must give it */
	const char *const *choices;   /* ENUM: the choices, NULL-terminated */
	uint64_t min;                 /* INT, SIZE: smallest value allowed */
	uint64_t max;                 /* INT: largest value allowed; SIZE: 0 = no limit */
	uint64_t align;               /* ADDR: required alignment (a power of two), 0 = none */
	uint64_t sizes;               /* SIZESET: OR of the allowed sizes (powers of two) */
	const char *letters;          /* PERMS: the allowed letters, in printing order */
	const char *meta;             /* usage placeholder instead of the type's (e.g. "BYTE") */
};

/*
 * Spec constructors (designated initializers, so fields added later
 * default to 0).  REQ is true for a required argument.
 */
#define SIM_A_U64(k, req)              { .key = (k), .type = SIM_ARG_U64, .required = (req) }
#define SIM_A_U64M(k, req, m)          { .key = (k), .type = SIM_ARG_U64, .required = (req), \
					 .meta = (m) }
#define SIM_A_INT(k, req, lo, hi)      { .key = (k), .type = SIM_ARG_INT, .required = (req), \
					 .min = (lo), .max = (hi) }
#define SIM_A_INTM(k, req, lo, hi, m)  { .key = (k), .type = SIM_ARG_INT, .required = (req), \
					 .min = (lo), .max = (hi), .meta = (m) }
#define SIM_A_ADDR(k, req)             { .key = (k), .type = SIM_ARG_ADDR, .required = (req) }
#define SIM_A_ADDRM(k, req, m)         { .key = (k), .type = SIM_ARG_ADDR, .required = (req), \
					 .meta = (m) }
#define SIM_A_ADDR_ALIGN(k, req, al)   { .key = (k), .type = SIM_ARG_ADDR, .required = (req), \
					 .align = (al) }
#define SIM_A_SIZE(k, req)             { .key = (k), .type = SIM_ARG_SIZE, .required = (req) }
#define SIM_A_SIZE_IN(k, req, lo, hi)  { .key = (k), .type = SIM_ARG_SIZE, .required = (req), \
					 .min = (lo), .max = (hi) }
#define SIM_A_SIZESET(k, req, set)     { .key = (k), .type = SIM_ARG_SIZESET, \
					 .required = (req), .sizes = (set) }
#define SIM_A_BOOL(k, req)             { .key = (k), .type = SIM_ARG_BOOL, .required = (req) }
#define SIM_A_ENUM(k, req, ch)         { .key = (k), .type = SIM_ARG_ENUM, .required = (req), \
					 .choices = (ch) }
#define SIM_A_PERMS(k, req, let)       { .key = (k), .type = SIM_ARG_PERMS, .required = (req), \
					 .letters = (let) }
#define SIM_A_STR(k, req)              { .key = (k), .type = SIM_ARG_STR, .required = (req) }
#define SIM_A_STRM(k, req, m)          { .key = (k), .type = SIM_ARG_STR, .required = (req), \
					 .meta = (m) }
#define SIM_A_END                      { .key = NULL }

/*
 * One operation of the language.  @name is one or two words ("rmpupdate",
 * "s2 map").  The interpreter parses and checks the arguments against
 * @args (terminated by .key == NULL), then calls @run inside the agent's
 * coroutine with the agent's clock at the start cycle.  @run sets the
 * result, advancing the agent's clock by the operation's latency (the
 * printed LAT is the clock difference).  The usage line is generated from
 * @args (sim_op_usage()).
 */
struct sim_op {
	const char *name;                 /* one or two words */
	const struct sim_arg_spec *args;  /* NULL or terminated by SIM_A_END */
	const char *help;                 /* one line */
	void (*run)(struct sim_call *c);  /* performs the op */
};

/*
 * The usage line of @op, generated from its argument table:
 * "rmpupdate spa=ADDR [assigned=0|1] [size=4k|2m] ...".  Required
 * arguments bare, optional ones in brackets, in table order; the value
 * placeholder comes from the type (N or MIN..MAX for a small range, ADDR,
 * SIZE, the size set, 0|1, the choices, PERMS, TEXT) unless .meta names
 * one.  Returns @buf (cut short if @len is too small).
 */
const char *sim_op_usage(const struct sim_op *op, char *buf, size_t len);

/* Accessors for @run. */
struct sim *sim_call_sim(const struct sim_call *c);
struct sim_agent *sim_call_agent(const struct sim_call *c);
bool sim_arg_has(const struct sim_call *c, const char *key);
/* A number: every type but STR (ENUM: the choice's index; PERMS: the letter set). */
uint64_t sim_arg_u64(const struct sim_call *c, const char *key, uint64_t def);
bool sim_arg_bool(const struct sim_call *c, const char *key, bool def);
const char *sim_arg_str(const struct sim_call *c, const char *key, const char *def); /* any, raw text */
/* A STR argument as a file path: a relative path is taken beside the script's file. Free it. */
char *sim_arg_path(const struct sim_call *c, const char *key, const char *def);
unsigned sim_arg_enum(const struct sim_call *c, const char *key, unsigned def);

/*
 * A value the op cannot accept at run time: a rule that spans arguments
 * (value=0x100 with size=1) or depends on the machine (dev= below
 * iommu.devices).  A rule of one argument alone belongs in its spec,
 * where it is checked while the script is parsed.  The line is malformed;
 * the script stops with exit 2 naming the line and @key.  @run must
 * return right after.
 */
void sim_call_bad_arg(struct sim_call *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Result of the op: a token such as "SUCCESS", "OK", "#NPF(W,RMP,ENC)",
 * "ERROR(exists)", then zero or more fields "key=value".
 */
void sim_call_result(struct sim_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_call_field(struct sim_call *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Convenience: hex field "key=0x..." and decimal field "key=N". */
void sim_call_field_hex(struct sim_call *c, const char *key, uint64_t v);
void sim_call_field_u64(struct sim_call *c, const char *key, uint64_t v);
/* An extra output line printed before the result line (e.g. `s2 walk` levels). */
void sim_call_printf(struct sim_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Size formatting used in results: 4k, 2m, 1g when exact, else hex bytes. */
const char *sim_fmt_size(uint64_t bytes, char buf[32]);

/*
 * The longest line a script or the shell reads, in bytes (without its
 * newline).  A longer line, or one holding a NUL byte, is an error
 * ("FILE:LINE: line longer than 65536 bytes"), so that no input is read
 * without bound.
 */
#define SIM_SCRIPT_LINE_MAX 65536u

/*
 * Run a script.  @name is used in messages ("FILE:LINE: ...").  Output goes
 * to @out, errors to @errf.  A script is read twice, each time as a stream
 * (memory does not grow with its length): once to check every line, then
 * by each agent for its own lines.  @in is read with pread() when it is a
 * regular file, else first copied to an unnamed temporary file.
 *
 * What is found before anything runs (the check pass; exit 2, nothing on
 * @out): every rule of one line alone -- the line's length and bytes, the
 * operation and agent names, each argument against its spec
 * (enum sim_arg_type: type, bounds, alignment, size set, letters,
 * choices), unknown, repeated and missing arguments, the @CYCLE word, the
 * form and place of expect and machine lines, and the machine line's
 * values (checked by the configuration).  What is found when the line
 * runs (exit 2, lines before it have printed): a rule an op checks with
 * sim_call_bad_arg() (across arguments, or against the machine's
 * configuration), an @CYCLE earlier than the agent's clock, a machine
 * that cannot be built (sim_start()) and a deadlock.
 *
 * On a machine already built (a `protsim run` workload), a machine line
 * must match the machine's configuration.  A key set on the command line
 * (--set, --seed) is never changed by a machine line.
 *
 * @interactive: execute each line as it is read (shell), keep going after
 * errors; `reset` is refused (see sim_shell_run()).
 * Return: 0 all good, 1 an expectation failed, 2 a malformed line or
 * machine error.
 */
int sim_script_run(struct sim *s, FILE *in, const char *name, FILE *out, FILE *errf,
		   bool interactive);

/* Run script text (for tests and `protsim run` workloads). Same returns. */
int sim_script_run_text(struct sim *s, const char *text, const char *name, FILE *out,
			FILE *errf);

/*
 * One recorded script line to run again (protsim replay, docs/trace.md):
 * on host CPU @cpu, operation @op with argument text @args.  A CPU's
 * first line starts at @start; each later one @gap cycles after the end
 * of the CPU's previous line (the recording's idle time between them).
 */
struct sim_replay_line {
	unsigned cpu;
	uint32_t line;                /* the line number in the recorded script */
	char *op, *args;
	uint64_t start, gap;
	/* set by sim_script_replay() */
	bool done;                    /* it ran */
	uint64_t t0, t1;              /* its start and end cycles */
	char *result;                 /* "TOKEN key=value..." (caller frees) */
};
/*
 * Run @n lines, each CPU's in array order, on machine @s (started here if
 * not yet): their result lines on @out, messages ("NAME:LINE: ...") on
 * @errf.  Return: 0 every line ran; 2 a line does not parse on this
 * machine, failed at run time, or deadlocked (message printed).
 */
int sim_script_replay(struct sim *s, struct sim_replay_line *lines, size_t n, const char *name,
		      FILE *out, FILE *errf);

/*
 * The shell (`protsim shell`): read @in line by line and run each line at
 * once; errors are reported and the shell goes on.  On a terminal it uses
 * libedit (prompt, banner, Tab completion, history kept in
 * $XDG_STATE_HOME/protsim/history or ~/.local/state/protsim/history,
 * Ctrl-C cancels the line being typed); otherwise it prints no prompt.
 * Shell commands: help [PREFIX], stats [PREFIX], reset, source FILE,
 * quit/exit.  `reset` replaces *@sp by a fresh simulator with the same
 * configuration and frees the old one; the caller frees *@sp at the end.
 * Return: 0, or 2 when the shell could not go on (a machine that cannot
 * be built, a deadlock, an input line longer than SIM_SCRIPT_LINE_MAX).
 */
int sim_shell_run(struct sim **sp, FILE *in, const char *name, FILE *out, FILE *errf);

/* ------------------------------------------------------------------ */
/* Command line (sim/cli.c): one option parser for every command       */
/* ------------------------------------------------------------------ */

/*
 * One option of a command.  Given as --NAME VALUE, --NAME=VALUE or, with
 * a short name, -S VALUE; a flag (no .arg) as --NAME or -S.  Every
 * command also takes -h / --help.
 */
struct sim_cli_opt {
	const char *name;      /* long name without the dashes: "seed" */
	char short_name;       /* 'q' for -q, or 0 */
	const char *arg;       /* the value's name in help ("N"); NULL: a flag */
	const char *key;       /* configuration key the value sets ("engine.seed"), or NULL */
	const char *help;      /* one line */
};

/* Options every simulating command takes (rows of a struct sim_cli_opt table). */
#define SIM_CLI_OPT_SET \
	{ "set", 0, "KEY=VALUE", NULL, \
	  "set a configuration key (repeatable; protsim help config KEY)" }
#define SIM_CLI_OPT_SEED { "seed", 0, "N", "engine.seed", "the run seed (engine.seed)" }

/* A command: its synopsis, options and --help text. */
struct sim_cli_cmd {
	const char *name;               /* "run" */
	const char *args;               /* positional arguments for the synopsis ("SCENARIO") */
	int min_args, max_args;         /* how many positional arguments */
	const struct sim_cli_opt *opts; /* terminated by .name == NULL */
	const char *summary;            /* one line for `protsim help` */
	const char *details;            /* --help text after the options (lines end in \n) */
	const char *exit_status;        /* --help: one "CODE  meaning\n" line per exit status */
	int usage_rc;                   /* exit status of a usage error */
};

/* One option as given, in command-line order. */
struct sim_cli_val {
	const struct sim_cli_opt *opt;
	const char *val;                /* NULL for a flag */
};

struct sim_cli {
	const struct sim_cli_cmd *cmd;
	struct sim_cli_val *vals;       /* options in command-line order */
	int nvals;
	const char **args;              /* positional arguments */
	int nargs;
};

enum sim_cli_rc {
	SIM_CLI_RUN,     /* parsed: run the command */
	SIM_CLI_HELP,    /* --help was printed on stdout: exit 0 */
	SIM_CLI_USAGE,   /* a usage error was printed on stderr: exit cmd->usage_rc */
};

/*
 * `protsim sweep` (docs/sweeps.md): @cl parsed from the sweep command's
 * table (--grid, --zip, -j, --out, --merge); @self is the protsim binary
 * each point runs.  Return: the exit status.
 */
int sim_sweep_main(const struct sim_cli *cl, const char *self);

/*
 * Parse argv[1..argc) of @cmd (argv[0] is the command name): options
 * anywhere, "--" ends them, "-" is positional (stdin).  A --set value must
 * be KEY=VALUE.  An unknown option names the closest known one.  Free
 * @cl with sim_cli_free() whatever the result.
 */
enum sim_cli_rc sim_cli_parse(const struct sim_cli_cmd *cmd, int argc, char **argv,
			      struct sim_cli *cl);
void sim_cli_free(struct sim_cli *cl);
/* Was flag --@name given?  The last value of option --@name, or NULL. */
bool sim_cli_flag(const struct sim_cli *cl, const char *name);
const char *sim_cli_value(const struct sim_cli *cl, const char *name);
/*
 * Apply --set KEY=VALUE and every option with a .key to @s, in
 * command-line order (the last one wins).  Errors name the option:
 * "--set: key: message", "--seed: engine.seed: message".
 */
int sim_cli_apply(struct sim *s, const struct sim_cli *cl, struct sim_err *err);
/*
 * A usage error of @cmd on stderr: "protsim NAME: message", its synopsis
 * and a pointer to --help.  Returns cmd->usage_rc.
 */
int sim_cli_usage_error(const struct sim_cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "protsim NAME ARGS [--opt VALUE]..." (no newline). */
void sim_cli_synopsis(const struct sim_cli_cmd *cmd, FILE *out);
/* The full --help text. */
void sim_cli_help(const struct sim_cli_cmd *cmd, FILE *out);

/*
 * A progress line on stderr while the simulation runs (only when stderr
 * is a terminal; wall-clock time is used for this display only, never in
 * results): simulated Mcycles, Mcycles per second, seconds.  The line is
 * erased by sim_cli_progress_end().  Shown from the engine's scheduler, so
 * it needs two agents or more.
 */
struct sim_cli_progress;
struct sim_cli_progress *sim_cli_progress_start(struct sim *s);
void sim_cli_progress_end(struct sim_cli_progress *p);

/*
 * "Did you mean": the candidate closest to a mistyped @word by edit
 * distance (insertions, deletions, substitutions, swaps of neighbours),
 * if it is close enough (distance at most a fifth of @word's length,
 * at least 1, at most 3); ties go to the first in @cands.  NULL if none.
 */
const char *sim_suggest(const char *word, const char *const *cands, size_t n);
unsigned sim_edit_distance(const char *a, const char *b);

/* ------------------------------------------------------------------ */
/* Misc                                                                */
/* ------------------------------------------------------------------ */

/* Allocation that never returns NULL: running out of host memory is sim_fatal. */
void *sim_xrealloc(void *p, size_t n);
void *sim_xcalloc(size_t n, size_t size);
char *sim_xstrdup(const char *s);
char *sim_xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* @rel taken beside file @base (in @base's directory) unless absolute or @base has no '/'. */
char *sim_path_beside(const char *base, const char *rel);

/* The protsim version string. */
const char *sim_version(void);

#endif /* PROTSIM_SIM_H */
