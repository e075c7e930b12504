"""Synthetic long-range tasks, generated on the fly from a seeded generator.

Adding problem (Hochreiter & Schmidhuber 1997, in the form of Arjovsky et al. 2016):
    x_t = (u_t, m_t), u_t ~ U(0, 1), m_t = 1 at one step of the first half and one of the second
    half, 0 elsewhere; target y = Σ_t u_t m_t. Predicting 1 always gives MSE Var(u + u') = 1/6.

Copy memory (Arjovsky et al. 2016):
    input  s_1 … s_10, 0 × (T − 1), 9, 0 × 10       (s_i uniform over the letters 1 … 8)
    target 0 × (T + 10), s_1 … s_10
    A memoryless model that outputs blank for T + 10 steps and a uniform letter for the last 10 has
    mean cross-entropy 10 · ln 8 / (T + 20) per step.

Shapes: T' sequence length (T for adding, T + 20 for copy), B batch.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

COPY_SYMBOLS = 10  # 0 blank, 1-8 letters, 9 delimiter
COPY_LETTERS = 8
COPY_LENGTH = 10


def adding_batch(batch: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """x (T, B, 2), y (B,)."""
    if length < 2:
        raise ValueError(f"adding problem needs length ≥ 2, got {length}")
    values = torch.rand(length, batch, generator=generator)  # (T, B)
    half = length // 2
    first = torch.randint(0, half, (batch,), generator=generator)  # (B,)
    second = torch.randint(half, length, (batch,), generator=generator)  # (B,)
    markers = torch.zeros(length, batch)
    cols = torch.arange(batch)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    y = values[first, cols] + values[second, cols]  # (B,)
    return torch.stack([values, markers], dim=-1), y


def adding_baseline() -> float:
    """MSE of always predicting 1, the mean of the target: Var(u + u') = 2 · 1/12."""
    return 1.0 / 6.0


def copy_batch(batch: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """x one-hot (T + 20, B, 10), y symbol indices (T + 20, B)."""
    if length < 1:
        raise ValueError(f"copy memory needs length ≥ 1, got {length}")
    total = length + 2 * COPY_LENGTH
    letters = torch.randint(1, COPY_LETTERS + 1, (COPY_LENGTH, batch), generator=generator)  # (10, B)
    inputs = torch.zeros(total, batch, dtype=torch.long)
    inputs[:COPY_LENGTH] = letters
    inputs[length + COPY_LENGTH - 1] = COPY_SYMBOLS - 1  # the delimiter, T − 1 blanks after the letters
    targets = torch.zeros(total, batch, dtype=torch.long)
    targets[-COPY_LENGTH:] = letters
    return torch.nn.functional.one_hot(inputs, COPY_SYMBOLS).float(), targets


def copy_baseline(length: int) -> float:
    """Cross-entropy per step (nats) of the best memoryless model: 10 · ln 8 / (T + 20)."""
    return COPY_LENGTH * math.log(COPY_LETTERS) / (length + 2 * COPY_LENGTH)
