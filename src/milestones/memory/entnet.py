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
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class EntNet(nn.Module):
    """forward(story, question, count) → answer logits (B, V) [, gates (B, T, S)] [, memory]."""

    def __init__(self, vocab_size: int, dim: int = 100, slots: int = 20, sentence_len: int = 12,
                 question_len: int = 12, init_std: float = 0.1) -> None:
        super().__init__()
        if min(vocab_size, dim, slots, sentence_len, question_len) < 1:
            raise ValueError(f"vocab_size, dim, slots, sentence_len and question_len must be positive, got "
                             f"{vocab_size}, {dim}, {slots}, {sentence_len}, {question_len}")
        self.dim, self.slots = dim, slots

        def normal(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape) * init_std)

        self.E = normal(vocab_size, dim)  # word embeddings (row 0, the nil word, is kept at zero)
        self.f_story = nn.Parameter(torch.ones(sentence_len, dim))  # position mask f of statements
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

    def forward(self, story: Tensor, question: Tensor, count: Tensor, return_gates: bool = False,
                return_memory: bool = False):
        """story (B, T, L) oldest statement first, question (B, Lq), count (B,) statements in use.
        return_memory adds (p (B, S), h (B, S, d), s (B, T, d)): the output module's attention over
        the slots, the slots' final contents and the encoded statements."""
        B, T, _ = story.shape
        s = self.encode(story, self.f_story)  # (B, T, d)
        q = self.encode(question, self.f_question)  # (B, d)
        h = self.keys.expand(B, -1, -1)  # (B, S, d)
        Vw = self.keys @ self.V.T  # (S, d): V w_j does not change over the story
        key_gate = torch.einsum("btd,sd->bts", s, self.keys)  # (B, T, S): s_tᵀ w_j
        Ws = s @ self.W.T  # (B, T, d)
        gates = []
        for t in range(T):
            g = torch.sigmoid(torch.einsum("bsd,bd->bs", h, s[:, t]) + key_gate[:, t])  # (B, S)  eq. 2
            candidate = self.phi(h @ self.U.T + Vw + Ws[:, t, None])  # (B, S, d)  eq. 3
            active = (t < count).to(h.dtype)[:, None]  # (B, 1)
            g = g * active
            h_new = h + g[..., None] * candidate  # eq. 4
            h_new = h_new / h_new.norm(dim=-1, keepdim=True)  # eq. 5
            h = h + active[..., None] * (h_new - h)  # a finished story keeps its memory
            gates.append(g)
        p = torch.softmax(torch.einsum("bsd,bd->bs", h, q), dim=-1)  # (B, S)  eq. 6
        u = torch.einsum("bs,bsd->bd", p, h)  # (B, d)
        logits = self.phi(q + u @ self.H.T) @ self.R.T  # (B, V)  eq. 7
        extras = [torch.stack(gates, 1) if gates else s.new_zeros(B, 0, self.slots)] if return_gates else []
        if return_memory:
            extras.append((p, h, s))
        return (logits, *extras) if extras else logits
