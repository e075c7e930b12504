"""Checkpoints: tensors in safetensors, everything else as JSON in the same file's header.

One file per checkpoint, so a write is atomic: it goes to a temporary file in the same folder,
is fsynced, and is renamed over the old one. A reader sees the old checkpoint or the new one, never
half of one. Loading never unpickles: safetensors holds raw tensor bytes and a JSON header, and a
file that is anything else (a `torch.save` pickle, say) is refused before a byte of it is run.

Any nested state (model and optimizer state dicts, RNG states, counters) is stored by `pack`:
tensors and NumPy arrays go to the safetensors table under a path-like key, the structure around
them to JSON. State too large to hold twice in RAM (a replay buffer) is not packed: it is written
beside the checkpoint as files of its own (`milestones.state.FileStore`), which the checkpoint's
header names.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "milestones-checkpoint/1"
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol ≥ 2; torch.save's zip container


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


def pack(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A JSON-able copy of `obj` with each tensor moved into `tensors` under its path."""
    if isinstance(obj, torch.Tensor):
        key = path or "."
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"$tensor": key}
    if isinstance(obj, np.ndarray):  # e.g. NumPy's generator state; unsigned ints widened for safetensors
        key = path or "."
        wide = obj.astype(np.int64) if obj.dtype.kind == "u" else obj
        tensors[key] = torch.from_numpy(np.array(wide, copy=True))
        return {"$ndarray": key, "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        return pack(obj.item(), tensors, path)
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"$dict": {k: pack(v, tensors, f"{path}/{k}") for k, v in obj.items()}}
        return {"$items": [[k, pack(v, tensors, f"{path}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        packed = [pack(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
        return {"$tuple": packed} if isinstance(obj, tuple) else packed
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {path or '/'} in a checkpoint")


def unpack(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [unpack(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "$tensor" in obj:
            return tensors[obj["$tensor"]]
        if "$ndarray" in obj:
            return tensors[obj["$ndarray"]].numpy().astype(np.dtype(obj["dtype"]))
        if "$dict" in obj:
            return {k: unpack(v, tensors) for k, v in obj["$dict"].items()}
        if "$items" in obj:
            return {k: unpack(v, tensors) for k, v in obj["$items"]}
        if "$tuple" in obj:
            return tuple(unpack(v, tensors) for v in obj["$tuple"])
    return obj


def save_checkpoint(path: str | Path, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write `state` (nested, with tensors) and `meta` (JSON-able) atomically to `path`."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    header = {"format": FORMAT, "meta": json.dumps(meta), "state": json.dumps(pack(state, tensors))}
    blob = st_save(tensors, metadata=header)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu"
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read (state, meta) from a checkpoint written by `save_checkpoint`; refuse anything else."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
    # safetensors: 8 bytes of header length (any value, even one starting 0x80), then '{'
    if blob.startswith(_PICKLE_MAGIC) and blob[8:9] != b"{":
        raise CheckpointError(
            f"{path} is a pickle (torch.save) file, not a milestones checkpoint; refusing to load it, "
            f"since unpickling can run arbitrary code")
    try:
        tensors = st_load(blob)
        header = _read_header(blob)
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a valid safetensors checkpoint ({e})") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a {FORMAT} checkpoint "
                              f"(format {header.get('format')!r})")
    try:
        meta, state = json.loads(header["meta"]), unpack(json.loads(header["state"]), tensors)
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} has a damaged header ({e})") from None
    if map_location != "cpu":
        state = _to(state, torch.device(map_location))
    return state, meta


def _read_header(blob: bytes) -> dict[str, str]:
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]).get("__metadata__", {})


def read_meta(path: str | Path) -> dict[str, Any]:
    """The `meta` of a checkpoint, read from its header alone (not its tensors)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                raise ValueError(f"header length {n}")
            header = json.loads(f.read(n)).get("__metadata__", {})
        if header.get("format") != FORMAT:
            raise ValueError(f"format {header.get('format')!r}")
        return json.loads(header["meta"])
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a {FORMAT} checkpoint ({e})") from None


def _to(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(v, device) for v in obj)
    return obj


def check_architecture(saved: dict[str, Any], current: dict[str, Any], path: str | Path) -> None:
    """Refuse to resume when the model the checkpoint holds is not the one being built."""
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, now {current.get(k)!r}"
             for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]
    if diffs:
        raise CheckpointError(f"{path} holds a different architecture; " + "; ".join(diffs))
