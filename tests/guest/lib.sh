# lib.sh - helpers for tests/cli/guest_*.sh (sourced; not a test itself).
# Environment: PROTSIM (the binary), GUEST_DIR (default build/guest).
G=${GUEST_DIR:-build/guest}
fails=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# expect_run NAME RC GOLDEN -- ARGS...: run `protsim exec ARGS`, check the
# exit code and (if GOLDEN is not -) stdout against tests/guest/GOLDEN.
expect_run() {
	name=$1 want=$2 golden=$3
	shift 4
	"$PROTSIM" exec "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "$name: exit code $rc, expected $want"; cat "$tmp/err"; fails=$((fails + 1))
	elif [ "$golden" != - ] && ! diff -u "tests/guest/$golden" "$tmp/out"; then
		echo "$name: output differs from tests/guest/$golden"; fails=$((fails + 1))
	fi
}

# expect_err NAME TEXT: the last run's stderr contains TEXT.
expect_err() {
	if ! grep -qF -- "$2" "$tmp/err"; then
		echo "$1: stderr lacks '$2':"; cat "$tmp/err"; fails=$((fails + 1))
	fi
}
