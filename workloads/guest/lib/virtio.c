/*
 * virtio.c - the driver of protsim's virtio-like block device: one split
 * virtqueue whose descriptor table, avail ring and used ring are in shared
 * (decrypted) pages and whose descriptors carry guest physical addresses.
 * A request is a 3-descriptor chain: the header (device reads), the data
 * (device reads for a write, writes for a read) and the status byte
 * (device writes).  The header, the data and the status all live in
 * bounce pages (shared); the caller copies private data in and out, as
 * swiotlb does.  Setup and notify are hypercalls; completion is polled.
 */
#include <string.h>

#include "protsim/snp.h"
#include "snp_arch.h"

bool vq_device(unsigned *qsize, uint64_t *capacity)
{
	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		if (snp.ranges[i].type == SNP_RANGE_DEVICE) {
			*qsize = snp.ranges[i].flags;
			*capacity = snp.ranges[i].gpa;
			return true;
		}
	}
	return false;
}


long vq_setup(struct vq *q, unsigned qsize, uint64_t capacity)
{
	memset(q, 0, sizeof(*q));
	if (!qsize || qsize > VQ_MAX_SIZE || (qsize & (qsize - 1)))
		return -22;   /* -EINVAL */
	q->size = qsize;
	q->capacity = capacity;
	/* 16 * 256, 4 + 2 * 256 and 4 + 8 * 256 bytes: one page each, shared in one request */
	q->desc_gpa = snp_alloc_pages(3);
	snp_set_memory_decrypted(q->desc_gpa, 3);
	for (unsigned i = 0; i < 3; i++)
		memset(snp_shared_ptr(q->desc_gpa + i * SNP_PAGE_SIZE), 0, SNP_PAGE_SIZE);
	q->avail_gpa = q->desc_gpa + SNP_PAGE_SIZE;
	q->used_gpa = q->desc_gpa + 2 * SNP_PAGE_SIZE;
	q->desc = snp_shared_ptr(q->desc_gpa);
	q->avail = snp_shared_ptr(q->avail_gpa);
	q->used = snp_shared_ptr(q->used_gpa);
	/* the free list through the next fields */
	for (unsigned i = 0; i < qsize; i++)
		q->desc[i].next = (uint16_t)(i + 1 < qsize ? i + 1 : 0);
	q->free_head = 0;
	q->nfree = qsize;
	snp_arch_mb();
	return snp_hypercall(PROTSIM_HC_VIRTIO_SETUP, q->desc_gpa, q->avail_gpa, q->used_gpa, qsize);
}

static uint16_t desc_get(struct vq *q)
{
	uint16_t d = q->free_head;

	q->free_head = q->desc[d].next;
	q->nfree--;
	return d;
}

int vq_add(struct vq *q, struct vblk_req *r, unsigned type, uint64_t sector)
{
	volatile struct vblk_req_hdr *h = snp_shared_ptr(r->hdr_gpa);
	volatile uint8_t *status = (volatile uint8_t *)(h + 1);
	uint16_t d0, d1, d2;

	if (q->nfree < 3)
		return -1;
	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	*status = 0xff;
	r->done = false;
	r->inflight = true;
	r->status = 0xff;
	r->used_len = 0;
	d0 = desc_get(q);
	d1 = desc_get(q);
	d2 = desc_get(q);
	q->desc[d0].addr = r->hdr_gpa;
	q->desc[d0].len = sizeof(struct vblk_req_hdr);
	q->desc[d0].flags = VQ_DESC_F_NEXT;
	q->desc[d0].next = d1;
	q->desc[d1].addr = r->data_gpa;
	q->desc[d1].len = r->len;
	q->desc[d1].flags = (uint16_t)(VQ_DESC_F_NEXT | (type == VBLK_T_IN ? VQ_DESC_F_WRITE : 0));
	q->desc[d1].next = d2;
	q->desc[d2].addr = r->hdr_gpa + sizeof(struct vblk_req_hdr);
	q->desc[d2].len = 1;
	q->desc[d2].flags = VQ_DESC_F_WRITE;
	q->desc[d2].next = 0;
	r->head = d0;
	/* the chain is visible before the ring entry, the ring entry before idx */
	q->avail->ring[q->avail->idx & (q->size - 1)] = d0;
	snp_arch_mb();
	q->avail->idx = (uint16_t)(q->avail->idx + 1);
	snp_arch_mb();
	return 0;
}

long vq_kick(struct vq *q)
{
	q->kicks++;
	return snp_hypercall(PROTSIM_HC_VIRTIO_NOTIFY, 0, 0, 0, 0);
}

static void chain_free(struct vq *q, uint16_t head)
{
	uint16_t d = head, n = 1;

	while (q->desc[d].flags & VQ_DESC_F_NEXT) {
		d = q->desc[d].next;
		n++;
	}
	q->desc[d].next = q->free_head;
	q->free_head = head;
	q->nfree += n;
}

unsigned vq_reap(struct vq *q, struct vblk_req *reqs, unsigned nreqs)
{
	unsigned got = 0;

	snp_arch_mb();
	while (q->last_used != q->used->idx) {
		volatile struct vq_used_elem *u = &q->used->ring[q->last_used & (q->size - 1)];
		uint32_t id = u->id, len = u->len;

		snp_arch_mb();
		for (unsigned i = 0; i < nreqs; i++) {
			struct vblk_req *r = &reqs[i];

			if (r->inflight && r->head == id) {
				r->inflight = false;
				r->done = true;
				r->used_len = len;
				r->status = *((volatile uint8_t *)snp_shared_ptr(r->hdr_gpa) +
					      sizeof(struct vblk_req_hdr));
				chain_free(q, (uint16_t)id);
				break;
			}
		}
		q->last_used++;
		q->completions++;
		got++;
	}
	return got;
}
