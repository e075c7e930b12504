"""Experiment configs: frozen dataclasses whose fields carry their help text and valid range.

A field is declared with `param(default, help, low=…, high=…, choices=…)`. The command line turns
`--hidden-size 64` into a checked value with `parse_value`; `validate` checks a whole config (also
when one is read back from a run directory), so a bad value is refused wherever it comes from, with
the field's name and what was expected.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from typing import Any, Literal


class ConfigError(ValueError):
    """A config value or key that is not valid; the message names the field and what was expected."""


_NO_VALUE = object()


def param(default: Any, help: str, *, low: float | None = None, high: float | None = None,
          choices: tuple | None = None, low_open: bool = False, before: Any = _NO_VALUE) -> Any:
    """A config field: default value, one line of help, and optional range (low ≤ x ≤ high,
    or low < x with low_open) or choices. `before`: the behaviour in effect before the field
    existed, which a run's saved config that lacks the field gets (`from_dict`), so that an old
    run is resumed, evaluated and explained as it was trained rather than with today's default."""
    meta = {"help": help, "low": low, "high": high, "choices": choices, "low_open": low_open}
    if before is not _NO_VALUE:
        meta["before"] = before
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Fields every experiment has."""

    seed: int = param(0, "seed of every random generator the run uses", low=0)
    device: str = param("auto", "where to train: cpu, cuda, or auto (cuda when present)",
                        choices=("auto", "cpu", "cuda"))
    checkpoint_every: int = param(100, "steps between checkpoints (resume restarts from the last)", low=1)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def expected(f: dataclasses.Field, tp: Any) -> str:
    """Words for what a field accepts, e.g. 'an integer ≥ 1' or 'one of adam, sgd'."""
    m = f.metadata
    choices = m.get("choices") or (typing.get_args(tp) if typing.get_origin(tp) is Literal else None)
    if choices:
        return "one of " + ", ".join(map(str, choices))
    base = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))
    low, high = m.get("low"), m.get("high")
    if low is not None and high is not None:
        return f"{base} in {'(' if m.get('low_open') else '['}{low}, {high}]"
    if low is not None:
        return f"{base} {'>' if m.get('low_open') else '≥'} {low}"
    if high is not None:
        return f"{base} ≤ {high}"
    return base


def _base_type(tp: Any) -> Any:
    if typing.get_origin(tp) is Literal:
        return type(typing.get_args(tp)[0])
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        raise TypeError(f"config fields must have one type, got {tp}")
    return tp


def _field(cls: type, name: str) -> tuple[dataclasses.Field, Any]:
    return {f.name: f for f in dataclasses.fields(cls)}[name], field_types(cls)[name]


def check_value(cls: type, name: str, value: Any) -> Any:
    """Check one value against field `name` of config class `cls`; return it, converted if it was
    an int given for a float field."""
    f, tp = _field(cls, name)
    base = _base_type(tp)
    bad = ConfigError(f"{flag(name)}: expected {expected(f, tp)}, got {value!r}")
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        raise bad
    if base is float and not math.isfinite(value):
        raise bad
    m = f.metadata
    choices = m.get("choices") or (typing.get_args(tp) if typing.get_origin(tp) is Literal else None)
    if choices and value not in choices:
        raise bad
    low, high = m.get("low"), m.get("high")
    if low is not None and (value <= low if m.get("low_open") else value < low):
        raise bad
    if high is not None and value > high:
        raise bad
    return value


def parse_value(cls: type, name: str, text: str) -> Any:
    """Turn the command-line text for field `name` into a checked value."""
    f, tp = _field(cls, name)
    base = _base_type(tp)
    try:
        if base is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            value = lowered in ("true", "1", "yes")
        else:
            value = base(text)
    except ValueError:
        raise ConfigError(f"{flag(name)}: expected {expected(f, tp)}, got {text!r}") from None
    return check_value(cls, name, value)


def validate(config: Any) -> Any:
    for f in dataclasses.fields(config):
        check_value(type(config), f.name, getattr(config, f.name))
    return config


def unknown_key(cls: type, key: str) -> ConfigError:
    names = [flag(f.name) for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(flag(key.lstrip("-").replace("-", "_")), names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"unknown option {key}{hint}; valid options: {', '.join(names)}")


def apply_overrides(config: Any, args: list[str]) -> Any:
    """`--key value` pairs (or `--key=value`) applied to a config, each checked."""
    cls, changes, i = type(config), {}, 0
    names = {f.name for f in dataclasses.fields(cls)}
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"expected --key value, got {arg!r}")
        key, has_value, text = arg[2:].partition("=")
        name = key.replace("-", "_")
        if name not in names:
            raise unknown_key(cls, arg.split("=")[0])
        if not has_value:
            if i + 1 >= len(args):
                raise ConfigError(f"{flag(name)}: missing value (expected {expected(*_field(cls, name))})")
            text, i = args[i + 1], i + 1
        changes[name] = parse_value(cls, name, text)
        i += 1
    return dataclasses.replace(config, **changes)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config from its dict (a run's config.json), refusing unknown or bad values."""
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise unknown_key(cls, flag(key))
    older = {f.name: f.metadata["before"] for f in dataclasses.fields(cls)
             if f.name not in data and "before" in f.metadata}  # saved before the field existed
    return validate(cls(**data, **older))


def as_saved(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """A saved config dict as it would be saved today: fields added since it was written take the
    value that gives the old behaviour (their default, or the `before` value a field declares), so
    a run or record from before an option existed still matches a config that leaves it alone."""
    return json.loads(json.dumps(to_dict(from_dict(cls, data))))


def describe(config: Any) -> str:
    """Help text: one line per field with its default and what it accepts."""
    cls, types_ = type(config), field_types(type(config))
    rows = []
    for f in dataclasses.fields(cls):
        rows.append(f"  {flag(f.name):<22} {f.metadata.get('help', '')}\n"
                    f"  {'':<22} default {getattr(config, f.name)!r}; {expected(f, types_[f.name])}")
    return "\n".join(rows)
