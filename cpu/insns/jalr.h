/* jalr */
RV_INSN(jalr, 0x00000067, 0x0000707f, I, RV_F_CTRL,
	uint64_t t = (RS1 + IMM) & ~1ull;
	WRITE_RD(NPC);
	JUMP(t);
)
