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


# bAbI comes as one archive; its en/ and en-10k/ files are extracted and each checked against the MD5
# in milestones/memory/babi_md5.json (the 10k training file of task 3, which we could not obtain to
# checksum, is checked by parsing it: 10 000 questions).
BABI_ARCHIVE = {
    "urls": ("http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz",
             "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz"),
    "source": "research.facebook.com/downloads/babi (bAbI tasks 1-20, v1.2)",
    "root": "tasks_1-20_v1-2",
}
DATASETS = tuple(DOWNLOADS) + ("babi",)


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
    if name == "babi":
        return download_babi(option, base_url=base_url, log=log)
    if name not in DOWNLOADS:
        raise KeyError(f"no download for {name!r}; available: {', '.join(DATASETS)}")
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
            _fetch(url, tmp)
        except DownloadError as e:
            raise DownloadError(f"{e}; the official source is {spec['source']}") from None
        got = _md5(tmp)
        if got != md5:
            tmp.unlink()
            raise DownloadError(f"{url}: MD5 {got}, expected {md5}; the file was not kept")
        os.replace(tmp, target)
        log(f"{target}: downloaded, MD5 checked")
    return folder


def _fetch(url: str, target: Path) -> None:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
    except (urllib.error.URLError, OSError) as e:
        target.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url} ({e})") from None


def download_babi(option: str | Path | None = None, *, base_url: str | None = None, log=print) -> Path:
    """Fetch the bAbI v1.2 archive, check every en/ and en-10k/ task file it holds, and only then
    move them to DATA_DIR/babi/. `base_url` is a mirror's URL of the archive itself."""
    import json
    import shutil
    import tarfile
    import tempfile
    from importlib import resources

    known = json.loads(resources.files("milestones.memory").joinpath("babi_md5.json").read_text())
    folder = data_dir(option) / "babi"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        archive = Path(tmp) / "babi.tar.gz"
        errors = []
        for url in ((base_url,) if base_url else BABI_ARCHIVE["urls"]):
            try:
                _fetch(url, archive)
                break
            except DownloadError as e:
                errors.append(str(e))
        else:
            raise DownloadError("; ".join(errors) + f"; the official source is {BABI_ARCHIVE['source']}")
        staged: list[tuple[Path, str]] = []
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    parts = Path(member.name).parts
                    if (len(parts) != 3 or parts[0] != BABI_ARCHIVE["root"] or parts[1] not in ("en", "en-10k")
                            or not member.isfile() or not parts[2].endswith(".txt")):
                        continue
                    relative = f"{parts[1]}/{parts[2]}"
                    out = Path(tmp) / relative
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    staged.append((out, relative))
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DownloadError(f"the downloaded bAbI archive is damaged ({e}); nothing was kept") from None
        if not staged:
            raise DownloadError(f"the downloaded archive holds no {BABI_ARCHIVE['root']}/en*/qa*.txt files; nothing was kept")
        for path, relative in staged:
            if relative in known:
                got = _md5(path)
                if got != known[relative]:
                    raise DownloadError(f"{relative}: MD5 {got}, expected {known[relative]}; nothing was kept")
            else:
                from milestones.memory.babi import BabiFormatError, read
                try:
                    questions = len(read(path))
                except BabiFormatError as e:
                    raise DownloadError(f"{relative} is not a bAbI file ({e}); nothing was kept") from None
                if questions not in (1000, 10000):
                    raise DownloadError(f"{relative} has {questions} questions, expected 1000 or 10000; nothing was kept")
        for path, relative in staged:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, folder / relative)
        log(f"{folder}: {len(staged)} bAbI task files downloaded and checked")
    return folder
