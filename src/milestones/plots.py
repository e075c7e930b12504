"""Figures shared by experiments and the report (matplotlib, no display needed)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def learning_curves(curves: Mapping[str, Sequence[tuple[float, float]]], path: str | Path, *,
                    title: str, ylabel: str, baseline: float | None = None,
                    baseline_label: str = "baseline", log_y: bool = True) -> Path:
    """One line per curve (label -> [(step, value), …]), a dashed baseline, saved as PNG."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    for label, points in curves.items():
        if points:
            steps, values = zip(*points)
            ax.plot(steps, values, label=label, linewidth=1.4)
    if baseline is not None:
        ax.axhline(baseline, color="k", linestyle="--", linewidth=1, label=baseline_label)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
