#!/bin/sh
# Relative paths are taken beside the file that names them, whatever the
# working directory: a key set in a scenario file or on a script's machine
# line (pkvm.firmware: sim_cfg_path) beside that file; `vm load elf=` beside
# the script (sim_arg_path); from --set, relative to the working directory.
# Checked with the pKVM scenario (its firmware in the .ini, its payload in
# the .ps) and the pkvm_payload.ps script test, run from the top of the
# tree, from workloads/ and from an unrelated directory: the same workload
# log each time; a firmware named on --set relative to the working
# directory is found there and a missing one is refused naming the key.
# Run: PROTSIM=build/protsim sh tests/cli/relative_paths.sh (after `make guest`)
set -u
P=$(cd "$(dirname "${PROTSIM:-build/protsim}")" && pwd)/$(basename "${PROTSIM:-build/protsim}")
R=$(pwd)
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# the scenario from three working directories
"$P" run workloads/scenarios/pkvm-share.ini --out "$T/a" -q > "$T/a.sum" 2>&1 ||
	fail "pkvm-share.ini from the top: $(cat "$T/a.sum")"
(cd workloads && "$P" run scenarios/pkvm-share.ini --out "$T/b" -q) > "$T/b.sum" 2>&1 ||
	fail "pkvm-share.ini from workloads/: $(cat "$T/b.sum")"
(cd "$T" && "$P" run "$R/workloads/scenarios/pkvm-share.ini" --out "$T/c" -q) > "$T/c.sum" 2>&1 ||
	fail "pkvm-share.ini from elsewhere: $(cat "$T/c.sum")"
grep -q 'console: pvmfw: jumping to the payload at 0x80000000' "$T/a/workload.log" ||
	fail "the firmware did not jump to the payload"
grep -q 'console: payload: done, 0 unexpected' "$T/a/workload.log" ||
	fail "the payload did not finish cleanly"
# the log names the scenario's script by the path it was given: compare the rest
for x in b c; do
	sed 's|[^ ]*pkvm-share.ps||' "$T/a/workload.log" > "$T/a.log"
	sed 's|[^ ]*pkvm-share.ps||' "$T/$x/workload.log" > "$T/$x.log"
	cmp -s "$T/a.log" "$T/$x.log" || fail "workload.log differs between working directories ($x)"
done

# a script's machine line and vm load, from the top and from elsewhere
"$P" script tests/scripts/pkvm_payload.ps > "$T/s1" 2>&1 || fail "pkvm_payload.ps from the top: $(tail -3 "$T/s1")"
(cd "$T" && "$P" script "$R/tests/scripts/pkvm_payload.ps") > "$T/s2" 2>&1 ||
	fail "pkvm_payload.ps from elsewhere: $(tail -3 "$T/s2")"
sed 's|[^ ]*pvm_payload.elf|PAYLOAD|' "$T/s1" > "$T/s1n"
sed 's|[^ ]*pvm_payload.elf|PAYLOAD|' "$T/s2" > "$T/s2n"
cmp -s "$T/s1n" "$T/s2n" || fail "pkvm_payload.ps: different output from another directory"

# --set: relative to the working directory
"$P" run workloads/scenarios/pkvm-share.ini --set pkvm.firmware=build/guest/pvmfw.elf \
	--out "$T/d" -q > "$T/d.sum" 2>&1 || fail "--set pkvm.firmware from the top: $(cat "$T/d.sum")"
if (cd "$T" && "$P" run "$R/workloads/scenarios/pkvm-share.ini" \
	--set pkvm.firmware=build/guest/pvmfw.elf --out "$T/e" -q) > "$T/e.sum" 2>&1; then
	fail "--set pkvm.firmware=build/guest/pvmfw.elf found from $T"
fi
grep -q -- '--set: pkvm.firmware: build/guest/pvmfw.elf: cannot open' "$T/e.sum" ||
	fail "the missing firmware is not reported naming the key: $(cat "$T/e.sum")"
echo "relative paths: ok"
