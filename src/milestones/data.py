"""Where data sets live: `--data-dir`, else $MILESTONES_DATA, else ~/.cache/milestones/data.

Data sets are read in place (the folder may be read-only); caches go elsewhere. With
MILESTONES_REQUIRE_DATA=1 (as in CI) tests that need a missing data set fail instead of skipping.
Each family names its data sets and how to download them (`milestones.family.Dataset`);
`download(name)` finds the one asked for, and `download_files` / `fetch` / `md5` are the pieces a
family's download is made of.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from milestones import registry

DEFAULT_DATA_DIR = Path("~/.cache/milestones/data")


class DataMissingError(FileNotFoundError):
    """A data set is not where we looked; the message says where we looked and how to get it."""


class DownloadError(RuntimeError):
    """A download that failed or gave a file whose checksum is wrong; nothing half-written is kept."""


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


def download(name: str, option: str | Path | None = None, *, base_url: str | None = None,
             log: Callable[[str], object] = print) -> Path:
    """Fetch data set `name` (of whichever family offers it) into DATA_DIR/name/, checked."""
    datasets = registry.datasets()
    if name not in datasets:
        raise KeyError(f"no download for {name!r}; available: {', '.join(datasets)}")
    return datasets[name].download(option, base_url=base_url, log=log)


def download_files(name: str, files: Mapping[str, str], url: str, source: str, option: str | Path | None = None,
                   *, base_url: str | None = None, log: Callable[[str], object] = print,
                   remote: Mapping[str, str] | None = None) -> Path:
    """Fetch each of `files` (file name -> MD5) from `url` (or a mirror's `base_url`) into
    DATA_DIR/name/, skipping files already there with the right MD5. `remote` maps a file's name
    here to its name at the source where they differ. Each file is written to a temporary name,
    checked, then renamed: a failed download leaves nothing."""
    folder = data_dir(option) / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, expected in files.items():
        target = folder / file
        if target.exists() and md5(target) == expected:
            log(f"{target}: already here")
            continue
        address = (base_url or url).rstrip("/") + "/" + (remote or {}).get(file, file)
        tmp = target.with_name(f".{file}.part")
        try:
            fetch(address, tmp)
        except DownloadError as e:
            raise DownloadError(f"{e}; the official source is {source}") from None
        got = md5(tmp)
        if got != expected:
            tmp.unlink()
            raise DownloadError(f"{address}: MD5 {got}, expected {expected}; the file was not kept")
        os.replace(tmp, target)
        log(f"{target}: downloaded, MD5 checked")
    return folder


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, target: Path) -> None:
    """Download `url` to `target`; on failure nothing is left at `target`."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
    except (urllib.error.URLError, OSError) as e:
        target.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url} ({e})") from None
