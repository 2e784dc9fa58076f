/*
 * guest_vm.h - for the CPU tests: a guest VM built by the stack from the
 * vm.* keys (VM 0, the stats names of `protsim exec`), and the module list
 * of a full machine.
 */
#ifndef PROTSIM_TESTS_GUEST_VM_H
#define PROTSIM_TESTS_GUEST_VM_H

#include "sim/stack/stack_int.h"

static inline struct stack_vm *tg_vm_new(struct sim *s, FILE *console, struct sim_err *err)
{
	static const struct stack_guest_cfg gc = { .id = 0, .vcpu_prefix = "", .vm_prefix = "vm" };

	return stack_guest_new(s, &gc, console, err);
}

#endif
