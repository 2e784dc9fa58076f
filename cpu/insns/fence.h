/* fence */
RV_INSN(fence, 0x0000000f, 0x0000707f, N, 0,
	(void)0;
)
