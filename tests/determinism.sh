#!/bin/sh
# determinism.sh A B - the same inputs give byte-identical outputs from two
# builds of protsim (make test passes an -O2 and an -O0 build), and from
# two runs of the same build.  Compares: the default scenario's outputs,
# every script test's stdout, and guest programs' output, stats and
# --trace file in both CPU modes, protsim replay's outputs and --timeline
# files.  Then the quantum: engine.quantum trades speed only, never
# the order of operations on shared state, so the same outputs (and exit
# codes) come at quantum 1, 7 and 10^6.
# Prints "N passed, N failed"; exit 1 on any difference.
set -u
A=$1
B=$2
GUEST_DIR=${GUEST_DIR:-build/guest}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

same() { # name fileA fileB
	if cmp -s "$2" "$3"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL determinism: $1 differs" >&2
		diff "$2" "$3" | head -10 >&2
	fi
}

# 1. the default scenario, run twice with A and once with B
for r in a1 a2 b; do
	case $r in a*) P=$A ;; *) P=$B ;; esac
	"$P" run workloads/scenarios/default.ini --seed 3 --out "$T/$r" --quiet || true
done
for f in stats.json stats.txt config.json workload.log; do
	same "run $f (same build)" "$T/a1/$f" "$T/a2/$f"
	same "run $f (-O2 vs -O0)" "$T/a1/$f" "$T/b/$f"
done

# 1b. the pKVM scenario (its firmware from GUEST_DIR): -O2 vs -O0, quantum 1 vs 10^6
if [ -f "$GUEST_DIR/pvmfw.elf" ]; then
	for r in a b q; do
		case $r in a) P=$A; x= ;; b) P=$B; x= ;; q) P=$A; x="--set engine.quantum=1000000" ;; esac
		# shellcheck disable=SC2086
		"$P" run workloads/scenarios/pkvm-share.ini --set pkvm.firmware="$GUEST_DIR/pvmfw.elf" \
			$x --out "$T/pk$r" --quiet || true
	done
	for f in stats.json stats.txt workload.log; do
		same "pkvm-share $f (-O2 vs -O0)" "$T/pka/$f" "$T/pkb/$f"
		same "pkvm-share $f (quantum 1 vs 10^6)" "$T/pka/$f" "$T/pkq/$f"
	done
	# the same in detailed mode: the host CPUs' and the I/O thread's own
	# caches (created on first access, by agent id) beside the vCPU's
	for r in a b q; do
		case $r in a) P=$A; x= ;; b) P=$B; x= ;; q) P=$A; x="--set engine.quantum=1000000" ;; esac
		# shellcheck disable=SC2086
		"$P" run workloads/scenarios/pkvm-share.ini --set pkvm.firmware="$GUEST_DIR/pvmfw.elf" \
			--set cpu.mode=detailed $x --out "$T/pkd$r" --quiet || true
	done
	for f in stats.json stats.txt workload.log; do
		same "pkvm-share detailed $f (-O2 vs -O0)" "$T/pkda/$f" "$T/pkdb/$f"
		same "pkvm-share detailed $f (quantum 1 vs 10^6)" "$T/pkda/$f" "$T/pkdq/$f"
	done
fi

# 2. every script test
for s in tests/scripts/*.ps; do
	n=$(basename "$s" .ps)
	"$A" script "$s" > "$T/$n.a" 2>&1
	"$B" script "$s" > "$T/$n.b" 2>&1
	same "script $n" "$T/$n.a" "$T/$n.b"
done

# 3. guest programs, fast and detailed, with their statistics
if [ -d "$GUEST_DIR" ]; then
	for g in hello compute_small smp; do
		[ -f "$GUEST_DIR/$g.elf" ] || continue
		for m in fast detailed; do
			"$A" exec "$GUEST_DIR/$g.elf" --mode $m --stats --set vm.vcpus=2 \
				--trace "$T/$g.$m.a.zst" > "$T/$g.$m.a" 2>&1
			"$B" exec "$GUEST_DIR/$g.elf" --mode $m --stats --set vm.vcpus=2 \
				--trace "$T/$g.$m.b.zst" > "$T/$g.$m.b" 2>&1
			same "exec $g --mode $m" "$T/$g.$m.a" "$T/$g.$m.b"
			same "exec $g --mode $m --trace" "$T/$g.$m.a.zst" "$T/$g.$m.b.zst"
		done
	done
fi

# 4. quantum 1 (exact) vs 7 and 10^6: every script test (output and exit
#    code), the default scenario (stats and log; config.json names the
#    quantum), guest programs with 1, 2 and 3 vCPUs, NPT and SNP
QUANTA="7 1000000"
for s in tests/scripts/*.ps; do
	n=$(basename "$s" .ps)
	"$A" script "$s" > "$T/$n.q1" 2>&1
	echo "exit $?" >> "$T/$n.q1"
	for q in $QUANTA; do
		"$A" script "$s" --set engine.quantum=$q > "$T/$n.q$q" 2>&1
		echo "exit $?" >> "$T/$n.q$q"
		same "script $n (quantum 1 vs $q)" "$T/$n.q1" "$T/$n.q$q"
	done
done
for q in $QUANTA; do
	"$A" run workloads/scenarios/default.ini --seed 3 --set engine.quantum=$q \
		--out "$T/q$q" --quiet || true
	for f in stats.json stats.txt workload.log; do
		same "run $f (quantum 1 vs $q)" "$T/a1/$f" "$T/q$q/$f"
	done
done
if [ -d "$GUEST_DIR" ]; then
	for g in hello smp pvalidate; do
		[ -f "$GUEST_DIR/$g.elf" ] || continue
		for v in 1 2 3; do
			for t in npt snp; do
				o="$T/$g.$v.$t"
				"$A" exec "$GUEST_DIR/$g.elf" --stats --set vm.vcpus=$v --set vm.type=$t \
					> "$o.q1" 2>&1
				echo "exit $?" >> "$o.q1"
				for q in $QUANTA; do
					"$A" exec "$GUEST_DIR/$g.elf" --stats --set vm.vcpus=$v \
						--set vm.type=$t --set engine.quantum=$q > "$o.q$q" 2>&1
					echo "exit $?" >> "$o.q$q"
					same "exec $g vcpus=$v $t (quantum 1 vs $q)" "$o.q1" "$o.q$q"
				done
			done
		done
	done
fi

# 5. a scenario whose VMs run beside a workload on the host CPUs (the
#    vCPUs' batches stop at the host CPUs' clocks): -O2 vs -O0 and quantum
if [ -d "$GUEST_DIR" ] && [ -f "$GUEST_DIR/smp.elf" ]; then
	G=$(cd "$GUEST_DIR" && pwd)
	cat >"$T/vms.ini" <<INI
[machine]
mem = 4g
cpus = 2
[vm0]
elf = $G/smp.elf
vcpus = 4
[vm1]
elf = $G/pvalidate.elf
type = snp
[workload]
script = vms.ps
INI
	cat >"$T/vms.ps" <<'PS'
rmpupdate spa=0x20000000 gpa=0x1000 asid=9 assigned=1
cpu1 nop cycles=5000
cpu1 rmpupdate spa=0x20001000 gpa=0x2000 asid=9 assigned=1
@20000 rmpupdate spa=0x20000000 assigned=0
PS
	"$A" run "$T/vms.ini" --out "$T/vms.a" --quiet > /dev/null 2>&1
	"$B" run "$T/vms.ini" --out "$T/vms.b" --quiet > /dev/null 2>&1
	for f in stats.txt workload.log vm0.console vm1.console; do
		same "run VMs $f (-O2 vs -O0)" "$T/vms.a/$f" "$T/vms.b/$f"
	done
	for q in $QUANTA; do
		"$A" run "$T/vms.ini" --set engine.quantum=$q --out "$T/vms.q$q" --quiet > /dev/null 2>&1
		for f in stats.txt workload.log vm0.console vm1.console; do
			same "run VMs $f (quantum 1 vs $q)" "$T/vms.a/$f" "$T/vms.q$q/$f"
		done
	done
fi

# 5b. the CR-protection scenarios (docs/cr-protection.md) under each design:
#     -O2 vs -O0 and quantum
if [ -d "$GUEST_DIR" ] && [ -f "$GUEST_DIR/heki_attack.elf" ]; then
	G=$(cd "$GUEST_DIR" && pwd)
	for sc in attack kexec; do
		for d in none kvm vmm vtl; do
			o="$T/heki-$sc-$d"
			set -- --set heki.elf="$G/heki_$sc.elf" --set heki.cr_protection=$d
			"$A" run workloads/scenarios/heki-$sc.ini "$@" --out "$o.a" > "$o.a.sum" 2>&1
			"$B" run workloads/scenarios/heki-$sc.ini "$@" --out "$o.b" > "$o.b.sum" 2>&1
			for f in stats.txt heki.log; do
				same "heki-$sc $d $f (-O2 vs -O0)" "$o.a/$f" "$o.b/$f"
			done
			for q in $QUANTA; do
				"$A" run workloads/scenarios/heki-$sc.ini "$@" --set engine.quantum=$q \
					--out "$o.q$q" --quiet > /dev/null 2>&1
				same "heki-$sc $d stats.txt (quantum 1 vs $q)" "$o.a/stats.txt" "$o.q$q/stats.txt"
			done
		done
	done
fi

# 5c. the host-strategy workloads (docs/strategies.md): host writers on
#     cpu1 racing guest actions on cpu0; -O2 vs -O0 and quantum
for w in snp-churn snp-multi snp-virtio snp-kexec; do
	for st in convert kill_guest; do
		o="$T/$w.$st"
		"$A" run workloads/scenarios/$w.ini --set host.rmp_fault=$st --out "$o.a" --quiet \
			> /dev/null 2>&1
		"$B" run workloads/scenarios/$w.ini --set host.rmp_fault=$st --out "$o.b" --quiet \
			> /dev/null 2>&1
		for f in stats.txt workload.log; do
			same "run $w $st $f (-O2 vs -O0)" "$o.a/$f" "$o.b/$f"
		done
		for q in $QUANTA; do
			"$A" run workloads/scenarios/$w.ini --set host.rmp_fault=$st \
				--set engine.quantum=$q --out "$o.q$q" --quiet > /dev/null 2>&1
			for f in stats.txt workload.log; do
				same "run $w $st $f (quantum 1 vs $q)" "$o.a/$f" "$o.q$q/$f"
			done
		done
	done
done

# 6. protsim replay: a script's trace with a slower RMPUPDATE, and an
#    imported access trace at 2M, -O2 vs -O0 (outputs, report, new trace)
"$A" script tests/scripts/rmp_race_pvalidate.ps --trace "$T/race.zst" > /dev/null 2>&1
"$A" import lackey workloads/lackey/ls-head.lackey -o "$T/ls.zst" > /dev/null 2>&1
for r in a b; do
	case $r in a) P=$A ;; *) P=$B ;; esac
	"$P" replay "$T/race.zst" --set lat.rmp.rmpupdate=5000 --out "$T/rp.$r" \
		--trace "$T/rp.$r.zst" > /dev/null 2>&1
	"$P" replay "$T/ls.zst" --set replay.vm.page_size=2m --out "$T/ra.$r" > /dev/null 2>&1
done
for f in stats.json stats.txt config.json replay.txt workload.log; do
	same "replay $f (-O2 vs -O0)" "$T/rp.a/$f" "$T/rp.b/$f"
	same "replay of an access trace $f (-O2 vs -O0)" "$T/ra.a/$f" "$T/ra.b/$f"
done
same "replay --trace (-O2 vs -O0)" "$T/rp.a.zst" "$T/rp.b.zst"

# 7. --timeline: the default scenario (walks, faults, a lock conflict) and
#    an SNP guest on 3 vCPUs in detailed mode (walks, kicks), -O2 vs -O0
#    and quantum 1 vs 7 and 10^6 (the file is sorted: the same bytes)
for q in 1 7 1000000; do
	for r in a b; do
		case $r in a) P=$A ;; *) P=$B ;; esac
		[ $r = b ] && [ $q != 1 ] && continue
		"$P" run workloads/scenarios/default.ini --set engine.quantum=$q --out "$T/tl.$r$q" -q \
			--timeline "$T/tl.$r$q.json" > /dev/null 2>&1
		[ -f "$GUEST_DIR/smp.elf" ] && "$P" exec "$GUEST_DIR/smp.elf" --set vm.vcpus=3 \
			--set vm.type=snp --mode detailed --set engine.quantum=$q \
			--timeline "$T/tle.$r$q.json" > /dev/null 2>&1
	done
done
same "run --timeline (-O2 vs -O0)" "$T/tl.a1.json" "$T/tl.b1.json"
for q in 7 1000000; do
	same "run --timeline (quantum 1 vs $q)" "$T/tl.a1.json" "$T/tl.a$q.json"
done
if [ -f "$GUEST_DIR/smp.elf" ]; then
	same "exec --timeline (-O2 vs -O0)" "$T/tle.a1.json" "$T/tle.b1.json"
	for q in 7 1000000; do
		same "exec --timeline (quantum 1 vs $q)" "$T/tle.a1.json" "$T/tle.a$q.json"
	done
fi

echo "determinism: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
