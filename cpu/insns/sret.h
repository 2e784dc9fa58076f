/* sret */
RV_INSN(sret, 0x10200073, 0xffffffff, N, RV_F_SYS | RV_F_CTRL,
	REQUIRE_PRIV(RV_PRIV_S);
	if (PRIV == RV_PRIV_S && (h->mstatus & MSTATUS_TSR))
		ILLEGAL();
	XRET(rv_sret(h));
)
