"""The hand-written MinAtar update against autograd: the same network, targets, loss and DeepMind
RMSProp step as `DQNLearner` with `nature_rmsprop`, in float64, over several updates and every
option; bfloat16 products stay close; a checkpoint of its optimizer resumes exactly."""
import copy

import pytest
import torch

from milestones.rl.dqn import DQNLearner, nature_rmsprop
from milestones.rl.fused import FusedMinAtarLearner, im2col_index
from milestones.rl.networks import MinAtarQNetwork


def batch(channels, actions, seed, size=32):
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(size, 10, 10, channels, generator=g) < 0.1
    s_next = torch.rand(size, 10, 10, channels, generator=g) < 0.1
    a = torch.randint(0, actions, (size,), generator=g)
    r = torch.randint(-1, 2, (size,), generator=g).double()
    discount = 0.99 * (torch.rand(size, generator=g) > 0.1).double()
    return s, a, r, discount, s_next


def pair(channels, actions, dtype=torch.float64, **options):
    torch.manual_seed(0)
    net = MinAtarQNetwork(channels, actions).to(dtype)
    ref_online, ref_target = copy.deepcopy(net), copy.deepcopy(net)
    ref = DQNLearner(ref_online, ref_target, nature_rmsprop(ref_online.parameters(), lr=1e-3), **options)
    fused = FusedMinAtarLearner(copy.deepcopy(net), copy.deepcopy(net), lr=1e-3, **options)
    return ref, fused


def test_im2col_gathers_what_the_convolution_sees():
    torch.manual_seed(1)
    x = torch.rand(3, 10, 10, 4, dtype=torch.float64)
    w = torch.randn(16, 4, 3, 3, dtype=torch.float64)
    patches = x.reshape(3, -1)[:, im2col_index(4).reshape(-1)].view(3 * 64, 36)
    ours = (patches @ w.reshape(16, -1).t()).view(3, 8, 8, 16).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), w), rtol=0, atol=1e-12)


@pytest.mark.parametrize("options", [dict(), dict(loss="l2"), dict(reduction="sum"), dict(double=True)])
@pytest.mark.parametrize("channels,actions", [(4, 3), (10, 6)])
def test_fused_updates_equal_autograd_and_deepminds_rmsprop(options, channels, actions):
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
