"""GAN losses and penalties as small functions of logits / critic values, each one formula.

Every loss is one a player *minimises*. D and G write the discriminator's logits (D(x) = σ(logit))
on real data `real` and on generated data `fake`; f is a WGAN critic's unbounded output.

    minimax (Goodfellow 2014)      D: −E log σ(real) − E log(1 − σ(fake))      G: E log(1 − σ(fake))
    non-saturating (same paper)    G: −E log σ(fake)
    WGAN (Arjovsky 2017)           critic: E f(fake) − E f(real)                G: −E f(fake)
    gradient penalty (Gulrajani)   E (‖∇f(x̂)‖ − 1)²,  x̂ = α x + (1 − α) x~, one α ~ U[0, 1] per example
    R1 (Mescheder 2018)            E ‖∇_x D(x)‖² on real data (the caller multiplies by γ/2)

log σ(t) = −softplus(−t) and log(1 − σ(t)) = −softplus(t) keep every loss finite for any logit.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Minimax and non-saturating GANs alike: −E log σ(real) − E log(1 − σ(fake))."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss_minimax(fake: Tensor) -> Tensor:
    """The original game's G loss, E log(1 − σ(fake)): saturates when D rejects the fakes."""
    return -F.softplus(fake).mean()


def generator_loss_nonsaturating(fake: Tensor) -> Tensor:
    """−E log σ(fake): the same fixed point, strong gradients when D rejects the fakes."""
    return F.softplus(-fake).mean()


def critic_loss_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    """WGAN critic: E f(fake) − E f(real), minus the estimate of the Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def generator_loss_wasserstein(fake: Tensor) -> Tensor:
    """WGAN generator: −E f(fake)."""
    return -fake.mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint: every parameter clipped to [−c, c] in place."""
    if not c > 0:
        raise ValueError(f"clip value must be > 0, got {c!r}")
    for p in module.parameters():
        p.clamp_(-c, c)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, alpha: Tensor | None = None,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP: E (‖∇f(x̂)‖ − 1)² with x̂ = α real + (1 − α) fake and one α per example.

    real, fake (B, …); alpha (B,) drawn from U[0, 1] when not given. The norm is over all of an
    example's coordinates. The graph is kept (create_graph) so the penalty trains the critic.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    B = real.shape[0]
    if alpha is None:
        alpha = torch.rand(B, generator=generator).to(real.device)
    if alpha.shape != (B,):
        raise ValueError(f"alpha must have shape ({B},): one per example, got {tuple(alpha.shape)}")
    a = alpha.view(B, *([1] * (real.dim() - 1))).to(real.dtype)
    x_hat = (a * real + (1 - a) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(discriminator: nn.Module, real: Tensor) -> Tensor:
    """R1: E ‖∇_x D(x)‖² over real examples (D's logit); multiply by γ/2 for Mescheder 2018's term."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()
