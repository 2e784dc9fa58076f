/*
 * host_kexec.c - `host kexec [kind=kexec|kdump]`: a new host kernel on the
 * same memory (docs/strategies.md "kexec and kdump").
 *
 * The old kernel's VMs are gone without teardown (their vCPUs' CPUs are
 * reset: every in-use VMSA is released, nothing is RMPUPDATEd) and the RMP
 * keeps what it held.  Before the jump the old kernel's SNP shutdown
 * (SNP_SHUTDOWN_EX with IOMMU_SNP_SHUTDOWN, amd_iommu_snp_disable) gives
 * the IOMMU's firmware-owned event-log pages back: PSMASH where 2M,
 * SNP_PAGE_RECLAIM, RMPUPDATE to shared, a failure leaked
 * (protection-semantics §10.1).  The new kernel then meets the pages left
 * assigned as host.kexec_convert says:
 *   lazy   the first store that faults converts the page (PSMASH for a 2M
 *          entry, RMPUPDATE to shared) and is retried; an immutable page
 *          cannot convert: reported, the store oopses;
 *   eager  at boot the kernel reads every RMP entry (RMPREAD: the cost
 *          grows with memory) and converts every page it can, reporting
 *          the immutable ones (the RMP's own pages are reserved and not
 *          scanned);
 *   none   nothing: a store to such a page oopses.
 * kind=kdump first reads all of memory to write the dump (reads are not
 * RMP-checked: assigned pages dump as ciphertext) [model choice: the
 * capture kernel reads every page of machine.mem, each page's copy costing
 * lat.stack.page_clear (a 4K copy at memory bandwidth); makedumpfile's
 * filtering is not modelled].
 */
#include "sim/stack/host.h"
#include "iommu/iommu.h"

#include <string.h>

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull

static struct sim_who who_of(struct sim_agent *a)
{
	struct sim_who w = { .now = sim_now(a), .agent = sim_agent_id(a) };

	return w;
}

/* Make @spa shared for the new kernel (PSMASH first where 2M).  true: converted. */
static bool kexec_convert_page(struct host *h, struct sim_agent *a, uint64_t spa)
{
	struct rmp *rmp = h->st->rmp;
	const struct rmp_update_in shared = { 0 };
	struct rmp_entry e;
	struct rmp_result res;
	struct sim_who w;

	if (!rmp_entry_effective(rmp, spa, &e) || !e.assigned)
		return true;
	if (e.immutable) {
		h->k.immutable++;
		h->k.last_immutable++;
		return false;
	}
	if (e.page_2m) {
		w = who_of(a);
		if (rmp_psmash(rmp, &w, spa & ~(SZ_2M - 1), &res) == RMP_RC_SUCCESS)
			h->k.psmash++;
		sim_advance(a, res.latency + w.mem_cycles);
	}
	w = who_of(a);
	/* assigned => hypervisor-owned (Validated, VMSA cleared) */
	if (rmp_update(rmp, &w, spa, &shared, &res) != RMP_RC_SUCCESS) {
		sim_advance(a, res.latency + w.mem_cycles);
		return false;
	}
	sim_advance(a, res.latency + w.mem_cycles);
	h->k.converted++;
	h->k.last_converted++;
	return true;
}

bool host_kexec_fault(struct host_ctx *x)
{
	if (x->h->kexec_mode != HOST_KEXEC_LAZY)
		return false;   /* none: an oops; eager: what is left could not be converted */
	if (!kexec_convert_page(x->h, x->a, x->spa & ~(SZ_4K - 1)))
		return false;
	x->converted = true;
	x->h->w[x->by].converted++;
	return true;
}

/* amd_iommu_snp_disable: the event-log pages back to the hypervisor. */
static void iommu_pages(struct host *h, struct sim_agent *a)
{
	struct iommu *io = sim_get_model(h->st->s, &iommu_module);
	const struct iommu_config *cfg;
	struct rmp *rmp = h->st->rmp;

	if (!io || !h->st->snp_fw)
		return;
	cfg = iommu_config(io);
	for (uint64_t p = cfg->log_base & ~(SZ_4K - 1);
	     p < cfg->log_base + (uint64_t)cfg->log_entries * IOMMU_LOG_ENTRY; p += SZ_4K) {
		const struct rmp_update_in shared = { 0 };
		struct rmp_entry e;
		struct rmp_result res;
		struct sim_who w;
		uint64_t cyc = 0;

		if (!rmp_entry_effective(rmp, p, &e) || !e.assigned || e.asid)
			continue;
		if (stack_snp_page_reclaim(h->st->snp_fw, p, &cyc) != STACK_SNP_SUCCESS) {
			sim_advance(a, cyc);
			continue;   /* leaked: it stays the firmware's */
		}
		sim_advance(a, cyc);
		w = who_of(a);
		if (rmp_update(rmp, &w, p, &shared, &res) == RMP_RC_SUCCESS)
			h->k.iommu_pages++;
		sim_advance(a, res.latency + w.mem_cycles);
	}
}

/* The boot scan of host.kexec_convert=eager. */
static void eager_scan(struct host *h, struct sim_agent *a)
{
	struct rmp *rmp = h->st->rmp;
	uint64_t end = sim_mem_size(h->st->mem), t0 = sim_now(a);

	for (uint64_t spa = 0; spa < end; spa += SZ_4K) {
		struct rmp_read_out out;
		struct rmp_result res;
		struct sim_who w;

		if (spa >= rmp_base(rmp) && spa < rmp_end(rmp))
			continue;   /* the RMP itself: reserved memory, not the kernel's */
		if (!rmp_is_covered(rmp, spa))
			continue;
		w = who_of(a);
		(void)rmp_read(rmp, &w, spa, &out, &res);
		sim_advance(a, res.latency + w.mem_cycles);
		h->k.scanned++;
		if (out.ent.assigned)
			(void)kexec_convert_page(h, a, spa);
	}
	h->k.scan_cycles += sim_now(a) - t0;
}

void host_kexec(struct host *h, struct sim_agent *a, bool kdump)
{
	struct stack *st = h->st;
	struct rmp *rmp = st->rmp;
	bool snp = rmp && rmp_enabled(rmp);

	sim_sync(a);
	h->k.last_dropped = h->k.last_converted = h->k.last_immutable = 0;
	if (kdump) {
		uint64_t end = sim_mem_size(st->mem), t0 = sim_now(a);
		static uint8_t buf[SZ_4K];

		h->k.kdumps++;
		/* each page: its read, and the copy out at memory bandwidth (lat.stack.page_clear) */
		for (uint64_t pa = 0; pa < end; pa += SZ_4K)
			sim_advance(a, sim_mem_read(st->mem, sim_agent_id(a), SIM_SRC_DATA, pa, buf,
						    (uint32_t)SZ_4K) + st->lat.page_clear);
		h->k.dump_bytes += end;
		h->k.dump_cycles += sim_now(a) - t0;
	} else {
		h->k.kexecs++;
	}
	/* the old kernel's VMs: gone without teardown; its CPUs leave guest mode */
	for (unsigned i = 0; i < S2_MAX_VMS; i++) {
		struct stack_vm *v = st->vm[i];
		struct host_vm *hv;

		if (!v || !v->kvm || host_vm_gone(h, v))
			continue;
		hv = host_vm(h, v);
		hv->gone = true;
		h->k.vms_dropped++;
		h->k.last_dropped++;
		for (unsigned k = 0; snp && v->run && k < STACK_KVM_MAX_VCPUS; k++) {
			uint64_t vmsa = v->run->vcpu[k].vmsa_spa;
			int ag = vmsa ? rmp_in_use(rmp, vmsa) : -1;

			if (ag >= 0) {
				struct sim_who w = { .now = sim_now(a), .agent = ag };

				(void)rmp_vmexit(rmp, &w);
			}
		}
		if (v->run)
			v->run->killed = true;
	}
	/* a new kernel: new processes, nothing panicked */
	h->kexec_gen++;
	h->panicked = false;
	h->daemon_dead = false;
	if (!snp)
		return;
	iommu_pages(h, a);
	if (h->kexec_mode == HOST_KEXEC_EAGER)
		eager_scan(h, a);
}
