"""Tic-tac-toe: the 3×3 board, solved (a draw with perfect play), the smallest test of search.

Cells and moves are numbered row by row:

     0 | 1 | 2
    ---+---+---
     3 | 4 | 5
    ---+---+---
     6 | 7 | 8

A position holds two 9-bit masks (the first player's X stones, the second's O stones). Planes
(2, 3, 3): the mover's stones, the opponent's. The 8 symmetries of the square (rotations and
reflections) map moves as they map cells. The game is small enough to solve outright: `solve` is
exhaustive minimax (cached), `all_positions` every position reachable from the empty board.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from milestones.games.game import GameError, play_moves

LINES = (0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100, 0b100010001,
         0b001010100)
FULL = 0b111111111


def _won(stones: int) -> bool:
    return any(stones & line == line for line in LINES)


@dataclass(frozen=True)
class TicTacToePosition:
    x: int = 0  # the first player's stones, bit k = cell k
    o: int = 0

    @property
    def to_play(self) -> int:
        return bin(self.x | self.o).count("1") % 2

    def legal_moves(self) -> list[int]:
        if self.is_terminal():
            return []
        taken = self.x | self.o
        return [k for k in range(9) if not taken >> k & 1]

    def play(self, move: int) -> TicTacToePosition:
        if not isinstance(move, (int, np.integer)) or not 0 <= move < 9:
            raise GameError(f"a tic-tac-toe move is a cell 0-8, got {move!r}")
        if (self.x | self.o) >> move & 1:
            raise GameError(f"cell {move} is taken:\n{self}")
        if self.is_terminal():
            raise GameError(f"the game is over:\n{self}")
        bit = 1 << int(move)
        return TicTacToePosition(self.x | bit, self.o) if self.to_play == 0 else TicTacToePosition(self.x, self.o | bit)

    def is_terminal(self) -> bool:
        return _won(self.x) or _won(self.o) or (self.x | self.o) == FULL

    def terminal_value(self) -> float:
        # whoever completed a line moved last: a loss for the player to move
        return -1.0 if _won(self.x) or _won(self.o) else 0.0

    def planes(self) -> np.ndarray:
        mine, theirs = (self.x, self.o) if self.to_play == 0 else (self.o, self.x)
        bits = np.array([[mine >> k & 1 for k in range(9)], [theirs >> k & 1 for k in range(9)]], np.float32)
        return bits.reshape(2, 3, 3)

    def key(self) -> tuple:
        return (self.x, self.o)

    def __str__(self) -> str:
        cells = ["X" if self.x >> k & 1 else "O" if self.o >> k & 1 else "." for k in range(9)]
        return "\n".join("".join(cells[3 * r:3 * r + 3]) for r in range(3))


def parse(board: str) -> TicTacToePosition:
    """A position from three rows of X, O and . (whitespace ignored), as the tests write them."""
    cells = "".join(board.split())
    if len(cells) != 9 or set(cells) - set("XO."):
        raise GameError(f"a tic-tac-toe board is 9 cells of X, O or ., got {board!r}")
    x = sum(1 << k for k, c in enumerate(cells) if c == "X")
    o = sum(1 << k for k, c in enumerate(cells) if c == "O")
    if not 0 <= bin(x).count("1") - bin(o).count("1") <= 1:
        raise GameError(f"X moves first, so X has as many stones as O or one more:\n{board}")
    return TicTacToePosition(x, o)


def _cell_maps() -> np.ndarray:
    """(8, 9): symmetry s sends cell k to cell maps[s, k]."""
    grid = np.arange(9).reshape(3, 3)
    images = [np.rot90(grid, r) for r in range(4)]
    images += [np.fliplr(g) for g in images]
    maps = np.empty((8, 9), np.int64)
    for s, image in enumerate(images):
        maps[s, image.reshape(-1)] = np.arange(9)  # the cell at position p of the image came from image[p]
    return maps


class TicTacToe:
    name = "tictactoe"
    num_moves = 9
    planes_shape = (2, 3, 3)
    cell_maps = _cell_maps()

    def initial(self) -> TicTacToePosition:
        return TicTacToePosition()

    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for maps in self.cell_maps:
            p = np.empty_like(planes.reshape(planes.shape[0], 9))
            p[:, maps] = planes.reshape(planes.shape[0], 9)
            q = np.empty_like(policy)
            q[maps] = policy
            out.append((p.reshape(planes.shape), q))
        return out

    def from_moves(self, moves: Sequence[int]) -> TicTacToePosition:
        position = play_moves(self, moves)
        assert isinstance(position, TicTacToePosition)
        return position


@functools.lru_cache(maxsize=None)
def solve(position: TicTacToePosition) -> float:
    """The value of `position` for the player to move under perfect play: +1, 0 or −1 (minimax)."""
    if position.is_terminal():
        return position.terminal_value()
    return max(-solve(position.play(m)) for m in position.legal_moves())


def all_positions() -> list[TicTacToePosition]:
    """Every position reachable from the empty board (5 478), ordered by their stones."""
    seen: dict[tuple, TicTacToePosition] = {}
    stack = [TicTacToePosition()]
    while stack:
        p = stack.pop()
        if p.key() not in seen:
            seen[p.key()] = p
            stack.extend(p.play(m) for m in p.legal_moves())
    return sorted(seen.values(), key=lambda p: p.key())
