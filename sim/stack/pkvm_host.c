/*
 * pkvm_host.c - the pKVM host of a machine (`machine host=pkvm`): the
 * hypervisor model of pkvm_mem.c built over the machine's memory, with its
 * pool carved out of the host page allocator; the VMs of `vm create` as
 * the hypervisor's VMs (Linux arch/arm64/kvm/pkvm.c
 * __pkvm_create_hyp_vm: metadata pages donated at creation; teardown,
 * reclaim and finalize at destruction, pkvm_destroy_hyp_vm); the host
 * kernel's handling of a guest stage-2 fault (kvm_handle_guest_abort ->
 * pkvm_mem_abort: the memslot's page donated to a protected VM, shared
 * with a non-protected one, the memcache topped up first when short);
 * the guest's SMCCC calls (kvm_handle_pvm_hvc64) as a scripted guest
 * makes them (arch/arm64/mm/mem_encrypt.c's set_memory_decrypted /
 * encrypted for share/unshare, the balloon's relinquish); host accesses
 * through the host stage 2.  Reference: docs/pkvm.md, "The pKVM host".
 */
#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_host.h"
#include "iommu/iommu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const host_choices[] = { "kvm", "pkvm", NULL };

static const struct sim_cfg_key pkvm_keys[] = {
	{ "machine.host", SIM_CFG_ENUM, 0, 0, "kvm", host_choices,
	  "The host software: kvm (an x86-style KVM host with SNP), or pkvm (an arm64-style host "
	  "kernel deprivileged under pKVM at EL2, with a host stage 2; docs/pkvm.md)" },
	{ "pkvm.pool_size", SIM_CFG_SIZE, 2 << 20, 64 << 20, "2m", NULL,
	  "host=pkvm: bytes of the hypervisor's page pool (a multiple of 2m, taken from the host page "
	  "allocator at boot; the host stage-2 and hyp stage-1 table pages)" },
	{ "pkvm.guest_range", SIM_CFG_BOOL, 0, 1, "1", NULL,
	  "host=pkvm: HYP_MEMINFO reports HAS_RANGE (MEM_SHARE/MEM_UNSHARE take a granule count, "
	  "at most 512 a call); 0: one page a call" },
	{ "pkvm.meta_pages", SIM_CFG_U64, 2, 512, "16", NULL,
	  "host=pkvm: host pages donated to the hypervisor for each VM at creation (VM struct, "
	  "stage-2 root, the rest its memcache); as many again each time the memcache runs short" },
	{ "pkvm.firmware", SIM_CFG_STR, 0, 0, "", NULL,
	  "host=pkvm: the protected-VM firmware (an RV64 ELF, e.g. build/guest/pvmfw.elf from `make "
	  "guest`) that `vm cap cap=protected_vm` copies into the VM's firmware memslot; a relative "
	  "path set in a file is taken beside that file; empty: none (the capability then refuses "
	  "to enable, -EINVAL)" },
	{ "lat.pkvm.hvc", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "pKVM: a host hypercall (HVC, dispatch, component locks, return), cycles" },
	{ "lat.pkvm.guest_hvc", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "pKVM: a guest hypercall handled at EL2, cycles" },
	{ "lat.pkvm.abort", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "pKVM: a host stage-2 abort taken to EL2 and returned from, cycles" },
	{ "lat.pkvm.inject", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "pKVM: injecting an abort into the host (ESR/FAR/ELR/SPSR, the vector), cycles" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

/* A run of @pages host pages donated to the hypervisor for a VM. */
struct meta_run {
	uint64_t pa;
	bool big;                        /* a 2M block of the allocator (else 4K pages, one each) */
	unsigned pages;
};

/* What the host kernel keeps of one VM (struct kvm's arch.pkvm). */
struct pvm {
	bool used;
	bool protected_vm;
	uint32_t handle;
	struct meta_run *meta;           /* the metadata it donated, to free after finalize */
	size_t nmeta, capmeta;
	/* KVM_CAP_ARM_PROTECTED_VM */
	bool cap_enabled;
	uint32_t fw_slot;
	uint64_t fw_base, fw_end;        /* the slot's IPA range */
	int primary;                     /* the first vCPU to run, -1: none yet */
	uint64_t psci_on;                /* secondaries started by PSCI CPU_ON (bit per vCPU) */
	uint64_t psci_ctx[STACK_KVM_MAX_VCPUS];   /* ... their context argument */
	uint64_t entered;                /* vCPUs whose hart got its entry registers (bit each) */
};

struct stack_pkvm_host {
	struct sim *s;
	struct stack *st;
	struct stack_pkvm *pk;
	uint64_t pool_base, pool_size;
	unsigned meta_pages;
	struct pvm vm[S2_MAX_VMS];
	uint8_t *fw;                     /* the firmware image (pkvm.firmware), flat from its base */
	uint64_t fw_size;                /* its size, 4K multiple (0: no firmware) */
	uint64_t fw_link;                /* the address it is linked at (its lowest, 4K aligned) */
	uint64_t fw_entry;               /* its entry, tohost and fromhost words (absolute, at */
	uint64_t fw_tohost, fw_fromhost; /*   the link address; 0: none) */
	/* the host's DMA domain: the IOMMU's identity table the hypervisor keeps */
	struct iommu *io;
	struct s2_pgt *dma;
};

struct stack_pkvm_host *stack_pkvm_host_of(const struct sim *s)
{
	return s ? sim_get_model(s, &stack_pkvm_module) : NULL;
}

struct stack_pkvm *stack_pkvm_host_model(struct stack_pkvm_host *ph)
{
	return ph->pk;
}

static struct stack_pkvm_host *ph_of_vm(const struct stack_vm *v)
{
	return v ? stack_pkvm_host_of(v->st->s) : NULL;
}

static struct pvm *pvm_of(const struct stack_vm *v)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);

	return ph && ph->vm[v->id].used ? &ph->vm[v->id] : NULL;
}

bool stack_pkvm_is_vm(const struct stack_vm *v)
{
	return pvm_of(v) != NULL;
}

uint32_t stack_pkvm_vm_handle(const struct stack_vm *v)
{
	struct pvm *p = pvm_of(v);

	return p ? p->handle : 0;
}

/* ------------------------------------------------------------------ */
/* Metadata: runs of host pages from the allocator                     */
/* ------------------------------------------------------------------ */

/*
 * @n contiguous host pages (n <= 512): a 2M block when n is large, else
 * 4K pages one after the other, which the allocator hands out in order
 * from a block it has split; a run that comes out broken is given back and
 * a 2M block taken instead.  0 or -ENOMEM.
 */
static int meta_get(struct stack_pkvm_host *ph, unsigned n, struct meta_run *r)
{
	struct stack_palloc *pool = ph->st->pool;
	uint64_t got[512];
	unsigned k = 0;

	r->pages = n;
	r->big = false;
	if (n < 64) {
		for (; k < n; k++) {
			if (stack_palloc_get(pool, false, &got[k]))
				break;
			if (k && got[k] != got[k - 1] + SIM_PAGE_SIZE) {
				k++;   /* taken, but not next to the others: given back below */
				break;
			}
		}
		if (k == n) {
			r->pa = got[0];
			return 0;
		}
		while (k)
			stack_palloc_put(pool, got[--k], false);
	}
	if (stack_palloc_get(pool, true, &r->pa))
		return -ENOMEM;
	r->big = true;
	return 0;
}

static void meta_put(struct stack_pkvm_host *ph, const struct meta_run *r)
{
	if (r->big) {
		stack_palloc_put(ph->st->pool, r->pa, true);
		return;
	}
	for (unsigned i = 0; i < r->pages; i++)
		stack_palloc_put(ph->st->pool, r->pa + (uint64_t)i * SIM_PAGE_SIZE, false);
}

static void meta_push(struct pvm *p, const struct meta_run *r)
{
	if (p->nmeta == p->capmeta) {
		p->capmeta = p->capmeta ? 2 * p->capmeta : 4;
		p->meta = sim_xrealloc(p->meta, p->capmeta * sizeof(*p->meta));
	}
	p->meta[p->nmeta++] = *r;
}

/* ------------------------------------------------------------------ */
/* VMs                                                                 */
/* ------------------------------------------------------------------ */

int stack_pkvm_vm_created(struct stack_vm *v, bool protected_vm, struct sim_who *who,
			  uint64_t *cycles)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p;
	struct meta_run r;
	int rc;

	if (!ph)
		return 0;
	p = &ph->vm[v->id];
	memset(p, 0, sizeof(*p));
	if (meta_get(ph, ph->meta_pages, &r))
		return -ENOMEM;
	/* __pkvm_init_vm: the VM struct, the stage-2 root, the rest the memcache */
	rc = stack_pkvm_vm_create(ph->pk, who, protected_vm, r.pa >> 12, ph->meta_pages,
				  &p->handle, cycles);
	if (rc) {
		meta_put(ph, &r);
		return rc;
	}
	p->used = true;
	p->protected_vm = protected_vm;
	p->primary = -1;
	meta_push(p, &r);
	return 0;
}

/*
 * pkvm_destroy_hyp_vm: __pkvm_teardown_vm, every page back with
 * __pkvm_host_reclaim_page (the guest's own poisoned, its shares ended),
 * __pkvm_finalize_teardown_vm (the metadata back to the host), then the
 * host frees the metadata pages.  A failure would leave pages with the
 * hypervisor: they are leaked (never given back to the allocator).
 */
void stack_pkvm_vm_gone(struct stack_vm *v, struct sim_who *who, uint64_t *cycles)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);
	int rc;

	if (!p)
		return;
	rc = stack_pkvm_vm_destroy(ph->pk, who, p->handle, cycles);
	for (size_t i = 0; !rc && i < p->nmeta; i++)
		meta_put(ph, &p->meta[i]);
	free(p->meta);
	memset(p, 0, sizeof(*p));
}

int stack_pkvm_memslot_check(const struct stack_vm *v)
{
	const struct pvm *p = pvm_of(v);

	return p && p->cap_enabled ? -EPERM : 0;
}

/* ------------------------------------------------------------------ */
/* The host kernel's side of a guest stage-2 fault                     */
/* ------------------------------------------------------------------ */

/*
 * pkvm_mem_abort: the page behind @gpa (the memslot's, allocated on first
 * use) goes to the VM: donated to a protected VM (__pkvm_host_donate_guest),
 * shared with a non-protected one (__pkvm_host_share_guest, RWX).  When
 * the VM's memcache is short (-ENOMEM) the host tops it up with another
 * run of pages (topup_hyp_memcache) and calls again.  -EFAULT: no memslot
 * covers @gpa (an MMIO exit to the VMM, outside this model).
 */
static int host_fault_in(struct stack_pkvm_host *ph, struct stack_vm *v, struct pvm *p,
			 struct sim_who *who, uint64_t gpa, uint64_t *cycles)
{
	uint64_t spa, c;
	int rc;

	*cycles += ph->st->lat.kvm_exit;
	if (stack_kvm_backing(v, gpa & ~(SIM_PAGE_SIZE - 1), true, &spa))
		return -EFAULT;
	for (int tries = 0; tries < 2; tries++) {
		struct meta_run r;

		c = 0;
		if (p->protected_vm)
			rc = stack_pkvm_host_donate_guest(ph->pk, who, spa >> 12, gpa >> 12, p->handle,
							  &c);
		else
			rc = stack_pkvm_host_share_guest(ph->pk, who, spa >> 12, gpa >> 12, 1, p->handle,
							 S2_PERM_ALL, &c);
		*cycles += c;
		if (rc != -ENOMEM)
			return rc;
		if (meta_get(ph, ph->meta_pages, &r))
			return -ENOMEM;
		c = 0;
		rc = stack_pkvm_vm_topup(ph->pk, who, p->handle, r.pa >> 12, r.pages, &c);
		*cycles += c;
		if (rc) {
			meta_put(ph, &r);
			return rc;
		}
		meta_push(p, &r);
	}
	return -ENOMEM;
}

int stack_pkvm_guest_call(struct stack_vm *v, struct sim_who *who, uint64_t regs[4],
			  struct stack_pkvm_gres *r, uint64_t *cycles)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);
	uint64_t in[4];

	if (!p)
		return -EINVAL;
	memcpy(in, regs, sizeof(in));
	/* the guest retries after the host has faulted the page in: a bounded loop */
	for (int tries = 0; tries < 8; tries++) {
		struct stack_pkvm_hvc_res res;
		int rc;

		memcpy(regs, in, sizeof(in));
		r->exits++;
		rc = stack_pkvm_guest_hvc(ph->pk, who, p->handle, regs, &res, cycles);
		if (rc)
			return rc;
		if (!res.exit_to_host) {
			r->r0 = regs[0];
			r->err = res.err;
			return 0;
		}
		r->host_exits++;
		if (!p->protected_vm || in[0] != STACK_PKVM_SMCCC_MEM_SHARE) {
			/* not pKVM's (a non-protected VM, an unknown call): KVM's SMCCC handler */
			*cycles += ph->st->lat.kvm_exit;
			regs[0] = r->r0 = STACK_PKVM_SMCCC_NOT_SUPPORTED;
			return 0;
		}
		/* MEM_SHARE's -EFAULT: the page is not mapped in the guest yet; the host faults it in */
		rc = host_fault_in(ph, v, p, who, res.fault_ipa, cycles);
		if (rc) {
			r->err = rc;
			regs[0] = r->r0 = STACK_PKVM_SMCCC_INVALID_PARAM;
			return 0;
		}
	}
	r->err = -ELOOP;
	return 0;
}

int stack_pkvm_guest_share(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
			   uint64_t size, bool share, struct stack_pkvm_gres *r, uint64_t *cycles)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);
	uint64_t granules = size >> 12;
	bool range;

	if (!p)
		return -EINVAL;
	/*
	 * A non-protected guest finds no MEM_SHARE service at boot
	 * (pkvm_init_hyp_services: HYP_MEMINFO not advertised) and registers
	 * no memory-encryption ops: its set_memory_decrypted does nothing.
	 */
	if (!p->protected_vm)
		return 0;
	/* the granule and HAS_RANGE, as HYP_MEMINFO told the guest at boot */
	range = stack_pkvm_cfg(ph->pk)->guest_range;
	while (granules) {
		uint64_t regs[4] = { share ? STACK_PKVM_SMCCC_MEM_SHARE : STACK_PKVM_SMCCC_MEM_UNSHARE,
				     gpa, 0, 0 };
		uint64_t n = range ? (granules < STACK_PKVM_RANGE_MAX ? granules
							: STACK_PKVM_RANGE_MAX) : 1;

		if (range)
			regs[2] = n;
		int rc = stack_pkvm_guest_call(v, who, regs, r, cycles);

		if (rc)
			return rc;
		if (r->r0 != STACK_PKVM_SMCCC_SUCCESS) {
			if (!r->err)
				r->err = -EINVAL;
			return 0;
		}
		n = range ? regs[1] : 1;
		if (!n || n > granules)
			sim_fatal("pkvm: MEM_%s returned %llu granules of %llu", share ? "SHARE" : "UNSHARE",
				  (unsigned long long)n, (unsigned long long)granules);
		r->done += n;
		granules -= n;
		gpa += n << 12;
	}
	return 0;
}

int stack_pkvm_guest_relinquish(struct stack_vm *v, struct sim_who *who, uint64_t gpa,
				struct stack_pkvm_gres *r, uint64_t *cycles)
{
	uint64_t regs[4] = { STACK_PKVM_SMCCC_MEM_RELINQUISH, gpa & ~(SIM_PAGE_SIZE - 1), 0, 0 };
	int rc = stack_pkvm_guest_call(v, who, regs, r, cycles);

	if (!rc && r->r0 == STACK_PKVM_SMCCC_SUCCESS)
		r->done = 1;
	else if (!rc && r->r0 == STACK_PKVM_SMCCC_NOT_SUPPORTED)
		r->err = -EOPNOTSUPP;   /* no such service (a non-protected VM) */
	else if (!rc && !r->err)
		r->err = -EINVAL;
	return rc;
}

int stack_pkvm_guest_touch(struct stack_vm *v, struct sim_who *who, uint64_t gpa, bool write,
			   struct stack_pkvm_gres *r, uint64_t *cycles)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);

	if (!p)
		return -EINVAL;
	for (int tries = 0; tries < 4; tries++) {
		uint64_t pa = 0;
		int rc = stack_pkvm_guest_access(ph->pk, who, p->handle, gpa, write, &pa, cycles);

		if (rc < 0)
			return rc;
		if (rc == 0) {
			r->pa = pa;
			return 0;
		}
		/* a stage-2 fault: a trap to EL2, handed to the host (kvm_handle_guest_abort) */
		r->exits++;
		r->host_exits++;
		if (rc != S2_FAULT_TRANSLATION) {
			r->err = -EFAULT;   /* a permission fault the host cannot fix: KVM_RUN -EFAULT */
			return 0;
		}
		rc = host_fault_in(ph, v, p, who, gpa, cycles);
		if (rc) {
			r->err = rc;
			return 0;
		}
	}
	r->err = -ELOOP;
	return 0;
}

/* ------------------------------------------------------------------ */
/* KVM_CAP_ARM_PROTECTED_VM (the RFC's arch/arm64/kvm/pkvm.c)          */
/* ------------------------------------------------------------------ */

uint64_t stack_pkvm_firmware_size(const struct stack_vm *v)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);

	return ph ? ph->fw_size : 0;
}

/*
 * pkvm_vm_ioctl_enable -> pkvm_init_firmware_slot, in the RFC's order:
 * protection already enabled: -EPERM; no firmware or a slot id beyond
 * KVM_MEM_SLOTS_NUM: -EINVAL; no such slot: -ENOENT; a slot with flags:
 * -EINVAL; smaller than the firmware: -ENOMEM.  protsim adds, before
 * those: a VM not created protected (type=pkvm): -EINVAL (protection is
 * the VM type here, as the reviewer proposed), and a vCPU has run
 * already: -EBUSY (the RFC says "before any vCPU has run" without the
 * errno: a choice, docs/pkvm.md).  Then the host copies the firmware
 * into the slot, one page at a time through its own stage 2 (a page the
 * guest already owns refuses the copy: -EFAULT), and the memslots freeze.
 */
int stack_pkvm_enable_protected(struct stack_vm *v, struct sim_who *who, uint64_t slot,
				uint64_t *cycles)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);
	const struct stack_kvm_slot *sl;

	if (!p || !p->protected_vm)
		return -EINVAL;
	if (p->cap_enabled)
		return -EPERM;
	for (unsigned k = 0; k < STACK_KVM_MAX_VCPUS; k++)
		if (v->run->vcpu[k].created && v->run->vcpu[k].ran)
			return -EBUSY;
	if (slot >= STACK_KVM_MEM_SLOTS_NUM || !ph->fw_size)
		return -EINVAL;
	sl = stack_kvm_id_to_slot(v, 0, (unsigned)slot);
	if (!sl)
		return -ENOENT;
	if (sl->flags)
		return -EINVAL;
	if ((sl->npages << 12) < ph->fw_size)
		return -ENOMEM;
	for (uint64_t off = 0; off < ph->fw_size; off += SIM_PAGE_SIZE) {
		struct stack_pkvm_acc_res res;
		uint64_t spa;
		int rc;

		if (stack_kvm_backing(v, (sl->base_gfn << 12) + off, true, &spa))
			return -ENOMEM;
		rc = stack_pkvm_host_access(ph->pk, who, spa, true, STACK_PKVM_BY_UACCESS, &res, cycles);
		if (rc)
			return rc;
		if (res.result != STACK_PKVM_ACC_OK)
			return -EFAULT;   /* copy_to_user's fix-up */
		sim_mem_poke(ph->st->mem, spa, ph->fw + off, SIM_PAGE_SIZE);
		*cycles += ph->st->lat.page_clear;   /* a page's copy: a page clear's traffic */
	}
	p->cap_enabled = true;
	p->fw_slot = (uint32_t)slot;
	p->fw_base = sl->base_gfn << 12;
	p->fw_end = (sl->base_gfn + sl->npages) << 12;
	/*
	 * The firmware is the program the primary runs (`vcpu run`) when the
	 * slot sits at the address the image is linked at (pvmfw.elf is not
	 * position-independent: 0x80000000).
	 */
	if (p->fw_base == ph->fw_link)
		stack_kvm_set_firmware(v, ph->fw_entry, p->fw_base, ph->fw_size, ph->fw_tohost != 0,
				       ph->fw_tohost, ph->fw_fromhost);
	return 0;
}

/*
 * KVM_RUN's checks on a pKVM VM, and the reset state of the primary
 * (the RFC's kvm_reset_vcpu for a protected VM): vCPU @k of @v is entered.
 * -ENOENT: no such vCPU; -EPERM: protection enabled, a primary exists, and
 * this secondary was neither created powered off nor started by CPU_ON;
 * -EINVAL: powered off.  The first vCPU to run a VM with protection
 * enabled is the primary: pc = the firmware slot's IPA base, sp = its IPA
 * end (the RV64 mapping of the arm64 table, docs/pkvm.md).
 */
int stack_pkvm_vcpu_enter(struct stack_vm *v, unsigned k)
{
	struct pvm *p = pvm_of(v);
	struct stack_kvm_vcpu *vc;

	if (!p || k >= STACK_KVM_MAX_VCPUS || !v->run->vcpu[k].created)
		return -ENOENT;
	vc = &v->run->vcpu[k];
	if (p->cap_enabled && p->primary >= 0 && (unsigned)p->primary != k &&
	    !vc->power_off && !(p->psci_on >> k & 1))
		return -EPERM;
	if (vc->power_off)
		return -EINVAL;
	if (p->cap_enabled && p->primary < 0) {
		p->primary = (int)k;
		vc->pc = p->fw_base;
		vc->sp = p->fw_end;
	}
	vc->ran = true;
	return 0;
}

/*
 * PSCI CPU_ON (SMC64 0xC4000003) from a vCPU of @v: @target (MPIDR: the
 * vCPU number) starts at @entry with @context in its first argument
 * register.  PSCI return values: SUCCESS 0, INVALID_PARAMETERS -2,
 * ALREADY_ON -4 (the PSCI specification, kvm_psci_vcpu_on).
 */
int64_t stack_pkvm_psci_cpu_on(struct stack_vm *v, uint64_t target, uint64_t entry,
			       uint64_t context)
{
	struct pvm *p = pvm_of(v);
	struct stack_kvm_vcpu *vc;

	if (!p || target >= STACK_KVM_MAX_VCPUS || !v->run->vcpu[target].created)
		return -2;
	vc = &v->run->vcpu[target];
	if (!vc->power_off)
		return -4;
	vc->power_off = false;
	vc->pc = entry;
	vc->sp = 0;
	p->psci_on |= 1ull << target;
	p->psci_ctx[target] = context;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Programs on pKVM VMs (kvm_vcpu.c's vcpu run)                        */
/* ------------------------------------------------------------------ */

void stack_pkvm_vcpu_platform(struct stack_vm *v, struct s2_pgt **npt, uint32_t *vmid)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);

	if (!p)
		return;
	*npt = stack_pkvm_vm_pgt(ph->pk, p->handle);
	*vmid = stack_pkvm_cfg(ph->pk)->guest_vmid_base + (p->handle - STACK_PKVM_HANDLE_BASE);
}

/*
 * The registers a vCPU's hart enters with, once: the primary of a VM with
 * protection enabled starts at the firmware slot's base with sp at its
 * end and t0 (the RV64 stand-in for X15) = boot protocol version 0, a0-a7
 * as the VMM left them; a secondary started by CPU_ON at its entry with
 * the context in a0 (PSCI).
 */
void stack_pkvm_vcpu_regs(struct stack_vm *v, unsigned idx, struct cpu_hart *h)
{
	struct pvm *p = pvm_of(v);

	if (!p || (p->entered >> idx & 1))
		return;
	p->entered |= 1ull << idx;
	if (p->cap_enabled && p->primary == (int)idx) {
		cpu_hart_set_pc(h, p->fw_base);
		cpu_hart_set_reg(h, 2, p->fw_end);
		cpu_hart_set_reg(h, 5, 0);
	} else if (p->psci_on >> idx & 1) {
		cpu_hart_set_pc(h, v->run->vcpu[idx].pc);
		cpu_hart_set_reg(h, 10, p->psci_ctx[idx]);
	}
}

bool stack_pkvm_vcpu_exit(struct stack_vm *v, unsigned idx, struct cpu_hart *h,
			  const struct cpu_exit *e, struct cpu_reply *r, const char **why)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct pvm *p = pvm_of(v);
	struct sim_agent *a;
	struct sim_who who;
	uint64_t cyc = 0;

	(void)idx;
	if (!p || (e->reason != CPU_EXIT_NPF && e->reason != CPU_EXIT_HYPERCALL))
		return false;
	a = cpu_hart_agent(h);
	who = (struct sim_who){ .now = sim_now(a), .agent = sim_agent_id(a) };
	*why = NULL;
	if (e->reason == CPU_EXIT_NPF) {
		/* kvm_handle_guest_abort: the host faults the page in; no memslot: MMIO, no device */
		int rc = host_fault_in(ph, v, p, &who, e->npf_gpa, &cyc);

		if (rc == -EFAULT) {
			r->action = CPU_REPLY_INJECT;
			r->inject_cause = (e->npf_info & RMP_NPF_W) ? CPU_CAUSE_STORE_ACCESS
					: CPU_CAUSE_LOAD_ACCESS;
			r->inject_tval = e->npf_gpa;
		} else if (rc) {
			v->run->killed = true;   /* KVM_RUN fails: the VMM gives up */
			*why = "killed";
		} else {
			r->action = CPU_REPLY_RETRY;
		}
	} else {
		/* an HVC: SMCCC function id in a0, arguments a1-a3, results a0-a3 */
		uint64_t regs[4] = { e->args[0], e->args[1], e->args[2], e->args[3] };
		struct stack_pkvm_gres g = { 0 };

		if (regs[0] == STACK_PKVM_PSCI_CPU_ON) {
			regs[0] = (uint64_t)stack_pkvm_psci_cpu_on(v, regs[1], regs[2], regs[3]);
			cyc += stack_pkvm_cfg(ph->pk)->guest_hvc_cycles;
		} else if (stack_pkvm_guest_call(v, &who, regs, &g, &cyc)) {
			regs[0] = STACK_PKVM_SMCCC_NOT_SUPPORTED;
		}
		r->action = CPU_REPLY_SKIP;
		r->ret = regs[0];
		r->nmore = 3;   /* R1-R3 too: the state VMRUN restores next (a1-a3) */
		for (unsigned i = 1; i < 4; i++)
			r->more[i - 1] = regs[i];
	}
	/* the hypervisor's TLBIs (charged in the call) reach the harts' cached translations */
	stack_kvm_cpu_tlbi(v, CPU_TLBI_ALL);
	sim_advance(a, cyc + who.mem_cycles);
	return true;
}

/* ------------------------------------------------------------------ */
/* Host accesses                                                       */
/* ------------------------------------------------------------------ */

int stack_pkvm_machine_access(struct sim *s, struct sim_who *who, uint64_t pa, bool write,
			      enum stack_pkvm_by by, struct stack_pkvm_acc_res *res,
			      uint64_t *cycles)
{
	struct stack_pkvm_host *ph = stack_pkvm_host_of(s);

	if (!ph)
		return -ENODEV;
	return stack_pkvm_host_access(ph->pk, who, pa, write, by, res, cycles);
}

int stack_pkvm_vmm_access(struct stack_vm *v, struct sim_agent *a, uint64_t spa, bool write)
{
	struct stack_pkvm_host *ph = ph_of_vm(v);
	struct sim_who who = { .now = a ? sim_now(a) : 0, .agent = a ? sim_agent_id(a) : -1 };
	struct stack_pkvm_acc_res res;
	uint64_t cyc = 0;
	int rc;

	if (!ph || !pvm_of(v))
		return 0;
	rc = stack_pkvm_host_access(ph->pk, &who, spa & ~(SIM_PAGE_SIZE - 1), write,
				    STACK_PKVM_BY_USER, &res, &cyc);
	if (a)
		sim_advance(a, cyc + who.mem_cycles);
	return rc || res.result != STACK_PKVM_ACC_OK ? -EFAULT : 0;
}

int stack_pkvm_machine_check(struct sim *s, char *msg, size_t len)
{
	struct stack_pkvm_host *ph = stack_pkvm_host_of(s);

	return ph ? stack_pkvm_check(ph->pk, msg, len) : 0;
}

/* ------------------------------------------------------------------ */
/* The host's DMA domain (kvm_iommu_host_stage2_idmap)                 */
/* ------------------------------------------------------------------ */

/*
 * The IOMMU's table for host-controlled devices: an arm64 stage-2
 * identity map of host memory that the hypervisor keeps equal to what the
 * host owns or shares.  Built at boot over all of memory (the largest
 * blocks), without the hyp pool; every page that leaves the host is
 * unmapped from it before the transition completes (a block split first),
 * every page that comes back is mapped again; after an unmap the IOTLB
 * entries of each device in the domain are invalidated by range.  Devices reach it with `iommu attach dev=N mode=stage2`
 * naming no VM of the machine (dma_table_of).  Its table pages come from
 * the host page allocator (see docs/pkvm.md "DMA").
 */
static uint64_t dma_page_alloc(void *arg, struct sim_who *who)
{
	struct stack_pkvm_host *ph = arg;
	uint64_t pa;

	(void)who;
	return stack_palloc_get(ph->st->pool, false, &pa) ? S2_NO_PAGE : pa;
}

static void dma_page_free(void *arg, uint64_t pa)
{
	struct stack_pkvm_host *ph = arg;

	stack_palloc_put(ph->st->pool, pa, false);
}

static const struct s2_mm_ops dma_mm = { .alloc_page = dma_page_alloc, .free_page = dma_page_free };

static void dma_unmap(void *arg, struct sim_who *who, uint64_t pa, uint64_t size, uint64_t *cycles)
{
	struct stack_pkvm_host *ph = arg;
	int rc = s2_unmap(ph->dma, who, pa, size);

	if (rc != S2_OK && rc != S2_ERR_NOENT)
		sim_fatal("pkvm: IOMMU unmap of 0x%llx+0x%llx: %s", (unsigned long long)pa,
			  (unsigned long long)size, s2_rc_name(rc));
	/* the IOTLB entries of every device in the domain (an invalidation by range each) */
	for (uint32_t dev = 0; dev < iommu_config(ph->io)->devices; dev++) {
		struct s2_pgt *t = NULL;
		enum iommu_mode mode;
		uint64_t c = 0;
		int vm;

		if (!iommu_dev_info(ph->io, dev, &mode, &vm, &t) || t != ph->dma)
			continue;
		(void)iommu_inval_range(ph->io, dev, pa, size, &c);   /* sets c */
		if (cycles)
			*cycles += c;
	}
}

static void dma_map(void *arg, struct sim_who *who, uint64_t pa, uint64_t size, uint64_t *cycles)
{
	struct stack_pkvm_host *ph = arg;
	const struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W };
	int rc;

	(void)cycles;
	for (uint64_t a = pa; a < pa + size; a += SIM_PAGE_SIZE) {
		rc = s2_map(ph->dma, who, a, a, SIM_PAGE_SIZE, SIM_PAGE_SIZE, &prot);
		if (rc != S2_OK && rc != S2_ERR_EXISTS)
			sim_fatal("pkvm: IOMMU map of 0x%llx: %s", (unsigned long long)a, s2_rc_name(rc));
	}
}

/* `iommu attach mode=stage2 vm=N`: VM N's table, or the host's DMA domain when N is no VM. */
static struct s2_pgt *dma_table_of(void *arg, unsigned id)
{
	struct stack_pkvm_host *ph = arg;
	struct stack_vm *v = stack_vm_find(ph->st, id);

	if (!v)
		return ph->dma;
	return stack_pkvm_is_vm(v) ? NULL : v->s2;   /* device assignment to pKVM VMs: not modelled */
}

static int dma_domain(struct stack_pkvm_host *ph, struct sim_who *who)
{
	const struct s2_prot prot = { .perms = S2_PERM_R | S2_PERM_W };
	const struct stack_pkvm_iommu_ops ops = { dma_unmap, dma_map, ph };
	uint64_t mem = stack_pkvm_cfg(ph->pk)->mem_size;
	int rc;

	ph->io = sim_get_model(ph->s, &iommu_module);
	if (!ph->io)
		return 0;
	ph->dma = s2_pgt_new(s2_fmt(S2_FMT_ARM64), 4, ph->st->mem, S2_NO_PAGE, &dma_mm, ph, who, &rc);
	if (!ph->dma)
		return -1;
	rc = s2_map(ph->dma, who, 0, 0, mem, 0, &prot);
	if (rc == S2_OK)
		rc = s2_unmap(ph->dma, who, ph->pool_base, ph->pool_size);
	if (rc != S2_OK)
		return -1;
	stack_pkvm_set_iommu_ops(ph->pk, &ops);
	iommu_set_vm_tables(ph->io, dma_table_of, ph);
	iommu_set_modes(ph->io, 1u << IOMMU_MODE_STAGE2);   /* the hypervisor owns the IOMMU */
	return 0;
}

/* ------------------------------------------------------------------ */
/* The module                                                          */
/* ------------------------------------------------------------------ */

/*
 * The firmware image: the ELF's loadable bytes laid out flat from its
 * lowest address, zero-filled, rounded up to 4K (what the RFC's host
 * keeps in the reserved-memory region linux,pkvm-guest-firmware-memory).
 */
static int load_firmware(struct stack_pkvm_host *ph, const char *path, struct sim_err *err)
{
	struct cpu_elf *e;
	uint64_t lo = UINT64_MAX, hi = 0;
	struct sim_err perr;

	if (!path[0])
		return 0;
	if (cpu_elf_open(path, 0, SIM_PA_LIMIT, &e, &perr))
		return sim_cfg_error(ph->s, "pkvm.firmware", err, "%s", perr.msg);
	for (unsigned i = 0; i < e->nseg; i++) {
		if (e->seg[i].paddr < lo)
			lo = e->seg[i].paddr;
		if (e->seg[i].paddr + e->seg[i].memsz > hi)
			hi = e->seg[i].paddr + e->seg[i].memsz;
	}
	lo &= ~(SIM_PAGE_SIZE - 1);
	if (hi - lo > (64ull << 20)) {
		cpu_elf_free(e);
		return sim_cfg_error(ph->s, "pkvm.firmware", err, "%s: spans 0x%llx bytes (at most 64m)",
				     path, (unsigned long long)(hi - lo));
	}
	ph->fw_size = (hi - lo + SIM_PAGE_SIZE - 1) & ~(SIM_PAGE_SIZE - 1);
	ph->fw_link = lo;
	ph->fw_entry = e->entry;
	ph->fw_tohost = e->has_tohost ? e->tohost : 0;
	ph->fw_fromhost = e->has_fromhost ? e->fromhost : 0;
	ph->fw = sim_xcalloc(1, (size_t)ph->fw_size);
	for (unsigned i = 0; i < e->nseg; i++)
		memcpy(ph->fw + (e->seg[i].paddr - lo), e->seg[i].data, (size_t)e->seg[i].filesz);
	cpu_elf_free(e);
	return 0;
}

static int pkvm_attach(struct sim *s, struct sim_err *err)
{
	struct stack *st = stack_get(s);
	struct stack_pkvm_host *ph;
	struct stack_pkvm_cfg cfg;
	struct sim_who who = { .now = 0, .agent = -1 };
	uint64_t size = sim_cfg_u64(s, "pkvm.pool_size");
	char *path;
	int rc;

	if (sim_cfg_enum(s, "machine.host") != 1)
		return 0;   /* host=kvm: no hypervisor at EL2 */
	if (!st)
		return sim_err_set(err, "host=pkvm: the machine has no host stack (stack module)");
	if (size & (SIM_SZ_2M - 1))
		return sim_cfg_error(s, "pkvm.pool_size", err, "0x%llx: must be a multiple of 2m",
				     (unsigned long long)size);
	ph = sim_xcalloc(1, sizeof(*ph));
	ph->s = s;
	ph->st = st;
	ph->meta_pages = (unsigned)sim_cfg_u64(s, "pkvm.meta_pages");
	/* the pool: consecutive 2M blocks of the host page allocator, given at boot */
	for (uint64_t off = 0; off < size; off += SIM_SZ_2M) {
		uint64_t pa = 0;
		bool got = !stack_palloc_get(st->pool, true, &pa);

		if (!got || (off && pa != ph->pool_base + off)) {
			if (got)
				stack_palloc_put(st->pool, pa, true);
			for (uint64_t o = 0; o < off; o += SIM_SZ_2M)
				stack_palloc_put(st->pool, ph->pool_base + o, true);
			free(ph);
			return sim_cfg_error(s, "pkvm.pool_size", err,
					     "0x%llx: the host page allocator (s2.pool_size) has no "
					     "contiguous range this large", (unsigned long long)size);
		}
		if (!off)
			ph->pool_base = pa;
	}
	ph->pool_size = size;
	path = sim_cfg_path(s, "pkvm.firmware");
	rc = load_firmware(ph, path, err);
	free(path);
	if (rc) {
		for (uint64_t o = 0; o < size; o += SIM_SZ_2M)
			stack_palloc_put(st->pool, ph->pool_base + o, true);
		free(ph);
		return -1;
	}
	stack_pkvm_cfg_default(&cfg);
	cfg.mem_base = 0;
	cfg.mem_size = sim_mem_size(sim_mem(s)) & ~(SIM_PAGE_SIZE - 1);
	cfg.pool_base = ph->pool_base;
	cfg.pool_pages = size >> 12;
	cfg.hvc_cycles = sim_cfg_u64(s, "lat.pkvm.hvc");
	cfg.guest_hvc_cycles = sim_cfg_u64(s, "lat.pkvm.guest_hvc");
	cfg.abort_cycles = sim_cfg_u64(s, "lat.pkvm.abort");
	cfg.inject_cycles = sim_cfg_u64(s, "lat.pkvm.inject");
	cfg.guest_range = sim_cfg_bool(s, "pkvm.guest_range");
	ph->pk = stack_pkvm_new(s, sim_mem(s), st->s2, &cfg, &who, err);
	if (!ph->pk) {
		for (uint64_t o = 0; o < size; o += SIM_SZ_2M)
			stack_palloc_put(st->pool, ph->pool_base + o, true);
		free(ph->fw);
		free(ph);
		return -1;
	}
	if (dma_domain(ph, &who)) {
		if (ph->dma)
			s2_pgt_free(ph->dma);
		stack_pkvm_free(ph->pk);
		for (uint64_t o = 0; o < size; o += SIM_SZ_2M)
			stack_palloc_put(st->pool, ph->pool_base + o, true);
		free(ph->fw);
		free(ph);
		return sim_cfg_error(s, "s2.pool_size", err, "the host page allocator has no pages "
				     "left for the IOMMU's table");
	}
	sim_set_model(s, &stack_pkvm_module, ph);
	return 0;
}

static void pkvm_detach(struct sim *s)
{
	struct stack_pkvm_host *ph = stack_pkvm_host_of(s);

	if (!ph)
		return;
	for (unsigned i = 0; i < S2_MAX_VMS; i++)
		free(ph->vm[i].meta);   /* the machine is going: the allocator goes with it */
	stack_pkvm_free(ph->pk);
	if (ph->dma)
		s2_pgt_free(ph->dma);
	free(ph->fw);
	free(ph);
	sim_set_model(s, &stack_pkvm_module, NULL);
}

static void pkvm_summary(struct sim *s, FILE *out)
{
	struct stack_pkvm_host *ph = stack_pkvm_host_of(s);

	if (!ph)
		return;
	fprintf(out, "pkvm: hypervisor pool %llu pages at 0x%llx (%llu free), %llu host hypercalls\n",
		(unsigned long long)(ph->pool_size >> 12), (unsigned long long)ph->pool_base,
		(unsigned long long)stack_pkvm_pool_free(ph->pk),
		(unsigned long long)stack_pkvm_stats(ph->pk)->hvc);
}

extern const struct sim_op stack_pkvm_ops[];   /* ops_pkvm.c */

const struct sim_module stack_pkvm_module = {
	.name = "pkvm",
	.needs = (const char *const[]){ "iommu", "stack", "kvm", "guest", NULL },
	.keys = pkvm_keys,
	.ops = stack_pkvm_ops,
	.attach = pkvm_attach,
	.detach = pkvm_detach,
	.summary = pkvm_summary,
};
