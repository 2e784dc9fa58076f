/*
 * heki.h - guest-kernel control-register protection, three designs
 * (docs/cr-protection.md; reference protection-semantics.md §7, §8):
 *
 *   kvm  Heki in KVM (RFC v2, Nov 2023, patches 02/19 and 03/19):
 *        KVM_HC_LOCK_CR_UPDATE pins CR0/CR4 bits per VM, every guest
 *        CR0/CR4 write is checked against the pins (#GP), and
 *        KVM_CAP_HEKI_CONFIGURE / KVM_CAP_HEKI_DENIAL give the VMM exits.
 *   vmm  the VMM's CR filter (`vm cr_filter`): a write that changes a
 *        masked bit exits to the VMM, whose vmm.cr_policy answers.
 *   vtl  a more privileged level in the guest (VTL1) that intercepts
 *        VTL0's CR writes (`vtl intercept`) and sets VTL0's stage-2
 *        permissions (`vtl protect`), reached by a VTL call at a
 *        modelled cost (lat.stack.vtl_switch).
 *
 * Private to sim/stack (included by stack_int.h).  The state of a VM is
 * made on first use, so VMs that never use these have none (and no
 * vmN.heki.* statistics).
 */
#ifndef PROTSIM_STACK_HEKI_H
#define PROTSIM_STACK_HEKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"

struct stack;
struct stack_vm;
struct stack_uexit;
struct cpu_exit;

/* include/uapi/linux/kvm_para.h (RFC v2 02/19) */
#define STACK_KVM_HC_LOCK_CR_UPDATE       13
#define STACK_KVM_LOCK_CR_UPDATE_VERSION  (1ull << 0)
/*
 * Heki's memory protection (KVM_HC_PROTECT_MEMORY, 14 in RFC v3; v1's
 * KVM_HC_LOCK_MEM_PAGE_RANGES): protsim's simplified arguments a0 = GPA,
 * a1 = size, a2 = the S2_PERM_* the range keeps (the RFC passes a page of
 * ranges and attributes); sticky, each call can only take permissions away.
 */
#define STACK_KVM_HC_PROTECT_MEMORY       14
#define STACK_HEKI_MAX_MEM                32
#define STACK_HEKI_ABI_VERSION            1
/* include/uapi/linux/kvm.h (RFC v2 03/19): the reasons of both exits and caps */
#define STACK_KVM_HEKI_EXIT_REASON_CR0    (1ull << 0)
#define STACK_KVM_HEKI_EXIT_REASON_CR4    (1ull << 1)
#define STACK_KVM_HEKI_EXIT_REASON_VALID_MASK \
	(STACK_KVM_HEKI_EXIT_REASON_CR0 | STACK_KVM_HEKI_EXIT_REASON_CR4)
#define STACK_KVM_EINVAL                  22

/* x86 control-register bits (arch/x86/include/uapi/asm/processor-flags.h) */
#define STACK_X86_CR0_PE        (1ull << 0)
#define STACK_X86_CR0_ET        (1ull << 4)
#define STACK_X86_CR0_NE        (1ull << 5)
#define STACK_X86_CR0_WP        (1ull << 16)
#define STACK_X86_CR0_AM        (1ull << 18)
#define STACK_X86_CR0_NW        (1ull << 29)
#define STACK_X86_CR0_CD        (1ull << 30)
#define STACK_X86_CR0_PG        (1ull << 31)
#define STACK_X86_CR4_PAE       (1ull << 5)
#define STACK_X86_CR4_UMIP      (1ull << 11)
#define STACK_X86_CR4_FSGSBASE  (1ull << 16)
#define STACK_X86_CR4_SMEP      (1ull << 20)
#define STACK_X86_CR4_SMAP      (1ull << 21)
#define STACK_X86_CR4_CET       (1ull << 23)
/* arch/x86/kernel/cpu/common.c cr4_pinned_mask (as of the RFC) */
#define STACK_HEKI_CR4_PINNED_MASK \
	(STACK_X86_CR4_SMEP | STACK_X86_CR4_SMAP | STACK_X86_CR4_UMIP | \
	 STACK_X86_CR4_FSGSBASE | STACK_X86_CR4_CET)
/* the bits a guest may write (the CPU model's CR0_VALID / CR4_VALID: others #GP) */
#define STACK_X86_CR0_VALID     0xe005003full
#define STACK_X86_CR4_VALID     0x1ff7fffull
/* after INIT (SDM Vol 3A 10.1.1 "Processor State After Reset") */
#define STACK_X86_CR0_INIT      (STACK_X86_CR0_CD | STACK_X86_CR0_NW | STACK_X86_CR0_ET)
#define STACK_X86_CR4_INIT      0ull
/* a scripted vCPU before any reset: a booted kernel's (the CPU model's CR0_RESET/CR4_RESET) */
#define STACK_X86_CR0_BOOTED    (STACK_X86_CR0_PE | STACK_X86_CR0_ET | STACK_X86_CR0_WP | STACK_X86_CR0_PG)
#define STACK_X86_CR4_BOOTED    (STACK_X86_CR4_SMEP | STACK_X86_CR4_SMAP)

/* vmm.cr_policy: the VMM's answer to a CR-filter or Heki denial exit (a const ops table). */
enum stack_cr_answer { STACK_CR_ALLOW, STACK_CR_DENY, STACK_CR_KILL };
struct stack_cr_policy {
	const char *name;
	/* the answer to a write of @val to CR@cr (was @old) */
	enum stack_cr_answer (*answer)(unsigned cr, uint64_t old, uint64_t val);
};
extern const struct stack_cr_policy *const stack_cr_policies[];   /* by vmm.cr_policy's index */

/* heki.cr_protection: who offers the guest CR protection (docs/cr-protection.md). */
enum stack_cr_design {
	STACK_CR_NONE,   /* KVM without Heki: KVM_HC_LOCK_CR_UPDATE is -KVM_ENOSYS */
	STACK_CR_KVM,    /* Heki in KVM */
	STACK_CR_VMM,    /* KVM hands KVM_HC_LOCK_CR_UPDATE to the VMM, which pins with its CR filter */
	STACK_CR_VTL,    /* the scenario's VM gets a VTL1; no Heki in KVM */
};

/* The machine's configuration of these designs (the heki module's keys). */
struct stack_heki_cfg {
	enum stack_cr_design design;             /* heki.cr_protection */
	const struct stack_cr_policy *policy;   /* vmm.cr_policy */
	bool reset_unpins;                       /* heki.reset_unpins */
	unsigned mem_denial;                     /* vtl.mem_denial: 0 #GP, 1 kill */
	unsigned heki_mem_denial;                /* heki.mem_denial: 0 #GP, 1 kill */
	uint64_t host_cr0, host_cr4;             /* heki.host_cr0/cr4: the host's read_cr0()/__read_cr4() */
	uint64_t vtl_switch;                     /* lat.stack.vtl_switch: one VTL call or return */
	uint64_t vtl_work;                       /* lat.stack.vtl_work: VTL1 handling one intercept */
	uint64_t sha_kbyte;                      /* lat.stack.sha_kbyte: VTL1's SHA-256, cycles per KiB */
	/* the scenario's run (heki_run.c) */
	bool ran;
	unsigned run_vm;
	char *run_elf, *run_log;
};

/* vmN.heki.* */
struct stack_heki_stats {
	uint64_t lock_calls;         /* KVM_HC_LOCK_CR_UPDATE hypercalls */
	uint64_t lock_einval;        /* of those, answered -KVM_EINVAL */
	uint64_t cr_exits;           /* CR0/CR4 write exits KVM handled */
	uint64_t cr_denied;          /* CR writes refused (#GP), any design */
	uint64_t cr_allowed;         /* CR writes that took an exit and were performed */
	uint64_t configure_exits;    /* KVM_EXIT_HEKI_CONFIGURE given to the VMM */
	uint64_t denial_exits;       /* KVM_EXIT_HEKI_DENIAL given to the VMM */
	uint64_t filter_exits;       /* CR-filter exits given to the VMM */
	uint64_t vtl_calls;          /* switches VTL0 -> VTL1 (intercepts and VTL calls) */
	uint64_t vtl_denied;         /* of VTL1's answers, refusals */
	uint64_t kexec_ok;           /* kexec images VTL1 accepted */
	uint64_t kexec_refused;      /* kexec images VTL1 refused (hash not on the allow-list) */
	uint64_t mem_denials;        /* guest accesses refused by VTL0's stage-2 view */
	uint64_t resets;             /* vCPU resets (INIT) */
};

#define STACK_VTL_MAX_RANGES 32
#define STACK_VTL_MAX_HASHES 8

/* A VM's second level (VTL1) and VTL0's permission view (vtl.c). */
struct stack_vtl {
	bool enabled;
	unsigned level;                  /* the level the VM's vCPUs are in: 0 or 1 */
	uint64_t icpt[2];                /* VTL0 CR0/CR4 bits whose change VTL1 intercepts */
	struct { uint64_t gpa, size; unsigned perms; } range[STACK_VTL_MAX_RANGES];
	unsigned nranges;
	uint8_t allow[STACK_VTL_MAX_HASHES][32];   /* kexec allow-list: SHA-256 of accepted images */
	unsigned nallow;
	bool locked;                     /* VTL0 said its boot is over (STACK_HC_VTL_LOCK) */
};

/* The per-VM state (struct kvm's heki_* fields, the VMM's filter, the VTL). */
struct stack_heki {
	uint64_t pinned_cr0, pinned_cr4;            /* kvm->heki_pinned_cr0/cr4 */
	uint64_t configure_exit_reason;             /* KVM_CAP_HEKI_CONFIGURE */
	uint64_t denial_exit_reason;                /* KVM_CAP_HEKI_DENIAL */
	uint64_t filter[2];                         /* vm cr_filter: CR0/CR4 bits the VMM watches */
	uint64_t cr[64][2];                         /* scripted vCPUs' CR0/CR4 (guest cr_write) */
	bool cr_set[64];                            /* cr[k] holds a value (else the booted one) */
	struct stack_vtl vtl;
	struct { uint64_t gpa, size; unsigned perms; } mem[STACK_HEKI_MAX_MEM];   /* KVM_HC_PROTECT_MEMORY */
	unsigned nmem;
	struct stack_heki_stats ctr;
	struct sim_stat_group *stats;
};

/* The state of @v, made on first use (@make), or NULL. */
struct stack_heki *stack_heki_of(struct stack_vm *v, bool make);
void stack_heki_free(struct stack_vm *v);

/*
 * kvm_emulate_hypercall's KVM_HC_LOCK_CR_UPDATE (heki_lock_cr): DONE with
 * the answer in the vCPU's resp, or USER (KVM_EXIT_HEKI_CONFIGURE).
 */
int stack_heki_lock_cr(struct stack_vm *v, unsigned vcpu, const uint64_t args[5],
		       struct stack_uexit *ue, uint64_t *cycles);
/*
 * KVM's handling of a CR0/CR4 write exit (handle_cr: heki_check_cr, the
 * VTL1 intercept, the VMM's filter): DONE (perform the write), GP, or USER.
 */
int stack_heki_cr_exit(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
		       const struct cpu_exit *e, struct stack_uexit *ue, uint64_t *cycles);
/*
 * design vmm: the VMM's own KVM_HC_LOCK_CR_UPDATE (KVM_EXIT_HYPERCALL):
 * the seed's validation in userspace, the pin becoming the VMM's CR
 * filter of those bits; ue->ret set.  true.
 */
bool stack_heki_vmm_lock(struct stack_vm *v, struct stack_uexit *ue);
/* The VMM's turn for a Heki or CR-filter exit: false to stop the VM (vmm.cr_policy=kill). */
bool stack_heki_vmm(struct stack_vm *v, struct stack_uexit *ue, uint64_t *cycles);
/* KVM's completion of such an exit (complete_heki_*_exit): DONE or GP. */
int stack_heki_complete(struct stack_vm *v, unsigned vcpu, struct stack_uexit *ue, int cont);
/* The CR0 (@cr 0) or CR4 bits whose change exits for @v (pins | filter | VTL intercepts). */
uint64_t stack_heki_intercept(struct stack_vm *v, unsigned cr);
/* Program every hart of @v's program platform with those masks. */
void stack_heki_sync(struct stack_vm *v);
/* The invariants of @v's CR protection (stack.check): 0, or -1 with the first broken one in @msg. */
int stack_heki_check(struct stack_vm *v, char *msg, size_t len);
/* A scripted vCPU's CR value and its commit. */
uint64_t stack_heki_vcpu_cr(struct stack_vm *v, unsigned vcpu, unsigned cr);
void stack_heki_vcpu_set_cr(struct stack_vm *v, unsigned vcpu, unsigned cr, uint64_t val);
/* INIT of a vCPU (vcpu reset): CRs to their INIT values; pins per heki.reset_unpins. */
void stack_heki_vcpu_reset(struct stack_vm *v, unsigned vcpu);
/*
 * KVM_ENABLE_CAP for KVM_CAP_HEKI_CONFIGURE (@denial false) or
 * KVM_CAP_HEKI_DENIAL: 0 or -EINVAL (a mask outside the valid reasons).
 */
int stack_heki_enable_cap(struct stack_vm *v, bool denial, uint64_t mask);

/* VTL calls from VTL0 (protsim's hypercall numbers, beside the VMM's device's 0x100/0x101) */
#define STACK_HC_VTL_CALL   0x110   /* an empty VTL call and return */
#define STACK_HC_VTL_KEXEC  0x111   /* a0 = image GPA, a1 = size: VTL1 checks it, then tears down */
#define STACK_HC_VTL_PROTECT   0x112   /* a0 = GPA, a1 = size, a2 = perms (S2_PERM_*): until the lock */
#define STACK_HC_VTL_INTERCEPT 0x113   /* a0 = CR (0 or 4), a1 = mask: until the lock */
#define STACK_HC_VTL_LOCK      0x114   /* end of VTL0's boot: VTL1 takes no more requests */
#define STACK_HC_VTL_FIRST     STACK_HC_VTL_CALL
#define STACK_HC_VTL_LAST      STACK_HC_VTL_LOCK

/*
 * heki_run.c: the scenario's CR-protection VM ([heki], heki.elf): 0 none,
 * 1 run, or -1 with @err; its summary lines; freeing its names.
 */
int stack_run_heki(struct sim *s, const char *scenario, const char *out_dir, struct sim_err *err);
void stack_heki_summary(struct sim *s, FILE *out);
void stack_run_heki_free(struct stack *st);

/* vtl.c: 0 or a negative errno (-EEXIST enabled twice; -ENOENT no VTL; -ENOSPC full) */
int stack_vtl_enable(struct stack_vm *v);
int stack_vtl_intercept(struct stack_vm *v, unsigned cr, uint64_t mask);
int stack_vtl_protect(struct stack_vm *v, uint64_t gpa, uint64_t size, unsigned perms);
int stack_vtl_allow(struct stack_vm *v, const uint8_t sha[32]);
/* VTL1 goes (kexec accepted, reset): intercepts dropped, VTL0's restricted leaves zapped. */
void stack_vtl_teardown(struct stack_vm *v);
/*
 * VTL0's stage-2 view: 0 when VTL0 may make access @acc (0 read, 1
 * write, 2 fetch; @user: a user-mode fetch) at @gpa, else -1.  Always 0
 * for a VM without a VTL.
 */
int stack_vtl_check(struct stack_vm *v, uint64_t gpa, unsigned acc, bool user);
/*
 * The S2_PERM_* of the guest's leaf for @gpa: VTL0's view (when a VTL
 * is on) and Heki's KVM_HC_PROTECT_MEMORY ranges together; S2_PERM_ALL
 * where neither restricts it.
 */
unsigned stack_vtl_perms(struct stack_vm *v, uint64_t gpa);
/* Whether either restricts any page of [@gpa, @gpa + @size). */
bool stack_vtl_restricts(struct stack_vm *v, uint64_t gpa, uint64_t size);
/*
 * KVM's EPT-violation path for a refused access at @gpa: a VTL0 view
 * refusal goes to VTL1 (a switch in, its handling, a return), then GP or
 * FATAL as vtl.mem_denial says; a Heki range's is KVM's own denial
 * (heki.mem_denial).  Counted.
 */
int stack_vtl_deny(struct stack_vm *v, uint64_t gpa, unsigned acc, uint64_t *cycles);
/* A VTL call (STACK_HC_VTL_*) of vCPU @vcpu: DONE with the answer in its resp. */
int stack_vtl_hypercall(struct stack_vm *v, unsigned vcpu, const uint64_t args[5],
			uint64_t *cycles);
void stack_vtl_sha256(const void *data, size_t len, uint8_t out[32]);

#endif /* PROTSIM_STACK_HEKI_H */
