/* auipc */
RV_INSN(auipc, 0x00000017, 0x0000007f, U, 0,
	WRITE_RD(PC + IMM);
)
