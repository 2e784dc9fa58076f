/* xor */
RV_INSN(xor, 0x00004033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 ^ RS2);
)
