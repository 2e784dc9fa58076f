/*
 * rmp_lock.c - RMP entry locks and in-use pages.
 *
 * Each RMP instruction holds its entry lock (a 2M instruction: the whole
 * 2M region) from its start cycle for its duration.  The hardware lock is
 * not software-visible; it shows up as FAIL_INUSE / FAIL_OVERLAP for other
 * instructions and as spurious RMP faults for accesses.  See 'RMP Entry
 * Locking' in docs/rmp.md.  Whether two operations conflict depends only
 * on their cycles and agent ids: the records live in an array in insertion
 * order and a query looks at all of them, unless rmp_lock_none() shows
 * that none can matter (all expired, or none in the region's bucket).
 *
 * In-use pages are the VMCB, VMSA and AVIC page of each agent between
 * VMRUN and #VMEXIT, kept per agent.
 */
#include "rmp/rmp_int.h"

#include <stdlib.h>
#include <string.h>

static bool lock_live(const struct rmp_lock *l, const struct sim_who *w)
{
	return l->agent != w->agent && l->start <= w->now && w->now < l->until;
}

enum rmp_lock_hit rmp_lock_conflict(const struct rmp *r, const struct sim_who *w,
				    uint64_t spa, bool is_2m)
{
	uint64_t page = RMP_PAGE(spa), rpage = RMP_PAGE(RMP_REGION(spa));
	bool same = false, other = false;

	if (rmp_lock_none(r, w, spa))
		return RMP_LOCK_NONE;
	for (size_t i = 0; i < r->nlocks; i++) {
		const struct rmp_lock *l = &r->locks[i];

		if (!lock_live(l, w))
			continue;
		if (is_2m) {
			if (l->is_2m && l->page == rpage)
				same = true;
			else if (!l->is_2m && RMP_PAGE(RMP_REGION(l->page << SIM_PAGE_SHIFT)) == rpage)
				other = true;
		} else {
			if (!l->is_2m && l->page == page)
				same = true;
			else if (l->is_2m && l->page == rpage)
				other = true;
		}
	}
	return same ? RMP_LOCK_SAME : other ? RMP_LOCK_OTHER : RMP_LOCK_NONE;
}

void rmp_lock_add(struct rmp *r, const struct sim_who *w, uint64_t spa, bool is_2m,
		  uint64_t hold)
{
	struct rmp_lock *l;
	size_t k = 0, i;

	/*
	 * Drop records that expired long before now.  The records are kept
	 * sorted by .until (lookups do not depend on their order), so those
	 * are a prefix, and the last record has the largest .until.
	 */
	while (k < r->nlocks && r->locks[k].until + RMP_LOCK_KEEP <= w->now)
		r->lock_bucket[rmp_lock_bucket(r->locks[k++].page)]--;
	if (k) {
		memmove(r->locks, r->locks + k, (r->nlocks - k) * sizeof(*r->locks));
		r->nlocks -= k;
	}
	r->lock_max_until = r->nlocks ? r->locks[r->nlocks - 1].until : 0;
	if (hold == 0)
		return;
	if (r->nlocks == r->caplocks) {
		r->caplocks = r->caplocks ? 2 * r->caplocks : 16;
		r->locks = realloc(r->locks, r->caplocks * sizeof(*r->locks));
		if (!r->locks)
			sim_fatal("rmp: out of memory");
	}
	/* insert in .until order (almost always at the end) */
	for (i = r->nlocks; i > 0 && r->locks[i - 1].until > w->now + hold; i--)
		r->locks[i] = r->locks[i - 1];
	r->nlocks++;
	l = &r->locks[i];
	l->page = RMP_PAGE(is_2m ? RMP_REGION(spa) : spa);
	l->start = w->now;
	l->until = w->now + hold;
	l->agent = w->agent;
	l->is_2m = is_2m;
	r->lock_bucket[rmp_lock_bucket(l->page)]++;
	if (l->until > r->lock_max_until)
		r->lock_max_until = l->until;
}

static bool page_match(uint64_t a, uint64_t spa, bool region)
{
	if (a == RMP_NO_ADDR)
		return false;
	if (region)
		return RMP_REGION(a) == RMP_REGION(spa);
	return RMP_PAGE(a) == RMP_PAGE(spa);
}

int rmp_inuse_find(const struct rmp *r, uint64_t spa, bool region)
{
	if (!r->nrunning)
		return -1;
	for (int i = 0; i < r->caprun; i++) {
		const struct rmp_running *x = &r->run[i];

		if (!x->active)
			continue;
		if (page_match(x->vmcb, spa, region) || page_match(x->vmsa, spa, region) ||
		    page_match(x->avic, spa, region))
			return i;
	}
	return -1;
}

int rmp_in_use(const struct rmp *rmp, uint64_t spa)
{
	if (!rmp_enabled(rmp))
		return -1;
	return rmp_inuse_find(rmp, spa, false);
}
