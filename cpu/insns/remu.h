/* remu */
RV_INSN(remu, 0x02007033, 0xfe00707f, R, 0,
	STALL(LAT(div));
	WRITE_RD(RS2 == 0 ? RS1 : RS1 % RS2);
)
