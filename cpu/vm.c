/*
 * vm.c - the CPU module: configuration keys, the VM (memory layout,
 * harts as engine agents, HTIF), VM exits and the default minimal
 * hypervisor, statistics.
 *
 * Batching and determinism: a hart runs cpu.batch instructions (fewer at
 * an exit, a halt or the instruction limit) and then advances its clock
 * once by the cycles they took.  Other agents run only at those points,
 * so a hart's memory effects inside a batch appear to other agents at the
 * batch's end; RMP instructions and exits flush the batch first, so they
 * happen at their exact cycle.  Batch boundaries depend only on counts of
 * instructions, never on the host, so runs are deterministic; cpu.batch=1
 * interleaves harts instruction by instruction.
 */
#include "cpu/cpu_prot.h"

#include <stdlib.h>

const char *const cpu_exit_names[CPU_EXIT_COUNT] = {
	"npf", "vmgexit", "hypercall", "cr_write", "hlt",
};

static const char *const mode_choices[] = { "fast", "detailed", NULL };
static const char *const type_choices[] = { "bare", "npt", "snp", NULL };
static const char *const psize_choices[] = { "4k", "2m", NULL };
static const char *const policy_choices[] = { "allow", "deny", NULL };

static const struct sim_cfg_key cpu_keys[] = {
	{ "cpu.mode", SIM_CFG_ENUM, 0, 0, "fast", mode_choices,
	  "fast: fixed CPI, no caches; detailed: in-order core with L1I/L1D/L2/LLC" },
	{ "cpu.cpi", SIM_CFG_U64, 1, 100, "1", NULL, "fast mode: cycles per instruction" },
	{ "cpu.batch", SIM_CFG_U64, 1, 1000000, "2000", NULL,
	  "instructions a vCPU runs between clock advances (1 = exact interleaving)" },
	{ "vm.type", SIM_CFG_ENUM, 0, 0, "npt", type_choices,
	  "bare: GPA = SPA + offset; npt: stage-2 (AMD NPT); snp: NPT + RMP, memory assigned and validated" },
	{ "vm.vcpus", SIM_CFG_U64, 1, 64, "1", NULL, "vCPUs (harts) of the VM" },
	{ "vm.mem_base", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, "0x80000000", NULL,
	  "guest physical address of guest RAM" },
	{ "vm.mem_size", SIM_CFG_SIZE, 64 << 10, 1ull << 40, "64m", NULL,
	  "guest RAM size (mapped on first touch: host cost follows the pages the guest touches)" },
	{ "vm.spa_base", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, "0x80000000", NULL,
	  "system physical address backing guest RAM (control pages and the nested-table pool follow it)" },
	{ "vm.page_size", SIM_CFG_ENUM, 0, 0, "4k", psize_choices,
	  "nested-table leaf and RMP entry size for guest RAM" },
	{ "vm.pt_pool", SIM_CFG_SIZE, 64 << 10, 4ull << 30, "2m", NULL,
	  "bytes reserved after guest RAM for the VM's nested tables (filled as the guest touches memory)" },
	{ "vm.asid", SIM_CFG_U64, 1, 1023, "1", NULL, "SNP: the guest's ASID" },
	{ "vm.vmpl", SIM_CFG_U64, 0, 3, "0", NULL, "SNP: VMPL the vCPUs run at" },
	{ "vm.cbit_pte", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "SNP: take the C-bit of data accesses from Sv PTE bit 8 (else every access is private)" },
	{ "vm.cr0_intercept", SIM_CFG_U64, 0, UINT64_MAX, "0", NULL,
	  "CR0 bits whose change exits to the hypervisor (e.g. 0x10000 = WP)" },
	{ "vm.cr4_intercept", SIM_CFG_U64, 0, UINT64_MAX, "0", NULL,
	  "CR4 bits whose change exits to the hypervisor (e.g. 0x300000 = SMEP|SMAP)" },
	{ "vm.cr_policy", SIM_CFG_ENUM, 0, 0, "deny", policy_choices,
	  "default hypervisor's answer to an intercepted CR write: allow it, or deny with #GP" },
	{ "cache.line", SIM_CFG_U64, 16, 512, "64", NULL, "cache line size in bytes (power of two)" },
	{ "cache.l1i.size", SIM_CFG_SIZE, 1024, 1ull << 30, "32k", NULL, "L1 instruction cache size" },
	{ "cache.l1i.ways", SIM_CFG_U64, 1, 64, "8", NULL, "L1I associativity" },
	{ "cache.l1i.latency", SIM_CFG_U64, 1, 1000, "1", NULL, "L1I hit latency (cycles; hidden by the pipeline)" },
	{ "cache.l1d.size", SIM_CFG_SIZE, 1024, 1ull << 30, "32k", NULL, "L1 data cache size" },
	{ "cache.l1d.ways", SIM_CFG_U64, 1, 64, "8", NULL, "L1D associativity" },
	{ "cache.l1d.latency", SIM_CFG_U64, 1, 1000, "4", NULL, "L1D load-to-use latency (cycles)" },
	{ "cache.l2.size", SIM_CFG_SIZE, 1024, 1ull << 32, "1m", NULL, "private L2 size" },
	{ "cache.l2.ways", SIM_CFG_U64, 1, 64, "8", NULL, "L2 associativity" },
	{ "cache.l2.latency", SIM_CFG_U64, 1, 1000, "14", NULL, "L2 hit latency (cycles)" },
	{ "cache.llc.size", SIM_CFG_SIZE, 1024, 1ull << 34, "16m", NULL, "shared last-level cache size" },
	{ "cache.llc.ways", SIM_CFG_U64, 1, 64, "16", NULL, "LLC associativity" },
	{ "cache.llc.latency", SIM_CFG_U64, 1, 2000, "50", NULL, "LLC hit latency (cycles)" },
	{ "lat.cpu.mul", SIM_CFG_U64, 0, 1000, NULL, NULL, "detailed: extra cycles of MUL*" },
	{ "lat.cpu.div", SIM_CFG_U64, 0, 1000, NULL, NULL, "detailed: extra cycles of DIV*/REM*" },
	{ "lat.cpu.csr", SIM_CFG_U64, 0, 1000, NULL, NULL, "detailed: extra cycles of a CSR instruction" },
	{ "lat.cpu.trap", SIM_CFG_U64, 0, 10000, NULL, NULL,
	  "detailed: extra cycles of a trap entry or xRET (pipeline flush and refetch)" },
	{ "lat.cpu.taken", SIM_CFG_U64, 0, 100, NULL, NULL,
	  "detailed: extra cycles of a taken branch or jump (fetch bubble)" },
	{ "lat.cpu.vmexit", SIM_CFG_U64, 0, 100000, NULL, NULL,
	  "hardware #VMEXIT: state save and switch to the host (both modes)" },
	{ "lat.cpu.vmrun", SIM_CFG_U64, 0, 100000, NULL, NULL,
	  "hardware VMRUN: state load and switch to the guest (both modes)" },
	{ "lat.cpu.snp_switch", SIM_CFG_U64, 0, 100000, NULL, NULL,
	  "extra cycles per SNP world switch (VMSA encryption and integrity)" },
	{ "lat.cpu.hv_exit", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "default hypervisor: cycles to handle one exit (KVM-like dispatch)" },
	{ "lat.cpu.rmp_insn", SIM_CFG_U64, 0, 100000, NULL, NULL,
	  "PVALIDATE/RMPADJUST/RMPQUERY issue cost added to the RMP model's latency" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL },
};

static int cpu_attach(struct sim *s, struct sim_err *err)
{
	return cpu_cfg_check(s, err);
}

const struct sim_module cpu_module = {
	.name = "cpu",
	.needs = (const char *const[]){ "rmp", "s2", NULL },
	.keys = cpu_keys,
	.attach = cpu_attach,
};

/* ------------------------------------------------------------------ */
/* Harts                                                               */
/* ------------------------------------------------------------------ */

void rv_hart_reset(struct cpu_hart *h, uint64_t pc)
{
	memset(h->x, 0, sizeof(h->x));
	h->pc = pc;
	h->priv = RV_PRIV_M;
	h->mstatus = 0;
	h->satp = 0;
	h->medeleg = h->mideleg = h->mie = h->mip = 0;
	h->mtvec = h->stvec = 0;
	h->cr0 = CR0_RESET;
	h->cr4 = CR4_RESET;
	h->mtimecmp = ~0ull;
	h->resv_valid = false;
	rv_update_modes(h);
	rv_tlb_flush(h);
}

uint64_t cpu_hart_reg(const struct cpu_hart *h, unsigned i) { return i < 32 ? h->x[i] : 0; }
void cpu_hart_set_reg(struct cpu_hart *h, unsigned i, uint64_t v) { if (i && i < 32) h->x[i] = v; }
uint64_t cpu_hart_pc(const struct cpu_hart *h) { return h->pc; }
void cpu_hart_set_pc(struct cpu_hart *h, uint64_t pc) { h->pc = pc; }
unsigned cpu_hart_priv(const struct cpu_hart *h) { return h->priv; }
uint64_t cpu_hart_insns(const struct cpu_hart *h) { return h->instret; }
struct sim_agent *cpu_hart_agent(const struct cpu_hart *h) { return h->agent; }

int cpu_hart_csr(struct cpu_hart *h, unsigned csr, uint64_t *val)
{
	unsigned saved = h->priv;
	int rc;

	h->priv = RV_PRIV_M;
	rc = rv_csr_read(h, csr, val);
	h->priv = saved;
	return rc;
}

void cpu_hart_set_cr_intercept(struct cpu_hart *h, unsigned cr, uint64_t mask)
{
	h->cr_icpt[cr == 0 ? 0 : 1] = mask;
}

void cpu_hart_wake(struct sim_agent *waker, struct cpu_hart *h)
{
	if (h->blocked)
		sim_wake(waker, h->agent);
}

/* ------------------------------------------------------------------ */
/* VM                                                                  */
/* ------------------------------------------------------------------ */

static void lat_from_sim(struct cpu_vm *vm)
{
	const struct sim *s = vm->sim;

	vm->lat.cpi = (uint32_t)sim_cfg_u64(s, "cpu.cpi");
	vm->lat.mul = (uint32_t)sim_cfg_u64(s, "lat.cpu.mul");
	vm->lat.div = (uint32_t)sim_cfg_u64(s, "lat.cpu.div");
	vm->lat.csr = (uint32_t)sim_cfg_u64(s, "lat.cpu.csr");
	vm->lat.trap = (uint32_t)sim_cfg_u64(s, "lat.cpu.trap");
	vm->lat.taken = (uint32_t)sim_cfg_u64(s, "lat.cpu.taken");
	vm->lat.vmexit = (uint32_t)sim_cfg_u64(s, "lat.cpu.vmexit");
	vm->lat.vmrun = (uint32_t)sim_cfg_u64(s, "lat.cpu.vmrun");
	vm->lat.snp_switch = (uint32_t)sim_cfg_u64(s, "lat.cpu.snp_switch");
	vm->lat.hv_exit = (uint32_t)sim_cfg_u64(s, "lat.cpu.hv_exit");
	vm->lat.rmp_insn = (uint32_t)sim_cfg_u64(s, "lat.cpu.rmp_insn");
}

static void register_stats(struct cpu_vm *vm)
{
	struct sim *s = vm->sim;
	char n[96], d[96];

	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		snprintf(n, sizeof(n), "%s.insns", h->name);
		sim_stat_counter(s, n, &h->st.insns, "instructions retired");
		snprintf(n, sizeof(n), "%s.cycles", h->name);
		sim_stat_counter(s, n, &h->st.cycles, "cycles consumed by this vCPU (incl. exits)");
		snprintf(n, sizeof(n), "%s.cpi", h->name);
		snprintf(d, sizeof(d), "%s.cycles", h->name);
		{
			char num[64];

			snprintf(num, sizeof(num), "%s.insns", h->name);
			sim_stat_formula(s, n, d, num, 1.0, "cycles per retired instruction");
		}
		snprintf(n, sizeof(n), "%s.traps", h->name);
		sim_stat_counter(s, n, &h->st.traps, "exceptions taken inside the guest");
		snprintf(n, sizeof(n), "%s.irqs", h->name);
		sim_stat_counter(s, n, &h->st.irqs, "interrupts taken");
		snprintf(n, sizeof(n), "%s.tlb.miss", h->name);
		sim_stat_counter(s, n, &h->st.tlb_miss,
				 "L0 TLB misses (accesses that went through stage 1/2 and the RMP)");
		snprintf(n, sizeof(n), "%s.fence_i", h->name);
		sim_stat_counter(s, n, &h->st.dcache_flush, "decode-cache flushes (fence.i)");
		for (unsigned r = 0; r < CPU_EXIT_COUNT; r++) {
			snprintf(n, sizeof(n), "%s.exits.%s", h->name, cpu_exit_names[r]);
			sim_stat_counter(s, n, &h->st.exits[r], "VM exits of this reason");
		}
	}
	if (vm->type != CPU_VM_BARE) {
		s2_stats_register(s, "vm.s2", &vm->s2_stats, 1);
		sim_stat_counter(s, "vm.npf_maps", &vm->npf_maps,
				 "guest pages mapped on their first touch (#NPF)");
	}
	cpu_cache_register(vm);
}

struct cpu_vm *cpu_vm_new(struct sim *s, FILE *console, struct sim_err *err)
{
	struct cpu_vm *vm;
	uint64_t ctl;

	if (!sim_started(s)) {
		sim_err_set(err, "cpu: cpu_vm_new before sim_start");
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		sim_fatal("cpu: out of host memory");
	vm->sim = s;
	vm->mem = sim_mem(s);
	vm->console = console;
	vm->type = (enum cpu_vm_type)sim_cfg_enum(s, "vm.type");
	vm->mode = (enum cpu_mode)sim_cfg_enum(s, "cpu.mode");
	vm->mem_base = sim_cfg_u64(s, "vm.mem_base");
	vm->mem_size = sim_cfg_u64(s, "vm.mem_size");
	vm->spa_base = sim_cfg_u64(s, "vm.spa_base");
	vm->nharts = (unsigned)sim_cfg_u64(s, "vm.vcpus");
	vm->batch = sim_cfg_u64(s, "cpu.batch");
	vm->asid = (uint32_t)sim_cfg_u64(s, "vm.asid");
	vm->vmpl = (unsigned)sim_cfg_u64(s, "vm.vmpl");
	vm->page_size = sim_cfg_enum(s, "vm.page_size") ? SIM_SZ_2M : SIM_SZ_4K;
	vm->cbit_in_pte = sim_cfg_bool(s, "vm.cbit_pte");
	vm->cr_icpt[0] = sim_cfg_u64(s, "vm.cr0_intercept");
	vm->cr_icpt[1] = sim_cfg_u64(s, "vm.cr4_intercept");
	vm->cr_policy = sim_cfg_enum(s, "vm.cr_policy");
	vm->rmp = sim_get_model(s, &rmp_module);
	vm->hv = &cpu_default_hv;
	lat_from_sim(vm);

	if ((vm->mem_base | vm->mem_size | vm->spa_base) & (vm->page_size - 1)) {
		sim_err_set(err, "vm.mem_base/vm.mem_size/vm.spa_base: must be multiples of vm.page_size (%s)",
			    vm->page_size == SIM_SZ_2M ? "2m" : "4k");
		goto fail;
	}
	if (vm->mem_base + vm->mem_size < vm->mem_base || vm->mem_base + vm->mem_size > SIM_PA_LIMIT) {
		sim_err_set(err, "vm.mem_size: guest RAM beyond the physical address limit");
		goto fail;
	}
	/* control pages (VMCB, VMSA per vCPU) then the nested-table pool, after RAM */
	ctl = (vm->spa_base + vm->mem_size + SIM_SZ_2M - 1) & ~(SIM_SZ_2M - 1);
	vm->vmcb_base = ctl + 0x1000;
	vm->vmsa_base = ctl + 0x2000;
	vm->vmsa_gpa = 0xfffffffff000ull;
	vm->pt_pool_next = ctl + SIM_SZ_2M;
	vm->pt_pool_size = sim_cfg_u64(s, "vm.pt_pool");
	vm->pt_pool_end = vm->pt_pool_next + vm->pt_pool_size;
	if (vm->pt_pool_end > sim_mem_size(vm->mem) ||
	    (vm->rmp && rmp_enabled(vm->rmp) && vm->pt_pool_end > rmp_base(vm->rmp))) {
		sim_err_set(err, "vm.spa_base: guest RAM at 0x%llx + vm.mem_size 0x%llx + control pages "
			    "and nested tables (to 0x%llx) do not fit in machine memory (machine.mem 0x%llx%s)",
			    (unsigned long long)vm->spa_base, (unsigned long long)vm->mem_size,
			    (unsigned long long)vm->pt_pool_end,
			    (unsigned long long)sim_mem_size(vm->mem),
			    vm->rmp && rmp_enabled(vm->rmp) ? ", below the RMP" : "");
		goto fail;
	}
	vm->harts = calloc(vm->nharts, sizeof(*vm->harts));
	if (!vm->harts)
		sim_fatal("cpu: out of host memory");
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = calloc(1, sizeof(*h));

		if (!h)
			sim_fatal("cpu: out of host memory");
		h->vm = vm;
		h->id = i;
		snprintf(h->name, sizeof(h->name), "vcpu%u", i);
		h->cr_icpt[0] = vm->cr_icpt[0];
		h->cr_icpt[1] = vm->cr_icpt[1];
		rv_hart_reset(h, vm->mem_base);
		vm->harts[i] = h;
	}
	if (cpu_prot_setup(vm, err))
		goto fail;
	if (cpu_cache_setup(vm, err))
		goto fail;
	register_stats(vm);
	return vm;
fail:
	cpu_vm_free(vm);
	return NULL;
}

void cpu_vm_free(struct cpu_vm *vm)
{
	if (!vm)
		return;
	cpu_cache_free(vm);
	cpu_prot_free(vm);
	for (unsigned i = 0; vm->harts && i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		if (!h)
			continue;
		for (unsigned j = 0; j < RV_DCACHE_PAGES; j++)
			free(h->dcache[j]);
		free(h);
	}
	free(vm->harts);
	free(vm);
}

void cpu_vm_set_hv(struct cpu_vm *vm, const struct cpu_hv_ops *ops, void *arg)
{
	vm->hv = ops ? ops : &cpu_default_hv;
	vm->hv_arg = arg;
}

/*
 * Guest memory is mapped lazily, as KVM's MMU does (kvm_mmu_page_fault ->
 * kvm_tdp_page_fault: a not-present #NPF installs the nested entry and
 * the access is retried).  For SNP the same first touch also writes the
 * page's RMP entry assigned and validated, untimed, as the launch
 * (SNP_LAUNCH_UPDATE) would have left pre-validated memory: before its
 * first touch a page is invisible to the guest (every guest access,
 * page-table read and PVALIDATE/RMPADJUST/RMPQUERY translates it first),
 * so the guest sees all of its RAM private and validated, as if the
 * launch had validated it all, at a host cost that follows the pages it
 * touches (docs/cpu.md "VM types and memory").
 */
int cpu_vm_map_page(struct cpu_vm *vm, struct cpu_hart *h, uint64_t gpa, struct sim_err *err)
{
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	uint64_t page = gpa & ~(vm->page_size - 1), spa, cyc;
	struct sim_who who = {
		.now = h ? sim_now(h->agent) : 0, .agent = h ? sim_agent_id(h->agent) : -1,
	};
	int rc, ret = 0;

	if (vm->type == CPU_VM_BARE)
		return sim_err_set(err, "vm.type: a bare VM has no nested table to map GPA 0x%llx in",
				   (unsigned long long)gpa);
	if (cpu_vm_gpa_to_spa(vm, page, &spa))
		return sim_err_set(err, "vm.mem_size: GPA 0x%llx is not in guest RAM (0x%llx + 0x%llx)",
				   (unsigned long long)gpa, (unsigned long long)vm->mem_base,
				   (unsigned long long)vm->mem_size);
	/*
	 * The nested entry and the RMP entry are written with no clock
	 * advance in between (other agents run only at one), so no vCPU sees
	 * the page mapped but not yet assigned; the table writes are charged
	 * after both.
	 */
	rc = s2_map(vm->npt, &who, page, spa, vm->page_size, vm->page_size, &prot);
	cyc = who.mem_cycles + vm->npt_root_cycles;   /* after the map's sync: in global order */
	vm->npt_root_cycles = 0;
	if (rc == S2_ERR_EXISTS) {
		/* another vCPU's fault mapped it first */
	} else if (rc == S2_ERR_NOMEM) {
		ret = sim_err_set(err, "vm.pt_pool: the VM's nested-table pool (0x%llx bytes) is used "
				  "up mapping GPA 0x%llx: raise vm.pt_pool",
				  (unsigned long long)vm->pt_pool_size, (unsigned long long)page);
	} else if (rc != S2_OK) {
		ret = sim_err_set(err, "vm.mem_base: cannot map GPA 0x%llx in the nested table: %s",
				  (unsigned long long)page, s2_rc_name(rc));
	} else {
		struct rmp_entry ent = {
			.assigned = true, .page_2m = vm->page_size == SIM_SZ_2M,
			.validated = true, .asid = vm->asid, .gpa = page,
		};

		ent.perms[0] = RMP_PERM_ALL;
		if (vm->type == CPU_VM_SNP && rmp_fw_write(vm->rmp, spa, &ent) != RMP_RC_SUCCESS)
			ret = sim_err_set(err, "vm.spa_base: guest page 0x%llx (GPA 0x%llx) is not "
					  "RMP-covered", (unsigned long long)spa,
					  (unsigned long long)page);
		else
			vm->npf_maps++;
	}
	if (h && cyc) {
		sim_advance(h->agent, cyc);
		h->st.cycles += cyc;
	}
	return ret;
}

int cpu_vm_gpa_to_spa(const struct cpu_vm *vm, uint64_t gpa, uint64_t *spa)
{
	if (gpa < vm->mem_base || gpa - vm->mem_base >= vm->mem_size)
		return -1;
	*spa = gpa - vm->mem_base + vm->spa_base;
	return 0;
}

int cpu_vm_load(struct cpu_vm *vm, const struct cpu_elf *elf, struct sim_err *err)
{
	for (unsigned i = 0; i < elf->nseg; i++) {
		const struct cpu_elf_seg *sg = &elf->seg[i];
		uint64_t spa;

		if (sg->paddr < vm->mem_base || sg->paddr + sg->memsz > vm->mem_base + vm->mem_size ||
		    cpu_vm_gpa_to_spa(vm, sg->paddr, &spa))
			return sim_err_set(err, "%s: segment at 0x%llx+0x%llx is outside guest memory",
					   elf->path, (unsigned long long)sg->paddr,
					   (unsigned long long)sg->memsz);
		/* the launch flow writes the image (untimed, as firmware would) */
		sim_mem_poke(vm->mem, spa, sg->data, sg->filesz);
		for (uint64_t off = sg->filesz; off < sg->memsz;) {
			static const uint8_t zero[4096];
			uint64_t n = sg->memsz - off < sizeof(zero) ? sg->memsz - off : sizeof(zero);

			sim_mem_poke(vm->mem, spa + off, zero, n);
			off += n;
		}
	}
	vm->has_tohost = elf->has_tohost &&
			 cpu_vm_gpa_to_spa(vm, elf->tohost, &vm->tohost_spa) == 0;
	vm->tohost = elf->tohost;
	vm->fromhost = elf->has_fromhost ? elf->fromhost : 0;
	for (unsigned i = 0; i < vm->nharts; i++) {
		vm->harts[i]->pc = elf->entry;
		rv_dcache_flush(vm->harts[i]);
	}
	return 0;
}

enum cpu_vm_state cpu_vm_state(const struct cpu_vm *vm) { return vm->state; }
int cpu_vm_exit_code(const struct cpu_vm *vm) { return vm->exit_code; }
unsigned cpu_vm_nharts(const struct cpu_vm *vm) { return vm->nharts; }
struct cpu_hart *cpu_vm_hart(struct cpu_vm *vm, unsigned i) { return i < vm->nharts ? vm->harts[i] : NULL; }

void cpu_vm_stop(struct cpu_vm *vm, enum cpu_vm_state state, int code)
{
	if (vm->state != CPU_VM_RUNNING)
		return;
	vm->state = state;
	vm->exit_code = code;
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		h->done = true;
		if (h->blocked)
			sim_wake(sim_current(vm->sim), h->agent);
	}
}

/* ------------------------------------------------------------------ */
/* HTIF: tohost/fromhost as Spike and qemu -M spike use them            */
/* ------------------------------------------------------------------ */

static void fromhost_write(struct cpu_vm *vm, uint64_t v)
{
	uint64_t spa;

	if (vm->fromhost && cpu_vm_gpa_to_spa(vm, vm->fromhost, &spa) == 0)
		sim_mem_poke64(vm->mem, spa, v);
}

/* The syscall proxy: magic_mem[0] = number, [1..3] = arguments. */
static void htif_syscall(struct cpu_vm *vm, uint64_t gpa)
{
	uint64_t spa, end, mm[4], ret = (uint64_t)-38;   /* -ENOSYS */

	/* the 32-byte block must lie in guest RAM; else the request is dropped */
	if (cpu_vm_gpa_to_spa(vm, gpa + 31, &end) || cpu_vm_gpa_to_spa(vm, gpa, &spa))
		return;
	sim_mem_peek(vm->mem, spa, mm, sizeof(mm));
	if (mm[0] == 64 && (mm[1] == 1 || mm[1] == 2)) {   /* write(fd, buf, len) */
		uint64_t bspa;

		ret = (uint64_t)-14;   /* -EFAULT */
		if (mm[3] <= vm->mem_size && cpu_vm_gpa_to_spa(vm, mm[2], &bspa) == 0 &&
		    (mm[3] == 0 || cpu_vm_gpa_to_spa(vm, mm[2] + mm[3] - 1, &bspa) == 0)) {
			cpu_vm_gpa_to_spa(vm, mm[2], &bspa);
			for (uint64_t i = 0; i < mm[3]; i++) {
				uint8_t ch;

				sim_mem_peek(vm->mem, bspa + i, &ch, 1);
				if (vm->console)
					fputc(ch, vm->console);
			}
			ret = mm[3];
		}
	}
	sim_mem_poke64(vm->mem, spa, ret);
	fromhost_write(vm, 1);
}

void cpu_htif_tohost(struct cpu_hart *h, uint64_t val)
{
	struct cpu_vm *vm = h->vm;
	unsigned dev = (unsigned)(val >> 56), cmd = (unsigned)(val >> 48) & 0xff;
	uint64_t payload = val & ((1ull << 48) - 1);

	sim_mem_poke64(vm->mem, vm->tohost_spa, 0);
	if (dev == 0 && cmd == 0) {
		if (payload & 1)
			cpu_vm_stop(vm, CPU_VM_EXITED, (int)(payload >> 1));
		else
			htif_syscall(vm, payload);
	} else if (dev == 1 && cmd == 1) {
		if (vm->console)
			fputc((int)(payload & 0xff), vm->console);
		fromhost_write(vm, (val >> 48 << 48) | 0x100 | (payload & 0xff));
	}
	/* other devices and commands: consumed and ignored (docs/guest-abi.md) */
}

/* ------------------------------------------------------------------ */
/* The hart agent                                                      */
/* ------------------------------------------------------------------ */

static void hart_body(struct sim_agent *a, void *arg)
{
	struct cpu_hart *h = arg;
	struct cpu_vm *vm = h->vm;

	(void)a;
	if (cpu_world_enter(h) == 0) {
		while (!h->done) {
			uint64_t budget = vm->batch, exec = 0, stall = 0, cyc;
			enum cpu_stop why;

			if (vm->max_insns) {
				if (vm->total_exec >= vm->max_insns) {
					cpu_vm_stop(vm, CPU_VM_LIMIT, 0);
					break;
				}
				if (vm->max_insns - vm->total_exec < budget)
					budget = vm->max_insns - vm->total_exec;
			}
			sim_sync(h->agent);          /* the batch is one step, in global order */
			sim_hold(h->agent, true);
			cpu_prot_sync(h);
			cpu_clint_tick(h);
			if (h->mip & h->mie)
				rv_check_irq(h);
			if (vm->mode == CPU_MODE_FAST)
				why = rv_run_fast(h, budget, &exec, &stall);
			else
				why = rv_run_detailed(h, budget, &exec, &stall);
			cyc = (vm->mode == CPU_MODE_FAST ? exec * vm->lat.cpi : exec + stall) +
			      h->batch_extra;
			h->batch_extra = 0;
			h->st.cycles += cyc;
			h->st.insns = h->instret;
			vm->total_exec += exec;
			sim_advance(h->agent, cyc);
			sim_hold(h->agent, false);
			if (why == CPU_STOP_EXIT) {
				cpu_exit_handle(h);
				/* a retried instruction (#NPF mapped) counts once, when it completes */
				if (h->exit.action == CPU_HV_RETRY && vm->total_exec)
					vm->total_exec--;
			}
		}
		cpu_world_exit(h);
	}
	h->st.insns = h->instret;
	h->done = true;
	sim_sync(h->agent);
	vm->running--;
	if (vm->running && vm->running == vm->blocked && vm->state == CPU_VM_RUNNING)
		cpu_vm_stop(vm, CPU_VM_HALTED, 0);
}

void cpu_vm_start(struct cpu_vm *vm, uint64_t max_insns)
{
	vm->max_insns = max_insns;
	vm->running = vm->nharts;
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		h->agent = sim_agent_new(vm->sim, h->name, SIM_AGENT_VCPU, hart_body, h);
		h->cycle_base = 0;
	}
	vm->started = true;
}
