/*
 * trap.S - a C-callable M-mode trap entry: saves x1..x31 and mepc/mcause/
 * mtval in a struct protsim_frame on the stack, calls the handler given to
 * protsim_on_trap(), restores (mepc may have been changed) and mret.
 */
	.text
	.globl protsim_on_trap
protsim_on_trap:
	la	t0, protsim_trap_c
	sd	a0, 0(t0)
	la	t0, protsim_trap_hook
	beqz	a0, 1f
	la	t1, protsim_trap_entry
	sd	t1, 0(t0)
	ret
1:	sd	zero, 0(t0)
	ret

	.align 2
protsim_trap_entry:
	addi	sp, sp, -(35 * 8)
	.irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	sd	x\n, (\n * 8)(sp)
	.endr
	addi	t0, sp, 35 * 8
	sd	t0, (2 * 8)(sp)			/* the interrupted sp */
	csrr	t0, mepc
	sd	t0, (32 * 8)(sp)
	csrr	t0, mcause
	sd	t0, (33 * 8)(sp)
	csrr	t0, mtval
	sd	t0, (34 * 8)(sp)
	mv	a0, sp
	la	t0, protsim_trap_c
	ld	t0, 0(t0)
	jalr	t0
	ld	t0, (32 * 8)(sp)
	csrw	mepc, t0
	.irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ld	x\n, (\n * 8)(sp)
	.endr
	addi	sp, sp, 35 * 8
	mret

	.section .sbss, "aw", @nobits
	.align	3
	.globl	protsim_trap_hook
protsim_trap_hook:
	.zero	8
protsim_trap_c:
	.zero	8
