/*
 * vmm.c - the VMM's answers to the exits KVM gives it (a QEMU-like
 * process: accel/kvm/kvm-all.c kvm_cpu_exec, kvm_convert_memory; target
 * i386 kvm_handle_hypercall).  It runs on the thread that called KVM_RUN
 * and pays lat.stack.ioctl for each ioctl it makes.
 *
 *   MEMORY_FAULT          convert the page to what the guest used (an
 *                         implicit conversion), then re-enter
 *   HYPERCALL
 *     MAP_GPA_RANGE       convert the range (ret 0, or -EINVAL when the
 *                         range is not guest memory)
 *   MMIO                  no device there: reads give all ones, writes
 *                         are dropped (QEMU's unassigned memory)
 *   SYSTEM_EVENT          the guest asked to terminate: the VM stops
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <string.h>

const char *const stack_uexit_names[STACK_UEXIT_COUNT] = {
	"none", "memory_fault", "hypercall", "mmio", "system_event",
	"heki_configure", "heki_denial", "cr_write",
};

/* Whether every GFN of [gpa, gpa + size) is in a memslot. */
static bool guest_ram(struct stack_vm *v, uint64_t gpa, uint64_t size)
{
	for (uint64_t g = gpa >> 12; g < (gpa + size) >> 12;) {
		const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, g);

		if (!sl)
			return false;
		g = sl->base_gfn + sl->npages;
	}
	return true;
}

/*
 * The old backing of a converted range is discarded (QEMU
 * ram_block_discard_guest_memfd_range / ram_block_discard_range):
 * to-shared punches the guest_memfd pages of every guest_memfd slot in
 * the range (on SNP they go back to the hypervisor); to-private drops the
 * VMM's shared pages (counted; their host pages stay with the slot, the
 * model keeps a slot's backing until the slot goes).
 */
static int discard(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size,
		   bool to_private, uint64_t *cycles)
{
	for (uint64_t g = gpa >> 12; g < (gpa + size) >> 12;) {
		const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, g);
		uint64_t end = (gpa + size) >> 12, n;

		if (!sl)
			return -EINVAL;
		if (end > sl->base_gfn + sl->npages)
			end = sl->base_gfn + sl->npages;
		n = end - g;
		if (!to_private && sl->gmem) {
			int rc;

			*cycles += v->st->lat.ioctl;
			rc = stack_gmem_fallocate(sl->gmem, who, STACK_GMEM_FALLOC_KEEP_SIZE |
						  STACK_GMEM_FALLOC_PUNCH_HOLE,
						  sl->gmem_offset + ((g - sl->base_gfn) << 12), n << 12,
						  cycles);
			if (rc)
				return rc;
			v->run->ctr.pages_punched += n;
		} else if (to_private) {
			v->run->ctr.shared_discarded += n;
		}
		g = end;
	}
	return 0;
}

int stack_vmm_convert(struct stack_vm *v, struct sim_who *who, uint64_t gpa, uint64_t size,
		      bool to_private, uint64_t *cycles)
{
	struct stack *st = v->st;
	int rc;

	if (!size || (gpa | size) & 0xfff || gpa + size < gpa || !guest_ram(v, gpa, size))
		return -EINVAL;
	*cycles += st->lat.ioctl;
	rc = stack_kvm_set_memory_attributes(v, who, gpa, size,
					     to_private ? STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0, 0);
	if (rc)
		return rc;
	v->run->ctr.conversions++;
	v->run->ctr.pages_converted += size >> 12;
	rc = discard(v, who, gpa, size, to_private, cycles);
	if (rc)
		return rc;
	if (to_private && st->snp_prefault) {
		uint64_t mapped = 0;

		*cycles += st->lat.ioctl;
		rc = stack_kvm_prefault(v, who, gpa, size, &mapped, cycles);
		v->run->ctr.prefaulted += mapped;
		if (rc)
			return rc;
	}
	return 0;
}

bool stack_vmm_handle(struct stack_vm *v, struct sim_who *who, struct stack_uexit *ue,
		      uint64_t *cycles)
{
	int rc;

	*cycles += v->st->lat.user_exit;
	v->run->ctr.user_exits[ue->reason]++;
	switch (ue->reason) {
	case STACK_UEXIT_MEMORY_FAULT:
		rc = stack_vmm_convert(v, who, ue->gpa, ue->size,
				       ue->flags & STACK_KVM_MEMORY_EXIT_FLAG_PRIVATE, cycles);
		return rc == 0;
	case STACK_UEXIT_HYPERCALL:
		if (stack_vblk_hypercall(v, who, ue, cycles))
			return !v->run->killed;   /* the VMM died on a device store (SIGBUS): the VM stops */
		if (ue->nr == STACK_KVM_HC_LOCK_CR_UPDATE)   /* heki.c: design vmm */
			return stack_heki_vmm_lock(v, ue);
		if (ue->nr != STACK_KVM_HC_MAP_GPA_RANGE) {
			ue->ret = -STACK_KVM_ENOSYS;
			return true;
		}
		rc = stack_vmm_convert(v, who, ue->args[0], ue->args[1] << 12,
				       ue->args[2] & STACK_KVM_MAP_GPA_RANGE_ENCRYPTED, cycles);
		ue->ret = rc ? -22 : 0;
		return true;
	case STACK_UEXIT_MMIO:
		return true;
	case STACK_UEXIT_SYSTEM_EVENT:
		v->run->killed = true;
		return false;
	case STACK_UEXIT_HEKI_CONFIGURE:   /* heki.c: the VMM's answers (vmm.cr_policy) */
	case STACK_UEXIT_HEKI_DENIAL:
	case STACK_UEXIT_CR_WRITE:
		return stack_heki_vmm(v, ue, cycles);
	case STACK_UEXIT_NONE:
	case STACK_UEXIT_COUNT:
		break;
	}
	return false;
}

/* The conversions one exit's VMM turns made (the timeline's conversion span). */
struct conv_seen {
	uint64_t gpa;                    /* the first range's */
	uint64_t pages;
	unsigned to_private, to_shared;  /* ranges each way */
};

/*
 * The timeline of a VMM turn (--timeline only): a span "vmm" named after
 * the exit KVM gave it, from KVM_RUN's return to the VMM's next KVM_RUN,
 * with the GPA (or the hypercall's nr and a0) and the pages it converted.
 */
static void timeline_vmm(struct stack_vm *v, const struct sim_who *who,
			 const struct stack_uexit *ue, uint64_t t0, uint64_t t1, uint64_t pages,
			 struct conv_seen *conv)
{
	char args[128];
	uint64_t gpa = ue->reason == STACK_UEXIT_HYPERCALL ? ue->args[0] : ue->gpa;

	if (ue->reason == STACK_UEXIT_HYPERCALL)
		snprintf(args, sizeof(args), "\"nr\":%llu,\"a0\":\"0x%llx\",\"converted\":%llu",
			 (unsigned long long)ue->nr, (unsigned long long)ue->args[0],
			 (unsigned long long)pages);
	else if (ue->reason >= STACK_UEXIT_HEKI_CONFIGURE)   /* heki.h */
		snprintf(args, sizeof(args), "\"cr_value\":\"0x%llx\"",
			 (unsigned long long)ue->cr_value);
	else
		snprintf(args, sizeof(args), "\"gpa\":\"0x%llx\",\"converted\":%llu",
			 (unsigned long long)ue->gpa, (unsigned long long)pages);
	sim_timeline_span(v->st->s, who->agent, "vmm", stack_uexit_names[ue->reason], t0, t1, args);
	if (!pages)
		return;
	if (!conv->pages)
		conv->gpa = gpa;
	conv->pages += pages;
	if (ue->reason == STACK_UEXIT_HYPERCALL ? ue->args[2] & STACK_KVM_MAP_GPA_RANGE_ENCRYPTED
						: ue->flags & STACK_KVM_MEMORY_EXIT_FLAG_PRIVATE)
		conv->to_private++;
	else
		conv->to_shared++;
}

/*
 * A private<->shared conversion as one span on the vCPU thread's track:
 * from KVM taking the guest's request (a PSC, a MAP_GPA_RANGE hypercall,
 * an implicit conversion's #NPF) through the VMM's attribute changes to
 * KVM completing the request, inside the exit's span.
 */
static void timeline_convert(struct stack_vm *v, const struct sim_who *who,
			     const struct cpu_exit *e, uint64_t t0, uint64_t t1,
			     const struct conv_seen *conv)
{
	char args[160];

	snprintf(args, sizeof(args), "\"gpa\":\"0x%llx\",\"pages\":%llu,\"ranges\":%u,"
		 "\"request\":\"%s\"", (unsigned long long)conv->gpa,
		 (unsigned long long)conv->pages, conv->to_private + conv->to_shared,
		 cpu_exit_names[e->reason]);
	sim_timeline_span(v->st->s, who->agent, "convert",
			  !conv->to_shared ? "convert to private" : !conv->to_private ?
			  "convert to shared" : "convert (both ways)", t0, t1, args);
}

enum stack_kvm_rc stack_kvm_handle(struct stack_vm *v, unsigned vcpu, struct sim_who *who,
				   const struct cpu_exit *e, struct stack_uexit *ue, uint64_t *cycles,
				   uint64_t *uexits)
{
	enum stack_kvm_rc rc;
	struct conv_seen conv = { 0 };
	uint64_t t0 = who->now + *cycles + who->mem_cycles;

	memset(ue, 0, sizeof(*ue));
	switch (e->reason) {
	case CPU_EXIT_NPF:
		rc = stack_kvm_npf(v, vcpu, who, e->npf_gpa, e->npf_info, ue, cycles);
		break;
	case CPU_EXIT_VMGEXIT:
		rc = stack_kvm_vmgexit(v, vcpu, who, e->ghcb, ue, cycles);
		break;
	case CPU_EXIT_HYPERCALL:
		rc = stack_kvm_hypercall(v, vcpu, who, e->args, ue, cycles);
		break;
	case CPU_EXIT_CR_WRITE:   /* heki.c: handle_cr with the pins, the VTL, the CR filter */
		rc = (enum stack_kvm_rc)stack_heki_cr_exit(v, vcpu, who, e, ue, cycles);
		break;
	default:
		sim_fatal("stack: kvm: exit %d is not KVM's to handle here", (int)e->reason);
	}
	/* KVM_RUN returns to the VMM, which calls it again: KVM completes the exit */
	while (rc == STACK_KVM_USER) {
		uint64_t t_vmm = who->now + *cycles + who->mem_cycles;
		uint64_t pages = v->run->ctr.pages_converted;

		(*uexits)++;
		if (!stack_vmm_handle(v, who, ue, cycles))
			return STACK_KVM_FATAL;
		if (sim_timeline_on(v->st->s))
			timeline_vmm(v, who, ue, t_vmm, who->now + *cycles + who->mem_cycles,
				     v->run->ctr.pages_converted - pages, &conv);
		rc = stack_kvm_complete_user(v, vcpu, who, ue, cycles);
	}
	if (conv.pages)
		timeline_convert(v, who, e, t0, who->now + *cycles + who->mem_cycles, &conv);
	return rc;
}
