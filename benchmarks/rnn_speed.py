"""Forward + backward time of our LSTM, GRU and plain RNN against torch.nn.LSTM / GRU / RNN, in one run.

    python benchmarks/rnn_speed.py [--device cpu|cuda] [--hidden 128 256] [--repeats 20] [--threads N]
                                   [--json FILE]

Shape: B = 32, T = 100, I = 64, H = 128 and 256, float32. Each entry is the median over `repeats`
timed calls of forward + backward of sum(output), after warm-up; the ratio is against torch.nn's
module of the same kind in the same run. Ratios, not absolute times, are what carry over between
machines. The compiled GRU's warm-up calls include its compilation (not timed). On a GPU one more
row runs the lecture GRU's hand-written forward and backward passes as captured CUDA graphs
(`torch.cuda.make_graphed_callables` applied to our module: torch's API, nothing of ours).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from milestones import GRU, LSTM, RNN
from milestones.machine import cpu_model
from milestones.records import save_benchmark

B, T, I = 32, 100, 64


GRAPHED = "GRU lecture (fused, CUDA-graphed: make_graphed_callables)"


def contenders(H: int) -> dict[str, tuple[str, torch.nn.Module]]:
    """name -> (the torch.nn module it is compared with, module)."""
    return {
        "torch.nn.LSTM": ("torch.nn.LSTM", torch.nn.LSTM(I, H)),
        "LSTM (fused: torch kernel)": ("torch.nn.LSTM", LSTM(I, H)),
        "LSTM (loop: lecture equations)": ("torch.nn.LSTM", LSTM(I, H, backend="loop")),
        "torch.nn.GRU": ("torch.nn.GRU", torch.nn.GRU(I, H)),
        "GRU lecture (fused: hand-written BPTT)": ("torch.nn.GRU", GRU(I, H)),
        "GRU lecture (loop: autograd)": ("torch.nn.GRU", GRU(I, H, backend="loop")),
        "GRU lecture (compiled; CUDA graphs on a GPU)": ("torch.nn.GRU", GRU(I, H, backend="compiled")),
        "GRU reset-after (fused: torch kernel)": ("torch.nn.GRU", GRU(I, H, reset_after=True)),
        "GRU reset-after (loop)": ("torch.nn.GRU", GRU(I, H, reset_after=True, backend="loop")),
        "torch.nn.RNN": ("torch.nn.RNN", torch.nn.RNN(I, H)),
        "RNN (fused: torch kernel)": ("torch.nn.RNN", RNN(I, H)),
        "RNN (loop: the equation per step)": ("torch.nn.RNN", RNN(I, H, backend="loop")),
    }


def time_module(module: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    def once() -> None:
        module.zero_grad(set_to_none=True)
        module(x)[0].sum().backward()

    for _ in range(3):
        once()
    times = []
    for _ in range(repeats):
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        once()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--hidden", nargs="+", type=int, default=[128, 256], help="hidden sizes H (default 128 256)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else cpu_model()
    print(f"forward+backward, B={B} T={T} I={I}, float32, {device.type}: {where}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, median of {args.repeats}")
    rows = []
    for H in args.hidden:
        x = torch.randn(T, B, I, device=device)
        modules = {name: (ref, m.to(device)) for name, (ref, m) in contenders(H).items()}
        if device.type == "cuda":
            modules[GRAPHED] = ("torch.nn.GRU", torch.cuda.make_graphed_callables(GRU(I, H).to(device), (x,)))
        measured = {}
        for name, (ref, m) in modules.items():
            measured[name] = (ref, time_module(m, x, args.repeats))
            print(f"  {name}: {measured[name][1] * 1e3:.2f} ms", flush=True)
        print(f"\nH = {H}\n{'implementation':<52} {'ms':>8} {'× torch.nn':>11}")
        for name, (ref, seconds) in measured.items():
            ratio = seconds / measured[ref][1]
            rows.append({"H": H, "implementation": name, "ms": seconds * 1e3, "ratio": ratio,
                         "against": ref})
            print(f"{name:<52} {seconds * 1e3:8.1f} {ratio:10.2f}×")
    if args.json:
        settings = {"shape": {"B": B, "T": T, "I": I, "H": args.hidden}, "repeats": args.repeats}
        save_benchmark(args.json, "rnn_speed", device=device.type, settings=settings, results={"rows": rows})

if __name__ == "__main__":
    main()
