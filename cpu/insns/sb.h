/* sb */
RV_INSN(sb, 0x00000023, 0x0000707f, S, RV_F_MEM,
	STORE(uint8_t, RS1 + IMM, RS2);
)
