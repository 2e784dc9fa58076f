/*
 * script_int.h - internals of the operation-language interpreter, shared
 * by its files (one job each):
 *
 *   script_lex.c    words of a line, result tokens, expect matching
 *   script_args.c   typed argument values, spec checks, usage lines
 *   script_parse.c  the op table; one line -> a parsed op, expect or machine line
 *   script_read.c   where the text comes from: sources and cursors
 *   script_run.c    lines posted to the host CPUs, run in start order, expect, the batch run
 *   script_replay.c a trace's lines run again on their CPUs (protsim replay)
 *   script_shell.c  `protsim shell`
 *   script_call.c   growable strings and the sim_call API of the ops
 *
 * and by sim/ops_mem.c (the engine ops, declared as sim_core_ops in
 * sim_int.h).  Never included outside sim/ and tests/test_script.c.
 *
 * The language itself is documented in docs/script.md.
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

/* ------------------------------------------------------------------ */
/* Words, values, expect matching (script_lex.c, script_args.c)        */
/* ------------------------------------------------------------------ */

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
 * User text (a word, a key, an expect line) for a message: @text itself
 * when it is 1 to 60 printable ASCII characters (space included) without
 * a quote or backslash, else sim_quote(@text, @buf) (quoted, control and non-ASCII
 * bytes escaped, cut to 60 characters).  So "frob: unknown operation"
 * reads as before, and no message shows more than ~60 characters of
 * user text or a raw control byte.
 */
const char *sim_script_show(const char *text, char buf[SIM_QUOTE_MAX]);

/*
 * Check @text against an argument's spec: its type and the spec's bounds,
 * alignment, size set or letters.  On success store the value the op
 * reads (see enum sim_arg_type) in *@val and return 0.  Otherwise write
 * the rule broken ("'zz' is not a number (decimal or 0x hex, at most 64
 * bits)", "0x10000000000000 is not below 2^52") to @why and return -1.
 */
int sim_script_check_value(const struct sim_arg_spec *spec, const char *text, uint64_t *val,
			   char *why, size_t whylen);

/*
 * A programming error in an op's argument table (INT with min > max, an
 * alignment that is not a power of two, an empty size set or alphabet,
 * ENUM without choices, a key given twice): sim_fatal naming @op.
 */
void sim_script_check_specs(const struct sim_op *op);

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

/* ------------------------------------------------------------------ */
/* Growable strings (script_call.c)                                    */
/* ------------------------------------------------------------------ */

struct sim_sbuf {
	char *p;       /* NUL-terminated text, NULL while empty */
	size_t n;      /* length */
	size_t cap;    /* allocated bytes */
};

void sim_sbuf_vprintf(struct sim_sbuf *b, const char *fmt, va_list ap);
void sim_sbuf_printf(struct sim_sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *sim_sbuf_str(const struct sim_sbuf *b);   /* "" while empty */
void sim_sbuf_free(struct sim_sbuf *b);

/* ------------------------------------------------------------------ */
/* Where a batch script's text comes from (script_read.c)              */
/* ------------------------------------------------------------------ */

/*
 * The whole text of a script, readable any number of times from any
 * offset: text in memory, or a file read with pread().  Nothing of it is
 * kept in memory by the reader beyond one buffer per cursor.
 */
struct script_src {
	const char *text;     /* memory: the text (up to its first NUL), else NULL */
	size_t len;           /* memory: its length */
	int fd;               /* file: descriptor read with pread() */
	uint64_t base;        /* file: offset of the script's first byte */
	FILE *spool;          /* owned copy of an input that cannot be re-read, or NULL */
};

/*
 * Set @src up from @in: a regular file is read in place from its current
 * offset; anything else (a pipe, a terminal, a memory stream, /dev/zero)
 * is copied to an unnamed temporary file first.  The copy ends after the
 * first line that breaks a reading rule (longer than SIM_SCRIPT_LINE_MAX
 * bytes, or holding a NUL byte), which a cursor then reports: an endless
 * input takes no more than that.  Return 0, or -1 with a message (the
 * system's reason) in @why.
 */
int sim_script_src_file(struct script_src *src, FILE *in, char *why, size_t whylen);
void sim_script_src_text(struct script_src *src, const char *text);
void sim_script_src_close(struct script_src *src);

/* Why a cursor stopped before the end of its text. */
enum script_read_fail {
	SCRIPT_READ_OK,       /* no failure */
	SCRIPT_READ_IO,       /* a read error: errno in ioerr */
	SCRIPT_READ_LONG,     /* a line longer than SIM_SCRIPT_LINE_MAX bytes */
	SCRIPT_READ_NUL,      /* a line holding a NUL byte, at column nulcol */
	SCRIPT_READ_LINES,    /* more than INT_MAX - 1 lines (line numbers are int) */
};

/* A reading position in a source, with its own buffer. */
struct script_cursor {
	const struct script_src *src;  /* what it reads */
	uint64_t pos;                  /* offset of the next line to read */
	int lineno;                    /* number of the line last read */
	char *buf;                     /* file: bytes [bpos, bpos + blen) of the source */
	uint64_t bpos;                 /* file: offset of buf[0] */
	size_t blen;                   /* file: bytes in buf */
	char *line;                    /* the line last read, NUL-terminated */
	size_t lcap;                   /* bytes allocated for line */
	enum script_read_fail fail;    /* why the last call returned NULL early */
	int ioerr;                     /* SCRIPT_READ_IO: errno */
	size_t nulcol;                 /* SCRIPT_READ_NUL: 1-based column of the NUL */
};

/* Start reading @src at offset @pos, where line number @lineno + 1 begins. */
void sim_script_cursor_init(struct script_cursor *cur, const struct script_src *src, uint64_t pos,
			    int lineno);
/*
 * The next line without its newline, valid until the next call; *@start
 * is the offset where it began.  A UTF-8 byte order mark (EF BB BF) at
 * offset 0 is skipped.  NULL at the end (0 in *@err), or -1 in *@err when
 * the line cannot be read: a read error, a line longer than
 * SIM_SCRIPT_LINE_MAX bytes or one holding a NUL byte (cur->fail says
 * which; sim_script_cursor_report() prints it).
 */
char *sim_script_cursor_next(struct script_cursor *cur, uint64_t *start, int *err);
/* @line past a UTF-8 byte order mark (EF BB BF) it starts with, if any. */
const char *sim_script_skip_bom(const char *line);
/* Go back to offset @pos, where line @lineno + 1 begins (a line read earlier). */
void sim_script_cursor_seek(struct script_cursor *cur, uint64_t pos, int lineno);
void sim_script_cursor_free(struct script_cursor *cur);

struct script;

/*
 * Print why @cur stopped (its failure, on the line after the last one it
 * read): "NAME:LINE: line longer than 65536 bytes (the limit)",
 * "NAME:LINE: NUL byte at column N (a script is text)", "NAME:LINE: more
 * than N lines (the limit)" or "NAME:LINE: cannot read: REASON".
 * Return 2.
 */
int sim_script_cursor_report(struct script *sc, const struct script_cursor *cur);

/*
 * A line read by other means (the shell's standard input, readline) that
 * breaks the same rules: print the message for line @lineno and return 2;
 * 0 if @line (@len bytes, may hold NULs) is fine.  With @len over
 * SIM_SCRIPT_LINE_MAX, @line is not read (a reader that stopped at the
 * limit passes SIM_SCRIPT_LINE_MAX + 1).
 */
int sim_script_line_check(struct script *sc, const char *line, size_t len, int lineno);

/* ------------------------------------------------------------------ */
/* The interpreter's state                                             */
/* ------------------------------------------------------------------ */

/* One parsed argument of an operation line. */
struct script_arg {
	const struct sim_arg_spec *spec;  /* its declaration in the op */
	const char *text;                 /* value as written (in the line's words) */
	uint64_t val;                     /* the checked value (sim_script_check_value()) */
};

/* One `expect` line. */
struct script_expect {
	int lineno;                       /* where it is, for the message */
	struct sim_script_words words;    /* storage for tok and kv */
	char *text;                       /* what follows "expect", single-spaced */
	const char *tok;                  /* wanted result token */
	struct sim_script_kv *kv;         /* wanted fields */
	size_t nkv;                       /* number of wanted fields */
	struct script_expect *next;       /* next expect of the same op */
};

/* One operation line, and its result once it has run. */
struct script_line {
	int lineno;                       /* 1-based line number */
	const struct sim_op *op;          /* the operation */
	int cpu;                          /* index of the agent: cpuN */
	bool has_cycle;                   /* an @CYCLE was given */
	uint64_t cycle;                   /* its value */
	struct sim_script_words words;    /* storage for args */
	char *args_text;                  /* the arguments as written, single-spaced */
	struct script_arg *args;          /* parsed arguments */
	size_t nargs;                     /* number of parsed arguments */
	struct script_expect *exp;        /* expect lines checking this op */
	struct script_expect **exp_tail;  /* where the next expect is linked */
	struct script *sc;                /* shell: its interpreter (the line is a message's arg) */
	bool done;                        /* ran to completion, result below */
	char *res;                        /* result token */
	struct sim_script_kv *kv;         /* result fields */
	size_t nkv;                       /* number of result fields */
};

/* What the interpreter keeps of one host CPU, cpuN. */
struct script_cpu {
	struct script *sc;                /* the interpreter */
	int idx;                          /* N of cpuN */
	struct sim_agent *agent;          /* the machine's host CPU (sim_host_cpu), once started */
	struct sim_call *call;            /* op in flight (on the agent's coroutine stack) */
	struct script_line *line;         /* batch: the line being run, owned */
	uint64_t first_pos;               /* batch: offset of its first op line */
	int first_lineno;                 /* batch: that line's number */
	uint64_t nlines;                  /* batch: op lines not yet read */
	struct script_cursor cur;         /* batch: its own reading position */
	bool cur_open;                    /* cur was initialised */
};

struct script {
	struct sim *s;                    /* the simulator */
	const char *name;                 /* for messages: "NAME:LINE: ..." */
	FILE *out, *errf;                 /* results; messages */
	bool interactive;                 /* shell: run each line as it comes */
	struct sim **sp;                  /* shell: where `reset` puts a new simulator, or NULL */
	int depth;                        /* shell: files being read by `source` */
	const struct sim_op **ops;        /* core ops, then every module's */
	size_t nops;                      /* number of ops */
	int ncpus;                        /* 0 until the first operation line */
	struct script_cpu *cpus;          /* [ncpus] */
	bool agents;                      /* the host CPUs are looked up (cpus[i].agent) */
	const struct script_src *src;     /* batch: the text, read by each agent's cursor */
	struct script_line *target;       /* shell: op an expect line would check, or NULL */
	struct script_line *last;         /* shell: the last op line run */
	int machine_line;                 /* line of the machine line, 0 = none */
	bool stopped;                     /* batch: a failure stopped the run */
	int rc;                           /* 0, 1 (expect failed) or 2 (malformed/machine) */
};

/* The call context an op's @run sees. */
struct sim_call {
	struct script *sc;                /* the interpreter */
	struct script_line *line;         /* the line being run */
	struct sim_agent *agent;          /* its agent */
	bool has_res;                     /* sim_call_result() was called */
	struct sim_sbuf res;              /* result token */
	struct sim_script_kv *kv;         /* result fields */
	size_t nkv, kvcap;                /* fields used, allocated */
	struct sim_sbuf extra;            /* sim_call_printf() lines, "  " prefixed */
	bool bad;                         /* sim_call_bad_arg() was called */
	struct sim_sbuf badmsg;           /* "key: message" */
};

/* Release a call's buffers (the result fields unless moved out). */
void sim_script_call_free(struct sim_call *c);

/* ------------------------------------------------------------------ */
/* Parsing (script_parse.c)                                            */
/* ------------------------------------------------------------------ */

/* Collect the core ops and every module's; a name registered twice is sim_fatal. */
void sim_script_ops_build(struct script *sc);

enum script_line_kind {
	SCRIPT_LINE_BLANK,     /* blank or comment only */
	SCRIPT_LINE_MACHINE,   /* the machine line, applied to the config */
	SCRIPT_LINE_OP,        /* an operation line */
	SCRIPT_LINE_EXPECT,    /* an expect line */
	SCRIPT_LINE_ERROR,     /* malformed: the message is printed */
};

/*
 * Parse one line.  An op line comes back in *@lp, an expect in *@ep (the
 * caller owns them); @has_target says whether an expect line may stand
 * here (an op line is just above).  Errors are printed (NAME:LINE: ...).
 */
enum script_line_kind sim_script_parse_line(struct script *sc, struct sim_script_words *w,
					    int lineno, bool has_target, struct script_line **lp,
					    struct script_expect **ep);

/*
 * The agent of an operation line from its text alone, without parsing
 * it: the N of a leading (or after @CYCLE) cpuN word, else 0; -1 for a
 * line that is no operation (blank, comment, machine, expect).  Only
 * meaningful for lines that parsed.
 */
int sim_script_line_agent(const char *text);

/* The machine line's short names and the config keys they set; {NULL, NULL} ends. */
extern const char *const sim_script_machine_keys[][2];

/* The CPU count is fixed at the first operation line. */
void sim_script_fix_cpus(struct script *sc);

/* Join words [from, n) with single spaces (never NULL). */
char *sim_script_words_join(const struct sim_script_words *w, size_t from);

void sim_script_line_free(struct script_line *l);
void sim_script_expect_free(struct script_expect *e);

/* ------------------------------------------------------------------ */
/* Running (script_run.c) and the shell (script_shell.c)               */
/* ------------------------------------------------------------------ */

/* Print "NAME:LINE: <msg>" on the error stream; return 2 (malformed). */
int sim_script_err(struct script *sc, int lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Check one expect line against a completed op; print and fail if unmet. */
bool sim_script_expect_check(struct script *sc, const struct script_line *l,
			     const struct script_expect *e);

/* Build the machine (unless built) and look up its host CPUs cpuN.  0 or 2. */
int sim_script_start(struct script *sc);

/*
 * Shell: post op line @l (owned by the caller) to its CPU's mailbox; the
 * next sim_run() runs it there.
 */
void sim_script_post_line(struct script *sc, struct script_line *l);

/*
 * Run op line @l on host CPU @cpu, inside the CPU's agent: wait for its
 * start (l->cycle when l->has_cycle: not before the agent's clock), run
 * it, print its result line, record it (statistics, timeline, trace),
 * keep its result in l->res and l->kv (l->done) and check its expects.
 */
void sim_script_run_line(struct script_cpu *cpu, struct script_line *l);

/* Ask every host CPU to stop (the interpreter posts no more lines). */
void sim_script_stop_cpus(struct script *sc);

/* After sim_run(): an agent still inside an op is blocked for good.  0 or 2. */
int sim_script_check_stuck(struct script *sc);

/* The shell: read and run @in line by line.  0, or 2 when it cannot go on. */
int sim_script_shell(struct script *sc, FILE *in);

/* Is @word a shell command (help, stats, reset, source, quit, exit)? */
bool sim_script_shell_cmd(const char *word);

#endif /* PROTSIM_SCRIPT_INT_H */
