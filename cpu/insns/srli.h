/* srli */
RV_INSN(srli, 0x00005013, 0xfc00707f, SH, 0,
	WRITE_RD(RS1 >> IMM);
)
