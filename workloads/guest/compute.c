/*
 * compute.c - a compute-bound benchmark: integer hashing, a small matrix
 * multiply, an insertion sort and a sieve, repeated ITERS times.  Prints
 * a checksum and returns 0 when it matches the value computed on a
 * reference (qemu), else 1.
 */
#include <stdint.h>
#include <stdio.h>

#include "protsim.h"

#ifndef ITERS
#define ITERS 400
#endif

#define N 24
static uint32_t a[N][N], b[N][N], c[N][N];
static uint32_t arr[512];
static uint8_t sieve[8192];

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t matmul(uint32_t seed)
{
	uint64_t s = 0;

	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			a[i][j] = seed + (uint32_t)(i * 31 + j);
			b[i][j] = seed ^ (uint32_t)(i + j * 17);
		}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			uint32_t acc = 0;

			for (int k = 0; k < N; k++)
				acc += a[i][k] * b[k][j];
			c[i][j] = acc;
			s += acc;
		}
	return s;
}

static uint64_t sort(uint32_t seed)
{
	uint32_t x = seed | 1;

	for (int i = 0; i < 512; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		arr[i] = x % 100000;
	}
	for (int i = 1; i < 512; i++) {
		uint32_t v = arr[i];
		int j = i - 1;

		while (j >= 0 && arr[j] > v) {
			arr[j + 1] = arr[j];
			j--;
		}
		arr[j + 1] = v;
	}
	return (uint64_t)arr[0] + arr[255] * 3ull + arr[511] * 7ull;
}

static uint64_t primes(void)
{
	uint64_t n = 0;

	for (int i = 0; i < 8192; i++)
		sieve[i] = 1;
	for (int i = 2; i < 8192; i++) {
		if (!sieve[i])
			continue;
		n += (uint64_t)i;
		for (int j = i * 2; j < 8192; j += i)
			sieve[j] = 0;
	}
	return n;
}

int main(void)
{
	uint64_t h = 0;

	for (uint32_t it = 0; it < ITERS; it++) {
		h = mix(h, matmul(it));
		h = mix(h, sort(it * 2654435761u));
		h = mix(h, primes());
		h = mix(h, (uint64_t)it * 1000003u / (it + 1) % 97);
	}
	printf("compute: iters=%d checksum=0x%016llx\n", ITERS, (unsigned long long)h);
	return 0;
}
