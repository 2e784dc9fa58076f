/*
 * vm.c - the CPU module: configuration keys, the guest platform (harts,
 * RAM window, doorbell word), hart accessors, statistics.
 */
#include "cpu/cpu_prot.h"

#include <stdlib.h>

const char *const cpu_exit_names[CPU_EXIT_COUNT] = {
	"npf", "vmgexit", "hypercall", "cr_write", "hlt", "intr", "invalid", "budget",
};

static const char *const mode_choices[] = { "fast", "detailed", NULL };
static const struct sim_cfg_key cpu_keys[] = {
	{ "cpu.mode", SIM_CFG_ENUM, 0, 0, "fast", mode_choices,
	  "fast: fixed CPI, no caches; detailed: in-order core with L1I/L1D/L2/LLC" },
	{ "cpu.cpi", SIM_CFG_U64, 1, 100, "1", NULL, "fast mode: cycles per instruction" },
	{ "cpu.batch", SIM_CFG_U64, 1, 1000000, "2000", NULL,
	  "instructions a vCPU runs between clock advances (1 = exact interleaving)" },
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
	{ "lat.cpu.rmp_insn", SIM_CFG_U64, 0, 100000, NULL, NULL,
	  "PVALIDATE/RMPADJUST/RMPQUERY issue cost added to the RMP model's latency" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL },
};

static int cpu_attach(struct sim *s, struct sim_err *err)
{
	struct cpu_machine *m;

	if (cpu_cfg_check(s, err) || !(m = cpu_machine_new(s, err)))
		return -1;
	sim_set_model(s, &cpu_module, m);
	return 0;
}

static void cpu_detach(struct sim *s)
{
	cpu_machine_free(sim_get_model(s, &cpu_module));
	sim_set_model(s, &cpu_module, NULL);
}

const struct sim_module cpu_module = {
	.name = "cpu",
	.needs = (const char *const[]){ "rmp", "s2", NULL },
	.keys = cpu_keys,
	.attach = cpu_attach,
	.detach = cpu_detach,
};

/* ------------------------------------------------------------------ */
/* Harts                                                               */
/* ------------------------------------------------------------------ */

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

unsigned cpu_hart_id(const struct cpu_hart *h) { return h->id; }
const char *cpu_hart_name(const struct cpu_hart *h) { return h->name; }
void cpu_hart_bind(struct cpu_hart *h, struct sim_agent *a)
{
	h->agent = a;
	cpu_cache_bind(h);
}

void cpu_hart_account(struct cpu_hart *h, uint64_t cycles)
{
	h->st.cycles += cycles;
}

void cpu_hart_finish(struct cpu_hart *h)
{
	h->st.insns = h->instret;
}

bool cpu_hart_timer_cycle(const struct cpu_hart *h, uint64_t *cycle)
{
	if (!(h->mie & (1ull << RV_IRQ_MTI)) || h->mtimecmp == ~0ull ||
	    h->mtimecmp >= ~0ull / CPU_MTIME_DIV)
		return false;
	*cycle = h->mtimecmp * CPU_MTIME_DIV + h->cycle_base;
	return true;
}

/* ------------------------------------------------------------------ */
/* The guest platform                                                  */
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
	vm->lat.rmp_insn = (uint32_t)sim_cfg_u64(s, "lat.cpu.rmp_insn");
}

static void stat_name(char *n, size_t len, const struct cpu_hart *h, const char *what)
{
	snprintf(n, len, "%s%s.%s", h->vm->vcpu_prefix, h->name, what);
}

static void register_stats(struct cpu_vm *vm)
{
	struct sim *s = vm->sim;
	char n[160], d[96], num[160];

	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = vm->harts[i];

		stat_name(n, sizeof(n), h, "insns");
		sim_stat_counter(s, n, &h->st.insns, "instructions retired");
		stat_name(n, sizeof(n), h, "cycles");
		sim_stat_counter(s, n, &h->st.cycles, "cycles consumed by this vCPU (incl. exits)");
		stat_name(n, sizeof(n), h, "cpi");
		stat_name(d, sizeof(d), h, "cycles");
		stat_name(num, sizeof(num), h, "insns");
		sim_stat_formula(s, n, d, num, 1.0, "cycles per retired instruction");
		stat_name(n, sizeof(n), h, "traps");
		sim_stat_counter(s, n, &h->st.traps, "exceptions taken inside the guest");
		stat_name(n, sizeof(n), h, "irqs");
		sim_stat_counter(s, n, &h->st.irqs, "interrupts taken");
		stat_name(n, sizeof(n), h, "tlb.miss");
		sim_stat_counter(s, n, &h->st.tlb_miss,
				 "L0 TLB misses (accesses that went through stage 1/2 and the RMP)");
		stat_name(n, sizeof(n), h, "fence_i");
		sim_stat_counter(s, n, &h->st.dcache_flush, "decode-cache flushes (fence.i)");
		for (unsigned r = 0; r < CPU_EXIT_GUEST; r++) {
			snprintf(d, sizeof(d), "exits.%s", cpu_exit_names[r]);
			stat_name(n, sizeof(n), h, d);
			sim_stat_counter(s, n, &h->st.exits[r], "VM exits of this reason");
		}
	}
	if (vm->type != CPU_VM_BARE) {
		snprintf(n, sizeof(n), "%s.s2", vm->vm_prefix);
		s2_stats_register(s, n, &vm->s2_stats, 1);
	}
}

struct cpu_vm *cpu_vm_new(struct sim *s, const struct cpu_vm_cfg *cfg, struct sim_err *err)
{
	struct cpu_vm *vm;

	if (!sim_started(s)) {
		sim_err_set(err, "cpu: cpu_vm_new before sim_start");
		return NULL;
	}
	if (!cfg->nharts || cfg->nharts > 64) {
		sim_err_set(err, "cpu: %u harts: a VM has 1..64", cfg->nharts);
		return NULL;
	}
	vm = sim_xcalloc(1, sizeof(*vm));
	vm->sim = s;
	vm->mem = sim_mem(s);
	vm->type = cfg->type;
	vm->mode = (enum cpu_mode)sim_cfg_enum(s, "cpu.mode");
	vm->mem_base = cfg->mem_base;
	vm->mem_size = cfg->mem_size;
	vm->spa_base = cfg->spa_base;
	vm->nharts = cfg->nharts;
	vm->batch = sim_cfg_u64(s, "cpu.batch");
	vm->asid = cfg->asid;
	vm->vmpl = cfg->vmpl;
	vm->cbit_in_pte = cfg->cbit_pte;
	vm->npt = cfg->npt;
	vm->irq = cfg->irq;
	vm->irq_arg = cfg->irq_arg;
	snprintf(vm->vcpu_prefix, sizeof(vm->vcpu_prefix), "%s", cfg->vcpu_prefix ? cfg->vcpu_prefix : "");
	snprintf(vm->vm_prefix, sizeof(vm->vm_prefix), "%s", cfg->vm_prefix ? cfg->vm_prefix : "vm");
	vm->rmp = sim_get_model(s, &rmp_module);
	vm->mach = sim_get_model(s, &cpu_module);
	lat_from_sim(vm);

	vm->harts = sim_xcalloc(vm->nharts, sizeof(*vm->harts));
	for (unsigned i = 0; i < vm->nharts; i++) {
		struct cpu_hart *h = sim_xcalloc(1, sizeof(*h));

		h->ntlb_log = RV_TLB_LOG;   /* its software TLB: all zero, flushed whole first */
		h->vm = vm;
		h->id = i;
		snprintf(h->name, sizeof(h->name), "vcpu%u", i);
		h->cr_icpt[0] = cfg->cr_intercept[0];
		h->cr_icpt[1] = cfg->cr_intercept[1];
		rv_hart_reset(h, vm->mem_base);
		vm->harts[i] = h;
	}
	if (cpu_vm_add_device(vm, CPU_CLINT_BASE, CPU_CLINT_SIZE, &cpu_clint_ops, vm))
		sim_fatal("cpu: cannot map the CLINT");
	if (cpu_prot_setup(vm, cfg->vmid, err))
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

int cpu_vm_add_device(struct cpu_vm *vm, uint64_t base, uint64_t size,
		      const struct cpu_dev_ops *ops, void *arg)
{
	if (vm->ndev == CPU_MAX_DEVS || !size || base + size < base ||
	    (base < vm->mem_base + vm->mem_size && vm->mem_base < base + size))
		return -1;
	for (unsigned i = 0; i < vm->ndev; i++)
		if (base < vm->dev[i].base + vm->dev[i].size && vm->dev[i].base < base + size)
			return -1;
	vm->dev[vm->ndev].base = base;
	vm->dev[vm->ndev].size = size;
	vm->dev[vm->ndev].ops = ops;
	vm->dev[vm->ndev].arg = arg;
	vm->ndev++;
	return 0;
}

int cpu_vm_watch(struct cpu_vm *vm, uint64_t spa, cpu_doorbell_fn fn, void *arg)
{
	unsigned i;

	if (spa & 7)
		return -1;
	for (i = 0; i < vm->nbell && vm->bell[i].spa != spa; i++)
		;
	if (i == CPU_MAX_BELLS)
		return -1;
	if (i == vm->nbell)
		vm->nbell++;
	vm->bell[i] = (struct cpu_bell){ .spa = spa, .fn = fn, .arg = arg };
	return 0;
}

int cpu_vm_set_doorbell(struct cpu_vm *vm, uint64_t gpa, cpu_doorbell_fn fn, void *arg)
{
	uint64_t spa;

	if (cpu_vm_gpa_to_spa(vm, gpa, &spa) || cpu_vm_gpa_to_spa(vm, gpa + 7, &spa))
		return -1;
	cpu_vm_gpa_to_spa(vm, gpa, &spa);
	return cpu_vm_watch(vm, spa, fn, arg);
}

int cpu_vm_gpa_to_spa(const struct cpu_vm *vm, uint64_t gpa, uint64_t *spa)
{
	if (gpa < vm->mem_base || gpa - vm->mem_base >= vm->mem_size)
		return -1;
	*spa = gpa - vm->mem_base + vm->spa_base;
	return 0;
}

unsigned cpu_vm_nharts(const struct cpu_vm *vm) { return vm->nharts; }
struct cpu_hart *cpu_vm_hart(struct cpu_vm *vm, unsigned i) { return i < vm->nharts ? vm->harts[i] : NULL; }
enum cpu_vm_type cpu_vm_type(const struct cpu_vm *vm) { return vm->type; }
