"""The DQN experiments end to end on tiny budgets: they train and evaluate; a run killed with SIGKILL
resumes to the returns of one run straight through (replay memory, ε, every generator, the
environment mid-episode); bad options and unknown games are clear errors; the figures are drawn."""
import json
import os
from pathlib import Path

import pytest

from tests.killing import assert_same_run, kill_after_checkpoint, milestones
from tests.killing import metric_rows as rows

ROOT = Path(__file__).resolve().parents[1]
MINATAR = ["train", "dqn/minatar-breakout", "--steps", "1800", "--replay-start", "200", "--replay-size", "1000",
           "--eval-every", "600", "--eval-episodes", "1", "--final-episodes", "2", "--epsilon-decay", "1000",
           "--checkpoint-every", "100"]


@pytest.fixture(scope="module")
def env():
    return dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, env):
    run_dir = tmp_path_factory.mktemp("clean") / "run"
    done = milestones([*MINATAR, "--run-dir", str(run_dir)], env)
    assert done.returncode == 0, done.stderr
    return run_dir


def test_a_killed_run_resumes_to_the_same_returns(uninterrupted, env, tmp_path):
    run_dir = tmp_path / "run"
    killed_at = kill_after_checkpoint(MINATAR, env, run_dir, at_least=700)
    assert 700 <= killed_at < 1800 and killed_at % 100 == 0  # mid-episode: the env's state came back too
    resumed = milestones(["train", "--resume", str(run_dir)], env)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, uninterrupted)


def test_the_figures_of_a_trained_agent(uninterrupted, env):
    done = milestones(["explain", str(uninterrupted), "--episodes", "1", "--points", "200"], env)
    assert done.returncode == 0, done.stderr
    tsne, gif = (uninterrupted / "plots" / name for name in ("tsne.png", "episode.gif"))
    assert tsne.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and tsne.stat().st_size > 10_000
    assert gif.read_bytes()[:6] == b"GIF89a"


@pytest.mark.parametrize("args, message", [
    (["train", "dqn/cartpole", "--env", "MinAtar/Pacman-v1"], "--env: unknown MinAtar game 'Pacman'"),
    (["train", "dqn/cartpole", "--env", "ALE/Pongg-v5"], "did you mean Pong?"),
    (["train", "dqn/cartpole", "--optimizer", "sgd"], "--optimizer: expected one of rmsprop-dm, rmsprop-centered, adam"),
    (["train", "dqn/cartpole", "--replay-start", "10", "--batch-size", "32"], "--replay-start (10) must be ≥"),
    (["train", "dqn/atari-pong", "--update", "fused"], "--update fused covers MinAtar and CartPole"),
    (["train", "dqn/cartpole", "--max-grad-norm", "10"], "use --update eager"),
])
def test_bad_options_are_clear_errors(env, args, message):
    done = milestones(args, env, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_list_says_how_much_memory_the_replay_takes(env):
    out = milestones(["list", "dqn/atari-pong"], env, timeout=120).stdout
    assert "replay 1,000,000 frames: 7.07 GB" in out


def test_cartpole_ends_when_solved_and_keeps_its_best_network(env, tmp_path):
    """Every CartPole episode lasts ≥ 8 steps, so `--solved-at 8` ends training at the first
    evaluation; the network kept is the one evaluated, as `evaluate` on the run shows."""
    done = milestones(["train", "dqn/cartpole", "--steps", "1500", "--replay-start", "200", "--eval-every", "500",
                       "--eval-episodes", "2", "--final-episodes", "3", "--solved-at", "8",
                       "--run-dir", str(tmp_path / "run")], env)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "run" / "result.json").read_text())["metrics"]
    assert metrics["episodes"] == 3 and metrics["steps_trained"] == 500 and metrics["best_step"] == 500
    assert [r["step"] for r in rows(tmp_path / "run")] == [500]
    again = milestones(["evaluate", str(tmp_path / "run")], env)
    assert again.returncode == 0, again.stderr
    assert f'"return": {metrics["return"]}' in again.stdout
