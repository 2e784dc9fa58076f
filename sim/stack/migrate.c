/*
 * migrate.c - intra-host migration (KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
 * Linux arch/x86/kvm/svm/sev.c sev_vm_move_enc_context_from), a protsim
 * extension operation of the host module:
 *
 *   vm migrate vm=N from=M   -> OK asid=A | ERROR(EEXIST|ENOENT|EINVAL|EIO)
 *
 * VM N is created and M's encryption context moves to it: the ASID, the
 * firmware's guest context, and each vCPU's VMSA and GHCB state
 * (sev_migrate_from); M is dead afterwards (kvm_vm_dead: its guest
 * actions answer KILLED, its teardown touches no page of the moved
 * context).  RMP entries name the ASID, not the VM, so nothing is
 * re-prepared (protection-semantics §9.4).  Memslots do not move: the VMM
 * registers its memory again on N (`vm memslot ... spa=` on the same
 * backing).
 *
 * Refusals, as sev_vm_move_enc_context_from orders them: N exists
 * (EEXIST: the model creates N, as `vm mirror` does); M is no KVM VM, or
 * a kexec dropped it (ENOENT); M is dead (EIO: an ioctl on a dead VM);
 * M is no SEV guest, or a mirror [model choice: Linux moves a mirror's
 * context too; protsim refuses it] (EINVAL); M is an SNP guest and
 * snp.migrate=0 (EINVAL: Linux rejects SNP sources "until additional
 * state transfer is implemented"; every ASID here is an SNP one); M has
 * guest_memfd memory (EINVAL [model choice]: a guest_memfd file stays
 * bound to the VM that created it, and upstream has no way to move it,
 * so the source's teardown would take the private memory with it).
 */
#include "sim/stack/host.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void put_rc(struct sim_call *c, int rc)
{
	if (rc)
		stack_put_errno(c, rc);
	else
		sim_call_result(c, "OK");
}

static bool has_gmem(const struct stack_vm *v)
{
	for (size_t i = 0; v->kvm && i < v->kvm->nslots; i++)
		if (v->kvm->slots[i].gmem)
			return true;
	for (unsigned fd = 0; fd < STACK_MAX_FDS; fd++)
		if (v->st->fd[fd] && stack_gmem_vm(v->st->fd[fd]) == v)
			return true;
	return false;
}

static int migrate_check(struct host *h, struct stack_vm *src)
{
	if (!src || !src->kvm || host_vm_gone(h, src))
		return -ENOENT;
	if (src->run && src->run->killed)
		return -EIO;
	if (!src->asid || src->mirror)
		return -EINVAL;   /* !sev_guest(source_kvm) */
	if (!h->snp_migrate)
		return -EINVAL;   /* sev_snp_guest(source_kvm) */
	if (has_gmem(src))
		return -EINVAL;
	return 0;
}

void stack_op_vm_migrate(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	struct stack *st = stack_get(sim_call_sim(c));
	struct host *h = host_get(sim_call_sim(c));
	unsigned id = (unsigned)sim_arg_u64(c, "vm", 0);
	struct stack_vm *src = stack_vm_find(st, (unsigned)sim_arg_u64(c, "from", 0)), *dst;
	struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };
	char prefix[48];
	int rc;

	sim_sync(a);
	if (stack_vm_find(st, id)) {
		put_rc(c, -EEXIST);
		return;
	}
	rc = migrate_check(h, src);
	if (rc) {
		put_rc(c, rc);
		return;
	}
	rc = stack_vm_create(st, &who, id, s2_fmt(S2_FMT_NPT), 4, src->asid);
	if (rc != S2_OK) {
		put_rc(c, rc == S2_ERR_NOMEM ? -ENOMEM : -EINVAL);
		sim_advance(a, who.mem_cycles);
		return;
	}
	dst = st->vm[id];
	snprintf(prefix, sizeof(prefix), "%s.mem", dst->prefix);
	if (stack_kvm_mem_init(dst, src->kvm->type, prefix))
		sim_fatal("stack: vm migrate: %s: cannot set up KVM memory", prefix);
	dst->nvcpus = src->nvcpus;
	stack_kvm_run_init(dst, dst->prefix);
	/* sev_migrate_from: the context moves, source => destination */
	dst->snp = src->snp;
	src->snp = NULL;
	src->asid = 0;
	for (unsigned k = 0; src->run && k < STACK_KVM_MAX_VCPUS; k++) {
		struct stack_kvm_vcpu *s = &src->run->vcpu[k], *d = &dst->run->vcpu[k];

		d->created = s->created;
		d->power_off = s->power_off;
		d->ghcb_msr = s->ghcb_msr;
		d->ghcb_gpa = s->ghcb_gpa;
		d->guest_ghcb = s->guest_ghcb;
		/* the VMSA pointers move; they are nullified on the source */
		d->vmsa_spa = s->vmsa_spa;
		d->vmsa_gpa = s->vmsa_gpa;
		d->kvm_vmsa_spa = s->kvm_vmsa_spa;
		d->vmsa_revoked = s->vmsa_revoked;
		d->ap_vmsa_gpa = s->ap_vmsa_gpa;
		d->ap_waiting = s->ap_waiting;
		d->ap_request = s->ap_request;
		s->vmsa_spa = s->kvm_vmsa_spa = 0;
	}
	if (src->run)
		src->run->killed = true;            /* kvm_vm_dead(source_kvm) */
	/* two VM locks, the vCPU mutexes, the context transfer: one ioctl */
	sim_advance(a, who.mem_cycles + st->lat.ioctl);
	put_rc(c, 0);
	sim_call_field_u64(c, "asid", dst->asid);
	stack_check_after(c);
}
