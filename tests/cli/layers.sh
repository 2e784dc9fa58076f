#!/bin/sh
# make layers: sim/tools/layers.sh finds includes that point up a layer or
# reach into another module's internal header, and passes a clean tree.
# Run: sh tests/cli/layers.sh (from the repository root)
set -u
R=$(pwd)
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
SPECS="stack:stack,cpu,iommu,stage2,rmp,wl,sim cpu:cpu,iommu,stage2,rmp,sim iommu:iommu,stage2,rmp,sim stage2:stage2,rmp,sim rmp:rmp,sim wl:wl,sim sim:sim"

mkdir -p "$T/sim/stack" "$T/rmp" "$T/stage2" "$T/cpu"
printf '#include "sim/sim.h"\n#include "rmp/rmp.h"\n#include "stage2/s2.h"\n' > "$T/stage2/ok.c"
printf '#include "cpu/cpu.h"\n#include "sim/stack/stack.h"\n' > "$T/sim/main.c"
printf '#include "sim/stack/stack.h"\n#include "cpu/cpu.h"\n' > "$T/sim/stack/vm.c"
printf '#include <stdio.h>\n#include "rmp/rmp_int.h"\n' > "$T/rmp/rmp.c"
(cd "$T" && sh "$R/sim/tools/layers.sh" $SPECS) > "$T/out" 2>&1 || fail "clean tree: $(cat "$T/out")"
grep -q '^layers: every include points down a layer$' "$T/out" || fail "clean tree: no summary"

# Three violations: engine -> hardware, hardware -> stack, internal header.
printf '#include "sim/sim.h"\n#include "rmp/rmp.h"\n' > "$T/sim/engine.c"
printf '/* x */\n#include "sim/stack/stack.h"\n' > "$T/cpu/vm.c"
printf '#include "rmp/rmp_int.h"\n' > "$T/stage2/bad.c"
(cd "$T" && sh "$R/sim/tools/layers.sh" $SPECS) > "$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "violations: exit $rc, want 1"
grep -qx 'sim/engine.c:2: includes rmp/rmp.h: module sim may not depend on rmp (DEP_sim = sim)' "$T/out" ||
	fail "engine -> rmp not reported: $(cat "$T/out")"
grep -q '^cpu/vm.c:2: includes sim/stack/stack.h: module cpu may not depend on stack' "$T/out" ||
	fail "cpu -> stack not reported: $(cat "$T/out")"
grep -qx 'stage2/bad.c:1: includes rmp/rmp_int.h: not the public header of module rmp' "$T/out" ||
	fail "internal header not reported: $(cat "$T/out")"
[ "$(wc -l < "$T/out")" = 3 ] || fail "want exactly 3 lines: $(cat "$T/out")"
exit 0
