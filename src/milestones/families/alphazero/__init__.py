"""AlphaZero (Silver et al. 2018): self-play with tree search and a policy-value network on tic-tac-toe
and Connect Four, measured against perfect play (`experiments`). The parts are milestones.games
(rules), milestones.search (MCTS, self-play, the training loop) and milestones.nn.policy_value."""
from milestones.families.alphazero import experiments
from milestones.family import Family

FAMILY = Family(
    name="alphazero",
    title="AlphaZero: tree search with policy and value networks",
    experiments=experiments.EXPERIMENTS,
)
