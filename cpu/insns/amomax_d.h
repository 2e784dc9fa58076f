/* amomax.d */
RV_INSN(amomax_d, 0xa000302f, 0xf800707f, R, RV_F_MEM,
	AMO(uint64_t, RS1, (uint64_t)(uint64_t)RS2, ((int64_t)a>(int64_t)b?a:b));
)
