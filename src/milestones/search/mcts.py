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


@dataclass(eq=False, slots=True)
class Node:
    """A position in the tree and its outgoing edges (arrays over all A moves; illegal ones stay
    at prior 0 and are never chosen)."""

    position: Position
    # the edge statistics (A,) each, set when the node is evaluated: rows of one array `stats`
    # (5, A) = P, N, W, pending, legal (1.0/0.0), so that a level of a descent stacks one array a node
    prior: np.ndarray | None = None  # P(s, ·)
    visits: np.ndarray | None = None  # N(s, ·)
    total: np.ndarray | None = None  # W(s, ·), for the player to move at s
    legal: np.ndarray | None = None  # bool
    pending: np.ndarray | None = None  # selections through each edge waiting for their evaluation
    stats: np.ndarray | None = None  # (5, A): the rows above, which are its views
    children: dict[int, Node] = field(default_factory=dict)
    value_sum: float = 0.0  # every value backed up through s, for the player to move at s
    count: int = 0  # how many: N(s)
    value: float = 0.0  # the evaluator's value of s itself (Gumbel's completed Q needs it)
    terminal: bool = field(init=False)  # whether the game is over at s (asked at every step of a descent)

    def __post_init__(self) -> None:
        self.terminal = self.position.is_terminal()

    @property
    def expanded(self) -> bool:
        return self.prior is not None

    def expand(self, prior: np.ndarray) -> None:
        stats = np.zeros((5, len(prior)))
        stats[4, self.position.legal_moves()] = 1.0
        self.legal = stats[4] > 0
        p = np.where(self.legal, prior, 0.0)
        mass = p.sum()
        stats[0] = p / mass if mass > 0 else stats[4] / stats[4].sum()
        self.stats = stats
        self.prior, self.visits, self.total, self.pending = stats[0], stats[1], stats[2], stats[3]

    def child(self, move: int) -> Node:
        if move not in self.children:
            self.children[move] = Node(self.position.play(move))
        return self.children[move]


def puct_scores(node: Node, config: SearchConfig) -> np.ndarray:
    """Q + U for every edge of an expanded node (A,), the virtual losses of pending paths counted;
    −inf for illegal moves."""
    return puct_matrix([node], config)[0]


def puct_matrix(nodes: Sequence[Node], config: SearchConfig) -> np.ndarray:
    """`puct_scores` of several expanded nodes at once (n, A): the same arithmetic, row by row, in a
    few array operations instead of a few per node."""
    stats = np.stack([node.stats for node in nodes])  # type: ignore[misc]  # (n, 5, A)
    prior, visits, total, pending, legal = stats.transpose(1, 0, 2)  # (n, A) each
    if pending.any():
        visits = visits + config.virtual_loss * pending
        total = total - config.virtual_loss * pending
    n_s = 1.0 + visits.sum(1)
    if config.pb_c_base is None:
        c = np.full(len(nodes), config.c_puct)
    else:
        c = np.array([config.c_puct + math.log((n + config.pb_c_base + 1) / config.pb_c_base) for n in n_s.tolist()])
    if config.fpu == "parent":
        unvisited = np.array([(node.value_sum / node.count if node.count else 0.0) for node in nodes])
        unvisited = unvisited - config.fpu_reduction
    else:
        unvisited = np.full(len(nodes), 0.0 if config.fpu == "zero" else -1.0)
    q = np.where(visits > 0, total / np.maximum(visits, 1e-300), unvisited[:, None])
    scores = q + c[:, None] * prior * np.sqrt(n_s)[:, None] / (1.0 + visits)
    return np.where(legal > 0, scores, -np.inf)


def add_root_noise(node: Node, config: SearchConfig, rng: np.random.Generator) -> None:
    """P ← (1 − ε) P + ε η over the legal moves, η ~ Dir(α)."""
    if config.dirichlet_fraction <= 0:
        return
    assert node.prior is not None and node.legal is not None
    moves = np.flatnonzero(node.legal)
    noise = rng.dirichlet([config.dirichlet_alpha] * len(moves))
    node.prior[moves] = (1 - config.dirichlet_fraction) * node.prior[moves] + config.dirichlet_fraction * noise


Path = list[tuple[Node, int]]


def descend(paths: list[Path], at: list[Node], choose: Callable[[list[Node]], list[int]]) -> list[tuple[Path, Node]]:
    """Continue descents from the nodes `at` (after the edges `paths`) to leaves (unevaluated or
    terminal), a level at a time: `choose(nodes)` picks the move at every expanded node of the level
    together. Each edge taken is marked pending (its virtual loss counted) until `_backup`."""
    going = [j for j, node in enumerate(at) if node.expanded and not node.terminal]
    while going:
        nodes = [at[j] for j in going]
        still = []
        for j, node, move in zip(going, nodes, choose(nodes)):
            assert node.pending is not None
            node.pending[move] += 1
            paths[j].append((node, move))
            child = at[j] = node.child(move)
            if child.expanded and not child.terminal:
                still.append(j)
        going = still
    return list(zip(paths, at))


def _select_many(roots: Sequence[Node], config: SearchConfig) -> list[tuple[Path, Node]]:
    """One PUCT descent in each tree from its root, the trees' nodes of a level scored in one
    `puct_matrix`."""
    return descend([[] for _ in roots], list(roots), lambda nodes: puct_matrix(nodes, config).argmax(1).tolist())


def _backup(path: list[tuple[Node, int]], leaf: Node, value: float) -> None:
    """value is for the player to move at the leaf; each edge is credited for its own mover."""
    leaf.value_sum += value
    leaf.count += 1
    for node, move in reversed(path):  # every node of a path is expanded: its arrays exist
        value = -value
        node.pending[move] -= 1  # type: ignore[index]
        node.visits[move] += 1  # type: ignore[index]
        node.total[move] += value  # type: ignore[index]
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


SelectMany = Callable[[Sequence[int]], list[tuple[Path, Node]]]


def run_simulations(roots: Sequence[Node], evaluator: Evaluator, budgets: Sequence[int], select: SelectMany,
                    per_round: int = 1, expand_threshold: int = 1) -> None:
    """Simulate in every tree until tree i has had budgets[i] simulations, `per_round` per tree and
    round; each round's leaves are evaluated in one call. `select(trees)` descends once in each tree
    i of `trees` and returns each path's edges (already marked pending) and leaf. A leaf takes its
    evaluation's priors (becomes expanded) on its `expand_threshold`-th evaluation; until then each
    visit evaluates it again and backs up that value (AlphaGo's rollouts differ each time). The
    evaluator sees a round's leaves tree by tree, in the order each tree selected them."""
    done = [0] * len(roots)
    while True:
        chosen: list[list[tuple[Path, Node]]] = [[] for _ in roots]
        for _ in range(per_round):
            trees = [i for i, root in enumerate(roots) if not root.terminal and done[i] < budgets[i]]
            if not trees:
                break
            for i, selection in zip(trees, select(trees)):
                chosen[i].append(selection)
                done[i] += 1
        selections = [s for tree in chosen for s in tree]  # (path, leaf)
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
    run_simulations(roots, evaluator, budgets, lambda trees: _select_many([roots[i] for i in trees], config),
                    config.leaves_per_round, config.expand_threshold)


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
