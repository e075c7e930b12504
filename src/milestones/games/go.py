"""Go on an N×N board: captures, no suicide, positional superko, area scoring with komi, two passes end.

The rules are those the computer-Go servers use (CGOS, and GNU Go with `--chinese-rules
--positional-superko`): a move places a stone on an empty point, removes the opponent's groups it
leaves without liberties, and is illegal if its own group then has none (suicide) or if the board
it makes has been seen before in the game (positional superko, which includes the simple ko).
Passing is always legal; two passes in a row end the game, which is then scored by area
(Tromp-Taylor): each player's stones plus the empty regions that touch only their stones; White adds
the komi. Every stone left on the board counts as alive, so games are played out until the dead
stones are captured (GNU Go's `--capture-all-dead` does the same).

Moves are the points r·N + c, row r = 0 at the top as printed, column c = 0 at the left, and the pass
N²; in GTP's letters (no I) and numbers (from the bottom), "A9" on 9×9 is move 0 and "J1" is move 80.

The board is a flat byte string with a border, `stride = N + 1` (one border column, shared by both
edges), so that the neighbours of padded point p are p ± 1 and p ± stride, never off the array:

    stride 10 for N = 9:   row −1  # # # # # # # # # #      (padded p = (r + 1)·stride + c)
                           row 0   . . . . . . . . . #
                             …
                           row 8   . . . . . . . . . #
                           row 9   # # # # # # # # # # #

A position is immutable (`play` returns a new one) and knows its game's history through the set of
board hashes seen so far (Zobrist: one random 64-bit word per point and colour, XORed together).
`max_moves` (default 3·N²) ends a game that runs that long, scored as it stands; it is not a rule of
Go, but keeps self-play and random play finite (superko alone allows astronomically long games).

Planes (C = 11, N, N) from the view of the player to move: own stones, opponent stones, empty points,
own groups with 1, 2, ≥ 3 liberties, the opponent's likewise, the legal moves, and a plane of ones
when Black is to move (the komi makes colour matter), after AlphaGo's input features (Silver et al.
2016, Extended Data Table 2: stones, liberties, sensibleness).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import cached_property

import numpy as np

from milestones.games.game import GameError

EMPTY, BLACK, WHITE, BORDER = 0, 1, 2, 3
COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # GTP's column letters: no I
PLANES = 11


class Geometry:
    """Everything about an N×N board that does not change: padded indices, neighbours, hashes."""

    def __init__(self, size: int) -> None:
        if not isinstance(size, int) or not 2 <= size <= 25:
            raise GameError(f"a Go board is 2×2 to 25×25 (GTP's letters run out after 25), got size {size!r}")
        self.size = size
        self.stride = size + 1
        self.padded = (size + 2) * self.stride + 1
        # padded index of each move, and back
        self.point = [(r + 1) * self.stride + c for r in range(size) for c in range(size)]
        self.move_of = {p: m for m, p in enumerate(self.point)}
        self.neighbours = {p: (p - self.stride, p - 1, p + 1, p + self.stride) for p in self.point}
        rng = np.random.default_rng(20160127)  # fixed: hashes must not depend on any run's seed
        words = rng.integers(1, 2**63, size=(3, self.padded), dtype=np.int64)
        self.zobrist = [[int(w) for w in row] for row in words]  # zobrist[colour][p]
        empty = bytearray([BORDER]) * self.padded
        for p in self.point:
            empty[p] = EMPTY
        self.empty = bytes(empty)
        # the same as arrays, for the vectorised questions (labels, liberties, legality)
        self.points = np.asarray(self.point, np.int64)  # (N²,) padded index of each move
        self.offsets = np.array([-self.stride, -1, 1, self.stride], np.int64)  # the 4 neighbours
        self.zobrist_array = words.copy()  # (3, padded) int64, zobrist[colour][p]
        self.move_array = np.full(self.padded, -1, np.int64)
        self.move_array[self.points] = np.arange(size * size)
        self.rows = size + 2  # the padded board as a (rows, stride) grid; the last index is one more border

    def gtp(self, move: int) -> str:
        """The GTP vertex of a move ("A9", "pass")."""
        if move == self.size * self.size:
            return "pass"
        r, c = divmod(move, self.size)
        return f"{COLUMNS[c]}{self.size - r}"

    def parse_gtp(self, vertex: str) -> int:
        """The move of a GTP vertex ("D4", "d4", "pass"); `GameError` names a malformed one."""
        text = vertex.strip().upper()
        if text == "PASS":
            return self.size * self.size
        if len(text) < 2 or text[0] not in COLUMNS[:self.size] or not text[1:].isdigit():
            raise GameError(f"a vertex is a column letter A-{COLUMNS[self.size - 1]} (no I) and a row "
                            f"1-{self.size}, or 'pass'; got {vertex!r}")
        row = int(text[1:])
        if not 1 <= row <= self.size:
            raise GameError(f"row {row} is off the {self.size}×{self.size} board in {vertex!r}")
        return (self.size - row) * self.size + COLUMNS.index(text[0])


_GEOMETRIES: dict[int, Geometry] = {}


def geometry(size: int) -> Geometry:
    if size not in _GEOMETRIES:
        _GEOMETRIES[size] = Geometry(size)
    return _GEOMETRIES[size]


def _group(board: bytes | bytearray, p: int, g: Geometry) -> tuple[list[int], set[int]]:
    """The stones of the group at p and its liberties (flood fill)."""
    colour = board[p]
    stones, liberties, todo, seen = [], set(), [p], {p}
    while todo:
        q = todo.pop()
        stones.append(q)
        for n in g.neighbours[q]:
            v = board[n]
            if v == EMPTY:
                liberties.add(n)
            elif v == colour and n not in seen:
                seen.add(n)
                todo.append(n)
    return stones, liberties


class GoPosition:
    """An immutable Go position: the board, who is to move, and the history that superko needs."""

    def __init__(self, game: Go, board: bytes, to_play: int, passes: int, moves_played: int,
                 hash_: int, seen: frozenset[int], last_move: int | None) -> None:
        self.game = game
        self.board = board
        self.to_play = to_play  # 0 Black, 1 White
        self.passes = passes  # consecutive passes just played
        self.moves_played = moves_played
        self.hash = hash_  # Zobrist hash of the board
        self.seen = seen  # hashes of every board so far, this one included
        self.last_move = last_move

    # ------------------------------------------------------------------ groups and legality
    @cached_property
    def _labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Every group at once, vectorised: (padded,) the label of the group at each point (Black's
        1 … b, White's b + 1 … b + w, 0 where there is no stone), and (b + w + 1,) each label's
        liberties (label 0: 0). A group's liberties are the distinct empty points next to any of
        its stones: the distinct (label, empty point) pairs over the 4 neighbours of every empty point."""
        from scipy import ndimage  # here: scipy.ndimage takes 0.4 s to import, a tenth of a command's start

        g = self.game.geometry
        board = np.frombuffer(self.board, np.uint8)
        grid = board[:g.rows * g.stride].reshape(g.rows, g.stride)
        black, n_black = ndimage.label(grid == BLACK)  # 4-connected: the cross structuring element
        white, n_white = ndimage.label(grid == WHITE)
        labels = np.zeros(g.padded, np.int64)
        labels[:grid.size] = (black + np.where(white > 0, white + n_black, 0)).reshape(-1)
        empty = g.points[board[g.points] == EMPTY]
        pairs = np.unique(labels[empty[:, None] + g.offsets] * g.padded + empty[:, None])  # (label, point)
        liberties = np.bincount(pairs // g.padded, minlength=n_black + n_white + 1)
        liberties[0] = 0
        return labels, liberties

    def _group_at(self, p: int) -> tuple[list[int], set[int]]:
        """The stones and liberties of the group at padded point p, flood-filled once per position
        and group (a rollout asks about a few groups a move, not all of them)."""
        cache: dict[int, tuple[list[int], set[int]]] = self.__dict__.setdefault("_group_cache", {})
        found = cache.get(p)
        if found is None:
            found = _group(self.board, p, self.game.geometry)
            for q in found[0]:
                cache[q] = found
        return found

    def _outcome(self, p: int) -> tuple[int, list[int]] | None:
        """The board hash after the mover plays padded point p and the stones it captures; None if
        the point is taken or the move is suicide (superko is the caller's check)."""
        board = self.board
        if board[p] != EMPTY:
            return None
        g = self.game.geometry
        me = BLACK + self.to_play
        captured: list[int] = []
        breathes = False
        for n in g.neighbours[p]:
            v = board[n]
            if v == EMPTY:
                breathes = True
            elif v == BORDER:
                continue
            elif v == me:
                if not breathes and len(self._group_at(n)[1]) > 1:
                    breathes = True
            else:
                stones, liberties = self._group_at(n)
                if len(liberties) == 1 and stones[0] not in captured:
                    captured.extend(stones)
        if not breathes and not captured:
            return None
        h = self.hash ^ g.zobrist[me][p]
        them = WHITE if me == BLACK else BLACK
        for q in captured:
            h ^= g.zobrist[them][q]
        return h, captured

    def random_move(self, rng: np.random.Generator) -> int:
        """A uniformly random legal move that does not fill an own eye, or the pass when none is
        left: the random player's move, found by trying the empty points in random order (a few
        legality checks instead of the whole legal-move list)."""
        g = self.game.geometry
        board = self.board
        empty = [m for m, p in enumerate(g.point) if board[p] == EMPTY]
        return self.first_playable([empty[k] for k in rng.permutation(len(empty))])

    def first_playable(self, moves: Iterable[int]) -> int:
        """The first of `moves` (points) that is legal and does not fill an own eye, or the pass when
        none is: how rollouts draw a move from an order without listing every legal move."""
        g = self.game.geometry
        for m in moves:
            m = int(m)
            if self.fills_own_eye(m):
                continue
            outcome = self._outcome(g.point[m])
            if outcome is not None and outcome[0] not in self.seen:
                return m
        return self.game.pass_move

    @cached_property
    def _legal(self) -> list[int]:
        """The legal moves, vectorised over the empty points: a point is playable when it has an
        empty neighbour, an own neighbouring group with ≥ 2 liberties, or an opponent's neighbouring
        group with 1 (a capture); then the board it makes (the hash: the stone in, the captured
        groups out) must be new (positional superko)."""
        if self.is_terminal():
            return []
        g = self.game.geometry
        board = np.frombuffer(self.board, np.uint8)
        labels, liberties = self._labels
        empty = g.points[board[g.points] == EMPTY]  # (K,)
        around = empty[:, None] + g.offsets  # (K, 4)
        colour, libs = board[around], liberties[labels[around]]
        me = BLACK + self.to_play
        them = WHITE if me == BLACK else BLACK
        takes = (colour == them) & (libs == 1)  # (K, 4)
        playable = (colour == EMPTY).any(1) | ((colour == me) & (libs >= 2)).any(1) | takes.any(1)
        hashes = self.hash ^ g.zobrist_array[me][empty]  # (K,) the stone placed
        captured: dict[int, int] = {}  # label -> the XOR of its stones' words
        for k in np.flatnonzero(takes.any(1)):
            for label in set(labels[around[k][takes[k]]].tolist()):
                if label not in captured:
                    captured[label] = int(np.bitwise_xor.reduce(g.zobrist_array[them][labels == label]))
                hashes[k] ^= captured[label]
        seen = self.seen
        moves = [int(g.move_array[p]) for p, h in zip(empty[playable].tolist(), hashes[playable].tolist())
                 if h not in seen]  # in point order, as `empty`
        moves.append(self.game.pass_move)
        return moves

    def legal_moves(self) -> list[int]:
        """The legal points and the pass (always legal until the game ends)."""
        return list(self._legal)

    def is_legal(self, move: int) -> bool:
        return move in self._legal

    def why_illegal(self, move: int) -> str | None:
        """None for a legal move, else the rule it breaks ("occupied", "suicide", "superko", …)."""
        g = self.game.geometry
        if not isinstance(move, (int, np.integer)) or not 0 <= move <= self.game.pass_move:
            return f"not a move: {move!r} (expected 0-{self.game.pass_move}, {self.game.pass_move} the pass)"
        if self.is_terminal():
            return "the game is over"
        if move == self.game.pass_move:
            return None
        p = g.point[int(move)]
        if self.board[p] != EMPTY:
            return f"{g.gtp(int(move))} is occupied"
        outcome = self._outcome(p)
        if outcome is None:
            return f"{g.gtp(int(move))} is suicide"
        if outcome[0] in self.seen:
            return f"{g.gtp(int(move))} repeats an earlier position (positional superko)"
        return None

    # ------------------------------------------------------------------ playing
    def play(self, move: int) -> GoPosition:
        reason = self.why_illegal(move)
        if reason is not None:
            raise GameError(f"illegal move for {'Black' if self.to_play == 0 else 'White'}: {reason}\n{self}")
        game = self.game
        if move == game.pass_move:
            return GoPosition(game, self.board, 1 - self.to_play, self.passes + 1, self.moves_played + 1,
                              self.hash, self.seen, int(move))
        p = game.geometry.point[int(move)]
        outcome = self._outcome(p)
        assert outcome is not None
        h, captured = outcome
        board = bytearray(self.board)
        board[p] = BLACK + self.to_play
        for q in captured:
            board[q] = EMPTY
        return GoPosition(game, bytes(board), 1 - self.to_play, 0, self.moves_played + 1, h,
                          self.seen | {h}, int(move))

    def is_terminal(self) -> bool:
        return self.passes >= 2 or self.moves_played >= self.game.max_moves

    def with_to_play(self, to_play: int) -> GoPosition:
        """The same board and history with `to_play` to move and no passes pending: GTP lets a
        controller play either colour at any time, and go on playing after two passes."""
        if to_play not in (0, 1):
            raise GameError(f"to_play is 0 (Black) or 1 (White), got {to_play!r}")
        if to_play == self.to_play and self.passes == 0:
            return self
        return GoPosition(self.game, self.board, to_play, 0, self.moves_played, self.hash, self.seen, self.last_move)

    def fills_own_eye(self, move: int) -> bool:
        """Whether `move` puts a stone on a point all of whose neighbours are the mover's stones (or
        the edge): the one move random play and rollouts never make."""
        g = self.game.geometry
        if move == self.game.pass_move:
            return False
        me = BLACK + self.to_play
        return all(self.board[n] in (me, BORDER) for n in g.neighbours[g.point[move]])

    # ------------------------------------------------------------------ scoring
    def area(self, dead: Iterable[int] = ()) -> tuple[int, int]:
        """(Black's area, White's area): stones plus the empty regions that reach only that colour;
        the stones at `dead` (moves) are first taken off the board (as a scorer who agreed them dead
        would; the rules themselves, Tromp-Taylor, count every stone left on the board)."""
        g = self.game.geometry
        board: bytes | bytearray = self.board
        if dead:
            cleared = bytearray(board)
            for move in dead:
                cleared[g.point[move]] = EMPTY
            board = cleared
        counts = [0, 0, 0, 0]
        for p in g.point:
            counts[board[p]] += 1
        black, white = counts[BLACK], counts[WHITE]
        seen: set[int] = set()
        for p in g.point:
            if board[p] != EMPTY or p in seen:
                continue
            region, reaches, todo = 0, set(), [p]
            seen.add(p)
            while todo:
                q = todo.pop()
                region += 1
                for n in g.neighbours[q]:
                    v = board[n]
                    if v == EMPTY:
                        if n not in seen:
                            seen.add(n)
                            todo.append(n)
                    elif v != BORDER:
                        reaches.add(v)
            if reaches == {BLACK}:
                black += region
            elif reaches == {WHITE}:
                white += region
        return black, white

    def score(self, dead: Iterable[int] = ()) -> float:
        """Black's area − White's area − komi: > 0 Black leads, < 0 White leads (`dead`: see `area`)."""
        black, white = self.area(dead)
        return black - white - self.game.komi

    def winner(self) -> int | None:
        """0 Black, 1 White, None for a draw (an integer komi allows one)."""
        s = self.score()
        return 0 if s > 0 else 1 if s < 0 else None

    def terminal_value(self) -> float:
        winner = self.winner()
        return 0.0 if winner is None else 1.0 if winner == self.to_play else -1.0

    def result(self, dead: Iterable[int] = ()) -> str:
        """The SGF/GTP result: "B+3.0", "W+7.0", "0" for a draw (`dead`: see `area`)."""
        s = self.score(dead)
        return "0" if s == 0 else f"B+{s:g}" if s > 0 else f"W+{-s:g}"

    # ------------------------------------------------------------------ views
    def stone(self, move: int) -> int:
        """EMPTY, BLACK or WHITE at a point."""
        return self.board[self.game.geometry.point[move]]

    def colours(self) -> np.ndarray:
        """(N, N) int8: 0 empty, 1 Black, 2 White; row 0 at the top."""
        g = self.game.geometry
        return np.frombuffer(self.board, np.uint8)[g.stride:g.stride * (g.size + 1)].reshape(
            g.size, g.stride)[:, :g.size].astype(np.int8)

    def planes(self) -> np.ndarray:
        g = self.game.geometry
        n = g.size
        out = np.zeros((PLANES, n, n), np.float32)
        colours = self.colours()
        me, them = BLACK + self.to_play, WHITE - self.to_play
        out[0] = colours == me
        out[1] = colours == them
        out[2] = colours == EMPTY
        labels, liberties = self._labels
        flat = out.reshape(PLANES, n * n)
        board = np.frombuffer(self.board, np.uint8)[g.points]  # (N²,)
        libs = np.minimum(liberties[labels[g.points]], 3)  # 1, 2 or 3 (≥ 3) at stones
        for base, colour in ((3, me), (6, them)):
            at = np.flatnonzero(board == colour)
            flat[base + libs[at] - 1, at] = 1.0
        legal = self._legal
        flat[9, legal[:-1]] = 1.0
        if self.to_play == 0:
            out[10] = 1.0
        return out

    def key(self) -> tuple:
        return (self.board, self.to_play, self.passes, self.seen)

    def __str__(self) -> str:
        g = self.game.geometry
        rows = []
        for r in range(g.size):
            cells = " ".join(".XO"[self.board[g.point[r * g.size + c]]] for c in range(g.size))
            rows.append(f"{g.size - r:2d} {cells}")
        rows.append("   " + " ".join(COLUMNS[:g.size]))
        return "\n".join(rows)


class Go:
    """The game of Go on an N×N board with komi; `Game` interface for search and training."""

    def __init__(self, size: int = 9, komi: float = 7.0, max_moves: int | None = None) -> None:
        self.geometry = geometry(size)
        if not isinstance(komi, (int, float)) or not math.isfinite(komi) or (2 * komi) % 1:
            raise GameError(f"komi is a whole or half number (7, 7.5, −0.5, …), got {komi!r}")
        self.size = size
        self.komi = float(komi)
        self.max_moves = 3 * size * size if max_moves is None else int(max_moves)
        if self.max_moves < 1:
            raise GameError(f"max_moves must be ≥ 1, got {max_moves!r}")
        self.name = f"go{size}"
        self.pass_move = size * size
        self.num_moves = size * size + 1
        self.planes_shape = (PLANES, size, size)

    def initial(self) -> GoPosition:
        return GoPosition(self, self.geometry.empty, 0, 0, 0, 0, frozenset({0}), None)

    def from_moves(self, moves: Sequence[int]) -> GoPosition:
        position = self.initial()
        for k, move in enumerate(moves):
            reason = position.why_illegal(move)
            if reason is not None:
                raise GameError(f"move {k + 1} ({move}): {reason}")
            position = position.play(move)
        return position

    def setup(self, black: Sequence[int] = (), white: Sequence[int] = (), to_play: int = 0) -> GoPosition:
        """A position with stones placed (SGF's AB/AW, handicap stones), as the start of a game.

        Groups without liberties are refused: such a board cannot arise in play."""
        g = self.geometry
        board = bytearray(g.empty)
        h = 0
        for colour, points in ((BLACK, black), (WHITE, white)):
            for m in points:
                if not isinstance(m, (int, np.integer)) or not 0 <= m < self.pass_move:
                    raise GameError(f"setup stones are points 0-{self.pass_move - 1}, got {m!r}")
                p = g.point[int(m)]
                if board[p] != EMPTY:
                    raise GameError(f"setup places two stones on {g.gtp(int(m))}")
                board[p] = colour
                h ^= g.zobrist[colour][p]
        for p in g.point:
            if board[p] in (BLACK, WHITE) and not _group(board, p, g)[1]:
                raise GameError(f"the setup leaves the group at {g.gtp(g.move_of[p])} without liberties")
        if to_play not in (0, 1):
            raise GameError(f"to_play is 0 (Black) or 1 (White), got {to_play!r}")
        return GoPosition(self, bytes(board), to_play, 0, 0, h, frozenset({h}), None)

    def from_ascii(self, text: str, to_play: int = 0) -> GoPosition:
        """A position from rows of 'X' (Black), 'O' (White), '.' (empty), top row first; spaces ignored,
        as the rules tests draw boards."""
        rows = [line.replace(" ", "") for line in text.strip().splitlines()]
        if len(rows) != self.size or any(len(row) != self.size for row in rows):
            raise GameError(f"expected {self.size} rows of {self.size} points, got {[len(r) for r in rows]}")
        black, white = [], []
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch not in "XO.":
                    raise GameError(f"row {r + 1} column {c + 1}: {ch!r} is not X, O or .")
                if ch == "X":
                    black.append(r * self.size + c)
                elif ch == "O":
                    white.append(r * self.size + c)
        return self.setup(black, white, to_play)

    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The 8 symmetries of the square (rotations, reflections); the pass stays last."""
        n = self.size
        board_policy = policy[:n * n].reshape(n, n)
        out = []
        for flip in (False, True):
            p, q = (planes[:, :, ::-1], board_policy[:, ::-1]) if flip else (planes, board_policy)
            for k in range(4):
                pk = np.rot90(p, k, axes=(1, 2))
                qk = np.rot90(q, k)
                out.append((np.ascontiguousarray(pk), np.concatenate([qk.reshape(-1), policy[n * n:]])))
        return out
