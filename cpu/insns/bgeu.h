/* bgeu */
RV_INSN(bgeu, 0x00007063, 0x0000707f, B, RV_F_CTRL,
	if (RS1 >= RS2)
		BRANCH(PC + IMM);
)
