"""Optimisers that the papers use and torch lacks.

Graves 2013 RMSProp ("Generating Sequences With Recurrent Neural Networks", eqs. 38-41), used by
the Neural Turing Machine paper: centered, with momentum, and ε inside the square root:
    n_i = ℵ n_i + (1 − ℵ) (∂L/∂w_i)²
    g_i = ℵ g_i + (1 − ℵ) ∂L/∂w_i
    Δ_i = ℶ Δ_i − ג ∂L/∂w_i / √(n_i − g_i² + ℷ)
    w_i = w_i + Δ_i
with ℵ = 0.95 (alpha), ℶ = 0.9 (momentum), ג the learning rate, ℷ = 1e-4 (eps). torch's
RMSprop(centered=True) adds ε outside the square root, which differs at small n − g².

StableAdam: Adam with per-tensor update clipping (AdaFactor's, Shazeer & Stern 2018 §6; StableAdamW,
Wortsman et al. 2023, Algorithm 2, without weight decay). For a tensor θ with gradient g at step t:
    m_t = β1 m_{t−1} + (1 − β1) g,      m̂_t = m_t / (1 − β1^t)
    v_t = β2 v_{t−1} + (1 − β2) g²,     v̂_t = v_t / (1 − β2^t)
    RMS_t = √ mean(g² / max(v̂_t, ε²))                  (over the tensor's elements)
    θ ← θ − lr / max(1, RMS_t) · m̂_t / (√v̂_t + ε)
Adam divides each weight's step by its own running gradient scale, so a gradient spike that a
clip of the global norm has scaled down still moves every weight whose gradients were small by up
to ~3 lr (m̂ jumps by (1 − β1) g, √v̂ only by √(1 − β2) |g|). RMS_t measures how far g lies above
what v̂ has seen; dividing the step by it keeps such a step at Adam's usual size. Without spikes
RMS_t stays near 1 and the optimiser is Adam.

clip_grad_norm: torch.nn.utils.clip_grad_norm_ whose norm does not overflow. torch sums the squared
gradients in their own precision, so float32 gradients whose global norm exceeds ~1.8e19 give an
infinite norm (and clipping by it zeroes them), although every gradient is finite.
"""
from __future__ import annotations

import torch


class GravesRMSprop(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-4, alpha: float = 0.95, momentum: float = 0.9,
                 eps: float = 1e-4) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        super().__init__(params, {"lr": lr, "alpha": alpha, "momentum": momentum, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            a, m, lr, eps = group["alpha"], group["momentum"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["n"], st["g"], st["delta"] = (torch.zeros_like(p) for _ in range(3))
                grad, n, g, delta = p.grad, st["n"], st["g"], st["delta"]
                n.mul_(a).addcmul_(grad, grad, value=1 - a)  # n = ℵ n + (1 − ℵ) ∂²
                g.mul_(a).add_(grad, alpha=1 - a)  # g = ℵ g + (1 − ℵ) ∂
                denom = (n - g * g + eps).sqrt_()  # √(n − g² + ℷ)
                delta.mul_(m).addcdiv_(grad, denom, value=-lr)  # Δ = ℶ Δ − ג ∂ / √(…)
                p.add_(delta)
        return loss


class StableAdam(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if not all(0 <= b < 1 for b in betas) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            (b1, b2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["step"] += 1
                t, grad, m, v = st["step"], p.grad, st["m"], st["v"]
                m.mul_(b1).add_(grad, alpha=1 - b1)  # m_t
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)  # v_t
                v_hat = v / (1 - b2 ** t)
                rms = (grad * grad / v_hat.clamp(min=eps * eps)).mean().sqrt()  # RMS_t
                step_size = lr / (1 - b1 ** t) / rms.clamp(min=1.0)  # lr / max(1, RMS_t), m̂ = m / (1 − β1^t)
                p.addcdiv_(m * -step_size, v_hat.sqrt_().add_(eps))
        return loss


@torch.no_grad()
def clip_grad_norm(params, max_norm: float) -> torch.Tensor:
    """Clip the gradients of `params` to global norm `max_norm` in place; returns their norm before
    clipping. Bit for bit torch.nn.utils.clip_grad_norm_ (its two halves, get_total_norm and
    clip_grads_with_norm_, torch >= 2.6) wherever that norm is finite. Where it is not but every
    gradient is (the sum of squares overflowed, as an NTM's gradient of ~7e19 did after 265 000
    training sequences), the norm is taken in float64 and the gradients are scaled by
    max_norm / norm in float64, where torch would have zeroed them. A gradient that is itself
    inf or nan leaves the gradients alone and returns a norm that is not finite, for the caller to
    stop on."""
    params = [p for p in params if p.grad is not None]
    grads = [p.grad for p in params]
    if not grads:
        return torch.tensor(0.0)
    total = getattr(torch.nn.utils, "get_total_norm", None)
    norm = total(grads) if total else torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if torch.isfinite(norm):
        if hasattr(torch.nn.utils, "clip_grads_with_norm_"):
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
        else:  # torch < 2.6: its formula
            coef = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
            for g in grads:
                g.mul_(coef)
        return norm
    if not all(bool(torch.isfinite(g).all()) for g in grads):
        return norm
    wide = torch.stack([g.double().pow(2).sum() for g in grads]).sum().sqrt()
    scale = min(1.0, max_norm / (wide.item() + 1e-6))
    for g in grads:
        g.copy_(g.double() * scale)
    return wide


class SpikeClip:
    """Clip the global gradient norm to `factor` times its running average.

    A fixed norm clip cannot tell a spike from a normal step once the gradients have shrunk by
    orders of magnitude: a nearly converged NTM has norms near 0.2, and one badly copied sequence
    gives 20 — far below a clip of 50, yet enough for Adam (whose second moment has adapted to the
    small norms) to take a step large enough to undo training. This clip follows the norm's scale:
    the threshold is `factor` × an exponential average (decay `decay`) of the clipped norms, so a
    spike moves the average little. The same idea as AutoClip (Seetharaman et al. 2020), which
    clips at a percentile of the history. The first step sets the average and is not clipped.
    """

    def __init__(self, factor: float, decay: float = 0.99) -> None:
        if not factor > 1:
            raise ValueError(f"factor must be > 1, got {factor!r}")
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay!r}")
        self.factor, self.decay, self.average = factor, decay, None

    @torch.no_grad()
    def __call__(self, params, norm: float) -> bool:
        """Scale the gradients of `params`, whose global norm is `norm`, in place if they spike;
        returns whether they were clipped."""
        if self.average is None:
            self.average = norm
            return False
        threshold = self.factor * self.average
        clipped = norm > threshold
        if clipped:
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(threshold / norm)
        self.average = self.decay * self.average + (1 - self.decay) * min(norm, threshold)
        return clipped

    def state_dict(self) -> dict[str, float | None]:
        return {"average": self.average}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        self.average = state.get("average")
