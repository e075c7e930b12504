"""GANs on Fashion-MNIST: DCGAN-style players trained with each method, measured offline.

The players are `milestones.gan.dcgan`'s (28×28, width 32, z ∈ R^64, batch 64); the methods are
the mixture experiments' (`GameConfig`): the non-saturating DCGAN with Adam 2e-4, WGAN-GP (λ = 10,
n_critic 5, Adam 1e-4, β = (0, 0.9)) and consensus optimization (γ = 10, RMSProp 1e-4, no batch
norm, as in the Numerics' CIFAR-10 nets). Quality is measured in the feature space of our own
Fashion-MNIST classifier (`milestones.gan.features`, trained once and cached): the Fréchet distance
to the test images and precision / recall / density / coverage; the same numbers for the training
images against the test images are the floor. They are not Inception FIDs.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from milestones.config import param
from milestones.data import data_dir
from milestones.families.gan.experiments import (
    GameConfig,
    check_finite,
    one_step,
    optimizers,
    penalty_fn,
    snapshot_schedule,
)
from milestones.family import Experiment
from milestones.gan import features as ft
from milestones.gan.dcgan import Discriminator, Generator
from milestones.gan.idx import load_fashion_mnist
from milestones.runs import Run, read_jsonl, truncate_jsonl
from milestones.seeding import seed_everything
from milestones.state import State

EVAL_SEED = 28_28  # fixed noise for the measured samples and the sample grids
GRID_IMAGES = 16  # images per row of the strip over training
REAL_SUBSET = 10_000  # training images measured against the test set for the floor
TEST_IMAGES = 10_000  # test images every measurement compares against (all of them)


@dataclasses.dataclass(frozen=True)
class FashionConfig(GameConfig):
    z_dim: int = param(64, "dimension of G's Gaussian noise", low=1)
    width: int = param(32, "channels of the first conv layer (the second has twice as many)", low=1)
    batchnorm: bool = param(True, "batch norm in G (never in D)")
    batch_size: int = param(64, "real and generated images per step", low=1)
    steps: int = param(6_000, "generator steps", low=1)
    eval_every: int = param(500, "steps between measurements in the classifier's feature space", low=1)
    eval_samples: int = param(2_000, "generated images per measurement during training", low=10)
    final_samples: int = param(10_000, "generated images of the final measurement", low=10)
    snapshots: int = param(6, "rows of sample images over training (fixed noise)", low=1, high=30)
    checkpoint_every: int = param(250, "steps between checkpoints (resume restarts from the last)", low=1)


def players(cfg: FashionConfig) -> tuple[nn.Module, nn.Module]:
    return Generator(cfg.z_dim, cfg.width, cfg.batchnorm), Discriminator(cfg.width)


def architecture(cfg: FashionConfig) -> dict[str, Any]:
    return {"z_dim": cfg.z_dim, "width": cfg.width, "batchnorm": cfg.batchnorm}


@dataclasses.dataclass
class Judge:
    """The classifier and the test images' features every measurement compares against."""

    classifier: ft.FashionClassifier
    info: dict
    test_features: Tensor
    test_stats: tuple[Tensor, Tensor]

    @classmethod
    def load(cls) -> "Judge":
        classifier, info = ft.load_classifier()
        feats = ft.features(classifier, fashion("test", str(data_dir()))[:TEST_IMAGES])
        return cls(classifier, info, feats, ft.gaussian_stats(feats))

    def measure(self, images: Tensor, pr_points: int = 5_000) -> dict[str, float]:
        feats = ft.features(self.classifier, images.float().cpu())
        if not torch.isfinite(feats).all():
            raise FloatingPointError("generated images are not finite")
        fd = ft.frechet_distance(*ft.gaussian_stats(feats), *self.test_stats)
        n = min(pr_points, len(feats), len(self.test_features))
        fid = ft.precision_recall(self.test_features[:n], feats[:n])
        return {"fd": fd, "precision": fid.precision, "recall": fid.recall, "density": fid.density,
                "coverage": fid.coverage}


@torch.no_grad()
def generate(G: nn.Module, n: int, z_dim: int, device: torch.device, seed: int = EVAL_SEED) -> Tensor:
    was_training = G.training
    G.eval()
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    images = torch.cat([G(z[i:i + 500]) for i in range(0, n, 500)])
    G.train(was_training)
    return images.cpu()


@functools.lru_cache(maxsize=2)
def fashion(split: str, data_dir: str | None) -> Tensor:
    """The split's images (n, 1, 28, 28) in [−1, 1], read once per process (callers never write them)."""
    return ft.to_model_range(load_fashion_mnist(split, data_dir)[0])


def train(cfg: FashionConfig, run: Run) -> dict[str, float]:
    data_gen = seed_everything(cfg.seed)
    real = fashion("train", str(data_dir()))
    judge = Judge.load()
    G, D = (m.to(run.device) for m in players(cfg))
    opt_d, opt_g = optimizers(cfg, G, D)
    state = State(architecture(cfg), modules={"G": G, "D": D}, optimizers={"D": opt_d, "G": opt_g},
                  generators={"data": data_gen})
    start, _ = run.resume(state)
    snapshot_steps = snapshot_schedule(cfg)
    truncate_jsonl(run.dir / "sample_rows.jsonl", start)

    def draw() -> tuple[Tensor, Tensor]:
        x = real[torch.randint(len(real), (cfg.batch_size,), generator=data_gen)]
        z = torch.randn(cfg.batch_size, cfg.z_dim, generator=data_gen)
        return x.to(run.device), z.to(run.device)

    penalty = penalty_fn(cfg, D, data_gen)
    loop = run.loop(state, cfg.steps, start=start, checkpoint_every=cfg.checkpoint_every)
    for step in loop:
        out = one_step(cfg, step, G, D, opt_d, opt_g, draw, penalty)
        check_finite(loop, out, G, D)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            m = judge.measure(generate(G, cfg.eval_samples, cfg.z_dim, run.device))
            run.log(step, **out, **m)
            loop.postfix(fd=f"{m['fd']:.3g}")
        if step in snapshot_steps:
            _grid_row(run.dir, step, generate(G, GRID_IMAGES, cfg.z_dim, run.device))
    metrics = final_metrics(cfg, G, judge, run.device)
    plot(cfg, G, run)
    return metrics


def final_metrics(cfg: FashionConfig, G: nn.Module, judge: Judge, device: torch.device) -> dict[str, float]:
    ours = judge.measure(generate(G, cfg.final_samples, cfg.z_dim, device))
    floor = judge.measure(fashion("train", str(data_dir()))[:REAL_SUBSET])
    return ours | {f"{k}_real": v for k, v in floor.items()} | {"classifier_accuracy": judge.info["test_accuracy"]}


def evaluate(cfg: FashionConfig, run: Run) -> dict[str, float]:
    G, D = (m.to(run.device) for m in players(cfg))
    loaded = run.load(State(architecture(cfg), modules={"G": G, "D": D}))
    if loaded is None:
        raise FileNotFoundError(f"{run.dir} has no checkpoint to evaluate")
    return final_metrics(cfg, G, Judge.load(), run.device) | {"step": loaded.step}


def _grid_row(directory: Path, step: int, images: Tensor) -> None:
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    with open(directory / "sample_rows.jsonl", "a") as f:
        f.write(json.dumps({"step": step, "images": pixels.flatten(1).tolist()}) + "\n")


def read_grids(directory: str | Path) -> list[tuple[int, Tensor]]:
    """The sample rows saved over training: (step, images (16, 1, 28, 28) in [−1, 1])."""
    return [(int(row["step"]), torch.tensor(row["images"], dtype=torch.float32).view(-1, 1, 28, 28) / 127.5 - 1)
            for row in read_jsonl(Path(directory) / "sample_rows.jsonl")]


def plot(cfg: FashionConfig, G: nn.Module, run: Run) -> None:
    from milestones.families.gan.figures import image_grid, image_rows
    rows = read_grids(run.dir)
    if rows:
        image_rows(rows, run.dir / "plots" / "samples_over_training.png",
                   title=f"{run.experiment.name}: the same 16 noise vectors over training")
    image_grid(generate(G, 64, cfg.z_dim, run.device), run.dir / "plots" / "samples.png",
               title=f"{run.experiment.name}: 64 samples at the end of training")


# ---- the experiments ----------------------------------------------------------------------------

METHODS: dict[str, tuple[str, dict[str, Any], str]] = {
    "dcgan": ("DCGAN (non-saturating, alternating, Adam 2e-4)",
              dict(scheme="alternating", optimizer="adam", lr_d=2e-4, lr_g=2e-4, beta1=0.5, beta2=0.999,
                   steps=15_000, eval_every=1_000),
              "Radford, Metz & Chintala 2016, DCGAN (arXiv 1511.06434); Goodfellow et al. 2014"),
    "wgan-gp": ("WGAN-GP (λ = 10, n_critic 5, Adam 1e-4, β = (0, 0.9))",
                dict(loss="wgan", scheme="alternating", optimizer="adam", lr_d=1e-4, lr_g=1e-4, beta1=0.0,
                     beta2=0.9, penalty="gp", penalty_weight=10.0, n_critic=5, steps=3_000, eval_every=250),
                "Gulrajani et al. 2017, Improved Training of Wasserstein GANs (arXiv 1704.00028)"),
    "conopt": ("consensus optimization (γ = 10, RMSProp 1e-4, no batch norm)",
               dict(gamma=10.0, optimizer="rmsprop", lr_d=1e-4, lr_g=1e-4, batchnorm=False, steps=6_000,
                    eval_every=500),
               "Mescheder, Nowozin & Geiger 2017, The Numerics of GANs (arXiv 1705.10461)"),
}
DEVIATIONS = (
    "Small DCGAN-style players (width 32, two conv layers each) and a few thousand generator steps, "
    "sized for a 2-core CPU: the papers train larger nets for 100k+ steps on GPUs.",
    "The methods get different step counts so that each trains for about 7 minutes on 2 cores (a WGAN-GP "
    "generator step costs 5 critic steps with double backprop, a consensus step a double backprop; "
    "measured by benchmarks/gan_speed.py: 35, 6.3 and 15 generator steps/s).",
    "Quality is measured with our own Fashion-MNIST classifier's features, not Inception-v3: the "
    "Fréchet distances are not comparable with published FIDs. The training images' own distance to "
    "the test images (fd_real) is the floor.",
)


def _experiment(method: str) -> Experiment:
    label, overrides, citation = METHODS[method]
    return Experiment(
        name=f"gan/fashion-{method}", summary=f"{label} on Fashion-MNIST", config=FashionConfig(**overrides),
        train=train, evaluate=evaluate, metric="fd", goal="min", citation=citation, references=(),
        deviations=DEVIATIONS, group="gan/fashion",
        budgets={"quick": {"steps": 40, "eval_every": 20, "eval_samples": 200, "final_samples": 500,
                           "checkpoint_every": 20, "snapshots": 2}, "full": {}})


EXPERIMENTS = tuple(_experiment(m) for m in METHODS)
