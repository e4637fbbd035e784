"""What a study's runs recorded, against what the study file asks for now.

A run's workdir records what it ran: config.json (the config `dvae train` last started with) and
eval_test.json (the step and epoch `dvae evaluate` restored, and its importance sampling). `check`
compares them with the run the study file asks for:

  identity    configs.identity: the model, the data and its preprocessing, the seed, the batch size
  training    train.num_epochs, and every key the run's group overrides (but the eval.* ones)
  evaluation  the epoch evaluated is the end of the recorded training; iw_samples and iw_num_examples
              are what the group's eval.iw_samples and eval.iw_limit (else the experiment's) give

`dvae study run` refuses a changed identity before anything starts, and names the finished runs that
differ otherwise instead of counting them as done; `dvae study report` writes no report while a
finished run differs, and prints the settings of each group from its runs' records. A run without a
config.json was not written by `dvae train`: nothing it ran is recorded, and the report says so.
"""

import dataclasses
import json
import pathlib
import shlex
from typing import Any

from dvae_jax import configs
from dvae_jax.reports.files import read_json
from dvae_jax.study.spec import StudyRun

# The training length: a run trained for another number of epochs is another result.
TRAINING_KEYS = ("train.num_epochs",)
EVALUATED_EPOCH = "eval_test.json epoch"


@dataclasses.dataclass(frozen=True)
class Difference:
  """A setting that a run recorded otherwise than the study asks: `kind` "identity", "training" or "evaluation"."""

  key: str
  recorded: Any
  asked: Any
  kind: str

  def __str__(self) -> str:
    return f"{self.key} {self.recorded!r} -> {self.asked!r}"


@dataclasses.dataclass(frozen=True)
class Recorded:
  """A run's records and how they differ from the study.

  Attributes:
    run: the run.
    config: its config.json as plain JSON (on today's defaults for keys it lacks); None without one.
    evaluation: its eval_test.json; None when not evaluated.
    differences: recorded -> asked, of the checks the records allow (none without a config.json).
  """

  run: StudyRun
  config: dict[str, Any] | None
  evaluation: dict[str, Any] | None
  differences: tuple[Difference, ...] = ()

  def of_kind(self, kind: str) -> list[Difference]:
    return [d for d in self.differences if d.kind == kind]

  @property
  def remedy(self) -> tuple[str, pathlib.Path]:
    """(what to do, the path to move aside): its eval_test.json where training can go on from the checkpoint
    (only train.num_epochs raised) or the run need only be evaluated again, else the whole workdir."""
    workdir = self.run.workdir
    training = self.of_kind("training")
    raised = all(d.key in TRAINING_KEYS and _less(d.recorded, d.asked) for d in training)
    beyond = any(d.key == EVALUATED_EPOCH and not _less(d.recorded, d.asked) for d in self.differences)
    if self.of_kind("identity") or not raised or beyond:
      return "train it anew", workdir
    if training:
      return "train on from its checkpoint", workdir / "eval_test.json"
    return "evaluate it again", workdir / "eval_test.json"

  def fix(self) -> str:
    """`to WHAT: mv PATH PATH.old`: how to redo the run (then `dvae study run` again)."""
    what, path = self.remedy
    return f"to {what}: {shlex.join(['mv', str(path), f'{path}.old'])}"

  def describe(self) -> str:
    """`name (workdir: differences; to WHAT: mv ...)`, the run's entry in a message."""
    return f"{self.run.name} ({self.run.workdir}: {'; '.join(map(str, self.differences))}; {self.fix()})"


def _less(first: Any, second: Any) -> bool:
  return isinstance(first, int | float) and isinstance(second, int | float) and first < second


def requested_config(run: StudyRun):
  """The locked, validated config that `dvae train` will build from the run's command line."""
  config = configs.load_experiment(run.experiment)
  config.lock()
  for key, value in {**run.overrides, "seed": run.seed}.items():
    try:
      config.update_from_flattened_dict({key: value})
    except (KeyError, TypeError, ValueError, AttributeError) as e:
      detail = str(e.args[0] if isinstance(e, KeyError) and e.args else e).strip().splitlines()[-1]
      raise configs.ConfigError(f"run {run.name}: override {key}={value!r}: {detail}") from None
  try:
    configs.validate(config)
  except configs.ConfigError as e:
    raise configs.ConfigError(f"run {run.name} ({run.experiment}): {e}") from None
  return config


def plain(config) -> dict[str, Any]:
  """A ConfigDict as JSON reads it back (tuples as lists), so that a requested and a recorded value compare."""
  return json.loads(config.to_json_best_effort())


def setting(config: dict[str, Any], key: str) -> Any:
  """The value of dotted `key` in a plain config (None where it has none)."""
  value = config
  for part in key.split("."):
    value = value.get(part) if isinstance(value, dict) else None
  return value


# Keys whose value is a path: the same folder whether the study named it relative to where it ran or absolutely.
PATH_KEYS = ("init_workdir", "data.path", "data.dir")


def _resolved(identity: dict[str, Any]) -> dict[str, Any]:
  return {
    key: str(pathlib.Path(value).resolve()) if key in PATH_KEYS and isinstance(value, str) else value
    for key, value in identity.items()
  }


def read_evaluation(run: StudyRun) -> dict[str, Any] | None:
  """The run's eval_test.json, None if it has none (not finished)."""
  path = run.workdir / "eval_test.json"
  if not path.exists():
    return None
  return read_json(path, f"the test metrics of `dvae evaluate --workdir {run.workdir}`")


def check(run: StudyRun, requested: dict[str, Any] | None = None) -> Recorded:
  """The run's records (config.json, eval_test.json) with how they differ from the study's request.

  Args:
    run: a run of the study.
    requested: `plain(requested_config(run))`, if already built (built here when needed).
  """
  evaluation = read_evaluation(run)
  if not (run.workdir / "config.json").exists():
    return Recorded(run, None, evaluation)
  recorded = plain(configs.load_config(run.workdir))
  requested = plain(requested_config(run)) if requested is None else requested
  found, wanted = _resolved(configs.identity(recorded)), _resolved(configs.identity(requested))
  differences = [
    Difference(key, found.get(key), wanted.get(key), "identity")
    for key in sorted(set(found) | set(wanted))
    if found.get(key) != wanted.get(key)
  ]
  for key in dict.fromkeys([*TRAINING_KEYS, *run.training_overrides]):
    if key not in found and setting(recorded, key) != setting(requested, key):
      differences.append(Difference(key, setting(recorded, key), setting(requested, key), "training"))
  if evaluation is not None:
    differences += _evaluation_differences(run, recorded, requested, evaluation)
  return Recorded(run, recorded, evaluation, tuple(differences))


def _evaluation_differences(run: StudyRun, recorded: dict, requested: dict, evaluation: dict) -> list[Difference]:
  """The evaluated epoch against the end of the recorded training, and the importance sampling against the
  requested config's (the run's eval.* overrides on the experiment's); a key eval_test.json lacks is not compared."""
  differences = []
  epochs = setting(recorded, "train.num_epochs")
  if "epoch" in evaluation and evaluation["epoch"] != epochs:
    differences.append(Difference(EVALUATED_EPOCH, evaluation["epoch"], epochs, "evaluation"))
  samples = setting(requested, "eval.iw_samples")
  if "iw_samples" in evaluation and evaluation["iw_samples"] != samples:
    differences.append(Difference("eval_test.json iw_samples", evaluation["iw_samples"], samples, "evaluation"))
  if "iw_num_examples" in evaluation and "num_examples" in evaluation:
    limit = setting(requested, "eval.iw_limit")
    images = evaluation["num_examples"] if not limit else min(limit, evaluation["num_examples"])
    if evaluation["iw_num_examples"] != images:
      differences.append(
        Difference("eval_test.json iw_num_examples", evaluation["iw_num_examples"], images, "evaluation")
      )
  return differences
