"""The MinAtar DQN update written out by hand, for speed (the same mathematics as `DQNLearner` with
`nature_rmsprop`, which the tests hold it to in float64).

At batch 32 the MinAtar network is small enough that an eager PyTorch update spends most of its
time outside the arithmetic: autograd's graph, the optimizer's loop over six tensors, and the
convolution's setup. Here the forward and backward passes are eleven matrix products and a few
element-wise operations, and the optimizer is three operations on one flat buffer:

    patches P = im2col(s)          (B·64, 9C)   one gather; MinAtar's (B, 10, 10, C) states
    z₁ = P W₁ᵀ + b₁                 (B·64, 16)   the 3×3 convolution, stride 1, no padding
    h₁ = flatten(relu(z₁))          (B, 1024)    channel-major, as nn.Flatten after nn.Conv2d
    z₂ = h₁ W₂ᵀ + b₂,  h₂ = relu(z₂)  (B, 128)
    Q  = h₂ W₃ᵀ + b₃                (B, A)

    ∂L/∂Q(s, a) = clip(Q(s, a) − y, −1, 1) (Huber; (y − Q)² gives 2(Q − y)), times 1/B for a mean
    ∂W₃ = ∂Qᵀ h₂,  ∂z₂ = ∂Q W₃ ⊙ [z₂ > 0],  ∂W₂ = ∂z₂ᵀ h₁,  ∂z₁ = unflatten(∂z₂ W₂) ⊙ [z₁ > 0],
    ∂W₁ = ∂z₁ᵀ P;  the biases' gradients are the column sums.
    RMSProp (DeepMind's): n ← α n + (1 − α) ∂²,  g ← α g + (1 − α) ∂,  θ ← θ − lr ∂ / √(n − g² + ε)

`matmul_dtype=torch.bfloat16` does the products in bfloat16 (inputs rounded, results returned in
float32; the parameters, the optimizer and the targets stay float32): on CPUs with AVX-512 BF16 the
products are several times faster. The module's parameters are views into the learner's flat
buffer, so the module itself (evaluation, checkpoints, figures) sees every update.
"""
from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from milestones.rl.networks import MinAtarQNetwork


def im2col_index(channels: int, size: int = 10, kernel: int = 3) -> Tensor:
    """Indices into a flattened (size, size, C) state giving, for each of the (size − kernel + 1)²
    output positions, the kernel's inputs in Conv2d's weight order (c, kh, kw): (positions, 9C)."""
    out = size - kernel + 1
    i, j = torch.meshgrid(torch.arange(out), torch.arange(out), indexing="ij")  # output position
    c, kh, kw = torch.meshgrid(torch.arange(channels), torch.arange(kernel), torch.arange(kernel), indexing="ij")
    rows = i.reshape(-1, 1) + kh.reshape(1, -1)
    cols = j.reshape(-1, 1) + kw.reshape(1, -1)
    return ((rows * size + cols) * channels + c.reshape(1, -1)).long()


class FusedMinAtarLearner:
    """`DQNLearner`'s interface (`update`, `sync`, `q_values`) for `MinAtarQNetwork`s without
    LayerNorm, trained with DeepMind's RMSProp. `state_dict`/`load_state_dict` hold the
    optimizer's running averages (checkpoint it as an object, not as a torch optimizer)."""

    def __init__(self, online: MinAtarQNetwork, target: MinAtarQNetwork, *, lr: float = 2.5e-4,
                 alpha: float = 0.95, eps: float = 0.01, loss: Literal["huber", "l2"] = "huber",
                 reduction: Literal["sum", "mean"] = "mean", double: bool = False,
                 matmul_dtype: torch.dtype | None = None) -> None:
        conv, fc, head = online.body[0], online.body[3], online.head
        if len(online.body) != 5 or not isinstance(conv, torch.nn.Conv2d):
            raise ValueError("the fused update covers MinAtarQNetwork without LayerNorm")
        if loss not in ("huber", "l2") or reduction not in ("sum", "mean"):
            raise ValueError(f"loss must be huber or l2 and reduction sum or mean, got {loss!r}, {reduction!r}")
        self.online, self.target = online, target
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.loss, self.reduction, self.double, self.matmul_dtype = loss, reduction, double, matmul_dtype
        self.channels = conv.in_channels
        params = [conv.weight, conv.bias, fc.weight, fc.bias, head.weight, head.bias]
        self.flat = torch.cat([p.detach().reshape(-1) for p in params])
        for p, view in zip(params, self.flat.split([p.numel() for p in params])):
            p.data = view.view_as(p)  # the module now reads the flat buffer
        self.grad = torch.zeros_like(self.flat)
        shapes = [(16, 9 * self.channels), (16,), tuple(fc.weight.shape), (128,), tuple(head.weight.shape),
                  (head.out_features,)]
        self.grads = [v.view(s) for v, s in zip(self.grad.split([p.numel() for p in params]), shapes)]
        self.n, self.g = torch.zeros_like(self.flat), torch.zeros_like(self.flat)
        self.index = im2col_index(self.channels).reshape(-1).to(self.flat.device)
        self.target.requires_grad_(False)
        self.sync()

    # ---- the network by hand ---------------------------------------------------------------------------

    def _weights(self, net: MinAtarQNetwork) -> tuple[Tensor, ...]:
        """(W₁ as (16, 9C), b₁, W₂, b₂, W₃, b₃), the matrices in the products' dtype."""
        conv, fc, head = net.body[0], net.body[3], net.head
        w1, w2, w3 = conv.weight.detach().reshape(conv.out_channels, -1), fc.weight.detach(), head.weight.detach()
        if self.matmul_dtype is not None:
            w1, w2, w3 = w1.to(self.matmul_dtype), w2.to(self.matmul_dtype), w3.to(self.matmul_dtype)
        return w1, conv.bias.detach(), w2, fc.bias.detach(), w3, head.bias.detach()

    def _mm(self, a: Tensor, b: Tensor) -> Tensor:
        """a @ b in the products' dtype, returned in float32 (or float64)."""
        if self.matmul_dtype is None:
            return a @ b
        return (a.to(self.matmul_dtype) @ b).to(self.flat.dtype)

    def _forward(self, weights: tuple[Tensor, ...], s: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Q(s, ·) (B, A) and the activations the backward pass needs; the products' inputs
        (patches, h₁, h₂) are kept in the products' dtype."""
        w1, b1, w2, b2, w3, b3 = weights
        batch, dtype = s.shape[0], self.matmul_dtype or self.flat.dtype
        # index_select of float32 is the fast gather (of bool, uint8 or bfloat16 several times slower)
        patches = s.reshape(batch, -1).to(self.flat.dtype).index_select(1, self.index)
        patches = patches.view(batch * 64, -1).to(dtype)  # (B·64, 9C)
        z1 = self._mm(patches, w1.t()).add_(b1)  # (B·64, 16)
        h1 = z1.relu().view(batch, 64, 16).transpose(1, 2).reshape(batch, 1024).to(dtype)  # channel-major
        z2 = self._mm(h1, w2.t()).add_(b2)  # (B, 128)
        h2 = z2.relu().to(dtype)
        return self._mm(h2, w3.t()).add_(b3), (patches, z1, h1, z2, h2)

    @torch.no_grad()
    def q_values(self, s: Tensor) -> Tensor:
        """Q(s, ·) of the online network, (B, A)."""
        return self._forward(self._weights(self.online), s)[0]

    # ---- the update ------------------------------------------------------------------------------------

    def sync(self) -> None:
        self.target.load_state_dict(self.online.state_dict())

    @torch.no_grad()
    def update(self, s: Tensor, a: Tensor, r: Tensor, discount: Tensor, s_next: Tensor) -> float:
        """One gradient step on a minibatch; returns the loss (as `DQNLearner.update`)."""
        batch = s.shape[0]
        weights = self._weights(self.online)
        q_next = self._forward(self._weights(self.target), s_next)[0]
        if self.double:
            best = q_next.gather(1, self._forward(weights, s_next)[0].argmax(1, keepdim=True)).squeeze(1)
        else:
            best = q_next.max(1).values
        y = r.to(q_next.dtype) + discount.to(q_next.dtype) * best
        q, (patches, z1, h1, z2, h2) = self._forward(weights, s)
        a = a.long().unsqueeze(1)
        delta = q.gather(1, a).squeeze(1) - y  # (B,)
        scale = 1.0 / batch if self.reduction == "mean" else 1.0
        if self.loss == "huber":
            absd = delta.abs()
            losses = torch.where(absd < 1, 0.5 * delta * delta, absd - 0.5)
            d_taken = delta.clamp(-1.0, 1.0)
        else:
            losses, d_taken = delta * delta, 2.0 * delta
        dq = torch.zeros_like(q).scatter_(1, a, (d_taken * scale).unsqueeze(1))  # ∂L/∂Q (B, A)
        gw1, gb1, gw2, gb2, gw3, gb3 = self.grads
        _, _, w2, _, w3, _ = weights
        gw3.copy_(self._mm(dq.t(), h2))
        torch.sum(dq, 0, out=gb3)
        dz2 = self._mm(dq, w3).mul_(z2 > 0)  # (B, 128)
        gw2.copy_(self._mm(dz2.t(), h1))
        torch.sum(dz2, 0, out=gb2)
        dz1 = self._mm(dz2, w2).view(batch, 16, 64).transpose(1, 2).reshape(batch * 64, 16).mul_(z1 > 0)
        gw1.copy_(self._mm(dz1.t(), patches))
        torch.sum(dz1, 0, out=gb1)
        grad, n, g = self.grad, self.n, self.g
        n.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
        g.mul_(self.alpha).add_(grad, alpha=1 - self.alpha)
        self.flat.addcdiv_(grad, (n - g * g).add_(self.eps).sqrt_(), value=-self.lr)
        return float(losses.sum() * scale)

    # ---- checkpoints -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n.clone(), "g": self.g.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("n", "g"):
            if tuple(state[name].shape) != tuple(self.flat.shape):
                raise ValueError(f"fused RMSProp state {name!r} has shape {tuple(state[name].shape)}, "
                                 f"expected {tuple(self.flat.shape)}")
        self.n.copy_(state["n"])
        self.g.copy_(state["g"])
