/*
 * coro_x86_64.S - the coroutine context switch for x86-64 (System V ABI).
 *
 * void sim_coro_switch(void **save_sp, void *load_sp)
 *   Saves the callee-saved general registers on the current stack, stores
 *   the stack pointer in *save_sp, loads load_sp and restores the same set
 *   from there.  Caller-saved state is the C compiler's business, as for
 *   any call.  MXCSR and the x87 control word are NOT switched: protsim
 *   never changes rounding modes or exception masks, and restoring them
 *   (ldmxcsr/fldcw serialise) would cost more than the rest of the switch.
 *
 * sim_coro_boot: first "return address" of a new coroutine: calls
 *   r13(r12), which never returns.
 */
#if defined(__x86_64__)
	.text
	.globl	sim_coro_switch
	.type	sim_coro_switch, @function
sim_coro_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	sim_coro_switch, .-sim_coro_switch

	.globl	sim_coro_boot
	.type	sim_coro_boot, @function
sim_coro_boot:
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.size	sim_coro_boot, .-sim_coro_boot
#endif
	.section .note.GNU-stack,"",@progbits
