/*
 * chase.c - a pointer chase over a buffer larger than the TLBs' reach:
 * the access pattern of an idle-latency test (Intel MLC, lmbench
 * lat_mem_rd), to record with valgrind's Lackey and replay at 4K and at
 * 2M private backing (docs/trace.md, "The 4K-vs-2M experiment").
 *
 *   cc -O1 -o chase workloads/lackey/chase.c
 *   valgrind --tool=lackey --trace-mem=yes --log-file=chase.lackey ./chase [MIB [STEPS]]
 *
 * One pointer per 4K page of a MIB-MiB buffer (default 64), linked in a
 * random cyclic order (a fixed seed: the same trace every time), then
 * STEPS loads (default 200000) following the chain.  Prints the final
 * pointer so the compiler keeps the loop.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	size_t steps = argc > 2 ? strtoul(argv[2], NULL, 0) : 200000;
	size_t pages = mib << 8, i;
	char *buf = malloc(mib << 20);
	size_t *order = malloc(pages * sizeof(*order));
	uint64_t x = 88172645463325252ull;     /* xorshift64 */
	void **p;

	if (!buf || !order || !pages)
		return 1;
	for (i = 0; i < pages; i++)
		order[i] = i;
	for (i = pages - 1; i > 0; i--) {     /* Fisher-Yates */
		size_t j, t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (size_t)(x % (i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	/* page order[i] points to page order[i + 1], at an offset that varies by page */
	for (i = 0; i < pages; i++) {
		size_t from = order[i], to = order[(i + 1) % pages];

		*(void **)(buf + (from << 12) + (from % 64) * 64) = buf + (to << 12) + (to % 64) * 64;
	}
	p = (void **)(buf + (order[0] << 12) + (order[0] % 64) * 64);
	for (i = 0; i < steps; i++)
		p = *p;
	printf("%p\n", (void *)p);
	free(order);
	free(buf);
	return 0;
}
