"""Training throughput of the NTM on the copy task: sequences per second at batch 1, 16 and 32.

    python benchmarks/ntm_speed.py [--device cpu|cuda] [--updates 20] [--compile]
                                   [--modes eager compiled graphed] [--batches 1 16 32] [--json FILE]

Modes: eager; compiled (`torch.compile` of the step, default mode); graphed (every episode padded
to the longest, 41 steps, and the whole update replayed as one CUDA graph: `GraphedUpdate`; on a CPU
the same padded update runs eagerly, so there it only shows the padding's cost).

Each measurement is `updates` full training updates (forward, backward, Adam step) of the paper's
copy NTM (LSTM controller 100, memory 128 × 20, one read and one write head) on episodes of length
U{1..20}, after warm-up. The reference point is a batch-1 implementation: our own at batch 1 in the
same run, and the popular PyTorch port's 47-70 ms per sequence measured on the same kind of machine
(../shared/reference/ntm.md; it could not be run here, so that figure is quoted, not re-measured).
"""
from __future__ import annotations

import argparse
import time

import torch

from milestones.machine import cpu_model
from milestones.nn.graphs import GraphedUpdate
from milestones.nn.ntm import NTM
from milestones.records import save_benchmark
from milestones.tasks.algorithmic import bits_per_sequence, copy_episode

PORT_MS_PER_SEQUENCE = (47.0, 70.0)  # quoted, see the docstring


MAX_STEPS = 2 * 20 + 1  # the longest copy episode: 20 vectors, the delimiter, 20 outputs
MODES = ("eager", "compiled", "graphed")


def throughput(batch: int, updates: int, device: torch.device, mode: str) -> float:
    """Training sequences per second."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model = NTM(9, 8).to(device)
    step = torch.compile(model.step) if mode == "compiled" else None
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=mode == "graphed" and device.type == "cuda")
    episodes = [copy_episode(batch, gen) for _ in range(updates + 3)]
    if mode == "graphed":
        episodes = [ep.padded(MAX_STEPS) for ep in episodes]
    batches = [(ep.inputs.to(device), ep.targets.to(device), ep.mask.to(device)) for ep in episodes]

    def loss_fn(inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits, _ = model(inputs, step=step)
        return bits_per_sequence(logits, targets, mask).mean()

    if mode == "graphed":
        update = GraphedUpdate(loss_fn, opt, batches[0])
    else:
        def update(*batch: torch.Tensor) -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(*batch)
            loss.backward()
            opt.step()
            return loss

    for b in batches[:3]:
        update(*b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for b in batches[3:]:
        update(*b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * updates / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--compile", action="store_true", help="also measure the torch.compile'd step")
    p.add_argument("--modes", nargs="+", choices=MODES, default=["eager"], help="what to measure (default eager)")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 16, 32], help="batch sizes (default 1 16 32)")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else cpu_model()
    print(f"NTM copy training throughput, {device.type}: {where}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {args.updates} updates each")
    print(f"{'mode':<10} {'batch':>5} {'seq/s':>8} {'ms/seq':>8} {'× batch 1':>10} {'× port (47-70 ms)':>18}")
    rows = []
    modes = [m for m in MODES if m in args.modes or (m == "compiled" and args.compile)]
    for mode in modes:
        base = None
        for batch in args.batches:
            rate = throughput(batch, args.updates, device, mode)
            base = base or rate
            ms = 1e3 / rate
            port = f"{PORT_MS_PER_SEQUENCE[0] / ms:.0f}-{PORT_MS_PER_SEQUENCE[1] / ms:.0f}×"
            print(f"{mode:<10} {batch:>5} {rate:8.1f} {ms:8.2f} {rate / base:9.1f}× {port:>18}")
            rows.append({"mode": mode, "batch": batch, "sequences_per_s": rate, "ms_per_sequence": ms,
                         "vs_batch1": rate / base, "vs_port_low": PORT_MS_PER_SEQUENCE[0] / ms})
    if args.json:
        save_benchmark(args.json, "ntm_speed", device=device.type,
                       settings={"updates": args.updates, "graphed_steps": MAX_STEPS}, results={"rows": rows})

if __name__ == "__main__":
    main()
