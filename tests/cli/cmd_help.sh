#!/bin/sh
# Per-command help (-h, --help, protsim help COMMAND), --version / -V,
# help config KEY, help ops OP, help NAME, and "did you mean" for a mistyped
# command, option, help topic, operation and key.
# Run: PROTSIM=build/protsim sh tests/cli/cmd_help.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ok ARGS...: exit 0, stdout not empty, stderr empty
ok() {
	"$P" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 0 ] || fail "protsim $*: exit $rc: $(cat "$T/err")"
	[ -s "$T/out" ] || fail "protsim $*: nothing on stdout"
	[ -s "$T/err" ] && fail "protsim $*: stderr: $(cat "$T/err")"
	return 0
}

# bad RC FIRST-LINE ARGS...: exit RC, stderr's first line exactly FIRST-LINE, stdout empty
bad() {
	want=$1 msg=$2; shift 2
	"$P" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "protsim $*: exit $rc, want $want: $(cat "$T/err")"
	[ "$(head -n 1 "$T/err")" = "$msg" ] || fail "protsim $*: stderr '$(head -n 1 "$T/err")', want '$msg'"
	[ -s "$T/out" ] && fail "protsim $*: wrote to stdout"
	return 0
}

# 1. Every command: -h and --help describe its options and exit status, exit 0.
for c in run script exec shell help version replay import; do
	for h in --help -h; do
		ok $c $h
		head -n 1 "$T/out" | grep -q "^usage: protsim $c" || fail "$c $h: first line $(head -n 1 "$T/out")"
		grep -q '^options:$' "$T/out" || fail "$c $h: no options list"
		grep -q '^  -h, --help  ' "$T/out" || fail "$c $h: -h not listed"
		grep -q '^exit status:$' "$T/out" || fail "$c $h: no exit status"
	done
	cp "$T/out" "$T/h.$c"
	ok help $c
	cmp -s "$T/out" "$T/h.$c" || fail "protsim help $c differs from protsim $c --help"
done
# --help wins wherever it is, even after a bad option
ok run --bogus --help
cmp -s "$T/out" "$T/h.run" || fail "run --bogus --help"
# each command lists its own options
grep -q '^  -q, --quiet ' "$T/h.run" || fail "run --help lists -q"
grep -q '^      --out DIR ' "$T/h.run" || fail "run --help lists --out"
grep -q '^      --max-insns N ' "$T/h.exec" || fail "exec --help lists --max-insns"
grep -q '^      --mode fast|detailed ' "$T/h.exec" || fail "exec --help lists --mode"
grep -q '^      --set KEY=VALUE ' "$T/h.exec" || fail "exec --help lists --set"
grep -q '^      --markdown ' "$T/h.help" || fail "help --help lists --markdown"
# and what each exit code means
grep -q '^  1  the workload ran and an `expect` failed$' "$T/h.run" || fail "run: exit 1"
grep -q '^  2  bad usage' "$T/h.script" || fail "script: exit 2"
for code in '0..119  the guest exited with this code' '121     bad usage' \
	    '122     bad configuration or ELF file' '124     the instruction limit was reached'; do
	grep -q "^  $code" "$T/h.exec" || fail "exec --help lacks '$code'"
done

# 2. --version, -V and version: version, commit, build type; nothing else.
ok version
cp "$T/out" "$T/v"
grep -Eqx 'protsim [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{7,40}(-dirty)?|unknown), build -O[0-3sg]( asan\+ubsan)?\)' "$T/v" ||
	fail "version: $(cat "$T/v")"
ok --version
cmp -s "$T/out" "$T/v" || fail "--version differs from version"
ok -V
cmp -s "$T/out" "$T/v" || fail "-V differs from version"
bad 2 "protsim version: unexpected argument 'x'" --version x

# 3. help config KEY / help ops OP / help NAME
ok help config machine.mem
[ "$(wc -l <"$T/out")" = 3 ] || fail "help config machine.mem: $(cat "$T/out")"
head -n 2 "$T/out" | tail -n 1 | grep -q '^  machine.mem  size  ' || fail "help config machine.mem row"
ok help config rmp
grep -q '^\[rmp\]$' "$T/out" || fail "help config rmp: group"
grep -v '^\[rmp\]$' "$T/out" | grep -v '^      ' | grep -qv '^  rmp\.' && fail "help config rmp: a key outside rmp"
ok help config lat.rmp
grep -q '^  lat.rmp.rmpupdate ' "$T/out" || fail "help config lat.rmp"
ok help ops rmpupdate
[ "$(head -n 1 "$T/out")" = "  rmpupdate spa=ADDR [assigned=0|1] [asid=N] [gpa=ADDR] [size=4k|2m] [immutable=0|1]" ] ||
	fail "help ops rmpupdate: $(cat "$T/out")"
[ "$(wc -l <"$T/out")" = 2 ] || fail "help ops rmpupdate: one operation"
cp "$T/out" "$T/op"
ok help rmpupdate
cmp -s "$T/out" "$T/op" || fail "help rmpupdate differs from help ops rmpupdate"
ok help ops s2 map
grep -q '^  s2 map vm=0..63 ipa=ADDR ' "$T/out" || fail "help ops s2 map"
ok help ops s2
grep -q '^  s2 map ' "$T/out" && grep -q '^  s2 create ' "$T/out" || fail "help ops s2: every s2 op"
grep -q '^  rmpupdate' "$T/out" && fail "help ops s2: an op outside s2"
ok help machine.cpus
grep -q '^  machine.cpus ' "$T/out" || fail "help machine.cpus"
bad 2 "protsim help: --markdown writes every key (no KEY)" help config machine.mem --markdown

# 4. Did you mean: commands, options, topics, operations, keys (scenario and --set).
bad 2 "protsim: unknown command 'rn' (did you mean 'run'?)" rn x.ini
bad 2 "protsim: unknown command 'exce' (did you mean 'exec'?)" exce x.elf
bad 2 "protsim: unknown command '--verison' (did you mean '--version'?)" --verison
bad 2 "protsim: unknown command 'frobnicate'" frobnicate
bad 2 "protsim run: unknown option '--quite' (did you mean '--quiet'?)" run x.ini --quite
bad 2 "protsim script: unknown option '--sede' (did you mean '--seed'?)" script x.ps --sede 3
bad 2 "protsim run: unknown option '--zzz'" run x.ini --zzz
bad 121 "protsim exec: unknown option '--max-insn' (did you mean '--max-insns'?)" exec x.elf --max-insn 5
bad 2 "protsim help: no operation named 'rmpudpate' (did you mean 'rmpupdate'?)" help ops rmpudpate
bad 2 "protsim help: no operation named 'zzz' (protsim help ops lists them)" help ops zzz
bad 2 "protsim help: no configuration key 'machine.mme' (did you mean 'machine.mem'?)" help config machine.mme
bad 2 "protsim help: unknown topic 'profils' (did you mean 'profiles'?)" help profils
bad 2 "protsim help: unknown topic 'rmpupdat' (did you mean 'rmpupdate'?)" help rmpupdat
printf '[machine]\ncpu = 1\n' >"$T/typo.ini"
bad 2 "protsim: $T/typo.ini:2: machine.cpu: unknown key (did you mean 'machine.cpus'?)" run "$T/typo.ini"
bad 2 "protsim: --set: rmp.mdoe: unknown key (did you mean 'rmp.mode'?)" script - --set rmp.mdoe=off
# ties go to the first candidate in order (options in table order; keys sorted)
bad 2 "protsim run: unknown option '--sed' (did you mean '--set'?)" run x.ini --sed 3
echo "cmd_help: ok"
