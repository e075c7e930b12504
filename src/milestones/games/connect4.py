"""Connect Four on the 7×6 board, as bitboards (the layout of Pascal Pons' solver).

Moves are the columns 0-6 from the left (Pons' move strings number them 1-7). Column c holds bits
7c … 7c + 5 from the bottom up, and bit 7c + 6 stays empty as a sentinel, so that shifting a
mask by 1 (vertical), 7 (horizontal), 6 or 8 (the diagonals) never wraps into the next column:

    row 5 |  5 12 19 26 33 40 47
    row 4 |  4 11 18 25 32 39 46
      …   |  …
    row 0 |  0  7 14 21 28 35 42
           col 0  1  2  3  4  5  6

A position holds `current` (the stones of the player to move) and `mask` (every stone). Playing
column c adds its lowest empty cell, `mask + bottom(c)` carrying up the column, and swaps sides:
current ← current ^ mask. Four in a row for stones p: m = p & (p >> s), then m & (m >> 2s) ≠ 0 for
a shift s in (1, 7, 6, 8). Planes (2, 6, 7): the mover's stones, the opponent's, the top row first.
The one symmetry besides the identity is the mirror (column c ↔ 6 − c).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from milestones.games.game import GameError, play_moves

WIDTH, HEIGHT = 7, 6
CELLS = WIDTH * HEIGHT
BOTTOM = [1 << (7 * c) for c in range(WIDTH)]
TOP = [1 << (7 * c + HEIGHT - 1) for c in range(WIDTH)]


def four_in_a_row(stones: int) -> bool:
    for shift in (1, 7, 6, 8):
        m = stones & (stones >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


@dataclass(frozen=True)
class Connect4Position:
    current: int = 0  # the stones of the player to move
    mask: int = 0  # every stone
    moves: int = 0  # stones on the board
    won: bool = False  # the last move made four in a row

    @property
    def to_play(self) -> int:
        return self.moves % 2

    def can_play(self, column: int) -> bool:
        return not self.mask & TOP[column]

    def legal_moves(self) -> list[int]:
        if self.is_terminal():
            return []
        return [c for c in range(WIDTH) if not self.mask & TOP[c]]

    def play(self, move: int) -> Connect4Position:
        if not isinstance(move, (int, np.integer)) or not 0 <= move < WIDTH:
            raise GameError(f"a Connect Four move is a column 0-6, got {move!r}")
        if self.is_terminal():
            raise GameError(f"the game is over:\n{self}")
        if self.mask & TOP[move]:
            raise GameError(f"column {move} is full:\n{self}")
        mover = self.current | ((self.mask + BOTTOM[move]) & ~self.mask)  # the mover's stones after it
        mask = self.mask | (self.mask + BOTTOM[move])
        return Connect4Position(mover ^ mask, mask, self.moves + 1, four_in_a_row(mover))

    def is_terminal(self) -> bool:
        return self.won or self.moves == CELLS

    def terminal_value(self) -> float:
        return -1.0 if self.won else 0.0  # the opponent's last move won, or the board is full

    def stones(self, player: int) -> int:
        """The stones of `player` (0 moved first)."""
        return self.current if player == self.to_play else self.current ^ self.mask

    def planes(self) -> np.ndarray:
        # the two bitboards' bits, 7 per column (the top one the sentinel): (plane, column, row from the bottom)
        raw = self.current.to_bytes(8, "little") + (self.current ^ self.mask).to_bytes(8, "little")
        bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little").reshape(2, 64)[:, :7 * WIDTH]
        bits = bits.reshape(2, WIDTH, 7)[:, :, HEIGHT - 1::-1]  # rows from the top
        return np.ascontiguousarray(bits.transpose(0, 2, 1), dtype=np.float32)

    @staticmethod
    def planes_many(positions: Sequence[Connect4Position]) -> np.ndarray:
        """`planes()` of B positions at once (B, 2, 6, 7): their bitboards unpacked in one call."""
        boards = np.array([(p.current, p.current ^ p.mask) for p in positions], np.uint64)  # (B, 2)
        bits = np.unpackbits(boards.astype("<u8").view(np.uint8).reshape(len(positions), 2, 8), axis=2,
                             bitorder="little")[:, :, :7 * WIDTH]  # (B, 2, 49): bit 7c + r
        bits = bits.reshape(len(positions), 2, WIDTH, 7)[:, :, :, HEIGHT - 1::-1]  # rows from the top
        return np.ascontiguousarray(bits.transpose(0, 1, 3, 2), dtype=np.float32)

    def key(self) -> tuple:
        return (self.current, self.mask)

    def __str__(self) -> str:
        first = self.stones(0)
        rows = []
        for r in range(HEIGHT - 1, -1, -1):
            rows.append("".join("X" if first >> (7 * c + r) & 1 else "O" if self.mask >> (7 * c + r) & 1 else "."
                                for c in range(WIDTH)))
        return "\n".join(rows)


class Connect4:
    name = "connect4"
    num_moves = WIDTH
    planes_shape = (2, HEIGHT, WIDTH)

    def initial(self) -> Connect4Position:
        return Connect4Position()

    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(planes, policy), (planes[:, :, ::-1].copy(), policy[::-1].copy())]

    def from_moves(self, moves: Sequence[int]) -> Connect4Position:
        position = play_moves(self, moves)
        assert isinstance(position, Connect4Position)
        return position

    def from_pons(self, moves: str) -> Connect4Position:
        """The position of a Pons move string (columns 1-7, e.g. "4453"); errors name the character."""
        columns = []
        for k, ch in enumerate(moves.strip()):
            if ch not in "1234567":
                raise GameError(f"Pons move strings hold the columns 1-7; character {k + 1} is {ch!r} in {moves!r}")
            columns.append(int(ch) - 1)
        return self.from_moves(columns)
