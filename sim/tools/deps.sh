#!/bin/sh
# deps.sh - install the Debian packages protsim needs (run by `make deps`).
#
# Checks each package with dpkg-query; installs the missing ones with
# apt-get (running `apt-get update` first) when run as root, otherwise
# prints the exact command and fails.  Set PROTSIM_DEPS_EXTRA to add
# packages (e.g. qemu-system-misc for the CPU benchmark's reference run).
set -eu

PKGS="make gcc pkg-config libelf-dev libzstd-dev zstd libcriterion-dev libjansson-dev libedit-dev nettle-dev
      python3 gnuplot-nox gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf picolibc-riscv64-unknown-elf
      parallel slurm-wlm munge valgrind
      ${PROTSIM_DEPS_EXTRA:-}"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "protsim needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "make deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
