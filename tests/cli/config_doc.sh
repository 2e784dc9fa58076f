#!/bin/sh
# docs/config.md is exactly `protsim help config --markdown`.
# Run from the top of the tree: PROTSIM=build/protsim sh tests/cli/config_doc.sh
set -u
P=${PROTSIM:-build/protsim}
top=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
if ! "$P" help config --markdown | diff -u "$top/docs/config.md" -; then
	echo "FAIL: docs/config.md is out of date; regenerate it with:" >&2
	echo "  build/protsim help config --markdown > docs/config.md" >&2
	exit 1
fi
echo "config_doc: ok"
