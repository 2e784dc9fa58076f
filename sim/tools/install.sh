#!/bin/sh
# install.sh - `make install` and `make uninstall`.
#
#   sh sim/tools/install.sh install   BUILD PREFIX [DESTDIR]
#   sh sim/tools/install.sh uninstall BUILD PREFIX [DESTDIR]
#
# Installs the binary, its man page, the scenarios with the files they
# reference, the labs and docs, the guest SDK (header, start-up object,
# library, linker script, makefile fragment, example) and the prebuilt
# guest programs, and records every file it wrote in
# PREFIX/share/protsim/install-manifest; uninstall removes exactly the
# files listed there, then the directories that are left empty.
set -eu
what=$1 build=$2 prefix=$3 destdir=${4:-}
root=$destdir$prefix
share=$prefix/share/protsim
manifest=$share/install-manifest

case $what in
uninstall)
	if [ ! -f "$destdir$manifest" ]; then
		echo "uninstall: $destdir$manifest: no installation of protsim there" >&2
		exit 1
	fi
	while IFS= read -r f; do
		rm -f "$destdir$f"
	done < "$destdir$manifest"
	rm -f "$destdir$manifest"
	# protsim's own directories go too once empty; shared ones (bin, man1) stay.
	for d in "$share" "$prefix/share/doc/protsim"; do
		[ -d "$destdir$d" ] && find "$destdir$d" -depth -type d -empty -delete
	done
	exit 0 ;;
install) ;;
*) echo "usage: install.sh install|uninstall BUILD PREFIX [DESTDIR]" >&2; exit 2 ;;
esac

list=$(mktemp)
trap 'rm -f "$list"' EXIT
# put MODE SRC DEST: install one file and remember it.
put() {
	install -D -m "$1" "$2" "$root/$3"
	echo "$prefix/$3" >> "$list"
}

put 755 "$build/protsim" bin/protsim
put 644 "$build/protsim.1" share/man/man1/protsim.1
for f in workloads/scenarios/*.ini workloads/scenarios/*.ps; do
	[ -f "$f" ] && put 644 "$f" "share/protsim/scenarios/$(basename "$f")"
done
# The scenarios name the tree's guest programs; installed, they are in ../guest.
for f in "$root"/share/protsim/scenarios/*.ini "$root"/share/protsim/scenarios/*.ps; do
	sed -i 's|\.\./\.\./build/guest/|../guest/|' "$f"
done
for f in README.md docs/*.md; do
	put 644 "$f" "share/doc/protsim/$(basename "$f")"
done
for f in docs/labs/*; do
	[ -f "$f" ] && put 644 "$f" "share/doc/protsim/labs/$(basename "$f")"
done
sdk=share/protsim/sdk
put 644 workloads/guest/include/protsim.h "$sdk/include/protsim.h"
put 644 "$build/guest/crt.o" "$sdk/lib/crt.o"
put 644 "$build/guest/libprotsim-guest.a" "$sdk/lib/libprotsim-guest.a"
put 644 workloads/guest/link.ld "$sdk/lib/link.ld"
put 644 "$build/guest/protsim-guest.mk" "$sdk/protsim-guest.mk"
for f in workloads/guest/sdk/example/*; do
	put 644 "$f" "$sdk/example/$(basename "$f")"
done
# The SNP guest kernel library, and the `boot` program as its example.
put 644 workloads/guest/include/protsim/snp.h "$sdk/include/protsim/snp.h"
put 644 "$build/guest/crt_snp.o" "$sdk/lib/crt_snp.o"
put 644 "$build/guest/libprotsim-snp.a" "$sdk/lib/libprotsim-snp.a"
put 644 workloads/guest/sdk/example-snp/Makefile "$sdk/example-snp/Makefile"
put 644 workloads/guest/boot.c "$sdk/example-snp/boot.c"
for f in "$build"/guest/*.elf; do
	[ -f "$f" ] && put 644 "$f" "share/protsim/guest/$(basename "$f")"
done
# The manifest lists itself last, so uninstall removes it too.
echo "$manifest" >> "$list"
install -D -m 644 "$list" "$destdir$manifest"
echo "installed $(wc -l < "$list") files under $root"
