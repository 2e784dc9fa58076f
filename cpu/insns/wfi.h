/* wfi */
RV_INSN(wfi, 0x10500073, 0xffffffff, N, RV_F_SYS,
	SLOW(rv_exec_wfi(h, PC));
)
