/*
 * fuzz_elf.c - libFuzzer harness for the RV64 ELF loader.
 *
 * Each input is written to a file and opened with cpu_elf_open() (libelf
 * underneath, then the loader's own checks: class, machine, flags,
 * segments inside guest memory, overlaps, truncation).  A clean error is
 * the expected outcome for almost every input; a crash, sanitizer report
 * or leak is a bug.  Seed the corpus with the guest programs (build/guest).  Built and
 * run by `make fuzz`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu/cpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct cpu_elf *e = NULL;
	struct sim_err err;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/protsim-fuzz-elf.%d", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	if (cpu_elf_open(path, 0x80000000ull, 64ull << 20, &e, &err) == 0)
		cpu_elf_free(e);
	return 0;
}
