/*
 * ops_kvm.c - the operations of the language that are KVM ioctls on VMs,
 * their memory and guest_memfd (docs/script.md "VMs, memory and
 * guest_memfd"; the spelling is the v2 contract):
 *
 *   vm create   vm=N type=default|sw_protected|snp|pkvm [vcpus=N] [asid=N] -> OK [asid=N]
 *   vm destroy  vm=N                                                      -> OK
 *   gmem create vm=N fd=N size=SIZE [flags=N]                             -> OK fd=N
 *   vm memslot  vm=N slot=N gpa=ADDR size=SIZE [gmem=FD] [offset=ADDR] [spa=ADDR] -> OK
 *   vm attr     vm=N gpa=ADDR size=SIZE private=0|1                       -> OK
 *   gmem punch  fd=N offset=ADDR size=SIZE                                -> OK
 *   gmem alloc  fd=N offset=ADDR size=SIZE                                -> OK
 *   vm page     vm=N gpa=ADDR          -> OK private= mapped= spa= [the RMP entry]
 *   vm mirror   vm=N from=M            -> OK asid=A
 *   snp launch_start  vm=N [policy=N]
 *   snp launch_update vm=N gpa=ADDR size=SIZE [type=normal|zero|unmeasured|secrets|cpuid|vmsa]
 *   snp launch_finish vm=N                                                -> OK measurement=...
 *
 * A refusal prints ERROR(ERRNO), the name of the errno the ioctl returns.
 * Each runs on the line's agent; its table walks, RMP instructions and
 * checks are timed and charged to it.  The models are kvm_mem.c (memslots,
 * attributes), gmem.c (guest_memfd) and asid.c (SNP ASIDs).
 */
#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_host.h"   /* pKVM hook */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const vm_type_choices[] = { "default", "sw_protected", "snp", "pkvm", NULL };

static struct sim_who who_of_call(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };

	return who;
}

/* OK, or ERROR(ENAME) for a negative errno @rc; charge @cycles and the memory cycles. */
static void finish(struct sim_call *c, int rc, const struct sim_who *who, uint64_t cycles)
{
	if (rc < 0)
		stack_put_errno(c, rc);
	else
		sim_call_result(c, "OK");
	sim_advance(sim_call_agent(c), cycles + (who ? who->mem_cycles : 0));
	stack_check_after(c);
}

/* The KVM VM named by vm= (a VM made by `vm create`), or NULL with ERROR(ENOENT). */
static struct stack_vm *kvm_vm(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	struct stack_vm *v = stack_vm_find(st, (unsigned)sim_arg_u64(c, "vm", 0));

	if (!v || !v->kvm) {
		finish(c, -ENOENT, NULL, 0);
		return NULL;
	}
	return v;
}

/* The open guest_memfd named by fd= (or by @key), or NULL with ERROR(EBADF). */
static struct stack_gmem *gmem_fd(struct sim_call *c, const char *key)
{
	struct stack *st = stack_get(sim_call_sim(c));
	uint64_t fd = sim_arg_u64(c, key, 0);

	if (fd >= STACK_MAX_FDS || !st->fd[fd]) {
		finish(c, -EBADF, NULL, 0);
		return NULL;
	}
	return st->fd[fd];
}

/* ------------------------------------------------------------------ */
/* VMs                                                                 */
/* ------------------------------------------------------------------ */

static void op_vm_create(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	unsigned id = (unsigned)sim_arg_u64(c, "vm", 0);
	unsigned type = sim_arg_enum(c, "type", 0);
	uint32_t asid = 0;
	struct sim_who who = who_of_call(c);
	uint64_t cycles = 0;
	char prefix[32];
	int rc;

	/* pKVM hook: type=pkvm only on a pKVM host, which has no SEV or guest_memfd types */
	if (type == 3 && !stack_pkvm_host_of(sim_call_sim(c))) {
		sim_call_bad_arg(c, "type", "pkvm needs `machine host=pkvm`");
		return;
	}
	if (stack_pkvm_host_of(sim_call_sim(c)) && type != 0 && type != 3) {
		finish(c, -EINVAL, NULL, 0);   /* KVM/arm64: no such VM type */
		return;
	}
	if (stack_vm_find(st, id)) {
		finish(c, -EEXIST, NULL, 0);
		return;
	}
	if (type == STACK_KVM_VM_SNP) {
		rc = stack_asid_new(st->asids, (uint32_t)sim_arg_u64(c, "asid", 0), &asid);
		if (rc) {
			finish(c, rc, NULL, 0);
			return;
		}
	}
	rc = stack_vm_create(st, &who, id, s2_fmt(S2_FMT_NPT), 4, asid);
	if (rc != S2_OK) {
		if (asid)
			stack_asid_put(st->asids, asid, false);
		finish(c, rc == S2_ERR_NOMEM ? -ENOMEM : -EINVAL, &who, 0);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s.mem", st->vm[id]->prefix);
	/* a pKVM VM's memory is KVM's default kind (no private attribute): pKVM hook */
	if (stack_kvm_mem_init(st->vm[id], type == 3 ? STACK_KVM_VM_DEFAULT :
			       (enum stack_kvm_vm_type)type, prefix))
		sim_fatal("stack: vm create: %s: cannot set up KVM memory", prefix);
	st->vm[id]->nvcpus = (unsigned)sim_arg_u64(c, "vcpus", 1);
	stack_kvm_run_init(st->vm[id], st->vm[id]->prefix);
	/* pKVM hook: the hypervisor's VM (metadata donated; protected for type=pkvm) */
	rc = stack_pkvm_vm_created(st->vm[id], type == 3, &who, &cycles);
	if (rc) {
		stack_kvm_run_free(st->vm[id], &who);
		stack_kvm_mem_free(st->vm[id]);
		stack_vm_destroy(st->vm[id]);
		finish(c, rc, &who, cycles);
		return;
	}
	finish(c, 0, &who, cycles);
	if (asid)
		sim_call_field_u64(c, "asid", asid);
}

/*
 * KVM's VM teardown as the VMM ending does it: its guest_memfd files are
 * closed (their memslots deleted first), so every private page goes back
 * to the hypervisor (RMPUPDATE, PSMASH first where needed; a page that
 * cannot be reclaimed is leaked), then the memslots and the tables, then
 * the ASID (free once no mirror uses it).
 */
static void op_vm_destroy(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	struct stack_vm *v = kvm_vm(c);
	struct sim_who who = who_of_call(c);
	uint64_t cycles = 0;
	uint32_t asid;
	bool mirror;

	if (!v)
		return;
	if (stack_kvm_vcpu_running(v, -1)) {
		finish(c, -EBUSY, NULL, 0);   /* a vCPU thread is in KVM_RUN (another agent's line) */
		return;
	}
	asid = v->asid;
	stack_kvm_run_free(v, &who);   /* the vCPUs go first (sev_free_vcpu: VMSA pages reclaimed) */
	stack_pkvm_vm_gone(v, &who, &cycles);   /* pKVM hook: teardown, reclaim, finalize */
	if (v->snp) {
		stack_snp_decommission(v->snp);   /* the firmware forgets the guest */
		v->snp = NULL;
	}
	if (st->snp_backing == STACK_SNP_BACKING_LEGACY)
		(void)stack_kvm_legacy_reclaim(v, &who);   /* the VMM's pages back to the hypervisor */
	stack_kvm_mem_free(v);   /* unbinds the guest_memfd slots */
	for (unsigned fd = 0; fd < STACK_MAX_FDS; fd++) {
		if (st->fd[fd] && stack_gmem_vm(st->fd[fd]) == v) {
			stack_gmem_release(st->fd[fd], &who, &cycles);
			st->fd[fd] = NULL;
		}
	}
	mirror = v->mirror;
	stack_vm_destroy(v);
	if (asid)
		stack_asid_put(st->asids, asid, mirror);
	finish(c, 0, &who, cycles);
}

/*
 * vm mirror: VM N is created and KVM_CAP_VM_COPY_ENC_CONTEXT_FROM enabled
 * on it (sev_vm_copy_enc_context_from): it shares M's encryption context,
 * its ASID, which then outlives M until the last mirror is gone.  An SNP
 * source is refused (-EINVAL) unless snp.mirror=1 (the migration helper).
 */
static void op_vm_mirror(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	unsigned id = (unsigned)sim_arg_u64(c, "vm", 0);
	struct stack_vm *src = stack_vm_find(st, (unsigned)sim_arg_u64(c, "from", 0));
	struct sim_who who = who_of_call(c);
	char prefix[32];
	int rc;

	if (stack_vm_find(st, id)) {
		finish(c, -EEXIST, NULL, 0);
		return;
	}
	if (!src || !src->kvm) {
		finish(c, -ENOENT, NULL, 0);
		return;
	}
	rc = stack_asid_mirror(st->asids, src->asid, src->mirror);
	if (rc) {
		finish(c, rc, NULL, 0);
		return;
	}
	rc = stack_vm_create(st, &who, id, s2_fmt(S2_FMT_NPT), 4, src->asid);
	if (rc != S2_OK) {
		stack_asid_put(st->asids, src->asid, true);
		finish(c, rc == S2_ERR_NOMEM ? -ENOMEM : -EINVAL, &who, 0);
		return;
	}
	st->vm[id]->mirror = true;
	snprintf(prefix, sizeof(prefix), "%s.mem", st->vm[id]->prefix);
	if (stack_kvm_mem_init(st->vm[id], src->kvm->type, prefix))
		sim_fatal("stack: vm mirror: %s: cannot set up KVM memory", prefix);
	st->vm[id]->nvcpus = 1;
	stack_kvm_run_init(st->vm[id], st->vm[id]->prefix);
	finish(c, 0, &who, 0);
	sim_call_field_u64(c, "asid", src->asid);
}

/* ------------------------------------------------------------------ */
/* guest_memfd                                                         */
/* ------------------------------------------------------------------ */

/*
 * kvm_gmem_invalidate_begin: before a punch or release of file bytes
 * [start, end), the nested mappings of every GFN bound to them are zapped.
 */
static void gmem_invalidate(void *arg, struct stack_gmem *f, struct sim_who *who, uint64_t start,
			    uint64_t end, uint64_t *cycles)
{
	struct stack_vm *v = stack_gmem_vm(f);

	(void)arg;
	(void)cycles;
	if (!v || !v->kvm)
		return;
	for (size_t i = 0; i < v->kvm->nslots; i++) {
		const struct stack_kvm_slot *sl = &v->kvm->slots[i];
		uint64_t lo = sl->gmem_offset, hi = lo + (sl->npages << 12);

		if (sl->gmem != f || end <= lo || start >= hi)
			continue;
		lo = start > lo ? start : lo;
		hi = end < hi ? end : hi;
		(void)stack_kvm_zap_range(v, who, (sl->base_gfn << 12) + lo - sl->gmem_offset,
					  (sl->base_gfn << 12) + hi - sl->gmem_offset);
	}
}

static void op_gmem_create(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	struct stack_vm *v = kvm_vm(c);
	uint64_t fd = sim_arg_u64(c, "fd", 0);
	struct stack_gmem *f;
	int rc;

	if (!v)
		return;
	if (st->fd[fd]) {
		sim_call_bad_arg(c, "fd", "fd %llu is open already", (unsigned long long)fd);
		return;
	}
	rc = stack_gmem_create(v, sim_arg_u64(c, "size", 0), sim_arg_u64(c, "flags", 0), &f);
	if (!rc) {
		st->fd[fd] = f;
		stack_gmem_set_invalidate(f, gmem_invalidate, NULL);
	}
	finish(c, rc, NULL, 0);
	if (!rc)
		sim_call_field_u64(c, "fd", fd);
}

static void fallocate_op(struct sim_call *c, unsigned mode)
{
	struct stack_gmem *f = gmem_fd(c, "fd");
	struct sim_who who = who_of_call(c);
	uint64_t cycles = 0;
	int rc;

	if (!f)
		return;
	rc = stack_gmem_fallocate(f, &who, mode, sim_arg_u64(c, "offset", 0),
				  sim_arg_u64(c, "size", 0), &cycles);
	finish(c, rc, &who, cycles);
}

static void op_gmem_alloc(struct sim_call *c)
{
	fallocate_op(c, STACK_GMEM_FALLOC_KEEP_SIZE);
}

static void op_gmem_punch(struct sim_call *c)
{
	fallocate_op(c, STACK_GMEM_FALLOC_KEEP_SIZE | STACK_GMEM_FALLOC_PUNCH_HOLE);
}

/* ------------------------------------------------------------------ */
/* Memslots and attributes                                             */
/* ------------------------------------------------------------------ */

/* The binding key of memslot @slot of VM @v in a guest_memfd. */
static const void *slot_key(const struct stack_vm *v, uint32_t slot)
{
	return (const void *)(uintptr_t)(((uintptr_t)v->id << 32 | slot) + 1);
}

static int gmem_bind(void *file, struct stack_vm *v, uint32_t slot, uint64_t offset,
		     uint64_t npages)
{
	return stack_gmem_bind(file, v, slot_key(v, slot), offset, npages * SIM_PAGE_SIZE);
}

static void gmem_unbind(void *file, struct stack_vm *v, uint32_t slot)
{
	(void)stack_gmem_unbind(file, slot_key(v, slot));
}

static const struct stack_kvm_gmem_ops gmem_ops = { gmem_bind, gmem_unbind };

static void op_vm_memslot(struct sim_call *c)
{
	struct stack_vm *v = kvm_vm(c);
	struct sim_who who = who_of_call(c);
	struct stack_kvm_region r = {
		.slot = (uint32_t)sim_arg_u64(c, "slot", 0),
		.gpa = sim_arg_u64(c, "gpa", 0),
		.size = sim_arg_u64(c, "size", 0),
		.spa = sim_arg_has(c, "spa") ? sim_arg_u64(c, "spa", 0) : STACK_KVM_SPA_ALLOC,
		.gmem_offset = sim_arg_u64(c, "offset", 0),
	};

	if (!v)
		return;
	if (stack_pkvm_memslot_check(v)) {   /* pKVM hook: memslots frozen (protected_vm) */
		finish(c, -EPERM, NULL, 0);
		return;
	}
	if (sim_arg_has(c, "gmem")) {
		struct stack_gmem *f = gmem_fd(c, "gmem");

		if (!f)
			return;
		r.flags |= STACK_KVM_MEM_GUEST_MEMFD;
		r.gmem = f;
		r.gmem_ops = &gmem_ops;
	}
	finish(c, stack_kvm_set_memory_region(v, &who, &r), &who, 0);
}

static void op_vm_attr(struct sim_call *c)
{
	struct stack_vm *v = kvm_vm(c);
	struct sim_who who = who_of_call(c);

	if (!v)
		return;
	finish(c, stack_kvm_set_memory_attributes(v, &who, sim_arg_u64(c, "gpa", 0),
						  sim_arg_u64(c, "size", 0),
						  sim_arg_bool(c, "private", false) ?
						  STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, 0),
	       &who, 0);
}

/*
 * What backs a GPA now: whether it is private, whether the nested table
 * maps it, and the page behind it (the mapping's; for a private GPA of a
 * guest_memfd slot the file's page; for a shared one the VMM's backing),
 * and on SNP the effective RMP entry of that page, as rmpread prints it.
 */
static void op_vm_page(struct sim_call *c)
{
	struct stack_vm *v = kvm_vm(c);
	struct sim_who who = who_of_call(c);
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), spa = 0;
	const struct stack_kvm_slot *sl;
	struct stack_kvm_page pg;
	struct rmp_entry e;
	bool backed = false, big, prepared;
	int rc;

	if (!v)
		return;
	rc = stack_kvm_page_query(v, &who, gpa, &pg);
	finish(c, rc, &who, 0);
	if (rc)
		return;
	sim_call_field_u64(c, "private", pg.private_);
	sim_call_field_u64(c, "mapped", pg.mapped);
	sl = stack_kvm_gfn_to_slot(v, gpa >> 12);
	if (pg.mapped) {
		spa = pg.spa;
		backed = true;
	} else if (pg.private_ && sl && sl->gmem &&
		   !stack_gmem_page(sl->gmem, sl->gmem_offset + (gpa & ~0xfffull) -
				    (sl->base_gfn << 12), &spa, &big, &prepared)) {
		spa |= gpa & 0xfff;
		backed = true;
	} else if (!pg.private_ && pg.shared_backed) {
		spa = pg.shared_spa;
		backed = true;
	}
	if (backed)
		sim_call_field_hex(c, "spa", spa);
	if (v->asid && backed && rmp_entry_effective(v->st->rmp, spa & ~0xfffull, &e)) {
		sim_call_field_u64(c, "assigned", e.assigned);
		sim_call_field(c, "size", "%s", e.page_2m ? "2m" : "4k");
		sim_call_field_u64(c, "asid", e.asid);
		sim_call_field_hex(c, "gpa", e.gpa);
		sim_call_field_u64(c, "validated", e.validated);
	}
}

/* ------------------------------------------------------------------ */
/* SNP launch (KVM_SEV_SNP_LAUNCH_*, through the firmware model)        */
/* ------------------------------------------------------------------ */

static const char *const page_type_choices[] = {
	"normal", "vmsa", "zero", "unmeasured", "secrets", "cpuid", NULL
};

/* The SNP VM of vm=, or NULL with ERROR(EINVAL) (not SNP) / ERROR(ENOENT). */
static struct stack_vm *snp_vm(struct sim_call *c)
{
	struct stack_vm *v = kvm_vm(c);

	if (v && v->kvm->type != STACK_KVM_VM_SNP) {
		finish(c, -EINVAL, NULL, 0);
		return NULL;
	}
	return v;
}

/* A refused firmware command: ERROR(EIO) with the firmware's status (the ioctl's fw_error). */
static void fw_finish(struct sim_call *c, enum stack_snp_status st, const struct sim_who *who,
		      uint64_t cycles)
{
	finish(c, stack_snp_errno(st), who, cycles);
	if (st != STACK_SNP_SUCCESS)
		sim_call_field(c, "fw_error", "%s", stack_snp_status_name(st));
}

/*
 * snp_launch_start: the guest context (SNP_GCTX_CREATE), SNP_LAUNCH_START
 * with the policy, SNP_ACTIVATE with the VM's ASID.
 */
static void op_snp_launch_start(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	struct stack_vm *v = snp_vm(c);
	struct sim_who who = who_of_call(c);
	enum stack_snp_status s;
	uint64_t cycles = 0;

	if (!v)
		return;
	if (v->snp) {
		finish(c, -EINVAL, NULL, 0);   /* KVM: the launch has started already */
		return;
	}
	s = stack_snp_gctx_create(st->snp_fw, &v->snp, &cycles);
	if (s == STACK_SNP_SUCCESS)
		s = stack_snp_launch_start(v->snp, sim_arg_u64(c, "policy", STACK_SNP_POLICY_DEFAULT),
					   &cycles);
	if (s == STACK_SNP_SUCCESS)
		s = stack_snp_activate(v->snp, v->asid, &cycles);
	if (s != STACK_SNP_SUCCESS && v->snp) {
		stack_snp_decommission(v->snp);
		v->snp = NULL;
	}
	fw_finish(c, s, &who, cycles);
}

struct populate {
	struct stack_vm *v;
	struct stack_snp_update how;
	enum stack_snp_status fw;
};

static int populate_page(void *arg, struct sim_who *who, uint64_t gpa, uint64_t spa,
			 uint64_t *cycles)
{
	struct populate *p = arg;

	return stack_snp_kvm_populate(p->v->snp, who, spa, gpa, &p->how, &p->fw, cycles);
}

/*
 * snp.backing=legacy: LAUNCH_UPDATE on the VMM's own pages (the 2021
 * series pinned the userspace range): the range must lie in one memslot;
 * each page of its backing is made Pre-Guest and given to the firmware.
 */
static void launch_update_legacy(struct sim_call *c, struct stack_vm *v,
				 const struct stack_kvm_slot *sl, uint64_t gpa, uint64_t size,
				 struct populate *p)
{
	struct sim_who who = who_of_call(c);
	uint64_t cycles = 0;
	int rc = 0;

	if (!sl || ((gpa + size - 1) >> 12) >= sl->base_gfn + sl->npages) {
		finish(c, -EINVAL, NULL, 0);
		return;
	}
	for (uint64_t a = gpa; a < gpa + size && !rc; a += SIM_PAGE_SIZE) {
		uint64_t spa;

		rc = stack_kvm_backing(v, a, true, &spa);
		if (!rc)
			rc = populate_page(p, &who, a, spa & ~(SIM_PAGE_SIZE - 1), &cycles);
	}
	finish(c, rc, &who, cycles);
	if (rc == -EIO)
		sim_call_field(c, "fw_error", "%s", stack_snp_status_name(p->fw));
}

/*
 * snp_launch_update (sev_gmem_post_populate through kvm_gmem_populate):
 * the range must be inside one guest_memfd memslot and private; each page
 * is taken from the file, made Pre-Guest and given to LAUNCH_UPDATE.
 */
static void op_snp_launch_update(struct sim_call *c)
{
	struct stack_vm *v = snp_vm(c);
	struct sim_who who = who_of_call(c);
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), size = sim_arg_u64(c, "size", 0), cycles = 0;
	const struct stack_kvm_slot *sl;
	struct populate p = { 0 };
	int rc;

	if (!v)
		return;
	if (!v->snp || stack_snp_gstate(v->snp) != STACK_SNP_GSTATE_LAUNCH ||
	    (gpa | size) & (SIM_PAGE_SIZE - 1) || !size || gpa + size < gpa) {
		finish(c, -EINVAL, NULL, 0);
		return;
	}
	sl = stack_kvm_gfn_to_slot(v, gpa >> 12);
	p.v = v;
	p.how.type = (enum stack_snp_page_type)(sim_arg_enum(c, "type", 0) + 1);
	if (v->st->snp_backing == STACK_SNP_BACKING_LEGACY) {
		launch_update_legacy(c, v, sl, gpa, size, &p);
		return;
	}
	if (!sl || !sl->gmem || ((gpa + size - 1) >> 12) >= sl->base_gfn + sl->npages ||
	    !stack_kvm_range_has_attributes(v, gpa >> 12, (gpa + size) >> 12,
					    STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
		finish(c, -EINVAL, NULL, 0);   /* KVM: not private guest_memfd memory */
		return;
	}
	rc = stack_gmem_populate(sl->gmem, &who, sl->gmem_offset + gpa - (sl->base_gfn << 12), gpa,
				 size >> 12, populate_page, &p, &cycles);
	finish(c, rc, &who, cycles);
	if (rc == -EIO)
		sim_call_field(c, "fw_error", "%s", stack_snp_status_name(p.fw));
}

/*
 * snp_launch_update_vmsa: each vCPU's VMSA page (from the host page
 * allocator) is made Pre-Guest at KVM's INITIAL_VMSA_GPA and given to
 * LAUNCH_UPDATE as a VMSA page, which leaves it assigned, validated and
 * VMSA.  Return: 0, or the negative errno of the first failure (with the
 * firmware's status in *@fw).
 */
static int launch_vmsas(struct stack_vm *v, struct sim_who *who, enum stack_snp_status *fw,
			uint64_t *cycles)
{
	struct stack_snp_update how = { .type = STACK_SNP_PAGE_VMSA };

	for (unsigned k = 0; k < STACK_KVM_MAX_VCPUS; k++) {
		struct stack_kvm_vcpu *vc = &v->run->vcpu[k];
		uint64_t spa;
		int rc;

		if (!vc->created || vc->kvm_vmsa_spa)
			continue;
		if (stack_palloc_get(v->st->pool, false, &spa))
			return -ENOMEM;
		rc = stack_snp_kvm_populate(v->snp, who, spa, STACK_SNP_VMSA_GPA, &how, fw, cycles);
		if (rc) {
			stack_palloc_put(v->st->pool, spa, false);   /* leaked if still assigned */
			return rc;
		}
		vc->vmsa_spa = vc->kvm_vmsa_spa = spa;
		vc->vmsa_gpa = STACK_SNP_VMSA_GPA;
	}
	return 0;
}

static void op_snp_launch_finish(struct sim_call *c)
{
	struct stack_vm *v = snp_vm(c);
	struct sim_who who = who_of_call(c);
	enum stack_snp_status s, fw = STACK_SNP_SUCCESS;
	uint64_t cycles = 0;
	int rc;

	if (!v)
		return;
	if (!v->snp || stack_snp_gstate(v->snp) != STACK_SNP_GSTATE_LAUNCH) {
		finish(c, -EINVAL, NULL, 0);
		return;
	}
	rc = launch_vmsas(v, &who, &fw, &cycles);
	if (rc) {
		finish(c, rc, &who, cycles);
		if (rc == -EIO)
			sim_call_field(c, "fw_error", "%s", stack_snp_status_name(fw));
		return;
	}
	s = stack_snp_launch_finish(v->snp, &cycles);
	fw_finish(c, s, &who, cycles);
	if (s == STACK_SNP_SUCCESS) {
		const uint8_t *d = stack_snp_digest(v->snp);
		char hex[2 * STACK_SNP_DIGEST_SIZE + 1];

		for (unsigned i = 0; i < STACK_SNP_DIGEST_SIZE; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		sim_call_field(c, "measurement", "%s", hex);
	}
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

static const struct sim_arg_spec vm_create_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_ENUM("type", true, vm_type_choices),
	SIM_A_INT("vcpus", false, 0, 64),
	SIM_A_INT("asid", false, 1, 1023),
	SIM_A_END
};

static const struct sim_arg_spec vm_only_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_END
};

static const struct sim_arg_spec vm_mirror_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_INT("from", true, 0, S2_MAX_VMS - 1),
	SIM_A_END
};

static const struct sim_arg_spec gmem_create_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_INT("fd", true, 0, STACK_MAX_FDS - 1),
	SIM_A_SIZE("size", true),
	SIM_A_U64("flags", false),
	SIM_A_END
};

static const struct sim_arg_spec gmem_range_args[] = {
	SIM_A_INT("fd", true, 0, STACK_MAX_FDS - 1),
	SIM_A_ADDR("offset", true),
	SIM_A_SIZE("size", true),
	SIM_A_END
};

static const struct sim_arg_spec vm_memslot_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_INT("slot", true, 0, UINT32_MAX),
	SIM_A_ADDR("gpa", true),
	SIM_A_SIZE("size", true),
	SIM_A_INT("gmem", false, 0, STACK_MAX_FDS - 1),
	SIM_A_ADDR("offset", false),
	SIM_A_ADDR("spa", false),
	SIM_A_END
};

static const struct sim_arg_spec vm_attr_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_ADDR("gpa", true),
	SIM_A_SIZE("size", true),
	SIM_A_BOOL("private", true),
	SIM_A_END
};

static const struct sim_arg_spec snp_start_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_U64("policy", false),
	SIM_A_END
};

static const struct sim_arg_spec snp_update_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_ADDR("gpa", true),
	SIM_A_SIZE("size", true),
	SIM_A_ENUM("type", false, page_type_choices),
	SIM_A_END
};

static const struct sim_arg_spec vm_page_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1),
	SIM_A_ADDR("gpa", true),
	SIM_A_END
};

static const struct sim_op stack_kvm_ops[] = {
	{ "vm create", vm_create_args,
	  "KVM_CREATE_VM: VM vm of type (snp: the lowest free ASID, or asid=): OK [asid=N]",
	  op_vm_create },
	{ "vm destroy", vm_only_args,
	  "tear VM vm down: its guest_memfd files closed (pages back to the hypervisor), slots, tables, ASID",
	  op_vm_destroy },
	{ "vm mirror", vm_mirror_args,
	  "VM vm shares VM from's encryption context (KVM_CAP_VM_COPY_ENC_CONTEXT_FROM): OK asid=A",
	  op_vm_mirror },
	{ "gmem create", gmem_create_args,
	  "KVM_CREATE_GUEST_MEMFD: file fd of size bytes bound to VM vm: OK fd=N", op_gmem_create },
	{ "gmem alloc", gmem_range_args, "fallocate(): folios for [offset, offset + size)",
	  op_gmem_alloc },
	{ "gmem punch", gmem_range_args,
	  "fallocate(PUNCH_HOLE): [offset, offset + size) freed, its private pages made shared",
	  op_gmem_punch },
	{ "vm memslot", vm_memslot_args,
	  "KVM_SET_USER_MEMORY_REGION2: slot of VM vm at gpa (size 0 deletes; gmem= a guest_memfd)",
	  op_vm_memslot },
	{ "vm attr", vm_attr_args, "KVM_SET_MEMORY_ATTRIBUTES: [gpa, gpa + size) private or shared",
	  op_vm_attr },
	{ "vm page", vm_page_args,
	  "what backs gpa now: OK private= mapped= spa= (SNP: the page's RMP entry)", op_vm_page },
	{ "snp launch_start", snp_start_args,
	  "KVM_SEV_SNP_LAUNCH_START: the firmware's guest context, LAUNCH_START with policy, ACTIVATE",
	  op_snp_launch_start },
	{ "snp launch_update", snp_update_args,
	  "KVM_SEV_SNP_LAUNCH_UPDATE: the private guest_memfd pages of [gpa, gpa + size) measured into the guest",
	  op_snp_launch_update },
	{ "snp launch_finish", vm_only_args,
	  "KVM_SEV_SNP_LAUNCH_FINISH: OK measurement=HEX (the launch digest)", op_snp_launch_finish },
	{ NULL, NULL, NULL, NULL }
};

/*
 * The KVM operations as a module of their own ("kvm", after the stack
 * module whose VMs, allocator, ASIDs and guest_memfd files they use).
 */
const struct sim_module stack_kvm_module = {
	.name = "kvm",
	.needs = (const char *const[]){ "stack", NULL },
	.ops = stack_kvm_ops,
};
