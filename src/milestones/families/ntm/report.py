"""The NTM family's report: how far each trained model generalises beyond its training lengths."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from milestones.family import Section
from milestones.records import ResultRecord
from milestones.report import fmt, group_of, markdown_to_html

Record = ResultRecord


def generalization_table(records: list[Record], order: Sequence[str] = ()) -> str:
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
        lines += ["| " + group + " | seeds | " + " | ".join(label.replace("_", " ") for label in labels) + " |",
                  "|" + "---|" * (2 + len(labels))]
        for r in members:
            def median(key: str) -> str:
                values = sorted(s["metrics"][key] for s in r["seeds"] if key in s["metrics"])
                n = len(values)
                return fmt((values[(n - 1) // 2] + values[n // 2]) / 2) if n else "–"
            cells = [f"{median(f'gen_{label}_bits')} ({median(f'gen_{label}_bit_errors')})" for label in labels]
            lines.append(f"| {r['experiment']} | {len(r['seeds'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def sections(records: list[Record], out: Path) -> list[Section]:
    gen = generalization_table(records)
    if not gen.startswith("|"):
        return []
    return [Section("Generalization",
                    "<p>Bits per sequence (wrong bits per sequence), median over seeds, of the best checkpoint on "
                    "inputs longer or larger than it was trained on.</p>" + markdown_to_html(gen), gen)]
