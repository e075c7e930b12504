"""Gumbel AlphaZero's search (Danihelka et al. 2022, "Policy improvement by planning with Gumbel"),
batched like `milestones.search.mcts` and on the same trees.

At the root, with logits ℓ(a) = log P(s, a) from the network:
1. draw g(a) ~ Gumbel(0, 1) for every legal move (`gumbel_scale` 0 at evaluation: no noise) and
   consider the m = min(`max_considered`, legal moves) moves with the largest g(a) + ℓ(a);
2. spend the n simulations by Sequential Halving: in ⌈log₂ m⌉ phases (more, of two moves, while
   simulations are left), every move still considered gets max(1, ⌊n / (⌈log₂ m⌉ · |considered|)⌋)
   visits, then the better half (at least two) by g(a) + ℓ(a) + σ(q̂(a)) goes on
   (`halving_phases(m, n)`); the moves of a subtree are independent of the other root moves, so
   visiting a phase's moves in turn is the paper's algorithm exactly;
3. play the best-scoring move among the last phase's: the Gumbel-Top-k trick makes it a sample
   from an improved policy, so self-play needs neither Dirichlet noise nor a temperature.

The improved policy, the training target in place of the visit counts, is
π'(a) = softmax(ℓ(a) + σ(q̂(a))) over the legal moves, with the completed Q-values q̂: the mean
value Q(s, a) of a visited move and, for an unvisited one, the mixed value
v_mix = (v̂ + Σ_b N(b) · Σ_{b visited} P(b) Q(s, b) / Σ_{b visited} P(b)) / (1 + Σ_b N(b)),
v̂ the network's value of s. σ(q) = (c_visit + max_b N(b)) · c_scale · q, with q̂ rescaled to [0, 1]
by its minimum and maximum over the node's legal moves (the form recommended with DeepMind's mctx).

Below the root the selection is deterministic: a* = argmax_a π'(a) − N(a) / (1 + Σ_b N(b)), which
makes the visit counts follow π'. The search sees the network only through the evaluator, like PUCT;
it takes one leaf per tree and round (no virtual loss), and every search starts from a fresh root
(the halving schedule assumes no earlier visits).

Shapes: A moves.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from milestones.search.mcts import Evaluator, Node, Path, descend, evaluate_roots, run_simulations


@dataclass(frozen=True)
class GumbelConfig:
    simulations: int = 16  # n, per tree and search
    max_considered: int = 16  # m: root moves sampled without replacement (Go: 16)
    c_visit: float = 50.0  # σ's offset (the paper: 50)
    c_scale: float = 1.0  # σ's scale (the paper's 1.0; mctx's default 0.1 with the min-max rescaling below)
    gumbel_scale: float = 1.0  # 1: the Gumbel noise of self-play; 0: a deterministic search

    def __post_init__(self) -> None:
        if self.simulations < 1 or self.max_considered < 1:
            raise ValueError(f"simulations and max_considered must be ≥ 1, got {self.simulations}, "
                             f"{self.max_considered}")
        if self.c_visit < 0 or self.c_scale < 0 or self.gumbel_scale < 0:
            raise ValueError("c_visit, c_scale and gumbel_scale must be ≥ 0")


def halving_phases(m: int, n: int) -> list[tuple[int, int]]:
    """Sequential Halving over m moves with n simulations: (moves kept, visits to each) per phase,
    until the phases hold at least n simulations (the search stops at n)."""
    if m <= 1:
        return [(1, n)]
    rounds = math.ceil(math.log2(m))
    phases, kept, total = [], m, 0
    while total < n:
        each = max(1, n // (rounds * kept))
        phases.append((kept, each))
        total += kept * each
        kept = max(2, kept // 2)
    return phases


def completed_q(node: Node) -> np.ndarray:
    """q̂ (A,): Q(s, a) for visited moves, v_mix for the others (illegal moves included; mask them)."""
    return completed_qs([node])[0]


def stacked(nodes: Sequence[Node]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P, N, W (n, A) each, legal (n, A) bool and v (n,) of expanded nodes, from one stack of their
    `stats` (a level of a descent asks for all of them)."""
    stats = np.stack([node.stats for node in nodes])  # type: ignore[misc]  # (n, 5, A)
    prior, visits, total, _, legal = stats.transpose(1, 0, 2)
    return prior, visits, total, legal > 0, np.array([node.value for node in nodes])


def completed_qs(nodes: Sequence[Node]) -> np.ndarray:
    """`completed_q` of several nodes at once (n, A), row by row."""
    prior, visits, total, _, value = stacked(nodes)
    return _completed(prior, visits, total, value)


def _completed(prior: np.ndarray, visits: np.ndarray, total: np.ndarray, value: np.ndarray) -> np.ndarray:
    n = visits.sum(1)
    visited = visits > 0
    q = np.divide(total, visits, out=np.zeros_like(total), where=visited)
    weight = np.where(visited, prior, 0.0).sum(1)
    weighted = np.where(visited, prior * q, 0.0).sum(1)
    plain = np.where(visited, q, 0.0).sum(1) / np.maximum(visited.sum(1), 1)  # the mean Q, where Σ P = 0
    mean = np.where(weight > 0, weighted / np.where(weight > 0, weight, 1.0), plain)
    v_mix = np.where(n > 0, (value + n * mean) / (1.0 + n), value)
    return np.where(visited, q, v_mix[:, None])


def sigma_q(node: Node, config: GumbelConfig) -> np.ndarray:
    """σ(q̂) (A,), q̂ rescaled to [0, 1] over the legal moves; 0 on illegal ones."""
    return sigma_qs([node], config)[0]


def sigma_qs(nodes: Sequence[Node], config: GumbelConfig) -> np.ndarray:
    """`sigma_q` of several nodes at once (n, A)."""
    prior, visits, total, legal, value = stacked(nodes)
    return _sigma(_completed(prior, visits, total, value), legal, visits, config)


def _sigma(q: np.ndarray, legal: np.ndarray, visits: np.ndarray, config: GumbelConfig) -> np.ndarray:
    most = visits.max(1)
    low = np.where(legal, q, np.inf).min(1, keepdims=True)
    high = np.where(legal, q, -np.inf).max(1, keepdims=True)
    scaled = (q - low) / np.maximum(high - low, 1e-8)
    return np.where(legal, ((config.c_visit + most) * config.c_scale)[:, None] * scaled, 0.0)


def logits(node: Node) -> np.ndarray:
    """ℓ = log P (A,), −inf on illegal moves."""
    return logits_of([node])[0]


def logits_of(nodes: Sequence[Node]) -> np.ndarray:
    """`logits` of several nodes at once (n, A)."""
    prior, _, _, legal, _ = stacked(nodes)
    return _logits(prior, legal)


def _logits(prior: np.ndarray, legal: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(legal, np.log(np.maximum(prior, 1e-30)), -np.inf)


def improved_policy(node: Node, config: GumbelConfig) -> np.ndarray:
    """π' = softmax(ℓ + σ(q̂)) over the legal moves (A,)."""
    return improved_policies([node], config)[0]


def improved_policies(nodes: Sequence[Node], config: GumbelConfig) -> np.ndarray:
    """`improved_policy` of several nodes at once (n, A)."""
    return _improved(*stacked(nodes), config)


def _improved(prior: np.ndarray, visits: np.ndarray, total: np.ndarray, legal: np.ndarray, value: np.ndarray,
              config: GumbelConfig) -> np.ndarray:
    z = _logits(prior, legal) + _sigma(_completed(prior, visits, total, value), legal, visits, config)
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def interior_moves(nodes: list[Node], config: GumbelConfig) -> list[int]:
    """The selection below the root, a* = argmax_a π'(a) − N(a) / (1 + Σ_b N(b)), at several nodes."""
    prior, visits, total, legal, value = stacked(nodes)
    scores = _improved(prior, visits, total, legal, value, config) - visits / (1.0 + visits.sum(1, keepdims=True))
    return np.where(legal, scores, -np.inf).argmax(1).tolist()


@dataclass
class RootPlan:
    """A root's Gumbel draw and its Sequential Halving: the moves still in (best first), the phases
    to come and the visits left in the current phase."""

    base: np.ndarray  # (A,) g + ℓ, −inf on illegal moves
    survivors: list[int]
    phases: list[tuple[int, int]]
    queue: list[int] = field(default_factory=list)

    def score(self, root: Node, config: GumbelConfig) -> np.ndarray:
        return self.base + sigma_q(root, config)

    def next_move(self, root: Node, config: GumbelConfig) -> int:
        """The root move of the next simulation; a new phase keeps the best-scoring survivors
        (ties: the earlier-ranked one)."""
        while not self.queue:
            kept, each = self.phases.pop(0) if self.phases else (2, 1)
            score = self.score(root, config)
            self.survivors = sorted(self.survivors, key=lambda a: -score[a])[:kept]
            self.queue = [a for _ in range(each) for a in self.survivors]
        return self.queue.pop(0)


def plan_root(root: Node, config: GumbelConfig, simulations: int, rng: np.random.Generator | None) -> RootPlan:
    """Draw g, keep the top m moves by g + ℓ (ties: the lower move) and lay out the halving."""
    assert root.legal is not None
    g = np.zeros(len(root.legal))
    if config.gumbel_scale > 0:
        if rng is None:
            raise ValueError("Gumbel noise (gumbel_scale > 0) needs an rng")
        g = config.gumbel_scale * rng.gumbel(size=len(root.legal))
    base = g + logits(root)
    m = min(config.max_considered, int(root.legal.sum()))
    considered = [int(a) for a in np.argsort(-base, kind="stable")[:m]]
    return RootPlan(base, considered, halving_phases(m, simulations))


def gumbel_search(roots: Sequence[Node], evaluator: Evaluator, config: GumbelConfig,
                  rng: np.random.Generator | None = None,
                  simulations: Sequence[int] | None = None) -> list[RootPlan | None]:
    """Search every tree with `config.simulations` simulations (or simulations[i]); returns each
    root's plan (None for a finished game) for `gumbel_move`."""
    if any(r.visits is not None and r.visits.any() for r in roots):
        raise ValueError("Gumbel search starts from fresh roots (Sequential Halving counts every root visit)")
    evaluate_roots(roots, evaluator)
    budgets = [config.simulations] * len(roots) if simulations is None else list(simulations)
    plans = [None if r.terminal else plan_root(r, config, n, rng) for r, n in zip(roots, budgets)]

    def select(trees: Sequence[int]) -> list[tuple[Path, Node]]:
        paths: list[Path] = []
        at: list[Node] = []
        for i in trees:
            plan, root = plans[i], roots[i]
            assert plan is not None and root.pending is not None
            move = plan.next_move(root, config)
            root.pending[move] += 1
            paths.append([(root, move)])
            at.append(root.child(move))
        return descend(paths, at, lambda nodes: interior_moves(nodes, config))

    run_simulations(roots, evaluator, budgets, select)
    return plans


def gumbel_move(root: Node, plan: RootPlan, config: GumbelConfig) -> int:
    """The move Sequential Halving leaves: the best score among the last phase's moves."""
    score = plan.score(root, config)
    return max(plan.survivors, key=lambda a: score[a])
