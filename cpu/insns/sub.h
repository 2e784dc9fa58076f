/* sub */
RV_INSN(sub, 0x40000033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 - RS2);
)
