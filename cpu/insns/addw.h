/* addw */
RV_INSN(addw, 0x0000003b, 0xfe00707f, R, 0,
	WRITE_RD(SEXT32(RS1 + RS2));
)
