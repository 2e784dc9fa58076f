/* sraw */
RV_INSN(sraw, 0x4000503b, 0xfe00707f, R, 0,
	WRITE_RD(SEXT32((int32_t)RS1 >> (RS2 & 31)));
)
