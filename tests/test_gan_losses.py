"""GAN losses, penalties and consensus optimization against hand-computed values and finite
differences in float64."""
import math

import pytest
import torch

from milestones.gan import losses
from milestones.gan.consensus import consensus_gradients, consensus_step

pytestmark = pytest.mark.usefixtures("float64")  # conftest: float64 by default, restored after


def sigmoid(t):
    return 1 / (1 + math.exp(-t))


REAL, FAKE = [2.0, -1.0], [0.5, -3.0]


def test_discriminator_and_generator_losses_equal_their_formulas():
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d = -sum(math.log(sigmoid(r)) for r in REAL) / 2 - sum(math.log(1 - sigmoid(f)) for f in FAKE) / 2
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(d, rel=1e-12)
    mm = sum(math.log(1 - sigmoid(f)) for f in FAKE) / 2
    assert losses.generator_loss_minimax(fake).item() == pytest.approx(mm, rel=1e-12)
    ns = -sum(math.log(sigmoid(f)) for f in FAKE) / 2
    assert losses.generator_loss_nonsaturating(fake).item() == pytest.approx(ns, rel=1e-12)
    assert losses.critic_loss_wasserstein(real, fake).item() == pytest.approx((0.5 - 3) / 2 - (2 - 1) / 2)
    assert losses.generator_loss_wasserstein(fake).item() == pytest.approx(-(0.5 - 3) / 2)
    huge = torch.tensor([1e4, -1e4])  # finite where log σ would underflow
    assert torch.isfinite(losses.discriminator_loss(huge, huge)) and torch.isfinite(
        losses.generator_loss_nonsaturating(huge))


def test_the_nonsaturating_loss_keeps_its_gradient_where_the_minimax_one_vanishes():
    fake = torch.tensor([-10.0], requires_grad=True)  # D confidently rejects the fake
    (g_mm,) = torch.autograd.grad(losses.generator_loss_minimax(fake), fake)
    (g_ns,) = torch.autograd.grad(losses.generator_loss_nonsaturating(fake), fake)
    assert abs(g_mm.item()) == pytest.approx(sigmoid(-10.0)) and abs(g_mm.item()) < 1e-4
    assert abs(g_ns.item()) == pytest.approx(1 - sigmoid(-10.0))


def test_weight_clipping_clamps_every_parameter():
    m = torch.nn.Linear(3, 2)
    with torch.no_grad():
        m.weight.mul_(100)
    losses.clip_weights_(m, 0.01)
    assert all(p.abs().max() <= 0.01 for p in m.parameters())
    with pytest.raises(ValueError, match="clip value"):
        losses.clip_weights_(m, 0.0)


class Quadratic(torch.nn.Module):
    """f(x) = Σ_i c_i x_i², so ∇f(x) = 2 c ⊙ x and the penalty has a closed form."""

    def __init__(self, c):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return (self.c * x.pow(2)).sum(1)


def test_gradient_penalty_equals_its_formula_with_one_alpha_per_example():
    critic = Quadratic([1.0, -2.0])
    real = torch.tensor([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    fake = torch.tensor([[0.0, 1.0], [1.5, 1.0], [-1.0, 2.0]])
    alpha = torch.tensor([0.25, 0.5, 0.9])
    gp = losses.gradient_penalty(critic, real, fake, alpha)
    terms = []
    for k in range(3):
        x_hat = alpha[k] * real[k] + (1 - alpha[k]) * fake[k]
        grad = 2 * torch.tensor([1.0, -2.0]) * x_hat
        terms.append((grad.norm() - 1) ** 2)
    assert gp.item() == pytest.approx(sum(terms).item() / 3, rel=1e-12)
    # changing one example's α changes only that example's term
    alpha2 = alpha.clone()
    alpha2[1] = 0.1
    x_hat = alpha2[1] * real[1] + (1 - alpha2[1]) * fake[1]
    term1 = ((2 * torch.tensor([1.0, -2.0]) * x_hat).norm() - 1) ** 2
    expected = (terms[0] + term1 + terms[2]).item() / 3
    assert losses.gradient_penalty(critic, real, fake, alpha2).item() == pytest.approx(expected, rel=1e-12)
    # the penalty trains the critic: it has a gradient with respect to c
    (g,) = torch.autograd.grad(gp, critic.c)
    assert torch.all(g != 0)
    with pytest.raises(ValueError, match="one per example"):
        losses.gradient_penalty(critic, real, fake, torch.rand(3, 2))


def test_r1_penalty_equals_the_mean_squared_gradient_norm_on_real_data():
    d = Quadratic([0.5, 3.0])
    real = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    grads = 2 * torch.tensor([0.5, 3.0]) * real
    assert losses.r1_penalty(d, real).item() == pytest.approx(grads.pow(2).sum(1).mean().item(), rel=1e-12)


def tiny_players(seed=0):
    torch.manual_seed(seed)
    g = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    d = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    z, x = torch.randn(5, 2), torch.randn(5, 2)
    return g, d, z, x


def game_losses(g, d, z, x):
    fake = g(z)  # not detached in D's loss: ½‖v‖² depends on G's parameters through D's gradient too
    return losses.discriminator_loss(d(x), d(fake)), losses.generator_loss_nonsaturating(d(fake))


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def test_consensus_gradients_equal_v_plus_gamma_times_the_gradient_of_half_norm_v():
    g, d, z, x = tiny_players()
    pd, pg = list(d.parameters()), list(g.parameters())
    theta = flat(pd + pg).detach()
    gamma = 0.7

    def unflatten(vec):
        out, k = [], 0
        for p in pd + pg:
            out.append(vec[k:k + p.numel()].view_as(p))
            k += p.numel()
        return out

    def v_and_half_norm(vec):
        with torch.no_grad():
            for p, val in zip(pd + pg, unflatten(vec)):
                p.copy_(val)
        ld, lg = game_losses(g, d, z, x)
        v = torch.autograd.grad(ld, pd, retain_graph=True) + torch.autograd.grad(lg, pg)
        return flat(v).detach(), 0.5 * flat(v).pow(2).sum().item()

    v, _ = v_and_half_norm(theta)
    eps, fd = 1e-6, torch.zeros_like(theta)
    for i in range(theta.numel()):  # central differences of ½‖v‖²
        e = torch.zeros_like(theta)
        e[i] = eps
        fd[i] = (v_and_half_norm(theta + e)[1] - v_and_half_norm(theta - e)[1]) / (2 * eps)
    v_and_half_norm(theta)  # restore
    ld, lg = game_losses(g, d, z, x)
    g_d, g_g, half = consensus_gradients(ld, lg, pd, pg, gamma)
    assert half.item() == pytest.approx(0.5 * v.pow(2).sum().item(), rel=1e-10)
    assert torch.allclose(flat(g_d + g_g), v + gamma * fd, atol=1e-7)
    ld, lg = game_losses(g, d, z, x)  # γ = 0 is simultaneous gradient descent
    g_d0, g_g0, _ = consensus_gradients(ld, lg, pd, pg, 0.0)
    assert torch.allclose(flat(g_d0 + g_g0), v, atol=1e-12)


def test_consensus_step_fills_the_grads_and_damps_a_bilinear_game():
    # f(φ, θ) = φ θ: D ascends f (descends −f), G descends f. Simultaneous steps spiral outwards;
    # the consensus term pulls both to the equilibrium (0, 0).
    def run(gamma, steps=200, lr=0.1):
        phi = torch.nn.Parameter(torch.tensor(1.0))
        theta = torch.nn.Parameter(torch.tensor(1.0))
        opt = torch.optim.SGD([phi, theta], lr=lr)
        for _ in range(steps):
            f = phi * theta
            opt.zero_grad()
            consensus_step(-f, f, [phi], [theta], gamma)
            opt.step()
        return math.hypot(phi.item(), theta.item())

    assert run(0.0) > 2.0  # |1 + i lr| > 1: the distance grows by √(1 + lr²) per step
    assert run(0.0) == pytest.approx(math.sqrt(2) * (1 + 0.01) ** 100, rel=1e-9)
    assert run(1.0) < 1e-3
    with pytest.raises(ValueError, match="gamma"):
        consensus_step(torch.tensor(0.0, requires_grad=True), torch.tensor(0.0, requires_grad=True), [], [], -1.0)


def test_jacobian_eigenvalues_of_games_with_known_answers():
    from milestones.gan.consensus import game_jacobian, jacobian_eigenvalues
    phi = torch.nn.Parameter(torch.tensor([0.3]))
    theta = torch.nn.Parameter(torch.tensor([-0.2]))
    f = (phi * theta).sum()  # bilinear: v = (−θ, φ), J = [[0, −1], [1, 0]], eigenvalues ±i
    J = game_jacobian(-f, f, [phi], [theta])
    assert torch.allclose(J, torch.tensor([[0.0, -1.0], [1.0, 0.0]]))
    ev = jacobian_eigenvalues(-f, f, [phi], [theta])
    assert sorted(ev.imag.tolist()) == pytest.approx([-1.0, 1.0]) and ev.real.abs().max() < 1e-12
    # a x²/2 − b y²/2 + c x y with D on x minimising −(…) and G on y minimising (…):
    # v = (−a x − c y, −b y + c x), J = [[−a, −c], [c, −b]]
    a, b, c = 0.5, 2.0, 1.5
    x = torch.nn.Parameter(torch.tensor([1.0]))
    y = torch.nn.Parameter(torch.tensor([1.0]))
    h = (a * x ** 2 / 2 - b * y ** 2 / 2 + c * x * y).sum()
    ev = jacobian_eigenvalues(-h, h, [x], [y])
    expected = torch.linalg.eigvals(torch.tensor([[-a, -c], [c, -b]]))
    key = lambda z: (z.real, z.imag)
    assert sorted(ev.tolist(), key=key) == pytest.approx(sorted(expected.tolist(), key=key))
