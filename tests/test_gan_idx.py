"""The IDX reader on hand-made files, good and bad, and Fashion-MNIST from the shared data folder."""
import gzip
import struct

import pytest
import torch

from milestones.gan.idx import IdxError, load_fashion_mnist, read_idx


def idx_bytes(array: list, shape: tuple[int, ...]) -> bytes:
    return b"\x00\x00\x08" + bytes([len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + bytes(array)


def test_reads_plain_and_gzipped_files(tmp_path):
    data = idx_bytes(list(range(6)), (2, 3))
    (tmp_path / "a.idx").write_bytes(data)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(data))
    for name in ("a.idx", "a.idx.gz"):
        x = read_idx(tmp_path / name)
        assert x.dtype == torch.uint8 and x.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("blob, message", [
    (b"\x00\x00", "too short for an IDX header"),
    (b"\x00\x00\x0d\x02" + struct.pack(">2I", 1, 1) + b"\x00" * 4, "magic number 00000d02 is not an IDX file"),
    (b"PK\x03\x04garbage", "magic number 504b0304"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated in its header"),
    (idx_bytes(list(range(5)), (2, 3)), r"holds 5 \(truncated\)"),
    (idx_bytes(list(range(7)), (2, 3)), r"holds 7 \(extra bytes\)"),
    (gzip.compress(idx_bytes(list(range(6)), (2, 3)), mtime=0)[:-10], "gzip stream is damaged or cut short"),
])
def test_malformed_files_are_refused_with_the_file_and_the_problem(tmp_path, blob, message):
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(blob)
    with pytest.raises(IdxError, match=message) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_wrong_dimension_count_and_mismatched_counts_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes([0] * 4, (4,)))
    with pytest.raises(IdxError, match="1 dimensions, expected 3"):
        read_idx(path, dims=3)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes([0] * (3 * 784), (3, 28, 28))))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes([1, 2], (2,))))
    with pytest.raises(IdxError, match="holds 3 images but t10k-labels-idx1-ubyte.gz holds 2 labels"):
        load_fashion_mnist("test", tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("valid", tmp_path)


def test_fashion_mnist_from_the_shared_data(shared_data):
    shared_data("fashion-mnist", ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() == 1
    assert torch.bincount(labels).tolist() == [1000] * 10  # the test set is balanced
