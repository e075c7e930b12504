"""The GAN family's report: the mixtures beside the published rows, the image GANs in our
classifier's features, and the Numerics of GANs' figure."""
from __future__ import annotations

import html
import shutil
from collections.abc import Sequence
from pathlib import Path

from milestones.families.gan.experiments import METHODS, PUBLISHED, read_eigenvalues, read_snapshots
from milestones.families.gan.figures import numerics_figure
from milestones.family import Section
from milestones.gan.mixtures import ring_means
from milestones.records import ResultRecord
from milestones.report import fmt_time, markdown_to_html

Record = ResultRecord
NUMERICS_FIGURE = "gan__numerics.png"


NUMERICS_CAPTION = ("The Numerics of GANs' experiment: samples of fixed noise over training (first seed), "
                    "simultaneous gradient descent above consensus optimization, and the eigenvalues of the "
                    "Jacobian of the joint gradient field at the end of training.")


def mean_std(record: Record, key: str, scale: float = 1.0) -> str:
    s = record["summary_stats"].get(key)
    if not s:
        return "–"
    return f"{s['mean'] * scale:.3g} ± {s['std'] * scale:.2g}" if s["n"] > 1 else f"{s['mean'] * scale:.3g}"


def windowed(record: Record, key: str) -> str:
    """Mean ± std over seeds of each seed's mean over its last measurements, the last snapshot beside
    it; records from before the window was measured show the last snapshot only, marked so."""
    if f"{key}_window" not in record["summary_stats"]:
        return f"{mean_std(record, key)} (last only)"
    return f"{mean_std(record, f'{key}_window')} (last {mean_std(record, key)})"


def mixtures_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: the mixture-of-Gaussians results, one row per method with ring and grid modes and
    % high-quality samples, then the published rows of gan.md. Our cells: the mean ± std over seeds
    of each seed's mean over its last measurements (`--window`), the last snapshot's in brackets."""
    recs = {r["experiment"]: r for r in records if r["experiment"].startswith(("gan/ring-", "gan/grid-"))}
    if not recs:
        return "_no mixture results yet_\n"
    lines = ["| method | ring modes (of 8) | ring % HQ | ring reverse KL | grid modes (of 25) | grid % HQ | "
             "grid reverse KL | seeds | source |", "|" + "---|" * 9]
    for method, (label, _, _) in METHODS.items():
        ring, grid = recs.get(f"gan/ring-{method}"), recs.get(f"gan/grid-{method}")
        if not ring and not grid:
            continue
        cells = []
        for r in (ring, grid):
            cells += ([windowed(r, "modes"), windowed(r, "hq_percent"), windowed(r, "reverse_kl")]
                      if r else ["–", "–", "–"])
        seeds = "/".join(str(len(r["seeds"])) for r in (ring, grid) if r)
        lines.append(f"| **{label}** | " + " | ".join(cells) + f" | {seeds} | ours |")
    for method, ring_modes, ring_hq, grid_modes, grid_hq, source in PUBLISHED:
        lines.append(f"| {method} | {ring_modes} | {ring_hq} | – | {grid_modes} | {grid_hq} | – | – | {source} |")
    return "\n".join(lines) + "\n"


def images_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: the image GANs measured in our classifier's feature space (mean ± std over seeds),
    with the training images' own numbers as the floor."""
    recs = [r for r in records if r["experiment"].startswith("gan/fashion-")]
    if not recs:
        return "_no image results yet_\n"
    rank = {name: k for k, name in enumerate(order)}
    recs.sort(key=lambda r: (rank.get(r["experiment"], len(rank)), r["experiment"]))
    keys = ["fd", "precision", "recall", "density", "coverage"]
    lines = ["| experiment | " + " | ".join(k if k != "fd" else "Fréchet distance (not FID)" for k in keys)
             + " | generator steps | wall time (2 cores) | seeds |", "|" + "---|" * (len(keys) + 4)]
    for r in recs:
        steps = (r["seeds"][0].get("curve") or [[None]])[-1][0]
        lines.append(f"| {r['experiment']} | " + " | ".join(mean_std(r, k) for k in keys)
                     + f" | {f'{int(steps):,}' if steps is not None else '–'} | "
                     f"{fmt_time(r['wall_time_s'] / len(r['seeds']))} | {len(r['seeds'])} |")
    floor = recs[0]["summary_stats"]
    lines.append("| training images (the floor) | " + " | ".join(
        f"{floor[k + '_real']['mean']:.3g}" if k + "_real" in floor else "–" for k in keys) + " | – | – | – |")
    return "\n".join(lines) + "\n"


def numerics_figure_of(records: list[Record], path: str | Path) -> Path | None:
    """The Numerics of GANs figure from the first seeds of gan/ring-simgd and gan/ring-conopt: their
    sample snapshots and Jacobian eigenvalues. Drawn from their run directories where those are
    here; else the copy committed beside the results (RESULTS_DIR/figures/gan__numerics.png); else None."""
    by_name = {r["experiment"]: r for r in records}
    pair = [by_name.get(f"gan/ring-{m}") for m in ("simgd", "conopt")]
    if not all(pair):
        return None
    dirs = [Path(r["seeds"][0].get("run_dir") or "/nonexistent") for r in pair]
    if all((d / "eigenvalues.json").exists() and (d / "snapshots.jsonl").exists() for d in dirs):
        return numerics_figure({name: (read_snapshots(d), read_eigenvalues(d)) for name, d in
                                zip(("simultaneous gradient descent", "consensus optimization (γ = 10)"), dirs)},
                               ring_means(), path)
    committed = Path(pair[0].get("results_dir", "results")) / "figures" / NUMERICS_FIGURE
    if committed.exists():
        if committed.resolve() == Path(path).resolve():
            return committed
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(committed, path))
    return None


def readme_figures(records: list[Record], folder: Path) -> list[Path]:
    """The Numerics figure the README shows, drawn from the runs where they are here."""
    fig = numerics_figure_of(records, folder / NUMERICS_FIGURE)
    return [fig] if fig else []


def sections(records: list[Record], out: Path) -> list[Section]:
    found = []
    mixtures, images = mixtures_table(records), images_table(records)
    if mixtures.startswith("|"):
        fig = numerics_figure_of(records, out / "plots" / NUMERICS_FIGURE)
        img = (f"<figure><img src='{fig.relative_to(out).as_posix()}' alt='the Numerics of GANs figure'>"
               f"<figcaption>{html.escape(NUMERICS_CAPTION)}</figcaption></figure>") if fig else ""
        md = mixtures + (f"\n![the Numerics of GANs figure]({fig.relative_to(out).as_posix()})\n" if fig else "")
        found.append(Section("GANs on mixtures of Gaussians, against the published rows",
                             "<p>Mean ± standard deviation over seeds; HQ: samples within 3σ of their nearest mean "
                             "(2 500 samples).</p>" + markdown_to_html(mixtures) + img, md))
    if images.startswith("|"):
        found.append(Section("GANs on Fashion-MNIST (classifier features, not Inception)",
                             "<p>Measured in the feature space of our own Fashion-MNIST classifier: these are not "
                             "Inception FIDs and are not comparable with published ones.</p>"
                             + markdown_to_html(images), images))
    return found
