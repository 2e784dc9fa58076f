/*
 * s2_fmt_int.h - the entry layouts of the built-in formats: bit
 * definitions and the walker's part of decoding (walk_decode), as inline
 * functions.  The format files (s2_fmt_*.c, s1_fmt_sv.c) build their ops
 * tables on them; the hardware walker (s2_xlate.c) inlines them into one
 * walk loop per format, so a cold walk makes no indirect call per entry.
 * Never included outside stage2/.  Layouts are described in the format
 * files and docs/stage2.md.
 */
#ifndef PROTSIM_S2_FMT_INT_H
#define PROTSIM_S2_FMT_INT_H

#include "stage2/s2_int.h"

/* The s2_pte fields a walk decode gives; each decode() adds the rest. */
static inline struct s2_pte s2_pte_of(struct s2_wpte e)
{
	return (struct s2_pte){
		.type = (enum s2_pte_type)e.type, .addr = e.addr,
		.prot = { .perms = e.perms, .user = e.user, .c = e.c },
		.accessed = e.accessed, .dirty = e.dirty,
	};
}

/* ---- arm64 stage 2 (s2_fmt_arm64.c) ---- */
#define A64_VALID     (1ull << 0)
#define A64_TABLE     (1ull << 1)       /* table (levels 0-2) or page (level 3) */
#define A64_ATTR_SHIFT 2
#define A64_ATTR_NORMAL 0xFull          /* MemAttr Normal Inner/Outer WB (no FEAT_S2FWB) */
#define A64_ATTR_DEVICE 0x1ull          /* MemAttr Device-nGnRE */
#define A64_S2AP_R    (1ull << 6)
#define A64_S2AP_W    (1ull << 7)
#define A64_SH_IS     (3ull << 8)
#define A64_AF        (1ull << 10)
#define A64_OA_MASK   0x0000FFFFFFFFF000ull
#define A64_XN_SHIFT  53
#define A64_SW_SHIFT  55
#define A64_OWNER_SHIFT 2

static inline uint8_t s2_a64_xn_perms(uint64_t xn)
{
	static const uint8_t map[4] = { S2_PERM_X, S2_PERM_XU, 0, S2_PERM_XS };
	return map[xn & 3];
}

/* arm64: type, address, permissions, user, AF. */
static inline struct s2_wpte s2_a64_wdec(uint64_t raw, unsigned sz)
{
	struct s2_wpte e = { .type = S2_PTE_INVALID };

	if (!(raw & A64_VALID))
		return e;
	if (sz > S2_SZ_4K && (raw & A64_TABLE)) {
		e.type = S2_PTE_TABLE;
		e.addr = raw & A64_OA_MASK;
		e.perms = S2_PERM_ALL;
		e.user = true;
		e.accessed = true;
		e.dirty = true;
		return e;
	}
	/* Level-3 descriptor with bit 1 clear, or a block at level 0: reserved. */
	if ((sz == S2_SZ_4K && !(raw & A64_TABLE)) || sz > S2_SZ_1G) {
		e.type = S2_PTE_RESERVED;
		return e;
	}
	e.type = S2_PTE_LEAF;
	e.addr = raw & A64_OA_MASK & ~(s2_sz_bytes(sz) - 1);
	if (raw & A64_S2AP_R)
		e.perms |= S2_PERM_R;
	if (raw & A64_S2AP_W)
		e.perms |= S2_PERM_W;
	e.perms |= s2_a64_xn_perms(raw >> A64_XN_SHIFT);
	e.user = true;
	e.accessed = (raw & A64_AF) != 0;
	e.dirty = true;   /* no DBM: writes are governed by S2AP alone */
	return e;
}

/* ---- x86-64: AMD NPT and guest stage 1 (s2_fmt_x86.c) ---- */
#define X86_P    (1ull << 0)
#define X86_RW   (1ull << 1)
#define X86_US   (1ull << 2)
#define X86_PWT  (1ull << 3)
#define X86_PCD  (1ull << 4)
#define X86_A    (1ull << 5)
#define X86_D    (1ull << 6)
#define X86_PS   (1ull << 7)
#define X86_G    (1ull << 8)
#define X86_NX   (1ull << 63)
#define X86_C    (1ull << 51)
#define X86_SW_SHIFT 52
#define X86_OWNER_SHIFT 52
#define NPT_ADDR_MASK 0x000FFFFFFFFFF000ull    /* [51:12] */
#define S1_ADDR_MASK  0x0007FFFFFFFFF000ull    /* [50:12]: bit 51 is the C-bit */

/*
 * x86-64: type, address, permissions, U/S, A, D; @addr_mask and the C-bit
 * (@stage1) per use: NPT or guest stage 1.
 */
static inline struct s2_wpte s2_x86_wdec(uint64_t raw, unsigned sz, uint64_t addr_mask,
					 bool stage1)
{
	struct s2_wpte e = { .type = S2_PTE_INVALID };

	if (!(raw & X86_P))
		return e;
	e.perms = S2_PERM_R | ((raw & X86_RW) ? S2_PERM_W : 0) | ((raw & X86_NX) ? 0 : S2_PERM_X);
	e.user = (raw & X86_US) != 0;
	e.accessed = (raw & X86_A) != 0;
	if (sz == S2_SZ_4K || ((raw & X86_PS) && sz <= S2_SZ_1G)) {
		e.type = S2_PTE_LEAF;
		e.addr = raw & addr_mask & ~(s2_sz_bytes(sz) - 1);
		e.dirty = (raw & X86_D) != 0;
		e.c = stage1 && (raw & X86_C);
	} else if (raw & X86_PS) {   /* PS in a PML4E */
		e.type = S2_PTE_RESERVED;
	} else {
		e.type = S2_PTE_TABLE;
		e.addr = raw & addr_mask;
	}
	return e;
}

/* ---- Intel EPT (s2_fmt_ept.c) ---- */
#define EPT_R     (1ull << 0)
#define EPT_W     (1ull << 1)
#define EPT_XS    (1ull << 2)
#define EPT_MT_SHIFT 3
#define EPT_MT_UC 0ull
#define EPT_MT_WB 6ull
#define EPT_PS    (1ull << 7)
#define EPT_A     (1ull << 8)
#define EPT_D     (1ull << 9)
#define EPT_XU    (1ull << 10)
#define EPT_SVE   (1ull << 63)
#define EPT_ADDR_MASK 0x000FFFFFFFFFF000ull
#define EPT_SW_SHIFT 52
#define EPT_OWNER_SHIFT 52
#define EPT_PRESENT (EPT_R | EPT_W | EPT_XS | EPT_XU)

/* EPT: type, address, permissions, A. */
static inline struct s2_wpte s2_ept_wdec(uint64_t raw, unsigned sz)
{
	struct s2_wpte e = { .type = S2_PTE_INVALID };
	uint64_t mt;

	if (!(raw & EPT_PRESENT))
		return e;
	if ((raw & EPT_W) && !(raw & EPT_R)) {
		e.type = S2_PTE_RESERVED;
		return e;
	}
	e.perms = ((raw & EPT_R) ? S2_PERM_R : 0) | ((raw & EPT_W) ? S2_PERM_W : 0) |
		  ((raw & EPT_XS) ? S2_PERM_XS : 0) | ((raw & EPT_XU) ? S2_PERM_XU : 0);
	e.user = true;
	e.accessed = (raw & EPT_A) != 0;
	if (sz == S2_SZ_4K || ((raw & EPT_PS) && sz <= S2_SZ_1G)) {
		mt = (raw >> EPT_MT_SHIFT) & 7;
		if (mt == 2 || mt == 3 || mt == 7) {
			e.type = S2_PTE_RESERVED;
			return e;
		}
		e.type = S2_PTE_LEAF;
		e.addr = raw & EPT_ADDR_MASK & ~(s2_sz_bytes(sz) - 1);
		e.dirty = (raw & EPT_D) != 0;
		return e;
	}
	if (raw & EPT_PS) {
		e.type = S2_PTE_RESERVED;
		return e;
	}
	e.type = S2_PTE_TABLE;
	e.addr = raw & EPT_ADDR_MASK;
	return e;
}

/* ---- RISC-V Sv39/Sv48 (s1_fmt_sv.c) ---- */
#define SV_V   (1ull << 0)
#define SV_R   (1ull << 1)
#define SV_W   (1ull << 2)
#define SV_X   (1ull << 3)
#define SV_U   (1ull << 4)
#define SV_G   (1ull << 5)
#define SV_A   (1ull << 6)
#define SV_D   (1ull << 7)
#define SV_C   (1ull << 8)     /* RSW bit 0: protsim C-bit */
#define SV_SW  (1ull << 9)     /* RSW bit 1 */
#define SV_PPN_SHIFT 10
#define SV_PPN_MASK  0x003FFFFFFFFFFC00ull   /* [53:10] */
#define SV_PBMT_IO   (2ull << 61)
#define SV_PBMT_MASK (3ull << 61)
#define SV_OWNER_SHIFT 2

static inline uint64_t s2_sv_pte_to_pa(uint64_t raw)
{
	return ((raw & SV_PPN_MASK) >> SV_PPN_SHIFT) << 12;
}

/* Sv39/Sv48: type, address, permissions, U, A. */
static inline struct s2_wpte s2_sv_wdec(uint64_t raw, unsigned sz)
{
	struct s2_wpte e = { .type = S2_PTE_INVALID };

	if (!(raw & SV_V))
		return e;
	if ((raw & SV_W) && !(raw & SV_R)) {
		e.type = S2_PTE_RESERVED;
		return e;
	}
	if (!(raw & (SV_R | SV_W | SV_X))) {
		if (sz == S2_SZ_4K) {
			e.type = S2_PTE_RESERVED;
			return e;
		}
		e.type = S2_PTE_TABLE;
		e.addr = s2_sv_pte_to_pa(raw);
		e.perms = S2_PERM_ALL;
		e.user = true;
		e.accessed = true;
		e.dirty = true;
		return e;
	}
	e.addr = s2_sv_pte_to_pa(raw);
	/* A misaligned superpage is a page fault. */
	if (e.addr & (s2_sz_bytes(sz) - 1)) {
		e.type = S2_PTE_RESERVED;
		return e;
	}
	e.type = S2_PTE_LEAF;
	e.perms = ((raw & SV_R) ? S2_PERM_R : 0) | ((raw & SV_W) ? S2_PERM_W : 0) |
		  ((raw & SV_X) ? S2_PERM_X : 0);
	e.user = (raw & SV_U) != 0;
	e.accessed = (raw & SV_A) != 0;
	e.dirty = (raw & SV_D) != 0;
	e.c = (raw & SV_C) != 0;
	return e;
}

/* ---- AMD IOMMU v1 IO page table (s2_fmt_amdv1.c) ---- */
#define AV1_PR        (1ull << 0)
#define AV1_OWNER_SHIFT 1               /* not present: owner id in [8:1] (ignored bits) */
#define AV1_NL_SHIFT  9                 /* NextLevel [11:9] */
#define AV1_NL_MASK   (7ull << AV1_NL_SHIFT)
#define AV1_ADDR_MASK 0x000FFFFFFFFFF000ull
#define AV1_U         (1ull << 59)
#define AV1_FC        (1ull << 60)
#define AV1_IR        (1ull << 61)
#define AV1_IW        (1ull << 62)

/*
 * AMD v1: type, address, IR/IW.  NextLevel 0 is a page of the entry's
 * size; NextLevel = the next table's level (size class + 1 here) is a
 * table.  Level skipping and NextLevel 7 (other page sizes) are not
 * modelled and decode as reserved.  No user/supervisor split and no A/D
 * (host A/D tracking off): user, accessed and dirty are always set.
 */
static inline struct s2_wpte s2_av1_wdec(uint64_t raw, unsigned sz)
{
	struct s2_wpte e = { .type = S2_PTE_INVALID };
	unsigned nl = (unsigned)((raw & AV1_NL_MASK) >> AV1_NL_SHIFT);

	if (!(raw & AV1_PR))
		return e;
	e.perms = ((raw & AV1_IR) ? S2_PERM_R : 0) | ((raw & AV1_IW) ? S2_PERM_W : 0);
	e.user = true;
	e.accessed = true;
	e.dirty = true;
	if (nl == 0 && sz <= S2_SZ_1G) {
		e.type = S2_PTE_LEAF;
		e.addr = raw & AV1_ADDR_MASK & ~(s2_sz_bytes(sz) - 1);
	} else if (nl != 0 && nl == sz) {
		e.type = S2_PTE_TABLE;
		e.addr = raw & AV1_ADDR_MASK;
	} else {
		e.type = S2_PTE_RESERVED;
	}
	return e;
}

#endif /* PROTSIM_S2_FMT_INT_H */
