/*
 * s2_mmu.c - the MMU objects: creating an MMU's TLBs, nested TLB and
 * page-walk caches from a geometry, and invalidating them (by VM, by IPA,
 * by range, everything, and the cached check results of an SPA range).
 * The translations that fill them are in s2_xlate.c.
 */
#include "stage2/s2_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* MMU objects and invalidation                                        */
/* ------------------------------------------------------------------ */

static struct tlb *s2_mk_tlb(const struct s2_geom *g, uint32_t lat, size_t payload)
{
	struct tlb_cfg c = { .sets = g->sets, .ways = g->ways, .hit_lat = lat, .payload = payload };

	return tlb_new(&c);
}

struct s2_mmu *s2_mmu_new(const struct s2_mmu_cfg *cfg, const struct s2_timing *t,
			  struct s2_stats *st)
{
	struct s2_mmu *m;
	bool bad = false;

	if (!cfg || !t || cfg->tlb_levels < 1 || cfg->tlb_levels > S2_TLB_MAX_LEVELS)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		sim_fatal("s2: out of host memory");
	m->cfg = *cfg;
	m->t = t;
	m->st = st ? st : &m->own;
	for (unsigned l = 0; l < cfg->tlb_levels; l++) {
		m->tlb[l] = s2_mk_tlb(&cfg->tlb[l], t->tlb_hit[l], sizeof(struct s2_tlbe));
		bad |= !m->tlb[l];
	}
	m->ntlb = s2_mk_tlb(&cfg->ntlb, t->ntlb_hit, sizeof(struct s2_tlbe));
	m->pwc[0] = s2_mk_tlb(&cfg->pwc_s1, t->pwc_hit, sizeof(struct s2_pwce));
	m->pwc[1] = s2_mk_tlb(&cfg->pwc_s2, t->pwc_hit, sizeof(struct s2_pwce));
	bad |= !m->ntlb || !m->pwc[0] || !m->pwc[1];
	if (bad) {
		s2_mmu_free(m);
		return NULL;
	}
	for (unsigned l = 0; l < cfg->tlb_levels; l++) {
		m->has_tlb[l] = cfg->tlb[l].ways != 0;
		m->any_tlb |= m->has_tlb[l];
	}
	m->has_ntlb = cfg->ntlb.ways != 0;
	m->has_pwc[0] = cfg->pwc_s1.ways != 0;
	m->has_pwc[1] = cfg->pwc_s2.ways != 0;
	return m;
}

void s2_mmu_free(struct s2_mmu *m)
{
	if (!m)
		return;
	for (unsigned l = 0; l < S2_TLB_MAX_LEVELS; l++)
		tlb_free(m->tlb[l]);
	tlb_free(m->ntlb);
	tlb_free(m->pwc[0]);
	tlb_free(m->pwc[1]);
	free(m);
}

/* Forget the size masks of structures that became empty (host-speed shortcut only). */
static void s2_mmu_masks_refresh(struct s2_mmu *m)
{
	for (unsigned l = 0; l < m->cfg.tlb_levels; l++)
		if (!tlb_occupancy(m->tlb[l]))
			m->szmask[l] = 0;
	if (!tlb_occupancy(m->ntlb))
		m->nszmask = 0;
}

uint32_t s2_mmu_tlbi_all(struct s2_mmu *m)
{
	unsigned n = 0;

	for (unsigned l = 0; l < m->cfg.tlb_levels; l++)
		n += tlb_inval_all(m->tlb[l]);
	n += tlb_inval_all(m->ntlb);
	n += tlb_inval_all(m->pwc[0]);
	n += tlb_inval_all(m->pwc[1]);
	m->st->tlbi_all++;
	m->st->tlbi_entries += n;
	s2_mmu_masks_refresh(m);
	return m->t->tlbi_all;
}

uint32_t s2_mmu_tlbi_vm(struct s2_mmu *m, uint32_t vmid)
{
	unsigned n = 0;

	for (unsigned l = 0; l < m->cfg.tlb_levels; l++)
		n += tlb_inval_space(m->tlb[l], vmid);
	n += tlb_inval_space(m->ntlb, vmid);
	n += tlb_inval_space(m->pwc[0], vmid);
	n += tlb_inval_space(m->pwc[1], vmid);
	m->st->tlbi_vm++;
	m->st->tlbi_entries += n;
	s2_mmu_masks_refresh(m);
	return m->t->tlbi_vm;
}

struct s2_range_match {
	uint32_t vmid;        /* space */
	uint64_t lo, hi;      /* input range [lo, hi) */
	bool by_payload;      /* nested TLB: match the payload's IPA range */
};

static bool s2_range_pred(const struct tlb_key *k, const void *payload, void *arg)
{
	const struct s2_range_match *mt = arg;
	uint64_t lo, sz;

	if (k->space != mt->vmid)
		return false;
	if (mt->by_payload) {
		const struct s2_tlbe *e = payload;
		lo = e->ipa;
		sz = s2_sz_bytes(e->sz);
	} else {
		sz = s2_sz_bytes(k->kind);
		lo = k->tag << (12 + 9 * k->kind);
	}
	return lo < mt->hi && mt->lo < lo + sz;
}

static unsigned s2_mmu_inval_range(struct s2_mmu *m, uint32_t vmid, uint64_t ipa, uint64_t size)
{
	struct s2_range_match mt = { .vmid = vmid, .lo = ipa, .hi = ipa + size };
	unsigned n = 0;

	for (unsigned l = 0; l < m->cfg.tlb_levels; l++)
		n += tlb_inval_if(m->tlb[l], s2_range_pred, &mt);
	n += tlb_inval_if(m->pwc[1], s2_range_pred, &mt);
	mt.by_payload = true;
	n += tlb_inval_if(m->ntlb, s2_range_pred, &mt);
	m->st->tlbi_ipa++;
	m->st->tlbi_entries += n;
	s2_mmu_masks_refresh(m);
	return n;
}

uint32_t s2_mmu_tlbi_ipa(struct s2_mmu *m, uint32_t vmid, uint64_t ipa)
{
	(void)s2_mmu_inval_range(m, vmid, ipa & ~(SIM_PAGE_SIZE - 1), SIM_PAGE_SIZE);
	return m->t->tlbi_ipa;
}

uint32_t s2_mmu_tlbi_range(struct s2_mmu *m, uint32_t vmid, uint64_t ipa, uint64_t size)
{
	(void)s2_mmu_inval_range(m, vmid, ipa, size);
	return m->t->tlbi_ipa;
}

struct s2_spa_match {
	uint64_t spa, size;   /* the range */
};

static bool s2_spa_pred(const struct tlb_key *k, const void *payload, void *arg)
{
	const struct s2_spa_match *mt = arg;
	const struct s2_tlbe *e = payload;
	uint64_t esz = s2_sz_bytes(e->sz);

	(void)k;
	return e->base < mt->spa + mt->size && mt->spa < e->base + esz;
}

unsigned s2_mmu_check_flush(struct s2_mmu *m, uint64_t spa, uint64_t size)
{
	struct s2_spa_match mt = { .spa = spa, .size = size };
	unsigned n = 0;

	for (unsigned l = 0; l < m->cfg.tlb_levels; l++)
		n += tlb_inval_if(m->tlb[l], s2_spa_pred, &mt);
	n += tlb_inval_if(m->ntlb, s2_spa_pred, &mt);
	m->st->check_flush += n;
	s2_mmu_masks_refresh(m);
	return n;
}

unsigned s2_mmu_occupancy(const struct s2_mmu *m, unsigned *tlb, unsigned *ntlb, unsigned *pwc)
{
	unsigned a = 0, b, c;

	for (unsigned l = 0; l < m->cfg.tlb_levels; l++)
		a += tlb_occupancy(m->tlb[l]);
	b = tlb_occupancy(m->ntlb);
	c = tlb_occupancy(m->pwc[0]) + tlb_occupancy(m->pwc[1]);
	if (tlb)
		*tlb = a;
	if (ntlb)
		*ntlb = b;
	if (pwc)
		*pwc = c;
	return a + b + c;
}
