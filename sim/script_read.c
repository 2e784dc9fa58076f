/*
 * script_read.c - where a batch script's text comes from.
 *
 * A script is read as a stream, more than once: the interpreter first
 * checks every line, then each agent reads its own lines when it needs
 * them (see script_run.c).  So the text must be readable again from any
 * offset: text in memory is, a regular file is (pread()), and anything
 * else (standard input from a pipe, a memory stream) is first copied to
 * an unnamed temporary file.  A cursor is one reading position with its
 * own buffer; nothing else of the text is kept in memory.
 *
 * A script is text: a line longer than SIM_SCRIPT_LINE_MAX bytes, or one
 * holding a NUL byte, is an error found by the reader (in the check pass,
 * before anything runs), so neither `protsim script /dev/zero` nor a
 * script of one endless line reads without bound: the copy of a stream
 * stops after such a line, and a cursor never holds more than
 * SIM_SCRIPT_LINE_MAX + 1 bytes of a line.  A UTF-8 byte order mark at the
 * start of the text is skipped.
 */
#include "sim/script_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes a cursor reads from a file at a time. */
#define CURSOR_BUF 32768

void sim_script_src_text(struct script_src *src, const char *text)
{
	memset(src, 0, sizeof(*src));
	src->text = text;
	src->len = strlen(text);
	src->fd = -1;
}

/*
 * How many of the @n bytes at @p to copy when the current line has
 * *@linelen bytes so far: all of them, or up to and including the byte
 * that breaks a reading rule (*@stop set).  A cursor reports that line.
 */
static size_t spool_take(const char *p, size_t n, size_t *linelen, bool *stop)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			*linelen = 0;
			continue;
		}
		if (p[i] == '\0' || ++*linelen > SIM_SCRIPT_LINE_MAX) {
			*stop = true;
			return i + 1;
		}
	}
	return n;
}

int sim_script_src_file(struct script_src *src, FILE *in, char *why, size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	int fd = fileno(in);
	size_t n, linelen = 0;
	bool stop = false;

	memset(src, 0, sizeof(*src));
	src->fd = -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t off = ftello(in);

		if (off >= 0) {
			src->fd = fd;
			src->base = (uint64_t)off;
			return 0;
		}
	}
	/* A pipe, a terminal or a memory stream: keep a copy to read again. */
	errno = 0;
	src->spool = tmpfile();
	if (!src->spool)
		goto fail;
	buf = sim_xrealloc(NULL, CURSOR_BUF);
	while (!stop && (n = fread(buf, 1, CURSOR_BUF, in)) > 0) {
		n = spool_take(buf, n, &linelen, &stop);
		if (fwrite(buf, 1, n, src->spool) != n)
			goto fail;
	}
	if ((!stop && ferror(in)) || fflush(src->spool) != 0)
		goto fail;
	free(buf);
	src->fd = fileno(src->spool);
	return 0;
fail:
	snprintf(why, whylen, "%s", strerror(errno ? errno : EIO));
	free(buf);
	sim_script_src_close(src);
	return -1;
}

void sim_script_src_close(struct script_src *src)
{
	if (src->spool)
		fclose(src->spool);
	src->spool = NULL;
	src->fd = -1;
}

void sim_script_cursor_init(struct script_cursor *cur, const struct script_src *src, uint64_t pos,
			    int lineno)
{
	memset(cur, 0, sizeof(*cur));
	cur->src = src;
	cur->pos = pos;
	cur->lineno = lineno;
}

void sim_script_cursor_seek(struct script_cursor *cur, uint64_t pos, int lineno)
{
	cur->pos = pos;
	cur->lineno = lineno;
}

void sim_script_cursor_free(struct script_cursor *cur)
{
	free(cur->buf);
	free(cur->line);
	cur->buf = cur->line = NULL;
	cur->blen = cur->lcap = 0;
}

/* Append @n bytes at @p to the line (which has @used bytes), keeping room for a NUL. */
static void line_put(struct script_cursor *cur, size_t *used, const char *p, size_t n)
{
	if (*used + n + 1 > cur->lcap) {
		size_t cap = cur->lcap ? cur->lcap : 128;

		while (cap < *used + n + 1)
			cap *= 2;
		cur->line = sim_xrealloc(cur->line, cap);
		cur->lcap = cap;
	}
	memcpy(cur->line + *used, p, n);
	*used += n;
}

/* Make the buffer hold the bytes at cur->pos.  Bytes there: >0, 0 at the end, -1 error. */
static ssize_t cursor_fill(struct script_cursor *cur)
{
	const struct script_src *src = cur->src;
	ssize_t r;

	if (cur->pos >= cur->bpos && cur->pos < cur->bpos + cur->blen)
		return (ssize_t)(cur->bpos + cur->blen - cur->pos);
	if (!cur->buf)
		cur->buf = sim_xrealloc(NULL, CURSOR_BUF);
	do
		r = pread(src->fd, cur->buf, CURSOR_BUF, (off_t)(src->base + cur->pos));
	while (r < 0 && errno == EINTR);
	cur->bpos = cur->pos;
	cur->blen = r > 0 ? (size_t)r : 0;
	return r;
}

const char *sim_script_skip_bom(const char *line)
{
	return strncmp(line, "\xef\xbb\xbf", 3) == 0 ? line + 3 : line;
}

/* The line of @used bytes is read: check it, skip a byte order mark at offset 0. */
static char *cursor_line_done(struct script_cursor *cur, uint64_t start, size_t used, int *err)
{
	const char *nul = memchr(cur->line, '\0', used);

	if (cur->lineno == INT_MAX - 1) {
		cur->fail = SCRIPT_READ_LINES;
		*err = -1;
		return NULL;
	}
	if (nul) {
		cur->fail = SCRIPT_READ_NUL;
		cur->nulcol = (size_t)(nul - cur->line) + 1;
		*err = -1;
		return NULL;
	}
	cur->line[used] = '\0';
	cur->lineno++;
	return start == 0 ? cur->line + (sim_script_skip_bom(cur->line) - cur->line) : cur->line;
}

char *sim_script_cursor_next(struct script_cursor *cur, uint64_t *start, int *err)
{
	const struct script_src *src = cur->src;
	size_t used = 0;
	bool any = false;

	*err = 0;
	*start = cur->pos;
	cur->fail = SCRIPT_READ_OK;
	if (src->text) {
		const char *p = src->text + cur->pos, *nl;
		size_t left, n;

		if (cur->pos >= src->len)
			return NULL;
		left = src->len - (size_t)cur->pos;
		nl = memchr(p, '\n', left);
		n = nl ? (size_t)(nl - p) : left;
		if (n > SIM_SCRIPT_LINE_MAX)
			goto too_long;
		line_put(cur, &used, p, n);
		cur->pos += n + (nl ? 1 : 0);
	} else {
		for (;;) {
			ssize_t avail = cursor_fill(cur);
			const char *p, *nl;
			size_t n;

			if (avail < 0) {
				cur->fail = SCRIPT_READ_IO;
				cur->ioerr = errno;
				*err = -1;
				return NULL;
			}
			if (avail == 0)
				break;
			p = cur->buf + (cur->pos - cur->bpos);
			nl = memchr(p, '\n', (size_t)avail);
			n = nl ? (size_t)(nl - p) : (size_t)avail;
			if (used + n > SIM_SCRIPT_LINE_MAX)
				goto too_long;
			line_put(cur, &used, p, n);
			any = true;
			cur->pos += n + (nl ? 1 : 0);
			if (nl)
				break;
		}
		if (!any)
			return NULL;
	}
	return cursor_line_done(cur, *start, used, err);
too_long:
	cur->fail = SCRIPT_READ_LONG;
	*err = -1;
	return NULL;
}

int sim_script_cursor_report(struct script *sc, const struct script_cursor *cur)
{
	int lineno = cur->lineno + 1;

	switch (cur->fail) {
	case SCRIPT_READ_LONG:
		return sim_script_err(sc, lineno, "line longer than %u bytes (the limit)",
				      (unsigned)SIM_SCRIPT_LINE_MAX);
	case SCRIPT_READ_LINES:
		return sim_script_err(sc, lineno - 1, "more than %d lines (the limit)", INT_MAX - 1);
	case SCRIPT_READ_NUL:
		return sim_script_err(sc, lineno, "NUL byte at column %zu (a script is text)",
				      cur->nulcol);
	case SCRIPT_READ_IO:
		return sim_script_err(sc, lineno, "cannot read: %s", strerror(cur->ioerr));
	case SCRIPT_READ_OK:
		break;
	}
	return sim_script_err(sc, lineno, "cannot read: %s", strerror(EIO));
}

int sim_script_line_check(struct script *sc, const char *line, size_t len, int lineno)
{
	const char *nul;

	if (len > SIM_SCRIPT_LINE_MAX)
		return sim_script_err(sc, lineno, "line longer than %u bytes (the limit)",
				      (unsigned)SIM_SCRIPT_LINE_MAX);
	nul = memchr(line, '\0', len);
	if (nul)
		return sim_script_err(sc, lineno, "NUL byte at column %zu (a script is text)",
				      (size_t)(nul - line) + 1);
	return 0;
}
