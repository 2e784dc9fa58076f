/* lw */
RV_INSN(lw, 0x00002003, 0x0000707f, I, RV_F_MEM,
	int32_t v;
	LOAD(int32_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
