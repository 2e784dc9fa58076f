/* sll */
RV_INSN(sll, 0x00001033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 << (RS2 & 63));
)
