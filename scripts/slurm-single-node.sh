#!/usr/bin/env bash
# A real single-node Slurm on this machine, for the tests of `repgeom sweep --executor slurm` (and
# for trying a sweep without a cluster). Run as root; idempotent: a Slurm already answering with
# this node idle is left as it is. Needs the Debian/Ubuntu packages slurm-wlm and munge.
#
# It writes a minimal /etc/slurm/slurm.conf for this host (one node with all its cores and most of
# its memory, one partition `debug`, no cgroups, no accounting: sacct then has nothing to say and
# `repgeom sweep --status` reads the run folders and logs instead), makes a munge key if there is
# none, starts munged, slurmctld and slurmd as daemons (no systemd), and waits until sinfo shows
# the node idle. Exit 0 when Slurm is ready; otherwise one line on stderr saying why, exit 1.
set -euo pipefail

fail() { echo "slurm-single-node: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it writes /etc/slurm and starts the daemons)"
for p in slurmctld slurmd munged sinfo scontrol; do
  command -v "$p" >/dev/null 2>&1 || fail "$p is not installed; apt-get install -y --no-install-recommends slurm-wlm munge"
done

host=$(hostname -s)
idle() { sinfo -h -N -n "$host" -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
if idle; then echo "slurm-single-node: Slurm is already up on $host"; exit 0; fi

conf=/etc/slurm/slurm.conf
marker='# written by repgeom scripts/slurm-single-node.sh'
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
  fail "$conf exists and was not written by this script; leaving it alone (start that Slurm, or move it away)"
fi
cpus=$(nproc)
mem_mb=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 ))
# Leave the system a margin: a tenth of the memory, at least 512 MB.
margin=$(( mem_mb / 10 > 512 ? mem_mb / 10 : 512 ))
real_mem=$(( mem_mb - margin ))
tmp="$conf.tmp-$$"
cat > "$tmp" <<EOF
$marker
ClusterName=repgeom
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Default=YES Nodes=ALL State=UP MaxTime=INFINITE
EOF
mv "$tmp" "$conf"

if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chmod 0400 /etc/munge/munge.key
# munged runs as the munge user where the package made one, else as root (--force).
if id munge >/dev/null 2>&1; then
  chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
  pgrep -x munged >/dev/null || su -s /bin/sh munge -c 'munged' || fail "munged did not start (see /var/log/munge/munged.log)"
else
  pgrep -x munged >/dev/null || munged --force || fail "munged did not start (see /var/log/munge/munged.log)"
fi
pgrep -x slurmctld >/dev/null || slurmctld || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
pgrep -x slurmd >/dev/null || slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"

for _ in $(seq 1 60); do
  if idle; then echo "slurm-single-node: Slurm is up on $host ($cpus CPUs, ${real_mem} MB)"; exit 0; fi
  # A node that came back from an earlier run may be marked down; bring it back.
  if sinfo -h -N -n "$host" -o '%T' 2>/dev/null | grep -qE '^(down|drain|drained|draining)'; then
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  fi
  sleep 1
done
fail "the node $host did not become idle within 60 s: sinfo says '$(sinfo -h -N -o '%N %T %E' 2>&1 | head -1)' (see /var/log/slurm/slurmd.log)"
