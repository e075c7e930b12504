"""`milestones report`: committed results and chosen runs as one static HTML page and a Markdown table.

Per experiment: the paper's (or the task's reference) number, ours as mean ± standard deviation over
seeds, the gap, the share of seeds that solved the task where that is defined, wall time, machine
and commit; per group of experiments (e.g. the three models of `rnn/adding-t200`) one figure of
the learning curves of every seed against the reference line.
"""
from __future__ import annotations

import html
import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from milestones.plots import learning_curves
from milestones.results import run_figures


def group_of(record: dict[str, Any]) -> str:
    """The figure a record belongs on: its `group`, else `family/task` of `family/task/variant`."""
    if record.get("group"):
        return record["group"]
    parts = record["experiment"].split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else record["experiment"]


def variant_of(record: dict[str, Any]) -> str:
    """How a record is told apart within its group: the part of its name the group lacks."""
    name, group = record["experiment"], group_of(record)
    if name.startswith((group + "/", group + "-")):
        return name[len(group) + 1:]
    return name.split("/")[0]


def fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 and float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def fmt_time(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def row(record: dict[str, Any]) -> dict[str, str]:
    metric = record["metric"]
    s = record["summary_stats"].get(metric)
    ref = next((r for r in record["references"] if r["metric"] == metric), None)
    n = s["n"] if s else 0
    ours = f"{fmt(s['mean'])} ± {fmt(s['std'])}" if s and n > 1 else fmt(s["mean"] if s else None)
    gap = "–"
    if s and ref:
        gap = f"{s['mean'] - ref['value']:+.3g}"
        if ref["value"]:
            gap += f" ({s['mean'] / ref['value']:.2g}×)"
    solved = record["summary_stats"].get("solved") or record["summary_stats"].get("converged")
    machine = record.get("machine") or {}
    return {
        "experiment": record["experiment"],
        "metric": f"{metric} ({'lower' if record['goal'] == 'min' else 'higher'} is better)",
        "reference": (f"{fmt(ref['value'])} — {ref['note'] or ref['source']}"
                      + ("" if ref.get("verified", True) else " (unverified)")) if ref else "–",
        "ours": ours,
        "seeds": str(n),
        "gap": gap,
        "solved": f"{round(solved['mean'] * solved['n'])}/{solved['n']}" if solved else "–",
        "wall time": fmt_time(record["wall_time_s"]),
        "budget": record.get("budget") or "run",
        "machine": (f"{machine.get('gpu') or machine.get('cpu')}, {machine.get('torch_threads')} "
                    f"thread{'s' if machine.get('torch_threads') != 1 else ''}") if machine else "–",
        "commit": record.get("git_commit") or "–",
    }


def markdown_table(records: list[dict[str, Any]]) -> str:
    rows = [row(r) for r in records]
    if not rows:
        return "_no results yet_\n"
    cols = ["experiment", "metric", "reference", "ours", "seeds", "solved", "gap", "wall time", "budget"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


README_START = "<!-- results table: written by `milestones report --readme README.md` -->"
README_END = "<!-- end of results table -->"
# Further README blocks, each with the experiments whose names start with one of its prefixes:
#   <!-- results table (ntm/, lstm/): written by … -->  … <!-- end of results table -->
#   <!-- generalization table (ntm/, lstm/): written by … --> … <!-- end of generalization table -->
#   <!-- mixtures table (gan/): …, <!-- images table (gan/): … the GAN tables (`mixtures_table`, `images_table`)
# The plain results block holds every experiment no prefixed block claims.
_BLOCK = re.compile(r"<!-- (results|generalization|mixtures|images|babi|sweep|gradients) table(?: \(([^)]*)\))?: written by "
                    r"`milestones report --readme README.md` -->\n(.*?)<!-- end of \1 table -->", re.S)


def variants_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """Markdown: one row per group (task), one column per variant (model); each cell the headline
    metric's mean ± std, solved seeds, and wall time. The reference is its own column. Rows and
    columns follow `order` (experiment names, e.g. the catalog's), then the names."""
    rank = {name: k for k, name in enumerate(order)}
    groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for rec in sorted(records, key=lambda r: (rank.get(r["experiment"], len(rank)), r["experiment"])):
        groups[group_of(rec)][variant_of(rec)] = rec
    variants = list(dict.fromkeys(v for g in groups.values() for v in g))
    lines = ["| task | metric | reference | " + " | ".join(variants) + " |",
             "|" + "---|" * (3 + len(variants))]
    for group, recs in groups.items():
        first = next(iter(recs.values()))
        cells = []
        for v in variants:
            if v not in recs:
                cells.append("–")
                continue
            r = row(recs[v])
            cells.append(f"{r['ours']} ({r['solved']} solved, {r['seeds']} seed"
                         f"{'s' if r['seeds'] != '1' else ''}, {r['wall time']})")
        ref = next((x for x in first["references"] if x["metric"] == first["metric"]), None)
        lines.append(f"| {group} | {first['metric']} | {fmt(ref['value']) if ref else '–'} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def generalization_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """Markdown: one row per experiment with sweep metrics (`gen_LABEL_bits`, `gen_LABEL_bit_errors`),
    one column per sweep; each cell the median over seeds of the bits per sequence and, in brackets,
    of the wrong bits per sequence (the median, since one seed that fails at a length would
    dominate a mean)."""
    rank = {name: k for k, name in enumerate(order)}
    recs = sorted((r for r in records if any(m.startswith("gen_") for m in r["metrics"])),
                  key=lambda r: (rank.get(r["experiment"], len(rank)), r["experiment"]))
    if not recs:
        return "_no generalization results yet_\n"
    lines = []
    for group in dict.fromkeys(group_of(r) for r in recs):
        members = [r for r in recs if group_of(r) == group]
        labels = list(dict.fromkeys(m[4:-5] for r in members for s in r["seeds"] for m in s["metrics"]
                                    if m.startswith("gen_") and m.endswith("_bits") and not m.endswith("_bit_errors")))
        lines += ["| " + group + " | seeds | " + " | ".join(l.replace("_", " ") for l in labels) + " |",
                  "|" + "---|" * (2 + len(labels))]
        for r in members:
            def median(key: str) -> str:
                values = sorted(s["metrics"][key] for s in r["seeds"] if key in s["metrics"])
                n = len(values)
                return fmt((values[(n - 1) // 2] + values[n // 2]) / 2) if n else "–"
            cells = [f"{median(f'gen_{l}_bits')} ({median(f'gen_{l}_bit_errors')})" for l in labels]
            lines.append(f"| {r['experiment']} | {len(r['seeds'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _mean_std(record: dict[str, Any], key: str, scale: float = 1.0) -> str:
    s = record["summary_stats"].get(key)
    if not s:
        return "–"
    return f"{s['mean'] * scale:.3g} ± {s['std'] * scale:.2g}" if s["n"] > 1 else f"{s['mean'] * scale:.3g}"


def mixtures_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """Markdown: the mixture-of-Gaussians results, one row per method with ring and grid modes and
    % high-quality samples (mean ± std over seeds), then the published rows of gan.md."""
    from milestones.experiments.gan import METHODS, PUBLISHED
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
            cells += ([_mean_std(r, "modes"), _mean_std(r, "hq_percent"), _mean_std(r, "reverse_kl")]
                      if r else ["–", "–", "–"])
        seeds = "/".join(str(len(r["seeds"])) for r in (ring, grid) if r)
        lines.append(f"| **{label}** | " + " | ".join(cells) + f" | {seeds} | ours |")
    for method, ring_modes, ring_hq, grid_modes, grid_hq, source in PUBLISHED:
        lines.append(f"| {method} | {ring_modes} | {ring_hq} | – | {grid_modes} | {grid_hq} | – | – | {source} |")
    return "\n".join(lines) + "\n"


def images_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
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
        lines.append(f"| {r['experiment']} | " + " | ".join(_mean_std(r, k) for k in keys)
                     + f" | {f'{int(steps):,}' if steps is not None else '–'} | "
                     f"{fmt_time(r['wall_time_s'] / len(r['seeds']))} | {len(r['seeds'])} |")
    floor = recs[0]["summary_stats"]
    lines.append("| training images (the floor) | " + " | ".join(
        f"{floor[k + '_real']['mean']:.3g}" if k + "_real" in floor else "–" for k in keys) + " | – | – | – |")
    return "\n".join(lines) + "\n"


def babi_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """Markdown: bAbI test error (%) per task, one column per experiment (mean over seeds of the
    chosen restart) beside the paper's column where the paper gives per-task numbers; then the mean,
    the failed tasks (> 5 %), restarts, epochs and wall time."""
    rank = {name: k for k, name in enumerate(order)}
    recs = sorted((r for r in records if any(m.startswith("task") and m.endswith("_error") for m in r["metrics"])),
                  key=lambda r: (rank.get(r["experiment"], len(rank)), r["experiment"]))
    if not recs:
        return "_no bAbI results yet_\n"
    head, cols = ["task"], []
    for r in recs:
        refs = {x["metric"]: x for x in r["references"]}
        first = next((refs[f"task{t}_error"] for t in range(1, 21) if f"task{t}_error" in refs), None)
        if first and f"paper: {first['note']}" not in head:  # experiments may share one paper column
            head.append(f"paper: {first['note']}")
            cols.append(("paper", r, refs))
        head.append(f"**ours: {r['experiment']}**")
        cols.append(("ours", r, refs))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(kind: str, r: dict, refs: dict, key: str) -> str:
        if kind == "paper":
            return f"{refs[key]['value']:.1f}" if key in refs else "–"
        stat = r["summary_stats"].get(key)
        return f"{stat['mean']:.1f}" if stat else "–"

    for t in range(1, 21):
        lines.append(f"| {t} | " + " | ".join(cell(k, r, refs, f"task{t}_error") for k, r, refs in cols) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{cell(k, r, refs, 'mean_error')}**" for k, r, refs in cols) + " |")
    failed = []
    for kind, r, refs in cols:
        if kind == "paper":
            paper = [refs[f"task{t}_error"]["value"] for t in range(1, 21) if f"task{t}_error" in refs]
            failed.append(str(sum(v > 5 for v in paper)))
        else:
            stat = r["summary_stats"].get("failed")
            failed.append(f"{stat['mean']:.0f} of {r['summary_stats']['tasks']['mean']:.0f}" if stat else "–")
    lines.append("| failed (> 5 %) | " + " | ".join(failed) + " |")
    lines.append("| restarts, epochs | " + " | ".join(
        "–" if k == "paper" or "config" not in r else
        (f"best of {r['config']['restarts']}" if r['config']['restarts'] > 1 else "1 run")
        + f", {r['config']['epochs'] + r['config'].get('ls_epochs', 0)}"
        for k, r, _ in cols) + " |")
    lines.append("| wall time (1 core) | " + " | ".join(
        "–" if k == "paper" else fmt_time(r["wall_time_s"] / len(r["seeds"])) for k, r, _ in cols) + " |")
    return "\n".join(lines) + "\n"


def sweep_cells(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[int, dict[str, Any]]]]:
    """Records of the length sweeps (`sweep/TASK-tT/VARIANT`) as {task group: {variant: {T: record}}}."""
    out: dict[str, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for rec in sorted(records, key=lambda r: r["experiment"]):
        if rec["experiment"].startswith("sweep/") and "config" in rec:
            variant = rec["experiment"].rsplit("/", 1)[1]
            out[group_of(rec)][variant][int(rec["config"]["length"])] = rec
    return {g: dict(v) for g, v in out.items()}


def _majority(rec: dict[str, Any], key: str) -> bool:
    stat = rec["summary_stats"].get(key)
    return bool(stat) and stat["mean"] > 0.5


def longest(by_length: dict[int, dict[str, Any]], key: str) -> int | None:
    """The longest length at which a majority of seeds reached `key` (solved / learned)."""
    return max((T for T, rec in by_length.items() if _majority(rec, key)), default=None)


def _sweep_order(variants) -> list[str]:
    """Variants in the sweep's own order (milestones.experiments.rnn.SWEEP_VARIANTS), others after."""
    from milestones.experiments.rnn import SWEEP_VARIANTS
    rank = {v: k for k, v in enumerate(SWEEP_VARIANTS)}
    return sorted(variants, key=lambda v: (rank.get(v, len(rank)), v))


def sweep_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """Markdown per task: one row per model, one column per length (seeds that solved it / seeds,
    the mean test loss and, in brackets, the mean steps trained: a run stops when it solves the
    task), the longest length solved and learned by a majority of seeds, the parameter count and
    the wall time of all its runs."""
    cells = sweep_cells(records)
    if not cells:
        return "_no sweep results yet_\n"
    blocks = []
    for group, variants in cells.items():
        lengths = sorted({T for v in variants.values() for T in v})
        lines = [f"**{group}**\n", "| model | H | parameters | " + " | ".join(f"T = {T}" for T in lengths)
                 + " | longest solved | longest learned | wall time |", "|" + "---|" * (len(lengths) + 6)]
        for variant in _sweep_order(variants):
            by_length = variants[variant]
            first = next(iter(by_length.values()))
            row_cells = []
            for T in lengths:
                rec = by_length.get(T)
                if rec is None:
                    row_cells.append("–")
                    continue
                solved = rec["summary_stats"].get("solved", {"mean": 0.0, "n": 0})
                loss = rec["summary_stats"][rec["metric"]]["mean"]
                steps = rec["summary_stats"].get("steps")
                row_cells.append(f"{round(solved['mean'] * solved['n'])}/{solved['n']} · {fmt(loss)}"
                                 + (f" ({steps['mean']:,.0f})" if steps else ""))
            params = first["summary_stats"].get("parameters", {}).get("mean")
            wall = sum(r["wall_time_s"] for r in by_length.values())
            best, learned = longest(by_length, "solved"), longest(by_length, "learned")
            lines.append(f"| {variant} | {first['config']['hidden_size']} | "
                         + (f"{int(params):,}" if params else "–") + " | " + " | ".join(row_cells)
                         + f" | {best or 'none'} | {learned or 'none'} | {fmt_time(wall)} |")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def sweep_figure(group: str, records: list[dict[str, Any]], out: Path) -> Path:
    """Final test loss against length, one line per model (mean over seeds, each seed a dot), with
    the memoryless baseline and the solved threshold."""
    from milestones.experiments.rnn import SOLVED_FRACTION
    from milestones.plots import loss_against_length
    variants = sweep_cells(records).get(group, {})
    lines = {v: [(T, [s["metrics"][variants[v][T]["metric"]] for s in variants[v][T]["seeds"]])
                 for T in sorted(variants[v])]
             for v in _sweep_order(variants)}
    first = next(iter(next(iter(variants.values())).values()))
    baselines = sorted({(int(rec["config"]["length"]), next(r["value"] for r in rec["references"]
                                                              if r["metric"] == rec["metric"]))
                        for by in variants.values() for rec in by.values()})
    return loss_against_length(lines, baselines, out / "plots" / (group.replace("/", "__") + ".png"),
                               title=f"{group}: final test loss against length ({first['metric']})",
                               ylabel=first["metric"], solved_fraction=SOLVED_FRACTION)


GRADIENT_KEYS = (("top_share", "top slot's share"), ("starved", "starved slots"),
                 ("effective_slots", "effective slots"), ("sentence_starved", "starved statements"),
                 ("jump", "jump (TV)"), ("top_switch", "top switches"), ("grad_change", "gradient change"))


def gradients_table(records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """Markdown: per model of `claims/memory-gradients`, the test error per task, then the gradient
    numbers averaged over the updates of its first 10 epochs and over all its updates (mean over
    the tasks; see milestones.memory.gradient_flow)."""
    blocks = []
    for rec in records:
        if not rec["experiment"].startswith("claims/memory-gradients"):
            continue
        stats = rec["summary_stats"]
        models = [m for m in ("memn2n", "memn2n-ls", "entnet") if f"{m}_top_share" in stats]
        tasks = sorted({int(k.split("_task")[1].split("_")[0]) for k in stats if "_task" in k})
        head = (["model", "updates"] + [f"task {t} test error (%)" for t in tasks]
                + [label for _, label in GRADIENT_KEYS])
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in models:
            errors = [f"{stats[f'{m}_task{t}_test_error']['mean']:.1f}" if f"{m}_task{t}_test_error" in stats
                      else "–" for t in tasks]
            for suffix, phase in (("_early", "first 10 epochs"), ("", "all")):
                cells = [f"{stats[f'{m}_{k}{suffix}']['mean']:.3g}" if f"{m}_{k}{suffix}" in stats else "–"
                         for k, _ in GRADIENT_KEYS]
                lines.append(f"| {m} | {phase} | " + " | ".join(errors if suffix else [""] * len(tasks))
                             + " | " + " | ".join(cells) + " |")
        seeds = len(rec["seeds"])
        blocks.append("\n".join(lines) + f"\n\n({seeds} seed{'s' if seeds > 1 else ''}, "
                      f"{fmt_time(rec['wall_time_s'])} in all.)\n")
    return "\n".join(blocks) if blocks else "_no gradient-flow results yet_\n"


TABLES = {"sweep": sweep_table, "gradients": gradients_table, "babi": babi_table, "results": variants_table,
          "generalization": generalization_table, "mixtures": mixtures_table, "images": images_table}


def readme_blocks(text: str, records: list[dict[str, Any]], order: list[str] = ()) -> str:
    """`text` with every results and generalization block rewritten from `records`."""
    claimed = [tuple(x.strip() for x in m.group(2).split(",")) for m in _BLOCK.finditer(text) if m.group(2)]

    def fill(m: re.Match) -> str:
        kind, prefixes = m.group(1), m.group(2)
        if prefixes:
            pre = tuple(x.strip() for x in prefixes.split(","))
            mine = [r for r in records if r["experiment"].startswith(pre)]
        else:
            mine = [r for r in records if not any(r["experiment"].startswith(c) for c in claimed)]
        body = TABLES[kind](mine, order)
        head = m.group(0).split("\n", 1)[0]
        return f"{head}\n{body}<!-- end of {kind} table -->"

    return _BLOCK.sub(fill, text)


def update_readme(path: str | Path, records: list[dict[str, Any]], order: list[str] = ()) -> bool:
    """Rewrite the results blocks of the README from `records`; return whether it changed."""
    path = Path(path)
    text = path.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{path} has no results block: add the lines\n{README_START}\n{README_END}")
    new = readme_blocks(text, records, order)
    path.write_text(new)
    return new != text


NUMERICS_CAPTION = ("The Numerics of GANs' experiment: samples of fixed noise over training (first seed), "
                    "simultaneous gradient descent above consensus optimization, and the eigenvalues of the "
                    "Jacobian of the joint gradient field at the end of training.")


def group_figure(group: str, records: list[dict[str, Any]], out: Path) -> Path:
    curves, series = {}, {}
    for rec in records:
        label = variant_of(rec)
        n = len(rec["seeds"])
        for s in rec["seeds"]:
            key = f"{label} s{s['seed']}"
            curves[key] = [tuple(p) for p in s["curve"]]
            series[key] = f"{label} ({n} seed{'s' if n > 1 else ''})"
    ref = next((r for r in records[0]["references"] if r["metric"] == records[0]["metric"]), None)
    x, y = records[0].get("curve") or ("step", records[0]["metric"])
    label = (ref["note"] or "paper").split(";")[0][:48] if ref else ""  # the note's first clause
    return learning_curves(curves, out / "plots" / (group.replace("/", "__").replace(" ", "_") + ".png"),
                           title=group, ylabel=y, xlabel=x, baseline=ref["value"] if ref else None,
                           baseline_label=label, series=series)


def figure_of(group: str, records: list[dict[str, Any]], out: Path) -> tuple[Path, str]:
    """The group's figure under out/plots/ and its caption: the final loss against length for a
    length sweep, else the learning curves."""
    if group.startswith("sweep/") and sweep_cells(records):
        return sweep_figure(group, records, out), "final test loss against length: every seed a dot, the mean a line"
    return group_figure(group, records, out), "learning curves, every seed, against the reference line"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>milestones report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 0.5em 0; }} figure img {{ width: 100%; max-width: 880px; }}
figcaption {{ font-size: 0.8em; color: #555; }} details {{ font-size: 0.85em; margin: 0.4em 0; }}
code {{ background: #f6f6f6; padding: 0 0.2em; }}
</style></head><body>
<h1>milestones — measured results against the papers</h1>
<p>{intro}</p>
{sections}
</body></html>
"""


def extra_figures(record: dict[str, Any], out: Path) -> list[Path]:
    """Figures besides the learning curves, copied into out/plots/: those a committed result lists
    (`figures`, relative to its results folder), else the first seed's run plots/*.png."""
    if "figures" in record:
        sources = [Path(record.get("_results_dir", ".")) / f for f in record["figures"]]
    else:
        sources = run_figures(record)
    copied = []
    for src in sources:
        if src.exists():
            dest = out / "plots" / record["experiment"].replace("/", "__").replace(" ", "_") / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            copied.append(dest)
    return copied


def html_section(group: str, records: list[dict[str, Any]], figure: Path, out: Path,
                 caption: str = "learning curves, every seed, against the reference line") -> str:
    cols = ["experiment", "metric", "reference", "ours", "seeds", "solved", "gap", "wall time",
            "budget", "machine", "commit"]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join("<tr>" + "".join(
        f"<td{' class=num' if c in ('ours', 'gap', 'seeds', 'wall time') else ''}>{html.escape(r[c])}</td>"
        for c in cols) + "</tr>" for r in map(row, records))
    notes = []
    for rec in records:
        seeds = ", ".join(f"seed {s['seed']}: {fmt(s['metrics'].get(rec['metric']))} "
                          f"({fmt_time(s['wall_time_s'])})" for s in rec["seeds"])
        devs = "".join(f"<li>{html.escape(d)}</li>" for d in rec.get("deviations", []))
        cmd = f"<p>command: <code>{html.escape(rec['command'])}</code></p>" if rec.get("command") else ""
        notes.append(f"<details><summary>{html.escape(rec['experiment'])}: seeds, command, "
                     f"deviations from the paper</summary><p>{html.escape(seeds)}</p>{cmd}"
                     f"<p>{html.escape(rec['citation'])}</p><ol>{devs}</ol></details>")
    rel = figure.relative_to(out).as_posix()
    extras = "".join(
        f"<figure><img src='{p.relative_to(out).as_posix()}' alt='{html.escape(p.stem)}'>"
        f"<figcaption>{html.escape(rec['experiment'])}: {html.escape(p.stem)}</figcaption></figure>"
        for rec in records for p in extra_figures(rec, out))
    return (f"<h2>{html.escape(group)}</h2><table><tr>{head}</tr>{body}</table>"
            f"<figure><img src='{rel}' alt='{html.escape(caption)} of {html.escape(group)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            + extras + "".join(notes))


def groups_of(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The records of each figure (`group_of`), in name order."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in sorted(records, key=lambda r: r["experiment"]):
        groups[group_of(rec)].append(rec)
    return dict(groups)


def markdown_to_html(md: str) -> str:
    """The pipe tables of `md` (separated by blank lines) as HTML tables; other blocks as paragraphs."""
    out = []
    for block in md.strip().split("\n\n"):
        if not block.lstrip().startswith("|"):
            out.append(f"<p>{html.escape(block.strip().replace('**', ''))}</p>")
            continue
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()
                if line.strip() and not set(line.strip()) <= set("|-")]
        if not rows:
            continue
        rows = [[c.replace("**", "") for c in r] for r in rows]  # bold marks are for the README
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
        out.append(f"<table><tr>{head}</tr>{body}</table>")
    return "".join(out)


def build(records: list[dict[str, Any]], out: str | Path) -> tuple[Path, Path]:
    """Write out/index.html, out/report.md and out/plots/*.png; return the two documents' paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups = groups_of(records)
    sections, md = [], ["# milestones report\n"]
    for group, recs in groups.items():
        fig, caption = figure_of(group, recs, out)
        sections.append(html_section(group, recs, fig, out, caption))
        md += [f"## {group}\n", markdown_table(recs), f"![{group}]({fig.relative_to(out).as_posix()})\n"]
    mixtures, images = mixtures_table(records), images_table(records)
    if mixtures.startswith("|"):
        from milestones.experiments.gan import numerics_figure_of
        fig = numerics_figure_of(records, out / "plots" / "gan__numerics.png")
        img = (f"<figure><img src='{fig.relative_to(out).as_posix()}' alt='the Numerics of GANs figure'>"
               f"<figcaption>{html.escape(NUMERICS_CAPTION)}</figcaption></figure>") if fig else ""
        sections.append("<h2>GANs on mixtures of Gaussians, against the published rows</h2><p>Mean ± standard "
                        "deviation over seeds; HQ: samples within 3σ of their nearest mean (2 500 samples).</p>"
                        + markdown_to_html(mixtures) + img)
        md += ["## GANs on mixtures of Gaussians\n", mixtures]
        if fig:
            md.append(f"![the Numerics of GANs figure]({fig.relative_to(out).as_posix()})\n")
    if images.startswith("|"):
        sections.append("<h2>GANs on Fashion-MNIST</h2><p>Measured in the feature space of our own Fashion-MNIST "
                        "classifier: these are not Inception FIDs and are not comparable with published ones.</p>"
                        + markdown_to_html(images))
        md += ["## GANs on Fashion-MNIST (classifier features, not Inception)\n", images]
    for family, label in (("memn2n/", "End-to-End Memory Networks"), ("entnet/", "Recurrent Entity Networks")):
        babi = babi_table([r for r in records if r["experiment"].startswith(family)])
        if babi.startswith("|"):
            sections.append(f"<h2>{label} on bAbI, per task</h2><p>Test error (%) of the restart the paper "
                            "would keep, beside the paper's column; a task fails above 5 %. The attention "
                            "(MemN2N) or gate (EntNet) figures are in the experiments' sections above.</p>"
                            + markdown_to_html(babi))
            md += [f"## {label} on bAbI, per task\n", babi]
    sweep = sweep_table(records)
    if sweep.startswith("**"):
        sections.append("<h2>Plain RNN against LSTM and GRU over length</h2><p>Per length: seeds that solved "
                        "the task (test loss ≤ 1 % of the memoryless baseline), the mean test loss and the "
                        "mean steps trained (a run stops when it solves the task); 'learned' is test loss "
                        "≤ half the baseline.</p>" + markdown_to_html(sweep))
        md += ["## Plain RNN against LSTM and GRU over length\n", sweep]
    grads = gradients_table(records)
    if grads.startswith("|"):
        sections.append("<h2>How the gradient reaches memory: MemN2N against EntNet</h2><p>Averages over the "
                        "updates of each training's first 10 epochs and over all its updates, mean over the "
                        "tasks (see milestones.memory.gradient_flow); the figures per task are in the "
                        "section claims/memory-gradients.</p>"
                        + markdown_to_html(grads))
        md += ["## How the gradient reaches memory: MemN2N against EntNet\n", grads]
    gen = generalization_table(records)
    if gen.startswith("|"):
        sections.append("<h2>Generalization</h2><p>Bits per sequence (wrong bits per sequence), median over "
                        "seeds, of the best checkpoint on inputs longer or larger than it was trained on.</p>"
                        + markdown_to_html(gen))
        md += ["## Generalization\n", gen]
    intro = (f"{len(records)} experiments. “ours” is the mean ± standard deviation over seeds of the "
             f"headline metric on the experiment's test set; “gap” is ours minus the reference "
             f"(and their ratio). Wall time is the sum over seeds.") if records else "No results yet."
    index = out / "index.html"
    index.write_text(PAGE.format(intro=html.escape(intro), sections="\n".join(sections)))
    report_md = out / "report.md"
    report_md.write_text("\n".join(md))
    return index, report_md
