#!/bin/sh
# One option parser for every command (sim/cli.c): --set=KEY=VALUE and
# --set KEY VALUE everywhere (exec too), -q for --quiet, command-line order
# for --set and --seed, "--" and "-", the same messages in every command.
# Run: PROTSIM=build/protsim sh tests/cli/cmd_options.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf '[machine]\ncpus = 1\nmem = 64m\n' >"$T/ok.ini"
printf 'workload.script = w.ps\n[machine]\nmem = 64m\n' >"$T/wl.ini"
printf '@0 cpu2 nop cycles=1\nexpect OK\n' >"$T/w.ps"

# 1. --set=KEY=VALUE in every command that builds a machine.
"$P" run "$T/wl.ini" --set=machine.cpus=3 --out "$T/o1" -q >"$T/out" 2>"$T/err" ||
	fail "run --set=: $(cat "$T/err")"
"$P" script "$T/w.ps" --set=machine.cpus=3 >"$T/out" 2>"$T/err" || fail "script --set=: $(cat "$T/err")"
grep -q '^\[0\] cpu2 nop cycles=1 -> OK' "$T/out" || fail "script --set=: $(cat "$T/out")"
printf 'cpu2 nop cycles=1\nquit\n' | "$P" shell --set=machine.cpus=3 >"$T/out" 2>"$T/err" ||
	fail "shell --set=: $(cat "$T/err")"
grep -q '^\[0\] cpu2 nop cycles=1 -> OK' "$T/out" || fail "shell --set=: $(cat "$T/out")"
"$P" exec "$G/hello.elf" --set=vm.vcpus=2 --stats >"$T/out" 2>"$T/err" || fail "exec --set=: $(cat "$T/err")"
grep -q '^vcpu1\.insns ' "$T/err" || fail "exec --set=vm.vcpus=2: no vcpu1 in the stats"
"$P" exec "$G/hello.elf" --set=cpu.mode=turbo >/dev/null 2>"$T/err"
[ $? = 122 ] || fail "exec --set=cpu.mode=turbo: not applied"
# a key longer than exec's old 128-byte buffer is an unknown key, not bad usage
long=$(printf 'vm.%0200d' 0)
"$P" exec "$G/hello.elf" --set "$long=1" >/dev/null 2>"$T/err"
[ $? = 122 ] || fail "exec --set LONG=1: exit code"
grep -q "^protsim: --set: vm\.0000000000000000000000000000000000000000000000000000000000000\.\.\.: unknown key$" "$T/err" ||
	fail "exec --set LONG=1: $(cat "$T/err")"

# 2. -q is --quiet: no summary on stdout.
"$P" run "$T/ok.ini" --out "$T/o2" >"$T/loud" 2>&1 || fail "run"
grep -q '^protsim ' "$T/loud" || fail "run without -q prints a summary"
for q in -q --quiet; do
	"$P" run "$T/ok.ini" --out "$T/o2" $q >"$T/out" 2>&1 || fail "run $q"
	[ -s "$T/out" ] && fail "run $q printed: $(cat "$T/out")"
done

# 3. --set and --seed apply in command-line order: the last one wins.
"$P" run "$T/ok.ini" --out "$T/o3" -q --seed 3 --set engine.seed=4 || fail "seed order 1"
grep -q '"engine.seed": 4,' "$T/o3/config.json" || fail "--seed 3 --set engine.seed=4: not 4"
"$P" run "$T/ok.ini" --out "$T/o3" -q --set engine.seed=4 --seed=3 || fail "seed order 2"
grep -q '"engine.seed": 3,' "$T/o3/config.json" || fail "--set engine.seed=4 --seed=3: not 3"

# 4. "--" ends the options; "-" is standard input.
printf 'nop cycles=2\n' | "$P" script -- - >"$T/out" 2>&1 || fail "script -- -"
grep -q 'nop cycles=2 -> OK' "$T/out" || fail "script -- -: $(cat "$T/out")"
cp "$T/ok.ini" "$T/--weird.ini"
"$P" run -q --out "$T/o4" -- "$T/--weird.ini" || fail "run -- FILE"

# 5. The same problem gives the same message in every command (exit codes:
#    2, and 121 for exec).
for c in run script exec; do
	case $c in exec) want=121 ;; *) want=2 ;; esac
	"$P" $c x --set cpus >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" = $want ] || fail "$c --set cpus: exit $rc, want $want"
	[ "$(head -n 1 "$T/err")" = "protsim $c: --set: expected KEY=VALUE, got 'cpus'" ] ||
		fail "$c --set cpus: $(head -n 1 "$T/err")"
	"$P" $c x --seed >/dev/null 2>"$T/err"
	[ "$(head -n 1 "$T/err")" = "protsim $c: --seed needs a value (N)" ] || fail "$c --seed: $(cat "$T/err")"
	case $c in
	run) f=$T/ok.ini want=2 ;;
	script) f=$T/w.ps want=2 ;;
	exec) f=$G/hello.elf want=122 ;;
	esac
	"$P" $c "$f" --set=machine.cpus=0 >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" = $want ] || fail "$c --set=machine.cpus=0: exit $rc, want $want"
	grep -qx "protsim: --set: machine.cpus: must be between 1 and 256 (got '0')" "$T/err" ||
		fail "$c --set=machine.cpus=0: $(cat "$T/err")"
done
"$P" shell --set cpus </dev/null >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "shell --set cpus: exit code"
grep -qx "protsim shell: --set: expected KEY=VALUE, got 'cpus'" "$T/err" || fail "shell --set cpus: $(cat "$T/err")"
# a flag takes no value; -q is not -qq
"$P" run x --quiet=yes >/dev/null 2>"$T/err"
grep -qx "protsim run: --quiet takes no value" "$T/err" || fail "--quiet=yes: $(cat "$T/err")"
"$P" run x -qq >/dev/null 2>"$T/err"
grep -qx "protsim run: unknown option '-qq'" "$T/err" || fail "-qq: $(cat "$T/err")"
echo "cmd_options: ok"
