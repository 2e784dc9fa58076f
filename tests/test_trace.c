/*
 * test_trace.c - the binary event trace (sim/trace.c, docs/trace.md):
 * the writer's exact bytes (header, record layout, little-endian fields),
 * the reader's text for each record type, the round trip, deterministic
 * bytes, and every reader error with its byte offset; the config and
 * access records (format version 2), the record-by-record reader, the
 * Lackey importer (sim/import.c) and the replay of script lines
 * (sim/script_replay.c).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "sim/sim.h"

static void nobody(struct sim_agent *a, void *arg)
{
	(void)a;
	(void)arg;
}

/*
 * A machine with agents cpu0, cpu1, vcpu0 (ids 0..2) and a trace at @path;
 * engine.seed=7 is its one key set (the config record).
 */
static struct sim *mk(const char *path)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

	cr_assert_eq(sim_cfg_set(s, "engine.seed", "7", "--set", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_agent_count(s), 0);
	sim_agent_new(s, "cpu0", SIM_AGENT_CPU, nobody, NULL);
	sim_agent_new(s, "cpu1", SIM_AGENT_CPU, nobody, NULL);
	sim_agent_new(s, "vcpu0", SIM_AGENT_VCPU, nobody, NULL);
	cr_assert_eq(sim_trace_open(s, path, &err), 0, "%s", err.msg);
	cr_assert(sim_trace_on(s));
	return s;
}

/* The records of the round trip: an op with fields on cpu1, two exits on vcpu0. */
static void record_at(struct sim *s, uint64_t k)
{
	static const struct sim_trace_field kv[] = { { "changed", "1" }, { "asid", "0x5" } };
	uint64_t t = k * 7919;

	sim_trace_op(s, 1, 100 + t, 340 + t, 7, "pvalidate", "asid=5 gpa=0x1000", "SUCCESS", kv, 2);
	sim_trace_exit(s, 2, &(struct sim_trace_exit){ .stop = 500 + t, .end = 4680 + t * 3,
		       .reason = 0, .name = "npf", .pc = 0x80000000 + k * k,
		       .gpa = 0x80003020 ^ (k << 12), .info = 0x100000006 });
	sim_trace_exit(s, 2, &(struct sim_trace_exit){ .stop = 5000 + t * 3, .end = 5100 + t * 3,
		       .reason = 4, .name = "hlt", .pc = 0x800000b0 });
}

static void record(struct sim *s)
{
	record_at(s, 0);
}

static char *tmp_path(void)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/protsim-trace-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	return path;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 20);

	cr_assert(f && buf);
	*n = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* The decompressed stream of the trace at @path. */
static unsigned char *raw_of(const char *path, size_t *n)
{
	size_t zn;
	unsigned char *z = slurp(path, &zn), *raw = malloc(1 << 20);

	*n = ZSTD_decompress(raw, 1 << 20, z, zn);
	cr_assert(!ZSTD_isError(*n), "%s", ZSTD_getErrorName(*n));
	free(z);
	return raw;
}

static const char round_trip_text[] =
	"trace version 2\n"
	"config 1 keys engine.seed=7\n"
	"agent 1 cpu1\n"
	"op [100,340] cpu1 line 7: pvalidate asid=5 gpa=0x1000 -> SUCCESS changed=1 asid=0x5\n"
	"agent 2 vcpu0\n"
	"exit [500,4680] vcpu0 reason 0 npf pc=0x80000000 gpa=0x80003020 info=0x100000006\n"
	"exit [5000,5100] vcpu0 reason 4 hlt pc=0x800000b0 gpa=0x0 info=0x0\n"
	"agent 0 cpu0\n"
	"end 7 records\n";

Test(trace, round_trip_text)
{
	char *path = tmp_path(), *text = NULL;
	size_t len = 0;
	struct sim *s = mk(path);
	struct sim_err err = { "" };
	FILE *f;

	record(s);
	cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
	cr_assert(!sim_trace_on(s));
	f = open_memstream(&text, &len);
	cr_assert_eq(sim_trace_dump(path, f, &err), 0, "%s", err.msg);
	fclose(f);
	cr_expect_str_eq(text, round_trip_text);
	free(text);
	sim_free(s);
	unlink(path);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* docs/trace.md, byte for byte: the header, then the agent and op records. */
Test(trace, exact_bytes)
{
	char *path = tmp_path();
	struct sim *s = mk(path);
	struct sim_err err = { "" };
	unsigned char want[256], *p = want, *raw;
	size_t n;

	sim_trace_op(s, 1, 100, 340, 7, "pv", "", "OK", &(struct sim_trace_field){ "k", "v" }, 1);
	cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
	raw = raw_of(path, &n);
	memcpy(p, "PROTSIMT", 8);
	put32(p + 8, 2);
	p += 12;
	put32(p, 1 + 4 + (4 + 11) + (4 + 1));   /* config: 1 pair, engine.seed=7 */
	p[4] = 5;
	put32(p + 5, 1);
	put32(p + 9, 11);
	memcpy(p + 13, "engine.seed", 11);
	put32(p + 24, 1);
	p[28] = '7';
	p += 29;
	put32(p, 1 + 4 + 4 + 4);          /* agent 1 "cpu1" */
	p[4] = 1;
	put32(p + 5, 1);
	put32(p + 9, 4);
	memcpy(p + 13, "cpu1", 4);
	p += 17;
	put32(p, 1 + 4 + 8 + 8 + 4 + (4 + 2) + (4 + 0) + (4 + 2) + 4 + (4 + 1) + (4 + 1));
	p[4] = 2;
	put32(p + 5, 1);
	put64(p + 9, 100);
	put64(p + 17, 340);
	put32(p + 25, 7);
	put32(p + 29, 2);
	memcpy(p + 33, "pv", 2);
	put32(p + 35, 0);
	put32(p + 39, 2);
	memcpy(p + 43, "OK", 2);
	put32(p + 45, 1);
	put32(p + 49, 1);
	p[53] = 'k';
	put32(p + 54, 1);
	p[58] = 'v';
	p += 59;
	cr_assert_geq(n, (size_t)(p - want));
	cr_expect_eq(memcmp(raw, want, (size_t)(p - want)), 0, "header, config, agent and op records");
	/* then agents 0 and 2 ("cpu0", "vcpu0"), then the end record: 5 records before it */
	p = raw + (p - want) + 17 + 18;
	cr_assert_eq(n, (size_t)(p - raw) + 4 + 1 + 8);
	cr_expect_eq(p[4], 4);
	cr_expect_eq(p[0], 9);
	cr_expect_eq(p[5], 5);
	free(raw);
	sim_free(s);
	unlink(path);
}

Test(trace, same_records_same_bytes)
{
	unsigned char *a, *b;
	size_t na, nb;
	char path[2][64];

	for (int i = 0; i < 2; i++) {
		struct sim *s;
		struct sim_err err;

		strcpy(path[i], tmp_path());
		s = mk(path[i]);
		for (int k = 0; k < 3000; k++)   /* past zstd's first input block */
			record_at(s, (uint64_t)k);
		cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
		sim_free(s);
	}
	a = slurp(path[0], &na);
	b = slurp(path[1], &nb);
	cr_expect_gt(na, 1000u);
	cr_expect_eq(na, nb);
	cr_expect_eq(memcmp(a, b, na < nb ? na : nb), 0, "the same bytes");
	free(a);
	free(b);
	unlink(path[0]);
	unlink(path[1]);
}

/* Anything unprintable in a string is escaped, so a record stays one line. */
Test(trace, escapes_and_cuts_long_strings)
{
	char *path = tmp_path(), *text = NULL, *big = malloc(5001);
	size_t len = 0;
	struct sim *s = mk(path);
	struct sim_err err = { "" };
	FILE *f;

	memset(big, 'a', 5000);
	big[5000] = 0;
	sim_trace_op(s, 0, 1, 2, 3, "op", "a\nb\\c\x7f", big, NULL, 0);
	cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
	f = open_memstream(&text, &len);
	cr_assert_eq(sim_trace_dump(path, f, &err), 0, "%s", err.msg);
	fclose(f);
	cr_expect(strstr(text, "op [1,2] cpu0 line 3: op a\\x0ab\\x5cc\\x7f -> aaaa") != NULL, "%s",
		  text);
	cr_expect(strstr(text, "\"") == NULL);
	{
		const char *r = strstr(text, " -> ") + 4;

		cr_expect_eq(strcspn(r, "\n"), 4096u, "the result cut at 4096 bytes");
	}
	free(text);
	free(big);
	sim_free(s);
	unlink(path);
}

/*
 * The round trip's decompressed stream: header 0..11, config at 12 (29
 * bytes), agent 1 at 41 (17 bytes), ...
 */
static unsigned char *round_trip_raw(size_t *n)
{
	char *path = tmp_path();
	struct sim *s = mk(path);
	struct sim_err err;
	unsigned char *raw;

	record(s);
	cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
	sim_free(s);
	raw = raw_of(path, n);
	unlink(path);
	return raw;
}

enum mut { M_NONE, M_U32, M_U8, M_CUT, M_APPEND };

struct bad_case {
	const char *what;
	enum mut mut;
	long at;                 /* byte offset (negative: from the end) */
	uint32_t val;            /* M_U32, M_U8: the value; M_CUT: bytes kept */
	const char *msg;         /* the whole error; %T: the stream's length */
};

static const struct bad_case bad_cases[] = {
	{ "magic", M_U8, 0, 'X', "t: byte 0: not a protsim trace (no PROTSIMT header)" },
	{ "header cut", M_CUT, 0, 10, "t: byte 0: not a protsim trace (no PROTSIMT header)" },
	{ "version", M_U32, 8, 3, "t: byte 8: format version 3: this protsim reads version 2" },
	{ "version 1", M_U32, 8, 1, "t: byte 8: format version 1: this protsim reads version 2" },
	{ "size 0", M_U32, 12, 0, "t: byte 12: record size 0 (1..1048576)" },
	{ "size huge", M_U32, 12, 0x7fffffff, "t: byte 12: record size 2147483647 (1..1048576)" },
	{ "unknown type", M_U8, 16, 9, "t: byte 12: unknown record type 9" },
	{ "end type early", M_U8, 16, 4, "t: byte 12: end record of 25 bytes (9)" },
	{ "config count past the record", M_U32, 17, 2,
	  "t: byte 12: config record: a field runs past the record's 25 bytes" },
	{ "config key past the record", M_U32, 21, 100,
	  "t: byte 12: config record: a field runs past the record's 25 bytes" },
	{ "string past the record", M_U32, 50, 100,
	  "t: byte 41: agent record: a field runs past the record's 13 bytes" },
	{ "bytes after the fields", M_U32, 50, 3,
	  "t: byte 41: 1 bytes after the last field of the record" },
	{ "agent as a config record", M_U8, 45, 5,
	  "t: byte 41: config record: a field runs past the record's 13 bytes" },
	{ "size cut", M_CUT, 0, 14, "t: byte 12: a record's size is cut short (2 of 4 bytes)" },
	{ "record cut", M_CUT, 0, 20, "t: byte 12: the record is cut short (4 of 25 bytes)" },
	{ "no end record", M_CUT, -13, 0, "t: byte %T: no end record: the trace is cut short" },
	{ "end count", M_U8, -8, 9,
	  "t: byte %T: the end record counts 9 records, the trace has 7" },
	{ "after the end", M_APPEND, 0, 0, "t: byte %T: data after the end record" },
};

Test(trace, reader_errors_name_the_offset)
{
	size_t n;
	unsigned char *raw = round_trip_raw(&n);

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		unsigned char *b = calloc(1, n + 1);
		size_t m = n, at = c->at < 0 ? n - (size_t)-c->at : (size_t)c->at;
		uint64_t tail = 0;
		char want[256];
		const char *t;
		struct sim_err err = { "" };
		FILE *null = fopen("/dev/null", "w");

		memcpy(b, raw, n);
		switch (c->mut) {
		case M_U32: put32(b + at, c->val); break;
		case M_U8: b[at] = (unsigned char)c->val; break;
		case M_CUT: m = c->at < 0 ? at : c->val; tail = m; break;
		case M_APPEND: m = n + 1; tail = n; break;
		default: break;
		}
		if (c->mut == M_U8 && c->at < 0)
			tail = n - 13;           /* the end record's offset */
		t = strstr(c->msg, "%T");
		if (t)
			snprintf(want, sizeof(want), "%.*s%llu%s", (int)(t - c->msg), c->msg,
				 (unsigned long long)tail, t + 2);
		else
			snprintf(want, sizeof(want), "%s", c->msg);
		cr_expect_eq(sim_trace_dump_mem(b, m, true, "t", null, &err), -1, "%s", c->what);
		cr_expect_str_eq(err.msg, want, "%s: %s", c->what, err.msg);
		fclose(null);
		free(b);
	}
	free(raw);
}

/* The compressed layer: not zstd, empty, cut short, a byte changed. */
Test(trace, reader_errors_compressed)
{
	char *path = tmp_path();
	struct sim *s = mk(path);
	struct sim_err err = { "" };
	unsigned char *z;
	size_t zn;
	FILE *null = fopen("/dev/null", "w");

	for (int k = 0; k < 3000; k++)
		record_at(s, (uint64_t)k);
	cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
	sim_free(s);
	z = slurp(path, &zn);
	unlink(path);
	cr_assert_eq(sim_trace_dump_mem(z, zn, false, "t", null, &err), 0, "%s", err.msg);

	cr_expect_eq(sim_trace_dump_mem("", 0, false, "t", null, &err), -1);
	cr_expect_str_eq(err.msg, "t: byte 0: empty file, not a zstd-compressed trace");
	cr_expect_eq(sim_trace_dump_mem("PROTSIMT", 8, false, "t", null, &err), -1);
	cr_expect_str_eq(err.msg, "t: byte 0: not a zstd-compressed trace: Unknown frame descriptor");
	/* cut at the half: whole records are shown, the error is at the first cut one */
	cr_expect_eq(sim_trace_dump_mem(z, zn / 2, false, "t", null, &err), -1);
	cr_expect(strstr(err.msg, ": the compressed stream is cut short after ") != NULL, "%s",
		  err.msg);
	cr_expect(strncmp(err.msg, "t: byte 0:", 10) != 0, "records before the cut: %s", err.msg);
	/* one byte changed in the middle: zstd's checksum or a block error, never a crash */
	z[zn / 2] ^= 0x55;
	cr_expect_eq(sim_trace_dump_mem(z, zn, false, "t", null, &err), -1);
	cr_expect(strncmp(err.msg, "t: byte ", 8) == 0, "%s", err.msg);
	fclose(null);
	free(z);
}

Test(trace, off_by_default)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_expect(!sim_trace_on(s));
	sim_trace_op(s, 0, 1, 2, 3, "op", "", "OK", NULL, 0);   /* no trace: nothing happens */
	cr_expect_eq(sim_trace_close(s, &err), 0);
	cr_expect_eq(sim_trace_open(s, "/proc/protsim-no/t.zst", &err), -1);
	cr_expect_str_eq(err.msg, "/proc/protsim-no/t.zst: cannot write the trace: No such file or directory");
	cr_expect(!sim_trace_on(s));
	sim_free(s);
}

/* ---- version 2: config and access records, the record reader ---- */

/* A decompressed stream built by hand: the header, then records. */
struct raw {
	unsigned char b[4096];
	size_t n;
	unsigned records;
};

static uint32_t get_u32_le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void raw_header(struct raw *r)
{
	memcpy(r->b, "PROTSIMT", 8);
	put32(r->b + 8, 2);
	r->n = 12;
	r->records = 0;
}

static void raw_rec(struct raw *r, uint8_t type, const void *body, size_t n)
{
	put32(r->b + r->n, (uint32_t)(n + 1));
	r->b[r->n + 4] = type;
	memcpy(r->b + r->n + 5, body, n);
	r->n += 5 + n;
	r->records++;
}

static void raw_access(struct raw *r, uint8_t kind, uint64_t va, uint32_t size)
{
	unsigned char b[13];

	b[0] = kind;
	put64(b + 1, va);
	put32(b + 9, size);
	raw_rec(r, 6, b, sizeof(b));
}

static void raw_config0(struct raw *r)
{
	unsigned char b[4] = { 0 };

	raw_rec(r, 5, b, 4);
}

static void raw_end(struct raw *r)
{
	put32(r->b + r->n, 9);
	r->b[r->n + 4] = 4;
	put64(r->b + r->n + 5, r->records);
	r->n += 13;
}

/* The error of reading @r (or "" when it reads whole). */
static const char *raw_err(const struct raw *r)
{
	static struct sim_err err;
	FILE *null = fopen("/dev/null", "w");

	err.msg[0] = 0;
	if (!sim_trace_dump_mem(r->b, r->n, true, "t", null, &err))
		err.msg[0] = 0;
	fclose(null);
	return err.msg;
}

Test(trace, access_records_round_trip)
{
	char *path = tmp_path(), *text = NULL;
	size_t len = 0, n;
	struct sim_err err = { "" };
	struct sim_trace *t = sim_trace_create(path, &err);
	unsigned char *raw, want[13];
	FILE *f;

	cr_assert(t, "%s", err.msg);
	sim_trace_access(t, SIM_TRACE_FETCH, 0x401ab70, 3);
	sim_trace_access(t, SIM_TRACE_LOAD, 0x1fff000708, 8);
	sim_trace_access(t, SIM_TRACE_STORE, 0xffffffffffffffffull, 1);
	sim_trace_access(t, SIM_TRACE_MODIFY, 0, SIM_TRACE_ACCESS_MAX);
	cr_assert_eq(sim_trace_finish(t, &err), 0, "%s", err.msg);
	f = open_memstream(&text, &len);
	cr_assert_eq(sim_trace_dump(path, f, &err), 0, "%s", err.msg);
	fclose(f);
	cr_expect_str_eq(text, "trace version 2\n"
			 "access fetch 0x401ab70 3\n"
			 "access load 0x1fff000708 8\n"
			 "access store 0xffffffffffffffff 1\n"
			 "access modify 0x0 1048576\n"
			 "end 4 records\n");
	/* docs/trace.md: size 14, type 6, kind, va, size; no config record without a machine */
	raw = raw_of(path, &n);
	cr_assert_eq(n, 12 + 4 * 18 + 13);
	cr_expect_eq(get_u32_le(raw + 12), 14);
	cr_expect_eq(raw[16], 6);
	want[0] = 1;
	put64(want + 1, 0x1fff000708);
	put32(want + 9, 8);
	cr_expect_eq(memcmp(raw + 12 + 18 + 5, want, 13), 0, "the load record's body");
	free(raw);
	free(text);
	unlink(path);
}

Test(trace, record_reader_fields)
{
	char *path = tmp_path();
	struct sim *s = mk(path);
	struct sim_err err = { "" };
	struct sim_trace_reader *r;
	struct sim_trace_rec rec;

	record(s);
	cr_assert_eq(sim_trace_close(s, &err), 0, "%s", err.msg);
	sim_free(s);
	r = sim_trace_reader_open(path, &err);
	cr_assert(r, "%s", err.msg);
	cr_assert_eq(sim_trace_next(r, &rec, &err), 1, "%s", err.msg);
	cr_expect_eq(rec.type, SIM_TRACE_CONFIG);
	cr_expect_eq(rec.offset, 12);
	cr_assert_eq(rec.nkv, 1);
	cr_expect_str_eq(rec.kv[0].key, "engine.seed");
	cr_expect_str_eq(rec.kv[0].val, "7");
	cr_assert_eq(sim_trace_next(r, &rec, &err), 1);
	cr_expect_eq(rec.type, SIM_TRACE_AGENT);
	cr_expect_eq(rec.agent, 1);
	cr_expect_str_eq(sim_trace_agent_name(r, 1), "cpu1");
	cr_expect_null(sim_trace_agent_name(r, 0));
	cr_assert_eq(sim_trace_next(r, &rec, &err), 1);
	cr_expect_eq(rec.type, SIM_TRACE_OP);
	cr_expect_eq(rec.t0, 100);
	cr_expect_eq(rec.t1, 340);
	cr_expect_eq(rec.line, 7);
	cr_expect_eq(rec.name.n, 9);
	cr_expect_eq(memcmp(rec.name.p, "pvalidate", 9), 0);
	cr_expect_eq(memcmp(rec.args.p, "asid=5 gpa=0x1000", rec.args.n), 0);
	cr_assert_eq(rec.nkv, 2);
	cr_expect_str_eq(rec.kv[1].key, "asid");
	cr_expect_str_eq(rec.kv[1].val, "0x5");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(sim_trace_next(r, &rec, &err), 1, "%s", err.msg);
	cr_assert_eq(sim_trace_next(r, &rec, &err), 0, "%s", err.msg);
	cr_expect_eq(rec.type, SIM_TRACE_END);
	cr_expect_eq(rec.count, 7);
	cr_expect_eq(sim_trace_next(r, &rec, &err), -1, "nothing after the end");
	sim_trace_reader_close(r);
	unlink(path);
}

/* The rules between records and of the access record, each at its offset. */
Test(trace, config_and_access_errors)
{
	struct raw r;

	raw_header(&r);
	raw_config0(&r);
	raw_access(&r, 0, 0x1000, 4);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "");

	raw_header(&r);
	raw_config0(&r);
	raw_config0(&r);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 21: a second config record");

	raw_header(&r);
	raw_access(&r, 1, 0x1000, 4);
	raw_config0(&r);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 30: a config record after the first agent, op, exit "
			 "or access record");

	raw_header(&r);
	raw_access(&r, 4, 0x1000, 4);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 12: access record: kind 4 (0..3: fetch, load, store, "
			 "modify)");

	raw_header(&r);
	raw_access(&r, 2, 0x1000, 8);
	raw_access(&r, 2, 0x1000, 0);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 30: access record: size 0 (1..1048576)");

	raw_header(&r);
	raw_access(&r, 2, 0x1000, SIM_TRACE_ACCESS_MAX + 1);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 12: access record: size 1048577 (1..1048576)");

	raw_header(&r);
	raw_rec(&r, 6, "\001\000\020\000\000\000\000\000\000\004", 10);   /* size field cut */
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 12: access record: a field runs past the record's "
			 "11 bytes");

	/* a config record whose count promises more pairs than its bytes hold */
	raw_header(&r);
	raw_rec(&r, 5, "\377\377\377\377", 4);
	raw_end(&r);
	cr_expect_str_eq(raw_err(&r), "t: byte 12: config record: a field runs past the record's "
			 "5 bytes");
}

/* ---- protsim import lackey (sim/import.c) ---- */

struct line_case {
	const char *line;
	int rc;
	unsigned kind;
	uint64_t va;
	uint32_t size;
	const char *why;
};

static const struct line_case line_cases[] = {
	{ "I  0401ab70,3", 1, SIM_TRACE_FETCH, 0x401ab70, 3, NULL },
	{ " L 1fff000708,8", 1, SIM_TRACE_LOAD, 0x1fff000708, 8, NULL },
	{ " S 04222cd8,8", 1, SIM_TRACE_STORE, 0x4222cd8, 8, NULL },
	{ " M 0402a000,4", 1, SIM_TRACE_MODIFY, 0x402a000, 4, NULL },
	{ " L FFFFFFFFFFFFFFFF,1048576", 1, SIM_TRACE_LOAD, UINT64_MAX, 1048576, NULL },
	{ "I  0401ab70,3\r", 1, SIM_TRACE_FETCH, 0x401ab70, 3, NULL },
	{ "==9368== Lackey, an example Valgrind tool", 0, 0, 0, 0, NULL },
	{ "==9368==", 0, 0, 0, 0, NULL },
	{ "--9368-- run: /usr/bin/ls", 0, 0, 0, 0, NULL },
	{ "", 0, 0, 0, 0, NULL },
	{ "hello", -1, 0, 0, 0, "not a lackey access line: expected 'I  ADDR,SIZE' or ' L|S|M ADDR,SIZE' "
	  "(valgrind --tool=lackey --trace-mem=yes), or a '==PID==' line" },
	{ "==x== text", -1, 0, 0, 0, NULL },
	{ " X 1000,4", -1, 0, 0, 0, NULL },
	{ "I 1000,4", -1, 0, 0, 0, NULL },
	{ " L 10000000000000000,4", -1, 0, 0, 0, "the address has more than 16 hex digits" },
	{ " L ,4", -1, 0, 0, 0, "no address: expected hex digits after the access kind" },
	{ " L 1000", -1, 0, 0, 0, "expected ',' after the address, got the end of the line" },
	{ " L 10g0,4", -1, 0, 0, 0, "expected ',' after the address, got another character" },
	{ " L 1000,", -1, 0, 0, 0, "no size: expected a decimal number after ','" },
	{ " L 1000,0", -1, 0, 0, 0, "size out of range (1..1048576 bytes)" },
	{ " L 1000,1048577", -1, 0, 0, 0, "size out of range (1..1048576 bytes)" },
	{ " L 1000,99999999999999999999999", -1, 0, 0, 0, "size out of range (1..1048576 bytes)" },
	{ " L 1000,4 ", -1, 0, 0, 0, "unexpected text after the size" },
	{ " L 1000,4x", -1, 0, 0, 0, "unexpected text after the size" },
};

Test(lackey, lines)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		struct sim_lackey_access a = { 9, 9, 9 };
		char why[200] = "";
		int rc = sim_lackey_line(c->line, strlen(c->line), &a, why, sizeof(why));

		cr_expect_eq(rc, c->rc, "'%s': %d (%s)", c->line, rc, why);
		if (rc == 1) {
			cr_expect_eq(a.kind, c->kind, "'%s'", c->line);
			cr_expect_eq(a.va, c->va, "'%s'", c->line);
			cr_expect_eq(a.size, c->size, "'%s'", c->line);
		}
		if (c->why)
			cr_expect_str_eq(why, c->why, "'%s'", c->line);
	}
	{
		char why[200];
		struct sim_lackey_access a;

		cr_expect_eq(sim_lackey_line(" L 10\0000,4", 9, &a, why, sizeof(why)), -1);
		cr_expect_str_eq(why, "a NUL byte (a lackey log is text)");
	}
}

static char *write_tmp(const char *text)
{
	char *path = tmp_path();
	FILE *f = fopen(path, "w");

	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return path;
}

Test(lackey, import_round_trip_and_errors)
{
	char *in = strdup(write_tmp("==1== Lackey\nI  0401ab70,3\n S 1fff000708,8\n\n M 10,2\n"
				    "==1== Exit code: 0\n"));
	char *out = strdup(tmp_path()), *text = NULL;
	struct sim_lackey_count cnt;
	struct sim_err err = { "" };
	size_t len = 0;
	FILE *f;

	cr_assert_eq(sim_import_lackey(in, out, 0, &cnt, &err), 0, "%s", err.msg);
	cr_expect_eq(cnt.lines, 6);
	cr_expect_eq(cnt.skipped, 3);
	cr_expect_eq(cnt.accesses, 3);
	cr_expect_eq(cnt.kind[SIM_TRACE_STORE], 1);
	f = open_memstream(&text, &len);
	cr_assert_eq(sim_trace_dump(out, f, &err), 0, "%s", err.msg);
	fclose(f);
	cr_expect_str_eq(text, "trace version 2\naccess fetch 0x401ab70 3\n"
			 "access store 0x1fff000708 8\naccess modify 0x10 2\nend 3 records\n");
	free(text);
	/* --limit */
	cr_assert_eq(sim_import_lackey(in, out, 2, &cnt, &err), 0, "%s", err.msg);
	cr_expect_eq(cnt.accesses, 2);
	unlink(in);
	free(in);

	/* a bad line: its file and number, and no trace left behind */
	in = strdup(write_tmp("I  0401ab70,3\nI  0401ab73,5\nprogram output\n"));
	cr_expect_eq(sim_import_lackey(in, out, 0, &cnt, &err), -1);
	{
		char want[300];

		snprintf(want, sizeof(want), "%s:3: not a lackey access line: expected 'I  ADDR,SIZE' "
			 "or ' L|S|M ADDR,SIZE' (valgrind --tool=lackey --trace-mem=yes), or a "
			 "'==PID==' line", in);
		cr_expect_str_eq(err.msg, want);
	}
	cr_expect_neq(access(out, F_OK), 0, "the half trace is removed");
	unlink(in);
	free(in);

	/* no access at all; a line too long; a missing file */
	in = strdup(write_tmp("==1== Lackey\n"));
	cr_expect_eq(sim_import_lackey(in, out, 0, &cnt, &err), -1);
	cr_expect(strstr(err.msg, ": no access lines (1 lines read)") != NULL, "%s", err.msg);
	unlink(in);
	free(in);
	{
		char *big = malloc(5000);

		memset(big, 'I', 4999);
		big[4999] = 0;
		in = strdup(write_tmp(big));
		free(big);
	}
	cr_expect_eq(sim_import_lackey(in, out, 0, &cnt, &err), -1);
	cr_expect(strstr(err.msg, ":1: line longer than 4096 bytes") != NULL, "%s", err.msg);
	unlink(in);
	free(in);
	cr_expect_eq(sim_import_lackey("/nonexistent/x.log", out, 0, &cnt, &err), -1);
	cr_expect_str_eq(err.msg, "/nonexistent/x.log: cannot read: No such file or directory");
	unlink(out);
	free(out);
}

/* ---- replaying script lines (sim/script_replay.c) ---- */

/* nop lines on two host CPUs: each CPU's first line at its recorded start, then the gaps. */
Test(replay, lines_keep_their_gaps)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;
	FILE *null = fopen("/dev/null", "w");
	struct sim_replay_line l[] = {
		{ .cpu = 0, .line = 1, .op = "nop", .args = "cycles=100", .start = 50 },
		{ .cpu = 1, .line = 2, .op = "nop", .args = "cycles=10", .start = 0 },
		{ .cpu = 0, .line = 3, .op = "nop", .args = "cycles=300", .gap = 1000 },
		{ .cpu = 0, .line = 4, .op = "nop", .args = "cycles=1", .gap = 0 },
	};

	cr_assert_eq(sim_cfg_set(s, "machine.cpus", "2", "--set", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_script_replay(s, l, 4, "t", null, stderr), 0);
	cr_expect(l[0].done && l[1].done && l[2].done && l[3].done);
	cr_expect_eq(l[0].t0, 50);
	cr_expect_eq(l[0].t1, 150);
	cr_expect_eq(l[1].t0, 0);
	cr_expect_eq(l[1].t1, 10);
	cr_expect_eq(l[2].t0, 1150);
	cr_expect_eq(l[2].t1, 1450);
	cr_expect_eq(l[3].t0, 1450);
	cr_expect_eq(l[3].t1, 1451);
	cr_expect_str_eq(l[0].result, "OK");
	for (int i = 0; i < 4; i++)
		free(l[i].result);
	sim_free(s);

	/* a line this machine cannot run: 2, nothing runs */
	s = sim_new(NULL);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	l[0].op = "frobnicate";
	l[0].done = false;
	cr_expect_eq(sim_script_replay(s, l, 1, "t", null, null), 2);
	cr_expect(!l[0].done);
	l[0].op = "nop";
	l[0].cpu = 7;
	cr_expect_eq(sim_script_replay(s, l, 1, "t", null, null), 2);
	sim_free(s);
	fclose(null);
}
