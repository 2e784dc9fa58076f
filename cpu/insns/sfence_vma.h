/* sfence.vma */
RV_INSN(sfence_vma, 0x12000073, 0xfe007fff, R, RV_F_SYS,
	SLOW(rv_exec_sfence(h, d, PC));
)
