"""Players for the GTP engine and the match runner: anything with `genmove(position, seconds) -> move`."""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from milestones.games.go import GoPosition
from milestones.search.mcts import Evaluator, Node, SearchConfig, search, visit_counts


def may_pass(position: GoPosition) -> bool:
    """Whether a player may pass: to end a game it wins as the board stands (the opponent has just
    passed and the area count, every stone counted as the referee counts it, favours the player to
    move), or when no sensible move (legal, not filling an own eye) is left. A pass at any other time
    lets the opponent end the game with its own pass while the count may be against us: our search and
    policy, which learned from GNU Go's games (where GNU Go passes once it judges the stones settled),
    passed in the middle of games they were losing, and GNU Go closed them."""
    if position.passes >= 1 and position.winner() == position.to_play:
        return True
    pass_move = position.game.pass_move
    return all(position.fills_own_eye(m) for m in position.legal_moves() if m != pass_move)


class RandomPlayer:
    """Uniform over the legal moves that do not fill an own eye; passes when none is left (the
    random player of Monte Carlo Go). Seeded: the same seed plays the same game against the same moves."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def genmove(self, position: GoPosition, seconds: float) -> int:
        return position.random_move(self.rng)


class PolicyNetPlayer:
    """A policy network alone, no search (AlphaGo's "policy only" row): its most likely move among
    the legal ones that do not fill an own eye, the pass included (AlphaGo's input marks such
    "sensible" moves; without the rule a policy that has never seen the end of a game fills its eyes);
    the pass only where `may_pass` allows it."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def genmove(self, position: GoPosition, seconds: float) -> int:
        priors, _ = self.evaluator([position])
        pass_move = position.game.pass_move
        moves = [m for m in position.legal_moves() if m != pass_move and not position.fills_own_eye(m)]
        if may_pass(position):
            moves.append(pass_move)
        return moves[int(np.argmax(np.asarray(priors[0])[moves]))]


class SearchGoPlayer:
    """Tree search (`milestones.search.mcts`, PUCT with AlphaGo's options in `config`) with
    `evaluator`'s priors and values, for as many simulations as the time allows, at most
    `max_simulations`: the search runs `chunk` simulations at a time while the clock has room for
    another chunk twice as slow as the last one (a loaded machine's pace varies; a process descheduled
    for longer still overruns, so a match's budget keeps a margin). The most visited move is played;
    it is a pass when passing is the most visited and `may_pass` allows it, and never a move that fills
    an own eye unless nothing else is legal."""

    def __init__(self, evaluator: Evaluator, config: SearchConfig, max_simulations: int = 800, chunk: int = 16) -> None:
        if max_simulations < 1 or chunk < 1:
            raise ValueError(f"max_simulations and chunk must be ≥ 1, got {max_simulations}, {chunk}")
        self.evaluator, self.config = evaluator, config
        self.max_simulations, self.chunk = max_simulations, chunk
        self.last_simulations = 0

    def genmove(self, position: GoPosition, seconds: float) -> int:
        start = time.perf_counter()
        root = Node(position)
        done = 0
        while done < self.max_simulations:
            n = min(self.chunk, self.max_simulations - done)
            chunk_start = time.perf_counter()
            search([root], self.evaluator, dataclasses.replace(self.config, simulations=n))
            done += n
            now = time.perf_counter()
            if now - start + 2 * (now - chunk_start) > seconds:  # room for another chunk, even twice as slow?
                break
        self.last_simulations = done
        # the most visited legal move, ties (unvisited moves) to the higher prior; an own eye only when
        # nothing else is left, and the pass only where `may_pass` allows it
        visits, prior = visit_counts(root), root.prior
        assert prior is not None  # the search expanded the root
        rank = np.full(len(visits), -np.inf)
        for m in position.legal_moves():
            rank[m] = visits[m] + 0.5 * prior[m] if not position.fills_own_eye(m) else -2.0
        if not may_pass(position):
            rank[position.game.pass_move] = -3.0
        return int(np.argmax(rank))
