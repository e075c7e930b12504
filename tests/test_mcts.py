"""MCTS with PUCT against a literal textbook search written here (recursive, one tree, dictionaries):
the same visit counts and values on tic-tac-toe and Connect Four positions, for every form of the
exploration term and of the unvisited edges' Q; batched trees equal separate searches (nothing leaks
between them); a forced win is found, a forced block too, a finished game is valued exactly; root
noise, temperature and tree reuse do what they say; the search alone, with random playouts, never
loses tic-tac-toe against minimax."""
import functools
import math

import numpy as np
import pytest

from milestones.games import Connect4, TicTacToe
from milestones.games.tictactoe import parse, solve
from milestones.search import Node, SearchConfig, advance, choose_move, search, visit_counts
from milestones.search.evaluators import MixedEvaluator, RolloutEvaluator, uniform


def hashed_evaluator(num_moves):
    """Priors and a value that depend only on the position (a stand-in network), deterministic."""
    def evaluate(positions):
        priors, values = [], []
        for p in positions:
            rng = np.random.default_rng(abs(hash(p.key())) % 2**32)
            priors.append(rng.random(num_moves) + 0.05)
            values.append(rng.uniform(-1, 1))
        return np.array(priors), np.array(values)
    return evaluate


class RefNode:
    """A textbook MCTS node: dictionaries over the legal moves."""

    def __init__(self, position):
        self.position, self.P, self.N, self.W, self.children = position, None, {}, {}, {}
        self.value_sum, self.count, self.evaluations = 0.0, 0, 0


def ref_simulate(node, evaluate, cfg, threshold=None):
    """One simulation below `node`; returns the value for the player to move at `node`."""
    if node.position.is_terminal():
        v = node.position.terminal_value()
    elif node.P is None:  # a leaf: evaluated; it grows children on its threshold-th evaluation
        priors, values = evaluate([node.position])
        node.evaluations += 1
        if node.evaluations >= (cfg.expand_threshold if threshold is None else threshold):
            legal = node.position.legal_moves()
            p = np.zeros(len(priors[0]))
            p[legal] = priors[0][legal]
            p = p / p.sum()
            node.P = {m: p[m] for m in legal}
            node.N, node.W = {m: 0.0 for m in legal}, {m: 0.0 for m in legal}
        v = float(values[0])
    else:
        n_s = 1.0 + sum(node.N.values())
        c = cfg.c_puct if cfg.pb_c_base is None else cfg.c_puct + math.log((n_s + cfg.pb_c_base + 1) / cfg.pb_c_base)
        fpu = {"parent": node.value_sum / node.count - cfg.fpu_reduction, "zero": 0.0, "loss": -1.0}[cfg.fpu]
        best, best_score = None, -math.inf
        for m in sorted(node.P):
            q = node.W[m] / node.N[m] if node.N[m] > 0 else fpu
            score = q + c * node.P[m] * math.sqrt(n_s) / (1.0 + node.N[m])
            if score > best_score:
                best, best_score = m, score
        if best not in node.children:
            node.children[best] = RefNode(node.position.play(best))
        v = -ref_simulate(node.children[best], evaluate, cfg)
        node.N[best] += 1
        node.W[best] += v
    node.value_sum += v
    node.count += 1
    return v


def ref_search(position, evaluate, cfg):
    root = RefNode(position)
    ref_simulate(root, evaluate, cfg, threshold=1)  # the root's own evaluation, not a simulation
    for _ in range(cfg.simulations):
        ref_simulate(root, evaluate, cfg)
    return root


POSITIONS = [(TicTacToe(), []), (TicTacToe(), [4, 0]), (TicTacToe(), [0, 4, 8]), (Connect4(), []),
             (Connect4(), [3, 3, 2, 4]), (Connect4(), [3, 2, 3, 2, 3])]
CONFIGS = [SearchConfig(simulations=200), SearchConfig(simulations=200, fpu="zero"),
           SearchConfig(simulations=200, fpu="loss", c_puct=2.0),
           SearchConfig(simulations=150, pb_c_base=19652, fpu_reduction=0.2),
           SearchConfig(simulations=200, expand_threshold=3, c_puct=5.0)]  # AlphaGo's n_thr, scaled down


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("game,moves", POSITIONS)
def test_visits_and_values_equal_the_textbook_search(game, moves, cfg):
    evaluate = hashed_evaluator(game.num_moves)
    position = game.from_moves(moves)
    ref = ref_search(position, evaluate, cfg)
    root = Node(position)
    search([root], evaluate, cfg)
    expected_n = np.zeros(game.num_moves)
    expected_w = np.zeros(game.num_moves)
    for m in ref.N:
        expected_n[m], expected_w[m] = ref.N[m], ref.W[m]
    np.testing.assert_array_equal(visit_counts(root), expected_n)
    np.testing.assert_allclose(root.total, expected_w, rtol=0, atol=1e-12)
    assert root.count == ref.count == cfg.simulations + 1
    assert root.value_sum == pytest.approx(ref.value_sum, abs=1e-12)


def test_batched_trees_equal_separate_searches():
    game, cfg = Connect4(), SearchConfig(simulations=120)
    evaluate = hashed_evaluator(7)
    positions = [game.from_moves(m) for m in ([], [3], [3, 3], [0, 6, 1, 5], [2, 2, 2])]
    calls = []

    def counting(batch):
        calls.append(len(batch))
        return evaluate(batch)
    together = [Node(p) for p in positions]
    search(together, counting, cfg)
    assert max(calls) == len(positions) and len(calls) <= cfg.simulations + 1  # one call per round
    for p, root in zip(positions, together):
        alone = Node(p)
        search([alone], evaluate, cfg)
        np.testing.assert_array_equal(visit_counts(root), visit_counts(alone))
        np.testing.assert_array_equal(root.total, alone.total)


def test_several_leaves_per_round_spread_by_virtual_loss():
    game = Connect4()
    calls = []

    def counting(batch):
        calls.append(len(batch))
        return uniform(7)(batch)
    root = Node(game.initial())
    search([root], counting, SearchConfig(simulations=64, leaves_per_round=8))
    assert visit_counts(root).sum() == 64 and root.count == 65
    assert calls[1] == 7  # the first round's 8 paths: the 7 moves, then one collision on a pending leaf
    assert len(calls) == 1 + 64 // 8


def test_a_win_in_one_and_a_forced_block_are_found():
    cfg = SearchConfig(simulations=300)
    win = Node(parse("XX. OO. ..."))  # X to move wins at 2
    search([win], uniform(9), cfg)
    assert choose_move(win, 0) == 2 and win.total[2] / win.visits[2] == 1.0
    block = Node(parse("XX. O.. ..."))  # O must take 2
    search([block], uniform(9), cfg)
    assert choose_move(block, 0) == 2
    game = Connect4()
    four = Node(game.from_moves([0, 6, 0, 6, 0, 5]))  # three in column 0: X wins there
    search([four], uniform(7), cfg)
    assert choose_move(four, 0) == 0
    stop = Node(game.from_moves([0, 6, 0, 6, 0]))  # O must block column 0
    search([stop], uniform(7), cfg)
    assert choose_move(stop, 0) == 0


def test_a_finished_game_is_valued_exactly_and_not_searched():
    lost = Node(parse("XXX OO. ..."))
    search([lost], uniform(9), SearchConfig(simulations=10))
    assert lost.count == 0 and not lost.expanded
    root = Node(parse("XX. OO. ..."))
    search([root], uniform(9), SearchConfig(simulations=50))
    child = root.children[2]
    assert child.position.terminal_value() == -1.0 and child.value_sum == -child.count


def test_root_noise_temperature_and_tree_reuse():
    game, cfg = TicTacToe(), SearchConfig(simulations=100, dirichlet_fraction=0.25, dirichlet_alpha=0.3)
    with pytest.raises(ValueError, match="needs an rng"):
        search([Node(game.initial())], uniform(9), cfg)
    a, b = Node(game.initial()), Node(game.initial())
    search([a], uniform(9), cfg, np.random.default_rng(1))
    search([b], uniform(9), cfg, np.random.default_rng(1))
    np.testing.assert_array_equal(a.prior, b.prior)  # noise from the generator passed in
    assert a.prior.sum() == pytest.approx(1.0) and not np.allclose(a.prior, 1 / 9)
    rng = np.random.default_rng(0)
    draws = [choose_move(a, 1.0, rng) for _ in range(3000)]
    share = np.bincount(draws, minlength=9) / 3000
    np.testing.assert_allclose(share, visit_counts(a) / visit_counts(a).sum(), atol=0.03)
    best = choose_move(a, 0)
    kept = advance(a, best)
    before = kept.count
    assert before == a.visits[best]  # the subtree's statistics come along
    search([kept], uniform(9), SearchConfig(simulations=40))
    assert kept.count == before + 40


def test_bad_settings_are_refused():
    for bad in (dict(simulations=0), dict(fpu="mean"), dict(dirichlet_fraction=1.5), dict(c_puct=-1)):
        with pytest.raises(ValueError):
            SearchConfig(**bad)


def test_search_alone_never_loses_tictactoe_against_minimax():
    """MCTS with random playouts (400 simulations, 2 playouts per leaf, no network) against a minimax
    opponent that may take any of its optimal moves: every line, as first and as second player
    (every opening is optimal, so every opening is played)."""
    game, cfg = TicTacToe(), SearchConfig(simulations=400, c_puct=1.0)

    @functools.lru_cache(maxsize=None)
    def agent(p):
        root = Node(p)
        search([root], RolloutEvaluator(9, np.random.default_rng(abs(hash(p.key())) % 2**32), playouts=2), cfg)
        return choose_move(root, 0)

    def worst(p, me):
        """The agent's worst outcome over every optimal line of the opponent."""
        if p.is_terminal():
            return p.terminal_value() if p.to_play == me else -p.terminal_value()
        if p.to_play == me:
            return worst(p.play(agent(p)), me)
        best = max(-solve(p.play(m)) for m in p.legal_moves())
        return min(worst(p.play(m), me) for m in p.legal_moves() if -solve(p.play(m)) == best)

    assert worst(game.initial(), 0) == 0.0 and worst(game.initial(), 1) == 0.0


def test_alphago_leaf_evaluation_equals_the_textbook_search():
    """AlphaGo 2016's leaves: the value network mixed with a random rollout by λ = 0.5, and children
    grown only on a leaf's third evaluation; the rollouts drawn from the same seed in both searches."""
    game, cfg = Connect4(), SearchConfig(simulations=150, expand_threshold=3, c_puct=5.0)
    position = game.from_moves([3, 3, 2])

    def mixed(seed):
        return MixedEvaluator(hashed_evaluator(game.num_moves), RolloutEvaluator(game.num_moves,
                                                                                 np.random.default_rng(seed)), 0.5)
    ref = ref_search(position, mixed(7), cfg)
    root = Node(position)
    search([root], mixed(7), cfg)
    np.testing.assert_array_equal(visit_counts(root), [ref.N.get(m, 0) for m in range(game.num_moves)])
    np.testing.assert_allclose(root.total, [ref.W.get(m, 0.0) for m in range(game.num_moves)], rtol=0, atol=1e-12)

    def walk(node, depth=0):
        for child in node.children.values():
            if not child.terminal:
                assert child.expanded == (child.count >= 3), (child.count, child.expanded)
            walk(child, depth + 1)
    walk(root)


def test_mixed_evaluator_mixes_by_lambda():
    game = TicTacToe()
    net = lambda ps: (np.full((len(ps), 9), 1 / 9), np.full(len(ps), 0.6))  # noqa: E731
    rollouts = lambda ps: (np.ones((len(ps), 9)), np.full(len(ps), -1.0))  # noqa: E731
    for lam, expected in ((0.0, 0.6), (0.5, -0.2), (1.0, -1.0)):
        priors, v = MixedEvaluator(net, rollouts, lam)([game.initial()] * 2)
        assert np.allclose(priors, 1 / 9) and np.allclose(v, expected)
    with pytest.raises(ValueError, match="λ"):
        MixedEvaluator(net, rollouts, 1.5)
