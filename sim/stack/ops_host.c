/*
 * ops_host.c - host software touching guest memory (docs/script.md "Host
 * software touching guest memory; kexec"; the spelling is the v2
 * contract):
 *
 *   host write (vm=N gpa=ADDR | pa=ADDR) [len=N] [fill=BYTE] [by=kernel|vmm|daemon]
 *        -> OK converted=0|1 killed=0|1 | OOPS spa= panic=0|1 | SIGBUS spa= | ERROR(E...)
 *   host read  (vm=N gpa=ADDR | pa=ADDR) [len=N] [by=kernel|vmm|daemon]
 *        -> OK ciphertext=0|1 value=0x.. | ERROR(E...)
 *   host kexec [kind=kexec|kdump]
 *
 * The writers: by=kernel stores through the kernel's direct map (4K, as
 * Linux splits it around private pages: adjust_direct_map) into the page
 * that backs the GPA in the guest's current view (the nested mapping's,
 * else a private GFN's guest_memfd page, else the VMM's backing), or at
 * pa=; by=vmm and by=daemon store through the process's own mapping of
 * guest memory: the memslot's VMM backing (a 2M block is mapped 2M), which
 * with guest_memfd never holds private memory, and under snp.backing=legacy
 * is the private memory too.  Each 4K piece is RMP-checked as a host data
 * write (rmp_check_host_access) on the line's agent; a fault goes to the
 * strategy of host.rmp_fault (host.c).  A read is not RMP-checked: an
 * assigned page gives ciphertext.
 *
 * A process a strategy kills stops serving: a dead VMM leaves its VM
 * without a VMM (the VM stops), a dead daemon refuses every VM's later
 * request (ERROR(ESRCH), counted in vmN.host.denied).
 */
#include "sim/stack/host.h"
#include "sim/stack/pkvm_host.h"

#include <errno.h>
#include <string.h>

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define MAX_LEN (16ull << 20)
#define MAX_TRIES 64   /* faults on one page before the store gives up (ERROR(ELOOP)) */

static const char *const by_choices[] = { "kernel", "vmm", "daemon", NULL };
static const char *const kind_choices[] = { "kexec", "kdump", NULL };

/* The process of writer @by for VM @vm. */
static unsigned proc_of(enum host_writer by, unsigned vm)
{
	return by == HOST_BY_DAEMON ? S2_MAX_VMS : by == HOST_BY_VMM ? vm : S2_MAX_VMS + 1;
}

/*
 * The system address writer @by reaches at @gpa of @v and its mapping
 * size: 0, -EFAULT (the process maps nothing there: no memslot), -ENODATA
 * (the kernel: no page backs the GPA yet).
 */
static int resolve(struct host_ctx *x, struct stack_vm *v, uint64_t gpa, uint64_t *spa)
{
	const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, gpa >> 12);

	if (!sl)
		return -EFAULT;
	if (x->by == HOST_BY_KERNEL) {
		struct sim_who w = { .now = sim_now(x->a), .agent = sim_agent_id(x->a) };
		struct stack_kvm_page pg;
		uint64_t s;
		bool big, prep;

		if (stack_kvm_page_query(v, &w, gpa, &pg))
			return -EFAULT;
		sim_advance(x->a, w.mem_cycles);
		x->map_size = SZ_4K;
		if (pg.mapped)
			*spa = pg.spa;
		else if (pg.private_ && sl->gmem &&
			 !stack_gmem_page(sl->gmem, sl->gmem_offset + (gpa & ~(SZ_4K - 1)) -
					  (sl->base_gfn << 12), &s, &big, &prep))
			*spa = s | (gpa & (SZ_4K - 1));
		else if (!pg.private_ && pg.shared_backed)
			*spa = pg.shared_spa;
		else
			return -ENODATA;
		return 0;
	}
	/* the process's mapping: its anonymous memory, faulted in on use */
	if (stack_kvm_backing(v, gpa, true, spa))
		return -ENOMEM;
	x->map_size = SZ_4K;
	for (size_t i = 0; i < sl->npieces; i++) {
		const struct stack_kvm_piece *pc = &sl->pieces[i];
		uint64_t idx = (gpa >> 12) - sl->base_gfn;

		if (idx >= pc->off && idx < pc->off + (pc->huge ? 512u : 1u)) {
			if (pc->huge && !host_split(x->h, x->proc, pc->spa))
				x->map_size = SZ_2M;
			break;
		}
	}
	return 0;
}

struct hreq {
	struct sim_call *c;
	struct host *h;
	struct stack_vm *v;
	struct host_vm *hv;
	enum host_writer by;
	uint64_t addr, len;
	bool by_gpa;
};

/* Parse and validate; false when the line was answered (bad argument or refusal). */
static bool req_get(struct sim_call *c, struct hreq *r)
{
	struct sim *s = sim_call_sim(c);
	bool has_vm = sim_arg_has(c, "vm"), has_gpa = sim_arg_has(c, "gpa"), has_pa = sim_arg_has(c, "pa");

	memset(r, 0, sizeof(*r));
	r->c = c;
	r->h = host_get(s);
	r->by = (enum host_writer)sim_arg_enum(c, "by", HOST_BY_KERNEL);
	r->len = sim_arg_u64(c, "len", 8);
	if (has_pa && (has_vm || has_gpa)) {
		sim_call_bad_arg(c, "pa", "give either vm= and gpa=, or pa=, not both");
		return false;
	}
	if (!has_pa && !(has_vm && has_gpa)) {
		sim_call_bad_arg(c, has_vm ? "gpa" : "vm", "needs vm= and gpa= (or pa=)");
		return false;
	}
	if (has_pa && r->by != HOST_BY_KERNEL) {
		sim_call_bad_arg(c, "by", "pa= is a host physical address, reached only through the kernel's direct map (by=kernel)");
		return false;
	}
	r->by_gpa = !has_pa;
	r->addr = sim_arg_u64(c, has_pa ? "pa" : "gpa", 0);
	if (has_pa && r->addr + r->len > sim_mem_size(sim_mem(s))) {
		sim_call_bad_arg(c, "pa", "[0x%llx, +%llu) is beyond machine.mem",
				 (unsigned long long)r->addr, (unsigned long long)r->len);
		return false;
	}
	if (r->h->panicked) {
		stack_put_errno(c, EHOSTDOWN);
		return false;
	}
	if (r->by_gpa) {
		r->v = stack_vm_find(stack_get(s), (unsigned)sim_arg_u64(c, "vm", 0));
		if (!r->v || !r->v->kvm || host_vm_gone(r->h, r->v)) {
			stack_put_errno(c, ENOENT);
			return false;
		}
		r->hv = host_vm(r->h, r->v);
	}
	/* a dead process serves no one */
	if ((r->by == HOST_BY_DAEMON && r->h->daemon_dead) ||
	    (r->by == HOST_BY_VMM && r->hv && r->hv->vmm_dead)) {
		r->h->w[r->by].failed++;
		if (r->hv)
			r->hv->ctr.denied++;
		stack_put_errno(c, ESRCH);
		return false;
	}
	return true;
}

enum { STORE_OK, STORE_OOPS, STORE_SIGBUS, STORE_LOOP };

/*
 * Store @n bytes of @buf at x->spa (within one page, through the writer's
 * mapping of x->map_size): the RMP check of a host write, and on a fault
 * the host.rmp_fault strategy's verdict, retried while it makes the page
 * writable.  An oops is counted (and panics with host.panic_on_oops), a
 * SIGBUS kills the writing process.  Return STORE_*.
 */
static int store_page(struct host_ctx *x, const void *buf, uint64_t n)
{
	struct host *h = x->h;

	for (unsigned t = 0; t < MAX_TRIES; t++) {
		struct sim_who w;
		enum host_verdict vd;

		sim_sync(x->a);
		w = (struct sim_who){ .now = sim_now(x->a), .agent = sim_agent_id(x->a) };
		memset(&x->f, 0, sizeof(x->f));
		if (rmp_check_host_access(h->st->rmp, &w, x->spa, RMP_HOST_WRITE, x->map_size,
					  &x->f) == RMP_FAULT_NONE) {
			struct rmp_entry e;

			sim_advance(x->a, w.mem_cycles);
			/* the invariant: no host store lands on an assigned page */
			if (rmp_entry_effective(h->st->rmp, x->spa & ~(SZ_4K - 1), &e) && e.assigned)
				h->violations++;
			sim_advance(x->a, sim_mem_write(h->st->mem, sim_agent_id(x->a), SIM_SRC_DATA,
							x->spa, buf, (uint32_t)n));
			return STORE_OK;
		}
		sim_advance(x->a, w.mem_cycles);
		vd = host_fault(x);
		if (vd == HOST_V_RETRY)
			continue;
		if (vd == HOST_V_OOPS) {
			h->w[x->by].oops++;
			h->oopses++;
			if (h->panic_on_oops) {
				h->panicked = true;
				h->panics++;
			}
			return STORE_OOPS;
		}
		return STORE_SIGBUS;
	}
	return STORE_LOOP;
}

/* The process of the context (the VMM of @v, with its host state @hv, or the daemon) died of SIGBUS. */
static void proc_dies(struct host_ctx *x, struct stack_vm *v, struct host_vm *hv)
{
	/* force_sig_fault(SIGBUS): its delivery, on the faulting thread */
	sim_advance(x->a, x->h->st->lat.signal);
	x->h->w[x->by].cycles += x->h->st->lat.signal;
	x->h->w[x->by].sigbus++;
	if (x->by == HOST_BY_DAEMON) {
		x->h->daemon_dead = true;
	} else if (hv) {
		hv->vmm_dead = true;
		hv->ctr.vmm_dead = 1;
		if (v->run)
			v->run->killed = true;   /* the VM's own process is gone: so is the VM */
	}
}

int stack_host_vmm_store(struct stack_vm *v, struct sim_agent *a, uint64_t gpa, const void *buf,
			 size_t len)
{
	struct host *h = host_get(v->st->s);
	struct host_ctx x;
	struct host_vm *hv;
	const uint8_t *p = buf;
	size_t total = len;

	if (!h)
		return 1;   /* no host model in this machine: the caller stores */
	hv = host_vm(h, v);
	if (h->panicked || hv->vmm_dead)
		return -EPIPE;
	memset(&x, 0, sizeof(x));
	x.h = h;
	x.a = a;
	x.by = HOST_BY_VMM;
	x.proc = proc_of(HOST_BY_VMM, v->id);
	h->w[HOST_BY_VMM].writes++;
	while (len) {
		uint64_t n = SZ_4K - (gpa & (SZ_4K - 1));
		int rc;

		if (n > len)
			n = len;
		x.map_size = SZ_4K;
		rc = resolve(&x, v, gpa, &x.spa);
		if (rc)
			return rc;
		rc = store_page(&x, p, n);
		if (rc == STORE_SIGBUS) {
			proc_dies(&x, v, hv);
			return -EPIPE;
		}
		if (rc)
			return -EFAULT;
		gpa += n;
		p += n;
		len -= n;
	}
	h->w[HOST_BY_VMM].bytes += total;
	return 0;
}

/*
 * `host write/read` on a `machine host=pkvm` machine: the host's access
 * through the host stage 2 as pKVM programs it (stack_pkvm_machine_access:
 * a translation fault traps to EL2, which maps a page the host owns or
 * injects an abort).  `pa=` is the kernel's access to that page; `gpa=`
 * goes to the page behind the GPA in the VMM's mapping (the memslot's
 * backing) and is the kernel's access (by=kernel) or a user access of the
 * VMM or the daemon.  An injected abort is an oops for the kernel, SIGSEGV
 * for a user process (which dies of it, as of SIGBUS on SNP).  Each 4K
 * piece is checked before it is done; the first refusal stops the access
 * (nothing more written).  Return false when the machine is not a pKVM
 * host (the SNP path goes on).
 */
static bool pkvm_host_access(struct sim_call *c, const struct hreq *r, bool write)
{
	struct sim *s = sim_call_sim(c);
	struct sim_agent *a = sim_call_agent(c);
	enum stack_pkvm_by by = r->by == HOST_BY_KERNEL ? STACK_PKVM_BY_KERNEL : STACK_PKVM_BY_USER;
	uint64_t done = 0, value = 0, cycles = 0;
	uint8_t buf[SZ_4K];

	if (!stack_pkvm_host_of(s))
		return false;
	memset(buf, write ? (int)sim_arg_u64(c, "fill", 0xff) : 0, sizeof(buf));
	while (done < r->len) {
		uint64_t at = r->addr + done, n = SZ_4K - (at & (SZ_4K - 1));
		struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };
		struct stack_pkvm_acc_res res;
		int rc;

		if (n > r->len - done)
			n = r->len - done;
		if (r->by_gpa && !stack_kvm_gfn_to_slot(r->v, at >> 12)) {
			stack_put_errno(c, EFAULT);
			return true;
		}
		if (r->by_gpa && stack_kvm_backing(r->v, at, true, &at)) {
			stack_put_errno(c, ENOMEM);
			return true;
		}
		rc = stack_pkvm_machine_access(s, &who, at, write, by, &res, &cycles);
		sim_advance(a, cycles + who.mem_cycles);
		cycles = 0;
		if (rc) {
			stack_put_errno(c, -rc);
			return true;
		}
		if (res.result == STACK_PKVM_ACC_SIGSEGV) {
			struct host_ctx x = { .h = r->h, .a = a, .by = r->by };

			proc_dies(&x, r->v, r->hv);
			sim_call_result(c, "SIGSEGV");
			sim_call_field_hex(c, "spa", res.far);
			stack_check_after(c);
			return true;
		}
		if (res.result != STACK_PKVM_ACC_OK) {
			/* an injected abort on a kernel access: the oops; nothing of this piece done */
			r->h->w[r->by].oops++;
			if (r->h->panic_on_oops)
				r->h->panicked = true;   /* host.panic_on_oops: the machine stops */
			sim_call_result(c, "OOPS");
			sim_call_field_hex(c, "spa", res.far);
			sim_call_field_u64(c, "panic", r->h->panicked);
			stack_check_after(c);
			return true;
		}
		if (write)
			sim_mem_poke(sim_mem(s), at, buf, n);
		else if (!done)
			sim_mem_peek(sim_mem(s), at, &value, n < 8 ? n : 8);
		done += n;
	}
	r->h->w[r->by].bytes += r->len;
	sim_call_result(c, "OK");
	if (write) {
		sim_call_field_u64(c, "converted", 0);
		sim_call_field_u64(c, "killed", 0);
	} else {
		sim_call_field_u64(c, "ciphertext", 0);
		sim_call_field_hex(c, "value", value);
	}
	stack_check_after(c);
	return true;
}

static void op_host_write(struct sim_call *c)
{
	struct hreq r;
	struct host_ctx x;
	uint8_t buf[SZ_4K];
	uint64_t done = 0;

	if (!req_get(c, &r))
		return;
	/* a pKVM machine: through the host stage 2 (pkvm_host_access) */
	if (pkvm_host_access(c, &r, true))
		return;
	memset(&x, 0, sizeof(x));
	x.h = r.h;
	x.a = sim_call_agent(c);
	x.by = r.by;
	x.proc = proc_of(r.by, r.v ? r.v->id : 0);
	r.h->w[r.by].writes++;
	memset(buf, (int)sim_arg_u64(c, "fill", 0xff), sizeof(buf));
	while (done < r.len) {
		uint64_t at = r.addr + done, n = SZ_4K - (at & (SZ_4K - 1));
		int rc = 0;

		if (n > r.len - done)
			n = r.len - done;

		/* the page is found once: a retry stores to the same page through the same mapping */
		x.spa = at;
		x.map_size = SZ_4K;
		if (r.by_gpa)
			rc = resolve(&x, r.v, at, &x.spa);
		if (rc) {
			stack_put_errno(c, -rc);
			stack_check_after(c);
			return;
		}
		rc = store_page(&x, buf, n);
		if (rc == STORE_OOPS) {
			sim_call_result(c, "OOPS");
			sim_call_field_hex(c, "spa", x.spa & ~(SZ_4K - 1));
			sim_call_field_u64(c, "panic", r.h->panicked);
			stack_check_after(c);
			return;
		}
		if (rc == STORE_SIGBUS) {
			proc_dies(&x, r.v, r.hv);
			sim_call_result(c, "SIGBUS");
			sim_call_field_hex(c, "spa", x.spa & ~(SZ_4K - 1));
			stack_check_after(c);
			return;
		}
		if (rc) {
			stack_put_errno(c, ELOOP);
			stack_check_after(c);
			return;
		}
		done += n;
	}
	r.h->w[r.by].bytes += r.len;
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "converted", x.converted);
	sim_call_field_u64(c, "killed", x.killed);
	stack_check_after(c);
}

static void op_host_read(struct sim_call *c)
{
	struct hreq r;
	struct host_ctx x;
	uint64_t done = 0, value = 0;
	bool cipher = false;

	if (!req_get(c, &r))
		return;
	if (pkvm_host_access(c, &r, false))
		return;
	memset(&x, 0, sizeof(x));
	x.h = r.h;
	x.a = sim_call_agent(c);
	x.by = r.by;
	x.proc = proc_of(r.by, r.v ? r.v->id : 0);
	r.h->w[r.by].reads++;
	while (done < r.len) {
		uint64_t at = r.addr + done, n = SZ_4K - (at & (SZ_4K - 1)), spa = at;
		uint8_t buf[SZ_4K];
		struct rmp_entry e;
		int rc = 0;

		if (n > r.len - done)
			n = r.len - done;
		if (r.by_gpa)
			rc = resolve(&x, r.v, at, &spa);
		if (rc) {
			stack_put_errno(c, -rc);
			return;
		}
		/* reads are not RMP-checked (APM Table 15-39): an assigned page gives ciphertext */
		if (r.h->st->rmp && rmp_entry_effective(r.h->st->rmp, spa & ~(SZ_4K - 1), &e) &&
		    e.assigned)
			cipher = true;
		sim_advance(x.a, sim_mem_read(sim_mem(sim_call_sim(c)), sim_agent_id(x.a), SIM_SRC_DATA,
					      spa, buf, (uint32_t)n));
		if (!done)
			for (unsigned i = 0; i < 8 && i < n; i++)
				value |= (uint64_t)buf[i] << (8 * i);
		done += n;
	}
	r.h->w[r.by].bytes += r.len;
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "ciphertext", cipher);
	if (!cipher)
		sim_call_field_hex(c, "value", value);
}

static void op_host_kexec(struct sim_call *c)
{
	struct host *h = host_get(sim_call_sim(c));

	/*
	 * With protected KVM the host can neither kexec nor hibernate: the
	 * hypervisor at EL2 cannot be handed to a new kernel (A. Elisei,
	 * "Documentation: admin-guide: Document side effects when pKVM is
	 * enabled", kvmarm, Oct 2021).  A kdump kernel would also read memory
	 * the host does not own.
	 */
	if (stack_pkvm_host_of(sim_call_sim(c))) {
		stack_put_errno(c, EOPNOTSUPP);
		return;
	}
	host_kexec(h, sim_call_agent(c), sim_arg_enum(c, "kind", 0) == 1);
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "dropped", h->k.last_dropped);
	sim_call_field_u64(c, "converted", h->k.last_converted);
	sim_call_field_u64(c, "immutable", h->k.last_immutable);
	stack_check_after(c);
}

static const struct sim_arg_spec write_args[] = {
	SIM_A_INT("vm", false, 0, S2_MAX_VMS - 1), SIM_A_ADDR("gpa", false), SIM_A_ADDR("pa", false),
	SIM_A_SIZE_IN("len", false, 1, MAX_LEN), SIM_A_INT("fill", false, 0, 255),
	SIM_A_ENUM("by", false, by_choices), SIM_A_END
};
static const struct sim_arg_spec read_args[] = {
	SIM_A_INT("vm", false, 0, S2_MAX_VMS - 1), SIM_A_ADDR("gpa", false), SIM_A_ADDR("pa", false),
	SIM_A_SIZE_IN("len", false, 1, MAX_LEN), SIM_A_ENUM("by", false, by_choices), SIM_A_END
};
static const struct sim_arg_spec migrate_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1), SIM_A_INT("from", true, 0, S2_MAX_VMS - 1), SIM_A_END
};
static const struct sim_arg_spec kexec_args[] = {
	SIM_A_ENUM("kind", false, kind_choices), SIM_A_END
};

const struct sim_op stack_host_ops[] = {
	{ "host write", write_args,
	  "host software stores fill into [gpa|pa, +len) (by: kernel direct map, VMM, shared daemon); an RMP fault goes to host.rmp_fault",
	  op_host_write },
	{ "host read", read_args, "host software reads (not RMP-checked: ciphertext from an assigned page)",
	  op_host_read },
	{ "host kexec", kexec_args,
	  "a new host kernel on the same memory: VMs gone without teardown, the RMP kept (host.kexec_convert)",
	  op_host_kexec },
	{ "vm migrate", migrate_args,
	  "KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM: VM vm created with from's encryption context (ASID, firmware context, VMSAs); from is dead",
	  stack_op_vm_migrate },
	{ NULL, NULL, NULL, NULL }
};
