"""Matches between two GTP engines (ours, GNU Go at any level, any program that speaks GTP): N games
with alternating colours, each written as SGF, the win rate with its 95 % interval.

The runner is the referee: it keeps the game with our rules (`milestones.games.go`), asks the side to
move for `genmove`, checks the answer (an illegal move or an unreadable answer loses the game, and
says so in the record), tells the other side with `play`, and ends the game at two passes, a
resignation or `max_moves` (3·N² by default; scored as it stands). A finished game is scored by
area (Tromp-Taylor, the komi to White); where an engine is GNU Go its own `final_score` is asked too
and kept beside ours, so that every game shows whether the two agree (`scores_agree`). They can
differ where a game ends with dead stones on the board: we count every stone left (Tromp-Taylor, as
CGOS), GNU Go's final_score removes those it judges dead; so where they differ GNU Go's dead stones
are asked for and our score recomputed without them (`scores_agree_gnugo_dead_removed`). Every
genmove is timed on the runner's side (pipe included); the largest is reported per engine.

The win rate's interval is Wilson's score interval at 95 % (z = Φ⁻¹(0.975) = 1.95996…), a draw
counted as half a win:
  p̂ = wins / n,  centre = (p̂ + z²/2n) / (1 + z²/n),  half-width = z √(p̂(1 − p̂)/n + z²/4n²) / (1 + z²/n)
"""
from __future__ import annotations

import json
import math
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist

from milestones.games.game import GameError
from milestones.games.go import Go
from milestones.go.gtp import GtpEngine
from milestones.go.sgf import GameRecord, write_game
from milestones.go.svg import position_svg


class GtpFailure(RuntimeError):
    """An engine answered `?`, answered nothing in time, or died."""


class GtpProcess:
    """A GTP engine in a subprocess; `ask` sends one command and returns the answer's text."""

    def __init__(self, command: Sequence[str], name: str = "", timeout: float = 60.0) -> None:
        self.command = list(command)
        self.name = name or Path(self.command[0]).name
        self.timeout = timeout
        try:
            self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        except OSError as error:
            raise GtpFailure(f"cannot start {self.command[0]!r}: {error}") from None
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, command: str, timeout: float | None = None) -> str:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise GtpFailure(f"{self.name} has exited (asked {command!r})") from None
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        answer: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise GtpFailure(f"{self.name} did not answer {command!r} in time") from None
            if line is None:
                raise GtpFailure(f"{self.name} exited while answering {command!r}")
            if line.strip() == "" and answer:
                break
            if line.strip() or answer:
                answer.append(line.rstrip("\n"))
        text = "\n".join(answer)
        if text.startswith("?"):
            raise GtpFailure(f"{self.name} refused {command!r}: {text[1:].strip()}")
        if not text.startswith("="):
            raise GtpFailure(f"{self.name} answered {command!r} with {text!r}, not '=' or '?'")
        return text[1:].lstrip("0123456789").strip()

    def close(self) -> None:
        try:
            self.ask("quit", timeout=5)
        except GtpFailure:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class InProcess:
    """One of our engines driven in this process through the same protocol text (tests, quick matches)."""

    def __init__(self, engine: GtpEngine, name: str = "milestones") -> None:
        self.engine, self.name = engine, name

    def ask(self, command: str, timeout: float | None = None) -> str:
        answer = self.engine.handle(command) or "= \n\n"
        if answer.startswith("?"):
            raise GtpFailure(f"{self.name} refused {command!r}: {answer[1:].strip()}")
        return answer[1:].lstrip("0123456789").strip()

    def close(self) -> None:
        self.engine.handle("quit")


def gnugo_binary() -> str:
    """GNU Go's path: $MILESTONES_GNUGO, else `gnugo` on PATH, else Debian's /usr/games/gnugo."""
    found = os.environ.get("MILESTONES_GNUGO") or shutil.which("gnugo") or (
        "/usr/games/gnugo" if os.path.exists("/usr/games/gnugo") else None)
    if not found:
        raise GtpFailure("GNU Go is not installed: `apt-get install gnugo` (Debian/Ubuntu; the binary goes to "
                         "/usr/games), or set MILESTONES_GNUGO to its path")
    return found


def gnugo_command(level: int = 10, seed: int | None = None) -> list[str]:
    """GNU Go as the computer-Go servers run it: Chinese rules, all dead stones captured, positional superko."""
    if not 0 <= level <= 10:
        raise ValueError(f"GNU Go's level is 0-10, got {level!r}")
    command = [gnugo_binary(), "--mode", "gtp", "--chinese-rules", "--capture-all-dead", "--positional-superko",
               "--level", str(level)]
    if seed is not None:
        command += ["--seed", str(seed)]
    return command


@dataclass
class GameResult:
    black: str
    white: str
    winner: str  # the engine's name, or "" for a draw
    result: str  # SGF result: "B+3.0", "W+R", "B+F" (forfeit: an illegal move or no answer), "0"
    moves: int
    reason: str  # "two passes", "resignation", "move cap", or what the loser did wrong
    our_score: str = ""  # our area score of the final position
    gnugo_score: str = ""  # GNU Go's final_score, where GNU Go played
    sgf: str = ""  # the file's name
    gnugo_dead: str = ""  # where the two scores differ: the stones GNU Go calls dead (final_status_list dead)
    our_score_gnugo_dead: str = ""  # … and our area score with those stones taken off the board


@dataclass
class MatchResult:
    first: str
    second: str
    games: list[GameResult] = field(default_factory=list)
    max_genmove_s: dict[str, float] = field(default_factory=dict)

    def score(self, name: str) -> float:
        return sum(1.0 if g.winner == name else 0.5 if g.winner == "" else 0.0 for g in self.games)

    def summary(self) -> dict:
        n = len(self.games)
        wins = self.score(self.first)
        low, high = wilson(wins, n)
        compared = [g for g in self.games if g.gnugo_score and g.reason == "two passes"]
        return {
            "first": self.first, "second": self.second, "games": n,
            f"{self.first}_score": wins, "win_rate": wins / n if n else float("nan"),
            "win_rate_95": [low, high],
            "first_as_black": sum(g.winner == self.first for g in self.games if g.black == self.first),
            "first_as_white": sum(g.winner == self.first for g in self.games if g.white == self.first),
            "scores_compared": len(compared),
            "scores_agree": sum(g.our_score == normalise_score(g.gnugo_score) for g in compared),
            "scores_agree_gnugo_dead_removed": sum(
                normalise_score(g.gnugo_score) in (g.our_score, g.our_score_gnugo_dead) for g in compared),
            "max_genmove_s": self.max_genmove_s,
        }


def wilson(wins: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a win rate (see the module docstring)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    if n == 0:
        return (0.0, 1.0)
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def normalise_score(text: str) -> str:
    """GNU Go writes "W+7.0", we write "W+7": compare as numbers."""
    text = text.strip()
    if text in ("0", "Jigo", ""):
        return "0" if text else ""
    if len(text) > 2 and text[1] == "+":
        try:
            return f"{text[:2]}{float(text[2:]):g}"
        except ValueError:
            return text
    return text


def play_game(black, white, size: int = 9, komi: float = 7.0, max_moves: int | None = None,
              main_time: float = 0.0, opening: Sequence[int] = ()) -> tuple[GameResult, GameRecord, dict[str, float]]:
    """One game between two engines (objects with `name` and `ask`); the referee's record of it.
    `opening`: moves played first on both boards (with `play`), as a game's given start."""
    go = Go(size, komi, max_moves=max_moves)
    for engine in (black, white):
        engine.ask(f"boardsize {size}")
        engine.ask("clear_board")
        engine.ask(f"komi {komi:g}")
        if main_time:
            engine.ask(f"time_settings {main_time:g} 0 0")
    position = go.initial()
    record = GameRecord(size=size, komi=komi, black=black.name, white=white.name, rules="Chinese")
    for move in opening:
        vertex = go.geometry.gtp(move)
        for engine in (black, white):
            engine.ask(f"play {'BW'[position.to_play]} {vertex}")
        record.moves.append(move)
        position = position.play(move)
    slowest = {black.name: 0.0, white.name: 0.0}
    sides = (black, white)
    reason = ""
    forfeit: int | None = None
    resigned: int | None = None
    while not position.is_terminal():
        mover, other = sides[position.to_play], sides[1 - position.to_play]
        colour = "BW"[position.to_play]
        start = time.perf_counter()
        try:
            answer = mover.ask(f"genmove {colour}")
        except GtpFailure as error:
            forfeit, reason = position.to_play, str(error)
            break
        slowest[mover.name] = max(slowest[mover.name], time.perf_counter() - start)
        if answer.lower() == "resign":
            resigned, reason = position.to_play, "resignation"
            break
        try:
            move = go.geometry.parse_gtp(answer)
            why = position.why_illegal(move)
        except GameError as error:
            why = str(error)
        if why is not None:
            forfeit, reason = position.to_play, f"{mover.name} played {answer!r}: {why}"
            break
        try:
            other.ask(f"play {colour} {answer}")
        except GtpFailure as error:
            forfeit, reason = 1 - position.to_play, f"{other.name} refused a legal move: {error}"
            break
        record.moves.append(move)
        position = position.play(move)
    our_score = gnugo_score = gnugo_dead = our_score_gnugo_dead = ""
    if forfeit is not None:
        result = f"{'WB'[forfeit]}+F"
        winner = sides[1 - forfeit].name
    elif resigned is not None:
        result = f"{'WB'[resigned]}+R"
        winner = sides[1 - resigned].name
    else:
        reason = "two passes" if position.passes >= 2 else "move cap"
        result = our_score = position.result()
        w = position.winner()
        winner = "" if w is None else sides[w].name
        for engine in sides:
            if "gnugo" in engine.name.lower():
                try:
                    gnugo_score = engine.ask("final_score")
                    if normalise_score(gnugo_score) != our_score:
                        gnugo_dead, our_score_gnugo_dead = dead_stone_score(engine, position)
                except GtpFailure:
                    gnugo_score = gnugo_score or "?"
    record.result = result
    game = GameResult(black.name, white.name, winner, result, len(record.moves), reason, our_score, gnugo_score,
                      gnugo_dead=gnugo_dead, our_score_gnugo_dead=our_score_gnugo_dead)
    return game, record, slowest


def dead_stone_score(gnugo, position) -> tuple[str, str]:
    """The stones GNU Go calls dead in the final position (GTP vertices) and our area score with them
    taken off the board. Two passes end a game under our rules (Tromp-Taylor: every stone on the
    board counts), while GNU Go's final_score first removes the stones it judges dead; where the two
    scores differ, this says whether the dead stones are the whole difference."""
    vertices = gnugo.ask("final_status_list dead").split()
    geometry = position.game.geometry
    return " ".join(vertices), position.result([geometry.parse_gtp(v) for v in vertices])


def play_match(first, second, games: int, out_dir: str | Path | None = None, size: int = 9, komi: float = 7.0,
               max_moves: int | None = None, main_time: float = 0.0,
               progress: Callable[[int, GameResult], None] | None = None) -> MatchResult:
    """`games` games, `first` Black in the even ones; into `out_dir` each game's SGF, an SVG of its
    final position, and `match.json`."""
    if first.name == second.name:
        raise ValueError(f"the two engines need different names to be told apart, both are {first.name!r}")
    match = MatchResult(first.name, second.name)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for k in range(games):
        black, white = (first, second) if k % 2 == 0 else (second, first)
        game, record, slowest = play_game(black, white, size, komi, max_moves, main_time)
        for name, seconds in slowest.items():
            match.max_genmove_s[name] = max(match.max_genmove_s.get(name, 0.0), round(seconds, 3))
        if out is not None:
            game.sgf = f"game{k + 1:04d}.sgf"
            record.extra["GN"] = f"game {k + 1}: {game.reason}"
            (out / game.sgf).write_text(write_game(record))
            final = record.positions(max_moves=max_moves)[-1]
            title = f"{game.black} (B) vs {game.white} (W): {game.result}"
            (out / game.sgf.replace(".sgf", ".svg")).write_text(position_svg(final, title))
        match.games.append(game)
        if progress is not None:
            progress(k, game)
    if out is not None:
        (out / "match.json").write_text(json.dumps({"summary": match.summary(),
                                                    "games": [asdict(g) for g in match.games]}, indent=1) + "\n")
    return match
