/* sw */
RV_INSN(sw, 0x00002023, 0x0000707f, S, RV_F_MEM,
	STORE(uint32_t, RS1 + IMM, RS2);
)
