/*
 * s2_fmt_arm64.c - VMSAv8-64 stage-2 descriptors, 4K granule.
 *
 * See 'Stage 2 translation table descriptor formats' (VMSAv8-64) in the
 * Arm ARM (VMSAv8-64 stage 2 descriptors; Linux kvm_pgtable.h):
 *
 *   0 valid, 1 table/page (0 = block at levels 1-2), [5:2] MemAttr,
 *   [7:6] S2AP (6 = read, 7 = write), [9:8] SH (0b11 inner shareable),
 *   10 AF, [47:12] output address, [54:53] XN (FEAT_XNX), [58:55] SW
 *   (pKVM page state in [56:55]).  An invalid descriptor holds a pKVM
 *   owner id in [9:2].
 */
#include "stage2/s2_fmt_int.h"

static int a64_arch_level(unsigned sz, unsigned levels)
{
	(void)levels;
	return 3 - (int)sz;
}

static uint64_t a64_mk_table(uint64_t pa, unsigned sz)
{
	(void)sz;
	return (pa & A64_OA_MASK) | A64_TABLE | A64_VALID;
}

/* XN[1:0] from the execute permissions (FEAT_XNX encodings). */
static uint64_t a64_xn(uint8_t perms)
{
	switch (perms & S2_PERM_X) {
	case S2_PERM_X:  return 0;   /* 0b00: EL1 and EL0 may execute */
	case S2_PERM_XU: return 1;   /* 0b01: EL0 only (PXN-like) */
	case S2_PERM_XS: return 3;   /* 0b11: EL1 only (UXN-like) */
	default:         return 2;   /* 0b10: execute never */
	}
}

static int a64_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	uint64_t d;

	if (sz > S2_SZ_1G)
		return S2_ERR_SIZE;
	if (pa & ~A64_OA_MASK & ~(s2_sz_bytes(sz) - 1))
		return S2_ERR_RANGE;
	d = pa | A64_VALID | (sz == S2_SZ_4K ? A64_TABLE : 0);
	d |= (prot->memtype == S2_MT_DEVICE ? A64_ATTR_DEVICE : A64_ATTR_NORMAL) << A64_ATTR_SHIFT;
	if (prot->perms & S2_PERM_R)
		d |= A64_S2AP_R;
	if (prot->perms & S2_PERM_W)
		d |= A64_S2AP_W;
	d |= A64_SH_IS;
	if (!prot->ad_clear)
		d |= A64_AF;
	d |= a64_xn(prot->perms) << A64_XN_SHIFT;
	d |= (uint64_t)(prot->sw & 0xF) << A64_SW_SHIFT;
	*raw = d;
	return S2_OK;
}

static uint64_t a64_mk_invalid(uint8_t owner)
{
	return (uint64_t)owner << A64_OWNER_SHIFT;
}

static struct s2_wpte a64_walk_decode(uint64_t raw, unsigned sz)
{
	return s2_a64_wdec(raw, sz);
}

static void a64_decode(uint64_t raw, unsigned sz, struct s2_pte *out)
{
	struct s2_wpte e = s2_a64_wdec(raw, sz);

	*out = s2_pte_of(e);
	switch (e.type) {
	case S2_PTE_INVALID:
		out->owner = (uint8_t)(raw >> A64_OWNER_SHIFT);
		break;
	case S2_PTE_LEAF:
		out->prot.memtype = ((raw >> A64_ATTR_SHIFT) & 0xF) == A64_ATTR_DEVICE ?
			S2_MT_DEVICE : S2_MT_NORMAL;
		out->prot.sw = (uint8_t)((raw >> A64_SW_SHIFT) & 0xF);
		out->prot.ad_clear = !e.accessed;
		break;
	}
}

static uint64_t a64_set_ad(uint64_t raw, bool write)
{
	(void)write;
	return raw | A64_AF;
}

/*
 * ISS of a data/instruction abort: DFSC/IFSC [5:0], WnR bit 6, S1PTW
 * bit 7.  See 'ISS encoding for an exception from a Data Abort'.
 */
static void a64_fault_code(struct s2_fault *f, uint8_t walk_perms, bool user)
{
	uint64_t fsc;

	(void)walk_perms;
	(void)user;
	switch (f->type) {
	case S2_FAULT_TRANSLATION: fsc = 0x04; break;   /* 0b0001LL */
	case S2_FAULT_ACCESS:      fsc = 0x08; break;   /* 0b0010LL */
	case S2_FAULT_PERMISSION:  fsc = 0x0C; break;   /* 0b0011LL */
	default:                   f->code = 0; return;
	}
	fsc |= (uint64_t)(f->level & 3);
	if (f->acc == S2_ACC_WRITE && !f->table)
		fsc |= 1ull << 6;
	if (f->table)
		fsc |= 1ull << 7;
	f->code = fsc;
}

const struct s2_fmt_ops s2_fmt_arm64 = {
	.name = "arm64",
	.id = S2_FMT_ARM64,
	.stage = 2,
	.min_levels = 3,
	.max_levels = 4,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G),
	.split_exec = true,
	.needs_bbm = true,
	.af_faults = true,
	.canonical_sext = false,
	.user_excl = false,
	.arch_level = a64_arch_level,
	.mk_table = a64_mk_table,
	.mk_leaf = a64_mk_leaf,
	.mk_invalid = a64_mk_invalid,
	.decode = a64_decode,
	.walk_decode = a64_walk_decode,
	.set_ad = a64_set_ad,
	.fault_code = a64_fault_code,
};
