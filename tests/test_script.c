/*
 * test_script.c - the operation-language interpreter: lexical rules,
 * result line format, expect matching, malformed-line messages and exit
 * codes, @CYCLE ordering and agent interleaving, the machine line, the
 * shell, and the engine ops (mem write/read, nop).
 *
 * A fake module supplies ops whose results and latencies the script
 * chooses, so the interpreter is tested without any hardware model.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/script_int.h"

/* ------------------------------------------------------------------ */
/* The fake module                                                     */
/* ------------------------------------------------------------------ */

/*
 * t [res=TOKEN] [lat=N] [steps=N] [fields=k:v,k:v] [say=TEXT]
 * Prints say (with '/' as a line break), sets the result and fields, then
 * advances lat cycles in `steps` equal chunks.
 */
static void op_t(struct sim_call *c)
{
	uint64_t lat = sim_arg_u64(c, "lat", 0), steps = sim_arg_u64(c, "steps", 1);
	const char *fields = sim_arg_str(c, "fields", NULL);

	if (sim_arg_has(c, "say")) {
		char *say = strdup(sim_arg_str(c, "say", ""));

		for (char *p = say; *p; p++)
			if (*p == '/')
				*p = '\n';
		sim_call_printf(c, "%s", say);
		free(say);
	}
	sim_call_result(c, "%s", sim_arg_str(c, "res", "OK"));
	if (fields) {
		char *copy = strdup(fields), *save = NULL;

		for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(f, ':');

			*colon = '\0';
			sim_call_field(c, f, "%s", colon + 1);
		}
		free(copy);
	}
	for (uint64_t i = 0; i < steps; i++)
		sim_advance(sim_call_agent(c), lat / steps);
}

/* types n=U64 [sz=SIZE] [b=BOOL] [e=read|write|fetch] [s=STR]: echo the parsed values. */
static void op_types(struct sim_call *c)
{
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "n", sim_arg_u64(c, "n", 0));
	sim_call_field_u64(c, "sz", sim_arg_u64(c, "sz", 77));
	sim_call_field_u64(c, "b", sim_arg_bool(c, "b", true));
	sim_call_field_u64(c, "e", sim_arg_enum(c, "e", 9));
	sim_call_field(c, "s", "%s", sim_arg_str(c, "s", "none"));
	sim_call_field_u64(c, "has_sz", sim_arg_has(c, "sz"));
	sim_call_field_hex(c, "hex", sim_arg_u64(c, "n", 0));
}

/* bad x=TEXT: refuses x at run time (sim_call_bad_arg). */
static void op_bad(struct sim_call *c)
{
	sim_advance(sim_call_agent(c), 3);
	sim_call_bad_arg(c, "x", "is not acceptable here (%s)", sim_arg_str(c, "x", ""));
}

/* fake two a=N: a two-word op. */
static void op_two(struct sim_call *c)
{
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "a", sim_arg_u64(c, "a", 0));
}

static void op_zero(struct sim_call *c)
{
	sim_call_result(c, "OK");
}

/* block: blocks its agent forever. */
static void op_block(struct sim_call *c)
{
	sim_block(sim_call_agent(c));
	sim_call_result(c, "OK");
}

/* noresult: a buggy op. */
static void op_noresult(struct sim_call *c)
{
	(void)c;
}

/*
 * chk [a=ADDR] [al=ADDR] [i=0..3] [big=N] [ps=4k|2m] [as=1|2|4|8] [p=PERMS]
 *     [sz=SIZE] [nz=SIZE]: echo the checked values of the typed arguments.
 */
static void op_chk(struct sim_call *c)
{
	static const char *const keys[] = { "a", "al", "i", "big", "ps", "as", "p", "sz", "nz",
					    NULL };

	sim_call_result(c, "OK");
	for (size_t i = 0; keys[i]; i++)
		if (sim_arg_has(c, keys[i]))
			sim_call_field_hex(c, keys[i], sim_arg_u64(c, keys[i], 0));
}

/* trunc path=TEXT: truncate that file (to change a script while it runs). */
static void op_trunc(struct sim_call *c)
{
	sim_call_result(c, truncate(sim_arg_str(c, "path", ""), 0) ? "ERROR" : "OK");
}

static const char *const kinds[] = { "read", "write", "fetch", NULL };

static const struct sim_arg_spec t_args[] = {
	SIM_A_STRM("res", false, "TOKEN"),
	SIM_A_U64("lat", false),
	SIM_A_U64("steps", false),
	SIM_A_STRM("fields", false, "k:v,..."),
	SIM_A_STR("say", false),
	SIM_A_END
};
static const struct sim_arg_spec types_args[] = {
	SIM_A_U64("n", true),
	SIM_A_SIZE("sz", false),
	SIM_A_BOOL("b", false),
	SIM_A_ENUM("e", false, kinds),
	SIM_A_STR("s", false),
	SIM_A_END
};
static const struct sim_arg_spec bad_args[] = {
	SIM_A_STR("x", true),
	SIM_A_END
};
static const struct sim_arg_spec chk_args[] = {
	SIM_A_ADDR("a", false),
	SIM_A_ADDR_ALIGN("al", false, SIM_SZ_4K),
	SIM_A_INT("i", false, 0, 3),
	SIM_A_INT("big", false, 0, UINT32_MAX),
	SIM_A_SIZESET("ps", false, SIM_SZ_4K | SIM_SZ_2M),
	SIM_A_SIZESET("as", false, 1 | 2 | 4 | 8),
	SIM_A_PERMS("p", false, "rwus"),
	SIM_A_SIZE_IN("sz", false, 1, 1u << 20),
	SIM_A_SIZE_IN("nz", false, 1, 0),
	SIM_A_END
};
static const struct sim_arg_spec trunc_args[] = {
	SIM_A_STR("path", true),
	SIM_A_END
};
static const struct sim_arg_spec two_args[] = {
	SIM_A_U64("a", false),
	SIM_A_END
};

static const struct sim_op fake_ops[] = {
	{ "t", t_args, "fake op with a chosen result", op_t },
	{ "types", types_args, "echo typed arguments", op_types },
	{ "bad", bad_args, "refuse x at run time", op_bad },
	{ "fake two", two_args, "a two-word op", op_two },
	{ "zero", NULL, "no arguments", op_zero },
	{ "block", NULL, "block forever", op_block },
	{ "noresult", NULL, "sets no result", op_noresult },
	{ "chk", chk_args, "echo typed arguments", op_chk },
	{ "trunc", trunc_args, "truncate a file", op_trunc },
	{ NULL, NULL, NULL, NULL }
};

static const struct sim_module fake_mod = { .name = "fake", .ops = fake_ops };
static const struct sim_module *const mods[] = { &fake_mod, NULL };

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

struct run {
	int rc;
	char *out;
	size_t outn;
	char *err;
	size_t errn;
};

/* Run @text on a fresh simulator; keep it in *@keep if non-NULL. */
static struct run run_text(const char *text, struct sim **keep)
{
	struct sim *s = sim_new(mods);
	struct run r = { 0 };
	FILE *out = open_memstream(&r.out, &r.outn), *err = open_memstream(&r.err, &r.errn);

	cr_assert(out && err);
	r.rc = sim_script_run_text(s, text, "t.ps", out, err);
	fclose(out);
	fclose(err);
	if (keep)
		*keep = s;
	else
		sim_free(s);
	return r;
}

/* Run @text through the shell (non-tty input). */
static struct run run_shell(const char *text)
{
	struct sim *s = sim_new(mods);
	struct run r = { 0 };
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	FILE *out = open_memstream(&r.out, &r.outn), *err = open_memstream(&r.err, &r.errn);

	cr_assert(in && out && err);
	r.rc = sim_script_run(s, in, "shell", out, err, true);
	fclose(in);
	fclose(out);
	fclose(err);
	sim_free(s);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Assert exit code, stdout and stderr exactly. */
static void check_run(const char *text, int rc, const char *out, const char *err)
{
	struct run r = run_text(text, NULL);

	cr_assert_str_eq(r.out, out, "script:\n%s\nstdout:\n%s", text, r.out);
	cr_assert_str_eq(r.err, err, "script:\n%s\nstderr:\n%s", text, r.err);
	cr_assert_eq(r.rc, rc, "script:\n%s\nrc %d, want %d", text, r.rc, rc);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Lexical rules                                                       */
/* ------------------------------------------------------------------ */

struct split_case {
	char line[64];
	int n;               /* words expected */
	char last[32];       /* the last word, if n > 0 */
};

static struct split_case split_cases[] = {
	{ "", 0, "" },
	{ "   \t ", 0, "" },
	{ "# a comment", 0, "" },
	{ "   # indented comment", 0, "" },
	{ "#NPF at line start is a comment", 0, "" },
	{ "a  b\tc", 3, "c" },
	{ "a b # comment c", 2, "b" },
	{ "a b #comment", 2, "b" },
	{ "a#b", 1, "a#b" },
	{ "t res=#NPF(RMP)", 2, "res=#NPF(RMP)" },
	{ "expect #NPF(RMP)", 2, "#NPF(RMP)" },
	{ "expect #NPF(RMP) # why", 2, "#NPF(RMP)" },
	{ "expect #NPF(RMP) #PF", 2, "#NPF(RMP)" },
	{ "expect # nothing", 1, "expect" },
	{ "expect #1", 1, "expect" },
	{ "expect OK #NPF", 2, "OK" },
	{ "expect\t#S2F(level=1)\r", 2, "#S2F(level=1)" },
	{ "expected #NPF", 1, "expected" },
	{ "a\r", 1, "a" },
	{ "\va\fb\r", 2, "b" },
};

ParameterizedTestParameters(script, split)
{
	return cr_make_param_array(struct split_case, split_cases,
				   sizeof(split_cases) / sizeof(split_cases[0]));
}

ParameterizedTest(struct split_case *c, script, split)
{
	struct sim_script_words w;

	sim_script_split(c->line, &w);
	cr_assert_eq((int)w.n, c->n, "'%s': %zu words, want %d", c->line, w.n, c->n);
	if (c->n)
		cr_assert_str_eq(w.w[w.n - 1], c->last, "'%s'", c->line);
	sim_script_words_free(&w);
}

Test(script, split_keeps_every_word_in_order)
{
	struct sim_script_words w;

	sim_script_split("@100 cpu1 s2 map vm=1 ipa=0x0", &w);
	cr_assert_eq(w.n, 6);
	cr_assert_str_eq(w.w[0], "@100");
	cr_assert_str_eq(w.w[1], "cpu1");
	cr_assert_str_eq(w.w[2], "s2");
	cr_assert_str_eq(w.w[3], "map");
	cr_assert_str_eq(w.w[4], "vm=1");
	cr_assert_str_eq(w.w[5], "ipa=0x0");
	sim_script_words_free(&w);
}

Test(script, token_shapes)
{
	static const char *const good[] = { "OK", "#NPF(W,RMP)", "ERROR(exists)", "X()",
					    "#S2F(level=2,type=access)" };
	static const char *const bad[] = { "", "(A)", "OK(", "OK)", "OK(A)B", "OK((A))",
					   "OK(A))", "OK)(" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(sim_script_token_ok(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!sim_script_token_ok(bad[i]), "%s", bad[i]);
}

Test(script, value_equality)
{
	cr_assert(sim_script_value_eq("0", "0x0"));
	cr_assert(sim_script_value_eq("4k", "4096"));
	cr_assert(sim_script_value_eq("2M", "0x200000"));
	cr_assert(sim_script_value_eq("1g", "1073741824"));
	cr_assert(!sim_script_value_eq("4k", "4097"));
	cr_assert(sim_script_value_eq("rw", "rw"));
	cr_assert(!sim_script_value_eq("rw", "RW"));
	cr_assert(!sim_script_value_eq("rw", "r"));
	cr_assert(!sim_script_value_eq("0x", "0"));
}

/* ------------------------------------------------------------------ */
/* Result line format                                                  */
/* ------------------------------------------------------------------ */

Test(script, result_line_format)
{
	check_run("t res=OK lat=7\n"
		  "t   lat=3    res=SUCCESS\tfields=a:1,b:0x2   # comment\n"
		  "@100 cpu1 t res=#NPF(W,RMP) lat=4\n"
		  "cpu1 zero\n"
		  "fake two a=0x10\n"
		  "types n=0x10 sz=2m b=0 e=write s=hello\n"
		  "types n=5\n",
		  0,
		  "[0] cpu0 t res=OK lat=7 -> OK (7 cycles)\n"
		  "[7] cpu0 t lat=3 res=SUCCESS fields=a:1,b:0x2 -> SUCCESS a=1 b=0x2 (3 cycles)\n"
		  "[10] cpu0 fake two a=0x10 -> OK a=16 (0 cycles)\n"
		  "[10] cpu0 types n=0x10 sz=2m b=0 e=write s=hello -> OK n=16 sz=2097152 b=0 e=1 "
		  "s=hello has_sz=1 hex=0x10 (0 cycles)\n"
		  "[10] cpu0 types n=5 -> OK n=5 sz=77 b=1 e=9 s=none has_sz=0 hex=0x5 (0 cycles)\n"
		  "[100] cpu1 t res=#NPF(W,RMP) lat=4 -> #NPF(W,RMP) (4 cycles)\n"
		  "[104] cpu1 zero -> OK (0 cycles)\n",
		  "");
}

Test(script, extra_lines_come_before_the_result)
{
	check_run("t say=L4_addr=0x1000/L3_addr=0x2000 lat=2\n"
		  "t say=one\n",
		  0,
		  "  L4_addr=0x1000\n"
		  "  L3_addr=0x2000\n"
		  "[0] cpu0 t say=L4_addr=0x1000/L3_addr=0x2000 lat=2 -> OK (2 cycles)\n"
		  "  one\n"
		  "[2] cpu0 t say=one -> OK (0 cycles)\n",
		  "");
}

Test(script, blank_and_comment_lines_count_for_line_numbers)
{
	check_run("\n# c\n   \nt res=A\n\n# between\nexpect B\n", 1,
		  "[0] cpu0 t res=A -> A (0 cycles)\n",
		  "t.ps:7: expect failed: expected B; got A\n");
}

Test(script, empty_script)
{
	check_run("", 0, "", "");
	check_run("# only a comment\n\n", 0, "", "");
}

Test(script, no_final_newline)
{
	check_run("t lat=1", 0, "[0] cpu0 t lat=1 -> OK (1 cycles)\n", "");
}

/* ------------------------------------------------------------------ */
/* expect matching                                                     */
/* ------------------------------------------------------------------ */

struct expect_case {
	char res[48];       /* result token the op returns */
	char fields[48];    /* its fields, k:v,k:v */
	char want[64];      /* the expect line after "expect " */
	bool pass;
};

static struct expect_case expect_cases[] = {
	{ "SUCCESS", "", "SUCCESS", true },
	{ "SUCCESS", "", "success", true },
	{ "SUCCESS", "", "FAIL_INUSE", false },
	{ "OKAY", "", "OK", false },
	{ "OK", "", "OKAY", false },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#NPF(RMP,SIZEM)", true },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#npf(rmp,sizem)", true },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#NPF(W,RMP,ENC,FINAL,SIZEM)", true },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#NPF(RMP,VMPL)", false },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#NPF", true },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#NPF()", true },
	{ "#NPF(W,RMP,ENC,FINAL,SIZEM)", "", "#PF(RMP)", false },
	{ "#NPF(W,RMP)", "", "#NPF(RM)", false },
	{ "#NPF", "", "#NPF(RMP)", false },
	{ "#PF(W,RMP)", "", "#PF(W,RMP,P)", false },
	{ "#S2F(level=2,type=permission)", "", "#S2F(type=permission)", true },
	{ "#S2F(level=2,type=permission)", "", "#S2F(TYPE=Permission)", true },
	{ "#S2F(level=2,type=permission)", "", "#S2F(type=translation)", false },
	{ "#S2F(level=2,type=permission)", "", "#S2F(level=0x2)", true },
	{ "#S2F(level=2,type=permission)", "", "#S2F(level=3)", false },
	{ "#VC(0x404)", "", "#VC(1028)", true },
	{ "#VC(0x404)", "", "#VC(0x405)", false },
	{ "ERROR(exists)", "", "ERROR", true },
	{ "ERROR(exists)", "", "error(EXISTS)", true },
	{ "ERROR(exists)", "", "ERROR(busy)", false },
	{ "IO_PAGE_FAULT(RMP)", "", "IO_PAGE_FAULT(rmp)", true },
	{ "OK", "pa:0x300000", "OK pa=0x300000", true },
	{ "OK", "pa:0x300000", "OK pa=3145728", true },
	{ "OK", "pa:0x300000", "OK pa=3m", true },
	{ "OK", "pa:0x300000", "OK pa=0x300001", false },
	{ "OK", "gpa:0x0", "OK gpa=0", true },
	{ "OK", "size:4k", "OK size=4096", true },
	{ "OK", "size:2m", "OK size=0x200000", true },
	{ "OK", "size:2m", "OK size=4k", false },
	{ "OK", "perms:rw", "OK perms=rw", true },
	{ "OK", "perms:rw", "OK perms=RW", false },
	{ "OK", "perms:rw", "OK perms=r", false },
	{ "OK", "perms:rw", "OK Perms=rw", false },
	{ "OK", "", "OK pa=0", false },
	{ "OK", "pa:0x10", "OK", true },
	{ "SUCCESS", "changed:0", "SUCCESS changed=0", true },
	{ "SUCCESS", "changed:0", "SUCCESS changed=0x0", true },
	{ "SUCCESS", "changed:0", "SUCCESS changed=1", false },
	{ "FAIL_INUSE", "changed:0", "SUCCESS changed=0", false },
	{ "SUCCESS", "assigned:1,validated:0", "SUCCESS validated=0 assigned=1", true },
	{ "SUCCESS", "assigned:1,validated:0", "SUCCESS validated=0 assigned=0", false },
	{ "SUCCESS", "perms1:none", "SUCCESS perms1=none", true },
};

ParameterizedTestParameters(script, expect_matching)
{
	return cr_make_param_array(struct expect_case, expect_cases,
				   sizeof(expect_cases) / sizeof(expect_cases[0]));
}

ParameterizedTest(struct expect_case *c, script, expect_matching)
{
	char text[256], out[512], err[512];
	char got[128];

	snprintf(text, sizeof(text), "t res=%s%s%s\nexpect %s\n", c->res,
		 c->fields[0] ? " fields=" : "", c->fields, c->want);
	snprintf(got, sizeof(got), "%s", c->res);
	if (c->fields[0]) {
		/* k:v,k:v -> " k=v k=v" */
		char *p = got + strlen(got);

		*p++ = ' ';
		for (const char *f = c->fields; *f; f++)
			*p++ = *f == ':' ? '=' : *f == ',' ? ' ' : *f;
		*p = '\0';
	}
	snprintf(out, sizeof(out), "[0] cpu0 t res=%s%s%s -> %s (0 cycles)\n", c->res,
		 c->fields[0] ? " fields=" : "", c->fields, got);
	if (c->pass)
		err[0] = '\0';
	else
		snprintf(err, sizeof(err), "t.ps:2: expect failed: expected %s; got %s\n", c->want,
			 got);
	check_run(text, c->pass ? 0 : 1, out, err);
}

Test(script, several_expects_on_one_op)
{
	check_run("t res=SUCCESS fields=a:1,b:2\nexpect SUCCESS\n# c\nexpect SUCCESS b=2\n"
		  "expect SUCCESS a=2\n", 1,
		  "[0] cpu0 t res=SUCCESS fields=a:1,b:2 -> SUCCESS a=1 b=2 (0 cycles)\n",
		  "t.ps:5: expect failed: expected SUCCESS a=2; got SUCCESS a=1 b=2\n");
}

Test(script, expect_failure_stops_the_run)
{
	check_run("t res=A\nexpect   B    x=1\nt res=C\n", 1,
		  "[0] cpu0 t res=A -> A (0 cycles)\n",
		  "t.ps:2: expect failed: expected B x=1; got A\n");
}

Test(script, expect_failure_stops_other_agents_in_flight)
{
	/* cpu1's op (start 0) completes as one step before cpu0's at 10 fails. */
	check_run("@0 cpu1 t res=LATE lat=100 steps=4\n@10 cpu0 t res=A\nexpect B\n"
		  "@200 cpu1 t\n", 1,
		  "[0] cpu1 t res=LATE lat=100 steps=4 -> LATE (100 cycles)\n"
		  "[10] cpu0 t res=A -> A (0 cycles)\n",
		  "t.ps:3: expect failed: expected B; got A\n");
}

Test(script, stopped_run_drains_ops_in_flight)
{
	struct sim *s;
	struct run r = run_text("@0 cpu1 t res=LATE lat=100 steps=4\n@10 cpu0 t res=A\n"
				"expect B\n@200 cpu1 t\n", &s);

	cr_assert_eq(r.rc, 1);
	/* cpu1's op finished; its next line never started. */
	cr_assert_eq(sim_now(sim_agent_by_id(s, 1)), 100);
	cr_assert_eq(sim_now(sim_agent_by_id(s, 0)), 10);
	/* Nothing of the script is left to run. */
	cr_assert_eq(sim_run(s), 0);
	cr_assert_eq(sim_now(sim_agent_by_id(s, 1)), 100);
	sim_free(s);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* The lines run on the machine's host CPUs                            */
/* ------------------------------------------------------------------ */

Test(script, lines_run_on_the_machines_host_cpus)
{
	struct sim *s;
	struct run r = run_text("t lat=5\ncpu1 t lat=3\n", &s);
	char *out = NULL;
	size_t n = 0;
	FILE *o;

	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_eq(sim_agent_count(s), 2);
	for (unsigned i = 0; i < 2; i++)
		cr_expect_eq(sim_host_cpu(s, i), sim_agent_by_id(s, (int)i));
	cr_expect_eq(sim_now(sim_host_cpu(s, 0)), 5);
	cr_expect_eq(sim_now(sim_host_cpu(s, 1)), 3);
	/* A second script on this machine goes on on the same CPUs, clocks kept. */
	o = open_memstream(&out, &n);
	cr_assert_eq(sim_script_run_text(s, "t lat=1\ncpu1 t\n", "u.ps", o, o), 0);
	fclose(o);
	cr_expect_str_eq(out, "[3] cpu1 t -> OK (0 cycles)\n[5] cpu0 t lat=1 -> OK (1 cycles)\n");
	cr_expect_eq(sim_agent_count(s), 2);
	free(out);
	sim_free(s);
	run_free(&r);
}

/* kick to=N cost=C: posts to host CPU N a message that takes C cycles. */
static uint64_t kick_ran_at;

static void kick_msg(struct sim_agent *self, void *arg)
{
	kick_ran_at = sim_now(self);
	sim_advance(self, (uint64_t)(uintptr_t)arg);
}

static void op_kick(struct sim_call *c)
{
	struct sim_agent *to = sim_host_cpu(sim_call_sim(c), (unsigned)sim_arg_u64(c, "to", 0));

	sim_post(sim_call_agent(c), to, kick_msg, (void *)(uintptr_t)sim_arg_u64(c, "cost", 0));
	sim_call_result(c, "OK");
}

static const struct sim_arg_spec kick_args[] = {
	SIM_A_INT("to", true, 0, 255),
	SIM_A_U64("cost", true),
	SIM_A_END
};
static const struct sim_op kick_ops[] = {
	{ "kick", kick_args, "post work to a host CPU", op_kick },
	{ NULL, NULL, NULL, NULL }
};
static const struct sim_module kick_mod = { .name = "kick", .ops = kick_ops };

/*
 * Work another agent posts to a host CPU runs there between its lines, in
 * post order: cpu1's second line is posted when its first completes, after
 * the kick, so it starts when the kick's 7 cycles are done.  Batch and shell.
 */
Test(script, work_posted_to_a_cpu_runs_between_its_lines)
{
	static const struct sim_module *const kmods[] = { &fake_mod, &kick_mod, NULL };
	static const char text[] = "cpu1 t lat=5\n@0 cpu0 kick to=1 cost=7\ncpu1 t\n";
	static const char *const want[2] = {
		"[0] cpu0 kick to=1 cost=7 -> OK (0 cycles)\n"
		"[0] cpu1 t lat=5 -> OK (5 cycles)\n"
		"[12] cpu1 t -> OK (0 cycles)\n",
		"[0] cpu1 t lat=5 -> OK (5 cycles)\n"
		"[0] cpu0 kick to=1 cost=7 -> OK (0 cycles)\n"
		"[12] cpu1 t -> OK (0 cycles)\n",
	};

	for (int shell = 0; shell < 2; shell++) {
		struct sim *s = sim_new(kmods);
		char *out = NULL;
		size_t n = 0;
		FILE *o = open_memstream(&out, &n), *in = fmemopen((void *)text, strlen(text), "r");
		int rc;

		kick_ran_at = 0;
		rc = shell ? sim_script_run(s, in, "k.ps", o, o, true)
			   : sim_script_run_text(s, text, "k.ps", o, o);
		fclose(o);
		fclose(in);
		cr_assert_eq(rc, 0, "%s", out);
		cr_expect_str_eq(out, want[shell], "shell=%d", shell);
		cr_expect_eq(kick_ran_at, 5, "shell=%d: after cpu1's first line", shell);
		free(out);
		sim_free(s);
	}
}

/* ------------------------------------------------------------------ */
/* Malformed lines: exit 2 before anything runs                       */
/* ------------------------------------------------------------------ */

struct bad_case {
	char text[96];
	char err[160];
};

static struct bad_case bad_cases[] = {
	{ "frob\n", "t.ps:1: frob: unknown operation" },
	{ "frob x=1\n", "t.ps:1: frob: unknown operation" },
	{ "fake frob\n", "t.ps:1: fake frob: unknown operation" },
	{ "fake\n", "t.ps:1: fake: unknown operation" },
	{ "mem frob pa=0\n", "t.ps:1: mem frob: unknown operation" },
	{ "t zz=1\n", "t.ps:1: zz: unknown argument of 't'" },
	{ "fake two b=1\n", "t.ps:1: b: unknown argument of 'fake two'" },
	{ "t lat=1 foo\n", "t.ps:1: foo: not a key=value argument" },
	{ "t =5\n", "t.ps:1: =5: not a key=value argument" },
	{ "types s=x\n", "t.ps:1: n: missing (required by 'types')" },
	{ "types n=12abc\n", "t.ps:1: n: '12abc' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "types n=0x\n", "t.ps:1: n: '0x' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "types n=-1\n", "t.ps:1: n: '-1' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "types n=18446744073709551616\n",
	  "t.ps:1: n: '18446744073709551616' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "types n=1 sz=3q\n", "t.ps:1: sz: '3q' is not a size (bytes, or 4k/2m/1g)" },
	{ "types n=1 b=2\n", "t.ps:1: b: '2' is not 0 or 1" },
	{ "types n=1 b=true\n", "t.ps:1: b: 'true' is not 0 or 1" },
	{ "types n=1 e=rd\n", "t.ps:1: e: 'rd' is not one of read|write|fetch" },
	{ "types n=1 e=READ\n", "t.ps:1: e: 'READ' is not one of read|write|fetch" },
	{ "types n=1 n=2\n", "t.ps:1: n: given twice" },
	{ "types n=\n", "t.ps:1: n: missing value" },
	{ "expect OK\n", "t.ps:1: expect: must directly follow an operation line" },
	{ "machine mem=1g cpus=1\nexpect OK\n",
	  "t.ps:2: expect: must directly follow an operation line" },
	{ "t\nexpect\n", "t.ps:2: expect: missing result" },
	{ "t\nexpect OK(\n", "t.ps:2: OK(: malformed result (expected NAME or NAME(ITEM,...))" },
	{ "t\nexpect OK foo\n", "t.ps:2: foo: not a field=value" },
	{ "t\nexpect OK =1\n", "t.ps:2: =1: not a field=value" },
	{ "t\nexpect OK a=\n", "t.ps:2: a: missing value" },
	{ "t\nmachine mem=1g cpus=1\n", "t.ps:2: machine: must come before the first operation" },
	{ "machine mem=1g cpus=1\nmachine mem=1g cpus=1\n",
	  "t.ps:2: machine: given twice (first on line 1)" },
	{ "machine mem=1g\n", "t.ps:1: cpus: missing (required by 'machine')" },
	{ "machine cpus=1\n", "t.ps:1: mem: missing (required by 'machine')" },
	{ "machine mem=1g cpus=1 foo=3\n",
	  "t.ps:1: foo: unknown machine key (mem, cpus, profile, rmp, rmp_base, rmp_segment, "
	  "host, or a dotted config key)" },
	{ "machine mem=1g cpus=1 no.such=3\n", "t.ps:1: no.such: unknown key" },
	{ "machine mem=1g cpus=1 rmp=off\n", "t.ps:1: rmp.mode: unknown key" },
	{ "machine mem=1g cpus=2 mem=2g\n", "t.ps:1: mem: given twice" },
	{ "machine mem=1g cpus=2 machine.mem=2g\n", "t.ps:1: machine.mem: given twice" },
	{ "machine mem=1g cpus=2 x\n", "t.ps:1: x: not a key=value argument" },
	{ "machine mem=1g cpus=\n", "t.ps:1: cpus: missing value" },
	{ "cpu2 t\n", "t.ps:1: cpu2: no such agent (the machine has cpu0..cpu1)" },
	{ "cpu01 t\n", "t.ps:1: cpu01: no such agent (the machine has cpu0..cpu1)" },
	{ "cpu99999999999 t\n", "t.ps:1: cpu99999999999: no such agent (the machine has cpu0..cpu1)" },
	{ "machine mem=1g cpus=4\ncpu3 t\ncpu4 t\n",
	  "t.ps:3: cpu4: no such agent (the machine has cpu0..cpu3)" },
	{ "@abc t\n", "t.ps:1: @abc: not a cycle number (decimal or 0x hex)" },
	{ "@ t\n", "t.ps:1: @: not a cycle number (decimal or 0x hex)" },
	{ "@281474976710657 t\n", "t.ps:1: @281474976710657: cycle too large (at most 2^48)" },
	{ "@1\n", "t.ps:1: @1: missing operation" },
	{ "cpu0\n", "t.ps:1: cpu0: missing operation" },
	{ "@1 cpu1\n", "t.ps:1: cpu1: missing operation" },
	{ "cpu0 @5 t\n", "t.ps:1: @5: the start cycle must come first on the line" },
	{ "@5 expect OK\n", "t.ps:1: expect: must be on a line of its own (no @CYCLE or agent)" },
	{ "cpu1 machine mem=1g\n",
	  "t.ps:1: machine: must be on a line of its own (no @CYCLE or agent)" },
	{ "help\n", "t.ps:1: help: only available in protsim shell" },
	{ "quit\n", "t.ps:1: quit: only available in protsim shell" },
	{ "t\nt\nfrob\n", "t.ps:3: frob: unknown operation" },
	{ "mem write pa=0\n", "t.ps:1: value: missing (required by 'mem write')" },
	{ "nop\n", "t.ps:1: cycles: missing (required by 'nop')" },
	{ "nop cycles=1k\n",
	  "t.ps:1: cycles: '1k' is not a number (decimal or 0x hex, at most 64 bits)" },
};

ParameterizedTestParameters(script, malformed)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(struct bad_case *c, script, malformed)
{
	char err[200];

	snprintf(err, sizeof(err), "%s\n", c->err);
	/* Nothing runs: stdout stays empty even when good lines come first. */
	check_run(c->text, 2, "", err);
}

/* ------------------------------------------------------------------ */
/* Typed arguments: checked while the script is parsed                 */
/* ------------------------------------------------------------------ */

struct arg_case {
	char args[64];       /* the arguments of a `chk` line */
	char want[160];      /* its result fields, or the message after "t.ps:2: " */
};

/* Good values and what the op reads. */
static struct arg_case arg_good_cases[] = {
	{ "a=0", "a=0x0" },
	{ "a=0xfffffffffffff", "a=0xfffffffffffff" },
	{ "a=4503599627370495", "a=0xfffffffffffff" },
	{ "al=0", "al=0x0" },
	{ "al=0x2000", "al=0x2000" },
	{ "al=0xffffffffff000", "al=0xffffffffff000" },
	{ "i=0", "i=0x0" },
	{ "i=0x3", "i=0x3" },
	{ "big=4294967295", "big=0xffffffff" },
	{ "ps=4k", "ps=0x1000" },
	{ "ps=2M", "ps=0x200000" },
	{ "ps=0x1000", "ps=0x1000" },
	{ "ps=2097152", "ps=0x200000" },
	{ "as=1", "as=0x1" },
	{ "as=8", "as=0x8" },
	{ "p=none", "p=0x0" },
	{ "p=r", "p=0x1" },
	{ "p=wr", "p=0x3" },
	{ "p=sur", "p=0xd" },
	{ "p=rwus", "p=0xf" },
	{ "sz=1", "sz=0x1" },
	{ "sz=1m", "sz=0x100000" },
	{ "nz=1", "nz=0x1" },
	{ "nz=1t", "nz=0x10000000000" },
	{ "i=2 a=0x10 p=w", "a=0x10 i=0x2 p=0x2" },
};

ParameterizedTestParameters(script, typed_args_good)
{
	return cr_make_param_array(struct arg_case, arg_good_cases,
				   sizeof(arg_good_cases) / sizeof(arg_good_cases[0]));
}

ParameterizedTest(struct arg_case *c, script, typed_args_good)
{
	char text[128], out[512];

	snprintf(text, sizeof(text), "nop cycles=1\nchk %s\n", c->args);
	snprintf(out, sizeof(out),
		 "[0] cpu0 nop cycles=1 -> OK (1 cycles)\n[1] cpu0 chk %s -> OK %s (0 cycles)\n",
		 c->args, c->want);
	check_run(text, 0, out, "");
}

/* Bad values: exit 2 before anything runs, one message naming line and key. */
static struct arg_case arg_bad_cases[] = {
	{ "a=0x10000000000000", "a: 0x10000000000000 is not below 2^52" },
	{ "a=4503599627370496", "a: 4503599627370496 is not below 2^52" },
	{ "a=0xffffffffffffffff", "a: 0xffffffffffffffff is not below 2^52" },
	{ "a=x", "a: 'x' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "a=4k", "a: '4k' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "al=0x1001", "al: 0x1001 is not 4k-aligned" },
	{ "al=0x800", "al: 0x800 is not 4k-aligned" },
	{ "al=0x10000000000000", "al: 0x10000000000000 is not below 2^52" },
	{ "i=4", "i: 4 is not in 0..3" },
	{ "i=0x10", "i: 0x10 is not in 0..3" },
	{ "i=-1", "i: '-1' is not a number (decimal or 0x hex, at most 64 bits)" },
	{ "big=4294967296", "big: 4294967296 is not in 0..2^32-1" },
	{ "ps=8k", "ps: 8k is not one of 4k|2m" },
	{ "ps=1g", "ps: 1g is not one of 4k|2m" },
	{ "ps=0", "ps: 0 is not one of 4k|2m" },
	{ "ps=0x1001", "ps: 0x1001 is not one of 4k|2m" },
	{ "ps=6m", "ps: 6m is not one of 4k|2m" },
	{ "ps=4q", "ps: '4q' is not a size (bytes, or 4k/2m/1g)" },
	{ "as=3", "as: 3 is not one of 1|2|4|8" },
	{ "as=16", "as: 16 is not one of 1|2|4|8" },
	{ "p=rq", "p: 'rq' is not none or letters from r, w, u, s (each at most once)" },
	{ "p=rr", "p: 'rr' is not none or letters from r, w, u, s (each at most once)" },
	{ "p=R", "p: 'R' is not none or letters from r, w, u, s (each at most once)" },
	{ "p=None", "p: 'None' is not none or letters from r, w, u, s (each at most once)" },
	{ "p=x", "p: 'x' is not none or letters from r, w, u, s (each at most once)" },
	{ "sz=0", "sz: 0 is not in 1..1m" },
	{ "sz=2m", "sz: 2m is not in 1..1m" },
	{ "sz=1048577", "sz: 1048577 is not in 1..1m" },
	{ "nz=0", "nz: 0 is not at least 1" },
	{ "nz=0x0", "nz: 0x0 is not at least 1" },
	/* The first bad value in line order is the one reported. */
	{ "i=9 a=0x10000000000000", "i: 9 is not in 0..3" },
	{ "a=0x10000000000000 i=9", "a: 0x10000000000000 is not below 2^52" },
};

ParameterizedTestParameters(script, typed_args_bad)
{
	return cr_make_param_array(struct arg_case, arg_bad_cases,
				   sizeof(arg_bad_cases) / sizeof(arg_bad_cases[0]));
}

ParameterizedTest(struct arg_case *c, script, typed_args_bad)
{
	char text[128], err[256];

	snprintf(text, sizeof(text), "nop cycles=1\nchk %s\nnop cycles=2\n", c->args);
	snprintf(err, sizeof(err), "t.ps:2: %s\n", c->want);
	check_run(text, 2, "", err);
}

/* A bad value far below: still found before the first line runs. */
Test(script, bad_value_far_below_stops_before_anything_runs)
{
	size_t n = 20000, len = 0;
	char *text = malloc(n * 16 + 64);

	cr_assert(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "t lat=1\n");
	sprintf(text + len, "chk i=4\nt\n");
	check_run(text, 2, "", "t.ps:20001: i: 4 is not in 0..3\n");
	free(text);
}

/* ------------------------------------------------------------------ */
/* Usage lines, generated from the argument tables                     */
/* ------------------------------------------------------------------ */

Test(script, usage_from_arg_table)
{
	char buf[256];

	cr_assert_str_eq(sim_op_usage(&fake_ops[7], buf, sizeof(buf)),
			 "chk [a=ADDR] [al=ADDR] [i=0..3] [big=N] [ps=4k|2m] [as=1|2|4|8] "
			 "[p=PERMS] [sz=SIZE] [nz=SIZE]");
	cr_assert_str_eq(sim_op_usage(&fake_ops[0], buf, sizeof(buf)),
			 "t [res=TOKEN] [lat=N] [steps=N] [fields=k:v,...] [say=TEXT]");
	cr_assert_str_eq(sim_op_usage(&fake_ops[1], buf, sizeof(buf)),
			 "types n=N [sz=SIZE] [b=0|1] [e=read|write|fetch] [s=TEXT]");
	cr_assert_str_eq(sim_op_usage(&fake_ops[3], buf, sizeof(buf)), "fake two [a=N]");
	cr_assert_str_eq(sim_op_usage(&fake_ops[4], buf, sizeof(buf)), "zero");
	/* The engine ops, as help prints them. */
	cr_assert_str_eq(sim_op_usage(&sim_core_ops[0], buf, sizeof(buf)),
			 "mem write pa=ADDR value=N [size=1|2|4|8]");
	cr_assert_str_eq(sim_op_usage(&sim_core_ops[1], buf, sizeof(buf)),
			 "mem read pa=ADDR [size=1|2|4|8]");
	cr_assert_str_eq(sim_op_usage(&sim_core_ops[2], buf, sizeof(buf)), "nop cycles=N");
	/* Cut short, still terminated. */
	cr_assert_str_eq(sim_op_usage(&fake_ops[3], buf, 6), "fake ");
}

/* ------------------------------------------------------------------ */
/* A bad argument table is a programming error (sim_fatal at start)    */
/* ------------------------------------------------------------------ */

static const struct sim_arg_spec bad_spec_int[] = { SIM_A_INT("x", false, 5, 4), SIM_A_END };
static const struct sim_arg_spec bad_spec_size[] = { SIM_A_SIZE_IN("x", false, 9, 8),
						     SIM_A_END };
static const struct sim_arg_spec bad_spec_align[] = { SIM_A_ADDR_ALIGN("x", false, 3),
						      SIM_A_END };
static const struct sim_arg_spec bad_spec_sizes[] = { SIM_A_SIZESET("x", false, 0), SIM_A_END };
static const struct sim_arg_spec bad_spec_letters[] = { SIM_A_PERMS("x", false, "rwr"),
							SIM_A_END };
static const struct sim_arg_spec bad_spec_noletters[] = { SIM_A_PERMS("x", false, ""),
							  SIM_A_END };
static const struct sim_arg_spec bad_spec_enum[] = { SIM_A_ENUM("x", false, NULL), SIM_A_END };
static const struct sim_arg_spec bad_spec_twice[] = { SIM_A_U64("x", false),
						      SIM_A_BOOL("x", false), SIM_A_END };
static const struct sim_arg_spec bad_spec_key[] = { SIM_A_U64("x=y", false), SIM_A_END };
static const struct sim_arg_spec bad_spec_type[] = { { .key = "x", .type = 99 }, SIM_A_END };

static const struct sim_arg_spec *const bad_specs[] = {
	bad_spec_int, bad_spec_size, bad_spec_align, bad_spec_sizes, bad_spec_letters,
	bad_spec_noletters, bad_spec_enum, bad_spec_twice, bad_spec_key, bad_spec_type,
};

/* An index into bad_specs (test parameters must not hold pointers). */
struct bad_spec_case {
	int idx;
};

static struct bad_spec_case bad_spec_cases[] = {
	{ 0 }, { 1 }, { 2 }, { 3 }, { 4 }, { 5 }, { 6 }, { 7 }, { 8 }, { 9 },
};

ParameterizedTestParameters(script, bad_spec_is_a_bug)
{
	return cr_make_param_array(struct bad_spec_case, bad_spec_cases,
				   sizeof(bad_spec_cases) / sizeof(bad_spec_cases[0]));
}

ParameterizedTest(struct bad_spec_case *c, script, bad_spec_is_a_bug, .signal = SIGABRT)
{
	const struct sim_op ops[] = { { "x", bad_specs[c->idx], "bad spec", op_zero },
				      { NULL, NULL, NULL, NULL } };
	const struct sim_module mod = { .name = "x", .ops = ops };
	const struct sim_module *const m[] = { &mod, NULL };
	struct sim *s = sim_new(m);

	sim_script_run_text(s, "nop cycles=1\n", "t.ps", stdout, stderr);
}

/* ------------------------------------------------------------------ */
/* Run-time failures (exit 2)                                          */
/* ------------------------------------------------------------------ */

Test(script, bad_arg_at_run_time_stops_with_2)
{
	check_run("t lat=1\nbad x=zz\nt\n", 2,
		  "[0] cpu0 t lat=1 -> OK (1 cycles)\n",
		  "t.ps:2: x: is not acceptable here (zz)\n");
}

Test(script, cycle_earlier_than_clock_stops_with_2)
{
	check_run("t lat=10\n@10 t lat=1\n@5 t\nt\n", 2,
		  "[0] cpu0 t lat=10 -> OK (10 cycles)\n"
		  "[10] cpu0 t lat=1 -> OK (1 cycles)\n",
		  "t.ps:3: @5: earlier than cpu0's clock (11)\n");
}

Test(script, cycle_check_is_per_agent)
{
	/* cpu1's clock is still 0, so @5 on cpu1 is fine after cpu0 reached 10. */
	check_run("t lat=10\n@5 cpu1 t\n", 0,
		  "[0] cpu0 t lat=10 -> OK (10 cycles)\n"
		  "[5] cpu1 t -> OK (0 cycles)\n",
		  "");
}

Test(script, deadlocked_op_is_reported)
{
	check_run("block\n", 2, "", "t.ps:1: block: cpu0 is blocked and nothing can wake it (deadlock)\n");
}

Test(script, op_without_result_is_a_bug, .signal = SIGABRT)
{
	struct run r = run_text("noresult\n", NULL);

	run_free(&r);
}

static const struct sim_op dup_ops[] = {
	{ "nop", NULL, "clashes with the core nop", op_zero },
	{ NULL, NULL, NULL, NULL }
};
static const struct sim_module dup_mod = { .name = "dup", .ops = dup_ops };

Test(script, duplicate_op_names_are_a_bug, .signal = SIGABRT)
{
	static const struct sim_module *const dmods[] = { &dup_mod, NULL };
	struct sim *s = sim_new(dmods);

	sim_script_run_text(s, "nop cycles=1\n", "t.ps", stdout, stderr);
}

/* ------------------------------------------------------------------ */
/* Time: @CYCLE, interleaving, ties                                    */
/* ------------------------------------------------------------------ */

/* Lines start in (cycle, agent) order and print when they complete. */
Test(script, two_agents_interleave_by_start_cycle)
{
	check_run("@0 t lat=10\n"
		  "t lat=10\n"
		  "t lat=10\n"
		  "@5 cpu1 t lat=10\n"
		  "@15 cpu1 t lat=1\n",
		  0,
		  "[0] cpu0 t lat=10 -> OK (10 cycles)\n"
		  "[5] cpu1 t lat=10 -> OK (10 cycles)\n"
		  "[10] cpu0 t lat=10 -> OK (10 cycles)\n"
		  "[15] cpu1 t lat=1 -> OK (1 cycles)\n"
		  "[20] cpu0 t lat=10 -> OK (10 cycles)\n",
		  "");
}

Test(script, ties_go_to_the_lower_agent_id)
{
	/* Written cpu1 first; both start at 50: cpu0 runs (and prints) first. */
	check_run("@50 cpu1 t res=ONE\n@50 cpu0 t res=ZERO\n", 0,
		  "[50] cpu0 t res=ZERO -> ZERO (0 cycles)\n"
		  "[50] cpu1 t res=ONE -> ONE (0 cycles)\n",
		  "");
}

Test(script, overlapping_ops_print_in_start_order)
{
	/* An op takes effect at its start and completes as one step. */
	check_run("@0 cpu0 t res=LONG lat=100 steps=10\n@10 cpu1 t res=SHORT lat=5\n", 0,
		  "[0] cpu0 t res=LONG lat=100 steps=10 -> LONG (100 cycles)\n"
		  "[10] cpu1 t res=SHORT lat=5 -> SHORT (5 cycles)\n",
		  "");
}

Test(script, cycle_equal_to_clock_is_allowed)
{
	check_run("t lat=10\n@10 t lat=2\n@0x20 t\n", 0,
		  "[0] cpu0 t lat=10 -> OK (10 cycles)\n"
		  "[10] cpu0 t lat=2 -> OK (2 cycles)\n"
		  "[32] cpu0 t -> OK (0 cycles)\n",
		  "");
}

Test(script, output_is_deterministic)
{
	const char *text = "@0 cpu1 t lat=7 steps=7\n@3 cpu0 t lat=11 steps=11\n"
			   "cpu1 t lat=5\n@4 cpu0 t lat=1\n";
	struct run a = run_text(text, NULL), b = run_text(text, NULL);

	cr_assert_eq(a.rc, 2);   /* @4 < cpu0's clock 14 */
	cr_assert_str_eq(a.out, b.out);
	cr_assert_str_eq(a.err, b.err);
	run_free(&a);
	run_free(&b);
}

/* ------------------------------------------------------------------ */
/* The machine line                                                    */
/* ------------------------------------------------------------------ */

Test(script, machine_line_sets_config)
{
	struct sim *s;
	struct run r = run_text("# header\nmachine mem=64m cpus=3 profile=generic engine.seed=7 "
				"engine.quantum=1\n"
				"cpu2 t lat=1\n", &s);

	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "[0] cpu2 t lat=1 -> OK (1 cycles)\n");
	cr_assert_eq(sim_cfg_u64(s, "machine.mem"), 64ull << 20);
	cr_assert_eq(sim_cfg_u64(s, "machine.cpus"), 3);
	cr_assert_eq(sim_cfg_u64(s, "engine.seed"), 7);
	cr_assert_str_eq(sim_cfg_str(s, "machine.profile"), "generic");
	/* Agents cpu0..cpu2 exist, in id order. */
	cr_assert_eq(sim_agent_count(s), 3);
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "cpu%d", i);
		cr_assert_str_eq(sim_agent_name(sim_agent_by_id(s, i)), name);
		cr_assert_eq(sim_agent_kind(sim_agent_by_id(s, i)), SIM_AGENT_CPU);
	}
	cr_assert_eq(sim_now(sim_agent_by_id(s, 2)), 1);
	sim_free(s);
	run_free(&r);
}

Test(script, default_machine)
{
	struct sim *s;
	struct run r = run_text("t\n", &s);

	cr_assert_eq(r.rc, 0);
	cr_assert(sim_started(s));
	cr_assert_eq(sim_agent_count(s), (int)sim_cfg_u64(s, "machine.cpus"));
	sim_free(s);
	run_free(&r);
}

Test(script, machine_value_errors_come_from_config)
{
	struct run r = run_text("machine mem=1g cpus=0\n", NULL);

	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.out, "");
	cr_assert(strncmp(r.err, "t.ps:1: machine.cpus: ", 22) == 0, "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
	run_free(&r);
}

Test(script, machine_start_error_is_2)
{
	struct run r = run_text("machine mem=1g cpus=1 profile=nosuch\nt\n", NULL);

	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "machine.profile") && strstr(r.err, "nosuch"), "%s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Engine ops                                                          */
/* ------------------------------------------------------------------ */

static uint64_t dram_lat(void)
{
	struct sim *s = sim_new(NULL);
	struct sim_err err;
	uint64_t lat;

	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	lat = sim_cfg_u64(s, "lat.mem.dram");
	sim_free(s);
	return lat;
}

/* @tmpl with each "$N" (one digit) replaced by N times the DRAM latency. */
static char *expand(const char *tmpl)
{
	uint64_t d = dram_lat();
	char *buf = malloc(4096), *o = buf;

	cr_assert(buf);
	for (const char *p = tmpl; *p; p++) {
		if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
			o += sprintf(o, "%llu", (unsigned long long)(d * (uint64_t)(p[1] - '0')));
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return buf;
}

Test(script, mem_write_read_little_endian)
{
	char *out = expand(
		 "[0] cpu0 mem write pa=0x1000 value=0x1122334455667788 -> OK ($1 cycles)\n"
		 "[$1] cpu0 mem read pa=0x1000 -> OK value=0x1122334455667788 ($1 cycles)\n"
		 "[$2] cpu0 mem read pa=0x1000 size=1 -> OK value=0x88 ($1 cycles)\n"
		 "[$3] cpu0 mem read pa=0x1002 size=2 -> OK value=0x5566 ($1 cycles)\n"
		 "[$4] cpu0 mem read pa=0x1004 size=4 -> OK value=0x11223344 ($1 cycles)\n"
		 "[$5] cpu0 mem write pa=0x1003 value=0xab size=1 -> OK ($1 cycles)\n"
		 "[$6] cpu0 mem read pa=0x1000 -> OK value=0x11223344ab667788 ($1 cycles)\n"
		 "[$7] cpu0 mem read pa=0xfffe size=4 -> OK value=0x0 ($1 cycles)\n");

	check_run("mem write pa=0x1000 value=0x1122334455667788\n"
		  "mem read pa=0x1000\n"
		  "expect OK value=1234605616436508552\n"
		  "mem read pa=0x1000 size=1\n"
		  "mem read pa=0x1002 size=2\n"
		  "mem read pa=0x1004 size=4\n"
		  "mem write pa=0x1003 value=0xab size=1\n"
		  "mem read pa=0x1000\n"
		  "mem read pa=0xfffe size=4\n"
		  "expect OK value=0\n",
		  0, out, "");
	free(out);
}

Test(script, mem_range)
{
	char *out;

	check_run("machine mem=32m cpus=1\n"
		  "mem read pa=0x1fffff8\n"
		  "expect OK value=0\n"
		  "mem read pa=0x1fffff9\n"
		  "expect ERROR(out-of-range)\n"
		  "mem write pa=0x1ffffff value=1 size=1\n"
		  "expect OK\n"
		  "mem write pa=0x2000000 value=1 size=1\n"
		  "mem read pa=0xffffffffffffffff size=1\n"
		  "mem write pa=0xfffffffffffffffc value=1 size=8\n",
		  0, out = expand(
		  "[0] cpu0 mem read pa=0x1fffff8 -> OK value=0x0 ($1 cycles)\n"
		  "[$1] cpu0 mem read pa=0x1fffff9 -> ERROR(out-of-range) (0 cycles)\n"
		  "[$1] cpu0 mem write pa=0x1ffffff value=1 size=1 -> OK ($1 cycles)\n"
		  "[$2] cpu0 mem write pa=0x2000000 value=1 size=1 -> ERROR(out-of-range) (0 cycles)\n"
		  "[$2] cpu0 mem read pa=0xffffffffffffffff size=1 -> ERROR(out-of-range) (0 cycles)\n"
		  "[$2] cpu0 mem write pa=0xfffffffffffffffc value=1 size=8 -> ERROR(out-of-range) "
		  "(0 cycles)\n"),
		  "");
	free(out);
}

Test(script, mem_bad_size_and_value)
{
	char *out;

	/* size is checked when the script is parsed: nothing runs. */
	check_run("nop cycles=1\nmem read pa=0 size=3\n", 2, "",
		  "t.ps:2: size: 3 is not one of 1|2|4|8\n");
	check_run("mem write pa=0 value=0 size=16\n", 2, "",
		  "t.ps:1: size: 16 is not one of 1|2|4|8\n");
	check_run("mem write pa=0 value=0 size=0\n", 2, "",
		  "t.ps:1: size: 0 is not one of 1|2|4|8\n");
	/* value against size spans two arguments: checked at run time. */
	out = expand("[0] cpu0 nop cycles=1 -> OK (1 cycles)\n");
	check_run("nop cycles=1\nmem write pa=0 value=0x100 size=1\n", 2, out,
		  "t.ps:2: value: 0x100 does not fit in 1 byte\n");
	free(out);
	check_run("mem write pa=0 value=0x100 size=1\n", 2, "",
		  "t.ps:1: value: 0x100 does not fit in 1 byte\n");
	check_run("mem write pa=0 value=0x10000 size=2\n", 2, "",
		  "t.ps:1: value: 0x10000 does not fit in 2 bytes\n");
	out = expand("[0] cpu0 mem write pa=0 value=0xffffffff size=4 -> OK ($1 cycles)\n");
	check_run("mem write pa=0 value=0xffffffff size=4\nexpect OK\n", 0, out, "");
	free(out);
}

Test(script, mem_is_shared_between_agents)
{
	char *out;

	check_run("@0 cpu0 mem write pa=0x2000 value=42 size=1\n"
		  "@500 cpu1 mem read pa=0x2000 size=1\n"
		  "expect OK value=42\n",
		  0, out = expand(
		  "[0] cpu0 mem write pa=0x2000 value=42 size=1 -> OK ($1 cycles)\n"
		  "[500] cpu1 mem read pa=0x2000 size=1 -> OK value=0x2a ($1 cycles)\n"),
		  "");
	free(out);
}

Test(script, nop)
{
	check_run("nop cycles=25\nnop cycles=0\nexpect OK\nnop cycles=0x10\n", 0,
		  "[0] cpu0 nop cycles=25 -> OK (25 cycles)\n"
		  "[25] cpu0 nop cycles=0 -> OK (0 cycles)\n"
		  "[25] cpu0 nop cycles=0x10 -> OK (16 cycles)\n",
		  "");
	check_run("nop cycles=1099511627776\nexpect OK\n", 0,
		  "[0] cpu0 nop cycles=1099511627776 -> OK (1099511627776 cycles)\n", "");
	check_run("nop cycles=1\nnop cycles=1099511627777\n", 2, "",
		  "t.ps:2: cycles: 1099511627777 is not in 0..2^40\n");
}

/* ------------------------------------------------------------------ */
/* Shell                                                               */
/* ------------------------------------------------------------------ */

Test(script, shell_runs_each_line_and_goes_on_after_errors)
{
	struct run r = run_shell("t lat=5\n"
				 "expect OK\n"
				 "expect FAIL\n"
				 "frob\n"
				 "expect OK\n"
				 "cpu1 t res=X lat=2\n"
				 "@3 t\n"
				 "expect OK\n"
				 "bad x=1\n"
				 "expect OK\n"
				 "t\n"
				 "quit\n"
				 "t\n");

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out,
			 "[0] cpu0 t lat=5 -> OK (5 cycles)\n"
			 "[0] cpu1 t res=X lat=2 -> X (2 cycles)\n"
			 "[8] cpu0 t -> OK (0 cycles)\n");   /* bad advanced 3 */
	cr_assert_str_eq(r.err,
			 "shell:3: expect failed: expected FAIL; got OK\n"
			 "shell:4: frob: unknown operation\n"
			 "shell:5: expect: must directly follow an operation line\n"
			 "shell:7: @3: earlier than cpu0's clock (5)\n"
			 "shell:8: expect: the operation above did not complete\n"
			 "shell:9: x: is not acceptable here (1)\n"
			 "shell:10: expect: the operation above did not complete\n");
	run_free(&r);
}

Test(script, shell_machine_line)
{
	struct run r = run_shell("machine mem=1g\n"
				 "machine mem=64m cpus=4\n"
				 "cpu3 t lat=1\n"
				 "machine mem=1g cpus=1\n"
				 "cpu4 t\n");

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "[0] cpu3 t lat=1 -> OK (1 cycles)\n");
	cr_assert_str_eq(r.err,
			 "shell:1: cpus: missing (required by 'machine')\n"
			 "shell:4: machine: must come before the first operation\n"
			 "shell:5: cpu4: no such agent (the machine has cpu0..cpu3)\n");
	run_free(&r);
}

Test(script, shell_malformed_op_before_machine_does_not_fix_cpus)
{
	struct run r = run_shell("frob\nmachine mem=64m cpus=3\ncpu2 t\n");

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "[0] cpu2 t -> OK (0 cycles)\n");
	cr_assert_str_eq(r.err, "shell:1: frob: unknown operation\n");
	run_free(&r);
}

Test(script, shell_help)
{
	struct run r = run_shell("help\n");

	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "  mem write pa=ADDR value=N [size=1|2|4|8]\n"), "%s", r.out);
	cr_assert(strstr(r.out, "  nop cycles=N\n      idle for N cycles\n"), "%s", r.out);
	cr_assert(strstr(r.out, "  fake two [a=N]\n      a two-word op\n"), "%s", r.out);
	cr_assert(strstr(r.out, "quit"), "%s", r.out);
	run_free(&r);

	/*
	 * help PREFIX: the operations and commands whose name starts with
	 * PREFIX, as the shell's own help line says ("help me" lists both
	 * mem ops, "help re" the reset command); nothing: a message.
	 */
	r = run_shell("help me\nhelp fake two\nhelp re\nhelp zz\nhelp tyeps\n");
	cr_assert_str_eq(r.out,
			 "  mem write pa=ADDR value=N [size=1|2|4|8]\n"
			 "      store size bytes (default 8) of value, little-endian, at physical "
			 "address pa\n"
			 "  mem read pa=ADDR [size=1|2|4|8]\n"
			 "      load size bytes (default 8) at physical address pa: OK value=0x...\n"
			 "  fake two [a=N]\n      a two-word op\n"
			 "  reset\n      a fresh machine with the same configuration (clocks at 0, "
			 "new memory and models)\n");
	cr_assert_str_eq(r.err,
			 "shell:4: help: no operation or command starts with 'zz'\n"
			 "shell:5: help: no operation or command starts with 'tyeps' (did you mean "
			 "'types'?)\n");
	run_free(&r);
}

/* `help` alone also lists the shell's commands, each with its help line. */
Test(script, shell_help_lists_the_commands)
{
	static const char *const cmds[] = { "  help [PREFIX]\n", "  stats [PREFIX]\n",
					    "  reset\n", "  source FILE\n", "  quit\n",
					    "  exit\n", NULL };
	struct run r = run_shell("help\n");

	for (size_t i = 0; cmds[i]; i++)
		cr_assert(strstr(r.out, cmds[i]), "%s missing: %s", cmds[i], r.out);
	run_free(&r);
}

Test(script, shell_eof_and_exit)
{
	struct run r = run_shell("t\n");

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "[0] cpu0 t -> OK (0 cycles)\n");
	run_free(&r);
	r = run_shell("exit\nt\n");
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "");
	run_free(&r);
}

Test(script, shell_deadlock_ends_the_shell)
{
	struct run r = run_shell("block\nt\n");

	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "shell:1: block: cpu0 is blocked and nothing can wake it (deadlock)\n");
	run_free(&r);
}

/* sim_script_run (FILE input) in batch mode behaves like the text entry point. */
Test(script, file_input_batch)
{
	const char *text = "t lat=2\r\nexpect OK\r\n@10 cpu1 t\n";
	struct sim *s = sim_new(mods);
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	char *out = NULL, *err = NULL;
	size_t on, en;
	FILE *o = open_memstream(&out, &on), *e = open_memstream(&err, &en);

	cr_assert_eq(sim_script_run(s, in, "f.ps", o, e, false), 0);
	fclose(o);
	fclose(e);
	fclose(in);
	cr_assert_str_eq(out, "[0] cpu0 t lat=2 -> OK (2 cycles)\n[10] cpu1 t -> OK (0 cycles)\n");
	cr_assert_str_eq(err, "");
	free(out);
	free(err);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Reading: a script is read as a stream, twice                       */
/* ------------------------------------------------------------------ */

/* Run @in (batch) on a fresh simulator; the results in a struct run. */
static struct run run_file(FILE *in, const char *name)
{
	struct sim *s = sim_new(mods);
	struct run r = { 0 };
	FILE *out = open_memstream(&r.out, &r.outn), *err = open_memstream(&r.err, &r.errn);

	cr_assert(out && err);
	r.rc = sim_script_run(s, in, name, out, err, false);
	fclose(out);
	fclose(err);
	sim_free(s);
	return r;
}

/* A script from a pipe (not seekable): copied aside, then read twice. */
Test(script, file_input_from_a_pipe)
{
	const char *text = "t lat=2\n@1 cpu1 t res=X\nexpect X\nt\nexpect NO\n";
	int fd[2];
	FILE *in;
	struct run r;

	cr_assert_eq(pipe(fd), 0);
	cr_assert_eq(write(fd[1], text, strlen(text)), (ssize_t)strlen(text));
	close(fd[1]);
	in = fdopen(fd[0], "r");
	cr_assert(in);
	r = run_file(in, "p.ps");
	fclose(in);
	cr_assert_eq(r.rc, 1);
	cr_assert_str_eq(r.out, "[0] cpu0 t lat=2 -> OK (2 cycles)\n"
				"[1] cpu1 t res=X -> X (0 cycles)\n"
				"[2] cpu0 t -> OK (0 cycles)\n");
	cr_assert_str_eq(r.err, "p.ps:5: expect failed: expected NO; got OK\n");
	run_free(&r);
}

/* A regular file is read from where the FILE stands; lines count from there. */
Test(script, file_input_starts_at_the_current_offset)
{
	FILE *in = tmpfile();
	char skip[64];
	struct run r;

	cr_assert(in);
	fputs("frob this line is not part of the script\nt res=A\nexpect B\n", in);
	rewind(in);
	cr_assert(fgets(skip, sizeof(skip), in));
	r = run_file(in, "f.ps");
	fclose(in);
	cr_assert_eq(r.rc, 1);
	cr_assert_str_eq(r.out, "[0] cpu0 t res=A -> A (0 cycles)\n");
	cr_assert_str_eq(r.err, "f.ps:2: expect failed: expected B; got A\n");
	run_free(&r);
}

/* An input that cannot be read: one message, exit 2. */
Test(script, unreadable_input)
{
	FILE *in = fopen("/dev/null", "w");
	struct run r;

	cr_assert(in);
	r = run_file(in, "w.ps");
	fclose(in);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.out, "");
	cr_assert(strncmp(r.err, "w.ps: cannot read: ", 19) == 0, "%s", r.err);
	run_free(&r);
}

/*
 * A long script (several read buffers) whose last line is cpu1's and
 * starts at cycle 0: it still runs right after cpu0's first line, whether
 * the text is in memory, in a regular file or in a stream that must be
 * copied aside.
 */
Test(script, each_agent_reads_its_own_lines)
{
	enum { N = 3000 };
	size_t tlen = 0, olen = 0;
	char *text = malloc(N * 96 + 64), *want = malloc(N * 64 + 64);
	FILE *reg, *mem;
	struct run r;

	cr_assert(text && want);
	for (int i = 0; i < N; i++) {
		tlen += (size_t)sprintf(text + tlen, "t lat=1 res=R%04d   "
					"# padding padding padding padding padding padding\n", i);
		if (i % 7 == 0)
			tlen += (size_t)sprintf(text + tlen, "expect R%04d\n\n", i);
		olen += (size_t)sprintf(want + olen, "[%d] cpu0 t lat=1 res=R%04d -> R%04d (1 cycles)\n",
					i, i, i);
		if (i == 0)
			olen += (size_t)sprintf(want + olen, "[0] cpu1 t res=LATE -> LATE (0 cycles)\n");
	}
	tlen += (size_t)sprintf(text + tlen, "@0 cpu1 t res=LATE\nexpect LATE");
	cr_assert_gt(tlen, 4 * 32768);

	r = run_text(text, NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, want);
	run_free(&r);

	reg = tmpfile();
	cr_assert(reg);
	cr_assert_eq(fwrite(text, 1, tlen, reg), tlen);
	rewind(reg);
	r = run_file(reg, "t.ps");
	fclose(reg);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, want);
	run_free(&r);

	mem = fmemopen(text, tlen, "r");
	cr_assert(mem);
	r = run_file(mem, "t.ps");
	fclose(mem);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, want);
	run_free(&r);
	free(text);
	free(want);
}

/* The file changes under a running script: exit 2, no crash. */
Test(script, script_changed_while_it_ran)
{
	char path[] = "/tmp/protsim_test_XXXXXX";
	int fd = mkstemp(path);
	char text[128];
	FILE *in;
	struct run r;

	cr_assert_geq(fd, 0);
	snprintf(text, sizeof(text), "trunc path=%s\n@5 cpu1 t\n", path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	in = fopen(path, "r");
	cr_assert(in);
	r = run_file(in, "c.ps");
	fclose(in);
	unlink(path);
	cr_assert_eq(r.rc, 2);
	snprintf(text, sizeof(text), "[0] cpu0 trunc path=%s -> OK (0 cycles)\n", path);
	cr_assert_str_eq(r.out, text);
	cr_assert_str_eq(r.err, "c.ps:2: cpu1: the script changed while it ran\n");
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Shell commands: stats, reset, source                                */
/* ------------------------------------------------------------------ */

/* count: a module with a statistic, so that `stats` and `reset` show something. */
struct count_model {
	uint64_t n;
};

static const struct sim_module count_mod;

static int count_attach(struct sim *s, struct sim_err *err)
{
	struct count_model *m = calloc(1, sizeof(*m));

	(void)err;
	cr_assert(m);
	sim_stat_counter(s, "fake.count", &m->n, "count ops run");
	sim_set_model(s, &count_mod, m);
	return 0;
}

static void count_detach(struct sim *s)
{
	free(sim_get_model(s, &count_mod));
}

static void op_count(struct sim_call *c)
{
	struct count_model *m = sim_get_model(sim_call_sim(c), &count_mod);

	m->n++;
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "n", m->n);
}

static const struct sim_op count_ops[] = {
	{ "count", NULL, "count one", op_count },
	{ NULL, NULL, NULL, NULL }
};
static const struct sim_module count_mod = {
	.name = "count", .ops = count_ops, .attach = count_attach, .detach = count_detach,
};
static const struct sim_module *const count_mods[] = { &fake_mod, &count_mod, NULL };

/*
 * Run @len bytes of @text through sim_shell_run() on @s (`reset` may
 * replace it): the final simulator in *@final (else freed).
 */
static struct run run_shell_on(struct sim *s, const char *text, size_t len, struct sim **final)
{
	struct run r = { 0 };
	FILE *in = fmemopen((void *)text, len, "r");
	FILE *out = open_memstream(&r.out, &r.outn), *err = open_memstream(&r.err, &r.errn);

	cr_assert(in && out && err);
	r.rc = sim_shell_run(&s, in, "shell", out, err);
	fclose(in);
	fclose(out);
	fclose(err);
	if (final)
		*final = s;
	else
		sim_free(s);
	return r;
}

/* A file with @text, its path in @path (a mkstemp template). */
static void write_file(char *path, const char *text)
{
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(script, shell_stats_reset_and_source)
{
	char path[] = "/tmp/protsim_sourceXXXXXX";
	char *text, *want_err;
	struct run r;

	write_file(path, "count\nexpect OK n=3\nfrob\n@100 t\nexpect OK\n");
	text = sim_xprintf("stats\ncount\ncount\nstats fake\nstats fake.count\nstats nope\n"
			   "reset\nstats\n@5 t\ncount\nstats\nsource %s\nt\nquit\nt\n", path);
	r = run_shell_on(sim_new(count_mods), text, strlen(text), NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out,
			 "[0] cpu0 count -> OK n=1 (0 cycles)\n"
			 "[0] cpu0 count -> OK n=2 (0 cycles)\n"
			 "fake.count  2  # count ops run\n"
			 "fake.count  2  # count ops run\n"
			 "reset: a fresh machine with the same configuration\n"
			 /* a fresh machine: clocks from 0, the counter from 0 */
			 "[5] cpu0 t -> OK (0 cycles)\n"
			 "[5] cpu0 count -> OK n=1 (0 cycles)\n"
			 "agent.cpu0.cycles  5  # the agent's clock: cycles it has run, waited and idled\n"
			 "agent.cpu0.idle    0  # cycles it spent blocked (waiting, halted, idle)\n"
			 "agent.cpu0.spin    0  # cycles it spent spinning on a lock\n"
			 "agent.cpu1.cycles  0  # the agent's clock: cycles it has run, waited and idled\n"
			 "agent.cpu1.idle    0  # cycles it spent blocked (waiting, halted, idle)\n"
			 "agent.cpu1.spin    0  # cycles it spent spinning on a lock\n"
			 "fake.count         1  # count ops run\n"
			 "ops.count.cycles   count=1 sum=0 min=0 max=0 mean=0.0000  # cycles of each line of this operation, from its start to its result\n"
			 "                     [0] 1\n"
			 "ops.t.cycles       count=1 sum=0 min=0 max=0 mean=0.0000  # cycles of each line of this operation, from its start to its result\n"
			 "                     [0] 1\n"
			 "sim.cycles         5  # simulated cycles: the latest clock any agent reached\n"
			 /* the sourced lines, as if typed */
			 "[5] cpu0 count -> OK n=2 (0 cycles)\n"
			 "[100] cpu0 t -> OK (0 cycles)\n"
			 "[100] cpu0 t -> OK (0 cycles)\n");
	want_err = sim_xprintf("shell:1: stats: no machine yet (the first operation builds it)\n"
			       "shell:6: stats: no statistic named nope or nope.*\n"
			       "shell:8: stats: no machine yet (the first operation builds it)\n"
			       "%s:2: expect failed: expected OK n=3; got OK n=2\n"
			       "%s:3: frob: unknown operation\n", path, path);
	cr_assert_str_eq(r.err, want_err);
	run_free(&r);
	free(want_err);
	free(text);
	unlink(path);
}

/*
 * reset keeps every key that was set, with its origin: --set still wins
 * over a machine line typed after the reset, which is allowed again (the
 * new machine is not built yet).
 */
Test(script, shell_reset_keeps_the_configuration)
{
	const char *text = "machine mem=64m cpus=2\n"
			   "cpu2 t lat=4\n"
			   "reset\n"
			   "machine mem=32m cpus=1 engine.seed=9\n"
			   "cpu2 t\n"
			   "reset\n"
			   "t\n";
	struct sim *s = sim_new(mods), *end;
	struct sim_err err;
	struct run r;

	cr_assert_eq(sim_cfg_set(s, "machine.cpus", "3", "--set", 0, &err), 0);
	r = run_shell_on(s, text, strlen(text), &end);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "[0] cpu2 t lat=4 -> OK (4 cycles)\n"
				"reset: a fresh machine with the same configuration\n"
				"[0] cpu2 t -> OK (0 cycles)\n"
				"reset: a fresh machine with the same configuration\n"
				"[0] cpu0 t -> OK (0 cycles)\n");
	cr_assert_str_eq(r.err, "");
	cr_assert_eq(sim_cfg_u64(end, "machine.mem"), 32ull << 20);
	cr_assert_eq(sim_cfg_u64(end, "machine.cpus"), 3);
	cr_assert_eq(sim_cfg_u64(end, "engine.seed"), 9);
	cr_assert_str_eq(sim_cfg_origin(end, "machine.cpus"), "--set");
	cr_assert_str_eq(sim_cfg_origin(end, "machine.mem"), "shell:4");
	cr_assert(sim_started(end));
	sim_free(end);
	run_free(&r);
}

/* sim_script_run(..., true): the caller owns the simulator, so no reset. */
Test(script, shell_reset_needs_sim_shell_run)
{
	struct run r = run_shell("t lat=2\nreset\nt\n");

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "[0] cpu0 t lat=2 -> OK (2 cycles)\n[2] cpu0 t -> OK (0 cycles)\n");
	cr_assert_str_eq(r.err, "shell:2: reset: not available here (the caller owns the simulator; "
				"see sim_shell_run())\n");
	run_free(&r);
}

/* Inline text: Criterion runs each case in a new process (no pointers to static data). */
struct cmd_case {
	char line[64];      /* one shell line (after "t\n") */
	char err[128];      /* its message after "shell:2: " */
};

static struct cmd_case cmd_cases[] = {
	{ "reset now", "reset: takes no argument" },
	{ "stats a b", "stats: one PREFIX at most" },
	{ "source", "source: missing FILE" },
	{ "source a b", "source: one FILE at a time" },
	{ "source /nonexistent/x.ps", "source: /nonexistent/x.ps: cannot read: No such file or "
				      "directory" },
	{ "source /dev/zero", "source: /dev/zero: not a regular file" },
	{ "source /tmp", "source: /tmp: not a regular file" },
	{ "source /tmp/\x01", "source: '/tmp/\\x01': cannot read: No such file or directory" },
	{ "help \x1b[2J", "help: no operation or command starts with '\\x1b[2J'" },
	{ "stats \x1b[2J", "stats: no statistic named '\\x1b[2J' or '\\x1b[2J'.*" },
};

ParameterizedTestParameters(script, shell_command_errors)
{
	return cr_make_param_array(struct cmd_case, cmd_cases,
				   sizeof(cmd_cases) / sizeof(cmd_cases[0]));
}

ParameterizedTest(struct cmd_case *c, script, shell_command_errors)
{
	char *text = sim_xprintf("t\n%s\nt lat=1\n", c->line);
	char *want = sim_xprintf("shell:2: %s\n", c->err);
	struct run r = run_shell_on(sim_new(count_mods), text, strlen(text), NULL);

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "[0] cpu0 t -> OK (0 cycles)\n[0] cpu0 t lat=1 -> OK (1 cycles)\n");
	cr_assert_str_eq(r.err, want);
	run_free(&r);
	free(want);
	free(text);
}

/* A file that sources itself stops 8 files deep; `quit` in a sourced file leaves the shell. */
Test(script, shell_source_depth_and_quit)
{
	char self[] = "/tmp/protsim_selfXXXXXX", quit[] = "/tmp/protsim_quitXXXXXX";
	int fd = mkstemp(self);
	char *text, *line, *want;
	struct run r;

	cr_assert(fd >= 0);
	line = sim_xprintf("t lat=1\nsource %s\n", self);
	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	write_file(quit, "t lat=10\nquit\nt lat=100\n");
	text = sim_xprintf("source %s\nsource %s\nt lat=1000\n", self, quit);
	r = run_shell_on(sim_new(mods), text, strlen(text), NULL);
	cr_assert_eq(r.rc, 0);
	/* 8 files deep: 8 lines "t lat=1", then the message, then the quit file. */
	cr_assert_str_eq(r.out, "[0] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[1] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[2] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[3] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[4] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[5] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[6] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[7] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[8] cpu0 t lat=10 -> OK (10 cycles)\n");
	want = sim_xprintf("%s:2: source: %s: more than 8 files deep\n", self, self);
	cr_assert_str_eq(r.err, want);
	run_free(&r);
	free(want);
	free(text);
	free(line);
	unlink(self);
	unlink(quit);
}

/* ------------------------------------------------------------------ */
/* Input limits: line length, NUL bytes, a byte order mark            */
/* ------------------------------------------------------------------ */

/* @n copies of @ch. */
static char *repeat(char ch, size_t n)
{
	char *p = malloc(n + 1);

	cr_assert(p);
	memset(p, ch, n);
	p[n] = '\0';
	return p;
}

/*
 * The shell: a NUL byte is an error and the shell goes on; a line of
 * exactly SIM_SCRIPT_LINE_MAX bytes is read; one byte more ends the shell
 * (exit 2) after reading no more than the limit.
 */
Test(script, shell_input_limits)
{
	char *max = repeat('x', SIM_SCRIPT_LINE_MAX), *over = repeat('y', SIM_SCRIPT_LINE_MAX + 1);
	struct sim_sbuf b = { 0 };
	struct run r;

	max[0] = '#';
	sim_sbuf_printf(&b, "t lat=1\n");
	sim_sbuf_printf(&b, "t%c\n", 'X');          /* the X becomes a NUL below */
	sim_sbuf_printf(&b, "t lat=2\n%s\nt lat=3\n%s\nt lat=4\n", max, over);
	*strchr(b.p, 'X') = '\0';
	r = run_shell_on(sim_new(mods), b.p, b.n, NULL);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.out, "[0] cpu0 t lat=1 -> OK (1 cycles)\n"
				"[1] cpu0 t lat=2 -> OK (2 cycles)\n"
				"[3] cpu0 t lat=3 -> OK (3 cycles)\n");
	cr_assert_str_eq(r.err, "shell:2: NUL byte at column 2 (a script is text)\n"
				"shell:6: line longer than 65536 bytes (the limit)\n");
	run_free(&r);
	sim_sbuf_free(&b);
	free(max);
	free(over);
}

struct limit_case {
	char name[48];      /* what it shows */
	char head[32];      /* text before the long part */
	char fill;          /* the long part: this byte ... */
	size_t nfill;       /* ... this many times (0: none) */
	char tail[16];      /* text after it */
	int rc;
	char out[80];
	char err[64];       /* after "NAME:" */
};

static struct limit_case limit_cases[] = {
	{ "a line of exactly the limit", "t lat=1\n", '#', SIM_SCRIPT_LINE_MAX, "\nt lat=2\n", 0,
	  "[0] cpu0 t lat=1 -> OK (1 cycles)\n[1] cpu0 t lat=2 -> OK (2 cycles)\n", "" },
	{ "one byte more", "t lat=1\n", '#', SIM_SCRIPT_LINE_MAX + 1, "\nt lat=2\n", 2, "",
	  "2: line longer than 65536 bytes (the limit)\n" },
	{ "a megabyte line without a newline", "t\n", 'a', 1u << 20, "", 2, "",
	  "2: line longer than 65536 bytes (the limit)\n" },
	{ "a byte order mark is skipped", "\xef\xbb\xbft lat=1\nt\n", 0, 0, "", 0,
	  "[0] cpu0 t lat=1 -> OK (1 cycles)\n[1] cpu0 t -> OK (0 cycles)\n", "" },
	{ "a BOM-only first line is blank", "\xef\xbb\xbf\nt\n", 0, 0, "", 0,
	  "[0] cpu0 t -> OK (0 cycles)\n", "" },
	{ "a byte order mark inside is a word", "t\n\xef\xbb\xbft\n", 0, 0, "", 2, "",
	  "2: '\\xef\\xbb\\xbft': unknown operation\n" },
};

ParameterizedTestParameters(script, batch_input_limits)
{
	return cr_make_param_array(struct limit_case, limit_cases,
				   sizeof(limit_cases) / sizeof(limit_cases[0]));
}

/* The same text in memory, from a regular file and from a pipe: the same result. */
ParameterizedTest(struct limit_case *c, script, batch_input_limits, .timeout = 30)
{
	char *fill = repeat(c->fill, c->nfill);
	char *text = sim_xprintf("%s%s%s", c->head, fill, c->tail), *want;
	size_t len = strlen(text);

	for (int how = 0; how < 3; how++) {
		static const char *const names[] = { "t.ps", "f.ps", "p.ps" };
		struct run r;

		if (how == 0) {
			r = run_text(text, NULL);
		} else if (how == 1) {
			FILE *f = tmpfile();

			cr_assert(f);
			cr_assert_eq(fwrite(text, 1, len, f), len);
			rewind(f);
			r = run_file(f, names[how]);
			fclose(f);
		} else {
			int fd[2];
			pid_t pid;
			FILE *in;

			cr_assert_eq(pipe(fd), 0);
			pid = fork();
			cr_assert(pid >= 0);
			if (pid == 0) {
				close(fd[0]);
				_exit(write(fd[1], text, len) == (ssize_t)len ? 0 : 1);
			}
			close(fd[1]);
			in = fdopen(fd[0], "r");
			cr_assert(in);
			r = run_file(in, names[how]);
			fclose(in);
			waitpid(pid, NULL, 0);
		}
		want = c->err[0] ? sim_xprintf("%s:%s", names[how], c->err) : sim_xstrdup("");
		cr_assert_eq(r.rc, c->rc, "%s (%s): %s", c->name, names[how], r.err);
		cr_assert_str_eq(r.out, c->out, "%s (%s)", c->name, names[how]);
		cr_assert_str_eq(r.err, want, "%s (%s)", c->name, names[how]);
		free(want);
		run_free(&r);
	}
	free(text);
	free(fill);
}

/* NUL bytes: from a file, and /dev/zero (which never ends) is refused at its first byte. */
Test(script, batch_nul_bytes, .timeout = 30)
{
	static const char text[] = "t\nt lat=1\0\n";
	FILE *f = tmpfile();
	struct run r;

	cr_assert(f);
	cr_assert_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	rewind(f);
	r = run_file(f, "f.ps");
	fclose(f);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "f.ps:2: NUL byte at column 8 (a script is text)\n");
	run_free(&r);

	f = fopen("/dev/zero", "r");
	cr_assert(f);
	r = run_file(f, "/dev/zero");
	fclose(f);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.err, "/dev/zero:1: NUL byte at column 1 (a script is text)\n");
	run_free(&r);
}

/* An endless line from a pipe: the copy stops past the limit; the writer is still writing. */
Test(script, batch_endless_pipe_is_bounded, .timeout = 30)
{
	int fd[2], st;
	pid_t pid;
	FILE *in;
	struct run r;

	cr_assert_eq(pipe(fd), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char buf[4096];

		close(fd[0]);
		memset(buf, 'a', sizeof(buf));
		signal(SIGPIPE, SIG_DFL);
		for (;;)
			if (write(fd[1], buf, sizeof(buf)) < 0)
				_exit(3);
	}
	close(fd[1]);
	in = fdopen(fd[0], "r");
	cr_assert(in);
	r = run_file(in, "<stdin>");
	fclose(in);
	waitpid(pid, &st, 0);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.err, "<stdin>:1: line longer than 65536 bytes (the limit)\n");
	/* The writer ended only because the reader stopped reading. */
	cr_assert(WIFSIGNALED(st) ? WTERMSIG(st) == SIGPIPE : WEXITSTATUS(st) == 3);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* User text in messages: quoted, escaped, cut                        */
/* ------------------------------------------------------------------ */

struct quote_case {
	char text[96];      /* the script */
	char err[192];      /* the whole message */
};

static struct quote_case quote_cases[] = {
	{ "frob\x01\n", "t.ps:1: 'frob\\x01': unknown operation\n" },
	{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	  "t.ps:1: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...': unknown "
	  "operation\n" },
	{ "t zz\x1b=1\n", "t.ps:1: 'zz\\x1b': unknown argument of 't'\n" },
	{ "t zz\x1b\n", "t.ps:1: 'zz\\x1b': not a key=value argument\n" },
	{ "types n=\x07\n",
	  "t.ps:1: n: '\\x07' is not a number (decimal or 0x hex, at most 64 bits)\n" },
	{ "types n=1 e=rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\n",
	  "t.ps:1: e: 'rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr...' is not one "
	  "of read|write|fetch\n" },
	{ "chk i=0000000000000000000000000000000000000000000000000000000000000000009\n",
	  "t.ps:1: i: '000000000000000000000000000000000000000000000000000000000...' is not in "
	  "0..3\n" },
	{ "chk p=r\xc3\xa9\n",
	  "t.ps:1: p: 'r\\xc3\\xa9' is not none or letters from r, w, u, s (each at most once)\n" },
	{ "@\x01 t\n", "t.ps:1: '@\\x01': not a cycle number (decimal or 0x hex)\n" },
	{ "fake tw\x7f\n", "t.ps:1: fake 'tw\\x7f': unknown operation\n" },
	{ "machine mem\x01=1 cpus=1\n",
	  "t.ps:1: 'mem\\x01': unknown machine key (mem, cpus, profile, rmp, rmp_base, "
	  "rmp_segment, host, or a dotted config key)\n" },
	{ "t\nexpect OK\x1b[1m\n", "t.ps:2: expect failed: expected 'OK\\x1b[1m'; got OK\n" },
	{ "t\nexpect OK(\x01\n", "t.ps:2: 'OK(\\x01': malformed result (expected NAME or "
				 "NAME(ITEM,...))\n" },
	{ "t\nexpect OK a\x02=\n", "t.ps:2: 'a\\x02': missing value\n" },
};

ParameterizedTestParameters(script, messages_quote_user_text)
{
	return cr_make_param_array(struct quote_case, quote_cases,
				   sizeof(quote_cases) / sizeof(quote_cases[0]));
}

ParameterizedTest(struct quote_case *c, script, messages_quote_user_text)
{
	struct run r = run_text(c->text, NULL);

	cr_assert_neq(r.rc, 0);
	cr_assert_str_eq(r.err, c->err);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* The machine line against the command line and a built machine      */
/* ------------------------------------------------------------------ */

struct prec_case {
	char key[16], val[8], src[16]; /* set before the script, from @src (line 0) */
	char script[48];
	char check[16];                /* then: this key ... */
	uint64_t want;                 /* ... has this value */
	char origin[16];               /* ... from there */
};

static struct prec_case prec_cases[] = {
	/* --set wins over the machine line */
	{ "machine.mem", "1g", "--set", "machine mem=256m cpus=1\nt\n", "machine.mem", 1ull << 30,
	  "--set" },
	{ "machine.mem", "1g", "--set", "machine mem=256m cpus=1\nt\n", "machine.cpus", 1, "t.ps:1" },
	{ "engine.seed", "3", "--seed", "machine mem=64m cpus=1 engine.seed=9\nt\n", "engine.seed",
	  3, "--seed" },
	/* a file's value (a scenario's) is below the machine line */
	{ "machine.mem", "1g", "sc.ini:4", "machine mem=256m cpus=1\nt\n", "machine.mem",
	  256ull << 20, "t.ps:1" },
};

ParameterizedTestParameters(script, machine_line_below_the_command_line)
{
	return cr_make_param_array(struct prec_case, prec_cases,
				   sizeof(prec_cases) / sizeof(prec_cases[0]));
}

ParameterizedTest(struct prec_case *c, script, machine_line_below_the_command_line)
{
	struct sim *s = sim_new(mods);
	struct sim_err err;
	struct run r = { 0 };
	FILE *out = open_memstream(&r.out, &r.outn), *errf = open_memstream(&r.err, &r.errn);

	cr_assert_eq(sim_cfg_set(s, c->key, c->val, c->src, 0, &err), 0, "%s", err.msg);
	r.rc = sim_script_run_text(s, c->script, "t.ps", out, errf);
	fclose(out);
	fclose(errf);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.err, "");
	cr_assert_eq(sim_cfg_u64(s, c->check), c->want);
	cr_assert_str_eq(sim_cfg_origin(s, c->check), c->origin);
	sim_free(s);
	run_free(&r);
}

struct built_case {
	char script[64];
	int rc;
	char out[32];
	char err[224];
};

static struct built_case built_cases[] = {
	{ "machine mem=64m cpus=2\nt\n", 0, "[0] cpu0 t -> OK (0 cycles)\n", "" },
	{ "machine mem=0x4000000 cpus=2 profile=generic\nt\n", 0, "[0] cpu0 t -> OK (0 cycles)\n",
	  "" },
	/* machine.cpus came from --set: the line's value is not compared */
	{ "machine mem=64m cpus=7\nt\n", 0, "[0] cpu0 t -> OK (0 cycles)\n", "" },
	{ "machine mem=128m cpus=2\nt\n", 2, "",
	  "w.ps:1: mem: 128m differs from the machine built from the scenario (machine.mem = 64m, "
	  "from sc.ini:2); a workload runs on that machine: drop the machine line or put its keys "
	  "in the scenario file\n" },
	{ "machine mem=64m cpus=2 engine.quantum=8\nt\n", 2, "",
	  "w.ps:1: engine.quantum: 8 differs from the machine built from the scenario "
	  "(engine.quantum = 1, the default); a workload runs on that machine: drop the machine "
	  "line or put its keys in the scenario file\n" },
	{ "machine mem=64m cpus=2 engine.nosuch=1\nt\n", 2, "",
	  "w.ps:1: engine.nosuch: unknown key\n" },
	{ "machine mem=64m\nt\n", 2, "", "w.ps:1: cpus: missing (required by 'machine')\n" },
};

ParameterizedTestParameters(script, machine_line_on_a_built_machine)
{
	return cr_make_param_array(struct built_case, built_cases,
				   sizeof(built_cases) / sizeof(built_cases[0]));
}

/* A `protsim run` workload: the scenario built the machine; a machine line must match it. */
ParameterizedTest(struct built_case *c, script, machine_line_on_a_built_machine)
{
	struct sim *s = sim_new(mods);
	struct sim_err err;
	struct run r = { 0 };
	FILE *out = open_memstream(&r.out, &r.outn), *errf = open_memstream(&r.err, &r.errn);

	cr_assert_eq(sim_cfg_set(s, "machine.mem", "64m", "sc.ini", 2, &err), 0);
	cr_assert_eq(sim_cfg_set(s, "machine.cpus", "2", "--set", 0, &err), 0);
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	r.rc = sim_script_run_text(s, c->script, "w.ps", out, errf);
	fclose(out);
	fclose(errf);
	cr_assert_eq(r.rc, c->rc, "%s", r.err);
	cr_assert_str_eq(r.out, c->out);
	cr_assert_str_eq(r.err, c->err);
	sim_free(s);
	run_free(&r);
}
