"""DQN speed, side by side in one run: CartPole to solved against Stable-Baselines3 and a CleanRL-style
loop, and the MinAtar update against the MinAtar paper's loop.

    python benchmarks/dqn_speed.py [--seeds 0 1 2] [--json FILE] [--skip-cartpole] [--skip-minatar]
                                   [--device cpu|cuda]

CartPole-v1 (`dqn/cartpole`'s hyperparameters for all three): the wall time until an evaluation
reaches a mean return ≥ 475 (10 greedy episodes on the validation seeds every `eval_every` agent
steps, evaluation time included for all three, at most the recipe's steps), per seed, all on one
thread:
  - ours: `milestones train dqn/cartpole` (its wall time to `--solved-at 475`; the recipe's hand-written
    update and NumPy acting);
  - Stable-Baselines3's DQN (the `bench` extra, as installed), its Huber loss and its ε schedule
    (SB3 decays ε from step 0: the fraction is set so that ε reaches its end at the same step);
  - a CleanRL-style loop: CleanRL's `dqn.py` structure re-implemented here (a Gymnasium vector
    environment of one, SB3's `ReplayBuffer` as CleanRL uses, its network and update).
Acting and learning are also timed apart: agent steps per second with ε-greedy acting and no
updates (the module's call and our NumPy path), and updates per second alone (autograd with
`torch.optim.Adam` as the CleanRL-style loop does it, and our hand-written update).

MinAtar (Breakout, the paper's network, batch 32): milliseconds per update of ours (autograd with
DeepMind's RMSProp; the hand-written update in float32 and in bfloat16 products) and of the MinAtar
paper's `examples/dqn.py` update re-implemented here (a list of transitions sampled with `random`,
`torch.cat` of the states, `torch.optim.RMSprop(centered=True)`); and agent steps per second of the
whole loop (acting, stepping, storing and one update per frame) for ours (eager, and the hand-written
update in float32 and bfloat16) and the reference loop. Atari: milliseconds per update of the Nature
network (batch 32, DeepMind's RMSProp) and of PQN's minibatch update (batch 128, LayerNorm, RAdam).

With `--device cuda` (a lent GPU): the rows whose networks can run there, on it: the MinAtar update
and loop of ours (autograd) and of the reference (its `examples/dqn.py` also runs on a GPU when there
is one), the Nature network's update, and PQN's Atari minibatch update, eager and as a captured
CUDA graph (`--cuda-graphs`). The hand-written updates and the CartPole rows are CPU code and are
left out (ours acts and learns CartPole's small MLP on the CPU by design).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from milestones.families.dqn import experiments as dqn
from milestones.records import save_benchmark
from milestones.rl import envs
from milestones.rl.dqn import DQNLearner, epsilon, nature_rmsprop
from milestones.rl.fused import FusedMinAtarLearner, FusedMLPLearner
from milestones.rl.networks import MinAtarQNetwork, q_of_one
from milestones.rl.replay import ReplayMemory

SOLVED = 475.0
CFG = dqn.CARTPOLE
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # our training runs in a subprocess


def greedy_return(q_of, episodes: int = 10) -> float:
    """Mean return of greedy play over the validation seeds (the same episodes for every contender)."""
    env = gym.make("CartPole-v1")
    total = 0.0
    for k in range(episodes):
        obs, _ = env.reset(seed=dqn.VALID_SEED + k)
        done = False
        while not done:
            obs, r, terminated, truncated, _ = env.step(int(q_of(obs)))
            total += float(r)
            done = terminated or truncated
    return total / episodes


# ---- ours -----------------------------------------------------------------------------------------------

def ours_to_solved(seed: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "milestones", "--no-progress", "train", "dqn/cartpole", "--seed",
                        str(seed), "--solved-at", str(SOLVED), "--run-dir", f"{tmp}/run"], check=True,
                       capture_output=True, env=ONE_THREAD)
        wall = time.perf_counter() - start
        rows = [json.loads(line) for line in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
    solved = [r for r in rows if r.get("eval_return", 0) >= SOLVED]
    return (solved[0]["time_s"] if solved else wall), (int(solved[0]["step"]) if solved else -1)


# ---- Stable-Baselines3 -------------------------------------------------------------------------------------

def sb3_to_solved(seed: int) -> tuple[float, int]:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Solved(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.step_solved = -1

        def _on_step(self) -> bool:
            if self.num_timesteps % CFG.eval_every:
                return True
            score = greedy_return(lambda o: self.model.predict(o, deterministic=True)[0])
            if score >= SOLVED:
                self.step_solved = self.num_timesteps
                return False
            return True

    model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=CFG.lr, buffer_size=CFG.replay_size,
                learning_starts=CFG.replay_start, batch_size=CFG.batch_size, gamma=CFG.gamma,
                train_freq=CFG.train_every, gradient_steps=CFG.gradient_steps, target_update_interval=CFG.target_update,
                exploration_fraction=(CFG.replay_start + CFG.epsilon_decay) / CFG.steps,
                exploration_initial_eps=CFG.epsilon_start, exploration_final_eps=CFG.epsilon_end,
                max_grad_norm=1e9, policy_kwargs={"net_arch": [120, 84]}, seed=seed, device="cpu")
    callback = Solved()
    start = time.perf_counter()
    model.learn(CFG.steps, callback=callback)
    return time.perf_counter() - start, callback.step_solved


# ---- a CleanRL-style loop -----------------------------------------------------------------------------------

def cleanrl_to_solved(seed: int) -> tuple[float, int]:
    """CleanRL's dqn.py loop with the recipe's hyperparameters (its structure, not its code)."""
    from stable_baselines3.common.buffers import ReplayBuffer
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # CleanRL's gymnasium 0.29 reset a finished sub-environment in the same step and kept its last
    # observation in the infos; gymnasium 1.x does that in its SAME_STEP mode
    vec = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")],
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)

    def network() -> nn.Module:
        return nn.Sequential(nn.Linear(4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 2))

    q_network = network()
    optimizer = torch.optim.Adam(q_network.parameters(), lr=CFG.lr, eps=CFG.adam_eps)
    target_network = network()
    target_network.load_state_dict(q_network.state_dict())
    rb = ReplayBuffer(CFG.replay_size, vec.single_observation_space, vec.single_action_space, "cpu",
                      handle_timeout_termination=False)
    obs, _ = vec.reset(seed=seed)
    start = time.perf_counter()
    for global_step in range(CFG.steps):
        eps = epsilon(global_step, start=CFG.epsilon_start, end=CFG.epsilon_end, decay=CFG.epsilon_decay,
                      replay_start=CFG.replay_start)
        if random.random() < eps:
            actions = np.array([vec.single_action_space.sample()])
        else:
            actions = torch.argmax(q_network(torch.Tensor(obs)), dim=1).cpu().numpy()
        next_obs, rewards, terminations, truncations, infos = vec.step(actions)
        real_next_obs = next_obs.copy()
        for idx, trunc in enumerate(truncations):  # the vector env resets by itself: keep s' of the last step
            if trunc:
                real_next_obs[idx] = infos["final_obs"][idx]
        rb.add(obs, real_next_obs, actions, rewards, terminations, infos)
        obs = next_obs
        if global_step > CFG.replay_start and global_step % CFG.train_every == 0:
            data = rb.sample(CFG.batch_size)
            with torch.no_grad():
                target_max, _ = target_network(data.next_observations).max(dim=1)
                td_target = data.rewards.flatten() + CFG.gamma * target_max * (1 - data.dones.flatten())
            old_val = q_network(data.observations).gather(1, data.actions).squeeze()
            loss = F.mse_loss(td_target, old_val)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if global_step % CFG.target_update == 0:
            for target_param, param in zip(target_network.parameters(), q_network.parameters()):
                target_param.data.copy_(param.data)
        if (global_step + 1) % CFG.eval_every == 0:
            with torch.no_grad():
                score = greedy_return(lambda o: int(q_network(torch.Tensor(o)).argmax()))
            if score >= SOLVED:
                return time.perf_counter() - start, global_step + 1
    return time.perf_counter() - start, -1


# ---- acting and learning apart ----------------------------------------------------------------------------

def acting_steps_per_s(kind: str, steps: int = 20_000) -> float:
    """Ours: ε-greedy acting with the network (ε = 0.05; `kind` "module": its call, "numpy": our
    NumPy path), stepping and storing; no updates."""
    env = envs.make("CartPole-v1", 0)
    net = dqn.make_network(CFG, env)
    q_of = q_of_one(net) if kind == "numpy" else (lambda o: net(torch.as_tensor(o).unsqueeze(0))[0].detach())
    memory = ReplayMemory(CFG.replay_size, env.observation_space.shape, dtype=np.float32)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    memory.add(obs, first=True)
    start = time.perf_counter()
    for _ in range(steps):
        q = q_of(obs)
        action = int(q.argmax()) if rng.random() > 0.05 else int(rng.integers(2))
        obs, r, terminated, truncated, _ = env.step(action)
        memory.add(obs, first=False, action=action, reward=float(r), done=terminated)
        if terminated or truncated:
            obs, _ = env.reset()
            memory.add(obs, first=True)
    return steps / (time.perf_counter() - start)


def cartpole_updates_per_s(kind: str, updates: int = 2_000) -> float:
    env = envs.make("CartPole-v1", 0)
    online = dqn.make_network(CFG, env)
    learner: DQNLearner | FusedMLPLearner
    if kind == "fused":
        learner = FusedMLPLearner(online, copy.deepcopy(online), optimizer="adam", lr=CFG.lr, adam_eps=CFG.adam_eps,
                                  loss=CFG.loss, reduction=CFG.reduction)
    else:
        learner = DQNLearner(online, copy.deepcopy(online), torch.optim.Adam(online.parameters(), lr=CFG.lr),
                             loss=CFG.loss, reduction=CFG.reduction)
    memory = ReplayMemory(CFG.replay_size, env.observation_space.shape, dtype=np.float32)
    memory.add(np.zeros(4, np.float32), first=True)
    for k in range(5_000):
        memory.add(np.random.default_rng(k).random(4, np.float32), first=False, action=k % 2, reward=1.0, done=False)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(updates):
        b = {k: torch.as_tensor(v) for k, v in memory.sample(CFG.batch_size, rng).items()}
        learner.update(b["s"], b["a"], b["r"], b["discount"], b["s_next"])
    return updates / (time.perf_counter() - start)


# ---- MinAtar ---------------------------------------------------------------------------------------------

class ReferenceMinAtarNetwork(nn.Module):
    """The MinAtar paper's examples/dqn.py network: conv 16 3×3 → fc 128 → actions."""

    def __init__(self, channels: int, actions: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 16, kernel_size=3, stride=1)
        self.fc_hidden = nn.Linear(16 * 8 * 8, 128)
        self.output = nn.Linear(128, actions)

    def forward(self, x):
        x = F.relu(self.conv(x))
        return self.output(F.relu(self.fc_hidden(x.view(x.size(0), -1))))


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def reference_minatar_loop(steps: int, replay_start: int = 1_000, device: str = "cpu") -> tuple[float, float]:
    """examples/dqn.py's loop, re-implemented: (agent steps per second, ms per update). Transitions
    are tuples of (1, C, 10, 10) tensors on `device` in a list; a batch is `random.sample` and
    `torch.cat`."""
    env = envs.make("MinAtar/Breakout-v1", 0)
    channels, actions = env.observation_space.shape[-1], int(env.action_space.n)
    policy = ReferenceMinAtarNetwork(channels, actions).to(device)
    target = ReferenceMinAtarNetwork(channels, actions).to(device)
    target.load_state_dict(policy.state_dict())
    optimizer = torch.optim.RMSprop(policy.parameters(), lr=2.5e-4, alpha=0.95, centered=True, eps=0.01)
    buffer: list = []
    random.seed(0)

    def as_state(o):
        return torch.tensor(o, dtype=torch.float32, device=device).permute(2, 0, 1).unsqueeze(0)

    state = as_state(env.reset(seed=0)[0])
    update_time, updates = 0.0, 0
    start = time.perf_counter()
    for t in range(steps):
        if random.random() < 0.1:
            action = torch.tensor([[random.randrange(actions)]], device=device)
        else:
            with torch.no_grad():
                action = policy(state).max(1)[1].view(1, 1)
        obs, reward, terminated, truncated, _ = env.step(int(action))
        next_state = as_state(obs)
        buffer.append((state, next_state, action, torch.tensor([[reward]], dtype=torch.float32, device=device),
                       torch.tensor([[terminated]], device=device)))
        if len(buffer) > 100_000:
            del buffer[0]
        state = as_state(env.reset()[0]) if terminated or truncated else next_state
        if t >= replay_start:
            u0 = time.perf_counter()
            batch = list(zip(*random.sample(buffer, 32)))
            states, next_states = torch.cat(batch[0]), torch.cat(batch[1])
            acts, rewards, dones = torch.cat(batch[2]), torch.cat(batch[3]), torch.cat(batch[4])
            q_s_a = policy(states).gather(1, acts)
            none_terminal = (~dones.squeeze(1)).nonzero().squeeze(1)
            q_next = torch.zeros(32, 1, device=device)
            q_next[none_terminal] = target(next_states[none_terminal]).detach().max(1)[0].unsqueeze(1)
            loss = F.smooth_l1_loss(rewards + 0.99 * q_next, q_s_a)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            synchronize(device)
            update_time += time.perf_counter() - u0
            updates += 1
    return steps / (time.perf_counter() - start), 1e3 * update_time / max(updates, 1)


def minatar_update_ms(kind: str, updates: int = 1_000, device: str = "cpu") -> float:
    torch.manual_seed(0)
    net = MinAtarQNetwork(4, 3).to(device)
    online, target = copy.deepcopy(net), copy.deepcopy(net)
    learner: DQNLearner | FusedMinAtarLearner
    if kind == "eager":
        learner = DQNLearner(online, target, nature_rmsprop(online.parameters()), reduction="mean")
    else:
        learner = FusedMinAtarLearner(online, target, reduction="mean",
                                      matmul_dtype=torch.bfloat16 if kind == "fused-bf16" else None)
    g = torch.Generator().manual_seed(0)
    s, s_next = torch.rand(32, 10, 10, 4, generator=g) < 0.1, torch.rand(32, 10, 10, 4, generator=g) < 0.1
    a, r, d = torch.randint(0, 3, (32,), generator=g), torch.zeros(32), torch.full((32,), 0.99)
    s, s_next, a, r, d = (x.to(device) for x in (s, s_next, a, r, d))
    for _ in range(50):
        learner.update(s, a, r, d, s_next)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(updates):
        learner.update(s, a, r, d, s_next)
    synchronize(device)
    return 1e3 * (time.perf_counter() - start) / updates


def atari_update_ms(updates: int = 20, device: str = "cpu") -> float:
    """One Nature-network update (batch 32 of (4, 84, 84) uint8 stacks, DeepMind's RMSProp, summed
    Huber loss): the cost that decides whether Atari fits the CPU."""
    from milestones.rl.networks import NatureQNetwork
    torch.manual_seed(0)
    online = NatureQNetwork(6).to(device)
    learner = DQNLearner(online, copy.deepcopy(online), nature_rmsprop(online.parameters()), reduction="sum")
    g = torch.Generator().manual_seed(0)
    s, s_next = (torch.randint(0, 256, (32, 4, 84, 84), generator=g, dtype=torch.uint8) for _ in range(2))
    a, r, d = torch.randint(0, 6, (32,), generator=g), torch.zeros(32), torch.full((32,), 0.99)
    s, s_next, a, r, d = (x.to(device) for x in (s, s_next, a, r, d))
    for _ in range(3):
        learner.update(s, a, r, d, s_next)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(updates):
        learner.update(s, a, r, d, s_next)
    synchronize(device)
    return 1e3 * (time.perf_counter() - start) / updates


def pqn_atari_update_ms(kind: str, updates: int = 64, device: str = "cpu") -> float:
    """One PQN minibatch update on Atari (`dqn/atari-pong-pqn`: the Nature network with LayerNorm,
    128 (4, 84, 84) uint8 stacks, RAdam, the norm clipped at 10), eager or as its `GraphedUpdate`
    (--cuda-graphs: a captured CUDA graph on a GPU; on a CPU the same eager update)."""
    from milestones.families.dqn import pqn
    from milestones.rl.networks import NatureQNetwork
    torch.manual_seed(0)
    net = NatureQNetwork(6, layer_norm=True).to(device)
    graphs = kind == "graphed" and device == "cuda"
    optimizer = torch.optim.RAdam(net.parameters(), lr=2.5e-4, foreach=True,
                                  **({"capturable": True} if graphs else {}))
    cfg = pqn.PQNConfig(env="ALE/Pong-v5", lr_decay=False, cuda_graphs=kind == "graphed")
    g = torch.Generator().manual_seed(0)
    batch = cfg.envs * cfg.rollout // cfg.minibatches  # the recipe's minibatch: 128
    s = torch.randint(0, 256, (batch, 4, 84, 84), generator=g, dtype=torch.uint8).to(device)
    a, target = torch.randint(0, 6, (batch,), generator=g).to(device), torch.randn(batch, generator=g).to(device)
    update = (pqn.graphed_update(cfg, net, optimizer, list(s.cpu().numpy()), torch.device(device))
              if kind == "graphed" else None)

    def step() -> None:
        if update is not None:
            update(s, a, target)
        else:
            pqn.plain_update(net, optimizer, s, a, target, cfg.max_grad_norm)
    for _ in range(5):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(updates):
        step()
    synchronize(device)
    return 1e3 * (time.perf_counter() - start) / updates


def ours_minatar_loop(steps: int, update: str, matmul: str = "float32", device: str = "cpu") -> float:
    """Agent steps per second of `milestones train dqn/minatar-breakout` (one update per frame)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "milestones", "--no-progress", "train", "dqn/minatar-breakout",
                        "--steps", str(steps), "--replay-start", "1000", "--eval-every", str(steps),
                        "--eval-episodes", "1", "--final-episodes", "1", "--checkpoint-every", str(steps),
                        "--update", update, "--matmul", matmul, "--device", device, "--run-dir", f"{tmp}/run"],
                       check=True, capture_output=True, env=ONE_THREAD)
        rows = [json.loads(line) for line in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
    return steps / rows[-1]["time_s"] if rows else steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--minatar-steps", type=int, default=6_000, help="agent steps of each MinAtar loop timed")
    p.add_argument("--skip-cartpole", action="store_true")
    p.add_argument("--skip-minatar", action="store_true")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: the rows that can run on a GPU, there (CartPole and the hand-written updates "
                        "are left out)")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    torch.set_num_threads(1)
    results: dict = {}
    cpu = args.device == "cpu"
    if not args.skip_cartpole and cpu:
        solved: dict = {}
        for seed in args.seeds:  # the three side by side, seed by seed
            for name, fn in (("ours", ours_to_solved), ("stable_baselines3", sb3_to_solved),
                             ("cleanrl_style", cleanrl_to_solved)):
                wall, step = fn(seed)
                solved.setdefault(name, []).append({"seed": seed, "wall_s": wall, "solved_at_step": step})
                print(f"cartpole seed {seed} {name}: {wall:.1f} s, solved at step {step}", flush=True)
        summary = {name: {"median_wall_s": float(np.median([r["wall_s"] for r in rows])),
                          "solved": sum(r["solved_at_step"] > 0 for r in rows), "runs": rows}
                   for name, rows in solved.items()}
        for name in ("stable_baselines3", "cleanrl_style"):
            summary[name]["ours_speedup_median"] = summary[name]["median_wall_s"] / summary["ours"]["median_wall_s"]
        results["cartpole_to_solved"] = summary
        results["cartpole_apart"] = {
            "acting_steps_per_s": {"module": acting_steps_per_s("module"), "numpy": acting_steps_per_s("numpy")},
            "updates_per_s": {"autograd_adam": cartpole_updates_per_s("eager"),
                              "fused": cartpole_updates_per_s("fused")}}
        print(json.dumps(results["cartpole_apart"]), flush=True)
    if not args.skip_minatar:
        device = args.device
        ref_steps_per_s, ref_update_ms = reference_minatar_loop(args.minatar_steps, device=device)
        update_ms = {"eager": minatar_update_ms("eager", device=device)}
        loop = {"ours_eager": ours_minatar_loop(args.minatar_steps, "eager", device=device)}
        if cpu:
            update_ms |= {"fused_float32": minatar_update_ms("fused"),
                          "fused_bfloat16": minatar_update_ms("fused-bf16")}
            loop |= {"ours_fused_float32": ours_minatar_loop(args.minatar_steps, "fused"),
                     "ours_fused_bfloat16": ours_minatar_loop(args.minatar_steps, "fused", "bfloat16")}
        results["minatar"] = {"update_ms": update_ms | {"reference_loop": ref_update_ms},
                              "loop_steps_per_s": loop | {"reference_loop": ref_steps_per_s}}
        results["atari_nature_update_ms"] = atari_update_ms(device=device)
        results["pqn_atari_update_ms"] = {kind: pqn_atari_update_ms(kind, device=device)
                                          for kind in ("eager", "graphed")}
        print(json.dumps(results["minatar"]), results["atari_nature_update_ms"], results["pqn_atari_update_ms"],
              flush=True)
    if args.json:
        save_benchmark(args.json, "dqn_speed", device=args.device,
                       settings={"seeds": args.seeds, "minatar_steps": args.minatar_steps, "threads": 1,
                                 "cartpole_config": {k: getattr(CFG, k) for k in (
                                     "lr", "batch_size", "replay_size", "replay_start", "train_every",
                                     "target_update", "epsilon_decay", "epsilon_end", "steps", "eval_every")}},
                       results=results)


if __name__ == "__main__":
    main()
