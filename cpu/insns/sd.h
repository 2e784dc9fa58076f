/* sd */
RV_INSN(sd, 0x00003023, 0x0000707f, S, RV_F_MEM,
	STORE(uint64_t, RS1 + IMM, RS2);
)
