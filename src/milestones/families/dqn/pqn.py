"""PQN (Gallici et al. 2024) as a variant of the DQN recipes: no replay memory, no target network.

Each round, `envs` environments step side by side for `rollout` steps with ε-greedy actions from one
batched forward pass; the rollout's Q(λ) targets (`milestones.rl.pqn.lambda_returns`) come from the
Q-values computed while acting; then `epochs` passes of `minibatches` minibatches regress Q(s, a)
on them (½ (Q − G)², RAdam, the gradient's norm clipped, the learning rate decaying linearly to 0).
The network is the paper's for the environment with LayerNorm before each ReLU. The evaluation is
the DQN recipes' (ε = 0.05, whole games, the same validation and test seeds), so the two compare.

A checkpoint is taken between rounds and holds every environment mid-episode, so a killed run
resumes to the same returns.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from milestones.config import ConfigError, param
from milestones.families.dqn.experiments import (
    VALID_SEED,
    AgentConfig,
    Episodes,
    architecture,
    draw_figures,
    evaluate_agent,
    final_metrics,
    make_env,
    make_network,
)
from milestones.nn.graphs import GraphedUpdate
from milestones.rl import envs
from milestones.rl.pqn import epsilon_greedy, lambda_returns, linear
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.state import State


@dataclasses.dataclass(frozen=True)
class PQNConfig(AgentConfig):
    env: str = param("MinAtar/Breakout-v1", "environment: CartPole-v1, MinAtar/<Game>-v1 or ALE/<Game>-v5")
    steps: int = param(10_000_000, "environment steps in all (each round: envs × rollout)", low=1)
    envs: int = param(128, "environments stepped side by side", low=1)
    rollout: int = param(32, "steps of each environment per round", low=1)
    epochs: int = param(2, "passes over each round's transitions", low=1)
    minibatches: int = param(32, "minibatches per pass (envs × rollout must divide by it)", low=1)
    optimizer: Literal["radam", "adam"] = param("radam", "RAdam (the paper's code) or Adam")
    lr: float = param(5e-4, "learning rate at the start", low=0.0, high=1.0, low_open=True)
    lr_decay: bool = param(True, "decay the learning rate linearly to 0 over training")
    max_grad_norm: float = param(10.0, "clip the gradient's global norm (0: off)", low=0.0)
    gamma: float = param(0.99, "discount γ", low=0.0, high=1.0)
    lam: float = param(0.65, "λ of the Q(λ) targets (0: one-step targets)", low=0.0, high=1.0)
    epsilon_start: float = param(1.0, "ε at the start", low=0.0, high=1.0)
    epsilon_end: float = param(0.05, "ε after the decay", low=0.0, high=1.0)
    epsilon_fraction: float = param(0.1, "fraction of the steps over which ε falls", low=0.0, high=1.0,
                                    low_open=True)
    layer_norm: bool = param(True, "LayerNorm before each hidden ReLU (PQN relies on it)")
    eval_every: int = param(500_000, "environment steps between evaluations (at the round's end)", low=1)
    checkpoint_every: int = param(20, "rounds between checkpoints (resume restarts from the last)", low=1)
    atari_envs: Literal["reference", "vector"] = param(
        "reference", "Atari training environments: reference = our Nature preprocessing in Python, one environment "
                     "after another (a resumed run continues exactly); vector = ale-py's AtariVectorEnv, C++ on "
                     "--env-threads threads (the fast path: its own no-op draws, no FIRE after a lost life, and a "
                     "resumed run starts new games; milestones.rl.atari.make_atari_vector)")
    env_threads: int = param(0, "threads of the vector environments (0: one per core)", low=0)
    cuda_graphs: bool = param(False, "on a GPU, replay each minibatch update (forward, backward, clipping, "
                                     "optimizer step) as one captured CUDA graph (milestones.nn.graphs."
                                     "GraphedUpdate; the same updates as without; on a CPU it changes nothing)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cuda_graphs and self.lr_decay:
            raise ConfigError("--cuda-graphs needs --lr-decay false: a captured graph keeps the learning rate "
                              "it was captured with")
        if self.atari_envs == "vector" and envs.kind_of(self.env) != "ale":
            raise ConfigError(f"--atari-envs vector steps Atari games (ALE/<Game>-v5), not {self.env}: "
                              f"use --atari-envs reference")
        if (self.envs * self.rollout) % self.minibatches:
            raise ConfigError(f"--envs × --rollout ({self.envs} × {self.rollout}) must divide by --minibatches "
                              f"({self.minibatches})")

    @property
    def rounds(self) -> int:
        return max(1, self.steps // (self.envs * self.rollout))


class Games:
    """What both kinds of training environments keep: each environment's `Episodes`."""

    episodes: list[Episodes]

    def finished(self) -> list[float]:
        """The last two finished games' scores of every environment."""
        return [score for ep in self.episodes for score in ep.finished[-2:]]


class Environments(Games):
    """The N training environments mid-episode, their current observations and episode returns."""

    def __init__(self, cfg: PQNConfig) -> None:
        self.cfg = cfg
        self.envs = [make_env(cfg, cfg.seed * 10_000 + k, training=True) for k in range(cfg.envs)]
        self.obs: list[Any] = []
        self.episodes = [Episodes() for _ in self.envs]

    def reset(self) -> None:
        self.obs = [env.reset(seed=self.cfg.seed * 10_000 + k)[0] for k, env in enumerate(self.envs)]

    def state_dict(self) -> dict[str, Any]:
        return {"envs": [envs.env_state(e) for e in self.envs], "obs": np.stack([np.asarray(o) for o in self.obs]),
                "episodes": [e.state_dict() for e in self.episodes]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for env, saved in zip(self.envs, state["envs"]):
            envs.set_env_state(env, saved)
        self.obs = list(np.asarray(state["obs"]))
        for ep, saved in zip(self.episodes, state["episodes"]):
            ep.load_state_dict(saved)

    @property
    def spaces(self) -> Any:
        """Something with one environment's observation_space and action_space."""
        return self.envs[0]

    def resume(self, step: int) -> None:
        """After a checkpoint of `step` was loaded: every environment is where the checkpoint left it."""

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, Any]]:
        """Every environment one step: rewards (unclipped), terminated, truncated (and not terminated)
        and the last observation of each truncated episode, by environment; `obs` moves on, an
        ended episode's environment reset."""
        n = len(self.envs)
        rewards, term, trunc, last = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), {}
        for k, env in enumerate(self.envs):
            o, reward, terminated, truncated, info = env.step(int(actions[k]))
            rewards[k], term[k], trunc[k] = reward, terminated, truncated and not terminated
            self.episodes[k].step(float(info.get("game_reward", reward)),
                                  ended=bool(info.get("game_over", terminated or truncated)))
            if terminated or truncated:
                if trunc[k]:
                    last[k] = o
                o, _ = env.reset()
            self.obs[k] = o
        return rewards, term, trunc, last


class VectorEnvironments(Games):
    """The fast path for Atari: the N training games in ale-py's AtariVectorEnv (`make_atari_vector`),
    stepped together in C++ threads. A game's end is told from a lost life by its frame counter,
    which starts again only when the game is reset. Its games cannot be saved: the checkpoint keeps
    the episodes' bookkeeping, and a resumed run starts new games (seeded by the resumed step)."""

    def __init__(self, cfg: PQNConfig) -> None:
        from milestones.families.dqn.experiments import TRAIN_MAX_FRAMES, game_of
        from milestones.rl.atari import make_atari_vector

        self.cfg = cfg
        self.vector = make_atari_vector(game_of(cfg.env), cfg.envs, threads=cfg.env_threads, noop_max=cfg.noop_max,
                                        max_episode_frames=TRAIN_MAX_FRAMES, terminal_on_life_loss=True)
        self.spaces = SimpleNamespace(observation_space=self.vector.single_observation_space,
                                      action_space=self.vector.single_action_space)
        self.obs = np.zeros((cfg.envs, *self.vector.single_observation_space.shape), np.uint8)
        self.frames = np.zeros(cfg.envs, np.int64)  # each game's frame counter after the last step
        self.episodes = [Episodes() for _ in range(cfg.envs)]
        self.started = 0  # the environment step the games were (re)started at, for their seeds

    def reset(self) -> None:
        obs, info = self.vector.reset(seed=(self.cfg.seed * 10_000 + self.started) * self.cfg.envs)
        self.obs, self.frames = obs, np.asarray(info["episode_frame_number"], np.int64)

    def resume(self, step: int) -> None:
        for ep in self.episodes:  # the games in flight are lost: their scores so far too
            ep.current = 0.0
        self.started = step
        self.reset()

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": [e.state_dict() for e in self.episodes]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for ep, saved in zip(self.episodes, state["episodes"]):
            ep.load_state_dict(saved)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, Any]]:
        """As `Environments.step`."""
        obs, reward, terminated, truncated, info = self.vector.step(np.asarray(actions, np.int64))
        frames = np.asarray(info["episode_frame_number"], np.int64)
        done = terminated | truncated
        game_over = done & (frames <= self.frames)  # reset within this step: the counter started again
        for k in range(len(self.episodes)):
            self.episodes[k].step(float(reward[k]), ended=bool(game_over[k]))
        trunc = truncated & ~terminated
        last = {int(k): info["final_obs"][k] for k in np.flatnonzero(trunc)}
        self.obs, self.frames = obs, frames
        return np.asarray(reward, np.float64), np.asarray(terminated, bool), trunc, last


def make_world(cfg: PQNConfig) -> Environments | VectorEnvironments:
    return VectorEnvironments(cfg) if cfg.atari_envs == "vector" else Environments(cfg)


def q_values(net: nn.Module, obs: list[Any] | np.ndarray, device: torch.device) -> np.ndarray:
    with torch.no_grad():
        return net(torch.as_tensor(np.stack([np.asarray(o) for o in obs]), device=device)).double().cpu().numpy()


class Phases:
    """Wall time of a round's phases (`env`: the environments' steps; `act`: the forward passes and
    ε-greedy choices while acting, with their copies; `learn`: the targets and the updates), logged as
    milliseconds per round since the last log line, so that a run shows where its time goes on its
    machine. Each phase ends with a host copy of its results (Q-values, the loss), so on a GPU its
    time includes the device's work."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.rounds = 0

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def take(self) -> dict[str, float]:
        """Milliseconds per round of each phase since the last call (`<phase>_ms`), then reset."""
        rounds = max(self.rounds, 1)
        out = {f"{name}_ms": 1000.0 * s / rounds for name, s in sorted(self.seconds.items())}
        self.seconds.clear()
        self.rounds = 0
        return out


def train(cfg: PQNConfig, run: Run) -> dict[str, float]:
    seed_everything(cfg.seed)
    world = make_world(cfg)
    net = make_network(cfg, world.spaces).to(run.device)
    graphs = cfg.cuda_graphs and run.device.type == "cuda"
    optimizer: torch.optim.Optimizer = (torch.optim.RAdam if cfg.optimizer == "radam" else torch.optim.Adam)(
        net.parameters(), lr=cfg.lr, foreach=True,  # one call for every parameter: fewer small kernels
        **({"capturable": True} if graphs else {}))
    act_rng, batch_rng = np.random.default_rng([cfg.seed, 11]), np.random.default_rng([cfg.seed, 12])
    state = State(architecture(cfg, world.spaces), modules={"online": net}, optimizers={"opt": optimizer},
                  generators={"act": act_rng, "batch": batch_rng}, objects={"envs": world})
    per_round = cfg.envs * cfg.rollout
    saved_steps, extra = run.resume(state)  # checkpoints and the metrics log count environment steps
    if saved_steps == 0:
        world.reset()
    else:
        world.resume(saved_steps)
    loss = float(extra.get("loss", math.nan))
    update = graphed_update(cfg, net, optimizer, world.obs, run.device) if cfg.cuda_graphs else None  # after resume:
    # the graph reads the optimizer state's tensors where they are now
    loop = run.loop(state, cfg.rounds, start=saved_steps // per_round, checkpoint_every=cfg.checkpoint_every,
                    minutes=cfg.minutes, unit="round", extra=lambda: {"loss": loss},
                    checkpoint_step=lambda position: position * per_round)
    phases = Phases()
    for rnd in loop:
        done_steps = (rnd - 1) * per_round
        eps = linear(cfg.epsilon_start, cfg.epsilon_end, done_steps / (cfg.epsilon_fraction * cfg.steps))
        s, a, r, term, trunc, next_max = rollout(cfg, net, world, eps, act_rng, run.device, phases)
        with phases("learn"):
            targets = lambda_returns(r, term, trunc, next_max, cfg.gamma, cfg.lam)
            if cfg.lr_decay:
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr * (1.0 - (rnd - 1) / cfg.rounds)
            loss = learn(cfg, net, optimizer, s, a, targets, batch_rng, run.device, update)
        phases.rounds += 1
        loop.check_finite({"loss": loss}, hint="lower --lr")
        steps = rnd * per_round
        if steps // cfg.eval_every > done_steps // cfg.eval_every or loop.last:
            scores = evaluate_agent(cfg, net, cfg.eval_episodes, run.device, VALID_SEED)
            recent = world.finished()
            run.log(steps, eval_return=float(np.mean(scores)), eval_std=float(np.std(scores)),
                    train_return=float(np.mean(recent)) if recent else math.nan, epsilon=eps, loss=loss,
                    episodes=sum(ep.count for ep in world.episodes), **phases.take())
            loop.postfix(eval=f"{np.mean(scores):.1f}", eps=f"{eps:.2f}")
    draw_figures(cfg, run)
    return final_metrics(cfg, net, run) | {"steps_trained": float(loop.position * per_round)}


def rollout(cfg: PQNConfig, net: nn.Module, world: Environments | VectorEnvironments, eps: float,
            generator: np.random.Generator, device: torch.device,
            phases: Phases | None = None) -> tuple[np.ndarray, ...]:
    """`rollout` steps of every environment: observations (T, N, …), actions, rewards, terminations,
    truncations and max_a Q(s', a) of each next observation (T, N). `phases` times acting and the
    environments' steps apart."""
    phase = phases or Phases()
    steps, n = cfg.rollout, cfg.envs
    obs = np.zeros((steps, n, *np.asarray(world.obs[0]).shape), np.asarray(world.obs[0]).dtype)
    actions, rewards = np.zeros((steps, n), np.int64), np.zeros((steps, n), np.float64)
    term, trunc, next_max = np.zeros((steps, n), bool), np.zeros((steps, n), bool), np.zeros((steps, n))
    with phase("act"):
        q = q_values(net, world.obs, device)
    for t in range(steps):
        with phase("act"):
            obs[t] = np.stack([np.asarray(o) for o in world.obs])
            actions[t] = epsilon_greedy(q, eps, generator)
        with phase("env"):
            reward, term[t], trunc[t], last = world.step(actions[t])  # last: truncated episodes' last observations
        rewards[t] = np.clip(reward, -1, 1) if cfg.reward_clip else reward
        with phase("act"):
            q = q_values(net, world.obs, device)
            next_max[t] = q.max(1)
            if last:
                next_max[t, list(last)] = q_values(net, list(last.values()), device).max(1)
    return obs, actions, rewards, term, trunc, next_max


def minibatch_loss(net: nn.Module, s: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """½ (Q(s, a) − G)², averaged over the minibatch."""
    q = net(s).gather(1, a.unsqueeze(1)).squeeze(1)
    return 0.5 * (q - g).pow(2).mean()


def plain_update(net: nn.Module, optimizer: torch.optim.Optimizer, s: torch.Tensor, a: torch.Tensor,
                 g: torch.Tensor, max_grad_norm: float) -> torch.Tensor:
    """One eager minibatch update: `minibatch_loss`, backward, the gradient's norm clipped (0: not),
    the optimizer's step; returns the loss."""
    loss = minibatch_loss(net, s, a, g)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
    optimizer.step()
    return loss


def graphed_update(cfg: PQNConfig, net: nn.Module, optimizer: torch.optim.Optimizer, obs: list[Any],
                   device: torch.device) -> GraphedUpdate:
    """One minibatch update (`minibatch_loss`, backward, the norm clipped, the optimizer's step) as a
    `GraphedUpdate`: a captured CUDA graph on a GPU, the same update eagerly on a CPU."""
    size = cfg.envs * cfg.rollout // cfg.minibatches
    example = np.asarray(obs[0])
    inputs = (torch.as_tensor(np.repeat(example[None], size, axis=0), device=device),
              torch.zeros(size, dtype=torch.int64, device=device), torch.zeros(size, device=device))
    return GraphedUpdate(lambda s, a, g: minibatch_loss(net, s, a, g), optimizer, inputs,
                         max_grad_norm=cfg.max_grad_norm)


def learn(cfg: PQNConfig, net: nn.Module, optimizer: torch.optim.Optimizer, obs: np.ndarray, actions: np.ndarray,
          targets: np.ndarray, generator: np.random.Generator, device: torch.device,
          update: GraphedUpdate | None = None) -> float:
    """`epochs` passes of minibatch regression of Q(s, a) on the targets; the last minibatch's loss.
    With `update` (--cuda-graphs), each minibatch's update is its replay."""
    s = torch.as_tensor(obs.reshape(-1, *obs.shape[2:]), device=device)
    a = torch.as_tensor(actions.reshape(-1), device=device)
    g = torch.as_tensor(targets.reshape(-1), dtype=torch.float32, device=device)
    size = len(a) // cfg.minibatches
    loss = torch.zeros(())
    for _ in range(cfg.epochs):
        order = torch.as_tensor(generator.permutation(len(a)), device=device)
        for b in range(cfg.minibatches):
            idx = order[b * size:(b + 1) * size]
            loss = (update(s[idx], a[idx], g[idx]) if update is not None
                    else plain_update(net, optimizer, s[idx], a[idx], g[idx], cfg.max_grad_norm))
    return float(loss.detach())


# ---- the experiments ----------------------------------------------------------------------------------

PQN_PAPER = "Gallici et al. 2024, Simplifying Deep Temporal Difference Learning (PQN), its MinAtar settings"
PQN_DEVIATIONS = (
    "A variant beyond the Nature paper: PQN (no replay, no target network, LayerNorm, Q(λ) targets) with its "
    "code's MinAtar settings: 128 environments × 32 steps, 2 epochs of 32 minibatches, RAdam 5e-4 decaying "
    "linearly, gradient norm 10, λ 0.65, ε 1 → 0.05 over the first 10 % of 10 M steps.",
    "The MinAtar paper's network (conv 16 3×3, fc 128) with LayerNorm, v1 environments with sticky actions "
    "0.1; the reference line is the MinAtar paper's DQN at 5 M frames, not a PQN number.",
    "Evaluated as the DQN recipes: ε = 0.05, 10 episodes every 500 000 steps on validation seeds, 30 at the "
    "end on test seeds (the paper's code evaluates greedily).",
)


def _pqn_minatar(game: str) -> Any:
    from milestones.families.dqn.experiments import MINATAR, MINATAR_PAPER, evaluate, explain
    from milestones.family import Experiment, Reference
    name = game.lower() if game != "SpaceInvaders" else "space-invaders"
    return Experiment(
        name=f"dqn/minatar-{name}-pqn", summary=f"PQN on MinAtar {game} (10 M steps, 128 environments)",
        config=PQNConfig(env=f"MinAtar/{game}-v1"), train=train, evaluate=evaluate, metric="return", goal="max",
        citation=PQN_PAPER,
        references=(Reference("return", MINATAR_PAPER[game], MINATAR, "the MinAtar paper's DQN at 5 M frames "
                              "(read off its plot, 30 runs)", verified=False),),
        deviations=PQN_DEVIATIONS, curve=("step", "eval_return"), explain=explain,
        budgets={"quick": {"steps": 4_096, "envs": 8, "rollout": 32, "minibatches": 4, "eval_every": 2_048,
                           "eval_episodes": 1, "final_episodes": 2, "checkpoint_every": 4}, "full": {}})


PQN_ATARI_DEVIATIONS = (
    "A variant beyond the Nature paper: PQN with its code's Atari settings (purejaxql pqn_atari): 128 "
    "environments × 32 steps, 2 epochs of 32 minibatches, RAdam 2.5e-4 without decay, gradient norm 10, λ 0.65, "
    "ε 1 → 0.001 over the first 10 % of 10 M agent steps (40 M frames), a lost life ends the training episode.",
    "The Nature network with LayerNorm over each layer's whole output (C, H, W); the paper's code normalizes "
    "each position's channels. Our own Nature preprocessing in Python, one environment after another (the paper "
    "steps envpool's C++ environments in threads; --atari-envs vector steps ale-py's in threads, a resumed run "
    "then starting new games).",
    "On CPU the run is capped by wall time (`--minutes`): the curve reached is reported, with the frames it "
    "took. Evaluated as the DQN recipes: ε = 0.05, 10 episodes every 250 000 agent steps, 30 at the end.",
)


def _pqn_atari(game: str) -> Any:
    from milestones.families.dqn.experiments import NATURE, NATURE_TABLE, NATURE_TABLE_NAME, evaluate, explain
    from milestones.family import Experiment, Reference
    random, human, dqn, dqn_std = NATURE_TABLE[game]
    return Experiment(
        name=f"dqn/atari-{game.lower()}-pqn", summary=f"PQN on Atari {game} (10 M agent steps, 128 environments)",
        config=PQNConfig(env=f"ALE/{game}-v5", lr=2.5e-4, lr_decay=False, epsilon_end=0.001, eval_every=250_000,
                         checkpoint_every=10),
        train=train, evaluate=evaluate, metric="return", goal="max", citation=PQN_PAPER.replace("MinAtar", "Atari"),
        references=(Reference("return", dqn, f"{NATURE}, Extended Data Table 2",
                              f"Nature DQN {dqn} ± {dqn_std}; human {human}, random {random} ({NATURE_TABLE_NAME})"),),
        deviations=PQN_ATARI_DEVIATIONS, curve=("step", "eval_return"), explain=explain,
        budgets={"quick": {"steps": 512, "envs": 4, "rollout": 32, "minibatches": 4, "eval_every": 256,
                           "eval_episodes": 1, "final_episodes": 1, "eval_max_frames": 2_000, "checkpoint_every": 2},
                 "full": {}})


EXPERIMENTS = (tuple(_pqn_minatar(game) for game in ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"))
               + (_pqn_atari("Pong"),))
