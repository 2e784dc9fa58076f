/*
 * script_int.h - internals of the operation-language interpreter, shared
 * by sim/script.c (parser, runner, shell), sim/script_lex.c (words,
 * values, expect matching) and sim/ops_mem.c (the engine ops, declared as
 * sim_core_ops in sim_int.h).  Never included outside sim/ and
 * tests/test_script.c.
 *
 * The language itself is specified in the shared design doc
 * script-language.md and documented as implemented in docs/script.md.
 */
#ifndef PROTSIM_SCRIPT_INT_H
#define PROTSIM_SCRIPT_INT_H

#include "sim/sim_int.h"

/*
 * Largest start cycle an `@CYCLE` prefix may name, and the largest
 * `nop cycles=N`: both keep every agent clock far from 64-bit overflow.
 */
#define SIM_SCRIPT_CYCLE_MAX (1ull << 48)
#define SIM_SCRIPT_NOP_MAX   (1ull << 40)

/* The words of one line, comments removed (see sim_script_split()). */
struct sim_script_words {
	char **w;        /* the words, each NUL-terminated, in order */
	size_t n;        /* number of words */
	char *buf;       /* storage the words point into */
};

/*
 * Split one line into whitespace-separated words, dropping the comment.
 * A word that starts with '#' starts a comment running to the end of the
 * line, except the result word of an `expect` line (the second word when
 * the first is "expect") when its '#' is directly followed by a letter:
 * that is a fault token such as #NPF(RMP).  Whitespace is space, tab,
 * CR, LF, VT and FF.  @w must be released with sim_script_words_free().
 */
void sim_script_split(const char *line, struct sim_script_words *w);
void sim_script_words_free(struct sim_script_words *w);

/*
 * Check @text against an argument's declared type.  On success store the
 * numeric value (U64/SIZE/BOOL: the number; ENUM: the index of the
 * choice; STR: 0) in *@val and return 0.  Otherwise write the rule broken
 * ("'zz' is not a number (decimal or 0x hex)") to @why and return -1.
 */
int sim_script_check_value(const struct sim_arg_spec *spec, const char *text, uint64_t *val,
			   char *why, size_t whylen);

/* One "key=value" pair of a result or an expect line. */
struct sim_script_kv {
	char *key;
	char *val;
};

/*
 * Is @tok a well-formed result token: NAME or NAME(ITEM,...) with a
 * non-empty NAME and the closing parenthesis last?
 */
bool sim_script_token_ok(const char *tok);

/*
 * Do two values compare equal under the expect rules: numerically when
 * both parse as a number or size (gpa=0 == gpa=0x0, size=4k == size=4096),
 * else as case-sensitive text?
 */
bool sim_script_value_eq(const char *want, const char *got);

/*
 * Does the actual result (@got_tok plus @ngot fields) satisfy the expect
 * line (@want_tok plus @nwant fields)?  Token: the part before '(' compares
 * case-insensitively; every item listed in @want_tok's parentheses must
 * appear among @got_tok's (case-insensitive text, or equal numbers, or
 * key=value items with equal keys and values).  Fields: every wanted key
 * must exist (case-sensitive) with an equal value (sim_script_value_eq()).
 */
bool sim_script_expect_ok(const char *want_tok, const struct sim_script_kv *want, size_t nwant,
			  const char *got_tok, const struct sim_script_kv *got, size_t ngot);

#endif /* PROTSIM_SCRIPT_INT_H */
