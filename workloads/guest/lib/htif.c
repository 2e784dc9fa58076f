/*
 * htif.c - HTIF mailboxes, the picolibc stdio stream on the HTIF console,
 * exit, and the report of an unexpected trap.
 */
#include <stdio.h>
#include <stdlib.h>

#include "protsim.h"

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));

void protsim_exit(int code)
{
	for (;;) {
		while (tohost)
			;
		tohost = ((uint64_t)(unsigned)code << 1) | 1;
	}
}

void _exit(int code)
{
	protsim_exit(code);
}

static int htif_putc(char c, FILE *f)
{
	(void)f;
	protsim_putchar(c);
	return (unsigned char)c;
}

static FILE htif_stdio = FDEV_SETUP_STREAM(htif_putc, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &htif_stdio;
FILE *const stdout = &htif_stdio;
FILE *const stderr = &htif_stdio;

void protsim_unexpected_trap(unsigned long cause, unsigned long epc, unsigned long tval);
void protsim_unexpected_trap(unsigned long cause, unsigned long epc, unsigned long tval)
{
	printf("unexpected trap: mcause=0x%lx mepc=0x%lx mtval=0x%lx\n", cause, epc, tval);
	protsim_exit(99);
}
