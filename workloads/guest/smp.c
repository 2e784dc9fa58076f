/*
 * smp.c - several harts: every hart adds to a shared counter with an LR/SC
 * loop and with AMOADD; hart 0 waits for all of them and prints the totals.
 * Run with --set vm.vcpus=NHARTS.
 */
#include <stdio.h>

#include "protsim.h"

#ifndef NHARTS
#define NHARTS 4
#endif
#define ROUNDS 1000

static volatile uint64_t lrsc_count, amo_count, done_count;

static void work(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t old, fail;

		do {
			__asm__ volatile("lr.d %0, (%2)\n\taddi %0, %0, 1\n\tsc.d %1, %0, (%2)"
					 : "=&r"(old), "=&r"(fail) : "r"(&lrsc_count) : "memory");
		} while (fail);
		__atomic_fetch_add(&amo_count, 1, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&done_count, 1, __ATOMIC_SEQ_CST);
}

void secondary_main(unsigned long hartid);
void secondary_main(unsigned long hartid)
{
	(void)hartid;
	work();
}

int main(void)
{
	long spins = 0;

	work();
	while (done_count < NHARTS && spins < 100000000)
		spins++;
	printf("harts=%llu lrsc=%llu amo=%llu\n", (unsigned long long)done_count,
	       (unsigned long long)lrsc_count, (unsigned long long)amo_count);
	return done_count == NHARTS && lrsc_count == NHARTS * ROUNDS &&
	       amo_count == NHARTS * ROUNDS ? 0 : 1;
}
