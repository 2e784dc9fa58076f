/*
 * vm.c - the machine's VMs as the host software keeps them: the VM
 * registry (the one notion of a VM), their nested tables built from the
 * host page allocator, the RMP check of their accesses, and the RMP check
 * of the host's own stores into table pages.  The stack module's keys,
 * model and statistics live here; its operations in vm_ops.c.
 */
#include "sim/stack/stack_int.h"
#include "iommu/iommu.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stack_asid_recycle_choices[] = { "immediate", "flush", NULL };
static const char *const stack_backing_choices[] = { "gmem", "legacy", NULL };
static const char *const stack_accept_choices[] = { "eager", "lazy", NULL };
static const char *const stack_psc_choices[] = { "ghcb", "msr", NULL };

static const char *const stack_replay_s1_choices[] = { "x86_64", "sv48", "sv39", NULL };

static const struct sim_cfg_key stack_keys[] = {
	{ "s2.pool_base", SIM_CFG_U64, 0, SIM_PA_LIMIT - 1, "0", NULL,
	  "The host page allocator's range (nested tables, IO tables, VMCB/VMSA pages), 4K aligned; 0 = just below the RMP (or the top of memory)" },
	{ "s2.pool_size", SIM_CFG_SIZE, SIM_PAGE_SIZE, 1ull << 40, "16m", NULL,
	  "Bytes of host memory in the host page allocator (multiple of 4k)" },
	/* the VM of `protsim exec` (guest.c) */
	STACK_GUEST_KEYS("vm", "0x80000000", "1", "the VM")
	{ "lat.cpu.hv_exit", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "the minimal host: cycles to handle one exit (KVM-like dispatch)" },
	/* the VMs of a `protsim run` scenario (guest.c): [vm0] .. [vm3] */
	STACK_RUN_VM_KEYS("vm0", "1")
	STACK_RUN_VM_KEYS("vm1", "2")
	STACK_RUN_VM_KEYS("vm2", "3")
	STACK_RUN_VM_KEYS("vm3", "4")
	/* SNP: the ASIDs and mirrors (asid.c), the firmware (snp_fw.c) */
	{ "snp.asids", SIM_CFG_U64, 1, 1023, "509", NULL,
	  "SNP ASIDs 1..N the host hands to SNP VMs (an EPYC 7003 reports 509 encrypted guests, all given to SNP)" },
	{ "snp.mirror", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "A mirror VM (KVM_CAP_VM_COPY_ENC_CONTEXT_FROM) of an SNP VM: 0 refused with EINVAL (as Linux), 1 allowed (the migration helper)" },
	{ "snp.asid_recycle", SIM_CFG_ENUM, 0, 0, "immediate", stack_asid_recycle_choices,
	  "A released SNP ASID: immediate (free at once) or flush (KVM: waits until none is free, then one DF_FLUSH frees them all)" },
	{ "lat.stack.fw_cmd", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "SNP firmware: cycles the host waits for one command (mailbox round trip to the AMD-SP)" },
	{ "lat.stack.fw_page", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "SNP firmware: cycles of SNP_LAUNCH_UPDATE's work on one 4K page (encryption, SHA-384), on top of fw_cmd" },
	{ "snp.backing", SIM_CFG_ENUM, 0, 0, "gmem", stack_backing_choices,
	  "Where an SNP guest's private memory lives: gmem (only in guest_memfd; the VMM converts, pages are assigned on the next fault) or legacy (one backing; KVM RMPUPDATEs the VMM's pages in the PSC handler, the 2021 series)" },
	{ "snp.prefault", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "1: after a to-private page-state change the VMM maps the range (KVM_PRE_FAULT_MEMORY), so the guest takes no #NPF" },
	/* end SNP */
	/* the VM of an access trace's replay (replay.c) */
	{ "replay.vm.snp", SIM_CFG_BOOL, 0, 1, "1", NULL,
	  "replay of an access trace: an SNP VM (its pages assigned and validated in the RMP, every translation RMP-checked), or 0 a plain NPT VM" },
	{ "replay.vm.page_size", SIM_CFG_ENUM, 0, 0, "4k", stack_psize_choices,
	  "replay of an access trace: the VM's private backing: nested-table leaf and RMP entry size, 4k or 2m" },
	{ "replay.vm.s1_format", SIM_CFG_ENUM, 0, 0, "x86_64", stack_replay_s1_choices,
	  "replay of an access trace: the guest's stage-1 table format (x86_64: 4 levels, as a Linux process on x86-64)" },
	{ "replay.vm.s1_page_size", SIM_CFG_ENUM, 0, 0, "4k", stack_psize_choices,
	  "replay of an access trace: the guest's stage-1 leaf size (4k, or 2m as with transparent huge pages)" },
	{ "replay.vm.asid", SIM_CFG_U64, 1, 1023, "1", NULL, "replay of an access trace: the SNP VM's ASID" },
	{ "replay.vm.mem_base", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, "0x80000000", NULL,
	  "replay of an access trace: guest physical address of guest RAM (multiple of 2m; its first 8 MiB hold the guest's stage-1 tables)" },
	{ "replay.vm.mem_size", SIM_CFG_SIZE, 10 << 20, 1ull << 40, "1g", NULL,
	  "replay of an access trace: guest RAM (multiple of 2m): each page the trace touches takes the next one" },
	{ "replay.vm.spa_base", SIM_CFG_SIZE, 0, SIM_PA_LIMIT, "1g", NULL,
	  "replay of an access trace: system physical address backing guest RAM (multiple of 2m), below the RMP and outside the host page pool" },
	/* KVM at run time and the VMM (kvm_mmu.c, kvm_sev.c, vmm.c, ops_guest.c) */
	{ "stack.check", SIM_CFG_BOOL, 0, 1, "0", NULL,
	  "1: check the stack's invariants after every KVM, guest_memfd, SNP and guest operation; a violation stops the script at its line (docs/stack.md)" },
	{ "lat.stack.kvm_exit", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "KVM: cycles to dispatch and handle one exit in the kernel (beyond the hardware world switch)" },
	{ "lat.stack.user_exit", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "KVM_RUN returning to the VMM and the VMM calling it again (one exit to userspace)" },
	{ "lat.stack.ioctl", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "one KVM or guest_memfd ioctl/fallocate from the VMM (syscall and dispatch)" },
	{ "lat.stack.page_clear", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "clearing one 4K page the host hands a guest (a new guest_memfd folio page)" },
	{ "lat.stack.psc_entry", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "KVM's work on one page-state-change entry (read, check, write back)" },
	{ "lat.stack.kick", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "kicking a vCPU out of guest mode (IPI and the wait for it to leave)" },
	{ "lat.stack.signal", SIM_CFG_U64, 0, 100000000, NULL, NULL,
	  "waking a VMM thread: a signal, or the eventfd write that wakes the VMM's I/O thread" },
	{ "vmm.io_thread", SIM_CFG_BOOL, 0, 1, "1", NULL,
	  "1: the VMM's block device is served by its I/O thread (an agent of its own, woken at the notify; the guest polls for completions); 0: on the vCPU thread at the notify, before the guest resumes" },
	/* the SNP VM of a `protsim run` scenario on the KVM host (run.c) */
	{ "kvm.elf", SIM_CFG_STR, 0, 0, "", NULL,
	  "The scenario's SNP VM on the KVM host: its program (RV64 ELF beside the scenario, on the guest kernel library, e.g. boot.elf); empty: none" },
	{ "kvm.vm", SIM_CFG_U64, 0, S2_MAX_VMS - 1, "4", NULL, "its VM number (statistics vmN.*)" },
	{ "kvm.mem_size", SIM_CFG_SIZE, 4 << 20, 1ull << 40, "256m", NULL,
	  "its memory: one guest_memfd memslot at 0x80000000, all private" },
	{ "kvm.accept", SIM_CFG_ENUM, 0, 0, "eager", stack_accept_choices,
	  "the guest's acceptance: eager (all memory at boot) or lazy (2M units on first allocation)" },
	{ "kvm.psc", SIM_CFG_ENUM, 0, 0, "ghcb", stack_psc_choices,
	  "the guest's page-state-change transport: ghcb (NAE batches) or msr (one 4K page a request)" },
	{ "kvm.touch", SIM_CFG_SIZE, 0, 1ull << 40, "1m", NULL, "bytes the program allocates and writes after boot" },
	{ "kvm.max_insns", SIM_CFG_U64, 1, UINT64_MAX, "1000000000", NULL, "stop after this many guest instructions" },
	/* guest_memfd (gmem.c) */
	{ "gmem.page_size", SIM_CFG_ENUM, 0, 0, "4k", stack_psize_choices,
	  "guest_memfd folio size: 4k, or 2m (2M folios where a 2M-aligned range fits in the file; a 2M RMP entry when the faulting range allows)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

struct stack *stack_get(const struct sim *s)
{
	return sim_get_model(s, &stack_module);
}

/* ------------------------------------------------------------------ */
/* Nested-table pages: the host page allocator                         */
/* ------------------------------------------------------------------ */

/*
 * A new table page: from the host page allocator, which never hands out
 * an assigned page; the host's stores into it (zeroing, entries) are
 * still RMP-checked by the hardware, a check that passes and costs its
 * entry read, charged with the operation.
 */
static uint64_t vm_table_alloc(void *arg, struct sim_who *who)
{
	struct stack_vm *v = arg;
	struct stack *st = v->st;
	struct host_wr hw;
	uint64_t pa;

	if (v->table_quota && (v->table_pages + 1) * SIM_PAGE_SIZE > v->table_quota)
		return S2_NO_PAGE;
	if (stack_palloc_get(st->pool, false, &pa))
		return S2_NO_PAGE;
	v->table_pages++;
	if (!stack_root_write_ok(st, who->agent, pa, &hw))
		sim_fatal("stack: the host page allocator handed out assigned page 0x%llx",
			  (unsigned long long)pa);
	who->mem_cycles += hw.cycles;
	return pa;
}

static void vm_table_free(void *arg, uint64_t pa)
{
	struct stack_vm *v = arg;

	v->table_pages--;
	stack_palloc_put(v->st->pool, pa, false);
}

/* Break-before-make: the block's range leaves every MMU of the machine. */
static void vm_table_tlbi(void *arg, uint64_t ia, uint64_t bytes)
{
	struct stack_vm *v = arg;

	s2_ctx_tlbi_range(v->st->s2, v->id, ia, bytes);
	/* a guest VM's vCPUs cache its translations in their own TLBs */
	for (unsigned i = 0; v->guest && i < v->guest->nvcpu; i++)
		if (v->guest->vcpu[i].h)
			cpu_vcpu_tlbi(v->guest->vcpu[i].h, CPU_TLBI_ALL);
}

static const struct s2_mm_ops vm_s2_mm = {
	.alloc_page = vm_table_alloc,
	.free_page = vm_table_free,
	.tlbi = vm_table_tlbi,
};

/* Guest stage-1 table pages: GPAs from the root upward, reached through stage 2. */
static uint64_t vm_s1_alloc(void *arg, struct sim_who *who)
{
	struct stack_vm *v = arg;
	uint64_t g = v->s1_next;

	(void)who;
	if (g >= SIM_PA_LIMIT)
		return S2_NO_PAGE;
	v->s1_next += SIM_PAGE_SIZE;
	return g;
}

bool stack_vm_gpa_spa(struct stack_vm *v, uint64_t gpa, uint64_t *spa)
{
	struct s2_req req = { .acc = S2_ACC_READ, .who = NULL, .src = SIM_SRC_PTW };
	struct s2_xlate x;

	if (s2_translate(v->s2, gpa, &req, &x))
		return false;
	*spa = x.pa;
	return true;
}

static bool vm_s1_table_pa(void *arg, uint64_t gpa, uint64_t *pa)
{
	return stack_vm_gpa_spa(arg, gpa, pa);
}

static const struct s2_mm_ops vm_s1_mm = {
	.alloc_page = vm_s1_alloc,
	.table_pa = vm_s1_table_pa,
};

/* ------------------------------------------------------------------ */
/* RMP checks                                                          */
/* ------------------------------------------------------------------ */

/*
 * The RMP check of one access of VM @arg: an SNP guest's (asid != 0) as
 * the guest's, private or shared; any other VM's writes and page-table
 * accesses against hypervisor-owned pages (APM vol. 2 15.36.10).
 */
static int vm_rmp_check(void *arg, const struct s2_check *chk, uint64_t *cycles)
{
	struct stack_vm *v = arg;
	struct stack *st = v->st;
	struct sim_agent *a = chk->agent >= 0 ? sim_agent_by_id(st->s, chk->agent) : NULL;
	struct sim_who who = { .now = a ? sim_now(a) : 0, .agent = chk->agent };
	struct rmp_gaccess ga = {
		.asid = v->asid, .vmpl = chk->vmpl, .gpa = chk->gpa, .spa = chk->spa,
		.c_bit = chk->c, .user = chk->user, .snp = v->asid != 0, .map_size = chk->size,
	};
	enum rmp_fault_kind k;

	if (!rmp_enabled(st->rmp))
		return 0;
	if (chk->table)
		ga.kind = chk->acc == S2_ACC_WRITE ? RMP_ACC_PT_WRITE : RMP_ACC_PT_READ;
	else if (chk->acc == S2_ACC_WRITE)
		ga.kind = RMP_ACC_WRITE;
	else if (chk->acc == S2_ACC_FETCH)
		ga.kind = chk->user ? RMP_ACC_FETCH_USER : RMP_ACC_FETCH_SUP;
	else
		ga.kind = RMP_ACC_READ;
	k = rmp_check_guest(st->rmp, &who, &ga, &v->last);
	*cycles += who.mem_cycles;
	return k == RMP_FAULT_NONE ? 0 : (int)k;
}

const char *stack_vm_fault_str(const struct stack_vm *v, const struct s2_fault *f, char *buf,
			       size_t len)
{
	if (f->type == S2_FAULT_CHECK) {
		rmp_fault_format(&v->last, buf, len);
		return buf;
	}
	return s2_fault_str(f, buf, len);
}

/*
 * Host stores into table pages.  Building or changing a table is the host
 * (hypervisor or VMM) writing memory, so each store is a host data write,
 * RMP-checked for Hypervisor-Owned (APM vol. 2 section 15.36.10, Table
 * 15-39; a store to an assigned page raises #PF with the RMP bit, which
 * Linux treats as fatal in the kernel).  Check-then-commit: every page the
 * operation would write (s2_write_set) is checked before the first store.
 * A nested table's new pages come from the host page allocator, which
 * never hands out an assigned page; a guest stage-1 table's new pages are
 * the guest pages above its root, checked too.
 */
static bool host_page_ok(struct stack *st, struct sim_who *who, uint64_t pa, struct host_wr *hw)
{
	uint64_t before = who->mem_cycles;
	bool ok = rmp_check_host(st->rmp, who, pa, true, SIM_SZ_4K, &hw->f) == RMP_FAULT_NONE;

	hw->cycles += who->mem_cycles - before;
	return ok;
}

static struct sim_who who_of(struct stack *st, int agent)
{
	struct sim_agent *a = agent >= 0 ? sim_agent_by_id(st->s, agent) : NULL;
	struct sim_who who = { .now = a ? sim_now(a) : 0, .agent = agent };

	return who;
}

bool stack_table_writes_ok(struct stack_vm *v, struct s2_pgt *p, bool s1, int agent,
			   enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
			   uint64_t leaf, const struct s2_prot *prot, struct host_wr *hw)
{
	struct stack *st = v->st;
	struct sim_who who = who_of(st, agent);
	struct s2_wset ws = { 0 };
	bool ok = true;

	memset(hw, 0, sizeof(*hw));
	/* A prediction that ends in an error leaves the outcome to the operation. */
	if (!rmp_enabled(st->rmp) || s2_write_set(p, op, ia, pa, size, leaf, prot, &ws) != S2_OK) {
		s2_wset_free(&ws);
		return true;
	}
	for (size_t i = 0; ok && i < ws.n; i++)
		ok = host_page_ok(st, &who, ws.pages[i], hw);
	for (uint64_t k = 0; ok && s1 && k < ws.new_tables; k++) {
		uint64_t spa;

		if (v->s1_next >= SIM_PA_LIMIT || k >= (SIM_PA_LIMIT - v->s1_next) / SIM_PAGE_SIZE ||
		    !stack_vm_gpa_spa(v, v->s1_next + k * SIM_PAGE_SIZE, &spa))
			break;   /* the operation runs out of table pages there (unmapped) */
		ok = host_page_ok(st, &who, spa, hw);
	}
	s2_wset_free(&ws);
	return ok;
}

bool stack_root_write_ok(struct stack *st, int agent, uint64_t pa, struct host_wr *hw)
{
	struct sim_who who = who_of(st, agent);

	memset(hw, 0, sizeof(*hw));
	if (!rmp_enabled(st->rmp))
		return true;
	return host_page_ok(st, &who, pa, hw);
}

/* ------------------------------------------------------------------ */
/* The registry                                                        */
/* ------------------------------------------------------------------ */

/* Per-VM statistics, vmN.* (sim_stat_group_add: one group per VM). */
static const struct sim_stat_desc vm_stat_desc[] = {
#define F(f) offsetof(struct stack_vm, ctr.f)
	{ "table_ops", SIM_STAT_COUNTER, F(table_ops),
	  "Operations on the VM's tables (s2 map/unmap/protect/annotate, s1 map)" },
	{ "table_refused", SIM_STAT_COUNTER, F(refused),
	  "Of those, refused: a table page the host would write is RMP-assigned" },
	{ "accesses", SIM_STAT_COUNTER, F(accesses), "Translations (s2 access, access)" },
	{ "faults", SIM_STAT_COUNTER, F(faults), "Of those, faulted (any stage, or the RMP)" },
	{ "rmp_faults", SIM_STAT_COUNTER, F(rmp_faults), "Of those, refused by the RMP check" },
	{ NULL, 0, 0, NULL },
#undef F
};

void stack_vm_count_op(struct stack_vm *v, bool refused)
{
	v->ctr.table_ops++;
	v->ctr.refused += refused;
}

void stack_vm_count_access(struct stack_vm *v, int rc, const struct s2_fault *f)
{
	v->ctr.accesses++;
	if (rc) {
		v->ctr.faults++;
		v->ctr.rmp_faults += f->type == S2_FAULT_CHECK;
	}
}

int stack_vm_create(struct stack *st, struct sim_who *who, unsigned id,
		    const struct s2_fmt_ops *fmt, unsigned levels, uint32_t asid)
{
	struct stack_vm *v;
	int rc;

	if (id >= S2_MAX_VMS || (fmt && fmt->stage != 2))
		return S2_ERR_INVAL;
	if (st->vm[id])
		return S2_ERR_EXISTS;
	v = sim_xcalloc(1, sizeof(*v));
	v->st = st;
	v->id = id;
	v->asid = asid;
	/* fmt NULL: a VM without stage 2 (a bare guest VM) */
	v->s2 = fmt ? s2_pgt_new(fmt, levels, st->mem, S2_NO_PAGE, &vm_s2_mm, v, who, &rc) : NULL;
	if (fmt && !v->s2) {
		free(v);
		return rc;
	}
	v->hook.check = vm_rmp_check;
	v->hook.arg = v;
	v->space.vmid = id;
	v->space.s2 = v->s2;
	v->space.hook = &v->hook;
	/*
	 * vmN, or vmN_G for the G-th VM N of the run (a statistic's name is
	 * taken for the whole run, and a destroyed VM's are kept)
	 */
	snprintf(v->prefix, sizeof(v->prefix), "vm%u", id);
	for (unsigned g = 2; sim_stat_has_prefix(st->s, v->prefix); g++)
		snprintf(v->prefix, sizeof(v->prefix), "vm%u_%u", id, g);
	v->stats = sim_stat_group_add(st->s, v->prefix, vm_stat_desc, v);
	st->vm[id] = v;
	if (id >= st->vm_hi)
		st->vm_hi = id + 1;
	return S2_OK;
}

void stack_vm_destroy(struct stack_vm *v)
{
	struct stack *st = v->st;

	if (v->guest) {
		stack_guest_free(v);   /* frees its run state, then comes back here */
		return;
	}
	st->vm[v->id] = NULL;
	while (st->vm_hi && !st->vm[st->vm_hi - 1])
		st->vm_hi--;
	/* KVM: the vCPUs (VMSA pages reclaimed), then slots and their backing */
	stack_kvm_run_free(v, NULL);
	stack_kvm_mem_free(v);
	sim_stat_group_remove(st->s, v->stats);
	s2_pgt_free(v->s1);
	s2_pgt_free(v->s2);
	free(v);
}

struct stack_vm *stack_vm_find(struct stack *st, unsigned id)
{
	return st && id < S2_MAX_VMS ? st->vm[id] : NULL;
}

int stack_vm_s1_create(struct stack_vm *v, struct sim_who *who, const struct s2_fmt_ops *fmt,
		       uint64_t root)
{
	int rc;

	if (!fmt || fmt->stage != 1)
		return S2_ERR_INVAL;
	if (v->s1)
		return S2_ERR_EXISTS;
	if (root & (SIM_PAGE_SIZE - 1))
		return S2_ERR_ALIGN;
	if (root >= SIM_PA_LIMIT)
		return S2_ERR_RANGE;
	v->s1_next = root + SIM_PAGE_SIZE;
	v->s1 = s2_pgt_new(fmt, fmt->min_levels, v->st->mem, root, &vm_s1_mm, v, who, &rc);
	if (!v->s1)
		return rc;
	v->space.s1 = v->s1;
	return S2_OK;
}

/* The IOMMU's stage2 mode walks a VM's nested table: the VM named by number. */
static struct s2_pgt *vm_table_of(void *arg, unsigned id)
{
	struct stack_vm *v = stack_vm_find(arg, id);

	return v ? v->s2 : NULL;
}

/* ------------------------------------------------------------------ */
/* The module                                                          */
/* ------------------------------------------------------------------ */

/*
 * An RMP instruction wrote entries: the vCPUs of every guest VM drop their
 * combined translations (which hold RMP check results); with
 * rmp.update_flush_tlb an RMPUPDATE or PSMASH flushed every TLB of the
 * machine, so their stage-2 TLBs and walk caches go too.
 */
static void on_rmp_change(void *arg, enum rmp_insn insn, uint64_t spa, uint64_t size)
{
	struct stack *st = arg;
	enum cpu_tlbi what = CPU_TLBI_L0;

	(void)spa;
	(void)size;
	if ((insn == RMP_INSN_RMPUPDATE || insn == RMP_INSN_PSMASH) && rmp_update_flushes_tlb(st->rmp))
		what = CPU_TLBI_ALL;
	for (unsigned i = 0; i < st->vm_hi; i++) {
		struct stack_guest *g = st->vm[i] ? st->vm[i]->guest : NULL;

		for (unsigned k = 0; g && k < g->nvcpu; k++)
			if (g->vcpu[k].h)
				cpu_vcpu_tlbi(g->vcpu[k].h, what);
		if (st->vm[i])
			stack_kvm_cpu_tlbi(st->vm[i], what);
	}
}

/* The IOMMU driver's IO table pages: from the host page allocator too. */
static uint64_t io_page_alloc(void *arg)
{
	struct stack *st = arg;
	uint64_t pa;

	return stack_palloc_get(st->pool, false, &pa) ? S2_NO_PAGE : pa;
}

static void io_page_free(void *arg, uint64_t pa)
{
	struct stack *st = arg;

	stack_palloc_put(st->pool, pa, false);
}

static int stack_attach(struct sim *s, struct sim_err *err)
{
	struct rmp *rmp = sim_get_model(s, &rmp_module);
	struct iommu *io = sim_get_model(s, &iommu_module);
	uint64_t size = sim_cfg_u64(s, "s2.pool_size");
	uint64_t base = sim_cfg_u64(s, "s2.pool_base");
	uint64_t mem = sim_mem_size(sim_mem(s));
	struct stack *st;
	struct sim_err perr;

	if (size & (SIM_PAGE_SIZE - 1))
		return sim_cfg_error(s, "s2.pool_size", err, "0x%llx: must be a multiple of 4k",
				     (unsigned long long)size);
	if (!base) {
		uint64_t top = rmp_enabled(rmp) ? rmp_base(rmp) : mem;

		top &= ~(SIM_SZ_2M - 1);
		if (top < size)
			return sim_cfg_error(s, "s2.pool_size", err, "0x%llx: no room below 0x%llx",
					     (unsigned long long)size, (unsigned long long)top);
		base = top - size;
	}
	if ((base & (SIM_PAGE_SIZE - 1)) || base > mem || size > mem - base)
		return sim_cfg_error(s, "s2.pool_base", err, "0x%llx: must be 4k aligned with the pool "
				     "inside machine.mem (0x%llx)", (unsigned long long)base,
				     (unsigned long long)mem);
	if (!s2_ctx_get(s))
		return sim_err_set(err, "stack: the machine has no stage-2 module (s2)");
	/* SNP: the host's ASIDs are ASIDs the hardware accepts */
	if (rmp_enabled(rmp) && sim_cfg_u64(s, "snp.asids") > sim_cfg_u64(s, "rmp.max_asid"))
		return sim_cfg_error(s, "snp.asids", err, "%llu: must not exceed rmp.max_asid (%llu)",
				     (unsigned long long)sim_cfg_u64(s, "snp.asids"),
				     (unsigned long long)sim_cfg_u64(s, "rmp.max_asid"));
	/* end SNP */
	if (stack_guest_check(s, "vm", err))
		return -1;
	for (unsigned i = 0; i < STACK_RUN_VMS; i++) {
		char k[16], p[8];

		snprintf(p, sizeof(p), "vm%u", i);
		snprintf(k, sizeof(k), "%s.elf", p);
		if (sim_cfg_str(s, k)[0] && stack_guest_check(s, p, err))
			return -1;
	}
	st = sim_xcalloc(1, sizeof(*st));
	st->s = s;
	st->mem = sim_mem(s);
	st->rmp = rmp;
	st->s2 = s2_ctx_get(s);
	st->snp_vm = UINT32_MAX;
	st->pool = stack_palloc_new(base, size, rmp, &perr);
	if (!st->pool)
		sim_fatal("stack: %s", perr.msg);   /* the range was checked above */
	st->pool_stats = stack_palloc_register_stats(st->pool, s);
	sim_stat_counter(s, "s2.pool.pages", &stack_palloc_stats(st->pool)->pages,
			 "Host pages in use: nested and IO tables, VMCB/VMSA pages (the host page allocator)");
	sim_stat_counter(s, "s2.pool.frees", &stack_palloc_stats(st->pool)->free_4k,
			 "Pages given back (tables emptied by unmap, destroyed tables and VMs)");
	if (io) {
		const struct iommu_page_source src = { io_page_alloc, io_page_free, st };

		iommu_set_vm_tables(io, vm_table_of, st);
		iommu_set_page_source(io, &src);
	}
	if (rmp)
		rmp_add_change_hook(rmp, on_rmp_change, st);
	/* SNP: the ASIDs and mirrors, the firmware */
	st->asids = stack_asids_new((uint32_t)sim_cfg_u64(s, "snp.asids"), sim_cfg_bool(s, "snp.mirror"),
				    sim_cfg_enum(s, "snp.asid_recycle") == 1);
	st->asid_stats = stack_asids_register_stats(st->asids, s);
	st->snp_fw = stack_snp_fw_new(st, sim_cfg_u64(s, "lat.stack.fw_cmd"),
				      sim_cfg_u64(s, "lat.stack.fw_page"));
	st->snp_fw_stats = stack_snp_fw_register_stats(st->snp_fw, s);
	/* end SNP */
	stack_kvm_read_keys(st);
	if (stack_gmem_init(st, err))
		sim_fatal("stack: %s", err->msg);   /* cannot fail today */
	sim_set_model(s, &stack_module, st);
	return 0;
}

static void stack_detach(struct sim *s)
{
	struct stack *st = stack_get(s);

	if (!st)
		return;
	for (unsigned i = 0; i < S2_MAX_VMS; i++)
		if (st->vm[i])
			stack_vm_destroy(st->vm[i]);
	stack_run_vms_free(st);
	stack_iothreads_free(st);
	stack_kvm_cpu_reap(st);   /* destroyed VMs' harts: kept for their statistics until now */
	/* SNP: guest contexts give their pages back before the allocator goes */
	sim_stat_group_remove(s, st->snp_fw_stats);
	stack_snp_fw_free(st->snp_fw);
	sim_stat_group_remove(s, st->asid_stats);
	stack_asids_free(st->asids);
	/* end SNP */
	stack_gmem_fini(st);
	if (sim_get_model(s, &iommu_module))
		iommu_drop_tables(sim_get_model(s, &iommu_module));   /* their pages are the pool's */
	sim_stat_group_remove(s, st->pool_stats);
	stack_palloc_free_all(st->pool);
	free(st);
	sim_set_model(s, &stack_module, NULL);
}

static void stack_summary(struct sim *s, FILE *out)
{
	struct stack *st = stack_get(s);
	unsigned n = 0;

	if (!st)
		return;
	for (unsigned i = 0; i < S2_MAX_VMS; i++)
		n += st->vm[i] != NULL;
	fprintf(out, "stack: %u VM%s, host pages %llu in use (tables, guest_memfd, VMCB/VMSA) at 0x%llx\n", n,
		n == 1 ? "" : "s", (unsigned long long)stack_palloc_stats(st->pool)->pages,
		(unsigned long long)stack_palloc_base(st->pool));
	stack_run_vms_summary(st, out);
}

const struct sim_module stack_module = {
	.name = "stack",
	.needs = (const char *const[]){ "rmp", "s2", "iommu", "cpu", NULL },
	.keys = stack_keys,
	.ops = stack_vm_ops,
	.attach = stack_attach,
	.detach = stack_detach,
	.summary = stack_summary,
};
