/* sra */
RV_INSN(sra, 0x40005033, 0xfe00707f, R, 0,
	WRITE_RD(SRS1 >> (RS2 & 63));
)
