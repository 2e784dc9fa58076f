/*
 * script_lex.c - the lexical half of the operation language: splitting a
 * line into words, the shape of result tokens, and the matching rules of
 * `expect`.  (Argument values are checked in script_args.c.)  No
 * simulator state here.
 */
#include "sim/script_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool lex_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static bool lex_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

void sim_script_split(const char *line, struct sim_script_words *w)
{
	size_t len = strlen(line), cap = len / 2 + 1, o = 0;
	const char *p = line;

	w->n = 0;
	w->buf = malloc(len + 1);
	w->w = malloc(cap * sizeof(*w->w));
	if (!w->buf || !w->w)
		sim_fatal("script: out of memory");
	for (;;) {
		while (*p && lex_space(*p))
			p++;
		if (!*p)
			break;
		/* '#' opens a comment, but `expect #NPF(...)` names a fault. */
		if (*p == '#' && !(w->n == 1 && strcmp(w->w[0], "expect") == 0 && lex_alpha(p[1])))
			break;
		w->w[w->n++] = w->buf + o;
		while (*p && !lex_space(*p))
			w->buf[o++] = *p++;
		w->buf[o++] = '\0';
	}
	/* Scripts can be long: keep only what the words need. */
	if (w->n + 1 < cap) {
		char **shrunk = realloc(w->w, (w->n ? w->n : 1) * sizeof(*w->w));

		if (shrunk)
			w->w = shrunk;
	}
}

void sim_script_words_free(struct sim_script_words *w)
{
	free(w->w);
	free(w->buf);
	w->w = NULL;
	w->buf = NULL;
	w->n = 0;
}

const char *sim_script_show(const char *text, char buf[SIM_QUOTE_MAX])
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < ' ' || *p >= 0x7f || *p == '\'' || *p == '\\' || ++n > 60)
			return sim_quote(text, buf);
	return n ? text : sim_quote(text, buf);
}

bool sim_script_token_ok(const char *tok)
{
	const char *open = strchr(tok, '(');
	size_t len = strlen(tok);

	if (len == 0 || open == tok)
		return false;
	if (!open)
		return strchr(tok, ')') == NULL;
	/* One pair, closing last: NAME(ITEM,...) */
	return tok[len - 1] == ')' && strchr(open + 1, '(') == NULL &&
	       strchr(open, ')') == tok + len - 1;
}

bool sim_script_value_eq(const char *want, const char *got)
{
	uint64_t a, b;

	if (sim_parse_size(want, &a) == 0 && sim_parse_size(got, &b) == 0)
		return a == b;
	return strcmp(want, got) == 0;
}

/* Length of the NAME part of a token (up to '(' or the end). */
static size_t tok_name_len(const char *tok)
{
	const char *open = strchr(tok, '(');

	return open ? (size_t)(open - tok) : strlen(tok);
}

/*
 * Two items of a parenthesised list, each given as (pointer, length):
 * equal as case-insensitive text, as numbers, or as key=value pairs with
 * equal keys (case-insensitive) and equal values (numbers or
 * case-insensitive text).
 */
static bool item_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	char x[128], y[128];
	char *xe, *ye;
	uint64_t u, v;

	if (alen == blen && strncasecmp(a, b, alen) == 0)
		return true;
	if (alen >= sizeof(x) || blen >= sizeof(y))
		return false;
	memcpy(x, a, alen);
	x[alen] = '\0';
	memcpy(y, b, blen);
	y[blen] = '\0';
	xe = strchr(x, '=');
	ye = strchr(y, '=');
	if (!xe && !ye)
		return sim_parse_size(x, &u) == 0 && sim_parse_size(y, &v) == 0 && u == v;
	if (!xe || !ye)
		return false;
	*xe++ = '\0';
	*ye++ = '\0';
	if (strcasecmp(x, y) != 0)
		return false;
	if (sim_parse_size(xe, &u) == 0 && sim_parse_size(ye, &v) == 0)
		return u == v;
	return strcasecmp(xe, ye) == 0;
}

/* Is the item want[0..wlen) among the items of @got_items ("A,B,C")? */
static bool item_in(const char *want, size_t wlen, const char *got_items, size_t glen)
{
	const char *p = got_items, *end = got_items + glen;

	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *ie = comma ? comma : end;

		if (item_eq(want, wlen, p, (size_t)(ie - p)))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

static bool token_match(const char *want, const char *got)
{
	size_t wn = tok_name_len(want), gn = tok_name_len(got);
	const char *wi, *gi, *p, *wend;
	size_t gl;

	if (wn != gn || strncasecmp(want, got, wn) != 0)
		return false;
	if (!want[wn])
		return true;           /* no items asked for */
	wi = want + wn + 1;
	wend = want + strlen(want) - 1;  /* the ')' */
	if (!got[gn]) {
		/* NAME() asks for nothing; NAME(X) needs items. */
		return wi == wend;
	}
	gi = got + gn + 1;
	gl = strlen(gi);
	if (gl && gi[gl - 1] == ')')
		gl--;
	for (p = wi; p < wend;) {
		const char *comma = memchr(p, ',', (size_t)(wend - p));
		const char *ie = comma ? comma : wend;

		if (ie > p && !item_in(p, (size_t)(ie - p), gi, gl))
			return false;
		p = comma ? comma + 1 : wend;
	}
	return true;
}

bool sim_script_expect_ok(const char *want_tok, const struct sim_script_kv *want, size_t nwant,
			  const char *got_tok, const struct sim_script_kv *got, size_t ngot)
{
	if (!token_match(want_tok, got_tok))
		return false;
	for (size_t i = 0; i < nwant; i++) {
		size_t j;

		for (j = 0; j < ngot; j++)
			if (strcmp(want[i].key, got[j].key) == 0)
				break;
		if (j == ngot || !sim_script_value_eq(want[i].val, got[j].val))
			return false;
	}
	return true;
}
