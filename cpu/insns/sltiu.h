/* sltiu */
RV_INSN(sltiu, 0x00003013, 0x0000707f, I, 0,
	WRITE_RD(RS1 < (uint64_t)IMM);
)
