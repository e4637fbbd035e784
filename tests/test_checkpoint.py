"""Checkpoints carry a digest of their contents, checked whenever they are read: a damaged
checkpoint (bytes flipped in a chunk, a truncated chunk, a missing file, an edited meta record) is
never used; the error names what is wrong and the intact checkpoints, changes nothing, and following
its advice resumes. Readers (evaluation, figures) work on a read-only run and beside a training. A checkpoint that
recorded a network's old name is compatible with its new one."""

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from dvae_jax import main, train
from dvae_jax.checkpoint import Checkpointer, CorruptCheckpointError, load_host_state, state_digests
from dvae_jax.inference import restore_run
from dvae_jax.models import ARCHITECTURES
from tests.helpers import REPO

EPOCHS = 3  # 8 steps each: checkpoints 8, 16 and 24


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config):
  """A tiny VAE trained 3 epochs (a checkpoint each), and its config; tests damage copies of it."""
  config = tiny_config(family="vae", train__num_epochs=EPOCHS, data__validation_fraction=0.0)
  workdir = tmp_path_factory.mktemp("trained")
  train.train_and_evaluate(config, workdir)
  assert Checkpointer(workdir / "checkpoints").all_steps() == [8, 16, 24]
  return config, workdir


@pytest.fixture
def run_copy(trained, tmp_path):
  shutil.copytree(trained[1], tmp_path / "run")
  return tmp_path / "run"


def _largest_chunk(workdir: pathlib.Path, step: int = 24) -> pathlib.Path:
  chunks = [p for p in (workdir / "checkpoints" / str(step) / "state").rglob("d/*") if p.is_file()]
  return max(chunks, key=lambda p: p.stat().st_size)


def flip_bytes(workdir: pathlib.Path, step: int = 24, count: int = 64) -> None:
  """Bit rot: `count` bytes inverted in the middle of the checkpoint's largest array chunk."""
  chunk = _largest_chunk(workdir, step)
  data = bytearray(chunk.read_bytes())
  middle = len(data) // 2
  data[middle : middle + count] = bytes(b ^ 0xFF for b in data[middle : middle + count])
  chunk.write_bytes(bytes(data))


def _files(directory: pathlib.Path) -> dict[str, bytes]:
  return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _dvae(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
  """`dvae ARGS` in a fresh interpreter: what a user sees, tracebacks from background threads included."""
  env = {**os.environ, "PYTHONPATH": str(REPO)}
  code = "import sys; from dvae_jax import main; sys.exit(main.invoke(*sys.argv[1:]))"
  return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_digests_depend_on_values_not_on_sharding():
  mesh = jax.make_mesh((4,), ("data",))
  value = np.arange(32, dtype=np.float32).reshape(8, 4)
  sharded = jax.device_put(value, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data")))
  replicated = jax.device_put(value, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
  tree = {"a": value, "b": {"c": np.int32(3)}}
  assert state_digests({**tree, "a": sharded}) == state_digests({**tree, "a": replicated}) == state_digests(tree)
  assert state_digests({**tree, "a": value + 1e-7 * (value == 5)}) != state_digests(tree)  # one value, one ulp
  assert state_digests({**tree, "a": value.astype(np.float64)}) != state_digests(tree)  # the dtype counts


def test_intact_checkpoints_verify(trained):
  _, workdir = trained
  step, state = load_host_state(workdir / "checkpoints")  # restores and checks the digests
  checkpointer = Checkpointer(workdir / "checkpoints", read_only=True)
  assert step == 24 and [checkpointer.verify(s, state) for s in (8, 16, 24)] == [None, None, None]


def test_flipped_bytes_evaluate_exits_non_zero_without_numbers(run_copy, tmp_path):
  flip_bytes(run_copy)
  before = _files(run_copy)
  result = _dvae("evaluate", "--workdir", str(run_copy), "--iw_samples", "0", cwd=tmp_path)
  assert result.returncode == 1 and result.stdout == ""  # not one number printed
  assert result.stderr.startswith(f"dvae: error: The checkpoint at step 24 in {run_copy / 'checkpoints'} is corrupt")
  assert "differ from the digests written with them (" in result.stderr
  assert "Intact checkpoints (verified): 16, 8." in result.stderr
  assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
  assert _files(run_copy) == before and not (run_copy / "eval_test.json").exists()


def test_flipped_bytes_resume_refuses_naming_intact_steps_then_goes_on_as_told(run_copy, trained, tiny_config):
  config = tiny_config(family="vae", train__num_epochs=EPOCHS + 1, data__validation_fraction=0.0)
  flip_bytes(run_copy)
  before = _files(run_copy)
  with pytest.raises(CorruptCheckpointError) as refused:
    train.train_and_evaluate(config, run_copy)
  message = str(refused.value)
  assert "Intact checkpoints (verified): 16, 8." in message and "Nothing was changed or deleted." in message
  assert _files(run_copy) == before  # nothing trained, written or deleted; the evidence is kept
  command = message.split("`")[1]  # the exact command the message gives
  assert command == (
    f"mkdir -p {run_copy / 'corrupt_checkpoints'} && mv {run_copy / 'checkpoints' / '24'} "
    f"{run_copy / 'corrupt_checkpoints'}/"
  )
  subprocess.run(command, shell=True, check=True)
  train.train_and_evaluate(config, run_copy)  # resumes from step 16
  assert Checkpointer(run_copy / "checkpoints").all_steps() == [16, 24, 32]
  assert (run_copy / "corrupt_checkpoints" / "24").is_dir()


def test_truncated_chunk_is_named_without_tensorstore_first_or_traceback(run_copy, tmp_path):
  chunk = _largest_chunk(run_copy)
  chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
  result = _dvae("evaluate", "--workdir", str(run_copy), "--iw_samples", "0", cwd=tmp_path)
  assert result.returncode == 1 and result.stdout == ""
  first, _, rest = result.stderr.partition("Nothing was changed or deleted.")
  assert "an array of its state cannot be read: a data file in state/ is truncated or corrupt" in first
  assert "TensorStore" not in first and "TensorStore" in rest  # its words come last, in brackets
  assert "Intact checkpoints (verified): 16, 8." in first
  assert "Traceback" not in result.stderr and "Event loop is closed" not in result.stderr


def test_missing_manifest_is_a_missing_file_not_another_model(run_copy, tmp_path):
  (run_copy / "checkpoints" / "24" / "state" / "manifest.ocdbt").unlink()
  result = _dvae("evaluate", "--workdir", str(run_copy), "--iw_samples", "0", cwd=tmp_path)
  assert result.returncode == 1 and result.stdout == ""
  manifest = run_copy / "checkpoints" / "24" / "state" / "manifest.ocdbt"
  assert f"is corrupt and was not used: a file of its state is missing ({manifest})" in result.stderr
  assert "different" not in result.stderr and "does not match the model" not in result.stderr
  assert "Traceback" not in result.stderr and "Event loop is closed" not in result.stderr


def test_edited_meta_record_is_refused(run_copy):
  path = run_copy / "checkpoints" / "24" / "meta" / "metadata"
  meta = json.loads(path.read_text())
  meta["epoch"] = 7
  path.write_text(json.dumps(meta))
  with pytest.raises(CorruptCheckpointError, match="its meta record .* differs from the digest written with it"):
    restore_run(run_copy)


def test_checkpoint_without_digest_loads_with_a_note(run_copy, caplog):
  """A checkpoint written before digests existed: the same meta record without them."""
  for step in (8, 16, 24):
    path = run_copy / "checkpoints" / str(step) / "meta" / "metadata"
    meta = json.loads(path.read_text())
    del meta["digest"]
    path.write_text(json.dumps(meta))
  run = restore_run(run_copy)
  assert run.step == 24
  notes = [r.getMessage() for r in caplog.records if "cannot be verified" in r.getMessage()]
  assert notes == [
    f"The checkpoint at step 24 in {run_copy / 'checkpoints'} was written without content digests "
    "(by a dvae-jax before 0.2.0); it cannot be verified."
  ]


def test_nan_stop_calls_the_last_checkpoint_good_only_once_verified(run_copy, tiny_config):
  checkpointer = Checkpointer(run_copy / "checkpoints")
  _, state = load_host_state(run_copy / "checkpoints")
  checkpointer.restore(24, jax.tree.map(jax.numpy.asarray, state))
  assert "step 24) in W is kept and verified intact" in train._last_checkpoint(checkpointer, "W")
  flip_bytes(run_copy)
  said = train._last_checkpoint(checkpointer, "W")
  assert "step 24) in W is kept but fails its check" in said and "differ from the digests" in said


@contextlib.contextmanager
def read_only(directory: pathlib.Path):
  """`directory` and everything in it made unwritable: by permissions, or for root (who ignores
  them) with the immutable attribute."""
  if os.geteuid() != 0:
    modes = {p: p.stat().st_mode for p in [directory, *directory.rglob("*")]}
    for path in modes:
      path.chmod(modes[path] & ~0o222)
    undo = lambda: [path.chmod(mode) for path, mode in modes.items()]  # noqa: E731
  else:
    subprocess.run(["chattr", "-R", "+i", str(directory)], check=True)
    undo = lambda: subprocess.run(["chattr", "-R", "-i", str(directory)], check=True)  # noqa: E731
  try:
    with pytest.raises(OSError):
      (directory / "probe").touch()  # the fixture must really make it read-only
    yield
  finally:
    undo()


def test_a_read_only_run_is_evaluated_and_drawn_into_an_output_directory(run_copy, tmp_path, capsys):
  before = _files(run_copy)
  with read_only(run_copy):
    assert main.invoke("evaluate", "--workdir", str(run_copy), "--iw_samples", "0") == 1
    error = capsys.readouterr().err
    assert f"--workdir {run_copy} cannot be written" in error and "Pass --out DIR" in error
    out = tmp_path / "eval"
    assert main.invoke("evaluate", "--workdir", str(run_copy), "--iw_samples", "0", "--out", str(out)) == 0
    assert json.loads((out / "eval_test.json").read_text())["step"] == 24
    assert "test -ELBO" in capsys.readouterr().out
    assert main.invoke("figures", "--workdir", str(run_copy), "--which", "samples", "--out", str(tmp_path / "f")) == 0
    assert (tmp_path / "f" / "prior_samples.png").is_file()
  assert _files(run_copy) == before


HOLD = """
import sys, time
from dvae_jax.workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1], "training")
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_evaluation_beside_a_running_training_reads_its_latest_checkpoint(run_copy):
  """A process holding the lock stands for the training; the evaluation takes no lock and touches
  none of the trainer's files (checkpoints, metrics, config, TensorBoard training events)."""
  env = {**os.environ, "PYTHONPATH": str(REPO)}
  trainer = subprocess.Popen([sys.executable, "-c", HOLD, str(run_copy)], stdout=subprocess.PIPE, text=True, env=env)
  try:
    assert trainer.stdout.readline().strip() == "held"
    before = _files(run_copy)
    result = main.invoke("evaluate", "--workdir", str(run_copy), "--iw_samples", "0")
    assert result == 0 and json.loads((run_copy / "eval_test.json").read_text())["step"] == 24
    after = _files(run_copy)
    assert {name: data for name, data in after.items() if name in before} == before
    evaluation_files = ("eval_test.json", "test_reconstructions.png", "tb/test/")
    assert all(name.startswith(evaluation_files) for name in after.keys() - before.keys())
  finally:
    trainer.kill()
    trainer.wait()


def test_a_checkpoint_that_recorded_an_old_network_name_is_compatible(tmp_path):
  from dvae_jax.checkpoint import Checkpointer

  checkpointer = Checkpointer(tmp_path)
  checkpointer._read_meta = lambda step: {"identity": {"model.network.name": "reference_conv"}}
  expected = {"model.network.name": "dojoteef_conv"}
  assert checkpointer.check_compatible(1, expected, renamed=ARCHITECTURES.renamed)["identity"]
