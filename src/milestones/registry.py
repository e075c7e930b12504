"""Where the families are found, and the experiments they offer.

Families come from three places, in this order:
  1. the built-in ones, named in `milestones.families.BUILTIN`;
  2. installed packages that declare an entry point in the group `milestones.families`
     (pyproject.toml: `[project.entry-points."milestones.families"] NAME = "package.module"`);
  3. $MILESTONES_FAMILIES: module names separated by commas, for a family that is not installed
     (one defined inside a test suite, or being written).
Each module defines `FAMILY`, a `milestones.family.Family`. Nothing registers itself at import time:
the modules are imported when a command first asks for the families.
"""
from __future__ import annotations

import difflib
import importlib
import os
from importlib.metadata import entry_points

from milestones.families import BUILTIN
from milestones.family import Dataset, Experiment, Family

ENTRY_POINTS = "milestones.families"
ENV = "MILESTONES_FAMILIES"


class FamilyError(RuntimeError):
    """A family module that cannot be used; the message names it and what is wrong."""


def family_modules() -> list[str]:
    """The modules that define the families, in order, each once."""
    installed = [ep.value for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda ep: ep.name)]
    extra = [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]
    return list(dict.fromkeys([*BUILTIN, *installed, *extra]))


def families() -> tuple[Family, ...]:
    """Every family, checked: one `Family` per module, names and experiment names unique."""
    found: dict[str, Family] = {}
    experiments: dict[str, str] = {}
    for module in family_modules():
        try:
            family = importlib.import_module(module).FAMILY
        except ModuleNotFoundError as e:
            raise FamilyError(f"cannot import the family module {module!r} ({e}); check ${ENV} and the "
                              f"installed packages' {ENTRY_POINTS!r} entry points") from None
        except AttributeError:
            raise FamilyError(f"the family module {module!r} defines no FAMILY") from None
        if not isinstance(family, Family):
            raise FamilyError(f"{module}.FAMILY is a {type(family).__name__}, not a milestones.family.Family")
        if family.name in found:
            raise FamilyError(f"two families are named {family.name!r} ({module} and an earlier one)")
        for exp in family.experiments:
            if exp.name in experiments:
                raise FamilyError(f"experiment {exp.name} is defined twice (families {experiments[exp.name]} "
                                  f"and {family.name})")
            experiments[exp.name] = family.name
        found[family.name] = family
    return tuple(found.values())


def catalog() -> dict[str, Experiment]:
    """Every experiment of every family, by name, in the families' order."""
    return {exp.name: exp for family in families() for exp in family.experiments}


def family_of(experiment: str) -> Family | None:
    """The family that offers `experiment`, or None if none does (any more)."""
    return next((f for f in families() if any(e.name == experiment for e in f.experiments)), None)


def family_name_of(experiment: str) -> str | None:
    family = family_of(experiment)
    return family.name if family else None


def select(pattern: str) -> list[Experiment]:
    """The experiment named `pattern`, or every experiment in the group it prefixes or names
    (a name's first parts, or an experiment's `group`)."""
    experiments = catalog()
    if pattern in experiments:
        return [experiments[pattern]]
    prefix = pattern.rstrip("/")
    group = [e for name, e in experiments.items() if name.startswith(prefix + "/") or e.group_name == prefix]
    if not group:
        close = difflib.get_close_matches(pattern, list(experiments), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `milestones list` shows them all"
        raise KeyError(f"no experiment or group named {pattern!r}{hint}")
    return group


def datasets() -> dict[str, Dataset]:
    """Every family's downloadable data sets, by name."""
    return {d.name: d for family in families() for d in family.datasets}


def input_errors() -> tuple[type[Exception], ...]:
    """The families' bad-input error types (a malformed data file, an illegal move, …)."""
    return tuple(dict.fromkeys(e for family in families() for e in family.errors))
