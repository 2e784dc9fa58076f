#!/bin/sh
# run_scripts.sh - run the operation-language script tests and the CLI tests.
#
#   sh tests/run_scripts.sh PATH/TO/protsim
#
# For each tests/scripts/NAME.ps: run `protsim script NAME.ps` from inside
# tests/scripts (so messages read "NAME.ps:LINE: ...") and compare
#   - the exit code with NAME.rc if present (else 0),
#   - stdout byte for byte with NAME.out if present,
#   - stderr byte for byte with NAME.err if present.
# (NAME.ps.rc / NAME.ps.out / NAME.ps.err are accepted too.)
# Then run each tests/cli/*.sh with PROTSIM set to the binary (absolute
# path), from the repository root; exit 0 = pass.
#
# Prints one block per failure (a line naming it, then the diff), then
# exactly one line "N passed, N failed"; exits 1 if anything failed.

if [ $# -ne 1 ]; then
	echo "usage: $0 PATH/TO/protsim" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case $1 in
/*) protsim=$1 ;;
*) protsim=$(pwd)/$1 ;;
esac
if [ ! -x "$protsim" ]; then
	echo "$0: $1: not an executable" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_scripts.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

pass=0
fail=0

# sibling BASE EXT: the golden file for a script, or nothing.
sibling() {
	if [ -f "$1.$2" ]; then
		echo "$1.$2"
	elif [ -f "$1.ps.$2" ]; then
		echo "$1.ps.$2"
	fi
}

# compare WHAT GOLDEN ACTUAL NAME: 0 if equal, else print the diff.
compare() {
	if cmp -s "$2" "$3"; then
		return 0
	fi
	echo "FAIL $4: $1 differs from $(basename "$2")"
	diff -u "$2" "$3" | sed '1,2d; s/^/    /'
	return 1
}

for ps in "$here"/scripts/*.ps; do
	[ -f "$ps" ] || continue
	name=$(basename "$ps")
	base=${ps%.ps}
	want=0
	rcfile=$(sibling "$base" rc)
	if [ -n "$rcfile" ]; then
		want=$(tr -d ' \t\r\n' < "$rcfile")
	fi
	(cd "$here/scripts" && "$protsim" script "$name" > "$tmp/out" 2> "$tmp/err" < /dev/null)
	rc=$?
	ok=1
	if [ "$rc" != "$want" ]; then
		echo "FAIL scripts/$name: exit $rc, expected $want"
		sed 's/^/    stderr: /' "$tmp/err" | head -n 5
		ok=0
	fi
	golden=$(sibling "$base" out)
	if [ -n "$golden" ] && ! compare stdout "$golden" "$tmp/out" "scripts/$name"; then
		ok=0
	fi
	golden=$(sibling "$base" err)
	if [ -n "$golden" ] && ! compare stderr "$golden" "$tmp/err" "scripts/$name"; then
		ok=0
	fi
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done

for t in "$here"/cli/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t")
	if (cd "$root" && PROTSIM="$protsim" sh "$t" > "$tmp/out" 2>&1 < /dev/null); then
		pass=$((pass + 1))
	else
		echo "FAIL cli/$name: exit $?"
		sed 's/^/    /' "$tmp/out" | tail -n 20
		fail=$((fail + 1))
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
