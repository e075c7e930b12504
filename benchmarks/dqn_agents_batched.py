"""Does training several MinAtar DQN agents as one computation pay on a CPU? Measured, not assumed.

    python benchmarks/dqn_agents_batched.py [--agents 1 2 3 5 8] [--json FILE]

The MinAtar paper trains every frame, so an agent's 5 M frames are 5 M updates of batch 32; at
about 1 ms per update a game and seed takes hours on one core. When a small network's update is
dominated by what surrounds the arithmetic (the calls, the passes over small tensors), K agents
stacked along a leading axis (`torch.bmm` instead of `mm`, the optimizer over a (K, P) buffer) would
share that cost and train K seeds for little more than the price of one. Here K agents' updates are
written as one computation (the same mathematics as `FusedMinAtarLearner`, checked against K of them
in float64 before timing), and the milliseconds per agent-update are measured for K = 1, 2, 3, …, in
float32 and with the hidden products in bfloat16, on one thread, next to the library's single-agent
update. Breakout's shapes: 4 channels, 3 actions, batch 32, DeepMind's RMSProp.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import Tensor

from milestones.records import save_benchmark
from milestones.rl.fused import FusedMinAtarLearner, relu_backward
from milestones.rl.networks import MinAtarQNetwork, im2col_index

CHANNELS, ACTIONS, BATCH = 4, 3, 32


class StackedUpdate:
    """K MinAtar agents (online and target parameters (K, P), RMSProp's averages (K, P)) updated in one
    computation. Parameter order and layout as `FusedMinAtarLearner`'s flat buffer."""

    def __init__(self, nets: list[MinAtarQNetwork], dtype: torch.dtype, matmul_dtype: torch.dtype | None,
                 lr: float = 2.5e-4, alpha: float = 0.95, eps: float = 0.01) -> None:
        flats = [torch.cat([p.detach().reshape(-1) for p in net.parameters()]) for net in nets]
        self.flat = torch.stack(flats).to(dtype)
        self.target = self.flat.clone()
        self.n, self.g = torch.zeros_like(self.flat), torch.zeros_like(self.flat)
        self.grad, self.work = torch.zeros_like(self.flat), torch.empty_like(self.flat)
        self.sizes = [p.numel() for p in nets[0].parameters()]
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.mdtype = matmul_dtype or dtype
        self.index = im2col_index(CHANNELS).reshape(-1)

    def views(self, flat: Tensor) -> tuple[Tensor, ...]:
        k = flat.shape[0]
        w1, b1, w2, b2, w3, b3 = flat.split(self.sizes, dim=1)
        return (w1.view(k, 16, -1), b1.view(k, 1, 16), w2.view(k, 128, 1024), b2.view(k, 1, 128),
                w3.view(k, ACTIONS, 128), b3.view(k, 1, ACTIONS))

    def mm(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.bmm(a.to(self.mdtype), b.to(self.mdtype)).to(self.flat.dtype)

    def forward(self, weights: tuple[Tensor, ...], s: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        w1, b1, w2, b2, w3, b3 = weights
        k, batch = s.shape[:2]
        patches = s.reshape(k, batch, -1).to(self.flat.dtype).index_select(2, self.index).view(k, batch * 64, -1)
        z1 = self.mm(patches, w1.transpose(1, 2)).add_(b1)  # (K, B·64, 16)
        h1 = z1.relu().view(k, batch, 64, 16).transpose(2, 3).reshape(k, batch, 1024)
        z2 = self.mm(h1, w2.transpose(1, 2)).add_(b2)  # (K, B, 128)
        h2 = z2.relu()
        return torch.baddbmm(b3, h2, w3.transpose(1, 2)), (patches, z1, h1, z2, h2)

    def update(self, s: Tensor, a: Tensor, r: Tensor, discount: Tensor, s_next: Tensor) -> None:
        """Every agent's batch: s (K, B, 10, 10, C), a (K, B), r and discount (K, B)."""
        weights = self.views(self.flat)
        k, batch = s.shape[:2]
        best_next = self.forward(self.views(self.target), s_next)[0].max(2).values
        y = r.to(self.flat.dtype) + discount.to(self.flat.dtype) * best_next
        q, (patches, z1, h1, z2, h2) = self.forward(weights, s)
        a = a.long().unsqueeze(2)
        delta = q.gather(2, a).squeeze(2) - y
        dq = torch.zeros_like(q).scatter_(2, a, (delta.clamp(-1.0, 1.0) / batch).unsqueeze(2))  # mean Huber
        gw1, gb1, gw2, gb2, gw3, gb3 = self.views(self.grad)
        torch.bmm(dq.transpose(1, 2), h2, out=gw3)
        torch.sum(dq, 1, keepdim=True, out=gb3)
        dz2 = relu_backward(torch.bmm(dq, weights[4]), z2)
        gw2.copy_(self.mm(dz2.transpose(1, 2), h1))
        torch.sum(dz2, 1, keepdim=True, out=gb2)
        dh1 = self.mm(dz2, weights[2]).view(k, batch, 16, 64).transpose(2, 3).reshape(k, batch * 64, 16)
        dz1 = relu_backward(dh1, z1)
        gw1.copy_(self.mm(dz1.transpose(1, 2), patches))
        torch.sum(dz1, 1, keepdim=True, out=gb1)
        n, g, w, grad = self.n, self.g, self.work, self.grad
        n.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
        g.mul_(self.alpha).add_(grad, alpha=1 - self.alpha)
        torch.sub(n, torch.mul(g, g, out=w), out=w)
        self.flat.addcdiv_(grad, w.add_(self.eps).sqrt_(), value=-self.lr)


def batches(k: int, seed: int, dtype: torch.dtype) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(k, BATCH, 10, 10, CHANNELS, generator=g) < 0.1
    s_next = torch.rand(k, BATCH, 10, 10, CHANNELS, generator=g) < 0.1
    a = torch.randint(0, ACTIONS, (k, BATCH), generator=g)
    r = torch.randint(-1, 2, (k, BATCH), generator=g).to(dtype)
    discount = 0.99 * (torch.rand(k, BATCH, generator=g) > 0.1).to(dtype)
    return s, a, r, discount, s_next


def check(k: int = 3) -> float:
    """The stacked update against K `FusedMinAtarLearner`s in float64: the largest parameter difference
    after three updates (asserted below 1e-10)."""
    torch.manual_seed(0)
    nets = [MinAtarQNetwork(CHANNELS, ACTIONS).double() for _ in range(k)]
    stacked = StackedUpdate(nets, torch.float64, None)
    singles = [FusedMinAtarLearner(copy.deepcopy(n), copy.deepcopy(n), reduction="mean") for n in nets]
    for step in range(3):
        b = batches(k, step, torch.float64)
        stacked.update(*b)
        for i, learner in enumerate(singles):
            learner.update(*(t[i] for t in b))
    diff = max((stacked.flat[i] - learner.flat).abs().max().item() for i, learner in enumerate(singles))
    assert diff < 1e-10, f"the stacked update differs from FusedMinAtarLearner by {diff}"
    return diff


def ms_per_call(fn, repeats: int) -> float:
    for _ in range(max(5, repeats // 10)):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 2, 3, 5, 8])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, dict[str, float]] = {"check_max_difference": {"float64": check()}}
    for name, mdtype in (("float32", None), ("bfloat16", torch.bfloat16)):
        torch.manual_seed(0)
        net = MinAtarQNetwork(CHANNELS, ACTIONS)
        single = FusedMinAtarLearner(net, copy.deepcopy(net), reduction="mean", matmul_dtype=mdtype)
        one = [t[0] for t in batches(1, 0, torch.float32)]
        per_agent = {"library_single": ms_per_call(lambda: single.update(*one), args.repeats)}
        for k in args.agents:
            torch.manual_seed(0)
            stacked = StackedUpdate([MinAtarQNetwork(CHANNELS, ACTIONS) for _ in range(k)], torch.float32, mdtype)
            b = batches(k, 0, torch.float32)
            per_agent[f"stacked_{k}"] = ms_per_call(lambda: stacked.update(*b), args.repeats) / k
        results[f"ms_per_agent_update_{name}"] = per_agent
        print(name, "ms per agent-update:", ", ".join(f"{key} {v:.3f}" for key, v in per_agent.items()), flush=True)
    if args.json:
        save_benchmark(args.json, "dqn_agents_batched", device="cpu",
                       settings={"channels": CHANNELS, "actions": ACTIONS, "batch": BATCH, "threads": 1,
                                 "repeats": args.repeats, "agents": args.agents}, results=results)


if __name__ == "__main__":
    main()
