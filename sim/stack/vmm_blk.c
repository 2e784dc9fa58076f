/*
 * vmm_blk.c - the VMM's virtio-like block device (docs/guest-abi.md "The
 * virtio-like block device"): one split virtqueue in memory the guest
 * shares, whose descriptors carry guest-physical addresses; a disk of
 * `disk=` 512-byte sectors in the VMM's memory.  The guest sets the queue
 * up and notifies with the hypercalls PROTSIM_HC_VIRTIO_SETUP (0x100) and
 * PROTSIM_HC_VIRTIO_NOTIFY (0x101), which KVM gives the VMM as
 * KVM_EXIT_HYPERCALL (protsim's stand-in for a virtio-mmio queue-notify
 * write, which would reach the VMM as an MMIO exit).
 *
 * The VMM reads and writes the rings and buffers through its own mapping
 * of guest memory (the memslots' shared backing); a buffer in a private
 * page is refused (the request completes with IOERR), as the VMM cannot
 * read private memory; on a pKVM VM each page is a user access through the
 * host stage 2, and one the host neither owns nor shares (donated to a
 * protected guest) is refused the same way.  With vmm.io_thread=1 (default) the VMM's I/O
 * thread serves the queue, as QEMU's iothread does: an agent of its own
 * (vmN.io), which the vCPU thread wakes at the notify (an eventfd write,
 * lat.stack.signal) before the guest resumes at once; the thread serves
 * the requests one step each, on its own clock, and the guest polls the
 * used ring.  With vmm.io_thread=0 the vCPU thread serves them at the
 * notify, before the guest resumes.  Either way a request costs
 * lat.stack.ioctl and lat.stack.page_clear per 4K copied.
 */
#include "sim/stack/stack_int.h"
#include "sim/stack/host.h"
#include "sim/stack/pkvm_host.h"   /* pKVM hook */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VIRTQ_DESC_F_NEXT  1
#define VIRTQ_DESC_F_WRITE 2
#define VBLK_T_IN          0
#define VBLK_T_OUT         1
#define VBLK_S_OK          0
#define VBLK_S_IOERR       1
#define VBLK_S_UNSUPP      2
#define SECTOR             512u
#define MAX_CHAIN          16u

struct stack_vblk {
	uint64_t sectors;
	uint8_t *disk;                   /* allocated on first write, zero before */
	bool ready;
	uint64_t desc, avail, used;      /* GPAs */
	unsigned n;
	uint16_t last_avail;
	struct sim_agent *agent;         /* the thread serving the queue now (its stores' agent) */
};

/* Guest-physical bytes through the VMM's mapping (shared backing only). */
static int vmm_rw(struct stack_vm *v, uint64_t gpa, void *buf, size_t len, bool write)
{
	while (len) {
		size_t n = 4096 - (gpa & 4095);
		uint64_t spa;

		if (n > len)
			n = len;
		if (stack_kvm_get_memory_attributes(v, gpa >> 12) || stack_kvm_backing(v, gpa, true, &spa))
			return -EFAULT;   /* private memory, or none */
		if (stack_pkvm_vmm_access(v, v->run->blk->agent, spa, write))   /* pKVM hook */
			return -EFAULT;   /* a page the host does not own or share */
		if (write) {
			/* a user store: RMP-checked, a fault is the host.rmp_fault strategy's */
			int rc = v->run->blk->agent ?
				 stack_host_vmm_store(v, v->run->blk->agent, gpa, buf, n) : 1;

			if (rc < 0)
				return -EFAULT;
			if (rc > 0)
				sim_mem_poke(v->st->mem, spa, buf, n);
		} else {
			sim_mem_peek(v->st->mem, spa, buf, n);   /* reads are not RMP-checked */
		}
		buf = (char *)buf + n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int stack_vblk_create(struct stack_vm *v, uint64_t sectors)
{
	if (v->run->blk)
		return -EEXIST;
	v->run->blk = sim_xcalloc(1, sizeof(*v->run->blk));
	v->run->blk->sectors = sectors;
	return 0;
}

void stack_vblk_free(struct stack_vm *v)
{
	if (!v->run || !v->run->blk)
		return;
	free(v->run->blk->disk);
	free(v->run->blk);
	v->run->blk = NULL;
}

bool stack_vblk_present(const struct stack_vm *v)
{
	return v->run && v->run->blk;
}

/* PROTSIM_HC_VIRTIO_SETUP: the rings' GPAs and the queue size. */
static int64_t setup(struct stack_vm *v, const uint64_t *a)
{
	struct stack_vblk *b = v->run->blk;
	uint64_t n = a[4];

	if (!n || n > 256 || (n & (n - 1)) || (a[1] & 15) || (a[2] & 1) || (a[3] & 3))
		return -EINVAL;
	b->desc = a[1];
	b->avail = a[2];
	b->used = a[3];
	b->n = (unsigned)n;
	b->last_avail = 0;
	b->ready = true;
	return 0;
}

/* One request, the chain from descriptor @head: its status, *@written bytes the device wrote. */
static uint8_t request(struct stack_vm *v, struct stack_vblk *b, uint16_t head, uint32_t *written,
		       uint64_t *copied)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d[MAX_CHAIN];
	struct { uint32_t type, reserved; uint64_t sector; } hdr;
	unsigned nd = 0;
	uint16_t i = head;
	uint8_t st = VBLK_S_OK;

	*written = 0;
	do {
		if (nd == MAX_CHAIN || i >= b->n || vmm_rw(v, b->desc + 16ull * i, &d[nd], 16, false))
			return VBLK_S_IOERR;
		i = d[nd].next;
	} while (d[nd++].flags & VIRTQ_DESC_F_NEXT);
	if (nd < 2 || d[0].len < sizeof(hdr) || (d[0].flags & VIRTQ_DESC_F_WRITE) ||
	    !(d[nd - 1].flags & VIRTQ_DESC_F_WRITE) || d[nd - 1].len < 1 ||
	    vmm_rw(v, d[0].addr, &hdr, sizeof(hdr), false))
		return VBLK_S_IOERR;
	if (hdr.type != VBLK_T_IN && hdr.type != VBLK_T_OUT) {
		st = VBLK_S_UNSUPP;
	} else {
		uint64_t sector = hdr.sector;

		for (unsigned k = 1; k + 1 < nd && st == VBLK_S_OK; k++) {
			uint64_t len = d[k].len;
			bool in = hdr.type == VBLK_T_IN;

			if ((len % SECTOR) || sector > b->sectors || len / SECTOR > b->sectors - sector ||
			    in != !!(d[k].flags & VIRTQ_DESC_F_WRITE)) {
				st = VBLK_S_IOERR;
				break;
			}
			if (!b->disk && !in)
				b->disk = sim_xcalloc(b->sectors ? b->sectors : 1, SECTOR);
			if (in) {
				static const uint8_t zero[SECTOR];

				for (uint64_t o = 0; o < len && st == VBLK_S_OK; o += SECTOR)
					if (vmm_rw(v, d[k].addr + o, b->disk ? b->disk +
						   (sector + o / SECTOR) * SECTOR : (uint8_t *)zero,
						   SECTOR, true))
						st = VBLK_S_IOERR;
				*written += (uint32_t)len;
			} else if (vmm_rw(v, d[k].addr, b->disk + sector * SECTOR, len, false)) {
				st = VBLK_S_IOERR;
			}
			*copied += len;
			sector += len / SECTOR;
		}
	}
	if (vmm_rw(v, d[nd - 1].addr, &st, 1, true))
		return VBLK_S_IOERR;
	*written += 1;
	return st;
}

/*
 * Serve the next request the guest made available, if any: read the
 * chain, do it, put it on the used ring.  Return 1 served (its cost in
 * *@cycles), 0 none left, -EINVAL (queue not set up) or -EFAULT (a ring
 * the VMM cannot reach).
 */
static int serve_one(struct stack_vm *v, uint64_t *cycles)
{
	struct stack_vblk *b = v->run->blk;
	uint16_t idx, head, used_idx;
	uint32_t elem[2], written;
	uint64_t copied = 0;

	if (!b->ready || vmm_rw(v, b->avail + 2, &idx, 2, false))
		return -EINVAL;
	if (b->last_avail == idx)
		return 0;
	if (vmm_rw(v, b->avail + 4 + 2ull * (b->last_avail % b->n), &head, 2, false) ||
	    vmm_rw(v, b->used + 2, &used_idx, 2, false))
		return -EFAULT;
	(void)request(v, b, head, &written, &copied);
	elem[0] = head;
	elem[1] = written;
	if (vmm_rw(v, b->used + 4 + 8ull * (used_idx % b->n), elem, 8, true))
		return -EFAULT;
	used_idx++;
	if (vmm_rw(v, b->used + 2, &used_idx, 2, true))
		return -EFAULT;
	b->last_avail++;
	v->run->ctr.blk_requests++;
	v->run->ctr.blk_bytes += copied;
	*cycles += v->st->lat.ioctl + (copied + 4095) / 4096 * v->st->lat.page_clear;
	return 1;
}

/* ------------------------------------------------------------------ */
/* The VMM's I/O thread                                                */
/* ------------------------------------------------------------------ */

struct stack_iothread {
	struct stack *st;
	unsigned vm;                     /* the VM slot it serves (a destroyed VM's successor too) */
	struct sim_agent *agent;         /* vmN.io */
};

/* The thread's loop: sleep on its eventfd (the mailbox) until the end of the run. */
static void iothread_body(struct sim_agent *a, void *arg)
{
	(void)arg;
	while (!sim_agent_should_stop(a))
		(void)sim_mailbox_wait(a);
}

/* The eventfd fired: serve the queue of the VM now in the slot, a request per step. */
static void iothread_serve(struct sim_agent *a, void *arg)
{
	struct stack_iothread *t = arg;

	for (;;) {
		struct stack_vm *v;
		uint64_t cyc = 0;
		int rc;

		uint64_t t0;

		sim_sync(a);
		sim_hold(a, true);
		t0 = sim_now(a);
		v = t->st->vm[t->vm];
		if (v && v->run && v->run->blk)
			v->run->blk->agent = a;
		rc = v && v->run && v->run->blk ? serve_one(v, &cyc) : 0;
		sim_advance(a, cyc);
		if (rc > 0 && sim_timeline_on(t->st->s))
			sim_timeline_span(t->st->s, sim_agent_id(a), "vmm", "blk request", t0, sim_now(a),
					  NULL);
		sim_hold(a, false);
		if (rc <= 0)
			return;
	}
}

static struct stack_iothread *iothread_of(struct stack_vm *v)
{
	struct stack *st = v->st;
	struct stack_iothread *t = st->iothread[v->id];
	char name[32];

	if (t)
		return t;
	t = sim_xcalloc(1, sizeof(*t));
	t->st = st;
	t->vm = v->id;
	snprintf(name, sizeof(name), "%s.io", v->prefix);
	t->agent = sim_agent_new(st->s, name, SIM_AGENT_OTHER, iothread_body, t);
	st->iothread[v->id] = t;
	return t;
}

void stack_iothreads_free(struct stack *st)
{
	for (unsigned i = 0; i < S2_MAX_VMS; i++) {
		free(st->iothread[i]);
		st->iothread[i] = NULL;
	}
}

/*
 * PROTSIM_HC_VIRTIO_NOTIFY, on the vCPU thread: wake the I/O thread (an
 * eventfd write), or with vmm.io_thread=0 serve every request the guest
 * made available before it resumes.
 */
static int64_t notify(struct stack_vm *v, struct sim_who *who, uint64_t *cycles)
{
	struct stack_vblk *b = v->run->blk;
	int rc;

	if (!b->ready)
		return -EINVAL;
	if (v->st->io_thread && who->agent >= 0) {
		struct sim_agent *from = sim_agent_by_id(v->st->s, who->agent);
		struct stack_iothread *t = iothread_of(v);

		*cycles += v->st->lat.signal;
		v->run->ctr.blk_wakeups++;
		/* stamped at the notifier's clock after the write: the thread runs from then */
		sim_advance(from, *cycles + who->mem_cycles);
		who->mem_cycles = 0;
		*cycles = 0;
		sim_post(from, t->agent, iothread_serve, t);
		return 0;
	}
	b->agent = who->agent >= 0 ? sim_agent_by_id(v->st->s, who->agent) : NULL;
	while ((rc = serve_one(v, cycles)) > 0)
		;
	return rc;
}

bool stack_vblk_hypercall(struct stack_vm *v, struct sim_who *who, struct stack_uexit *ue,
			  uint64_t *cycles)
{
	if (!stack_vblk_present(v))
		return false;
	if (ue->nr == STACK_HC_VIRTIO_SETUP)
		ue->ret = setup(v, ue->args);
	else if (ue->nr == STACK_HC_VIRTIO_NOTIFY)
		ue->ret = notify(v, who, cycles);
	else
		return false;
	return true;
}
