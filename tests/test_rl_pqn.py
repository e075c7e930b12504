"""PQN's Q(λ) targets against their definitions: with no episode end in the rollout, the λ-weighted
mixture of n-step returns (each bootstrapped from max Q), computed literally; λ = 0 gives one-step
targets; λ = 1 gives the discounted rewards to a termination; a truncation bootstraps from the
episode's last observation and cuts the chain. And a PQN run killed with SIGKILL resumes to the
returns of one run straight through."""
import os

import numpy as np
import pytest

from milestones.rl.pqn import epsilon_greedy, lambda_returns, linear
from tests.killing import assert_same_run, kill_after_checkpoint, milestones


def n_step(rewards, next_max_q, t, n, gamma):
    return sum(gamma ** k * rewards[t + k] for k in range(n)) + gamma ** n * next_max_q[t + n - 1]


def test_without_episode_ends_the_targets_are_the_lambda_mixture_of_n_step_returns():
    rng = np.random.default_rng(0)
    steps, gamma, lam = 7, 0.9, 0.65
    rewards, next_max = rng.normal(size=(steps, 3)), rng.normal(size=(steps, 3))
    no = np.zeros((steps, 3), bool)
    ours = lambda_returns(rewards, no, no, next_max, gamma, lam)
    for env in range(3):
        r, q = rewards[:, env], next_max[:, env]
        for t in range(steps):
            horizon = steps - t
            mixture = sum((1 - lam) * lam ** (n - 1) * n_step(r, q, t, n, gamma) for n in range(1, horizon))
            mixture += lam ** (horizon - 1) * n_step(r, q, t, horizon, gamma)
            assert ours[t, env] == pytest.approx(mixture, rel=1e-12, abs=1e-12)


def test_lambda_zero_is_the_one_step_target_and_one_the_return_to_termination():
    rewards = np.array([[1.0], [2.0], [3.0], [4.0]])
    next_max = np.array([[10.0], [20.0], [30.0], [40.0]])
    term = np.array([[False], [False], [True], [False]])
    trunc = np.zeros_like(term)
    one_step = lambda_returns(rewards, term, trunc, next_max, 0.5, 0.0)
    np.testing.assert_allclose(one_step[:, 0], [1 + 0.5 * 10, 2 + 0.5 * 20, 3, 4 + 0.5 * 40])
    full = lambda_returns(rewards, term, trunc, next_max, 0.5, 1.0)
    np.testing.assert_allclose(full[:, 0], [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3, 4 + 0.5 * 40])


def test_a_truncation_bootstraps_from_the_last_observation_and_cuts_the_chain():
    rewards = np.array([[1.0], [1.0], [1.0]])
    next_max = np.array([[5.0], [7.0], [9.0]])  # step 1's: Q of the truncated episode's last observation
    trunc = np.array([[False], [True], [False]])
    term = np.zeros_like(trunc)
    ours = lambda_returns(rewards, term, trunc, next_max, 0.5, 1.0)
    np.testing.assert_allclose(ours[:, 0], [1 + 0.5 * (1 + 0.5 * 7), 1 + 0.5 * 7, 1 + 0.5 * 9])


def test_schedules_and_exploration():
    assert linear(1.0, 0.05, 0.0) == 1.0 and linear(1.0, 0.05, 0.5) == pytest.approx(0.525)
    assert linear(1.0, 0.05, 2.0) == 0.05
    q = np.array([[0.0, 1.0, 0.0]] * 1000)
    g = np.random.default_rng(0)
    assert (epsilon_greedy(q, 0.0, g) == 1).all()
    share = (epsilon_greedy(q, 0.3, g) != 1).mean()  # 0.3 × 2/3 of the random actions differ from argmax
    assert share == pytest.approx(0.2, abs=0.04)


PQN = ["train", "dqn/minatar-breakout-pqn", "--steps", "3072", "--envs", "8", "--rollout", "16", "--minibatches",
       "4", "--eval-every", "1024", "--eval-episodes", "1", "--final-episodes", "2", "--checkpoint-every", "1"]


def test_a_killed_pqn_run_resumes_to_the_same_returns(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    straight = tmp_path / "straight"
    assert milestones([*PQN, "--run-dir", str(straight)], env).returncode == 0
    run_dir = tmp_path / "killed"
    killed_at = kill_after_checkpoint(PQN, env, run_dir, at_least=9 * 128)
    assert 9 * 128 <= killed_at < 3072 and killed_at % 128 == 0  # checkpoints count env steps
    resumed = milestones(["train", "--resume", str(run_dir)], env)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, straight)


def test_cuda_graphs_give_the_same_run_and_refuse_a_decaying_learning_rate(tmp_path):
    """--cuda-graphs routes every minibatch update through GraphedUpdate (on a CPU: the same update,
    eagerly, after its warm-up was undone): the run's returns and losses equal the plain loop's."""
    import json
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name, extra in (("plain", []), ("graphed", ["--cuda-graphs", "true"])):
        done = milestones([*PQN, "--steps", "1024", "--lr-decay", "false", *extra, "--run-dir", str(tmp_path / name)],
                          env)
        assert done.returncode == 0, done.stderr
    assert_same_run(tmp_path / "graphed", tmp_path / "plain")
    rows = [json.loads(line) for line in (tmp_path / "plain" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss"] > 0
    from milestones.families.dqn import pqn
    with pytest.raises(Exception, match="--cuda-graphs needs --lr-decay false"):
        pqn.PQNConfig(cuda_graphs=True)


def test_pqn_plays_atari_with_the_nature_network_and_reports_the_normalized_score(tmp_path):
    """`dqn/atari-pong-pqn`: PQN on our Nature preprocessing (the Nature network with LayerNorm), its
    evaluations logged, its final score also human-normalized with the Nature table."""
    import json
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run_dir = tmp_path / "pong"
    done = milestones(["train", "dqn/atari-pong-pqn", "--steps", "256", "--envs", "4", "--rollout", "32",
                       "--minibatches", "4", "--eval-every", "128", "--eval-episodes", "1", "--final-episodes", "1",
                       "--eval-max-frames", "400", "--run-dir", str(run_dir)], env)
    assert done.returncode == 0, done.stderr
    result = json.loads((run_dir / "result.json").read_text())
    metrics = result["metrics"]
    assert metrics["steps_trained"] == 256 and -21 <= metrics["return"] <= 21
    random, human = -20.7, 9.3  # Nature's Extended Data Table 2
    assert metrics["human_normalized"] == pytest.approx(100 * (metrics["return"] - random) / (human - random))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [128, 256]
    assert result["config"]["layer_norm"] and result["config"]["epsilon_end"] == 0.001
    for row in rows:  # where each round's time went, in milliseconds (one round per log line here)
        phases = [row["env_ms"], row["act_ms"], row["learn_ms"]]
        assert all(ms > 0 for ms in phases) and sum(phases) < 1000 * row["time_s"]


def test_phases_are_milliseconds_per_round_since_the_last_log(monkeypatch):
    from milestones.families.dqn import pqn
    clock = iter([0.0, 0.5, 1.0, 1.25, 2.0, 3.0])
    monkeypatch.setattr(pqn.time, "perf_counter", lambda: next(clock))
    phases = pqn.Phases()
    for name in ("env", "act", "env"):  # 0.5 s, 0.25 s, 1.0 s
        with phases(name):
            pass
    phases.rounds = 2
    assert phases.take() == {"act_ms": 125.0, "env_ms": 750.0}
    assert phases.take() == {}  # reset


def test_the_vector_environments_roll_out_as_the_reference_ones_where_they_agree():
    """Pong with no no-ops, where ale-py's AtariVectorEnv and our Nature preprocessing give the same
    frames (tests/test_rl_atari.py): the same network and generator make the same rollout, step for
    step: observations, actions, rewards, episode ends and the bootstrap values."""
    import torch

    from milestones.families.dqn import pqn

    cfg = pqn.PQNConfig(env="ALE/Pong-v5", envs=3, rollout=16, minibatches=4, noop_max=0, seed=4)
    vec_cfg = pqn.PQNConfig(**{**cfg.__dict__, "atari_envs": "vector", "env_threads": 1})
    worlds = [pqn.make_world(cfg), pqn.make_world(vec_cfg)]
    assert isinstance(worlds[1], pqn.VectorEnvironments)
    torch.manual_seed(0)
    net = pqn.make_network(cfg, worlds[0].spaces)
    assert worlds[1].spaces.action_space.n == worlds[0].spaces.action_space.n == 6
    rollouts = []
    for world in worlds:
        world.reset()
        rng = np.random.default_rng(1)
        rollouts.append([pqn.rollout(cfg, net, world, 0.5, rng, torch.device("cpu")) for _ in range(8)])
    for ours, peer in zip(*rollouts):
        for a, b in zip(ours, peer):
            np.testing.assert_array_equal(a, b)
    assert sum(np.abs(r[2]).sum() for r in rollouts[0]) > 0  # points were scored: the rewards were compared


def test_the_vector_environments_tell_a_games_end_from_a_lost_life():
    """Breakout on the fast path: a lost life ends the training episode (terminated), the game's
    score runs on until its last life; games end where the vector env resets them."""
    from milestones.families.dqn import pqn

    cfg = pqn.PQNConfig(env="ALE/Breakout-v5", envs=2, rollout=16, minibatches=4, atari_envs="vector",
                        env_threads=1, seed=0)
    world = pqn.make_world(cfg)
    world.reset()
    rng, lives_lost, rewards = np.random.default_rng(0), np.zeros(2, int), [[0.0], [0.0]]
    while min(ep.count for ep in world.episodes) < 2:
        reward, term, trunc, last = world.step(rng.integers(0, 4, 2))
        assert not trunc.any() and not last
        for k in range(2):
            rewards[k][-1] += reward[k]
            lives_lost[k] += term[k]
            if world.frames[k] < 40 and term[k]:  # a new game began: the last one's score was logged
                assert world.episodes[k].finished[-1] == rewards[k][-1]
                rewards[k].append(0.0)
    assert (lives_lost == 5 * np.array([ep.count for ep in world.episodes])).all()  # 5 lives a game
    with pytest.raises(Exception, match="atari-envs vector"):
        pqn.PQNConfig(env="MinAtar/Breakout-v1", atari_envs="vector")


def test_a_killed_run_on_the_vector_environments_resumes_with_new_games(tmp_path):
    """The fast path cannot save its games: a killed run resumes from its checkpoint (network,
    optimizer, generators, the episodes' bookkeeping), starts new games and ends its schedule."""
    import json
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = ["train", "dqn/atari-pong-pqn", "--atari-envs", "vector", "--env-threads", "1", "--steps", "1024",
            "--envs", "4", "--rollout", "16", "--minibatches", "4", "--eval-every", "512", "--eval-episodes", "1",
            "--final-episodes", "1", "--eval-max-frames", "200", "--checkpoint-every", "1"]
    run_dir = tmp_path / "killed"
    killed_at = kill_after_checkpoint(args, env, run_dir, at_least=3 * 64)
    assert 3 * 64 <= killed_at < 1024
    resumed = milestones(["train", "--resume", str(run_dir)], env)
    assert resumed.returncode == 0, resumed.stderr
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [512, 1024]
    assert json.loads((run_dir / "result.json").read_text())["metrics"]["steps_trained"] == 1024
