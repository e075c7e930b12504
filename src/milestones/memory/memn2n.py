"""End-to-End Memory Networks (Sukhbaatar, Szlam, Weston & Fergus 2015, arXiv 1503.08895).

Legend: B batch, M memory slots, L words per statement, Lq words per question, V vocabulary,
d embedding dimension, K hops.

One hop k (§2.1), with the story's statements x_i in memory and the controller state u^k:
    m_i = Σ_j l_j ⊙ A^k x_ij + T_A^k(i)          (memory vectors,  eq. 1 with PE §4.1 and TE)
    c_i = Σ_j l_j ⊙ C^k x_ij + T_C^k(i)          (output vectors)
    p_i = softmax_i(u^kᵀ m_i)                    (eq. 1; padded slots are masked out)
    o^k = Σ_i p_i c_i                            (eq. 2)
    u^{k+1} = u^k + o^k   (adjacent tying)  or  H u^k + o^k  (layer-wise tying)   (§2.2)
    â = softmax(W u^{K+1})                        (eq. 3 after the last hop)
with u^1 = Σ_j l_j ⊙ B q_j. Position encoding (PE): l_kj = (1 − j/J) − (k/d)(1 − 2j/J) for word j of
a statement of J words and embedding coordinate k (1-based); bag of words (BoW) is l = 1. The
official Matlab code computes another weighting, l_kj = 1 + 4 (k − (d+1)/2)(j − (J+1)/2) / (d J)
("pe-official"); the two are different functions (at the last word j = J the paper's weight is
k/d, the official one 1 + 2(k − (d+1)/2)(J − 1)/(d J)). The official code also takes one J for every
statement and question, the longest statement + 1, and adds the temporal vectors as "time words" in
position J, so that T(i) is weighted by l_kJ (`pe_words`); and its memory always holds the same number
of slots, those after a story's statements empty but inside the softmax (`fixed_slots`).
Adjacent tying: A^{k+1} = C^k, T_A^{k+1} = T_C^k, B = A^1 and W = (C^K)ᵀ, so K + 1 embedding matrices.
Layer-wise tying: one A, one C for every hop, a separate B and W, and the map H.
Linear start (§4.2) removes the softmax from every hop (p_i = u^kᵀ m_i) until it is put back.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

ENCODINGS = ("pe", "pe-official", "bow")
TYINGS = ("adjacent", "layerwise")


def pe_coefficients(j: Tensor, J: Tensor, encoding: str) -> Tensor:
    """(α_j, β_j) stacked, (2, …) broadcast from j and J, with the position weight l_kj = α_j + g_k β_j
    (`pe_scale` gives g). The paper's printed PE, l_kj = (1 − j/J) − (k/d)(1 − 2j/J): α = 1 − j/J,
    β = 2j/J − 1, g_k = k/d; the official code's, l_kj = 1 + 4 (k − (d+1)/2)(j − (J+1)/2) / (d J):
    α = 1, β = 4 (j − (J+1)/2)/J, g_k = (k − (d+1)/2)/d."""
    if encoding == "pe":
        return torch.stack(torch.broadcast_tensors(1 - j / J, 2 * j / J - 1))
    return torch.stack(torch.broadcast_tensors(torch.ones_like(j / J), 4 * (j - (J + 1) / 2) / J))


def pe_scale(d: int, encoding: str, dtype: torch.dtype, device=None) -> Tensor:
    """g_k (d,) of `pe_coefficients`."""
    k = torch.arange(1, d + 1, dtype=dtype, device=device)
    return k / d if encoding == "pe" else (k - (d + 1) / 2) / d


def position_encoding(lengths: Tensor, L: int, d: int, official: bool = False) -> Tensor:
    """l (…, L, d) for statements of `lengths` (…) words: l_kj = α_j + g_k β_j (`pe_coefficients`)
    for j ≤ J, and 0 on the padding after the J words."""
    encoding = "pe-official" if official else "pe"
    j = torch.arange(1, L + 1, dtype=torch.float32, device=lengths.device)  # (L,)
    J = lengths.clamp_min(1).to(torch.float32)[..., None]  # (…, 1)
    alpha, beta = pe_coefficients(j, J, encoding)[..., None]  # (…, L, 1) each
    weights = alpha + pe_scale(d, encoding, torch.float32, lengths.device) * beta  # (…, L, d)
    return weights * (j <= J)[..., None]


class MemN2N(nn.Module):
    """The end-to-end memory network for bAbI: forward(story, question, count) → answer logits."""

    def __init__(self, vocab_size: int, dim: int = 20, hops: int = 3, memory_size: int = 50,
                 encoding: str = "pe-official", temporal: bool = True, tying: str = "adjacent",
                 init_std: float = 0.1, pe_words: int | None = None, fixed_slots: int | None = None) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
        if tying not in TYINGS:
            raise ValueError(f"tying {tying!r}; expected one of {', '.join(TYINGS)}")
        if min(vocab_size, dim, hops, memory_size) < 1:
            raise ValueError(f"vocab_size, dim, hops and memory_size must be positive, got "
                             f"{vocab_size}, {dim}, {hops}, {memory_size}")
        self.dim, self.hops, self.memory_size = dim, hops, memory_size
        for name, value in (("pe_words", pe_words), ("fixed_slots", fixed_slots)):
            if value is not None and value < 1:
                raise ValueError(f"{name} {value}; expected a positive number or None")
        self.encoding, self.temporal, self.tying, self.pe_words = encoding, temporal, tying, pe_words
        self.fixed_slots = fixed_slots
        n = hops + 1 if tying == "adjacent" else 4  # layer-wise: A, C, B, W
        self.embed = nn.Parameter(torch.randn(n, vocab_size, dim) * init_std)  # (n, V, d)
        self.time = nn.Parameter(torch.randn(hops + 1 if tying == "adjacent" else 2, memory_size, dim) * init_std)
        self.H = nn.Parameter(torch.randn(dim, dim) * init_std) if tying == "layerwise" else None
        self.zero_nil_()

    @torch.no_grad()
    def zero_nil_(self) -> None:
        """Keep the nil word's embedding at zero (the official code does this after every update)."""
        self.embed[:, 0] = 0

    def _matrices(self, k: int) -> tuple[int, int]:
        """Indices into `embed` / `time` of A^k and C^k (0-based hop k)."""
        return (k, k + 1) if self.tying == "adjacent" else (0, 1)

    def bags(self, words: Tensor) -> Tensor:
        """Each statement as weights over the vocabulary, (c, …, V) for words (…, L): with PE,
        l_kj = α_j + g_k β_j (`pe_coefficients`), so Σ_j l_j ⊙ E x_j = bag_α E + g ⊙ bag_β E, two
        matrix products instead of a gather per word (c = 2); with BoW one bag of word counts
        (c = 1). Nil words (padding) weigh nothing. J is each statement's length, or `pe_words`."""
        present = words != 0
        L, dtype = words.shape[-1], self.embed.dtype  # float64 networks get float64 bags
        if self.encoding != "bow":
            j = torch.arange(1, L + 1, dtype=dtype, device=words.device)
            if self.pe_words is None:
                J = present.sum(-1, keepdim=True).clamp_min(1).to(dtype)  # (…, 1)
            else:
                J = torch.full((*present.shape[:-1], 1), float(self.pe_words), dtype=dtype, device=words.device)
            coef = pe_coefficients(j, J, self.encoding) * present  # (2, …, L)
        else:
            coef = present[None].to(dtype)  # (1, …, L)
        V = self.embed.shape[-2]
        zeros = torch.zeros(*coef.shape[:-1], V, dtype=coef.dtype, device=coef.device)
        return zeros.scatter_add(-1, words.expand(coef.shape), coef)

    def _mix(self, x: Tensor) -> Tensor:
        """α-part + g_k ⊙ β-part, x (2, …, d) → (…, d)."""
        return x[0] + pe_scale(self.dim, self.encoding, x.dtype, x.device) * x[1]

    def time_weights(self) -> Tensor | None:
        """With a fixed J (`pe_words`) the official code's temporal vectors are "time words" in the
        J-th word position, so each one is weighted by l_kJ (d,); None where they are not weighted."""
        if self.pe_words is None or self.encoding == "bow":
            return None
        J = torch.tensor(float(self.pe_words), dtype=self.time.dtype, device=self.time.device)
        return self._mix(pe_coefficients(J, J, self.encoding)[:, None])

    def encode(self, bags: Tensor, matrix: int) -> Tensor:
        """Σ_j l_j ⊙ E x_j (…, d) from bags (c, …, V), E = embed[matrix] (V, d)."""
        x = bags @ self.embed[matrix]  # (c, …, d)
        return x[0] if self.encoding == "bow" else self._mix(x)

    def forward(self, story: Tensor, question: Tensor, count: Tensor, linear: bool = False,
                return_attention: bool = False, return_memory: bool = False):
        """story (B, M, L), question (B, Lq), count (B,) slots in use → logits (B, V)
        [, attention (B, K, M)] [, memory: the 2K tensors m^k, c^k, each (B, M, d)]. Slots from
        `count` on are padding: they get zero attention. With `fixed_slots` F, the memory is F slots
        long whatever the story, as in the official code: the F − count slots after the statements
        are empty (zero vectors, so score 0 and no output) yet stay in the softmax, where they take
        (F − count) e⁰ of its sum, the share of "nothing found" (not part of `attention`)."""
        B, M, _ = story.shape
        if M > self.memory_size:
            raise ValueError(f"story has {M} slots; this network holds at most memory_size {self.memory_size}")
        used = torch.arange(M, device=story.device)[None, :] < count[:, None]  # (B, M)
        # the empty slots as one softmax entry of score log(F − count): e^that = (F − count) e⁰
        null = None if self.fixed_slots is None else \
            (self.fixed_slots - count).clamp_min(0).to(self.embed.dtype).log()[:, None]  # (B, 1), −inf if full
        sentences, query = self.bags(story), self.bags(question)  # (c, B, M, V), (c, B, V)
        u = self.encode(query, 2 if self.tying == "layerwise" else 0)  # (B, d)
        attention, memory = [], []
        time = self.time if (w := self.time_weights()) is None else self.time * w
        for k in range(self.hops):
            a, c = self._matrices(k)
            m = self.encode(sentences, a)  # (B, M, d)
            out = self.encode(sentences, c)  # (B, M, d)
            if self.temporal:
                m, out = m + time[a, :M], out + time[c, :M]
            memory += [m, out]
            scores = torch.einsum("bmd,bd->bm", m, u)  # (B, M)
            if linear:
                p = scores.masked_fill(~used, 0.0)
            elif null is None:
                p = torch.softmax(scores.masked_fill(~used, float("-inf")), dim=-1)
            else:
                p = torch.softmax(torch.cat([scores.masked_fill(~used, float("-inf")), null], -1), -1)[:, :M]
            o = torch.einsum("bm,bmd->bd", p, out)  # (B, d)
            u = (u if self.H is None else u @ self.H.T) + o
            attention.append(p)
        W = self.embed[self.hops] if self.tying == "adjacent" else self.embed[3]  # (V, d)
        logits = u @ W.T  # (B, V)
        extras = ([torch.stack(attention, 1)] if return_attention else []) + ([memory] if return_memory else [])
        return (logits, *extras) if extras else logits


def random_noise(story: Tensor, count: Tensor, rate: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random noise (§4.2): insert empty memories (about `rate` per statement) among the statements,
    so that the temporal vectors see each statement at varied distances. story (B, M, L) recent
    first, count (B,) → (story, count) with the statements moved to later slots; statements pushed
    beyond slot M − 1 fall out of memory. Empty slots between statements are in use (not masked)."""
    B, M, L = story.shape
    gaps = (torch.rand(B, M, generator=generator) < rate).long().to(story.device)  # (B, M)
    target = torch.arange(M, device=story.device)[None, :] + gaps.cumsum(1)  # new slot of each statement
    keep = (torch.arange(M, device=story.device)[None, :] < count[:, None]) & (target < M)
    out = torch.zeros_like(story)
    rows = torch.arange(B, device=story.device)[:, None].expand(B, M)
    out[rows[keep], target[keep]] = story[keep]
    new_count = torch.where(keep, target + 1, torch.zeros_like(target)).amax(1)
    return out, new_count
