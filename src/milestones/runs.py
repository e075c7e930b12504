"""A run: one training of one experiment with one config and seed, in its own directory.

    RUN_DIR/
      config.json          experiment name and the resolved config
      metrics.jsonl        one JSON object per logged step: {"step": …, "<metric>": …, "time_s": …}
      checkpoints/last.safetensors   model, optimizer, RNG state and step (atomic, see checkpoint.py)
      plots/*.png          figures the experiment draws
      result.json          final metrics, seed, wall time, machine, git commit

A train function drives the run: `run.resume(...)` returns the step to start from, `run.log(...)`
records metrics, `run.save(...)` checkpoints, `run.progress(...)` shows a bar. Ctrl-C or SIGTERM
stop the run at the end of the current step with a checkpoint (see `Run.stoppable`); a run killed
outright resumes from its last checkpoint, and the metrics logged after it are discarded so that
the log matches an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from milestones import config as cfg_mod
from milestones.checkpoint import CheckpointError, check_architecture, load_checkpoint, save_checkpoint
from milestones.machine import git_commit, machine_info, resolve_device
from milestones.registry import Experiment
from milestones.seeding import rng_state, set_rng_state

DEFAULT_RUNS_DIR = Path("runs")


@dataclasses.dataclass(frozen=True)
class Loaded:
    step: int
    extra: dict[str, Any]  # the train function's own state (e.g. the best validation cost so far)
    meta: dict[str, Any]  # the checkpoint's header: experiment, step, arch, config, wall time


class TrainingDiverged(RuntimeError):
    """The loss or gradients stopped being finite; the message says where the good checkpoint is."""


class RunStopped(Exception):
    """Training was asked to stop (Ctrl-C, SIGTERM) and has saved a checkpoint."""


def runs_dir(option: str | Path | None = None) -> Path:
    """Where new runs go: the option, else $MILESTONES_RUNS, else ./runs."""
    return Path(option or os.environ.get("MILESTONES_RUNS") or DEFAULT_RUNS_DIR).expanduser()


def new_run_dir(experiment: str, seed: int, root: str | Path | None = None) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = runs_dir(root) / experiment.replace("/", "__") / f"{stamp}-s{seed}"
    path, k = base, 1
    while path.exists():
        path, k = base.with_name(f"{base.name}-{k}"), k + 1
    return path


class Run:
    """The directory and bookkeeping of one training run."""

    def __init__(self, directory: str | Path, experiment: Experiment, config: Any,
                 progress: bool = True) -> None:
        self.dir = Path(directory)
        self.experiment, self.config = experiment, config
        self.device = resolve_device(config.device)
        self.show_progress = progress
        self.elapsed_before = 0.0  # wall time of earlier sessions of this run (resumed runs)
        self.started = time.perf_counter()
        self.git_commit = git_commit()  # of the code that starts training, not of when it ends
        (self.dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (self.dir / "plots").mkdir(exist_ok=True)

    # -- creating and reopening ---------------------------------------------------------------
    @classmethod
    def create(cls, directory: str | Path, experiment: Experiment, config: Any, **kw) -> "Run":
        directory = Path(directory)
        if (directory / "config.json").exists():
            raise FileExistsError(f"{directory} already holds a run; pass --resume {directory} "
                                  f"to continue it, or choose another --run-dir")
        run = cls(directory, experiment, config, **kw)
        _write_json(run.dir / "config.json",
                    {"experiment": experiment.name, "config": cfg_mod.to_dict(config)})
        return run

    @staticmethod
    def read_config(directory: str | Path) -> tuple[str, dict[str, Any]]:
        path = Path(directory) / "config.json"
        try:
            saved = json.loads(path.read_text())
            return saved["experiment"], saved["config"]
        except FileNotFoundError:
            raise FileNotFoundError(f"{directory} is not a run directory (no config.json)") from None
        except (json.JSONDecodeError, KeyError) as e:
            raise cfg_mod.ConfigError(f"{path} is damaged ({e}); expected {{'experiment': …, 'config': …}}") from None

    # -- metrics ------------------------------------------------------------------------------
    @property
    def wall_time(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def log(self, step: int, **metrics: float) -> None:
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}, "time_s": round(self.wall_time, 3)}
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def metrics(self) -> list[dict[str, float]]:
        return read_metrics(self.dir)

    def progress(self, total: int, initial: int = 0, desc: str | None = None):
        return tqdm(total=total, initial=initial, desc=desc or self.experiment.name, unit="step",
                    disable=not self.show_progress, dynamic_ncols=True, file=sys.stderr)

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoints" / "last.safetensors"

    def save(self, step: int, *, modules: dict[str, torch.nn.Module],
             optimizers: dict[str, torch.optim.Optimizer] | None = None,
             generators: dict[str, torch.Generator] | None = None, arch: dict[str, Any],
             extra: dict[str, Any] | None = None, name: str = "last") -> Path:
        """Checkpoint everything needed to continue exactly from `step`."""
        state = {
            "modules": {k: m.state_dict() for k, m in modules.items()},
            "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
            "rng": rng_state(generators or {}),
            "extra": extra or {},
        }
        meta = {"experiment": self.experiment.name, "step": step, "arch": arch,
                "config": cfg_mod.to_dict(self.config), "wall_time_s": self.wall_time,
                "saved": dt.datetime.now().isoformat(timespec="seconds")}
        return save_checkpoint(self.dir / "checkpoints" / f"{name}.safetensors", state, meta)

    def load(self, name: str = "last", *, modules: dict[str, torch.nn.Module],
             optimizers: dict[str, torch.optim.Optimizer] | None = None,
             generators: dict[str, torch.Generator] | None = None, arch: dict[str, Any]
             ) -> Loaded | None:
        """Load checkpoint `name` into the given objects after checking it belongs to this
        experiment and architecture; None if there is no such checkpoint."""
        path = self.dir / "checkpoints" / f"{name}.safetensors"
        if not path.exists():
            return None
        state, meta = load_checkpoint(path, map_location=self.device)
        if meta.get("experiment") != self.experiment.name:
            raise CheckpointError(f"{path} belongs to experiment {meta.get('experiment')!r}, "
                                  f"not {self.experiment.name!r}")
        check_architecture(meta.get("arch", {}), arch, path)
        for k, m in modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in (optimizers or {}).items():
            o.load_state_dict(state["optimizers"][k])
        set_rng_state({k: v.cpu() for k, v in state["rng"].items()}, generators or {})
        return Loaded(int(meta["step"]), state["extra"], meta)

    def resume(self, *, modules: dict[str, torch.nn.Module],
               optimizers: dict[str, torch.optim.Optimizer] | None = None,
               generators: dict[str, torch.Generator] | None = None, arch: dict[str, Any]
               ) -> tuple[int, dict[str, Any]]:
        """Continue from the last checkpoint if there is one: returns (step to continue from,
        extra state); the metrics logged after that step are dropped, wall time carries on."""
        loaded = self.load("last", modules=modules, optimizers=optimizers, generators=generators, arch=arch)
        if loaded is None:
            return 0, {}
        self.elapsed_before = float(loaded.meta.get("wall_time_s", 0.0))
        self.started = time.perf_counter()
        truncate_jsonl(self.dir / "metrics.jsonl", loaded.step)
        return loaded.step, loaded.extra

    @contextlib.contextmanager
    def stoppable(self) -> Iterator[Callable[[], bool]]:
        """Turn Ctrl-C / SIGTERM into a request to stop at the end of the current step.

        Yields `requested()`; the training loop checks it after each step, checkpoints and calls
        `stop(step)`. A second Ctrl-C aborts at once (the last checkpoint is still intact).
        """
        flag = {"stop": False}

        def handler(signum, frame):
            if flag["stop"]:
                raise KeyboardInterrupt
            flag["stop"] = True
            print("\nstopping after this step to save a checkpoint (Ctrl-C again aborts)", file=sys.stderr)

        main = threading.current_thread() is threading.main_thread()
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
        try:
            yield lambda: flag["stop"]
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def stop(self, step: int) -> None:
        raise RunStopped(f"stopped at step {step}; checkpoint {self.checkpoint_path}\n"
                         f"resume with: milestones train --resume {self.dir}")

    # -- the end ------------------------------------------------------------------------------
    def finish(self, metrics: dict[str, float]) -> dict[str, Any]:
        result = {
            "experiment": self.experiment.name,
            "summary": self.experiment.summary,
            "seed": self.config.seed,
            "metrics": {k: float(v) for k, v in metrics.items()},
            "metric": self.experiment.metric,
            "goal": self.experiment.goal,
            "group": self.experiment.group_name,
            "curve": list(self.experiment.curve_keys),
            "references": [dataclasses.asdict(r) for r in self.experiment.references],
            "citation": self.experiment.citation,
            "deviations": list(self.experiment.deviations),
            "wall_time_s": round(self.wall_time, 2),
            "machine": machine_info(str(self.device)),
            "git_commit": self.git_commit,
            "config": cfg_mod.to_dict(self.config),
            "finished": dt.datetime.now().isoformat(timespec="seconds"),
        }
        _write_json(self.dir / "result.json", result)
        return result


def read_metrics(directory: str | Path) -> list[dict[str, float]]:
    return read_jsonl(Path(directory) / "metrics.jsonl")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines log (metrics, sample snapshots); a row cut short by a kill is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_jsonl(path: str | Path, step: int) -> None:
    """Drop the rows of a JSON-lines log written after the checkpoint of `step` that a run resumes
    from (they will be written again), and any row cut short by a kill."""
    path = Path(path)
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if _row_step(line) <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    os.replace(tmp, path)


def _row_step(line: str) -> float:
    """The step of a log row; infinity for a row cut short by a kill (it is dropped)."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return float("inf")


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)
