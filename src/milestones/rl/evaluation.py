"""The Nature evaluation protocol and the human-normalized score.

Mnih et al. 2015, Methods "Evaluation procedure": the trained agent plays 30 episodes of at most 5
minutes (18 000 frames), each starting with up to 30 random no-op actions, with ε = 0.05; a score is
the game's, not a life's. The human-normalized score is 100 × (agent − random) / (human − random),
with the random and human scores of Extended Data Table 2 (`NATURE_TABLE`). Other papers (DQN Zoo
and those after it) use a different human table: the table is named wherever a normalized score is.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

NATURE_TABLE_NAME = "Nature 2015, Extended Data Table 2"
# game -> (random, human, Nature DQN mean, Nature DQN std), Extended Data Table 2 (shared/reference/dqn.md)
NATURE_TABLE: dict[str, tuple[float, float, float, float]] = {
    "BeamRider": (363.9, 5774.7, 6846.0, 1619.0),
    "Breakout": (1.7, 31.8, 401.2, 26.9),
    "Enduro": (0.0, 309.6, 301.8, 24.6),
    "Pong": (-20.7, 9.3, 18.9, 1.3),
    "Qbert": (163.9, 13455.0, 10596.0, 3294.0),
    "Seaquest": (68.4, 20181.8, 5286.0, 1310.0),
    "SpaceInvaders": (148.0, 1652.3, 1976.0, 893.0),
}


def human_normalized(game: str, score: float) -> float:
    """100 × (score − random) / (human − random) with Nature's Extended Data Table 2."""
    if game not in NATURE_TABLE:
        raise KeyError(f"no Nature human score for {game!r}; the table has {', '.join(NATURE_TABLE)}")
    random, human = NATURE_TABLE[game][:2]
    return 100.0 * (score - random) / (human - random)


def act(q_values: torch.Tensor | np.ndarray, eps: float, generator: np.random.Generator) -> int:
    """ε-greedy: a random action with probability ε, else the greedy one (ties: the first)."""
    if generator.random() < eps:
        return int(generator.integers(q_values.shape[-1]))
    return int(q_values.argmax())


def play(q: Callable[[np.ndarray], Any], env, episodes: int, eps: float, seed: int,
         on_step: Callable[..., None] | None = None) -> list[float]:
    """Scores of `episodes` episodes of ε-greedy play on `env` (already wrapped for evaluation: whole
    games, the frame cap, the random no-ops), episode k reset with seed `seed + k`; `q(obs)` gives
    Q(obs, ·) of one observation (`milestones.rl.networks.q_of_one`). `on_step(obs, q_values,
    action)` sees every step (for figures)."""
    generator = np.random.default_rng(seed)
    scores = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            values = q(obs)
            action = act(values, eps, generator)
            if on_step is not None:
                on_step(obs, values, action)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(info.get("game_reward", reward))
            done = terminated or truncated
        scores.append(total)
    return scores
