/* amoor.d */
RV_INSN(amoor_d, 0x4000302f, 0xf800707f, R, RV_F_MEM,
	AMO(uint64_t, RS1, (uint64_t)(uint64_t)RS2, a|b);
)
