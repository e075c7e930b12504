"""The GANs' figures: samples over training, the eigenvalues of the game's Jacobian, image grids,
and the Numerics of GANs' figure that puts the first two side by side."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from milestones.plots import plt, save_figure


def _sample_panel(ax, step: int, points, means, limit: float, colour: str) -> None:
    """Generated 2D points over the data's means (black crosses), square, without ticks."""
    ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, color=colour, linewidths=0)
    ax.scatter(means[:, 0], means[:, 1], s=10, marker="x", color="k", linewidths=0.7)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"step {step:,}", fontsize=7)


def _eigenvalue_panel(ax, label: str, eig, colour: str) -> None:
    """Eigenvalues in the complex plane on symmetric-log axes (linear within ±0.001)."""
    ax.scatter(eig.real, eig.imag, s=5, alpha=0.6, color=colour, linewidths=0)
    ax.set_xscale("symlog", linthresh=1e-3)  # the methods' eigenvalues differ by orders of magnitude
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.axhline(0, color="k", linewidth=0.5)
    ax.axvline(0, color="k", linewidth=0.5)
    ax.set_xlabel("real part", fontsize=8)
    ax.set_ylabel("imaginary part", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.set_title(f"{label}: Jacobian eigenvalues at the end\nmax |imag| {float(eig.imag.abs().max()):.3g}, "
                 f"min real {float(eig.real.min()):.3g}", fontsize=8)


def sample_strip(snapshots: Sequence[tuple[int, Any]], means, path: str | Path, *, title: str,
                 limit: float) -> Path:
    """Generated 2D samples over training, one panel per (step, samples (n, 2)), over the data's
    means (red crosses): the Numerics of GANs' Figure 4 strip."""
    n = max(1, len(snapshots))
    cols = min(n, 9)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.8 * rows + 0.3), dpi=110, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (step, points) in zip(axes.flat, snapshots):
        ax.set_axis_on()
        _sample_panel(ax, step, points, means, limit, "C0")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, path)


def eigenvalue_plot(eigenvalues: Mapping[str, Any], path: str | Path) -> Path:
    """Eigenvalues of the game's Jacobian in the complex plane, one panel per label (label ->
    complex tensor): large imaginary parts relative to real ones mean cycling."""
    n = len(eigenvalues)
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 3.8), dpi=110, squeeze=False, sharex=True, sharey=True)
    for k, (ax, (label, eig)) in enumerate(zip(axes[0], eigenvalues.items())):
        _eigenvalue_panel(ax, label, eig, f"C{k}")
    fig.tight_layout()
    return save_figure(fig, path)


def image_grid(images, path: str | Path, *, title: str, nrow: int = 8) -> Path:
    """Images (n, 1, H, W) in [−1, 1] as one grey grid."""
    import numpy as np
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy()
    n, _, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    canvas = np.ones((rows * (h + 2) + 2, nrow * (w + 2) + 2))
    for k in range(n):
        r, c = divmod(k, nrow)
        canvas[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = x[k, 0]
    fig, ax = plt.subplots(figsize=(nrow * 0.45 + 0.4, rows * 0.45 + 0.6), dpi=110)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def image_rows(rows: Sequence[tuple[int, Any]], path: str | Path, *, title: str) -> Path:
    """One row of images (n, 1, H, W) in [−1, 1] per training step: samples of fixed noise over training."""
    import numpy as np
    n = max(len(images) for _, images in rows)
    h, w = rows[0][1].shape[-2:]
    fig, axes = plt.subplots(len(rows), 1, figsize=(n * 0.45 + 1.0, len(rows) * 0.5 + 0.5), dpi=110, squeeze=False)
    for ax, (step, images) in zip(axes[:, 0], rows):
        x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy()
        strip = np.ones((h, n * (w + 2)))
        for k in range(len(x)):
            strip[:, k * (w + 2):k * (w + 2) + w] = x[k, 0]
        ax.imshow(strip, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"{step:,}", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return save_figure(fig, path)


def numerics_figure(methods: Mapping[str, tuple[Sequence[tuple[int, Any]], Any]], means, path: str | Path,
                    *, limit: float = 1.6, columns: int = 9) -> Path:
    """The Numerics of GANs' argument in one figure: per method (label -> (snapshots, eigenvalues))
    a row of sample snapshots over training, then the eigenvalues of each in the complex plane
    (symmetric-log axes, linear within ±0.001, shared by the methods)."""
    n = len(methods)
    fig = plt.figure(figsize=(1.6 * columns, 1.75 * n + 3.6), dpi=110)
    grid = fig.add_gridspec(n + 1, columns, height_ratios=[1] * n + [2.1])
    eig_axes = []
    for row, (label, (snapshots, eig)) in enumerate(methods.items()):
        chosen = list(snapshots)
        if len(chosen) > columns:
            idx = [round(k * (len(chosen) - 1) / (columns - 1)) for k in range(columns)]
            chosen = [chosen[i] for i in idx]
        for col, (step, points) in enumerate(chosen):
            ax = fig.add_subplot(grid[row, col])
            _sample_panel(ax, step, points, means, limit, f"C{row}")
            if col == 0:
                ax.set_ylabel(label, fontsize=7)
        half = columns // n
        ax = fig.add_subplot(grid[n, row * half:(row + 1) * half if row < n - 1 else columns],
                             sharex=eig_axes[0] if eig_axes else None, sharey=eig_axes[0] if eig_axes else None)
        eig_axes.append(ax)
        _eigenvalue_panel(ax, label, eig, f"C{row}")
    fig.tight_layout()
    return save_figure(fig, path)
