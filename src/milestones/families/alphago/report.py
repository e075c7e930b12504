"""The AlphaGo family's report: the networks beside the paper's numbers (move prediction of p_σ and
p_π, the RL policy's wins against p_σ, the value network's error), and the ladder: each player's
win rate against each opponent with its 95 % interval and its Elo beside the paper's row of
Extended Data Table 7 (19×19 Elo, a different scale: the order of the rows is what compares)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from milestones.families.alphago.ladder import TABLE_7
from milestones.family import Section
from milestones.records import ResultRecord
from milestones.report import fmt, fmt_time, markdown_to_html

Record = ResultRecord
NETWORKS = (("alphago/sl-policy-", "SL policy p_σ: move prediction (test)", "test_accuracy"),
            ("alphago/rollout-", "rollout policy p_π: move prediction (test)", "test_accuracy"),
            ("alphago/rl-policy-", "RL policy p_ρ: games won against p_σ", "win_rate_vs_sl"),
            ("alphago/value-", "value network v_θ: mean squared error (test)", "test_mse"))


def _mean(record: Record, key: str) -> float | None:
    stats = record["summary_stats"].get(key)
    return stats["mean"] if stats else None


def networks_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: one row per trained network, ours beside the paper's number."""
    lines = ["| network | experiment | ours | paper (19×19) | data | seeds | wall time per seed |", "|" + "---|" * 7]
    for prefix, what, key in NETWORKS:
        for r in sorted((r for r in records if r["experiment"].startswith(prefix)), key=lambda r: r["experiment"]):
            ref = next((x for x in r["references"] if x["metric"] == key), None)
            data = _mean(r, "train_positions") or _mean(r, "positions")
            lines.append(f"| {what} | {r['experiment']} | {fmt(_mean(r, key))} | {fmt(ref['value']) if ref else '–'} | "
                         f"{f'{data:,.0f} positions' if data else '–'} | {len(r['seeds'])} | "
                         f"{fmt_time(r['wall_time_s'] / len(r['seeds']))} |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def ladder_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: per ladder run, one row per player: its win rate and 95 % interval against each
    opponent, its Elo and interval, and the paper's Elo for the same row of Table 7."""
    out = []
    ladders = sorted((r for r in records if r["experiment"].startswith("alphago/ladder")),
                     key=lambda r: r["experiment"])
    for r in ladders:
        metrics = r["seeds"][0]["metrics"]
        cfg = r.get("config") or {}
        players = [p for p in str(cfg.get("players", "")).split(",") if p]
        opponents = [o for o in str(cfg.get("opponents", "")).split(",") if o]
        head = ["player", *(f"against {o}" for o in opponents), "Elo (95 %)", "paper's Elo (Table 7)"]
        scores = ""
        if metrics.get("scores_compared"):
            scores = (f"; our area score equals GNU Go's final_score in {metrics['scores_agree']:.0f} of "
                      f"{metrics['scores_compared']:.0f} games ended by two passes, "
                      f"{metrics['scores_agree_gnugo_dead_removed']:.0f} once the stones GNU Go calls dead are "
                      "taken off")
        lines = [f"{r['experiment']}: {fmt(metrics.get('games'))} games, {cfg.get('seconds_per_move', '?')} s a move"
                 f"{scores}, `{r.get('command') or ''}`", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for p in [*players, *(o for o in opponents if f"elo/{o}" in metrics)]:
            sims = metrics.get(f"simulations_per_move/{p}")  # a searching player's, where the ladder counted them
            cells = [p if sims is None else f"{p} ({sims:,.0f} simulations a move)"]
            for o in opponents:
                rate = metrics.get(f"win_rate/{p}/{o}")
                low, high = metrics.get(f"win_rate_low/{p}/{o}"), metrics.get(f"win_rate_high/{p}/{o}")
                cells.append("–" if rate is None else
                             f"{rate:.0%} ({low:.0%}-{high:.0%}, {metrics[f'games/{p}/{o}']:.0f} games)")
            elo = metrics.get(f"elo/{p}")
            cells.append("–" if elo is None else
                         f"{elo:.0f} ({metrics[f'elo_low/{p}']:.0f} to {metrics[f'elo_high/{p}']:.0f})")
            cells.append(str(TABLE_7.get(p, 431 if p == "gnugo:10" else "–")))
            lines.append("| " + " | ".join(cells) + " |")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def sections(records: list[Record], out: Path) -> list[Section]:
    found = []
    networks, ladder = networks_table(records), ladder_table(records)
    if networks:
        found.append(Section("AlphaGo's networks on 9×9 beside the paper's", markdown_to_html(networks), networks))
    if ladder:
        note = ("Elo from all the ladder's games (Bradley-Terry on the Elo scale, GNU Go level 10 at 431 as in "
                "Extended Data Table 6 when it plays); the paper's column is 19×19 Elo from its own tournament: "
                "compare the order of the rows, not the numbers.")
        found.append(Section("The ladder and the ablation of Extended Data Table 7",
                             f"<p>{note}</p>" + markdown_to_html(ladder), note + "\n\n" + ladder))
    return found
