"""`milestones report`: results as one static HTML page and a Markdown file; the README's tables.

The page opens with the answer. First the runs just trained (the demo's, or those named on the
command line), then an overview: one row per family's headline experiment with the paper's number,
ours and the status, each linking to the family's section. A family's section holds what the
family builds from its own records (`Family.sections`), then one part per group of experiments:
per experiment the reference, ours as mean ± standard deviation over seeds, the gap, the seeds that
solved the task where that is defined, wall time, machine and commit; the group's figure (the
learning curves of every seed against the reference line, unless the family draws another) and
the figures each experiment's runs drew.

README.md holds blocks that `update_readme` rewrites from results/:
    <!-- KIND table (PREFIX, …): written by `milestones report --readme README.md` -->
    … <!-- end of KIND table -->
KIND is `results` (one row per group, a column per variant) or a table a family names in
`Family.readme_tables`; the block shows the records whose experiment names start with a PREFIX,
and a `results` block without prefixes every record that no prefixed block shows.
"""
from __future__ import annotations

import html
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from milestones import registry
from milestones.family import Family, Table, slug
from milestones.plots import learning_curves
from milestones.records import ResultRecord, Shard
from milestones.results import run_figures, shards_of

Record = ResultRecord


def group_of(record: Record) -> str:
    """The figure a record belongs on: its `group`, else `family/task` of `family/task/variant`."""
    group = record.get("group")
    if group:
        return group
    parts = record["experiment"].split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else record["experiment"]


def variant_of(record: Record) -> str:
    """How a record is told apart within its group: the part of its name the group lacks. A name
    `model/task` in group `family/task` is `model`; `model/task-extra` there is `model-extra`, so a
    recipe beside the paper's keeps a column of its own."""
    name, group = record["experiment"], group_of(record)
    if name.startswith((group + "/", group + "-")):
        return name[len(group) + 1:]
    head, _, tail = name.partition("/")
    task = group.rpartition("/")[2]
    if tail.startswith(task + "-"):
        return head + tail[len(task):]
    return head


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


def row(record: Record) -> dict[str, str]:
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
    made = [run for s in record["seeds"] for run in shards_of(s)]  # each seed's runs: one, or one per shard
    machines = _distinct([r["machine"] for r in made if r.get("machine")] or [record.get("machine")])
    commits = _distinct([r["git_commit"] for r in made if r.get("git_commit")] or [record.get("git_commit")])
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
        "machine": " + ".join(_distinct([machine_text(m) for m in machines if m])) or "–",
        "commit": ", ".join(c for c in commits if c) or "–",
    }


def _parts_text(shard: Shard, shown: bool) -> str:
    """', parts 1, 4, 9' for one of a seed's shards (nothing for a seed made by one run)."""
    return f", parts {', '.join(map(str, shard['parts']))} ({fmt_time(shard['wall_time_s'])})" if shown else ""


def _distinct(items: list) -> list:
    """The items in order, each once."""
    return [x for i, x in enumerate(items) if x not in items[:i]]


def machine_text(machine: dict[str, Any] | None) -> str:
    if not machine:
        return "–"
    threads = machine.get("torch_threads")
    return f"{machine.get('gpu') or machine.get('cpu')}, {threads} thread{'s' if threads != 1 else ''}"


def status(record: Record | None) -> str:
    """Where ours stands: against the headline reference (better or worse, by the metric's goal), and
    the seeds that solved (or converged on) the task where the experiment defines that."""
    if record is None:
        return "not reproduced yet"
    metric = record["metric"]
    s = record["summary_stats"].get(metric)
    ref = next((r for r in record["references"] if r["metric"] == metric), None)
    parts = []
    if s and ref:
        better = s["mean"] <= ref["value"] if record["goal"] == "min" else s["mean"] >= ref["value"]
        parts.append(("at or better than" if better else "short of") + " the reference")
    elif s:
        parts.append("measured; no published number to compare with")
    for key in ("solved", "converged"):
        done = record["summary_stats"].get(key)
        if done:
            seeds = f"{done['n']} seed{'s' if done['n'] > 1 else ''}"
            parts.append(f"{key} in {round(done['mean'] * done['n'])} of {seeds}")
    if "diverged" in record["summary_stats"]:
        diverged = record["summary_stats"]["diverged"]
        parts.append(f"{round(diverged['mean'] * diverged['n'])} seed(s) diverged")
    return "; ".join(parts)



def markdown_table(records: list[Record]) -> str:
    rows = [row(r) for r in records]
    if not rows:
        return "_no results yet_\n"
    cols = ["experiment", "metric", "reference", "ours", "seeds", "solved", "gap", "wall time", "budget"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


README_START = "<!-- results table: written by `milestones report --readme README.md` -->"
README_END = "<!-- end of results table -->"
_BLOCK = re.compile(r"<!-- ([a-z][a-z-]*) table(?: \(([^)]*)\))?: written by "
                    r"`milestones report --readme README.md` -->\n(.*?)<!-- end of \1 table -->", re.S)


def readme_tables(families: Iterable[Family] | None = None) -> dict[str, Table]:
    """Every README table by its block's kind: the core's `results`, then each family's."""
    tables: dict[str, Table] = {"results": variants_table}
    for family in registry.families() if families is None else families:
        for kind, table in family.readme_tables.items():
            if kind in tables:
                raise ValueError(f"family {family.name} names a README table {kind!r} that another already has")
            tables[kind] = table
    return tables


def readme_blocks(text: str, records: list[Record], order: Sequence[str] = (),
                  families: Iterable[Family] | None = None) -> str:
    """`text` with every table block rewritten from `records` (see the module's docstring)."""
    tables = readme_tables(families)
    claimed = [tuple(x.strip() for x in m.group(2).split(",")) for m in _BLOCK.finditer(text) if m.group(2)]

    def fill(m: re.Match[str]) -> str:
        kind, prefixes = m.group(1), m.group(2)
        if kind not in tables:
            raise ValueError(f"the README has a {kind!r} table block, but no family offers that table; "
                             f"known: {', '.join(tables)}")
        if prefixes:
            pre = tuple(x.strip() for x in prefixes.split(","))
            mine = [r for r in records if r["experiment"].startswith(pre)]
        else:
            mine = [r for r in records if not any(r["experiment"].startswith(c) for c in claimed)]
        body = tables[kind](mine, order)
        head = m.group(0).split("\n", 1)[0]
        return f"{head}\n{body}<!-- end of {kind} table -->"

    return _BLOCK.sub(fill, text)


def update_readme(path: str | Path, records: list[Record], order: Sequence[str] = (),
                  families: Iterable[Family] | None = None) -> bool:
    """Rewrite the table blocks of the README from `records`; return whether it changed."""
    path = Path(path)
    text = path.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{path} has no results block: add the lines\n{README_START}\n{README_END}")
    new = readme_blocks(text, records, order, families)
    path.write_text(new)
    return new != text


def readme_figures(records: list[Record], folder: Path, families: Iterable[Family] | None = None) -> list[Path]:
    """The figures the README shows, drawn into `folder` (RESULTS_DIR/figures): each group's figure
    (plots/GROUP.png) and those the families add."""
    families = list(registry.families() if families is None else families)
    paths = [figure_of(group, recs, folder, families)[0] for group, recs in groups_of(records).items()]
    for family in families:
        paths += family.readme_figures([r for r in records if r.get("family") == family.name], folder)
    return paths



def variants_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: one row per group (task), one column per variant (model); each cell the headline
    metric's mean ± std, solved seeds, and wall time. The reference is its own column. Rows and
    columns follow `order` (experiment names, e.g. the catalog's), then the names."""
    rank = {name: k for k, name in enumerate(order)}
    groups: dict[str, dict[str, Record]] = defaultdict(dict)
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


def group_figure(group: str, records: list[Record], out: Path) -> Path:
    curves: dict[str, list[tuple[float, float]]] = {}
    series: dict[str, str] = {}
    for rec in records:
        label = variant_of(rec)
        n = len(rec["seeds"])
        for s in rec["seeds"]:
            key = f"{label} s{s['seed']}"
            curves[key] = [(p[0], p[1]) for p in s["curve"]]
            series[key] = f"{label} ({n} seed{'s' if n > 1 else ''})"
    ref = next((r for r in records[0]["references"] if r["metric"] == records[0]["metric"]), None)
    x, y = records[0].get("curve") or ("step", records[0]["metric"])
    label = (ref["note"] or "paper").split(";")[0][:48] if ref else ""  # the note's first clause
    return learning_curves(curves, out / "plots" / (slug(group) + ".png"),
                           title=group, ylabel=y, xlabel=x, baseline=ref["value"] if ref else None,
                           baseline_label=label, series=series)


def figure_of(group: str, records: list[Record], out: Path, families: Iterable[Family] = ()) -> tuple[Path, str]:
    """The group's figure under out/plots/ and its caption: the one its family draws, if it draws
    one for this group, else the learning curves."""
    for family in families:
        if family.name == records[0].get("family"):
            drawn = family.group_figure(group, records, out)
            if drawn is not None:
                return drawn
    return group_figure(group, records, out), "learning curves, every seed, against the reference line"



def extra_figures(record: Record, out: Path) -> list[Path]:
    """Figures besides the learning curves, copied into out/plots/: those a committed result lists
    (`figures`, relative to its results folder), else those its runs drew (`run_figures`)."""
    if "figures" in record:
        sources = {Path(f).name: Path(record.get("results_dir", ".")) / f for f in record["figures"]}
    else:
        sources = run_figures(record)
    copied = []
    for name, src in sources.items():
        if src.exists():
            dest = out / "plots" / slug(record["experiment"]) / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            copied.append(dest)
    return copied


def html_section(group: str, records: list[Record], figure: Path, out: Path,
                 caption: str = "learning curves, every seed, against the reference line") -> str:
    """A group's part of the page: its table, figure, the experiments' own figures and notes; the
    group and each experiment's row carry ids the summaries link to."""
    cols = ["experiment", "metric", "reference", "ours", "seeds", "solved", "gap", "wall time",
            "budget", "machine", "commit"]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join(f"<tr id='{html.escape(slug(r['experiment']))}'>" + "".join(
        f"<td{' class=num' if c in ('ours', 'gap', 'seeds', 'wall time') else ''}>{html.escape(r[c])}</td>"
        for c in cols) + "</tr>" for r in map(row, records))
    notes = []
    for rec in records:
        seeds = ", ".join(f"seed {s['seed']}: {fmt(s['metrics'].get(rec['metric']))} "
                          f"({fmt_time(s['wall_time_s'])})" for s in rec["seeds"])
        devs = "".join(f"<li>{html.escape(d)}</li>" for d in rec.get("deviations", []))
        command = rec.get("command")
        cmd = f"<p>command: <code>{html.escape(command)}</code></p>" if command else ""
        if any("command" in s for s in rec["seeds"]):  # seeds (or their parts) gathered by several reproductions
            cmd = "".join(f"<p>seed {s['seed']}{_parts_text(r, 'shards' in s)}: "
                          f"<code>{html.escape(r.get('command') or '–')}</code>, "
                          f"{html.escape(machine_text(r.get('machine')))}, "
                          f"commit {html.escape(r.get('git_commit') or '–')}, {html.escape(r.get('created', ''))}</p>"
                          for s in rec["seeds"] for r in shards_of(s))
        notes.append(f"<details><summary>{html.escape(rec['experiment'])}: seeds, command, "
                     f"deviations from the paper</summary><p>{html.escape(seeds)}</p>{cmd}"
                     f"<p>{html.escape(rec['citation'])}</p><ol>{devs}</ol></details>")
    rel = figure.relative_to(out).as_posix()
    extras = "".join(
        f"<p><a href='{p.relative_to(out).as_posix()}'>{html.escape(rec['experiment'])}: {html.escape(p.name)}</a></p>"
        if p.suffix == ".sgf" else
        f"<figure><img src='{p.relative_to(out).as_posix()}' alt='{html.escape(p.stem)}'>"
        f"<figcaption>{html.escape(rec['experiment'])}: {html.escape(p.stem)}</figcaption></figure>"
        for rec in records for p in extra_figures(rec, out))
    return (f"<h3 id='group-{html.escape(slug(group))}'>{html.escape(group)}</h3><table><tr>{head}</tr>{body}</table>"
            f"<figure><img src='{rel}' alt='{html.escape(caption)} of {html.escape(group)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            + extras + "".join(notes))


def groups_of(records: list[Record]) -> dict[str, list[Record]]:
    """The records of each figure (`group_of`), in name order."""
    groups: dict[str, list[Record]] = defaultdict(list)
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


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>milestones report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.short {{ color: #a33; }} td.meets {{ color: #274; }}
figure {{ margin: 0.5em 0; }} figure img {{ width: 100%; max-width: 880px; }}
figcaption {{ font-size: 0.8em; color: #555; }} details {{ font-size: 0.85em; margin: 0.4em 0; }}
code {{ background: #f6f6f6; padding: 0 0.2em; }}
h2 {{ border-top: 2px solid #ddd; padding-top: 0.6em; margin-top: 1.6em; }}
nav a {{ margin-right: 1em; }}
</style></head><body>
<h1>milestones — measured results against the papers</h1>
<p>{intro}</p>
<nav>{nav}</nav>
{sections}
</body></html>
"""
OVERVIEW_COLUMNS = ["family", "experiment", "metric", "reference", "ours", "seeds", "status"]
FRESH_COLUMNS = ["experiment", "metric", "reference", "ours", "seeds", "status", "wall time"]


def summary_row(record: Record | None, experiment: str, metric: str, family: str = "") -> dict[str, str]:
    """One line about an experiment: its reference, ours, where ours stands (`status`)."""
    cells = row(record) if record else {"reference": "–", "ours": "–", "seeds": "0", "wall time": "–"}
    return {"family": family, "experiment": experiment, "metric": metric, "reference": cells["reference"],
            "ours": cells["ours"], "seeds": cells["seeds"], "status": status(record),
            "wall time": cells["wall time"]}


def overview(families: Sequence[Family], records: list[Record]) -> list[dict[str, str]]:
    """One row per family and headline experiment: the reference, ours and where ours stands."""
    by_name = {r["experiment"]: r for r in records}
    rows = []
    for family in families:
        has_section = any(e.name in by_name for e in family.experiments)
        for name in family.headlines:
            record = by_name.get(name)
            metric = record["metric"] if record else next(e.metric for e in family.experiments if e.name == name)
            row = summary_row(record, name, metric, family.title)
            # links only to what the page has: the family's section, the experiment's row
            rows.append(row | ({"anchor": f"family-{family.name}"} if has_section else {})
                        | ({"row": slug(name)} if record else {}))
    return rows


def summary_html(rows: list[dict[str, str]], columns: list[str]) -> str:
    """A table of `summary_row`s; the family links to its section, the experiment to its row."""
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = []
    for k, r in enumerate(rows):
        kind = "short" if r["status"].startswith("short") else "meets" if r["status"].startswith("at or") else ""
        links = {"family": (f"<a href='#{r['anchor']}'>{html.escape(r['family'])}</a>" if "anchor" in r
                            else html.escape(r["family"])),
                 "experiment": (f"<a href='#{html.escape(r['row'])}'>{html.escape(r['experiment'])}</a>" if "row" in r
                                else html.escape(r["experiment"]))}
        cells = []
        for c in columns:
            if c == "family":  # one cell for the family's consecutive rows
                if k and rows[k - 1]["family"] == r["family"]:
                    continue
                span = next((n for n, other in enumerate(rows[k:]) if other["family"] != r["family"]), len(rows) - k)
                cells.append(f"<td rowspan={span}>{links['family']}</td>")
                continue
            css = " class=num" if c in ("ours", "seeds", "wall time") else f" class='{kind}'" if c == "status" else ""
            cells.append(f"<td{css}>{links.get(c) or html.escape(r[c])}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def summary_markdown(rows: list[dict[str, str]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r[c] for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _groups_html(records: list[Record], out: Path, families: Sequence[Family]) -> tuple[list[str], list[str]]:
    """Per group of `records`: its HTML part (table, figure, notes) and its Markdown."""
    parts, md = [], []
    for group, recs in groups_of(records).items():
        fig, caption = figure_of(group, recs, out, families)
        parts.append(html_section(group, recs, fig, out, caption))
        md += [f"### {group}\n", markdown_table(recs), f"![{group}]({fig.relative_to(out).as_posix()})\n"]
    return parts, md


def build(records: list[Record], out: str | Path, families: Sequence[Family] | None = None,
          fresh: Sequence[Record] = ()) -> tuple[Path, Path]:
    """Write out/index.html, out/report.md and out/plots/*.png; return the two documents' paths.
    `records` are every record to show, `fresh` those of the runs just trained (shown first too)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    families = list(registry.families() if families is None else families)
    sections, md = [], ["# milestones report\n"]
    nav = []
    if fresh:
        rows = [summary_row(r, r["experiment"], r["metric"]) | {"row": slug(r["experiment"])} for r in fresh]
        sections.append("<h2 id='fresh'>Runs you just trained</h2><p>Each beside its reference; its learning "
                        "curves and figures are in its family's section below.</p>"
                        + summary_html(rows, FRESH_COLUMNS))
        md += ["## Runs you just trained\n", summary_markdown(rows, FRESH_COLUMNS)]
        nav.append("<a href='#fresh'>runs you just trained</a>")
    rows = overview(families, records)
    if rows:
        sections.append("<h2 id='overview'>Overview: does it reproduce?</h2><p>Each family's headline "
                        "experiments: the paper's number (or the task's reference), ours (mean ± standard "
                        "deviation over seeds) and where ours stands. The family's section has every "
                        "experiment, its deviations from the paper and its figures.</p>"
                        + summary_html(rows, OVERVIEW_COLUMNS))
        md += ["## Overview: does it reproduce?\n", summary_markdown(rows, OVERVIEW_COLUMNS)]
        nav.append("<a href='#overview'>overview</a>")
    known = {f.name for f in families}
    for family in families:
        mine = [r for r in records if r.get("family") == family.name]
        if not mine:
            continue
        nav.append(f"<a href='#family-{family.name}'>{html.escape(family.name)}</a>")
        body, family_md = [], [f"## {family.title}\n"]
        for section in family.sections(mine, out):
            body.append(f"<h3>{html.escape(section.title)}</h3>{section.html}")
            family_md += [f"### {section.title}\n", section.markdown]
        parts, part_md = _groups_html(mine, out, families)
        sections.append(f"<h2 id='family-{family.name}'>{html.escape(family.title)}</h2>" + "".join(body + parts))
        md += family_md + part_md
    others = [r for r in records if r.get("family") not in known]
    if others:
        parts, part_md = _groups_html(others, out, families)
        sections.append("<h2 id='other'>Other results (no installed family has these experiments)</h2>"
                        + "".join(parts))
        md += ["## Other results\n", *part_md]
    intro = (f"{len(records)} experiments. “ours” is the mean ± standard deviation over seeds of the "
             f"headline metric on the experiment's test set; “gap” is ours minus the reference "
             f"(and their ratio). Wall time is the sum over seeds.") if records else "No results yet."
    index = out / "index.html"
    index.write_text(PAGE.format(intro=html.escape(intro), nav=" ".join(nav), sections="\n".join(sections)))
    report_md = out / "report.md"
    report_md.write_text("\n".join(md))
    return index, report_md
