/* sc.w */
RV_INSN(sc_w, 0x1800202f, 0xf800707f, R, RV_F_MEM,
	SC(uint32_t, RS1, RS2);
)
