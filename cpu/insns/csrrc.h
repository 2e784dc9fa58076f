/* csrrc */
RV_INSN(csrrc, 0x00003073, 0x0000707f, CSR, RV_F_SYS,
	STALL(LAT(csr));
	SLOW(rv_csr_insn(h, d, PC));
)
