"""Self-play spread over workers: in this process (one worker), in local processes, or as Ray tasks
(`pip install 'milestones[cluster]'`; on this machine or a cluster).

An iteration's games are split into one share per worker; each share is played by
`milestones.search.selfplay.play_games` with a generator seeded from the trainer's generator (one
draw per worker, in order), on a copy of the network on the CPU. The records come back in share
order, so the games depend on the number of workers but not on where they ran: local processes and
Ray tasks play the same games, and a resumed run plays the games a run straight through played.
With one worker the trainer's generator plays the games itself, in this process.
"""
from __future__ import annotations

import copy
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import torch

from milestones.games.game import Game
from milestones.nn.policy_value import INFERENCE, NetworkEvaluator, PolicyValueNet
from milestones.search.gumbel import GumbelConfig
from milestones.search.mcts import SearchConfig
from milestones.search.selfplay import GameRecord, PlayoutCap, RandomOpening, play_games

EXECUTORS = ("local", "ray")


def play_share(game: Game, net: PolicyValueNet, config: SearchConfig | GumbelConfig, games: int, seed: int,
               temperature_moves: int, playout_cap: PlayoutCap | None, inference: str = "eager",
               opening: RandomOpening | None = None) -> list[GameRecord]:
    """One worker's share of an iteration's games (what a worker process or Ray task runs), on one
    thread."""
    torch.set_num_threads(1)
    return play_games(game, NetworkEvaluator(net, inference=inference), config, games, np.random.default_rng(seed),
                      temperature_moves, playout_cap, opening)


def shares(games: int, workers: int) -> list[int]:
    """`games` split as evenly as possible, the larger shares first."""
    return [games // workers + (k < games % workers) for k in range(workers)]


class SelfPlayWorkers:
    """`play(...)` an iteration's games on `workers` workers (`executor`: "local" processes or "ray"
    tasks); the local processes live until `close`. `inference` is how each evaluates the network
    (`NetworkEvaluator`'s)."""

    def __init__(self, workers: int = 1, executor: str = "local", inference: str = "eager") -> None:
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        if executor not in EXECUTORS:
            raise ValueError(f"the self-play executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if inference not in INFERENCE:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, got {inference!r}")
        self.workers, self.executor, self.inference = workers, executor, inference
        self._pool: ProcessPoolExecutor | None = None
        self._ray: Any = None
        self._ray_started = False

    def play(self, game: Game, net: PolicyValueNet, config: SearchConfig | GumbelConfig, games: int,
             rng: np.random.Generator, temperature_moves: int, playout_cap: PlayoutCap | None,
             opening: RandomOpening | None = None) -> list[GameRecord]:
        if self.workers == 1:
            return play_games(game, NetworkEvaluator(net, inference=self.inference), config, games, rng,
                              temperature_moves, playout_cap, opening)
        seeds = [int(s) for s in rng.integers(0, 2**63, self.workers)]
        cpu_net = copy.deepcopy(net).cpu().eval()
        jobs = [(game, cpu_net, config, n, seed, temperature_moves, playout_cap, self.inference, opening)
                for n, seed in zip(shares(games, self.workers), seeds) if n > 0]
        if self.executor == "ray":
            ray = self._start_ray()
            task = ray.remote(num_cpus=1)(play_share)
            results = ray.get([task.remote(*job) for job in jobs])
        else:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            results = list(self._pool.map(play_share, *zip(*jobs)))
        return [record for share in results for record in share]

    def _start_ray(self) -> Any:
        if self._ray is None:
            try:
                import ray
            except ImportError as e:
                raise RuntimeError("self-play on Ray needs Ray: pip install 'milestones[cluster]'") from e
            if not ray.is_initialized():
                ray.init(address=os.environ.get("RAY_ADDRESS", "local"), include_dashboard=False,
                         log_to_driver=False, logging_level=logging.ERROR)
                self._ray_started = True
            self._ray = ray
        return self._ray

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._ray_started:
            self._ray.shutdown()
            self._ray, self._ray_started = None, False
