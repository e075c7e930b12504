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
    if log_y and all(v > 0 for points in curves.values() for _, v in points):  # counts can be 0
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
    return _save(fig, path)


def eigenvalue_plot(eigenvalues: Mapping[str, Any], path: str | Path) -> Path:
    """Eigenvalues of the game's Jacobian in the complex plane, one panel per label (label ->
    complex tensor): large imaginary parts relative to real ones mean cycling."""
    n = len(eigenvalues)
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 3.8), dpi=110, squeeze=False, sharex=True, sharey=True)
    for k, (ax, (label, eig)) in enumerate(zip(axes[0], eigenvalues.items())):
        _eigenvalue_panel(ax, label, eig, f"C{k}")
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
    return _save(fig, path)


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
    return _save(fig, path)


def memory_attention(weights, sentences: Sequence[str], supporting: Sequence[int], path: str | Path, *,
                     title: str, rows: str = "hop") -> Path:
    """A heat map of weights (rows × statements), statements oldest first along the x axis with their
    text as labels; supporting statements are marked. MemN2N: one row per hop (attention); EntNet:
    one row per memory slot (gate activations)."""
    import numpy as np
    w = np.asarray(weights, dtype=float)
    n_rows, n = w.shape
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * n + 3), 1.6 + 0.28 * n_rows + 0.09 * max(map(len, sentences or [""]))),
                           dpi=110)
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
    return _save(fig, path)


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
    return _save(fig, path)


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
    return _save(fig, path)
