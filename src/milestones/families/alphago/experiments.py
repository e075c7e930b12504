"""AlphaGo's three networks on 9×9 (Silver et al. 2016): the supervised policy p_σ, the RL policy p_ρ
and the value network v_θ, each its own recipe, each starting from the one before.

The supervised policy network ("Supervised learning of policy networks", `alphago/sl-policy-9x9`):
p_σ learns to predict the expert's move from the position, by stochastic gradient ascent on
log p_σ(a | s) over randomly sampled (s, a) pairs, each under one of the board's 8 symmetries drawn
at random; its accuracy is the share of held-out positions where its most likely move is the
expert's (57.0 % with all features on KGS 19×19, 55.7 % with board and history only).

The experts are GNU Go 3.8 at level 10 playing itself (`milestones gnugo-games`; DATA_DIR/<data>/),
split by game (`milestones.go.dataset`): training on the training games, the recipe's choices on
validation, and the test set read once, at the end. A checkpoint holds the network, the optimizer
and the generator; positions are drawn from the generator, so a resumed run continues the same
sequence of minibatches.

The RL policy network ("Reinforcement learning of policy networks", `alphago/rl-policy-9x9`): p_ρ
starts as p_σ; each iteration plays a minibatch of games against an opponent drawn from a pool of
earlier versions of itself (p_σ the first; the current network joins every `pool_every` iterations)
and takes one REINFORCE step, Δρ ∝ (1/n) Σ_i Σ_t z_t^i ∇ log p_ρ(a_t^i | s_t^i). Its score: the share
of games it wins against p_σ, both sampling their moves (the paper: more than 80 %).

The value network ("Reinforcement learning of value networks", `alphago/value-9x9`): one position
per self-play game, U ~ uniform{1 … max_u}, moves before U from p_σ, move U at random, p_ρ to the end
(`milestones.go.selfplay.value_positions`), the outcome z as target; v_θ by regression, mean squared
error on test chunks (the paper: 0.226 training, 0.234 test; trained on whole games it overfit,
0.19 / 0.37). The positions are generated into the run (RUN_DIR/value_data/, chunk by chunk, each
chunk from its own seed), so a stopped run continues the generation where it was.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from milestones import config as cfg_mod
from milestones import registry
from milestones.config import BaseConfig, ConfigError, param
from milestones.data import dataset_path
from milestones.family import Experiment, Reference
from milestones.games.go import PLANES, Go
from milestones.go.dataset import Positions, load
from milestones.go.selfplay import SelfPlayGame, play_games, sensible_mask, value_positions
from milestones.nn.go_policy import PolicyCNN, ValueCNN
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.state import State

ALPHAGO = "Silver et al. 2016, Mastering the game of Go with deep neural networks and tree search, Nature 529"


@dataclasses.dataclass(frozen=True)
class SLPolicyConfig(BaseConfig):
    data: str = param("go9-gnugo-l10", "the games' folder under the data directory (milestones gnugo-games)")
    size: int = param(9, "board size", low=2, high=25)
    layers: int = param(6, "convolutional layers L (5×5 first, 3×3 after, then the 1×1 head)", low=2)
    filters: int = param(64, "filters k per layer", low=1)
    steps: int = param(20_000, "minibatch steps", low=1)
    batch_size: int = param(128, "positions per minibatch (the paper: 16)", low=1)
    optimizer: Literal["adam", "sgd"] = param("adam", "adam, or plain SGD as in the paper")
    lr: float = param(1e-3, "step size (the paper: SGD, 0.003, halved every 80 M steps)", low=0.0, low_open=True)
    weight_decay: float = param(1e-4, "L2 penalty on the weights", low=0.0)
    eval_every: int = param(1_000, "steps between accuracy measurements on the validation games", low=1)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(1_000, "steps between checkpoints", low=1)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"--optimizer: expected adam or sgd, got {self.optimizer!r}")


def architecture(cfg: SLPolicyConfig) -> dict[str, Any]:
    return {"size": cfg.size, "layers": cfg.layers, "filters": cfg.filters, "planes": PLANES}


def make_network(cfg: SLPolicyConfig) -> PolicyCNN:
    return PolicyCNN(PLANES, cfg.size, cfg.layers, cfg.filters)


def symmetric_batch(planes: np.ndarray, moves: np.ndarray, rng: np.random.Generator, size: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each position under one of the 8 symmetries, drawn at random: (B, C, N, N), (B,)."""
    out_planes = np.empty_like(planes)
    out_moves = moves.copy()
    k = rng.integers(0, 8, len(moves))
    index = np.arange(size * size).reshape(size, size)
    for s in range(8):
        chosen = np.flatnonzero(k == s)
        if not len(chosen):
            continue
        p, q = planes[chosen], index
        if s >= 4:
            p, q = p[:, :, :, ::-1], q[:, ::-1]
        p, q = np.rot90(p, s % 4, axes=(2, 3)), np.rot90(q, s % 4)
        out_planes[chosen] = p
        # where each original point went: q holds, at each new place, the point that lands there
        where = np.empty(size * size + 1, np.int64)
        where[q.reshape(-1)] = np.arange(size * size)
        where[size * size] = size * size
        out_moves[chosen] = where[moves[chosen]]
    return out_planes, out_moves


@torch.no_grad()
def accuracy(net: PolicyCNN, data: Positions, device: torch.device, batch: int = 1024) -> dict[str, float]:
    """Top-1 accuracy (the most likely legal move is the expert's) and the mean log-likelihood."""
    net.eval()
    right, log_likelihood = 0, 0.0
    for start in range(0, len(data), batch):
        planes = torch.from_numpy(data.planes[start:start + batch]).to(device, torch.float32)
        moves = torch.from_numpy(data.moves[start:start + batch]).to(device)
        logits = net(planes)
        legal = torch.cat([planes[:, 9].flatten(1), torch.ones(len(planes), 1, device=device)], dim=1) > 0
        logits = logits.masked_fill(~legal, float("-inf"))
        right += int((logits.argmax(1) == moves).sum())
        log_likelihood += float(torch.log_softmax(logits, 1).gather(1, moves[:, None]).sum())
    net.train()
    n = max(len(data), 1)
    return {"accuracy": right / n, "log_likelihood": log_likelihood / n}


def load_data(cfg: SLPolicyConfig) -> dict[str, Positions]:
    folder = dataset_path(cfg.data)
    data = load(folder, cfg.size)
    if not len(data["train"]) or not len(data["validation"]):
        raise ConfigError(f"{folder} holds too few games for a training and a validation set "
                          f"({data['train'].games} and {data['validation'].games} games); generate more with "
                          f"`milestones gnugo-games`")
    return data


class LossMeter:
    """The mean training loss since the last evaluation; saved with the run, so a resumed run logs
    what a run straight through logs."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, loss: float) -> None:
        self.total, self.count = self.total + loss, self.count + 1

    def take(self) -> float:
        mean = self.total / max(self.count, 1)
        self.total, self.count = 0.0, 0
        return mean

    def state_dict(self) -> dict[str, Any]:
        return {"total": np.array(self.total), "count": np.array(self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total, self.count = float(state["total"]), int(state["count"])


def one_step(net: PolicyCNN, optimizer: torch.optim.Optimizer, data: Positions, rng: np.random.Generator,
             cfg: SLPolicyConfig, device: torch.device) -> float:
    """One minibatch of positions drawn with `rng`, each under a random symmetry; −log p_σ(a | s)."""
    index = rng.integers(0, len(data), cfg.batch_size)
    planes, moves = symmetric_batch(data.planes[index], data.moves[index], rng, cfg.size)
    x = torch.from_numpy(np.ascontiguousarray(planes)).to(device, torch.float32)
    y = torch.from_numpy(moves).to(device)
    loss = F.cross_entropy(net(x), y)  # the paper ascends log p_σ(a | s): the same gradient
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train(cfg: SLPolicyConfig, run: Run) -> dict[str, float]:
    data = load_data(cfg)
    seed_everything(cfg.seed)
    net = make_network(cfg).to(run.device)
    if cfg.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng, meter = np.random.default_rng([cfg.seed, 1]), LossMeter()
    state = State(architecture(cfg), modules={"net": net}, optimizers={"opt": optimizer}, generators={"rng": rng},
                  objects={"loss": meter})
    start, _ = run.resume(state)
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    for step in loop:
        meter.add(one_step(net, optimizer, data["train"], rng, cfg, run.device))
        if step % cfg.eval_every == 0 or loop.last:
            val = accuracy(net, data["validation"], run.device)
            run.log(step, loss=meter.take(), val_accuracy=val["accuracy"], val_log_likelihood=val["log_likelihood"])
            loop.postfix(val=f"{val['accuracy']:.3f}")
    return final_metrics(net, data, run.device)


def final_metrics(net: PolicyCNN, data: dict[str, Positions], device: torch.device) -> dict[str, float]:
    test, val = accuracy(net, data["test"], device), accuracy(net, data["validation"], device)
    return {"test_accuracy": test["accuracy"], "test_log_likelihood": test["log_likelihood"],
            "val_accuracy": val["accuracy"], "train_positions": float(len(data["train"])),
            "train_games": float(data["train"].games), "test_positions": float(len(data["test"]))}


def open_run(run_dir: str, prefix: str) -> tuple[Run, Any]:
    """The run of an `prefix`* experiment in `run_dir` and its configuration; ValueError says why a
    directory is not one."""
    name, saved = Run.read_config(run_dir)
    if not name.startswith(prefix):
        raise ValueError(f"{run_dir} is a run of {name}, not of {prefix}*")
    exp = registry.catalog()[name]
    cfg = cfg_mod.from_dict(type(exp.config), saved)
    return Run(run_dir, exp, cfg, progress=False), cfg


def load_trained(run: Run, architecture_keys: dict[str, Any], net: torch.nn.Module) -> int:
    """Load the run's last checkpoint into `net` (eval mode); its step. ValueError if there is none."""
    loaded = run.load(State(architecture_keys, modules={"net": net}))
    if loaded is None:
        raise ValueError(f"{run.dir} has no checkpoint yet")
    net.eval()
    return loaded.step


def load_policy(run_dir: str) -> tuple[SLPolicyConfig, PolicyCNN, int]:
    """The configuration and trained network (eval mode) of an alphago/sl-policy run, and its step."""
    run, cfg = open_run(run_dir, "alphago/sl-policy-")
    net = make_network(cfg)
    return cfg, net, load_trained(run, architecture(cfg), net)


def evaluate(cfg: SLPolicyConfig, run: Run) -> dict[str, float]:
    net = make_network(cfg).to(run.device)
    loaded = run.load(State(architecture(cfg), modules={"net": net}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return final_metrics(net, load_data(cfg), run.device) | {"step": float(loaded.step)}


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        name="alphago/sl-policy-9x9",
        summary="AlphaGo's supervised policy network on 9×9, learning GNU Go level 10's moves",
        config=SLPolicyConfig(),
        train=train, evaluate=evaluate, metric="test_accuracy", goal="max", citation=ALPHAGO,
        references=(Reference("test_accuracy", 0.557, "Silver et al. 2016, Table 1 (128-192 filters, board and "
                              "history features)", "KGS 19×19 human games, not comparable with GNU Go 9×9: the "
                              "paper's scale, for orientation"),),
        deviations=(
            "Experts: GNU Go 3.8 level 10 playing itself from 4 random opening moves, not KGS 6-9 dan games "
            "(none for 9×9 here); 9×9, not 19×19.",
            "Input: 11 planes (stones, liberties 1/2/≥3, legality, colour), not the paper's 48 (no history, "
            "ladders, capture sizes); L = 6 layers of k = 64 filters, not 13 of 192; one more logit for the pass.",
            "Adam (lr 1e-3, weight decay 1e-4), minibatches of 128, not SGD at 0.003 with minibatches of 16.",
        ),
        curve=("step", "val_accuracy"),
        budgets={"quick": {"steps": 20, "eval_every": 10, "batch_size": 16, "layers": 3, "filters": 8}, "full": {}}),
)


# ---- the RL policy network: policy gradient by self-play against earlier versions -----------------------

@dataclasses.dataclass(frozen=True)
class RLPolicyConfig(BaseConfig):
    sl_run: str = param("", "the alphago/sl-policy-* run whose network starts the RL policy (required)")
    iterations: int = param(300, "iterations: a minibatch of games, then one policy-gradient step", low=1)
    games: int = param(64, "games per iteration, half with each colour (the paper: 128)", low=2)
    lr: float = param(1e-3, "SGD step size α (the paper: 0.001)", low=0.0, low_open=True)
    pool_every: int = param(25, "iterations between adding the current network to the opponents' pool "
                                "(the paper: 500)", low=1)
    eval_every: int = param(25, "iterations between matches against the SL network", low=1)
    eval_games: int = param(100, "games against the SL network per evaluation, colours alternating, moves "
                                 "sampled from both policies", low=2)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(5, "iterations between checkpoints", low=1)


class OpponentPool:
    """The parameters of earlier versions of the policy (the paper's pool of opponents), the SL
    network's first; saved with the run."""

    def __init__(self) -> None:
        self.members: list[dict[str, torch.Tensor]] = []

    def add(self, net: torch.nn.Module) -> None:
        self.members.append({k: v.detach().clone() for k, v in net.state_dict().items()})

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"size": np.array(len(self.members))}
        for i, member in enumerate(self.members):
            out |= {f"{i}/{k}": v for k, v in member.items()}
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = int(state["size"])
        self.members = [{k.split("/", 1)[1]: torch.as_tensor(v) for k, v in state.items() if k.startswith(f"{i}/")}
                        for i in range(size)]


def reinforce_loss(net: PolicyCNN, games: list[SelfPlayGame], colour: int) -> torch.Tensor:
    """−(1/n) Σ_i Σ_t z_t^i log p_ρ(a_t^i | s_t^i) over the moves `colour` made in n games, p_ρ the
    policy over the sensible moves it was sampled from, z_t^i = +1 if that player won game i, −1 if
    it lost, 0 for a draw (the paper's REINFORCE, without the baseline)."""
    positions, moves, z = [], [], []
    for g in games:
        outcome = 0.0 if g.winner is None else 1.0 if g.winner == colour else -1.0
        for p, m in zip(g.positions, g.moves):
            if p.to_play == colour:
                positions.append(p)
                moves.append(m)
                z.append(outcome)
    planes = torch.from_numpy(np.stack([p.planes() for p in positions]))
    logits = net(planes)
    mask = torch.from_numpy(sensible_mask(positions, logits.shape[1]))
    log_p = torch.log_softmax(logits.masked_fill(~mask, float("-inf")), 1)
    chosen = log_p.gather(1, torch.tensor(moves)[:, None]).squeeze(1)
    return -(torch.tensor(z, dtype=chosen.dtype) * chosen).sum() / len(games)


def policy_fn(net: PolicyCNN):
    def policy(planes: torch.Tensor) -> torch.Tensor:
        return net(planes)
    return policy


def win_rate(game: Go, net: PolicyCNN, opponent: PolicyCNN, games: int, rng: np.random.Generator) -> float:
    """Share of `games` (colours alternating, half each) that `net` wins against `opponent`, draws ½."""
    first = play_games(game, policy_fn(net), policy_fn(opponent), games // 2, rng)
    second = play_games(game, policy_fn(opponent), policy_fn(net), games - games // 2, rng)
    score = sum(1.0 if g.winner == 0 else 0.5 if g.winner is None else 0.0 for g in first)
    score += sum(1.0 if g.winner == 1 else 0.5 if g.winner is None else 0.0 for g in second)
    return score / games


def rl_iteration(net: PolicyCNN, opponent: PolicyCNN, optimizer: torch.optim.Optimizer, game: Go,
                 cfg: RLPolicyConfig, rng: np.random.Generator) -> dict[str, float]:
    """One minibatch of games against `opponent` (half with each colour), one step on their loss."""
    net.eval()  # no dropout or batch norm here; eval() only marks that play does not train
    as_black = play_games(game, policy_fn(net), policy_fn(opponent), cfg.games // 2, rng)
    as_white = play_games(game, policy_fn(opponent), policy_fn(net), cfg.games - cfg.games // 2, rng)
    net.train()
    loss = (reinforce_loss(net, as_black, 0) * len(as_black) + reinforce_loss(net, as_white, 1) * len(as_white)) \
        / cfg.games
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    won = sum(g.winner == 0 for g in as_black) + sum(g.winner == 1 for g in as_white)
    moves = sum(len(g.moves) for g in as_black + as_white)
    return {"loss": loss.item(), "train_win_rate": won / cfg.games, "moves_per_game": moves / cfg.games}


def train_rl(cfg: RLPolicyConfig, run: Run) -> dict[str, float]:
    if not cfg.sl_run:
        raise ConfigError("--sl-run: the RL policy starts from a trained alphago/sl-policy run; name its directory")
    sl_cfg, sl_net, _ = load_policy(cfg.sl_run)
    seed_everything(cfg.seed)
    game = Go(sl_cfg.size, 7.0)
    net = make_network(sl_cfg)
    net.load_state_dict(sl_net.state_dict())
    opponent = make_network(sl_cfg).eval()
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr)
    pool = OpponentPool()
    pool.add(sl_net)
    rng, eval_rng = np.random.default_rng([cfg.seed, 1]), np.random.default_rng([cfg.seed, 2])
    state = State(architecture(sl_cfg), modules={"net": net}, optimizers={"opt": optimizer},
                  generators={"rng": rng, "eval_rng": eval_rng}, objects={"pool": pool})
    start, _ = run.resume(state)
    loop = run.loop(state, cfg.iterations, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    for iteration in loop:
        opponent.load_state_dict(pool.members[int(rng.integers(len(pool.members)))])
        row = rl_iteration(net, opponent, optimizer, game, cfg, rng)
        if iteration % cfg.pool_every == 0:
            pool.add(net)
        if iteration % cfg.eval_every == 0 or loop.last:
            row["win_rate_vs_sl"] = win_rate(game, net.eval(), sl_net, cfg.eval_games, eval_rng)
            net.train()
        run.log(iteration, **row)
        loop.postfix(win=f"{row['train_win_rate']:.2f}")
    final = win_rate(game, net.eval(), sl_net, 2 * cfg.eval_games, eval_rng)
    return {"win_rate_vs_sl": final, "iterations": float(cfg.iterations)}


def evaluate_rl(cfg: RLPolicyConfig, run: Run) -> dict[str, float]:
    sl_cfg, sl_net, _ = load_policy(cfg.sl_run)
    net = make_network(sl_cfg)
    loaded = run.load(State(architecture(sl_cfg), modules={"net": net}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    rate = win_rate(Go(sl_cfg.size, 7.0), net.eval(), sl_net, 2 * cfg.eval_games, np.random.default_rng([cfg.seed, 3]))
    return {"win_rate_vs_sl": rate, "iteration": float(loaded.step)}


EXPERIMENTS = EXPERIMENTS + (
    Experiment(
        name="alphago/rl-policy-9x9",
        summary="AlphaGo's RL policy network on 9×9: policy gradient by self-play against a pool of earlier versions",
        config=RLPolicyConfig(),
        train=train_rl, evaluate=evaluate_rl, metric="win_rate_vs_sl", goal="max", citation=ALPHAGO,
        references=(Reference("win_rate_vs_sl", 0.8, "Silver et al. 2016, 'Reinforcement learning of policy "
                              "networks'", "the RL policy won more than 80 % of games against the SL policy (19×19)"),),
        deviations=(
            "9×9 and small networks (the SL run's); games per minibatch 64, a new pool member every 25 iterations "
            "(the paper: 128 and 500, over 10 000 minibatches).",
            "Moves are sampled over the legal moves that do not fill an own eye (the paper's 'sensibleness' feature); "
            "games end at two passes or 3·N² moves and are scored by area.",
            "No baseline in the policy gradient (the paper reports a small gain from subtracting v(s)).",
        ),
        curve=("step", "win_rate_vs_sl"),
        budgets={"quick": {"iterations": 2, "games": 4, "eval_every": 1, "eval_games": 4, "pool_every": 1},
                 "full": {}}),
)


# ---- the value network: one position per self-play game ----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ValueConfig(BaseConfig):
    sl_run: str = param("", "the alphago/sl-policy-* run: its network plays moves 1 … U − 1 (required)")
    rl_run: str = param("", "the alphago/rl-policy-* run: its network plays after move U (default: the SL network)")
    positions: int = param(51_200, "self-play games, one training position each", low=1)
    chunk: int = param(256, "games played side by side and saved together (generation resumes by chunk)", low=1)
    max_u: int = param(60, "U ~ uniform{1 … max_u}: the random move's time step (the paper: 450 on 19×19)", low=1)
    layers: int = param(6, "convolutional layers of the value network's trunk", low=2)
    filters: int = param(64, "filters per layer", low=1)
    hidden: int = param(256, "units of the fully connected layer", low=1)
    steps: int = param(20_000, "minibatch steps", low=1)
    batch_size: int = param(128, "positions per minibatch (the paper: 32)", low=1)
    lr: float = param(1e-3, "Adam's step size", low=0.0, low_open=True)
    weight_decay: float = param(1e-4, "L2 penalty on the weights", low=0.0)
    eval_every: int = param(1_000, "steps between the mean squared error on the validation chunks", low=1)
    minutes: float = param(0.0, "stop training after this many minutes of wall time (0: no limit)", low=0.0)
    checkpoint_every: int = param(1_000, "steps between checkpoints", low=1)


def value_architecture(cfg: ValueConfig, size: int) -> dict[str, Any]:
    return {"size": size, "layers": cfg.layers, "filters": cfg.filters, "hidden": cfg.hidden, "planes": PLANES}


def chunk_split(k: int) -> str:
    """Chunk k of the value data: test when k % 20 == 0, validation when 1, training otherwise."""
    return "test" if k % 20 == 0 else "validation" if k % 20 == 1 else "train"


def generate_value_data(cfg: ValueConfig, run: Run, size: int, sl_net: PolicyCNN, rl_net: PolicyCNN) -> Path:
    """RUN_DIR/value_data/chunk-K.npz (planes uint8, z float32), each chunk from its own seed
    [seed, 7, K] and written whole, so a stopped generation continues where it was."""
    folder = run.dir / "value_data"
    folder.mkdir(exist_ok=True)
    game = Go(size, 7.0)
    chunks = -(-cfg.positions // cfg.chunk)
    for k in tqdm(range(chunks), desc="value data", unit="chunk", disable=not run.show_progress):
        path = folder / f"chunk-{k:05d}.npz"
        if path.exists():
            continue
        n = min(cfg.chunk, cfg.positions - k * cfg.chunk)
        positions, z = value_positions(game, policy_fn(sl_net), policy_fn(rl_net), n, np.random.default_rng(
            [cfg.seed, 7, k]), cfg.max_u)
        tmp = folder / f"chunk-{k:05d}.tmp.npz"
        np.savez(tmp, planes=np.stack([p.planes() for p in positions]).astype(np.uint8), z=z.astype(np.float32))
        tmp.replace(path)
    return folder


def load_value_data(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {s: ([], []) for s in ("train", "validation", "test")}
    for path in sorted(folder.glob("chunk-?????.npz")):
        with np.load(path) as f:
            planes, z = parts[chunk_split(int(path.stem.split("-")[1]))]
            planes.append(f["planes"])
            z.append(f["z"])
    return {s: (np.concatenate(p) if p else np.zeros((0, PLANES, 1, 1), np.uint8),
                np.concatenate(z) if z else np.zeros(0, np.float32)) for s, (p, z) in parts.items()}


@torch.no_grad()
def value_mse(net: ValueCNN, planes: np.ndarray, z: np.ndarray, device: torch.device, batch: int = 1024) -> float:
    net.eval()
    total = 0.0
    for start in range(0, len(z), batch):
        x = torch.from_numpy(planes[start:start + batch]).to(device, torch.float32)
        total += float(((net(x) - torch.from_numpy(z[start:start + batch]).to(device)) ** 2).sum())
    net.train()
    return total / max(len(z), 1)


def value_step(net: ValueCNN, optimizer: torch.optim.Optimizer, planes: np.ndarray, z: np.ndarray,
               rng: np.random.Generator, cfg: ValueConfig, size: int, device: torch.device) -> float:
    """One minibatch under random symmetries; the squared error (z − v_θ(s))², averaged."""
    index = rng.integers(0, len(z), cfg.batch_size)
    x, _ = symmetric_batch(planes[index], np.zeros(cfg.batch_size, np.int64), rng, size)
    v = net(torch.from_numpy(np.ascontiguousarray(x)).to(device, torch.float32))
    loss = ((v - torch.from_numpy(z[index]).to(device)) ** 2).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_value(cfg: ValueConfig, run: Run) -> dict[str, float]:
    if not cfg.sl_run:
        raise ConfigError("--sl-run: the value network's games start with a trained alphago/sl-policy run; "
                          "name its directory")
    sl_cfg, sl_net, _ = load_policy(cfg.sl_run)
    rl_net = sl_net
    if cfg.rl_run:
        rl_net = load_rl_policy(cfg.rl_run)
    data = load_value_data(generate_value_data(cfg, run, sl_cfg.size, sl_net, rl_net))
    if not len(data["train"][1]) or not len(data["validation"][1]):
        raise ConfigError(f"--positions {cfg.positions} with --chunk {cfg.chunk} gives no training or no validation "
                          "chunk (chunk 0 is the test set, chunk 1 validation): ask for more positions")
    seed_everything(cfg.seed)
    net = ValueCNN(PLANES, sl_cfg.size, cfg.layers, cfg.filters, cfg.hidden).to(run.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng, meter = np.random.default_rng([cfg.seed, 1]), LossMeter()
    state = State(value_architecture(cfg, sl_cfg.size), modules={"net": net}, optimizers={"opt": optimizer},
                  generators={"rng": rng}, objects={"loss": meter})
    start, _ = run.resume(state)
    planes, z = data["train"]
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every, minutes=cfg.minutes)
    for step in loop:
        meter.add(value_step(net, optimizer, planes, z, rng, cfg, sl_cfg.size, run.device))
        if step % cfg.eval_every == 0 or loop.last:
            val = value_mse(net, *data["validation"], run.device)
            run.log(step, loss=meter.take(), val_mse=val)
            loop.postfix(val=f"{val:.3f}")
    return value_metrics(net, data, run.device)


def value_metrics(net: ValueCNN, data: dict[str, tuple[np.ndarray, np.ndarray]], device: torch.device
                  ) -> dict[str, float]:
    train_planes, train_z = data["train"]
    return {"test_mse": value_mse(net, *data["test"], device), "val_mse": value_mse(net, *data["validation"], device),
            "train_mse": value_mse(net, train_planes[:20_000], train_z[:20_000], device),
            "positions": float(sum(len(z) for _, z in data.values())),
            "test_z_variance": float(np.var(data["test"][1]))}


def load_rl_policy(run_dir: str) -> PolicyCNN:
    """The trained network of an alphago/rl-policy run (its SL run gives the architecture)."""
    run, cfg = open_run(run_dir, "alphago/rl-policy-")
    sl_cfg, _, _ = load_policy(cfg.sl_run)
    net = make_network(sl_cfg)
    load_trained(run, architecture(sl_cfg), net)
    return net


def load_value(run_dir: str) -> ValueCNN:
    """The trained network of an alphago/value run (eval mode)."""
    run, cfg = open_run(run_dir, "alphago/value-")
    sl_cfg, _, _ = load_policy(cfg.sl_run)
    net = ValueCNN(PLANES, sl_cfg.size, cfg.layers, cfg.filters, cfg.hidden)
    load_trained(run, value_architecture(cfg, sl_cfg.size), net)
    return net


def evaluate_value(cfg: ValueConfig, run: Run) -> dict[str, float]:
    sl_cfg, _, _ = load_policy(cfg.sl_run)
    net = ValueCNN(PLANES, sl_cfg.size, cfg.layers, cfg.filters, cfg.hidden).to(run.device)
    loaded = run.load(State(value_architecture(cfg, sl_cfg.size), modules={"net": net}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return value_metrics(net, load_value_data(run.dir / "value_data"), run.device) | {"step": float(loaded.step)}


EXPERIMENTS = EXPERIMENTS + (
    Experiment(
        name="alphago/value-9x9",
        summary="AlphaGo's value network on 9×9: the outcome of self-play games, one position per game",
        config=ValueConfig(),
        train=train_value, evaluate=evaluate_value, metric="test_mse", goal="min", citation=ALPHAGO,
        references=(Reference("test_mse", 0.234, "Silver et al. 2016, 'Reinforcement learning of value networks'",
                              "19×19, 30 M positions (train 0.226); trained on whole games instead: 0.37 test"),),
        deviations=(
            "9×9, U ≤ 60 (the paper: 450), games from our SL and RL networks; 51 200 positions, not 30 M.",
            "Adam (lr 1e-3, weight decay 1e-4), minibatches of 128 (the paper: SGD, 32).",
            "No extra colour plane: our planes already say whether Black is to move.",
        ),
        curve=("step", "val_mse"),
        budgets={"quick": {"positions": 48, "chunk": 8, "max_u": 10, "layers": 2, "filters": 8, "hidden": 16,
                           "steps": 10, "eval_every": 5, "batch_size": 16}, "full": {}}),
)
