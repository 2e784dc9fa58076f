/* blt */
RV_INSN(blt, 0x00004063, 0x0000707f, B, RV_F_CTRL,
	if (SRS1 < SRS2)
		BRANCH(PC + IMM);
)
