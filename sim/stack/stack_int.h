/*
 * stack_int.h - what the files of sim/stack share.  Private to sim/stack.
 */
#ifndef PROTSIM_STACK_INT_H
#define PROTSIM_STACK_INT_H

#include "sim/stack/stack.h"
#include "cpu/cpu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"
#include "sim/stack/kvm_mem.h"   /* KVM memory: memslots and attributes (kvm_mem.c) */
#include "sim/stack/snp_int.h"
#include "sim/stack/gmem.h"
#include "sim/stack/kvm_run.h"    /* KVM at run time: vCPUs, exits, the VMM */
#include "sim/stack/heki.h"       /* CR protection: Heki, the VMM's CR filter, VTLs */

/*
 * One VM of the machine: its nested (stage-2) table, whose pages come from
 * the host page allocator, optionally a guest stage-1 table in guest
 * memory, its ASID (non-zero: an SNP guest) and the RMP check its
 * translations make.  The VM number is also its TLB tag.
 */
struct stack_vm {
	struct stack *st;                /* the machine's host software */
	unsigned id;                     /* VM number (vm=), 0..S2_MAX_VMS-1 */
	uint32_t asid;                   /* != 0: SNP guest */
	struct s2_pgt *s2;               /* nested table */
	struct s2_pgt *s1;               /* guest stage-1 table, or NULL */
	uint64_t s1_next;                /* next GPA handed out for a stage-1 table page */
	struct s2_space space;           /* what an MMU translates with */
	struct s2_check_hook hook;       /* -> the RMP check of the VM's accesses */
	struct rmp_fault last;           /* the last refused RMP check */
	struct stack_vm_stats {          /* vmN.* (registered at creation) */
		uint64_t table_ops;      /* table operations that changed or could change a table */
		uint64_t refused;        /* of those, refused by the RMP (host write to an assigned page) */
		uint64_t accesses;       /* s2 access / access translations */
		uint64_t faults;         /* of those, faulted (stage 1, stage 2 or RMP) */
		uint64_t rmp_faults;     /* of those, refused by the RMP check */
	} ctr;
	struct sim_stat_group *stats;
	char prefix[16];                 /* its statistics' prefix: vmN (vmN_G when re-created) */
	unsigned nvcpus;                 /* `vm create vcpus=` (KVM VMs) */
	bool mirror;                     /* a mirror VM: its ASID is another VM's (vm mirror) */
	struct stack_snp_guest *snp;     /* the firmware's guest context (snp launch_start) */
	uint64_t table_quota;            /* bytes of nested-table pages it may hold (0: no limit) */
	uint64_t table_pages;            /* nested-table pages it holds */
	struct stack_guest *guest;       /* a VM that runs a guest program (guest.c), or NULL */
	/* KVM memory (kvm_mem.c) */
	struct stack_kvm_mem *kvm;       /* memslots and attributes, or NULL */
	struct stack_kvm_run *run;       /* vCPUs, exits and the VMM (ops_guest.c), or NULL */
};

/* One vCPU of a guest VM: its hart, the VMCB the host hands VMRUN, its thread's state. */
struct stack_vcpu {
	struct stack_vm *vm;
	struct cpu_hart *h;
	struct cpu_vmcb vmcb;
	bool blocked;                    /* halted (HLT) in the host, waiting for a wake-up */
	uint64_t kick_flow;              /* timeline: the arrow of a pending kick, or 0 */
	char name[16];                   /* its thread agent: "vcpu0" */
};

/*
 * A host kind: one exit handler per exit reason.  A handler runs on the
 * vCPU thread after the #VMEXIT, charges its own time, fills the reply
 * and returns 1 to re-enter the guest, 0 to stop this vCPU.
 */
typedef int (*stack_exit_fn)(struct stack_vcpu *vc, const struct cpu_exit *e, struct cpu_reply *r);
struct stack_host {
	const char *name;
	stack_exit_fn exit[CPU_EXIT_COUNT];
};
extern const struct stack_host stack_host_minimal;
/* Run @v's vCPUs with @host's exit handlers (NULL: minimal). */
void stack_guest_set_host(struct stack_vm *v, const struct stack_host *host);

/*
 * The VMM's HTIF device (guest.c; docs/guest-abi.md "HTIF"): the console,
 * the write() syscall proxy and the exit request of a program, on its
 * tohost/fromhost words.  Guest memory is reached through @gpa_to_spa
 * (untimed: a device's view).
 */
struct stack_htif {
	struct sim_mem *mem;
	int (*gpa_to_spa)(void *arg, uint64_t gpa, uint64_t *spa);   /* 0, or -1: no memory */
	void (*exit)(void *arg, int code);   /* the program asked to exit */
	void *arg;
	uint64_t tohost_spa;             /* the tohost word */
	uint64_t fromhost;               /* its GPA (0: none) */
	uint64_t max_len;                /* the longest write() it copies */
	FILE *console;                   /* NULL: output dropped */
};
/* A non-zero value stored to tohost. */
void stack_htif_tohost(struct stack_htif *d, uint64_t val);

/* The run state of a VM with a guest program (guest.c). */
struct stack_guest {
	char keys[8];                    /* its key prefix: "vm", "vm0".. (error messages) */
	enum cpu_vm_type type;
	uint64_t mem_base, mem_size, spa_base;   /* guest RAM and its backing */
	uint64_t page_size;              /* vm.page_size */
	uint32_t asid;
	unsigned cr_policy;              /* minimal host: 0 allow, 1 deny (#GP) */
	uint64_t hv_exit;                /* lat.cpu.hv_exit */
	struct sim_mem *mem;
	FILE *console;
	const struct stack_host *host;
	struct cpu_vm *cpu;              /* the guest platform (hardware) */
	unsigned nvcpu;
	struct stack_vcpu *vcpu;
	struct cpu_budget budget;        /* the instruction limit, shared by the vCPUs */
	enum stack_vm_state state;
	int exit_code;
	unsigned running;                /* vCPU threads not finished */
	unsigned blocked;                /* of those, halted */
	bool has_tohost;
	struct stack_htif htif;          /* the VMM's HTIF device on tohost */
	uint64_t npf_maps;               /* pages mapped on a first-touch #NPF */
	uint64_t root_cycles;            /* the nested root's zeroing, charged to the first map */
	struct sim *sim;
	char stat_prefix[24];            /* its VM-wide statistics: "vm", "vm1" */
	struct sim_hist *exit_lat[CPU_EXIT_COUNT];   /* PREFIX.exit_cycles.REASON */
};

/*
 * The keys of a VM with a guest program, declared once for every VM that
 * has them: prefix @P ("vm" for `protsim exec`; "vm0".."vm3" for the VMs of
 * a `protsim run` scenario, which also have .elf and .max_insns), the
 * default system address of its RAM @SPA ("0": placed after the previous
 * VM's) and ASID @ASID.  @WHO names the VM in the descriptions.
 */
extern const char *const stack_vm_type_choices[];
extern const char *const stack_psize_choices[];
extern const char *const stack_policy_choices[];
#define STACK_GUEST_KEYS(P, SPA, ASID, WHO) \
	{ P ".type", SIM_CFG_ENUM, 0, 0, "npt", stack_vm_type_choices, \
	  WHO ": bare (GPA = SPA + offset), npt (stage 2, AMD NPT) or snp (NPT + RMP, memory assigned and validated)" }, \
	{ P ".vcpus", SIM_CFG_U64, 1, 64, "1", NULL, WHO ": vCPUs (harts)" }, \
	{ P ".mem_base", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, "0x80000000", NULL, \
	  WHO ": guest physical address of guest RAM" }, \
	{ P ".mem_size", SIM_CFG_SIZE, 64 << 10, 1ull << 40, "64m", NULL, \
	  WHO ": guest RAM size (mapped on first touch: host cost follows the pages the guest touches)" }, \
	{ P ".spa_base", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, SPA, NULL, \
	  WHO ": system physical address backing guest RAM, outside the host page pool (s2.pool_base)" \
	  "; 0: after the previous VM's RAM" }, \
	{ P ".page_size", SIM_CFG_ENUM, 0, 0, "4k", stack_psize_choices, \
	  WHO ": nested-table leaf and RMP entry size for guest RAM" }, \
	{ P ".pt_pool", SIM_CFG_SIZE, 64 << 10, 4ull << 30, "2m", NULL, \
	  WHO ": bytes of nested-table pages it may take from the host page pool" }, \
	{ P ".asid", SIM_CFG_U64, 1, 1023, ASID, NULL, WHO ": SNP: the guest's ASID" }, \
	{ P ".vmpl", SIM_CFG_U64, 0, 3, "0", NULL, WHO ": SNP: VMPL the vCPUs run at" }, \
	{ P ".cbit_pte", SIM_CFG_BOOL, 0, 1, "0", NULL, \
	  WHO ": SNP: take the C-bit of data accesses from Sv PTE bit 8 (else every access is private)" }, \
	{ P ".cr0_intercept", SIM_CFG_U64, 0, UINT64_MAX, "0", NULL, \
	  WHO ": CR0 bits whose change exits to the host (e.g. 0x10000 = WP)" }, \
	{ P ".cr4_intercept", SIM_CFG_U64, 0, UINT64_MAX, "0", NULL, \
	  WHO ": CR4 bits whose change exits to the host (e.g. 0x300000 = SMEP|SMAP)" }, \
	{ P ".cr_policy", SIM_CFG_ENUM, 0, 0, "deny", stack_policy_choices, \
	  WHO ": the minimal host's answer to an intercepted CR write: allow, or deny with #GP" },
#define STACK_RUN_VM_KEYS(P, ASID) \
	{ P ".elf", SIM_CFG_STR, 0, 0, "", NULL, \
	  "VM " P " of the scenario: its guest program (RV64 ELF, beside the scenario file); empty: no such VM" }, \
	{ P ".max_insns", SIM_CFG_U64, 0, UINT64_MAX, "1000000000", NULL, \
	  "VM " P ": stop after this many instructions and traps, all vCPUs (0: no limit)" }, \
	STACK_GUEST_KEYS(P, "0", ASID, "VM " P)
#define STACK_RUN_VMS 4      /* vm0 .. vm3 */

/* run.c */
void stack_run_vms_summary(struct stack *st, FILE *out);
/* The scenario's SNP VM on the KVM host ([snp] section, snp.elf): boot it (run.c). */
int stack_run_snp(struct sim *s, const char *scenario, const char *out_dir, struct sim_err *err);
void stack_run_vms_free(struct stack *st);

/* guest.c */
/* One VMRUN on the timeline (guest span, exit span, #NPF instant) and the exit in the trace. */
void stack_record_exit(struct sim *s, struct sim_agent *a, const struct cpu_exit *e,
		       uint64_t t_in);
/* The rules of the keys of VM @prefix ("vm", "vm0"...), at attach. */
int stack_guest_check(struct sim *s, const char *prefix, struct sim_err *err);
/* Destroy VM @v: its tables back to the allocator, its statistics kept. */
void stack_vm_destroy(struct stack_vm *v);

/* Count a finished table operation (@refused: the RMP refused it) / a translation of @v. */
void stack_vm_count_op(struct stack_vm *v, bool refused);
void stack_vm_count_access(struct stack_vm *v, int rc, const struct s2_fault *f);

/* A VM of the `protsim run` scenario (run.c). */
struct stack_run_vm {
	char *prefix;                    /* "vm0": its keys and statistics */
	char *vcpu_prefix;               /* "vm0." */
	char *elf;                       /* the program's path */
	char *console_path;              /* OUT/vm0.console */
	FILE *console;
	struct stack_vm *v;
	uint64_t max_insns;
	enum stack_vm_state state;       /* at the end */
	int code;
};

/* The host software of one machine: the stack module's model. */
struct stack {
	struct sim *s;
	struct sim_mem *mem;
	struct rmp *rmp;                 /* may be NULL or off */
	struct s2_ctx *s2;               /* the machine's MMUs */
	struct stack_palloc *pool;       /* nested-table pages (s2.pool_base, s2.pool_size) */
	struct sim_stat_group *pool_stats; /* its stack.palloc.* */
	struct stack_vm *vm[S2_MAX_VMS];
	unsigned vm_hi;                  /* every VM's id is below it (loops over vm[] stop there) */
	struct stack_run_vm run[STACK_RUN_VMS];   /* the scenario's VMs (run.c) */
#define STACK_MAX_FDS 1024
	struct stack_gmem *fd[STACK_MAX_FDS];     /* the guest_memfd files the script named (ops_kvm.c) */
	/* SNP: the ASIDs and mirrors (asid.c), the firmware (snp_fw.c) */
	struct stack_asids *asids;
	struct sim_stat_group *asid_stats;     /* its stack.asid.* */
	struct stack_snp_fw *snp_fw;
	struct sim_stat_group *snp_fw_stats;   /* its stack.snp_fw.* */
	/* end SNP */
	struct stack_gmem_ctx *gmem;     /* guest_memfd files and stack.gmem.* (gmem.c) */
	/* KVM at run time (lat.stack.*, lat.cpu.* world switches, strategy keys) */
	struct stack_lat lat;
	uint64_t lat_vmrun, lat_vmexit, lat_snp_switch, lat_rmp_insn;
	enum stack_snp_backing snp_backing;
	bool snp_prefault;
	bool io_thread;                  /* vmm.io_thread: the block device served by an I/O thread */
	struct stack_iothread *iothread[S2_MAX_VMS];   /* the VMM's I/O thread of VM slot N (vmm_blk.c) */
	bool check;                      /* stack.check: the invariant checker after every op */
	struct stack_heki_cfg heki;      /* heki.h: the heki module's keys (set at its attach) */
	struct cpu_vm **retired_cpu;     /* destroyed VMs' guest platforms, kept for their statistics */
	size_t nretired_cpu;             /*   until the machine goes (stack_kvm_cpu_reap) */
	unsigned snp_vm;                 /* the scenario's SNP VM (kvm.vm) when it has one, else ~0 */
	char *snp_log, *snp_elf;         /* its log (OUT/kvm.log) and program */
};

/* vm.c */
struct stack *stack_get(const struct sim *s);
/*
 * Create VM @id, its nested root zeroed by @who (memory cycles added to
 * who->mem_cycles): S2_OK, S2_ERR_EXISTS, S2_ERR_INVAL, S2_ERR_NOMEM
 * (pool used up).
 */
int stack_vm_create(struct stack *st, struct sim_who *who, unsigned id,
		    const struct s2_fmt_ops *fmt, unsigned levels, uint32_t asid);
struct stack_vm *stack_vm_find(struct stack *st, unsigned id);
/*
 * Give VM @v a guest stage-1 table of @fmt rooted at guest-physical
 * @root, zeroed by @who (memory cycles added to who->mem_cycles); further
 * table pages are taken from root + 4K upward (guest memory the caller
 * keeps free).  S2_OK, S2_ERR_EXISTS, S2_ERR_INVAL, S2_ERR_ALIGN,
 * S2_ERR_RANGE, or the table's own error (root unmapped).
 */
int stack_vm_s1_create(struct stack_vm *v, struct sim_who *who, const struct s2_fmt_ops *fmt,
		       uint64_t root);
/* System address of guest-physical @gpa through @v's stage 2 (untimed); false if unmapped. */
bool stack_vm_gpa_spa(struct stack_vm *v, uint64_t gpa, uint64_t *spa);
/* A fault of @v as printed: the RMP token of the last refused check, or the stage-2 fault. */
const char *stack_vm_fault_str(const struct stack_vm *v, const struct s2_fault *f, char *buf,
			       size_t len);

/*
 * Host stores into table pages (the host writing memory: RMP-checked as
 * host data writes).  host_wr is a refusal: the fault and the cycles the
 * checks took.
 */
struct host_wr {
	struct rmp_fault f;
	uint64_t cycles;
};
/*
 * Check the pages that operation @op on table @p of VM @v would write
 * (its stage 2, or its stage 1 when @s1: then also the guest pages its new
 * tables would take).  Return: true to go ahead (checks' cycles in @hw),
 * false with @hw->f filled: refused, nothing may be written.
 */
bool stack_table_writes_ok(struct stack_vm *v, struct s2_pgt *p, bool s1, int agent,
			   enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
			   uint64_t leaf, const struct s2_prot *prot, struct host_wr *hw);
/* Check the one page a new table root at system address @pa would be (zeroed). */
bool stack_root_write_ok(struct stack *st, int agent, uint64_t pa, struct host_wr *hw);


/* vm_ops.c */
extern const struct sim_op stack_vm_ops[];
/* vmm.c */
/*
 * One exit of vCPU @vcpu through the host (NPF, VMGEXIT, HYPERCALL):
 * KVM's handling, then while KVM hands the exit on, the VMM's turn
 * (counted in *@uexits) and KVM's completion.  Hardware time in
 * who->mem_cycles, software time in *@cycles.  Return: RETRY, DONE (the
 * answer in the vCPU's resp) or FATAL (the VM stops; @ue is the last exit
 * to the VMM).
 */
enum stack_kvm_rc stack_kvm_handle(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				   const struct cpu_exit *e, struct stack_uexit *ue, uint64_t *cycles,
				   uint64_t *uexits);

/* check.c */
/* Verify the stack's invariants: 0, or -1 with the first violation in @msg. */
int stack_check(struct stack *st, char *msg, size_t len);
/* With stack.check=1: check after op @c; a violation stops the script at its line. */
void stack_check_after(struct sim_call *c);
/* A line's result ERROR(ENAME) for errno @err (either sign; an unknown one: EINVAL). */
void stack_put_errno(struct sim_call *c, int err);
/* The KVM VM (with its run state) that a line's vm= names, or NULL after ERROR(ENOENT). */
struct stack_vm *stack_kvm_vm_of(struct sim_call *c);
/* ops_guest.c */
extern const struct sim_op stack_guest_ops[];
/* kvm_vcpu.c: guest programs on KVM VMs (`vm load`, `vcpu run`) */
extern const struct sim_arg_spec stack_vm_load_args[], stack_vm_boot_args[], stack_vcpu_run_args[];
void stack_op_vm_load(struct sim_call *c);
void stack_op_vm_boot(struct sim_call *c);
void stack_op_vcpu_run(struct sim_call *c);
/*
 * Drop VM @v's program platform (VMCB pages back; the harts retired until
 * stack_kvm_cpu_reap, their statistics kept); invalidate its harts' translations.
 */
void stack_kvm_cpu_free(struct stack_vm *v);
/* Free the retired platforms (machine teardown). */
void stack_kvm_cpu_reap(struct stack *st);
void stack_kvm_cpu_tlbi(struct stack_vm *v, enum cpu_tlbi what);
/* heki.h: program every hart's CR0/CR4 intercepts from stack_heki_intercept(). */
void stack_kvm_cpu_cr_intercepts(struct stack_vm *v);
/* A firmware the host put into @v's memory itself (pKVM): the vCPUs enter it, not `vm load`'s. */
void stack_kvm_set_firmware(struct stack_vm *v, uint64_t entry, uint64_t base, uint64_t size,
			    bool has_tohost, uint64_t tohost, uint64_t fromhost);
/* The pages `vm load` wrote into @v (0, 0: none). */
void stack_kvm_image(struct stack_vm *v, uint64_t *base, uint64_t *size);
/* The pc and sp of vCPU @vcpu's hart, when the VM runs a program; else false. */
bool stack_kvm_cpu_regs(struct stack_vm *v, unsigned vcpu, uint64_t *pc, uint64_t *sp);

#endif /* PROTSIM_STACK_INT_H */
