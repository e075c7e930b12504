"""Figures shared by experiments and the report (matplotlib, no display needed)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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
