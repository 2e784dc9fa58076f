/*
 * import.c - `protsim import lackey FILE`: a valgrind Lackey memory trace
 * (`valgrind --tool=lackey --trace-mem=yes --log-file=FILE PROG`) as a
 * protsim access trace (docs/trace.md, record type 6).
 *
 * Lackey writes one line per access:
 *
 *   I  ADDR,SIZE     an instruction fetch ("I" then two spaces)
 *    L ADDR,SIZE     a load   (a space, the letter, a space)
 *    S ADDR,SIZE     a store
 *    M ADDR,SIZE     a modify (a load and a store of the same bytes)
 *
 * ADDR in hex without 0x, SIZE in decimal.  Valgrind's own lines
 * ("==PID== text", and "--PID-- text" with -v) and empty lines are
 * skipped; any other line is an error naming the file, the line and the
 * rule it breaks.  The parser reads a line at a time (a trace of any
 * length takes constant memory).
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LACKEY_LINE_MAX 4096

/* Is @p..@e "==DIGITS==" or "--DIGITS--" followed by a space or the end? */
static bool valgrind_banner(const char *p, size_t n)
{
	char c;
	size_t i = 2;

	if (n < 5 || (p[0] != '=' && p[0] != '-') || p[1] != p[0])
		return false;
	c = p[0];
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == 2 || i + 2 > n || p[i] != c || p[i + 1] != c)
		return false;
	return i + 2 == n || p[i + 2] == ' ';
}

int sim_lackey_line(const char *line, size_t n, struct sim_lackey_access *acc, char *why,
		    size_t whylen)
{
	size_t i = 0, digits = 0;
	uint64_t va = 0, size = 0;

	if (memchr(line, 0, n)) {
		snprintf(why, whylen, "a NUL byte (a lackey log is text)");
		return -1;
	}
	if (n && line[n - 1] == '\r')   /* a log that went through a CRLF tool */
		n--;
	if (n == 0 || valgrind_banner(line, n))
		return 0;
	if (n >= 3 && line[0] == 'I' && line[1] == ' ' && line[2] == ' ') {
		acc->kind = SIM_TRACE_FETCH;
		i = 3;
	} else if (n >= 3 && line[0] == ' ' && line[2] == ' ' &&
		   (line[1] == 'L' || line[1] == 'S' || line[1] == 'M')) {
		acc->kind = line[1] == 'L' ? SIM_TRACE_LOAD :
			    line[1] == 'S' ? SIM_TRACE_STORE : SIM_TRACE_MODIFY;
		i = 3;
	} else {
		snprintf(why, whylen, "not a lackey access line: expected 'I  ADDR,SIZE' or "
			 "' L|S|M ADDR,SIZE' (valgrind --tool=lackey --trace-mem=yes), or a "
			 "'==PID==' line");
		return -1;
	}
	for (; i < n; i++, digits++) {
		char c = line[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (digits == 16) {
			snprintf(why, whylen, "the address has more than 16 hex digits");
			return -1;
		}
		va = va << 4 | d;
	}
	if (!digits) {
		snprintf(why, whylen, "no address: expected hex digits after the access kind");
		return -1;
	}
	if (i == n || line[i] != ',') {
		snprintf(why, whylen, "expected ',' after the address, got %s",
			 i == n ? "the end of the line" : "another character");
		return -1;
	}
	for (i++, digits = 0; i < n && line[i] >= '0' && line[i] <= '9'; i++, digits++) {
		size = size * 10 + (uint64_t)(line[i] - '0');
		if (size > SIM_TRACE_ACCESS_MAX)
			break;
	}
	if (!digits) {
		snprintf(why, whylen, "no size: expected a decimal number after ','");
		return -1;
	}
	if (size < 1 || size > SIM_TRACE_ACCESS_MAX) {
		snprintf(why, whylen, "size out of range (1..%u bytes)", SIM_TRACE_ACCESS_MAX);
		return -1;
	}
	if (i != n) {
		snprintf(why, whylen, "unexpected text after the size");
		return -1;
	}
	acc->va = va;
	acc->size = (uint32_t)size;
	return 1;
}

int sim_lackey_parse(FILE *in, const char *name, uint64_t limit,
		     void (*fn)(void *arg, const struct sim_lackey_access *acc), void *arg,
		     struct sim_lackey_count *cnt, struct sim_err *err)
{
	char *buf = sim_xcalloc(1, LACKEY_LINE_MAX + 2);
	uint64_t lineno = 0;
	int rc = 0;

	memset(cnt, 0, sizeof(*cnt));
	while (!limit || cnt->accesses < limit) {
		struct sim_lackey_access acc;
		char why[200];
		size_t n = 0;
		int c = 0, r;

		/* one line, NUL bytes kept (fgets would hide them) */
		while (n <= LACKEY_LINE_MAX && (c = getc(in)) != EOF && c != '\n')
			buf[n++] = (char)c;
		if (c == EOF && ferror(in)) {
			rc = sim_err_set(err, "%s: cannot read: %s", name, strerror(errno));
			break;
		}
		if (c == EOF && n == 0)
			break;
		lineno++;
		if (n > LACKEY_LINE_MAX) {
			rc = sim_err_set(err, "%s:%llu: line longer than %u bytes", name,
					 (unsigned long long)lineno, LACKEY_LINE_MAX);
			break;
		}
		r = sim_lackey_line(buf, n, &acc, why, sizeof(why));
		if (r < 0) {
			rc = sim_err_set(err, "%s:%llu: %s", name, (unsigned long long)lineno, why);
			break;
		}
		if (r == 0) {
			cnt->skipped++;
			continue;
		}
		cnt->accesses++;
		cnt->kind[acc.kind]++;
		fn(arg, &acc);
	}
	cnt->lines = lineno;
	if (!rc && !cnt->accesses)
		rc = sim_err_set(err, "%s: no access lines (%llu lines read): not a log of valgrind "
				 "--tool=lackey --trace-mem=yes?", name, (unsigned long long)lineno);
	free(buf);
	return rc;
}

static void put_access(void *arg, const struct sim_lackey_access *acc)
{
	sim_trace_access(arg, acc->kind, acc->va, acc->size);
}

int sim_import_lackey(const char *path, const char *out, uint64_t limit,
		      struct sim_lackey_count *cnt, struct sim_err *err)
{
	FILE *in = fopen(path, "r");
	struct sim_trace *t;
	struct sim_err werr;
	int rc;

	memset(cnt, 0, sizeof(*cnt));
	if (!in)
		return sim_err_set(err, "%s: cannot read: %s", path, strerror(errno));
	t = sim_trace_create(out, err);
	if (!t) {
		fclose(in);
		return -1;
	}
	rc = sim_lackey_parse(in, path, limit, put_access, t, cnt, err);
	fclose(in);
	if (sim_trace_finish(t, &werr) && !rc)
		rc = sim_err_set(err, "%s", werr.msg);
	if (rc)
		unlink(out);   /* no half trace left behind */
	return rc;
}
