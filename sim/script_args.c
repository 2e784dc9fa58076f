/*
 * script_args.c - the argument types of the operation language: checking
 * a value against its spec (one checker for every module, so that every
 * op's messages read the same), checking the specs themselves, and the
 * usage line generated from an op's argument table.  No simulator state.
 */
#include "sim/script_int.h"

#include <stdlib.h>
#include <string.h>

/* Is @v a power of two? */
static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* log2 of a power of two. */
static unsigned log2_pow2(uint64_t v)
{
	unsigned k = 0;

	while (v >>= 1)
		k++;
	return k;
}

/*
 * A bound for messages and usage lines.  A number: 2^K or 2^K-1 when it is
 * one of those and at least 2^16, else decimal.  A size: with the largest
 * exact k/m/g/t suffix, else decimal.
 */
static const char *fmt_bound(uint64_t v, bool size, char buf[32])
{
	static const char sfx[] = "kmgt";

	if (size) {
		for (int i = 4; i >= 1; i--) {
			unsigned sh = 10u * (unsigned)i;

			if (v >> sh && (v & ((1ull << sh) - 1)) == 0) {
				snprintf(buf, 32, "%llu%c", (unsigned long long)(v >> sh), sfx[i - 1]);
				return buf;
			}
		}
	} else if (v >= (1ull << 16) && is_pow2(v)) {
		snprintf(buf, 32, "2^%u", log2_pow2(v));
		return buf;
	} else if (v >= (1ull << 16) - 1 && (v == UINT64_MAX || is_pow2(v + 1))) {
		snprintf(buf, 32, "2^%u-1", v == UINT64_MAX ? 64u : log2_pow2(v + 1));
		return buf;
	}
	snprintf(buf, 32, "%llu", (unsigned long long)v);
	return buf;
}

/* A size of a SIZESET or an alignment: 1, 8, 4k, 2m, 1g. */
static const char *fmt_size(uint64_t v, char buf[32])
{
	return fmt_bound(v, true, buf);
}

/* Append "a|b|c" (the sizes of @set, smallest first) to @why at @used. */
static size_t put_sizes(uint64_t set, char *why, size_t whylen, size_t used)
{
	bool first = true;
	char b[32];

	for (unsigned k = 0; k < 64 && used < whylen; k++) {
		if (!(set & (1ull << k)))
			continue;
		used += (size_t)snprintf(why + used, whylen - used, "%s%s", first ? "" : "|",
					 fmt_size(1ull << k, b));
		first = false;
	}
	return used;
}

/* Does @v lie in [min, max] (@max 0 = no upper limit when @open)? */
static bool in_range(const struct sim_arg_spec *spec, uint64_t v, bool open)
{
	return v >= spec->min && (v <= spec->max || (open && spec->max == 0));
}

static int range_why(const struct sim_arg_spec *spec, const char *text, bool size, char *why,
		     size_t whylen)
{
	char a[32], b[32], q[SIM_QUOTE_MAX];

	if (size && spec->max == 0)
		snprintf(why, whylen, "%s is not at least %s", sim_script_show(text, q),
			 fmt_bound(spec->min, true, a));
	else
		snprintf(why, whylen, "%s is not in %s..%s", sim_script_show(text, q),
			 fmt_bound(spec->min, size, a), fmt_bound(spec->max, size, b));
	return -1;
}

static int check_perms(const struct sim_arg_spec *spec, const char *text, uint64_t *val,
		       char *why, size_t whylen)
{
	char q[SIM_QUOTE_MAX];
	size_t used;

	if (strcmp(text, "none") == 0)
		return 0;
	for (const char *p = text; *p; p++) {
		const char *at = strchr(spec->letters, *p);
		uint64_t bit;

		if (!at)
			goto bad;
		bit = 1ull << (at - spec->letters);
		if (*val & bit)
			goto bad;
		*val |= bit;
	}
	if (*val)
		return 0;
bad:
	*val = 0;
	used = (size_t)snprintf(why, whylen, "%s is not none or letters from ",
				sim_quote(text, q));
	for (const char *p = spec->letters; *p && used < whylen; p++)
		used += (size_t)snprintf(why + used, whylen - used, "%s%c",
					 p == spec->letters ? "" : ", ", *p);
	if (used < whylen)
		snprintf(why + used, whylen - used, " (each at most once)");
	return -1;
}

int sim_script_check_value(const struct sim_arg_spec *spec, const char *text, uint64_t *val,
			   char *why, size_t whylen)
{
	char b[32], q[SIM_QUOTE_MAX];
	bool bv;

	*val = 0;
	switch (spec->type) {
	case SIM_ARG_U64:
	case SIM_ARG_INT:
	case SIM_ARG_ADDR:
		if (sim_parse_u64(text, val) != 0) {
			snprintf(why, whylen,
				 "%s is not a number (decimal or 0x hex, at most 64 bits)",
				 sim_quote(text, q));
			return -1;
		}
		if (spec->type == SIM_ARG_INT && !in_range(spec, *val, false))
			return range_why(spec, text, false, why, whylen);
		if (spec->type == SIM_ARG_ADDR && *val >= SIM_PA_LIMIT) {
			snprintf(why, whylen, "%s is not below 2^%u", sim_script_show(text, q),
				 SIM_PA_BITS);
			return -1;
		}
		if (spec->type == SIM_ARG_ADDR && spec->align > 1 && (*val & (spec->align - 1))) {
			snprintf(why, whylen, "%s is not %s-aligned", sim_script_show(text, q),
				 fmt_size(spec->align, b));
			return -1;
		}
		return 0;
	case SIM_ARG_SIZE:
	case SIM_ARG_SIZESET:
		if (sim_parse_size(text, val) != 0) {
			snprintf(why, whylen, "%s is not a size (bytes, or 4k/2m/1g)",
				 sim_quote(text, q));
			return -1;
		}
		if (spec->type == SIM_ARG_SIZE && !in_range(spec, *val, true))
			return range_why(spec, text, true, why, whylen);
		if (spec->type == SIM_ARG_SIZESET && !(is_pow2(*val) && (*val & spec->sizes))) {
			size_t used = (size_t)snprintf(why, whylen, "%s is not one of ",
							 sim_script_show(text, q));

			put_sizes(spec->sizes, why, whylen, used);
			return -1;
		}
		return 0;
	case SIM_ARG_BOOL:
		if (sim_parse_bool(text, &bv) == 0) {
			*val = bv;
			return 0;
		}
		snprintf(why, whylen, "%s is not 0 or 1", sim_quote(text, q));
		return -1;
	case SIM_ARG_ENUM: {
		size_t used;

		for (unsigned i = 0; spec->choices && spec->choices[i]; i++) {
			if (strcmp(text, spec->choices[i]) == 0) {
				*val = i;
				return 0;
			}
		}
		used = (size_t)snprintf(why, whylen, "%s is not one of ", sim_quote(text, q));
		for (unsigned i = 0; spec->choices && spec->choices[i] && used < whylen; i++)
			used += (size_t)snprintf(why + used, whylen - used, "%s%s", i ? "|" : "",
						 spec->choices[i]);
		return -1;
	}
	case SIM_ARG_PERMS:
		return check_perms(spec, text, val, why, whylen);
	case SIM_ARG_STR:
		return 0;
	}
	sim_fatal("script: argument '%s' has bad type %d", spec->key, (int)spec->type);
}

void sim_script_check_specs(const struct sim_op *op)
{
	for (const struct sim_arg_spec *a = op->args; a && a->key; a++) {
		const char *k = a->key;

		if (!*k || strpbrk(k, "= \t\r\n\v\f#"))
			sim_fatal("script: '%s': argument key '%s' is not a word without '=' or '#'",
				  op->name, k);
		for (const struct sim_arg_spec *b = op->args; b != a; b++)
			if (strcmp(b->key, k) == 0)
				sim_fatal("script: '%s': argument '%s' is declared twice", op->name, k);
		switch (a->type) {
		case SIM_ARG_U64:
		case SIM_ARG_BOOL:
		case SIM_ARG_STR:
			break;
		case SIM_ARG_ENUM:
			if (!a->choices || !a->choices[0])
				sim_fatal("script: '%s': enum '%s' has no choices", op->name, k);
			break;
		case SIM_ARG_INT:
			if (a->min > a->max)
				sim_fatal("script: '%s': '%s' has min > max", op->name, k);
			break;
		case SIM_ARG_SIZE:
			if (a->max && a->min > a->max)
				sim_fatal("script: '%s': '%s' has min > max", op->name, k);
			break;
		case SIM_ARG_ADDR:
			if (a->align && (!is_pow2(a->align) || a->align >= SIM_PA_LIMIT))
				sim_fatal("script: '%s': '%s' has a bad alignment 0x%llx", op->name, k,
					  (unsigned long long)a->align);
			break;
		case SIM_ARG_SIZESET:
			if (!a->sizes)
				sim_fatal("script: '%s': '%s' allows no size", op->name, k);
			break;
		case SIM_ARG_PERMS: {
			size_t n = a->letters ? strlen(a->letters) : 0;

			if (!n || n > 63)
				sim_fatal("script: '%s': '%s' has no letters", op->name, k);
			for (size_t i = 0; i < n; i++) {
				char ch = a->letters[i];

				if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) ||
				    strchr(a->letters + i + 1, ch))
					sim_fatal("script: '%s': '%s' has bad letters '%s'", op->name,
						  k, a->letters);
			}
			break;
		}
		default:
			sim_fatal("script: '%s': argument '%s' has bad type %d", op->name, k,
				  (int)a->type);
		}
	}
}

/* The value placeholder of @a in a usage line. */
static void usage_value(const struct sim_arg_spec *a, struct sim_sbuf *b)
{
	char x[32], y[32], set[256];

	if (a->meta) {
		sim_sbuf_printf(b, "%s", a->meta);
		return;
	}
	switch (a->type) {
	case SIM_ARG_U64:
		sim_sbuf_printf(b, "N");
		return;
	case SIM_ARG_INT:
		if (a->max - a->min <= 255)
			sim_sbuf_printf(b, "%s..%s", fmt_bound(a->min, false, x),
					fmt_bound(a->max, false, y));
		else
			sim_sbuf_printf(b, "N");
		return;
	case SIM_ARG_ADDR:
		sim_sbuf_printf(b, "ADDR");
		return;
	case SIM_ARG_SIZE:
		sim_sbuf_printf(b, "SIZE");
		return;
	case SIM_ARG_SIZESET:
		put_sizes(a->sizes, set, sizeof(set), 0);
		sim_sbuf_printf(b, "%s", set);
		return;
	case SIM_ARG_BOOL:
		sim_sbuf_printf(b, "0|1");
		return;
	case SIM_ARG_ENUM:
		for (unsigned i = 0; a->choices && a->choices[i]; i++)
			sim_sbuf_printf(b, "%s%s", i ? "|" : "", a->choices[i]);
		return;
	case SIM_ARG_PERMS:
		sim_sbuf_printf(b, "PERMS");
		return;
	case SIM_ARG_STR:
		sim_sbuf_printf(b, "TEXT");
		return;
	}
	sim_sbuf_printf(b, "?");
}

const char *sim_op_usage(const struct sim_op *op, char *buf, size_t len)
{
	struct sim_sbuf b = { 0 };

	sim_sbuf_printf(&b, "%s", op->name);
	for (const struct sim_arg_spec *a = op->args; a && a->key; a++) {
		sim_sbuf_printf(&b, " %s%s=", a->required ? "" : "[", a->key);
		usage_value(a, &b);
		if (!a->required)
			sim_sbuf_printf(&b, "]");
	}
	if (len)
		snprintf(buf, len, "%s", sim_sbuf_str(&b));
	sim_sbuf_free(&b);
	return buf;
}
