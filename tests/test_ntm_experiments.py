"""The NTM experiments end to end on tiny settings: training, the best checkpoint, evaluation with
generalisation sweeps, divergence handling, the explain figure, and parameter counts."""
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image  # matplotlib's own dependency

from milestones import report
from milestones.checkpoint import load_checkpoint
from milestones.config import ConfigError
from milestones.families.ntm import experiments as ntm_exp
from milestones.registry import catalog
from milestones.runs import Run, TrainingDiverged
from milestones.seeding import seed_everything
from milestones.tasks import algorithmic as tasks

TINY = dict(memory_slots=16, memory_width=6, controller_size=16, sequences=96, batch_size=8,
            eval_every=4, validation_size=16, checkpoint_every=4, compile=False, minutes=0.0, curriculum=0)


def tiny(name, **kw):
    exp = catalog()[name]
    return exp, dataclasses.replace(exp.config, **(TINY | kw))


def pixels(png):
    """The gray levels (height, width) of a PNG, 0-255."""
    return np.asarray(Image.open(png).convert("L")).astype(float)


def gray_distance(a, b):
    """Mean absolute difference of two images' gray levels; inf if their sizes differ."""
    return float(np.abs(a - b).mean()) if a.shape == b.shape else float("inf")


def test_training_keeps_the_best_checkpoint_and_reports_sweeps(tmp_path):
    exp, cfg = tiny("ntm/copy")
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    metrics = exp.train(cfg, run)
    rows = run.metrics()
    assert [r["sequences"] for r in rows] == [32, 64, 96]
    best_row = min(rows, key=lambda r: r["val_bits"])
    _, meta = load_checkpoint(run.dir / "checkpoints" / "best.safetensors")
    assert meta["step"] == best_row["step"] and metrics["best_step"] == best_row["step"]
    # 96 sequences teach the copy nothing, and no prediction blind to the inputs beats a fair coin on
    # random bits: the cost is about 1 bit per target bit, 8 L on a sweep of length L (measured:
    # 1.000-1.003 × 8 L on seeds 0-2). Nats (−31 %), every step scored (+100 %) or the sweeps run at
    # the training lengths (84 bits at every L) would miss it.
    for L in (10, 20, 30, 50, 80, 120):
        assert metrics[f"gen_length_{L}_bits"] == pytest.approx(8 * L, rel=0.01), L
    # the same on the test set, at the training lengths: its own number of scored target bits
    test_set = ntm_exp.episodes("copy", 512, ntm_exp.TEST_SEED)
    target_bits = sum(ep.targets.shape[-1] * ep.mask.sum().item() for ep in test_set) / 512
    assert metrics["test_bits"] == pytest.approx(target_bits, rel=0.01)
    assert metrics["parameters"] == sum(p.numel() for p in ntm_exp.build_model(cfg).parameters())
    assert metrics["converged"] == 0.0  # 96 sequences are far too few


def test_cost_counts_the_sequences_with_a_wrong_bit_and_sweeps_take_their_size_from_the_config(
        tmp_path, monkeypatch):
    """A model that always answers 1 against four sequences of 3 scored steps × 2 bits, with 0, 2, 0 and
    1 target zeros in scored steps (and two in sequence 0's unscored step): 3 wrong bits over 4
    sequences, 2 of 4 failed, and bits from the two cross-entropies. The sweeps test `sweep_size`
    sequences at each length."""

    class Ones(torch.nn.Module):
        def forward(self, inputs, generator=None):
            return torch.full((inputs.shape[0], inputs.shape[1], 2), 3.0), None

    targets = torch.ones(4, 4, 2)
    targets[1, 1, 0] = targets[3, 1, 1] = targets[2, 3, 0] = 0.0
    targets[0, 0, :] = 0.0  # step 0 is not scored: no error, no bits
    mask = torch.ones(4, 4)
    mask[0] = 0.0
    ep = tasks.Episode(torch.zeros(4, 4, 1), targets, mask, torch.full((4,), 4))
    c = ntm_exp.cost(Ones(), [ep], torch.device("cpu"))
    right, wrong = math.log2(1 + math.exp(-3.0)), math.log2(1 + math.exp(3.0))
    assert c["bit_errors"] == 3 / 4 and c["failed"] == 2 / 4
    assert c["bits"] == pytest.approx((21 * right + 3 * wrong) / 4, rel=1e-6)
    exp, cfg = tiny("ntm/associative-recall", sequences=16, sweep_size=40)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    counts, real = [], ntm_exp.episodes

    def counted(task, count, seed, **kw):
        counts.append((count, seed))
        return real(task, count, seed, **kw)
    monkeypatch.setattr(ntm_exp, "episodes", counted)
    metrics = exp.train(cfg, run)
    assert [n for n, seed in counts if seed == ntm_exp.TEST_SEED + 1] == [40] * 4  # 6, 9, 12 and 15 items
    for k in (6, 9, 12, 15):
        share = metrics[f"gen_{k}_items_failed"]
        assert 0.0 <= share <= 1.0 and share * 40 == round(share * 40), k
    assert 0.0 <= metrics["test_failed"] <= 1.0 and metrics["test_failed"] * 512 == round(metrics["test_failed"] * 512)
    recipes = catalog()
    assert {recipes[f"{m}/associative-recall"].config.sweep_size for m in ntm_exp.MODELS} == {1024}
    assert recipes["ntm/copy"].config.sweep_size == 64


def _recall_script():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "ntm_recall_failures", Path(__file__).parents[1] / "scripts" / "ntm_recall_failures.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_recall_failures_script_measures_the_read_heads_lookup_as_a_literal_step_loop_does():
    """lookup_sharpness: each read head's β, g, γ, its key's best cosine similarity to the memory the
    step addresses and that best's lead over the second, equal to a float64 loop that steps the NTM
    by hand and reads them off its head layer's raw outputs (layout k, β, g, s, γ per head)."""
    from milestones.nn.ntm import NTM
    script = _recall_script()
    torch.manual_seed(3)
    model = NTM(8, 6, read_heads=2, write_heads=1, memory_slots=16, memory_width=5).eval()
    ep = tasks.associative_recall_episode(4, torch.Generator().manual_seed(2), min_items=3, max_items=3)
    steps = [3, 9, ep.inputs.shape[0] - 3]
    sharp = script.lookup_sharpness(model, ep.inputs, steps)
    assert set(sharp) == set(script.SHARPNESS) and all(v.shape == (3, 4, 2) for v in sharp.values())
    M, A = model.M, model.address_size
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    state = model.initial_state(4)
    with torch.no_grad():
        for t in range(ep.inputs.shape[0]):
            if t in steps:
                i = steps.index(t)
                h, _ = model._controller(ep.inputs[t], state)
                raw = model.heads(h).double().clamp(-model.clip, model.clip)
                memory = state.memory.double()
                for b in range(4):
                    for r in range(2):
                        block = raw[b, r * A:(r + 1) * A]
                        key = torch.tanh(block[:M])
                        cos = sorted((float(key @ row / (key.norm() * row.norm() + 1e-8)) for row in memory[b]),
                                     reverse=True)
                        expect = {"beta": softplus(block[M]), "g": 1 / (1 + math.exp(-block[M + 1])),
                                  "gamma": 1 + softplus(block[-1]), "best_cos": cos[0], "lead": cos[0] - cos[1]}
                        for name, value in expect.items():
                            assert float(sharp[name][i, b, r]) == pytest.approx(value, rel=1e-4, abs=1e-5), (t, b, r, name)
            _, state = model.step(ep.inputs[t], state)


def test_the_recall_failures_script_counts_the_wrong_lists_and_each_lists_nearest_item(tmp_path):
    """scripts/ntm_recall_failures.py: per item count, the lists with a wrong bit are as many as `cost`
    finds on the same lists (also with the queried item blanked); each list's nearest-item distance and
    all-zero flag, and the blanked lists, agree with a literal loop over its items; a run of another
    task is refused by name."""
    script = _recall_script()
    exp, cfg = tiny("ntm/associative-recall", sequences=32, sweep_size=8)
    exp.train(cfg, Run.create(tmp_path / "run", exp, cfg, progress=False))
    rows = script.failures(str(tmp_path / "run"), lists=40, item_counts=(3, 5))
    model, _ = ntm_exp.load_best(cfg, Run(tmp_path / "run", exp, cfg, progress=False))
    for row in rows:
        eps = ntm_exp.episodes("associative-recall", 40, script.STREAM, chunk=128,
                               min_items=row["items"], max_items=row["items"])
        c = ntm_exp.cost(model, eps, torch.device("cpu"))
        assert len(row["lists"]) == 40 and row["failed"] == round(c["failed"] * 40)
        assert row["bits"] == pytest.approx(c["bits"], rel=1e-6)
    blanked = script.failures(str(tmp_path / "run"), lists=40, item_counts=(3,), blank_query=(0, 2))[0]
    eps = [script.blank_queried(e, 3, (0, 2)) for e in ntm_exp.episodes(
        "associative-recall", 40, script.STREAM, chunk=128, min_items=3, max_items=3)]
    assert blanked["failed"] == round(ntm_exp.cost(model, eps, torch.device("cpu"))["failed"] * 40)
    ep = tasks.associative_recall_episode(64, torch.Generator().manual_seed(3), min_items=5, max_items=5)
    blank = script.blank_queried(ep, 5, (1, 2))
    assert torch.equal(blank.targets, ep.targets) and not ep.inputs[22:24, :, :6].eq(0).all()
    for b in range(64):  # a literal loop: the queried item's vectors 1 and 2, stored and queried, zeroed
        x = ep.inputs[:, b].clone()
        q = next(i for i in range(5) if torch.equal(x[4 * i + 1:4 * i + 4, :6], x[21:24, :6]))
        x[[4 * q + 2, 4 * q + 3, 22, 23], :6] = 0.0
        assert torch.equal(blank.inputs[:, b], x), b
    distance, prefix, zero, phase = script.list_facts(ep, 5)
    for b in range(64):
        x = ep.inputs[:, b]
        items = [[int(v) for t in range(4 * i + 1, 4 * i + 4) for v in x[t, :6]] for i in range(5)]
        query = [int(v) for t in range(21, 24) for v in x[t, :6]]
        gaps = sorted(sum(a != q for a, q in zip(item, query)) for item in items)
        assert gaps[0] == 0 and distance[b] == gaps[1], b
        gaps = sorted(sum(a != q for a, q in zip(item[:12], query[:12])) for item in items)
        assert prefix[b] == gaps[1], b
        assert bool(zero[b]) == any(sum(item[j:j + 6]) == 0 for item in items for j in (0, 6, 12)), b
        assert phase[b] == min(sum(a != q for a, q in zip(item[6:], query[:12])) for item in items), b
    assert zero.any() and not zero.all()  # both kinds of list occur among these 64
    assert phase.min() <= 3 < phase.max()
    for b in range(8):  # a shift of one item (4 steps) compares the query with the next item's vectors
        x = ep.inputs[:, b]
        q = next(i for i in range(5) if torch.equal(x[4 * i + 1:4 * i + 4, :6], x[21:24, :6]))
        assert script._apart(x, 5, 0) == [0, 0, 0]
        expect = [int((x[4 * (q + 1) + 1 + j, :6] != x[21 + j, :6]).sum()) if q < 4 else None for j in range(3)]
        assert script._apart(x, 5, 4) == expect
        assert script._apart(x, 5, 1)[2] == int((x[4 * q + 4, :6] != x[23, :6]).sum()) + 10  # the next delimiter
    weights = torch.zeros(ep.inputs.shape[0], 64, 2, 40)  # (T, B, read + write head, slots)
    weights[torch.arange(20), :, 1, torch.arange(20)] = 1.0  # stored step t written to slot t
    look = torch.randint(0, 20, (64,), generator=torch.Generator().manual_seed(1))
    weights[ep.inputs.shape[0] - 3, torch.arange(64), 0, look] = 1.0  # the first answer step reads slot look
    queried = [next(i for i in range(5) if torch.equal(ep.inputs[4 * i + 1:4 * i + 4, b, :6], ep.inputs[21:24, b, :6]))
               for b in range(64)]
    assert script.read_positions(weights, ep, 5, 1).tolist() == [int(look[b]) - 4 * (queried[b] + 1) for b in range(64)]
    traced = script.failures(str(tmp_path / "run"), lists=40, item_counts=(3,), heads=True, sharpness=True)[0]
    sharp = script.lookup_sharpness(model, ntm_exp.episodes("associative-recall", 40, script.STREAM, chunk=128,
                                                            min_items=3, max_items=3)[0].inputs, range(13, 18))
    for b, row in enumerate(traced["lists"]):  # 3 items: 20 steps, the query's first vector at 13
        assert isinstance(row["shift"], int) and (row["apart"] is None) == (not row["wrong"])
        assert row["sharpness"] == {name: value[:, b, 0].tolist() for name, value in sharp.items()}
    right = [row for row in traced["lists"] if not row["wrong"]]
    assert traced["right_at_usual"] == sum(row["shift"] == 0 for row in right) <= len(right)
    assert (traced["right_at_usual"] > 0) == bool(right) and rows[0]["usual"] is None
    copy_exp, copy_cfg = tiny("ntm/copy", sequences=16)
    copy_exp.train(copy_cfg, Run.create(tmp_path / "copy", copy_exp, copy_cfg, progress=False))
    with pytest.raises(SystemExit, match="not of associative recall"):
        script.failures(str(tmp_path / "copy"))
    lstm_exp, lstm_cfg = tiny("lstm/associative-recall", sequences=16, sweep_size=8)
    lstm_exp.train(lstm_cfg, Run.create(tmp_path / "lstm", lstm_exp, lstm_cfg, progress=False))
    for option in ("heads", "sharpness"):
        with pytest.raises(SystemExit, match="follow an NTM's read head; .* the lstm baseline"):
            script.failures(str(tmp_path / "lstm"), lists=8, item_counts=(3,), **{option: True})


def test_a_diverging_run_stops_with_its_last_good_checkpoint(tmp_path, monkeypatch):
    exp, cfg = tiny("ntm/copy")
    real_build = ntm_exp.build_model

    class Poisoned(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.calls = real_build(cfg), 0

        def forward(self, x, generator=None, **kw):
            logits, state = self.inner(x, **kw)
            self.calls += 1
            return (logits * float("nan") if self.calls > 6 else logits), state

    monkeypatch.setattr(ntm_exp, "build_model", lambda c: Poisoned())
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    with pytest.raises(TrainingDiverged, match="loss is not finite at update .*last good checkpoint.*--clip-state 1"):
        exp.train(cfg, run)
    state, meta = load_checkpoint(run.checkpoint_path)
    assert meta["step"] == 4  # the checkpoint before the NaN
    assert all(torch.isfinite(t).all() for t in state["modules"]["model"].values())


def test_clip_state_reaches_the_machine():
    assert ntm_exp.build_model(catalog()["ntm-ff/ngrams"].config).clip_state_grad == 1.0  # its recipe's
    assert ntm_exp.build_model(catalog()["ntm/copy"].config).clip_state_grad == 0  # off in the other recipes


def test_curriculum_grows_the_length_over_its_sequences():
    cfg = dataclasses.replace(catalog()["ntm/copy"].config, curriculum=1000)
    assert ntm_exp.task_args(cfg, 0)["max_length"] == 5
    assert ntm_exp.task_args(cfg, 500)["max_length"] in (12, 13)
    assert ntm_exp.task_args(cfg, 1000)["max_length"] == 20
    assert ntm_exp.task_args(cfg, 5000)["max_length"] == 20
    assert ntm_exp.task_args(dataclasses.replace(cfg, curriculum=0), 0)["max_length"] == 20
    assert ntm_exp.task_args(dataclasses.replace(cfg, curriculum=0, blank_share=0.1), 0)["blank_share"] == 0.1
    assert "blank_share" not in ntm_exp.task_args(cfg, 0)  # the paper's sequences, drawn as before
    recall = dataclasses.replace(catalog()["ntm/associative-recall"].config, curriculum=1000)
    assert ntm_exp.task_args(recall, 0) == {"min_items": 2, "max_items": 2}
    decoys = dataclasses.replace(recall, curriculum=0, decoy_share=0.1)
    assert ntm_exp.task_args(decoys, 0) == {"min_items": 2, "max_items": 6, "decoy_share": 0.1}
    assert "decoy_share" not in ntm_exp.task_args(recall, 0)  # the paper's lists, drawn as before
    assert ntm_exp.task_args(dataclasses.replace(decoys, decoy_bits=2), 0)["decoy_bits"] == 2
    with pytest.raises(ConfigError, match="--decoy-bits sets how the decoys of --decoy-share differ"):
        ntm_exp.task_args(dataclasses.replace(recall, curriculum=0, decoy_bits=2), 0)
    shifted = dataclasses.replace(decoys, shifted_decoy_share=0.2)
    assert ntm_exp.task_args(shifted, 0) == {"min_items": 2, "max_items": 6, "decoy_share": 0.1,
                                             "shifted_decoy_share": 0.2}
    assert "shifted_decoy_share" not in ntm_exp.task_args(decoys, 0)
    with pytest.raises(ConfigError, match="--shifted-decoy-share plants out-of-phase copies"):
        dataclasses.replace(cfg, curriculum=0, shifted_decoy_share=0.1)
    with pytest.raises(ConfigError, match="--decoy-share plants near-copies"):
        dataclasses.replace(cfg, curriculum=0, decoy_share=0.1)  # copy has no items: refused before a run
    blanks = dataclasses.replace(recall, curriculum=0, blank_share=0.1)
    assert ntm_exp.task_args(blanks, 0) == {"min_items": 2, "max_items": 6, "blank_share": 0.1}
    with pytest.raises(ConfigError, match="--blank-share plants blank vectors.*task priority-sort has neither"):
        dataclasses.replace(catalog()["ntm/priority-sort"].config, blank_share=0.1)


def test_the_decoys_variant_is_the_recall_recipe_with_decoys_reported_in_its_group():
    recipes = catalog()
    for model in ("ntm", "ntm-ff"):
        plain, decoys = recipes[f"{model}/associative-recall"], recipes[f"{model}/associative-recall-decoys"]
        assert decoys.config == dataclasses.replace(plain.config, decoy_share=0.1)
        assert decoys.group == plain.group == "ntm-tasks/associative-recall"
        assert decoys.deviations[1:] == plain.deviations and "--decoy-share 0.1" in decoys.deviations[0]
        assert ntm_exp.task_args(decoys.config, 0)["decoy_share"] == 0.1
    plain, both = recipes["ntm/associative-recall"], recipes["ntm/associative-recall-decoys-blanks"]
    assert both.config == dataclasses.replace(plain.config, decoy_share=0.1, blank_share=0.1)
    assert both.group == plain.group and both.deviations[1:] == plain.deviations
    assert "--decoy-share 0.1" in both.deviations[0] and "--blank-share 0.1" in both.deviations[0]
    assert report.variant_of({"experiment": both.name, "group": both.group}) == "ntm-decoys-blanks"
    shifted = recipes["ntm/associative-recall-decoys-blanks-shifted"]
    assert shifted.config == dataclasses.replace(both.config, shifted_decoy_share=0.1)
    assert shifted.group == plain.group and shifted.deviations[1:] == plain.deviations
    assert "--shifted-decoy-share 0.1" in shifted.deviations[0]
    assert ntm_exp.task_args(shifted.config, 0)["shifted_decoy_share"] == 0.1
    denser = recipes["ntm/associative-recall-denser-decoys"]
    assert denser.config == dataclasses.replace(shifted.config, decoy_share=0.2)
    assert denser.group == plain.group and denser.deviations[1:] == plain.deviations
    assert "--decoy-share 0.2" in denser.deviations[0]
    assert report.variant_of({"experiment": denser.name, "group": denser.group}) == "ntm-denser-decoys"


def test_a_curriculum_over_repeats_grows_only_repeat_copys_count():
    cfg = dataclasses.replace(catalog()["ntm/repeat-copy"].config, curriculum=1000, curriculum_over="repeats")
    assert ntm_exp.task_args(cfg, 0) == {"min_length": 1, "max_length": 10, "min_repeats": 1, "max_repeats": 2}
    assert ntm_exp.task_args(cfg, 500)["max_repeats"] == 6  # 2.5 + 0.5 × 7.5 = 6.25
    assert ntm_exp.task_args(cfg, 1000)["max_repeats"] == 10
    assert ntm_exp.task_args(dataclasses.replace(cfg, curriculum=0), 0)["max_repeats"] == 10
    assert ntm_exp.task_args(dataclasses.replace(cfg, curriculum_over="length"), 0)["max_length"] == 2
    with pytest.raises(ConfigError, match="repeats.*task copy has none"):  # refused with the config
        dataclasses.replace(catalog()["ntm/copy"].config, curriculum=1000, curriculum_over="repeats")


def test_train_max_length_lengthens_only_the_training_sequences():
    cfg = dataclasses.replace(catalog()["ntm/repeat-copy"].config, train_max_length=20)
    assert ntm_exp.task_args(cfg, 0) == {"min_length": 1, "max_length": 20, "min_repeats": 1, "max_repeats": 10}
    grown = dataclasses.replace(cfg, curriculum=1000)  # a curriculum grows to the new maximum
    assert [ntm_exp.task_args(grown, n)["max_length"] for n in (0, 1000)] == [5, 20]
    recall = dataclasses.replace(catalog()["ntm/associative-recall"].config, train_max_length=9)
    assert ntm_exp.task_args(recall, 0) == {"min_items": 2, "max_items": 9}
    batch = ntm_exp.TASKS["repeat-copy"].make(64, torch.Generator().manual_seed(0), **ntm_exp.task_args(cfg, 0))
    lengths = batch.inputs[:, :, 8].argmax(0)  # each sequence's delimiter step: its length L
    assert lengths.max().item() > 10 and lengths.min().item() >= 1
    with pytest.raises(ConfigError, match="at least task associative-recall's shortest training item count, 2; got 1"):
        dataclasses.replace(recall, train_max_length=1)
    with pytest.raises(ConfigError, match="task priority-sort has no length to set"):
        dataclasses.replace(catalog()["ntm/priority-sort"].config, train_max_length=20)


def test_the_lstm_baseline_has_the_papers_size():
    cfg = catalog()["lstm/copy"].config
    model = ntm_exp.build_model(cfg)
    # 3 layers of 256 with one bias per gate (torch.nn.LSTM's two biases: the paper's count differs)
    assert len(model.lstm.cells) == 3 and model.lstm.hidden_size == 256
    assert ntm_exp.parameter_count(model) == sum(p.numel() for p in model.parameters())


def test_the_feedforward_ntms_are_the_papers_table_2_column():
    """ntm-ff/TASK: one tanh layer as controller (no state of its own), the paper's heads and size."""
    c = catalog()
    want = {"copy": (1, 100), "repeat-copy": (1, 100), "associative-recall": (4, 256), "ngrams": (1, 100),
            "priority-sort": (8, 512)}
    for task, (heads, size) in want.items():
        exp = c[f"ntm-ff/{task}"]
        model = ntm_exp.build_model(exp.config)
        assert isinstance(model.controller, torch.nn.Linear) and model.controller.out_features == size, task
        assert (exp.config.read_heads, exp.config.write_heads) == (heads, heads), task
        assert exp.group_name == c[f"ntm/{task}"].group_name == f"ntm-tasks/{task}"
        assert exp.summary == f"NTM (feedforward controller) on {task.replace('-', ' ')}"
        # the recipes differ from the LSTM controller's only in the controller and its preset (and
        # N-grams in the clamp that keeps its gradient through time finite)
        lstm_ctrl = dataclasses.replace(c[f"ntm/{task}"].config, sequences=exp.config.sequences)
        differ = {k for k in ntm_exp.NTMTaskConfig.__dataclass_fields__
                  if getattr(lstm_ctrl, k) != getattr(exp.config, k)}
        allowed = {"controller", "controller_size", "controller_layers", "read_heads", "write_heads"}
        assert differ <= allowed | ({"clip_state"} if task == "ngrams" else set()), task


def test_explain_draws_the_head_weightings(tmp_path):
    exp, cfg = tiny("ntm/copy", sequences=16)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    done = subprocess.run([sys.executable, "-m", "milestones", "explain", str(run.dir), "--length", "7"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    png = tmp_path / "run" / "plots" / "heads-copy-seed0.png"
    assert done.stdout.strip() == str(png)
    drawn = pixels(png)
    assert drawn.shape[1] == 880  # 8 inches at 110 dpi
    # the command line drew the figure of --length 7: the one drawn here, not the default length's
    # (lengths 7 and 8 differ by about 5 gray levels on average)
    ntm_exp.explain(cfg, run, {"length": "20"})
    assert gray_distance(pixels(png), drawn) > 2
    ntm_exp.explain(cfg, run, {"length": "7"})
    assert gray_distance(pixels(png), drawn) < 0.5
    bad = subprocess.run([sys.executable, "-m", "milestones", "explain", str(run.dir), "--length"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "expected --key value pairs" in bad.stderr


def test_readme_parameter_table_matches_the_presets():
    """The README's parameter counts are what the presets build."""
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for task in ntm_exp.TASKS:
        c = catalog()
        cells = [f"{ntm_exp.parameter_count(ntm_exp.build_model(c[f'{model}/{task}'].config)):,} | {paper:,}"
                 for model, paper in zip(ntm_exp.MODELS, ntm_exp.PAPER_PARAMETERS[task], strict=True)]
        assert f"| {' | '.join(cells)} |" in readme, task


def test_a_time_cap_ends_the_run_as_if_it_had_reached_its_length(tmp_path):
    exp, cfg = tiny("ntm/copy", minutes=1e-9)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    metrics = exp.train(cfg, run)
    assert [r["step"] for r in run.metrics()] == [1]  # one update, then evaluated and saved
    _, meta = load_checkpoint(run.checkpoint_path)
    assert meta["step"] == 1 and metrics["best_step"] == 1


def test_spike_clip_state_is_checkpointed_and_a_factor_of_one_or_less_is_refused(tmp_path, monkeypatch):
    from milestones.optim import SpikeClip
    norms = []

    class Recording(SpikeClip):
        def __call__(self, params, norm):
            norms.append(norm)
            return super().__call__(params, norm)

    monkeypatch.setattr(ntm_exp, "SpikeClip", Recording)
    exp, cfg = tiny("ntm/copy", sequences=32)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    state, meta = load_checkpoint(run.checkpoint_path)
    # the checkpoint after the 4th update holds the running average a ← 0.99 a + 0.01 min(n, 5 a) of
    # the 4 gradient norms, started at the first
    average = norms[0]
    for n in norms[1:]:
        average = 0.99 * average + 0.01 * min(n, cfg.clip_spikes * average)
    assert meta["step"] == len(norms) == 4
    assert state["extra"]["spike_clip"]["average"] == pytest.approx(average, rel=1e-12)
    bad = dataclasses.replace(cfg, clip_spikes=0.5)
    with pytest.raises(ConfigError, match="--clip-spikes: expected 0 .* or a factor > 1"):
        exp.train(bad, Run.create(tmp_path / "bad", exp, bad, progress=False))


def test_training_draws_the_heads_figure(tmp_path, monkeypatch):
    drawn = {}
    real_draw = ntm_exp.ntm_heatmaps

    def spy(inputs, targets, outputs, weights, read_heads, path, **kw):
        drawn.update(inputs=inputs, targets=targets, outputs=outputs, weights=weights)
        return real_draw(inputs, targets, outputs, weights, read_heads, path, **kw)

    monkeypatch.setattr(ntm_exp, "ntm_heatmaps", spy)
    exp, cfg = tiny("ntm/copy", sequences=32)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    # one copy of the longest training length, 20: 20 vectors, the delimiter, the 20 again
    inputs, targets, outputs, weights = drawn["inputs"], drawn["targets"], drawn["outputs"], drawn["weights"]
    assert inputs.shape == (41, 9) and weights.shape == (41, 2, 16)  # (T, X), (T, read + write heads, N)
    assert torch.equal(inputs[20], torch.eye(9)[8]) and torch.equal(targets[21:], inputs[:20, :8])
    assert not targets[:21].any() and not outputs[:21].any()  # nothing is scored before the delimiter
    torch.testing.assert_close(weights.sum(-1), torch.ones(41, 2))  # each head's weighting sums to 1
    image = pixels(run.dir / "plots" / "heads-copy-seed0.png")
    assert image.shape[1] == 880 and image.shape[0] >= 110 * (5 + 0.8)  # 8 inches wide, 5 panels ≥ 1 inch
    # drawn, not blank: the black bits of inputs and targets are 5.6 % of the image (1.7 % without
    # them: text and frames), and the untrained outputs, near ½, mid gray (4.3 %; 0.5 % without them)
    assert (image < 64).mean() > 0.035 and ((64 <= image) & (image <= 192)).mean() > 0.025


def test_ngrams_are_scored_beside_the_optimal_estimator(tmp_path):
    from milestones.tasks import algorithmic as tasks
    exp, cfg = tiny("ntm/ngrams", sequences=16)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    metrics = exp.train(cfg, run)
    test_set = ntm_exp.episodes("ngrams", 512, ntm_exp.TEST_SEED)
    optimal = torch.cat([tasks.ngram_optimal_cost_bits(tasks.ngram_bits(ep)) for ep in test_set]).mean()
    assert metrics["optimal_bits"] == pytest.approx(optimal.item())
    assert 100 < metrics["optimal_bits"] < 199  # below 1 bit per prediction: the source is learnable
    assert metrics["bits_above_optimal"] == pytest.approx(metrics["test_bits"] - metrics["optimal_bits"])
    # solved means within 1 bit of the optimal (an untrained network is ~60 bits above it)
    assert metrics["solved"] == float(metrics["bits_above_optimal"] <= 1.0) == 0.0


def test_a_collapse_rolls_back_to_the_best_checkpoint(tmp_path, monkeypatch):
    exp, cfg = tiny("ntm/copy", sequences=64, rollback=3.0)  # 8 updates, validated every 4
    real_cost = ntm_exp.cost
    calls = []

    def collapsing(model, eps, device):  # the second validation reports a collapse
        calls.append(1)
        out = real_cost(model, eps, device)
        return {"bits": 1e4, "bit_errors": 1e3} if len(calls) == 2 else out

    monkeypatch.setattr(ntm_exp, "cost", collapsing)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    rows = run.metrics()
    assert [r.get("rollback_to") for r in rows if "rollback_to" in r] == [4]
    state, meta = load_checkpoint(run.checkpoint_path)
    assert meta["step"] == 8 and state["extra"]["rollbacks"] == 1
    # with rollback off the same collapse is only logged
    calls.clear()
    off = dataclasses.replace(cfg, rollback=0.0)
    run = Run.create(tmp_path / "off", exp, off, progress=False)
    exp.train(off, run)
    assert not any("rollback_to" in r for r in run.metrics())


def test_a_rollback_lowers_the_learning_rate_and_a_resumed_run_keeps_it(tmp_path, monkeypatch):
    exp, cfg = tiny("ntm/copy", sequences=64, eval_every=2, rollback=3.0, rollback_lr=0.5)
    real_cost = ntm_exp.cost
    calls = []

    def collapsing(model, eps, device):  # the second and fourth validations report a collapse
        calls.append(1)
        out = real_cost(model, eps, device)
        return {"bits": 1e4, "bit_errors": 1e3} if len(calls) in (2, 4) else out

    monkeypatch.setattr(ntm_exp, "cost", collapsing)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    rolled = [r for r in run.metrics() if "rollback_to" in r]
    assert [r["lr"] for r in rolled] == [cfg.lr * 0.5, cfg.lr * 0.25]
    state, meta = load_checkpoint(run.checkpoint_path)
    assert state["extra"]["rollbacks"] == 2  # a resumed run's rate: ntm_exp.lr_at(cfg, step, 2)
    assert ntm_exp.lr_at(cfg, 9, 2) == cfg.lr * 0.25


@pytest.fixture
def adam_rates(monkeypatch):
    """The learning rate of every Adam step the test takes, in order."""
    seen = []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    return seen


def test_the_learning_rate_drops_once_validation_falls_below_the_threshold_and_stays_dropped(
        tmp_path, monkeypatch, adam_rates):
    """--lr-drop-below 50 --lr-drop 0.25: validations report 80, 40, 90 bits (every 2 updates): the
    rate drops after the second (update 4) and stays dropped after the third rises above the
    threshold, also in a run resumed from a checkpoint taken after the drop."""
    exp, cfg = tiny("ntm/copy", sequences=64, eval_every=2, checkpoint_every=2, lr_drop_below=50.0, lr_drop=0.25)
    reported = iter([80.0, 40.0, 90.0] + [90.0] * 10)
    monkeypatch.setattr(ntm_exp, "cost", lambda model, eps, device: {"bits": next(reported), "bit_errors": 1.0,
                                                                  "failed": 1.0})
    seen = adam_rates
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    assert seen == [cfg.lr] * 4 + [cfg.lr * 0.25] * 4
    assert [(r["lr_drop_at"], r["lr"]) for r in run.metrics() if "lr_drop_at" in r] == [(4, cfg.lr * 0.25)]
    state, meta = load_checkpoint(run.checkpoint_path)
    assert meta["step"] == 8 and state["extra"]["lr_dropped"] is True
    assert ntm_exp.lr_at(cfg, 9, 0, True) == cfg.lr * 0.25 and ntm_exp.lr_at(cfg, 9) == cfg.lr
    # cut after update 6's checkpoint and resumed: updates 7 and 8 keep the dropped rate
    reported = iter([80.0, 40.0, 90.0] + [90.0] * 10)
    seen.clear()

    spy = torch.optim.Adam.step

    def cut(self, *a, **k):
        if len(seen) == 6:
            raise KeyboardInterrupt
        return spy(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", cut)
    with pytest.raises(KeyboardInterrupt):
        exp.train(cfg, Run.create(tmp_path / "cut", exp, cfg, progress=False))
    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    seen.clear()
    exp.train(cfg, Run(tmp_path / "cut", exp, cfg, progress=False))
    assert seen == [cfg.lr * 0.25] * 2
    # off (the default), the same validations leave the rate alone
    reported = iter([80.0, 40.0, 90.0] + [90.0] * 10)
    seen.clear()
    off = dataclasses.replace(cfg, lr_drop_below=0.0)
    exp.train(off, Run.create(tmp_path / "off", exp, off, progress=False))
    assert seen == [cfg.lr] * 8


def test_the_learning_rate_drops_after_a_number_of_sequences_also_in_a_run_extended_past_its_end(
        tmp_path, adam_rates):
    """--lr-drop-after 40 on batches of 8: updates 1-5 (sequences 1-40) at --lr, every later one at
    --lr × --lr-drop; a run trained to 40 sequences without it and resumed to 64 with it takes the
    same rates, so a finished run can be continued with a lower rate."""
    exp, cfg = tiny("ntm/copy", sequences=64, lr_drop_after=40, lr_drop=0.1)
    assert cfg.batch_size == 8
    seen = adam_rates
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    assert seen == [cfg.lr] * 5 + [cfg.lr * 0.1] * 3
    assert [ntm_exp.lr_at(cfg, k) for k in (5, 6)] == [cfg.lr, cfg.lr * 0.1]
    assert ntm_exp.lr_at(cfg, 6, 0, True) == cfg.lr * 0.1  # with --lr-drop-below too: once
    seen.clear()
    short = dataclasses.replace(cfg, sequences=40, lr_drop_after=0)
    exp.train(short, Run.create(tmp_path / "short", exp, short, progress=False))
    exp.train(cfg, Run(tmp_path / "short", exp, cfg, progress=False))
    assert seen == [cfg.lr] * 5 + [cfg.lr * 0.1] * 3
    a, _ = load_checkpoint(run.checkpoint_path)
    b, _ = load_checkpoint(Run(tmp_path / "short", exp, cfg, progress=False).checkpoint_path)
    for name, value in a["modules"]["model"].items():
        assert torch.equal(value, b["modules"]["model"][name]), name


def test_the_cosine_schedule_sets_every_updates_learning_rate(tmp_path, adam_rates):
    exp, cfg = tiny("ntm/copy", sequences=64, lr_schedule="cosine")  # 8 updates
    seen = adam_rates
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    want = [cfg.lr * 0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]
    assert seen == pytest.approx(want, rel=1e-12) and seen[0] == cfg.lr
    constant = dataclasses.replace(cfg, lr_schedule="constant")
    assert [ntm_exp.lr_at(constant, k) for k in (1, 8)] == [cfg.lr, cfg.lr]


def test_heads_lr_scales_the_heads_step_alone(tmp_path):
    """Adam's first step moves each weight by about lr (m/sqrt(v) = sign of the gradient): with
    --heads-lr 0.25 the heads' layer moves a quarter as far and every other tensor as far as before."""
    exp, cfg = tiny("ntm/copy", sequences=8, eval_every=1, checkpoint_every=1)
    moved = {}
    for scale in (1.0, 0.25):
        c = dataclasses.replace(cfg, heads_lr=scale)
        run = Run.create(tmp_path / f"run{scale}", exp, c, progress=False)
        seed_everything(c.seed)  # as training starts: the same initial weights
        start = {n: p.detach().clone() for n, p in ntm_exp.build_model(c).named_parameters()}
        exp.train(c, run)
        state, _ = load_checkpoint(run.checkpoint_path)
        moved[scale] = {n: (state["modules"]["model"][n] - start[n]).abs() for n in start}
        assert len(state["optimizers"]["opt"]["param_groups"]) == (1 if scale == 1 else 2)
    for name, step in moved[1.0].items():
        want = step * 0.25 if name.startswith("heads.") else step
        assert torch.allclose(moved[0.25][name], want, rtol=1e-4, atol=1e-9), name
    assert moved[1.0]["heads.weight"].max() == pytest.approx(cfg.lr, rel=1e-3)


def test_rolling_back_restores_the_best_weights(tmp_path, monkeypatch):
    exp, cfg = tiny("ntm/copy", sequences=32, eval_every=2, checkpoint_every=100, rollback=3.0)
    seen = []
    real_cost = ntm_exp.cost

    def collapsing(model, eps, device):
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        out = real_cost(model, eps, device)
        return {"bits": 1e4, "bit_errors": 1e3} if len(seen) == 2 else out

    monkeypatch.setattr(ntm_exp, "cost", collapsing)
    loaded = {}
    real_load = Run.load

    def spy(self, state, name="last"):
        out = real_load(self, state, name)
        if name == "best" and state.optimizers:
            loaded.update({k: v.clone() for k, v in state.modules["model"].state_dict().items()})
        return out

    monkeypatch.setattr(Run, "load", spy)
    run = Run.create(tmp_path / "run", exp, cfg, progress=False)
    exp.train(cfg, run)
    assert loaded, "no rollback happened"
    for k, v in seen[0].items():  # the weights after the rollback are those of the first validation
        assert torch.equal(loaded[k], v), k


def test_recipes_are_fixed_work_and_match_what_their_records_trained():
    """No recipe stops on wall time (a rerun elsewhere must do the same work), and each committed
    record trained as many sequences as its recipe now asks for."""
    import json
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "results"
    for name, exp in catalog().items():
        if name.split("/")[0] not in ntm_exp.MODELS:
            continue
        assert exp.config.minutes == 0.0, name
        path = root / f"{name.replace('/', '__')}.json"
        if name.startswith("ntm-ff/") and not path.exists():  # recipes not reproduced yet (README)
            continue
        record = json.loads(path.read_text())
        for seed in record["seeds"]:
            if seed["metrics"].get("diverged"):  # a failed seed stops where its numbers stopped being finite
                assert seed["curve"][-1][0] < exp.config.sequences, (name, seed["seed"])
                continue
            assert seed["curve"][-1][0] == exp.config.sequences, (name, seed["seed"])


def test_a_replay_from_a_checkpoint_makes_the_updates_the_run_made(tmp_path):
    """scripts/ntm_replay.py: a run trained 8 updates and copied, then continued to 12: replaying the
    copy's last checkpoint gives updates 9-12 the continued run's logged training and validation
    costs exactly (same batches, same optimiser state), and leaves the copy unwritten. With the
    state's gradient clamped the same updates give other costs."""
    import importlib.util
    import shutil
    spec = importlib.util.spec_from_file_location(
        "ntm_replay", Path(__file__).parents[1] / "scripts" / "ntm_replay.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    exp, cfg = tiny("ntm/copy", sequences=64)
    exp.train(cfg, Run.create(tmp_path / "run", exp, cfg, progress=False))
    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    before = {p.name: p.read_bytes() for p in (tmp_path / "copy").rglob("*") if p.is_file()}
    longer = dataclasses.replace(cfg, sequences=96)
    exp.train(longer, Run(tmp_path / "run", exp, longer, progress=False))
    logged = {r["step"]: r for r in Run(tmp_path / "run", exp, longer, progress=False).metrics()}
    rows = list(script.replay(str(tmp_path / "copy"), "last", updates=4, val_every=4))
    assert [r["update"] for r in rows] == [9, 10, 11, 12]
    assert rows[-1]["val_bits"] == logged[12]["val_bits"] and rows[-1]["train_bits"] == logged[12]["train_bits"]
    assert set(rows[0]["parts"]) >= {"controller", "heads", "output"}
    assert all(r["norm"] > 0 for r in rows) and "val_bits" not in rows[0]
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").rglob("*") if p.is_file()} == before
    clamped = list(script.replay(str(tmp_path / "copy"), "last", updates=4, clip_state=1e-6, val_every=4))
    assert clamped[-1]["val_bits"] != rows[-1]["val_bits"]
    with pytest.raises(SystemExit, match="no checkpoint 'best'"):
        (tmp_path / "copy" / "checkpoints" / "best.safetensors").unlink()
        next(script.replay(str(tmp_path / "copy"), "best"))
