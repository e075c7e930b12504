"""AlphaGo's rollout policy p_π (milestones.go.patterns, families/alphago/rollout_policy.py): the
pattern classes against Burnside's count and literal rotations of a 3×3 grid, the features on
drawn boards, the softmax against a float64 literal, the Gumbel sampler against the softmax, and
maximum likelihood recovering the weights of a known p_π from its own games."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from milestones import registry
from milestones.families.alphago import rollout_policy
from milestones.games.go import Go
from milestones.go.patterns import NEIGHBOURS, RolloutPolicy, feature_table, features, pattern_classes
from milestones.go.sgf import GameRecord, write_game
from milestones.runs import Run


def test_pattern_classes_are_the_orbits_of_the_squares_symmetries():
    classes, count = pattern_classes()
    # Burnside: (4⁸ + 2·4² + 4⁴ + 4·4⁵) / 8 orbits of 4 digits on the 8 cells around a point
    assert count == (4 ** 8 + 2 * 4 ** 2 + 4 ** 4 + 4 * 4 ** 5) // 8 == 8740
    rng = np.random.default_rng(0)
    for code in rng.integers(0, 4 ** 8, 200):
        grid = np.zeros((3, 3), np.int64)
        for k, (dr, dc) in enumerate(NEIGHBOURS):
            grid[1 + dr, 1 + dc] = (code // 4 ** k) % 4
        for flip in (False, True):
            for turns in range(4):
                g = np.rot90(grid[:, ::-1] if flip else grid, turns)
                other = sum(int(g[1 + dr, 1 + dc]) * 4 ** k for k, (dr, dc) in enumerate(NEIGHBOURS))
                assert classes[other] == classes[code]


def code_of(rows: list[str], r: int, c: int, own: str) -> int:
    """The pattern code of point (r, c) read off the drawn board by hand: 0 empty, 1 own, 2 opponent, 3 off."""
    n = len(rows)
    code = 0
    for k, (dr, dc) in enumerate(NEIGHBOURS):
        rr, cc = r + dr, c + dc
        ch = rows[rr][cc] if 0 <= rr < n and 0 <= cc < n else "#"
        digit = {".": 0, "#": 3}.get(ch, 1 if ch == own else 2)
        code += digit * 4 ** k
    return code


def test_features_on_a_drawn_board():
    rows = ["X O . . .",
            ". . . . .",
            ". . X X .",
            ". X O O X",
            ". . X . ."]
    go = Go(5)
    # White has just played (3, 3) beside its stone; Black to move
    position = go.from_ascii("\n".join(rows).replace("O O X", "O . X"), to_play=1).play(3 * 5 + 3)
    assert position.to_play == 0
    f = features(position)
    grid = [r.replace(" ", "") for r in rows]
    classes, _ = pattern_classes()
    by_move = {int(m): i for i, m in enumerate(f.moves)}
    assert set(by_move) == {r * 5 + c for r in range(5) for c in range(5) if grid[r][c] == "."}
    for m, i in by_move.items():
        assert f.pattern[i] == classes[code_of(grid, m // 5, m % 5, "X")]
    # next to the last move (3, 3): orthogonally (4, 3), diagonally (4, 4) and (2, 4)
    assert f.neighbour[by_move[4 * 5 + 3]] == 1 and f.neighbour[by_move[4 * 5 + 4]] == 2
    assert f.neighbour[by_move[2 * 5 + 4]] == 2 and f.neighbour[by_move[0 * 5 + 4]] == 0
    assert (f.neighbour > 0).sum() == 3
    # the white pair (3, 2)-(3, 3) has one liberty left, (4, 3): Black captures there
    assert {int(m) for m in f.moves[f.capture]} == {4 * 5 + 3}
    # Black's corner stone is in atari but does not touch the last move: no save-atari point
    assert not f.save.any()


def test_save_atari_marks_the_last_liberty_of_a_stone_the_last_move_touched():
    # White plays (4, 2): Black's (4, 1) keeps one liberty, (3, 1)
    position = Go(5).from_ascii(". . . . .\n. . . . .\n. . . . .\n. . . . .\nO X . . .", to_play=1).play(4 * 5 + 2)
    f = features(position)
    assert {int(m) for m in f.moves[f.save]} == {3 * 5 + 1}
    assert not f.capture.any()  # White's (4, 2) has two liberties; (4, 0) is in atari but not the last move's


def some_policy(seed: int) -> RolloutPolicy:
    rng = np.random.default_rng(seed)
    return RolloutPolicy(rng.normal(0, 1.5, pattern_classes()[1]), np.array([0.0, 1.0, 0.5]), 2.0, 3.0)


def middle_game(size: int = 5, moves: int = 8, seed: int = 3):
    rng, p = np.random.default_rng(seed), Go(size).initial()
    for _ in range(moves):
        p = p.play(p.random_move(rng))
    return p


def test_the_softmax_equals_a_float64_literal_over_the_playable_moves():
    policy = some_policy(1)
    position = middle_game()
    probs = policy.probabilities(position)
    classes, _ = pattern_classes()
    grid = [position_row(position, r) for r in range(5)]
    last = position.last_move
    expected = {}
    for m in position.legal_moves()[:-1]:
        if position.fills_own_eye(m):
            continue
        r, c = divmod(m, 5)
        logit = policy.pattern[classes[code_of(grid, r, c, "XO"[position.to_play])]]
        lr, lc = divmod(last, 5)
        if (abs(r - lr), abs(c - lc)) in ((0, 1), (1, 0)):
            logit += 1.0
        elif (abs(r - lr), abs(c - lc)) == (1, 1):
            logit += 0.5
        expected[m] = logit  # (no stone in atari here: checked below)
    assert not features(position).save.any() and not features(position).capture.any()
    z = np.array(list(expected.values()))
    want = np.zeros(26)
    want[list(expected)] = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(probs, want, rtol=1e-12, atol=1e-15)


def position_row(position, r: int) -> str:
    return "".join(".XO"[position.stone(r * position.game.size + c)] for c in range(position.game.size))


def test_gumbel_sampling_draws_from_the_softmax_even_when_the_best_point_is_illegal():
    # White to move; Black's eye at (0, 0) is suicide for White: the policy prefers that point's pattern most
    go = Go(5)
    position = go.from_ascii(". X . . .\nX . . . .\n. . . . .\n. . . . .\n. . . . .", to_play=1)
    f = features(position)
    eye = list(f.moves).index(0)
    pattern = np.zeros(pattern_classes()[1])
    pattern[f.pattern[eye]] = 6.0
    pattern[f.pattern[list(f.moves).index(12)]] = 1.0  # the centre a little likelier
    policy = RolloutPolicy(pattern, np.zeros(3), 0.0, 0.0)
    probs = policy.probabilities(position)
    assert probs[0] == 0.0 and abs(probs.sum() - 1) < 1e-12
    rng = np.random.default_rng(0)
    draws = np.bincount([policy.sample(position, rng) for _ in range(20_000)], minlength=26) / 20_000
    assert np.abs(draws - probs).max() < 0.01


def test_a_rollout_plays_legal_moves_to_the_end_and_scores_for_the_player_to_move():
    policy = some_policy(2)
    position = middle_game(seed=5)
    rng = np.random.default_rng(1)
    zs = [policy.rollout(position, rng) for _ in range(20)]
    assert set(zs) <= {-1.0, 0.0, 1.0} and {-1.0, 1.0} <= set(zs)
    # z is the end of the game p_π plays with the same generator, seen by the player to move at the start
    rng, p = np.random.default_rng(7), position
    while not p.is_terminal():
        move = policy.sample(p, rng)
        assert p.why_illegal(move) is None and not p.fills_own_eye(move)
        p = p.play(move)
    winner = p.winner()
    expected = 0.0 if winner is None else 1.0 if winner == position.to_play else -1.0
    assert policy.rollout(position, np.random.default_rng(7)) == expected


def expert_games(folder, policy: RolloutPolicy, games: int, size: int = 5, seed: int = 0) -> None:
    """Games of a known p_π against itself, as SGF files (no random opening)."""
    folder.mkdir(parents=True)
    rng, go = np.random.default_rng(seed), Go(size)
    for k in range(games):
        p, moves = go.initial(), []
        while not p.is_terminal():
            moves.append(policy.sample(p, rng))
            p = p.play(moves[-1])
        record = GameRecord(size=size, komi=7.0, moves=moves, result=p.result(), extra={"XR": "0"})
        (folder / f"game-{k:06d}.sgf").write_text(write_game(record))


def test_maximum_likelihood_recovers_a_known_rollout_policy(tmp_path, monkeypatch):
    truth = RolloutPolicy(np.random.default_rng(4).normal(0, 1.0, pattern_classes()[1]), np.array([0.0, 1.5, -1.0]),
                          2.0, 3.0)
    expert_games(tmp_path / "go5-known", truth, 300)
    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path))
    exp = registry.catalog()["alphago/rollout-9x9"]
    cfg = dataclasses.replace(exp.config_for("full"), data="go5-known", size=5, steps=400, eval_every=200,
                              lr=0.05, weight_decay=0.0, eval_games=0)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    metrics = exp.train(cfg, run)
    learned = rollout_policy.load_rollout_policy(str(run.dir))
    # the weights seen most often come back: the place beside the last move, capture and save atari
    assert learned.neighbour[1] - learned.neighbour[0] == pytest.approx(1.5, abs=0.35)
    assert learned.neighbour[2] - learned.neighbour[0] == pytest.approx(-1.0, abs=0.35)
    assert learned.capture == pytest.approx(3.0, abs=1.0) and learned.save == pytest.approx(2.0, abs=1.0)
    # and the held-out log-likelihood is near the true policy's own
    tables = rollout_policy.load_tables(cfg)
    model = rollout_policy.PatternSoftmax()
    with torch.no_grad():
        model.pattern.copy_(torch.from_numpy(truth.pattern))
        model.neighbour.copy_(torch.tensor([1.5, -1.0]))
        model.save.fill_(2.0)
        model.capture.fill_(3.0)
    best = rollout_policy.accuracy(model, tables["test"])["log_likelihood"]
    uniform = rollout_policy.accuracy(rollout_policy.PatternSoftmax(), tables["test"])["log_likelihood"]
    assert best - 0.25 < metrics["test_log_likelihood"] and uniform + 0.3 < metrics["test_log_likelihood"]


def test_the_features_table_leaves_out_passes_and_marks_the_candidates():
    position = middle_game()
    table = feature_table([(position, 12), (position, 25)], 5)
    assert len(table) == 1 and table.target.tolist() == [12]
    playable = [m for m in position.legal_moves()[:-1] if not position.fills_own_eye(m)]
    assert np.flatnonzero(table.candidate[0]).tolist() == playable


def test_the_search_player_rolls_out_with_a_trained_rollout_policy(tmp_path, monkeypatch):
    from milestones.families.alphago.commands import make_player
    from milestones.go.rollouts import RolloutEvaluator
    from tests.test_go_rl import trained_sl_run

    sl_run = trained_sl_run(tmp_path, monkeypatch)
    expert_games(tmp_path / "go5-known", some_policy(5), 40)
    exp = registry.catalog()["alphago/rollout-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), data="go5-known", size=5)
    run = Run.create(tmp_path / "rollout", exp, cfg, progress=False)
    run.finish(exp.train(cfg, run))
    # the report's row: our accuracy beside the paper's 24.2 %
    from milestones import results
    from milestones.families.alphago.report import networks_table

    record = results.from_runs([run.dir], registry.family_name_of)[0]
    row = [line for line in networks_table([record]).splitlines() if "p_π" in line]
    assert len(row) == 1 and f"| {record['summary_stats']['test_accuracy']['mean']:.3g} | 0.242 |" in row[0]
    player, _, _ = make_player(str(sl_run.dir), simulations=8, seed=0, rollout_run=str(run.dir))
    rollouts = player.evaluator.rollouts
    learned = rollout_policy.load_rollout_policy(str(run.dir))
    assert np.array_equal(rollouts.policy.pattern, learned.pattern) and player.evaluator.lam == 1.0
    position = middle_game(seed=6)
    _, z = RolloutEvaluator(26, np.random.default_rng(3), learned)([position])
    assert z[0] == learned.rollout(position, np.random.default_rng(3))
    with pytest.raises(ValueError, match="not of alphago/rollout"):
        make_player(str(sl_run.dir), simulations=8, seed=0, rollout_run=str(sl_run.dir))
