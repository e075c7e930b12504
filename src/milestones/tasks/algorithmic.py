"""The algorithmic tasks of the Neural Turing Machine paper (Graves, Wayne & Danihelka 2014,
arXiv 1410.5401, §4.1-4.5), generated on the fly from a torch.Generator, and the paper's cost.

Every generator is `f(batch, generator, **task parameters) -> Episode`. Episodes are time-major and
padded at the end to the longest in the batch; padded steps have zero input, target and mask. The
sequences are drawn one after another from the generator, so sequence b of a batch is exactly what
the b-th of consecutive batch-1 calls on the same generator would give.

Layouts (b = bits; "delim" = 1 on a delimiter channel; · = zeros; mask 1 only on the steps marked *):

Copy (§4.1), L ~ U{min_length..max_length}, X = b + 1 (channel b: delimiter), Y = b:
    step     0 … L−1       L        L+1 … 2L
    input    x_1 … x_L     delim    ·
    target   ·             ·        x_1 … x_L *
    lengths = 2L + 1

Repeat copy (§4.2), L ~ U{min_length..max_length}, n ~ U{min_repeats..max_repeats},
X = b + 2 (channel b: delimiter, channel b + 1: count (n − repeat_mean) / repeat_std), Y = b + 1
(channel b: end marker):
    step     0 … L−1       L              L+1 … L+Ln                   L+Ln+1
    input    x_1 … x_L     delim, count   ·                            ·
    target   ·             ·              (x_1 … x_L) n times *        end *
    lengths = L + 1 + Ln + 1
The count is normalised with the moments of the training distribution U{1..10} (mean 5.5, std
√((10² − 1)/12)), fixed, so that larger counts at test time fall outside the training range.

Associative recall (§4.3), k ~ U{min_items..max_items} items of m = item_length vectors, query
q ~ U{0..k−2}, X = b + 2 (channel b: item delimiter, channel b + 1: query delimiter), Y = b:
    input    [idelim, item_1] … [idelim, item_k]   qdelim, item_q, qdelim   ·
    target   ·                                     ·                         item_{q+1} *
    lengths = k(m + 1) + (m + 2) + m = (k + 2)(m + 1)
Items are not forced to be distinct (two equal items of 3 six-bit vectors have probability 2⁻¹⁸).

Dynamic N-grams (§4.4), order n, sequence bits s_0 … s_{length−1}, X = Y = 1:
    p_c ~ Beta(½, ½) for each of the 2^(n−1) contexts c, drawn as sin²(πU/2), U ~ U(0, 1)
    s_0 … s_{n−2} ~ Bernoulli(½);  s_t ~ Bernoulli(p_c), c = Σ_{j=1}^{n−1} s_{t−j} 2^(j−1)
    (the most recent bit is the least significant bit of the context)
    step t = 0 … length − 2:  input s_t, target s_{t+1} *        lengths = length − 1
Optimal Bayesian estimator: P(s_{t+1} = 1) = (N1 + ½)/(N1 + N0 + 1), N1, N0 = how often the context
of s_{t+1} was followed by 1, 0 earlier in the sequence; ½ while no full context exists (t < n − 2).
The paper's cost covers the 200-bit sequence; s_0 has nothing before it to predict it from, so 199
steps are scored here (the estimator would pay exactly 1 more bit, for s_0 at ½).

Priority sort (§4.5), N = num_inputs vectors with priorities p ~ U[−1, 1), M = num_outputs,
X = b + 2 (channel b: priority, channel b + 1: delimiter), Y = b:
    step     0 … N−1                N        N+1 … N+M
    input    x_1 … x_N, p_1 … p_N   delim    ·
    target   ·                      ·        the M x_i of highest p_i, highest first *
    lengths = N + 1 + M

Cost (§4): bits per sequence = Σ over scored steps and channels of the binary cross-entropy in bits.

Shapes: T steps of the episode (padded to the longest in the batch), B batch, X input width,
Y target width, C = 2^(order−1) n-gram contexts.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence

REPEAT_MEAN = 5.5  # mean of U{1..10}, the training distribution of repeat counts
REPEAT_STD = math.sqrt((10**2 - 1) / 12)  # std of U{1..10}, ≈ 2.8723
MAX_ORDER = 16  # the estimator keeps a (B, 2^(order−1), 2) table of counts


@dataclasses.dataclass(frozen=True)
class Episode:
    inputs: Tensor  # (T, B, X) float, zeros after a sequence's end
    targets: Tensor  # (T, B, Y) float in {0, 1}, zeros where not scored
    mask: Tensor  # (T, B) float, 1 at the steps whose output is scored, else 0
    lengths: Tensor  # (B,) long, steps of each episode before padding

    def padded(self, steps: int) -> Episode:
        """The same episode with zero steps appended up to `steps` (all unscored). A causal model's
        outputs at the original steps, hence its loss and gradients, do not change; fixed shapes are
        what a captured CUDA graph needs (`milestones.nn.graphs.GraphedUpdate`)."""
        T = self.inputs.shape[0]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < T:
            raise ValueError(f"steps must be an integer ≥ the episode's {T} steps, got {steps!r}")

        def pad(t: Tensor) -> Tensor:
            return torch.cat([t, t.new_zeros(steps - T, *t.shape[1:])])

        return Episode(pad(self.inputs), pad(self.targets), pad(self.mask), self.lengths)


# ---- shared helpers ------------------------------------------------------------------------------

Part = tuple[Tensor, Tensor, Tensor]  # one sequence: inputs (T_b, X), targets (T_b, Y), mask (T_b,)


def _check_int(name: str, value: int, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f"an integer ≥ {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_le(low_name: str, low: int, high_name: str, high: int) -> None:
    if low > high:
        raise ValueError(f"{low_name} must be ≤ {high_name}, got {low_name}={low} > {high_name}={high}")


def _randint(low: int, high: int, generator: torch.Generator) -> int:
    """One integer from U{low..high}, both ends included."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def _random_bits(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """Independent Bernoulli(½) bits as floats."""
    return torch.randint(0, 2, shape, generator=generator).float()


def _empty_part(steps: int, x: int, y: int) -> Part:
    return torch.zeros(steps, x), torch.zeros(steps, y), torch.zeros(steps)


def _batch(batch: int, generator: torch.Generator, one: Callable[[torch.Generator], Part]) -> Episode:
    """Draw `batch` sequences one after another and pad them at the end into one Episode."""
    parts = [one(generator) for _ in range(batch)]
    return Episode(
        inputs=pad_sequence([p[0] for p in parts]),  # (T, B, X)
        targets=pad_sequence([p[1] for p in parts]),  # (T, B, Y)
        mask=pad_sequence([p[2] for p in parts]),  # (T, B)
        lengths=torch.tensor([p[0].shape[0] for p in parts], dtype=torch.long),  # (B,)
    )


# ---- §4.1 copy -----------------------------------------------------------------------------------

def copy_episode(batch: int, generator: torch.Generator, *, bits: int = 8, min_length: int = 1,
                 max_length: int = 20, blank_run: int = 0, blank_share: float = 0.0) -> Episode:
    """Copy: L random vectors, a delimiter, then the L vectors again. X = bits + 1, Y = bits.

    blank_run > 0 sets that many consecutive vectors, at a uniformly drawn place, to all zeros: a
    probe, not the paper's distribution, in which a sequence of 20 at 8 bits holds two blank vectors
    in a row once in ~3 400 (19 places, 1/65 536 each) and three once in ~930 000. Blank inputs are
    also what the model sees after the delimiter, so a model can mistake such a run for the end of
    the input (see the README).

    blank_share > 0 is a training distribution beside the paper's: each sequence, with that
    probability, has a run of 1-3 consecutive vectors (uniform, at most its length) set to zeros at
    a uniformly drawn place."""
    _check_int("batch", batch, 1)
    _check_int("bits", bits, 1)
    _check_int("min_length", min_length, 1)
    _check_int("max_length", max_length, 1)
    _check_le("min_length", min_length, "max_length", max_length)
    _check_int("blank_run", blank_run, 0)
    _check_le("blank_run", blank_run, "min_length", min_length)
    if not 0.0 <= blank_share <= 1.0:
        raise ValueError(f"blank_share must be a probability in [0, 1], got {blank_share}")
    if blank_run and blank_share:
        raise ValueError(f"blank_run ({blank_run}) and blank_share ({blank_share}) plant blanks in two ways; "
                         "give one of them")

    def one(g: torch.Generator) -> Part:
        L = _randint(min_length, max_length, g)
        x = _random_bits((L, bits), g)  # (L, bits)
        if blank_run:  # drawn only when asked, so the paper's sequences stay the same
            start = _randint(0, L - blank_run, g)
            x[start:start + blank_run] = 0.0
        elif blank_share and float(torch.rand((), generator=g)) < blank_share:
            run = _randint(1, min(3, L), g)
            start = _randint(0, L - run, g)
            x[start:start + run] = 0.0
        inputs, targets, mask = _empty_part(2 * L + 1, bits + 1, bits)
        inputs[:L, :bits] = x
        inputs[L, bits] = 1.0  # delimiter
        targets[L + 1:] = x
        mask[L + 1:] = 1.0
        return inputs, targets, mask

    return _batch(batch, generator, one)


# ---- §4.2 repeat copy ----------------------------------------------------------------------------

def repeat_copy_episode(batch: int, generator: torch.Generator, *, bits: int = 8, min_length: int = 1,
                        max_length: int = 10, min_repeats: int = 1, max_repeats: int = 10,
                        repeat_mean: float = REPEAT_MEAN, repeat_std: float = REPEAT_STD) -> Episode:
    """Repeat copy: L vectors, a delimiter with the normalised count n, then the vectors n times and
    an end marker. X = bits + 2, Y = bits + 1."""
    _check_int("batch", batch, 1)
    _check_int("bits", bits, 1)
    _check_int("min_length", min_length, 1)
    _check_int("max_length", max_length, 1)
    _check_le("min_length", min_length, "max_length", max_length)
    _check_int("min_repeats", min_repeats, 1)
    _check_int("max_repeats", max_repeats, 1)
    _check_le("min_repeats", min_repeats, "max_repeats", max_repeats)
    if not (math.isfinite(repeat_std) and repeat_std > 0):
        raise ValueError(f"repeat_std must be a finite number > 0, got {repeat_std!r}")
    if not math.isfinite(repeat_mean):
        raise ValueError(f"repeat_mean must be a finite number, got {repeat_mean!r}")

    def one(g: torch.Generator) -> Part:
        L = _randint(min_length, max_length, g)
        n = _randint(min_repeats, max_repeats, g)
        x = _random_bits((L, bits), g)  # (L, bits)
        end = L + 1 + L * n  # the end-marker step
        inputs, targets, mask = _empty_part(end + 1, bits + 2, bits + 1)
        inputs[:L, :bits] = x
        inputs[L, bits] = 1.0  # delimiter
        inputs[L, bits + 1] = (n - repeat_mean) / repeat_std  # normalised repeat count
        targets[L + 1:end, :bits] = x.repeat(n, 1)  # (L n, bits)
        targets[end, bits] = 1.0  # end marker
        mask[L + 1:] = 1.0
        return inputs, targets, mask

    return _batch(batch, generator, one)


# ---- §4.3 associative recall ---------------------------------------------------------------------

def associative_recall_episode(batch: int, generator: torch.Generator, *, bits: int = 6, item_length: int = 3,
                               min_items: int = 2, max_items: int = 6, decoy_share: float = 0.0,
                               decoy_bits: int = 0, shifted_decoy_share: float = 0.0,
                               blank_share: float = 0.0) -> Episode:
    """Associative recall: k delimited items, a query item between query delimiters, then the item
    that followed the query. X = bits + 2, Y = bits.

    decoy_share > 0 is a training distribution beside the paper's: each list, with that probability,
    holds a decoy, another stored item (uniform among the k − 1) equal to the queried item in all its
    vectors but one (uniform), which differs from the query's in at least one bit. In the paper's
    lists two stored items agree in all but one vector rarely (k = 6: 5 other items × 3 vectors × 2⁻¹²,
    about 1 list in 270), so a model can learn to find the queried item by part of it; a decoy makes
    that cost (see the README). decoy_bits > 0 makes each decoy the queried item with that many of its
    bits flipped (distinct places, uniform over all its vectors) instead: the near-duplicates, a few bits
    apart, that the paper's lists hold about as rarely and that a trained NTM still confuses.

    shifted_decoy_share > 0, likewise: each list, with that probability, holds a shifted decoy, another
    stored item (uniform among the k − 1, after any decoy, which it may overwrite) whose last m − 1
    vectors are the queried item's first m − 1, a match one step out of phase with the items. In the
    paper's lists one within a few bits of it is common but an exact one rare (k = 6: 5 items × 2⁻¹²,
    about 1 list in 800); a trained NTM's rare wrong answers have its read head at such a near-match
    (see the README).

    blank_share > 0, another training distribution beside the paper's (as copy's): each list, with that
    probability, has a run of 1-3 consecutive vectors (uniform, at most item_length) of one stored item
    (uniform among the k, after any decoy) set to zeros at a uniformly drawn place; where that item is
    the queried one, the query is blanked with it. In the paper's lists the queried item is all zero once
    in 2¹⁸ and a trained NTM then answers 7-99 % of such lists wrong, by seed (see the README); here
    about 1 planted list in 10 has it (E[1/k] / 3 for the paper's 2-6 items)."""
    _check_int("batch", batch, 1)
    _check_int("bits", bits, 1)
    _check_int("item_length", item_length, 1)
    _check_int("min_items", min_items, 2)  # the query is never the last item, so k ≥ 2
    _check_int("max_items", max_items, 2)
    _check_le("min_items", min_items, "max_items", max_items)
    if not 0.0 <= decoy_share <= 1.0:
        raise ValueError(f"decoy_share must be a probability in [0, 1], got {decoy_share}")
    if not 0.0 <= shifted_decoy_share <= 1.0:
        raise ValueError(f"shifted_decoy_share must be a probability in [0, 1], got {shifted_decoy_share}")
    if not 0.0 <= blank_share <= 1.0:
        raise ValueError(f"blank_share must be a probability in [0, 1], got {blank_share}")
    _check_int("decoy_bits", decoy_bits, 0)
    if decoy_bits > item_length * bits:
        raise ValueError(f"decoy_bits: a decoy flips at most the item's {item_length} × {bits} bits; got {decoy_bits}")
    if decoy_share and item_length < 2 and not decoy_bits:
        raise ValueError(f"decoy_share: a decoy shares all of the queried item's vectors but one, so items need at "
                         f"least 2 vectors; got item_length {item_length}")
    if shifted_decoy_share and item_length < 2:
        raise ValueError(f"shifted_decoy_share: a shifted decoy holds the queried item's first vectors one step "
                         f"later, so items need at least 2 vectors; got item_length {item_length}")
    m = item_length

    def one(g: torch.Generator) -> Part:
        k = _randint(min_items, max_items, g)
        items = _random_bits((k, m, bits), g)  # (k, m, bits)
        q = _randint(0, k - 2, g)
        if decoy_share and float(torch.rand((), generator=g)) < decoy_share:  # drawn only when asked
            j = _randint(0, k - 2, g)
            j += j >= q  # any stored item but the queried one
            if decoy_bits:
                flips = torch.randperm(m * bits, generator=g)[:decoy_bits]
                items[j] = items[q]
                items[j].view(-1)[flips] = 1.0 - items[q].reshape(-1)[flips]
            else:
                v = _randint(0, m - 1, g)  # the vector in which the decoy differs
                other = items[j, v].clone()
                items[j] = items[q]
                while torch.equal(other, items[q, v]):
                    other = _random_bits((bits,), g)
                items[j, v] = other
        if shifted_decoy_share and float(torch.rand((), generator=g)) < shifted_decoy_share:  # only when asked
            j = _randint(0, k - 2, g)
            j += j >= q
            items[j, 1:] = items[q, :-1]
            while torch.equal(items[j], items[q]):  # a constant queried item: keep the decoy a different item
                items[j, 0] = _random_bits((bits,), g)
        if blank_share and float(torch.rand((), generator=g)) < blank_share:  # drawn only when asked
            j = _randint(0, k - 1, g)
            run = _randint(1, min(3, m), g)
            start = _randint(0, m - run, g)
            items[j, start:start + run] = 0.0
        steps = (k + 2) * (m + 1)
        inputs, targets, mask = _empty_part(steps, bits + 2, bits)
        stored = inputs[:k * (m + 1)].view(k, m + 1, bits + 2)  # one row per item: delimiter, vectors
        stored[:, 0, bits] = 1.0  # item delimiters
        stored[:, 1:, :bits] = items
        query = k * (m + 1)  # the first query delimiter
        inputs[query, bits + 1] = 1.0
        inputs[query + 1:query + 1 + m, :bits] = items[q]
        inputs[query + 1 + m, bits + 1] = 1.0
        targets[steps - m:] = items[q + 1]
        mask[steps - m:] = 1.0
        return inputs, targets, mask

    return _batch(batch, generator, one)


# ---- §4.4 dynamic N-grams ------------------------------------------------------------------------

def _push(c: Tensor, bit: Tensor, order: int) -> Tensor:
    """The next context: shift bit s_t in as the least significant bit, c = Σ_{j=0}^{order−2} s_{t−j} 2^j.
    c, bit (B,) long -> (B,) long."""
    return ((c << 1) | bit) & (2 ** (order - 1) - 1)


def ngram_episode(batch: int, generator: torch.Generator, *, order: int = 6, length: int = 200,
                  return_probabilities: bool = False) -> Episode | tuple[Episode, Tensor]:
    """Dynamic N-grams: predict each bit of a sequence from a random order-n Markov source.
    X = Y = 1, T = length − 1, every step scored. With return_probabilities, also p (B, C)."""
    _check_int("batch", batch, 1)
    _check_int("order", order, 1, MAX_ORDER)
    _check_int("length", length, 2)
    C = 2 ** (order - 1)
    draws = [torch.rand(C + length, generator=generator) for _ in range(batch)]  # one sequence at a time
    u = torch.stack(draws, dim=1)  # (C + length, B)
    p = torch.sin(math.pi / 2 * u[:C]).square()  # (C, B) Beta(½, ½): the arcsine law of sin²(πU/2)
    u = u[C:]  # (length, B) uniforms that decide the bits
    s = torch.zeros(length, batch, dtype=torch.long)  # (length, B)
    c = torch.zeros(batch, dtype=torch.long)  # (B,) context of the next bit
    cols = torch.arange(batch)
    for t in range(length):
        p_one = p[c, cols] if t >= order - 1 else torch.full((batch,), 0.5)  # (B,) ½ without a full context
        s[t] = (u[t] < p_one).long()  # s_t ~ Bernoulli(p_c)
        c = _push(c, s[t], order)
    s = s.float()
    episode = Episode(
        inputs=s[:-1].unsqueeze(-1),  # (T, B, 1): s_0 … s_{length−2}
        targets=s[1:].unsqueeze(-1),  # (T, B, 1): s_1 … s_{length−1}
        mask=torch.ones(length - 1, batch),  # (T, B)
        lengths=torch.full((batch,), length - 1, dtype=torch.long),  # (B,)
    )
    return (episode, p.T.contiguous()) if return_probabilities else episode


def ngram_bits(episode: Episode) -> Tensor:
    """The whole bit sequence s_0 … s_T of an n-gram episode: (T + 1, B)."""
    return torch.cat([episode.inputs[:1, :, 0], episode.targets[:, :, 0]])


def ngram_optimal_probabilities(bits: Tensor, *, order: int = 6) -> Tensor:
    """The optimal Bayesian estimator (§4.4): P(s_{t+1} = 1 | s_0 … s_t) = (N1 + ½)/(N1 + N0 + 1).

    bits (T + 1, B) in {0, 1}, time-major like the episodes -> (T, B) float64, row t the prediction
    of s_{t+1} (aligned with the episode's targets); ½ while t < order − 2 (no full context)."""
    _check_int("order", order, 1, MAX_ORDER)
    if bits.dim() != 2 or bits.shape[0] < 2:
        raise ValueError(f"bits must have shape (T + 1, B) with T + 1 ≥ 2, got {tuple(bits.shape)}")
    if not torch.all((bits == 0) | (bits == 1)):
        raise ValueError("bits must hold only 0 and 1")
    T, B = bits.shape[0] - 1, bits.shape[1]
    s = bits.long()  # (T + 1, B)
    counts = torch.zeros(B, 2 ** (order - 1), 2, dtype=torch.float64)  # (B, C, 2): N0, N1 per context
    cols = torch.arange(B)
    c = torch.zeros(B, dtype=torch.long)  # (B,)
    probs = torch.full((T, B), 0.5, dtype=torch.float64)  # (T, B)
    for t in range(T):
        c = _push(c, s[t], order)  # the context of s_{t+1}
        if t >= order - 2:  # a full context exists
            n = counts[cols, c]  # (B, 2)
            probs[t] = (n[:, 1] + 0.5) / (n.sum(-1) + 1.0)
            counts[cols, c, s[t + 1]] += 1.0
    return probs


def ngram_optimal_cost_bits(bits: Tensor, *, order: int = 6) -> Tensor:
    """The estimator's cost in bits, −Σ_t log2 P(s_{t+1}), over all T predictions. bits (T + 1, B) -> (B,)."""
    p1 = ngram_optimal_probabilities(bits, order=order)  # (T, B)
    observed = bits[1:].to(torch.float64)  # (T, B)
    p = torch.where(observed == 1, p1, 1.0 - p1)  # (T, B) probability of the observed bit
    return -torch.log2(p).sum(0)


# ---- §4.5 priority sort --------------------------------------------------------------------------

def priority_sort_episode(batch: int, generator: torch.Generator, *, bits: int = 8, num_inputs: int = 20,
                          num_outputs: int = 16) -> Episode:
    """Priority sort: N vectors with priorities, a delimiter, then the M of highest priority in
    descending order. X = bits + 2, Y = bits."""
    _check_int("batch", batch, 1)
    _check_int("bits", bits, 1)
    _check_int("num_inputs", num_inputs, 1)
    _check_int("num_outputs", num_outputs, 1, num_inputs)
    N, M = num_inputs, num_outputs

    def one(g: torch.Generator) -> Part:
        x = _random_bits((N, bits), g)  # (N, bits)
        priority = 2.0 * torch.rand(N, generator=g) - 1.0  # (N,) U[−1, 1)
        inputs, targets, mask = _empty_part(N + 1 + M, bits + 2, bits)
        inputs[:N, :bits] = x
        inputs[:N, bits] = priority
        inputs[N, bits + 1] = 1.0  # delimiter
        targets[N + 1:] = x[priority.argsort(descending=True)[:M]]
        mask[N + 1:] = 1.0
        return inputs, targets, mask

    return _batch(batch, generator, one)


# ---- §4 cost -------------------------------------------------------------------------------------

def _check_outputs(logits: Tensor, targets: Tensor, mask: Tensor) -> None:
    if logits.dim() != 3 or logits.shape != targets.shape or mask.shape != logits.shape[:2]:
        raise ValueError(f"expected logits and targets (T, B, Y) and mask (T, B), got logits "
                         f"{tuple(logits.shape)}, targets {tuple(targets.shape)}, mask {tuple(mask.shape)}")


def bits_per_sequence(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """The paper's cost: Σ over scored steps and channels of −[y log2 σ(z) + (1 − y) log2(1 − σ(z))].

    logits, targets (T, B, Y), mask (T, B) -> (B,). Unscored steps contribute exactly 0."""
    _check_outputs(logits, targets, mask)
    nats = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (T, B, Y)
    nats = torch.where(mask.bool().unsqueeze(-1), nats, torch.zeros_like(nats))
    return nats.sum(dim=(0, 2)) / math.log(2)


def bit_errors(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Number of scored bits where (z > 0) ≠ y. logits, targets (T, B, Y), mask (T, B) -> (B,) long."""
    _check_outputs(logits, targets, mask)
    wrong = (logits > 0) != targets.bool()  # (T, B, Y)
    return (wrong & mask.bool().unsqueeze(-1)).sum(dim=(0, 2))
