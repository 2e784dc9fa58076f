/*
 * test_rv_decode.c - the instruction tables themselves (generated from
 * cpu/rv64_insns.def and cpu/rvc_insns.def) and the decoder: no two
 * match/mask pairs overlap, every row decodes to itself, operand
 * extraction per format, and every compressed instruction expands to the
 * right 32-bit instruction.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "cpu/cpu_int.h"

Test(rv_decode, no_two_rows_overlap)
{
	for (unsigned a = RV_OP_ILLEGAL + 1; a < RV_OP_COUNT; a++)
		for (unsigned b = a + 1; b < RV_OP_COUNT; b++) {
			uint32_t both = rv_op_mask[a] & rv_op_mask[b];

			cr_assert_neq((rv_op_match[a] ^ rv_op_match[b]) & both, 0,
				      "%s and %s overlap", rv_op_name[a], rv_op_name[b]);
		}
}

Test(rv_decode, match_within_mask_and_32bit)
{
	for (unsigned op = RV_OP_ILLEGAL + 1; op < RV_OP_COUNT; op++) {
		cr_assert_eq(rv_op_match[op] & ~rv_op_mask[op], 0, "%s", rv_op_name[op]);
		cr_assert_eq(rv_op_match[op] & 3, 3, "%s is not a 32-bit encoding", rv_op_name[op]);
		cr_assert_eq(rv_lookup(rv_op_match[op]), op, "%s does not decode to itself",
			     rv_op_name[op]);
	}
}

Test(rv_decode, tables_have_equal_length_and_unique_names)
{
	cr_assert_eq(sizeof(rv_op_name) / sizeof(rv_op_name[0]), RV_OP_COUNT);
	cr_assert_eq(sizeof(rv_op_mask) / sizeof(rv_op_mask[0]), RV_OP_COUNT);
	cr_assert_eq(RV_OP_COUNT - 2, 103, "RV64IMAC+Zicsr+Zifencei+privileged+5 custom");
	for (unsigned a = 0; a < RV_OP_COUNT; a++)
		for (unsigned b = a + 1; b < RV_OP_COUNT; b++)
			cr_assert_str_neq(rv_op_name[a], rv_op_name[b]);
}

Test(rv_decode, rvc_rows_do_not_overlap)
{
	for (unsigned a = 0; a < rvc_table_len; a++) {
		cr_assert_eq(rvc_table[a].match & ~rvc_table[a].mask, 0, "%s", rvc_table[a].name);
		cr_assert_neq(rvc_table[a].match & 3, 3, "%s", rvc_table[a].name);
		for (unsigned b = a + 1; b < rvc_table_len; b++)
			cr_assert_neq((rvc_table[a].match ^ rvc_table[b].match) &
				      rvc_table[a].mask & rvc_table[b].mask, 0, "%s and %s overlap",
				      rvc_table[a].name, rvc_table[b].name);
	}
}

struct fmt_case {
	char name[40];   /* inline: Criterion copies parameters across processes */
	uint32_t bits;
	enum rv_op op;
	uint8_t rd, rs1, rs2;
	int32_t imm;
};

static struct fmt_case fmt_cases[] = {
	/* name                 bits        op              rd  rs1 rs2 imm */
	{ "add x3,x1,x2",      0x002081b3, RV_OP_add,      3,  1,  2,  0 },
	{ "addi x5,x6,-1",     0xfff30293, RV_OP_addi,     5,  6,  31, -1 },
	{ "sd x7,-8(x2)",      0xfe713c23, RV_OP_sd,       RV_RD_SINK, 2, 7, -8 },
	{ "beq x1,x2,-4",      0xfe208ee3, RV_OP_beq,      RV_RD_SINK, 1, 2, -4 },
	{ "lui x10,0xfffff",   0xfffff537, RV_OP_lui,      10, 31, 31, (int32_t)0xfffff000 },
	{ "jal x1,+2048",      0x001000ef, RV_OP_jal,      1,  0,  1,  2048 },
	{ "slli x1,x1,63",     0x03f09093, RV_OP_slli,     1,  1,  31, 63 },
	{ "sraiw x1,x1,31",    0x41f0d09b, RV_OP_sraiw,    1,  1,  31, 31 },
	{ "csrrw x0,mscratch,x1", 0x34009073, RV_OP_csrrw, RV_RD_SINK, 1, 0, 0x340 },
	{ "lr.d.aqrl x3,(x1)", 0x1600b1af, RV_OP_lr_d,     3,  1,  0,  0 },
	{ "pvalidate",         0x0000000b, RV_OP_pvalidate, RV_RD_SINK, 0, 0, 0 },
	{ "hypercall",         0x0800000b, RV_OP_hypercall, RV_RD_SINK, 0, 0, 0 },
	{ "custom-0 funct7=5", 0x0a00000b, RV_OP_ILLEGAL,  0,  0,  0,  0 },
	{ "all ones",          0xffffffff, RV_OP_ILLEGAL,  0,  0,  0,  0 },
};

ParameterizedTestParameters(rv_decode, formats)
{
	return cr_make_param_array(struct fmt_case, fmt_cases, sizeof(fmt_cases) / sizeof(fmt_cases[0]));
}

ParameterizedTest(struct fmt_case *c, rv_decode, formats)
{
	struct rv_dinsn d;

	rv_decode(c->bits, &d);
	cr_assert_eq(d.op, c->op, "%s: op %s", c->name, rv_op_name[d.op]);
	cr_assert_eq(d.len, 4);
	cr_assert_eq(d.raw, c->bits);
	if (c->op == RV_OP_ILLEGAL)
		return;
	cr_assert_eq(d.rd, c->rd, "%s: rd %u", c->name, d.rd);
	cr_assert_eq(d.rs1, c->rs1, "%s: rs1 %u", c->name, d.rs1);
	cr_assert_eq(d.rs2, c->rs2, "%s: rs2 %u", c->name, d.rs2);
	cr_assert_eq(d.imm, c->imm, "%s: imm %d", c->name, d.imm);
}

struct rvc_case {
	char name[40];   /* inline: Criterion copies parameters across processes */
	uint16_t c;
	uint32_t expect;   /* 32-bit equivalent, 0 = illegal */
};

/* Encodings checked against riscv64-unknown-elf-objdump -M no-aliases. */
static struct rvc_case rvc_cases[] = {
	{ "c.addi4spn x8,sp,16", 0x0800, 0x01010413 },
	{ "c.addi4spn 0 (illegal)", 0x0000, 0 },
	{ "c.lw x9,4(x10)", 0x4144, 0x00452483 },
	{ "c.ld x9,8(x10)", 0x6504, 0x00853483 },
	{ "c.sw x9,4(x10)", 0xc144, 0x00952223 },
	{ "c.sd x9,8(x10)", 0xe504, 0x00953423 },
	{ "c.nop", 0x0001, 0x00000013 },
	{ "c.addi x10,-1", 0x157d, 0xfff50513 },
	{ "c.addiw x10,1", 0x2505, 0x0015051b },
	{ "c.addiw x0 (reserved)", 0x2005, 0 },
	{ "c.li x10,-32", 0x5501, 0xfe000513 },
	{ "c.lui x10,0x1f", 0x657d, 0x0001f537 },
	{ "c.lui x10,0 (reserved)", 0x6501, 0 },
	{ "c.addi16sp sp,-64", 0x7139, 0xfc010113 },
	{ "c.srli x8,1", 0x8005, 0x00145413 },
	{ "c.srai x8,63", 0x947d, 0x43f45413 },
	{ "c.andi x8,-1", 0x987d, 0xfff47413 },
	{ "c.sub x8,x9", 0x8c05, 0x40940433 },
	{ "c.xor x8,x9", 0x8c25, 0x00944433 },
	{ "c.or x8,x9", 0x8c45, 0x00946433 },
	{ "c.and x8,x9", 0x8c65, 0x00947433 },
	{ "c.subw x8,x9", 0x9c05, 0x4094043b },
	{ "c.addw x8,x9", 0x9c25, 0x0094043b },
	{ "c.j -2", 0xbffd, 0xfffff06f },
	{ "c.beqz x8,+4", 0xc011, 0x00040263 },
	{ "c.bnez x8,-2", 0xfc7d, 0xfe041fe3 },
	{ "c.slli x10,2", 0x050a, 0x00251513 },
	{ "c.lwsp x10,4(sp)", 0x4512, 0x00412503 },
	{ "c.ldsp x10,8(sp)", 0x6522, 0x00813503 },
	{ "c.ldsp x0 (reserved)", 0x6022, 0 },
	{ "c.jr x1", 0x8082, 0x00008067 },
	{ "c.jr x0 (reserved)", 0x8002, 0 },
	{ "c.mv x10,x11", 0x852e, 0x00b00533 },
	{ "c.ebreak", 0x9002, 0x00100073 },
	{ "c.jalr x10", 0x9502, 0x000500e7 },
	{ "c.add x10,x11", 0x952e, 0x00b50533 },
	{ "c.swsp x10,4(sp)", 0xc22a, 0x00a12223 },
	{ "c.sdsp x10,8(sp)", 0xe42a, 0x00a13423 },
	{ "c.fld (no D: illegal)", 0x2000, 0 },
};

ParameterizedTestParameters(rv_decode, rvc_expand)
{
	return cr_make_param_array(struct rvc_case, rvc_cases, sizeof(rvc_cases) / sizeof(rvc_cases[0]));
}

ParameterizedTest(struct rvc_case *c, rv_decode, rvc_expand)
{
	struct rv_dinsn d;

	cr_assert_eq(rvc_expand(c->c), c->expect, "%s: got 0x%08x", c->name, rvc_expand(c->c));
	rv_decode(c->c, &d);
	cr_assert_eq(d.len, 2);
	cr_assert_eq(d.raw, c->c);
	if (c->expect)
		cr_assert_eq(d.op, rv_lookup(c->expect), "%s", c->name);
	else
		cr_assert_eq(d.op, RV_OP_ILLEGAL, "%s", c->name);
}
