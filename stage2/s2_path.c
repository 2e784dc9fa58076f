/*
 * s2_path.c - the path of one input address through a table, read as a
 * debugger reads memory (untimed, no caches, no check hook): every
 * descriptor on the way and what a walk would conclude.  For dumps and
 * the `s2 walk` operation.
 */
#include "stage2/s2_int.h"

#include <string.h>

int s2_pgt_path(const struct s2_pgt *p, uint64_t ia, struct s2_path *out)
{
	const struct s2_fmt_ops *f = p->fmt;
	uint64_t idx, table;
	unsigned sz = s2_root_sz(p);

	memset(out, 0, sizeof(*out));
	if (!s2_ia_ok(p, ia, &idx)) {
		out->outcome = S2_PATH_TRANSLATION;
		out->level = f->arch_level(sz, p->levels);
		return out->outcome;
	}
	for (table = p->root;; sz--) {
		struct s2_pte pte;
		struct s2_path_step *st = &out->step[out->n++];

		st->level = f->arch_level(sz, p->levels);
		st->addr = table + 8ull * s2_index(idx, sz);
		st->desc = sim_mem_peek64(p->mem, st->addr);
		out->level = st->level;
		f->decode(st->desc, sz, &pte);
		if (pte.type == S2_PTE_TABLE && out->n < S2_PATH_MAX) {
			table = pte.addr;
			continue;
		}
		if (pte.type != S2_PTE_LEAF || !(f->leaf_szs & (1u << sz))) {
			out->outcome = S2_PATH_TRANSLATION;
			out->owner = pte.type == S2_PTE_INVALID ? pte.owner : 0;
			return out->outcome;
		}
		if (f->af_faults && !pte.accessed) {
			out->outcome = S2_PATH_ACCESS;
			return out->outcome;
		}
		out->outcome = S2_PATH_OK;
		out->size = s2_sz_bytes(sz);
		out->pa = pte.addr | (idx & (out->size - 1));
		out->perms = pte.prot.perms;
		out->sw = pte.prot.sw;
		return out->outcome;
	}
}
