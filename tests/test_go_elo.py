"""Elo ratings (milestones.go.elo) against closed forms and a literal gradient ascent on the likelihood."""
from __future__ import annotations

import math

import numpy as np
import pytest

from milestones.go.elo import expected_score, fit


def test_the_expected_score_is_the_elo_formula():
    assert expected_score(400.0, 0.0) == pytest.approx(10 / 11)
    assert expected_score(0.0, 400.0) + expected_score(400.0, 0.0) == pytest.approx(1.0)
    assert expected_score(431.0, 431.0) == 0.5


def test_two_players_get_the_closed_form_rating_and_interval():
    games = [("ours", "gnugo-10", 1.0)] * 30 + [("ours", "gnugo-10", 0.0)] * 10
    rating = fit(games, anchor="gnugo-10", anchor_elo=431.0, prior_draws=0)
    # the maximum: expected score = observed score 0.75, R = 431 + 400 log10(3)
    assert rating["ours"].elo == pytest.approx(431.0 + 400 * math.log10(3), abs=1e-9)
    half = 1.96 * 400 / math.log(10) / math.sqrt(40 * 0.75 * 0.25)
    assert rating["ours"].high - rating["ours"].elo == pytest.approx(half, rel=1e-9)
    assert rating["gnugo-10"].elo == 431.0 and rating["ours"].games == 40


def literal_ratings(games, names, anchor, steps=20_000, lr=2.0):
    """Gradient ascent on Σ s log P + (1 − s) log(1 − P), one game at a time in the sum, Elo units."""
    r = {n: 0.0 for n in names}
    for _ in range(steps):
        grad = {n: 0.0 for n in names}
        for a, b, s in games:
            p = 1 / (1 + 10 ** ((r[b] - r[a]) / 400))
            grad[a] += (s - p) * math.log(10) / 400
            grad[b] -= (s - p) * math.log(10) / 400
        for n in names:
            if n != anchor:
                r[n] += lr * 400 * grad[n]
    return r


def test_a_three_player_tournament_matches_a_literal_maximum_likelihood():
    rng = np.random.default_rng(0)
    games = []
    for a, b, p in (("search", "policy", 0.8), ("policy", "gnugo", 0.4), ("search", "gnugo", 0.7)):
        for s in rng.random(30) < p:
            games.append((a, b, float(s)))
    games += [("policy", "gnugo", 0.5)] * 2  # draws count half
    got = fit(games, anchor="gnugo", prior_draws=0)
    want = literal_ratings(games, ["search", "policy", "gnugo"], "gnugo")
    for name in want:
        assert got[name].elo == pytest.approx(want[name], abs=1e-3)
    assert got["search"].low < got["search"].elo < got["search"].high


def test_a_clean_sweep_gets_a_finite_rating_from_the_prior_draws():
    rating = fit([("ours", "random", 1.0)] * 20, anchor="random")
    # 20 wins and one virtual draw: expected score 20.5 / 21
    assert rating["ours"].elo == pytest.approx(400 * math.log10(20.5 / 0.5), abs=1e-6)
    with pytest.raises(ValueError, match="anchor 'gnugo' played no game"):
        fit([("ours", "random", 1.0)], anchor="gnugo")
    with pytest.raises(ValueError, match="0, 0.5 or 1"):
        fit([("ours", "random", 2.0)], anchor="random")
