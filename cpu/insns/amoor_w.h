/* amoor.w */
RV_INSN(amoor_w, 0x4000202f, 0xf800707f, R, RV_F_MEM,
	AMO(uint32_t, RS1, (uint64_t)(uint32_t)RS2, a|b);
)
