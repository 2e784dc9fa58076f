/* ecall */
RV_INSN(ecall, 0x00000073, 0xffffffff, N, RV_F_SYS,
	TRAP(RV_CAUSE_ECALL_U + PRIV, 0);
)
