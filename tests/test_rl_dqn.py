"""The DQN update against its equations written out in float64: DeepMind's RMSProp, the clipped
error (Huber) summed over the batch, targets with and without Double DQN, the ε schedule, and the
networks' shapes and sizes."""
import pytest
import torch

from milestones.rl.dqn import DQNLearner, epsilon, nature_rmsprop, td_loss, td_targets
from milestones.rl.networks import MinAtarQNetwork, MLPQNetwork, NatureQNetwork

D = torch.float64


def test_the_optimizer_is_deepminds_rmsprop():
    """NeuralQLearner.lua: g = .95 g + .05 dw; g2 = .95 g2 + .05 dw²; w += lr dw / sqrt(g2 − g² + .01),
    with dw the descent direction (minus our gradient)."""
    torch.manual_seed(0)
    w = torch.randn(6, dtype=D, requires_grad=True)
    opt = nature_rmsprop([w], lr=2.5e-4)
    ref, g, g2 = w.detach().clone(), torch.zeros(6, dtype=D), torch.zeros(6, dtype=D)
    for _ in range(5):
        x = torch.randn(6, dtype=D)
        opt.zero_grad()
        (torch.tanh(w * x) ** 2).sum().backward()
        dw = -w.grad.clone()
        opt.step()
        for i in range(6):
            g[i] = 0.95 * g[i] + 0.05 * dw[i]
            g2[i] = 0.95 * g2[i] + 0.05 * dw[i] ** 2
            ref[i] += 2.5e-4 * dw[i] / (g2[i] - g[i] ** 2 + 0.01) ** 0.5
    assert (w.detach() - ref).abs().max() < 1e-15


def test_the_clipped_error_is_summed_over_the_batch():
    torch.manual_seed(1)
    q = torch.randn(5, 3, dtype=D, requires_grad=True)
    a = torch.tensor([0, 2, 1, 1, 0])
    y = torch.tensor([3.0, -0.2, 0.4, -4.0, 0.1], dtype=D)
    td_loss(q, a, y).backward()
    expected = torch.zeros(5, 3, dtype=D)
    for b in range(5):
        delta = y[b] - q[b, a[b]].detach()
        expected[b, a[b]] = -max(-1.0, min(1.0, float(delta)))  # ∂L/∂Q = −clip(δ, −1, 1)
    assert torch.equal(q.grad, expected)
    q.grad = None
    td_loss(q, a, y, "l2", "mean").backward()  # the lecture's (y − Q)², averaged as the ports do
    for b in range(5):
        assert q.grad[b, a[b]] == pytest.approx(-2 * float(y[b] - q.detach()[b, a[b]]) / 5)


def test_targets_with_and_without_double_dqn():
    r, disc = torch.tensor([1.0, 0.0, -1.0]), torch.tensor([0.99, 0.0, 0.9801])
    target = torch.tensor([[1.0, 5.0], [2.0, 3.0], [-1.0, 0.5]])
    online = torch.tensor([[9.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert td_targets(r, disc, target).tolist() == pytest.approx([1 + 0.99 * 5, 0.0, -1 + 0.9801 * 0.5])
    assert td_targets(r, disc, target, online).tolist() == pytest.approx([1 + 0.99 * 1, 0.0, -1 - 0.9801])


def test_one_learner_step_is_the_written_out_update():
    """Q = W s + c on a float64 batch, plain SGD with lr 1: W' = W − Σ_b −clip(δ_b) e_{a_b} s_bᵀ."""
    torch.manual_seed(2)
    online, target = torch.nn.Linear(4, 3).to(D), torch.nn.Linear(4, 3).to(D)
    learner = DQNLearner(online, target, torch.optim.SGD(online.parameters(), lr=1.0))
    W, c = online.weight.detach().clone(), online.bias.detach().clone()
    s, s2 = torch.randn(8, 4, dtype=D), torch.randn(8, 4, dtype=D)
    a, r = torch.randint(0, 3, (8,)), torch.randn(8, dtype=D)
    disc = torch.full((8,), 0.99, dtype=D)
    disc[3] = 0.0
    learner.update(s, a, r, disc, s2)
    gW, gc = torch.zeros_like(W), torch.zeros_like(c)
    for b in range(8):
        y = r[b] + disc[b] * (W @ s2[b] + c).max()  # the target network equals θ after the sync
        delta = y - (W @ s[b] + c)[a[b]]
        clip = max(-1.0, min(1.0, float(delta)))
        gW[a[b]] -= clip * s[b]
        gc[a[b]] -= clip
    assert torch.allclose(online.weight, W - gW, atol=1e-14) and torch.allclose(online.bias, c - gc, atol=1e-14)
    assert torch.equal(target.weight, W)  # θ⁻ moves only when synced
    learner.sync()
    assert torch.equal(target.weight, online.weight)


def test_epsilon_follows_the_nature_schedule():
    assert epsilon(0) == epsilon(49_999) == 1.0
    assert epsilon(50_000 + 500_000) == pytest.approx(0.55)
    assert epsilon(1_050_000) == pytest.approx(0.1) and epsilon(5_000_000) == 0.1


def test_the_networks_shapes_and_sizes():
    nature = NatureQNetwork(6)
    q, h = nature(torch.zeros(2, 4, 84, 84, dtype=torch.uint8), hidden=True)
    assert q.shape == (2, 6) and h.shape == (2, 512)
    assert sum(p.numel() for p in nature.parameters()) == 1_687_206  # 8 224 + 32 832 + 36 928 + 1 606 144 + 3 078
    minatar = MinAtarQNetwork(10, 6)
    q, h = minatar(torch.zeros(3, 10, 10, 10, dtype=torch.bool), hidden=True)
    assert q.shape == (3, 6) and h.shape == (3, 128)
    assert sum(p.numel() for p in minatar.parameters()) == 1_456 + 131_200 + 774
    assert MLPQNetwork(4, 2)(torch.zeros(5, 4)).shape == (5, 2)
    normed = MinAtarQNetwork(4, 3, layer_norm=True)
    assert any(isinstance(m, torch.nn.LayerNorm) for m in normed.modules())
