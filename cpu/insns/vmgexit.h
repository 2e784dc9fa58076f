/* vmgexit */
RV_INSN(vmgexit, 0x0600000b, 0xffffffff, N, RV_F_SYS | RV_F_CUSTOM,
	SLOW(rv_exec_custom(h, d, PC));
)
