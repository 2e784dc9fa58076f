/* lhu */
RV_INSN(lhu, 0x00005003, 0x0000707f, I, RV_F_MEM,
	uint16_t v;
	LOAD(uint16_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
