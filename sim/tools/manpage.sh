#!/bin/sh
# manpage.sh PROTSIM - write protsim(1) in man(7) format to stdout, made from
# the binary's own help texts (`protsim help`, `protsim CMD --help` where a
# command has one, and the help topics), so the page never drifts from them.
set -eu
P=$1
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/" -e 's/^-/\\-/'; }
ver=$("$P" version 2>/dev/null | head -n 1)
cat <<HEAD
.TH PROTSIM 1 "" "$ver" "User Commands"
.SH NAME
protsim \\- deterministic simulator of virtualization protection hardware (SEV-SNP RMP, stage-2, IOMMU, RV64 guests)
.SH SYNOPSIS
.nf
HEAD
"$P" help 2>&1 | sed -n '/^usage:/,/^$/p' | sed '1d;/^$/d;s/^  //' | esc
cat <<'MID'
.fi
.SH DESCRIPTION
protsim models the AMD SEV-SNP Reverse Map Table and its instructions,
stage-2 translation (arm64 stage-2, AMD NPT, Intel EPT) with TLBs and nested
walks, an IOMMU and an RV64 CPU running ELF guest programs, on an engine with
simulated time: the same scenario, seed and binary give byte-identical
outputs.
.SH COMMANDS
.nf
MID
"$P" help 2>&1 | sed -n '/^commands:/,/^$/p' | sed '1d;/^$/d;s/^  //' | esc
echo ".fi"
for c in $("$P" help 2>&1 | sed -n '/^commands:/,/^$/p' | sed '1d;/^$/d' | awk '{print $1}'); do
	if out=$("$P" "$c" --help 2>/dev/null </dev/null) && [ -n "$out" ]; then
		printf '.SS "protsim %s"\n.nf\n' "$c"
		printf '%s\n' "$out" | esc
		echo ".fi"
	fi
done
echo ".SH EXIT STATUS"
"$P" help 2>&1 | grep -i '^exit status' | esc || true
cat <<'TAIL'
.SH FILES
.TP
.I PREFIX/share/protsim/scenarios
scenarios, among them default.ini (the guided tour that `make run` runs)
.TP
.I PREFIX/share/protsim/sdk
the guest SDK: include/protsim.h, lib/crt.o, lib/libprotsim-guest.a,
lib/link.ld, protsim-guest.mk and an example
.TP
.I PREFIX/share/protsim/guest
prebuilt guest programs
.TP
.I PREFIX/share/doc/protsim
the user guide and labs
.SH SEE ALSO
protsim help config, protsim help ops, protsim help profiles;
the guide in PREFIX/share/doc/protsim (README.md, script.md, config.md, guest-abi.md).
TAIL
