"""The supervised policy network's parts: the data set read from SGF games and split by game, the
symmetries of a minibatch against the game's own, the network's layers as the paper gives them, a
tiny set learned to 100 %, and the recipe trained, stopped and resumed to the same network."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from milestones import registry
from milestones.families.alphago.experiments import accuracy, symmetric_batch
from milestones.games.go import PLANES, Go
from milestones.go.dataset import Positions, load, split_of
from milestones.go.players import RandomPlayer
from milestones.go.sgf import GameRecord, SgfError, write_game
from milestones.nn.go_policy import PolicyCNN, ValueCNN
from milestones.runs import Run


def random_games(folder, count, size=9, opening=2, seed=0):
    """`count` games of the random player against itself, written as SGF with XR[opening]."""
    folder.mkdir(parents=True, exist_ok=True)
    go = Go(size, 7.0)
    player = RandomPlayer(seed)
    games = []
    for k in range(count):
        position, moves = go.initial(), []
        while not position.is_terminal():
            move = player.genmove(position, 1.0)
            moves.append(move)
            position = position.play(move)
        record = GameRecord(size=size, komi=7.0, moves=moves, result=position.result(), extra={"XR": str(opening)})
        (folder / f"game-{k:06d}.sgf").write_text(write_game(record))
        games.append(moves)
    return games


def test_the_data_set_holds_every_expert_move_split_by_game(tmp_path):
    folder = tmp_path / "games"
    games = random_games(folder, 40)
    data = load(folder)
    names = [f"game-{k:06d}.sgf" for k in range(40)]
    for split in ("train", "validation", "test"):
        mine = [k for k, name in enumerate(names) if split_of(name) == split]
        # after the 2 random opening moves, every move up to and including the first pass
        expected = sum((games[k][2:] + [81]).index(81) + 1 for k in mine)
        assert data[split].games == len(mine)
        assert len(data[split]) == expected
    assert data["train"].planes.shape[1:] == (PLANES, 9, 9) and data["train"].planes.dtype == np.uint8
    assert data["test"].games + data["validation"].games >= 1
    assert {split_of(f"game-{k:06d}.sgf") for k in range(200)} == {"train", "validation", "test"}
    # the expert's move is legal where it was played
    assert np.all(data["train"].planes[np.arange(len(data["train"])), 9].reshape(len(data["train"]), -1)[
        data["train"].moves < 81, data["train"].moves[data["train"].moves < 81]] == 1)
    (folder / "game-000999.sgf").write_text("(;SZ[9];B[zz])")
    with pytest.raises(SgfError, match="game-000999.sgf: SGF node 2"):
        load(folder)


def test_a_minibatch_symmetry_moves_the_expert_move_with_the_board():
    go = Go(9)
    rng = np.random.default_rng(0)
    position = go.initial()
    for _ in range(12):
        position = position.play(int(rng.choice(position.legal_moves()[:-1])))
    planes = np.repeat(position.planes()[None].astype(np.uint8), 64, axis=0)
    moves = rng.integers(0, 82, 64)
    out_planes, out_moves = symmetric_batch(planes, moves, np.random.default_rng(1), 9)
    references = go.symmetries(position.planes(), np.eye(82, dtype=np.float32)[0])  # only the planes used
    for b in range(64):
        matches = [s for s, (p, _) in enumerate(references) if np.array_equal(p, out_planes[b])]
        assert matches, "every output is one of the game's 8 symmetries of the input"
        s = matches[0]
        _, policy = go.symmetries(position.planes(), np.eye(82, dtype=np.float32)[moves[b]])[s]
        assert out_moves[b] == int(np.argmax(policy))


def test_the_networks_have_the_papers_layers():
    net = PolicyCNN(PLANES, 9, layers=4, filters=8)
    convs = net.trunk.convs
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3)]
    expected = (PLANES * 25 * 8 + 8) + 2 * (8 * 9 * 8 + 8) + 8 + 81 + (8 + 1)
    assert sum(p.numel() for p in net.parameters()) == expected
    assert net(torch.zeros(2, PLANES, 9, 9)).shape == (2, 82)
    value = ValueCNN(PLANES, 9, layers=3, filters=8, hidden=16)
    v = value(torch.randn(5, PLANES, 9, 9))
    assert v.shape == (5,) and bool((v.abs() < 1).all())


def test_a_tiny_set_is_learned_to_every_move(tmp_path):
    random_games(tmp_path / "g", 3)
    data = load(tmp_path / "g", splits=("train",))["train"]
    small = Positions(data.planes[:48], data.moves[:48], 3)
    torch.manual_seed(0)
    net = PolicyCNN(PLANES, 9, layers=3, filters=32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x, y = torch.from_numpy(small.planes).float(), torch.from_numpy(small.moves)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert accuracy(net, small, torch.device("cpu"))["accuracy"] == 1.0


def test_the_recipe_trains_stops_and_resumes_to_the_same_network(tmp_path, monkeypatch, stopped_at):
    from milestones.families.alphago import experiments

    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path))
    random_games(tmp_path / "go9-test", 24)
    exp = registry.catalog()["alphago/sl-policy-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), data="go9-test", steps=12, eval_every=4, checkpoint_every=5)
    straight = Run.create(tmp_path / "a", exp, cfg, progress=False)
    result = exp.train(cfg, straight)
    assert set(result) >= {"test_accuracy", "val_accuracy", "train_positions"}
    assert [row["step"] for row in straight.metrics()] == [4, 8, 12]
    stopped = Run.create(tmp_path / "b", exp, cfg, progress=False)
    stopped_at(experiments, 6, exp, cfg, stopped)  # Ctrl-C during step 6, between checkpoints and evaluations
    resumed = exp.train(cfg, Run(tmp_path / "b", exp, cfg, progress=False))
    assert resumed == result
    def logged(run):
        return [{k: v for k, v in row.items() if k != "time_s"} for row in run.metrics()]

    assert logged(stopped) == logged(straight)


def test_the_value_network_fits_a_tiny_set_of_outcomes(tmp_path):
    random_games(tmp_path / "g", 3)
    data = load(tmp_path / "g", splits=("train",))["train"]
    x = torch.from_numpy(data.planes[:32]).float()
    z = torch.from_numpy(np.random.default_rng(0).choice([-1.0, 1.0], 32)).float()
    torch.manual_seed(0)
    net = ValueCNN(PLANES, 9, layers=3, filters=16, hidden=32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(300):
        loss = ((net(x) - z) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ((net(x) - z) ** 2).mean().item() < 0.05
