"""The AlphaZero family end to end on tiny budgets: a run killed with SIGKILL and resumed ends with the
metrics and logged rows of one run straight through; `evaluate` on a run gives its final metrics;
the tic-tac-toe scores are those of perfect play for a perfect player and of no play otherwise;
`milestones play` takes a game typed in, refusing garbled and illegal moves; bad options are clear
errors."""
import json
import os

import numpy as np
import pytest

from milestones.families.alphazero.experiments import tictactoe_errors
from milestones.games import TicTacToe
from milestones.games.tictactoe import solve
from milestones.search import SearchConfig
from milestones.search.arena import SearchPlayer
from tests.killing import assert_same_run, kill_after_checkpoint, milestones

# Gumbel search under a playout cap, matches (previous network, Elo, rollouts) at iterations 2, 4, 5
TINY = ["train", "alphazero/tictactoe", "--iterations", "5", "--games", "4", "--simulations", "6",
        "--train-steps", "3", "--batch-size", "16", "--eval-every", "2", "--eval-simulations", "2",
        "--search", "gumbel", "--full-fraction", "0.5", "--fast-simulations", "2", "--match-pairs", "2",
        "--rollout-simulations", "4"]


@pytest.fixture(scope="module")
def env():
    return dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def straight(tmp_path_factory, env):
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    done = milestones([*TINY, "--run-dir", str(run_dir)], env)
    assert done.returncode == 0, done.stderr
    return run_dir


def test_a_killed_run_resumes_to_the_same_network(straight, env, tmp_path):
    run_dir = tmp_path / "run"
    killed_at = kill_after_checkpoint(TINY, env, run_dir, at_least=2)
    assert 2 <= killed_at < 5
    resumed = milestones(["train", "--resume", str(run_dir)], env)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, straight)
    logged = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "elo" in r] == [2, 4, 5]
    assert all(0 <= r["score_vs_previous"] <= 1 and 0 <= r["score_vs_mcts_rollouts"] <= 1 for r in logged if "elo" in r)


def test_evaluate_gives_the_final_metrics(straight, env):
    done = milestones(["evaluate", str(straight)], env)
    assert done.returncode == 0, done.stderr
    final = json.loads((straight / "result.json").read_text())["metrics"]
    again = json.loads(done.stdout)
    assert {k: again[k] for k in final} == final and again["iteration"] == 5


def test_tictactoe_scores_of_a_perfect_and_of_a_blind_player():
    game = TicTacToe()

    def perfect(positions):  # all its prior on the optimal moves, the exact value
        priors = np.zeros((len(positions), 9))
        for k, p in enumerate(positions):
            best = solve(p)
            for m in p.legal_moves():
                priors[k, m] = 1.0 if -solve(p.play(m)) == best else 1e-6
        return priors, np.array([solve(p) for p in positions])

    assert tictactoe_errors(game, perfect, SearchPlayer(perfect, SearchConfig(simulations=4))) == {
        "policy_error": 0.0, "search_error": 0.0, "vs_minimax_first": 0.0, "vs_minimax_second": 0.0}

    def first_legal(positions):  # always the lowest free cell, valued 0
        priors = np.zeros((len(positions), 9))
        for k, p in enumerate(positions):
            priors[k, p.legal_moves()[0]] = 1.0
        return priors, np.zeros(len(positions))

    blind = tictactoe_errors(game, first_legal, SearchPlayer(first_legal, SearchConfig(simulations=1)))
    assert blind["vs_minimax_first"] == -1.0 and blind["vs_minimax_second"] == -1.0
    assert 0.2 < blind["policy_error"] < 0.8


@pytest.mark.parametrize("args, message", [
    (["train", "alphazero/tictactoe", "--game", "chess"], "--game: expected one of tictactoe, connect4"),
    (["train", "alphazero/connect4", "--simulations", "0"], "--simulations"),
    (["train", "alphazero/connect4", "--inference", "fp8"], "--inference"),
])
def test_bad_options_are_clear_errors(env, args, message):
    done = milestones(args, env, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_play_in_the_terminal(straight, env):
    """A game typed in: garbage, an out-of-range number and a taken cell are refused and asked again."""
    import subprocess
    import sys
    typed = "hello\n12\n5\n5\n1\n2\n3\n4\n6\n7\n8\n9\n"
    done = subprocess.run([sys.executable, "-m", "milestones", "play", str(straight), "--simulations", "10"],
                          input=typed, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "'hello' is not a move: expected a cell 1-9, row by row" in out
    assert "'12' is not a move" in out
    assert "5 is not legal here: cell 4 is taken" in out
    assert out.count("agent plays") >= 3
    assert any(end in out for end in ("draw", "you win", "the agent wins", "game left unfinished"))
    wrong = subprocess.run([sys.executable, "-m", "milestones", "play", str(straight), "--simulations", "0"],
                           input="", env=env, capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "--simulations must be ≥ 1" in wrong.stderr


def test_missing_pons_sets_stop_a_connect4_run_before_self_play(env, tmp_path):
    run_dir = tmp_path / "run"
    done = milestones(["train", "alphazero/connect4", "--iterations", "1", "--run-dir", str(run_dir)],
                      dict(env, MILESTONES_DATA=str(tmp_path / "empty")))
    assert done.returncode != 0 and "data set 'connect4' not found" in done.stderr
    assert not (run_dir / "metrics.jsonl").exists() or not (run_dir / "metrics.jsonl").read_text()


def test_only_trained_alphazero_runs_are_loaded(tmp_path):
    from milestones.families.alphazero.play import load_trained
    other, fresh = tmp_path / "other", tmp_path / "fresh"
    for folder, name in ((other, "dqn/cartpole"), (fresh, "alphazero/tictactoe")):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"experiment": name, "config": {}}))
    with pytest.raises(ValueError, match="is a run of dqn/cartpole, not of an alphazero/ experiment"):
        load_trained(str(other))
    with pytest.raises(ValueError, match="has no checkpoint yet"):
        load_trained(str(fresh))
