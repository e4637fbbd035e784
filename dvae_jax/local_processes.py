"""A command as several local processes joined by jax.distributed on 127.0.0.1, each with its own CPU
devices: how a multi-host run behaves, without the hosts. `dvae check-repro --processes N` and the
multi-process tests start `dvae train` this way; from the shell, any dvae command:

  python -m dvae_jax.local_processes 2 2 dvae train --config experiments/mnist_vae.py:smoke --workdir runs/mp
  python -m dvae_jax.local_processes 4 1 dvae train --config experiments/mnist_vae.py:smoke --workdir runs/mp4

Each process gets --distributed --coordinator_address=127.0.0.1:PORT --num_processes=N --process_id=I
(PORT: a free one). Process 0 prints to the terminal, process I > 0 to a log file in $TMPDIR (its path is
printed). A SIGTERM to the launcher is passed on to every process; Ctrl-C reaches them from the terminal.
The exit status is the first non-zero one of the processes (128 + the signal for one a signal killed).
"""

import argparse
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence

import jax


def xla_flags_with_cpu_devices(count: int) -> str:
  """This process's XLA_FLAGS with the CPU split into `count` devices instead (for a subprocess)."""
  option = "--xla_force_host_platform_device_count"
  kept = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not flag.startswith(option)]
  return " ".join([*kept, f"{option}={count}"])


def start_processes(
  command: Sequence[str], *, processes: int, devices_per_process: int, streams: Sequence[dict]
) -> list[subprocess.Popen]:
  """`command` plus the --distributed flags as `processes` local processes with `devices_per_process`
  CPU devices each, joined on a free port of 127.0.0.1; `streams[i]`: process i's Popen output arguments.
  They inherit this process's environment, XLA flags (the device count aside) and compilation cache."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  env = {**os.environ, "XLA_FLAGS": xla_flags_with_cpu_devices(devices_per_process), "JAX_PLATFORMS": "cpu"}
  if jax.config.jax_compilation_cache_dir:
    env["JAX_COMPILATION_CACHE_DIR"] = str(jax.config.jax_compilation_cache_dir)
  flags = ["--distributed", f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={processes}"]
  return [subprocess.Popen([*command, *flags, f"--process_id={i}"], env=env, **streams[i]) for i in range(processes)]


def start_training_processes(
  config_file: pathlib.Path, workdir: pathlib.Path, *, processes: int, devices_per_process: int
) -> list[subprocess.Popen]:
  """`dvae train --config config_file --workdir workdir --distributed` as `processes` local processes
  with `devices_per_process` CPU devices each (start_processes); their stderr is piped (text)."""
  command = [sys.executable, "-m", "dvae_jax.main", "train", "--config", str(config_file), "--workdir", str(workdir)]
  pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
  return start_processes(
    command, processes=processes, devices_per_process=devices_per_process, streams=[pipes] * processes
  )


def wait_for(procs: list[subprocess.Popen], *, timeout: float) -> list[tuple[int, str]]:
  """(exit status, stderr) of each process; all are killed if one outlives `timeout` seconds."""
  results = []
  try:
    for proc in procs:
      _, stderr = proc.communicate(timeout=timeout)
      results.append((proc.returncode, stderr))
  finally:
    for proc in procs:
      proc.kill()
  return results


def _count(text: str) -> int:
  if not text.isdigit() or int(text) < 1:
    raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
  return int(text)


def main(argv: Sequence[str] | None = None) -> int:
  """`python -m dvae_jax.local_processes N D COMMAND...`: the first non-zero exit status of the processes, or 0."""
  parser = argparse.ArgumentParser(
    prog="python -m dvae_jax.local_processes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
  )
  parser.add_argument("processes", type=_count, metavar="N", help="how many processes")
  parser.add_argument("devices", type=_count, metavar="D", help="CPU devices per process")
  parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND", help="what each process runs: dvae ...")
  args = parser.parse_args(argv)
  if not args.command:
    parser.error("the command to run is missing, e.g. dvae train --config ... --workdir ...")
  logs = [tempfile.mkstemp(prefix=f"dvae-process-{i}-", suffix=".log") for i in range(1, args.processes)]
  streams = [{}, *({"stdout": fd, "stderr": subprocess.STDOUT} for fd, _ in logs)]
  try:
    procs = start_processes(args.command, processes=args.processes, devices_per_process=args.devices, streams=streams)
  except OSError as e:  # the command does not exist or cannot run: said as a shell says it
    print(f"{parser.prog}: {args.command[0]}: {e.strerror}", file=sys.stderr)
    for _, log in logs:
      os.unlink(log)
    return 127 if isinstance(e, FileNotFoundError) else 126
  finally:
    for fd, _ in logs:
      os.close(fd)
  for i, (_, log) in enumerate(logs, start=1):
    print(f"process {i} logs to {log}", file=sys.stderr)
  # The processes share the terminal's process group (Ctrl-C reaches them); a SIGTERM to the launcher alone,
  # a scheduler's, is passed on so that each stops after a checkpoint.
  previous = {
    signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
    signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: [proc.send_signal(signal.SIGTERM) for proc in procs]),
  }
  try:
    statuses = [proc.wait() for proc in procs]
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
  return next((128 - status if status < 0 else status for status in statuses if status), 0)


if __name__ == "__main__":
  sys.exit(main())
