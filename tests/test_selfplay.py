"""Self-play records replayed move by move: every move legal, every example's planes those of the
position it was taken in, π the search's visit distribution (zero on illegal moves), z the final
outcome seen from that position's player; the games' searches share evaluator calls; with perfect
values (tic-tac-toe solved) greedy self-play draws; augmentation moves planes and π together."""

import numpy as np
import pytest

from milestones.games import Connect4, TicTacToe
from milestones.games.tictactoe import solve
from milestones.search import SearchConfig
from milestones.search.selfplay import Example, RandomOpening, augment, play_games


def uniform_counting(num_moves, calls):
    def evaluate(positions):
        calls.append(len(positions))
        return np.ones((len(positions), num_moves)), np.zeros(len(positions))
    return evaluate


def test_records_replay_to_their_outcomes():
    for game in (TicTacToe(), Connect4()):
        calls = []
        records = play_games(game, uniform_counting(game.num_moves, calls), SearchConfig(simulations=16), games=6,
                             rng=np.random.default_rng(0), temperature_moves=4)
        assert len(records) == 6 and max(calls) == 6  # the six games' leaves in one call
        for record in records:
            p = game.initial()
            assert len(record.examples) == len(record.moves)
            for move, example in zip(record.moves, record.examples):
                np.testing.assert_array_equal(example.planes, p.planes())
                legal = np.zeros(game.num_moves, bool)
                legal[p.legal_moves()] = True
                assert abs(example.pi.sum() - 1) < 1e-12
                assert (example.pi[~legal] == 0).all()
                assert example.z == (record.outcome if p.to_play == 0 else -record.outcome)
                p = p.play(move)
            assert p.is_terminal()
            assert record.outcome == (p.terminal_value() if p.to_play == 0 else -p.terminal_value())


def test_perfect_values_make_greedy_self_play_draw():
    game = TicTacToe()

    def perfect(positions):  # uniform priors, the exact minimax value
        return np.ones((len(positions), 9)), np.array([solve(p) for p in positions])
    records = play_games(game, perfect, SearchConfig(simulations=60), games=4, rng=np.random.default_rng(1),
                         temperature_moves=0)
    assert [r.outcome for r in records] == [0.0] * 4


def test_augmentation_moves_planes_and_policy_together():
    game = TicTacToe()
    p = game.from_moves([0, 4, 1])  # X on 0 and 1, O on 4; O to move and must take 2
    pi = np.zeros(9)
    pi[2] = 1.0
    images = augment(game, Example(p.planes(), pi, -0.5))
    assert len(images) == 8 and all(e.z == -0.5 for e in images)
    np.testing.assert_array_equal(images[0].planes, p.planes())
    for image in images:  # the move to block is where the image's two X stones leave their gap
        threat = image.planes[1].reshape(-1)
        target = int(np.argmax(image.pi))
        lines = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]
        assert any(target in line and sum(threat[c] for c in line) == 2 for line in lines)
    c4 = Connect4()
    q = c4.from_moves([0, 0, 1])
    pi7 = np.arange(7) / 21
    mirrored = augment(c4, Example(q.planes(), pi7, 1.0))[1]
    np.testing.assert_array_equal(mirrored.planes, c4.from_moves([6, 6, 5]).planes())
    np.testing.assert_array_equal(mirrored.pi, pi7[::-1])


def test_random_openings_are_played_unsearched_and_not_recorded():
    game, calls = TicTacToe(), []
    opening = RandomOpening(fraction=0.5, max_moves=3)
    records = play_games(game, uniform_counting(9, calls), SearchConfig(simulations=8), games=40,
                         rng=np.random.default_rng(0), temperature_moves=2, opening=opening)
    unrecorded = [len(r.moves) - len(r.examples) for r in records]
    assert set(unrecorded) == {0, 1, 2, 3} and 8 < sum(u > 0 for u in unrecorded) < 32  # about half the games
    for record, skip in zip(records, unrecorded):  # the examples are those of the moves after the opening
        p = game.from_moves(record.moves[:skip])
        for move, example in zip(record.moves[skip:], record.examples):
            np.testing.assert_array_equal(example.planes, p.planes())
            assert example.z == (record.outcome if p.to_play == 0 else -record.outcome)
            p = p.play(move)
        assert p.is_terminal()
    # the opening's moves are the generator's draws, uniform over the moves that do not end the game
    rng = np.random.default_rng(5)
    first = [RandomOpening(1.0, 1).play(game.initial(), rng)[0] for _ in range(900)]
    assert np.bincount(first, minlength=9).min() > 70
    nearly_won = game.from_moves([0, 3, 1, 4])  # X to move wins with 2: never drawn
    drawn = {m for _ in range(200) for m in RandomOpening(1.0, 1).play(nearly_won, rng)}
    assert drawn == {5, 6, 7, 8}


def test_without_an_opening_the_games_and_the_generator_are_as_before():
    game = Connect4()
    a = play_games(game, uniform_counting(7, []), SearchConfig(simulations=4), 3, np.random.default_rng(2), 4)
    b = play_games(game, uniform_counting(7, []), SearchConfig(simulations=4), 3, np.random.default_rng(2), 4,
                   opening=None)
    assert [r.moves for r in a] == [r.moves for r in b]
    with pytest.raises(ValueError, match="fraction"):
        RandomOpening(0.0, 2)
    with pytest.raises(ValueError, match="max_moves"):
        RandomOpening(0.5, 0)
