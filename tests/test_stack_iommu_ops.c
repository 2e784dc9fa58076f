/*
 * test_stack_iommu_ops.c - the IOMMU module inside a machine (suite
 * "iommu_script"): configuration keys and placement, the script
 * operations through the interpreter (results, ERROR reasons, malformed
 * lines, latencies), statistics.  Machine: rmp + s2 + iommu modules,
 * generic profile.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdlib.h>
#include <string.h>

#include "iommu/iommu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"
#include "sim/stack/stack.h"

/* The machine every command builds (the VM operations belong to the stack). */
#define mods stack_modules

struct run {
	int rc;
	char *out;
	char *err;
};

/* Run @text on a fresh machine after applying "key=value" settings in @sets. */
static struct run run_script(struct sim **sp, const char *const *sets, const char *text)
{
	struct sim *s = sim_new(mods);
	struct run r;
	size_t ol = 0, el = 0;
	FILE *out = open_memstream(&r.out, &ol), *err = open_memstream(&r.err, &el);
	struct sim_err e;

	for (size_t i = 0; sets && sets[i]; i += 2)
		cr_assert_eq(sim_cfg_set(s, sets[i], sets[i + 1], "--set", 0, &e), 0, "%s", e.msg);
	r.rc = sim_script_run_text(s, text, "t.ps", out, err);
	fclose(out);
	fclose(err);
	if (sp)
		*sp = s;
	else
		sim_free(s);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Cycles printed on the output line that contains @needle. */
static uint64_t cycles_of(const char *out, const char *needle)
{
	const char *p = strstr(out, needle), *q;

	cr_assert_not_null(p, "no line with '%s' in:\n%s", needle, out);
	q = strchr(p, '\n');
	cr_assert_not_null(q);
	while (q > p && q[-1] != '(')
		q--;
	return strtoull(q, NULL, 10);
}

Test(iommu_script, management_results_and_costs)
{
	struct sim *s;
	struct run r = run_script(&s, NULL,
		"machine mem=64m cpus=1\n"
		"iommu attach dev=1 mode=passthrough\n"
		"iommu attach dev=2\n"
		"iommu map dev=2 iova=0x1000 pa=0x200000 size=4k perms=rw\n"
		"iommu map dev=2 iova=0x1000 pa=0x300000 size=4k perms=r\n"
		"expect ERROR(exists)\n"
		"iommu map dev=2 iova=0x1800 pa=0x300000 size=4k perms=r\n"
		"expect ERROR(align)\n"
		"iommu map dev=2 iova=0x3000 pa=0x300000 size=4k perms=none\n"
		"expect ERROR(perms)\n"
		"iommu map dev=2 iova=0x3000 pa=0x300000 size=4k perms=w\n"
		"expect OK\n"
		"iommu map dev=1 iova=0x3000 pa=0x300000 size=4k perms=r\n"
		"expect ERROR(mode)\n"
		"iommu map dev=3 iova=0x3000 pa=0x300000 size=4k perms=r\n"
		"expect ERROR(detached)\n"
		"iommu attach dev=4 mode=stage2 vm=7\n"
		"expect ERROR(novm)\n"
		"iommu unmap dev=2 iova=0x1000 size=4k\n"
		"expect OK\n"
		"iommu inval dev=2 iova=0x1000 size=8k\n"
		"expect OK entries=0\n"
		"iommu detach dev=2\n"
		"expect OK\n");

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	/*
	 * attach: lat.iommu.attach (+ for snp the root page zeroed through
	 * memory, after the RMP check of that host store: one entry read, the
	 * pool's first page being 2M-aligned)
	 */
	cr_assert_eq(cycles_of(r.out, "iommu attach dev=1"), 1500);
	cr_assert_eq(cycles_of(r.out, "iommu attach dev=2"), 1500 + 120 + 120);
	/* map/unmap: lat.iommu.map plus the table walk's memory accesses */
	cr_assert_gt(cycles_of(r.out, "perms=rw ->"), 150);
	cr_assert_eq((cycles_of(r.out, "perms=rw ->") - 150) % 120, 0);
	cr_assert_gt(cycles_of(r.out, "iommu unmap"), 150);
	cr_assert_eq(cycles_of(r.out, "iommu inval"), 1300);
	cr_assert_eq(cycles_of(r.out, "iommu detach"), 1500 + 1500);
	{
		uint64_t v;

		cr_assert_eq(sim_stat_get(s, "iommu.attach", &v), 0);
		cr_assert_eq(v, 2);
		cr_assert_eq(sim_stat_get(s, "iommu.map", &v), 0);
		cr_assert_eq(v, 2, "rw and the write-only map");
		cr_assert_eq(sim_stat_get(s, "iommu.unmap", &v), 0);
		cr_assert_eq(v, 1);
		cr_assert_eq(sim_stat_get(s, "iommu.detach", &v), 0);
		cr_assert_eq(v, 1);
	}
	sim_free(s);
	run_free(&r);
}

Test(iommu_script, dma_exact_latency)
{
	struct sim *s;
	struct run r = run_script(&s, NULL,
		"machine mem=64m cpus=1\n"
		"iommu attach dev=0 mode=passthrough\n"
		"dma dev=0 iova=0x200000 kind=write len=4k fill=0x33\n"
		"expect OK pa=0x200000\n"
		"dma dev=0 iova=0x200fc0 kind=read len=128\n"
		"expect OK pa=0x200fc0 value=0x3333333333333333\n");
	uint64_t v;

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	/*
	 * request 20 + the RMP check of the written page (SNP on: every mode;
	 * 10 + its entry reads, one DRAM access each) + one DRAM access 120
	 * + 64 lines x 7
	 */
	cr_assert_eq(sim_stat_get(s, "rmp.entry_reads", &v), 0);
	cr_assert_geq(v, 1);
	cr_assert_eq(cycles_of(r.out, "len=4k"), 20 + 10 + v * 120 + 120 + 64 * 7);
	/* 0x200fc0 + 128 crosses a page: two accesses of one 64-byte line each; reads unchecked */
	cr_assert_eq(cycles_of(r.out, "len=128"), 20 + 2 * 120 + 2 * 7);
	cr_assert_eq(sim_stat_get(s, "iommu.dma.bytes", &v), 0);
	cr_assert_eq(v, 4096 + 128);
	cr_assert_eq(sim_stat_get(s, "iommu.dma.writes", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(sim_stat_get(s, "iommu.dma.reads", &v), 0);
	cr_assert_eq(v, 1);
	sim_free(s);
	run_free(&r);
}

Test(iommu_script, overflow_through_config)
{
	static const char *const sets[] = { "iommu.log_entries", "2", NULL };
	struct sim *s;
	struct run r = run_script(&s, sets,
		"machine mem=64m cpus=1\n"
		"dma dev=9 iova=0x1000 kind=read\n"
		"expect IO_PAGE_FAULT(TRANSLATION) logged=1\n"
		"dma dev=9 iova=0x2000 kind=read\n"
		"expect IO_PAGE_FAULT(TRANSLATION) logged=0\n"
		"dma dev=9 iova=0x3000 kind=write\n"
		"expect IO_PAGE_FAULT(TRANSLATION) logged=0\n"
		"iommu log\n"
		"expect OK entries=1 overflow=1 dropped=2\n"
		"dma dev=9 iova=0x4000 kind=read\n"
		"expect IO_PAGE_FAULT(TRANSLATION) logged=1\n"
		"iommu log\n"
		"expect OK entries=1 overflow=0 dropped=2\n");
	uint64_t v;

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "  log[0] IO_PAGE_FAULT(TRANSLATION) dev=9 domain=9 "
					 "addr=0x4000 flags=0x000 raw=00000009:20000009:00004000:00000000\n"));
	cr_assert_eq(sim_stat_get(s, "iommu.log.overflows", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(sim_stat_get(s, "iommu.log.dropped", &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(sim_stat_get(s, "iommu.log.entries", &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(sim_stat_get(s, "iommu.faults.translation", &v), 0);
	cr_assert_eq(v, 4);
	sim_free(s);
	run_free(&r);
}

/* Malformed lines: exit 2, the message names the line and the key. */
struct bad_case {
	char line[96];
	char msg[112];
};

static struct bad_case bad_cases[] = {
	{ "dma dev=1 iova=0 kind=read len=0", "t.ps:2: len: 0 is not in 1..1m" },
	{ "dma dev=1 iova=0 kind=read len=2m", "t.ps:2: len: 2m is not in 1..1m" },
	{ "dma dev=1 iova=0 kind=write fill=256", "t.ps:2: fill: 256 is not in 0..255" },
	{ "dma dev=1 iova=0 kind=read fill=1", "t.ps:2: fill: only for kind=write" },
	{ "dma dev=300 iova=0 kind=read", "t.ps:2: dev: 300: must be below iommu.devices (256)" },
	{ "iommu inval", "t.ps:2: dev: required (or all=1)" },
	{ "iommu inval all=1 dev=1", "t.ps:2: all: all=1 takes no dev, iova or size" },
	{ "iommu inval dev=1 size=4k", "t.ps:2: size: needs iova=" },
	{ "iommu inval dev=1 iova=0 size=0", "t.ps:2: size: 0 is not at least 1" },
	{ "iommu attach dev=1 vm=64", "t.ps:2: vm: 64 is not in 0..63" },
	{ "iommu map dev=1 iova=0 pa=0 size=0 perms=r", "t.ps:2: size: 0 is not at least 1" },
	{ "iommu map dev=1 iova=0 pa=0 size=4k perms=rr",
	  "t.ps:2: perms: 'rr' is not none or letters from r, w (each at most once)" },
	{ "iommu unmap dev=1 iova=0 size=0", "t.ps:2: size: 0 is not at least 1" },
};

ParameterizedTestParameters(iommu_script, malformed)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(struct bad_case *tc, iommu_script, malformed)
{
	char text[256];
	struct run r;

	snprintf(text, sizeof(text), "machine mem=64m cpus=1\n%s\n", tc->line);
	r = run_script(NULL, NULL, text);
	cr_assert_eq(r.rc, 2, "%s: rc %d\n%s", tc->line, r.rc, r.out);
	cr_assert_not_null(strstr(r.err, tc->msg), "%s: stderr: %s", tc->line, r.err);
	run_free(&r);
}

/* Placement: auto (mem/4, log right after the pool) and refusals at start. */
Test(iommu_script, placement)
{
	static const char *const clash[] = { "iommu.pool_base", "0x3f00000", NULL };
	static const char *const bad[] = { "iommu.log_base", "0x1000010", NULL };
	struct sim *s = sim_new(mods);
	struct sim_err e;
	const struct iommu_config *cfg;

	cr_assert_eq(sim_cfg_set(s, "machine.mem", "64m", "--set", 0, &e), 0);
	cr_assert_eq(sim_start(s, &e), 0, "%s", e.msg);
	cfg = iommu_config(sim_get_model(s, &iommu_module));
	cr_assert_eq(cfg->pool_base, 16ull << 20);
	cr_assert_eq(cfg->log_base, 18ull << 20);
	cr_assert_eq(cfg->log_entries, 256);
	cr_assert_eq(cfg->lat.inval_page, 1300);
	sim_free(s);

	s = sim_new(mods);
	cr_assert_eq(sim_cfg_set(s, "machine.mem", "64m", "--set", 0, &e), 0);
	cr_assert_eq(sim_cfg_set(s, clash[0], clash[1], "--set", 0, &e), 0);
	cr_assert_eq(sim_cfg_set(s, "iommu.pool_size", "64k", "--set", 0, &e), 0);
	cr_assert_neq(sim_start(s, &e), 0);
	cr_assert_not_null(strstr(e.msg, "iommu.pool_base: the IOMMU region [0x3f00000, 0x3f11000) "
					 "overlaps the RMP"), "%s", e.msg);
	sim_free(s);

	s = sim_new(mods);
	cr_assert_eq(sim_cfg_set(s, "machine.mem", "64m", "--set", 0, &e), 0);
	cr_assert_eq(sim_cfg_set(s, bad[0], bad[1], "--set", 0, &e), 0);
	cr_assert_neq(sim_start(s, &e), 0);
	cr_assert_str_eq(e.msg, "--set: iommu.log_base: 0x1000010: must be 4k aligned");
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* SNP on: device writes never land on an assigned page, in any mode   */
/* ------------------------------------------------------------------ */

/*
 * Mode x (assigned, validated guest page / hypervisor page) x (read /
 * write), through the script: the result token, the page's contents
 * after, the event log and the statistics.  Linux iommu_snp_enable()
 * refuses SNP with the IOMMU in passthrough, so with SNP on a device
 * write to an assigned page is an RMP fault whatever the DTE mode
 * (Linux iommu_snp_enable()); reads are not RMP-checked
 * (rmp.iommu_check_reads=0, the default) and return the page as it is.
 */
struct mode_case {
	char name[24];
	char mode[16];         /* iommu attach mode= */
	bool assigned;         /* the page is assigned to ASID 1 and validated */
	bool write;
};

static struct mode_case mode_cases[] = {
	{ "snp-assigned-write", "snp", true, true },
	{ "snp-assigned-read", "snp", true, false },
	{ "snp-hv-write", "snp", false, true },
	{ "snp-hv-read", "snp", false, false },
	{ "s2-assigned-write", "stage2", true, true },
	{ "s2-assigned-read", "stage2", true, false },
	{ "s2-hv-write", "stage2", false, true },
	{ "s2-hv-read", "stage2", false, false },
	{ "pt-assigned-write", "passthrough", true, true },
	{ "pt-assigned-read", "passthrough", true, false },
	{ "pt-hv-write", "passthrough", false, true },
	{ "pt-hv-read", "passthrough", false, false },
};

ParameterizedTestParameters(iommu_script, snp_modes)
{
	return cr_make_param_array(struct mode_case, mode_cases,
				   sizeof(mode_cases) / sizeof(mode_cases[0]));
}

#define MC_PAGE 0x300000ull       /* the system page */
#define MC_IOVA 0x80000000ull     /* its device address (snp, stage2) */

ParameterizedTest(struct mode_case *tc, iommu_script, snp_modes)
{
	bool pt = strcmp(tc->mode, "passthrough") == 0;
	bool s2m = strcmp(tc->mode, "stage2") == 0;
	uint64_t iova = pt ? MC_PAGE : MC_IOVA;
	bool blocked = tc->assigned && tc->write;
	char text[2048], want[256];
	size_t n = 0;
	struct sim *s;
	struct run r;
	uint64_t v;

	n += (size_t)snprintf(text + n, sizeof(text) - n,
		"machine mem=64m cpus=1\n"
		"mem write pa=0x%llx value=0x1122334455667788\n"
		"expect OK\n", (unsigned long long)MC_PAGE);
	if (s2m)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
			"s2 create vm=0 format=npt\n"
			"s2 map vm=0 ipa=0x%llx pa=0x%llx size=4k perms=rw\n"
			"expect OK\n", (unsigned long long)MC_IOVA, (unsigned long long)MC_PAGE);
	if (tc->assigned)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
			"rmpupdate spa=0x%llx assigned=1 asid=1 gpa=0x1000\n"
			"expect SUCCESS\n"
			"pvalidate asid=1 gpa=0x1000 spa=0x%llx\n"
			"expect SUCCESS changed=1\n",
			(unsigned long long)MC_PAGE, (unsigned long long)MC_PAGE);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "iommu attach dev=1 mode=%s%s\n"
			      "expect OK\n", tc->mode, s2m ? " vm=0" : "");
	if (!pt && !s2m)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
			"iommu map dev=1 iova=0x%llx pa=0x%llx size=4k perms=rw\n"
			"expect OK\n", (unsigned long long)MC_IOVA, (unsigned long long)MC_PAGE);
	if (tc->write)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
			"dma dev=1 iova=0x%llx kind=write fill=0x5a\n", (unsigned long long)iova);
	else
		n += (size_t)snprintf(text + n, sizeof(text) - n,
			"dma dev=1 iova=0x%llx kind=read\n", (unsigned long long)iova);
	if (blocked)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
			"expect IO_PAGE_FAULT(RMP) iova=0x%llx done=0 logged=1\n",
			(unsigned long long)iova);
	else if (tc->write)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "expect OK pa=0x%llx\n",
				      (unsigned long long)MC_PAGE);
	else
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "expect OK pa=0x%llx value=0x1122334455667788\n",
				      (unsigned long long)MC_PAGE);
	n += (size_t)snprintf(text + n, sizeof(text) - n,
		"mem read pa=0x%llx\n"
		"expect OK value=%s\n"
		"iommu log\n"
		"expect OK entries=%d overflow=0 dropped=0\n", (unsigned long long)MC_PAGE,
		tc->write && !blocked ? "0x5a5a5a5a5a5a5a5a" : "0x1122334455667788", blocked);
	cr_assert_lt(n, sizeof(text));

	r = run_script(&s, NULL, text);
	cr_assert_eq(r.rc, 0, "%s:\n%s%s", tc->name, r.out, r.err);
	snprintf(want, sizeof(want), "  log[0] RMP_PAGE_FAULT dev=1 vmg_tag=0 addr=0x%llx flags=0x020 "
		 "flags_rmp=0x01 raw=00010001:d0200000:%08llx:00000000\n", (unsigned long long)iova,
		 (unsigned long long)iova);
	if (blocked)
		cr_assert_not_null(strstr(r.out, want), "%s: no '%s' in:\n%s", tc->name, want, r.out);
	else
		cr_assert_null(strstr(r.out, "log[0]"), "%s:\n%s", tc->name, r.out);
	cr_assert_eq(sim_stat_get(s, "iommu.rmp_checks", &v), 0);
	cr_assert_eq(v, tc->write ? 1u : 0u, "%s: iommu.rmp_checks %llu", tc->name,
		     (unsigned long long)v);
	cr_assert_eq(sim_stat_get(s, "iommu.faults.rmp", &v), 0);
	cr_assert_eq(v, blocked ? 1u : 0u, "%s", tc->name);
	cr_assert_eq(sim_stat_get(s, "rmp.faults.iommu", &v), 0);
	cr_assert_eq(v, blocked ? 1u : 0u, "%s", tc->name);
	cr_assert_eq(sim_stat_get(s, "iommu.log.entries", &v), 0);
	cr_assert_eq(v, blocked ? 1u : 0u, "%s", tc->name);
	cr_assert_eq(sim_stat_get(s, "iommu.dma.bytes", &v), 0);
	cr_assert_eq(v, blocked ? 0u : 8u, "%s", tc->name);
	cr_assert_eq(sim_stat_get(s, "iommu.dma.dropped_bytes", &v), 0);
	cr_assert_eq(v, blocked ? 8u : 0u, "%s", tc->name);
	sim_free(s);
	run_free(&r);
}

/*
 * The driver's IO table stores are RMP-checked before the first one
 * (iommu_rmp_tables.ps): refused map, unmap, map needing new tables and
 * attach are host #PF(RMP)s (rmp.faults.pf) that count as no map, unmap
 * or attach.
 */
Test(iommu_script, host_table_writes_refused_by_the_rmp)
{
	struct sim *s = sim_new(mods);
	char *out = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&out, &n);
	FILE *in = fopen("tests/scripts/iommu_rmp_tables.ps", "r");
	uint64_t v;
	int rc;

	cr_assert_not_null(in, "run from the repository root");
	rc = sim_script_run(s, in, "iommu_rmp_tables.ps", o, o, false);
	fclose(in);
	fclose(o);
	cr_assert_eq(rc, 0, "%s", out);
	/* the map and the unmap into the guest's table page */
	cr_assert_eq(sim_stat_get(s, "rmp.faults.pf", &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(sim_stat_get(s, "iommu.map", &v), 0);
	cr_assert_eq(v, 4);
	cr_assert_eq(sim_stat_get(s, "iommu.unmap", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(sim_stat_get(s, "iommu.attach", &v), 0);
	cr_assert_eq(v, 2);
	/* the guest's page the allocator met: set aside, never an IO table */
	cr_assert_eq(sim_stat_get(s, "stack.palloc.held", &v), 0);
	cr_assert_eq(v, 1);
	/* dev 1: root + 3, then 2 more; dev 2: root + 3 */
	cr_assert_eq(sim_stat_get(s, "stack.palloc.pages", &v), 0);
	cr_assert_eq(v, 10);
	free(out);
	sim_free(s);
}
