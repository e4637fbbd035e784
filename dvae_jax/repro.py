"""`dvae check-repro`: the training loop's reproducibility promises, checked on a user's own config.

Each check trains short runs of the config (its data, model and optimizer; `data.train_limit` set so
that one epoch is `steps` steps, metrics logged at every step) with the one training loop:

  same_seed           two runs from scratch (two builds)  -> bitwise equal final state and metrics
  resume              stopped at a random (seeded) step as a preemption stops it, then rerun
                      (a fresh build)                      -> bitwise equal to the uninterrupted run
  devices             1 device vs all local devices       -> the first logged loss within LOSS_TOLERANCE, and
                                                             per parameter group within the Adam step bound
  steps_per_dispatch  1 vs DISPATCH_STEPS steps per call  -> likewise
  processes           (with `processes` N > 1, CPU only) this process vs N local processes of
                      `dvae train --distributed` joined on 127.0.0.1, each with as many CPU devices
                      as this one                         -> likewise

The last two are not bitwise by design: a batch sharded over devices is summed in another order,
and a lax.scan body is compiled apart from the single-step program (experiment.py). Their differences
start at float32 rounding, and Adam, which divides each gradient entry by its own running scale,
turns rounding-level differences in near-zero gradient entries into full-size updates of up to
the learning rate per step. So the parameters of two such runs can differ by as much as any two
Adam runs from the same initialization: each entry moves by about the learning rate per step at
most, and the tolerance is that bound, PARAM_TOLERANCE_FACTOR x the sum of the learning rates
over the run, on each group's largest |difference| (reported also relative to the group's largest
magnitude). It catches a run that diverges or starts elsewhere, not a subtle error. The sharp check
is the first logged training loss (the first window's mean, weighted by steps), computed from the
same initial parameters: it agrees to float32 rounding, while another batch (a wrong shard, data
order or key) moves it by about the batch-to-batch variation, 1e-3 or more.

GPU reductions (atomics) are not deterministic unless XLA is told so: `set_xla_flags` adds
`--xla_gpu_deterministic_ops=true` to XLA_FLAGS before jax starts a backend. XLA's CPU kernels are
deterministic; nothing is needed there.
"""

import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from dvae_jax import configs, local_processes, train
from dvae_jax.checkpoint import Checkpointer, load_host_state
from dvae_jax.experiment import Experiment, TrainState, build_experiment
from dvae_jax.metric_writer import reproducible_records
from dvae_jax.preemption import Preempted

DEFAULT_STEPS = 24
DISPATCH_STEPS = 4
# Largest |a - b| of each top-level parameter group, in units of the run's summed learning rate
# (see the module docstring). Measured on experiments/mnist_vae.py:smoke, 32 steps at 1e-3, 2 CPU
# devices: 0.012 (devices) and 0.0089 (steps_per_dispatch), i.e. 0.38 and 0.28 of the sum.
PARAM_TOLERANCE_FACTOR = 2.0
# Relative difference of the first logged window's training loss. Measured on
# experiments/mnist_vae.py:smoke: 0 (1 vs 4 devices, step 1) and 6.1e-8 (1 vs 4 steps per dispatch,
# steps 1-4); consecutive batches' losses there differ by 1.7e-3 to 2.7e-2.
LOSS_TOLERANCE = 1e-4
DEFAULT_CPU_DEVICES = 2
DETERMINISTIC_GPU_FLAG = "--xla_gpu_deterministic_ops=true"


def set_xla_flags(*, cpu_devices: int | None = None) -> None:
  """Before jax initializes a backend: deterministic GPU ops, and the host split into `cpu_devices`
  virtual devices (unless XLA_FLAGS already sets a count) so that a CPU-only machine still has
  devices to compare. The CPU split only matters where jax runs on the CPU."""
  flags = os.environ.get("XLA_FLAGS", "")
  if "xla_gpu_deterministic_ops" not in flags:
    flags += f" {DETERMINISTIC_GPU_FLAG}"
  if "xla_force_host_platform_device_count" not in flags:
    flags += f" --xla_force_host_platform_device_count={cpu_devices or DEFAULT_CPU_DEVICES}"
  os.environ["XLA_FLAGS"] = flags.strip()


def use_compilation_cache(directory: pathlib.Path) -> None:
  """A persistent XLA cache for the runs (unless one is configured): a run built again from the same
  config compiles the same program, and a hit loads it instead of compiling it (the same executable,
  so the same bits; trace-time randomness changes the program, so it still shows)."""
  if jax.config.jax_compilation_cache_dir is None:
    jax.config.update("jax_compilation_cache_dir", str(directory))


def platform_note() -> str:
  """What this platform needs for bitwise reproducibility, and whether it is set."""
  backend = jax.default_backend()
  if backend == "gpu":
    if "xla_gpu_deterministic_ops=true" in os.environ.get("XLA_FLAGS", ""):
      return f"GPU: XLA_FLAGS has {DETERMINISTIC_GPU_FLAG} (GPU reductions are otherwise not bitwise reproducible)."
    return (
      f"GPU: XLA_FLAGS lacks {DETERMINISTIC_GPU_FLAG}, and jax had started before it could be set: "
      "the bitwise checks may fail for that reason alone (`dvae check-repro` sets it)."
    )
  if backend == "cpu":
    return f"CPU ({len(jax.local_devices())} devices): XLA's CPU kernels are deterministic; no flag is needed."
  return f"{backend}: no determinism flag set."


@dataclasses.dataclass
class TrainedRun:
  """What a run leaves that must reproduce: its final train state and its metric records."""

  state: Any  # host TrainState
  records: list[dict]  # metrics.jsonl without the wall-clock entries
  valid: dict[str, float]


def short_config(config: ml_collections.ConfigDict, steps: int) -> ml_collections.ConfigDict:
  """`config` trained for `steps` steps (one epoch; several when `config.data.train_limit` leaves fewer
  per epoch, then the whole last epoch), logged at every step, evaluated on one batch, with no
  reconstruction grid and no profile (neither is part of what must reproduce)."""
  short = config.copy_and_resolve_references()
  with short.unlocked():
    batch = short.train.batch_size
    limit = short.data.train_limit
    short.data.train_limit = steps * batch if limit is None else min(limit, steps * batch)
    eval_limit, eval_batch = short.data.eval_limit, short.train.eval_batch_size
    short.data.eval_limit = eval_batch if eval_limit is None else min(eval_limit, eval_batch)
    short.train.num_epochs = -(-steps * batch // short.data.train_limit)  # ceil: full epochs of the limit
    short.train.log_every_steps = 1
    short.train.grid_images = 0
    short.train.profile_steps = 0
    short.train.progress_bar = False
  return short


def _variant(config: ml_collections.ConfigDict, **overrides) -> ml_collections.ConfigDict:
  variant = config.copy_and_resolve_references()
  with variant.unlocked():
    for path, value in overrides.items():
      section, _, key = path.rpartition(".")
      (variant[section] if section else variant)[key] = value
  return variant


def _train(
  config: ml_collections.ConfigDict,
  workdir: pathlib.Path,
  *,
  experiment: Experiment | None = None,
  stop_at_step: int | None = None,
  fresh: bool = True,
) -> TrainedRun | None:
  """Trains `config` in `workdir` (emptied first if `fresh`, else resumed); None when stopped at `stop_at_step`."""
  if fresh:
    shutil.rmtree(workdir, ignore_errors=True)
  experiment = experiment or build_experiment(config)
  try:
    valid = train.run_training(experiment, workdir, stop_at_step=stop_at_step)
  except Preempted:
    return None
  checkpointer = Checkpointer(workdir / "checkpoints")
  try:
    state = checkpointer.restore(checkpointer.latest_step(), experiment.init_state())
  finally:
    checkpointer.close()
  return TrainedRun(jax.device_get(state), reproducible_records(workdir), valid)


def bitwise_differences(a: TrainedRun, b: TrainedRun) -> dict[str, Any]:
  """How two runs differ bit for bit: differing state leaves (of how many), their largest absolute
  difference, and the first differing metric record."""
  paths_a, tree_a = jax.tree_util.tree_flatten_with_path(a.state)
  paths_b, tree_b = jax.tree_util.tree_flatten_with_path(b.state)
  if tree_a != tree_b:
    return {"structure_differs": True, "differing_leaves": None, "leaves": len(paths_a)}
  differing, largest = [], 0.0
  for (path, x), (_, y) in zip(paths_a, paths_b, strict=True):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
      differing.append(jax.tree_util.keystr(path))
      if x.shape == y.shape and np.issubdtype(x.dtype, np.number):
        largest = max(largest, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)), initial=0.0)))
  first_record = next(
    ({"index": i, "a": ra, "b": rb} for i, (ra, rb) in enumerate(zip(a.records, b.records, strict=False)) if ra != rb),
    None,
  )
  return {
    "differing_leaves": len(differing),
    "leaves": len(paths_a),
    "first_differing_leaves": differing[:5],
    "max_abs_difference": largest,
    "records": [len(a.records), len(b.records)],
    "first_differing_record": first_record,
    "valid_equal": a.valid == b.valid,
  }


def _bitwise_equal(differences: dict[str, Any]) -> bool:
  return (
    not differences.get("structure_differs")
    and differences["differing_leaves"] == 0
    and differences["first_differing_record"] is None
    and differences["records"][0] == differences["records"][1]
    and differences["valid_equal"]
  )


def group_differences(a: TrainedRun, b: TrainedRun) -> dict[str, dict[str, float]]:
  """Per top-level parameter group: the largest |a - b|, and that relative to the group's largest |a|."""
  out = {}
  for group in sorted(a.state.params):
    leaves_a = [np.asarray(x, np.float64) for x in jax.tree.leaves(a.state.params[group])]
    leaves_b = [np.asarray(x, np.float64) for x in jax.tree.leaves(b.state.params[group])]
    max_abs = max(float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(leaves_a, leaves_b, strict=True))
    scale = max(float(np.max(np.abs(x), initial=0.0)) for x in leaves_a)
    out[group] = {"max_abs": max_abs, "max_rel": max_abs / scale if scale else float(max_abs > 0)}
  return out


def _bitwise_check(name: str, expectation: str, a: TrainedRun | None, b: TrainedRun | None) -> dict[str, Any]:
  differences = bitwise_differences(a, b)
  passed = _bitwise_equal(differences)
  if passed:
    measured = f"identical: {differences['leaves']} state leaves, {differences['records'][0]} metric records"
  elif differences.get("structure_differs"):
    measured = "the final states have different tree structures"
  else:
    record = differences["first_differing_record"]
    at = f"; first differing metric record at step {record['a'].get('step')}" if record else ""
    measured = (
      f"{differences['differing_leaves']} of {differences['leaves']} state leaves differ "
      f"(max |diff| {differences['max_abs_difference']:.3g}){at}"
    )
  return {"name": name, "expectation": expectation, "measured": measured, "passed": passed, "details": differences}


def first_window_loss(a: TrainedRun, b: TrainedRun) -> tuple[int, float, float]:
  """(last step, loss of a, loss of b) over the first logged window of the coarser run: the mean
  training loss of steps 1..end, each record weighted by the steps it covers."""
  train_a, train_b = ([r for r in run.records if r["split"] == "train"] for run in (a, b))
  end = max(train_a[0]["step"], train_b[0]["step"])

  def mean(records: list[dict]) -> float:
    total, previous = 0.0, 0
    for record in records:
      if record["step"] > end:
        break
      total, previous = total + float(record["loss"]) * (record["step"] - previous), record["step"]
    return total / previous

  return end, mean(train_a), mean(train_b)


def _tolerance_check(
  name: str, expectation: str, a: TrainedRun, b: TrainedRun, *, param_tolerance: float
) -> dict[str, Any]:
  groups = group_differences(a, b)
  worst = max(groups, key=lambda g: groups[g]["max_abs"])
  end, loss_a, loss_b = first_window_loss(a, b)
  loss_rel = abs(loss_a - loss_b) / max(abs(loss_a), 1e-30)
  passed = all(d["max_abs"] <= param_tolerance for d in groups.values()) and loss_rel <= LOSS_TOLERANCE
  measured = (
    f"loss of steps 1-{end}: relative {loss_rel:.2g}; worst group {worst!r}: "
    f"max |diff| {groups[worst]['max_abs']:.2g} (relative {groups[worst]['max_rel']:.2g})"
  )
  details = {
    "params": groups,
    "param_tolerance": param_tolerance,
    "first_window": {"end_step": end, "loss": [loss_a, loss_b], "relative": loss_rel},
  }
  return {"name": name, "expectation": expectation, "measured": measured, "passed": passed, "details": details}


def _param_tolerance(experiment: Experiment, steps: int) -> float:
  return PARAM_TOLERANCE_FACTOR * sum(float(experiment.optimizer.schedule(step)) for step in range(steps))


def process_check(
  config: ml_collections.ConfigDict,
  runs_dir: pathlib.Path,
  *,
  processes: int,
  devices_per_process: int,
  reference: TrainedRun | None = None,
  experiment: Experiment | None = None,
  timeout: float = 1200,
) -> dict[str, Any]:
  """`config` (built as `experiment`, else built here) trained by this process (`reference`, else
  trained here) vs by `processes` local processes with `devices_per_process` CPU devices each
  (`dvae train --distributed`, joined on 127.0.0.1; their run is left in runs_dir/processes_N): a
  tolerance check like `devices`."""
  name = "processes"
  expectation = f"1 process vs {processes} x {devices_per_process} devices"
  if jax.default_backend() != "cpu":
    measured = f"not run: local processes are simulated on the CPU only (backend {jax.default_backend()})"
    return {"name": name, "expectation": expectation, "measured": measured, "passed": True, "details": {}}
  experiment = experiment or build_experiment(config)
  steps = experiment.steps_per_epoch * config.train.num_epochs
  tolerance = _param_tolerance(experiment, steps)
  expectation += f": loss rel <= {LOSS_TOLERANCE:g}, params |diff| <= {tolerance:.3g}"
  reference = reference or _train(config, runs_dir / "first", experiment=experiment)
  workdir = runs_dir / f"processes_{processes}"
  shutil.rmtree(workdir, ignore_errors=True)
  config_dir = runs_dir / "processes_config"
  config_dir.mkdir(parents=True, exist_ok=True)
  configs.write_config(config, config_dir)  # read back by the config file below
  config_file = config_dir / "config.py"
  config_file.write_text(
    f"from dvae_jax.configs import load_config\n\n\ndef get_config():\n  return load_config({str(config_dir)!r})\n"
  )
  results = local_processes.wait_for(
    local_processes.start_training_processes(
      config_file, workdir, processes=processes, devices_per_process=devices_per_process
    ),
    timeout=timeout,
  )
  failures = [f"process {i} exited {status}: {stderr[-500:]}" for i, (status, stderr) in enumerate(results) if status]
  if failures:
    return {"name": name, "expectation": expectation, "measured": failures[0], "passed": False, "details": {}}
  _, state = load_host_state(workdir / "checkpoints")
  records = reproducible_records(workdir)
  run = TrainedRun(TrainState(**state), records, {})
  check = _tolerance_check(name, expectation, reference, run, param_tolerance=tolerance)
  check["details"]["records"] = [len(reference.records), len(records)]
  check["details"]["workdir"] = str(workdir)
  if [(r["step"], r["split"]) for r in reference.records] != [(r["step"], r["split"]) for r in records]:
    check["passed"] = False
    check["measured"] += "; the metric records differ in steps or splits"
  return check


def check_repro(
  config: ml_collections.ConfigDict,
  workdir: str | pathlib.Path | None = None,
  *,
  steps: int = DEFAULT_STEPS,
  seed: int = 0,
  processes: int = 0,
) -> dict[str, Any]:
  """Runs the checks of the module docstring (`processes`: only when > 1); returns the report, also
  written to `workdir`/check_repro.json (workdir: a new temporary directory when None).

  `seed` picks the step at which the resume check stops the run.
  """
  started = time.perf_counter()
  workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="dvae-check-repro-"))
  runs_dir = workdir / "check_repro_runs"  # emptied run by run: nothing else in workdir is touched
  base = short_config(config, steps)
  experiment = build_experiment(base)
  steps = experiment.steps_per_epoch * base.train.num_epochs
  stop_step = int(np.random.default_rng(seed).integers(1, steps)) if steps > 1 else 1
  param_tolerance = _param_tolerance(experiment, steps)
  tolerances = f"loss rel <= {LOSS_TOLERANCE:g}, params |diff| <= {param_tolerance:.3g}"

  first = _train(base, runs_dir / "first", experiment=experiment)
  second = _train(base, runs_dir / "second")  # built again: trace-time randomness shows here
  _train(base, runs_dir / "resumed", experiment=experiment, stop_at_step=stop_step)
  resumed = _train(base, runs_dir / "resumed", fresh=False)  # built again, as a restarted process does
  checks = [
    _bitwise_check("same_seed", "bitwise equal final state and metrics", first, second),
    _bitwise_check(
      "resume", f"stopped at step {stop_step} and resumed: bitwise equal to the uninterrupted run", first, resumed
    ),
  ]

  devices = len(jax.local_devices())
  base_devices = base.num_devices or devices
  if devices > 1:
    runs = {base_devices: first}
    for count in {1, devices} - {base_devices}:
      runs[count] = _train(_variant(base, num_devices=count), runs_dir / f"devices_{count}")
    checks.append(
      _tolerance_check(
        "devices", f"1 vs {devices} devices: {tolerances}", runs[1], runs[devices], param_tolerance=param_tolerance
      )
    )
  else:
    checks.append(
      {
        "name": "devices",
        "expectation": "1 vs all local devices",
        "measured": "not run: 1 device visible",
        "passed": True,
        "details": {},
      }
    )
  base_dispatch = base.train.steps_per_dispatch
  other_dispatch = DISPATCH_STEPS if base_dispatch == 1 else 1
  dispatched = _train(_variant(base, **{"train.steps_per_dispatch": other_dispatch}), runs_dir / "dispatch")
  checks.append(
    _tolerance_check(
      "steps_per_dispatch",
      f"{base_dispatch} vs {other_dispatch} steps per dispatch: {tolerances}",
      first,
      dispatched,
      param_tolerance=param_tolerance,
    )
  )
  if processes > 1:
    checks.append(process_check(base, runs_dir, processes=processes, devices_per_process=devices, reference=first))
  report = {
    "steps": steps,
    "platform": platform_note(),
    "devices": devices,
    "param_tolerance": param_tolerance,
    "loss_tolerance": LOSS_TOLERANCE,
    "checks": checks,
    "seconds": time.perf_counter() - started,
    "json": str(workdir / "check_repro.json"),
  }
  (workdir / "check_repro.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
  return report


def _json_default(value: Any) -> Any:
  if isinstance(value, np.generic):
    return value.item()
  raise TypeError(f"not JSON serializable: {type(value).__name__}")


def format_report(report: dict[str, Any]) -> str:
  """The checks as a table: check, expectation, measured, result."""
  rows = [("check", "expectation", "measured", "result")]
  rows += [(c["name"], c["expectation"], c["measured"], "pass" if c["passed"] else "FAIL") for c in report["checks"]]
  widths = [max(len(row[i]) for row in rows) for i in range(4)]
  lines = [f"{report['platform']}", f"{report['steps']} steps per run; report: {report['json']}"]
  for i, row in enumerate(rows):
    lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if i == 0:
      lines.append("  ".join("-" * width for width in widths))
  lines.append(f"({report['seconds']:.0f} s)")
  return "\n".join(lines)
