"""Experiments as data: a config preset, a train and an evaluate function, and the paper's numbers.

Each model family lists its experiments in a module-level tuple `EXPERIMENTS`; `catalog()` gathers
them (no registration at import time). Names are `family/task[/variant]`; a prefix such as
`rnn/adding-t200` selects the group of experiments under it.
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from milestones.runs import Run

FAMILIES = ("milestones.experiments.rnn", "milestones.experiments.ntm", "milestones.experiments.gan",
            "milestones.experiments.gan_fashion", "milestones.experiments.memory",
            "milestones.experiments.memory_gradients")


@dataclasses.dataclass(frozen=True)
class Reference:
    """A number to compare against: the paper's result, or a baseline the paper defines."""

    metric: str
    value: float
    source: str  # citation of this number
    note: str = ""  # what the number is, e.g. "memoryless baseline (predict 1)"
    verified: bool = True  # False where it could not be read from the primary source


@dataclasses.dataclass(frozen=True)
class Experiment:
    """An experiment: everything needed to train it, evaluate it and compare it with the paper."""

    name: str
    summary: str
    config: Any  # the frozen config dataclass instance holding the paper's preset
    train: Callable[[Any, "Run"], dict[str, float]]  # (config, run) -> final metrics
    evaluate: Callable[[Any, "Run"], dict[str, float]]  # (config, run with a checkpoint) -> metrics
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
    explain: Callable[[Any, "Run", dict[str, str]], list[Any]] | None = None

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


def catalog() -> dict[str, Experiment]:
    """Every experiment of every family, by name."""
    found: dict[str, Experiment] = {}
    for module in FAMILIES:
        for exp in importlib.import_module(module).EXPERIMENTS:
            if exp.name in found:
                raise RuntimeError(f"experiment {exp.name} is defined twice")
            found[exp.name] = exp
    return found


def select(pattern: str) -> list[Experiment]:
    """The experiment named `pattern`, or every experiment in the group it prefixes or names
    (`gan/ring` selects gan/ring-simgd, gan/ring-conopt, …)."""
    experiments = catalog()
    if pattern in experiments:
        return [experiments[pattern]]
    prefix = pattern.rstrip("/")
    group = [e for name, e in experiments.items() if name.startswith(prefix + "/") or e.group_name == prefix]
    if not group:
        import difflib
        close = difflib.get_close_matches(pattern, list(experiments), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `milestones list` shows them all"
        raise KeyError(f"no experiment or group named {pattern!r}{hint}")
    return group
