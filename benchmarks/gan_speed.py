"""Training throughput of the GAN recipes, and what consensus optimization costs over a plain step.

    python benchmarks/gan_speed.py [--device cpu|cuda] [--seconds 3] [--json FILE]

For each recipe (`milestones list gan/`) it runs the recipe's own training step (`one_step`: the
generator update with its critic updates, on fresh batches) for about `seconds` after warm-up and
reports generator steps per second. The consensus overhead is the time of a consensus step (γ = 10)
over the time of the same players' plain simultaneous step (γ = 0), measured in the same run
on the 4×16 MLPs of the mixtures and on the Fashion-MNIST DCGAN players: it is the price of the
double backprop, which the Numerics paper puts at roughly 2× a plain step.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from milestones.families.gan import experiments as mix
from milestones.families.gan import fashion as fx
from milestones.records import save_benchmark
from milestones.registry import select


def _players_and_draw(cfg, device: torch.device):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    if isinstance(cfg, fx.FashionConfig):
        G, D = fx.players(cfg)
        real = torch.rand(4096, 1, 28, 28, generator=gen) * 2 - 1  # timing only: the pixels do not matter

        def draw():
            idx = torch.randint(len(real), (cfg.batch_size,), generator=gen)
            return real[idx].to(device), torch.randn(cfg.batch_size, cfg.z_dim, generator=gen).to(device)
    else:
        G, D = mix.players(cfg)
        means, sigma = mix.data_spec(cfg)

        def draw():
            return (mix.sample(means, sigma, cfg.batch_size, gen).to(device),
                    torch.randn(cfg.batch_size, cfg.z_dim, generator=gen).to(device))
    return G.to(device), D.to(device), draw


def steps_per_second(cfg, device: torch.device, seconds: float) -> float:
    G, D, draw = _players_and_draw(cfg, device)
    opt_d, opt_g = mix.optimizers(cfg, G, D)
    penalty = mix.penalty_fn(cfg, D, torch.Generator().manual_seed(1))
    step = 0

    def run(n: int) -> None:
        nonlocal step
        for _ in range(n):
            step += 1
            mix.one_step(cfg, step + 30, G, D, opt_d, opt_g, draw, penalty)  # past WGAN's 25-step burst
        if device.type == "cuda":
            torch.cuda.synchronize()

    run(3)
    n, elapsed = 1, 0.0
    while elapsed < seconds:  # grow the count until one batch of steps takes long enough
        start = time.perf_counter()
        run(n)
        elapsed = time.perf_counter() - start
        if elapsed < seconds:
            n *= 2
    return n / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    device = torch.device(args.device)
    rows = {}
    for exp in select("gan/"):
        rows[exp.name] = steps_per_second(exp.config, device, args.seconds)
        print(f"{exp.name:<22} {rows[exp.name]:9.1f} generator steps/s", flush=True)
    overhead = {}
    for label, cfg in (("mixtures 4x16 MLPs, batch 512", select("gan/ring-conopt")[0].config),
                       ("Fashion-MNIST DCGAN, batch 64", select("gan/fashion-conopt")[0].config)):
        plain = steps_per_second(dataclasses.replace(cfg, gamma=0.0), device, args.seconds)
        consensus = steps_per_second(cfg, device, args.seconds)
        overhead[label] = {"plain_steps_per_s": plain, "consensus_steps_per_s": consensus,
                           "consensus_time_ratio": plain / consensus}
        print(f"consensus step on {label}: {plain / consensus:.2f}× the time of a plain simultaneous step "
              f"({plain:.1f} vs {consensus:.1f} steps/s)", flush=True)
    if args.json:
        save_benchmark(args.json, "gan_speed", device=args.device, settings={"seconds": args.seconds},
                       results={"generator_steps_per_s": rows, "consensus_overhead": overhead})

if __name__ == "__main__":
    main()
