"""A run killed mid-training (SIGKILL, or stopped with Ctrl-C / SIGTERM) and resumed from its last
checkpoint ends with exactly the metrics of an uninterrupted run; and the same seed gives the same
metrics on CPU."""
import json
import signal
import subprocess
import sys
import time

import pytest

from milestones.checkpoint import CheckpointError, load_checkpoint

TINY = ["train", "rnn/adding-t100/lstm", "--length", "20", "--hidden-size", "8", "--batch-size", "8",
        "--steps", "1500", "--eval-every", "25", "--checkpoint-every", "50", "--test-size", "64"]


def milestones(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "milestones", "--no-progress", *args], env=env,
                          capture_output=True, text=True, timeout=300, **kw)


def rows(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(l).items() if k != "time_s"} for l in lines]


def checkpoint_step(run_dir):
    try:
        return load_checkpoint(run_dir / "checkpoints" / "last.safetensors")[1]["step"]
    except (CheckpointError, FileNotFoundError):
        return 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    import os
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run_dir = tmp_path_factory.mktemp("clean") / "run"
    done = milestones([*TINY, "--run-dir", str(run_dir)], env)
    assert done.returncode == 0, done.stderr
    return run_dir, env


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_and_resumed_run_matches_uninterrupted_run(uninterrupted, tmp_path, sig):
    clean, env = uninterrupted
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "milestones", "--no-progress", *TINY,
                             "--run-dir", str(run_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while checkpoint_step(run_dir) < 200 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    killed_at = checkpoint_step(run_dir)
    assert not (run_dir / "result.json").exists(), "the run finished before it could be interrupted"
    assert 200 <= killed_at < 1500
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "resume with: milestones train --resume" in err
    resumed = milestones(["train", "--resume", str(run_dir)], env)
    assert resumed.returncode == 0, resumed.stderr
    ours = json.loads((run_dir / "result.json").read_text())
    want = json.loads((clean / "result.json").read_text())
    assert ours["metrics"] == want["metrics"]
    assert rows(run_dir) == rows(clean)  # the log, too, as if nothing had happened


def test_same_seed_same_metrics_and_other_seed_differs(uninterrupted, tmp_path):
    clean, env = uninterrupted
    again = milestones([*TINY, "--steps", "100", "--run-dir", str(tmp_path / "a")], env)
    same = milestones([*TINY, "--steps", "100", "--run-dir", str(tmp_path / "b")], env)
    other = milestones([*TINY, "--steps", "100", "--seed", "1", "--run-dir", str(tmp_path / "c")], env)
    assert again.returncode == same.returncode == other.returncode == 0
    assert rows(tmp_path / "a") == rows(tmp_path / "b")
    assert rows(tmp_path / "a") == rows(clean)[: len(rows(tmp_path / "a"))]
    assert rows(tmp_path / "a") != rows(tmp_path / "c")


def test_resume_refuses_a_different_architecture(uninterrupted, tmp_path):
    clean, env = uninterrupted
    import shutil
    run_dir = tmp_path / "copy"
    shutil.copytree(clean, run_dir)
    bad = milestones(["train", "--resume", str(run_dir), "--hidden-size", "16"], env)
    assert bad.returncode == 2
    assert "different architecture; hidden_size: checkpoint 8, now 16" in bad.stderr


def test_resume_refuses_a_planted_pickle(uninterrupted, tmp_path):
    import shutil

    import torch
    clean, env = uninterrupted
    run_dir = tmp_path / "copy"
    shutil.copytree(clean, run_dir)
    marker = tmp_path / "pwned"
    from tests.test_checkpoint import Exploit
    torch.save(Exploit(marker), tmp_path / "evil.pt")
    (run_dir / "checkpoints" / "last.safetensors").write_bytes((tmp_path / "evil.pt").read_bytes())
    bad = milestones(["train", "--resume", str(run_dir)], env)
    assert bad.returncode == 2 and "refusing to load it" in bad.stderr
    assert not marker.exists()


def test_trainings_started_in_the_same_second_get_their_own_run_directories(tmp_path):
    """Two chains of runs started at once once wrote into one directory (the name is the second it
    was made in): `milestones train` reserves its directory."""
    script = ("import sys; from milestones.runs import new_run_dir; "
              "print(new_run_dir('entnet/babi-10k-paper', 0, sys.argv[1], reserve=True))")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    dirs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert len(set(dirs)) == 6 and all(p.returncode == 0 for p in procs)
    assert sorted(p.name for p in (tmp_path / "entnet__babi-10k-paper").iterdir()) == sorted(
        d.rsplit("/", 1)[1] for d in dirs)
