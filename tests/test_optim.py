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
