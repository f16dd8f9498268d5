#!/usr/bin/env bash
# A two-node SLURM cluster on this machine, for trying and testing the SLURM path without one:
#   eval "$(scripts/slurm_local.sh up)"     # then sbatch, srun, sinfo talk to it
#   scripts/slurm_local.sh status
#   scripts/slurm_local.sh down
# Nodes n1 and n2 (partition `local`) are two slurmd daemons on 127.0.0.1, each offering all of
# this machine's cores and 2 GB; munged, slurmctld and both slurmd run from one folder of their own,
# $SLURM_LOCAL_DIR (default: .slurm_local/ in the project, git-ignored), with their own
# slurm.conf, MUNGE key and socket, state, logs and pid files, on ports free when first started.
# An existing SLURM or MUNGE installation is not touched. `up` installs Debian's slurm-wlm and
# munge when they are missing (as root, with apt-get). Only the `export ...` lines go to stdout
# (SLURM_CONF, and MASTER_ADDR: the node names do not resolve, so DDP meets on 127.0.0.1);
# everything else goes to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${SLURM_LOCAL_DIR:-$ROOT/.slurm_local}
CONF=$DIR/slurm.conf
NODES=(n1 n2)

say() { echo "slurm_local: $*" >&2; }
die() {
    echo "slurm_local: $*" >&2
    exit 2
}

install_packages() {
    local missing=()
    for tool in munged slurmctld slurmd sbatch srun scontrol sinfo; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "SLURM is not installed (no ${missing[*]}) and this is not root: run" \
            "'sudo apt-get install -y slurm-wlm munge', or this script as root"
    fi
    command -v apt-get >/dev/null ||
        die "SLURM is not installed (no ${missing[*]}) and there is no apt-get: install" \
            "Slurm (slurmctld, slurmd, sbatch, srun) and MUNGE with this system's package manager"
    say "installing slurm-wlm and munge (apt-get)"
    apt-get update -qq >&2 || die "apt-get update failed: check the network or the apt sources"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2 ||
        die "apt-get install slurm-wlm munge failed (see above)"
}

# True when the pid file names a live process started from this folder (a reused pid is not).
ours() {
    local pidfile=$1 pid
    [ -s "$pidfile" ] || return 1
    pid=$(<"$pidfile")
    [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR/"
}

pidfiles() {
    echo "$DIR/run/munged.pid $DIR/run/slurmctld.pid"
    for node in "${NODES[@]}"; do echo "$DIR/run/slurmd-$node.pid"; done
}

all_up() {
    for node in "${NODES[@]}"; do ours "$DIR/run/slurmd-$node.pid" || return 1; done
    ours "$DIR/run/slurmctld.pid" && ours "$DIR/run/munged.pid"
}

free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
EOF
}

write_config() {
    local ports cpus memory user host
    read -r -a ports <<<"$(free_ports 3)"
    # both nodes offer every core: a job waiting for a signal must not keep another off a node
    cpus=$(nproc)
    memory=2048
    user=$(id -un)
    host=$(hostname -s)
    cat >"$CONF" <<EOF
# Written by scripts/slurm_local.sh: a two-node cluster on 127.0.0.1 (see that script).
ClusterName=alexnet_local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a job credential's lifetime, which is also how long SLURM holds a requeued job
# before it may start again (default 120 s)
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
# no cgroups: processes are tracked through /proc, tasks are not bound to cores
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# a requeued job may start again at once; a killed one has KillWait s to save its checkpoint
JobRequeue=1
# look at the queue every 2 s (default 60 s): a requeued job starts soon after its hold ends
SchedulerParameters=sched_interval=2,bf_interval=2
KillWait=30
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=${ports[1]} CPUs=$cpus RealMemory=$memory State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=${ports[2]} CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    local key=$DIR/munge/munge.key
    if [ ! -s "$key" ]; then
        (umask 077 && head -c 1024 /dev/urandom >"$key")
    fi
    # --force: the project folder's parents may be group-writable, which munged warns about
    munged --force --socket="$DIR/munge/munge.socket" --key-file="$key" \
        --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" >&2 ||
        die "munged did not start; see $DIR/log/munged.log"
}

wait_for_nodes() {
    local deadline=$((SECONDS + 60)) states
    export SLURM_CONF=$CONF
    while :; do
        states=$(sinfo --noheader --Node --format='%N %T' 2>/dev/null | sort -u | tr '\n' ' ')
        case "$states" in
        *n1\ idle*n2\ idle* | *n1\ mixed*n2\ * | *n1\ allocated*n2\ *) return 0 ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "the nodes did not come up (sinfo: ${states:-no answer});" \
                "see $DIR/log/slurmctld.log and $DIR/log/slurmd-n1.log"
        fi
        sleep 0.5
    done
}

up() {
    install_packages
    if all_up; then
        say "already running ($DIR)"
    else
        down_daemons
        mkdir -p "$DIR"/{munge,run,log,state,spool} "${NODES[@]/#/$DIR/spool/}"
        chmod 700 "$DIR/munge"
        write_config
        start_munge
        slurmctld -f "$CONF" >&2 || die "slurmctld did not start; see $DIR/log/slurmctld.log"
        for node in "${NODES[@]}"; do
            slurmd -f "$CONF" -N "$node" >&2 || die "slurmd $node did not start; see $DIR/log/slurmd-$node.log"
        done
        wait_for_nodes
        say "up: nodes ${NODES[*]}, partition local ($CONF)"
    fi
    exports
}

exports() {
    echo "export SLURM_CONF=$CONF"
    echo "export MASTER_ADDR=127.0.0.1"
}

down_daemons() {
    local pid pidfile
    if ours "$DIR/run/slurmctld.pid"; then
        # jobs go first, while the nodes can still end them
        SLURM_CONF=$CONF scancel --quiet --user="$(id -un)" 2>/dev/null || true
    fi
    for pidfile in $(pidfiles); do
        ours "$pidfile" || continue
        pid=$(<"$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        rm -f "$pidfile"
    done
}

status() {
    local ok=0 name
    for pidfile in $(pidfiles); do
        name=$(basename "$pidfile" .pid)
        if ours "$pidfile"; then
            echo "$name: running (pid $(<"$pidfile"))" >&2
        else
            echo "$name: stopped" >&2
            ok=1
        fi
    done
    if [ "$ok" -eq 0 ]; then
        SLURM_CONF=$CONF sinfo --Node >&2
        exports
    fi
    return "$ok"
}

case "${1:-}" in
up) up ;;
down)
    down_daemons
    say "down ($DIR)"
    ;;
status) status ;;
*) die "usage: scripts/slurm_local.sh up|down|status (state in \$SLURM_LOCAL_DIR, default $ROOT/.slurm_local)" ;;
esac
