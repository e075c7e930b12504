"""Training MemN2N and EntNet ensembles on bAbI: the official optimisation of each paper.

One training fits R restarts at once (`Ensemble`), each with its own initialisation, batch order
and noise. Per epoch (E epochs in all, the first `ls_epochs` of MemN2N's in linear start):
    MemN2N: SGD on the loss summed over the batch, lr halved every `decay_every` epochs, each weight
            matrix's gradient clipped to L2 norm `clip` (per restart), the nil word re-zeroed.
    EntNet: Adam on the mean loss, lr halved every `decay_every` epochs, the global gradient norm of
            each restart clipped to `clip`, the nil word re-zeroed. Two options take the official code's
            ways instead: `loss_sum` (the loss summed over the batch before the clip, which then binds at
            a B-times smaller mean gradient) and `random_batches` (each step a fresh random batch, not an
            epoch's permutation).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from milestones.memory.babi import Encoded
from milestones.memory.ensemble import Ensemble
from milestones.memory.memn2n import random_noise


@dataclasses.dataclass(frozen=True)
class Schedule:
    kind: str  # "memn2n" or "entnet"
    epochs: int  # after linear start
    lr: float
    decay_every: int
    clip: float
    batch_size: int
    ls_epochs: int = 0  # MemN2N linear start epochs (before `epochs`)
    ls_lr: float = 0.0
    noise: float = 0.0  # MemN2N random noise rate
    bucket: bool = False  # batches of stories of similar length (see `batches`)
    loss_sum: bool = False  # EntNet: the loss summed over the batch, not averaged (the official code)
    random_batches: bool = False  # floor(N / B) batches drawn at random each epoch (see `batches`)

    def __post_init__(self) -> None:
        if self.bucket and self.random_batches:
            raise ValueError("bucket and random_batches exclude each other: buckets cut an epoch's permutation")

    @property
    def total(self) -> int:
        return self.ls_epochs + self.epochs

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based `epoch` (linear-start epochs first)."""
        if epoch < self.ls_epochs:
            return self.ls_lr
        return self.lr * 0.5 ** ((epoch - self.ls_epochs) // self.decay_every)

    def linear(self, epoch: int) -> bool:
        return epoch < self.ls_epochs


def trimmed(batch: Encoded) -> Encoded:
    """The batch cut to its longest story: slots after every story's end only cost time."""
    used = max(int(batch.count.max()), 1)
    return dataclasses.replace(batch, story=batch.story[..., :used, :])


def run_members(ens: Ensemble, kind: str, batch: Encoded, linear: bool = False) -> Tensor:
    """Logits (R, B, V) of every member on its own batch (tensors with a leading R)."""
    batch = trimmed(batch)
    if kind == "memn2n":
        return ens(batch.story, batch.question, batch.count, linear=linear)
    return ens(batch.story, batch.question, batch.count)


def zero_nil_(ens: Ensemble, kind: str) -> None:
    with torch.no_grad():
        if kind == "memn2n":
            ens.params()["embed"][:, :, 0] = 0  # (R, n, V, d)
        else:
            ens.params()["E"][:, 0] = 0  # (R, V, d)


def clip_per_matrix_(grads: list[Tensor], limit: float) -> None:
    """Scale each weight matrix's gradient (the last two dimensions) to L2 norm ≤ limit."""
    for g in grads:
        flat = g.flatten(-2) if g.dim() >= 3 else g.flatten(1)  # (R, …, entries)
        norm = flat.norm(dim=-1, keepdim=True)
        scale = (limit / norm.clamp_min(1e-12)).clamp(max=1.0)
        flat.mul_(scale)


def clip_global_(grads: list[Tensor], limit: float) -> None:
    """Scale each member's whole gradient (all parameters) to L2 norm ≤ limit."""
    sq = sum(g.flatten(1).pow(2).sum(1) for g in grads)  # (R,)
    scale = (limit / sq.sqrt().clamp_min(1e-12)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))


def batches(data: Encoded, members: int, batch_size: int, bucket: bool, generator: torch.Generator,
            random: bool = False) -> list[Tensor]:
    """Index batches (R, B) of one epoch, a fresh shuffle per member. With `bucket`, each run of 50
    batches of the shuffle is sorted by story length before it is cut, and the batches are then
    visited in random order: a batch costs as many recurrent steps as its longest story. With
    `random` (EntNet's official code), floor(N / B) batches, each B distinct questions drawn afresh
    for each member: in an epoch some questions come more than once and others not at all."""
    N, counts = len(data), data.count.cpu()  # the shuffle is drawn on the CPU, whatever the data's device
    if random:
        return [torch.argsort(torch.rand(members, N, generator=generator), dim=1)[:, :batch_size]
                for _ in range(max(N // batch_size, 1))]
    order = torch.argsort(torch.rand(members, N, generator=generator), dim=1)  # (R, N)
    if bucket:
        chunk = batch_size * 50
        for c in range(0, N, chunk):
            part = order[:, c:c + chunk]
            by_length = torch.sort(counts[part], dim=1, stable=True).indices
            order[:, c:c + chunk] = torch.gather(part, 1, by_length)
    starts = list(range(0, N, batch_size))
    if bucket:
        starts = [starts[i] for i in torch.randperm(len(starts), generator=generator).tolist()]
    return [order[:, s:s + batch_size] for s in starts]


def epoch(ens: Ensemble, sched: Schedule, data: Encoded, ep: int, optimizer: torch.optim.Optimizer | None,
          generator: torch.Generator, after_update: Callable[[], None] | None = None) -> float:
    """One pass over `data` for every member (own shuffles); returns the mean loss per sample.
    `after_update` is called after every update (e.g. to measure the network on a fixed probe)."""
    R, N = ens.members, len(data)
    params = list(ens.params().values())
    lr, linear, total = sched.lr_at(ep), sched.linear(ep), 0.0
    for index in batches(data, R, sched.batch_size, sched.bucket, generator, sched.random_batches):
        batch = data[index]  # tensors (R, B, …)
        if sched.noise > 0:
            R_, B = batch.count.shape
            story, count = random_noise(batch.story.flatten(0, 1), batch.count.flatten(), sched.noise, generator)
            batch = dataclasses.replace(batch, story=story.view(R_, B, *story.shape[1:]), count=count.view(R_, B))
        logits = run_members(ens, sched.kind, batch, linear)  # (R, B, V)
        losses = F.cross_entropy(logits.flatten(0, 1), batch.answer.flatten(), reduction="none").view(R, -1)
        loss = losses.sum() if sched.kind == "memn2n" or sched.loss_sum else losses.mean(1).sum()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} in epoch {ep + 1}")
        grads = torch.autograd.grad(loss, params, allow_unused=True)  # e.g. unused temporal vectors
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        with torch.no_grad():
            if sched.kind == "memn2n":
                clip_per_matrix_(grads, sched.clip)
                for p, g in zip(params, grads):
                    p.sub_(lr * g)
            else:
                clip_global_(grads, sched.clip)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                for p, g in zip(params, grads):
                    p.grad = g
                optimizer.step()
                for p in params:
                    p.grad = None
        zero_nil_(ens, sched.kind)
        total += losses.detach().sum().item()
        if after_update is not None:
            after_update()
    return total / (R * N)


@torch.no_grad()
def errors(ens: Ensemble, kind: str, data: Encoded, batch_size: int = 500) -> Tensor:
    """Wrong answers (R, N) of every member on the same `data`."""
    R, wrong = ens.members, []
    for start in range(0, len(data), batch_size):
        part = data[start:start + batch_size]
        stacked = Encoded(*(t.expand(R, *t.shape) for t in part.tensors()))
        logits = run_members(ens, kind, stacked)
        wrong.append(logits.argmax(-1) != part.answer)
    return torch.cat(wrong, 1) if wrong else torch.zeros(R, 0, dtype=torch.bool)


def error_rate(wrong: Tensor) -> Tensor:
    """Percent wrong per member, (R,)."""
    return wrong.float().mean(1) * 100 if wrong.shape[1] else torch.full((wrong.shape[0],), math.nan)
