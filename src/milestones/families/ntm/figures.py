"""The NTM's figure: its heads at work on one input (the paper's Figure 6)."""
from __future__ import annotations

from pathlib import Path

from milestones.plots import plt, save_figure


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
    return save_figure(fig, path)
