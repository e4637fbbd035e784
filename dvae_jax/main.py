"""The `dvae` command line. It parses flags and calls one library function per command.

`dvae --help` lists the commands, `dvae COMMAND --help` one command's flags. Errors are one
paragraph on stderr, exit status 1 (--verbose adds the traceback); Ctrl-C exits 130, and a
training stopped by SIGTERM or Ctrl-C exits 75 after checkpointing its step (rerun to resume).
"""

import functools
import logging
import os
import pathlib
import sys
import tempfile
import traceback

from absl import app, flags
from ml_collections import config_flags

from dvae_jax.study import cli as study_cli  # the `study` command's flags

# Each command: what it does, its arguments, and the flags it reads (any other flag is refused).
COMMANDS = {
  "train": (
    "train an experiment, or resume the run in its workdir",
    "--config C --workdir W [--config.KEY=VALUE ...] [--distributed ...]",
    ("config", "workdir", "distributed", "coordinator_address", "num_processes", "process_id"),
  ),
  "evaluate": (
    "test metrics of a run's latest checkpoint, written to W/eval_<split>.json (or --out DIR)",
    "--workdir W [--out DIR] [--iw_samples K] [--iw_limit N] [--recompute_batch_norm N] [--classifier_workdir C]",
    ("workdir", "out", "config", "split", "classifier_workdir", "iw_samples", "iw_limit", "recompute_batch_norm"),
  ),
  "figures": (
    "what a run's model can draw: latent scatter and manifold, denoising, interpolation, samples",
    "--workdir W [--out DIR] [--which scatter,manifold,denoising,interpolation,samples] [--split test]",
    ("workdir", "out", "which", "split"),
  ),
  "plot": (
    "several runs side by side: validation curves, outputs, prior samples",
    "--run LABEL=W [--run LABEL=W ...] --out DIR",
    ("run", "out"),
  ),
  "check-repro": (
    "same seed, resume, devices, steps per dispatch (and processes): bitwise or within tolerance",
    "--config C [--workdir W] [--steps 24] [--processes 2] [--cpu_devices 2]",
    ("config", "workdir", "steps", "processes", "cpu_devices"),
  ),
  "data": (
    "download and verify a dataset's official files",
    "download NAME [--data_dir DIR] [--mirror URL]",
    ("data_dir", "mirror"),
  ),
  "study": ("train and evaluate a study's runs over seeds, or report them", study_cli.USAGE, study_cli.FLAGS),
  "config": ("print an experiment's config as resolved, training nothing", "--config C [--diff]", ("config", "diff")),
}
COMMON_FLAGS = ("verbose",)
INTERRUPTED_EXIT_STATUS = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped


def usage() -> str:
  """`dvae --help`: every command with its arguments."""
  lines = ["usage: dvae COMMAND [flags]    (dvae COMMAND --help: its flags)", "", "commands:"]
  for name, (purpose, arguments, _) in COMMANDS.items():
    lines += [f"  {name:<12} {purpose}", f"  {'':<12}   dvae {name} {arguments}"]
  lines += ["", "Experiments: experiments/*.py, by path or name (mnist_dvae:smoke). Docs: README.md, docs/."]
  return "\n".join(lines)


def command_help(command: str) -> str:
  """`dvae COMMAND --help`: what it does and each of its flags with its meaning and default."""
  purpose, arguments, names = COMMANDS[command]
  lines = [f"usage: dvae {command} {arguments}", "", purpose, "", "flags:"]
  for name in (*names, *COMMON_FLAGS):
    flag = flags.FLAGS[name]
    default = "" if flag.default in (None, [], False) else f" (default: {flag.default_as_str or flag.default})"
    lines.append(f"  --{name}: {flag.help}{default}")
  return "\n".join(lines)


_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "Experiment config: a file (path[:variant]) or an experiment's name (mnist_vae[:smoke]).",
  lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and figures.")
_SPLIT = flags.DEFINE_enum("split", "test", ["test", "valid"], "Split that `evaluate` measures (`figures` draws).")
_DATA_DIR = flags.DEFINE_string(
  "data_dir", None, "Data directory (default: $DVAE_DATA_DIR, else ~/.cache/dvae_jax/data)."
)
_CLASSIFIER = flags.DEFINE_string(
  "classifier_workdir", None, "`evaluate`: a trained classifier's workdir, to score reconstructions."
)
_IW_SAMPLES = flags.DEFINE_integer(
  "iw_samples", None, "importance samples for the NLL (default config.eval.iw_samples; 0 skips it).", lower_bound=0
)
_IW_LIMIT = flags.DEFINE_integer(
  "iw_limit", None, "estimate the NLL on the first N test images only (default config.eval.iw_limit).", lower_bound=1
)
_RECOMPUTE_BN = flags.DEFINE_integer(
  "recompute_batch_norm",
  None,
  "recompute batch norm's running statistics with the final parameters on this many training batches "
  "first (default: config.eval.recompute_batch_norm; 0: the running averages as trained).",
  lower_bound=0,
)
_RUNS = flags.DEFINE_multi_string("run", None, "`plot`: LABEL=WORKDIR of a run to draw (repeat the flag).")
_OUT = flags.DEFINE_string(
  "out",
  None,
  "`plot`, `figures`: directory for the figures (`figures`: WORKDIR/figures); `evaluate`: directory for "
  "eval_<split>.json, its grid and TensorBoard events (default WORKDIR; needed when the run is read-only); "
  "`study report`: RUNS/STUDY/report.",
)
_WHICH = flags.DEFINE_list(
  "which",
  None,
  "`figures`: which to draw, comma-separated (default all): scatter,manifold,denoising,interpolation,samples.",
)
_DISTRIBUTED = flags.DEFINE_bool(
  "distributed",
  False,
  "Multi-process run (one process per host): join the others through jax.distributed.initialize() first. "
  "Address, count and id come from the three flags below, else from $JAX_COORDINATOR_ADDRESS, "
  "$JAX_NUM_PROCESSES and $JAX_PROCESS_ID, else from jax's cluster detection (Slurm, Open MPI, TPU pods, ...).",
)
_COORDINATOR = flags.DEFINE_string(
  "coordinator_address", None, "--distributed: HOST:PORT of process 0's coordinator service."
)
_NUM_PROCESSES = flags.DEFINE_integer(
  "num_processes", None, "--distributed: how many processes take part.", lower_bound=1
)
_PROCESS_ID = flags.DEFINE_integer(
  "process_id", None, "--distributed: this process's index, 0 .. num_processes-1.", lower_bound=0
)
_STEPS = flags.DEFINE_integer("steps", None, "training steps of each run (default 24).", lower_bound=1)
_PROCESSES = flags.DEFINE_integer(
  "processes",
  0,
  "`check-repro` on CPU: also train the config as this many local processes (jax.distributed on 127.0.0.1) and "
  "compare with one process (0: not).",
  lower_bound=0,
)
_CPU_DEVICES = flags.DEFINE_integer(
  "cpu_devices",
  None,
  "`check-repro` on CPU: virtual devices to split the host into for the device check (default 2).",
  lower_bound=1,
)
_MIRRORS = flags.DEFINE_multi_string("mirror", None, "Base URL to download from instead of the official mirrors.")
_DIFF = flags.DEFINE_bool("diff", False, "`config`: only what differs from the family's base config (base.py).")
_VERBOSE = flags.DEFINE_bool("verbose", False, "On an error, print its traceback too (by default: one paragraph).")


def _fail(message: str) -> None:
  print(f"dvae: error: {message}", file=sys.stderr)
  sys.exit(1)


def _os_error_message(e: OSError) -> str:
  """An operating-system error the library did not turn into a clearer one, as one paragraph."""
  if e.errno is None:  # raised by this package with its own message
    return str(e)
  where = f" ({e.filename})" if e.filename else ""
  return (
    f"{e.strerror or type(e).__name__}{where}. Files already written (checkpoints, metrics) are left as they were; "
    "rerun with --verbose for the traceback."
  )


def _main(command: str, argv: list[str]) -> None:
  if command == "study":  # a launcher: its runs are processes of their own
    _refuse_other_commands_flags(command)
    sys.exit(study_cli.main(argv[1:], out=_OUT.value))
  if command == "check-repro":
    # XLA reads its flags when jax first initializes a backend, i.e. after this and before anything else.
    from dvae_jax import repro

    repro.set_xla_flags(cpu_devices=_CPU_DEVICES.value)
  # Imported here so that `dvae --help` and flag errors stay fast.
  from dvae_jax import console, evaluate, figures, reports, train
  from dvae_jax.checkpoint import CheckpointError
  from dvae_jax.configs import ConfigError, describe
  from dvae_jax.data import DataError, download
  from dvae_jax.errors import WorkdirError
  from dvae_jax.preemption import PREEMPTED_EXIT_STATUS, Preempted

  # Backend probing ("Unable to initialize backend 'tpu'") and orbax's per-save records are not
  # news to a user; this package's own messages (e.g. "Resuming from ...") stay.
  logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
  logging.getLogger("absl").setLevel(logging.WARNING)
  _refuse_other_commands_flags(command)
  if _DISTRIBUTED.value:
    _initialize_distributed()
  try:
    if command == "data":
      if argv[1:2] != ["download"] or len(argv) != 3:
        _fail("usage: dvae data download NAME  (NAME: mnist or fashion_mnist)")
      for path in download(argv[2], _DATA_DIR.value, mirrors=_MIRRORS.value):
        print(path)
      return
    if len(argv) > 1:
      _fail(f"unexpected arguments {argv[1:]}; usage: dvae {command} {COMMANDS[command][1]}")
    if command == "plot":
      if not _RUNS.value or not _OUT.value or not all("=" in run for run in _RUNS.value):
        _fail(f"`dvae plot` needs --out and one or more --run LABEL=WORKDIR; usage: dvae plot {COMMANDS['plot'][1]}")
      for path in figures.make_comparison_figures(dict(run.split("=", 1) for run in _RUNS.value), _OUT.value):
        print(path)
      return
    if command == "check-repro":
      _check_repro()
      return
    if command == "config":  # the resolved config (--diff: what differs from its family's base), nothing trained
      print(describe(_CONFIG.value, diff=_DIFF.value))
      return
    if not _WORKDIR.value:
      _fail(f"--workdir is required; usage: dvae {command} {COMMANDS[command][1]}")
    if command == "figures":
      _figures(_WORKDIR.value)
      return
    if command == "train":
      if _CONFIG.value is None:
        _fail(f"--config is required for `dvae train`; usage: dvae train {COMMANDS['train'][1]}")
      valid = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
      print(reports.format_training_end(valid, _CONFIG.value, _WORKDIR.value))
      return
    with console.reporting():  # a bar per phase on stderr, and the NLL's time estimate
      result = evaluate.evaluate_checkpoint(
        _WORKDIR.value,
        split=_SPLIT.value,
        config=_CONFIG.value,
        classifier_workdir=_CLASSIFIER.value,
        iw_samples=_IW_SAMPLES.value,
        iw_limit=_IW_LIMIT.value,
        recompute_batch_norm=_RECOMPUTE_BN.value,
        out_dir=_OUT.value,
      )
    print(reports.format_evaluation(result))  # every metric, then the headline table
  except Preempted as e:
    print(f"dvae: {e}", file=sys.stderr)
    sys.exit(PREEMPTED_EXIT_STATUS)
  except (ConfigError, DataError, CheckpointError, WorkdirError, train.NonFiniteError) as e:
    _print_traceback_if_verbose()
    _fail(str(e))
  except OSError as e:
    _print_traceback_if_verbose()
    _fail(_os_error_message(e))
  except KeyboardInterrupt:
    _print_traceback_if_verbose()
    print(
      f"dvae {command}: interrupted (Ctrl-C). Files already complete are kept; nothing was left half-written "
      "(eval_test.json, config.json and checkpoints are written whole or not at all).",
      file=sys.stderr,
    )
    sys.exit(INTERRUPTED_EXIT_STATUS)


def _refuse_other_commands_flags(command: str) -> None:
  """A flag of another command would be silently ignored: refuse it, naming this command's flags."""
  allowed = {*COMMANDS[command][2], *COMMON_FLAGS}
  ours = {name for entry in COMMANDS.values() for name in entry[2]}
  given = {name.split(".")[0] for name in flags.FLAGS if flags.FLAGS[name].present}
  foreign = sorted((given & ours) - allowed)
  if foreign:
    _fail(
      f"{', '.join('--' + name for name in foreign)}: not a flag of `dvae {command}`, which reads "
      f"{', '.join('--' + name for name in sorted(allowed))} (dvae {command} --help)."
    )


def _print_traceback_if_verbose() -> None:
  if _VERBOSE.value:
    traceback.print_exc()


def _initialize_distributed() -> None:
  import jax

  def setting(flag, variable: str, convert=str):
    value = flag.value if flag.value is not None else os.environ.get(variable)
    return None if value is None else convert(value)

  try:
    jax.distributed.initialize(
      coordinator_address=setting(_COORDINATOR, "JAX_COORDINATOR_ADDRESS"),
      num_processes=setting(_NUM_PROCESSES, "JAX_NUM_PROCESSES", int),
      process_id=setting(_PROCESS_ID, "JAX_PROCESS_ID", int),
    )
  except (ValueError, RuntimeError) as e:
    _fail(
      f"--distributed: could not join the other processes ({str(e).splitlines()[0]}). Give --coordinator_address "
      "HOST:PORT, --num_processes and --process_id (or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, "
      "$JAX_PROCESS_ID), or launch under a cluster manager jax detects (Slurm, Open MPI, TPU pods)."
    )
  logging.info(
    "Process %d of %d; devices: %d local, %d global.",
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )


def _check_repro() -> None:
  from dvae_jax import repro

  if _CONFIG.value is None:
    _fail(f"--config is required for `dvae check-repro`; usage: dvae check-repro {COMMANDS['check-repro'][1]}")
  workdir = pathlib.Path(_WORKDIR.value or tempfile.mkdtemp(prefix="dvae-check-repro-"))
  repro.use_compilation_cache(workdir / "xla_cache")
  report = repro.check_repro(
    _CONFIG.value, workdir, steps=_STEPS.value or repro.DEFAULT_STEPS, processes=_PROCESSES.value
  )
  print(repro.format_report(report))
  failed = [check["name"] for check in report["checks"] if not check["passed"]]
  if failed:
    _fail(f"reproducibility check(s) failed: {', '.join(failed)} (details in {report['json']}).")


def _figures(workdir: str) -> None:
  from dvae_jax import figures

  which = _WHICH.value or figures.FIGURES
  unknown = [name for name in which if name not in figures.FIGURES]
  if unknown:
    _fail(f"--which: unknown figure(s) {', '.join(unknown)}; expected some of {','.join(figures.FIGURES)}.")
  written, skipped = figures.make_run_figures(workdir, _OUT.value, which=which, split=_SPLIT.value)
  for path in written:
    print(path)
  if not written:
    reasons = " ".join(f"{name}: {reason}" for name, reason in skipped.items())
    _fail(f"no figure drawn: this run's model cannot draw {', '.join(skipped)} ({reasons})")
  for name, reason in skipped.items():
    print(f"dvae figures: skipped {name}: {reason}", file=sys.stderr)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parser, with config errors (a misspelt key, a bad override) as one clear paragraph."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    message = str(e)
    if "Traceback" in message:  # an error raised inside the config file: keep its last line
      head, trace = message.split("Traceback", 1)
      message = f"{head.strip()} {trace.strip().splitlines()[-1]}"
    _fail(message)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    # ml_collections reports a misspelt or wrongly typed override this way (the config is locked).
    cause = e.args[0] if e.args else e
    message = cause.args[0] if isinstance(cause, KeyError) and cause.args else str(cause)
    _fail(
      f"bad config override: no key {' '.join(str(message).split())} The config is locked, so only "
      "its existing keys can be set (each key and its meaning: dvae_jax/configs/base.py)."
    )
  except Exception as e:  # raised by the config file's own code while it was loaded
    if "--verbose" in argv:
      traceback.print_exc()
    path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    path = path or next((b for a, b in zip(argv, argv[1:], strict=False) if a == "--config"), "")
    _fail(f"loading the --config file {path} raised {type(e).__name__}: {e}")


def _underscore_flag(arg: str) -> str:
  """--classifier-workdir=x -> --classifier_workdir=x (flag names only; --config.* paths stay)."""
  if not arg.startswith("--") or arg.startswith("--config"):
    return arg
  name, sep, value = arg.partition("=")
  return "--" + name[2:].replace("-", "_") + sep + value


def _resolve_config(args: list[str]) -> list[str]:
  """`--config NAME[:variant]` with NAME an experiment's name (mnist_vae) becomes the path of its
  file (experiments/mnist_vae.py), which absl's config flag loads; an unknown name fails here,
  naming the files tried."""
  resolved = list(args)
  for i, arg in enumerate(resolved):
    if arg == "--config" and i + 1 < len(resolved):
      index, spec = i + 1, resolved[i + 1]
    elif arg.startswith("--config="):
      index, spec = i, arg.split("=", 1)[1]
    else:
      continue
    name, sep, variant = spec.partition(":")
    if pathlib.Path(name).is_file():
      continue
    from dvae_jax.configs.loader import resolve_experiment
    from dvae_jax.errors import ConfigError

    try:
      path = f"{resolve_experiment(name)}{sep}{variant}"
    except ConfigError as e:
      _fail(f"--config {spec}: {e}")
    resolved[index] = path if index == i + 1 else f"--config={path}"
  return resolved


def _command_or_exit(args: list[str]) -> str | int:
  """The command of `dvae ARGS`, or the exit status after printing help or an error."""
  if not args or args[0] in ("-h", "--help", "help"):
    print(usage(), file=sys.stdout if args else sys.stderr)
    return 0 if args else 2
  if args[0] not in COMMANDS:
    print(
      f"dvae: error: unknown command {args[0]!r}; expected one of {', '.join(COMMANDS)}.\n\n{usage()}", file=sys.stderr
    )
    return 2
  if any(arg in ("-h", "--help", "-help", "--helpfull") for arg in args[1:]):
    print(command_help(args[0]))
    return 0
  return args[0]


def run() -> None:
  """Console entry point: `dvae COMMAND [flags]`."""
  command = _command_or_exit(sys.argv[1:])
  if isinstance(command, int):
    sys.exit(command)
  from dvae_jax import workdir_lock  # the standard library only: --help stays fast

  workdir_lock.command_line = " ".join(["dvae", *sys.argv[1:]])
  sys.argv.pop(1)
  sys.argv = _resolve_config([_underscore_flag(arg) for arg in sys.argv])
  app.run(functools.partial(_main, command), flags_parser=_parse_flags)


def invoke(*args: str) -> int:
  """Runs `dvae ARGS...` in this process and returns its exit status, as the console command would
  (tests and notebooks; the flags of a previous call are forgotten first)."""
  command = _command_or_exit(list(args))
  if isinstance(command, int):
    return command
  # The config flag reads its --config.* overrides from sys.argv, and defines one flag per override.
  for name in [name for name in flags.FLAGS if name.startswith(f"{_CONFIG.name}.")]:
    delattr(flags.FLAGS, name)
  flags.FLAGS.unparse_flags()
  saved_argv, sys.argv = sys.argv, ["dvae", *(_underscore_flag(arg) for arg in args[1:])]
  try:
    sys.argv = _resolve_config(sys.argv)
    _main(command, _parse_flags(sys.argv))
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else 1
  finally:
    sys.argv = saved_argv
  return 0


if __name__ == "__main__":
  run()
