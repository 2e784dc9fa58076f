/*
 * s2.h - stage-2 (and guest stage-1) translation hardware: page-table
 * formats in simulated memory, the one generic table walker with its
 * visitors (map, unmap, protect, get-leaf, annotate), hardware
 * translation with faults, TLBs and page-walk caches, and the
 * two-dimensional (nested) walk.
 *
 * Layers inside this module:
 *   formats   struct s2_fmt_ops: bit-exact descriptors of arm64 VMSAv8-64
 *             stage 2 (4K granule), AMD NPT (x86-64 long-mode entries),
 *             Intel EPT, guest stage-1 x86-64 4-level, Sv39, Sv48, and
 *             the AMD IOMMU v1 IO page table (the IOMMU model builds its
 *             IO tables with s2_pgt_new() in S2_FMT_AMDV1).
 *   tables    struct s2_pgt: a table in simulated memory whose pages come
 *             from an allocator the caller gives (struct s2_mm_ops).
 *   walker    s2_walk(): visits entries of a range with callbacks at
 *             table-pre, leaf and table-post, as Linux's arm64 pgtable.c.
 *             s2_map/unmap/protect/get_leaf/annotate are visitors.
 *   hardware  s2_translate() (one stage, no caches), struct s2_mmu (TLBs,
 *             nested TLB, page-walk caches, invalidation), and
 *             s2_mmu_translate_2d() (stage-1 walk whose table reads are
 *             stage-2 translated).  Functional results and the events
 *             that cost time are in struct s2_xlate; s2_latency() turns
 *             them into cycles from struct s2_timing (the profile).
 *   machine   struct s2_ctx: the per-machine model attached by s2_module
 *             (VMs for the script language, per-agent MMUs, the table
 *             pool, stats, the RMP glue).
 *
 * Levels: every function and result uses the ARCHITECTURE's own level
 * numbers: arm64 0..3 (3 = 4K pages), x86-64/NPT/EPT 4..1 (1 = 4K page
 * table, 4 = PML4; AMD v1 IO tables the same), Sv39/Sv48 2..0 / 3..0
 * (0 = 4K).  Internally a "size class" (enum s2_sz) numbers the page
 * sizes from 4K up, the same in every format.
 *
 * Timing: every timed call names who performs it in a struct sim_who
 * (sim/sim.h), as the RMP and the IOMMU do: the software walks (s2_map,
 * s2_unmap, s2_protect, s2_annotate, s2_get_leaf, s2_walk, and the root
 * zeroing of s2_pgt_new) take it as an argument, a hardware translation
 * in its request (struct s2_req.who).  Each memory access is made by
 * who->agent, and the memory cycles are added to who->mem_cycles; a NULL
 * who is no agent (-1), its cycles are dropped.  The caller charges them.
 *
 * This module never includes rmp/rmp.h outside s2_ops.c: the RMP check
 * of SNP guests comes in through struct s2_check_hook.
 */
#ifndef PROTSIM_S2_H
#define PROTSIM_S2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

/* ------------------------------------------------------------------ */
/* Result codes of the management (software) operations              */
/* ------------------------------------------------------------------ */

/* ORDER: s2_rc_name() in s2_walk.c. */
enum s2_rc {
	S2_OK = 0,
	S2_ERR_EXISTS,     /* a valid mapping already covers part of the range */
	S2_ERR_NOMEM,      /* the table-page allocator had no page */
	S2_ERR_ALIGN,      /* address or size not aligned to the leaf size */
	S2_ERR_RANGE,      /* outside the table's input or output address range */
	S2_ERR_PERMS,      /* the format cannot encode these permissions */
	S2_ERR_SIZE,       /* the format has no leaf of that size at that level */
	S2_ERR_NOENT,      /* nothing mapped there */
	S2_ERR_UNMAPPED,   /* a table page's own address is not accessible (stage-1
			      table at a GPA that stage 2 does not map) */
	S2_ERR_INVAL,      /* a bad argument (NULL, zero size, unknown format...) */
	S2_ERR_BUSY,       /* s2_map_leaf: a table or an owner id where it would go */
	S2_ERR_REFUSED,    /* s2_map_leaf: the caller's check refused the page to write */
	S2_RC_COUNT
};

/* Lower-case name of @rc as used in script results: "exists", "nomem", ... */
const char *s2_rc_name(int rc);

/* ------------------------------------------------------------------ */
/* Permissions, attributes and decoded entries                        */
/* ------------------------------------------------------------------ */

/* Permission bits (stage 1 and stage 2). */
enum s2_perm {
	S2_PERM_R  = 1u << 0,   /* read */
	S2_PERM_W  = 1u << 1,   /* write */
	S2_PERM_XS = 1u << 2,   /* execute in supervisor / kernel mode (EPT bit 2 under MBEC) */
	S2_PERM_XU = 1u << 3,   /* execute in user mode (EPT bit 10 under MBEC) */
	S2_PERM_X  = S2_PERM_XS | S2_PERM_XU,   /* execute at any privilege */
	S2_PERM_ALL = S2_PERM_R | S2_PERM_W | S2_PERM_X,
};

/*
 * Parse script PERMS: "none" or letters from r w x u s (x = u+s).
 * Return: 0 and *out, or -1 on any other text.
 */
int s2_perms_parse(const char *text, uint8_t *out);

/* Format @perms as "none", "rwx", "ru", "rws" ... into @buf (>= 8 bytes). */
const char *s2_perms_str(uint8_t perms, char buf[8]);

/* Memory type of a leaf. */
enum s2_memtype {
	S2_MT_NORMAL = 0,  /* write-back normal memory (arm64 MemAttr 0b1111, EPT WB=6) */
	S2_MT_DEVICE,      /* device / uncached (arm64 Device-nGnRE 0b0001, EPT UC=0, x86 PCD|PWT) */
};

/*
 * What a leaf grants, plus the attributes a caller may set.  Zero-init
 * gives normal memory, accessed (and dirty where writable), supervisor,
 * C=0, no software bits.
 */
struct s2_prot {
	uint8_t perms;        /* S2_PERM_* */
	uint8_t memtype;      /* enum s2_memtype */
	uint8_t sw;           /* software bits: arm64 [58:55] (pKVM page state in [56:55]);
				 EPT/NPT/x86 [55:52]; Sv [9:8] (only bit 9; see docs) */
	bool user;            /* stage 1: user-accessible (x86 U/S, RISC-V U) */
	bool c;               /* stage 1: C-bit (x86-64 bit 51; Sv: RSW bit 8, a protsim convention) */
	bool global;          /* stage 1: G bit */
	bool ad_clear;        /* map with the accessed (arm64 AF) and dirty flags clear */
	bool suppress_ve;     /* EPT bit 63 */
};

/* Page-size classes: the same numbering in every format. */
enum s2_sz {
	S2_SZ_4K = 0,
	S2_SZ_2M = 1,
	S2_SZ_1G = 2,
	S2_SZ_512G = 3,
	S2_SZ_COUNT
};

/* Bytes covered by one entry of size class @sz (4K << 9*sz). */
static inline uint64_t s2_sz_bytes(unsigned sz) { return 1ull << (12 + 9 * sz); }

enum s2_pte_type {
	S2_PTE_INVALID = 0,   /* not valid / not present (maybe owner-annotated) */
	S2_PTE_TABLE,         /* points to a next-level table */
	S2_PTE_LEAF,          /* page or block */
	S2_PTE_RESERVED,      /* an encoding the walker must fault on (arm64 level-3
				 type 0 is invalid, EPT W-without-R misconfiguration,
				 x86 PS=1 in a PML4E) */
};

/* One entry, decoded by the format. */
struct s2_pte {
	enum s2_pte_type type;
	uint64_t addr;        /* TABLE: next-table address; LEAF: output base */
	struct s2_prot prot;  /* LEAF: everything; TABLE: the permissions the entry
				 lets through (x86/EPT AND them across levels) */
	bool accessed;        /* arm64 AF, x86 A, EPT A (bit 8), Sv A */
	bool dirty;           /* x86 D, EPT D (bit 9), Sv D; arm64: S2AP W with DBM unused */
	uint8_t owner;        /* INVALID: annotated owner id (0 = none) */
};

/*
 * The part of an entry a hardware walk needs at every level: the same
 * values as the struct s2_pte fields of the same names (each format's
 * decode() is built on its walk_decode()).  Returned by value, in
 * registers: the walk's next table address then never makes a round trip
 * through memory, which is what bounds a cold walk's speed.
 */
struct s2_wpte {
	uint64_t addr;        /* s2_pte.addr */
	uint8_t type;         /* s2_pte.type (enum s2_pte_type) */
	uint8_t perms;        /* s2_pte.prot.perms */
	bool user;            /* s2_pte.prot.user */
	bool accessed;        /* s2_pte.accessed */
	bool dirty;           /* s2_pte.dirty */
	bool c;               /* s2_pte.prot.c (stage-1 leaves) */
};

/* ------------------------------------------------------------------ */
/* Formats                                                             */
/* ------------------------------------------------------------------ */

enum s2_fmt_id {
	S2_FMT_ARM64 = 0,   /* VMSAv8-64 stage 2, 4K granule, 3 or 4 levels */
	S2_FMT_NPT,         /* AMD nested page tables (x86-64 long-mode entries), 4 levels */
	S2_FMT_EPT,         /* Intel EPT, 4 levels, MBEC, A/D enabled */
	S1_FMT_X86_64,      /* guest x86-64 4-level paging (C-bit at 51) */
	S1_FMT_SV39,        /* RISC-V Sv39 */
	S1_FMT_SV48,        /* RISC-V Sv48 */
	S2_FMT_AMDV1,       /* AMD IOMMU v1 (host) IO page table, 3 or 4 levels */
	S2_FMT_COUNT
};

/* Stage-2 fault types (the architecture-neutral part). */
enum s2_fault_type {
	S2_FAULT_NONE = 0,
	S2_FAULT_TRANSLATION,   /* no valid entry (or a reserved encoding) */
	S2_FAULT_PERMISSION,    /* the entry does not grant the access */
	S2_FAULT_ACCESS,        /* arm64 access flag clear (AF=0) */
	S2_FAULT_CHECK,         /* a caller's hook refused: the check (RMP) or a table_pa */
	S2_FAULT_TYPE_COUNT
};

/* Kinds of access. */
enum s2_access {
	S2_ACC_READ = 0,
	S2_ACC_WRITE,
	S2_ACC_FETCH,
};

/*
 * A fault, with the architecture's own code in @code:
 *   arm64  ISS-style: DFSC/IFSC [5:0] (0b0001LL translation, 0b0010LL access
 *          flag, 0b0011LL permission, LL = level), WnR bit 6, S1PTW bit 7
 *          (stage-2 fault on a stage-1 table read).
 *   EPT    exit qualification (SDM): bit 0 read, 1 write, 2 fetch, 3-5 R/W/X
 *          (supervisor X under MBEC) allowed by the walk so far, 6 user-X
 *          allowed, 7 guest linear address valid, 8 final translation (1)
 *          vs guest paging structure (0).
 *   NPT    #NPF EXITINFO1: P bit 0, W 1, U 2 (always 1: nested walks are user
 *          accesses), RSVD 3, I/D 4, FINAL bit 32, PAGE (guest table) bit 33.
 *   x86-64 stage 1: #PF error code P/W/U/RSVD/I-D (bits 0-4).
 *   Sv39/48 stage 1: scause 12 (fetch), 13 (load), 15 (store).
 *   CHECK  the hook's own result (e.g. the RMP check code) in @check_rc.
 */
struct s2_fault {
	enum s2_fault_type type;
	uint8_t stage;          /* 1 or 2 (CHECK: 2) */
	int8_t level;           /* architecture level of the faulting entry */
	bool table;             /* stage-2 fault on a guest page-table address */
	bool gla;               /* part of a 2D walk (a guest linear address exists) */
	enum s2_fmt_id fmt;     /* format that faulted */
	enum s2_access acc;     /* the access (table reads: S2_ACC_READ) */
	uint64_t addr;          /* input address at the faulting stage (IPA/GPA, or VA) */
	uint64_t va;            /* 2D: guest virtual address of the access */
	uint64_t code;          /* architecture code, see above */
	int check_rc;           /* CHECK: value returned by the hook */
};

/*
 * Format @f as the script language prints it: "#S2F(level=N,type=...)"
 * for stage 2, "#PF(P,W,U,RSVD,ID)" (flags present) for x86-64 stage 1,
 * "#PF(cause=N)" for Sv39/Sv48, "CHECK(rc)" for a hook refusal (the
 * RMP glue prints its own token instead).  Return: @buf.
 */
const char *s2_fault_str(const struct s2_fault *f, char *buf, size_t len);

/* Name of a fault type: "translation", "permission", "access", "check". */
const char *s2_fault_type_name(enum s2_fault_type t);

/*
 * The format operations.  Every member is set for every built-in format.
 * "sz" is a size class (enum s2_sz) of the entry: the level whose entries
 * map 4K has sz 0.
 */
struct s2_fmt_ops {
	const char *name;        /* "arm64", "npt", "ept", "x86_64", "sv39", "sv48", "amdv1" */
	enum s2_fmt_id id;
	uint8_t stage;           /* 1 or 2 */
	uint8_t min_levels;      /* table levels supported */
	uint8_t max_levels;
	uint8_t leaf_szs;        /* bit i set: a leaf of size class i is legal */
	bool split_exec;         /* can grant XS and XU separately (EPT MBEC, arm64 FEAT_XNX) */
	bool needs_bbm;          /* replacing a valid entry needs break-before-make (arm64) */
	bool af_faults;          /* accessed-clear faults (arm64 access flag; Sv Svade page fault)
				    instead of a hardware A/D update (x86, NPT, EPT) */
	bool canonical_sext;     /* input addresses are sign-extended (x86-64 and Sv VAs) */
	bool user_excl;          /* supervisor accesses to user pages fault (RISC-V, SUM=0) */

	/* Architecture level number of an entry of size class @sz in a table of @levels. */
	int (*arch_level)(unsigned sz, unsigned levels);
	/*
	 * Raw table descriptor of size class @sz pointing to the table at @pa
	 * (@sz matters to AMD v1, whose entries name the next table's level).
	 */
	uint64_t (*mk_table)(uint64_t pa, unsigned sz);
	/*
	 * Raw leaf of size class @sz mapping @pa with @prot into *@raw.
	 * Return: S2_OK, S2_ERR_PERMS (not encodable: e.g. EPT W without R,
	 * x86 "none"), S2_ERR_SIZE (no leaf at @sz), S2_ERR_RANGE (pa too wide).
	 */
	int (*mk_leaf)(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw);
	/* Raw invalid entry carrying owner id @owner (0: all zero). */
	uint64_t (*mk_invalid)(uint8_t owner);
	/* Decode @raw found at size class @sz. */
	void (*decode)(uint64_t raw, unsigned sz, struct s2_pte *out);
	/* The fields of decode() every walk step needs (hardware walks call it per entry). */
	struct s2_wpte (*walk_decode)(uint64_t raw, unsigned sz);
	/* @raw with the accessed flag (and dirty if @write) set: the hardware A/D update. */
	uint64_t (*set_ad)(uint64_t raw, bool write);
	/*
	 * Fill f->code from f->type, f->level, f->acc, f->table and the
	 * permissions the walk found (@walk_perms, for EPT) and the user flag.
	 */
	void (*fault_code)(struct s2_fault *f, uint8_t walk_perms, bool user);
};

/* The built-in formats. Return: NULL for an unknown id/name. */
const struct s2_fmt_ops *s2_fmt(enum s2_fmt_id id);
const struct s2_fmt_ops *s2_fmt_by_name(const char *name);

/* ------------------------------------------------------------------ */
/* Table objects and the allocator interface                           */
/* ------------------------------------------------------------------ */

/* "No page" from an allocator. */
#define S2_NO_PAGE UINT64_MAX

/*
 * What a table needs from its owner.  Table addresses live in the table's
 * own address space: system-physical for stage 2 and IO tables,
 * guest-physical for guest stage 1.
 */
struct s2_mm_ops {
	/*
	 * Called when the walker needs a new table page, for the operation of
	 * @who (never NULL).  Return the 4K-aligned address of a page (the
	 * walker zeroes it), or S2_NO_PAGE.  Work the allocator itself times
	 * (a host allocator's RMP check of the store that will zero the page)
	 * adds its memory cycles to who->mem_cycles, like the walk's own.
	 */
	uint64_t (*alloc_page)(void *arg, struct sim_who *who);
	/* Called when a table page is given back (s2_pgt_free). May be NULL. */
	void (*free_page)(void *arg, uint64_t addr);
	/*
	 * Optional (NULL = identity): translate a table address to the PA of
	 * memory, e.g. a stage-1 table GPA through the VM's stage 2.  Return
	 * false if it is not accessible.  Software walks call it with table
	 * page addresses (the operation fails S2_ERR_UNMAPPED).  Hardware
	 * walks call it with the address of every entry they read, in walk
	 * order, before reading it (so it may do timed work: a caller's own
	 * stage 2 and RMP check); false stops the translation with an
	 * S2_FAULT_CHECK fault (table = 1, addr = the entry address, level =
	 * its level, check_rc = S2_ERR_UNMAPPED).  The stage-1 table of a 2D
	 * walk is the exception: the walk translates it by the space's stage 2.
	 */
	bool (*table_pa)(void *arg, uint64_t addr, uint64_t *pa);
	/*
	 * Optional: called during break-before-make on formats that need it,
	 * after the old entry was written invalid and before the new one is
	 * written: invalidate TLB entries for [ia, ia + bytes).
	 */
	void (*tlbi)(void *arg, uint64_t ia, uint64_t bytes);
};

struct s2_pgt;

/*
 * Create a table of format @fmt with @levels levels over @mem.  @root is
 * the root page's address, or S2_NO_PAGE to take one from @mm (the root
 * is zeroed either way, a timed write by @who: its memory cycles are
 * added to who->mem_cycles; NULL: no agent, not reported).  @mm and
 * @mm_arg are kept (not copied).
 * Return: the table, or NULL with *@rc = S2_ERR_INVAL (bad levels/format),
 * S2_ERR_NOMEM, S2_ERR_ALIGN (root not 4K aligned), S2_ERR_UNMAPPED.
 */
struct s2_pgt *s2_pgt_new(const struct s2_fmt_ops *fmt, unsigned levels, struct sim_mem *mem,
			  uint64_t root, const struct s2_mm_ops *mm, void *mm_arg,
			  struct sim_who *who, int *rc);

/*
 * Make a table object for a table that already exists at @root (e.g. a
 * guest's own stage-1 table named by satp or CR3), for hardware walks:
 * nothing is allocated, zeroed or read.  Management operations work on
 * it as on any table (new pages from @mm).  @mm may be NULL.
 * Return: the table, or NULL with *@rc = S2_ERR_INVAL (bad levels or
 * format, root S2_NO_PAGE), S2_ERR_ALIGN (root not 4K aligned).
 */
struct s2_pgt *s2_pgt_attach(const struct s2_fmt_ops *fmt, unsigned levels, struct sim_mem *mem,
			     uint64_t root, const struct s2_mm_ops *mm, void *mm_arg, int *rc);

/*
 * Point a table made by s2_pgt_attach() at another existing root (a satp
 * or CR3 write).  Return: S2_OK, S2_ERR_ALIGN (not 4K aligned: unchanged),
 * S2_ERR_INVAL (@p was made by s2_pgt_new: its root is its own page).
 */
int s2_pgt_set_root(struct s2_pgt *p, uint64_t root);

/*
 * Free the object and give every table page back through mm->free_page
 * (an attached table: the object only; its pages are not its own).  The
 * walk that finds the pages has no agent (its cycles are not reported).
 */
void s2_pgt_free(struct s2_pgt *p);

const struct s2_fmt_ops *s2_pgt_fmt(const struct s2_pgt *p);
uint64_t s2_pgt_root(const struct s2_pgt *p);
unsigned s2_pgt_levels(const struct s2_pgt *p);
struct sim_mem *s2_pgt_mem(const struct s2_pgt *p);
/* One past the largest input address (2^(12+9*levels)). */
uint64_t s2_pgt_ia_limit(const struct s2_pgt *p);
/* Table pages in use (root included). */
uint64_t s2_pgt_pages(const struct s2_pgt *p);

/* Count of break-before-make sequences performed on this table. */
uint64_t s2_pgt_bbm_count(const struct s2_pgt *p);
/* Count of table pages s2_unmap() found empty and freed. */
uint64_t s2_pgt_freed_count(const struct s2_pgt *p);

/* ------------------------------------------------------------------ */
/* The generic walker                                                  */
/* ------------------------------------------------------------------ */

enum s2_walk_flags {
	S2_WALK_LEAF       = 1u << 0,   /* visit leaf and invalid entries */
	S2_WALK_TABLE_PRE  = 1u << 1,   /* visit a table entry before its children */
	S2_WALK_TABLE_POST = 1u << 2,   /* visit a table entry after its children */
};

/* What a visitor sees. */
struct s2_visit_ctx {
	struct s2_pgt *pgt;
	struct sim_who *who;   /* the walk's software agent (never NULL: s2_walk's @who or
				  an agent-less one) */
	uint64_t old;          /* the entry's raw value (re-read before each visit) */
	uint64_t ptep;         /* memory PA of the entry */
	uint64_t addr;         /* first input address the entry covers */
	uint64_t start;        /* walk range [start, end) */
	uint64_t end;
	unsigned sz;           /* size class of the entry */
	int level;             /* architecture level of the entry */
	void *arg;             /* walker->arg */
};

/*
 * A walk: @visit is called for each entry of the range at the points
 * selected by @flags.  A non-zero return stops the walk and is returned
 * by s2_walk() (use enum s2_rc values).  After a LEAF visit the entry is
 * re-read; if the visitor turned it into a table, the walk descends
 * into it (this is how block splitting works).
 */
struct s2_walker {
	int (*visit)(struct s2_visit_ctx *ctx, enum s2_walk_flags when);
	void *arg;
	enum s2_walk_flags flags;
};

/*
 * Walk [addr, addr + size) of @p (rounded out to 4K) as software run by
 * @who (the hypervisor or a guest kernel): every entry read and written
 * is a timed data access (SIM_SRC_DATA) by who->agent, its memory cycles
 * added to who->mem_cycles (NULL: no agent, not reported).  The walk is
 * ordered among agents first (sim_sync_id on who->agent).
 * Return: S2_OK, S2_ERR_RANGE (outside the input range), S2_ERR_UNMAPPED
 * (a table page was not accessible), or the first non-zero visitor result.
 */
int s2_walk(struct s2_pgt *p, struct sim_who *who, uint64_t addr, uint64_t size,
	    const struct s2_walker *w);

/* Helpers for visitors (timed accesses of ctx->who). */
void s2_visit_set(struct s2_visit_ctx *ctx, uint64_t raw);        /* write the entry */
/* Allocate and zero a table page; install it as this entry's table. Return S2_OK/S2_ERR_NOMEM/S2_ERR_UNMAPPED. */
int s2_visit_install_table(struct s2_visit_ctx *ctx, uint64_t *table);
/*
 * Replace the entry by a table holding the same mapping as the block
 * (break-before-make on formats that need it).  Return as above.
 */
int s2_visit_split(struct s2_visit_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Visitors: the management operations                                 */
/* ------------------------------------------------------------------ */

/*
 * Each is a software walk by @who (see s2_walk): timed table accesses by
 * who->agent, their memory cycles added to who->mem_cycles (NULL: no
 * agent, not reported), also when the operation fails part way.
 */

/*
 * Map [ia, ia + size) to [pa, pa + size) with @prot, using leaves of
 * @leaf bytes (4K/2M/1G; 0 = the largest the format allows at each
 * step given alignment).  Fails without changing anything if any valid
 * leaf exists in the range (owner-annotated invalid entries are
 * overwritten).  Tables are created as needed.
 * Return: S2_OK, S2_ERR_INVAL (size 0), S2_ERR_ALIGN, S2_ERR_RANGE,
 * S2_ERR_SIZE (leaf size not supported by the format), S2_ERR_PERMS,
 * S2_ERR_EXISTS, S2_ERR_NOMEM (may leave part mapped), S2_ERR_UNMAPPED.
 */
/*
 * Map one leaf [ia, ia + leaf) -> pa with @prot in a single walk, as KVM's
 * kvm_tdp_mmu_map follows one path: the entries on the path are read
 * (timed) down to the leaf's size class, and
 *   - a valid leaf on the path: S2_ERR_EXISTS, its size and output address
 *     in *@found (if given), nothing written;
 *   - a table where the leaf goes, or an owner-annotated entry on the way:
 *     S2_ERR_BUSY, nothing written (s2_map handles those);
 *   - else the first entry that is not a table is the one existing table
 *     page the map writes: @ok(@arg, page) is asked first (S2_ERR_REFUSED
 *     when it says no, nothing written), then that entry becomes the leaf,
 *     or a table followed by new tables down to the leaf (new tables are
 *     known empty and not read).
 * Also S2_ERR_INVAL, ALIGN, RANGE, SIZE, PERMS as s2_map; S2_ERR_NOMEM may
 * leave new empty tables installed.
 */
struct s2_leaf_found {
	uint64_t size, pa;
};
int s2_map_leaf(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t pa, uint64_t leaf,
		const struct s2_prot *prot, bool (*ok)(void *arg, uint64_t page), void *arg,
		struct s2_leaf_found *found);

int s2_map(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t pa, uint64_t size,
	   uint64_t leaf, const struct s2_prot *prot);

/*
 * Unmap [ia, ia + size): leaves become invalid (owner 0).  A block only
 * partly inside the range is first split (break-before-make on arm64).
 * A table left empty by the unmap (all 512 entries invalid, none holding
 * an owner id) is taken out of its parent and given back through
 * mm->free_page, bottom-up, as Linux frees a table page whose reference
 * count drops (the root stays; tables of an owner without free_page
 * stay).  Leaf TLB entries are NOT invalidated (the caller issues TLBI,
 * as software must on hardware), except by the break-before-make of a
 * split and by the mm->tlbi of a removed table's range (walk caches may
 * hold the freed page).  Unmapping nothing is not an error.
 * Return: S2_OK, S2_ERR_INVAL, S2_ERR_ALIGN (not 4K aligned),
 * S2_ERR_RANGE, S2_ERR_NOMEM (split), S2_ERR_UNMAPPED.
 */
int s2_unmap(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t size);

/*
 * Set the permissions of every valid leaf in [ia, ia + size) to @perms
 * (other attributes kept), splitting blocks partly inside the range.
 * Return: S2_OK, S2_ERR_INVAL, S2_ERR_ALIGN, S2_ERR_RANGE, S2_ERR_PERMS
 * (checked before any change), S2_ERR_NOENT (no valid leaf in the
 * range), S2_ERR_NOMEM, S2_ERR_UNMAPPED.
 */
int s2_protect(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t size,
	       uint8_t perms);

/*
 * Find the entry that ends the walk for @ia: a leaf, or the invalid entry
 * (at whatever level) where the walk stops.  Fills *@raw, *@level and
 * *@pte (each may be NULL).  A software walk like the others.
 * Return: S2_OK (valid leaf), S2_ERR_NOENT (invalid/reserved entry),
 * S2_ERR_RANGE, S2_ERR_UNMAPPED.
 */
int s2_get_leaf(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t *raw, int *level,
		struct s2_pte *pte);

/*
 * Annotate [ia, ia + size) with owner id @owner (pKVM
 * host_stage2_set_owner): every entry in the range becomes an invalid
 * entry holding the owner id, valid leaves included (an unmap), with
 * blocks split and tables created as needed so the range is covered
 * exactly.  @owner 0 writes plain invalid entries.
 * Return: S2_OK, S2_ERR_INVAL, S2_ERR_ALIGN, S2_ERR_RANGE, S2_ERR_NOMEM,
 * S2_ERR_UNMAPPED.
 */
int s2_annotate(struct s2_pgt *p, struct sim_who *who, uint64_t ia, uint64_t size,
		uint8_t owner);

/* ------------------------------------------------------------------ */
/* Write sets: the table pages an operation would write                */
/* ------------------------------------------------------------------ */

/* The management operations s2_write_set() predicts. */
enum s2_wset_op {
	S2_WSET_MAP,        /* s2_map(who, ia, pa, size, leaf, prot) */
	S2_WSET_UNMAP,      /* s2_unmap(who, ia, size) */
	S2_WSET_PROTECT,    /* s2_protect(who, ia, size, perms) */
	S2_WSET_ANNOTATE,   /* s2_annotate(who, ia, size, owner) */
};

struct s2_wset {
	uint64_t *pages;       /* memory PAs (4K-aligned) of existing table pages the
				  operation writes, in the order of their first write,
				  each once */
	size_t n, cap;
	uint64_t new_tables;   /* table pages it would allocate (each zeroed, then written) */
};

/*
 * Find, before running it, every table page operation @op on
 * [ia, ia + size) of @p would write: the pages holding the entries its
 * visitor rewrites (leaves, table descriptors, the parent entry of a
 * table that unmap frees) and the number of table pages it allocates.
 * Entries are read untimed (sim_mem_peek64); table addresses go through
 * the owner's mm->table_pa as in the operation.  The owner checks each
 * page and each page its allocator would hand out (the RMP host-write
 * check) and refuses the whole operation before anything is written.
 * @pa, @leaf, @prot: as s2_map (MAP; PROTECT uses prot->perms; ignored
 * otherwise).  @ws starts zeroed (it may be reused); free it with
 * s2_wset_free().
 * Return: S2_OK; or the error the operation itself returns before
 * writing anything (its argument checks; S2_ERR_EXISTS for MAP over a
 * valid leaf); or S2_ERR_UNMAPPED / S2_ERR_SIZE, where the operation
 * stops part way as it would anyway: the set is then incomplete and the
 * caller leaves the outcome to the operation.
 */
int s2_write_set(struct s2_pgt *p, enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
		 uint64_t leaf, const struct s2_prot *prot, struct s2_wset *ws);
void s2_wset_free(struct s2_wset *ws);

/* ------------------------------------------------------------------ */
/* Hardware translation                                                */
/* ------------------------------------------------------------------ */

/*
 * A caller's permission policy for stage-1 leaves, for architectures
 * whose rules the format's own check (a user access needs a user page;
 * R, W, or X by privilege; on RISC-V a supervisor access to a user page
 * faults) does not express: x86 CR0.WP, CR4.SMEP and CR4.SMAP, RISC-V
 * SUM and MXR.
 *
 * perm_ok is called instead of the format's check on every stage-1 leaf
 * of the access (a walk's leaf, or a nested-TLB hit) with @leaf's
 * prot.perms and prot.user being the values ANDed over the walk (the
 * leaf's own on formats without table permissions) and @acc the access.
 * On a nested-TLB hit only type, addr, prot.perms, prot.user and prot.c
 * are filled.  Return true to allow; false is a stage-1 permission fault
 * (the format's fault code).  The format's other leaf checks (reserved
 * encodings, Sv accessed/dirty, x86 A/D updates) still apply.  Stage 2
 * always uses the format's check.
 */
struct s2_policy {
	bool (*perm_ok)(void *arg, const struct s2_pte *leaf, enum s2_access acc);
	void *arg;
};

/*
 * One access to translate.  @who is the requester: its table reads and
 * A/D writes are timed memory accesses by who->agent, ordered among
 * agents (sim_sync_id) before each walk, and their memory cycles are
 * added to who->mem_cycles, as every timed call does (NULL: no agent,
 * -1, not reported).  The result reports the same cycles of this
 * translation alone in out->mem_cycles, inside its whole latency
 * out->cycles: a caller charges out->cycles, or out->cycles -
 * out->mem_cycles with who->mem_cycles, never both.
 */
struct s2_req {
	enum s2_access acc;
	bool user;               /* user-mode access (x86 U/S, RISC-V U, EPT MBEC user-exec) */
	bool c;                  /* stage-2-only access of an SNP VM: the C-bit (2D: from stage 1) */
	uint8_t vmpl;            /* VMPL of the access (passed to the check hook) */
	struct sim_who *who;     /* the requester (agent, memory-cycle accumulator); NULL: none */
	enum sim_mem_src src;    /* source of table reads: SIM_SRC_PTW (CPU) or SIM_SRC_IOPT */
	const struct s2_policy *policy;   /* NULL: the format's permission rules */
};

/* What the check hook is asked about (an SNP RMP check). */
struct s2_check {
	uint64_t spa;            /* system physical address (page-aligned for tables) */
	uint64_t gpa;            /* the guest physical address that maps to it */
	uint64_t size;           /* size of the stage-2 leaf mapping it (4K/2M/1G) */
	enum s2_access acc;      /* the access (guest table reads: S2_ACC_READ) */
	bool c;                  /* effective C-bit (1 for guest table reads and fetches) */
	bool table;              /* a guest page-table read */
	bool user;
	uint8_t vmpl;
	int agent;               /* the requester's agent id (req->who; -1: none) */
};

/*
 * Called for every final SPA and every guest page-table SPA of an
 * access.  Return 0 to allow, anything else to refuse (the translation
 * fails with S2_FAULT_CHECK and fault.check_rc = that value).  Add the
 * check's own cost to *@cycles (out->check_cycles: part of out->cycles,
 * never of the requester's who->mem_cycles, since the hook times its own
 * memory accesses, e.g. an RMP check at the agent's current clock).
 */
struct s2_check_hook {
	int (*check)(void *arg, const struct s2_check *chk, uint64_t *cycles);
	void *arg;
};

/* The events of one translation that cost time (see s2_latency). */
struct s2_events {
	uint16_t tlb_probe[3];   /* probes of TLB level 1..3 */
	uint16_t ntlb_probe;     /* nested (combined GVA->SPA) TLB probes */
	uint16_t pwc_probe;      /* page-walk-cache probes (s1 + s2) */
	uint16_t walks;          /* table walks started (each stage-2 walk of a 2D walk counts) */
	uint16_t ad_updates;     /* hardware A/D flag writes */
	uint16_t checks;         /* check-hook calls */
};

/* The result of a translation. */
struct s2_xlate {
	uint64_t pa;             /* output: SPA (or the stage's output address) */
	uint64_t ipa;            /* 2D: the guest physical address */
	uint64_t size;           /* page size used (2D: the smaller of the two leaves) */
	uint8_t perms;           /* effective permissions (both stages for 2D) */
	uint8_t s1_perms;        /* 2D: stage-1 permissions */
	bool user;               /* 2D: stage-1 leaf is user-accessible */
	bool c;                  /* C-bit used for the final check */
	bool tlb_hit;            /* served by a TLB without walking */
	uint32_t refs;           /* table-entry memory references (24 for a cold 4x4 2D walk) */
	uint64_t mem_cycles;     /* memory cycles of those references and A/D writes (also
				    added to req->who->mem_cycles when the translation ends) */
	uint64_t check_cycles;   /* cycles added by the check hook */
	struct s2_events ev;     /* probes and walks, for s2_latency() */
	uint64_t cycles;         /* total latency, mem_cycles included (s2_latency) */
	uint64_t raw;            /* the final stage's leaf descriptor (walks only) */
	struct s2_fault fault;   /* type S2_FAULT_NONE on success */
};

/*
 * Latency profile values (lat.s2.*), cycles.  s2_timing_from_sim() reads
 * them from the configuration.
 */
struct s2_timing {
	uint32_t tlb_hit[3];     /* probe cost of TLB level 1..3 */
	uint32_t ntlb_hit;       /* nested-TLB probe */
	uint32_t pwc_hit;        /* page-walk-cache probe */
	uint32_t walk;           /* fixed cost of starting a table walk (walker setup) */
	uint32_t tlbi_ipa;       /* TLBI by IPA (one address, one VM) */
	uint32_t tlbi_vm;        /* TLBI of one VM (VMALLS12E1 / INVEPT single-context) */
	uint32_t tlbi_all;       /* TLBI of everything (ALLE1 / INVEPT global) */
};

/* Cycles of translation @x under @t: probes + walks + memory + checks. */
uint64_t s2_latency(const struct s2_timing *t, const struct s2_xlate *x);

/*
 * Translate @ia through @p alone: no TLB, no walk cache, no check hook
 * (IOMMU tables, a CPU's guest stage 1 attached at its root, tests).
 * Table reads are timed memory reads by req->who with source req->src,
 * each entry reached through p's mm->table_pa if it has one.
 * Fills @out (out->cycles = memory cycles only; add your own probe
 * costs); out->mem_cycles and out->refs are kept up to date during the
 * walk, so a table_pa hook may read how far the walk got (who->mem_cycles
 * gets the walk's cycles when it ends).
 * Return: S2_FAULT_NONE or the fault type (details in out->fault).
 */
int s2_translate(const struct s2_pgt *p, uint64_t ia, const struct s2_req *req,
		 struct s2_xlate *out);

/* ------------------------------------------------------------------ */
/* MMU: TLBs, walk caches, 2D translation                              */
/* ------------------------------------------------------------------ */

#define S2_TLB_MAX_LEVELS 3

struct s2_geom {
	unsigned sets;           /* power of two */
	unsigned ways;           /* 0 = absent */
};

/* Geometry of one MMU (s2_mmu_cfg_from_sim reads the s2.* keys). */
struct s2_mmu_cfg {
	unsigned tlb_levels;                   /* 1..S2_TLB_MAX_LEVELS */
	struct s2_geom tlb[S2_TLB_MAX_LEVELS]; /* stage-2 (IPA->PA) TLB levels */
	struct s2_geom ntlb;                   /* nested TLB: combined GVA->SPA */
	struct s2_geom pwc_s1;                 /* stage-1 walk cache (guest table entries) */
	struct s2_geom pwc_s2;                 /* stage-2 walk cache (nested table entries) */
	bool cache_check;                      /* TLB entries cache the check-hook result */
};

/* Counters of translations; one struct may be shared by several MMUs. */
struct s2_stats {
	uint64_t walks;                        /* table walks (each stage walk counted) */
	uint64_t xlates;                       /* stage-2 translations requested */
	uint64_t xlates_2d;                    /* 2D translations requested */
	struct sim_hist walk_refs;             /* references per translation that walked */
	uint64_t tlb_hit[S2_TLB_MAX_LEVELS];
	uint64_t tlb_miss[S2_TLB_MAX_LEVELS];
	uint64_t ntlb_hit, ntlb_miss;
	uint64_t pwc_s1_hit, pwc_s1_miss;
	uint64_t pwc_s2_hit, pwc_s2_miss;
	uint64_t tlbi_all, tlbi_vm, tlbi_ipa;  /* invalidation operations */
	uint64_t tlbi_entries;                 /* entries dropped by them */
	uint64_t check_flush;                  /* entries dropped by s2_mmu_check_flush */
	uint64_t faults[S2_FAULT_TYPE_COUNT];  /* by type (index 0 unused) */
	uint64_t faults_s1;                    /* of which stage-1 faults */
	uint64_t ad_updates;                   /* hardware A/D writes */
	uint64_t checks, checks_cached;        /* hook calls; hits on a cached result */
};

/*
 * Register @st under "<prefix>.walks", "<prefix>.walk_refs",
 * "<prefix>.tlb.l1.hit", ... "<prefix>.ntlb.hit", "<prefix>.pwc.s1.hit",
 * "<prefix>.tlbi.vm", "<prefix>.faults.translation" ... (see docs/stage2.md).
 */
void s2_stats_register(struct sim *s, const char *prefix, struct s2_stats *st,
		       unsigned tlb_levels);

/* Read the s2.* geometry keys and lat.s2.* latency keys. */
void s2_mmu_cfg_from_sim(const struct sim *s, struct s2_mmu_cfg *cfg);
void s2_timing_from_sim(const struct sim *s, struct s2_timing *t);

/*
 * One translation context: the tables of one VM and its tag.  @s1 may
 * be NULL (stage-2-only), @s2 may be NULL (stage-1-only, e.g. bare-metal
 * Sv39: table addresses are then physical).  @hook may be NULL.
 */
struct s2_space {
	uint32_t vmid;                         /* TLB tag (VMID / ASID / domain) */
	struct s2_pgt *s2;
	struct s2_pgt *s1;
	const struct s2_check_hook *hook;
};

struct s2_mmu;

/*
 * Create an MMU (its TLBs and walk caches).  @t and @st are kept (not
 * copied) and may be shared by many MMUs; @st may be NULL.
 * Return: NULL if a geometry is out of range.
 */
struct s2_mmu *s2_mmu_new(const struct s2_mmu_cfg *cfg, const struct s2_timing *t,
			  struct s2_stats *st);
void s2_mmu_free(struct s2_mmu *m);

/*
 * Stage-2-only translation of @ipa for @sp through the TLB (levels in
 * order), walking on a miss with the stage-2 walk cache, then the check
 * hook on the final SPA (req->c is the C-bit).  Fills @out including
 * out->cycles.  Return: S2_FAULT_NONE or the fault type.
 */
int s2_mmu_translate(struct s2_mmu *m, const struct s2_space *sp, uint64_t ipa,
		     const struct s2_req *req, struct s2_xlate *out);

/*
 * Full nested translation of guest virtual @va: nested TLB, else a
 * stage-1 walk (stage-1 walk cache) whose every table address is
 * stage-2 translated (TLB, stage-2 walk cache, walk) and checked with
 * the hook (table=1, c=1), then stage 2 of the final GPA and the hook on
 * the final SPA (c from the stage-1 leaf).  @m may be NULL (no caches).
 * Return: S2_FAULT_NONE or the fault type (fault.stage says which).
 */
int s2_mmu_translate_2d(struct s2_mmu *m, const struct s2_space *sp, uint64_t va,
			const struct s2_req *req, struct s2_xlate *out);

/* Cache-less nested translation (s2_mmu_translate_2d with no MMU). */
int s2_translate_2d(const struct s2_space *sp, uint64_t va, const struct s2_req *req,
		    struct s2_xlate *out);

/*
 * Invalidation (stale entries stay until one of these).  Each returns its
 * cost in cycles from the timing profile.
 *   all: every entry of every VM in every structure.
 *   vm:  every entry tagged @vmid (TLB, nested TLB, both walk caches).
 *   ipa: stage-2 TLB entries of @vmid covering @ipa, stage-2 walk-cache
 *        entries on its path, and nested-TLB entries whose final GPA lies
 *        in the same 4K page (see docs/stage2.md for this choice).
 */
uint32_t s2_mmu_tlbi_all(struct s2_mmu *m);
uint32_t s2_mmu_tlbi_vm(struct s2_mmu *m, uint32_t vmid);
uint32_t s2_mmu_tlbi_ipa(struct s2_mmu *m, uint32_t vmid, uint64_t ipa);

/*
 * Drop every stage-2 TLB, stage-2 walk-cache and nested-TLB entry of
 * @vmid whose input (IPA) range overlaps [ipa, ipa + size): what
 * break-before-make invalidates for a block.  Counted as one tlbi_ipa.
 * Return: cycles (tlbi_ipa).
 */
uint32_t s2_mmu_tlbi_range(struct s2_mmu *m, uint32_t vmid, uint64_t ipa, uint64_t size);

/*
 * Drop cached check results (cache_check) for entries whose output
 * covers [spa, spa + size): what an RMPUPDATE does when configured to
 * flush them.  Return: entries dropped.
 */
unsigned s2_mmu_check_flush(struct s2_mmu *m, uint64_t spa, uint64_t size);

/* Valid entries in the TLB levels / nested TLB / walk caches (tests). */
unsigned s2_mmu_occupancy(const struct s2_mmu *m, unsigned *tlb, unsigned *ntlb,
			  unsigned *pwc);

/* ------------------------------------------------------------------ */
/* The machine model (s2_module)                                       */
/* ------------------------------------------------------------------ */

extern const struct sim_module s2_module;

/*
 * The machine's stage-2 hardware, the s2 module's model: one MMU per agent
 * (its TLBs, nested TLB and walk caches, created on first use), shared
 * statistics and timing, and the RMP change hook that flushes cached
 * check results.  VMs and their tables belong to the host software that
 * builds them (sim/stack), which uses these MMUs to translate.
 */
struct s2_ctx;

/* The model attached to @s (sim_get_model(&s2_module)), or NULL. */
struct s2_ctx *s2_ctx_get(const struct sim *s);

/* The MMU of agent @agent (created on first use). NULL if @agent < 0 or out of range. */
struct s2_mmu *s2_ctx_mmu(struct s2_ctx *c, int agent);

/* Shared stats and timing of the machine. */
struct s2_stats *s2_ctx_stats(struct s2_ctx *c);
const struct s2_timing *s2_ctx_timing(const struct s2_ctx *c);

/*
 * A broadcast TLB invalidation (TLBI ...IS + DSB; INVEPT / INVLPGA on
 * every CPU): every MMU of the machine drops the entries.  Scope: all
 * VMs, VM @vmid, or VM @vmid's entries for @ipa.  Return: the cost of one
 * invalidation (the issuer pays once).
 */
enum s2_tlbi_scope { S2_TLBI_ALL, S2_TLBI_VM, S2_TLBI_IPA };
uint32_t s2_ctx_tlbi(struct s2_ctx *c, enum s2_tlbi_scope scope, uint32_t vmid, uint64_t ipa);
/* Break-before-make of a block: VM @vmid's entries for [ia, ia + bytes) in every MMU. */
void s2_ctx_tlbi_range(struct s2_ctx *c, uint32_t vmid, uint64_t ia, uint64_t bytes);

/* The VM numbers of the operation language (`vm=`): 0..S2_MAX_VMS-1, also the TLB tags. */
#define S2_MAX_VMS 64

/*
 * Drop cached check results for [spa, spa + size) in every MMU the s2
 * module owns if s2.rmpupdate_flush is on.  The module calls it from its
 * RMP change hook (rmp_add_change_hook(), registered at attach) after
 * every successful RMPUPDATE and PSMASH, unless rmp.update_flush_tlb has
 * the instruction flush every TLB instead.  Return: entries dropped.
 */
unsigned s2_rmp_flush(struct sim *s, uint64_t spa, uint64_t size);

/*
 * The path of @ia through table @p as memory holds it (untimed, no caches,
 * no check): each descriptor read, then the outcome a walk would reach.
 */
#define S2_PATH_MAX 6
enum s2_path_outcome {
	S2_PATH_OK,            /* a leaf: pa, size, perms, sw */
	S2_PATH_TRANSLATION,   /* no valid leaf (owner: an annotated invalid entry's id) */
	S2_PATH_ACCESS,        /* a leaf whose access flag is clear (arm64 AF) */
};
struct s2_path_step {
	int level;             /* the architecture's level number */
	uint64_t addr;         /* where the descriptor is */
	uint64_t desc;         /* its raw value */
};
struct s2_path {
	unsigned n;                               /* steps */
	struct s2_path_step step[S2_PATH_MAX];
	enum s2_path_outcome outcome;
	int level;                                /* level of the last step (or the root's) */
	uint64_t pa, size;                        /* OK */
	uint8_t perms, sw;                        /* OK */
	uint8_t owner;                            /* TRANSLATION */
};
int s2_pgt_path(const struct s2_pgt *p, uint64_t ia, struct s2_path *out);

#endif /* PROTSIM_S2_H */
