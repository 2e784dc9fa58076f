#!/bin/sh
# Links in README.md and docs/ lead to files that exist: markdown links
# [text](path) (relative to the page; web links and anchors are skipped) and
# file paths of the repository written in backticks (`docs/x.md`,
# `rmp/rmp.h`, relative to the repository root), so that a renamed or
# removed file cannot leave a dead reference behind.
# Run from the repository root: sh tests/cli/doc_links.sh
set -u

# check: print every dead reference under the current directory; 1 if any.
check() {
bad=0
for page in README.md $(find docs -name '*.md' | sort); do
	dir=$(dirname "$page")
	# Markdown links.
	for target in $(grep -o '\](\([^)#]*\)[)#]' "$page" | sed 's/^](//; s/[)#]$//'); do
		case $target in
		http:*|https:*|mailto:*|"") continue ;;
		esac
		if [ ! -e "$dir/$target" ]; then
			echo "$page: link to $target: no such file ($dir/$target)"
			bad=1
		fi
	done
	# Repository paths in backticks (globs and placeholders are not paths).
	for p in $(grep -o '`[a-z0-9_]*/[A-Za-z0-9_./-]*`' "$page" | tr -d '`' |
		   grep -E '^(docs|sim|rmp|stage2|iommu|cpu|workloads|tests|bench)/[A-Za-z0-9_./-]*\.(md|c|h|S|sh|ps|ini|prof|ld|mk|def|in)$' |
		   grep -v '[A-Z][A-Z][A-Z]'); do
		if [ ! -e "$p" ]; then
			echo "$page: \`$p\`: no such file in the repository"
			bad=1
		fi
	done
done
return $bad
}

# The checker itself finds a dead link and a dead path in a made-up tree.
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/docs/labs" "$T/rmp"
: > "$T/rmp/rmp.h"
printf 'See [rmp](rmp.md), [lab](labs/l.md), [web](https://x.org/a.md), `rmp/rmp.h`, `rmp/gone.c`, `sim/NAME.prof`.\n' > "$T/docs/a.md"
: > "$T/docs/rmp.md"
: > "$T/README.md"
(cd "$T" && check) > "$T/out"
[ "$(cat "$T/out")" = "docs/a.md: link to labs/l.md: no such file (docs/labs/l.md)
docs/a.md: \`rmp/gone.c\`: no such file in the repository" ] || { echo "FAIL: checker self-test: $(cat "$T/out")"; exit 1; }

check
