"""Training time per epoch of MemN2N and EntNet on bAbI, one 1k and one 10k task (task 2).

    python benchmarks/memory_speed.py [--device cpu|cuda] [--json FILE] [--batches N]

Each measurement times `batches` updates of the recipe's own training step after one warm-up
update and scales to the epoch's number of batches (1k: 29 batches of 32; 10k: 282). It reports
the epoch time of one network, and of 10 restarts trained side by side as one vectorised network
(our way) against 10 restarts trained one after another (10 × one network). For EntNet it also
times one network whose memory runs as a loop under autograd (`EntNet(fused=False)`) against the
hand-written backward through the story (`Recurrence`, what training uses). For MemN2N it also
times a port-style network that embeds each word with a lookup (`nn.Embedding`) and weights it by
the position encoding, as the popular ports do, against ours, which forms each statement's weights
over the vocabulary and multiplies them by the embedding matrix (see `MemN2N.bags`).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from torch import nn
from torch.nn import functional as F

from milestones.data import data_dir
from milestones.families.memory import experiments as mem
from milestones.memory.ensemble import Ensemble
from milestones.memory.memn2n import position_encoding
from milestones.memory.training import epoch
from milestones.records import save_benchmark
from milestones.registry import select


class PortStyleMemN2N(nn.Module):
    """The usual port: word lookups, position weights, sums; adjacent tying, temporal encoding."""

    def __init__(self, V: int, d: int, hops: int, M: int) -> None:
        super().__init__()
        self.embed = nn.ModuleList(nn.Embedding(V, d, padding_idx=0) for _ in range(hops + 1))
        self.time = nn.Parameter(torch.randn(hops + 1, M, d) * 0.1)
        self.d, self.hops = d, hops

    def forward(self, story, question, count):
        B, M, L = story.shape
        pe_s = position_encoding((story != 0).sum(-1), L, self.d)  # (B, M, L, d)
        pe_q = position_encoding((question != 0).sum(-1), question.shape[-1], self.d)
        used = torch.arange(M, device=count.device)[None] < count[:, None]
        u = (self.embed[0](question) * pe_q).sum(-2)
        for k in range(self.hops):
            m = (self.embed[k](story) * pe_s).sum(-2) + self.time[k, :M]
            c = (self.embed[k + 1](story) * pe_s).sum(-2) + self.time[k + 1, :M]
            p = torch.softmax((m @ u[..., None]).squeeze(-1).masked_fill(~used, float("-inf")), -1)
            u = u + (p[..., None] * c).sum(1)
        return u @ self.embed[self.hops].weight.T


def time_epoch(exp_name: str, size: str, restarts: int, batches: int, device, fused: bool = True,
               **overrides) -> float:
    """Seconds per epoch of the recipe's training step for `restarts` networks side by side; EntNet
    with `fused=False` runs its memory as a loop under autograd instead of `Recurrence`."""
    exp = select(exp_name)[0]
    cfg = dataclasses.replace(exp.config, size=size, tasks="2", restarts=restarts, **overrides)
    data = mem.task_data(cfg, [2], str(data_dir()))
    sched = dataclasses.replace(mem.schedule(cfg), ls_epochs=0)
    torch.manual_seed(0)
    ens = Ensemble(lambda: mem.make_model(cfg, data), restarts).to(device)
    if hasattr(ens.template, "fused"):
        ens.template.fused = fused
    optimizer = torch.optim.Adam(ens.parameters(), lr=cfg.lr) if sched.kind == "entnet" else None
    per_epoch = -(-len(data.train) // cfg.batch_size)
    part = data.train[: cfg.batch_size * (batches + 1)].to(device)
    g = torch.Generator().manual_seed(0)
    epoch(ens, dataclasses.replace(sched, batch_size=cfg.batch_size), part[: cfg.batch_size], 0, optimizer, g)
    start = time.perf_counter()
    epoch(ens, sched, part[cfg.batch_size:], 0, optimizer, g)
    return (time.perf_counter() - start) / batches * per_epoch


def time_port_style(size: str, batches: int, device) -> float:
    cfg = dataclasses.replace(select("memn2n/babi-1k")[0].config, size=size, tasks="2")
    data = mem.task_data(cfg, [2], str(data_dir()))
    torch.manual_seed(0)
    model = PortStyleMemN2N(len(data.vocab), cfg.dim, cfg.hops, cfg.memory_size).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    per_epoch = -(-len(data.train) // cfg.batch_size)
    times = []
    for b in range(batches + 1):
        x = data.train[b * cfg.batch_size:(b + 1) * cfg.batch_size].to(device)
        used = max(int(x.count.max()), 1)
        start = time.perf_counter()
        loss = F.cross_entropy(model(x.story[:, :used], x.question, x.count), x.answer, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return sum(times[1:]) / batches * per_epoch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--batches", type=int, default=20, help="updates timed per measurement")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    device = torch.device(args.device)
    rows = {}
    for model, name in (("memn2n", "memn2n/babi-1k"), ("entnet", "entnet/babi-1k")):
        for size in ("1k", "10k"):
            one = time_epoch(name, size, 1, args.batches, device)
            ten = time_epoch(name, size, 10, max(2, args.batches // 4), device)
            row = {"epoch_s_one_network": one, "epoch_s_10_side_by_side": ten,
                   "epoch_s_10_one_after_another": 10 * one, "side_by_side_speedup": 10 * one / ten}
            if model == "entnet":
                loop = time_epoch(name, size, 1, args.batches, device, fused=False)
                row |= {"epoch_s_one_network_autograd_loop": loop, "hand_written_backward_speedup": loop / one}
            if model == "memn2n":
                port = time_port_style(size, args.batches, device)
                row |= {"epoch_s_port_style": port, "ours_vs_port_style_speedup": port / one}
            rows[f"{model} {size} task 2"] = row
            print(f"{model} {size} task 2: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()), flush=True)
    if args.json:
        save_benchmark(args.json, "memory_speed", device=args.device, settings={"batches": args.batches},
                       results={"epochs": rows})

if __name__ == "__main__":
    main()
