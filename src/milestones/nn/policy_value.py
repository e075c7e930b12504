"""The AlphaGo Zero network (Silver et al. 2017, Methods "Neural network architecture") at any size,
and the evaluator that lets tree search call it.

    planes (B, C, H, W) → conv 3×3, F filters, BatchNorm, ReLU
                        → `blocks` residual blocks: conv 3×3, BN, ReLU, conv 3×3, BN, + input, ReLU
    policy head:  conv 1×1, 2 filters, BN, ReLU → flatten → linear → logits (B, A)
    value head:   conv 1×1, 1 filter, BN, ReLU → flatten → linear `value_hidden`, ReLU → linear 1 → tanh (B,)

AlphaGo Zero uses 19 or 39 blocks of 256 filters on 19×19; AlphaZero.jl's Connect Four network is
5 blocks of 128; `SIZES` holds ours per game. The loss of AlphaGo Zero's equation (1),
l = (z − v)² − πᵀ log p + c‖θ‖², is `alphazero_loss` (the L2 term as the optimizer's weight decay).

`NetworkEvaluator` is the search's view of the network: positions → (priors (B, A), values (B,)),
in eval mode (BatchNorm's running statistics, so a position's output does not depend on the batch
it is evaluated in) and without gradients.

Shapes: B batch, C input planes, H × W board, F filters, A moves.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.games.game import stack_planes
from milestones.machine import warn_if_bfloat16_is_slow

# game → (blocks, filters, value_hidden)
SIZES = {"tictactoe": (2, 32, 32), "connect4": (5, 64, 64)}


class ResidualBlock(nn.Module):
    def __init__(self, filters: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(filters, filters, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(filters)
        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(filters)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class PolicyValueNet(nn.Module):
    """planes (B, C, H, W) → (policy logits (B, A), value (B,) in [−1, 1])."""

    def __init__(self, planes_shape: tuple[int, int, int], num_moves: int, blocks: int = 5, filters: int = 64,
                 value_hidden: int = 64) -> None:
        super().__init__()
        c, h, w = planes_shape
        if min(c, h, w, num_moves, filters, value_hidden) < 1 or blocks < 0:
            raise ValueError(f"sizes must be positive (blocks ≥ 0): planes {planes_shape}, moves {num_moves}, "
                             f"blocks {blocks}, filters {filters}, value_hidden {value_hidden}")
        self.stem = nn.Sequential(nn.Conv2d(c, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters), nn.ReLU())
        self.tower = nn.Sequential(*(ResidualBlock(filters) for _ in range(blocks)))
        self.policy_head = nn.Sequential(nn.Conv2d(filters, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU(),
                                         nn.Flatten(), nn.Linear(2 * h * w, num_moves))
        self.value_head = nn.Sequential(nn.Conv2d(filters, 1, 1, bias=False), nn.BatchNorm2d(1), nn.ReLU(),
                                        nn.Flatten(), nn.Linear(h * w, value_hidden), nn.ReLU(),
                                        nn.Linear(value_hidden, 1), nn.Tanh())

    def forward(self, planes: Tensor) -> tuple[Tensor, Tensor]:
        x = self.tower(self.stem(planes))  # (B, F, H, W)
        return self.policy_head(x), self.value_head(x).squeeze(1)


def alphazero_loss(logits: Tensor, value: Tensor, pi: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """AlphaGo Zero's (1) without the L2 term, averaged over the batch: ((z − v)², −πᵀ log p, their sum).
    logits (B, A), value (B,), pi (B, A) the search's visit distribution, z (B,) the game's outcome for
    the player to move."""
    value_loss = (z - value).pow(2).mean()
    policy_loss = -(pi * F.log_softmax(logits, dim=1)).sum(1).mean()
    return value_loss, policy_loss, value_loss + policy_loss


INFERENCE = ("eager", "compiled", "bfloat16")


class NetworkEvaluator:
    """`evaluator(positions) -> (priors (B, A), values (B,))` for `milestones.search`.

    `inference` chooses how the network runs:
      - "eager": the module as it is, float32;
      - "compiled": `torch.compile` of the same module (dynamic batch size), float32: the same
        numbers up to rounding, faster on a CPU once compiled (the first call of a process compiles
        for tens of seconds and needs a C++ compiler; later networks of the same shape reuse it);
      - "bfloat16": a bfloat16 copy of the network taken now (later training does not reach it),
        compiled likewise: faster again where the CPU has bfloat16 dot products, at bfloat16's
        precision (`benchmarks/mcts_speed.py` measures both the speed and the difference).
    """

    def __init__(self, net: PolicyValueNet, device: torch.device | str = "cpu", inference: str = "eager") -> None:
        if inference not in INFERENCE:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, got {inference!r}")
        self.net, self.device, self.inference = net, torch.device(device), inference
        self.dtype = torch.bfloat16 if inference == "bfloat16" else torch.float32
        self._forward: nn.Module = net
        if inference == "bfloat16":  # channels-last: oneDNN's bfloat16 convolutions run faster on NHWC
            warn_if_bfloat16_is_slow("inference bfloat16", self.device)
            self._forward = copy.deepcopy(net).eval().to(torch.bfloat16).to(memory_format=torch.channels_last)
        if inference != "eager":
            self._forward = torch.compile(self._forward, dynamic=True)  # type: ignore[assignment]

    @torch.no_grad()
    def __call__(self, positions: Sequence) -> tuple[np.ndarray, np.ndarray]:
        was = self.net.training
        if was:
            self.net.eval()
        planes = torch.from_numpy(stack_planes(positions)).to(self.device, self.dtype)
        if self.inference == "bfloat16":
            planes = planes.contiguous(memory_format=torch.channels_last)
        logits, values = self._forward(planes)
        if was:
            self.net.train()
        return torch.softmax(logits.float(), 1).double().cpu().numpy(), values.double().cpu().numpy()
