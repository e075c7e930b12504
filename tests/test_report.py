import json
import subprocess
import sys
from pathlib import Path

import pytest

from milestones import report, results
from milestones.families.gan import report as gan_report
from milestones.families.memory import report as memory_report
from milestones.families.ntm import report as ntm_report


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    import os
    root = tmp_path_factory.mktemp("runs")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    dirs = []
    for seed in (0, 1):
        d = root / f"s{seed}"
        done = subprocess.run([sys.executable, "-m", "milestones", "--no-progress", "train",
                               "rnn/adding-t100/gru", "--length", "20", "--hidden-size", "8",
                               "--steps", "60", "--eval-every", "20", "--test-size", "64",
                               "--seed", str(seed), "--run-dir", str(d)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        dirs.append(d)
    return dirs


def test_runs_are_aggregated_over_seeds(tiny_runs):
    [rec] = results.from_runs(tiny_runs)
    values = [json.loads((d / "result.json").read_text())["metrics"]["test_mse"] for d in tiny_runs]
    s = rec["summary_stats"]["test_mse"]
    assert rec["experiment"] == "rnn/adding-t100/gru" and s["n"] == 2
    assert s["mean"] == pytest.approx(sum(values) / 2)
    assert s["std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5)
    assert [p[0] for p in rec["seeds"][0]["curve"]] == [20, 40, 60]


def test_a_record_keeps_the_first_seeds_figures_and_the_best_seeds_beside_them(tmp_path):
    """Seed 0 failed and seed 2 learned: the record shows both seeds' heads, seed 2's as seed2-NAME;
    where the first seed is the best, only its own."""
    runs = []
    for seed, bits in ((0, 64.7), (1, 43.6), (2, 0.003)):
        plots = tmp_path / f"s{seed}" / "plots"
        plots.mkdir(parents=True)
        (plots / "heads.png").write_text(f"heads of seed {seed}")
        (plots / "learning_curve.png").write_text("curve")
        runs.append({"seed": seed, "metrics": {"test_bits": bits}, "wall_time_s": 1.0, "curve": [],
                     "run_dir": str(tmp_path / f"s{seed}")})
    record = results.aggregate(runs, experiment="ntm/repeat-copy", summary="", metric="test_bits", goal="min",
                               references=[], citation="", deviations=[], budget=None, command=None,
                               machine=None, git_commit=None)
    assert results.best_seed(record)["seed"] == 2
    results.write(record, tmp_path / "results")
    written = json.loads((tmp_path / "results" / "ntm__repeat-copy.json").read_text())
    assert written["figures"] == ["figures/ntm__repeat-copy/heads.png", "figures/ntm__repeat-copy/seed2-heads.png"]
    figures = tmp_path / "results" / "figures" / "ntm__repeat-copy"
    assert (figures / "heads.png").read_text() == "heads of seed 0"
    assert (figures / "seed2-heads.png").read_text() == "heads of seed 2"
    maximised = {**record, "metric": "score", "goal": "max",
                 "seeds": [{**s, "metrics": {"score": -s["metrics"]["test_bits"]}} for s in runs]}
    assert list(results.run_figures(maximised)) == ["heads.png", "seed2-heads.png"]
    first_best = {**record, "seeds": [{**s, "metrics": {"test_bits": float(s["seed"])}} for s in runs]}
    assert list(results.run_figures(first_best)) == ["heads.png"]


def test_report_from_a_tiny_run(tiny_runs, tmp_path):
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "milestones", "report", *map(str, tiny_runs),
                           "--results-dir", str(tmp_path / "none"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    page = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    rec = results.from_runs(tiny_runs)[0]
    ours = report.row(rec)["ours"]
    assert "rnn/adding-t100/gru" in page and ours in page and "0.167" in page
    assert "| rnn/adding-t100/gru |" in md and ours in md
    png = out / "plots" / "rnn__adding-t100.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "plots/rnn__adding-t100.png" in page


def test_row_formats_reference_gap_and_solved():
    rec = results.aggregate(
        [{"seed": 0, "metrics": {"m": 0.1, "solved": 1.0}, "wall_time_s": 30, "curve": []},
         {"seed": 1, "metrics": {"m": 0.3, "solved": 0.0}, "wall_time_s": 90, "curve": []}],
        experiment="x/y", summary="", metric="m", goal="min",
        references=[{"metric": "m", "value": 0.4, "source": "P", "note": "paper", "verified": True}],
        citation="", deviations=[], budget="full", command=None, machine=None, git_commit=None)
    r = report.row(rec)
    assert r["ours"] == "0.2 ± 0.141" and r["gap"] == "-0.2 (0.5×)"
    assert r["solved"] == "1/2" and r["wall time"] == "2.0 min" and r["reference"] == "0.4 — paper"


def test_row_names_every_machine_and_commit_of_seeds_gathered_by_several_reproductions():
    epyc = {"cpu": "AMD EPYC", "gpu": None, "torch_threads": 1}
    xeon = {"cpu": "Intel Xeon", "gpu": None, "torch_threads": 2}
    seeds = [{"seed": s, "metrics": {"m": 0.1}, "wall_time_s": 30, "curve": [], "machine": m, "git_commit": c,
              "command": "milestones reproduce x/y", "created": "2026-12-05"}
             for s, m, c in ((0, epyc, "aaa"), (1, epyc, "aaa"), (2, xeon, "bbb"))]
    rec = results.aggregate(seeds, experiment="x/y", summary="", metric="m", goal="min", references=[], citation="",
                            deviations=[], budget="full", command=None, machine=xeon, git_commit="bbb")
    r = report.row(rec)
    assert r["machine"] == "AMD EPYC, 1 thread + Intel Xeon, 2 threads" and r["commit"] == "aaa, bbb"
    page = report.html_section("x", [rec], Path("/o/p.png"), Path("/o"))
    assert page.count("<code>milestones reproduce x/y</code>") == 3 and "Intel Xeon, 2 threads, commit bbb" in page


def test_readme_results_table_matches_committed_results():
    """The README's results table is generated from results/; regenerate it when results change
    (`milestones report --readme README.md`)."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    from milestones.registry import catalog
    assert readme == report.readme_blocks(readme, results.load_all(root / "results"), list(catalog()))
    assert report.README_START in readme and "<!-- results table (ntm/, lstm/, ntm-ff/)" in readme
    assert "<!-- generalization table (ntm/, lstm/, ntm-ff/)" in readme
    assert "<!-- mixtures table (gan/)" in readme and "<!-- images table (gan/)" in readme


def test_variants_table_has_a_column_per_model():
    recs = [results.aggregate(
        [{"seed": 0, "metrics": {"m": v, "solved": 1.0}, "wall_time_s": 60, "curve": []}],
        experiment=f"f/t/{model}", summary="", metric="m", goal="min",
        references=[{"metric": "m", "value": 0.5, "source": "P", "note": "", "verified": True}],
        citation="", deviations=[], budget="full", command=None, machine=None, git_commit=None)
        for model, v in (("a", 0.1), ("b", 0.2))]
    table = report.variants_table(recs)
    assert table.splitlines()[0] == "| task | metric | reference | a | b |"
    assert table.splitlines()[2] == ("| f/t | m | 0.5 | 0.1 (1/1 solved, 1 seed, 1.0 min) | "
                                     "0.2 (1/1 solved, 1 seed, 1.0 min) |")


def test_a_recipe_beside_the_papers_gets_a_column_of_its_own():
    """`model/task` and `model/task-extra` in group `family/task`: columns `model` and `model-extra`."""
    def rec(name, v):
        return results.aggregate([{"seed": 0, "metrics": {"m": v}, "wall_time_s": 60, "curve": []}],
                                 experiment=name, summary="", metric="m", goal="min", references=[], citation="",
                                 deviations=[], budget="full", command=None, machine=None, git_commit=None,
                                 group="fam/recall")
    recs = [rec("ntm/recall", 0.1), rec("ntm/recall-decoys", 0.2), rec("lstm/recall", 0.3)]
    assert [report.variant_of(r) for r in recs] == ["ntm", "ntm-decoys", "lstm"]
    table = report.variants_table(recs)
    assert table.splitlines()[0] == "| task | metric | reference | lstm | ntm | ntm-decoys |"  # by name without an order
    assert table.splitlines()[2].startswith("| fam/recall | m | – | 0.3 (– solved, 1 seed, 1.0 min) | 0.1 (")


def test_generalization_table_shows_medians_over_seeds_in_sweep_order():
    seeds = [{"seed": k, "metrics": {"gen_length_50_bits": b, "gen_length_50_bit_errors": e,
                                     "gen_length_10_bits": 0.1 * k, "gen_length_10_bit_errors": 0.0},
              "wall_time_s": 1, "curve": []}
             for k, (b, e) in enumerate([(1.0, 0.0), (3.0, 1.0), (100.0, 30.0), (5.0, 2.0)])]
    for s in seeds:  # the sweeps in the order evaluate wrote them: 50, then 10
        s["metrics"] = dict(sorted(s["metrics"].items(), key=lambda kv: "10" in kv[0]))
    rec = results.aggregate(seeds, experiment="ntm/copy", summary="", metric="test_bits", goal="min",
                            references=[], citation="", deviations=[], budget="full", command=None,
                            machine=None, git_commit=None, group="ntm-tasks/copy")
    table = ntm_report.generalization_table([rec])
    header, _, row = table.splitlines()[:3]
    assert header == "| ntm-tasks/copy | seeds | length 50 | length 10 |"
    # medians of 4 seeds: (3 + 5) / 2 = 4 bits, (1 + 2) / 2 = 1.5 wrong bits; (0.1 + 0.2) / 2 = 0.15
    assert row == "| ntm/copy | 4 | 4 (1.5) | 0.15 (0) |"


def _gan_record(name, values, **kw):
    seeds = [{"seed": k, "metrics": m, "wall_time_s": 60, "curve": [[100, 1.0], [200, 2.0]]}
             for k, m in enumerate(values)]
    return results.aggregate(seeds, experiment=name, summary="", metric=kw.get("metric", "modes"),
                             goal=kw.get("goal", "max"), references=[], citation="", deviations=[],
                             budget="full", command=None, machine=None, git_commit=None)


def test_mixtures_table_puts_ours_beside_the_published_rows():
    recs = [_gan_record("gan/ring-conopt", [{"modes": 8, "hq_percent": 90, "reverse_kl": 0.01},
                                            {"modes": 6, "hq_percent": 80, "reverse_kl": 0.03}]),
            _gan_record("gan/grid-conopt", [{"modes": 25, "hq_percent": 50, "reverse_kl": 0.1}])]
    lines = gan_report.mixtures_table(recs).splitlines()
    # mean ± sample std over seeds: modes 7 ± 1.4, HQ 85 ± 7.1; these records have no window
    assert lines[2] == ("| **consensus optimization, γ = 10** | 7 ± 1.4 (last only) | 85 ± 7.1 (last only) | "
                        "0.02 ± 0.014 (last only) | 25 (last only) | 50 (last only) | 0.1 (last only) | 2/1 | ours |")
    assert "| VEEGAN | 8 | 52.9 | – | 24.6 | 40 | – | – | VEEGAN Table 1 |" in lines
    assert len(lines) == 3 + 7  # header, rule, our one method, the seven published rows


def test_mixtures_table_heads_with_the_window_mean_and_shows_the_last_snapshot_beside_it():
    def seed(last_hq, window_hq):
        return {"modes": 8, "hq_percent": last_hq, "reverse_kl": 0.0, "modes_window": 7.5,
                "hq_percent_window": window_hq, "reverse_kl_window": 0.1}
    recs = [_gan_record("gan/ring-conopt", [seed(90, 60), seed(30, 70)])]
    row = gan_report.mixtures_table(recs).splitlines()[2]
    # HQ: the windows' 65 ± 7.1 over the two seeds is the headline, the last snapshots' 60 ± 42 beside it
    assert row == ("| **consensus optimization, γ = 10** | 7.5 ± 0 (last 8 ± 0) | 65 ± 7.1 (last 60 ± 42) | "
                   "0.1 ± 0 (last 0 ± 0) | – | – | – | 2 | ours |")


def test_images_table_lists_each_method_and_the_real_data_floor():
    metrics = {"fd": 12.0, "precision": 0.7, "recall": 0.5, "density": 0.9, "coverage": 0.6, "fd_real": 0.5,
               "precision_real": 0.8, "recall_real": 0.8, "density_real": 1.0, "coverage_real": 0.9}
    rec = _gan_record("gan/fashion-dcgan", [metrics], metric="fd", goal="min")
    lines = gan_report.images_table([rec]).splitlines()
    assert lines[2] == "| gan/fashion-dcgan | 12 | 0.7 | 0.5 | 0.9 | 0.6 | 200 | 1.0 min | 1 |"
    assert lines[3] == "| training images (the floor) | 0.5 | 0.8 | 0.8 | 1 | 0.9 | – | – | – |"


def test_babi_table_puts_each_task_beside_the_papers_column():
    metrics = {"task1_error": 0.0, "task2_error": 7.25, "mean_error": 3.625, "failed": 1.0, "tasks": 2.0}
    refs = [{"metric": "task1_error", "value": 0.0, "note": "PE LS RN"}, {"metric": "task2_error", "value": 8.3},
            {"metric": "mean_error", "value": 13.9}]
    rec = results.aggregate([{"seed": 0, "metrics": metrics, "wall_time_s": 90, "curve": []}],
                            experiment="memn2n/babi-1k", summary="", metric="mean_error", goal="min",
                            references=refs, citation="", deviations=[], budget="full", command=None,
                            machine=None, git_commit=None, config={"restarts": 10, "epochs": 100, "ls_epochs": 20})
    other = dict(rec, experiment="memn2n/babi-1k-bow")
    lines = memory_report.babi_table([rec, other]).splitlines()  # one paper column for both
    assert lines[0] == "| task | paper: PE LS RN | **ours: memn2n/babi-1k** | **ours: memn2n/babi-1k-bow** |"
    assert lines[2] == "| 1 | 0.0 | 0.0 | 0.0 |" and lines[3] == "| 2 | 8.3 | 7.2 | 7.2 |"
    assert lines[4] == "| 3 | – | – | – |"
    assert "| **mean** | **13.9** | **3.6** | **3.6** |" in lines
    assert "| failed (> 5 %) | 1 of 2 | 1 of 2 | 1 of 2 |" in lines
    assert "| restarts, epochs | – | best of 10, 120 | best of 10, 120 |" in lines
    assert "| wall time (1 core) | – | 1.5 min | 1.5 min |" in lines
    assert "| per task, per epoch | – | 45 s, 0.4 s | 45 s, 0.4 s |" in lines  # 90 s / 2 tasks / 120 epochs
    assert "| seeds | – | 1 | 1 |" in lines
    assert not any("validation" in line for line in lines)  # this record kept no validation errors
    assert not any("†" in line for line in lines)


def test_babi_table_gives_the_spread_over_seeds_and_the_validation_error():
    def metrics(t2: float, valid: float) -> dict[str, float]:
        return {"task1_error": 0.0, "task2_error": t2, "mean_error": t2 / 2, "failed": float(t2 > 5),
                "tasks": 2.0, "mean_valid_error": valid}
    seeds = [{"seed": s, "metrics": metrics(t2, v), "wall_time_s": 60, "curve": []}
             for s, (t2, v) in enumerate([(4.0, 1.0), (8.0, 3.0)])]
    rec = results.aggregate(seeds, experiment="memn2n/babi-1k", summary="", metric="mean_error", goal="min",
                            references=[], citation="", deviations=[], budget="full", command=None,
                            machine=None, git_commit=None, config={"restarts": 10, "epochs": 30, "joint": True})
    lines = memory_report.babi_table([rec]).splitlines()
    assert "| **mean** | **3.0 ± 1.4** |" in lines  # task-2 errors 4 and 8: means 2 and 4
    assert "| failed (> 5 %) | 0.5 of 2 |" in lines
    assert "| mean validation error (what options are chosen on) | 2.0 ± 1.4 |" in lines
    assert "| seeds | 2 |" in lines
    assert "| per task, per epoch | 1.0 min, 2.0 s |" in lines  # joint: one training of 30 epochs


def test_babi_table_compares_the_same_tasks_and_marks_unverified_paper_numbers():
    """A run on fewer tasks than the paper's column gets the paper's mean and failures over its own
    tasks beside its own; paper numbers with verified = False carry a † and a legend."""
    metrics = {"task1_error": 0.0, "task2_error": 7.0, "mean_error": 3.5, "failed": 1.0, "tasks": 2.0}
    refs = [{"metric": "task1_error", "value": 0.0, "note": "PE LS RN", "verified": True},
            {"metric": "task2_error", "value": 8.0, "verified": True},
            {"metric": "task3_error", "value": 40.0, "verified": False},
            {"metric": "mean_error", "value": 16.0, "verified": False}]
    rec = results.aggregate([{"seed": 0, "metrics": metrics, "wall_time_s": 90, "curve": []}],
                            experiment="memn2n/babi-10k", summary="", metric="mean_error", goal="min",
                            references=refs, citation="", deviations=[], budget="full", command=None,
                            machine=None, git_commit=None, config={"restarts": 2, "epochs": 30})
    lines = memory_report.babi_table([rec]).splitlines()
    assert lines[2:5] == ["| 1 | 0.0 | 0.0 |", "| 2 | 8.0 | 7.0 |", "| 3 | 40.0† | – |"]
    assert "| **mean** | **16.0†** | **3.5** (paper 4.0 on these 2) |" in lines
    assert "| failed (> 5 %) | 2 of 3 | 1 of 2 (paper 1) |" in lines
    assert lines[-1].startswith("† the paper's number as entered from memory")


def test_the_page_opens_with_the_runs_just_trained_then_the_overview_and_every_link_lands(tiny_runs, tmp_path):
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "milestones", "report", *map(str, tiny_runs),
                           "--results-dir", str(root / "results"), "--out", str(tmp_path / "report")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    sections = re.findall(r"<h2 id='([^']+)'>", page)
    assert sections[:2] == ["fresh", "overview"] and sections[2:] == ["family-rnn", "family-ntm", "family-gan",
                                                                      "family-memory", "family-dqn",
                                                                      "family-alphazero", "family-alphago"]
    ids = re.findall(r"id='([^']+)'", page)
    assert len(ids) == len(set(ids))
    assert [h for h in re.findall(r"href='#([^']+)'", page) if h not in ids] == []
    overview = page[page.index("id='overview'"):page.index("id='family-rnn'")]
    assert "memn2n/babi-1k" in overview and "at or better than the reference" in overview
    assert "rnn/adding-t100/gru (this run)" in page[page.index("id='fresh'"):page.index("id='overview'")]


def test_readme_cites_every_committed_benchmark_and_denies_none():
    """Each benchmark record in benchmarks/ is named in the README (favourable or not), and the README
    never says a device was not measured where a record of that device is committed."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    records = sorted(p.name for p in (root / "benchmarks").glob("*.json"))
    assert records and [name for name in records if f"benchmarks/{name}" not in readme] == []
    flat = " ".join(readme.split())
    for name in records:
        device = name.split(".")[-2]  # rnn_speed.cuda.json → cuda
        if device == "cuda":
            denials = re.findall(r"[^.]*(?:CUDA|GPU)[^.]*(?:not been measured|not measured)[^.]*\.", flat)
            assert denials == [], f"{name} is committed, yet the README says: {denials}"
