"""Evaluators without a network, for tests, baselines and AlphaGo's rollouts: uniform priors over
the moves, and a value that is 0 (`uniform`) or the mean outcome of random playouts (`RolloutEvaluator`,
the Monte Carlo value of classic MCTS), and AlphaGo 2016's mixture of a network's value with a
rollout's by λ (`MixedEvaluator`).
Shapes: B positions, A moves."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from milestones.games.game import Position


def uniform(num_moves: int):
    """evaluator(positions) -> (uniform priors (B, A), zero values (B,))."""
    def evaluate(positions: Sequence[Position]) -> tuple[np.ndarray, np.ndarray]:
        return np.ones((len(positions), num_moves)), np.zeros(len(positions))
    return evaluate


def random_playout(position: Position, rng: np.random.Generator) -> float:
    """The outcome of uniformly random play to the end, for the player to move at `position`."""
    p, sign = position, 1.0
    while not p.is_terminal():
        moves = p.legal_moves()
        p = p.play(moves[int(rng.integers(len(moves)))])
        sign = -sign
    return sign * p.terminal_value()


class RolloutEvaluator:
    """Uniform priors; the value is the mean of `playouts` random playouts (randomness from `rng`)."""

    def __init__(self, num_moves: int, rng: np.random.Generator, playouts: int = 1) -> None:
        if playouts < 1:
            raise ValueError(f"playouts must be ≥ 1, got {playouts}")
        self.num_moves, self.rng, self.playouts = num_moves, rng, playouts

    def __call__(self, positions: Sequence[Position]) -> tuple[np.ndarray, np.ndarray]:
        values = [np.mean([random_playout(p, self.rng) for _ in range(self.playouts)]) for p in positions]
        return np.ones((len(positions), self.num_moves)), np.array(values, np.float64)


class MixedEvaluator:
    """AlphaGo's (2016) leaf evaluation: the priors of `network`, and the value
    V(s_L) = (1 − λ) v_θ(s_L) + λ z_L mixing the network's value v_θ with `rollouts`' value z_L
    (the outcome of a fast rollout policy's playout; λ = 0.5 in AlphaGo)."""

    def __init__(self, network, rollouts, lam: float = 0.5) -> None:
        if not 0 <= lam <= 1:
            raise ValueError(f"λ must be in [0, 1], got {lam}")
        self.network, self.rollouts, self.lam = network, rollouts, lam

    def __call__(self, positions: Sequence[Position]) -> tuple[np.ndarray, np.ndarray]:
        priors, v = self.network(positions)
        if self.lam == 0:
            return priors, v
        _, z = self.rollouts(positions)
        return priors, (1 - self.lam) * np.asarray(v, np.float64) + self.lam * np.asarray(z, np.float64)
