"""SGF FF[4]: hand-written files (variations, handicap, passes, escapes) read to the exact record,
records written and read back unchanged, garbage refused with the line, column and reason."""
from __future__ import annotations

import numpy as np
import pytest

from milestones.games.go import Go
from milestones.go.sgf import GameRecord, SgfError, parse, read_game, write_game

HAND_WRITTEN = r"""(;FF[4]GM[1]SZ[9]KM[7]RU[Chinese]PB[Alice]PW[Bob]RE[W+7]
C[a comment with \] and \\ and a soft\
break]
;B[ee];W[gc]
(;B[cg]C[main line];W[]
 ;B[tt])
(;B[cc];W[gg]))
(;GM[1]SZ[5];B[cc])
"""


def test_a_hand_written_file_reads_to_the_exact_trees_and_main_line():
    trees = parse(HAND_WRITTEN)
    assert len(trees) == 2
    first = trees[0]
    assert [list(n.properties) for n in first.nodes] == [["FF", "GM", "SZ", "KM", "RU", "PB", "PW", "RE", "C"],
                                                        ["B"], ["W"]]
    assert first.nodes[0].properties["C"] == ["a comment with ] and \\ and a softbreak"]
    assert len(first.variations) == 2 and first.variations[1].nodes[0].properties == {"B": ["cc"]}
    record = read_game(HAND_WRITTEN)
    go = Go(9)
    assert record.size == 9 and record.komi == 7.0 and record.result == "W+7"
    assert (record.black, record.white, record.rules) == ("Alice", "Bob", "Chinese")
    # ee = E5 (column e, row e from the top), gc = G7, cg = C3; W[] and B[tt] are passes
    assert record.moves == [go.geometry.parse_gtp(v) for v in ("E5", "G7", "C3", "pass", "pass")]
    positions = record.positions()
    assert len(positions) == 6 and positions[-1].is_terminal()


def test_handicap_stones_and_rectangles():
    record = read_game("(;GM[1]FF[4]SZ[9]HA[4]KM[0.5]AB[cc][gc][cg][gg];W[ee];B[ed])")
    g = Go(9).geometry
    assert sorted(record.black_setup) == sorted(g.parse_gtp(v) for v in ("C7", "G7", "C3", "G3"))
    assert record.first_to_play == 1  # White moves first after handicap stones
    assert record.moves == [g.parse_gtp("E5"), g.parse_gtp("E6")]
    assert record.extra["HA"] == "4"
    start = record.positions()[0]
    assert start.to_play == 1 and str(start).splitlines()[2] == " 7 . . X . . . X . ."
    rectangle = read_game("(;GM[1]SZ[5]AB[aa:bc]AW[ee];B[dd])")
    assert sorted(rectangle.black_setup) == [0, 1, 5, 6, 10, 11]
    assert rectangle.first_to_play == 0  # both colours set up, no PL: Black, the default


def test_records_round_trip_through_write_and_read():
    rng = np.random.default_rng(0)
    go = Go(9, komi=7.0)
    for trial in range(20):
        position, moves = go.initial(), []
        for _ in range(int(rng.integers(0, 120))):
            if position.is_terminal():
                break
            move = int(rng.choice(position.legal_moves()))
            moves.append(move)
            position = position.play(move)
        record = GameRecord(size=9, komi=7.0, moves=moves, result=position.result() if position.is_terminal() else "",
                            black="ours [x]", white="gnugo\\3.8", extra={"C": f"trial {trial}"})
        text = write_game(record)
        assert read_game(text) == record
        assert read_game(text).positions()[-1].key() == position.key()
    handicap = GameRecord(size=9, komi=0.5, black_setup=[20, 24], first_to_play=1, moves=[40, 81])
    assert read_game(write_game(handicap)) == handicap
    white_first = GameRecord(size=9, first_to_play=1, moves=[40])
    assert "PL[W]" in write_game(white_first) and read_game(write_game(white_first)) == white_first


@pytest.mark.parametrize("text,why", [
    ("", r"line 1, column 1: expected '\(' to start a game tree, found the end of the file"),
    ("(;B[aa]", r"line 1, column 8: expected a property identifier, ';', '\(' or '\)', found the end of the file"),
    ("(;B[aa];W[bb](;B[cc])", r"line 1, column 22: expected '\)' to close the game tree"),
    ("(;B[aa)", r"line 1, column 4: the value opened here has no closing '\]'"),
    ("(;FF[4]\n;B[aa]x)", r"line 2, column 7: expected a property identifier in upper-case letters, found 'x'"),
    ("(;B[aa])garbage", r"expected '\(' or the end of the file after a game tree"),
    ("(;B)", r"expected '\[' to start a value of property B"),
    ("(;B[aa]B[bb])", r"property B appears twice"),
    ("()", r"expected ';' to start the tree's first node"),
    ("(;GM[2])", r"GM\[2\] is not Go"),
    ("(;SZ[9:5])", r"SZ\[9:5\] is not a square board size"),
    ("(;SZ[9]KM[seven])", r"KM\[seven\] is not a number"),
    ("(;SZ[9];B[zz])", r"SGF node 2 \(line 1\): 'zz' is not a point of the 9×9 board"),
    ("(;SZ[9];B[aa];B[bb])", r"node 3 \(line 1\): B moves, but it is W's turn"),
    ("(;SZ[9];B[aa];W[aa])", r"move 2 \(W A9\): A9 is occupied"),
    ("(;SZ[9];B[aa]W[bb])", r"one node holds both a B and a W move"),
    ("(;SZ[9]AB[aa:zz])", r"'zz' is not a point"),
    ("(;SZ[9]AB[])", r"a setup list holds points, not a pass"),
    ("(;SZ[9];B[aa];AB[cc])", r"setup stones after the first move"),
    ("(;SZ[3]AB[ab][ba]AW[aa])", r"the setup stones: the setup leaves the group at A3 without liberties"),
])
def test_garbage_is_refused_with_the_place_and_the_reason(text, why):
    with pytest.raises(SgfError, match=why):
        read_game(text).positions()


def test_deep_nesting_reads_without_recursion():
    text = "(;C[x]" * 20_000 + ")" * 20_000
    assert len(parse(text)[0].main_line()) == 20_000


def test_a_position_draws_as_svg_with_every_stone_and_the_last_move():
    import xml.etree.ElementTree as ET

    from milestones.go.svg import position_svg, star_points

    record = read_game(HAND_WRITTEN)
    position = record.positions()[3]  # after E5, G7, C3
    root = ET.fromstring(position_svg(position, title="a <test> & more"))
    circles = root.findall("{http://www.w3.org/2000/svg}circle")
    stones = [c for c in circles if c.get("class") == "stone"]
    assert len(stones) == 3 and sorted(c.get("fill") for c in stones) == ["black", "black", "white"]
    last = [c for c in circles if c.get("class") == "last"]
    # C3 is column 2, row 6 from the top: x = 36 + 2·32, y = 24 (title) + 36 + 6·32
    assert len(last) == 1 and (last[0].get("cx"), last[0].get("cy")) == ("100", "252")
    assert star_points(9) == [(2, 2), (2, 6), (6, 2), (6, 6), (4, 4)] and len(star_points(19)) == 9
    assert star_points(5) == [(2, 2)]
