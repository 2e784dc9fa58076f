/*
 * pvm_payload.c - the payload of a protected VM on a pKVM host
 * (docs/pkvm.md, "From firmware to payload").  The VMM loads it at the
 * start of guest RAM (0x80000000) before it enables
 * KVM_CAP_ARM_PROTECTED_VM; the firmware (pvmfw.c, in its slot at
 * 0x7fe00000) starts first and jumps here.  The payload then uses the
 * hypervisor's memory services as a protected guest kernel does:
 *   1. HYP_MEMINFO: the granule and whether ranged calls are offered;
 *   2. a buffer shared with the host (MEM_SHARE), as a virtio driver
 *      shares its rings and bounce buffers, a message written into it,
 *      then taken back (MEM_UNSHARE);
 *   3. a page given back like a balloon driver's (MEM_RELINQUISH): the
 *      hypervisor poisons it on the way out, so touching it again brings a
 *      zeroed page back, never the old contents;
 *   4. the calls the hypervisor must refuse: sharing a page twice,
 *      unsharing one that is not shared, an unaligned IPA.
 * Each step is printed; main returns the number of steps that did not
 * behave (0: all did).  SMCCC: function id in a0, arguments a1-a3,
 * results a0-a3 (the RV64 mapping of X0-X3, docs/pkvm.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protsim.h"

#define SMCCC_HYP_MEMINFO    0xC6000002ul
#define SMCCC_MEM_SHARE      0xC6000003ul
#define SMCCC_MEM_UNSHARE    0xC6000004ul
#define SMCCC_MEM_RELINQUISH 0xC6000009ul
#define SMCCC_INVALID_PARAM  (-3l)
#define MEMINFO_HAS_RANGE    1ul

/* A hypercall returning R0 and R1. */
static long smccc(unsigned long fn, unsigned long a1, unsigned long a2, unsigned long *r1)
{
	register unsigned long x0 __asm__("a0") = fn;
	register unsigned long x1 __asm__("a1") = a1;
	register unsigned long x2 __asm__("a2") = a2;
	register unsigned long x3 __asm__("a3") = 0;
	register unsigned long x4 __asm__("a4") = 0;

	__asm__ volatile(PROTSIM_INSN(4) : "+r"(x0), "+r"(x1) : "r"(x2), "r"(x3), "r"(x4) : "memory");
	if (r1)
		*r1 = x1;
	return (long)x0;
}

/* the page shared with the host, and the balloon page */
static uint8_t shared[4096] __attribute__((aligned(4096)));
static volatile uint8_t balloon[4096] __attribute__((aligned(4096)));

static int check(const char *what, long got, long want)
{
	printf("payload: %-34s %ld%s\n", what, got, got == want ? "" : "  (unexpected)");
	return got != want;
}

int main(void)
{
	unsigned long r1 = 0, n;
	long granule;
	int bad = 0;

	printf("payload: a protected guest at 0x%lx\n", (unsigned long)(uintptr_t)&main);
	granule = smccc(SMCCC_HYP_MEMINFO, 0, 0, &r1);
	bad += check("HYP_MEMINFO granule", granule, 4096);
	n = (r1 & MEMINFO_HAS_RANGE) ? 1 : 0;   /* ranged calls count granules; else 0 means 1 */
	printf("payload: ranged calls %s\n", n ? "offered" : "not offered");

	/* 2. share a buffer with the host, write into it, take it back */
	memset(shared, 0, sizeof(shared));
	bad += check("MEM_SHARE of the buffer", smccc(SMCCC_MEM_SHARE, (uintptr_t)shared, n, &r1), 0);
	if (n)
		bad += check("  granules shared", (long)r1, 1);
	strcpy((char *)shared, "payload: hello, host");
	bad += check("MEM_SHARE of it again", smccc(SMCCC_MEM_SHARE, (uintptr_t)shared, n, NULL),
		     SMCCC_INVALID_PARAM);
	bad += check("MEM_UNSHARE of the buffer", smccc(SMCCC_MEM_UNSHARE, (uintptr_t)shared, n, NULL),
		     0);
	bad += check("MEM_UNSHARE of it again", smccc(SMCCC_MEM_UNSHARE, (uintptr_t)shared, n, NULL),
		     SMCCC_INVALID_PARAM);
	bad += check("MEM_SHARE of an unaligned IPA",
		     smccc(SMCCC_MEM_SHARE, (uintptr_t)shared + 8, n, NULL), SMCCC_INVALID_PARAM);

	/* 3. a balloon page: a secret, relinquished, touched again */
	balloon[0] = 0x5a;
	bad += check("MEM_RELINQUISH of the balloon page",
		     smccc(SMCCC_MEM_RELINQUISH, (uintptr_t)balloon, 0, NULL), 0);
	bad += check("its first byte when touched again", balloon[0], 0);
	printf("payload: done, %d unexpected\n", bad);
	return bad;
}
