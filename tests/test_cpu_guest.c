/*
 * test_cpu_guest.c - guest programs end to end (make guest; GUEST_DIR,
 * default build/guest): console output and exit code, fast vs detailed
 * equivalence of results, determinism, every VM type, the SNP and CR
 * demos, multi-hart runs, the instruction limit.
 */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "cpu/cpu_int.h"
#include "tests/guest_vm.h"

struct run {
	char *out;                 /* console output */
	size_t len;
	enum stack_vm_state state;
	int code;
	uint64_t insns[4], cycles[4], traps[4], exits[4][CPU_EXIT_COUNT];
	uint64_t rmp_pvalidate_ok;
};

static void run_prog(const char *prog, const char *const *sets, uint64_t max, struct run *r)
{
	const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
	char path[512];
	struct sim_err err;
	struct sim *s = sim_new(stack_modules);
	struct cpu_elf *elf;
	struct stack_vm *v;
	struct cpu_vm *vm;
	FILE *con;

	memset(r, 0, sizeof(*r));
	for (; sets && *sets; sets += 2)
		cr_assert(!sim_cfg_set(s, sets[0], sets[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(s, &err), "%s", err.msg);
	snprintf(path, sizeof(path), "%s/%s.elf", dir, prog);
	cr_assert(!cpu_elf_open(path, sim_cfg_u64(s, "vm.mem_base"), sim_cfg_u64(s, "vm.mem_size"),
				&elf, &err), "%s (run make guest)", err.msg);
	con = open_memstream(&r->out, &r->len);
	v = tg_vm_new(s, con, &err);
	cr_assert(v, "%s", err.msg);
	vm = stack_guest_cpu(v);
	cr_assert(!stack_guest_load(v, elf, &err), "%s", err.msg);
	stack_guest_start(v, max);
	sim_run(s);
	fclose(con);
	r->state = stack_guest_state(v);
	r->code = stack_guest_exit_code(v);
	for (unsigned i = 0; i < cpu_vm_nharts(vm) && i < 4; i++) {
		struct cpu_hart *h = cpu_vm_hart(vm, i);

		r->insns[i] = h->st.insns;
		r->cycles[i] = h->st.cycles;
		r->traps[i] = h->st.traps;
		memcpy(r->exits[i], h->st.exits, sizeof(r->exits[i]));
	}
	sim_stat_get(s, "rmp.pvalidate.success", &r->rmp_pvalidate_ok);
	stack_guest_free(v);
	cpu_elf_free(elf);
	sim_free(s);
}

static const char hello_out[] =
	"hello from a protsim guest (hart 0)\n"
	"misa=0x8000000000141105  64-bit: yes\n"
	"-42 str feedfacecafebeef z\n";

Test(guest, hello)
{
	struct run r;

	run_prog("hello", NULL, 0, &r);
	cr_assert_eq(r.state, STACK_VM_EXITED);
	cr_assert_eq(r.code, 0);
	cr_assert_str_eq(r.out, hello_out);
	free(r.out);
}

Test(guest, every_vm_type_same_result)
{
	static const char *const bare[] = { "vm.type", "bare", NULL };
	static const char *const npt[] = { "vm.type", "npt", NULL };
	static const char *const snp[] = { "vm.type", "snp", NULL };
	const char *const *types[] = { bare, npt, snp };
	struct run r[3];

	for (int i = 0; i < 3; i++) {
		run_prog("compute_small", types[i], 0, &r[i]);
		cr_assert_eq(r[i].state, STACK_VM_EXITED);
		cr_assert_eq(r[i].code, 0);
		cr_assert_str_eq(r[i].out, "compute: iters=2 checksum=0x0dbe8308af2c6c86\n");
	}
	cr_assert_eq(r[0].insns[0], r[1].insns[0]);
	cr_assert_eq(r[1].insns[0], r[2].insns[0]);
	/* SNP world switches cost more than NPT ones */
	cr_assert_gt(r[2].cycles[0], r[1].cycles[0]);
	for (int i = 0; i < 3; i++)
		free(r[i].out);
}

Test(guest, fast_and_detailed_agree)
{
	static const char *const fast[] = { "cpu.mode", "fast", NULL };
	static const char *const det[] = { "cpu.mode", "detailed", NULL };
	struct run a, b;

	run_prog("compute_small", fast, 0, &a);
	run_prog("compute_small", det, 0, &b);
	cr_assert_str_eq(a.out, b.out);
	cr_assert_eq(a.insns[0], b.insns[0], "same instructions retired");
	cr_assert_eq(a.traps[0], b.traps[0]);
	cr_assert_gt(b.cycles[0], a.cycles[0], "detailed adds stalls over CPI 1");
	free(a.out);
	free(b.out);
}

Test(guest, faults_identical_in_both_modes)
{
	static const char *const fast[] = { "cpu.mode", "fast", "vm.cr0_intercept", "0x10000", NULL };
	static const char *const det[] = { "cpu.mode", "detailed", "vm.cr0_intercept", "0x10000", NULL };
	struct run a, b;

	run_prog("crwrite", fast, 0, &a);
	run_prog("crwrite", det, 0, &b);
	cr_assert_str_eq(a.out, b.out);
	cr_assert_eq(a.traps[0], b.traps[0]);
	cr_assert_eq(a.exits[0][CPU_EXIT_CR_WRITE], 1);
	cr_assert_eq(b.exits[0][CPU_EXIT_CR_WRITE], 1);
	free(a.out);
	free(b.out);
}

Test(guest, deterministic_multi_hart_detailed)
{
	static const char *const sets[] = { "vm.vcpus", "4", "cpu.mode", "detailed",
					    "cpu.batch", "97", NULL };
	struct run a, b;

	run_prog("smp", sets, 0, &a);
	run_prog("smp", sets, 0, &b);
	cr_assert_eq(a.state, STACK_VM_EXITED);
	cr_assert_eq(a.code, 0, "%s", a.out);
	cr_assert_str_eq(a.out, "harts=4 lrsc=4000 amo=4000\n");
	cr_assert_str_eq(a.out, b.out);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(a.insns[i], b.insns[i]);
		cr_assert_eq(a.cycles[i], b.cycles[i]);
	}
	free(a.out);
	free(b.out);
}

Test(guest, smp_exact_interleaving)
{
	static const char *const sets[] = { "vm.vcpus", "4", "cpu.batch", "1", NULL };
	struct run r;

	run_prog("smp", sets, 0, &r);
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert_str_eq(r.out, "harts=4 lrsc=4000 amo=4000\n");
	free(r.out);
}

static const char pvalidate_out[] =
	"sev_status=0x7 vmpl=0\n"
	"rmpquery: rc=0 2m=0 perms=0x000000\n"
	"rmpadjust vmpl1 rw: rc=0\n"
	"rmpadjust vmpl0 (not lower): rc=2\n"
	"rmpquery: rc=0 2m=0 perms=0x000003\n"
	"pvalidate rescind: rc=0 cf=0\n"
	"pvalidate rescind again: rc=0 cf=1\n"
	"load from the unvalidated page:\n"
	"  #VC: vc_code=0x404 tval=page\n"
	"  value=0xdead vc_seen=1\n"
	"pvalidate validate: rc=0 cf=0\n"
	"load again: value=0x5a\n"
	"pvalidate 2M on 4K entries: rc=6\n"
	"vmgexit SEV_INFO: 0x2000133000001\n"
	"hypercall version: 1\n";

Test(guest, snp_pvalidate_rmpadjust_demo)
{
	static const char *const sets[] = { "vm.type", "snp", NULL };
	struct run r;

	run_prog("pvalidate", sets, 0, &r);
	cr_assert_eq(r.state, STACK_VM_EXITED);
	cr_assert_eq(r.code, 0);
	cr_assert_str_eq(r.out, pvalidate_out);
	cr_assert_eq(r.exits[0][CPU_EXIT_VMGEXIT], 1);
	cr_assert_eq(r.exits[0][CPU_EXIT_HYPERCALL], 1);
	cr_assert_eq(r.rmp_pvalidate_ok, 3, "rescind, rescind (CF=1), validate");
	free(r.out);
}

Test(guest, pvalidate_outside_snp_is_ud)
{
	struct run r;

	run_prog("pvalidate", NULL, 0, &r);
	cr_assert_eq(r.code, 2);
	cr_assert_str_eq(r.out, "sev_status=0x0 vmpl=0\nnot an SNP guest (run with --set vm.type=snp)\n");
	free(r.out);
}

Test(guest, crwrite_without_intercept)
{
	struct run r;

	run_prog("crwrite", NULL, 0, &r);
	cr_assert_eq(r.code, 0);
	cr_assert_str_eq(r.out,
			 "S-mode: cr0=0x80010011 cr4=0x300000\n"
			 "S-mode write to the read-only page (WP=1): store page fault\n"
			 "clear CR0.WP: ok, cr0=0x80000011\n"
			 "S-mode write to the read-only page (WP=0): ok\n"
			 "page byte = 0x77\n");
	cr_assert_eq(r.exits[0][CPU_EXIT_CR_WRITE], 0);
	free(r.out);
}

Test(guest, crwrite_intercepted_and_denied)
{
	static const char *const sets[] = { "vm.cr0_intercept", "0x10000", NULL };
	struct run r;

	run_prog("crwrite", sets, 0, &r);
	cr_assert_eq(r.code, 0);
	cr_assert_str_eq(r.out,
			 "S-mode: cr0=0x80010011 cr4=0x300000\n"
			 "S-mode write to the read-only page (WP=1): store page fault\n"
			 "clear CR0.WP: #GP (the hypervisor refused it), cr0=0x80010011\n"
			 "S-mode write to the read-only page (WP=1): store page fault\n"
			 "page byte = 0x0\n");
	cr_assert_eq(r.exits[0][CPU_EXIT_CR_WRITE], 1);
	free(r.out);
}

Test(guest, instruction_limit)
{
	struct run r;

	run_prog("hello", NULL, 500, &r);
	cr_assert_eq(r.state, STACK_VM_LIMIT);
	cr_assert_eq(r.insns[0] + r.traps[0], 500);
	free(r.out);
}
