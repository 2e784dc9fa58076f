#!/bin/sh
# protsim import lackey (docs/trace.md "Importing"): a valgrind Lackey log
# becomes an access trace, one access record per I/L/S/M line, valgrind's
# own lines skipped; the same log gives the same bytes; --limit; a log
# recorded here by valgrind itself (make deps installs valgrind); every
# bad line is an error naming the file, the line and the rule, exit 2, and
# leaves no trace behind; usage errors.
# Run: PROTSIM=build/protsim sh tests/cli/import.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
L=workloads/lackey/ls-head.lackey

# the checked-in excerpt of `valgrind --tool=lackey --trace-mem=yes ls /`
"$P" import lackey $L -o "$T/a.zst" >"$T/out" 2>"$T/err" || fail "import exit $?: $(cat "$T/err")"
[ -s "$T/err" ] && fail "import stderr: $(cat "$T/err")"
n=$(grep -c '^I  \|^ [LSM] ' $L)
skip=$(grep -c '^==' $L)
want="$T/a.zst: $n accesses ($(grep -c '^I  ' $L) fetches, $(grep -c '^ L ' $L) loads, $(grep -c '^ S ' $L) stores, $(grep -c '^ M ' $L) modifies) from $(wc -l <$L | tr -d ' ') lines ($skip skipped)"
[ "$(cat "$T/out")" = "$want" ] || fail "summary '$(cat "$T/out")', want '$want'"
"$P" trace dump "$T/a.zst" >"$T/a.dump" || fail "dump exit $?"
python3 - $L "$T/a.dump" <<'PY' || fail "records"
import sys
kinds = {"I": "fetch", "L": "load", "S": "store", "M": "modify"}
want = []
for l in open(sys.argv[1]):
    l = l.rstrip("\n")
    if l.startswith("=="):
        continue
    k, rest = l[:2].strip(), l[3:]
    a, s = rest.split(",")
    want.append("access %s 0x%x %d" % (kinds[k], int(a, 16), int(s)))
dump = open(sys.argv[2]).read().splitlines()
assert dump[0] == "trace version 2", dump[0]
assert dump[1:-1] == want, [x for x in zip(dump[1:], want) if x[0] != x[1]][:3]
assert dump[-1] == "end %d records" % len(want), dump[-1]
PY
# the same log, the same bytes; the default output name
cp $L "$T/ls.lackey"
"$P" import lackey "$T/ls.lackey" >/dev/null || fail "import 2 exit $?"
cmp -s "$T/a.zst" "$T/ls.lackey.zst" || fail "the same log gives other bytes"
# --limit N
"$P" import lackey $L -o "$T/l.zst" --limit 10 >"$T/out" || fail "--limit exit $?"
grep -q "^$T/l.zst: 10 accesses .* (--limit reached)$" "$T/out" || fail "--limit: $(cat "$T/out")"
[ "$(build_dump=$("$P" trace dump "$T/l.zst"); echo "$build_dump" | grep -c '^access ')" = 10 ] ||
	fail "--limit: not 10 records"

# a log recorded here by valgrind: the program's own accesses, imported whole
command -v valgrind >/dev/null || fail "valgrind is not installed (make deps installs it)"
valgrind --tool=lackey --trace-mem=yes --log-file="$T/true.lackey" /bin/true ||
	fail "valgrind exit $?"
"$P" import lackey "$T/true.lackey" -o "$T/t.zst" >"$T/out" || fail "import valgrind's log exit $?"
grep -Eq "^$T/t.zst: [1-9][0-9]* accesses \([1-9][0-9]* fetches, [1-9][0-9]* loads, [1-9][0-9]* stores" "$T/out" ||
	fail "valgrind's log: $(cat "$T/out")"

# bad BODY LINE MESSAGE: a log of BODY fails at line LINE with MESSAGE, exit 2, no trace left
bad() {
	printf "$1" >"$T/bad.lackey"
	"$P" import lackey "$T/bad.lackey" -o "$T/bad.zst" >"$T/out" 2>"$T/err"; rc=$?
	[ $rc -eq 2 ] || fail "bad '$1': exit $rc"
	[ "$(cat "$T/err")" = "protsim: $T/bad.lackey:$2: $3" ] ||
		fail "bad '$1': '$(cat "$T/err")', want 'protsim: $T/bad.lackey:$2: $3'"
	[ -s "$T/out" ] && fail "bad '$1': stdout"
	[ -e "$T/bad.zst" ] && fail "bad '$1': a trace was left"
	return 0
}
bad '==1== x\nI  1000,4\nhello world\n' 3 "not a lackey access line: expected 'I  ADDR,SIZE' or ' L|S|M ADDR,SIZE' (valgrind --tool=lackey --trace-mem=yes), or a '==PID==' line"
bad ' L 12345678901234567,4\n' 1 "the address has more than 16 hex digits"
bad ' S ,4\n' 1 "no address: expected hex digits after the access kind"
bad 'I  1000\n' 1 "expected ',' after the address, got the end of the line"
bad ' M 1000;4\n' 1 "expected ',' after the address, got another character"
bad 'I  1000,\n' 1 "no size: expected a decimal number after ','"
bad ' L 1000,0\n' 1 "size out of range (1..1048576 bytes)"
bad ' L 1000,8 trailing\n' 1 "unexpected text after the size"
bad 'I  1000,4\n L 10\0000,4\n' 2 "a NUL byte (a lackey log is text)"
head -c 5000 /dev/zero | tr '\0' 'I' >"$T/long.lackey"
"$P" import lackey "$T/long.lackey" -o "$T/bad.zst" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/err")" = "protsim: $T/long.lackey:1: line longer than 4096 bytes" ] ||
	fail "long line: exit $rc: $(cat "$T/err")"
printf '==1== only banners\n' >"$T/empty.lackey"
"$P" import lackey "$T/empty.lackey" -o "$T/bad.zst" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "empty.lackey: no access lines (1 lines read)" "$T/err" || fail "no accesses: $rc"
"$P" import lackey "$T/none.lackey" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/err")" = "protsim: $T/none.lackey: cannot read: No such file or directory" ] ||
	fail "missing file: $rc $(cat "$T/err")"
"$P" import lackey $L -o /proc/protsim-no/x.zst 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot write the trace" "$T/err" || fail "unwritable output: $rc"

# usage
"$P" import cachegrind $L 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown trace format 'cachegrind' (lackey)" "$T/err" || fail "format: $rc"
"$P" import lackey $L --limit 0 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--limit: expected a number of accesses (1 or more), got '0'" "$T/err" ||
	fail "--limit 0: $rc $(cat "$T/err")"
"$P" import lackey 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "no file: exit $rc"
exit 0
