"""AlphaGo's fast rollout policy p_π (Silver et al. 2016, Methods "Rollout policy" and Extended Data
Table 4): a linear softmax over small local features of each candidate move,

    p_π(a | s) = exp(π · φ(s, a)) / Σ_b exp(π · φ(s, b)),

the sum over the candidates b: the legal moves that do not fill an own eye (the pass only when none
is left, as in random rollouts). Our φ(s, a) for an empty point a, seen by the player to move:

    pattern      the colours of a's 8 neighbours (empty, own, opponent, off the board), 4⁸ = 65 536
                 patterns, one weight per class under the square's 8 symmetries (AlphaGo's
                 "non-response pattern": 3×3 colours and liberties, 69 338 weights)
    neighbour    a is orthogonally (1) or diagonally (2) next to the last move (AlphaGo: 8 weights,
                 one per place; ours: 2, the place up to symmetry)
    save atari   a is the last liberty of one of the mover's groups that touches the last move
                 (AlphaGo's "save atari": 1 weight)
    capture      a is the last liberty of the last move's group (the stone just played is in atari)

so π has classes + 2 + 1 + 1 weights. AlphaGo's p_π also has response patterns (the 12 points around
the previous move) and nakade shapes; we leave them out to keep a rollout move cheap in Python.

A 3×3 pattern is read off the padded board (`milestones.games.go`: neighbours at p ± 1, p ± stride,
p ± stride ± 1); the diagonal above-left of the first point is index −1, the last padded point, which
is off the board like every other border point.

Sampling without listing the legal moves: with Gumbel noise g_b, the first legal candidate in the
order of decreasing π · φ(s, b) + g_b is a sample of the softmax over the legal candidates (the
Gumbel-max trick restricted to a subset), so a rollout move checks the legality of one or two points,
not of all of them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from milestones.games.go import BLACK, EMPTY, GoPosition, geometry

# the 8 neighbours (dr, dc) in the order of a pattern's base-4 digits, least significant first
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
POWERS = 4 ** np.arange(8)
OWN, OPPONENT = 1, 2  # digits of a pattern; EMPTY 0 and BORDER 3 as on the board
# the board's colours seen by Black (row 0) and by White (row 1) as pattern digits
VIEW = np.array([[0, OWN, OPPONENT, 3], [0, OPPONENT, OWN, 3]], np.int64)


def _transforms() -> list[list[int]]:
    """For each of the square's 8 symmetries, where each neighbour's digit goes."""
    out = []
    for flip in (False, True):
        for k in range(4):
            perm = []
            for dr, dc in NEIGHBOURS:
                r, c = (dr, -dc) if flip else (dr, dc)
                for _ in range(k):
                    r, c = -c, r  # a quarter turn
                perm.append(NEIGHBOURS.index((r, c)))
            out.append(perm)
    return out


@lru_cache(maxsize=1)
def pattern_classes() -> tuple[np.ndarray, int]:
    """(65 536,) class of each pattern code (equal for patterns related by a symmetry), and the
    number of classes; patterns that cannot occur (a border digit inside the board) get classes too."""
    digits = (np.arange(4 ** 8)[:, None] // POWERS) % 4  # (65 536, 8)
    canonical = np.full(4 ** 8, np.iinfo(np.int64).max)
    for perm in _transforms():
        moved = np.empty_like(digits)
        moved[:, perm] = digits
        canonical = np.minimum(canonical, moved @ POWERS)
    values, classes = np.unique(canonical, return_inverse=True)
    return classes.astype(np.int64), len(values)


@dataclass(frozen=True)
class Features:
    """φ(s, a) for the K candidate points of one position: moves (K,), pattern classes (K,),
    neighbour 0/1/2 (K,), save atari and capture flags (K,) bool."""

    moves: np.ndarray
    pattern: np.ndarray
    neighbour: np.ndarray
    save: np.ndarray
    capture: np.ndarray


class _Board:
    """Per board size: the padded points as an array and the offsets of the 8 neighbours."""

    def __init__(self, size: int) -> None:
        g = geometry(size)
        self.g = g
        self.points = np.asarray(g.point, np.int64)
        self.offsets = np.array([dr * g.stride + dc for dr, dc in NEIGHBOURS], np.int64)
        self.orthogonal = np.array([-g.stride, -1, 1, g.stride], np.int64)
        self.diagonal = np.array([-g.stride - 1, -g.stride + 1, g.stride - 1, g.stride + 1], np.int64)
        self.move_of = np.full(g.padded, -1, np.int64)
        self.move_of[self.points] = np.arange(size * size)


@lru_cache(maxsize=None)
def _board(size: int) -> _Board:
    return _Board(size)


def features(position: GoPosition) -> Features:
    """φ(s, a) for every empty point a of `position` (the candidates before legality)."""
    b = _board(position.game.size)
    board = np.frombuffer(position.board, np.uint8)
    empty = b.points[board[b.points] == EMPTY]  # (K,) padded points
    digits = VIEW[position.to_play][board[empty[:, None] + b.offsets]]  # (K, 8)
    classes, _ = pattern_classes()
    neighbour = np.zeros(b.g.padded, np.int8)
    save = np.zeros(b.g.padded, bool)
    capture = np.zeros(b.g.padded, bool)
    last = position.last_move
    if last is not None and last != position.game.pass_move:
        p = b.g.point[last]
        neighbour[p + b.orthogonal] = 1
        neighbour[p + b.diagonal] = 2
        stones, liberties = position._group_at(p)
        if len(liberties) == 1:
            capture[next(iter(liberties))] = True
        me = BLACK + position.to_play
        for n in b.orthogonal + p:
            if position.board[n] == me:
                _, liberties = position._group_at(int(n))
                if len(liberties) == 1:
                    save[next(iter(liberties))] = True
    return Features(b.move_of[empty], classes[digits @ POWERS], neighbour[empty], save[empty], capture[empty])


def playable(position: GoPosition, moves: np.ndarray) -> np.ndarray:
    """(K,) bool: which of the points `moves` are legal and do not fill an own eye (p_π's candidates)."""
    return np.array([position.is_legal(int(m)) and not position.fills_own_eye(int(m)) for m in moves], bool)


class RolloutPolicy:
    """p_π with weights π: `pattern` (classes,), `neighbour` (3,) (index 0 unused, kept 0),
    `save` and `capture` scalars."""

    def __init__(self, pattern: np.ndarray, neighbour: np.ndarray, save: float, capture: float) -> None:
        _, classes = pattern_classes()
        pattern, neighbour = np.asarray(pattern, np.float64), np.asarray(neighbour, np.float64)
        if pattern.shape != (classes,) or neighbour.shape != (3,):
            raise ValueError(f"expected pattern weights ({classes},) and neighbour weights (3,), "
                             f"got {pattern.shape} and {neighbour.shape}")
        self.pattern, self.neighbour = pattern, neighbour
        self.save, self.capture = float(save), float(capture)

    @classmethod
    def uniform(cls) -> RolloutPolicy:
        """All weights 0: the random player's policy (uniform over the candidates)."""
        return cls(np.zeros(pattern_classes()[1]), np.zeros(3), 0.0, 0.0)

    def logits(self, f: Features) -> np.ndarray:
        """π · φ(s, a) for each candidate, (K,)."""
        return self.pattern[f.pattern] + self.neighbour[f.neighbour] + self.save * f.save + self.capture * f.capture

    def probabilities(self, position: GoPosition) -> np.ndarray:
        """p_π(· | s) over the N² + 1 moves (N² the pass): the softmax over the legal moves that do
        not fill an own eye; the pass has probability 1 when there is none."""
        out = np.zeros(position.game.num_moves)
        f = features(position)
        ok = playable(position, f.moves)
        if not ok.any():
            out[position.game.pass_move] = 1.0
            return out
        z = self.logits(f)[ok]
        e = np.exp(z - z.max())
        out[f.moves[ok]] = e / e.sum()
        return out

    def sample(self, position: GoPosition, rng: np.random.Generator) -> int:
        """A move drawn from `probabilities(position)` by the Gumbel-max trick (module docstring)."""
        f = features(position)
        if not len(f.moves):
            return position.game.pass_move
        order = np.argsort(-(self.logits(f) + rng.gumbel(size=len(f.moves))))
        return position.first_playable(f.moves[order])

    def rollout(self, position: GoPosition, rng: np.random.Generator, max_moves: int | None = None) -> float:
        """z for the player to move at `position` after p_π plays both sides to the end (or scored as
        it stands after `max_moves` moves, default 3·N²): +1 win, −1 loss, 0 draw."""
        start, p = position, position
        cap = 3 * position.game.size ** 2 if max_moves is None else max_moves
        for _ in range(cap):
            if p.is_terminal():
                break
            p = p.play(self.sample(p, rng))
        winner = p.winner()
        return 0.0 if winner is None else 1.0 if winner == start.to_play else -1.0

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"pattern": self.pattern, "neighbour": self.neighbour, "save": np.array(self.save),
                "capture": np.array(self.capture)}

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray]) -> RolloutPolicy:
        return cls(state["pattern"], state["neighbour"], float(state["save"]), float(state["capture"]))


@dataclass
class FeatureTable:
    """The features of P positions padded to A = N² candidates: pattern (P, A) int64, neighbour
    (P, A) int64, save and capture (P, A) float32, candidate (P, A) bool (legal, not filling an own
    eye), target (P,) the expert's move. Positions whose move is not a candidate (a pass, an eye
    filled) are left out, as p_π never plays them."""

    pattern: np.ndarray
    neighbour: np.ndarray
    save: np.ndarray
    capture: np.ndarray
    candidate: np.ndarray
    target: np.ndarray

    def __len__(self) -> int:
        return len(self.target)


def feature_table(pairs: Sequence[tuple[GoPosition, int]], size: int) -> FeatureTable:
    """The features of (position, expert move) pairs (`milestones.go.dataset.expert_moves`)."""
    a = size * size
    rows: list[tuple[Features, np.ndarray, int]] = []
    for position, move in pairs:
        if move == position.game.pass_move or position.fills_own_eye(move):
            continue
        f = features(position)
        ok = playable(position, f.moves)
        rows.append((f, ok, move))
    n = len(rows)
    pattern, neighbour = np.zeros((n, a), np.int64), np.zeros((n, a), np.int64)
    save, capture = np.zeros((n, a), np.float32), np.zeros((n, a), np.float32)
    candidate, target = np.zeros((n, a), bool), np.zeros(n, np.int64)
    for i, (f, ok, move) in enumerate(rows):
        pattern[i, f.moves], neighbour[i, f.moves] = f.pattern, f.neighbour
        save[i, f.moves], capture[i, f.moves] = f.save, f.capture
        candidate[i, f.moves] = ok
        target[i] = move
    return FeatureTable(pattern, neighbour, save, capture, candidate, target)

