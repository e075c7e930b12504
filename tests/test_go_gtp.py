"""The GTP engine driven through the protocol: exact answers to every command, a fuzz of garbled,
overlong, illegal and out-of-order lines after which it still answers correctly, time budgets kept,
and full games against GNU Go through the match runner, our engine in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from milestones.games.go import Go
from milestones.go.gtp import Clock, GtpEngine, clean
from milestones.go.match import (
    GtpProcess,
    InProcess,
    dead_stone_score,
    gnugo_command,
    normalise_score,
    play_match,
    wilson,
)
from milestones.go.players import RandomPlayer
from milestones.go.sgf import read_game


def talk(engine, *lines):
    return [engine.handle(line) for line in lines]


def test_required_commands_answer_exactly():
    engine = GtpEngine(RandomPlayer(0), name="ours", version="1.0")
    answers = talk(engine, "protocol_version", "7 name", "version", "known_command genmove",
                   "known_command fly", "boardsize 5", "clear_board", "komi 0.5", "play b C3", "play W b2",
                   "showboard", "final_score", "final_status_list alive", "final_status_list dead", "undo",
                   "final_score")
    assert answers == ["= 2\n\n", "=7 ours\n\n", "= 1.0\n\n", "= true\n\n", "= false\n\n", "=\n\n",
                       "=\n\n", "=\n\n", "=\n\n", "=\n\n",
                       "= \n 5 . . . . .\n 4 . . . . .\n 3 . . X . .\n 2 . O . . .\n 1 . . . . .\n   A B C D E\n\n",
                       "= W+0.5\n\n", "= C3 B2\n\n", "=\n\n", "=\n\n", "= B+24.5\n\n"]
    listed = engine.handle("list_commands")[2:].split()
    for required in ("protocol_version", "name", "version", "known_command", "list_commands", "quit", "boardsize",
                     "clear_board", "komi", "play", "genmove", "final_score", "time_settings", "time_left"):
        assert required in listed


def test_errors_are_answered_with_the_reason_and_the_board_is_kept():
    engine = GtpEngine(RandomPlayer(0))
    answers = talk(engine, "boardsize 5", "play b c3", "play w c3", "play b z9", "play x c3", "play b",
                   "boardsize 99", "boardsize nine", "komi abc", "komi nan", "fly away", "12 fly", "undo",
                   "undo", "undo", "time_settings 1 2", "time_left b -1 0", "final_status_list maybe")
    assert answers == [
        "=\n\n", "=\n\n", "? illegal move: C3 is occupied\n\n",
        "? invalid coordinate: a vertex is a column letter A-E (no I) and a row 1-5, or 'pass'; got 'z9'\n\n",
        "? invalid color 'x' (expected b, black, w or white)\n\n", "? syntax error: expected play COLOR VERTEX\n\n",
        "? unacceptable size\n\n", "? the board size must be an integer, got 'nine'\n\n",
        "? komi must be a number, got 'abc'\n\n", "? komi must be finite, got 'nan'\n\n",
        "? unknown command\n\n", "?12 unknown command\n\n", "=\n\n", "? cannot undo\n\n", "? cannot undo\n\n",
        "? syntax error: expected time_settings MAIN_TIME BYO_YOMI_TIME BYO_YOMI_STONES\n\n",
        "? time and stones must not be negative\n\n", "? the status is alive, dead or seki, got 'maybe'\n\n"]


def test_preprocessing_as_the_specification_asks():
    assert clean("\tplay\x01 b\x7f e5 # a comment\r") == "play b e5"
    engine = GtpEngine(RandomPlayer(0))
    assert engine.handle("   # only a comment") is None and engine.handle("") is None
    assert engine.handle("x" * 5000).startswith("? line too long (5000 characters")
    assert engine.handle("3") == "?3 missing command after the id\n\n"


def test_either_colour_may_move_and_play_goes_on_after_two_passes():
    engine = GtpEngine(RandomPlayer(0))
    assert talk(engine, "boardsize 5", "play b a1", "play b b1", "play w pass", "play b pass", "play w e5",
                "genmove w") [:6] == ["=\n\n"] * 6
    position = engine.position
    assert position.stone(20) == 1 and position.stone(21) == 1 and position.stone(4) == 2
    assert position.to_play == 0  # White just moved


def test_genmove_keeps_to_the_clock():
    go = Go(9)
    clock = Clock()
    assert clock.budget(go.initial(), cap=1.0) == 1.0  # no time set: the engine's own cap
    clock.settings(600, 30, 5)
    # main time: 600 / max(10, 81 / 2) + 30 / 5 = 20.81…, × 0.8 − 0.05, capped at 30
    assert clock.budget(go.initial(), cap=30.0) == pytest.approx((600 / 40.5 + 6) * 0.8 - 0.05)
    clock.left[0], clock.stones_left[0] = 12.0, 4  # byo-yomi: 12 s for 4 stones
    assert clock.budget(go.initial(), cap=30.0) == pytest.approx(3 * 0.8 - 0.05)
    assert clock.budget(go.initial().play(0), cap=30.0) == pytest.approx((600 / 40 + 6) * 0.8 - 0.05)  # White's
    clock.settings(0, 5, 0)  # byo-yomi time with no stones: no limit
    assert clock.budget(go.initial(), cap=2.0) == 2.0

    class Slow:
        def __init__(self):
            self.budgets = []

        def genmove(self, position, seconds):
            self.budgets.append(seconds)
            time.sleep(seconds * 0.5)
            return position.game.pass_move

    slow = Slow()
    engine = GtpEngine(slow, seconds_per_move=5.0)
    talk(engine, "time_settings 60 0 0", "time_left b 20 0")
    start = time.perf_counter()
    assert engine.handle("genmove b") == "= pass\n\n"
    assert slow.budgets == [pytest.approx(20 / 40.5 * 0.8 - 0.05)]  # 0.345 s
    assert time.perf_counter() - start < slow.budgets[0]


def test_fuzz_ten_thousand_lines_then_still_correct():
    rng = np.random.default_rng(0)
    engine = GtpEngine(RandomPlayer(0), seconds_per_move=0.01)
    words = ["play", "genmove", "boardsize", "komi", "undo", "clear_board", "final_score", "showboard", "time_left",
             "time_settings", "known_command", "reg_genmove", "final_status_list", "list_commands", "name", "b", "w",
             "white", "pass", "resign", "A1", "e5", "T19", "Z0", "-3", "7.5", "1e309", "nan", "0", "5", "19", "#", "\t",
             "\x00", "\x1b[2J", "ä", "=", "?", "999999999999999999999"]
    internal = 0
    for k in range(10_000):
        kind = k % 4
        if kind == 0:  # random bytes
            line = bytes(rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8)).decode("latin-1")
        elif kind == 1:  # random words
            line = " ".join(rng.choice(words, int(rng.integers(1, 6))))
        elif kind == 2:  # overlong, or a valid command with a stray id
            line = "play b " + "a" * int(rng.integers(1, 9000)) if rng.random() < 0.3 else \
                f"{int(rng.integers(0, 99))} {rng.choice(words[:15])} {rng.choice(words[15:])}"
        else:  # moves in any order, by either colour, legal or not
            line = f"play {rng.choice(['b', 'w'])} {rng.choice(list('ABCDEFGHJ'))}{int(rng.integers(0, 11))}"
        answer = engine.handle(line)
        assert answer is None or (answer[0] in "=?" and answer.endswith("\n\n")), (line, answer)
        internal += answer is not None and "internal error" in answer
    assert internal == 0
    assert talk(engine, "boardsize 5", "komi 0.5", "play b c3", "final_score", "genmove w")[:4] == \
        ["=\n\n", "=\n\n", "=\n\n", "= B+24.5\n\n"]
    assert engine.handle("name") == "= milestones\n\n"


def test_a_subprocess_engine_plays_gnugo_through_the_match_runner(gnugo, tmp_path):
    ours = GtpProcess([sys.executable, "-m", "milestones", "gtp", "--seed", "3"], "milestones", timeout=30)
    theirs = GtpProcess(gnugo_command(level=0), "gnugo-0", timeout=30)
    try:
        match = play_match(ours, theirs, games=2, out_dir=tmp_path, size=5, komi=0.5)
    finally:
        ours.close()
        theirs.close()
    summary = json.loads((tmp_path / "match.json").read_text())["summary"]
    assert summary["games"] == 2 and summary["scores_compared"] == summary["scores_agree"] >= 1
    for game in match.games:
        record = read_game((tmp_path / game.sgf).read_text())
        assert record.positions()[-1].result() == game.result or game.reason != "two passes"
    assert ours.process.returncode == 0


def test_a_gnugo_game_scores_as_gnugo_scores_it_on_9x9(gnugo, tmp_path):
    random = InProcess(GtpEngine(RandomPlayer(1)), "random")
    theirs = GtpProcess(gnugo_command(level=1), "gnugo-1", timeout=30)
    try:
        match = play_match(theirs, random, games=1, out_dir=tmp_path)
    finally:
        theirs.close()
    game = match.games[0]
    assert game.reason == "two passes" and game.winner == "gnugo-1"
    assert game.gnugo_score.startswith(game.our_score)  # "B+74.0" and "B+74"


# a game of our SL policy against GNU Go level 1 that ended at two passes with a White stone at G3
# that GNU Go judges dead: our Tromp-Taylor count makes it W+15, GNU Go's final_score B+6
DEAD_STONE_GAME = """(;FF[4]GM[1]SZ[9]KM[7]RU[Chinese]RE[W+15]
;B[ee];W[cg];B[ce];W[gc];B[ge];W[cc];B[bf];W[gg];B[hf];W[ec];B[hg];W[bg];B[gh];W[bd];B[be];W[fd];B[fe]
;W[dd];B[de];W[hd];B[he];W[id];B[ie];W[ad];B[ed];W[gd];B[cd];W[dc];B[ae];W[bc];B[ag];W[ic];B[ah];W[fb]
;B[fg];W[eb];B[bh];W[da];B[ch];W[gb];B[dg];W[hb];B[cf];W[ea];B[dh];W[];B[fh];W[];B[])"""


def test_where_gnugo_scores_otherwise_its_dead_stones_are_the_whole_difference(gnugo):
    record = read_game(DEAD_STONE_GAME)
    position = record.positions()[-1]
    assert position.is_terminal() and position.result() == "W+15"
    theirs = GtpProcess(gnugo_command(level=10), "gnugo-10", timeout=30)
    try:
        theirs.ask("boardsize 9")
        theirs.ask("komi 7")
        theirs.ask("clear_board")
        go = position.game
        for k, move in enumerate(record.moves):
            theirs.ask(f"play {'BW'[k % 2]} {go.geometry.gtp(move)}")
        assert normalise_score(theirs.ask("final_score")) == "B+6"
        dead, rescored = dead_stone_score(theirs, position)
    finally:
        theirs.close()
    assert dead == "G3" and rescored == "B+6"


def test_wilson_interval_equals_scipys():
    from scipy.stats import binomtest

    for wins, n in ((8, 10), (0, 12), (100, 100), (57, 100), (3, 400)):
        interval = binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson(wins, n) == pytest.approx((interval.low, interval.high), abs=1e-12)
    assert wilson(0, 0) == (0.0, 1.0)


def test_the_cli_match_reports_the_interval(gnugo, tmp_path):
    out = subprocess.run([sys.executable, "-m", "milestones", "match", "random:1", "random:2", "--games", "2",
                          "--size", "5", "--komi", "0.5", "--out", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "random-1 against random-2:" in out.stdout and (tmp_path / "game0002.sgf").exists()
    assert (tmp_path / "game0002.svg").read_text().startswith("<svg")
    bad = subprocess.run([sys.executable, "-m", "milestones", "match", "chess", "random"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown engine 'chess'" in bad.stderr


def test_gnugo_games_are_written_whole_and_a_rerun_continues(gnugo, tmp_path):
    from milestones.go.gnugo_games import generate, opening_moves

    results = []
    generate(tmp_path, games=2, size=5, komi=0.5, level=0, random_opening=2, jobs=2,
             progress=lambda k, r: results.append((k, r)))
    assert sorted(k for k, _ in results) == [0, 1]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["game-000000.sgf", "game-000001.sgf"]  # no .tmp left
    record = read_game((tmp_path / "game-000000.sgf").read_text())
    assert record.extra["XR"] == "2" and record.size == 5 and len(record.moves) > 2
    assert record.positions()[-1].is_terminal()
    assert record.moves[:2] == opening_moves(5, 0.5, 2, seed=0)
    again = []
    generate(tmp_path, games=3, size=5, komi=0.5, level=0, random_opening=2, progress=lambda k, r: again.append((k, r)))
    assert sorted(k for k, r in again if r == "exists") == [0, 1] and [k for k, r in again if r != "exists"] == [2]
    assert (tmp_path / "game-000002.sgf").exists()


def test_gnugo_games_stop_at_ctrl_c_without_playing_the_games_not_begun(gnugo, tmp_path):
    from milestones.go.gnugo_games import generate

    def interrupt(k, result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, games=40, size=5, komi=0.5, level=0, random_opening=2, jobs=2, progress=interrupt)
    files = sorted(p.name for p in tmp_path.iterdir())
    # the first game and at most the other one in play when it ended (jobs=2: no game begins before the
    # one it replaces is reported): whole files, and not the 40 planned
    assert 1 <= len(files) <= 2 and all(f.endswith(".sgf") for f in files)
    for f in files:
        record = read_game((tmp_path / f).read_text())
        assert record.result[:2] in ("B+", "W+") and len(record.moves) > 2
