"""AlphaGo's supervised policy network on 9×9 (Silver et al. 2016, "Supervised learning of policy
networks"): p_σ learns to predict the expert's move from the position, by stochastic gradient ascent
on log p_σ(a | s) over randomly sampled (s, a) pairs, each under one of the board's 8 symmetries
drawn at random; its accuracy is the share of held-out positions where its most likely move is the
expert's (57.0 % with all features on KGS 19×19, 55.7 % with board and history only).

The experts are GNU Go 3.8 at level 10 playing itself (`milestones gnugo-games`; DATA_DIR/<data>/),
split by game (`milestones.go.dataset`): training on the training games, the recipe's choices on
validation, and the test set read once, at the end. A checkpoint holds the network, the optimizer
and the generator; positions are drawn from the generator, so a resumed run continues the same
sequence of minibatches.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from milestones import config as cfg_mod
from milestones import registry
from milestones.config import BaseConfig, ConfigError, param
from milestones.data import dataset_path
from milestones.family import Experiment, Reference
from milestones.games.go import PLANES
from milestones.go.dataset import Positions, load
from milestones.nn.go_policy import PolicyCNN
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.state import State

ALPHAGO = "Silver et al. 2016, Mastering the game of Go with deep neural networks and tree search, Nature 529"


@dataclasses.dataclass(frozen=True)
class SLPolicyConfig(BaseConfig):
    data: str = param("go9-gnugo-l10", "the games' folder under the data directory (milestones gnugo-games)")
    size: int = param(9, "board size", low=2, high=25)
    layers: int = param(6, "convolutional layers L (5×5 first, 3×3 after, then the 1×1 head)", low=2)
    filters: int = param(64, "filters k per layer", low=1)
    steps: int = param(20_000, "minibatch steps", low=1)
    batch_size: int = param(128, "positions per minibatch (the paper: 16)", low=1)
    optimizer: Literal["adam", "sgd"] = param("adam", "adam, or plain SGD as in the paper")
    lr: float = param(1e-3, "step size (the paper: SGD, 0.003, halved every 80 M steps)", low=0.0, low_open=True)
    weight_decay: float = param(1e-4, "L2 penalty on the weights", low=0.0)
    eval_every: int = param(1_000, "steps between accuracy measurements on the validation games", low=1)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(1_000, "steps between checkpoints", low=1)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"--optimizer: expected adam or sgd, got {self.optimizer!r}")


def architecture(cfg: SLPolicyConfig) -> dict[str, Any]:
    return {"size": cfg.size, "layers": cfg.layers, "filters": cfg.filters, "planes": PLANES}


def make_network(cfg: SLPolicyConfig) -> PolicyCNN:
    return PolicyCNN(PLANES, cfg.size, cfg.layers, cfg.filters)


def symmetric_batch(planes: np.ndarray, moves: np.ndarray, rng: np.random.Generator, size: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each position under one of the 8 symmetries, drawn at random: (B, C, N, N), (B,)."""
    out_planes = np.empty_like(planes)
    out_moves = moves.copy()
    k = rng.integers(0, 8, len(moves))
    index = np.arange(size * size).reshape(size, size)
    for s in range(8):
        chosen = np.flatnonzero(k == s)
        if not len(chosen):
            continue
        p, q = planes[chosen], index
        if s >= 4:
            p, q = p[:, :, :, ::-1], q[:, ::-1]
        p, q = np.rot90(p, s % 4, axes=(2, 3)), np.rot90(q, s % 4)
        out_planes[chosen] = p
        # where each original point went: q holds, at each new place, the point that lands there
        where = np.empty(size * size + 1, np.int64)
        where[q.reshape(-1)] = np.arange(size * size)
        where[size * size] = size * size
        out_moves[chosen] = where[moves[chosen]]
    return out_planes, out_moves


@torch.no_grad()
def accuracy(net: PolicyCNN, data: Positions, device: torch.device, batch: int = 1024) -> dict[str, float]:
    """Top-1 accuracy (the most likely legal move is the expert's) and the mean log-likelihood."""
    net.eval()
    right, log_likelihood = 0, 0.0
    for start in range(0, len(data), batch):
        planes = torch.from_numpy(data.planes[start:start + batch]).to(device, torch.float32)
        moves = torch.from_numpy(data.moves[start:start + batch]).to(device)
        logits = net(planes)
        legal = torch.cat([planes[:, 9].flatten(1), torch.ones(len(planes), 1, device=device)], dim=1) > 0
        logits = logits.masked_fill(~legal, float("-inf"))
        right += int((logits.argmax(1) == moves).sum())
        log_likelihood += float(torch.log_softmax(logits, 1).gather(1, moves[:, None]).sum())
    net.train()
    n = max(len(data), 1)
    return {"accuracy": right / n, "log_likelihood": log_likelihood / n}


def load_data(cfg: SLPolicyConfig) -> dict[str, Positions]:
    folder = dataset_path(cfg.data)
    data = load(folder, cfg.size)
    if not len(data["train"]) or not len(data["validation"]):
        raise ConfigError(f"{folder} holds too few games for a training and a validation set "
                          f"({data['train'].games} and {data['validation'].games} games); generate more with "
                          f"`milestones gnugo-games`")
    return data


class LossMeter:
    """The mean training loss since the last evaluation; saved with the run, so a resumed run logs
    what a run straight through logs."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, loss: float) -> None:
        self.total, self.count = self.total + loss, self.count + 1

    def take(self) -> float:
        mean = self.total / max(self.count, 1)
        self.total, self.count = 0.0, 0
        return mean

    def state_dict(self) -> dict[str, Any]:
        return {"total": np.array(self.total), "count": np.array(self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total, self.count = float(state["total"]), int(state["count"])


def one_step(net: PolicyCNN, optimizer: torch.optim.Optimizer, data: Positions, rng: np.random.Generator,
             cfg: SLPolicyConfig, device: torch.device) -> float:
    """One minibatch of positions drawn with `rng`, each under a random symmetry; −log p_σ(a | s)."""
    index = rng.integers(0, len(data), cfg.batch_size)
    planes, moves = symmetric_batch(data.planes[index], data.moves[index], rng, cfg.size)
    x = torch.from_numpy(np.ascontiguousarray(planes)).to(device, torch.float32)
    y = torch.from_numpy(moves).to(device)
    loss = F.cross_entropy(net(x), y)  # the paper ascends log p_σ(a | s): the same gradient
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train(cfg: SLPolicyConfig, run: Run) -> dict[str, float]:
    data = load_data(cfg)
    seed_everything(cfg.seed)
    net = make_network(cfg).to(run.device)
    if cfg.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng, meter = np.random.default_rng([cfg.seed, 1]), LossMeter()
    state = State(architecture(cfg), modules={"net": net}, optimizers={"opt": optimizer}, generators={"rng": rng},
                  objects={"loss": meter})
    start, _ = run.resume(state)
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    for step in loop:
        meter.add(one_step(net, optimizer, data["train"], rng, cfg, run.device))
        if step % cfg.eval_every == 0 or loop.last:
            val = accuracy(net, data["validation"], run.device)
            run.log(step, loss=meter.take(), val_accuracy=val["accuracy"], val_log_likelihood=val["log_likelihood"])
            loop.postfix(val=f"{val['accuracy']:.3f}")
    return final_metrics(net, data, run.device)


def final_metrics(net: PolicyCNN, data: dict[str, Positions], device: torch.device) -> dict[str, float]:
    test, val = accuracy(net, data["test"], device), accuracy(net, data["validation"], device)
    return {"test_accuracy": test["accuracy"], "test_log_likelihood": test["log_likelihood"],
            "val_accuracy": val["accuracy"], "train_positions": float(len(data["train"])),
            "train_games": float(data["train"].games), "test_positions": float(len(data["test"]))}


def load_policy(run_dir: str) -> tuple[SLPolicyConfig, PolicyCNN, int]:
    """The configuration and trained network (eval mode) of an alphago/sl-policy run, and its step;
    ValueError says why a directory is not one."""
    name, saved = Run.read_config(run_dir)
    if not name.startswith("alphago/sl-policy"):
        raise ValueError(f"{run_dir} is a run of {name}, not of alphago/sl-policy-*")
    exp = registry.catalog()[name]
    cfg = cfg_mod.from_dict(type(exp.config), saved)
    net = make_network(cfg)
    loaded = Run(run_dir, exp, cfg, progress=False).load(State(architecture(cfg), modules={"net": net}))
    if loaded is None:
        raise ValueError(f"{run_dir} has no checkpoint yet")
    return cfg, net.eval(), loaded.step


def evaluate(cfg: SLPolicyConfig, run: Run) -> dict[str, float]:
    net = make_network(cfg).to(run.device)
    loaded = run.load(State(architecture(cfg), modules={"net": net}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return final_metrics(net, load_data(cfg), run.device) | {"step": float(loaded.step)}


EXPERIMENTS = (
    Experiment(
        name="alphago/sl-policy-9x9",
        summary="AlphaGo's supervised policy network on 9×9, learning GNU Go level 10's moves",
        config=SLPolicyConfig(),
        train=train, evaluate=evaluate, metric="test_accuracy", goal="max", citation=ALPHAGO,
        references=(Reference("test_accuracy", 0.557, "Silver et al. 2016, Table 1 (128-192 filters, board and "
                              "history features)", "KGS 19×19 human games, not comparable with GNU Go 9×9: the "
                              "paper's scale, for orientation"),),
        deviations=(
            "Experts: GNU Go 3.8 level 10 playing itself from 4 random opening moves, not KGS 6-9 dan games "
            "(none for 9×9 here); 9×9, not 19×19.",
            "Input: 11 planes (stones, liberties 1/2/≥3, legality, colour), not the paper's 48 (no history, "
            "ladders, capture sizes); L = 6 layers of k = 64 filters, not 13 of 192; one more logit for the pass.",
            "Adam (lr 1e-3, weight decay 1e-4), minibatches of 128, not SGD at 0.003 with minibatches of 16.",
        ),
        curve=("step", "val_accuracy"),
        budgets={"quick": {"steps": 20, "eval_every": 10, "batch_size": 16, "layers": 3, "filters": 8}, "full": {}}),
)
