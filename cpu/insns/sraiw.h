/* sraiw */
RV_INSN(sraiw, 0x4000501b, 0xfe00707f, SHW, 0,
	WRITE_RD(SEXT32((int32_t)RS1 >> IMM));
)
