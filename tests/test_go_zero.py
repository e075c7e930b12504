"""AlphaZero-style training from the SL network (families/alphago/zero.py): the dual network starts
as p_σ exactly, learns with AlphaZero's loop, resumes to the same network, and plays in the ladder."""
from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
import pytest
import torch

from milestones import registry
from milestones.families.alphago import experiments, ladder, zero
from milestones.games.go import Go
from milestones.nn.go_policy import PolicyCNN, PolicyValueCNN
from milestones.runs import Run, RunStopped
from milestones.search import training
from tests.test_go_rl import trained_sl_run


def test_the_dual_network_starts_as_the_sl_policy_with_a_value_head():
    torch.manual_seed(0)
    policy = PolicyCNN(11, 5, layers=3, filters=8)
    dual = PolicyValueCNN(policy, hidden=16)
    planes = torch.from_numpy(np.stack([Go(5).initial().planes(), Go(5).from_moves([12, 6]).planes()]))
    logits, value = dual(planes)
    assert torch.equal(logits, policy(planes)) and logits.shape == (2, 26)
    assert value.shape == (2,) and bool((value.abs() < 1).all())
    # the value head reads the policy's trunk: changing the trunk changes both heads
    with torch.no_grad():
        policy.trunk.convs[0].bias.add_(1.0)
    logits2, value2 = dual(planes)
    assert not torch.equal(logits2, logits) and not torch.equal(value2, value)


def test_the_recipe_starts_from_p_sigma_and_resumes_to_the_same_network(tmp_path, monkeypatch):
    sl_run = trained_sl_run(tmp_path, monkeypatch)
    exp = registry.catalog()["alphago/zero-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), sl_run=str(sl_run.dir), iterations=3)
    net, sl_net, _ = zero.make_zero_network(cfg)
    planes = torch.from_numpy(Go(5).initial().planes()[None])
    assert torch.equal(net(planes)[0], sl_net(planes))

    straight = exp.train(cfg, Run.create(tmp_path / "a", exp, cfg, progress=False))
    real, calls = training.train_iteration, {"n": 0}

    def then_stop(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(zero, "train_iteration", then_stop)
    with pytest.raises(RunStopped, match="stopped at step 2"):
        exp.train(cfg, Run.create(tmp_path / "b", exp, cfg, progress=False))
    monkeypatch.setattr(zero, "train_iteration", real)
    resumed = exp.train(cfg, Run(tmp_path / "b", exp, cfg, progress=False))
    assert resumed == straight
    a, b = zero.load_zero(str(tmp_path / "a")), zero.load_zero(str(tmp_path / "b"))
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    # the training moved the network away from p_σ
    assert not torch.equal(a.policy.trunk.convs[0].weight, sl_net.trunk.convs[0].weight)
    # the ladder's player "zero" searches with it
    lad = dataclasses.replace(ladder.LadderConfig(), sl_run=str(sl_run.dir), zero_run=str(tmp_path / "a"),
                              max_simulations=8)
    player = ladder.make_players(lad, ["zero"])["zero"]
    assert player.genmove(Go(5).initial(), seconds=10.0) in Go(5).initial().legal_moves()
    assert player.last_simulations == 8
    with pytest.raises(ValueError, match="not of alphago/zero"):
        zero.load_zero(str(sl_run.dir))
    with pytest.raises(Exception, match="--sl-run"):
        exp.train(dataclasses.replace(cfg, sl_run=""), Run.create(tmp_path / "c", exp, cfg, progress=False))
    assert experiments.load_policy(str(sl_run.dir))[2] == 4


def test_the_gtp_engine_plays_a_zero_run(tmp_path, monkeypatch):
    from milestones.families.alphago.commands import make_player

    sl_run = trained_sl_run(tmp_path, monkeypatch)
    exp = registry.catalog()["alphago/zero-9x9"]
    cfg = dataclasses.replace(exp.config_for("quick"), sl_run=str(sl_run.dir), iterations=1)
    run = Run.create(tmp_path / "z", exp, cfg, progress=False)
    exp.train(cfg, run)
    player, name, size = make_player(str(run.dir), simulations=8, seed=0)
    assert (name, size) == ("milestones-zero", 5)
    assert player.genmove(Go(5).initial(), seconds=10.0) in Go(5).initial().legal_moves()
    assert player.last_simulations == 8
