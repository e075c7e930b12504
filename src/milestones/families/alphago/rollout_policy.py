"""AlphaGo's fast rollout policy p_π on 9×9 (`alphago/rollout-9x9`): the linear softmax of
`milestones.go.patterns` fitted to the experts' moves by maximum likelihood, on the same games and
split as the SL policy network (`milestones.go.dataset`). The paper's p_π: 24.2 % of KGS moves
predicted, 2 µs a move in C++, from 8 M positions.

Reported beside the accuracy: the time of a rollout move in our Python rules (p_π against the
random player's), and how often a p_π rollout player (moves sampled, no search) beats the random
player over `eval_games` games, colours alternating.

Shapes: P positions, A = N² points, B minibatch.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch

from milestones.config import BaseConfig, ConfigError, param
from milestones.data import dataset_path
from milestones.families.alphago.experiments import ALPHAGO, LossMeter, open_run
from milestones.family import Experiment, Reference
from milestones.games.go import Go
from milestones.go.dataset import expert_games
from milestones.go.patterns import FeatureTable, RolloutPolicy, feature_table, pattern_classes
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.state import State


@dataclasses.dataclass(frozen=True)
class RolloutConfig(BaseConfig):
    data: str = param("go9-gnugo-l10", "the games' folder under the data directory (milestones gnugo-games)")
    size: int = param(9, "board size", low=2, high=25)
    steps: int = param(3_000, "minibatch steps", low=1)
    batch_size: int = param(512, "positions per minibatch", low=1)
    lr: float = param(0.01, "Adam's step size", low=0.0, low_open=True)
    weight_decay: float = param(1e-5, "L2 penalty on π", low=0.0)
    eval_every: int = param(250, "steps between accuracy measurements on the validation games", low=1)
    eval_games: int = param(200, "games of p_π against the random player at the end (colours alternating)", low=0)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(500, "steps between checkpoints", low=1)


class PatternSoftmax(torch.nn.Module):
    """π as parameters: logits (B, A) = π_pattern[pattern] + π_neighbour[neighbour] + π_save·save
    + π_capture·capture, −∞ where a point is no candidate. π_neighbour[0] is fixed at 0 (a shift
    of all three would change nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.pattern = torch.nn.Parameter(torch.zeros(pattern_classes()[1], dtype=torch.float64))
        self.neighbour = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        self.save = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.capture = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, table: FeatureTable, index: np.ndarray) -> torch.Tensor:
        neighbour = torch.cat([torch.zeros(1, dtype=torch.float64), self.neighbour])
        logits = (self.pattern[torch.from_numpy(table.pattern[index])]
                  + neighbour[torch.from_numpy(table.neighbour[index].astype(np.int64))]
                  + self.save * torch.from_numpy(table.save[index])
                  + self.capture * torch.from_numpy(table.capture[index]))
        return logits.masked_fill(~torch.from_numpy(table.candidate[index]), float("-inf"))  # (B, A)

    def policy(self) -> RolloutPolicy:
        with torch.no_grad():
            return RolloutPolicy(self.pattern.numpy().copy(), np.concatenate([[0.0], self.neighbour.numpy()]),
                                 float(self.save), float(self.capture))


def load_tables(cfg: RolloutConfig) -> dict[str, FeatureTable]:
    folder = dataset_path(cfg.data)
    tables: dict[str, list[FeatureTable]] = {"train": [], "validation": [], "test": []}
    for split, game in expert_games(folder, cfg.size):
        tables[split].append(feature_table(game, cfg.size))  # one game at a time: histories stay small
    out = {s: _concatenate(t, cfg.size) for s, t in tables.items()}
    if not len(out["train"]) or not len(out["validation"]):
        raise ConfigError(f"{folder} holds too few games for a training and a validation set; generate more "
                          "with `milestones gnugo-games`")
    return out


def _concatenate(tables: list[FeatureTable], size: int) -> FeatureTable:
    if not tables:
        return feature_table([], size)
    return FeatureTable(*(np.concatenate([getattr(t, f.name) for t in tables])
                          for f in dataclasses.fields(FeatureTable)))


@torch.no_grad()
def accuracy(model: PatternSoftmax, table: FeatureTable, batch: int = 4096) -> dict[str, float]:
    """The share of positions where p_π's most likely candidate is the expert's move, and the mean
    log p_π(a | s) of the expert's move."""
    right, log_likelihood = 0, 0.0
    for start in range(0, len(table), batch):
        index = np.arange(start, min(start + batch, len(table)))
        logits = model(table, index)
        target = torch.from_numpy(table.target[index])
        right += int((logits.argmax(1) == target).sum())
        log_likelihood += float(torch.log_softmax(logits, 1).gather(1, target[:, None]).sum())
    n = max(len(table), 1)
    return {"accuracy": right / n, "log_likelihood": log_likelihood / n}


def rollout_speed(policy: RolloutPolicy, size: int, rollouts: int = 20, seed: int = 0) -> dict[str, float]:
    """µs per rollout move from the empty board: p_π's and the random player's, measured alike."""
    game = Go(size, 7.0)
    out = {}
    for name, play in (("pattern", policy.sample), ("random", lambda p, rng: p.random_move(rng))):
        rng, moves, start = np.random.default_rng(seed), 0, time.perf_counter()
        for _ in range(rollouts):
            p = game.initial()
            while not p.is_terminal():
                p = p.play(play(p, rng))
                moves += 1
        out[f"{name}_move_us"] = 1e6 * (time.perf_counter() - start) / moves
    return out


def win_rate_vs_random(policy: RolloutPolicy, size: int, games: int, rng: np.random.Generator) -> float:
    """The share of `games` that p_π (moves sampled) wins against the random player, colours
    alternating (p_π Black in even games), draws ½."""
    game, score = Go(size, 7.0), 0.0
    for k in range(games):
        p = game.initial()
        ours = k % 2  # 0: p_π is Black
        while not p.is_terminal():
            p = p.play(policy.sample(p, rng) if p.to_play == ours else p.random_move(rng))
        winner = p.winner()
        score += 0.5 if winner is None else float(winner == ours)
    return score / max(games, 1)


def train(cfg: RolloutConfig, run: Run) -> dict[str, float]:
    tables = load_tables(cfg)
    seed_everything(cfg.seed)
    model = PatternSoftmax()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng, meter = np.random.default_rng([cfg.seed, 1]), LossMeter()
    state = State(architecture(cfg), modules={"net": model}, optimizers={"opt": optimizer}, generators={"rng": rng},
                  objects={"loss": meter})
    start, _ = run.resume(state)
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    train_table = tables["train"]
    for step in loop:
        index = rng.integers(0, len(train_table), cfg.batch_size)
        loss = torch.nn.functional.cross_entropy(model(train_table, index), torch.from_numpy(train_table.target[index]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        meter.add(loss.item())
        if step % cfg.eval_every == 0 or loop.last:
            val = accuracy(model, tables["validation"])
            run.log(step, loss=meter.take(), val_accuracy=val["accuracy"], val_log_likelihood=val["log_likelihood"])
            loop.postfix(val=f"{val['accuracy']:.3f}")
    return final_metrics(cfg, model, tables)


def architecture(cfg: RolloutConfig) -> dict[str, Any]:
    return {"size": cfg.size, "pattern_classes": pattern_classes()[1], "features": "3x3+neighbour+save+capture"}


def final_metrics(cfg: RolloutConfig, model: PatternSoftmax, tables: dict[str, FeatureTable]) -> dict[str, float]:
    test, val = accuracy(model, tables["test"]), accuracy(model, tables["validation"])
    policy = model.policy()
    out = {"test_accuracy": test["accuracy"], "test_log_likelihood": test["log_likelihood"],
           "val_accuracy": val["accuracy"], "train_positions": float(len(tables["train"])),
           "test_positions": float(len(tables["test"]))}
    out |= rollout_speed(policy, cfg.size, seed=cfg.seed)
    if cfg.eval_games:
        out["win_rate_vs_random"] = win_rate_vs_random(policy, cfg.size, cfg.eval_games,
                                                       np.random.default_rng([cfg.seed, 2]))
    return out


def load_rollout_policy(run_dir: str) -> RolloutPolicy:
    """p_π of an alphago/rollout run's last checkpoint."""
    run, cfg = open_run(run_dir, "alphago/rollout-")
    model = PatternSoftmax()
    if run.load(State(architecture(cfg), modules={"net": model})) is None:
        raise ValueError(f"{run_dir} has no checkpoint yet")
    return model.policy()


def evaluate(cfg: RolloutConfig, run: Run) -> dict[str, float]:
    model = PatternSoftmax()
    loaded = run.load(State(architecture(cfg), modules={"net": model}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return final_metrics(cfg, model, load_tables(cfg)) | {"step": float(loaded.step)}


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        name="alphago/rollout-9x9",
        summary="AlphaGo's fast rollout policy p_π on 9×9: a linear softmax over 3×3 patterns and the last move",
        config=RolloutConfig(),
        train=train, evaluate=evaluate, metric="test_accuracy", goal="max", citation=ALPHAGO,
        references=(Reference("test_accuracy", 0.242, "Silver et al. 2016, Methods 'Rollout policy'",
                              "KGS 19×19 human games, 2 µs a move in C++: the paper's scale, for orientation"),),
        deviations=(
            "Features: 3×3 colour patterns up to symmetry (8 740 classes, no liberty counts), the place next to "
            "the last move, save atari and capture of the last move's stones; no 12-point response patterns, "
            "no nakade (the paper: 109 747 weights).",
            "Experts: GNU Go 3.8 level 10 playing itself on 9×9 (the SL policy's games), not KGS.",
            "Adam (lr 0.01) on minibatches of 512, not the paper's SGD; our rules are Python, so a rollout "
            "move costs tens of µs, not 2.",
        ),
        curve=("step", "val_accuracy"),
        budgets={"quick": {"steps": 20, "eval_every": 10, "batch_size": 64, "eval_games": 4}, "full": {}}),
)
