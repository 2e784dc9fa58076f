/*
 * mem.c - sparse simulated physical memory.
 *
 * A 52-bit physical address space in 4K frames, allocated on first write
 * and read as zero before.  Frames hang off a four-level radix tree
 * (13 + 9 + 9 + 9 bits of frame number), so the host cost is the touched
 * frames plus one 4K leaf table per touched 2M region.  A small
 * direct-mapped cache of recent frames keeps hot accesses off the tree;
 * it changes speed only, never results.
 *
 * Fill ranges (sim_mem_fill): a range written with a repeating pattern
 * keeps the pattern once, not per frame; its never-written frames read as
 * their part of the pattern and are allocated, holding it, on their first
 * write.  So a large table that start-up fills (the RMP entries of the
 * RMP's own pages) costs what is touched later, not its size.
 *
 * Every modelled access goes through sim_mem_read/sim_mem_write, which
 * return the latency the installed timing model charges.
 */
#include "sim/sim_int.h"

#include <stdlib.h>
#include <string.h>

#define L0_BITS 13
#define LX_BITS 9
#define LX_SIZE (1u << LX_BITS)
#define FC_SIZE SIM_MEM_FC_SIZE

struct mem_node {
	void *slot[LX_SIZE];
};

/* One sim_mem_fill(): frames [lo, hi) read as pat[(fn - lo) % period] until written. */
struct mem_fill {
	uint64_t lo, hi;                    /* frame numbers */
	unsigned period;                    /* frames in the pattern */
	uint8_t *pat;                       /* period frames, owned */
};

struct sim_mem {
	struct sim_mem_fc fc;               /* first: sim_mem_load64() inlines its hits */
	bool fc_shared[FC_SIZE];            /* fc slot holds a shared read-only frame */
	uint64_t size;                      /* machine.mem */
	uint64_t frames;                    /* allocated frames */
	struct sim_mem_timing timing;       /* installed timing model */
	struct mem_fill *fill;              /* fill ranges, oldest first (the newest wins) */
	size_t nfill, capfill;
	struct mem_node *l0[1u << L0_BITS]; /* radix root */
	struct sim_engine *eng;             /* owner's engine (sim_sync_id); NULL: standalone */
};

static uint32_t flat_access(void *arg, int agent, enum sim_mem_src src, uint64_t pa,
			    uint32_t len, bool write)
{
	const struct sim_mem *m = arg;

	(void)agent, (void)src, (void)pa, (void)len, (void)write;
	return m->fc.flat_lat;
}

struct sim_mem *sim_mem_new(uint64_t size, uint32_t lat)
{
	struct sim_mem *m = calloc(1, sizeof(*m));

	if (!m)
		sim_fatal("mem: out of memory");
	m->size = size;
	m->fc.flat_lat = lat;
	m->timing.access = flat_access;
	m->timing.arg = m;
	m->fc.flat = true;
	return m;
}

struct sim_mem *sim_mem_create(const struct sim *s)
{
	struct sim_mem *m = sim_mem_new(sim_cfg_u64(s, "machine.mem"),
					(uint32_t)sim_cfg_u64(s, "lat.mem.dram"));

	m->eng = s->eng;
	m->fc.owned = true;
	return m;
}

struct sim_engine *sim_mem_engine(const struct sim_mem *m)
{
	return m->eng;
}

void sim_mem_free(struct sim_mem *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < (1u << L0_BITS); i++) {
		struct mem_node *n1 = m->l0[i];
		if (!n1)
			continue;
		for (size_t j = 0; j < LX_SIZE; j++) {
			struct mem_node *n2 = n1->slot[j];
			if (!n2)
				continue;
			for (size_t k = 0; k < LX_SIZE; k++) {
				struct mem_node *n3 = n2->slot[k];
				if (!n3)
					continue;
				for (size_t l = 0; l < LX_SIZE; l++)
					free(n3->slot[l]);
				free(n3);
			}
			free(n2);
		}
		free(n1);
	}
	for (size_t i = 0; i < m->nfill; i++)
		free(m->fill[i].pat);
	free(m->fill);
	free(m);
}

uint64_t sim_mem_size(const struct sim_mem *m) { return m->size; }
uint64_t sim_mem_frames(const struct sim_mem *m) { return m->frames; }

void sim_mem_set_timing(struct sim_mem *m, const struct sim_mem_timing *t)
{
	if (t && t->access) {
		m->timing = *t;
	} else {
		m->timing.access = flat_access;
		m->timing.arg = m;
	}
	m->fc.flat = m->timing.access == flat_access;
}

struct sim_mem *sim_mem(const struct sim *s)
{
	return s->mem;
}

static void *node_new(void)
{
	void *p = calloc(1, sizeof(struct mem_node));

	if (!p)
		sim_fatal("mem: out of memory");
	return p;
}

static void check_range(uint64_t pa, size_t len)
{
	if (pa >= SIM_PA_LIMIT || len > SIM_PA_LIMIT - pa)
		sim_fatal("mem: access 0x%llx+%zu beyond the 52-bit physical address space",
			  (unsigned long long)pa, len);
}

/* Read-only stand-in for every never-written frame outside fill ranges (kept in the frame cache). */
static const uint8_t zero_frame[SIM_PAGE_SIZE];

/* What never-written frame @fn reads as: its fill pattern frame, or zeros. */
static const uint8_t *unwritten(const struct sim_mem *m, uint64_t fn)
{
	for (size_t i = m->nfill; i-- > 0;) {
		const struct mem_fill *f = &m->fill[i];

		if (fn >= f->lo && fn < f->hi)
			return f->pat + ((fn - f->lo) % f->period) * SIM_PAGE_SIZE;
	}
	return zero_frame;
}

static uint8_t *frame_slow(struct sim_mem *m, uint64_t fn, bool alloc);

/* The frame holding frame number @fn, or NULL if never written (and !alloc). */
static inline uint8_t *frame(struct sim_mem *m, uint64_t fn, bool alloc)
{
	unsigned c = (unsigned)(fn & (FC_SIZE - 1));

	if (m->fc.fn[c] == fn + 1 && !m->fc_shared[c])
		return m->fc.ptr[c];
	return frame_slow(m, fn, alloc);
}

/* For reads: the frame, or what a never-written one reads as (cached too). */
static inline const uint8_t *frame_rd(struct sim_mem *m, uint64_t fn)
{
	unsigned c = (unsigned)(fn & (FC_SIZE - 1));
	const uint8_t *f;

	if (m->fc.fn[c] == fn + 1)
		return m->fc.ptr[c];
	f = frame_slow(m, fn, false);
	if (!f) {
		f = unwritten(m, fn);
		m->fc.fn[c] = fn + 1;
		m->fc.ptr[c] = (uint8_t *)f;
		m->fc_shared[c] = true;
	}
	return f;
}

static uint8_t *frame_slow(struct sim_mem *m, uint64_t fn, bool alloc)
{
	unsigned c = (unsigned)(fn & (FC_SIZE - 1));
	struct mem_node **pn1, *n1, *n2, *n3;
	uint8_t *f;

	pn1 = &m->l0[fn >> (3 * LX_BITS)];
	if (!(n1 = *pn1)) {
		if (!alloc)
			return NULL;
		n1 = *pn1 = node_new();
	}
	if (!(n2 = n1->slot[(fn >> (2 * LX_BITS)) & (LX_SIZE - 1)])) {
		if (!alloc)
			return NULL;
		n2 = n1->slot[(fn >> (2 * LX_BITS)) & (LX_SIZE - 1)] = node_new();
	}
	if (!(n3 = n2->slot[(fn >> LX_BITS) & (LX_SIZE - 1)])) {
		if (!alloc)
			return NULL;
		n3 = n2->slot[(fn >> LX_BITS) & (LX_SIZE - 1)] = node_new();
	}
	if (!(f = n3->slot[fn & (LX_SIZE - 1)])) {
		if (!alloc)
			return NULL;
		f = n3->slot[fn & (LX_SIZE - 1)] = malloc(SIM_PAGE_SIZE);
		if (!f)
			sim_fatal("mem: out of memory");
		memcpy(f, unwritten(m, fn), SIM_PAGE_SIZE);
		m->frames++;
	}
	m->fc.fn[c] = fn + 1;
	m->fc.ptr[c] = f;
	m->fc_shared[c] = false;
	return f;
}

/*
 * Overwrite the allocated frames of @fl's range with their part of the
 * pattern, skipping absent subtrees whole (cost: the range's allocated
 * frames and radix nodes, not its length).
 */
static void fill_allocated(struct sim_mem *m, const struct mem_fill *fl)
{
	const uint64_t span2 = 1ull << (2 * LX_BITS), span3 = 1ull << LX_BITS;
	uint64_t fn = fl->lo;

	while (fn < fl->hi) {
		struct mem_node *n1 = m->l0[fn >> (3 * LX_BITS)], *n2, *n3;
		uint8_t *f;

		if (!n1) {
			fn = (fn | (span2 * LX_SIZE - 1)) + 1;
			continue;
		}
		if (!(n2 = n1->slot[(fn >> (2 * LX_BITS)) & (LX_SIZE - 1)])) {
			fn = (fn | (span2 - 1)) + 1;
			continue;
		}
		if (!(n3 = n2->slot[(fn >> LX_BITS) & (LX_SIZE - 1)])) {
			fn = (fn | (span3 - 1)) + 1;
			continue;
		}
		if ((f = n3->slot[fn & (LX_SIZE - 1)]))
			memcpy(f, fl->pat + ((fn - fl->lo) % fl->period) * SIM_PAGE_SIZE, SIM_PAGE_SIZE);
		fn++;
	}
}

void sim_mem_fill(struct sim_mem *m, uint64_t pa, uint64_t len, const void *pattern,
		  unsigned period)
{
	struct mem_fill *fl;

	if (!len)
		return;
	check_range(pa, len);
	if ((pa | len) & (SIM_PAGE_SIZE - 1) || !period)
		sim_fatal("mem: fill 0x%llx+0x%llx: not page aligned, or an empty pattern",
			  (unsigned long long)pa, (unsigned long long)len);
	if (m->nfill == m->capfill) {
		m->capfill = m->capfill ? 2 * m->capfill : 4;
		m->fill = realloc(m->fill, m->capfill * sizeof(*m->fill));
		if (!m->fill)
			sim_fatal("mem: out of memory");
	}
	fl = &m->fill[m->nfill++];
	fl->lo = pa >> SIM_PAGE_SHIFT;
	fl->hi = (pa + len) >> SIM_PAGE_SHIFT;
	fl->period = period;
	fl->pat = malloc((size_t)period * SIM_PAGE_SIZE);
	if (!fl->pat)
		sim_fatal("mem: out of memory");
	memcpy(fl->pat, pattern, (size_t)period * SIM_PAGE_SIZE);
	fill_allocated(m, fl);
	/* cached stand-ins of never-written frames may now read differently */
	for (unsigned c = 0; c < FC_SIZE; c++)
		if (m->fc_shared[c])
			m->fc.fn[c] = 0;
}

void *sim_mem_frame(struct sim_mem *m, uint64_t pa, bool alloc)
{
	if (pa >= m->size)
		return NULL;
	return frame(m, pa >> SIM_PAGE_SHIFT, alloc);
}

void sim_mem_peek(struct sim_mem *m, uint64_t pa, void *dst, size_t len)
{
	uint8_t *d = dst;

	check_range(pa, len);
	while (len) {
		size_t off = pa & (SIM_PAGE_SIZE - 1), n = SIM_PAGE_SIZE - off;
		const uint8_t *f = frame_rd(m, pa >> SIM_PAGE_SHIFT);
		if (n > len)
			n = len;
		memcpy(d, f + off, n);
		d += n;
		pa += n;
		len -= n;
	}
}

void sim_mem_poke(struct sim_mem *m, uint64_t pa, const void *src, size_t len)
{
	const uint8_t *s = src;

	check_range(pa, len);
	while (len) {
		size_t off = pa & (SIM_PAGE_SIZE - 1), n = SIM_PAGE_SIZE - off;
		uint8_t *f = frame(m, pa >> SIM_PAGE_SHIFT, true);
		if (n > len)
			n = len;
		memcpy(f + off, s, n);
		s += n;
		pa += n;
		len -= n;
	}
}

uint64_t sim_mem_peek64(struct sim_mem *m, uint64_t pa)
{
	uint64_t v;

	if ((pa & (SIM_PAGE_SIZE - 1)) <= SIM_PAGE_SIZE - 8 && pa < SIM_PA_LIMIT) {
		const uint8_t *f = frame_rd(m, pa >> SIM_PAGE_SHIFT);
		memcpy(&v, f + (pa & (SIM_PAGE_SIZE - 1)), 8);
		return v;
	}
	sim_mem_peek(m, pa, &v, 8);
	return v;
}

void sim_mem_poke64(struct sim_mem *m, uint64_t pa, uint64_t val)
{
	if ((pa & (SIM_PAGE_SIZE - 1)) <= SIM_PAGE_SIZE - 8 && pa < SIM_PA_LIMIT) {
		uint8_t *f = frame(m, pa >> SIM_PAGE_SHIFT, true);
		memcpy(f + (pa & (SIM_PAGE_SIZE - 1)), &val, 8);
		return;
	}
	sim_mem_poke(m, pa, &val, 8);
}

uint32_t sim_mem_read(struct sim_mem *m, int agent, enum sim_mem_src src, uint64_t pa,
		      void *dst, uint32_t len)
{
	/* Fast path: within one frame (every RMP entry, PTE, aligned load). */
	if (pa < SIM_PA_LIMIT && (pa & (SIM_PAGE_SIZE - 1)) + len <= SIM_PAGE_SIZE) {
		const uint8_t *p = frame_rd(m, pa >> SIM_PAGE_SHIFT) + (pa & (SIM_PAGE_SIZE - 1));

		if (len == 16)          /* an RMP entry: constant-size copy, no libc call */
			memcpy(dst, p, 16);
		else
			memcpy(dst, p, len);
	} else
		sim_mem_peek(m, pa, dst, len);
	return m->timing.access(m->timing.arg, agent, src, pa, len, false);
}

uint32_t sim_mem_write(struct sim_mem *m, int agent, enum sim_mem_src src, uint64_t pa,
		       const void *src_buf, uint32_t len)
{
	sim_mem_poke(m, pa, src_buf, len);
	return m->timing.access(m->timing.arg, agent, src, pa, len, true);
}

/* sim_mem_load64 (sim.h) when the frame is not cached or the timing is not flat. */
uint64_t sim_mem_load64_slow(struct sim_mem *m, int agent, enum sim_mem_src src, uint64_t pa,
			     uint64_t *cycles)
{
	uint64_t v = sim_mem_peek64(m, pa);

	*cycles += m->timing.access(m->timing.arg, agent, src, pa, 8, false);
	return v;
}

uint32_t sim_mem_read64(struct sim_mem *m, int agent, enum sim_mem_src src, uint64_t pa,
			uint64_t *out)
{
	uint64_t cycles = 0;

	*out = sim_mem_load64(m, agent, src, pa, &cycles);
	return (uint32_t)cycles;
}

uint32_t sim_mem_write64(struct sim_mem *m, int agent, enum sim_mem_src src, uint64_t pa,
			 uint64_t val)
{
	sim_mem_poke64(m, pa, val);
	return m->timing.access(m->timing.arg, agent, src, pa, 8, true);
}
