"""Games of GNU Go against itself: the offline stand-in for the KGS games AlphaGo's policy network
learned from (Silver et al. 2016 used 160 000 games of 6-9 dan players; we have no such collection
for 9×9 here, and GNU Go is the strongest player installed).

Game k is played by two GNU Go processes at `level` (seeds 2k + 1 and 2k + 2) from `random_opening`
uniformly random legal moves drawn with seed k (GNU Go alone plays nearly the same game every time;
the random start makes the games differ). Each game is written to `game-{k:06d}.sgf` with our private
root property XR[n], the number of random opening moves, which are not expert moves and are not
used as targets. A game whose file exists is skipped, so generation can be stopped at any moment
(Ctrl-C: the games in play finish, no new one begins) and started again to continue; `jobs` games
are played at once, each by its own pair of GNU Go processes.
"""
from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path

import numpy as np

from milestones.games.go import Go
from milestones.go.match import GtpProcess, gnugo_command, play_game
from milestones.go.sgf import write_game


def opening_moves(size: int, komi: float, count: int, seed: int) -> list[int]:
    """`count` uniformly random legal moves (never a pass) from the empty board, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    position, moves = Go(size, komi).initial(), []
    for _ in range(count):
        move = int(rng.choice(position.legal_moves()[:-1]))
        moves.append(move)
        position = position.play(move)
    return moves


def play_one(k: int, out: str, size: int, komi: float, level: int, random_opening: int) -> str:
    path = Path(out) / f"game-{k:06d}.sgf"
    if path.exists():
        return "exists"
    black = GtpProcess(gnugo_command(level, seed=2 * k + 1), f"gnugo-{level}", timeout=300)
    white = GtpProcess(gnugo_command(level, seed=2 * k + 2), f"gnugo-{level}-w", timeout=300)
    try:
        opening = opening_moves(size, komi, random_opening, seed=k)
        game, record, _ = play_game(black, white, size, komi, opening=opening)
    finally:
        black.close()
        white.close()
    record.white = f"gnugo-{level}"
    record.extra["XR"] = str(random_opening)
    record.extra["GN"] = f"gnugo self-play {k}: {game.reason}"
    if game.gnugo_score and game.reason == "two passes":
        record.extra["GC"] = f"GNU Go's final_score {game.gnugo_score}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(write_game(record))
    tmp.replace(path)  # whole files only: a stopped run leaves no half-written game
    return game.result


def generate(out: str | Path, games: int, first: int = 0, size: int = 9, komi: float = 7.0, level: int = 10,
             random_opening: int = 4, jobs: int = 1, progress: Callable[[int, str], None] | None = None) -> Path:
    """Games `first` … `first + games − 1` into `out` (see the module docstring)."""
    if games < 1 or jobs < 1 or random_opening < 0:
        raise ValueError(f"games and jobs must be ≥ 1 and random_opening ≥ 0, got {games}, {jobs}, {random_opening}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)  # the work is in the GNU Go processes
    waiting, running = iter(range(first, first + games)), {}

    def begin_next() -> None:  # a game begins only here, so at most `jobs` are ever in play
        k = next(waiting, None)
        if k is not None:
            running[pool.submit(play_one, k, str(folder), size, komi, level, random_opening)] = k

    try:
        for _ in range(jobs):
            begin_next()
        while running:
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                k = running.pop(future)
                result = future.result()
                if progress is not None:
                    progress(k, result)
                begin_next()
    finally:  # after Ctrl-C or an error: no game begins; those in play finish and are kept
        pool.shutdown(wait=True, cancel_futures=True)
    return folder
