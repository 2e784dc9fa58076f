/* csrrs */
RV_INSN(csrrs, 0x00002073, 0x0000707f, CSR, RV_F_SYS,
	STALL(LAT(csr));
	SLOW(rv_csr_insn(h, d, PC));
)
