/*
 * script_call.c - growable strings, and the interface an operation's run
 * function sees (struct sim_call): its arguments, already checked against
 * the op's specs while the script was parsed, and the result it sets.
 */
#include "sim/script_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Growable strings                                                    */
/* ------------------------------------------------------------------ */

void sim_sbuf_vprintf(struct sim_sbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int len;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		sim_fatal("script: bad format '%s'", fmt);
	if (b->n + (size_t)len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->n + (size_t)len + 1)
			cap *= 2;
		b->p = sim_xrealloc(b->p, cap);
		b->cap = cap;
	}
	vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
	b->n += (size_t)len;
}

void sim_sbuf_printf(struct sim_sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sim_sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *sim_sbuf_str(const struct sim_sbuf *b)
{
	return b->p ? b->p : "";
}

void sim_sbuf_free(struct sim_sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* ------------------------------------------------------------------ */
/* The call interface for ops                                          */
/* ------------------------------------------------------------------ */

void sim_script_call_free(struct sim_call *c)
{
	sim_sbuf_free(&c->res);
	for (size_t i = 0; i < c->nkv; i++) {
		free(c->kv[i].key);
		free(c->kv[i].val);
	}
	free(c->kv);
	c->kv = NULL;
	c->nkv = c->kvcap = 0;
	sim_sbuf_free(&c->extra);
	sim_sbuf_free(&c->badmsg);
}

struct sim *sim_call_sim(const struct sim_call *c)
{
	return c->sc->s;
}

struct sim_agent *sim_call_agent(const struct sim_call *c)
{
	return c->agent;
}

/* The argument @key of the line, NULL if not given; @key must be declared. */
static const struct script_arg *call_arg(const struct sim_call *c, const char *key)
{
	const struct sim_op *op = c->line->op;

	for (size_t i = 0; i < c->line->nargs; i++)
		if (strcmp(c->line->args[i].spec->key, key) == 0)
			return &c->line->args[i];
	for (size_t k = 0; op->args && op->args[k].key; k++)
		if (strcmp(op->args[k].key, key) == 0)
			return NULL;
	sim_fatal("script: operation '%s' reads undeclared argument '%s'", op->name, key);
}

bool sim_arg_has(const struct sim_call *c, const char *key)
{
	return call_arg(c, key) != NULL;
}

uint64_t sim_arg_u64(const struct sim_call *c, const char *key, uint64_t def)
{
	const struct script_arg *a = call_arg(c, key);

	if (!a)
		return def;
	if (a->spec->type == SIM_ARG_STR)
		sim_fatal("script: '%s' argument '%s' is text, not a number", c->line->op->name, key);
	return a->val;
}

bool sim_arg_bool(const struct sim_call *c, const char *key, bool def)
{
	const struct script_arg *a = call_arg(c, key);

	if (!a)
		return def;
	if (a->spec->type == SIM_ARG_STR)
		sim_fatal("script: '%s' argument '%s' is text, not a boolean", c->line->op->name,
			  key);
	return a->val != 0;
}

const char *sim_arg_str(const struct sim_call *c, const char *key, const char *def)
{
	const struct script_arg *a = call_arg(c, key);

	return a ? a->text : def;
}

char *sim_arg_path(const struct sim_call *c, const char *key, const char *def)
{
	return sim_path_beside(c->sc->name, sim_arg_str(c, key, def));
}

unsigned sim_arg_enum(const struct sim_call *c, const char *key, unsigned def)
{
	const struct script_arg *a = call_arg(c, key);

	if (!a)
		return def;
	if (a->spec->type != SIM_ARG_ENUM)
		sim_fatal("script: '%s' argument '%s' is not an enum", c->line->op->name, key);
	return (unsigned)a->val;
}

void sim_call_bad_arg(struct sim_call *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (c->bad)
		return;
	c->bad = true;
	sim_sbuf_printf(&c->badmsg, "%s: ", key);
	va_start(ap, fmt);
	sim_sbuf_vprintf(&c->badmsg, fmt, ap);
	va_end(ap);
}

void sim_call_result(struct sim_call *c, const char *fmt, ...)
{
	va_list ap;

	sim_sbuf_free(&c->res);
	va_start(ap, fmt);
	sim_sbuf_vprintf(&c->res, fmt, ap);
	va_end(ap);
	c->has_res = true;
}

static void call_field_v(struct sim_call *c, const char *key, const char *fmt, va_list ap)
{
	struct sim_sbuf v = { 0 };

	sim_sbuf_vprintf(&v, fmt, ap);
	if (c->nkv == c->kvcap) {
		c->kvcap = c->kvcap ? 2 * c->kvcap : 8;
		c->kv = sim_xrealloc(c->kv, c->kvcap * sizeof(*c->kv));
	}
	c->kv[c->nkv].key = sim_xstrdup(key);
	c->kv[c->nkv].val = v.p ? v.p : sim_xstrdup("");
	c->nkv++;
}

void sim_call_field(struct sim_call *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_field_v(c, key, fmt, ap);
	va_end(ap);
}

void sim_call_field_hex(struct sim_call *c, const char *key, uint64_t v)
{
	sim_call_field(c, key, "0x%llx", (unsigned long long)v);
}

void sim_call_field_u64(struct sim_call *c, const char *key, uint64_t v)
{
	sim_call_field(c, key, "%llu", (unsigned long long)v);
}

void sim_call_printf(struct sim_call *c, const char *fmt, ...)
{
	struct sim_sbuf t = { 0 };
	const char *p;
	va_list ap;

	va_start(ap, fmt);
	sim_sbuf_vprintf(&t, fmt, ap);
	va_end(ap);
	/* Each line of the text becomes one "  "-prefixed output line. */
	p = sim_sbuf_str(&t);
	for (;;) {
		const char *nl = strchr(p, '\n');

		if (!nl) {
			if (*p || p == sim_sbuf_str(&t))
				sim_sbuf_printf(&c->extra, "  %s\n", p);
			break;
		}
		sim_sbuf_printf(&c->extra, "  %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
	sim_sbuf_free(&t);
}
