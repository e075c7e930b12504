import math

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


def test_stable_adam_equals_its_equations_in_float64():
    from milestones.optim import StableAdam
    torch.manual_seed(1)
    w = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    opt = StableAdam([w], lr=0.05, betas=(0.9, 0.99), eps=1e-6)
    ref = w.detach().clone()
    m, v = torch.zeros(6, dtype=torch.float64).tolist(), torch.zeros(6, dtype=torch.float64).tolist()
    scales = [1, 1, 1, 30, 1, 0.01, 100, 1]  # spikes (RMS > 1: clipped) and lulls (RMS < 1: Adam)
    clipped = 0
    for t, scale in enumerate(scales, 1):
        target = torch.randn(2, 3, dtype=torch.float64)
        opt.zero_grad()
        (scale * ((w - target) ** 2).sum()).backward()
        g = w.grad.flatten().tolist()
        opt.step()
        flat = ref.flatten().tolist()
        v_hat = []
        for i in range(6):  # the docstring's equations, one weight at a time
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.99 * v[i] + 0.01 * g[i] ** 2
            v_hat.append(v[i] / (1 - 0.99 ** t))
        rms = (sum(g[i] ** 2 / max(v_hat[i], 1e-12) for i in range(6)) / 6) ** 0.5
        clipped += rms > 1
        for i in range(6):
            flat[i] -= 0.05 / max(1.0, rms) * (m[i] / (1 - 0.9 ** t)) / (v_hat[i] ** 0.5 + 1e-6)
        ref = torch.tensor(flat, dtype=torch.float64).view(2, 3)
        assert (w.detach() - ref).abs().max() < 1e-12
    assert clipped >= 2  # the spikes were clipped, so the test covers both branches


def test_stable_adam_is_adam_without_spikes_and_tames_a_spike_that_moves_adam_by_3_lr():
    from milestones.optim import StableAdam
    grads = [torch.full((4,), 0.01)] * 5000 + [torch.full((4,), 5.0)]  # steady (v̂ settled), then a spike of 500×
    moves = {}
    for name, make in (("adam", torch.optim.Adam), ("stable", StableAdam)):
        w = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
        opt = make([w], lr=1e-3)
        for g in grads[:-1]:
            w.grad = g.double().clone()
            opt.step()
        moves[name, "steady"] = w.detach().clone()
        before = w.detach().clone()
        w.grad = grads[-1].double().clone()
        opt.step()
        moves[name, "spike"] = (w.detach() - before).abs().max().item()
    torch.testing.assert_close(moves["stable", "steady"], moves["adam", "steady"], rtol=1e-12, atol=0)
    assert moves["adam", "spike"] > 2.5e-3  # Adam: m̂ jumps by 0.1 g, √v̂ by √0.001 |g|: ≈ 3.1 lr
    assert moves["stable", "spike"] < 2e-4  # divided by RMS_t ≈ √(1 / (1 − β2)) ≈ 31: 0.1 lr


def test_stable_adam_resumes_from_a_checkpoint_exactly(tmp_path):
    from milestones.checkpoint import load_checkpoint, save_checkpoint
    from milestones.optim import StableAdam

    def run(steps, resume_at=None):
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.randn(3))
        opt = StableAdam([w], lr=0.1)
        for k in range(steps):
            if k == resume_at:
                save_checkpoint(tmp_path / "c.safetensors", {"w": w.detach(), "opt": opt.state_dict()}, {})
                saved, _ = load_checkpoint(tmp_path / "c.safetensors")
                w = torch.nn.Parameter(saved["w"].clone())
                opt = StableAdam([w], lr=0.1)
                opt.load_state_dict(saved["opt"])
            w.grad = torch.sin(w.detach() * (k + 1))
            opt.step()
        return w.detach()

    assert torch.equal(run(6), run(6, resume_at=3))
    for bad in ({"lr": 0.0}, {"betas": (0.9, 1.0)}, {"eps": 0.0}):
        with pytest.raises(ValueError):
            StableAdam([torch.nn.Parameter(torch.zeros(1))], **bad)


def test_clip_grad_norm_is_torchs_where_the_norm_is_finite_and_survives_its_overflow():
    from milestones.optim import clip_grad_norm
    gen = torch.Generator().manual_seed(0)

    def params(scale):
        ps = [torch.nn.Parameter(torch.zeros(shape)) for shape in ((7, 5), (5,), (3, 4, 2))]
        for p in ps:
            p.grad = torch.randn(p.shape, generator=gen) * scale
        return ps

    for scale, max_norm in ((0.01, 50.0), (30.0, 50.0), (1e3, 1.0), (1e3, math.inf)):
        ours, theirs = params(scale), None
        theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
        for p, q in zip(ours, theirs):
            q.grad = p.grad.clone()
        n1, n2 = clip_grad_norm(ours, max_norm), torch.nn.utils.clip_grad_norm_(theirs, max_norm)
        assert torch.equal(n1, n2) and all(torch.equal(p.grad, q.grad) for p, q in zip(ours, theirs))

    # finite float32 gradients whose squares overflow: torch's norm is inf, and clipping by it zeroes them
    big = params(3e19)
    want = [p.grad.double() for p in big]
    norm64 = torch.cat([w.flatten() for w in want]).norm().item()
    probe = [torch.nn.Parameter(p.detach().clone()) for p in big]
    for p, q in zip(big, probe):
        q.grad = p.grad.clone()
    assert not torch.isfinite(torch.nn.utils.clip_grad_norm_(probe, 50.0))
    assert all((q.grad == 0).all() for q in probe)  # clipped by 50 / inf: zeroed
    norm = clip_grad_norm(big, 50.0)
    assert norm.item() == pytest.approx(norm64, rel=1e-12) and norm64 > 1e20
    for p, w in zip(big, want):  # scaled to norm 50, direction kept
        assert torch.allclose(p.grad.double(), w * (50.0 / norm64), rtol=1e-6, atol=0)
    assert torch.cat([p.grad.double().flatten() for p in big]).norm().item() == pytest.approx(50.0, rel=1e-6)

    # a gradient that is itself not finite: the norm says so and nothing is scaled
    bad = params(1.0)
    bad[1].grad[2] = math.inf
    kept = [p.grad.clone() for p in bad]
    assert not torch.isfinite(clip_grad_norm(bad, 50.0))
    assert all(torch.equal(p.grad, k) for p, k in zip(bad, kept))
