"""Go players: rollouts score what they reach, the policy player never fills its own eye, the search
keeps to its time and finds a winning capture, and a trained run plays through `milestones gtp`."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import numpy as np

from milestones import registry
from milestones.games.go import Go
from milestones.go.players import PolicyNetPlayer, SearchGoPlayer
from milestones.go.rollouts import RolloutEvaluator, random_rollout
from milestones.runs import Run
from milestones.search.evaluators import MixedEvaluator
from milestones.search.mcts import SearchConfig

SETTLED = """
    X X X X X
    X . X . X
    X X X X X
    . X . X .
    X X X X X"""


def test_a_rollout_scores_the_game_it_plays_out_for_the_player_to_move():
    go = Go(5, komi=0.5)
    rng = np.random.default_rng(0)
    # Black owns the board: White's only moves are suicides, so both pass and Black wins by 25 − 0.5
    assert random_rollout(go.from_ascii(SETTLED, to_play=1), rng) == -1.0
    assert random_rollout(go.from_ascii(SETTLED, to_play=0), rng) == 1.0
    # from the empty 2×2 board with komi 0, random play has few endings; each scored from Black's view
    tiny = Go(2, komi=0.0)
    outcomes = {random_rollout(tiny.initial(), rng) for _ in range(50)}
    assert outcomes <= {-1.0, 0.0, 1.0} and len(outcomes) >= 2
    priors, values = RolloutEvaluator(26, rng)([go.from_ascii(SETTLED, to_play=1)])
    assert priors.shape == (1, 26) and values.tolist() == [-1.0]


def test_the_policy_player_takes_its_most_likely_sensible_move():
    go = Go(5)
    position = go.from_ascii(SETTLED, to_play=0)

    def peaked(positions):
        priors = np.full((1, 26), 0.01)
        priors[0, 6] = 0.9  # B4: an own eye
        priors[0, 25] = 0.05  # the pass
        return priors, np.zeros(1)

    assert PolicyNetPlayer(peaked).genmove(position, 1.0) == 25  # not the eye: the pass


def test_the_search_keeps_to_its_time_and_finds_the_winning_capture():
    go = Go(5, komi=0.5)
    # a race: Black's eleven stones and White's four on the right share their one liberty, E1;
    # Black to move captures there, anything else lets White capture first
    position = go.from_ascii("""
        X X X X O
        O O O X O
        . . O X O
        O O O X O
        X X X X .""", to_play=0)
    e1 = go.geometry.parse_gtp("E1")
    assert position.legal_moves() == [go.geometry.parse_gtp(v) for v in ("A3", "B3", "E1", "pass")]

    def uniform(positions):
        return np.full((len(positions), 26), 1 / 26), np.zeros(len(positions))

    rollouts = MixedEvaluator(uniform, RolloutEvaluator(26, np.random.default_rng(0)), lam=1.0)
    player = SearchGoPlayer(rollouts, SearchConfig(c_puct=1.0), max_simulations=400)
    assert player.genmove(position, seconds=30.0) == e1
    assert player.last_simulations == 400

    def slow(positions):
        time.sleep(0.01)
        return uniform(positions)

    timed = SearchGoPlayer(slow, SearchConfig(), max_simulations=10_000, chunk=4)
    start = time.perf_counter()
    timed.genmove(go.initial(), seconds=0.3)
    assert time.perf_counter() - start < 0.3 and 4 <= timed.last_simulations < 30


def test_a_trained_run_plays_through_gtp(tmp_path, monkeypatch):
    from tests.test_go_policy import random_games

    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path))
    random_games(tmp_path / "go5-test", 24, size=5)
    exp = registry.catalog()["alphago/sl-policy-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), data="go5-test", size=5, steps=4, eval_every=4)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    for extra in ([], ["--simulations", "8"]):
        out = subprocess.run([sys.executable, "-m", "milestones", "gtp", str(run.dir), *extra], text=True,
                             capture_output=True, timeout=120,
                             input="name\nboardsize 9\nboardsize 5\nplay b C3\ngenmove w\nshowboard\nquit\n")
        answers = out.stdout.split("\n\n")
        assert answers[0] == ("= milestones-policy-4" if not extra else "= milestones-search-4")
        assert answers[1] == "? unacceptable size"
        vertex = answers[4][2:]
        assert vertex == "pass" or Go(5).geometry.parse_gtp(vertex) != Go(5).geometry.parse_gtp("C3")
    bad = subprocess.run([sys.executable, "-m", "milestones", "gtp", str(tmp_path)], text=True, capture_output=True,
                         input="quit\n")
    assert bad.returncode != 0 and "config.json" in bad.stderr, bad.stderr


def test_a_player_passes_only_to_end_a_game_it_wins_or_with_nothing_sensible_left():
    from milestones.go.players import may_pass

    go = Go(5, komi=0.5)

    def pass_please(positions):  # a policy that always wants to pass, values indifferent
        priors = np.full((len(positions), 26), 0.01)
        priors[:, 25] = 0.75
        return priors, np.zeros(len(positions))

    ahead = go.from_ascii("""
        . X . . .
        X X . . .
        . . . . .
        . . . . .
        . . . . .""", to_play=0)  # Black counts 3 stones + A5 against White's komi: ahead, nobody passed
    assert not may_pass(ahead) and not may_pass(go.initial())
    white_passed = go.from_ascii("""
        . X . . .
        X X . . .
        . . . . .
        . . . . .
        . . . . .""", to_play=1).play(go.pass_move)
    assert white_passed.to_play == 0 and white_passed.passes == 1 and white_passed.winner() == 0
    assert may_pass(white_passed)
    black_passed = go.initial().play(go.pass_move)  # White leads by the komi as the board stands: may end it
    assert may_pass(black_passed)
    behind = white_passed.play(go.geometry.parse_gtp("E1"))  # Black plays on: White to move, behind, no pass pending
    assert behind.to_play == 1 and behind.passes == 0 and not may_pass(behind)
    search = SearchGoPlayer(pass_please, SearchConfig(c_puct=5.0), max_simulations=64)
    for player in (PolicyNetPlayer(pass_please), search):
        assert player.genmove(ahead, 1.0) != go.pass_move  # passing first would let White end the game
        assert player.genmove(go.initial(), 1.0) != go.pass_move
        assert player.genmove(white_passed, 1.0) == go.pass_move  # ends the game, won
        assert player.genmove(black_passed, 1.0) == go.pass_move
        assert player.genmove(go.from_ascii(SETTLED, to_play=0), 1.0) == go.pass_move  # only own eyes left
