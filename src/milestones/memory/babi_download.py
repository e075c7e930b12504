"""`milestones download babi`: the bAbI v1.2 archive from its official source, every task file in it
checked before any is kept.
"""
from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from milestones.data import DownloadError, data_dir, fetch, md5
from milestones.memory.babi import BabiFormatError, read

# bAbI comes as one archive; its en/ and en-10k/ files are extracted and each checked against the MD5
# in babi_md5.json beside this module (the 10k training file of task 3, which we could not obtain to
# checksum, is checked by parsing it: 10 000 questions).
BABI_ARCHIVE = {
    "urls": ("http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz",
             "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz"),
    "source": "research.facebook.com/downloads/babi (bAbI tasks 1-20, v1.2)",
    "root": "tasks_1-20_v1-2",
}


def download(option: str | Path | None = None, *, base_url: str | None = None,
             log: Callable[[str], object] = print) -> Path:
    """Fetch the bAbI v1.2 archive, check every en/ and en-10k/ task file it holds, and only then
    move them to DATA_DIR/babi/. `base_url` is a mirror's URL of the archive itself."""
    known = json.loads(resources.files("milestones.memory").joinpath("babi_md5.json").read_text())
    folder = data_dir(option) / "babi"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        archive = Path(tmp) / "babi.tar.gz"
        errors = []
        for url in ((base_url,) if base_url else BABI_ARCHIVE["urls"]):
            try:
                fetch(url, archive)
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
            raise DownloadError(f"the downloaded archive holds no {BABI_ARCHIVE['root']}/en*/qa*.txt files; "
                                "nothing was kept")
        for path, relative in staged:
            if relative in known:
                got = md5(path)
                if got != known[relative]:
                    raise DownloadError(f"{relative}: MD5 {got}, expected {known[relative]}; nothing was kept")
            else:
                try:
                    questions = len(read(path))
                except BabiFormatError as e:
                    raise DownloadError(f"{relative} is not a bAbI file ({e}); nothing was kept") from None
                if questions not in (1000, 10000):
                    raise DownloadError(f"{relative} has {questions} questions, expected 1000 or 10000; "
                                        "nothing was kept")
        for path, relative in staged:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, folder / relative)
        log(f"{folder}: {len(staged)} bAbI task files downloaded and checked")
    return folder
