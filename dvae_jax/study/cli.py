"""`dvae study run|report FILE`: the study command's flags and the call of its library function.

dvae_jax.main lists these flags under "study" in its COMMANDS table (so that other commands refuse
them) and hands the command's arguments to `main`. No jax here: the launcher's runs are processes of
their own (the checks of the runs' records import the config package, on `run` and `report`).
"""

import shlex
import sys

from absl import flags

from dvae_jax.errors import ConfigError, WorkdirError

_RUNS = flags.DEFINE_string("runs", "runs", "`study`: the folder of the studies' runs, RUNS/STUDY/GROUP/seedN.")
_JOBS = flags.DEFINE_integer(
  "jobs", 1, "`study run`: runs at a time, as local processes (one run already uses every core).", lower_bound=1
)
_LAUNCHER = flags.DEFINE_enum(
  "launcher", "local", ["local", "slurm"], "`study run`: local processes, or one Slurm job per run (submitit)."
)
_PARTITION = flags.DEFINE_string("partition", None, "`study run --launcher slurm`: the jobs' partition.")
_TIME = flags.DEFINE_integer(
  "time", 240, "`study run --launcher slurm`: each job's time limit, minutes.", lower_bound=1
)
_GPUS = flags.DEFINE_integer("gpus_per_node", None, "`study run --launcher slurm`: GPUs per job.", lower_bound=0)
_CPUS = flags.DEFINE_integer("cpus_per_task", None, "`study run --launcher slurm`: CPUs per job.", lower_bound=1)
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "`study run`: print the commands of the unfinished runs; run none.")

# The flags of `dvae study` (dvae_jax.main's COMMANDS), and of each subcommand.
FLAGS = ("runs", "jobs", "launcher", "partition", "time", "gpus_per_node", "cpus_per_task", "dry_run", "out")
SUBCOMMAND_FLAGS = {"run": set(FLAGS) - {"out"}, "report": {"runs", "out"}}
SLURM_FLAGS = ("partition", "time", "gpus_per_node", "cpus_per_task")
USAGE = "run|report FILE[:variant] [--runs DIR] [run: --jobs N | --launcher slurm ... | --dry_run] [report: --out DIR]"


def _error(message: str) -> int:
  print(f"dvae: error: {message}", file=sys.stderr)
  return 1


def main(arguments: list[str], *, out: str | None = None) -> int:
  """`dvae study SUBCOMMAND FILE` with the parsed flags; returns the exit status.

  Args:
    arguments: [SUBCOMMAND, FILE] ("run" or "report"; FILE a study's path or name, with :variant).
    out: `--out`, the report's folder.
  """
  if len(arguments) != 2 or arguments[0] not in SUBCOMMAND_FLAGS:
    return _error(f"expected `dvae study run FILE` or `dvae study report FILE`; usage: dvae study {USAGE}")
  subcommand, file = arguments
  given = {name for name in FLAGS if flags.FLAGS[name].present}
  foreign = sorted(given - SUBCOMMAND_FLAGS[subcommand])
  if foreign:
    return _error(
      f"{', '.join('--' + n for n in foreign)}: not a flag of `dvae study {subcommand}` (dvae study --help)."
    )
  if _LAUNCHER.value != "slurm" and (slurm_only := [n for n in SLURM_FLAGS if n in given]):
    return _error(f"{', '.join('--' + n for n in slurm_only)}: only with --launcher slurm (dvae study --help).")
  if _LAUNCHER.value == "slurm" and "jobs" in given:
    return _error("--jobs: local processes only; --launcher slurm submits every run at once, and Slurm queues them.")
  from dvae_jax.study import loader

  try:
    study = loader.load_study(file)
    if subcommand == "report":
      from dvae_jax.study import report

      command = ["dvae", "study", "report", file]
      command += [*(["--runs", _RUNS.value] if "runs" in given else []), *(["--out", out] if out else [])]
      for path in report.write_report(study, _RUNS.value, out, command=shlex.join(command)):
        print(path)
      return 0
    from dvae_jax.study import runner

    slurm = runner.SlurmOptions(_PARTITION.value, _TIME.value, _GPUS.value, _CPUS.value)
    status = runner.run_study(
      study, _RUNS.value, jobs=_JOBS.value, launcher=_LAUNCHER.value, slurm=slurm, dry_run=_DRY_RUN.value
    )
    if status == 0 and not _DRY_RUN.value:
      print(f"report: dvae study report {shlex.quote(file)}" + (f" --runs {_RUNS.value}" if "runs" in given else ""))
    return status
  except (ConfigError, WorkdirError) as e:
    return _error(str(e))
