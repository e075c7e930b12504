"""The policy-value network and its evaluator: shapes and heads as AlphaGo Zero's; the loss equals
its equation (1) written out in float64; a position's output does not depend on the batch it is
evaluated in; a small network fits a few positions' targets (the loss falls near its floor, the
entropy of the targets); the search runs on it."""
import numpy as np
import pytest
import torch

from milestones.games import Connect4, TicTacToe
from milestones.nn.policy_value import SIZES, NetworkEvaluator, PolicyValueNet, alphazero_loss
from milestones.search import Node, SearchConfig, search, visit_counts


def net_for(game, seed=0):
    torch.manual_seed(seed)
    blocks, filters, hidden = SIZES[game.name]
    return PolicyValueNet(game.planes_shape, game.num_moves, blocks, filters, hidden)


def test_shapes_and_ranges():
    for game in (TicTacToe(), Connect4()):
        net = net_for(game)
        logits, value = net(torch.randn(5, *game.planes_shape))
        assert logits.shape == (5, game.num_moves) and value.shape == (5,)
        assert value.abs().max() <= 1
    with pytest.raises(ValueError, match="sizes must be positive"):
        PolicyValueNet((2, 3, 3), 9, filters=0)


def test_the_loss_is_equation_one():
    g = torch.Generator().manual_seed(0)
    logits, value = torch.randn(4, 7, generator=g, dtype=torch.float64), torch.rand(4, generator=g,
                                                                                    dtype=torch.float64) * 2 - 1
    pi = torch.rand(4, 7, generator=g, dtype=torch.float64)
    pi = pi / pi.sum(1, keepdim=True)
    z = torch.tensor([1.0, -1.0, 0.0, 1.0], dtype=torch.float64)
    v_loss, p_loss, total = alphazero_loss(logits, value, pi, z)
    expected_v = sum((z[i] - value[i]) ** 2 for i in range(4)) / 4
    expected_p = 0.0
    for i in range(4):
        log_p = [logits[i, a] - torch.log(torch.exp(logits[i]).sum()) for a in range(7)]
        expected_p += -sum(pi[i, a] * log_p[a] for a in range(7)) / 4
    assert v_loss.item() == pytest.approx(expected_v.item(), abs=1e-12)
    assert p_loss.item() == pytest.approx(float(expected_p), abs=1e-12)
    assert total.item() == pytest.approx(v_loss.item() + p_loss.item(), abs=1e-12)


def test_outputs_do_not_depend_on_the_batch():
    game = Connect4()
    net = net_for(game)
    net.train()
    net(torch.randn(16, *game.planes_shape))  # BatchNorm's running statistics move away from their start
    evaluate = NetworkEvaluator(net)
    positions = [game.from_moves(m) for m in ([], [3], [3, 3, 4], [0, 1, 2, 3, 4])]
    priors, values = evaluate(positions)
    assert net.training  # the evaluator restores the mode it found
    for k, p in enumerate(positions):
        one_p, one_v = evaluate([p])
        np.testing.assert_allclose(one_p[0], priors[k], rtol=0, atol=1e-6)
        assert one_v[0] == pytest.approx(values[k], abs=1e-6)
    np.testing.assert_allclose(priors.sum(1), 1.0, atol=1e-9)


def test_a_small_network_fits_a_few_targets():
    game = TicTacToe()
    net = net_for(game)
    rng = np.random.default_rng(0)
    positions = [game.from_moves(list(rng.permutation(9)[:k])) for k in (0, 1, 2, 3, 4, 5)]
    planes = torch.from_numpy(np.stack([p.planes() for p in positions]))
    pi = torch.from_numpy(rng.dirichlet(np.ones(9), size=len(positions))).float()
    z = torch.tensor([0.0, 1.0, -1.0, 0.5, -0.5, 1.0])
    floor = float(-(pi * pi.log()).sum(1).mean())  # the policy loss's minimum: the targets' entropy
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        v_loss, p_loss, total = alphazero_loss(*net(planes), pi, z)
        opt.zero_grad()
        total.backward()
        opt.step()
    assert v_loss.item() < 0.01 and p_loss.item() < floor + 0.02


def test_search_runs_on_the_network():
    game = Connect4()
    root = Node(game.from_moves([3, 3]))
    search([root], NetworkEvaluator(net_for(game)), SearchConfig(simulations=30))
    assert visit_counts(root).sum() == 30


def test_compiled_and_bfloat16_inference_against_eager():
    """`compiled` runs the same float32 network (and follows its training); `bfloat16` a bfloat16
    copy taken when the evaluator is made, within bfloat16's rounding of float32."""
    game = Connect4()
    net = net_for(game).eval()
    positions = [game.from_moves(m) for m in ([], [3], [3, 3, 4], [0, 1, 2, 3, 4], [6] * 5)]
    eager, compiled, bf16 = (NetworkEvaluator(net, inference=i) for i in ("eager", "compiled", "bfloat16"))
    priors, values = eager(positions)
    for size in (5, 1, 3):  # the batch is dynamic: every size runs the same compiled network
        p, v = compiled(positions[:size])
        np.testing.assert_allclose(p, priors[:size], rtol=0, atol=1e-5)
        np.testing.assert_allclose(v, values[:size], rtol=0, atol=1e-5)
    p, v = bf16(positions)
    np.testing.assert_allclose(p, priors, rtol=0, atol=0.02)
    np.testing.assert_allclose(v, values, rtol=0, atol=0.02)
    assert np.abs(p - priors).max() > 0  # it is bfloat16
    with torch.no_grad():
        for w in net.parameters():
            w.mul_(-1.0)
    np.testing.assert_allclose(compiled(positions)[1], eager(positions)[1], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(bf16(positions)[1], v)  # the copy did not follow
    with pytest.raises(ValueError, match="inference must be one of eager, compiled, bfloat16, got 'fp8'"):
        NetworkEvaluator(net, inference="fp8")


@pytest.mark.parametrize("features, warns", [(["avx2"], True), (["avx2", "avx512", "avx512_bf16"], False),
                                             (["avx2", "avx512", "amx"], False)])
def test_bfloat16_inference_warns_where_the_cpu_has_no_bfloat16_products(monkeypatch, features, warns):
    """An AVX2-only CPU emulates bfloat16 (the search 6.6× slower than compiled float32 on an EPYC): the
    bfloat16 evaluator says so and names the faster choice; a CPU with AVX-512 BF16 or AMX is quiet."""
    import warnings

    from milestones import machine
    monkeypatch.setattr(machine, "cpu_features", lambda: features)
    net = net_for(Connect4()).eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        NetworkEvaluator(net, inference="bfloat16")
        NetworkEvaluator(net, inference="compiled")
    messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert len(messages) == int(warns)
    if warns:
        assert "inference bfloat16" in messages[0] and "no bfloat16 dot products" in messages[0]
        assert "avx2" in messages[0] and "float32 is the faster choice" in messages[0]


def test_the_machine_record_names_the_cpu_features_torch_detects():
    import torch

    from milestones.machine import cpu_features, has_bfloat16_products, machine_info
    features = cpu_features()
    assert machine_info()["cpu_features"] == features
    assert set(features) <= {"avx2", "avx512", "vnni", "avx512_bf16", "amx"}
    assert ("avx512_bf16" in features) == torch.cpu._is_avx512_bf16_supported()
    assert has_bfloat16_products() == (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
