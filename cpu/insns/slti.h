/* slti */
RV_INSN(slti, 0x00002013, 0x0000707f, I, 0,
	WRITE_RD(SRS1 < IMM);
)
