"""The GAN step schemes against updates written out by hand with separate autograd calls."""
import copy

import pytest
import torch

from milestones.gan import losses
from milestones.gan.steps import alternating_step, mlp, simultaneous_step

pytestmark = pytest.mark.usefixtures("float64")  # conftest: float64 by default, restored after


def players(seed=0):
    torch.manual_seed(seed)
    G, D = mlp(16, 2), mlp(2, 1)
    return G, D, torch.randn(8, 2), torch.randn(8, 16)


def test_mlp_is_four_hidden_relu_layers_of_sixteen():
    net = mlp(16, 2)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 16), (16, 16), (16, 16), (16, 16), (16, 2)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in net) == 4


@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_a_simultaneous_step_uses_both_gradients_at_the_same_point(loss):
    G, D, x, z = players()
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    lr = 0.05
    simultaneous_step(G, D, x, z, torch.optim.SGD(D.parameters(), lr), torch.optim.SGD(G.parameters(), lr), loss)
    d_fn, g_fn = ((losses.discriminator_loss, losses.generator_loss_nonsaturating) if loss == "gan"
                  else (losses.critic_loss_wasserstein, losses.generator_loss_wasserstein))
    fake = G0(z)
    gd = torch.autograd.grad(d_fn(D0(x), D0(fake)), list(D0.parameters()))
    gg = torch.autograd.grad(g_fn(D0(fake)), list(G0.parameters()))
    for p, p0, g in zip(list(D.parameters()) + list(G.parameters()),
                        list(D0.parameters()) + list(G0.parameters()), gd + gg):
        assert torch.allclose(p, p0 - lr * g, atol=1e-12)


def test_an_alternating_step_moves_g_against_the_updated_d():
    G, D, x, z = players(1)
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    lr = 0.05
    alternating_step(G, D, x, z, torch.optim.SGD(D.parameters(), lr), torch.optim.SGD(G.parameters(), lr))
    fake = G0(z)
    gd = torch.autograd.grad(losses.discriminator_loss(D0(x), D0(fake.detach())), list(D0.parameters()))
    with torch.no_grad():
        for p0, g in zip(D0.parameters(), gd):
            p0 -= lr * g
    for p, p0 in zip(D.parameters(), D0.parameters()):
        assert torch.allclose(p, p0, atol=1e-12)
    gg = torch.autograd.grad(losses.generator_loss_nonsaturating(D0(G0(z))), list(G0.parameters()))
    for p, p0, g in zip(G.parameters(), G0.parameters(), gg):
        assert torch.allclose(p, p0 - lr * g, atol=1e-12)


def test_consensus_changes_the_step_and_reports_half_norm_v():
    G, D, x, z = players(2)
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    plain = simultaneous_step(G, D, x, z, torch.optim.SGD(D.parameters(), 0.05),
                              torch.optim.SGD(G.parameters(), 0.05), gamma=0.0)
    conopt = simultaneous_step(G2, D2, x, z, torch.optim.SGD(D2.parameters(), 0.05),
                               torch.optim.SGD(G2.parameters(), 0.05), gamma=10.0)
    assert plain["half_norm_v"] == pytest.approx(conopt["half_norm_v"], rel=1e-12)  # the same point
    assert plain["half_norm_v"] > 0
    assert any(not torch.allclose(a, b) for a, b in zip(G.parameters(), G2.parameters()))
    with pytest.raises(ValueError, match="loss must be one of gan, wgan"):
        simultaneous_step(G, D, x, z, torch.optim.SGD(D.parameters(), 0.05),
                          torch.optim.SGD(G.parameters(), 0.05), loss="hinge")


def test_wgan_critic_schedule_plain_and_official():
    from milestones.gan.steps import critic_steps
    assert [critic_steps(g) for g in (0, 24, 25, 500)] == [5, 5, 5, 5]
    assert [critic_steps(g, official=True) for g in (0, 24, 25, 499, 500, 501, 1000)] == [100, 100, 5, 5, 100, 5, 100]
    assert critic_steps(7, n_critic=3) == 3
    with pytest.raises(ValueError):
        critic_steps(-1)


def test_a_critic_step_adds_its_penalty_and_clips_its_weights():
    from milestones.gan.steps import discriminator_step
    G, D, x, z = players(3)
    D0 = copy.deepcopy(D)
    lr, lam = 0.05, 10.0
    alpha = torch.rand(8)
    penalty = lambda real, fake: lam * losses.gradient_penalty(D, real, fake, alpha=alpha)  # noqa: E731
    discriminator_step(G, D, x, z, torch.optim.SGD(D.parameters(), lr), "wgan", penalty, clip=0.02)
    fake = G(z).detach()
    total = (losses.critic_loss_wasserstein(D0(x), D0(fake))
             + lam * losses.gradient_penalty(D0, x, fake, alpha=alpha))
    grads = torch.autograd.grad(total, list(D0.parameters()))
    for p, p0, g in zip(D.parameters(), D0.parameters(), grads):
        assert torch.allclose(p, (p0 - lr * g).clamp(-0.02, 0.02), atol=1e-12)


def test_a_generator_step_leaves_the_discriminator_alone():
    from milestones.gan.steps import generator_step
    G, D, x, z = players(4)
    D0 = copy.deepcopy(D)
    generator_step(G, D, z, torch.optim.SGD(G.parameters(), 0.05), "wgan")
    assert all(p.grad is None and p.requires_grad for p in D.parameters())
    assert all(torch.equal(p, p0) for p, p0 in zip(D.parameters(), D0.parameters()))


def test_the_weight_average_follows_its_recursion():
    from milestones.gan.steps import ema_update_
    G, _, _, _ = players(5)
    avg = copy.deepcopy(G)
    start = [p.clone() for p in avg.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    ema_update_(avg, G, 0.9)
    ema_update_(avg, G, 0.9)
    # two steps towards a fixed target w + 1: a = 0.81 a0 + 0.19 (w + 1), with a0 = w
    for a, a0 in zip(avg.parameters(), start):
        assert torch.allclose(a, a0 + 0.19, atol=1e-12)


def test_a_simultaneous_step_adds_its_penalty_to_d_only():
    """R1 through simultaneous_step: D descends its loss plus γ/2·R1, G its own loss, both at the
    same point."""
    G, D, x, z = players(6)
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    lr, gamma_r1 = 0.05, 10.0
    simultaneous_step(G, D, x, z, torch.optim.SGD(D.parameters(), lr), torch.optim.SGD(G.parameters(), lr),
                      penalty=lambda real, fake: 0.5 * gamma_r1 * losses.r1_penalty(D, real))
    fake = G0(z)
    d_total = losses.discriminator_loss(D0(x), D0(fake)) + 0.5 * gamma_r1 * losses.r1_penalty(D0, x)
    gd = torch.autograd.grad(d_total, list(D0.parameters()))
    gg = torch.autograd.grad(losses.generator_loss_nonsaturating(D0(fake)), list(G0.parameters()))
    for p, p0, g in zip(list(D.parameters()) + list(G.parameters()),
                        list(D0.parameters()) + list(G0.parameters()), gd + gg):
        assert torch.allclose(p, p0 - lr * g, atol=1e-12)
