"""Self-play on worker processes: the games are each share's, played with the seeds drawn from the
trainer's generator, whatever runs them; one worker plays in this process with that generator."""
import numpy as np
import pytest

from milestones.games import Connect4
from milestones.nn.policy_value import NetworkEvaluator, PolicyValueNet
from milestones.search.gumbel import GumbelConfig
from milestones.search.mcts import SearchConfig
from milestones.search.selfplay import PlayoutCap, RandomOpening, play_games
from milestones.search.workers import SelfPlayWorkers, play_share, shares


def same_games(a, b):
    assert [r.moves for r in a] == [r.moves for r in b]
    for ra, rb in zip(a, b):
        assert ra.outcome == rb.outcome
        for ea, eb in zip(ra.examples, rb.examples):
            np.testing.assert_array_equal(ea.planes, eb.planes)
            np.testing.assert_allclose(ea.pi, eb.pi, rtol=0, atol=1e-6)  # float32 networks in two processes


def test_shares():
    assert shares(10, 3) == [4, 3, 3] and shares(2, 4) == [1, 1, 0, 0] and sum(shares(257, 8)) == 257


@pytest.mark.parametrize("config,cap,opening", [(SearchConfig(simulations=6, dirichlet_fraction=0.25), None, None),
                                                (GumbelConfig(simulations=4), PlayoutCap(0.5, 2), RandomOpening(0.5, 3))])
def test_local_processes_play_each_share_with_its_seed(config, cap, opening):
    game, net = Connect4(), PolicyValueNet(Connect4().planes_shape, 7, 1, 8, 8)
    workers = SelfPlayWorkers(2, "local")
    try:
        records = workers.play(game, net, config, 5, np.random.default_rng(3), 4, cap, opening)
    finally:
        workers.close()
    seeds = np.random.default_rng(3).integers(0, 2**63, 2)
    expected = (play_share(game, net, config, 3, int(seeds[0]), 4, cap, opening=opening)
                + play_share(game, net, config, 2, int(seeds[1]), 4, cap, opening=opening))
    assert len(records) == 5
    same_games(records, expected)


def test_one_worker_plays_here_with_the_trainers_generator():
    game, net, config = Connect4(), PolicyValueNet(Connect4().planes_shape, 7, 1, 8, 8), GumbelConfig(simulations=4)
    here = SelfPlayWorkers(1).play(game, net, config, 3, np.random.default_rng(0), 4, None)
    same_games(here, play_games(game, NetworkEvaluator(net), config, 3, np.random.default_rng(0), 4))


def test_ray_plays_the_same_games_or_says_how_to_install_it():
    game, net, config = Connect4(), PolicyValueNet(Connect4().planes_shape, 7, 1, 8, 8), GumbelConfig(simulations=4)
    workers = SelfPlayWorkers(2, "ray")
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match=r"milestones\[cluster\]"):
            workers.play(game, net, config, 4, np.random.default_rng(1), 4, None)
        return
    try:
        on_ray = workers.play(game, net, config, 4, np.random.default_rng(1), 4, None)
    finally:
        workers.close()
    local = SelfPlayWorkers(2, "local")
    try:
        same_games(on_ray, local.play(game, net, config, 4, np.random.default_rng(1), 4, None))
    finally:
        local.close()


def test_bad_worker_options():
    with pytest.raises(ValueError, match="workers must be ≥ 1"):
        SelfPlayWorkers(0)
    with pytest.raises(ValueError, match="local, ray"):
        SelfPlayWorkers(2, "slurm")
