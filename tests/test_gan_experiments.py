"""The mixture-of-Gaussians GAN experiments end to end on tiny settings: every method trains and
is measured, options that do not fit together are refused, a diverging run stops with its last
good checkpoint, and a stopped run resumes to the same result."""
import dataclasses
import math

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from milestones.checkpoint import load_checkpoint
from milestones.config import ConfigError, apply_overrides
from milestones.families.gan import experiments as gan_exp
from milestones.gan.mixtures import sample
from milestones.registry import catalog, select
from milestones.runs import Run, TrainingDiverged

TINY = dict(steps=24, eval_every=8, checkpoint_every=8, batch_size=64, snapshots=3)


def tiny(name, **kw):
    exp = catalog()[name]
    return exp, dataclasses.replace(exp.config, **(TINY | kw))


def protocol_metrics(samples, means, sigma):
    """[modes, hq_percent, reverse_kl] of samples (n, 2) read literally off the protocol: a sample
    within 3σ of its nearest mean is high quality and counts for that mode; KL(q ‖ uniform) of those
    counts, log K when there are none."""
    K = len(means)
    dist = ((samples.double()[:, None, :] - means.double()[None]) ** 2).sum(-1).sqrt()  # (n, K)
    hq = dist.min(1).values <= 3 * sigma  # (n,)
    counts = [int((dist[hq].argmin(1) == k).sum()) for k in range(K)]
    n_hq = sum(counts)
    kl = sum(c / n_hq * math.log(c / n_hq * K) for c in counts if c) if n_hq else math.log(K)
    return [sum(c > 0 for c in counts), 100 * n_hq / len(samples), min(kl, math.log(K))]


def field_jacobian(cfg, G, D):
    """∂v/∂(φ, θ), (n, n), of the game's field v = (∇_φ L_D, ∇_θ L_G) for the GAN loss with the
    non-saturating G (L_D = E softplus(−D(x)) + E softplus(D(G(z))), L_G = E softplus(−D(G(z)))),
    by torch.func's jacrev rather than one backward pass per row, on the batch `game_eigenvalues` draws."""
    gen = torch.Generator().manual_seed(gan_exp.EVAL_SEED + 1)
    means, sigma = gan_exp.data_spec(cfg)
    x = sample(means, sigma, cfg.batch_size, gen)  # (B, 2)
    z = torch.randn(cfg.batch_size, cfg.z_dim, generator=gen)  # (B, z_dim)
    phi = {k: p.detach() for k, p in D.named_parameters()}
    theta = {k: p.detach() for k, p in G.named_parameters()}

    def loss_d(phi, theta):
        fake = functional_call(D, phi, (functional_call(G, theta, (z,)),))  # (B, 1)
        return F.softplus(-functional_call(D, phi, (x,))).mean() + F.softplus(fake).mean()

    def loss_g(theta, phi):
        return F.softplus(-functional_call(D, phi, (functional_call(G, theta, (z,)),))).mean()

    def field(phi, theta):
        return torch.func.grad(loss_d)(phi, theta), torch.func.grad(loss_g)(theta, phi)

    def row(jac, p):  # one parameter's entries of v against every parameter: (p.numel(), n)
        by_phi, by_theta = jac
        return torch.cat([j.reshape(p.numel(), -1) for j in [*by_phi.values(), *by_theta.values()]], 1)

    of_d, of_g = torch.func.jacrev(field, argnums=(0, 1))(phi, theta)  # per entry of v: (∂/∂φ, ∂/∂θ)
    return torch.cat([row(of_d[k], p) for k, p in phi.items()] + [row(of_g[k], p) for k, p in theta.items()])


def test_the_experiments_cover_both_mixtures_and_every_method():
    names = [e.name for e in select("gan/ring")] + [e.name for e in select("gan/grid")]
    methods = ["conopt", "conopt-ema", "conopt-ema-4x64", "gan", "wgan", "wgan-gp", "gan-4x64", "wgan-4x64",
               "wgan-gp-4x64"]
    assert names == (["gan/ring-simgd"] + [f"gan/ring-{m}" for m in methods] + [f"gan/grid-{m}" for m in methods])
    for narrow in ("conopt-ema", "gan", "wgan", "wgan-gp"):  # every method on both player sizes, nothing else apart
        wide = catalog()[f"gan/grid-{narrow}-4x64"].config
        assert dataclasses.replace(wide, hidden=16, eigenvalues=True) == catalog()[f"gan/grid-{narrow}"].config
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
    state, meta = load_checkpoint(run.checkpoint_path)
    G, D = gan_exp.players(cfg)
    G.load_state_dict(state["modules"]["G"])
    D.load_state_dict(state["modules"]["D"])
    with torch.no_grad():
        samples = G(gan_exp.eval_noise(cfg, torch.device("cpu")))  # (2500, 2) of the final G
    # 24 steps recover no mode (measured: the samples sit 7-9 σ from the grid's nearest mean, 55 σ
    # from the ring's): the metrics are those of these samples, recomputed here
    means, sigma = gan_exp.data_spec(cfg)
    assert meta["step"] == 24
    assert [metrics[k] for k in ("modes", "hq_percent", "reverse_kl")] == pytest.approx(
        protocol_metrics(samples, means, sigma), abs=1e-9)
    snapshots = gan_exp.read_snapshots(run.dir)
    assert [s for s, _ in snapshots] == [0, 8, 16, 24]
    torch.testing.assert_close(snapshots[-1][1], samples[:1000], rtol=0, atol=6e-5)  # kept to 4 decimals
    assert (run.dir / "plots" / "samples.png").exists()
    if cfg.loss == "gan":  # the Jacobian of the 4x16 players: one eigenvalue per parameter
        J = field_jacobian(cfg, G, D)
        assert J.shape == (2003, 2003) == (sum(p.numel() for m in (G, D) for p in m.parameters()),) * 2
        eig = torch.linalg.eigvals(J.double())
        stored = gan_exp.read_eigenvalues(run.dir)
        assert len(stored) == len(eig)
        assert stored.real.double().sum().item() == pytest.approx(J.trace().item(), abs=1e-4)  # Σ λ = tr J
        assert metrics["eig_max_abs_imag"] == pytest.approx(eig.imag.abs().max().item(), abs=1e-5)
        assert metrics["eig_min_real"] == pytest.approx(eig.real.min().item(), abs=1e-5)
        assert metrics["eig_max_abs"] == pytest.approx(eig.abs().max().item(), abs=1e-5)
    if cfg.clip:
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
