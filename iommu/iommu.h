/*
 * iommu.h - the IOMMU: the whole public interface of iommu/.
 *
 * Models an AMD-style IOMMU with SNP support and a pKVM-style "DMA through
 * the owner's stage 2" mode:
 *
 *   device table  one entry per device id: mode (snp / stage2 /
 *                 passthrough), domain, the table that translates it.
 *   IO tables     snp mode: a per-device IO page table in simulated memory,
 *                 built with the stage2/ generic walker in the AMD v1
 *                 layout (S2_FMT_AMDV1: PR, NextLevel, IR/IW), its pages
 *                 taken from the IOMMU's pool region.
 *                 stage2 mode: the owning VM's (or the host's) stage-2
 *                 table, shared with the CPU side.
 *   IOTLB         one `struct tlb` (stage2/tlb.h), tagged by device id,
 *                 entries of the leaf's own size; stale entries stay until
 *                 iommu_inval_*().
 *   RMP check     with SNP on, in every mode: every 4K system page a DMA
 *                 writes goes through rmp_check_dma() (it must be
 *                 hypervisor-owned; reads only with rmp.iommu_check_reads),
 *                 at access time, never cached.  The driver's own stores
 *                 into IO table pages are host writes (rmp_check_host).
 *   event log     a ring of 16-byte entries in simulated memory in the AMD
 *                 layout (IO_PAGE_FAULT 0x2, RMP_PAGE_FAULT 0xD).
 *
 * Functional results are separate from timing: every operation returns
 * its result and reports the cycles it costs (profile values plus the
 * memory cycles of the accesses it made); the caller advances its clock.
 * See docs/iommu.md.
 */
#ifndef PROTSIM_IOMMU_H
#define PROTSIM_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

struct iommu;
struct rmp;
struct rmp_fault;
struct s2_pgt;

/* The module: keys iommu.* and lat.iommu.*, the IOMMU script operations. */
extern const struct sim_module iommu_module;

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

#define IOMMU_MAX_DEVICES   65536u    /* 16-bit PCI requester id */
#define IOMMU_LOG_ENTRY     16u       /* bytes per event-log entry */
#define IOMMU_LOG_MIN       2u        /* smallest ring (AMD's smallest is 256) */
#define IOMMU_LOG_MAX       32768u    /* largest ring (AMD EventLen 1111b) */
#define IOMMU_IO_LEVELS     4u        /* levels of an snp-mode IO page table */

/* Event codes (dword 1 bits [31:28]). */
#define IOMMU_EVT_IO_PAGE_FAULT   0x2u
#define IOMMU_EVT_RMP_PAGE_FAULT  0xDu

/* IO_PAGE_FAULT flags (dword 1 bits [27:16]). */
#define IOMMU_EVF_GN  0x001u   /* guest (PASID) address */
#define IOMMU_EVF_NX  0x002u   /* execute request */
#define IOMMU_EVF_US  0x004u   /* user request */
#define IOMMU_EVF_I   0x008u   /* interrupt request */
#define IOMMU_EVF_PR  0x010u   /* a present translation was found */
#define IOMMU_EVF_RW  0x020u   /* write access (Linux EVENT_FLAG_RW) */
#define IOMMU_EVF_PE  0x040u   /* permission error */
#define IOMMU_EVF_RZ  0x080u   /* reserved bit set in a table entry */
#define IOMMU_EVF_TR  0x100u   /* translation (ATS) request, not a transaction */

/* RMP_PAGE_FAULT flags_rmp (dword 0 bits [23:16]); [model] see docs/iommu.md. */
#define IOMMU_EVR_ASSIGNED 0x01u  /* the page's RMP entry is assigned */
#define IOMMU_EVR_LOCKED   0x02u  /* the entry was locked (a spurious fault) */

/* ------------------------------------------------------------------ */
/* Result codes                                                        */
/* ------------------------------------------------------------------ */

/* Management results.  ORDER: iommu_rc_name() in iommu.c. */
enum iommu_rc {
	IOMMU_OK = 0,
	IOMMU_ERR_NODEV,      /* device id >= iommu.devices */
	IOMMU_ERR_ATTACHED,   /* attach: the device is already attached */
	IOMMU_ERR_DETACHED,   /* the device is not attached */
	IOMMU_ERR_MODE,       /* map/unmap on a device whose mode has no IO table */
	IOMMU_ERR_NOVM,       /* stage2 mode: no such VM / no table given */
	IOMMU_ERR_EXISTS,     /* map: part of the range is already mapped */
	IOMMU_ERR_NOMEM,      /* the IO table pool is exhausted */
	IOMMU_ERR_ALIGN,      /* address or size not 4K aligned */
	IOMMU_ERR_RANGE,      /* beyond the IO table's input or output range */
	IOMMU_ERR_PERMS,      /* permissions the IO table format cannot encode */
	IOMMU_ERR_INVAL,      /* a bad argument (size 0, ...) */
	IOMMU_ERR_RMP,        /* a host store into an IO table page the RMP refuses
				 (the page is assigned): nothing was written;
				 iommu_host_fault() has the #PF */
	IOMMU_RC_COUNT
};

/* Lower-case name used in script results: "ok", "nodev", "exists", ... */
const char *iommu_rc_name(int rc);

/* Why a DMA was stopped.  ORDER: iommu_cause_name(). */
enum iommu_cause {
	IOMMU_CAUSE_NONE = 0,
	IOMMU_CAUSE_TRANSLATION,  /* no translation (not attached, unmapped, beyond RAM) */
	IOMMU_CAUSE_PERMISSION,   /* the translation does not allow the access */
	IOMMU_CAUSE_RMP,          /* the RMP check refused the system page */
	IOMMU_CAUSE_COUNT
};

/* "OK", "TRANSLATION", "PERMISSION", "RMP". */
const char *iommu_cause_name(enum iommu_cause c);

/* ------------------------------------------------------------------ */
/* Configuration and creation                                          */
/* ------------------------------------------------------------------ */

/* Latencies in cycles (lat.iommu.* keys). */
struct iommu_lat {
	uint32_t request;      /* fixed cost of one DMA request through the IOMMU */
	uint32_t iotlb_hit;    /* one IOTLB probe (per page of a DMA) */
	uint32_t walk;         /* starting an IO table walk (memory reads extra) */
	uint32_t rmp_check;    /* fixed part of one RMP check (entry read extra) */
	uint32_t line;         /* moving one 64-byte line of DMA data (link) */
	uint32_t fault;        /* aborting a transaction and raising the event */
	uint32_t inval_page;   /* INVALIDATE_IOMMU_PAGES (one page) + COMPLETION_WAIT */
	uint32_t inval_dev;    /* invalidating one device's entries + COMPLETION_WAIT */
	uint32_t inval_all;    /* INVALIDATE_IOMMU_ALL + COMPLETION_WAIT */
	uint32_t map;          /* driver cost of one map/unmap call (table memory extra) */
	uint32_t attach;       /* DTE write + INVALIDATE_DEVTAB_ENTRY + COMPLETION_WAIT */
};

struct iommu_config {
	uint32_t devices;      /* device ids 0 .. devices-1 */
	unsigned iotlb_sets;   /* power of two */
	unsigned iotlb_ways;   /* 0 = no IOTLB */
	uint64_t pool_base;    /* IO table pages: [pool_base, pool_base + pool_size) */
	uint64_t pool_size;
	uint64_t log_base;     /* event log ring, 4K aligned */
	uint32_t log_entries;  /* ring slots, power of two; holds log_entries - 1 */
	struct iommu_lat lat;
};

/*
 * Defaults for standalone use: 256 devices, 32x4 IOTLB, pool at 8 MiB
 * (2 MiB), log of 256 entries at 10 MiB, generic-profile latencies.
 */
void iommu_config_default(struct iommu_config *cfg);

/*
 * Create an IOMMU on memory @m (the module's attach does the same from the
 * configuration).  Zeroes the log ring.
 * Return: the model, or NULL with @err = "iommu.<key>: ..." naming the key.
 */
struct iommu *iommu_new(struct sim_mem *m, const struct iommu_config *cfg, struct sim_err *err);
void iommu_free(struct iommu *io);

const struct iommu_config *iommu_config(const struct iommu *io);

/*
 * Use @rmp for the snp-mode RMP checks (NULL or SNP off: none).  Also
 * marks the event-log pages firmware-owned in the RMP (assigned, ASID 0,
 * immutable), as SNP_INIT does, where the RMP covers them.
 */
void iommu_set_rmp(struct iommu *io, struct rmp *rmp);

/*
 * Where the `iommu attach vm=N mode=stage2` operation finds VM N's nested
 * table: @fn(@arg, N), NULL when there is no such VM.  The host software
 * that keeps the VMs installs it; without it no VM is found.
 */
typedef struct s2_pgt *(*iommu_vm_table_fn)(void *arg, unsigned vm);
void iommu_set_vm_tables(struct iommu *io, iommu_vm_table_fn fn, void *arg);

/*
 * The modes iommu_attach accepts, a bit (1u << mode) each; all by default.
 * The software that owns the IOMMU narrows them: under pKVM the hypervisor
 * programs the device table, and the host's devices only get stage2 on its
 * tables (no passthrough, no table of the host's own).
 */
void iommu_set_modes(struct iommu *io, unsigned mask);

/*
 * Where the driver takes IO table pages: the host's page allocator.
 * @alloc returns a 4K page (S2_NO_PAGE when none is left) that must not
 * be RMP-assigned (the allocator guarantees it; the driver's zeroing
 * store is still RMP-checked and a violation is a programming error);
 * @free gives one back.  Without a source (a standalone IOMMU) the pages
 * come from the pool [pool_base, pool_base + pool_size), whose next
 * pages are RMP-checked before an operation that would take them.
 */
struct iommu_page_source {
	uint64_t (*alloc)(void *arg);
	void (*free)(void *arg, uint64_t pa);
	void *arg;
};
void iommu_set_page_source(struct iommu *io, const struct iommu_page_source *src);
/*
 * The host software goes away: every IO table the IOMMU built is freed
 * (its pages given back to the source) and its device left detached;
 * the page source is forgotten.  Untimed, uncounted (machine teardown).
 */
void iommu_drop_tables(struct iommu *io);

/* ------------------------------------------------------------------ */
/* Device table and IO tables (the host driver's requests)            */
/* ------------------------------------------------------------------ */

enum iommu_mode {
	IOMMU_MODE_SNP = 0,        /* own IO page table, then the RMP check */
	IOMMU_MODE_STAGE2,         /* the owner's stage-2 table (pKVM style) */
	IOMMU_MODE_PASSTHROUGH,    /* identity; with SNP on writes are still RMP-checked */
	IOMMU_MODE_COUNT
};

/* "snp", "stage2", "passthrough". */
const char *iommu_mode_name(enum iommu_mode m);

/* Who asks and when (agent id for memory timing, clock for RMP locks). */

/*
 * Attach device @dev: not attached => attached in @mode.  snp: a new empty
 * IO page table from the pool.  stage2: translate through @s2 (the owning
 * VM's or the host's stage-2 table, which the caller keeps alive while
 * attached).  @vm is recorded as the owner (-1: host).
 * *@cycles (may be NULL) gets the cost (lat.iommu.attach + table memory).
 * Return: IOMMU_OK, IOMMU_ERR_NODEV, IOMMU_ERR_ATTACHED, IOMMU_ERR_NOVM
 * (stage2 without @s2), IOMMU_ERR_INVAL (bad mode), IOMMU_ERR_MODE (a mode
 * iommu_set_modes leaves out), IOMMU_ERR_NOMEM, IOMMU_ERR_RMP (snp: the
 * root page the pool would hand out is assigned).
 */
int iommu_attach(struct iommu *io, const struct sim_who *who, uint32_t dev,
		 enum iommu_mode mode, int vm, struct s2_pgt *s2, uint64_t *cycles);

/*
 * Detach @dev: attached => not attached.  Frees an snp-mode IO table and
 * invalidates the device's IOTLB entries (as the driver does).
 * Return: IOMMU_OK, IOMMU_ERR_NODEV, IOMMU_ERR_DETACHED.
 */
int iommu_detach(struct iommu *io, const struct sim_who *who, uint32_t dev, uint64_t *cycles);

/*
 * The host-write fault of the last call that returned IOMMU_ERR_RMP
 * (#PF(W,RMP), addr = the refused table page's SPA) into *@f.
 * Return: false if no call has been refused yet.
 */
bool iommu_host_fault(const struct iommu *io, struct rmp_fault *f);

/* Device state: false if @dev is out of range or not attached. */
bool iommu_dev_info(const struct iommu *io, uint32_t dev, enum iommu_mode *mode, int *vm,
		    struct s2_pgt **table);

/*
 * Map [iova, iova + size) to [pa, pa + size) in @dev's IO page table with
 * @perms (S2_PERM_R and/or S2_PERM_W: write-only is encodable in AMD v1;
 * no access at all is refused, as Linux's map does), using the largest
 * leaves alignment allows.  Does not touch the IOTLB.
 * The driver's stores into the IO table are host data writes: with SNP
 * on, every table page the map would write (and every pool page it would
 * take for a new table) is RMP-checked (rmp_check_host) before the first
 * store; an assigned page refuses the whole map.
 * Return: IOMMU_OK, IOMMU_ERR_NODEV, IOMMU_ERR_DETACHED, IOMMU_ERR_MODE (not
 * snp mode), IOMMU_ERR_EXISTS, IOMMU_ERR_ALIGN, IOMMU_ERR_RANGE,
 * IOMMU_ERR_PERMS, IOMMU_ERR_INVAL, IOMMU_ERR_NOMEM (may leave part mapped),
 * IOMMU_ERR_RMP (nothing written).
 */
int iommu_map(struct iommu *io, const struct sim_who *who, uint32_t dev, uint64_t iova,
	      uint64_t pa, uint64_t size, uint8_t perms, uint64_t *cycles);

/*
 * Unmap [iova, iova + size) of @dev's IO table.  The IOTLB is NOT
 * invalidated: a cached translation stays usable until iommu_inval_*().
 * Its table stores are RMP-checked first, as iommu_map()'s.
 * Return: IOMMU_OK, IOMMU_ERR_NODEV, IOMMU_ERR_DETACHED, IOMMU_ERR_MODE,
 * IOMMU_ERR_ALIGN, IOMMU_ERR_RANGE, IOMMU_ERR_INVAL, IOMMU_ERR_NOMEM,
 * IOMMU_ERR_RMP (nothing written).
 */
int iommu_unmap(struct iommu *io, const struct sim_who *who, uint32_t dev, uint64_t iova,
		uint64_t size, uint64_t *cycles);

/*
 * IOTLB invalidation (each returns the entries dropped; *@cycles its cost):
 *   dev:   every entry of device @dev;
 *   range: @dev's entries overlapping [iova, iova + size) (a 2M entry
 *          that overlaps goes entirely);
 *   all:   everything.
 * @dev out of range drops nothing.
 */
unsigned iommu_inval_dev(struct iommu *io, uint32_t dev, uint64_t *cycles);
unsigned iommu_inval_range(struct iommu *io, uint32_t dev, uint64_t iova, uint64_t size,
			   uint64_t *cycles);
unsigned iommu_inval_all(struct iommu *io, uint64_t *cycles);

/* Valid IOTLB entries (tests). */
unsigned iommu_iotlb_occupancy(const struct iommu *io);

/* ------------------------------------------------------------------ */
/* DMA                                                                 */
/* ------------------------------------------------------------------ */

struct iommu_dma_res {
	enum iommu_cause cause;   /* also the return value */
	uint64_t pa;              /* SPA of the first byte (if its page translated) */
	uint32_t done;            /* bytes transferred before the fault (len on success) */
	uint32_t pages;           /* pages (4K chunks) the request was split into */
	uint64_t fault_iova;      /* fault: device address where the faulting page starts */
	uint64_t fault_pa;        /* RMP fault: the refused system address */
	bool logged;              /* fault: an event entry was written (false: overflow) */
	uint32_t iotlb_hits;      /* chunks translated by the IOTLB */
	uint32_t walks;           /* table walks */
	uint32_t refs;            /* table-entry memory references of those walks */
	uint64_t cycles;          /* the whole request's latency */
};

/*
 * DMA of @len bytes by device @dev at device address @iova: a write takes
 * its data from @buf (NULL: zeroes), a read stores into @buf (NULL:
 * discarded).  The request is split at 4K boundaries and processed in
 * order; per page: translate (IOTLB, else walk and fill), check the
 * permission, in snp mode the RMP check of the system page, then move the
 * bytes.  At the first page that faults the request stops: the pages
 * before it have landed (writes) or been read, nothing of the faulting
 * page or later ones is transferred (a read's buffer gets 0xff there), one
 * event is logged.  @who->now is the start cycle (RMP locks).
 * Return: IOMMU_CAUSE_NONE or the cause (details in @res).
 */
enum iommu_cause iommu_dma(struct iommu *io, const struct sim_who *who, uint32_t dev,
			   uint64_t iova, bool write, void *buf, uint32_t len,
			   struct iommu_dma_res *res);

/*
 * A DMA engine as an engine agent with its own clock: it runs @descs in
 * order, each starting at max(its clock, .at), advancing its clock by each
 * request's latency; results go into .res.  @descs must stay valid until
 * the agent has run.  Return: the agent (SIM_AGENT_DMA).
 */
struct iommu_dma_desc {
	uint64_t at;              /* earliest start cycle */
	uint32_t dev;
	uint64_t iova;
	uint32_t len;
	bool write;
	void *buf;                /* as iommu_dma() */
	struct iommu_dma_res res; /* filled by the agent */
	uint64_t start;           /* filled: the cycle the request started */
};
struct sim_agent *iommu_dma_agent_new(struct iommu *io, struct sim *s, const char *name,
				      struct iommu_dma_desc *descs, size_t n);

/* ------------------------------------------------------------------ */
/* Event log                                                           */
/* ------------------------------------------------------------------ */

/* One entry, decoded (raw = the 16 bytes as four little-endian dwords). */
struct iommu_event {
	uint32_t raw[4];
	uint8_t type;          /* IOMMU_EVT_* */
	uint16_t devid;
	uint16_t domain;       /* IO_PAGE_FAULT: domain id; RMP_PAGE_FAULT: vmg_tag */
	uint16_t flags;        /* IOMMU_EVF_* */
	uint8_t flags_rmp;     /* RMP_PAGE_FAULT: IOMMU_EVR_* */
	uint64_t addr;         /* device address (IOVA / GPA) */
	enum iommu_cause cause;  /* derived: RMP, PERMISSION (PE set) or TRANSLATION */
};

/* Decode 16 raw bytes (little-endian) of an entry. */
void iommu_event_decode(const uint8_t raw[IOMMU_LOG_ENTRY], struct iommu_event *ev);

/* Format @ev as one line: "IO_PAGE_FAULT(TRANSLATION) dev=1 domain=1 ..." */
int iommu_event_format(const struct iommu_event *ev, char *buf, size_t len);

/* Ring state: pending entries (tail - head), head/tail slot indexes. */
unsigned iommu_log_pending(const struct iommu *io);
unsigned iommu_log_head(const struct iommu *io);
unsigned iommu_log_tail(const struct iommu *io);
uint64_t iommu_log_base(const struct iommu *io);
/* Logging stopped because the ring was full (until drained). */
bool iommu_log_overflowed(const struct iommu *io);

/* The @i-th pending entry (0 = oldest), read untimed.  false if none. */
bool iommu_log_peek(const struct iommu *io, unsigned i, struct iommu_event *ev);

/*
 * The host driver consumes up to @n entries (advances the head) and, if
 * logging had stopped on overflow, restarts it.  Return: entries consumed.
 */
unsigned iommu_log_consume(struct iommu *io, unsigned n);

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

struct iommu_counters {
	uint64_t dma_reads;        /* read requests */
	uint64_t dma_writes;       /* write requests */
	uint64_t dma_bytes;        /* bytes transferred */
	uint64_t dma_dropped;      /* bytes not transferred because of a fault */
	uint64_t iotlb_hit;        /* page translations served by the IOTLB */
	uint64_t iotlb_miss;       /* page translations that walked */
	uint64_t walks;            /* IO table walks */
	uint64_t walk_refs;        /* table-entry reads of those walks */
	uint64_t rmp_checks;       /* RMP checks made */
	uint64_t faults[IOMMU_CAUSE_COUNT];  /* by cause (index 0 unused) */
	uint64_t log_entries;      /* entries written */
	uint64_t log_overflows;    /* times the ring filled and logging stopped */
	uint64_t log_dropped;      /* events not written: the one that found the ring
				      full and every later one until restarted */
	uint64_t inval_page;       /* range invalidations */
	uint64_t inval_dev;        /* device invalidations */
	uint64_t inval_all;        /* global invalidations */
	uint64_t inval_entries;    /* IOTLB entries dropped by them */
	uint64_t attach, detach;   /* device-table changes */
	uint64_t map, unmap;       /* IO table requests that succeeded */
};
const struct iommu_counters *iommu_counters(const struct iommu *io);

/* Register the counters as iommu.* statistics of @s (the module's attach does). */
void iommu_register_stats(struct iommu *io, struct sim *s);

#endif /* PROTSIM_IOMMU_H */
