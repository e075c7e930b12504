"""The interface between a model family and the core: what a family offers, in one typed object.

A family is a package whose `__init__` defines `FAMILY = Family(...)`: its experiments (each a
config preset with train and evaluate functions and the paper's numbers), the report sections and
README tables it builds from its own result records, the figures a group of its experiments is
drawn as, its demo steps, its data sets and their downloads, the error types its input readers
raise, and any commands it adds to `milestones`. The core (registry, runs, results, report, CLI,
data) only loops over families; it never names one. `milestones.registry` says where families are
found.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from milestones.records import ResultRecord


def slug(name: str) -> str:
    """An experiment's (or group's) name as one file or folder name: `family/task` -> `family__task`."""
    return name.replace("/", "__").replace(" ", "_")


@dataclasses.dataclass(frozen=True)
class Reference:
    """A number to compare against: the paper's result, or a baseline the paper defines."""

    metric: str
    value: float
    source: str  # citation of this number
    note: str = ""  # what the number is, e.g. "memoryless baseline (predict 1)"
    verified: bool = True  # False where it could not be read from the primary source


@dataclasses.dataclass(frozen=True)
class Parts:
    """How an experiment's run divides into independent parts trained one after another (the tasks
    of a recipe that trains one network per task, each seeded on its own), so that `reproduce --keep`
    can gather a seed from runs over a few parts each: in several sessions, or on several machines."""

    name: str  # what one part is called in messages, e.g. "task"
    of: Callable[[Any], tuple[int, ...] | None]  # config -> its parts in training order; None: not divisible
    only: Callable[[Any, tuple[int, ...]], Any]  # (config, parts) -> the same config over these parts only
    # the final metrics of runs over disjoint parts -> the metrics of one run over all of them
    merge: Callable[[list[dict[str, float]]], dict[str, float]]
    # config -> the points of the learning curve one part adds (its epochs); with `restrict`, lets
    # `reproduce --keep` drop from a record the parts whose config changed and train only those
    points: Callable[[Any], int] | None = None
    # (a seed's metrics, the parts to keep, their share of its wall time) -> the metrics of those
    # parts alone, as a run over them would have ended (times scaled by the share)
    restrict: Callable[[dict[str, float], tuple[int, ...], float], dict[str, float]] | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
    """An experiment: everything needed to train it, evaluate it and compare it with the paper.

    Names are `family/task[/variant]`; a prefix (`family/task`) or the `group` selects several.
    """

    name: str
    summary: str
    config: Any  # the frozen config dataclass instance holding the paper's preset
    # the run is a milestones.runs.Run (not imported here: runs.py needs this module, not the reverse)
    train: Callable[[Any, Any], dict[str, float]]  # (config, run) -> final metrics
    evaluate: Callable[[Any, Any], dict[str, float]]  # (config, run with a checkpoint) -> metrics
    metric: str  # the headline metric
    goal: Literal["min", "max"]
    citation: str
    references: tuple[Reference, ...] = ()
    deviations: tuple[str, ...] = ()  # where we deviate from the paper, and why
    budgets: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=lambda: {"quick": {}, "full": {}})  # overrides per budget
    group: str = ""  # experiments shown on one figure in the report (default: name minus its variant)
    curve: tuple[str, str] = ("step", "")  # logged (x, y) keys of the learning curve; "" y: `metric`
    # (config, run, options) -> figures showing what the model does inside; None if it has none
    explain: Callable[[Any, Any, dict[str, str]], list[Any]] | None = None
    parts: Parts | None = None  # the independent parts a run trains one after another, if it has such

    @property
    def group_name(self) -> str:
        parts = self.name.split("/")
        return self.group or ("/".join(parts[:2]) if len(parts) > 2 else self.name)

    @property
    def curve_keys(self) -> tuple[str, str]:
        return self.curve[0], self.curve[1] or self.metric

    def config_for(self, budget: str) -> Any:
        if budget not in self.budgets:
            raise ValueError(f"unknown budget {budget!r} for {self.name}; expected one of "
                             f"{', '.join(self.budgets)}")
        return dataclasses.replace(self.config, **self.budgets[budget])


@dataclasses.dataclass(frozen=True)
class Section:
    """A part of the report a family builds from its records: a heading, then the same content as
    HTML (for the page) and as Markdown (for report.md)."""

    title: str
    html: str
    markdown: str


@dataclasses.dataclass(frozen=True)
class Demo:
    """One step of `milestones demo`: train `experiment` with `overrides` (fixed work such as steps or
    sequences, never a wall-time cap, so that its numbers reproduce), then print `describe(result, run_dir)`."""

    experiment: str
    overrides: Mapping[str, Any]
    what: str  # how the demo differs from the recipe, e.g. "for 2000 steps on CPU-sized settings"
    describe: Callable[[dict[str, Any], Path], str]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set a family reads from DATA_DIR/name/, and how to fetch it from its official source."""

    name: str
    source: str  # where it comes from, for messages
    # (data-dir option, base_url of a mirror, log) -> the data set's folder; checks what it fetched
    download: Callable[..., Path]


@dataclasses.dataclass(frozen=True)
class Command:
    """A command a family adds to `milestones` (e.g. `milestones gtp`): its arguments, then its run
    function, which returns the exit status (None for 0)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


Table = Callable[[list[ResultRecord], Sequence[str]], str]  # (its records, catalog order) -> Markdown


def _no_sections(records: list[ResultRecord], out: Path) -> list[Section]:
    return []


def _no_figures(records: list[ResultRecord], folder: Path) -> list[Path]:
    return []


def _no_group_figure(group: str, records: list[ResultRecord], out: Path) -> tuple[Path, str] | None:
    return None  # the core draws the learning curves


@dataclasses.dataclass(frozen=True)
class Family:
    """Everything a family offers the core. Only `name`, `title` and `experiments` are required."""

    name: str  # one word; the report's anchor for the family's section
    title: str  # e.g. "Generative adversarial networks"
    experiments: tuple[Experiment, ...]
    headlines: tuple[str, ...] = ()  # experiments that answer "does it reproduce?", for the overview
    # (its records, report folder) -> sections after the overview row, before the per-group details
    sections: Callable[[list[ResultRecord], Path], list[Section]] = _no_sections
    readme_tables: Mapping[str, Table] = dataclasses.field(default_factory=dict)  # README block kind -> table
    # (its records, RESULTS_DIR/figures) -> figures the README shows besides the groups' curves
    readme_figures: Callable[[list[ResultRecord], Path], list[Path]] = _no_figures
    # (group, its records, report folder) -> (figure, caption) drawn instead of the learning curves
    group_figure: Callable[[str, list[ResultRecord], Path], tuple[Path, str] | None] = _no_group_figure
    demos: tuple[Demo, ...] = ()
    datasets: tuple[Dataset, ...] = ()
    errors: tuple[type[Exception], ...] = ()  # bad-input errors the CLI reports as such (no traceback)
    commands: tuple[Command, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"a family's name is one word, got {self.name!r}")
        names = {e.name for e in self.experiments}
        missing = [h for h in self.headlines if h not in names]
        if missing:
            raise ValueError(f"family {self.name}: headlines {', '.join(missing)} are not among its experiments")
