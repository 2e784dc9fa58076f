/*
 * pkvm_mem.h - pKVM's page-ownership model at EL2: the host stage 2, the
 * hypervisor's stage 1 and page pool, the guests' stage 2, and the
 * per-page ownership state machine kept in the software bits of their
 * entries (Linux arch/arm64/kvm/hyp/nvhe/mem_protect.c, pgtable.c,
 * hyp-main.c, pkvm.c; the Android common kernel for guest relinquish and
 * DMA refcounts).  Private to sim/stack.  Reference: docs/pkvm.md.
 *
 * Conventions:
 *  - Functions return 0 or the negative errno the hypervisor returns for
 *    the same input (-EPERM, -EBUSY, -EINVAL, -ENOMEM, -EFAULT, -ENOENT,
 *    -E2BIG, -ENOSPC).  Host hypercalls cost cfg.hvc_cycles each, refused
 *    or not; hypervisor-internal paths (pins, hyp_donate_host) cost only
 *    their table work.  Every transition is checked first (no side effects) and
 *    then committed; a commit that fails is a model bug (sim_fatal).
 *  - Timed functions name who performs them (struct sim_who): the table
 *    walks and writes of the stage-2 library are timed memory accesses by
 *    who->agent whose cycles are added to who->mem_cycles; the software
 *    cost of the call (stack_pkvm_cfg) and of its TLB invalidations is
 *    added to *@cycles.  The caller charges both.  @cycles may be NULL.
 *  - Addresses: a host physical address is also the host's IPA (the host
 *    stage 2 is an identity map); PFN = PA >> 12; the hypervisor sees
 *    host page PA at hyp VA PA + cfg.hyp_va_offset.
 */
#ifndef PROTSIM_STACK_PKVM_MEM_H
#define PROTSIM_STACK_PKVM_MEM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

struct s2_ctx;
struct s2_pgt;
struct stack_pkvm;

/*
 * Page states, as encoded in SW bits [56:55] of a valid stage-2 (or hyp
 * stage-1) leaf: struct s2_prot.sw bits [1:0].  NOPAGE is a meta-state:
 * never stored in a valid entry.  See 'enum pkvm_page_state' in
 * nvhe/mem_protect.h.
 */
enum stack_pkvm_state {
	STACK_PKVM_OWNED = 0,            /* owned exclusively, mapped */
	STACK_PKVM_SHARED_OWNED = 1,     /* owned, shared with another component */
	STACK_PKVM_SHARED_BORROWED = 2,  /* mapped, owned by another component */
	STACK_PKVM_NOPAGE = 3,           /* not mapped / not owned by this component */
	STACK_PKVM_STATES
};
/* "owned", "shared_owned", "shared_borrowed", "nopage" (the script's STATE words) */
extern const char *const stack_pkvm_state_names[STACK_PKVM_STATES];

/*
 * Owner ids in invalid host stage-2 entries (bits [9:2]).  HOST = 0 and
 * HYP = 1 everywhere; GUEST = 2 as in the kernels that list the guest as
 * a component (numbering beyond HYP varies by version: docs/pkvm.md).
 */
enum stack_pkvm_owner {
	STACK_PKVM_ID_HOST = 0,
	STACK_PKVM_ID_HYP = 1,
	STACK_PKVM_ID_GUEST = 2,
};

/* Software cost of the hypervisor's paths, in cycles (docs/pkvm.md, "Timing"). */
struct stack_pkvm_cfg {
	uint64_t mem_base;        /* host memory: the one memblock region [base, base + size), */
	uint64_t mem_size;        /*   4K aligned; every other address is MMIO (not modelled) */
	uint64_t pool_base;       /* the hyp pool (4K aligned, inside host memory): */
	uint64_t pool_pages;      /*   pages owned by the hypervisor from init; table pages of the
				     host stage 2 and the hyp stage 1 come from it */
	unsigned host_levels;     /* host stage-2 levels: 3 (39-bit IPA) or 4 (48-bit) */
	uint32_t host_vmid;       /* TLB tag of the host stage 2 */
	uint32_t guest_vmid_base; /* guest VM i is tagged guest_vmid_base + i */
	uint64_t hyp_va_offset;   /* hyp VA of host PA p: p + offset (4K aligned) */
	uint64_t hvc_cycles;      /* a host hypercall: entry, dispatch, locks, return */
	uint64_t guest_hvc_cycles;/* a guest hypercall handled at EL2 */
	uint64_t abort_cycles;    /* a host stage-2 abort taken to EL2 (decode, lookup, eret) */
	uint64_t inject_cycles;   /* injecting an abort into the host (ESR/FAR/ELR/SPSR) */
	bool guest_range;         /* HYP_MEMINFO reports HAS_RANGE; MEM_SHARE/UNSHARE take R2 */
};

/*
 * The defaults: 4 levels, host VMID 0xFFFF, guests from 0x1000, hyp VA
 * offset 2^46, hvc 500, guest_hvc 500, abort 500, inject 200 cycles,
 * guest_range on.  Memory ranges are left zero (the caller's).
 */
void stack_pkvm_cfg_default(struct stack_pkvm_cfg *cfg);

/* stack.pkvm.* (names in docs/pkvm.md) */
struct stack_pkvm_stats {
	uint64_t hvc;              /* host hypercalls (every kind) */
	uint64_t hvc_err;          /* of those, refused (a negative return) */
	uint64_t share_hyp;        /* host_share_hyp that succeeded */
	uint64_t unshare_hyp;      /* host_unshare_hyp that succeeded */
	uint64_t donate_hyp;       /* pages donated host -> hyp */
	uint64_t hyp_donate_host;  /* pages donated hyp -> host */
	uint64_t share_guest;      /* pages shared host -> non-protected guest */
	uint64_t unshare_guest;    /* pages unshared from a non-protected guest */
	uint64_t donate_guest;     /* pages donated host -> protected guest */
	uint64_t pins;             /* hyp_pin_shared_mem pages pinned */
	uint64_t unpins;           /* pages unpinned */
	uint64_t dma_use;          /* host DMA mappings taken (use_dma pages) */
	uint64_t dma_unuse;        /* host DMA mappings dropped */
	uint64_t guest_hvc;        /* guest hypercalls handled at EL2 */
	uint64_t guest_exits;      /* guest hypercalls forwarded to the host */
	uint64_t guest_share;      /* pages a guest shared with the host (MEM_SHARE) */
	uint64_t guest_unshare;    /* pages a guest took back (MEM_UNSHARE) */
	uint64_t guest_relinquish; /* pages a guest relinquished (MEM_RELINQUISH) */
	uint64_t host_aborts;      /* host stage-2 aborts taken to EL2 */
	uint64_t idmap_4k;         /* lazy host idmaps at 4K */
	uint64_t idmap_2m;         /* ... at 2M */
	uint64_t idmap_1g;         /* ... at 1G */
	uint64_t injected;         /* aborts injected into the host (page not owned) */
	uint64_t tlbi_host;        /* TLBI IPAS2E1IS on the host VMID */
	uint64_t tlbi_guest;       /* TLBI IPAS2E1IS on a guest VMID */
	uint64_t tlbi_hyp;         /* TLBI VALE2IS (hyp stage 1) */
	uint64_t tlbi_vm;          /* TLBI VMALLS12E1IS (a whole guest, at teardown) */
	uint64_t bbm;              /* valid entries replaced by break-before-make */
	uint64_t poisoned;         /* guest pages zeroed on their way back to the host */
	uint64_t iommu_unmap;      /* pages taken out of the host's IOMMU identity map */
	uint64_t iommu_map;        /* pages put back into it */
	uint64_t vms;              /* VMs created */
	uint64_t teardowns;        /* VMs torn down */
	uint64_t reclaimed;        /* pages reclaimed from dead VMs */
};

/*
 * The IOMMU side (optional): the hypervisor keeps the host's DMA view an
 * identity map of exactly the pages the host owns or shares (Android's
 * kvm_iommu_host_stage2_idmap).  @unmap is called before a page leaves
 * the host, @map after one comes back, with the range and the operation's
 * who/cycles; either may be NULL.  Without it the model keeps the map in
 * its per-page metadata only (stack_pkvm_dma_allowed).
 */
struct stack_pkvm_iommu_ops {
	void (*unmap)(void *arg, struct sim_who *who, uint64_t pa, uint64_t size, uint64_t *cycles);
	void (*map)(void *arg, struct sim_who *who, uint64_t pa, uint64_t size, uint64_t *cycles);
	void *arg;
};

/*
 * Build the hypervisor over memory @mem: the hyp pool is carved out of
 * host memory (host stage-2 entries annotated HYP, hyp stage-1 maps them
 * OWNED), the host stage 2 starts empty (everything host-owned, mapped on
 * first fault).  @s2 (may be NULL: no TLBs) gives the MMUs whose TLBs the
 * hypervisor invalidates and host/guest accesses use; @s (may be NULL)
 * registers stack.pkvm.*.  Set-up work is timed by @who.
 * Return: the model, or NULL with @err (ranges misaligned, pool outside
 * memory or too small, bad levels).
 */
struct stack_pkvm *stack_pkvm_new(struct sim *s, struct sim_mem *mem, struct s2_ctx *s2,
				  const struct stack_pkvm_cfg *cfg, struct sim_who *who,
				  struct sim_err *err);
/* Free everything (no hypervisor work: the machine is going away); NULL is fine. */
void stack_pkvm_free(struct stack_pkvm *pk);

const struct stack_pkvm_stats *stack_pkvm_stats(const struct stack_pkvm *pk);
const struct stack_pkvm_cfg *stack_pkvm_cfg(const struct stack_pkvm *pk);
void stack_pkvm_set_iommu_ops(struct stack_pkvm *pk, const struct stack_pkvm_iommu_ops *ops);
struct s2_pgt *stack_pkvm_host_pgt(struct stack_pkvm *pk);
/* Hyp pool pages free now (table pages left for the host stage 2 and hyp stage 1). */
uint64_t stack_pkvm_pool_free(const struct stack_pkvm *pk);

/* ------------------------------------------------------------------ */
/* Host hypercalls (hyp-main.c handle___pkvm_*)                        */
/* ------------------------------------------------------------------ */

/*
 * __pkvm_host_share_hyp: host OWNED => SHARED_OWNED, hyp NOPAGE =>
 * SHARED_BORROWED (mapped RW at the hyp VA).  -EINVAL: @pfn not host
 * memory; -EPERM: a state differs.
 */
int stack_pkvm_host_share_hyp(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			      uint64_t *cycles);
/*
 * __pkvm_host_unshare_hyp: host SHARED_OWNED => OWNED, hyp
 * SHARED_BORROWED => NOPAGE.  -EINVAL; -EPERM; -EBUSY: pinned by the hyp.
 */
int stack_pkvm_host_unshare_hyp(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				uint64_t *cycles);
/*
 * __pkvm_host_donate_hyp of @n pages from @pfn: host OWNED => NOPAGE
 * (owner HYP), hyp NOPAGE => OWNED.  -EINVAL (range, n = 0); -EPERM;
 * -EBUSY: a page is DMA-mapped or pinned; -ENOMEM: no pool pages left for
 * the tables.
 */
int stack_pkvm_host_donate_hyp(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			       uint64_t n, uint64_t *cycles);
/*
 * __pkvm_hyp_donate_host (hypervisor-internal, e.g. at teardown): hyp
 * OWNED => NOPAGE, host NOPAGE (owner HYP) => OWNED (mapped again on its
 * next fault).  -EINVAL; -EPERM; -EBUSY: a page is in the hyp's own use
 * (pool, a live VM's metadata).
 */
int stack_pkvm_hyp_donate_host(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			       uint64_t n, uint64_t *cycles);
/*
 * hyp_pin_shared_mem / hyp_unpin_shared_mem over @n pages (hypervisor-
 * internal: the hyp pins what it reads on the host's behalf): pinning needs
 * host SHARED_OWNED and hyp SHARED_BORROWED for every page (-EPERM), then
 * counts a reference on each.  Unpin drops one (-EINVAL: not pinned: the
 * kernel's BUG_ON).  Both -EINVAL on a range outside memory.
 */
int stack_pkvm_hyp_pin(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn, uint64_t n,
		       uint64_t *cycles);
int stack_pkvm_hyp_unpin(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn, uint64_t n,
			 uint64_t *cycles);
/*
 * __pkvm_host_use_dma / __pkvm_host_unuse_dma (Android): the host maps
 * @n pages for DMA; each must be host OWNED, SHARED_OWNED or
 * SHARED_BORROWED (-EPERM).  Unuse -EINVAL when a page has no mapping.
 */
int stack_pkvm_host_use_dma(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			    uint64_t n, uint64_t *cycles);
int stack_pkvm_host_unuse_dma(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			      uint64_t n, uint64_t *cycles);

/* Guest stage-2 permissions for share_guest: S2_PERM_* bits (R, W, X only). */
/*
 * __pkvm_host_share_guest of @nr pages (1, or 512 for a 2M block: pfn and
 * gfn 2M aligned) with non-protected VM @handle: host OWNED (no pin or
 * DMA reference) => SHARED_OWNED, or SHARED_OWNED already shared with
 * guests (count + 1); guest NOPAGE => SHARED_BORROWED mapped with
 * @perms.  -EINVAL: unknown or protected VM, perms beyond RWX, nr not 1
 * or 512, misaligned, not memory; -EPERM: a state differs; -EBUSY: the
 * share count would overflow; -ENOMEM: the VM's memcache is short.
 */
int stack_pkvm_host_share_guest(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				uint64_t gfn, uint64_t nr, uint32_t handle, uint8_t perms,
				uint64_t *cycles);
/*
 * __pkvm_host_unshare_guest of the @nr pages at @gfn of non-protected VM
 * @handle: guest SHARED_BORROWED => NOPAGE (unmapped, TLB invalidated);
 * the host's share count - 1, at 0 SHARED_OWNED => OWNED.  -EINVAL:
 * unknown or protected VM, nr not 1 or 512; -ENOENT: nothing mapped;
 * -E2BIG: the mapping's size is not @nr pages; -EPERM: a state differs.
 */
int stack_pkvm_host_unshare_guest(struct stack_pkvm *pk, struct sim_who *who, uint64_t gfn,
				  uint64_t nr, uint32_t handle, uint64_t *cycles);
/*
 * __pkvm_host_donate_guest: @pfn to protected VM @handle at @gfn: host
 * OWNED => NOPAGE (owner GUEST; taken out of the IOMMU first), guest
 * NOPAGE => OWNED (RWX).  -EINVAL: unknown, dying or non-protected VM,
 * not memory; -EPERM: a state differs; -EBUSY: DMA-mapped or pinned;
 * -ENOMEM: memcache short.
 */
int stack_pkvm_host_donate_guest(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				 uint64_t gfn, uint32_t handle, uint64_t *cycles);

/*
 * The host calls by the names of the script's `pkvm` operations
 * (design/script-language.md, "pKVM"), one handler each, as hyp-main.c's
 * host_hcall[] table: what an interpreter dispatches through.  ORDER:
 * stack_pkvm_hcalls[] in pkvm_mem.c.
 */
enum stack_pkvm_hcall {
	STACK_PKVM_HC_SHARE_HYP,       /* host_share_hyp     pfn */
	STACK_PKVM_HC_UNSHARE_HYP,     /* host_unshare_hyp   pfn */
	STACK_PKVM_HC_DONATE_HYP,      /* host_donate_hyp    pfn [n] */
	STACK_PKVM_HC_PIN,             /* hyp_pin            pfn [n] */
	STACK_PKVM_HC_UNPIN,           /* hyp_unpin          pfn [n] */
	STACK_PKVM_HC_SHARE_GUEST,     /* host_share_guest   vm pfn gfn [perms] [n] */
	STACK_PKVM_HC_UNSHARE_GUEST,   /* host_unshare_guest vm gfn [n] */
	STACK_PKVM_HC_DONATE_GUEST,    /* host_donate_guest  vm pfn gfn */
	STACK_PKVM_HC_RECLAIM,         /* host_reclaim       pfn */
	STACK_PKVM_HC_COUNT
};

/* The arguments a call takes (struct stack_pkvm_hcall_desc.args). */
#define STACK_PKVM_ARG_PFN   (1u << 0)
#define STACK_PKVM_ARG_GFN   (1u << 1)
#define STACK_PKVM_ARG_VM    (1u << 2)
#define STACK_PKVM_ARG_N     (1u << 3)   /* optional, default 1 */
#define STACK_PKVM_ARG_PERMS (1u << 4)   /* optional, default rwx */

struct stack_pkvm_hcall_args {
	uint64_t pfn;
	uint64_t gfn;
	uint64_t n;                /* 0: 1 */
	uint32_t vm;               /* handle */
	uint8_t perms;             /* S2_PERM_*; 0 with !has_perms: R|W|X */
	bool has_perms;
};

struct stack_pkvm_hcall_desc {
	const char *name;          /* the script's operation name */
	unsigned args;             /* STACK_PKVM_ARG_* it reads */
};
extern const struct stack_pkvm_hcall_desc stack_pkvm_hcalls[STACK_PKVM_HC_COUNT];

/* The call named @name, or STACK_PKVM_HC_COUNT. */
enum stack_pkvm_hcall stack_pkvm_hcall_find(const char *name);
/* Run call @hc with @a: the return of the function it names. */
int stack_pkvm_hcall(struct stack_pkvm *pk, struct sim_who *who, enum stack_pkvm_hcall hc,
		     const struct stack_pkvm_hcall_args *a, uint64_t *cycles);

/* ------------------------------------------------------------------ */
/* VMs                                                                 */
/* ------------------------------------------------------------------ */

#define STACK_PKVM_MAX_VMS     64
#define STACK_PKVM_HANDLE_BASE 0x1000u   /* pKVM's HANDLE_OFFSET: VM i has handle base + i */

/*
 * __pkvm_init_vm: a VM (protected or not) whose metadata is @meta_pages
 * host pages from @meta_pfn, donated to the hypervisor: the VM struct,
 * the stage-2 root, and the rest as the VM's memcache of stage-2 table
 * pages.  *@handle: its handle.  -EINVAL: meta_pages < 2, range not
 * memory; -ENOSPC: no VM slot; the donation's errors.
 */
int stack_pkvm_vm_create(struct stack_pkvm *pk, struct sim_who *who, bool protected_vm,
			 uint64_t meta_pfn, uint64_t meta_pages, uint32_t *handle,
			 uint64_t *cycles);
/* Donate @n more pages to VM @handle's memcache (topup).  -EINVAL: unknown/dying VM. */
int stack_pkvm_vm_topup(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			uint64_t pfn, uint64_t n, uint64_t *cycles);
/*
 * __pkvm_teardown_vm: the VM stops being runnable (every later hypercall
 * naming it: -EINVAL), its host shares are undone (guest SHARED_BORROWED
 * => NOPAGE, host count - 1), its VMID is flushed (TLBI VMALLS12E1IS).
 * Its own pages (guest OWNED, or shared back to the host) wait for
 * stack_pkvm_host_reclaim_page.  -EINVAL: unknown or already dying.
 */
int stack_pkvm_vm_teardown(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			   uint64_t *cycles);
/*
 * __pkvm_host_reclaim_page: page @pfn of a dying VM back to the host:
 * guest OWNED => poisoned (zeroed), host NOPAGE => OWNED; guest
 * SHARED_OWNED => NOPAGE, host SHARED_BORROWED => OWNED.  -EPERM: the
 * page does not belong to a dying VM; -EINVAL: not memory.
 */
int stack_pkvm_host_reclaim_page(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				 uint64_t *cycles);
/*
 * __pkvm_finalize_teardown_vm: a dying VM with no page left to reclaim
 * is freed: its metadata pages (VM struct, stage-2 tables, memcache) are
 * cleared and donated back to the host.  -EINVAL: unknown or not dying;
 * -EBUSY: pages still to reclaim.
 */
int stack_pkvm_vm_finalize(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			   uint64_t *cycles);
/* Teardown, reclaim of every page in PFN order, finalize: 0 or the first error. */
int stack_pkvm_vm_destroy(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			  uint64_t *cycles);

bool stack_pkvm_vm_exists(const struct stack_pkvm *pk, uint32_t handle);
/* Pages of the VM still to reclaim (guest OWNED or SHARED_OWNED); 0 for unknown. */
uint64_t stack_pkvm_vm_pages(const struct stack_pkvm *pk, uint32_t handle);
/* Pages in the VM's memcache now. */
uint64_t stack_pkvm_vm_memcache(const struct stack_pkvm *pk, uint32_t handle);
struct s2_pgt *stack_pkvm_vm_pgt(struct stack_pkvm *pk, uint32_t handle);

/* ------------------------------------------------------------------ */
/* Guest hypercalls (SMCCC vendor hypervisor service, hypercalls.rst)  */
/* ------------------------------------------------------------------ */

#define STACK_PKVM_SMCCC_FEATURES        0x86000000u   /* ARM_SMCCC_VENDOR_HYP_KVM_FEATURES */
#define STACK_PKVM_SMCCC_HYP_MEMINFO     0xC6000002u
#define STACK_PKVM_SMCCC_MEM_SHARE       0xC6000003u
#define STACK_PKVM_SMCCC_MEM_UNSHARE     0xC6000004u
#define STACK_PKVM_SMCCC_MEM_RELINQUISH  0xC6000009u
/* ARM_SMCCC_KVM_FUNC_* bit numbers of the FEATURES bitmap */
#define STACK_PKVM_FUNC_FEATURES         0
#define STACK_PKVM_FUNC_HYP_MEMINFO      2
#define STACK_PKVM_FUNC_MEM_SHARE        3
#define STACK_PKVM_FUNC_MEM_UNSHARE      4
#define STACK_PKVM_FUNC_MEM_RELINQUISH   9
/* SMCCC return values (R0), as unsigned 64-bit register values */
#define STACK_PKVM_SMCCC_SUCCESS         0ull
#define STACK_PKVM_SMCCC_NOT_SUPPORTED   ((uint64_t)-1)
#define STACK_PKVM_SMCCC_INVALID_PARAM   ((uint64_t)-3)
#define STACK_PKVM_MEMINFO_HAS_RANGE     1ull          /* R1 bit 0 of HYP_MEMINFO */
#define STACK_PKVM_RANGE_MAX             512u          /* granules per ranged call */

/* What a guest hypercall came to. */
struct stack_pkvm_hvc_res {
	bool exit_to_host;   /* forwarded to the host (regs unchanged): a non-protected VM, an
				unknown function, or a MEM_SHARE whose first page is not mapped
				in the guest (-EFAULT at fault_ipa: the host faults it in, the
				guest retries) */
	uint64_t fault_ipa;  /* -EFAULT: the IPA to fault in */
	uint64_t pa;         /* MEM_RELINQUISH: the page given back (0: none was mapped) */
	int err;             /* the hypervisor's errno behind an INVALID_PARAMETER (0: none) */
};

/*
 * Guest hypercall: @regs[0] = function id, @regs[1..3] = arguments; on
 * return (unless forwarded) @regs[0..3] hold R0-R3 as the guest sees them.
 *   FEATURES: R0 = bitmap of the functions above.
 *   HYP_MEMINFO: R1-R3 must be 0; R0 = 4096, R1 = HAS_RANGE if guest_range.
 *   MEM_SHARE / MEM_UNSHARE: R1 = IPA (4K aligned), R2 = granules (with
 *     guest_range; else must be 0 and means 1), R3 = 0.  At most 512
 *     granules are done per call, stopping at the first that fails; R0 =
 *     SUCCESS and R1 = granules done, or INVALID_PARAMETER when the first
 *     fails (-EPERM a state, -EBUSY a DMA reference or pin on unshare,
 *     -EFAULT an unmapped page on unshare; an unmapped first page of a
 *     MEM_SHARE is forwarded instead, see exit_to_host).
 *   MEM_RELINQUISH: R1 = IPA, R2 = R3 = 0.  Nothing mapped: R0 = SUCCESS
 *     (a no-op); guest OWNED page: poisoned, unmapped, back to the host
 *     (R0 = SUCCESS); -EPERM (not OWNED), -EBUSY (DMA) => INVALID_PARAMETER.
 * Return: 0, or -EINVAL for an unknown or dying VM.
 */
int stack_pkvm_guest_hvc(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			 uint64_t regs[4], struct stack_pkvm_hvc_res *res, uint64_t *cycles);

/* ------------------------------------------------------------------ */
/* Accesses                                                            */
/* ------------------------------------------------------------------ */

/* Who in the host makes an access. */
enum stack_pkvm_by {
	STACK_PKVM_BY_KERNEL,    /* a plain kernel access */
	STACK_PKVM_BY_USER,      /* a user-space access */
	STACK_PKVM_BY_UACCESS,   /* a kernel accessor with an exception-table fix-up */
};

/* What a host access came to (after any abort handling at EL2 and in the host). */
enum stack_pkvm_access {
	STACK_PKVM_ACC_OK,       /* went through (possibly after a lazy map) */
	STACK_PKVM_ACC_OOPS,     /* injected abort on a kernel access: an oops */
	STACK_PKVM_ACC_SIGSEGV,  /* injected abort on a user access: SIGSEGV (SEGV_ACCERR) */
	STACK_PKVM_ACC_EFAULT,   /* injected abort fixed up: the accessor returns -EFAULT */
};
extern const char *const stack_pkvm_access_names[];   /* "ok", "oops", "sigsegv", "efault" */

struct stack_pkvm_acc_res {
	enum stack_pkvm_access result;
	bool mapped;             /* the host stage 2 was populated on this access */
	uint64_t map_size;       /* ... with a block of this size */
	uint64_t esr;            /* injected: ESR_EL1 (EC data/instr abort current EL, S1PTW) */
	uint64_t far;            /* injected: FAR_EL1 */
};

/*
 * A host access to @pa through the host stage 2 of the MMU of
 * who->agent: a TLB hit or walk; on a translation fault the EL2 abort
 * handler (handle_host_mem_abort) maps the page's largest uniformly
 * host-owned block if the host owns it (then the access is retried), else
 * injects an abort the host turns into @by's outcome.  The translation's
 * cycles and the handler's are added to *@cycles.  -EINVAL: @pa outside
 * host memory.
 */
int stack_pkvm_host_access(struct stack_pkvm *pk, struct sim_who *who, uint64_t pa,
			   bool write, enum stack_pkvm_by by, struct stack_pkvm_acc_res *res,
			   uint64_t *cycles);
/*
 * A guest access to @ipa of VM @handle through its stage 2 (MMU of
 * who->agent).  0 and *@pa; S2_FAULT_* of a fault (a guest abort the host
 * handles); -EINVAL for an unknown VM.
 */
int stack_pkvm_guest_access(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			    uint64_t ipa, bool write, uint64_t *pa, uint64_t *cycles);
/* Would a device's DMA to @pa go through the host's IOMMU identity map? */
bool stack_pkvm_dma_allowed(const struct stack_pkvm *pk, uint64_t pa);

/* ------------------------------------------------------------------ */
/* Inspection and invariants                                           */
/* ------------------------------------------------------------------ */

/* Everything the model knows about one page (untimed). */
struct stack_pkvm_page {
	enum stack_pkvm_state host;      /* host stage 2 */
	uint8_t host_owner;              /* NOPAGE: the owner id annotated */
	bool host_mapped;                /* a valid host stage-2 leaf covers it */
	uint64_t host_map_size;          /* ... of this size */
	enum stack_pkvm_state hyp;       /* hyp stage 1 at its hyp VA */
	uint32_t vm;                     /* handle of the guest that owns or borrows it from
					    the guest side (guest OWNED / SHARED_OWNED), 0: none */
	uint64_t gfn;                    /* ... at this GFN */
	enum stack_pkvm_state guest;     /* ... in that guest's stage 2; with vm = 0:
					    SHARED_BORROWED when non-protected guests borrow
					    it (share_guest > 0), else NOPAGE */
	uint32_t share_guest;            /* host_share_guest_count */
	uint32_t pin;                    /* hyp pins */
	uint32_t dma;                    /* host DMA mappings */
	bool iommu;                      /* in the host's IOMMU identity map */
};
/* 0, or -EINVAL outside host memory. */
int stack_pkvm_page(const struct stack_pkvm *pk, uint64_t pfn, struct stack_pkvm_page *out);
/* State of @gfn in VM @handle's stage 2 (NOPAGE when unmapped or unknown VM); *@pa if mapped. */
enum stack_pkvm_state stack_pkvm_guest_state(const struct stack_pkvm *pk, uint32_t handle,
					     uint64_t gfn, uint64_t *pa);

/*
 * The invariants, untimed, over every page of host memory and every
 * guest mapping: the host stage 2 and the IOMMU map only pages the host
 * owns or shares, identity-mapped, blocks only over default-state pages;
 * the states of host, hyp and guests agree pairwise (share <-> borrow,
 * donate <-> owner annotation), share counts equal the borrowers, pins
 * only on hyp-borrowed pages, DMA references only on host-accessible
 * pages; pool and metadata pages are hyp-owned.  Return: 0, or -1 with
 * the first violation in @msg ("pkvm: pfn 0x...: ...").
 */
int stack_pkvm_check(const struct stack_pkvm *pk, char *msg, size_t len);

#endif /* PROTSIM_STACK_PKVM_MEM_H */
