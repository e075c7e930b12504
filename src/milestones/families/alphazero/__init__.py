"""AlphaZero (Silver et al. 2018): self-play with tree search and a policy-value network on tic-tac-toe
and Connect Four, measured against perfect play (`experiments`). The parts are milestones.games
(rules), milestones.search (MCTS, self-play, the training loop) and milestones.nn.policy_value."""
from milestones.families.alphazero import experiments, play
from milestones.family import Command, Dataset, Family
from milestones.games import pons

FAMILY = Family(
    name="alphazero",
    title="AlphaZero: tree search with policy and value networks",
    experiments=experiments.EXPERIMENTS,
    datasets=(Dataset("connect4", pons.PONS_SOURCE, pons.download),),
    commands=(Command("play", "play a trained alphazero/ network in the terminal", play.arguments,
                      play.play_command),),
)
