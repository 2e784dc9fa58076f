/* div */
RV_INSN(div, 0x02004033, 0xfe00707f, R, 0,
	STALL(LAT(div));
	if (RS2 == 0)
		WRITE_RD(~0ull);
	else if (SRS1 == INT64_MIN && SRS2 == -1)
		WRITE_RD(RS1);
	else
		WRITE_RD(SRS1 / SRS2);
)
