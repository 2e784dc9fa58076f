/* mul */
RV_INSN(mul, 0x02000033, 0xfe00707f, R, 0,
	STALL(LAT(mul));
	WRITE_RD(RS1 * RS2);
)
