/* remw */
RV_INSN(remw, 0x0200603b, 0xfe00707f, R, 0,
	int32_t a = (int32_t)RS1, b = (int32_t)RS2;
	STALL(LAT(div));
	if (b == 0)
		WRITE_RD((int64_t)a);
	else if (a == INT32_MIN && b == -1)
		WRITE_RD(0);
	else
		WRITE_RD((int64_t)(a % b));
)
