"""AlphaZero-style training from the SL network on 9×9 (`alphago/zero-9x9`): the second recipe of
the issue, after AlphaGo's pipeline of separate networks. The SL policy p_σ becomes the policy half
of one dual network (`milestones.nn.go_policy.PolicyValueCNN`: its trunk gains a value head), which
then learns by AlphaZero's loop (Silver et al. 2018; `milestones.search.training`): self-play games
searched side by side, the replay of (state, search policy π, outcome z) with the board's 8
symmetries, and the loss (z − v)² − πᵀ log p + c‖θ‖².

Small budgets need a search that improves the policy with few simulations: the default is Gumbel
AlphaZero's (Danihelka et al. 2022: 9×9 Go learned with 2-16 simulations a move, where PUCT fails at
≤ 16); `--search puct` gives AlphaZero's own (Dirichlet noise α = 0.15 ≈ 10 / the legal moves of a
9×9 game, AlphaZero's rule of thumb). The run is checkpointed after every iteration (network,
optimizer, replay, generators): a killed run replays at most the iteration it was in.

Evaluations every `eval_every` iterations and at the end: the search with the network against the
SL policy network alone (its most likely legal move) and against the network of the previous
evaluation (the same search; the scores add up to an Elo chain), `match_pairs` random openings of two
moves, each with either colour. Its strength against GNU Go comes from the ladder (`alphago/ladder-9x9
--zero-run RUN_DIR`, the player "zero").
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal

import numpy as np
import torch

from milestones.config import BaseConfig, ConfigError, param
from milestones.families.alphago.experiments import ALPHAGO, load_policy, make_network, open_run
from milestones.families.alphago.experiments import architecture as sl_architecture
from milestones.families.alphazero.experiments import EloChain, search_config, trainer_config
from milestones.family import Experiment, Reference
from milestones.games.go import Go
from milestones.nn.go_policy import GoNetworkEvaluator, PolicyValueCNN
from milestones.nn.policy_value import NetworkEvaluator
from milestones.runs import Run
from milestones.search.arena import PolicyPlayer, SearchPlayer, elo_difference, play_match
from milestones.search.training import Replay, train_iteration
from milestones.search.workers import SelfPlayWorkers
from milestones.seeding import seed_everything
from milestones.state import State


@dataclasses.dataclass(frozen=True)
class ZeroConfig(BaseConfig):
    sl_run: str = param("", "the alphago/sl-policy-* run whose network starts the policy (required)")
    iterations: int = param(100, "training iterations (self-play, then training steps)", low=1)
    games: int = param(64, "self-play games per iteration, played side by side", low=1)
    search: Literal["puct", "gumbel"] = param("gumbel", "Gumbel AlphaZero's search, or AlphaZero's PUCT")
    simulations: int = param(16, "search simulations per self-play move", low=1)
    max_considered: int = param(16, "Gumbel: root moves sampled without replacement (m)", low=1)
    c_visit: float = param(50.0, "Gumbel: σ(q) = (c_visit + max N) · c_scale · q", low=0.0)
    c_scale: float = param(0.1, "Gumbel: σ's scale", low=0.0)
    c_puct: float = param(1.25, "PUCT's exploration weight", low=0.0)
    dirichlet_alpha: float = param(0.15, "PUCT: root noise Dir(α) in self-play", low=0.0, low_open=True)
    dirichlet_fraction: float = param(0.25, "PUCT: share ε of the root priors replaced by noise", low=0.0, high=1.0)
    full_fraction: float = param(1.0, "playout cap randomization: the share of moves searched in full and "
                                      "recorded (1: every move)", low=0.0, high=1.0, low_open=True)
    fast_simulations: int = param(4, "playout cap randomization: simulations of the other moves", low=1)
    opening_fraction: float = param(0.0, "random openings: the share of self-play games that start with random, "
                                         "unrecorded moves (0: none)", low=0.0, high=1.0)
    opening_moves: int = param(2, "random openings: at most this many random moves (1 to it, drawn per game)", low=1)
    temperature_moves: int = param(8, "self-play moves drawn ∝ the search policy before the best is taken", low=0)
    window_games: int = param(2_000, "the replay holds the last this many games", low=1)
    batch_size: int = param(128, "examples per training step", low=1)
    train_steps: int = param(200, "training steps per iteration", low=1)
    lr: float = param(1e-3, "Adam's learning rate", low=0.0, high=1.0, low_open=True)
    weight_decay: float = param(1e-4, "the loss's c‖θ‖² as weight decay", low=0.0)
    value_hidden: int = param(256, "units of the new value head's hidden layer", low=1)
    eval_every: int = param(5, "iterations between evaluations", low=1)
    eval_simulations: int = param(32, "simulations per move of the evaluated search player (no noise)", low=1)
    match_pairs: int = param(10, "evaluation games: pairs from random openings, each with either colour", low=1)
    workers: int = param(1, "self-play worker processes (1: in this process)", low=1)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(1, "iterations between checkpoints", low=1)

    def __post_init__(self) -> None:
        if self.search not in ("puct", "gumbel"):
            raise ConfigError(f"--search: expected puct or gumbel, got {self.search!r}")


def zero_architecture(cfg: ZeroConfig, sl_arch: dict[str, Any]) -> dict[str, Any]:
    return {**sl_arch, "value_hidden": cfg.value_hidden}


def make_zero_network(cfg: ZeroConfig) -> tuple[PolicyValueCNN, Any, dict[str, Any]]:
    """The dual network with p_σ's weights in its policy half; the SL network (eval mode); the
    architecture keys."""
    sl_cfg, sl_net, _ = load_policy(cfg.sl_run)
    policy = make_network(sl_cfg)
    policy.load_state_dict(sl_net.state_dict())
    return PolicyValueCNN(policy, cfg.value_hidden), sl_net, zero_architecture(cfg, sl_architecture(sl_cfg))


def evaluate_net(cfg: ZeroConfig, game: Go, net: PolicyValueCNN, sl_net: Any, previous: PolicyValueCNN | None,
                 elo: EloChain | None, rng: np.random.Generator) -> dict[str, float]:
    """Scores (win 1, draw ½) of the search with `net` against p_σ alone and against `previous`."""
    search = search_config(cfg, cfg.eval_simulations, self_play=False)
    me = SearchPlayer(NetworkEvaluator(net), search)
    vs_sl = play_match(game, me, PolicyPlayer(GoNetworkEvaluator(sl_net)), cfg.match_pairs, rng)
    out = {"score_vs_sl_policy": vs_sl.score}
    if previous is not None and elo is not None:
        vs_previous = play_match(game, me, SearchPlayer(NetworkEvaluator(previous), search), cfg.match_pairs, rng)
        elo.elo += elo_difference(vs_previous.score, vs_previous.games)
        out |= {"score_vs_previous": vs_previous.score, "elo": elo.elo}
    return out


def train(cfg: ZeroConfig, run: Run) -> dict[str, float]:
    if not cfg.sl_run:
        raise ConfigError("--sl-run: AlphaZero-style training starts from a trained alphago/sl-policy run; "
                          "name its directory")
    seed_everything(cfg.seed)
    net, sl_net, arch = make_zero_network(cfg)
    game = Go(net.policy.size, 7.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    replay, rng = Replay(game, cfg.window_games), np.random.default_rng([cfg.seed, 1])
    previous, elo = copy.deepcopy(net), EloChain()
    match_rng = np.random.default_rng([cfg.seed, 2])
    state = State(arch, modules={"net": net, "previous": previous}, optimizers={"opt": optimizer},
                  generators={"rng": rng, "match_rng": match_rng}, objects={"replay": replay, "elo": elo})
    start, _ = run.resume(state)
    loop = run.loop(state, cfg.iterations, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    workers = SelfPlayWorkers(cfg.workers)
    try:
        for iteration in loop:
            stats = train_iteration(game, net, optimizer, replay, trainer_config(cfg), rng, workers)
            row: dict[str, float] = dict(stats, games_played=float(replay.games_seen))
            if iteration % cfg.eval_every == 0 or loop.last:
                row |= evaluate_net(cfg, game, net, sl_net, previous, elo, match_rng)
                previous.load_state_dict(net.state_dict())
            run.log(iteration, **row)
            loop.postfix(loss=f"{stats['value_loss'] + stats['policy_loss']:.3f}")
    finally:
        workers.close()
    final = evaluate_net(cfg, game, net, sl_net, None, None, np.random.default_rng([cfg.seed, 3]))
    return final | {"elo": elo.elo, "games_played": float(replay.games_seen)}


def load_zero(run_dir: str) -> PolicyValueCNN:
    """The trained dual network of an alphago/zero run (eval mode)."""
    run, cfg = open_run(run_dir, "alphago/zero-")
    net, _, arch = make_zero_network(cfg)
    if run.load(State(arch, modules={"net": net})) is None:
        raise ValueError(f"{run_dir} has no checkpoint yet")
    return net.eval()


def evaluate(cfg: ZeroConfig, run: Run) -> dict[str, float]:
    net, sl_net, arch = make_zero_network(cfg)
    loaded = run.load(State(arch, modules={"net": net}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    game = Go(net.policy.size, 7.0)
    return evaluate_net(cfg, game, net.eval(), sl_net, None, None, np.random.default_rng([cfg.seed, 3])) | {
        "iteration": float(loaded.step)}


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        name="alphago/zero-9x9",
        summary="AlphaZero-style self-play on 9×9 from the SL policy network: one network, policy and value",
        config=ZeroConfig(),
        train=train, evaluate=evaluate, metric="score_vs_sl_policy", goal="max",
        citation=ALPHAGO + "; Silver et al. 2018, A general reinforcement learning algorithm that masters chess, "
                           "shogi and Go through self-play, Science 362; Danihelka et al. 2022, Policy improvement "
                           "by planning with Gumbel, ICLR",
        references=(Reference("score_vs_sl_policy", 0.8, "Silver et al. 2016, 'Reinforcement learning of policy "
                              "networks'", "for orientation: the RL policy p_ρ won > 80 % against p_σ without search; "
                              "our score is the search with the trained network against p_σ alone"),),
        deviations=(
            "Starts from p_σ (AlphaGo Zero and AlphaZero start from random weights); the network is p_σ's "
            "convolutional trunk with a value head added, not a residual tower.",
            "Gumbel AlphaZero's search with 16 simulations a move by default (AlphaZero: PUCT, 800); 64 games an "
            "iteration, 200 training steps, Adam at 1e-3.",
            "Games end at two passes or 3·N² moves, scored by area with komi 7; no resignation.",
        ),
        curve=("step", "score_vs_sl_policy"),
        budgets={"quick": {"iterations": 2, "games": 2, "simulations": 4, "max_considered": 4, "train_steps": 2,
                           "batch_size": 16, "eval_every": 1, "eval_simulations": 4, "match_pairs": 1,
                           "window_games": 10}, "full": {}}),
)
