import subprocess
import sys

import pytest


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "milestones", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_list_shows_the_rnn_experiments_with_their_references():
    out = run("list", "rnn/").stdout
    for name in ("rnn/adding-t100/lstm", "rnn/adding-t200/gru", "rnn/adding-t400/gru-reset-after",
                 "rnn/copy-t100/lstm", "rnn/copy-t200/gru"):
        assert name in out
    assert "reference: test_mse 0.167 (memoryless baseline" in out
    assert "reference: test_ce 0.173" in out  # 10 ln 8 / (100 + 20)
    lines = run("list").stdout.splitlines()  # every name, the longest included, stands apart from its summary
    column = lines[1].index("reference:")
    for name_line in lines[::3]:
        name = name_line.split()[0]
        assert len(name) < column and name_line[len(name):column].isspace() and not name_line[column].isspace()


@pytest.mark.parametrize("args, message", [
    (("train", "rnn/adding-t200/lstm", "--hiden-size", "3"), "did you mean --hidden-size"),
    (("train", "rnn/adding-t200/lstm", "--steps", "-5"), "--steps: expected an integer ≥ 1, got -5"),
    (("train", "rnn/adding-t200"), "is a group of 3 experiments"),
    (("train", "rnn/nope"), "no experiment or group named 'rnn/nope'"),
    (("train",), "train needs an experiment NAME"),
    (("reproduce", "rnn/adding-t200", "--seeds", "0"), "--seeds: expected an integer ≥ 1"),
    (("reproduce", "rnn/adding-t200", "--budget", "huge"), "invalid choice: 'huge'"),
    (("evaluate", "/nonexistent/run"), "is not a run directory"),
    (("list", "--bogus"), "unrecognized arguments: --bogus"),
])
def test_bad_command_lines_are_clear_errors(args, message):
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_the_experiment_options():
    done = run("train", "rnn/adding-t200/lstm", "--help")
    assert done.returncode == 0
    assert "--hidden-size" in done.stdout and "default 128; an integer ≥ 1" in done.stdout
    assert run("--help").returncode == 0 and "reproduce" in run("--help").stdout


def test_reproduce_quick_writes_a_result_per_experiment(tmp_path):
    import json
    import os
    env = dict(os.environ, OMP_NUM_THREADS="1", MILESTONES_RUNS=str(tmp_path / "runs"))
    done = run("--no-progress", "reproduce", "rnn/adding-t100", "--seeds", "2", "--budget", "quick",
               "--steps", "10", "--eval-every", "5", "--length", "10", "--hidden-size", "4",
               "--test-size", "16", "--results-dir", str(tmp_path / "res"), env=env)
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "res").iterdir())
    assert files == ["rnn__adding-t100__gru-reset-after.json", "rnn__adding-t100__gru.json",
                     "rnn__adding-t100__lstm.json"]
    rec = json.loads((tmp_path / "res" / "rnn__adding-t100__lstm.json").read_text())
    assert [s["seed"] for s in rec["seeds"]] == [0, 1] and rec["budget"] == "quick"
    assert rec["command"].startswith("milestones reproduce rnn/adding-t100 --seeds 2")
    assert rec["machine"]["cpu"] and rec["references"][0]["value"] == pytest.approx(1 / 6)
    assert rec["summary_stats"]["test_mse"]["n"] == 2


def test_reproduce_trains_seeds_in_parallel_jobs(tmp_path):
    import json
    import os
    env = dict(os.environ, MILESTONES_RUNS=str(tmp_path / "runs"))
    done = run("--no-progress", "reproduce", "rnn/adding-t100/lstm", "--seeds", "2", "--jobs", "2",
               "--steps", "6", "--eval-every", "3", "--length", "10", "--hidden-size", "4",
               "--test-size", "16", "--results-dir", str(tmp_path / "res"), env=env)
    assert done.returncode == 0, done.stderr
    assert "2 seeds, 2 at a time" in done.stderr
    rec = json.loads((tmp_path / "res" / "rnn__adding-t100__lstm.json").read_text())
    assert [s["seed"] for s in rec["seeds"]] == [0, 1]
    threads = max(1, (os.cpu_count() or 1) // 2)
    for s in rec["seeds"]:
        result = json.loads(open(os.path.join(s["run_dir"], "result.json")).read())
        assert result["machine"]["torch_threads"] == threads


def test_reproduce_in_this_process_uses_the_threads_it_is_given(tmp_path):
    """One job trains in this process: `--threads 1` must hold there too (it used to be ignored,
    and the command line recorded beside the result said otherwise)."""
    import json
    import os
    env = dict(os.environ, MILESTONES_RUNS=str(tmp_path / "runs"))
    env.pop("OMP_NUM_THREADS", None)
    env.pop("MKL_NUM_THREADS", None)
    done = run("--no-progress", "reproduce", "rnn/adding-t100/lstm", "--seeds", "1", "--threads", "1",
               "--steps", "3", "--eval-every", "3", "--length", "10", "--hidden-size", "4",
               "--test-size", "16", "--results-dir", str(tmp_path / "res"), env=env)
    assert done.returncode == 0, done.stderr
    rec = json.loads((tmp_path / "res" / "rnn__adding-t100__lstm.json").read_text())
    assert rec["machine"]["torch_threads"] == 1


def test_a_diverged_seed_is_recorded_as_failed_not_fatal(tmp_path):
    import dataclasses

    from milestones import cli
    from milestones.registry import catalog
    from milestones.runs import TrainingDiverged

    def diverge(config, run):
        raise TrainingDiverged("loss is not finite at update 7")

    exp = dataclasses.replace(catalog()["rnn/adding-t100/lstm"], train=diverge,
                              evaluate=lambda config, run: {"test_mse": 0.5})
    result, _ = cli.train_one(exp, exp.config, tmp_path / "run", progress=False, record_divergence=True)
    assert result["metrics"] == {"test_mse": 0.5, "diverged": 1.0}
    with pytest.raises(TrainingDiverged):
        cli.train_one(exp, exp.config, tmp_path / "run2", progress=False)
