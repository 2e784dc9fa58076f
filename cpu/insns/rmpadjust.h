/* rmpadjust */
RV_INSN(rmpadjust, 0x0200000b, 0xffffffff, N, RV_F_SYS | RV_F_CUSTOM,
	SLOW(rv_exec_custom(h, d, PC));
)
