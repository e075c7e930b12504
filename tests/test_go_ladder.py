"""The ladder and ablation recipe (families/alphago/ladder.py): Table 7's players built from the runs,
games in rounds with alternating colours against GNU Go and our own players, SGFs beside the
results, win rates and Elo computed from the games, and a stopped ladder resumed without a game
lost or counted twice."""
from __future__ import annotations

import dataclasses
import json
import os
import signal

import numpy as np
import pytest

from milestones import registry
from milestones.config import ConfigError
from milestones.families.alphago import ladder
from milestones.go.elo import fit
from milestones.go.match import normalise_score, wilson
from milestones.go.players import PolicyNetPlayer, SearchGoPlayer
from milestones.go.sgf import read_game
from milestones.runs import Run, RunStopped
from milestones.search.evaluators import MixedEvaluator
from tests.test_go_rl import trained_sl_run


def test_the_players_switch_the_parts_of_the_search_as_table_7_does(tmp_path, monkeypatch):
    sl_run = trained_sl_run(tmp_path, monkeypatch)
    cfg = dataclasses.replace(ladder.LadderConfig(), sl_run=str(sl_run.dir))
    players = ladder.make_players(cfg, ["policy", "rollouts+policy", "rollouts", "random"])
    assert isinstance(players["policy"], PolicyNetPlayer)
    mixed = players["rollouts+policy"].evaluator
    assert isinstance(mixed, MixedEvaluator) and mixed.lam == 1.0
    assert isinstance(players["rollouts"], SearchGoPlayer)
    from milestones.games.go import Go

    priors, _ = players["rollouts"].evaluator([Go(5).initial()])
    np.testing.assert_allclose(priors, 1 / 26)
    with pytest.raises(ConfigError, match="need a value network"):
        ladder.make_players(cfg, ["value+policy"])
    with pytest.raises(ConfigError, match="unknown"):
        dataclasses.replace(cfg, players="policy,alphago")


def test_a_ladder_plays_in_rounds_stops_resumes_and_rates_everyone(tmp_path, monkeypatch, gnugo):
    sl_run = trained_sl_run(tmp_path, monkeypatch)
    exp = registry.catalog()["alphago/ladder-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), sl_run=str(sl_run.dir), players="rollouts+policy,policy",
                              opponents="random:3,gnugo:1")
    real, calls = ladder.play_game, {"n": 0}

    def then_stop(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kw)

    monkeypatch.setattr(ladder, "play_game", then_stop)
    run = Run.create(tmp_path / "ladder", exp, cfg, progress=False)
    with pytest.raises(RunStopped, match="stopped at step 3"):
        exp.train(cfg, run)
    monkeypatch.setattr(ladder, "play_game", real)
    result = exp.train(cfg, Run(tmp_path / "ladder", exp, cfg, progress=False))
    games = json.loads((run.dir / "ladder.json").read_text())["games"]
    # every game once, in rounds, the first three kept from before the stop
    assert [(g["player"], g["opponent"], g["game"]) for g in games] == ladder.schedule(cfg)
    assert len(games) == 8 and result["games"] == 8
    for g in games:
        ours = f"milestones-{g['player']}"
        assert (g["black"], g["white"])[g["game"] % 2] == ours  # our player Black in even games
        record = read_game((run.dir / "games" / g["sgf"]).read_text())
        assert record.result == g["result"] and len(record.moves) == g["moves"]
        ours_moved = len(record.moves[g["game"] % 2::2])  # our colour's moves: Black's in even games
        if g["player"] == "rollouts+policy":  # every move searched, each with the quick budget's 8 simulations
            assert (g["searched_moves"], g["simulations"], g["simulations_min"]) == (ours_moved, 8 * ours_moved, 8)
        else:  # the policy alone searches nothing
            assert (g["searched_moves"], g["simulations"]) == (0, 0)
        winner_colour = {"B": 0, "W": 1}.get(g["result"][:1])
        if winner_colour is not None:
            assert g["score"] == float((g["black"], g["white"])[winner_colour] == ours)
        if g["opponent"] == "gnugo:1" and g["reason"] == "two passes":
            # the rules agree with GNU Go's score, or do once the stones GNU Go calls dead are off
            assert normalise_score(g["gnugo_score"]) in (g["our_score"], g["our_score_gnugo_dead"])
            assert (g["gnugo_dead"] == "") == (g["our_score"] == normalise_score(g["gnugo_score"]))
    compared = [g for g in games if g["opponent"] == "gnugo:1" and g["reason"] == "two passes"]
    assert result.get("scores_compared", 0.0) == len(compared)
    if compared:
        assert result["scores_agree_gnugo_dead_removed"] == len(compared)
    for p in ("rollouts+policy", "policy"):
        for o in ("random:3", "gnugo:1"):
            scores = [g["score"] for g in games if (g["player"], g["opponent"]) == (p, o)]
            assert result[f"win_rate/{p}/{o}"] == sum(scores) / 2
            assert result[f"win_rate_low/{p}/{o}"] == wilson(sum(scores), 2)[0]
    assert result["win_rate"] == result["win_rate/rollouts+policy/random:3"]
    assert result["simulations_per_move/rollouts+policy"] == 8.0 and result["simulations_min/rollouts+policy"] == 8.0
    assert "simulations_per_move/policy" not in result
    ratings = fit([(g["player"], g["opponent"], g["score"]) for g in games], "random:3")
    assert result["elo/policy"] == ratings["policy"].elo and result["elo/random:3"] == 0.0
    assert exp.evaluate(cfg, run) == result
    assert (run.dir / "plots" / "ladder.png").stat().st_size > 10_000
    won = [g for g in games if (g["player"], g["opponent"], g["score"]) == ("rollouts+policy", "random:3", 1.0)]
    if won:  # the figure and its game are the last one the first player won against the first opponent
        assert (run.dir / "plots" / "won-game.sgf").read_text() == (run.dir / "games" / won[-1]["sgf"]).read_text()
        assert (run.dir / "plots" / "won-game.svg").read_text().startswith("<svg")
    # the report's table: each pairing's rate and interval, the Elo, the paper's row of Table 7
    from milestones import results
    from milestones.families.alphago.report import ladder_table, sections

    Run(run.dir, exp, cfg, progress=False).finish(result)  # as `milestones train` ends
    records = results.from_runs([run.dir], registry.family_name_of)
    table = ladder_table(records)
    rate = result["win_rate/policy/gnugo:1"]
    low, high = result["win_rate_low/policy/gnugo:1"], result["win_rate_high/policy/gnugo:1"]
    assert "| rollouts+policy (8 simulations a move) | " in table
    assert "| policy | " in table and f"{rate:.0%} ({low:.0%}-{high:.0%}, 2 games)" in table
    assert f"{result['elo/policy']:.0f} (" in table and table.split("| policy |")[1].split("\n")[0].endswith("| 1517 |")
    assert [s.title for s in sections(records, tmp_path)] == ["The ladder and the ablation of Extended Data Table 7"]


def test_a_ladder_on_two_jobs_plays_the_plan_in_order_in_worker_processes(tmp_path, monkeypatch):
    sl_run = trained_sl_run(tmp_path, monkeypatch)
    exp = registry.catalog()["alphago/ladder-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), sl_run=str(sl_run.dir), players="rollouts,policy",
                              opponents="random:3", games=3, jobs=2)

    def not_here(*args, **kw):
        raise AssertionError("a game was played in the parent process")

    monkeypatch.setattr(ladder, "play_game", not_here)  # spawned workers import the real one
    run = Run.create(tmp_path / "ladder", exp, cfg, progress=False)
    result = exp.train(cfg, run)
    games = json.loads((run.dir / "ladder.json").read_text())["games"]
    assert [(g["player"], g["opponent"], g["game"]) for g in games] == ladder.schedule(cfg)
    assert result["games"] == 6
    for g in games:  # each game written by its worker, whole, with our player's colour as planned
        record = read_game((run.dir / "games" / g["sgf"]).read_text())
        assert record.result == g["result"] and len(record.moves) == g["moves"]
        assert (g["black"], g["white"])[g["game"] % 2] == f"milestones-{g['player']}"
    # the workers' players draw from streams of their own, not the parent's
    a = ladder.make_players(cfg, ["rollouts"], 1)["rollouts"].evaluator
    b = ladder.make_players(cfg, ["rollouts"], 2)["rollouts"].evaluator
    assert a.rng.integers(2**62) != b.rng.integers(2**62)
