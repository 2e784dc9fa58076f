/*
 * s2_fmt_ept.c - Intel EPT entries, 4 levels, with mode-based execute
 * control (MBEC) and accessed/dirty flags enabled (EPTP bit 6).
 *
 * See 'EPT Translation Mechanism' (Intel SDM vol. 3C) and
 * the Intel SDM vol. 3C (EPT entries; Linux vmx.h):
 *
 *   0 R, 1 W, 2 X (supervisor execute under MBEC), [5:3] memory type
 *   (leaf: 0 UC, 6 WB), 6 IPAT, 7 PS (1G/2M leaf), 8 A, 9 D (leaf),
 *   10 user execute (MBEC), [51:12] address, [55:52] software (protsim),
 *   63 suppress #VE.  Not present: bits 0, 1, 2 and 10 all clear; such an
 *   entry keeps an owner id in [59:52].  W without R, a reserved memory
 *   type, or PS in a PML4E are EPT misconfigurations (decoded RESERVED).
 */
#include "stage2/s2_fmt_int.h"

/* Non-leaf entries grant everything and are marked accessed (as KVM builds them). */
static uint64_t ept_mk_table(uint64_t pa, unsigned sz)
{
	(void)sz;
	return (pa & EPT_ADDR_MASK) | EPT_R | EPT_W | EPT_XS | EPT_XU | EPT_A;
}

static int ept_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	uint64_t d;

	if (sz > S2_SZ_1G)
		return S2_ERR_SIZE;
	/* Not present, or a misconfiguration (W without R). */
	if (!(prot->perms & S2_PERM_ALL) ||
	    ((prot->perms & S2_PERM_W) && !(prot->perms & S2_PERM_R)))
		return S2_ERR_PERMS;
	if (pa & ~EPT_ADDR_MASK & ~(s2_sz_bytes(sz) - 1))
		return S2_ERR_RANGE;
	d = pa;
	if (prot->perms & S2_PERM_R)
		d |= EPT_R;
	if (prot->perms & S2_PERM_W)
		d |= EPT_W;
	if (prot->perms & S2_PERM_XS)
		d |= EPT_XS;
	if (prot->perms & S2_PERM_XU)
		d |= EPT_XU;
	d |= (prot->memtype == S2_MT_DEVICE ? EPT_MT_UC : EPT_MT_WB) << EPT_MT_SHIFT;
	if (sz > S2_SZ_4K)
		d |= EPT_PS;
	if (!prot->ad_clear) {
		d |= EPT_A;
		if (prot->perms & S2_PERM_W)
			d |= EPT_D;
	}
	d |= (uint64_t)(prot->sw & 0xF) << EPT_SW_SHIFT;
	if (prot->suppress_ve)
		d |= EPT_SVE;
	*raw = d;
	return S2_OK;
}

static uint64_t ept_mk_invalid(uint8_t owner)
{
	return (uint64_t)owner << EPT_OWNER_SHIFT;
}

static struct s2_wpte ept_walk_decode(uint64_t raw, unsigned sz)
{
	return s2_ept_wdec(raw, sz);
}

static void ept_decode(uint64_t raw, unsigned sz, struct s2_pte *out)
{
	struct s2_wpte e = s2_ept_wdec(raw, sz);

	*out = s2_pte_of(e);
	if (e.type == S2_PTE_INVALID) {
		out->owner = (uint8_t)(raw >> EPT_OWNER_SHIFT);
	} else if (e.type == S2_PTE_LEAF) {
		out->prot.memtype = ((raw >> EPT_MT_SHIFT) & 7) == EPT_MT_WB ? S2_MT_NORMAL : S2_MT_DEVICE;
		out->prot.sw = (uint8_t)((raw >> EPT_SW_SHIFT) & 0xF);
		out->prot.suppress_ve = (raw & EPT_SVE) != 0;
		out->prot.ad_clear = !e.accessed;
	}
}

static uint64_t ept_set_ad(uint64_t raw, bool write)
{
	return raw | EPT_A | (write ? EPT_D : 0);
}

/*
 * Exit qualification of an EPT violation ('Exit Qualification for EPT
 * Violations'): access type in bits 0-2, what the walk allowed in 3-6
 * (the AND over the entries read, 0 for a not-present entry), 7 = a guest
 * linear address exists, 8 = the access was to the final translation
 * (1) or to a guest paging structure (0).
 */
static void ept_fault_code(struct s2_fault *f, uint8_t walk_perms, bool user)
{
	uint64_t c = 0;

	(void)user;
	if (f->acc == S2_ACC_READ)
		c |= 1ull << 0;
	if (f->acc == S2_ACC_WRITE)
		c |= 1ull << 1;
	if (f->acc == S2_ACC_FETCH)
		c |= 1ull << 2;
	if (walk_perms & S2_PERM_R)
		c |= 1ull << 3;
	if (walk_perms & S2_PERM_W)
		c |= 1ull << 4;
	if (walk_perms & S2_PERM_XS)
		c |= 1ull << 5;
	if (walk_perms & S2_PERM_XU)
		c |= 1ull << 6;
	if (f->gla) {
		c |= 1ull << 7;
		if (!f->table)
			c |= 1ull << 8;
	}
	f->code = c;
}

const struct s2_fmt_ops s2_fmt_ept = {
	.name = "ept",
	.id = S2_FMT_EPT,
	.stage = 2,
	.min_levels = 4,
	.max_levels = 4,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G),
	.split_exec = true,
	.needs_bbm = false,
	.af_faults = false,
	.canonical_sext = false,
	.user_excl = false,
	.arch_level = s2_x86_arch_level,
	.mk_table = ept_mk_table,
	.mk_leaf = ept_mk_leaf,
	.mk_invalid = ept_mk_invalid,
	.decode = ept_decode,
	.walk_decode = ept_walk_decode,
	.set_ad = ept_set_ad,
	.fault_code = ept_fault_code,
};
