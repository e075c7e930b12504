"""PQN (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning"): Q-learning without a
replay memory or a target network. N environments step side by side for T steps with ε-greedy
actions; the T × N transitions get Q(λ) targets from the network that acted, and a few epochs of
minibatch regression on them follow; LayerNorm in the network keeps that stable.

The targets, for each environment, backwards from the last step of the rollout (shapes (T, N)):

    G_t = r_t                                                 if the episode terminated at t
    G_t = r_t + γ max_a Q(s'_t, a)                            if it was truncated at t (s'_t its last
                                                              observation) or t = T − 1
    G_t = r_t + γ [λ G_{t+1} + (1 − λ) max_a Q(s_{t+1}, a)]   otherwise

λ = 0 gives the one-step targets of DQN, λ = 1 the discounted return to the rollout's end,
bootstrapped there.
"""
from __future__ import annotations

import numpy as np


def lambda_returns(rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, next_max_q: np.ndarray,
                   gamma: float, lam: float) -> np.ndarray:
    """Q(λ) targets (T, N) from rewards, terminations and truncations at each step (T, N) and
    max_a Q(s', a) of each step's next observation (T, N; the last observation before a reset
    where the step truncated; any value where it terminated)."""
    steps = rewards.shape[0]
    targets = np.zeros(rewards.shape, np.float64)
    later = np.zeros(rewards.shape[1:], np.float64)  # G_{t+1}
    for t in range(steps - 1, -1, -1):
        boot = next_max_q[t].astype(np.float64)
        mixed = boot if t == steps - 1 else lam * later + (1 - lam) * boot
        mixed = np.where(truncated[t], boot, mixed)  # the chain stops at an episode's end
        targets[t] = rewards[t] + gamma * np.where(terminated[t], 0.0, mixed)
        later = targets[t]
    return targets


def linear(start: float, end: float, progress: float) -> float:
    """start → end linearly as progress goes 0 → 1, then end."""
    return end + (start - end) * max(0.0, 1.0 - progress)


def epsilon_greedy(q: np.ndarray, eps: float, generator: np.random.Generator) -> np.ndarray:
    """One action per row of q (N, A): argmax, or with probability eps a uniformly random one."""
    greedy = q.argmax(1)
    explore = generator.random(len(q)) < eps
    return np.where(explore, generator.integers(0, q.shape[1], len(q)), greedy)
