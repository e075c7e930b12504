"""Sample quality in the feature space of our own Fashion-MNIST classifier (no Inception weights).

Published FIDs use Inception-v3 features of ImageNet-trained weights, which are downloaded at run
time; offline we train a small classifier on Fashion-MNIST once, cache it, and measure generated
images in its 128-d penultimate features. The numbers are therefore NOT Inception FIDs and are not
comparable with published ones; they compare methods run here with each other and with the real
data's own floor (training images against test images).

    Fréchet distance (Heusel et al. 2017)   ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)
    precision / recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour balls, and density /
    coverage (Naeem et al. 2020), with k = 5: a real point's ball has the radius to its k-th
    nearest real neighbour (itself excluded), a fake point's likewise among the fakes.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from milestones.gan.idx import load_fashion_mnist

CLASSIFIER_FILE = "fashion-classifier.safetensors"
CLASSIFIER_RECIPE = {"epochs": 2, "batch_size": 128, "lr": 1e-3, "seed": 0}


class FashionClassifier(nn.Module):
    """Two 3×3 conv + max-pool blocks (32, 64 channels), a 128-unit feature layer, 10 logits.
    Takes images in [−1, 1] (the generators' range)."""

    features_dim = 128

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * 7 * 7, self.features_dim), nn.ReLU())
        self.out = nn.Linear(self.features_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.conv(x.view(-1, 1, 28, 28))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x))


def cache_dir() -> Path:
    """Where trained helpers are cached: $MILESTONES_CACHE, else ~/.cache/milestones."""
    return Path(os.environ.get("MILESTONES_CACHE") or "~/.cache/milestones").expanduser()


def to_model_range(images: Tensor) -> Tensor:
    """(n, 28, 28) in [0, 1] → (n, 1, 28, 28) in [−1, 1]."""
    return images.unsqueeze(1) * 2 - 1


@torch.no_grad()
def accuracy(model: FashionClassifier, images: Tensor, labels: Tensor) -> float:
    model.eval()
    hits = sum(int((model(images[i:i + 1000]).argmax(1) == labels[i:i + 1000]).sum())
               for i in range(0, len(images), 1000))
    return hits / len(images)


def train_classifier(data_dir: str | Path | None = None, *, epochs: int = 2, batch_size: int = 128,
                     lr: float = 1e-3, seed: int = 0, limit: int | None = None,
                     progress: bool = False) -> tuple[FashionClassifier, dict]:
    """Train the classifier with Adam on the training images (the first `limit` if given);
    returns it with its recipe and test accuracy."""
    images, labels = load_fashion_mnist("train", data_dir)
    if limit:
        images, labels = images[:limit], labels[:limit]
    test_images, test_labels = load_fashion_mnist("test", data_dir)
    x, tx = to_model_range(images), to_model_range(test_images)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = FashionClassifier()
    opt = torch.optim.Adam(model.parameters(), lr)
    from tqdm.auto import tqdm
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    with tqdm(total=steps, desc="Fashion-MNIST classifier", disable=not progress, unit="step") as bar:
        for _ in range(epochs):
            model.train()
            for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                loss = F.cross_entropy(model(x[idx]), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(1)
    info = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "train_images": len(x),
            "test_accuracy": accuracy(model, tx, test_labels)}
    model.eval()
    return model, info


def load_classifier(data_dir: str | Path | None = None, cache: str | Path | None = None,
                    progress: bool = True) -> tuple[FashionClassifier, dict]:
    """The cached classifier (CACHE/fashion-classifier.safetensors), trained and cached first if
    there is none; a damaged cache file is refused with its name (delete it to retrain)."""
    path = Path(cache) if cache else cache_dir() / CLASSIFIER_FILE
    model = FashionClassifier()
    if path.exists():
        state, meta = load_checkpoint(path)
        if meta.get("recipe") != CLASSIFIER_RECIPE:
            raise CheckpointError(f"{path} was trained with {meta.get('recipe')}, expected {CLASSIFIER_RECIPE}; "
                                  f"delete it to retrain")
        model.load_state_dict(state["model"])
        model.eval()
        return model, meta["info"]
    if progress:
        print(f"training the Fashion-MNIST feature classifier once (cached at {path})", flush=True)
    model, info = train_classifier(data_dir, progress=progress, **CLASSIFIER_RECIPE)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, {"model": model.state_dict()}, {"recipe": CLASSIFIER_RECIPE, "info": info})
    return model, info


@torch.no_grad()
def features(model: FashionClassifier, images: Tensor, chunk: int = 1000) -> Tensor:
    """Penultimate features (n, 128) in float64 of images (n, 1, 28, 28) in [−1, 1]."""
    model.eval()
    return torch.cat([model.features(images[i:i + chunk]) for i in range(0, len(images), chunk)]).double()


def _sqrt_psd(m: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½ in float64 (the symmetric form of
    tr (Σ₁Σ₂)^½: the same eigenvalues, and stable where Σ₁Σ₂ is not symmetric)."""
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    root = _sqrt_psd(sigma1)
    cross = torch.linalg.eigvalsh(root @ sigma2 @ root).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * cross)


def gaussian_stats(feats: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (unbiased) covariance of features (n, d)."""
    feats = feats.double()
    return feats.mean(0), torch.cov(feats.T)


def frechet_distance_of(a: Tensor, b: Tensor) -> float:
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


@dataclasses.dataclass(frozen=True)
class Fidelity:
    precision: float  # share of fakes inside some real point's k-NN ball
    recall: float  # share of reals inside some fake point's k-NN ball
    density: float  # mean count of real balls holding a fake, over k (can exceed 1)
    coverage: float  # share of real balls holding at least one fake


def _knn_radii(x: Tensor, k: int) -> Tensor:
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself


def precision_recall(real: Tensor, fake: Tensor, k: int = 5) -> Fidelity:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020)
    of fake features (m, d) against real features (n, d), with k-nearest-neighbour balls."""
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"need more than k = {k} real and fake points, got {len(real)} and {len(fake)}")
    real, fake = real.double(), fake.double()
    r_real, r_fake = _knn_radii(real, k), _knn_radii(fake, k)
    d = torch.cdist(fake, real)  # (m, n)
    inside_real = d <= r_real[None, :]  # fake i inside real j's ball
    return Fidelity(
        precision=float(inside_real.any(1).double().mean()),
        recall=float((d.T <= r_fake[None, :]).any(1).double().mean()),
        density=float(inside_real.double().sum() / (k * len(fake))),
        coverage=float((d.min(0).values <= r_real).double().mean()))
