"""Self-play (AlphaGo Zero, Methods "Self-play"): many games played side by side, each move chosen
by a search from the current position, all games' searches batched into one evaluator call per round.

For each position s_t of a game the record keeps the planes, the search's visit distribution
π_t = N(s_t, ·) / Σ N(s_t, ·) and, once the game ends, its outcome z_t ∈ {−1, 0, +1} for the
player to move at s_t. Moves are drawn ∝ N^(1/τ) with τ = 1 for the first `temperature_moves`
moves and τ → 0 (the most visited) after (AlphaGo Zero: 30 moves). The tree below the chosen move
is kept for the next search (tree reuse); root noise comes from the search config.

`Example` is one training example; `augment` turns one into all its symmetric images.
Shapes: C, H, W planes, A moves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from milestones.games.game import Game
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


def play_games(game: Game, evaluator: Evaluator, config: SearchConfig, games: int, rng: np.random.Generator,
               temperature_moves: int = 30) -> list[GameRecord]:
    """`games` self-play games side by side; every move of every unfinished game is searched in the
    same rounds. Records come back in the order the games were started."""
    roots = [Node(game.initial()) for _ in range(games)]
    moves: list[list[int]] = [[] for _ in range(games)]
    pending: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(games)]
    records: list[GameRecord | None] = [None] * games
    while True:
        active = [i for i in range(games) if records[i] is None]
        if not active:
            return [r for r in records if r is not None]
        search([roots[i] for i in active], evaluator, config, rng)
        for i in active:
            root = roots[i]
            counts = visit_counts(root)
            pending[i].append((root.position.planes(), counts / counts.sum(), root.position.to_play))
            tau = 1.0 if len(moves[i]) < temperature_moves else 0.0
            move = choose_move(root, tau, rng)
            moves[i].append(move)
            roots[i] = advance(root, move)
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
