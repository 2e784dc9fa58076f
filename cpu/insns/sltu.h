/* sltu */
RV_INSN(sltu, 0x00003033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 < RS2);
)
