#!/bin/sh
# What protsim script and protsim shell read: every line at most 65536
# bytes (SIM_SCRIPT_LINE_MAX) and free of NUL bytes, so that no input is
# read without bound (/dev/zero, an endless line from a pipe); a UTF-8 byte
# order mark at the start is skipped; user text in messages is quoted,
# escaped and cut to about 60 characters.
# Run: PROTSIM=build/protsim sh tests/cli/script_input.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# check WHAT RC MESSAGE: the last command's exit status and its whole stderr
check() {
	[ "$rc" = "$2" ] || fail "$1: exit $rc, want $2: $(head -c 300 "$T/err")"
	[ "$(cat "$T/err")" = "$3" ] || fail "$1: stderr '$(head -c 300 "$T/err")', want '$3'"
}

# 1. Inputs without end: refused within seconds (timeout 60 kills a hang: exit 124).
timeout 60 "$P" script /dev/zero >"$T/out" 2>"$T/err"
rc=$?; check "script /dev/zero" 2 "/dev/zero:1: NUL byte at column 1 (a script is text)"
timeout 60 "$P" script - </dev/zero >"$T/out" 2>"$T/err"
rc=$?; check "script - </dev/zero" 2 "<stdin>:1: NUL byte at column 1 (a script is text)"
timeout 60 "$P" shell </dev/zero >"$T/out" 2>"$T/err"
rc=$?; check "shell </dev/zero" 2 "<stdin>:1: line longer than 65536 bytes (the limit)"
# an endless line of text from a pipe (tr stops when protsim closes the pipe)
{ printf 'nop cycles=1\n'; tr '\0' 'a' </dev/zero; } | timeout 60 "$P" script - >"$T/out" 2>"$T/err"
rc=$?; check "script - <endless line" 2 "<stdin>:2: line longer than 65536 bytes (the limit)"
[ -s "$T/out" ] && fail "endless line: something ran before the check pass ended"
{ printf 'nop cycles=1\n'; tr '\0' 'a' </dev/zero; } | timeout 60 "$P" shell >"$T/out" 2>"$T/err"
rc=$?; check "shell <endless line" 2 "<stdin>:2: line longer than 65536 bytes (the limit)"
[ "$(cat "$T/out")" = "[0] cpu0 nop cycles=1 -> OK (1 cycles)" ] || fail "shell: $(cat "$T/out")"

# 2. The limit: a line of exactly 65536 bytes is read, one byte more is not.
{ printf '#%065535d\n' 0; printf 'nop cycles=2\n'; } >"$T/max.ps"
[ "$(head -n 1 "$T/max.ps" | wc -c)" = 65537 ] || fail "max.ps: line 1 is not 65536 bytes"
"$P" script "$T/max.ps" >"$T/out" 2>"$T/err"
rc=$?; check "a line of 65536 bytes" 0 ""
{ printf 'nop cycles=2\n#%065536d\n' 0; } >"$T/over.ps"
"$P" script "$T/over.ps" >"$T/out" 2>"$T/err"
rc=$?; check "a line of 65537 bytes" 2 "$T/over.ps:2: line longer than 65536 bytes (the limit)"
[ -s "$T/out" ] && fail "over.ps: something ran"
printf 'nop cycles=1\nnop cycles=2\000\nnop cycles=3\n' >"$T/nul.ps"
"$P" script "$T/nul.ps" >"$T/out" 2>"$T/err"
rc=$?; check "a NUL byte" 2 "$T/nul.ps:2: NUL byte at column 13 (a script is text)"
"$P" shell <"$T/nul.ps" >"$T/out" 2>"$T/err"
rc=$?; check "shell: a NUL byte" 0 "<stdin>:2: NUL byte at column 13 (a script is text)"
printf '[0] cpu0 nop cycles=1 -> OK (1 cycles)\n[1] cpu0 nop cycles=3 -> OK (3 cycles)\n' >"$T/want"
cmp -s "$T/out" "$T/want" || fail "shell: a NUL byte: $(cat "$T/out")"

# 3. A UTF-8 byte order mark (as some editors write) starts the file: skipped.
printf '\357\273\277machine mem=64m cpus=1\nnop cycles=4\n' >"$T/bom.ps"
"$P" script "$T/bom.ps" >"$T/out" 2>"$T/err"
rc=$?; check "BOM" 0 ""
[ "$(cat "$T/out")" = "[0] cpu0 nop cycles=4 -> OK (4 cycles)" ] || fail "BOM: $(cat "$T/out")"
"$P" script - <"$T/bom.ps" >"$T/out" 2>"$T/err"
rc=$?; check "BOM on stdin" 0 ""
"$P" shell <"$T/bom.ps" >"$T/out" 2>"$T/err"
rc=$?; check "BOM in the shell" 0 ""
[ "$(cat "$T/out")" = "[0] cpu0 nop cycles=4 -> OK (4 cycles)" ] || fail "shell BOM: $(cat "$T/out")"

# 4. User text in messages: quoted, control bytes escaped, at most ~60 characters.
long=$(printf '%060000d' 7)     # 60000 characters: within the line limit
cut=$(printf '%057d' 0)...
printf 'nop cycles=1\n%s\n' "$long" >"$T/longword.ps"
"$P" script "$T/longword.ps" >"$T/out" 2>"$T/err"
rc=$?; check "a long word" 2 "$T/longword.ps:2: '$cut': unknown operation"
printf 'nop cycles=1%s\n' "$long" >"$T/longval.ps"
"$P" script "$T/longval.ps" >"$T/out" 2>"$T/err"
rc=$?; check "a long value" 2 "$T/longval.ps:1: cycles: '1$(printf '%056d' 0)...' is not a number (decimal or 0x hex, at most 64 bits)"
printf 'nop\033[2J cycles=1\n' >"$T/esc.ps"
"$P" script "$T/esc.ps" >"$T/out" 2>"$T/err"
rc=$?; check "an escape sequence" 2 "$T/esc.ps:1: 'nop\\x1b[2J': unknown operation"
printf 'nop cycles=1\nexpect OK%s\n' "$long" >"$T/longexp.ps"
"$P" script "$T/longexp.ps" >"$T/out" 2>"$T/err"
rc=$?; check "a long expect" 1 "$T/longexp.ps:2: expect failed: expected 'OK$(printf '%055d' 0)...'; got OK"
printf 'mem read pa=\001\n' | "$P" shell >"$T/out" 2>"$T/err"
rc=$?; check "shell: a control byte" 0 "<stdin>:1: pa: '\\x01' is not a number (decimal or 0x hex, at most 64 bits)"
echo "script_input: ok"
