/* ori */
RV_INSN(ori, 0x00006013, 0x0000707f, I, 0,
	WRITE_RD(RS1 | (uint64_t)IMM);
)
