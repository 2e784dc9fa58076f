/* fence.i */
RV_INSN(fence_i, 0x0000100f, 0x0000707f, N, RV_F_SYS,
	FENCE_I();
)
