/* bne */
RV_INSN(bne, 0x00001063, 0x0000707f, B, RV_F_CTRL,
	if (RS1 != RS2)
		BRANCH(PC + IMM);
)
