/*
 * mmu.c - the hart's memory path outside the inline fast path: address
 * translation (guest stage 1, then the VM's GPA -> SPA step: a fixed
 * offset for bare VMs, stage 2 + RMP for NPT/SNP VMs), the L0 TLB, the
 * decoded-instruction cache, HTIF and CLINT, and functional access to
 * system memory.
 *
 * The L0 TLB caches, per virtual page and access kind (read, write,
 * fetch) and translation class (U, S, untranslated), the result of every
 * check.  It is emptied whenever anything those checks depend on may
 * change: satp, sfence.vma, mstatus.SUM/MXR, CR0.WP, CR4.SMEP/SMAP, any
 * RMP entry write and any stage-2 TLB invalidation (checked at every batch
 * boundary: other agents only run between batches) and on every world
 * switch.  So it never changes a result; it only makes them faster.
 */
#include "cpu/cpu_int.h"
#include "cpu/cpu_prot.h"

#include <stdlib.h>

/* Host pointer of the 4K frame holding @spa (see sim_mem_frame). */
static uint8_t *frame_ptr(struct cpu_vm *vm, uint64_t spa, bool alloc)
{
	if (spa >= sim_mem_size(vm->mem))
		return NULL;
	return sim_mem_frame(vm->mem, spa & ~0xfffull, alloc);
}

/* ------------------------------------------------------------------ */
/* L0 TLB and decode cache                                             */
/* ------------------------------------------------------------------ */

static struct rv_dpage *dcache_get(struct cpu_hart *h, uint64_t spa_page)
{
	unsigned i = (unsigned)((spa_page >> 12) ^ (spa_page >> 20)) & (RV_DCACHE_PAGES - 1);
	struct rv_dpage *dp = h->dcache[i];

	if (dp && dp->spa_page == spa_page)
		return dp;
	if (!dp) {
		dp = malloc(sizeof(*dp));
		if (!dp)
			sim_fatal("cpu: out of host memory (decode cache)");
		h->dcache[i] = dp;
		memset(&dp->slot[RV_DPAGE_SLOTS], 0, RV_DPAGE_GUARD * sizeof(dp->slot[0]));
		for (unsigned g = 0; g < RV_DPAGE_GUARD; g++) {
			dp->slot[RV_DPAGE_SLOTS + g].op = RV_OP_PAGE_END;
			dp->slot[RV_DPAGE_SLOTS + g].xop = RV_XOP(RV_OP_PAGE_END, 0);
		}
	}
	memset(dp->slot, 0, RV_DPAGE_SLOTS * sizeof(dp->slot[0]));
	dp->spa_page = spa_page;
	return dp;
}

static void tlb_fill(struct cpu_hart *h, struct rv_tlb_ent *arr, uint64_t va, unsigned mode,
		     uint64_t spa, uint8_t *frame)
{
	unsigned idx = (unsigned)(va >> 12) & (RV_TLB_SIZE - 1);
	struct rv_tlb_ent *e = &arr[idx];

	if (e->tag == ~0ull)
		rv_tlb_logged(h, arr == h->tlb_r ? 0 : arr == h->tlb_w ? 1 : 2, idx);
	e->tag = (va & ~0xfffull) | mode;
	e->addend = (uintptr_t)frame - (uintptr_t)(va & ~0xfffull);
	e->spa_page = spa & ~0xfffull;
}

/* ------------------------------------------------------------------ */
/* Physical access                                                     */
/* ------------------------------------------------------------------ */

uint64_t rv_phys_read(struct cpu_hart *h, uint64_t spa, unsigned len)
{
	uint64_t v = 0;
	uint8_t *f = ((spa & 0xfff) + len <= 0x1000) ? frame_ptr(h->vm, spa, false) : NULL;

	if (f)
		memcpy(&v, f + (spa & 0xfff), len);
	else
		sim_mem_peek(h->vm->mem, spa, &v, len);
	return v;
}

void rv_phys_write(struct cpu_hart *h, uint64_t spa, unsigned len, uint64_t val)
{
	struct cpu_vm *vm = h->vm;
	uint8_t *f = ((spa & 0xfff) + len <= 0x1000) ? frame_ptr(vm, spa, true) : NULL;

	if (f)
		memcpy(f + (spa & 0xfff), &val, len);
	else
		sim_mem_poke(vm->mem, spa, &val, len);
	for (unsigned i = 0; RV_UNLIKELY(i < vm->nbell); i++) {
		const struct cpu_bell *b = &vm->bell[i];
		uint64_t t;

		if (spa < b->spa + 8 && spa + len > b->spa && (t = sim_mem_peek64(vm->mem, b->spa)))
			b->fn(b->arg, h, t);
	}
}

/* ------------------------------------------------------------------ */
/* Translation                                                         */
/* ------------------------------------------------------------------ */

static uint64_t access_fault_cause(enum s2_access acc)
{
	return acc == S2_ACC_FETCH ? RV_CAUSE_FETCH_ACCESS
	     : acc == S2_ACC_WRITE ? RV_CAUSE_STORE_ACCESS : RV_CAUSE_LOAD_ACCESS;
}

/*
 * Translate @va for @acc.  Return 0 with *@xl, 1 when a guest trap was
 * taken (h->pc = handler), 2 when a VM exit is pending.
 */
int rv_translate(struct cpu_hart *h, uint64_t va, enum s2_access acc, struct rv_xl *xl)
{
	struct cpu_vm *vm = h->vm;
	unsigned mode = acc == S2_ACC_FETCH ? h->fmode : h->dmode;
	int st;

	memset(xl, 0, sizeof(*xl));
	xl->va = va;
	xl->c = vm->type == CPU_VM_SNP;
	if (mode != RV_MODE_PHYS) {
		st = cpu_s1_translate(h, va, acc, mode, xl);
		if (st)
			return st;
	} else {
		xl->gpa = va;
		xl->size = SIM_SZ_4K;
		/*
		 * Translation off in an SNP guest: a data access with the
		 * shared-alias bit (the C-bit position, 51) set is a shared
		 * access (C=0) to the address without it (docs/guest-abi.md).
		 */
		if (vm->type == CPU_VM_SNP && acc != S2_ACC_FETCH && (va & CPU_SHARED_ALIAS)) {
			xl->gpa = va & ~CPU_SHARED_ALIAS;
			xl->c = false;
		}
	}
	/* devices on the platform bus (never cached in the L0 TLB) */
	if (acc != S2_ACC_FETCH) {
		for (unsigned i = 0; i < vm->ndev; i++) {
			if (xl->gpa - vm->dev[i].base < vm->dev[i].size) {
				xl->dev = i + 1;
				return 0;
			}
		}
	}
	if (xl->gpa < vm->mem_base || xl->gpa - vm->mem_base >= vm->mem_size) {
		if (vm->type == CPU_VM_BARE) {
			rv_trap(h, access_fault_cause(acc), va);
			return 1;
		}
	}
	st = cpu_gpa_translate(h, xl->gpa, acc, xl);
	if (st)
		return st;
	xl->ram = true;
	for (unsigned i = 0; i < vm->nbell; i++)
		if ((xl->spa & ~0xfffull) == (vm->bell[i].spa & ~0xfffull))
			xl->tohost_page = true;
	return 0;
}

int rv_load_slow(struct cpu_hart *h, uint64_t va, unsigned len, uint64_t *val, uint64_t pc)
{
	struct rv_xl xl;
	int st;

	(void)pc;
	if ((va & 0xfff) + len > 0x1000) {
		uint64_t v = 0, b;

		for (unsigned i = 0; i < len; i++) {
			st = rv_load_slow(h, va + i, 1, &b, pc);
			if (st)
				return st;
			v |= b << (8 * i);
		}
		*val = v;
		return 0;
	}
	st = rv_translate(h, va, S2_ACC_READ, &xl);
	if (st)
		return st;
	if (xl.dev) {
		const struct cpu_bus_dev *dv = &h->vm->dev[xl.dev - 1];

		*val = dv->ops->read(dv->arg, h, xl.gpa - dv->base, len);
		return 0;
	}
	*val = rv_phys_read(h, xl.spa, len);
	if (h->vm->mode == CPU_MODE_DETAILED)
		h->batch_stall += cpu_cache_data(h, xl.spa, false);
	if (xl.cacheable) {
		uint8_t *f = frame_ptr(h->vm, xl.spa, false);

		if (f)
			tlb_fill(h, h->tlb_r, va, h->dmode, xl.spa, f);
	}
	h->st.tlb_miss++;
	return 0;
}

int rv_store_slow(struct cpu_hart *h, uint64_t va, unsigned len, uint64_t val, uint64_t pc)
{
	struct rv_xl xl;
	int st;

	(void)pc;
	if ((va & 0xfff) + len > 0x1000) {
		/* translate every byte first, so a fault leaves memory unchanged */
		for (unsigned i = 0; i < len; i++) {
			st = rv_translate(h, va + i, S2_ACC_WRITE, &xl);
			if (st)
				return st;
		}
		for (unsigned i = 0; i < len; i++) {
			st = rv_store_slow(h, va + i, 1, (val >> (8 * i)) & 0xff, pc);
			if (st || h->done)
				return st;
		}
		return 0;
	}
	st = rv_translate(h, va, S2_ACC_WRITE, &xl);
	if (st)
		return st;
	if (xl.dev) {
		const struct cpu_bus_dev *dv = &h->vm->dev[xl.dev - 1];

		dv->ops->write(dv->arg, h, xl.gpa - dv->base, len, val);
		return 0;
	}
	if (h->vm->mode == CPU_MODE_DETAILED)
		h->batch_stall += cpu_cache_data(h, xl.spa, true);
	if (xl.cacheable && !xl.tohost_page) {
		uint8_t *f = frame_ptr(h->vm, xl.spa, true);

		if (f)
			tlb_fill(h, h->tlb_w, va, h->dmode, xl.spa, f);
	}
	h->st.tlb_miss++;
	rv_phys_write(h, xl.spa, len, val);
	return 0;
}

/*
 * LR, SC and AMOs outside the inline path (rv64_loop.h): misaligned (the
 * misaligned exception, before any translation: "A" extension, LR/SC and
 * AMOs), not in the L0 TLB, devices, the tohost page.  LR is translated
 * as a read, SC and AMOs as writes (an AMO is a read-modify-write: store/
 * AMO faults, write permission at every stage; Sv39/48 have no writable
 * page that is not readable).  Like rv_load_slow/rv_store_slow, fills the
 * L0 TLB (LR: read entries, SC/AMO: write entries; never the tohost page)
 * and counts the miss, unless the test hook h->at_slow is set.
 */
int rv_atomic(struct cpu_hart *h, enum rv_atomic_kind k, uint64_t va, unsigned len,
	      uint64_t val, uint64_t *out, uint64_t pc)
{
	struct rv_xl xl;
	bool write = k != RV_AT_LR;
	int st;

	(void)pc;
	if (va & (len - 1)) {
		rv_trap(h, write ? RV_CAUSE_MISALIGNED_STORE : RV_CAUSE_MISALIGNED_LOAD, va);
		return 1;
	}
	st = rv_translate(h, va, write ? S2_ACC_WRITE : S2_ACC_READ, &xl);
	if (st)
		return st;
	if (xl.dev) {
		rv_trap(h, write ? RV_CAUSE_STORE_ACCESS : RV_CAUSE_LOAD_ACCESS, va);
		return 1;
	}
	if (h->vm->mode == CPU_MODE_DETAILED)
		h->batch_stall += cpu_cache_data(h, xl.spa, write);
	if (xl.cacheable && !h->at_slow && !(write && xl.tohost_page)) {
		uint8_t *f = frame_ptr(h->vm, xl.spa, write);

		if (f)
			tlb_fill(h, write ? h->tlb_w : h->tlb_r, va, h->dmode, xl.spa, f);
	}
	if (!h->at_slow)
		h->st.tlb_miss++;
	switch (k) {
	case RV_AT_LR:
		*out = rv_phys_read(h, xl.spa, len);
		if (len == 4)
			*out = (uint64_t)(int64_t)(int32_t)*out;
		h->resv_addr = xl.spa;
		h->resv_val = *out;
		h->resv_valid = true;
		break;
	case RV_AT_SC:
		/*
		 * Succeeds if the reservation is ours and memory still holds
		 * what LR read (a store by another hart in between changed it:
		 * the same rule as QEMU's SC, ABA included).
		 */
		if (h->resv_valid && h->resv_addr == xl.spa &&
		    rv_phys_read(h, xl.spa, len) == (len == 4 ? (h->resv_val & 0xffffffffull)
							      : h->resv_val)) {
			rv_phys_write(h, xl.spa, len, val);
			*out = 0;
		} else {
			*out = 1;
		}
		h->resv_valid = false;
		break;
	case RV_AT_AMO:
		*out = xl.spa;
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fetch                                                               */
/* ------------------------------------------------------------------ */

struct rv_dpage *rv_fetch_page(struct cpu_hart *h, uint64_t pc, int *status)
{
	struct rv_tlb_ent *e = &h->tlb_x[(pc >> 12) & (RV_TLB_SIZE - 1)];
	uint64_t spa_page;

	if (e->tag == ((pc & ~0xfffull) | h->fmode)) {
		spa_page = e->spa_page;
	} else {
		struct rv_xl xl;
		int st = rv_translate(h, pc, S2_ACC_FETCH, &xl);

		if (st) {
			*status = st;
			return NULL;
		}
		spa_page = xl.spa & ~0xfffull;
		h->st.tlb_miss++;
		if (xl.cacheable) {
			if (e->tag == ~0ull)
				rv_tlb_logged(h, 2, (unsigned)(pc >> 12) & (RV_TLB_SIZE - 1));
			e->tag = (pc & ~0xfffull) | h->fmode;
			e->addend = 0;
			e->spa_page = spa_page;
		}
	}
	*status = 0;
	return dcache_get(h, spa_page);
}

int rv_fill_slot(struct cpu_hart *h, struct rv_dpage *dp, uint64_t pc, struct rv_dinsn *out)
{
	unsigned o = (unsigned)(pc & 0xfff);
	uint64_t spa = dp->spa_page | o;
	uint32_t lo = (uint32_t)rv_phys_read(h, spa, 2);
	struct rv_xl xl;
	int st;

	if ((lo & 3) != 3) {
		rv_decode(lo, &dp->slot[o >> 1]);
		return 0;
	}
	if (o <= 0xffc) {
		rv_decode((uint32_t)rv_phys_read(h, spa, 4), &dp->slot[o >> 1]);
		return 0;
	}
	/* a 32-bit instruction across a page boundary: decoded every time */
	st = rv_translate(h, pc + 2, S2_ACC_FETCH, &xl);
	if (st)
		return st;
	rv_decode(lo | (uint32_t)rv_phys_read(h, xl.spa, 2) << 16, out);
	return 0;
}
