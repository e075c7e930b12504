"""The Fashion-MNIST GAN experiments end to end on tiny settings (a small cached classifier):
measured in the classifier's feature space, sample grids drawn, stopped and resumed to the same
result."""
import dataclasses

import pytest
import torch

from milestones.families.gan import fashion as fx
from milestones.gan import features as ft
from milestones.gan.dcgan import Discriminator, Generator
from milestones.registry import catalog, select
from milestones.runs import Run

TINY = dict(steps=12, eval_every=6, eval_samples=60, final_samples=80, checkpoint_every=4, snapshots=2,
            batch_size=8, width=4)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def small_classifier(shared_data, cache_dir, monkeypatch):
    """The experiments' classifier trained on 1 000 images for one epoch, cached for the module."""
    data = shared_data("fashion-mnist").parent
    monkeypatch.setenv("MILESTONES_DATA", str(data))
    monkeypatch.setenv("MILESTONES_CACHE", str(cache_dir))
    real_train = ft.train_classifier
    monkeypatch.setattr(ft, "train_classifier",
                        lambda data_dir=None, **kw: real_train(data_dir, **(kw | {"epochs": 1, "limit": 1000})))
    monkeypatch.setattr(fx, "REAL_SUBSET", 500)
    monkeypatch.setattr(fx, "TEST_IMAGES", 1000)
    return data


def test_the_players_map_noise_to_28x28_images_and_images_to_one_value():
    G, D = Generator(64, 8), Discriminator(8)
    images = G(torch.randn(5, 64))
    assert images.shape == (5, 1, 28, 28) and images.abs().max() <= 1
    assert D(images).shape == (5,)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in Discriminator(8).modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in Generator(64, 8, batchnorm=False).modules())


def test_the_three_recipes():
    names = [e.name for e in select("gan/fashion")]
    assert names == ["gan/fashion-dcgan", "gan/fashion-wgan-gp", "gan/fashion-conopt"]
    gp, conopt = catalog()["gan/fashion-wgan-gp"].config, catalog()["gan/fashion-conopt"].config
    assert (gp.penalty_weight, gp.n_critic, gp.beta1, gp.beta2) == (10.0, 5, 0.0, 0.9)
    assert (conopt.gamma, conopt.optimizer, conopt.batchnorm) == (10.0, "rmsprop", False)


@pytest.mark.parametrize("name", ["gan/fashion-dcgan", "gan/fashion-conopt"])
def test_a_tiny_run_is_measured_in_feature_space_and_resumes_to_the_same_result(small_classifier, tmp_path,
                                                                                  stopped_at, name):
    exp = catalog()[name]
    cfg = dataclasses.replace(exp.config, **TINY)
    clean = Run.create(tmp_path / "clean", exp, cfg, progress=False)
    expected = exp.train(cfg, clean)
    assert [r["step"] for r in clean.metrics()] == [6, 12]
    assert expected["fd"] > expected["fd_real"] >= 0  # an untrained generator is far from the data
    assert 0 <= expected["precision"] <= 1 and 0 <= expected["coverage"] <= 1
    assert expected["classifier_accuracy"] > 0.3  # chance is 0.1; 1 000 images, one epoch
    assert [s for s, _ in fx.read_grids(clean.dir)] == [6, 12]
    assert {p.name for p in (clean.dir / "plots").glob("*.png")} == {"samples.png", "samples_over_training.png"}

    stopped = Run.create(tmp_path / "stopped", exp, cfg, progress=False)
    stopped_at(fx, 7, exp, cfg, stopped)
    assert exp.train(cfg, Run(stopped.dir, exp, cfg, progress=False)) == expected
    assert [s for s, _ in fx.read_grids(stopped.dir)] == [6, 12]
