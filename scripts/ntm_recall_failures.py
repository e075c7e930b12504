"""Which associative-recall lists does a trained NTM answer wrong? Counts on validation lists, not the test set.

    python scripts/ntm_recall_failures.py RUN_DIR [RUN_DIR …] [--lists 1024] [--items 6 9 12 15] [--heads]
                                          [--sharpness] [--blank-query 0 1 2]

Each RUN_DIR is a run of `ntm/associative-recall` (or its feedforward and LSTM variants). Its best
checkpoint (the one `milestones evaluate` tests) answers `--lists` lists at each item count, drawn from
the validation generator's stream VALIDATION_SEED + 2 (neither the validation set training watched nor
the test sweeps). Per run and item count it prints the mean cost (bits per list) and how many lists had
a wrong bit; then, over all runs, the lists split by how close the queried item's nearest other item is
(Hamming distance over its 3 × 6 bits, and over its first two vectors alone), by whether any stored
vector is all zero, and by how close the query's first two vectors come to any stored item's second
and third (a match one step out of phase), with the share answered wrong in each.

--heads (NTMs only) prints, for each list answered wrong, where the read head was at the first answer
step: the stored step whose write weighting it overlaps most, as a shift in steps from where it is on
the lists answered right (0: the right place), and how many bits each query vector differs from the
stored vector that shift away (+10 where that step is an item delimiter). Nothing in RUN_DIR is written.

--sharpness (NTMs only) prints how sharp read head 0's content lookup is from the first query vector
to the first answer step: the medians over the lists answered right, and each wrong list's values, of
its β, g and γ and of the cosine similarity K(k, M_i) of its key to the best-matching slot and that
best's lead over the second best (lookup_sharpness).

--blank-query V … is a probe: in every list the queried item's vectors V (0-2) are set to zeros, in the
stored item and in the query alike, the lists otherwise the same. In the paper's lists the queried
item is all zero once in 2^18; `--blank-query 0 1 2` asks how a run answers when it is.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from milestones import config as cfg_mod
from milestones.families.ntm import experiments as ntm_exp
from milestones.nn.ntm import cosine_similarity
from milestones.registry import catalog
from milestones.runs import Run
from milestones.tasks import algorithmic as tasks

STREAM = ntm_exp.VALIDATION_SEED + 2
PHASE = "query's first two vectors against an item's second and third (out of phase)"


def _split(inputs: torch.Tensor, items: int, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Views into a batch of lists' inputs (T, B, X) of `items` items of 3 vectors: the stored vectors
    (items, 3, B, bits) and the query's (3, B, bits); and the stored item equal to the query (B,) long."""
    m = 3
    stored = inputs[:items * (m + 1)].view(items, m + 1, -1, inputs.shape[-1])[:, 1:, :, :bits]
    query = inputs[items * (m + 1) + 1:items * (m + 1) + 1 + m, :, :bits]
    return stored, query, (stored == query).all(-1).all(1).int().argmax(0)


def list_facts(ep: tasks.Episode, items: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each list of an episode of `items` items: the Hamming distance from the queried item to the
    nearest other stored item, the same over the first two vectors alone, whether a stored vector is
    all zero, and the fewest bits the query's first two vectors differ from any stored item's second
    and third (a match one step out of phase with the items, the queried item's own included).
    -> (B,) long, (B,) long, (B,) bool, (B,) long."""
    bits, m = ep.targets.shape[-1], 3
    stored, query, _ = _split(ep.inputs, items, bits)
    stored = stored.permute(2, 0, 1, 3).reshape(-1, items, m * bits)  # (B, items, 18)
    query = query.permute(1, 0, 2).reshape(-1, 1, m * bits)
    differ = stored != query  # (B, items, 18)
    distance = differ.sum(-1).sort(-1).values[:, 1]  # [:, 0] is the queried item itself
    prefix = differ[..., :2 * bits].sum(-1).sort(-1).values[:, 1]
    zero = (stored.view(-1, items, m, bits).sum(-1) == 0).flatten(1).any(-1)
    phase = (stored[..., bits:] != query[..., :2 * bits]).sum(-1).min(-1).values
    return distance, prefix, zero, phase


def blank_queried(ep: tasks.Episode, items: int, vectors: Sequence[int]) -> tasks.Episode:
    """The same lists with the queried item's `vectors` set to zeros, in the stored item and in the
    query (an episode of `items` items each; the targets, the item after it, are unchanged)."""
    inputs = ep.inputs.clone()
    stored, query, queried = _split(inputs, items, ep.targets.shape[-1])  # views into the copy
    for v in vectors:
        stored[queried, v, torch.arange(inputs.shape[1]), :] = 0.0
        query[v] = 0.0
    return dataclasses.replace(ep, inputs=inputs)


def read_positions(weights: torch.Tensor, ep: tasks.Episode, items: int, read_heads: int) -> torch.Tensor:
    """Where read head 0 is at the first answer step: the stored step (of the items' k · 4) whose write
    head 0 weighting it overlaps most, counted from the start of the item after the queried one.
    weights (T, B, H, N) from the model's trace -> (B,) long."""
    m = 3
    written = weights[:items * (m + 1), :, read_heads]  # (steps, B, N)
    first_answer = ep.inputs.shape[0] - m
    overlap = (written * weights[first_answer, :, 0]).sum(-1)  # (steps, B)
    _, _, queried = _split(ep.inputs, items, ep.targets.shape[-1])
    return overlap.argmax(0) - (queried + 1) * (m + 1)


SHARPNESS = ("beta", "g", "gamma", "best_cos", "lead")


def lookup_sharpness(model: torch.nn.Module, inputs: torch.Tensor, steps: Sequence[int]) -> dict[str, torch.Tensor]:
    """The read heads' content addressing at `steps` (indices into T) of a run on inputs (T, B, X):
    their β, g and γ, the cosine similarity of the key to the memory slot it matches best (the memory
    the step addresses, M_{t−1}) and that best's lead over the second best. -> name (SHARPNESS) ->
    (len(steps), B, R)."""
    given, memories = [], []
    hook = model.heads.register_forward_hook(lambda module, args, out: given.append(args[0]))

    def step(x: torch.Tensor, state: Any):
        memories.append(state.memory)
        return model.step(x, state)

    try:
        with torch.no_grad():
            model(inputs, step=step, generator=torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    out = {name: [] for name in SHARPNESS}
    R = model.R
    for t in steps:
        with torch.no_grad():
            k, beta, g, _, gamma, _, _ = model.head_parameters(given[t])
            best = cosine_similarity(k[:, :R], memories[t]).topk(2, -1).values  # (B, R, 2)
        values = (beta[:, :R], g[:, :R], gamma[:, :R], best[..., 0], best[..., 0] - best[..., 1])
        for name, value in zip(SHARPNESS, values):
            out[name].append(value)
    return {name: torch.stack(values) for name, values in out.items()}


def failures(run_dir: str, lists: int = 1024, item_counts: Sequence[int] = (6, 9, 12, 15),
             heads: bool = False, blank_query: Sequence[int] = (), sharpness: bool = False) -> list[dict[str, Any]]:
    """One row per item count: items, bits (mean per list), failed (lists with a wrong bit), usual and
    right_at_usual (with `heads`: the read head's most common place on the lists answered right, counted
    as read_positions does, and how many lists it was there; None and 0 without), and lists, one dict
    per list: wrong, distance and prefix (to the nearest other item, over all three vectors and over the
    first two), zero (an all-zero stored vector), phase (list_facts' out-of-phase match); with `heads`
    also shift (the read head's place at the first answer step, in steps from its most common place on
    the lists answered right) and apart (per query vector, the bits it differs from the stored input
    `shift` steps from it, +10 where that input is an item delimiter; None outside the stored steps).
    blank_query: the queried item's vectors set to zeros in every list (blank_queried). With `sharpness`
    each list also holds `sharpness`: name (SHARPNESS) -> read head 0's values at the steps from the
    first query vector to the first answer step (lookup_sharpness)."""
    name, config = Run.read_config(run_dir)
    exp = catalog()[name]
    cfg = cfg_mod.from_dict(type(exp.config), config)
    if exp.train is not ntm_exp.train or cfg.task != "associative-recall":
        raise SystemExit(f"{run_dir} is a run of {name}, not of associative recall (ntm/, ntm-ff/ or lstm/)")
    if (heads or sharpness) and cfg.model != "ntm":
        raise SystemExit(f"--heads and --sharpness follow an NTM's read head; {run_dir} is a run of the "
                         f"{cfg.model} baseline")
    run = Run(run_dir, exp, cfg, progress=False)
    model, _ = ntm_exp.load_best(cfg, run)  # the checkpoint evaluation tests
    model.eval()
    rows = []
    for k in item_counts:
        bits, per_list, places, inputs = 0.0, [], [], []
        for ep in ntm_exp.episodes(cfg.task, lists, STREAM, chunk=128, min_items=k, max_items=k):
            if blank_query:
                ep = blank_queried(ep, k, blank_query)
            ep = ntm_exp.to(ep, run.device)
            with torch.no_grad():
                out = model(ep.inputs, generator=torch.Generator().manual_seed(0), **({"trace": True} if heads else {}))
            logits = out[0]
            bits += tasks.bits_per_sequence(logits, ep.targets, ep.mask).sum().item()
            wrong = tasks.bit_errors(logits, ep.targets, ep.mask) > 0
            facts = zip(wrong.tolist(), *(f.tolist() for f in list_facts(ep, k)))
            per_list += [{"wrong": w, "distance": d, "prefix": p, "zero": z, "phase": f} for w, d, p, z, f in facts]
            if heads:
                places += read_positions(out[2], ep, k, cfg.read_heads).tolist()
                inputs += list(ep.inputs.unbind(1))
            if sharpness:
                T = ep.inputs.shape[0]
                sharp = lookup_sharpness(model, ep.inputs, range(T - 7, T - 2))
                for b, row in enumerate(per_list[-ep.inputs.shape[1]:]):
                    row["sharpness"] = {name: value[:, b, 0].tolist() for name, value in sharp.items()}
        usual = None
        if heads:
            usual = Counter(p for p, row in zip(places, per_list) if not row["wrong"]).most_common(1)
            usual = usual[0][0] if usual else 0
            for place, row, x in zip(places, per_list, inputs):
                row["shift"] = place - usual
                row["apart"] = _apart(x, k, row["shift"]) if row["wrong"] else None
        right_at_usual = sum(not r["wrong"] and p == usual for p, r in zip(places, per_list))
        rows.append({"items": k, "bits": bits / lists, "failed": sum(r["wrong"] for r in per_list), "lists": per_list,
                     "usual": usual, "right_at_usual": right_at_usual})
    return rows


def _apart(x: torch.Tensor, items: int, shift: int) -> list[int | None]:
    """Per query vector of one list's inputs x (T, X): the bits it differs from the stored input `shift`
    steps from it (+10 where that input is an item delimiter), None outside the stored steps."""
    m, bits = 3, x.shape[-1] - 2
    stored_steps = items * (m + 1)
    query = x[stored_steps + 1:stored_steps + 1 + m, :bits]
    q = next(i for i in range(items) if torch.equal(x[i * (m + 1) + 1:(i + 1) * (m + 1), :bits], query))
    apart = []
    for j in range(m):
        t = q * (m + 1) + 1 + j + shift
        if 0 <= t < stored_steps:
            apart.append(int((x[t, :bits] != query[j]).sum()) + (10 if x[t, bits] > 0 else 0))
        else:
            apart.append(None)
    return apart


def _fmt(values: Sequence[float]) -> str:
    return "[" + " ".join(f"{v:.3g}" for v in values) + "]"


def _bucket(distance: int) -> str:
    return f"{distance} bits" if distance < 2 else "2+ bits"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--lists", type=int, default=1024, help="lists per item count (default 1024)")
    parser.add_argument("--items", type=int, nargs="+", default=[6, 9, 12, 15], help="item counts")
    parser.add_argument("--heads", action="store_true", help="NTMs: where the read head was on each wrong list")
    parser.add_argument("--sharpness", action="store_true",
                        help="NTMs: how sharp read head 0's content lookup is on the lists answered right and wrong")
    parser.add_argument("--blank-query", type=int, nargs="+", default=[], choices=range(3), metavar="V",
                        help="probe: set these vectors (0-2) of the queried item to zeros in every list")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    splits = {"nearest other item, all three vectors": Counter(), "nearest other item, first two vectors": Counter(),
              "stored vectors": Counter(), PHASE: Counter()}  # title -> (bucket, wrong) -> lists
    for run_dir in args.run_dirs:
        for row in failures(run_dir, args.lists, args.items, args.heads, args.blank_query, args.sharpness):
            print(f"{run_dir}  {row['items']:>2} items: {row['bits']:.4f} bits, "
                  f"{row['failed']} of {args.lists} lists wrong")
            if args.heads:
                print(f"    read head's usual place: {row['usual']} steps after the start of the item after the "
                      f"queried one ({row['right_at_usual']} lists answered right there)")
            if args.sharpness:
                print("    read head 0 from the first query vector to the first answer step (5 steps): "
                      "median over the lists answered right, then each wrong list")
                right = [r["sharpness"] for r in row["lists"] if not r["wrong"]]
                for name in SHARPNESS:
                    medians = torch.tensor([r[name] for r in right]).median(0).values.tolist() if right else []
                    wrong = "  ".join(_fmt(r["sharpness"][name]) for r in row["lists"] if r["wrong"])
                    print(f"    {name:>8}: {_fmt(medians)}" + (f"  | wrong: {wrong}" if wrong else ""))
            for r in row["lists"]:
                if args.heads and r["wrong"]:
                    print(f"    wrong list: read head {r['shift']:+d} steps from its usual place; query vectors "
                          f"differ from the inputs there by {r['apart']} bits (+10: a delimiter)")
                near = "1-2 bits" if r["distance"] <= 2 else "3+ bits"
                splits["nearest other item, all three vectors"][near, r["wrong"]] += 1
                splits["nearest other item, first two vectors"][_bucket(r["prefix"]), r["wrong"]] += 1
                splits["stored vectors"]["an all-zero vector" if r["zero"] else "no all-zero vector", r["wrong"]] += 1
                phase = "0-2 bits" if r["phase"] <= 2 else "3 bits" if r["phase"] == 3 else "4+ bits"
                splits[PHASE][phase, r["wrong"]] += 1
    for title, counts in splits.items():
        for bucket in sorted({b for b, _ in counts}):
            total = counts[bucket, True] + counts[bucket, False]
            print(f"{title}, {bucket}: {counts[bucket, True]} of {total} lists wrong "
                  f"({100 * counts[bucket, True] / total:.2f} %)")


if __name__ == "__main__":
    main()
