"""Players and matches: a network's strength as a score against another player and as Elo.

A player maps many positions to their moves at once (`player(positions) -> moves`), so the games
of a match are played side by side and each player's searches are batched:
- `SearchPlayer`: the most visited move of a PUCT search or the move a noiseless Gumbel search
  leaves, from a fresh root;
- `PolicyPlayer`: the network's most likely legal move, no search.

`play_match` plays `pairs` openings twice, each player once as the first: an opening is
`opening_moves` uniformly random moves (the variety a deterministic pair of players lacks), and
the score counts a win 1, a draw ½. `elo_difference` turns a score into Elo
(400 · log₁₀(s / (1 − s)), the score kept half a game from 0 and 1 so a clean sweep stays finite).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from milestones.games.game import Game, Position
from milestones.search.gumbel import GumbelConfig, gumbel_move, gumbel_search
from milestones.search.mcts import Evaluator, Node, SearchConfig, choose_move, search

Player = Callable[[Sequence[Position]], list[int]]


class SearchPlayer:
    """The move of a search with `evaluator` from each position (all searched side by side)."""

    def __init__(self, evaluator: Evaluator, config: SearchConfig | GumbelConfig) -> None:
        if isinstance(config, GumbelConfig):
            config = GumbelConfig(**{**config.__dict__, "gumbel_scale": 0.0})
        elif config.dirichlet_fraction > 0:
            config = SearchConfig(**{**config.__dict__, "dirichlet_fraction": 0.0})
        self.evaluator, self.config = evaluator, config

    def __call__(self, positions: Sequence[Position]) -> list[int]:
        roots = [Node(p) for p in positions]
        if isinstance(self.config, GumbelConfig):
            plans = gumbel_search(roots, self.evaluator, self.config)
            return [gumbel_move(r, plan, self.config) for r, plan in zip(roots, plans) if plan is not None]
        search(roots, self.evaluator, self.config)
        return [choose_move(r, 0) for r in roots]


class PolicyPlayer:
    """The network's most likely legal move at each position."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def __call__(self, positions: Sequence[Position]) -> list[int]:
        priors, _ = self.evaluator(positions)
        moves = []
        for p, prior in zip(positions, priors):
            legal = p.legal_moves()
            moves.append(legal[int(np.argmax(np.asarray(prior)[legal]))])
        return moves


@dataclass(frozen=True)
class MatchResult:
    wins: int
    draws: int
    losses: int  # all from the first player's view (`play_match`'s a)

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / self.games


def random_opening(game: Game, moves: int, rng: np.random.Generator) -> Position:
    """`moves` uniformly random legal moves from the start, drawn again until the game is not over."""
    while True:
        p = game.initial()
        for _ in range(moves):
            legal = p.legal_moves()
            p = p.play(legal[int(rng.integers(len(legal)))])
            if p.is_terminal():
                break
        if not p.is_terminal():
            return p


def play_match(game: Game, a: Player, b: Player, pairs: int, rng: np.random.Generator,
               opening_moves: int = 2) -> MatchResult:
    """2 · `pairs` games of a against b from random openings, each opening once with a to move first."""
    openings = [random_opening(game, opening_moves, rng) for _ in range(pairs)]
    positions = openings + openings
    a_moves_first = [True] * pairs + [False] * pairs
    first_mover = [p.to_play for p in positions]  # the player to move after the opening
    while True:
        live = [i for i, p in enumerate(positions) if not p.is_terminal()]
        if not live:
            break
        for player, is_a in ((a, True), (b, False)):
            turn = [i for i in live if not positions[i].is_terminal()
                    and (positions[i].to_play == first_mover[i]) == (a_moves_first[i] == is_a)]
            if turn:
                for i, move in zip(turn, player([positions[i] for i in turn])):
                    positions[i] = positions[i].play(move)
    wins = draws = losses = 0
    for i, p in enumerate(positions):
        value = p.terminal_value()  # for the player to move at the end: the other one just moved
        a_side = first_mover[i] if a_moves_first[i] else 1 - first_mover[i]
        a_value = value if p.to_play == a_side else -value
        wins, draws, losses = wins + (a_value > 0), draws + (a_value == 0), losses + (a_value < 0)
    return MatchResult(wins, draws, losses)


def elo_difference(score: float, games: int) -> float:
    """Elo of a player who scored `score` over `games` games against its opponent."""
    s = min(max(score, 0.5 / games), 1 - 0.5 / games)
    return 400.0 * math.log10(s / (1 - s))
