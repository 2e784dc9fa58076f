/*
 * test_cpu.c - the RV64 core on a real machine (engine + RMP + stage 2):
 * per-instruction results (table-driven), loads/stores/AMOs, branches,
 * CSRs and traps (delegation, xRET, privilege, interrupts), misaligned
 * accesses, stage-2 exits, Sv39 with CR0.WP / CR4.SMEP / CR4.SMAP,
 * CR write intercepts, and the cycle counts of fast and detailed mode.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include "cpu/cpu_int.h"
#include "cpu/cpu_prot.h"
#include "tests/guest_vm.h"

#include "tests/rv_enc.h"

/* ---- a machine with one VM ---- */
struct tvm {
	struct sim *s;
	struct stack_vm *v;      /* the VM, as the stack keeps it */
	struct cpu_vm *vm;       /* its guest platform */
	struct cpu_hart *h;
};

static void tvm_new(struct tvm *t, const char *const *sets)
{
	struct sim_err err;

	t->s = sim_new(stack_modules);
	cr_assert(!sim_cfg_set(t->s, "vm.mem_size", "2m", "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_cfg_set(t->s, "vm.type", "bare", "test", 0, &err), "%s", err.msg);
	for (; sets && *sets; sets += 2)
		cr_assert(!sim_cfg_set(t->s, sets[0], sets[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(t->s, &err), "%s", err.msg);
	t->v = tg_vm_new(t->s, NULL, &err);
	cr_assert(t->v, "%s", err.msg);
	t->vm = stack_guest_cpu(t->v);
	t->h = cpu_vm_hart(t->vm, 0);
	t->h->mtvec = RAM + 0x800;   /* trap handler address (its code is never run) */
}

static void tvm_code(struct tvm *t, uint64_t gpa, const uint32_t *code, size_t n)
{
	sim_mem_poke(sim_mem(t->s), gpa, code, n * 4);
}

/* Run @n instructions (retired + traps) from the current pc. */
static void tvm_run(struct tvm *t, uint64_t n)
{
	stack_guest_start(t->v, n);
	sim_run(t->s);
}

static void tvm_free(struct tvm *t)
{
	sim_free(t->s);   /* the stack destroys its VMs */
}

/* ------------------------------------------------------------------ */
/* ALU instructions: x3 = op(x1, x2), one instruction                   */
/* ------------------------------------------------------------------ */

struct alu_case {
	char name[24];
	uint32_t insn;      /* 32-bit, or 16-bit in the low half when (insn & 3) != 3 */
	uint64_t a, b;      /* x1, x2 (compressed cases use x8/x9: see below) */
	uint64_t expect;    /* x3 (compressed: x8) */
};

#define OP(f7, f3) R(f7, 2, 1, f3, 3, 0x33)
#define OPW(f7, f3) R(f7, 2, 1, f3, 3, 0x3b)
#define OPI(f3, imm) I(imm, 1, f3, 3, 0x13)
#define M64 0xffffffffffffffffull
static struct alu_case alu_cases[] = {
	{ "add",      OP(0, 0), 5, 7, 12 },
	{ "add wrap", OP(0, 0), M64, 2, 1 },
	{ "sub",      OP(0x20, 0), 5, 7, (uint64_t)-2 },
	{ "sll",      OP(0, 1), 1, 65, 2 },                 /* shift amount mod 64 */
	{ "slt",      OP(0, 2), (uint64_t)-1, 0, 1 },
	{ "sltu",     OP(0, 3), (uint64_t)-1, 0, 0 },
	{ "xor",      OP(0, 4), 0xf0, 0xff, 0x0f },
	{ "srl",      OP(0, 5), 0x8000000000000000ull, 63, 1 },
	{ "sra",      OP(0x20, 5), 0x8000000000000000ull, 63, M64 },
	{ "or",       OP(0, 6), 0xf0, 0x0f, 0xff },
	{ "and",      OP(0, 7), 0xf0, 0x3c, 0x30 },
	{ "addi -1",  OPI(0, -1), 0, 0, M64 },
	{ "slti",     OPI(2, 5), 4, 0, 1 },
	{ "sltiu -1", OPI(3, -1), 5, 0, 1 },                /* imm sign-extends, compares unsigned */
	{ "xori -1",  OPI(4, -1), 0x0f, 0, ~0x0full },
	{ "ori",      OPI(6, 0x100), 1, 0, 0x101 },
	{ "andi",     OPI(7, 0xff), 0x1234, 0, 0x34 },
	{ "slli 63",  OPI(1, 63), 1, 0, 0x8000000000000000ull },
	{ "srli 4",   OPI(5, 4), 0xf0, 0, 0x0f },
	{ "srai 4",   OPI(5, 0x404), 0x8000000000000000ull, 0, 0xf800000000000000ull },
	{ "addw",     OPW(0, 0), 0x7fffffff, 1, 0xffffffff80000000ull },
	{ "subw",     OPW(0x20, 0), 0, 1, M64 },
	{ "sllw",     OPW(0, 1), 1, 31, 0xffffffff80000000ull },
	{ "srlw",     OPW(0, 5), 0xffffffff80000000ull, 31, 1 },
	{ "sraw",     OPW(0x20, 5), 0x80000000, 31, M64 },
	{ "addiw",    I(1, 1, 0, 3, 0x1b), 0xffffffff, 0, 0 },
	{ "slliw",    I(31, 1, 1, 3, 0x1b), 1, 0, 0xffffffff80000000ull },
	{ "srliw",    I(4, 1, 5, 3, 0x1b), 0xfffffff0, 0, 0x0fffffff },
	{ "sraiw",    I(0x404, 1, 5, 3, 0x1b), 0x80000000, 0, 0xfffffffff8000000ull },
	{ "lui",      0x123451b7, 0, 0, 0x12345000 },
	{ "lui neg",  0x800001b7, 0, 0, 0xffffffff80000000ull },
	{ "auipc",    0x00001197, 0, 0, RAM + 0x1000 },
	{ "mul",      OP(1, 0), 7, (uint64_t)-3, (uint64_t)-21 },
	{ "mulh",     OP(1, 1), (uint64_t)-1, (uint64_t)-1, 0 },
	{ "mulh big", OP(1, 1), 0x4000000000000000ull, 4, 1 },
	{ "mulhsu",   OP(1, 2), (uint64_t)-1, M64, M64 },
	{ "mulhu",    OP(1, 3), M64, M64, M64 - 1 },
	{ "div",      OP(1, 4), (uint64_t)-7, 2, (uint64_t)-3 },
	{ "div by 0", OP(1, 4), 5, 0, M64 },
	{ "div ovfl", OP(1, 4), 0x8000000000000000ull, M64, 0x8000000000000000ull },
	{ "divu",     OP(1, 5), M64, 2, 0x7fffffffffffffffull },
	{ "divu by 0", OP(1, 5), 5, 0, M64 },
	{ "rem",      OP(1, 6), (uint64_t)-7, 2, M64 },
	{ "rem by 0", OP(1, 6), 5, 0, 5 },
	{ "rem ovfl", OP(1, 6), 0x8000000000000000ull, M64, 0 },
	{ "remu",     OP(1, 7), 7, 4, 3 },
	{ "mulw",     OPW(1, 0), 0x10000, 0x10000, 0 },
	{ "divw",     OPW(1, 4), 0xfffffff9, 2, (uint64_t)-3 },
	{ "divw ovfl", OPW(1, 4), 0x80000000, 0xffffffff, 0xffffffff80000000ull },
	{ "divuw",    OPW(1, 5), 0xffffffff, 2, 0x7fffffff },
	{ "divuw 0",  OPW(1, 5), 3, 0, M64 },
	{ "remw",     OPW(1, 6), 0xfffffff9, 2, M64 },
	{ "remuw 0",  OPW(1, 7), 0x80000003, 0, 0xffffffff80000003ull },
	/* compressed: x8 = op(x8, x9) */
	{ "c.add",    0x9426, 5, 7, 12 },          /* c.add x8,x9 */
	{ "c.sub",    0x8c05, 5, 7, (uint64_t)-2 },
	{ "c.addw",   0x9c25, 0x7fffffff, 1, 0xffffffff80000000ull },
	{ "c.addi",   0x147d, 5, 0, 4 },           /* c.addi x8,-1 */
	{ "c.li",     0x5401, 0, 0, (uint64_t)-32 },/* c.li x8,-32 */
	{ "c.slli",   0x040e, 1, 0, 8 },           /* c.slli x8,3 */
	{ "c.srai",   0x947d, 0x8000000000000000ull, 0, M64 },
	{ "c.andi",   0x987d, 0x55, 0, 0x55 },
	{ "c.mv",     0x8426, 0, 9, 9 },           /* c.mv x8,x9 */
};

ParameterizedTestParameters(cpu, alu)
{
	return cr_make_param_array(struct alu_case, alu_cases, sizeof(alu_cases) / sizeof(alu_cases[0]));
}

ParameterizedTest(struct alu_case *c, cpu, alu)
{
	struct tvm t;
	bool rvc = (c->insn & 3) != 3;
	unsigned ra = rvc ? 8 : 1, rb = rvc ? 9 : 2, rd = rvc ? 8 : 3;

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, &c->insn, 1);
	cpu_hart_set_reg(t.h, ra, c->a);
	cpu_hart_set_reg(t.h, rb, c->b);
	tvm_run(&t, 1);
	cr_assert_eq(cpu_hart_reg(t.h, rd), c->expect, "%s: x%u = 0x%llx", c->name, rd,
		     (unsigned long long)cpu_hart_reg(t.h, rd));
	cr_assert_eq(cpu_hart_pc(t.h), RAM + (rvc ? 2 : 4));
	cr_assert_eq(cpu_hart_insns(t.h), 1);
	if (!rvc && rd != ra)
		cr_assert_eq(cpu_hart_reg(t.h, ra), c->a, "source register changed");
	tvm_free(&t);
}

Test(cpu, x0_stays_zero)
{
	struct tvm t;
	uint32_t code[] = { ADDI(0, 0, 5), R(0, 0, 0, 0, 3, 0x33) };   /* addi x0,x0,5; add x3,x0,x0 */

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 2);
	cpu_hart_set_reg(t.h, 3, 99);
	tvm_run(&t, 2);
	cr_assert_eq(cpu_hart_reg(t.h, 0), 0);
	cr_assert_eq(cpu_hart_reg(t.h, 3), 0);
	tvm_free(&t);
}

/* ------------------------------------------------------------------ */
/* Loads, stores, AMOs                                                 */
/* ------------------------------------------------------------------ */

struct mem_case {
	char name[24];
	uint32_t insn;      /* uses x1 = address, x2 = operand, x3 = result */
	uint64_t init;      /* 8 bytes at the address */
	uint64_t x2;
	uint64_t expect_x3;
	uint64_t expect_mem;
};

#define AMO(f5, f3) R((f5) << 2, 2, 1, f3, 3, 0x2f)
static struct mem_case mem_cases[] = {
	{ "lb",  I(0, 1, 0, 3, 3), 0x80, 0, M64 - 0x7f, 0x80 },
	{ "lbu", I(0, 1, 4, 3, 3), 0x80, 0, 0x80, 0x80 },
	{ "lh",  I(0, 1, 1, 3, 3), 0x8001, 0, 0xffffffffffff8001ull, 0x8001 },
	{ "lhu", I(0, 1, 5, 3, 3), 0x8001, 0, 0x8001, 0x8001 },
	{ "lw",  I(0, 1, 2, 3, 3), 0x80000000, 0, 0xffffffff80000000ull, 0x80000000 },
	{ "lwu", I(0, 1, 6, 3, 3), 0x80000000, 0, 0x80000000, 0x80000000 },
	{ "ld",  I(0, 1, 3, 3, 3), 0x0123456789abcdefull, 0, 0x0123456789abcdefull, 0x0123456789abcdefull },
	{ "sb",  S(0, 2, 1, 0), M64, 0x12, 0, 0xffffffffffffff12ull },
	{ "sh",  S(0, 2, 1, 1), M64, 0x1234, 0, 0xffffffffffff1234ull },
	{ "sw",  S(0, 2, 1, 2), M64, 0x12345678, 0, 0xffffffff12345678ull },
	{ "sd",  S(0, 2, 1, 3), 0, 0x1122334455667788ull, 0, 0x1122334455667788ull },
	{ "amoswap.w", AMO(1, 2), 0x11111111fffffffeull, 5, 0xfffffffffffffffeull, 0x1111111100000005ull },
	{ "amoadd.w",  AMO(0, 2), 0x7fffffff, 1, 0x7fffffff, 0x80000000 },
	{ "amoxor.d",  AMO(4, 3), 0xff, 0x0f, 0xff, 0xf0 },
	{ "amoand.d",  AMO(12, 3), 0xff, 0x0f, 0xff, 0x0f },
	{ "amoor.d",   AMO(8, 3), 0xf0, 0x0f, 0xf0, 0xff },
	{ "amomin.w",  AMO(16, 2), 5, 0xffffffff, 5, 0xffffffff },
	{ "amomax.d",  AMO(20, 3), 5, M64, 5, 5 },
	{ "amominu.d", AMO(24, 3), 5, M64, 5, 5 },
	{ "amomaxu.w", AMO(28, 2), 5, 0xffffffff, 5, 0xffffffff },
	{ "lr.d",      R(0x08, 0, 1, 3, 3, 0x2f), 42, 0, 42, 42 },
	{ "sc.d no reservation", R(0x0c, 2, 1, 3, 3, 0x2f), 42, 7, 1, 42 },
};

ParameterizedTestParameters(cpu, mem)
{
	return cr_make_param_array(struct mem_case, mem_cases, sizeof(mem_cases) / sizeof(mem_cases[0]));
}

ParameterizedTest(struct mem_case *c, cpu, mem)
{
	struct tvm t;
	uint64_t addr = RAM + 0x1000;

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, &c->insn, 1);
	sim_mem_poke64(sim_mem(t.s), addr, c->init);
	cpu_hart_set_reg(t.h, 1, addr);
	cpu_hart_set_reg(t.h, 2, c->x2);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, 0, "%s trapped", c->name);
	cr_assert_eq(cpu_hart_reg(t.h, 3), c->expect_x3, "%s: x3 = 0x%llx", c->name,
		     (unsigned long long)cpu_hart_reg(t.h, 3));
	cr_assert_eq(sim_mem_peek64(sim_mem(t.s), addr), c->expect_mem, "%s: mem = 0x%llx", c->name,
		     (unsigned long long)sim_mem_peek64(sim_mem(t.s), addr));
	tvm_free(&t);
}

Test(cpu, lr_sc_pair_succeeds)
{
	struct tvm t;
	uint32_t code[] = { R(0x08, 0, 1, 3, 3, 0x2f), R(0x0c, 2, 1, 3, 4, 0x2f) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 2);
	sim_mem_poke64(sim_mem(t.s), RAM + 0x1000, 1);
	cpu_hart_set_reg(t.h, 1, RAM + 0x1000);
	cpu_hart_set_reg(t.h, 2, 9);
	tvm_run(&t, 2);
	cr_assert_eq(cpu_hart_reg(t.h, 3), 1);
	cr_assert_eq(cpu_hart_reg(t.h, 4), 0, "sc.d must succeed");
	cr_assert_eq(sim_mem_peek64(sim_mem(t.s), RAM + 0x1000), 9);
	tvm_free(&t);
}

Test(cpu, misaligned_load_store_across_pages)
{
	struct tvm t;
	uint32_t code[] = { SD(2, 0, 1), LD(3, 0, 1) };
	uint64_t a = RAM + 0x1ffd;

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 2);
	cpu_hart_set_reg(t.h, 1, a);
	cpu_hart_set_reg(t.h, 2, 0x0807060504030201ull);
	tvm_run(&t, 2);
	cr_assert_eq(t.h->mcause, 0);
	cr_assert_eq(cpu_hart_reg(t.h, 3), 0x0807060504030201ull);
	cr_assert_eq(sim_mem_peek64(sim_mem(t.s), RAM + 0x2000), 0x0807060504ull);
	tvm_free(&t);
}

Test(cpu, misaligned_amo_faults)
{
	struct tvm t;
	uint32_t code[] = { AMO(0, 3) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	cpu_hart_set_reg(t.h, 1, RAM + 0x1004);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_MISALIGNED_STORE);
	cr_assert_eq(t.h->mtval, RAM + 0x1004);
	cr_assert_eq(t.h->mepc, RAM);
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 0x800);
	cr_assert_eq(cpu_hart_insns(t.h), 0, "a trapping instruction does not retire");
	tvm_free(&t);
}

/* ------------------------------------------------------------------ */
/* Control flow                                                        */
/* ------------------------------------------------------------------ */

struct br_case {
	char name[16];
	uint32_t insn;
	uint64_t a, b;
	uint64_t expect_pc;
	uint64_t expect_x3;
};

static struct br_case br_cases[] = {
	{ "beq taken",   B(16, 2, 1, 0), 3, 3, RAM + 16, 0 },
	{ "beq not",     B(16, 2, 1, 0), 3, 4, RAM + 4, 0 },
	{ "bne taken",   B(-8, 2, 1, 1), 3, 4, RAM - 8, 0 },
	{ "blt signed",  B(8, 2, 1, 4), (uint64_t)-1, 0, RAM + 8, 0 },
	{ "bge not",     B(8, 2, 1, 5), (uint64_t)-1, 0, RAM + 4, 0 },
	{ "bltu",        B(8, 2, 1, 6), 0, (uint64_t)-1, RAM + 8, 0 },
	{ "bgeu",        B(8, 2, 1, 7), (uint64_t)-1, 0, RAM + 8, 0 },
	{ "jal",         0x010001ef, 0, 0, RAM + 16, RAM + 4 },           /* jal x3,16 */
	{ "jalr clr b0", I(5, 1, 0, 3, 0x67), RAM + 0x100, 0, RAM + 0x104, RAM + 4 },
	{ "c.j",         0xa011, 0, 0, RAM + 4, 0 },                       /* c.j +4 */
	{ "c.beqz",      0xc011, 0, 0, RAM + 4, 0 },                       /* x8 = 0: taken */
};

ParameterizedTestParameters(cpu, branch)
{
	return cr_make_param_array(struct br_case, br_cases, sizeof(br_cases) / sizeof(br_cases[0]));
}

ParameterizedTest(struct br_case *c, cpu, branch)
{
	struct tvm t;

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, &c->insn, 1);
	t.h->pc = RAM;
	cpu_hart_set_reg(t.h, 1, c->a);
	cpu_hart_set_reg(t.h, 2, c->b);
	tvm_run(&t, 1);
	cr_assert_eq(cpu_hart_pc(t.h), c->expect_pc, "%s: pc 0x%llx", c->name,
		     (unsigned long long)cpu_hart_pc(t.h));
	cr_assert_eq(cpu_hart_reg(t.h, 3), c->expect_x3, "%s", c->name);
	tvm_free(&t);
}

/* ------------------------------------------------------------------ */
/* Traps, CSRs, privilege                                              */
/* ------------------------------------------------------------------ */

Test(cpu, ecall_from_m)
{
	struct tvm t;
	uint32_t code[] = { ECALL };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	t.h->mstatus = MSTATUS_MIE;
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_ECALL_M);
	cr_assert_eq(t.h->mepc, RAM);
	cr_assert_eq(t.h->mtval, 0);
	cr_assert_eq(t.h->priv, RV_PRIV_M);
	cr_assert_eq(t.h->mstatus & (MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP),
		     MSTATUS_MPIE | MSTATUS_MPP, "MIE stacked into MPIE, MPP = M");
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 0x800);
	tvm_free(&t);
}

Test(cpu, ecall_from_u_delegated_to_s)
{
	struct tvm t;
	uint32_t code[] = { ECALL };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	t.h->priv = RV_PRIV_U;
	t.h->medeleg = 1u << RV_CAUSE_ECALL_U;
	t.h->stvec = RAM + 0x400;
	t.h->mstatus = MSTATUS_SIE;
	rv_update_modes(t.h);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->scause, RV_CAUSE_ECALL_U);
	cr_assert_eq(t.h->sepc, RAM);
	cr_assert_eq(t.h->mcause, 0, "not taken in M");
	cr_assert_eq(t.h->priv, RV_PRIV_S);
	cr_assert_eq(t.h->mstatus & (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP), MSTATUS_SPIE);
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 0x400);
	tvm_free(&t);
}

Test(cpu, illegal_instruction_tval)
{
	struct tvm t;
	uint32_t code[] = { 0xffffffffu };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL);
	cr_assert_eq(t.h->mtval, 0xffffffffu);
	tvm_free(&t);
}

Test(cpu, compressed_illegal_tval_is_16_bits)
{
	struct tvm t;
	uint32_t code[] = { 0x00010000u };   /* 0x0000 (illegal) then c.nop */

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL);
	cr_assert_eq(t.h->mtval, 0);
	tvm_free(&t);
}

Test(cpu, mret_to_s)
{
	struct tvm t;
	uint32_t code[] = { MRET };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	t.h->mepc = RAM + 0x100;
	t.h->mstatus = MSTATUS_MPIE | (1ull << 11) | MSTATUS_MPRV;
	tvm_run(&t, 1);
	cr_assert_eq(t.h->priv, RV_PRIV_S);
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 0x100);
	cr_assert_eq(t.h->mstatus, MSTATUS_MIE | MSTATUS_MPIE, "MIE=MPIE, MPIE=1, MPP=U, MPRV=0");
	tvm_free(&t);
}

Test(cpu, sret_trapped_by_tsr)
{
	struct tvm t;
	uint32_t code[] = { SRET };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	t.h->priv = RV_PRIV_S;
	t.h->mstatus = MSTATUS_TSR;
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL);
	cr_assert_eq(t.h->mtval, SRET);
	tvm_free(&t);
}

struct csr_case {
	char name[32];
	unsigned priv;
	uint32_t insn;        /* x3 = result */
	uint64_t x1;
	bool illegal;
	uint64_t expect_x3;
};

static struct csr_case csr_cases[] = {
	{ "misa",              RV_PRIV_M, CSRRS(3, 0x301, 0), 0, false, 0x8000000000141105ull },
	{ "mhartid",           RV_PRIV_M, CSRRS(3, 0xf14, 0), 0, false, 0 },
	{ "mstatus SXL/UXL",   RV_PRIV_M, CSRRS(3, 0x300, 0), 0, false, 0xa00000000ull },
	{ "write mhartid",     RV_PRIV_M, CSRRW(3, 0xf14, 1), 5, true, 0 },
	{ "mscratch from S",   RV_PRIV_S, CSRRS(3, 0x340, 0), 0, true, 0 },
	{ "sscratch from U",   RV_PRIV_U, CSRRS(3, 0x140, 0), 0, true, 0 },
	{ "cycle from U, no en", RV_PRIV_U, CSRRS(3, 0xc00, 0), 0, true, 0 },
	{ "unknown csr",       RV_PRIV_M, CSRRS(3, 0x7ff, 0), 0, true, 0 },
	{ "mscratch swap",     RV_PRIV_M, CSRRW(3, 0x340, 1), 7, false, 0 },
	{ "cr0 reset",         RV_PRIV_S, CSRRS(3, 0x5c0, 0), 0, false, 0x80010011 },
	{ "cr4 reset",         RV_PRIV_M, CSRRS(3, 0x5c4, 0), 0, false, 0x300000 },
	{ "cr0 from U",        RV_PRIV_U, CSRRS(3, 0x5c0, 0), 0, true, 0 },
	{ "vmpl (bare VM)",    RV_PRIV_S, CSRRS(3, 0xdc1, 0), 0, false, 0 },
	{ "sev_status (bare)", RV_PRIV_S, CSRRS(3, 0xdc2, 0), 0, false, 0 },
	{ "write vc_code (ro)", RV_PRIV_S, CSRRW(3, 0xdc0, 1), 1, true, 0 },
	{ "pmpcfg1 (odd: none)", RV_PRIV_M, CSRRS(3, 0x3a1, 0), 0, true, 0 },
	{ "mhpmcounter3 = 0",  RV_PRIV_M, CSRRS(3, 0xb03, 0), 0, false, 0 },
};

ParameterizedTestParameters(cpu, csr)
{
	return cr_make_param_array(struct csr_case, csr_cases, sizeof(csr_cases) / sizeof(csr_cases[0]));
}

ParameterizedTest(struct csr_case *c, cpu, csr)
{
	struct tvm t;

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, &c->insn, 1);
	t.h->priv = c->priv;
	rv_update_modes(t.h);
	cpu_hart_set_reg(t.h, 1, c->x1);
	cpu_hart_set_reg(t.h, 3, 0xabc);
	tvm_run(&t, 1);
	if (c->illegal) {
		cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL, "%s", c->name);
		cr_assert_eq(t.h->mtval, c->insn);
		cr_assert_eq(cpu_hart_reg(t.h, 3), 0xabc, "%s: rd unchanged", c->name);
	} else {
		cr_assert_eq(t.h->mcause, 0, "%s trapped", c->name);
		cr_assert_eq(cpu_hart_reg(t.h, 3), c->expect_x3, "%s: 0x%llx", c->name,
			     (unsigned long long)cpu_hart_reg(t.h, 3));
	}
	tvm_free(&t);
}

/*
 * The debug trigger registers with no trigger (RISC-V External Debug
 * Support, "Trigger Module"): tselect, tdata1..3 read 0, tinfo reads 1
 * (the selected trigger does not exist), writes are ignored; M mode only.
 * Each case writes x1 (csrrw x3) and reads back (csrrs x4).
 */
struct trig_case {
	char name[24];
	unsigned csr;
	unsigned priv;
	uint64_t x1;
	uint64_t expect;     /* read value in M mode (before and after the write) */
};

#define MCONTROL_EXEC_M ((2ull << 60) | (1u << 6) | (1u << 2))   /* type 2, M, execute */
static struct trig_case trig_cases[] = {
	{ "tselect M 0",      0x7a0, RV_PRIV_M, 0, 0 },
	{ "tselect M 1",      0x7a0, RV_PRIV_M, 1, 0 },
	{ "tselect M ~0",     0x7a0, RV_PRIV_M, M64, 0 },
	{ "tdata1 M mcontrol", 0x7a1, RV_PRIV_M, MCONTROL_EXEC_M, 0 },
	{ "tdata1 M ~0",      0x7a1, RV_PRIV_M, M64, 0 },
	{ "tdata2 M",         0x7a2, RV_PRIV_M, RAM + 0x40, 0 },
	{ "tdata3 M",         0x7a3, RV_PRIV_M, 0x1234, 0 },
	{ "tinfo M",          0x7a4, RV_PRIV_M, 0x4, 1 },
	{ "tselect S",        0x7a0, RV_PRIV_S, 0, 0 },
	{ "tdata1 S",         0x7a1, RV_PRIV_S, 0, 0 },
	{ "tdata2 S",         0x7a2, RV_PRIV_S, 0, 0 },
	{ "tdata3 S",         0x7a3, RV_PRIV_S, 0, 0 },
	{ "tinfo S",          0x7a4, RV_PRIV_S, 0, 0 },
	{ "tselect U",        0x7a0, RV_PRIV_U, 0, 0 },
	{ "tdata1 U",         0x7a1, RV_PRIV_U, 0, 0 },
	{ "tdata2 U",         0x7a2, RV_PRIV_U, 0, 0 },
	{ "tdata3 U",         0x7a3, RV_PRIV_U, 0, 0 },
	{ "tinfo U",          0x7a4, RV_PRIV_U, 0, 0 },
};

ParameterizedTestParameters(cpu, trigger_csr)
{
	return cr_make_param_array(struct trig_case, trig_cases, sizeof(trig_cases) / sizeof(trig_cases[0]));
}

ParameterizedTest(struct trig_case *c, cpu, trigger_csr)
{
	struct tvm t;
	uint32_t code[] = { CSRRW(3, c->csr, 1), CSRRS(4, c->csr, 0), CSRRS(5, c->csr, 0) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 3);
	t.h->priv = c->priv;
	rv_update_modes(t.h);
	cpu_hart_set_reg(t.h, 1, c->x1);
	cpu_hart_set_reg(t.h, 3, 0xabc);
	cpu_hart_set_reg(t.h, 4, 0xabc);
	tvm_run(&t, c->priv == RV_PRIV_M ? 3 : 1);
	if (c->priv != RV_PRIV_M) {
		cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL, "%s", c->name);
		cr_assert_eq(t.h->mtval, code[0], "%s", c->name);
		cr_assert_eq(t.h->mepc, RAM);
		cr_assert_eq(cpu_hart_reg(t.h, 3), 0xabc, "%s: rd unchanged", c->name);
	} else {
		cr_assert_eq(t.h->mcause, 0, "%s trapped", c->name);
		cr_assert_eq(cpu_hart_reg(t.h, 3), c->expect, "%s: old value 0x%llx", c->name,
			     (unsigned long long)cpu_hart_reg(t.h, 3));
		cr_assert_eq(cpu_hart_reg(t.h, 4), c->expect, "%s: the write is ignored", c->name);
		cr_assert_eq(cpu_hart_pc(t.h), RAM + 12);
	}
	tvm_free(&t);
}

#define AUIPC(rd, imm20) ((uint32_t)(imm20) << 12 | (uint32_t)(rd) << 7 | 0x17)
#define SRLI(rd, rs1, sh) I(sh, rs1, 5, rd, 0x13)
#define BEQ(rs1, rs2, off) B(off, rs2, rs1, 0)

/*
 * What riscv-tests rv64mi-p-breakpoint does before it relies on a
 * trigger: csrs tcontrol (optional: a trap is allowed, mtvec points past
 * it), csrw tselect, x0 and read it back (not 0: no triggers, pass);
 * tdata2 = an address; tdata1 = an mcontrol (type 2) execute breakpoint
 * and read it back (not that value: unsupported, skip).  The test also
 * reads tinfo (1: no trigger) and tdata1's type (0).  Pass writes 1 to
 * tohost (exit code 0); a failed check writes (n << 1) | 1.
 */
Test(cpu, breakpoint_test_without_triggers_passes)
{
	struct tvm t;
	uint64_t tohost = RAM + 0x3000;
	enum { A0 = 10, A1 = 11, A2 = 12, T0 = 5, T1 = 6 };
	uint32_t code[] = {
		/* 0x00 */ AUIPC(T0, 0x3),                 /* t0 = tohost */
		/* 0x04 */ AUIPC(A0, 0), ADDI(A0, A0, 0x10), /* a0 = 0x14 (after the csrs) */
		/* 0x0c */ CSRRW(A0, 0x305, A0),           /* mtvec <-> a0 */
		/* 0x10 */ I(0x7a5, 11, 2, 0, 0x73),       /* csrs tcontrol, a1: traps (illegal) */
		/* 0x14 */ CSRRW(0, 0x305, A0),            /* restore mtvec */
		/* 0x18 */ CSRRW(0, 0x7a0, 0),             /* csrw tselect, x0 */
		/* 0x1c */ CSRRS(A1, 0x7a0, 0),            /* csrr a1, tselect */
		/* 0x20 */ BNE(0, A1, 0x38),               /* bne x0, a1, pass (0x58) */
		/* 0x24 */ CSRRS(A0, 0x7a1, 0),            /* csrr a0, tdata1 */
		/* 0x28 */ SRLI(A0, A0, 60),               /* type */
		/* 0x2c */ BNE(A0, 0, 0x34),               /* type != 0: fail 2 (0x60) */
		/* 0x30 */ CSRRS(A0, 0x7a4, 0),            /* csrr a0, tinfo */
		/* 0x34 */ ADDI(A1, 0, 1),
		/* 0x38 */ BNE(A0, A1, 0x38),              /* tinfo != 1: fail 3 (0x70) */
		/* 0x3c */ CSRRW(0, 0x7a2, T0),            /* csrw tdata2, t0 */
		/* 0x40 */ CSRRW(0, 0x7a1, T1),            /* csrw tdata1, t1 (mcontrol) */
		/* 0x44 */ CSRRS(A1, 0x7a1, 0),            /* csrr a1, tdata1 */
		/* 0x48 */ BEQ(T1, A1, 0x20),              /* accepted: fail 4 (0x68) */
		/* 0x4c */ NOP, NOP, NOP,
		/* 0x58 */ ADDI(A0, 0, 1),                 /* pass */
		/* 0x5c */ J(0x18, 0),                     /* -> 0x74 */
		/* 0x60 */ ADDI(A0, 0, 5), J(0x10, 0),     /* fail 2 */
		/* 0x68 */ ADDI(A0, 0, 9), J(0x08, 0),     /* fail 4 */
		/* 0x70 */ ADDI(A0, 0, 7),                 /* fail 3 */
		/* 0x74 */ SD(A0, 0, T0), J(0, 0),
	};

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, sizeof(code) / 4);
	cr_assert(!stack_guest_set_htif(t.v, tohost, 0, NULL));
	t.h->mtvec = RAM + 0x70;   /* any other trap: fail 3 */
	cpu_hart_set_reg(t.h, A1, 0x8);
	cpu_hart_set_reg(t.h, T1, MCONTROL_EXEC_M);
	tvm_run(&t, 200);
	cr_assert_eq(stack_guest_state(t.v), STACK_VM_EXITED);
	cr_assert_eq(stack_guest_exit_code(t.v), 0, "failed check %d", stack_guest_exit_code(t.v));
	cr_assert_eq(t.h->st.traps, 1, "only the optional tcontrol write trapped");
	cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL);
	cr_assert_eq(t.h->mepc, RAM + 0x10);
	tvm_free(&t);
}

Test(cpu, csr_write_effect_and_minstret)
{
	struct tvm t;
	uint32_t code[] = { CSRRW(0, 0x340, 1), CSRRS(3, 0x340, 0), ADDI(0, 0, 0), CSRRS(4, 0xb02, 0) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 4);
	cpu_hart_set_reg(t.h, 1, 0x1234);
	tvm_run(&t, 4);
	cr_assert_eq(t.h->mscratch, 0x1234);
	cr_assert_eq(cpu_hart_reg(t.h, 3), 0x1234);
	cr_assert_eq(cpu_hart_reg(t.h, 4), 3, "minstret counts the 3 retired before it");
	tvm_free(&t);
}

Test(cpu, software_interrupt_through_clint)
{
	struct tvm t;
	/* sw x2, 0(x1) to msip[0]; then a nop that is interrupted */
	uint32_t code[] = { S(0, 2, 1, 2), ADDI(0, 0, 0) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 2);
	t.h->mie = 1u << RV_IRQ_MSI;
	t.h->mstatus = MSTATUS_MIE;
	cpu_hart_set_reg(t.h, 1, CPU_CLINT_BASE);
	cpu_hart_set_reg(t.h, 2, 1);
	tvm_run(&t, 1);   /* the store; the interrupt is taken right after it */
	cr_assert_eq(t.h->mcause, RV_CAUSE_INTR | RV_IRQ_MSI, "mcause 0x%llx mip 0x%llx mtval 0x%llx", (unsigned long long)t.h->mcause, (unsigned long long)t.h->mip, (unsigned long long)t.h->mtval);
	cr_assert_eq(t.h->mepc, RAM + 4, "taken after the store, before the next instruction");
	cr_assert_eq(t.h->st.irqs, 1);
	tvm_free(&t);
}

Test(cpu, bare_access_outside_ram_faults)
{
	struct tvm t;
	uint32_t code[] = { LD(3, 0, 1) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	cpu_hart_set_reg(t.h, 1, 0x40000000);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_LOAD_ACCESS);
	cr_assert_eq(t.h->mtval, 0x40000000);
	cr_assert_eq(t.h->st.exits[CPU_EXIT_NPF], 0);
	tvm_free(&t);
}

Test(cpu, npt_access_outside_ram_exits_then_faults)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	struct tvm t;
	uint32_t code[] = { SD(3, 0, 1) };

	tvm_new(&t, sets);
	tvm_code(&t, RAM, code, 1);
	cpu_hart_set_reg(t.h, 1, 0x40000000);
	tvm_run(&t, 1);
	/* the code page's first touch (mapped, retried), then the store outside RAM */
	cr_assert_eq(t.h->st.exits[CPU_EXIT_NPF], 2, "stage-2 faults exit to the hypervisor");
	cr_assert_eq(t.h->mcause, RV_CAUSE_STORE_ACCESS, "the default hypervisor injects an access fault");
	cr_assert_eq(t.h->mtval, 0x40000000);
	tvm_free(&t);
}

/* ------------------------------------------------------------------ */
/* Sv39 with CR0.WP, CR4.SMEP, CR4.SMAP, SUM, MXR                        */
/* ------------------------------------------------------------------ */

#define PTE_V 0x01u
#define PTE_R 0x02u
#define PTE_W 0x04u
#define PTE_X 0x08u
#define PTE_U 0x10u
#define PTE_A 0x40u
#define PTE_D 0x80u
#define VA    0x40000000ull       /* the page under test */
#define PG    (RAM + 0x10000)      /* its frame */

enum acc { RD, WR, EX };

struct sv_case {
	char name[40];
	unsigned priv;       /* RV_PRIV_S or RV_PRIV_U */
	unsigned pte;        /* flags of the leaf for VA */
	enum acc acc;
	bool sum, mxr, wp, smep, smap;
	bool fault;          /* page fault expected */
};

static struct sv_case sv_cases[] = {
	/* name                                priv       pte                         acc sum mxr wp smep smap fault */
	{ "S read sup R",                      RV_PRIV_S, PTE_R | PTE_A,              RD, 0, 0, 1, 1, 1, false },
	{ "S write sup R, WP=1",               RV_PRIV_S, PTE_R | PTE_A | PTE_D,      WR, 0, 0, 1, 1, 1, true },
	{ "S write sup R, WP=0",               RV_PRIV_S, PTE_R | PTE_A | PTE_D,      WR, 0, 0, 0, 1, 1, false },
	{ "S write sup R, WP=0, D=0 (Svade)",  RV_PRIV_S, PTE_R | PTE_A,              WR, 0, 0, 0, 1, 1, true },
	{ "S write sup RW",                    RV_PRIV_S, PTE_R | PTE_W | PTE_A | PTE_D, WR, 0, 0, 1, 1, 1, false },
	{ "S read user, SUM=0 SMAP=1",         RV_PRIV_S, PTE_R | PTE_U | PTE_A,      RD, 0, 0, 1, 1, 1, true },
	{ "S read user, SUM=1 SMAP=1",         RV_PRIV_S, PTE_R | PTE_U | PTE_A,      RD, 1, 0, 1, 1, 1, false },
	{ "S read user, SUM=0 SMAP=0",         RV_PRIV_S, PTE_R | PTE_U | PTE_A,      RD, 0, 0, 1, 1, 0, false },
	{ "S write user RW, SUM=0 SMAP=0",     RV_PRIV_S, PTE_R | PTE_W | PTE_U | PTE_A | PTE_D, WR, 0, 0, 1, 1, 0, false },
	{ "S write user R, SUM=1 WP=0",        RV_PRIV_S, PTE_R | PTE_U | PTE_A | PTE_D, WR, 1, 0, 0, 1, 1, false },
	{ "S fetch user X, SMEP=1",            RV_PRIV_S, PTE_X | PTE_U | PTE_A,      EX, 1, 0, 1, 1, 1, true },
	{ "S fetch user X, SMEP=0",            RV_PRIV_S, PTE_X | PTE_U | PTE_A,      EX, 0, 0, 1, 0, 1, false },
	{ "S fetch user X, SMEP=0 SUM=0 SMAP=1", RV_PRIV_S, PTE_X | PTE_U | PTE_A,    EX, 0, 0, 1, 0, 1, false },
	{ "S fetch sup X",                     RV_PRIV_S, PTE_X | PTE_A,              EX, 0, 0, 1, 1, 1, false },
	{ "S fetch sup R (no X)",              RV_PRIV_S, PTE_R | PTE_A,              EX, 0, 0, 1, 1, 1, true },
	{ "S read X-only, MXR=0",              RV_PRIV_S, PTE_X | PTE_A,              RD, 0, 0, 1, 1, 1, true },
	{ "S read X-only, MXR=1",              RV_PRIV_S, PTE_X | PTE_A,              RD, 0, 1, 1, 1, 1, false },
	{ "S read A=0",                        RV_PRIV_S, PTE_R,                      RD, 0, 0, 1, 1, 1, true },
	{ "U read user R",                     RV_PRIV_U, PTE_R | PTE_U | PTE_A,      RD, 0, 0, 1, 1, 1, false },
	{ "U read sup R",                      RV_PRIV_U, PTE_R | PTE_A,              RD, 0, 0, 1, 1, 0, true },
	{ "U write user R, WP=0 (sup only)",   RV_PRIV_U, PTE_R | PTE_U | PTE_A | PTE_D, WR, 0, 0, 0, 1, 1, true },
	{ "U fetch user X",                    RV_PRIV_U, PTE_X | PTE_U | PTE_A,      EX, 0, 0, 1, 1, 1, false },
	{ "U fetch sup X",                     RV_PRIV_U, PTE_X | PTE_A,              EX, 0, 0, 1, 0, 0, true },
	{ "W without R (reserved)",            RV_PRIV_S, PTE_W | PTE_A | PTE_D,      WR, 0, 0, 1, 1, 1, true },
};

ParameterizedTestParameters(cpu, sv39_protection)
{
	return cr_make_param_array(struct sv_case, sv_cases, sizeof(sv_cases) / sizeof(sv_cases[0]));
}

/*
 * Tables at RAM+0x20000 (root), +0x21000 (L1), +0x22000 (L0): VA maps to
 * PG with the case's flags; RAM's first 2M is an identity supervisor RWX
 * block (for the code).  Data accesses run in M mode with MPRV (MPP =
 * the case's privilege); fetches jump to VA in that privilege.
 */
ParameterizedTest(struct sv_case *c, cpu, sv39_protection)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	struct tvm t;
	struct sim_mem *m;
	uint64_t root = RAM + 0x20000, l1 = RAM + 0x21000, l0 = RAM + 0x22000;
	uint32_t code[] = { c->acc == RD ? LD(3, 0, 1) : SD(2, 0, 1) };
	uint32_t target = ADDI(3, 0, 1);

	tvm_new(&t, sets);
	m = sim_mem(t.s);
	tvm_code(&t, RAM, code, 1);
	tvm_code(&t, PG, &target, 1);
	sim_mem_poke64(m, root + 8 * 1, (l1 >> 12) << 10 | PTE_V);             /* VA 1G..2G */
	sim_mem_poke64(m, root + 8 * 2, (RAM >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
	sim_mem_poke64(m, l1, (l0 >> 12) << 10 | PTE_V);
	sim_mem_poke64(m, l0, (PG >> 12) << 10 | PTE_V | c->pte);
	t.h->satp = (8ull << 60) | (root >> 12);
	t.h->cr0 = CR0_RESET & ~(c->wp ? 0 : CR0_WP);
	t.h->cr4 = (c->smep ? CR4_SMEP : 0) | (c->smap ? CR4_SMAP : 0);
	t.h->mstatus = (c->sum ? MSTATUS_SUM : 0) | (c->mxr ? MSTATUS_MXR : 0);
	if (c->acc == EX) {
		t.h->priv = c->priv;
		t.h->pc = VA;
	} else {
		t.h->mstatus |= MSTATUS_MPRV | ((uint64_t)c->priv << 11);
	}
	rv_update_modes(t.h);
	cpu_hart_set_reg(t.h, 1, VA + 8);
	cpu_hart_set_reg(t.h, 2, 0x55);
	tvm_run(&t, 1);
	if (c->fault) {
		uint64_t cause = c->acc == RD ? RV_CAUSE_LOAD_PAGE
			       : c->acc == WR ? RV_CAUSE_STORE_PAGE : RV_CAUSE_FETCH_PAGE;

		cr_assert_eq(t.h->mcause, cause, "%s: mcause %llu", c->name,
			     (unsigned long long)t.h->mcause);
		cr_assert_eq(t.h->mtval, c->acc == EX ? VA : VA + 8, "%s", c->name);
		cr_assert_eq(sim_mem_peek64(m, PG + 8), 0, "%s: memory unchanged", c->name);
	} else {
		cr_assert_eq(t.h->mcause, 0, "%s: unexpected trap %llu", c->name,
			     (unsigned long long)t.h->mcause);
		if (c->acc == WR)
			cr_assert_eq(sim_mem_peek64(m, PG + 8), 0x55, "%s", c->name);
		else if (c->acc == EX)
			cr_assert_eq(cpu_hart_reg(t.h, 3), 1, "%s: executed", c->name);
	}
	tvm_free(&t);
}

/* ------------------------------------------------------------------ */
/* CR write intercepts                                                 */
/* ------------------------------------------------------------------ */

struct cr_case {
	char name[40];
	uint64_t icpt0;      /* vm.cr0_intercept */
	unsigned policy;     /* 0 allow, 1 deny */
	uint64_t newval;     /* value written to CR0 (x1) */
	uint64_t expect_cr0;
	uint64_t expect_cause;
	uint64_t expect_exits;
};

static struct cr_case cr_cases[] = {
	{ "no intercept",           0,       1, 0x80000011, 0x80000011, 0, 0 },
	{ "intercepted, denied",    0x10000, 1, 0x80000011, 0x80010011, RV_CAUSE_GP, 1 },
	{ "intercepted, allowed",   0x10000, 0, 0x80000011, 0x80000011, 0, 1 },
	{ "other bit changes only", 0x10000, 1, 0x80010013, 0x80010013, 0, 0 },
	{ "reserved bit: #GP, no exit", 0x10000, 0, 0x80010011 | (1ull << 40), 0x80010011, RV_CAUSE_GP, 0 },
};

ParameterizedTestParameters(cpu, cr_intercept)
{
	return cr_make_param_array(struct cr_case, cr_cases, sizeof(cr_cases) / sizeof(cr_cases[0]));
}

ParameterizedTest(struct cr_case *c, cpu, cr_intercept)
{
	char icpt[32];
	const char *sets[] = { "vm.cr0_intercept", icpt, "vm.cr_policy", c->policy ? "deny" : "allow",
			       "vm.type", "npt", NULL };
	uint32_t code[] = { CSRRW(3, 0x5c0, 1) };
	struct tvm t;

	snprintf(icpt, sizeof(icpt), "0x%llx", (unsigned long long)c->icpt0);
	tvm_new(&t, sets);
	tvm_code(&t, RAM, code, 1);
	t.h->priv = RV_PRIV_S;
	rv_update_modes(t.h);
	cpu_hart_set_reg(t.h, 1, c->newval);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->cr0, c->expect_cr0, "%s: cr0 0x%llx", c->name, (unsigned long long)t.h->cr0);
	cr_assert_eq(t.h->mcause, c->expect_cause, "%s", c->name);
	cr_assert_eq(t.h->st.exits[CPU_EXIT_CR_WRITE], c->expect_exits, "%s", c->name);
	if (!c->expect_cause) {
		cr_assert_eq(cpu_hart_reg(t.h, 3), 0x80010011, "%s: rd = old value", c->name);
		cr_assert_eq(cpu_hart_pc(t.h), RAM + 4);
	} else {
		cr_assert_eq(t.h->mepc, RAM, "%s: the write did not retire", c->name);
	}
	tvm_free(&t);
}

/* ------------------------------------------------------------------ */
/* Timing                                                              */
/* ------------------------------------------------------------------ */

/*
 * 4 ALU instructions + mul + div, exact cycles in both modes (generic
 * profile).  Each run also pays one VMRUN (1000) and one #VMEXIT (1000)
 * plus the VMSA save at the exit (424 bytes): fast mode charges the flat
 * DRAM latency (120) for it, detailed mode 7 lines missing every level
 * (7 x (LLC 50 + DRAM 120)).
 */
Test(cpu, cycles_fast_and_detailed)
{
	static const char *const fast[] = { "cpu.cpi", "2", NULL };
	static const char *const det[] = { "cpu.mode", "detailed", NULL };
	uint32_t code[] = { ADDI(1, 0, 3), ADDI(2, 0, 4), R(1, 2, 1, 0, 3, 0x33),
			    R(1, 2, 1, 4, 4, 0x33), ADDI(5, 0, 1), ADDI(6, 0, 1) };
	struct tvm t;

	tvm_new(&t, fast);
	tvm_code(&t, RAM, code, 6);
	tvm_run(&t, 6);
	cr_assert_eq(cpu_hart_reg(t.h, 3), 12);
	cr_assert_eq(t.h->st.cycles, 6 * 2 + 2000 + 120, "fast: %llu",
		     (unsigned long long)t.h->st.cycles);
	cr_assert_eq(sim_now(t.h->agent), t.h->st.cycles);
	tvm_free(&t);

	tvm_new(&t, det);
	tvm_code(&t, RAM, code, 6);
	tvm_run(&t, 6);
	/* 6 + mul 2 + div 20 + the first fetch missing L1I, L2, LLC (50 + 120) */
	cr_assert_eq(t.h->st.cycles, 6 + 2 + 20 + 170 + 2000 + 7 * 170, "detailed: %llu",
		     (unsigned long long)t.h->st.cycles);
	tvm_free(&t);
}

Test(cpu, wfi_with_no_wakeup_halts_the_vm)
{
	struct tvm t;
	uint32_t code[] = { WFI, ADDI(3, 0, 1) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 2);
	tvm_run(&t, 10);
	cr_assert_eq(stack_guest_state(t.v), STACK_VM_HALTED);
	cr_assert_eq(t.h->st.exits[CPU_EXIT_HLT], 1);
	cr_assert_eq(cpu_hart_reg(t.h, 3), 0);
	tvm_free(&t);
}

Test(cpu, wfi_with_timer_sleeps_until_it_fires)
{
	struct tvm t;
	uint32_t code[] = { WFI };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	{
		uint32_t nop = ADDI(0, 0, 0);

		tvm_code(&t, RAM + 0x800, &nop, 1);   /* the handler's first instruction */
	}
	t.h->mtimecmp = 1000;                 /* mtime 1000 = cycle 100000 */
	t.h->mie = 1u << RV_IRQ_MTI;
	t.h->mstatus = MSTATUS_MIE;
	tvm_run(&t, 2);
	cr_assert_eq(t.h->st.exits[CPU_EXIT_HLT], 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_INTR | RV_IRQ_MTI);
	cr_assert_eq(t.h->mepc, RAM + 4, "the interrupt is taken after the WFI");
	cr_assert_geq(sim_now(t.h->agent), 100000);
	tvm_free(&t);
}

/*
 * WFI's wake-up condition (privileged spec, "Wait for Interrupt"): a
 * locally enabled interrupt (mip & mie) already pending makes WFI retire
 * at once, whatever the global enables (mstatus.MIE/SIE) and mideleg say;
 * one pending but not individually enabled does not wake the hart (the
 * spec's "should honor the individual interrupt enables").  Each case
 * runs WFI then ADDI x3, x0, 1 with the interrupt not taken (globally
 * masked at the current privilege): x3 = 1 if WFI retired.  These are
 * the two forms of riscv-tests' rv64si-p-wfi (with and without
 * sie.SSIE set before the WFI).
 */
struct wfi_case {
	char name[40];
	unsigned priv;
	uint64_t mip, mie, mideleg;
	bool retires;
};

static struct wfi_case wfi_cases[] = {
	{ "S: SSIP pending, SSIE set, SIE=0", RV_PRIV_S, 1u << RV_IRQ_SSI, 1u << RV_IRQ_SSI,
	  1u << RV_IRQ_SSI, true },
	{ "S: SSIP pending, SSIE clear",      RV_PRIV_S, 1u << RV_IRQ_SSI, 0, 1u << RV_IRQ_SSI, false },
	{ "M: MSIP pending, MSIE set, MIE=0", RV_PRIV_M, 1u << RV_IRQ_MSI, 1u << RV_IRQ_MSI, 0, true },
	{ "M: SSIP delegated, SSIE set",      RV_PRIV_M, 1u << RV_IRQ_SSI, 1u << RV_IRQ_SSI,
	  1u << RV_IRQ_SSI, true },
	{ "M: nothing pending",               RV_PRIV_M, 0, 1u << RV_IRQ_MSI, 0, false },
};

ParameterizedTestParameters(cpu, wfi_wake)
{
	return cr_make_param_array(struct wfi_case, wfi_cases, sizeof(wfi_cases) / sizeof(wfi_cases[0]));
}

ParameterizedTest(struct wfi_case *c, cpu, wfi_wake)
{
	struct tvm t;
	uint32_t code[] = { WFI, ADDI(3, 0, 1) };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 2);
	t.h->priv = c->priv;
	rv_update_modes(t.h);
	t.h->mstatus = 0;                     /* MIE = SIE = 0 */
	t.h->mip = c->mip;
	t.h->mie = c->mie;
	t.h->mideleg = c->mideleg;
	tvm_run(&t, 2);
	cr_assert_eq(t.h->st.traps + t.h->st.irqs, 0, "%s: no trap, no interrupt taken", c->name);
	cr_assert_eq(t.h->priv, c->priv, "%s", c->name);
	if (c->retires) {
		cr_assert_eq(t.h->st.exits[CPU_EXIT_HLT], 0, "%s: no HLT exit", c->name);
		cr_assert_eq(cpu_hart_reg(t.h, 3), 1, "%s: the next instruction ran", c->name);
		cr_assert_eq(t.h->pc, RAM + 8, "%s", c->name);
	} else {
		cr_assert_eq(t.h->st.exits[CPU_EXIT_HLT], 1, "%s: HLT exit", c->name);
		cr_assert_eq(stack_guest_state(t.v), STACK_VM_HALTED, "%s", c->name);
		cr_assert_eq(cpu_hart_reg(t.h, 3), 0, "%s: stalled in WFI", c->name);
	}
	tvm_free(&t);
}

/*
 * A non-SNP VM on a host with SNP enabled: its writes must hit
 * hypervisor-owned pages (APM vol. 2 15.36.10), its reads are not checked.
 * A store to a page the RMP assigned to some SNP guest exits with an RMP
 * #NPF and does not land; a load from it passes.
 */
static void npt_vm_on_assigned_page(uint32_t insn, uint64_t *npf_info, uint64_t *word,
				    enum stack_vm_state *state, uint64_t *x3)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	struct tvm t;
	struct rmp_entry e;
	const uint64_t data_spa = RAM + 0x1000;   /* vm.spa_base = vm.mem_base: GPA = SPA */

	tvm_new(&t, sets);
	tvm_code(&t, RAM, &insn, 1);
	sim_mem_poke64(sim_mem(t.s), data_spa, 0x1111);
	memset(&e, 0, sizeof(e));
	e.assigned = true;
	e.validated = true;
	e.asid = 7;
	e.gpa = 0x5000;
	e.perms[0] = RMP_PERM_ALL;
	cr_assert_eq(rmp_fw_write(sim_get_model(t.s, &rmp_module), data_spa, &e), RMP_RC_SUCCESS);
	cpu_hart_set_reg(t.h, 1, RAM + 0x1000);
	cpu_hart_set_reg(t.h, 3, 0x2222);
	tvm_run(&t, 1);
	*npf_info = t.h->exit.npf_info;
	*word = sim_mem_peek64(sim_mem(t.s), data_spa);
	*state = stack_guest_state(t.v);
	*x3 = cpu_hart_reg(t.h, 3);
	tvm_free(&t);
}

Test(cpu, npt_vm_store_to_assigned_page_is_an_rmp_npf, .init = cr_redirect_stderr)
{
	uint64_t info, word, x3;
	enum stack_vm_state st;

	npt_vm_on_assigned_page(SD(3, 0, 1), &info, &word, &st, &x3);
	cr_assert(info & RMP_NPF_RMP, "EXITINFO1 0x%llx has the RMP bit", (unsigned long long)info);
	cr_assert(info & RMP_NPF_W);
	cr_assert_eq(info & RMP_NPF_ENC, 0, "a non-SNP access is not private");
	cr_assert_eq(word, 0x1111, "the store did not land");
	cr_assert_eq(st, STACK_VM_KILLED, "the default hypervisor stops the VM");
}

Test(cpu, npt_vm_load_from_assigned_page_is_not_checked)
{
	uint64_t info, word, x3;
	enum stack_vm_state st;

	npt_vm_on_assigned_page(LD(3, 0, 1), &info, &word, &st, &x3);
	cr_assert_eq(x3, 0x1111, "the load read the page");
	cr_assert_neq(st, STACK_VM_KILLED);
}

/*
 * The RMP page-size check is an equality (AMD APM vol. 2 15.36.10; KVM
 * sev_handle_rmp_fault PSMASHes a 2M entry under a 4K NPT leaf): a vCPU
 * access through a 4K nested leaf onto a 2M RMP entry is an RMP #NPF,
 * without SIZEM (that bit is for PVALIDATE/RMPADJUST).
 */
Test(cpu, snp_4k_leaf_onto_2m_rmp_entry_is_an_rmp_npf, .init = cr_redirect_stderr)
{
	static const char *const sets[] = { "vm.type", "snp", "vm.mem_size", "4m", NULL };
	const uint64_t data = RAM + 0x200000;   /* GPA = SPA: its own 2M region */
	uint32_t code[] = { LD(3, 0, 1) };
	struct rmp_entry e;
	struct sim_err err;
	struct tvm t;
	uint64_t spa;

	tvm_new(&t, sets);
	tvm_code(&t, RAM, code, 1);
	/* The data page is mapped by a 4K nested leaf (a first touch)... */
	cr_assert(!stack_guest_map_page(t.v, NULL, data, &err), "%s", err.msg);
	cr_assert(!cpu_vm_gpa_to_spa(t.vm, data, &spa));
	/* ...but its RMP entry becomes a 2M one, assigned and validated. */
	memset(&e, 0, sizeof(e));
	e.assigned = true;
	e.page_2m = true;
	e.validated = true;
	e.asid = t.vm->asid;
	e.gpa = data;
	e.perms[0] = RMP_PERM_ALL;
	cr_assert_eq(rmp_fw_write(t.vm->rmp, spa, &e), RMP_RC_SUCCESS);
	cpu_hart_set_reg(t.h, 1, data + 8);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->st.exits[CPU_EXIT_NPF], 2, "the code page's first touch, then the RMP fault");
	cr_assert(t.h->exit.npf_info & RMP_NPF_RMP, "EXITINFO1 0x%llx",
		  (unsigned long long)t.h->exit.npf_info);
	cr_assert_eq(t.h->exit.npf_info & RMP_NPF_SIZEM, 0);
	cr_assert_eq(t.h->exit.npf_gpa, data + 8);
	cr_assert_eq(stack_guest_state(t.v), STACK_VM_KILLED, "the default hypervisor stops the VM");
	tvm_free(&t);
}

/*
 * The shared alias (CPU_SHARED_ALIAS, bit 51): with translation off an SNP
 * guest's data access with the bit set is shared (C=0) and goes to the
 * address without it.  A shared store to the guest's own assigned page
 * is an RMP #NPF without ENC at that GPA; the same store without the bit
 * (private) succeeds.
 */
Test(cpu, snp_shared_alias_bit_makes_a_shared_access, .init = cr_redirect_stderr)
{
	static const char *const sets[] = { "vm.type", "snp", NULL };
	const uint64_t data = RAM + 0x3000;
	uint32_t code[] = { SD(3, 0, 1), SD(3, 0, 2) };
	struct sim_err err;
	struct tvm t;

	tvm_new(&t, sets);
	tvm_code(&t, RAM, code, 2);
	cr_assert(!stack_guest_map_page(t.v, NULL, data, &err), "%s", err.msg);
	cpu_hart_set_reg(t.h, 1, data);
	cpu_hart_set_reg(t.h, 2, data | CPU_SHARED_ALIAS);
	cpu_hart_set_reg(t.h, 3, 0x55);
	tvm_run(&t, 2);
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 4, "the private store retired, the shared one faulted");
	cr_assert(t.h->exit.npf_info & RMP_NPF_RMP, "EXITINFO1 0x%llx",
		  (unsigned long long)t.h->exit.npf_info);
	cr_assert_eq(t.h->exit.npf_info & RMP_NPF_ENC, 0, "a shared access");
	cr_assert_eq(t.h->exit.npf_gpa, data, "the GPA without the alias bit");
	tvm_free(&t);
}

/*
 * rmp.update_flush_tlb: a host RMPUPDATE flushes every TLB of the machine,
 * the vCPUs' stage-2 TLBs included (the stack's RMP change hook invalidates
 * them with cpu_vcpu_tlbi at the RMPUPDATE).
 */
Test(cpu, rmpupdate_global_flush_reaches_the_vcpu_tlbs)
{
	for (int on = 0; on < 2; on++) {
		const char *const sets[] = { "vm.type", "npt", "rmp.update_flush_tlb", on ? "1" : "0",
					     NULL };
		struct tvm t;
		uint32_t code[] = { LD(3, 0, 1) };
		struct rmp_update_in in = { .gpa = 0, .assigned = false };
		struct rmp_result res;
		struct sim_who who = { .now = 0, .agent = -1 };
		uint64_t before;

		tvm_new(&t, sets);
		tvm_code(&t, RAM, code, 1);
		cpu_hart_set_reg(t.h, 1, RAM + 0x1000);
		tvm_run(&t, 1);
		before = t.vm->s2_stats.tlbi_all;
		cr_assert_eq(rmp_update(sim_get_model(t.s, &rmp_module), &who, 0x10000000, &in, &res),
			     RMP_RC_SUCCESS);
		cr_assert_eq(t.vm->s2_stats.tlbi_all - before, (uint64_t)on,
			     "flush on=%d: the vCPU's stage-2 TLB flushed %d time(s)", on, on);
		tvm_free(&t);
	}
}

Test(cpu, hypercall_exit_and_reply)
{
	static const char *const sets[] = { "vm.type", "npt", NULL };
	struct tvm t;
	uint32_t code[] = { 0x0800000bu };   /* HYPERCALL */

	tvm_new(&t, sets);
	tvm_code(&t, RAM, code, 1);
	cpu_hart_set_reg(t.h, 10, 1);    /* PROTSIM_HC_VERSION */
	tvm_run(&t, 1);
	cr_assert_eq(t.h->st.exits[CPU_EXIT_HYPERCALL], 1);
	cr_assert_eq(cpu_hart_reg(t.h, 10), 1);
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 4);
	tvm_free(&t);
}

Test(cpu, pvalidate_outside_snp_is_illegal)
{
	struct tvm t;
	uint32_t code[] = { 0x0000000bu };

	tvm_new(&t, NULL);
	tvm_code(&t, RAM, code, 1);
	tvm_run(&t, 1);
	cr_assert_eq(t.h->mcause, RV_CAUSE_ILLEGAL);
	tvm_free(&t);
}

/* Watched words (two programs' tohost): each rings its own callback, once per non-zero store. */
struct bell_log {
	unsigned rings;
	uint64_t last;
};

static void bell_ring(void *arg, struct cpu_hart *h, uint64_t value)
{
	struct bell_log *l = arg;

	(void)h;
	l->rings++;
	l->last = value;
}

Test(cpu, watched_words_ring_their_own_callbacks)
{
	struct tvm t;
	struct bell_log a = { 0 }, b = { 0 }, other = { 0 };
	uint64_t spa_a, spa_b, spa;
	/* sd x1,0(x2); sd x0,0(x2); sd x3,0(x4); sw x1,4(x4); sd x1,8(x4) */
	uint32_t code[] = { SD(1, 0, 2), SD(0, 0, 2), SD(3, 0, 4), SW(1, 4, 4), SD(1, 8, 4) };

	tvm_new(&t, NULL);
	cr_assert(!cpu_vm_gpa_to_spa(t.vm, RAM + 0x1000, &spa_a));
	cr_assert(!cpu_vm_gpa_to_spa(t.vm, RAM + 0x3000, &spa_b));
	cr_assert_eq(cpu_vm_watch(t.vm, spa_a, bell_ring, &other), 0);
	cr_assert_eq(cpu_vm_watch(t.vm, spa_b, bell_ring, &b), 0);
	cr_assert_eq(cpu_vm_watch(t.vm, spa_a, bell_ring, &a), 0, "watching again replaces");
	cr_assert_eq(cpu_vm_watch(t.vm, spa_a + 4, bell_ring, &a), -1, "not 8-byte aligned");
	cr_assert_eq(cpu_vm_set_doorbell(t.vm, RAM - 8, bell_ring, &a), -1, "outside the RAM window");
	cr_assert(!cpu_vm_gpa_to_spa(t.vm, RAM + 0x5000, &spa));
	cr_assert_eq(cpu_vm_set_doorbell(t.vm, RAM + 0x5000, bell_ring, &other), 0);
	cr_assert_eq(cpu_vm_watch(t.vm, spa + 8, bell_ring, &other), 0);
	cr_assert_eq(cpu_vm_watch(t.vm, spa + 16, bell_ring, &other), -1, "CPU_MAX_BELLS words");
	tvm_code(&t, RAM, code, 5);
	t.h->pc = RAM;
	cpu_hart_set_reg(t.h, 1, 0x11);
	cpu_hart_set_reg(t.h, 2, RAM + 0x1000);
	cpu_hart_set_reg(t.h, 3, 0x33);
	cpu_hart_set_reg(t.h, 4, RAM + 0x3000);
	tvm_run(&t, 5);
	cr_assert_eq(a.rings, 1, "a store of 0 does not ring");
	cr_assert_eq(a.last, 0x11);
	/* b: the sd of 0x33, then the sw into its upper half (the word is 0x11_00000033) */
	cr_assert_eq(b.rings, 2);
	cr_assert_eq(b.last, 0x1100000033ull);
	cr_assert_eq(other.rings, 0, "the next word and the replaced callback stay quiet");
	cr_assert_eq(cpu_hart_pc(t.h), RAM + 20);
	tvm_free(&t);
}

/* HTIF: putchar (device 1), the syscall proxy's write (device 0), exit. */
Test(cpu, htif_console_syscall_and_exit)
{
	struct tvm t;
	char *out = NULL;
	size_t len = 0;
	FILE *con;
	uint64_t th = RAM + 0x3000, magic = RAM + 0x3100, buf = RAM + 0x3200;
	uint32_t code[] = { SD(2, 0, 1), SD(4, 0, 1), SD(5, 0, 1), ADDI(6, 0, 1) };

	tvm_new(&t, NULL);
	con = open_memstream(&out, &len);
	cr_assert(!stack_guest_set_htif(t.v, th, th + 0x40, con));
	tvm_code(&t, RAM, code, 4);
	sim_mem_poke64(sim_mem(t.s), magic, 64);          /* write(1, buf, 3) */
	sim_mem_poke64(sim_mem(t.s), magic + 8, 1);
	sim_mem_poke64(sim_mem(t.s), magic + 16, buf);
	sim_mem_poke64(sim_mem(t.s), magic + 24, 3);
	sim_mem_poke(sim_mem(t.s), buf, "abc", 3);
	cpu_hart_set_reg(t.h, 1, th);
	cpu_hart_set_reg(t.h, 2, (1ull << 56) | (1ull << 48) | 'Z');
	cpu_hart_set_reg(t.h, 4, magic);
	cpu_hart_set_reg(t.h, 5, (7 << 1) | 1);
	tvm_run(&t, 100);
	fclose(con);
	cr_assert_str_eq(out, "Zabc");
	cr_assert_eq(sim_mem_peek64(sim_mem(t.s), magic), 3, "write returned 3");
	cr_assert_eq(sim_mem_peek64(sim_mem(t.s), th), 0, "tohost consumed");
	cr_assert_eq(sim_mem_peek64(sim_mem(t.s), th + 0x40), 1, "fromhost = 1 after a syscall");
	cr_assert_eq(stack_guest_state(t.v), STACK_VM_EXITED);
	cr_assert_eq(stack_guest_exit_code(t.v), 7);
	cr_assert_eq(cpu_hart_reg(t.h, 6), 0, "nothing runs after the exit");
	cr_assert_eq(cpu_hart_insns(t.h), 3);
	stack_guest_set_htif(t.v, th, th + 0x40, NULL);
	free(out);
	tvm_free(&t);
}
