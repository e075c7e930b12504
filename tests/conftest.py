import os
import signal
from pathlib import Path

import pytest
import torch

from milestones.data import DataMissingError, dataset_path, require_data

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs one worker per core: one thread each
    torch.set_num_threads(1)


@pytest.fixture
def shared_data():
    """The data folder; a missing data set skips the test, or fails it under MILESTONES_REQUIRE_DATA=1."""
    def get(name: str, files: tuple[str, ...] = ()) -> Path:
        try:
            return dataset_path(name, files=files)
        except DataMissingError as e:
            if require_data():
                pytest.fail(f"MILESTONES_REQUIRE_DATA is set and {e}")
            pytest.skip(str(e))
    return get


@pytest.fixture
def cli_env(tmp_path):
    """Environment for running `python -m milestones` in a subprocess: one thread, deterministic."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MILESTONES_RUNS=str(tmp_path / "runs"))
    return env


@pytest.fixture
def float64():
    """float64 as torch's default dtype for one test, restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def stopped_at(monkeypatch):
    """`stopped_at(module, n, exp, cfg, run)`: train `run` with a Ctrl-C arriving during the n-th
    call of `module.one_step`; checks the run stopped at step n with a checkpoint."""
    import signal

    from milestones.runs import RunStopped

    def stop(module, n, exp, cfg, run):
        real_step, calls = module.one_step, {"n": 0}

        def then_stop(*args):
            calls["n"] += 1
            if calls["n"] == n:
                os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C does
            return real_step(*args)

        monkeypatch.setattr(module, "one_step", then_stop)
        try:
            with pytest.raises(RunStopped, match=f"stopped at step {n}"):
                exp.train(cfg, run)
        finally:
            monkeypatch.setattr(module, "one_step", real_step)
    return stop


@pytest.fixture
def stop_during(monkeypatch):
    """stop_during(module, n): on its n-th call, `module.epoch` first sends this process SIGINT (a
    Ctrl-C), so the run stops after that epoch; `monkeypatch.undo()` puts the real one back."""
    def arm(module, n: int) -> None:
        real, calls = module.epoch, {"n": 0}

        def then_stop(*args):
            calls["n"] += 1
            if calls["n"] == n:
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args)

        monkeypatch.setattr(module, "epoch", then_stop)
    return arm


@pytest.fixture
def gnugo():
    """GNU Go's path; missing, it skips the test, or fails it under MILESTONES_REQUIRE_DATA=1 (CI installs it)."""
    from milestones.go.match import GtpFailure, gnugo_binary

    try:
        return gnugo_binary()
    except GtpFailure as e:
        if require_data():
            pytest.fail(f"MILESTONES_REQUIRE_DATA is set and {e}")
        pytest.skip(str(e))
