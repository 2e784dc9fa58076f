/*
 * test_config.c - the configuration registry: parsing, every error
 * message, INI files, precedence, profiles, the reference and JSON.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim_int.h"

/* config.c helpers not (yet) in sim_int.h. */
int sim_cfg_error(const struct sim *s, const char *key, struct sim_err *err,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
bool sim_cfg_has_key(const struct sim *s, const char *key);

static const char *const modes[] = { "contiguous", "segmented", "off", NULL };

static const struct sim_cfg_key tst_keys[] = {
	{ "tst.count", SIM_CFG_U64, 1, 65536, "8", NULL, "a count" },
	{ "tst.addr", SIM_CFG_U64, 0, UINT64_MAX, "0x100000", NULL, "an address" },
	{ "tst.size", SIM_CFG_SIZE, 4096, 1ull << 40, "2m", NULL, "a size | with a bar" },
	{ "tst.flag", SIM_CFG_BOOL, 0, 1, "off", NULL, "a flag" },
	{ "tst.mode", SIM_CFG_ENUM, 0, 0, "contiguous", modes, "a mode" },
	{ "tst.name", SIM_CFG_STR, 0, 0, "", NULL, "a name" },
	{ "tst.least", SIM_CFG_U64, 10, UINT64_MAX, "10", NULL, "at least ten" },
	{ "tst.most", SIM_CFG_U64, 0, 100, "5", NULL, "at most a hundred" },
	{ "lat.tst.op", SIM_CFG_U64, 0, 100000, NULL, NULL, "cycles of one op" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static const struct sim_module tst_module = { .name = "tst", .keys = tst_keys };
static const struct sim_module *const tst_modules[] = { &tst_module, NULL };

static struct sim *tsim(void)
{
	return sim_new(tst_modules);
}

/* ------------------------------------------------------------------ */
/* Parse helpers                                                       */
/* ------------------------------------------------------------------ */

/*
 * Criterion copies parameters into a freshly exec'd child (PIE, ASLR):
 * parameter structs hold text in arrays, never pointers.
 */
struct parse_case {
	char text[32];
	int rc_u64;        /* sim_parse_u64 */
	uint64_t u64;
	int rc_size;       /* sim_parse_size */
	uint64_t size;
};

static struct parse_case parse_cases[] = {
	{ "0", 0, 0, 0, 0 },
	{ "42", 0, 42, 0, 42 },
	{ "007", 0, 7, 0, 7 },
	{ "0x10", 0, 16, 0, 16 },
	{ "0XfF", 0, 255, 0, 255 },
	{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
	{ "0xffffffffffffffff", 0, UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", -1, 0, -1, 0 },
	{ "0x10000000000000000", -1, 0, -1, 0 },
	{ "4k", -1, 0, 0, 4096 },
	{ "4K", -1, 0, 0, 4096 },
	{ "2m", -1, 0, 0, 2u << 20 },
	{ "1G", -1, 0, 0, 1u << 30 },
	{ "16g", -1, 0, 0, 16ull << 30 },
	{ "2t", -1, 0, 0, 2ull << 40 },
	{ "0x10k", -1, 0, 0, 16 * 1024 },
	{ "16777216t", -1, 0, -1, 0 },     /* 2^24 * 2^40 overflows */
	{ "16777215t", -1, 0, 0, 16777215ull << 40 },
	{ "", -1, 0, -1, 0 },
	{ "k", -1, 0, -1, 0 },
	{ "0x", -1, 0, -1, 0 },
	{ "-1", -1, 0, -1, 0 },
	{ "+1", -1, 0, -1, 0 },
	{ " 1", -1, 0, -1, 0 },
	{ "1 ", -1, 0, -1, 0 },
	{ "4kb", -1, 0, -1, 0 },
	{ "4p", -1, 0, -1, 0 },
	{ "1.5", -1, 0, -1, 0 },
	{ "0x1g", -1, 0, 0, 1ull << 30 },
};

ParameterizedTestParameters(config, parse_numbers)
{
	return cr_make_param_array(struct parse_case, parse_cases,
				   sizeof(parse_cases) / sizeof(parse_cases[0]));
}

ParameterizedTest(struct parse_case *c, config, parse_numbers)
{
	uint64_t v = 12345;

	cr_assert_eq(sim_parse_u64(c->text, &v), c->rc_u64, "u64 '%s'", c->text);
	cr_assert_eq(v, c->rc_u64 ? 12345 : c->u64, "u64 '%s' value", c->text);
	v = 12345;
	cr_assert_eq(sim_parse_size(c->text, &v), c->rc_size, "size '%s'", c->text);
	cr_assert_eq(v, c->rc_size ? 12345 : c->size, "size '%s' value", c->text);
}

Test(config, parse_bool_script_is_0_or_1)
{
	bool b = false;

	cr_assert_eq(sim_parse_bool("1", &b), 0);
	cr_assert(b);
	cr_assert_eq(sim_parse_bool("0", &b), 0);
	cr_assert(!b);
	b = true;
	cr_assert_eq(sim_parse_bool("true", &b), -1);
	cr_assert_eq(sim_parse_bool("2", &b), -1);
	cr_assert_eq(sim_parse_bool("", &b), -1);
	cr_assert_eq(sim_parse_bool("01", &b), -1);
	cr_assert(b, "unchanged on error");
}

/* ------------------------------------------------------------------ */
/* sim_cfg_set: values and every error message                          */
/* ------------------------------------------------------------------ */

struct set_case {
	char key[16];
	char value[96];
	char msg[200];         /* "": accepted */
	char resolved[32];     /* sim_cfg_str after success */
	uint64_t num;          /* sim_cfg_u64 / enum index after success */
};

static struct set_case set_cases[] = {
	/* accepted */
	{ "tst.count", "1", "", "1", 1 },
	{ "tst.count", "65536", "", "65536", 65536 },
	{ "tst.count", "0x10", "", "0x10", 16 },
	{ "tst.addr", "0xffffffffffffffff", "", "0xffffffffffffffff", UINT64_MAX },
	{ "tst.size", "4k", "", "4k", 4096 },
	{ "tst.size", "4096", "", "4096", 4096 },
	{ "tst.size", "16G", "", "16G", 16ull << 30 },
	{ "tst.size", "1t", "", "1t", 1ull << 40 },
	{ "tst.flag", "1", "", "1", 1 },
	{ "tst.flag", "TRUE", "", "TRUE", 1 },
	{ "tst.flag", "on", "", "on", 1 },
	{ "tst.flag", "yes", "", "yes", 1 },
	{ "tst.flag", "0", "", "0", 0 },
	{ "tst.flag", "false", "", "false", 0 },
	{ "tst.flag", "Off", "", "Off", 0 },
	{ "tst.flag", "no", "", "no", 0 },
	{ "tst.mode", "segmented", "", "segmented", 1 },
	{ "tst.mode", "off", "", "off", 2 },
	{ "tst.name", "any text # at all", "", "any text # at all", 0 },
	{ "tst.name", "", "", "", 0 },
	{ "tst.least", "10", "", "10", 10 },
	{ "tst.most", "0", "", "0", 0 },
	/* rejected */
	{ "tst.count", "x", "cfg.ini:12: tst.count: expected a number, got 'x'", "", 0 },
	{ "tst.count", "", "cfg.ini:12: tst.count: expected a number, got ''", "", 0 },
	{ "tst.count", "-1", "cfg.ini:12: tst.count: expected a number, got '-1'", "", 0 },
	{ "tst.count", "4k", "cfg.ini:12: tst.count: expected a number, got '4k'", "", 0 },
	{ "tst.count", "0", "cfg.ini:12: tst.count: must be between 1 and 65536 (got '0')", "", 0 },
	{ "tst.count", "65537", "cfg.ini:12: tst.count: must be between 1 and 65536 (got '65537')",
	  "", 0 },
	{ "tst.count", "0x10001",
	  "cfg.ini:12: tst.count: must be between 1 and 65536 (got '0x10001')", "", 0 },
	{ "tst.count", "18446744073709551616",
	  "cfg.ini:12: tst.count: '18446744073709551616' does not fit in 64 bits", "", 0 },
	{ "tst.least", "9", "cfg.ini:12: tst.least: must be at least 10 (got '9')", "", 0 },
	{ "tst.most", "101", "cfg.ini:12: tst.most: must be at most 100 (got '101')", "", 0 },
	{ "tst.size", "2k", "cfg.ini:12: tst.size: must be between 4k and 1t (got '2k')", "", 0 },
	{ "tst.size", "2t", "cfg.ini:12: tst.size: must be between 4k and 1t (got '2t')", "", 0 },
	{ "tst.size", "4kb",
	  "cfg.ini:12: tst.size: expected a size (bytes, or a number with k, m, g or t), got '4kb'",
	  "", 0 },
	{ "tst.size", "16777216t", "cfg.ini:12: tst.size: '16777216t' does not fit in 64 bits", "", 0 },
	{ "tst.flag", "2",
	  "cfg.ini:12: tst.flag: expected a boolean (0/1, true/false, on/off, yes/no), got '2'",
	  "", 0 },
	{ "tst.flag", "y",
	  "cfg.ini:12: tst.flag: expected a boolean (0/1, true/false, on/off, yes/no), got 'y'",
	  "", 0 },
	{ "tst.mode", "Segmented",
	  "cfg.ini:12: tst.mode: must be one of contiguous, segmented, off (got 'Segmented')",
	  "", 0 },
	{ "tst.mode", "",
	  "cfg.ini:12: tst.mode: must be one of contiguous, segmented, off (got '')", "", 0 },
	{ "tst.foo", "1", "cfg.ini:12: tst.foo: unknown key", "", 0 },
	{ "tst", "1", "cfg.ini:12: tst: unknown key", "", 0 },
	{ "tst.mode",
	  "a-very-long-value-that-goes-on-and-on-and-on-well-past-sixty-characters-of-text",
	  "cfg.ini:12: tst.mode: must be one of contiguous, segmented, off (got "
	  "'a-very-long-value-that-goes-on-and-on-and-on-well-past-si...')",
	  "", 0 },
};

ParameterizedTestParameters(config, set)
{
	return cr_make_param_array(struct set_case, set_cases,
				   sizeof(set_cases) / sizeof(set_cases[0]));
}

ParameterizedTest(struct set_case *c, config, set)
{
	struct sim *s = tsim();
	struct sim_err err = { "untouched" };
	int rc = sim_cfg_set(s, c->key, c->value, "cfg.ini", 12, &err);

	if (c->msg[0]) {
		cr_assert_eq(rc, -1, "%s = '%s' accepted", c->key, c->value);
		cr_assert_str_eq(err.msg, c->msg);
		/* A refused value leaves the old one in place. */
		if (sim_cfg_has_key(s, c->key)) {
			const struct sim_cfg_key **keys;
			size_t n = sim_cfg_keys(s, &keys);

			for (size_t i = 0; i < n; i++)
				if (!strcmp(keys[i]->name, c->key)) {
					cr_assert_str_eq(sim_cfg_str(s, c->key), keys[i]->def);
					cr_assert(!sim_cfg_is_set(s, c->key));
					cr_assert_str_eq(sim_cfg_origin(s, c->key), "default");
				}
		}
	} else {
		cr_assert_eq(rc, 0, "%s = '%s': %s", c->key, c->value, err.msg);
		cr_assert_str_eq(err.msg, "untouched");
		cr_assert_str_eq(sim_cfg_str(s, c->key), c->resolved);
		cr_assert(sim_cfg_is_set(s, c->key));
		cr_assert_str_eq(sim_cfg_origin(s, c->key), "cfg.ini:12");
		if (!strcmp(c->key, "tst.mode"))
			cr_assert_eq(sim_cfg_enum(s, c->key), c->num);
		else if (!strcmp(c->key, "tst.flag"))
			cr_assert_eq(sim_cfg_bool(s, c->key), c->num != 0);
		else if (strcmp(c->key, "tst.name"))
			cr_assert_eq(sim_cfg_u64(s, c->key), c->num);
	}
	sim_free(s);
}

Test(config, set_from_command_line_has_no_line)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_set(s, "tst.count", "zero", "--set", 0, &err), -1);
	cr_assert_str_eq(err.msg, "--set: tst.count: expected a number, got 'zero'");
	cr_assert_eq(sim_cfg_set(s, "tst.nope", "1", "--set", 0, &err), -1);
	cr_assert_str_eq(err.msg, "--set: tst.nope: unknown key");
	cr_assert_eq(sim_cfg_set(s, "tst.count", "3", "--set", 0, &err), 0);
	cr_assert_str_eq(sim_cfg_origin(s, "tst.count"), "--set");
	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 3);
	sim_free(s);
}

Test(config, defaults)
{
	struct sim *s = tsim();

	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 8);
	cr_assert_eq(sim_cfg_u64(s, "tst.addr"), 0x100000);
	cr_assert_eq(sim_cfg_u64(s, "tst.size"), 2u << 20);
	cr_assert_eq(sim_cfg_bool(s, "tst.flag"), false);
	cr_assert_eq(sim_cfg_u64(s, "tst.flag"), 0);
	cr_assert_eq(sim_cfg_enum(s, "tst.mode"), 0);
	cr_assert_str_eq(sim_cfg_str(s, "tst.mode"), "contiguous");
	cr_assert_str_eq(sim_cfg_str(s, "tst.name"), "");
	cr_assert_str_eq(sim_cfg_str(s, "tst.size"), "2m");
	cr_assert(!sim_cfg_is_set(s, "tst.count"));
	cr_assert_str_eq(sim_cfg_origin(s, "tst.count"), "default");
	cr_assert_str_eq(sim_cfg_origin(s, "lat.tst.op"), "unset");
	cr_assert(sim_cfg_has_key(s, "tst.count"));
	cr_assert(!sim_cfg_has_key(s, "tst.cnt"));
	sim_free(s);
}

Test(config, keys_sorted_engine_and_module)
{
	struct sim *s = tsim();
	const struct sim_cfg_key **keys;
	size_t n = sim_cfg_keys(s, &keys);
	size_t found = 0;

	cr_assert_geq(n, 9);
	for (size_t i = 0; i + 1 < n; i++)
		cr_assert_lt(strcmp(keys[i]->name, keys[i + 1]->name), 0, "%s before %s",
			     keys[i]->name, keys[i + 1]->name);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(keys[i]->name, "tst.", 4) || !strcmp(keys[i]->name, "lat.tst.op"))
			found++;
	cr_assert_eq(found, 9);
	cr_assert_null(keys[n]);
	cr_assert(sim_cfg_has_key(s, "machine.profile"), "engine keys come first");
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Programming errors abort                                            */
/* ------------------------------------------------------------------ */

Test(config, lookup_unknown_key_aborts, .signal = SIGABRT)
{
	struct sim *s = tsim();

	sim_cfg_u64(s, "tst.nope");
}

Test(config, lookup_wrong_type_aborts, .signal = SIGABRT)
{
	struct sim *s = tsim();

	sim_cfg_u64(s, "tst.mode");
}

Test(config, bool_of_number_aborts, .signal = SIGABRT)
{
	struct sim *s = tsim();

	sim_cfg_bool(s, "tst.count");
}

Test(config, enum_of_number_aborts, .signal = SIGABRT)
{
	struct sim *s = tsim();

	sim_cfg_enum(s, "tst.count");
}

Test(config, value_missing_aborts, .signal = SIGABRT)
{
	struct sim *s = tsim();

	sim_cfg_u64(s, "lat.tst.op");
}

Test(config, duplicate_declaration_aborts, .signal = SIGABRT)
{
	static const struct sim_module *const twice[] = { &tst_module, &tst_module, NULL };

	sim_new(twice);
}

static const struct sim_cfg_key bad_default_keys[] = {
	{ "bad.count", SIM_CFG_U64, 1, 10, "11", NULL, "out of its own range" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

Test(config, bad_default_aborts, .signal = SIGABRT)
{
	static const struct sim_module bad = { .name = "bad", .keys = bad_default_keys };
	static const struct sim_module *const mods[] = { &bad, NULL };

	sim_new(mods);
}

static const struct sim_cfg_key bad_name_keys[] = {
	{ "bad..name", SIM_CFG_U64, 1, 10, "1", NULL, "two dots" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

Test(config, bad_key_name_aborts, .signal = SIGABRT)
{
	static const struct sim_module bad = { .name = "bad", .keys = bad_name_keys };
	static const struct sim_module *const mods[] = { &bad, NULL };

	sim_new(mods);
}

/* ------------------------------------------------------------------ */
/* INI text and files                                                  */
/* ------------------------------------------------------------------ */

Test(config, ini_sections_comments_and_spacing)
{
	struct sim *s = tsim();
	struct sim_err err = { "" };
	const char *text =
		"\xef\xbb\xbf# a scenario\n"
		"; another comment\n"
		"\n"
		"   \t\n"
		"tst.count=3\n"
		"[tst]   # the test module\n"
		"  addr   =   0x2000   # inline comment\n"
		"size = 4k;not a comment\n"   /* ';' without white space before it */
		"flag = yes ; a comment\n"
		"name = a#b c  \r\n"
		"[lat.tst]\n"
		"op = 77\n"
		"[ tst ]\n"
		"mode = off\n";

	cr_assert_eq(sim_cfg_load_text(s, "cfg.ini", text, &err), -1,
		     "'4k;not a comment' is not a size");
	cr_assert_str_eq(err.msg, "cfg.ini:8: tst.size: expected a size (bytes, or a number with "
				  "k, m, g or t), got '4k;not a comment'");
	sim_free(s);

	s = tsim();
	text = "\xef\xbb\xbf# a scenario\n"
	       "; another comment\n"
	       "\n"
	       "   \t\n"
	       "tst.count=3\n"
	       "[tst]   # the test module\n"
	       "  addr   =   0x2000   # inline comment\n"
	       "size = 4k\n"
	       "flag = yes ; a comment\n"
	       "name = a#b c  \r\n"
	       "[lat.tst]\n"
	       "op = 77\n"
	       "[ tst ]\n"
	       "mode = off\n"
	       "least = # empty before the comment";
	cr_assert_eq(sim_cfg_load_text(s, "cfg.ini", text, &err), -1);
	cr_assert_str_eq(err.msg, "cfg.ini:15: tst.least: expected a number, got ''");
	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 3);
	cr_assert_eq(sim_cfg_u64(s, "tst.addr"), 0x2000);
	cr_assert_eq(sim_cfg_u64(s, "tst.size"), 4096);
	cr_assert(sim_cfg_bool(s, "tst.flag"));
	cr_assert_str_eq(sim_cfg_str(s, "tst.name"), "a#b c");
	cr_assert_eq(sim_cfg_u64(s, "lat.tst.op"), 77);
	cr_assert_eq(sim_cfg_enum(s, "tst.mode"), 2);
	cr_assert_str_eq(sim_cfg_origin(s, "tst.count"), "cfg.ini:5");
	cr_assert_str_eq(sim_cfg_origin(s, "tst.addr"), "cfg.ini:7");
	cr_assert_str_eq(sim_cfg_origin(s, "lat.tst.op"), "cfg.ini:12");
	cr_assert_str_eq(sim_cfg_origin(s, "tst.mode"), "cfg.ini:14");
	cr_assert(sim_cfg_is_set(s, "tst.mode"));
	cr_assert(!sim_cfg_is_set(s, "tst.most"));
	sim_free(s);
}

Test(config, ini_dotted_key_inside_section)
{
	struct sim *s = tsim();
	struct sim_err err;

	/* [lat] + tst.op = lat.tst.op */
	cr_assert_eq(sim_cfg_load_text(s, "a.ini", "[lat]\ntst.op = 5\n", &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "lat.tst.op"), 5);
	sim_free(s);
}

Test(config, ini_empty_text_is_fine)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_load_text(s, "e.ini", "", &err), 0);
	cr_assert_eq(sim_cfg_load_text(s, "e.ini", "\n\n# only\n", &err), 0);
	cr_assert_eq(sim_cfg_load_text(s, "e.ini", "tst.count = 9", &err), 0, "no final newline");
	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 9);
	sim_free(s);
}

struct ini_case {
	char text[64];
	char msg[128];
};

static struct ini_case ini_cases[] = {
	{ "tst.count = 1\nfoo bar\n", "cfg.ini:2: expected 'key = value' or '[section]', got 'foo bar'" },
	{ "[tst\n", "cfg.ini:1: expected ']' to close the section name" },
	{ "[tst] x\n", "cfg.ini:1: unexpected text after ']'" },
	{ "[rmp x]\n",
	  "cfg.ini:1: bad section name 'rmp x' (words of letters, digits, '_' or '-', separated by dots)" },
	{ "[]\n",
	  "cfg.ini:1: bad section name '' (words of letters, digits, '_' or '-', separated by dots)" },
	{ "[a..b]\n",
	  "cfg.ini:1: bad section name 'a..b' (words of letters, digits, '_' or '-', separated by dots)" },
	{ "= 3\n",
	  "cfg.ini:1: bad key name '' (words of letters, digits, '_' or '-', separated by dots)" },
	{ "tst count = 3\n",
	  "cfg.ini:1: bad key name 'tst count' (words of letters, digits, '_' or '-', separated by dots)" },
	{ "tst.count. = 3\n",
	  "cfg.ini:1: bad key name 'tst.count.' (words of letters, digits, '_' or '-', separated by dots)" },
	{ "\n\ntst.foo = 1\n", "cfg.ini:3: tst.foo: unknown key" },
	{ "[rmp]\nfoo = 1\n", "cfg.ini:2: rmp.foo: unknown key" },
	{ "tst.count = 1\n# x\ntst.count = 2\n",
	  "cfg.ini:3: tst.count: set twice in this file (first at line 1)" },
	{ "tst.count = 1\n[tst]\ncount = 2\n",
	  "cfg.ini:3: tst.count: set twice in this file (first at line 1)" },
	{ "[tst]\ncount = 70000\n", "cfg.ini:2: tst.count: must be between 1 and 65536 (got '70000')" },
	{ "[tst]\nmode = seg\n",
	  "cfg.ini:2: tst.mode: must be one of contiguous, segmented, off (got 'seg')" },
	{ "[tst]\r\nflag = maybe\r\n",
	  "cfg.ini:2: tst.flag: expected a boolean (0/1, true/false, on/off, yes/no), got 'maybe'" },
};

ParameterizedTestParameters(config, ini_errors)
{
	return cr_make_param_array(struct ini_case, ini_cases,
				   sizeof(ini_cases) / sizeof(ini_cases[0]));
}

ParameterizedTest(struct ini_case *c, config, ini_errors)
{
	struct sim *s = tsim();
	struct sim_err err = { "" };

	cr_assert_eq(sim_cfg_load_text(s, "cfg.ini", c->text, &err), -1);
	cr_assert_str_eq(err.msg, c->msg);
	sim_free(s);
}

Test(config, same_key_in_two_files_is_an_override)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_load_text(s, "a.ini", "tst.count = 1\n", &err), 0);
	cr_assert_eq(sim_cfg_load_text(s, "b.ini", "\ntst.count = 2\n", &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 2);
	cr_assert_str_eq(sim_cfg_origin(s, "tst.count"), "b.ini:2");
	sim_free(s);
}

static char *tmp_file(const char *content, size_t len)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/protsim-cfg-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(config, load_file)
{
	struct sim *s = tsim();
	struct sim_err err;
	const char *text = "[tst]\ncount = 77\nmode = segmented\n";
	char *path = tmp_file(text, strlen(text));
	char want[128];

	cr_assert_eq(sim_cfg_load_file(s, path, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 77);
	cr_assert_eq(sim_cfg_enum(s, "tst.mode"), 1);
	snprintf(want, sizeof(want), "%s:3", path);
	cr_assert_str_eq(sim_cfg_origin(s, "tst.mode"), want);
	unlink(path);
	sim_free(s);
}

/* sim_cfg_path: a relative path from a file is beside that file; else as it is. */
struct path_case {
	const char *file;    /* load_text's name (NULL: --set) */
	int line;            /* ... its line is line 1 of the text */
	const char *value;
	const char *want;
};

static const struct path_case path_cases[] = {
	{ "dir/sub/a.ini", 1, "fw.elf", "dir/sub/fw.elf" },
	{ "dir/sub/a.ini", 1, "../../b/fw.elf", "dir/sub/../../b/fw.elf" },
	{ "dir/sub/a.ini", 1, "/abs/fw.elf", "/abs/fw.elf" },
	{ "a.ini", 1, "fw.elf", "fw.elf" },                /* a file in the working directory */
	{ "/etc/x.ini", 1, "fw.elf", "/etc/fw.elf" },
	{ "my:dir/a.ini", 1, "fw.elf", "my:dir/fw.elf" },   /* a ':' in the directory */
	{ NULL, 0, "fw.elf", "fw.elf" },                   /* --set: the working directory */
	{ NULL, 0, "", "" },
};

Test(config, path_beside_the_file_that_set_it)
{
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct sim *s = tsim();
		struct sim_err err;
		char *text = sim_xprintf("tst.name = %s\n", c->value), *got;

		if (c->file)
			cr_assert_eq(sim_cfg_load_text(s, c->file, text, &err), 0, "%s", err.msg);
		else
			cr_assert_eq(sim_cfg_set(s, "tst.name", c->value, "--set", 0, &err), 0, "%s",
				     err.msg);
		got = sim_cfg_path(s, "tst.name");
		cr_assert_str_eq(got, c->want, "case %zu (%s, %s)", i, c->file ? c->file : "--set",
				 c->value);
		free(got);
		free(text);
		sim_free(s);
	}
	/* the default (no file): as it is */
	{
		struct sim *s = tsim();
		char *got = sim_cfg_path(s, "tst.name");

		cr_assert_str_eq(got, "");
		free(got);
		sim_free(s);
	}
}

Test(config, load_file_errors)
{
	struct sim *s = tsim();
	struct sim_err err;
	char *path;
	char want[160];

	cr_assert_eq(sim_cfg_load_file(s, "/nonexistent/dir/x.ini", &err), -1);
	cr_assert_str_eq(err.msg, "/nonexistent/dir/x.ini: cannot read: No such file or directory");

	cr_assert_eq(sim_cfg_load_file(s, "/tmp", &err), -1);
	cr_assert_str_eq(err.msg, "/tmp: cannot read: Is a directory");

	path = tmp_file("tst.count = 1\n\0junk", 19);
	cr_assert_eq(sim_cfg_load_file(s, path, &err), -1);
	snprintf(want, sizeof(want), "%s:2: not a text file (contains a NUL byte)", path);
	cr_assert_str_eq(err.msg, want);
	unlink(path);

	path = tmp_file("\n[tst]\ncount = big\n", 19);
	cr_assert_eq(sim_cfg_load_file(s, path, &err), -1);
	snprintf(want, sizeof(want), "%s:3: tst.count: expected a number, got 'big'", path);
	cr_assert_str_eq(err.msg, want);
	unlink(path);
	sim_free(s);
}

/*
 * Size and line limits: exactly SIM_CFG_MAX_FILE bytes and lines of
 * SIM_CFG_MAX_LINE bytes load; one byte more is an error naming the file,
 * the line reached and the limit.  A NUL byte names its line.
 */
Test(config, load_file_limits)
{
	struct sim *s = tsim();
	struct sim_err err;
	size_t n = SIM_CFG_MAX_FILE + 2;
	char *text = malloc(n + 1), *path, want[256];

	/* "tst.count = 1\n" then comment lines of 1000 bytes ("#...\n"), padded */
	memset(text, 'x', n);
	memcpy(text, "tst.count = 1\n", 14);
	for (size_t at = 14; at < n; at += 1000) {
		text[at] = '#';
		if (at + 999 < n)
			text[at + 999] = '\n';
	}
	text[SIM_CFG_MAX_FILE - 1] = '\n';
	path = tmp_file(text, SIM_CFG_MAX_FILE);
	cr_assert_eq(sim_cfg_load_file(s, path, &err), 0, "exactly the limit: %s", err.msg);
	unlink(path);
	sim_free(s);

	s = tsim();
	path = tmp_file(text, SIM_CFG_MAX_FILE + 1);
	cr_assert_eq(sim_cfg_load_file(s, path, &err), -1);
	/*
	 * Newlines: line 1, 1048 comment lines (the last ends at byte 1048013),
	 * and the one at the limit's last byte: the extra byte is in line 1051.
	 */
	snprintf(want, sizeof(want), "%s:1051: file larger than 1048576 bytes (the limit for a "
		 "configuration file)", path);
	cr_assert_str_eq(err.msg, want);
	cr_assert(!sim_cfg_is_set(s, "tst.count"), "nothing applied");
	unlink(path);
	free(text);

	/* a line of 4096 bytes (without its newline) loads, 4097 does not */
	text = malloc(8192);
	memcpy(text, "tst.name = ", 11);
	memset(text + 11, 'n', 4096 - 11);
	text[4096] = '\n';
	text[4097] = 0;
	cr_assert_eq(sim_cfg_load_text(s, "l.ini", text, &err), 0, "%s", err.msg);
	cr_assert_eq(strlen(sim_cfg_str(s, "tst.name")), 4096 - 11);
	sim_free(s);
	s = tsim();
	memmove(text + 7, text, 4098);
	memcpy(text, "#\n\n#\n\n ", 7);   /* the long line is now line 5, 4097 bytes */
	cr_assert_eq(sim_cfg_load_text(s, "l.ini", text, &err), -1);
	cr_assert_str_eq(err.msg, "l.ini:5: line longer than 4096 bytes (the limit)");
	free(text);

	/* a directory; a NUL byte names its line */
	cr_assert_eq(sim_cfg_load_file(s, "/", &err), -1);
	cr_assert_str_eq(err.msg, "/: cannot read: Is a directory");
	path = tmp_file("a = 1\nb = 2\n\nc\0", 15);
	cr_assert_eq(sim_cfg_load_file(s, path, &err), -1);
	snprintf(want, sizeof(want), "%s:4: not a text file (contains a NUL byte)", path);
	cr_assert_str_eq(err.msg, want);
	unlink(path);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Profiles and precedence                                             */
/* ------------------------------------------------------------------ */

Test(config, precedence_default_profile_file_set)
{
	struct sim *s = tsim();
	struct sim_err err;
	const char *prof = "[tst]\ncount = 20\naddr = 0x3000\nsize = 8k\n"
			   "[lat.tst]\nop = 40\n[lat.mem]\ndram = 100\n";

	/* scenario file, then --set, then (at sim_start) the profile */
	cr_assert_eq(sim_cfg_load_text(s, "cfg.ini", "[tst]\naddr = 0x4000\nsize = 16k\n", &err), 0);
	cr_assert_eq(sim_cfg_set(s, "tst.size", "32k", "--set", 0, &err), 0);
	cr_assert_eq(sim_cfg_apply_profile(s, "t", prof, &err), 0, "%s", err.msg);

	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 20, "profile beats default");
	cr_assert_str_eq(sim_cfg_origin(s, "tst.count"), "profile:t:2");
	cr_assert(!sim_cfg_is_set(s, "tst.count"), "a profile value is not a user value");
	cr_assert_eq(sim_cfg_u64(s, "tst.addr"), 0x4000, "file beats profile");
	cr_assert_str_eq(sim_cfg_origin(s, "tst.addr"), "cfg.ini:2");
	cr_assert_eq(sim_cfg_u64(s, "tst.size"), 32768, "--set beats file and profile");
	cr_assert_str_eq(sim_cfg_origin(s, "tst.size"), "--set");
	cr_assert_eq(sim_cfg_u64(s, "lat.tst.op"), 40, "profile fills a NULL default");
	cr_assert_eq(sim_cfg_u64(s, "tst.most"), 5, "default stays");
	cr_assert_eq(sim_cfg_check_complete(s, &err), 0, "%s", err.msg);
	sim_free(s);
}

Test(config, profile_errors)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_apply_profile(s, "zen", "[lat.tst]\nop = slow\n", &err), -1);
	cr_assert_str_eq(err.msg, "profile:zen:2: lat.tst.op: expected a number, got 'slow'");
	cr_assert_eq(sim_cfg_apply_profile(s, "zen", "[lat.tst]\nopp = 1\n", &err), -1);
	cr_assert_str_eq(err.msg, "profile:zen:2: lat.tst.opp: unknown key (did you mean 'lat.tst.op'?)");
	cr_assert_eq(sim_cfg_apply_profile(s, "zen", "[lat.tst]\nop = 1\nop = 2\n", &err), -1);
	cr_assert_str_eq(err.msg, "profile:zen:3: lat.tst.op: set twice in this file (first at line 2)");
	cr_assert_eq(sim_cfg_apply_profile(s, "zen", "\ndram = 1\n", &err), -1);
	cr_assert_str_eq(err.msg, "profile:zen:2: dram: unknown key");
	cr_assert_eq(sim_cfg_apply_profile(s, "zen", "lat.tst.op 1\n", &err), -1);
	cr_assert_str_eq(err.msg, "profile:zen:1: expected 'key = value' or '[section]', got 'lat.tst.op 1'");
	sim_free(s);
}

Test(config, profile_value_checked_even_when_user_set)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_set(s, "lat.tst.op", "3", "--set", 0, &err), 0);
	cr_assert_eq(sim_cfg_apply_profile(s, "p", "lat.tst.op = 200000\n", &err), -1);
	cr_assert_str_eq(err.msg, "profile:p:1: lat.tst.op: must be at most 100000 (got '200000')");
	cr_assert_eq(sim_cfg_u64(s, "lat.tst.op"), 3);
	sim_free(s);
}

Test(config, profile_keys_of_absent_modules_are_ignored)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_apply_profile(s, "p",
					   "[lat.iommu]\nwalk = 10\n[cache.l9]\nsets = 3\n"
					   "[lat.tst]\nop = 9\n",
					   &err),
		     0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "lat.tst.op"), 9);
	sim_free(s);
}

Test(config, check_complete_names_the_missing_key)
{
	struct sim *s = tsim();
	struct sim_err err;
	const struct sim_cfg_key **keys;
	size_t n = sim_cfg_keys(s, &keys);

	/* Give every other key without a default a value. */
	for (size_t i = 0; i < n; i++)
		if (!keys[i]->def && strcmp(keys[i]->name, "lat.tst.op"))
			cr_assert_eq(sim_cfg_set(s, keys[i]->name, "0", "t", 1, &err), 0, "%s",
				     err.msg);
	cr_assert_eq(sim_cfg_check_complete(s, &err), -1);
	cr_assert_str_eq(err.msg, "lat.tst.op: no value (not in profile 'generic' and not set)");
	cr_assert_eq(sim_cfg_set(s, "machine.profile", "zen4", "t", 2, &err), 0);
	cr_assert_eq(sim_cfg_check_complete(s, &err), -1);
	cr_assert_str_eq(err.msg, "lat.tst.op: no value (not in profile 'zen4' and not set)");
	cr_assert_eq(sim_cfg_set(s, "lat.tst.op", "1", "t", 3, &err), 0);
	cr_assert_eq(sim_cfg_check_complete(s, &err), 0, "%s", err.msg);
	sim_free(s);
}

Test(config, start_then_no_more_changes)
{
	struct sim *s = tsim();
	struct sim_err err = { "" };

	cr_assert_eq(sim_cfg_set(s, "lat.tst.op", "12", "--set", 0, &err), 0);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "lat.tst.op"), 12);
	cr_assert(!strncmp(sim_cfg_origin(s, "lat.mem.dram"), "profile:generic:", 16),
		  "origin %s", sim_cfg_origin(s, "lat.mem.dram"));
	cr_assert_eq(sim_cfg_set(s, "tst.count", "3", "--set", 0, &err), -1);
	cr_assert_str_eq(err.msg, "--set: tst.count: cannot be changed once the machine is built");
	cr_assert_eq(sim_cfg_u64(s, "tst.count"), 8);
	sim_free(s);
}

Test(config, start_reports_missing_profile_value)
{
	struct sim *s = tsim();
	struct sim_err err = { "" };

	cr_assert_eq(sim_start(s, &err), -1);
	cr_assert_str_eq(err.msg, "lat.tst.op: no value (not in profile 'generic' and not set)");
	sim_free(s);
}

Test(config, error_helper_names_origin)
{
	struct sim *s = tsim();
	struct sim_err err;

	cr_assert_eq(sim_cfg_error(s, "tst.addr", &err, "must be %s aligned", "2m"), -1);
	cr_assert_str_eq(err.msg, "tst.addr: must be 2m aligned");
	cr_assert_eq(sim_cfg_load_text(s, "x.ini", "\n\ntst.addr = 0x1000\n", &err), 0);
	cr_assert_eq(sim_cfg_error(s, "tst.addr", &err, "must be %s aligned", "2m"), -1);
	cr_assert_str_eq(err.msg, "x.ini:3: tst.addr: must be 2m aligned");
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Reference and JSON                                                  */
/* ------------------------------------------------------------------ */

static char *reference(struct sim *s, bool md)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	sim_cfg_write_reference(s, f, md);
	fclose(f);
	return buf;
}

Test(config, reference_markdown)
{
	struct sim *s = tsim();
	char *md = reference(s, true);

	cr_assert(!strncmp(md, "# protsim configuration keys\n", 29));
	cr_assert_not_null(strstr(md, "Precedence, lowest first: the defaults below < the latency "
				      "profile named by `machine.profile`"));
	cr_assert_not_null(strstr(md, "\n## `tst`\n\n| key | type | range / choices | default | "
				      "description |\n|---|---|---|---|---|\n"));
	cr_assert_not_null(strstr(md, "\n| `tst.count` | u64 | 1 .. 65536 | `8` | a count |\n"));
	cr_assert_not_null(strstr(md, "\n| `tst.addr` | u64 | any | `0x100000` | an address |\n"));
	cr_assert_not_null(strstr(md, "\n| `tst.size` | size | 4k .. 1t | `2m` | a size \\| with a bar |\n"));
	cr_assert_not_null(strstr(md, "\n| `tst.flag` | bool | 0/1, true/false, on/off, yes/no | `off` | a flag |\n"));
	cr_assert_not_null(strstr(md, "\n| `tst.mode` | enum | contiguous, segmented, off | `contiguous` | a mode |\n"));
	cr_assert_not_null(strstr(md, "\n| `tst.name` | string | text | (empty) | a name |\n"));
	cr_assert_not_null(strstr(md, "\n## Latencies (lat.*)\n"));
	cr_assert_not_null(strstr(md, "\n### `lat.tst`\n"));
	cr_assert_not_null(strstr(md, "\n| `lat.tst.op` | u64 | 0 .. 100000 | profile | cycles of one op |\n"));
	{
		const char *lat = strstr(md, "### `lat.tst`");
		const char *tst = strstr(md, "## `tst`");
		const char *mach = strstr(md, "## `machine`");

		cr_assert(lat && tst && mach);
		cr_assert(tst < lat, "latencies last");
		cr_assert(mach < tst, "groups sorted");
	}
	free(md);
	sim_free(s);
}

Test(config, reference_text)
{
	struct sim *s = tsim();
	char *t = reference(s, false);

	cr_assert_not_null(strstr(t, "\n[tst]\n"));
	cr_assert_not_null(strstr(t, "\n[lat.tst]\n"));
	cr_assert_not_null(strstr(t, "\n  tst.count        u64     1 .. 65536"));
	cr_assert_not_null(strstr(t, "  8\n      a count\n"));
	cr_assert_not_null(strstr(t, "  contiguous, segmented, off       contiguous\n      a mode\n"));
	cr_assert_not_null(strstr(t, "  tst.least        u64     >= 10 "));
	cr_assert_not_null(strstr(t, "  (profile)\n      cycles of one op\n"));
	cr_assert_not_null(strstr(t, "  (empty)\n      a name\n"));
	free(t);
	sim_free(s);
}

Test(config, json_round_trip)
{
	struct sim *s = tsim();
	struct sim_err err;
	char path[] = "/tmp/protsim-cfgjson-XXXXXX";
	int fd = mkstemp(path);
	const struct sim_cfg_key **keys;
	json_error_t jerr;
	json_t *root;

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(sim_cfg_load_text(s, "j.ini",
				       "[tst]\ncount = 0x20\nflag = on\nsize = 4k\nmode = off\n"
				       "name = hello world\naddr = 0xffffffffffffffff\n",
				       &err),
		     0, "%s", err.msg);
	cr_assert_eq(sim_cfg_write_json(s, path, &err), 0, "%s", err.msg);
	root = json_load_file(path, 0, &jerr);
	cr_assert_not_null(root, "%s", jerr.text);
	cr_assert(json_is_object(root));
	cr_assert_eq(json_integer_value(json_object_get(root, "tst.count")), 32);
	cr_assert(json_is_true(json_object_get(root, "tst.flag")));
	cr_assert_eq(json_integer_value(json_object_get(root, "tst.size")), 4096);
	cr_assert_str_eq(json_string_value(json_object_get(root, "tst.mode")), "off");
	cr_assert_str_eq(json_string_value(json_object_get(root, "tst.name")), "hello world");
	cr_assert_str_eq(json_string_value(json_object_get(root, "tst.addr")),
			 "18446744073709551615", "above 2^63: exact, as text");
	cr_assert(json_is_null(json_object_get(root, "lat.tst.op")), "no value yet");
	cr_assert_str_eq(json_string_value(json_object_get(root, "machine.profile")), "generic");
	cr_assert_eq(json_object_size(root), sim_cfg_keys(s, &keys), "every key");
	json_decref(root);

	cr_assert_eq(sim_cfg_write_json(s, "/nonexistent/dir/c.json", &err), -1);
	cr_assert_str_eq(err.msg, "/nonexistent/dir/c.json: cannot write: No such file or directory");
	unlink(path);
	sim_free(s);
}

Test(config, json_sorted_with_final_newline)
{
	struct sim *s = tsim();
	struct sim_err err;
	char path[] = "/tmp/protsim-cfgjson-XXXXXX";
	int fd = mkstemp(path);
	char buf[8192];
	ssize_t n;
	const char *a, *b;

	close(fd);
	cr_assert_eq(sim_cfg_write_json(s, path, &err), 0);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 2);
	buf[n] = 0;
	cr_assert_eq(buf[n - 1], '\n');
	cr_assert_eq(buf[0], '{');
	a = strstr(buf, "\"engine.seed\"");
	b = strstr(buf, "\"tst.count\"");
	cr_assert(a && b && a < b);
	cr_assert_not_null(strstr(buf, "\n  \"tst.count\": 8,\n"));
	unlink(path);
	sim_free(s);
}
