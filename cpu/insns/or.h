/* or */
RV_INSN(or, 0x00006033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 | RS2);
)
