#!/bin/sh
# layers.sh - check every source file's includes against the module
# dependency lists of the Makefile (`make layers`).
#
# Usage: layers.sh MOD:DEP,DEP... [MOD:DEP,...]...
#   e.g. layers.sh sim:sim rmp:rmp,sim stage2:stage2,rmp,sim ...
#
# Rules:
#   1. A file of module M includes headers of modules in DEP_M only
#      (dependencies point down: stack -> hardware -> engine).
#   2. A header of another module is that module's public header
#      (PUBLIC below); internal headers (*_int.h, *.def) stay in their module.
#   3. The CLI (sim/main.c) is the top: it may include any public header.
# Prints one line per violation, "FILE:LINE: includes HDR: rule", and
# exits 1 if there is any.
set -u

# Module of a path (a source file or an included header).
mod_of() {
	case "$1" in
	sim/stack/*) echo stack ;;
	sim/*)       echo sim ;;
	rmp/*)       echo rmp ;;
	stage2/*)    echo stage2 ;;
	iommu/*)     echo iommu ;;
	cpu/*)       echo cpu ;;
	workloads/*) echo wl ;;
	*)           echo "" ;;
	esac
}

# The public headers of each module (one per module; stage2 also exports
# its generic cache structure, tlb.h, used by the IOMMU's IOTLB).
PUBLIC="sim/sim.h sim/stack/stack.h rmp/rmp.h stage2/s2.h stage2/tlb.h iommu/iommu.h cpu/cpu.h"

deps_of() {
	for spec in $SPECS; do
		case "$spec" in
		"$1":*) echo "${spec#*:}" | tr ',' ' '; return ;;
		esac
	done
}

SPECS="$*"
[ -n "$SPECS" ] || { echo "usage: layers.sh MOD:DEP,... ..." >&2; exit 2; }

bad=0
files=$(find sim rmp stage2 iommu cpu workloads -name '*.[ch]' ! -path '*/guest/*' 2>/dev/null | sort)
for f in $files; do
	m=$(mod_of "$f")
	[ -n "$m" ] || continue
	deps=$(deps_of "$m")
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
	sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' > "${TMPDIR:-/tmp}/layers.$$"
	while read -r line hdr; do
		hm=$(mod_of "$hdr")
		[ -n "$hm" ] || continue          # a header of no module (system, local)
		[ "$hm" = "$m" ] && continue      # own module: anything
		if [ "$f" != sim/main.c ]; then
			case " $deps " in
			*" $hm "*) ;;
			*) echo "$f:$line: includes $hdr: module $m may not depend on $hm (DEP_$m = $deps)"
			   bad=1; continue ;;
			esac
		fi
		case " $PUBLIC " in
		*" $hdr "*) ;;
		*) echo "$f:$line: includes $hdr: not the public header of module $hm"; bad=1 ;;
		esac
	done < "${TMPDIR:-/tmp}/layers.$$"
	rm -f "${TMPDIR:-/tmp}/layers.$$"
done
# The while loop runs in this shell (input redirected, not piped), so
# bad survives it.
[ "$bad" = 0 ] && echo "layers: every include points down a layer"
exit "$bad"
