/* mulhu */
RV_INSN(mulhu, 0x02003033, 0xfe00707f, R, 0,
	STALL(LAT(mul));
	WRITE_RD((uint64_t)(((unsigned __int128)RS1 * (unsigned __int128)RS2) >> 64));
)
