"""Gumbel AlphaZero's search against a literal one written here from the paper (recursive, one tree,
dictionaries, Sequential Halving phase by phase): the same root visits, values, improved policy and
move on tic-tac-toe and Connect Four positions, with and without Gumbel noise; the pieces (the
halving phases, the completed Q-values) on hand-made numbers; batched trees equal separate ones;
a forced win is found with few simulations; self-play records π' and only the full searches under
a playout cap."""
import math

import numpy as np
import pytest

from milestones.games import Connect4, TicTacToe
from milestones.games.tictactoe import parse
from milestones.search import Node
from milestones.search.evaluators import uniform
from milestones.search.gumbel import (
    GumbelConfig,
    completed_q,
    gumbel_move,
    gumbel_search,
    halving_phases,
    improved_policy,
)
from milestones.search.mcts import SearchConfig
from milestones.search.selfplay import PlayoutCap, play_games
from tests.test_mcts import hashed_evaluator


class Ref:
    """A node of the literal search: dictionaries over the legal moves."""

    def __init__(self, position):
        self.position, self.P, self.N, self.W, self.v, self.children = position, None, {}, {}, 0.0, {}


def ref_expand(node, evaluate):
    priors, values = evaluate([node.position])
    legal = node.position.legal_moves()
    total = sum(priors[0][m] for m in legal)
    node.P = {m: priors[0][m] / total for m in legal}
    node.N, node.W = {m: 0 for m in legal}, {m: 0.0 for m in legal}
    node.v = float(values[0])
    return node.v


def ref_qhat(node):
    """The paper's completed Q: Q for visited moves, v_mix for the others."""
    n = sum(node.N.values())
    visited = [m for m in node.P if node.N[m] > 0]
    if visited:
        mass = sum(node.P[m] for m in visited)
        mean = sum(node.P[m] * node.W[m] / node.N[m] for m in visited) / mass
        v_mix = (node.v + n * mean) / (1 + n)
    else:
        v_mix = node.v
    return {m: node.W[m] / node.N[m] if node.N[m] > 0 else v_mix for m in node.P}


def ref_sigma(node, cfg):
    q = ref_qhat(node)
    low, high = min(q.values()), max(q.values())
    scale = (cfg.c_visit + max(node.N.values())) * cfg.c_scale
    return {m: scale * (q[m] - low) / max(high - low, 1e-8) for m in q}


def ref_pi(node, cfg):
    s = ref_sigma(node, cfg)
    z = {m: math.log(max(node.P[m], 1e-30)) + s[m] for m in node.P}
    top = max(z.values())
    e = {m: math.exp(z[m] - top) for m in z}
    return {m: e[m] / sum(e.values()) for m in e}


def ref_simulate(node, evaluate, cfg, forced=None):
    """One simulation; the value for the player to move at `node`."""
    if node.position.is_terminal():
        return node.position.terminal_value()
    if node.P is None:
        return ref_expand(node, evaluate)
    if forced is None:
        pi, n = ref_pi(node, cfg), sum(node.N.values())
        forced = max(sorted(node.P), key=lambda m: pi[m] - node.N[m] / (1 + n))
    if forced not in node.children:
        node.children[forced] = Ref(node.position.play(forced))
    v = -ref_simulate(node.children[forced], evaluate, cfg)
    node.N[forced] += 1
    node.W[forced] += v
    return v


def ref_gumbel(position, evaluate, cfg, g):
    """The paper's Algorithm 2 at the root, literally: top-m by g + logits, then phases of equal visits,
    halving by g + logits + σ(q̂)."""
    root = Ref(position)
    ref_expand(root, evaluate)
    base = {m: g[m] + math.log(max(root.P[m], 1e-30)) for m in root.P}
    m_count = min(cfg.max_considered, len(root.P))
    survivors = sorted(sorted(root.P), key=lambda a: -base[a])[:m_count]
    rounds = math.ceil(math.log2(m_count)) if m_count > 1 else 1
    left, kept = cfg.simulations, m_count
    while left > 0:
        each = max(1, cfg.simulations // (rounds * kept)) if m_count > 1 else cfg.simulations
        s = ref_sigma(root, cfg)
        survivors = sorted(survivors, key=lambda a: -(base[a] + s[a]))[:kept]
        for _ in range(each):
            for a in survivors:
                if left > 0:
                    ref_simulate(root, evaluate, cfg, forced=a)
                    left -= 1
        kept = max(2, kept // 2)
    s = ref_sigma(root, cfg)
    move = max(survivors, key=lambda a: base[a] + s[a])
    return root, ref_pi(root, cfg), move


POSITIONS = [(TicTacToe(), []), (TicTacToe(), [4, 0]), (TicTacToe(), [0, 4, 8]), (Connect4(), []),
             (Connect4(), [3, 3, 2, 4]), (Connect4(), [3, 2, 3, 2, 3])]
CONFIGS = [GumbelConfig(simulations=16), GumbelConfig(simulations=50, max_considered=4),
           GumbelConfig(simulations=7, gumbel_scale=0.0, c_scale=0.1), GumbelConfig(simulations=100, c_visit=10)]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("game,moves", POSITIONS)
def test_visits_policy_and_move_equal_the_literal_search(game, moves, cfg):
    evaluate = hashed_evaluator(game.num_moves)
    position = game.from_moves(moves)
    g = cfg.gumbel_scale * np.random.default_rng(5).gumbel(size=game.num_moves)
    ref, ref_policy, ref_move = ref_gumbel(position, evaluate, cfg, g)
    root = Node(position)
    (plan,) = gumbel_search([root], evaluate, cfg, np.random.default_rng(5))
    assert root.visits is not None and root.total is not None
    assert root.visits.sum() == cfg.simulations
    for m in range(game.num_moves):
        assert root.visits[m] == ref.N.get(m, 0)
        assert root.total[m] == pytest.approx(ref.W.get(m, 0.0), abs=1e-12)
    pi = improved_policy(root, cfg)
    np.testing.assert_allclose(pi, [ref_policy.get(m, 0.0) for m in range(game.num_moves)], rtol=0, atol=1e-12)
    assert plan is not None and gumbel_move(root, plan, cfg) == ref_move


def test_halving_phases():
    assert halving_phases(4, 8) == [(4, 1), (2, 2)]  # 4 + 4 visits; two rounds
    assert halving_phases(16, 32) == [(16, 1), (8, 1), (4, 2)]  # the budget is spent before two are left
    assert halving_phases(7, 16) == [(7, 1), (3, 1), (2, 2), (2, 2)]  # ⌈log₂ 7⌉ = 3; simulations left go on in pairs
    assert halving_phases(1, 5) == [(1, 5)]
    assert halving_phases(8, 4) == [(8, 1)]  # fewer simulations than moves: the first phase is cut short


def test_completed_q_by_hand():
    node = Node(TicTacToe().initial())
    node.expand(np.array([0.5, 0.25, 0.25, 0, 0, 0, 0, 0, 0]))
    node.value = 0.2
    assert np.allclose(completed_q(node)[:3], 0.2)  # nothing visited: v̂
    node.visits[0], node.total[0] = 2, 1.0  # Q = 0.5
    node.visits[1], node.total[1] = 1, -0.5  # Q = −0.5
    v_mix = (0.2 + 3 * (0.5 * 0.5 + 0.25 * -0.5) / 0.75) / 4
    q = completed_q(node)
    assert q[0] == pytest.approx(0.5) and q[1] == pytest.approx(-0.5) and q[2] == pytest.approx(v_mix)


def test_batched_trees_equal_separate_searches():
    game, cfg = Connect4(), GumbelConfig(simulations=24)
    evaluate = hashed_evaluator(game.num_moves)
    positions = [game.from_moves(m) for m in ([], [3], [3, 3, 2], [0, 6, 0, 6])]
    together = [Node(p) for p in positions]
    gumbel_search(together, evaluate, cfg, np.random.default_rng(0), simulations=[24, 8, 24, 3])
    rng = np.random.default_rng(0)  # one draw per root, in order: the same Gumbel noise as together
    for root, n in zip(together, [24, 8, 24, 3]):
        alone = Node(root.position)
        gumbel_search([alone], evaluate, cfg, rng, simulations=[n])
        np.testing.assert_array_equal(alone.visits, root.visits)
        np.testing.assert_allclose(alone.total, root.total, rtol=0, atol=1e-12)


def test_finds_a_forced_win_with_few_simulations():
    # X to move wins at 2 (top row); without the search the uniform prior has no preference
    position = parse("XX.\nOO.\n...")
    root = Node(position)
    (plan,) = gumbel_search([root], uniform(9), GumbelConfig(simulations=8, gumbel_scale=0.0))
    assert plan is not None and gumbel_move(root, plan, GumbelConfig()) == 2
    assert improved_policy(root, GumbelConfig())[2] > 0.99


def test_search_needs_a_fresh_root_and_an_rng_for_noise():
    root = Node(TicTacToe().initial())
    with pytest.raises(ValueError, match="rng"):
        gumbel_search([root], uniform(9), GumbelConfig())
    gumbel_search([root], uniform(9), GumbelConfig(gumbel_scale=0.0))
    with pytest.raises(ValueError, match="fresh roots"):
        gumbel_search([root], uniform(9), GumbelConfig(gumbel_scale=0.0))
    with pytest.raises(ValueError, match="≥ 1"):
        GumbelConfig(simulations=0)


def test_selfplay_records_the_improved_policy_and_only_full_searches_under_a_cap():
    game = TicTacToe()
    evaluate = hashed_evaluator(9)
    records = play_games(game, evaluate, GumbelConfig(simulations=8), 6, np.random.default_rng(0))
    for r in records:
        assert len(r.examples) == len(r.moves)  # no cap: every position recorded
        position = game.initial()
        for e, move in zip(r.examples, r.moves):
            assert e.pi.sum() == pytest.approx(1.0) and e.pi[move] > 0
            assert np.all(e.pi[[m for m in range(9) if m not in position.legal_moves()]] == 0)
            position = position.play(move)
        assert position.is_terminal()
    capped = play_games(game, evaluate, SearchConfig(simulations=16, dirichlet_fraction=0.25), 40,
                        np.random.default_rng(1), 2, PlayoutCap(full_fraction=0.25, fast_simulations=4))
    recorded = sum(len(r.examples) for r in capped)
    played = sum(len(r.moves) for r in capped)
    assert 0.1 * played < recorded < 0.45 * played  # about a quarter of the moves, binomially
    assert all(e.pi.sum() == pytest.approx(1.0) for r in capped for e in r.examples)
    with pytest.raises(ValueError, match="playout cap"):
        PlayoutCap(full_fraction=0.0)
