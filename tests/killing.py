"""Helpers for the kill-and-resume tests: run `milestones` in a subprocess, SIGKILL a training once
it has checkpointed far enough, and compare a resumed run with one that ran straight through."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from milestones.checkpoint import CheckpointError, read_meta


def milestones(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "milestones", "--no-progress", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def metric_rows(run_dir: Path) -> list[dict]:
    """The run's logged rows without their wall times (`time_s`, and phases timed in `<phase>_ms`)."""
    return [{k: v for k, v in json.loads(line).items() if k != "time_s" and not k.endswith("_ms")}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def checkpoint_step(run_dir: Path) -> int:
    """The step of the run's last checkpoint (0 before the first)."""
    try:
        return read_meta(run_dir / "checkpoints" / "last.safetensors")["step"]
    except (CheckpointError, FileNotFoundError):
        return 0


def kill_after_checkpoint(train_args: list[str], env: dict[str, str], run_dir: Path, at_least: int,
                          timeout: float = 300) -> int:
    """Start `milestones train_args --run-dir run_dir`, SIGKILL it once its last checkpoint is at step
    ≥ `at_least`; returns that checkpoint's step (the run must not have finished)."""
    proc = subprocess.Popen([sys.executable, "-m", "milestones", "--no-progress", *train_args, "--run-dir",
                             str(run_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while checkpoint_step(run_dir) < at_least and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (run_dir / "result.json").exists(), "the run finished before it could be killed"
    return checkpoint_step(run_dir)


def assert_same_run(run_dir: Path, straight: Path) -> None:
    """The resumed run ended with the same metrics and logged the same rows as the straight one."""
    assert json.loads((run_dir / "result.json").read_text())["metrics"] == \
        json.loads((straight / "result.json").read_text())["metrics"]
    assert metric_rows(run_dir) == metric_rows(straight)
