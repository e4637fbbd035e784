"""The bad-input matrix of docs/reproducibility.md ("Bad input"): every row is a `dvae` command given one bad input.

Each must exit 1 with one paragraph on stderr naming what was expected, no traceback (unless
--verbose), and leave every existing checkpoint byte for byte as it was (hashed before and after).
The commands run in this process (`main.invoke`), on 4 fake CPU devices, from one trained run.
"""

import dataclasses
import errno
import gzip
import hashlib
import pathlib
import re
import shutil
from collections.abc import Callable

import numpy as np
import orbax.checkpoint as ocp
import pytest

from dvae_jax import main, workdir_lock
from dvae_jax.data import idx
from tests.helpers import REPO

SMOKE = ("--config", "experiments/mnist_vae.py:smoke")
# 256 images in batches of 32, 1 epoch: a checkpoint at step 8.
SHORT = ("--config.data.train_limit=256", "--config.train.num_epochs=1", "--config.train.grid_images=0")
STEP = 8


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data) -> pathlib.Path:
  """A finished smoke run (its checkpoint at step 8), copied for each row."""
  workdir = tmp_path_factory.mktemp("bad-input") / "run"
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("DVAE_DATA_DIR", str(shared_data))
    mp.chdir(REPO)
    assert main.invoke("train", *SMOKE, "--workdir", str(workdir), *SHORT) == 0
  assert (workdir / "checkpoints" / str(STEP)).is_dir()
  return workdir


def _hash(directory: pathlib.Path) -> str:
  """One digest of every file's relative path and bytes under `directory`."""
  digest = hashlib.sha256()
  for path in sorted(p for p in directory.rglob("*") if p.is_file()):
    digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
  return digest.hexdigest()


@dataclasses.dataclass
class Case:
  """What a row's setup hands the command: the workdir, the data dir, and extra arguments."""

  workdir: pathlib.Path
  data: pathlib.Path
  tmp: pathlib.Path
  monkeypatch: pytest.MonkeyPatch


@dataclasses.dataclass(frozen=True)
class Row:
  name: str  # the id the documented table names the row by
  setup: Callable[[Case], tuple[str, ...]]  # -> the command's arguments
  expected: str  # a regular expression the error paragraph must match


def _copy_mnist(case: Case) -> pathlib.Path:
  shutil.copytree(case.data / "mnist", case.tmp / "data" / "mnist")
  return case.tmp / "data" / "mnist"


def _train(case: Case, *args: str, data_dir: pathlib.Path | None = None) -> tuple[str, ...]:
  data = ("--config.data.dir", str(data_dir)) if data_dir else ()
  return ("train", *SMOKE, "--workdir", str(case.workdir), *SHORT, *data, *args)


def _with(*overrides: str) -> Callable[[Case], tuple[str, ...]]:
  """A row that only adds config overrides to the training command."""
  return lambda case: _train(case, *overrides)


def _with_config(name: str) -> Callable[[Case], tuple[str, ...]]:
  return lambda case: ("train", "--config", name, "--workdir", str(case.workdir), *SHORT)


def _missing_file(case):
  (_copy_mnist(case) / "train-images-idx3-ubyte.gz").unlink()
  return _train(case, "--config.data.download=False", data_dir=case.tmp / "data")


def _truncated_file(case):
  path = _copy_mnist(case) / "train-labels-idx1-ubyte.gz"
  path.write_bytes(path.read_bytes()[:1000])
  return _train(case, data_dir=case.tmp / "data")


def _corrupted_file(case):
  path = _copy_mnist(case) / "train-images-idx3-ubyte.gz"
  data = bytearray(path.read_bytes())
  data[5000] ^= 0xFF
  path.write_bytes(bytes(data))
  return _train(case, data_dir=case.tmp / "data")


def _wrong_checksum(case):
  # A well-formed IDX file of the right size, but not the official one: Fashion-MNIST's labels.
  directory = _copy_mnist(case)
  shutil.copy(case.data / "fashion_mnist" / "train-labels-idx1-ubyte.gz", directory / "train-labels-idx1-ubyte.gz")
  return _train(case, data_dir=case.tmp / "data")


def _rewrite_idx(case: Case, name: str, header: np.ndarray, body: bytes) -> tuple[str, ...]:
  """Replaces an MNIST file by a gzip IDX file of our own, with its sha256 pinned as if official, so
  that the parser's own checks run (the official checksum would catch it first otherwise)."""
  path = _copy_mnist(case) / name
  path.write_bytes(gzip.compress(header.astype(">u4").tobytes() + body))
  files = {**idx.IDX_FILES["mnist"], name: (path.stat().st_size, idx.sha256_file(path))}
  case.monkeypatch.setitem(idx.IDX_FILES, "mnist", files)
  return _train(case, data_dir=case.tmp / "data")


def _wrong_magic(case):
  return _rewrite_idx(case, "train-labels-idx1-ubyte.gz", np.array([2051, 3]), b"\0\1\2")


def _wrong_shape(case):
  return _rewrite_idx(case, "train-images-idx3-ubyte.gz", np.array([2051, 2, 27, 28]), bytes(2 * 27 * 28))


def _empty_data_dir(case):
  (case.tmp / "empty").mkdir()
  return _train(case, "--config.data.download=False", data_dir=case.tmp / "empty")


def _download_fails(case):
  # Offline, or a mirror that refuses: nothing listens on port 1 of the loopback.
  (case.tmp / "empty").mkdir()
  case.monkeypatch.setenv("DVAE_MNIST_MIRRORS", "http://127.0.0.1:1/")
  return _train(case, data_dir=case.tmp / "empty")


def _cifar_wrong_size(case):
  directory = case.tmp / "data" / "cifar10"
  directory.mkdir(parents=True)
  record = bytes(1 + 3 * 32 * 32)
  for name in [f"data_batch_{b}.bin" for b in range(1, 6)] + ["test_batch.bin"]:
    (directory / name).write_bytes(record * 4)
  (directory / "data_batch_3.bin").write_bytes(record * 4 + b"\0" * 100)  # not a whole number of records
  return _train(case, "--config.data.name=cifar10", data_dir=case.tmp / "data")


def _key_not_read(case):
  # The DVAE's config turned into a VAE's: its DVAE-only keys would be silently ignored.
  dvae_smoke = ("--config", "experiments/mnist_dvae.py:smoke")
  return ("train", *dvae_smoke, "--workdir", str(case.workdir), *SHORT, "--config.model.family=vae")


def _config_file_raises(case):
  path = case.tmp / "broken.py"
  path.write_text("def get_config():\n  raise RuntimeError('no such experiment setting: depth=-3')\n")
  return ("train", "--config", str(path), "--workdir", str(case.workdir))


def _workdir_is_a_file(case):
  path = case.tmp / "a_file"
  path.write_text("not a directory\n")
  return ("train", *SMOKE, "--workdir", str(path), *SHORT)


def _workdir_in_use(case):
  # Another run's lock (held here through a second open file; tests/test_workdir_lock.py uses real processes).
  _HELD_LOCKS.append(workdir_lock.WorkdirLock(case.workdir, "training"))
  _HELD_LOCKS[-1].acquire()
  return _train(case, "--config.train.num_epochs=2")


_HELD_LOCKS: list = []


def _workdir_unwritable(case):
  # Simulated: these tests may run as root, whom file permissions do not stop.
  def refuse(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", str(case.workdir))

  case.monkeypatch.setattr("dvae_jax.workdir.tempfile.TemporaryFile", refuse)
  return _train(case)


def _disk_full(case):
  # Simulated: orbax's save fails as it would on a full disk, at the next checkpoint (step 16).
  def no_space(self, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

  case.monkeypatch.setattr(ocp.CheckpointManager, "save", no_space)
  return _train(case, "--config.train.num_epochs=2")


def _other_model(case):
  return _train(case, "--config.model.latent_dim=4")


def _corrupted_checkpoint(case):
  files = [p for p in (case.workdir / "checkpoints" / str(STEP) / "state").rglob("*") if p.is_file()]
  largest = max(files, key=lambda p: p.stat().st_size)
  largest.write_bytes(b"\0" * largest.stat().st_size)
  return _train(case, "--config.train.num_epochs=2")


def _corrupted_checkpoint_meta(case):
  (case.workdir / "checkpoints" / str(STEP) / "meta" / "metadata").write_text('{"step": 8, "identity": {')
  return _train(case, "--config.train.num_epochs=2")


def _largest_chunk(case) -> pathlib.Path:
  chunks = [p for p in (case.workdir / "checkpoints" / str(STEP) / "state").rglob("d/*") if p.is_file()]
  return max(chunks, key=lambda p: p.stat().st_size)


def _checkpoint_bytes_flipped(case):
  chunk = _largest_chunk(case)
  data = bytearray(chunk.read_bytes())
  data[len(data) // 2 : len(data) // 2 + 64] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 64])
  chunk.write_bytes(bytes(data))
  return ("evaluate", "--workdir", str(case.workdir), "--iw_samples=0")


def _checkpoint_chunk_truncated(case):
  chunk = _largest_chunk(case)
  chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
  return _train(case, "--config.train.num_epochs=2")


def _checkpoint_manifest_missing(case):
  (case.workdir / "checkpoints" / str(STEP) / "state" / "manifest.ocdbt").unlink()
  return ("evaluate", "--workdir", str(case.workdir), "--iw_samples=0")


def _evaluate_read_only_run(case):
  # Simulated (as root, permissions do not stop writes): tests/test_checkpoint.py makes a run truly read-only.
  case.monkeypatch.setattr("dvae_jax.workdir.os.access", lambda path, mode: False)
  return ("evaluate", "--workdir", str(case.workdir), "--iw_samples=0")


def _damaged_metrics(case):
  path = case.workdir / "metrics.jsonl"
  lines = path.read_text().splitlines()
  lines[0] = lines[0][: len(lines[0]) // 2]  # a torn line in the middle: not what a kill leaves
  path.write_text("\n".join(lines) + "\n")
  return _train(case, "--config.train.num_epochs=2")


def _evaluate_empty_workdir(case):
  (case.tmp / "empty").mkdir()
  return ("evaluate", "--workdir", str(case.tmp / "empty"))


def _classifier_not_a_classifier(case):
  return ("evaluate", "--workdir", str(case.workdir), "--classifier_workdir", str(case.workdir), "--iw_samples=0")


def _plot_missing_workdir(case):
  return ("plot", "--run", f"A={case.tmp / 'nowhere'}", "--out", str(case.tmp / "plots"))


def _non_finite_loss(case):
  return _train(case, "--config.train.num_epochs=2", "--config.optim.learning_rate=1e30")


ROWS = (
  Row("missing-data-file", _missing_file, r"MNIST files not found: train-images-idx3-ubyte.gz missing .*dvae data"),
  Row("truncated-data-file", _truncated_file, r"train-labels-idx1-ubyte.gz is truncated: expected sha256"),
  Row("corrupted-data-file", _corrupted_file, r"does not match the official file: expected sha256 .*download"),
  Row("wrong-checksum", _wrong_checksum, r"does not match the official file.*not the official mnist release"),
  Row("wrong-magic", _wrong_magic, r"expected an IDX file with magic 2049, found magic 2051"),
  Row("wrong-shape", _wrong_shape, r"expected 2 images of 28x28 .* found 27x28"),
  Row("empty-data-dir", _empty_data_dir, r"MNIST files not found: .* missing from .*empty"),
  Row("download-fails", _download_fails, r"downloading them failed. If you have them, point \$DVAE_DATA_DIR or --conf"),
  Row("cifar-wrong-size", _cifar_wrong_size, r"data_batch_3.bin is truncated or corrupt: .*whole 3073-byte records"),
  Row("misspelt-key", _with("--config.train.num_epoch=2"), r'Did you mean "num_epochs"'),
  Row(
    "misspelt-experiment",
    lambda case: ("train", "--config", "mnist_vea:smoke", "--workdir", str(case.workdir)),
    r"no experiment config 'mnist_vea'.* Did you mean 'mnist_vae'",
  ),
  Row("misspelt-variant", _with_config("experiments/mnist_vae.py:smok"), r"'smok'.*did you mean 'smoke'"),
  Row("wrongly-typed-value", _with("--config.train.batch_size=big"), r"batch_size.*big"),
  Row("unknown-choice", _with("--config.model.family=gan"), r"unknown family 'gan'; expected one of"),
  Row("key-not-read", _key_not_read, r"config.model has a key \['share_encoder'\] that VAEConfig does not read"),
  Row("out-of-range-value", _with("--config.model.network.bn_momentum=1.5"), r"bn_momentum=1.5 is not valid"),
  Row("negative-learning-rate", _with("--config.optim.learning_rate=-0.001"), r"=-0.001 is not valid; expected a pos"),
  Row("batch-not-divisible", _with("--config.train.batch_size=30"), r"batch_size=30 must be divisible by the 4 dev"),
  Row("zero-epochs", _with("--config.train.num_epochs=0"), r"num_epochs=0 is not valid; expected a positive number"),
  Row("config-file-raises", _config_file_raises, r"broken.py.*RuntimeError: no such experiment setting: depth=-3"),
  Row("workdir-is-a-file", _workdir_is_a_file, r"a_file is a file; expected a directory"),
  Row("workdir-in-use", _workdir_in_use, r"run is in use: training by pid \d+ on host .*, started .*; wait for it"),
  Row("workdir-unwritable", _workdir_unwritable, r"cannot be written \(Permission denied\); expected a directory"),
  Row(
    "disk-full-during-save",
    _disk_full,
    r"checkpoint of step 16 .* failed: No space left on device. The disk is full.*latest complete one is step 8",
  ),
  Row("checkpoint-of-another-model", _other_model, r"written by a different experiment.*model.latent_dim"),
  Row("corrupted-checkpoint-file", _corrupted_checkpoint, r"checkpoint at step 8 .*(corrupt|cannot be read)"),
  Row("corrupted-checkpoint-meta", _corrupted_checkpoint_meta, r"checkpoint at step 8 .* cannot be read"),
  Row(
    "checkpoint-bytes-flipped",
    _checkpoint_bytes_flipped,
    r"step 8 .* is corrupt and was not used: 1 of its \d+ arrays differ from the digests written with them",
  ),
  Row("checkpoint-chunk-truncated", _checkpoint_chunk_truncated, r"a data file in state/ is truncated or corrupt"),
  Row(
    "checkpoint-manifest-missing", _checkpoint_manifest_missing, r"a file of its state is missing \(.*manifest.ocdbt\)"
  ),
  Row("damaged-metrics-file", _damaged_metrics, r"metrics.jsonl, line 1, is not a metrics record"),
  Row("evaluate-empty-workdir", _evaluate_empty_workdir, r"config.json not found: is .* a workdir written by"),
  Row(
    "evaluate-read-only-run", _evaluate_read_only_run, r"cannot be written .* the run itself is only read. Pass --out"
  ),
  Row("classifier-not-a-classifier", _classifier_not_a_classifier, r"holds a 'vae' run, not a classifier; expected"),
  Row(
    "negative-importance-samples",
    lambda case: ("evaluate", "--workdir", str(case.workdir), "--iw_samples=-1"),
    r"flag --iw_samples=-1: -1 is not a non-negative integer",
  ),
  Row(
    "negative-recompute-batches",
    lambda case: ("evaluate", "--workdir", str(case.workdir), "--recompute_batch_norm=-5"),
    r"--recompute_batch_norm=-5: -5 is not a non-negative integer",
  ),
  Row(
    "flag-of-another-command", _with("--which=scatter"), r"--which: not a flag of `dvae train`, which reads --config"
  ),
  Row("plot-missing-workdir", _plot_missing_workdir, r"nowhere is not a workdir written by `dvae train`"),
  Row("non-finite-loss", _non_finite_loss, r"'loss' is not finite at step \d+ .*checkpoint \(step 8\).* is kept"),
)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_input_fails_cleanly_and_keeps_checkpoints(row, trained, shared_data, tmp_path, monkeypatch, capsys):
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  monkeypatch.chdir(REPO)
  args = row.setup(Case(workdir, shared_data, tmp_path, monkeypatch))
  before = _hash(workdir / "checkpoints")
  capsys.readouterr()
  status = main.invoke(*args)
  stderr = capsys.readouterr().err
  assert status == 1, stderr
  (paragraph,) = [line for line in stderr.splitlines() if line.startswith("dvae: error: ")]  # a line of its own
  assert re.search(row.expected, paragraph), paragraph
  assert "Traceback" not in stderr
  assert _hash(workdir / "checkpoints") == before


def test_verbose_adds_the_traceback(trained, tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(REPO)
  status = main.invoke("evaluate", "--workdir", str(tmp_path), "--verbose")
  stderr = capsys.readouterr().err
  assert status == 1 and "Traceback" in stderr and "dvae: error: " in stderr


def test_a_killed_write_leaves_a_last_line_that_resuming_drops(trained, shared_data, tmp_path, monkeypatch):
  """Not an error: a kill in the middle of an append leaves an unfinished last line, which a resume drops."""
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  path = workdir / "metrics.jsonl"
  whole = path.read_text()
  path.write_text(whole + '{"step": 9, "split": "tr')
  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  monkeypatch.chdir(REPO)
  assert main.invoke(*_train(Case(workdir, shared_data, tmp_path, monkeypatch), "--config.train.num_epochs=2")) == 0
  assert path.read_text().startswith(whole) and '"split": "tr\n' not in path.read_text()


def test_the_documented_table_lists_every_row():
  document = (REPO / "docs" / "reproducibility.md").read_text()
  table = document.split("## Bad input", 1)[1].split("\n## ", 1)[0]
  assert re.findall(r"^\| `([a-z-]+)` \|", table, re.M) == [row.name for row in ROWS]
