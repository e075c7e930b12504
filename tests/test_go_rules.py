"""Go rules: boards drawn in ASCII with the exact result, and random games against a literal reference.

The reference below is the textbook reading of the rules, written for clarity, not speed: a 2-D
list, flood fills from scratch for every question, and every earlier board kept as a tuple for
positional superko (no hashing). Our engine must agree with it on every legal-move list and every
score of many random games."""
from __future__ import annotations

import numpy as np
import pytest

from milestones.games.game import GameError
from milestones.games.go import Go


# ---------------------------------------------------------------------------------------- reference
def ref_neighbours(n, r, c):
    return [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)) if 0 <= r + dr < n and 0 <= c + dc < n]


def ref_group(board, r, c):
    n, colour = len(board), board[r][c]
    stones, liberties, todo = {(r, c)}, set(), [(r, c)]
    while todo:
        a, b = todo.pop()
        for x, y in ref_neighbours(n, a, b):
            if board[x][y] == 0:
                liberties.add((x, y))
            elif board[x][y] == colour and (x, y) not in stones:
                stones.add((x, y))
                todo.append((x, y))
    return stones, liberties


def ref_after(board, colour, r, c):
    """The board after `colour` plays (r, c), or None if the point is taken or the move is suicide."""
    if board[r][c] != 0:
        return None
    new = [row[:] for row in board]
    new[r][c] = colour
    for x, y in ref_neighbours(len(board), r, c):
        if new[x][y] == 3 - colour:
            stones, liberties = ref_group(new, x, y)
            if not liberties:
                for a, b in stones:
                    new[a][b] = 0
    if not ref_group(new, r, c)[1]:
        return None
    return new


def ref_legal(board, colour, history):
    n = len(board)
    moves = []
    for r in range(n):
        for c in range(n):
            new = ref_after(board, colour, r, c)
            if new is not None and tuple(map(tuple, new)) not in history:
                moves.append(r * n + c)
    return moves + [n * n]


def ref_area(board):
    n = len(board)
    black = sum(v == 1 for row in board for v in row)
    white = sum(v == 2 for row in board for v in row)
    seen = set()
    for r in range(n):
        for c in range(n):
            if board[r][c] or (r, c) in seen:
                continue
            region, reaches, todo = {(r, c)}, set(), [(r, c)]
            while todo:
                a, b = todo.pop()
                for x, y in ref_neighbours(n, a, b):
                    if board[x][y] == 0 and (x, y) not in region:
                        region.add((x, y))
                        todo.append((x, y))
                    elif board[x][y]:
                        reaches.add(board[x][y])
            seen |= region
            if reaches == {1}:
                black += len(region)
            elif reaches == {2}:
                white += len(region)
    return black, white


def fills_own_eye(position, move):
    """A point whose every neighbour is the mover's stone or the edge: random play leaves it empty."""
    n = position.game.size
    r, c = divmod(move, n)
    me = 1 + position.to_play
    return all(position.stone(x * n + y) == me for x, y in ref_neighbours(n, r, c))


def assert_planes_match(planes, board, colour, legal):
    """The input planes against the reference board: stones by owner, liberties 1/2/≥3 from a flood
    fill of each stone's group, the legal points, the colour plane."""
    n = len(board)
    want = np.zeros((11, n, n), np.float32)
    for r in range(n):
        for c in range(n):
            v = board[r][c]
            if v == 0:
                want[2, r, c] = 1
                continue
            mine = v == colour
            want[0 if mine else 1, r, c] = 1
            want[(3 if mine else 6) + min(len(ref_group(board, r, c)[1]), 3) - 1, r, c] = 1
    for m in legal[:-1]:
        want[9, m // n, m % n] = 1
    want[10] = colour == 1
    np.testing.assert_array_equal(planes, want)


@pytest.mark.parametrize("size,games", [(5, 120), (7, 40), (9, 15)])
def test_random_games_agree_with_the_literal_reference(size, games):
    go = Go(size, komi=7.0 if size == 9 else 0.5, max_moves=4 * size * size)
    rng = np.random.default_rng(size)
    superko_cases = captures = 0
    for _ in range(games):
        position = go.initial()
        board = [[0] * size for _ in range(size)]
        history = {tuple(map(tuple, board))}
        while not position.is_terminal():
            colour = 1 + position.to_play
            legal = ref_legal(board, colour, history)
            assert position.legal_moves() == legal, f"\n{position}"
            assert_planes_match(position.planes(), board, colour, legal)
            superko_cases += sum(ref_after(board, colour, *divmod(m, size)) is not None
                                 for m in range(size * size)) - (len(legal) - 1)
            # random play as in Monte Carlo rollouts: never fill an own eye, pass when nothing else is left
            choices = [m for m in legal[:-1] if not fills_own_eye(position, m)]
            move = int(rng.choice(choices)) if choices and rng.random() > 0.02 else go.pass_move
            if move != go.pass_move:
                new = ref_after(board, colour, *divmod(move, size))
                captures += sum(map(sum, board)) + colour > sum(map(sum, new))
                board = new
                history.add(tuple(map(tuple, board)))
            position = position.play(move)
        assert position.area() == ref_area(board)
        assert position.score() == pytest.approx(ref_area(board)[0] - ref_area(board)[1] - go.komi)
    assert captures > games  # the games exercised captures …
    if size == 5:
        assert superko_cases > 0  # … and, on the small board, superko beyond the occupied points


# ---------------------------------------------------------------------------------------- drawn boards
def test_a_capture_removes_the_stones_and_counts_for_nothing_else():
    go = Go(5)
    before = go.from_ascii("""
        . X . . .
        X O X . .
        . . . . .
        . . . . .
        . . . . .""")
    after = before.play(go.geometry.parse_gtp("B3"))  # row 3 from the bottom = third row drawn, column B
    assert str(after).splitlines()[:3] == [" 5 . X . . .", " 4 X . X . .", " 3 . X . . ."]
    assert after.to_play == 1


def test_suicide_is_illegal_unless_it_captures():
    go = Go(5)
    position = go.from_ascii("""
        . X . . .
        X . . . .
        . . . . .
        . . . . .
        . . . . .""", to_play=1)
    assert position.why_illegal(0) == "A5 is suicide"
    assert 0 not in position.legal_moves()
    with pytest.raises(GameError, match="White: A5 is suicide"):
        position.play(0)
    capture = go.from_ascii("""
        . X O . .
        X O . . .
        O . . . .
        . . . . .
        . . . . .""", to_play=1)
    assert 0 in capture.legal_moves()  # no liberty of its own, but it takes the two Black stones
    assert str(capture.play(0)).splitlines()[0] == " 5 O . O . ."


def test_simple_ko_cannot_be_retaken_at_once_but_can_after_a_threat():
    go = Go(5)
    position = go.from_ascii("""
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .""")
    taken = position.play(go.geometry.parse_gtp("C4"))  # Black takes the White stone at B4
    b4 = go.geometry.parse_gtp("B4")
    assert taken.why_illegal(b4) == "B4 repeats an earlier position (positional superko)"
    threat = taken.play(go.geometry.parse_gtp("E1")).play(go.geometry.parse_gtp("E2"))  # a threat, answered
    assert threat.to_play == 1 and threat.is_legal(b4)  # the board differs now: White may retake
    retaken = threat.play(b4)
    assert str(retaken).splitlines()[1] == " 4 X O . O ."


def test_area_scoring_counts_stones_and_surrounded_points_and_komi():
    go = Go(5, komi=0.5)
    position = go.from_ascii("""
        . X O . .
        . X O . .
        X X O . .
        . X O O O
        . X O . .""")
    # Black: 6 stones + the 4 empty points on the left; White: 7 stones + 6 empty above its wall + 2 below
    assert position.area() == (6 + 4, 7 + 6 + 2)
    assert position.score() == pytest.approx(10 - 15 - 0.5)
    assert position.result() == "W+5.5"
    dame = go.from_ascii("""
        X . O . .
        . . . . .
        . . . . .
        . . . . .
        . . . . .""")
    assert dame.area() == (1, 1)  # the empty region touches both colours: nobody's
    # a scorer who agrees a stone dead takes it off first: the lone White stone at E1 below Black's
    # wall keeps the four empty points there neutral while it stands, and gives all five to Black
    # once removed (as GNU Go's final_score does with the stones it judges dead)
    corner = go.from_ascii("""
        . . . . .
        . . . . .
        X X X X X
        . . . . .
        . . . . O""")
    assert corner.area() == (5 + 10, 1)
    e1 = go.geometry.parse_gtp("E1")
    assert corner.area([e1]) == (25, 0) and corner.result([e1]) == "B+24.5" and corner.result() == "B+13.5"
    assert corner.area() == (15, 1)  # the position itself is unchanged


def test_two_passes_end_the_game_and_the_winner_is_scored():
    go = Go(5, komi=0.5)
    position = go.initial().play(12).play(go.pass_move)
    assert not position.is_terminal()
    end = position.play(go.pass_move)
    assert end.is_terminal() and end.legal_moves() == []
    assert end.area() == (25, 0) and end.winner() == 0
    assert end.terminal_value() == -1.0  # White would move next and has lost
    with pytest.raises(GameError, match="the game is over"):
        end.play(0)
    assert Go(5, max_moves=3).from_moves([0, 1, 2]).is_terminal()


def test_an_integer_komi_allows_a_draw():
    go = Go(2, komi=0.0)
    end = go.from_moves([4, 4])
    assert end.winner() is None and end.terminal_value() == 0.0 and end.result() == "0"


def test_gtp_vertices_round_trip_and_bad_ones_are_named():
    g = Go(9).geometry
    assert [g.gtp(m) for m in (0, 8, 72, 80, 81)] == ["A9", "J9", "A1", "J1", "pass"]
    assert all(g.parse_gtp(g.gtp(m)) == m for m in range(82))
    assert g.parse_gtp("d4") == g.parse_gtp("D4") == 5 * 9 + 3
    for bad, why in (("I5", "no I"), ("K5", "no I"), ("A10", "off the"), ("A0", "off the"), ("", "column letter"),
                     ("55", "column letter")):
        with pytest.raises(GameError, match=why):
            g.parse_gtp(bad)


def test_symmetries_map_planes_and_policy_together():
    go = Go(5)
    rng = np.random.default_rng(0)
    position = go.initial()
    for _ in range(8):
        position = position.play(int(rng.choice(position.legal_moves()[:-1])))
    planes = position.planes()
    policy = np.arange(26, dtype=np.float32)
    syms = go.symmetries(planes, policy)
    assert len(syms) == 8 and np.array_equal(syms[0][0], planes)
    for p, q in syms:
        assert q[-1] == 25  # the pass stays last
        for move in range(25):  # a stone moved by the symmetry lands where the policy's entry went
            target = int(np.flatnonzero(q == move)[0])
            assert p[0].reshape(-1)[target] == planes[0].reshape(-1)[move]
    flipped = [(p, q) for p, q in syms]
    assert len({q.tobytes() for _, q in flipped}) == 8


def test_planes_from_the_view_of_the_player_to_move():
    go = Go(5)
    position = go.from_ascii("""
        X O . . .
        . . . . .
        . . . . .
        . . . . .
        . . . . .""", to_play=1)
    planes = position.planes()
    assert planes.shape == go.planes_shape == (11, 5, 5)
    assert planes[0, 0, 1] == 1 and planes[1, 0, 0] == 1  # White to move: its stones first
    assert planes[3, 0, 0] == 0 and planes[6, 0, 0] == 1  # the Black stone has one liberty
    assert planes[4, 0, 1] == 1  # the White stone has two
    assert planes[9].sum() == len(position.legal_moves()) - 1
    assert planes[10].sum() == 0  # White to move


@pytest.mark.parametrize("call,why", [
    (lambda: Go(1), "2×2 to 25×25"),
    (lambda: Go(9, komi=7.25), "whole or half"),
    (lambda: Go(9, max_moves=0), "max_moves"),
    (lambda: Go(5).from_ascii(". X"), "5 rows"),
    (lambda: Go(2).from_ascii("X Z\n. ."), "'Z' is not"),
    (lambda: Go(2).from_ascii("X O\nO ."), "without liberties"),
    (lambda: Go(5).from_moves([0, 0]), r"move 2 \(0\): A5 is occupied"),
    (lambda: Go(5).initial().play(26), "not a move"),
])
def test_bad_input_is_refused_with_the_reason(call, why):
    with pytest.raises(GameError, match=why):
        call()


def test_random_move_is_uniform_over_the_legal_moves_that_do_not_fill_an_own_eye():
    go = Go(5, komi=0.5)
    rng = np.random.default_rng(3)
    position = go.initial()
    for _ in range(14):
        position = position.play(position.random_move(rng))
    allowed = [m for m in position.legal_moves()[:-1] if not position.fills_own_eye(m)]
    draws = np.array([position.random_move(rng) for _ in range(4000)])
    counts = np.array([np.sum(draws == m) for m in allowed])
    assert counts.sum() == len(draws)  # nothing outside the allowed moves
    expected = len(draws) / len(allowed)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # uniform, within 5 standard deviations
    settled = go.from_ascii("""
        X X X X X
        X . X . X
        X X X X X
        . X . X .
        X X X X X""")
    assert settled.random_move(rng) == go.pass_move  # only own eyes left: Black passes
    assert settled.with_to_play(1).random_move(rng) == go.pass_move  # only suicides left: White passes
