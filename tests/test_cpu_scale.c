/*
 * test_cpu_scale.c - guest memory of any size up to 1 TiB at a cost that
 * follows what the guest touches: pages mapped (SNP: assigned and
 * validated) on their first #NPF, the guest's view unchanged (every page
 * private and validated, PVALIDATE reports it already validated), the
 * nested-table pool used per touch and its exhaustion naming vm.pt_pool,
 * and guest programs on 1 GiB with the default pool.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include <stdlib.h>

#include "cpu/cpu_int.h"
#include "tests/guest_vm.h"

#include "tests/rv_enc.h"

#define PVALIDATE 0x0000000bu

/* A started machine with one VM; @sets: key/value pairs, NULL-terminated. */
static struct stack_vm *vm_new(struct sim **s, const char *const *sets)
{
	struct sim_err err;
	struct stack_vm *v;

	*s = sim_new(stack_modules);
	for (; sets && *sets; sets += 2)
		cr_assert(!sim_cfg_set(*s, sets[0], sets[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(*s, &err), "%s", err.msg);
	v = tg_vm_new(*s, NULL, &err);
	cr_assert(v, "%s", err.msg);
	return v;
}

/* ------------------------------------------------------------------ */
/* First touch: mapped, for SNP assigned and validated; nothing else    */
/* ------------------------------------------------------------------ */

struct touch_case {
	char name[40];
	char type[4];        /* vm.type */
	char psize[4];       /* vm.page_size */
	char mem[8];         /* vm.mem_size */
	char machine[8];     /* machine.mem */
	uint64_t pt_pages;   /* nested-table pages after the run */
};

static struct touch_case touch_cases[] = {
	/*
	 * Table pages: the root, and per touched page the tables its walk
	 * lacked: the 1 TiB guests' four pages lie under three PML4 entries
	 * (code and PVALIDATE's page share one, in different GBs); the 64 MiB
	 * guest's under one PD, in four 2M regions.
	 */
	{ "npt 4k, 1 TiB guest",   "npt", "4k", "1t",  "2t", 1 + 3 + 3 + 3 },
	{ "snp 4k, 1 TiB guest",   "snp", "4k", "1t",  "2t", 1 + 3 + 3 + 3 + 2 },
	{ "npt 2m, 1 TiB guest",   "npt", "2m", "1t",  "2t", 1 + 2 + 2 + 2 },
	{ "snp 2m, 1 TiB guest",   "snp", "2m", "1t",  "2t", 1 + 2 + 2 + 2 + 1 },
	{ "snp 4k, 64 MiB guest",  "snp", "4k", "64m", "4g", 1 + 3 + 1 + 1 + 1 },
};

ParameterizedTestParameters(cpu_scale, first_touch)
{
	return cr_make_param_array(struct touch_case, touch_cases,
				   sizeof(touch_cases) / sizeof(touch_cases[0]));
}

/* Is @gpa's page mapped to its SPA (and, for SNP, assigned + validated at @gpa)? */
static bool backed(struct stack_vm *v, uint64_t gpa)
{
	struct cpu_vm *vm = stack_guest_cpu(v);
	uint64_t psize = v->guest->page_size;
	uint64_t page = gpa & ~(psize - 1), spa = page - vm->mem_base + vm->spa_base;
	struct s2_pte pte;
	struct rmp_entry e;

	if (s2_get_leaf(vm->npt, NULL, page, NULL, NULL, &pte) != S2_OK)
		return false;
	cr_assert_eq(pte.addr, spa, "gpa 0x%llx -> 0x%llx", (unsigned long long)gpa,
		     (unsigned long long)pte.addr);
	cr_assert_eq(pte.prot.perms, S2_PERM_ALL);
	if (vm->type == CPU_VM_SNP) {
		cr_assert(rmp_entry_get(vm->rmp, spa, &e));
		cr_assert(e.assigned && e.validated && !e.immutable && !e.vmsa,
			  "gpa 0x%llx: a=%d v=%d", (unsigned long long)gpa, e.assigned, e.validated);
		cr_assert_eq(e.asid, vm->asid);
		cr_assert_eq(e.gpa, page);
		cr_assert_eq(e.page_2m, psize == SIM_SZ_2M);
	}
	return true;
}

/* Not mapped, and (SNP) still hypervisor-owned in the RMP. */
static void assert_untouched(struct stack_vm *v, uint64_t gpa)
{
	struct cpu_vm *vm = stack_guest_cpu(v);
	uint64_t spa = (gpa & ~(v->guest->page_size - 1)) - vm->mem_base + vm->spa_base;
	struct rmp_entry e;

	cr_assert_eq(s2_get_leaf(vm->npt, NULL, gpa, NULL, NULL, NULL), S2_ERR_NOENT,
		     "gpa 0x%llx mapped", (unsigned long long)gpa);
	if (vm->type == CPU_VM_SNP) {
		cr_assert(rmp_entry_get(vm->rmp, spa, &e));
		cr_assert_not(e.assigned, "gpa 0x%llx assigned", (unsigned long long)gpa);
	}
}

/*
 * The guest stores to the last page of RAM and reads it back, reads a
 * never-written page in the middle (zero), and (SNP) PVALIDATEs a third
 * page (at the RMP entry's size): every access behaves as on fully
 * launched memory, PVALIDATE reports the page already validated (rc 0,
 * CF=1), and exactly the four
 * touched pages (code, last, middle, PVALIDATE's) are mapped, one #NPF
 * each; host memory stays a few dozen frames for a 1 TiB guest.
 */
ParameterizedTest(struct touch_case *c, cpu_scale, first_touch)
{
	const char *sets[] = { "vm.type", c->type, "vm.page_size", c->psize, "vm.mem_size", c->mem,
			       "machine.mem", c->machine, NULL };
	struct sim *s;
	struct stack_vm *v = vm_new(&s, sets);
	struct cpu_vm *vm = stack_guest_cpu(v);
	struct cpu_hart *h = cpu_vm_hart(vm, 0);
	const uint64_t psize = v->guest->page_size;
	bool snp = vm->type == CPU_VM_SNP;
	uint64_t last = RAM + vm->mem_size - 8, mid = RAM + vm->mem_size / 2 + 0x3008;
	uint64_t pv = RAM + vm->mem_size / 4, maps = 0;
	uint32_t code[] = { SD(2, 0, 5), LD(3, 0, 5), LD(4, 0, 6), PVALIDATE };

	/* the image is copied in untimed, as stack_guest_load does: it maps nothing */
	sim_mem_poke(sim_mem(s), vm->spa_base, code, sizeof(code));
	cpu_hart_set_reg(h, 2, 0x1234);
	cpu_hart_set_reg(h, 4, 0x77);
	cpu_hart_set_reg(h, 5, last);
	cpu_hart_set_reg(h, 6, mid);
	cpu_hart_set_reg(h, 10, pv);
	cpu_hart_set_reg(h, 11, psize == SIM_SZ_2M);   /* the RMP entry's size */
	cpu_hart_set_reg(h, 12, 1);    /* validate */
	stack_guest_start(v, snp ? 4 : 3);
	sim_run(s);
	cr_assert_eq(stack_guest_state(v), STACK_VM_LIMIT, "%s", c->name);
	cr_assert_eq(h->st.traps, 0, "%s: no trap (no #VC, no access fault)", c->name);
	cr_assert_eq(cpu_hart_reg(h, 3), 0x1234, "%s", c->name);
	cr_assert_eq(cpu_hart_reg(h, 4), 0, "%s: untouched memory reads zero", c->name);
	cr_assert_eq(h->st.insns, snp ? 4 : 3, "%s: each retried instruction retires once", c->name);
	if (snp) {
		cr_assert_eq(cpu_hart_reg(h, 10), RMP_RC_SUCCESS, "%s", c->name);
		cr_assert_eq(cpu_hart_reg(h, 11), 1, "%s: CF=1: already validated", c->name);
	}
	cr_assert(backed(v, RAM), "%s: code page", c->name);
	cr_assert(backed(v, last), "%s", c->name);
	cr_assert(backed(v, mid), "%s", c->name);
	cr_assert_eq(backed(v, pv), snp, "%s: PVALIDATE's page", c->name);
	cr_assert_eq(h->st.exits[CPU_EXIT_NPF], snp ? 4 : 3, "%s", c->name);
	cr_assert(!sim_stat_get(s, "vm.npf_maps", &maps));
	cr_assert_eq(maps, snp ? 4 : 3, "%s", c->name);
	assert_untouched(v, RAM + psize);
	assert_untouched(v, (last & ~(psize - 1)) - psize);
	assert_untouched(v, (mid & ~(psize - 1)) + psize);
	if (!snp)
		assert_untouched(v, pv);
	cr_assert_eq(s2_pgt_pages(vm->npt), c->pt_pages, "%s: %llu table pages", c->name,
		     (unsigned long long)s2_pgt_pages(vm->npt));
	/* the pages, the tables, VMCB/VMSA, RMP entries touched: no per-GB cost */
	cr_assert_leq(sim_mem_frames(sim_mem(s)), 32, "%s: %llu frames", c->name,
		      (unsigned long long)sim_mem_frames(sim_mem(s)));
	sim_free(s);   /* the stack destroys its VMs */
}

/* ------------------------------------------------------------------ */
/* The nested-table pool                                               */
/* ------------------------------------------------------------------ */

/*
 * vm.pt_pool=64k is 16 table pages: the root, then PDPT + PD + PT for the
 * first page and PD + PT for each page in another GB.  The eighth such
 * page finds the pool used up: the message names vm.pt_pool.
 */
Test(cpu_scale, pool_exhaustion_names_the_key)
{
	static const char *const sets[] = { "vm.mem_size", "16g", "machine.mem", "32g",
					    "vm.pt_pool", "64k", NULL };
	struct sim *s;
	struct stack_vm *v = vm_new(&s, sets);
	struct cpu_vm *vm = stack_guest_cpu(v);
	struct sim_err err;
	unsigned i;

	for (i = 0; i < 16; i++)
		if (stack_guest_map_page(v, NULL, RAM + (uint64_t)i * (1ull << 30), &err))
			break;
	cr_assert_eq(i, 7);
	cr_assert_eq(s2_pgt_pages(vm->npt), 16);
	cr_assert_str_eq(err.msg, "vm.pt_pool: the VM's nested-table pool (0x10000 bytes) is used "
			 "up mapping GPA 0x240000000: raise vm.pt_pool");
	/* a page in an already mapped GB still fits: no new table */
	cr_assert_eq(stack_guest_map_page(v, NULL, RAM + 0x5000, &err), 0);
	cr_assert_eq(stack_guest_map_page(v, NULL, RAM + 0x5000, &err), 0, "mapped twice: nothing to do");
	cr_assert_eq(stack_guest_map_page(v, NULL, RAM + (16ull << 30), &err), -1);
	cr_assert_str_eq(err.msg, "vm.mem_size: GPA 0x480000000 is not in guest RAM "
			 "(0x80000000 + 0x400000000)");
	sim_free(s);   /* the stack destroys its VMs */
}

Test(cpu_scale, bare_vm_has_nothing_to_map)
{
	static const char *const sets[] = { "vm.type", "bare", NULL };
	struct sim *s;
	struct stack_vm *v = vm_new(&s, sets);
	struct sim_err err;

	cr_assert_eq(stack_guest_map_page(v, NULL, RAM, &err), -1);
	cr_assert_str_eq(err.msg, "vm.type: a bare VM has no nested table to map GPA 0x80000000 in");
	sim_free(s);   /* the stack destroys its VMs */
}

/* The guest's touch that needs a table the pool cannot give stops the VM, naming the key. */
Test(cpu_scale, pool_exhaustion_stops_the_vm, .init = cr_redirect_stderr)
{
	static const char *const sets[] = { "vm.mem_size", "16g", "machine.mem", "32g",
					    "vm.pt_pool", "64k", NULL };
	struct sim *s;
	struct stack_vm *v = vm_new(&s, sets);
	struct cpu_vm *vm = stack_guest_cpu(v);
	struct cpu_hart *h = cpu_vm_hart(vm, 0);
	uint32_t code[] = { SD(2, 0, 5) };
	struct sim_err err;

	for (unsigned i = 1; i < 7; i++)
		cr_assert_eq(stack_guest_map_page(v, NULL, RAM + (uint64_t)i * (1ull << 30), &err), 0);
	sim_mem_poke(sim_mem(s), vm->spa_base, code, sizeof(code));
	cpu_hart_set_reg(h, 5, RAM + (8ull << 30));
	stack_guest_start(v, 10);
	sim_run(s);
	cr_assert_eq(stack_guest_state(v), STACK_VM_KILLED);
	cr_assert_eq(h->st.exits[CPU_EXIT_NPF], 2, "the code page, then the store");
	fflush(stderr);
	cr_assert_stderr_eq_str("protsim: vcpu0: #S2F(level=3,type=translation) gpa=0x280000000 "
				"at pc=0x80000000: vm.pt_pool: the VM's nested-table pool (0x10000 "
				"bytes) is used up mapping GPA 0x280000000: raise vm.pt_pool; VM "
				"stopped\n");
	sim_free(s);   /* the stack destroys its VMs */
}

/* ------------------------------------------------------------------ */
/* Guest programs on large guests                                       */
/* ------------------------------------------------------------------ */

/*
 * hello on 1 GiB (default vm.pt_pool, which could not hold the eager
 * tables of 1 GiB) and on 1 TiB, NPT and SNP: same output, and the same
 * instruction count as on 64 MiB.
 */
Test(cpu_scale, hello_on_large_guests)
{
	static const char *const sizes[] = { "64m", "1g", "1t" };
	static const char *const types[] = { "npt", "snp" };
	const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
	uint64_t insns0 = 0;
	char path[512];

	snprintf(path, sizeof(path), "%s/hello.elf", dir);
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned i = 0; i < 3; i++) {
			const char *sets[] = { "vm.mem_size", sizes[i], "vm.type", types[t],
					       "machine.mem", "2t", NULL };
			struct sim *s;
			struct stack_vm *v = vm_new(&s, sets);
			struct cpu_vm *vm = stack_guest_cpu(v);
			struct cpu_elf *elf;
			struct sim_err err;
			char *out = NULL;
			size_t len = 0;
			FILE *con = open_memstream(&out, &len);

			v->guest->console = con;
			cr_assert(!cpu_elf_open(path, vm->mem_base, vm->mem_size, &elf, &err),
				  "%s (run make guest)", err.msg);
			cr_assert(!stack_guest_load(v, elf, &err), "%s", err.msg);
			stack_guest_start(v, 0);
			sim_run(s);
			fclose(con);
			cr_assert_eq(stack_guest_state(v), STACK_VM_EXITED, "%s %s", types[t], sizes[i]);
			cr_assert_eq(stack_guest_exit_code(v), 0);
			cr_assert_str_eq(out, "hello from a protsim guest (hart 0)\n"
					 "misa=0x8000000000141105  64-bit: yes\n"
					 "-42 str feedfacecafebeef z\n");
			if (!insns0)
				insns0 = cpu_vm_hart(vm, 0)->st.insns;
			cr_assert_eq(cpu_vm_hart(vm, 0)->st.insns, insns0, "%s %s", types[t], sizes[i]);
			free(out);
			cpu_elf_free(elf);
			sim_free(s);
		}
	}
}
