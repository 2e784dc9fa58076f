/*
 * fuzz_script.c - libFuzzer harness for the operation-language interpreter.
 *
 * Each input is a script: it is run with sim_script_run_text() on a fresh
 * simulator with the engine ops and a small module whose ops take every
 * argument type (and one that refuses its argument at run time).  Any
 * crash, sanitizer report, leak or sim_fatal() abort is a bug: bad input
 * must only ever give exit codes 0, 1 or 2.
 *
 * Build and run (from the repository root; see docs/script.md):
 *
 *   mkdir -p build-fuzz/corpus
 *   clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     tests/fuzz/fuzz_script.c \
 *     $(find sim -maxdepth 1 -name '*.[cS]' ! -name main.c | sort) \
 *     -ljansson -lelf -lzstd -ledit -lm -o build-fuzz/fuzz_script
 *   build-fuzz/fuzz_script -max_total_time=120 -max_len=512 \
 *     -dict=tests/fuzz/script.dict build-fuzz/corpus tests/scripts
 *
 * With -DFUZZ_WITH_MODULES the RMP, stage-2 and IOMMU modules are built in
 * too, so their ops are fuzzed through the interpreter: add
 *   -DFUZZ_WITH_MODULES $(find rmp stage2 iommu -name '*.c' | sort)
 * to the clang line and tests/fuzz/modules.dict to the dictionary.
 *
 * The machine is whatever the input asks for (machine.mem up to the
 * config maximum is fine: memory is sparse).  The harness starts from
 * engine.stack_kb=64 so that cpus=256 stays cheap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#ifdef FUZZ_WITH_MODULES
#include "iommu/iommu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_kinds[] = { "read", "write", "fetch", NULL };

/* fz n=N [sz=SIZE] [b=0|1] [e=read|write|fetch] [s=TEXT] [lat=N] */
static void fz_op(struct sim_call *c)
{
	uint64_t lat = sim_arg_u64(c, "lat", 1) & 0xffff;

	sim_call_printf(c, "fz %s", sim_arg_str(c, "s", ""));
	sim_call_result(c, "#NPF(%s)", sim_arg_str(c, "s", "RMP"));
	sim_call_field_u64(c, "n", sim_arg_u64(c, "n", 0));
	sim_call_field_hex(c, "sz", sim_arg_u64(c, "sz", 0));
	sim_call_field_u64(c, "b", sim_arg_bool(c, "b", false));
	sim_call_field_u64(c, "e", sim_arg_enum(c, "e", 0));
	sim_advance(sim_call_agent(c), lat);
}

/* fz bad x=TEXT: refuses x unless it is "ok". */
static void fz_bad(struct sim_call *c)
{
	if (strcmp(sim_arg_str(c, "x", ""), "ok") != 0) {
		sim_call_bad_arg(c, "x", "must be ok");
		return;
	}
	sim_call_result(c, "OK");
}

static const struct sim_arg_spec fz_args[] = {
	{ "n", SIM_ARG_U64, true, NULL },
	{ "sz", SIM_ARG_SIZE, false, NULL },
	{ "b", SIM_ARG_BOOL, false, NULL },
	{ "e", SIM_ARG_ENUM, false, fz_kinds },
	{ "s", SIM_ARG_STR, false, NULL },
	{ "lat", SIM_ARG_U64, false, NULL },
	{ NULL, 0, false, NULL }
};
static const struct sim_arg_spec fz_bad_args[] = {
	{ "x", SIM_ARG_STR, true, NULL },
	{ NULL, 0, false, NULL }
};
static const struct sim_op fz_ops[] = {
	{ "fz", fz_args, "fz n=N ...", "fuzz op", fz_op },
	{ "fz bad", fz_bad_args, "fz bad x=TEXT", "refuses x", fz_bad },
	{ NULL, NULL, NULL, NULL, NULL }
};
static const struct sim_module fz_mod = { .name = "fz", .ops = fz_ops };
#ifdef FUZZ_WITH_MODULES
static const struct sim_module *const fz_mods[] = { &rmp_module, &s2_module, &iommu_module,
						    &fz_mod, NULL };
#else
static const struct sim_module *const fz_mods[] = { &fz_mod, NULL };
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct sim *s;
	char *text;
	int rc;

	if (!sink)
		sink = fopen("/dev/null", "w");
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* One input, one machine: keep stacks small so cpus=256 stays cheap. */
	s = sim_new(fz_mods);
	sim_cfg_set(s, "engine.stack_kb", "64", "fuzz", 0, NULL);
	rc = sim_script_run_text(s, text, "fuzz.ps", sink, sink);
	if (rc < 0 || rc > 2)
		abort();
	sim_free(s);
	free(text);
	return 0;
}
