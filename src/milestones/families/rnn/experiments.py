"""LSTM, GRU and the plain RNN on the adding problem and copy memory (see milestones.tasks.synthetic).

Every experiment trains one recurrent layer and a linear read-out with Adam and global-norm
gradient clipping, on fresh batches each step, and is evaluated on a fixed test set drawn from a
generator seeded independently of the training seed (so seeds are compared on the same data).

"Solved" is defined against the task's memoryless baseline: test loss ≤ 1 % of the baseline.

Two families of experiments: `rnn/TASK-tT/MODEL`, the gated cells at 128 units on a few lengths,
and `sweep/TASK-tT/VARIANT`, the lecture's claim "LSTM and GRU can learn much longer-term
dependencies than regular RNNs" measured: every cell over a range of lengths, at equal hidden size
and at equal parameter count, stopping a run as soon as it solves the task.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.config import BaseConfig, param
from milestones.family import Experiment, Reference
from milestones.nn.rnn import GRU, LSTM, RNN
from milestones.plots import learning_curves
from milestones.runs import Run
from milestones.seeding import seed_everything
from milestones.state import State
from milestones.tasks.synthetic import COPY_SYMBOLS, adding_baseline, adding_batch, copy_baseline, copy_batch

TEST_SEED = 20_151_204  # the fixed test set's generator seed, shared by all training seeds
SOLVED_FRACTION = 0.01  # solved: test loss ≤ 1 % of the memoryless baseline
LEARNED_FRACTION = 0.5  # learned (a weaker mark): test loss ≤ half the memoryless baseline


@dataclasses.dataclass(frozen=True)
class RNNTaskConfig(BaseConfig):
    task: Literal["adding", "copy"] = param("adding", "adding problem or copy memory")
    length: int = param(200, "T: adding-problem length, or copy-memory delay", low=2, high=100_000)
    model: Literal["lstm", "gru", "gru-reset-after", "rnn"] = param(
        "lstm", "lstm (lecture), gru (lecture, reset before the matmul), gru-reset-after (cuDNN's) "
        "or rnn (plain tanh RNN, orthogonal recurrent weights)")
    hidden_size: int = param(128, "H, units in the recurrent layer", low=1)
    forget_bias: bool = param(True, "LSTM only: start the forget-gate bias at 1 (Jozefowicz et al. 2015)")
    batch_size: int = param(64, "sequences per step", low=1)
    steps: int = param(3000, "training steps (fresh batches each step)", low=1)
    lr: float = param(1e-3, "Adam learning rate", low=0.0, high=1.0, low_open=True)
    clip_norm: float = param(1.0, "global gradient-norm clip (0 turns it off)", low=0.0)
    eval_every: int = param(100, "steps between evaluations on the test set", low=1)
    test_size: int = param(1000, "sequences in the fixed test set", low=1)
    stop_when_solved: bool = param(False, "end the run at the first evaluation that solves the task")
    flush_denormal: bool = param(False, "flush denormal floats to zero on the CPU (vanishing "
                                 "gradients of long sequences otherwise slow the GRU's backward 3-4×)")


def io_sizes(task: str) -> tuple[int, int]:
    """(input features, outputs) of a task: adding (2, 1), copy memory (10 symbols in and out)."""
    return (2, 1) if task == "adding" else (COPY_SYMBOLS, COPY_SYMBOLS)


class SequenceModel(nn.Module):
    """A recurrent layer and a linear read-out: at the last step (adding) or every step (copy)."""

    def __init__(self, cfg: RNNTaskConfig) -> None:
        super().__init__()
        inputs, outputs = io_sizes(cfg.task)
        if cfg.model == "lstm":
            self.rnn = LSTM(inputs, cfg.hidden_size, forget_bias=1.0 if cfg.forget_bias else None)
        elif cfg.model == "rnn":
            self.rnn = RNN(inputs, cfg.hidden_size)
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
    metrics = {name: loss, "baseline": baseline(cfg), "solved": float(loss <= SOLVED_FRACTION * baseline(cfg)),
               "learned": float(loss <= LEARNED_FRACTION * baseline(cfg))}
    if cfg.task == "copy":
        metrics["recall_accuracy"] = correct / (10 * seen)
    return metrics


GATES = {"lstm": 4, "gru": 3, "gru-reset-after": 3, "rnn": 1}


def parameter_count(cfg: RNNTaskConfig) -> int:
    """Learned numbers of the recurrent layer and its read-out, G·H·(I + H + 1) + O·(H + 1), counted
    without building the model (a test checks it against the module's parameters)."""
    inputs, outputs = io_sizes(cfg.task)
    H = cfg.hidden_size
    extra = H if cfg.model == "gru-reset-after" else 0  # the bias inside r ⊙ (W_h h + b_hn)
    return GATES[cfg.model] * H * (inputs + H + 1) + extra + outputs * (H + 1)


def matched_hidden_size(cfg: RNNTaskConfig, target: int) -> int:
    """The hidden size at which cfg's model has the parameter count closest to `target` (the count
    grows with H, so: the first H that reaches the target, or the one before it)."""
    count = lambda h: parameter_count(dataclasses.replace(cfg, hidden_size=h))  # noqa: E731
    h = 1
    while count(h) < target:
        h += 1
    return h - 1 if h > 1 and target - count(h - 1) <= count(h) - target else h


def train(cfg: RNNTaskConfig, run: Run) -> dict[str, float]:
    if cfg.flush_denormal:
        torch.set_flush_denormal(True)
    data_gen = seed_everything(cfg.seed)
    model = SequenceModel(cfg).to(run.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state = State(architecture(cfg), modules={"model": model}, optimizers={"opt": opt},
                  generators={"data": data_gen})
    start, extra = run.resume(state)
    solved_at = extra.get("solved_at")
    last = start
    metric = "test_mse" if cfg.task == "adding" else "test_ce"
    loop = run.loop(state, start if solved_at else cfg.steps, start=start,  # a run that stopped solved is done
                    checkpoint_every=cfg.checkpoint_every,
                    extra=lambda: {"solved_at": solved_at} if solved_at else {})
    for step in loop:
        x, y = (t.to(run.device) for t in batch(cfg, cfg.batch_size, data_gen))
        loss = loss_fn(cfg, model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_norm > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        opt.step()
        last = step
        if step % cfg.eval_every == 0 or step == cfg.steps:
            m = test_metrics(cfg, model, run.device)
            run.log(step, train_loss=loss.item(), **{metric: m[metric]})
            loop.postfix(**{metric: f"{m[metric]:.3g}"})
            if cfg.stop_when_solved and m["solved"]:
                solved_at = step
                loop.end()
    plot(cfg, run)
    return test_metrics(cfg, model, run.device) | {"steps": float(last),
                                                    "parameters": float(parameter_count(cfg))}


def evaluate(cfg: RNNTaskConfig, run: Run) -> dict[str, float]:
    model = SequenceModel(cfg).to(run.device)
    loaded = run.load(State(architecture(cfg), modules={"model": model}))
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


def baseline_reference(task: str, length: int) -> Reference:
    """The memoryless baseline every model of the task must beat."""
    if task == "adding":
        return Reference("test_mse", adding_baseline(), "Hochreiter & Schmidhuber 1997",
                         "memoryless baseline: always predict 1")
    return Reference("test_ce", copy_baseline(length), COPY_CITATION, "memoryless baseline: 10 ln 8 / (T + 20)")


def _experiment(task: str, length: int, model: str) -> Experiment:
    cfg = RNNTaskConfig(task=task, length=length, model=model, steps=FULL_STEPS[task, length],
                        lr=LEARNING_RATE[task])
    ref = baseline_reference(task, length)
    what = "the adding problem" if task == "adding" else "copy memory"
    summary = f"{MODELS[model]} on {what}, T = {length}"
    citation = ADDING_CITATION if task == "adding" else COPY_CITATION
    return Experiment(
        name=f"rnn/{task}-t{length}/{model}", summary=summary, config=cfg, train=train,
        evaluate=evaluate, metric=ref.metric, goal="min", citation=citation, references=(ref,),
        deviations=DEVIATIONS,
        budgets={"quick": {"steps": 300, "eval_every": 50, "test_size": 500}, "full": {}})


EXPERIMENTS = tuple(_experiment(task, length, model)
                    for task, length in FULL_STEPS for model in MODELS)


# ---- the sweep over length: plain RNN against LSTM and GRU ---------------------------------------

SWEEP_HIDDEN = 64  # H of every cell at equal hidden size
SWEEP_LENGTHS = {"adding": (10, 25, 50, 100, 200), "copy": (5, 10, 20, 40)}
SWEEP_STEPS = {"adding": 4000, "copy": 6000}  # the budget of a run that does not solve its task
SWEEP_LR = {"adding": 1e-2, "copy": 1e-2}
# variant -> (cell, sizing, learning rate): sizing "" is H = SWEEP_HIDDEN, "same-params" the H
# whose parameter count (recurrent layer and read-out) is closest to the LSTM's at SWEEP_HIDDEN;
# the rate is SWEEP_LR's unless given. The plain RNN also runs at 1e-3: at 1e-2 it is unstable
# (the wide one ends above the baseline even at T = 10), and a claim about it should not rest on
# a rate chosen for the gated cells.
SWEEP_VARIANTS = {"lstm": ("lstm", "", None), "gru": ("gru", "", None), "rnn": ("rnn", "", None),
                  "gru-same-params": ("gru", "same-params", None),
                  "rnn-same-params": ("rnn", "same-params", None),
                  "rnn-lr1e-3": ("rnn", "", 1e-3), "rnn-same-params-lr1e-3": ("rnn", "same-params", 1e-3)}
SWEEP_DEVIATIONS = (
    "The claim is the lecture's, not one paper's: the tasks are Hochreiter & Schmidhuber's adding "
    "problem and Arjovsky et al.'s copy memory, at lengths chosen so that the sweep fits 2 CPU cores.",
    "Every cell has the same optimiser (Adam at 1e-2, global-norm clipping at 1, batch 64) and budget; "
    "the plain RNN also at 1e-3 (`-lr1e-3`), where it is stable. A run ends at the first evaluation "
    "(every 100 steps, 1 000 test sequences) that solves the task, or after the budget. A cell that "
    "fails might solve the task with a longer budget or a tuned rate.",
    "'Solves a length' is ours: test loss ≤ 1 % of the memoryless baseline in a majority of seeds; "
    "'learns' is a weaker mark, test loss ≤ half the baseline.",
    "Copy memory with learning rate 1e-2, not the 1e-3 of rnn/copy-*: in probes on seed 0 with 1e-3 "
    "and 3 000 steps no cell left the baseline at T = 20 (LSTM 0.478, GRU 0.494 against 0.520), "
    "while with 1e-2 and 8 000 steps at T = 10 the GRU recalled 94 % and the LSTM 89 % of the letters.",
    "The plain RNN starts from orthogonal recurrent weights and a zero bias (Saxe et al. 2014), the "
    "LSTM's forget-gate bias at 1 (Jozefowicz et al. 2015); all else as torch initialises it.",
)


def sweep_config(task: str, length: int, variant: str) -> RNNTaskConfig:
    model, sizing, lr = SWEEP_VARIANTS[variant]
    cfg = RNNTaskConfig(task=task, length=length, model=model, hidden_size=SWEEP_HIDDEN,
                        steps=SWEEP_STEPS[task], lr=lr or SWEEP_LR[task], stop_when_solved=True,
                        flush_denormal=True, checkpoint_every=500)
    if sizing == "same-params":
        lstm = dataclasses.replace(cfg, model="lstm")
        cfg = dataclasses.replace(cfg, hidden_size=matched_hidden_size(cfg, parameter_count(lstm)))
    return cfg


def _sweep_experiment(task: str, length: int, variant: str) -> Experiment:
    cfg = sweep_config(task, length, variant)
    ref = baseline_reference(task, length)
    what = "the adding problem" if task == "adding" else "copy memory"
    return Experiment(
        name=f"sweep/{task}-t{length}/{variant}",
        summary=f"{variant} (H = {cfg.hidden_size}, {parameter_count(cfg):,} parameters) on {what}, T = {length}",
        config=cfg, train=train, evaluate=evaluate, metric=ref.metric, goal="min",
        citation=ADDING_CITATION if task == "adding" else COPY_CITATION, references=(ref,),
        deviations=SWEEP_DEVIATIONS, group=f"sweep/{task}",
        budgets={"quick": {"steps": 200, "eval_every": 50, "test_size": 200}, "full": {}})


EXPERIMENTS += tuple(_sweep_experiment(task, length, variant)
                     for task, lengths in SWEEP_LENGTHS.items() for length in lengths
                     for variant in SWEEP_VARIANTS)
