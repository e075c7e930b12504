"""Seeds side by side: local processes and Ray give the same results, and Ctrl-C on a reproduction
stops every running seed at a checkpoint, from which each resumes to an uninterrupted run's result."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milestones.checkpoint import CheckpointError, read_meta

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "6", "--eval-every", "3", "--length", "10", "--hidden-size", "4", "--test-size", "16"]


def env_for(tmp_path, **extra):
    return dict(os.environ, **{"MILESTONES_FAMILIES": "tests.toy_family", "PYTHONPATH": str(ROOT),
                               "MILESTONES_RUNS": str(tmp_path / "runs"), **extra})


def milestones(args, env):
    return subprocess.run([sys.executable, "-m", "milestones", "--no-progress", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_ray_and_local_processes_give_the_same_seeds(tmp_path):
    out = {}
    for executor in ("local", "ray"):
        done = milestones(["reproduce", "rnn/adding-t100/lstm", "--seeds", "2", "--jobs", "2", "--executor",
                           executor, *TINY, "--results-dir", str(tmp_path / executor)], env_for(tmp_path))
        assert done.returncode == 0, done.stderr
        out[executor] = json.loads((tmp_path / executor / "rnn__adding-t100__lstm.json").read_text())
    assert "on a local Ray" in done.stderr
    assert [s["metrics"] for s in out["ray"]["seeds"]] == [s["metrics"] for s in out["local"]["seeds"]]
    assert all(Path(s["run_dir"], "result.json").exists() for s in out["ray"]["seeds"])


def test_ray_without_the_extra_or_a_bad_executor_is_a_clear_error(tmp_path):
    done = milestones(["reproduce", "rnn/adding-t100/lstm", "--executor", "spark"], env_for(tmp_path))
    assert done.returncode == 2 and "invalid choice: 'spark'" in done.stderr
    hide_ray = tmp_path / "noray"
    hide_ray.mkdir()
    (hide_ray / "ray.py").write_text("raise ImportError('no ray here')\n")
    done = milestones(["reproduce", "rnn/adding-t100/lstm", "--executor", "ray", *TINY],
                      env_for(tmp_path, PYTHONPATH=f"{hide_ray}:{ROOT}"))
    assert done.returncode == 2 and "pip install 'milestones[cluster]'" in done.stderr


def checkpoint_step(run_dir):
    try:
        return read_meta(run_dir / "checkpoints" / "last.safetensors")["step"]
    except (CheckpointError, FileNotFoundError):
        return 0


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_ctrl_c_stops_every_seed_at_a_checkpoint(tmp_path, executor):
    """A terminal's Ctrl-C reaches the whole foreground process group: the reproduction's, here. The
    local one starts with SIGINT ignored, as a shell starts a command in the background."""
    env = env_for(tmp_path, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "milestones", "--no-progress", "reproduce", "toy/walk", "--seeds", "3", "--jobs",
           "2", "--executor", executor, "--steps", "900", "--step-delay", "0.01", "--results-dir", str(tmp_path / "r")]
    ignored = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if executor == "local" else None
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=ignored)
    runs = tmp_path / "runs" / "toy__walk"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        dirs = sorted(runs.glob("*-s*")) if runs.exists() else []
        if len(dirs) == 2 and all(checkpoint_step(d) >= 80 for d in dirs):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    dirs = sorted(runs.glob("*-s*"))
    assert [d.name[-2:] for d in dirs] == ["s0", "s1"], "a third seed was started after the stop"
    for d in dirs:
        assert not (d / "result.json").exists() and 80 <= checkpoint_step(d) < 900, err
    assert not (tmp_path / "r").exists()
    resumed = [milestones(["train", "--resume", str(d), "--step-delay", "0"], env) for d in dirs]
    assert all(r.returncode == 0 for r in resumed), [r.stderr for r in resumed]
    whole = milestones(["train", "toy/walk", "--steps", "900", "--seed", "1", "--run-dir", str(tmp_path / "whole")], env)
    assert whole.returncode == 0, whole.stderr
    assert (json.loads((dirs[1] / "result.json").read_text())["metrics"]
            == json.loads((tmp_path / "whole" / "result.json").read_text())["metrics"])


def test_reproduce_with_reuse_takes_finished_seeds_and_continues_a_stopped_one(tmp_path):
    """After a three-seed reproduction whose seed 2 is then replaced by a stopped run,
    `reproduce --reuse` trains nothing twice: it reads seeds 0 and 1, continues seed 2 from its
    checkpoint, and writes the record of the uninterrupted reproduction."""
    import shutil
    env = env_for(tmp_path, OMP_NUM_THREADS="1")
    walk = ["--steps", "60", "--checkpoint-every", "10", "--step-delay", "0.02"]
    first = milestones(["reproduce", "toy/walk", "--seeds", "3", *walk, "--results-dir", str(tmp_path / "r1")], env)
    assert first.returncode == 0, first.stderr
    runs = tmp_path / "runs" / "toy__walk"
    shutil.rmtree(next(runs.glob("*-s2")))
    stopped = runs / "stopped-s2"
    proc = subprocess.Popen([sys.executable, "-m", "milestones", "--no-progress", "train", "toy/walk", "--seed",
                             "2", *walk, "--run-dir", str(stopped)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and checkpoint_step(stopped) < 20:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert 20 <= checkpoint_step(stopped) < 60 and not (stopped / "result.json").exists()
    before = sorted(runs.iterdir())

    again = milestones(["reproduce", "toy/walk", "--seeds", "3", *walk, "--reuse",
                        "--results-dir", str(tmp_path / "r2")], env)
    assert again.returncode == 0, again.stderr
    assert sorted(runs.iterdir()) == before, "a seed was trained in a new run directory"
    assert again.stderr.count("finished before, its result reused") == 2
    reused, whole = (json.loads((tmp_path / r / "toy__walk.json").read_text()) for r in ("r2", "r1"))
    assert [s["metrics"] for s in reused["seeds"]] == [s["metrics"] for s in whole["seeds"]]
    assert reused["seeds"][2]["run_dir"] == str(stopped)


def test_reproduce_with_keep_trains_only_the_seeds_the_record_lacks(tmp_path):
    """`reproduce --keep` grows a two-seed record to three by training seed 2 alone (the way seeds
    of a long recipe are gathered over several sessions); the record equals a three-seed
    reproduction's, and every seed says which command made it. Seeds of another config are not kept."""
    env = env_for(tmp_path, OMP_NUM_THREADS="1")
    walk = ["--steps", "30", "--checkpoint-every", "10"]
    results = tmp_path / "results"
    assert milestones(["reproduce", "toy/walk", "--seeds", "2", *walk, "--results-dir", str(results)],
                      env).returncode == 0
    runs = tmp_path / "runs" / "toy__walk"
    before = set(runs.iterdir())
    grown = milestones(["reproduce", "toy/walk", "--seeds", "3", *walk, "--keep", "--results-dir", str(results)], env)
    assert grown.returncode == 0, grown.stderr
    assert "seeds 0, 1 kept from" in grown.stderr
    assert [p.name[-2:] for p in set(runs.iterdir()) - before] == ["s2"]
    whole = milestones(["reproduce", "toy/walk", "--seeds", "3", *walk, "--results-dir", str(tmp_path / "whole")], env)
    assert whole.returncode == 0, whole.stderr
    record, reference = (json.loads((d / "toy__walk.json").read_text()) for d in (results, tmp_path / "whole"))
    assert [s["metrics"] for s in record["seeds"]] == [s["metrics"] for s in reference["seeds"]]
    assert record["summary_stats"] == reference["summary_stats"]
    assert record["config"] == reference["config"] and record["config"]["seed"] == 0  # the first seed's, not 2's
    commands = [s["command"] for s in record["seeds"]]
    assert commands[0] == commands[1] != commands[2] and "--keep" in commands[2] and "--seeds 2" in commands[0]
    assert all(s["machine"]["torch_threads"] == 1 and "created" in s for s in record["seeds"])

    other = milestones(["reproduce", "toy/walk", "--seeds", "3", "--steps", "20", "--keep",
                        "--results-dir", str(results)], env)
    assert other.returncode == 0, other.stderr
    assert "no seed kept from" in other.stderr and "trained with another config, trained again" in other.stderr
    assert json.loads((results / "toy__walk.json").read_text())["config"]["steps"] == 20


def test_runs_and_records_from_before_an_option_existed_still_match(tmp_path):
    """A config saved before a field was added (here: the NTM's heads_lr) matches a config that
    leaves the field at the value that gives the old behaviour, for --reuse and --keep alike."""
    import dataclasses

    from milestones import config as cfg_mod
    from milestones import results
    from milestones.registry import catalog
    from milestones.runs import matching_run, slug, write_config

    exp = catalog()["ntm/copy"]
    run = tmp_path / slug(exp.name) / "old-s0"
    run.mkdir(parents=True)
    write_config(run, exp.name, exp.config)
    saved = json.loads((run / "config.json").read_text())
    del saved["config"]["heads_lr"]
    (run / "config.json").write_text(json.dumps(saved))
    assert matching_run(exp.name, exp.config, tmp_path) == run
    assert matching_run(exp.name, dataclasses.replace(exp.config, heads_lr=0.5), tmp_path) is None

    def as_saved(c):
        return cfg_mod.as_saved(type(exp.config), c)

    record = {"config": saved["config"], "seeds": [{"seed": 0, "metrics": {}, "wall_time_s": 1.0, "curve": []}]}
    want = [json.loads(json.dumps(cfg_mod.to_dict(exp.config)))]
    assert list(results.keepable_seeds(record, want, as_saved)) == [0]
    other = [json.loads(json.dumps(cfg_mod.to_dict(dataclasses.replace(exp.config, heads_lr=0.5))))]
    assert results.keepable_seeds(record, other, as_saved) == {}
