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
 */
#include "sim/script_int.h"

#include <errno.h>
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

int sim_script_src_file(struct script_src *src, FILE *in, char *why, size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	int fd = fileno(in);
	size_t n;

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
	while ((n = fread(buf, 1, CURSOR_BUF, in)) > 0)
		if (fwrite(buf, 1, n, src->spool) != n)
			goto fail;
	if (ferror(in) || fflush(src->spool) != 0)
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

char *sim_script_cursor_next(struct script_cursor *cur, uint64_t *start, int *err)
{
	const struct script_src *src = cur->src;
	size_t used = 0;
	bool any = false;

	*err = 0;
	*start = cur->pos;
	if (src->text) {
		const char *p = src->text + cur->pos, *nl;
		size_t left, n;

		if (cur->pos >= src->len)
			return NULL;
		left = src->len - (size_t)cur->pos;
		nl = memchr(p, '\n', left);
		n = nl ? (size_t)(nl - p) : left;
		line_put(cur, &used, p, n);
		cur->pos += n + (nl ? 1 : 0);
	} else {
		for (;;) {
			ssize_t avail = cursor_fill(cur);
			const char *p, *nl;
			size_t n;

			if (avail < 0) {
				*err = -1;
				return NULL;
			}
			if (avail == 0)
				break;
			p = cur->buf + (cur->pos - cur->bpos);
			nl = memchr(p, '\n', (size_t)avail);
			n = nl ? (size_t)(nl - p) : (size_t)avail;
			line_put(cur, &used, p, n);
			any = true;
			cur->pos += n + (nl ? 1 : 0);
			if (nl)
				break;
		}
		if (!any)
			return NULL;
	}
	cur->line[used] = '\0';
	cur->lineno++;
	return cur->line;
}
