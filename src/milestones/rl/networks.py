"""Q-networks: one output per action, Q(s, ·).

    NatureQNetwork   Mnih et al. 2015, Methods "Model architecture": the (4, 84, 84) uint8 stack
                     scaled to [0, 1] → conv 32 8×8 stride 4 → conv 64 4×4 stride 2 → conv 64 3×3
                     stride 1 → fc 512 → one linear output per action; ReLU after every hidden layer.
    MinAtarQNetwork  Young & Tian 2019 (the MinAtar paper's DQN): (C, 10, 10) binary → conv 16 3×3
                     stride 1 → fc 128 → actions.
    MLPQNetwork      CartPole: obs → 120 → 84 → actions (CleanRL's dqn.py sizes).

`layer_norm=True` puts a LayerNorm before each hidden ReLU (PQN, Gallici et al. 2024, which trains
without a target network and relies on it). `forward(x, hidden=True)` also returns the last hidden
layer (the 512 units of Nature Fig. 4's t-SNE). `q_of_one(net)` is Q(s, ·) of one observation for
acting: for a CPU `MLPQNetwork` or `MinAtarQNetwork` without LayerNorm it is the same products in
NumPy, several times faster than a module call at these sizes (an agent acts once per step and plays
whole evaluation episodes, so on CartPole the calls cost more than the learning). Shapes: B batch, A actions.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn


def im2col_index(channels: int, size: int = 10, kernel: int = 3) -> Tensor:
    """Indices into a flattened (size, size, C) state giving, for each of the (size − kernel + 1)²
    output positions, the kernel's inputs in Conv2d's weight order (c, kh, kw): (positions, 9C)."""
    out = size - kernel + 1
    i, j = torch.meshgrid(torch.arange(out), torch.arange(out), indexing="ij")  # output position
    c, kh, kw = torch.meshgrid(torch.arange(channels), torch.arange(kernel), torch.arange(kernel), indexing="ij")
    rows = i.reshape(-1, 1) + kh.reshape(1, -1)
    cols = j.reshape(-1, 1) + kw.reshape(1, -1)
    return ((rows * size + cols) * channels + c.reshape(1, -1)).long()


def _hidden(layer: nn.Module, features: int, layer_norm: bool, conv: bool = False) -> list[nn.Module]:
    if not layer_norm:
        return [layer, nn.ReLU()]
    norm = nn.GroupNorm(1, features) if conv else nn.LayerNorm(features)  # one group: LayerNorm over C, H, W
    return [layer, norm, nn.ReLU()]


class QNetwork(nn.Module):
    """`body` (observations → the last hidden layer, (B, H)) and a linear `head` (H → A)."""

    body: nn.Module
    head: nn.Linear

    def forward(self, x: Tensor, hidden: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        h = self.body(self.prepare(x))  # (B, H)
        q = self.head(h)  # (B, A)
        return (q, h) if hidden else q

    def prepare(self, x: Tensor) -> Tensor:
        return x.to(self.head.weight.dtype)


class NatureQNetwork(QNetwork):
    def __init__(self, actions: int, frames: int = 4, layer_norm: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_hidden(nn.Conv2d(frames, 32, 8, stride=4), 32, layer_norm, conv=True),  # (B, 32, 20, 20)
            *_hidden(nn.Conv2d(32, 64, 4, stride=2), 64, layer_norm, conv=True),  # (B, 64, 9, 9)
            *_hidden(nn.Conv2d(64, 64, 3, stride=1), 64, layer_norm, conv=True),  # (B, 64, 7, 7)
            nn.Flatten(),  # (B, 3136)
            *_hidden(nn.Linear(64 * 7 * 7, 512), 512, layer_norm))  # (B, 512)
        self.head = nn.Linear(512, actions)

    def prepare(self, x: Tensor) -> Tensor:
        return x.to(self.head.weight.dtype) / 255.0  # uint8 (B, 4, 84, 84) → [0, 1]


class MinAtarQNetwork(QNetwork):
    def __init__(self, channels: int, actions: int, layer_norm: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_hidden(nn.Conv2d(channels, 16, 3, stride=1), 16, layer_norm, conv=True),  # (B, 16, 8, 8)
            nn.Flatten(),  # (B, 1024)
            *_hidden(nn.Linear(16 * 8 * 8, 128), 128, layer_norm))  # (B, 128)
        self.head = nn.Linear(128, actions)

    def prepare(self, x: Tensor) -> Tensor:
        return x.to(self.head.weight.dtype).permute(0, 3, 1, 2)  # MinAtar's (B, 10, 10, C) → (B, C, 10, 10)


class MLPQNetwork(QNetwork):
    def __init__(self, inputs: int, actions: int, hidden: tuple[int, ...] = (120, 84),
                 layer_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += _hidden(nn.Linear(inputs, width), width, layer_norm)
            inputs = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(inputs, actions)


def q_of_one(net: QNetwork, device: torch.device | str = "cpu") -> Callable[[np.ndarray], np.ndarray | Tensor]:
    """obs (one observation) → Q(obs, ·) (A,). The NumPy path reads the parameters' memory, so it
    follows in-place updates (optimizers, `load_state_dict`); build it again if a parameter's
    tensor is replaced."""
    numpy_ok = (isinstance(net, (MLPQNetwork, MinAtarQNetwork))
                and not any(isinstance(m, (nn.LayerNorm, nn.GroupNorm)) for m in net.modules())
                and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters()))
    if not numpy_ok:
        @torch.no_grad()
        def q_module(obs: np.ndarray) -> Tensor:
            return net(torch.as_tensor(np.asarray(obs), device=device).unsqueeze(0))[0]
        return q_module
    if isinstance(net, MinAtarQNetwork):
        return _minatar_q_numpy(net)
    layers = [m for m in net.body if isinstance(m, nn.Linear)] + [net.head]
    weights = [(layer.weight.detach().numpy(), layer.bias.detach().numpy()) for layer in layers]

    def q_numpy(obs: np.ndarray) -> np.ndarray:
        h = np.asarray(obs, np.float32).reshape(-1)
        for w, b in weights[:-1]:
            h = np.maximum(w @ h + b, 0.0)
        return weights[-1][0] @ h + weights[-1][1]
    return q_numpy


def _minatar_q_numpy(net: MinAtarQNetwork) -> Callable[[np.ndarray], np.ndarray]:
    """The MinAtar network on one (10, 10, C) observation in NumPy: the convolution as the 64 output
    positions' 3×3×C patches times W₁ (16, 9C), flattened channel-major as nn.Flatten does."""
    conv, fc = net.body[0], net.body[3]
    w1 = conv.weight.detach().numpy().reshape(conv.out_channels, -1)  # views of the parameters' memory
    b1, w2, b2 = conv.bias.detach().numpy(), fc.weight.detach().numpy(), fc.bias.detach().numpy()
    w3, b3 = net.head.weight.detach().numpy(), net.head.bias.detach().numpy()
    index = im2col_index(conv.in_channels).numpy()  # (64, 9C)

    def q_numpy(obs: np.ndarray) -> np.ndarray:
        patches = np.asarray(obs, np.float32).reshape(-1)[index]  # (64, 9C)
        h1 = np.maximum(w1 @ patches.T + b1[:, None], 0.0).reshape(-1)  # (16, 64) → 1024, channel-major
        h2 = np.maximum(w2 @ h1 + b2, 0.0)
        return w3 @ h2 + b3
    return q_numpy
