/* subw */
RV_INSN(subw, 0x4000003b, 0xfe00707f, R, 0,
	WRITE_RD(SEXT32(RS1 - RS2));
)
