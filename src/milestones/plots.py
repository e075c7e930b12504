"""Figures shared by experiments and the report (matplotlib, no display needed)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def learning_curves(curves: Mapping[str, Sequence[tuple[float, float]]], path: str | Path, *,
                    title: str, ylabel: str, baseline: float | None = None,
                    baseline_label: str = "baseline", log_y: bool = True,
                    series: Mapping[str, str] | None = None, xlabel: str = "training step") -> Path:
    """One line per curve (label -> [(step, value), …]), a dashed baseline, saved as PNG.

    `series` maps a curve's label to its series (e.g. every seed of one model): the curves of a
    series share a colour and one legend entry.
    """
    series = series or {label: label for label in curves}
    colours = {name: f"C{k % 10}" for k, name in enumerate(dict.fromkeys(series.values()))}
    fig, ax = plt.subplots(figsize=(8.0, 4.2), dpi=110)
    labelled = set()
    for label, points in curves.items():
        if points:
            steps, values = zip(*points)
            name = series[label]
            ax.plot(steps, values, color=colours[name], linewidth=1.3, alpha=0.85,
                    label=None if name in labelled else name)
            labelled.add(name)
    if baseline is not None:
        ax.axhline(baseline, color="k", linestyle="--", linewidth=1, label=baseline_label)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def ntm_heatmaps(inputs, targets, outputs, weights, read_heads: int, path: str | Path, *,
                 title: str) -> Path:
    """The NTM paper's Figure 6: inputs, targets, outputs (channels × time) and each head's
    weighting (memory location × time), cropped to the locations the heads visit.

    inputs (T, X), targets and outputs (T, Y), weights (T, H, N) with the read heads first.
    """
    T, H, N = weights.shape
    used = (weights.amax(dim=(0, 1)) > 0.1).nonzero().flatten()  # ignore the diffuse initial w_0
    lo, hi = (max(0, int(used.min()) - 2), min(N, int(used.max()) + 3)) if len(used) else (0, N)
    panels = [("inputs", inputs.T), ("targets", targets.T), ("outputs", outputs.T)] + [
        (f"{'read' if h < read_heads else 'write'} head {h if h < read_heads else h - read_heads} "
         f"weighting (locations {lo}-{hi - 1})", weights[:, h, lo:hi].T) for h in range(H)]
    heights = [min(3.5, max(1.0, 0.1 * p[1].shape[0])) for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.0, sum(heights) + 0.8), dpi=110,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (name, image) in zip(axes[:, 0], panels):
        ax.imshow(image.detach().float().numpy(), aspect="auto", cmap="gray_r", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(name, fontsize=8, loc="left")
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, path)


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
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, color="C0", linewidths=0)
        ax.scatter(means[:, 0], means[:, 1], s=12, marker="x", color="C3", linewidths=0.8)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"step {step:,}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, path)


def eigenvalue_plot(eigenvalues: Mapping[str, Any], path: str | Path, *, title: str = "") -> Path:
    """Eigenvalues of the game's Jacobian in the complex plane, one panel per method (label ->
    complex tensor), on shared axes: large imaginary parts relative to real ones mean cycling."""
    n = len(eigenvalues)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), dpi=110, squeeze=False, sharex=True, sharey=True)
    for ax, (label, eig) in zip(axes[0], eigenvalues.items()):
        ax.scatter(eig.real, eig.imag, s=6, alpha=0.6, color="C0", linewidths=0)
        ax.axhline(0, color="k", linewidth=0.5)
        ax.axvline(0, color="k", linewidth=0.5)
        ax.set_xlabel("real part")
        ax.set_title(f"{label}\nmax |imag| {float(eig.imag.abs().max()):.3g}, "
                     f"min real {float(eig.real.min()):.3g}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("imaginary part")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


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
    return _save(fig, path)
