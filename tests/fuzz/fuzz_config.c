/*
 * fuzz_config.c - libFuzzer harness for the scenario/profile parser and
 * every module's attach-time validation.
 *
 * Each input is a scenario file: it is loaded with sim_cfg_load_text() into
 * a simulator with every module, and if it loads, the machine is started
 * (profile, memory, each module's attach with its own range and layout
 * checks).  Errors are expected; a crash, sanitizer report, leak or
 * sim_fatal() abort is a bug.  Built and run by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/stack/stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sim_module *const *mods = stack_modules;
	char *text = malloc(size + 1);
	struct sim *s;
	struct sim_err err;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	s = sim_new(mods);
	/* Keep machines cheap: the fuzzer may still raise these. */
	sim_cfg_set(s, "engine.stack_kb", "64", "fuzz", 0, &err);
	if (sim_cfg_load_text(s, "fuzz.ini", text, &err) == 0)
		(void)sim_start(s, &err);
	sim_free(s);
	free(text);
	return 0;
}
