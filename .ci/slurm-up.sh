#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for tests/slurm (munge + slurmctld + slurmd, no
# systemd, no accounting). Installs Debian's slurm-wlm and munge once (root and apt-get needed).
# Prints the SLURM_CONF to export; exits non-zero with the reason on stderr when it cannot start
# (the Slurm tests then skip and say why). Idempotent: a cluster already up is left as it is.
#   eval "$(.ci/slurm-up.sh)"   # exports SLURM_CONF
set -euo pipefail
ROOT=${PIXEL_BENCH_SLURM_DIR:-/tmp/pixel-bench-slurm}
CONF=$ROOT/slurm.conf
fail() { echo "slurm-up: $*" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "slurm-wlm/munge not installed and not root (cannot apt-get)"
  command -v apt-get >/dev/null || fail "slurm-wlm/munge not installed and no apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends slurm-wlm munge; } >"$ROOT.apt.log" 2>&1 \
    || fail "apt-get install slurm-wlm munge failed (see $ROOT.apt.log)"
fi
[ "$(id -u)" = 0 ] || fail "slurmd must run as root here (SlurmdUser=root)"
mkdir -p "$ROOT"/{state,spool,log}

# munge: a key (the package usually made one) and the daemon, as the munge user
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 \
    of=/etc/munge/munge.key 2>/dev/null; chown munge: /etc/munge/munge.key 2>/dev/null || true;
    chmod 400 /etc/munge/munge.key; }
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge: /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  if id munge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
  else
    /usr/sbin/munged --force || fail "munged did not start"
  fi
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n | unmunge >/dev/null 2>&1 || fail "munge does not answer"
fi

HOST=$(hostname -s)
CPUS=${PIXEL_BENCH_SLURM_CPUS:-2}
MEM=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)  # half the RAM, in MB
cat > "$CONF.tmp" <<CONF
ClusterName=pixelbench
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/slurmctld.pid
SlurmdPidFile=$ROOT/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
MinJobAge=300
KillWait=5
# without a default, a job that asks no memory gets the whole node and jobs run one at a time
DefMemPerCPU=$(( MEM / CPUS ))
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
mv "$CONF.tmp" "$CONF"
export SLURM_CONF=$CONF

if ! scontrol ping 2>/dev/null | grep -q UP; then
  /usr/sbin/slurmctld -f "$CONF" -c >"$ROOT/log/slurmctld.out" 2>&1 \
    || fail "slurmctld did not start (see $ROOT/log/slurmctld.log)"
else
  scontrol reconfigure >/dev/null 2>&1 || true  # already up: read the conf written above
fi
if ! pgrep -F "$ROOT/slurmd.pid" >/dev/null 2>&1; then
  /usr/sbin/slurmd -f "$CONF" -N "$HOST" >"$ROOT/log/slurmd.out" 2>&1 \
    || fail "slurmd did not start (see $ROOT/log/slurmd.log)"
fi
for _ in $(seq 40); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -1)
  case "$state" in idle*|mixed*|allocated*) break ;; esac
  sleep 0.5
done
case "$state" in
  idle*|mixed*|allocated*) ;;
  *) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true; sleep 1
     state=$(sinfo -h -N -o %T 2>/dev/null | head -1)
     case "$state" in idle*|mixed*|allocated*) ;; *)
       fail "node $HOST is '${state:-unknown}' (see $ROOT/log/slurmd.log)" ;; esac ;;
esac
echo "export SLURM_CONF=$CONF"
