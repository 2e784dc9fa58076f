/*
 * util.c - allocation and string helpers that never return NULL: host
 * memory exhaustion is not a simulated condition, so it ends the run with
 * sim_fatal() instead of being checked at every call site.
 */
#include "sim/sim_int.h"

#include <stdlib.h>
#include <string.h>

void *sim_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		sim_fatal("out of host memory (%zu bytes)", n);
	return q;
}

void *sim_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		sim_fatal("out of host memory (%zu x %zu bytes)", n, size);
	return p;
}

char *sim_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(sim_xrealloc(NULL, n), s, n);
}

char *sim_path_beside(const char *base, const char *rel)
{
	const char *slash = strrchr(base, '/');

	if (rel[0] == '/' || !slash)
		return sim_xstrdup(rel);
	return sim_xprintf("%.*s/%s", (int)(slash - base), base, rel);
}

char *sim_xprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		sim_fatal("bad format '%s'", fmt);
	p = sim_xrealloc(NULL, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
