#!/bin/sh
# Bad inputs end with a message and a bounded amount of work: directories,
# endless or huge files, FIFOs, long or binary values, attach-time errors
# naming the file and line, the same cpu/cache/vm rules in run and exec,
# and the smallest machine (machine.mem's minimum) starting.
# Run: PROTSIM=build/protsim sh tests/cli/bad_inputs.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect RC MESSAGE ARGS...: within 60 s, exit RC and exactly MESSAGE on stderr
expect() {
	want=$1 msg=$2; shift 2
	timeout 60 "$P" "$@" >/dev/null 2>"$T/err" </dev/null
	rc=$?
	args=$(printf '%s' "$*" | cut -c 1-160)
	[ "$rc" = "$want" ] || fail "protsim $args: exit $rc, want $want: $(head -c 300 "$T/err")"
	[ "$(cat "$T/err")" = "$msg" ] || fail "protsim $args: stderr '$(head -c 300 "$T/err")', want '$msg'"
}

mkdir "$T/dir"
printf 'workload.script = dir\n' >"$T/wdir.ini"

# 1. A directory is a read error, not an empty input.
expect 2 "protsim: $T/dir: cannot read: Is a directory" run "$T/dir"
expect 2 "protsim: $T/dir: cannot read: Is a directory" script "$T/dir"
expect 2 "protsim: $T/wdir.ini:1: workload.script: cannot read '$T/dir': Is a directory" \
	run "$T/wdir.ini" --out "$T/o"
expect 122 "protsim: $T/dir: not a regular file (a directory)" exec "$T/dir"

# 2. Inputs that never end or are too large: the limits name file and line.
expect 2 "protsim: /dev/zero:1: not a text file (contains a NUL byte)" run /dev/zero
yes 'machine.cpus = 1' | timeout 60 "$P" run /dev/stdin >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 2 ] || fail "endless scenario: exit $rc"
grep -Eqx "protsim: /dev/stdin:[0-9]+: file larger than 1048576 bytes \(the limit for a configuration file\)" \
	"$T/err" || fail "endless scenario: $(cat "$T/err")"
# exactly the limit is accepted, one byte more is not (the line reached is named):
# 17 + 1023 x 1024 + 1007 = 1048576 bytes in 1025 lines
{ printf 'machine.cpus = 1\n'; yes "#$(printf '%01022d' 0)" | head -n 1023; printf '#%01005d\n' 0; } >"$T/fits.ini"
[ "$(wc -c <"$T/fits.ini")" = 1048576 ] || fail "fits.ini: $(wc -c <"$T/fits.ini") bytes"
"$P" run "$T/fits.ini" -q --out "$T/o" || fail "a file of exactly 1 MiB is refused"
cp "$T/fits.ini" "$T/big.ini"; printf '#\n' >>"$T/big.ini"
expect 2 "protsim: $T/big.ini:1026: file larger than 1048576 bytes (the limit for a configuration file)" \
	run "$T/big.ini"
{ printf '[machine]\ncpus = 1 # '; printf '%04090d\n' 0; } >"$T/line.ini"
expect 2 "protsim: $T/line.ini:2: line longer than 4096 bytes (the limit)" run "$T/line.ini"
{ printf '[machine]\ncpus = 1 # '; printf '%04085d\n' 0; } >"$T/line4096.ini"
"$P" run "$T/line4096.ini" -q --out "$T/o" || fail "a line of 4096 bytes is refused"

# 3. exec of a FIFO: refused at once (an open for reading would wait for a writer).
mkfifo "$T/fifo"
expect 122 "protsim: $T/fifo: not a regular file (a FIFO)" exec "$T/fifo"
expect 122 "protsim: /dev/null: not a regular file (a device)" exec /dev/null

# 4. Values in messages: quoted, control bytes escaped, long ones cut.
long=$(printf '%0100000d' 7)     # 100000 characters
cut=$(printf '%057d' 0)...        # what a message shows of it: 57 characters, then ...
expect 2 "protsim: --set: machine.profile: unknown profile '$cut' (known: generic)" \
	run "$T/fits.ini" --set "machine.profile=$long"
expect 2 "protsim: --set: machine.cpus: must be between 1 and 256 (got '$cut')" \
	run "$T/fits.ini" --set "machine.cpus=${long}999"
esc=$(printf 'a\033[31mb\001')
expect 2 "protsim: --set: machine.profile: unknown profile 'a\\x1b[31mb\\x01' (known: generic)" \
	run "$T/fits.ini" --set "machine.profile=$esc"
expect 2 "protsim: --set: bad key name 'k\\x1b[2J' (words of letters, digits, '_' or '-', separated by dots)" \
	run "$T/fits.ini" --set "$(printf 'k\033[2J')=1"
printf 'machine.profile = x\ty\n' >"$T/tab.ini"
expect 2 "protsim: $T/tab.ini:1: machine.profile: unknown profile 'x\\ty' (known: generic)" run "$T/tab.ini"

# 5. Attach-time errors name where the key was set.
printf '[rmp]\nmode = segmented\nsegment_size = 3g\n' >"$T/seg.ini"
expect 2 "protsim: $T/seg.ini:3: rmp.segment_size: 0xc0000000: must be a power of two" run "$T/seg.ini"
expect 2 "protsim: --set: rmp.base: 0x1234: must be 1 MiB aligned" run "$T/fits.ini" --set rmp.base=0x1234
printf '[machine]\nmem = 64m\n[iommu]\npool_base = 0x3f00000\n' >"$T/io.ini"
expect 2 "protsim: $T/io.ini:4: iommu.pool_base: the IOMMU region [0x3f00000, 0x4101000) overlaps the RMP [0x3f00000, 0x3f44000)" \
	run "$T/io.ini"

# 6. run and exec accept and refuse the same cpu, cache and vm values.
for kv in cache.l1d.ways=3 cache.line=48 cache.llc.size=3m vm.mem_size=65k vm.spa_base=0x80000800 \
	  vm.page_size=2m,vm.mem_size=63m vm.type=snp,rmp.mode=off; do
	sets=$(echo "$kv" | sed 's/^/--set /; s/,/ --set /g')
	"$P" run "$T/fits.ini" -q --out "$T/o" $sets >/dev/null 2>"$T/run.err"
	rc=$?
	[ "$rc" = 2 ] || fail "run --set $kv: exit $rc, want 2"
	"$P" exec "$G/hello.elf" $sets >/dev/null 2>"$T/exec.err"
	rc=$?
	[ "$rc" = 122 ] || fail "exec --set $kv: exit $rc, want 122"
	cmp -s "$T/run.err" "$T/exec.err" || fail "--set $kv: run says '$(cat "$T/run.err")', exec '$(cat "$T/exec.err")'"
done
# the message names the key the user set, with its origin (fast mode too)
expect 122 "protsim: --set: cache.l1d.ways: 32768 bytes / (3 ways x 64-byte lines) must give a power-of-two number of sets" \
	exec "$G/hello.elf" --set cache.l1d.ways=3 --mode fast
printf '[cache]\nline = 48\n' >"$T/line48.ini"
expect 2 "protsim: $T/line48.ini:2: cache.line: 48: must be a power of two" run "$T/line48.ini"
expect 2 "protsim: --set: vm.type: 'snp' needs the RMP enabled (rmp.mode)" \
	run "$T/fits.ini" --set vm.type=snp --set rmp.mode=off

# 7. The documented minimum machine starts, with every RMP mode; one byte less is refused.
for mode in contiguous segmented off; do
	"$P" run "$T/fits.ini" -q --out "$T/o" --set machine.mem=32m --set rmp.mode=$mode 2>"$T/err" ||
		fail "machine.mem=32m rmp.mode=$mode: $(cat "$T/err")"
done
printf 'machine mem=32m cpus=1\nrmpupdate spa=0x200000 assigned=1 asid=1 gpa=0x0\nexpect SUCCESS\n' |
	"$P" script - >/dev/null 2>"$T/err" || fail "script machine mem=32m: $(cat "$T/err")"
expect 2 "protsim: --set: machine.mem: must be between 32m and 4096t (got '33554431')" \
	run "$T/fits.ini" --set machine.mem=33554431
echo "bad_inputs: ok"
