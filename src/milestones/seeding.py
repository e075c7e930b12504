"""One seeding helper, and the random state a checkpoint must carry for an exact resume."""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) and return a fresh CPU generator for data.

    Call it once, at the start of an entry point. Code below it takes its randomness from the
    returned generator (or a generator derived from the seed), not from global state, wherever an
    API allows it; torch's global generator remains for weight initialisation and dropout.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed + 1_000_003)


def rng_state(generators: dict[str, torch.Generator]) -> dict[str, torch.Tensor]:
    """Every generator's state as tensors: torch's global CPU (and CUDA) ones and the named ones."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    for name, g in generators.items():
        state[f"gen.{name}"] = g.get_state()
    return state


def set_rng_state(state: dict[str, torch.Tensor], generators: dict[str, torch.Generator]) -> None:
    torch.set_rng_state(state["torch"])
    cuda = [state[k] for k in sorted(state) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    for name, g in generators.items():
        g.set_state(state[f"gen.{name}"])
