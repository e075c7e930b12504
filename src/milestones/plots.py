"""Figures the core draws (learning curves) and the one way every figure is saved (matplotlib, no
display needed). A family's own figures live in its package and save through `save_figure`."""
from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _Pyplot:
    """`matplotlib.pyplot`, imported on first use with the Agg backend (files, no display): the
    import takes 0.6 s, a sixth of every command's start, and most commands draw nothing."""

    _module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if _Pyplot._module is None:
            import matplotlib
            matplotlib.use("Agg")
            _Pyplot._module = importlib.import_module("matplotlib.pyplot")
        return getattr(_Pyplot._module, name)


if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
else:
    plt = _Pyplot()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save `fig` as PNG at `path` (folders made as needed) and close it."""
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
    if log_y and all(v > 0 for points in curves.values() for _, v in points):  # counts can be 0
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
