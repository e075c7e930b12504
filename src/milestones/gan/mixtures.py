"""2D mixtures of Gaussians and their mode metrics, per the VEEGAN / PacGAN protocol.

Ring: 8 means (cos 2πk/8, sin 2πk/8), k = 0 … 7, σ = 0.01 (k/8 of a full turn: `linspace(0, 2π, 8)`
would repeat the first mean and give 7 modes). Grid: 25 means on {−4, −2, 0, 2, 4}², σ = 0.05.
Every component has the same weight.

Metrics of a set of samples (the protocol uses 2 500): a sample is *high quality* if it lies within
3σ of its nearest mean; a mode is *recovered* if it is the nearest mean of at least one high-quality
sample. The reverse KL is KL(q ‖ p) between the histogram q of the high-quality samples over the
modes and the uniform p = 1/K of the data, Σ_k q_k log(q_k K) over the modes with q_k > 0.
"""
from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

RING_SIGMA, GRID_SIGMA = 0.01, 0.05


def ring_means(modes: int = 8, radius: float = 1.0) -> Tensor:
    """(modes, 2): radius · (cos 2πk/modes, sin 2πk/modes)."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()


def grid_means(side: int = 5, spacing: float = 2.0) -> Tensor:
    """(side², 2): the grid {−(side−1)/2 … (side−1)/2}² · spacing, row by row."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def sample(means: Tensor, sigma: float, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n points (n, 2): a uniformly chosen mean plus N(0, σ² I) noise."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    k = torch.randint(len(means), (n,), generator=generator)
    return means[k] + sigma * torch.randn(n, 2, generator=generator)


@dataclasses.dataclass(frozen=True)
class ModeMetrics:
    modes: int  # recovered modes
    high_quality: float  # share of samples within 3σ of their nearest mean, in [0, 1]
    reverse_kl: float  # KL(high-quality histogram ‖ uniform), nats; inf if no sample is high quality
    histogram: tuple[int, ...]  # high-quality samples per mode


def mode_metrics(samples: Tensor, means: Tensor, sigma: float) -> ModeMetrics:
    """The protocol's metrics of samples (n, 2) against the data's means (K, 2) and σ."""
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape (n, 2), got {tuple(samples.shape)}")
    dist = torch.cdist(samples.double(), means.double())  # (n, K)
    nearest_dist, nearest = dist.min(1)
    hq = nearest_dist <= 3 * sigma
    counts = torch.bincount(nearest[hq], minlength=len(means))
    n_hq = int(hq.sum())
    if n_hq:
        q = counts.double() / n_hq
        kl = float((q[q > 0] * (q[q > 0] * len(means)).log()).sum())
    else:
        kl = math.inf
    return ModeMetrics(int((counts > 0).sum()), n_hq / len(samples), kl, tuple(int(c) for c in counts))
