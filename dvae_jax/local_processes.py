"""Training as several local processes of `dvae train --distributed`, joined on 127.0.0.1, each with
its own CPU devices: how `dvae check-repro --processes N` and the multi-process tests exercise the
multi-host code path on one machine."""

import os
import pathlib
import socket
import subprocess
import sys

import jax


def xla_flags_with_cpu_devices(count: int) -> str:
  """This process's XLA_FLAGS with the CPU split into `count` devices instead (for a subprocess)."""
  option = "--xla_force_host_platform_device_count"
  kept = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not flag.startswith(option)]
  return " ".join([*kept, f"{option}={count}"])


def start_training_processes(
  config_file: pathlib.Path, workdir: pathlib.Path, *, processes: int, devices_per_process: int
) -> list[subprocess.Popen]:
  """`dvae train --config config_file --workdir workdir --distributed` as `processes` local processes
  with `devices_per_process` CPU devices each, joined on 127.0.0.1; their stderr is piped (text).
  They inherit this process's XLA flags (the device count aside) and compilation cache."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  env = {**os.environ, "XLA_FLAGS": xla_flags_with_cpu_devices(devices_per_process), "JAX_PLATFORMS": "cpu"}
  if jax.config.jax_compilation_cache_dir:
    env["JAX_COMPILATION_CACHE_DIR"] = str(jax.config.jax_compilation_cache_dir)
  command = [sys.executable, "-m", "dvae_jax.main", "train", "--config", str(config_file), "--workdir", str(workdir)]
  command += ["--distributed", f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={processes}"]
  pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
  return [subprocess.Popen([*command, f"--process_id={i}"], env=env, **pipes) for i in range(processes)]


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
