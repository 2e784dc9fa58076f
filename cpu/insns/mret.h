/* mret */
RV_INSN(mret, 0x30200073, 0xffffffff, N, RV_F_SYS | RV_F_CTRL,
	REQUIRE_PRIV(RV_PRIV_M);
	XRET(rv_mret(h));
)
