/* sh */
RV_INSN(sh, 0x00001023, 0x0000707f, S, RV_F_MEM,
	STORE(uint16_t, RS1 + IMM, RS2);
)
