/*
 * test_stack_vm_ops.c - the s2 module end to end: runs every
 * tests/scripts/s2_*.ps (operation-language files with expect lines) on
 * a machine with the rmp and s2 modules, as `protsim script` would, and
 * checks module wiring that scripts cannot see (attach errors, keys).
 * Run from the repository root (as `make test` does).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "rmp/rmp.h"
#include "stage2/s2.h"
#include "sim/stack/stack.h"

/* The machine every command builds (the VM operations belong to the stack). */
#define mods stack_modules

/*
 * Run @path on a new machine; return the script's exit code, output in
 * @out (caller frees) and the machine in *@sp (NULL: freed here).
 */
static int run_file_keep(const char *path, char **out, struct sim **sp)
{
	struct sim *s = sim_new(mods);
	size_t n = 0;
	FILE *o = open_memstream(out, &n);
	FILE *in = fopen(path, "r");
	int rc;

	cr_assert_not_null(in, "%s: cannot open (run from the repository root)", path);
	rc = sim_script_run(s, in, path, o, o, false);
	fclose(in);
	fclose(o);
	if (sp)
		*sp = s;
	else
		sim_free(s);
	return rc;
}

static int run_file(const char *path, char **out)
{
	return run_file_keep(path, out, NULL);
}

struct script_case {
	char path[64];   /* arrays, not pointers: Criterion copies params across processes */
	int rc;          /* expected exit code */
};

static struct script_case script_cases[] = {
	{ "tests/scripts/s2_arm64.ps", 0 },
	{ "tests/scripts/s2_npt.ps", 0 },
	{ "tests/scripts/s2_ept.ps", 0 },
	{ "tests/scripts/s2_nested.ps", 0 },
	{ "tests/scripts/s2_sv39.ps", 0 },
	{ "tests/scripts/s2_snp.ps", 0 },
	{ "tests/scripts/s1_rmp.ps", 0 },
	{ "tests/scripts/s2_rmp_tables.ps", 0 },
	{ "tests/scripts/s2_pagesize.ps", 0 },
	{ "tests/scripts/s2_nonsnp.ps", 0 },
	{ "tests/scripts/s2_rmp_flush_tlb.ps", 0 },
	{ "tests/scripts/s2_rmp_cache.ps", 0 },
	{ "tests/scripts/s2_rmp_stale.ps", 0 },
	{ "tests/scripts/s2_errors.ps", 0 },
	{ "tests/scripts/s2_bad_perms.ps", 2 },
	{ "tests/scripts/s2_bad_levels.ps", 2 },
};

ParameterizedTestParameters(stack_vm_ops, files)
{
	return cr_make_param_array(struct script_case, script_cases,
				   sizeof(script_cases) / sizeof(script_cases[0]));
}

ParameterizedTest(struct script_case *sc, stack_vm_ops, files)
{
	char *out = NULL;
	int rc = run_file(sc->path, &out);

	cr_expect_eq(rc, sc->rc, "%s: exit %d, expected %d; output:\n%s", sc->path, rc, sc->rc, out);
	free(out);
}

static int run_text(const char *text, char **out)
{
	struct sim *s = sim_new(mods);
	size_t n = 0;
	FILE *o = open_memstream(out, &n);
	int rc = sim_script_run_text(s, text, "t.ps", o, o);

	fclose(o);
	sim_free(s);
	return rc;
}

Test(stack_vm_ops, walk_prints_raw_descriptors)
{
	char *out = NULL;
	int rc = run_text("machine mem=1g cpus=1 rmp=off s2.pool_base=0x100000 s2.pool_size=64k\n"
			  "s2 create vm=1 format=arm64 levels=3\n"
			  "s2 map vm=1 ipa=0x200000 pa=0x400000 size=2m perms=rw\n"
			  "s2 walk vm=1 ipa=0x201234\n", &out);

	cr_assert_eq(rc, 0, "%s", out);
	/* Root (level 1) at the pool base; one level-2 table below it. */
	cr_expect_not_null(strstr(out, "L1 addr=0x100000 desc=0x0000000000101003"), "%s", out);
	cr_expect_not_null(strstr(out, "L2 addr=0x101008 desc=0x00400000004007fd"), "%s", out);
	cr_expect_not_null(strstr(out, "-> OK pa=0x401234 size=2m perms=rw"), "%s", out);
	free(out);
}

Test(stack_vm_ops, pool_exhaustion_is_a_refusal)
{
	char *out = NULL;
	int rc = run_text("machine mem=1g cpus=1 rmp=off s2.pool_base=0x100000 s2.pool_size=8k\n"
			  "s2 create vm=0 format=npt\n"
			  "s2 map vm=0 ipa=0x1000 pa=0x1000 size=4k perms=r\n"
			  "expect ERROR(nomem)\n", &out);

	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}

Test(stack_vm_ops, pool_outside_memory_is_an_attach_error)
{
	char *out = NULL;
	int rc = run_text("machine mem=64m cpus=1 s2.pool_base=0x3ff0000 s2.pool_size=1m\n"
			  "s2 create vm=0 format=npt\n", &out);

	cr_expect_eq(rc, 2, "%s", out);
	cr_expect_not_null(strstr(out, "s2.pool_base"), "%s", out);
	free(out);
}

/*
 * Tables emptied by unmap go back to the script pool: with room for the
 * root and three tables only, a second mapping elsewhere fits only
 * because the first one's tables were freed (s2.pool.frees, .pages).
 */
Test(stack_vm_ops, unmap_returns_empty_tables_to_the_pool)
{
	struct sim *s = sim_new(mods);
	char *out = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&out, &n);
	uint64_t pages = 0, frees = 0;
	int rc = sim_script_run_text(s,
		"machine mem=1g cpus=1 rmp=off s2.pool_base=0x100000 s2.pool_size=16k\n"
		"s2 create vm=0 format=npt\n"
		"s2 map vm=0 ipa=0x1000 pa=0x1000 size=4k perms=r\n"
		"expect OK\n"
		"s2 map vm=0 ipa=0x8000000000 pa=0x2000 size=4k perms=r\n"
		"expect ERROR(nomem)\n"
		"s2 unmap vm=0 ipa=0x1000 size=4k\n"
		"expect OK\n"
		"s2 map vm=0 ipa=0x8000000000 pa=0x2000 size=4k perms=r\n"
		"expect OK\n"
		"s2 walk vm=0 ipa=0x8000000000\n"
		"expect OK pa=0x2000\n", "t.ps", o, o);

	fclose(o);
	cr_expect_eq(rc, 0, "%s", out);
	cr_assert_eq(sim_stat_get(s, "s2.pool.pages", &pages), 0);
	cr_assert_eq(sim_stat_get(s, "s2.pool.frees", &frees), 0);
	cr_expect_eq(pages, 4, "root + 3 tables of the second mapping");
	cr_expect_eq(frees, 3, "the first mapping's 3 tables");
	free(out);
	sim_free(s);
}

/*
 * The host's table stores are RMP-checked before the first one
 * (s1_rmp.ps, s2_rmp_tables.ps): each refusal is one host #PF(RMP)
 * (rmp.faults.pf), takes no table page (s2.pool.pages) and stores
 * nothing (the scripts read the entries back).
 */
static void run_counting(const char *path, uint64_t *pf, uint64_t *pages, uint64_t *held)
{
	struct sim *s;
	char *out = NULL;
	int rc = run_file_keep(path, &out, &s);

	cr_assert_eq(rc, 0, "%s:\n%s", path, out);
	cr_assert_eq(sim_stat_get(s, "rmp.faults.pf", pf), 0);
	cr_assert_eq(sim_stat_get(s, "s2.pool.pages", pages), 0);
	cr_assert_eq(sim_stat_get(s, "stack.palloc.held", held), 0);
	free(out);
	sim_free(s);
}

Test(stack_vm_ops, host_table_writes_refused_by_the_rmp)
{
	uint64_t pf, pages, held;

	/* s1 map into a page, s1 map needing a new page, s1 create. */
	run_counting("tests/scripts/s1_rmp.ps", &pf, &pages, &held);
	cr_expect_eq(pf, 3);
	cr_expect_eq(held, 0);
	/* VM 2's root + 3 tables, VM 3's root + 3 tables (its s2 map). */
	cr_expect_eq(pages, 8);
	/*
	 * s2 map, unmap, protect, annotate into the guest's table page.  New
	 * tables and roots skip the guest's pool page instead of faulting.
	 */
	run_counting("tests/scripts/s2_rmp_tables.ps", &pf, &pages, &held);
	cr_expect_eq(pf, 4);
	/* VM 0: root + 3 + 2 (the later map); VM 1: a root; VM 2: root + 3. */
	cr_expect_eq(pages, 11);
	cr_expect_eq(held, 1, "the guest's pool page, set aside for good");
}

/* Counter @name of machine @s (asserts it exists). */
static uint64_t stat_of(const struct sim *s, const char *name)
{
	uint64_t v = 0;

	cr_assert_eq(sim_stat_get(s, name, &v), 0, "no statistic %s", name);
	return v;
}

/*
 * Per-VM statistics (vmN.*): table operations and their RMP refusals,
 * translations and their faults, for each VM on its own.
 */
Test(stack_vm_ops, per_vm_statistics)
{
	static const char text[] =
		"machine mem=256m cpus=1\n"
		"s2 create vm=1 format=npt asid=1\n"
		"s2 create vm=2 format=npt\n"
		"s2 map vm=1 ipa=0x1000 pa=0x200000 size=4k perms=rw\n"
		"s2 map vm=1 ipa=0x2000 pa=0x201000 size=4k perms=r\n"
		"s2 map vm=2 ipa=0x1000 pa=0x300000 size=4k perms=rw\n"
		/* VM 1: the RMP refuses (the page is not assigned to ASID 1), a stage-2
		 * permission fault, an unmapped IPA; VM 2: one good access. */
		"s2 access vm=1 ipa=0x1000 kind=read\n"
		"expect #NPF(RMP,ENC,FINAL)\n"
		"s2 access vm=1 ipa=0x2000 kind=write\n"
		"s2 access vm=1 ipa=0x9000 kind=read\n"
		"s2 access vm=2 ipa=0x1000 kind=read c=0\n"
		"expect OK pa=0x300000\n"
		/* VM 2's table page becomes a guest's: its next map is refused. */
		"rmpupdate spa=0x%llx assigned=1 asid=5 gpa=0x0\n"
		"s2 map vm=2 ipa=0x3000 pa=0x302000 size=4k perms=rw\n";
	struct sim *s = sim_new(mods);
	char *out = NULL, buf[2048];
	size_t n = 0;
	FILE *o = open_memstream(&out, &n);
	uint64_t leaf_table, v;
	int rc;

	/* First the same VMs alone, to find VM 2's leaf table page by walking. */
	rc = sim_script_run_text(s, "machine mem=256m cpus=1\n"
				 "s2 create vm=1 format=npt asid=1\n"
				 "s2 create vm=2 format=npt\n"
				 "s2 map vm=1 ipa=0x1000 pa=0x200000 size=4k perms=rw\n"
				 "s2 map vm=1 ipa=0x2000 pa=0x201000 size=4k perms=r\n"
				 "s2 map vm=2 ipa=0x1000 pa=0x300000 size=4k perms=rw\n"
				 "s2 walk vm=2 ipa=0x1000\n", "probe.ps", o, o);
	fclose(o);
	cr_assert_eq(rc, 0, "%s", out);
	{
		/* The "L1 addr=0x..." line: the leaf table holding the entry. */
		const char *l1 = strstr(out, "L1 addr=0x");

		cr_assert_not_null(l1, "%s", out);
		leaf_table = strtoull(l1 + strlen("L1 addr="), NULL, 16) & ~0xfffull;
	}
	free(out);
	sim_free(s);

	s = sim_new(mods);
	out = NULL;
	o = open_memstream(&out, &n);
	snprintf(buf, sizeof(buf), text, (unsigned long long)leaf_table);
	rc = sim_script_run_text(s, buf, "t.ps", o, o);
	fclose(o);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "#PF(W,RMP)"), "the refused map: %s", out);
	cr_expect_eq(stat_of(s, "vm1.table_ops"), 2);
	cr_expect_eq(stat_of(s, "vm1.table_refused"), 0);
	cr_expect_eq(stat_of(s, "vm1.accesses"), 3);
	cr_expect_eq(stat_of(s, "vm1.faults"), 3);
	cr_expect_eq(stat_of(s, "vm1.rmp_faults"), 1);
	cr_expect_eq(stat_of(s, "vm2.table_ops"), 2);
	cr_expect_eq(stat_of(s, "vm2.table_refused"), 1);
	cr_expect_eq(stat_of(s, "vm2.accesses"), 1);
	cr_expect_eq(stat_of(s, "vm2.faults"), 0);
	cr_expect_eq(sim_stat_get(s, "vm3.accesses", &v), -1, "no VM 3");
	free(out);
	sim_free(s);
}

/*
 * rmp.update_flush_tlb: every successful RMPUPDATE/PSMASH flushes every
 * MMU of the machine (each agent's) through the RMP change hook: counted
 * as rmp.tlb_flushes by the RMP and s2.tlbi.all (one per MMU) by stage 2;
 * a failed RMPUPDATE flushes nothing.  Off, RMPUPDATE flushes nothing.
 */
Test(stack_vm_ops, rmp_update_flush_tlb_flushes_every_mmu)
{
	static const char *const body =
		"s2 create vm=1 format=npt\n"
		"s2 map vm=1 ipa=0x1000 pa=0x201000 size=4k perms=rw\n"
		"@10000 cpu0 s2 access vm=1 ipa=0x1000 kind=read\n"
		"@10000 cpu1 s2 access vm=1 ipa=0x1000 kind=read\n"
		"@20000 cpu0 rmpupdate spa=0x300000 assigned=1 asid=1 gpa=0x5000\n"
		"expect SUCCESS\n"
		"@30000 cpu0 rmpupdate spa=0x300008 assigned=0\n"
		"expect FAIL_INPUT\n"
		"@40000 cpu1 s2 access vm=1 ipa=0x1000 kind=read\n";
	for (int on = 0; on < 2; on++) {
		struct sim *s = sim_new(mods);
		char *out = NULL, text[1024];
		size_t n = 0;
		FILE *o = open_memstream(&out, &n);
		uint64_t flushes = 9, all = 9, entries = 9;
		int rc;

		snprintf(text, sizeof(text), "machine mem=256m cpus=2 rmp.update_flush_tlb=%d\n%s%s",
			 on, body, on ? "expect OK refs=4\n" : "expect OK refs=0\n");
		rc = sim_script_run_text(s, text, "t.ps", o, o);
		fclose(o);
		cr_expect_eq(rc, 0, "%s", out);
		cr_assert_eq(sim_stat_get(s, "rmp.tlb_flushes", &flushes), 0);
		cr_assert_eq(sim_stat_get(s, "s2.tlbi.all", &all), 0);
		cr_assert_eq(sim_stat_get(s, "s2.tlbi.entries", &entries), 0);
		cr_expect_eq(flushes, (uint64_t)on);
		cr_expect_eq(all, on ? 2u : 0u, "one per agent's MMU");
		cr_expect_eq(entries, on ? 2u * 5u : 0u, "2 TLB levels + 3 walk-cache entries each");
		free(out);
		sim_free(s);
	}
}
