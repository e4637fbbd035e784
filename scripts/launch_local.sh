#!/usr/bin/env bash
# Runs a dvae command as N processes on this machine, each with D CPU devices, joined by
# jax.distributed on 127.0.0.1: how a multi-host run behaves, without the hosts.
#
#   scripts/launch_local.sh 2 2 dvae train --config experiments/mnist_vae.py:smoke --workdir runs/mp
#   scripts/launch_local.sh 4 1 dvae train --config experiments/mnist_vae.py:smoke --workdir runs/mp4
#
# Adds --distributed --coordinator_address=127.0.0.1:PORT --num_processes=N --process_id=I to the
# command (PORT: a free one). Process 0 prints to the terminal; process I > 0 to log files in
# $TMPDIR (their paths are printed). Exits with the first non-zero status of the processes.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
if [ $# -lt 3 ]; then
  usage >&2
  exit 2
fi
processes=$1 devices=$2
shift 2
# A port nothing on 127.0.0.1 listens on (bash's /dev/tcp connects only where something does).
port=$((20000 + RANDOM % 40000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((20000 + RANDOM % 40000)); done
export XLA_FLAGS="--xla_force_host_platform_device_count=$devices" JAX_PLATFORMS=cpu
pids=()
for ((i = 0; i < processes; i++)); do
  flags=(--distributed "--coordinator_address=127.0.0.1:$port" "--num_processes=$processes" "--process_id=$i")
  if [ "$i" = 0 ]; then
    "$@" "${flags[@]}" &
  else
    log=$(mktemp "${TMPDIR:-/tmp}/dvae-process-$i-XXXX.log")
    echo "process $i logs to $log" >&2
    "$@" "${flags[@]}" >"$log" 2>&1 &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || { code=$?; [ "$status" = 0 ] && status=$code; }
done
exit "$status"
