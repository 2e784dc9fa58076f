/*
 * pkvm_host.h - the pKVM host of a machine (`machine host=pkvm`): the
 * hypervisor at EL2 (pkvm_mem.c) built over the machine's memory, its pool
 * taken from the host page allocator, the host kernel's accesses through
 * the host stage 2, the VMs of `vm create` on such a machine as pKVM
 * VMs (protected with type=pkvm, else non-protected), their guest
 * hypercalls (MEM_SHARE, MEM_UNSHARE, MEM_RELINQUISH, HYP_MEMINFO) and
 * their teardown.  Private to sim/stack.  Reference: docs/pkvm.md, "The
 * pKVM host".
 *
 * The hooks other files of the stack call are marked "pKVM hook" where
 * they are called; each is a no-op (or false) on a machine with
 * host=kvm.
 */
#ifndef PROTSIM_STACK_PKVM_HOST_H
#define PROTSIM_STACK_PKVM_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"
#include "sim/stack/pkvm_mem.h"

struct stack;
struct stack_vm;
struct stack_pkvm_host;

/* The module: keys `host`, `pkvm.*`, `lat.pkvm.*`; the `pkvm ...` operations (ops_pkvm.c). */
extern const struct sim_module stack_pkvm_module;

/* The machine's pKVM host, or NULL (host=kvm, or no such module). */
struct stack_pkvm_host *stack_pkvm_host_of(const struct sim *s);
/* Its hypervisor model. */
struct stack_pkvm *stack_pkvm_host_model(struct stack_pkvm_host *ph);

/*
 * A host access to physical address @pa (the host kernel's direct map,
 * a user mapping or a uaccess helper, as @by says) on a pKVM machine:
 * through the host stage 2 of the MMU of who->agent; a translation fault
 * traps to EL2 (handle_host_mem_abort), which maps a page the host owns
 * (lazily, the largest uniformly owned block) or injects an abort the host
 * turns into an oops (kernel), SIGSEGV (user) or -EFAULT (an
 * exception-table fix-up).  This is what `host write pa=` / `host read
 * pa=` call on a pKVM machine.  The cycles of the walk, the abort and the
 * injection are added to *@cycles (memory cycles to who->mem_cycles).
 * Return: 0 with @res filled; -EINVAL: @pa outside host memory; -ENODEV:
 * the machine is not a pKVM host.
 */
int stack_pkvm_machine_access(struct sim *s, struct sim_who *who, uint64_t pa, bool write,
			      enum stack_pkvm_by by, struct stack_pkvm_acc_res *res,
			      uint64_t *cycles);

/* ---- hooks (each: "pKVM hook" at its call site) ---- */

/*
 * The VMM of @v touches guest memory at host physical @spa through its own
 * mapping (loading a program, its devices' reads and writes): on a pKVM
 * VM a user access through the host stage 2 of agent @a (NULL: untimed),
 * its cycles charged to @a.  0: it goes through (or @v is not a pKVM VM);
 * -EFAULT: the host does not own or share the page (the VMM would take
 * SIGSEGV), nothing is accessed.
 */
int stack_pkvm_vmm_access(struct stack_vm *v, struct sim_agent *a, uint64_t spa, bool write);

/*
 * vm create on a pKVM machine: @v (just created, with its KVM memory) gets
 * its hypervisor VM (__pkvm_init_vm: metadata donated from the host page
 * allocator); protected when @protected_vm.  0 or the hypervisor's errno.
 */
int stack_pkvm_vm_created(struct stack_vm *v, bool protected_vm, struct sim_who *who,
			  uint64_t *cycles);
/* vm destroy: teardown, reclaim of every page (guest pages poisoned), finalize. */
void stack_pkvm_vm_gone(struct stack_vm *v, struct sim_who *who, uint64_t *cycles);
/* Is @v a VM of the pKVM host? */
bool stack_pkvm_is_vm(const struct stack_vm *v);
/* vm memslot on a pKVM VM: -EPERM once protection is enabled (memslots frozen), else 0. */
int stack_pkvm_memslot_check(const struct stack_vm *v);
/* The pKVM invariants (stack_pkvm_check) for stack_check: 0 or -1 with @msg. */
int stack_pkvm_machine_check(struct sim *s, char *msg, size_t len);

/* ---- the guest side (ops_pkvm.c calls these; ops_guest.c hooks into them) ---- */

/* What a scripted guest action on a pKVM VM did. */
struct stack_pkvm_gres {
	int err;                  /* 0, or the hypervisor's errno behind a refusal */
	uint64_t r0;              /* the last SMCCC R0 the guest saw */
	uint64_t done;            /* granules the calls did */
	uint64_t exits;           /* traps to EL2 (HVCs and stage-2 faults) */
	uint64_t host_exits;      /* of those, handed to the host kernel */
	uint64_t pa;              /* guest access: the page reached */
};
/* guest share / unshare on pKVM VM @v: MEM_SHARE / MEM_UNSHARE of [gpa, gpa + size). */
int stack_pkvm_guest_share(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
			   uint64_t size, bool share, struct stack_pkvm_gres *r, uint64_t *cycles);
/* guest relinquish: MEM_RELINQUISH of the page at @gpa. */
int stack_pkvm_guest_relinquish(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
				struct stack_pkvm_gres *r, uint64_t *cycles);
/* guest access: through the guest stage 2; a fault goes to the host, which maps the page. */
int stack_pkvm_guest_touch(struct stack_vm *v, struct sim_who *who, uint64_t gpa, bool write,
			   struct stack_pkvm_gres *r, uint64_t *cycles);
/* A guest hypercall @regs (R0 = function id) with the host's fault-in on -EFAULT. */
int stack_pkvm_guest_call(struct stack_vm *v, struct sim_who *who, uint64_t regs[4],
			  struct stack_pkvm_gres *r, uint64_t *cycles);
/*
 * The guest actions of ops_guest.c on a pKVM VM (pKVM hook at the top of
 * each): true when vm= names a pKVM VM, the action then done and printed
 * here (ops_pkvm.c); false to go on as KVM.
 */
enum stack_pkvm_gop {
	STACK_PKVM_GOP_ACCESS,       /* guest access */
	STACK_PKVM_GOP_SHARE,        /* guest share: MEM_SHARE */
	STACK_PKVM_GOP_UNSHARE,      /* guest unshare: MEM_UNSHARE */
	STACK_PKVM_GOP_HYPERCALL,    /* guest hypercall nr=FUNCTION_ID */
};
bool stack_pkvm_guest_op(struct sim_call *c, enum stack_pkvm_gop op);
/* ---- KVM_CAP_ARM_PROTECTED_VM (pkvm_host.c; the RFC's arch/arm64/kvm/pkvm.c) ---- */

#define STACK_PKVM_PSCI_CPU_ON 0xC4000003u   /* PSCI 0.2+ CPU_ON, SMC64 */

/* The firmware's size (pkvm.firmware; 0: none): struct kvm_protected_vm_info.firmware_size. */
uint64_t stack_pkvm_firmware_size(const struct stack_vm *v);
/* FLAGS_ENABLE with memslot @slot: 0 or the errno (docs/pkvm.md). */
int stack_pkvm_enable_protected(struct stack_vm *v, struct sim_who *who, uint64_t slot,
				uint64_t *cycles);
/* KVM_RUN's checks and the primary's reset state: 0, -ENOENT, -EPERM, -EINVAL. */
int stack_pkvm_vcpu_enter(struct stack_vm *v, unsigned k);
/* PSCI CPU_ON of vCPU @target at @entry: PSCI's return value. */
int64_t stack_pkvm_psci_cpu_on(struct stack_vm *v, uint64_t target, uint64_t entry,
			       uint64_t context);
/*
 * `vm cap` and `vcpu run` on a pKVM machine (pKVM hooks at the top of
 * op_vm_cap and stack_op_vcpu_run): true when handled here.
 */
bool stack_pkvm_op_vm_cap(struct sim_call *c);
bool stack_pkvm_op_vcpu_run(struct sim_call *c);
/*
 * Programs on pKVM VMs (kvm_vcpu.c's `vcpu run`, pKVM hooks):
 * _platform: the CPU translates through the hypervisor's guest stage 2 of
 * @v (its table and VMID) instead of KVM's; _regs: the registers a vCPU
 * enters with the first time (the primary's reset state, a CPU_ON
 * secondary's entry and context); _exit: a stage-2 fault (the host faults
 * the page in) or an HVC (the SMCCC calls at EL2) of a pKVM VM: true when
 * handled, *@why NULL to re-enter or the reason the run stops.
 */
struct cpu_hart;
struct cpu_exit;
struct cpu_reply;
void stack_pkvm_vcpu_platform(struct stack_vm *v, struct s2_pgt **npt, uint32_t *vmid);
void stack_pkvm_vcpu_regs(struct stack_vm *v, unsigned idx, struct cpu_hart *h);
bool stack_pkvm_vcpu_exit(struct stack_vm *v, unsigned idx, struct cpu_hart *h,
			  const struct cpu_exit *e, struct cpu_reply *r, const char **why);
/* The hypervisor's handle of pKVM VM @v (0: none). */
uint32_t stack_pkvm_vm_handle(const struct stack_vm *v);

#endif /* PROTSIM_STACK_PKVM_HOST_H */
