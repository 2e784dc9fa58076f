/*
 * fuzz_trace.c - libFuzzer harness for the trace reader (protsim trace
 * dump, sim/trace.c, docs/trace.md).
 *
 * The first byte picks the layer: odd, the rest is read as the
 * decompressed record stream (the header and record decoder see the
 * fuzzer's bytes directly); even, as a zstd-compressed file (the
 * decompression and its errors).  Errors are expected; a crash, sanitizer
 * report, leak or sim_fatal() abort is a bug.  Built and run by
 * `make fuzz`; the corpus starts from traces of the test scripts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct sim_err err;

	if (!size)
		return 0;
	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	(void)sim_trace_dump_mem(data + 1, size - 1, data[0] & 1, "fuzz.zst", null, &err);
	return 0;
}
