/*
 * tlb.h - the one set-associative translation-cache structure of protsim.
 *
 * Every TLB, nested TLB, page-walk cache and IOTLB in the project is a
 * `struct tlb` configured with a geometry (sets x ways), a hit latency
 * and a payload size.  Entries are found by a key (a tag, an address
 * space id such as a VMID/ASID/domain id, and a small `kind` that callers
 * use for the page-size class or the walk level); the payload is opaque
 * bytes the caller fills in after tlb_insert().
 *
 * Replacement is true LRU inside a set (a per-TLB access counter, so it
 * is deterministic).  An entry stays valid until it is evicted or
 * explicitly invalidated: a stale translation stays visible exactly as on
 * hardware, and nothing here ever looks at the page tables.
 *
 * A TLB with ways == 0 is "absent": every lookup misses, inserts are
 * dropped, and its counters stay zero.
 *
 * Timing is separate: tlb_latency() returns the configured hit latency and
 * the caller charges it per probe.  Counters (struct tlb_stats) are
 * incremented by the structure and registered by the owner under a dotted
 * prefix with tlb_stats_register().
 */
#ifndef PROTSIM_TLB_H
#define PROTSIM_TLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim;
struct tlb;

/* Largest payload a TLB entry may carry, in bytes. */
#define TLB_PAYLOAD_MAX 48

/* Limits on the geometry (validated by tlb_new). */
#define TLB_MAX_SETS  65536u
#define TLB_MAX_WAYS  64u

/*
 * The key of an entry.  Two keys are equal when all three fields are
 * equal.  The set index is derived from @tag and @space.
 */
struct tlb_key {
	uint64_t tag;     /* e.g. virtual page number at the entry's page size */
	uint32_t space;   /* address-space id: VMID, ASID, IOMMU domain ... */
	uint32_t kind;    /* caller-defined class: page size, walk level, stage */
};

/* Counters kept by every TLB. */
struct tlb_stats {
	uint64_t hit;          /* tlb_lookup() found the key */
	uint64_t miss;         /* tlb_lookup() did not */
	uint64_t lookup;       /* tlb_lookup() calls (hit + miss) */
	uint64_t insert;       /* entries written by tlb_insert() */
	uint64_t evict;        /* valid entries displaced by an insert */
	uint64_t inval;        /* entries dropped by any tlb_inval_*() */
	uint64_t inval_ops;    /* tlb_inval_*() calls */
};

/* Geometry and timing of one TLB. */
struct tlb_cfg {
	unsigned sets;         /* power of two, 1..TLB_MAX_SETS (1 = fully associative) */
	unsigned ways;         /* 0..TLB_MAX_WAYS; 0 = structure absent */
	uint32_t hit_lat;      /* cycles charged per probe by the owner */
	size_t payload;        /* payload bytes per entry, 0..TLB_PAYLOAD_MAX */
};

/*
 * Create a TLB.  Return: the TLB, or NULL if @cfg is out of range (sets
 * not a power of two or too large, too many ways, payload too big).
 */
struct tlb *tlb_new(const struct tlb_cfg *cfg);
void tlb_free(struct tlb *t);

/* The configuration the TLB was created with. */
const struct tlb_cfg *tlb_config(const struct tlb *t);

/* Hit latency in cycles (what one probe costs). */
uint32_t tlb_latency(const struct tlb *t);

/* Entries the TLB can hold (sets * ways). */
unsigned tlb_capacity(const struct tlb *t);

/* Valid entries right now. */
unsigned tlb_occupancy(const struct tlb *t);

/*
 * Probe for @k.  On a hit the entry becomes most recently used and its
 * payload is returned (writable: callers may update cached bits such as
 * a cached RMP check result).  Counts a hit or a miss.
 * Return: payload pointer, or NULL on a miss.
 */
void *tlb_lookup(struct tlb *t, const struct tlb_key *k);

/* Like tlb_lookup() but changes neither LRU state nor counters. */
void *tlb_peek(const struct tlb *t, const struct tlb_key *k);

/*
 * Install @k (replacing an entry with the same key, else the invalid or
 * least recently used way of the set) and return its payload, zeroed,
 * for the caller to fill.  Return: NULL only if the TLB is absent.
 */
void *tlb_insert(struct tlb *t, const struct tlb_key *k);

/* Invalidate every entry.  Return: entries dropped. */
unsigned tlb_inval_all(struct tlb *t);

/* Invalidate the entry with exactly key @k.  Return: 0 or 1. */
unsigned tlb_inval_key(struct tlb *t, const struct tlb_key *k);

/* Invalidate every entry of address space @space.  Return: entries dropped. */
unsigned tlb_inval_space(struct tlb *t, uint32_t space);

/*
 * Invalidate every entry for which @pred returns true.  @pred sees the
 * key and the payload; it must not modify the TLB.  Entries are visited
 * in set/way order (deterministic).  Return: entries dropped.
 */
unsigned tlb_inval_if(struct tlb *t,
		      bool (*pred)(const struct tlb_key *k, const void *payload, void *arg),
		      void *arg);

/*
 * Call @fn for every valid entry in set/way order (dumps, tests).  Stops
 * early and returns the value if @fn returns non-zero.
 */
int tlb_for_each(const struct tlb *t,
		 int (*fn)(const struct tlb_key *k, const void *payload, void *arg), void *arg);

/* The counters of @t (the structure increments them). */
const struct tlb_stats *tlb_stats(const struct tlb *t);

/*
 * Register @t's counters as "<prefix>.hit", "<prefix>.miss",
 * "<prefix>.lookup", "<prefix>.evict", "<prefix>.inval" and the rate
 * "<prefix>.hit_rate" (hit / lookup).  @desc names the structure in the
 * descriptions.
 */
void tlb_stats_register(struct tlb *t, struct sim *s, const char *prefix, const char *desc);

#endif /* PROTSIM_TLB_H */
