"""Elo ratings from the games of a tournament, as AlphaGo's ladder reports them (Silver et al. 2016,
Extended Data Tables 6-7: "Elo ratings were computed from the results of ... games between each
program", the scale anchored by one program, GNU Go 3.8 level 10 at 431).

The model (Bradley-Terry on the Elo scale): player a scores against b with probability

    P(a beats b) = 1 / (1 + 10^((R_b − R_a) / 400)),

a draw counting as half a win. The ratings R maximise the log-likelihood of every game's score,

    ℓ(R) = Σ_games s log P(a beats b) + (1 − s) log P(b beats a),   s ∈ {0, ½, 1},

with the anchor's rating held fixed. A player who won (or lost) every game has no finite maximum,
so, as BayesElo does, each player also gets `prior_draws` virtual draws against the anchor (default
1), which pulls a clean sweep back to a finite rating and changes little when there are many games.
The 95 % interval of each rating is R ± 1.96 σ, σ² the diagonal of the inverse of −∇²ℓ (the
observed Fisher information) with the anchor fixed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCALE = 400.0 / math.log(10.0)  # Elo points per natural-log unit of odds


@dataclass(frozen=True)
class Rating:
    elo: float
    low: float  # the 95 % interval
    high: float
    games: int


def expected_score(r_a: float, r_b: float) -> float:
    """P(a beats b) = 1 / (1 + 10^((R_b − R_a) / 400))."""
    return 1.0 / (1.0 + 10.0 ** ((r_b - r_a) / 400.0))


def fit(games: Sequence[tuple[str, str, float]], anchor: str, anchor_elo: float = 0.0,
        prior_draws: float = 1.0, iterations: int = 100) -> dict[str, Rating]:
    """Ratings of every player in `games` ((a, b, a's score 0, ½ or 1) each) by Newton's method on
    ℓ(R) (module docstring), `anchor` fixed at `anchor_elo`."""
    names = sorted({a for a, _, _ in games} | {b for _, b, _ in games})
    if anchor not in names:
        raise ValueError(f"the anchor {anchor!r} played no game (players: {', '.join(names)})")
    if any(s not in (0.0, 0.5, 1.0) for _, _, s in games):
        raise ValueError("a game's score is 0, 0.5 or 1")
    index = {n: i for i, n in enumerate(names)}
    pairs = [(index[a], index[b], float(s), 1.0) for a, b, s in games]
    pairs += [(index[n], index[anchor], 0.5, prior_draws) for n in names if n != anchor and prior_draws > 0]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    s = np.array([p[2] for p in pairs])
    w = np.array([p[3] for p in pairs])
    free = np.array([i != index[anchor] for i in range(len(names))])
    x = np.zeros(len(names))  # ratings in natural-log units, anchor at 0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(x[b] - x[a]))
        grad = np.zeros(len(names))
        np.add.at(grad, a, w * (s - p))
        np.add.at(grad, b, -w * (s - p))
        hess = _information(a, b, w * p * (1 - p), len(names))
        step = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        x[free] += step
        if np.abs(step).max() < 1e-12:
            break
    p = 1.0 / (1.0 + np.exp(x[b] - x[a]))
    covariance = np.linalg.inv(_information(a, b, w * p * (1 - p), len(names))[np.ix_(free, free)])
    sigma = np.zeros(len(names))
    sigma[free] = np.sqrt(np.diag(covariance))
    counts = {n: sum(1 for g in games if n in g[:2]) for n in names}
    out = {}
    for n, i in index.items():
        elo, half = anchor_elo + SCALE * x[i], 1.96 * SCALE * sigma[i]
        out[n] = Rating(float(elo), float(elo - half), float(elo + half), counts[n])
    return out


def _information(a: np.ndarray, b: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """−∇²ℓ: each game adds v to the (a, a) and (b, b) entries and −v to (a, b) and (b, a)."""
    h = np.zeros((n, n))
    np.add.at(h, (a, a), v)
    np.add.at(h, (b, b), v)
    np.add.at(h, (a, b), -v)
    np.add.at(h, (b, a), -v)
    return h
