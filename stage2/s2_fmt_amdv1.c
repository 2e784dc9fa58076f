/*
 * s2_fmt_amdv1.c - AMD IOMMU v1 ("host") IO page-table entries, the only
 * IO page tables SNP allows (AMD IOMMU specification 48882; Linux iommu_snp_enable()).
 *
 * See 'I/O Page Tables for Host Translations' in the AMD I/O
 * Virtualization Technology (IOMMU) Specification:
 *
 *   0 PR (present), [8:1] ignored, [11:9] NextLevel (0: a page of the
 *   entry's size; 1-6: the level of the table the entry points to; 7:
 *   a page of another size), [51:12] address, 59 U, 60 FC (force
 *   coherent), 61 IR (read), 62 IW (write).
 *
 * Levels are numbered from 1 (the 4K level) up; a PDE at level L points
 * to a level L-1 table.  As Linux's v1 page tables: PDEs grant IR|IW and
 * leaves carry FC.  Write-only (IW without IR) and no-access leaves are
 * encodable; execute is not (an IOMMU has no execute permission).
 * protsim conventions: a not-present entry keeps an owner id in [8:1]
 * (ignored bits); NextLevel 7 and level skipping are not modelled and
 * decode as reserved (a translation fault).
 */
#include "stage2/s2_fmt_int.h"

static int av1_arch_level(unsigned sz, unsigned levels)
{
	(void)levels;
	return (int)sz + 1;
}

static uint64_t av1_mk_table(uint64_t pa, unsigned sz)
{
	return (pa & AV1_ADDR_MASK) | ((uint64_t)sz << AV1_NL_SHIFT) | AV1_PR | AV1_IR | AV1_IW;
}

static int av1_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	uint64_t d;

	if (sz > S2_SZ_1G)
		return S2_ERR_SIZE;
	if (prot->perms & S2_PERM_X)
		return S2_ERR_PERMS;
	if (pa & ~AV1_ADDR_MASK & ~(s2_sz_bytes(sz) - 1))
		return S2_ERR_RANGE;
	d = pa | AV1_PR | AV1_FC;
	if (prot->perms & S2_PERM_R)
		d |= AV1_IR;
	if (prot->perms & S2_PERM_W)
		d |= AV1_IW;
	*raw = d;
	return S2_OK;
}

static uint64_t av1_mk_invalid(uint8_t owner)
{
	return (uint64_t)owner << AV1_OWNER_SHIFT;
}

static struct s2_wpte av1_walk_decode(uint64_t raw, unsigned sz)
{
	return s2_av1_wdec(raw, sz);
}

static void av1_decode(uint64_t raw, unsigned sz, struct s2_pte *out)
{
	struct s2_wpte e = s2_av1_wdec(raw, sz);

	*out = s2_pte_of(e);
	if (e.type == S2_PTE_INVALID)
		out->owner = (uint8_t)(raw >> AV1_OWNER_SHIFT);
}

/* No A/D: the walker never asks (accessed is always set); the identity. */
static uint64_t av1_set_ad(uint64_t raw, bool write)
{
	(void)write;
	return raw;
}

/*
 * The IO_PAGE_FAULT event flags the fault would log: PR (0x10) when a
 * present translation refused the access, RW (0x20) for a write, PE
 * (0x40) for a permission error (iommu.h IOMMU_EVF_*).
 */
static void av1_fault_code(struct s2_fault *f, uint8_t walk_perms, bool user)
{
	uint64_t c = 0;

	(void)walk_perms;
	(void)user;
	if (f->type == S2_FAULT_PERMISSION)
		c |= 0x10 | 0x40;
	if (f->acc == S2_ACC_WRITE)
		c |= 0x20;
	f->code = c;
}

const struct s2_fmt_ops s2_fmt_amdv1 = {
	.name = "amdv1",
	.id = S2_FMT_AMDV1,
	.stage = 2,
	.min_levels = 3,
	.max_levels = 4,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G),
	.split_exec = false,
	.needs_bbm = false,
	.af_faults = false,
	.canonical_sext = false,
	.user_excl = false,
	.arch_level = av1_arch_level,
	.mk_table = av1_mk_table,
	.mk_leaf = av1_mk_leaf,
	.mk_invalid = av1_mk_invalid,
	.decode = av1_decode,
	.walk_decode = av1_walk_decode,
	.set_ad = av1_set_ad,
	.fault_code = av1_fault_code,
};
