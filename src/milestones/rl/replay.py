"""Experience replay (Mnih et al. 2015, Methods "Training algorithm"): each frame stored once, stacks
built when sampled, never across an episode's start.

The Nature agent sees a stack of the 4 most recent frames, and a transition (s, a, r, s') shares 3 of
s's frames with s', and s' all 4 of its frames with the next transition's s. Storing s and s' whole
would hold every frame 8 times (56 GB for 1 M Atari transitions); storing each frame once holds it
once (7 GB: 84·84 bytes each). The memory keeps, per environment of a vector of S (`streams`),
a ring of entries in the order they happened:

    entry:   frame   first  action  reward  done
    reset    f0      yes    –       –       –      the episode's first frame
    step 1   f1      no     a0      r0      d0     the frame after action a0, its reward, whether
    step 2   f2      no     a1      r1      d1     the episode ended there (terminated: no bootstrap)
    …

Entry j (not a first one) is the transition s = stack ending at j − 1, a = action[j], r = reward[j],
s' = stack ending at j, done = done[j]. A stack ending at i holds frames i − k + 1 … i, and where
those reach back past the episode's first entry, the slots before it are filled as the environment
fills them at a reset (`pad`: zeros, or copies of the first frame). An episode cut short by a time
limit (truncated) stores its last frame like any other, with done = False, so its value is
bootstrapped from it. With n-step returns (`n` > 1), entry j yields r = Σ_{k<m} γ^k reward[j + k]
and s' = the stack ending at j + m − 1, m = n unless the episode ends (done) or is cut first.

Shapes: S streams, K stacked frames, frame shape F (84×84 for Atari, 10×10×C MinAtar, 4 CartPole);
capacity N transitions in all, N / S per stream. `sample` returns s, s' (B, K, *F) — (B, *F) when
K = 1 — and a, r, γ^m·(1 − done) (B,).

The memory is a `milestones.state.FileState`: a checkpoint writes its rows as ring chunks beside
the checkpoint, each chunk once (see `milestones.state.save_ring`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from milestones.state import FileStore, load_ring, save_ring

Pad = Literal["zero", "first"]


def memory_bytes(capacity: int, frame_shape: Sequence[int], dtype: Any = np.uint8) -> int:
    """Bytes the memory needs for `capacity` transitions of frames `frame_shape` (each frame once),
    with the actions, rewards and flags."""
    frame = int(np.prod(frame_shape)) * np.dtype(dtype).itemsize
    return capacity * (frame + 4 + 4 + 1 + 1)


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError


class ReplayMemory:
    """Uniform experience replay over S lock-step streams; see the module docstring."""

    def __init__(self, capacity: int, frame_shape: Sequence[int], *, stack: int = 1, streams: int = 1,
                 dtype: Any = np.uint8, pad: Pad = "zero", chunk: int = 10_000) -> None:
        if streams < 1 or capacity < streams or capacity % streams:
            raise ValueError(f"capacity must be a positive multiple of streams ({streams}), got {capacity}")
        if stack < 1:
            raise ValueError(f"stack must be ≥ 1, got {stack}")
        if pad not in ("zero", "first"):
            raise ValueError(f"pad must be 'zero' or 'first', got {pad!r}")
        self.rows, self.streams, self.stack, self.pad = capacity // streams, streams, stack, pad
        self.frame_shape = tuple(frame_shape)
        self.frame = np.zeros((self.rows, streams, *self.frame_shape), dtype)
        self.action = np.zeros((self.rows, streams), np.int32)
        self.reward = np.zeros((self.rows, streams), np.float32)
        self.done = np.zeros((self.rows, streams), np.bool_)
        self.first = np.zeros((self.rows, streams), np.bool_)
        self.added = 0  # rows written so far (each row: one entry of every stream)
        self.chunk = chunk

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frame, self.action, self.reward, self.done, self.first))

    def __len__(self) -> int:
        """Rows held (the entries of each stream)."""
        return min(self.added, self.rows)

    # -- writing ---------------------------------------------------------------------------------
    def add(self, frame: np.ndarray, *, first: np.ndarray | bool, action: np.ndarray | int = 0,
            reward: np.ndarray | float = 0.0, done: np.ndarray | bool = False) -> None:
        """Append one entry per stream: `frame` (S, *F) (or *F with one stream), the newest frame of
        the observation just received; `first` where it is an episode's first observation (then
        action, reward and done are ignored), else the action that led to it, its reward and whether
        the episode terminated there."""
        row = self.added % self.rows
        if self.streams == 1 and np.ndim(first) == 0:  # one environment: element writes, no broadcasting
            self.frame[row, 0] = frame  # (*F), or (1, *F)
            new = bool(first)
            self.first[row, 0] = new
            self.action[row, 0] = 0 if new else int(action)
            self.reward[row, 0] = 0.0 if new else float(reward)
            self.done[row, 0] = False if new else bool(done)
            self.added += 1
            return
        frame = np.asarray(frame)
        if frame.shape != (self.streams, *self.frame_shape):
            frame = frame.reshape(self.streams, *self.frame_shape)
        self.frame[row] = frame
        first_ = np.broadcast_to(np.asarray(first, np.bool_), (self.streams,))
        self.first[row] = first_
        self.action[row] = np.where(first_, 0, np.broadcast_to(action, (self.streams,)))
        self.reward[row] = np.where(first_, 0.0, np.broadcast_to(reward, (self.streams,)))
        self.done[row] = np.where(first_, False, np.broadcast_to(done, (self.streams,)))
        self.added += 1

    # -- reading ---------------------------------------------------------------------------------
    def stacks(self, rows: np.ndarray, streams: np.ndarray) -> np.ndarray:
        """The stacks ending at absolute row numbers `rows` (B,) of `streams` (B,): (B, K, *F)."""
        k = np.arange(self.stack - 1, -1, -1)  # oldest slot first
        absolute = rows[:, None] - k[None, :]  # (B, K)
        idx = absolute % self.rows
        frames = self.frame[idx, streams[:, None]]  # (B, K, *F)
        # a slot is valid if no episode start lies after it and up to the stack's newest frame
        firsts = self.first[idx, streams[:, None]]  # (B, K)
        # the newest first entry at or before each slot's end: slots older than it are padding
        started = np.flip(np.logical_or.accumulate(np.flip(firsts[:, 1:], 1), 1), 1)  # (B, K-1)
        before_start = np.concatenate([started, np.zeros((len(rows), 1), np.bool_)], 1)  # (B, K)
        if before_start.any():
            frames = frames.copy()
            if self.pad == "zero":
                frames[before_start] = 0
            else:  # copies of the episode's first frame: the oldest valid slot
                oldest_valid = np.argmin(before_start, axis=1)  # (B,)
                fill = frames[np.arange(len(rows)), oldest_valid]  # (B, *F)
                b, s = np.nonzero(before_start)
                frames[b, s] = fill[b]
        return frames

    def valid(self, rows: np.ndarray, streams: np.ndarray, n: int = 1) -> np.ndarray:
        """Whether entry `rows` (absolute row numbers) of `streams` can be sampled as an n-step
        transition: it is not an episode's first entry; its s is held whole (rows r − K … r − 1, or
        from the episode's first entry on if that is newer); and its n entries have happened, unless
        the episode ends before (terminated, or the next entry starts a new one)."""
        low = max(0, self.added - self.rows)  # the oldest row still held
        ok = (rows >= low + 1) & (rows < self.added) & ~self.first[rows % self.rows, streams]
        if self.stack == 1 and n == 1:
            return ok
        whole = rows - self.stack >= low
        for j in range(1, self.stack):  # or an episode starts within the stack, at a row still held
            back = rows - j
            whole |= (back >= low) & self.first[back % self.rows, streams]
        ok &= whole
        ended = np.zeros_like(ok)
        for i in range(n - 1):  # row r + i exists here unless the episode has ended before it
            at = rows + i
            ended |= self.done[at % self.rows, streams]
            ok &= ended | (at + 1 < self.added)
            ended |= (at + 1 < self.added) & self.first[(at + 1) % self.rows, streams]
        return ok

    def sample(self, batch: int, generator: np.random.Generator, n: int = 1,
               gamma: float = 0.99) -> dict[str, np.ndarray]:
        """A uniform minibatch of n-step transitions: s, s' (B, K, *F), action, return R, discount
        γ^m (0 where the episode terminated within the m steps) (B,)."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        low = max(0, self.added - self.rows)
        if self.added - low < 2:
            raise ValueError("the memory holds no transition yet")
        rows, streams = np.empty(0, np.int64), np.empty(0, np.int64)
        for _ in range(100):
            r = generator.integers(low + 1, self.added, 2 * batch + 8)
            s = generator.integers(0, self.streams, len(r))
            keep = self.valid(r, s, n)
            rows, streams = np.concatenate([rows, r[keep]]), np.concatenate([streams, s[keep]])
            if len(rows) >= batch:
                break
        else:
            raise ValueError(f"found fewer than {batch} transitions to sample after 100 tries")
        rows, streams = rows[:batch], streams[:batch]
        if n == 1 and self.stack == 1:  # the one-step, one-frame case (MinAtar, CartPole) without the loops
            at = rows % self.rows
            before = (rows - 1) % self.rows
            if self.streams == 1:  # one environment: gathers along the rows (`take` is the fast one)
                return {"s": self.frame[:, 0].take(before, 0), "a": self.action[:, 0].take(at).astype(np.int64),
                        "r": self.reward[:, 0].take(at),
                        "discount": np.where(self.done[:, 0].take(at), np.float32(0.0), np.float32(gamma)),
                        "s_next": self.frame[:, 0].take(at, 0)}
            return {"s": self.frame[before, streams], "a": self.action[at, streams].astype(np.int64),
                    "r": self.reward[at, streams].copy(),
                    "discount": np.where(self.done[at, streams], 0.0, gamma).astype(np.float32),
                    "s_next": self.frame[at, streams]}
        returns = np.zeros(batch, np.float64)
        discount = np.ones(batch, np.float64)
        last = rows.copy()  # the entry s' ends at
        alive = np.ones(batch, np.bool_)
        for m in range(n):
            at = rows + m
            take = alive & (at < self.added)
            if m > 0:
                take &= ~self.first[at % self.rows, streams]
            returns += np.where(take, discount * self.reward[at % self.rows, streams], 0.0)
            last = np.where(take, at, last)
            discount = np.where(take, discount * gamma, discount)
            ended = take & self.done[at % self.rows, streams]
            discount = np.where(ended, 0.0, discount)
            alive &= take & ~ended
        s = self.stacks(rows - 1, streams)
        s_next = self.stacks(last, streams)
        if self.stack == 1:
            s, s_next = s[:, 0], s_next[:, 0]
        return {"s": s, "a": self.action[rows % self.rows, streams].astype(np.int64),
                "r": returns.astype(np.float32), "discount": discount.astype(np.float32), "s_next": s_next}

    # -- checkpointing (milestones.state.FileState) ----------------------------------------------
    def save_files(self, store: FileStore) -> dict[str, Any]:
        chunk = max(1, self.chunk // self.streams)
        return {name: save_ring(store, f"replay-{name}", getattr(self, name), self.added, chunk)
                for name in ("frame", "action", "reward", "done", "first")}

    def load_files(self, store: FileStore, manifest: dict[str, Any]) -> None:
        for name in ("frame", "action", "reward", "done", "first"):
            self.added = load_ring(store, manifest[name], getattr(self, name))

