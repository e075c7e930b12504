"""IDX files (the MNIST / Fashion-MNIST format), read strictly, and Fashion-MNIST from the data folder.

An IDX file: two zero bytes, a type code (0x08 unsigned byte is the only one these data sets use),
the number of dimensions d, then d big-endian 32-bit sizes, then the data. Files may be gzipped.
A truncated file, a wrong magic number, sizes that do not match the data, or image and label files
with different counts are refused with the file's name and what was expected.
"""
from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from milestones.data import dataset_path, download_files

UNSIGNED_BYTE = 0x08
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")


FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_SOURCE = "github.com/zalandoresearch/fashion-mnist"
FASHION_MD5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
               "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
               "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
               "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}


class IdxError(ValueError):
    """A malformed IDX file; the message names the file and the problem."""


def read_idx(path: str | Path, dims: int | None = None) -> Tensor:
    """The array in an IDX file (gzipped or not) as a uint8 tensor; `dims`, if given, is required."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IdxError(f"{path}: the gzip stream is damaged or cut short ({e})") from None
    if len(raw) < 4:
        raise IdxError(f"{path}: {len(raw)} bytes is too short for an IDX header (4 bytes of magic number)")
    zero, kind, d = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or kind != UNSIGNED_BYTE or d == 0:
        raise IdxError(f"{path}: magic number {raw[:4].hex()} is not an IDX file of unsigned bytes; "
                       f"expected 0000 08 0d with d ≥ 1 dimensions (e.g. 00000803 for images)")
    if dims is not None and d != dims:
        raise IdxError(f"{path}: {d} dimensions, expected {dims}")
    header = 4 + 4 * d
    if len(raw) < header:
        raise IdxError(f"{path}: truncated in its header ({len(raw)} bytes, the sizes of {d} dimensions need {header})")
    shape = struct.unpack(f">{d}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise IdxError(f"{path}: the header gives shape {shape}, {expected} bytes of data, but the file holds "
                       f"{len(raw) - header}" + (" (truncated)" if len(raw) - header < expected else " (extra bytes)"))
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy())


def load_fashion_mnist(split: str = "train", data_dir: str | Path | None = None) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST images (n, 28, 28) as floats in [0, 1] and labels (n,) as int64, from
    DATA_DIR/fashion-mnist/ (`milestones.data.data_dir`)."""
    if split not in FASHION_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images_name, labels_name = FASHION_FILES[split]
    folder = dataset_path("fashion-mnist", data_dir, files=FASHION_FILES[split])
    images = read_idx(folder / images_name, dims=3)
    labels = read_idx(folder / labels_name, dims=1)
    if images.shape[0] != labels.shape[0]:
        raise IdxError(f"{folder}: {images_name} holds {images.shape[0]} images but {labels_name} "
                       f"holds {labels.shape[0]} labels; expected the same count")
    if tuple(images.shape[1:]) != (28, 28):
        raise IdxError(f"{folder / images_name}: images of {tuple(images.shape[1:])}, expected (28, 28)")
    if labels.numel() and int(labels.max()) >= len(FASHION_CLASSES):
        raise IdxError(f"{folder / labels_name}: label {int(labels.max())}, expected 0-9")
    return images.float() / 255, labels.long()


def download_fashion_mnist(option: str | Path | None = None, *, base_url: str | None = None,
                           log: Callable[[str], object] = print) -> Path:
    """The four IDX files of Fashion-MNIST from its official source (or a mirror), MD5-checked."""
    return download_files("fashion-mnist", FASHION_MD5, FASHION_URL, FASHION_SOURCE, option, base_url=base_url,
                          log=log)
