/*
 * test_trace.c - the binary event trace (sim/trace.c, docs/trace.md):
 * the writer's exact bytes (header, record layout, little-endian fields),
 * the reader's text for each record type, the round trip, deterministic
 * bytes, and every reader error with its byte offset.
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

/* A machine with agents cpu0, cpu1, vcpu0 (ids 0..2) and a trace at @path. */
static struct sim *mk(const char *path)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

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
	"trace version 1\n"
	"agent 1 cpu1\n"
	"op [100,340] cpu1 line 7: pvalidate asid=5 gpa=0x1000 -> SUCCESS changed=1 asid=0x5\n"
	"agent 2 vcpu0\n"
	"exit [500,4680] vcpu0 reason 0 npf pc=0x80000000 gpa=0x80003020 info=0x100000006\n"
	"exit [5000,5100] vcpu0 reason 4 hlt pc=0x800000b0 gpa=0x0 info=0x0\n"
	"agent 0 cpu0\n"
	"end 6 records\n";

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
	put32(p + 8, 1);
	p += 12;
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
	cr_expect_eq(memcmp(raw, want, (size_t)(p - want)), 0, "header, agent and op records");
	/* then agents 0 and 2 ("cpu0", "vcpu0"), then the end record: 4 records before it */
	p = raw + (p - want) + 17 + 18;
	cr_assert_eq(n, (size_t)(p - raw) + 4 + 1 + 8);
	cr_expect_eq(p[4], 4);
	cr_expect_eq(p[0], 9);
	cr_expect_eq(p[5], 4);
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

/* The round trip's decompressed stream: header 0..11, agent 1 at 12 (17 bytes), ... */
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
	{ "version", M_U32, 8, 2, "t: byte 8: format version 2: this protsim reads version 1" },
	{ "version 0", M_U32, 8, 0, "t: byte 8: format version 0: this protsim reads version 1" },
	{ "size 0", M_U32, 12, 0, "t: byte 12: record size 0 (1..1048576)" },
	{ "size huge", M_U32, 12, 0x7fffffff, "t: byte 12: record size 2147483647 (1..1048576)" },
	{ "unknown type", M_U8, 16, 9, "t: byte 12: unknown record type 9" },
	{ "end type early", M_U8, 16, 4, "t: byte 12: end record of 13 bytes (9)" },
	{ "string past the record", M_U32, 21, 100,
	  "t: byte 12: agent record: a field runs past the record's 13 bytes" },
	{ "bytes after the fields", M_U32, 21, 3,
	  "t: byte 12: 1 bytes after the last field of the record" },
	{ "size cut", M_CUT, 0, 14, "t: byte 12: a record's size is cut short (2 of 4 bytes)" },
	{ "record cut", M_CUT, 0, 20, "t: byte 12: the record is cut short (4 of 13 bytes)" },
	{ "no end record", M_CUT, -13, 0, "t: byte %T: no end record: the trace is cut short" },
	{ "end count", M_U8, -8, 9,
	  "t: byte %T: the end record counts 9 records, the trace has 6" },
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
		cr_expect_str_eq(err.msg, want, "%s", c->what);
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
