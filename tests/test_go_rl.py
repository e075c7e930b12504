"""Policy self-play and the RL policy network: games side by side that are legal, sensible and
reproducible, moves drawn with the policy's probabilities, the REINFORCE loss against a literal
float64 computation, and the recipe stopped by Ctrl-C and resumed to the same numbers."""
from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
import pytest
import torch

from milestones import registry
from milestones.families.alphago import experiments
from milestones.games.go import PLANES, Go
from milestones.go.selfplay import play_games, sample_moves, sensible_mask
from milestones.nn.go_policy import PolicyCNN
from milestones.runs import Run, RunStopped


def small_policy(seed=0, size=5):
    torch.manual_seed(seed)
    return PolicyCNN(PLANES, size, layers=2, filters=4).eval()


def test_games_side_by_side_are_legal_sensible_finished_and_reproducible():
    go = Go(5, komi=0.5)
    black, white = small_policy(0), small_policy(1)
    games = play_games(go, black, white, 6, np.random.default_rng(0))
    again = play_games(go, black, white, 6, np.random.default_rng(0))
    assert [g.moves for g in games] == [g.moves for g in again]
    for g in games:
        position = go.initial()
        for before, move in zip(g.positions, g.moves):
            assert before.key() == position.key()
            assert move in position.legal_moves() and not position.fills_own_eye(move)
            position = position.play(move)
        assert position.is_terminal() and g.winner == position.winner() and g.final.key() == position.key()


def test_moves_are_drawn_with_the_policys_probabilities_over_the_sensible_moves():
    go = Go(5)
    position = go.from_ascii("""
        X X X . .
        X . X . .
        X X X . .
        . . . . .
        . . . . .""")
    logits = torch.linspace(-1, 1, 26)

    def fixed(planes):
        return logits.expand(len(planes), 26)

    draws = sample_moves(fixed, [position] * 6000, np.random.default_rng(0))
    mask = sensible_mask([position], 26)[0]
    assert not mask[6]  # B4 is Black's own eye
    p = np.where(mask, np.exp(logits.numpy().astype(np.float64)), 0.0)
    p /= p.sum()
    counts = np.bincount(draws, minlength=26)
    assert counts[~mask].sum() == 0
    expected = 6000 * p[mask]
    assert np.all(np.abs(counts[mask] - expected) < 5 * np.sqrt(expected))


def test_the_reinforce_loss_equals_a_literal_float64_computation():
    go = Go(5, komi=0.5)
    net = small_policy(2)
    games = play_games(go, net, small_policy(3), 3, np.random.default_rng(1))
    loss = experiments.reinforce_loss(net, games, colour=0)
    literal = 0.0
    with torch.no_grad():
        for g in games:
            z = 0.0 if g.winner is None else (1.0 if g.winner == 0 else -1.0)
            for position, move in zip(g.positions, g.moves):
                if position.to_play != 0:
                    continue
                logits = net(torch.from_numpy(position.planes()[None])).double().numpy()[0]
                allowed = [m for m in position.legal_moves() if not position.fills_own_eye(m)]
                log_z = np.log(sum(np.exp(logits[m]) for m in allowed))
                literal -= z * (logits[move] - log_z)
    assert loss.item() == pytest.approx(literal / len(games), rel=1e-5, abs=1e-6)


def trained_sl_run(tmp_path, monkeypatch) -> Run:
    """A quick alphago/sl-policy run on 24 random 5×5 games (5×5 keeps the games short)."""
    from tests.test_go_policy import random_games

    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path))
    random_games(tmp_path / "go5-test", 24, size=5)
    exp = registry.catalog()["alphago/sl-policy-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), data="go5-test", size=5, steps=4, eval_every=4)
    run = Run.create(tmp_path / "sl", exp, cfg, progress=False)
    exp.train(cfg, run)
    return run


def test_the_rl_recipe_stops_and_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    sl_run = trained_sl_run(tmp_path, monkeypatch)
    catalog = registry.catalog()
    exp = catalog["alphago/rl-policy-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), sl_run=str(sl_run.dir), iterations=3, checkpoint_every=1)
    straight = exp.train(cfg, Run.create(tmp_path / "a", exp, cfg, progress=False))
    assert 0.0 <= straight["win_rate_vs_sl"] <= 1.0

    real, calls = experiments.rl_iteration, {"n": 0}

    def then_stop(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(experiments, "rl_iteration", then_stop)
    stopped = Run.create(tmp_path / "b", exp, cfg, progress=False)
    with pytest.raises(RunStopped, match="stopped at step 2"):
        exp.train(cfg, stopped)
    monkeypatch.setattr(experiments, "rl_iteration", real)
    resumed = exp.train(cfg, Run(tmp_path / "b", exp, cfg, progress=False))
    assert resumed == straight

    def logged(path):
        return [{k: v for k, v in row.items() if k != "time_s"}
                for row in Run(path, exp, cfg, progress=False).metrics()]

    assert logged(tmp_path / "b") == logged(tmp_path / "a")
    with pytest.raises(Exception, match="--sl-run"):
        exp.train(dataclasses.replace(cfg, sl_run=""), Run.create(tmp_path / "c", exp, cfg, progress=False))


def test_value_positions_follow_the_papers_recipe():
    from milestones.go.selfplay import value_positions

    go = Go(5, komi=0.5)
    sl, rl = small_policy(4), small_policy(5)
    rng = np.random.default_rng(0)
    positions, z = value_positions(go, sl, rl, 12, rng, max_u=6)
    assert len(positions) == 12 and set(z.tolist()) <= {-1.0, 0.0, 1.0}
    u = np.random.default_rng(0).integers(1, 7, 12)  # the same first draw: U per game
    for position, u_i in zip(positions, u):
        assert position.moves_played == u_i or position.is_terminal()
    again, z_again = value_positions(go, sl, rl, 12, np.random.default_rng(0), max_u=6)
    assert [p.key() for p in again] == [p.key() for p in positions] and np.array_equal(z, z_again)


def test_the_value_recipe_generates_resumable_chunks_and_trains(tmp_path, monkeypatch):
    sl_run = trained_sl_run(tmp_path, monkeypatch)
    catalog = registry.catalog()
    exp = catalog["alphago/value-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), sl_run=str(sl_run.dir))
    run = Run.create(tmp_path / "v", exp, cfg, progress=False)
    result = exp.train(cfg, run)
    chunks = sorted(p.name for p in (run.dir / "value_data").iterdir())
    assert chunks == [f"chunk-{k:05d}.npz" for k in range(6)]  # 48 positions in chunks of 8, no temporary left
    assert result["positions"] == 48 and 0 <= result["test_mse"] <= 4
    first = np.load(run.dir / "value_data" / "chunk-00003.npz")["z"]
    (run.dir / "value_data" / "chunk-00003.npz").unlink()  # as if stopped before that chunk was written
    experiments.generate_value_data(cfg, run, 5, *[experiments.load_policy(str(sl_run.dir))[1]] * 2)
    assert np.array_equal(np.load(run.dir / "value_data" / "chunk-00003.npz")["z"], first)
    assert exp.evaluate(cfg, run)["test_mse"] == pytest.approx(result["test_mse"])
    # the search with the policy as prior and the value network mixed with rollouts, as `milestones gtp` builds it
    from milestones.families.alphago.commands import make_player

    player, name, size = make_player(str(sl_run.dir), simulations=8, seed=0, value_run=str(run.dir), lam=0.5)
    assert name == "milestones-search-4" and size == 5 and player.evaluator.lam == 0.5
    move = player.genmove(Go(5).initial(), seconds=10.0)
    assert move in Go(5).initial().legal_moves() and player.last_simulations == 8
    with pytest.raises(ValueError, match="not of alphago/value"):
        make_player(str(sl_run.dir), simulations=8, seed=0, value_run=str(sl_run.dir))
