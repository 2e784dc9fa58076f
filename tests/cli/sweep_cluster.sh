#!/bin/sh
# `protsim sweep --emit parallel|slurm`: the points as a job list run by
# GNU parallel, and as a Slurm array job run by a single-node Slurm
# cluster that this test configures and starts (munge, slurmctld, slurmd
# on unused ports, state in a temporary directory) and stops again; each
# way, `sweep --merge` gives the same sweep.csv as the local run.  Needs
# the packages parallel, slurm-wlm and munge (make deps installs them) and
# root for the Slurm part (skipped, and said so, otherwise).
# Run: PROTSIM=build/protsim sh tests/cli/sweep_cluster.sh
set -u
[ -n "${PROTSIM_DEBUG:-}" ] && set -x
P=${PROTSIM:-build/protsim}
case $P in /*) ;; *) P=$(pwd)/$P ;; esac
T=$(mktemp -d) || exit 2
started=""
cleanup() {
	for d in slurmd slurmctld; do
		[ -f "$T/slurm/$d.pid" ] && kill "$(cat "$T/slurm/$d.pid")" 2>/dev/null
	done
	case $started in *munged*) kill "$(cat "$T/munged.pid" 2>/dev/null)" 2>/dev/null ;; esac
	sleep 1
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -d "$T/slurm/log" ] && tail -n 5 "$T"/slurm/log/*.log >&2; exit 1; }
S=$(pwd)/workloads/scenarios/default.ini
GRID="--grid lat.rmp.rmpupdate=1100,3000,5000 --grid rmp.spurious_faults=0,1"

# shellcheck disable=SC2086
"$P" sweep "$S" $GRID -j 2 --out "$T/local" >/dev/null || fail "local sweep"

# GNU parallel
command -v parallel >/dev/null || fail "GNU parallel is not installed (make deps)"
# shellcheck disable=SC2086
"$P" sweep "$S" $GRID --out "$T/par" --emit parallel >"$T/out" || fail "emit parallel"
grep -q "parallel -j N < $T/par/jobs.txt" "$T/out" || fail "emit message: $(cat "$T/out")"
[ "$(wc -l <"$T/par/jobs.txt")" -eq 6 ] || fail "jobs.txt: $(wc -l <"$T/par/jobs.txt") lines"
[ -e "$T/par/p0000" ] && fail "--emit ran a point"
parallel --will-cite -j 2 <"$T/par/jobs.txt" || fail "parallel"
"$P" sweep --merge "$T/par" >/dev/null || fail "merge after parallel"
cmp -s "$T/local/sweep.csv" "$T/par/sweep.csv" || fail "parallel's sweep.csv differs from the local run's"

# Slurm: a one-node cluster of our own
if [ "$(id -u)" != 0 ]; then
	echo "sweep_cluster: not root: the Slurm part is skipped"
	exit 0
fi
for c in munged slurmctld slurmd sbatch; do
	command -v $c >/dev/null || fail "$c is not installed (make deps: slurm-wlm, munge)"
done
if ! munge -n </dev/null >/dev/null 2>&1; then   # no working munged: start one
	mkdir -p /run/munge /etc/munge
	[ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1k count=1 2>/dev/null
	chown munge:munge /etc/munge/munge.key /run/munge 2>/dev/null
	chmod 400 /etc/munge/munge.key
	munged --force --pid-file="$T/munged.pid" 2>/dev/null || fail "munged does not start"
	started="munged"
	i=0
	until munge -n </dev/null >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 20 ] || fail "munged does not answer"
		sleep 0.5
	done
fi
H=$(hostname -s)
mkdir -p "$T/slurm/spool" "$T/slurm/state" "$T/slurm/log"
cat >"$T/slurm/slurm.conf" <<CONF
ClusterName=protsimtest
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16917
SlurmdPort=16918
AuthType=auth/munge
StateSaveLocation=$T/slurm/state
SlurmdSpoolDir=$T/slurm/spool
SlurmctldPidFile=$T/slurm/slurmctld.pid
SlurmdPidFile=$T/slurm/slurmd.pid
SlurmctldLogFile=$T/slurm/log/slurmctld.log
SlurmdLogFile=$T/slurm/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$H CPUs=$(nproc) State=UNKNOWN
PartitionName=protsim Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm/slurm.conf"
slurmctld -f "$SLURM_CONF" || fail "slurmctld does not start"
slurmd -f "$SLURM_CONF" || fail "slurmd does not start"
i=0
until sinfo -h -o %t 2>/dev/null | grep -q "idle\|mix\|alloc"; do
	i=$((i + 1))
	[ $i -lt 60 ] || fail "the Slurm node does not come up ($(sinfo -h -o %t 2>&1))"
	# a node left down or drained (a slurmd that started before the controller): resume it
	case $(sinfo -h -o %t 2>/dev/null) in
	down*|drain*) scontrol update nodename="$H" state=resume 2>/dev/null ;;
	esac
	sleep 1
done
# shellcheck disable=SC2086
"$P" sweep "$S" $GRID --out "$T/sl" --emit slurm >"$T/out" || fail "emit slurm"
grep -q "sbatch $T/sl/sweep.sbatch" "$T/out" || fail "emit message: $(cat "$T/out")"
grep -q '^#SBATCH --array=0-5$' "$T/sl/sweep.sbatch" || fail "array: $(cat "$T/sl/sweep.sbatch")"
timeout 300 sbatch --wait "$T/sl/sweep.sbatch" >/dev/null || fail "the Slurm array job failed"
"$P" sweep --merge "$T/sl" >/dev/null || fail "merge after Slurm"
cmp -s "$T/local/sweep.csv" "$T/sl/sweep.csv" || fail "Slurm's sweep.csv differs from the local run's"
exit 0
