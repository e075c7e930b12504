"""A run: one training of one experiment with one config and seed, in its own directory.

    RUN_DIR/
      config.json          experiment name and the resolved config
      metrics.jsonl        one JSON object per logged step: {"step": …, "<metric>": …, "time_s": …}
      checkpoints/last.safetensors   the run's State at a step (atomic, see checkpoint.py and state.py)
      checkpoints/files/   arrays of large state (a replay buffer), named by the checkpoints
      plots/*.png          figures the experiment draws
      result.json          final metrics, seed, wall time, machine, git commit, config

A train function builds its `State`, asks `run.resume(state)` for the step to start from and drives
`run.loop(...)` (see `Loop`), which owns the progress bar, stop requests, periodic checkpoints,
divergence and the wall-time cap; it records metrics with `run.log(...)`. Ctrl-C or SIGTERM stop the
run at the end of the current step with a checkpoint; a run killed outright resumes from its last
checkpoint, and the metrics logged after it are discarded so that the log matches an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from milestones import config as cfg_mod
from milestones.checkpoint import CheckpointError, check_architecture, load_checkpoint, save_checkpoint
from milestones.family import slug
from milestones.machine import git_commit, machine_info, resolve_device
from milestones.seeding import rng_state, set_rng_state
from milestones.state import FileStore, State

if TYPE_CHECKING:
    from milestones.family import Experiment

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


def new_run_dir(experiment: str, seed: int, root: str | Path | None = None, reserve: bool = False) -> Path:
    """RUNS_DIR/EXPERIMENT/DATE-TIME-sSEED[-K], a name no directory has yet. With `reserve` the
    directory is made here, atomically: two trainings started in the same second (two shells, two
    chains of runs) each get their own. (Without, the caller makes it when the run starts and a
    clash is an error there.)"""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = runs_dir(root) / slug(experiment) / f"{stamp}-s{seed}"
    path, k = base, 1
    while True:
        if not reserve and not path.exists():
            return path
        if reserve:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                path.mkdir()  # of two processes asking for the same name, one gets FileExistsError
                return path
            except FileExistsError:
                pass
        path, k = base.with_name(f"{base.name}-{k}"), k + 1


def matching_run(experiment: str, config: Any, root: str | Path | None = None) -> Path | None:
    """The newest run directory of `experiment` under RUNS_DIR trained with exactly `config` (its
    seed included): a finished one (with result.json) if there is one, else a stopped one."""
    want = json.loads(json.dumps(cfg_mod.to_dict(config)))  # as config.json holds it
    found = []
    for path in sorted((runs_dir(root) / slug(experiment)).glob("*/config.json")):
        try:
            name, saved = Run.read_config(path.parent)
            if name == experiment and cfg_mod.as_saved(type(config), saved) == want:
                found.append(path.parent)
        except cfg_mod.ConfigError:
            continue
    finished = [d for d in found if (d / "result.json").exists()]
    return (finished or found)[-1] if found else None


def write_config(directory: str | Path, experiment: str, config: Any) -> None:
    """The run directory's config.json: which experiment, with which resolved config."""
    _write_json(Path(directory) / "config.json", {"experiment": experiment, "config": cfg_mod.to_dict(config)})


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
        self.files = FileStore(self.dir / "checkpoints" / "files")

    # -- creating and reopening ---------------------------------------------------------------
    @classmethod
    def create(cls, directory: str | Path, experiment: Experiment, config: Any, **kw: Any) -> Run:
        directory = Path(directory)
        if (directory / "config.json").exists():
            raise FileExistsError(f"{directory} already holds a run; pass --resume {directory} "
                                  f"to continue it, or choose another --run-dir")
        run = cls(directory, experiment, config, **kw)
        write_config(run.dir, experiment.name, config)
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

    def progress(self, total: int, initial: int = 0, desc: str | None = None) -> tqdm:
        return tqdm(total=total, initial=initial, desc=desc or self.experiment.name, unit="step",
                    disable=not self.show_progress, dynamic_ncols=True, file=sys.stderr)

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoints" / "last.safetensors"

    def save(self, step: int, state: State, *, extra: dict[str, Any] | None = None, name: str = "last") -> Path:
        """Checkpoint everything needed to continue exactly from `step`: the large parts' files
        first, then the checkpoint that names them, then the files no checkpoint names any more."""
        self.files.begin()
        manifests = {k: obj.save_files(self.files) for k, obj in state.files.items()}
        self.files.sync()
        payload = {
            "modules": {k: m.state_dict() for k, m in state.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in state.optimizers.items()},
            "rng": rng_state(state.generators),
            "objects": {k: o.state_dict() for k, o in state.objects.items()},
            "extra": extra or {},
        }
        meta: dict[str, Any] = {
            "experiment": self.experiment.name, "step": step, "arch": state.arch,
            "config": cfg_mod.to_dict(self.config), "wall_time_s": self.wall_time,
            "saved": dt.datetime.now().isoformat(timespec="seconds")}
        if state.files:
            meta["files"] = {"manifests": manifests, "names": sorted(self.files.used)}
        path = save_checkpoint(self.dir / "checkpoints" / f"{name}.safetensors", payload, meta)
        if state.files:
            self.files.collect(self._checkpoints())
        return path

    def load(self, state: State, name: str = "last") -> Loaded | None:
        """Load checkpoint `name` into the parts `state` names, after checking it belongs to this
        experiment and architecture; None if there is no such checkpoint."""
        path = self.dir / "checkpoints" / f"{name}.safetensors"
        if not path.exists():
            return None
        saved, meta = load_checkpoint(path, map_location=self.device)
        if meta.get("experiment") != self.experiment.name:
            raise CheckpointError(f"{path} belongs to experiment {meta.get('experiment')!r}, "
                                  f"not {self.experiment.name!r}")
        check_architecture(meta.get("arch", {}), state.arch, path)
        parts: tuple[tuple[str, Mapping[str, Any]], ...] = (
            ("modules", state.modules), ("optimizers", state.optimizers), ("objects", state.objects))
        for part, objects in parts:
            for k, obj in objects.items():
                if k not in saved.get(part, {}):
                    raise CheckpointError(f"{path} holds no {part[:-1]} {k!r}")
                obj.load_state_dict(saved[part][k])
        set_rng_state(saved["rng"], state.generators)
        if state.files:
            self.files.collect(self._checkpoints())  # files of a save that a kill cut short
            manifests = meta.get("files", {}).get("manifests", {})
            for k, large in state.files.items():
                if k not in manifests:
                    raise CheckpointError(f"{path} holds no files for {k!r}")
                large.load_files(self.files, manifests[k])
        return Loaded(int(meta["step"]), saved["extra"], meta)

    def peek(self) -> Loaded | None:
        """The last checkpoint's step, extra state and header, without loading it into anything
        (for a run of several trainings that must first know which one it stopped in). Like
        `resume`, it drops the metrics logged after that step and carries the wall time on."""
        if not self.checkpoint_path.exists():
            return None
        saved, meta = load_checkpoint(self.checkpoint_path)
        loaded = Loaded(int(meta["step"]), saved["extra"], meta)
        self._continue_from(loaded)
        return loaded

    def resume(self, state: State) -> tuple[int, dict[str, Any]]:
        """Continue from the last checkpoint if there is one: returns (step to continue from,
        extra state); the metrics logged after that step are dropped, wall time carries on."""
        loaded = self.load(state, "last")
        if loaded is None:
            return 0, {}
        self._continue_from(loaded)
        return loaded.step, loaded.extra

    def _continue_from(self, loaded: Loaded) -> None:
        self.elapsed_before = float(loaded.meta.get("wall_time_s", 0.0))
        self.started = time.perf_counter()
        truncate_jsonl(self.dir / "metrics.jsonl", loaded.step)

    def _checkpoints(self) -> list[Path]:
        return sorted((self.dir / "checkpoints").glob("*.safetensors"))

    # -- the training loop --------------------------------------------------------------------
    def loop(self, state: State, total: int, *, start: int = 0, checkpoint_every: int,
             minutes: float = 0.0, extra: Callable[[], dict[str, Any]] | None = None, final: bool = True,
             offset: int = 0, checkpoint_step: Callable[[int], int] | None = None, unit: str = "step",
             desc: str | None = None) -> Loop:
        """The steps start+1 … total of a training (see `Loop`)."""
        return Loop(self, state, total, start=start, checkpoint_every=checkpoint_every, minutes=minutes,
                    extra=extra, final=final, offset=offset, checkpoint_step=checkpoint_step, unit=unit,
                    desc=desc)

    @contextlib.contextmanager
    def stoppable(self) -> Iterator[Callable[[], bool]]:
        """Turn Ctrl-C / SIGTERM into a request to stop at the end of the current step.

        Yields `requested()`; the training loop checks it after each step, checkpoints and calls
        `stop(step)`. A second signal of the same kind (Ctrl-C twice) aborts at once (the last
        checkpoint is still intact); a SIGTERM after a Ctrl-C (a parent passing the stop on) does not.
        """
        received: set[int] = set()

        def handler(signum: int, frame: Any) -> None:
            if signum in received:
                raise KeyboardInterrupt
            first = not received
            received.add(signum)
            if first:
                print("\nstopping after this step to save a checkpoint (Ctrl-C again aborts)", file=sys.stderr)

        main = threading.current_thread() is threading.main_thread()
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
        try:
            yield lambda: bool(received)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def stop(self, step: int) -> None:
        raise RunStopped(f"stopped at step {step}; checkpoint {self.checkpoint_path}\n"
                         f"resume with: milestones train --resume {self.dir}")

    def diverged(self, what: str, hint: str = "") -> TrainingDiverged:
        """The error that ends a run whose numbers stopped being finite: `what` happened, where the
        last good checkpoint is, and (`hint`) what to try instead."""
        return TrainingDiverged(f"{what}; the last good checkpoint is {self.checkpoint_path}"
                                + (f" ({hint})" if hint else ""))

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


class Loop:
    """The steps of one training, and what happens between them.

        for step in run.loop(state, total, start=start, checkpoint_every=k):
            ...one update; loop.postfix(loss=…); evaluate when `loop.last` …

    After the body of each step the loop checkpoints (`run.save`) every `checkpoint_every` steps,
    at the last step and when a stop was requested, then stops the run (RunStopped) if one was,
    unless this was the last step of the run's last training (`final`). The last step is `total`,
    the first step past the wall-time cap (`minutes`, 0: none), or the one in which the body
    called `end()` (end a training early with `end()`, not `break`, which would skip the last
    checkpoint). `extra()` is saved with each checkpoint; `offset` is added to the loop's own
    position to give the run's step (a run of several trainings), or `checkpoint_step(position)`
    gives it. `check_finite` and `diverged` end a run whose numbers stopped being finite.
    """

    def __init__(self, run: Run, state: State, total: int, *, start: int, checkpoint_every: int,
                 minutes: float, extra: Callable[[], dict[str, Any]] | None, final: bool, offset: int,
                 checkpoint_step: Callable[[int], int] | None, unit: str, desc: str | None) -> None:
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be ≥ 1, got {checkpoint_every}")
        self.run, self.state, self.total, self.start = run, state, total, start
        self.checkpoint_every, self.minutes, self.final, self.unit = checkpoint_every, minutes, final, unit
        self.extra = extra or dict
        self.step_of = checkpoint_step or (lambda position: offset + position)
        self.desc = desc
        self.position = start
        self._last: bool | None = None
        self._ended = False
        self._bar: tqdm | None = None

    def __iter__(self) -> Iterator[int]:
        run = self.run
        with run.progress(self.total, initial=self.start, desc=self.desc) as bar, \
                run.stoppable() as stop_requested:
            self._bar = bar
            for position in range(self.start + 1, self.total + 1):
                self.position, self._last = position, None
                yield position
                last = self.last
                step = self.step_of(position)
                if position % self.checkpoint_every == 0 or last or stop_requested():
                    run.save(step, self.state, extra=self.extra())
                if stop_requested() and not (last and self.final):
                    run.stop(step)
                bar.update(1)
                if last:
                    break

    @property
    def last(self) -> bool:
        """Whether the current step is the training's last; decided once per step (the first time
        it is asked, at the latest after the body), so that a body that evaluates at the last step
        and the checkpoint that follows agree."""
        if self._last is None:
            self._last = (self.position >= self.total or self._ended
                          or (self.minutes > 0 and self.run.wall_time >= self.minutes * 60))
        return self._last

    def end(self) -> None:
        """Make the current step the last (e.g. the task is solved): checkpoint, then stop iterating."""
        self._ended = True
        self._last = True

    def postfix(self, **values: Any) -> None:
        if self._bar is not None:
            self._bar.set_postfix(values)

    def check_finite(self, values: Mapping[str, float | torch.Tensor | torch.nn.Module], hint: str = "") -> None:
        """Raise `TrainingDiverged` naming the values that are not finite: numbers, tensors (every
        element) or modules (every parameter); `hint` says what to try instead."""
        bad = [k for k, v in values.items() if not _finite(v)]
        if bad:
            raise self.diverged(f"{', '.join(bad)} not finite at {self.unit} {self.step_of(self.position)}", hint)

    def diverged(self, what: str, hint: str = "") -> TrainingDiverged:
        return self.run.diverged(what, hint)


def _finite(value: float | torch.Tensor | torch.nn.Module) -> bool:
    if isinstance(value, torch.nn.Module):
        return all(bool(torch.isfinite(p).all()) for p in value.parameters())
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all())
    return math.isfinite(value)


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
        return float(json.loads(line)["step"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return float("inf")


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)
