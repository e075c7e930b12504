"""Training throughput of the NTM on the copy task: sequences per second at batch 1, 16 and 32.

    python benchmarks/ntm_speed.py [--device cpu|cuda] [--updates 20] [--compile] [--json FILE]

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
from milestones.nn.ntm import NTM
from milestones.records import save_benchmark
from milestones.tasks.algorithmic import bits_per_sequence, copy_episode

PORT_MS_PER_SEQUENCE = (47.0, 70.0)  # quoted, see the docstring


def throughput(batch: int, updates: int, device: torch.device, compiled: bool) -> float:
    """Training sequences per second."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model = NTM(9, 8).to(device)
    step = torch.compile(model.step) if compiled else None
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [copy_episode(batch, gen) for _ in range(updates + 3)]

    def update(ep) -> None:
        logits, _ = model(ep.inputs.to(device), step=step)
        loss = bits_per_sequence(logits, ep.targets.to(device), ep.mask.to(device)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for ep in batches[:3]:
        update(ep)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for ep in batches[3:]:
        update(ep)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * updates / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--compile", action="store_true", help="also measure the torch.compile'd step")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else cpu_model()
    print(f"NTM copy training throughput, {device.type}: {where}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {args.updates} updates each")
    print(f"{'mode':<10} {'batch':>5} {'seq/s':>8} {'ms/seq':>8} {'× batch 1':>10} {'× port (47-70 ms)':>18}")
    rows = []
    for compiled in ([False, True] if args.compile else [False]):
        base = None
        for batch in (1, 16, 32):
            rate = throughput(batch, args.updates, device, compiled)
            base = base or rate
            ms = 1e3 / rate
            port = f"{PORT_MS_PER_SEQUENCE[0] / ms:.0f}-{PORT_MS_PER_SEQUENCE[1] / ms:.0f}×"
            mode = "compiled" if compiled else "eager"
            print(f"{mode:<10} {batch:>5} {rate:8.1f} {ms:8.2f} {rate / base:9.1f}× {port:>18}")
            rows.append({"mode": mode, "batch": batch, "sequences_per_s": rate, "ms_per_sequence": ms,
                         "vs_batch1": rate / base, "vs_port_low": PORT_MS_PER_SEQUENCE[0] / ms})
    if args.json:
        save_benchmark(args.json, "ntm_speed", device=device.type, settings={"updates": args.updates},
                       results={"rows": rows})

if __name__ == "__main__":
    main()
