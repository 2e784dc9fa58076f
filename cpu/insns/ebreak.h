/* ebreak */
RV_INSN(ebreak, 0x00100073, 0xffffffff, N, RV_F_SYS,
	TRAP(RV_CAUSE_BREAKPOINT, PC);
)
