/*
 * vtl.c - design `vtl` (heki.h, docs/cr-protection.md): a VM with a more
 * privileged level in the guest, VTL1, as Hyper-V's Virtual Secure Mode
 * (TLFS "Virtual Secure Mode": VTL protections, secure intercepts,
 * HvCallVtlCall / HvCallVtlReturn) and the reply to Heki v1 proposed.
 *
 * VTL1 has its own vCPU context and its own stage-2 view of guest memory
 * (full access); VTL0's view is restricted by VTL1 (`vtl protect`), as
 * with EPTP switching (one EPT per level; the hypervisor switches EPTP on
 * a VTL switch).  The model keeps VTL0's restrictions as a list of
 * ranges that KVM checks before VTL0's stage-2 translation (the
 * permission bits of VTL0's EPT); VTL1's view is the VM's stage 2.  A VTL
 * switch (call or return) costs lat.stack.vtl_switch; VTL1's handling of
 * one intercept lat.stack.vtl_work.
 *
 * kexec from VTL0 goes through VTL1 (a VTL call, protsim's hypercall
 * STACK_HC_VTL_KEXEC): VTL1 hashes the new image with SHA-256 (nettle,
 * the library of the SNP launch digest) and compares it with its
 * allow-list (`vtl allow`); an accepted image makes VTL1 tear itself
 * down (intercepts and VTL0's restrictions go) before the jump.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <string.h>

int stack_vtl_enable(struct stack_vm *v)
{
	struct stack_heki *h = stack_heki_of(v, true);

	if (h->vtl.enabled)
		return -EEXIST;
	/* off => on: VTL1 exists; the vCPUs run VTL0 after VTL1 booted */
	memset(&h->vtl, 0, sizeof(h->vtl));
	h->vtl.enabled = true;
	h->vtl.level = 0;
	stack_heki_sync(v);
	return 0;
}

/* VTL1 goes: its intercepts, and VTL0's restricted leaves (zapped: they fault in with every permission). */
void stack_vtl_teardown(struct stack_vm *v)
{
	struct stack_heki *h = stack_heki_of(v, false);
	struct sim_who none = { .agent = -1 };

	if (!h || !h->vtl.enabled)
		return;
	for (unsigned i = 0; i < h->vtl.nranges; i++)
		(void)stack_kvm_zap(v, &none, h->vtl.range[i].gpa, h->vtl.range[i].size);
	memset(&h->vtl, 0, sizeof(h->vtl));
	stack_heki_sync(v);
	stack_kvm_cpu_tlbi(v, CPU_TLBI_ALL);
}

/* The VTL of @v, or NULL when it has none. */
static struct stack_vtl *vtl_of(struct stack_vm *v)
{
	struct stack_heki *h = stack_heki_of(v, false);

	return h && h->vtl.enabled ? &h->vtl : NULL;
}

int stack_vtl_intercept(struct stack_vm *v, unsigned cr, uint64_t mask)
{
	struct stack_vtl *t = vtl_of(v);

	if (!t)
		return -ENOENT;
	if (mask & ~(cr == 0 ? STACK_X86_CR0_VALID : STACK_X86_CR4_VALID))
		return -EINVAL;
	t->icpt[cr == 0 ? 0 : 1] = mask;
	stack_heki_sync(v);
	return 0;
}

/*
 * VTL1 restricts VTL0's view of [gpa, gpa + size) to @perms; a later
 * range over the same pages replaces their permissions (the last one
 * that covers a page wins).  -ENOSPC when the list is full.
 */
int stack_vtl_protect(struct stack_vm *v, uint64_t gpa, uint64_t size, unsigned perms)
{
	struct stack_vtl *t = vtl_of(v);
	struct sim_who none = { .agent = -1 };

	if (!t)
		return -ENOENT;
	if (t->nranges == STACK_VTL_MAX_RANGES)
		return -ENOSPC;
	t->range[t->nranges].gpa = gpa;
	t->range[t->nranges].size = size;
	t->range[t->nranges].perms = perms;
	t->nranges++;
	/* VTL0's EPT leaves of the range go (kvm_zap_gfn_range); the next fault maps them restricted */
	if (stack_kvm_zap(v, &none, gpa, size))
		return -EFAULT;
	stack_kvm_cpu_tlbi(v, CPU_TLBI_ALL);
	return 0;
}

int stack_vtl_allow(struct stack_vm *v, const uint8_t sha[32])
{
	struct stack_vtl *t = vtl_of(v);

	if (!t)
		return -ENOENT;
	for (unsigned i = 0; i < t->nallow; i++)
		if (!memcmp(t->allow[i], sha, 32))
			return -EEXIST;
	if (t->nallow == STACK_VTL_MAX_HASHES)
		return -ENOSPC;
	memcpy(t->allow[t->nallow++], sha, 32);
	return 0;
}

/* The permissions VTL0's view gives @gpa (all without a VTL). */
static unsigned vtl_view(struct stack_vm *v, uint64_t gpa)
{
	struct stack_vtl *t = vtl_of(v);

	if (!t || t->level != 0)
		return S2_PERM_ALL;
	for (unsigned i = t->nranges; i-- > 0;)
		if (gpa - t->range[i].gpa < t->range[i].size)
			return t->range[i].perms;
	return S2_PERM_ALL;
}

/* The permissions Heki's ranges leave @gpa: every range over it takes its share away. */
static unsigned heki_view(struct stack_vm *v, uint64_t gpa)
{
	struct stack_heki *h = stack_heki_of(v, false);
	unsigned p = S2_PERM_ALL;

	for (unsigned i = 0; h && i < h->nmem; i++)
		if (gpa - h->mem[i].gpa < h->mem[i].size)
			p &= h->mem[i].perms;
	return p;
}

unsigned stack_vtl_perms(struct stack_vm *v, uint64_t gpa)
{
	return vtl_view(v, gpa) & heki_view(v, gpa);
}

bool stack_vtl_restricts(struct stack_vm *v, uint64_t gpa, uint64_t size)
{
	struct stack_vtl *t = vtl_of(v);
	struct stack_heki *h = stack_heki_of(v, false);

	for (unsigned i = 0; t && i < t->nranges; i++)
		if (t->range[i].gpa < gpa + size && gpa < t->range[i].gpa + t->range[i].size)
			return true;
	for (unsigned i = 0; h && i < h->nmem; i++)
		if (h->mem[i].gpa < gpa + size && gpa < h->mem[i].gpa + h->mem[i].size)
			return true;
	return false;
}

static unsigned need_of(unsigned acc, bool user)
{
	/* EPT with MBEC (reference §7.2): R reads, W writes, XS (supervisor) or XU (user) fetches */
	return acc == 0 ? S2_PERM_R : acc == 1 ? S2_PERM_W : user ? S2_PERM_XU : S2_PERM_XS;
}

int stack_vtl_check(struct stack_vm *v, uint64_t gpa, unsigned acc, bool user)
{
	return (stack_vtl_perms(v, gpa) & need_of(acc, user)) ? 0 : -1;
}

int stack_vtl_deny(struct stack_vm *v, uint64_t gpa, unsigned acc, uint64_t *cycles)
{
	struct stack_heki *h = stack_heki_of(v, true);
	bool vtl = !(vtl_view(v, gpa) & need_of(acc, false));
	unsigned what = vtl ? v->st->heki.mem_denial : v->st->heki.heki_mem_denial;

	h->ctr.mem_denials++;
	if (vtl) {
		h->ctr.vtl_calls++;
		h->ctr.vtl_denied++;
		*cycles += 2 * v->st->heki.vtl_switch + v->st->heki.vtl_work;
	}
	if (what == 1) {
		v->run->killed = true;   /* VTL1 (or KVM for Heki) stops the VM */
		return STACK_KVM_FATAL;
	}
	return STACK_KVM_GP;
}

void stack_vtl_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

/*
 * VTL0's VTL calls (hypercalls from VTL0 that switch to VTL1 and back):
 *   STACK_HC_VTL_CALL   a0 ignored: an empty call (the round trip)
 *   STACK_HC_VTL_PROTECT, _INTERCEPT, _LOCK: VTL0's boot hands VTL1 its
 *                       layout (`vtl protect`) and CR intercepts (`vtl
 *                       intercept`); after the lock: -EPERM
 *   STACK_HC_VTL_KEXEC  a0 = the new image's GPA, a1 = its size (at most
 *                       16 MiB): 0 (VTL1 accepted it and tore itself
 *                       down), -EPERM (hash not allowed), -EINVAL (no
 *                       guest memory there), -ENOENT (no VTL)
 */
int stack_vtl_hypercall(struct stack_vm *v, unsigned vcpu, const uint64_t args[5],
			uint64_t *cycles)
{
	struct stack_vtl *t = vtl_of(v);
	struct stack_heki *h = stack_heki_of(v, true);
	struct stack_kvm_vcpu *vc = &v->run->vcpu[vcpu];
	uint64_t gpa = args[1], size = args[2];
	uint8_t sha[32];
	bool ok = false;

	if (!t) {
		vc->resp = (uint64_t)-ENOENT;
		return STACK_KVM_DONE;
	}
	h->ctr.vtl_calls++;
	*cycles += 2 * v->st->heki.vtl_switch;   /* VTL0 -> VTL1, and the return */
	if (args[0] == STACK_HC_VTL_CALL) {
		vc->resp = 0;
		return STACK_KVM_DONE;
	}
	*cycles += v->st->heki.vtl_work;
	if (args[0] != STACK_HC_VTL_KEXEC) {
		int rc;

		/* VTL0's boot hands VTL1 its layout and intercepts, until it locks */
		if (t->locked) {
			h->ctr.vtl_denied++;
			vc->resp = (uint64_t)-EPERM;
			return STACK_KVM_DONE;
		}
		if (args[0] == STACK_HC_VTL_LOCK) {
			t->locked = true;
			rc = 0;
		} else if (args[0] == STACK_HC_VTL_INTERCEPT) {
			rc = args[1] == 0 || args[1] == 4 ? stack_vtl_intercept(v, (unsigned)args[1], args[2])
							   : -EINVAL;
		} else {
			rc = (args[1] | args[2]) & 0xfff || !args[2] || args[1] + args[2] < args[1] ||
			     (args[3] & ~(uint64_t)S2_PERM_ALL) ||
			     ((args[3] & S2_PERM_W) && !(args[3] & S2_PERM_R))
				     ? -EINVAL
				     : stack_vtl_protect(v, args[1], args[2], (unsigned)args[3]);
		}
		vc->resp = (uint64_t)(int64_t)rc;
		return STACK_KVM_DONE;
	}
	if (!size || size > (16u << 20) || gpa + size < gpa) {
		vc->resp = (uint64_t)-EINVAL;
		return STACK_KVM_DONE;
	}
	/* VTL1 reads the image through its own (full) view of guest memory */
	{
		struct sha256_ctx c;
		uint8_t buf[4096];

		sha256_init(&c);
		for (uint64_t off = 0; off < size;) {
			uint64_t a = gpa + off, spa, n = 4096 - (a & 4095);

			if (n > size - off)
				n = size - off;
			if (!stack_vm_gpa_spa(v, a, &spa)) {
				vc->resp = (uint64_t)-EINVAL;
				return STACK_KVM_DONE;
			}
			sim_mem_peek(v->st->mem, spa, buf, n);
			sha256_update(&c, n, buf);
			off += n;
		}
		sha256_digest(&c, SHA256_DIGEST_SIZE, sha);
	}
	*cycles += (size * v->st->heki.sha_kbyte + 1023) / 1024;
	for (unsigned i = 0; i < t->nallow; i++)
		ok |= !memcmp(t->allow[i], sha, 32);
	if (!ok) {
		h->ctr.kexec_refused++;
		h->ctr.vtl_denied++;
		vc->resp = (uint64_t)-EPERM;
		return STACK_KVM_DONE;
	}
	/* on => off: VTL1 tears itself down before the jump (its intercepts, VTL0's restrictions) */
	h->ctr.kexec_ok++;
	stack_vtl_teardown(v);
	vc->resp = 0;
	return STACK_KVM_DONE;
}
