"""Result records (see milestones.records) made from runs: every seed of an experiment gathered, its
metrics summarised over the seeds and its figures copied; and the committed results read back.

The same record is built from a reproduction's runs (`from_experiment`, written to results/) and
from any finished run directories (`from_runs`), so the report treats committed results and fresh
runs alike.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from milestones.family import Experiment, Parts, slug
from milestones.records import RESULT_VERSION, ResultRecord, SeedEntry, Shard, Stats, read_result, write_result
from milestones.runs import read_metrics

MAX_CURVE_POINTS = 200


def file_name(experiment: str) -> str:
    return slug(experiment) + ".json"


def curve(run_dir: str | Path, x: str, y: str) -> list[list[float]]:
    """The run's logged values of `y` against `x` as [x, y], thinned to at most 200 points."""
    points = [[r[x], r[y]] for r in read_metrics(run_dir) if y in r and x in r]
    if len(points) > MAX_CURVE_POINTS:
        stride = math.ceil(len(points) / MAX_CURVE_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    return points


def stats(values: list[float]) -> Stats:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(values), "max": max(values), "n": n}


def seed_entry(result: dict[str, Any], run_dir: str | Path) -> SeedEntry:
    """One seed of a record, from its run's result.json and metrics log."""
    x, y = result.get("curve") or ("step", result["metric"])
    return {"seed": result["seed"], "metrics": result["metrics"], "wall_time_s": result["wall_time_s"],
            "curve": curve(run_dir, x, y), "run_dir": str(run_dir)}


def aggregate(seeds: list[SeedEntry], *, experiment: str, summary: str, metric: str, goal: str,
              references: list[dict[str, Any]], citation: str, deviations: list[str], budget: str | None,
              command: str | None, machine: dict[str, Any] | None, git_commit: str | None,
              family: str | None = None, group: str | None = None, curve_keys: list[str] | None = None,
              config: dict[str, Any] | None = None) -> ResultRecord:
    names = sorted({k for s in seeds for k in s["metrics"]})
    return {
        "version": RESULT_VERSION, "experiment": experiment, "family": family, "summary": summary,
        "metric": metric, "goal": goal, "group": group, "curve": curve_keys or ["step", metric],
        "metrics": names, "references": references, "citation": citation, "deviations": deviations,
        "budget": budget, "config": config,
        "seeds": sorted(seeds, key=lambda s: s["seed"]),
        "summary_stats": {k: stats([s["metrics"][k] for s in seeds if k in s["metrics"]]) for k in names},
        "command": command, "wall_time_s": round(sum(s["wall_time_s"] for s in seeds), 1),
        "machine": machine, "git_commit": git_commit,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }


def with_provenance(entry: SeedEntry, source: Any, command: str | None, created: str) -> SeedEntry:
    """The seed entry with where it came from written in (its own, else `source`'s machine and commit)."""
    return {**entry, "machine": entry.get("machine", source.get("machine")),
            "git_commit": entry.get("git_commit", source.get("git_commit")),
            "command": entry.get("command", command), "created": entry.get("created", created)}


def keepable_seeds(record: ResultRecord | None, configs: list[dict[str, Any]],
                   as_saved: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c) -> dict[int, SeedEntry]:
    """The seeds of a committed record that a reproduction asking for these (resolved, per-seed)
    configs can keep instead of training them again: those it asks for, where the record was made
    with the same config but for the seed (compared after `as_saved` brings the record's config up
    to today's fields). Each comes with its provenance written in."""
    saved = record.get("config") if record else None
    if not record or not saved:
        return {}
    made_with = as_saved(saved)
    wanted = {c["seed"]: c for c in configs}
    kept = {}
    for entry in record["seeds"]:
        config = wanted.get(entry["seed"])
        if config is not None and {**made_with, "seed": entry["seed"]} == config:
            kept[entry["seed"]] = with_provenance(entry, record, record.get("command"),
                                                  record.get("created", ""))
    return kept


def keepable_parts(record: ResultRecord | None, configs: list[Any], parts: Parts,
                   load: Callable[[dict[str, Any]], Any]) -> dict[int, tuple[SeedEntry, tuple[int, ...]]]:
    """The seeds of a committed record that a reproduction asking for these configs can complete by
    training only some parts: the parts it asks for that the record made with the same config (each
    part's config compared on its own, `load` turning the record's config into today's fields). A
    record over fewer parts keeps them all; one whose config changed for some parts (a task's own
    learning rate) drops those where the experiment can split a seed (`Parts.points`, `restrict`)
    and its runs did not mix them with kept parts. Each seed comes with its provenance written in,
    and with the parts it keeps."""
    saved = record.get("config") if record else None
    if not record or not saved:
        return {}
    made = load(saved)
    have = parts.of(made)
    entries = {entry["seed"]: entry for entry in record["seeds"]}
    kept = {}
    for config in configs:
        want, entry = parts.of(config), entries.get(config.seed)
        if entry is None or have is None or want is None:
            continue
        made_seed = dataclasses.replace(made, seed=config.seed)
        same = tuple(p for p in have if p in want and parts.only(made_seed, (p,)) == parts.only(config, (p,)))
        if not same or set(same) == set(want):  # nothing to keep, or nothing to train (kept whole or not at all)
            continue
        if set(same) != set(have):
            entry = dropped(entry, have, same, parts, made)
            if entry is None:
                continue
        kept[config.seed] = (with_provenance(entry, record, record.get("command"), record.get("created", "")),
                             same)
    return kept


def dropped(entry: SeedEntry, have: tuple[int, ...], keep: tuple[int, ...], parts: Parts,
            made: Any) -> SeedEntry | None:
    """The seed entry over parts `have` cut to the parts `keep`: their shards (the runs that trained
    them), wall time, metrics (`parts.restrict`) and their stretches of the learning curve, each x
    continued from the last kept point as `joined` continues it. None where that cannot be done: the
    experiment does not say how, a run trained kept and dropped parts together, or the curve is not
    the length its parts make."""
    if parts.points is None or parts.restrict is None:
        return None
    shards, keep_set = shards_of(entry, have), set(keep)
    if any(keep_set & set(s["parts"]) and not set(s["parts"]) <= keep_set for s in shards):
        return None
    n, curve = parts.points(made), entry["curve"]
    if len(curve) != n * sum(len(s["parts"]) for s in shards):
        return None
    out: list[list[float]] = []
    start = 0  # where a shard's stretch starts
    before: float = 0  # the x it was continued from (an int where the record's are)
    for s in shards:
        stretch = curve[start:start + n * len(s["parts"])]
        if set(s["parts"]) <= keep_set:
            last: float = out[-1][0] if out else 0
            out += [[x - before + last, y] for x, y in stretch]
        start, before = start + len(stretch), stretch[-1][0] if stretch else before
    kept_shards = [s for s in shards if set(s["parts"]) <= keep_set]
    seconds = sum(s["wall_time_s"] for s in kept_shards)
    share = seconds / entry["wall_time_s"] if entry["wall_time_s"] else 0.0
    return {**entry, "metrics": parts.restrict(entry["metrics"], keep, share), "wall_time_s": round(seconds, 1),
            "curve": out, "shards": kept_shards}


def shards_of(entry: SeedEntry, parts: tuple[int, ...] | None = None) -> list[Shard]:
    """The runs that made a seed entry: its shards where its parts were trained by several, else itself."""
    if "shards" in entry:
        return entry["shards"]
    return [{"parts": list(parts or ()), "wall_time_s": entry.get("wall_time_s", 0.0),
             "run_dir": entry.get("run_dir", ""), "machine": entry.get("machine"),
             "git_commit": entry.get("git_commit"), "command": entry.get("command"),
             "created": entry.get("created", "")}]


def joined(kept: SeedEntry, kept_parts: tuple[int, ...], trained: SeedEntry, trained_parts: tuple[int, ...],
           parts: Parts) -> SeedEntry:
    """One seed entry from a kept entry and a run over the parts it lacked (both with provenance):
    metrics merged by the experiment's `parts.merge`, wall times summed, the trained run's curve
    after the kept one's (its x continued from the kept curve's last), and each run a shard."""
    curve = kept["curve"]
    offset = curve[-1][0] if curve else 0
    return {"seed": kept["seed"], "metrics": parts.merge([kept["metrics"], trained["metrics"]]),
            "wall_time_s": round(kept["wall_time_s"] + trained["wall_time_s"], 1),
            "curve": curve + [[x + offset, y] for x, y in trained["curve"]], "run_dir": trained["run_dir"],
            "machine": trained.get("machine"), "git_commit": trained.get("git_commit"),
            "command": trained.get("command"), "created": trained.get("created", ""),
            "shards": shards_of(kept, kept_parts) + shards_of(trained, trained_parts)}


def from_experiment(exp: Experiment, runs: list[tuple[SeedEntry, dict[str, Any]]], *, family: str | None,
                    budget: str, command: str, kept: Iterable[SeedEntry] = (),
                    previous: ResultRecord | None = None,
                    partial: Mapping[int, tuple[SeedEntry, tuple[int, ...], tuple[int, ...]]] | None = None,
                    config: dict[str, Any] | None = None) -> ResultRecord:
    """The committed-result record of `exp` from each seed's (entry, result.json), and the seeds
    `kept` from the `previous` record (reproduce --keep). A record mixing the two says on every seed
    which machine, commit and command produced it; its own machine, commit and config are the newly
    trained seeds' (the previous record's when every seed was kept), with the seed of the record's
    first. A seed in `partial` (seed -> the kept entry, its parts, the parts its run here trained) is
    joined with its run into one entry; `config` is then the record's config (the runs' are over
    fewer parts)."""
    kept, partial = list(kept), partial or {}
    entries = [entry for entry, _ in runs]
    first: Mapping[str, Any] | None = runs[0][1] if runs else previous
    if first is None and kept:  # gathered from finished runs alone (reproduce --reuse over parts)
        first = {"machine": kept[0].get("machine"), "git_commit": kept[0].get("git_commit")}
    if first is None:
        raise ValueError(f"{exp.name}: no seeds to record")
    if kept or partial:
        now = dt.datetime.now().isoformat(timespec="seconds")
        entries = kept + [with_provenance(entry, result, command, now) for entry, result in runs]
        for i, entry in enumerate(entries):
            if entry["seed"] in partial and exp.parts:
                old, have, trained = partial[entry["seed"]]
                entries[i] = joined(old, have, entry, trained, exp.parts)
    config = config or first.get("config")
    if config and "seed" in config and entries:  # the config of the record's first seed, whichever trained here
        config = {**config, "seed": min(entry["seed"] for entry in entries)}
    record = aggregate(entries, experiment=exp.name, family=family, summary=exp.summary,
                       metric=exp.metric, goal=exp.goal, references=[dataclasses.asdict(r) for r in exp.references],
                       citation=exp.citation, deviations=list(exp.deviations), budget=budget, command=command,
                       machine=first["machine"], git_commit=first["git_commit"], group=exp.group_name,
                       curve_keys=list(exp.curve_keys), config=config)
    if (kept or partial) and previous and previous.get("figures"):  # drawn by a kept seed's run (or part's
        record["figures"] = previous["figures"]  # run), which may be gone: `write` keeps those not redrawn
    return record


def from_runs(run_dirs: Iterable[str | Path],
              family_of: Callable[[str], str | None] = lambda name: None) -> list[ResultRecord]:
    """Group finished runs (directories with result.json) by experiment into result records."""
    groups: dict[str, list[tuple[dict[str, Any], Path]]] = defaultdict(list)
    for d in run_dirs:
        path = Path(d) / "result.json"
        if path.exists():
            result = json.loads(path.read_text())
            groups[result["experiment"]].append((result, Path(d)))
    records = []
    for name, runs in sorted(groups.items()):
        first = runs[0][0]
        records.append(aggregate(
            [seed_entry(r, d) for r, d in runs], experiment=name, family=family_of(name),
            summary=first.get("summary", name), metric=first["metric"], goal=first["goal"],
            references=first["references"], citation=first["citation"], deviations=first.get("deviations", []),
            budget=None, command=None, machine=first["machine"], git_commit=first["git_commit"],
            group=first.get("group"), curve_keys=first.get("curve"), config=first.get("config")))
    return records


FIGURE_PATTERNS = ("*.png", "*.gif", "*.svg", "*.sgf")


def best_seed(record: ResultRecord) -> SeedEntry | None:
    """The seed with the best value of the record's metric (the lowest or the highest, by its goal;
    the first of equals), among seeds that report it as a finite number."""
    metric, sign = record["metric"], -1 if record.get("goal") == "max" else 1
    scored = [s for s in record["seeds"] if isinstance(s["metrics"].get(metric), (int, float))
              and math.isfinite(s["metrics"][metric])]
    return min(scored, key=lambda s: sign * s["metrics"][metric]) if scored else None


def seed_figures(entry: SeedEntry, prefix: str = "") -> dict[str, Path]:
    """The figures a seed's run drew besides the learning curve, by the name they get in the record
    (`prefix` + their file name); for a seed gathered from runs over its parts, those of every part's
    run still here (a later part's file wins over an earlier one's of the same name)."""
    found: dict[str, Path] = {}
    for run_dir in [s.get("run_dir") for s in entry.get("shards", [])] or [entry.get("run_dir")]:
        plots = Path(run_dir or "/nonexistent") / "plots"
        for p in sorted(p for pattern in FIGURE_PATTERNS for p in plots.glob(pattern)):
            if p.name != "learning_curve.png":
                found[prefix + p.name] = p
    return found


def run_figures(record: ResultRecord) -> dict[str, Path]:
    """The figures of the record, by name: those its first seed's run drew besides the learning curve
    (plots/*.png, *.svg, animations as plots/*.gif, and the files a figure shows, plots/*.sgf: a Go
    game), and, where the seed with the best metric is another, that seed's as `seedN-NAME`, so that
    a record whose first seed failed still shows what a trained one does. Only runs whose directory
    is still here count."""
    first, best = record["seeds"][0], best_seed(record)
    found = seed_figures(first)
    if best is not None and best["seed"] != first["seed"]:
        found |= seed_figures(best, f"seed{best['seed']}-")
    return {name: found[name] for name in sorted(found)}


def write(record: ResultRecord, directory: str | Path) -> Path:
    """Write the record as directory/EXPERIMENT.json, with copies of its figures (`run_figures`:
    the first seed's and the best seed's) under directory/figures/EXPERIMENT/. Figures the record
    already lists (those of kept seeds or of a seed's earlier parts) stay where their files are here
    and the runs drew none of the same name."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = slug(record["experiment"])
    figures = run_figures(record)  # none where the seeds' runs are gone: the record's own stay
    if figures:
        (directory / "figures" / name).mkdir(parents=True, exist_ok=True)
        drawn = {f"figures/{name}/{fig}": src for fig, src in figures.items()}
        listed = [rel for rel in record.get("figures", []) if rel not in drawn and (directory / rel).exists()]
        for rel, src in drawn.items():
            shutil.copyfile(src, directory / rel)
        record = {**record, "figures": sorted([*listed, *drawn])}
    return write_result(record, directory / file_name(record["experiment"]))


def load_all(directory: str | Path,
             family_of: Callable[[str], str | None] = lambda name: None) -> list[ResultRecord]:
    """Every record in `directory` (results/), in file-name order; `family_of` names the family of
    records written before they carried it."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [read_result(path, family_of) for path in sorted(directory.glob("*.json"))]
