"""Which associative-recall lists does a trained NTM answer wrong? Counts on validation lists, not the test set.

    python scripts/ntm_recall_failures.py RUN_DIR [RUN_DIR …] [--lists 1024] [--items 6 9 12 15]

Each RUN_DIR is a run of `ntm/associative-recall` (or its feedforward and LSTM variants). Its best
checkpoint (the one `milestones evaluate` tests) answers `--lists` lists at each item count, drawn from
the validation generator's stream VALIDATION_SEED + 2 (neither the validation set training watched nor
the test sweeps). Per run and item count it prints the mean cost (bits per list) and how many lists had
a wrong bit; then, over all runs, the lists split by how close the queried item's nearest other item is
(Hamming distance over its 3 × 6 bits) and by whether any stored vector is all zero, with the share
answered wrong in each. Nothing in RUN_DIR is written.
"""
from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from milestones import config as cfg_mod
from milestones.families.ntm import experiments as ntm_exp
from milestones.registry import catalog
from milestones.runs import Run
from milestones.tasks import algorithmic as tasks

STREAM = ntm_exp.VALIDATION_SEED + 2


def list_facts(ep: tasks.Episode, items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each list of an episode of `items` items: the Hamming distance from the queried item to the
    nearest other stored item, and whether a stored vector is all zero. -> (B,) long, (B,) bool."""
    bits, m = ep.targets.shape[-1], 3
    stored = ep.inputs[:items * (m + 1)].view(items, m + 1, -1, ep.inputs.shape[-1])[:, 1:, :, :bits]
    stored = stored.permute(2, 0, 1, 3).reshape(-1, items, m * bits)  # (B, items, 18)
    start = items * (m + 1) + 1
    query = ep.inputs[start:start + m, :, :bits].permute(1, 0, 2).reshape(-1, 1, m * bits)
    distance = (stored != query).sum(-1).sort(-1).values[:, 1]  # [:, 0] is the queried item itself
    zero = (stored.view(-1, items, m, bits).sum(-1) == 0).flatten(1).any(-1)
    return distance, zero


def failures(run_dir: str, lists: int = 1024, item_counts: Sequence[int] = (6, 9, 12, 15)) -> list[dict[str, Any]]:
    """One row per item count: items, bits (mean per list), failed (lists with a wrong bit), and per list
    (wrong, nearest distance, an all-zero vector)."""
    name, config = Run.read_config(run_dir)
    exp = catalog()[name]
    cfg = cfg_mod.from_dict(type(exp.config), config)
    if exp.train is not ntm_exp.train or cfg.task != "associative-recall":
        raise SystemExit(f"{run_dir} is a run of {name}, not of associative recall (ntm/, ntm-ff/ or lstm/)")
    run = Run(run_dir, exp, cfg, progress=False)
    model, _ = ntm_exp.load_best(cfg, run)  # the checkpoint evaluation tests
    model.eval()
    rows = []
    for k in item_counts:
        bits, per_list = 0.0, []
        for ep in ntm_exp.episodes(cfg.task, lists, STREAM, chunk=128, min_items=k, max_items=k):
            ep = ntm_exp.to(ep, run.device)
            with torch.no_grad():
                logits, _ = model(ep.inputs, generator=torch.Generator().manual_seed(0))
            bits += tasks.bits_per_sequence(logits, ep.targets, ep.mask).sum().item()
            wrong = tasks.bit_errors(logits, ep.targets, ep.mask) > 0
            distance, zero = list_facts(ep, k)
            per_list += list(zip(wrong.tolist(), distance.tolist(), zero.tolist()))
        rows.append({"items": k, "bits": bits / lists, "failed": sum(w for w, _, _ in per_list), "lists": per_list})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--lists", type=int, default=1024, help="lists per item count (default 1024)")
    parser.add_argument("--items", type=int, nargs="+", default=[6, 9, 12, 15], help="item counts")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    near, zero = Counter(), Counter()  # (bucket, wrong) -> lists
    for run_dir in args.run_dirs:
        for row in failures(run_dir, args.lists, args.items):
            print(f"{run_dir}  {row['items']:>2} items: {row['bits']:.4f} bits, "
                  f"{row['failed']} of {args.lists} lists wrong")
            for wrong, distance, has_zero in row["lists"]:
                near["1-2 bits" if distance <= 2 else "3+ bits", wrong] += 1
                zero["an all-zero vector" if has_zero else "no all-zero vector", wrong] += 1
    for title, counts in (("nearest other item", near), ("stored vectors", zero)):
        for bucket in sorted({b for b, _ in counts}):
            total = counts[bucket, True] + counts[bucket, False]
            print(f"{title}, {bucket}: {counts[bucket, True]} of {total} lists wrong "
                  f"({100 * counts[bucket, True] / total:.2f} %)")


if __name__ == "__main__":
    main()
