"""Deep Q-Networks (Mnih et al. 2015, Nature 518) on CartPole, MinAtar and Atari.

One agent step: ε-greedy on Q(s), the environment steps (4 frames on Atari), the transition goes
into the replay memory; every `train_every` steps after `replay_start` a minibatch updates θ, and
every `target_update` steps θ⁻ ← θ. Every `eval_every` steps the agent is evaluated as the paper
does (milestones.rl.evaluation: ε = 0.05, whole games, at most 18 000 frames, up to 30 no-ops on
Atari) on environments seeded apart from training. A checkpoint holds the networks, the optimizer,
every generator, the environment in the middle of its episode and the replay memory (in files beside
it), so a killed run resumes to the same returns.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import sys
from typing import Any, Literal

import numpy as np
import torch

from milestones.config import BaseConfig, ConfigError, param
from milestones.family import Experiment, Reference
from milestones.rl import envs
from milestones.rl.atari import make_atari
from milestones.rl.dqn import DQNLearner, epsilon, minatar_rmsprop, nature_rmsprop
from milestones.rl.evaluation import NATURE_TABLE, NATURE_TABLE_NAME, act, play
from milestones.rl.fused import FusedMinAtarLearner, FusedMLPLearner
from milestones.rl.networks import MinAtarQNetwork, MLPQNetwork, NatureQNetwork, QNetwork, q_of_one
from milestones.rl.replay import ReplayMemory, format_bytes, memory_bytes
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.state import State

VALID_SEED = 1_000_003  # the evaluations during training (which recipes are chosen on)
TEST_SEED = 2_000_003  # the final evaluation, on episodes seeded apart from both
TRAIN_MAX_FRAMES = 108_000  # a training game on Atari is cut after 30 minutes (the ALE v5 default)
MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
ATARI_GAMES = ("Pong", "Breakout", "SpaceInvaders")


@dataclasses.dataclass(frozen=True)
class AgentConfig(BaseConfig):
    """What every agent of the family has: its environment, and the evaluation (the Nature protocol)."""

    env: str = param("CartPole-v1", "environment: CartPole-v1, MinAtar/<Game>-v1 or ALE/<Game>-v5")
    hidden: int = param(0, "MLP widths for CartPole: 0 is 120-84; else two layers of this width", low=0)
    reward_clip: bool = param(True, "clip rewards to [−1, 1] for learning (scores stay unclipped)")
    eval_episodes: int = param(10, "episodes per evaluation during training", low=1)
    final_episodes: int = param(30, "episodes of the final evaluation (Nature: 30)", low=1)
    eval_epsilon: float = param(0.05, "ε while evaluating (Nature: 0.05)", low=0.0, high=1.0)
    eval_max_frames: int = param(18_000, "Atari: frames per evaluation episode (Nature: 18 000 = 5 min)", low=1)
    noop_max: int = param(30, "Atari: up to this many random no-ops at the start of an episode", low=0)
    minutes: float = param(0.0, "stop after this many minutes of wall time (0: no limit)", low=0.0)

    def __post_init__(self) -> None:
        try:
            envs.kind_of(self.env)
        except envs.EnvError as e:
            raise ConfigError(f"--env: {e}") from None


@dataclasses.dataclass(frozen=True)
class DQNConfig(AgentConfig):
    steps: int = param(50_000, "agent steps to train (on Atari one agent step is 4 frames)", low=1)
    replay_size: int = param(100_000, "replay memory: transitions kept", low=1)
    replay_start: int = param(1_000, "agent steps of ε = 1 play before the first update", low=0)
    batch_size: int = param(32, "transitions per update", low=1)
    gamma: float = param(0.99, "discount γ", low=0.0, high=1.0)
    n_step: int = param(1, "n-step returns (1: the paper's one-step target)", low=1, high=20)
    optimizer: Literal["rmsprop-dm", "rmsprop-centered", "adam"] = param(
        "rmsprop-dm", "rmsprop-dm: DeepMind's centered RMSProp, ε = 0.01 inside the root (Nature); rmsprop-centered: "
        "torch.optim.RMSprop(centered=True), ε = 0.01 after the root (the MinAtar paper's code); adam")
    lr: float = param(2.5e-4, "learning rate", low=0.0, high=1.0, low_open=True)
    adam_eps: float = param(1.5e-4, "Adam's ε", low=0.0, low_open=True)
    loss: Literal["huber", "l2"] = param("huber", "huber: the error clipped to [−1, 1] (Nature); l2: (y − Q)²")
    reduction: Literal["sum", "mean"] = param("sum", "sum the minibatch's losses (DeepMind's code) or average")
    max_grad_norm: float = param(0.0, "clip the gradient's global norm (0: off; not in the paper)", low=0.0)
    double: bool = param(False, "Double DQN targets (van Hasselt et al. 2016; not in the Nature paper)")
    target_update: int = param(1_000, "agent steps between copies of θ to the target network θ⁻", low=1)
    train_every: int = param(1, "agent steps between training rounds", low=1)
    gradient_steps: int = param(1, "updates per training round (each on its own minibatch)", low=1)
    epsilon_start: float = param(1.0, "ε at the start", low=0.0, high=1.0)
    epsilon_end: float = param(0.1, "ε after the decay", low=0.0, high=1.0)
    epsilon_decay: int = param(10_000, "agent steps over which ε falls, after the replay start", low=1)
    eval_every: int = param(5_000, "agent steps between evaluations", low=1)
    keep_best: bool = param(False, "finish with the network of the best evaluation during training (early "
                            "stopping on the validation episodes; not in the paper)")
    solved_at: float = param(0.0, "end training once an evaluation during training reaches this mean return "
                             "(0: never)", low=0.0)
    update: Literal["eager", "fused"] = param(
        "eager", "eager: autograd and a torch optimizer; fused: the update written out by hand (milestones.rl.fused, "
        "the same mathematics; MinAtar and CartPole networks, without --max-grad-norm; see benchmarks/dqn_speed.py)")
    matmul: Literal["float32", "bfloat16"] = param(
        "float32", "the fused update's matrix products in float32, or bfloat16 (parameters stay float32)")
    checkpoint_every: int = param(10_000, "agent steps between checkpoints (resume restarts from the last)", low=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.update == "fused" and not fused_applies(self):
            raise ConfigError(f"--update fused covers MinAtar and CartPole without --max-grad-norm, not {self.env} "
                              f"with --max-grad-norm {self.max_grad_norm}: use --update eager")
        if self.replay_start < self.batch_size and self.replay_start > 0:
            raise ConfigError(f"--replay-start ({self.replay_start}) must be ≥ --batch-size ({self.batch_size})")


# ---- building the agent and its world -------------------------------------------------------------

def fused_applies(cfg: DQNConfig) -> bool:
    return envs.kind_of(cfg.env) in ("minatar", "cartpole") and cfg.max_grad_norm == 0


def uses_fused(cfg: Any) -> bool:
    return getattr(cfg, "update", "eager") == "fused"


def make_learner(cfg: DQNConfig, online: QNetwork, target: QNetwork) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The learner, and what a checkpoint holds of its optimizer: (learner, optimizers, objects)."""
    if uses_fused(cfg):
        options = dict(optimizer=cfg.optimizer, lr=cfg.lr, adam_eps=cfg.adam_eps, loss=cfg.loss,
                       reduction=cfg.reduction, double=cfg.double)
        fused: FusedMinAtarLearner | FusedMLPLearner
        if isinstance(online, MinAtarQNetwork) and isinstance(target, MinAtarQNetwork):
            fused = FusedMinAtarLearner(online, target, **options,
                                        matmul_dtype=torch.bfloat16 if cfg.matmul == "bfloat16" else None)
        else:
            assert isinstance(online, MLPQNetwork) and isinstance(target, MLPQNetwork)
            fused = FusedMLPLearner(online, target, **options)
        return fused, {}, {"fused_adam" if cfg.optimizer == "adam" else "fused_rmsprop": fused}
    if cfg.optimizer == "adam":  # fused: one kernel for every parameter (the per-tensor loop costs more here)
        optimizer: torch.optim.Optimizer = torch.optim.Adam(online.parameters(), lr=cfg.lr, eps=cfg.adam_eps,
                                                            fused=online.head.weight.device.type in ("cpu", "cuda"))
    elif cfg.optimizer == "rmsprop-centered":
        optimizer = minatar_rmsprop(online.parameters(), lr=cfg.lr)
    else:
        optimizer = nature_rmsprop(online.parameters(), lr=cfg.lr)
    learner = DQNLearner(online, target, optimizer, loss=cfg.loss, reduction=cfg.reduction, double=cfg.double,
                         max_grad_norm=cfg.max_grad_norm)
    return learner, {"opt": optimizer}, {}


def game_of(env_id: str) -> str:
    return env_id.split("/")[-1].rsplit("-v", 1)[0]


def make_env(cfg: Any, seed: int, training: bool):
    """The environment as the agent sees it: for Atari the Nature preprocessing, a lost life ending
    the episode for training only, whole games and the frame cap for evaluation."""
    if envs.kind_of(cfg.env) == "ale":
        return make_atari(game_of(cfg.env), noop_max=cfg.noop_max, terminal_on_life_loss=training,
                          max_episode_frames=TRAIN_MAX_FRAMES if training else cfg.eval_max_frames)
    return envs.make(cfg.env, seed)


def make_network(cfg: Any, env) -> QNetwork:
    """The paper's network for the environment (`layer_norm`: PQN's LayerNorm before each ReLU)."""
    kind, actions, norm = envs.kind_of(cfg.env), int(env.action_space.n), bool(getattr(cfg, "layer_norm", False))
    if kind == "ale":
        return NatureQNetwork(actions, layer_norm=norm)
    if kind == "minatar":
        return MinAtarQNetwork(env.observation_space.shape[-1], actions, layer_norm=norm)
    hidden = (cfg.hidden, cfg.hidden) if cfg.hidden else (120, 84)
    return MLPQNetwork(int(np.prod(env.observation_space.shape)), actions, hidden, layer_norm=norm)


def frame_spec(cfg: DQNConfig, env) -> tuple[tuple[int, ...], Any, int]:
    """(frame shape, dtype, frames per observation) the replay memory stores."""
    shape = tuple(env.observation_space.shape)
    if envs.kind_of(cfg.env) == "ale":
        return shape[1:], np.uint8, shape[0]  # (4, 84, 84): one 84×84 frame a step
    return shape, env.observation_space.dtype, 1


def newest_frame(cfg: DQNConfig, obs: np.ndarray) -> np.ndarray:
    return obs[-1] if envs.kind_of(cfg.env) == "ale" else obs


def replay_size_text(cfg: DQNConfig) -> str:
    shape = (84, 84) if envs.kind_of(cfg.env) == "ale" else None
    if shape is None:
        return ""
    return f"; replay {cfg.replay_size:,} frames: {format_bytes(memory_bytes(cfg.replay_size, shape))}"


def architecture(cfg: Any, env) -> dict[str, Any]:
    """What a checkpoint must match: the network, and the update (eager and fused keep their
    optimizers' state apart); `layer_norm` only where it is on, so older checkpoints still load."""
    arch = {"env": cfg.env, "actions": int(env.action_space.n), "hidden": cfg.hidden,
            "update": "fused" if uses_fused(cfg) else "eager"}
    return arch | ({"layer_norm": True} if getattr(cfg, "layer_norm", False) else {})


class Episodes:
    """The training episodes' bookkeeping (small state, saved in the checkpoint)."""

    def __init__(self) -> None:
        self.current, self.finished, self.count = 0.0, [], 0

    def step(self, reward: float, ended: bool) -> None:
        self.current += reward
        if ended:
            self.finished = (self.finished + [self.current])[-100:]
            self.current, self.count = 0.0, self.count + 1

    def state_dict(self) -> dict[str, Any]:
        return {"current": self.current, "finished": list(self.finished), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.current, self.finished, self.count = state["current"], list(state["finished"]), state["count"]


class Best:
    """The best evaluation during training so far, and whether training reached `solved_at`."""

    def __init__(self) -> None:
        self.score, self.step, self.solved = -math.inf, 0, False

    def state_dict(self) -> dict[str, Any]:
        return {"score": self.score, "step": self.step, "solved": self.solved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.score, self.step, self.solved = float(state["score"]), int(state["step"]), bool(state["solved"])


class EnvState:
    """The training environment mid-episode, with its current observation (saved in the checkpoint)."""

    def __init__(self, env) -> None:
        self.env, self.obs = env, None

    def state_dict(self) -> dict[str, Any]:
        return {"env": envs.env_state(self.env), "obs": np.asarray(self.obs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        envs.set_env_state(self.env, state["env"])
        self.obs = state["obs"]


# ---- training ---------------------------------------------------------------------------------------

def train(cfg: DQNConfig, run: Run) -> dict[str, float]:
    seed_everything(cfg.seed)
    env = make_env(cfg, cfg.seed, training=True)
    online = make_network(cfg, env).to(run.device)
    target = copy.deepcopy(online)
    learner, optimizers, learner_objects = make_learner(cfg, online, target)
    shape, dtype, stack = frame_spec(cfg, env)
    memory = ReplayMemory(cfg.replay_size, shape, stack=stack, dtype=dtype, pad="zero")
    world, episodes, best = EnvState(env), Episodes(), Best()
    best_net = copy.deepcopy(online).requires_grad_(False)  # the network of the best evaluation (keep_best)
    act_rng, sample_rng = np.random.default_rng([cfg.seed, 1]), np.random.default_rng([cfg.seed, 2])
    modules = {"online": online, "target": target} | ({"best": best_net} if cfg.keep_best else {})
    state = State(architecture(cfg, env), modules=modules,
                  optimizers=optimizers, generators={"act": act_rng, "sample": sample_rng},
                  objects={"env": world, "episodes": episodes, "best": best} | learner_objects,
                  files={"replay": memory})
    start, extra = run.resume(state)
    if start == 0:
        world.obs, _ = env.reset(seed=cfg.seed)
        memory.add(newest_frame(cfg, world.obs), first=True)
    loss = float(extra.get("loss", math.nan))  # the last update's, logged with the next evaluation
    loop = run.loop(state, start if best.solved else cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every,
                    minutes=cfg.minutes, extra=lambda: {"loss": loss})
    q_online = q_of_one(online, run.device)  # built after the learner: the fused one moves the parameters
    for step in loop:
        eps = epsilon(step - 1, start=cfg.epsilon_start, end=cfg.epsilon_end, decay=cfg.epsilon_decay,
                      replay_start=cfg.replay_start)
        action = act(q_online(world.obs), eps, act_rng)
        obs, reward, terminated, truncated, info = env.step(action)
        learn_reward = min(1.0, max(-1.0, float(reward))) if cfg.reward_clip else float(reward)
        memory.add(newest_frame(cfg, obs), first=False, action=action, reward=learn_reward, done=terminated)
        game_over = info.get("game_over", terminated or truncated)
        episodes.step(float(info.get("game_reward", reward)), ended=bool(game_over))
        if terminated or truncated:
            obs, _ = env.reset()
            memory.add(newest_frame(cfg, obs), first=True)
        world.obs = obs
        if step > cfg.replay_start and step % cfg.train_every == 0:
            for _ in range(cfg.gradient_steps):
                batch = memory.sample(cfg.batch_size, sample_rng, n=cfg.n_step, gamma=cfg.gamma)
                b = {k: torch.as_tensor(v, device=run.device) for k, v in batch.items()}
                loss = learner.update(b["s"], b["a"], b["r"], b["discount"], b["s_next"])
            loop.check_finite({"loss": loss}, hint="lower --lr")
        if step % cfg.target_update == 0:
            learner.sync()
        if step % cfg.eval_every == 0 or loop.last:
            scores = evaluate_agent(cfg, online, cfg.eval_episodes, run.device, VALID_SEED)
            recent = episodes.finished[-10:]
            run.log(step, eval_return=float(np.mean(scores)), eval_std=float(np.std(scores)),
                    train_return=float(np.mean(recent)) if recent else math.nan, epsilon=eps, loss=loss,
                    episodes=episodes.count)
            loop.postfix(eval=f"{np.mean(scores):.1f}", eps=f"{eps:.2f}")
            if np.mean(scores) >= best.score:  # ties go to the later network
                best.score, best.step = float(np.mean(scores)), step
                best_net.load_state_dict(online.state_dict())
            if cfg.solved_at and np.mean(scores) >= cfg.solved_at:
                best.solved = True
                loop.end()
    final = best_net if cfg.keep_best else online
    draw_figures(cfg, run)
    return final_metrics(cfg, final, run) | ({"best_step": float(best.step)} if cfg.keep_best else {}) | {
        "steps_trained": float(loop.position if best.solved else cfg.steps)}


def evaluate_agent(cfg: Any, online: QNetwork, episodes: int, device: torch.device, seed: int,
                   on_step=None) -> list[float]:
    env = make_env(cfg, seed, training=False)
    was = online.training
    online.eval()
    scores = play(q_of_one(online, device), env, episodes, cfg.eval_epsilon, seed, on_step)
    online.train(was)
    return scores


def final_metrics(cfg: Any, online: QNetwork, run: Run) -> dict[str, float]:
    """The Nature protocol's final evaluation (on episodes seeded apart from those of the evaluations
    during training, which recipes are chosen on), and the mean of the last five evaluations during
    training (returns oscillate: the window beside the last value)."""
    scores = evaluate_agent(cfg, online, cfg.final_episodes, run.device, TEST_SEED)
    rows = [r for r in run.metrics() if "eval_return" in r]
    window = [r["eval_return"] for r in rows[-5:]]
    metrics = {"return": float(np.mean(scores)), "return_std": float(np.std(scores)),
               "return_last5_evals": float(np.mean(window)) if window else math.nan,
               "episodes": float(cfg.final_episodes)}
    game = game_of(cfg.env)
    if envs.kind_of(cfg.env) == "ale" and game in NATURE_TABLE:
        from milestones.rl.evaluation import human_normalized
        metrics["human_normalized"] = human_normalized(game, metrics["return"])
    return metrics


def frame_image(cfg: Any, obs: np.ndarray) -> np.ndarray:
    """What a person sees of an observation: Atari's newest 84×84 frame; MinAtar's channels in colours."""
    kind = envs.kind_of(cfg.env)
    if kind == "ale":
        return np.asarray(obs)[-1]
    if kind == "minatar":
        obs = np.asarray(obs)  # (10, 10, C) booleans
        colours = (np.array(plt_colours(obs.shape[-1])) * 255).astype(np.uint8)  # (C, 3)
        image = np.zeros((*obs.shape[:2], 3), np.uint8)
        for c in range(obs.shape[-1]):
            image[obs[..., c]] = colours[c]
        return image
    raise ValueError(f"{cfg.env} has no frames to show")


def plt_colours(n: int) -> list[tuple[float, float, float]]:
    from milestones.plots import plt
    cmap = plt.get_cmap("tab10")
    return [cmap(k % 10)[:3] for k in range(n)]


def explain(cfg: Any, run: Run, options: dict[str, str]) -> list[Any]:
    """Nature Fig. 4 for this agent: `--episodes N` evaluation episodes (default 2) are played, the
    last hidden layer of every visited state embedded with t-SNE (`--points`, default 2 000, states
    kept) and coloured by V = max_a Q; and the first episode as a GIF."""
    from sklearn.manifold import TSNE

    from milestones.families.dqn.figures import episode_gif, tsne_figure
    try:
        episodes, points = int(options.get("episodes", 2)), int(options.get("points", 2000))
    except ValueError:
        raise ConfigError(f"--episodes and --points take integers, got {options}") from None
    online, step = load_online(cfg, run)
    hidden, values, frames, first_episode = [], [], [], []
    kind = envs.kind_of(cfg.env)

    def record(obs, q_values, action) -> None:
        with torch.no_grad():
            _, h = online(torch.as_tensor(np.asarray(obs), device=run.device).unsqueeze(0), hidden=True)
        hidden.append(h[0].cpu().numpy())
        values.append(float(q_values.max()))
        frames.append(frame_image(cfg, obs) if kind != "cartpole" else np.zeros((1, 1), np.uint8))

    scores = []
    for k in range(episodes):
        before = len(frames)
        env = make_env(cfg, TEST_SEED + k, training=False)
        scores += play(q_of_one(online, run.device), env, 1, cfg.eval_epsilon, TEST_SEED + k, record)
        if k == 0:
            first_episode = frames[before:]
    keep = np.random.default_rng(0).permutation(len(hidden))[:points]
    embedding = TSNE(n_components=2, perplexity=min(30.0, max(5.0, len(keep) / 4)), init="pca",
                     random_state=0).fit_transform(np.stack([hidden[i] for i in keep]))
    paths = [tsne_figure(embedding, np.array([values[i] for i in keep]), [frames[i] for i in keep],
                         run.dir / "plots" / "tsne.png",
                         title=(f"{run.experiment.name} after {step:,} steps: t-SNE of the last hidden layer over "
                                f"{len(keep):,} states of evaluation play, coloured by V (scores "
                                f"{', '.join(f'{s:g}' for s in scores)})"))]
    if kind != "cartpole":
        paths.append(episode_gif(first_episode, run.dir / "plots" / "episode.gif", every=2 if kind == "ale" else 1,
                                 scale=3 if kind == "ale" else 20))
    return paths


def draw_figures(cfg: Any, run: Run) -> None:
    """At the end of a MinAtar or Atari training: `explain`'s t-SNE and episode GIF, so that the
    result and the report carry them. A figure that fails is reported, never the training lost."""
    if envs.kind_of(cfg.env) == "cartpole":
        return
    try:
        explain(cfg, run, {})
    except Exception as e:  # noqa: BLE001 - the run's numbers matter more than its pictures
        print(f"{run.experiment.name}: figures not drawn ({type(e).__name__}: {e}); "
              f"`milestones explain {run.dir}` draws them", file=sys.stderr)


def load_online(cfg: Any, run: Run) -> tuple[QNetwork, int]:
    env = make_env(cfg, TEST_SEED, training=False)
    online = make_network(cfg, env).to(run.device)  # the network the run finishes with
    loaded = run.load(State(architecture(cfg, env),
                            modules={"best" if getattr(cfg, "keep_best", False) else "online": online}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return online, loaded.step


def evaluate(cfg: Any, run: Run) -> dict[str, float]:
    online, step = load_online(cfg, run)
    return final_metrics(cfg, online, run) | {"step": float(step)}


# ---- the experiments ----------------------------------------------------------------------------------

NATURE = "Mnih et al. 2015, Human-level control through deep reinforcement learning, Nature 518"
MINATAR = "Young & Tian 2019, MinAtar (arXiv 1903.03176), the DQN of its examples/dqn.py"
CLEANRL = "CleanRL dqn.py (Huang et al. 2022) on CartPole-v1"
# MinAtar's DQN at 5 M frames, read off the README's plot (30 runs): shared/reference/dqn.md
MINATAR_PAPER = {"Asterix": 17.0, "Breakout": 10.0, "Freeway": 50.0, "Seaquest": 20.0, "SpaceInvaders": 43.0}

CARTPOLE = DQNConfig(env="CartPole-v1", steps=200_000, replay_size=10_000, replay_start=1_000, batch_size=128,
                     optimizer="adam", lr=2.5e-4, adam_eps=1e-8, loss="l2", reduction="mean", target_update=500,
                     train_every=4, epsilon_end=0.05, epsilon_decay=25_000, eval_every=5_000, eval_episodes=10,
                     final_episodes=30, eval_epsilon=0.0, keep_best=True, solved_at=500.0, update="fused",
                     checkpoint_every=10_000)
MINATAR_CONFIG = dict(steps=5_000_000, replay_size=100_000, replay_start=5_000, batch_size=32, lr=2.5e-4,
                      optimizer="rmsprop-centered", reduction="mean", target_update=1_000, train_every=1,
                      epsilon_end=0.1, epsilon_decay=100_000, eval_every=100_000, eval_episodes=10,
                      final_episodes=30, checkpoint_every=50_000)
ATARI_CONFIG = dict(steps=10_000_000, replay_size=1_000_000, replay_start=50_000, batch_size=32, lr=2.5e-4,
                    optimizer="rmsprop-dm", reduction="sum", target_update=10_000, train_every=4,
                    epsilon_end=0.1, epsilon_decay=1_000_000, eval_every=250_000, eval_episodes=10,
                    final_episodes=30, checkpoint_every=50_000)


def _minatar(game: str) -> Experiment:
    return Experiment(
        name=f"dqn/minatar-{game.lower() if game != 'SpaceInvaders' else 'space-invaders'}",
        summary=f"DQN on MinAtar {game} (5 M frames, every frame trained)",
        config=DQNConfig(env=f"MinAtar/{game}-v1", **MINATAR_CONFIG), train=train, evaluate=evaluate,
        metric="return", goal="max", citation=MINATAR,
        references=(Reference("return", MINATAR_PAPER[game], MINATAR, "the MinAtar paper's DQN at 5 M frames "
                              "(read off its plot, 30 runs)", verified=False),),
        deviations=MINATAR_DEVIATIONS, curve=("step", "eval_return"), explain=explain,
        budgets={"quick": {"steps": 2_000, "replay_start": 500, "eval_every": 1_000, "eval_episodes": 2,
                           "final_episodes": 2, "checkpoint_every": 1_000}, "full": {}})


def _atari(game: str) -> Experiment:
    random, human, dqn, dqn_std = NATURE_TABLE[game]
    cfg = DQNConfig(env=f"ALE/{game}-v5", **ATARI_CONFIG)
    return Experiment(
        name=f"dqn/atari-{game.lower() if game != 'SpaceInvaders' else 'space-invaders'}",
        summary=f"Nature DQN on Atari {game}{replay_size_text(cfg)}", config=cfg, train=train, evaluate=evaluate,
        metric="return", goal="max", citation=NATURE,
        references=(Reference("return", dqn, f"{NATURE}, Extended Data Table 2",
                              f"Nature DQN {dqn} ± {dqn_std}; human {human}, random {random} ({NATURE_TABLE_NAME})"),),
        deviations=ATARI_DEVIATIONS, curve=("step", "eval_return"), explain=explain,
        budgets={"quick": {"steps": 1_000, "replay_size": 10_000, "replay_start": 200, "eval_every": 500,
                           "eval_episodes": 1, "final_episodes": 1, "eval_max_frames": 2_000,
                           "checkpoint_every": 500}, "full": {}})


CARTPOLE_DEVIATIONS = (
    "Not a task of the paper: CartPole-v1 checks the agent in a minute. CleanRL's dqn.py settings (Adam 2.5e-4, "
    "the squared error averaged over a minibatch of 128, replay 10 000, target copy every 500 steps, an MLP "
    "120-84) except: trained every 4 steps (CleanRL: 10) from step 1 000 (10 000), ε 1 → 0.05 over 25 000 steps "
    "(250 000), at most 200 000 steps (500 000). Chosen on the validation evaluations of seeds 0-2 "
    "(seed 3 stopped at 80 000 steps).",
    "Training ends when an evaluation during training (10 greedy episodes on validation seeds) scores 500, and "
    "the run keeps the network of its best evaluation (early stopping); the final score is 30 greedy episodes "
    "on other seeds. CleanRL reports training returns (ε = 0.05) instead.",
)
MINATAR_DEVIATIONS = (
    "The MinAtar paper's DQN and settings as its examples/dqn.py has them (torch.optim.RMSprop: lr 2.5e-4, "
    "centered, decay 0.95, ε 0.01 after the root; batch 32, replay 100 000, target every 1 000, every frame "
    "trained; the Huber loss averaged over the minibatch). Its later versions add momentum 0.95; not here.",
    "v1 environments (minimal action sets); the paper's curves use the full 6-action set (v0).",
)
ATARI_DEVIATIONS = (
    "Evaluation during training uses 10 episodes every 250 000 agent steps (the final one 30).",
)


VARIANTS = {  # options beyond the Nature paper, each a recipe of its own on MinAtar Breakout
    "double": ({"double": True}, "Double DQN targets (van Hasselt et al. 2016): the online network picks a', the "
               "target network values it."),
    "adam": ({"optimizer": "adam", "lr": 1e-4, "adam_eps": 1.5e-4}, "Adam (lr 1e-4, ε 1.5e-4, Dopamine's "
             "choice) instead of DeepMind's RMSProp."),
    "nstep3": ({"n_step": 3}, "3-step returns (the replay memory sums r_t + γ r_t+1 + γ² r_t+2 and bootstraps "
               "with γ³; cut at an episode's end)."),
}


def _variant(base: Experiment, key: str) -> Experiment:
    changes, text = VARIANTS[key]
    return dataclasses.replace(base, name=f"{base.name}-{key}", summary=f"{base.summary}, {text.split(' (')[0]}",
                               config=dataclasses.replace(base.config, **changes),
                               deviations=(f"A variant beyond the paper: {text}", *base.deviations), group="")


EXPERIMENTS = (
    Experiment(name="dqn/cartpole", summary="DQN on CartPole-v1", config=CARTPOLE, train=train, evaluate=evaluate,
               metric="return", goal="max", citation=CLEANRL,
               references=(Reference("return", 475.0, "Gymnasium CartPole-v1", "solved: mean return ≥ 475"),),
               deviations=CARTPOLE_DEVIATIONS, curve=("step", "eval_return"), explain=explain,
               budgets={"quick": {"steps": 3_000, "eval_every": 1_000, "eval_episodes": 2, "final_episodes": 2,
                                  "checkpoint_every": 1_000}, "full": {}}),
    *(_minatar(game) for game in MINATAR_GAMES),
    *(_variant(_minatar("Breakout"), key) for key in VARIANTS),
    *(_atari(game) for game in ATARI_GAMES),
)
