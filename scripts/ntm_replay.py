"""Replay an NTM run's updates from one of its checkpoints and watch each one: how a collapse starts.

    python scripts/ntm_replay.py RUN_DIR [--checkpoint best|last] [--updates 200] [--clip-state C]
                                         [--val-every 10]

RUN_DIR is a run of an `ntm/…`, `ntm-ff/…` or `lstm/…` experiment. The checkpoint holds the model,
the optimiser and the training data stream, so the replayed updates are the ones the run made (the
validation costs it logged come out again, digit for digit); nothing in RUN_DIR is written. Each
update prints its training cost (mean and worst sequence, bits), the global gradient norm before
clipping, the norm of each part of the model (controller, heads, output, initial state …) and the
largest change the update made to a parameter of that part; every --val-every updates also the
validation cost. --clip-state C replays the same updates with the gradient into each step's state
clamped to ±C, to see whether the clamp keeps the run where the run itself collapsed.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from milestones import config as cfg_mod
from milestones.families.ntm import experiments as ntm_exp
from milestones.registry import catalog
from milestones.runs import Run


def replay(run_dir: str, checkpoint: str = "best", updates: int = 200, clip_state: float | None = None,
           val_every: int = 10) -> Iterator[dict[str, Any]]:
    """The rows of `updates` updates replayed from `checkpoint`: update, sequences, train_bits,
    worst_bits, norm, parts {name: (gradient norm, largest parameter change)}, and val_bits on the
    updates divisible by `val_every`."""
    name, config = Run.read_config(run_dir)
    exp = catalog()[name]
    if exp.train is not ntm_exp.train:
        raise SystemExit(f"{run_dir} is a run of {name}, not of an NTM-task experiment (ntm/…, ntm-ff/…, lstm/…)")
    cfg = cfg_mod.from_dict(type(exp.config), config)
    if clip_state is not None:
        cfg = dataclasses.replace(cfg, clip_state=clip_state)
    run = Run(run_dir, exp, cfg, progress=False)
    model, opt, data_gen, state, forward_args = ntm_exp.training_parts(cfg, run.device)
    loaded = run.load(state, checkpoint)
    if loaded is None:
        raise SystemExit(f"{run_dir}: no checkpoint {checkpoint!r} (expected best or last)")
    spikes = ntm_exp.spike_clip(cfg, loaded.extra)
    rollbacks, dropped = int(loaded.extra.get("rollbacks", 0)), bool(loaded.extra.get("lr_dropped", False))
    validation = ntm_exp.episodes(cfg.task, cfg.validation_size, ntm_exp.VALIDATION_SEED)
    params = dict(model.named_parameters())
    for step in range(loaded.step + 1, loaded.step + updates + 1):
        _, per_seq = ntm_exp.backward(cfg, model, step, data_gen, run.device, forward_args)
        grads = {n: p.grad.double().pow(2).sum().item() for n, p in params.items() if p.grad is not None}
        norm = ntm_exp.clip(cfg, model)
        before = {n: p.detach().clone() for n, p in params.items()}
        if not torch.isfinite(norm):
            raise SystemExit(f"update {step}: the gradient norm is not finite; the run would stop here")
        ntm_exp.apply_update(cfg, model, opt, spikes, norm, step, rollbacks, dropped)
        parts: dict[str, list[float]] = {}
        for n, p in params.items():
            part = parts.setdefault(n.split(".")[0], [0.0, 0.0])
            part[0] += grads.get(n, 0.0)
            part[1] = max(part[1], (p.detach() - before[n]).abs().max().item())
        row = {"update": step, "sequences": step * cfg.batch_size, "train_bits": per_seq.mean().item(),
               "worst_bits": per_seq.max().item(), "norm": norm.item(),
               "parts": {k: (math.sqrt(g), d) for k, (g, d) in parts.items()}}
        if step % val_every == 0:
            row["val_bits"] = ntm_exp.cost(model, validation, run.device)["bits"]
        yield row


def line(row: dict[str, Any]) -> str:
    parts = " ".join(f"{k} {g:.2g}/{d:.1e}" for k, (g, d) in row["parts"].items())
    val = f"  validation {row['val_bits']:.1f}" if "val_bits" in row else ""
    return (f"{row['update']:>7} {row['sequences']:>9} train {row['train_bits']:6.1f} worst {row['worst_bits']:6.1f} "
            f"norm {row['norm']:9.3g}  {parts}{val}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--clip-state", type=float, default=None,
                        help="clamp the gradient into each step's state to ±C (default: the run's own setting)")
    parser.add_argument("--val-every", type=int, default=10)
    args = parser.parse_args(argv)
    if args.updates < 1 or args.val_every < 1:
        parser.error(f"--updates and --val-every must be ≥ 1, got {args.updates} and {args.val_every}")
    print("update sequences  training bits (mean, worst sequence), gradient norm before clipping, "
          "per part: gradient norm/largest parameter change")
    for row in replay(args.run_dir, args.checkpoint, args.updates, args.clip_state, args.val_every):
        print(line(row), flush=True)


if __name__ == "__main__":
    main()
