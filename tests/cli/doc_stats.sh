#!/bin/sh
# Statistic names in the docs exist.  Checked names:
#   - docs/stats.md: every dotted name in backticks, and the names of its
#     example stats.txt lines and stats.json keys (fenced blocks);
#   - every other docs/*.md page: the dotted names in backticks in its
#     "## Statistics" section.
# Each must be a statistic of the default scenario (protsim run
# workloads/scenarios/default.ini) or of a guest run (protsim exec
# hello.elf --stats, fast and detailed mode: the cache statistics exist
# only in detailed mode) or of the scenario with two VMs
# (workloads/scenarios/two_vms.ini) or of tests/scripts/guest_snp.ps (KVM
# VMs and guest actions) or heki_vtl.ps (vmN.heki.*) or of
# workloads/scenarios/pkvm-share.ini (the pKVM host's stack.pkvm.*) or of
# tests/scripts/host_panic_kdump.ps (host writers), or a configuration key
# (`protsim help config`),
# or a file name (stats.txt, workload.log, ...).  Notation: a{b,c} stands
# for ab and ac; a word ending in N is a number (vcpuN, s2.tlb.lN.hit); a
# final * is any non-empty rest (vm.s2.*).  A dotted name written with a
# slash (a.b.hit/miss) is refused: it would escape the check.
# Run from the repository root: PROTSIM=build/protsim sh tests/cli/doc_stats.sh
set -u
P=${PROTSIM:-build/protsim}
case $P in */*) case $P in /*) ;; *) P=$(pwd)/$P ;; esac ;; esac
G=${GUEST_DIR:-build/guest}

# check STATS KEYS PAGE...: print every name of the pages that is neither a
# statistic (one per line in STATS) nor a key (KEYS); 1 if any.
check() {
	stats=$1 keys=$2
	shift 2
	awk -v STATS="$stats" -v KEYS="$keys" '
	BEGIN {
		while ((getline l < STATS) > 0) stat[++ns] = l
		while ((getline l < KEYS) > 0) key[++nk] = l
		bad = 0
	}
	FNR == 1 { whole = (FILENAME ~ /(^|\/)stats\.md$/); insec = 0; fence = 0 }
	/^```/ { fence = !fence; next }
	/^## / { insec = ($0 ~ /^## Statistics[ \t]*$/); next }
	fence {
		if (!whole) next
		if (match($0, /^[ \t]*"[a-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+":/)) {
			t = substr($0, RSTART, RLENGTH); sub(/^[ \t]*"/, "", t); sub(/":$/, "", t)
			one(t)
		} else if (NF >= 2 && $1 ~ /^[a-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/)
			one($1)
		next
	}
	{
		if (!whole && !insec) next
		n = split($0, part, "`")
		for (i = 2; i < n; i += 2) {
			t = part[i]
			if (t ~ /^[a-z][A-Za-z0-9_-]*\.[^\/ ]*\// ) {
				printf "%s:%d: `%s`: write each name in full or with {a,b}\n", FILENAME, FNR, t
				bad = 1
				continue
			}
			if (t !~ /^[a-z][A-Za-z0-9_{},*-]*(\.[A-Za-z0-9_{},*-]+)+$/) continue
			if (t ~ /\.(txt|json|md|c|h|sh|ps|ini|log|prof|S|ld|mk|def|in|elf|console|csv)$/) continue
			one(t)
		}
	}
	END { exit bad }
	# one(T): expand the braces of T and check each name.
	function one(t,    m, i) {
		split("", out)
		m = expand(t, out)
		for (i = 1; i <= m; i++)
			if (!known(out[i])) {
				if (out[i] == t)
					printf "%s:%d: `%s`: no such statistic\n", FILENAME, FNR, t
				else
					printf "%s:%d: `%s`: %s: no such statistic\n", FILENAME, FNR, t, out[i]
				bad = 1
			}
	}
	# expand(T, R): R[1..n] = T with its first {a,b,...} group expanded, recursively.
	function expand(t, r,    o, c, pre, post, alt, na, i, j, n, sub_r, k) {
		o = index(t, "{")
		if (!o) { r[1] = t; return 1 }
		c = index(substr(t, o), "}")
		if (!c) { r[1] = t; return 1 }
		pre = substr(t, 1, o - 1); post = substr(t, o + c)
		na = split(substr(t, o + 1, c - 2), alt, ",")
		n = 0
		for (i = 1; i <= na; i++) {
			k = expand(pre alt[i] post, sub_r)
			for (j = 1; j <= k; j++) r[++n] = sub_r[j]
			split("", sub_r)
		}
		return n
	}
	# known(NAME): a statistic or a key, with the N and * placeholders.
	function known(name,    re, i) {
		re = name
		gsub(/\./, "\\.", re)
		gsub(/N/, "[0-9]+", re)
		sub(/\*$/, ".+", re)
		re = "^" re "$"
		for (i = 1; i <= ns; i++) if (stat[i] ~ re) return 1
		for (i = 1; i <= nk; i++) if (key[i] ~ re) return 1
		return 0
	}
	' "$@"
}

T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT

# The checker itself, on made-up pages and a made-up statistics list.
mkdir -p "$T/self/docs"
printf 'rmp.entry_reads\nvcpu0.insns\nvcpu1.insns\ns2.tlb.l1.hit\ns2.tlb.l1.miss\nvm.s2.walks\n' > "$T/self/stats"
printf 'rmp.mode\n' > "$T/self/keys"
cat > "$T/self/docs/stats.md" <<'EOF'
Good: `rmp.entry_reads`, `vcpuN.insns`, `s2.tlb.lN.{hit,miss}`, `vm.s2.*`, `rmp.mode`, `stats.txt`, `sim/stats.c`.
Bad: `stage2.tlb.l1.miss`, `s2.tlb.l1.{hit,hits}`, `s2.tlb.l1.hit/miss`, `vm.s3.*`.
```
rmp.entry_reads      75  # a real line
rmp.ratio        9.0000  # a made-up line
  "tlb.access": 100,
```
EOF
cat > "$T/self/docs/x.md" <<'EOF'
`not.checked` outside the section.
## Statistics
| `rmp.entry_reads` | ok |
| `iommu.gone` | not a statistic |
## Next
`not.checked.either`
EOF
(cd "$T/self" && check stats keys docs/stats.md docs/x.md) > "$T/self/out"
rc=$?
want='docs/stats.md:2: `stage2.tlb.l1.miss`: no such statistic
docs/stats.md:2: `s2.tlb.l1.{hit,hits}`: s2.tlb.l1.hits: no such statistic
docs/stats.md:2: `s2.tlb.l1.hit/miss`: write each name in full or with {a,b}
docs/stats.md:2: `vm.s3.*`: no such statistic
docs/stats.md:5: `rmp.ratio`: no such statistic
docs/stats.md:6: `tlb.access`: no such statistic
docs/x.md:4: `iommu.gone`: no such statistic'
if [ "$rc" -ne 1 ] || [ "$(cat "$T/self/out")" != "$want" ]; then
	echo "FAIL: checker self-test (exit $rc):"
	cat "$T/self/out"
	exit 1
fi

# The statistics protsim has.
if ! "$P" run workloads/scenarios/default.ini --out "$T/run" -q; then
	echo "FAIL: the default scenario did not run"
	exit 1
fi
grep -v '^ ' "$T/run/stats.txt" | awk '{ print $1 }' > "$T/stats"
# a scenario with VMs (their statistics carry the VM's prefix: vm0., vm1.)
if ! "$P" run workloads/scenarios/two_vms.ini --out "$T/vms" -q; then
	echo "FAIL: workloads/scenarios/two_vms.ini did not run"
	exit 1
fi
grep -v '^ ' "$T/vms/stats.txt" | awk '{ print $1 }' >> "$T/stats"
# KVM VMs and scripted guest actions (vmN.exits.npf, vmN.user_exits.*, ...)
if ! (cd tests/scripts && "$P" script guest_snp.ps --out "$T/kvm" > /dev/null); then
	echo "FAIL: tests/scripts/guest_snp.ps did not run"
	exit 1
fi
grep -v '^ ' "$T/kvm/stats.txt" | awk '{ print $1 }' >> "$T/stats"
# CR protection (vmN.heki.*: docs/cr-protection.md)
if ! (cd tests/scripts && "$P" script heki_vtl.ps --out "$T/heki" > /dev/null); then
	echo "FAIL: tests/scripts/heki_vtl.ps did not run"
	exit 1
fi
grep -v '^ ' "$T/heki/stats.txt" | awk '{ print $1 }' >> "$T/stats"
# the pKVM host (stack.pkvm.*)
if ! "$P" run workloads/scenarios/pkvm-share.ini --set pkvm.firmware="$G/pvmfw.elf" \
	--out "$T/pkvm" -q; then
	echo "FAIL: workloads/scenarios/pkvm-share.ini did not run"
	exit 1
fi
grep -v '^ ' "$T/pkvm/stats.txt" | awk '{ print $1 }' >> "$T/stats"
# host writers and RMP-fault strategies (host.*, vmN.host.*: docs/strategies.md)
if ! (cd tests/scripts && "$P" script host_panic_kdump.ps --out "$T/host" > /dev/null); then
	echo "FAIL: tests/scripts/host_panic_kdump.ps did not run"
	exit 1
fi
grep -v '^ ' "$T/host/stats.txt" | awk '{ print $1 }' >> "$T/stats"
for mode in fast detailed; do
	if ! "$P" exec "$G/hello.elf" --stats --mode $mode > /dev/null 2> "$T/exec"; then
		echo "FAIL: protsim exec $G/hello.elf --stats --mode $mode failed:"
		cat "$T/exec"
		exit 1
	fi
	grep -v '^ ' "$T/exec" | awk 'NF >= 2 && $1 ~ /\./ { print $1 }' >> "$T/stats"
done
"$P" help config | awk '/^  [a-z]/ { print $1 }' > "$T/keys"
# Guard against an empty list (which would make every name unknown, or a
# broken extraction that finds nothing to compare).
for n in rmp.entry_reads vcpu0.insns cache.l1d.hit; do
	grep -qx "$n" "$T/stats" || { echo "FAIL: $n missing from the collected statistics"; exit 1; }
done
grep -qx machine.mem "$T/keys" || { echo "FAIL: machine.mem missing from the key list"; exit 1; }

pages=$(ls docs/*.md | grep -v '^docs/config\.md$')
if ! check "$T/stats" "$T/keys" $pages; then
	echo "FAIL: statistic names in the docs that protsim does not have (above)"
	exit 1
fi
echo "doc_stats: ok"
