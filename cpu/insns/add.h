/* add */
RV_INSN(add, 0x00000033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 + RS2);
)
