/* pvalidate */
RV_INSN(pvalidate, 0x0000000b, 0xffffffff, N, RV_F_SYS | RV_F_CUSTOM,
	SLOW(rv_exec_custom(h, d, PC));
)
