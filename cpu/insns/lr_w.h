/* lr.w */
RV_INSN(lr_w, 0x1000202f, 0xf9f0707f, R, RV_F_MEM,
	int32_t v;
	LR(int32_t, RS1, v);
	WRITE_RD((int64_t)v);
)
