#!/bin/sh
# `protsim run` runs the VMs a scenario describes ([vm0] .. [vm3]): two VMs
# with different guest programs at once, each with its own statistics
# (vm0.*, vm1.*) in stats.json and its own console file; byte-identical
# outputs on a second run; a VM that fails makes the run fail, naming it;
# bad VM keys are refused naming the file, the line and the key.
# Run: PROTSIM=build/protsim GUEST_DIR=build/guest sh tests/cli/run_vms.sh
set -u
P=${PROTSIM:-build/protsim}
G=$(cd "${GUEST_DIR:-build/guest}" && pwd) || exit 2
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$T/two.ini" <<INI
[machine]
mem = 4g
cpus = 2
[vm0]
elf = $G/hello.elf
[vm1]
elf = $G/compute_small.elf
type = snp
mem_size = 32m
INI
for d in a b; do
	"$P" run "$T/two.ini" --out "$T/$d" --quiet || fail "run $d exit $?"
done
for f in stats.json stats.txt config.json vm0.console vm1.console; do
	[ -f "$T/a/$f" ] || fail "missing $f"
	cmp -s "$T/a/$f" "$T/b/$f" || fail "$f differs between two identical runs"
done
grep -q '^hello from a protsim guest' "$T/a/vm0.console" || fail "vm0 console: $(cat "$T/a/vm0.console")"
grep -q '^compute: iters=2 checksum=0x0dbe8308af2c6c86' "$T/a/vm1.console" ||
	fail "vm1 console: $(cat "$T/a/vm1.console")"
python3 - "$T/a/stats.json" <<'PY' || fail "stats.json"
import json, sys
st = json.load(open(sys.argv[1]))
flat = {}
def walk(p, v):
    if isinstance(v, dict):
        for k, w in v.items():
            walk(p + [k], w)
    else:
        flat[".".join(p)] = v
walk([], st)
def val(name):
    for k, v in flat.items():
        if k == name or k.endswith("." + name) or k.endswith(name):
            return v
    raise SystemExit("no statistic %s in stats.json" % name)
v0 = val("vm0.vcpu0.insns"); v1 = val("vm1.vcpu0.insns")
v0 = v0["value"] if isinstance(v0, dict) else v0
v1 = v1["value"] if isinstance(v1, dict) else v1
assert v0 == 3598, v0          # hello, as under exec
assert v1 == 1312621, v1       # compute_small, as under exec
for n in ("vm0.npf_maps", "vm1.npf_maps", "vm0.s2.xlates", "vm1.s2.xlates", "vm0.table_ops"):
    val(n)
PY
# the summary names each VM's end
"$P" run "$T/two.ini" --out "$T/c" >"$T/sum" || fail "run c exit $?"
grep -q "^stack: vm0 .*hello.elf: exited (code 0), 3598 instructions on 1 vCPU" "$T/sum" ||
	fail "summary: $(cat "$T/sum")"
grep -q "^stack: vm1 .*compute_small.elf: exited (code 0), 1312621 instructions" "$T/sum" ||
	fail "summary: $(cat "$T/sum")"

# A VM that does not exit 0 fails the run, naming it.
cat >"$T/lim.ini" <<INI
[vm0]
elf = $G/compute_small.elf
max_insns = 1000
INI
"$P" run "$T/lim.ini" --out "$T/d" --quiet 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "limit: exit $rc"
grep -q "^protsim: vm0: .*compute_small.elf: limit$" "$T/err" || fail "limit: $(cat "$T/err")"

# Bad VM keys: file, line and key named; nothing runs (exit 2).
refused() { # name ini-text expected-message
	printf "$2" >"$T/$1.ini"
	"$P" run "$T/$1.ini" --out "$T/$1.out" --quiet 2>"$T/err"; rc=$?
	[ $rc -eq 2 ] || fail "$1: exit $rc"
	grep -q "$3" "$T/err" || fail "$1: $(cat "$T/err")"
}
refused bad '[vm1]\nelf = '"$G"'/hello.elf\nvcpus = 65\n' "bad.ini:3: vm1.vcpus"
refused noelf '[vm2]\nelf = nosuch.elf\n' "noelf.ini:2: vm2.elf"
refused align '[vm0]\nelf = '"$G"'/hello.elf\nspa_base = 0x80000800\n' "align.ini:3: vm0.spa_base"
exit 0 fails the run, naming it.
cat >"$T/lim.ini" <<INI
[vm0]
elf = $G/compute_small.elf
max_insns = 1000
INI
"$P" run "$T/lim.ini" --out "$T/d" --quiet 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "limit: exit $rc"
grep -q "^protsim: vm0: .*compute_small.elf: limit$" "$T/err" || fail "limit: $(cat "$T/err")"

# Bad VM keys: file, line and key named; nothing runs.
printf '[vm1]\nelf = %s/hello.elf\nvcpus = 65\n' "$G" >"$T/bad.ini"
"$P" run "$T/bad.ini" --out "$T/e" --quiet 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "bad vcpus: exit $rc"
grep -q "bad.ini:3: vm1.vcpus" "$T/err" || fail "bad vcpus: $(cat "$T/err")"
printf '[vm2]\nelf = nosuch.elf\n' >"$T/noelf.ini"
"$P" run "$T/noelf.ini" --out "$T/f" --quiet 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "missing elf: exit $rc"
grep -q "noelf.ini:2: vm2.elf" "$T/err" || fail "missing elf: $(cat "$T/err")"
printf '[vm0]\nelf = %s/hello.elf\nspa_base = 0x80000800\n' "$G" >"$T/align.ini"
"$P" run "$T/align.ini" --out "$T/g" --quiet 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "misaligned: exit $rc"
grep -q "align.ini:3: vm0.spa_base" "$T/err" || fail "misaligned: $(cat "$T/err")"
exit 0
