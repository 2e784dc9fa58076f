/* slt */
RV_INSN(slt, 0x00002033, 0xfe00707f, R, 0,
	WRITE_RD(SRS1 < SRS2);
)
