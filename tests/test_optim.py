import pytest
import torch

from milestones.optim import GravesRMSprop


def test_graves_rmsprop_equals_equations_38_to_41():
    torch.manual_seed(0)
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    opt = GravesRMSprop([w], lr=0.01, alpha=0.95, momentum=0.9, eps=1e-4)
    ref_w, n, g, delta = w.detach().clone(), torch.zeros(5, dtype=torch.float64), 0, 0
    n, g, delta = n.clone(), n.clone(), n.clone()
    for step in range(6):
        target = torch.randn(5, dtype=torch.float64)
        opt.zero_grad()
        ((w - target) ** 3).abs().sum().backward()
        grad = w.grad.clone()
        opt.step()
        for i in range(5):  # one weight at a time, as the paper writes it
            n[i] = 0.95 * n[i] + 0.05 * grad[i] ** 2
            g[i] = 0.95 * g[i] + 0.05 * grad[i]
            delta[i] = 0.9 * delta[i] - 0.01 * grad[i] / (n[i] - g[i] ** 2 + 1e-4) ** 0.5
            ref_w[i] = ref_w[i] + delta[i]
        assert (w.detach() - ref_w).abs().max() < 1e-14


def test_graves_rmsprop_state_survives_a_state_dict_round_trip():
    w = torch.nn.Parameter(torch.ones(3))
    opt = GravesRMSprop([w])
    w.grad = torch.ones(3)
    opt.step()
    opt2 = GravesRMSprop([w])
    opt2.load_state_dict(opt.state_dict())
    assert torch.equal(opt2.state[w]["delta"], opt.state[w]["delta"])


def test_spike_clip_scales_a_spike_to_its_factor_times_the_running_norm():
    from milestones.optim import SpikeClip
    p = torch.nn.Parameter(torch.zeros(4))
    clip = SpikeClip(5.0, decay=0.9)
    p.grad = torch.tensor([0.3, 0.4, 0.0, 0.0])  # norm 0.5: the first step sets the average
    assert clip([p], 0.5) is False and clip.average == 0.5
    p.grad = torch.tensor([0.6, 0.8, 0.0, 0.0])  # norm 1 < 5 × 0.5: untouched
    assert clip([p], 1.0) is False
    assert torch.equal(p.grad, torch.tensor([0.6, 0.8, 0.0, 0.0]))
    assert clip.average == pytest.approx(0.9 * 0.5 + 0.1 * 1.0)
    avg = clip.average
    p.grad = torch.tensor([30.0, 40.0, 0.0, 0.0])  # norm 50: a spike, scaled to 5 × avg
    assert clip([p], 50.0) is True
    assert p.grad.norm().item() == pytest.approx(5 * avg)
    assert clip.average == pytest.approx(0.9 * avg + 0.1 * 5 * avg)  # the spike counts as clipped
    again = SpikeClip(5.0, decay=0.9)
    again.load_state_dict(clip.state_dict())
    assert again.average == clip.average
    for bad in ({"factor": 1.0}, {"factor": 5.0, "decay": 1.0}):
        with pytest.raises(ValueError):
            SpikeClip(**bad)
