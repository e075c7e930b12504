"""The mixture-of-Gaussians GAN experiments end to end on tiny settings: every method trains and
is measured, options that do not fit together are refused, a diverging run stops with its last
good checkpoint, and a stopped run resumes to the same result."""
import dataclasses
import math

import pytest
import torch

from milestones.checkpoint import load_checkpoint
from milestones.config import ConfigError, apply_overrides
from milestones.families.gan import experiments as gan_exp
from milestones.registry import catalog, select
from milestones.runs import Run, TrainingDiverged

TINY = dict(steps=24, eval_every=8, checkpoint_every=8, batch_size=64, snapshots=3)


def tiny(name, **kw):
    exp = catalog()[name]
    return exp, dataclasses.replace(exp.config, **(TINY | kw))


def test_the_experiments_cover_both_mixtures_and_every_method():
    names = [e.name for e in select("gan/ring")] + [e.name for e in select("gan/grid")]
    assert names == ["gan/ring-simgd", "gan/ring-conopt", "gan/ring-conopt-ema", "gan/ring-conopt-ema-4x64",
                     "gan/ring-gan", "gan/ring-wgan", "gan/ring-wgan-gp", "gan/grid-conopt", "gan/grid-conopt-ema",
                     "gan/grid-conopt-ema-4x64", "gan/grid-gan", "gan/grid-wgan", "gan/grid-wgan-gp"]
    wide = catalog()["gan/grid-conopt-ema-4x64"].config
    assert dataclasses.replace(wide, hidden=16, eigenvalues=True) == catalog()["gan/grid-conopt-ema"].config
    conopt, simgd = catalog()["gan/ring-conopt"].config, catalog()["gan/ring-simgd"].config
    # the Numerics setting: 4x16 MLPs, z in R^16, batch 512, RMSProp; gamma 10 against 0
    assert (conopt.layers, conopt.hidden, conopt.z_dim, conopt.batch_size) == (4, 16, 16, 512)
    assert dataclasses.replace(conopt, gamma=0.0) == simgd and conopt.gamma == 10.0
    wgan = catalog()["gan/ring-wgan"].config
    assert (wgan.clip, wgan.n_critic, wgan.lr_d, wgan.optimizer) == (0.01, 5, 5e-5, "rmsprop")
    gp = catalog()["gan/grid-wgan-gp"].config
    assert (gp.penalty, gp.penalty_weight, gp.clip) == ("gp", 0.1, 0.0)
    assert dataclasses.replace(catalog()["gan/grid-conopt-ema"].config, ema=0.0) == catalog()["gan/grid-conopt"].config


def test_with_a_weight_average_the_samples_come_from_it(tmp_path):
    exp, cfg = tiny("gan/ring-conopt-ema", eigenvalues=False)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    metrics = exp.train(cfg, run)
    state, _ = load_checkpoint(run.checkpoint_path)
    G, _ = gan_exp.players(cfg)
    G.load_state_dict(state["modules"]["G_avg"])
    z = gan_exp.eval_noise(cfg, torch.device("cpu"))
    assert gan_exp.measure(cfg, G, z)[0] == {k: metrics[k] for k in ("modes", "hq_percent", "reverse_kl")}
    assert not torch.equal(state["modules"]["G_avg"]["0.weight"], state["modules"]["G"]["0.weight"])
    assert exp.evaluate(cfg, Run(run.dir, exp, cfg, progress=False))["hq_percent"] == metrics["hq_percent"]


@pytest.mark.parametrize("name", ["gan/ring-conopt", "gan/ring-gan", "gan/grid-wgan", "gan/grid-wgan-gp"])
def test_each_method_trains_logs_the_mode_metrics_and_draws_its_snapshots(tmp_path, name):
    exp, cfg = tiny(name)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    metrics = exp.train(cfg, run)
    rows = run.metrics()
    assert [r["step"] for r in rows] == [8, 16, 24]
    modes = 8 if cfg.data == "ring" else 25
    assert 0 <= metrics["modes"] <= modes and 0 <= metrics["hq_percent"] <= 100
    assert 0 <= metrics["reverse_kl"] <= math.log(modes) + 1e-9
    assert [s for s, _ in gan_exp.read_snapshots(run.dir)] == [0, 8, 16, 24]
    assert (run.dir / "plots" / "samples.png").exists()
    if cfg.loss == "gan":  # the Jacobian of the 4x16 players: one eigenvalue per parameter
        n = sum(p.numel() for m in gan_exp.players(cfg) for p in m.parameters())
        assert len(gan_exp.read_eigenvalues(run.dir)) == n
        assert metrics["eig_max_abs_imag"] >= 0
    if cfg.clip:
        state, _ = load_checkpoint(run.checkpoint_path)
        assert max(t.abs().max() for t in state["modules"]["D"].values()) <= cfg.clip


def test_measure_counts_modes_of_samples_placed_on_the_means():
    cfg = catalog()["gan/ring-conopt"].config

    class OnThreeModes(torch.nn.Module):
        def forward(self, z):
            return gan_exp.ring_means()[torch.arange(len(z)) % 3]

    metrics, samples = gan_exp.measure(cfg, OnThreeModes(), torch.zeros(2500, 16))
    assert metrics["modes"] == 3 and metrics["hq_percent"] == 100
    assert metrics["reverse_kl"] == pytest.approx(math.log(8 / 3), rel=1e-3)  # 2500 = 834 + 833 + 833


@pytest.mark.parametrize("overrides, message", [
    (["--scheme", "alternating", "--gamma", "10"], "--gamma > 0 .* needs --scheme simultaneous"),
    (["--clip", "0.01"], "--clip is WGAN's weight clipping"),
    (["--penalty", "gp", "--penalty-weight", "10"], "--penalty gp is WGAN-GP's"),
    (["--penalty", "r1"], "needs --penalty-weight > 0"),
    (["--n-critic", "5"], "--n-critic > 1 needs --scheme alternating"),
    (["--lr-d", "0"], r"--lr-d: expected a number in \(0.0, 1.0\], got 0.0"),
    (["--gamma", "-1"], r"--gamma: expected a number in \[0.0, 10000.0\]"),
    (["--clip", "nan"], "--clip: expected a number"),
])
def test_options_that_are_out_of_range_or_do_not_fit_together_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(catalog()["gan/ring-conopt"].config, overrides)


def test_a_diverging_run_stops_with_its_last_good_checkpoint(tmp_path, monkeypatch):
    exp, cfg = tiny("gan/ring-conopt")
    real_step = gan_exp.one_step

    def poisoned(cfg, step, *args):
        out = real_step(cfg, step, *args)
        return out | {"d_loss": float("nan")} if step == 13 else out

    monkeypatch.setattr(gan_exp, "one_step", poisoned)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    with pytest.raises(TrainingDiverged, match="d_loss not finite at step 13; the last good checkpoint"):
        exp.train(cfg, run)
    state, meta = load_checkpoint(run.checkpoint_path)
    assert meta["step"] == 8
    assert all(torch.isfinite(t).all() for t in state["modules"]["G"].values())
    assert exp.evaluate(cfg, Run(run.dir, exp, cfg, progress=False))["step"] == 8


@pytest.mark.parametrize("name", ["gan/ring-conopt-ema", "gan/grid-wgan-gp"])
def test_a_stopped_run_resumes_to_the_uninterrupted_result(tmp_path, stopped_at, name):
    exp, cfg = tiny(name, eigenvalues=False)
    clean = Run.create(tmp_path / "clean", exp, cfg, progress=False)
    expected = exp.train(cfg, clean)

    stopped = Run.create(tmp_path / "stopped", exp, cfg, progress=False)
    stopped_at(gan_exp, 11, exp, cfg, stopped)
    resumed = exp.train(cfg, Run(stopped.dir, exp, cfg, progress=False))
    assert resumed == expected
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time_s"} for r in rows]  # noqa: E731
    assert strip(clean.metrics()) == strip(Run(stopped.dir, exp, cfg, progress=False).metrics())
    assert [s for s, _ in gan_exp.read_snapshots(stopped.dir)] == [s for s, _ in gan_exp.read_snapshots(clean.dir)]
