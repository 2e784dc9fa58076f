/* andi */
RV_INSN(andi, 0x00007013, 0x0000707f, I, 0,
	WRITE_RD(RS1 & (uint64_t)IMM);
)
