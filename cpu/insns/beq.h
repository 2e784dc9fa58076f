/* beq */
RV_INSN(beq, 0x00000063, 0x0000707f, B, RV_F_CTRL,
	if (RS1 == RS2)
		BRANCH(PC + IMM);
)
