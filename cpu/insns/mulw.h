/* mulw */
RV_INSN(mulw, 0x0200003b, 0xfe00707f, R, 0,
	STALL(LAT(mul));
	WRITE_RD(SEXT32(RS1 * RS2));
)
