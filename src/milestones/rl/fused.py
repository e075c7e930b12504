"""DQN updates written out by hand, for speed: the same mathematics as `DQNLearner` with
`nature_rmsprop` or `torch.optim.Adam`, which the tests hold them to in float64.

With small networks an eager PyTorch update spends most of its time outside the arithmetic:
autograd's graph, the optimizer's loop over the tensors, the modules' calls. Here the forward and
backward passes are a few matrix products and element-wise operations, and the optimizer is a handful
of operations on one flat buffer that the module's parameters are views into (so the module itself,
for evaluation, checkpoints and figures, sees every update).

The loss's gradient (both networks), for the taken actions a and targets y:
    ∂L/∂Q(s, a) = clip(Q(s, a) − y, −1, 1) (Huber; (y − Q)² gives 2(Q − y)), times 1/B for a mean

`FusedMinAtarLearner`, the MinAtar network (batch B, input channels C, actions A):
    patches P = im2col(s)          (B·64, 9C)   one gather; MinAtar's (B, 10, 10, C) states
    z₁ = P W₁ᵀ + b₁                 (B·64, 16)   the 3×3 convolution, stride 1, no padding
    h₁ = flatten(relu(z₁))          (B, 1024)    channel-major, as nn.Flatten after nn.Conv2d
    z₂ = h₁ W₂ᵀ + b₂,  h₂ = relu(z₂)  (B, 128)
    Q  = h₂ W₃ᵀ + b₃                (B, A)
    ∂W₃ = ∂Qᵀ h₂,  ∂z₂ = ∂Q W₃ ⊙ [z₂ > 0],  ∂W₂ = ∂z₂ᵀ h₁,  ∂z₁ = unflatten(∂z₂ W₂) ⊙ [z₁ > 0],
    ∂W₁ = ∂z₁ᵀ P;  the biases' gradients are the column sums.

`FusedMLPLearner`, the CartPole network (any number of ReLU layers):
    h₀ = s,  zₖ = hₖ₋₁ Wₖᵀ + bₖ,  hₖ = relu(zₖ),  Q = h_K W_outᵀ + b_out
    ∂W_out = ∂Qᵀ h_K,  ∂h_K = ∂Q W_out;  ∂zₖ = ∂hₖ ⊙ [zₖ > 0],  ∂Wₖ = ∂zₖᵀ hₖ₋₁,  ∂hₖ₋₁ = ∂zₖ Wₖ

The optimizers on the flat buffer θ with gradient ∂:
    DeepMind's RMSProp:  n ← α n + (1 − α) ∂²,  g ← α g + (1 − α) ∂,  θ ← θ − lr ∂ / √(n − g² + ε)
    Adam (torch.optim.Adam's order of operations), step t:
        m ← β₁ m + (1 − β₁) ∂,  v ← β₂ v + (1 − β₂) ∂²,
        θ ← θ − (lr / (1 − β₁ᵗ)) m / (√v / √(1 − β₂ᵗ) + ε)

`matmul_dtype=torch.bfloat16` (MinAtar) does the convolution's and the hidden layer's products in
bfloat16 (inputs rounded, results returned in float32; the parameters, the optimizer, the head's small
products and the targets stay float32). On a CPU with AVX512-BF16 these products run 2.5× faster.
"""
from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from milestones.machine import warn_if_bfloat16_is_slow
from milestones.rl.networks import MinAtarQNetwork, MLPQNetwork, im2col_index

Optimizer = Literal["rmsprop-dm", "rmsprop-centered", "adam"]


class FlatRMSProp:
    """Centered RMSProp (no momentum) on a flat buffer: DeepMind's, ε inside the root, or with
    `eps_in_root=False` torch.optim.RMSprop(centered=True)'s, ε added after it (the MinAtar paper's)."""

    def __init__(self, flat: Tensor, lr: float, alpha: float = 0.95, eps: float = 0.01, *,
                 eps_in_root: bool = True) -> None:
        self.flat, self.lr, self.alpha, self.eps, self.eps_in_root = flat, lr, alpha, eps, eps_in_root
        self.n, self.g = torch.zeros_like(flat), torch.zeros_like(flat)
        # the denominator's memory, allocated once (a fresh buffer of this size every step is slower)
        self.work = torch.empty_like(flat)

    def step(self, grad: Tensor) -> None:
        n, g, w = self.n, self.g, self.work
        n.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
        g.mul_(self.alpha).add_(grad, alpha=1 - self.alpha)
        torch.sub(n, torch.mul(g, g, out=w), out=w)  # n − g², as (n - g * g) computes it
        denominator = w.add_(self.eps).sqrt_() if self.eps_in_root else w.sqrt_().add_(self.eps)
        self.flat.addcdiv_(grad, denominator, value=-self.lr)

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n.clone(), "g": self.g.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_buffers(self, state, ("n", "g"), "RMSProp")


class FlatAdam:
    """Adam (Kingma & Ba 2015) on a flat buffer, as torch.optim.Adam computes it (no weight decay)."""

    def __init__(self, flat: Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.flat, self.lr, self.betas, self.eps = flat, lr, betas, eps
        self.m, self.v, self.t = torch.zeros_like(flat), torch.zeros_like(flat), 0
        self.work = torch.empty_like(flat)  # the denominator's memory (see FlatRMSProp)

    def step(self, grad: Tensor) -> None:
        (b1, b2), self.t = self.betas, self.t + 1
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = torch.sqrt(self.v, out=self.work).div_(math.sqrt(1 - b2 ** self.t)).add_(self.eps)
        self.flat.addcdiv_(self.m, denom, value=-self.lr / (1 - b1 ** self.t))

    def state_dict(self) -> dict[str, Any]:
        return {"m": self.m.clone(), "v": self.v.clone(), "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_buffers(self, state, ("m", "v"), "Adam")
        self.t = int(state["t"])


def _load_buffers(opt: Any, state: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if name not in state]
    if missing:
        raise ValueError(f"fused {what} state lacks {missing}: was it saved with another --optimizer?")
    for name in names:
        if tuple(state[name].shape) != tuple(opt.flat.shape):
            raise ValueError(f"fused {what} state {name!r} has shape {tuple(state[name].shape)}, "
                             f"expected {tuple(opt.flat.shape)}")
    for name in names:
        getattr(opt, name).copy_(state[name])


class FusedLearner:
    """`DQNLearner`'s interface (`update`, `sync`, `q_values`) for a network written out by hand:
    subclasses give `_weights`, `_forward` and `_backward`. `state_dict`/`load_state_dict` hold the
    optimizer's running averages (checkpoint it as an object, not as a torch optimizer)."""

    def __init__(self, online: nn.Module, target: nn.Module, params: list[nn.Parameter], *, optimizer: Optimizer,
                 lr: float, alpha: float, eps: float, betas: tuple[float, float], adam_eps: float,
                 loss: Literal["huber", "l2"], reduction: Literal["sum", "mean"], double: bool) -> None:
        if loss not in ("huber", "l2") or reduction not in ("sum", "mean"):
            raise ValueError(f"loss must be huber or l2 and reduction sum or mean, got {loss!r}, {reduction!r}")
        if optimizer not in ("rmsprop-dm", "rmsprop-centered", "adam"):
            raise ValueError(f"optimizer must be rmsprop-dm, rmsprop-centered or adam, got {optimizer!r}")
        self.online, self.target = online, target
        self.loss, self.reduction, self.double = loss, reduction, double
        self.flat = torch.cat([p.detach().reshape(-1) for p in params])
        sizes = [p.numel() for p in params]
        for p, view in zip(params, self.flat.split(sizes)):
            p.data = view.view_as(p)  # the module now reads the flat buffer
        self.grad = torch.zeros_like(self.flat)
        self.grads = [v.view_as(p) for v, p in zip(self.grad.split(sizes), params)]
        self.optimizer: FlatRMSProp | FlatAdam = (
            FlatRMSProp(self.flat, lr, alpha, eps, eps_in_root=optimizer == "rmsprop-dm") if optimizer != "adam"
            else FlatAdam(self.flat, lr, betas, adam_eps))
        self.target.requires_grad_(False)
        self.sync()

    def _weights(self, net: nn.Module) -> Any:
        raise NotImplementedError

    def _forward(self, weights: Any, s: Tensor) -> tuple[Tensor, Any]:
        """Q(s, ·) (B, A) and what the backward pass needs."""
        raise NotImplementedError

    def _backward(self, weights: Any, cache: Any, dq: Tensor) -> None:
        """Fill `self.grads` from ∂L/∂Q (B, A)."""
        raise NotImplementedError

    @torch.no_grad()
    def q_values(self, s: Tensor) -> Tensor:
        """Q(s, ·) of the online network, (B, A)."""
        return self._forward(self._weights(self.online), s)[0]

    def sync(self) -> None:
        self.target.load_state_dict(self.online.state_dict())

    @torch.no_grad()
    def update(self, s: Tensor, a: Tensor, r: Tensor, discount: Tensor, s_next: Tensor) -> float:
        """One gradient step on a minibatch; returns the loss (as `DQNLearner.update`)."""
        weights = self._weights(self.online)
        q_next = self._forward(self._weights(self.target), s_next)[0]
        if self.double:
            best = q_next.gather(1, self._forward(weights, s_next)[0].argmax(1, keepdim=True)).squeeze(1)
        else:
            best = q_next.max(1).values
        y = r.to(q_next.dtype) + discount.to(q_next.dtype) * best
        q, cache = self._forward(weights, s)
        a = a.long().unsqueeze(1)
        delta = q.gather(1, a).squeeze(1) - y  # (B,)
        scale = 1.0 / s.shape[0] if self.reduction == "mean" else 1.0
        if self.loss == "huber":
            absd = delta.abs()
            losses = torch.where(absd < 1, 0.5 * delta * delta, absd - 0.5)
            d_taken = delta.clamp(-1.0, 1.0)
        else:
            losses, d_taken = delta * delta, 2.0 * delta
        dq = torch.zeros_like(q).scatter_(1, a, (d_taken * scale).unsqueeze(1))  # ∂L/∂Q (B, A)
        self._backward(weights, cache, dq)
        self.optimizer.step(self.grad)
        return float(losses.sum() * scale)

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)


class FusedMinAtarLearner(FusedLearner):
    """`MinAtarQNetwork`s without LayerNorm (see the module docstring)."""

    def __init__(self, online: MinAtarQNetwork, target: MinAtarQNetwork, *, optimizer: Optimizer = "rmsprop-dm",
                 lr: float = 2.5e-4, alpha: float = 0.95, eps: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
                 loss: Literal["huber", "l2"] = "huber", reduction: Literal["sum", "mean"] = "mean",
                 double: bool = False, matmul_dtype: torch.dtype | None = None) -> None:
        conv, fc, head = online.body[0], online.body[3], online.head
        if len(online.body) != 5 or not isinstance(conv, nn.Conv2d):
            raise ValueError("the fused update covers MinAtarQNetwork without LayerNorm")
        self.matmul_dtype, self.channels = matmul_dtype, conv.in_channels
        self._target_converted: tuple[Any, Tensor, Tensor] | None = None  # (key, W₁, W₂) in matmul_dtype
        super().__init__(online, target, [conv.weight, conv.bias, fc.weight, fc.bias, head.weight, head.bias],
                         optimizer=optimizer, lr=lr, alpha=alpha, eps=eps, betas=betas, adam_eps=adam_eps, loss=loss,
                         reduction=reduction, double=double)
        self.grads[0] = self.grads[0].view(16, 9 * self.channels)
        self.index = im2col_index(self.channels).reshape(-1).to(self.flat.device)
        if matmul_dtype == torch.bfloat16:
            warn_if_bfloat16_is_slow("matmul bfloat16", self.flat.device)

    def _weights(self, net: nn.Module) -> tuple[Tensor, ...]:
        """(W₁ as (16, 9C), b₁, W₂, b₂, W₃, b₃); W₁ and W₂ in the products' dtype. The head's products
        (A × 128) stay float32: they are tiny, and bfloat16 would not make them faster. The target's
        converted matrices are kept until its parameters change (a sync, a checkpoint loaded)."""
        conv, fc, head = net.body[0], net.body[3], net.head
        w1, w2 = conv.weight.detach().reshape(conv.out_channels, -1), fc.weight.detach()
        if self.matmul_dtype is not None and net is self.target:
            # the target's parameters are its own tensors: loading them (sync, resume) bumps their version
            key = (self.matmul_dtype, conv.weight._version, fc.weight._version, conv.weight.data_ptr(),
                   fc.weight.data_ptr())
            if self._target_converted is None or self._target_converted[0] != key:
                self._target_converted = (key, w1.to(self.matmul_dtype), w2.to(self.matmul_dtype))
            w1, w2 = self._target_converted[1], self._target_converted[2]
        elif self.matmul_dtype is not None:  # the online network's change with every step (views of self.flat)
            w1, w2 = w1.to(self.matmul_dtype), w2.to(self.matmul_dtype)
        return w1, conv.bias.detach(), w2, fc.bias.detach(), head.weight.detach(), head.bias.detach()

    def _mm(self, a: Tensor, b: Tensor) -> Tensor:
        """a @ b in the products' dtype, returned in float32 (or float64)."""
        if self.matmul_dtype is None:
            return a @ b
        return (a.to(self.matmul_dtype) @ b).to(self.flat.dtype)

    def _forward(self, weights: tuple[Tensor, ...], s: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The hidden products' inputs (patches, h₁) are kept in the products' dtype."""
        w1, b1, w2, b2, w3, b3 = weights
        batch, dtype = s.shape[0], self.matmul_dtype or self.flat.dtype
        # index_select of float32 is the fast gather (of bool, uint8 or bfloat16 several times slower)
        patches = s.reshape(batch, -1).to(self.flat.dtype).index_select(1, self.index)
        patches = patches.view(batch * 64, -1).to(dtype)  # (B·64, 9C)
        z1 = self._mm(patches, w1.t()).add_(b1)  # (B·64, 16)
        h1 = z1.relu().view(batch, 64, 16).transpose(1, 2).reshape(batch, 1024).to(dtype)  # channel-major
        z2 = self._mm(h1, w2.t()).add_(b2)  # (B, 128)
        h2 = z2.relu()
        return torch.addmm(b3, h2, w3.t()), (patches, z1, h1, z2, h2)

    def _backward(self, weights: tuple[Tensor, ...], cache: tuple[Tensor, ...], dq: Tensor) -> None:
        patches, z1, h1, z2, h2 = cache
        batch = dq.shape[0]
        gw1, gb1, gw2, gb2, gw3, gb3 = self.grads
        _, _, w2, _, w3, _ = weights
        torch.mm(dq.t(), h2, out=gw3)
        torch.sum(dq, 0, out=gb3)
        dz2 = relu_backward(dq @ w3, z2)  # (B, 128)
        gw2.copy_(self._mm(dz2.t(), h1))
        torch.sum(dz2, 0, out=gb2)
        dz1 = relu_backward(self._mm(dz2, w2).view(batch, 16, 64).transpose(1, 2).reshape(batch * 64, 16), z1)
        gw1.copy_(self._mm(dz1.t(), patches))
        torch.sum(dz1, 0, out=gb1)


class FusedMLPLearner(FusedLearner):
    """`MLPQNetwork`s without LayerNorm (CartPole), with Adam or DeepMind's RMSProp."""

    def __init__(self, online: MLPQNetwork, target: MLPQNetwork, *, optimizer: Optimizer = "adam",
                 lr: float = 2.5e-4, alpha: float = 0.95, eps: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
                 loss: Literal["huber", "l2"] = "huber", reduction: Literal["sum", "mean"] = "mean",
                 double: bool = False) -> None:
        self.layers = mlp_layers(online)
        params = [p for layer in self.layers for p in (layer.weight, layer.bias)]
        super().__init__(online, target, params, optimizer=optimizer, lr=lr, alpha=alpha, eps=eps, betas=betas,
                         adam_eps=adam_eps, loss=loss, reduction=reduction, double=double)

    def _weights(self, net: nn.Module) -> list[tuple[Tensor, Tensor]]:
        return [(layer.weight.detach(), layer.bias.detach()) for layer in mlp_layers(net)]

    def _forward(self, weights: list[tuple[Tensor, Tensor]], s: Tensor) -> tuple[Tensor, list[Tensor]]:
        h = s.reshape(s.shape[0], -1).to(self.flat.dtype)  # (B, inputs)
        hs = [h]  # the input of every layer; a hidden layer's ReLU mask is h > 0 (z > 0 ⇔ relu(z) > 0)
        for w, b in weights[:-1]:
            h = torch.addmm(b, h, w.t()).relu_()  # (B, width)
            hs.append(h)
        w, b = weights[-1]
        return torch.addmm(b, h, w.t()), hs  # (B, A)

    def _backward(self, weights: list[tuple[Tensor, Tensor]], hs: list[Tensor], dq: Tensor) -> None:
        d = dq  # ∂L/∂z of the layer being differentiated, (B, width)
        for k in range(len(weights) - 1, -1, -1):
            torch.mm(d.t(), hs[k], out=self.grads[2 * k])
            torch.sum(d, 0, out=self.grads[2 * k + 1])
            if k:
                d = relu_backward(d @ weights[k][0], hs[k])


def relu_backward(grad: Tensor, z: Tensor) -> Tensor:
    """grad ⊙ [z > 0] in one kernel (ReLU's backward; z may be the ReLU's input or its output)."""
    return torch.ops.aten.threshold_backward(grad, z, 0.0)


def mlp_layers(net: nn.Module) -> list[nn.Linear]:
    """The linear layers of an `MLPQNetwork` without LayerNorm, in order (the head last)."""
    if not isinstance(net, MLPQNetwork) or any(isinstance(m, nn.LayerNorm) for m in net.modules()):
        raise ValueError("the fused update covers MLPQNetwork without LayerNorm")
    return [m for m in net.body if isinstance(m, nn.Linear)] + [net.head]
