"""DCGAN-style players for 28×28 grey images (Radford, Metz & Chintala 2016, sized for Fashion-MNIST).

    G: z (z_dim) → linear → 2w × 7 × 7 → [BN] ReLU → deconv 4×4/2 → w × 14 × 14 → [BN] ReLU
       → deconv 4×4/2 → 1 × 28 × 28 → tanh (images in [−1, 1])
    D: 1 × 28 × 28 → conv 4×4/2 → w × 14 × 14 → LeakyReLU(0.2) → conv 4×4/2 → 2w × 7 × 7
       → LeakyReLU(0.2) → linear → one logit / critic value

D has no batch norm: a WGAN-GP critic must not (the penalty is per example; Gulrajani et al. §4)
and consensus optimization's double backprop is simplest without it (the Numerics' CIFAR nets
have none). G's batch norm is an option (DCGAN's choice; off for consensus, as in the Numerics).
"""
from __future__ import annotations

from torch import Tensor, nn


class Generator(nn.Module):
    def __init__(self, z_dim: int = 64, width: int = 32, batchnorm: bool = True) -> None:
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())  # noqa: E731
        self.z_dim, self.width = z_dim, width
        self.project = nn.Linear(z_dim, 2 * width * 7 * 7)
        self.body = nn.Sequential(
            norm(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), norm(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.project(z).view(-1, 2 * self.width, 7, 7))


class Discriminator(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(-1)
