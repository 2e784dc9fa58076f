/* srai */
RV_INSN(srai, 0x40005013, 0xfc00707f, SH, 0,
	WRITE_RD(SRS1 >> IMM);
)
