"""NTM addressing, reading and writing against literal implementations of the paper's equations
(float64 loops written here), and the batched machine against sequences run one at a time."""
import math

import pytest
import torch

from milestones.nn.ntm import (
    NTM,
    address,
    circular_shift,
    content_weights,
    cosine_similarity,
    interpolate,
    read,
    sharpen,
    write,
)

D = torch.float64
TOL = 1e-12


def rand(*shape, seed=0):
    return torch.randn(*shape, dtype=D, generator=torch.Generator().manual_seed(seed))


def test_cosine_similarity_and_content_weights_equal_equation_5():
    k, memory, beta = rand(2, 3, 4, seed=1), rand(2, 5, 4, seed=2), rand(2, 3, seed=3).abs()
    K, w = cosine_similarity(k, memory, eps=1e-8), content_weights(k, beta, memory, eps=1e-8)
    for b in range(2):
        for h in range(3):
            sims = []
            for i in range(5):
                u, v = k[b, h].tolist(), memory[b, i].tolist()
                dot = sum(x * y for x, y in zip(u, v))
                sims.append(dot / (math.sqrt(sum(x * x for x in u)) * math.sqrt(sum(y * y for y in v)) + 1e-8))
                assert abs(K[b, h, i].item() - sims[-1]) < TOL
            z = [math.exp(beta[b, h].item() * s) for s in sims]
            for i in range(5):
                assert abs(w[b, h, i].item() - z[i] / sum(z)) < TOL


def test_interpolation_equals_equation_7():
    w_c, w_prev, g = rand(2, 3, 5, seed=4).softmax(-1), rand(2, 3, 5, seed=5).softmax(-1), rand(2, 3, seed=6).sigmoid()
    out = interpolate(w_c, w_prev, g)
    for b in range(2):
        for h in range(3):
            for i in range(5):
                want = g[b, h] * w_c[b, h, i] + (1 - g[b, h]) * w_prev[b, h, i]
                assert abs(out[b, h, i] - want) < TOL


@pytest.mark.parametrize("S", [1, 2])
def test_circular_shift_equals_equation_8_with_wrap_around(S):
    N = 6
    w, s = rand(2, 3, N, seed=7).softmax(-1), rand(2, 3, 2 * S + 1, seed=8).softmax(-1)
    out = circular_shift(w, s)
    for b in range(2):
        for h in range(3):
            for i in range(N):
                want = 0.0
                for j in range(N):
                    d = (i - j) % N  # the shift that carries slot j to slot i
                    d = d - N if d > N // 2 else d  # as a signed shift in −S … S
                    if -S <= d <= S:
                        want += w[b, h, j].item() * s[b, h, S + d].item()
                assert abs(out[b, h, i].item() - want) < TOL


def test_shift_moves_a_one_hot_weighting_and_wraps_around():
    w = torch.zeros(1, 1, 5, dtype=D)
    w[0, 0, 4] = 1.0  # the last slot
    plus_one = torch.tensor([[[0.0, 0.0, 1.0]]], dtype=D)  # all weight on shift +1
    minus_one = torch.tensor([[[1.0, 0.0, 0.0]]], dtype=D)
    assert circular_shift(w, plus_one)[0, 0].tolist() == [1.0, 0, 0, 0, 0]  # 4 + 1 wraps to 0
    assert circular_shift(w, minus_one)[0, 0].tolist() == [0, 0, 0, 1.0, 0]


def test_sharpening_equals_equation_9_and_keeps_one_hot_weightings():
    w, gamma = rand(2, 3, 5, seed=9).softmax(-1), 1 + rand(2, 3, seed=10).abs()
    out = sharpen(w, gamma, eps=0.0)
    for b in range(2):
        for h in range(3):
            powered = [w[b, h, i].item() ** gamma[b, h].item() for i in range(5)]
            for i in range(5):
                assert abs(out[b, h, i].item() - powered[i] / sum(powered)) < TOL
    one_hot = torch.zeros(1, 1, 5, dtype=D)
    one_hot[0, 0, 2] = 1.0
    sharpened = sharpen(one_hot, torch.tensor([[3.0]], dtype=D))
    assert torch.allclose(sharpened, one_hot, atol=1e-30)
    assert torch.isfinite(sharpen(torch.full((1, 1, 5), 1e-300, dtype=D), torch.tensor([[50.0]], dtype=D))).all()


def test_read_and_erase_then_add_write_on_a_hand_computed_memory():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]], dtype=D)  # N = 3, M = 2
    w = torch.tensor([[[0.5, 0.5, 0.0]]], dtype=D)
    assert read(memory, w).tolist() == [[[2.0, 3.0]]]
    e = torch.tensor([[[1.0, 0.5]]], dtype=D)
    a = torch.tensor([[[10.0, 20.0]]], dtype=D)
    # slot 0: [1·(1 − 0.5·1), 2·(1 − 0.5·0.5)] + 0.5·[10, 20] = [0.5, 1.5] + [5, 10]
    # slot 2: untouched (w = 0)
    assert write(memory, w, e, a).tolist() == [[[5.5, 11.5], [6.5, 13.0], [5.0, 6.0]]]
    # two write heads: erase with both, then add both
    w2 = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.0, 0.0]]], dtype=D)
    e2 = torch.tensor([[[0.5, 0.0], [1.0, 1.0]]], dtype=D)
    a2 = torch.tensor([[[1.0, 1.0], [2.0, 2.0]]], dtype=D)
    # slot 0: [1·0.5·0.5, 2·1·0.5] + [1 + 1, 1 + 1] = [2.25, 3.0]
    assert write(memory, w2, e2, a2)[0, 0].tolist() == [2.25, 3.0]


def test_cosine_similarity_gradient_is_finite_for_a_zero_key():
    k = torch.zeros(1, 1, 4, dtype=D, requires_grad=True)
    memory = torch.full((1, 3, 4), 1e-6, dtype=D, requires_grad=True)
    content_weights(k, torch.ones(1, 1, dtype=D), memory).sum().backward()
    assert torch.isfinite(k.grad).all() and torch.isfinite(memory.grad).all()


def test_address_gradcheck():
    memory = rand(1, 5, 3, seed=11).requires_grad_()
    w_prev = rand(1, 2, 5, seed=12).softmax(-1)
    k = rand(1, 2, 3, seed=13).requires_grad_()
    beta, g, gamma = rand(1, 2, seed=14).abs(), rand(1, 2, seed=15).sigmoid(), 1 + rand(1, 2, seed=16).abs()
    s = rand(1, 2, 3, seed=17).softmax(-1)
    assert torch.autograd.gradcheck(lambda m, k: address(m, w_prev, k, beta, g, s, gamma), (memory, k))


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_a_mixed_length_batch_equals_each_sequence_run_alone(controller):
    torch.manual_seed(0)
    ntm = NTM(5, 4, memory_slots=16, memory_width=6, read_heads=2, write_heads=1,
              controller=controller, controller_size=12).to(D)
    lengths = [3, 7, 5]
    x = torch.zeros(7, 3, 5, dtype=D)
    for b, L in enumerate(lengths):
        x[:L, b] = rand(L, 5, seed=20 + b)  # padded with zeros after each sequence's end
    batched, _ = ntm(x)
    for b, L in enumerate(lengths):
        alone, _ = ntm(x[:L, b:b + 1])
        assert (batched[:L, b] - alone[:, 0]).abs().max() < TOL


def test_heads_and_trace_shapes_and_weightings_are_distributions():
    ntm = NTM(3, 2, memory_slots=10, memory_width=4, read_heads=2, write_heads=3)
    logits, state, weights = ntm(torch.randn(6, 5, 3), trace=True)
    assert logits.shape == (6, 5, 2) and weights.shape == (6, 5, 5, 10)
    assert torch.allclose(weights.sum(-1), torch.ones(6, 5, 5), atol=1e-5)
    assert state.memory.shape == (5, 10, 4) and state.reads.shape == (5, 2, 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"memory_slots": 0}, "memory_slots"), ({"controller": "gru"}, "controller"),
    ({"memory_init": "zeros"}, "memory_init"), ({"shift_range": 8, "memory_slots": 16}, "shift_range"),
    ({"clip": 0}, "clip"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NTM(3, 2, **kwargs)


def test_memory_initialisations():
    g = torch.Generator().manual_seed(0)
    const = NTM(3, 2, memory_slots=8, memory_width=4).initial_state(2)
    assert torch.equal(const.memory, torch.full((2, 8, 4), 1e-6))
    learned = NTM(3, 2, memory_slots=8, memory_width=4, memory_init="learned")
    assert "initial_memory" in dict(learned.named_parameters())
    rnd = NTM(3, 2, memory_slots=8, memory_width=4, memory_init="random")
    a, b = rnd.initial_state(2, g).memory, rnd.initial_state(2, g).memory
    assert not torch.equal(a, b) and abs(a.std().item() - 0.1) < 0.05


def test_initial_weightings_start_on_the_first_slot_or_at_random():
    first = NTM(3, 2, memory_slots=16, memory_width=4, read_heads=2, write_heads=1)
    w0 = first.initial_state(2).weights  # (B, H, N)
    assert w0.shape == (2, 3, 16)
    assert torch.all(w0[..., 0] > 0.99) and torch.allclose(w0.sum(-1), torch.ones(2, 3))
    torch.manual_seed(0)
    spread = NTM(3, 2, memory_slots=16, memory_width=4, initial_weighting="random").initial_state(1).weights
    assert spread.max() < 0.5 and not torch.allclose(spread[0, 0], spread[0, 1])
    with pytest.raises(ValueError, match="initial_weighting"):
        NTM(3, 2, initial_weighting="middle")


def _flat_state(state):
    tensors = [state.memory, state.reads, state.weights]
    for h, c in state.controller or ():
        tensors += [h, c]
    return tensors


def _state_from(flat, like):
    ctrl = None if like.controller is None else [tuple(flat[3 + 2 * i: 5 + 2 * i]) for i in range(len(like.controller))]
    return type(like)(flat[0], flat[1], flat[2], ctrl)


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_clip_state_grad_clamps_the_gradient_into_every_steps_state(controller):
    """Backpropagation through time written out step by step: the gradient each step sends back into
    the state it was given is clamped to ±c before it goes further back; the machine's must equal it."""
    c = 1e-3
    torch.manual_seed(1)
    ntm = NTM(4, 3, memory_slots=8, memory_width=5, controller=controller, controller_size=7,
              clip_state_grad=c).to(D)
    params = list(ntm.parameters())
    x, target = rand(6, 2, 4, seed=5), rand(6, 2, 3, seed=6)

    def step_loss(logits, t):
        return ((logits - target[t]) ** 2).sum() * 50  # large enough for the clamp to bite

    logits, _ = ntm(x)
    loss = sum(step_loss(logits[t], t) for t in range(6))
    clipped = torch.autograd.grad(loss, params, allow_unused=True)

    # the reference: the states forward without a graph, then backward one step at a time
    with torch.no_grad():
        states = [ntm.initial_state(2)]
        for t in range(6):
            states.append(ntm.step(x[t], states[-1])[1])
    grads = [torch.zeros_like(p) for p in params]
    g_next = None
    clamped = 0
    for t in reversed(range(6)):
        inputs = [s.detach().requires_grad_() for s in _flat_state(states[t])]
        y, out = ntm.step(x[t], _state_from(inputs, states[t]))
        total = step_loss(y, t)
        if g_next is not None:
            total = total + sum((o * g).sum() for o, g in zip(_flat_state(out), g_next))
        got = torch.autograd.grad(total, params + inputs, allow_unused=True)
        for i, g in enumerate(got[:len(params)]):
            if g is not None:
                grads[i] += g
        raw = [torch.zeros_like(s) if g is None else g for s, g in zip(inputs, got[len(params):])]
        g_next = [g.clamp(-c, c) for g in raw]
        clamped += sum(int((g.abs() > c).sum()) for g in raw)
    # the initial state is made from parameters (r_0, w_0); the gradient into it is not clamped
    learned = [(s, g) for s, g in zip(_flat_state(ntm.initial_state(2)), raw) if s.requires_grad]
    got = torch.autograd.grad([s for s, _ in learned], params, grad_outputs=[g for _, g in learned],
                              allow_unused=True)
    for i, g in enumerate(got):
        if g is not None:
            grads[i] += g
    assert clamped > 0  # the test exercises the clamp
    for p, a, b in zip(params, clipped, grads):
        a = torch.zeros_like(p) if a is None else a
        assert (a - b).abs().max() < 1e-10


def test_clip_state_grad_changes_no_forward_value_and_is_off_at_zero():
    torch.manual_seed(2)
    plain = NTM(4, 3, memory_slots=8, memory_width=5).to(D)
    clipped = NTM(4, 3, memory_slots=8, memory_width=5, clip_state_grad=0.5).to(D)
    clipped.load_state_dict(plain.state_dict())
    x = rand(5, 2, 4, seed=3)
    assert torch.equal(plain(x)[0], clipped(x)[0])
    with pytest.raises(ValueError, match="clip_state_grad"):
        NTM(4, 3, clip_state_grad=-1)
