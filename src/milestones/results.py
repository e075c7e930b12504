"""Committed results: one JSON file per experiment, gathering the runs of all its seeds.

    {
      "experiment": "rnn/adding-t200/lstm", "summary": …, "metric": "test_mse", "goal": "min",
      "metrics": ["test_mse", "solved", …],
      "references": [{"metric", "value", "source", "note", "verified"}], "citation": …,
      "deviations": [...], "budget": "full",
      "seeds": [{"seed": 0, "metrics": {…}, "wall_time_s": …, "curve": [[step, value], …],
                 "run_dir": …}, …],
      "summary_stats": {"test_mse": {"mean", "std", "min", "max", "n"}, …},
      "command": "milestones reproduce rnn/adding-t200 --seeds 3", "wall_time_s": total,
      "machine": {...}, "git_commit": "…", "created": "…"
    }

The same structure is built from run directories (`from_runs`), so the report treats committed
results and fresh runs alike.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from milestones.registry import Experiment
from milestones.runs import read_metrics

MAX_CURVE_POINTS = 200


class ResultsError(ValueError):
    """A results file that cannot be read; the message names it."""


def file_name(experiment: str) -> str:
    return experiment.replace("/", "__") + ".json"


def curve(run_dir: str | Path, x: str, y: str) -> list[list[float]]:
    """The run's logged values of `y` against `x` as [x, y], thinned to at most 200 points."""
    points = [[r[x], r[y]] for r in read_metrics(run_dir) if y in r and x in r]
    if len(points) > MAX_CURVE_POINTS:
        stride = math.ceil(len(points) / MAX_CURVE_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    return points


def stats(values: list[float]) -> dict[str, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(values), "max": max(values), "n": n}


def seed_entry(result: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    x, y = result.get("curve") or ("step", result["metric"])
    return {"seed": result["seed"], "metrics": result["metrics"], "wall_time_s": result["wall_time_s"],
            "curve": curve(run_dir, x, y), "run_dir": str(run_dir)}


def aggregate(seeds: list[dict[str, Any]], *, experiment: str, summary: str, metric: str, goal: str,
              references: list[dict], citation: str, deviations: list[str], budget: str | None,
              command: str | None, machine: dict | None, git_commit: str | None,
              group: str | None = None, curve_keys: list[str] | None = None,
              config: dict | None = None) -> dict[str, Any]:
    names = sorted({k for s in seeds for k in s["metrics"]})
    return {
        "experiment": experiment, "summary": summary, "metric": metric, "goal": goal,
        "group": group, "curve": curve_keys or ["step", metric],
        "metrics": names, "references": references, "citation": citation,
        "deviations": deviations, "budget": budget,
        "seeds": sorted(seeds, key=lambda s: s["seed"]),
        "summary_stats": {k: stats([s["metrics"][k] for s in seeds if k in s["metrics"]]) for k in names},
        "command": command, "wall_time_s": round(sum(s["wall_time_s"] for s in seeds), 1),
        "machine": machine, "git_commit": git_commit, **({"config": config} if config else {}),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }


def from_experiment(exp: Experiment, runs: list[tuple[dict[str, Any], Path]], *, budget: str,
                    command: str) -> dict[str, Any]:
    """The committed-result record of `exp` from (result.json, run_dir) of each seed."""
    first = runs[0][0]
    return aggregate([seed_entry(r, d) for r, d in runs], experiment=exp.name, summary=exp.summary,
                     metric=exp.metric, goal=exp.goal,
                     references=[dataclasses.asdict(r) for r in exp.references],
                     citation=exp.citation, deviations=list(exp.deviations), budget=budget,
                     command=command, machine=first["machine"], git_commit=first["git_commit"],
                     group=exp.group_name, curve_keys=list(exp.curve_keys), config=first.get("config"))


def from_runs(run_dirs: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Group finished runs (directories with result.json) by experiment into result records."""
    groups: dict[str, list[tuple[dict, Path]]] = defaultdict(list)
    for d in run_dirs:
        path = Path(d) / "result.json"
        if path.exists():
            result = json.loads(path.read_text())
            groups[result["experiment"]].append((result, Path(d)))
    records = []
    for name, runs in sorted(groups.items()):
        first = runs[0][0]
        records.append(aggregate(
            [seed_entry(r, d) for r, d in runs], experiment=name, summary=first.get("summary", name),
            metric=first["metric"], goal=first["goal"], references=first["references"],
            citation=first["citation"], deviations=first.get("deviations", []), budget=None,
            command=None, machine=first["machine"], git_commit=first["git_commit"],
            group=first.get("group"), curve_keys=first.get("curve")))
    return records


def run_figures(record: dict[str, Any]) -> list[Path]:
    """The figures its first seed's run drew besides the learning curve (plots/*.png), if that run
    directory is still here."""
    plots = Path(record["seeds"][0].get("run_dir") or "/nonexistent") / "plots"
    return sorted(p for p in plots.glob("*.png") if p.name != "learning_curve.png")


def write(record: dict[str, Any], directory: str | Path) -> Path:
    """Write the record as directory/EXPERIMENT.json, with copies of the first seed's figures
    (its run's plots/*.png besides the learning curve) under directory/figures/EXPERIMENT/."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = file_name(record["experiment"]).removesuffix(".json")
    figures = run_figures(record)
    if figures:
        (directory / "figures" / name).mkdir(parents=True, exist_ok=True)
        record = dict(record, figures=[])
        for src in figures:
            rel = f"figures/{name}/{src.name}"
            shutil.copyfile(src, directory / rel)
            record["figures"].append(rel)
    path = directory / file_name(record["experiment"])
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def load_all(directory: str | Path) -> list[dict[str, Any]]:
    directory = Path(directory)
    if not directory.is_dir():
        return []
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ResultsError(f"{path} is not valid JSON ({e})") from None
        if not isinstance(record, dict) or not {"experiment", "metric", "seeds"} <= record.keys():
            raise ResultsError(f"{path} is not a results file (expected keys experiment, metric, seeds)")
        record["_results_dir"] = str(directory)  # where its `figures` paths start; not saved
        records.append(record)
    return records
