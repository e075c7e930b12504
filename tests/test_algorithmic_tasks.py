import math
from collections import Counter

import pytest
import torch

from milestones.tasks.algorithmic import (
    REPEAT_STD,
    associative_recall_episode,
    bit_errors,
    bits_per_sequence,
    copy_episode,
    ngram_bits,
    ngram_episode,
    ngram_optimal_cost_bits,
    ngram_optimal_probabilities,
    priority_sort_episode,
    repeat_copy_episode,
)

GENERATORS = [copy_episode, repeat_copy_episode, associative_recall_episode, ngram_episode, priority_sort_episode]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_padding_is_zero(ep):
    T = ep.inputs.shape[0]
    assert ep.lengths.max() == T
    for b, L in enumerate(ep.lengths.tolist()):
        assert not ep.inputs[L:, b].any() and not ep.targets[L:, b].any() and not ep.mask[L:, b].any()


def assert_is_binary(t):
    assert torch.all((t == 0) | (t == 1))


# ---- copy ----------------------------------------------------------------------------------------

def test_copy_layout():
    ep = copy_episode(64, seeded(0))
    T = ep.inputs.shape[0]
    assert ep.inputs.shape == (T, 64, 9) and ep.targets.shape == (T, 64, 8) and ep.mask.shape == (T, 64)
    assert ep.inputs.dtype == ep.targets.dtype == ep.mask.dtype == torch.float32 and ep.lengths.dtype == torch.long
    assert_padding_is_zero(ep)
    assert_is_binary(ep.inputs) and assert_is_binary(ep.targets)
    for b in range(64):
        L = (ep.lengths[b].item() - 1) // 2
        assert ep.lengths[b] == 2 * L + 1 and 1 <= L <= 20
        x, y, m = ep.inputs[:, b], ep.targets[:, b], ep.mask[:, b]
        assert torch.equal(x[:L, 8], torch.zeros(L))  # no delimiter among the vectors
        assert torch.equal(x[L], torch.tensor([0.0] * 8 + [1.0]))  # the delimiter, exactly at step L
        assert not x[L + 1:].any()  # no input while answering
        assert torch.equal(y[L + 1:2 * L + 1], x[:L, :8])  # the answer is the input, in order
        assert not y[:L + 1].any()
        assert torch.equal(m[:2 * L + 1], torch.tensor([0.0] * (L + 1) + [1.0] * L))
        assert m.sum() == L


def test_copy_lengths_are_uniform_and_bits_are_fair():
    ep = copy_episode(4000, seeded(1))
    L = (ep.lengths - 1) // 2
    counts = Counter(L.tolist())
    assert sorted(counts) == list(range(1, 21))
    assert all(140 < n < 260 for n in counts.values())  # 200 expected each, σ ≈ 14
    data = ep.targets.sum() / (ep.mask.sum() * 8)
    assert abs(data.item() - 0.5) < 0.005
    assert copy_episode(10, seeded(2), min_length=7, max_length=7).lengths.tolist() == [15] * 10


def test_copy_blank_run_plants_one_run_of_zero_vectors_anywhere_and_leaves_the_paper_stream_alone():
    plain, same = copy_episode(50, seeded(3)), copy_episode(50, seeded(3), blank_run=0)
    assert torch.equal(plain.inputs, same.inputs)  # blank_run=0 draws nothing extra
    ep = copy_episode(400, seeded(4), min_length=5, max_length=12, blank_run=3)
    starts = Counter()
    for b in range(400):
        L = (ep.lengths[b].item() - 1) // 2
        x = ep.inputs[:L, b, :8]
        run = next(k for k in range(L - 2) if not x[k:k + 3].any())  # the first run of 3 blank vectors
        starts[run == 0, run == L - 3] += 1
        assert torch.equal(ep.targets[L + 1:2 * L + 1, b], x)  # the answer still repeats the input
    assert starts[True, False] > 0 and starts[False, True] > 0 and starts[False, False] > 0  # ends and middle
    with pytest.raises(ValueError, match="blank_run"):
        copy_episode(2, seeded(0), min_length=2, blank_run=3)


def test_copy_blank_share_plants_runs_of_one_to_three_in_that_share_of_sequences():
    plain, same = copy_episode(50, seeded(3)), copy_episode(50, seeded(3), blank_share=0.0)
    assert torch.equal(plain.inputs, same.inputs)  # blank_share=0 draws nothing extra
    n = 4000
    ep = copy_episode(n, seeded(5), min_length=10, max_length=10, blank_share=0.25)
    longest = []
    for b in range(n):
        blank = (ep.inputs[:10, b, :8].sum(-1) == 0).tolist()
        run = best = 0
        for z in blank:
            run = run + 1 if z else 0
            best = max(best, run)
        longest.append(best)
        assert torch.equal(ep.targets[11:21, b], ep.inputs[:10, b, :8])
    share = {k: sum(r >= k for r in longest) / n for k in (1, 2, 3, 4)}
    # planted in 25 %, runs of 1, 2 or 3 alike; a vector of 8 fair bits is blank by chance 1 time in 256
    assert 0.25 < share[1] < 0.31  # 0.25 + 0.75 · (1 − (255/256)^10) ≈ 0.278
    assert 0.14 < share[2] < 0.20 and 0.065 < share[3] < 0.10  # ≈ 0.167 and 0.083
    assert share[4] < 0.01  # only where a chance blank touches a planted run
    with pytest.raises(ValueError, match="blank_share must be a probability"):
        copy_episode(2, seeded(0), blank_share=1.5)
    with pytest.raises(ValueError, match="give one of them"):
        copy_episode(2, seeded(0), blank_run=1, blank_share=0.5)


# ---- repeat copy ---------------------------------------------------------------------------------

def test_repeat_copy_layout():
    ep = repeat_copy_episode(64, seeded(3), bits=4)
    T = ep.inputs.shape[0]
    assert ep.inputs.shape == (T, 64, 6) and ep.targets.shape == (T, 64, 5)
    assert_padding_is_zero(ep)
    for b in range(64):
        x, y, m = ep.inputs[:, b], ep.targets[:, b], ep.mask[:, b]
        L = int(x[:, 4].argmax())  # the delimiter step
        assert x[:, 4].sum() == 1 and 1 <= L <= 10
        n = round(x[L, 5].item() * REPEAT_STD + 5.5)
        assert 1 <= n <= 10
        assert math.isclose(x[L, 5].item(), (n - 5.5) / REPEAT_STD, rel_tol=1e-6)
        assert torch.count_nonzero(x[:, 5]) == 1  # the count only at the delimiter step (n ≠ 5.5)
        assert ep.lengths[b] == L + 1 + L * n + 1
        end = L + 1 + L * n
        assert not x[L + 1:].any() and not y[:L + 1].any()
        assert torch.equal(y[L + 1:end, :4], x[:L, :4].repeat(n, 1))  # the vectors n times
        assert torch.equal(y[L + 1:end, 4], torch.zeros(L * n))
        assert torch.equal(y[end], torch.tensor([0.0, 0, 0, 0, 1]))  # the end marker
        assert torch.equal(m[:end + 1], torch.tensor([0.0] * (L + 1) + [1.0] * (L * n + 1)))


def test_repeat_count_is_normalised_to_the_training_distribution():
    assert math.isclose(REPEAT_STD, 2.8723, abs_tol=1e-4)
    ep = repeat_copy_episode(3000, seeded(4), bits=1)
    L = ep.inputs[:, :, 1].argmax(0)  # (B,)
    count = ep.inputs[L, torch.arange(3000), 2]  # (B,)
    assert abs(count.mean().item()) < 0.05 and abs(count.var().item() - 1) < 0.05  # mean 0, variance 1
    assert math.isclose(count.min().item(), -4.5 / REPEAT_STD, rel_tol=1e-6)
    assert math.isclose(count.max().item(), 4.5 / REPEAT_STD, rel_tol=1e-6)
    doubled = repeat_copy_episode(2, seeded(5), bits=1, min_repeats=20, max_repeats=20)
    L = doubled.inputs[:, :, 1].argmax(0)
    assert torch.allclose(doubled.inputs[L, torch.arange(2), 2], torch.full((2,), 14.5 / REPEAT_STD))
    assert torch.equal(doubled.mask.sum(0), (20 * L + 1).float())


# ---- associative recall --------------------------------------------------------------------------

def test_associative_recall_answer_is_the_item_after_the_query():
    m, bits = 3, 6
    ep = associative_recall_episode(200, seeded(6))
    assert ep.inputs.shape[1:] == (200, 8) and ep.targets.shape[1:] == (200, 6)
    assert_padding_is_zero(ep)
    seen = Counter()
    for b in range(200):
        x, y, mask = ep.inputs[:, b], ep.targets[:, b], ep.mask[:, b]
        k = int(x[:, bits].sum())
        assert 2 <= k <= 6 and ep.lengths[b] == (k + 2) * (m + 1)
        assert torch.equal(x[:, bits].nonzero().flatten(), torch.arange(k) * (m + 1))  # item delimiters
        items = x[:k * (m + 1)].view(k, m + 1, 8)[:, 1:, :bits]  # (k, m, bits)
        query = k * (m + 1)
        assert torch.equal(x[:, bits + 1].nonzero().flatten(), torch.tensor([query, query + m + 1]))
        q_item = x[query + 1:query + 1 + m, :bits]
        matches = [i for i in range(k) if torch.equal(items[i], q_item)]
        q = matches[0]
        assert q <= k - 2  # never the last item
        assert torch.equal(y[query + m + 2:query + 2 * m + 2], items[q + 1])
        assert not y[:query + m + 2].any() and not x[query + m + 2:].any()
        assert torch.equal(mask[:ep.lengths[b]], torch.tensor([0.0] * (query + m + 2) + [1.0] * m))
        seen[k, q] += 1
    assert {k for k, _ in seen} == {2, 3, 4, 5, 6}
    assert {q for k, q in seen if k == 6} == {0, 1, 2, 3, 4}



def test_associative_recall_decoy_share_plants_a_near_copy_of_the_queried_item_in_that_share_of_lists():
    m, bits, n = 3, 6, 3000
    plain, same = associative_recall_episode(50, seeded(3)), associative_recall_episode(50, seeded(3), decoy_share=0.0)
    assert torch.equal(plain.inputs, same.inputs)  # decoy_share=0 draws nothing extra
    ep = associative_recall_episode(n, seeded(8), decoy_share=0.3)
    decoys, where, differs = 0, Counter(), Counter()
    for b in range(n):
        x, y = ep.inputs[:, b], ep.targets[:, b]
        k = int(x[:, bits].sum())
        items = x[:k * (m + 1)].view(k, m + 1, 8)[:, 1:, :bits]
        query = x[k * (m + 1) + 1:k * (m + 1) + 1 + m, :bits]
        same_vectors = (items == query).all(-1).sum(-1)  # (k,): vectors equal to the query's, per item
        assert (same_vectors == m).sum() == 1  # the queried item alone equals the query
        q = int((same_vectors == m).nonzero())
        end = int(ep.lengths[b])
        assert torch.equal(y[end - m:end], items[q + 1])  # the answer is still the item after it
        near = (same_vectors == m - 1).nonzero().flatten().tolist()
        if near:
            decoys += 1
            where["before" if near[0] < q else "after"] += 1
            differs[int((items[near[0]] != query).any(-1).int().argmax())] += 1
    # planted in 30 %; by chance an item agrees with the queried one in 2 of 3 vectors in < 0.4 % of lists
    assert 0.27 < decoys / n < 0.33
    assert where["before"] > 0 and where["after"] > 0 and set(differs) == {0, 1, 2}
    with pytest.raises(ValueError, match="decoy_share must be a probability"):
        associative_recall_episode(2, seeded(0), decoy_share=-0.1)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        associative_recall_episode(2, seeded(0), item_length=1, decoy_share=0.5)


def test_associative_recall_decoy_bits_makes_each_decoy_the_queried_item_with_that_many_bits_flipped():
    m, bits, n = 3, 6, 2000
    ep = associative_recall_episode(n, seeded(5), decoy_share=0.5, decoy_bits=2)
    decoys, vectors = 0, Counter()
    for b in range(n):
        x = ep.inputs[:, b]
        k = int(x[:, bits].sum())
        items = x[:k * (m + 1)].view(k, m + 1, 8)[:, 1:, :bits]
        query = x[k * (m + 1) + 1:k * (m + 1) + 1 + m, :bits]
        apart = (items != query).sum((1, 2))  # (k,): bits each item differs from the query in
        assert (apart == 0).sum() == 1  # the queried item alone equals the query
        if (apart == 2).any():
            decoys += 1
            j = int((apart == 2).nonzero()[0])
            vectors[int((items[j] != query).any(-1).sum())] += 1  # the two flips in one vector or two
    # planted in half; by chance an item lies 2 bits from the queried one in about 1 list in 3 000
    assert 0.46 < decoys / n < 0.54
    assert set(vectors) == {1, 2}  # flips anywhere in the item, not one vector
    with pytest.raises(ValueError, match="decoy_bits: a decoy flips at most the item's 3 × 6 bits; got 19"):
        associative_recall_episode(2, seeded(0), decoy_share=0.5, decoy_bits=19)
    one = associative_recall_episode(50, seeded(2), item_length=1, decoy_share=1.0, decoy_bits=1)  # 1-vector items
    assert one.inputs.shape[1] == 50


def test_associative_recall_shifted_decoy_share_plants_the_queried_items_first_vectors_one_step_later():
    m, bits, n = 3, 6, 3000
    plain = associative_recall_episode(50, seeded(3))
    same = associative_recall_episode(50, seeded(3), shifted_decoy_share=0.0)
    assert torch.equal(plain.inputs, same.inputs)  # shifted_decoy_share=0 draws nothing extra
    ep = associative_recall_episode(n, seeded(8), shifted_decoy_share=0.3)
    shifted, where = 0, Counter()
    for b in range(n):
        x, y = ep.inputs[:, b], ep.targets[:, b]
        k = int(x[:, bits].sum())
        items = x[:k * (m + 1)].view(k, m + 1, 8)[:, 1:, :bits]
        query = x[k * (m + 1) + 1:k * (m + 1) + 1 + m, :bits]
        whole = [j for j in range(k) if torch.equal(items[j], query)]
        assert len(whole) == 1  # the queried item alone equals the query
        q = whole[0]
        end = int(ep.lengths[b])
        assert torch.equal(y[end - m:end], items[q + 1])  # the answer is still the item after it
        late = [j for j in range(k) if j != q and torch.equal(items[j, 1:], query[:-1])]
        if late:
            shifted += 1
            where["before" if late[0] < q else "after"] += 1
    # planted in 30 %; by chance in about 1 list in 1 400 (E[k − 1] = 3 items, each 2^-12)
    assert 0.27 < shifted / n < 0.33
    assert where["before"] > 0 and where["after"] > 0
    two = associative_recall_episode(200, seeded(1), item_length=2, bits=1, min_items=2, max_items=2,
                                     shifted_decoy_share=1.0)  # item 0 queried, item 1 its shifted decoy
    items = two.inputs[:6].view(2, 3, 200, 3)[:, 1:, :, 0]  # (item, vector, list): 1-bit vectors
    assert torch.equal(items[1, 1], items[0, 0])
    assert (items[1] != items[0]).any(0).all()  # a constant queried item (half of these lists) keeps a decoy
    with pytest.raises(ValueError, match="shifted_decoy_share must be a probability"):
        associative_recall_episode(2, seeded(0), shifted_decoy_share=1.1)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        associative_recall_episode(2, seeded(0), item_length=1, shifted_decoy_share=0.5)


def test_associative_recall_blank_share_blanks_one_to_three_vectors_of_one_item_in_that_share_of_lists():
    m, bits, n = 3, 6, 4000
    plain, same = associative_recall_episode(50, seeded(3)), associative_recall_episode(50, seeded(3), blank_share=0.0)
    assert torch.equal(plain.inputs, same.inputs)  # blank_share=0 draws nothing extra
    ep = associative_recall_episode(n, seeded(9), blank_share=0.3)
    runs, zero_queried = Counter(), 0
    for b in range(n):
        x, y = ep.inputs[:, b], ep.targets[:, b]
        k = int(x[:, bits].sum())
        items = x[:k * (m + 1)].view(k, m + 1, 8)[:, 1:, :bits]
        query = x[k * (m + 1) + 1:k * (m + 1) + 1 + m, :bits]
        q = int((items == query).all(-1).all(-1).int().argmax())
        assert torch.equal(items[q], query)  # a blanked queried item is queried blank
        end = int(ep.lengths[b])
        assert torch.equal(y[end - m:end], items[q + 1])  # the answer is the item after it, as stored
        blank = items.sum(-1) == 0  # (k, m)
        longest = run = 0
        for row in blank.tolist():  # the longest run of blank vectors within one item
            run = 0
            for z in row:
                run = run + 1 if z else 0
                longest = max(longest, run)
        runs[longest] += 1
        zero_queried += bool(blank[q].all())
    # planted in 30 %, runs of 1, 2 or 3 alike; a vector of 6 fair bits is blank by chance 1 time in 64,
    # two in a row within an item in < 0.3 % of lists, three in < 0.01 %
    assert 0.18 < (runs[2] + runs[3]) / n < 0.22  # 0.3 · 2/3
    assert 0.085 < runs[3] / n < 0.115  # 0.3 / 3: a whole item blank
    assert 0.02 < zero_queried / n < 0.04  # 0.3 · E[1/k] / 3 ≈ 0.029: the queried item blanked whole
    with pytest.raises(ValueError, match="blank_share must be a probability"):
        associative_recall_episode(2, seeded(0), blank_share=1.5)


# ---- priority sort -------------------------------------------------------------------------------

def test_priority_sort_targets_are_the_top_16_in_descending_priority():
    ep = priority_sort_episode(128, seeded(7))
    assert ep.inputs.shape == (37, 128, 10) and ep.targets.shape == (37, 128, 8)
    assert ep.lengths.tolist() == [37] * 128
    priority = ep.inputs[:20, :, 8]  # (20, B)
    assert priority.min() >= -1 and priority.max() <= 1
    assert abs(priority.mean().item()) < 0.03 and abs(priority.var().item() - 1 / 3) < 0.02  # U[−1, 1]
    assert torch.equal(ep.inputs[20], torch.tensor([0.0] * 9 + [1.0]).expand(128, 10))
    assert not ep.inputs[21:].any() and not ep.inputs[:20, :, 9].any() and not ep.targets[:21].any()
    assert torch.equal(ep.mask, torch.cat([torch.zeros(21, 128), torch.ones(16, 128)]))
    for b in range(128):
        pairs = sorted(zip(priority[:, b].tolist(), ep.inputs[:20, b, :8].tolist()), key=lambda pv: -pv[0])
        assert ep.targets[21:, b].tolist() == [v for _, v in pairs[:16]]


# ---- dynamic n-grams -----------------------------------------------------------------------------

def test_ngram_layout():
    ep = ngram_episode(16, seeded(8))
    assert ep.inputs.shape == (199, 16, 1) and ep.targets.shape == (199, 16, 1)
    assert torch.equal(ep.inputs[1:], ep.targets[:-1])  # the target is the next input
    assert torch.equal(ep.mask, torch.ones(199, 16)) and ep.lengths.tolist() == [199] * 16
    assert_is_binary(ep.inputs) and assert_is_binary(ep.targets)
    bits = ngram_bits(ep)
    assert bits.shape == (200, 16)
    assert torch.equal(bits[:-1], ep.inputs[..., 0]) and torch.equal(bits[1:], ep.targets[..., 0])


def test_ngram_probabilities_are_beta_half_half():
    ep, p = ngram_episode(4000, seeded(9), length=2, return_probabilities=True)
    assert p.shape == (4000, 32) and p.min() >= 0 and p.max() <= 1
    assert abs(p.mean().item() - 0.5) < 0.005
    assert abs(p.var().item() - 1 / 8) < 0.002  # Beta(½, ½): αβ / ((α + β)² (α + β + 1)) = 1/8
    for x in (0.05, 0.3, 0.5, 0.9):  # the arcsine CDF (2/π) arcsin √x
        assert abs((p <= x).double().mean().item() - 2 / math.pi * math.asin(math.sqrt(x))) < 0.006
    bits = ngram_bits(ep)  # length 2 < order: no full context, both bits Bernoulli(½)
    assert abs(bits.mean().item() - 0.5) < 0.02


def test_ngram_bits_follow_p_of_the_context_with_the_latest_bit_least_significant():
    ep, p = ngram_episode(6, seeded(10), order=3, length=3000, return_probabilities=True)
    s = ngram_bits(ep).long()  # (3000, B)
    context = 2 * s[:-2] + s[1:-1]  # context of s_t is 2 s_{t−2} + s_{t−1}, t = 2 …
    nxt = s[2:]
    checked = 0
    for b in range(6):
        for c in range(4):
            follows = nxt[:, b][context[:, b] == c]
            if len(follows) >= 200:
                pc = p[b, c].item()
                sigma = math.sqrt(pc * (1 - pc) / len(follows))
                assert abs(follows.double().mean().item() - pc) < 5 * sigma + 1e-3, (b, c)
                checked += 1
    assert checked >= 12


# A hand-worked sequence for order 3 (contexts of 2 bits, c = 2 s_{t−1} + s_t predicts s_{t+1}):
#   t      0  1  2  3  4  5  6  7  8  9  10 11 12
#   s_t    0  1  1  0  1  1  0  1  0  0  1  1  0
# t = 0 has no full context: ½. Then the counts N1/N0 of each context before it is used:
#   t=1 c=1 (0,1) none ½ → 1      t=2 c=3 none ½ → 0     t=3 c=2 none ½ → 1
#   t=4 c=1 1/0: 1.5/2 = 0.75 → 1        t=5 c=3 0/1: 0.5/2 = 0.25 → 0
#   t=6 c=2 1/0: 0.75 → 1                t=7 c=1 2/0: 2.5/3 → 0
#   t=8 c=2 2/0: 2.5/3 → 0               t=9 c=0 none ½ → 1
#   t=10 c=1 followed by 1, 1, 0: 2.5/4 = 0.625 → 1      t=11 c=3 0/2: 0.5/3 → 0
HAND_BITS = [0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0]
HAND_P_ONE = [0.5, 0.5, 0.5, 0.5, 0.75, 0.25, 0.75, 5 / 6, 5 / 6, 0.5, 0.625, 1 / 6]
HAND_P_OBSERVED = [0.5, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1 / 6, 1 / 6, 0.5, 0.625, 5 / 6]


def test_optimal_estimator_against_hand_computed_values():
    bits = torch.tensor(HAND_BITS, dtype=torch.float32)
    both = torch.stack([bits, 1 - bits], dim=1)  # (13, 2): the sequence and its complement
    probs = ngram_optimal_probabilities(both, order=3)
    assert probs.shape == (12, 2) and probs.dtype == torch.float64
    expected = torch.tensor(HAND_P_ONE, dtype=torch.float64)
    assert torch.allclose(probs[:, 0], expected, atol=1e-12)
    assert torch.allclose(probs[:, 1], 1 - expected, atol=1e-12)  # the estimator is symmetric in 0 ↔ 1
    cost = ngram_optimal_cost_bits(both, order=3)
    hand_cost = -sum(math.log2(p) for p in HAND_P_OBSERVED)
    assert math.isclose(hand_cost, 5 + 3 * math.log2(4 / 3) + 2 * math.log2(6) + math.log2(1.6) + math.log2(1.2))
    assert torch.allclose(cost, torch.tensor([hand_cost, hand_cost], dtype=torch.float64), atol=1e-12)


def test_optimal_estimator_matches_a_dictionary_reference():
    ep = ngram_episode(3, seeded(11), length=120)
    bits = ngram_bits(ep)
    probs = ngram_optimal_probabilities(bits)
    for b in range(3):
        s = [int(v) for v in bits[:, b].tolist()]
        counts = {}
        for t in range(len(s) - 1):
            if t < 4:
                expected = 0.5
            else:
                key = tuple(s[t - 4:t + 1])
                n0, n1 = counts.get(key, (0, 0))
                expected = (n1 + 0.5) / (n0 + n1 + 1)
                counts[key] = (n0 + (s[t + 1] == 0), n1 + (s[t + 1] == 1))
            assert math.isclose(probs[t, b].item(), expected, rel_tol=1e-12)


def test_optimal_cost_is_near_the_papers_133_bits():
    bits = ngram_bits(ngram_episode(1000, seeded(12)))
    cost = ngram_optimal_cost_bits(bits)
    assert cost.shape == (1000,)
    assert 128 < cost.mean().item() < 137  # Fig. 13: ≈ 133 bits; σ of the mean here ≈ 1.1


# ---- batches, padding and seeds ------------------------------------------------------------------

@pytest.mark.parametrize("make", GENERATORS)
def test_each_sequence_is_what_generating_it_alone_gives(make):
    batch = make(8, seeded(13))
    if make in (copy_episode, repeat_copy_episode, associative_recall_episode):
        assert len(set(batch.lengths.tolist())) > 1  # mixed lengths
    assert_padding_is_zero(batch)
    g = seeded(13)
    for b in range(8):
        alone = make(1, g)
        L = batch.lengths[b].item()
        assert alone.lengths.tolist() == [L]
        assert torch.equal(batch.inputs[:L, b], alone.inputs[:, 0])
        assert torch.equal(batch.targets[:L, b], alone.targets[:, 0])
        assert torch.equal(batch.mask[:L, b], alone.mask[:, 0])


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_are_reproducible_from_their_seed(make):
    a, b, c = make(4, seeded(14)), make(4, seeded(14)), make(4, seeded(15))
    for field in ("inputs", "targets", "mask", "lengths"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert a.inputs.shape != c.inputs.shape or not torch.equal(a.inputs, c.inputs)


# ---- the cost ------------------------------------------------------------------------------------

def test_bits_per_sequence_on_known_logits():
    ep = copy_episode(5, seeded(16))
    confident = 50 * (2 * ep.targets - 1)
    assert torch.all(bits_per_sequence(confident, ep.targets, ep.mask) < 1e-12)
    undecided = torch.zeros_like(ep.targets)  # σ(0) = ½: one bit per scored bit
    expected = 8 * ep.mask.sum(0)
    assert torch.allclose(bits_per_sequence(undecided, ep.targets, ep.mask), expected, rtol=1e-6)
    unscored = ~ep.mask.bool().unsqueeze(-1)  # (T, B, 1)
    for junk in (torch.nan, torch.inf, -torch.inf):  # unscored steps may hold anything
        logits = undecided.masked_fill(unscored, junk)
        assert torch.allclose(bits_per_sequence(logits, ep.targets, ep.mask), expected, rtol=1e-6)


def test_bits_per_sequence_matches_a_float64_reference():
    g = seeded(17)
    z = 3 * torch.randn(6, 3, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (6, 3, 4), generator=g).double()
    mask = torch.tensor([[1.0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1], [1, 0, 0]], dtype=torch.float64)
    expected = torch.zeros(3, dtype=torch.float64)
    for t in range(6):
        for b in range(3):
            for i in range(4):
                if mask[t, b]:
                    p = 1 / (1 + math.exp(-z[t, b, i].item()))
                    expected[b] -= math.log2(p) if y[t, b, i] == 1 else math.log2(1 - p)
    assert torch.allclose(bits_per_sequence(z, y, mask), expected, rtol=1e-12)


def test_bit_errors_counts_exact_mismatches():
    targets = torch.tensor([[[1.0, 0], [0, 0]], [[1, 1], [0, 1]], [[0, 1], [1, 1]]])  # (3, 2, 2)
    mask = torch.tensor([[1.0, 0], [1, 1], [0, 1]])
    logits = torch.tensor([[[2.0, -1], [5, 5]],  # b=1 unscored: ignored
                           [[-0.5, 3], [0, 0]],  # b=0: one wrong; b=1: 0 predicts 0 → one wrong
                           [[9, -9], [-1, -1]]])  # b=0 unscored; b=1: both wrong
    assert bit_errors(logits, targets, mask).tolist() == [1, 3]
    assert bit_errors(50 * (2 * targets - 1), targets, mask).tolist() == [0, 0]


# ---- argument validation -------------------------------------------------------------------------

@pytest.mark.parametrize("make, kwargs, pattern", [
    (copy_episode, dict(batch=0), r"batch .*got 0"),
    (copy_episode, dict(bits=0), r"bits .*≥ 1, got 0"),
    (copy_episode, dict(min_length=0), r"min_length .*got 0"),
    (copy_episode, dict(min_length=5, max_length=3), r"min_length must be ≤ max_length.*5.*3"),
    (copy_episode, dict(max_length=2.5), r"max_length .*integer.*got 2.5"),
    (repeat_copy_episode, dict(min_repeats=0), r"min_repeats .*got 0"),
    (repeat_copy_episode, dict(repeat_std=0.0), r"repeat_std .*> 0, got 0.0"),
    (associative_recall_episode, dict(min_items=1), r"min_items .*≥ 2, got 1"),
    (associative_recall_episode, dict(item_length=0), r"item_length .*got 0"),
    (ngram_episode, dict(order=0), r"order .*\[1, 16\], got 0"),
    (ngram_episode, dict(length=1), r"length .*≥ 2, got 1"),
    (priority_sort_episode, dict(num_outputs=21), r"num_outputs .*\[1, 20\], got 21"),
])
def test_arguments_are_validated(make, kwargs, pattern):
    kwargs = dict(batch=2, generator=seeded(0)) | kwargs
    with pytest.raises(ValueError, match=pattern):
        make(**kwargs)


def test_estimator_and_cost_validate_their_inputs():
    with pytest.raises(ValueError, match=r"bits must have shape \(T \+ 1, B\).*\(5,\)"):
        ngram_optimal_probabilities(torch.zeros(5))
    with pytest.raises(ValueError, match="only 0 and 1"):
        ngram_optimal_probabilities(torch.full((5, 1), 2.0))
    with pytest.raises(ValueError, match=r"logits \(3, 2, 4\), targets \(3, 2, 5\)"):
        bits_per_sequence(torch.zeros(3, 2, 4), torch.zeros(3, 2, 5), torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"mask \(2, 3\)"):
        bit_errors(torch.zeros(3, 2, 4), torch.zeros(3, 2, 4), torch.ones(2, 3))
