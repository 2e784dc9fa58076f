/*
 * rmp.h - the AMD SEV-SNP Reverse Map Table: the whole public interface of
 * rmp/.
 *
 * The RMP lives in simulated physical memory in the architectural layout
 * (16 KiB bookkeeping area at RMP_BASE, then one 16-byte entry per 4K page;
 * or, segmented, an RMP Segment Table at RMP_BASE + 16 KiB and one table
 * per segment).  Every entry read or written by a modelled operation goes
 * through sim_mem_read()/sim_mem_write() with SIM_SRC_RMP, so it has a
 * memory cost.  See 'Reverse Map Table' and 'RMP and VMPL Access Checks'
 * in the APM vol. 2, section 15.36, and docs/rmp.md.
 *
 * Functional results are separate from timing: every operation returns its
 * architectural result; the memory cycles it spent on RMP entries are added
 * to who->mem_cycles, and its instruction latency (from the latency
 * profile) is in res->latency and rmp_latency().  The caller advances its
 * clock by both.
 *
 * A NULL model, or one built with RMP_MODE_OFF, means "SNP not enabled":
 * access checks pass, SNP instructions raise #UD, VMRUN checks nothing.
 */
#ifndef PROTSIM_RMP_H
#define PROTSIM_RMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

struct rmp;

/* The module: keys rmp.* and lat.rmp.*, the RMP script operations. */
extern const struct sim_module rmp_module;

/* ------------------------------------------------------------------ */
/* Architectural constants                                             */
/* ------------------------------------------------------------------ */

#define RMP_BOOKKEEPING   0x4000ull       /* bytes at RMP_BASE before entry 0 */
#define RMP_ENTRY_SIZE    16u             /* bytes per 4K page */
#define RMP_RST_SIZE      0x1000ull       /* RMP Segment Table: 512 x 8 bytes */
#define RMP_RST_ENTRIES   512u
#define RMP_NUM_VMPL      4u              /* VMPL0..3 (CPUID Fn8000_001F EBX[15:12]) */
#define RMP_ASID_BITS     10u             /* ASID field width in the raw entry */
#define RMP_NO_ADDR       UINT64_MAX      /* "no address" for optional inputs */

/* First quadword of a raw entry (Zen3/Zen4 format). */
#define RMP_LO_ASSIGNED   (1ull << 0)
#define RMP_LO_PAGESIZE   (1ull << 1)     /* 0 = 4K, 1 = 2M */
#define RMP_LO_IMMUTABLE  (1ull << 2)
#define RMP_LO_GPA_MASK   0x0007fffffffff000ull   /* GPA bits [50:12] */
#define RMP_LO_ASID_SHIFT 51
#define RMP_LO_ASID_MASK  (0x3ffull << RMP_LO_ASID_SHIFT)
#define RMP_LO_VMSA       (1ull << 61)
#define RMP_LO_VALIDATED  (1ull << 62)
/*
 * The raw entries of the 511 other pages of an assigned 2M entry: RMPUPDATE
 * (and firmware) mark them assigned when it assigns the 2M page and clear
 * them when it unassigns it.  Linux's raw-entry reader on Zen 3/4
 * (arch/x86/virt/svm/sev.c, `get_rmpentry()` / `__snp_lookup_rmpentry()`)
 * takes `assigned` from each page's own entry and only the level from the
 * 2M-base entry, which implies the hardware marks them.  [model] the mark
 * is assigned + page size, every other field 0 (ASID, GPA, validated...:
 * the 2M-base entry holds them).  The page-size bit: `get_rmpentry()` maps
 * a raw entry onto the RMPREAD format, which reports a page inside a 2M
 * entry as 2M; and as a 4K entry never has that bit, the mark tells a
 * lookup that the base entry governs.
 */
#define RMP_LO_SUB2M      (RMP_LO_ASSIGNED | RMP_LO_PAGESIZE)
/*
 * Second quadword: its layout is not architectural.  [model] bits [7:0],
 * [15:8], [23:16] are the VMPL1, VMPL2, VMPL3 permission masks; bits
 * [41:32] of a 2M-aligned entry count the assigned 4K entries of its 2M
 * region (the source of RMPREAD's hpage_region_status).  See docs/rmp.md.
 */
#define RMP_HI_PERM_SHIFT(vmpl) (8u * ((vmpl) - 1u))   /* vmpl 1..3 */
#define RMP_HI_COUNT_SHIFT 32
#define RMP_HI_COUNT_MASK  (0x3ffull << RMP_HI_COUNT_SHIFT)

/* VMPL permission mask bits (APM 'RMPADJUST'). */
#define RMP_PERM_R    0x01u   /* read */
#define RMP_PERM_W    0x02u   /* write (requires R) */
#define RMP_PERM_XU   0x04u   /* execute at CPL3 */
#define RMP_PERM_XS   0x08u   /* execute at CPL0-2 */
#define RMP_PERM_SSS  0x10u   /* supervisor shadow stack */
#define RMP_PERM_ALL  0x1fu
#define RMP_PERM_RSVD 0xe0u

/* #PF error code bits (host side). */
#define RMP_PF_P      (1ull << 0)
#define RMP_PF_W      (1ull << 1)
#define RMP_PF_U      (1ull << 2)
#define RMP_PF_ID     (1ull << 4)
#define RMP_PF_RMP    (1ull << 31)
/* #NPF EXITINFO1 bits (SVM). */
#define RMP_NPF_P     (1ull << 0)
#define RMP_NPF_W     (1ull << 1)
#define RMP_NPF_U     (1ull << 2)
#define RMP_NPF_ID    (1ull << 4)
#define RMP_NPF_RMP   (1ull << 31)
#define RMP_NPF_FINAL (1ull << 32)   /* translating the final GPA */
#define RMP_NPF_PAGE  (1ull << 33)   /* translating a guest page-table GPA */
#define RMP_NPF_ENC   (1ull << 34)   /* effective C-bit was 1 */
#define RMP_NPF_SIZEM (1ull << 35)   /* PVALIDATE/RMPADJUST size below the RMP entry's */
#define RMP_NPF_VMPL  (1ull << 36)   /* VMPL permission failure */
#define RMP_NPF_SSS   (1ull << 37)   /* supervisor shadow-stack access */
/* #VC error code for a private access to a page that is not validated. */
#define RMP_VC_NOT_VALIDATED 0x404u

/* ------------------------------------------------------------------ */
/* Instructions and result codes                                       */
/* ------------------------------------------------------------------ */

/* ORDER: rmp/rmp_insns.def */
enum rmp_insn {
	RMP_INSN_RMPUPDATE,
	RMP_INSN_PSMASH,
	RMP_INSN_PVALIDATE,
	RMP_INSN_RMPADJUST,
	RMP_INSN_RMPQUERY,
	RMP_INSN_RMPREAD,
	RMP_INSN_COUNT
};

/*
 * Return codes in RAX, with the APM's values.  FAIL_OVERLAP (RMPUPDATE) and
 * FAIL_BADADDR (PSMASH) share the value 4; rmp_rc_name() tells them apart.
 * RMP_RC_FAULT is not architectural: the instruction raised the exception
 * in res->fault instead of returning a code.
 */
enum rmp_rc {
	RMP_RC_SUCCESS           = 0,
	RMP_RC_FAIL_INPUT        = 1,
	RMP_RC_FAIL_PERMISSION   = 2,
	RMP_RC_FAIL_INUSE        = 3,
	RMP_RC_FAIL_OVERLAP      = 4,
	RMP_RC_FAIL_BADADDR      = 4,
	RMP_RC_FAIL_SIZEMISMATCH = 6,
	RMP_RC_FAULT             = 0x100,
};

/* Lower-case mnemonic: "rmpupdate", ... ("?" if out of range). */
const char *rmp_insn_name(enum rmp_insn insn);
/* Set of return codes @insn can produce: bit (1 << rc) per code. */
unsigned rmp_insn_rc_mask(enum rmp_insn insn);
/* "SUCCESS", "FAIL_OVERLAP" / "FAIL_BADADDR" (by @insn), "FAULT". */
const char *rmp_rc_name(enum rmp_insn insn, enum rmp_rc rc);

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

enum rmp_fault_kind {
	RMP_FAULT_NONE = 0,
	RMP_FAULT_PF,              /* host #PF, code = error code (RMP_PF_*) */
	RMP_FAULT_NPF,             /* guest #NPF, code = EXITINFO1 (RMP_NPF_*), addr = GPA */
	RMP_FAULT_VC,              /* guest #VC, code = RMP_VC_NOT_VALIDATED */
	RMP_FAULT_GP,              /* #GP(0) */
	RMP_FAULT_UD,              /* #UD: SNP not enabled */
	RMP_FAULT_VMEXIT_INVALID,  /* VMRUN failed its VMSA or AVIC checks */
	RMP_FAULT_IOMMU,           /* DMA blocked: IOMMU RMP_PAGE_FAULT event */
};

struct rmp_fault {
	enum rmp_fault_kind kind;
	uint64_t code;    /* #PF error code / #NPF EXITINFO1 / #VC error code */
	uint64_t addr;    /* #NPF: faulting GPA (EXITINFO2); #PF, IOMMU: the SPA */
	bool spurious;    /* the entry was locked by another agent's instruction */
};

/*
 * Format @f as its script token: "#PF(W,RMP)", "#NPF(W,RMP,ENC,FINAL,SIZEM)",
 * "#VC(0x404)", "#GP", "#UD", "VMEXIT_INVALID", "IO_PAGE_FAULT(RMP)", or
 * "OK" for RMP_FAULT_NONE.  Items in parentheses, in this order: W, U, ID,
 * RMP, ENC, FINAL, PAGE, SIZEM, VMPL, SSS (P is set in the code of every
 * RMP fault and not printed).  Always NUL-terminates.
 * Return: the length of the full token (as snprintf).
 */
int rmp_fault_format(const struct rmp_fault *f, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Model creation                                                      */
/* ------------------------------------------------------------------ */

enum rmp_mode {
	RMP_MODE_OFF,          /* SNP disabled */
	RMP_MODE_CONTIGUOUS,   /* one table (RMP_BASE..RMP_END) */
	RMP_MODE_SEGMENTED,    /* RMP Segment Table + per-segment tables */
};

/* Instruction latencies in core cycles (lat.rmp.* keys). */
struct rmp_lat {
	uint32_t insn[RMP_INSN_COUNT];   /* a successful 4K instruction */
	uint32_t rmpupdate_2m;           /* a successful 2M RMPUPDATE */
	uint32_t pvalidate_2m;           /* a successful 2M PVALIDATE */
	uint32_t fail;                   /* any instruction that fails or faults */
	uint32_t vmrun;                  /* VMRUN's SNP checks and in-use marking (not the world switch) */
	uint32_t vmexit;                 /* #VMEXIT's release of in-use marks (not the world switch) */
	uint32_t tlb_flush;              /* the global TLB flush of RMPUPDATE/PSMASH (update_flush_tlb) */
};

struct rmp_config {
	enum rmp_mode mode;
	uint64_t base;             /* RMP_BASE; RMP_NO_ADDR = top of memory */
	uint64_t coverage;         /* contiguous: bytes of SPA covered; 0 = all memory */
	unsigned segment_shift;    /* segmented: log2 segment size (>= 30) */
	uint64_t uncovered[RMP_RST_ENTRIES / 64];  /* segmented: segments with no RMP */
	uint32_t max_asid;         /* largest ASID RMPUPDATE accepts */
	bool spurious_faults;      /* accesses to a locked entry fault (retry) */
	bool erratum_2m_inuse;     /* host 2M write faults if the 2M base page is in use */
	bool iommu_check_reads;    /* DMA reads are checked like writes */
	bool update_flush_tlb;     /* every successful RMPUPDATE/PSMASH flushes every TLB */
	struct rmp_lat lat;
};

/* Defaults: contiguous at the top, generic-profile latencies. */
void rmp_config_default(struct rmp_config *cfg);

/*
 * Create a model on memory @m (standalone, for tests and benchmarks; the
 * module's attach does the same from the configuration).  Zeroes the table
 * and marks the table's own pages firmware-owned, as SNP_INIT does.
 * Return: the model, or NULL with @err set ("rmp.base: ..." naming the key).
 */
struct rmp *rmp_new(struct sim_mem *m, const struct rmp_config *cfg, struct sim_err *err);
void rmp_free(struct rmp *rmp);

/* True unless @rmp is NULL or in RMP_MODE_OFF. */
bool rmp_enabled(const struct rmp *rmp);
const struct rmp_config *rmp_config(const struct rmp *rmp);
/* RMP_BASE and RMP_END (inclusive) of the table (segmented: incl. segment tables). */
uint64_t rmp_base(const struct rmp *rmp);
uint64_t rmp_end(const struct rmp *rmp);

/* ------------------------------------------------------------------ */
/* Requester and results                                               */
/* ------------------------------------------------------------------ */

/*
 * Who asks, and when: struct sim_who (sim/sim.h).  Locks and in-use marks
 * depend only on now and agent; mem_cycles accumulates the memory cycles
 * spent on RMP entries.
 */

/* Decoded architectural entry. */
struct rmp_entry {
	bool assigned;
	bool page_2m;                  /* Page_Size */
	bool immutable;
	bool vmsa;
	bool validated;
	uint32_t asid;
	uint64_t gpa;                  /* page-aligned GPA (effective: of this 4K page) */
	uint8_t perms[RMP_NUM_VMPL];   /* [0] = RMP_PERM_ALL, [1..3] from the entry */
	bool hpage_region_status;      /* some 4K entry of the 2M region is assigned */
	uint64_t raw_lo, raw_hi;       /* the stored 16 bytes of the governing entry */
};

struct rmp_result {
	enum rmp_rc rc;                /* also the return value */
	struct rmp_fault fault;        /* rc == RMP_RC_FAULT */
	bool changed;                  /* PVALIDATE: Validated changed (CF = 0) */
	bool page_2m;                  /* request size; RMPQUERY: the entry's size */
	uint8_t perms[RMP_NUM_VMPL];   /* RMPQUERY: masks of VMPL0..3 */
	uint32_t latency;              /* instruction cycles (profile), excl. memory */
};

/*
 * Cycles of @insn with outcome @rc (RMP_RC_FAULT allowed); @page_2m: request
 * size.  A successful RMPUPDATE or PSMASH includes lat.tlb_flush when
 * update_flush_tlb is on.
 */
uint32_t rmp_latency(const struct rmp *rmp, enum rmp_insn insn, bool page_2m, enum rmp_rc rc);

/* ------------------------------------------------------------------ */
/* Host (hypervisor) instructions                                      */
/* ------------------------------------------------------------------ */

/* RMPUPDATE's 16-byte new-state structure (Linux `rmp_state`). */
struct rmp_update_in {
	uint64_t gpa;          /* offset 0: GPA (page-aligned; 2M-aligned for 2M) */
	bool assigned;         /* offset 8 bit 0 */
	bool page_2m;          /* offset 9 bit 0 */
	bool immutable;        /* offset 10 bit 0 */
	uint32_t asid;         /* offset 12 */
	uint64_t reserved;     /* non-zero reserved bits seen by rmp_update_in_decode() */
};
/* Decode the raw 16-byte structure (as RMPUPDATE reads it from memory). */
void rmp_update_in_decode(const uint8_t raw[16], struct rmp_update_in *in);

/*
 * RMPUPDATE @spa with @in.  Hypervisor => guest/firmware/hypervisor: replaces
 * assigned, page size, immutable, GPA and ASID; clears Validated and VMSA;
 * VMPL1..3 permissions become none.  Assigning a 2M page marks the
 * raw entries of its other 511 pages RMP_LO_SUB2M, unassigning it clears
 * them (one 8 KiB write with the base entry, as PSMASH's).  Holds the
 * entry lock (the 2M region for a 2M request) for its duration on
 * success; with update_flush_tlb it also flushes every TLB (the change
 * hooks are told, see rmp_update_flushes_tlb()).
 * Return:
 *   SUCCESS;
 *   FAIL_INPUT: @spa not covered or misaligned for the size, ASID above
 *     max_asid, assigned with ASID 0 but not immutable (only firmware pages
 *     have ASID 0), unassigned with an ASID or immutable, GPA misaligned or
 *     beyond 51 bits, reserved bits set;
 *   FAIL_PERMISSION: the current entry is immutable;
 *   FAIL_INUSE: the page (any page of the 2M region for 2M) is in use by a
 *     running guest, or the entry is locked by another agent's instruction
 *     of the same granularity;
 *   FAIL_OVERLAP: 4K request inside an assigned 2M entry, 2M request over
 *     assigned 4K entries, or a lock held on the other granularity;
 *   FAULT (#UD) when SNP is off.
 */
enum rmp_rc rmp_update(struct rmp *rmp, struct sim_who *who, uint64_t spa,
		       const struct rmp_update_in *in, struct rmp_result *res);

/*
 * PSMASH the 2M entry at @spa into 512 4K entries with consecutive GPAs,
 * the same owner, immutable, Validated, VMSA and VMPL permissions.
 * Return: SUCCESS; FAIL_INPUT (not 2M-aligned or not covered);
 * FAIL_PERMISSION (immutable); FAIL_INUSE (a page of the region in use,
 * or any lock in the region); FAIL_BADADDR (the 2M-base entry is not an
 * assigned 2M entry); FAULT (#UD) when SNP is off.  A success flushes
 * every TLB with update_flush_tlb, as RMPUPDATE.
 */
enum rmp_rc rmp_psmash(struct rmp *rmp, struct sim_who *who, uint64_t spa,
		       struct rmp_result *res);

/* RMPREAD's 16-byte architectural output. */
struct rmp_read_out {
	struct rmp_entry ent;   /* the effective entry of the page, decoded */
	uint8_t raw[16];        /* RMPREAD format: GPA, assigned, size|hpage<<1, immutable, ASID */
};

/*
 * RMPREAD @spa: the effective entry (2M semantics; GPA of this 4K page).
 * Takes no lock.  Return: SUCCESS; FAIL_INPUT (misaligned or not
 * covered); FAULT (#UD) when SNP is off.
 */
enum rmp_rc rmp_read(struct rmp *rmp, struct sim_who *who, uint64_t spa,
		     struct rmp_read_out *out, struct rmp_result *res);

/* ------------------------------------------------------------------ */
/* Guest instructions                                                  */
/* ------------------------------------------------------------------ */

/* The page a guest instruction names, already translated by the caller. */
struct rmp_gpage {
	uint32_t asid;       /* the guest's ASID */
	unsigned vmpl;       /* current VMPL (0..3) */
	uint64_t gpa;        /* GPA of the page */
	uint64_t spa;        /* SPA the nested tables map it to */
	uint64_t map_size;   /* size of that nested leaf: 4K, 2M or 1G */
};

/*
 * PVALIDATE: set (@validate) or clear Validated on the guest page (2M if
 * @page_2m).  Checks like a private access first (owner, GPA, mutable).
 * Return: SUCCESS with res->changed (false = CF=1, already as requested);
 *   FAIL_INPUT (GPA/SPA misaligned for the size); FAIL_SIZEMISMATCH (2M
 *   request, 4K entry); FAIL_INUSE (entry locked by another agent);
 *   FAULT: #UD (SNP off), #GP (VMPL != 0), #NPF(RMP,ENC,FINAL) (not
 *   covered, wrong owner or GPA, immutable, 2M nested leaf on a 4K entry),
 *   #NPF(RMP,ENC,FINAL,SIZEM) (4K request on a 2M entry: SIZEM is set only
 *   for this PVALIDATE/RMPADJUST size mismatch, APM 15.36.10).
 */
enum rmp_rc rmp_pvalidate(struct rmp *rmp, struct sim_who *who, const struct rmp_gpage *pg,
			  bool page_2m, bool validate, struct rmp_result *res);

/*
 * RMPADJUST: give VMPL @target the permissions @perms on the guest page
 * and (VMPL0 only) set or clear its VMSA bit.  At VMPL > 0 @vmsa is
 * ignored, without error (edk2 `BaseVmsaRmpAdjust`: the VMSA change is
 * only made at VMPL0).
 * Return: SUCCESS; FAIL_INPUT (target > 3, reserved perm bits, W without
 *   R, misaligned, VMSA on a 2M page at VMPL0); FAIL_PERMISSION (target <=
 *   current VMPL, perms beyond the caller's own);
 *   FAIL_SIZEMISMATCH (2M request, 4K entry); FAIL_INUSE (page in use by a
 *   running guest, or locked); FAULT: #UD, #NPF as PVALIDATE, #VC(0x404)
 *   if the page is not validated.
 */
enum rmp_rc rmp_adjust(struct rmp *rmp, struct sim_who *who, const struct rmp_gpage *pg,
		       bool page_2m, unsigned target, uint8_t perms, bool vmsa,
		       struct rmp_result *res);

/*
 * RMPQUERY: the VMPL permission masks (res->perms) and the entry's page
 * size (res->page_2m) of the guest page.  Takes no lock.
 * Return: SUCCESS; FAIL_INPUT (GPA or SPA not 4K-aligned); FAULT: #UD,
 * #NPF(RMP,ENC,FINAL) (not covered, wrong owner or GPA, immutable, 2M
 * nested leaf on a 4K entry).
 */
enum rmp_rc rmp_query(struct rmp *rmp, struct sim_who *who, const struct rmp_gpage *pg,
		      struct rmp_result *res);

/* ------------------------------------------------------------------ */
/* Access checks (fast path)                                           */
/* ------------------------------------------------------------------ */

/* Kinds of host access (APM Table 15-39, host rows). */
enum rmp_host_access {
	RMP_HOST_READ,       /* data read: not checked */
	RMP_HOST_WRITE,      /* data write */
	RMP_HOST_FETCH,      /* instruction fetch: not checked */
	RMP_HOST_PT_READ,    /* the host's own page-table walk reads a table entry */
	RMP_HOST_PT_WRITE,   /* the host walker's A/D update of a table entry */
};

/*
 * A check is one step of an access: the caller orders the access among
 * the agents first (sim_sync(); a vCPU batch, a DMA request, a table walk
 * and a script line do); the check itself does not.  The instructions,
 * VMRUN and #VMEXIT order themselves.
 */

/*
 * Host access of @kind to @spa through a host mapping of @map_size (4K,
 * 2M, 1G).  Data writes and page-table accesses are checked (APM Table
 * 15-39, "Host: data write, page table access": Hypervisor-Owned); data
 * reads and fetches pass.  A data write through 4K: the page must be
 * hypervisor-owned; through 2M/1G: every 4K entry of the 2M region (and,
 * with erratum_2m_inuse, the 2M base page must not be in use).  A
 * page-table access is checked on its own 4K page (tables are reached by
 * physical address; @map_size is ignored).
 * Return: RMP_FAULT_NONE, or RMP_FAULT_PF with @f = #PF(W,RMP) (data
 * write, A/D update) or #PF(RMP) (table read).
 */
enum rmp_fault_kind rmp_check_host_access(struct rmp *rmp, struct sim_who *who, uint64_t spa,
					  enum rmp_host_access kind, uint64_t map_size,
					  struct rmp_fault *f);

/* rmp_check_host_access() of a data write (@write) or read. */
enum rmp_fault_kind rmp_check_host(struct rmp *rmp, struct sim_who *who, uint64_t spa,
				   bool write, uint64_t map_size, struct rmp_fault *f);

enum rmp_access {
	RMP_ACC_READ,        /* data read */
	RMP_ACC_WRITE,       /* data write */
	RMP_ACC_FETCH_USER,  /* instruction fetch at CPL3 */
	RMP_ACC_FETCH_SUP,   /* instruction fetch at CPL0-2 */
	RMP_ACC_PT_READ,     /* guest page-table read by the walker (always private) */
	RMP_ACC_PT_WRITE,    /* guest page-table A/D update (always private) */
};

struct rmp_gaccess {
	uint32_t asid;        /* the guest's ASID */
	unsigned vmpl;        /* 0..3 */
	uint64_t gpa;         /* GPA accessed (EXITINFO2 on a fault) */
	uint64_t spa;         /* its system address */
	enum rmp_access kind;
	bool c_bit;           /* effective C-bit (ignored for fetches and walks: 1) */
	bool user;            /* CPL3 data access (sets U in EXITINFO1) */
	bool snp;             /* false: a non-SNP guest (writes and page-table accesses
				 checked, HV-owned) */
	uint64_t map_size;    /* nested leaf size: 4K, 2M, 1G */
};

/*
 * Guest access.  Private (C=1, fetches, walks): covered, guest-owned,
 * reverse-map GPA, mutable, page size, validated, VMPL permission, in this
 * order.  The page-size check is an equality (AMD APM vol. 2 15.36.10, KVM
 * `sev_handle_rmp_fault`): a 2M/1G nested leaf needs a 2M entry, a 4K
 * leaf a 4K entry; it faults without SIZEM.  Shared (C=0) writes, and a
 * non-SNP guest's writes and page-table accesses: hypervisor-owned.
 * Shared reads (and a non-SNP guest's reads and fetches): none.
 * Faults: #NPF with RMP and ENC/FINAL|PAGE/VMPL bits, or #VC(0x404).
 * Return: RMP_FAULT_NONE, RMP_FAULT_NPF or RMP_FAULT_VC (@f filled).
 */
enum rmp_fault_kind rmp_check_guest(struct rmp *rmp, struct sim_who *who,
				    const struct rmp_gaccess *a, struct rmp_fault *f);

/*
 * DMA by a device to @spa: writes must be hypervisor-owned; reads are
 * checked only with iommu_check_reads.
 * Return: RMP_FAULT_NONE or RMP_FAULT_IOMMU.
 */
enum rmp_fault_kind rmp_check_dma(struct rmp *rmp, struct sim_who *who, uint64_t spa,
				  bool write, struct rmp_fault *f);

/* ------------------------------------------------------------------ */
/* VMRUN / #VMEXIT and in-use pages                                    */
/* ------------------------------------------------------------------ */

struct rmp_vmrun_in {
	uint32_t asid;       /* the VMCB's ASID */
	uint64_t vmcb;       /* SPA of the VMCB */
	uint64_t vmsa;       /* SPA of the VMSA */
	uint64_t vmsa_gpa;   /* GPA the VMSA must be registered at; RMP_NO_ADDR: not checked */
	uint64_t avic;       /* SPA of the AVIC backing page; RMP_NO_ADDR: none */
};

/*
 * VMRUN's SNP checks on agent who->agent.  The VMCB must be
 * hypervisor-owned (#GP); the AVIC backing page must be hypervisor-owned
 * (VMEXIT_INVALID, APM Table 15-41); the VMSA must be covered, guest-owned
 * by @asid, at vmsa_gpa, mutable, VMSA=1 (VMEXIT_INVALID).  On success the
 * pages are in use until rmp_vmexit() by the same agent.
 * Return: RMP_FAULT_NONE, RMP_FAULT_GP (also: misaligned VMCB, agent
 * already in guest mode, VMCB in use elsewhere) or RMP_FAULT_VMEXIT_INVALID
 * (also: misaligned AVIC page, ASID 0 or above max_asid, VMSA in use
 * elsewhere).  With SNP off: always NONE and nothing is marked.
 */
enum rmp_fault_kind rmp_vmrun(struct rmp *rmp, struct sim_who *who,
			      const struct rmp_vmrun_in *in, struct rmp_fault *f);

/*
 * #VMEXIT on who->agent: clear its in-use marks.
 * Return: 0, or -1 if the agent is not in guest mode (SNP off: always 0).
 */
int rmp_vmexit(struct rmp *rmp, struct sim_who *who);

/* The agent using @spa as VMCB/VMSA/AVIC page, or -1. */
int rmp_in_use(const struct rmp *rmp, uint64_t spa);

/* ------------------------------------------------------------------ */
/* Inspection (untimed: sim_mem_peek; for tests, dumps, other models)  */
/* ------------------------------------------------------------------ */

/* SPA @spa is RMP-covered. */
bool rmp_is_covered(const struct rmp *rmp, uint64_t spa);

/* SPA of the 16-byte entry of @spa's 4K page; false if not covered. */
bool rmp_entry_addr(const struct rmp *rmp, uint64_t spa, uint64_t *addr);

/* The stored entry of @spa's own 4K page (no 2M semantics). false: not covered. */
bool rmp_entry_get(const struct rmp *rmp, uint64_t spa, struct rmp_entry *ent);

/*
 * The effective entry of @spa (2M semantics: the 2M-base entry when it is
 * an assigned 2M entry, with the GPA of this 4K page).  A page that is not
 * covered reads as hypervisor-owned and returns false.
 */
bool rmp_entry_effective(const struct rmp *rmp, uint64_t spa, struct rmp_entry *ent);

/* RMP level of @spa: SIM_SZ_2M if governed by a 2M entry, else SIM_SZ_4K. */
uint64_t rmp_level(const struct rmp *rmp, uint64_t spa);

/*
 * Firmware (AMD-SP) writes the entry of @spa directly, untimed: for the
 * SNP firmware model (LAUNCH_UPDATE sets VMSA/validated, PAGE_RECLAIM) and
 * test set-up.  @ent->page_2m requires a 2M-aligned @spa.  Keeps the 2M
 * region bookkeeping.  Return: SUCCESS or FAIL_INPUT.
 */
enum rmp_rc rmp_fw_write(struct rmp *rmp, uint64_t spa, const struct rmp_entry *ent);


/*
 * Change notification, for models above the RMP that cache check results
 * (stage-2 TLBs with s2.rmpupdate_flush, a vCPU's combined translations):
 * @fn is called after every successful instruction that wrote RMP entries
 * (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST; @insn says which) with the SPA
 * range of the entries (4K, or the 2M region).  Untimed firmware writes
 * (rmp_fw_write) are not reported.  At most RMP_MAX_HOOKS hooks; adding
 * more is a programming error.
 */
#define RMP_MAX_HOOKS 4
typedef void (*rmp_change_fn)(void *arg, enum rmp_insn insn, uint64_t spa, uint64_t size);
void rmp_add_change_hook(struct rmp *rmp, rmp_change_fn fn, void *arg);

/*
 * True when every successful RMPUPDATE and PSMASH also flushes every TLB
 * of the machine (rmp.update_flush_tlb; Bagia et al., "A Close Look at RMP
 * Entry Caching", MIT 2024): a change hook must then drop every cached
 * translation, not only those of the changed range.  The instruction's
 * latency already includes lat.rmp.tlb_flush; counted in
 * rmp_counters()->tlb_flushes.
 */
bool rmp_update_flushes_tlb(const struct rmp *rmp);
/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

#define RMP_RC_SLOTS 7   /* 0..6 by value; slot 5 unused; see below */

/* Counters; the module registers them as rmp.* stats. */
struct rmp_counters {
	uint64_t insn[RMP_INSN_COUNT][RMP_RC_SLOTS];  /* by return value 0..6 */
	uint64_t insn_fault[RMP_INSN_COUNT];          /* raised an exception */
	uint64_t pvalidate_unchanged;                 /* SUCCESS with CF=1 */
	uint64_t vmrun_ok, vmrun_gp, vmrun_invalid, vmexits;
	uint64_t lock_conflicts;     /* instructions refused by another's lock */
	uint64_t spurious_faults;    /* accesses that hit a locked entry */
	uint64_t entry_reads;        /* timed entry reads */
	uint64_t entry_writes;       /* timed entry writes */
	uint64_t rst_reads;          /* timed RMP Segment Table entry reads (segmented) */
	uint64_t tlb_flushes;        /* global TLB flushes by RMPUPDATE/PSMASH (update_flush_tlb) */
	uint64_t faults_pf, faults_npf, faults_vc, faults_iommu;
	uint64_t checks_host, checks_guest, checks_dma;
};
const struct rmp_counters *rmp_counters(const struct rmp *rmp);

/* Register the counters as rmp.* statistics of @s (the module's attach does). */
void rmp_register_stats(struct rmp *rmp, struct sim *s);

#endif /* PROTSIM_RMP_H */
