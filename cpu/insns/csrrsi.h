/* csrrsi */
RV_INSN(csrrsi, 0x00006073, 0x0000707f, CSR, RV_F_SYS,
	STALL(LAT(csr));
	SLOW(rv_csr_insn(h, d, PC));
)
