"""Result and benchmark records: one schema each; every committed record reads with it."""
import json
from pathlib import Path

import pytest

from milestones import registry, results
from milestones.records import (
    BENCHMARK_VERSION,
    RESULT_VERSION,
    RecordError,
    read_benchmark,
    read_result,
    save_benchmark,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_committed_result_is_a_current_record_with_its_config_and_family():
    records = results.load_all(ROOT / "results", registry.family_name_of)
    assert len(records) == len(list((ROOT / "results").glob("*.json"))) > 100
    families = {f.name for f in registry.families()}
    catalog = registry.catalog()
    for rec in records:
        assert rec["version"] == RESULT_VERSION and rec["family"] in families, rec["experiment"]
        assert rec["config"] and set(rec["config"]) <= {f for f in vars(catalog[rec["experiment"]].config)}
        assert rec["config"]["seed"] == rec["seeds"][0]["seed"]
        if "config_note" in rec:  # recovered from the preset at the run's commit
            assert rec["git_commit"][:12] in rec["config_note"]


def test_every_check_folder_is_described_in_the_checks_readme():
    """results/checks/README.md has a row for each folder there (what it checks, the command), and no
    row for a folder that is gone."""
    checks = ROOT / "results" / "checks"
    folders = {p.name for p in checks.iterdir() if p.is_dir()}
    rows = {line.split("`")[1].rstrip("/") for line in (checks / "README.md").read_text().splitlines()
            if line.startswith("| `")}
    assert folders and rows == folders


def test_every_committed_benchmark_says_what_ran_where():
    paths = sorted((ROOT / "benchmarks").glob("*.json"))
    assert len(paths) >= 7
    for path in paths:
        rec = read_benchmark(path)
        script = "milestones" if rec["benchmark"] == "demo" else f"benchmarks/{rec['benchmark']}.py"  # `milestones demo`
        assert rec["command"].split()[1].endswith(script) and path.name in rec["command"], rec["command"]
        assert rec["commit"] and rec["date"][:4] == "2026" and rec["torch"] and rec["device"] in ("cpu", "cuda")
        assert rec["results"] and (rec["machine"]["gpu"] if rec["device"] == "cuda" else rec["machine"]["cpu"])


def test_a_benchmark_run_records_its_command_commit_and_machine(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["benchmarks/x_speed.py", "--json", str(tmp_path / "x.json")])
    save_benchmark(tmp_path / "x.json", "x_speed", device="cpu", settings={"n": 1}, results={"rows": [1]})
    rec = read_benchmark(tmp_path / "x.json")
    assert rec["version"] == BENCHMARK_VERSION and rec["command"] == f"python benchmarks/x_speed.py --json {tmp_path / 'x.json'}"
    assert rec["machine"]["cpu"] and rec["torch"] and rec["results"] == {"rows": [1]}


def test_an_old_record_is_upgraded_and_a_newer_or_broken_one_refused(tmp_path):
    old = {"experiment": "x/y", "metric": "m", "goal": "min", "seeds": [], "summary_stats": {}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    rec = read_result(tmp_path / "old.json", lambda name: "fam")
    assert (rec["version"], rec["family"], rec["config"], rec["results_dir"]) == (RESULT_VERSION, "fam", None, str(tmp_path))
    (tmp_path / "new.json").write_text(json.dumps(old | {"version": RESULT_VERSION + 1}))
    with pytest.raises(RecordError, match="version 3 result record; this milestones reads versions 1-2"):
        read_result(tmp_path / "new.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RecordError, match="bad.json is not valid JSON"):
        read_result(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text("[1]")
    with pytest.raises(RecordError, match="is not a results file"):
        read_result(tmp_path / "other.json")
    with pytest.raises(RecordError, match="is not a benchmark record .missing"):
        read_benchmark(tmp_path / "old.json")
