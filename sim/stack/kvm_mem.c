/*
 * kvm_mem.c - KVM's memory model of a VM: memslots and memory attributes.
 *
 * Memslots follow kvm_set_memory_region() in virt/kvm/kvm_main.c (Linux
 * 6.8 onward, KVM_SET_USER_MEMORY_REGION2) rule by rule and in its order,
 * with the x86 values of the limits and of kvm_arch_has_private_mem(),
 * kvm_arch_has_readonly_mem() and kvm_arch_nr_memslot_as_ids().  Memory
 * attributes follow kvm_vm_ioctl_set_mem_attributes() and
 * kvm_vm_set_mem_attributes(); where KVM keeps one xarray entry per GFN,
 * the model keeps runs of private GFNs, so a VM's attributes cost memory
 * in proportion to the number of runs, never to the guest's size.
 *
 * Zaps (a slot deleted or moved: kvm_arch_flush_shadow_memslot; an
 * attribute change: kvm_arch_pre_set_memory_attributes) remove every leaf
 * of the VM's nested table that overlaps the range, whole (as the TDP MMU
 * zaps a huge SPTE rather than split it), with s2_unmap; the host's stores
 * into table pages are RMP-checked first (check, then commit), and the
 * VM's TLBs are flushed when something was zapped (kvm_flush_remote_tlbs).
 * Reference: docs/stack.md, "KVM memory: memslots and attributes".
 */
#include "sim/stack/stack_int.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_SHIFT 12
#define PAGE_MASK4K (SIM_PAGE_SIZE - 1)
#define PAGES_2M 512ull

const char *const stack_kvm_vm_type_names[] = { "default", "sw_protected", "snp", NULL };

/* ------------------------------------------------------------------ */
/* VM types (arch/x86/include/asm/kvm_host.h)                          */
/* ------------------------------------------------------------------ */

/* kvm_arch_has_private_mem(): SW_PROTECTED and SNP (and TDX) VMs. */
static bool has_private_mem(const struct stack_kvm_mem *km)
{
	return km->type != STACK_KVM_VM_DEFAULT;
}

/* kvm_arch_has_readonly_mem(): not for VMs with protected state (SEV-ES, SNP, TDX). */
static bool has_readonly_mem(const struct stack_kvm_mem *km)
{
	return km->type != STACK_KVM_VM_SNP;
}

/* kvm_arch_nr_memslot_as_ids(): SMM's second address space, not with private memory. */
static unsigned nr_as_ids(const struct stack_kvm_mem *km)
{
	return has_private_mem(km) ? 1 : 2;
}

/* kvm_supported_mem_attributes() */
static uint64_t supported_attributes(const struct stack_kvm_mem *km)
{
	return has_private_mem(km) ? STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
}

/* One past the largest GFN the nested table maps (kvm_mmu_max_gfn() + 1). */
static uint64_t gfn_limit(const struct stack_kvm_mem *km)
{
	return (km->v->s2 ? s2_pgt_ia_limit(km->v->s2) : SIM_PA_LIMIT) >> PAGE_SHIFT;
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static const struct sim_stat_desc kvm_mem_stat_desc[] = {
#define F(f) offsetof(struct stack_kvm_mem, ctr.f)
	{ "memslot_changes", SIM_STAT_COUNTER, F(memslot_changes),
	  "Memslots created, moved, flags changed or deleted (KVM_SET_USER_MEMORY_REGION2)" },
	{ "attr_changes", SIM_STAT_COUNTER, F(attr_changes),
	  "KVM_SET_MEMORY_ATTRIBUTES calls that changed at least one GFN" },
	{ "zaps", SIM_STAT_COUNTER, F(zaps),
	  "Zaps of nested mappings that removed at least one leaf (then the VM's TLBs are flushed)" },
	{ "pages_zapped", SIM_STAT_COUNTER, F(pages_zapped),
	  "4K pages of the nested-table leaves zapped (a 2M leaf counts 512)" },
	{ "zap_refused", SIM_STAT_COUNTER, F(zap_refused),
	  "Zaps refused before any change: a table page the host would write is RMP-assigned (-EFAULT)" },
	{ "backing_pages", SIM_STAT_COUNTER, F(backing_pages),
	  "4K pages of VMM backing the VM's slots hold from the host page allocator" },
	{ NULL, 0, 0, NULL },
#undef F
};

int stack_kvm_mem_init(struct stack_vm *v, enum stack_kvm_vm_type type, const char *prefix)
{
	struct stack_kvm_mem *km;

	if ((unsigned)type >= STACK_KVM_VM_TYPES || !prefix)
		return -EINVAL;
	/* a VM has one; statistics names stay taken for the run (sim_stat_group_remove) */
	if (v->kvm || sim_stat_has_prefix(v->st->s, prefix))
		return -EEXIST;
	km = sim_xcalloc(1, sizeof(*km));
	km->v = v;
	km->type = type;
	km->stats = sim_stat_group_add(v->st->s, prefix, kvm_mem_stat_desc, km);
	v->kvm = km;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The VMM's backing of a slot                                         */
/* ------------------------------------------------------------------ */

static void slot_free_backing(struct stack_kvm_mem *km, struct stack_kvm_slot *sl)
{
	for (size_t i = 0; i < sl->npieces; i++) {
		stack_palloc_put(km->v->st->pool, sl->pieces[i].spa, sl->pieces[i].huge);
		km->ctr.backing_pages -= sl->pieces[i].huge ? PAGES_2M : 1;
	}
	free(sl->pieces);
	sl->pieces = NULL;
	sl->npieces = sl->cap = 0;
}

/* Index of the first piece whose off is > @off (pieces are sorted and disjoint). */
static size_t piece_upper(const struct stack_kvm_slot *sl, uint64_t off)
{
	size_t lo = 0, hi = sl->npieces;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sl->pieces[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool piece_find(const struct stack_kvm_slot *sl, uint64_t off, uint64_t *spa)
{
	size_t i = piece_upper(sl, off);
	const struct stack_kvm_piece *p;

	if (!i)
		return false;
	p = &sl->pieces[i - 1];
	if (off >= p->off + (p->huge ? PAGES_2M : 1))
		return false;
	*spa = p->spa + ((off - p->off) << PAGE_SHIFT);
	return true;
}

static void piece_insert(struct stack_kvm_slot *sl, const struct stack_kvm_piece *p)
{
	size_t i = piece_upper(sl, p->off);

	if (sl->npieces == sl->cap) {
		sl->cap = sl->cap ? 2 * sl->cap : 8;
		sl->pieces = sim_xrealloc(sl->pieces, sl->cap * sizeof(*sl->pieces));
	}
	memmove(&sl->pieces[i + 1], &sl->pieces[i], (sl->npieces - i) * sizeof(*sl->pieces));
	sl->pieces[i] = *p;
	sl->npieces++;
}

/* Whether any piece lies in pages [off, off + n) of the slot. */
static bool pieces_in(const struct stack_kvm_slot *sl, uint64_t off, uint64_t n)
{
	size_t i = piece_upper(sl, off + n - 1);

	if (!i)
		return false;
	return sl->pieces[i - 1].off + (sl->pieces[i - 1].huge ? PAGES_2M : 1) > off;
}

static int slot_backing(struct stack_kvm_mem *km, struct stack_kvm_slot *sl, uint64_t off,
			bool alloc, uint64_t *spa)
{
	struct stack_palloc *pool = km->v->st->pool;
	uint64_t gfn = sl->base_gfn + off, blk = gfn & ~(PAGES_2M - 1);
	struct stack_kvm_piece p = { 0 };

	if (sl->spa != STACK_KVM_SPA_ALLOC) {
		*spa = sl->spa + (off << PAGE_SHIFT);
		return 0;
	}
	if (piece_find(sl, off, spa))
		return 0;
	if (!alloc)
		return -ENODATA;
	/* a 2M block when the slot holds the whole aligned 2M of GFNs and none of it is backed */
	if (blk >= sl->base_gfn && blk + PAGES_2M <= sl->base_gfn + sl->npages &&
	    !pieces_in(sl, blk - sl->base_gfn, PAGES_2M) && !stack_palloc_get(pool, true, &p.spa)) {
		p.off = blk - sl->base_gfn;
		p.huge = true;
	} else if (!stack_palloc_get(pool, false, &p.spa)) {
		p.off = off;
	} else {
		return -ENOMEM;
	}
	piece_insert(sl, &p);
	km->ctr.backing_pages += p.huge ? PAGES_2M : 1;
	return piece_find(sl, off, spa) ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ */
/* The slot table                                                      */
/* ------------------------------------------------------------------ */

static int slot_cmp(uint16_t as_a, uint64_t gfn_a, uint16_t as_b, uint64_t gfn_b)
{
	if (as_a != as_b)
		return as_a < as_b ? -1 : 1;
	return gfn_a < gfn_b ? -1 : gfn_a > gfn_b;
}

/* Index of the first slot of space @as_id whose end is > @gfn (or the first of a later space). */
static size_t slot_lower(const struct stack_kvm_mem *km, uint16_t as_id, uint64_t gfn)
{
	size_t lo = 0, hi = km->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct stack_kvm_slot *s = &km->slots[mid];

		if (slot_cmp(s->as_id, s->base_gfn + s->npages, as_id, gfn) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct stack_kvm_slot *slot_by_id(const struct stack_kvm_mem *km, uint16_t as_id,
					 uint16_t id)
{
	for (size_t i = 0; i < km->nslots; i++)
		if (km->slots[i].as_id == as_id && km->slots[i].id == id)
			return &km->slots[i];
	return NULL;
}

static struct stack_kvm_slot *slot_by_gfn(const struct stack_kvm_mem *km, uint16_t as_id,
					  uint64_t gfn)
{
	size_t i = slot_lower(km, as_id, gfn);

	if (i < km->nslots && km->slots[i].as_id == as_id && km->slots[i].base_gfn <= gfn)
		return &km->slots[i];
	return NULL;
}

/* kvm_check_memslot_overlap(): a slot of space @as_id other than @id meets [start, end). */
static bool slot_overlap(const struct stack_kvm_mem *km, uint16_t as_id, uint16_t id,
			 uint64_t start, uint64_t end)
{
	for (size_t i = slot_lower(km, as_id, start);
	     i < km->nslots && km->slots[i].as_id == as_id && km->slots[i].base_gfn < end; i++)
		if (km->slots[i].id != id)
			return true;
	return false;
}

/* Insert @sl in order (the table owns its pieces from now on). */
static void slot_insert(struct stack_kvm_mem *km, const struct stack_kvm_slot *sl)
{
	size_t i = slot_lower(km, sl->as_id, sl->base_gfn);

	if (km->nslots == km->slots_cap) {
		km->slots_cap = km->slots_cap ? 2 * km->slots_cap : 8;
		km->slots = sim_xrealloc(km->slots, km->slots_cap * sizeof(*km->slots));
	}
	memmove(&km->slots[i + 1], &km->slots[i], (km->nslots - i) * sizeof(*km->slots));
	km->slots[i] = *sl;
	km->nslots++;
}

/* Take @sl out of the table; *@out gets it (its pieces with it). */
static void slot_remove(struct stack_kvm_mem *km, struct stack_kvm_slot *sl,
			struct stack_kvm_slot *out)
{
	size_t i = (size_t)(sl - km->slots);

	*out = *sl;
	memmove(&km->slots[i], &km->slots[i + 1], (km->nslots - i - 1) * sizeof(*km->slots));
	km->nslots--;
}

const struct stack_kvm_slot *stack_kvm_gfn_to_slot(const struct stack_vm *v, uint64_t gfn)
{
	return v->kvm ? slot_by_gfn(v->kvm, 0, gfn) : NULL;
}

const struct stack_kvm_slot *stack_kvm_id_to_slot(const struct stack_vm *v, unsigned as_id,
						  unsigned id)
{
	if (!v->kvm || as_id > UINT16_MAX || id > UINT16_MAX)
		return NULL;
	return slot_by_id(v->kvm, (uint16_t)as_id, (uint16_t)id);
}

/* ------------------------------------------------------------------ */
/* Zaps                                                                */
/* ------------------------------------------------------------------ */

/* The leaves a zap of [start, end) meets: how many 4K pages, and the range they span. */
struct zap_scan {
	const struct s2_fmt_ops *fmt;
	uint64_t lo, hi;             /* the range rounded out to the leaves at its ends */
	uint64_t pages;
};

static int zap_scan_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct zap_scan *z = ctx->arg;
	struct s2_pte pte;
	uint64_t size = s2_sz_bytes(ctx->sz);

	(void)when;
	z->fmt->decode(ctx->old, ctx->sz, &pte);
	if (pte.type != S2_PTE_LEAF)
		return 0;
	if (ctx->addr < z->lo)
		z->lo = ctx->addr;
	if (ctx->addr + size > z->hi)
		z->hi = ctx->addr + size;
	z->pages += size >> PAGE_SHIFT;
	return 0;
}

/* One zap: GPAs [lo, hi) of the nested table, rounded out to whole leaves. */
struct zap {
	uint64_t lo, hi, pages;
};

/*
 * Plan the zap of GPAs [start, end) (clipped to the table's range): an
 * untimed scan of the leaves it meets (the zap's own walk reads them).
 */
static void zap_plan(struct stack_kvm_mem *km, uint64_t start, uint64_t end, struct zap *z)
{
	struct s2_pgt *p = km->v->s2;
	uint64_t lim = s2_pgt_ia_limit(p);
	struct zap_scan sc = { .fmt = s2_pgt_fmt(p), .lo = start, .hi = end };
	const struct s2_walker w = { zap_scan_visit, &sc, S2_WALK_LEAF };

	z->lo = z->hi = z->pages = 0;
	if (start >= lim)
		return;
	if (end > lim)
		end = sc.hi = lim;
	if (s2_walk(p, NULL, start, end - start, &w) != S2_OK)
		sc.pages = 0;
	z->lo = sc.lo;
	z->hi = sc.hi;
	z->pages = sc.pages;
}

/*
 * Zap every planned range of @zs (@n of them): the RMP check of every
 * table page each would write first (none refused, or nothing is done:
 * -EFAULT), then the unmaps, then one flush of the VM's TLBs if a leaf
 * went (kvm_flush_remote_tlbs; the VM's vCPUs drop their translations).
 */
static int zap_run(struct stack_kvm_mem *km, struct sim_who *who, const struct zap *zs, size_t n)
{
	struct stack_vm *v = km->v;
	struct host_wr hw;
	uint64_t pages = 0;

	for (size_t i = 0; i < n; i++) {
		if (zs[i].hi <= zs[i].lo)
			continue;
		if (!stack_table_writes_ok(v, v->s2, false, who ? who->agent : -1, S2_WSET_UNMAP,
					   zs[i].lo, 0, zs[i].hi - zs[i].lo, 0, NULL, &hw)) {
			if (who)
				who->mem_cycles += hw.cycles;
			km->ctr.zap_refused++;
			return -EFAULT;
		}
		if (who)
			who->mem_cycles += hw.cycles;
	}
	for (size_t i = 0; i < n; i++) {
		if (zs[i].hi <= zs[i].lo)
			continue;
		if (s2_unmap(v->s2, who, zs[i].lo, zs[i].hi - zs[i].lo) != S2_OK)
			sim_fatal("stack: kvm zap of 0x%llx..0x%llx failed",
				  (unsigned long long)zs[i].lo, (unsigned long long)zs[i].hi);
		pages += zs[i].pages;
		km->ctr.zaps += zs[i].pages != 0;
	}
	if (pages) {
		uint32_t cost = s2_ctx_tlbi(v->st->s2, S2_TLBI_VM, v->id, 0);

		for (unsigned k = 0; v->guest && k < v->guest->nvcpu; k++)
			if (v->guest->vcpu[k].h)
				cpu_vcpu_tlbi(v->guest->vcpu[k].h, CPU_TLBI_ALL);
		if (who)
			who->mem_cycles += cost;
		km->ctr.pages_zapped += pages;
	}
	return 0;
}

int stack_kvm_zap_range(struct stack_vm *v, struct sim_who *who, uint64_t start, uint64_t end)
{
	struct zap z = { 0 };

	if (!v->kvm || !v->s2 || end <= start)
		return 0;
	zap_plan(v->kvm, start, end, &z);
	return zap_run(v->kvm, who, &z, 1);
}

/* ------------------------------------------------------------------ */
/* KVM_SET_USER_MEMORY_REGION2                                         */
/* ------------------------------------------------------------------ */

/* check_memory_region_flags() */
static int check_flags(const struct stack_kvm_mem *km, uint32_t flags)
{
	uint32_t valid = STACK_KVM_MEM_LOG_DIRTY_PAGES;

	if (has_private_mem(km))
		valid |= STACK_KVM_MEM_GUEST_MEMFD;
	/* dirty logging of private memory is not supported */
	if (flags & STACK_KVM_MEM_GUEST_MEMFD)
		valid &= ~STACK_KVM_MEM_LOG_DIRTY_PAGES;
	/* read-only slots emulate MMIO on writes, which private memory cannot have */
	if (has_readonly_mem(km) && !(flags & STACK_KVM_MEM_GUEST_MEMFD))
		valid |= STACK_KVM_MEM_READONLY;
	return flags & ~valid ? -EINVAL : 0;
}

/*
 * access_ok() of the VMM's address range: in the model the VMM's memory
 * is host physical memory, which must lie below the physical-address
 * limit and outside the host page allocator's range (the kernel's pages).
 */
static bool backing_ok(const struct stack_kvm_mem *km, uint64_t spa, uint64_t size)
{
	const struct stack_palloc *pool = km->v->st->pool;
	uint64_t pb = stack_palloc_base(pool), pe = pb + stack_palloc_size(pool);

	if (spa == STACK_KVM_SPA_ALLOC)
		return true;
	if (spa & PAGE_MASK4K)
		return false;
	if (spa > SIM_PA_LIMIT || size > SIM_PA_LIMIT - spa)
		return false;
	return !(spa < pe && spa + size > pb);
}

static int delete_slot(struct stack_kvm_mem *km, struct sim_who *who, struct stack_kvm_slot *old)
{
	struct stack_kvm_slot gone;
	struct zap z = { 0 };
	int rc;

	if (km->v->s2)
		zap_plan(km, old->base_gfn << PAGE_SHIFT, (old->base_gfn + old->npages) << PAGE_SHIFT,
			 &z);
	rc = zap_run(km, who, &z, 1);
	if (rc)
		return rc;
	km->nr_memslot_pages -= old->npages;
	slot_remove(km, old, &gone);
	if (gone.flags & STACK_KVM_MEM_GUEST_MEMFD)
		gone.gmem_ops->unbind(gone.gmem, km->v, gone.id);
	slot_free_backing(km, &gone);
	km->ctr.memslot_changes++;
	return 0;
}

int stack_kvm_set_memory_region(struct stack_vm *v, struct sim_who *who,
				const struct stack_kvm_region *r)
{
	struct stack_kvm_mem *km = v->kvm;
	struct stack_kvm_slot *old, nw;
	uint16_t as_id = (uint16_t)(r->slot >> 16), id = (uint16_t)r->slot;
	uint64_t base_gfn, npages;
	enum { MR_CREATE, MR_MOVE, MR_FLAGS_ONLY } change;
	int rc;

	if (!km)
		return -ENOENT;
	/* kvm_vm_ioctl_set_memory_region(): user slots only */
	if (id >= STACK_KVM_USER_MEM_SLOTS)
		return -EINVAL;
	rc = check_flags(km, r->flags);
	if (rc)
		return rc;
	/* general sanity checks */
	if (r->size & PAGE_MASK4K)
		return -EINVAL;
	if (r->gpa & PAGE_MASK4K)
		return -EINVAL;
	if (!backing_ok(km, r->spa, r->size))
		return -EINVAL;
	if ((r->flags & STACK_KVM_MEM_GUEST_MEMFD) &&
	    ((r->gmem_offset & PAGE_MASK4K) || r->gmem_offset + r->size < r->gmem_offset))
		return -EINVAL;
	if (as_id >= nr_as_ids(km) || id >= STACK_KVM_MEM_SLOTS_NUM)
		return -EINVAL;
	if (r->gpa + r->size < r->gpa)
		return -EINVAL;
	if ((r->size >> PAGE_SHIFT) > STACK_KVM_MEM_MAX_NR_PAGES)
		return -EINVAL;

	old = slot_by_id(km, as_id, id);
	if (!r->size) {
		if (!old)
			return -EINVAL;
		return delete_slot(km, who, old);
	}
	base_gfn = r->gpa >> PAGE_SHIFT;
	npages = r->size >> PAGE_SHIFT;
	if (!old) {
		change = MR_CREATE;
		if (km->nr_memslot_pages + npages < km->nr_memslot_pages)
			return -EINVAL;
	} else {
		/* guest_memfd slots are immutable: they can only be deleted */
		if (r->flags & STACK_KVM_MEM_GUEST_MEMFD)
			return -EINVAL;
		if (r->spa != old->spa || npages != old->npages ||
		    ((r->flags ^ old->flags) & STACK_KVM_MEM_READONLY))
			return -EINVAL;
		/*
		 * The request names no file: a guest_memfd slot would lose its
		 * binding by a move or a flags change.  Refused too (see
		 * docs/stack.md): the slot keeps its file until deleted.
		 */
		if (old->flags & STACK_KVM_MEM_GUEST_MEMFD)
			return -EINVAL;
		if (base_gfn != old->base_gfn)
			change = MR_MOVE;
		else if (r->flags != old->flags)
			change = MR_FLAGS_ONLY;
		else
			return 0;   /* nothing to change */
	}
	if ((change == MR_CREATE || change == MR_MOVE) &&
	    slot_overlap(km, as_id, id, base_gfn, base_gfn + npages))
		return -EEXIST;

	if (change == MR_FLAGS_ONLY) {
		old->flags = r->flags;
		km->ctr.memslot_changes++;
		return 0;
	}
	if (change == MR_MOVE) {
		struct stack_kvm_slot moved;
		struct zap z = { 0 };

		/* kvm_set_memslot(): the old range is invalidated (zapped) first */
		if (v->s2)
			zap_plan(km, old->base_gfn << PAGE_SHIFT,
				 (old->base_gfn + old->npages) << PAGE_SHIFT, &z);
		rc = zap_run(km, who, &z, 1);
		if (rc)
			return rc;
		/* then kvm_arch_prepare_memory_region(): the new range within the MMU's GFNs */
		if (base_gfn + npages - 1 >= gfn_limit(km))
			return -EINVAL;   /* the old slot is restored, its mappings stay zapped */
		slot_remove(km, old, &moved);
		moved.base_gfn = base_gfn;
		moved.flags = r->flags;
		slot_insert(km, &moved);
		km->ctr.memslot_changes++;
		return 0;
	}

	memset(&nw, 0, sizeof(nw));
	nw.id = id;
	nw.as_id = as_id;
	nw.flags = r->flags;
	nw.base_gfn = base_gfn;
	nw.npages = npages;
	nw.spa = r->spa;
	if (r->flags & STACK_KVM_MEM_GUEST_MEMFD) {
		/* kvm_gmem_bind(): fget() of the fd, then the file's own rules */
		if (!r->gmem || !r->gmem_ops)
			return -EBADF;
		rc = r->gmem_ops->bind(r->gmem, v, id, r->gmem_offset, npages);
		if (rc)
			return rc;
		nw.gmem = r->gmem;
		nw.gmem_ops = r->gmem_ops;
		nw.gmem_offset = r->gmem_offset;
	}
	/* kvm_arch_prepare_memory_region() */
	if (base_gfn + npages - 1 >= gfn_limit(km)) {
		if (nw.gmem)
			nw.gmem_ops->unbind(nw.gmem, v, id);
		return -EINVAL;
	}
	slot_insert(km, &nw);
	km->nr_memslot_pages += npages;
	km->ctr.memslot_changes++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Memory attributes: runs of private GFNs                             */
/* ------------------------------------------------------------------ */

/* Index of the first run whose end is >= @gfn (runs ending at @gfn are adjacent). */
static size_t attr_lower(const struct stack_kvm_mem *km, uint64_t gfn, bool adjacent)
{
	size_t lo = 0, hi = km->nattr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t e = km->attr[mid].end;

		if (adjacent ? e < gfn : e <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Replace runs [i, j) by the @k runs of @with. */
static void attr_splice(struct stack_kvm_mem *km, size_t i, size_t j,
			const struct stack_kvm_range *with, size_t k)
{
	size_t n = km->nattr - (j - i) + k;

	if (n > km->attr_cap) {
		km->attr_cap = km->attr_cap ? 2 * km->attr_cap : 8;
		if (km->attr_cap < n)
			km->attr_cap = n;
		km->attr = sim_xrealloc(km->attr, km->attr_cap * sizeof(*km->attr));
	}
	memmove(&km->attr[i + k], &km->attr[j], (km->nattr - j) * sizeof(*km->attr));
	memcpy(&km->attr[i], with, k * sizeof(*with));
	km->nattr = n;
}

/* Make [start, end) private: one run, merged with every run it meets or touches. */
static void attr_set(struct stack_kvm_mem *km, uint64_t start, uint64_t end)
{
	size_t i = attr_lower(km, start, true), j = i;
	struct stack_kvm_range m = { start, end };

	for (; j < km->nattr && km->attr[j].start <= end; j++) {
		if (km->attr[j].start < m.start)
			m.start = km->attr[j].start;
		if (km->attr[j].end > m.end)
			m.end = km->attr[j].end;
	}
	attr_splice(km, i, j, &m, 1);
}

/* Make [start, end) shared: runs inside go, runs across an end are cut (one may split). */
static void attr_clear(struct stack_kvm_mem *km, uint64_t start, uint64_t end)
{
	size_t i = attr_lower(km, start, false), j = i, k = 0;
	struct stack_kvm_range keep[2];

	for (; j < km->nattr && km->attr[j].start < end; j++)
		;
	if (i == j)
		return;
	if (km->attr[i].start < start)
		keep[k++] = (struct stack_kvm_range){ km->attr[i].start, start };
	if (km->attr[j - 1].end > end)
		keep[k++] = (struct stack_kvm_range){ end, km->attr[j - 1].end };
	attr_splice(km, i, j, keep, k);
}

uint64_t stack_kvm_get_memory_attributes(const struct stack_vm *v, uint64_t gfn)
{
	const struct stack_kvm_mem *km = v->kvm;
	size_t i;

	if (!km)
		return 0;
	i = attr_lower(km, gfn, false);
	return i < km->nattr && km->attr[i].start <= gfn ? STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
}

bool stack_kvm_range_has_attributes(const struct stack_vm *v, uint64_t start, uint64_t end,
				    uint64_t attributes)
{
	const struct stack_kvm_mem *km = v->kvm;
	size_t i;

	if (!km || attributes & ~supported_attributes(km))
		return false;
	i = attr_lower(km, start, false);
	if (attributes)   /* one run covers it all (runs are merged) */
		return i < km->nattr && km->attr[i].start <= start && km->attr[i].end >= end;
	return i == km->nattr || km->attr[i].start >= end;
}

int stack_kvm_set_memory_attributes(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
				    uint64_t size, uint64_t attributes, uint64_t flags)
{
	struct stack_kvm_mem *km = v->kvm;
	uint64_t start, end;
	struct zap *zs = NULL;
	size_t nz = 0;
	int rc;

	if (!km)
		return -ENOENT;
	/* kvm_vm_ioctl_set_mem_attributes() */
	if (flags)
		return -EINVAL;
	if (attributes & ~supported_attributes(km))
		return -EINVAL;
	if (size == 0 || gpa + size < gpa)
		return -EINVAL;
	if ((gpa & PAGE_MASK4K) || (size & PAGE_MASK4K))
		return -EINVAL;
	start = gpa >> PAGE_SHIFT;
	end = (gpa + size) >> PAGE_SHIFT;

	/* kvm_vm_set_mem_attributes(): nothing to do if the whole range has them */
	if (stack_kvm_range_has_attributes(v, start, end, attributes))
		return 0;
	/* kvm_handle_gfn_range(): the zap covers the range's parts inside memslots */
	if (v->s2) {
		for (size_t i = 0; i < km->nslots; i++) {
			const struct stack_kvm_slot *sl = &km->slots[i];
			uint64_t s = sl->base_gfn > start ? sl->base_gfn : start;
			uint64_t e = sl->base_gfn + sl->npages < end ? sl->base_gfn + sl->npages : end;

			if (s >= e)
				continue;
			zs = sim_xrealloc(zs, (nz + 1) * sizeof(*zs));
			zap_plan(km, s << PAGE_SHIFT, e << PAGE_SHIFT, &zs[nz++]);
		}
	}
	rc = zap_run(km, who, zs, nz);
	free(zs);
	if (rc)
		return rc;
	if (attributes)
		attr_set(km, start, end);
	else
		attr_clear(km, start, end);
	km->ctr.attr_changes++;
	/* kvm_arch_post_set_memory_attributes(), per slot the range meets */
	for (size_t i = 0; km->hook.post_set && i < km->nslots; i++) {
		const struct stack_kvm_slot *sl = &km->slots[i];
		uint64_t s = sl->base_gfn > start ? sl->base_gfn : start;
		uint64_t e = sl->base_gfn + sl->npages < end ? sl->base_gfn + sl->npages : end;

		if (s < e)
			km->hook.post_set(km->hook.arg, v, who, sl, s, e, attributes);
	}
	return 0;
}

int stack_kvm_set_attr_hook(struct stack_vm *v, const struct stack_kvm_attr_hook *hook)
{
	if (!v->kvm)
		return -ENOENT;
	if (hook)
		v->kvm->hook = *hook;
	else
		memset(&v->kvm->hook, 0, sizeof(v->kvm->hook));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

int stack_kvm_backing(struct stack_vm *v, uint64_t gpa, bool alloc, uint64_t *spa)
{
	struct stack_kvm_slot *sl = v->kvm ? slot_by_gfn(v->kvm, 0, gpa >> PAGE_SHIFT) : NULL;
	int rc;

	if (!sl)
		return -ENOENT;
	rc = slot_backing(v->kvm, sl, (gpa >> PAGE_SHIFT) - sl->base_gfn, alloc, spa);
	if (!rc)
		*spa += gpa & PAGE_MASK4K;
	return rc;
}

int stack_kvm_page_query(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
			 struct stack_kvm_page *out)
{
	struct stack_kvm_slot *sl = v->kvm ? slot_by_gfn(v->kvm, 0, gpa >> PAGE_SHIFT) : NULL;
	uint64_t raw;
	struct s2_pte pte;
	int level;

	memset(out, 0, sizeof(*out));
	if (!sl)
		return -ENOENT;
	out->slot = sl->id;
	out->gmem = sl->flags & STACK_KVM_MEM_GUEST_MEMFD;
	out->private_ = stack_kvm_get_memory_attributes(v, gpa >> PAGE_SHIFT) != 0;
	if (v->s2 && gpa < s2_pgt_ia_limit(v->s2) &&
	    s2_get_leaf(v->s2, who, gpa, &raw, &level, &pte) == S2_OK) {
		const struct s2_fmt_ops *f = s2_pgt_fmt(v->s2);

		for (unsigned sz = 0; sz < S2_SZ_COUNT; sz++)
			if (f->arch_level(sz, s2_pgt_levels(v->s2)) == level)
				out->leaf_size = s2_sz_bytes(sz);
		out->mapped = true;
		out->spa = pte.addr + (gpa & (out->leaf_size - 1));
	}
	if (!slot_backing(v->kvm, sl, (gpa >> PAGE_SHIFT) - sl->base_gfn, false, &out->shared_spa)) {
		out->shared_backed = true;
		out->shared_spa += gpa & PAGE_MASK4K;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Teardown                                                            */
/* ------------------------------------------------------------------ */

void stack_kvm_mem_free(struct stack_vm *v)
{
	struct stack_kvm_mem *km = v->kvm;

	if (!km)
		return;
	/* kvm_destroy_vm(): the slots go with the VM; its tables are freed whole after */
	for (size_t i = 0; i < km->nslots; i++) {
		struct stack_kvm_slot *sl = &km->slots[i];

		if (sl->flags & STACK_KVM_MEM_GUEST_MEMFD)
			sl->gmem_ops->unbind(sl->gmem, v, sl->id);
		slot_free_backing(km, sl);
	}
	sim_stat_group_remove(v->st->s, km->stats);
	free(km->slots);
	free(km->attr);
	free(km);
	v->kvm = NULL;
}
