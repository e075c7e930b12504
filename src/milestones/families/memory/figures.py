"""The memory networks' figures: attention or gates over a story, and the gradient reaching each
memory slot over training."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from milestones.plots import plt, save_figure


def memory_attention(weights, sentences: Sequence[str], supporting: Sequence[int], path: str | Path, *,
                     title: str, rows: str = "hop") -> Path:
    """A heat map of weights (rows × statements), statements oldest first along the x axis with their
    text as labels; supporting statements are marked. MemN2N: one row per hop (attention); EntNet:
    one row per memory slot (gate activations)."""
    import numpy as np
    w = np.asarray(weights, dtype=float)
    n_rows, n = w.shape
    height = 1.6 + 0.28 * n_rows + 0.09 * max(map(len, sentences or [""]))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * n + 3), height), dpi=110)
    im = ax.imshow(w, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(1e-9, float(w.max())))
    ax.set_xticks(range(n))
    ax.set_xticklabels(sentences, rotation=60, ha="right", fontsize=7)
    for s in supporting:
        if 0 <= s < n:
            ax.get_xticklabels()[s].set_color("C3")
            ax.get_xticklabels()[s].set_fontweight("bold")
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels([f"{rows} {r + 1}" for r in range(n_rows)], fontsize=7)
    import textwrap
    ax.set_title(textwrap.fill(title, 70), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01, label="attention" if rows == "hop" else "gate")
    fig.tight_layout()
    return save_figure(fig, path)


def gradient_flow_figure(columns: Mapping[str, Mapping[str, Any]], path: str | Path, *, title: str,
                         window: int = 25) -> Path:
    """The gradient reaching memory over training, one column per model (lecture claim 3).

    Each column: `update` (1, 2, …) and per update `top_share`, `starved`, `sentence_starved`,
    `jump`, `top_switch`, `grad_change`, `ranks` (the gradient share of the most-read slots by read
    rank) and `valid` [(update, validation error %)]. Rows: (1) the top slot's share of the
    gradient and the starved slots and statements; (2) the jumps between consecutive updates;
    (3) the share by read rank as a heat map. Lines are running means over `window` updates.
    """
    import numpy as np

    def smooth(values):
        v = np.asarray(values, dtype=float)
        if len(v) < 2:
            return v
        kernel = np.ones(min(window, len(v))) / min(window, len(v))
        head = np.array([np.nanmean(v[:k + 1]) for k in range(min(window, len(v)) - 1)])
        return np.concatenate([head, np.convolve(v, kernel, mode="valid")])

    names = list(columns)
    fig, axes = plt.subplots(3, len(names), figsize=(4.2 * len(names), 8.4), dpi=110, squeeze=False,
                             sharex="col")
    for c, name in enumerate(names):
        col = columns[name]
        x = np.asarray(col["update"])
        ax = axes[0, c]
        ax.plot(x, smooth(col["top_share"]), color="C3", label="top-read slot's share of the gradient")
        ax.plot(x, smooth(col["starved"]), color="C0", label="slots with < 1 % of the largest slot's gradient")
        ax.plot(x, smooth(col["sentence_starved"]), color="C0", linestyle=":",
                label="statements with < 1 % of the largest statement's gradient")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(name, fontsize=10)
        if col.get("valid"):
            twin = ax.twinx()
            vx, vy = zip(*col["valid"])
            twin.plot(vx, vy, color="0.5", linewidth=0.8, linestyle="--", label="validation error (%)")
            twin.set_ylim(0, 100)
            twin.tick_params(labelsize=7, colors="0.4")
        ax = axes[1, c]
        ax.plot(x, smooth(col["jump"]), color="C2", label="jump: total variation of the slot shares")
        ax.plot(x, smooth(col["top_switch"]), color="C4", label="top-read slot switched (share of questions)")
        ax.plot(x, np.minimum(smooth(col["grad_change"]), 2.0), color="C1",
                label="relative change of the probe gradient (capped at 2)")
        ax.set_ylim(-0.02, 2.02)
        ax = axes[2, c]
        ranks = np.asarray(col["ranks"], dtype=float).T  # (ranks, updates)
        im = ax.imshow(ranks, aspect="auto", cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest",
                       extent=(x[0] - 0.5, x[-1] + 0.5, ranks.shape[0] - 0.5, -0.5))
        if c == len(names) - 1:
            fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, label="share of the gradient")
        ax.set_xlabel("update")
        ax.set_ylabel("slot by read rank (0: most read)", fontsize=8)
        for r in (0, 1):
            axes[r, c].grid(alpha=0.3)
            axes[r, c].tick_params(labelsize=8)
    handles = [h for r in (0, 1) for h in axes[r, 0].get_legend_handles_labels()[0]]
    labels = [lab for r in (0, 1) for lab in axes[r, 0].get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.005))
    fig.suptitle(title + f" (running means over {window} updates; dashed grey: validation error, right axis)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.09, 1, 0.97))
    return save_figure(fig, path)
