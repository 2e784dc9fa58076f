/* rem */
RV_INSN(rem, 0x02006033, 0xfe00707f, R, 0,
	STALL(LAT(div));
	if (RS2 == 0)
		WRITE_RD(RS1);
	else if (SRS1 == INT64_MIN && SRS2 == -1)
		WRITE_RD(0);
	else
		WRITE_RD(SRS1 % SRS2);
)
