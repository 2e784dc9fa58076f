/* lui */
RV_INSN(lui, 0x00000037, 0x0000007f, U, 0,
	WRITE_RD(IMM);
)
