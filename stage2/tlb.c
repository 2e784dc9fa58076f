/*
 * tlb.c - the generic set-associative translation cache (see tlb.h).
 *
 * Layout: one array of entries, set-major (set s holds entries
 * [s*ways, (s+1)*ways)), and a parallel payload array.  LRU is a
 * per-entry stamp from a per-TLB counter: the smallest stamp in a set is
 * the victim, invalid entries first, lower way first on ties.
 */
#include "stage2/tlb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

struct tlb_ent {
	struct tlb_key key;    /* what the entry caches */
	uint64_t stamp;        /* LRU: last use, 0 = invalid */
};

struct tlb {
	struct tlb_cfg cfg;    /* geometry as given */
	uint64_t set_mask;     /* sets - 1 */
	uint64_t clock;        /* LRU stamp source, starts at 1 */
	size_t pstride;        /* payload bytes per entry, rounded up to 8 */
	unsigned valid;        /* valid entries */
	struct tlb_ent *ent;   /* sets * ways */
	unsigned char *pay;    /* sets * ways * pstride */
	struct tlb_stats st;   /* counters */
};

static inline uint64_t tlb_set_of(const struct tlb *t, const struct tlb_key *k)
{
	return (k->tag ^ ((uint64_t)k->space * 0x9E3779B1u) ^ k->kind) & t->set_mask;
}

static inline bool tlb_key_eq(const struct tlb_key *a, const struct tlb_key *b)
{
	return a->tag == b->tag && a->space == b->space && a->kind == b->kind;
}

struct tlb *tlb_new(const struct tlb_cfg *cfg)
{
	struct tlb *t;
	size_t n;

	if (!cfg || cfg->sets == 0 || cfg->sets > TLB_MAX_SETS || (cfg->sets & (cfg->sets - 1)) ||
	    cfg->ways > TLB_MAX_WAYS || cfg->payload > TLB_PAYLOAD_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		sim_fatal("tlb: out of host memory");
	t->cfg = *cfg;
	t->set_mask = cfg->sets - 1;
	t->clock = 1;
	t->pstride = (cfg->payload + 7) & ~(size_t)7;
	n = (size_t)cfg->sets * cfg->ways;
	if (n) {
		t->ent = calloc(n, sizeof(*t->ent));
		t->pay = t->pstride ? calloc(n, t->pstride) : NULL;
		if (!t->ent || (t->pstride && !t->pay))
			sim_fatal("tlb: out of host memory (%zu entries)", n);
	}
	return t;
}

void tlb_free(struct tlb *t)
{
	if (!t)
		return;
	free(t->ent);
	free(t->pay);
	free(t);
}

const struct tlb_cfg *tlb_config(const struct tlb *t) { return &t->cfg; }
uint32_t tlb_latency(const struct tlb *t) { return t->cfg.hit_lat; }
unsigned tlb_capacity(const struct tlb *t) { return t->cfg.sets * t->cfg.ways; }
unsigned tlb_occupancy(const struct tlb *t) { return t->valid; }
const struct tlb_stats *tlb_stats(const struct tlb *t) { return &t->st; }

static inline void *tlb_payload(const struct tlb *t, size_t idx)
{
	return t->pay ? t->pay + idx * t->pstride : (void *)(t->ent + idx);
}

static inline long tlb_find(const struct tlb *t, const struct tlb_key *k)
{
	unsigned ways = t->cfg.ways;
	size_t base = (size_t)tlb_set_of(t, k) * ways;

	for (unsigned w = 0; w < ways; w++) {
		const struct tlb_ent *e = &t->ent[base + w];
		if (e->stamp && tlb_key_eq(&e->key, k))
			return (long)(base + w);
	}
	return -1;
}

void *tlb_lookup(struct tlb *t, const struct tlb_key *k)
{
	long i;

	if (!t->cfg.ways)
		return NULL;
	i = tlb_find(t, k);
	t->st.lookup++;
	if (i < 0) {
		t->st.miss++;
		return NULL;
	}
	t->st.hit++;
	t->ent[i].stamp = ++t->clock;
	return tlb_payload(t, (size_t)i);
}

void *tlb_peek(const struct tlb *t, const struct tlb_key *k)
{
	long i;

	if (!t->cfg.ways)
		return NULL;
	i = tlb_find(t, k);
	return i < 0 ? NULL : tlb_payload(t, (size_t)i);
}

void *tlb_insert(struct tlb *t, const struct tlb_key *k)
{
	unsigned ways = t->cfg.ways;
	size_t base, victim;
	long i;

	if (!ways)
		return NULL;
	i = tlb_find(t, k);
	if (i >= 0) {
		victim = (size_t)i;
	} else {
		base = (size_t)tlb_set_of(t, k) * ways;
		victim = base;
		for (unsigned w = 0; w < ways; w++) {
			if (t->ent[base + w].stamp < t->ent[victim].stamp)
				victim = base + w;
			if (!t->ent[victim].stamp)
				break;
		}
		if (t->ent[victim].stamp)
			t->st.evict++;
		else
			t->valid++;
	}
	t->st.insert++;
	t->ent[victim].key = *k;
	t->ent[victim].stamp = ++t->clock;
	if (t->pstride)
		memset(tlb_payload(t, victim), 0, t->pstride);
	return tlb_payload(t, victim);
}

static unsigned tlb_drop(struct tlb *t, size_t i)
{
	t->ent[i].stamp = 0;
	t->valid--;
	t->st.inval++;
	return 1;
}

unsigned tlb_inval_all(struct tlb *t)
{
	size_t n = (size_t)t->cfg.sets * t->cfg.ways;
	unsigned dropped = 0;

	t->st.inval_ops++;
	if (!t->valid)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t->ent[i].stamp)
			dropped += tlb_drop(t, i);
	return dropped;
}

unsigned tlb_inval_key(struct tlb *t, const struct tlb_key *k)
{
	long i;

	t->st.inval_ops++;
	if (!t->cfg.ways)
		return 0;
	i = tlb_find(t, k);
	return i < 0 ? 0 : tlb_drop(t, (size_t)i);
}

unsigned tlb_inval_space(struct tlb *t, uint32_t space)
{
	size_t n = (size_t)t->cfg.sets * t->cfg.ways;
	unsigned dropped = 0;

	t->st.inval_ops++;
	if (!t->valid)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t->ent[i].stamp && t->ent[i].key.space == space)
			dropped += tlb_drop(t, i);
	return dropped;
}

unsigned tlb_inval_if(struct tlb *t,
		      bool (*pred)(const struct tlb_key *k, const void *payload, void *arg),
		      void *arg)
{
	size_t n = (size_t)t->cfg.sets * t->cfg.ways;
	unsigned dropped = 0;

	t->st.inval_ops++;
	if (!t->valid)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t->ent[i].stamp && pred(&t->ent[i].key, tlb_payload(t, i), arg))
			dropped += tlb_drop(t, i);
	return dropped;
}

int tlb_for_each(const struct tlb *t,
		 int (*fn)(const struct tlb_key *k, const void *payload, void *arg), void *arg)
{
	size_t n = (size_t)t->cfg.sets * t->cfg.ways;

	for (size_t i = 0; i < n; i++) {
		if (!t->ent[i].stamp)
			continue;
		int r = fn(&t->ent[i].key, tlb_payload(t, i), arg);
		if (r)
			return r;
	}
	return 0;
}

void tlb_stats_register(struct tlb *t, struct sim *s, const char *prefix, const char *desc)
{
	static const struct {
		const char *suffix;   /* name after the prefix */
		size_t off;           /* counter in struct tlb_stats */
		const char *what;     /* description after the structure's name */
	} rows[] = {
		{ "hit", offsetof(struct tlb_stats, hit), "lookups that hit" },
		{ "miss", offsetof(struct tlb_stats, miss), "lookups that missed" },
		{ "lookup", offsetof(struct tlb_stats, lookup), "lookups" },
		{ "evict", offsetof(struct tlb_stats, evict), "valid entries evicted by an insert" },
		{ "inval", offsetof(struct tlb_stats, inval), "entries dropped by invalidation" },
	};
	char name[160], num[160], den[160], d[200];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(name, sizeof(name), "%s.%s", prefix, rows[i].suffix);
		snprintf(d, sizeof(d), "%s: %s", desc, rows[i].what);
		sim_stat_counter(s, name, (const uint64_t *)((const char *)&t->st + rows[i].off), d);
	}
	snprintf(name, sizeof(name), "%s.hit_rate", prefix);
	snprintf(num, sizeof(num), "%s.hit", prefix);
	snprintf(den, sizeof(den), "%s.lookup", prefix);
	snprintf(d, sizeof(d), "%s: hits per lookup", desc);
	sim_stat_formula(s, name, num, den, 1.0, d);
}
