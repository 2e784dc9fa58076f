/*
 * profiles.S - latency profiles embedded in the binary, so that
 * build/protsim runs from anywhere.  The data files are sim/profiles/NAME.prof;
 * sim.c lists them by name (ORDER: keep the two lists in sync).
 */
	.section .rodata
	.globl	sim_profile_generic
sim_profile_generic:
	.incbin	"sim/profiles/generic.prof"
	.byte	0
	.section .note.GNU-stack,"",@progbits
