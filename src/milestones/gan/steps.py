"""One training step of a GAN, composed from a loss pair and an update scheme.

    losses:  "gan"  — D: −E log σ(D(x)) − E log(1 − σ(D(G(z)))), G: −E log σ(D(G(z))) (non-saturating)
             "wgan" — critic: E f(G(z)) − E f(x), G: −E f(G(z))
    schemes: simultaneous — both players step on gradients taken at the same point; with γ > 0 the
             gradients are consensus optimization's v + γ∇½‖v‖² (γ = 0: simultaneous gradient descent)
             alternating — D steps first (`discriminator_step`: n_critic times for a WGAN, with
             weight clipping or a gradient penalty), then G steps against the updated D

The Numerics of GANs' networks are `mlp(…)`: 4 hidden ReLU layers of 16 units.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from milestones.gan import losses
from milestones.gan.consensus import consensus_step

LOSSES = {"gan": (losses.discriminator_loss, losses.generator_loss_nonsaturating),
          "wgan": (losses.critic_loss_wasserstein, losses.generator_loss_wasserstein)}
LossName = Literal["gan", "wgan"]


def mlp(inputs: int, outputs: int, hidden: int = 16, layers: int = 4) -> nn.Sequential:
    """`layers` hidden ReLU layers of `hidden` units, then a linear output."""
    mods: list[nn.Module] = []
    for k in range(layers):
        mods += [nn.Linear(inputs if k == 0 else hidden, hidden), nn.ReLU()]
    mods.append(nn.Linear(hidden if layers else inputs, outputs))
    return nn.Sequential(*mods)


def _check(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")


Penalty = Callable[[Tensor, Tensor], Tensor]  # (real, fake) -> a term added to D's loss


def simultaneous_step(G: nn.Module, D: nn.Module, x: Tensor, z: Tensor, opt_d: torch.optim.Optimizer,
                      opt_g: torch.optim.Optimizer, loss: LossName = "gan", gamma: float = 0.0,
                      penalty: Penalty | None = None) -> dict[str, float]:
    """Both players step on gradients taken at the same parameters; γ > 0 is consensus optimization.
    `penalty(real, fake)` (e.g. R1) is added to D's loss before the gradients are taken."""
    _check(loss)
    d_loss_fn, g_loss_fn = LOSSES[loss]
    fake = G(z)  # not detached: consensus needs D's gradient as a function of G's parameters
    d_fake = D(fake)
    loss_d, loss_g = d_loss_fn(D(x), d_fake), g_loss_fn(d_fake)
    total_d = loss_d + penalty(x, fake) if penalty is not None else loss_d
    half_norm = consensus_step(total_d, loss_g, D.parameters(), G.parameters(), gamma)
    opt_d.step()
    opt_g.step()
    return {"d_loss": loss_d.item(), "g_loss": loss_g.item(), "half_norm_v": half_norm.item()}


def discriminator_step(G: nn.Module, D: nn.Module, x: Tensor, z: Tensor, opt_d: torch.optim.Optimizer,
                       loss: LossName = "gan", penalty: Penalty | None = None, clip: float = 0.0) -> float:
    """One step of D (or the critic) on real `x` and fakes G(z) (detached); `penalty(real, fake)`
    is added to its loss (WGAN-GP's λ·GP, R1), and with `clip` > 0 its weights are clipped to
    [−clip, clip] after the step (WGAN). Returns D's loss without the penalty."""
    _check(loss)
    with torch.no_grad():
        fake = G(z)
    loss_d = LOSSES[loss][0](D(x), D(fake))
    total = loss_d + penalty(x, fake) if penalty is not None else loss_d
    opt_d.zero_grad(set_to_none=True)
    total.backward()
    opt_d.step()
    if clip > 0:
        losses.clip_weights_(D, clip)
    return loss_d.item()


def generator_step(G: nn.Module, D: nn.Module, z: Tensor, opt_g: torch.optim.Optimizer,
                   loss: LossName = "gan") -> float:
    """One step of G against the current D; D's parameters get no gradient."""
    _check(loss)
    D.requires_grad_(False)
    try:
        loss_g = LOSSES[loss][1](D(G(z)))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
    finally:
        D.requires_grad_(True)
    opt_g.step()
    return loss_g.item()


def alternating_step(G: nn.Module, D: nn.Module, x: Tensor, z: Tensor, opt_d: torch.optim.Optimizer,
                     opt_g: torch.optim.Optimizer, loss: LossName = "gan") -> dict[str, float]:
    """D steps on the current fakes, then G steps against the updated D (same z)."""
    loss_d = discriminator_step(G, D, x, z, opt_d, loss)
    return {"d_loss": loss_d, "g_loss": generator_step(G, D, z, opt_g, loss)}


@torch.no_grad()
def ema_update_(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average ← decay · average + (1 − decay) · model, parameter by parameter (buffers copied):
    the generator weight average of Mescheder et al. 2018 (decay 0.999)."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)
    for a, b in zip(average.buffers(), model.buffers()):
        a.copy_(b)


def critic_steps(generator_step: int, n_critic: int = 5, official: bool = False) -> int:
    """Critic updates before generator update number `generator_step` (counted from 0).

    WGAN's Algorithm 1 uses n_critic (5) throughout; the official code ("official schedule") gives
    the critic 100 steps while fewer than 25 generator steps have been taken and at every 500th.
    """
    if generator_step < 0 or n_critic < 1:
        raise ValueError(f"generator_step must be ≥ 0 and n_critic ≥ 1, got {generator_step} and {n_critic}")
    if official and (generator_step < 25 or generator_step % 500 == 0):
        return 100
    return n_critic
