"""The AlphaZero training loop (Silver et al. 2018; AlphaGo Zero 2017, Methods "Optimization"), one
iteration at a time: self-play with the current network → the replay window → minibatch steps on
AlphaGo Zero's loss l = (z − v)² − πᵀ log p + c‖θ‖² (c‖θ‖² as the optimizer's weight decay) →
the next network. AlphaZero does not gate the new network; neither do we.

`Replay` keeps the examples of the last `window_games` games and samples minibatches, each
example under a random symmetry of the board (AlphaGo Zero augments the same way). Its state is
plain arrays, so a checkpoint taken between iterations restores it exactly; a run killed in the
middle of an iteration replays that iteration's games (nothing is counted twice).

Shapes: B batch, C × H × W planes, A moves.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from milestones.games.game import Game
from milestones.nn.policy_value import PolicyValueNet, alphazero_loss
from milestones.search.gumbel import GumbelConfig
from milestones.search.mcts import SearchConfig
from milestones.search.selfplay import GameRecord, PlayoutCap, RandomOpening
from milestones.search.workers import SelfPlayWorkers


@dataclass(frozen=True)
class TrainerConfig:
    games_per_iteration: int = 32  # self-play games per iteration, played side by side
    search: SearchConfig | GumbelConfig = SearchConfig(simulations=50, dirichlet_fraction=0.25)
    playout_cap: PlayoutCap | None = None  # KataGo's playout cap randomization
    opening: RandomOpening | None = None  # a share of the games opened with random moves
    temperature_moves: int = 8  # moves drawn ∝ N before the most visited is taken
    window_games: int = 1_000  # the replay holds the examples of the last this many games
    batch_size: int = 128
    train_steps: int = 50  # minibatch steps per iteration
    augment: bool = True  # a random symmetry of the board for each sampled example

    def __post_init__(self) -> None:
        for name in ("games_per_iteration", "window_games", "batch_size", "train_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")


class Replay:
    """The last `window_games` games' examples: planes (N, C, H, W), π (N, A), z (N,)."""

    def __init__(self, game: Game, window_games: int) -> None:
        self.game, self.window = game, window_games
        self.games: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=window_games)
        self.games_seen = 0

    def add(self, records: list[GameRecord]) -> None:
        for r in records:
            self.games_seen += 1
            if not r.examples:  # every move of it searched fast under a playout cap
                continue
            self.games.append((np.stack([e.planes for e in r.examples]).astype(np.float32),
                               np.stack([e.pi for e in r.examples]).astype(np.float32),
                               np.array([e.z for e in r.examples], np.float32)))

    def __len__(self) -> int:
        return sum(len(z) for _, _, z in self.games)

    def sample(self, batch: int, rng: np.random.Generator, augment: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A uniform minibatch over the examples held: planes (B, C, H, W), π (B, A), z (B,)."""
        if not self.games:
            raise ValueError("the replay holds no example yet")
        planes = np.concatenate([g[0] for g in self.games])
        pi = np.concatenate([g[1] for g in self.games])
        z = np.concatenate([g[2] for g in self.games])
        idx = rng.integers(0, len(z), batch)
        planes, pi, z = planes[idx], pi[idx], z[idx]
        if augment:
            which = rng.integers(0, len(self.game.symmetries(planes[0], pi[0])), batch)
            images = [self.game.symmetries(p, q)[k] for p, q, k in zip(planes, pi, which)]
            planes = np.stack([img[0] for img in images])
            pi = np.stack([img[1] for img in images])
        return planes, pi, z

    def state_dict(self) -> dict[str, Any]:
        sizes = np.array([len(z) for _, _, z in self.games], np.int64)
        if not len(sizes):
            return {"sizes": sizes, "games_seen": self.games_seen}
        return {"sizes": sizes, "games_seen": self.games_seen,
                "planes": np.concatenate([g[0] for g in self.games]),
                "pi": np.concatenate([g[1] for g in self.games]), "z": np.concatenate([g[2] for g in self.games])}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.games.clear()
        self.games_seen = int(state["games_seen"])
        start = 0
        for n in np.asarray(state["sizes"]).tolist():
            self.games.append((np.asarray(state["planes"][start:start + n]), np.asarray(state["pi"][start:start + n]),
                               np.asarray(state["z"][start:start + n])))
            start += n


def train_iteration(game: Game, net: PolicyValueNet, optimizer: torch.optim.Optimizer, replay: Replay,
                    cfg: TrainerConfig, rng: np.random.Generator,
                    workers: SelfPlayWorkers | None = None) -> dict[str, float]:
    """One iteration: self-play (in this process, or on `workers`), then `train_steps` minibatch
    steps; returns its statistics."""
    workers = workers or SelfPlayWorkers()
    records = workers.play(game, net, cfg.search, cfg.games_per_iteration, rng, cfg.temperature_moves, cfg.playout_cap,
                           cfg.opening)
    replay.add(records)
    device = next(net.parameters()).device
    net.train()
    v_losses, p_losses = [], []
    for _ in range(cfg.train_steps):
        planes, pi, z = (torch.from_numpy(a).to(device) for a in replay.sample(cfg.batch_size, rng, cfg.augment))
        logits, value = net(planes)
        v_loss, p_loss, loss = alphazero_loss(logits, value, pi, z)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        v_losses.append(float(v_loss.detach()))
        p_losses.append(float(p_loss.detach()))
    outcomes = np.array([r.outcome for r in records])
    return {"value_loss": float(np.mean(v_losses)), "policy_loss": float(np.mean(p_losses)),
            "first_player_wins": float((outcomes > 0).mean()), "draws": float((outcomes == 0).mean()),
            "game_length": float(np.mean([len(r.moves) for r in records])), "examples": float(len(replay))}
