"""One seeding helper, and the random state a checkpoint must carry for an exact resume."""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

# A named source of randomness a run owns; a checkpoint saves and restores each kind.
Generator = torch.Generator | np.random.Generator | random.Random


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


def rng_state(generators: Mapping[str, Generator]) -> dict[str, Any]:
    """The state of every source of randomness: torch's global CPU (and CUDA) generators, NumPy's and
    Python's global ones, and each named generator (torch, NumPy `Generator` or `random.Random`)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(legacy=False),
                             "random": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    for name, g in generators.items():
        state[f"gen.{name}"] = _get(g, name)
    return state


def set_rng_state(state: Mapping[str, Any], generators: Mapping[str, Generator]) -> None:
    """Restore what `rng_state` saved. Checkpoints written before NumPy's and Python's global
    generators were saved leave those as they are."""
    torch.set_rng_state(state["torch"].cpu())
    cuda = [state[k].cpu() for k in sorted(state) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "random" in state:
        random.setstate(_as_tuples(state["random"]))
    for name, g in generators.items():
        if f"gen.{name}" not in state:
            raise KeyError(f"the checkpoint holds no state for the generator {name!r}")
        _set(g, state[f"gen.{name}"], name)


def _get(g: Generator, name: str) -> Any:
    if isinstance(g, torch.Generator):
        return g.get_state()
    if isinstance(g, np.random.Generator):
        return g.bit_generator.state
    if isinstance(g, random.Random):
        return g.getstate()
    raise TypeError(f"generator {name!r} is a {type(g).__name__}; expected a torch.Generator, "
                    f"numpy.random.Generator or random.Random")


def _set(g: Generator, state: Any, name: str) -> None:
    if isinstance(g, torch.Generator):
        g.set_state(state.cpu())
    elif isinstance(g, np.random.Generator):
        g.bit_generator.state = state
    elif isinstance(g, random.Random):
        g.setstate(_as_tuples(state))
    else:
        _get(g, name)  # raises the TypeError


def _as_tuples(state: Any) -> Any:
    """Python's random state is a tuple holding a tuple; a checkpoint may give lists back."""
    return tuple(_as_tuples(s) for s in state) if isinstance(state, (list, tuple)) else state
