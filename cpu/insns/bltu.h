/* bltu */
RV_INSN(bltu, 0x00006063, 0x0000707f, B, RV_F_CTRL,
	if (RS1 < RS2)
		BRANCH(PC + IMM);
)
