"""The two kinds of record the project writes, one schema each, read and written only here.

A *result record* gathers the seeds of one experiment (`milestones reproduce`, or the finished runs a
report shows); results/EXPERIMENT.json holds one:

    {"version": 2, "experiment": "family/task/variant", "family": …, "summary": …,
     "metric": "test_loss", "goal": "min", "group": "family/task", "curve": ["step", "test_loss"],
     "metrics": [every metric name], "references": [{metric, value, source, note, verified}],
     "citation": …, "deviations": [...], "budget": "full" | "quick" | null,
     "config": {the first seed's resolved config}, "seeds": [{seed, metrics, wall_time_s, curve, run_dir,
     and where seeds came from several reproductions (reproduce --keep) machine, git_commit, command,
     created, shards (the runs that trained a seed's parts)}],
     "summary_stats": {metric: {mean, std, min, max, n}}, "command": …, "wall_time_s": sum over seeds,
     "machine": {...}, "git_commit": …, "created": …, "figures": [paths under the results folder]}

A *benchmark record* is one run of a script in benchmarks/: what was run (command, commit, date),
where (torch version, device, machine), with which settings, and the numbers.

Version 1 records (written before this module) have no "version" or "family" field, and those of
four families no "config"; `read_result` upgrades them as it reads (the family from the caller's
lookup, the config None), and the committed ones were rewritten once (see `config_note`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

RESULT_VERSION = 2
BENCHMARK_VERSION = 2


class RecordError(ValueError):
    """A record file that cannot be read; the message names the file and what was expected."""


class Stats(TypedDict):
    mean: float
    std: float
    min: float
    max: float
    n: int


class SeedEntry(TypedDict):
    seed: int
    metrics: dict[str, float]
    wall_time_s: float
    curve: list[list[float]]  # [x, y] of the learning curve, at most MAX_CURVE_POINTS
    run_dir: str
    # where the seeds of one record came from different reproductions (reproduce --keep), each seed's own:
    machine: NotRequired[dict[str, Any] | None]
    git_commit: NotRequired[str | None]
    command: NotRequired[str | None]
    created: NotRequired[str]
    # where one seed's parts (e.g. its tasks) were trained by several runs, each run's parts and provenance
    shards: NotRequired[list[Shard]]


class Shard(TypedDict):
    """The runs that trained a seed part by part (reproduce --keep on an experiment with Parts)."""
    parts: list[int]
    wall_time_s: float
    run_dir: str
    machine: dict[str, Any] | None
    git_commit: str | None
    command: str | None
    created: str


class ResultRecord(TypedDict):
    version: int
    experiment: str
    family: str | None  # None where no installed family has the experiment any more
    summary: str
    metric: str  # the headline metric
    goal: str  # "min" or "max"
    group: str | None
    curve: list[str]  # the logged (x, y) keys of the learning curve
    metrics: list[str]
    references: list[dict[str, Any]]
    citation: str
    deviations: list[str]
    budget: str | None
    config: dict[str, Any] | None
    seeds: list[SeedEntry]
    summary_stats: dict[str, Stats]
    command: str | None
    wall_time_s: float
    machine: dict[str, Any] | None
    git_commit: str | None
    created: str
    figures: NotRequired[list[str]]  # copies of the first seed's figures, relative to the results folder
    config_note: NotRequired[str]  # how the config was recovered, where the run did not record it
    results_dir: NotRequired[str]  # where the record was read from (in RAM only, never written)


class BenchmarkRecord(TypedDict):
    version: int
    benchmark: str  # the script's name, e.g. "rnn_speed"
    command: str  # how to rerun it
    commit: str | None  # of the measured code
    date: str
    torch: str
    device: str  # "cpu" or "cuda"
    machine: dict[str, Any]  # cpu, gpu, cores, threads, python, platform
    settings: dict[str, Any]  # the benchmark's own parameters (shapes, repeats, …)
    results: dict[str, Any]  # the numbers, in the benchmark's own layout
    note: NotRequired[str]


REQUIRED_RESULT_KEYS = ("experiment", "metric", "seeds")  # what a version-1 record already had
REQUIRED_BENCHMARK_KEYS = ("version", "benchmark", "command", "commit", "date", "torch", "device", "machine",
                           "settings", "results")


def read_result(path: str | Path, family_of: Callable[[str], str | None] = lambda name: None) -> ResultRecord:
    """A result record from its file, upgraded to the current version; `family_of` names the family
    of an experiment for records written before they carried it."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not set(REQUIRED_RESULT_KEYS) <= data.keys():
        raise RecordError(f"{path} is not a results file (expected keys {', '.join(REQUIRED_RESULT_KEYS)})")
    version = data.get("version", 1)
    if not isinstance(version, int) or version > RESULT_VERSION:
        raise RecordError(f"{path} is a version {version!r} result record; this milestones reads versions 1-"
                          f"{RESULT_VERSION} (a newer milestones wrote it?)")
    if version == 1:
        data = upgrade_result(data, family_of)
    data["results_dir"] = str(path.parent)
    return data


def upgrade_result(data: dict[str, Any], family_of: Callable[[str], str | None]) -> dict[str, Any]:
    """A version-1 record as version 2: the fields it lacked added, in the schema's order."""
    data = dict(data)
    data.setdefault("family", family_of(data["experiment"]))
    data.setdefault("config", None)
    data["version"] = RESULT_VERSION
    order = list(ResultRecord.__annotations__)
    return {k: data[k] for k in sorted(data, key=lambda k: order.index(k) if k in order else len(order))}


def write_result(record: ResultRecord, path: str | Path) -> Path:
    """Write `record` to `path` (atomically), without `results_dir` (known only once read)."""
    data = {k: v for k, v in record.items() if k != "results_dir"}
    return _write_json(Path(path), data, indent=1)


def benchmark_record(benchmark: str, command: str, *, device: str, settings: dict[str, Any],
                     results: dict[str, Any], machine: dict[str, Any], commit: str | None,
                     torch_version: str) -> BenchmarkRecord:
    return {"version": BENCHMARK_VERSION, "benchmark": benchmark, "command": command, "commit": commit,
            "date": dt.datetime.now().isoformat(timespec="seconds"), "torch": torch_version, "device": device,
            "machine": machine, "settings": settings, "results": results}


def save_benchmark(path: str | Path, benchmark: str, *, device: str, settings: dict[str, Any],
                   results: dict[str, Any]) -> BenchmarkRecord:
    """Write the record of a benchmark run by this process: its command line, the commit of the code,
    the date, torch's version and the machine are filled in here."""
    import shlex
    import sys

    import torch

    from milestones.machine import git_commit, machine_info
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    record = benchmark_record(benchmark, command, device=device, settings=settings, results=results,
                              machine=machine_info(device), commit=git_commit(), torch_version=torch.__version__)
    write_benchmark(record, path)
    return record


def read_benchmark(path: str | Path) -> BenchmarkRecord:
    path = Path(path)
    data = _read_json(path)
    missing = [k for k in REQUIRED_BENCHMARK_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise RecordError(f"{path} is not a benchmark record (missing {', '.join(sorted(missing))})")
    if data["version"] != BENCHMARK_VERSION:
        raise RecordError(f"{path} is a version {data['version']!r} benchmark record; expected {BENCHMARK_VERSION}")
    return data


def write_benchmark(record: BenchmarkRecord, path: str | Path) -> Path:
    return _write_json(Path(path), dict(record), indent=1)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RecordError(f"{path} is not valid JSON ({e})") from None
    except OSError as e:
        raise RecordError(f"cannot read {path}: {e.strerror}") from None


def _write_json(path: Path, data: Any, indent: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=indent) + "\n")
    os.replace(tmp, path)
    return path
