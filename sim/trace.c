/*
 * trace.c - the binary event trace of a run (--trace FILE.zst) and its
 * reader (protsim trace dump); the format is docs/trace.md.
 *
 * The writer encodes each record (little-endian, length-prefixed) into a
 * buffer and streams it through libzstd (ZSTD_compressStream2 with
 * ZSTD_e_continue, ZSTD_e_end at the close), so a long run does not keep
 * its events in memory.  A fixed level, one thread and no dictionary: the
 * same records give the same bytes.  An agent's record comes before the
 * first record that names it; the close names the agents not yet named,
 * then writes the end record (the number of records before it), so a
 * reader tells a cut trace from a whole one.
 *
 * The writer of a run (sim_trace_open) puts the configuration record
 * first, when the first other record comes (the machine is built by
 * then: a script's machine line has been applied) or at the close.  An
 * imported access trace (sim/import.c) is written by the same functions
 * with no machine: sim_trace_create(), sim_trace_access(),
 * sim_trace_finish().
 *
 * The reader (sim_trace_reader_*) decompresses with ZSTD_decompressStream
 * into a window and decodes one whole record from it per call
 * (sim_trace_next), checking its layout and the rules between records;
 * every error names the file and the byte offset (in the decompressed
 * stream) of the record it is in.  `protsim trace dump` prints each
 * record; `protsim replay` consumes them.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#define TRACE_LEVEL   3                 /* zstd level: fixed, part of the bytes */
#define TRACE_STR_MAX 4096u             /* longer strings are cut (writer) */
#define TRACE_KV_MAX  64u               /* more fields are left out (writer) */

static const char trace_magic[8] = { 'P', 'R', 'O', 'T', 'S', 'I', 'M', 'T' };

struct sim_trace {
	struct sim *s;                    /* the run traced, or NULL (an import) */
	bool config_done;                 /* the config record is written */
	char *path;
	FILE *f;
	ZSTD_CCtx *cc;
	unsigned char *in;                /* records not yet given to zstd */
	size_t nin, capin;
	unsigned char *out;               /* compressed bytes */
	size_t capout;
	uint64_t records;                 /* written so far (the end record's count) */
	unsigned char *named;             /* per agent id: its record is written */
	size_t nnamed;
	int werr;                         /* errno of the first failed write, or -1 */
	bool failed;
};

bool sim_trace_on(const struct sim *s)
{
	return s->trace != NULL;
}

/* ---- writer ---- */

static void tr_push(struct sim_trace *t, const void *p, size_t n)
{
	if (t->nin + n > t->capin) {
		while (t->nin + n > t->capin)
			t->capin *= 2;
		t->in = sim_xrealloc(t->in, t->capin);
	}
	memcpy(t->in + t->nin, p, n);
	t->nin += n;
}

static void tr_u8(struct sim_trace *t, uint8_t v)
{
	tr_push(t, &v, 1);
}

static void tr_u32(struct sim_trace *t, uint32_t v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	tr_push(t, b, 4);
}

static void tr_u64(struct sim_trace *t, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	tr_push(t, b, 8);
}

static void tr_str(struct sim_trace *t, const char *p)
{
	size_t n = p ? strlen(p) : 0;

	if (n > TRACE_STR_MAX)
		n = TRACE_STR_MAX;
	tr_u32(t, (uint32_t)n);
	tr_push(t, p, n);
}

/* Give the buffered records to zstd and write what it returns. */
static void tr_flush(struct sim_trace *t, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { t->in, t->nin, 0 };
	size_t left;

	do {
		ZSTD_outBuffer out = { t->out, t->capout, 0 };

		left = ZSTD_compressStream2(t->cc, &out, &in, mode);
		if (ZSTD_isError(left))
			sim_fatal("trace: zstd: %s", ZSTD_getErrorName(left));
		if (out.pos && !t->failed && fwrite(t->out, 1, out.pos, t->f) != out.pos) {
			t->failed = true;
			t->werr = errno;
		}
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	t->nin = 0;
}

/* Start a record of @type; tr_end() fills in its size. */
static size_t tr_begin(struct sim_trace *t, uint8_t type)
{
	size_t at = t->nin;

	tr_u32(t, 0);
	tr_u8(t, type);
	return at;
}

static void tr_end(struct sim_trace *t, size_t at)
{
	uint32_t n = (uint32_t)(t->nin - at - 4);

	for (int i = 0; i < 4; i++)
		t->in[at + (size_t)i] = (unsigned char)(n >> (8 * i));
	t->records++;
	if (t->nin >= ZSTD_CStreamInSize())
		tr_flush(t, ZSTD_e_continue);
}

/*
 * The configuration record: every key a file, a machine line or --set
 * gave a value (sim_cfg_is_set), by name, as resolved text.  Once, before
 * every other record but the header.
 */
static void tr_config(struct sim_trace *t)
{
	const struct sim_cfg_key **keys;
	size_t n, nset = 0, at;

	if (t->config_done || !t->s)
		return;
	t->config_done = true;
	n = sim_cfg_keys(t->s, &keys);
	for (size_t i = 0; i < n; i++)
		if (sim_cfg_is_set(t->s, keys[i]->name))
			nset++;
	at = tr_begin(t, SIM_TRACE_CONFIG);
	tr_u32(t, (uint32_t)nset);
	for (size_t i = 0; i < n; i++) {
		if (!sim_cfg_is_set(t->s, keys[i]->name))
			continue;
		tr_str(t, keys[i]->name);
		tr_str(t, sim_cfg_str(t->s, keys[i]->name));
	}
	tr_end(t, at);
}

static void tr_agent(struct sim *s, struct sim_trace *t, int agent)
{
	size_t at;

	tr_config(t);
	if (agent < 0 || agent >= sim_agent_count(s))
		return;
	if ((size_t)agent >= t->nnamed) {
		size_t n = (size_t)sim_agent_count(s);

		t->named = sim_xrealloc(t->named, n);
		memset(t->named + t->nnamed, 0, n - t->nnamed);
		t->nnamed = n;
	}
	if (t->named[agent])
		return;
	t->named[agent] = 1;
	at = tr_begin(t, SIM_TRACE_AGENT);
	tr_u32(t, (uint32_t)agent);
	tr_str(t, sim_agent_name(sim_agent_by_id(s, agent)));
	tr_end(t, at);
}

struct sim_trace *sim_trace_create(const char *path, struct sim_err *err)
{
	struct sim_trace *t;
	FILE *f = fopen(path, "wb");
	size_t rc;

	if (!f) {
		sim_err_set(err, "%s: cannot write the trace: %s", path, strerror(errno));
		return NULL;
	}
	t = sim_xcalloc(1, sizeof(*t));
	t->path = sim_xstrdup(path);
	t->f = f;
	t->cc = ZSTD_createCCtx();
	if (!t->cc)
		sim_fatal("trace: out of memory");
	rc = ZSTD_CCtx_setParameter(t->cc, ZSTD_c_compressionLevel, TRACE_LEVEL);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(t->cc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(rc))
		sim_fatal("trace: zstd: %s", ZSTD_getErrorName(rc));
	t->capin = 2 * ZSTD_CStreamInSize();
	t->in = sim_xcalloc(1, t->capin);
	t->capout = ZSTD_CStreamOutSize();
	t->out = sim_xcalloc(1, t->capout);
	tr_push(t, trace_magic, sizeof(trace_magic));
	tr_u32(t, SIM_TRACE_VERSION);
	return t;
}

int sim_trace_open(struct sim *s, const char *path, struct sim_err *err)
{
	struct sim_trace *t = sim_trace_create(path, err);

	if (!t)
		return -1;
	t->s = s;
	s->trace = t;
	return 0;
}

void sim_trace_access(struct sim_trace *t, unsigned kind, uint64_t va, uint32_t size)
{
	size_t at;

	tr_config(t);
	at = tr_begin(t, SIM_TRACE_ACCESS);
	tr_u8(t, (uint8_t)kind);
	tr_u64(t, va);
	tr_u32(t, size);
	tr_end(t, at);
}

int sim_trace_finish(struct sim_trace *t, struct sim_err *err)
{
	int rc = 0;
	size_t at;

	tr_config(t);
	at = tr_begin(t, SIM_TRACE_END);
	tr_u64(t, t->records);
	tr_end(t, at);
	tr_flush(t, ZSTD_e_end);
	if (fclose(t->f) && !t->failed) {
		t->failed = true;
		t->werr = errno;
	}
	if (t->failed)
		rc = sim_err_set(err, "%s: cannot write the trace: %s", t->path, strerror(t->werr));
	ZSTD_freeCCtx(t->cc);
	free(t->in);
	free(t->out);
	free(t->named);
	free(t->path);
	free(t);
	return rc;
}

void sim_trace_op(struct sim *s, int agent, uint64_t t0, uint64_t t1, int line, const char *op,
		  const char *args, const char *result, const struct sim_trace_field *kv,
		  size_t nkv)
{
	struct sim_trace *t = s->trace;
	size_t at;

	if (!t)
		return;
	if (nkv > TRACE_KV_MAX)
		nkv = TRACE_KV_MAX;
	tr_agent(s, t, agent);
	at = tr_begin(t, SIM_TRACE_OP);
	tr_u32(t, (uint32_t)agent);
	tr_u64(t, t0);
	tr_u64(t, t1 < t0 ? t0 : t1);
	tr_u32(t, (uint32_t)line);
	tr_str(t, op);
	tr_str(t, args);
	tr_str(t, result);
	tr_u32(t, (uint32_t)nkv);
	for (size_t i = 0; i < nkv; i++) {
		tr_str(t, kv[i].key);
		tr_str(t, kv[i].val);
	}
	tr_end(t, at);
}

void sim_trace_exit(struct sim *s, int agent, const struct sim_trace_exit *e)
{
	struct sim_trace *t = s->trace;
	size_t at;

	if (!t)
		return;
	tr_agent(s, t, agent);
	at = tr_begin(t, SIM_TRACE_EXIT);
	tr_u32(t, (uint32_t)agent);
	tr_u64(t, e->stop);
	tr_u64(t, e->end < e->stop ? e->stop : e->end);
	tr_u32(t, e->reason);
	tr_str(t, e->name);
	tr_u64(t, e->pc);
	tr_u64(t, e->gpa);
	tr_u64(t, e->info);
	tr_end(t, at);
}

int sim_trace_close(struct sim *s, struct sim_err *err)
{
	struct sim_trace *t = s->trace;

	if (!t)
		return 0;
	for (int i = 0; i < sim_agent_count(s); i++)
		tr_agent(s, t, i);
	s->trace = NULL;
	return sim_trace_finish(t, err);
}

/* ---- reader ---- */

struct sim_trace_reader {
	char *name;
	FILE *in;                          /* the file, or NULL: mem */
	const unsigned char *mem;          /* its bytes (sim_trace_reader_mem) */
	size_t nmem, offmem;
	bool raw;                          /* mem is already decompressed */
	ZSTD_DStream *ds;
	unsigned char *ibuf;               /* compressed bytes read, not yet used */
	size_t icap, ilen, ipos;
	size_t zleft;                      /* ZSTD_decompressStream's hint: 0 at a frame's end */
	bool eof;                          /* no more compressed input */
	bool started;                      /* some input was seen */
	unsigned char *buf;                /* the window: decompressed bytes */
	size_t bufcap;
	unsigned char *w;                  /* in it, those not yet decoded */
	size_t wlen;
	uint64_t base;                     /* stream offset of w[0] */
	size_t held;                       /* bytes of the record last returned, dropped next */
	bool header;                       /* the header was read */
	bool done;                         /* the end record was read (or an error) */
	bool seen_other;                   /* an agent, op, exit or access record was read */
	bool seen_config;
	bool end_seen;                     /* a good end record was read (data may follow) */
	uint64_t count;                    /* records read before the end record */
	char **agents;                     /* names by id, from agent records */
	size_t nagents;
	struct sim_trace_field *kv;        /* the record's fields (op, config), NUL-terminated copies */
	size_t kvcap;
	char **strs;                       /* the copies: one block per field text */
	size_t nstrs, strcap;
	struct sim_err *err;
};

static int rd_err(struct sim_trace_reader *r, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rd_err(struct sim_trace_reader *r, uint64_t off, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->done = true;
	return sim_err_set(r->err, "%s: byte %llu: %s", r->name, (unsigned long long)off, msg);
}

/*
 * Decompress more into the window.  Return: 1 bytes were added, 0 the
 * stream ended cleanly (whole frames), -1 an error (at the record at @base).
 */
static int rd_more(struct sim_trace_reader *r)
{
	if (r->w != r->buf) {              /* only a part of a record is left: move it down */
		memmove(r->buf, r->w, r->wlen);
		r->w = r->buf;
	}
	if (r->bufcap - r->wlen < ZSTD_DStreamOutSize()) {
		r->bufcap = r->wlen + ZSTD_DStreamOutSize();
		r->buf = sim_xrealloc(r->buf, r->bufcap);
		r->w = r->buf;
	}
	if (r->raw) {
		size_t n = r->nmem - r->offmem;

		if (!n)
			return 0;
		if (n > r->bufcap - r->wlen)
			n = r->bufcap - r->wlen;
		memcpy(r->w + r->wlen, r->mem + r->offmem, n);
		r->offmem += n;
		r->wlen += n;
		return 1;
	}
	for (;;) {
		ZSTD_outBuffer out = { r->w, r->bufcap, r->wlen };
		ZSTD_inBuffer in;
		size_t rc;

		if (r->ipos == r->ilen && !r->eof) {
			if (r->in) {
				r->ilen = fread(r->ibuf, 1, r->icap, r->in);
				if (ferror(r->in))
					return rd_err(r, r->base, "cannot read: %s", strerror(errno));
			} else {
				r->ilen = r->nmem - r->offmem < r->icap ? r->nmem - r->offmem : r->icap;
				memcpy(r->ibuf, r->mem + r->offmem, r->ilen);
				r->offmem += r->ilen;
			}
			r->ipos = 0;
			if (!r->ilen)
				r->eof = true;
			else
				r->started = true;
		}
		if (r->ipos == r->ilen) {
			if (!r->started)
				return rd_err(r, 0, "empty file, not a zstd-compressed trace");
			if (r->zleft)
				return rd_err(r, r->base, "the compressed stream is cut short after "
					      "%llu decompressed bytes (truncated file?)",
					      (unsigned long long)(r->base + r->wlen));
			return 0;
		}
		in = (ZSTD_inBuffer){ r->ibuf, r->ilen, r->ipos };
		rc = ZSTD_decompressStream(r->ds, &out, &in);
		r->ipos = in.pos;
		if (ZSTD_isError(rc)) {
			if (r->base == 0 && r->wlen == 0 && out.pos == 0)
				return rd_err(r, 0, "not a zstd-compressed trace: %s",
					      ZSTD_getErrorName(rc));
			return rd_err(r, r->base, "corrupt compressed data: %s", ZSTD_getErrorName(rc));
		}
		r->zleft = rc;
		if (out.pos > r->wlen) {
			r->wlen = out.pos;
			return 1;
		}
	}
}

/* Make @n bytes available at w[0].  Return: 1 yes, 0 the stream ended first, -1 error. */
static int rd_need(struct sim_trace_reader *r, size_t n)
{
	while (r->wlen < n) {
		int rc = rd_more(r);

		if (rc <= 0)
			return rc;
	}
	return 1;
}

static void rd_drop(struct sim_trace_reader *r, size_t n)
{
	r->w += n;
	r->wlen -= n;
	r->base += n;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* A cursor over one record's body. */
struct rec {
	const unsigned char *p;
	size_t n, at;
	bool bad;
};

static uint8_t rec_u8(struct rec *c)
{
	if (c->bad || c->n - c->at < 1) {
		c->bad = true;
		return 0;
	}
	return c->p[c->at++];
}

static uint32_t rec_u32(struct rec *c)
{
	if (c->bad || c->n - c->at < 4) {
		c->bad = true;
		return 0;
	}
	c->at += 4;
	return get_u32(c->p + c->at - 4);
}

static uint64_t rec_u64(struct rec *c)
{
	if (c->bad || c->n - c->at < 8) {
		c->bad = true;
		return 0;
	}
	c->at += 8;
	return get_u64(c->p + c->at - 8);
}

static struct sim_trace_str rec_str(struct rec *c)
{
	struct sim_trace_str s = { "", 0 };
	uint32_t n = rec_u32(c);

	if (c->bad || c->n - c->at < n) {
		c->bad = true;
		return s;
	}
	s.p = (const char *)c->p + c->at;
	s.n = n;
	c->at += n;
	return s;
}

/* A NUL-terminated copy of @s, kept until the next record. */
static const char *rd_copy(struct sim_trace_reader *r, struct sim_trace_str s)
{
	char *p = sim_xcalloc(1, (size_t)s.n + 1);

	memcpy(p, s.p, s.n);
	if (r->nstrs == r->strcap) {
		r->strcap = r->strcap ? 2 * r->strcap : 16;
		r->strs = sim_xrealloc(r->strs, r->strcap * sizeof(*r->strs));
	}
	r->strs[r->nstrs++] = p;
	return p;
}

static void rd_free_strs(struct sim_trace_reader *r)
{
	for (size_t i = 0; i < r->nstrs; i++)
		free(r->strs[i]);
	r->nstrs = 0;
}

static const char *const rec_names[] = {
	[SIM_TRACE_AGENT] = "agent", [SIM_TRACE_OP] = "op", [SIM_TRACE_EXIT] = "exit",
	[SIM_TRACE_END] = "end", [SIM_TRACE_CONFIG] = "config", [SIM_TRACE_ACCESS] = "access",
};

/* Read the key/value pairs of an op or config record into r->kv (copies). */
static void rd_pairs(struct sim_trace_reader *r, struct rec *c, struct sim_trace_rec *out)
{
	uint32_t n = rec_u32(c);

	out->nkv = 0;
	/* each pair takes at least 8 bytes: a count beyond that is cut short below */
	if (!c->bad && n > (c->n - c->at) / 8) {
		c->bad = true;
		return;
	}
	if (n > r->kvcap) {
		r->kvcap = n;
		r->kv = sim_xrealloc(r->kv, r->kvcap * sizeof(*r->kv));
	}
	for (uint32_t i = 0; i < n && !c->bad; i++) {
		struct sim_trace_str k = rec_str(c), v = rec_str(c);

		if (c->bad)
			break;
		r->kv[i].key = rd_copy(r, k);
		r->kv[i].val = rd_copy(r, v);
		out->nkv = i + 1;
	}
	out->kv = r->kv;
}

/* Decode the body of a record of @type into @out.  0, or -1 with the error. */
static int rd_decode(struct sim_trace_reader *r, uint8_t type, struct rec *c,
		     struct sim_trace_rec *out)
{
	switch (type) {
	case SIM_TRACE_AGENT:
		out->agent = rec_u32(c);
		out->name = rec_str(c);
		if (!c->bad && out->agent < SIM_TRACE_MAX_AGENTS) {
			uint32_t id = out->agent;

			if (id >= r->nagents) {
				r->agents = sim_xrealloc(r->agents, (id + 1) * sizeof(*r->agents));
				memset(r->agents + r->nagents, 0, (id + 1 - r->nagents) * sizeof(*r->agents));
				r->nagents = id + 1;
			}
			free(r->agents[id]);
			r->agents[id] = sim_xcalloc(1, (size_t)out->name.n + 1);
			memcpy(r->agents[id], out->name.p, out->name.n);
			for (uint32_t i = 0; i < out->name.n; i++)
				if (r->agents[id][i] < 0x21 || r->agents[id][i] > 0x7e)
					r->agents[id][i] = '?';
		}
		break;
	case SIM_TRACE_OP:
		out->agent = rec_u32(c);
		out->t0 = rec_u64(c);
		out->t1 = rec_u64(c);
		out->line = rec_u32(c);
		out->name = rec_str(c);
		out->args = rec_str(c);
		out->result = rec_str(c);
		out->kv_at = c->at;
		rd_pairs(r, c, out);
		break;
	case SIM_TRACE_EXIT:
		out->agent = rec_u32(c);
		out->t0 = rec_u64(c);
		out->t1 = rec_u64(c);
		out->reason = rec_u32(c);
		out->name = rec_str(c);
		out->pc = rec_u64(c);
		out->gpa = rec_u64(c);
		out->info = rec_u64(c);
		break;
	case SIM_TRACE_CONFIG:
		out->kv_at = c->at;
		rd_pairs(r, c, out);
		break;
	case SIM_TRACE_ACCESS:
		out->kind = rec_u8(c);
		out->va = rec_u64(c);
		out->size = rec_u32(c);
		break;
	default:
		return rd_err(r, r->base, "unknown record type %u", (unsigned)type);
	}
	if (c->bad)
		return rd_err(r, r->base, "%s record: a field runs past the record's %zu bytes",
			      rec_names[type], c->n + 1);
	if (c->at != c->n)
		return rd_err(r, r->base, "%zu bytes after the last field of the record",
			      c->n - c->at);
	/* the rules between and within records */
	switch (type) {
	case SIM_TRACE_CONFIG:
		if (r->seen_config)
			return rd_err(r, r->base, "a second config record");
		if (r->seen_other)
			return rd_err(r, r->base, "a config record after the first agent, op, exit "
				      "or access record");
		r->seen_config = true;
		break;
	case SIM_TRACE_ACCESS:
		if (out->kind > SIM_TRACE_MODIFY)
			return rd_err(r, r->base, "access record: kind %u (0..3: fetch, load, store, "
				      "modify)", (unsigned)out->kind);
		if (out->size < 1 || out->size > SIM_TRACE_ACCESS_MAX)
			return rd_err(r, r->base, "access record: size %u (1..%u)",
				      (unsigned)out->size, SIM_TRACE_ACCESS_MAX);
		/* fall through */
	default:
		r->seen_other = true;
		break;
	}
	return 0;
}

static int rd_header(struct sim_trace_reader *r)
{
	int rc = rd_need(r, 12);

	if (rc < 0)
		return -1;
	if (rc == 0 || memcmp(r->w, trace_magic, 8))
		return rd_err(r, 0, "not a protsim trace (no PROTSIMT header)");
	if (get_u32(r->w + 8) != SIM_TRACE_VERSION)
		return rd_err(r, 8, "format version %u: this protsim reads version %u",
			      (unsigned)get_u32(r->w + 8), SIM_TRACE_VERSION);
	rd_drop(r, 12);
	r->header = true;
	return 0;
}

int sim_trace_next(struct sim_trace_reader *r, struct sim_trace_rec *out, struct sim_err *err)
{
	struct rec c;
	uint32_t n;
	uint8_t type;
	int rc;

	r->err = err;
	memset(out, 0, sizeof(*out));
	rd_free_strs(r);
	if (r->done)
		return sim_err_set(err, "%s: read past the end or an error", r->name);
	if (!r->header && rd_header(r))
		return -1;
	rd_drop(r, r->held);
	r->held = 0;
	rc = rd_need(r, 4);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return r->wlen ? rd_err(r, r->base, "a record's size is cut short (%zu of 4 bytes)",
					r->wlen) :
			rd_err(r, r->base, "no end record: the trace is cut short");
	n = get_u32(r->w);
	if (n < 1 || n > SIM_TRACE_MAX_RECORD)
		return rd_err(r, r->base, "record size %u (1..%u)", (unsigned)n,
			      SIM_TRACE_MAX_RECORD);
	rc = rd_need(r, 4 + (size_t)n);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return rd_err(r, r->base, "the record is cut short (%zu of %u bytes)", r->wlen - 4,
			      (unsigned)n);
	type = r->w[4];
	c = (struct rec){ r->w + 5, n - 1, 0, false };
	out->type = type;
	out->offset = r->base;
	out->body = r->w + 5;
	out->body_len = n - 1;
	if (type == SIM_TRACE_END) {
		uint64_t want = rec_u64(&c);

		if (c.bad || c.at != c.n)
			return rd_err(r, r->base, "end record of %u bytes (9)", (unsigned)n);
		if (want != r->count)
			return rd_err(r, r->base, "the end record counts %llu records, "
				      "the trace has %llu", (unsigned long long)want,
				      (unsigned long long)r->count);
		out->count = want;
		r->end_seen = true;
		rd_drop(r, 4 + (size_t)n);
		rc = rd_need(r, 1);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return rd_err(r, r->base, "data after the end record");
		r->done = true;
		return 0;
	}
	r->held = 4 + (size_t)n;
	if (rd_decode(r, type, &c, out))
		return -1;
	r->count++;
	return 1;
}

const char *sim_trace_agent_name(const struct sim_trace_reader *r, uint32_t id)
{
	return id < r->nagents ? r->agents[id] : NULL;
}

const char *sim_trace_reader_name(const struct sim_trace_reader *r)
{
	return r->name;
}

static struct sim_trace_reader *rd_new(const char *name)
{
	struct sim_trace_reader *r = sim_xcalloc(1, sizeof(*r));

	r->name = sim_xstrdup(name);
	return r;
}

static void rd_zstd(struct sim_trace_reader *r)
{
	r->ds = ZSTD_createDStream();
	if (!r->ds)
		sim_fatal("trace: out of memory");
	r->icap = ZSTD_DStreamInSize();
	r->ibuf = sim_xcalloc(1, r->icap);
}

struct sim_trace_reader *sim_trace_reader_open(const char *path, struct sim_err *err)
{
	struct sim_trace_reader *r;
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (f && !fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		fclose(f);
		f = NULL;
		errno = EISDIR;
	}
	if (!f) {
		sim_err_set(err, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	r = rd_new(path);
	r->in = f;
	rd_zstd(r);
	return r;
}

struct sim_trace_reader *sim_trace_reader_mem(const void *buf, size_t n, bool decompressed,
					      const char *name)
{
	struct sim_trace_reader *r = rd_new(name);

	r->mem = buf;
	r->nmem = n;
	r->raw = decompressed;
	if (!decompressed)
		rd_zstd(r);
	return r;
}

void sim_trace_reader_close(struct sim_trace_reader *r)
{
	if (!r)
		return;
	if (r->in)
		fclose(r->in);
	ZSTD_freeDStream(r->ds);
	free(r->ibuf);
	free(r->buf);
	for (size_t i = 0; i < r->nagents; i++)
		free(r->agents[i]);
	free(r->agents);
	rd_free_strs(r);
	free(r->strs);
	free(r->kv);
	free(r->name);
	free(r);
}

const char *const sim_trace_access_kinds[] = { "fetch", "load", "store", "modify", NULL };

/* @s with anything unprintable (and '\\') escaped. */
static void put_str(struct sim_trace_str s, FILE *out)
{
	for (uint32_t i = 0; i < s.n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
}

static void put_agent(const struct sim_trace_reader *r, uint32_t id, FILE *out)
{
	const char *n = sim_trace_agent_name(r, id);

	if (n)
		fputs(n, out);
	else
		fprintf(out, "agent%u", (unsigned)id);
}

/* The pairs of an op or config record, from its body (the raw text, escaped). */
static void put_pairs(const struct sim_trace_rec *rec, FILE *out)
{
	struct rec c = { rec->body, rec->body_len, rec->kv_at, false };
	uint32_t n = rec_u32(&c);

	for (uint32_t i = 0; i < n && !c.bad; i++) {
		struct sim_trace_str k = rec_str(&c), v = rec_str(&c);

		fputc(' ', out);
		put_str(k, out);
		fputc('=', out);
		put_str(v, out);
	}
}

void sim_trace_rec_print(const struct sim_trace_reader *r, const struct sim_trace_rec *rec,
			 FILE *out)
{
	switch (rec->type) {
	case SIM_TRACE_AGENT:
		fprintf(out, "agent %u ", (unsigned)rec->agent);
		put_str(rec->name, out);
		break;
	case SIM_TRACE_OP:
		fprintf(out, "op [%llu,%llu] ", (unsigned long long)rec->t0,
			(unsigned long long)rec->t1);
		put_agent(r, rec->agent, out);
		fprintf(out, " line %u: ", (unsigned)rec->line);
		put_str(rec->name, out);
		if (rec->args.n)
			fputc(' ', out);
		put_str(rec->args, out);
		fputs(" -> ", out);
		put_str(rec->result, out);
		put_pairs(rec, out);
		break;
	case SIM_TRACE_EXIT:
		fprintf(out, "exit [%llu,%llu] ", (unsigned long long)rec->t0,
			(unsigned long long)rec->t1);
		put_agent(r, rec->agent, out);
		fprintf(out, " reason %u ", (unsigned)rec->reason);
		put_str(rec->name, out);
		fprintf(out, " pc=0x%llx gpa=0x%llx info=0x%llx", (unsigned long long)rec->pc,
			(unsigned long long)rec->gpa, (unsigned long long)rec->info);
		break;
	case SIM_TRACE_CONFIG:
		fprintf(out, "config %zu keys", rec->nkv);
		put_pairs(rec, out);
		break;
	case SIM_TRACE_ACCESS:
		fprintf(out, "access %s 0x%llx %u", sim_trace_access_kinds[rec->kind],
			(unsigned long long)rec->va, (unsigned)rec->size);
		break;
	case SIM_TRACE_END:
		fprintf(out, "end %llu records", (unsigned long long)rec->count);
		break;
	default:
		break;
	}
	fputc('\n', out);
}

static int dump(struct sim_trace_reader *r, FILE *out, struct sim_err *err)
{
	struct sim_trace_rec rec;
	int rc;

	if (!r->header && rd_header(r))
		return -1;
	fprintf(out, "trace version %u\n", SIM_TRACE_VERSION);
	while ((rc = sim_trace_next(r, &rec, err)) > 0)
		sim_trace_rec_print(r, &rec, out);
	if (rc == 0 || r->end_seen)   /* the end record, even with data after it */
		sim_trace_rec_print(r, &rec, out);
	return rc < 0 ? -1 : 0;
}

int sim_trace_dump(const char *path, FILE *out, struct sim_err *err)
{
	struct sim_trace_reader *r = sim_trace_reader_open(path, err);
	int rc;

	if (!r)
		return -1;
	r->err = err;
	rc = dump(r, out, err);
	sim_trace_reader_close(r);
	return rc;
}

int sim_trace_dump_mem(const void *buf, size_t n, bool decompressed, const char *name, FILE *out,
		       struct sim_err *err)
{
	struct sim_trace_reader *r = sim_trace_reader_mem(buf, n, decompressed, name);
	int rc;

	r->err = err;
	rc = dump(r, out, err);
	sim_trace_reader_close(r);
	return rc;
}
