/* lwu */
RV_INSN(lwu, 0x00006003, 0x0000707f, I, RV_F_MEM,
	uint32_t v;
	LOAD(uint32_t, RS1 + IMM, v);
	WRITE_RD((int64_t)v);
)
