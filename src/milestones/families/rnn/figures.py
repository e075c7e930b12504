"""The length sweep's figure: final loss against sequence length, per model."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from milestones.plots import plt, save_figure


def loss_against_length(lines: Mapping[str, Sequence[tuple[int, Sequence[float]]]],
                        baselines: Sequence[tuple[int, float]], path: str | Path, *, title: str,
                        ylabel: str, solved_fraction: float) -> Path:
    """Final loss against sequence length: per model (label -> [(T, [loss of each seed]), …]) a line
    through the seeds' mean and a dot per seed; the memoryless baseline (T -> value) dashed and the
    solved threshold (solved_fraction × baseline) dotted. Both axes logarithmic. A model named
    "X-same-params…" is drawn in the colour of "X…" with a dash-dot line."""
    import numpy as np
    from matplotlib.ticker import NullFormatter
    fig, ax = plt.subplots(figsize=(7.5, 4.4), dpi=110)
    bases = list(dict.fromkeys(label.replace("-same-params", "") for label in lines))
    for label, points in lines.items():
        colour = f"C{bases.index(label.replace('-same-params', '')) % 10}"
        Ts = [T for T, _ in points]
        ax.plot(Ts, [float(np.mean(v)) for _, v in points], color=colour, marker="o", markersize=3,
                linewidth=1.4, label=label, linestyle="-." if label.endswith("-same-params") else "-")
        for T, values in points:
            ax.scatter([T] * len(values), values, color=colour, s=9, alpha=0.5)
    bT, bv = zip(*baselines)
    ax.plot(bT, bv, color="k", linestyle="--", linewidth=1, label="memoryless baseline")
    ax.plot(bT, [solved_fraction * v for v in bv], color="k", linestyle=":", linewidth=1,
            label=f"solved: {solved_fraction:.0%} of the baseline")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(bT))
    ax.set_xticklabels([str(T) for T in bT])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("T (sequence length or delay)")
    ax.set_ylabel(f"final {ylabel}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
