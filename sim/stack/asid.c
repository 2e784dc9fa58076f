/*
 * asid.c - the SNP ASIDs of the machine and the mirrors that share them,
 * as KVM keeps them (arch/x86/kvm/svm/sev.c: sev_asid_new(),
 * sev_asid_free(), __sev_recycle_asids(), sev_vm_copy_enc_context_from()).
 * Reference: docs/stack.md, "ASIDs and mirrors".
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/* One ASID: who holds it. */
struct asid_slot {
	enum stack_asid_state state;
	bool owner;               /* the VM that took it still holds it */
	unsigned mirrors;         /* mirrors holding it */
};

struct stack_asids {
	uint32_t max;
	bool snp_mirror;          /* snp.mirror: a mirror of an SNP source is allowed */
	bool recycle_flush;       /* snp.asid_recycle=flush */
	struct asid_slot *slot;   /* [0..max]; slot 0 unused (ASID 0 is the host) */
	struct stack_asid_stats st;
};

const char *const stack_asid_state_names[] = { "free", "used", "reclaim" };

struct stack_asids *stack_asids_new(uint32_t max, bool snp_mirror, bool recycle_flush)
{
	struct stack_asids *a;

	if (max < 1 || max >= (1u << RMP_ASID_BITS))
		sim_fatal("stack: %u ASIDs: must be 1..%u", max, (1u << RMP_ASID_BITS) - 1);
	a = sim_xcalloc(1, sizeof(*a));
	a->max = max;
	a->snp_mirror = snp_mirror;
	a->recycle_flush = recycle_flush;
	a->slot = sim_xcalloc(max + 1, sizeof(*a->slot));
	return a;
}

void stack_asids_free(struct stack_asids *a)
{
	if (!a)
		return;
	free(a->slot);
	free(a);
}

/*
 * __sev_recycle_asids(): DF_FLUSH, then every ASID waiting for it is free.
 * Return: true if any was.
 */
static bool recycle(struct stack_asids *a)
{
	bool any = false;

	for (uint32_t i = 1; i <= a->max; i++)
		if (a->slot[i].state == STACK_ASID_RECLAIM) {
			a->slot[i].state = STACK_ASID_FREE;
			any = true;
		}
	a->st.flushes += any;
	return any;
}

static uint32_t lowest_free(const struct stack_asids *a)
{
	for (uint32_t i = 1; i <= a->max; i++)
		if (a->slot[i].state == STACK_ASID_FREE)
			return i;
	return 0;
}

int stack_asid_new(struct stack_asids *a, uint32_t want, uint32_t *asid)
{
	uint32_t n;

	if (want > a->max) {
		a->st.invalid++;
		return -EINVAL;
	}
	if (want) {
		/* [model] a named ASID waiting for a flush is busy until the flush */
		n = a->slot[want].state == STACK_ASID_FREE ? want : 0;
	} else {
		n = lowest_free(a);
		if (!n && recycle(a))   /* sev_asid_new(): retry once after a recycle */
			n = lowest_free(a);
	}
	if (!n) {
		a->st.busy++;
		return -EBUSY;
	}
	a->slot[n] = (struct asid_slot){ .state = STACK_ASID_USED, .owner = true };
	a->st.allocs++;
	a->st.in_use++;
	*asid = n;
	return 0;
}

int stack_asid_mirror(struct stack_asids *a, uint32_t src, bool src_is_mirror)
{
	/*
	 * sev_vm_copy_enc_context_from(): the source must be an SEV guest and
	 * not a mirror; an SNP source is refused ("additional support is
	 * required for SNP") unless snp.mirror models that support.
	 */
	if (src < 1 || src > a->max || !a->slot[src].owner || src_is_mirror || !a->snp_mirror) {
		a->st.mirror_refused++;
		return -EINVAL;
	}
	a->slot[src].mirrors++;
	a->st.mirrors++;
	return 0;
}

void stack_asid_put(struct stack_asids *a, uint32_t asid, bool mirror)
{
	struct asid_slot *sl = asid >= 1 && asid <= a->max ? &a->slot[asid] : NULL;

	if (!sl || sl->state != STACK_ASID_USED || (mirror ? !sl->mirrors : !sl->owner))
		sim_fatal("stack: ASID %u: %s reference dropped but not held", asid,
			  mirror ? "a mirror's" : "the owner's");
	if (mirror)
		sl->mirrors--;
	else
		sl->owner = false;
	if (sl->owner || sl->mirrors)
		return;
	/* sev_asid_free(): the last user is gone */
	sl->state = a->recycle_flush ? STACK_ASID_RECLAIM : STACK_ASID_FREE;
	a->st.releases++;
	a->st.in_use--;
}

enum stack_asid_state stack_asid_state(const struct stack_asids *a, uint32_t asid, bool *owner,
				       unsigned *mirrors)
{
	const struct asid_slot *sl = asid >= 1 && asid <= a->max ? &a->slot[asid] : NULL;

	if (owner)
		*owner = sl && sl->owner;
	if (mirrors)
		*mirrors = sl ? sl->mirrors : 0;
	return sl ? sl->state : STACK_ASID_FREE;
}

uint32_t stack_asids_max(const struct stack_asids *a)
{
	return a->max;
}

const struct stack_asid_stats *stack_asid_stats(const struct stack_asids *a)
{
	return &a->st;
}

struct sim_stat_group *stack_asids_register_stats(struct stack_asids *a, struct sim *s)
{
	static const struct sim_stat_desc d[] = {
#define F(f) offsetof(struct stack_asid_stats, f)
		{ "allocs", SIM_STAT_COUNTER, F(allocs), "SNP ASIDs handed to a VM" },
		{ "releases", SIM_STAT_COUNTER, F(releases), "ASIDs released: the VM and every mirror gone" },
		{ "busy", SIM_STAT_COUNTER, F(busy), "ASID requests refused with EBUSY (none free, or the one named in use)" },
		{ "invalid", SIM_STAT_COUNTER, F(invalid), "ASID requests refused with EINVAL (beyond snp.asids)" },
		{ "mirrors", SIM_STAT_COUNTER, F(mirrors), "mirror VMs that took a reference on a source's ASID" },
		{ "mirror_refused", SIM_STAT_COUNTER, F(mirror_refused), "mirror creations refused (EINVAL)" },
		{ "flushes", SIM_STAT_COUNTER, F(flushes), "DF_FLUSHes that recycled released ASIDs (snp.asid_recycle=flush)" },
		{ "in_use", SIM_STAT_COUNTER, F(in_use), "ASIDs held now (by a VM or a mirror)" },
		{ NULL, 0, 0, NULL },
#undef F
	};

	return sim_stat_group_add(s, "stack.asid", d, &a->st);
}
