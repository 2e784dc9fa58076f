/* srlw */
RV_INSN(srlw, 0x0000503b, 0xfe00707f, R, 0,
	WRITE_RD(SEXT32((uint32_t)RS1 >> (RS2 & 31)));
)
