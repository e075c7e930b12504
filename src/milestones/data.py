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


# Data sets `milestones download NAME` fetches from their official source, with each file's MD5.
DOWNLOADS: dict[str, dict] = {
    "fashion-mnist": {
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "source": "github.com/zalandoresearch/fashion-mnist",
        "files": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                  "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                  "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                  "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}},
}


class DownloadError(RuntimeError):
    """A download that failed or gave a file whose checksum is wrong; nothing half-written is kept."""


def _md5(path: Path) -> str:
    import hashlib
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str, option: str | Path | None = None, *, base_url: str | None = None,
             log=print) -> Path:
    """Fetch data set `name` into DATA_DIR/name/, skipping files already there with the right MD5.
    Each file is written to a temporary name, checked, then renamed: a failed download leaves nothing."""
    import urllib.error
    import urllib.request
    if name not in DOWNLOADS:
        raise KeyError(f"no download for {name!r}; available: {', '.join(DOWNLOADS)}")
    spec = DOWNLOADS[name]
    folder = data_dir(option) / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, md5 in spec["files"].items():
        target = folder / file
        if target.exists() and _md5(target) == md5:
            log(f"{target}: already here")
            continue
        url = (base_url or spec["url"]).rstrip("/") + "/" + file
        tmp = target.with_name(f".{file}.part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except (urllib.error.URLError, OSError) as e:
            tmp.unlink(missing_ok=True)
            raise DownloadError(f"could not download {url} ({e}); the official source is {spec['source']}") from None
        got = _md5(tmp)
        if got != md5:
            tmp.unlink()
            raise DownloadError(f"{url}: MD5 {got}, expected {md5}; the file was not kept")
        os.replace(tmp, target)
        log(f"{target}: downloaded, MD5 checked")
    return folder
