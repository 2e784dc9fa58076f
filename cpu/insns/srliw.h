/* srliw */
RV_INSN(srliw, 0x0000501b, 0xfe00707f, SHW, 0,
	WRITE_RD(SEXT32((uint32_t)RS1 >> IMM));
)
