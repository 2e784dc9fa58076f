/* srl */
RV_INSN(srl, 0x00005033, 0xfe00707f, R, 0,
	WRITE_RD(RS1 >> (RS2 & 63));
)
