"""LSTM and GRU on the adding problem and copy memory (see milestones.tasks.synthetic).

Every experiment trains one recurrent layer and a linear read-out with Adam and global-norm
gradient clipping, on fresh batches each step, and is evaluated on a fixed test set drawn from a
generator seeded independently of the training seed (so seeds are compared on the same data).

"Solved" is defined against the task's memoryless baseline: test loss ≤ 1 % of the baseline.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.config import BaseConfig, param
from milestones.nn.rnn import GRU, LSTM
from milestones.plots import learning_curves
from milestones.registry import Experiment, Reference
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.tasks.synthetic import (COPY_SYMBOLS, adding_baseline, adding_batch, copy_baseline,
                                        copy_batch)

TEST_SEED = 20_151_204  # the fixed test set's generator seed, shared by all training seeds
SOLVED_FRACTION = 0.01  # solved: test loss ≤ 1 % of the memoryless baseline


@dataclasses.dataclass(frozen=True)
class RNNTaskConfig(BaseConfig):
    task: Literal["adding", "copy"] = param("adding", "adding problem or copy memory")
    length: int = param(200, "T: adding-problem length, or copy-memory delay", low=2, high=100_000)
    model: Literal["lstm", "gru", "gru-reset-after"] = param(
        "lstm", "lstm (lecture), gru (lecture, reset before the matmul) or gru-reset-after (cuDNN's)")
    hidden_size: int = param(128, "H, units in the recurrent layer", low=1)
    forget_bias: bool = param(True, "LSTM only: start the forget-gate bias at 1 (Jozefowicz et al. 2015)")
    batch_size: int = param(64, "sequences per step", low=1)
    steps: int = param(3000, "training steps (fresh batches each step)", low=1)
    lr: float = param(1e-3, "Adam learning rate", low=0.0, high=1.0, low_open=True)
    clip_norm: float = param(1.0, "global gradient-norm clip (0 turns it off)", low=0.0)
    eval_every: int = param(100, "steps between evaluations on the test set", low=1)
    test_size: int = param(1000, "sequences in the fixed test set", low=1)


class SequenceModel(nn.Module):
    """A recurrent layer and a linear read-out: at the last step (adding) or every step (copy)."""

    def __init__(self, cfg: RNNTaskConfig) -> None:
        super().__init__()
        inputs, outputs = (2, 1) if cfg.task == "adding" else (COPY_SYMBOLS, COPY_SYMBOLS)
        if cfg.model == "lstm":
            self.rnn = LSTM(inputs, cfg.hidden_size, forget_bias=1.0 if cfg.forget_bias else None)
        else:
            self.rnn = GRU(inputs, cfg.hidden_size, reset_after=cfg.model == "gru-reset-after")
        self.head = nn.Linear(cfg.hidden_size, outputs)
        self.task = cfg.task

    def forward(self, x: Tensor) -> Tensor:
        y, _ = self.rnn(x)  # (T', B, H)
        if self.task == "adding":
            return self.head(y[-1]).squeeze(-1)  # (B,)
        return self.head(y)  # (T', B, 10) logits


def architecture(cfg: RNNTaskConfig) -> dict:
    return {"task": cfg.task, "model": cfg.model, "hidden_size": cfg.hidden_size}


def batch(cfg: RNNTaskConfig, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    make = adding_batch if cfg.task == "adding" else copy_batch
    return make(size, cfg.length, generator)


def loss_fn(cfg: RNNTaskConfig, out: Tensor, y: Tensor) -> Tensor:
    if cfg.task == "adding":
        return F.mse_loss(out, y)
    return F.cross_entropy(out.flatten(0, 1), y.flatten())  # mean nats per step


def baseline(cfg: RNNTaskConfig) -> float:
    return adding_baseline() if cfg.task == "adding" else copy_baseline(cfg.length)


@torch.no_grad()
def test_metrics(cfg: RNNTaskConfig, model: SequenceModel, device: torch.device) -> dict[str, float]:
    """Loss on the fixed test set (and, for copy, accuracy on the 10 recalled letters)."""
    model.eval()
    gen = torch.Generator().manual_seed(TEST_SEED + cfg.length)
    total, correct, seen, chunk = 0.0, 0, 0, 500
    for start in range(0, cfg.test_size, chunk):
        n = min(chunk, cfg.test_size - start)
        x, y = (t.to(device) for t in batch(cfg, n, gen))
        out = model(x)
        total += loss_fn(cfg, out, y).item() * n
        if cfg.task == "copy":
            correct += (out[-10:].argmax(-1) == y[-10:]).sum().item()
        seen += n
    model.train()
    loss = total / seen
    name = "test_mse" if cfg.task == "adding" else "test_ce"
    metrics = {name: loss, "baseline": baseline(cfg), "solved": float(loss <= SOLVED_FRACTION * baseline(cfg))}
    if cfg.task == "copy":
        metrics["recall_accuracy"] = correct / (10 * seen)
    return metrics


def train(cfg: RNNTaskConfig, run: Run) -> dict[str, float]:
    data_gen = seed_everything(cfg.seed)
    model = SequenceModel(cfg).to(run.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state = dict(modules={"model": model}, optimizers={"opt": opt}, generators={"data": data_gen},
                 arch=architecture(cfg))
    start, _ = run.resume(**state)
    metric = "test_mse" if cfg.task == "adding" else "test_ce"
    with run.progress(cfg.steps, initial=start) as bar, run.stoppable() as stop_requested:
        for step in range(start + 1, cfg.steps + 1):
            x, y = (t.to(run.device) for t in batch(cfg, cfg.batch_size, data_gen))
            loss = loss_fn(cfg, model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            if step % cfg.eval_every == 0 or step == cfg.steps:
                m = test_metrics(cfg, model, run.device)
                run.log(step, train_loss=loss.item(), **{metric: m[metric]})
                bar.set_postfix({metric: f"{m[metric]:.3g}"})
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or stop_requested():
                run.save(step, **state)
            if stop_requested():
                run.stop(step)
            bar.update(1)
    plot(cfg, run)
    return test_metrics(cfg, model, run.device)


def evaluate(cfg: RNNTaskConfig, run: Run) -> dict[str, float]:
    model = SequenceModel(cfg).to(run.device)
    loaded = run.load("last", modules={"model": model}, arch=architecture(cfg))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return test_metrics(cfg, model, run.device) | {"step": loaded.step}


def plot(cfg: RNNTaskConfig, run: Run) -> None:
    metric = "test_mse" if cfg.task == "adding" else "test_ce"
    rows = run.metrics()
    learning_curves({cfg.model: [(r["step"], r[metric]) for r in rows if metric in r]},
                    run.dir / "plots" / "learning_curve.png", title=run.experiment.name,
                    ylabel=metric, baseline=baseline(cfg), baseline_label="memoryless baseline")


# ---- the experiments ----------------------------------------------------------------------------

MODELS = {"lstm": "LSTM", "gru": "lecture GRU", "gru-reset-after": "reset-after GRU"}
ADDING_CITATION = ("Hochreiter & Schmidhuber 1997, Long Short-Term Memory (experiment 4); "
                   "lengths as in Arjovsky et al. 2016, Unitary Evolution RNNs")
COPY_CITATION = "Arjovsky, Shah & Bengio 2016, Unitary Evolution Recurrent Neural Networks (§4.1)"
DEVIATIONS = (
    "Adam with global-norm clipping at 1, batch 64, H = 128, instead of each paper's own optimiser "
    "settings; the same settings for every model of a task so that they compare fairly.",
    "Learning rate 1e-2 on the adding problem (with 1e-3 the LSTM was still at the baseline after "
    "2400 steps at T = 200; with 1e-2 it left it at step 1800) and 1e-3 on copy memory (with 1e-2 "
    "the LSTM stayed at the baseline for 2800 steps at T = 100). Measured on seed 0 before the runs.",
    "Fixed step budgets sized for a 2-core CPU, far fewer examples than the papers' runs: a model "
    "that has not solved a task here may solve it with more training.",
    "'Solved' is our definition (test loss ≤ 1 % of the memoryless baseline); the papers judge from curves.",
    "The papers report curves, not one number: the reference value is the memoryless baseline that "
    "the task defines, which a model must beat.",
)
# (task, length) -> full-budget steps. Chosen to fit a CPU; see README for measured wall times.
FULL_STEPS = {("adding", 100): 3000, ("adding", 200): 3000, ("adding", 400): 4000,
              ("copy", 100): 5000, ("copy", 200): 5000}
LEARNING_RATE = {"adding": 1e-2, "copy": 1e-3}


def _experiment(task: str, length: int, model: str) -> Experiment:
    cfg = RNNTaskConfig(task=task, length=length, model=model, steps=FULL_STEPS[task, length],
                        lr=LEARNING_RATE[task])
    if task == "adding":
        ref = Reference("test_mse", adding_baseline(), "Hochreiter & Schmidhuber 1997",
                        "memoryless baseline: always predict 1")
        summary = f"{MODELS[model]} on the adding problem, T = {length}"
        citation = ADDING_CITATION
    else:
        ref = Reference("test_ce", copy_baseline(length), COPY_CITATION,
                        "memoryless baseline: 10 ln 8 / (T + 20)")
        summary = f"{MODELS[model]} on copy memory, T = {length}"
        citation = COPY_CITATION
    return Experiment(
        name=f"rnn/{task}-t{length}/{model}", summary=summary, config=cfg, train=train,
        evaluate=evaluate, metric=ref.metric, goal="min", citation=citation, references=(ref,),
        deviations=DEVIATIONS,
        budgets={"quick": {"steps": 300, "eval_every": 50, "test_size": 500}, "full": {}})


EXPERIMENTS = tuple(_experiment(task, length, model)
                    for task, length in FULL_STEPS for model in MODELS)
