/*
 * fuzz_script.c - libFuzzer harness for the operation-language interpreter.
 *
 * Each input is a script: it is run with sim_script_run_text() on a fresh
 * simulator with the engine ops and a small module whose ops take every
 * argument type (one refuses its argument at run time; `fz chk` aborts if
 * a value that breaks its spec gets past the parse-time checkers), then
 * typed line by line into the shell (sim_shell_run(): its commands too,
 * `reset` replacing the simulator; `source` reads regular files only, so
 * an input naming a device cannot block) on another fresh simulator.  Any
 * crash, sanitizer report, leak or sim_fatal() abort is a bug: bad input
 * must only ever give exit codes 0, 1 or 2 (the shell: 0 or 2).
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
 * With -DFUZZ_WITH_MODULES the RMP, stage-2, IOMMU, CPU and stack modules
 * (the stack's KVM, guest and pKVM operations too) are built in
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
#include "cpu/cpu.h"
#include "sim/stack/stack.h"
#include "sim/stack/pkvm_host.h"
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

/*
 * fz chk [a=ADDR] [al=ADDR] [i=0..3] [big=N] [ps=4k|2m|1g] [as=1|2|4|8]
 *        [p=PERMS] [nz=SIZE] [len=SIZE]: one argument of every checked
 * type.  The op checks that each value it reads obeys its spec (the
 * parse-time checkers are the oracle's subject): a bad value that got
 * through aborts.
 */
static void fz_chk(struct sim_call *c)
{
	static const char letters[] = "rwxus";
	uint64_t v, mask = 0;
	const char *t;

	if (sim_arg_u64(c, "a", 0) >= SIM_PA_LIMIT)
		abort();
	v = sim_arg_u64(c, "al", 0);
	if (v >= SIM_PA_LIMIT || (v & (SIM_SZ_4K - 1)))
		abort();
	if (sim_arg_u64(c, "i", 0) > 3 || sim_arg_u64(c, "big", 0) > UINT32_MAX)
		abort();
	v = sim_arg_u64(c, "ps", SIM_SZ_4K);
	if (v != SIM_SZ_4K && v != SIM_SZ_2M && v != SIM_SZ_1G)
		abort();
	v = sim_arg_u64(c, "as", 1);
	if (v != 1 && v != 2 && v != 4 && v != 8)
		abort();
	if (sim_arg_u64(c, "nz", 1) == 0)
		abort();
	v = sim_arg_u64(c, "len", 1);
	if (v == 0 || v > (1u << 20))
		abort();
	/* perms: "none", or each letter of the text once, giving exactly the set read. */
	t = sim_arg_str(c, "p", "none");
	if (strcmp(t, "none") != 0) {
		for (; *t; t++) {
			const char *at = strchr(letters, *t);

			if (!at || (mask & (1ull << (at - letters))))
				abort();
			mask |= 1ull << (at - letters);
		}
		if (!mask)
			abort();
	}
	if (sim_arg_u64(c, "p", 0) != mask)
		abort();
	sim_call_result(c, "OK");
	sim_call_field_hex(c, "p", mask);
}

static const struct sim_arg_spec fz_chk_args[] = {
	SIM_A_ADDR("a", false),
	SIM_A_ADDR_ALIGN("al", false, SIM_SZ_4K),
	SIM_A_INT("i", false, 0, 3),
	SIM_A_INT("big", false, 0, UINT32_MAX),
	SIM_A_SIZESET("ps", false, SIM_SZ_4K | SIM_SZ_2M | SIM_SZ_1G),
	SIM_A_SIZESET("as", false, 1 | 2 | 4 | 8),
	SIM_A_PERMS("p", false, "rwxus"),
	SIM_A_SIZE_IN("nz", false, 1, 0),
	SIM_A_SIZE_IN("len", false, 1, 1u << 20),
	SIM_A_END
};
static const struct sim_arg_spec fz_args[] = {
	SIM_A_U64("n", true),
	SIM_A_SIZE("sz", false),
	SIM_A_BOOL("b", false),
	SIM_A_ENUM("e", false, fz_kinds),
	SIM_A_STR("s", false),
	SIM_A_U64("lat", false),
	SIM_A_END
};
static const struct sim_arg_spec fz_bad_args[] = {
	SIM_A_STR("x", true),
	SIM_A_END
};
static const struct sim_op fz_ops[] = {
	{ "fz", fz_args, "fuzz op", fz_op },
	{ "fz bad", fz_bad_args, "refuses x", fz_bad },
	{ "fz chk", fz_chk_args, "checked argument types", fz_chk },
	{ NULL, NULL, NULL, NULL }
};
static const struct sim_module fz_mod = { .name = "fz", .ops = fz_ops };
#ifdef FUZZ_WITH_MODULES
static const struct sim_module *const fz_mods[] = { &rmp_module, &s2_module, &iommu_module,
						    &cpu_module, &stack_module, &stack_kvm_module,
						    &stack_guest_module, &stack_heki_module, &stack_pkvm_module,
						    &stack_host_module, &fz_mod, NULL };
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
	/* The same lines typed into the shell (which also prints `help` usage lines). */
	if (size) {
		FILE *in = fmemopen(text, size, "r");

		if (in) {
			s = sim_new(fz_mods);
			sim_cfg_set(s, "engine.stack_kb", "64", "fuzz", 0, NULL);
			rc = sim_shell_run(&s, in, "fuzz", sink, sink);
			if (rc != 0 && rc != 2)
				abort();
			sim_free(s);   /* the last one, after any reset */
			fclose(in);
		}
	}
	free(text);
	return 0;
}
