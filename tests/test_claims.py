"""The lecture's claims, measured: the length sweep (plain RNN against LSTM and GRU) and the gradient
reaching the memory of MemN2N and EntNet. The numbers each figure shows are checked here against
closed forms and hand-made cases."""
import dataclasses
import math

import pytest
import torch
from torch.nn import functional as F

from milestones.config import ConfigError, apply_overrides
from milestones.families.memory import gradients as mg
from milestones.families.memory.report import gradients_table
from milestones.families.rnn import experiments as rnn
from milestones.families.rnn.report import longest, sweep_table
from milestones.memory.babi import Encoded
from milestones.memory.entnet import EntNet
from milestones.memory.gradient_flow import Flow, measure_flow, summary
from milestones.memory.memn2n import MemN2N
from milestones.registry import catalog, select
from milestones.runs import Run, RunStopped

D = torch.float64


# ---- the sweep ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["adding", "copy"])
@pytest.mark.parametrize("model", ["lstm", "gru", "gru-reset-after", "rnn"])
def test_parameter_count_is_the_modules(task, model):
    cfg = rnn.RNNTaskConfig(task=task, model=model, hidden_size=13)
    assert rnn.parameter_count(cfg) == sum(p.numel() for p in rnn.SequenceModel(cfg).parameters())


def test_sweep_sizes_match_the_lstms_parameter_count():
    exps = catalog()
    for task, lengths in rnn.SWEEP_LENGTHS.items():
        lstm = exps[f"sweep/{task}-t{lengths[0]}/lstm"].config
        target = rnn.parameter_count(lstm)
        for variant in ("gru-same-params", "rnn-same-params"):
            cfg = exps[f"sweep/{task}-t{lengths[0]}/{variant}"].config
            assert abs(rnn.parameter_count(cfg) - target) / target < 0.015, variant  # one unit of H apart
            assert cfg.hidden_size > lstm.hidden_size
        for variant in ("gru", "rnn"):
            assert exps[f"sweep/{task}-t{lengths[0]}/{variant}"].config.hidden_size == lstm.hidden_size
    # one name selects the whole sweep of a task
    assert len(select("sweep/adding")) == len(rnn.SWEEP_LENGTHS["adding"]) * len(rnn.SWEEP_VARIANTS)


def test_a_solved_run_stops_and_a_resumed_one_stays_stopped(tmp_path, monkeypatch):
    exp = catalog()["sweep/adding-t10/rnn"]
    cfg = dataclasses.replace(exp.config, steps=400, eval_every=50, test_size=16, checkpoint_every=100)
    real = rnn.test_metrics
    calls = []

    def solved_at_150(cfg_, model, device):
        m = real(cfg_, model, device)
        calls.append(1)
        return m | {"solved": float(len(calls) >= 3)}  # the third evaluation (step 150) solves it

    monkeypatch.setattr(rnn, "test_metrics", solved_at_150)
    metrics = exp.train(cfg, Run.create(tmp_path / "run", exp, cfg, progress=False))
    assert metrics["steps"] == 150
    assert [r["step"] for r in Run(tmp_path / "run", exp, cfg).metrics()] == [50, 100, 150]
    again = exp.train(cfg, Run(tmp_path / "run", exp, cfg, progress=False))  # resumed: nothing to train
    assert again["steps"] == 150 and len(Run(tmp_path / "run", exp, cfg).metrics()) == 3


def _sweep_record(variant, T, losses, solved, learned, baseline=0.167):
    seeds = [{"seed": k, "metrics": {"test_mse": v, "solved": s, "learned": l, "parameters": 100.0, "steps": 300.0},
              "wall_time_s": 10.0, "curve": []} for k, (v, s, l) in enumerate(zip(losses, solved, learned))]
    stats = {key: {"mean": sum(s["metrics"][key] for s in seeds) / len(seeds), "n": len(seeds)}
             for key in ("test_mse", "solved", "learned", "parameters", "steps")}
    return {"experiment": f"sweep/adding-t{T}/{variant}", "group": "sweep/adding", "metric": "test_mse",
            "goal": "min", "seeds": seeds, "summary_stats": stats, "wall_time_s": 10.0 * len(seeds),
            "references": [{"metric": "test_mse", "value": baseline}],
            "config": {"length": T, "hidden_size": 8}}


def test_longest_length_solved_needs_a_majority_of_seeds():
    records = [_sweep_record("rnn", 10, [1e-4] * 3, [1, 1, 1], [1, 1, 1]),
               _sweep_record("rnn", 25, [1e-4, 1e-4, 0.1], [1, 1, 0], [1, 1, 1]),
               _sweep_record("rnn", 50, [1e-4, 0.16, 0.16], [1, 0, 0], [1, 0, 0]),
               _sweep_record("lstm", 50, [0.05] * 3, [0, 0, 0], [1, 1, 1])]
    by = {T: r for T, r in ((r["config"]["length"], r) for r in records[:3])}
    assert longest(by, "solved") == 25 and longest(by, "learned") == 25
    assert longest({50: records[3]}, "solved") is None
    table = sweep_table(records)
    assert "| lstm | 8 | 100 | – | – | 0/3 · 0.05 (300) | none | 50 | 30 s |" in table
    assert "| rnn | 8 | 100 | 3/3 · 1.00e-04 (300) | 2/3 · 0.0334 (300) | 1/3 · 0.107 (300) | 25 | 25 | 1.5 min |" in table


# ---- the gradient reaching memory -----------------------------------------------------------------

def _batch(B=3, M=4, L=3, V=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    story = torch.randint(1, V, (B, M, L), generator=g)
    count = torch.tensor([4, 2, 3])[:B]
    story[torch.arange(M)[None, :].expand(B, M) >= count[:, None]] = 0  # padding after each story
    return Encoded(story, torch.randint(1, V, (B, L), generator=g), torch.randint(1, V, (B,), generator=g), count,
                   torch.ones(B, dtype=torch.long))


def test_memn2n_slot_gradient_is_its_closed_form():
    """One hop, bag of words: ∂L/∂c_i = p_i ∂L/∂o and ∂L/∂m_i = p_i ((c_i − o)·∂L/∂o) u, so
    g_i = p_i · sqrt(‖∂L/∂o‖² + ((c_i − o)·∂L/∂o)² ‖u‖²), written out here in float64."""
    torch.manual_seed(0)
    model = MemN2N(9, dim=5, hops=1, memory_size=4, encoding="bow", temporal=False).to(D)
    batch = _batch()
    flow = measure_flow(model, batch)
    A, C = model.embed[0].detach(), model.embed[1].detach()  # B = A, W = C (adjacent tying)
    for b in range(3):
        n = int(batch.count[b])
        bag = lambda words: F.one_hot(words, 9).to(D)[..., 1:].sum(-2) @ A[1:]
        u = bag(batch.question[b])
        m = F.one_hot(batch.story[b, :n], 9).to(D)[..., 1:].sum(-2) @ A[1:]
        c = F.one_hot(batch.story[b, :n], 9).to(D)[..., 1:].sum(-2) @ C[1:]
        p = torch.softmax(m @ u, 0)
        o = p @ c
        e = torch.softmax((u + o) @ C.T, 0) - F.one_hot(batch.answer[b], 9).to(D)
        d_o = e @ C
        want = p * torch.sqrt(d_o @ d_o + ((c - o) @ d_o) ** 2 * (u @ u))
        assert torch.allclose(flow.slot_grad[b, :n], want, atol=1e-12)
        assert torch.all(flow.slot_grad[b, n:] == 0) and torch.all(flow.read[b, n:] == 0)
        assert torch.allclose(flow.read[b, :n], p, atol=1e-12)


@pytest.mark.parametrize("kind", ["memn2n", "entnet"])
def test_batched_gradients_are_each_examples_own(kind):
    """The summed loss gives each example's slots exactly the gradient of that example alone."""
    torch.manual_seed(1)
    model = (MemN2N(9, dim=6, hops=2, memory_size=4) if kind == "memn2n"
             else EntNet(9, dim=6, slots=3, sentence_len=3, question_len=3)).to(D)
    batch = _batch()
    flow = measure_flow(model, batch)
    for b in range(3):
        one = measure_flow(model, batch[b:b + 1])
        assert torch.allclose(flow.slot_grad[b], one.slot_grad[0], atol=1e-12)
        assert torch.allclose(flow.sentence_grad[b], one.sentence_grad[0], atol=1e-12)
        assert torch.all(flow.sentence_grad[b, int(batch.count[b]):] == 0)  # padding statements get nothing
    if kind == "entnet":
        assert flow.used.all() and flow.read.sum(-1).allclose(torch.ones(3, dtype=D))


def test_summary_numbers_on_a_hand_made_case():
    def flow(read, grad, pg):
        read, grad = torch.tensor(read), torch.tensor(grad)
        return Flow(read, grad, grad, grad > -1, grad > -1, torch.tensor(pg), 0.5)

    before = flow([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]], [[6.0, 3.0, 1.0], [1.0, 1.0, 2.0]], [1.0, 0.0])
    now = flow([[0.2, 0.7, 0.1], [0.1, 0.8, 0.1]], [[1.0, 8.0, 0.001], [1.0, 1.0, 2.0]], [1.0, 1.0])
    s = summary(now, before)
    # example 0: shares (1, 8, 0.001)/9.001, top is slot 1; example 1: (.25, .25, .5), top is slot 1
    assert s["top_share"] == pytest.approx((8 / 9.001 + 0.25) / 2)
    assert s["starved"] == pytest.approx((1 / 3 + 0) / 2)  # 0.001 < 1 % of 8
    ent0 = -sum(x / 9.001 * math.log(x / 9.001) for x in (1, 8, 0.001))
    ent1 = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    assert s["effective_slots"] == pytest.approx((math.exp(ent0) + math.exp(ent1)) / 2)
    tv0 = 0.5 * (abs(1 / 9.001 - 0.6) + abs(8 / 9.001 - 0.3) + abs(0.001 / 9.001 - 0.1))
    assert s["jump"] == pytest.approx(tv0 / 2)
    assert s["top_switch"] == pytest.approx(0.5)
    assert s["grad_change"] == pytest.approx(1.0)
    assert s["rank0_share"] == pytest.approx((8 / 9.001 + 0.25) / 2)
    assert "jump" not in summary(now, None)


@pytest.mark.parametrize("stop_at", [2, 3])  # inside MemN2N's training; in its last epoch, before EntNet's
def test_gradient_run_stopped_and_resumed_matches_uninterrupted(shared_data, tmp_path, monkeypatch, stop_at,
                                                                stop_during):
    shared_data("babi")
    exp = catalog()["claims/memory-gradients"]
    cfg = apply_overrides(exp.config, ["--tasks", "1", "--models", "memn2n,entnet", "--memn2n-epochs", "3",
                                       "--entnet-epochs", "1", "--probe-size", "8"])
    whole = exp.train(cfg, Run.create(tmp_path / "whole", exp, cfg, progress=False))
    stop_during(mg, stop_at)
    with pytest.raises(RunStopped):
        exp.train(cfg, Run.create(tmp_path / "stopped", exp, cfg, progress=False))
    monkeypatch.undo()
    resumed = exp.train(cfg, Run(tmp_path / "stopped", exp, cfg, progress=False))
    assert resumed.keys() == whole.keys()
    for key in whole:
        assert resumed[key] == pytest.approx(whole[key], rel=1e-5), key
    rows = Run(tmp_path / "stopped", exp, cfg).metrics()
    updates = [r["step"] for r in rows if "top_share" in r]
    assert updates == list(range(1, len(updates) + 1))  # every update once, none lost or repeated
    assert (tmp_path / "stopped" / "plots" / "gradient-flow-task1.png").exists()
    record = {"experiment": exp.name, "seeds": [{}], "wall_time_s": 60.0,
              "summary_stats": {k: {"mean": v} for k, v in whole.items()}}
    table = gradients_table([record])
    assert table.startswith("| model | updates | task 1 test error (%) | top slot's share")
    assert whole["memn2n_top_share_early"] == pytest.approx(whole["memn2n_top_share"])  # 3 epochs: all early
    assert "| memn2n | first 10 epochs | " in table and "| entnet | all | " in table


def test_gradient_options_are_checked():
    cfg = catalog()["claims/memory-gradients"].config
    with pytest.raises(ConfigError, match="--models"):
        apply_overrides(cfg, ["--models", "memn2n,lstm"])
    with pytest.raises(ConfigError, match="--tasks"):
        apply_overrides(cfg, ["--tasks", "21"])


def test_model_means_are_over_exactly_their_own_key():
    """`starved` must not pick up `sentence_starved` (same ending) when averaging over tasks."""
    cfg = apply_overrides(catalog()["claims/memory-gradients"].config, ["--tasks", "1,2", "--models", "entnet"])
    rows = [{"unit": u, "epoch": 1, "top_share": 0.5, "starved": 0.1 * (u + 1), "sentence_starved": 0.9}
            for u in (0, 1)]
    out = mg.summarize(cfg, rows, {"entnet-task1": {"test_error": 1.0}, "entnet-task2": {"test_error": 3.0}})
    assert out["entnet_starved"] == pytest.approx(0.15) and out["entnet_starved_early"] == pytest.approx(0.15)
    assert out["entnet_sentence_starved"] == pytest.approx(0.9) and out["entnet_test_error"] == 2.0
