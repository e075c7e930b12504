"""Recurrent Entity Networks (Henaff, Weston, Szlam, Bordes & LeCun 2017, arXiv 1612.03969).

Legend: B batch, T statements (in story order), L words per statement, Lq words per question,
S memory slots, d embedding dimension, V vocabulary.

Input encoder (§2.1): s_t = Σ_i f_i ⊙ e_i, the words' embeddings times a learned multiplicative
position mask f (initialised to 1), one mask for statements and another for the question.
Dynamic memory (§2.2), for every slot j with key w_j and content h_j (initially h_j = w_j):
    g_j  = σ(s_tᵀ h_j + s_tᵀ w_j)                 (eq. 2, the gate)
    h̃_j = φ(U h_j + V w_j + W s_t)               (eq. 3, the candidate)
    h_j ← h_j + g_j ⊙ h̃_j                         (eq. 4)
    h_j ← h_j / ‖h_j‖                              (eq. 5)
Output module (§2.3): p_j = softmax_j(qᵀ h_j), u = Σ_j p_j h_j, y = R φ(q + H u)   (eqs. 6-7).
φ is a PReLU whose slopes (one per coordinate) start at 1 and are shared by memory and output.
Statements after a story's end (padding) leave the memory unchanged.

Two implementations of the dynamic memory give the same values: `memory_loop`, eqs. 2-5 as written
(autograd records ~15 small operations per statement, and their backward is most of a training
step), and `Recurrence`, the same forward with its backward through time written out by hand (used
when a gradient is wanted): per statement one product with U and a dozen element-wise passes, and
the gradients of U, V w and W s summed over all statements in one product at the end.
Backward of one statement, G = ∂L/∂h_t for the slots it updates (a = s_tᵀ h + s_tᵀ w, σ = σ(a),
c = φ(p), p = U h + V w + W s_t, h̃ = h + σ c, n = ‖h̃‖):
    ∂h̃ = (G − h_t (h_tᵀ G)) / n        ∂σ = ∂h̃ᵀ c        ∂p = σ ∂h̃ ⊙ φ'(p)
    ∂a = ∂σ σ (1 − σ)                  ∂h_{t−1} = ∂h̃ + Uᵀ ∂p + ∂a s_t       ∂s_t = Σ_j ∂a_j h_j
    ∂slope = Σ σ ∂h̃ ⊙ min(p, 0)        (after a story's end ∂h_{t−1} = G and the rest is zero)
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class Recurrence(torch.autograd.Function):
    """Eqs. 2-5 over a story, with a hand-written backward (module docstring).
    apply(h0 (B, S, d), s (B, T, d), key_gate (B, T, S) = s_tᵀ w_j, Vw (S, d), Ws (B, T, d),
          U (d, d), slope (d,), active (B, T) 1 while t < count)
    → h_T (B, S, d), and the intermediates kept for the backward: h before each statement, p and
      φ'(p) (T, B, S, d each), σ (T, B, S) also after a story's end, and ‖h̃‖ (T, B, S, 1); they
      carry no gradient."""

    generate_vmap_rule = True  # restarts side by side run it under torch.func.vmap

    @staticmethod
    def forward(h0, s, key_gate, Vw, Ws, U, slope, active):
        B, T, d = s.shape
        S = h0.shape[1]
        Z = (Ws.transpose(0, 1).contiguous()[:, :, None] + Vw).view(T, B * S, d)  # V w_j + W s_t, statement first
        h, hs, ps, slopes, sigmas, norms = h0, [], [], [], [], []
        for t in range(T):
            m = active[:, t, None]  # (B, 1)
            sigma = torch.sigmoid(torch.bmm(h, s[:, t, :, None]).squeeze(-1) + key_gate[:, t])  # (B, S)
            p = torch.addmm(Z[t], h.reshape(B * S, d), U.T).view(B, S, d)  # p = U h + V w + W s_t
            phi_slope = (p < 0) * (slope - 1) + 1  # φ'(p): 1 or the slope; φ(p) = p φ'(p)
            h_new = torch.addcmul(h, (sigma * m)[..., None], p * phi_slope)  # h + σ φ(p)
            n = torch.linalg.vector_norm(h_new, dim=-1, keepdim=True)  # (B, S, 1)
            hs.append(h), ps.append(p), slopes.append(phi_slope), sigmas.append(sigma), norms.append(n)
            h = torch.lerp(h, h_new / n, m[..., None])  # a finished story keeps its memory
        return h, *(torch.stack(x) for x in (hs, ps, slopes, sigmas, norms))

    @staticmethod
    def setup_context(ctx, inputs, output):
        h0, s, key_gate, Vw, Ws, U, slope, active = inputs
        h, hs, ps, slopes, sigmas, norms = output
        ctx.save_for_backward(s, U, active, h, hs, ps, slopes, sigmas, norms)
        ctx.mark_non_differentiable(hs, ps, slopes, sigmas, norms)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, grad_h, *_unused):
        if grad_h is None:  # the loss does not depend on the memory
            return (None,) * 8
        s, U, active, h_last, hs, ps, slopes, sigmas, norms = ctx.saved_tensors
        B, T, d = s.shape
        S = hs.shape[2]
        G = grad_h  # ∂L/∂h_t, (B, S, d)
        d_ps, d_as, d_s, d_slope = [], [], [], torch.zeros_like(G)
        for t in reversed(range(T)):
            m = active[:, t, None, None]  # (B, 1, 1)
            h, p, phi_slope, sigma = hs[t], ps[t], slopes[t], sigmas[t][..., None]
            h_t = hs[t + 1] if t + 1 < T else h_last  # equals h̃ / n where the statement is active
            d_tilde = torch.addcmul(G, h_t, -torch.linalg.vecdot(h_t, G)[..., None]) * (m / norms[t])
            d_sigma = torch.linalg.vecdot(d_tilde, p * phi_slope)  # (B, S); zero after the story's end
            d_c = d_tilde * sigma
            d_p = d_c * phi_slope
            d_slope = torch.addcmul(d_slope, d_c, p.clamp(max=0))  # ∂φ/∂slope = min(p, 0)
            d_a = d_sigma * sigma[..., 0] * (1 - sigma[..., 0])  # (B, S)
            d_s.append(torch.bmm(d_a[:, None, :], h).squeeze(1))  # (B, d)
            G = torch.addcmul(d_tilde, G, 1 - m)  # after the story's end ∂L/∂h passes unchanged
            G = torch.addmm(G.view(B * S, d), d_p.view(B * S, d), U).view(B, S, d)
            G = torch.addcmul(G, d_a[..., None], s[:, t, None])
            d_ps.append(d_p), d_as.append(d_a)
        d_p = torch.stack(d_ps[::-1])  # (T, B, S, d)
        d_U = d_p.flatten(0, 2).T @ hs.flatten(0, 2)  # Σ_t ∂p_tᵀ h_{t−1}
        return (G, torch.stack(d_s[::-1], 1), torch.stack(d_as[::-1], 1), d_p.sum((0, 1)),
                d_p.sum(2).transpose(0, 1), d_U, d_slope.sum((0, 1)), None)


class EntNet(nn.Module):
    """forward(story, question, count) → answer logits (B, V) [, gates (B, T, S)] [, memory].
    fused=False runs `memory_loop` under autograd also when training (the reference for the tests).
    story_mask: the statement mask's start, "ones" (the paper's f_i = 1: s_t starts as a bag of words)
    or "normal" (drawn N(0, init_std), as the official code does; the question mask starts at 1)."""

    def __init__(self, vocab_size: int, dim: int = 100, slots: int = 20, sentence_len: int = 12,
                 question_len: int = 12, init_std: float = 0.1, fused: bool = True,
                 story_mask: str = "ones") -> None:
        super().__init__()
        if min(vocab_size, dim, slots, sentence_len, question_len) < 1:
            raise ValueError(f"vocab_size, dim, slots, sentence_len and question_len must be positive, got "
                             f"{vocab_size}, {dim}, {slots}, {sentence_len}, {question_len}")
        if story_mask not in ("ones", "normal"):
            raise ValueError(f"story_mask must be 'ones' or 'normal', got {story_mask!r}")
        self.dim, self.slots = dim, slots
        self.fused = fused  # the hand-written backward (`Recurrence`) when a gradient is wanted

        def normal(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape) * init_std)

        self.E = normal(vocab_size, dim)  # word embeddings (row 0, the nil word, is kept at zero)
        # position mask f of statements (story_mask "normal" draws it, after E, before the keys)
        self.f_story = (normal(sentence_len, dim) if story_mask == "normal"
                        else nn.Parameter(torch.ones(sentence_len, dim)))
        self.f_question = nn.Parameter(torch.ones(question_len, dim))
        self.keys = normal(slots, dim)  # w_j
        self.U, self.V, self.W = normal(dim, dim), normal(dim, dim), normal(dim, dim)
        self.H, self.R = normal(dim, dim), normal(vocab_size, dim)
        self.slope = nn.Parameter(torch.ones(dim))  # PReLU slopes, shared
        self.zero_nil_()

    @torch.no_grad()
    def zero_nil_(self) -> None:
        self.E[0] = 0

    def phi(self, x: Tensor) -> Tensor:
        """PReLU: x where x ≥ 0, slope ⊙ x elsewhere (written with clamps: `where` is slow on CPU)."""
        return x.clamp(min=0) + self.slope * x.clamp(max=0)

    def encode(self, words: Tensor, mask: Tensor) -> Tensor:
        """s = Σ_i f_i ⊙ e_i for words (…, L) → (…, d)."""
        L = words.shape[-1]
        if L > mask.shape[0]:
            raise ValueError(f"{L} words per sentence; this network's position mask holds {mask.shape[0]}")
        return (self.E[words] * mask[:L]).sum(-2)

    def memory_loop(self, h: Tensor, s: Tensor, key_gate: Tensor, Vw: Tensor, Ws: Tensor,
                    active: Tensor) -> tuple[Tensor, Tensor]:
        """Eqs. 2-5 statement by statement: h (B, S, d) the keys, s (B, T, d), key_gate (B, T, S),
        Vw (S, d), Ws (B, T, d), active (B, T) → the final memory (B, S, d) and the gates (B, T, S)."""
        gates = []
        for t in range(s.shape[1]):
            g = torch.sigmoid(torch.einsum("bsd,bd->bs", h, s[:, t]) + key_gate[:, t])  # (B, S)  eq. 2
            candidate = self.phi(h @ self.U.T + Vw + Ws[:, t, None])  # (B, S, d)  eq. 3
            m = active[:, t, None]  # (B, 1)
            g = g * m
            h_new = h + g[..., None] * candidate  # eq. 4
            h_new = h_new / h_new.norm(dim=-1, keepdim=True)  # eq. 5
            h = h + m[..., None] * (h_new - h)  # a finished story keeps its memory
            gates.append(g)
        return h, torch.stack(gates, 1) if gates else key_gate.new_zeros(*key_gate.shape)

    def forward(self, story: Tensor, question: Tensor, count: Tensor, return_gates: bool = False,
                return_memory: bool = False):
        """story (B, T, L) oldest statement first, question (B, Lq), count (B,) statements in use.
        return_memory adds (p (B, S), h (B, S, d), s (B, T, d)): the output module's attention over
        the slots, the slots' final contents and the encoded statements."""
        B, T, _ = story.shape
        s = self.encode(story, self.f_story)  # (B, T, d)
        q = self.encode(question, self.f_question)  # (B, d)
        h0 = self.keys.expand(B, -1, -1)  # (B, S, d)
        Vw = self.keys @ self.V.T  # (S, d): V w_j does not change over the story
        key_gate = torch.einsum("btd,sd->bts", s, self.keys)  # (B, T, S): s_tᵀ w_j
        Ws = s @ self.W.T  # (B, T, d)
        active = (torch.arange(T, device=s.device) < count[:, None]).to(s.dtype)  # (B, T)
        if self.fused and T > 0 and torch.is_grad_enabled() and not return_gates:
            h = Recurrence.apply(h0, s, key_gate, Vw, Ws, self.U, self.slope, active)[0]
        else:  # also for the gates: Recurrence returns them without a gradient
            h, gates = self.memory_loop(h0, s, key_gate, Vw, Ws, active)
        p = torch.softmax(torch.einsum("bsd,bd->bs", h, q), dim=-1)  # (B, S)  eq. 6
        u = torch.einsum("bs,bsd->bd", p, h)  # (B, d)
        logits = self.phi(q + u @ self.H.T) @ self.R.T  # (B, V)  eq. 7
        extras = [gates] if return_gates else []
        if return_memory:
            extras.append((p, h, s))
        return (logits, *extras) if extras else logits
