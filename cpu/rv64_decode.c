/*
 * rv64_decode.c - instruction tables (generated from rv64_insns.def and
 * rvc_insns.def) and the decoder: one 16- or 32-bit instruction into a
 * struct rv_dinsn.  Compressed instructions are expanded to their 32-bit
 * equivalents, so each instruction has exactly one body.
 * See "RV32I/RV64I Base Integer Instruction Set" and '"C" Standard
 * Extension for Compressed Instructions' in the RISC-V unprivileged ISA.
 */
#include "cpu/cpu_int.h"

/* ORDER: enum rv_op (RV_OP_NONE, RV_OP_ILLEGAL, then the .def). */
const char *const rv_op_name[RV_OP_COUNT] = {
	"(none)", "(illegal)",
#define RV_INSN(name, match, mask, fmt, flags, ...) #name,
#include "cpu/rv64_insns.def"
#undef RV_INSN
};
const uint32_t rv_op_match[RV_OP_COUNT] = {
	0, 0,
#define RV_INSN(name, match, mask, fmt, flags, ...) match,
#include "cpu/rv64_insns.def"
#undef RV_INSN
};
const uint32_t rv_op_mask[RV_OP_COUNT] = {
	0, 0,
#define RV_INSN(name, match, mask, fmt, flags, ...) mask,
#include "cpu/rv64_insns.def"
#undef RV_INSN
};
const uint8_t rv_op_fmt[RV_OP_COUNT] = {
	RV_FMT_N, RV_FMT_N,
#define RV_INSN(name, match, mask, fmt, flags, ...) RV_FMT_##fmt,
#include "cpu/rv64_insns.def"
#undef RV_INSN
};
const uint8_t rv_op_flags[RV_OP_COUNT] = {
	0, 0,
#define RV_INSN(name, match, mask, fmt, flags, ...) flags,
#include "cpu/rv64_insns.def"
#undef RV_INSN
};

enum rvc_idx {
#define RVC_INSN(name, match, mask) RVC_##name,
#include "cpu/rvc_insns.def"
#undef RVC_INSN
	RVC_COUNT
};
const struct rvc_entry rvc_table[] = {
#define RVC_INSN(name, match, mask) { #name, match, mask },
#include "cpu/rvc_insns.def"
#undef RVC_INSN
};
const unsigned rvc_table_len = RVC_COUNT;

/* 32-bit opcodes used by the expansion. */
#define OP_LOAD   0x03
#define OP_IMM    0x13
#define OP_IMM32  0x1b
#define OP_STORE  0x23
#define OP_REG    0x33
#define OP_LUI    0x37
#define OP_REG32  0x3b
#define OP_BRANCH 0x63
#define OP_JALR   0x67
#define OP_JAL    0x6f

static uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static int32_t sext(uint32_t v, unsigned width)
{
	uint32_t m = 1u << (width - 1);

	v &= (width == 32) ? ~0u : ((1u << width) - 1);
	return (int32_t)((v ^ m) - m);
}

static uint32_t enc_i(uint32_t op, unsigned f3, unsigned rd, unsigned rs1, int32_t imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t enc_r(uint32_t op, unsigned f3, unsigned f7, unsigned rd, unsigned rs1,
		      unsigned rs2)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t enc_s(unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;

	return bits(u, 11, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | bits(u, 4, 0) << 7 |
	       OP_STORE;
}

static uint32_t enc_b(unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;

	return bits(u, 12, 12) << 31 | bits(u, 10, 5) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | bits(u, 4, 1) << 8 | bits(u, 11, 11) << 7 | OP_BRANCH;
}

static uint32_t enc_j(unsigned rd, int32_t imm)
{
	uint32_t u = (uint32_t)imm;

	return bits(u, 20, 20) << 31 | bits(u, 10, 1) << 21 | bits(u, 11, 11) << 20 |
	       bits(u, 19, 12) << 12 | rd << 7 | OP_JAL;
}

/* Find the RVC table row of @c (RVC_COUNT if none). */
static unsigned rvc_lookup(uint16_t c)
{
	for (unsigned i = 0; i < RVC_COUNT; i++)
		if ((c & rvc_table[i].mask) == rvc_table[i].match)
			return i;
	return RVC_COUNT;
}

uint32_t rvc_expand(uint16_t c)
{
	uint32_t x = c;
	unsigned rd = bits(x, 11, 7), rs2 = bits(x, 6, 2);
	unsigned rdp = 8 + bits(x, 4, 2), rs1p = 8 + bits(x, 9, 7);
	int32_t imm6 = sext(bits(x, 12, 12) << 5 | bits(x, 6, 2), 6);
	uint32_t uimm;
	int32_t imm;

	switch (rvc_lookup(c)) {
	case RVC_c_addi4spn:
		uimm = bits(x, 10, 7) << 6 | bits(x, 12, 11) << 4 | bits(x, 5, 5) << 3 |
		       bits(x, 6, 6) << 2;
		if (uimm == 0)
			return 0;   /* also catches the all-zero illegal instruction */
		return enc_i(OP_IMM, 0, rdp, 2, (int32_t)uimm);
	case RVC_c_lw:
		uimm = bits(x, 5, 5) << 6 | bits(x, 12, 10) << 3 | bits(x, 6, 6) << 2;
		return enc_i(OP_LOAD, 2, rdp, rs1p, (int32_t)uimm);
	case RVC_c_ld:
		uimm = bits(x, 6, 5) << 6 | bits(x, 12, 10) << 3;
		return enc_i(OP_LOAD, 3, rdp, rs1p, (int32_t)uimm);
	case RVC_c_sw:
		uimm = bits(x, 5, 5) << 6 | bits(x, 12, 10) << 3 | bits(x, 6, 6) << 2;
		return enc_s(2, rs1p, rdp, (int32_t)uimm);
	case RVC_c_sd:
		uimm = bits(x, 6, 5) << 6 | bits(x, 12, 10) << 3;
		return enc_s(3, rs1p, rdp, (int32_t)uimm);
	case RVC_c_addi:
		return enc_i(OP_IMM, 0, rd, rd, imm6);
	case RVC_c_addiw:
		if (rd == 0)
			return 0;
		return enc_i(OP_IMM32, 0, rd, rd, imm6);
	case RVC_c_li:
		return enc_i(OP_IMM, 0, rd, 0, imm6);
	case RVC_c_lui_addi16sp:
		if (rd == 2) {
			imm = sext(bits(x, 12, 12) << 9 | bits(x, 4, 3) << 7 | bits(x, 5, 5) << 6 |
				   bits(x, 2, 2) << 5 | bits(x, 6, 6) << 4, 10);
			if (imm == 0)
				return 0;
			return enc_i(OP_IMM, 0, 2, 2, imm);
		}
		if (imm6 == 0)
			return 0;
		return ((uint32_t)imm6 << 12) | rd << 7 | OP_LUI;
	case RVC_c_srli:
		return enc_i(OP_IMM, 5, rs1p, rs1p, (int32_t)(bits(x, 12, 12) << 5 | bits(x, 6, 2)));
	case RVC_c_srai:
		return enc_i(OP_IMM, 5, rs1p, rs1p,
			     (int32_t)(0x400 | bits(x, 12, 12) << 5 | bits(x, 6, 2)));
	case RVC_c_andi:
		return enc_i(OP_IMM, 7, rs1p, rs1p, imm6);
	case RVC_c_sub:
		return enc_r(OP_REG, 0, 0x20, rs1p, rs1p, rdp);
	case RVC_c_xor:
		return enc_r(OP_REG, 4, 0, rs1p, rs1p, rdp);
	case RVC_c_or:
		return enc_r(OP_REG, 6, 0, rs1p, rs1p, rdp);
	case RVC_c_and:
		return enc_r(OP_REG, 7, 0, rs1p, rs1p, rdp);
	case RVC_c_subw:
		return enc_r(OP_REG32, 0, 0x20, rs1p, rs1p, rdp);
	case RVC_c_addw:
		return enc_r(OP_REG32, 0, 0, rs1p, rs1p, rdp);
	case RVC_c_j:
		imm = sext(bits(x, 12, 12) << 11 | bits(x, 8, 8) << 10 | bits(x, 10, 9) << 8 |
			   bits(x, 6, 6) << 7 | bits(x, 7, 7) << 6 | bits(x, 2, 2) << 5 |
			   bits(x, 11, 11) << 4 | bits(x, 5, 3) << 1, 12);
		return enc_j(0, imm);
	case RVC_c_beqz:
	case RVC_c_bnez:
		imm = sext(bits(x, 12, 12) << 8 | bits(x, 6, 5) << 6 | bits(x, 2, 2) << 5 |
			   bits(x, 11, 10) << 3 | bits(x, 4, 3) << 1, 9);
		return enc_b(rvc_lookup(c) == RVC_c_beqz ? 0 : 1, rs1p, 0, imm);
	case RVC_c_slli:
		return enc_i(OP_IMM, 1, rd, rd, (int32_t)(bits(x, 12, 12) << 5 | bits(x, 6, 2)));
	case RVC_c_lwsp:
		if (rd == 0)
			return 0;
		uimm = bits(x, 3, 2) << 6 | bits(x, 12, 12) << 5 | bits(x, 6, 4) << 2;
		return enc_i(OP_LOAD, 2, rd, 2, (int32_t)uimm);
	case RVC_c_ldsp:
		if (rd == 0)
			return 0;
		uimm = bits(x, 4, 2) << 6 | bits(x, 12, 12) << 5 | bits(x, 6, 5) << 3;
		return enc_i(OP_LOAD, 3, rd, 2, (int32_t)uimm);
	case RVC_c_jr_mv:
		if (rs2 == 0)   /* c.jr */
			return rd == 0 ? 0 : enc_i(OP_JALR, 0, 0, rd, 0);
		return enc_r(OP_REG, 0, 0, rd, 0, rs2);    /* c.mv */
	case RVC_c_ebreak_jalr_add:
		if (rs2 == 0)
			return rd == 0 ? 0x00100073u               /* c.ebreak */
				       : enc_i(OP_JALR, 0, 1, rd, 0);  /* c.jalr */
		return enc_r(OP_REG, 0, 0, rd, rd, rs2);       /* c.add */
	case RVC_c_swsp:
		uimm = bits(x, 8, 7) << 6 | bits(x, 12, 9) << 2;
		return enc_s(2, 2, rs2, (int32_t)uimm);
	case RVC_c_sdsp:
		uimm = bits(x, 9, 7) << 6 | bits(x, 12, 10) << 3;
		return enc_s(3, 2, rs2, (int32_t)uimm);
	default:
		return 0;
	}
}

/*
 * Opcode-indexed candidate lists make the match/mask search short; they
 * are built on first use from the generated tables.
 */
static uint16_t cand[128][40];
static uint8_t ncand[128];
static bool cand_ready;

static void build_cand(void)
{
	for (unsigned op = RV_OP_ILLEGAL + 1; op < RV_OP_COUNT; op++) {
		unsigned opc = rv_op_match[op] & 0x7f;

		if (ncand[opc] >= sizeof(cand[0]) / sizeof(cand[0][0]))
			sim_fatal("cpu: too many instructions with opcode 0x%02x", opc);
		cand[opc][ncand[opc]++] = (uint16_t)op;
	}
	cand_ready = true;
}

enum rv_op rv_lookup(uint32_t b)
{
	unsigned opc = b & 0x7f;

	if (!cand_ready)
		build_cand();
	if ((b & 3) != 3)
		return RV_OP_ILLEGAL;
	for (unsigned i = 0; i < ncand[opc]; i++) {
		unsigned op = cand[opc][i];
		if ((b & rv_op_mask[op]) == rv_op_match[op])
			return (enum rv_op)op;
	}
	return RV_OP_ILLEGAL;
}

static void decode(uint32_t raw, struct rv_dinsn *d)
{
	uint32_t b = raw;
	enum rv_op op;

	memset(d, 0, sizeof(*d));
	d->raw = raw;
	d->len = 4;
	if ((raw & 3) != 3) {
		d->raw = raw & 0xffff;
		d->len = 2;
		b = rvc_expand((uint16_t)raw);
		if (b == 0) {
			d->op = RV_OP_ILLEGAL;
			return;
		}
	}
	op = rv_lookup(b);
	d->op = (uint16_t)op;
	if (op == RV_OP_ILLEGAL)
		return;
	d->rd = (uint8_t)bits(b, 11, 7);
	d->rs1 = (uint8_t)bits(b, 19, 15);
	d->rs2 = (uint8_t)bits(b, 24, 20);
	switch ((enum rv_fmt)rv_op_fmt[op]) {
	case RV_FMT_R:
		break;
	case RV_FMT_I:
		d->imm = sext(bits(b, 31, 20), 12);
		break;
	case RV_FMT_S:
		d->imm = sext(bits(b, 31, 25) << 5 | bits(b, 11, 7), 12);
		break;
	case RV_FMT_B:
		d->imm = sext(bits(b, 31, 31) << 12 | bits(b, 7, 7) << 11 | bits(b, 30, 25) << 5 |
			      bits(b, 11, 8) << 1, 13);
		break;
	case RV_FMT_U:
		d->imm = (int32_t)(b & 0xfffff000u);
		break;
	case RV_FMT_J:
		d->imm = sext(bits(b, 31, 31) << 20 | bits(b, 19, 12) << 12 | bits(b, 20, 20) << 11 |
			      bits(b, 30, 21) << 1, 21);
		break;
	case RV_FMT_SH:
		d->imm = (int32_t)bits(b, 25, 20);
		break;
	case RV_FMT_SHW:
		d->imm = (int32_t)bits(b, 24, 20);
		break;
	case RV_FMT_CSR:
		d->imm = (int32_t)bits(b, 31, 20);
		break;
	case RV_FMT_N:
		break;
	}
	/* x0 and formats without rd write the sink register */
	if (d->rd == 0 || rv_op_fmt[op] == RV_FMT_S || rv_op_fmt[op] == RV_FMT_B ||
	    rv_op_fmt[op] == RV_FMT_N)
		d->rd = RV_RD_SINK;
}

void rv_decode(uint32_t raw, struct rv_dinsn *d)
{
	decode(raw, d);
	d->xop = (uint16_t)RV_XOP(d->op, d->len);
}
