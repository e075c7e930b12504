from pathlib import Path

import pytest

from milestones.data import DEFAULT_DATA_DIR, DataMissingError, data_dir, dataset_path


def test_data_dir_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv("MILESTONES_DATA", raising=False)
    assert data_dir() == DEFAULT_DATA_DIR.expanduser()
    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "opt") == tmp_path / "opt"


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataMissingError, match=r"babi.*--data-dir or MILESTONES_DATA.*README's Data section"):
        dataset_path("babi", tmp_path)
    (tmp_path / "babi").mkdir()
    with pytest.raises(DataMissingError, match="lacks en/qa1"):
        dataset_path("babi", tmp_path, files=("en/qa1",))


def test_the_shared_data_sets_are_found(shared_data):
    """In CI (MILESTONES_REQUIRE_DATA=1) this fails, not skips, when the data folder is wrong."""
    assert (shared_data("babi", ("en",)) / "en").is_dir()
    assert any(Path(shared_data("fashion-mnist")).glob("*idx3-ubyte*"))
