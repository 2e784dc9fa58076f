#!/bin/sh
# make install / uninstall into a temporary prefix: the installed default
# scenario and the pKVM one (firmware and payload installed) run, the
# installed guest programs run, the SDK example builds
# out of tree against the installed SDK and runs, the man page renders, the
# docs' example is the installed one, and uninstall removes every file.
# Run from the repository root: PROTSIM=build/protsim sh tests/cli/install.sh
set -u
P=${PROTSIM:-build/protsim}
BUILD=$(dirname "$P")
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v riscv64-unknown-elf-gcc >/dev/null || fail "riscv64-unknown-elf-gcc missing (make deps installs it)"

make -s --no-print-directory install BUILD="$BUILD" PREFIX="$T/prefix" > "$T/install.log" 2>&1 ||
	fail "make install: $(tail -5 "$T/install.log")"
I=$T/prefix
[ -x "$I/bin/protsim" ] || fail "no bin/protsim"

# The installed default scenario finds its script beside it and passes.
(cd "$T" && "$I/bin/protsim" run "$I/share/protsim/scenarios/default.ini" --out "$T/out") \
	> "$T/run.log" 2>&1 || fail "installed default scenario: $(tail -5 "$T/run.log")"
grep -q 'passed' "$T/run.log" || fail "installed default scenario did not pass: $(cat "$T/run.log")"
[ -f "$T/out/stats.json" ] || fail "no stats.json"

# The installed pKVM scenario: its firmware (in the .ini) and its payload (in the .ps) are the
# installed guest programs, found beside the installed scenario from any directory.
(cd "$T" && "$I/bin/protsim" run "$I/share/protsim/scenarios/pkvm-share.ini" --out "$T/pk") \
	> "$T/pk.log" 2>&1 || fail "installed pkvm-share.ini: $(tail -5 "$T/pk.log")"
grep -q 'console: payload: done, 0 unexpected' "$T/pk/workload.log" ||
	fail "installed pkvm-share.ini: the payload did not run: $(tail -5 "$T/pk/workload.log")"

# A prebuilt guest program.
"$I/bin/protsim" exec "$I/share/protsim/guest/hello.elf" > "$T/hello.log" 2>&1 ||
	fail "installed hello.elf: $(cat "$T/hello.log")"
grep -q 'hello from a protsim guest' "$T/hello.log" || fail "hello.elf output: $(cat "$T/hello.log")"

# The SDK example, copied out of the tree, built against the installed SDK only.
cp -r "$I/share/protsim/sdk/example" "$T/ex"
make -s --no-print-directory -C "$T/ex" PROTSIM_SDK="$I/share/protsim/sdk" > "$T/ex.log" 2>&1 ||
	fail "SDK example build: $(cat "$T/ex.log")"
"$I/bin/protsim" exec "$T/ex/squares.elf" > "$T/sq.log" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "squares.elf exited $rc: $(cat "$T/sq.log")"
grep -qx 'sum of squares 1..10 = 385 on hart 0' "$T/sq.log" || fail "squares.elf output: $(cat "$T/sq.log")"

# The SNP example (the `boot` program on the installed guest kernel library),
# built out of the tree, boots on the installed SNP scenario as the
# installed boot.elf does: the same console output (the layout of the two
# builds may differ, so the counts of translations may too).
cp -r "$I/share/protsim/sdk/example-snp" "$T/exsnp"
make -s --no-print-directory -C "$T/exsnp" PROTSIM_SDK="$I/share/protsim/sdk" > "$T/exsnp.log" 2>&1 ||
	fail "SDK SNP example build: $(cat "$T/exsnp.log")"
(cd "$T" && "$I/bin/protsim" run "$I/share/protsim/scenarios/snp-boot.ini" --set kvm.mem_size=32m \
	--out "$T/snp1") > "$T/snp1.log" 2>&1 || fail "installed snp-boot.ini: $(tail -5 "$T/snp1.log")"
(cd "$T" && "$I/bin/protsim" run "$I/share/protsim/scenarios/snp-boot.ini" --set kvm.mem_size=32m \
	--set kvm.elf="$T/exsnp/boot.elf" --out "$T/snp2") > "$T/snp2.log" 2>&1 ||
	fail "SDK SNP example on snp-boot.ini: $(tail -5 "$T/snp2.log")"
grep -q 'exit=exited code=0' "$T/snp2/kvm.log" || fail "SDK SNP example did not exit 0: $(cat "$T/snp2/kvm.log")"
grep 'console:' "$T/snp1/kvm.log" > "$T/s1"
grep 'console:' "$T/snp2/kvm.log" > "$T/s2"
[ -s "$T/s1" ] || fail "installed snp-boot.ini: no console output: $(cat "$T/snp1/kvm.log")"
cmp -s "$T/s1" "$T/s2" || fail "the SDK-built boot.elf prints otherwise: $(diff "$T/s1" "$T/s2")"

# docs/guest-abi.md shows the installed example verbatim.
for f in Makefile squares.c; do
	awk -v f="$I/share/protsim/sdk/example/$f" 'BEGIN { while ((getline l < f) > 0) want = want l "\n" }
		{ doc = doc $0 "\n" } END { exit index(doc, want) ? 0 : 1 }' docs/guest-abi.md ||
		fail "docs/guest-abi.md does not show example/$f verbatim"
done

# The man page renders with no warnings.
if command -v man >/dev/null; then
	MANWIDTH=80 man --warnings -l "$I/share/man/man1/protsim.1" > "$T/man.txt" 2> "$T/man.err" ||
		fail "man page: $(cat "$T/man.err")"
	[ -s "$T/man.err" ] && fail "man page warnings: $(cat "$T/man.err")"
	grep -q 'protsim run SCENARIO' "$T/man.txt" || fail "man page lacks the synopsis"
fi

make -s --no-print-directory uninstall BUILD="$BUILD" PREFIX="$T/prefix" > "$T/un.log" 2>&1 ||
	fail "make uninstall: $(cat "$T/un.log")"
left=$(find "$I" -type f)
[ -z "$left" ] || fail "uninstall left files: $left"
[ -d "$I/share/protsim" ] && fail "uninstall left share/protsim"
exit 0
