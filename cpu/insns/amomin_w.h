/* amomin.w */
RV_INSN(amomin_w, 0x8000202f, 0xf800707f, R, RV_F_MEM,
	AMO(uint32_t, RS1, (uint64_t)(uint32_t)RS2, ((int32_t)a<(int32_t)b?a:b));
)
