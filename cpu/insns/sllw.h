/* sllw */
RV_INSN(sllw, 0x0000103b, 0xfe00707f, R, 0,
	WRITE_RD(SEXT32((uint32_t)RS1 << (RS2 & 31)));
)
