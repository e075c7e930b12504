"""The games against independent references: tic-tac-toe enumerated and solved outright (5 478
positions, 958 of them final, 255 168 games, a draw), its 8 symmetries checked on every position;
Connect Four's bitboards against a literal 6×7 array on random games, its rules against Pons' six
test sets (every full column where Pons marks one) and against his scores (a literal weak solver
on End-Easy positions gives each move the outcome his score says); malformed input refused."""
import functools

import numpy as np
import pytest

from milestones.games import Connect4, GameError, TicTacToe, tictactoe
from milestones.games.game import stack_planes
from milestones.games.pons import SETS, load_set, parse_line, set_path
from milestones.games.tictactoe import parse

# ---- tic-tac-toe ------------------------------------------------------------------------------------


def all_positions(game):
    seen, stack = {}, [game.initial()]
    while stack:
        p = stack.pop()
        if p.key() in seen:
            continue
        seen[p.key()] = p
        stack.extend(p.play(m) for m in p.legal_moves())
    return seen


def count_games(p):
    if p.is_terminal():
        return 1
    return sum(count_games(p.play(m)) for m in p.legal_moves())


@functools.lru_cache(maxsize=None)
def minimax(p):
    """The value for the player to move, by exhaustive search."""
    if p.is_terminal():
        return p.terminal_value()
    return max(-minimax(p.play(m)) for m in p.legal_moves())


def test_tictactoe_has_the_known_counts_and_is_a_draw():
    game = TicTacToe()
    positions = all_positions(game)
    assert len(positions) == 5478
    assert [p.key() for p in tictactoe.all_positions()] == sorted(positions)
    assert all(tictactoe.solve(p) == minimax(p) for p in positions.values())  # the library's solver
    assert sum(p.is_terminal() for p in positions.values()) == 958
    assert count_games(game.initial()) == 255168
    assert minimax(game.initial()) == 0.0


def test_tictactoe_boards_as_written():
    won = parse("XXX OO. ...")
    assert won.is_terminal() and won.terminal_value() == -1.0 and won.to_play == 1 and won.legal_moves() == []
    full = parse("XOX XOO OXX")
    assert full.is_terminal() and full.terminal_value() == 0.0
    corners = parse("X.. .O. ..X")  # X has one stone more: O to move, and O holds the draw
    assert corners.to_play == 1 and minimax(corners) == 0.0
    assert minimax(parse("X.. ... ...")) == 0.0 and minimax(parse("XO. ... ...")) == 1.0
    assert str(parse("X.O .X. ...")) == "X.O\n.X.\n..."
    np.testing.assert_array_equal(parse("X.O .X. ...").planes()[0], [[0, 0, 1], [0, 0, 0], [0, 0, 0]])  # O's turn


def test_tictactoe_symmetries_map_positions_moves_and_values():
    game = TicTacToe()
    for p in all_positions(game).values():
        policy = np.arange(9, dtype=np.float32)
        images = game.symmetries(p.planes(), policy)
        assert len(images) == 8
        np.testing.assert_array_equal(images[0][0], p.planes())
        for maps, (planes, moved) in zip(game.cell_maps, images):
            x = sum(1 << int(maps[k]) for k in range(9) if p.x >> k & 1)
            o = sum(1 << int(maps[k]) for k in range(9) if p.o >> k & 1)
            image = type(p)(x, o)
            np.testing.assert_array_equal(planes, image.planes())
            assert sorted(int(maps[m]) for m in p.legal_moves()) == image.legal_moves()
            assert all(moved[maps[k]] == k for k in range(9))
            assert minimax(image) == minimax(p)


def test_bad_tictactoe_input_is_refused():
    with pytest.raises(GameError, match="cell 4 is taken"):
        parse("... .X. ...").play(4)
    with pytest.raises(GameError, match="cell 0-8"):
        TicTacToe().initial().play(9)
    with pytest.raises(GameError, match="game is over"):
        parse("XXX OO. ...").play(8)
    with pytest.raises(GameError, match="9 cells"):
        parse("XX. ...")
    with pytest.raises(GameError, match="X moves first"):
        parse("OO. ... ...")
    with pytest.raises(GameError, match="move 3 \\(0\\) is not legal"):
        TicTacToe().from_moves([0, 1, 0])


# ---- Connect Four against a literal board --------------------------------------------------------------


def literal_win(board, player):
    """Four of `player` in a row anywhere on a (6, 7) array (row 0 the top), every window scanned."""
    for r in range(6):
        for c in range(7):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= i < 6 and 0 <= j < 7 and board[i, j] == player for i, j in cells):
                    return True
    return False


def test_connect4_bitboards_equal_a_literal_board_on_random_games():
    game, rng = Connect4(), np.random.default_rng(0)
    ended = {"win": 0, "draw": 0}
    every, literal = [], []
    for _ in range(300):
        p, board, moves = game.initial(), np.zeros((6, 7), np.int64), []
        while not p.is_terminal():
            legal = [c for c in range(7) if board[0, c] == 0]
            assert p.legal_moves() == legal
            move = int(rng.choice(legal))
            player = p.to_play + 1
            row = max(r for r in range(6) if board[r, move] == 0)
            board[row, move] = player
            p, moves = p.play(move), moves + [move]
            assert p.won == literal_win(board, player)
            mine, theirs = (board == p.to_play + 1), (board == 2 - p.to_play)
            np.testing.assert_array_equal(p.planes(), np.stack([mine, theirs]).astype(np.float32))
            every.append(p)
            literal.append(np.stack([mine, theirs]).astype(np.float32))
            mirrored = game.from_moves([6 - m for m in moves])
            np.testing.assert_array_equal(game.symmetries(p.planes(), np.zeros(7))[1][0], mirrored.planes())
        ended["win" if p.won else "draw"] += 1
        assert p.legal_moves() == [] and p.terminal_value() == (-1.0 if p.won else 0.0)
        assert p.won or p.moves == 42
    assert ended["win"] > 250  # random play rarely fills the board
    # the batched planes (one unpacking of every bitboard) equal the literal boards, position by position
    np.testing.assert_array_equal(stack_planes(every), np.stack(literal))
    ttt = [TicTacToe().initial().play(4), TicTacToe().initial()]  # a game without planes_many: stacked one by one
    np.testing.assert_array_equal(stack_planes(ttt), np.stack([q.planes() for q in ttt]))


def test_bad_connect4_input_is_refused():
    game = Connect4()
    with pytest.raises(GameError, match="column 3 is full"):
        game.from_moves([3] * 6).play(3)
    with pytest.raises(GameError, match="column 0-6"):
        game.initial().play(7)
    with pytest.raises(GameError, match="character 3 is '8'"):
        game.from_pons("448")
    with pytest.raises(GameError, match="game was already over"):
        game.from_moves([0, 1, 0, 1, 0, 1, 0, 1])


# ---- Pons' test sets --------------------------------------------------------------------------------------


@pytest.fixture
def pons(shared_data):
    return shared_data("connect4", files=tuple(f"Test_{s}.moves.txt" for s in SETS))


def test_every_pons_position_agrees_with_our_rules(pons):
    """6 000 positions: each is reached legally, is not over, and its full columns are the ones Pons marks."""
    for name in SETS:
        entries = load_set(set_path(pons, name))
        assert len(entries) == 1000
        for e in entries:  # the best score is among the best outcomes, and a losing move never has it
            optimal = [m for m in range(7) if e.scores[m] is not None and e.is_optimal(m)]
            assert optimal and set(optimal) <= set(e.best_moves())


def weak_value(p, cache):
    """-1, 0 or +1 for the player to move, by alpha-beta over our rules (a literal solver for the test)."""
    if p.is_terminal():
        return int(p.terminal_value())
    key = p.key()
    if key not in cache:
        best = -1
        for m in sorted(p.legal_moves(), key=lambda c: abs(3 - c)):  # the centre first
            best = max(best, -weak_value(p.play(m), cache))
            if best == 1:
                break
        cache[key] = best
    return cache[key]


def test_pons_scores_give_each_move_the_outcome_a_solver_finds(pons):
    """100 End-Easy positions (more than 28 stones, under 14 moves left), every legal move solved."""
    entries = load_set(set_path(pons, "L3_R1"))[:100]
    for e in entries:
        p, cache = e.position(), {}
        for move in p.legal_moves():
            ours = -weak_value(p.play(move), cache)
            assert ours == int(np.sign(-e.scores[move])), (e.moves, move)


def test_malformed_pons_lines_are_refused(tmp_path):
    for line, message in (("4453", "expected '<moves> s1"), ("4459 1,2,3,4,5,6,7", "columns 1-7"),
                          ("4453 1,2,3", "expected 7 scores"), ("4453 1,2,x,4,5,6,7", "7 integers"),
                          ("4453 43,43,43,43,43,43,43", "every column is marked full")):
        with pytest.raises(GameError, match=message):
            parse_line(line, "f:1")
    bad = tmp_path / "Test_L3_R1.moves.txt"
    bad.write_text("111111 1,2,3,4,5,6,7\n")  # column 1 is full but not marked
    with pytest.raises(GameError, match=r"moves.txt:1: columns marked full \[\] but the board's full columns are \[0\]"):
        load_set(bad)
    bad.write_text("1212121 1,2,3,4,5,6,7\n")  # the first player has won
    with pytest.raises(GameError, match="already over"):
        load_set(bad)


def test_the_pons_download_fetches_checks_and_renames(pons, tmp_path):
    """`milestones download connect4` against a local mirror that serves the files under their
    source's names (Test_<set>.txt)."""
    import shutil
    import subprocess
    import sys
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in SETS:
        shutil.copy(pons / f"Test_{name}.moves.txt", mirror / f"Test_{name}.txt")
    cmd = [sys.executable, "-m", "milestones", "download", "connect4", "--data-dir", str(tmp_path / "data"),
           "--url", mirror.as_uri()]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("downloaded, MD5 checked") == 6
    assert len(load_set(set_path(tmp_path / "data" / "connect4", "L1_R3"))) == 1000
