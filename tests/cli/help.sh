#!/bin/sh
# Help topics: config (text and Markdown), ops, profiles.
# Run: PROTSIM=build/protsim sh tests/cli/help.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$P" help config >"$T/cfg" || fail "help config exit $?"
grep -q '^  machine.cpus ' "$T/cfg" || fail "help config lists machine.cpus"
grep -q '^\[lat.mem\]$' "$T/cfg" || fail "help config groups lat.mem"

"$P" help config --markdown >"$T/md" || fail "help config --markdown exit $?"
head -n 1 "$T/md" | grep -q '^# protsim configuration keys$' || fail "markdown title"
grep -q '^| `machine.cpus` | u64 | 1 .. 256 | `2` |' "$T/md" || fail "markdown machine.cpus row"
grep -q '^| `lat.mem.dram` | u64 | .* | profile |' "$T/md" || fail "markdown lat row"

"$P" help ops >"$T/ops" || fail "help ops exit $?"
grep -q '^  mem read pa=ADDR' "$T/ops" || fail "help ops lists mem read"
grep -q '^  nop cycles=N' "$T/ops" || fail "help ops lists nop"

"$P" help profiles >"$T/prof" || fail "help profiles exit $?"
grep -q '^  generic ' "$T/prof" || fail "help profiles lists generic"
echo "help: ok"
