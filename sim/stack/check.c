/*
 * check.c - the stack's invariant checker (docs/stack.md "Invariants").
 * With stack.check=1 (on in the stack's tests) it runs after every
 * operation of the KVM and guest modules; a violation stops the run with
 * a message naming the operation and the broken rule.
 *
 * What it verifies, for every VM of the registry:
 *   tables      no page of a nested table is assigned in the RMP (a host
 *               write into it would land on an assigned page);
 *   mappings    (KVM SNP VMs, guest_memfd backing) every valid nested
 *               leaf of a private GFN maps a page assigned to the VM's
 *               ASID at that GFN, and the leaf is no larger than the RMP
 *               entry; a leaf of a shared GFN maps a page the RMP leaves
 *               to the hypervisor;
 *   backing     no page of the VMM's backing or of a guest_memfd file that
 *               the RMP leaves to the hypervisor is Validated (a page that
 *               left a guest never comes back validated);
 *   binding     a guest_memfd slot's file was created by this VM;
 *   ASIDs       no two VMs that are not mirrors hold one ASID, and every
 *               VM's ASID is in use in the ASID allocator;
 *   VMSAs       each vCPU's VMSA page is assigned to the VM's ASID,
 *               validated and VMSA (unless a host RMP-fault strategy
 *               revoked it, host.c), and never unassigned while a CPU
 *               runs on it (a VMSA converts only after its vCPU exited);
 *   host stores no host store (host write, host.c) landed on an assigned
 *               page;  VMs a `host kexec` dropped are not checked;
 *   allocator   no page a VM's tables use is free or leaked in the host
 *               page allocator.
 */
#include "sim/stack/stack_int.h"
#include "sim/stack/host.h"   /* host strategies: revoked VMSAs, VMs dropped by kexec */
#include "sim/stack/pkvm_host.h"   /* pKVM hook */

#include <stdarg.h>
#include <stdio.h>

struct chk {
	struct stack *st;
	struct stack_vm *v;
	char *msg;
	size_t len;
	bool bad;
};

static bool fail(struct chk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct chk *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (k->bad)
		return false;
	n = snprintf(k->msg, k->len, "%s: ", k->v ? k->v->prefix : "stack");
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < k->len)
		vsnprintf(k->msg + n, k->len - (size_t)n, fmt, ap);
	va_end(ap);
	k->bad = true;
	return false;
}

static bool rmp_on(const struct stack *st)
{
	return st->rmp && rmp_enabled(st->rmp);
}

/* A page the host writes: not assigned, and held by the allocator when it is one of its pages. */
static void check_table_page(struct chk *k, uint64_t pa)
{
	struct rmp_entry e;
	enum stack_page_state ps = stack_palloc_state(k->st->pool, pa);

	if (rmp_on(k->st) && rmp_entry_effective(k->st->rmp, pa, &e) && e.assigned)
		fail(k, "nested-table page 0x%llx is assigned in the RMP (asid %u)",
		     (unsigned long long)pa, e.asid);
	else if (ps == STACK_PAGE_FREE || ps == STACK_PAGE_LEAKED)
		fail(k, "nested-table page 0x%llx is %s in the host page allocator",
		     (unsigned long long)pa, stack_page_state_name(ps));
}

static int visit_table(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct chk *k = ctx->arg;
	struct s2_pte pte;

	(void)when;
	s2_pgt_fmt(ctx->pgt)->decode(ctx->old, ctx->sz, &pte);
	if (pte.type == S2_PTE_TABLE)
		check_table_page(k, pte.addr);
	return k->bad ? 1 : 0;
}

/* One valid leaf of a KVM SNP VM with guest_memfd backing. */
static void check_leaf(struct chk *k, uint64_t gpa, uint64_t spa, uint64_t size)
{
	struct stack_vm *v = k->v;

	for (uint64_t o = 0; o < size && !k->bad; o += SIM_PAGE_SIZE) {
		bool priv = stack_kvm_get_memory_attributes(v, (gpa + o) >> 12) != 0;
		struct rmp_entry e;

		if (!rmp_entry_effective(k->st->rmp, spa + o, &e))
			continue;
		if (priv && (!e.assigned || e.asid != v->asid || e.gpa != gpa + o))
			fail(k, "private gpa 0x%llx is mapped to 0x%llx, whose RMP entry is %s "
			     "(asid %u, gpa 0x%llx)", (unsigned long long)(gpa + o),
			     (unsigned long long)(spa + o), e.assigned ? "another's" : "not assigned",
			     e.asid, (unsigned long long)e.gpa);
		else if (priv && size > SIM_PAGE_SIZE && !e.page_2m)
			fail(k, "gpa 0x%llx: a %llu-byte nested leaf onto a 4K RMP entry",
			     (unsigned long long)gpa, (unsigned long long)size);
		else if (!priv && e.assigned)
			fail(k, "shared gpa 0x%llx is mapped to 0x%llx, which is assigned (asid %u)",
			     (unsigned long long)(gpa + o), (unsigned long long)(spa + o), e.asid);
	}
}

static int visit_leaf(struct s2_visit_ctx *ctx, enum s2_walk_flags when)
{
	struct chk *k = ctx->arg;
	struct s2_pte pte;

	(void)when;
	s2_pgt_fmt(ctx->pgt)->decode(ctx->old, ctx->sz, &pte);
	if (pte.type == S2_PTE_LEAF)
		check_leaf(k, ctx->addr, pte.addr, s2_sz_bytes(ctx->sz));
	return k->bad ? 1 : 0;
}

/* A page the RMP leaves to the hypervisor is never Validated. */
static void check_hv_page(struct chk *k, uint64_t spa, const char *what)
{
	struct rmp_entry e;

	if (rmp_entry_effective(k->st->rmp, spa, &e) && !e.assigned && e.validated)
		fail(k, "%s page 0x%llx is hypervisor-owned but Validated", what,
		     (unsigned long long)spa);
}

static void check_kvm(struct chk *k)
{
	struct stack_vm *v = k->v;
	const struct stack_kvm_mem *km = v->kvm;

	for (size_t i = 0; i < km->nslots && !k->bad; i++) {
		const struct stack_kvm_slot *sl = &km->slots[i];

		if (sl->gmem && stack_gmem_vm(sl->gmem) != v)
			fail(k, "memslot %u is bound to a guest_memfd of another VM", sl->id);
		for (size_t j = 0; rmp_on(k->st) && j < sl->npieces && !k->bad; j++)
			for (uint64_t p = 0; p < (sl->pieces[j].huge ? 512u : 1u) && !k->bad; p++)
				check_hv_page(k, sl->pieces[j].spa + (p << 12), "VMM backing");
		for (uint64_t p = 0; sl->gmem && rmp_on(k->st) && p < sl->npages && !k->bad; p++) {
			uint64_t spa;
			bool big, prepared;

			if (!stack_gmem_page(sl->gmem, sl->gmem_offset + (p << 12), &spa, &big,
					     &prepared))
				check_hv_page(k, spa, "guest_memfd");
		}
	}
	for (unsigned c = 0; v->run && c < STACK_KVM_MAX_VCPUS && !k->bad; c++) {
		/* KVM's own VMSA page while the vCPU uses it (a VMSA an AP creation gave is the guest's) */
		uint64_t spa = v->run->vcpu[c].vmsa_spa == v->run->vcpu[c].kvm_vmsa_spa ?
			       v->run->vcpu[c].vmsa_spa : 0;
		struct rmp_entry e;

		uint64_t run_spa = v->run->vcpu[c].vmsa_spa;

		/* host.c: a VMSA converts only after its vCPU left guest mode */
		if (run_spa && rmp_entry_effective(k->st->rmp, run_spa, &e) && !e.assigned &&
		    rmp_in_use(k->st->rmp, run_spa) >= 0)
			fail(k, "vcpu%u's VMSA page 0x%llx was converted while its vCPU runs on it",
			     c, (unsigned long long)run_spa);
		else if (spa && !v->run->vcpu[c].vmsa_revoked &&
			 rmp_entry_effective(k->st->rmp, spa, &e) &&
			 (!e.assigned || e.asid != v->asid || !e.vmsa || !e.validated))
			fail(k, "vcpu%u's VMSA page 0x%llx is not an assigned, validated VMSA page",
			     c, (unsigned long long)spa);
	}
	if (!k->bad && v->run) {   /* heki.h: pins, filters, views; no leaf beyond its view */
		char m[200];

		if (stack_heki_check(v, m, sizeof(m)))
			fail(k, "%s", m);
	}
	if (!k->bad && v->asid && rmp_on(k->st) && k->st->snp_backing == STACK_SNP_BACKING_GMEM) {
		const struct s2_walker w = { visit_leaf, k, S2_WALK_LEAF };

		(void)s2_walk(v->s2, NULL, 0, s2_pgt_ia_limit(v->s2), &w);
	}
}

int stack_check(struct stack *st, char *msg, size_t len)
{
	struct chk k = { .st = st, .msg = msg, .len = len };

	for (unsigned i = 0; i < S2_MAX_VMS && !k.bad; i++) {
		struct stack_vm *v = st->vm[i];

		if (!v)
			continue;
		k.v = v;
		check_table_page(&k, s2_pgt_root(v->s2));
		if (!k.bad) {
			const struct s2_walker w = { visit_table, &k, S2_WALK_TABLE_PRE };

			(void)s2_walk(v->s2, NULL, 0, s2_pgt_ia_limit(v->s2), &w);
		}
		if (v->asid && !k.bad) {
			bool owner;

			if (stack_asid_state(st->asids, v->asid, &owner, NULL) == STACK_ASID_FREE)
				fail(&k, "its ASID %u is free in the ASID allocator", v->asid);
			for (unsigned j = 0; j < S2_MAX_VMS && !k.bad; j++)
				if (j != i && st->vm[j] && st->vm[j]->asid == v->asid && !v->mirror &&
				    !st->vm[j]->mirror)
					fail(&k, "ASID %u is also VM %u's", v->asid, j);
		}
		if (v->kvm && !k.bad && !host_vm_gone(host_get(st->s), v))   /* host.c: kexec dropped it */
			check_kvm(&k);
	}
	/* host.c: no host store ever landed on an assigned page */
	if (!k.bad && host_get(st->s) && host_get(st->s)->violations) {
		k.v = NULL;
		fail(&k, "%llu host stores landed on assigned pages",
		     (unsigned long long)host_get(st->s)->violations);
	}
	/* pKVM hook: the hypervisor's ownership invariants (stack_pkvm_check) */
	if (!k.bad && stack_pkvm_machine_check(st->s, msg, len))
		return -1;
	return k.bad ? -1 : 0;
}

void stack_check_after(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	char msg[256];

	if (!st->check || !stack_check(st, msg, sizeof(msg)))
		return;
	/* the run stops at this line, naming it (exit 2) */
	sim_call_bad_arg(c, "stack.check", "invariant broken by this line: %s", msg);
}
