/*
 * pgtable.c - the guest's Sv39 identity map with the SNP C-bit in PTE bit
 * 8 (protsim's convention with vm.cbit_pte=1): every range of the memory
 * map mapped with the largest leaves that fit (1G, 2M, 4K), private (C=1);
 * a page made shared gets C=0, the leaf over it split down to 4K first, as
 * Linux splits its direct map before it changes a page's encryption.
 *
 * The pages are U pages because the library runs in M mode with MPRV=1
 * and MPP=U (snp_arch_paging_on): loads and stores are translated as U
 * accesses.  A and D are set (protsim checks them as Svade does).
 */
#include <string.h>

#include "protsim/snp.h"
#include "snp_arch.h"

#define LEAF (SNP_PTE_V | SNP_PTE_R | SNP_PTE_W | SNP_PTE_X | SNP_PTE_U | SNP_PTE_A | SNP_PTE_D)
#define SV39_LIMIT (1ull << 38)        /* identity VAs must not need sign extension */
#define PTE_PPN(pte) (((pte) >> 10) & 0xfffffffffffull)

static const uint64_t lvl_size[3] = { 1ull << 12, 1ull << 21, 1ull << 30 };

static uint64_t *table(uint64_t gpa)
{
	return snp_va(gpa);
}

static uint64_t pt_page(void)
{
	uint64_t g = snp_alloc_pages(1);

	memset(table(g), 0, SNP_PAGE_SIZE);
	return g;
}

static unsigned vpn(uint64_t va, unsigned lvl)
{
	return (unsigned)((va >> (12 + 9 * lvl)) & 511);
}

static uint64_t leaf_pte(uint64_t pa, bool enc)
{
	return (pa >> 12) << 10 | LEAF | (enc ? SNP_PTE_C : 0);
}

/* The table at level @lvl (0 = the 4K level) covering @va, created if missing. */
static uint64_t *walk_to(uint64_t va, unsigned lvl)
{
	uint64_t *t = table(snp.pt_root);

	for (unsigned l = 2; l > lvl; l--) {
		uint64_t *e = &t[vpn(va, l)];

		if (!(*e & SNP_PTE_V))
			*e = (pt_page() >> 12) << 10 | SNP_PTE_V;
		t = table(PTE_PPN(*e) << 12);
	}
	return t;
}

static void map_range(uint64_t a, uint64_t b)
{
	while (a < b) {
		unsigned lvl = 2;

		while (lvl > 0 && ((a & (lvl_size[lvl] - 1)) || b - a < lvl_size[lvl]))
			lvl--;
		walk_to(a, lvl)[vpn(a, lvl)] = leaf_pte(a, true);
		a += lvl_size[lvl];
	}
}

void snp_paging_init(void)
{
	if (snp.paging)
		return;
	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		const struct snp_range *r = &snp.ranges[i];

		if (r->type != SNP_RANGE_DEVICE && r->gpa + r->size > SV39_LIMIT) {
			snp_printf("snp: memory above 256 GiB cannot be identity-mapped with Sv39\n");
			snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_BP_NOMEM, SNP_FAIL_BOOT_PARAMS);
		}
	}
	snp.pt_root = pt_page();
	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		const struct snp_range *r = &snp.ranges[i];

		if (r->type != SNP_RANGE_DEVICE)
			map_range(r->gpa, r->gpa + r->size);
	}
	/* without boot parameters the image is not in the map: map it too */
	if (!snp.boot_gpa && snp.nr_ranges && snp.ranges[0].gpa > 0x80000000ull)
		map_range(0x80000000ull, snp.ranges[0].gpa);
	snp_arch_paging_on(snp.pt_root);
	snp.paging = true;
}

/* The leaf over @va: its PTE slot and level; NULL if unmapped. */
static uint64_t *find_leaf(uint64_t va, unsigned *lvl_out)
{
	uint64_t *t = table(snp.pt_root);

	for (unsigned l = 2;; l--) {
		uint64_t *e = &t[vpn(va, l)];

		if (!(*e & SNP_PTE_V))
			return NULL;
		if (*e & (SNP_PTE_R | SNP_PTE_W | SNP_PTE_X) || l == 0) {
			*lvl_out = l;
			return e;
		}
		t = table(PTE_PPN(*e) << 12);
	}
}

uint64_t snp_pt_lookup(uint64_t gpa, uint64_t *size)
{
	unsigned lvl;
	uint64_t *e;

	if (!snp.pt_root || !(e = find_leaf(gpa, &lvl)))
		return 0;
	if (size)
		*size = lvl_size[lvl];
	return *e;
}

void snp_pt_set_cbit(uint64_t gpa, uint64_t npages, bool enc)
{
	uint64_t a = gpa & ~(SNP_PAGE_SIZE - 1), b = a + npages * SNP_PAGE_SIZE;

	while (a < b) {
		unsigned lvl;
		uint64_t *e = find_leaf(a, &lvl), sz;

		if (!e) {
			a += SNP_PAGE_SIZE;
			continue;
		}
		sz = lvl_size[lvl];
		if (lvl > 0 && ((a & (sz - 1)) || b - a < sz)) {
			/* split: 512 leaves of the next size with the same C-bit */
			uint64_t t = pt_page(), base = PTE_PPN(*e) << 12, c = *e & SNP_PTE_C;
			uint64_t *n = table(t);

			for (unsigned i = 0; i < 512; i++)
				n[i] = leaf_pte(base + i * lvl_size[lvl - 1], c != 0);
			*e = (t >> 12) << 10 | SNP_PTE_V;
			snp.st.pt_splits++;
			continue;
		}
		*e = enc ? *e | SNP_PTE_C : *e & ~SNP_PTE_C;
		a += sz;
	}
	snp_arch_flush_tlb();
}
