"""The lecture's LSTM and GRU against independent references: torch.nn, and a literal float64
implementation of the lecture's equations written here, and gradcheck."""
import pytest
import torch
from torch import nn

from milestones import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from milestones.nn.gru_bptt import LectureGRURecurrence
from milestones.nn.rnn import from_torch_state_dict, to_torch_state_dict

TOL = 1e-10
D = torch.float64


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def grads(module, x, out_fn):
    module.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    loss = out_fn(module, x)
    loss.backward()
    return [p.grad.clone() for p in module.parameters()] + [x.grad.clone()]


@pytest.mark.parametrize("backend", ["loop", "fused"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_equals_torch_lstm(backend, batch_first, bias):
    torch.manual_seed(0)
    ours = LSTM(5, 7, num_layers=3, bias=bias, batch_first=batch_first, backend=backend).to(D)
    ref = nn.LSTM(5, 7, num_layers=3, bias=bias, batch_first=batch_first).to(D)
    ref.load_state_dict(to_torch_state_dict(ours))
    x = torch.randn(4, 9, 5, dtype=D)
    state = (torch.randn(3, 4 if batch_first else 9, 7, dtype=D), torch.randn(3, 4 if batch_first else 9, 7, dtype=D))

    def loss(m, x):
        y, (h, c) = m(x, state)
        return (y.sin().sum() + h.cos().sum() + (c * c).sum())

    y, (h, c) = ours(x, state)
    y2, (h2, c2) = ref(x, state)
    assert y.shape == y2.shape and h.shape == (3, state[0].shape[1], 7)
    assert max_diff((y, h, c), (y2, h2, c2)) < TOL
    # gradients w.r.t. the input and every weight (mapped back through the same conversion)
    ours.zero_grad(), ref.zero_grad()
    xo, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    loss(ours, xo).backward()
    loss(ref, xr).backward()
    assert (xo.grad - xr.grad).abs().max() < TOL
    # our gate order is f | i | C~ | o, torch's i | f | g | o; the bias gradient equals torch's b_ih's
    torch_order = lambda g: torch.cat([g.chunk(4)[j] for j in (1, 0, 2, 3)])
    for k, cell in enumerate(ours.cells):
        assert (torch_order(cell.weight_ih.grad) - ref.get_parameter(f"weight_ih_l{k}").grad).abs().max() < TOL
        assert (torch_order(cell.weight_hh.grad) - ref.get_parameter(f"weight_hh_l{k}").grad).abs().max() < TOL
        if bias:
            assert (torch_order(cell.bias.grad) - ref.get_parameter(f"bias_ih_l{k}").grad).abs().max() < TOL


def test_lstm_from_torch_round_trip():
    torch.manual_seed(1)
    ref = nn.LSTM(3, 6, num_layers=2).to(D)
    ours = LSTM(3, 6, num_layers=2, backend="loop").to(D)
    from_torch_state_dict(ours, ref.state_dict())
    x = torch.randn(8, 2, 3, dtype=D)
    assert (ours(x)[0] - ref(x)[0]).abs().max() < TOL
    back = nn.LSTM(3, 6, num_layers=2).to(D)
    back.load_state_dict(to_torch_state_dict(ours))
    assert (back(x)[0] - ref(x)[0]).abs().max() < TOL


def test_forget_bias_initialisation():
    cell = LSTMCell(3, 5)
    assert torch.equal(cell.bias[:5], torch.ones(5))  # b_f = 1 (Jozefowicz et al. 2015)
    assert cell.bias[5:].abs().max() <= 1 / 5 ** 0.5
    off = LSTMCell(3, 5, forget_bias=None)
    assert not torch.equal(off.bias[:5], torch.ones(5))
    assert torch.equal(LSTM(3, 5, num_layers=2).cells[1].bias[:5], torch.ones(5))


def lecture_gru_literal(x, h, W_z, W_r, W, b_z, b_r, b):
    """The lecture's four equations, literally, with [h, x] concatenation. x (T, B, I), h (B, H)."""
    outs = []
    for x_t in x:
        hx = torch.cat([h, x_t], 1)
        z = torch.sigmoid(hx @ W_z.T + b_z)
        r = torch.sigmoid(hx @ W_r.T + b_r)
        h_tilde = torch.tanh(torch.cat([r * h, x_t], 1) @ W.T + b)
        h = (1 - z) * h + z * h_tilde
        outs.append(h)
    return torch.stack(outs), h


@pytest.mark.parametrize("backend", ["loop", "fused"])
def test_lecture_gru_equals_literal_equations(backend):
    torch.manual_seed(2)
    I, H = 4, 6
    gru = GRU(I, H, num_layers=2, backend=backend).to(D)
    x = torch.randn(10, 3, I, dtype=D)
    h0 = torch.randn(2, 3, H, dtype=D)
    y, h_n = gru(x, h0)
    layer_in, finals = x, []
    for k, cell in enumerate(gru.cells):
        Wx, Wh, b = cell.weight_ih, cell.weight_hh, cell.bias
        # W_g·[h, x] with the h-columns first: W_g = [W_g^h | W_g^x]
        W_z, W_r, W = (torch.cat([Wh[j * H:(j + 1) * H], Wx[j * H:(j + 1) * H]], 1) for j in range(3))
        layer_in, h = lecture_gru_literal(layer_in, h0[k], W_z, W_r, W, *b.chunk(3))
        finals.append(h)
    assert (y - layer_in).abs().max() < TOL
    assert (h_n - torch.stack(finals)).abs().max() < TOL


def test_lecture_gru_is_not_torch_gru():
    """The reset-before form is a different function from torch.nn.GRU (rnn.md: no weight map)."""
    torch.manual_seed(3)
    ours = GRU(4, 6, reset_after=True).to(D)
    lecture = GRU(4, 6).to(D)
    lecture.load_state_dict({k: v for k, v in ours.state_dict().items() if "bias_hn" not in k})
    with torch.no_grad():
        ours.cells[0].bias_hn.zero_()
    x = torch.randn(20, 2, 4, dtype=D)
    assert (ours(x)[0] - lecture(x)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("backend", ["loop", "fused"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_reset_after_gru_equals_torch_gru(backend, batch_first):
    torch.manual_seed(4)
    ours = GRU(5, 7, num_layers=2, batch_first=batch_first, reset_after=True, backend=backend).to(D)
    ref = nn.GRU(5, 7, num_layers=2, batch_first=batch_first).to(D)
    ref.load_state_dict(to_torch_state_dict(ours))
    x = torch.randn(3, 8, 5, dtype=D)
    loss = lambda m, x: (lambda y, h: y.sin().sum() + h.cos().sum())(*m(x))
    assert max_diff(ours(x), ref(x)) < TOL
    xo, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    loss(ours, xo).backward()
    loss(ref, xr).backward()
    assert (xo.grad - xr.grad).abs().max() < TOL
    # and back: torch weights -> ours computes torch's function
    ref2 = nn.GRU(5, 7, num_layers=2, batch_first=batch_first).to(D)
    from_torch_state_dict(ours, ref2.state_dict())
    assert (ours(x)[0] - ref2(x)[0]).abs().max() < TOL


@pytest.mark.parametrize("backend", ["fused", "compiled"])
def test_lecture_gru_backends_equal_the_literal_loop_with_its_gradients(backend):
    """backend="fused" (the hand-written backward) and "compiled" (the GPU path: torch.compile, CUDA
    graphs there; on the CPU a plain compile) are the same function with the same gradients as the
    autograd loop; a second call (a new input) reuses what was built."""
    torch.manual_seed(5)
    loop = GRU(4, 6, num_layers=2, backend="loop").to(D)
    other = GRU(4, 6, num_layers=2, backend=backend).to(D)
    other.load_state_dict(loop.state_dict())
    x = torch.randn(12, 3, 4, dtype=D)
    f = lambda m, x: (lambda y, h: (y ** 3).sum() + h.sin().sum())(*m(x))
    assert max_diff(grads(loop, x, f), grads(other, x, f)) < TOL
    x2 = torch.randn(12, 3, 4, dtype=D)
    assert max_diff(loop(x2), other(x2)) < TOL


def test_only_the_gru_has_a_compiled_backend():
    with pytest.raises(ValueError, match="compiled"):
        LSTM(3, 4, backend="compiled")


def test_gradcheck_cells_and_recurrence():
    torch.manual_seed(6)
    x = torch.randn(3, 4, dtype=D, requires_grad=True)
    h = torch.randn(3, 5, dtype=D, requires_grad=True)
    c = torch.randn(3, 5, dtype=D, requires_grad=True)
    lstm = LSTMCell(4, 5).to(D)
    assert torch.autograd.gradcheck(lambda x, h, c: lstm(x, (h, c)), (x, h, c))
    for reset_after in (False, True):
        gru = GRUCell(4, 5, reset_after=reset_after).to(D)
        assert torch.autograd.gradcheck(gru, (x, h))
    xp = torch.randn(6, 2, 9, dtype=D, requires_grad=True)
    w = torch.randn(9, 3, dtype=D, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(LectureGRURecurrence.apply, (xp, h0, w))


def test_cells_agree_with_sequence_modules():
    torch.manual_seed(7)
    seq = LSTM(3, 4, backend="loop")
    x = torch.randn(5, 2, 3)
    y, _ = seq(x)
    h = c = torch.zeros(2, 4)
    for t in range(5):
        h, c = seq.cells[0](x[t], (h, c))
    assert torch.allclose(h, y[-1], atol=1e-6)


def test_bad_arguments_are_refused_with_names():
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="backend"):
        GRU(3, 4, backend="cudnn")
    with pytest.raises(ValueError, match=r"\(T, B, I\) with I=3"):
        LSTM(3, 4)(torch.zeros(5, 2, 7))
    with pytest.raises(ValueError, match="h_0"):
        GRU(3, 4)(torch.zeros(5, 2, 3), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="reset_after"):
        to_torch_state_dict(GRU(3, 4))


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_without_bias(reset_after):
    torch.manual_seed(8)
    loop = GRU(3, 4, num_layers=2, bias=False, reset_after=reset_after, backend="loop").to(D)
    fused = GRU(3, 4, num_layers=2, bias=False, reset_after=reset_after, backend="fused").to(D)
    fused.load_state_dict(loop.state_dict())
    assert not any("bias" in name for name, _ in loop.named_parameters())
    x = torch.randn(6, 2, 3, dtype=D)
    assert max_diff(loop(x), fused(x)) < TOL
    if reset_after:
        ref = nn.GRU(3, 4, num_layers=2, bias=False).to(D)
        ref.load_state_dict(to_torch_state_dict(loop))
        assert max_diff(loop(x), ref(x)) < TOL


@pytest.mark.parametrize("make", [lambda **kw: LSTM(3, 5, num_layers=3, **kw), lambda **kw: RNN(3, 5, num_layers=3, **kw),
                                  lambda **kw: GRU(3, 5, num_layers=3, **kw)])
@pytest.mark.parametrize("backend", ["loop", "fused"])
def test_dropout_acts_between_layers_in_training_only(make, backend):
    torch.manual_seed(9)
    plain, dropped = make(backend=backend), make(backend=backend, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(4, 2, 3)
    dropped.eval()
    assert torch.allclose(plain(x)[0], dropped(x)[0])  # eval: dropout is off
    dropped.train()
    assert not torch.allclose(plain(x)[0], dropped(x)[0])


# ---- the plain (Elman) RNN ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["loop", "fused"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_equals_torch_rnn(backend, batch_first, bias):
    """Forward values and gradients (input, h_0 and every weight) against torch.nn.RNN in float64."""
    torch.manual_seed(10)
    ours = RNN(5, 7, num_layers=3, bias=bias, batch_first=batch_first, backend=backend).to(D)
    ref = nn.RNN(5, 7, num_layers=3, bias=bias, batch_first=batch_first).to(D)
    ref.load_state_dict(to_torch_state_dict(ours))
    x = torch.randn(4, 9, 5, dtype=D)
    h0 = torch.randn(3, 4 if batch_first else 9, 7, dtype=D)

    def loss(m, x, h0):
        y, h = m(x, h0)
        return (y.sin().sum() + (h * h).sum())

    assert max_diff(ours(x, h0), ref(x, h0)) < TOL
    xo, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ho, hr = h0.clone().requires_grad_(True), h0.clone().requires_grad_(True)
    loss(ours, xo, ho).backward()
    loss(ref, xr, hr).backward()
    assert (xo.grad - xr.grad).abs().max() < TOL and (ho.grad - hr.grad).abs().max() < TOL
    for k, cell in enumerate(ours.cells):
        assert (cell.weight_ih.grad - ref.get_parameter(f"weight_ih_l{k}").grad).abs().max() < TOL
        assert (cell.weight_hh.grad - ref.get_parameter(f"weight_hh_l{k}").grad).abs().max() < TOL
        if bias:  # our one bias stands for torch's b_ih + b_hh: same gradient as each of them
            assert (cell.bias.grad - ref.get_parameter(f"bias_hh_l{k}").grad).abs().max() < TOL


def test_rnn_literal_equation_and_torch_round_trip():
    """h_t = tanh(W·[h_{t-1}, x_t] + b) written out here; torch.nn.RNN weights load back exactly."""
    torch.manual_seed(11)
    ref = nn.RNN(3, 4, num_layers=2).to(D)
    ours = RNN(3, 4, num_layers=2, backend="loop").to(D)
    from_torch_state_dict(ours, ref.state_dict())
    x = torch.randn(6, 2, 3, dtype=D)
    assert max_diff(ours(x), ref(x)) < TOL
    cell = ours.cells[0]
    W = torch.cat([cell.weight_hh, cell.weight_ih], 1)  # W·[h, x]
    h = torch.zeros(2, 4, dtype=D)
    for t in range(6):
        h = torch.tanh(torch.cat([h, x[t]], 1) @ W.T + cell.bias)
    assert (h - ours.cells[0].forward_sequence(x, torch.zeros(2, 4, dtype=D))[1]).abs().max() < TOL
    assert torch.autograd.gradcheck(cell, (x[0].clone().requires_grad_(True), h.clone().requires_grad_(True)))


def test_rnn_initialisation():
    torch.manual_seed(12)
    cell = RNNCell(3, 16)
    eye = torch.eye(16)
    assert torch.allclose(cell.weight_hh @ cell.weight_hh.T, eye, atol=1e-5)  # orthogonal
    assert torch.count_nonzero(cell.bias) == 0
    assert cell.weight_ih.abs().max() <= 0.25  # U(−1/√H, 1/√H)
    uniform = RNNCell(3, 16, recurrent_init="uniform")
    assert not torch.allclose(uniform.weight_hh @ uniform.weight_hh.T, eye, atol=1e-1)
    with pytest.raises(ValueError, match="recurrent_init"):
        RNN(3, 4, recurrent_init="identity")
