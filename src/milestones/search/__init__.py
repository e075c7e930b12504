"""Tree search over `milestones.games` positions, seeing networks only through an evaluator:
`evaluator(positions) -> (priors (B, A), values (B,))`."""
from milestones.search.mcts import Node, SearchConfig, advance, choose_move, search, visit_counts

__all__ = ["Node", "SearchConfig", "advance", "choose_move", "search", "visit_counts"]
