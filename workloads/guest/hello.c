/* hello.c - console output through HTIF (picolibc printf). */
#include <stdio.h>

#include "protsim.h"

int main(void)
{
	printf("hello from a protsim guest (hart %lu)\n", csr_read(mhartid));
	printf("misa=0x%lx  64-bit: %s\n", csr_read(misa), (long)csr_read(misa) < 0 ? "yes" : "no");
	printf("%d %s %lx %c\n", -42, "str", 0xfeedfacecafebeeful, 'z');
	return 0;
}
