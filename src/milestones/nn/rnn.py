"""LSTM and GRU exactly as the lecture writes them, and the plain (Elman) RNN they improve on, with
torch.nn's calling conventions.

Plain RNN (Elman 1990; the lecture's "regular RNN"):
    h_t = tanh(W·[h_{t-1}, x_t] + b)

LSTM (Hochreiter & Schmidhuber 1997, no peepholes; [h, x] is concatenation):
    f_t = σ(W_f·[h_{t-1}, x_t] + b_f)          forget gate
    i_t = σ(W_i·[h_{t-1}, x_t] + b_i)          input gate
    C~_t = tanh(W_C·[h_{t-1}, x_t] + b_C)      candidate cell
    C_t = f_t ⊙ C_{t-1} + i_t ⊙ C~_t
    o_t = σ(W_o·[h_{t-1}, x_t] + b_o)          output gate
    h_t = o_t ⊙ tanh(C_t)

GRU (Cho et al. 2014, as the lecture and colah's blog write it):
    z_t = σ(W_z·[h_{t-1}, x_t] + b_z)          update gate
    r_t = σ(W_r·[h_{t-1}, x_t] + b_r)          reset gate
    h~_t = tanh(W·[r_t ⊙ h_{t-1}, x_t] + b)    reset *before* the recurrent matmul
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

`reset_after=True` selects cuDNN's variant, h~_t = tanh(W_x x_t + b + r_t ⊙ (W_h h_t-1 + b_hn)),
which is a different function; with z flipped it is exactly `torch.nn.GRU`.

Storage. Each W_g·[h, x] is split into W_g^x x + W_g^h h, and the gates are stacked so one GEMM
computes all of them: `weight_ih` (G·H, I), `weight_hh` (G·H, H), `bias` (G·H), with the gate
blocks in the lecture's order, LSTM: f | i | C~ | o, GRU: z | r | h~ (the plain RNN has one block).

Speed. The input projections of all T steps are one GEMM before the loop; the loop runs over
`unbind(0)` views (indexing a (T, B, ·) tensor per step costs twice as much in backward). The LSTM
and the reset-after GRU are the same functions as torch.nn.LSTM / torch.nn.GRU, so by default they
run on torch's fused kernels (oneDNN on CPU, cuDNN on GPU) with our weights mapped onto them; so
does the plain RNN, the same function as torch.nn.RNN (tanh).

On a GPU the lecture GRU's loop is a few small kernels per step, and launching them costs more than
computing them; `backend="compiled"` (lecture GRU) hands the whole recurrence to `torch.compile`,
which fuses each step's element-wise work and, on CUDA, replays the launches as one CUDA graph
(mode "reduce-overhead"). On the CPU it is a plain compile of the same loop (tested there).

Shapes: T time, B batch, I input size, H hidden size, L layers, G gates (4 for LSTM, 3 for GRU,
1 for the plain RNN).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.nn.gru_bptt import LectureGRURecurrence

Backend = Literal["fused", "loop", "compiled"]

# Row blocks of torch.nn.LSTM (i | f | g | o) taken from ours (f | i | g | o), and back: a swap.
_LSTM_TORCH_ORDER = (1, 0, 2, 3)


def _check_sizes(input_size: int, hidden_size: int) -> None:
    if not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}")
    if not isinstance(hidden_size, int) or hidden_size < 1:
        raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")


def _permute_blocks(w: Tensor, order: tuple[int, ...]) -> Tensor:
    """Reorder the gate blocks along dim 0 of a stacked (G·H, ...) tensor."""
    blocks = w.chunk(len(order), 0)
    return torch.cat([blocks[k] for k in order], 0)


class _Cell(nn.Module):
    """Parameters shared by every cell: stacked gate weights and one bias."""

    gates: int

    def __init__(self, input_size: int, hidden_size: int, bias: bool) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        G, H = self.gates, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size))  # (G·H, I)
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))  # (G·H, H)
        self.bias = nn.Parameter(torch.empty(G * H)) if bias else None  # (G·H,)

    def reset_parameters(self) -> None:
        """torch.nn's initialisation: U(−1/√H, 1/√H) for every weight and bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def input_projection(self, x: Tensor) -> Tensor:
        """W^x x + b for all steps at once: (T, B, I) -> (T, B, G·H), one GEMM."""
        return F.linear(x, self.weight_ih, self.bias)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias is not None}"


class LSTMCell(_Cell):
    """One step of the lecture's LSTM.

    Args:
        input_size: I, features of x_t.
        hidden_size: H, features of h_t and C_t.
        bias: learn the gate biases b_f, b_i, b_C, b_o.
        forget_bias: initial value of b_f (1.0 after Jozefowicz et al. 2015); None keeps torch's
            uniform initialisation.

    forward(x: (B, I), state: ((B, H), (B, H)) | None) -> (h', c'), each (B, H).
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 forget_bias: float | None = 1.0) -> None:
        super().__init__(input_size, hidden_size, bias)
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True (pass forget_bias=None)")
        self.forget_bias = forget_bias
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.forget_bias is not None:
            with torch.no_grad():
                self.bias[: self.hidden_size].fill_(self.forget_bias)  # b_f

    def step(self, xp: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step given the precomputed input projection xp = W^x x_t + b, (B, 4H)."""
        gates = torch.addmm(xp, h, self.weight_hh.t())  # (B, 4H) = W·[h, x] + b
        f, i, g, o = gates.chunk(4, 1)  # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # C_t = f ⊙ C + i ⊙ C~
        h = torch.sigmoid(o) * torch.tanh(c)  # h_t = o ⊙ tanh(C_t)
        return h, c

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        return self.step(self.input_projection(x), *state)

    def forward_sequence(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Run the loop over time: x (T, B, I) -> outputs (T, B, H), h_T (B, H), C_T (B, H)."""
        outputs = []
        for xp in self.input_projection(x).unbind(0):  # each (B, 4H)
            h, c = self.step(xp, h, c)
            outputs.append(h)
        return torch.stack(outputs), h, c

    def torch_weights(self) -> list[Tensor]:
        """This cell's weights as torch.nn.LSTM lays them out: [w_ih, w_hh(, b_ih, b_hh)]."""
        w = [_permute_blocks(self.weight_ih, _LSTM_TORCH_ORDER),
             _permute_blocks(self.weight_hh, _LSTM_TORCH_ORDER)]
        if self.bias is not None:
            b = _permute_blocks(self.bias, _LSTM_TORCH_ORDER)
            w += [b, torch.zeros_like(b)]  # b_hh is redundant: the sum b_ih + b_hh is the bias
        return w


class GRUCell(_Cell):
    """One step of the lecture's GRU (default) or of cuDNN's reset-after GRU.

    Args:
        input_size: I, features of x_t.
        hidden_size: H, features of h_t.
        bias: learn b_z, b_r, b (and b_hn with reset_after).
        reset_after: apply r after the recurrent matmul, r ⊙ (W_h h + b_hn), as torch.nn.GRU does.

    forward(x: (B, I), h: (B, H) | None) -> h', (B, H).
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 reset_after: bool = False) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.reset_after = reset_after
        # The reset-after form has a bias inside r ⊙ (W_h h + b_hn) that no outer bias can replace.
        self.bias_hn = nn.Parameter(torch.empty(hidden_size)) if (bias and reset_after) else None
        self.reset_parameters()

    def step(self, xp: Tensor, h: Tensor) -> Tensor:
        """One step given xp = W^x x_t + b, (B, 3H)."""
        H = self.hidden_size
        if self.reset_after:
            hp = F.linear(h, self.weight_hh)  # (B, 3H)
            if self.bias_hn is not None:
                hp = torch.cat([hp[:, : 2 * H], hp[:, 2 * H:] + self.bias_hn], 1)
            z, r = torch.sigmoid(xp[:, : 2 * H] + hp[:, : 2 * H]).chunk(2, 1)
            n = torch.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
        else:
            # z, r = σ(W_{z,r}·[h, x] + b_{z,r}); the recurrent part is one GEMM for both gates
            z, r = torch.sigmoid(torch.addmm(xp[:, : 2 * H], h, self.weight_hh[: 2 * H].t())).chunk(2, 1)
            # h~ = tanh(W·[r ⊙ h, x] + b): a second GEMM that has to wait for r
            n = torch.tanh(torch.addmm(xp[:, 2 * H:], r * h, self.weight_hh[2 * H:].t()))
        return torch.lerp(h, n, z)  # (1 − z) ⊙ h + z ⊙ h~

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        return self.step(self.input_projection(x), h)

    def forward_sequence(self, x: Tensor, h: Tensor, fused: bool = False,
                         compiled: bool = False) -> tuple[Tensor, Tensor]:
        """Run the loop over time: x (T, B, I) -> outputs (T, B, H), h_T (B, H).

        fused=True (lecture form only) runs the recurrence as one autograd Function with a
        hand-written backward pass (`gru_bptt.py`); compiled=True (lecture form only) runs
        `lecture_gru_recurrence` through torch.compile. Both compute the same function and gradients.
        """
        if compiled and not self.reset_after:
            y = compiled_recurrence(x.device.type)(self.input_projection(x), h, self.weight_hh)
            return y, y[-1]
        if fused and not self.reset_after:
            y = LectureGRURecurrence.apply(self.input_projection(x), h, self.weight_hh)
            return y, y[-1]
        outputs = []
        for xp in self.input_projection(x).unbind(0):  # each (B, 3H)
            h = self.step(xp, h)
            outputs.append(h)
        return torch.stack(outputs), h

    def torch_weights(self) -> list[Tensor]:
        """This reset-after cell's weights as torch.nn.GRU lays them out: [w_ih, w_hh(, b_ih, b_hh)].

        torch's update gate is z_torch = 1 − z = σ(−a), so the z rows and bias are negated; its
        gate order is r | z | n.
        """
        if not self.reset_after:
            raise ValueError("only the reset_after=True GRU is the same function as torch.nn.GRU")
        H = self.hidden_size
        flip = torch.ones(3 * H, 1, dtype=self.weight_ih.dtype, device=self.weight_ih.device)
        flip[:H] = -1.0

        def to_torch(w: Tensor) -> Tensor:
            w = w * (flip if w.dim() == 2 else flip[:, 0])
            return _permute_blocks(w, (1, 0, 2))  # z | r | n -> r | z | n

        w = [to_torch(self.weight_ih), to_torch(self.weight_hh)]
        if self.bias is not None:
            b_hh = torch.cat([torch.zeros_like(self.bias[: 2 * H]), self.bias_hn])
            w += [to_torch(self.bias), b_hh]  # b_hh's z and r parts are redundant with b_ih
        return w


def lecture_gru_recurrence(xp: Tensor, h: Tensor, weight_hh: Tensor) -> Tensor:
    """The lecture GRU's loop as one pure function, for torch.compile: xp (T, B, 3H) = W^x x + b of
    every step, h (B, H), weight_hh (3H, H) -> outputs (T, B, H). `GRUCell.step`'s equations."""
    H = h.shape[1]
    w_zr, w_n = weight_hh[: 2 * H].t(), weight_hh[2 * H:].t()
    outputs = []
    for x_t in xp.unbind(0):
        z, r = torch.sigmoid(torch.addmm(x_t[:, : 2 * H], h, w_zr)).chunk(2, 1)
        n = torch.tanh(torch.addmm(x_t[:, 2 * H:], r * h, w_n))
        h = torch.lerp(h, n, z)
        outputs.append(h)
    return torch.stack(outputs)


_COMPILED: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {}


def compiled_recurrence(device_type: str) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """`lecture_gru_recurrence` compiled once per device type (a new shape recompiles: keep T, B fixed);
    on CUDA with CUDA graphs ("reduce-overhead"), whose replay turns the loop's launches into one."""
    if device_type not in _COMPILED:
        mode = "reduce-overhead" if device_type == "cuda" else None
        _COMPILED[device_type] = torch.compile(lecture_gru_recurrence, mode=mode, dynamic=False)
    return _COMPILED[device_type]


class RNNCell(_Cell):
    """One step of the plain (Elman) RNN, h' = tanh(W^x x + W^h h + b).

    Args:
        input_size: I, features of x_t.
        hidden_size: H, features of h_t.
        bias: learn b.
        recurrent_init: "orthogonal" (default) draws W^h as a random orthogonal matrix (Saxe et al.
            2014; Henaff et al. 2016 use it for these very tasks): every singular value is 1, so at
            the start a gradient neither grows nor shrinks through W^h, only through tanh'. The input
            weights keep torch's U(−1/√H, 1/√H) and b starts at 0. "uniform" is torch.nn.RNN's
            initialisation, U(−1/√H, 1/√H) for every weight and bias.

    forward(x: (B, I), h: (B, H) | None) -> h', (B, H).
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 recurrent_init: Literal["orthogonal", "uniform"] = "orthogonal") -> None:
        super().__init__(input_size, hidden_size, bias)
        if recurrent_init not in ("orthogonal", "uniform"):
            raise ValueError(f"recurrent_init must be 'orthogonal' or 'uniform', got {recurrent_init!r}")
        self.recurrent_init = recurrent_init
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.recurrent_init == "orthogonal":
            nn.init.orthogonal_(self.weight_hh)
            if self.bias is not None:
                nn.init.zeros_(self.bias)

    def step(self, xp: Tensor, h: Tensor) -> Tensor:
        """One step given xp = W^x x_t + b, (B, H)."""
        return torch.tanh(torch.addmm(xp, h, self.weight_hh.t()))  # h_t = tanh(W·[h, x] + b)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        return self.step(self.input_projection(x), h)

    def forward_sequence(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Run the loop over time: x (T, B, I) -> outputs (T, B, H), h_T (B, H)."""
        outputs = []
        for xp in self.input_projection(x).unbind(0):  # each (B, H)
            h = self.step(xp, h)
            outputs.append(h)
        return torch.stack(outputs), h

    def torch_weights(self) -> list[Tensor]:
        """This cell's weights as torch.nn.RNN lays them out: [w_ih, w_hh(, b_ih, b_hh)]."""
        w = [self.weight_ih, self.weight_hh]
        if self.bias is not None:
            w += [self.bias, torch.zeros_like(self.bias)]  # b_hh is redundant with b_ih
        return w


class _RecurrentStack(nn.Module):
    """L cells stacked in depth, with torch.nn.LSTM/GRU's calling conventions."""

    cell_type: type[_Cell]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, dropout: float, backend: Backend, **cell_kwargs) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if backend not in ("fused", "loop", "compiled"):
            raise ValueError(f"backend must be 'fused', 'loop' or 'compiled', got {backend!r}")
        if backend == "compiled" and self.cell_type is not GRUCell:
            raise ValueError(f"backend 'compiled' is the lecture GRU's; {type(self).__name__} runs torch's own "
                             "kernel with backend 'fused'")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.backend = bias, batch_first, dropout, backend
        self.cells = nn.ModuleList(
            self.cell_type(input_size if k == 0 else hidden_size, hidden_size, bias, **cell_kwargs)
            for k in range(num_layers))

    def _check_input(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"expected input of shape {layout} with I={self.input_size}, "
                             f"got {tuple(x.shape)}")
        return x.transpose(0, 1) if self.batch_first else x  # (T, B, I)

    def _zeros(self, x: Tensor) -> Tensor:
        return x.new_zeros(self.num_layers, x.shape[1], self.hidden_size)  # (L, B, H)

    def _check_state(self, s: Tensor, x: Tensor, name: str) -> None:
        want = (self.num_layers, x.shape[1], self.hidden_size)
        if tuple(s.shape) != want:
            raise ValueError(f"expected {name} of shape (L, B, H) = {want}, got {tuple(s.shape)}")

    def _initial_state(self, x: Tensor, h0: Tensor | None) -> Tensor:
        """h_0 checked against x (T, B, I), or zeros (L, B, H)."""
        if h0 is None:
            return self._zeros(x)
        self._check_state(h0, x, "h_0")
        return h0

    def _run_layers(self, x: Tensor, h0: Tensor, **kwargs) -> tuple[Tensor, Tensor]:
        """Each cell's loop over time, layer after layer (dropout between): output, h_n (L, B, H)."""
        hs, y = [], x
        for k, cell in enumerate(self.cells):
            y, h = cell.forward_sequence(y, h0[k], **kwargs)  # y (T, B, H)
            hs.append(h)
            y = self._between_layers(y, k)
        return self._out(y), torch.stack(hs)

    def _between_layers(self, y: Tensor, k: int) -> Tensor:
        if self.dropout and k < self.num_layers - 1:
            return F.dropout(y, self.dropout, self.training)
        return y

    def _out(self, y: Tensor) -> Tensor:
        return y.transpose(0, 1) if self.batch_first else y

    def _flat_torch_weights(self) -> list[Tensor]:
        return [w for cell in self.cells for w in cell.torch_weights()]

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, backend={self.backend!r}")


class LSTM(_RecurrentStack):
    """The lecture's LSTM over a sequence, a drop-in for torch.nn.LSTM.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout: as torch.nn.LSTM.
        forget_bias: initial b_f of every layer (1.0, Jozefowicz et al. 2015); None for torch's init.
        backend: "fused" runs torch's LSTM kernel (oneDNN / cuDNN) on our weights; "loop" runs the
            equations step by step in Python. Both compute the same function.

    forward(x: (T, B, I) or (B, T, I) if batch_first, state: (h_0, c_0) each (L, B, H) | None)
        -> output (T, B, H) or (B, T, H), (h_n, c_n) each (L, B, H).
    """

    cell_type = LSTMCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, forget_bias: float | None = 1.0,
                 backend: Backend = "fused") -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, backend,
                         forget_bias=forget_bias if bias else None)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x = self._check_input(x)  # (T, B, I)
        if state is None:
            h0 = c0 = self._zeros(x)
        else:
            h0, c0 = state
            self._check_state(h0, x, "h_0")
            self._check_state(c0, x, "c_0")
        if self.backend == "fused":
            y, h_n, c_n = torch._VF.lstm(x, (h0, c0), self._flat_torch_weights(), self.bias,
                                        self.num_layers, self.dropout, self.training, False, False)
            return self._out(y), (h_n, c_n)
        hs, cs, y = [], [], x
        for k, cell in enumerate(self.cells):
            y, h, c = cell.forward_sequence(y, h0[k], c0[k])  # y (T, B, H)
            hs.append(h)
            cs.append(c)
            y = self._between_layers(y, k)
        return self._out(y), (torch.stack(hs), torch.stack(cs))


class GRU(_RecurrentStack):
    """The lecture's GRU over a sequence (or cuDNN's reset-after GRU), with torch.nn.GRU's interface.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout: as torch.nn.GRU.
        reset_after: False (default) is the lecture's GRU, h~ = tanh(W·[r ⊙ h, x] + b); True is
            cuDNN's variant, the same function as torch.nn.GRU.
        backend: "fused" runs torch's GRU kernel on our weights (reset_after) or the lecture GRU's
            recurrence with a hand-written backward pass (`gru_bptt.py`); "loop" runs the equations
            step by step under autograd; "compiled" runs the lecture GRU's loop through torch.compile
            (CUDA graphs on a GPU; the first call compiles, a new T or B compiles again). All three
            compute the same function.

    forward(x: (T, B, I) or (B, T, I) if batch_first, h_0: (L, B, H) | None)
        -> output (T, B, H) or (B, T, H), h_n (L, B, H).
    """

    cell_type = GRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, reset_after: bool = False,
                 backend: Backend = "fused") -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, backend,
                         reset_after=reset_after)
        self.reset_after = reset_after

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self._check_input(x)  # (T, B, I)
        h0 = self._initial_state(x, h0)
        if self.reset_after and self.backend != "loop":  # torch's kernel, already fused
            y, h_n = torch._VF.gru(x, h0, self._flat_torch_weights(), self.bias, self.num_layers,
                                   self.dropout, self.training, False, False)
            return self._out(y), h_n
        return self._run_layers(x, h0, fused=self.backend == "fused", compiled=self.backend == "compiled")


class RNN(_RecurrentStack):
    """The plain tanh RNN over a sequence, a drop-in for torch.nn.RNN (nonlinearity="tanh").

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout: as torch.nn.RNN.
        recurrent_init: "orthogonal" (default) or "uniform" (torch's); see RNNCell.
        backend: "fused" runs torch's RNN kernel on our weights; "loop" runs the equation step by
            step. Both compute the same function.

    forward(x: (T, B, I) or (B, T, I) if batch_first, h_0: (L, B, H) | None)
        -> output (T, B, H) or (B, T, H), h_n (L, B, H).
    """

    cell_type = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0,
                 recurrent_init: Literal["orthogonal", "uniform"] = "orthogonal",
                 backend: Backend = "fused") -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, backend,
                         recurrent_init=recurrent_init)

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self._check_input(x)  # (T, B, I)
        h0 = self._initial_state(x, h0)
        if self.backend == "fused":
            y, h_n = torch._VF.rnn_tanh(x, h0, self._flat_torch_weights(), self.bias, self.num_layers,
                                        self.dropout, self.training, False, False)
            return self._out(y), h_n
        return self._run_layers(x, h0)


# ---- conversion to and from torch.nn state dicts ------------------------------------------------

def _torch_names(layer: int, bias: bool) -> list[str]:
    names = [f"weight_ih_l{layer}", f"weight_hh_l{layer}"]
    return names + ([f"bias_ih_l{layer}", f"bias_hh_l{layer}"] if bias else [])


def to_torch_state_dict(module: LSTM | GRU | RNN) -> dict[str, Tensor]:
    """A state dict that torch.nn.LSTM / GRU (reset_after only) / RNN loads to compute our function."""
    with torch.no_grad():
        return {name: w.detach().clone()
                for k, cell in enumerate(module.cells)
                for name, w in zip(_torch_names(k, module.bias), cell.torch_weights())}


def from_torch_state_dict(module: LSTM | GRU | RNN, state: dict[str, Tensor]) -> None:
    """Load the weights of a torch.nn.LSTM / torch.nn.GRU / torch.nn.RNN into our module (GRU: reset_after only)."""
    is_gru = isinstance(module, GRU)
    if is_gru and not module.reset_after:
        raise ValueError("torch.nn.GRU weights convert only to GRU(reset_after=True)")
    H = module.hidden_size
    with torch.no_grad():
        for k, cell in enumerate(module.cells):
            names = _torch_names(k, module.bias)
            missing = [n for n in names if n not in state]
            if missing:
                raise KeyError(f"state dict lacks {missing} for layer {k}")
            w_ih, w_hh, *b = (state[n] for n in names)
            if is_gru:
                # torch r | z | n with z_torch = 1 − z: reorder to z | r | n and negate the z rows
                def back(w: Tensor) -> Tensor:
                    w = _permute_blocks(w, (1, 0, 2)).clone()
                    w[:H] = -w[:H]
                    return w
                cell.weight_ih.copy_(back(w_ih))
                cell.weight_hh.copy_(back(w_hh))
                if b:
                    b_ih, b_hh = b
                    # the z and r parts of b_hh add to b_ih outside the gate nonlinearity's argument
                    cell.bias.copy_(back(b_ih + torch.cat([b_hh[: 2 * H], torch.zeros_like(b_hh[2 * H:])])))
                    cell.bias_hn.copy_(b_hh[2 * H:])
            elif isinstance(module, RNN):
                cell.weight_ih.copy_(w_ih)
                cell.weight_hh.copy_(w_hh)
                if b:
                    cell.bias.copy_(b[0] + b[1])
            else:
                cell.weight_ih.copy_(_permute_blocks(w_ih, _LSTM_TORCH_ORDER))
                cell.weight_hh.copy_(_permute_blocks(w_hh, _LSTM_TORCH_ORDER))
                if b:
                    cell.bias.copy_(_permute_blocks(b[0] + b[1], _LSTM_TORCH_ORDER))
