/*
 * iommu.c - the IOMMU model: device table, IO page tables on the stage2/
 * walker, the IOTLB (a stage2/tlb.h structure), DMA with the RMP check,
 * and the event log ring.  No script or configuration code here (see
 * iommu_mod.c).
 *
 * See docs/iommu.md ('DMA and the RMP') and Linux iommu_snp_enable() for the
 * checks, and docs/iommu.md for every modelling choice.
 */
#include "iommu/iommu_int.h"

#include <stdlib.h>
#include <string.h>

#define PAGE      SIM_PAGE_SIZE
#define PAGE_MASK (SIM_PAGE_SIZE - 1)

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* ORDER: enum iommu_rc. */
static const char *const rc_names[IOMMU_RC_COUNT] = {
	"ok", "nodev", "attached", "detached", "mode", "novm",
	"exists", "nomem", "align", "range", "perms", "inval", "rmp",
};

const char *iommu_rc_name(int rc)
{
	if (rc < 0 || rc >= IOMMU_RC_COUNT)
		return "?";
	return rc_names[rc];
}

/* ORDER: enum iommu_cause. */
static const char *const cause_names[IOMMU_CAUSE_COUNT] = {
	"OK", "TRANSLATION", "PERMISSION", "RMP",
};

const char *iommu_cause_name(enum iommu_cause c)
{
	if ((unsigned)c >= IOMMU_CAUSE_COUNT)
		return "?";
	return cause_names[c];
}

/* ORDER: enum iommu_mode. */
static const char *const mode_names[IOMMU_MODE_COUNT] = { "snp", "stage2", "passthrough" };

const char *iommu_mode_name(enum iommu_mode m)
{
	if ((unsigned)m >= IOMMU_MODE_COUNT)
		return "?";
	return mode_names[m];
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

void iommu_config_default(struct iommu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->devices = 256;
	cfg->iotlb_sets = 32;
	cfg->iotlb_ways = 4;
	cfg->pool_base = 8ull << 20;
	cfg->pool_size = 2ull << 20;
	cfg->log_base = 10ull << 20;
	cfg->log_entries = 256;
	/* The generic profile's values (sim/profiles/generic.prof, [lat.iommu]). */
	cfg->lat.request = 20;
	cfg->lat.iotlb_hit = 4;
	cfg->lat.walk = 30;
	cfg->lat.rmp_check = 10;
	cfg->lat.line = 7;
	cfg->lat.fault = 200;
	cfg->lat.inval_page = 1300;
	cfg->lat.inval_dev = 1500;
	cfg->lat.inval_all = 2200;
	cfg->lat.map = 150;
	cfg->lat.attach = 1500;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int check_config(const struct sim_mem *m, const struct iommu_config *c,
			struct sim_err *err)
{
	uint64_t memsz = sim_mem_size(m), logsz;

	if (c->devices < 1 || c->devices > IOMMU_MAX_DEVICES)
		return sim_err_set(err, "iommu.devices: %u: must be 1..%u", c->devices,
				   IOMMU_MAX_DEVICES);
	if (!pow2(c->iotlb_sets) || c->iotlb_sets > TLB_MAX_SETS)
		return sim_err_set(err, "iommu.iotlb_sets: %u: must be a power of two up to %u",
				   c->iotlb_sets, TLB_MAX_SETS);
	if (c->iotlb_ways > TLB_MAX_WAYS)
		return sim_err_set(err, "iommu.iotlb_ways: %u: must be 0..%u", c->iotlb_ways,
				   TLB_MAX_WAYS);
	if (c->pool_base & PAGE_MASK)
		return sim_err_set(err, "iommu.pool_base: 0x%llx: must be 4k aligned",
				   (unsigned long long)c->pool_base);
	if (c->pool_size < PAGE || (c->pool_size & PAGE_MASK))
		return sim_err_set(err, "iommu.pool_size: 0x%llx: must be a non-zero multiple of 4k",
				   (unsigned long long)c->pool_size);
	if (c->pool_base > memsz || c->pool_size > memsz - c->pool_base)
		return sim_err_set(err, "iommu.pool_base: [0x%llx, 0x%llx) does not fit in "
				   "machine.mem (0x%llx)", (unsigned long long)c->pool_base,
				   (unsigned long long)(c->pool_base + c->pool_size),
				   (unsigned long long)memsz);
	if (!pow2(c->log_entries) || c->log_entries < IOMMU_LOG_MIN ||
	    c->log_entries > IOMMU_LOG_MAX)
		return sim_err_set(err, "iommu.log_entries: %u: must be a power of two, %u..%u",
				   c->log_entries, IOMMU_LOG_MIN, IOMMU_LOG_MAX);
	logsz = (uint64_t)c->log_entries * IOMMU_LOG_ENTRY;
	if (c->log_base & PAGE_MASK)
		return sim_err_set(err, "iommu.log_base: 0x%llx: must be 4k aligned",
				   (unsigned long long)c->log_base);
	if (c->log_base > memsz || logsz > memsz - c->log_base)
		return sim_err_set(err, "iommu.log_base: [0x%llx, 0x%llx) does not fit in "
				   "machine.mem (0x%llx)", (unsigned long long)c->log_base,
				   (unsigned long long)(c->log_base + logsz), (unsigned long long)memsz);
	if (c->log_base < c->pool_base + c->pool_size && c->pool_base < c->log_base + logsz)
		return sim_err_set(err, "iommu.log_base: the log [0x%llx, 0x%llx) overlaps the "
				   "IO table pool [0x%llx, 0x%llx)", (unsigned long long)c->log_base,
				   (unsigned long long)(c->log_base + logsz),
				   (unsigned long long)c->pool_base,
				   (unsigned long long)(c->pool_base + c->pool_size));
	return 0;
}

/* ------------------------------------------------------------------ */
/* The IO table pool (struct s2_mm_ops for the walker)                 */
/* ------------------------------------------------------------------ */

static uint64_t pool_alloc(void *arg, struct sim_who *who)
{
	struct iommu_pool *p = arg;
	uint64_t a;

	(void)who;
	if (p->nfree)
		return p->free[--p->nfree];
	if (p->next >= p->base + p->size)
		return S2_NO_PAGE;
	a = p->next;
	p->next += PAGE;
	return a;
}

static void pool_free(void *arg, uint64_t addr)
{
	struct iommu_pool *p = arg;

	if (addr < p->base || addr >= p->next || (addr & PAGE_MASK))
		sim_fatal("iommu: freeing 0x%llx, not a page of the IO table pool",
			  (unsigned long long)addr);
	if (p->nfree == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		uint64_t *f = realloc(p->free, cap * sizeof(*f));

		if (!f)
			sim_fatal("iommu: out of memory");
		p->free = f;
		p->cap = cap;
	}
	p->free[p->nfree++] = addr;
}

/*
 * A page from the host's allocator: never an assigned page, but the
 * driver's zeroing store is a host write, RMP-checked (and charged to the
 * operation that takes the page, @who).
 */
static uint64_t src_alloc(void *arg, struct sim_who *who)
{
	struct iommu *io = arg;
	struct rmp_fault f;
	uint64_t pa = io->src.alloc(io->src.arg);

	if (pa != S2_NO_PAGE && rmp_enabled(io->rmp) &&
	    rmp_check_host(io->rmp, who, pa, true, SIM_SZ_4K, &f) != RMP_FAULT_NONE)
		sim_fatal("iommu: the host page allocator handed out assigned page 0x%llx",
			  (unsigned long long)pa);
	return pa;
}

static void src_free(void *arg, uint64_t pa)
{
	struct iommu *io = arg;

	io->src.free(io->src.arg, pa);
}

void iommu_set_page_source(struct iommu *io, const struct iommu_page_source *src)
{
	io->src = *src;
	io->has_src = true;
	io->mm.alloc_page = src_alloc;
	io->mm.free_page = src_free;
}

void iommu_drop_tables(struct iommu *io)
{
	for (uint32_t d = 0; d < io->cfg.devices; d++) {
		if (io->dte[d].own_table)
			s2_pgt_free(io->dte[d].table);
		memset(&io->dte[d], 0, sizeof(io->dte[d]));
		io->dte[d].domain = (uint16_t)d;
	}
	if (io->iotlb)
		(void)tlb_inval_all(io->iotlb);
	io->has_src = false;
	io->mm.alloc_page = pool_alloc;
	io->mm.free_page = pool_free;
}

/* The mm_arg of an IO table: the pool, or the IOMMU itself with a page source. */
static void *mm_arg(struct iommu *io)
{
	return io->has_src ? (void *)io : (void *)&io->pool;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */
/* ------------------------------------------------------------------ */

struct iommu *iommu_new(struct sim_mem *m, const struct iommu_config *cfg, struct sim_err *err)
{
	struct iommu *io;
	struct tlb_cfg tc;

	if (check_config(m, cfg, err) != 0)
		return NULL;
	io = calloc(1, sizeof(*io));
	if (!io)
		sim_fatal("iommu: out of memory");
	io->mem = m;
	io->cfg = *cfg;
	io->modes = (1u << IOMMU_MODE_COUNT) - 1;
	io->dte = calloc(cfg->devices, sizeof(*io->dte));
	if (!io->dte)
		sim_fatal("iommu: out of memory");
	for (uint32_t d = 0; d < cfg->devices; d++)
		io->dte[d].domain = (uint16_t)d;
	io->pool.base = cfg->pool_base;
	io->pool.size = cfg->pool_size;
	io->pool.next = cfg->pool_base;
	io->mm.alloc_page = pool_alloc;
	io->mm.free_page = pool_free;
	if (cfg->iotlb_ways) {
		tc.sets = cfg->iotlb_sets;
		tc.ways = cfg->iotlb_ways;
		tc.hit_lat = cfg->lat.iotlb_hit;
		tc.payload = sizeof(struct iommu_iotlb_ent);
		io->iotlb = tlb_new(&tc);
		if (!io->iotlb) {
			sim_err_set(err, "iommu.iotlb_sets: %u x %u ways: not a valid TLB geometry",
				    cfg->iotlb_sets, cfg->iotlb_ways);
			iommu_free(io);
			return NULL;
		}
	}
	/* The ring starts empty and zeroed (the driver clears it before enabling). */
	for (uint32_t i = 0; i < cfg->log_entries; i++) {
		static const uint8_t zero[IOMMU_LOG_ENTRY];

		sim_mem_poke(m, cfg->log_base + (uint64_t)i * IOMMU_LOG_ENTRY, zero, sizeof(zero));
	}
	return io;
}

void iommu_free(struct iommu *io)
{
	if (!io)
		return;
	for (uint32_t d = 0; d < io->cfg.devices; d++)
		if (io->dte[d].own_table)
			s2_pgt_free(io->dte[d].table);
	while (io->agents) {
		struct iommu_agent *n = io->agents->next;

		free(io->agents);
		io->agents = n;
	}
	tlb_free(io->iotlb);
	free(io->pool.free);
	free(io->dte);
	free(io);
}

const struct iommu_config *iommu_config(const struct iommu *io)
{
	return &io->cfg;
}

void iommu_set_vm_tables(struct iommu *io, iommu_vm_table_fn fn, void *arg)
{
	io->vm_table = fn;
	io->vm_table_arg = arg;
}

void iommu_set_modes(struct iommu *io, unsigned mask)
{
	io->modes = mask;
}

void iommu_set_rmp(struct iommu *io, struct rmp *rmp)
{
	uint64_t logsz = (uint64_t)io->cfg.log_entries * IOMMU_LOG_ENTRY;

	io->rmp = rmp;
	if (!rmp_enabled(rmp))
		return;
	/* SNP_INIT: the event log becomes firmware-owned (ASID 0, immutable). */
	for (uint64_t pa = io->cfg.log_base; pa < io->cfg.log_base + logsz; pa += PAGE) {
		struct rmp_entry ent;

		if (!rmp_is_covered(rmp, pa))
			continue;
		memset(&ent, 0, sizeof(ent));
		ent.assigned = true;
		ent.immutable = true;
		if (rmp_fw_write(rmp, pa, &ent) != RMP_RC_SUCCESS)
			sim_fatal("iommu: marking event-log page 0x%llx firmware-owned failed",
				  (unsigned long long)pa);
	}
}

const struct iommu_counters *iommu_counters(const struct iommu *io)
{
	return &io->ctr;
}

/* ------------------------------------------------------------------ */
/* Device table and IO tables                                          */
/* ------------------------------------------------------------------ */

static int rc_from_s2(int rc)
{
	switch (rc) {
	case S2_OK:       return IOMMU_OK;
	case S2_ERR_EXISTS: return IOMMU_ERR_EXISTS;
	case S2_ERR_NOMEM:  return IOMMU_ERR_NOMEM;
	case S2_ERR_ALIGN:  return IOMMU_ERR_ALIGN;
	case S2_ERR_RANGE:  return IOMMU_ERR_RANGE;
	case S2_ERR_PERMS:  return IOMMU_ERR_PERMS;
	default:            return IOMMU_ERR_INVAL;
	}
}

static void add_cycles(uint64_t *cycles, uint64_t v)
{
	if (cycles)
		*cycles += v;
}

/*
 * A fresh accumulator for the timed calls (RMP checks, table walks) of an
 * operation of @who (NULL: no agent): its mem_cycles go into the
 * operation's reported cost.
 */
static struct sim_who who_acc(const struct sim_who *who)
{
	struct sim_who w = { who ? who->now : 0, who ? who->agent : -1, 0 };

	return w;
}

/* The @k-th page pool_alloc() would hand out next (0 = the next), or S2_NO_PAGE. */
static uint64_t pool_peek(const struct iommu_pool *p, uint64_t k)
{
	if (k < p->nfree)
		return p->free[p->nfree - 1 - k];
	k -= p->nfree;
	if (k >= (p->base + p->size - p->next) / PAGE)
		return S2_NO_PAGE;
	return p->next + k * PAGE;
}

/*
 * The driver's stores into IO table pages are host data writes: with SNP
 * on each is RMP-checked for Hypervisor-Owned (APM vol. 2 section
 * 15.36.10, Table 15-39: #PF with the RMP bit on an assigned page).
 * Check-then-commit: the pages are checked before the first store.
 * Return: true if @pa passes; false with the fault kept (iommu_host_fault).
 */
static bool host_page_ok(struct iommu *io, struct sim_who *rw, uint64_t pa)
{
	struct rmp_fault f;

	if (rmp_check_host(io->rmp, rw, pa, true, SIM_SZ_4K, &f) == RMP_FAULT_NONE)
		return true;
	io->host_fault = f;
	io->host_faulted = true;
	return false;
}

/*
 * Check every page operation @op on [iova, iova + size) of table @t would
 * write (s2_write_set) and every pool page it would take for new tables.
 * A prediction that ends in an error leaves the outcome to the operation.
 * *@cyc gets the checks' memory cycles.  Return: false if refused.
 */
static bool host_table_writes(struct iommu *io, const struct sim_who *who, struct s2_pgt *t,
			      enum s2_wset_op op, uint64_t iova, uint64_t pa, uint64_t size,
			      const struct s2_prot *prot, uint64_t *cyc)
{
	struct sim_who rw = who_acc(who);
	struct s2_wset ws = { 0 };
	bool ok = true;

	if (!rmp_enabled(io->rmp) || s2_write_set(t, op, iova, pa, size, 0, prot, &ws) != S2_OK) {
		s2_wset_free(&ws);
		return true;
	}
	for (size_t i = 0; ok && i < ws.n; i++)
		ok = host_page_ok(io, &rw, ws.pages[i]);
	/* new tables from the host's allocator: checked as they are taken (src_alloc) */
	for (uint64_t k = 0; ok && !io->has_src && k < ws.new_tables; k++) {
		uint64_t pg = pool_peek(&io->pool, k);

		if (pg == S2_NO_PAGE)
			break;   /* the operation runs out of pool pages there (nomem) */
		ok = host_page_ok(io, &rw, pg);
	}
	*cyc += rw.mem_cycles;
	s2_wset_free(&ws);
	return ok;
}

bool iommu_host_fault(const struct iommu *io, struct rmp_fault *f)
{
	if (io->host_faulted)
		*f = io->host_fault;
	return io->host_faulted;
}

/* Not attached => attached. */
int iommu_attach(struct iommu *io, const struct sim_who *who, uint32_t dev,
		 enum iommu_mode mode, int vm, struct s2_pgt *s2, uint64_t *cycles)
{
	struct iommu_dte *d;
	struct s2_pgt *t = NULL;
	struct sim_who tw = who_acc(who);
	int rc;

	sim_sync_id(io->mem, who ? who->agent : -1);   /* the device table is shared */
	if (cycles)
		*cycles = 0;
	if (dev >= io->cfg.devices)
		return IOMMU_ERR_NODEV;
	d = &io->dte[dev];
	if (d->valid)
		return IOMMU_ERR_ATTACHED;
	if ((unsigned)mode < IOMMU_MODE_COUNT && !(io->modes >> mode & 1))
		return IOMMU_ERR_MODE;
	switch (mode) {
	case IOMMU_MODE_SNP:
		/* The root comes from the pool and is zeroed: a host store. */
		if (!io->has_src && rmp_enabled(io->rmp) && pool_peek(&io->pool, 0) != S2_NO_PAGE) {
			struct sim_who rw = who_acc(who);
			bool ok = host_page_ok(io, &rw, pool_peek(&io->pool, 0));

			add_cycles(cycles, rw.mem_cycles);
			if (!ok)
				return IOMMU_ERR_RMP;
		}
		t = s2_pgt_new(s2_fmt(S2_FMT_AMDV1), IOMMU_IO_LEVELS, io->mem, S2_NO_PAGE, &io->mm,
			       mm_arg(io), &tw, &rc);
		if (!t)
			return rc_from_s2(rc);
		add_cycles(cycles, tw.mem_cycles);
		break;
	case IOMMU_MODE_STAGE2:
		if (!s2)
			return IOMMU_ERR_NOVM;
		t = s2;
		break;
	case IOMMU_MODE_PASSTHROUGH:
		break;
	default:
		return IOMMU_ERR_INVAL;
	}
	d->valid = true;
	d->mode = mode;
	d->vm = vm;
	d->table = t;
	d->own_table = mode == IOMMU_MODE_SNP;
	io->ctr.attach++;
	add_cycles(cycles, io->cfg.lat.attach);
	return IOMMU_OK;
}

/* Attached => not attached (table freed, the device's IOTLB entries dropped). */
int iommu_detach(struct iommu *io, const struct sim_who *who, uint32_t dev, uint64_t *cycles)
{
	struct iommu_dte *d;
	uint64_t c = 0;

	sim_sync_id(io->mem, who ? who->agent : -1);   /* the device table is shared */
	if (cycles)
		*cycles = 0;
	if (dev >= io->cfg.devices)
		return IOMMU_ERR_NODEV;
	d = &io->dte[dev];
	if (!d->valid)
		return IOMMU_ERR_DETACHED;
	if (d->own_table)
		s2_pgt_free(d->table);
	d->valid = false;
	d->table = NULL;
	d->own_table = false;
	d->vm = 0;
	iommu_inval_dev(io, dev, &c);
	io->ctr.detach++;
	add_cycles(cycles, c + io->cfg.lat.attach);
	return IOMMU_OK;
}

bool iommu_dev_info(const struct iommu *io, uint32_t dev, enum iommu_mode *mode, int *vm,
		    struct s2_pgt **table)
{
	const struct iommu_dte *d;

	if (dev >= io->cfg.devices || !io->dte[dev].valid)
		return false;
	d = &io->dte[dev];
	if (mode)
		*mode = d->mode;
	if (vm)
		*vm = d->vm;
	if (table)
		*table = d->table;
	return true;
}

/* The snp-mode IO table of @dev, or an error code in *@rc. */
static struct s2_pgt *io_table(struct iommu *io, uint32_t dev, int *rc)
{
	if (dev >= io->cfg.devices) {
		*rc = IOMMU_ERR_NODEV;
		return NULL;
	}
	if (!io->dte[dev].valid) {
		*rc = IOMMU_ERR_DETACHED;
		return NULL;
	}
	if (io->dte[dev].mode != IOMMU_MODE_SNP) {
		*rc = IOMMU_ERR_MODE;
		return NULL;
	}
	*rc = IOMMU_OK;
	return io->dte[dev].table;
}

int iommu_map(struct iommu *io, const struct sim_who *who, uint32_t dev, uint64_t iova,
	      uint64_t pa, uint64_t size, uint8_t perms, uint64_t *cycles)
{
	struct s2_prot prot;
	struct s2_pgt *t;
	struct sim_who tw = who_acc(who);
	uint64_t chk = 0;
	int rc;

	if (cycles)
		*cycles = 0;
	t = io_table(io, dev, &rc);
	if (!t)
		return rc;
	if (size == 0)
		return IOMMU_ERR_INVAL;
	/* Write-only is fine (DMA_FROM_DEVICE); no access at all is refused, as Linux's map does. */
	if (!perms || (perms & ~(S2_PERM_R | S2_PERM_W)))
		return IOMMU_ERR_PERMS;
	memset(&prot, 0, sizeof(prot));
	prot.perms = perms;
	if (!host_table_writes(io, who, t, S2_WSET_MAP, iova, pa, size, &prot, &chk)) {
		add_cycles(cycles, io->cfg.lat.map + chk);
		return IOMMU_ERR_RMP;
	}
	rc = rc_from_s2(s2_map(t, &tw, iova, pa, size, 0, &prot));
	add_cycles(cycles, io->cfg.lat.map + chk + tw.mem_cycles);
	if (rc == IOMMU_OK)
		io->ctr.map++;
	return rc;
}

int iommu_unmap(struct iommu *io, const struct sim_who *who, uint32_t dev, uint64_t iova,
		uint64_t size, uint64_t *cycles)
{
	struct s2_pgt *t;
	struct sim_who tw = who_acc(who);
	uint64_t chk = 0;
	int rc;

	if (cycles)
		*cycles = 0;
	t = io_table(io, dev, &rc);
	if (!t)
		return rc;
	if (size == 0)
		return IOMMU_ERR_INVAL;
	if (!host_table_writes(io, who, t, S2_WSET_UNMAP, iova, 0, size, NULL, &chk)) {
		add_cycles(cycles, io->cfg.lat.map + chk);
		return IOMMU_ERR_RMP;
	}
	rc = rc_from_s2(s2_unmap(t, &tw, iova, size));
	add_cycles(cycles, io->cfg.lat.map + chk + tw.mem_cycles);
	if (rc == IOMMU_OK)
		io->ctr.unmap++;
	return rc;
}

/* ------------------------------------------------------------------ */
/* IOTLB                                                               */
/* ------------------------------------------------------------------ */

/* Size classes an IOTLB entry can have: 4K, 2M, 1G leaves. */
#define IOTLB_SZ_COUNT 3u

static unsigned sz_shift(unsigned sz)
{
	return 12 + 9 * sz;
}

/*
 * Find @va's entry of @dev, smallest page size first.  Exactly one
 * tlb_lookup() per call, so the structure's own hit/miss counters match.
 */
static const struct iommu_iotlb_ent *iotlb_find(struct iommu *io, uint32_t dev, uint64_t va,
						unsigned *sz_out)
{
	struct tlb_key k;

	for (unsigned sz = 0; sz < IOTLB_SZ_COUNT; sz++) {
		k.tag = va >> sz_shift(sz);
		k.space = dev;
		k.kind = sz;
		if (tlb_peek(io->iotlb, &k)) {
			*sz_out = sz;
			return tlb_lookup(io->iotlb, &k);
		}
	}
	k.tag = va >> 12;
	k.space = dev;
	k.kind = 0;
	(void)tlb_lookup(io->iotlb, &k);
	return NULL;
}

static void iotlb_fill(struct iommu *io, uint32_t dev, uint64_t va, uint64_t size, uint64_t base,
		       uint8_t perms)
{
	struct iommu_iotlb_ent *e;
	struct tlb_key k;
	unsigned sz = 0;

	while (sz + 1 < IOTLB_SZ_COUNT && (1ull << sz_shift(sz)) < size)
		sz++;
	k.tag = va >> sz_shift(sz);
	k.space = dev;
	k.kind = sz;
	e = tlb_insert(io->iotlb, &k);
	if (e) {
		e->pa = base;
		e->perms = perms;
	}
}

unsigned iommu_iotlb_occupancy(const struct iommu *io)
{
	return io->iotlb ? tlb_occupancy(io->iotlb) : 0;
}

unsigned iommu_inval_dev(struct iommu *io, uint32_t dev, uint64_t *cycles)
{
	unsigned n = 0;

	if (io->iotlb && dev < io->cfg.devices)
		n = tlb_inval_space(io->iotlb, dev);
	io->ctr.inval_dev++;
	io->ctr.inval_entries += n;
	if (cycles)
		*cycles = io->cfg.lat.inval_dev;
	return n;
}

struct range_arg {
	uint32_t dev;
	uint64_t lo, hi;   /* inclusive */
};

static bool range_pred(const struct tlb_key *k, const void *payload, void *arg)
{
	const struct range_arg *r = arg;
	unsigned sh = sz_shift(k->kind);
	uint64_t lo = k->tag << sh, hi = lo + ((1ull << sh) - 1);

	(void)payload;
	return k->space == r->dev && lo <= r->hi && r->lo <= hi;
}

unsigned iommu_inval_range(struct iommu *io, uint32_t dev, uint64_t iova, uint64_t size,
			   uint64_t *cycles)
{
	struct range_arg r = { dev, iova, 0 };
	unsigned n = 0;

	if (size == 0)
		size = 1;
	r.hi = iova + (size - 1) < iova ? UINT64_MAX : iova + (size - 1);
	if (io->iotlb && dev < io->cfg.devices)
		n = tlb_inval_if(io->iotlb, range_pred, &r);
	io->ctr.inval_page++;
	io->ctr.inval_entries += n;
	if (cycles)
		*cycles = io->cfg.lat.inval_page;
	return n;
}

unsigned iommu_inval_all(struct iommu *io, uint64_t *cycles)
{
	unsigned n = io->iotlb ? tlb_inval_all(io->iotlb) : 0;

	io->ctr.inval_all++;
	io->ctr.inval_entries += n;
	if (cycles)
		*cycles = io->cfg.lat.inval_all;
	return n;
}

/* ------------------------------------------------------------------ */
/* Event log                                                           */
/* ------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Append one entry; the cost of its memory write goes to *@cyc.  A full
 * ring (tail + 1 == head) stops logging until the driver drains it.
 * Return: true if written.
 */
static bool log_event(struct iommu *io, int agent, const uint32_t dw[4], uint64_t *cyc)
{
	unsigned n = io->cfg.log_entries;
	uint8_t raw[IOMMU_LOG_ENTRY];

	if (!io->log_stopped && (io->log_tail + 1) % n == io->log_head) {
		io->log_stopped = true;
		io->ctr.log_overflows++;
	}
	if (io->log_stopped) {
		io->ctr.log_dropped++;
		return false;
	}
	for (int i = 0; i < 4; i++)
		put32(raw + 4 * i, dw[i]);
	*cyc += sim_mem_write(io->mem, agent, SIM_SRC_IOPT,
			      io->cfg.log_base + (uint64_t)io->log_tail * IOMMU_LOG_ENTRY, raw,
			      sizeof(raw));
	io->log_tail = (io->log_tail + 1) % n;
	io->ctr.log_entries++;
	return true;
}

void iommu_event_decode(const uint8_t raw[IOMMU_LOG_ENTRY], struct iommu_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	for (int i = 0; i < 4; i++)
		ev->raw[i] = get32(raw + 4 * i);
	ev->type = (uint8_t)(ev->raw[1] >> 28);
	ev->devid = (uint16_t)ev->raw[0];
	ev->domain = (uint16_t)ev->raw[1];
	ev->flags = (uint16_t)((ev->raw[1] >> 16) & 0xfff);
	ev->addr = (uint64_t)ev->raw[3] << 32 | ev->raw[2];
	if (ev->type == IOMMU_EVT_RMP_PAGE_FAULT) {
		ev->flags_rmp = (uint8_t)(ev->raw[0] >> 16);
		ev->cause = IOMMU_CAUSE_RMP;
	} else if (ev->type == IOMMU_EVT_IO_PAGE_FAULT) {
		ev->cause = (ev->flags & IOMMU_EVF_PE) ? IOMMU_CAUSE_PERMISSION
						       : IOMMU_CAUSE_TRANSLATION;
	} else {
		ev->cause = IOMMU_CAUSE_NONE;
	}
}

int iommu_event_format(const struct iommu_event *ev, char *buf, size_t len)
{
	char raw[64];

	snprintf(raw, sizeof(raw), "%08x:%08x:%08x:%08x", (unsigned)ev->raw[0],
		 (unsigned)ev->raw[1], (unsigned)ev->raw[2], (unsigned)ev->raw[3]);
	switch (ev->type) {
	case IOMMU_EVT_IO_PAGE_FAULT:
		return snprintf(buf, len, "IO_PAGE_FAULT(%s) dev=%u domain=%u addr=0x%llx "
				"flags=0x%03x raw=%s", iommu_cause_name(ev->cause),
				(unsigned)ev->devid, (unsigned)ev->domain,
				(unsigned long long)ev->addr, (unsigned)ev->flags, raw);
	case IOMMU_EVT_RMP_PAGE_FAULT:
		return snprintf(buf, len, "RMP_PAGE_FAULT dev=%u vmg_tag=%u addr=0x%llx "
				"flags=0x%03x flags_rmp=0x%02x raw=%s", (unsigned)ev->devid,
				(unsigned)ev->domain, (unsigned long long)ev->addr,
				(unsigned)ev->flags, (unsigned)ev->flags_rmp, raw);
	default:
		return snprintf(buf, len, "EVENT(0x%x) raw=%s", (unsigned)ev->type, raw);
	}
}

unsigned iommu_log_pending(const struct iommu *io)
{
	unsigned n = io->cfg.log_entries;

	return (io->log_tail + n - io->log_head) % n;
}

unsigned iommu_log_head(const struct iommu *io) { return io->log_head; }
unsigned iommu_log_tail(const struct iommu *io) { return io->log_tail; }
uint64_t iommu_log_base(const struct iommu *io) { return io->cfg.log_base; }
bool iommu_log_overflowed(const struct iommu *io) { return io->log_stopped; }

bool iommu_log_peek(const struct iommu *io, unsigned i, struct iommu_event *ev)
{
	uint8_t raw[IOMMU_LOG_ENTRY];
	unsigned slot;

	if (i >= iommu_log_pending(io))
		return false;
	slot = (io->log_head + i) % io->cfg.log_entries;
	sim_mem_peek(io->mem, io->cfg.log_base + (uint64_t)slot * IOMMU_LOG_ENTRY, raw,
		     sizeof(raw));
	iommu_event_decode(raw, ev);
	return true;
}

unsigned iommu_log_consume(struct iommu *io, unsigned n)
{
	unsigned p = iommu_log_pending(io);

	if (n > p)
		n = p;
	io->log_head = (io->log_head + n) % io->cfg.log_entries;
	io->log_stopped = false;
	return n;
}

/* ------------------------------------------------------------------ */
/* DMA                                                                 */
/* ------------------------------------------------------------------ */

/* Why one page failed, for the event entry. */
struct pg_fault {
	enum iommu_cause cause;
	uint16_t flags;       /* IOMMU_EVF_* (without RW) */
	uint8_t flags_rmp;    /* IOMMU_EVR_* */
};

/*
 * Translate the page of @va for device @d: IOTLB, else a walk that fills
 * it.  Return the cause (NONE: *@spa set).
 */
static enum iommu_cause xlate(struct iommu *io, const struct sim_who *who, uint32_t dev,
			      const struct iommu_dte *d, uint64_t va, bool write, uint64_t *spa,
			      uint64_t *cyc, struct iommu_dma_res *res, struct pg_fault *pf)
{
	const struct iommu_iotlb_ent *e;
	struct sim_who tw;
	struct s2_xlate x;
	struct s2_req req;
	unsigned sz;
	uint8_t perms;
	int ft;

	if (!d || !d->valid)
		return IOMMU_CAUSE_TRANSLATION;
	if (d->mode == IOMMU_MODE_PASSTHROUGH) {
		*spa = va;
		return IOMMU_CAUSE_NONE;
	}
	if (io->iotlb) {
		*cyc += io->cfg.lat.iotlb_hit;
		e = iotlb_find(io, dev, va, &sz);
		if (e) {
			io->ctr.iotlb_hit++;
			res->iotlb_hits++;
			perms = e->perms;
			*spa = e->pa + (va & ((1ull << sz_shift(sz)) - 1));
			if (!(perms & (write ? S2_PERM_W : S2_PERM_R))) {
				pf->flags = IOMMU_EVF_PR | IOMMU_EVF_PE;
				return IOMMU_CAUSE_PERMISSION;
			}
			return IOMMU_CAUSE_NONE;
		}
	}
	io->ctr.iotlb_miss++;
	if (va >= s2_pgt_ia_limit(d->table))
		return IOMMU_CAUSE_TRANSLATION;
	/* The table walk: its entry reads are the request's, at the clock it has reached. */
	tw = (struct sim_who){ who->now + *cyc, who->agent, 0 };
	memset(&req, 0, sizeof(req));
	req.acc = write ? S2_ACC_WRITE : S2_ACC_READ;
	req.user = true;
	req.who = &tw;
	req.src = SIM_SRC_IOPT;
	memset(&x, 0, sizeof(x));
	ft = s2_translate(d->table, va, &req, &x);
	io->ctr.walks++;
	io->ctr.walk_refs += x.refs;
	res->walks++;
	res->refs += x.refs;
	*cyc += io->cfg.lat.walk + tw.mem_cycles;   /* no check hook: x.cycles = x.mem_cycles */
	if (ft == S2_FAULT_PERMISSION) {
		pf->flags = IOMMU_EVF_PR | IOMMU_EVF_PE;
		return IOMMU_CAUSE_PERMISSION;
	}
	if (ft != S2_FAULT_NONE)
		return IOMMU_CAUSE_TRANSLATION;
	if (io->iotlb)
		iotlb_fill(io, dev, va, x.size, x.pa - (va & (x.size - 1)), x.perms);
	*spa = x.pa;
	return IOMMU_CAUSE_NONE;
}

/* Does a DMA @write (else read) go through the RMP check? */
static bool dma_rmp_checked(const struct iommu *io, bool write)
{
	if (!rmp_enabled(io->rmp))
		return false;
	return write || rmp_config(io->rmp)->iommu_check_reads;
}

static uint64_t lines(uint64_t pa, uint32_t n)
{
	return ((pa + n - 1) >> 6) - (pa >> 6) + 1;
}

enum iommu_cause iommu_dma(struct iommu *io, const struct sim_who *who, uint32_t dev,
			   uint64_t iova, bool write, void *buf, uint32_t len,
			   struct iommu_dma_res *res)
{
	static const uint8_t zero[PAGE];
	const struct iommu_dte *d = dev < io->cfg.devices ? &io->dte[dev] : NULL;
	uint64_t cyc = io->cfg.lat.request, memsz = sim_mem_size(io->mem);
	struct pg_fault pf = { IOMMU_CAUSE_NONE, 0, 0 };
	uint8_t scratch[PAGE];
	uint8_t *b = buf;
	uint32_t off = 0;
	uint64_t va = iova;
	uint32_t dw[4];

	sim_sync_id(io->mem, who->agent);   /* in global (cycle, agent) order at any quantum */
	memset(res, 0, sizeof(*res));
	if (write)
		io->ctr.dma_writes++;
	else
		io->ctr.dma_reads++;
	/* A request that wraps past the top of the address space is refused whole. */
	if (len && iova + (len - 1) < iova)
		pf.cause = IOMMU_CAUSE_TRANSLATION;
	while (off < len && pf.cause == IOMMU_CAUSE_NONE) {
		uint32_t n = (uint32_t)(PAGE - (va & PAGE_MASK));
		uint64_t spa = 0;

		if (n > len - off)
			n = len - off;
		res->pages++;
		pf.cause = xlate(io, who, dev, d, va, write, &spa, &cyc, res, &pf);
		if (pf.cause == IOMMU_CAUSE_NONE && spa + n > memsz) {
			/* Translated, but not RAM: the transaction is aborted. */
			pf.flags = IOMMU_EVF_PR;
			pf.cause = IOMMU_CAUSE_TRANSLATION;
		}
		/*
		 * With SNP on, every device write is RMP-checked whatever the
		 * DTE mode (Linux iommu_snp_enable() refuses SNP with the
		 * IOMMU in passthrough: Linux iommu_snp_enable());
		 * reads only with rmp.iommu_check_reads.  A read that is not
		 * checked costs and counts nothing.
		 */
		if (pf.cause == IOMMU_CAUSE_NONE && dma_rmp_checked(io, write)) {
			struct sim_who rw = { who->now + cyc, who->agent, 0 };
			struct rmp_fault f;

			io->ctr.rmp_checks++;
			if (rmp_check_dma(io->rmp, &rw, spa, write, &f) != RMP_FAULT_NONE) {
				pf.cause = IOMMU_CAUSE_RMP;
				pf.flags_rmp = f.spurious ? IOMMU_EVR_LOCKED : IOMMU_EVR_ASSIGNED;
				res->fault_pa = spa;
			}
			cyc += io->cfg.lat.rmp_check + rw.mem_cycles;
		}
		if (pf.cause != IOMMU_CAUSE_NONE)
			break;
		if (off == 0)
			res->pa = spa;
		if (write)
			cyc += sim_mem_write(io->mem, who->agent, SIM_SRC_DMA, spa,
					     b ? b + off : zero, n);
		else
			cyc += sim_mem_read(io->mem, who->agent, SIM_SRC_DMA, spa,
					    b ? b + off : scratch, n);
		cyc += io->cfg.lat.line * lines(spa, n);
		off += n;
		va += n;
	}
	res->done = off;
	io->ctr.dma_bytes += off;
	if (pf.cause != IOMMU_CAUSE_NONE) {
		uint16_t flags = pf.flags | (write ? IOMMU_EVF_RW : 0);

		res->cause = pf.cause;
		res->fault_iova = va;
		io->ctr.faults[pf.cause]++;
		io->ctr.dma_dropped += len - off;
		if (!write && b)
			memset(b + off, 0xff, len - off);
		if (pf.cause == IOMMU_CAUSE_RMP) {
			dw[0] = (dev & 0xffff) | (uint32_t)pf.flags_rmp << 16;
			dw[1] = 0 | (uint32_t)(flags & 0xfff) << 16 | IOMMU_EVT_RMP_PAGE_FAULT << 28;
		} else {
			uint32_t dom = d ? d->domain : (dev & 0xffff);

			dw[0] = (dev & 0xffff);
			dw[1] = (dom & 0xffff) | (uint32_t)(flags & 0xfff) << 16 |
				IOMMU_EVT_IO_PAGE_FAULT << 28;
		}
		dw[2] = (uint32_t)va;
		dw[3] = (uint32_t)(va >> 32);
		cyc += io->cfg.lat.fault;
		res->logged = log_event(io, who->agent, dw, &cyc);
	}
	res->cycles = cyc;
	return res->cause;
}

/* ------------------------------------------------------------------ */
/* DMA agents                                                          */
/* ------------------------------------------------------------------ */

static void dma_agent_body(struct sim_agent *a, void *arg)
{
	struct iommu_agent *ag = arg;

	for (size_t i = 0; i < ag->n; i++) {
		struct iommu_dma_desc *dd = &ag->descs[i];
		struct sim_who who;

		sim_wait_until(a, dd->at);
		dd->start = sim_now(a);
		who.agent = sim_agent_id(a);
		who.now = dd->start;
		iommu_dma(ag->io, &who, dd->dev, dd->iova, dd->write, dd->buf, dd->len, &dd->res);
		if (sim_timeline_on(sim_agent_sim(a))) {   /* the request on the engine's track */
			char args[128];

			snprintf(args, sizeof(args), "\"dev\":%u,\"iova\":\"0x%llx\",\"len\":%u,"
				 "\"done\":%u", (unsigned)dd->dev, (unsigned long long)dd->iova,
				 (unsigned)dd->len, (unsigned)dd->res.done);
			sim_timeline_span(sim_agent_sim(a), who.agent, "dma",
					  dd->write ? "dma write" : "dma read", dd->start,
					  dd->start + dd->res.cycles, args);
		}
		sim_advance(a, dd->res.cycles);
	}
}

struct sim_agent *iommu_dma_agent_new(struct iommu *io, struct sim *s, const char *name,
				      struct iommu_dma_desc *descs, size_t n)
{
	struct iommu_agent *ag = calloc(1, sizeof(*ag));

	if (!ag)
		sim_fatal("iommu: out of memory");
	ag->io = io;
	ag->descs = descs;
	ag->n = n;
	ag->next = io->agents;
	io->agents = ag;
	return sim_agent_new(s, name, SIM_AGENT_DMA, dma_agent_body, ag);
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

void iommu_register_stats(struct iommu *io, struct sim *s)
{
	static const uint64_t zero;
	struct iommu_counters *c = &io->ctr;

	sim_stat_counter(s, "iommu.dma.reads", &c->dma_reads, "DMA read requests");
	sim_stat_counter(s, "iommu.dma.writes", &c->dma_writes, "DMA write requests");
	sim_stat_counter(s, "iommu.dma.bytes", &c->dma_bytes, "DMA bytes transferred");
	sim_stat_counter(s, "iommu.dma.dropped_bytes", &c->dma_dropped,
			 "DMA bytes not transferred because the request faulted");
	sim_stat_counter(s, "iommu.iotlb.hit", &c->iotlb_hit,
			 "page translations served by the IOTLB");
	sim_stat_counter(s, "iommu.iotlb.miss", &c->iotlb_miss,
			 "page translations that missed the IOTLB (or had none)");
	sim_stat_formula(s, "iommu.iotlb.hit_rate", "iommu.iotlb.hit", "iommu.iotlb.lookups", 1.0,
			 "IOTLB hits per lookup");
	sim_stat_counter(s, "iommu.iotlb.lookups", io->iotlb ? &tlb_stats(io->iotlb)->lookup : &zero,
			 "IOTLB probes");
	sim_stat_counter(s, "iommu.iotlb.evict", io->iotlb ? &tlb_stats(io->iotlb)->evict : &zero,
			 "valid IOTLB entries displaced by a fill");
	sim_stat_counter(s, "iommu.walks", &c->walks, "IO table walks");
	sim_stat_counter(s, "iommu.walk_refs", &c->walk_refs, "table-entry reads by IO table walks");
	sim_stat_counter(s, "iommu.rmp_checks", &c->rmp_checks, "RMP checks of DMA system pages");
	sim_stat_counter(s, "iommu.faults.translation", &c->faults[IOMMU_CAUSE_TRANSLATION],
			 "DMA requests stopped by a missing translation");
	sim_stat_counter(s, "iommu.faults.permission", &c->faults[IOMMU_CAUSE_PERMISSION],
			 "DMA requests stopped by the IO table permissions");
	sim_stat_counter(s, "iommu.faults.rmp", &c->faults[IOMMU_CAUSE_RMP],
			 "DMA requests stopped by the RMP check");
	sim_stat_counter(s, "iommu.log.entries", &c->log_entries, "event-log entries written");
	sim_stat_counter(s, "iommu.log.overflows", &c->log_overflows,
			 "times the event log filled and logging stopped");
	sim_stat_counter(s, "iommu.log.dropped", &c->log_dropped,
			 "events not written: the one that found the log full and every later one "
			 "until logging restarted");
	sim_stat_counter(s, "iommu.inval.page", &c->inval_page, "IOTLB invalidations by address");
	sim_stat_counter(s, "iommu.inval.dev", &c->inval_dev, "IOTLB invalidations by device");
	sim_stat_counter(s, "iommu.inval.all", &c->inval_all, "global IOTLB invalidations");
	sim_stat_counter(s, "iommu.inval.entries", &c->inval_entries,
			 "IOTLB entries dropped by invalidations");
	sim_stat_counter(s, "iommu.attach", &c->attach, "devices attached");
	sim_stat_counter(s, "iommu.detach", &c->detach, "devices detached");
	sim_stat_counter(s, "iommu.map", &c->map, "IO table map requests that succeeded");
	sim_stat_counter(s, "iommu.unmap", &c->unmap, "IO table unmap requests that succeeded");
}
