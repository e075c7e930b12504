"""GANs on 2D mixtures of Gaussians: one model, data and protocol, each training method.

Every experiment trains The Numerics of GANs' players (4 hidden ReLU layers of 16 units, z ∈ R^16,
batch 512) on the VEEGAN/PacGAN ring (8 modes, σ = 0.01) or grid (25 modes, σ = 0.05), and differs
only in the training method:

    simgd    standard GAN loss, simultaneous gradient steps, RMSProp 5e-4        (Numerics, γ = 0)
    conopt   the same with consensus optimization, γ = 10                        (Numerics)
    conopt-ema  the same, sampling from G's weight average, decay 0.999        (Mescheder 2018)
    conopt-ema-4x64  the same with 64 units per hidden layer instead of 16 (our best method)
    gan      non-saturating GAN, alternating steps, Adam 1e-4, β = (0.5, 0.999)  (Goodfellow 2014)
    wgan     critic steps with weights clipped to ±0.01, RMSProp 5e-5, n_critic 5 (Arjovsky 2017)
    wgan-gp  critic steps with λ·GP, one α per example, Adam 1e-4, β = (0.5, 0.9) (Gulrajani 2017 toy)

A step is one generator update (and n_critic critic updates before it where the method has them).
The protocol's metrics (modes recovered, % high-quality samples, reverse KL of the mode histogram)
are measured on 2 500 samples of fixed noise, so the snapshots over training show the same z (a set
with no high-quality sample scores the reverse KL of a single mode, log K, instead of infinity).
A loss or parameter that stops being finite ends the run with TrainingDiverged; the last checkpoint
(written before the failure) stays intact.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from milestones.config import BaseConfig, ConfigError, param
from milestones.family import Experiment, Reference
from milestones.gan import losses
from milestones.gan.consensus import jacobian_eigenvalues
from milestones.gan.mixtures import GRID_SIGMA, RING_SIGMA, grid_means, mode_metrics, ring_means, sample
from milestones.gan.steps import (
    LOSSES,
    critic_steps,
    discriminator_step,
    ema_update_,
    generator_step,
    mlp,
    simultaneous_step,
)
from milestones.runs import Loop, Run, read_jsonl, truncate_jsonl
from milestones.seeding import seed_everything
from milestones.state import State

EVAL_SEED = 2_500  # the fixed noise every seed's samples are drawn from
EVAL_SAMPLES = 2_500  # the protocol's sample count
SNAPSHOT_POINTS = 1_000  # samples kept per snapshot (of the 2 500)


@dataclasses.dataclass(frozen=True)
class GameConfig(BaseConfig):
    """The training method: loss, step scheme, penalties, optimizer; options that do not fit
    together are refused."""

    loss: Literal["gan", "wgan"] = param("gan", "gan: cross-entropy D, non-saturating G; wgan: critic")
    scheme: Literal["simultaneous", "alternating"] = param(
        "simultaneous", "simultaneous gradient steps (with γ: consensus) or D-then-G alternating steps")
    gamma: float = param(0.0, "consensus optimization's γ (simultaneous only; 0: plain simultaneous)",
                         low=0.0, high=1e4)
    penalty: Literal["none", "gp", "r1"] = param("none", "D's penalty: gp (WGAN-GP) or r1 (Mescheder 2018)")
    penalty_weight: float = param(0.0, "λ of the gradient penalty, or γ of R1 (the term is γ/2·R1)",
                                  low=0.0, high=1e4)
    clip: float = param(0.0, "WGAN weight clipping to [−c, c] after each critic step (0: off)", low=0.0, high=10.0)
    n_critic: int = param(1, "critic steps per generator step (alternating only)", low=1, high=1000)
    official_schedule: bool = param(False, "WGAN's official code: 100 critic steps for the first 25 "
                                    "generator steps and every 500th")
    optimizer: Literal["rmsprop", "adam"] = param("rmsprop", "optimizer of both players")
    lr_d: float = param(1e-4, "D's (critic's) learning rate", low=0.0, high=1.0, low_open=True)
    lr_g: float = param(1e-4, "G's learning rate", low=0.0, high=1.0, low_open=True)
    beta1: float = param(0.5, "Adam's β1", low=0.0, high=0.999)
    beta2: float = param(0.999, "Adam's β2", low=0.0, high=0.9999)

    def __post_init__(self) -> None:
        problems = []
        if self.gamma > 0 and self.scheme != "simultaneous":
            problems.append("--gamma > 0 (consensus optimization) needs --scheme simultaneous")
        if self.n_critic > 1 and self.scheme != "alternating":
            problems.append("--n-critic > 1 needs --scheme alternating")
        if self.official_schedule and (self.scheme != "alternating" or self.loss != "wgan"):
            problems.append("--official-schedule is WGAN's: it needs --loss wgan --scheme alternating")
        if self.clip > 0 and (self.loss != "wgan" or self.scheme != "alternating"):
            problems.append("--clip is WGAN's weight clipping: it needs --loss wgan --scheme alternating")
        if self.penalty == "gp" and self.loss != "wgan":
            problems.append("--penalty gp is WGAN-GP's: it needs --loss wgan")
        if self.penalty != "none" and self.penalty_weight == 0:
            problems.append(f"--penalty {self.penalty} needs --penalty-weight > 0")
        if self.penalty == "gp" and self.scheme == "simultaneous" and self.gamma > 0:
            problems.append("--penalty gp with consensus optimization would need third derivatives; "
                            "use --scheme alternating")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclasses.dataclass(frozen=True)
class MixtureConfig(GameConfig):
    data: Literal["ring", "grid"] = param("ring", "ring of 8 Gaussians (σ 0.01) or grid of 25 (σ 0.05)")
    z_dim: int = param(16, "dimension of G's Gaussian noise", low=1)
    hidden: int = param(16, "units per hidden layer of both players", low=1)
    layers: int = param(4, "hidden ReLU layers of both players", low=1)
    batch_size: int = param(512, "real and generated samples per step", low=1)
    steps: int = param(20_000, "generator steps", low=1)
    eval_every: int = param(500, "steps between measurements of the mode metrics", low=1)
    window: int = param(10, "the headline metrics average the last this many measurements (the share of "
                        "high-quality samples swings between measurements; the last one alone is luck)", low=1)
    snapshots: int = param(8, "sample snapshots over training (the figure strip)", low=1, high=50)
    eigenvalues: bool = param(True, "at the end, the eigenvalues of the game's Jacobian (gan loss only)")
    ema: float = param(0.0, "sample from a moving average of G's weights with this decay (Mescheder et al. "
                       "2018 use 0.999; 0: off, sample from G itself)", low=0.0, high=0.99999)
    checkpoint_every: int = param(2_000, "steps between checkpoints (resume restarts from the last)", low=1)


def data_spec(cfg: MixtureConfig) -> tuple[Tensor, float]:
    return (ring_means(), RING_SIGMA) if cfg.data == "ring" else (grid_means(), GRID_SIGMA)


def players(cfg: MixtureConfig) -> tuple[nn.Module, nn.Module]:
    return mlp(cfg.z_dim, 2, cfg.hidden, cfg.layers), mlp(2, 1, cfg.hidden, cfg.layers)


def optimizers(cfg: GameConfig, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    if cfg.optimizer == "adam":
        make = lambda params, lr: torch.optim.Adam(params, lr, betas=(cfg.beta1, cfg.beta2))  # noqa: E731
    else:
        make = lambda params, lr: torch.optim.RMSprop(params, lr)  # noqa: E731
    return make(D.parameters(), cfg.lr_d), make(G.parameters(), cfg.lr_g)


def architecture(cfg: MixtureConfig) -> dict[str, Any]:
    return {"z_dim": cfg.z_dim, "hidden": cfg.hidden, "layers": cfg.layers} | ({"ema": True} if cfg.ema else {})


def penalty_fn(cfg: GameConfig, D: nn.Module, generator: torch.Generator):
    if cfg.penalty == "gp":
        return lambda real, fake: cfg.penalty_weight * losses.gradient_penalty(D, real, fake, generator=generator)
    if cfg.penalty == "r1":
        return lambda real, fake: 0.5 * cfg.penalty_weight * losses.r1_penalty(D, real)
    return None


def eval_noise(cfg: MixtureConfig, device: torch.device) -> Tensor:
    return torch.randn(EVAL_SAMPLES, cfg.z_dim, generator=torch.Generator().manual_seed(EVAL_SEED)).to(device)


@torch.no_grad()
def measure(cfg: MixtureConfig, G: nn.Module, z: Tensor) -> tuple[dict[str, float], Tensor]:
    """The protocol's metrics of G's samples of the fixed noise `z`, and the samples."""
    means, sigma = data_spec(cfg)
    samples = G(z).cpu()
    if not torch.isfinite(samples).all():
        return {"modes": 0.0, "hq_percent": 0.0, "reverse_kl": math.log(len(means))}, samples
    m = mode_metrics(samples, means, sigma)
    kl = min(m.reverse_kl, math.log(len(means)))  # no high-quality sample: scored as one mode's log K
    return {"modes": float(m.modes), "hq_percent": 100 * m.high_quality, "reverse_kl": kl}, samples


def one_step(cfg: GameConfig, step: int, G, D, opt_d, opt_g, draw, penalty) -> dict[str, float]:
    """Generator update number `step` (from 1), with its critic updates; returns the losses."""
    if cfg.scheme == "simultaneous":
        x, z = draw()
        return simultaneous_step(G, D, x, z, opt_d, opt_g, cfg.loss, cfg.gamma, penalty)
    n = critic_steps(step - 1, cfg.n_critic, cfg.official_schedule)
    for _ in range(n):
        x, z = draw()
        loss_d = discriminator_step(G, D, x, z, opt_d, cfg.loss, penalty, cfg.clip)
    _, z = draw()
    return {"d_loss": loss_d, "g_loss": generator_step(G, D, z, opt_g, cfg.loss)}


def check_finite(loop: Loop, out: dict[str, float], G: nn.Module, D: nn.Module) -> None:
    """End the run (TrainingDiverged) if a loss, else a player's parameters, stopped being finite."""
    loop.check_finite(out, hint="lower the learning rates or γ")
    loop.check_finite({"G": G, "D": D}, hint="lower the learning rates or γ")


def train(cfg: MixtureConfig, run: Run) -> dict[str, float]:
    data_gen = seed_everything(cfg.seed)
    means, sigma = data_spec(cfg)
    G, D = (m.to(run.device) for m in players(cfg))
    opt_d, opt_g = optimizers(cfg, G, D)
    G_avg = copy.deepcopy(G) if cfg.ema else None  # the weight average we sample from
    state = State(architecture(cfg), modules={"G": G, "D": D} | ({"G_avg": G_avg} if G_avg is not None else {}),
                  optimizers={"D": opt_d, "G": opt_g}, generators={"data": data_gen})
    start, _ = run.resume(state)
    sampler = G_avg if G_avg is not None else G
    z_eval = eval_noise(cfg, run.device)
    snapshot_steps = snapshot_schedule(cfg)
    truncate_jsonl(run.dir / "snapshots.jsonl", start)

    def draw() -> tuple[Tensor, Tensor]:
        x = sample(means, sigma, cfg.batch_size, data_gen)
        z = torch.randn(cfg.batch_size, cfg.z_dim, generator=data_gen)
        return x.to(run.device), z.to(run.device)

    penalty = penalty_fn(cfg, D, data_gen)
    if start == 0:
        _snapshot(run.dir, 0, measure(cfg, sampler, z_eval)[1])
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every)
    for step in loop:
        out = one_step(cfg, step, G, D, opt_d, opt_g, draw, penalty)
        check_finite(loop, out, G, D)
        if G_avg is not None:
            ema_update_(G_avg, G, cfg.ema)
        if step % cfg.eval_every == 0 or step == cfg.steps or step in snapshot_steps:
            m, samples = measure(cfg, sampler, z_eval)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                run.log(step, **out, **m)
                loop.postfix(modes=int(m["modes"]), hq=f"{m['hq_percent']:.0f}%")
            if step in snapshot_steps:
                _snapshot(run.dir, step, samples)
    metrics = final_metrics(cfg, G, D, run, sampler) | window_metrics(run.metrics(), cfg.window)
    plot(cfg, run)
    return metrics


WINDOWED = ("modes", "hq_percent", "reverse_kl")


def window_metrics(rows: list[dict[str, Any]], k: int) -> dict[str, float]:
    """Each mode metric's mean, minimum and maximum over the last `k` measurements of training
    (`modes_window`, `modes_window_min`, …): a headline that does not depend on where training stopped."""
    measured = [r for r in rows if all(key in r for key in WINDOWED)][-k:]
    if not measured:
        return {}
    out: dict[str, float] = {"window": float(len(measured))}
    for key in WINDOWED:
        values = [float(r[key]) for r in measured]
        out |= {f"{key}_window": sum(values) / len(values), f"{key}_window_min": min(values),
                f"{key}_window_max": max(values)}
    return out


def final_metrics(cfg: MixtureConfig, G: nn.Module, D: nn.Module, run: Run,
                  sampler: nn.Module | None = None) -> dict[str, float]:
    """The mode metrics of `sampler`'s samples (G's weight average, else G), and the eigenvalues of
    the game's Jacobian at the players' own parameters."""
    metrics, _ = measure(cfg, G if sampler is None else sampler, eval_noise(cfg, run.device))
    if cfg.eigenvalues and cfg.loss == "gan":
        eig = game_eigenvalues(cfg, G, D, run.device)
        (run.dir / "eigenvalues.json").write_text(json.dumps([[e.real, e.imag] for e in eig.tolist()]) + "\n")
        metrics |= {"eig_max_abs_imag": float(eig.imag.abs().max()), "eig_min_real": float(eig.real.min()),
                    "eig_max_abs": float(eig.abs().max())}
    return metrics


def game_eigenvalues(cfg: MixtureConfig, G: nn.Module, D: nn.Module, device: torch.device) -> Tensor:
    """Eigenvalues of the Jacobian of the joint gradient field at the current parameters, on a
    fixed batch (seeded independently of the training seed) of the training batch size."""
    gen = torch.Generator().manual_seed(EVAL_SEED + 1)
    means, sigma = data_spec(cfg)
    x = sample(means, sigma, cfg.batch_size, gen).to(device)
    z = torch.randn(cfg.batch_size, cfg.z_dim, generator=gen).to(device)
    d_loss_fn, g_loss_fn = LOSSES[cfg.loss]
    fake = G(z)
    d_fake = D(fake)
    return jacobian_eigenvalues(d_loss_fn(D(x), d_fake), g_loss_fn(d_fake), list(D.parameters()),
                                list(G.parameters()))


# ---- snapshots of the samples over training -------------------------------------------------------

def snapshot_schedule(cfg: Any) -> set[int]:
    """`cfg.snapshots` steps spread evenly up to `cfg.steps` (the mixtures also keep step 0)."""
    return {round(cfg.steps * k / cfg.snapshots) for k in range(1, cfg.snapshots + 1)}


def _snapshot(directory: Path, step: int, samples: Tensor) -> None:
    row = {"step": step, "samples": [[round(a, 4), round(b, 4)] for a, b in samples[:SNAPSHOT_POINTS].tolist()]}
    with open(directory / "snapshots.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def read_snapshots(directory: str | Path) -> list[tuple[int, Tensor]]:
    return [(int(row["step"]), torch.tensor(row["samples"]).reshape(-1, 2))
            for row in read_jsonl(Path(directory) / "snapshots.jsonl")]


def read_eigenvalues(directory: str | Path) -> Tensor | None:
    path = Path(directory) / "eigenvalues.json"
    if not path.exists():
        return None
    pairs = json.loads(path.read_text())
    return torch.complex(torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs]))


def plot(cfg: MixtureConfig, run: Run) -> None:
    from milestones.families.gan.figures import eigenvalue_plot, sample_strip
    means, sigma = data_spec(cfg)
    sample_strip(read_snapshots(run.dir), means, run.dir / "plots" / "samples.png", title=run.experiment.name,
                 limit=1.6 if cfg.data == "ring" else 5.5)
    eig = read_eigenvalues(run.dir)
    if eig is not None:
        eigenvalue_plot({run.experiment.name: eig}, run.dir / "plots" / "eigenvalues.png")


def evaluate(cfg: MixtureConfig, run: Run) -> dict[str, float]:
    G, D = (m.to(run.device) for m in players(cfg))
    G_avg = copy.deepcopy(G) if cfg.ema else None
    modules = {"G": G, "D": D} | ({"G_avg": G_avg} if G_avg is not None else {})
    loaded = run.load(State(architecture(cfg), modules=modules))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    cfg = dataclasses.replace(cfg, eigenvalues=False)  # a diverged run's parameters may not be finite
    return final_metrics(cfg, G, D, run, G_avg) | {"step": loaded.step}


# ---- the experiments ----------------------------------------------------------------------------

NUMERICS = "Mescheder, Nowozin & Geiger 2017, The Numerics of GANs (arXiv 1705.10461)"
METHODS: dict[str, tuple[str, dict[str, Any], str]] = {
    "simgd": ("simultaneous gradient descent", dict(optimizer="rmsprop", lr_d=5e-4, lr_g=5e-4), NUMERICS),
    "conopt": ("consensus optimization, γ = 10", dict(optimizer="rmsprop", lr_d=5e-4, lr_g=5e-4, gamma=10.0),
               NUMERICS),
    "conopt-ema": ("consensus optimization, γ = 10, sampled from G's weight average (0.999)",
                   dict(optimizer="rmsprop", lr_d=5e-4, lr_g=5e-4, gamma=10.0, ema=0.999),
                   NUMERICS + "; weight average: Mescheder, Geiger & Nowozin 2018 (arXiv 1801.04406)"),
    "conopt-ema-4x64": ("consensus optimization, γ = 10, G's weight average, 4×64 players",
                        dict(optimizer="rmsprop", lr_d=5e-4, lr_g=5e-4, gamma=10.0, ema=0.999, hidden=64,
                             eigenvalues=False),
                        NUMERICS + "; weight average: Mescheder, Geiger & Nowozin 2018 (arXiv 1801.04406)"),
    "gan": ("non-saturating GAN, alternating steps",
            dict(scheme="alternating", optimizer="adam", lr_d=1e-4, lr_g=1e-4, beta1=0.5, beta2=0.999),
            "Goodfellow et al. 2014, Generative Adversarial Networks (arXiv 1406.2661)"),
    "wgan": ("WGAN, weights clipped to ±0.01, n_critic 5",
             dict(loss="wgan", scheme="alternating", optimizer="rmsprop", lr_d=5e-5, lr_g=5e-5, clip=0.01,
                  n_critic=5, steps=10_000, eval_every=250),
             "Arjovsky, Chintala & Bottou 2017, Wasserstein GAN (arXiv 1701.07875)"),
    "wgan-gp": ("WGAN-GP, λ = 0.1, n_critic 5",
                dict(loss="wgan", scheme="alternating", optimizer="adam", lr_d=1e-4, lr_g=1e-4, beta1=0.5,
                     beta2=0.9, penalty="gp", penalty_weight=0.1, n_critic=5, steps=10_000, eval_every=250),
                "Gulrajani et al. 2017, Improved Training of Wasserstein GANs (arXiv 1704.00028)"),
}
# The same methods on the wider players that conopt-ema-4x64 uses, so that every method is compared on
# both player sizes (the table's rows otherwise set 4×64 consensus beside 4×16 others).
for _method in ("gan", "wgan", "wgan-gp"):
    _label, _overrides, _citation = METHODS[_method]
    METHODS[f"{_method}-4x64"] = (f"{_label}, 4×64 players", _overrides | dict(hidden=64, eigenvalues=False),
                                  _citation)
# the published rows of gan.md's table: (method, ring modes, ring % HQ, grid modes, grid % HQ, source)
PUBLISHED = (
    ("GAN", 1, 99.3, 3.3, 0.5, "VEEGAN Table 1"),
    ("Unrolled GAN", 7.6, 35.6, 23.6, 16, "VEEGAN Table 1"),
    ("VEEGAN", 8, 52.9, 24.6, 40, "VEEGAN Table 1"),
    ("WGAN-GP", 6.8, 59.6, 24.2, 28.7, "GDPP figure"),
    ("GDPP-GAN", 8.0, 71.7, 24.8, 68.5, "GDPP figure"),
    ("GAN", 6.3, 98.2, 17.3, 94.8, "PacGAN Table 1 (10 trials)"),
    ("PacGAN4", 7.8, 95.9, 24.8, 93.6, "PacGAN Table 1"),
)
DEVIATIONS = (
    "Every method trains The Numerics of GANs' players (4×16 ReLU MLPs, z ∈ R^16, batch 512) rather "
    "than each paper's own networks, so that only the training method differs; the -4x64 recipes "
    "(consensus with the weight average, GAN, WGAN, WGAN-GP) widen them to 64 units (their Jacobian, "
    "26 000 parameters square, is not computed).",
    "A step is one generator update. GAN, simultaneous GD and consensus optimization take 20 000 steps "
    "(the Numerics notebook 50 000); WGAN and WGAN-GP 10 000 generator steps with 5 critic steps each "
    "(60 000 updates), to fit five seeds of every method on a 2-core CPU.",
    "Simultaneous GD and consensus optimization use RMSProp 5e-4, not the Numerics' 1e-4: at 1e-4 "
    "consensus optimization (seed 0, ring) had 8 modes but 20 % high-quality samples after 20 000 steps "
    "(22 % at 22 000), at 5e-4 8 modes and 85-96 % from 10 000 steps on. Simultaneous GD was run at "
    "5e-4 only, where it cycles between single modes.",
    "The non-saturating GAN uses Adam(1e-4, β = (0.5, 0.999)), a common choice in the MoG papers; "
    "Goodfellow et al. used SGD with momentum on other data.",
    "WGAN-GP uses the authors' toy-data settings (λ = 0.1, Adam β = (0.5, 0.9)), not the paper's λ = 10.",
    "Metrics on 2 500 samples of fixed noise, measured every 500 steps (WGANs: 250); the headline is "
    "each seed's mean over its last 10 measurements (no selection of the best step), the last one beside it.",
)


def _experiment(data: str, method: str) -> Experiment:
    label, overrides, citation = METHODS[method]
    cfg = MixtureConfig(data=data, **overrides)
    modes = 8 if data == "ring" else 25
    refs = (Reference("modes", modes, "gan.md (VEEGAN / PacGAN protocol)", f"all {modes} modes"),)
    budgets = {"quick": {"steps": 400, "eval_every": 100, "eigenvalues": False, "checkpoint_every": 200},
               "full": {}}
    return Experiment(
        name=f"gan/{data}-{method}", summary=f"{label} on the {data} of {modes} Gaussians",
        config=cfg, train=train, evaluate=evaluate, metric="modes", goal="max", citation=citation,
        references=refs, deviations=DEVIATIONS, budgets=budgets, group=f"gan/{data}")


EXPERIMENTS = tuple(_experiment(data, method) for data in ("ring", "grid") for method in METHODS
                    if not (data == "grid" and method == "simgd"))
