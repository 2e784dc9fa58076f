/* sc.d */
RV_INSN(sc_d, 0x1800302f, 0xf800707f, R, RV_F_MEM,
	SC(uint64_t, RS1, RS2);
)
