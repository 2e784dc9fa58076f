/*
 * coro.c - stackful coroutines for agents.
 *
 * On x86-64 the switch is our own (coro_x86_64.S): six registers, no
 * system call.  Elsewhere we fall back to
 * ucontext, whose swapcontext() makes a sigprocmask system call per
 * switch (bench/bench_engine.c measures both side by side).
 *
 * Stacks come from mmap with a guard page below them, so an overflow is a
 * clean SIGSEGV rather than silent corruption.  Under AddressSanitizer the
 * switches are announced with the fiber API so ASan tracks the stacks.
 */
#include "sim/sim_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
#endif

#if defined(__x86_64__)
#define CORO_ASM 1
void sim_coro_switch(void **save_sp, void *load_sp);
void sim_coro_boot(void);
#else
#include <ucontext.h>
#endif

struct sim_coro {
	sim_coro_fn fn;          /* body */
	void *arg;               /* its argument */
	void *map;               /* mmap'ed region: guard page + stack */
	size_t map_len;          /* its length */
	void *stack;             /* usable stack bottom */
	size_t stack_len;        /* usable stack size */
	bool done;               /* body returned */
#ifdef CORO_ASM
	void *sp;                /* saved stack pointer of the coroutine */
	void *caller_sp;         /* saved stack pointer of the resumer */
#else
	ucontext_t ctx;          /* coroutine context */
	ucontext_t caller;       /* resumer context */
#endif
#ifdef CORO_ASAN
	void *fake_stack;        /* ASan fake stack of the side switched away from */
	const void *caller_bottom;
	size_t caller_size;
#endif
};

static void coro_main(struct sim_coro *c)
{
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &c->caller_bottom, &c->caller_size);
#endif
	c->fn(c->arg);
	c->done = true;
	sim_coro_suspend(c);
	sim_fatal("coroutine resumed after it finished");
}

#ifndef CORO_ASM
static void coro_main_uctx(unsigned hi, unsigned lo)
{
	coro_main((struct sim_coro *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo));
}
#endif

struct sim_coro *sim_coro_new(sim_coro_fn fn, void *arg, size_t stack_bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct sim_coro *c = calloc(1, sizeof(*c));

	if (!c)
		sim_fatal("coro: out of memory");
	stack_bytes = (stack_bytes + page - 1) & ~(page - 1);
	c->fn = fn;
	c->arg = arg;
	c->map_len = stack_bytes + page;
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (c->map == MAP_FAILED)
		sim_fatal("coro: cannot map a %zu-byte stack", stack_bytes);
	if (mprotect(c->map, page, PROT_NONE) != 0)
		sim_fatal("coro: cannot protect the guard page");
	c->stack = (char *)c->map + page;
	c->stack_len = stack_bytes;
#ifdef CORO_ASM
	{
		/*
		 * Initial frame, popped by sim_coro_switch: r15 r14 r13 r12 rbx
		 * rbp, then the return address sim_coro_boot, which finds the
		 * stack 16-byte aligned as a call site must.
		 */
		uintptr_t top = ((uintptr_t)c->stack + stack_bytes - 16) & ~(uintptr_t)15;
		uint64_t *sp = (uint64_t *)top;
		*--sp = (uint64_t)(uintptr_t)sim_coro_boot;
		*--sp = 0;                                  /* rbp */
		*--sp = 0;                                  /* rbx */
		*--sp = (uint64_t)(uintptr_t)c;             /* r12: argument */
		*--sp = (uint64_t)(uintptr_t)coro_main;     /* r13: entry */
		*--sp = 0;                                  /* r14 */
		*--sp = 0;                                  /* r15 */
		c->sp = sp;
	}
#else
	if (getcontext(&c->ctx) != 0)
		sim_fatal("coro: getcontext failed");
	c->ctx.uc_stack.ss_sp = c->stack;
	c->ctx.uc_stack.ss_size = stack_bytes;
	c->ctx.uc_link = NULL;
	makecontext(&c->ctx, (void (*)(void))coro_main_uctx, 2,
		    (unsigned)((uintptr_t)c >> 16 >> 16), (unsigned)(uintptr_t)c);
#endif
	return c;
}

void sim_coro_resume(struct sim_coro *c)
{
	if (c->done)
		sim_fatal("coro: resume of a finished coroutine");
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&c->fake_stack, c->stack, c->stack_len);
#endif
#ifdef CORO_ASM
	sim_coro_switch(&c->caller_sp, c->sp);
#else
	if (swapcontext(&c->caller, &c->ctx) != 0)
		sim_fatal("coro: swapcontext failed");
#endif
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(c->fake_stack, NULL, NULL);
#endif
}

void sim_coro_suspend(struct sim_coro *c)
{
#ifdef CORO_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(c->done ? NULL : &fake, c->caller_bottom, c->caller_size);
#endif
#ifdef CORO_ASM
	sim_coro_switch(&c->sp, c->caller_sp);
#else
	if (swapcontext(&c->ctx, &c->caller) != 0)
		sim_fatal("coro: swapcontext failed");
#endif
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(fake, &c->caller_bottom, &c->caller_size);
#endif
}

bool sim_coro_done(const struct sim_coro *c)
{
	return c->done;
}

void sim_coro_free(struct sim_coro *c)
{
	if (!c)
		return;
	munmap(c->map, c->map_len);
	free(c);
}
