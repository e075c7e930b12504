"""Expert positions for the supervised policy network: every move of a folder of SGF games as
(planes, move) pairs, split by game into training, validation and test sets.

AlphaGo's SL policy network learned p_σ(a | s) from 28.4 M positions of KGS games, with 1 M held out
for testing (Silver et al. 2016, Methods); its accuracy is the share of test positions where the most
likely move is the one the expert played. Here the games come from `milestones gnugo-games` (or any
folder of SGF files for the board size). The split is by game, never by position, so that no test
position has its neighbours in the training set: a game goes to the test set when
crc32(file name) % 20 == 0, to validation when it is 1, to training otherwise (about 5 %, 5 %, 90 %,
and the same split on every machine and for every later file added to the folder).

The moves skipped: the random opening of a generated game (its XR[n] root property; not expert
moves), and anything after the game's first pass (GNU Go's endgame of captures after it passed is
not a move choice the network should learn from ... the pass itself is kept: the network learns
when to pass).

Shapes: P positions, planes (P, C, N, N) uint8, moves (P,) int64 in 0 … N² (N² the pass).
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milestones.games.go import GoPosition
from milestones.go.sgf import SgfError, read_game

SPLITS = ("train", "validation", "test")


def split_of(name: str) -> str:
    bucket = zlib.crc32(name.encode()) % 20
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


@dataclass
class Positions:
    planes: np.ndarray  # (P, C, N, N) uint8
    moves: np.ndarray  # (P,) int64
    games: int

    def __len__(self) -> int:
        return len(self.moves)


def game_files(folder: str | Path) -> list[Path]:
    files = sorted(Path(folder).glob("*.sgf"))
    if not files:
        raise SgfError(f"no .sgf files in {folder}")
    return files


def expert_games(folder: str | Path, size: int = 9, splits: tuple[str, ...] = SPLITS
                 ) -> Iterator[tuple[str, list[tuple[GoPosition, int]]]]:
    """Each game of `folder` in a chosen split, one at a time: (split, [(position, expert move), …]),
    the moves skipped as the module docstring says; a malformed file is an error naming it."""
    pass_move = size * size
    for path in game_files(folder):
        split = split_of(path.name)
        if split not in splits:
            continue
        try:
            record = read_game(path.read_text(encoding="utf-8", errors="replace"))
            if record.size != size:
                raise SgfError(f"the board is {record.size}×{record.size}, expected {size}×{size}")
            positions = record.positions()
        except SgfError as error:
            raise SgfError(f"{path}: {error}") from None
        skip = int(record.extra.get("XR", "0") or 0)
        pairs = []
        for position, move in zip(positions[skip:-1], record.moves[skip:]):
            pairs.append((position, move))
            if move == pass_move:
                break
        yield split, pairs


def load(folder: str | Path, size: int = 9, splits: tuple[str, ...] = SPLITS) -> dict[str, Positions]:
    """The positions of every game in `folder`, by split, as planes and moves."""
    out: dict[str, tuple[list[np.ndarray], list[int], int]] = {s: ([], [], 0) for s in splits}
    for split, pairs in expert_games(folder, size, splits):
        planes, moves, games = out[split]
        for position, move in pairs:
            planes.append(position.planes().astype(np.uint8))
            moves.append(move)
        out[split] = (planes, moves, games + 1)
    return {s: Positions(np.stack(p) if p else np.zeros((0, 11, size, size), np.uint8),
                         np.asarray(m, np.int64), g) for s, (p, m, g) in out.items()}
