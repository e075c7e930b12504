"""Consensus optimization (Mescheder, Nowozin & Geiger 2017, The Numerics of GANs, §4).

Each player descends its own loss: v = (∇_φ L_D, ∇_θ L_G) is the joint gradient field. Consensus
optimization adds −γ ∇L to both players' updates, with L = ½ ‖v‖², so each player's gradient becomes

    v + γ ∇_(φ, θ) ½ ‖v‖²

computed with double backpropagation. Any base optimiser (RMSProp, Adam, SGD) then steps on these
gradients. γ = 0 is simultaneous gradient descent.

Build D's loss from generated samples that are *not* detached: D's gradient depends on G's
parameters through them, and ∇_θ ½‖v‖² must see that (a detached fake silently drops the term;
the test against finite differences catches it).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def consensus_gradients(loss_d: Tensor, loss_g: Tensor, params_d: Sequence[Tensor], params_g: Sequence[Tensor],
                        gamma: float) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """The two players' gradients v + γ ∇½‖v‖² (lists matching params_d and params_g) and
    L = ½‖v‖² (detached, worth logging: it is 0 exactly at a stationary point of the game)."""
    if not gamma >= 0:
        raise ValueError(f"gamma must be ≥ 0, got {gamma!r}")
    params_d, params_g = list(params_d), list(params_g)
    keep = gamma > 0
    v_d = torch.autograd.grad(loss_d, params_d, create_graph=keep, retain_graph=True, allow_unused=True)
    v_g = torch.autograd.grad(loss_g, params_g, create_graph=keep, allow_unused=True)
    v = [torch.zeros_like(p) if g is None else g for g, p in zip(v_d + v_g, params_d + params_g)]
    half_norm = 0.5 * sum(g.pow(2).sum() for g in v)
    if keep:
        grads = torch.autograd.grad(half_norm, params_d + params_g, allow_unused=True)
        v = [g + gamma * (0 if h is None else h) for g, h in zip(v, grads)]
    v = [g.detach() for g in v]
    return v[:len(params_d)], v[len(params_d):], half_norm.detach()


def consensus_step(loss_d: Tensor, loss_g: Tensor, params_d: Sequence[Tensor], params_g: Sequence[Tensor],
                   gamma: float) -> Tensor:
    """Write the consensus gradients into the parameters' .grad, ready for any torch optimiser's
    step(), and return L = ½‖v‖²."""
    params_d, params_g = list(params_d), list(params_g)
    g_d, g_g, half_norm = consensus_gradients(loss_d, loss_g, params_d, params_g, gamma)
    for p, g in zip(params_d + params_g, g_d + g_g):
        p.grad = g
    return half_norm


def game_jacobian(loss_d: Tensor, loss_g: Tensor, params_d: Sequence[Tensor],
                  params_g: Sequence[Tensor]) -> Tensor:
    """The Jacobian ∂v/∂(φ, θ) of the joint gradient field v = (∇_φ L_D, ∇_θ L_G), (n, n) for n
    parameters in all, one row per backward pass (small models: the Numerics' 4×16 MLPs)."""
    params = list(params_d) + list(params_g)
    v_d = torch.autograd.grad(loss_d, list(params_d), create_graph=True, retain_graph=True, allow_unused=True)
    v_g = torch.autograd.grad(loss_g, list(params_g), create_graph=True, retain_graph=True, allow_unused=True)
    v = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(v_d + v_g, params)])
    rows = []
    for i in range(v.numel()):
        grads = torch.autograd.grad(v[i], params, retain_graph=True, allow_unused=True) if v[i].requires_grad \
            else [None] * len(params)
        rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)]))
    return torch.stack(rows).detach()


def jacobian_eigenvalues(loss_d: Tensor, loss_g: Tensor, params_d: Sequence[Tensor],
                         params_g: Sequence[Tensor]) -> Tensor:
    """Complex eigenvalues of `game_jacobian`: large imaginary parts mean the players cycle
    (the Numerics of GANs' central argument); consensus optimization shrinks them."""
    return torch.linalg.eigvals(game_jacobian(loss_d, loss_g, params_d, params_g).double())
