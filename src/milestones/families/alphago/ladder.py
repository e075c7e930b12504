"""AlphaGo's ladder and its ablation on 9×9 (`alphago/ladder-9x9`): players built from the trained
networks, each playing `games` games against each opponent (colours alternating, komi 7, Chinese
rules, at most `seconds_per_move` a move), then Elo ratings of everyone from all the games
(`milestones.go.elo`), anchored like the paper's: GNU Go 3.8 level 10 at 431 (Silver et al. 2016,
Extended Data Table 6) when it plays, else the first opponent at 0.

The players are the rows of the paper's Extended Data Table 7, which switch the three parts of the
search on and off: the prior P from the SL policy p_σ ("policy"; without it the priors are uniform),
the value network v_θ ("value") and rollouts z_L ("rollouts"; p_π from an `alphago/rollout-*` run, or
the random player without one), mixed as V = (1 − λ) v_θ + λ z_L. "policy" alone is the SL network
without search; "random" is the random player; "zero" is the search (c_puct 5, no rollouts) with
the dual network of an `alphago/zero-*` run, its priors and its value. The paper's Elo for the rows
(19×19, against each other and other programs): rollouts + value + policy 2890, rollouts + policy
2416, value + policy 2177, rollouts + value 2077, value 1655, policy 1517, rollouts 1457.

Games are played in rounds (game k of every pairing before game k + 1), so a run stopped early has
every pairing about equally far; each finished game's SGF and SVG go to
RUN_DIR/games/PLAYER__OPPONENT/, its result into the checkpoint, and a resumed run continues with
the next game (the one in flight when it stopped is played again). With `jobs` > 1 that many games
are played at once, each in its own process on one thread against its own opponent process (our
players' random draws from their own streams); the results still enter the ledger in the plan's
order, and games in flight when the ladder stops are played again on resume.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from milestones.config import BaseConfig, ConfigError, param
from milestones.families.alphago.commands import engine
from milestones.families.alphago.experiments import ALPHAGO, load_policy, load_value
from milestones.families.alphago.rollout_policy import load_rollout_policy
from milestones.families.alphago.zero import load_zero
from milestones.family import Experiment, Reference
from milestones.go.elo import fit
from milestones.go.gtp import GtpEngine
from milestones.go.match import InProcess, normalise_score, play_game, wilson
from milestones.go.players import PolicyNetPlayer, RandomPlayer, SearchGoPlayer
from milestones.go.rollouts import RolloutEvaluator
from milestones.go.sgf import write_game
from milestones.go.svg import position_svg
from milestones.nn.go_policy import GoNetworkEvaluator
from milestones.nn.policy_value import NetworkEvaluator
from milestones.runs import Run
from milestones.search.evaluators import MixedEvaluator
from milestones.search.mcts import SearchConfig
from milestones.state import State

# the rows of Extended Data Table 7 and the paper's Elo for each
TABLE_7 = {"rollouts+value+policy": 2890, "rollouts+policy": 2416, "value+policy": 2177, "rollouts+value": 2077,
           "value": 1655, "policy": 1517, "rollouts": 1457}
PLAYERS = (*TABLE_7, "zero", "random")
GNUGO_10_ELO = 431.0


@dataclasses.dataclass(frozen=True)
class LadderConfig(BaseConfig):
    sl_run: str = param("", "the alphago/sl-policy-* run: the prior and the 'policy' player (required)")
    value_run: str = param("", "the alphago/value-* run (required by the players with 'value')")
    rollout_run: str = param("", "an alphago/rollout-* run: p_π plays the rollouts (default: the random player)")
    zero_run: str = param("", "an alphago/zero-* run: its network plays as the player 'zero'")
    players: str = param(",".join(TABLE_7), f"comma-separated players: {', '.join(PLAYERS)}")
    opponents: str = param("gnugo:10", "comma-separated opponents: gnugo[:LEVEL], random[:SEED], gtp:COMMAND, "
                                       "or one of the players")
    games: int = param(100, "games per pairing, colours alternating", low=1)
    seconds_per_move: float = param(1.0, "the most our players think about a move", low=0.0, low_open=True)
    max_simulations: int = param(100_000, "simulations a move at most (the time decides first)", low=1)
    lam: float = param(0.5, "λ in V = (1 − λ) v_θ + λ z_L for the players with value and rollouts", low=0.0, high=1.0)
    timeout: float = param(120.0, "seconds an opponent may take to answer", low=0.0, low_open=True)
    jobs: int = param(1, "games played at once, each in its own process on one thread with its own opponent "
                         "(1: one game at a time, in this process)", low=1)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)

    def names(self, field: str) -> list[str]:
        return [s.strip() for s in getattr(self, field).split(",") if s.strip()]

    def __post_init__(self) -> None:
        unknown = [p for p in self.names("players") if p not in PLAYERS]
        if unknown or not self.names("players"):
            raise ConfigError(f"--players: unknown {unknown or 'none given'}; expected some of {', '.join(PLAYERS)}")
        if not self.names("opponents"):
            raise ConfigError("--opponents: name at least one (gnugo:10, random, …)")


class WithoutPriors:
    """The evaluator's values with uniform priors: the rows of Table 7 without the policy network."""

    def __init__(self, evaluator) -> None:
        self.evaluator = evaluator

    def __call__(self, positions):
        _, values = self.evaluator(positions)
        n = positions[0].game.num_moves
        return np.full((len(positions), n), 1.0 / n), values


def make_players(cfg: LadderConfig, names: Sequence[str], stream: int = 0) -> dict[str, Any]:
    """name -> Player for each of `names` (the module docstring's rows); their random draws
    (rollouts, the random player) come from (seed, stream, the player's index)."""
    sl_cfg, net, _ = load_policy(cfg.sl_run)
    num_moves = sl_cfg.size ** 2 + 1
    needs_value = any("value" in n for n in names)
    if needs_value and not cfg.value_run:
        raise ConfigError(f"--value-run: the players {[n for n in names if 'value' in n]} need a value network")
    value = load_value(cfg.value_run) if needs_value else None
    p_pi = load_rollout_policy(cfg.rollout_run) if cfg.rollout_run else None
    search = SearchConfig(c_puct=5.0, leaves_per_round=8, virtual_loss=3.0)  # AlphaGo's c_puct and virtual loss
    out: dict[str, Any] = {}
    for k, name in enumerate(names):
        rng = np.random.default_rng([cfg.seed, k] + ([stream] if stream else []))
        if name == "random":
            out[name] = RandomPlayer(int(rng.integers(2**31)))
            continue
        if name == "policy":
            out[name] = PolicyNetPlayer(GoNetworkEvaluator(net))
            continue
        if name == "zero":
            if not cfg.zero_run:
                raise ConfigError("--zero-run: the player 'zero' needs a trained alphago/zero run")
            out[name] = SearchGoPlayer(NetworkEvaluator(load_zero(cfg.zero_run)), search, cfg.max_simulations)
            continue
        parts = set(name.split("+"))
        network = GoNetworkEvaluator(net, value if "value" in parts else None)
        rollouts = RolloutEvaluator(num_moves, rng, p_pi)
        if parts == {"rollouts"}:
            evaluator: Any = rollouts
        else:
            lam = (cfg.lam if "value" in parts else 1.0) if "rollouts" in parts else 0.0
            evaluator = MixedEvaluator(network, rollouts, lam=lam)
            if "policy" not in parts:
                evaluator = WithoutPriors(evaluator)
        out[name] = SearchGoPlayer(evaluator, search, max_simulations=cfg.max_simulations)
    return out


def schedule(cfg: LadderConfig) -> list[tuple[str, str, int]]:
    """(player, opponent, game k) in rounds: game k of every pairing before game k + 1."""
    return [(p, o, k) for k in range(cfg.games) for p in cfg.names("players") for o in cfg.names("opponents")
            if p != o]


class Tally:
    """A player whose searches are counted: the simulations of each of its moves since `reset`
    (players without a search, the policy alone, count none)."""

    def __init__(self, player) -> None:
        self.player, self.simulations = player, []

    def genmove(self, position, seconds: float) -> int:
        move = self.player.genmove(position, seconds)
        if hasattr(self.player, "last_simulations"):
            self.simulations.append(self.player.last_simulations)
        return move

    def reset(self) -> list[int]:
        counted, self.simulations = self.simulations, []
        return counted


class Table:
    """Where a ladder's games are played: the players built once, each engine started on first use
    (an opponent's process lives for the table's life), each finished game written to
    RUN_DIR/games/PLAYER__OPPONENT/ as SGF and SVG and returned as its ledger entry."""

    def __init__(self, cfg: LadderConfig, run_dir: Path, stream: int = 0) -> None:
        sl_cfg, _, _ = load_policy(cfg.sl_run)
        self.cfg, self.dir, self.size = cfg, Path(run_dir), sl_cfg.size
        self.players = {name: Tally(player) for name, player in make_players(
            cfg, sorted(set(cfg.names("players")) | {o for o in cfg.names("opponents") if o in PLAYERS}),
            stream).items()}
        self.engines: dict[str, Any] = {}

    def engine_for(self, name: str):
        if name not in self.engines:
            if name in self.players:
                self.engines[name] = InProcess(GtpEngine(self.players[name], name=f"milestones-{name}",
                                                         size=self.size, seconds_per_move=self.cfg.seconds_per_move,
                                                         fixed_size=True), f"milestones-{name}")
            else:
                self.engines[name] = engine(name, self.cfg.timeout)
                self.engines[name].name = name  # the spec names the opponent in the results
        return self.engines[name]

    def play(self, player: str, opponent: str, k: int) -> dict[str, Any]:
        """Game k of `player` against `opponent` (our player Black in even games): its ledger entry."""
        a, b = self.engine_for(player), self.engine_for(opponent)
        black, white = (a, b) if k % 2 == 0 else (b, a)
        if player in self.players:
            self.players[player].reset()
        game, record, slowest = play_game(black, white, self.size, 7.0)
        simulations = self.players[player].reset() if player in self.players else []
        folder = self.dir / "games" / f"{player}__{opponent.replace(':', '-')}"
        folder.mkdir(parents=True, exist_ok=True)
        game.sgf = f"game{k + 1:04d}.sgf"
        (folder / game.sgf).write_text(write_game(record))
        (folder / game.sgf.replace(".sgf", ".svg")).write_text(
            position_svg(record.positions()[-1], f"{game.black} (B) vs {game.white} (W): {game.result}"))
        score = 1.0 if game.winner == a.name else 0.5 if game.winner == "" else 0.0
        return {"player": player, "opponent": opponent, "game": k, "score": score,
                "black": game.black, "white": game.white, "result": game.result, "moves": game.moves,
                "reason": game.reason, "our_score": game.our_score, "gnugo_score": game.gnugo_score,
                "gnugo_dead": game.gnugo_dead, "our_score_gnugo_dead": game.our_score_gnugo_dead,
                "seconds_max": round(slowest.get(a.name, 0.0), 3), "sgf": f"{folder.name}/{game.sgf}",
                "searched_moves": len(simulations), "simulations": sum(simulations),
                "simulations_min": min(simulations, default=0)}

    def close(self) -> None:
        for e in self.engines.values():
            e.close()
        self.engines.clear()


_table: Table | None = None  # a worker process's table (jobs > 1)


def _start_worker(cfg: LadderConfig, run_dir: str, counter: Any) -> None:
    """A worker process: one thread, Ctrl-C left to the parent (which stops the ladder), its own
    table whose players draw from their own stream (the counter numbers the workers 1, 2, …)."""
    import atexit
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    with counter.get_lock():
        counter.value += 1
        stream = counter.value
    global _table
    _table = Table(cfg, Path(run_dir), stream)
    atexit.register(_table.close)


def _play_in_worker(player: str, opponent: str, k: int) -> dict[str, Any]:
    assert _table is not None
    return _table.play(player, opponent, k)


class Games:
    """The ledger entry of each step of the plan, played here (jobs = 1) or in `jobs` worker
    processes that keep the next `jobs` games in flight; entries come back in the plan's order."""

    def __init__(self, cfg: LadderConfig, run_dir: Path, plan: list[tuple[str, str, int]]) -> None:
        self.cfg, self.dir, self.plan = cfg, run_dir, plan
        self.table: Table | None = None
        self.pool: Any = None
        self.pending: dict[int, Any] = {}

    def result(self, step: int) -> dict[str, Any]:
        if self.cfg.jobs == 1:
            if self.table is None:
                self.table = Table(self.cfg, self.dir)
            return self.table.play(*self.plan[step - 1])
        if self.pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(self.cfg.jobs, mp_context=context, initializer=_start_worker,
                                            initargs=(self.cfg, str(self.dir), context.Value("i", 0)))
        for s in range(step, min(step + self.cfg.jobs, len(self.plan) + 1)):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(_play_in_worker, *self.plan[s - 1])
        return self.pending.pop(step).result()

    def close(self) -> None:
        if self.table is not None:
            self.table.close()
        if self.pool is not None:  # games still in flight are dropped: a resumed ladder plays them again
            self.pool.shutdown(wait=True, cancel_futures=True)


def train(cfg: LadderConfig, run: Run) -> dict[str, float]:
    if not cfg.sl_run:
        raise ConfigError("--sl-run: the ladder's players are built from a trained alphago/sl-policy run")
    sl_cfg, _, _ = load_policy(cfg.sl_run)
    size = sl_cfg.size
    make_players(cfg, cfg.names("players"))  # a missing run or option is an error before any game
    state = State({"size": size}, objects={})
    start, extra = run.resume(state)
    ledger: list[dict[str, Any]] = list(extra.get("games", []))
    plan = schedule(cfg)
    games = Games(cfg, run.dir, plan)
    loop = run.loop(state, len(plan), start=start, checkpoint_every=1, minutes=cfg.minutes, unit="game",
                    extra=lambda: {"games": ledger})
    try:
        for step in loop:
            entry = games.result(step)
            ledger.append(entry)
            row = standings(ledger, cfg)
            run.log(step, **{k: v for k, v in row.items() if k.startswith("win_rate")})
            loop.postfix(**{"score": f"{entry['score']:g}"})
    finally:
        games.close()
    out = standings(ledger, cfg)
    (run.dir / "ladder.json").write_text(json.dumps({"standings": out, "games": ledger}, indent=1) + "\n")
    draw(run.dir, ledger, out, cfg, size)
    return out


def draw(folder: Path, ledger: list[dict[str, Any]], out: dict[str, float], cfg: LadderConfig, size: int) -> None:
    """plots/ladder.png: each player's Elo with its 95 % interval; plots/won-game.svg and .sgf: the
    last game the first player won against the first opponent (none if it won none)."""
    from milestones.plots import plt, save_figure  # pyplot with the Agg backend, imported on first use

    names = sorted((k.split("/", 1)[1] for k in out if k.startswith("elo/")), key=lambda n: out[f"elo/{n}"])
    if names:
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
        elo = np.array([out[f"elo/{n}"] for n in names])
        low = np.array([out[f"elo_low/{n}"] for n in names])
        high = np.array([out[f"elo_high/{n}"] for n in names])
        ax.errorbar(elo, range(len(names)), xerr=[elo - low, high - elo], fmt="o", capsize=3)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("Elo (95 % interval)" + (", GNU Go level 10 at 431 as in the paper"
                                               if "elo/gnugo:10" in out else ""))
        ax.set_title(f"{size}×{size}, {cfg.seconds_per_move:g} s a move, {len(ledger)} games")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        save_figure(fig, folder / "plots" / "ladder.png")
    first, opponent = cfg.names("players")[0], cfg.names("opponents")[0]
    won = [g for g in ledger if (g["player"], g["opponent"], g["score"]) == (first, opponent, 1.0)]
    if won:
        games = folder / "games"
        (folder / "plots").mkdir(exist_ok=True)
        for suffix in (".svg", ".sgf"):
            source = games / won[-1]["sgf"].replace(".sgf", suffix)
            (folder / "plots" / f"won-game{suffix}").write_text(source.read_text())


def standings(ledger: list[dict[str, Any]], cfg: LadderConfig) -> dict[str, float]:
    """Win rates and their 95 % intervals per pairing, Elo per player; `win_rate` is the first
    player's against the first opponent."""
    out: dict[str, float] = {}
    opponents = cfg.names("opponents")
    for p in cfg.names("players"):
        for o in opponents:
            scores = [g["score"] for g in ledger if g["player"] == p and g["opponent"] == o]
            if scores:
                low, high = wilson(sum(scores), len(scores))
                out |= {f"win_rate/{p}/{o}": sum(scores) / len(scores), f"win_rate_low/{p}/{o}": low,
                        f"win_rate_high/{p}/{o}": high, f"games/{p}/{o}": float(len(scores))}
    first = f"win_rate/{cfg.names('players')[0]}/{opponents[0]}"
    if first in out:
        out["win_rate"] = out[first]
    games = [(g["player"], g["opponent"], g["score"]) for g in ledger]
    names = {n for g in games for n in g[:2]}
    anchor, elo = ("gnugo:10", GNUGO_10_ELO) if "gnugo:10" in names else (opponents[0], 0.0)
    if anchor in names:
        for name, rating in fit(games, anchor, elo).items():
            out |= {f"elo/{name}": rating.elo, f"elo_low/{name}": rating.low, f"elo_high/{name}": rating.high}
    for p in cfg.names("players"):  # a searching player's simulations a move, over every move it searched
        searched = [g for g in ledger if g["player"] == p and g.get("searched_moves")]  # (older ledgers: none)
        if searched:
            out[f"simulations_per_move/{p}"] = (sum(g["simulations"] for g in searched)
                                                / sum(g["searched_moves"] for g in searched))
            out[f"simulations_min/{p}"] = float(min(g["simulations_min"] for g in searched))
    out["games"] = float(len(ledger))
    compared = [g for g in ledger if g.get("gnugo_score") and g["reason"] == "two passes"]
    if compared:  # our area score against GNU Go's final_score (see milestones.go.match)
        out["scores_compared"] = float(len(compared))
        out["scores_agree"] = float(sum(g["our_score"] == normalise_score(g["gnugo_score"]) for g in compared))
        out["scores_agree_gnugo_dead_removed"] = float(sum(
            normalise_score(g["gnugo_score"]) in (g["our_score"], g.get("our_score_gnugo_dead")) for g in compared))
    return out


def evaluate(cfg: LadderConfig, run: Run) -> dict[str, float]:
    path = Path(run.dir) / "ladder.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is written when the ladder's games are all played")
    return standings(json.loads(path.read_text())["games"], cfg)


DEVIATIONS = (
    "9×9, one second a move on a 2-core CPU, our small networks; the paper: 19×19, 5 s a move, 48 CPUs "
    "and 8 GPUs (single machine).",
    "Elo from games against the opponents named (GNU Go at 431 as in the paper), not the paper's "
    "tournament among all programs; virtual draws against the anchor keep a sweep's rating finite.",
    "No expansion threshold (every leaf is expanded at once) and 8 leaves per network call with virtual "
    "loss 3; the paper: threshold 40, asynchronous GPU evaluation.",
)
QUICK = {"games": 2, "seconds_per_move": 0.05, "max_simulations": 8}

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        name="alphago/ladder-9x9",
        summary="AlphaGo's ablation on 9×9: search with and without policy, value and rollouts against GNU Go, as Elo",
        config=LadderConfig(),
        train=train, evaluate=evaluate, metric="win_rate", goal="max", citation=ALPHAGO,
        references=(Reference("win_rate", 0.5, "the issue's goal", "more than half the games against GNU Go 3.8 "
                              "level 10 (the paper's single-machine AlphaGo won 99.8 % against all programs)"),),
        deviations=DEVIATIONS, curve=("step", "win_rate"), budgets={"quick": QUICK, "full": {}}),
    Experiment(
        name="alphago/ladder-9x9-policy",
        summary="AlphaGo's SL policy network alone, no search, against GNU Go levels 1 and 10 on 9×9",
        config=LadderConfig(players="policy", opponents="gnugo:10,gnugo:1"),
        train=train, evaluate=evaluate, metric="win_rate", goal="max", citation=ALPHAGO,
        references=(Reference("win_rate", 0.5, "the issue's goal for the search (the policy alone is reported "
                              "beside it)", "on 19×19 the paper's RL policy alone won 85 % against Pachi; "
                              "its SL policy alone rates 1517 in Table 7, GNU Go 10 431"),),
        deviations=DEVIATIONS[:2], curve=("step", "win_rate"), budgets={"quick": QUICK, "full": {}}),
)
