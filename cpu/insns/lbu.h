/* lbu */
RV_INSN(lbu, 0x00004003, 0x0000707f, I, RV_F_MEM,
	uint8_t v;
	LOAD(uint8_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
