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


def test_download_fetches_checks_and_skips_files_already_there(shared_data, tmp_path):
    """`milestones download` against a local mirror (a file:// URL of the shared data folder)."""
    import subprocess
    import sys
    mirror = shared_data("fashion-mnist").resolve().as_uri()
    cmd = [sys.executable, "-m", "milestones", "download", "fashion-mnist", "--data-dir", str(tmp_path),
           "--url", mirror]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("downloaded, MD5 checked") == 4
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.stdout.count("already here") == 4


def test_a_download_with_a_wrong_checksum_keeps_nothing(tmp_path, monkeypatch):
    from milestones import data
    from milestones.gan.idx import FASHION_MD5
    (tmp_path / "mirror").mkdir()
    for name in FASHION_MD5:
        (tmp_path / "mirror" / name).write_bytes(b"not the real file")
    with pytest.raises(data.DownloadError, match="MD5 .* expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d; the file was not kept"):
        data.download("fashion-mnist", tmp_path / "data", base_url=(tmp_path / "mirror").as_uri(), log=lambda m: None)
    assert list((tmp_path / "data" / "fashion-mnist").iterdir()) == []
    with pytest.raises(data.DownloadError, match="could not download"):
        data.download("fashion-mnist", tmp_path / "data", base_url=(tmp_path / "nowhere").as_uri(), log=lambda m: None)
