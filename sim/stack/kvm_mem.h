/*
 * kvm_mem.h - KVM's memory model of a VM: memslots
 * (KVM_SET_USER_MEMORY_REGION2) and memory attributes
 * (KVM_SET_MEMORY_ATTRIBUTES), private to sim/stack (included by
 * stack_int.h).  Reference: docs/stack.md, "KVM memory: memslots and
 * attributes".
 *
 * Results are Linux's: 0, or a negative errno from <errno.h> (-EINVAL,
 * -EEXIST, -ENOMEM, -ENOENT, -EFAULT), the value the ioctl would return.
 * Every timed call names who performs it (struct sim_who, sim/sim.h): the
 * hardware work it does (nested-table accesses of a zap, the RMP checks of
 * the host's stores into table pages, the TLB invalidation that follows a
 * zap) is added to who->mem_cycles; the caller charges it.  A NULL who is
 * no agent, its cycles dropped.
 */
#ifndef PROTSIM_STACK_KVM_MEM_H
#define PROTSIM_STACK_KVM_MEM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

struct stack_vm;

/* The VM type (KVM_CREATE_VM's type on x86): which memory it may have. */
enum stack_kvm_vm_type {
	STACK_KVM_VM_DEFAULT,        /* KVM_X86_DEFAULT_VM: no private memory */
	STACK_KVM_VM_SW_PROTECTED,   /* KVM_X86_SW_PROTECTED_VM: private memory, no protected state */
	STACK_KVM_VM_SNP,            /* KVM_X86_SNP_VM: private memory, protected state */
	STACK_KVM_VM_TYPES
};
extern const char *const stack_kvm_vm_type_names[];   /* "default", "sw_protected", "snp" */

/* struct kvm_userspace_memory_region2 .flags (include/uapi/linux/kvm.h) */
#define STACK_KVM_MEM_LOG_DIRTY_PAGES  (1u << 0)
#define STACK_KVM_MEM_READONLY         (1u << 1)
#define STACK_KVM_MEM_GUEST_MEMFD      (1u << 2)
/* struct kvm_memory_attributes .attributes */
#define STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE (1ull << 3)

/*
 * x86 limits: KVM_MEM_SLOTS_NUM (SHRT_MAX), KVM_USER_MEM_SLOTS (3 internal
 * slots below it), KVM_MEM_MAX_NR_PAGES.
 */
#define STACK_KVM_MEM_SLOTS_NUM     32767u
#define STACK_KVM_USER_MEM_SLOTS    32764u
#define STACK_KVM_MEM_MAX_NR_PAGES  ((1ull << 31) - 1)

/* Region .spa: the VMM's backing is taken from the host page allocator on use. */
#define STACK_KVM_SPA_ALLOC UINT64_MAX

/*
 * The guest_memfd side of a memslot (kvm_gmem_bind / kvm_gmem_unbind):
 * the file is opaque here.  bind returns 0 or a negative errno (Linux:
 * -EINVAL when the file is bound to another VM, the offset is not page
 * aligned or the range lies beyond the file's size, or part of the range
 * is already bound to a slot); unbind undoes a successful bind.
 */
struct stack_kvm_gmem_ops {
	int (*bind)(void *file, struct stack_vm *v, uint32_t slot, uint64_t offset,
		    uint64_t npages);
	void (*unbind)(void *file, struct stack_vm *v, uint32_t slot);
};

/* KVM_SET_USER_MEMORY_REGION2's argument. */
struct stack_kvm_region {
	uint32_t slot;               /* bits 0-15: slot id; bits 16-31: address space */
	uint32_t flags;              /* STACK_KVM_MEM_* */
	uint64_t gpa;                /* guest_phys_addr */
	uint64_t size;               /* memory_size; 0 deletes the slot */
	uint64_t spa;                /* userspace_addr: the VMM's backing, a host physical
					address, or STACK_KVM_SPA_ALLOC */
	void *gmem;                  /* guest_memfd (GUEST_MEMFD); NULL: no such file (-EBADF) */
	const struct stack_kvm_gmem_ops *gmem_ops;
	uint64_t gmem_offset;        /* guest_memfd_offset */
};

/* One piece of a slot's VMM backing taken from the host page allocator. */
struct stack_kvm_piece {
	uint64_t off;                /* first page (index in the slot) */
	uint64_t spa;
	bool huge;                   /* a 2M block (512 pages), else one 4K page */
};

/* A memslot (struct kvm_memory_slot). */
struct stack_kvm_slot {
	uint16_t id;
	uint16_t as_id;
	uint32_t flags;
	uint64_t base_gfn, npages;
	uint64_t spa;                /* given backing, or STACK_KVM_SPA_ALLOC */
	struct stack_kvm_piece *pieces;   /* allocated backing, sorted by off */
	size_t npieces, cap;
	void *gmem;                  /* GUEST_MEMFD: the bound file */
	const struct stack_kvm_gmem_ops *gmem_ops;
	uint64_t gmem_offset;
};

/* A run of GFNs [start, end) with the private attribute. */
struct stack_kvm_range {
	uint64_t start, end;
};

/*
 * Called after an attribute change is stored, once for each memslot the
 * changed range meets, with the part inside it (GFNs [start, end)), as
 * kvm_handle_gfn_range() calls kvm_arch_post_set_memory_attributes(): where
 * the SNP host and guest_memfd models learn of conversions.
 */
struct stack_kvm_attr_hook {
	void (*post_set)(void *arg, struct stack_vm *v, struct sim_who *who,
			 const struct stack_kvm_slot *slot, uint64_t start, uint64_t end,
			 uint64_t attributes);
	void *arg;
};

/* A VM's KVM memory state (one per VM; struct stack_vm .kvm). */
struct stack_kvm_mem {
	struct stack_vm *v;
	enum stack_kvm_vm_type type;
	struct stack_kvm_slot *slots;    /* sorted by (as_id, base_gfn); disjoint per space */
	size_t nslots, slots_cap;
	uint64_t nr_memslot_pages;
	struct stack_kvm_range *attr;    /* private GFNs: sorted, disjoint, never adjacent */
	size_t nattr, attr_cap;
	struct stack_kvm_mem_stats {
		uint64_t memslot_changes;    /* slots created, moved, flags changed, deleted */
		uint64_t attr_changes;       /* KVM_SET_MEMORY_ATTRIBUTES calls that changed a GFN */
		uint64_t zaps;               /* zaps of a range that held at least one mapping */
		uint64_t pages_zapped;       /* 4K pages of nested-table leaves zapped */
		uint64_t zap_refused;        /* zaps refused: a table page to write was RMP-assigned */
		uint64_t backing_pages;      /* 4K pages of VMM backing held from the host allocator */
	} ctr;
	struct sim_stat_group *stats;
	struct stack_kvm_attr_hook hook;  /* post_set NULL: none */
};

/*
 * Give VM @v KVM's memory state for a VM of @type; statistics under
 * @prefix ("vm1.mem": vm1.mem.memslot_changes, ...).  0, -EEXIST (it has
 * one), -EINVAL (bad type).
 */
int stack_kvm_mem_init(struct stack_vm *v, enum stack_kvm_vm_type type, const char *prefix);
/* Install @hook (NULL: none) for @v's attribute changes; -ENOENT without KVM state. */
int stack_kvm_set_attr_hook(struct stack_vm *v, const struct stack_kvm_attr_hook *hook);
/* Drop it (stack_vm_destroy): slots deleted without zaps, backing back to the allocator. */
void stack_kvm_mem_free(struct stack_vm *v);

/*
 * KVM_SET_USER_MEMORY_REGION2 (kvm_vm_ioctl_set_memory_region,
 * kvm_set_memory_region, check_memory_region_flags,
 * kvm_check_memslot_overlap): create, move, change the flags of or
 * delete (size 0) a slot.  Deleting or moving a slot zaps the nested
 * mappings of its old range first (kvm_arch_flush_shadow_memslot).
 * Return: 0, -EINVAL, -EEXIST (overlaps another slot of its address
 * space), a bind error of the guest_memfd (-EINVAL, -EBADF), -EFAULT (the
 * zap would store into an RMP-assigned table page: nothing changed), or
 * -ENOENT when @v has no KVM state.
 */
int stack_kvm_set_memory_region(struct stack_vm *v, struct sim_who *who,
				const struct stack_kvm_region *r);

/*
 * KVM_SET_MEMORY_ATTRIBUTES (kvm_vm_ioctl_set_mem_attributes,
 * kvm_vm_set_mem_attributes): set the attributes of [gpa, gpa + size)
 * to @attributes (0 or STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE).  A change
 * zaps the nested mappings of the part of the range covered by memslots
 * (kvm_arch_pre_set_memory_attributes) and flushes the VM's TLBs if it
 * zapped anything; a range that already has the attributes is left alone.
 * Return: 0, -EINVAL (flags, unsupported attributes, size 0, wrap,
 * alignment), -EFAULT (as above), -ENOENT (no KVM state).
 */
int stack_kvm_set_memory_attributes(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
				    uint64_t size, uint64_t attributes, uint64_t flags);
/* The attributes of @gfn (kvm_get_memory_attributes). */
uint64_t stack_kvm_get_memory_attributes(const struct stack_vm *v, uint64_t gfn);
/* Whether every GFN of [start, end) has exactly @attributes (kvm_range_has_memory_attributes). */
bool stack_kvm_range_has_attributes(const struct stack_vm *v, uint64_t start, uint64_t end,
				    uint64_t attributes);

/*
 * Zap the nested-table leaves of GPAs [@start, @end) (kvm_zap_gfn_range:
 * leaves only partly inside go whole), then flush the VM's TLBs if one
 * went.  0, or -EFAULT when a table page to write is RMP-assigned
 * (nothing changed).
 */
int stack_kvm_zap_range(struct stack_vm *v, struct sim_who *who, uint64_t start, uint64_t end);

/* The slot of address space 0 holding @gfn (gfn_to_memslot), or NULL. */
const struct stack_kvm_slot *stack_kvm_gfn_to_slot(const struct stack_vm *v, uint64_t gfn);
/* Slot @id of address space @as_id (id_to_memslot), or NULL. */
const struct stack_kvm_slot *stack_kvm_id_to_slot(const struct stack_vm *v, unsigned as_id,
						  unsigned id);

/*
 * The VMM's (shared) backing of @gpa (address space 0): 0 and *@spa;
 * -ENOENT (no slot); -ENODATA (its page is not allocated yet and @alloc
 * is false); -ENOMEM (@alloc: the host page allocator had no page).  A
 * page taken on use comes as part of a 2M block when the slot covers the
 * whole naturally aligned 2M of GPAs around it and the allocator has one,
 * else as one 4K page.
 */
int stack_kvm_backing(struct stack_vm *v, uint64_t gpa, bool alloc, uint64_t *spa);

/* What backs a GPA now (`vm page`). */
struct stack_kvm_page {
	uint32_t slot;               /* its slot id */
	bool gmem;                   /* the slot has a guest_memfd */
	bool private_;               /* the GFN has the private attribute */
	bool mapped;                 /* the nested table has a valid leaf for it */
	uint64_t spa;                /* mapped: the address the leaf gives for @gpa */
	uint64_t leaf_size;          /* mapped: bytes the leaf maps */
	bool shared_backed;          /* the VMM's backing page exists */
	uint64_t shared_spa;         /* shared_backed: its address for @gpa */
};
/* 0 and *@out, or -ENOENT (no slot covers @gpa, or no KVM state).  The leaf lookup is timed. */
int stack_kvm_page_query(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
			 struct stack_kvm_page *out);

#endif /* PROTSIM_STACK_KVM_MEM_H */
