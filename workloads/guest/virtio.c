/*
 * virtio.c - block I/O through shared memory on the guest kernel library:
 * boot as `boot` does, find the virtio-like device in the boot parameters,
 * put its virtqueue in shared pages (PROTSIM_HC_VIRTIO_SETUP), write
 * sectors= sectors (default 64) from private memory through bounce
 * buffers, read them back into private memory and compare.
 *
 * Command line: sectors=N plus the library's accept= psc= page= cbit=.
 * Exit 0: every request completed with status OK and the data matched;
 * 1 the data differs, 2 no device, 3 setup refused (or a queue under 3
 * descriptors), 4 a request did not complete (10M polls), 5 a request
 * failed.
 */
#include <stdio.h>
#include <string.h>

#include "protsim.h"
#include "protsim/snp.h"

extern char __ram_start[], __ram_end[], __pages[];

static const char *const keys[] = { "accept", "psc", "page", "cbit", "sectors", NULL };

#define SECT_PER_REQ  8u                         /* 4 KiB: one bounce page */
#define MAX_INFLIGHT  16u
#define POLL_LIMIT    10000000ul

static struct vq q;
static struct vblk_req reqs[MAX_INFLIGHT];

static uint8_t pattern(uint64_t sector, unsigned i)
{
	return (uint8_t)(sector * 131u + i * 7u + (i >> 9));
}

/* Run requests over sectors [0, n): write (fill from private memory) or read (compare). */
static int pass(unsigned type, uint64_t n, uint64_t priv, uint64_t *bad)
{
	uint64_t next = 0, done_sect = 0;
	unsigned inflight_max = q.size / 3 < MAX_INFLIGHT ? q.size / 3 : MAX_INFLIGHT;

	if (!inflight_max)
		inflight_max = 1;
	while (done_sect < n) {
		unsigned used = 0;
		unsigned long spins = 0;

		/* fill the ring */
		for (unsigned i = 0; i < inflight_max && next < n; i++) {
			struct vblk_req *r = &reqs[i];
			uint64_t cnt = n - next < SECT_PER_REQ ? n - next : SECT_PER_REQ;
			uint8_t *src = (uint8_t *)(uintptr_t)priv + i * SNP_PAGE_SIZE;

			r->len = (uint32_t)(cnt * VBLK_SECTOR);
			if (type == VBLK_T_OUT) {
				for (unsigned b = 0; b < r->len; b++)
					src[b] = pattern(next + b / VBLK_SECTOR, b % VBLK_SECTOR);
				memcpy(snp_shared_ptr(r->data_gpa), src, r->len);   /* bounce */
			}
			if (vq_add(&q, r, type, next))
				break;
			next += cnt;
			used++;
		}
		if (!used) {
			printf("virtio: no room on the ring\n");
			return 4;
		}
		vq_kick(&q);
		for (unsigned left = used; left;) {
			unsigned got = vq_reap(&q, reqs, used);

			left = got > left ? 0 : left - got;
			if (!got && ++spins > POLL_LIMIT) {
				printf("virtio: no completion after %lu polls\n", spins);
				return 4;
			}
		}
		uint64_t base = done_sect;   /* the first sector of this round's requests */

		for (unsigned i = 0; i < used; i++) {
			struct vblk_req *r = &reqs[i];
			uint8_t *dst = (uint8_t *)(uintptr_t)priv + i * SNP_PAGE_SIZE;
			uint64_t sect = base + (uint64_t)i * SECT_PER_REQ;

			if (!r->done || r->status != VBLK_S_OK) {
				printf("virtio: %s of sector %llu: status %u\n",
				       type == VBLK_T_OUT ? "write" : "read", (unsigned long long)sect,
				       (unsigned)r->status);
				return 5;
			}
			if (type == VBLK_T_IN) {
				memcpy(dst, snp_shared_ptr(r->data_gpa), r->len);   /* bounce */
				for (unsigned b = 0; b < r->len; b++)
					if (dst[b] != pattern(sect + b / VBLK_SECTOR, b % VBLK_SECTOR))
						(*bad)++;
			}
			done_sect += r->len / VBLK_SECTOR;
		}
	}
	return 0;
}

int main(void)
{
	uint64_t n = 64, capacity, priv, bad = 0;
	unsigned qsize;
	char v[32];
	long rc;
	int st;

	snp_reset();
	snp_boot_params(protsim_boot_arg, (uintptr_t)__ram_start, (uintptr_t)__pages,
			(uintptr_t)__pages, (uintptr_t)__ram_end);
	snp_cmdline_check(keys);
	if (snp_cmdline_get("sectors", v, sizeof(v)) && (!snp_parse_size(v, &n) || !n)) {
		printf("virtio: sectors=%s: not a count\n", v);
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_BP_CMDKEY, SNP_FAIL_BOOT_PARAMS);
	}
	snp_init(0);
	if (!vq_device(&qsize, &capacity)) {
		printf("virtio: no device in the boot parameters\n");
		return 2;
	}
	if (capacity && n > capacity) {
		printf("virtio: sectors=%llu: the disk has %llu\n", (unsigned long long)n,
		       (unsigned long long)capacity);
		n = capacity;
	}
	rc = vq_setup(&q, qsize, capacity);
	if (rc) {
		printf("virtio: setup refused: %ld\n", rc);
		return 3;
	}
	if (q.size < 3) {
		printf("virtio: a queue of %u descriptors cannot hold a request (3)\n", q.size);
		return 3;
	}
	printf("virtio: queue of %u at desc 0x%llx avail 0x%llx used 0x%llx (shared)\n", q.size,
	       (unsigned long long)q.desc_gpa, (unsigned long long)q.avail_gpa,
	       (unsigned long long)q.used_gpa);
	for (unsigned i = 0; i < MAX_INFLIGHT; i++) {
		reqs[i].hdr_gpa = snp_bounce_alloc();
		reqs[i].data_gpa = snp_bounce_alloc();
	}
	priv = snp_alloc_pages(MAX_INFLIGHT);   /* private staging */
	st = pass(VBLK_T_OUT, n, priv, &bad);
	if (!st)
		st = pass(VBLK_T_IN, n, priv, &bad);
	if (st)
		return st;
	printf("virtio: wrote and read back %llu sectors: %s\n", (unsigned long long)n,
	       bad ? "DATA DIFFERS" : "data matches");
	printf("virtio: %llu completions, %llu kicks; %llu pages shared, PSC %llu requests; "
	       "exits caused: %llu (VMGEXIT %llu, HYPERCALL %llu)\n",
	       (unsigned long long)q.completions, (unsigned long long)q.kicks,
	       (unsigned long long)snp.st.pages_shared, (unsigned long long)snp.st.psc_requests,
	       (unsigned long long)(snp.st.vmgexits + snp.st.hypercalls),
	       (unsigned long long)snp.st.vmgexits, (unsigned long long)snp.st.hypercalls);
	return bad ? 1 : 0;
}
