/*
 * test_cpu_loop.c - the run loop's fetch and dispatch paths (rv64_loop.h)
 * and the detailed-mode cache lookup shortcuts (cache.c):
 *   - sequential execution across a page boundary (guard slots), with the
 *     batch ending at every position around it;
 *   - a 32-bit instruction straddling two pages, decoded every time (a
 *     store to its second half takes effect without fence.i);
 *   - fence.i makes a store to an already decoded instruction visible,
 *     and without it the stale decoded copy runs (documented choice);
 *   - the L1D hit/miss counts of a conflict pattern match a reference
 *     true-LRU model (the hint shortcut must never change a result).
 * Every case runs in fast and detailed mode and with several cpu.batch
 * values; results, cycles and counters must not depend on the batch.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "cpu/cpu_int.h"

#include "tests/guest_vm.h"
#include "tests/rv_enc.h"

#define C_ADDI(rd, imm) ((uint16_t)(0x0001 | ((imm) & 0x1f) << 2 | (rd) << 7 | ((imm) >> 5 & 1) << 12))

struct tvm {
	struct sim *s;
	struct stack_vm *v;      /* the VM, as the stack keeps it */
	struct cpu_vm *vm;       /* its guest platform */
	struct cpu_hart *h;
};

/* A bare VM with 2 MiB of RAM in @mode, cpu.batch @batch, plus @extra key/value pairs. */
static void tvm_new(struct tvm *t, const char *mode, unsigned batch, const char *const *extra)
{
	struct sim_err err;
	char b[16];

	snprintf(b, sizeof(b), "%u", batch);
	t->s = sim_new(stack_modules);
	cr_assert(!sim_cfg_set(t->s, "vm.mem_size", "2m", "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "vm.type", "bare", "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "cpu.mode", mode, "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "cpu.batch", b, "test", 0, &err), "%s", err.msg);
	for (; extra && *extra; extra += 2)
		cr_assert(!sim_cfg_set(t->s, extra[0], extra[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(t->s, &err), "%s", err.msg);
	t->v = tg_vm_new(t->s, NULL, &err);
	cr_assert(t->v, "%s", err.msg);
	t->vm = stack_guest_cpu(t->v);
	t->h = cpu_vm_hart(t->vm, 0);
	t->h->mtvec = RAM + 0x800;   /* no test here traps */
}

static void tvm_poke32(struct tvm *t, uint64_t gpa, uint32_t v)
{
	sim_mem_poke(sim_mem(t->s), gpa, &v, 4);
}

static void tvm_poke16(struct tvm *t, uint64_t gpa, uint16_t v)
{
	sim_mem_poke(sim_mem(t->s), gpa, &v, 2);
}

static void tvm_run(struct tvm *t, uint64_t pc, uint64_t n)
{
	cpu_hart_set_pc(t->h, pc);
	stack_guest_start(t->v, n);
	sim_run(t->s);
	cr_assert_eq(stack_guest_state(t->v), STACK_VM_LIMIT);
}

static void tvm_free(struct tvm *t)
{
	sim_free(t->s);   /* the stack destroys its VMs */
}

/* What a run leaves behind; equal for every cpu.batch. */
struct outcome {
	uint64_t x[32];
	uint64_t pc, insns, cycles, traps, tlb_miss;
	struct cpu_cache_stats cache;
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
	o->tlb_miss = t->h->st.tlb_miss;
	o->cache = *t->vm->cst;
}

static void outcome_same(const struct outcome *a, const struct outcome *b, const char *what)
{
	for (unsigned i = 0; i < 32; i++)
		cr_assert_eq(a->x[i], b->x[i], "%s: x%u 0x%llx vs 0x%llx", what, i,
			     (unsigned long long)a->x[i], (unsigned long long)b->x[i]);
	cr_assert_eq(a->pc, b->pc, "%s: pc", what);
	cr_assert_eq(a->insns, b->insns, "%s: insns", what);
	cr_assert_eq(a->cycles, b->cycles, "%s: cycles %llu vs %llu", what,
		     (unsigned long long)a->cycles, (unsigned long long)b->cycles);
	cr_assert_eq(a->traps, b->traps, "%s: traps", what);
	cr_assert_eq(a->tlb_miss, b->tlb_miss, "%s: tlb.miss", what);
	cr_assert(!memcmp(&a->cache, &b->cache, sizeof(a->cache)), "%s: cache counters", what);
}

static const char *const modes[] = { "fast", "detailed" };
static const unsigned batches[] = { 2000, 1, 2, 3, 4, 5, 7 };
#define NBATCH (sizeof(batches) / sizeof(batches[0]))

/* ------------------------------------------------------------------ */
/* Sequential flow across a page boundary                              */
/* ------------------------------------------------------------------ */

/*
 * 0xff4 addi, 0xff8 addi, 0xffc addi (ends the page), 0x1000 c.addi,
 * 0x1002 addi, 0x1006 addi: six instructions, two fetch pages.
 */
static void load_seq(struct tvm *t)
{
	tvm_poke32(t, RAM + 0xff4, ADDI(5, 5, 1));
	tvm_poke32(t, RAM + 0xff8, ADDI(5, 5, 2));
	tvm_poke32(t, RAM + 0xffc, ADDI(5, 5, 4));
	tvm_poke16(t, RAM + 0x1000, C_ADDI(5, 8));
	tvm_poke32(t, RAM + 0x1002, ADDI(6, 5, 16));
	tvm_poke32(t, RAM + 0x1006, ADDI(7, 0, 3));
}

Test(cpu_loop, sequential_across_page_boundary)
{
	for (unsigned m = 0; m < 2; m++) {
		struct outcome first, o;

		for (unsigned b = 0; b < NBATCH; b++) {
			struct tvm t;

			tvm_new(&t, modes[m], batches[b], NULL);
			load_seq(&t);
			tvm_run(&t, RAM + 0xff4, 6);
			outcome_of(&t, &o);
			cr_assert_eq(o.x[5], 15, "%s batch %u", modes[m], batches[b]);
			cr_assert_eq(o.x[6], 31);
			cr_assert_eq(o.x[7], 3);
			cr_assert_eq(o.pc, RAM + 0x100a);
			cr_assert_eq(o.insns, 6);
			cr_assert_eq(o.tlb_miss, 2, "one fetch translation per page");
			if (b == 0)
				first = o;
			else
				outcome_same(&first, &o, modes[m]);
			tvm_free(&t);
		}
	}
}

/* Stopping right before, at and after the page boundary resumes correctly. */
Test(cpu_loop, limit_at_page_boundary)
{
	static const uint64_t expect_x5[] = { 0, 1, 3, 7, 15, 15, 15 };

	for (unsigned m = 0; m < 2; m++)
		for (uint64_t n = 1; n <= 6; n++) {
			struct tvm t;

			tvm_new(&t, modes[m], 2000, NULL);
			load_seq(&t);
			tvm_run(&t, RAM + 0xff4, n);
			cr_assert_eq(cpu_hart_reg(t.h, 5), expect_x5[n], "%s n=%llu", modes[m],
				     (unsigned long long)n);
			cr_assert_eq(cpu_hart_insns(t.h), n);
			cr_assert_eq(cpu_hart_pc(t.h), n <= 3 ? RAM + 0xff4 + 4 * n
						: n == 4 ? RAM + 0x1002 : RAM + 0x1002 + 4 * (n - 4));
			tvm_free(&t);
		}
}

/* ------------------------------------------------------------------ */
/* An instruction straddling two pages                                 */
/* ------------------------------------------------------------------ */

/*
 * 0x0ffe  addi x6, x6, 5   (straddles 0x0ffe..0x1001)
 * 0x1002  bne  x5, x0, +16 (second pass: to 0x1012)
 * 0x1006  sh   x2, 0(x1)   (x1 = 0x1000: rewrite the straddler's upper half)
 * 0x100a  addi x5, x0, 1
 * 0x100e  jal  x0, -16     (to 0x0ffe; no fence.i)
 * 0x1012  addi x7, x0, 9
 * The straddler is decoded at every execution, so the second pass adds
 * the new immediate (0x40) without a fence.i.
 */
Test(cpu_loop, straddling_instruction_is_decoded_every_time)
{
	uint32_t first = ADDI(6, 6, 5), second = ADDI(6, 6, 0x40);
	uint32_t code[] = { BNE(5, 0, 16), SH(2, 0, 1), ADDI(5, 0, 1), J(-16, 0), ADDI(7, 0, 9) };

	for (unsigned m = 0; m < 2; m++) {
		struct outcome ref, o;

		for (unsigned b = 0; b < NBATCH; b++) {
			struct tvm t;

			tvm_new(&t, modes[m], batches[b], NULL);
			tvm_poke32(&t, RAM + 0xffe, first);
			for (unsigned i = 0; i < 5; i++)
				tvm_poke32(&t, RAM + 0x1002 + 4 * i, code[i]);
			cpu_hart_set_reg(t.h, 1, RAM + 0x1000);
			cpu_hart_set_reg(t.h, 2, second >> 16);
			tvm_run(&t, RAM + 0xffe, 8);
			outcome_of(&t, &o);
			cr_assert_eq(o.x[6], 5 + 0x40, "%s batch %u: x6 = 0x%llx", modes[m], batches[b],
				     (unsigned long long)o.x[6]);
			cr_assert_eq(o.x[7], 9);
			cr_assert_eq(o.pc, RAM + 0x1016);
			cr_assert_eq(o.insns, 8);
			if (b == 0)
				ref = o;
			else
				outcome_same(&ref, &o, modes[m]);
			tvm_free(&t);
		}
	}
}

/* ------------------------------------------------------------------ */
/* fence.i and the decode cache                                        */
/* ------------------------------------------------------------------ */

/*
 * 0x00  addi x3, x3, 1      (decoded on the first pass)
 * 0x04  sw   x2, 0(x1)      (x1 = RAM: overwrite it with addi x3, x3, 16)
 * 0x08  fence.i or nop
 * 0x0c  bne  x4, x0, +12    (second pass: to 0x18)
 * 0x10  addi x4, x0, 1
 * 0x14  jal  x0, -20        (to 0x00)
 * 0x18  addi x7, x0, 1
 */
static void fence_case(bool fence, uint64_t expect_x3)
{
	uint32_t code[] = { ADDI(3, 3, 1), SW(2, 0, 1), fence ? FENCE_I : NOP, BNE(4, 0, 12),
			    ADDI(4, 0, 1), J(-20, 0), ADDI(7, 0, 1) };

	for (unsigned m = 0; m < 2; m++) {
		struct outcome ref, o;

		for (unsigned b = 0; b < NBATCH; b++) {
			struct tvm t;

			tvm_new(&t, modes[m], batches[b], NULL);
			for (unsigned i = 0; i < 7; i++)
				tvm_poke32(&t, RAM + 4 * i, code[i]);
			cpu_hart_set_reg(t.h, 1, RAM);
			cpu_hart_set_reg(t.h, 2, ADDI(3, 3, 16));
			tvm_run(&t, RAM, 11);
			outcome_of(&t, &o);
			cr_assert_eq(o.x[3], expect_x3, "%s batch %u fence %d: x3 = %llu", modes[m],
				     batches[b], fence, (unsigned long long)o.x[3]);
			cr_assert_eq(o.x[7], 1);
			cr_assert_eq(o.pc, RAM + 0x1c);
			cr_assert_eq(t.h->st.dcache_flush, fence ? 2 : 0, "fence.i runs twice");
			if (b == 0)
				ref = o;
			else
				outcome_same(&ref, &o, modes[m]);
			tvm_free(&t);
		}
	}
}

Test(cpu_loop, fence_i_makes_a_code_store_visible)
{
	fence_case(true, 1 + 16);
}

/* Documented choice (docs/cpu.md): stale decoded code runs until fence.i. */
Test(cpu_loop, without_fence_i_the_decoded_copy_runs)
{
	fence_case(false, 1 + 1);
}

/* ------------------------------------------------------------------ */
/* Detailed mode: L1D counts against a reference true-LRU model        */
/* ------------------------------------------------------------------ */

#define REF_WAYS 2
#define REF_SETS 8      /* 1 KiB, 2 ways, 64-byte lines */
struct ref_cache {
	uint64_t tag[REF_SETS][REF_WAYS];
	uint64_t stamp[REF_SETS][REF_WAYS];
	uint64_t clock, hit, miss;
};

static void ref_access(struct ref_cache *c, uint64_t ln)
{
	unsigned s = (unsigned)(ln % REF_SETS), v = 0;

	for (unsigned w = 0; w < REF_WAYS; w++) {
		if (c->tag[s][w] == ln) {
			c->stamp[s][w] = ++c->clock;
			c->hit++;
			return;
		}
		if (c->stamp[s][w] < c->stamp[s][v])
			v = w;
	}
	c->miss++;
	c->tag[s][v] = ln;
	c->stamp[s][v] = ++c->clock;
}

/*
 * Loads from lines that all map to one set of a 2-way L1D (stride 512
 * bytes), in an order that evicts and re-fetches, interleaved with
 * repeated loads of one line: the hinted slot of a line is often stale.
 * The counts must equal the reference model's, VMSA save at the end
 * (7 lines written through the L1D at the #VMEXIT) included.
 */
Test(cpu_loop, l1d_counts_match_reference_lru)
{
	static const char *const small_l1d[] = { "cache.l1d.size", "1k", "cache.l1d.ways", "2", NULL };
	static const int16_t offs[] = { 0, 512, 0, 1024, 512, 0, 1024, 1024, 1536, 8, 520, 1032,
					0, 0, 512, 1536, 1024, 16, 1544, 8 };
	const unsigned n = sizeof(offs) / sizeof(offs[0]);
	struct outcome ref_o, o;

	for (unsigned b = 0; b < NBATCH; b++) {
		struct ref_cache rc;
		struct tvm t;
		uint64_t base = RAM + 0x10000;

		memset(&rc, 0, sizeof(rc));
		memset(rc.tag, 0xff, sizeof(rc.tag));
		tvm_new(&t, "detailed", batches[b], small_l1d);
		for (unsigned i = 0; i < n; i++) {
			tvm_poke32(&t, RAM + 4 * i, LD(3, offs[i], 1));
			ref_access(&rc, (base + (uint64_t)offs[i]) >> 6);
		}
		cpu_hart_set_reg(t.h, 1, base);
		tvm_run(&t, RAM, n);
		for (unsigned l = 0; l < 7; l++)    /* 424-byte VMSA save at the exit */
			ref_access(&rc, (t.v->guest->vcpu[0].vmcb.vmsa_spa >> 6) + l);
		outcome_of(&t, &o);
		cr_assert_eq(o.cache.hit[1], rc.hit, "batch %u: l1d hits %llu, reference %llu",
			     batches[b], (unsigned long long)o.cache.hit[1],
			     (unsigned long long)rc.hit);
		cr_assert_eq(o.cache.miss[1], rc.miss, "batch %u: l1d misses %llu, reference %llu",
			     batches[b], (unsigned long long)o.cache.miss[1],
			     (unsigned long long)rc.miss);
		if (b == 0)
			ref_o = o;
		else
			outcome_same(&ref_o, &o, "detailed");
		tvm_free(&t);
	}
}
