"""The AlphaZero runs' figure: how far from perfect play the network is, and how much stronger than
before, over training time.

Left: the share of moves that lose value against perfect play at each evaluation — on Connect
Four for each of Pons' six test sets (the search's moves, solid; the network's own policy on the
hardest set, dotted), on tic-tac-toe over every position (search and policy). Right: the Elo chain
(each evaluation's gain over the previous network added up) and the score against MCTS with random
playouts. Both against hours of wall time.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from milestones.games.pons import SETS
from milestones.plots import plt, save_figure


def training_figure(rows: Sequence[Mapping[str, Any]], path: str | Path, *, title: str) -> Path:
    """Draw the evaluations among a run's logged rows (metrics.jsonl) to `path`."""
    evals = [r for r in rows if any(k.startswith("search_error") for k in r)]
    hours = [r["time_s"] / 3600 for r in evals]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2), dpi=110)
    sets = list(SETS)
    if evals and f"search_error_{sets[0]}" in evals[0]:
        for k, name in enumerate(sets):
            left.plot(hours, [100 * r[f"search_error_{name}"] for r in evals], color=f"C{k}", marker=".",
                      label=f"{SETS[name]} ({name})")
        left.plot(hours, [100 * r["policy_error_L1_R3"] for r in evals], color=f"C{sets.index('L1_R3')}",
                  linestyle=":", label="Begin-Hard, policy alone")
        left.axhline(5, color="grey", linestyle="--", linewidth=1, label="goal on Begin-Hard (5 %)")
    elif evals:
        left.plot(hours, [100 * r["search_error"] for r in evals], marker=".", label="search")
        left.plot(hours, [100 * r["policy_error"] for r in evals], linestyle=":", label="policy alone")
    left.set_xlabel("hours of training")
    left.set_ylabel("moves that lose value (%)")
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, frameon=False)
    matched = [r for r in evals if "elo" in r]
    if matched:
        h = [r["time_s"] / 3600 for r in matched]
        right.plot(h, [r["elo"] for r in matched], color="C0", marker=".", label="Elo (chain of gains over the "
                                                                                  "previous network)")
        right.set_ylabel("Elo over the untrained network")
        twin = right.twinx()
        twin.plot(h, [r["score_vs_mcts_rollouts"] for r in matched], color="C3", marker=".",
                  label="score against MCTS with random playouts")
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("score (win 1, draw ½)")
        lines = right.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        right.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, frameon=False, loc="lower right")
    right.set_xlabel("hours of training")
    right.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
