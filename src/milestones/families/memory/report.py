"""The memory family's report: bAbI test error per task beside the papers' columns, and how the
gradient reaches memory (MemN2N against EntNet)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from milestones.families.memory.experiments import parse_tasks
from milestones.family import Section
from milestones.records import ResultRecord
from milestones.report import fmt_time, markdown_to_html

Record = ResultRecord


def babi_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: bAbI test error (%) per task, one column per experiment (mean over seeds of the
    chosen restart) beside the paper's column where the paper gives per-task numbers; then the mean
    (± std over seeds), the failed tasks (> 5 %), the mean validation error where recorded, seeds,
    restarts, epochs and wall time (a seed's, and per task and per epoch). A column run on fewer than the 20 tasks
    shows beside its mean and failed count the paper's over the same tasks. Paper numbers not yet
    checked against the paper (`verified: false`) carry a †, explained under the table."""
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

    unverified = False

    def cell(kind: str, r: Record, refs: dict, key: str, spread: bool = False) -> str:
        nonlocal unverified
        if kind == "paper":
            if key not in refs:
                return "–"
            unverified |= refs[key].get("verified") is False
            return f"{refs[key]['value']:.1f}" + ("†" if refs[key].get("verified") is False else "")
        stat = r["summary_stats"].get(key)
        if not stat:
            return "–"
        return f"{stat['mean']:.1f}" + (f" ± {stat['std']:.1f}" if spread and stat.get("n", 1) > 1 else "")

    def same_tasks(r: Record, refs: dict) -> tuple[list[int], list[float]] | None:
        """An experiment's tasks and the paper's errors on them, where it ran fewer than the paper's."""
        tasks = [t for t in range(1, 21) if f"task{t}_error" in r["summary_stats"]]
        paper = [refs[f"task{t}_error"]["value"] for t in tasks if f"task{t}_error" in refs]
        whole = [t for t in range(1, 21) if f"task{t}_error" in refs]
        return (tasks, paper) if tasks and len(paper) == len(tasks) and len(tasks) < len(whole) else None

    for t in range(1, 21):
        lines.append(f"| {t} | " + " | ".join(cell(k, r, refs, f"task{t}_error") for k, r, refs in cols) + " |")
    means = []
    for kind, r, refs in cols:
        text, same = f"**{cell(kind, r, refs, 'mean_error', spread=True)}**", kind == "ours" and same_tasks(r, refs)
        means.append(text + (f" (paper {sum(same[1]) / len(same[1]):.1f} on these {len(same[0])})" if same else ""))
    lines.append("| **mean** | " + " | ".join(means) + " |")
    failed = []
    for kind, r, refs in cols:
        if kind == "paper":
            paper = [refs[f"task{t}_error"]["value"] for t in range(1, 21) if f"task{t}_error" in refs]
            failed.append(f"{sum(v > 5 for v in paper)} of {len(paper)}")
        else:
            stat, same = r["summary_stats"].get("failed"), same_tasks(r, refs)
            count = f"{round(stat['mean'], 1):g}" if stat else ""  # a mean over seeds: 11, 11.3
            failed.append((f"{count} of {r['summary_stats']['tasks']['mean']:.0f}" if stat else "–")
                          + (f" (paper {sum(v > 5 for v in same[1])})" if same and stat else ""))
    lines.append("| failed (> 5 %) | " + " | ".join(failed) + " |")
    lines.append("| restarts, epochs | " + " | ".join(
        "–" if k == "paper" or not r.get("config") else
        restarts_text(r["config"]) + f", {r['config']['epochs'] + r['config'].get('ls_epochs', 0)}"
        for k, r, _ in cols) + " |")
    if any(k == "ours" and "mean_valid_error" in r["summary_stats"] for k, r, _ in cols):
        lines.append("| mean validation error (what options are chosen on) | " + " | ".join(
            "–" if k == "paper" else cell(k, r, refs, "mean_valid_error", spread=True) for k, r, refs in cols) + " |")
    lines.append("| seeds | " + " | ".join("–" if k == "paper" else str(len(r["seeds"])) for k, r, _ in cols) + " |")
    lines.append("| wall time (1 core) | " + " | ".join(
        "–" if k == "paper" else fmt_time(r["wall_time_s"] / len(r["seeds"])) for k, r, _ in cols) + " |")
    lines.append("| per task, per epoch | " + " | ".join(
        "–" if k == "paper" or not r.get("config") else per_task_and_epoch(r) for k, r, _ in cols) + " |")
    if unverified:
        lines += ["", "† the paper's number as entered from memory, not yet checked against the paper "
                      "(`verified: false` in the record's references)."]
    return "\n".join(lines) + "\n"


def restarts_text(config: dict) -> str:
    """'best of 10', '1 run', '1 run (task 19: best of 10, the official code's way)': the restarts of a
    record's trainings, and the tasks trained the official code's way (--task-official)."""
    def one(n: int) -> str:
        return f"best of {n}" if n > 1 else "1 run"
    notes: dict[int, list[str]] = {}
    for pair in filter(None, config.get("task_restarts", "").split(",")):
        task, count = pair.split(":")
        notes.setdefault(int(task), []).append(one(int(count)))
    for task in parse_tasks(config["task_official"]) if config.get("task_official") else ():
        notes.setdefault(task, []).append("the official code's way")
    own = ", ".join(f"task {t}: {', '.join(notes[t])}" for t in sorted(notes))
    return one(config["restarts"]) + (f" ({own})" if own else "")


def per_task_and_epoch(r: Record) -> str:
    """A seed's wall time per training (a task, or the joint training) and per epoch of it."""
    config, seconds = r["config"], r["wall_time_s"] / len(r["seeds"])
    trainings = 1 if config.get("joint") else max(1, round(r["summary_stats"].get("tasks", {"mean": 1})["mean"]))
    epochs = config["epochs"] + config.get("ls_epochs", 0)
    return f"{fmt_time(seconds / trainings)}, {seconds / trainings / epochs:.1f} s"


GRADIENT_KEYS = (("top_share", "top slot's share"), ("starved", "starved slots"),
                 ("effective_slots", "effective slots"), ("sentence_starved", "starved statements"),
                 ("jump", "jump (TV)"), ("top_switch", "top switches"), ("grad_change", "gradient change"))


def gradients_table(records: list[Record], order: Sequence[str] = ()) -> str:
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


def sections(records: list[Record], out: Path) -> list[Section]:
    found = []
    for prefix, label in (("memn2n/", "End-to-End Memory Networks"), ("entnet/", "Recurrent Entity Networks")):
        babi = babi_table([r for r in records if r["experiment"].startswith(prefix)])
        if babi.startswith("|"):
            found.append(Section(f"{label} on bAbI, per task",
                                 "<p>Test error (%) of the restart the paper would keep, beside the paper's column; "
                                 "a task fails above 5 %. The attention (MemN2N) or gate (EntNet) figures are in the "
                                 "experiments' sections below.</p>" + markdown_to_html(babi), babi))
    grads = gradients_table(records)
    if grads.startswith("|"):
        found.append(Section("How the gradient reaches memory: MemN2N against EntNet",
                             "<p>Averages over the updates of each training's first 10 epochs and over all its "
                             "updates, mean over the tasks (see milestones.memory.gradient_flow); the figures per "
                             "task are in the section claims/memory-gradients below.</p>" + markdown_to_html(grads),
                             grads))
    return found
