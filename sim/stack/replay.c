/*
 * replay.c - `protsim replay TRACE [--set KEY=VALUE]... [--seed N]
 * [--out DIR] [--trace FILE] [--timeline FILE]`: a trace run again on
 * another configuration (docs/trace.md "Replay").
 *
 * The machine is built from the stack's module list with the keys of the
 * trace's config record (the recorded run's), then --set and --seed on
 * top.  What runs depends on the trace:
 *
 *  - a trace of a run (op records: script lines): every line again, on
 *    its recorded host CPU in the recorded order per CPU, through the
 *    script interpreter (sim_script_replay); the report lists the lines
 *    whose result differs and the cycles, in total and per operation,
 *    old against new.  Exit records (guest programs) are counted, not
 *    replayed: the programs are not in the trace.
 *  - an access trace (access records: protsim import lackey): each access
 *    as a guest access of one VM (replay.vm.* keys) through the full 2D
 *    translation, the RMP check of an SNP VM, and the data access, on
 *    host CPU cpu0; pages are mapped as they are first touched, untimed.
 *
 * Exit status: 0 every line gave its recorded result (an access trace:
 * it ran); 1 some results differ; 2 bad usage, configuration or trace,
 * a line that cannot run here, or an output that cannot be written.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct sim_cli_opt replay_opts[] = {
	SIM_CLI_OPT_SET,
	SIM_CLI_OPT_SEED,
	{ "out", 0, "DIR", NULL,
	  "also write the output set to DIR: stats, config.json, run.json, replay.txt, workload.log "
	  "(docs/outputs.md)" },
	{ "trace", 0, "FILE", NULL,
	  "write the replayed run's event trace to FILE (a trace of a run only; docs/trace.md)" },
	{ "timeline", 0, "FILE", NULL,
	  "write the replayed run's timeline to FILE (Chrome trace-event JSON; docs/outputs.md)" },
	{ NULL, 0, NULL, NULL, NULL }
};

const struct sim_cli_cmd stack_replay_cmd = {
	"replay", "TRACE", 1, 1, replay_opts,
	"Run a trace's operations again on another configuration; report what changed.",
	"TRACE is a trace of run, script or exec --trace, or an access trace of\n"
	"protsim import (docs/trace.md).  The machine is the recorded run's\n"
	"configuration (the trace's config record) with --set and --seed on top.\n"
	"A run's script lines run again on their host CPUs, in the recorded order\n"
	"per CPU; the report lists the lines whose result differs (line, CPU, old\n"
	"and new result) and the cycles, total and per operation, old and new.\n"
	"An access trace runs as guest accesses of one VM (replay.vm.* keys)\n"
	"through the 2D translation and the RMP check; the report gives the\n"
	"accesses, cycles, TLB hits and misses, walks and RMP checks.\n",
	"0  every line gave its recorded result (an access trace: it ran)\n"
	"1  some results differ (listed in the report)\n"
	"2  bad usage, configuration or trace; a line that cannot run; an output\n"
	"   that could not be written\n", 2,
};

/* ------------------------------------------------------------------ */
/* Reading the trace                                                   */
/* ------------------------------------------------------------------ */

/* A string field as C text; false if it holds a NUL byte. */
static bool str_ok(struct sim_trace_str s)
{
	return !memchr(s.p, 0, s.n);
}

static char *str_dup(struct sim_trace_str s)
{
	return sim_xprintf("%.*s", (int)s.n, s.p);
}

/* "cpuN" -> N; -1 for another agent name. */
static int host_cpu_of(const char *name)
{
	char *end;
	unsigned long n;

	if (!name || strncmp(name, "cpu", 3) || name[3] < '0' || name[3] > '9')
		return -1;
	errno = 0;
	n = strtoul(name + 3, &end, 10);
	if (*end || errno || n > 1u << 20 || (name[3] == '0' && name[4]))
		return -1;
	return (int)n;
}

struct replay {
	const char *path;
	struct sim_trace_reader *rd;
	struct sim_trace_rec rec;         /* the record read last */
	int rc;                           /* sim_trace_next's for it */
	struct sim_err err;
	struct sim *s;
	FILE *report;                     /* the report: stdout, and DIR/replay.txt */
	/* a run's lines */
	struct sim_replay_line *lines;
	char **old;                       /* recorded result texts */
	uint64_t *old_t0, *old_t1;
	size_t n, cap;
	uint64_t exits;                   /* exit records, not replayed */
	struct {                          /* per agent id: the recorded end of its last line */
		uint64_t *end;
		bool *seen;
		size_t n;
	} ag;
};

static int next(struct replay *r)
{
	r->rc = sim_trace_next(r->rd, &r->rec, &r->err);
	if (r->rc < 0)
		fprintf(stderr, "protsim: %s\n", r->err.msg);
	return r->rc;
}

static int rec_error(struct replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int rec_error(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "protsim: %s: byte %llu: ", r->path, (unsigned long long)r->rec.offset);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

/* One op record as a line to run again. */
static int add_op(struct replay *r)
{
	const struct sim_trace_rec *x = &r->rec;
	const char *agent = sim_trace_agent_name(r->rd, x->agent);
	int cpu = host_cpu_of(agent);
	struct sim_replay_line *l;
	char *old;
	size_t id = x->agent;

	if (cpu < 0)
		return rec_error(r, "op record of agent %s: only lines of host CPUs (cpuN) replay",
				 agent ? agent : "without an agent record");
	if (!str_ok(x->name) || !str_ok(x->args) || !str_ok(x->result))
		return rec_error(r, "op record: a NUL byte in its text");
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->lines = sim_xrealloc(r->lines, r->cap * sizeof(*r->lines));
		r->old = sim_xrealloc(r->old, r->cap * sizeof(*r->old));
		r->old_t0 = sim_xrealloc(r->old_t0, r->cap * sizeof(*r->old_t0));
		r->old_t1 = sim_xrealloc(r->old_t1, r->cap * sizeof(*r->old_t1));
	}
	if (id >= r->ag.n) {
		size_t n = id + 1;

		r->ag.end = sim_xrealloc(r->ag.end, n * sizeof(*r->ag.end));
		r->ag.seen = sim_xrealloc(r->ag.seen, n * sizeof(*r->ag.seen));
		memset(r->ag.end + r->ag.n, 0, (n - r->ag.n) * sizeof(*r->ag.end));
		memset(r->ag.seen + r->ag.n, 0, (n - r->ag.n) * sizeof(*r->ag.seen));
		r->ag.n = n;
	}
	l = &r->lines[r->n];
	memset(l, 0, sizeof(*l));
	l->cpu = (unsigned)cpu;
	l->line = x->line;
	l->op = str_dup(x->name);
	l->args = str_dup(x->args);
	l->start = x->t0;
	l->gap = r->ag.seen[id] && x->t0 > r->ag.end[id] ? x->t0 - r->ag.end[id] : 0;
	r->ag.seen[id] = true;
	r->ag.end[id] = x->t1;
	old = str_dup(x->result);
	for (size_t i = 0; i < x->nkv; i++) {
		char *t = sim_xprintf("%s %s=%s", old, x->kv[i].key, x->kv[i].val);

		free(old);
		old = t;
	}
	r->old[r->n] = old;
	r->old_t0[r->n] = x->t0;
	r->old_t1[r->n] = x->t1;
	r->n++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The report of a run's lines                                         */
/* ------------------------------------------------------------------ */

static void rel(FILE *f, uint64_t a, uint64_t b)
{
	if (a == b)
		fprintf(f, "  %9s", "0%");
	else if (!a)
		fprintf(f, "  %9s", "n/a");
	else
		fprintf(f, "  %+8.2f%%", 100.0 * ((double)b - (double)a) / (double)a);
}

static void cycles_row(FILE *f, const char *what, uint64_t n, uint64_t a, uint64_t b)
{
	fprintf(f, "  %-24s %6llu  %12llu  %12llu  %+12lld", what, (unsigned long long)n,
		(unsigned long long)a, (unsigned long long)b, (long long)(b - a));
	rel(f, a, b);
	fputc('\n', f);
}

struct opsum {
	const char *op;
	uint64_t n, old, new_;
};

/* Write the report; return the number of lines whose result differs. */
static size_t report_lines(struct replay *r, FILE *f, int ncpus)
{
	struct opsum *ops = sim_xcalloc(r->n + 1, sizeof(*ops));
	size_t nops = 0, ndiff = 0;
	uint64_t old_end = 0, new_end = 0, old_first = UINT64_MAX, new_first = UINT64_MAX;

	fprintf(f, "replay of %s: %zu script lines on %d host CPUs", r->path, r->n, ncpus);
	if (r->exits)
		fprintf(f, " (%llu VM exit records not replayed: the guest programs are not in "
			"the trace)", (unsigned long long)r->exits);
	fprintf(f, "\n\nresults:\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct sim_replay_line *l = &r->lines[i];
		size_t k;

		if (strcmp(r->old[i], l->result)) {
			fprintf(f, "  line %u cpu%u %s%s%s: %s -> %s\n", (unsigned)l->line, l->cpu,
				l->op, l->args[0] ? " " : "", l->args, r->old[i], l->result);
			ndiff++;
		}
		for (k = 0; k < nops && strcmp(ops[k].op, l->op); k++)
			;
		if (k == nops)
			ops[nops++].op = l->op;
		ops[k].n++;
		ops[k].old += r->old_t1[i] - r->old_t0[i];
		ops[k].new_ += l->t1 - l->t0;
		if (r->old_t1[i] > old_end)
			old_end = r->old_t1[i];
		if (l->t1 > new_end)
			new_end = l->t1;
		if (r->old_t0[i] < old_first)
			old_first = r->old_t0[i];
		if (l->t0 < new_first)
			new_first = l->t0;
	}
	fprintf(f, "  %zu of %zu lines give another result\n", ndiff, r->n);
	fprintf(f, "\ncycles:                     lines           old           new        change   "
		"relative\n");
	if (r->n) {
		cycles_row(f, "end of the last line", r->n, old_end, new_end);
		cycles_row(f, "first start to last end", r->n, old_end - old_first,
			   new_end - new_first);
	}
	/* per operation, by name */
	for (size_t i = 1; i < nops; i++)
		for (size_t k = i; k > 0 && strcmp(ops[k - 1].op, ops[k].op) > 0; k--) {
			struct opsum t = ops[k];

			ops[k] = ops[k - 1];
			ops[k - 1] = t;
		}
	for (size_t k = 0; k < nops; k++)
		cycles_row(f, ops[k].op, ops[k].n, ops[k].old, ops[k].new_);
	free(ops);
	return ndiff;
}

/* ------------------------------------------------------------------ */
/* An access trace: guest accesses of one VM                           */
/* ------------------------------------------------------------------ */

#define S1_TABLES (8ull << 20)   /* guest RAM kept for the stage-1 tables, at its start */

struct acc_run {
	struct replay *r;
	struct stack *st;
	struct stack_vm *v;
	struct s2_mmu *mmu;
	struct sim_agent *a;
	bool snp;
	uint32_t asid;
	uint64_t s1sz, s2sz;              /* leaf sizes */
	uint64_t mem_base, mem_size, spa_base, next_gpa;
	struct { uint64_t *k; size_t n, cap; } s1pages, s2pages;   /* hash sets of mapped pages */
	struct sim_hist *lat;             /* replay.access_cycles */
	bool failed;
	struct replay_ctr {
		uint64_t accesses, kind[4], pieces, split, s1_pages, s2_leaves;
		uint64_t kind_cycles[4], kind_misses[4];
		uint64_t cycles, xlate_cycles, data_cycles, tlb_hits, tlb_misses, walks, refs;
		uint64_t checks, check_cycles, faults;
	} c;
	char first_fault[96];
};

static const char *const s1_fmt_choices[] = { "x86_64", "sv48", "sv39", NULL };

/* Insert @key into a hash set; true if it was new. */
static bool set_add(struct acc_run *ar, bool s1, uint64_t key)
{
	uint64_t **kp = s1 ? &ar->s1pages.k : &ar->s2pages.k;
	size_t *np = s1 ? &ar->s1pages.n : &ar->s2pages.n, *cp = s1 ? &ar->s1pages.cap : &ar->s2pages.cap;
	uint64_t k = key + 1;                /* 0: empty */
	size_t i;

	if (2 * (*np + 1) > *cp) {
		size_t ncap = *cp ? 2 * *cp : 1024;
		uint64_t *nk = sim_xcalloc(ncap, sizeof(*nk));

		for (size_t j = 0; j < *cp; j++) {
			if (!(*kp)[j])
				continue;
			for (i = ((*kp)[j] * 0x9e3779b97f4a7c15ull >> 17) & (ncap - 1); nk[i];
			     i = (i + 1) & (ncap - 1))
				;
			nk[i] = (*kp)[j];
		}
		free(*kp);
		*kp = nk;
		*cp = ncap;
	}
	for (i = (k * 0x9e3779b97f4a7c15ull >> 17) & (*cp - 1); (*kp)[i]; i = (i + 1) & (*cp - 1))
		if ((*kp)[i] == k)
			return false;
	(*kp)[i] = k;
	(*np)++;
	return true;
}

/* Map guest page @gpa (a stage-2 leaf) and, for SNP, assign and validate it; untimed. */
static int map_s2(struct acc_run *ar, uint64_t gpa)
{
	struct s2_prot prot = { .perms = S2_PERM_ALL };
	struct sim_who who = { .agent = -1 };
	uint64_t page = gpa & ~(ar->s2sz - 1), spa = ar->spa_base + (page - ar->mem_base);
	int rc;

	if (!set_add(ar, false, page))
		return 0;
	rc = s2_map(ar->v->s2, &who, page, spa, ar->s2sz, ar->s2sz, &prot);
	if (rc != S2_OK) {
		fprintf(stderr, "protsim: replay.vm: cannot map GPA 0x%llx in the nested table: %s\n",
			(unsigned long long)page, s2_rc_name(rc));
		return -1;
	}
	ar->c.s2_leaves++;
	if (ar->snp) {
		struct rmp_entry ent = {
			.assigned = true, .page_2m = ar->s2sz == SIM_SZ_2M, .validated = true,
			.asid = ar->asid, .gpa = page,
		};

		ent.perms[0] = RMP_PERM_ALL;
		if (rmp_fw_write(ar->st->rmp, spa, &ent) != RMP_RC_SUCCESS) {
			fprintf(stderr, "protsim: replay.vm.spa_base: guest page 0x%llx (GPA 0x%llx) is "
				"not RMP-covered\n", (unsigned long long)spa, (unsigned long long)page);
			return -1;
		}
	}
	return 0;
}

/* The first touch of the stage-1 page of @va: a guest page for it, mapped in both stages. */
static int touch(struct acc_run *ar, uint64_t va)
{
	struct s2_prot prot = { .perms = S2_PERM_ALL, .user = true, .c = ar->snp };
	struct sim_who who = { .agent = -1 };
	uint64_t page = va & ~(ar->s1sz - 1), gpa;
	int rc;

	if (!set_add(ar, true, page))
		return 0;
	if (ar->next_gpa + ar->s1sz > ar->mem_base + ar->mem_size) {
		fprintf(stderr, "protsim: replay.vm.mem_size: guest RAM (0x%llx bytes) is used up "
			"after %llu pages: raise replay.vm.mem_size\n",
			(unsigned long long)ar->mem_size, (unsigned long long)ar->c.s1_pages);
		return -1;
	}
	gpa = ar->next_gpa;
	ar->next_gpa += ar->s1sz;
	for (uint64_t g = gpa; g < gpa + ar->s1sz; g += ar->s2sz)
		if (map_s2(ar, g))
			return -1;
	rc = s2_map(ar->v->s1, &who, page, gpa, ar->s1sz, ar->s1sz, &prot);
	if (rc != S2_OK) {
		if (ar->v->s1_next >= ar->mem_base + S1_TABLES)
			fprintf(stderr, "protsim: replay.vm: the guest's stage-1 tables outgrew their "
				"%llu MiB of guest RAM\n", (unsigned long long)(S1_TABLES >> 20));
		else
			fprintf(stderr, "protsim: %s: VA 0x%llx cannot be mapped in the guest's stage-1 "
				"table (replay.vm.s1_format=%s): %s\n", ar->r->path,
				(unsigned long long)va, sim_cfg_str(ar->r->s, "replay.vm.s1_format"),
				s2_rc_name(rc));
		return -1;
	}
	ar->c.s1_pages++;
	return 0;
}

static const enum s2_access acc_of[] = {
	[SIM_TRACE_FETCH] = S2_ACC_FETCH, [SIM_TRACE_LOAD] = S2_ACC_READ,
	[SIM_TRACE_STORE] = S2_ACC_WRITE, [SIM_TRACE_MODIFY] = S2_ACC_WRITE,
};

/* One access: per 4K piece, the translation then the data access. */
static int do_access(struct acc_run *ar, unsigned kind, uint64_t va, uint32_t size)
{
	static unsigned char buf[SIM_PAGE_SIZE];
	struct sim_mem *mem = sim_mem(ar->r->s);
	int agent = sim_agent_id(ar->a);
	uint64_t left = size, total = 0;

	ar->c.accesses++;
	ar->c.kind[kind]++;
	if ((va & (SIM_PAGE_SIZE - 1)) + size > SIM_PAGE_SIZE)
		ar->c.split++;
	while (left) {
		uint64_t n = SIM_PAGE_SIZE - (va & (SIM_PAGE_SIZE - 1));
		struct sim_who who = { .now = sim_now(ar->a), .agent = agent };
		struct s2_req req = { .src = SIM_SRC_PTW, .acc = acc_of[kind], .user = true, .who = &who };
		struct s2_xlate x;
		uint64_t d = 0;
		int rc;

		if (n > left)
			n = left;
		if (touch(ar, va))
			return -1;
		rc = s2_mmu_translate_2d(ar->mmu, &ar->v->space, va, &req, &x);
		ar->c.pieces++;
		ar->c.xlate_cycles += x.cycles;
		if (x.tlb_hit) {
			ar->c.tlb_hits++;
		} else {
			ar->c.tlb_misses++;
			ar->c.kind_misses[kind]++;
		}
		ar->c.walks += x.ev.walks;
		ar->c.refs += x.refs;
		ar->c.checks += x.ev.checks;
		ar->c.check_cycles += x.check_cycles;
		if (rc) {
			if (!ar->c.faults++)
				snprintf(ar->first_fault, sizeof(ar->first_fault), "VA 0x%llx: %s",
					 (unsigned long long)va,
					 stack_vm_fault_str(ar->v, &x.fault, (char[96]){ 0 }, 96));
		} else {
			enum sim_mem_src src = kind == SIM_TRACE_FETCH ? SIM_SRC_FETCH : SIM_SRC_DATA;

			if (kind != SIM_TRACE_STORE)
				d += sim_mem_read(mem, agent, src, x.pa, buf, (uint32_t)n);
			if (kind == SIM_TRACE_STORE)
				memset(buf, 0, (size_t)n);
			if (kind == SIM_TRACE_STORE || kind == SIM_TRACE_MODIFY)
				d += sim_mem_write(mem, agent, src, x.pa, buf, (uint32_t)n);
		}
		ar->c.data_cycles += d;
		total += x.cycles + d;
		va += n;
		left -= n;
	}
	ar->c.cycles += total;
	ar->c.kind_cycles[kind] += total;
	sim_hist_add(ar->lat, total);
	sim_advance(ar->a, total);
	return 0;
}

/* The message on cpu0 that runs the accesses, reading the trace as it goes. */
static void acc_body(struct sim_agent *a, void *arg)
{
	struct acc_run *ar = arg;
	struct replay *r = ar->r;

	(void)a;
	for (;;) {
		if (r->rec.type != SIM_TRACE_ACCESS) {
			rec_error(r, "a %s record in an access trace (an access trace holds access "
				  "records only)", r->rec.type == SIM_TRACE_OP ? "op" :
				  r->rec.type == SIM_TRACE_EXIT ? "exit" : "agent");
			ar->failed = true;
			return;
		}
		if (do_access(ar, r->rec.kind, r->rec.va, r->rec.size)) {
			ar->failed = true;
			return;
		}
		if (next(r) <= 0) {
			ar->failed = r->rc < 0;
			return;
		}
	}
}

static uint64_t key_size(struct sim *s, const char *k)
{
	return sim_cfg_u64(s, k);
}

/* Build the VM of an access trace (replay.vm.*).  0, or 2 after a message. */
static int acc_setup(struct acc_run *ar)
{
	struct sim *s = ar->r->s;
	struct stack *st = stack_get(s);
	struct sim_who who = { .agent = -1 };
	uint64_t end, pool_lo, pool_hi;
	int rc;

	ar->st = st;
	ar->snp = sim_cfg_bool(s, "replay.vm.snp");
	ar->asid = (uint32_t)sim_cfg_u64(s, "replay.vm.asid");
	ar->s2sz = sim_cfg_enum(s, "replay.vm.page_size") ? SIM_SZ_2M : SIM_SZ_4K;
	ar->s1sz = sim_cfg_enum(s, "replay.vm.s1_page_size") ? SIM_SZ_2M : SIM_SZ_4K;
	ar->mem_base = key_size(s, "replay.vm.mem_base");
	ar->mem_size = key_size(s, "replay.vm.mem_size");
	ar->spa_base = key_size(s, "replay.vm.spa_base");
	ar->next_gpa = ar->mem_base + S1_TABLES;
	end = ar->spa_base + ar->mem_size;
	pool_lo = stack_palloc_base(st->pool);
	pool_hi = pool_lo + stack_palloc_size(st->pool);
	if ((ar->mem_base | ar->spa_base | ar->mem_size) & (SIM_SZ_2M - 1)) {
		fprintf(stderr, "protsim: replay.vm.mem_base, replay.vm.spa_base and "
			"replay.vm.mem_size must be multiples of 2m\n");
		return 2;
	}
	if (end > sim_mem_size(sim_mem(s)) || (rmp_enabled(st->rmp) && end > rmp_base(st->rmp))) {
		fprintf(stderr, "protsim: replay.vm.spa_base: guest RAM at 0x%llx + replay.vm.mem_size "
			"0x%llx does not fit in machine memory (machine.mem 0x%llx%s)\n",
			(unsigned long long)ar->spa_base, (unsigned long long)ar->mem_size,
			(unsigned long long)sim_mem_size(sim_mem(s)),
			rmp_enabled(st->rmp) ? ", below the RMP" : "");
		return 2;
	}
	if (ar->spa_base < pool_hi && pool_lo < end) {
		fprintf(stderr, "protsim: replay.vm.spa_base: guest RAM at 0x%llx..0x%llx overlaps the "
			"host page pool 0x%llx..0x%llx (s2.pool_base, s2.pool_size)\n",
			(unsigned long long)ar->spa_base, (unsigned long long)end,
			(unsigned long long)pool_lo, (unsigned long long)pool_hi);
		return 2;
	}
	if (ar->snp && !rmp_enabled(st->rmp)) {
		fprintf(stderr, "protsim: replay.vm.snp: an SNP VM needs the RMP (rmp.mode is off)\n");
		return 2;
	}
	rc = stack_vm_create(st, &who, 0, s2_fmt(S2_FMT_NPT), 4, ar->snp ? ar->asid : 0);
	if (rc != S2_OK) {
		fprintf(stderr, "protsim: s2.pool_size: cannot create the replay VM: %s\n",
			s2_rc_name(rc));
		return 2;
	}
	ar->v = stack_vm_find(st, 0);
	if (ar->mem_base + ar->mem_size > s2_pgt_ia_limit(ar->v->s2)) {
		fprintf(stderr, "protsim: replay.vm.mem_base: guest RAM is beyond the nested table's "
			"reach (0x%llx)\n", (unsigned long long)s2_pgt_ia_limit(ar->v->s2));
		return 2;
	}
	/* the stage-1 tables' guest RAM, mapped (and private) before the root is written */
	for (uint64_t g = ar->mem_base; g < ar->mem_base + S1_TABLES; g += ar->s2sz)
		if (map_s2(ar, g))
			return 2;
	ar->c.s2_leaves = 0;
	rc = stack_vm_s1_create(ar->v, &who,
				s2_fmt_by_name(s1_fmt_choices[sim_cfg_enum(s, "replay.vm.s1_format")]),
				ar->mem_base);
	if (rc != S2_OK) {
		fprintf(stderr, "protsim: replay.vm.s1_format: cannot create the guest's stage-1 "
			"table: %s\n", s2_rc_name(rc));
		return 2;
	}
	ar->a = sim_host_cpu(s, 0);
	ar->mmu = s2_ctx_mmu(st->s2, sim_agent_id(ar->a));
	ar->lat = sim_stat_hist_owned(s, "replay.access_cycles",
				      "cycles of each replayed access: its translations and data "
				      "accesses");
	sim_stat_counter(s, "replay.accesses", &ar->c.accesses, "accesses replayed");
	sim_stat_counter(s, "replay.fetches", &ar->c.kind[0], "of those, instruction fetches");
	sim_stat_counter(s, "replay.loads", &ar->c.kind[1], "of those, loads");
	sim_stat_counter(s, "replay.stores", &ar->c.kind[2], "of those, stores");
	sim_stat_counter(s, "replay.modifies", &ar->c.kind[3], "of those, modifies (load and store)");
	for (unsigned k = 0; k < 4; k++) {
		static const char *const pl[] = { "fetches", "loads", "stores", "modifies" };
		char n1[48], n2[48], d1[96], d2[96];

		snprintf(n1, sizeof(n1), "replay.%s_cycles", pl[k]);
		snprintf(d1, sizeof(d1), "cycles of the %s (translations and data)", pl[k]);
		snprintf(n2, sizeof(n2), "replay.%s_tlb_misses", pl[k]);
		snprintf(d2, sizeof(d2), "translations of the %s that walked", pl[k]);
		sim_stat_counter(s, n1, &ar->c.kind_cycles[k], d1);
		sim_stat_counter(s, n2, &ar->c.kind_misses[k], d2);
	}
	sim_stat_counter(s, "replay.split", &ar->c.split, "accesses that cross a 4K page");
	sim_stat_counter(s, "replay.translations", &ar->c.pieces,
			 "2D translations (one per 4K piece of an access)");
	sim_stat_counter(s, "replay.s1_pages", &ar->c.s1_pages, "guest pages touched (stage-1 leaves)");
	sim_stat_counter(s, "replay.s2_leaves", &ar->c.s2_leaves,
			 "nested-table leaves mapped for them (SNP: RMP entries assigned)");
	sim_stat_counter(s, "replay.cycles", &ar->c.cycles, "cycles of every access");
	sim_stat_counter(s, "replay.xlate_cycles", &ar->c.xlate_cycles,
			 "of those, translation (TLB probes, walks, RMP checks)");
	sim_stat_counter(s, "replay.data_cycles", &ar->c.data_cycles, "of those, the data accesses");
	sim_stat_counter(s, "replay.tlb_hits", &ar->c.tlb_hits, "translations served by a TLB");
	sim_stat_counter(s, "replay.tlb_misses", &ar->c.tlb_misses, "translations that walked");
	sim_stat_counter(s, "replay.walks", &ar->c.walks, "table walks (each stage-2 walk counts)");
	sim_stat_counter(s, "replay.refs", &ar->c.refs, "table-entry memory references");
	sim_stat_counter(s, "replay.rmp_checks", &ar->c.checks, "RMP checks (check-hook calls)");
	sim_stat_counter(s, "replay.rmp_check_cycles", &ar->c.check_cycles, "cycles of those");
	sim_stat_counter(s, "replay.faults", &ar->c.faults, "translations that faulted");
	return 0;
}

static void per(FILE *f, uint64_t a, uint64_t n)
{
	if (n)
		fprintf(f, "  (%.2f per access)", (double)a / (double)n);
}

static void report_access(struct acc_run *ar, FILE *f)
{
	struct sim *s = ar->r->s;
	const struct replay_ctr *c = &ar->c;
	char b1[32], b2[32];

	fprintf(f, "replay of %s: %llu accesses (%llu fetches, %llu loads, %llu stores, %llu "
		"modifies) as guest accesses of one VM on cpu0\n", ar->r->path,
		(unsigned long long)c->accesses, (unsigned long long)c->kind[0],
		(unsigned long long)c->kind[1], (unsigned long long)c->kind[2],
		(unsigned long long)c->kind[3]);
	fprintf(f, "VM: %s, nested (NPT) leaves %s, stage 1 %s with %s leaves; pages mapped at "
		"their first touch, untimed\n\n",
		ar->snp ? "SNP (RMP-checked)" : "not SNP", sim_fmt_size(ar->s2sz, b1),
		sim_cfg_str(s, "replay.vm.s1_format"), sim_fmt_size(ar->s1sz, b2));
	fprintf(f, "  guest pages touched      %llu (%llu nested leaves)\n",
		(unsigned long long)c->s1_pages, (unsigned long long)c->s2_leaves);
	fprintf(f, "  translations             %llu (%llu accesses cross a 4K page)\n",
		(unsigned long long)c->pieces, (unsigned long long)c->split);
	fprintf(f, "  cycles                   %llu", (unsigned long long)c->cycles);
	per(f, c->cycles, c->accesses);
	fprintf(f, "\n    translation            %llu", (unsigned long long)c->xlate_cycles);
	per(f, c->xlate_cycles, c->accesses);
	fprintf(f, "\n    data                   %llu", (unsigned long long)c->data_cycles);
	per(f, c->data_cycles, c->accesses);
	fprintf(f, "\n  TLB hits                 %llu\n  TLB misses               %llu\n",
		(unsigned long long)c->tlb_hits, (unsigned long long)c->tlb_misses);
	fprintf(f, "  by kind                  accesses   TLB misses        cycles  per access\n");
	for (unsigned k = 0; k < 4; k++) {
		fprintf(f, "    %-8s %19llu %12llu %13llu", sim_trace_access_kinds[k],
			(unsigned long long)c->kind[k], (unsigned long long)c->kind_misses[k],
			(unsigned long long)c->kind_cycles[k]);
		if (c->kind[k])
			fprintf(f, "  %10.2f", (double)c->kind_cycles[k] / (double)c->kind[k]);
		fputc('\n', f);
	}
	fprintf(f, "  walks                    %llu (%llu table references)\n",
		(unsigned long long)c->walks, (unsigned long long)c->refs);
	fprintf(f, "  RMP checks               %llu (%llu cycles)\n", (unsigned long long)c->checks,
		(unsigned long long)c->check_cycles);
	fprintf(f, "  faults                   %llu%s%s\n", (unsigned long long)c->faults,
		c->faults ? ": the first " : "", c->faults ? ar->first_fault : "");
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

static void replay_free(struct replay *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->lines[i].op);
		free(r->lines[i].args);
		free(r->lines[i].result);
		free(r->old[i]);
	}
	free(r->lines);
	free(r->old);
	free(r->old_t0);
	free(r->old_t1);
	free(r->ag.end);
	free(r->ag.seen);
	sim_trace_reader_close(r->rd);
}

/* The machine: the trace's config record, then --set and --seed.  0, or 2. */
static int build(struct replay *r, const struct sim_cli *cl)
{
	struct sim_err err;

	r->s = sim_new(stack_modules);
	if (next(r) < 0)
		return 2;
	if (r->rc > 0 && r->rec.type == SIM_TRACE_CONFIG) {
		for (size_t i = 0; i < r->rec.nkv; i++)
			if (sim_cfg_set(r->s, r->rec.kv[i].key, r->rec.kv[i].val, r->path, 0, &err)) {
				fprintf(stderr, "protsim: %s (the trace's config record)\n", err.msg);
				return 2;
			}
		if (next(r) < 0)
			return 2;
	}
	if (sim_cli_apply(r->s, cl, &err) || sim_start(r->s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		return 2;
	}
	return 0;
}

int stack_replay_main(int argc, char **argv, const struct sim_run_meta *meta)
{
	struct replay r = { 0 };
	struct sim_cli cl;
	const char *dir, *tpath;
	char *logpath = NULL, *reppath = NULL;
	FILE *log = NULL, *rep = NULL, *null = NULL, *out = NULL;
	double t0 = sim_host_seconds();
	struct acc_run *ar = NULL;
	struct sim_err err;
	int rc = 2;

	switch (sim_cli_parse(&stack_replay_cmd, argc, argv, &cl)) {
	case SIM_CLI_RUN:
		break;
	case SIM_CLI_HELP:
		sim_cli_free(&cl);
		return 0;
	default:
		sim_cli_free(&cl);
		return 2;
	}
	r.path = cl.args[0];
	dir = sim_cli_value(&cl, "out");
	tpath = sim_cli_value(&cl, "trace");
	r.rd = sim_trace_reader_open(r.path, &err);
	if (!r.rd) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (build(&r, &cl))
		goto out;
	if (sim_cli_value(&cl, "timeline") &&
	    sim_timeline_open(r.s, sim_cli_value(&cl, "timeline"), &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		goto out;
	}
	if (dir) {
		logpath = sim_xprintf("%s/workload.log", dir);
		reppath = sim_xprintf("%s/replay.txt", dir);
		if (sim_mkdir_p(dir) || !(log = fopen(logpath, "w")) || !(rep = fopen(reppath, "w"))) {
			fprintf(stderr, "protsim: %s: cannot write: %s\n", log ? reppath : logpath,
				strerror(errno));
			goto out;
		}
		out = sim_tee_open(stdout, rep);
	} else {
		out = stdout;
	}
	if (r.rc > 0 && r.rec.type == SIM_TRACE_ACCESS) {
		if (tpath) {
			fprintf(stderr, "protsim: --trace: the replay of an access trace runs no "
				"operations to record\n");
			goto done;
		}
		ar = sim_xcalloc(1, sizeof(*ar));
		ar->r = &r;
		if (acc_setup(ar))
			goto done;
		sim_post(NULL, ar->a, acc_body, ar);
		sim_agent_stop(NULL, ar->a);
		sim_run(r.s);
		if (ar->failed)
			goto done;
		report_access(ar, out);
		rc = 0;
	} else {
		int ncpus;

		/* a run's trace: its lines, in memory (a script's lines are few) */
		for (; r.rc > 0; next(&r)) {
			if (r.rec.type == SIM_TRACE_OP && add_op(&r))
				goto done;
			if (r.rec.type == SIM_TRACE_EXIT)
				r.exits++;
			if (r.rec.type == SIM_TRACE_ACCESS) {
				rec_error(&r, "an access record in the trace of a run");
				goto done;
			}
		}
		if (r.rc < 0)
			goto done;
		if (tpath && sim_trace_open(r.s, tpath, &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			goto done;
		}
		null = log ? NULL : fopen("/dev/null", "w");
		if (sim_script_replay(r.s, r.lines, r.n, r.path, log ? log : null, stderr))
			goto done;
		if (sim_trace_close(r.s, &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			goto done;
		}
		ncpus = (int)sim_cfg_u64(r.s, "machine.cpus");
		rc = report_lines(&r, out, ncpus) ? 1 : 0;
	}
done:
	if (r.s && sim_timeline_close(r.s, &err)) {
		fprintf(stderr, "protsim: %s\n", err.msg);
		rc = 2;
	}
	/* the output set, also after a failure (run.json says why) */
	if (dir) {
		struct sim_run_meta m = *meta;

		m.input = r.path;
		m.exit_status = rc;
		m.error = rc == 1 ? "some results differ (replay.txt)" :
			  rc ? "the replay stopped (see stderr)" : NULL;
		m.host_seconds = sim_host_seconds() - t0;
		if (sim_outputs_write(r.s, dir, &m, &err)) {
			fprintf(stderr, "protsim: %s\n", err.msg);
			rc = 2;
		}
	}
out:
	if (r.s && sim_trace_on(r.s))
		sim_trace_close(r.s, &err);
	if (out && out != stdout)
		fclose(out);
	if (rep && fclose(rep)) {
		fprintf(stderr, "protsim: %s: cannot write\n", reppath);
		rc = 2;
	}
	if (log && fclose(log)) {
		fprintf(stderr, "protsim: %s: cannot write\n", logpath);
		rc = 2;
	}
	if (null)
		fclose(null);
	free(logpath);
	free(reppath);
	replay_free(&r);
	sim_free(r.s);        /* before the counters it points to */
	if (ar) {
		free(ar->s1pages.k);
		free(ar->s2pages.k);
		free(ar);
	}
	sim_cli_free(&cl);
	return rc;
}
