"""Monte Carlo tree search with PUCT (Silver et al. 2017, AlphaGo Zero, Methods "Search algorithm";
2018, AlphaZero), batched over many trees: their leaves are evaluated in one network call.

Each edge (s, a) of the tree keeps a prior P(s, a), a visit count N(s, a) and a total value W(s, a),
from the view of the player to move at s. A simulation descends from the root choosing

    a* = argmax_a  Q(s, a) + c(s) · P(s, a) · √N(s) / (1 + N(s, a)),     Q(s, a) = W(s, a) / N(s, a)

where N(s) = 1 + Σ_b N(s, b) counts the evaluation of s itself, c(s) = c_puct (AlphaGo Zero) or,
with `pb_c_base`, c_puct + log((N(s) + pb_c_base + 1) / pb_c_base) (the MuZero pseudocode's form).
An edge never visited has no Q: `fpu` chooses it — "parent" (the default: the value of s so far,
V(s) = the mean of every value backed up through s, minus `fpu_reduction`), "zero" (AlphaZero's
pseudocode; Minigo found it unstable) or "loss" (−1). At the leaf the evaluator gives the priors
of its moves and its value v (for the player to move there); a finished game is valued exactly
(`terminal_value`); v is backed up with its sign flipped at every ply:
W(s, a) += −v_child along the path.

At the root, `dirichlet_fraction` ε of the priors is replaced by Dirichlet(α) noise over the legal
moves for exploration in self-play: P ← (1 − ε) P + ε η. A move is then drawn with probability
∝ N(root, a)^(1/τ) (τ → 0: the most visited move). `advance(tree, move)` keeps the chosen
child's subtree for the next search (tree reuse).

AlphaGo (2016) options: `expand_threshold` n_thr keeps a leaf a leaf (evaluated, its value backed
up, no children) until its n_thr-th evaluation; with `milestones.search.evaluators.MixedEvaluator`
a leaf's value is AlphaGo's mixture (1 − λ) v_θ(s_L) + λ z_L of the value network and a rollout's
outcome; `virtual_loss` as below (AlphaGo: 3).

Batched: `search` runs `simulations` simulations in each of B trees; a round selects one leaf per
tree (or `leaves_per_round` leaves, kept apart by a virtual loss: while a path waits for its
evaluation, selection counts each of its edges `virtual_loss` more times, each a loss; the
statistics themselves stay exact), evaluates every leaf of the round in one call
`evaluator(positions) -> (priors (L, A), values (L,))`, and backs up.

Shapes: B trees, A moves, L leaves in a round.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from milestones.games.game import Position

Evaluator = Callable[[Sequence[Position]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SearchConfig:
    simulations: int = 100  # per tree and search
    c_puct: float = 1.25  # exploration weight (pb_c_init)
    pb_c_base: float | None = None  # the MuZero pseudocode's log form when given (19 652 there)
    fpu: Literal["parent", "zero", "loss"] = "parent"  # Q of an unvisited edge
    fpu_reduction: float = 0.0  # subtracted from V(s) under fpu="parent"
    dirichlet_alpha: float = 0.3  # root noise η ~ Dir(α) (AlphaZero: 0.3 chess, 0.03 Go)
    dirichlet_fraction: float = 0.0  # ε; 0.25 in AlphaZero's self-play, 0 for evaluation
    leaves_per_round: int = 1  # leaves selected per tree before one evaluation call
    virtual_loss: float = 1.0  # visits of value −1 added along a pending path
    expand_threshold: int = 1  # a leaf grows children on its this-many-th evaluation (AlphaGo 2016: 40)

    def __post_init__(self) -> None:
        if self.simulations < 1 or self.leaves_per_round < 1 or self.expand_threshold < 1:
            raise ValueError(f"simulations, leaves_per_round and expand_threshold must be ≥ 1, got "
                             f"{self.simulations}, {self.leaves_per_round}, {self.expand_threshold}")
        if self.fpu not in ("parent", "zero", "loss"):
            raise ValueError(f"fpu must be parent, zero or loss, got {self.fpu!r}")
        if self.c_puct < 0 or not 0 <= self.dirichlet_fraction <= 1 or self.dirichlet_alpha <= 0:
            raise ValueError("c_puct ≥ 0, 0 ≤ dirichlet_fraction ≤ 1 and dirichlet_alpha > 0 are required")


@dataclass(eq=False)
class Node:
    """A position in the tree and its outgoing edges (arrays over all A moves; illegal ones stay
    at prior 0 and are never chosen)."""

    position: Position
    prior: np.ndarray | None = None  # (A,) P(s, ·), set when the node is evaluated
    visits: np.ndarray | None = None  # (A,) N(s, ·)
    total: np.ndarray | None = None  # (A,) W(s, ·), for the player to move at s
    legal: np.ndarray | None = None  # (A,) bool
    pending: np.ndarray | None = None  # (A,) selections through each edge waiting for their evaluation
    children: dict[int, Node] = field(default_factory=dict)
    value_sum: float = 0.0  # every value backed up through s, for the player to move at s
    count: int = 0  # how many: N(s)
    value: float = 0.0  # the evaluator's value of s itself (Gumbel's completed Q needs it)

    @property
    def expanded(self) -> bool:
        return self.prior is not None

    @property
    def terminal(self) -> bool:
        return self.position.is_terminal()

    def expand(self, prior: np.ndarray) -> None:
        moves = self.position.legal_moves()
        self.legal = np.zeros(len(prior), np.bool_)
        self.legal[moves] = True
        p = np.where(self.legal, prior, 0.0)
        self.prior = p / p.sum() if p.sum() > 0 else self.legal / self.legal.sum()
        self.visits = np.zeros(len(prior), np.float64)
        self.total = np.zeros(len(prior), np.float64)
        self.pending = np.zeros(len(prior), np.float64)

    def child(self, move: int) -> Node:
        if move not in self.children:
            self.children[move] = Node(self.position.play(move))
        return self.children[move]


def puct_scores(node: Node, config: SearchConfig) -> np.ndarray:
    """Q + U for every edge of an expanded node (A,), the virtual losses of pending paths counted;
    −inf for illegal moves."""
    assert node.visits is not None and node.total is not None and node.prior is not None and node.legal is not None
    visits, total = node.visits, node.total
    if node.pending is not None and node.pending.any():
        visits = visits + config.virtual_loss * node.pending
        total = total - config.virtual_loss * node.pending
    n_s = 1.0 + visits.sum()
    c = config.c_puct
    if config.pb_c_base is not None:
        c += math.log((n_s + config.pb_c_base + 1) / config.pb_c_base)
    if config.fpu == "parent":
        unvisited = (node.value_sum / node.count if node.count else 0.0) - config.fpu_reduction
    else:
        unvisited = 0.0 if config.fpu == "zero" else -1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(visits > 0, total / np.maximum(visits, 1e-300), unvisited)
    scores = q + c * node.prior * math.sqrt(n_s) / (1.0 + visits)
    return np.where(node.legal, scores, -np.inf)


def add_root_noise(node: Node, config: SearchConfig, rng: np.random.Generator) -> None:
    """P ← (1 − ε) P + ε η over the legal moves, η ~ Dir(α)."""
    if config.dirichlet_fraction <= 0:
        return
    assert node.prior is not None and node.legal is not None
    moves = np.flatnonzero(node.legal)
    noise = rng.dirichlet([config.dirichlet_alpha] * len(moves))
    node.prior = node.prior.copy()
    node.prior[moves] = (1 - config.dirichlet_fraction) * node.prior[moves] + config.dirichlet_fraction * noise


def _select(root: Node, config: SearchConfig) -> tuple[list[tuple[Node, int]], Node]:
    """Descend from the root to a leaf (unevaluated or terminal): the path's edges and the leaf;
    each edge is pending (its virtual loss counted) until `_backup`."""
    path, node = [], root
    while node.expanded and not node.terminal:
        move = int(np.argmax(puct_scores(node, config)))
        assert node.pending is not None
        node.pending[move] += 1
        path.append((node, move))
        node = node.child(move)
    return path, node


def _backup(path: list[tuple[Node, int]], leaf: Node, value: float) -> None:
    """value is for the player to move at the leaf; each edge is credited for its own mover."""
    leaf.value_sum += value
    leaf.count += 1
    for node, move in reversed(path):
        value = -value
        assert node.visits is not None and node.total is not None and node.pending is not None
        node.pending[move] -= 1
        node.visits[move] += 1
        node.total[move] += value
        node.value_sum += value
        node.count += 1


def evaluate_roots(roots: Sequence[Node], evaluator: Evaluator) -> None:
    """Evaluate, in one call, the roots not yet evaluated (that is not a simulation)."""
    fresh = [r for r in roots if not r.expanded and not r.terminal]
    if fresh:
        priors, values = evaluator([r.position for r in fresh])
        for r, p, v in zip(fresh, priors, values):
            r.expand(np.asarray(p, np.float64))
            r.value = r.value_sum = float(v)
            r.count = 1


Select = Callable[[int, Node, int], tuple[list[tuple[Node, int]], Node]]


def run_simulations(roots: Sequence[Node], evaluator: Evaluator, budgets: Sequence[int], select: Select,
                    per_round: int = 1, expand_threshold: int = 1) -> None:
    """Simulate in every tree until tree i has had budgets[i] simulations, `per_round` per tree and
    round; each round's leaves are evaluated in one call. `select(i, root, k)` descends tree i for its
    k-th simulation and returns the path's edges (each already marked pending) and the leaf. A leaf
    takes its evaluation's priors (becomes expanded) on its `expand_threshold`-th evaluation; until
    then each visit evaluates it again and backs up that value (AlphaGo's rollouts differ each time)."""
    done = [0] * len(roots)
    while True:
        selections = []  # (path, leaf)
        for i, root in enumerate(roots):
            if root.terminal:
                continue
            for _ in range(min(per_round, budgets[i] - done[i])):
                selections.append(select(i, root, done[i]))
                done[i] += 1
        if not selections:
            return
        to_evaluate = {id(leaf): leaf for _, leaf in selections if not leaf.terminal and not leaf.expanded}
        values: dict[int, float] = {}
        if to_evaluate:
            leaves = list(to_evaluate.values())
            priors, vals = evaluator([leaf.position for leaf in leaves])
            for leaf, p, v in zip(leaves, priors, vals):
                if leaf.count + 1 >= expand_threshold:
                    leaf.expand(np.asarray(p, np.float64))
                leaf.value = values[id(leaf)] = float(v)
        for path, leaf in selections:  # two selections of a round may share a leaf: both back up its value
            _backup(path, leaf, leaf.position.terminal_value() if leaf.terminal else values[id(leaf)])


def search(roots: Sequence[Node], evaluator: Evaluator, config: SearchConfig,
           rng: np.random.Generator | None = None, simulations: Sequence[int] | None = None,
           noise: Sequence[bool] | None = None) -> None:
    """Run `config.simulations` simulations (or simulations[i]) in every tree (B roots), evaluating
    each round's leaves together. Roots not yet evaluated are evaluated first (that is not a
    simulation); root noise is added when `config.dirichlet_fraction` > 0 (then `rng` is required),
    to every root or to those where noise[i] (playout cap randomization searches its fast moves
    without noise)."""
    evaluate_roots(roots, evaluator)
    if config.dirichlet_fraction > 0:
        if rng is None:
            raise ValueError("root noise (dirichlet_fraction > 0) needs an rng")
        for i, r in enumerate(roots):
            if not r.terminal and (noise is None or noise[i]):
                add_root_noise(r, config, rng)
    budgets = [config.simulations] * len(roots) if simulations is None else list(simulations)
    run_simulations(roots, evaluator, budgets, lambda i, root, k: _select(root, config), config.leaves_per_round,
                    config.expand_threshold)


def visit_counts(root: Node) -> np.ndarray:
    """N(root, ·) (A,)."""
    assert root.visits is not None
    return root.visits.copy()


def choose_move(root: Node, temperature: float, rng: np.random.Generator | None = None) -> int:
    """A move drawn ∝ N(root, a)^(1/τ); τ = 0 takes the most visited (ties: the lowest move)."""
    counts = visit_counts(root)
    if temperature == 0:
        return int(np.argmax(counts))
    if rng is None:
        raise ValueError("a temperature above 0 draws the move: pass an rng")
    weights = counts ** (1.0 / temperature)
    return int(rng.choice(len(counts), p=weights / weights.sum()))


def advance(root: Node, move: int) -> Node:
    """The subtree after `move` (tree reuse), its statistics kept; root noise is not carried over."""
    return root.child(move)
