/* lb */
RV_INSN(lb, 0x00000003, 0x0000707f, I, RV_F_MEM,
	int8_t v;
	LOAD(int8_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
