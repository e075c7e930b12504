"""GraphedUpdate (the CUDA-graph training update) and the padding it relies on, checked on the CPU:
padded episodes give a causal model the same loss and gradients, construction leaves the model
untrained, and N graphed updates land on the parameters of N plain updates on the unpadded episodes.
The capture itself needs a GPU (benchmarks/ntm_speed.py --device cuda --modes graphed)."""
from __future__ import annotations

import pytest
import torch

from milestones.nn.graphs import GraphedUpdate
from milestones.nn.ntm import NTM
from milestones.tasks.algorithmic import bits_per_sequence, copy_episode


def small_ntm() -> NTM:
    torch.manual_seed(0)
    return NTM(5, 4, memory_slots=8, memory_width=6, controller_size=12).double()


def episodes(n: int, batch: int = 2) -> list:
    gen = torch.Generator().manual_seed(3)
    return [copy_episode(batch, gen, bits=4, max_length=5) for _ in range(n)]


def loss_of(model: NTM, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logits, _ = model(inputs)
    return bits_per_sequence(logits, targets, mask).mean()


def as_double(ep) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return ep.inputs.double(), ep.targets.double(), ep.mask.double()


def test_padding_keeps_loss_and_gradients() -> None:
    model = small_ntm()
    ep = episodes(1)[0]
    padded = ep.padded(ep.inputs.shape[0] + 7)
    assert padded.inputs.shape[0] == ep.inputs.shape[0] + 7
    assert padded.mask[ep.inputs.shape[0]:].abs().sum() == 0
    grads = []
    for e in (ep, padded):
        model.zero_grad()
        loss = loss_of(model, *as_double(e))
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    assert grads[0][0].item() > 1.0  # an untrained model pays about a bit per scored bit
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-12)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_padding_rejects_shortening() -> None:
    ep = episodes(1)[0]
    with pytest.raises(ValueError, match="steps must be an integer ≥ the episode's"):
        ep.padded(ep.inputs.shape[0] - 1)


def test_graphed_updates_match_plain_updates() -> None:
    eps = episodes(4)
    steps = max(e.inputs.shape[0] for e in eps) + 2

    plain = small_ntm()
    opt = torch.optim.Adam(plain.parameters(), lr=1e-2)
    plain_losses = []
    for e in eps:
        opt.zero_grad()
        loss = loss_of(plain, *as_double(e))
        loss.backward()
        opt.step()
        plain_losses.append(loss.item())

    graphed = small_ntm()
    before = [p.detach().clone() for p in graphed.parameters()]
    gopt = torch.optim.Adam(graphed.parameters(), lr=1e-2)
    update = GraphedUpdate(lambda *b: loss_of(graphed, *b), gopt, as_double(eps[0].padded(steps)))
    for p, q in zip(graphed.parameters(), before):  # the warm-up updates were undone
        assert torch.equal(p, q)
    assert all(torch.count_nonzero(v) == 0 for s in gopt.state.values() for v in s.values())
    losses = [update(*as_double(e.padded(steps))).item() for e in eps]

    assert losses == pytest.approx(plain_losses, abs=1e-12)
    assert plain_losses[0] != pytest.approx(plain_losses[-1], abs=1e-3)  # the updates did change the model
    for p, q in zip(graphed.parameters(), plain.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)


def test_graphed_update_rejects_bad_use() -> None:
    model = small_ntm()
    ep = as_double(episodes(1)[0])
    with pytest.raises(TypeError, match="supports Adam, AdamW, RAdam, got SGD"):
        GraphedUpdate(lambda *b: loss_of(model, *b), torch.optim.SGD(model.parameters(), lr=0.1), ep)
    update = GraphedUpdate(lambda *b: loss_of(model, *b), torch.optim.Adam(model.parameters()), ep)
    longer = as_double(episodes(1)[0].padded(ep[0].shape[0] + 1))
    with pytest.raises(ValueError, match=r"input 0 must have shape"):
        update(*longer)
    with pytest.raises(ValueError, match="expected 3 input tensors, got 1"):
        update(ep[0])


def test_graphed_radam_updates_with_a_clipped_norm_match_plain_updates() -> None:
    """PQN's update (RAdam, the gradient's global norm clipped between backward and step) as a
    GraphedUpdate lands on the parameters of the plain loop, the clipping active on every update."""
    torch.manual_seed(1)
    data = [(torch.randn(16, 5, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)) for _ in range(5)]

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).double()

    def loss_of(net, x, y):
        return (net(x) - y).pow(2).sum()

    plain = model()
    opt = torch.optim.RAdam(plain.parameters(), lr=1e-2)
    norms = []
    for x, y in data:
        opt.zero_grad()
        loss_of(plain, x, y).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(plain.parameters(), 0.5)))
        opt.step()
    assert min(norms) > 0.5  # every update was clipped

    graphed = model()
    update = GraphedUpdate(lambda x, y: loss_of(graphed, x, y), torch.optim.RAdam(graphed.parameters(), lr=1e-2),
                           data[0], max_grad_norm=0.5)
    for x, y in data:
        update(x, y)
    for p, q in zip(graphed.parameters(), plain.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)

