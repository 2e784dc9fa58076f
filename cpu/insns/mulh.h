/* mulh */
RV_INSN(mulh, 0x02001033, 0xfe00707f, R, 0,
	STALL(LAT(mul));
	WRITE_RD((uint64_t)(((__int128)SRS1 * (__int128)SRS2) >> 64));
)
