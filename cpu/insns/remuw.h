/* remuw */
RV_INSN(remuw, 0x0200703b, 0xfe00707f, R, 0,
	uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
	STALL(LAT(div));
	WRITE_RD(b == 0 ? SEXT32(a) : SEXT32(a % b));
)
