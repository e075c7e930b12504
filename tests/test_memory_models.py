"""MemN2N and EntNet against literal float64 implementations of the papers' equations, masking,
temporal order, random noise, restarts side by side, the official gradient clipping, and
overfitting a handful of stories; EntNet's hand-written backward against autograd."""
import math

import pytest
import torch

from milestones.memory import babi
from milestones.memory.ensemble import BestMembers, Ensemble
from milestones.memory.entnet import EntNet, Recurrence
from milestones.memory.memn2n import MemN2N, position_encoding, random_noise
from milestones.memory.training import Schedule, batches, clip_global_, clip_per_matrix_, epoch, error_rate, errors


def test_position_encoding_is_the_closed_form():
    d, L = 5, 7
    lengths = torch.tensor([4, 7, 1])
    got = position_encoding(lengths, L, d)
    official = position_encoding(lengths, L, d, official=True)
    for n, J in enumerate(lengths.tolist()):
        for j in range(1, L + 1):
            for k in range(1, d + 1):
                paper = (1 - j / J) - (k / d) * (1 - 2 * j / J) if j <= J else 0.0
                code = 1 + 4 * (k - (d + 1) / 2) * (j - (J + 1) / 2) / (d * J) if j <= J else 0.0
                assert got[n, j - 1, k - 1].item() == pytest.approx(paper, abs=1e-6)
                assert official[n, j - 1, k - 1].item() == pytest.approx(code, abs=1e-6)
    # the two weightings are different functions (the reference's "i.e." equates them)
    assert not torch.allclose(got, official)


def literal_memn2n(model: MemN2N, story, question, count, linear=False):
    """Eqs. 1-3 of the paper with loops over hops, slots and words, in float64. With `pe_words` J is
    that number for every statement and question and each temporal vector a time word in position
    J (weighted by l_kJ); with `fixed_slots` F the memory holds F slots, those after the statements
    zero vectors in the softmax (the official code's)."""
    E = model.embed.detach().double()
    T = model.time.detach().double()
    d, K = model.dim, model.hops
    adjacent = model.tying == "adjacent"

    def weight(j, J, k):
        if model.encoding == "bow":
            return 1.0
        if model.encoding == "pe":
            return (1 - j / J) - (k / d) * (1 - 2 * j / J)
        return 1 + 4 * (k - (d + 1) / 2) * (j - (J + 1) / 2) / (d * J)

    def embed(words, matrix):
        words = [w for w in words.tolist() if w]
        J = model.pe_words or len(words)
        out = torch.zeros(d, dtype=torch.float64)
        for j, w in enumerate(words, 1):
            for k in range(1, d + 1):
                out[k - 1] += weight(j, J, k) * E[matrix, w, k - 1]
        return out

    def time(matrix, i):
        if not model.temporal:
            return 0
        J = model.pe_words
        scale = [weight(J, J, k) if J else 1.0 for k in range(1, d + 1)]
        return T[matrix, i] * torch.tensor(scale, dtype=torch.float64)

    logits, attention = [], []
    for b in range(story.shape[0]):
        u = embed(question[b], 2 if not adjacent else 0)
        hops = []
        for k in range(K):
            a, c = (k, k + 1) if adjacent else (0, 1)
            n = int(count[b])
            m = [embed(story[b, i], a) + time(a, i) for i in range(n)]
            cv = [embed(story[b, i], c) + time(c, i) for i in range(n)]
            empty = max((model.fixed_slots or 0) - n, 0)  # zero vectors after the statements
            m += [torch.zeros(d, dtype=torch.float64)] * empty
            cv += [torch.zeros(d, dtype=torch.float64)] * empty
            scores = torch.stack([u @ mi for mi in m])
            p = scores if linear else torch.softmax(scores, 0)
            o = sum(p[i] * cv[i] for i in range(len(m)))
            u = (u if adjacent else model.H.detach().double() @ u) + o
            hops.append(torch.cat([p[:n], torch.zeros(story.shape[1] - n, dtype=torch.float64)]))
        W = E[K] if adjacent else E[3]
        logits.append(W @ u)
        attention.append(torch.stack(hops))
    return torch.stack(logits), torch.stack(attention)


def random_story(B=3, M=6, L=5, V=13, seed=0):
    g = torch.Generator().manual_seed(seed)
    story = torch.randint(1, V, (B, M, L), generator=g)
    story[:, :, 3:] *= torch.randint(0, 2, (B, M, 1), generator=g)  # statements of 3 or 5 words
    question = torch.randint(1, V, (B, 4), generator=g)
    question[0, 2:] = 0
    count = torch.tensor([6, 3, 1])[:B]
    return story, question, count


@pytest.mark.parametrize("encoding, tying, linear, pe_words, fixed_slots", [
    ("pe", "adjacent", False, None, None), ("pe-official", "adjacent", False, None, None),
    ("bow", "layerwise", False, None, None), ("pe", "adjacent", True, None, None),
    # the official code: one J for all (the longest statement + the time word), a memory of F slots
    ("pe-official", "adjacent", False, 6, 8), ("pe-official", "layerwise", False, 9, 4),
    ("pe", "adjacent", False, 7, 6), ("pe-official", "adjacent", True, 6, 8)])
def test_memn2n_is_the_papers_equations(encoding, tying, linear, pe_words, fixed_slots):
    torch.manual_seed(1)
    model = MemN2N(13, dim=6, hops=3, memory_size=6, encoding=encoding, tying=tying, init_std=0.3,
                   pe_words=pe_words, fixed_slots=fixed_slots)
    story, question, count = random_story()
    logits, attention = model(story, question, count, linear=linear, return_attention=True)
    want_logits, want_attention = literal_memn2n(model, story, question, count, linear)
    torch.testing.assert_close(logits.double(), want_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(attention.double(), want_attention, rtol=1e-4, atol=1e-5)


def test_padded_slots_get_no_attention_whatever_they_hold():
    torch.manual_seed(2)
    model = MemN2N(13, dim=6, hops=2, memory_size=6, init_std=0.5)
    story, question, count = random_story()  # padded slots hold real words here, not nil
    _, attention = model(story, question, count, return_attention=True)
    for b, n in enumerate(count.tolist()):
        assert torch.all(attention[b, :, n:] == 0)
        torch.testing.assert_close(attention[b, :, :n].sum(-1), torch.ones(2))
    _, linear = model(story, question, count, linear=True, return_attention=True)
    assert torch.all(linear[1, :, 3:] == 0) and torch.all(linear[2, :, 1:] == 0)
    # the padding's words change nothing
    scrambled = story.clone()
    scrambled[1, 3:] = 1
    torch.testing.assert_close(model(scrambled, question, count), model(story, question, count))


def test_temporal_vector_i_marks_the_ith_most_recent_statement():
    """§4.1: statements are indexed in reverse order, x_1 the last before the question, and T_A(i)
    is added to the memory vector of x_i: m_i = Σ_j A x_ij + T_A(i)."""
    samples = babi.parse(["1 Mary went home.", "2 John went out.", "3 Where is Mary?\thome\t1"])
    vocab = babi.Vocab.of(samples)
    x = babi.encode(samples, vocab, 4, 3, 3)
    assert [vocab.words[i] for i in x.story[0, 0].tolist()] == ["john", "went", "out"]
    torch.manual_seed(0)
    model = MemN2N(len(vocab), dim=4, hops=1, memory_size=4, encoding="bow")
    _, attention = model(x.story, x.question, x.count, return_attention=True)
    A, T = model.embed[0].detach(), model.time[0].detach()
    bag = lambda words: sum(A[vocab.index[w]] for w in words)  # noqa: E731
    u = bag(["where", "is", "mary"])
    m = torch.stack([bag(["john", "went", "out"]) + T[0], bag(["mary", "went", "home"]) + T[1]])
    torch.testing.assert_close(attention[0, 0, :2], torch.softmax(m @ u, 0))
    assert attention[0, 0, 2:].sum() == 0


def test_random_noise_inserts_empty_memories_and_keeps_order():
    B, M, L = 200, 10, 3
    story = torch.zeros(B, M, L, dtype=torch.long)
    story[:, :6, 0] = torch.arange(1, 7)  # slot i holds word i + 1, six statements
    count = torch.full((B,), 6)
    noisy, new_count = random_noise(story, count, 0.1, torch.Generator().manual_seed(0))
    firsts = noisy[:, :, 0]
    for b in range(B):
        words = [w for w in firsts[b].tolist() if w]
        assert words == sorted(words) and words == list(range(1, len(words) + 1))  # order kept, none lost but the oldest
        assert new_count[b] >= len(words) and (firsts[b, int(new_count[b]):] == 0).all()
    empty = sum(int((firsts[b, :int(new_count[b])] == 0).sum()) for b in range(B))
    assert 0.05 < empty / (B * 6) < 0.16  # about 10 % empty memories
    same, c = random_noise(story, count, 0.0, torch.Generator())
    assert torch.equal(same, story) and torch.equal(c, count)


def literal_entnet(model: EntNet, story, question, count):
    """Eqs. 1-7 of Henaff et al. with loops over statements and slots, in float64."""
    P = {n: p.detach().double() for n, p in model.named_parameters()}

    def phi(x):
        return torch.where(x >= 0, x, P["slope"] * x)

    logits, all_gates = [], []
    for b in range(story.shape[0]):
        enc = lambda words, f: sum(f[i] * P["E"][w] for i, w in enumerate(words.tolist()))  # noqa: E731
        h = [P["keys"][j].clone() for j in range(model.slots)]
        gates = []
        for t in range(int(count[b])):
            s = enc(story[b, t], P["f_story"])
            g_t = []
            for j in range(model.slots):
                w = P["keys"][j]
                g = torch.sigmoid(s @ h[j] + s @ w)
                cand = phi(P["U"] @ h[j] + P["V"] @ w + P["W"] @ s)
                h[j] = h[j] + g * cand
                h[j] = h[j] / h[j].norm()
                g_t.append(g)
            gates.append(torch.stack(g_t))
        q = enc(question[b], P["f_question"])
        p = torch.softmax(torch.stack([q @ hj for hj in h]), 0)
        u = sum(p[j] * h[j] for j in range(model.slots))
        logits.append(P["R"] @ phi(q + P["H"] @ u))
        all_gates.append(torch.stack(gates))
    return torch.stack(logits), all_gates


def test_entnet_is_the_papers_equations():
    torch.manual_seed(3)
    model = EntNet(13, dim=8, slots=4, sentence_len=5, question_len=4, init_std=0.3)
    with torch.no_grad():  # move the learned parts off their initial values
        model.slope.uniform_(0.1, 0.9)
        model.f_story.uniform_(0.5, 1.5)
        model.f_question.uniform_(0.5, 1.5)
    story, question, count = random_story(M=6, L=5)
    logits, gates = model(story, question, count, return_gates=True)
    want_logits, want_gates = literal_entnet(model, story, question, count)
    torch.testing.assert_close(logits.double(), want_logits, rtol=1e-4, atol=1e-5)
    for b, n in enumerate(count.tolist()):
        torch.testing.assert_close(gates[b, :n].double(), want_gates[b], rtol=1e-4, atol=1e-5)
        assert torch.all(gates[b, n:] == 0)  # padding after the story leaves memory alone
    # the padding's words change nothing
    scrambled = story.clone()
    scrambled[1, 3:] = 1
    torch.testing.assert_close(model(scrambled, question, count), logits)


def test_entnet_hand_written_backward_is_autograds():
    """`Recurrence` (training's path) against the same equations under autograd, in float64: the
    logits, every parameter's gradient and the gradients reaching the final memory and the encoded
    statements (what `gradient_flow` reads), with stories that end early and one that is empty."""
    torch.manual_seed(6)
    fused = EntNet(13, dim=8, slots=4, sentence_len=5, question_len=4, init_std=0.5).double()
    with torch.no_grad():
        fused.slope.uniform_(-0.5, 0.9)  # negative candidates meet slopes other than 1
    loop = EntNet(13, dim=8, slots=4, sentence_len=5, question_len=4, fused=False).double()
    loop.load_state_dict(fused.state_dict())
    story, question, _ = random_story(B=4, M=6, L=5)
    count = torch.tensor([6, 3, 0, 1])
    answer = torch.tensor([1, 5, 2, 7])
    got, want = [], []
    for model, out in ((fused, got), (loop, want)):
        logits, (p, h, s) = model(story, question, count, return_memory=True)
        loss = torch.nn.functional.cross_entropy(logits, answer) + (h * torch.linspace(-1, 1, 8)).sum()
        out += [logits, *torch.autograd.grad(loss, [h, s, *model.parameters()])]
    assert fused.fused and not loop.fused
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    assert got[2][2].abs().sum() == 0 and got[2][1, 3:].abs().sum() == 0  # nothing reaches unread statements
    assert got[-4].abs().sum() > 0 and (fused.slope.detach() < 0).any()  # the slopes' gradient was exercised


def test_entnet_recurrence_passes_gradcheck():
    torch.manual_seed(7)
    B, T, S, d = 3, 4, 2, 3

    def x(*shape):
        return torch.randn(*shape, dtype=torch.double, requires_grad=True)

    active = (torch.arange(T) < torch.tensor([4, 2, 0])[:, None]).double()
    slope = torch.tensor([0.3, -0.2, 1.0], dtype=torch.double, requires_grad=True)
    inputs = (x(B, S, d), x(B, T, d), x(B, T, S), x(S, d), x(B, T, d), x(d, d), slope)
    assert torch.autograd.gradcheck(lambda *a: Recurrence.apply(*a, active)[0], inputs)


def test_one_restart_runs_without_vmap_and_equals_its_member():
    torch.manual_seed(8)
    ens = Ensemble(lambda: EntNet(13, dim=6, slots=3, sentence_len=5, question_len=4), 1)
    story, question, count = random_story(B=3, M=6, L=5)
    logits, (p, h, s) = ens(story[None], question[None], count[None], return_memory=True)
    want, (wp, wh, ws) = ens.member(0)(story, question, count, return_memory=True)
    for g, w in ((logits, want), (p, wp), (h, wh), (s, ws)):
        assert g.shape == (1, *w.shape)
        torch.testing.assert_close(g[0], w)


def test_each_restart_keeps_its_own_best_epoch():
    """Early stopping per restart: after each epoch a member's parameters are kept where its score is
    at most its best so far (the later of equal scores), and `restore` gives each member its own."""
    torch.manual_seed(2)
    ens = Ensemble(lambda: EntNet(13, dim=6, slots=3, sentence_len=5, question_len=4), 3)
    best = BestMembers(ens)
    scores = [[5.0, 2.0, 9.0], [3.0, 2.0, 9.5], [4.0, 7.0, 9.1]]  # member 1 ties at epoch 2
    snapshots = []
    for k, score in enumerate(scores, 1):
        with torch.no_grad():
            for p in ens.params().values():
                p.add_(torch.randn_like(p))  # an epoch of training
        snapshots.append({n: p.detach().clone() for n, p in ens.params().items()})
        best.update(ens, torch.tensor(score), k)
    assert best.epoch.tolist() == [2, 2, 1] and best.score.tolist() == [3.0, 2.0, 9.0]
    best.restore(ens)
    for r, k in enumerate([2, 2, 1]):
        for n, p in ens.params().items():
            assert torch.equal(p[r], snapshots[k - 1][n][r]), (r, n)


@pytest.mark.parametrize("make", [lambda: MemN2N(13, dim=6, hops=2, memory_size=6),
                                  lambda: EntNet(13, dim=6, slots=3, sentence_len=5, question_len=4)])
def test_restarts_side_by_side_are_independent_networks(make):
    torch.manual_seed(4)
    ens = Ensemble(make, 3)
    story, question, count = random_story(B=3, M=6, L=5)
    # member r sees batch r: here the same batch shifted, so members get different inputs
    batches = [torch.roll(t, r, 0) for r in range(3) for t in (story, question, count)]
    S = torch.stack(batches[0::3]), torch.stack(batches[1::3]), torch.stack(batches[2::3])
    out = ens(*S)
    for r in range(3):
        torch.testing.assert_close(out[r], ens.member(r)(S[0][r], S[1][r], S[2][r]))
    # the members start from different weights, and a loss on member 0 moves only member 0
    p = next(iter(ens.params().values()))
    assert not torch.equal(p[0], p[1])
    grads = torch.autograd.grad(out[0].sum(), list(ens.params().values()), allow_unused=True)
    assert all(g is None or (g[1:] == 0).all() for g in grads)


def test_official_gradient_clipping_per_matrix_and_global():
    g = torch.zeros(2, 3, 4, 5)  # (R, matrices, …): member 0 matrix 1 has norm 80, the rest small
    g[0, 1] = 80 / math.sqrt(20)
    g[1] = 0.1
    clip_per_matrix_([g], 40.0)
    assert g[0, 1].norm().item() == pytest.approx(40.0) and g[0, 0].norm() == 0
    torch.testing.assert_close(g[1], torch.full((3, 4, 5), 0.1))
    a, b = torch.full((2, 3), 30.0), torch.full((2, 4), 0.0)
    b[1] = 1.0
    clip_global_([a, b], 40.0)
    assert math.hypot(a[0].norm(), b[0].norm()) == pytest.approx(40.0)
    torch.testing.assert_close(a[1], torch.full((3,), 30.0 * 40 / math.sqrt(3 * 900 + 4)))


HANDFUL = """\
1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary?\tbathroom\t1
4 Daniel went back to the kitchen.
5 Where is Daniel?\tkitchen\t4
6 Where is John?\thallway\t2
1 Sandra journeyed to the garden.
2 Mary went to the office.
3 Where is Sandra?\tgarden\t1
4 Sandra went to the kitchen.
5 Where is Sandra?\tkitchen\t4
6 Where is Mary?\toffice\t2
1 John got the milk there.
2 John took the apple there.
3 What is John carrying?\tmilk,apple\t1 2
"""


@pytest.mark.parametrize("kind", ["memn2n", "entnet"])
def test_a_handful_of_stories_is_learned_to_zero_error(kind):
    torch.manual_seed(5)
    samples = babi.parse(HANDFUL.splitlines())
    vocab = babi.Vocab.of(samples)
    L, Lq = babi.shape_of(samples, memory_size=10)
    data = babi.encode(samples, vocab, 10, L, Lq, recent_first=kind == "memn2n")
    if kind == "memn2n":
        ens = Ensemble(lambda: MemN2N(len(vocab), dim=20, hops=3, memory_size=10), 2)
        sched, optimizer = Schedule("memn2n", 80, 0.05, 100, 40.0, 4, ls_epochs=5, ls_lr=0.05), None
    else:
        ens = Ensemble(lambda: EntNet(len(vocab), dim=20, slots=5, sentence_len=L, question_len=Lq), 2)
        sched = Schedule("entnet", 80, 0.01, 100, 40.0, 4)
        optimizer = torch.optim.Adam(ens.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    for ep in range(sched.total):
        loss = epoch(ens, sched, data, ep, optimizer, g)
    assert error_rate(errors(ens, kind, data)).tolist() == [0.0, 0.0]
    assert loss < 0.05
    assert torch.all(next(iter(ens.params().values()))[..., 0, :] == 0) or kind == "entnet"


def test_entnet_statement_mask_starts_at_ones_or_drawn_as_the_official_code():
    torch.manual_seed(3)
    ours = EntNet(30, dim=16, slots=4, sentence_len=6, question_len=5, init_std=0.1)
    torch.manual_seed(3)
    official = EntNet(30, dim=16, slots=4, sentence_len=6, question_len=5, init_std=0.1, story_mask="normal")
    assert torch.equal(ours.f_story, torch.ones(6, 16)) and torch.equal(official.f_question, torch.ones(5, 16))
    assert 0.07 < official.f_story.std().item() < 0.13 and abs(official.f_story.mean().item()) < 0.03
    assert torch.equal(ours.E, official.E)  # drawn first either way
    with pytest.raises(ValueError, match="story_mask"):
        EntNet(30, story_mask="uniform")


class GradientSpy:
    """An optimizer that records the gradients `epoch` hands it and leaves the parameters alone."""

    def __init__(self, params):
        self.params, self.param_groups, self.grads = params, [{"lr": 0.0}], []

    def step(self):
        self.grads.append([p.grad.clone() for p in self.params])


def entnet_first_gradient(clip: float, loss_sum: bool) -> list[torch.Tensor]:
    """The gradient of the first update on the handful of stories (4 questions), after the clip."""
    samples = babi.parse(HANDFUL.splitlines())
    vocab = babi.Vocab.of(samples)
    L, Lq = babi.shape_of(samples, memory_size=10)
    data = babi.encode(samples, vocab, 10, L, Lq, recent_first=False)
    torch.manual_seed(0)
    ens = Ensemble(lambda: EntNet(len(vocab), dim=8, slots=3, sentence_len=L, question_len=Lq), 1)
    spy = GradientSpy(list(ens.params().values()))
    epoch(ens, Schedule("entnet", 1, 0.01, 100, clip, 4, loss_sum=loss_sum), data, 0, spy,
          torch.Generator().manual_seed(0))
    return spy.grads[0]


def test_entnet_summed_loss_makes_the_clip_bind_at_a_batch_times_smaller_gradient():
    mean, summed = entnet_first_gradient(1e9, False), entnet_first_gradient(1e9, True)
    for a, b in zip(mean, summed):  # unclipped: the sum over the batch of 4 is 4 times the mean
        torch.testing.assert_close(b, 4 * a)
    norm = math.sqrt(sum(g.pow(2).sum().item() for g in mean))
    mean, summed = entnet_first_gradient(2 * norm, False), entnet_first_gradient(2 * norm, True)
    for a, b in zip(mean, summed):  # a clip at twice the mean gradient's norm binds only on the sum
        torch.testing.assert_close(b, 2 * a)


def test_random_batches_draw_each_batch_afresh_as_the_official_code():
    class Data:
        count = torch.zeros(100, dtype=torch.long)

        def __len__(self):
            return 100

    drawn = batches(Data(), 2, 10, False, torch.Generator().manual_seed(0), random=True)
    assert len(drawn) == 10 and all(b.shape == (2, 10) for b in drawn)
    assert all(len(set(row.tolist())) == 10 and 0 <= row.min() and row.max() < 100 for b in drawn for row in b)
    seen = [set(torch.cat([b[m] for b in drawn]).tolist()) for m in range(2)]
    assert all(len(s) < 100 for s in seen)  # some questions twice in the epoch, some not at all
    assert not torch.equal(drawn[0][0], drawn[0][1])  # each member draws its own
    epoch_batches = batches(Data(), 2, 10, False, torch.Generator().manual_seed(0))
    assert all(len(set(torch.cat([b[m] for b in epoch_batches]).tolist())) == 100 for m in range(2))
    with pytest.raises(ValueError, match="bucket"):
        Schedule("entnet", 1, 0.01, 100, 40.0, 4, bucket=True, random_batches=True)


def test_learning_rate_schedules_are_the_official_ones():
    memn2n = Schedule("memn2n", epochs=100, lr=0.01, decay_every=25, clip=40.0, batch_size=32, ls_epochs=20, ls_lr=0.005)
    assert [memn2n.lr_at(e) for e in (0, 19, 20, 44, 45, 70, 119)] == [0.005, 0.005, 0.01, 0.01, 0.005, 0.0025, 0.00125]
    assert memn2n.linear(19) and not memn2n.linear(20) and memn2n.total == 120
    entnet = Schedule("entnet", epochs=200, lr=0.01, decay_every=25, clip=40.0, batch_size=32)
    assert [entnet.lr_at(e) for e in (0, 24, 25, 199)] == [0.01, 0.01, 0.005, 0.01 / 128]
    assert not entnet.linear(0) and entnet.total == 200
