"""The length sweep's report: a table per task (models × lengths) and the loss-against-length figure.

Records of `sweep/TASK-tT/VARIANT` experiments; see milestones.families.rnn.experiments.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from milestones.families.rnn.experiments import SOLVED_FRACTION, SWEEP_VARIANTS
from milestones.families.rnn.figures import loss_against_length
from milestones.family import Section, slug
from milestones.records import ResultRecord
from milestones.report import fmt, fmt_time, group_of, markdown_to_html

Record = ResultRecord


def sweep_cells(records: list[Record]) -> dict[str, dict[str, dict[int, Record]]]:
    """Records of the length sweeps (`sweep/TASK-tT/VARIANT`) as {task group: {variant: {T: record}}}."""
    out: dict[str, dict[str, dict[int, Record]]] = defaultdict(lambda: defaultdict(dict))
    for rec in sorted(records, key=lambda r: r["experiment"]):
        if rec["experiment"].startswith("sweep/") and rec.get("config"):
            variant = rec["experiment"].rsplit("/", 1)[1]
            out[group_of(rec)][variant][int(rec["config"]["length"])] = rec
    return {g: dict(v) for g, v in out.items()}


def _majority(rec: Record, key: str) -> bool:
    stat = rec["summary_stats"].get(key)
    return bool(stat) and stat["mean"] > 0.5


def longest(by_length: dict[int, Record], key: str) -> int | None:
    """The longest length at which a majority of seeds reached `key` (solved / learned)."""
    return max((T for T, rec in by_length.items() if _majority(rec, key)), default=None)


def _sweep_order(variants: Iterable[str]) -> list[str]:
    """Variants in the sweep's own order (SWEEP_VARIANTS), others after."""
    rank = {v: k for k, v in enumerate(SWEEP_VARIANTS)}
    return sorted(variants, key=lambda v: (rank.get(v, len(rank)), v))


def sweep_table(records: list[Record], order: Sequence[str] = ()) -> str:
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


def sweep_figure(group: str, records: list[Record], out: Path) -> Path:
    """Final test loss against length, one line per model (mean over seeds, each seed a dot), with
    the memoryless baseline and the solved threshold."""
    variants = sweep_cells(records).get(group, {})
    lines = {v: [(T, [s["metrics"][variants[v][T]["metric"]] for s in variants[v][T]["seeds"]])
                 for T in sorted(variants[v])]
             for v in _sweep_order(variants)}
    first = next(iter(next(iter(variants.values())).values()))
    baselines = sorted({(int(rec["config"]["length"]), next(r["value"] for r in rec["references"]
                                                              if r["metric"] == rec["metric"]))
                        for by in variants.values() for rec in by.values()})
    return loss_against_length(lines, baselines, out / "plots" / (slug(group) + ".png"),
                               title=f"{group}: final test loss against length ({first['metric']})",
                               ylabel=first["metric"], solved_fraction=SOLVED_FRACTION)


def group_figure(group: str, records: list[Record], out: Path) -> tuple[Path, str] | None:
    """A length sweep is drawn as its final loss against length, not as learning curves."""
    if group.startswith("sweep/") and sweep_cells(records):
        return sweep_figure(group, records, out), "final test loss against length: every seed a dot, the mean a line"
    return None


def sections(records: list[Record], out: Path) -> list[Section]:
    sweep = sweep_table(records)
    if not sweep.startswith("**"):
        return []
    return [Section("Plain RNN against LSTM and GRU over length",
                    "<p>Per length: seeds that solved the task (test loss ≤ 1 % of the memoryless baseline), the "
                    "mean test loss and the mean steps trained (a run stops when it solves the task); 'learned' is "
                    "test loss ≤ half the baseline.</p>" + markdown_to_html(sweep), sweep)]
