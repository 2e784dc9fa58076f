/* lr.d */
RV_INSN(lr_d, 0x1000302f, 0xf9f0707f, R, RV_F_MEM,
	int64_t v;
	LR(int64_t, RS1, v);
	WRITE_RD((int64_t)v);
)
