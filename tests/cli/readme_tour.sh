#!/bin/sh
# README.md's "A short tour" works as written: every command line of its
# sh block exits 0 (run in a scratch directory that has the repository's
# workloads/ and tests/, build/protsim and build/guest/, so `out/` lands
# there), and its example script passes under `protsim script -`.
# Run from the repository root: PROTSIM=build/protsim sh tests/cli/readme_tour.sh
set -u
P=${PROTSIM:-build/protsim}
G=${GUEST_DIR:-build/guest}
top=$(pwd)
case $P in /*) ;; *) P=$top/$P ;; esac
case $G in /*) ;; *) G=$top/$G ;; esac

T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/build"
ln -s "$P" "$T/build/protsim"
ln -s "$G" "$T/build/guest"
ln -s "$top/workloads" "$T/workloads"
ln -s "$top/tests" "$T/tests"

# The fenced blocks of the tour section: sh blocks to $T/cmds (one command
# a line, comments dropped), blocks that start with "machine" to $T/script.
awk -v C="$T/cmds" -v S="$T/script" '
	/^## / { tour = ($0 ~ /^## A short tour/); next }
	!tour { next }
	/^```/ {
		if (kind != "") { kind = ""; next }
		kind = ($0 ~ /^```sh/) ? "sh" : "text"; first = 1; next
	}
	kind == "sh" { sub(/[ \t]+#.*/, ""); if ($0 != "") print > C }
	kind == "text" {
		if (first && $1 != "machine") kind = "other"
		first = 0
		if (kind == "text") print > S
	}
' README.md

fails=0
n=0
if [ -f "$T/cmds" ]; then
	while IFS= read -r cmd; do
		n=$((n + 1))
		if ! (cd "$T" && sh -c "$cmd") > "$T/log" 2>&1 < /dev/null; then
			echo "FAIL: README tour: '$cmd' exited non-zero:"
			tail -n 5 "$T/log"
			fails=$((fails + 1))
		fi
	done < "$T/cmds"
fi
if [ "$n" -lt 8 ]; then
	echo "FAIL: found $n tour commands in README.md (expected the tour's sh block)"
	exit 1
fi
if [ ! -s "$T/script" ]; then
	echo "FAIL: no example script (a block starting with 'machine') in README.md's tour"
	exit 1
fi
if ! "$P" script - < "$T/script" > "$T/log" 2>&1; then
	echo "FAIL: README tour: the example script failed:"
	cat "$T/log"
	fails=$((fails + 1))
fi
# The outputs the README names for the first command.
for f in stats.txt stats.json config.json workload.log; do
	[ -f "$T/out/default/$f" ] || { echo "FAIL: README tour: out/default/$f not written"; fails=$((fails + 1)); }
done
[ "$fails" -eq 0 ] || exit 1
echo "readme_tour: ok ($n commands, 1 script)"
