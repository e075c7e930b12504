"""The DQN update (Mnih et al. 2015, Methods "Training algorithm for deep Q-networks", Algorithm 1):

    y = r + γ^m (1 − done) max_a' Q(s', a'; θ⁻)                (target network θ⁻, m-step return r)
    δ = y − Q(s, a; θ),  error clipped to [−1, 1]:  L = Σ_batch huber(δ)   (∂L/∂Q = −clip(δ, −1, 1))
    θ ← RMSProp step on ∂L/∂θ;  θ⁻ ← θ every C steps

with DeepMind's centered RMSProp, ε inside the square root (their NeuralQLearner.lua; not
torch.optim.RMSprop, which adds ε outside it):
    g = 0.95 g + 0.05 ∇,  n = 0.95 n + 0.05 ∇²,  θ ← θ − lr ∇ / √(n − g² + 0.01)
That is `milestones.optim.GravesRMSprop` without momentum (`nature_rmsprop`). The MinAtar paper's code
instead uses torch.optim.RMSprop(centered=True, alpha=0.95, eps=0.01), ε added after the root
(`minatar_rmsprop`):  θ ← θ − lr ∇ / (√(n − g²) + 0.01). The two are not interchangeable: where
√(n − g²) is small (MinAtar's sparse rewards, a loss averaged over the minibatch) the first divides by
at least 0.1 and the second by at least 0.01, steps up to 10× larger.

A pitfall the ports share: DeepMind's code sums the clipped errors' gradients over the minibatch
(`network:backward(s, targets)` accumulates), while most PyTorch ports take the mean. With this
RMSProp the two are not equivalent: ε = 0.01 inside the root meets gradients 32× smaller under a
mean and damps the steps. `reduction="sum"` is the Nature default here; "mean" is the ports'.

Options beyond the paper, each a recipe's choice: Double DQN (van Hasselt et al. 2016: the online
network picks a', the target network values it), the plain squared error (the lecture's L2 loss),
Adam, n-step returns (the replay memory sums them). Shapes: B batch, A actions.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.optim import GravesRMSprop

Loss = Literal["huber", "l2"]


def nature_rmsprop(params, lr: float = 2.5e-4) -> GravesRMSprop:
    """DeepMind's RMSProp for DQN: decay 0.95 for g and g², ε = 0.01 inside the root, no momentum."""
    return GravesRMSprop(params, lr=lr, alpha=0.95, momentum=0.0, eps=0.01)


def minatar_rmsprop(params, lr: float = 2.5e-4) -> torch.optim.RMSprop:
    """The MinAtar paper's optimizer (its examples/dqn.py): torch's centered RMSProp, decay 0.95, ε = 0.01
    added after the root, no momentum."""
    return torch.optim.RMSprop(params, lr=lr, alpha=0.95, eps=0.01, centered=True)


def epsilon(step: int, *, start: float = 1.0, end: float = 0.1, decay: int = 1_000_000,
            replay_start: int = 50_000) -> float:
    """ε-greedy's ε after `step` agent steps: `start` until the replay start, then linear to `end`
    over `decay` steps (Nature: 1.0 → 0.1 over 1 M steps after 50 000)."""
    if step < replay_start:
        return start
    return max(end, start + (end - start) * (step - replay_start) / max(decay, 1))


@torch.no_grad()
def td_targets(reward: Tensor, discount: Tensor, q_next_target: Tensor, q_next_online: Tensor | None = None) -> Tensor:
    """y = r + discount · Q⁻(s', a*) with a* = argmax Q⁻(s', ·), or (Double DQN, `q_next_online`
    given) a* = argmax Q(s', ·). reward, discount (B,) (discount = γ^m, 0 where the episode ended);
    q_next_* (B, A) → (B,)."""
    if q_next_online is None:
        best = q_next_target.max(1).values
    else:
        best = q_next_target.gather(1, q_next_online.argmax(1, keepdim=True)).squeeze(1)
    return reward + discount * best


def td_loss(q: Tensor, action: Tensor, target: Tensor, kind: Loss = "huber",
            reduction: Literal["sum", "mean"] = "sum") -> Tensor:
    """The loss of Q(s, a) (q (B, A), action (B,)) against the targets (B,): Huber with δ = 1 (the
    Nature error clip) or the squared error (y − Q)²; summed (Nature) or averaged over the batch."""
    taken = q.gather(1, action.long().unsqueeze(1)).squeeze(1)  # (B,)
    if kind == "huber":
        return F.huber_loss(taken, target, delta=1.0, reduction=reduction)
    if kind == "l2":
        return F.mse_loss(taken, target, reduction=reduction)
    raise ValueError(f"loss must be 'huber' or 'l2', got {kind!r}")


class DQNLearner:
    """The online network, its target copy and the optimizer: `update(batch)` is one step of
    Algorithm 1's inner loop, `sync()` copies θ to θ⁻."""

    def __init__(self, online: nn.Module, target: nn.Module, optimizer: torch.optim.Optimizer, *,
                 loss: Loss = "huber", reduction: Literal["sum", "mean"] = "sum", double: bool = False,
                 max_grad_norm: float = 0.0) -> None:
        self.online, self.target, self.optimizer = online, target, optimizer
        self.loss, self.reduction, self.double, self.max_grad_norm = loss, reduction, double, max_grad_norm
        self.target.requires_grad_(False)
        self.sync()

    def sync(self) -> None:
        self.target.load_state_dict(self.online.state_dict())

    def update(self, s: Tensor, a: Tensor, r: Tensor, discount: Tensor, s_next: Tensor) -> float:
        """One gradient step on a minibatch; returns the loss."""
        with torch.no_grad():
            q_next_target = self.target(s_next)
            q_next_online = self.online(s_next) if self.double else None
        y = td_targets(r, discount, q_next_target, q_next_online)
        loss = td_loss(self.online(s), a, y, self.loss, self.reduction)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.online.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return float(loss.detach())
