/*
 * cpu_int.h - internals shared by the files of cpu/.  Never included
 * outside cpu/ (other modules use cpu/cpu.h only).
 *
 * The core is an RV64IMAC + Zicsr + Zifencei interpreter:
 *   - rv64_insns.def lists every instruction; each cpu/insns/<mnemonic>.h
 *     holds one RV_INSN(name, match, mask, format, flags, body...) entry,
 *     so the enum, the name/match/mask/format tables and the run loop's
 *     labels and dispatch table are all generated from the one list by
 *     the preprocessor;
 *   - instructions are decoded once into a per-hart decoded-instruction
 *     cache keyed by the physical (system) address of their 4K page;
 *   - a per-hart L0 TLB caches the combined result of stage-1, stage-2,
 *     RMP and permission checks for one virtual page and one access kind;
 *   - the run loop (rv64_loop.h) is compiled twice: fast mode (fixed CPI)
 *     and detailed mode (in-order core with caches).
 */
#ifndef PROTSIM_CPU_INT_H
#define PROTSIM_CPU_INT_H

#include "cpu/cpu.h"
#include "rmp/rmp.h"
#include "sim/sim.h"
#include "stage2/s2.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "protsim's CPU model assumes a little-endian host"
#endif

#define RV_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RV_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ */
/* Instruction list                                                    */
/* ------------------------------------------------------------------ */

/* Operand formats: how the decoder extracts fields into struct rv_dinsn. */
enum rv_fmt {
	RV_FMT_R,     /* rd, rs1, rs2 */
	RV_FMT_I,     /* rd, rs1, imm[11:0] */
	RV_FMT_S,     /* rs1, rs2, store offset */
	RV_FMT_B,     /* rs1, rs2, branch offset */
	RV_FMT_U,     /* rd, imm[31:12] << 12 */
	RV_FMT_J,     /* rd, jump offset */
	RV_FMT_SH,    /* rd, rs1, shamt[5:0] */
	RV_FMT_SHW,   /* rd, rs1, shamt[4:0] */
	RV_FMT_CSR,   /* rd, rs1 (or uimm[4:0]), csr number in imm */
	RV_FMT_N,     /* no operands */
};

/* Instruction properties (flags column of the list). */
#define RV_F_MEM     0x01u   /* load, store or AMO */
#define RV_F_CTRL    0x02u   /* may change control flow */
#define RV_F_SYS     0x04u   /* system / privileged */
#define RV_F_CUSTOM  0x08u   /* protsim custom instruction (custom-0 space) */

enum rv_op {
	RV_OP_NONE = 0,      /* slot not decoded yet */
	RV_OP_ILLEGAL,       /* decoded: not an instruction */
#define RV_INSN(name, match, mask, fmt, flags, ...) RV_OP_##name,
#include "cpu/rv64_insns.def"
#undef RV_INSN
	RV_OP_COUNT
};

/* Tables generated from rv64_insns.def, indexed by enum rv_op. */
extern const char *const rv_op_name[RV_OP_COUNT];
extern const uint32_t rv_op_match[RV_OP_COUNT];
extern const uint32_t rv_op_mask[RV_OP_COUNT];
extern const uint8_t rv_op_fmt[RV_OP_COUNT];
extern const uint8_t rv_op_flags[RV_OP_COUNT];

/* The compressed (RVC) expansion table: rvc_insns.def. */
struct rvc_entry {
	const char *name;      /* e.g. "c.addi" */
	uint16_t match;
	uint16_t mask;
};
extern const struct rvc_entry rvc_table[];
extern const unsigned rvc_table_len;

/*
 * One decoded instruction.  rd == RV_RD_SINK when the architectural rd is
 * x0: the write lands in a scratch register so bodies never test for x0.
 */
#define RV_RD_SINK 32
struct rv_dinsn {
	uint16_t op;     /* enum rv_op */
	uint8_t rd;      /* destination register, RV_RD_SINK for x0 */
	uint8_t rs1;     /* source 1 (or uimm for CSR immediates) */
	uint8_t rs2;     /* source 2 */
	uint8_t len;     /* 2 or 4 bytes */
	uint16_t xop;    /* run loop dispatch index: RV_XOP(op, len) */
	int32_t imm;     /* immediate, sign-extended; CSR number for CSR ops */
	uint32_t raw;    /* the instruction bits (16-bit ones zero-extended) */
};

/*
 * The run loop's dispatch index of an instruction: its op and whether it
 * is 2 bytes long, so the label it dispatches to knows its length as a
 * constant (the next slot's address then does not wait for a load).
 */
#define RV_XOP(op, len) ((unsigned)(op) * 2u + ((len) == 2))

/*
 * Decode one instruction (32-bit, or 16-bit when (bits & 3) != 3) into
 * @d (xop included).  Always succeeds: unknown encodings become
 * RV_OP_ILLEGAL.
 */
void rv_decode(uint32_t bits, struct rv_dinsn *d);
/* Find the op of a 32-bit instruction by match/mask (RV_OP_ILLEGAL if none). */
enum rv_op rv_lookup(uint32_t bits);
/* Expand a 16-bit instruction to its 32-bit equivalent; 0 if illegal. */
uint32_t rvc_expand(uint16_t c);

/* ------------------------------------------------------------------ */
/* Architectural constants                                             */
/* ------------------------------------------------------------------ */

enum rv_priv { RV_PRIV_U = 0, RV_PRIV_S = 1, RV_PRIV_M = 3 };

/* scause / mcause exception codes. */
enum rv_cause {
	RV_CAUSE_MISALIGNED_FETCH = 0,
	RV_CAUSE_FETCH_ACCESS = 1,
	RV_CAUSE_ILLEGAL = 2,
	RV_CAUSE_BREAKPOINT = 3,
	RV_CAUSE_MISALIGNED_LOAD = 4,
	RV_CAUSE_LOAD_ACCESS = 5,
	RV_CAUSE_MISALIGNED_STORE = 6,
	RV_CAUSE_STORE_ACCESS = 7,
	RV_CAUSE_ECALL_U = 8,
	RV_CAUSE_ECALL_S = 9,
	RV_CAUSE_ECALL_M = 11,
	RV_CAUSE_FETCH_PAGE = 12,
	RV_CAUSE_LOAD_PAGE = 13,
	RV_CAUSE_STORE_PAGE = 15,
	/* protsim custom causes (RISC-V reserves 24-31 for custom use) */
	RV_CAUSE_VC = 24,      /* #VC: error code in CSR vc_code, tval = GVA */
	RV_CAUSE_GP = 25,      /* #GP(0) injected by the hypervisor */
};

#define RV_IRQ_SSI 1
#define RV_IRQ_MSI 3
#define RV_IRQ_STI 5
#define RV_IRQ_MTI 7
#define RV_IRQ_SEI 9
#define RV_IRQ_MEI 11
#define RV_CAUSE_INTR (1ull << 63)

/* mstatus bits */
#define MSTATUS_SIE   (1ull << 1)
#define MSTATUS_MIE   (1ull << 3)
#define MSTATUS_SPIE  (1ull << 5)
#define MSTATUS_UBE   (1ull << 6)
#define MSTATUS_MPIE  (1ull << 7)
#define MSTATUS_SPP   (1ull << 8)
#define MSTATUS_MPP   (3ull << 11)
#define MSTATUS_FS    (3ull << 13)
#define MSTATUS_MPRV  (1ull << 17)
#define MSTATUS_SUM   (1ull << 18)
#define MSTATUS_MXR   (1ull << 19)
#define MSTATUS_TVM   (1ull << 20)
#define MSTATUS_TW    (1ull << 21)
#define MSTATUS_TSR   (1ull << 22)
#define MSTATUS_UXL   (3ull << 32)
#define MSTATUS_SXL   (3ull << 34)
#define MSTATUS_SD    (1ull << 63)
#define MSTATUS_UXL_64 (2ull << 32)
#define MSTATUS_SXL_64 (2ull << 34)

/* time / mtime tick once per this many cycles (a 27 MHz timebase at 2.7 GHz). */
#define CPU_MTIME_DIV 100u

/* CSR numbers */
enum rv_csr {
	CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a,
	CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142, CSR_STVAL = 0x143,
	CSR_SIP = 0x144, CSR_SATP = 0x180,
	CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
	CSR_MCOUNTINHIBIT = 0x320,
	CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343,
	CSR_MIP = 0x344,
	CSR_PMPCFG0 = 0x3a0, CSR_PMPADDR0 = 0x3b0,
	/* Debug specification, "Trigger Module" (no trigger implemented: rv64_csr.c) */
	CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3,
	CSR_TINFO = 0x7a4,
	CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02,
	CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
	CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
	/* protsim custom CSRs (see docs/guest-abi.md) */
	CSR_CR0 = 0x5c0,       /* x86 CR0 (S-level read/write custom space) */
	CSR_CR4 = 0x5c4,       /* x86 CR4 */
	CSR_GHCB = 0x5c8,      /* GHCB MSR 0xC001_0130 */
	CSR_VC_CODE = 0xdc0,   /* read-only: error code of the last #VC */
	CSR_VMPL = 0xdc1,      /* read-only: the VMPL this vCPU runs at */
	CSR_SEV_STATUS = 0xdc2,/* read-only: MSR 0xC001_0131 (bit 0 SEV, 1 ES, 2 SNP) */
};

/* x86 control-register bits that take effect (others are stored only). */
#define CR0_PE  (1ull << 0)
#define CR0_ET  (1ull << 4)
#define CR0_WP  (1ull << 16)
#define CR0_PG  (1ull << 31)
#define CR0_VALID 0xe005003full   /* PE MP EM TS ET NE WP AM NW CD PG */
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_VALID 0x1ff7fffull    /* bits 0-24 except 15 (reserved) */
#define CR0_RESET (CR0_PE | CR0_ET | CR0_WP | CR0_PG)
#define CR4_RESET (CR4_SMEP | CR4_SMAP)

/* ------------------------------------------------------------------ */
/* Hart state                                                          */
/* ------------------------------------------------------------------ */

#define RV_TLB_BITS 8
#define RV_TLB_SIZE (1u << RV_TLB_BITS)
#define RV_TLB_LOG  32u   /* fills remembered for a flush (cpu_hart.tlb_log) */
/* L0 TLB tag low bits: the translation class of the access. */
#define RV_MODE_U    0u   /* translated, user */
#define RV_MODE_S    1u   /* translated, supervisor */
#define RV_MODE_PHYS 3u   /* untranslated (M mode or satp=Bare) */

/*
 * One L0 TLB entry: host address = addend + va; spa = spa_page | offset.
 * 32 bytes (padded), so the run loop indexes it with a shift.
 */
struct rv_tlb_ent {
	uint64_t tag;        /* va page | mode, or ~0 when empty */
	uintptr_t addend;    /* host pointer of the frame minus the va page */
	uint64_t spa_page;   /* system physical page */
	uint64_t pad;        /* (unused) */
};

#define RV_DPAGE_SLOTS 2048u   /* 4K / 2-byte granule */
/*
 * Pseudo-op of the guard slots after a decode page's last slot (and after
 * a page-crossing instruction's scratch copy): the run loop steps from one
 * slot to the next without looking at pc's page, and dispatching a guard
 * slot sends it to the full fetch path.  Never produced by rv_decode.
 */
#define RV_OP_PAGE_END RV_OP_COUNT
#define RV_DPAGE_GUARD 2u      /* pc + 2 or + 4 past the page's last slot */
struct rv_dpage {
	uint64_t spa_page;             /* tag: system physical page, ~0 empty */
	struct rv_dinsn slot[RV_DPAGE_SLOTS + RV_DPAGE_GUARD];  /* guards: RV_OP_PAGE_END */
};
#define RV_DCACHE_PAGES 256u

/* Why the run loop stopped and what the driver must handle. */
enum cpu_stop {
	CPU_STOP_BUDGET = 0,  /* batch done */
	CPU_STOP_EXIT,        /* VM exit pending (h->exit) */
	CPU_STOP_HALT,        /* kicked (h->done): leave guest mode */
};

struct cpu_cache;
struct cpu_host_core;
struct cpu_vm;

/* Latencies of the core (lat.cpu.*), cycles. */
struct cpu_lat {
	uint32_t cpi;        /* fast mode: cycles per instruction (cpu.cpi) */
	uint32_t mul;        /* detailed: extra cycles of a multiply */
	uint32_t div;        /* detailed: extra cycles of a divide/remainder */
	uint32_t csr;        /* detailed: extra cycles of a CSR access */
	uint32_t trap;       /* detailed: trap entry or xRET (pipeline flush) */
	uint32_t taken;      /* detailed: taken branch or jump (refetch bubble) */
	uint32_t vmexit;     /* both modes: hardware #VMEXIT world switch */
	uint32_t vmrun;      /* both modes: hardware VMRUN world switch */
	uint32_t snp_switch; /* both modes: extra per switch for an SNP VMSA (encrypt+integrity) */
	uint32_t rmp_insn;   /* PVALIDATE/RMPADJUST/RMPQUERY: added to the RMP model's latency */
};

/*
 * The guest platform: harts, the RAM window, the doorbell word, the CLINT,
 * the nested paging context the host gave it and the RMP check.
 */
struct cpu_vm {
	struct sim *sim;
	struct sim_mem *mem;
	enum cpu_vm_type type;
	enum cpu_mode mode;
	uint64_t mem_base;         /* guest RAM window: GPA base */
	uint64_t mem_size;         /* its size */
	uint64_t spa_base;         /* bare: SPA backing mem_base */
	unsigned nharts;
	struct cpu_hart **harts;
	struct cpu_lat lat;
	uint64_t batch;            /* instructions per sim_advance (cpu.batch) */
	unsigned line_shift;       /* log2 of the cache line size */
	/* the doorbell words (HTIF tohost of each program), cpu_vm_watch */
	unsigned nbell;
	struct cpu_bell {
		uint64_t spa;      /* SPA of the watched word */
		cpu_doorbell_fn fn;
		void *arg;
	} bell[CPU_MAX_BELLS];
	struct cpu_bus_dev {       /* the platform bus (cpu_vm_add_device) */
		uint64_t base, size;
		const struct cpu_dev_ops *ops;
		void *arg;
	} dev[CPU_MAX_DEVS];
	unsigned ndev;
	cpu_irq_fn irq;            /* interrupt raised on a hart by another (CLINT) */
	void *irq_arg;
	/* protection */
	struct rmp *rmp;           /* the machine's RMP (may be off) */
	struct s2_pgt *npt;        /* NPT/SNP: the host's nested table */
	uint32_t asid;             /* SNP: guest ASID */
	bool cbit_in_pte;          /* SNP: C-bit from the Sv PTE, else always 1 */
	struct cpu_cache_stats *cst; /* cache counters (cache.*, the machine's) */
	struct cpu_machine *mach;  /* the CPU module's model */
	unsigned vmpl;             /* SNP: VMPL the vCPUs run at */
	struct s2_space space;     /* NPT/SNP: stage-2 translation context */
	struct s2_space space_nochk; /* the same without the RMP hook (PVALIDATE's own lookup) */
	bool nocheck;              /* translate the final page through space_nochk */
	struct s2_check_hook hook; /* the RMP check on every final and table SPA */
	struct s2_timing s2_timing;
	struct s2_stats s2_stats;  /* registered as <vm_prefix>.s2.* */
	struct cpu_hart *cur;      /* hart whose access is being checked */
	struct rmp_fault last_fault; /* the RMP fault behind an S2_FAULT_CHECK */
	char vcpu_prefix[24];      /* stats names (struct cpu_vm_cfg) */
	char vm_prefix[24];
	/* detailed mode: the machine's last-level cache */
	struct cpu_cache *llc;
	uint32_t dram_lat;
};

/* Guest physical address classes. */
#define CPU_CLINT_BASE 0x02000000ull
#define CPU_CLINT_SIZE 0x00010000ull

/* Per-vCPU statistics (registered as vcpuN.*). */
struct cpu_hart_stats {
	uint64_t insns;        /* instructions retired */
	uint64_t cycles;       /* cycles this hart consumed */
	uint64_t traps;        /* exceptions taken into the guest */
	uint64_t irqs;         /* interrupts taken */
	uint64_t tlb_hit;      /* L0 TLB refills avoided (counted per slow path: see docs) */
	uint64_t tlb_miss;     /* L0 TLB misses (went through the translation model) */
	uint64_t exits[CPU_EXIT_COUNT];   /* VM exits by reason */
	uint64_t dcache_flush; /* fence.i decode-cache flushes */
};

struct cpu_hart {
	/* hot state first */
	uint64_t x[33];            /* x0..x31, x[32] = sink for writes to x0 */
	uint64_t pc;
	unsigned priv;             /* enum rv_priv */
	unsigned dmode;            /* data-access translation class (RV_MODE_*) */
	unsigned fmode;            /* fetch translation class */
	struct rv_tlb_ent tlb_r[RV_TLB_SIZE];
	struct rv_tlb_ent tlb_w[RV_TLB_SIZE];
	struct rv_tlb_ent tlb_x[RV_TLB_SIZE];
	/*
	 * The entries filled since the last flush (array << RV_TLB_BITS |
	 * index), so that a flush resets those only; a full log means every
	 * entry may be valid.
	 */
	uint16_t tlb_log[RV_TLB_LOG];
	unsigned ntlb_log;

	/* CSRs */
	uint64_t mstatus, medeleg, mideleg, mie, mip, mtvec, mepc, mcause, mtval, mscratch;
	uint64_t stvec, sepc, scause, stval, sscratch, satp;
	uint64_t mcounteren, scounteren, menvcfg, senvcfg, mcountinhibit;
	uint64_t pmpcfg[16], pmpaddr[64];
	uint64_t instret;          /* minstret */
	uint64_t cycle_base;       /* mcycle = agent clock + batch cycles - cycle_base */
	uint64_t cr0, cr4, ghcb;   /* x86 control registers and GHCB MSR */
	uint64_t vc_code;          /* error code of the last #VC */
	uint64_t cr_icpt[2];       /* CR write intercept masks: [0] CR0, [1] CR4 */

	/* LR/SC */
	uint64_t resv_addr;        /* reserved system physical address */
	uint64_t resv_val;         /* the value LR read */
	bool resv_valid;
	bool at_slow;              /* test hook: every LR/SC/AMO through rv_atomic, no L0 fill */

	/* decode cache */
	struct rv_dpage *dcache[RV_DCACHE_PAGES];

	/* batch bookkeeping, valid inside the run loop's slow paths */
	uint64_t batch_exec;       /* instructions executed so far in this batch */
	uint64_t batch_retired;    /* instructions retired so far in this batch */
	uint64_t batch_stall;      /* detailed: stall cycles so far */
	uint64_t batch_extra;      /* both modes: RMP instruction cycles in this batch */

	/* exits */
	struct cpu_exit exit;      /* the pending exit (CPU_STOP_EXIT) */
	struct cpu_budget *budget; /* during cpu_vmrun: the host's instruction budget, or NULL */
	unsigned exit_rd;          /* CR write exit: destination register of the CSR insn */
	uint64_t mtimecmp;         /* CLINT */
	struct s2_mmu *mmu;        /* NPT/SNP: this vCPU's TLBs and walk caches */
	struct cpu_s1_walk *s1w;   /* prot.c: guest stage-1 tables and walk state (stage2/ walker) */
	bool in_guest;             /* between VMRUN and #VMEXIT */
	bool vmsa_valid;           /* the VMSA page holds saved state */
	bool exit_pending;
	bool halted;               /* in WFI, waiting for a wake-up */
	bool done;                 /* a kick is pending: leave guest mode at the next boundary */

	/* identity */
	unsigned id;               /* hart id (mhartid) */
	struct cpu_vm *vm;
	struct sim_agent *agent;
	struct cpu_cache *l1i, *l1d, *l2;   /* detailed mode, private caches */
	uint64_t last_iline;       /* detailed: last fetched line (spa >> shift) */
	struct cpu_hart_stats st;
	char name[16];             /* "vcpu0" */
};

/* ------------------------------------------------------------------ */
/* Hart functions (rv64.c, rv64_csr.c, mmu.c)                           */
/* ------------------------------------------------------------------ */

void rv_hart_reset(struct cpu_hart *h, uint64_t pc);
/* Take an exception into the guest (delegation applies). */
void rv_trap(struct cpu_hart *h, uint64_t cause, uint64_t tval);
/* Deliver one pending enabled interrupt if any; true if taken. */
bool rv_check_irq(struct cpu_hart *h);
/* Recompute dmode/fmode after a privilege or mstatus/satp change. */
void rv_update_modes(struct cpu_hart *h);

/* Perform an allowed CR write (flushes the L0 TLB when WP/SMEP/SMAP change). */
void cpu_cr_commit(struct cpu_hart *h, unsigned cr, uint64_t val);
/* CSR access: 0 ok, -1 illegal instruction, 1 VM exit pending. */
int rv_csr_read(struct cpu_hart *h, unsigned csr, uint64_t *val);
int rv_csr_write(struct cpu_hart *h, unsigned csr, uint64_t val);
/* Perform a CSR instruction (the body of all six). */
int rv_csr_insn(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc);

/* L0 TLB and decode cache maintenance. */
void rv_tlb_flush(struct cpu_hart *h);
/* Entry @idx of TLB array @arr (0 read, 1 write, 2 fetch) becomes valid: remembered for the flush. */
void rv_tlb_logged(struct cpu_hart *h, unsigned arr, unsigned idx);
void rv_dcache_flush(struct cpu_hart *h);

/*
 * Memory slow paths (mmu.c).  Return 0 ok, 1 a guest trap was taken
 * (h->pc is the handler), 2 a VM exit is pending.  They may fill the L0
 * TLB.  @pc is the instruction's pc (for traps).
 */
int rv_load_slow(struct cpu_hart *h, uint64_t va, unsigned len, uint64_t *val, uint64_t pc);
int rv_store_slow(struct cpu_hart *h, uint64_t va, unsigned len, uint64_t val, uint64_t pc);
/* Fetch: find the decode page for @pc; NULL with a trap/exit taken. */
struct rv_dpage *rv_fetch_page(struct cpu_hart *h, uint64_t pc, int *status);
/* Decode the slot of @pc in @dp (handles page-crossing instructions). */
int rv_fill_slot(struct cpu_hart *h, struct rv_dpage *dp, uint64_t pc, struct rv_dinsn *out);

/* Run up to @budget instructions.  Returns enum cpu_stop; *executed set. */
enum cpu_stop rv_run_fast(struct cpu_hart *h, uint64_t budget, uint64_t *executed,
			  uint64_t *stall);
enum cpu_stop rv_run_detailed(struct cpu_hart *h, uint64_t budget, uint64_t *executed,
			      uint64_t *stall);

/* Custom instructions (custom.c) and system instructions that leave the fast path. */
int rv_exec_custom(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc);
int rv_exec_wfi(struct cpu_hart *h, uint64_t pc);
int rv_exec_sfence(struct cpu_hart *h, const struct rv_dinsn *d, uint64_t pc);

/* The hart's clock inside a batch: its agent's clock plus the batch's cycles so far. */
static inline uint64_t cpu_hart_now(const struct cpu_hart *h)
{
	return sim_now(h->agent) + h->batch_stall + h->batch_extra +
	       h->batch_exec * (h->vm->mode == CPU_MODE_FAST ? h->vm->lat.cpi : 1);
}

/* Cycle counter as the guest sees it (inside a batch). */
uint64_t rv_cycle_now(const struct cpu_hart *h);

/* xRET: restore privilege and interrupt enables; h->pc = xepc. */
void rv_mret(struct cpu_hart *h);
void rv_sret(struct cpu_hart *h);

/* Atomics: LR (val out), SC (val in: the value; out: 0 success / 1 fail), AMO (out: spa). */
enum rv_atomic_kind { RV_AT_LR, RV_AT_SC, RV_AT_AMO };
int rv_atomic(struct cpu_hart *h, enum rv_atomic_kind k, uint64_t va, unsigned len,
	      uint64_t val, uint64_t *out, uint64_t pc);
/* Functional access to system physical memory (RAM only), little-endian. */
uint64_t rv_phys_read(struct cpu_hart *h, uint64_t spa, unsigned len);
void rv_phys_write(struct cpu_hart *h, uint64_t spa, unsigned len, uint64_t val);

/*
 * Prepare an exit of @reason for the instruction at @pc (length @len): the
 * run loop then stops with CPU_STOP_EXIT and cpu_vmrun() returns it.
 */
static inline struct cpu_exit *cpu_exit_begin(struct cpu_hart *h, enum cpu_exit_reason reason,
					      uint64_t pc, unsigned len)
{
	struct cpu_exit *e = &h->exit;

	memset(e, 0, sizeof(*e));
	e->reason = reason;
	e->pc = pc;
	e->len = len;
	h->exit_pending = true;
	return e;
}

/* Cache counters (cache.c). */
struct cpu_cache_stats {
	uint64_t hit[4];    /* L1I, L1D, L2, LLC */
	uint64_t miss[4];
};
/*
 * One set-associative cache (cache.c).  Here rather than in cache.c only
 * so the run loop can inline the hit path of recently used lines.
 */
#define CPU_CACHE_HINTS 16u   /* power of two */
struct cpu_cache {
	unsigned sets;        /* power of two */
	unsigned ways;
	uint32_t lat;         /* hit latency */
	uint64_t clock;       /* LRU counter */
	uint64_t *tag;        /* sets * ways line numbers, ~0 = invalid */
	uint64_t *stamp;      /* last use */
	uint64_t *hit;        /* counters in the machine's cst */
	uint64_t *miss;
	/* slot in tag[] where line ln was last found or filled, by ln % CPU_CACHE_HINTS */
	uint32_t hint[CPU_CACHE_HINTS];
};

/*
 * The hit path of an access to a recently used line: if the hinted slot
 * still holds @ln, that is where the full lookup would find it (a line is
 * in at most one way), so update it exactly as the full lookup does.
 * False: not known, do the full lookup (cache.c).
 */
static inline bool cpu_cache_hint_hit(struct cpu_cache *c, uint64_t ln)
{
	uint32_t i = c->hint[ln & (CPU_CACHE_HINTS - 1)];

	if (c->tag[i] != ln)
		return false;
	c->stamp[i] = ++c->clock;
	(*c->hit)++;
	return true;
}

/*
 * The CPU module's model: what every VM of the machine shares, the
 * detailed mode's LLC and memory timing (cache.c).
 */
struct cpu_machine {
	struct sim *sim;
	enum cpu_mode mode;
	unsigned line_shift;
	uint32_t dram_lat;
	struct cpu_cache *llc;           /* detailed mode */
	struct cpu_cache_stats cst;      /* cache.* */
	bool timing;                     /* the memory timing is installed (detailed: at attach) */
	struct cpu_hart **by_agent;      /* detailed: the hart behind each agent id */
	size_t nby_agent;
	struct cpu_cache_stats hst;      /* cache.host.*: the L1D and L2 of agents with no hart */
	struct cpu_host_core **by_host;  /* detailed: an agent with no hart's L1D/L2, by agent id */
	size_t nby_host;
};
/* cache.c: NULL with @err on a bad cache geometry. */
struct cpu_machine *cpu_machine_new(struct sim *s, struct sim_err *err);
void cpu_machine_free(struct cpu_machine *m);
int cpu_cache_setup(struct cpu_vm *vm, struct sim_err *err);
/* A hart's agent is known (cpu_hart_bind): the memory timing finds it by id. */
void cpu_cache_bind(struct cpu_hart *h);
/* check.c: the cpu and cache keys' rules, at attach (errors name the origin). */
int cpu_cfg_check(struct sim *s, struct sim_err *err);
void cpu_cache_free(struct cpu_vm *vm);
/* Detailed-mode caches (cache.c): stall cycles of one access. */
uint32_t cpu_cache_data(struct cpu_hart *h, uint64_t spa, bool write);
uint32_t cpu_cache_fetch(struct cpu_hart *h, uint64_t spa);

#endif /* PROTSIM_CPU_INT_H */
