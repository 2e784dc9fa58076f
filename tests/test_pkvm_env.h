/*
 * test_pkvm_env.h - the environment of the pKVM page-ownership tests
 * (test_stack_pkvm.c, test_stack_pkvm_matrix.c): a 64 MiB machine, the
 * hypervisor model over host memory 16 MiB at 16 MiB with a 256-page pool
 * at its end, and two VMs created with their metadata pages: [0]
 * non-protected, [1] protected.  check() runs the invariant checker.
 */
#ifndef PROTSIM_TESTS_PKVM_ENV_H
#define PROTSIM_TESTS_PKVM_ENV_H

#include <criterion/criterion.h>
#include <string.h>

#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_mem.h"
#include "tests/test_rmp_util.h"

#define HMEM_BASE 0x1000000ull          /* host memory: 16 MiB at 16 MiB */
#define HMEM_SIZE 0x1000000ull
#define POOL_BASE 0x1E00000ull          /* hyp pool: 256 pages */
#define POOL_PGS  256u
#define META_NP   0x1D00u               /* VM metadata pages (PFNs) */
#define META_P    0x1D10u
#define META_N    8u

struct env {
	struct sim *s;
	struct stack_pkvm *pk;
	struct sim_who who;
	uint32_t vm[2];                 /* [0] non-protected, [1] protected */
	uint64_t cycles;
};

static inline void env_new(struct env *e)
{
	struct sim_err err = { "" };
	struct stack_pkvm_cfg cfg;

	memset(e, 0, sizeof(*e));
	e->s = sim_new(stack_modules);
	cr_assert_eq(sim_cfg_set(e->s, "machine.mem", "64m", "test", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(e->s, &err), 0, "%s", err.msg);
	stack_pkvm_cfg_default(&cfg);
	cfg.mem_base = HMEM_BASE;
	cfg.mem_size = HMEM_SIZE;
	cfg.pool_base = POOL_BASE;
	cfg.pool_pages = POOL_PGS;
	e->who = who_at(0, 0);
	e->pk = stack_pkvm_new(e->s, sim_mem(e->s), s2_ctx_get(e->s), &cfg, &e->who, &err);
	cr_assert_not_null(e->pk, "%s", err.msg);
	cr_assert_eq(stack_pkvm_vm_create(e->pk, &e->who, false, META_NP, META_N, &e->vm[0], NULL), 0);
	cr_assert_eq(stack_pkvm_vm_create(e->pk, &e->who, true, META_P, META_N, &e->vm[1], NULL), 0);
}

static inline void env_free(struct env *e)
{
	stack_pkvm_free(e->pk);
	sim_free(e->s);
}

static inline void check(struct env *e, const char *what)
{
	char msg[256] = "";

	cr_assert_eq(stack_pkvm_check(e->pk, msg, sizeof(msg)), 0, "%s: %s", what, msg);
}

#endif
