/* mulhsu */
RV_INSN(mulhsu, 0x02002033, 0xfe00707f, R, 0,
	STALL(LAT(mul));
	WRITE_RD((uint64_t)(((__int128)SRS1 * (__int128)(unsigned __int128)RS2) >> 64));
)
