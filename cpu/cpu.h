/*
 * cpu.h - the protsim CPU: RV64IMAC + Zicsr + Zifencei vCPUs (harts) that
 * run bare-metal ELF guest programs, with x86-style control registers
 * (CR0/CR4 and the GHCB MSR as custom CSRs), CR write intercepts, VM
 * exits to a hypervisor hook, SNP custom instructions (PVALIDATE,
 * RMPADJUST, RMPQUERY, VMGEXIT, HYPERCALL) and a cycle model (fast mode:
 * fixed CPI; detailed mode: in-order core with L1I/L1D/L2/LLC caches).
 * This header is the whole public interface of cpu/.
 *
 * Guest-visible ABI (instruction encodings, CSR numbers, trap causes):
 * docs/guest-abi.md.  Model and configuration: docs/cpu.md.
 *
 * A VM owns one or more harts; each hart is an engine agent
 * (SIM_AGENT_VCPU) that runs instructions in batches and advances its
 * clock once per batch (cpu.batch), so runs stay deterministic.
 */
#ifndef PROTSIM_CPU_H
#define PROTSIM_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"

struct cpu_vm;
struct cpu_hart;

/* The CPU module ("cpu"): keys cpu.*, cache.*, vm.*, lat.cpu.*. */
extern const struct sim_module cpu_module;

/*
 * `protsim exec PROG.elf [--set KEY=VALUE]... [--seed N] [--mode fast|detailed]
 * [--max-insns N] [--stats]`; argv[0] is "exec".  Options are parsed by
 * sim_cli_parse() from cpu_exec_cmd (its --help text lists the exit codes).
 * The machine is built from @modules (the CLI passes the stack's list; the
 * cpu module must be in it).
 *
 * Exit status: the guest's exit code when it is 0..CPU_EXEC_RC_GUEST_MAX
 * (HTIF exit), and for every other outcome a code of 120..127, which a
 * guest exit never gives (docs/guest-abi.md):
 */
extern const struct sim_cli_cmd cpu_exec_cmd;
int cpu_exec_main(int argc, char **argv, const struct sim_module *const *modules);
#define CPU_EXEC_RC_GUEST_MAX 119   /* guest exit codes 0..119 are passed through */
#define CPU_EXEC_RC_GUEST_BIG 120   /* the guest exited with a code outside 0..119 */
#define CPU_EXEC_RC_USAGE     121   /* bad command line */
#define CPU_EXEC_RC_INPUT     122   /* bad configuration or ELF file: nothing ran */
#define CPU_EXEC_RC_OUTPUT    123   /* the console output could not be written */
#define CPU_EXEC_RC_LIMIT     124   /* the instruction limit was reached */
#define CPU_EXEC_RC_HALT      125   /* every vCPU halted with nothing to wake it */
#define CPU_EXEC_RC_KILLED    126   /* the hypervisor stopped the VM */

/* Default --max-insns: stops a program that never ends (0 = no limit). */
#define CPU_EXEC_MAX_INSNS 1000000000ull

/* ------------------------------------------------------------------ */
/* ELF loading (libelf)                                                */
/* ------------------------------------------------------------------ */

#define CPU_ELF_MAX_SEGS 16

/* One PT_LOAD segment, placed at its physical address (p_paddr). */
struct cpu_elf_seg {
	uint64_t paddr;          /* guest physical load address */
	uint64_t vaddr;          /* virtual address (informational) */
	uint64_t filesz;         /* bytes copied from the file */
	uint64_t memsz;          /* bytes occupied (the rest zero-filled) */
	uint32_t flags;          /* PF_R | PF_W | PF_X */
	const uint8_t *data;     /* filesz bytes, owned by struct cpu_elf */
};

/* A validated RV64 executable. */
struct cpu_elf {
	char *path;              /* as given */
	uint64_t entry;          /* e_entry */
	unsigned nseg;           /* PT_LOAD segments with memsz > 0 */
	struct cpu_elf_seg seg[CPU_ELF_MAX_SEGS];
	bool has_tohost;         /* symbol `tohost` found */
	uint64_t tohost;         /* its address */
	bool has_fromhost;       /* symbol `fromhost` found */
	uint64_t fromhost;       /* its address */
	bool rvc;                /* e_flags EF_RISCV_RVC */
	void *image;             /* the file's bytes (private) */
};

/*
 * Open and validate an RV64 ELF executable whose segments must lie in
 * guest memory [@mem_base, @mem_base + @mem_size).
 * Errors (one line in @err, naming the file and the problem):
 * unreadable file, not an ELF file, not ELF64, not little-endian, not
 * RISC-V, not an executable, hard-float ABI, truncated (headers or a
 * segment's bytes beyond the end of the file), filesz > memsz, a segment
 * outside guest memory, overlapping segments, too many segments, no
 * loadable segment, entry point outside every executable segment.
 * Return: 0 and *out (free with cpu_elf_free), or -1 with @err set.
 */
int cpu_elf_open(const char *path, uint64_t mem_base, uint64_t mem_size,
		 struct cpu_elf **out, struct sim_err *err);
void cpu_elf_free(struct cpu_elf *e);

/* ------------------------------------------------------------------ */
/* VM exits and the hypervisor hook                                    */
/* ------------------------------------------------------------------ */

/* ORDER: cpu_exit_names[] in vm.c. */
enum cpu_exit_reason {
	CPU_EXIT_NPF,        /* nested page fault: stage-2 or RMP (#NPF) */
	CPU_EXIT_VMGEXIT,    /* VMGEXIT (GHCB MSR protocol value in ghcb) */
	CPU_EXIT_HYPERCALL,  /* HYPERCALL: nr + 4 args */
	CPU_EXIT_CR_WRITE,   /* write to an intercepted CR0/CR4 bit */
	CPU_EXIT_HLT,        /* WFI (x86 HLT) */
	CPU_EXIT_COUNT
};
extern const char *const cpu_exit_names[CPU_EXIT_COUNT];  /* "npf", ... */

/* What the hypervisor asks the vCPU to do after an exit. */
enum cpu_hv_action {
	CPU_HV_RETRY,        /* re-execute the exiting instruction (e.g. NPF fixed) */
	CPU_HV_SKIP,         /* complete it: pc += its length (results already set) */
	CPU_HV_INJECT,       /* deliver exception inject_cause/inject_tval to the guest */
	CPU_HV_BLOCK,        /* halt the vCPU until cpu_hart_wake() (HLT) */
	CPU_HV_KILL,         /* stop the whole VM; exit code kill_code */
};

/* One VM exit, filled by the CPU; the handler reads it and sets the reply. */
struct cpu_exit {
	enum cpu_exit_reason reason;
	uint64_t pc;         /* guest pc of the exiting instruction */
	uint64_t len;        /* its length in bytes */
	/* NPF */
	uint64_t npf_info;   /* EXITINFO1 bits (rmp/rmp.h and s2 fault bits) */
	uint64_t npf_gpa;    /* EXITINFO2: faulting GPA */
	uint64_t gva;        /* the guest virtual address, where known */
	char fault[64];      /* fault token, e.g. "#NPF(W,RMP,ENC,FINAL)" */
	/* VMGEXIT: the GHCB MSR value; HYPERCALL: a0..a4 */
	uint64_t ghcb;
	uint64_t args[5];
	/* CR_WRITE */
	unsigned cr;         /* 0 or 4 */
	uint64_t cr_old;     /* value before the write */
	uint64_t cr_new;     /* attempted value */
	/* reply */
	enum cpu_hv_action action;
	uint64_t ret;        /* SKIP after HYPERCALL: a0; after VMGEXIT: new GHCB MSR */
	bool cr_allow;       /* SKIP after CR_WRITE: perform the write */
	uint64_t inject_cause;
	uint64_t inject_tval;
	int kill_code;
};

/*
 * The hypervisor seen by the vCPUs.  Each member is called inside the
 * vCPU's agent (it may sim_advance() the vCPU's agent to model handler
 * time), after the hardware world switch (VMSA saved, vmexit costs
 * charged); it reads @e and sets e->action and the reply fields.  A NULL
 * member means the default minimal hypervisor's behaviour for that exit
 * (see docs/cpu.md "Default hypervisor").
 */
struct cpu_hv_ops {
	const char *name;
	/* Stage-2 or RMP fault on a guest access. */
	void (*npf)(void *hv, struct cpu_hart *vcpu, struct cpu_exit *e);
	/* VMGEXIT with the GHCB MSR protocol value in e->ghcb. */
	void (*vmgexit)(void *hv, struct cpu_hart *vcpu, struct cpu_exit *e);
	/* HYPERCALL: e->args[0] = nr, args[1..4] = arguments. */
	void (*hypercall)(void *hv, struct cpu_hart *vcpu, struct cpu_exit *e);
	/* Write to an intercepted CR bit: e->cr, e->cr_old, e->cr_new. */
	void (*cr_write)(void *hv, struct cpu_hart *vcpu, struct cpu_exit *e);
	/* WFI with no interrupt pending. */
	void (*hlt)(void *hv, struct cpu_hart *vcpu, struct cpu_exit *e);
};

/* The default minimal hypervisor (also used for NULL members). */
extern const struct cpu_hv_ops cpu_default_hv;

/* ------------------------------------------------------------------ */
/* VMs and harts                                                       */
/* ------------------------------------------------------------------ */

enum cpu_vm_type {
	CPU_VM_BARE,   /* no stage-2: GPA = SPA */
	CPU_VM_NPT,    /* stage-2 (AMD NPT format) translates every access */
	CPU_VM_SNP,    /* NPT + RMP checks; memory private and validated from the guest's view */
};

enum cpu_mode { CPU_MODE_FAST, CPU_MODE_DETAILED };

enum cpu_vm_state {
	CPU_VM_RUNNING,
	CPU_VM_EXITED,     /* the program wrote an HTIF exit */
	CPU_VM_LIMIT,      /* instruction limit reached */
	CPU_VM_HALTED,     /* every vCPU halted with nobody to wake it */
	CPU_VM_KILLED,     /* the hypervisor stopped the VM */
};

/*
 * Create the VM described by the vm.* and cpu.* keys of started sim @s
 * (the cpu module must be attached), with its memory, stage-2 tables
 * (NPT/SNP), RMP state (SNP) and harts.  Console output goes to @console
 * (may be NULL: discarded).  Return: the VM or NULL with @err.
 */
struct cpu_vm *cpu_vm_new(struct sim *s, FILE *console, struct sim_err *err);
void cpu_vm_free(struct cpu_vm *vm);

/* Use @ops (with @arg) as the hypervisor; default cpu_default_hv. */
void cpu_vm_set_hv(struct cpu_vm *vm, const struct cpu_hv_ops *ops, void *arg);

/*
 * Back the guest RAM page (vm.page_size) holding @gpa, as the default
 * hypervisor does on a guest's first touch (#NPF, not present): its
 * nested-table leaf to the page's SPA with all permissions and, for SNP,
 * its RMP entry assigned to vm.asid at its GPA and validated.  Nothing
 * is done if the page is already mapped.  The table accesses are timed
 * accesses of @h's agent, charged to @h (call it from @h's exit handler;
 * @h NULL: agent -1, not charged).  Return: 0, or -1 with @err naming the
 * key to change (vm.pt_pool when the table pool is used up).
 */
int cpu_vm_map_page(struct cpu_vm *vm, struct cpu_hart *h, uint64_t gpa, struct sim_err *err);

/*
 * Copy @elf into guest memory (at p_paddr, zero-filling to memsz), set
 * every hart's pc to the entry point and remember tohost/fromhost.
 * Return: 0, or -1 with @err (a segment outside this VM's memory).
 */
int cpu_vm_load(struct cpu_vm *vm, const struct cpu_elf *elf, struct sim_err *err);

/*
 * Create the harts' agents; sim_run() then runs them.  @max_insns (0 =
 * no limit) caps instructions retired plus traps taken, over all harts.
 */
void cpu_vm_start(struct cpu_vm *vm, uint64_t max_insns);

enum cpu_vm_state cpu_vm_state(const struct cpu_vm *vm);
int cpu_vm_exit_code(const struct cpu_vm *vm);    /* valid when EXITED/KILLED */
unsigned cpu_vm_nharts(const struct cpu_vm *vm);
struct cpu_hart *cpu_vm_hart(struct cpu_vm *vm, unsigned i);
/* Guest physical address -> system physical address (untimed); -1 if unmapped. */
int cpu_vm_gpa_to_spa(const struct cpu_vm *vm, uint64_t gpa, uint64_t *spa);

/* Hart accessors (debuggers, tests, hypervisor models). */
uint64_t cpu_hart_reg(const struct cpu_hart *h, unsigned i);
void cpu_hart_set_reg(struct cpu_hart *h, unsigned i, uint64_t v);
uint64_t cpu_hart_pc(const struct cpu_hart *h);
void cpu_hart_set_pc(struct cpu_hart *h, uint64_t pc);
unsigned cpu_hart_priv(const struct cpu_hart *h);       /* 0 U, 1 S, 3 M */
/* Read a CSR with no privilege check; -1 if it does not exist. */
int cpu_hart_csr(struct cpu_hart *h, unsigned csr, uint64_t *val);
uint64_t cpu_hart_insns(const struct cpu_hart *h);
struct sim_agent *cpu_hart_agent(const struct cpu_hart *h);
/* Set the CR write intercept mask of this vCPU (@cr 0 or 4). */
void cpu_hart_set_cr_intercept(struct cpu_hart *h, unsigned cr, uint64_t mask);
/* Wake a vCPU blocked by CPU_HV_BLOCK (from agent @waker). */
void cpu_hart_wake(struct sim_agent *waker, struct cpu_hart *h);

#endif /* PROTSIM_CPU_H */
