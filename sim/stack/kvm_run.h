/*
 * kvm_run.h - KVM at run time: vCPUs, the exits KVM handles (#NPF, the
 * SNP VMGEXITs, hypercalls), the exits it gives to the VMM (struct
 * kvm_run's exit reasons), and the VMM that answers them.  Private to
 * sim/stack (included by stack_int.h).  Reference: docs/stack.md, "The
 * SNP host at run time".
 *
 * The shape is KVM's: a vCPU exit is handled in the kernel
 * (stack_kvm_handle_*), which either answers the guest at once or fills
 * a struct stack_uexit and returns STACK_KVM_USER: KVM_RUN returns to
 * the VMM, which handles the exit (stack_vmm_handle) and calls KVM_RUN
 * again, whose first act is to complete the exit
 * (stack_kvm_complete_user: KVM's complete_userspace_io), which may give
 * the VMM another exit (a PSC descriptor's next range) or the guest its
 * answer.  Every step charges its hardware work to who->mem_cycles and
 * its software latency (lat.stack.*, struct stack_lat) to *cycles.
 */
#ifndef PROTSIM_STACK_KVM_RUN_H
#define PROTSIM_STACK_KVM_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"

struct stack_vm;
struct stack;

#define STACK_KVM_MAX_VCPUS 64

/* The software latencies of the host stack (lat.stack.*, cycles). */
struct stack_lat {
	uint64_t kvm_exit;       /* KVM's exit dispatch and handling of one exit, in the kernel */
	uint64_t user_exit;      /* KVM_RUN returning to the VMM and the VMM calling it again */
	uint64_t ioctl;          /* one VM ioctl from the VMM (syscall, KVM dispatch) */
	uint64_t page_clear;     /* clearing one 4K page (a new guest_memfd or VMM page) */
	uint64_t psc_entry;      /* KVM's work on one PSC entry (read, check, write back) */
	uint64_t kick;           /* kicking a vCPU out of guest mode (IPI and its wait) */
	uint64_t signal;         /* delivering a signal to a VMM thread */
};

/* The GHCB page (GHCB specification, AMD 56421, "GHCB layout"; Linux struct ghcb). */
#define STACK_GHCB_SW_EXIT_CODE    0x390
#define STACK_GHCB_SW_EXIT_INFO_1  0x398
#define STACK_GHCB_SW_EXIT_INFO_2  0x3a0
#define STACK_GHCB_SW_SCRATCH      0x3a8
#define STACK_GHCB_VALID_BITMAP    0x3f0   /* 16 bytes: bit n = the qword at 8n is valid */
#define STACK_GHCB_SHARED_BUF      0x800   /* 2032 bytes */
#define STACK_GHCB_SHARED_END      0xff0
#define STACK_GHCB_PROTO_VERSION   0xffa   /* u16 */
#define STACK_GHCB_USAGE           0xffc   /* u32, 0: standard */
#define STACK_SVM_VMGEXIT_PSC      0x80000010ull
#define STACK_SVM_VMGEXIT_AP_CREATION 0x80000013ull   /* sw_exit_info_1: request | APIC ID << 32 */
#define STACK_GHCB_RAX             0x1f8   /* save.rax: the AP's SEV features */
#define STACK_AP_CREATE_ON_INIT    0       /* SVM_VMGEXIT_AP_CREATE_ON_INIT */
#define STACK_AP_CREATE            1       /* SVM_VMGEXIT_AP_CREATE */
#define STACK_AP_DESTROY           2       /* SVM_VMGEXIT_AP_DESTROY */
#define STACK_SEV_FEAT_SNP_ACTIVE  1ull    /* SVM_SEV_FEAT_SNP_ACTIVE: the VMs' vmsa_features */

/* struct kvm_run exit reasons the model gives the VMM (include/uapi/linux/kvm.h). */
enum stack_uexit_reason {
	STACK_UEXIT_NONE,
	STACK_UEXIT_MEMORY_FAULT,    /* KVM_EXIT_MEMORY_FAULT (39) */
	STACK_UEXIT_HYPERCALL,       /* KVM_EXIT_HYPERCALL (3): KVM_HC_MAP_GPA_RANGE */
	STACK_UEXIT_MMIO,            /* KVM_EXIT_MMIO (6) */
	STACK_UEXIT_SYSTEM_EVENT,    /* KVM_EXIT_SYSTEM_EVENT (24): SEV termination request */
	/* heki.h: Heki (RFC v2 03/19) and the VMM's CR filter */
	STACK_UEXIT_HEKI_CONFIGURE,  /* KVM_EXIT_HEKI_CONFIGURE (39 in the RFC) */
	STACK_UEXIT_HEKI_DENIAL,     /* KVM_EXIT_HEKI_DENIAL (40 in the RFC) */
	STACK_UEXIT_CR_WRITE,        /* the CR filter's exit (protsim's, as KVM_EXIT_X86_WRMSR) */
	STACK_UEXIT_COUNT
};
extern const char *const stack_uexit_names[STACK_UEXIT_COUNT];   /* "none", "memory_fault", ... */

#define STACK_KVM_HC_MAP_GPA_RANGE           12
#define STACK_KVM_MAP_GPA_RANGE_PAGE_SZ_2M   (1ull << 0)
#define STACK_KVM_MAP_GPA_RANGE_ENCRYPTED    (1ull << 4)
#define STACK_KVM_MEMORY_EXIT_FLAG_PRIVATE   (1ull << 3)
#define STACK_KVM_ENOSYS                     1000       /* KVM_ENOSYS: unknown hypercall */
#define STACK_HC_VIRTIO_SETUP                0x100      /* the VMM's block device (vmm_blk.c) */
#define STACK_HC_VIRTIO_NOTIFY               0x101

/* An exit to the VMM (the fields of struct kvm_run it reads and writes). */
struct stack_uexit {
	enum stack_uexit_reason reason;
	/* MEMORY_FAULT: memory_fault.{gpa,size,flags}; MMIO: mmio.{phys_addr,len,is_write} */
	uint64_t gpa, size, flags;
	bool is_write;
	/* HYPERCALL: hypercall.{nr,args,ret} */
	uint64_t nr, args[6];
	int64_t ret;
	/* SYSTEM_EVENT: the guest's termination request (reason set, code) */
	unsigned term_set, term_code;
	/* HEKI_*: heki_configure/heki_denial.{reason, cr_pinned|cr_value}; CR_WRITE: cr, old, value */
	uint64_t heki_reason, cr_value, cr_old;
	unsigned cr;
};

/* What a KVM handler tells the vCPU loop. */
enum stack_kvm_rc {
	STACK_KVM_RETRY,     /* re-enter; the instruction runs again (fault fixed or spurious) */
	STACK_KVM_DONE,      /* re-enter past the instruction with the answer (VMGEXIT, hypercall) */
	STACK_KVM_USER,      /* the VMM's turn: the uexit is filled; complete it afterwards */
	STACK_KVM_FATAL,     /* KVM_RUN fails (-EFAULT, -EINVAL): the VMM gives up on the VM */
	STACK_KVM_GP,        /* heki.h: inject #GP(0); the instruction is not done (RIP not advanced) */
};

/* KVM's completion of a user exit (vcpu->arch.complete_userspace_io). */
enum stack_kvm_cont {
	STACK_KVM_CONT_NONE,
	STACK_KVM_CONT_RETRY,        /* re-execute the faulting access (MEMORY_FAULT) */
	STACK_KVM_CONT_MMIO,         /* complete_emulated_mmio: the access is done */
	STACK_KVM_CONT_PSC_MSR,      /* snp_complete_psc_msr */
	STACK_KVM_CONT_PSC_NAE,      /* snp_complete_one_psc */
	STACK_KVM_CONT_HYPERCALL,    /* complete_hypercall_exit: the return value to a0 */
	STACK_KVM_CONT_TERMINATE,    /* the guest asked to terminate: the VM goes */
	/* heki.h */
	STACK_KVM_CONT_HEKI_CONFIGURE,   /* complete_heki_configure_exit: RAX = 0, skip */
	STACK_KVM_CONT_HEKI_DENIAL,      /* complete_heki_denial_exit: #GP */
	STACK_KVM_CONT_CR_WRITE,         /* the VMM's answer to the CR filter's exit */
};

/* One vCPU of a KVM VM (struct kvm_vcpu and the SEV parts of struct vcpu_svm). */
struct stack_kvm_vcpu {
	bool created;
	bool power_off;              /* vcpu create power_off=1 (KVM_MP_STATE_STOPPED) */
	bool ran;                    /* KVM_RUN was called on it */
	uint64_t pc, sp;             /* the scripted guest's registers (vcpu state) */
	uint64_t ghcb_msr;           /* the GHCB MSR's last value */
	uint64_t ghcb_gpa;           /* registered GHCB GPA (MSR 0x012), ~0: none (KVM's view) */
	uint64_t guest_ghcb;         /* the scripted guest's GHCB GPA, ~0: none (the guest's view) */
	uint64_t vmsa_spa;           /* SNP: the VMSA VMRUN uses (vmcb->control.vmsa_pa), 0: none */
	uint64_t vmsa_gpa;           /* the GPA that VMSA's RMP entry must hold */
	uint64_t kvm_vmsa_spa;       /* KVM's own VMSA page (LAUNCH_FINISH; reclaimed at destroy) */
	bool vmsa_revoked;           /* host.c: a host RMP-fault strategy made it shared */
	/* AP creation (sev_snp_ap_creation): the VMSA to switch to at the next entry or INIT */
	uint64_t ap_vmsa_gpa;        /* snp_vmsa_gpa, ~0: INVALID_PAGE */
	bool ap_waiting;             /* snp_ap_waiting_for_reset */
	bool ap_request;             /* KVM_REQ_UPDATE_PROTECTED_GUEST_STATE pending */
	/* the exit KVM is in the middle of (complete_userspace_io) */
	enum stack_kvm_cont cont;
	uint64_t psc_gpa;            /* NAE PSC: the descriptor's GPA */
	unsigned psc_idx, psc_inflight;
	uint64_t resp;               /* the answer for the guest once complete */
};

/* KVM's counters of a VM (vmN.kvm.*). */
struct stack_kvm_stats {
	uint64_t exits[8];               /* exits handled, by cpu_exit_reason (npf ..) */
	uint64_t user_exits[STACK_UEXIT_COUNT];   /* exits to the VMM by reason */
	uint64_t npf_mapped;             /* #NPFs that mapped a page */
	uint64_t npf_mapped_2m;          /* of those, with a 2M leaf */
	uint64_t npf_spurious;           /* #NPFs with nothing to do */
	uint64_t rmp_faults;             /* #NPFs with the RMP bit (sev_handle_rmp_fault) */
	uint64_t psmash;                 /* PSMASHes done for them */
	uint64_t psmash_retries;         /* FAIL_INUSE retries */
	uint64_t msr_requests;           /* GHCB MSR protocol requests */
	uint64_t psc_msr;                /* of those, page-state changes */
	uint64_t psc_nae;                /* NAE PSC events */
	uint64_t psc_entries;            /* PSC entries completed (either transport) */
	uint64_t psc_errors;             /* PSC requests answered with an error */
	uint64_t hypercalls;             /* HYPERCALL exits */
	uint64_t legacy_rmpupdates;      /* snp.backing=legacy: RMPUPDATEs in the PSC handler */
	uint64_t conversions;            /* VMM: ranges converted (attribute changes) */
	uint64_t pages_converted;        /* VMM: 4K pages whose attribute changed */
	uint64_t prefaulted;             /* VMM: pages mapped ahead (snp.prefault=1) */
	uint64_t pages_punched;          /* VMM: 4K pages of guest_memfd punched on to-shared */
	uint64_t shared_discarded;       /* VMM: 4K pages of shared backing dropped on to-private */
	uint64_t blk_requests;           /* VMM: block requests served */
	uint64_t blk_bytes;              /* VMM: bytes they moved */
	uint64_t blk_wakeups;            /* VMM: notifies that woke its I/O thread */
	uint64_t ap_requests;            /* AP creation events (create, create on INIT, destroy) */
	uint64_t ap_errors;              /* of those, refused (GHCB_ERR_INVALID_INPUT) */
	uint64_t ap_updates;             /* vCPU state updates applied (a VMSA switched or dropped) */
	uint64_t kicks;                  /* vCPUs kicked (kvm_vcpu_kick) */
};

/* The KVM and VMM state of a VM that runs (struct stack_vm .run). */
struct stack_kvm_run {
	struct stack_kvm_vcpu vcpu[STACK_KVM_MAX_VCPUS];
	uint64_t hc_exit_mask;           /* KVM_CAP_EXIT_HYPERCALL: bit N = exit on hypercall N */
	struct stack_kvm_cpu *cpu;       /* the guest platform of a program (kvm_vcpu.c), or NULL */
	struct stack_vblk *blk;          /* the VMM's block device (vmm_blk.c), or NULL */
	struct stack_kvm_last_run {      /* the last `vcpu run` (for summaries) */
		bool valid;
		char exit[16];           /* "exited", "hlt", ... */
		int code;
		uint64_t cycles, exits, user_exits, insns;
	} last;
	bool killed;                     /* the VMM gave up on the VM (KVM_RUN failed, terminate) */
	struct stack_heki *heki;         /* heki.h: pins, CR filter, VTL (made on first use), or NULL */
	struct stack_kvm_stats ctr;
	struct sim_stat_group *stats;
};

/* snp.backing: where private memory lives (an ops choice of the PSC and #NPF paths). */
enum stack_snp_backing {
	STACK_SNP_BACKING_GMEM,      /* private memory only in guest_memfd (upstream) */
	STACK_SNP_BACKING_LEGACY,    /* one backing; KVM RMPUPDATEs in the PSC handler (2021) */
};

/* Give VM @v its run state, stats under PREFIX.kvm (@prefix "vm1"). */
void stack_kvm_run_init(struct stack_vm *v, const char *prefix);
/* Drop it: SNP VMSA pages made hypervisor-owned (timed on @who, may be NULL) or leaked. */
void stack_kvm_run_free(struct stack_vm *v, struct sim_who *who);
/* Read lat.stack.* and the strategy keys into @st (stack attach). */
void stack_kvm_read_keys(struct stack *st);

/* kvm_mmu.c: the #NPF path */
/*
 * KVM's #NPF handling (npf_interception: kvm_mmu_page_fault, then
 * sev_handle_rmp_fault when the RMP bit is set) for a fault of vCPU
 * @vcpu of VM @v at @gpa with EXITINFO1 @info.  RETRY, USER (@ue:
 * MEMORY_FAULT, or MMIO for a shared access where no memslot is, which
 * completes as DONE: the access was emulated) or FATAL.
 */
enum stack_kvm_rc stack_kvm_npf(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				uint64_t gpa, uint64_t info, struct stack_uexit *ue,
				uint64_t *cycles);
/*
 * Map GFNs [@gpa, @gpa + @size) private ahead of the guest
 * (KVM_PRE_FAULT_MEMORY): 0 or a negative errno; @mapped counts the
 * 4K pages now mapped.
 */
int stack_kvm_prefault(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size,
		       uint64_t *mapped, uint64_t *cycles);
/* Zap the nested mappings of [@gpa, @gpa + @size) (kvm_zap_gfn_range): 0 or -EFAULT. */
int stack_kvm_zap(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size);

/* kvm_sev.c: VMGEXIT and hypercalls */
enum stack_kvm_rc stack_kvm_vmgexit(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				    uint64_t msr, struct stack_uexit *ue, uint64_t *cycles);
enum stack_kvm_rc stack_kvm_hypercall(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				      const uint64_t args[5], struct stack_uexit *ue,
				      uint64_t *cycles);
/*
 * snp.backing=legacy teardown: every page of the VMM's backing still
 * assigned to the VM goes back to the hypervisor (PSMASH first where 2M,
 * then RMPUPDATE).  Return: pages that could not be reclaimed (they stay
 * assigned, and the host page allocator leaks them when the slot goes).
 */
uint64_t stack_kvm_legacy_reclaim(struct stack_vm *v, struct sim_who *who);

/*
 * The entry work of vCPU @vcpu (vcpu_enter_guest's
 * KVM_REQ_UPDATE_PROTECTED_GUEST_STATE, or an INIT when @init): when an
 * AP creation is waiting, switch to the new VMSA (the guest_memfd page of
 * its GPA) or, for AP_DESTROY or a GPA without one, leave the vCPU
 * without a VMSA (not runnable), as sev_snp_init_protected_guest_state
 * does.  Return: true when the vCPU has a VMSA to enter with.
 */
bool stack_kvm_ap_update(struct stack_vm *v, unsigned vcpu, struct sim_who *who, bool init,
			 uint64_t *cycles);
/*
 * VMRUN's check of the vCPU's VMSA page (APM 15.36.11, untimed here: the
 * CPU model times it for programs): assigned to the VM's ASID at
 * vmsa_gpa, VMSA set, mutable.  False: VMEXIT_INVALID
 * (KVM_EXIT_FAIL_ENTRY; the VMM stops the VM).
 */
bool stack_kvm_vmsa_ok(struct stack_vm *v, unsigned vcpu);
/*
 * kvm_vcpu_kick of vCPU @vcpu: counted; when the VM runs a program, its
 * hart leaves guest mode at its next instruction boundary and the kick's
 * IPI (lat.stack.kick) is charged to *@cycles.  A scripted vCPU is never
 * in guest mode while another line runs: nothing to interrupt.
 */
void stack_kvm_vcpu_kick(struct stack_vm *v, unsigned vcpu, uint64_t *cycles);
/* Whether vCPU @vcpu (-1: any vCPU) of @v is in a `vcpu run` now (another agent's line). */
bool stack_kvm_vcpu_running(const struct stack_vm *v, int vcpu);

/*
 * KVM_RUN after the VMM handled @ue: complete the exit (DONE with the
 * answer in vcpu->resp, RETRY, another USER, or FATAL).
 */
enum stack_kvm_rc stack_kvm_complete_user(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
					  struct stack_uexit *ue, uint64_t *cycles);

/* vmm.c: the VMM's answers */
/*
 * The VMM's handling of exit @ue of VM @v (it fills ue->ret where the
 * exit has one).  Return: true to call KVM_RUN again, false when the VMM
 * stops the VM (termination request, an exit it cannot handle).
 */
bool stack_vmm_handle(struct stack_vm *v, struct sim_who *who, struct stack_uexit *ue,
		      uint64_t *cycles);
/* vmm_blk.c: the VMM's virtio-like block device of @sectors 512-byte sectors */
int stack_vblk_create(struct stack_vm *v, uint64_t sectors);   /* 0, -EEXIST */
void stack_vblk_free(struct stack_vm *v);
/* The VMM I/O threads' own state (their agents stay to the end of the run). */
void stack_iothreads_free(struct stack *st);
bool stack_vblk_present(const struct stack_vm *v);
/* The device's hypercalls (ue->nr, ue->args[1..4]): true when served (ue->ret set). */
bool stack_vblk_hypercall(struct stack_vm *v, struct sim_who *who, struct stack_uexit *ue,
			  uint64_t *cycles);

/*
 * Convert [@gpa, @gpa + @size) to private or shared as the VMM does
 * (QEMU kvm_convert_memory): KVM_SET_MEMORY_ATTRIBUTES, then the old
 * backing discarded (to-shared: guest_memfd PUNCH_HOLE; to-private: the
 * shared pages dropped), then with snp.prefault=1 a to-private range
 * mapped ahead.  0 or a negative errno.
 */
int stack_vmm_convert(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size,
		      bool to_private, uint64_t *cycles);

#endif /* PROTSIM_STACK_KVM_RUN_H */
