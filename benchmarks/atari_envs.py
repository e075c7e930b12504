"""Atari training environments, side by side in one run: agent steps per second of N Pong games
stepped with random actions by

  - ours: `milestones.rl.atari.NatureAtari` (the readable Nature preprocessing in Python), one game
    after another, as `--atari-envs reference` steps them;
  - ale-py's `AtariVectorEnv` (`milestones.rl.atari.make_atari_vector`, C++ emulation and
    preprocessing) on 1 thread and on `--threads` threads, as `--atari-envs vector` steps them.

    python benchmarks/atari_envs.py [--envs 32] [--steps 200] [--threads 0] [--repeats 3] [--json FILE]

Each contender is timed `--repeats` times, interleaved, and the median reported; ended games are
reset as training resets them (a lost life too, for ours). Emulation dominates both: one agent step
is 4 emulated frames.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from milestones.records import save_benchmark
from milestones.rl.atari import make_atari, make_atari_vector


def ours_steps_per_s(envs: int, steps: int, seed: int) -> float:
    games = [make_atari("Pong", terminal_on_life_loss=True) for _ in range(envs)]
    for k, game in enumerate(games):
        game.reset(seed=seed + k)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(steps):
        for game in games:
            _, _, terminated, truncated, _ = game.step(int(rng.integers(6)))
            if terminated or truncated:
                game.reset()
    return envs * steps / (time.perf_counter() - start)


def vector_steps_per_s(envs: int, steps: int, threads: int, seed: int) -> float:
    vector = make_atari_vector("Pong", envs, threads=threads)
    vector.reset(seed=seed)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(steps):
        vector.step(rng.integers(0, 6, envs))
    rate = envs * steps / (time.perf_counter() - start)
    vector.close()
    return rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=32)
    p.add_argument("--steps", type=int, default=200, help="agent steps of each game per timing")
    p.add_argument("--threads", type=int, default=0, help="the vector env's threads in its second row (0: one per "
                                                          "core)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    threads = args.threads or os.cpu_count() or 1
    timed: dict[str, list[float]] = {"ours": [], "vector_1_thread": [], f"vector_{threads}_threads": []}
    for r in range(args.repeats):  # each timing printed as it ends: a run stopped by a time limit still says something
        for name, thread_count in (("ours", 0), ("vector_1_thread", 1), (f"vector_{threads}_threads", threads)):
            began = time.perf_counter()
            timed[name].append(vector_steps_per_s(args.envs, args.steps, thread_count, r) if thread_count
                               else ours_steps_per_s(args.envs, args.steps, r))
            print(f"repeat {r} {name}: {timed[name][-1]:.0f} steps/s ({time.perf_counter() - began:.1f} s with "
                  f"the games' construction)", flush=True)
    results = {name: {"steps_per_s": statistics.median(rates), "timed_runs": rates} for name, rates in timed.items()}
    for name, row in results.items():
        row["x_ours"] = row["steps_per_s"] / results["ours"]["steps_per_s"]
        print(f"{name}: {row['steps_per_s']:.0f} steps/s ({row['x_ours']:.2f}x ours)", flush=True)
    if args.json:
        save_benchmark(args.json, "atari_envs", device="cpu",
                       settings={"game": "Pong", "envs": args.envs, "steps": args.steps, "threads": threads,
                                 "repeats": args.repeats}, results=results)


if __name__ == "__main__":
    main()
