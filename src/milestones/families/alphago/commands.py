"""`milestones gtp`, `milestones match` and `milestones gnugo-games`.

Engines for `match` are written as
  gnugo[:LEVEL]        GNU Go 3.8 (default level 10) with Chinese rules, --capture-all-dead, --positional-superko
  random[:SEED]        our random player (legal moves that do not fill an own eye), in this process
  gtp:COMMAND LINE     any program that speaks GTP on stdin/stdout, e.g. "gtp:milestones gtp --player random"
"""
from __future__ import annotations

import argparse
import shlex
import sys

import numpy as np

from milestones.data import data_dir
from milestones.families.alphago.experiments import load_policy, load_value
from milestones.families.alphago.rollout_policy import load_rollout_policy
from milestones.families.alphago.zero import load_zero
from milestones.go.gnugo_games import generate
from milestones.go.gtp import GtpEngine, Player
from milestones.go.match import GtpProcess, InProcess, gnugo_command, play_match
from milestones.go.players import PolicyNetPlayer, RandomPlayer, SearchGoPlayer
from milestones.go.rollouts import RolloutEvaluator
from milestones.nn.go_policy import GoNetworkEvaluator
from milestones.nn.policy_value import NetworkEvaluator
from milestones.runs import Run
from milestones.search.evaluators import MixedEvaluator
from milestones.search.mcts import SearchConfig


def gtp_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", nargs="?", default="",
                   help="a run of alphago/sl-policy-*: its policy network plays (with --simulations, it guides a "
                        "search); of alphago/zero-*: its network searches (at most --simulations, default 800, a "
                        "move); without one, the random player")
    p.add_argument("--simulations", type=int, default=0,
                   help="0: the policy network alone; N: tree search of at most N simulations a move, within the "
                        "move's time, the policy as prior and rollouts as values")
    p.add_argument("--value-run", default="", help="an alphago/value-* run: the search mixes its value with rollouts")
    p.add_argument("--rollout-run", default="",
                   help="an alphago/rollout-* run: its p_π plays the rollouts (default: the random player)")
    p.add_argument("--lam", type=float, default=0.5,
                   help="λ in V = (1 − λ) v_θ + λ z: the rollouts' weight when a value network is given (default 0.5)")
    p.add_argument("--seed", type=int, default=0, help="the random player's and the rollouts' seed")
    p.add_argument("--size", type=int, default=9, help="board size until the controller sends boardsize")
    p.add_argument("--komi", type=float, default=7.0, help="komi until the controller sends komi")
    p.add_argument("--seconds-per-move", type=float, default=1.0,
                   help="the most a genmove may take when the controller sets no time (default 1)")


def make_player(run_dir: str, simulations: int, seed: int, value_run: str = "", lam: float = 0.5,
                rollout_run: str = "") -> tuple[Player, str, int]:
    """The player, its name, and the board size it plays (the network's)."""
    if simulations < 0:
        raise ValueError(f"--simulations must be ≥ 0, got {simulations}")
    if not 0 <= lam <= 1:
        raise ValueError(f"--lam must be in [0, 1], got {lam}")
    if not run_dir:
        return RandomPlayer(seed), "milestones-random", 0
    if Run.read_config(run_dir)[0].startswith("alphago/zero-"):  # one network: priors and values, no rollouts
        dual = load_zero(run_dir)
        player = SearchGoPlayer(NetworkEvaluator(dual), SearchConfig(c_puct=5.0, leaves_per_round=8, virtual_loss=3.0),
                                max_simulations=simulations or 800)
        return player, "milestones-zero", dual.policy.size
    cfg, net, step = load_policy(run_dir)
    if simulations == 0:
        return PolicyNetPlayer(GoNetworkEvaluator(net)), f"milestones-policy-{step}", cfg.size
    value = load_value(value_run) if value_run else None
    evaluator = GoNetworkEvaluator(net, value)
    rollouts = RolloutEvaluator(cfg.size * cfg.size + 1, np.random.default_rng(seed),
                                load_rollout_policy(rollout_run) if rollout_run else None)
    # AlphaGo's search: c_puct 5, virtual loss 3, V = (1 − λ) v_θ + λ z (λ = 1 without a value network);
    # 8 leaves per network call (3.4× the simulations of one leaf a call in a second, measured)
    search = SearchGoPlayer(MixedEvaluator(evaluator, rollouts, lam=lam if value is not None else 1.0),
                            SearchConfig(c_puct=5.0, leaves_per_round=8, virtual_loss=3.0),
                            max_simulations=simulations)
    return search, f"milestones-search-{step}", cfg.size


def gtp_command(args: argparse.Namespace) -> int:
    player, name, size = make_player(args.run_dir, args.simulations, args.seed, args.value_run, args.lam,
                                      args.rollout_run)
    engine = GtpEngine(player, name=name, size=size or args.size, komi=args.komi,
                       seconds_per_move=args.seconds_per_move, log=sys.stderr, fixed_size=bool(size))
    engine.serve(sys.stdin, sys.stdout)
    return 0


def engine(spec: str, timeout: float):
    """A match engine from its spec (see the module docstring)."""
    kind, _, arg = spec.partition(":")
    if kind == "gnugo":
        if arg and not arg.isdigit():
            raise ValueError(f"gnugo:LEVEL takes a level 0-10, got {spec!r}")
        level = int(arg) if arg else 10
        return GtpProcess(gnugo_command(level), f"gnugo-{level}", timeout=timeout)
    if kind == "random":
        if arg and not arg.lstrip("-").isdigit():
            raise ValueError(f"random:SEED takes an integer seed, got {spec!r}")
        return InProcess(GtpEngine(RandomPlayer(int(arg or 0))), f"random-{arg or 0}")
    if kind == "gtp":
        words = shlex.split(arg)
        if not words:
            raise ValueError("gtp:COMMAND needs the program's command line")
        return GtpProcess(words, words[0].rsplit("/", 1)[-1], timeout=timeout)
    raise ValueError(f"unknown engine {spec!r} (expected gnugo[:LEVEL], random[:SEED] or gtp:COMMAND)")


def match_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("first", help="an engine: gnugo[:LEVEL], random[:SEED] or gtp:COMMAND (Black in odd games)")
    p.add_argument("second", help="the other engine (Black in even games)")
    p.add_argument("--games", type=int, default=10, help="games, colours alternating (default 10)")
    p.add_argument("--size", type=int, default=9)
    p.add_argument("--komi", type=float, default=7.0)
    p.add_argument("--out", default="match", help="folder for the SGFs and match.json (default ./match)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds an engine may take to answer")


def match_command(args: argparse.Namespace) -> int:
    if args.games < 1:
        raise ValueError(f"--games must be ≥ 1, got {args.games}")
    first = engine(args.first, args.timeout)
    try:
        second = engine(args.second, args.timeout)
        if second.name == first.name:
            second.name += "-b"
        try:
            def progress(k, game):
                print(f"game {k + 1}/{args.games}: {game.black} (B) vs {game.white} (W): {game.result} "
                      f"({game.reason}, {game.moves} moves)", flush=True)

            match = play_match(first, second, args.games, args.out, args.size, args.komi, progress=progress)
        finally:
            second.close()
    finally:
        first.close()
    s = match.summary()
    low, high = s["win_rate_95"]
    print(f"{s['first']} against {s['second']}: {s[s['first'] + '_score']:g}/{s['games']} = {s['win_rate']:.1%} "
          f"(95 % interval {low:.1%}-{high:.1%}); SGFs and match.json in {args.out}")
    if s["scores_compared"]:
        print(f"our area score equals GNU Go's final_score in {s['scores_agree']}/{s['scores_compared']} "
              f"finished games, {s['scores_agree_gnugo_dead_removed']} once the stones GNU Go calls dead are "
              "taken off")
    return 0


def gnugo_games_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--games", type=int, default=100, help="games to play (default 100)")
    p.add_argument("--first", type=int, default=0, help="the first game's number: its seeds and file name (default 0)")
    p.add_argument("--level", type=int, default=10, help="GNU Go's level 0-10 (default 10)")
    p.add_argument("--size", type=int, default=9)
    p.add_argument("--komi", type=float, default=7.0)
    p.add_argument("--random-opening", type=int, default=4, help="random moves before GNU Go plays (default 4)")
    p.add_argument("--jobs", type=int, default=1, help="games at once, each by its own two GNU Go processes")
    p.add_argument("--out", default="", help="folder (default: DATA_DIR/go{size}-gnugo-l{level})")


def gnugo_games_command(args: argparse.Namespace) -> int:
    out = args.out or str(data_dir(getattr(args, "data_dir", None)) / f"go{args.size}-gnugo-l{args.level}")
    done = [0]

    def progress(k: int, result: str) -> None:
        done[0] += 1
        print(f"game {k}: {result} ({done[0]}/{args.games})", flush=True)

    generate(out, args.games, args.first, args.size, args.komi, args.level, args.random_opening, args.jobs, progress)
    print(f"{args.games} games of GNU Go level {args.level} in {out}")
    return 0
