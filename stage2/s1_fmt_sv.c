/*
 * s1_fmt_sv.c - RISC-V Sv39 and Sv48 page-table entries (guest stage 1).
 *
 * See 'Sv39: Page-Based 39-bit Virtual-Memory System' in the RISC-V
 * privileged specification:
 *
 *   0 V, 1 R, 2 W, 3 X, 4 U, 5 G, 6 A, 7 D, [9:8] RSW, [53:10] PPN,
 *   [62:61] PBMT (Svpbmt: 2 = IO), 63 N.
 *   R=W=X=0 with V=1 points to the next table.  W without R is reserved.
 *   protsim conventions: RSW bit 8 carries the C-bit of an SNP-style
 *   guest, RSW bit 9 is the one software bit; an invalid entry keeps an
 *   owner id in [9:2].
 *
 * A/D are managed by software (Svade): an access with A=0, or a store
 * with D=0, is a page fault.  Supervisor accesses to U=1 pages fault
 * (sstatus.SUM=0 is assumed).
 */
#include "stage2/s2_fmt_int.h"

static int sv_arch_level(unsigned sz, unsigned levels)
{
	(void)levels;
	return (int)sz;
}

static uint64_t sv_pa_to_pte(uint64_t pa)
{
	return ((pa >> 12) << SV_PPN_SHIFT) & SV_PPN_MASK;
}

static uint64_t sv_mk_table(uint64_t pa, unsigned sz)
{
	(void)sz;
	return sv_pa_to_pte(pa) | SV_V;
}

static int sv_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw,
		      unsigned max_sz)
{
	uint8_t x = prot->perms & S2_PERM_X;
	uint64_t d;

	if (sz > max_sz)
		return S2_ERR_SIZE;
	if (!(prot->perms & (S2_PERM_R | S2_PERM_X)) ||
	    ((prot->perms & S2_PERM_W) && !(prot->perms & S2_PERM_R)) || (x && x != S2_PERM_X))
		return S2_ERR_PERMS;
	if (pa >> 56)
		return S2_ERR_RANGE;
	d = sv_pa_to_pte(pa) | SV_V;
	if (prot->perms & S2_PERM_R)
		d |= SV_R;
	if (prot->perms & S2_PERM_W)
		d |= SV_W;
	if (x)
		d |= SV_X;
	if (prot->user)
		d |= SV_U;
	if (prot->global)
		d |= SV_G;
	if (!prot->ad_clear) {
		d |= SV_A;
		if (prot->perms & S2_PERM_W)
			d |= SV_D;
	}
	if (prot->c)
		d |= SV_C;
	if (prot->sw & 1)
		d |= SV_SW;
	if (prot->memtype == S2_MT_DEVICE)
		d |= SV_PBMT_IO;
	*raw = d;
	return S2_OK;
}

static int sv39_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	return sv_mk_leaf(sz, pa, prot, raw, S2_SZ_1G);
}

static int sv48_mk_leaf(unsigned sz, uint64_t pa, const struct s2_prot *prot, uint64_t *raw)
{
	return sv_mk_leaf(sz, pa, prot, raw, S2_SZ_512G);
}

static uint64_t sv_mk_invalid(uint8_t owner)
{
	return (uint64_t)owner << SV_OWNER_SHIFT;
}

static struct s2_wpte sv_walk_decode(uint64_t raw, unsigned sz)
{
	return s2_sv_wdec(raw, sz);
}

static void sv_decode(uint64_t raw, unsigned sz, struct s2_pte *out)
{
	struct s2_wpte e = s2_sv_wdec(raw, sz);

	*out = s2_pte_of(e);
	switch (e.type) {
	case S2_PTE_INVALID:
		out->owner = (uint8_t)(raw >> SV_OWNER_SHIFT);
		break;
	case S2_PTE_LEAF:
		out->prot.global = (raw & SV_G) != 0;
		out->prot.sw = (raw & SV_SW) ? 1 : 0;
		out->prot.memtype = (raw & SV_PBMT_MASK) == SV_PBMT_IO ? S2_MT_DEVICE : S2_MT_NORMAL;
		out->prot.ad_clear = !e.accessed;
		break;
	}
}

static uint64_t sv_set_ad(uint64_t raw, bool write)
{
	return raw | SV_A | (write ? SV_D : 0);
}

/* scause: 12 instruction page fault, 13 load page fault, 15 store/AMO page fault. */
static void sv_fault_code(struct s2_fault *f, uint8_t walk_perms, bool user)
{
	(void)walk_perms;
	(void)user;
	f->code = f->acc == S2_ACC_FETCH ? 12 : f->acc == S2_ACC_WRITE ? 15 : 13;
}

const struct s2_fmt_ops s1_fmt_sv39 = {
	.name = "sv39",
	.id = S1_FMT_SV39,
	.stage = 1,
	.min_levels = 3,
	.max_levels = 3,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G),
	.split_exec = false,
	.needs_bbm = false,
	.af_faults = true,
	.canonical_sext = true,
	.user_excl = true,
	.arch_level = sv_arch_level,
	.mk_table = sv_mk_table,
	.mk_leaf = sv39_mk_leaf,
	.mk_invalid = sv_mk_invalid,
	.decode = sv_decode,
	.walk_decode = sv_walk_decode,
	.set_ad = sv_set_ad,
	.fault_code = sv_fault_code,
};

const struct s2_fmt_ops s1_fmt_sv48 = {
	.name = "sv48",
	.id = S1_FMT_SV48,
	.stage = 1,
	.min_levels = 4,
	.max_levels = 4,
	.leaf_szs = (1u << S2_SZ_4K) | (1u << S2_SZ_2M) | (1u << S2_SZ_1G) | (1u << S2_SZ_512G),
	.split_exec = false,
	.needs_bbm = false,
	.af_faults = true,
	.canonical_sext = true,
	.user_excl = true,
	.arch_level = sv_arch_level,
	.mk_table = sv_mk_table,
	.mk_leaf = sv48_mk_leaf,
	.mk_invalid = sv_mk_invalid,
	.decode = sv_decode,
	.walk_decode = sv_walk_decode,
	.set_ad = sv_set_ad,
	.fault_code = sv_fault_code,
};
