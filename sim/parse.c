/*
 * parse.c - names, numbers, sizes and booleans as the configuration and
 * the operation language spell them, and quoting of user text in
 * messages.
 */
#include "sim/config_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Names and number parsing                                            */
/* ------------------------------------------------------------------ */

/* A dotted name: words of [A-Za-z0-9_-] separated by single dots. */
bool cfg_name_ok(const char *p, size_t len)
{
	bool word = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (ch == '.') {
			if (!word)
				return false;
			word = false;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
			word = true;
		} else {
			return false;
		}
	}
	return word;
}

/* Digits of @base from @p; 0 ok, -1 not a number, -2 overflow. */
static int cfg_digits(const char *p, size_t len, unsigned base, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		char ch = p[i];

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -2;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* Decimal or 0x hex, the whole of p[0..len). 0, -1 bad, -2 overflow. */
int cfg_number(const char *p, size_t len, uint64_t *out)
{
	if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return cfg_digits(p + 2, len - 2, 16, out);
	return cfg_digits(p, len, 10, out);
}

int cfg_size(const char *p, uint64_t *out)
{
	size_t len = strlen(p);
	unsigned shift = 0;
	uint64_t v;
	int rc;

	if (len > 1) {
		switch (p[len - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: break;
		}
	}
	if (shift)
		len--;
	rc = cfg_number(p, len, &v);
	if (rc)
		return rc;
	if (shift && v > (UINT64_MAX >> shift))
		return -2;
	*out = v << shift;
	return 0;
}

int sim_parse_u64(const char *text, uint64_t *out)
{
	uint64_t v;

	if (!text || cfg_number(text, strlen(text), &v))
		return -1;
	*out = v;
	return 0;
}

int sim_parse_size(const char *text, uint64_t *out)
{
	uint64_t v;

	if (!text || cfg_size(text, &v))
		return -1;
	*out = v;
	return 0;
}

/* The script language's booleans: exactly 0 or 1. */
int sim_parse_bool(const char *text, bool *out)
{
	if (!text || (strcmp(text, "0") && strcmp(text, "1")))
		return -1;
	*out = text[0] == '1';
	return 0;
}

/* Config booleans: 0/1, true/false, on/off, yes/no (any case). */
int cfg_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "1", "true", "on", "yes" };
	static const char *const no[] = { "0", "false", "off", "no" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(text, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(text, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/*
 * A number for messages and the reference: SIZE values with the largest
 * exact suffix (4k, 2m, 16g), other values in decimal below 2^32 and in
 * hex above (addresses, masks).
 */
const char *cfg_fmt_num(enum sim_cfg_type t, uint64_t v, char buf[32])
{
	static const char sfx[] = "kmgt";

	if (t == SIM_CFG_SIZE && v) {
		int i;

		for (i = 4; i >= 1; i--) {
			unsigned sh = 10u * (unsigned)i;

			if ((v & ((1ull << sh) - 1)) == 0) {
				snprintf(buf, 32, "%llu%c", (unsigned long long)(v >> sh), sfx[i - 1]);
				return buf;
			}
		}
	}
	if (v >> 32)
		snprintf(buf, 32, "0x%llx", (unsigned long long)v);
	else
		snprintf(buf, 32, "%llu", (unsigned long long)v);
	return buf;
}

/*
 * Append one byte of @ch to @out as printed in a message; return the
 * characters written.
 */
static size_t quote_char(unsigned char ch, char *out)
{
	switch (ch) {
	case '\n': return (size_t)sprintf(out, "\\n");
	case '\t': return (size_t)sprintf(out, "\\t");
	case '\r': return (size_t)sprintf(out, "\\r");
	case '\\': return (size_t)sprintf(out, "\\\\");
	case '\'': return (size_t)sprintf(out, "\\'");
	default:
		if (ch < 0x20 || ch >= 0x7f)
			return (size_t)sprintf(out, "\\x%02x", ch);
		out[0] = (char)ch;
		out[1] = 0;
		return 1;
	}
}

const char *sim_quote(const char *text, char buf[SIM_QUOTE_MAX])
{
	enum { SHOW = 60, CUT = 57 };
	size_t n = 1, shown = 0;

	buf[0] = '\'';
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char one[8];
		size_t l = quote_char(*p, one);

		if (shown + l > CUT) {
			/* Does the rest fit in SHOW?  Then show it all. */
			size_t rest = shown;

			for (const unsigned char *r = p; *r && rest <= SHOW; r++)
				rest += quote_char(*r, one);
			if (rest <= SHOW) {
				for (; *p; p++)
					n += quote_char(*p, buf + n);
			} else {
				memcpy(buf + n, "...", 3);
				n += 3;
			}
			break;
		}
		memcpy(buf + n, one, l);
		n += l;
		shown += l;
	}
	buf[n++] = '\'';
	buf[n] = 0;
	return buf;
}
