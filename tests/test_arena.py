"""Matches between players: perfect play never loses and draws itself, colours and openings are
paired (swapping the players swaps the result), scores become Elo as the formula says, and the
search players find forced wins."""
import math

import numpy as np
import pytest

from milestones.games import TicTacToe
from milestones.games.tictactoe import parse, solve
from milestones.search.arena import MatchResult, PolicyPlayer, SearchPlayer, elo_difference, play_match, random_opening
from milestones.search.evaluators import uniform
from milestones.search.gumbel import GumbelConfig
from milestones.search.mcts import SearchConfig


def perfect(positions):
    """Minimax's move (the lowest of the best) at each position."""
    return [max(p.legal_moves(), key=lambda m: (-solve(p.play(m)), -m)) for p in positions]


def random_player(seed):
    rng = np.random.default_rng(seed)
    return lambda positions: [p.legal_moves()[int(rng.integers(len(p.legal_moves())))] for p in positions]


def test_perfect_play_never_loses_and_draws_itself():
    game = TicTacToe()
    against_random = play_match(game, perfect, random_player(0), 30, np.random.default_rng(0), opening_moves=0)
    assert against_random.losses == 0 and against_random.wins > 30 and against_random.games == 60
    itself = play_match(game, perfect, perfect, 10, np.random.default_rng(1), opening_moves=0)
    assert itself == MatchResult(0, 20, 0) and itself.score == 0.5


def test_swapping_the_players_swaps_the_result():
    game = TicTacToe()
    ab = play_match(game, perfect, PolicyPlayer(uniform(9)), 20, np.random.default_rng(3))
    ba = play_match(game, PolicyPlayer(uniform(9)), perfect, 20, np.random.default_rng(3))
    assert (ab.wins, ab.draws, ab.losses) == (ba.losses, ba.draws, ba.wins)
    assert ab.wins > 5 * ab.losses  # losses only where a random opening already lost the position


def test_openings_are_random_and_unfinished():
    game, rng = TicTacToe(), np.random.default_rng(0)
    openings = [random_opening(game, 5, rng) for _ in range(50)]
    assert all(not p.is_terminal() and len(p.legal_moves()) == 4 for p in openings)
    assert len({p.key() for p in openings}) > 20


def test_elo_difference():
    assert elo_difference(0.5, 10) == 0.0
    assert elo_difference(0.75, 100) == pytest.approx(400 * math.log10(3))
    assert elo_difference(1.0, 10) == pytest.approx(400 * math.log10(0.95 / 0.05))  # half a game off a sweep
    assert elo_difference(0.0, 10) == pytest.approx(-elo_difference(1.0, 10))


@pytest.mark.parametrize("config", [SearchConfig(simulations=50, dirichlet_fraction=0.25),
                                    GumbelConfig(simulations=16)])
def test_search_players_take_a_forced_win(config):
    win, block = parse("XX.\nOO.\n..."), parse("XX.\nO..\nO..")  # X wins at 2; O to move must block at 2
    assert SearchPlayer(uniform(9), config)([win, block]) == [2, 2]
