"""AlphaGo's convolutional policy and value networks (Silver et al. 2016, Methods, "Neural network
architecture"), sized for small boards.

Policy p_σ(a | s): the input planes (B, C, N, N), zero-padded to (N + 4)²; a first convolution of k
filters 5×5, then L − 2 convolutions of k filters 3×3 (zero-padded, stride 1), each followed by a
ReLU; a last 1×1 convolution to one filter "with a different bias for each location", and a softmax
over the points. The paper's 19×19 network predicts no pass (KGS experts pass only at the end); our
games end in passes, so one more logit comes from the last hidden layer's mean over the board
(k → 1, linear). Output: logits (B, N² + 1), the pass last, illegal moves not masked (the caller
masks them; the loss needs none).

Value v_θ(s): the policy's trunk (its own weights), a 1×1 convolution to one filter, a fully connected
layer of 256 ReLU units and one tanh unit: (B,) in [−1, 1] for the player to move. The paper's
value network has one extra input plane (the colour to play); ours carries it among the planes.

Shapes: B batch, C planes, N board size, k filters, L layers.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Trunk(nn.Module):
    """5×5, then L − 2 3×3 convolutions, k filters, ReLU after each: (B, C, N, N) -> (B, k, N, N)."""

    def __init__(self, planes: int, layers: int, filters: int) -> None:
        super().__init__()
        if layers < 2 or filters < 1 or planes < 1:
            raise ValueError(f"a trunk needs ≥ 2 layers, ≥ 1 filter and ≥ 1 plane; got {layers}, {filters}, {planes}")
        convs = [nn.Conv2d(planes, filters, 5, padding=2)]
        convs += [nn.Conv2d(filters, filters, 3, padding=1) for _ in range(layers - 2)]
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.relu(conv(x))
        return x


class PolicyCNN(nn.Module):
    """p_σ: logits (B, N² + 1) over the points and the pass (see the module docstring)."""

    def __init__(self, planes: int, size: int, layers: int = 6, filters: int = 64) -> None:
        super().__init__()
        self.size = size
        self.trunk = Trunk(planes, layers, filters)
        self.head = nn.Conv2d(filters, 1, 1, bias=False)
        self.position_bias = nn.Parameter(torch.zeros(size * size))  # a bias per location
        self.pass_logit = nn.Linear(filters, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.trunk(x))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """The head on the trunk's features h (B, k, N, N): (B, N² + 1)."""
        points = self.head(h).flatten(1) + self.position_bias  # (B, N²)
        return torch.cat([points, self.pass_logit(h.mean(dim=(2, 3)))], dim=1)  # (B, N² + 1)


class ValueCNN(nn.Module):
    """v_θ: (B,) in [−1, 1], the expected outcome for the player to move."""

    def __init__(self, planes: int, size: int, layers: int = 6, filters: int = 64, hidden: int = 256) -> None:
        super().__init__()
        self.trunk = Trunk(planes, layers, filters)
        self.head = nn.Conv2d(filters, 1, 1)
        self.fc = nn.Linear(size * size, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(self.trunk(x)).flatten(1)  # (B, N²)
        return torch.tanh(self.out(torch.relu(self.fc(h)))).squeeze(1)


class PolicyValueCNN(nn.Module):
    """AlphaGo Zero's dual network grown from p_σ: the policy network (trunk and head) as it is, and a
    value head on the same trunk (a 1×1 convolution to one filter, `hidden` ReLU units, one tanh
    unit, as v_θ's): planes (B, C, N, N) -> (logits (B, N² + 1), value (B,)), the interface of
    `milestones.nn.policy_value.PolicyValueNet`, so AlphaZero's training loop trains it."""

    def __init__(self, policy: PolicyCNN, hidden: int = 256) -> None:
        super().__init__()
        self.policy = policy
        filters, size = policy.head.in_channels, policy.size
        self.value_conv = nn.Conv2d(filters, 1, 1)
        self.value_fc = nn.Linear(size * size, hidden)
        self.value_out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.policy.trunk(x)  # (B, k, N, N)
        v = self.value_conv(h).flatten(1)  # (B, N²)
        return self.policy.logits(h), torch.tanh(self.value_out(torch.relu(self.value_fc(v)))).squeeze(1)


class GoNetworkEvaluator:
    """`evaluator(positions) -> (priors (B, N² + 1), values (B,))` for `milestones.search`: the
    policy network's softmax as priors (the search masks illegal moves), the value network's output
    as values, or 0 without one (then a `MixedEvaluator` with λ = 1 values leaves by rollouts alone)."""

    def __init__(self, policy: PolicyCNN, value: ValueCNN | None = None, device: torch.device | str = "cpu") -> None:
        self.policy, self.value, self.device = policy.eval(), value.eval() if value is not None else None, device

    @torch.no_grad()
    def __call__(self, positions) -> tuple[np.ndarray, np.ndarray]:
        planes = torch.from_numpy(np.stack([p.planes() for p in positions])).to(self.device)
        priors = torch.softmax(self.policy(planes), 1).double().cpu().numpy()
        if self.value is None:
            return priors, np.zeros(len(positions))
        return priors, self.value(planes).double().cpu().numpy()
