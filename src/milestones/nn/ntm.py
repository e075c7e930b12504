"""Neural Turing Machine (Graves, Wayne & Danihelka 2014, arXiv 1410.5401), batched over sequences.

Addressing, per head and step (§3.3; equation numbers of the paper):
    (5)  w^c_i = softmax_i(β K(k, M_i)),      K(u, v) = u·v / (‖u‖ ‖v‖ + ε)
    (7)  w^g   = g w^c + (1 − g) w_{t−1}
    (8)  w~_i  = Σ_j w^g_j s_{(i − j) mod N}
    (9)  w_i   = w~_i^γ / Σ_j w~_j^γ         computed as softmax_i(γ log w~_i), which cannot underflow
Reading (2):  r = Σ_i w_i M_i
Writing (3-4): M~_i = M_i ⊙ (1 − w_i e) for every write head in turn, then M_i = M~_i + Σ_heads w_i a

Head outputs and their activations (as in most ports): k, a tanh; β softplus; g, e sigmoid;
s softmax over the 2S + 1 shifts −S … S; γ = 1 + softplus.

Order within a step: the controller reads [x_t, r_{t−1}]; every head addresses the memory M_{t−1};
the read heads read M_{t−1}; the write heads then write M_t; the output is σ(W [h_t, r_t]). The
paper leaves this order open; reading before writing lets all heads address in one batched call.

Shapes: B batch, N memory slots, M slot width, H heads (read heads first, then write heads),
R read heads, W write heads, S shift range, C controller size, X input size, Y output size.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.nn.rnn import LSTMCell

MemoryInit = Literal["constant", "learned", "random"]
WeightingInit = Literal["first", "random"]
FIRST_SLOT_LOGIT = 10.0  # softmax([10, 0, …, 0]) puts 0.994 of the weight on slot 0 of 128
CONSTANT_MEMORY = 1e-6  # Collier & Beel 2018: converges fastest of the schemes they compared
RANDOM_MEMORY_STD = 0.1


# ---- addressing, reading, writing: pure functions of tensors ------------------------------------

def cosine_similarity(k: Tensor, memory: Tensor, eps: float = 1e-8) -> Tensor:
    """K(k, M_i) for every head and slot: k (B, H, M), memory (B, N, M) -> (B, H, N)."""
    dot = k @ memory.transpose(1, 2)  # (B, H, N)
    norms = k.norm(dim=-1).unsqueeze(-1) * memory.norm(dim=-1).unsqueeze(1)  # (B, H, N)
    return dot / (norms + eps)


def content_weights(k: Tensor, beta: Tensor, memory: Tensor, eps: float = 1e-8) -> Tensor:
    """(5): softmax over slots of β K(k, M_i). beta (B, H) -> (B, H, N)."""
    return torch.softmax(beta.unsqueeze(-1) * cosine_similarity(k, memory, eps), dim=-1)


def interpolate(w_c: Tensor, w_prev: Tensor, g: Tensor) -> Tensor:
    """(7): g w^c + (1 − g) w_{t−1}. g (B, H) -> (B, H, N)."""
    g = g.unsqueeze(-1)
    return g * w_c + (1 - g) * w_prev


def circular_shift(w: Tensor, s: Tensor) -> Tensor:
    """(8): w~_i = Σ_j w_j s_{(i − j) mod N}; s (B, H, 2S + 1) holds the weights of shifts −S … S.

    With d = i − j, w~_i = Σ_d s_d w_{i − d}: the window [w_{i−S} … w_{i+S}] of the circularly
    padded w, dotted with s reversed. One pad, one unfold and one matmul for all i.
    """
    S = (s.shape[-1] - 1) // 2
    if S == 0:
        return w * s
    padded = torch.cat([w[..., -S:], w, w[..., :S]], -1)  # (B, H, N + 2S), index i + S holds w_i
    windows = padded.unfold(-1, 2 * S + 1, 1)  # (B, H, N, 2S + 1): [w_{i−S}, …, w_{i+S}]
    return (windows @ s.flip(-1).unsqueeze(-1)).squeeze(-1)  # Σ_d s_d w_{i−d}


def sharpen(w: Tensor, gamma: Tensor, eps: float = 1e-12) -> Tensor:
    """(9): w^γ / Σ w^γ as softmax(γ log w). gamma (B, H) ≥ 1 -> (B, H, N)."""
    return torch.softmax(gamma.unsqueeze(-1) * torch.log(w + eps), dim=-1)


def address(memory: Tensor, w_prev: Tensor, k: Tensor, beta: Tensor, g: Tensor, s: Tensor,
            gamma: Tensor, eps: float = 1e-8) -> Tensor:
    """The whole addressing pipeline (5), (7), (8), (9) for H heads: -> (B, H, N)."""
    w_c = content_weights(k, beta, memory, eps)
    return sharpen(circular_shift(interpolate(w_c, w_prev, g), s), gamma)


def read(memory: Tensor, w: Tensor) -> Tensor:
    """(2): r = Σ_i w_i M_i. w (B, R, N), memory (B, N, M) -> (B, R, M)."""
    return w @ memory


def write(memory: Tensor, w: Tensor, e: Tensor, a: Tensor) -> Tensor:
    """(3-4): erase with every write head, then add. w (B, W, N), e and a (B, W, M) -> (B, N, M)."""
    erase = w.unsqueeze(-1) * e.unsqueeze(2)  # w_i e per head, (B, W, N, M)
    keep = 1 - erase[:, 0] if w.shape[1] == 1 else torch.prod(1 - erase, dim=1)  # Π_heads (1 − w_i e)
    add = w.transpose(1, 2) * a if w.shape[1] == 1 else w.transpose(1, 2) @ a  # Σ_heads w_i a
    return memory * keep + add


# ---- the machine --------------------------------------------------------------------------------

@dataclasses.dataclass
class NTMState:
    memory: Tensor  # (B, N, M)
    reads: Tensor  # (B, R, M), the read vectors r_{t−1}
    weights: Tensor  # (B, H, N), every head's w_{t−1}, read heads first
    controller: list[tuple[Tensor, Tensor]] | None  # LSTM (h, c) per layer, each (B, C)


class NTM(nn.Module):
    """A Neural Turing Machine with an LSTM or feedforward controller and any number of heads.

    Args:
        input_size, output_size: X and Y.
        memory_slots, memory_width: N and M (the paper: 128 × 20).
        read_heads, write_heads: R and W.
        controller: "lstm" (our lecture LSTM, forget bias 1) or "feedforward" (one tanh layer).
        controller_size, controller_layers: C and the number of stacked LSTM layers.
        shift_range: S, shifts −S … S allowed in (8).
        memory_init: "constant" (every entry 1e-6), "learned" (a parameter), or "random"
            (N(0, 0.1²) entries drawn for each episode, from a generator passed to `initial_state`).
        initial_weighting: every head's w_0 is a learned softmax; "first" starts it focused on
            slot 0 (0.994 of the weight), "random" spread at random (softmax of N(0, 1) logits).
            Starting focused lets the heads walk the memory by shifts from the first step, which
            makes the copy tasks learn in far fewer updates; either breaks the symmetry of the
            identical initial memory rows.
        clip: controller outputs (head parameters and output logits) are clipped to ±clip before
            their activations (Collier & Beel 2018: 20).
        eps: ε of the cosine similarity.
        clip_state_grad: clamp the gradient that each step sends back into the state it was given
            (memory, read vectors, weightings, the LSTM controller's h and c) to ±clip_state_grad
            (0: off); the initial state, a step's own output and the final state are not clamped.
            Backpropagated through many steps, the addressing can multiply the gradient by more
            than one per step until it overflows float32 (a feedforward NTM on N-grams: about
            ×1.6 a step, past float32's range 190 steps back from the end of 199); clamping
            inside the backward pass, as Graves (2013) clipped the LSTM's derivatives, keeps it
            finite. It changes no forward value.

    forward(x (T, B, X), state=None) -> logits (T, B, Y), final state; `trace=True` also returns
    the heads' weightings (T, B, H, N) for plots.
    """

    def __init__(self, input_size: int, output_size: int, *, memory_slots: int = 128,
                 memory_width: int = 20, read_heads: int = 1, write_heads: int = 1,
                 controller: Literal["lstm", "feedforward"] = "lstm", controller_size: int = 100,
                 controller_layers: int = 1, shift_range: int = 1, memory_init: MemoryInit = "constant",
                 initial_weighting: WeightingInit = "first", clip: float = 20.0, eps: float = 1e-8,
                 clip_state_grad: float = 0.0) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("output_size", output_size),
                            ("memory_slots", memory_slots), ("memory_width", memory_width),
                            ("read_heads", read_heads), ("write_heads", write_heads),
                            ("controller_size", controller_size), ("controller_layers", controller_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if controller not in ("lstm", "feedforward"):
            raise ValueError(f"controller must be 'lstm' or 'feedforward', got {controller!r}")
        if memory_init not in ("constant", "learned", "random"):
            raise ValueError(f"memory_init must be constant, learned or random, got {memory_init!r}")
        if initial_weighting not in ("first", "random"):
            raise ValueError(f"initial_weighting must be first or random, got {initial_weighting!r}")
        if not 0 <= shift_range < memory_slots / 2:
            raise ValueError(f"shift_range must be in [0, memory_slots/2), got {shift_range!r}")
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip!r}")
        if clip_state_grad < 0:
            raise ValueError(f"clip_state_grad must be >= 0 (0: off), got {clip_state_grad!r}")
        self.clip_state_grad = clip_state_grad
        N, M, R, W, S, C = memory_slots, memory_width, read_heads, write_heads, shift_range, controller_size
        self.N, self.M, self.R, self.W, self.S = N, M, R, W, S
        self.controller_kind, self.memory_init, self.clip, self.eps = controller, memory_init, clip, eps
        controller_in = input_size + R * M
        if controller == "lstm":
            self.controller = nn.ModuleList(LSTMCell(controller_in if k == 0 else C, C)
                                            for k in range(controller_layers))
        else:
            self.controller = nn.Linear(controller_in, C)
        # per head: k (M), β, g, s (2S + 1), γ; write heads also e (M), a (M)
        self.address_size = M + 3 + 2 * S + 1
        self.heads = nn.Linear(C, (R + W) * self.address_size + W * 2 * M)
        self.output = nn.Linear(C + R * M, output_size)
        self.initial_reads = nn.Parameter(torch.randn(R, M) * 0.01)  # r_0
        if initial_weighting == "first":
            logits = torch.zeros(R + W, N)
            logits[:, 0] = FIRST_SLOT_LOGIT
        else:
            logits = torch.randn(R + W, N)
        self.initial_weight_logits = nn.Parameter(logits)  # w_0 = softmax(logits)
        if memory_init == "learned":
            self.initial_memory = nn.Parameter(torch.empty(N, M).uniform_(-(N + M) ** -0.5, (N + M) ** -0.5))
        else:
            self.register_buffer("initial_memory", torch.full((N, M), CONSTANT_MEMORY), persistent=False)

    def initial_state(self, batch: int, generator: torch.Generator | None = None) -> NTMState:
        dev = self.initial_reads.device
        if self.memory_init == "random":
            noise = torch.randn(batch, self.N, self.M, generator=generator).to(dev)
            memory = noise * RANDOM_MEMORY_STD
        else:
            memory = self.initial_memory.expand(batch, self.N, self.M)
        reads = self.initial_reads.expand(batch, self.R, self.M)
        weights = torch.softmax(self.initial_weight_logits, -1).expand(batch, self.R + self.W, self.N)
        ctrl = None
        if self.controller_kind == "lstm":
            zeros = reads.new_zeros(batch, self.controller[0].hidden_size)
            ctrl = [(zeros, zeros) for _ in self.controller]
        return NTMState(memory, reads, weights, ctrl)

    def _controller(self, x: Tensor, state: NTMState) -> tuple[Tensor, list | None]:
        inp = torch.cat([x, state.reads.flatten(1)], 1)  # [x_t, r_{t−1}], (B, X + R·M)
        if self.controller_kind == "feedforward":
            return torch.tanh(self.controller(inp)), None
        new = []
        for cell, (h, c) in zip(self.controller, state.controller):
            h, c = cell(inp, (h, c))
            new.append((h, c))
            inp = h
        return inp, new  # (B, C)

    def head_parameters(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Every head's k (B, H, M), β, g (B, H), s (B, H, 2S + 1), γ (B, H) and the write heads' e, a
        (B, W, M), activated, from the controller output h (B, C)."""
        B, M, R, W, S = h.shape[0], self.M, self.R, self.W, self.S
        params = self.heads(h).clamp(-self.clip, self.clip)
        addr, erase_add = params.split([(R + W) * self.address_size, W * 2 * M], 1)
        k, beta, g, s, gamma = addr.view(B, R + W, self.address_size).split([M, 1, 1, 2 * S + 1, 1], -1)
        e, a = erase_add.view(B, W, 2 * M).split([M, M], -1)
        return (torch.tanh(k), F.softplus(beta).squeeze(-1), torch.sigmoid(g).squeeze(-1), torch.softmax(s, -1),
                1 + F.softplus(gamma).squeeze(-1), torch.sigmoid(e), torch.tanh(a))

    def step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One time step: x (B, X) -> logits (B, Y), the next state."""
        h, ctrl = self._controller(x, state)
        k, beta, g, s, gamma, e, a = self.head_parameters(h)
        w = address(state.memory, state.weights, k, beta, g, s, gamma, self.eps)  # (B, H, N)
        w_read, w_write = w.split([self.R, self.W], 1)
        reads = read(state.memory, w_read)  # (B, R, M)
        memory = write(state.memory, w_write, e, a)
        logits = self.output(torch.cat([h, reads.flatten(1)], 1)).clamp(-self.clip, self.clip)
        return logits, NTMState(memory, reads, w, ctrl)

    def _clamped(self, state: NTMState) -> NTMState:
        """`state` as seen by the next step: the same values, and the gradient that step sends back
        into them clamped to ±clip_state_grad (the gradient from this step's own output is not)."""
        c = self.clip_state_grad

        def alias(t: Tensor) -> Tensor:
            if not t.requires_grad:
                return t
            view = t.view_as(t)
            view.register_hook(lambda g: g.clamp(-c, c))
            return view

        ctrl = None if state.controller is None else [(alias(h), alias(cell)) for h, cell in state.controller]
        return NTMState(alias(state.memory), alias(state.reads), alias(state.weights), ctrl)

    def forward(self, x: Tensor, state: NTMState | None = None, trace: bool = False,
                generator: torch.Generator | None = None, step=None):
        """x (T, B, X); `step` replaces `self.step` (e.g. a torch.compile'd copy of it)."""
        step = step or self.step
        if x.dim() != 3:
            raise ValueError(f"expected input (T, B, X), got shape {tuple(x.shape)}")
        if state is None:
            state = self.initial_state(x.shape[1], generator)
        outputs, weights = [], []
        clamp = self.clip_state_grad > 0 and torch.is_grad_enabled()
        for t, x_t in enumerate(x.unbind(0)):
            y, state = step(x_t, self._clamped(state) if clamp and t > 0 else state)
            outputs.append(y)
            if trace:
                weights.append(state.weights)
        logits = torch.stack(outputs)  # (T, B, Y)
        if trace:
            return logits, state, torch.stack(weights)  # (T, B, H, N)
        return logits, state
