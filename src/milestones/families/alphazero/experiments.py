"""AlphaZero (Silver et al. 2018) on tic-tac-toe and Connect Four, measured against perfect play.

Each iteration plays `games` self-play games side by side (`milestones.search.selfplay`), adds
them to the replay window and takes `train_steps` minibatch steps on AlphaGo Zero's loss
(`milestones.search.training`); a checkpoint after every iteration holds the network, the
optimizer, the replay window and the generator, so a killed run replays at most the iteration it
was in and ends with the network of a run straight through.

The search is AlphaZero's PUCT (`milestones.search.mcts`) or, with `--search gumbel`, Gumbel
AlphaZero's (`milestones.search.gumbel`: few simulations, the improved policy as the target);
`--full-fraction` below 1 turns on KataGo's playout cap randomization (only the moves searched in
full are recorded).

Matches, every `eval_every` iterations and at the end: the search player against the network of
the previous evaluation (the same search; the gains add up to an Elo chain) and against MCTS with
random playouts (`rollout_simulations`), `match_pairs` random openings with either colour.

Evaluation against perfect play, every `eval_every` iterations and at the end:
- tic-tac-toe: the share of the 4 520 positions where a player is to move (every reachable one)
  at which the network's move (the most likely under its policy; "policy") or the move of a search
  with it ("search") loses value against exhaustive minimax; and the worst result of the search
  player against a minimax opponent that may take any of its optimal moves, as first and as second
  player (0: never loses, on every line);
- Connect Four: on each of Pons' six test sets (`milestones.games.pons`), the share of positions
  where the move loses value (win → draw or loss, draw → loss), for the policy and for the search;
  `eval_positions` per set during training, all 1 000 at the end.
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from milestones.config import BaseConfig, ConfigError, param
from milestones.data import dataset_path
from milestones.families.alphazero.figures import training_figure
from milestones.family import Experiment, Reference
from milestones.games import Connect4, TicTacToe, tictactoe
from milestones.games.game import Game, Position
from milestones.games.pons import SETS, load_set, set_path
from milestones.games.tictactoe import solve
from milestones.nn.policy_value import INFERENCE, SIZES, NetworkEvaluator, PolicyValueNet
from milestones.runs import Run
from milestones.search.arena import Player, PolicyPlayer, SearchPlayer, elo_difference, play_match
from milestones.search.evaluators import RolloutEvaluator
from milestones.search.gumbel import GumbelConfig
from milestones.search.mcts import SearchConfig
from milestones.search.selfplay import PlayoutCap, RandomOpening
from milestones.search.training import Replay, TrainerConfig, train_iteration
from milestones.search.workers import SelfPlayWorkers
from milestones.seeding import seed_everything
from milestones.state import State

GAMES: dict[str, type] = {"tictactoe": TicTacToe, "connect4": Connect4}


@dataclasses.dataclass(frozen=True)
class AlphaZeroConfig(BaseConfig):
    game: Literal["tictactoe", "connect4"] = param("tictactoe", "the game")
    iterations: int = param(30, "training iterations (self-play, then training steps)", low=1)
    games: int = param(64, "self-play games per iteration, played side by side", low=1)
    search: Literal["puct", "gumbel"] = param("puct", "the search: AlphaZero's PUCT, or Gumbel AlphaZero's "
                                                      "Sequential Halving with completed Q-values")
    simulations: int = param(50, "search simulations per self-play move", low=1)
    max_considered: int = param(16, "Gumbel: root moves sampled without replacement (m)", low=1)
    c_visit: float = param(50.0, "Gumbel: σ(q) = (c_visit + max N) · c_scale · q", low=0.0)
    c_scale: float = param(0.1, "Gumbel: σ's scale (0.1 as in DeepMind's mctx, with Q rescaled to [0, 1] "
                                "by its minimum and maximum at each node)", low=0.0)
    full_fraction: float = param(1.0, "playout cap randomization: the share of moves searched in full and "
                                      "recorded (1: every move)", low=0.0, high=1.0, low_open=True)
    fast_simulations: int = param(8, "playout cap randomization: simulations of the other moves", low=1)
    opening_fraction: float = param(0.0, "random openings: the share of self-play games that start with random, "
                                         "unrecorded moves (0: none)", low=0.0, high=1.0)
    opening_moves: int = param(2, "random openings: at most this many random moves (1 to it, drawn per game)", low=1)
    c_puct: float = param(1.25, "PUCT's exploration weight", low=0.0)
    dirichlet_alpha: float = param(0.3, "root noise Dir(α) in self-play", low=0.0, low_open=True)
    dirichlet_fraction: float = param(0.25, "share ε of the root priors replaced by noise in self-play",
                                      low=0.0, high=1.0)
    temperature_moves: int = param(4, "self-play moves drawn ∝ visits before the most visited is taken", low=0)
    window_games: int = param(1_000, "the replay holds the last this many games", low=1)
    batch_size: int = param(128, "examples per training step", low=1)
    train_steps: int = param(100, "training steps per iteration", low=1)
    lr: float = param(1e-3, "Adam's learning rate", low=0.0, high=1.0, low_open=True)
    weight_decay: float = param(1e-4, "the loss's c‖θ‖² as weight decay", low=0.0)
    blocks: int = param(0, "residual blocks (0: the game's size in milestones.nn.policy_value.SIZES)", low=0)
    filters: int = param(0, "filters per convolution (0: the game's size)", low=0)
    eval_every: int = param(5, "iterations between evaluations", low=1)
    eval_simulations: int = param(50, "simulations per move of the evaluated search player (no noise)", low=1)
    match_pairs: int = param(10, "evaluation matches: pairs of games (each opening with either colour) against "
                                 "the network of the previous evaluation and against MCTS with random playouts "
                                 "(0: none)", low=0)
    rollout_simulations: int = param(200, "simulations of the fixed MCTS opponent (random playouts)", low=1)
    eval_positions: int = param(200, "Connect Four: Pons positions per set in evaluations during training "
                                     "(the final one uses all 1 000)", low=1)
    workers: int = param(1, "self-play worker processes (1: in this process)", low=1)
    executor: Literal["local", "ray"] = param("local", "where self-play workers run: local processes or Ray tasks "
                                                       "(pip install 'milestones[cluster]'; RAY_ADDRESS for a cluster)")
    inference: Literal["eager", "compiled", "bfloat16"] = param(
        "eager", "how search runs the network: eager float32, torch.compile'd float32 (faster once compiled; "
                 "needs a C++ compiler) or compiled bfloat16 (faster again, at bfloat16's precision)")
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(1, "iterations between checkpoints", low=1)

    def __post_init__(self) -> None:
        if self.game not in GAMES:
            raise ConfigError(f"--game: expected one of {', '.join(GAMES)}, got {self.game!r}")
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"--executor: expected local or ray, got {self.executor!r}")
        if self.inference not in INFERENCE:
            raise ConfigError(f"--inference: expected one of {', '.join(INFERENCE)}, got {self.inference!r}")
        if self.search not in ("puct", "gumbel"):
            raise ConfigError(f"--search: expected puct or gumbel, got {self.search!r}")


def make_game(cfg: AlphaZeroConfig) -> Game:
    return GAMES[cfg.game]()


def make_network(cfg: AlphaZeroConfig, game: Game) -> PolicyValueNet:
    blocks, filters, hidden = SIZES[cfg.game]
    return PolicyValueNet(game.planes_shape, game.num_moves, cfg.blocks or blocks, cfg.filters or filters, hidden)


def search_config(cfg: Any, simulations: int, self_play: bool) -> SearchConfig | GumbelConfig:
    """The run's search: with its exploration in self-play (root noise, Gumbel draws), without it
    in evaluation. `cfg`: an AlphaZeroConfig, or any config with its search fields (alphago/zero)."""
    if cfg.search == "gumbel":
        return GumbelConfig(simulations=simulations, max_considered=cfg.max_considered, c_visit=cfg.c_visit,
                            c_scale=cfg.c_scale, gumbel_scale=1.0 if self_play else 0.0)
    return SearchConfig(simulations=simulations, c_puct=cfg.c_puct, dirichlet_alpha=cfg.dirichlet_alpha,
                        dirichlet_fraction=cfg.dirichlet_fraction if self_play else 0.0)


def trainer_config(cfg: Any) -> TrainerConfig:
    """The self-play and training settings of `cfg` (as `search_config`'s)."""
    cap = None if cfg.full_fraction >= 1 else PlayoutCap(cfg.full_fraction, cfg.fast_simulations)
    opening = RandomOpening(cfg.opening_fraction, cfg.opening_moves) if cfg.opening_fraction > 0 else None
    return TrainerConfig(games_per_iteration=cfg.games, temperature_moves=cfg.temperature_moves,
                         search=search_config(cfg, cfg.simulations, self_play=True), playout_cap=cap, opening=opening,
                         window_games=cfg.window_games, batch_size=cfg.batch_size, train_steps=cfg.train_steps)


def architecture(cfg: AlphaZeroConfig) -> dict[str, Any]:
    blocks, filters, _ = SIZES[cfg.game]
    return {"game": cfg.game, "blocks": cfg.blocks or blocks, "filters": cfg.filters or filters}


def train(cfg: AlphaZeroConfig, run: Run) -> dict[str, float]:
    if cfg.game == "connect4":
        pons_folder()  # missing test sets stop the run now, not at its first evaluation
    seed_everything(cfg.seed)
    game = make_game(cfg)
    net = make_network(cfg, game).to(run.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    trainer = trainer_config(cfg)
    replay, rng = Replay(game, cfg.window_games), np.random.default_rng([cfg.seed, 1])
    previous, elo = copy.deepcopy(net), EloChain()  # the network of the last evaluation, and its Elo
    match_rng = np.random.default_rng([cfg.seed, 2])
    state = State(architecture(cfg), modules={"net": net, "previous": previous}, optimizers={"opt": optimizer},
                  generators={"rng": rng, "match_rng": match_rng}, objects={"replay": replay, "elo": elo})
    start, _ = run.resume(state)
    loop = run.loop(state, cfg.iterations, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    workers = SelfPlayWorkers(cfg.workers, cfg.executor, cfg.inference)
    try:
        for iteration in loop:
            stats = train_iteration(game, net, optimizer, replay, trainer, rng, workers)
            row: dict[str, float] = dict(stats, games_played=float(replay.games_seen))
            if iteration % cfg.eval_every == 0 or loop.last:
                row |= evaluate_net(cfg, game, net, run.device, final=False)
                row |= matches(cfg, game, net, previous, elo, match_rng, run.device)
                previous.load_state_dict(net.state_dict())
            run.log(iteration, **row)
            loop.postfix(loss=f"{stats['value_loss'] + stats['policy_loss']:.3f}")
    finally:
        workers.close()
    training_figure(run.metrics(), run.dir / "plots" / "training.png", title=f"{run.experiment.name}, seed {cfg.seed}")
    return evaluate_net(cfg, game, net, run.device, final=True)


def evaluate(cfg: AlphaZeroConfig, run: Run) -> dict[str, float]:
    game = make_game(cfg)
    net = make_network(cfg, game).to(run.device)
    loaded = run.load(State(architecture(cfg), modules={"net": net}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return evaluate_net(cfg, game, net, run.device, final=True) | {"iteration": float(loaded.step)}


# ---- matches: against the previous network (Elo) and a fixed opponent ---------------------------------

class EloChain:
    """The Elo of the latest evaluated network: the sum of its gains over each previous one (the
    network at the start: 0)."""

    def __init__(self) -> None:
        self.elo = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"elo": np.array(self.elo)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.elo = float(state["elo"])


def matches(cfg: AlphaZeroConfig, game: Game, net: PolicyValueNet, previous: PolicyValueNet, elo: EloChain,
            rng: np.random.Generator, device: torch.device) -> dict[str, float]:
    """Score (win 1, draw ½) of the search player against the previous evaluation's network (the
    same search) and against MCTS with random playouts; the Elo chain moves by the first."""
    if cfg.match_pairs == 0:
        return {}
    search = search_config(cfg, cfg.eval_simulations, self_play=False)
    me = SearchPlayer(NetworkEvaluator(net, device, cfg.inference), search)
    before = SearchPlayer(NetworkEvaluator(previous, device, cfg.inference), search)
    rollouts = SearchPlayer(RolloutEvaluator(game.num_moves, rng), SearchConfig(simulations=cfg.rollout_simulations))
    vs_previous = play_match(game, me, before, cfg.match_pairs, rng)
    vs_rollouts = play_match(game, me, rollouts, cfg.match_pairs, rng)
    elo.elo += elo_difference(vs_previous.score, vs_previous.games)
    return {"score_vs_previous": vs_previous.score, "score_vs_mcts_rollouts": vs_rollouts.score, "elo": elo.elo}


# ---- evaluation against perfect play ----------------------------------------------------------------

def evaluate_net(cfg: AlphaZeroConfig, game: Game, net: PolicyValueNet, device: torch.device,
                 final: bool) -> dict[str, float]:
    evaluator = NetworkEvaluator(net, device, cfg.inference)
    player = SearchPlayer(evaluator, search_config(cfg, cfg.eval_simulations, self_play=False))
    if cfg.game == "tictactoe":
        return tictactoe_errors(game, evaluator, player)
    return pons_errors(evaluator, player, None if final else cfg.eval_positions)


def tictactoe_errors(game: Game, evaluator: NetworkEvaluator, player: Player) -> dict[str, float]:
    positions = [p for p in tictactoe.all_positions() if not p.is_terminal()]
    searched = dict(zip((p.key() for p in positions), player(positions)))

    def loses(p: Position, move: int) -> bool:
        return -solve(p.play(move)) < solve(p)

    def worst(p: Position, me: int) -> float:
        """The search player's worst result over every optimal line of a minimax opponent."""
        if p.is_terminal():
            return (p.terminal_value() if p.to_play == me else -p.terminal_value()) + 0.0  # no −0.0
        if p.to_play == me:
            return worst(p.play(searched[p.key()]), me)
        best = solve(p)
        return min(worst(p.play(m), me) for m in p.legal_moves() if -solve(p.play(m)) == best)

    policy = PolicyPlayer(evaluator)(positions)
    return {"policy_error": float(np.mean([loses(p, m) for p, m in zip(positions, policy)])),
            "search_error": float(np.mean([loses(p, searched[p.key()]) for p in positions])),
            "vs_minimax_first": worst(game.initial(), 0), "vs_minimax_second": worst(game.initial(), 1)}


def pons_folder() -> Path:
    """Pons' six test sets (an error that says where to get them when they are missing)."""
    return dataset_path("connect4", files=tuple(f"Test_{s}.moves.txt" for s in SETS))


def pons_errors(evaluator: NetworkEvaluator, player: Player, per_set: int | None) -> dict[str, float]:
    """Per set: the share of positions where the policy's and the search's moves lose value."""
    folder = pons_folder()
    out: dict[str, float] = {}
    for name in SETS:
        entries = load_set(set_path(folder, name))[:per_set]
        positions = [e.position() for e in entries]
        policy = PolicyPlayer(evaluator)(positions)
        searched = player(positions)
        out[f"policy_error_{name}"] = float(np.mean([e.loses_value(m) for e, m in zip(entries, policy)]))
        out[f"search_error_{name}"] = float(np.mean([e.loses_value(m) for e, m in zip(entries, searched)]))
    out["search_error_mean"] = float(np.mean([out[f"search_error_{name}"] for name in SETS]))
    return out


# ---- the experiments -----------------------------------------------------------------------------------

ALPHAZERO = "Silver et al. 2018, A general reinforcement learning algorithm that masters chess, shogi and Go " \
            "through self-play, Science 362"
DEVIATIONS = (
    "Adam (lr 1e-3, weight decay 1e-4) instead of SGD with momentum and a stepped learning rate; a replay "
    "window of the last games instead of the last 500 000; a small ResNet (milestones.nn.policy_value.SIZES).",
    "Unvisited edges take the parent's value (Minigo's choice; AlphaZero's pseudocode uses 0).",
)

EXPERIMENTS = (
    Experiment(
        name="alphazero/tictactoe", summary="AlphaZero on tic-tac-toe, measured against minimax",
        config=AlphaZeroConfig(game="tictactoe", iterations=30, games=64, simulations=25, train_steps=50,
                               batch_size=64, window_games=500, eval_every=5, eval_simulations=100),
        train=train, evaluate=evaluate, metric="search_error", goal="min", citation=ALPHAZERO,
        references=(Reference("search_error", 0.0, "tic-tac-toe solved by exhaustive minimax",
                              "perfect play: no move loses value"),),
        deviations=DEVIATIONS, curve=("step", "search_error"),
        budgets={"quick": {"iterations": 2, "games": 8, "simulations": 8, "train_steps": 5, "eval_every": 1,
                           "eval_simulations": 8, "match_pairs": 2, "rollout_simulations": 8}, "full": {}}),
    Experiment(
        name="alphazero/connect4", summary="AlphaZero on Connect Four, measured on Pons' six test sets",
        config=AlphaZeroConfig(game="connect4", iterations=100, games=128, simulations=50, train_steps=200,
                               batch_size=256, window_games=2_000, eval_every=10, eval_simulations=100,
                               dirichlet_alpha=1.0),
        train=train, evaluate=evaluate, metric="search_error_L1_R3", goal="min", citation=ALPHAZERO,
        references=(Reference("search_error_L1_R3", 0.07, "AlphaZero.jl, Connect Four, after 15 iterations "
                              "(read off its plot)", "Begin-Hard error rate", verified=False),),
        deviations=DEVIATIONS, curve=("step", "search_error_mean"),
        budgets={"quick": {"iterations": 2, "games": 8, "simulations": 8, "train_steps": 5, "eval_every": 1,
                           "eval_simulations": 8, "eval_positions": 10, "match_pairs": 2,
                           "rollout_simulations": 8}, "full": {}}),
    Experiment(
        name="alphazero/connect4-gumbel",
        summary="Gumbel AlphaZero on Connect Four (16 simulations a move), measured on Pons' six test sets",
        config=AlphaZeroConfig(game="connect4", search="gumbel", iterations=100, games=256, simulations=16,
                               train_steps=300, batch_size=256, window_games=4_000, eval_every=5,
                               eval_simulations=100),
        train=train, evaluate=evaluate, metric="search_error_L1_R3", goal="min",
        citation="Danihelka et al. 2022, Policy improvement by planning with Gumbel, ICLR",
        references=(Reference("search_error_L1_R3", 0.07, "AlphaZero.jl, Connect Four, after 15 iterations "
                              "(read off its plot)", "Begin-Hard error rate", verified=False),),
        deviations=DEVIATIONS[:1] + (
            "Gumbel AlphaZero's search in self-play and evaluation (Sequential Halving at the root, completed "
            "Q-values, the improved policy as the target; c_visit 50, c_scale 0.1 as in DeepMind's mctx, Q "
            "rescaled by its min and max at each node); 16 simulations a move where AlphaZero.jl spends 600.",),
        curve=("step", "search_error_mean"),
        budgets={"quick": {"iterations": 2, "games": 8, "simulations": 8, "train_steps": 5, "eval_every": 1,
                           "eval_simulations": 8, "eval_positions": 10, "match_pairs": 2,
                           "rollout_simulations": 8}, "full": {}}),
)
