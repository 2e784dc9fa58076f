/* xori */
RV_INSN(xori, 0x00004013, 0x0000707f, I, 0,
	WRITE_RD(RS1 ^ (uint64_t)IMM);
)
