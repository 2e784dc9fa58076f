/* addi */
RV_INSN(addi, 0x00000013, 0x0000707f, I, 0,
	WRITE_RD(RS1 + IMM);
)
