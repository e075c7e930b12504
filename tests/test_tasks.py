import math

import torch
from torch.nn import functional as F

from milestones.tasks.synthetic import adding_baseline, adding_batch, copy_baseline, copy_batch


def test_adding_batch_shapes_markers_and_target():
    g = torch.Generator().manual_seed(0)
    x, y = adding_batch(256, 50, g)
    assert x.shape == (50, 256, 2) and y.shape == (256,)
    markers = x[..., 1]
    assert torch.equal(markers.sum(0), torch.full((256,), 2.0))
    assert torch.equal(markers[:25].sum(0), torch.ones(256))  # one marker in each half
    assert torch.allclose((x[..., 0] * markers).sum(0), y)
    assert 0 <= x[..., 0].min() and x[..., 0].max() < 1


def test_adding_baseline_is_the_mse_of_predicting_one():
    g = torch.Generator().manual_seed(1)
    _, y = adding_batch(200_000, 10, g)
    assert adding_baseline() == 1 / 6
    assert abs(((y - 1) ** 2).mean().item() - 1 / 6) < 0.002
    assert abs(y.mean().item() - 1) < 0.005


def test_copy_batch_layout():
    g = torch.Generator().manual_seed(2)
    T = 30
    x, y = copy_batch(64, T, g)
    assert x.shape == (T + 20, 64, 10) and y.shape == (T + 20, 64)
    symbols = x.argmax(-1)
    letters = symbols[:10]
    assert letters.min() >= 1 and letters.max() <= 8
    assert torch.equal(symbols[10:T + 9], torch.zeros(T - 1, 64, dtype=torch.long))  # T − 1 blanks
    assert torch.equal(symbols[T + 9], torch.full((64,), 9))  # the delimiter
    assert torch.equal(symbols[T + 10:], torch.zeros(10, 64, dtype=torch.long))
    assert torch.equal(y[:T + 10], torch.zeros(T + 10, 64, dtype=torch.long))
    assert torch.equal(y[T + 10:], letters)


def test_copy_baseline_is_the_memoryless_optimum():
    T = 100
    g = torch.Generator().manual_seed(3)
    _, y = copy_batch(500, T, g)
    logits = torch.full((T + 20, 500, 10), -1e9)
    logits[: T + 10, :, 0] = 0  # blank, with certainty, until the recall starts
    logits[T + 10:, :, 1:9] = 0  # then uniform over the 8 letters
    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    assert math.isclose(ce, 10 * math.log(8) / (T + 20), rel_tol=1e-6)
    assert math.isclose(copy_baseline(T), ce, rel_tol=1e-6)


def test_generators_are_reproducible_from_their_seed_and_differ_between_seeds():
    """The same seed gives the same batch, another seed another one: inputs and targets alike (a
    generator reseeded inside, or a part drawn from a fixed stream, would repeat across seeds)."""
    for make in (adding_batch, copy_batch):
        a, b, c = (make(4, 10, torch.Generator().manual_seed(seed)) for seed in (5, 5, 6))
        assert all(torch.equal(u, v) for u, v in zip(a, b)), make.__name__
        assert not any(torch.equal(u, w) for u, w in zip(a, c)), make.__name__
