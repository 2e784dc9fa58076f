/*
 * protsim/snp.h - the SNP guest kernel library (workloads/guest/lib/snp*.c,
 * mem.c, pgtable.c, virtio.c) and the ABI it speaks with protsim's KVM SNP
 * host and VMM: the boot-parameters page, the GHCB MSR protocol, the GHCB
 * page and its NAE page-state-change event, the hypercalls and the
 * virtio-like block device.  docs/guest-abi.md, "SNP guest kernel ABI",
 * is the prose version; docs/guest-kernel.md describes the library.
 *
 * Plain C11 with no RV64 dependency: the unit tests compile the library on
 * the host (tests/test_guest_lib.c) against a mock hypervisor.  The
 * instructions are reached through lib/snp_arch.h.
 */
#ifndef PROTSIM_SNP_H
#define PROTSIM_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNP_PAGE_SIZE   4096ull
#define SNP_2M          (2ull << 20)
#define SNP_PAGES_2M    512u

/* ------------------------------------------------------------------ */
/* Boot parameters (one 4K page at the GPA in a1 at entry)             */
/* ------------------------------------------------------------------ */

#define SNP_BOOT_MAGIC      0x544f4f424d495350ull   /* "PSIMBOOT" little-endian */
#define SNP_BOOT_VERSION    1u
#define SNP_BOOT_MAX_RANGES 64u
#define SNP_BOOT_CMDLINE    512u

enum snp_range_type {
	SNP_RANGE_RAM = 1,          /* usable, already accepted (validated) */
	SNP_RANGE_UNACCEPTED = 2,   /* private, must be accepted before use */
	SNP_RANGE_RESERVED = 3,     /* the image, the boot page: never allocated */
	SNP_RANGE_DEVICE = 4,       /* the virtio-like device: size 0, flags = queue size */
};

struct snp_boot_range {
	uint64_t gpa;       /* DEVICE: the disk's capacity in 512-byte sectors (0: unknown) */
	uint64_t size;      /* bytes; DEVICE: 0 */
	uint32_t type;      /* enum snp_range_type */
	uint32_t flags;     /* DEVICE: number of descriptors (power of two, 1..256); else 0 */
};

struct snp_boot_params {
	uint64_t magic;
	uint32_t version;
	uint32_t nr_ranges;
	char cmdline[SNP_BOOT_CMDLINE];
	struct snp_boot_range ranges[SNP_BOOT_MAX_RANGES];
};
/* 16 + 512 + 64 * 24 = 2064 bytes: inside the page. */

/* ------------------------------------------------------------------ */
/* GHCB MSR protocol (value in a0 of VMGEXIT; CSR ghcb)                 */
/* ------------------------------------------------------------------ */

#define GHCB_MSR_INFO_MASK      0xfffull
#define GHCB_MSR_SEV_INFO_RESP  0x001ull
#define GHCB_MSR_SEV_INFO_REQ   0x002ull
#define GHCB_MSR_REG_GPA_REQ    0x012ull
#define GHCB_MSR_REG_GPA_RESP   0x013ull
#define GHCB_MSR_PSC_REQ        0x014ull
#define GHCB_MSR_PSC_RESP       0x015ull
#define GHCB_MSR_HV_FT_REQ      0x080ull
#define GHCB_MSR_HV_FT_RESP     0x081ull
#define GHCB_MSR_TERM_REQ       0x100ull

/* SEV_INFO response: max version 63:48, min version 47:32, C-bit 31:24 */
#define GHCB_MSR_PROTO_MAX(v)   (((v) >> 48) & 0xffff)
#define GHCB_MSR_PROTO_MIN(v)   (((v) >> 32) & 0xffff)
#define GHCB_MSR_CBIT_POS(v)    (((v) >> 24) & 0xff)
#define GHCB_PROTOCOL_MIN       1u
#define GHCB_PROTOCOL_MAX       2u
#define GHCB_SNP_PROTOCOL_MIN   2u      /* SNP needs version 2 */
/* HV features response: the bitmap in 63:12 */
#define GHCB_HV_FT_SNP          (1ull << 0)
#define GHCB_HV_FT_SNP_AP       (1ull << 1)
/* page-state change: GFN 51:12, operation 55:52; response error 63:32 */
#define SNP_PSC_OP_PRIVATE      1u
#define SNP_PSC_OP_SHARED       2u
#define SNP_PSC_OP_PSMASH       3u
#define SNP_PSC_OP_UNSMASH      4u
#define GHCB_MSR_PSC_REQ_GFN(gfn, op) \
	((((uint64_t)(op) & 0xf) << 52) | (((uint64_t)(gfn) & 0xffffffffffull) << 12) | GHCB_MSR_PSC_REQ)
#define GHCB_MSR_PSC_RESP_ERR(v) ((v) >> 32)
/* terminate: reason set 15:12, reason code 23:16 */
#define GHCB_MSR_TERM(set, code) \
	((((uint64_t)(code) & 0xff) << 16) | (((uint64_t)(set) & 0xf) << 12) | GHCB_MSR_TERM_REQ)

/* ------------------------------------------------------------------ */
/* Termination reasons                                                 */
/* ------------------------------------------------------------------ */

/* Set 0 (general, GHCB specification) */
#define SNP_TERM_SET_GEN            0u
#define SNP_TERM_GEN_REQ            0u      /* general request */
#define SNP_TERM_PROT_UNSUPPORTED   1u      /* no common GHCB protocol version (or a bad C-bit) */
#define SNP_TERM_SNP_UNSUPPORTED    2u      /* the hypervisor lacks the SNP feature */
/* Set 1 (Linux's codes 0..2; protsim's from 0x20) */
#define SNP_TERM_SET_LINUX          1u
#define SNP_TERM_REGISTER           0u      /* GHCB GPA registration refused */
#define SNP_TERM_PSC                1u      /* page-state change failed (every §4.5 check) */
#define SNP_TERM_PVALIDATE          2u      /* PVALIDATE failed (or CF=1: no update) */
#define SNP_TERM_BP_MAGIC           0x20u   /* boot parameters: bad magic */
#define SNP_TERM_BP_VERSION         0x21u   /* boot parameters: unknown version */
#define SNP_TERM_BP_COUNT           0x22u   /* boot parameters: nr_ranges > 64 */
#define SNP_TERM_BP_CMDLINE         0x23u   /* boot parameters: command line not NUL-terminated */
#define SNP_TERM_BP_TYPE            0x24u   /* boot parameters: unknown range type */
#define SNP_TERM_BP_ALIGN           0x25u   /* a range misaligned, empty or wrapping; the page too */
#define SNP_TERM_BP_OVERLAP         0x26u   /* two ranges overlap */
#define SNP_TERM_BP_DEVICE          0x27u   /* a DEVICE range with size != 0 or a bad queue size */
#define SNP_TERM_BP_RESERVED        0x28u   /* the image or the boot page inside RAM/UNACCEPTED */
#define SNP_TERM_BP_CMDKEY          0x29u   /* an unknown command-line key or a bad value */
#define SNP_TERM_BP_NOMEM           0x2au   /* no usable memory, or memory the library cannot map */
#define SNP_TERM_VC_NOT_VALIDATED   0x30u   /* #VC 0x404: access to a page not validated */
#define SNP_TERM_VC_OTHER           0x31u   /* #VC with an error code the handler does not handle */
#define SNP_TERM_OOM                0x32u   /* the page allocator is exhausted */

/* Which check stopped the guest (for reports and tests; the terminate code is above). */
enum snp_fail {
	SNP_FAIL_NONE = 0,
	SNP_FAIL_PSC_MSR_RESP,       /* MSR PSC: response code not 0x015 */
	SNP_FAIL_PSC_MSR_ERROR,      /* MSR PSC: error field non-zero */
	SNP_FAIL_PSC_VMM_ERROR,      /* NAE PSC: sw_exit_info_1 non-zero */
	SNP_FAIL_PSC_EXITINFO2,      /* NAE PSC: sw_exit_info_2 non-zero */
	SNP_FAIL_PSC_RESERVED,       /* NAE PSC: header reserved field set */
	SNP_FAIL_PSC_BACKWARDS,      /* NAE PSC: cur_entry went backwards */
	SNP_FAIL_PSC_END_CHANGED,    /* NAE PSC: end_entry changed */
	SNP_FAIL_PSC_NO_PROGRESS,    /* NAE PSC: returns with nothing processed, again and again */
	SNP_FAIL_PSC_UNPROCESSED,    /* NAE PSC: done, but an entry's cur_page is short */
	SNP_FAIL_PVALIDATE,          /* PVALIDATE returned an error */
	SNP_FAIL_PVALIDATE_NOUPDATE, /* PVALIDATE set CF (the Validated bit already had the value) */
	SNP_FAIL_REGISTER,           /* GHCB GPA registration: wrong response */
	SNP_FAIL_PROTOCOL,           /* SEV_INFO: no usable protocol version */
	SNP_FAIL_FEATURES,           /* HV features: no SNP */
	SNP_FAIL_BOOT_PARAMS,        /* boot parameters refused (code says which check) */
	SNP_FAIL_VC,                 /* #VC */
	SNP_FAIL_OOM,                /* allocator exhausted */
};
const char *snp_fail_name(enum snp_fail f);

/* ------------------------------------------------------------------ */
/* GHCB page (AMD 56421) and the NAE PSC descriptor                    */
/* ------------------------------------------------------------------ */

#define GHCB_OFF_SW_EXIT_CODE   0x390u
#define GHCB_OFF_SW_EXIT_INFO1  0x398u
#define GHCB_OFF_SW_EXIT_INFO2  0x3a0u
#define GHCB_OFF_SW_SCRATCH     0x3a8u
#define GHCB_OFF_VALID_BITMAP   0x3f0u   /* 16 bytes: bit n = the qword at 8n is valid */
#define GHCB_OFF_SHARED_BUF     0x800u
#define GHCB_SHARED_BUF_SIZE    2032u
#define GHCB_OFF_PROTO_VERSION  0xffau   /* u16 */
#define GHCB_OFF_USAGE          0xffcu   /* u32: 0 = standard */

#define SVM_VMGEXIT_PSC         0x80000010ull

#define SNP_PSC_MAX_COUNT       253u     /* what fits in the shared buffer (hypervisor limit) */
#define SNP_PSC_MAX_ENTRY       64u      /* Linux's batch: entries per request */

/* entry: cur_page 11:0, gfn 51:12, operation 55:52, pagesize 56 (1 = 2M), reserved 63:57 */
#define SNP_PSC_ENTRY(gfn, op, big) \
	((((uint64_t)(gfn) & 0xffffffffffull) << 12) | (((uint64_t)(op) & 0xf) << 52) | \
	 ((uint64_t)((big) ? 1 : 0) << 56))
#define SNP_PSC_E_CUR_PAGE(e)   ((unsigned)((e) & 0xfff))
#define SNP_PSC_E_GFN(e)        (((e) >> 12) & 0xffffffffffull)
#define SNP_PSC_E_OP(e)         ((unsigned)(((e) >> 52) & 0xf))
#define SNP_PSC_E_2M(e)         ((unsigned)(((e) >> 56) & 1))

struct snp_psc_hdr {
	uint16_t cur_entry;
	uint16_t end_entry;   /* inclusive */
	uint32_t reserved;
};

struct snp_psc_desc {
	struct snp_psc_hdr hdr;
	uint64_t entries[SNP_PSC_MAX_ENTRY];
};

/* ------------------------------------------------------------------ */
/* Hypercalls (HYPERCALL: a0 = nr, a1..a4 = arguments -> a0)            */
/* ------------------------------------------------------------------ */

#define KVM_HC_MAP_GPA_RANGE            12ul
#define KVM_MAP_GPA_RANGE_ENCRYPTED     (1ul << 4)   /* private; 0 = shared */
#define KVM_MAP_GPA_RANGE_PAGE_SZ_4K    0ul
#define KVM_MAP_GPA_RANGE_PAGE_SZ_2M    1ul
#define PROTSIM_HC_VIRTIO_SETUP         0x100ul
#define PROTSIM_HC_VIRTIO_NOTIFY        0x101ul

/* ------------------------------------------------------------------ */
/* The virtio-like block device (split virtqueue, GPAs in descriptors) */
/* ------------------------------------------------------------------ */

#define VQ_DESC_F_NEXT    1u
#define VQ_DESC_F_WRITE   2u     /* the device writes this buffer */
#define VQ_MAX_SIZE       256u

struct vq_desc {
	uint64_t addr;    /* guest physical address */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vq_used_elem {
	uint32_t id;      /* head descriptor of the chain */
	uint32_t len;     /* bytes the device wrote */
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[];
};

#define VBLK_T_IN         0u     /* read */
#define VBLK_T_OUT        1u     /* write */
#define VBLK_S_OK         0u
#define VBLK_S_IOERR      1u
#define VBLK_S_UNSUPP     2u
#define VBLK_SECTOR       512u

struct vblk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* ------------------------------------------------------------------ */
/* The library                                                          */
/* ------------------------------------------------------------------ */

enum snp_accept_mode { SNP_ACCEPT_EAGER, SNP_ACCEPT_LAZY };
enum snp_psc_mode { SNP_PSC_MSR, SNP_PSC_GHCB };

struct snp_range {
	uint64_t gpa, size;
	uint32_t type, flags;
};

#define SNP_MAX_HARTS       8u
#define SNP_UNIT            SNP_2M              /* lazy acceptance unit */
#define SNP_BITMAP_UNITS    (64u * 1024u * 8u)  /* 1 TiB of unaccepted span in 2M units */

struct snp_stats {
	uint64_t vmgexits;          /* VMGEXIT instructions */
	uint64_t hypercalls;        /* HYPERCALL instructions */
	uint64_t psc_requests;      /* PSC VMGEXITs (MSR: one per page; NAE: one per call) */
	uint64_t psc_batches;       /* descriptors built (NAE) or batches sent page by page (MSR) */
	uint64_t psc_entries_4k, psc_entries_2m;
	uint64_t psc_pages;         /* 4K pages whose state was asked to change */
	uint64_t pvalidate_4k, pvalidate_2m, pvalidate_fallbacks;
	uint64_t pages_accepted;    /* 4K pages accepted (PSC private + PVALIDATE) */
	uint64_t lazy_units;        /* 2M units accepted on first allocation */
	uint64_t pages_shared;      /* 4K pages made shared (set_memory_decrypted) */
	uint64_t pages_private;     /* 4K pages made private again (set_memory_encrypted) */
	uint64_t pages_allocated;
	uint64_t pt_splits;         /* page-table leaves split to change a C-bit */
};

struct snp_state {
	/* configuration (command line or the program) */
	enum snp_accept_mode accept;
	enum snp_psc_mode psc;
	bool prefer_2m;
	/* boot */
	uint64_t boot_gpa;          /* 0: no boot parameters */
	bool snp;                   /* SEV_STATUS says SNP: the SNP calls are made */
	unsigned ghcb_version;
	uint64_t hv_features;
	uint64_t ghcb_gpa[SNP_MAX_HARTS];
	unsigned cbit_pos;          /* the C-bit position SEV_INFO reported (51) */
	bool cbit_pte;              /* cbit=pte: shared pages through PTEs, else the address alias */
	bool paging;                /* Sv39 identity map with the C-bit in PTE bit 8 */
	uint64_t pt_root;
	/* memory map (sorted by gpa) */
	unsigned nr_ranges;
	struct snp_range ranges[SNP_BOOT_MAX_RANGES];
	char cmdline[SNP_BOOT_CMDLINE];
	/* allocator: per range cursor (bump), RAM and UNACCEPTED ranges only */
	uint64_t cursor[SNP_BOOT_MAX_RANGES];
	/* lazy acceptance: bit set = the 2M unit at bm_base + i * 2M is unaccepted */
	uint64_t bm_base;
	uint64_t bm_units;
	/* last failure (set before terminating) */
	enum snp_fail fail;
	unsigned term_set, term_code;
	struct snp_stats st;
};

extern struct snp_state snp;
extern uint64_t snp_unaccepted_bitmap[SNP_BITMAP_UNITS / 64];

/* the library's console output (printf on the guest) */
void snp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A pointer for accessing the shared page at @gpa: the C-bit alias
 * gpa | 1 << cbit_pos (translation off, the default) or, with the C-bit
 * map (cbit=pte), the identity address whose PTE has the C-bit clear.
 */
void *snp_shared_ptr(uint64_t gpa);

/* Reset the library state (the defaults: eager, ghcb, 2M preferred, C-bit alias). */
void snp_reset(void);
/* Stop the guest: GHCB MSR terminate request; never returns. */
__attribute__((noreturn)) void snp_terminate(unsigned set, unsigned code, enum snp_fail why);

/*
 * Boot: read and check the boot-parameters page at @gpa (0: none: then
 * [@ram_start, @ram_end) is the memory and no SNP call is made), exclude
 * [@img_start, @img_end) (the image: RESERVED ranges must cover it), parse
 * the command line into snp (accept=, psc=, page=) and leave the other
 * keys for the program (snp_cmdline_get).  Terminates on a bad page.
 */
void snp_boot_params(uint64_t gpa, uint64_t img_start, uint64_t img_end, uint64_t ram_start,
		     uint64_t ram_end);
/* Value of key @key on the command line (word "key=value"), copied to @buf; false if absent. */
bool snp_cmdline_get(const char *key, char *buf, size_t len);
/* Terminate (BP_CMDKEY) on a command-line word whose key is not in @known (NULL-terminated). */
void snp_cmdline_check(const char *const *known);
/* "4096", "64k", "2m", "1g": bytes; false on a bad number. */
bool snp_parse_size(const char *s, uint64_t *out);

/*
 * SNP start-up on the boot hart: negotiate the GHCB protocol (SEV_INFO),
 * check the hypervisor features, turn on paging (C-bit in the PTEs), set
 * up and register this hart's GHCB, then accept memory (eager: all of it;
 * lazy: the pieces that do not fill a 2M unit, the bitmap for the rest).
 * Does nothing but the memory map when not SNP or without boot parameters.
 */
void snp_init(unsigned hart);
void snp_negotiate(void);
void snp_ghcb_setup(unsigned hart);

/* Page-state change of [gpa, gpa + npages * 4K) in Linux's order (batches of 64 entries). */
void snp_set_pages_state(uint64_t gpa, uint64_t npages, unsigned op);
void snp_set_memory_decrypted(uint64_t gpa, uint64_t npages);   /* to shared */
void snp_set_memory_encrypted(uint64_t gpa, uint64_t npages);   /* to private */
/* Accept [start, end) (4K-aligned): PSC private then PVALIDATE, counted as accepted. */
void snp_accept_range(uint64_t start, uint64_t end);
/* Accept what the bitmap says is unaccepted in [start, end). */
void snp_accept_memory(uint64_t start, uint64_t end);
bool snp_range_unaccepted(uint64_t start, uint64_t end);

/* Page allocator over the memory map (bump per range; lazy acceptance on first use). */
uint64_t snp_alloc_pages(uint64_t npages);     /* GPA; terminates when exhausted */
uint64_t snp_free_bytes(void);                 /* still allocatable */

/* Bounce buffers: shared pages for I/O. */
uint64_t snp_bounce_alloc(void);               /* one shared 4K page (GPA) */
void snp_bounce_free(uint64_t gpa);

/* KVM_HC_MAP_GPA_RANGE (a non-SNP sw_protected guest's conversion request). */
long snp_map_gpa_range(uint64_t gpa, uint64_t npages, bool private_);
long snp_hypercall(unsigned long nr, unsigned long a, unsigned long b, unsigned long c,
		   unsigned long d);

/* #VC: decode (a name) and the handler policy (report, then terminate). */
const char *snp_vc_name(unsigned long code);
__attribute__((noreturn)) void snp_vc_fatal(unsigned long code, uint64_t gva, uint64_t pc);
void snp_install_vc_handler(void);             /* RV64 only: routes trap cause 24 */

/* Paging: an Sv39 identity map of the memory map, C-bit (PTE bit 8) on. */
void snp_paging_init(void);
/* Set the C-bit of [gpa, gpa + npages * 4K) (splitting leaves as needed). */
void snp_pt_set_cbit(uint64_t gpa, uint64_t npages, bool enc);
/* The leaf PTE mapping @gpa and its size (4K, 2M or 1G); 0 if unmapped. */
uint64_t snp_pt_lookup(uint64_t gpa, uint64_t *size);
#define SNP_PTE_V   (1ull << 0)
#define SNP_PTE_R   (1ull << 1)
#define SNP_PTE_W   (1ull << 2)
#define SNP_PTE_X   (1ull << 3)
#define SNP_PTE_U   (1ull << 4)
#define SNP_PTE_A   (1ull << 6)
#define SNP_PTE_D   (1ull << 7)
#define SNP_PTE_C   (1ull << 8)   /* protsim: the SNP C-bit (vm.cbit_pte=1) */

/* ---- the virtio-like block driver ---- */

struct vq {
	unsigned size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	volatile struct vq_desc *desc;
	volatile struct vq_avail *avail;
	volatile struct vq_used *used;
	uint16_t free_head;
	unsigned nfree;
	uint16_t last_used;
	uint64_t capacity;           /* sectors, 0 = unknown */
	uint64_t kicks, completions;
};

struct vblk_req {
	uint64_t hdr_gpa;            /* bounce page: header at 0, status byte at 16 */
	uint64_t data_gpa;           /* bounce page(s) for the data */
	uint32_t len;                /* data bytes */
	uint16_t head;
	bool inflight;               /* on the ring, not completed yet */
	bool done;
	uint8_t status;
	uint32_t used_len;
};

/* Find the DEVICE range; false if none. */
bool vq_device(unsigned *qsize, uint64_t *capacity);
/* Allocate the ring pages (shared), announce them (PROTSIM_HC_VIRTIO_SETUP); rc 0 or -errno. */
long vq_setup(struct vq *q, unsigned qsize, uint64_t capacity);
/* Build the 3-descriptor chain of @r and put it on the avail ring; -1 if no room. */
int vq_add(struct vq *q, struct vblk_req *r, unsigned type, uint64_t sector);
long vq_kick(struct vq *q);
/*
 * Collect completions: each used entry whose id is the head of an in-flight
 * request of @reqs marks it done (status, length) and frees its chain; an
 * entry naming no in-flight request is consumed and ignored.  Returns the
 * number of used entries consumed.
 */
unsigned vq_reap(struct vq *q, struct vblk_req *reqs, unsigned nreqs);

#endif /* PROTSIM_SNP_H */
