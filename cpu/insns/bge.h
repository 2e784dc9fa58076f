/* bge */
RV_INSN(bge, 0x00005063, 0x0000707f, B, RV_F_CTRL,
	if (SRS1 >= SRS2)
		BRANCH(PC + IMM);
)
