"""Pascal Pons' Connect Four test sets: 1000 positions each, with the solver's score of every move.

A line is `<moves> s1,s2,…,s7`: the columns played from the empty board (1-7), then for each
column the score of the position after playing it, for the opponent, in Pons' convention (+n: the
side to move wins with its n-th stone from the end, 22 − the stones the winner has played; 0 a
draw; −n a loss); 43 marks a full column. The mover's best moves have the least score, and the
position's value is −min(sᵢ). A move *loses value* when its outcome (win, draw or loss) is worse
than the best move's: the error rate AlphaZero.jl and others report.

The sets (`SETS`): L3_R1 End-Easy, L2_R1 Middle-Easy, L2_R2 Middle-Medium, L1_R1 Begin-Easy,
L1_R2 Begin-Medium, L1_R3 Begin-Hard; files `Test_<set>.moves.txt` in the data folder `connect4/`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from milestones.data import download_files
from milestones.games.connect4 import WIDTH, Connect4, Connect4Position
from milestones.games.game import GameError

# where the per-move files come from (SOURCE.txt of the shared data): alpha-zero-general's fork by
# domenlusina, tests/Test_<set>.txt at one commit, kept here as Test_<set>.moves.txt
PONS_URL = ("https://raw.githubusercontent.com/domenlusina/alpha-zero-general/"
            "6ca638eb3fdfe2477f7dc5fde69238ca619eaddc/tests")
PONS_SOURCE = "github.com/domenlusina/alpha-zero-general (MIT), derived from Pascal Pons' test sets"
PONS_MD5 = {"Test_L1_R1.moves.txt": "b109aebc775f330259be1f1d31b318db",
            "Test_L1_R2.moves.txt": "e4261c853e2a7f919f193be49a9c95b1",
            "Test_L1_R3.moves.txt": "6dd5b160ac8a8a57b4d15470b9375fcd",
            "Test_L2_R1.moves.txt": "1f1c718b05363acaf3446b031af9d714",
            "Test_L2_R2.moves.txt": "c6aeb9a7c76d62580cdd295c7b563a6f",
            "Test_L3_R1.moves.txt": "ae1da863ed4c3d3a49b71895e74c20ec"}
SETS = {"L3_R1": "End-Easy", "L2_R1": "Middle-Easy", "L2_R2": "Middle-Medium", "L1_R1": "Begin-Easy",
        "L1_R2": "Begin-Medium", "L1_R3": "Begin-Hard"}
FULL = 43


@dataclass(frozen=True)
class PonsPosition:
    moves: str  # Pons' move string, columns 1-7
    scores: tuple[int | None, ...]  # (7,) the opponent's score after each column; None: full

    @property
    def value(self) -> int:
        """The position's score for the side to move: −min over the legal moves."""
        return -min(s for s in self.scores if s is not None)

    def best_moves(self) -> list[int]:
        """The columns (0-6) whose outcome (win/draw/loss) is the best one's."""
        return [c for c in range(WIDTH) if self.scores[c] is not None and not self.loses_value(c)]

    def is_optimal(self, move: int) -> bool:
        """Whether column `move` (0-6) has the best score (not only the best outcome)."""
        score = self.scores[move]
        if score is None:
            raise GameError(f"column {move} is full in position {self.moves}")
        return score == -self.value

    def loses_value(self, move: int) -> bool:
        """Whether playing column `move` (0-6) turns the outcome worse than the best move's."""
        score = self.scores[move]
        if score is None:
            raise GameError(f"column {move} is full in position {self.moves}")
        return _sign(-score) < _sign(self.value)

    def position(self) -> Connect4Position:
        return Connect4().from_pons(self.moves)


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def parse_line(line: str, where: str = "") -> PonsPosition:
    """One line of a `.moves.txt` file; a malformed one is refused with the reason."""
    parts = line.split()
    if len(parts) != 2:
        raise GameError(f"{where}: expected '<moves> s1,…,s7', got {line.strip()!r}")
    moves, fields = parts
    if not moves.isdigit() or set(moves) - set("1234567"):
        raise GameError(f"{where}: the moves are columns 1-7, got {moves!r}")
    try:
        numbers = [int(f) for f in fields.split(",")]
    except ValueError:
        raise GameError(f"{where}: the scores are 7 integers separated by commas, got {fields!r}") from None
    if len(numbers) != WIDTH:
        raise GameError(f"{where}: expected 7 scores, got {len(numbers)} in {fields!r}")
    if all(n == FULL for n in numbers):
        raise GameError(f"{where}: every column is marked full ({FULL}) in {line.strip()!r}")
    return PonsPosition(moves, tuple(None if n == FULL else n for n in numbers))


def load_set(path: str | Path) -> list[PonsPosition]:
    """Every position of a test-set file, each checked against the rules: its full columns are
    exactly the ones the board has filled, and the game is not over."""
    path = Path(path)
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        entry = parse_line(line, where)
        try:
            board = entry.position()
        except GameError as e:
            raise GameError(f"{where}: {e}") from None
        if board.is_terminal():
            raise GameError(f"{where}: the game is already over after {entry.moves}")
        full = [c for c in range(WIDTH) if not board.can_play(c)]
        marked = [c for c in range(WIDTH) if entry.scores[c] is None]
        if full != marked:
            raise GameError(f"{where}: columns marked full {marked} but the board's full columns are {full}")
        out.append(entry)
    return out


def set_path(data: Path, name: str) -> Path:
    if name not in SETS:
        raise KeyError(f"unknown Pons set {name!r}; the sets are {', '.join(f'{k} ({v})' for k, v in SETS.items())}")
    return data / f"Test_{name}.moves.txt"


def download(option: str | Path | None = None, *, base_url: str | None = None,
             log: Callable[[str], object] = print) -> Path:
    """The six files into DATA_DIR/connect4/, MD5-checked (the MD5s of the copies these were checked
    against; a mirror serves them under their source names, Test_<set>.txt)."""
    return download_files("connect4", PONS_MD5, PONS_URL, PONS_SOURCE, option, base_url=base_url, log=log,
                          remote={f: f.replace(".moves.txt", ".txt") for f in PONS_MD5})
