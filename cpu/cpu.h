/*
 * cpu.h - the protsim CPU: RV64IMAC + Zicsr + Zifencei harts that run
 * bare-metal ELF guest programs, with x86-style control registers
 * (CR0/CR4 and the GHCB MSR as custom CSRs), CR write intercepts, SNP
 * custom instructions (PVALIDATE, RMPADJUST, RMPQUERY, VMGEXIT,
 * HYPERCALL), a CLINT, and a cycle model (fast mode: fixed CPI; detailed
 * mode: in-order core with L1I/L1D/L2/LLC caches).  This header is the
 * whole public interface of cpu/.
 *
 * Guest-visible ABI (instruction encodings, CSR numbers, trap causes):
 * docs/guest-abi.md.  Model and configuration: docs/cpu.md.
 *
 * The CPU is hardware only.  The host software (sim/stack) owns the VM:
 * it builds the guest platform (struct cpu_vm: harts, memory window,
 * devices) around a nested table it owns, and runs each vCPU with
 * cpu_vmrun(), a hardware operation on the calling agent (world switch
 * in, guest instructions until a #VMEXIT, world switch out) that returns
 * the exit; the host answers it (struct cpu_reply) and re-enters, as
 * KVM's vcpu_run loop does.  Inside cpu_vmrun the hart runs instructions
 * in batches and advances the caller's clock once per batch (cpu.batch),
 * so runs stay deterministic.
 */
#ifndef PROTSIM_CPU_H
#define PROTSIM_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"

struct cpu_vm;
struct cpu_hart;

/* The CPU module ("cpu"): keys cpu.*, cache.*, lat.cpu.* (hardware costs). */
extern const struct sim_module cpu_module;

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
/* VM exits and the host's reply                                       */
/* ------------------------------------------------------------------ */

/*
 * Why cpu_vmrun() returned.  ORDER: cpu_exit_names[] in vm.c.  The first
 * CPU_EXIT_GUEST reasons are caused by a guest instruction and counted
 * per vCPU (vcpuN.exits.<name>); the others come from outside the guest.
 */
enum cpu_exit_reason {
	CPU_EXIT_NPF,        /* nested page fault: stage-2 or RMP (#NPF) */
	CPU_EXIT_VMGEXIT,    /* VMGEXIT (GHCB MSR protocol value in ghcb) */
	CPU_EXIT_HYPERCALL,  /* HYPERCALL: nr + 4 args */
	CPU_EXIT_CR_WRITE,   /* write to an intercepted CR0/CR4 bit */
	CPU_EXIT_HLT,        /* WFI (x86 HLT) */
	CPU_EXIT_INTR,       /* kicked (cpu_vcpu_kick: a physical interrupt, VMEXIT_INTR) */
	CPU_EXIT_INVALID,    /* VMRUN refused the state it was given (VMEXIT_INVALID): no guest ran */
	CPU_EXIT_BUDGET,     /* the host's instruction budget (vmcb->budget) is used up */
	CPU_EXIT_COUNT
};
#define CPU_EXIT_GUEST CPU_EXIT_INTR
extern const char *const cpu_exit_names[CPU_EXIT_COUNT];  /* "npf", ... */

/* One VM exit: what the hardware reports (AMD VMCB EXITCODE/EXITINFO1/2). */
struct cpu_exit {
	enum cpu_exit_reason reason;
	uint64_t cycle;      /* the caller's clock when the guest stopped (before the switch out) */
	uint64_t pc;         /* guest pc of the exiting instruction */
	uint64_t len;        /* its length in bytes (the next RIP is pc + len) */
	/* NPF */
	uint64_t npf_info;   /* EXITINFO1 bits (rmp/rmp.h and s2 fault bits) */
	uint64_t npf_gpa;    /* EXITINFO2: faulting GPA */
	uint64_t gva;        /* the guest virtual address, where known */
	char fault[64];      /* fault token, e.g. "#NPF(W,RMP,ENC,FINAL)"; INVALID: why */
	/* VMGEXIT: the GHCB MSR value; HYPERCALL: a0..a4 */
	uint64_t ghcb;
	uint64_t args[5];
	/* CR_WRITE */
	unsigned cr;         /* 0 or 4 */
	uint64_t cr_old;     /* value before the write */
	uint64_t cr_new;     /* attempted value */
};

/* Trap causes a host injects (docs/guest-abi.md "Trap causes"). */
#define CPU_CAUSE_FETCH_ACCESS 1
#define CPU_CAUSE_LOAD_ACCESS  5
#define CPU_CAUSE_STORE_ACCESS 7
#define CPU_CAUSE_GP           25   /* #GP(0) */

/* How the host completes an exit before the next VMRUN. */
enum cpu_reply_action {
	CPU_REPLY_RETRY,     /* re-execute the exiting instruction (e.g. NPF fixed) */
	CPU_REPLY_SKIP,      /* complete it: pc += its length, with the results below */
	CPU_REPLY_INJECT,    /* deliver exception inject_cause/inject_tval (EVENTINJ) */
	CPU_REPLY_RESUME,    /* nothing to complete (INTR, BUDGET): continue where it stopped */
};

/*
 * The host's answer to the last exit, applied by the next cpu_vmrun() on
 * the restored guest state (the fields of the VMCB/GHCB the host writes).
 */
struct cpu_reply {
	enum cpu_reply_action action;
	uint64_t ret;        /* SKIP after HYPERCALL: a0; after VMGEXIT: the new GHCB MSR */
	unsigned nmore;      /* SKIP after HYPERCALL: also a1.. a(nmore) = more[] (SMCCC R1-R3) */
	uint64_t more[3];
	bool cr_allow;       /* SKIP after CR_WRITE: perform the write */
	uint64_t inject_cause;
	uint64_t inject_tval;
};

/*
 * The host's instruction budget, shared by the vCPUs it points to (a
 * simulation control, not architectural): a vCPU leaves with
 * CPU_EXIT_BUDGET once @used reaches @max (0: no limit).  @used counts
 * instructions retired plus traps taken; a retried instruction counts once.
 */
struct cpu_budget {
	uint64_t max;
	uint64_t used;
};

/* ------------------------------------------------------------------ */
/* The guest platform and its harts                                    */
/* ------------------------------------------------------------------ */

/*
 * An SNP guest with translation off (M mode, satp bare) makes a shared
 * data access (C-bit 0) by setting this bit, the C-bit position SEV_INFO
 * reports, in the address: the access goes to the address without it.
 */
#define CPU_SHARED_ALIAS (1ull << 51)

enum cpu_vm_type {
	CPU_VM_BARE,   /* no stage-2: GPA = SPA inside the RAM window */
	CPU_VM_NPT,    /* stage-2 (AMD NPT format) translates every access */
	CPU_VM_SNP,    /* NPT + RMP checks of every access as the guest's */
};

enum cpu_mode { CPU_MODE_FAST, CPU_MODE_DETAILED };

struct s2_pgt;

/*
 * A write-watched word of guest RAM (HTIF tohost): stores to its page go the
 * slow way and, once stored, call @fn with the word's value when it is
 * non-zero (inside the storing hart's instruction, at no cost).  The
 * host device may stop the VM (cpu_vcpu_kick every hart).
 */
typedef void (*cpu_doorbell_fn)(void *arg, struct cpu_hart *h, uint64_t value);

/*
 * A hart's interrupt line was raised by another hart (CLINT msip): the
 * host wakes it if it is blocked in HLT (KVM's kvm_vcpu_kick).
 */
typedef void (*cpu_irq_fn)(void *arg, struct cpu_hart *from, struct cpu_hart *to);

/* What the host builds a guest platform with. */
struct cpu_vm_cfg {
	enum cpu_vm_type type;
	unsigned nharts;           /* 1..64 */
	uint64_t mem_base;         /* guest RAM window (bare: the only GPAs that exist) */
	uint64_t mem_size;
	uint64_t spa_base;         /* bare: SPA of mem_base */
	struct s2_pgt *npt;        /* NPT/SNP: the host's nested table (host keeps ownership) */
	uint32_t vmid;             /* TLB tag of the nested translations */
	uint32_t asid;             /* SNP: the guest's ASID */
	unsigned vmpl;             /* SNP: VMPL the harts run at */
	bool cbit_pte;             /* SNP: C-bit of data accesses from Sv PTE bit 8 (else always 1) */
	uint64_t cr_intercept[2];  /* CR0 / CR4 bits whose change exits (initial, per hart) */
	const char *vcpu_prefix;   /* stats: "" gives vcpuN.*, "vm1." gives vm1.vcpuN.* */
	const char *vm_prefix;     /* stats: "vm" gives vm.s2.*, vm.npf_maps... */
	cpu_irq_fn irq;            /* may be NULL */
	void *irq_arg;
};

/*
 * Build the guest platform described by @cfg on started sim @s (the cpu
 * module attached): harts (reset, pc = mem_base), their TLBs and walk
 * caches on @cfg->npt, the RMP check (SNP, or any VM when the RMP is on),
 * the CLINT, caches (detailed mode).  Return: the VM or NULL with @err.
 */
struct cpu_vm *cpu_vm_new(struct sim *s, const struct cpu_vm_cfg *cfg, struct sim_err *err);
void cpu_vm_free(struct cpu_vm *vm);

/*
 * A platform device on the guest's physical bus: loads and stores (not
 * fetches, not atomics: an access fault) to [base, base + size) go to
 * it, inline in the accessing hart's instruction, never through stage 2
 * or a TLB.  @off is the offset in the device, @len 1, 2, 4 or 8.  The
 * CLINT is the first device of every VM (docs/guest-abi.md).
 */
struct cpu_dev_ops {
	const char *name;
	uint64_t (*read)(void *arg, struct cpu_hart *h, uint64_t off, unsigned len);
	void (*write)(void *arg, struct cpu_hart *h, uint64_t off, unsigned len, uint64_t val);
};
#define CPU_MAX_DEVS 8
/* Map @ops over GPA [@base, @base + @size).  Return 0, or -1 (overlap, full, RAM window). */
int cpu_vm_add_device(struct cpu_vm *vm, uint64_t base, uint64_t size,
		      const struct cpu_dev_ops *ops, void *arg);

/*
 * Watch the 8-byte guest RAM word at system physical address @spa with @fn
 * (an HTIF tohost: one per program in guest memory, e.g. a protected VM's
 * firmware and its payload).  Watching a word again replaces its @fn and
 * @arg.  0, or -1: @spa not 8-byte aligned, or CPU_MAX_BELLS words watched.
 */
#define CPU_MAX_BELLS 4
int cpu_vm_watch(struct cpu_vm *vm, uint64_t spa, cpu_doorbell_fn fn, void *arg);
/* cpu_vm_watch of guest RAM word @gpa; -1 also when @gpa is outside the RAM window. */
int cpu_vm_set_doorbell(struct cpu_vm *vm, uint64_t gpa, cpu_doorbell_fn fn, void *arg);

unsigned cpu_vm_nharts(const struct cpu_vm *vm);
struct cpu_hart *cpu_vm_hart(struct cpu_vm *vm, unsigned i);
enum cpu_vm_type cpu_vm_type(const struct cpu_vm *vm);
/* Guest RAM window GPA -> SPA (bare VMs; the host's own layout for others); -1 outside. */
int cpu_vm_gpa_to_spa(const struct cpu_vm *vm, uint64_t gpa, uint64_t *spa);

/*
 * The host-owned per-vCPU control state handed to VMRUN (AMD VMCB control
 * area and the VMSA's address).  The host fills it once and may change
 * it between runs; the reply is read by the next cpu_vmrun().
 */
struct cpu_vmcb {
	uint64_t vmcb_spa;          /* the VMCB page (SNP: must be hypervisor-owned) */
	uint64_t vmsa_spa;          /* SNP: the VMSA page (assigned, VMSA, this ASID) */
	uint64_t vmsa_gpa;          /* SNP: the GPA its RMP entry records */
	struct cpu_budget *budget;  /* may be NULL: no limit */
	struct cpu_reply reply;     /* the host's answer to the last exit */
	bool has_reply;             /* reply is pending (set by the host, cleared by VMRUN) */
};

/*
 * VMRUN on the calling agent, which must be @h's agent (cpu_hart_bind):
 * world switch in (SNP: the RMP's VMRUN checks of the VMCB and VMSA, then
 * the VMSA state load), apply @vmcb->reply, run guest instructions until
 * an exit, world switch out (VMSA save), everything charged to the agent.
 * Prints nothing.  Return: the exit reason, with @exit filled.
 */
enum cpu_exit_reason cpu_vmrun(struct cpu_hart *h, struct cpu_vmcb *vmcb, struct cpu_exit *exit);

/*
 * Make @h's caller agent (the vCPU thread that runs cpu_vmrun) @a; the
 * hart's clocks and statistics are that agent's.
 */
void cpu_hart_bind(struct cpu_hart *h, struct sim_agent *a);

/*
 * Kick @h from agent @from (an IPI): a hart in guest mode leaves with
 * CPU_EXIT_INTR at its next instruction boundary (the batch it is in
 * stops there); a hart not in guest mode leaves its next cpu_vmrun()
 * before running any instruction.  The kick stays pending until then.
 */
void cpu_vcpu_kick(struct sim_agent *from, struct cpu_hart *h);

/* What cpu_vcpu_tlbi() drops. */
enum cpu_tlbi {
	CPU_TLBI_L0,       /* the combined translations (after an RMP entry changed) */
	CPU_TLBI_ALL,      /* also the hart's stage-2 TLBs and walk caches */
};
/* Invalidate @h's cached translations (no cost: the caller charges the TLB flush). */
void cpu_vcpu_tlbi(struct cpu_hart *h, enum cpu_tlbi what);

/* Hart accessors (debuggers, tests, host software). */
uint64_t cpu_hart_reg(const struct cpu_hart *h, unsigned i);
void cpu_hart_set_reg(struct cpu_hart *h, unsigned i, uint64_t v);
uint64_t cpu_hart_pc(const struct cpu_hart *h);
void cpu_hart_set_pc(struct cpu_hart *h, uint64_t pc);
unsigned cpu_hart_priv(const struct cpu_hart *h);       /* 0 U, 1 S, 3 M */
unsigned cpu_hart_id(const struct cpu_hart *h);
const char *cpu_hart_name(const struct cpu_hart *h);    /* "vcpu0" */
/* Read a CSR with no privilege check; -1 if it does not exist. */
int cpu_hart_csr(struct cpu_hart *h, unsigned csr, uint64_t *val);
uint64_t cpu_hart_insns(const struct cpu_hart *h);
struct sim_agent *cpu_hart_agent(const struct cpu_hart *h);
/* Set the CR write intercept mask of this vCPU (@cr 0 or 4). */
void cpu_hart_set_cr_intercept(struct cpu_hart *h, unsigned cr, uint64_t mask);
/*
 * The cycle at which @h's armed machine timer fires (mie.MTIE set and
 * mtimecmp programmed), for a host that sleeps in HLT; false if none.
 */
bool cpu_hart_timer_cycle(const struct cpu_hart *h, uint64_t *cycle);
/* Add host-side cycles spent for this vCPU (exit handling) to vcpuN.cycles. */
void cpu_hart_account(struct cpu_hart *h, uint64_t cycles);
/* Stop counting: publish the final instruction count (at the vCPU's end). */
void cpu_hart_finish(struct cpu_hart *h);

#endif /* PROTSIM_CPU_H */
