/* ld */
RV_INSN(ld, 0x00003003, 0x0000707f, I, RV_F_MEM,
	int64_t v;
	LOAD(int64_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
