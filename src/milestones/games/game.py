"""The interface between board games and everything that plays them (search, networks, training).

A `Game` describes the board (its move count A, the observation planes' shape (C, H, W), its
symmetries); a `Position` is immutable: `play(move)` returns a new one, so a search can keep any
position it has seen. Values are always from the view of the player to move (+1 a win, 0 a draw,
−1 a loss), as AlphaZero's network predicts them; `to_play` says who that is (0 moves first).

Shapes: A moves, planes (C, H, W), a policy (A,) over the moves.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class GameError(ValueError):
    """An illegal move or a malformed position; the message names the value and what was expected."""


class Position(Protocol):
    @property
    def to_play(self) -> int:
        """0 if the first player moves next, else 1."""

    def legal_moves(self) -> list[int]:
        """The moves (0 … A − 1) allowed here; empty once the game is over."""

    def play(self, move: int) -> Position:
        """The position after `move`; `GameError` if it is not legal."""

    def is_terminal(self) -> bool: ...

    def terminal_value(self) -> float:
        """+1, 0 or −1 for the player to move once the game is over (their opponent just moved)."""

    def planes(self) -> np.ndarray:
        """(C, H, W) float32 observation from the view of the player to move."""

    def key(self) -> tuple:
        """A hashable identity of the position (equal positions, equal keys)."""


class Game(Protocol):
    name: str
    num_moves: int
    planes_shape: tuple[int, int, int]

    def initial(self) -> Position: ...

    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every symmetry of the board applied to (planes (C, H, W), policy (A,)), the identity first."""

    def from_moves(self, moves: Sequence[int]) -> Position:
        """The position reached by playing `moves` from the start; `GameError` names the first bad one."""


def play_moves(game: Game, moves: Sequence[int]) -> Position:
    """`game.from_moves` for any game: plays the moves one by one, naming the first illegal one."""
    position = game.initial()
    for k, move in enumerate(moves):
        if position.is_terminal():
            raise GameError(f"move {k + 1} ({move}): the game was already over")
        if move not in position.legal_moves():
            raise GameError(f"move {k + 1} ({move}) is not legal here; legal moves: {position.legal_moves()}")
        position = position.play(move)
    return position


def stack_planes(positions: Sequence[Position]) -> np.ndarray:
    """The planes of B positions of one game (B, C, H, W): the position class's own batched
    `planes_many(positions)` where it has one (Connect Four unpacks every bitboard in one call),
    else each position's `planes()` stacked."""
    many = getattr(type(positions[0]), "planes_many", None)
    return many(positions) if many is not None else np.stack([p.planes() for p in positions])
