"""The mixtures of Gaussians and the mode / high-quality / reverse-KL metrics on samples whose answer
is known by construction."""
import math

import pytest
import torch

from milestones.gan.mixtures import GRID_SIGMA, RING_SIGMA, grid_means, mode_metrics, ring_means, sample


def test_the_ring_has_eight_distinct_unit_means_and_the_grid_twenty_five():
    ring = ring_means()
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.cdist(ring, ring).add(torch.eye(8)).min() > 0.7  # neighbours 2 sin(π/8) = 0.765 apart
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-7)
    grid = grid_means()
    assert grid.shape == (25, 2)
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(p) for p in grid.tolist()}) == 25


def test_samples_of_the_data_recover_every_mode_with_almost_all_high_quality():
    gen = torch.Generator().manual_seed(0)
    for means, sigma in ((ring_means(), RING_SIGMA), (grid_means(), GRID_SIGMA)):
        x = sample(means, sigma, 2500, gen)
        m = mode_metrics(x, means, sigma)
        assert m.modes == len(means)
        # within 3σ in 2D: 1 − exp(−9/2) = 98.9 % of the data's own samples
        assert m.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
        assert m.reverse_kl < 0.02 if len(means) == 8 else m.reverse_kl < 0.05


def test_known_answers():
    means = ring_means()
    three = means[[0, 0, 0, 2, 5, 5]]  # exactly on three means
    far = torch.tensor([[0.5, 0.5], [3.0, 0.0]])  # nearest means, but far beyond 3σ
    m = mode_metrics(torch.cat([three, far]), means, RING_SIGMA)
    assert m.modes == 3 and m.high_quality == pytest.approx(6 / 8)
    assert m.histogram == (3, 0, 1, 0, 0, 2, 0, 0)
    assert m.reverse_kl == pytest.approx(sum(q * math.log(q * 8) for q in (3 / 6, 1 / 6, 2 / 6)), rel=1e-12)
    one = mode_metrics(means[[4] * 10], means, RING_SIGMA)
    assert one.modes == 1 and one.reverse_kl == pytest.approx(math.log(8))  # all mass on one mode
    even = mode_metrics(means.repeat(3, 1), means, RING_SIGMA)
    assert even.modes == 8 and even.reverse_kl == pytest.approx(0.0, abs=1e-12)
    edge = mode_metrics(means[:1] + torch.tensor([[3 * RING_SIGMA - 1e-6, 0.0]]), means, RING_SIGMA)
    assert edge.high_quality == 1.0  # 3σ is inside
    none = mode_metrics(torch.zeros(4, 2), means, RING_SIGMA)
    assert none.modes == 0 and none.high_quality == 0 and none.reverse_kl == math.inf


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="shape"):
        mode_metrics(torch.zeros(4, 3), ring_means(), RING_SIGMA)
    with pytest.raises(ValueError, match="sigma"):
        sample(ring_means(), 0.0, 10)
    with pytest.raises(ValueError, match="n must"):
        sample(ring_means(), 0.01, 0)


def test_window_metrics_average_the_last_k_measurements_of_training():
    from milestones.families.gan.experiments import window_metrics
    rows = [{"step": 0, "loss_d": 1.0}] + [
        {"step": 500 * k, "modes": m, "hq_percent": hq, "reverse_kl": kl}
        for k, (m, hq, kl) in enumerate([(2, 10.0, 1.0), (8, 90.0, 0.0), (6, 30.0, 0.5), (8, 60.0, 0.1)], 1)]
    out = window_metrics(rows, 3)  # the last three measurements; the loss-only row is not one
    assert out["window"] == 3
    assert out["hq_percent_window"] == pytest.approx(60.0) and out["hq_percent_window_min"] == 30.0
    assert out["hq_percent_window_max"] == 90.0 and out["modes_window"] == pytest.approx(22 / 3)
    assert out["reverse_kl_window"] == pytest.approx(0.2)
    assert window_metrics(rows, 10)["window"] == 4 and window_metrics(rows[:1], 5) == {}
