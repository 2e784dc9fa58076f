/*
 * fuzz_lackey.c - libFuzzer harness for the valgrind Lackey log parser
 * (protsim import lackey, sim/import.c, docs/trace.md "Importing").
 *
 * The input is read as a log by sim_lackey_parse() (every line, the
 * limit from the first byte), and whole as one line by sim_lackey_line().
 * Every access it returns must be within the rules (kind 0..3, size
 * 1..SIM_TRACE_ACCESS_MAX); errors are expected; a crash, sanitizer
 * report, leak or sim_fatal() abort is a bug.  Built and run by
 * `make fuzz`; the corpus starts from a small lackey log.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *arg, const struct sim_lackey_access *a)
{
	(void)arg;
	if (a->kind > SIM_TRACE_MODIFY || a->size < 1 || a->size > SIM_TRACE_ACCESS_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_lackey_count cnt;
	struct sim_lackey_access a;
	struct sim_err err;
	char why[200];
	FILE *f;

	if (!size)
		return 0;
	if (sim_lackey_line((const char *)data, size, &a, why, sizeof(why)) == 1)
		check(NULL, &a);
	f = fmemopen((void *)(uintptr_t)(data + 1), size - 1, "r");
	if (!f)
		return 0;
	if (!sim_lackey_parse(f, "fuzz.log", data[0] & 7, check, NULL, &cnt, &err) &&
	    (!cnt.accesses || cnt.accesses > cnt.lines))
		abort();
	fclose(f);
	return 0;
}
