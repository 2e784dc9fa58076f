/* csrrw */
RV_INSN(csrrw, 0x00001073, 0x0000707f, CSR, RV_F_SYS,
	STALL(LAT(csr));
	SLOW(rv_csr_insn(h, d, PC));
)
