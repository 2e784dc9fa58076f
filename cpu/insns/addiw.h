/* addiw */
RV_INSN(addiw, 0x0000001b, 0x0000707f, I, 0,
	WRITE_RD(SEXT32(RS1 + IMM));
)
