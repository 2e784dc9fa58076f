/* rmpquery */
RV_INSN(rmpquery, 0x0400000b, 0xffffffff, N, RV_F_SYS | RV_F_CUSTOM,
	SLOW(rv_exec_custom(h, d, PC));
)
