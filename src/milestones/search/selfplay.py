"""Self-play (AlphaGo Zero, Methods "Self-play"): many games played side by side, each move chosen
by a search from the current position, all games' searches batched into one evaluator call per round.

For each position s_t of a game the record keeps the planes, the search's visit distribution
π_t = N(s_t, ·) / Σ N(s_t, ·) and, once the game ends, its outcome z_t ∈ {−1, 0, +1} for the
player to move at s_t. Moves are drawn ∝ N^(1/τ) with τ = 1 for the first `temperature_moves`
moves and τ → 0 (the most visited) after (AlphaGo Zero: 30 moves). The tree below the chosen move
is kept for the next search (tree reuse); root noise comes from the search config. With Gumbel
AlphaZero's search (`milestones.search.gumbel`) π_t is its improved policy instead, and with a
`PlayoutCap` only the fully searched positions are recorded. With a `RandomOpening` a share of the
games starts from a few uniformly random moves, played without search and not recorded.

`Example` is one training example; `augment` turns one into all its symmetric images.
Shapes: C, H, W planes, A moves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from milestones.games.game import Game, Position
from milestones.search.gumbel import GumbelConfig, gumbel_move, gumbel_search, improved_policy
from milestones.search.mcts import Evaluator, Node, SearchConfig, advance, choose_move, search, visit_counts


@dataclass(frozen=True)
class Example:
    planes: np.ndarray  # (C, H, W) float32, from the view of the player to move
    pi: np.ndarray  # (A,) the search's visit distribution
    z: float  # the game's outcome for the player to move


@dataclass(frozen=True)
class GameRecord:
    moves: tuple[int, ...]
    examples: tuple[Example, ...]
    outcome: float  # for the first player: +1 won, 0 drawn, −1 lost


@dataclass(frozen=True)
class PlayoutCap:
    """Playout cap randomization (Wu 2019, KataGo): a move is searched in full with probability
    `full_fraction` and recorded for training; the others are searched with `fast_simulations`
    (without root noise under PUCT) only to play on, and are not recorded."""

    full_fraction: float = 0.25
    fast_simulations: int = 8

    def __post_init__(self) -> None:
        if not 0 < self.full_fraction <= 1 or self.fast_simulations < 1:
            raise ValueError(f"playout cap: 0 < full_fraction ≤ 1 and fast_simulations ≥ 1 are required, got "
                             f"{self.full_fraction}, {self.fast_simulations}")


@dataclass(frozen=True)
class RandomOpening:
    """A share `fraction` of the games opens with 1 to `max_moves` uniformly random moves (the number
    drawn per game), played without search and not recorded: the network then also learns positions
    its own play rarely reaches (tic-tac-toe's edge openings). A move that would end the game is not
    drawn. The moves count towards `temperature_moves`."""

    fraction: float = 0.25
    max_moves: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1 or self.max_moves < 1:
            raise ValueError(f"random opening: 0 < fraction ≤ 1 and max_moves ≥ 1 are required, got "
                             f"{self.fraction}, {self.max_moves}")

    def play(self, position: Position, rng: np.random.Generator) -> list[int]:
        """The opening's moves from `position` for one game (none for the games without one)."""
        if rng.random() >= self.fraction:
            return []
        moves: list[int] = []
        for _ in range(int(rng.integers(1, self.max_moves + 1))):
            open_ = [m for m in position.legal_moves() if not position.play(m).is_terminal()]
            if not open_:
                break
            moves.append(int(open_[rng.integers(len(open_))]))
            position = position.play(moves[-1])
        return moves


def play_games(game: Game, evaluator: Evaluator, config: SearchConfig | GumbelConfig, games: int,
               rng: np.random.Generator, temperature_moves: int = 30,
               playout_cap: PlayoutCap | None = None, opening: RandomOpening | None = None) -> list[GameRecord]:
    """`games` self-play games side by side; every move of every unfinished game is searched in the
    same rounds. Records come back in the order the games were started.

    PUCT (`SearchConfig`): π is the visit distribution, the move is drawn ∝ N^(1/τ) and the tree is
    kept. Gumbel (`GumbelConfig`): π is the improved policy π', the move is the one Sequential
    Halving leaves (its Gumbel draw is the exploration: no temperature) and each search starts fresh."""
    gumbel = isinstance(config, GumbelConfig)
    moves: list[list[int]] = [[] if opening is None else opening.play(game.initial(), rng) for _ in range(games)]
    roots = [Node(game.from_moves(m)) for m in moves]
    pending: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(games)]
    records: list[GameRecord | None] = [None] * games
    while True:
        active = [i for i in range(games) if records[i] is None]
        if not active:
            return [r for r in records if r is not None]
        full = ([True] * len(active) if playout_cap is None
                else [bool(f) for f in rng.random(len(active)) < playout_cap.full_fraction])
        budgets = [config.simulations if f or playout_cap is None else playout_cap.fast_simulations for f in full]
        searched = [roots[i] for i in active]
        if isinstance(config, GumbelConfig):
            plans = gumbel_search(searched, evaluator, config, rng, budgets)
        else:
            search(searched, evaluator, config, rng, budgets, noise=full)
        for j, i in enumerate(active):
            root = roots[i]
            if isinstance(config, GumbelConfig):
                plan = plans[j]
                assert plan is not None
                pi, move = improved_policy(root, config), gumbel_move(root, plan, config)
            else:
                counts = visit_counts(root)
                pi = counts / counts.sum()
                move = choose_move(root, 1.0 if len(moves[i]) < temperature_moves else 0.0, rng)
            if full[j]:
                pending[i].append((root.position.planes(), pi, root.position.to_play))
            moves[i].append(move)
            roots[i] = Node(root.position.play(move)) if gumbel else advance(root, move)
            final = roots[i].position
            if final.is_terminal():
                value = final.terminal_value()  # for the player to move at the end
                first = value if final.to_play == 0 else -value
                examples = tuple(Example(planes, pi, first if player == 0 else -first)
                                 for planes, pi, player in pending[i])
                records[i] = GameRecord(tuple(moves[i]), examples, first)


def augment(game: Game, example: Example) -> list[Example]:
    """The example under every symmetry of the board (planes and π moved together; z unchanged)."""
    return [Example(planes, pi, example.z) for planes, pi in game.symmetries(example.planes, example.pi)]
