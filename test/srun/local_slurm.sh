#!/usr/bin/env bash
# A private one-node SLURM cluster for the srun tests: munged, slurmctld and slurmd with their
# configuration, state, sockets and logs all inside DIR, on the given ports, so it touches no
# system configuration and several can coexist.
#   local_slurm.sh start DIR PORT   start it (slurmctld on PORT, slurmd on PORT+1); prints the
#                                   SLURM_CONF path once the node is idle
#   local_slurm.sh stop DIR         stop its daemons
# Needs root (slurmd starts job steps as their user) and the Debian packages slurmctld, slurmd,
# slurm-client and munge. The node declares 8 CPUs whatever the machine has (config_overrides),
# so small CI machines can run 4-rank jobs.
set -euo pipefail

command=${1:?usage: local_slurm.sh start DIR PORT | stop DIR}
dir=${2:?usage: local_slurm.sh start DIR PORT | stop DIR}

stop() {
  for daemon in slurmd slurmctld munged; do
    [ -f "$dir/run/$daemon.pid" ] && kill "$(cat "$dir/run/$daemon.pid")" 2>/dev/null || true
  done
  return 0
}

if [ "$command" = stop ]; then
  stop
  exit 0
fi
[ "$command" = start ] || { echo "local_slurm.sh: unknown command '$command' (start or stop)" >&2; exit 2; }
port=${3:?usage: local_slurm.sh start DIR PORT}

fail() {
  echo "local_slurm.sh: $1" >&2
  for log in "$dir"/log/*.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }; done
  stop
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (slurmd runs job steps as their user)"
for tool in munged mungekey slurmctld slurmd srun sinfo; do
  command -v "$tool" >/dev/null || fail "$tool not found; install slurmctld slurmd slurm-client munge (scripts/setup.sh)"
done

rm -rf "$dir"
mkdir -p "$dir"/{run,log,state,spool}
chmod 700 "$dir/run"
node=$(hostname -s)

mungekey --create --keyfile="$dir/run/munge.key" || fail "mungekey could not create a key"
munged --force --socket="$dir/run/munge.socket" --key-file="$dir/run/munge.key" \
  --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/run/munged.seed" ||
  fail "munged did not start"

cat > "$dir/slurm.conf" <<EOF
ClusterName=mcpp-test
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$node CPUs=8 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF

export SLURM_CONF=$dir/slurm.conf
slurmctld || fail "slurmctld did not start"
slurmd || fail "slurmd did not start"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && { echo "$SLURM_CONF"; exit 0; }
  sleep 0.5
done
fail "the node did not become idle within 30 s (sinfo: $(sinfo -h -o '%T %E' 2>&1))"
