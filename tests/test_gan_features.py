"""The feature-space metrics against closed forms and an independent computation: the Fréchet
distance, precision / recall / density / coverage on point sets with known answers, and the
cached Fashion-MNIST classifier."""
import numpy as np
import pytest
import torch

from milestones.checkpoint import CheckpointError
from milestones.gan import features as ft

float64 = pytest.mark.usefixtures("float64")


@float64
def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    # diagonal: ||mu1 - mu2||^2 + sum (sqrt(s1) - sqrt(s2))^2
    expected = 5.0 + (1 - 3) ** 2 + (2 - 1) ** 2 + 0.0
    assert ft.frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2)) == pytest.approx(expected, abs=1e-10)


@float64
def test_frechet_distance_matches_the_trace_of_the_product_square_root():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)  # do not commute
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # independent route: Σ1Σ2 has real non-negative eigenvalues; tr (Σ1Σ2)^½ is the sum of their roots
    cross = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(min=0)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross
    got = ft.frechet_distance(*(torch.from_numpy(t) for t in (mu1, s1, mu2, s2)))
    assert got == pytest.approx(expected, rel=1e-9)
    assert ft.frechet_distance(*(torch.from_numpy(t) for t in (mu1, s1, mu1, s1))) == pytest.approx(0, abs=1e-9)


@float64
def test_precision_recall_density_coverage_on_sets_with_known_answers():
    grid = torch.cartesian_prod(torch.arange(10.0), torch.arange(10.0))  # 100 points, spacing 1
    same = ft.precision_recall(grid, grid.clone(), k=3)
    assert (same.precision, same.recall, same.coverage) == (1.0, 1.0, 1.0)
    far = ft.precision_recall(grid, grid + 100, k=3)
    assert (far.precision, far.recall, far.density, far.coverage) == (0.0, 0.0, 0.0, 0.0)
    # fakes on a quarter of the data (one mode dropped three times over): precise, not diverse
    quarter = grid[(grid[:, 0] < 5) & (grid[:, 1] < 5)]
    part = ft.precision_recall(grid, quarter, k=3)
    assert part.precision == 1.0
    # real balls (k = 3) have radius 1: the 25 quarter points and the 10 next to its edges are covered
    assert part.coverage == pytest.approx(0.35)
    # fake balls: radius 1, √2 at the quarter's corners, so (5, 5) is recalled too: 25 + 10 + 1
    assert part.recall == pytest.approx(0.36)


@float64
def test_density_counts_the_real_balls_around_each_fake():
    # 1D: reals 0, 1, 2, 3 with k = 1 radii 1, 1, 1, 1; one fake at 0.5 lies in the balls of 0 and 1
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [0.6], [10.0], [11.0]])
    f = ft.precision_recall(real, fake, k=1)
    assert f.precision == 0.5  # 0.5 and 0.6 inside, 10 and 11 not
    assert f.density == pytest.approx((2 + 2) / (1 * 4))  # each of the two lies in two balls
    assert f.coverage == 0.5  # reals 0 and 1 have a fake within radius 1
    # fake radii (k = 1): 0.1, 0.1, 1, 1 — no real lies within them
    assert f.recall == 0.0
    with pytest.raises(ValueError, match="more than k = 5"):
        ft.precision_recall(real, fake, k=5)


def test_the_classifier_is_trained_once_and_read_back_from_its_cache(shared_data, tmp_path, monkeypatch):
    calls = []
    real_train, real_load = ft.train_classifier, ft.load_fashion_mnist

    def small(data_dir=None, **kw):
        calls.append(kw)
        return real_train(data_dir, **(kw | {"epochs": 1, "limit": 2000}))

    def first_test_images(split, data_dir=None):  # 1 000 test images: measuring all 10 000 takes seconds
        images, labels = real_load(split, data_dir)
        return (images[:1000], labels[:1000]) if split == "test" else (images, labels)

    monkeypatch.setattr(ft, "train_classifier", small)
    monkeypatch.setattr(ft, "load_fashion_mnist", first_test_images)
    data = shared_data("fashion-mnist").parent
    cache = tmp_path / "clf.safetensors"
    model, info = ft.load_classifier(data, cache, progress=False)
    assert len(calls) == 1 and info["test_accuracy"] > 0.3  # chance is 0.1; 2 000 images, one epoch
    again, info2 = ft.load_classifier(data, cache, progress=False)
    assert len(calls) == 1 and info2 == info
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model.features(x), again.features(x))
    # the accuracy stored with the cache is that of the weights read back from it, recomputed here
    images, labels = first_test_images("test", data)
    with torch.no_grad():
        predicted = again(images.unsqueeze(1) * 2 - 1).argmax(1)  # the model's range is [-1, 1]
    # abs 1.5e-3: one of the 1 000 images, should a near tie fall the other way in another batch size
    assert info["test_accuracy"] == pytest.approx((predicted == labels).double().mean().item(), abs=1.5e-3)
    cache.write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(CheckpointError, match=str(cache.name)):
        ft.load_classifier(data, cache, progress=False)
