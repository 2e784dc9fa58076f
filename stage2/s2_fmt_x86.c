/*
 * s2_fmt_x86.c - x86-64 long-mode paging entries, used twice:
 *   S2_FMT_NPT     AMD nested page tables (host-format entries walked for
 *                  guest-physical addresses; every nested access is a
 *                  user access, so entries carry U/S=1)
 *   S1_FMT_X86_64  guest 4-level paging, with the SEV C-bit at bit 51
 * (the AMD IOMMU v1 IO page table shares the P/RW/PS/address layout).
 *
 * See 'Hierarchical Paging Structures' (Intel SDM vol. 3A 4.5) and
 * 'Long-Mode Page Translation' / 'Nested Paging' in the AMD APM vol. 2:
 *
 *   0 P, 1 R/W, 2 U/S, 3 PWT, 4 PCD, 5 A, 6 D (leaf), 7 PS (PDPTE/PDE:
 *   1 = 1G/2M leaf; must be 0 in a PML4E), 8 G, [51:12] address (stage 1:
 *   [50:12], bit 51 = C), [55:52] software (protsim), 63 NX.
 *   A not-present entry keeps an owner id in [59:52].
 */
#include "stage2/s2_fmt_int.h"

int s2_x86_arch_level(unsigned sz, unsigned levels)
{
	(void)levels;
	return (int)sz + 1;
}

/* Table entries: present, writable, user, accessed (as KVM builds non-leaf SPTEs). */
static uint64_t npt_mk_table(uint64_t pa, unsigned sz)
{
	(void)sz;
	return (pa & NPT_ADDR_MASK) | X86_P | X86_RW | X86_US | X86_A;
}

static uint64_t s1x_mk_table(uint64_t pa, unsigned sz)
{
	(void)sz;
	return (pa & S1_ADDR_MASK) | X86_P | X86_RW | X86_US | X86_A;
}

static int x86_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw,
		       uint64_t addr_mask, bool stage1)
{
	uint8_t x = prot->perms & S2_PERM_X;
	uint64_t d;

	if (sz > S2_SZ_1G)
		return S2_ERR_SIZE;
	/* Present implies readable; execute is not split by privilege. */
	if (!(prot->perms & S2_PERM_R) || (x && x != S2_PERM_X))
		return S2_ERR_PERMS;
	if (pa & ~addr_mask & ~(s2_sz_bytes(sz) - 1))
		return S2_ERR_RANGE;
	d = pa | X86_P;
	if (prot->perms & S2_PERM_W)
		d |= X86_RW;
	if (!stage1 || prot->user)
		d |= X86_US;
	if (prot->memtype == S2_MT_DEVICE)
		d |= X86_PCD | X86_PWT;
	if (!prot->ad_clear) {
		d |= X86_A;
		if (prot->perms & S2_PERM_W)
			d |= X86_D;
	}
	if (sz > S2_SZ_4K)
		d |= X86_PS;
	if (stage1 && prot->global)
		d |= X86_G;
	if (stage1 && prot->c)
		d |= X86_C;
	d |= (uint64_t)(prot->sw & 0xF) << X86_SW_SHIFT;
	if (!x)
		d |= X86_NX;
	*raw = d;
	return S2_OK;
}

static int npt_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	return x86_mk_leaf(sz, pa, prot, raw, NPT_ADDR_MASK, false);
}

static int s1x_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	return x86_mk_leaf(sz, pa, prot, raw, S1_ADDR_MASK, true);
}

static uint64_t x86_mk_invalid(uint8_t owner)
{
	return (uint64_t)owner << X86_OWNER_SHIFT;
}

static inline void x86_decode(uint64_t raw, unsigned sz, struct s2_pte *out, uint64_t addr_mask,
			      bool stage1)
{
	struct s2_wpte e = s2_x86_wdec(raw, sz, addr_mask, stage1);

	*out = s2_pte_of(e);
	if (e.type == S2_PTE_INVALID) {
		out->owner = (uint8_t)(raw >> X86_OWNER_SHIFT);
	} else if (e.type == S2_PTE_LEAF) {
		out->prot.memtype = (raw & X86_PCD) ? S2_MT_DEVICE : S2_MT_NORMAL;
		out->prot.sw = (uint8_t)((raw >> X86_SW_SHIFT) & 0xF);
		out->prot.global = stage1 && (raw & X86_G);
		out->prot.ad_clear = !e.accessed;
	}
}

static void npt_decode(uint64_t raw, unsigned sz, struct s2_pte *out)
{
	x86_decode(raw, sz, out, NPT_ADDR_MASK, false);
}

static void s1x_decode(uint64_t raw, unsigned sz, struct s2_pte *out)
{
	x86_decode(raw, sz, out, S1_ADDR_MASK, true);
}

static struct s2_wpte npt_walk_decode(uint64_t raw, unsigned sz)
{
	return s2_x86_wdec(raw, sz, NPT_ADDR_MASK, false);
}

static struct s2_wpte s1x_walk_decode(uint64_t raw, unsigned sz)
{
	return s2_x86_wdec(raw, sz, S1_ADDR_MASK, true);
}

static uint64_t x86_set_ad(uint64_t raw, bool write)
{
	return raw | X86_A | (write ? X86_D : 0);
}

/*
 * #NPF EXITINFO1 ('Nested versus Guest Page Faults, Fault Ordering' in the
 * APM): P, W, U (nested walks are user accesses), RSVD, I/D, then
 * FINAL (bit 32) or PAGE (bit 33, a guest page-table access).
 */
static void npt_fault_code(struct s2_fault *f, uint8_t walk_perms, bool user)
{
	uint64_t c = 1ull << 2;

	(void)walk_perms;
	(void)user;
	if (f->type == S2_FAULT_PERMISSION)
		c |= 1ull << 0;
	if (f->acc == S2_ACC_WRITE)
		c |= 1ull << 1;
	if (f->acc == S2_ACC_FETCH)
		c |= 1ull << 4;
	c |= f->table ? (1ull << 33) : (1ull << 32);
	f->code = c;
}

/* #PF error code: P, W/R, U/S, RSVD, I/D. */
static void s1x_fault_code(struct s2_fault *f, uint8_t walk_perms, bool user)
{
	uint64_t c = 0;

	(void)walk_perms;
	if (f->type == S2_FAULT_PERMISSION)
		c |= 1ull << 0;
	if (f->acc == S2_ACC_WRITE)
		c |= 1ull << 1;
	if (user)
		c |= 1ull << 2;
	if (f->acc == S2_ACC_FETCH)
		c |= 1ull << 4;
	f->code = c;
}

const struct s2_fmt_ops s2_fmt_npt = {
	.name = "npt",
	.id = S2_FMT_NPT,
	.stage = 2,
	.min_levels = 4,
	.max_levels = 4,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G),
	.split_exec = false,
	.needs_bbm = false,
	.af_faults = false,
	.canonical_sext = false,
	.user_excl = false,
	.arch_level = s2_x86_arch_level,
	.mk_table = npt_mk_table,
	.mk_leaf = npt_mk_leaf,
	.mk_invalid = x86_mk_invalid,
	.decode = npt_decode,
	.walk_decode = npt_walk_decode,
	.set_ad = x86_set_ad,
	.fault_code = npt_fault_code,
};

const struct s2_fmt_ops s1_fmt_x86_64 = {
	.name = "x86_64",
	.id = S1_FMT_X86_64,
	.stage = 1,
	.min_levels = 4,
	.max_levels = 4,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G),
	.split_exec = false,
	.needs_bbm = false,
	.af_faults = false,
	.canonical_sext = true,
	.user_excl = false,
	.arch_level = s2_x86_arch_level,
	.mk_table = s1x_mk_table,
	.mk_leaf = s1x_mk_leaf,
	.mk_invalid = x86_mk_invalid,
	.decode = s1x_decode,
	.walk_decode = s1x_walk_decode,
	.set_ad = x86_set_ad,
	.fault_code = s1x_fault_code,
};
