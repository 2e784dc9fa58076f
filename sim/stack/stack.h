/*
 * stack.h - the system-software layer of protsim: the whole public
 * interface of sim/stack/.
 *
 * The stack is the host software that drives the hardware models (rmp,
 * stage2, iommu, cpu): the module list every command builds its machine
 * from, the registry of VMs with their nested tables (the stack module),
 * and the host page allocator those tables come from.  Dependencies point
 * down: this layer uses the hardware models' public headers and the engine
 * (sim/sim.h); nothing below includes this file.  Reference: docs/stack.md.
 */
#ifndef PROTSIM_STACK_H
#define PROTSIM_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"

struct rmp;
struct cpu_elf;
struct cpu_vm;
struct cpu_hart;

/*
 * The modules of a protsim machine, NULL-terminated, in attach order:
 * what `protsim run`, `script`, `shell` and `exec` build their machine from.
 */
extern const struct sim_module *const stack_modules[];

/*
 * The stack module: the machine's VMs (the one registry of VMs: `s2
 * create vm=N` makes one) with their nested tables built from the host
 * page allocator, and the operations that name a VM (s2 create, map,
 * unmap, protect, annotate, walk, access; tlbi; s1 create, map; access).
 * Keys s2.pool_base and s2.pool_size place the allocator's pages.
 */
extern const struct sim_module stack_module;

/*
 * The KVM operations of the language (`vm create`, `vm destroy`, `gmem
 * create|alloc|punch`, `vm memslot`, `vm attr`, `vm page`: docs/script.md),
 * a module of their own after the stack module.
 */
extern const struct sim_module stack_kvm_module;

/*
 * The vCPU operations and scripted guest actions (`vm cap`, `vcpu
 * create|state|reset`, `guest access|pvalidate|psc|accept|share|unshare|
 * ghcb|hypercall`: docs/script.md), run through KVM's exit handling and
 * the VMM; a module after the KVM module.
 */
extern const struct sim_module stack_guest_module;
/* CR protection (Heki, the VMM's CR filter, VTLs); a module after the guest module. */
extern const struct sim_module stack_heki_module;

/*
 * Host software touching guest memory (`host write|read|kexec`), the host
 * RMP-fault strategies (host.rmp_fault) and kexec (host.kexec_convert):
 * host.c, ops_host.c, host_kexec.c; a module after the guest module.
 */
extern const struct sim_module stack_host_module;

/* ------------------------------------------------------------------ */
/* The host physical-page allocator                                    */
/* ------------------------------------------------------------------ */

/*
 * Host software takes its pages (the VMs' nested tables today) from an
 * allocator over a range of host physical memory.  It hands out 4K pages
 * (order 0) and naturally aligned 2M blocks (order 9, a huge folio), in
 * the manner of the kernel's buddy allocator
 * restricted to those two orders: a 2M block is whole-free, split into
 * 4K pages, or whole-allocated; a split block whose 512 pages are all free
 * again merges back into a whole-free block.  Freed 4K pages wait on a hot
 * list, reused last in first out, until a 2M request drains them back into
 * their blocks (the kernel's per-CPU lists).  Cost is proportional to the
 * pages touched, not to the range (a 1 TiB range costs nothing until used).
 *
 * It never hands out a page that is
 *   - in use (allocated and not freed),
 *   - leaked (stack_palloc_leak, or freed while still assigned in the RMP:
 *     the page is never reused, as KVM's snp_leak_pages() does), or
 *   - assigned in the RMP, or a VMCB/VMSA/AVIC page in use by a running
 *     vCPU (the RMP is consulted at allocation; such a page is set aside
 *     as "held" and counted, never returned).
 * Order of allocation is deterministic: freed 4K pages are reused last in,
 * first out; fresh blocks are taken from the bottom of the range up.
 */
struct stack_palloc;

struct stack_palloc_stats {
	uint64_t alloc_4k;       /* successful 4K allocations */
	uint64_t alloc_2m;       /* successful 2M allocations */
	uint64_t free_4k;        /* 4K pages freed */
	uint64_t free_2m;        /* 2M blocks freed */
	uint64_t fail;           /* allocations refused: no room */
	uint64_t leaked;         /* 4K pages leaked (never reused) */
	uint64_t held;           /* 4K pages set aside because the RMP had them assigned/in use */
	uint64_t splits;         /* 2M blocks split to serve 4K allocations */
	uint64_t merges;         /* split blocks merged back when all 512 pages were free */
	uint64_t pages;          /* 4K pages currently allocated (a 2M block counts 512) */
};

/*
 * An allocator over [@base, @base + @size), both 4K aligned, @size > 0
 * (pages of the 2M blocks it touches that lie outside are never used).
 * @rmp (may be NULL or disabled) is consulted on every allocation.
 * Return: the allocator, or NULL with @err (misaligned or empty range,
 * range beyond 2^52).
 */
struct stack_palloc *stack_palloc_new(uint64_t base, uint64_t size, const struct rmp *rmp,
				      struct sim_err *err);
void stack_palloc_free_all(struct stack_palloc *pa);

/*
 * Allocate one naturally aligned block of 4K << (9 * @order_2m) bytes
 * (@order_2m false: 4K, true: 2M).  Return: 0 and *@out = its address,
 * or -1 when no block can be given (range exhausted; every candidate
 * held or leaked).
 */
int stack_palloc_get(struct stack_palloc *pa, bool order_2m, uint64_t *out);

/*
 * Give back a block obtained from stack_palloc_get with the same order.
 * A page the RMP still has assigned is leaked instead (counted; never
 * reused).  Freeing a page that is not allocated, or with the wrong order,
 * is a programming error (sim_fatal), as a double free is in the kernel.
 */
void stack_palloc_put(struct stack_palloc *pa, uint64_t addr, bool order_2m);

/* Leak an allocated 4K page for good (a reclaim failed). */
void stack_palloc_leak(struct stack_palloc *pa, uint64_t addr);

/* Page state, for tests, invariants and dumps. */
enum stack_page_state {
	STACK_PAGE_OUTSIDE,      /* not in the allocator's range */
	STACK_PAGE_FREE,         /* free (or never touched) */
	STACK_PAGE_USED,         /* allocated */
	STACK_PAGE_LEAKED,       /* leaked: never reused */
	STACK_PAGE_HELD,         /* set aside: the RMP had it assigned or in use */
};
enum stack_page_state stack_palloc_state(const struct stack_palloc *pa, uint64_t addr);
const char *stack_page_state_name(enum stack_page_state st);

const struct stack_palloc_stats *stack_palloc_stats(const struct stack_palloc *pa);
uint64_t stack_palloc_base(const struct stack_palloc *pa);
uint64_t stack_palloc_size(const struct stack_palloc *pa);

/*
 * Register stack.palloc.* (prefix "stack.palloc") with @s; the owner
 * removes the group (sim_stat_group_remove) before freeing the allocator.
 */
struct sim_stat_group *stack_palloc_register_stats(struct stack_palloc *pa, struct sim *s);

/* ------------------------------------------------------------------ */
/* VMs that run guest programs                                         */
/* ------------------------------------------------------------------ */

/*
 * A VM of the registry that runs an ELF guest on vCPUs: built from the
 * vm.* keys; its nested table, VMCB and VMSA pages from the host page
 * allocator; one vCPU thread agent per vCPU running the host's vcpu_run
 * loop over cpu_vmrun() with the "minimal" host's exit handlers.
 */
struct stack_vm;

enum stack_vm_state {
	STACK_VM_RUNNING,
	STACK_VM_EXITED,     /* the program wrote an HTIF exit */
	STACK_VM_LIMIT,      /* instruction limit reached */
	STACK_VM_HALTED,     /* every vCPU halted with nobody to wake it */
	STACK_VM_KILLED,     /* the host stopped the VM */
};
extern const char *const stack_vm_state_names[];   /* "running", ... */

struct stack_guest_cfg {
	unsigned id;                 /* VM number in the registry (vm=) */
	const char *keys;            /* its keys: "vm" (NULL: the same) or "vm0".."vm3" */
	uint64_t spa_base;           /* its RAM's system address; 0: the .spa_base key */
	const char *vcpu_prefix;     /* stats of its vCPUs: "" (vcpuN.*) or "vm1." (vm1.vcpuN.*) */
	const char *vm_prefix;       /* its VM-wide stats: "vm" (vm.s2.*) or "vm1" */
};

/*
 * Build the VM on started machine @s; console output (HTIF) to @console
 * (NULL: discarded).  Return: the VM, or NULL with @err ("key: message").
 */
struct stack_vm *stack_guest_new(struct sim *s, const struct stack_guest_cfg *gc, FILE *console,
				 struct sim_err *err);
/* Copy @elf into guest RAM; every vCPU starts at its entry.  0, or -1 with @err. */
int stack_guest_load(struct stack_vm *v, const struct cpu_elf *elf, struct sim_err *err);
/*
 * The VMM's HTIF device on guest RAM words @tohost (and @fromhost, 0 for
 * none), console output to @console (stack_guest_load sets it from the
 * ELF's symbols).  0, or -1 when @tohost is not in guest RAM.
 */
int stack_guest_set_htif(struct stack_vm *v, uint64_t tohost, uint64_t fromhost, FILE *console);
/* Create the vCPU threads; sim_run() runs them.  @max_insns: 0 = no limit. */
void stack_guest_start(struct stack_vm *v, uint64_t max_insns);
enum stack_vm_state stack_guest_state(const struct stack_vm *v);
int stack_guest_exit_code(const struct stack_vm *v);      /* EXITED/KILLED */
struct cpu_vm *stack_guest_cpu(struct stack_vm *v);
/* Guest RAM GPA -> its backing SPA (untimed); -1 outside guest RAM. */
int stack_guest_gpa_to_spa(const struct stack_vm *v, uint64_t gpa, uint64_t *spa);
/*
 * Map the guest RAM page holding @gpa as the minimal host does on a first
 * touch (for SNP also assign and validate it), charged to @h's thread
 * (@h NULL: not charged).  0, or -1 with @err naming the key to change.
 */
int stack_guest_map_page(struct stack_vm *v, struct cpu_hart *h, uint64_t gpa,
			 struct sim_err *err);
/* Stop every vCPU with @state (kicked out of guest mode, woken if halted). */
void stack_guest_stop(struct stack_vm *v, enum stack_vm_state state, int code);
/* Kick vCPU @vcpu of @v from agent @from: it leaves guest mode (CPU_EXIT_INTR). */
void stack_vcpu_kick(struct sim_agent *from, struct stack_vm *v, unsigned vcpu);
/* Destroy the VM (its pages back to the allocator; a VMSA page reclaimed first). */
void stack_guest_free(struct stack_vm *v);

/* ------------------------------------------------------------------ */
/* The VMs of a `protsim run` scenario                                 */
/* ------------------------------------------------------------------ */

/*
 * Build, load and start the scenario's VMs ([vm0] .. [vm3] with vmN.elf
 * set; programs beside @scenario, consoles in @out_dir/vmN.console) on
 * started machine @s, before its workload script runs.  Return: how many
 * VMs were started, or -1 with @err ("key: message").
 */
int stack_run_vms_start(struct sim *s, const char *scenario, const char *out_dir,
			struct sim_err *err);
/*
 * After sim_run(): close the consoles; 0 when every VM exited with code
 * 0, else 1 with a line on @errf for each that did not.
 */
int stack_run_vms_end(struct sim *s, FILE *errf);

/* ------------------------------------------------------------------ */
/* protsim exec                                                        */
/* ------------------------------------------------------------------ */

/*
 * `protsim exec PROG.elf [--set KEY=VALUE]... [--seed N] [--mode fast|detailed]
 * [--max-insns N] [--stats]`; argv[0] is "exec".  Options are parsed by
 * sim_cli_parse() from stack_exec_cmd (its --help text lists the exit
 * codes).  The machine is built from stack_modules; the program runs as
 * VM 0 of the registry.
 *
 * Exit status: the guest's exit code when it is 0..STACK_EXEC_RC_GUEST_MAX
 * (HTIF exit), and for every other outcome a code of 120..127, which a
 * guest exit never gives (docs/guest-abi.md):
 */
extern const struct sim_cli_cmd stack_exec_cmd;
/* @meta: the CLI's part of run.json (command line, commit) for --out. */
int stack_exec_main(int argc, char **argv, const struct sim_run_meta *meta);
#define STACK_EXEC_RC_GUEST_MAX 119   /* guest exit codes 0..119 are passed through */
#define STACK_EXEC_RC_GUEST_BIG 120   /* the guest exited with a code outside 0..119 */
#define STACK_EXEC_RC_USAGE     121   /* bad command line */
#define STACK_EXEC_RC_INPUT     122   /* bad configuration or ELF file: nothing ran */
#define STACK_EXEC_RC_OUTPUT    123   /* the console output could not be written */
#define STACK_EXEC_RC_LIMIT     124   /* the instruction limit was reached */
#define STACK_EXEC_RC_HALT      125   /* every vCPU halted with nothing to wake it */
#define STACK_EXEC_RC_KILLED    126   /* the host stopped the VM */

/*
 * `protsim replay TRACE [--set KEY=VALUE]... [--seed N] [--out DIR]
 * [--trace FILE]` (replay.c, docs/trace.md "Replay"); argv[0] is
 * "replay".  Exit status: 0 the same results, 1 some differ, 2 bad usage
 * or input.
 */
extern const struct sim_cli_cmd stack_replay_cmd;
int stack_replay_main(int argc, char **argv, const struct sim_run_meta *meta);

/* Default --max-insns: stops a program that never ends (0 = no limit). */
#define STACK_EXEC_MAX_INSNS 1000000000ull

#endif /* PROTSIM_STACK_H */
