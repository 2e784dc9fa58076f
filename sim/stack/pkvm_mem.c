/*
 * pkvm_mem.c - pKVM's page-ownership model at EL2.
 *
 * Modelled on Linux arch/arm64/kvm/hyp/nvhe/mem_protect.c (the host,
 * hyp and guest components, do_share / do_unshare / do_donate as check
 * then commit, host_stage2_idmap, host_stage2_adjust_range,
 * __pkvm_host_share_guest and friends), pgtable.c (break-before-make),
 * pkvm.c (the guest's MEM_SHARE / MEM_UNSHARE / MEM_RELINQUISH /
 * HYP_MEMINFO handlers) and the Android common kernel (guest relinquish,
 * DMA reference counts, host_inject_abort).
 *
 * Page states live where the older upstream kernels keep them: in SW
 * bits [56:55] of valid host stage-2, hyp stage-1 and guest stage-2
 * leaves (struct s2_prot.sw), and for the host in the owner id of an
 * invalid entry (0: host-owned, mapped lazily; non-zero: NOPAGE).  Only
 * what the kernels keep in hyp_vmemmap is kept beside the tables: pins,
 * DMA references, the host's share count with guests, the guest and GFN
 * a page was donated to, whether the IOMMU maps it (struct pkvm_meta).
 *
 * The hyp stage 1 is built with the arm64 stage-2 descriptor format: the
 * same VMSAv8-64 4K-granule layout for valid/table bits, output address
 * and SW bits [58:55]; only the permission encoding (AP vs S2AP) differs,
 * which this model never reads.  See docs/pkvm.md.
 */
#include "sim/stack/pkvm_mem.h"
#include "stage2/s2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE       SIM_SZ_4K
#define PAGES_2M   512u
#define NO_VM      0u
/* The hyp's prot for its own pages and borrowed ones (PAGE_HYP: RW, execute-never). */
#define HYP_PERMS  (S2_PERM_R | S2_PERM_W)
/* Host memory prot (PKVM_HOST_MEM_PROT: RWX normal memory). */
#define HOST_PERMS S2_PERM_ALL

const char *const stack_pkvm_state_names[STACK_PKVM_STATES] = {
	"owned", "shared_owned", "shared_borrowed", "nopage",
};

const char *const stack_pkvm_access_names[] = { "ok", "oops", "sigsegv", "efault" };

/* What hyp_vmemmap holds for a page (struct hyp_page), zero = the default. */
struct pkvm_meta {
	uint32_t pin;              /* hyp_pin_shared_mem references */
	uint32_t dma;              /* host DMA mappings (Android's refcount) */
	uint32_t share_guest;      /* host_share_guest_count */
	uint16_t vm;               /* VM index + 1 the page was donated to / shared from */
	bool iommu_off;            /* not in the host's IOMMU identity map */
	bool hyp_use;              /* the hyp's own page: pool or VM metadata */
	uint64_t gfn;              /* where in that VM */
};

struct pkvm_vm;

/* The page source of one table (struct kvm_pgtable_mm_ops + its pool). */
struct pkvm_mm {
	struct stack_pkvm *pk;
	struct pkvm_vm *vm;        /* a guest stage 2: its memcache; NULL: the hyp pool */
	uint32_t vmid;             /* TLB tag (stage 2s) */
	bool hyp;                  /* the hyp stage 1 */
};

struct pkvm_vm {
	bool used;
	bool prot;                 /* a protected VM */
	bool dying;                /* torn down, pages to reclaim */
	uint32_t handle;
	uint32_t vmid;
	struct s2_pgt *pgt;
	struct pkvm_mm mm;
	uint64_t *mc;              /* memcache: free table pages */
	size_t nmc, capmc;
	uint64_t *meta;            /* every page donated for the VM (struct, root, memcache) */
	size_t nmeta, capmeta;
	uint64_t pages;            /* guest OWNED / SHARED_OWNED pages of host memory */
};

struct stack_pkvm {
	struct sim *s;
	struct sim_mem *mem;
	struct s2_ctx *s2;
	struct stack_pkvm_cfg cfg;
	struct s2_pgt *host;       /* host stage 2 (identity) */
	struct s2_pgt *hyp;        /* hyp stage 1 */
	struct pkvm_mm host_mm, hyp_mm;
	uint64_t *pool;            /* free hyp pool pages (popped from the end) */
	size_t npool;
	struct pkvm_meta **chunk;  /* per 2M of host memory, allocated on first write */
	size_t nchunk;
	struct pkvm_vm vm[STACK_PKVM_MAX_VMS];
	struct stack_pkvm_iommu_ops iommu;
	uint32_t tlbi_cost;        /* lat.s2.tlbi_ipa */
	uint32_t tlbi_vm_cost;     /* lat.s2.tlbi_vm */
	struct pkvm_op *op;        /* the operation running (break-before-make charges it) */
	bool unmapping;            /* in s2_unmap: a TLBI the library asks for frees a table */
	struct stack_pkvm_stats ctr;
	struct sim_stat_group *stats;
};

/* One timed operation. */
struct pkvm_op {
	struct stack_pkvm *pk;
	struct sim_who *who;
	uint64_t *cycles;
};

static void charge(struct pkvm_op *op, uint64_t c)
{
	if (op->cycles)
		*op->cycles += c;
}

static void op_begin(struct pkvm_op *op, struct stack_pkvm *pk, struct sim_who *who,
		     uint64_t *cycles)
{
	op->pk = pk;
	op->who = who;
	op->cycles = cycles;
	pk->op = op;
}

/* A host hypercall: the software cost, counted, its result counted. */
static void hvc_begin(struct pkvm_op *op, struct stack_pkvm *pk, struct sim_who *who,
		      uint64_t *cycles)
{
	op_begin(op, pk, who, cycles);
	pk->ctr.hvc++;
	charge(op, pk->cfg.hvc_cycles);
}

static int hvc_end(struct pkvm_op *op, int rc)
{
	if (rc)
		op->pk->ctr.hvc_err++;
	op->pk->op = NULL;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Per-page metadata                                                   */
/* ------------------------------------------------------------------ */

static bool is_memory(const struct stack_pkvm *pk, uint64_t pa, uint64_t size)
{
	const struct stack_pkvm_cfg *c = &pk->cfg;

	return size && pa >= c->mem_base && pa < c->mem_base + c->mem_size &&
	       size <= c->mem_base + c->mem_size - pa;
}

/* Pages [pfn, pfn + n) are host memory (and the count does not overflow). */
static bool pfns_ok(const struct stack_pkvm *pk, uint64_t pfn, uint64_t n)
{
	if (!n || pfn > (SIM_PA_LIMIT >> 12) || n > (SIM_PA_LIMIT >> 12))
		return false;
	return is_memory(pk, pfn << 12, n << 12);
}

static const struct pkvm_meta zero_meta;

static const struct pkvm_meta *meta_peek(const struct stack_pkvm *pk, uint64_t pa)
{
	uint64_t i = (pa - pk->cfg.mem_base) >> 12;
	const struct pkvm_meta *c = pk->chunk[i / PAGES_2M];

	return c ? &c[i % PAGES_2M] : &zero_meta;
}

static struct pkvm_meta *meta(struct stack_pkvm *pk, uint64_t pa)
{
	uint64_t i = (pa - pk->cfg.mem_base) >> 12;
	struct pkvm_meta **c = &pk->chunk[i / PAGES_2M];

	if (!*c)
		*c = sim_xcalloc(PAGES_2M, sizeof(**c));
	return &(*c)[i % PAGES_2M];
}

/* ------------------------------------------------------------------ */
/* Table page sources and TLB maintenance                              */
/* ------------------------------------------------------------------ */

static void push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			sim_fatal("pkvm: out of host memory");
	}
	(*v)[(*n)++] = x;
}

static uint64_t mm_alloc(void *arg, struct sim_who *who)
{
	struct pkvm_mm *m = arg;

	(void)who;
	if (m->vm)
		return m->vm->nmc ? m->vm->mc[--m->vm->nmc] : S2_NO_PAGE;
	return m->pk->npool ? m->pk->pool[--m->pk->npool] : S2_NO_PAGE;
}

static void mm_free(void *arg, uint64_t addr)
{
	struct pkvm_mm *m = arg;

	if (m->vm) {
		push(&m->vm->mc, &m->vm->nmc, &m->vm->capmc, addr);
		return;
	}
	if (m->pk->npool >= m->pk->cfg.pool_pages)
		sim_fatal("pkvm: table page 0x%llx freed into a full hyp pool", (unsigned long long)addr);
	m->pk->pool[m->pk->npool++] = addr;
}

/*
 * TLBI by IPA over [ia, ia + bytes) of @vmid and DSB: counted, its cost
 * charged.  @ctr is the hyp's counter: its stage 1 has no TLB modelled
 * (nothing the model runs translates through it), so no MMU is touched.
 */
static void tlbi_range(struct stack_pkvm *pk, uint32_t vmid, uint64_t ia, uint64_t bytes,
		       uint64_t *ctr)
{
	if (pk->s2 && ctr != &pk->ctr.tlbi_hyp)
		s2_ctx_tlbi_range(pk->s2, vmid, ia, bytes);
	(*ctr)++;
	if (pk->op)
		charge(pk->op, pk->tlbi_cost);
}

/*
 * The library asks for a TLBI: break-before-make of a block it splits,
 * or (inside s2_unmap) a table page it frees, which walk caches may hold.
 */
static void mm_tlbi(void *arg, uint64_t ia, uint64_t bytes)
{
	struct pkvm_mm *m = arg;
	struct stack_pkvm *pk = m->pk;

	if (!pk->unmapping)
		pk->ctr.bbm++;
	if (m->hyp)
		tlbi_range(pk, 0, ia, bytes, &pk->ctr.tlbi_hyp);
	else
		tlbi_range(pk, m->vmid, ia, bytes, m->vm ? &pk->ctr.tlbi_guest : &pk->ctr.tlbi_host);
}

static const struct s2_mm_ops pkvm_mm_ops = {
	.alloc_page = mm_alloc,
	.free_page = mm_free,
	.tlbi = mm_tlbi,
};

/* ------------------------------------------------------------------ */
/* Untimed table reading (inspection, invariants, TLBI bookkeeping)    */
/* ------------------------------------------------------------------ */

typedef void (*leaf_fn)(void *arg, uint64_t ia, uint64_t size, const struct s2_pte *pte);

static void peek_table(const struct s2_pgt *p, uint64_t table, unsigned sz, uint64_t base,
		       uint64_t lo, uint64_t hi, leaf_fn fn, void *arg)
{
	const struct s2_fmt_ops *f = s2_pgt_fmt(p);
	uint64_t esz = s2_sz_bytes(sz);

	for (unsigned i = 0; i < 512; i++) {
		uint64_t ia = base + i * esz;
		struct s2_pte pte;

		if (ia + esz <= lo || ia >= hi)
			continue;
		f->decode(sim_mem_peek64(s2_pgt_mem(p), table + 8 * i), sz, &pte);
		if (pte.type == S2_PTE_TABLE && sz > 0)
			peek_table(p, pte.addr, sz - 1, ia, lo, hi, fn, arg);
		else
			fn(arg, ia, esz, &pte);
	}
}

/* Every entry that ends a walk in [lo, hi): valid leaves and invalid entries. */
static void peek_range(const struct s2_pgt *p, uint64_t lo, uint64_t hi, leaf_fn fn, void *arg)
{
	unsigned top = s2_pgt_levels(p) - 1;

	peek_table(p, s2_pgt_root(p), top, 0, lo, hi, fn, arg);
}

struct leaf_count {
	uint64_t lo, hi;
	uint64_t n;                /* valid leaves meeting [lo, hi) */
	uint64_t start, end;       /* the first one's part of the range */
};

static void count_valid(void *arg, uint64_t ia, uint64_t size, const struct s2_pte *pte)
{
	struct leaf_count *c = arg;

	if (pte->type != S2_PTE_LEAF)
		return;
	if (!c->n) {
		c->start = ia > c->lo ? ia : c->lo;
		c->end = ia + size < c->hi ? ia + size : c->hi;
	}
	c->n++;
}

/* The valid leaves of @p meeting [lo, hi). */
static void valid_leaves(const struct s2_pgt *p, uint64_t lo, uint64_t hi, struct leaf_count *c)
{
	c->lo = lo;
	c->hi = hi;
	c->n = 0;
	peek_range(p, lo, hi, count_valid, c);
}

/* State of a decoded entry: host (invalid 0 = OWNED) or hyp/guest (invalid = NOPAGE). */
static enum stack_pkvm_state pte_state(const struct s2_pte *pte, bool host)
{
	if (pte->type == S2_PTE_LEAF)
		return (enum stack_pkvm_state)(pte->prot.sw & 3);
	if (host && pte->type == S2_PTE_INVALID && !pte->owner)
		return STACK_PKVM_OWNED;
	return STACK_PKVM_NOPAGE;
}

/* Untimed state of one address in @p; *@pa / *@size of a valid leaf, *@owner of an invalid one. */
static enum stack_pkvm_state peek_state(const struct s2_pgt *p, uint64_t ia, bool host,
					uint64_t *pa, uint64_t *size, uint8_t *owner)
{
	struct s2_path path;

	(void)s2_pgt_path(p, ia, &path);
	if (owner)
		*owner = path.outcome == S2_PATH_TRANSLATION ? path.owner : 0;
	if (path.outcome == S2_PATH_OK) {
		if (pa)
			*pa = path.pa;
		if (size)
			*size = path.size;
		return (enum stack_pkvm_state)(path.sw & 3);
	}
	if (path.outcome == S2_PATH_TRANSLATION && host && !path.owner)
		return STACK_PKVM_OWNED;
	return STACK_PKVM_NOPAGE;
}

/* ------------------------------------------------------------------ */
/* Timed state checks (check_page_state_range)                         */
/* ------------------------------------------------------------------ */

#define CHECK_MISMATCH 100   /* visitor result: a page is not in the wanted state */
#define CHECK_NOTMEM   101   /* visitor result: a valid host leaf outside memory */

struct check_data {
	const struct stack_pkvm *pk;
	bool host;
	enum stack_pkvm_state want;
};

static int check_visit(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	const struct check_data *d = ctx->arg;
	struct s2_pte pte;

	(void)when;
	s2_pgt_fmt(ctx->pgt)->decode(ctx->old, ctx->sz, &pte);
	if (d->host && pte.type == S2_PTE_LEAF && !is_memory(d->pk, pte.addr, PAGE))
		return CHECK_NOTMEM;
	return pte_state(&pte, d->host) == d->want ? 0 : CHECK_MISMATCH;
}

/* Every page of [addr, addr + size) of @p is in state @want: 0, -EPERM, -EINVAL. */
static int check_range(struct pkvm_op *op, struct s2_pgt *p, bool host, uint64_t addr,
		       uint64_t size, enum stack_pkvm_state want)
{
	struct check_data d = { op->pk, host, want };
	struct s2_walker w = { .visit = check_visit, .arg = &d, .flags = S2_WALK_LEAF };
	int r = s2_walk(p, op->who, addr, size, &w);

	switch (r) {
	case 0:              return 0;
	case CHECK_MISMATCH: return -EPERM;
	case CHECK_NOTMEM:   return -EINVAL;
	default:             return -EINVAL;   /* outside the table's range */
	}
}

static int host_check(struct pkvm_op *op, uint64_t pa, uint64_t size, enum stack_pkvm_state want)
{
	return check_range(op, op->pk->host, true, pa, size, want);
}

static int hyp_check(struct pkvm_op *op, uint64_t pa, uint64_t size, enum stack_pkvm_state want)
{
	return check_range(op, op->pk->hyp, false, pa + op->pk->cfg.hyp_va_offset, size, want);
}

static int guest_check(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa, uint64_t size,
		       enum stack_pkvm_state want)
{
	return check_range(op, vm->pgt, false, ipa, size, want);
}

/* No page of the range has a pin or a DMA reference (hyp_page_count == 0). */
static int check_unreferenced(const struct stack_pkvm *pk, uint64_t pa, uint64_t size)
{
	for (uint64_t a = pa; a < pa + size; a += PAGE) {
		const struct pkvm_meta *m = meta_peek(pk, a);

		if (m->pin || m->dma)
			return -EBUSY;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Table changes (the commits' building blocks)                        */
/* ------------------------------------------------------------------ */

static void must(int r, const char *what, uint64_t addr, uint64_t size)
{
	if (r != S2_OK)
		sim_fatal("pkvm: %s addr=0x%llx size=0x%llx: %s (a checked transition failed)",
			  what, (unsigned long long)addr, (unsigned long long)size, s2_rc_name(r));
}

/* s2_unmap, its table frees told apart from break-before-make. */
static int unmap(struct stack_pkvm *pk, struct s2_pgt *p, struct sim_who *who, uint64_t ia,
		 uint64_t size)
{
	int r;

	pk->unmapping = true;
	r = s2_unmap(p, who, ia, size);
	pk->unmapping = false;
	return r;
}

/* Table pages a @wop on @p over [ia, ia + size) would take. */
static uint64_t wset_tables(struct s2_pgt *p, enum s2_wset_op wop, uint64_t ia, uint64_t pa,
			    uint64_t size, uint64_t leaf, const struct s2_prot *prot)
{
	struct s2_wset ws = { 0 };
	uint64_t n;
	int r = s2_write_set(p, wop, ia, pa, size, leaf, prot, &ws);

	n = ws.new_tables;
	s2_wset_free(&ws);
	if (r != S2_OK)
		sim_fatal("pkvm: write set of op %d at 0x%llx: %s", (int)wop, (unsigned long long)ia,
			  s2_rc_name(r));
	return n;
}

/* Whole 2M blocks inside [a, a + size). */
static uint64_t whole_2m(uint64_t a, uint64_t size)
{
	uint64_t lo = (a + SIM_SZ_2M - 1) & ~(SIM_SZ_2M - 1), hi = (a + size) & ~(SIM_SZ_2M - 1);

	return hi > lo ? (hi - lo) / SIM_SZ_2M : 0;
}

/* Pool pages a host_set_state over the range may take (exact, or one over per whole 2M). */
static uint64_t host_state_tables(struct stack_pkvm *pk, uint64_t pa, uint64_t size)
{
	struct s2_prot prot = { .perms = HOST_PERMS };
	struct leaf_count c;

	valid_leaves(pk->host, pa, pa + size, &c);
	if (!c.n)
		return wset_tables(pk->host, S2_WSET_MAP, pa, pa, size, PAGE, &prot);
	return wset_tables(pk->host, S2_WSET_ANNOTATE, pa, 0, size, 0, NULL) + whole_2m(pa, size);
}

/*
 * Invalidate the valid leaves of @c a change removed: one TLBI by IPA for
 * one leaf, one range TLBI (FEAT_TLBIRANGE, as kvm_tlb_flush_vmid_range)
 * for several.
 */
static void tlbi_leaves(struct stack_pkvm *pk, uint32_t vmid, const struct leaf_count *c,
			uint64_t *ctr, bool bbm)
{
	if (c->n == 1)
		tlbi_range(pk, vmid, c->start, c->end - c->start, ctr);
	else if (c->n > 1)
		tlbi_range(pk, vmid, c->lo, c->hi - c->lo, ctr);
	if (bbm)
		pk->ctr.bbm += c->n;
}

/*
 * host_stage2_set_owner_locked: [pa, pa + size) becomes invalid holding
 * @owner (0: host-owned again, mapped on the next fault); leaves that were
 * valid are invalidated in the TLBs.
 */
static void host_set_owner(struct pkvm_op *op, uint64_t pa, uint64_t size, uint8_t owner)
{
	struct stack_pkvm *pk = op->pk;
	struct leaf_count c;

	valid_leaves(pk->host, pa, pa + size, &c);
	must(s2_annotate(pk->host, op->who, pa, size, owner), "host set_owner", pa, size);
	tlbi_leaves(pk, pk->cfg.host_vmid, &c, &pk->ctr.tlbi_host, false);
}

/*
 * __host_set_page_state_range: [pa, pa + size) mapped at 4K with @state
 * in the SW bits (a non-default state forces page granularity).  A valid
 * entry is replaced by break-before-make.
 */
static void host_set_state(struct pkvm_op *op, uint64_t pa, uint64_t size,
			   enum stack_pkvm_state state)
{
	struct stack_pkvm *pk = op->pk;
	struct s2_prot prot = { .perms = HOST_PERMS, .sw = (uint8_t)state };
	struct leaf_count c;

	valid_leaves(pk->host, pa, pa + size, &c);
	if (c.n) {
		must(s2_annotate(pk->host, op->who, pa, size, 0), "host break", pa, size);
		tlbi_leaves(pk, pk->cfg.host_vmid, &c, &pk->ctr.tlbi_host, true);
	}
	must(s2_map(pk->host, op->who, pa, pa, size, PAGE, &prot), "host set_state", pa, size);
}

static uint64_t hyp_va(const struct stack_pkvm *pk, uint64_t pa)
{
	return pa + pk->cfg.hyp_va_offset;
}

/* pkvm_create_mappings_locked: hyp stage 1 maps the pages with @state. */
static void hyp_map(struct pkvm_op *op, uint64_t pa, uint64_t size, enum stack_pkvm_state state)
{
	struct s2_prot prot = { .perms = HYP_PERMS, .sw = (uint8_t)state };

	must(s2_map(op->pk->hyp, op->who, hyp_va(op->pk, pa), pa, size, PAGE, &prot), "hyp map",
	     pa, size);
}

/* kvm_pgtable_hyp_unmap + TLBI VALE2IS per page. */
static void hyp_unmap(struct pkvm_op *op, uint64_t pa, uint64_t size)
{
	struct stack_pkvm *pk = op->pk;
	struct leaf_count c;

	valid_leaves(pk->hyp, hyp_va(pk, pa), hyp_va(pk, pa) + size, &c);
	must(unmap(pk, pk->hyp, op->who, hyp_va(pk, pa), size), "hyp unmap", pa, size);
	tlbi_leaves(pk, 0, &c, &pk->ctr.tlbi_hyp, false);
}

static uint64_t hyp_map_tables(struct stack_pkvm *pk, uint64_t pa, uint64_t size)
{
	struct s2_prot prot = { .perms = HYP_PERMS };

	return wset_tables(pk->hyp, S2_WSET_MAP, hyp_va(pk, pa), pa, size, PAGE, &prot);
}

/* Guest stage 2: unmap + TLBI IPAS2E1IS on its VMID. */
static void guest_unmap(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa, uint64_t size)
{
	struct stack_pkvm *pk = op->pk;
	struct leaf_count c;

	valid_leaves(vm->pgt, ipa, ipa + size, &c);
	must(unmap(pk, vm->pgt, op->who, ipa, size), "guest unmap", ipa, size);
	tlbi_leaves(pk, vm->vmid, &c, &pk->ctr.tlbi_guest, false);
}

/* Guest stage 2 replace a valid leaf's state (break-before-make). */
static void guest_set_state(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa, uint64_t pa,
			    uint64_t size, uint8_t perms, enum stack_pkvm_state state)
{
	struct s2_prot prot = { .perms = perms, .sw = (uint8_t)state };
	struct leaf_count c;

	valid_leaves(vm->pgt, ipa, ipa + size, &c);
	if (c.n) {
		must(s2_annotate(vm->pgt, op->who, ipa, size, 0), "guest break", ipa, size);
		tlbi_leaves(op->pk, vm->vmid, &c, &op->pk->ctr.tlbi_guest, true);
	}
	must(s2_map(vm->pgt, op->who, ipa, pa, size, size == SIM_SZ_2M ? SIM_SZ_2M : PAGE, &prot),
	     "guest map", ipa, size);
}

/* The host's IOMMU identity map loses / regains the pages. */
static void iommu_unmap(struct pkvm_op *op, uint64_t pa, uint64_t size)
{
	struct stack_pkvm *pk = op->pk;

	if (pk->iommu.unmap)
		pk->iommu.unmap(pk->iommu.arg, op->who, pa, size, op->cycles);
	for (uint64_t a = pa; a < pa + size; a += PAGE) {
		meta(pk, a)->iommu_off = true;
		pk->ctr.iommu_unmap++;
	}
}

static void iommu_map(struct pkvm_op *op, uint64_t pa, uint64_t size)
{
	struct stack_pkvm *pk = op->pk;

	for (uint64_t a = pa; a < pa + size; a += PAGE) {
		meta(pk, a)->iommu_off = false;
		pk->ctr.iommu_map++;
	}
	if (pk->iommu.map)
		pk->iommu.map(pk->iommu.arg, op->who, pa, size, op->cycles);
}

/* hyp_poison_page: zero the page (a timed 4K write by the hypervisor; clean to PoC). */
static void poison(struct pkvm_op *op, uint64_t pa)
{
	static const uint8_t zero[PAGE];
	uint32_t c = sim_mem_write(op->pk->mem, op->who ? op->who->agent : -1, SIM_SRC_DATA, pa,
				   zero, (uint32_t)PAGE);

	if (op->who)
		op->who->mem_cycles += c;
	op->pk->ctr.poisoned++;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

void stack_pkvm_cfg_default(struct stack_pkvm_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host_levels = 4;
	cfg->host_vmid = 0xFFFF;
	cfg->guest_vmid_base = 0x1000;
	cfg->hyp_va_offset = 1ull << 46;
	cfg->hvc_cycles = 500;
	cfg->guest_hvc_cycles = 500;
	cfg->abort_cycles = 500;
	cfg->inject_cycles = 200;
	cfg->guest_range = true;
}

static const struct sim_stat_desc pkvm_stat_desc[] = {
#define F(f) offsetof(struct stack_pkvm_stats, f)
	{ "hvc", SIM_STAT_COUNTER, F(hvc), "host hypercalls to pKVM" },
	{ "hvc_err", SIM_STAT_COUNTER, F(hvc_err), "host hypercalls refused (negative return)" },
	{ "share_hyp", SIM_STAT_COUNTER, F(share_hyp), "pages shared host -> hyp" },
	{ "unshare_hyp", SIM_STAT_COUNTER, F(unshare_hyp), "pages unshared from the hyp" },
	{ "donate_hyp", SIM_STAT_COUNTER, F(donate_hyp), "pages donated host -> hyp" },
	{ "hyp_donate_host", SIM_STAT_COUNTER, F(hyp_donate_host), "pages donated hyp -> host" },
	{ "share_guest", SIM_STAT_COUNTER, F(share_guest), "pages shared host -> non-protected guest" },
	{ "unshare_guest", SIM_STAT_COUNTER, F(unshare_guest), "pages unshared from non-protected guests" },
	{ "donate_guest", SIM_STAT_COUNTER, F(donate_guest), "pages donated host -> protected guest" },
	{ "pins", SIM_STAT_COUNTER, F(pins), "page pins taken by the hyp (hyp_pin_shared_mem)" },
	{ "unpins", SIM_STAT_COUNTER, F(unpins), "page pins dropped" },
	{ "dma_use", SIM_STAT_COUNTER, F(dma_use), "host DMA mappings taken (pages)" },
	{ "dma_unuse", SIM_STAT_COUNTER, F(dma_unuse), "host DMA mappings dropped (pages)" },
	{ "guest_hvc", SIM_STAT_COUNTER, F(guest_hvc), "guest hypercalls handled at EL2" },
	{ "guest_exits", SIM_STAT_COUNTER, F(guest_exits), "guest hypercalls forwarded to the host" },
	{ "guest_share", SIM_STAT_COUNTER, F(guest_share), "pages guests shared with the host (MEM_SHARE)" },
	{ "guest_unshare", SIM_STAT_COUNTER, F(guest_unshare), "pages guests took back (MEM_UNSHARE)" },
	{ "guest_relinquish", SIM_STAT_COUNTER, F(guest_relinquish), "pages guests relinquished (MEM_RELINQUISH)" },
	{ "host_aborts", SIM_STAT_COUNTER, F(host_aborts), "host stage-2 aborts taken to EL2" },
	{ "idmap_4k", SIM_STAT_COUNTER, F(idmap_4k), "lazy host stage-2 maps at 4K" },
	{ "idmap_2m", SIM_STAT_COUNTER, F(idmap_2m), "lazy host stage-2 maps at 2M" },
	{ "idmap_1g", SIM_STAT_COUNTER, F(idmap_1g), "lazy host stage-2 maps at 1G" },
	{ "injected", SIM_STAT_COUNTER, F(injected), "aborts injected into the host (page not host-owned)" },
	{ "tlbi_host", SIM_STAT_COUNTER, F(tlbi_host), "TLBI IPAS2E1IS on the host VMID" },
	{ "tlbi_guest", SIM_STAT_COUNTER, F(tlbi_guest), "TLBI IPAS2E1IS on a guest VMID" },
	{ "tlbi_hyp", SIM_STAT_COUNTER, F(tlbi_hyp), "TLBI VALE2IS (hyp stage 1)" },
	{ "tlbi_vm", SIM_STAT_COUNTER, F(tlbi_vm), "TLBI VMALLS12E1IS (a guest at teardown)" },
	{ "bbm", SIM_STAT_COUNTER, F(bbm), "valid entries replaced by break-before-make" },
	{ "poisoned", SIM_STAT_COUNTER, F(poisoned), "guest pages zeroed on their way back to the host" },
	{ "iommu_unmap", SIM_STAT_COUNTER, F(iommu_unmap), "pages taken out of the host's IOMMU identity map" },
	{ "iommu_map", SIM_STAT_COUNTER, F(iommu_map), "pages put back into the host's IOMMU identity map" },
	{ "vms", SIM_STAT_COUNTER, F(vms), "VMs created" },
	{ "teardowns", SIM_STAT_COUNTER, F(teardowns), "VMs torn down" },
	{ "reclaimed", SIM_STAT_COUNTER, F(reclaimed), "pages reclaimed from dead VMs" },
	{ NULL, 0, 0, NULL },
#undef F
};

static int cfg_check(const struct stack_pkvm_cfg *c, struct sim_err *err)
{
	if ((c->mem_base | c->mem_size | c->pool_base | c->hyp_va_offset) & (PAGE - 1)) {
		snprintf(err->msg, sizeof(err->msg), "pkvm: memory, pool and hyp VA offset must be 4K aligned");
		return -1;
	}
	if (!c->mem_size || c->mem_base + c->mem_size > SIM_PA_LIMIT ||
	    c->mem_base + c->mem_size < c->mem_base) {
		snprintf(err->msg, sizeof(err->msg), "pkvm: host memory 0x%llx+0x%llx: empty or beyond 2^52",
			 (unsigned long long)c->mem_base, (unsigned long long)c->mem_size);
		return -1;
	}
	if (c->host_levels < 3 || c->host_levels > 4) {
		snprintf(err->msg, sizeof(err->msg), "pkvm: host_levels = %u: must be 3 or 4", c->host_levels);
		return -1;
	}
	if (c->mem_base + c->mem_size > (1ull << (12 + 9 * c->host_levels)) ||
	    c->mem_base + c->mem_size + c->hyp_va_offset > (1ull << 48)) {
		snprintf(err->msg, sizeof(err->msg), "pkvm: host memory beyond the stage-2 or hyp VA range");
		return -1;
	}
	if (c->pool_pages < 16 || c->pool_pages > c->mem_size / PAGE ||
	    !(c->pool_base >= c->mem_base &&
	      c->pool_base + c->pool_pages * PAGE <= c->mem_base + c->mem_size)) {
		snprintf(err->msg, sizeof(err->msg),
			 "pkvm: hyp pool 0x%llx+%llu pages: must be 16 pages or more inside host memory",
			 (unsigned long long)c->pool_base, (unsigned long long)c->pool_pages);
		return -1;
	}
	return 0;
}

struct stack_pkvm *stack_pkvm_new(struct sim *s, struct sim_mem *mem, struct s2_ctx *s2,
				  const struct stack_pkvm_cfg *cfg, struct sim_who *who,
				  struct sim_err *err)
{
	const struct s2_fmt_ops *fmt = s2_fmt(S2_FMT_ARM64);
	uint64_t pool_size = cfg->pool_pages * PAGE;
	struct stack_pkvm *pk;
	struct pkvm_op op;
	int rc;

	if (cfg_check(cfg, err))
		return NULL;
	pk = sim_xcalloc(1, sizeof(*pk));
	pk->s = s;
	pk->mem = mem;
	pk->s2 = s2;
	pk->cfg = *cfg;
	if (s2) {
		pk->tlbi_cost = s2_ctx_timing(s2)->tlbi_ipa;
		pk->tlbi_vm_cost = s2_ctx_timing(s2)->tlbi_vm;
	}
	pk->nchunk = (size_t)((cfg->mem_size + SIM_SZ_2M - 1) / SIM_SZ_2M);
	pk->chunk = sim_xcalloc(pk->nchunk, sizeof(*pk->chunk));
	pk->pool = sim_xcalloc((size_t)cfg->pool_pages, sizeof(*pk->pool));
	for (uint64_t i = cfg->pool_pages; i-- > 0;)   /* lowest page handed out first */
		pk->pool[pk->npool++] = cfg->pool_base + i * PAGE;
	pk->host_mm = (struct pkvm_mm){ pk, NULL, cfg->host_vmid, false };
	pk->hyp_mm = (struct pkvm_mm){ pk, NULL, 0, true };
	op_begin(&op, pk, who, NULL);
	pk->host = s2_pgt_new(fmt, cfg->host_levels, mem, S2_NO_PAGE, &pkvm_mm_ops, &pk->host_mm,
			      who, &rc);
	if (pk->host)
		pk->hyp = s2_pgt_new(fmt, 4, mem, S2_NO_PAGE, &pkvm_mm_ops, &pk->hyp_mm, who, &rc);
	if (!pk->hyp)
		goto out_nomem;
	/* The pool is the hyp's from the start (kvm_host_prepare_stage2, fix_host_ownership). */
	if (wset_tables(pk->host, S2_WSET_ANNOTATE, cfg->pool_base, 0, pool_size, 0, NULL) +
	    hyp_map_tables(pk, cfg->pool_base, pool_size) > pk->npool)
		goto out_nomem;
	host_set_owner(&op, cfg->pool_base, pool_size, STACK_PKVM_ID_HYP);
	hyp_map(&op, cfg->pool_base, pool_size, STACK_PKVM_OWNED);
	for (uint64_t a = cfg->pool_base; a < cfg->pool_base + pool_size; a += PAGE) {
		meta(pk, a)->hyp_use = true;
		meta(pk, a)->iommu_off = true;
	}
	pk->op = NULL;
	if (s)
		pk->stats = sim_stat_group_add(s, "stack.pkvm", pkvm_stat_desc, &pk->ctr);
	return pk;

out_nomem:
	snprintf(err->msg, sizeof(err->msg), "pkvm: hyp pool of %llu pages too small for its tables",
		 (unsigned long long)cfg->pool_pages);
	pk->op = NULL;
	stack_pkvm_free(pk);
	return NULL;
}

static void vm_release(struct pkvm_vm *vm)
{
	if (vm->pgt)
		s2_pgt_free(vm->pgt);
	free(vm->mc);
	free(vm->meta);
	memset(vm, 0, sizeof(*vm));
}

void stack_pkvm_free(struct stack_pkvm *pk)
{
	if (!pk)
		return;
	if (pk->stats)
		sim_stat_group_remove(pk->s, pk->stats);
	for (unsigned i = 0; i < STACK_PKVM_MAX_VMS; i++)
		if (pk->vm[i].used)
			vm_release(&pk->vm[i]);
	if (pk->hyp)
		s2_pgt_free(pk->hyp);
	if (pk->host)
		s2_pgt_free(pk->host);
	for (size_t i = 0; i < pk->nchunk; i++)
		free(pk->chunk[i]);
	free(pk->chunk);
	free(pk->pool);
	free(pk);
}

const struct stack_pkvm_stats *stack_pkvm_stats(const struct stack_pkvm *pk) { return &pk->ctr; }
const struct stack_pkvm_cfg *stack_pkvm_cfg(const struct stack_pkvm *pk) { return &pk->cfg; }
struct s2_pgt *stack_pkvm_host_pgt(struct stack_pkvm *pk) { return pk->host; }
uint64_t stack_pkvm_pool_free(const struct stack_pkvm *pk) { return pk->npool; }

void stack_pkvm_set_iommu_ops(struct stack_pkvm *pk, const struct stack_pkvm_iommu_ops *ops)
{
	if (ops)
		pk->iommu = *ops;
	else
		memset(&pk->iommu, 0, sizeof(pk->iommu));
}

/* ------------------------------------------------------------------ */
/* Host <-> hyp                                                        */
/* ------------------------------------------------------------------ */

/*
 * host_share_hyp (do_share):
 *   Initiator (host): OWNED   => SHARED_OWNED
 *   Completer (hyp):  NOPAGE  => SHARED_BORROWED
 */
int stack_pkvm_host_share_hyp(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			      uint64_t *cycles)
{
	struct pkvm_op op;
	uint64_t pa = pfn << 12;
	int rc;

	hvc_begin(&op, pk, who, cycles);
	if (!pfns_ok(pk, pfn, 1))
		return hvc_end(&op, -EINVAL);
	rc = host_check(&op, pa, PAGE, STACK_PKVM_OWNED);
	if (!rc)
		rc = hyp_check(&op, pa, PAGE, STACK_PKVM_NOPAGE);
	if (!rc && host_state_tables(pk, pa, PAGE) + hyp_map_tables(pk, pa, PAGE) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return hvc_end(&op, rc);
	host_set_state(&op, pa, PAGE, STACK_PKVM_SHARED_OWNED);
	hyp_map(&op, pa, PAGE, STACK_PKVM_SHARED_BORROWED);
	pk->ctr.share_hyp++;
	return hvc_end(&op, 0);
}

/*
 * host_unshare_hyp (do_unshare):
 *   Initiator (host): SHARED_OWNED    => OWNED
 *   Completer (hyp):  SHARED_BORROWED => NOPAGE   (refused while pinned)
 */
int stack_pkvm_host_unshare_hyp(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				uint64_t *cycles)
{
	struct pkvm_op op;
	uint64_t pa = pfn << 12;
	int rc;

	hvc_begin(&op, pk, who, cycles);
	if (!pfns_ok(pk, pfn, 1))
		return hvc_end(&op, -EINVAL);
	rc = host_check(&op, pa, PAGE, STACK_PKVM_SHARED_OWNED);
	if (!rc && meta_peek(pk, pa)->pin)
		rc = -EBUSY;
	if (!rc)
		rc = hyp_check(&op, pa, PAGE, STACK_PKVM_SHARED_BORROWED);
	if (!rc && host_state_tables(pk, pa, PAGE) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return hvc_end(&op, rc);
	host_set_state(&op, pa, PAGE, STACK_PKVM_OWNED);
	hyp_unmap(&op, pa, PAGE);
	pk->ctr.unshare_hyp++;
	return hvc_end(&op, 0);
}

/* host -> hyp donation, shared by the hypercall and VM creation (no hvc accounting). */
static int donate_hyp(struct pkvm_op *op, uint64_t pfn, uint64_t n)
{
	struct stack_pkvm *pk = op->pk;
	uint64_t pa = pfn << 12, size = n << 12;
	int rc;

	if (!pfns_ok(pk, pfn, n))
		return -EINVAL;
	rc = host_check(op, pa, size, STACK_PKVM_OWNED);
	if (!rc)
		rc = check_unreferenced(pk, pa, size);
	if (!rc)
		rc = hyp_check(op, pa, size, STACK_PKVM_NOPAGE);
	if (!rc && wset_tables(pk->host, S2_WSET_ANNOTATE, pa, 0, size, 0, NULL) +
		   hyp_map_tables(pk, pa, size) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return rc;
	/*
	 * do_donate:
	 *   Initiator (host): OWNED  => NOPAGE (owner HYP; out of the IOMMU first)
	 *   Completer (hyp):  NOPAGE => OWNED
	 */
	iommu_unmap(op, pa, size);
	host_set_owner(op, pa, size, STACK_PKVM_ID_HYP);
	hyp_map(op, pa, size, STACK_PKVM_OWNED);
	pk->ctr.donate_hyp += n;
	return 0;
}

int stack_pkvm_host_donate_hyp(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			       uint64_t n, uint64_t *cycles)
{
	struct pkvm_op op;

	hvc_begin(&op, pk, who, cycles);
	return hvc_end(&op, donate_hyp(&op, pfn, n));
}

/* hyp -> host donation (teardown), no hvc accounting. */
static int donate_host(struct pkvm_op *op, uint64_t pfn, uint64_t n, bool own_use)
{
	struct stack_pkvm *pk = op->pk;
	uint64_t pa = pfn << 12, size = n << 12;
	int rc;

	if (!pfns_ok(pk, pfn, n))
		return -EINVAL;
	rc = hyp_check(op, pa, size, STACK_PKVM_OWNED);
	if (!rc)
		rc = host_check(op, pa, size, STACK_PKVM_NOPAGE);
	for (uint64_t a = pa; !rc && !own_use && a < pa + size; a += PAGE)
		if (meta_peek(pk, a)->hyp_use)
			rc = -EBUSY;
	if (!rc && wset_tables(pk->host, S2_WSET_ANNOTATE, pa, 0, size, 0, NULL) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return rc;
	/*
	 * do_donate:
	 *   Initiator (hyp):  OWNED  => NOPAGE
	 *   Completer (host): NOPAGE => OWNED (mapped again on its next fault)
	 */
	hyp_unmap(op, pa, size);
	host_set_owner(op, pa, size, STACK_PKVM_ID_HOST);
	for (uint64_t a = pa; a < pa + size; a += PAGE)
		meta(pk, a)->hyp_use = false;
	iommu_map(op, pa, size);
	pk->ctr.hyp_donate_host += n;
	return 0;
}

int stack_pkvm_hyp_donate_host(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			       uint64_t n, uint64_t *cycles)
{
	struct pkvm_op op;
	int rc;

	op_begin(&op, pk, who, cycles);
	rc = donate_host(&op, pfn, n, false);
	pk->op = NULL;
	return rc;
}

/*
 * hyp_pin_shared_mem: host SHARED_OWNED and hyp SHARED_BORROWED for each
 * page, then a reference each (no state changes).
 */
int stack_pkvm_hyp_pin(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn, uint64_t n,
		       uint64_t *cycles)
{
	struct pkvm_op op;
	uint64_t pa = pfn << 12, size = n << 12;
	int rc;

	op_begin(&op, pk, who, cycles);
	if (!pfns_ok(pk, pfn, n)) {
		rc = -EINVAL;
		goto out;
	}
	rc = host_check(&op, pa, size, STACK_PKVM_SHARED_OWNED);
	if (!rc)
		rc = hyp_check(&op, pa, size, STACK_PKVM_SHARED_BORROWED);
	for (uint64_t a = pa; !rc && a < pa + size; a += PAGE) {
		meta(pk, a)->pin++;
		pk->ctr.pins++;
	}
out:
	pk->op = NULL;
	return rc;
}

int stack_pkvm_hyp_unpin(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn, uint64_t n,
			 uint64_t *cycles)
{
	uint64_t pa = pfn << 12, size = n << 12;

	(void)who;
	(void)cycles;
	if (!pfns_ok(pk, pfn, n))
		return -EINVAL;
	for (uint64_t a = pa; a < pa + size; a += PAGE)
		if (!meta_peek(pk, a)->pin)
			return -EINVAL;
	for (uint64_t a = pa; a < pa + size; a += PAGE) {
		meta(pk, a)->pin--;
		pk->ctr.unpins++;
	}
	return 0;
}

/* __pkvm_host_use_dma: every page host-accessible, then a DMA reference each. */
int stack_pkvm_host_use_dma(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			    uint64_t n, uint64_t *cycles)
{
	struct pkvm_op op;
	uint64_t pa = pfn << 12;
	int rc = 0;

	hvc_begin(&op, pk, who, cycles);
	if (!pfns_ok(pk, pfn, n))
		return hvc_end(&op, -EINVAL);
	for (uint64_t i = 0; !rc && i < n; i++) {
		uint64_t a = pa + i * PAGE;

		if (host_check(&op, a, PAGE, STACK_PKVM_OWNED) &&
		    host_check(&op, a, PAGE, STACK_PKVM_SHARED_OWNED) &&
		    host_check(&op, a, PAGE, STACK_PKVM_SHARED_BORROWED))
			rc = -EPERM;
	}
	for (uint64_t i = 0; !rc && i < n; i++) {
		meta(pk, pa + i * PAGE)->dma++;
		pk->ctr.dma_use++;
	}
	return hvc_end(&op, rc);
}

int stack_pkvm_host_unuse_dma(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
			      uint64_t n, uint64_t *cycles)
{
	struct pkvm_op op;
	uint64_t pa = pfn << 12;

	hvc_begin(&op, pk, who, cycles);
	if (!pfns_ok(pk, pfn, n))
		return hvc_end(&op, -EINVAL);
	for (uint64_t i = 0; i < n; i++)
		if (!meta_peek(pk, pa + i * PAGE)->dma)
			return hvc_end(&op, -EINVAL);
	for (uint64_t i = 0; i < n; i++) {
		meta(pk, pa + i * PAGE)->dma--;
		pk->ctr.dma_unuse++;
	}
	return hvc_end(&op, 0);
}

/* ------------------------------------------------------------------ */
/* VMs                                                                 */
/* ------------------------------------------------------------------ */

static struct pkvm_vm *vm_get(struct stack_pkvm *pk, uint32_t handle)
{
	uint32_t i = handle - STACK_PKVM_HANDLE_BASE;

	if (handle < STACK_PKVM_HANDLE_BASE || i >= STACK_PKVM_MAX_VMS || !pk->vm[i].used)
		return NULL;
	return &pk->vm[i];
}

static const struct pkvm_vm *vm_peek(const struct stack_pkvm *pk, uint32_t handle)
{
	return vm_get((struct stack_pkvm *)pk, handle);
}

/* A live (not dying) VM, of the kind wanted (-1: either). */
static struct pkvm_vm *vm_live(struct stack_pkvm *pk, uint32_t handle, int prot)
{
	struct pkvm_vm *vm = vm_get(pk, handle);

	if (!vm || vm->dying || (prot >= 0 && vm->prot != (prot != 0)))
		return NULL;
	return vm;
}

static uint16_t vm_tag(const struct stack_pkvm *pk, const struct pkvm_vm *vm)
{
	return (uint16_t)(vm - pk->vm + 1);
}

/* Donate pages to @vm's hyp side: recorded as its metadata, the hyp's own use. */
static int vm_donate(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t pfn, uint64_t n)
{
	int rc = donate_hyp(op, pfn, n);

	if (rc)
		return rc;
	for (uint64_t i = 0; i < n; i++) {
		push(&vm->meta, &vm->nmeta, &vm->capmeta, (pfn + i) << 12);
		meta(op->pk, (pfn + i) << 12)->hyp_use = true;
	}
	return 0;
}

int stack_pkvm_vm_create(struct stack_pkvm *pk, struct sim_who *who, bool protected_vm,
			 uint64_t meta_pfn, uint64_t meta_pages, uint32_t *handle,
			 uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm = NULL;
	int rc;

	hvc_begin(&op, pk, who, cycles);
	if (meta_pages < 2 || !pfns_ok(pk, meta_pfn, meta_pages))
		return hvc_end(&op, -EINVAL);
	for (unsigned i = 0; i < STACK_PKVM_MAX_VMS && !vm; i++)
		if (!pk->vm[i].used)
			vm = &pk->vm[i];
	if (!vm)
		return hvc_end(&op, -ENOSPC);
	vm->used = true;
	vm->prot = protected_vm;
	vm->handle = STACK_PKVM_HANDLE_BASE + (uint32_t)(vm - pk->vm);
	vm->vmid = pk->cfg.guest_vmid_base + (uint32_t)(vm - pk->vm);
	vm->mm = (struct pkvm_mm){ pk, vm, vm->vmid, false };
	rc = vm_donate(&op, vm, meta_pfn, meta_pages);
	if (rc) {
		vm_release(vm);
		return hvc_end(&op, rc);
	}
	/* page 0: the VM struct; page 1: the stage-2 root; the rest: the memcache */
	for (uint64_t i = meta_pages; i-- > 2;)
		push(&vm->mc, &vm->nmc, &vm->capmc, (meta_pfn + i) << 12);
	vm->pgt = s2_pgt_new(s2_fmt(S2_FMT_ARM64), 4, pk->mem, (meta_pfn + 1) << 12, &pkvm_mm_ops,
			     &vm->mm, who, &rc);
	if (!vm->pgt)
		sim_fatal("pkvm: guest stage-2 root at 0x%llx: %s",
			  (unsigned long long)((meta_pfn + 1) << 12), s2_rc_name(rc));
	pk->ctr.vms++;
	*handle = vm->handle;
	return hvc_end(&op, 0);
}

int stack_pkvm_vm_topup(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			uint64_t pfn, uint64_t n, uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm;
	int rc;

	hvc_begin(&op, pk, who, cycles);
	vm = vm_live(pk, handle, -1);
	if (!vm)
		return hvc_end(&op, -EINVAL);
	rc = vm_donate(&op, vm, pfn, n);
	for (uint64_t i = n; !rc && i-- > 0;)
		push(&vm->mc, &vm->nmc, &vm->capmc, (pfn + i) << 12);
	return hvc_end(&op, rc);
}

bool stack_pkvm_vm_exists(const struct stack_pkvm *pk, uint32_t handle)
{
	return vm_peek(pk, handle) != NULL;
}

uint64_t stack_pkvm_vm_pages(const struct stack_pkvm *pk, uint32_t handle)
{
	const struct pkvm_vm *vm = vm_peek(pk, handle);

	return vm ? vm->pages : 0;
}

uint64_t stack_pkvm_vm_memcache(const struct stack_pkvm *pk, uint32_t handle)
{
	const struct pkvm_vm *vm = vm_peek(pk, handle);

	return vm ? vm->nmc : 0;
}

struct s2_pgt *stack_pkvm_vm_pgt(struct stack_pkvm *pk, uint32_t handle)
{
	struct pkvm_vm *vm = vm_get(pk, handle);

	return vm ? vm->pgt : NULL;
}

/* ------------------------------------------------------------------ */
/* Host <-> guest                                                      */
/* ------------------------------------------------------------------ */

/* GFNs [gfn, gfn + n) are inside @vm's IPA space. */
static bool gfns_ok(const struct pkvm_vm *vm, uint64_t gfn, uint64_t n)
{
	uint64_t lim = s2_pgt_ia_limit(vm->pgt) >> 12;

	return gfn < lim && n <= lim - gfn;
}

/* nr must be 1 or a 2M block (__guest_check_transition_size). */
static int transition_size(uint64_t pa, uint64_t ipa, uint64_t nr, uint64_t *size)
{
	if (nr == 1) {
		*size = PAGE;
		return 0;
	}
	if (nr == PAGES_2M && !((pa | ipa) & (SIM_SZ_2M - 1))) {
		*size = SIM_SZ_2M;
		return 0;
	}
	return -EINVAL;
}

int stack_pkvm_host_share_guest(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				uint64_t gfn, uint64_t nr, uint32_t handle, uint8_t perms,
				uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm;
	struct s2_prot prot = { .perms = perms, .sw = STACK_PKVM_SHARED_BORROWED };
	uint64_t pa = pfn << 12, ipa = gfn << 12, size, fresh = 0;
	int rc;

	hvc_begin(&op, pk, who, cycles);
	vm = vm_live(pk, handle, 0);
	if (!vm || (perms & ~S2_PERM_ALL) || !pfns_ok(pk, pfn, nr) ||
	    !gfns_ok(vm, gfn, nr) || transition_size(pa, ipa, nr, &size))
		return hvc_end(&op, -EINVAL);
	rc = guest_check(&op, vm, ipa, size, STACK_PKVM_NOPAGE);
	for (uint64_t a = pa; !rc && a < pa + size; a += PAGE) {
		const struct pkvm_meta *m = meta_peek(pk, a);

		if (!host_check(&op, a, PAGE, STACK_PKVM_OWNED) && !m->pin && !m->dma) {
			fresh++;
			continue;
		}
		if (!host_check(&op, a, PAGE, STACK_PKVM_SHARED_OWNED) && m->share_guest) {
			if (m->share_guest == UINT32_MAX)
				rc = -EBUSY;
			continue;
		}
		rc = -EPERM;
	}
	if (!rc && wset_tables(vm->pgt, S2_WSET_MAP, ipa, pa, size, size, &prot) > vm->nmc)
		rc = -ENOMEM;
	if (!rc && fresh && host_state_tables(pk, pa, size) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return hvc_end(&op, rc);
	/*
	 * Initiator (host):  OWNED  => SHARED_OWNED (or SHARED_OWNED, count + 1)
	 * Completer (guest): NOPAGE => SHARED_BORROWED
	 */
	if (fresh == nr)   /* one change of the whole range: a block is broken once */
		host_set_state(&op, pa, size, STACK_PKVM_SHARED_OWNED);
	for (uint64_t a = pa; a < pa + size; a += PAGE) {
		struct pkvm_meta *m = meta(pk, a);

		if (!m->share_guest && fresh != nr)
			host_set_state(&op, a, PAGE, STACK_PKVM_SHARED_OWNED);
		m->share_guest++;
	}
	must(s2_map(vm->pgt, who, ipa, pa, size, size, &prot), "guest map shared", ipa, size);
	pk->ctr.share_guest += nr;
	return hvc_end(&op, 0);
}

int stack_pkvm_host_unshare_guest(struct stack_pkvm *pk, struct sim_who *who, uint64_t gfn,
				  uint64_t nr, uint32_t handle, uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm;
	struct s2_pte pte;
	uint64_t ipa = gfn << 12, pa, size, raw, last = 0;
	int level, rc;

	hvc_begin(&op, pk, who, cycles);
	vm = vm_live(pk, handle, 0);
	if (!vm || (nr != 1 && nr != PAGES_2M) || !gfns_ok(vm, gfn, nr))
		return hvc_end(&op, -EINVAL);
	size = nr << 12;
	/* __check_host_shared_guest */
	if (s2_get_leaf(vm->pgt, who, ipa, &raw, &level, &pte) != S2_OK)
		return hvc_end(&op, -ENOENT);
	if (s2_sz_bytes((unsigned)(3 - level)) != size)
		return hvc_end(&op, -E2BIG);
	if (pte_state(&pte, false) != STACK_PKVM_SHARED_BORROWED)
		return hvc_end(&op, -EPERM);
	pa = pte.addr;
	if (!is_memory(pk, pa, size))
		return hvc_end(&op, -EINVAL);
	rc = host_check(&op, pa, size, STACK_PKVM_SHARED_OWNED);
	for (uint64_t a = pa; !rc && a < pa + size; a += PAGE)
		if (!meta_peek(pk, a)->share_guest)
			rc = -EINVAL;
	if (!rc && host_state_tables(pk, pa, size) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return hvc_end(&op, rc);
	/*
	 * Initiator (host):  SHARED_OWNED    => OWNED when the last guest lets go
	 * Completer (guest): SHARED_BORROWED => NOPAGE
	 */
	guest_unmap(&op, vm, ipa, size);
	for (uint64_t a = pa; a < pa + size; a += PAGE)
		last += meta_peek(pk, a)->share_guest == 1;
	if (last == nr)    /* every page goes back: one change of the whole range */
		host_set_state(&op, pa, size, STACK_PKVM_OWNED);
	for (uint64_t a = pa; a < pa + size; a += PAGE) {
		struct pkvm_meta *m = meta(pk, a);

		if (!--m->share_guest && last != nr)
			host_set_state(&op, a, PAGE, STACK_PKVM_OWNED);
	}
	pk->ctr.unshare_guest += nr;
	return hvc_end(&op, 0);
}

int stack_pkvm_host_donate_guest(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				 uint64_t gfn, uint32_t handle, uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm;
	struct s2_prot prot = { .perms = S2_PERM_ALL, .sw = STACK_PKVM_OWNED };
	uint64_t pa = pfn << 12, ipa = gfn << 12;
	struct pkvm_meta *m;
	int rc;

	hvc_begin(&op, pk, who, cycles);
	vm = vm_live(pk, handle, 1);
	if (!vm || !pfns_ok(pk, pfn, 1) || !gfns_ok(vm, gfn, 1))
		return hvc_end(&op, -EINVAL);
	rc = host_check(&op, pa, PAGE, STACK_PKVM_OWNED);
	if (!rc)
		rc = check_unreferenced(pk, pa, PAGE);
	if (!rc)
		rc = guest_check(&op, vm, ipa, PAGE, STACK_PKVM_NOPAGE);
	if (!rc && wset_tables(vm->pgt, S2_WSET_MAP, ipa, pa, PAGE, PAGE, &prot) > vm->nmc)
		rc = -ENOMEM;
	if (!rc && wset_tables(pk->host, S2_WSET_ANNOTATE, pa, 0, PAGE, 0, NULL) > pk->npool)
		rc = -ENOMEM;
	if (rc)
		return hvc_end(&op, rc);
	/*
	 * Initiator (host):  OWNED  => NOPAGE (owner GUEST; out of the IOMMU first,
	 *                              the host TLBs invalidated before the guest maps it)
	 * Completer (guest): NOPAGE => OWNED
	 */
	iommu_unmap(&op, pa, PAGE);
	host_set_owner(&op, pa, PAGE, STACK_PKVM_ID_GUEST);
	must(s2_map(vm->pgt, who, ipa, pa, PAGE, PAGE, &prot), "guest map donated", ipa, PAGE);
	m = meta(pk, pa);
	m->vm = vm_tag(pk, vm);
	m->gfn = gfn;
	vm->pages++;
	pk->ctr.donate_guest++;
	return hvc_end(&op, 0);
}

/* ------------------------------------------------------------------ */
/* Guest hypercalls                                                    */
/* ------------------------------------------------------------------ */

/*
 * __pkvm_guest_share_host, one page:
 *   Initiator (guest): OWNED  => SHARED_OWNED
 *   Completer (host):  NOPAGE => SHARED_BORROWED (mapped at 4K)
 * -EFAULT: nothing mapped at @ipa (the host must fault it in first).
 */
static int guest_share_page(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa, uint64_t *fault)
{
	struct stack_pkvm *pk = op->pk;
	struct s2_pte pte;
	uint64_t raw, pa;
	int level;

	if (s2_get_leaf(vm->pgt, op->who, ipa, &raw, &level, &pte) != S2_OK) {
		*fault = ipa;
		return -EFAULT;
	}
	if (pte_state(&pte, false) != STACK_PKVM_OWNED || level != 3)
		return -EPERM;
	pa = pte.addr;
	if (!is_memory(pk, pa, PAGE) || host_check(op, pa, PAGE, STACK_PKVM_NOPAGE))
		return -EPERM;
	if (host_state_tables(pk, pa, PAGE) > pk->npool)
		return -ENOMEM;
	guest_set_state(op, vm, ipa, pa, PAGE, pte.prot.perms, STACK_PKVM_SHARED_OWNED);
	host_set_state(op, pa, PAGE, STACK_PKVM_SHARED_BORROWED);
	iommu_map(op, pa, PAGE);
	pk->ctr.guest_share++;
	return 0;
}

/*
 * __pkvm_guest_unshare_host, one page:
 *   Initiator (guest): SHARED_OWNED    => OWNED
 *   Completer (host):  SHARED_BORROWED => NOPAGE (owner GUEST; refused while the
 *                                         host has it DMA-mapped)
 */
static int guest_unshare_page(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa,
			      uint64_t *fault)
{
	struct stack_pkvm *pk = op->pk;
	struct s2_pte pte;
	uint64_t raw, pa;
	int level;

	if (s2_get_leaf(vm->pgt, op->who, ipa, &raw, &level, &pte) != S2_OK) {
		*fault = ipa;
		return -EFAULT;
	}
	if (pte_state(&pte, false) != STACK_PKVM_SHARED_OWNED || level != 3)
		return -EPERM;
	pa = pte.addr;
	if (!is_memory(pk, pa, PAGE) || host_check(op, pa, PAGE, STACK_PKVM_SHARED_BORROWED))
		return -EPERM;
	if (check_unreferenced(pk, pa, PAGE))
		return -EBUSY;
	iommu_unmap(op, pa, PAGE);
	host_set_owner(op, pa, PAGE, STACK_PKVM_ID_GUEST);
	guest_set_state(op, vm, ipa, pa, PAGE, pte.prot.perms, STACK_PKVM_OWNED);
	pk->ctr.guest_unshare++;
	return 0;
}

/*
 * __pkvm_guest_relinquish_to_host:
 *   Initiator (guest): OWNED  => NOPAGE (poisoned, unmapped)
 *   Completer (host):  NOPAGE => OWNED (mapped again on its next fault)
 * Nothing mapped: a no-op (*pa = 0).  The state is checked first, as
 * Android's relinquish_walker does: a page the guest does not own is
 * -EPERM whatever references it has.
 */
static int guest_relinquish_page(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa,
				 uint64_t *out_pa)
{
	struct stack_pkvm *pk = op->pk;
	struct s2_pte pte;
	uint64_t raw, pa;
	int level;

	*out_pa = 0;
	if (s2_get_leaf(vm->pgt, op->who, ipa, &raw, &level, &pte) != S2_OK)
		return 0;
	if (pte_state(&pte, false) != STACK_PKVM_OWNED)
		return -EPERM;
	if (level != 3)
		return -E2BIG;
	pa = pte.addr;
	if (!is_memory(pk, pa, PAGE))
		return -EPERM;
	if (check_unreferenced(pk, pa, PAGE))
		return -EBUSY;
	poison(op, pa);
	guest_unmap(op, vm, ipa, PAGE);
	host_set_owner(op, pa, PAGE, STACK_PKVM_ID_HOST);
	iommu_map(op, pa, PAGE);
	meta(pk, pa)->vm = NO_VM;
	meta(pk, pa)->gfn = 0;
	vm->pages--;
	pk->ctr.guest_relinquish++;
	*out_pa = pa;
	return 0;
}

typedef int (*page_fn)(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t ipa, uint64_t *fault);

/*
 * MEM_SHARE / MEM_UNSHARE: one page, or a range of at most 512 (guest_range).
 * @fault_in: an unmapped first page goes to the host to be faulted in
 * (pkvm_memshare_call); without it -EFAULT is INVALID_PARAMETER like any
 * other error (pkvm_memunshare_call: the guest cannot unshare what it
 * does not have, and the host must not donate it a page for that).
 */
static void guest_range_call(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
			     page_fn fn, bool fault_in, struct stack_pkvm_hvc_res *res)
{
	uint64_t ipa = regs[1], n = regs[2], done = 0;
	int rc = 0;

	if (!op->pk->cfg.guest_range) {
		if (n)
			goto inval;
		n = 1;
	}
	if (regs[3] || !n || (ipa & (PAGE - 1)) || ipa >= s2_pgt_ia_limit(vm->pgt))
		goto inval;
	if (n > STACK_PKVM_RANGE_MAX)
		n = STACK_PKVM_RANGE_MAX;
	for (; done < n; done++) {
		uint64_t a = ipa + done * PAGE;

		if (a >= s2_pgt_ia_limit(vm->pgt)) {
			rc = -EINVAL;
			break;
		}
		rc = fn(op, vm, a, &res->fault_ipa);
		if (rc)
			break;
	}
	if (done) {
		res->fault_ipa = 0;
		regs[0] = STACK_PKVM_SMCCC_SUCCESS;
		regs[1] = op->pk->cfg.guest_range ? done : 0;
		regs[2] = regs[3] = 0;
		return;
	}
	if (rc == -EFAULT && fault_in) {
		res->exit_to_host = true;
		return;
	}
	res->fault_ipa = 0;
	res->err = rc;
inval:
	if (!res->err)
		res->err = -EINVAL;
	regs[0] = STACK_PKVM_SMCCC_INVALID_PARAM;
	regs[1] = regs[2] = regs[3] = 0;
}

/* The EL2 handlers of a protected guest's calls (kvm_handle_pvm_hvc64). ORDER: none. */
static void hvc_features(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
			 struct stack_pkvm_hvc_res *res)
{
	(void)op;
	(void)vm;
	(void)res;
	regs[0] = (1ull << STACK_PKVM_FUNC_FEATURES) | (1ull << STACK_PKVM_FUNC_HYP_MEMINFO) |
		  (1ull << STACK_PKVM_FUNC_MEM_SHARE) | (1ull << STACK_PKVM_FUNC_MEM_UNSHARE) |
		  (1ull << STACK_PKVM_FUNC_MEM_RELINQUISH);
	regs[1] = regs[2] = regs[3] = 0;
}

static void hvc_meminfo(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
			struct stack_pkvm_hvc_res *res)
{
	(void)vm;
	if (regs[1] || regs[2] || regs[3]) {
		res->err = -EINVAL;
		regs[0] = STACK_PKVM_SMCCC_INVALID_PARAM;
		regs[1] = regs[2] = regs[3] = 0;
		return;
	}
	regs[0] = PAGE;
	regs[1] = op->pk->cfg.guest_range ? STACK_PKVM_MEMINFO_HAS_RANGE : 0;
}

static void hvc_share(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
		      struct stack_pkvm_hvc_res *res)
{
	guest_range_call(op, vm, regs, guest_share_page, true, res);
}

static void hvc_unshare(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
			struct stack_pkvm_hvc_res *res)
{
	guest_range_call(op, vm, regs, guest_unshare_page, false, res);
}

static void hvc_relinquish(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
			   struct stack_pkvm_hvc_res *res)
{
	int rc = -EINVAL;

	if (!regs[2] && !regs[3] && !(regs[1] & (PAGE - 1)) && regs[1] < s2_pgt_ia_limit(vm->pgt))
		rc = guest_relinquish_page(op, vm, regs[1], &res->pa);
	res->err = rc;
	regs[0] = rc ? STACK_PKVM_SMCCC_INVALID_PARAM : STACK_PKVM_SMCCC_SUCCESS;
	regs[1] = regs[2] = regs[3] = 0;
}

typedef void (*guest_hvc_fn)(struct pkvm_op *op, struct pkvm_vm *vm, uint64_t regs[4],
			     struct stack_pkvm_hvc_res *res);
static const struct {
	uint32_t id;
	guest_hvc_fn fn;
} guest_hvcs[] = {
	{ STACK_PKVM_SMCCC_FEATURES, hvc_features },
	{ STACK_PKVM_SMCCC_HYP_MEMINFO, hvc_meminfo },
	{ STACK_PKVM_SMCCC_MEM_SHARE, hvc_share },
	{ STACK_PKVM_SMCCC_MEM_UNSHARE, hvc_unshare },
	{ STACK_PKVM_SMCCC_MEM_RELINQUISH, hvc_relinquish },
};

int stack_pkvm_guest_hvc(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			 uint64_t regs[4], struct stack_pkvm_hvc_res *res, uint64_t *cycles)
{
	struct pkvm_vm *vm = vm_live(pk, handle, -1);
	struct pkvm_op op;

	memset(res, 0, sizeof(*res));
	if (!vm)
		return -EINVAL;
	op_begin(&op, pk, who, cycles);
	charge(&op, pk->cfg.guest_hvc_cycles);
	res->exit_to_host = true;
	for (size_t i = 0; vm->prot && i < sizeof(guest_hvcs) / sizeof(guest_hvcs[0]); i++)
		if (guest_hvcs[i].id == (uint32_t)regs[0] && regs[0] <= UINT32_MAX) {
			res->exit_to_host = false;
			guest_hvcs[i].fn(&op, vm, regs, res);
		}
	if (res->exit_to_host)
		pk->ctr.guest_exits++;
	else
		pk->ctr.guest_hvc++;
	pk->op = NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Teardown                                                            */
/* ------------------------------------------------------------------ */

struct np_shares {
	uint64_t ipa[PAGES_2M];
	uint64_t size[PAGES_2M];
	size_t n;
	bool more;
};

static void find_borrowed(void *arg, uint64_t ia, uint64_t size, const struct s2_pte *pte)
{
	struct np_shares *s = arg;

	if (pte->type != S2_PTE_LEAF || pte_state(pte, false) != STACK_PKVM_SHARED_BORROWED)
		return;
	if (s->n == PAGES_2M) {
		s->more = true;
		return;
	}
	s->ipa[s->n] = ia;
	s->size[s->n++] = size;
}

int stack_pkvm_vm_teardown(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			   uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm;
	struct np_shares *s;

	hvc_begin(&op, pk, who, cycles);
	vm = vm_live(pk, handle, -1);
	if (!vm)
		return hvc_end(&op, -EINVAL);
	vm->dying = true;
	/* the host's shares with the VM end here (their pages are the host's) */
	s = sim_xcalloc(1, sizeof(*s));
	do {
		s->n = 0;
		s->more = false;
		peek_range(vm->pgt, 0, s2_pgt_ia_limit(vm->pgt), find_borrowed, s);
		for (size_t i = 0; i < s->n; i++) {
			uint64_t pa = 0;

			(void)peek_state(vm->pgt, s->ipa[i], false, &pa, NULL, NULL);
			must(unmap(pk, vm->pgt, who, s->ipa[i], s->size[i]), "teardown unmap", s->ipa[i],
			     s->size[i]);
			for (uint64_t a = pa; a < pa + s->size[i]; a += PAGE) {
				struct pkvm_meta *m = meta(pk, a);

				if (!--m->share_guest)
					host_set_state(&op, a, PAGE, STACK_PKVM_OWNED);
			}
		}
	} while (s->more);
	free(s);
	/* TLBI VMALLS12E1IS: nothing of the VM stays in any TLB */
	if (pk->s2)
		(void)s2_ctx_tlbi(pk->s2, S2_TLBI_VM, vm->vmid, 0);
	charge(&op, pk->tlbi_vm_cost);
	pk->ctr.tlbi_vm++;
	pk->ctr.teardowns++;
	return hvc_end(&op, 0);
}

int stack_pkvm_host_reclaim_page(struct stack_pkvm *pk, struct sim_who *who, uint64_t pfn,
				 uint64_t *cycles)
{
	struct pkvm_op op;
	uint64_t pa = pfn << 12, ipa, gpa = 0;
	struct pkvm_meta *m;
	struct pkvm_vm *vm;
	enum stack_pkvm_state gs;

	hvc_begin(&op, pk, who, cycles);
	if (!pfns_ok(pk, pfn, 1))
		return hvc_end(&op, -EINVAL);
	m = meta(pk, pa);
	if (m->vm == NO_VM || !pk->vm[m->vm - 1].dying)
		return hvc_end(&op, -EPERM);
	vm = &pk->vm[m->vm - 1];
	ipa = m->gfn << 12;
	gs = peek_state(vm->pgt, ipa, false, &gpa, NULL, NULL);
	if (gpa != pa || (gs != STACK_PKVM_OWNED && gs != STACK_PKVM_SHARED_OWNED))
		sim_fatal("pkvm: reclaim pfn 0x%llx: VM %u gfn 0x%llx does not hold it",
			  (unsigned long long)pfn, vm->handle, (unsigned long long)m->gfn);
	if (wset_tables(pk->host, S2_WSET_ANNOTATE, pa, 0, PAGE, 0, NULL) > pk->npool)
		return hvc_end(&op, -ENOMEM);
	/*
	 * Guest OWNED:        OWNED        => NOPAGE (poisoned); host NOPAGE => OWNED
	 * Guest SHARED_OWNED: SHARED_OWNED => NOPAGE; host SHARED_BORROWED => OWNED
	 */
	if (gs == STACK_PKVM_OWNED)
		poison(&op, pa);
	must(unmap(pk, vm->pgt, who, ipa, PAGE), "reclaim unmap", ipa, PAGE);
	host_set_owner(&op, pa, PAGE, STACK_PKVM_ID_HOST);
	if (m->iommu_off)
		iommu_map(&op, pa, PAGE);
	m->vm = NO_VM;
	m->gfn = 0;
	vm->pages--;
	pk->ctr.reclaimed++;
	return hvc_end(&op, 0);
}

int stack_pkvm_vm_finalize(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			   uint64_t *cycles)
{
	struct pkvm_op op;
	struct pkvm_vm *vm;

	hvc_begin(&op, pk, who, cycles);
	vm = vm_get(pk, handle);
	if (!vm || !vm->dying)
		return hvc_end(&op, -EINVAL);
	if (vm->pages)
		return hvc_end(&op, -EBUSY);
	s2_pgt_free(vm->pgt);   /* its table pages go back to the memcache */
	vm->pgt = NULL;
	/* teardown_donated_memory: clear each page, then hyp => host */
	for (size_t i = 0; i < vm->nmeta; i++) {
		static const uint8_t zero[PAGE];
		uint64_t pa = vm->meta[i];
		uint32_t c = sim_mem_write(pk->mem, who ? who->agent : -1, SIM_SRC_DATA, pa, zero,
					   (uint32_t)PAGE);
		int rc;

		if (who)
			who->mem_cycles += c;
		rc = donate_host(&op, pa >> 12, 1, true);
		if (rc)
			sim_fatal("pkvm: VM %u metadata page 0x%llx back to the host: %d", vm->handle,
				  (unsigned long long)pa, rc);
	}
	vm_release(vm);
	return hvc_end(&op, 0);
}

struct owned_pages {
	uint64_t *pa;
	size_t n, cap;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int stack_pkvm_vm_destroy(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			  uint64_t *cycles)
{
	struct pkvm_vm *vm;
	struct owned_pages o = { 0 };
	int rc = stack_pkvm_vm_teardown(pk, who, handle, cycles);

	if (rc)
		return rc;
	vm = vm_get(pk, handle);
	for (size_t c = 0; c < pk->nchunk; c++)
		for (unsigned i = 0; pk->chunk[c] && i < PAGES_2M; i++)
			if (pk->chunk[c][i].vm == vm_tag(pk, vm))
				push(&o.pa, &o.n, &o.cap,
				     pk->cfg.mem_base + ((uint64_t)c * PAGES_2M + i) * PAGE);
	if (o.n)
		qsort(o.pa, o.n, sizeof(*o.pa), cmp_u64);
	for (size_t i = 0; !rc && i < o.n; i++)
		rc = stack_pkvm_host_reclaim_page(pk, who, o.pa[i] >> 12, cycles);
	free(o.pa);
	return rc ? rc : stack_pkvm_vm_finalize(pk, who, handle, cycles);
}

/* ------------------------------------------------------------------ */
/* The host calls by name (hyp-main.c host_hcall[])                    */
/* ------------------------------------------------------------------ */

#define A_P  STACK_PKVM_ARG_PFN
#define A_G  STACK_PKVM_ARG_GFN
#define A_V  STACK_PKVM_ARG_VM
#define A_N  STACK_PKVM_ARG_N
#define A_R  STACK_PKVM_ARG_PERMS
/* ORDER: enum stack_pkvm_hcall; hcall_fns[] below. */
const struct stack_pkvm_hcall_desc stack_pkvm_hcalls[STACK_PKVM_HC_COUNT] = {
	{ "host_share_hyp", A_P },
	{ "host_unshare_hyp", A_P },
	{ "host_donate_hyp", A_P | A_N },
	{ "hyp_pin", A_P | A_N },
	{ "hyp_unpin", A_P | A_N },
	{ "host_share_guest", A_V | A_P | A_G | A_R | A_N },
	{ "host_unshare_guest", A_V | A_G | A_N },
	{ "host_donate_guest", A_V | A_P | A_G },
	{ "host_reclaim", A_P },
};
#undef A_P
#undef A_G
#undef A_V
#undef A_N
#undef A_R

typedef int (*hcall_fn)(struct stack_pkvm *pk, struct sim_who *who,
			const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles);

static int hc_share_hyp(struct stack_pkvm *pk, struct sim_who *who,
			const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	(void)n;
	return stack_pkvm_host_share_hyp(pk, who, a->pfn, cycles);
}

static int hc_unshare_hyp(struct stack_pkvm *pk, struct sim_who *who,
			  const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	(void)n;
	return stack_pkvm_host_unshare_hyp(pk, who, a->pfn, cycles);
}

static int hc_donate_hyp(struct stack_pkvm *pk, struct sim_who *who,
			 const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	return stack_pkvm_host_donate_hyp(pk, who, a->pfn, n, cycles);
}

static int hc_pin(struct stack_pkvm *pk, struct sim_who *who,
		  const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	return stack_pkvm_hyp_pin(pk, who, a->pfn, n, cycles);
}

static int hc_unpin(struct stack_pkvm *pk, struct sim_who *who,
		    const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	return stack_pkvm_hyp_unpin(pk, who, a->pfn, n, cycles);
}

static int hc_share_guest(struct stack_pkvm *pk, struct sim_who *who,
			  const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	uint8_t perms = a->has_perms ? a->perms : (uint8_t)S2_PERM_ALL;

	return stack_pkvm_host_share_guest(pk, who, a->pfn, a->gfn, n, a->vm, perms, cycles);
}

static int hc_unshare_guest(struct stack_pkvm *pk, struct sim_who *who,
			    const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	return stack_pkvm_host_unshare_guest(pk, who, a->gfn, n, a->vm, cycles);
}

static int hc_donate_guest(struct stack_pkvm *pk, struct sim_who *who,
			   const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	(void)n;
	return stack_pkvm_host_donate_guest(pk, who, a->pfn, a->gfn, a->vm, cycles);
}

static int hc_reclaim(struct stack_pkvm *pk, struct sim_who *who,
		      const struct stack_pkvm_hcall_args *a, uint64_t n, uint64_t *cycles)
{
	(void)n;
	return stack_pkvm_host_reclaim_page(pk, who, a->pfn, cycles);
}

/* ORDER: enum stack_pkvm_hcall. */
static const hcall_fn hcall_fns[STACK_PKVM_HC_COUNT] = {
	[STACK_PKVM_HC_SHARE_HYP] = hc_share_hyp,
	[STACK_PKVM_HC_UNSHARE_HYP] = hc_unshare_hyp,
	[STACK_PKVM_HC_DONATE_HYP] = hc_donate_hyp,
	[STACK_PKVM_HC_PIN] = hc_pin,
	[STACK_PKVM_HC_UNPIN] = hc_unpin,
	[STACK_PKVM_HC_SHARE_GUEST] = hc_share_guest,
	[STACK_PKVM_HC_UNSHARE_GUEST] = hc_unshare_guest,
	[STACK_PKVM_HC_DONATE_GUEST] = hc_donate_guest,
	[STACK_PKVM_HC_RECLAIM] = hc_reclaim,
};

enum stack_pkvm_hcall stack_pkvm_hcall_find(const char *name)
{
	unsigned i;

	for (i = 0; i < STACK_PKVM_HC_COUNT; i++)
		if (!strcmp(stack_pkvm_hcalls[i].name, name))
			break;
	return (enum stack_pkvm_hcall)i;
}

int stack_pkvm_hcall(struct stack_pkvm *pk, struct sim_who *who, enum stack_pkvm_hcall hc,
		     const struct stack_pkvm_hcall_args *a, uint64_t *cycles)
{
	if ((unsigned)hc >= STACK_PKVM_HC_COUNT)
		sim_fatal("pkvm: host call %d out of range", (int)hc);
	return hcall_fns[hc](pk, who, a, a->n ? a->n : 1, cycles);
}

/* ------------------------------------------------------------------ */
/* Accesses                                                            */
/* ------------------------------------------------------------------ */

/* Translate @ia through @pgt as tagged @vmid with the MMU of who->agent (or no caches). */
static int translate(struct stack_pkvm *pk, struct sim_who *who, struct s2_pgt *pgt,
		     uint32_t vmid, uint64_t ia, bool write, struct s2_xlate *x)
{
	struct s2_space sp = { .vmid = vmid, .s2 = pgt };
	struct s2_req req = { .acc = write ? S2_ACC_WRITE : S2_ACC_READ, .who = who,
			      .src = SIM_SRC_PTW };
	struct s2_mmu *m = pk->s2 && who ? s2_ctx_mmu(pk->s2, who->agent) : NULL;

	memset(x, 0, sizeof(*x));
	if (m)
		return s2_mmu_translate(m, &sp, ia, &req, x);
	return s2_translate(pgt, ia, &req, x);
}

/*
 * host_stage2_idmap: map the largest block around @pa that is uniformly
 * host-owned: the entry the walk stops at is empty (no table below it),
 * so everything it covers is in the default state; the block must be a
 * legal arm64 block and lie inside the memory region.  -EAGAIN: already
 * mapped (a stale or racing fault); -EPERM: not host-owned.
 */
static int host_idmap(struct pkvm_op *op, uint64_t pa, uint64_t *mapped)
{
	struct stack_pkvm *pk = op->pk;
	struct s2_prot prot = { .perms = HOST_PERMS };
	struct s2_pte pte;
	uint64_t raw = 0, gran = 0;
	int level = 3, r;

	memset(&pte, 0, sizeof(pte));
	r = s2_get_leaf(pk->host, op->who, pa, &raw, &level, &pte);
	if (r == S2_OK)
		return -EAGAIN;
	if (raw)
		return -EPERM;
	for (int l = level; l <= 3; l++) {
		uint64_t g = s2_sz_bytes((unsigned)(3 - l)), start = pa & ~(g - 1);

		if (l >= 1 && is_memory(pk, start, g)) {
			gran = g;
			break;
		}
	}
	if (wset_tables(pk->host, S2_WSET_MAP, pa & ~(gran - 1), pa & ~(gran - 1), gran, gran,
			&prot) > pk->npool)
		return -ENOMEM;
	must(s2_map(pk->host, op->who, pa & ~(gran - 1), pa & ~(gran - 1), gran, gran, &prot),
	     "host idmap", pa, gran);
	if (gran == SIM_SZ_1G)
		pk->ctr.idmap_1g++;
	else if (gran == SIM_SZ_2M)
		pk->ctr.idmap_2m++;
	else
		pk->ctr.idmap_4k++;
	*mapped = gran;
	return 0;
}

int stack_pkvm_host_access(struct stack_pkvm *pk, struct sim_who *who, uint64_t pa,
			   bool write, enum stack_pkvm_by by, struct stack_pkvm_acc_res *res,
			   uint64_t *cycles)
{
	struct pkvm_op op;
	struct s2_xlate x;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (!is_memory(pk, pa, 1))
		return -EINVAL;
	op_begin(&op, pk, who, cycles);
	for (int tries = 0; tries < 2; tries++) {
		uint64_t gran = 0;

		if (translate(pk, who, pk->host, pk->cfg.host_vmid, pa, write, &x) == S2_FAULT_NONE) {
			charge(&op, x.cycles - x.mem_cycles);
			res->result = STACK_PKVM_ACC_OK;
			goto out;
		}
		charge(&op, x.cycles - x.mem_cycles);
		/* handle_host_mem_abort */
		pk->ctr.host_aborts++;
		charge(&op, pk->cfg.abort_cycles);
		rc = x.fault.type == S2_FAULT_TRANSLATION ? host_idmap(&op, pa, &gran) : -EPERM;
		if (rc == -EAGAIN)
			rc = 0;
		if (rc)
			break;
		if (gran) {
			res->mapped = true;
			res->map_size = gran;
		}
	}
	if (rc == -ENOMEM)
		goto out;
	if (!rc)
		sim_fatal("pkvm: host access 0x%llx still faults after the idmap",
			  (unsigned long long)pa);
	/*
	 * host_inject_abort: a synchronous abort at the host's own EL, with
	 * the fault's status and S1PTW set as pKVM's marker.
	 */
	rc = 0;
	pk->ctr.injected++;
	charge(&op, pk->cfg.inject_cycles);
	res->esr = (by == STACK_PKVM_BY_USER ? 0x24ull : 0x25ull) << 26 | 1ull << 25 |
		   (x.fault.code & 0x7F) | 1ull << 7;
	res->far = pa;
	switch (by) {
	case STACK_PKVM_BY_USER:    res->result = STACK_PKVM_ACC_SIGSEGV; break;
	case STACK_PKVM_BY_UACCESS: res->result = STACK_PKVM_ACC_EFAULT; break;
	default:                    res->result = STACK_PKVM_ACC_OOPS; break;
	}
out:
	pk->op = NULL;
	return rc;
}

int stack_pkvm_guest_access(struct stack_pkvm *pk, struct sim_who *who, uint32_t handle,
			    uint64_t ipa, bool write, uint64_t *pa, uint64_t *cycles)
{
	struct pkvm_vm *vm = vm_live(pk, handle, -1);
	struct s2_xlate x;
	int f;

	if (!vm)
		return -EINVAL;
	f = translate(pk, who, vm->pgt, vm->vmid, ipa, write, &x);
	if (cycles)
		*cycles += x.cycles - x.mem_cycles;
	if (f == S2_FAULT_NONE && pa)
		*pa = x.pa;
	return f;
}

bool stack_pkvm_dma_allowed(const struct stack_pkvm *pk, uint64_t pa)
{
	return is_memory(pk, pa, 1) && !meta_peek(pk, pa & ~(PAGE - 1))->iommu_off;
}

/* ------------------------------------------------------------------ */
/* Inspection and invariants                                           */
/* ------------------------------------------------------------------ */

int stack_pkvm_page(const struct stack_pkvm *pk, uint64_t pfn, struct stack_pkvm_page *out)
{
	uint64_t pa = pfn << 12, hpa = 0, size = 0;
	const struct pkvm_meta *m;

	memset(out, 0, sizeof(*out));
	if (!pfns_ok(pk, pfn, 1))
		return -EINVAL;
	m = meta_peek(pk, pa);
	out->host = peek_state(pk->host, pa, true, &hpa, &size, &out->host_owner);
	{
		struct s2_path path;

		out->host_mapped = s2_pgt_path(pk->host, pa, &path) == S2_OK &&
				   path.outcome == S2_PATH_OK;
		out->host_map_size = out->host_mapped ? path.size : 0;
	}
	out->hyp = peek_state(pk->hyp, hyp_va(pk, pa), false, NULL, NULL, NULL);
	out->guest = STACK_PKVM_NOPAGE;
	if (m->vm) {
		const struct pkvm_vm *vm = &pk->vm[m->vm - 1];

		out->vm = vm->handle;
		out->gfn = m->gfn;
		out->guest = peek_state(vm->pgt, m->gfn << 12, false, NULL, NULL, NULL);
	} else if (m->share_guest) {
		out->guest = STACK_PKVM_SHARED_BORROWED;   /* non-protected guests borrow it */
	}
	out->share_guest = m->share_guest;
	out->pin = m->pin;
	out->dma = m->dma;
	out->iommu = !m->iommu_off;
	return 0;
}

enum stack_pkvm_state stack_pkvm_guest_state(const struct stack_pkvm *pk, uint32_t handle,
					     uint64_t gfn, uint64_t *pa)
{
	const struct pkvm_vm *vm = vm_peek(pk, handle);
	uint64_t p = 0, size = 0;
	enum stack_pkvm_state st;

	if (!vm || !vm->pgt || (gfn << 12) >= s2_pgt_ia_limit(vm->pgt))
		return STACK_PKVM_NOPAGE;
	st = peek_state(vm->pgt, gfn << 12, false, &p, &size, NULL);
	if (st != STACK_PKVM_NOPAGE && pa)
		*pa = p;
	return st;
}

/* The invariant checker's pass over the guests' leaves. */
struct inv {
	const struct stack_pkvm *pk;
	const struct pkvm_vm *vm;
	uint32_t *borrowers;       /* per host page: guests borrowing it (SHARED_BORROWED) */
	char *msg;
	size_t len;
	int bad;
};

#define INV_FAIL(iv, ...) \
	do { if (!(iv)->bad) { snprintf((iv)->msg, (iv)->len, __VA_ARGS__); (iv)->bad = 1; } } while (0)

static void inv_guest_leaf(void *arg, uint64_t ia, uint64_t size, const struct s2_pte *pte)
{
	struct inv *iv = arg;
	const struct stack_pkvm *pk = iv->pk;
	enum stack_pkvm_state gs;

	if (pte->type != S2_PTE_LEAF || iv->bad)
		return;
	gs = pte_state(pte, false);
	for (uint64_t off = 0; off < size; off += PAGE) {
		uint64_t pa = pte->addr + off, gfn = (ia + off) >> 12;
		const struct pkvm_meta *m;

		if (!is_memory(pk, pa, PAGE)) {
			INV_FAIL(iv, "pkvm: vm 0x%x gfn 0x%llx maps 0x%llx outside host memory",
				 iv->vm->handle, (unsigned long long)gfn, (unsigned long long)pa);
			return;
		}
		m = meta_peek(pk, pa);
		switch (gs) {
		case STACK_PKVM_OWNED:
		case STACK_PKVM_SHARED_OWNED:
			if (m->vm != vm_tag(pk, iv->vm) || m->gfn != gfn)
				INV_FAIL(iv, "pkvm: pfn 0x%llx: guest %s at vm 0x%x gfn 0x%llx, metadata says vm %u gfn 0x%llx",
					 (unsigned long long)(pa >> 12), stack_pkvm_state_names[gs],
					 iv->vm->handle, (unsigned long long)gfn, m->vm,
					 (unsigned long long)m->gfn);
			break;
		case STACK_PKVM_SHARED_BORROWED:
			if (iv->vm->prot)
				INV_FAIL(iv, "pkvm: pfn 0x%llx: protected vm 0x%x borrows a host page",
					 (unsigned long long)(pa >> 12), iv->vm->handle);
			iv->borrowers[(pa - pk->cfg.mem_base) >> 12]++;
			break;
		default:
			INV_FAIL(iv, "pkvm: vm 0x%x gfn 0x%llx: a valid leaf in the reserved state",
				 iv->vm->handle, (unsigned long long)gfn);
		}
	}
}

/*
 * The 512 pages from page index @i are all in the default state, as a
 * whole (the checker's fast path, so its cost follows what changed, not
 * the size of memory): no metadata, no guest borrows one, the host walk
 * ends above the last level at an empty entry or at an identity block in
 * the OWNED state, and the hyp stage 1 has nothing below that 2M.
 */
static bool chunk_default(const struct stack_pkvm *pk, const struct inv *iv, uint64_t i)
{
	uint64_t base = pk->cfg.mem_base + i * PAGE;
	struct s2_path h, y;

	if (pk->chunk[i / PAGES_2M] || base + SIM_SZ_2M > pk->cfg.mem_base + pk->cfg.mem_size)
		return false;
	for (unsigned k = 0; k < PAGES_2M; k++)
		if (iv->borrowers[i + k])
			return false;
	(void)s2_pgt_path(pk->host, base, &h);
	(void)s2_pgt_path(pk->hyp, hyp_va(pk, base), &y);
	if (h.level == 3 || y.level == 3 || y.outcome != S2_PATH_TRANSLATION || y.owner)
		return false;
	if (h.outcome == S2_PATH_TRANSLATION)
		return !h.owner;
	return h.outcome == S2_PATH_OK && h.size >= SIM_SZ_2M && !(h.sw & 3) &&
	       h.pa == base;
}

int stack_pkvm_check(const struct stack_pkvm *pk, char *msg, size_t len)
{
	struct inv iv = { .pk = pk, .msg = msg, .len = len };
	uint64_t npages = pk->cfg.mem_size / PAGE, pool_end;

	pool_end = pk->cfg.pool_base + pk->cfg.pool_pages * PAGE;
	iv.borrowers = sim_xcalloc((size_t)npages, sizeof(*iv.borrowers));
	for (unsigned i = 0; i < STACK_PKVM_MAX_VMS && !iv.bad; i++) {
		if (!pk->vm[i].used || !pk->vm[i].pgt)
			continue;
		iv.vm = &pk->vm[i];
		peek_range(pk->vm[i].pgt, 0, s2_pgt_ia_limit(pk->vm[i].pgt), inv_guest_leaf, &iv);
	}
	for (uint64_t i = 0; i < npages && !iv.bad; i++) {
		uint64_t pa = pk->cfg.mem_base + i * PAGE, hpa = 0, hsize = 0, pfn = pa >> 12;

		if (!(i % PAGES_2M) && chunk_default(pk, &iv, i)) {
			i += PAGES_2M - 1;
			continue;
		}
		const struct pkvm_meta *m = meta_peek(pk, pa);
		uint8_t owner = 0;
		enum stack_pkvm_state hs = peek_state(pk->host, pa, true, &hpa, &hsize, &owner);
		enum stack_pkvm_state ys = peek_state(pk->hyp, hyp_va(pk, pa), false, NULL, NULL, NULL);
		enum stack_pkvm_state gs = STACK_PKVM_NOPAGE;
		bool host_access = hs != STACK_PKVM_NOPAGE;
		struct s2_path path;

		if (s2_pgt_path(pk->host, pa, &path) == S2_OK && path.outcome == S2_PATH_OK) {
			if (path.pa != pa)
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: host stage 2 maps it to 0x%llx (not identity)",
					 (unsigned long long)pfn, (unsigned long long)path.pa);
			if (path.size > PAGE && hs != STACK_PKVM_OWNED)
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: a %llu-byte host block in state %s",
					 (unsigned long long)pfn, (unsigned long long)path.size,
					 stack_pkvm_state_names[hs]);
		}
		if (m->vm) {
			const struct pkvm_vm *vm = &pk->vm[m->vm - 1];
			uint64_t gpa = 0;

			if (!vm->used || !vm->pgt) {
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: held for a VM that is gone",
					 (unsigned long long)pfn);
				break;
			}
			gs = peek_state(vm->pgt, m->gfn << 12, false, &gpa, NULL, NULL);
			if (gs == STACK_PKVM_NOPAGE || gs == STACK_PKVM_SHARED_BORROWED || gpa != pa)
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: vm 0x%x gfn 0x%llx does not hold it (%s)",
					 (unsigned long long)pfn, vm->handle, (unsigned long long)m->gfn,
					 stack_pkvm_state_names[gs]);
		}
		if (m->dma && !host_access)
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: DMA-mapped by the host but host %s",
				 (unsigned long long)pfn, stack_pkvm_state_names[hs]);
		if (!m->iommu_off && !host_access)
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: the IOMMU maps it, the host does not own or share it",
				 (unsigned long long)pfn);
		if (m->iommu_off && host_access)
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: host %s but out of the IOMMU map",
				 (unsigned long long)pfn, stack_pkvm_state_names[hs]);
		if (m->pin && !(hs == STACK_PKVM_SHARED_OWNED && ys == STACK_PKVM_SHARED_BORROWED))
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: pinned but host %s hyp %s",
				 (unsigned long long)pfn, stack_pkvm_state_names[hs],
				 stack_pkvm_state_names[ys]);
		if (m->share_guest != iv.borrowers[i])
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: share count %u, %u guests borrow it",
				 (unsigned long long)pfn, m->share_guest, iv.borrowers[i]);
		if ((pa >= pk->cfg.pool_base && pa < pool_end) && !m->hyp_use)
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: a pool page not in the hyp's use",
				 (unsigned long long)pfn);
		if (m->hyp_use && !(ys == STACK_PKVM_OWNED && hs == STACK_PKVM_NOPAGE))
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: the hyp's own page is hyp %s host %s",
				 (unsigned long long)pfn, stack_pkvm_state_names[ys],
				 stack_pkvm_state_names[hs]);
		switch (hs) {
		case STACK_PKVM_OWNED:
			if (ys != STACK_PKVM_NOPAGE || m->vm || m->share_guest)
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: host owned but hyp %s, vm %u, shares %u",
					 (unsigned long long)pfn, stack_pkvm_state_names[ys], m->vm,
					 m->share_guest);
			break;
		case STACK_PKVM_SHARED_OWNED:
			if ((ys == STACK_PKVM_SHARED_BORROWED) == (m->share_guest != 0) || m->vm ||
			    (ys != STACK_PKVM_SHARED_BORROWED && ys != STACK_PKVM_NOPAGE))
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: host shared_owned, hyp %s, %u guest shares",
					 (unsigned long long)pfn, stack_pkvm_state_names[ys],
					 m->share_guest);
			break;
		case STACK_PKVM_SHARED_BORROWED:
			if (ys != STACK_PKVM_NOPAGE || gs != STACK_PKVM_SHARED_OWNED)
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: host borrows it, hyp %s, guest %s",
					 (unsigned long long)pfn, stack_pkvm_state_names[ys],
					 stack_pkvm_state_names[gs]);
			break;
		default:
			if (owner == STACK_PKVM_ID_HYP &&
			    (ys != STACK_PKVM_OWNED || m->vm || m->share_guest))
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: owner hyp but hyp %s",
					 (unsigned long long)pfn, stack_pkvm_state_names[ys]);
			else if (owner == STACK_PKVM_ID_GUEST &&
				 (ys != STACK_PKVM_NOPAGE || gs != STACK_PKVM_OWNED))
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: owner guest but guest %s hyp %s",
					 (unsigned long long)pfn, stack_pkvm_state_names[gs],
					 stack_pkvm_state_names[ys]);
			else if (owner != STACK_PKVM_ID_HYP && owner != STACK_PKVM_ID_GUEST)
				INV_FAIL(&iv, "pkvm: pfn 0x%llx: unknown owner id %u",
					 (unsigned long long)pfn, owner);
		}
		if (ys == STACK_PKVM_SHARED_OWNED)
			INV_FAIL(&iv, "pkvm: pfn 0x%llx: the hyp never shares its pages",
				 (unsigned long long)pfn);
	}
	free(iv.borrowers);
	return iv.bad ? -1 : 0;
}
