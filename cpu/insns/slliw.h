/* slliw */
RV_INSN(slliw, 0x0000101b, 0xfe00707f, SHW, 0,
	WRITE_RD(SEXT32(RS1 << IMM));
)
