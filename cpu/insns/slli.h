/* slli */
RV_INSN(slli, 0x00001013, 0xfc00707f, SH, 0,
	WRITE_RD(RS1 << IMM);
)
