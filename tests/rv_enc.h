/*
 * rv_enc.h - RV64 instruction encoders shared by the CPU unit tests
 * (tests only: the simulator decodes, it never encodes).
 */
#ifndef PROTSIM_TESTS_RV_ENC_H
#define PROTSIM_TESTS_RV_ENC_H

#include <stdint.h>

#define RAM 0x80000000ull   /* guest RAM base of the test machines */

#define R(f7, rs2, rs1, f3, rd, op) \
	((uint32_t)(f7) << 25 | (uint32_t)(rs2) << 20 | (uint32_t)(rs1) << 15 | \
	 (uint32_t)(f3) << 12 | (uint32_t)(rd) << 7 | (uint32_t)(op))
#define I(imm, rs1, f3, rd, op) \
	(((uint32_t)(imm) & 0xfff) << 20 | (uint32_t)(rs1) << 15 | (uint32_t)(f3) << 12 | \
	 (uint32_t)(rd) << 7 | (uint32_t)(op))
#define S(imm, rs2, rs1, f3) \
	(((uint32_t)(imm) >> 5 & 0x7f) << 25 | (uint32_t)(rs2) << 20 | (uint32_t)(rs1) << 15 | \
	 (uint32_t)(f3) << 12 | ((uint32_t)(imm) & 0x1f) << 7 | 0x23)
#define B(imm, rs2, rs1, f3) \
	(((uint32_t)(imm) >> 12 & 1) << 31 | ((uint32_t)(imm) >> 5 & 0x3f) << 25 | \
	 (uint32_t)(rs2) << 20 | (uint32_t)(rs1) << 15 | (uint32_t)(f3) << 12 | \
	 ((uint32_t)(imm) >> 1 & 0xf) << 8 | ((uint32_t)(imm) >> 11 & 1) << 7 | 0x63)
#define CSRRW(rd, csr, rs1) I((int32_t)(csr), rs1, 1, rd, 0x73)
#define CSRRS(rd, csr, rs1) I((int32_t)(csr), rs1, 2, rd, 0x73)
#define LD(rd, off, rs1) I(off, rs1, 3, rd, 0x03)
#define SD(rs2, off, rs1) S(off, rs2, rs1, 3)
#define ADDI(rd, rs1, imm) I(imm, rs1, 0, rd, 0x13)
#define ECALL 0x00000073u
#define MRET 0x30200073u
#define SRET 0x10200073u
#define WFI 0x10500073u
#define J(imm, rd) \
	(((uint32_t)(imm) >> 20 & 1) << 31 | ((uint32_t)(imm) >> 1 & 0x3ff) << 21 | \
	 ((uint32_t)(imm) >> 11 & 1) << 20 | ((uint32_t)(imm) >> 12 & 0xff) << 12 | \
	 (uint32_t)(rd) << 7 | 0x6f)
#define SW(rs2, off, rs1) S(off, rs2, rs1, 2)
#define SH(rs2, off, rs1) S(off, rs2, rs1, 1)
#define BNE(rs1, rs2, off) B(off, rs2, rs1, 1)
#define FENCE_I 0x0000100fu
#define NOP ADDI(0, 0, 0)

#endif
