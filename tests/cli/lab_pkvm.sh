#!/bin/sh
# docs/labs/lab2-pkvm.md works as written: its ```ps blocks, in order, are
# one script (the shell session of sections 1-7), which runs to the end
# (every line well formed, the invariant checker after each) and gives the
# outcomes the lab's questions are about; the commands of its ```sh block
# for section 8 run and pass.
# Run: PROTSIM=build/protsim sh tests/cli/lab_pkvm.sh (after `make guest`)
set -u
P=${PROTSIM:-build/protsim}
L=docs/labs/lab2-pkvm.md
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

awk '/^```ps$/ { on = 1; next } /^```/ { on = 0 } on' "$L" > "$T/lab.ps"
[ "$(grep -c . "$T/lab.ps")" -ge 30 ] || fail "$L: too few script lines: $(cat "$T/lab.ps")"
"$P" script "$T/lab.ps" > "$T/out" 2>&1 || fail "$L: the sections' lines do not run: $(tail -3 "$T/out")"
want() { # PATTERN (one output line)
	grep -q -- "$1" "$T/out" || fail "$L: no line matching '$1'"
}
want 'pkvm host_access pa=0x20000000 kind=read -> OK mapped=2m'
want 'pkvm host_access pa=0x1000000 kind=read -> OOPS'
want 'pkvm host_access pa=0x1000000 kind=read by=user -> SIGSEGV'
want 'pkvm host_access pa=0x1000000 kind=read by=uaccess -> ERROR(EFAULT)'
want 'pkvm state pfn=0x20001 -> OK host=shared_owned hyp=shared_borrowed'
want 'pkvm host_share_hyp pfn=0x20001 -> ERROR(EPERM)'
want 'pkvm host_unshare_hyp pfn=0x20001 -> ERROR(EBUSY)'
want 'pkvm state pfn=0x30000 -> OK host=nopage hyp=nopage guest=owned owner=guest'
want 'pkvm host_access pa=0x30000000 kind=read -> OOPS'
want 'dma dev=1 iova=0x30000000 kind=write -> IO_PAGE_FAULT(TRANSLATION)'
want 'dma dev=1 iova=0x30001000 kind=write -> OK'
want 'iommu attach dev=2 mode=passthrough -> ERROR(mode)'
want 'pkvm state pfn=0x30000 -> OK host=shared_borrowed hyp=nopage guest=shared_owned'
want 'guest unshare vm=1 gpa=0x80000000 size=4k -> ERROR(EBUSY)'
want 'guest unshare vm=1 gpa=0x80000000 size=4k -> OK'
want 'mem read pa=0x30000000 -> OK value=0x0 '
want 'vm destroy vm=1 -> OK'

# section 8
awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$L" | grep '^build/protsim \(script\|run\) ' \
	> "$T/cmds"
[ "$(grep -c . "$T/cmds")" -eq 2 ] || fail "$L: section 8 should have two commands: $(cat "$T/cmds")"
while read -r line; do
	# shellcheck disable=SC2086
	set -- ${line#build/protsim }
	"$P" "$@" --out "$T/s8" > "$T/s8.log" 2>&1 || fail "$L: '$line' failed: $(tail -3 "$T/s8.log")"
done < "$T/cmds"
echo "lab 2: ok"
