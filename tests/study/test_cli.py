"""study/cli.py: the `dvae study` command's help and flags."""

from dvae_jax import main

QUICK = "smoke:quick"  # experiments/studies/smoke.py with one seed: runs vae seed 0, dvae seed 0


def test_study_help_and_flags_of_another_subcommand(capsys):
  assert main.invoke("study", "--help") == 0
  assert "--launcher" in capsys.readouterr().out
  assert main.invoke("study", "report", QUICK, "--jobs", "2") == 1
  assert "--jobs: not a flag of `dvae study report`" in capsys.readouterr().err
  assert main.invoke("study", "run", QUICK, "--partition", "gpu") == 1
  assert "--partition: only with --launcher slurm" in capsys.readouterr().err
  assert main.invoke("study", "walk", QUICK) == 1
  assert main.invoke("train", "--jobs", "2") == 1  # a study flag is refused by the other commands
