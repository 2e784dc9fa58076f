/*
 * test_cpu_atomic.c - LR/SC/AMOs through the L0 TLB (rv64_loop.h) against
 * the out-of-line path (mmu.c rv_atomic), which the test hook
 * h->at_slow forces for every atomic, as before the inline path existed:
 *   - every AMO, LR and SC with a warm TLB: exact results, and the atomic
 *     hits the L0 TLB (no miss counted);
 *   - misaligned atomics with the page in the TLB still raise the
 *     misaligned exception (cause 4 for LR, 6 for SC/AMO);
 *   - the reservation rules (SC after LR, after a store of another value,
 *     after a store of the same value, to another address, after a trap);
 *   - permissions: an LR needs read permission, an SC or AMO write
 *     permission at every stage (Sv39 W and D, stage-2 W, the RMP's VMPL
 *     write permission), even when the page is in the read TLB; the CLINT
 *     gives access faults; an AMO to tohost reaches HTIF;
 *   - cycles, instruction and trap counts and cache counters are those of
 *     the out-of-line path, in fast and detailed mode.
 * Every case runs on bare, NPT and SNP VMs, in both modes, with and
 * without the hook, and cpu.batch 2000 and 1.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <criterion/parameterized.h>

#include "cpu/cpu_int.h"

#include "tests/guest_vm.h"
#include "tests/rv_enc.h"

#define M64 0xffffffffffffffffull
#define D   (RAM + 0x10000)        /* data page (GPA) */
#define HANDLER (RAM + 0x800)      /* mtvec: skips the trapping instruction (see tvm_new) */

#define AMO_OP(f5, f3) R((f5) << 2, 2, 1, f3, 3, 0x2f)   /* x3 = amo(x1), operand x2 */
#define LR_OP(f3) R(0x08, 0, 1, f3, 3, 0x2f)
#define SC_OP(f3) R(0x0c, 2, 1, f3, 3, 0x2f)

struct tvm {
	struct sim *s;
	struct stack_vm *v;      /* the VM, as the stack keeps it */
	struct cpu_vm *vm;       /* its guest platform */
	struct cpu_hart *h;
};

static const char *const vm_types[] = { "bare", "npt", "snp" };
static const char *const modes[] = { "fast", "detailed" };
static const char *const batches[] = { "2000", "1" };

static const char *const free_probe_keys[] = { "lat.s2.tlb_l1", "lat.s2.tlb_l2", "lat.s2.tlb_l3" };

/*
 * 2 MiB of guest RAM; the trap handler at HANDLER: mepc += 4; mret.
 * @free_probe: a stage-2 TLB hit costs nothing (see run_everywhere).
 */
static void tvm_new(struct tvm *t, const char *type, const char *mode, const char *batch,
		    const char *const *extra, bool free_probe)
{
	static const uint32_t handler[] = { CSRRS(30, 0x341, 0), ADDI(30, 30, 4),
					    CSRRW(0, 0x341, 30), MRET };
	struct sim_err err;

	t->s = sim_new(stack_modules);
	cr_assert(!sim_cfg_set(t->s, "vm.mem_size", "2m", "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "vm.type", type, "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "cpu.mode", mode, "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "cpu.batch", batch, "test", 0, &err), "%s", err.msg);
	if (free_probe) {
		for (unsigned i = 0; i < 3; i++)
			cr_assert(!sim_cfg_set(t->s, free_probe_keys[i], "0", "test", 0, &err), "%s",
				  err.msg);
		cr_assert(!sim_cfg_set(t->s, "s2.cache_rmp", "1", "test", 0, &err), "%s", err.msg);
	}
	for (; extra && *extra; extra += 2)
		cr_assert(!sim_cfg_set(t->s, extra[0], extra[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(t->s, &err), "%s", err.msg);
	t->v = tg_vm_new(t->s, NULL, &err);
	cr_assert(t->v, "%s", err.msg);
	t->vm = stack_guest_cpu(t->v);
	t->h = cpu_vm_hart(t->vm, 0);
	t->h->mtvec = HANDLER;
	/*
	 * Map (and for SNP assign and validate) all of guest RAM up front, as
	 * a first touch would, so that no run here takes a first-touch #NPF:
	 * the two paths are compared on the accesses alone.
	 */
	if (strcmp(type, "bare"))
		for (uint64_t off = 0; off < 2ull << 20; off += 0x1000)
			cr_assert(!stack_guest_map_page(t->v, NULL, RAM + off, &err), "%s", err.msg);
	sim_mem_poke(sim_mem(t->s), HANDLER, handler, sizeof(handler));
}

static void tvm_free(struct tvm *t)
{
	sim_free(t->s);   /* the stack destroys its VMs */
}

/* Run from RAM until @n instructions (retired + traps) or the VM stops. */
static void tvm_run(struct tvm *t, uint64_t n)
{
	cpu_hart_set_pc(t->h, RAM);
	stack_guest_start(t->v, n);
	sim_run(t->s);
}

/* Everything a run leaves behind that the two paths must agree on. */
struct outcome {
	uint64_t x[32];
	uint64_t pc, insns, cycles, traps, mcause, mtval, mepc, npf;
	enum stack_vm_state state;
	int exit_code;
	uint64_t mem[24];          /* D .. D + 0xc0 */
	struct cpu_cache_stats cache;
	uint64_t tlb_miss;
};

static void outcome_of(const struct tvm *t, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	for (unsigned i = 0; i < 32; i++)
		o->x[i] = cpu_hart_reg(t->h, i);
	o->pc = cpu_hart_pc(t->h);
	o->insns = cpu_hart_insns(t->h);
	o->cycles = t->h->st.cycles;
	o->traps = t->h->st.traps;
	o->mcause = t->h->mcause;
	o->mtval = t->h->mtval;
	o->mepc = t->h->mepc;
	o->npf = t->h->st.exits[CPU_EXIT_NPF];
	o->state = stack_guest_state(t->v);
	o->exit_code = o->state == STACK_VM_EXITED ? stack_guest_exit_code(t->v) : 0;
	for (unsigned i = 0; i < 24; i++)
		o->mem[i] = sim_mem_peek64(sim_mem(t->s), D + 8 * i);
	o->cache = *t->vm->cst;
	o->tlb_miss = t->h->st.tlb_miss;
}

/*
 * The inline path and the out-of-line path give the same results and
 * cycles; @timing false: not the detailed-mode cycles and cache counters.
 */
static void outcome_same(const struct outcome *a, const struct outcome *b, bool timing,
			 const char *what)
{
	for (unsigned i = 0; i < 32; i++)
		cr_assert_eq(a->x[i], b->x[i], "%s: x%u 0x%llx vs 0x%llx", what, i,
			     (unsigned long long)a->x[i], (unsigned long long)b->x[i]);
	for (unsigned i = 0; i < 24; i++)
		cr_assert_eq(a->mem[i], b->mem[i], "%s: mem[D+%u]", what, 8 * i);
	cr_assert_eq(a->pc, b->pc, "%s: pc", what);
	cr_assert_eq(a->insns, b->insns, "%s: insns", what);
	cr_assert_eq(a->traps, b->traps, "%s: traps", what);
	cr_assert_eq(a->mcause, b->mcause, "%s: mcause", what);
	cr_assert_eq(a->mtval, b->mtval, "%s: mtval", what);
	cr_assert_eq(a->mepc, b->mepc, "%s: mepc", what);
	cr_assert_eq(a->npf, b->npf, "%s: #NPF exits", what);
	cr_assert_eq(a->state, b->state, "%s: VM state", what);
	cr_assert_eq(a->exit_code, b->exit_code, "%s: exit code", what);
	if (!timing)
		return;
	cr_assert_eq(a->cycles, b->cycles, "%s: cycles %llu vs %llu", what,
		     (unsigned long long)a->cycles, (unsigned long long)b->cycles);
	cr_assert(!memcmp(&a->cache, &b->cache, sizeof(a->cache)), "%s: cache counters", what);
}

/* Set-up beyond code and data (page tables, protections); NULL: none. */
typedef void (*setup_fn)(struct tvm *t);
/*
 * A program: @code at RAM, x1, x2, x7 set, @mem at D, then @setup.
 * run_everywhere runs it on every VM type (or only @only_type), mode and
 * batch, with and without the hook; each pair must agree (outcome_same).
 * The out-of-line path translates every atomic again: on NPT and SNP VMs
 * that is a stage-2 TLB probe (a hit) and on SNP an RMP check (an RMP
 * entry read), which these runs make free (lat.s2.tlb_l1..l3 = 0, and
 * s2.cache_rmp = 1: the TLB entry holds the passed check) so that the
 * detailed-mode cycles compare the rest, the L1D access in particular;
 * loop_cycles_default_latencies checks the difference with the default
 * configuration.  With guest paging
 * (@s1_walk) it also walks the guest tables again (table reads through
 * the caches), so only results and fast-mode cycles are compared.
 * *@out: the inline run on the first VM type, fast mode, batch 2000.
 */
struct prog {
	const char *name;
	const uint32_t *code;
	size_t n;
	const uint64_t *mem;         /* initial D .. D + 8 * nmem */
	size_t nmem;
	uint64_t x1, x2, x7;
	uint64_t run;                /* instruction limit */
	setup_fn setup;
	const char *const *extra;    /* configuration keys */
	const char *only_type;       /* NULL: every VM type */
	bool s1_walk;
};

/* #NPF: stop the VM (as the minimal host does, without its message). */
static int quiet_npf(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r)
{
	(void)e;
	(void)r;
	stack_guest_stop(vc->vm, STACK_VM_KILLED, 99);
	return 0;
}

static void run_one(const struct prog *p, const char *type, const char *mode, const char *batch,
		    bool slow, bool free_probe, struct outcome *o)
{
	struct tvm t;

	tvm_new(&t, type, mode, batch, p->extra, free_probe);
	static struct stack_host quiet_host;

	quiet_host = stack_host_minimal;
	quiet_host.name = "test";
	quiet_host.exit[CPU_EXIT_NPF] = quiet_npf;
	stack_guest_set_host(t.v, &quiet_host);
	sim_mem_poke(sim_mem(t.s), RAM, p->code, p->n * 4);
	for (size_t i = 0; i < p->nmem; i++)
		sim_mem_poke64(sim_mem(t.s), D + 8 * i, p->mem[i]);
	if (p->setup)
		p->setup(&t);
	cpu_hart_set_reg(t.h, 1, p->x1);
	cpu_hart_set_reg(t.h, 2, p->x2);
	cpu_hart_set_reg(t.h, 7, p->x7);
	t.h->at_slow = slow;
	tvm_run(&t, p->run);
	outcome_of(&t, o);
	tvm_free(&t);
}

static void run_everywhere(const struct prog *p, struct outcome *out)
{
	bool got = false;

	for (unsigned v = 0; v < 3; v++) {
		if (p->only_type && strcmp(p->only_type, vm_types[v]) != 0)
			continue;
		for (unsigned m = 0; m < 2; m++)
			for (unsigned b = 0; b < 2; b++) {
				struct outcome fast, slow;
				char what[128];

				snprintf(what, sizeof(what), "%s, %s VM, %s mode, batch %s", p->name,
					 vm_types[v], modes[m], batches[b]);
				run_one(p, vm_types[v], modes[m], batches[b], false, true, &fast);
				run_one(p, vm_types[v], modes[m], batches[b], true, true, &slow);
				outcome_same(&fast, &slow, m == 0 || !p->s1_walk, what);
				if (!got) {
					*out = fast;
					got = true;
				}
			}
	}
	cr_assert(got);
}

/* ------------------------------------------------------------------ */
/* Every atomic with a warm L0 TLB                                     */
/* ------------------------------------------------------------------ */

struct amo_case {
	char name[24];
	uint32_t insn;      /* x1 = address, x2 = operand, x3 = result */
	uint64_t init;      /* 8 bytes at the address */
	uint64_t x2;
	uint64_t expect_x3;
	uint64_t expect_mem;
};

static struct amo_case amo_cases[] = {
	{ "amoswap.w", AMO_OP(0x01, 2), 0x11111111fffffffeull, 5, 0xfffffffffffffffeull, 0x1111111100000005ull },
	{ "amoswap.d", AMO_OP(0x01, 3), 0x8000000000000001ull, 7, 0x8000000000000001ull, 7 },
	{ "amoadd.w",  AMO_OP(0x00, 2), 0x7fffffff, 1, 0x7fffffff, 0x80000000 },
	{ "amoadd.d",  AMO_OP(0x00, 3), M64, 2, M64, 1 },
	{ "amoxor.w",  AMO_OP(0x04, 2), 0xffffffff000000ffull, 0x0f, 0xff, 0xffffffff000000f0ull },
	{ "amoxor.d",  AMO_OP(0x04, 3), 0xff, 0x0f, 0xff, 0xf0 },
	{ "amoand.w",  AMO_OP(0x0c, 2), 0x12345678ffffffffull, 0xffff, M64, 0x123456780000ffffull },
	{ "amoand.d",  AMO_OP(0x0c, 3), 0xff, 0x0f, 0xff, 0x0f },
	{ "amoor.w",   AMO_OP(0x08, 2), 0xaaaaaaaa00000f00ull, 0x80000000, 0xf00, 0xaaaaaaaa80000f00ull },
	{ "amoor.d",   AMO_OP(0x08, 3), 0xf0, 0x0f, 0xf0, 0xff },
	{ "amomin.w",  AMO_OP(0x10, 2), 5, 0xffffffff, 5, 0xffffffff },
	{ "amomin.d",  AMO_OP(0x10, 3), 5, M64, 5, M64 },
	{ "amomax.w",  AMO_OP(0x14, 2), 0x80000000, 3, 0xffffffff80000000ull, 3 },
	{ "amomax.d",  AMO_OP(0x14, 3), 5, M64, 5, 5 },
	{ "amominu.w", AMO_OP(0x18, 2), 0xffffffff00000005ull, 0xffffffff, 5, 0xffffffff00000005ull },
	{ "amominu.d", AMO_OP(0x18, 3), 5, M64, 5, 5 },
	{ "amomaxu.w", AMO_OP(0x1c, 2), 5, 0xffffffff, 5, 0xffffffff },
	{ "amomaxu.d", AMO_OP(0x1c, 3), 5, M64, 5, M64 },
	{ "lr.w",      LR_OP(2), 0x80000001, 0, 0xffffffff80000001ull, 0x80000001 },
	{ "lr.d",      LR_OP(3), 42, 0, 42, 42 },
	{ "sc.w no reservation", SC_OP(2), 42, 7, 1, 42 },
	{ "sc.d no reservation", SC_OP(3), 42, 7, 1, 42 },
};

ParameterizedTestParameters(cpu_atomic, warm_tlb)
{
	return cr_make_param_array(struct amo_case, amo_cases, sizeof(amo_cases) / sizeof(amo_cases[0]));
}

/*
 * sd to D+8 and ld from D+16 fill the page's write and read entries; the
 * atomic then hits: 3 L0 misses in all (fetch, sd, ld), not 4.
 */
ParameterizedTest(struct amo_case *c, cpu_atomic, warm_tlb)
{
	const uint32_t code[] = { SD(0, 8, 1), LD(6, 16, 1), c->insn, J(0, 0) };
	const uint64_t mem[] = { c->init, 0x99, 0x77 };
	struct prog p = { .name = c->name, .code = code, .n = 4, .mem = mem, .nmem = 3,
			  .x1 = D, .x2 = c->x2, .run = 3 };
	struct outcome o;

	run_everywhere(&p, &o);
	cr_assert_eq(o.mcause, 0, "%s trapped", c->name);
	cr_assert_eq(o.insns, 3);
	cr_assert_eq(o.x[3], c->expect_x3, "%s: x3 = 0x%llx", c->name, (unsigned long long)o.x[3]);
	cr_assert_eq(o.mem[0], c->expect_mem, "%s: mem = 0x%llx", c->name,
		     (unsigned long long)o.mem[0]);
	cr_assert_eq(o.x[6], 0x77);
	cr_assert_eq(o.mem[1], 0);
	cr_assert_eq(o.tlb_miss, 3, "%s: the atomic must hit the L0 TLB (misses %llu)", c->name,
		     (unsigned long long)o.tlb_miss);
}

/* ------------------------------------------------------------------ */
/* Misaligned atomics, page in the TLB                                 */
/* ------------------------------------------------------------------ */

struct mis_case {
	char name[24];
	uint32_t insn;
	unsigned off;       /* x1 = D + off */
	uint64_t cause;
};

static struct mis_case mis_cases[] = {
	{ "lr.w +2",      LR_OP(2), 2, RV_CAUSE_MISALIGNED_LOAD },
	{ "lr.d +4",      LR_OP(3), 4, RV_CAUSE_MISALIGNED_LOAD },
	{ "sc.w +1",      SC_OP(2), 1, RV_CAUSE_MISALIGNED_STORE },
	{ "sc.d +4",      SC_OP(3), 4, RV_CAUSE_MISALIGNED_STORE },
	{ "amoadd.w +2",  AMO_OP(0x00, 2), 2, RV_CAUSE_MISALIGNED_STORE },
	{ "amoswap.d +4", AMO_OP(0x01, 3), 4, RV_CAUSE_MISALIGNED_STORE },
	{ "amomax.d +1",  AMO_OP(0x14, 3), 1, RV_CAUSE_MISALIGNED_STORE },
	{ "amoor.w +3",   AMO_OP(0x08, 2), 3, RV_CAUSE_MISALIGNED_STORE },
};

ParameterizedTestParameters(cpu_atomic, misaligned)
{
	return cr_make_param_array(struct mis_case, mis_cases, sizeof(mis_cases) / sizeof(mis_cases[0]));
}

/* x7 = D: sd/ld there fill both entries; the atomic at D + off must trap, memory unchanged. */
ParameterizedTest(struct mis_case *c, cpu_atomic, misaligned)
{
	const uint32_t code[] = { SD(0, 64, 7), LD(6, 72, 7), R(0x08, 0, 7, 3, 3, 0x2f),
				  c->insn, J(0, 0) };
	const uint64_t mem[] = { 0x1111111111111111ull, 0x2222222222222222ull };
	struct prog p = { .name = c->name, .code = code, .n = 5, .mem = mem, .nmem = 2,
			  .x1 = D + c->off, .x2 = 5, .x7 = D, .run = 4 };
	struct outcome o;

	run_everywhere(&p, &o);
	cr_assert_eq(o.mcause, c->cause, "%s: mcause %llu", c->name, (unsigned long long)o.mcause);
	cr_assert_eq(o.mtval, D + c->off);
	cr_assert_eq(o.mepc, RAM + 12);
	cr_assert_eq(o.traps, 1);
	cr_assert_eq(o.insns, 3, "a trapping instruction does not retire");
	cr_assert_eq(o.pc, HANDLER);
	cr_assert_eq(o.mem[0], 0x1111111111111111ull, "%s: memory unchanged", c->name);
	cr_assert_eq(o.mem[1], 0x2222222222222222ull);
	cr_assert_eq(o.x[3], 0x1111111111111111ull, "the lr.d before it ran");
}

/* ------------------------------------------------------------------ */
/* Reservation rules                                                   */
/* ------------------------------------------------------------------ */

Test(cpu_atomic, reservation_rules)
{
	const uint32_t code[] = {
		LD(20, 0, 1), SD(20, 0, 1),          /* 0, 4: fill both TLB entries */
		LR_OP(3),                            /* 8:  lr.d x3, (x1) = 0x11 */
		R(0x0c, 2, 1, 3, 4, 0x2f),           /* 12: sc.d x4: 0, mem = 9 */
		R(0x0c, 2, 1, 3, 5, 0x2f),           /* 16: sc.d x5: 1 (used up) */
		R(0x08, 0, 1, 3, 6, 0x2f),           /* 20: lr.d x6 = 9 */
		SD(0, 0, 1),                         /* 24: another value */
		R(0x0c, 2, 1, 3, 8, 0x2f),           /* 28: sc.d x8: 1, mem = 0 */
		R(0x08, 0, 1, 3, 9, 0x2f),           /* 32: lr.d x9 = 0 */
		SD(0, 0, 1),                         /* 36: the same value (ABA) */
		R(0x0c, 2, 1, 3, 10, 0x2f),          /* 40: sc.d x10: 0, mem = 9 */
		R(0x08, 0, 1, 3, 11, 0x2f),          /* 44: lr.d x11 = 9 */
		R(0x0c, 2, 7, 3, 12, 0x2f),          /* 48: sc.d x12 to x7: 1 */
		R(0x08, 0, 7, 2, 13, 0x2f),          /* 52: lr.w x13 (x7) sign-extended */
		R(0x0c, 2, 7, 2, 14, 0x2f),          /* 56: sc.w x14: 0, low word = 9 */
		R(0x08, 0, 1, 3, 15, 0x2f),          /* 60: lr.d x15 = 9 */
		ECALL,                               /* 64: a trap drops the reservation */
		R(0x0c, 2, 1, 3, 16, 0x2f),          /* 68: sc.d x16: 1 */
		J(0, 0),                             /* 72 */
	};
	const uint64_t mem[] = { 0x11, 0, 0, 0, 0, 0, 0, 0, 0x1234567880000002ull };
	struct prog p = { .name = "reservation rules", .code = code, .n = sizeof(code) / 4,
			  .mem = mem, .nmem = 9, .x1 = D, .x2 = 9, .x7 = D + 64, .run = 40 };
	struct outcome o;

	run_everywhere(&p, &o);
	cr_assert_eq(o.x[3], 0x11);
	cr_assert_eq(o.x[4], 0, "sc after lr succeeds");
	cr_assert_eq(o.x[5], 1, "a second sc fails");
	cr_assert_eq(o.x[6], 9);
	cr_assert_eq(o.x[8], 1, "sc fails after a store of another value");
	cr_assert_eq(o.x[9], 0);
	cr_assert_eq(o.x[10], 0, "sc succeeds after a store of the same value (ABA)");
	cr_assert_eq(o.x[11], 9);
	cr_assert_eq(o.x[12], 1, "sc to another address fails");
	cr_assert_eq(o.x[13], 0xffffffff80000002ull);
	cr_assert_eq(o.x[14], 0);
	cr_assert_eq(o.x[15], 9);
	cr_assert_eq(o.x[16], 1, "sc after a trap fails");
	cr_assert_eq(o.mem[0], 9);
	cr_assert_eq(o.mem[8], 0x1234567800000009ull);
	cr_assert_eq(o.traps, 1);
	cr_assert_eq(o.mcause, RV_CAUSE_ECALL_M);
	cr_assert_eq(o.pc, RAM + 72);
}

/* ------------------------------------------------------------------ */
/* Permissions                                                         */
/* ------------------------------------------------------------------ */

#define PTE_V 0x01u
#define PTE_R 0x02u
#define PTE_W 0x04u
#define PTE_X 0x08u
#define PTE_A 0x40u
#define PTE_D 0x80u
#define VA    0x40000000ull        /* mapped to D by sv39_setup */

/*
 * Sv39 tables at RAM+0x20000..0x22fff: VA -> D with the leaf flags
 * sv39_leaf, RAM's 1G identity block for everything else; data accesses
 * in M mode with MPRV and MPP = S.
 */
static unsigned sv39_leaf;

static void sv39_setup(struct tvm *t)
{
	struct sim_mem *m = sim_mem(t->s);
	uint64_t root = RAM + 0x20000, l1 = RAM + 0x21000, l0 = RAM + 0x22000;

	sim_mem_poke64(m, root + 8 * 1, (l1 >> 12) << 10 | PTE_V);
	sim_mem_poke64(m, root + 8 * 2, (RAM >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
	sim_mem_poke64(m, l1, (l0 >> 12) << 10 | PTE_V);
	sim_mem_poke64(m, l0, (D >> 12) << 10 | PTE_V | sv39_leaf);
	t->h->satp = (8ull << 60) | (root >> 12);
	t->h->mstatus = MSTATUS_MPRV | ((uint64_t)RV_PRIV_S << 11);
	rv_update_modes(t->h);
}

static void sv39_ro(struct tvm *t)
{
	sv39_leaf = PTE_R | PTE_A | PTE_D;
	sv39_setup(t);
}

static void sv39_rw_clean(struct tvm *t)
{
	sv39_leaf = PTE_R | PTE_W | PTE_A;
	sv39_setup(t);
}

/* Stage 2 maps the data page read-only (NPT). */
static void npt_ro(struct tvm *t)
{
	cr_assert_eq(s2_protect(t->vm->npt, NULL, D, 0x1000, S2_PERM_R | S2_PERM_X), S2_OK);
}

/* VMPL1 vCPU: code page all permissions, data page read-only (RMP VMPL1 mask). */
static void rmp_vmpl1_ro(struct tvm *t)
{
	const uint64_t pages[] = { RAM, D };
	const uint8_t perms[] = { RMP_PERM_ALL, RMP_PERM_R };

	for (unsigned i = 0; i < 2; i++) {
		struct rmp_entry e = { .assigned = true, .validated = true, .asid = t->vm->asid,
				       .gpa = pages[i] };
		uint64_t spa;

		cr_assert(!cpu_vm_gpa_to_spa(t->vm, pages[i], &spa));
		e.perms[0] = RMP_PERM_ALL;
		e.perms[1] = perms[i];
		cr_assert_eq(rmp_fw_write(t->vm->rmp, spa, &e), RMP_RC_SUCCESS);
	}
}

static const char *const vmpl1[] = { "vm.vmpl", "1", NULL };

/* Set-ups of the permission cases (parameters hold no pointers). */
enum perm_setup { P_NONE, P_SV39_RO, P_SV39_RW_CLEAN, P_NPT_RO, P_RMP_VMPL1_RO };
static const setup_fn perm_setup_fn[] = { NULL, sv39_ro, sv39_rw_clean, npt_ro, rmp_vmpl1_ro };
static const char *const perm_setup_type[] = { NULL, NULL, NULL, "npt", "snp" };

struct perm_case {
	char name[48];
	enum perm_setup setup;
	uint64_t x1;              /* address of the atomic */
	uint32_t insn;            /* x3 = result */
	bool lr_first;            /* an lr.d x3 (the same address) before it */
	uint64_t cause;           /* 0 none */
	bool npf;                 /* #NPF exit (the test's hypervisor then stops the VM) */
};

#define CLINT_MSIP CPU_CLINT_BASE
static struct perm_case perm_cases[] = {
	/* name                               setup            x1          insn             lr cause                  npf */
	{ "Sv39 R page: lr.d",                P_SV39_RO,       VA,         LR_OP(3),        0, 0,                     0 },
	{ "Sv39 R page: amoadd.d",            P_SV39_RO,       VA,         AMO_OP(0x00, 3), 0, RV_CAUSE_STORE_PAGE,   0 },
	{ "Sv39 R page: sc.d after lr.d",     P_SV39_RO,       VA,         SC_OP(3),        1, RV_CAUSE_STORE_PAGE,   0 },
	{ "Sv39 RW D=0: amoswap.w",           P_SV39_RW_CLEAN, VA,         AMO_OP(0x01, 2), 0, RV_CAUSE_STORE_PAGE,   0 },
	{ "Sv39 RW D=0: lr.w",                P_SV39_RW_CLEAN, VA,         LR_OP(2),        0, 0,                     0 },
	{ "stage-2 R page: lr.d",             P_NPT_RO,        D,          LR_OP(3),        0, 0,                     0 },
	{ "stage-2 R page: amoor.d",          P_NPT_RO,        D,          AMO_OP(0x08, 3), 0, 0,                     1 },
	{ "stage-2 R page: sc.w after lr.d",  P_NPT_RO,        D,          SC_OP(2),        1, 0,                     1 },
	{ "RMP VMPL1 R page: lr.d",           P_RMP_VMPL1_RO,  D,          LR_OP(3),        0, 0,                     0 },
	{ "RMP VMPL1 R page: amoadd.w",       P_RMP_VMPL1_RO,  D,          AMO_OP(0x00, 2), 0, 0,                     1 },
	{ "RMP VMPL1 R page: sc.d after lr.d", P_RMP_VMPL1_RO, D,          SC_OP(3),        1, 0,                     1 },
	{ "CLINT: amoadd.w",                  P_NONE,          CLINT_MSIP, AMO_OP(0x00, 2), 0, RV_CAUSE_STORE_ACCESS, 0 },
	{ "CLINT: lr.w",                      P_NONE,          CLINT_MSIP, LR_OP(2),        0, RV_CAUSE_LOAD_ACCESS,  0 },
};

ParameterizedTestParameters(cpu_atomic, permissions)
{
	return cr_make_param_array(struct perm_case, perm_cases, sizeof(perm_cases) / sizeof(perm_cases[0]));
}

/*
 * An ld from the page first puts it in the read entries (where the page
 * is readable), so a write-needing atomic must not use them.  (The CLINT
 * cases run the atomic alone: device pages are in no entry.)
 */
ParameterizedTest(struct perm_case *c, cpu_atomic, permissions)
{
	const uint32_t with_lr[] = { LD(6, 8, 1), LR_OP(3), c->insn, J(0, 0) };
	const uint32_t plain[] = { LD(6, 8, 1), c->insn, J(0, 0) };
	const uint64_t mem[] = { 0x5555, 0x6666 };
	bool clint = c->x1 == CLINT_MSIP;
	unsigned at = clint ? 0 : c->lr_first ? 2 : 1;   /* index of the atomic under test */
	struct prog p = { .name = c->name, .code = c->lr_first ? with_lr : plain + clint,
			  .n = at + 2, .mem = mem, .nmem = 2, .x1 = c->x1, .x2 = 3, .run = at + 1,
			  .setup = perm_setup_fn[c->setup],
			  .extra = c->setup == P_RMP_VMPL1_RO ? vmpl1 : NULL,
			  .only_type = perm_setup_type[c->setup],
			  .s1_walk = c->setup == P_SV39_RO || c->setup == P_SV39_RW_CLEAN };
	struct outcome o;

	run_everywhere(&p, &o);
	cr_assert_eq(o.mem[0], 0x5555, "%s: memory unchanged", c->name);
	if (c->npf) {
		cr_assert_eq(o.npf, 1, "%s: #NPF exit", c->name);
		cr_assert_eq(o.state, STACK_VM_KILLED, "%s: the hypervisor stopped the VM", c->name);
		cr_assert_eq(o.insns, at);
		return;
	}
	cr_assert_eq(o.npf, 0, "%s", c->name);
	if (c->cause) {
		cr_assert_eq(o.mcause, c->cause, "%s: mcause %llu", c->name,
			     (unsigned long long)o.mcause);
		cr_assert_eq(o.mtval, c->x1);
		cr_assert_eq(o.mepc, RAM + 4 * at);
		cr_assert_eq(o.insns, at);
	} else {
		cr_assert_eq(o.mcause, 0, "%s: trapped %llu", c->name, (unsigned long long)o.mcause);
		cr_assert_eq(o.x[3], 0x5555, "%s", c->name);
		cr_assert_eq(o.insns, at + 1);
	}
}

/* ------------------------------------------------------------------ */
/* tohost                                                              */
/* ------------------------------------------------------------------ */

#define TOHOST (RAM + 0x30000)

static void with_tohost(struct tvm *t)
{
	cr_assert(!stack_guest_set_htif(t->v, TOHOST, 0, NULL));
}

/* The tohost page is never in the write entries: an AMO or SC to it reaches HTIF. */
Test(cpu_atomic, amo_and_sc_to_tohost_exit)
{
	const uint32_t amo[] = { SD(0, 8, 1), LD(6, 8, 1), AMO_OP(0x01, 3), J(0, 0) };
	const uint32_t sc[] = { SD(0, 8, 1), LR_OP(3), SC_OP(3), J(0, 0) };
	const uint32_t *progs[] = { amo, sc };

	for (unsigned i = 0; i < 2; i++) {
		struct prog p = { .name = i ? "sc.d to tohost" : "amoswap.d to tohost",
				  .code = progs[i], .n = 4, .x1 = TOHOST, .x2 = (7 << 1) | 1,
				  .run = 100, .setup = with_tohost };
		struct outcome o;

		run_everywhere(&p, &o);
		cr_assert_eq(o.state, STACK_VM_EXITED, "%s", p.name);
		cr_assert_eq(o.exit_code, 7, "%s", p.name);
		cr_assert_eq(o.insns, 3);
	}
}

/* ------------------------------------------------------------------ */
/* A loop: cycles and cache counters                                   */
/* ------------------------------------------------------------------ */

/*
 * 8 atomics over two lines, 100 iterations: the inline path charges the
 * L1D exactly as rv_atomic does (detailed mode), so cycles and cache
 * counters agree for every VM type (outcome_same); fast mode is cpi per
 * instruction.
 */
Test(cpu_atomic, loop_cycles)
{
	const uint32_t code[] = {
		R(0x08, 0, 1, 3, 4, 0x2f),     /* lr.d      x4, (x1) */
		R(0x0c, 4, 1, 3, 5, 0x2f),     /* sc.d      x5, x4, (x1) */
		R(0x00, 2, 1, 3, 3, 0x2f),     /* amoadd.d  x3, x2, (x1) */
		R(0x04, 3, 7, 3, 6, 0x2f),     /* amoswap.d x6, x3, (x7) */
		R(0x08, 0, 7, 2, 8, 0x2f),     /* lr.w      x8, (x7) */
		R(0x0c, 8, 7, 2, 9, 0x2f),     /* sc.w      x9, x8, (x7) */
		R(0x20, 2, 7, 2, 10, 0x2f),    /* amoor.w   x10, x2, (x7) */
		R(0x50, 2, 1, 3, 11, 0x2f),    /* amomax.d  x11, x2, (x1) */
		J(-32, 0),
	};
	const uint64_t mem[] = { 1 };
	struct prog p = { .name = "atomic loop", .code = code, .n = 9, .mem = mem, .nmem = 1,
			  .x1 = D, .x2 = 1, .x7 = D + 128, .run = 900 };
	struct outcome o;

	run_everywhere(&p, &o);
	cr_assert_eq(o.insns, 900);
	cr_assert_eq(o.mem[0], 101, "100 amoadd.d of 1");
	cr_assert_eq(o.x[5], 0, "sc.d succeeds every time");
	cr_assert_eq(o.x[9], 0, "sc.w succeeds every time");
	cr_assert_eq(o.mem[16], 100 | 1, "amoor.w after amoswap.d of x3");
	cr_assert_eq(o.tlb_miss, 3, "fetch, then one read and one write fill");
}

/*
 * The default configuration: the out-of-line path costs, per atomic, a
 * stage-2 TLB hit (lat.s2.tlb_l1) on NPT and SNP VMs and the RMP check's
 * entry reads (L1D hits); the inline path saves exactly that, as it does
 * for loads and stores.
 */
Test(cpu_atomic, loop_cycles_default_latencies)
{
	const uint32_t code[] = {
		R(0x08, 0, 1, 3, 4, 0x2f), R(0x0c, 4, 1, 3, 5, 0x2f), R(0x00, 2, 1, 3, 3, 0x2f),
		R(0x04, 3, 7, 3, 6, 0x2f), R(0x08, 0, 7, 2, 8, 0x2f), R(0x0c, 8, 7, 2, 9, 0x2f),
		R(0x20, 2, 7, 2, 10, 0x2f), R(0x50, 2, 1, 3, 11, 0x2f), J(-32, 0),
	};
	const uint64_t mem[] = { 1 };
	struct prog p = { .name = "atomic loop", .code = code, .n = 9, .mem = mem, .nmem = 1,
			  .x1 = D, .x2 = 1, .x7 = D + 128, .run = 900 };

	for (unsigned v = 0; v < 3; v++) {
		struct outcome fast, slow;
		struct tvm t;
		uint64_t probe, l1d, hits, rd, wr;

		tvm_new(&t, vm_types[v], "detailed", "2000", NULL, false);
		probe = sim_cfg_u64(t.s, "lat.s2.tlb_l1");
		l1d = sim_cfg_u64(t.s, "cache.l1d.latency");
		tvm_free(&t);
		run_one(&p, vm_types[v], "detailed", "2000", false, false, &fast);
		run_one(&p, vm_types[v], "detailed", "2000", true, false, &slow);
		outcome_same(&fast, &slow, false, vm_types[v]);
		hits = 800 - (fast.tlb_miss - 1);     /* atomics that hit the L0 TLB */
		cr_assert_eq(hits, 798);
		/*
		 * Of the hits, 199 are LRs (reads) and 599 SCs/AMOs (writes).  Each
		 * costs the out-of-line path a stage-2 TLB probe (NPT, SNP) plus its
		 * RMP check: on SNP every access reads the page's (assigned 4K)
		 * entry, one L1D hit; on NPT, with SNP on in the host, only writes
		 * are checked, and the unassigned non-base page's lookup reads the
		 * 2M-base entry and its own, two L1D hits.
		 */
		rd = v == 0 ? 0 : v == 1 ? 0 : 199;
		wr = v == 0 ? 0 : v == 1 ? 2 * 599 : 599;
		cr_assert_eq(slow.cycles - fast.cycles, (v ? hits * probe : 0) + (rd + wr) * l1d,
			     "%s: %llu cycles saved", vm_types[v],
			     (unsigned long long)(slow.cycles - fast.cycles));
		cr_assert_eq(slow.cache.hit[1] - fast.cache.hit[1], rd + wr, "%s: L1D hits",
			     vm_types[v]);
		fast.cache.hit[1] = slow.cache.hit[1];
		cr_assert(!memcmp(&fast.cache, &slow.cache, sizeof(fast.cache)), "%s: caches",
			  vm_types[v]);
	}
}
