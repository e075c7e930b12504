"""A GTP v2 engine (Go Text Protocol, https://www.lysator.liu.se/~gunnar/gtp/gtp2-spec-draft2/): the
protocol in front of any `Player`, so that GUIs, GNU Go and match runners can play ours.

Each command is one line, `[id] command_name [arguments]`; the answer is `=[id] result` or
`?[id] message`, followed by a blank line. Before a line is read, as the specification's section 3.1
asks: control characters other than tab and newline are removed, tabs become spaces, everything after
'#' is a comment, and a line that is then empty is ignored. Every failure is answered `? message`,
never a crash: arguments are checked and named in the message, an illegal move is
"? illegal move: <reason>", and an error we did not foresee is still caught and answered
"? internal error: …" (the fuzz test asserts none occurs), so the engine keeps serving.

Commands: the required ones (protocol_version, name, version, known_command, list_commands, quit,
boardsize, clear_board, komi, play, genmove), and undo, showboard, final_score, final_status_list,
time_settings, time_left, and reg_genmove (a move suggested, not played).

Time. `time_settings main byo_yomi_time byo_yomi_stones` (seconds; Canadian byo-yomi) and
`time_left colour seconds stones` set the clock; genmove then gives the player a budget of
  in byo-yomi (stones > 0):   time_left / stones
  in main time:               main_left / max(10, (N² − moves_played) / 2) + byo_yomi_time / byo_yomi_stones
times `SAFETY` (0.8), less `LATENCY` (0.05 s) for the pipe and the controller, and never more than
the engine's own `seconds_per_move`, which is also the budget when no time was set.
"""
from __future__ import annotations

import re
import sys
import time
from typing import Protocol, TextIO

from milestones.games.game import GameError
from milestones.games.go import Go, GoPosition

RESIGN = -1
SAFETY, LATENCY = 0.8, 0.05
MAX_LINE = 4096  # characters; longer lines are refused, not parsed
MAX_SIZE = 25


class Player(Protocol):
    def genmove(self, position: GoPosition, seconds: float) -> int:
        """A legal move for `position.to_play` (the pass N² included) or `RESIGN`, within `seconds`."""


class GtpError(Exception):
    """Answered as `? message`."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(line: str) -> str:
    """Section 3.1's preprocessing: control characters out, tabs to spaces, comments cut."""
    line = _CONTROL.sub("", line).replace("\t", " ")
    return line.split("#", 1)[0].strip()


class Clock:
    """The controller's view of our time: time_settings, then time_left before each genmove."""

    def __init__(self) -> None:
        self.main = 0.0
        self.byo_yomi_time = 0.0
        self.byo_yomi_stones = 0
        self.set = False
        # per colour, from time_left: seconds left in the current period, and the stones to play in
        # that byo-yomi period (0 in main time)
        self.left: dict[int, float] = {}
        self.stones_left: dict[int, int] = {}

    def settings(self, main: float, byo_yomi_time: float, byo_yomi_stones: int) -> None:
        self.main, self.byo_yomi_time, self.byo_yomi_stones = main, byo_yomi_time, byo_yomi_stones
        # byo_yomi_time > 0 with 0 stones means no time limit (the specification)
        self.set = not (byo_yomi_time > 0 and byo_yomi_stones == 0)
        self.left, self.stones_left = {}, {}

    def budget(self, position: GoPosition, cap: float) -> float:
        if not self.set:
            return cap
        colour = position.to_play
        if self.stones_left.get(colour, 0) > 0:
            budget = self.left[colour] / self.stones_left[colour]
        else:
            left = self.left.get(colour, self.main)
            n2 = position.game.size ** 2
            budget = left / max(10.0, (n2 - position.moves_played) / 2)
            if self.byo_yomi_stones > 0:
                budget += self.byo_yomi_time / self.byo_yomi_stones
        return max(0.01, min(cap, budget * SAFETY - LATENCY))


def _colour(text: str) -> int:
    colour = text.lower()
    if colour in ("b", "black"):
        return 0
    if colour in ("w", "white"):
        return 1
    raise GtpError(f"invalid color {text!r} (expected b, black, w or white)")


def _number(text: str, kind: type, what: str) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise GtpError(f"{what} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise GtpError(f"{what} must be finite, got {text!r}")
    return value


class GtpEngine:
    """The protocol state (board, komi, clock, history for undo) around a `Player`."""

    def __init__(self, player: Player, name: str = "milestones", version: str = "0", size: int = 9,
                 komi: float = 7.0, seconds_per_move: float = 1.0, log: TextIO | None = None,
                 fixed_size: bool = False) -> None:
        self.player = player
        self.fixed_size = fixed_size  # a network's player plays only the board it was trained on
        self.engine_name, self.engine_version = name, version
        self.size, self.komi = size, komi
        self.seconds_per_move = seconds_per_move
        self.clock = Clock()
        self.log = log
        self.quit = False
        self.last_genmove_s = 0.0
        self.commands = {
            "protocol_version": self.protocol_version, "name": self.name, "version": self.version,
            "known_command": self.known_command, "list_commands": self.list_commands, "quit": self.cmd_quit,
            "boardsize": self.boardsize, "clear_board": self.clear_board, "komi": self.cmd_komi,
            "play": self.play, "genmove": self.genmove, "reg_genmove": self.reg_genmove, "undo": self.undo,
            "showboard": self.showboard, "final_score": self.final_score,
            "final_status_list": self.final_status_list, "time_settings": self.time_settings,
            "time_left": self.time_left,
        }
        self.new_board()

    # ------------------------------------------------------------------------------------ plumbing
    def new_board(self) -> None:
        # no move cap in a protocol game: the controller decides when it ends
        self.game = Go(self.size, self.komi, max_moves=10**9)
        self.history: list[GoPosition] = [self.game.initial()]

    @property
    def position(self) -> GoPosition:
        return self.history[-1]

    def handle(self, line: str) -> str | None:
        """The answer to one raw line (with its blank line), or None for a line with no command."""
        if len(line) > MAX_LINE:
            return f"? line too long ({len(line)} characters; at most {MAX_LINE})\n\n"
        words = clean(line).split()
        if not words:
            return None
        ident = ""
        if words[0].isdigit():
            ident, words = words[0], words[1:]
            if not words:
                return f"?{ident} missing command after the id\n\n"
        command, args = words[0], words[1:]
        handler = self.commands.get(command)
        try:
            if handler is None:
                raise GtpError("unknown command")
            result = handler(args)
        except GtpError as error:
            return f"?{ident} {error}\n\n"
        except Exception as error:  # never let a command bring the engine down
            return f"?{ident} internal error: {type(error).__name__}: {error}\n\n"
        return f"={ident} {result}".rstrip(" ") + "\n\n"

    def serve(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        for line in stdin:
            answer = self.handle(line)
            if answer is not None:
                stdout.write(answer)
                stdout.flush()
            if self.quit:
                break

    @staticmethod
    def _arity(args: list[str], n: int, usage: str) -> None:
        if len(args) != n:
            raise GtpError(f"syntax error: expected {usage}")

    # ------------------------------------------------------------------------------------ commands
    def protocol_version(self, args: list[str]) -> str:
        return "2"

    def name(self, args: list[str]) -> str:
        return self.engine_name

    def version(self, args: list[str]) -> str:
        return self.engine_version

    def known_command(self, args: list[str]) -> str:
        self._arity(args, 1, "known_command COMMAND")
        return "true" if args[0] in self.commands else "false"

    def list_commands(self, args: list[str]) -> str:
        return "\n".join(self.commands)

    def cmd_quit(self, args: list[str]) -> str:
        self.quit = True
        return ""

    def boardsize(self, args: list[str]) -> str:
        self._arity(args, 1, "boardsize SIZE")
        size = _number(args[0], int, "the board size")
        if not 2 <= size <= MAX_SIZE or (self.fixed_size and size != self.size):
            raise GtpError("unacceptable size")
        self.size = int(size)
        self.new_board()
        return ""

    def clear_board(self, args: list[str]) -> str:
        self.new_board()
        return ""

    def cmd_komi(self, args: list[str]) -> str:
        self._arity(args, 1, "komi NUMBER")
        komi = _number(args[0], float, "komi")
        if (2 * komi) % 1 or abs(komi) > 1000:
            raise GtpError(f"komi must be a whole or half number within ±1000, got {args[0]!r}")
        self.komi = float(komi)
        # the board stays; the game object carries the komi for scoring
        moves = self.history
        self.game = Go(self.size, self.komi, max_moves=10**9)
        for k, p in enumerate(moves):
            moves[k] = GoPosition(self.game, p.board, p.to_play, p.passes, p.moves_played, p.hash, p.seen,
                                  p.last_move)
        return ""

    def _vertex(self, text: str) -> int:
        try:
            return self.game.geometry.parse_gtp(text)
        except GameError as error:
            raise GtpError(f"invalid coordinate: {error}") from None

    def play(self, args: list[str]) -> str:
        self._arity(args, 2, "play COLOR VERTEX")
        colour, move = _colour(args[0]), self._vertex(args[1])
        position = self.position.with_to_play(colour) if (self.position.to_play != colour
                                                          or self.position.is_terminal()) else self.position
        reason = position.why_illegal(move)
        if reason is not None:
            raise GtpError(f"illegal move: {reason}")
        self.history.append(position.play(move))
        return ""

    def _choose(self, args: list[str]) -> tuple[GoPosition, int]:
        self._arity(args, 1, "genmove COLOR")
        colour = _colour(args[0])
        position = self.position
        if position.to_play != colour or position.is_terminal():
            position = position.with_to_play(colour)
        budget = self.clock.budget(position, self.seconds_per_move)
        start = time.perf_counter()
        move = self.player.genmove(position, budget)
        self.last_genmove_s = time.perf_counter() - start
        if self.log is not None:
            print(f"genmove {'BW'[colour]}: {self.game.geometry.gtp(move) if move != RESIGN else 'resign'} "
                  f"in {self.last_genmove_s:.3f} s of {budget:.3f}", file=self.log, flush=True)
        if move != RESIGN and position.why_illegal(move) is not None:
            raise RuntimeError(f"the player chose an illegal move {move}: {position.why_illegal(move)}")
        return position, move

    def genmove(self, args: list[str]) -> str:
        position, move = self._choose(args)
        if move == RESIGN:
            return "resign"
        self.history.append(position.play(move))
        return self.game.geometry.gtp(move)

    def reg_genmove(self, args: list[str]) -> str:
        _, move = self._choose(args)
        return "resign" if move == RESIGN else self.game.geometry.gtp(move)

    def undo(self, args: list[str]) -> str:
        if len(self.history) == 1:
            raise GtpError("cannot undo")
        self.history.pop()
        return ""

    def showboard(self, args: list[str]) -> str:
        return "\n" + str(self.position)

    def final_score(self, args: list[str]) -> str:
        return self.position.result()

    def final_status_list(self, args: list[str]) -> str:
        self._arity(args, 1, "final_status_list alive|dead|seki")
        status = args[0].lower()
        if status not in ("alive", "dead", "seki"):
            raise GtpError(f"the status is alive, dead or seki, got {args[0]!r}")
        if status != "alive":
            return ""  # area scoring counts every stone on the board as alive
        g = self.game.geometry
        return " ".join(g.gtp(m) for m in range(self.game.pass_move) if self.position.stone(m))

    def time_settings(self, args: list[str]) -> str:
        self._arity(args, 3, "time_settings MAIN_TIME BYO_YOMI_TIME BYO_YOMI_STONES")
        main = _number(args[0], float, "main time")
        byo = _number(args[1], float, "byo-yomi time")
        stones = _number(args[2], int, "byo-yomi stones")
        if main < 0 or byo < 0 or stones < 0:
            raise GtpError("times and stones must not be negative")
        self.clock.settings(float(main), float(byo), int(stones))
        return ""

    def time_left(self, args: list[str]) -> str:
        self._arity(args, 3, "time_left COLOR TIME STONES")
        colour = _colour(args[0])
        left = _number(args[1], float, "time left")
        stones = _number(args[2], int, "stones")
        if left < 0 or stones < 0:
            raise GtpError("time and stones must not be negative")
        self.clock.left[colour], self.clock.stones_left[colour] = float(left), int(stones)
        return ""
