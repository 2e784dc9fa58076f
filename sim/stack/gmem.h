/*
 * gmem.h - guest_memfd: the private memory of a VM as a file of host
 * folios (Linux virt/kvm/guest_memfd.c, with the SNP hooks of
 * arch/x86/kvm/svm/sev.c).  Private to sim/stack; included by stack_int.h.
 * Reference: docs/stack.md, "guest_memfd".
 *
 * Conventions:
 *  - Functions return 0 or a negative errno as Linux returns it for the
 *    same input (-EINVAL, -EOPNOTSUPP, -EFBIG, -ENOMEM, -EEXIST, ...).
 *  - Timed functions issue their RMP instructions one after the other on
 *    behalf of @who->agent, the first at @who->now, each later one at the
 *    cycle the previous one ended; instruction cycles are added to
 *    *@cycles, memory cycles to @who->mem_cycles (the caller charges both).
 *  - Offsets and lengths are bytes in the file; a page is 4K.
 */
#ifndef PROTSIM_STACK_GMEM_H
#define PROTSIM_STACK_GMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"

struct stack;
struct stack_vm;
struct stack_gmem;

/*
 * Creation flags (KVM_CREATE_GUEST_MEMFD .flags).  HUGE asks for 2M
 * folios whatever gmem.page_size says, and needs a 2M-aligned size, as
 * KVM_GUEST_MEMFD_ALLOW_HUGEPAGE did in the guest_memfd patch series
 * (dropped before the merge).
 */
#define STACK_GMEM_FLAG_HUGE    (1ull << 0)
#define STACK_GMEM_FLAGS_VALID  STACK_GMEM_FLAG_HUGE

/* fallocate() modes (the FALLOC_FL_* values): KEEP_SIZE is required. */
#define STACK_GMEM_FALLOC_KEEP_SIZE   0x01
#define STACK_GMEM_FALLOC_PUNCH_HOLE  0x02

/*
 * Attempts of one PSMASH (and of one RMPUPDATE that meets FAIL_OVERLAP)
 * before the host gives up on the page: KVM loops without bound
 * (snp_rmptable_psmash, rmpupdate); the model stops after this many, so
 * a lock that never clears ends as a leak instead of a hang.
 */
#define STACK_GMEM_TRIES 64

/* stack.gmem.* */
struct stack_gmem_stats {
	uint64_t files;            /* files open now */
	uint64_t alloc_4k;         /* 4K folios taken from the host page allocator */
	uint64_t alloc_2m;         /* 2M folios taken */
	uint64_t alloc_fail;       /* folio allocations refused (-ENOMEM) */
	uint64_t folios;           /* folios in the files now */
	uint64_t punches;          /* PUNCH_HOLE calls that succeeded */
	uint64_t prepare_4k;       /* 4K RMPUPDATEs to private at a first fault */
	uint64_t prepare_2m;       /* 2M RMPUPDATEs to private at a first fault */
	uint64_t cleared;          /* 4K pages cleared at their first use */
	uint64_t prepare_fail;     /* prepares refused by the RMP (-EINVAL) */
	uint64_t populated;        /* pages the populate callback accepted */
	uint64_t invalidate_4k;    /* 4K RMPUPDATEs back to shared */
	uint64_t invalidate_2m;    /* 2M RMPUPDATEs back to shared */
	uint64_t psmash;           /* PSMASHes that succeeded (a partial range of a 2M entry) */
	uint64_t retries;          /* PSMASH retried on FAIL_INUSE, RMPUPDATE on FAIL_OVERLAP */
	uint64_t leaked;           /* 4K pages leaked: their reclaim failed */
};

/* Machine-wide state (at stack attach / detach).  0, or -1 with @err. */
int stack_gmem_init(struct stack *st, struct sim_err *err);
/* Free every file still open (no RMP work: the machine is going away). */
void stack_gmem_fini(struct stack *st);
const struct stack_gmem_stats *stack_gmem_stats(const struct stack *st);
/*
 * Files created by @vm and still open: a VM must have none when it is
 * destroyed (a file holds its VM, as Linux's holds a reference on kvm),
 * so a new VM at the same address never passes a stale binding check.
 */
unsigned stack_gmem_vm_files(const struct stack *st, const struct stack_vm *vm);

/*
 * kvm_gmem_create: a file of @size bytes for VM @vm (which it stays bound
 * to).  -EINVAL: unknown flags, size 0 or not 4K aligned, HUGE with a
 * size not 2M aligned.  Folios are 2M with HUGE or gmem.page_size = 2m
 * (where a 2M-aligned 2M range lies inside the file; 4K elsewhere).
 */
int stack_gmem_create(struct stack_vm *vm, uint64_t size, uint64_t flags,
		      struct stack_gmem **out);
/*
 * Close the file (kvm_gmem_release + eviction): every prepared page made
 * shared again (see fallocate PUNCH_HOLE), every folio back to the
 * allocator or leaked.  The bindings must be gone (programming error).
 */
void stack_gmem_release(struct stack_gmem *f, struct sim_who *who, uint64_t *cycles);

uint64_t stack_gmem_size(const struct stack_gmem *f);
struct stack_vm *stack_gmem_vm(const struct stack_gmem *f);
bool stack_gmem_huge(const struct stack_gmem *f);

/*
 * kvm_gmem_bind's checks, for the memslot code: may VM @vm bind bytes
 * [@offset, @offset + @size) of @f?  0; -EINVAL when @vm did not create
 * @f, @offset is not 4K aligned, @size is 0 or not 4K aligned, the range
 * goes past the end of the file, or overlaps a binding of @f.
 */
int stack_gmem_bind_check(const struct stack_gmem *f, const struct stack_vm *vm,
			  uint64_t offset, uint64_t size);
/* Check, then record the binding of memslot @slot (an opaque key).  0 or the check's error. */
int stack_gmem_bind(struct stack_gmem *f, const struct stack_vm *vm, const void *slot,
		    uint64_t offset, uint64_t size);
/* kvm_gmem_unbind: forget @slot's binding.  -ENOENT when it has none. */
int stack_gmem_unbind(struct stack_gmem *f, const void *slot);

/*
 * Called before a punch or release converts pages, with the byte range
 * (kvm_gmem_invalidate_begin: the memslot layer zaps the nested mappings
 * of the bound GFNs first); NULL: none.
 */
typedef void (*stack_gmem_invalidate_fn)(void *arg, struct stack_gmem *f, struct sim_who *who,
					 uint64_t start, uint64_t end, uint64_t *cycles);
void stack_gmem_set_invalidate(struct stack_gmem *f, stack_gmem_invalidate_fn fn, void *arg);

/*
 * kvm_gmem_fallocate.  @mode must have KEEP_SIZE, may have PUNCH_HOLE,
 * nothing else (-EOPNOTSUPP).  -EINVAL: @offset or @len not 4K aligned,
 * @len 0, or (allocation) the range past the end of the file; -EFBIG: the
 * range overflows.  Allocation takes the folios that cover the range
 * (-ENOMEM when the allocator has none; folios taken before stay).
 * PUNCH_HOLE converts the prepared pages of the range back to shared
 * (sev_gmem_invalidate: one 2M RMPUPDATE where a whole 2M entry is
 * inside, else PSMASH then 4K RMPUPDATEs; a page whose conversion fails
 * is leaked) and frees the folios it covers wholly; a 2M folio covered
 * in part stays (its content gone), as a partial truncation keeps it.
 */
int stack_gmem_fallocate(struct stack_gmem *f, struct sim_who *who, unsigned mode,
			 uint64_t offset, uint64_t len, uint64_t *cycles);

/*
 * kvm_gmem_get_pfn for the page at @offset, which the faulting VM maps at
 * guest-physical @gpa: the folio is taken if absent; the first time the
 * page is used it is cleared (untimed) and prepared (sev_gmem_prepare):
 * RMPUPDATE to assigned, the VM's ASID, at @gpa.  At 2M (the whole folio,
 * at the 2M-aligned GPA) when the folio is 2M, @allow_2m (the caller's 2M
 * GPA range is aligned, inside the slot and private) and no page of the
 * folio is assigned yet; else 4K for this page.  A page already assigned
 * is neither cleared nor updated.  A VM without an ASID has its page
 * cleared only.  *@spa: the page's system address.  -EINVAL: @offset past
 * the end or not 4K aligned, @gpa not 4K aligned, or the RMP refused (the
 * RMP entry is left as it was); -ENOMEM.
 */
int stack_gmem_get_pfn(struct stack_gmem *f, struct sim_who *who, uint64_t offset,
		       uint64_t gpa, bool allow_2m, uint64_t *spa, uint64_t *cycles);

/*
 * kvm_gmem_populate for launch: for each 4K page of [@offset, @offset +
 * @npages * 4K), mapped at @gpa + i * 4K, take the folio and call @fn with
 * the page (the SNP firmware's post-populate step assigns and measures
 * it; it returns 0 or a negative errno).  A page @fn accepts counts as
 * prepared.  -EINVAL for a range outside the file or misaligned (nothing
 * done); else the pages are taken in order and it stops at the first
 * page already prepared (-EEXIST), a folio it cannot take (-ENOMEM) or
 * @fn's first error; the pages before stay prepared.
 */
typedef int (*stack_gmem_populate_fn)(void *arg, struct sim_who *who, uint64_t gpa,
				      uint64_t spa, uint64_t *cycles);
int stack_gmem_populate(struct stack_gmem *f, struct sim_who *who, uint64_t offset,
			uint64_t gpa, uint64_t npages, stack_gmem_populate_fn fn, void *arg,
			uint64_t *cycles);

/*
 * Inspection (tests, dumps): the folio holding @offset: 0 with its system
 * address (of the page at @offset), size and whether that page is
 * prepared; -ENOENT when the offset is a hole.
 */
int stack_gmem_page(const struct stack_gmem *f, uint64_t offset, uint64_t *spa, bool *big,
		    bool *prepared);
/*
 * A host RMP-fault strategy (host.c) made the page at @offset shared
 * behind the file's back (RMPUPDATE to the hypervisor): its prepared mark
 * goes, so the next fault prepares it again (cleared, assigned, not
 * validated).  0, or -ENOENT for a hole.
 */
int stack_gmem_forget(struct stack_gmem *f, uint64_t offset);
/* Folios in @f now. */
uint64_t stack_gmem_nr_folios(const struct stack_gmem *f);

#endif /* PROTSIM_STACK_GMEM_H */
