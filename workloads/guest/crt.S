/*
 * crt.S - start-up for protsim guest programs (all harts enter here, in
 * M mode, as on Spike).  Hart 0 zeroes .bss, sets up picolibc's TLS,
 * runs main() and reports its return value through HTIF exit.  Other
 * harts call secondary_main(hartid) if the program defines it, else they
 * park in WFI.
 */
	.section .text.init, "ax"
	.globl _start
_start:
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	csrr	t0, mhartid
	li	t1, 8
	bgeu	t0, t1, park			/* more harts than stacks */
	la	sp, __stacks
	addi	t2, t0, 1
	li	t1, 65536
	mul	t2, t2, t1
	add	sp, sp, t2
	la	t1, trap_vector
	csrw	mtvec, t1
	li	t1, -1				/* PMP: let S and U mode reach everything */
	csrw	pmpaddr0, t1
	li	t1, 0x1f			/* NAPOT, R W X */
	csrw	pmpcfg0, t1
	bnez	t0, secondary
#ifdef PROTSIM_BOOT_ARG
	mv	s1, a1				/* boot parameters (kept across the .bss loop) */
#endif
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:
#ifdef PROTSIM_BOOT_ARG
	la	t0, protsim_boot_arg
	sd	s1, 0(t0)
#endif
	la	a0, __tls_base
	call	_init_tls
	la	a0, __tls_base
	call	_set_tls
	la	t0, protsim_boot_done
	li	t1, 1
	sd	t1, 0(t0)
	call	main
	call	protsim_exit
3:	j	3b

secondary:
	/* wait until hart 0 has initialised memory */
	la	t0, protsim_boot_done
1:	ld	t1, 0(t0)
	beqz	t1, 1b
	la	t0, secondary_main
	beqz	t0, park
	csrr	a0, mhartid
	jalr	t0
park:
	wfi
	j	park

/* Default trap handler: programs install their own with protsim_set_trap(). */
	.align 2
	.globl trap_vector
trap_vector:
	la	t0, protsim_trap_hook
	ld	t0, 0(t0)
	beqz	t0, 1f
	jr	t0
1:	csrr	a0, mcause
	csrr	a1, mepc
	csrr	a2, mtval
	call	protsim_unexpected_trap
4:	j	4b

	.weak	secondary_main
	.section .sbss, "aw", @nobits
	.align	3
	.globl	protsim_boot_done
protsim_boot_done:
	.zero	8
#ifdef PROTSIM_BOOT_ARG
	.globl	protsim_boot_arg
protsim_boot_arg:
	.zero	8
#endif
