/* amoand.w */
RV_INSN(amoand_w, 0x6000202f, 0xf800707f, R, RV_F_MEM,
	AMO(uint32_t, RS1, (uint64_t)(uint32_t)RS2, a&b);
)
