"""Training the seeds of a reproduction: in this process one after another, side by side in local
processes, or as Ray tasks (`pip install 'milestones[cluster]'`) on this machine or a cluster.

Every path trains a seed the same way (`train_one`: a run directory, the experiment's train
function, a diverged seed evaluated at its checkpoint and counted as failed) and returns, per seed,
its record entry (metrics, wall time, learning curve, run directory) and its result.json. A seed
given T threads computes what it computes with T threads anywhere, so the executors agree.

Stopping: Ctrl-C (SIGINT) or SIGTERM stops every running seed at the end of its current step with
a checkpoint and starts no new one; `milestones train --resume RUN_DIR` continues each. The local
processes run in sessions of their own, so a terminal's Ctrl-C reaches only the reproduction, which
passes it on once; Ray tasks are cancelled, which raises the same stop request inside each.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from milestones import config as cfg_mod
from milestones import registry
from milestones.family import Experiment
from milestones.records import SeedEntry
from milestones.results import seed_entry
from milestones.runs import Run, RunStopped, TrainingDiverged, write_config

Seed = tuple[SeedEntry, dict[str, Any]]  # (record entry, result.json)
EXECUTORS = ("auto", "local", "ray")
STOPPED = ("reproduce was stopped: the running seeds saved a checkpoint; run the same reproduce with "
           "--reuse to go on (or resume each with `milestones train --resume RUN_DIR`)")
FORWARDED_ENV = ("MILESTONES_DATA", "MILESTONES_REQUIRE_DATA", "MILESTONES_FAMILIES", "MILESTONES_CACHE",
                 "PYTHONPATH")


def train_one(exp: Experiment, config: Any, run_dir: Path, progress: bool,
              record_divergence: bool = False, reusing: bool = False) -> tuple[dict[str, Any], Path]:
    """Train one run to its result. With `record_divergence` (reproduce), a run that diverges is
    a failed seed, not the end of the job: its best checkpoint is evaluated and marked diverged.
    With `reusing` (reproduce --reuse), a directory that already holds a stopped run of this config
    continues it from its last checkpoint."""
    resume = reusing and (Path(run_dir) / "config.json").exists()
    run = Run(run_dir, exp, config, progress=progress) if resume else Run.create(run_dir, exp, config,
                                                                                   progress=progress)
    print(f"{exp.name}: {'resuming' if resume else 'run directory'} {run.dir}", file=sys.stderr)
    try:
        metrics = exp.train(config, run)
    except TrainingDiverged as e:
        if not record_divergence:
            raise
        print(f"{exp.name} seed {config.seed}: training diverged: {e}", file=sys.stderr)
        return diverged_result(exp, config, run), run.dir
    return run.finish(metrics), run.dir


def diverged_result(exp: Experiment, config: Any, run: Run) -> dict[str, Any]:
    """A diverged seed's result: its checkpoint evaluated, marked diverged (a failed seed)."""
    print(f"{exp.name} seed {config.seed}: counted as a failed seed", file=sys.stderr)
    return run.finish({**exp.evaluate(config, run), "diverged": 1.0})


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def choose_executor(executor: str, jobs: int, address: str | None) -> str:
    """`auto`: Ray where it is installed and seeds run side by side (or a cluster is named), else
    local processes; `ray` without Ray installed is an error that says how to install it."""
    if executor not in EXECUTORS:
        raise ValueError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if executor == "ray" or address:
        if not ray_available():
            raise ValueError("--executor ray / --address need Ray: pip install 'milestones[cluster]'")
        return "ray"
    if executor == "auto" and ray_available() and jobs > 1:
        return "ray"
    return "local"


def run_seeds(exp: Experiment, configs: list[Any], run_dirs: list[Path], *, jobs: int, progress: bool,
              executor: str = "local", threads: int | None = None, address: str | None = None) -> list[Seed]:
    """Every seed's (entry, result), in seed order. One job: in this process. Several: `jobs` seeds
    at a time, each with `threads` threads (default: this machine's cores shared between them), in
    local processes or as Ray tasks. A run directory that holds a finished run (result.json) gives
    its result without training; one that holds a stopped run continues it."""
    finished = {c.seed: _entry(json.loads((d / "result.json").read_text()), d)
                for c, d in zip(configs, run_dirs) if (d / "result.json").exists()}
    for seed in finished:
        print(f"{exp.name} seed {seed}: finished before, its result reused", file=sys.stderr)
    todo = [(c, d) for c, d in zip(configs, run_dirs) if c.seed not in finished]
    if todo:
        trained = _run_seeds([c for c, _ in todo], [d for _, d in todo], exp, jobs=jobs, progress=progress,
                             executor=executor, threads=threads, address=address)
        finished |= {c.seed: seed for (c, _), seed in zip(todo, trained)}
    return [finished[c.seed] for c in configs]


def _run_seeds(configs: list[Any], run_dirs: list[Path], exp: Experiment, *, jobs: int, progress: bool,
               executor: str, threads: int | None, address: str | None) -> list[Seed]:
    if executor == "ray":
        return _ray_seeds(exp, configs, run_dirs, jobs, threads or max(1, (os.cpu_count() or 1) // jobs), address)
    if jobs == 1 or len(configs) == 1:
        if threads:  # in this process: --threads must hold here too (the result records the count)
            torch.set_num_threads(threads)
        return [_entry(*train_one(exp, c, d, progress, record_divergence=True, reusing=True))
                for c, d in zip(configs, run_dirs)]
    return _process_seeds(exp, configs, run_dirs, jobs, threads or max(1, (os.cpu_count() or 1) // jobs))


def _entry(result: dict[str, Any], run_dir: Path) -> Seed:
    return seed_entry(result, run_dir), result


# ---- local processes ----------------------------------------------------------------------------

def _process_seeds(exp: Experiment, configs: list[Any], run_dirs: list[Path], jobs: int, threads: int) -> list[Seed]:
    """Each seed in a `milestones train --resume RUN_DIR` process (its config written first), in a
    session of its own. A killed reproduction leaves its running seeds to finish on their own."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f"{exp.name}: {len(configs)} seeds, {jobs} at a time with {threads} thread(s) each", file=sys.stderr)
    todo = list(zip(configs, run_dirs))
    running: dict[subprocess.Popen[bytes], tuple[Any, Path]] = {}
    finished: dict[int, Seed] = {}
    with _stop_on_signals():
        try:
            while todo or running:
                while todo and len(running) < jobs:
                    config, directory = todo.pop(0)
                    if not (directory / "config.json").exists():  # else a stopped run, resumed
                        directory.mkdir(parents=True, exist_ok=False)
                        write_config(directory, exp.name, config)
                    print(f"{exp.name} seed {config.seed}: {directory}", file=sys.stderr)
                    cmd = [sys.executable, "-m", "milestones", "--no-progress", "train", "--resume", str(directory)]
                    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
                    running[proc] = (config, directory)
                time.sleep(0.5)
                for proc in [p for p in running if p.poll() is not None]:
                    config, directory = running.pop(proc)
                    finished[config.seed] = _process_result(exp, config, directory, proc.returncode)
        except BaseException:
            for proc in running:
                proc.send_signal(signal.SIGTERM)  # each saves a checkpoint and exits
            for proc in running:
                proc.wait()
            raise
    return [finished[c.seed] for c in configs]


def _process_result(exp: Experiment, config: Any, directory: Path, returncode: int) -> Seed:
    """The result of a seed's `milestones train` process; a diverged one is evaluated at its
    checkpoint and marked diverged, any other failure ends the reproduction."""
    path = directory / "result.json"
    if returncode == 0 and path.exists():
        print(f"{exp.name} seed {config.seed}: done", file=sys.stderr)
        return _entry(json.loads(path.read_text()), directory)
    if returncode == 1:  # TrainingDiverged; `milestones train` has printed why
        run = Run(directory, exp, config, progress=False)
        run.elapsed_before = max((r["time_s"] for r in run.metrics()), default=0.0)  # the seed's time
        return _entry(diverged_result(exp, config, run), directory)
    raise RunStopped(f"{exp.name} seed {config.seed} ended with exit status {returncode}; see the messages "
                     f"above; resume it with `milestones train --resume {directory}`")


class _stop_on_signals:
    """Within: Ctrl-C (SIGINT) or SIGTERM interrupts once, whatever the process inherited (a shell
    starts background commands with SIGINT ignored), as a KeyboardInterrupt (the one exception Ray's
    waits let through), which leaves the block as RunStopped; later signals, while the seeds save
    their checkpoints, change nothing."""

    def __enter__(self) -> None:
        stopping: list[int] = []

        def stop(signum: int, frame: Any) -> None:
            if not stopping:
                stopping.append(signum)
                raise KeyboardInterrupt
        self.previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        if kind is KeyboardInterrupt:
            raise RunStopped(STOPPED) from None


# ---- Ray ----------------------------------------------------------------------------------------

def train_seed_task(name: str, config: dict[str, Any], run_dir: str, threads: int) -> Seed:
    """A seed as a Ray task, in a worker process of its own (max_calls=1): the same training as
    `milestones train`, with `threads` threads; Ray's cancel arrives as the stop request (SIGINT)."""
    torch.set_num_threads(threads)
    exp = registry.catalog()[name]
    cfg = cfg_mod.from_dict(type(exp.config), config)
    return _entry(*train_one(exp, cfg, Path(run_dir), progress=False, record_divergence=True, reusing=True))


def _ray_seeds(exp: Experiment, configs: list[Any], run_dirs: list[Path], jobs: int, threads: int,
               address: str | None) -> list[Seed]:
    import ray

    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    for key in ("MILESTONES_DATA", "MILESTONES_CACHE"):  # workers may start elsewhere
        if key in env:
            env[key] = str(Path(env[key]).expanduser().resolve())
    env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    started = not ray.is_initialized()
    if started:  # "local": a private instance, never a `ray start` cluster that happens to run here
        ray.init(address=address or "local", num_cpus=None if address else os.cpu_count() or 1,
                 include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 runtime_env={"env_vars": env})
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    print(f"{exp.name}: {len(configs)} seeds, {jobs} at a time with {threads} thread(s) each, on {where}",
          file=sys.stderr)
    task = ray.remote(num_cpus=threads, max_calls=1, max_retries=0)(train_seed_task)
    todo = list(zip(configs, run_dirs))
    running: dict[Any, tuple[Any, Path]] = {}
    finished: dict[int, Seed] = {}
    try:
        with _stop_on_signals():
            try:
                while todo or running:
                    while todo and len(running) < jobs:
                        config, directory = todo.pop(0)
                        print(f"{exp.name} seed {config.seed}: {directory}", file=sys.stderr)
                        ref = task.remote(exp.name, cfg_mod.to_dict(config), str(directory.resolve()), threads)
                        running[ref] = (config, directory)
                    done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
                    for ref in done:
                        config, directory = running.pop(ref)
                        finished[config.seed] = _ray_result(ray, ref, exp, config, directory)
            except BaseException:
                _cancel(ray, list(running), lambda ref: running[ref][0].seed)
                raise
    finally:
        if started:
            ray.shutdown()
    return [finished[c.seed] for c in configs]


def _ray_result(ray: Any, ref: Any, exp: Experiment, config: Any, directory: Path) -> Seed:
    try:
        seed: Seed = ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        raise RunStopped(f"{exp.name} seed {config.seed} failed on Ray: {e.cause if e.cause else e}; resume it "
                         f"with `milestones train --resume {directory}`") from None
    print(f"{exp.name} seed {config.seed}: done", file=sys.stderr)
    seed[0]["run_dir"] = str(directory)  # as the driver names it (the worker was given it absolute)
    return seed


def _cancel(ray: Any, refs: list[Any], seed_of: Callable[[Any], int], timeout: float = 600.0) -> None:
    """Ask every running seed to stop (each saves a checkpoint) and wait until they have."""
    for ref in refs:
        ray.cancel(ref)
    deadline = time.time() + timeout
    pending = list(refs)
    while pending and time.time() < deadline:
        done, pending = ray.wait(pending, num_returns=len(pending), timeout=1.0)
        for ref in done:
            try:
                ray.get(ref)
            except (ray.exceptions.RayTaskError, ray.exceptions.TaskCancelledError):
                pass
            print(f"seed {seed_of(ref)}: stopped", file=sys.stderr)
