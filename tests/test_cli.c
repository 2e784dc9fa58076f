/*
 * test_cli.c - the command-line parser shared by every command
 * (sim/cli.c): option forms, values, order, errors; "did you mean"
 * (edit distance and the choice); quoting of values in messages; where an
 * attach-time error's key was set (sim_cfg_error_locate).
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

/* ------------------------------------------------------------------ */
/* Edit distance and suggestions                                       */
/* ------------------------------------------------------------------ */

static const struct { const char *a, *b; unsigned d; } dist_cases[] = {
	{ "", "", 0 },
	{ "run", "run", 0 },
	{ "", "abc", 3 },
	{ "abc", "", 3 },
	{ "rn", "run", 1 },             /* insertion */
	{ "runn", "run", 1 },           /* deletion */
	{ "rum", "run", 1 },            /* substitution */
	{ "exce", "exec", 1 },          /* swap of neighbours */
	{ "hlep", "help", 1 },
	{ "ca", "abc", 3 },             /* OSA: no edit of a swapped pair */
	{ "machine.cpu", "machine.cpus", 1 },
	{ "kitten", "sitting", 3 },
};

Test(cli, edit_distance)
{
	for (size_t i = 0; i < sizeof(dist_cases) / sizeof(dist_cases[0]); i++) {
		cr_assert_eq(sim_edit_distance(dist_cases[i].a, dist_cases[i].b), dist_cases[i].d,
			     "%s / %s", dist_cases[i].a, dist_cases[i].b);
		cr_assert_eq(sim_edit_distance(dist_cases[i].b, dist_cases[i].a), dist_cases[i].d,
			     "%s / %s (symmetric)", dist_cases[i].b, dist_cases[i].a);
	}
}

Test(cli, suggest)
{
	static const char *const cmds[] = { "run", "script", "exec", "shell", "help", "version" };
	static const char *const opts[] = { "--set", "--seed", "--out", "--quiet" };
	static const char *const keys[] = { "machine.cpus", "machine.mem", "machine.profile",
					    "vm.type", "vm.vcpus" };
	static const struct {
		const char *word;
		const char *const *cands;
		size_t n;
		const char *want;   /* NULL: no suggestion */
	} cases[] = {
		{ "rn", cmds, 6, "run" },
		{ "exce", cmds, 6, "exec" },
		{ "shel", cmds, 6, "shell" },
		{ "verison", cmds, 6, "version" },
		{ "run", cmds, 6, NULL },             /* an exact match is no typo */
		{ "x", cmds, 6, NULL },
		{ "frobnicate", cmds, 6, NULL },
		{ "", cmds, 6, NULL },
		{ "--sed", opts, 4, "--set" },        /* tie (--set, --seed): the first */
		{ "--quite", opts, 4, "--quiet" },
		{ "machine.cpu", keys, 5, "machine.cpus" },
		{ "machine.mme", keys, 5, "machine.mem" },
		{ "machine.bogus", keys, 5, NULL },   /* 3 edits: too far for 13 letters */
		{ "vm.typo", keys, 5, "vm.type" },
		{ "vm.tpe", keys, 5, "vm.type" },
	};
	char big[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = sim_suggest(cases[i].word, cases[i].cands, cases[i].n);

		if (!cases[i].want)
			cr_assert_null(got, "%s: got %s", cases[i].word, got);
		else
			cr_assert(got && !strcmp(got, cases[i].want), "%s: got %s, want %s",
				  cases[i].word, got ? got : "NULL", cases[i].want);
	}
	/* A word longer than any name is never compared. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cr_assert_null(sim_suggest(big, cmds, 6));
}

/* ------------------------------------------------------------------ */
/* Quoting                                                             */
/* ------------------------------------------------------------------ */

Test(cli, quote)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "''" },
		{ "abc", "'abc'" },
		{ "it's", "'it\\'s'" },
		{ "a\\b", "'a\\\\b'" },
		{ "a\nb\tc\rd", "'a\\nb\\tc\\rd'" },
		{ "\x1b[31m\x01", "'\\x1b[31m\\x01'" },
		{ "caf\xc3\xa9", "'caf\\xc3\\xa9'" },
		/* 60 characters: shown whole */
		{ "012345678901234567890123456789012345678901234567890123456789",
		  "'012345678901234567890123456789012345678901234567890123456789'" },
		/* 61: cut to 57 and "..." */
		{ "0123456789012345678901234567890123456789012345678901234567890",
		  "'012345678901234567890123456789012345678901234567890123456...'" },
		/* an escape is never cut in half: 56 characters + \x1b does not fit in 57 */
		{ "01234567890123456789012345678901234567890123456789012345\x1b" "0123456789",
		  "'01234567890123456789012345678901234567890123456789012345...'" },
		/* 56 + \x01 = 60 shown: fits whole */
		{ "01234567890123456789012345678901234567890123456789012345\x01",
		  "'01234567890123456789012345678901234567890123456789012345\\x01'" },
	};
	char buf[SIM_QUOTE_MAX];
	char *huge = malloc(1 << 20);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_str_eq(sim_quote(cases[i].in, buf), cases[i].out, "case %zu", i);
	/* a megabyte of control bytes: 14 escapes (56 characters), then ... */
	memset(huge, 1, (1 << 20) - 1);
	huge[(1 << 20) - 1] = 0;
	sim_quote(huge, buf);
	cr_assert_eq(strlen(buf), 1 + 14 * 4 + 3 + 1, "%s", buf);
	cr_assert_eq(strncmp(buf + 1 + 14 * 4, "...'", 4), 0, "%s", buf);
	free(huge);
}

/* ------------------------------------------------------------------ */
/* The parser                                                          */
/* ------------------------------------------------------------------ */

static const struct sim_cli_opt t_opts[] = {
	SIM_CLI_OPT_SET,
	SIM_CLI_OPT_SEED,
	{ "out", 0, "DIR", NULL, "output directory" },
	{ "quiet", 'q', NULL, NULL, "quiet" },
	{ NULL, 0, NULL, NULL, NULL }
};

static const struct sim_cli_cmd t_cmd = {
	"tcmd", "FILE", 1, 1, t_opts, "a test command", "details\n", "0  ok\n7  usage\n", 7,
};

/* Parse a NULL-terminated list of words after the command name. */
static enum sim_cli_rc parse(struct sim_cli *cl, const char *const *words)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"tcmd";
	while (*words)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	return sim_cli_parse(&t_cmd, argc, argv, cl);
}

Test(cli, parse_forms, .init = cr_redirect_stderr)
{
	struct sim_cli cl;
	const char *w1[] = { "f.ini", "--set", "a.b=1", "--set=c.d=x=y", "--seed", "3", "-q",
			     "--out=o", NULL };
	const char *w2[] = { "--quiet", "--", "-f", NULL };
	const char *w3[] = { "-", NULL };

	cr_assert_eq(parse(&cl, w1), SIM_CLI_RUN);
	cr_assert_eq(cl.nargs, 1);
	cr_assert_str_eq(cl.args[0], "f.ini");
	cr_assert_eq(cl.nvals, 5);
	cr_assert_str_eq(cl.vals[0].opt->name, "set");
	cr_assert_str_eq(cl.vals[0].val, "a.b=1");
	cr_assert_str_eq(cl.vals[1].val, "c.d=x=y");
	cr_assert_str_eq(cl.vals[2].opt->name, "seed");
	cr_assert_str_eq(cl.vals[2].val, "3");
	cr_assert_str_eq(cl.vals[3].opt->name, "quiet");
	cr_assert_null(cl.vals[3].val);
	cr_assert(sim_cli_flag(&cl, "quiet"));
	cr_assert_str_eq(sim_cli_value(&cl, "out"), "o");
	cr_assert_null(sim_cli_value(&cl, "nothing"));
	sim_cli_free(&cl);

	cr_assert_eq(parse(&cl, w2), SIM_CLI_RUN);
	cr_assert_eq(cl.nargs, 1);
	cr_assert_str_eq(cl.args[0], "-f");
	sim_cli_free(&cl);

	cr_assert_eq(parse(&cl, w3), SIM_CLI_RUN);
	cr_assert_str_eq(cl.args[0], "-");
	sim_cli_free(&cl);
}

Test(cli, parse_errors, .init = cr_redirect_stderr)
{
	static const char *const bad[][4] = {
		{ NULL },                             /* missing FILE */
		{ "a", "b", NULL },                   /* one FILE only */
		{ "a", "--bogus", NULL },
		{ "a", "--out", NULL },               /* needs a value */
		{ "a", "--quiet=1", NULL },           /* takes no value */
		{ "a", "--set", "novalue", NULL },    /* KEY=VALUE */
		{ "a", "--set", "=1", NULL },         /* empty key */
		{ "a", "-x", NULL },
		{ "a", "-qq", NULL },
		{ "a", "---quiet", NULL },
	};
	struct sim_cli cl;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(&cl, bad[i]), SIM_CLI_USAGE, "case %zu", i);
		sim_cli_free(&cl);
	}
}

static void redirect_both(void)
{
	cr_redirect_stdout();
	cr_redirect_stderr();
}

Test(cli, parse_help_wins, .init = redirect_both)
{
	const char *w[] = { "--bogus", "a", "b", "-h", NULL };
	const char *after[] = { "a", "--", "--help", NULL };
	struct sim_cli cl;

	cr_assert_eq(parse(&cl, w), SIM_CLI_HELP);
	sim_cli_free(&cl);
	/* after "--" it is a file name */
	cr_assert_eq(parse(&cl, after), SIM_CLI_USAGE);
	sim_cli_free(&cl);
	fflush(stdout);
	cr_assert_stdout_eq_str(
		"usage: protsim tcmd FILE [--set KEY=VALUE]... [--seed N] [--out DIR] [-q|--quiet]\n"
		"\n"
		"a test command\n"
		"\n"
		"details\n"
		"\n"
		"options:\n"
		"      --set KEY=VALUE  set a configuration key (repeatable; protsim help config KEY)\n"
		"      --seed N         the run seed (engine.seed)\n"
		"      --out DIR        output directory\n"
		"  -q, --quiet          quiet\n"
		"  -h, --help           show this help\n"
		"\n"
		"exit status:\n"
		"  0  ok\n"
		"  7  usage\n");
}

Test(cli, usage_error_message, .init = cr_redirect_stderr)
{
	const char *w[] = { "a", "--qiet", NULL };
	struct sim_cli cl;

	cr_assert_eq(parse(&cl, w), SIM_CLI_USAGE);
	sim_cli_free(&cl);
	cr_assert_eq(sim_cli_usage_error(&t_cmd, "x %d", 5), 7);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"protsim tcmd: unknown option '--qiet' (did you mean '--quiet'?)\n"
		"usage: protsim tcmd FILE [--set KEY=VALUE]... [--seed N] [--out DIR] [-q|--quiet]\n"
		"(protsim tcmd --help describes every option)\n"
		"protsim tcmd: x 5\n"
		"usage: protsim tcmd FILE [--set KEY=VALUE]... [--seed N] [--out DIR] [-q|--quiet]\n"
		"(protsim tcmd --help describes every option)\n");
}

/* --set and --seed apply in command-line order; errors name the option. */
Test(cli, apply_in_order)
{
	const char *w1[] = { "f", "--seed", "3", "--set", "engine.seed=4", NULL };
	const char *w2[] = { "f", "--set", "engine.seed=4", "--seed=3", "--set", "machine.cpus=5",
			     NULL };
	const char *w3[] = { "f", "--set", "machine.cpus=0", NULL };
	const char *w4[] = { "f", "--seed", "x", NULL };
	struct sim_err err;
	struct sim_cli cl;
	struct sim *s;

	s = sim_new(NULL);
	cr_assert_eq(parse(&cl, w1), SIM_CLI_RUN);
	cr_assert_eq(sim_cli_apply(s, &cl, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "engine.seed"), 4);
	cr_assert_str_eq(sim_cfg_origin(s, "engine.seed"), "--set");
	sim_cli_free(&cl);
	sim_free(s);

	s = sim_new(NULL);
	cr_assert_eq(parse(&cl, w2), SIM_CLI_RUN);
	cr_assert_eq(sim_cli_apply(s, &cl, &err), 0, "%s", err.msg);
	cr_assert_eq(sim_cfg_u64(s, "engine.seed"), 3);
	cr_assert_str_eq(sim_cfg_origin(s, "engine.seed"), "--seed");
	cr_assert_eq(sim_cfg_u64(s, "machine.cpus"), 5);
	sim_cli_free(&cl);

	cr_assert_eq(parse(&cl, w3), SIM_CLI_RUN);
	cr_assert_eq(sim_cli_apply(s, &cl, &err), -1);
	cr_assert_str_eq(err.msg, "--set: machine.cpus: must be between 1 and 256 (got '0')");
	cr_assert_eq(sim_cfg_u64(s, "machine.cpus"), 5, "a refused value changes nothing");
	sim_cli_free(&cl);

	cr_assert_eq(parse(&cl, w4), SIM_CLI_RUN);
	cr_assert_eq(sim_cli_apply(s, &cl, &err), -1);
	cr_assert_str_eq(err.msg, "--seed: engine.seed: expected a number, got 'x'");
	sim_cli_free(&cl);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Attach-time errors: where the key was set                           */
/* ------------------------------------------------------------------ */

Test(cli, error_locate)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;

	cr_assert_eq(sim_cfg_load_text(s, "cfg.ini", "\n[machine]\ncpus = 3\n", &err), 0);
	cr_assert_eq(sim_cfg_set(s, "engine.seed", "9", "--set", 0, &err), 0);
	/* set in a file: FILE:LINE */
	sim_err_set(&err, "machine.cpus: 3: too many");
	sim_cfg_error_locate(s, &err);
	cr_assert_str_eq(err.msg, "cfg.ini:3: machine.cpus: 3: too many");
	/* applied twice: unchanged (the message no longer starts with a key) */
	sim_cfg_error_locate(s, &err);
	cr_assert_str_eq(err.msg, "cfg.ini:3: machine.cpus: 3: too many");
	/* set with --set */
	sim_err_set(&err, "engine.seed: odd");
	sim_cfg_error_locate(s, &err);
	cr_assert_str_eq(err.msg, "--set: engine.seed: odd");
	/* a default value, an unknown word, no key at all: unchanged */
	sim_err_set(&err, "machine.mem: too small");
	sim_cfg_error_locate(s, &err);
	cr_assert_str_eq(err.msg, "machine.mem: too small");
	sim_err_set(&err, "cpu: cannot create the walker: no memory");
	sim_cfg_error_locate(s, &err);
	cr_assert_str_eq(err.msg, "cpu: cannot create the walker: no memory");
	sim_err_set(&err, "no colon here");
	sim_cfg_error_locate(s, &err);
	cr_assert_str_eq(err.msg, "no colon here");
	sim_free(s);
}
