/* squares.c - a protsim guest program: prints, then exits with a code. */
#include <stdio.h>

#include "protsim.h"

int main(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 1; i <= 10; i++)
		sum += i * i;
	printf("sum of squares 1..10 = %lu on hart %lu\n", sum, csr_read(mhartid));
	return sum == 385 ? 0 : 1;    /* the exit code of `protsim exec` */
}
