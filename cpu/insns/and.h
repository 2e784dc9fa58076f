/* and */
RV_INSN(and, 0x00007033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 & RS2);
)
