"""A family that exists only in the test suite, found through $MILESTONES_FAMILIES=tests.toy_family.

Its one experiment is an environment-driven loop of the kind deep RL needs: a random walk whose
moves come from a NumPy generator, an ε-greedy agent whose exploration comes from Python's
`random`, a replay buffer of uint8 frames saved beside the checkpoint (`FileState`), and a small
torch Q-function trained on minibatches the buffer samples with another NumPy generator. If any of
these were not saved and restored, a killed and resumed run would differ from an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import random
import time

import numpy as np
import torch

from milestones.config import BaseConfig, param
from milestones.family import Command, Experiment, Family, Reference
from milestones.runs import Run
from milestones.state import FileStore, State, load_ring, save_ring

SIZE = 8  # the walk's cells; the agent sees a one-hot frame of them


@dataclasses.dataclass(frozen=True)
class WalkConfig(BaseConfig):
    steps: int = param(800, "environment steps", low=1)
    capacity: int = param(200, "replay buffer rows (a ring: the oldest are overwritten)", low=1)
    chunk: int = param(32, "buffer rows per file in the checkpoint", low=1)
    epsilon: float = param(0.3, "share of random moves", low=0.0, high=1.0)
    batch: int = param(16, "transitions per update", low=1)
    log_every: int = param(50, "steps between logged rows", low=1)
    step_delay: float = param(0.0, "seconds to sleep per step (gives a test time to kill the run)", low=0.0)
    checkpoint_every: int = param(40, "steps between checkpoints", low=1)


class Walk:
    """Move left or right on SIZE cells; the wind pushes a random step now and then; reward at the right end."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.pos = rng, SIZE // 2

    def step(self, action: int) -> tuple[int, float]:
        self.pos += 1 if action else -1
        if self.rng.random() < 0.2:
            self.pos += int(self.rng.integers(-1, 2))
        self.pos = min(max(self.pos, 0), SIZE - 1)
        reward = float(self.pos == SIZE - 1)
        if reward:
            self.pos = int(self.rng.integers(0, SIZE // 2))
        return self.pos, reward

    def state_dict(self) -> dict:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.pos = int(state["pos"])


class Buffer:
    """Frames (uint8), actions and rewards of the last `capacity` steps, written as ring chunks."""

    def __init__(self, capacity: int, chunk: int) -> None:
        self.frames = np.zeros((capacity, SIZE), np.uint8)
        self.moves = np.zeros((capacity, 2), np.float32)  # action, reward
        self.added, self.chunk = 0, chunk

    def add(self, pos: int, action: int, reward: float) -> None:
        row = self.added % len(self.frames)
        self.frames[row] = 0
        self.frames[row, pos] = 255
        self.moves[row] = (action, reward)
        self.added += 1

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        rows = rng.integers(0, min(self.added, len(self.frames)), n)
        return self.frames[rows], self.moves[rows]

    def save_files(self, store: FileStore) -> dict:
        return {"frames": save_ring(store, "frames", self.frames, self.added, self.chunk),
                "moves": save_ring(store, "moves", self.moves, self.added, self.chunk)}

    def load_files(self, store: FileStore, manifest: dict) -> None:
        self.added = load_ring(store, manifest["frames"], self.frames)
        load_ring(store, manifest["moves"], self.moves)


def train(cfg: WalkConfig, run: Run) -> dict[str, float]:
    torch.manual_seed(cfg.seed)
    walk, buffer = Walk(np.random.default_rng(cfg.seed)), Buffer(cfg.capacity, cfg.chunk)
    q = torch.nn.Linear(SIZE, 2)
    opt = torch.optim.Adam(q.parameters(), lr=0.01)
    state = State({"size": SIZE}, modules={"q": q}, optimizers={"opt": opt},
                  generators={"walk": walk.rng, "sample": np.random.default_rng(cfg.seed + 1),
                              "explore": random.Random(cfg.seed)},
                  objects={"walk": walk}, files={"buffer": buffer})
    start, extra = run.resume(state)
    total_reward = extra.get("total_reward", 0.0)
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every,
                    extra=lambda: {"total_reward": total_reward})
    for step in loop:
        frame = torch.zeros(SIZE)
        frame[walk.pos] = 1.0
        explore = state.generators["explore"]
        action = explore.randrange(2) if explore.random() < cfg.epsilon else int(q(frame).argmax())
        pos, reward = walk.step(action)
        buffer.add(pos, action, reward)
        total_reward += reward
        frames, moves = buffer.sample(state.generators["sample"], cfg.batch)
        values = q(torch.from_numpy(frames).float() / 255)  # (batch, 2)
        taken = values.gather(1, torch.from_numpy(moves[:, :1]).long()).squeeze(1)
        loss = torch.nn.functional.mse_loss(taken, torch.from_numpy(moves[:, 1]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % cfg.log_every == 0 or loop.last:
            run.log(step, loss=loss.item(), total_reward=total_reward, buffer=float(buffer.frames.sum()))
        time.sleep(cfg.step_delay)
    return {"total_reward": total_reward, "weights": float(sum(p.detach().sum() for p in q.parameters())),
            "buffer": float(buffer.frames.astype(np.int64).sum() + buffer.moves.sum())}


def evaluate(cfg: WalkConfig, run: Run) -> dict[str, float]:
    q = torch.nn.Linear(SIZE, 2)
    loaded = run.load(State({"size": SIZE}, modules={"q": q}))
    return {"weights": float(sum(p.detach().sum() for p in q.parameters())), "step": float(loaded.step)}


def hello(args) -> int:
    print(f"hello from the toy family, {args.who}")
    return 0


WALK = Experiment(name="toy/walk", summary="an ε-greedy agent on a windy walk, with a replay buffer",
                  config=WalkConfig(), train=train, evaluate=evaluate, metric="total_reward", goal="max",
                  citation="the test suite", references=(Reference("total_reward", 10.0, "the test suite"),))
FAMILY = Family(
    name="toy", title="A toy family from the test suite", experiments=(WALK,), headlines=("toy/walk",),
    commands=(Command("toy-hello", "say hello", lambda p: p.add_argument("--who", default="world"), hello),),
)
