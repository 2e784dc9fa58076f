/* lh */
RV_INSN(lh, 0x00001003, 0x0000707f, I, RV_F_MEM,
	int16_t v;
	LOAD(int16_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
