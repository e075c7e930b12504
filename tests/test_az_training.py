"""The AlphaZero loop's parts: the replay window keeps the last games and restores exactly from its
state; every sampled example is a symmetric image of one held; an iteration resumed from the state
taken between iterations (network, optimizer, replay, generator) ends with the same network as two
iterations straight through."""
import copy

import numpy as np
import pytest
import torch

from milestones.games import TicTacToe
from milestones.nn.policy_value import PolicyValueNet
from milestones.search import SearchConfig
from milestones.search.evaluators import uniform
from milestones.search.selfplay import play_games
from milestones.search.training import Replay, TrainerConfig, train_iteration


def test_the_window_keeps_the_last_games_and_restores_exactly():
    game = TicTacToe()
    records = play_games(game, uniform(9), SearchConfig(simulations=8), 5, np.random.default_rng(0), 9)
    replay = Replay(game, window_games=3)
    replay.add(records)
    assert replay.games_seen == 5 and len(replay) == sum(len(r.moves) for r in records[2:])
    other = Replay(game, window_games=3)
    other.load_state_dict(copy.deepcopy(replay.state_dict()))
    a = replay.sample(40, np.random.default_rng(7))
    b = other.sample(40, np.random.default_rng(7))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="no example"):
        Replay(game, 3).sample(4, np.random.default_rng(0))


def test_sampled_examples_are_symmetric_images_of_held_ones():
    game = TicTacToe()
    replay = Replay(game, window_games=10)
    replay.add(play_games(game, uniform(9), SearchConfig(simulations=8), 3, np.random.default_rng(1), 9))
    held = [(p, q, z) for planes, pi, zs in replay.games for p, q, z in zip(planes, pi, zs)]
    images = {(img[0].tobytes(), img[1].tobytes(), float(z)) for p, q, z in held for img in game.symmetries(p, q)}
    planes, pi, z = replay.sample(64, np.random.default_rng(2))
    assert all((p.tobytes(), q.tobytes(), float(v)) in images for p, q, v in zip(planes, pi, z))


def _setup(seed=0):
    torch.manual_seed(seed)
    game = TicTacToe()
    net = PolicyValueNet(game.planes_shape, game.num_moves, blocks=1, filters=16, value_hidden=16)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    cfg = TrainerConfig(games_per_iteration=4, search=SearchConfig(simulations=10, dirichlet_fraction=0.25),
                        temperature_moves=4, window_games=6, batch_size=16, train_steps=4)
    return game, net, opt, Replay(game, cfg.window_games), cfg


def test_a_resumed_iteration_ends_with_the_same_network():
    game, net, opt, replay, cfg = _setup()
    rng = np.random.default_rng(3)
    train_iteration(game, net, opt, replay, cfg, rng)
    saved = copy.deepcopy({"net": net.state_dict(), "opt": opt.state_dict(), "replay": replay.state_dict(),
                           "rng": rng.bit_generator.state})
    stats = train_iteration(game, net, opt, replay, cfg, rng)
    assert set(stats) >= {"value_loss", "policy_loss", "draws", "game_length"} and np.isfinite(stats["value_loss"])

    game2, net2, opt2, replay2, _ = _setup(seed=99)  # different weights until the state is loaded
    net2.load_state_dict(saved["net"])
    opt2.load_state_dict(saved["opt"])
    replay2.load_state_dict(saved["replay"])
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = saved["rng"]
    train_iteration(game2, net2, opt2, replay2, cfg, rng2)
    for p, q in zip(net.state_dict().values(), net2.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert replay2.games_seen == replay.games_seen == 8
