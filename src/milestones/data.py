"""Where data sets live: `--data-dir`, else $MILESTONES_DATA, else ~/.cache/milestones/data.

Data sets are read in place (the folder may be read-only); caches go elsewhere. With
MILESTONES_REQUIRE_DATA=1 (as in CI) tests that need a missing data set fail instead of skipping.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = Path("~/.cache/milestones/data")


class DataMissingError(FileNotFoundError):
    """A data set is not where we looked; the message says where we looked and how to get it."""


def data_dir(option: str | Path | None = None) -> Path:
    """The data folder: the option if given, else $MILESTONES_DATA, else the default."""
    chosen = option or os.environ.get("MILESTONES_DATA") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def dataset_path(name: str, option: str | Path | None = None, *, files: tuple[str, ...] = ()) -> Path:
    """The folder of data set `name`, checked to hold `files`; a clear error where it does not."""
    root = data_dir(option)
    folder = root / name
    missing = [f for f in files if not (folder / f).exists()]
    if not folder.is_dir() or missing:
        what = f"{folder} is missing" if not folder.is_dir() else f"{folder} lacks {', '.join(missing)}"
        raise DataMissingError(
            f"data set {name!r} not found: {what}. Point --data-dir or MILESTONES_DATA at the folder "
            f"that holds {name}/ (looked in {root}); the README's Data section says where each data "
            f"set comes from.")
    return folder


def require_data() -> bool:
    return os.environ.get("MILESTONES_REQUIRE_DATA", "") not in ("", "0")
