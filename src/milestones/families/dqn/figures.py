"""The DQN family's figures: returns against training with the paper's and the human's scores, the
t-SNE of the last hidden layer coloured by the predicted value (Nature Fig. 4), and one evaluation
episode as an animated GIF."""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from milestones.plots import plt, save_figure


def returns_figure(curves: Mapping[str, Sequence[tuple[float, float]]], path: str | Path, *, title: str,
                   lines: Mapping[str, float], xlabel: str = "agent steps") -> Path:
    """Evaluation return against training steps, one line per seed; dashed horizontal lines for the
    reference scores (`lines`: label -> score, e.g. the paper's DQN, the human tester, random play)."""
    fig, ax = plt.subplots(figsize=(8.0, 4.2), dpi=110)
    for k, (label, points) in enumerate(curves.items()):
        if points:
            x, y = zip(*points)
            ax.plot(x, y, color="C0", alpha=0.85, linewidth=1.3, label="ours" if k == 0 else None)
    for k, (label, value) in enumerate(lines.items()):
        ax.axhline(value, color=f"C{k + 1}", linestyle="--", linewidth=1, label=f"{label} ({value:g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("evaluation return (per game)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def tsne_figure(embedding: np.ndarray, values: np.ndarray, frames: Sequence[np.ndarray], path: str | Path, *,
                title: str, thumbnails: int = 6) -> Path:
    """Nature Fig. 4: the t-SNE embedding (N, 2) of the last hidden layer over the states of evaluation
    play, coloured by V = max_a Q (N,), with the frames (N, H, W) of a few states — the highest and
    lowest valued and some between — drawn beside the points they belong to."""
    fig = plt.figure(figsize=(10.0, 6.6), dpi=110)
    ax = fig.add_axes((0.03, 0.06, 0.58, 0.78))
    points = ax.scatter(embedding[:, 0], embedding[:, 1], c=values, cmap="viridis", s=6, alpha=0.85, linewidths=0)
    bar = fig.add_axes((0.62, 0.06, 0.015, 0.78))
    fig.colorbar(points, cax=bar, label="V = max_a Q(s, a)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.suptitle(textwrap.fill(title, 110), fontsize=9, x=0.03, ha="left", y=0.985)
    order = np.argsort(values)
    picks = [int(order[round(q * (len(order) - 1))]) for q in np.linspace(0, 1, thumbnails)]
    for k, i in enumerate(picks):
        inset = fig.add_axes((0.72 + 0.14 * (k % 2), 0.60 - 0.27 * (k // 2), 0.12, 0.22))
        inset.imshow(np.asarray(frames[i]), cmap="gray", interpolation="nearest")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_title(f"V = {values[i]:.2f}", fontsize=7)
        ax.annotate(str(k + 1), embedding[i], fontsize=8, color="red", fontweight="bold")
        inset.text(0.02, 0.98, str(k + 1), transform=inset.transAxes, color="red", fontsize=8, va="top")
    return save_figure(fig, path)


def episode_gif(frames: Sequence[np.ndarray], path: str | Path, *, scale: int = 3, every: int = 1,
                ms: int = 60) -> Path:
    """One episode as an animated GIF: frames (H, W) grey uint8 or (H, W, 3) RGB, every `every`-th
    kept, each shown `ms` milliseconds, enlarged `scale` times."""
    from PIL import Image  # matplotlib's own dependency

    kept = [np.asarray(f) for f in frames[::every]]
    if not kept:
        raise ValueError("an episode GIF needs at least one frame")
    images = []
    for f in kept:
        f = f.astype(np.uint8) if f.dtype != np.uint8 else f
        image = Image.fromarray(f)
        images.append(image.resize((image.width * scale, image.height * scale), Image.NEAREST))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms, loop=0)
    return path
