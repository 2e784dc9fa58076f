/* divu */
RV_INSN(divu, 0x02005033, 0xfe00707f, R, 0,
	STALL(LAT(div));
	WRITE_RD(RS2 == 0 ? ~0ull : RS1 / RS2);
)
