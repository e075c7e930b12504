"""What a checkpoint holds: everything a run needs to continue exactly where it stopped.

`State` names a run's parts: modules, optimizers, sources of randomness (torch, NumPy and Python
generators), small objects that describe their own state (`state_dict` / `load_state_dict`: an
environment, a schedule) and large ones that write their state as files of their own (`FileState`:
a replay buffer of 10^5-10^6 frames). `Run.save` packs the small parts into the checkpoint file and
lets each large one write its arrays into the run's `FileStore`.

    RUN_DIR/checkpoints/last.safetensors      the small parts; its header names the files it needs
    RUN_DIR/checkpoints/files/NAME.npy        arrays of the large parts, each written once

Why it is safe to kill a run at any moment: a file in the store is written to a temporary name,
fsynced and renamed, and never rewritten (a name identifies its content: `put` of a name that
exists does nothing); the checkpoint that names the files is renamed into place after them; only
then are the files that no checkpoint names any more deleted. Whatever the moment of the kill, the
last checkpoint and every file it names are intact.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from milestones.checkpoint import CheckpointError, read_meta
from milestones.seeding import Generator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@runtime_checkable
class Stateful(Protocol):
    """An object small enough to be packed into the checkpoint itself."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


@runtime_checkable
class FileState(Protocol):
    """An object whose state is saved as arrays beside the checkpoint. `save_files` puts its arrays
    into the store (under names that identify their content) and returns a small JSON-able
    manifest; `load_files` reads them back from that manifest."""

    def save_files(self, store: FileStore) -> Any: ...

    def load_files(self, store: FileStore, manifest: Any) -> None: ...


@dataclasses.dataclass
class State:
    """The parts of a run a checkpoint saves and a resume restores, by name. `arch` holds the
    architecture keys a resume checks; a partial State (say, the model alone) loads just its parts."""

    arch: dict[str, Any]
    modules: dict[str, torch.nn.Module] = dataclasses.field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = dataclasses.field(default_factory=dict)
    generators: dict[str, Generator] = dataclasses.field(default_factory=dict)
    objects: dict[str, Stateful] = dataclasses.field(default_factory=dict)
    files: dict[str, FileState] = dataclasses.field(default_factory=dict)


class FileStore:
    """A folder of write-once arrays (`.npy`, read without unpickling)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.used: set[str] = set()  # the names put or read since the last `begin`

    def begin(self) -> None:
        self.used = set()

    def put(self, name: str, array: np.ndarray | torch.Tensor) -> str:
        """Write `array` as NAME.npy unless that exists; the array is written from its own buffer,
        not copied. Returns the name."""
        _check(name)
        self.used.add(name)
        path = self.folder / f"{name}.npy"
        if path.exists():
            return name
        self.folder.mkdir(parents=True, exist_ok=True)
        data = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, data, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return name

    def get(self, name: str, mmap: bool = False) -> np.ndarray:
        _check(name)
        self.used.add(name)
        path = self.folder / f"{name}.npy"
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
        except FileNotFoundError:
            raise CheckpointError(f"{path} is missing: the checkpoint names it; was the run folder "
                                  f"copied without checkpoints/files/?") from None
        except ValueError as e:
            raise CheckpointError(f"{path} is not a NumPy array file ({e})") from None

    def sync(self) -> None:
        """Make the renames of the files put so far durable (before a checkpoint names them)."""
        if self.folder.is_dir():
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def collect(self, checkpoints: Iterable[Path]) -> None:
        """Delete the files no checkpoint in `checkpoints` names, and temporary files left by a kill."""
        if not self.folder.is_dir():
            return
        keep: set[str] = set()
        for path in checkpoints:
            try:
                keep.update(read_meta(path).get("files", {}).get("names", []))
            except CheckpointError:
                return  # an unreadable checkpoint: delete nothing rather than something it needs
        for path in self.folder.iterdir():
            if path.name.startswith(".") or (path.suffix == ".npy" and path.stem not in keep):
                path.unlink(missing_ok=True)


def _check(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"file names in a checkpoint's store are letters, digits and ._+-, got {name!r}")


# ---- a ring buffer's rows, in chunks written once -------------------------------------------------

def save_ring(store: FileStore, prefix: str, array: np.ndarray | torch.Tensor, added: int,
              chunk: int) -> dict[str, Any]:
    """Put the rows of a ring buffer into `store` and return the manifest `load_ring` needs.

    The buffer holds item i (counting from 0 in the order added) in row i mod N (N = len(array)),
    `added` items so far. Rows are stored in chunks of `chunk` rows. A chunk whose rows hold
    consecutive items i0, i0 + 1, … is named by them (PREFIX.i0+rows) and never written again; only
    the chunk being filled (its rows from two passes, or not all written yet) is named by `added`
    and written at every save. A checkpoint of a buffer with N rows thus writes about
    `chunk` rows plus the chunks completed since the last one.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be ≥ 1, got {chunk}")
    N = len(array)
    chunks = []
    for k in range(math.ceil(N / chunk)):
        lo, hi = k * chunk, min(N, (k + 1) * chunk)
        if lo >= added:
            break
        first = lo + N * ((added - 1 - lo) // N)  # the newest item in row lo
        last = (hi - 1) + N * ((added - 1 - (hi - 1)) // N) if hi - 1 < added else None
        settled = last is not None and last - first == hi - 1 - lo
        name = f"{prefix}.{first}+{hi - lo}" if settled else f"{prefix}.c{k}-at{added}"
        hi = min(hi, added)  # in the first pass, the rows from `added` on hold nothing yet
        chunks.append([lo, hi, store.put(name, array[lo:hi])])
    return {"rows": N, "added": added, "chunks": chunks}


def load_ring(store: FileStore, manifest: dict[str, Any], array: np.ndarray | torch.Tensor) -> int:
    """Fill `array` (the buffer, N rows) from a `save_ring` manifest; returns the items added."""
    if len(array) != manifest["rows"]:
        raise CheckpointError(f"the checkpoint's buffer has {manifest['rows']} rows, this one {len(array)}")
    for lo, hi, name in manifest["chunks"]:
        rows = store.get(name)
        if isinstance(array, torch.Tensor):
            array[lo:hi] = torch.from_numpy(rows)
        else:
            array[lo:hi] = rows
    return int(manifest["added"])
