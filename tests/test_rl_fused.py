"""The hand-written updates against autograd: the same network, targets, loss and optimizer step as
`DQNLearner` with `nature_rmsprop` or `torch.optim.Adam`, in float64, over several updates and every
option, for the MinAtar and the CartPole (MLP) networks; bfloat16 products stay close; a checkpoint
of the optimizer resumes exactly; the NumPy acting path gives the module's Q-values."""
import copy

import numpy as np
import pytest
import torch

from milestones.rl.dqn import DQNLearner, nature_rmsprop
from milestones.rl.fused import FusedMinAtarLearner, FusedMLPLearner, im2col_index
from milestones.rl.networks import MinAtarQNetwork, MLPQNetwork, q_of_one


def batch(channels, actions, seed, size=32):
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(size, 10, 10, channels, generator=g) < 0.1
    s_next = torch.rand(size, 10, 10, channels, generator=g) < 0.1
    a = torch.randint(0, actions, (size,), generator=g)
    r = torch.randint(-1, 2, (size,), generator=g).double()
    discount = 0.99 * (torch.rand(size, generator=g) > 0.1).double()
    return s, a, r, discount, s_next


def pair(channels, actions, dtype=torch.float64, optimizer="rmsprop-dm", **options):
    torch.manual_seed(0)
    net = MinAtarQNetwork(channels, actions).to(dtype)
    return learners(net, FusedMinAtarLearner, optimizer, options)


def learners(net, kind, optimizer, options):
    """(autograd reference, fused) learners from copies of `net`, both with `optimizer` at lr 1e-3."""
    ref_online, ref_target = copy.deepcopy(net), copy.deepcopy(net)
    if optimizer == "adam":  # the plain per-tensor loop: the reference is torch's own Adam, written apart from ours
        opt = torch.optim.Adam(ref_online.parameters(), lr=1e-3, eps=1e-6, foreach=False)
    elif optimizer == "rmsprop-centered":  # torch's own, ε after the root (the MinAtar paper's optimizer)
        opt = torch.optim.RMSprop(ref_online.parameters(), lr=1e-3, alpha=0.95, eps=0.01, centered=True, foreach=False)
    else:
        opt = nature_rmsprop(ref_online.parameters(), lr=1e-3)
    ref = DQNLearner(ref_online, ref_target, opt, **options)
    fused = kind(copy.deepcopy(net), copy.deepcopy(net), optimizer=optimizer, lr=1e-3, adam_eps=1e-6, **options)
    return ref, fused


def mlp_batch(inputs, actions, seed, size=64):
    g = torch.Generator().manual_seed(seed)
    s, s_next = torch.randn(size, inputs, generator=g, dtype=torch.float64), torch.randn(size, inputs, generator=g,
                                                                                      dtype=torch.float64)
    a = torch.randint(0, actions, (size,), generator=g)
    r = torch.randn(size, generator=g, dtype=torch.float64)
    discount = 0.99 * (torch.rand(size, generator=g) > 0.1).double()
    return s, a, r, discount, s_next


def test_im2col_gathers_what_the_convolution_sees():
    torch.manual_seed(1)
    x = torch.rand(3, 10, 10, 4, dtype=torch.float64)
    w = torch.randn(16, 4, 3, 3, dtype=torch.float64)
    patches = x.reshape(3, -1)[:, im2col_index(4).reshape(-1)].view(3 * 64, 36)
    ours = (patches @ w.reshape(16, -1).t()).view(3, 8, 8, 16).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), w), rtol=0, atol=1e-12)


@pytest.mark.parametrize("options", [dict(), dict(loss="l2"), dict(reduction="sum"), dict(double=True),
                                     dict(optimizer="rmsprop-centered")])
@pytest.mark.parametrize("channels,actions", [(4, 3), (10, 6)])
def test_fused_updates_equal_autograd_and_deepminds_rmsprop(options, channels, actions):
    """DeepMind's RMSProp (ours, `nature_rmsprop`) and torch.optim.RMSprop(centered=True) (rmsprop-centered)."""
    options = {"reduction": "mean", **options}
    ref, fused = pair(channels, actions, **options)
    for step in range(6):
        b = batch(channels, actions, step)
        loss_ref, loss_fused = ref.update(*b), fused.update(*b)
        assert loss_fused == pytest.approx(loss_ref, rel=1e-12, abs=1e-12)
        if step == 2:
            ref.sync()
            fused.sync()
    for p_ref, p_fused in zip(ref.online.parameters(), fused.online.parameters()):
        torch.testing.assert_close(p_fused, p_ref, rtol=0, atol=1e-12)
    s = batch(channels, actions, 99)[0]
    torch.testing.assert_close(fused.q_values(s), ref.online(s), rtol=0, atol=1e-12)


@pytest.mark.parametrize("options", [dict(), dict(loss="l2"), dict(reduction="sum"), dict(double=True)])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop-dm", "rmsprop-centered"])
@pytest.mark.parametrize("hidden", [(120, 84), (16,)])
def test_fused_mlp_updates_equal_autograd(options, optimizer, hidden):
    options = {"reduction": "mean", **options}
    torch.manual_seed(0)
    ref, fused = learners(MLPQNetwork(4, 3, hidden).double(), FusedMLPLearner, optimizer, options)
    for step in range(8):
        b = mlp_batch(4, 3, step)
        loss_ref, loss_fused = ref.update(*b), fused.update(*b)
        assert loss_fused == pytest.approx(loss_ref, rel=1e-12, abs=1e-12)
        if step == 3:
            ref.sync()
            fused.sync()
    for p_ref, p_fused in zip(ref.online.parameters(), fused.online.parameters()):
        torch.testing.assert_close(p_fused, p_ref, rtol=0, atol=1e-12)
    assert max((p - p0).abs().max() for p, p0 in zip(fused.online.parameters(),
                                                     MLPQNetwork(4, 3, hidden).double().parameters())) > 0
    s = mlp_batch(4, 3, 99)[0]
    torch.testing.assert_close(fused.q_values(s), ref.online(s), rtol=0, atol=1e-12)


def test_fused_minatar_adam_equals_autograd():
    ref, fused = pair(4, 3, optimizer="adam", reduction="mean")
    for step in range(5):
        b = batch(4, 3, step)
        assert fused.update(*b) == pytest.approx(ref.update(*b), rel=1e-12, abs=1e-12)
    for p_ref, p_fused in zip(ref.online.parameters(), fused.online.parameters()):
        torch.testing.assert_close(p_fused, p_ref, rtol=0, atol=1e-12)


def test_numpy_acting_follows_the_module_and_its_updates():
    torch.manual_seed(3)
    net = MLPQNetwork(4, 2)
    fused = FusedMLPLearner(net, copy.deepcopy(net), lr=1e-2)
    q = q_of_one(net)  # built after the learner moved the parameters into its buffer
    obs = torch.randn(20, 4)
    for step in range(3):
        expected = net(obs).detach().numpy()
        got = [q(o.numpy()) for o in obs]
        assert isinstance(got[0], np.ndarray)
        torch.testing.assert_close(torch.as_tensor(np.stack(got)), torch.as_tensor(expected),
                                   rtol=1e-6, atol=1e-6)
        fused.update(*[t.float() if t.is_floating_point() else t for t in mlp_batch(4, 2, step)])
    other = MLPQNetwork(4, 2)
    net.load_state_dict(other.state_dict())  # in place: the NumPy path sees it
    torch.testing.assert_close(torch.as_tensor(q(obs[0].numpy())), other(obs[:1])[0].detach(), rtol=1e-6, atol=1e-6)
    normed = MinAtarQNetwork(4, 3, layer_norm=True)  # no NumPy path: the module itself
    s = torch.rand(10, 10, 4) < 0.1
    torch.testing.assert_close(q_of_one(normed)(s.numpy()), normed(s.unsqueeze(0))[0], rtol=0, atol=0)


def test_numpy_acting_on_minatar_follows_the_module_and_its_updates():
    """The convolution as patches times W₁, flattened channel-major: the module's Q-values, before and
    after fused updates (which write the parameters' memory the NumPy path reads)."""
    torch.manual_seed(4)
    net = MinAtarQNetwork(7, 4)
    fused = FusedMinAtarLearner(net, copy.deepcopy(net), lr=1e-2)
    q = q_of_one(net)
    states = torch.rand(20, 10, 10, 7) < 0.2
    for step in range(3):
        got = np.stack([q(x.numpy()) for x in states])
        assert isinstance(got, np.ndarray) and got.shape == (20, 4)
        torch.testing.assert_close(torch.as_tensor(got), net(states).detach(), rtol=1e-5, atol=1e-6)
        fused.update(*[t.float() if t.is_floating_point() else t for t in batch(7, 4, step)])


def test_bfloat16_products_stay_close_to_float32():
    ref, fused = pair(10, 6, dtype=torch.float32, reduction="mean")
    fused.matmul_dtype = torch.bfloat16
    for step in range(20):
        b = [t.float() if t.dtype == torch.float64 else t for t in batch(10, 6, step)]
        ref.update(*b)
        fused.update(*b)
    s = batch(10, 6, 99)[0]
    q_ref, q_fused = ref.online(s), fused.q_values(s)
    assert (q_fused - q_ref).abs().max() < 0.02 * q_ref.abs().max()


def test_bfloat16_weights_follow_the_target_network():
    """The target's bfloat16 matrices are converted once per change of its parameters: a sync or a
    checkpoint loaded into the module (resume) is seen at the next update."""
    _, fused = pair(4, 3, dtype=torch.float32)
    fused.matmul_dtype = torch.bfloat16
    s = batch(4, 3, 5)[0]
    before = fused._forward(fused._weights(fused.target), s)[0]
    assert fused._weights(fused.target)[2] is fused._weights(fused.target)[2]  # converted once
    other = MinAtarQNetwork(4, 3)
    fused.target.load_state_dict(other.state_dict())
    after = fused._forward(fused._weights(fused.target), s)[0]
    assert not torch.equal(before, after)
    torch.testing.assert_close(after, other(s).detach(), rtol=0.02, atol=0.02)


def test_its_optimizer_state_resumes_the_same_updates():
    _, fused = pair(4, 3)
    for step in range(3):
        fused.update(*batch(4, 3, step))
    saved_net, saved_opt = copy.deepcopy(fused.online.state_dict()), fused.state_dict()
    fused.update(*batch(4, 3, 10))
    after = [p.clone() for p in fused.online.parameters()]
    _, other = pair(4, 3)
    other.online.load_state_dict(saved_net)
    other.load_state_dict(saved_opt)
    other.target.load_state_dict(fused.target.state_dict())
    other.update(*batch(4, 3, 10))
    for p, q in zip(other.online.parameters(), after):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict({"n": torch.zeros(3), "g": torch.zeros(3)})
    with pytest.raises(ValueError, match="another --optimizer"):
        other.load_state_dict({"m": torch.zeros(3), "v": torch.zeros(3), "t": 1})


def test_adam_state_resumes_the_same_updates():
    torch.manual_seed(0)
    net = MLPQNetwork(4, 2).double()
    _, fused = learners(net, FusedMLPLearner, "adam", {})
    for step in range(3):
        fused.update(*mlp_batch(4, 2, step))
    saved_net, saved_opt = copy.deepcopy(fused.online.state_dict()), fused.state_dict()
    fused.update(*mlp_batch(4, 2, 10))
    _, other = learners(net, FusedMLPLearner, "adam", {})
    other.online.load_state_dict(saved_net)
    other.load_state_dict(saved_opt)
    other.target.load_state_dict(fused.target.state_dict())
    other.update(*mlp_batch(4, 2, 10))
    for p, q in zip(other.online.parameters(), fused.online.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_bfloat16_products_warn_where_the_cpu_emulates_them(monkeypatch):
    """`--matmul bfloat16` on an AVX2-only CPU: a warning that float32 is faster there; none with AVX-512 BF16."""
    import warnings

    from milestones import machine
    net = MinAtarQNetwork(4, 6)
    for features, expected in ((["avx2"], 1), (["avx2", "avx512", "avx512_bf16"], 0)):
        monkeypatch.setattr(machine, "cpu_features", lambda f=features: f)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            FusedMinAtarLearner(copy.deepcopy(net), copy.deepcopy(net), matmul_dtype=torch.bfloat16)
            FusedMinAtarLearner(copy.deepcopy(net), copy.deepcopy(net))
        found = [str(w.message) for w in caught if w.category is RuntimeWarning]
        assert len(found) == expected and all(m.startswith("matmul bfloat16: this CPU") for m in found)
